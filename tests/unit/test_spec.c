/* SPDX-License-Identifier: BSD-3-Clause */
/* Field offsets of the NVMe structures against the base specification. */
#include <aisio/nvme_spec.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void test_sqe_cqe(void **state)
{
	assert_int_equal(offsetof(struct nvme_sqe, cid), 2);
	assert_int_equal(offsetof(struct nvme_sqe, nsid), 4);
	assert_int_equal(offsetof(struct nvme_sqe, mptr), 16);
	assert_int_equal(offsetof(struct nvme_sqe, prp1), 24);
	assert_int_equal(offsetof(struct nvme_sqe, prp2), 32);
	assert_int_equal(offsetof(struct nvme_sqe, cdw10), 40);
	assert_int_equal(offsetof(struct nvme_sqe, cdw15), 60);
	assert_int_equal(offsetof(struct nvme_cqe, sqhd), 8);
	assert_int_equal(offsetof(struct nvme_cqe, cid), 12);
	assert_int_equal(offsetof(struct nvme_cqe, status), 14);
}

static void test_identify(void **state)
{
	assert_int_equal(offsetof(struct nvme_id_ctrl, mdts), 77);
	assert_int_equal(offsetof(struct nvme_id_ctrl, ver), 80);
	assert_int_equal(offsetof(struct nvme_id_ctrl, oacs), 256);
	assert_int_equal(offsetof(struct nvme_id_ctrl, elpe), 262);
	assert_int_equal(offsetof(struct nvme_id_ctrl, sqes), 512);
	assert_int_equal(offsetof(struct nvme_id_ctrl, nn), 516);
	assert_int_equal(offsetof(struct nvme_id_ctrl, oncs), 520);
	assert_int_equal(offsetof(struct nvme_id_ctrl, sgls), 536);
	assert_int_equal(offsetof(struct nvme_id_ctrl, subnqn), 768);
	assert_int_equal(offsetof(struct nvme_id_ctrl, psd), 2048);
	assert_int_equal(offsetof(struct nvme_id_ns, nlbaf), 25);
	assert_int_equal(offsetof(struct nvme_id_ns, flbas), 26);
	assert_int_equal(offsetof(struct nvme_id_ns, nvmcap), 48);
	assert_int_equal(offsetof(struct nvme_id_ns, anagrpid), 92);
	assert_int_equal(offsetof(struct nvme_id_ns, nguid), 104);
	assert_int_equal(offsetof(struct nvme_id_ns, lbaf), 128);
	assert_int_equal(offsetof(struct nvme_smart_log, data_units_read), 32);
	assert_int_equal(offsetof(struct nvme_smart_log, num_err_log_entries), 176);
	assert_int_equal(offsetof(struct nvme_smart_log, temp_sensor), 200);
	assert_int_equal(offsetof(struct nvme_error_log, lba), 16);
	assert_int_equal(offsetof(struct nvme_error_log, cs), 32);
}

static void test_virtualization(void **state)
{
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, crt), 4);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, vqfrt), 32);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, vqrfa), 36);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, vqrfap), 40);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, vqprt), 42);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, vqfrsm), 44);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, vqgran), 46);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, vifrt), 64);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, virfa), 68);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, virfap), 72);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, viprt), 74);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, vifrsm), 76);
	assert_int_equal(offsetof(struct nvme_pri_ctrl_cap, vigran), 78);
	assert_int_equal(offsetof(struct nvme_sec_ctrl_entry, pcid), 2);
	assert_int_equal(offsetof(struct nvme_sec_ctrl_entry, scs), 4);
	assert_int_equal(offsetof(struct nvme_sec_ctrl_entry, vfn), 8);
	assert_int_equal(offsetof(struct nvme_sec_ctrl_entry, nvq), 10);
	assert_int_equal(offsetof(struct nvme_sec_ctrl_entry, nvi), 12);
	assert_int_equal(offsetof(struct nvme_sec_ctrl_list, sc), 32);
	assert_int_equal(offsetof(struct nvme_sec_ctrl_list, sc[1]), 64);
	/* CDW10 of Virtualization Management: assign (8), interrupt resources (1), controller 2 */
	assert_int_equal(NVME_VIRT_MGMT_CDW10(NVME_VIRT_MGMT_SECONDARY_ASSIGN, NVME_VIRT_MGMT_RT_VI, 2), 0x20108);
}

static void test_registers(void **state)
{
	/* CAP of a controller with MQES 1023, CQR, TO 2, DSTRD 3, NVM, MPSMAX 4 */
	uint64_t cap = 1023ull | 1ull << 16 | 2ull << 24 | 3ull << 32 | 1ull << 37 | 4ull << 52;
	assert_int_equal(NVME_CAP_MQES(cap), 1023);
	assert_int_equal(NVME_CAP_CQR(cap), 1);
	assert_int_equal(NVME_CAP_TO(cap), 2);
	assert_int_equal(NVME_CAP_DSTRD(cap), 3);
	assert_int_equal(NVME_CAP_CSS(cap), 1);
	assert_int_equal(NVME_CAP_MPSMIN(cap), 0);
	assert_int_equal(NVME_CAP_MPSMAX(cap), 4);
	assert_int_equal(NVME_SQ_TAIL_DB(0, 0), 0x1000);
	assert_int_equal(NVME_CQ_HEAD_DB(0, 0), 0x1004);
	assert_int_equal(NVME_SQ_TAIL_DB(3, 0), 0x1018);
	assert_int_equal(NVME_CQ_HEAD_DB(1, 2), 0x1000 + 3 * 16);
	/* status word: phase bit 0, SC bits 8:1, SCT bits 11:9, DNR bit 15 */
	uint16_t st = (uint16_t)(1u | (0x81u << 1) | (2u << 9) | (1u << 15));
	assert_int_equal(NVME_CQE_PHASE(st), 1);
	assert_int_equal(NVME_CQE_STATUS(st), 0x281);
	assert_int_equal(NVME_CQE_DNR(st), 1);
	assert_int_equal(NVME_STATUS_SCT(0x281), 2);
	assert_int_equal(NVME_STATUS_SC(0x281), 0x81);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqe_cqe),
		cmocka_unit_test(test_identify),
		cmocka_unit_test(test_virtualization),
		cmocka_unit_test(test_registers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
