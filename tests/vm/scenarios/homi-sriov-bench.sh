# Benchmark, not in CI (bench/homi/sriov.sh runs it): 4 KiB randread at QD32 on the PF through the kernel
# nvme driver (fio, libaio, O_DIRECT) against aisio perf on a VF that homid brought up and granted to it
# (homi:pf0.vf1), the same namespace, the same guest. Prints "@@BENCH path iops N" lines.

PF=0000:01:00.0
SOCK=/run/aisio/homid.sock
RUNTIME=${RUNTIME:-10}
trap 'echo "---- homid log ----"; cat /tmp/homid.log 2>/dev/null; echo "---- end of homid log ----"' EXIT
check "the PF is on nvme" [ "$(pci_driver $PF)" = nvme ]
step_out "256 reserved" aisio hugepages --reserve 256
printf '[homid]\nsocket = %s\nlog_level = info\nadmin_timeout = 60\n\n[device pf0]\nsriov = %s\nsriov_vfs = 1\nsriov_vq = 3\nsriov_vi = 1\n' \
	"$SOCK" "$PF" >/tmp/homid.conf
homid --config /tmp/homid.conf >/tmp/homid.log 2>&1 &
HPID=$!
check "homid is up with VF 1" homid_ready 180
pf_bench() {
	fio --name=randread --filename=/dev/nvme0n1 --rw=randread --bs=4k --iodepth=32 --ioengine=libaio --direct=1 \
		--size=256M --runtime=$RUNTIME --time_based --output-format=terse --terse-version=3 >/tmp/fio.terse || return 1
	echo "@@BENCH pf-kernel iops $(cut -d';' -f8 /tmp/fio.terse)"
}
vf_bench() {
	aisio perf run $TMO --iopattern randread --iosize 4096 --qdepth 32 --size 524288 --runtime $RUNTIME --json \
		homi:pf0.vf1 >/tmp/perf.json || return 1
	cat /tmp/perf.json
	echo "@@BENCH vf-homi iops $(sed -n 's/.*"iops": \([0-9]*\).*/\1/p' /tmp/perf.json | tail -1)"
}
step pf_bench
step vf_bench
step pf_bench
step vf_bench
step kill -TERM $HPID
step homid_exited
