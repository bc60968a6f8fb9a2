/* SPDX-License-Identifier: BSD-3-Clause */
/* NVMe status codes as text. */
#include <aisio/nvmed.h>

const char *nvmed_status_str(uint16_t st)
{
	switch (st) {
	case NVME_SC_SUCCESS: return "Successful Completion";
	case NVME_SC_INVALID_OPCODE: return "Invalid Command Opcode";
	case NVME_SC_INVALID_FIELD: return "Invalid Field in Command";
	case NVME_SC_CMDID_CONFLICT: return "Command ID Conflict";
	case NVME_SC_DATA_XFER_ERROR: return "Data Transfer Error";
	case NVME_SC_POWER_LOSS: return "Commands Aborted due to Power Loss Notification";
	case NVME_SC_INTERNAL: return "Internal Error";
	case NVME_SC_ABORT_REQ: return "Command Abort Requested";
	case NVME_SC_ABORT_QUEUE: return "Command Aborted due to SQ Deletion";
	case NVME_SC_INVALID_NS: return "Invalid Namespace or Format";
	case NVME_SC_CMD_SEQ_ERROR: return "Command Sequence Error";
	case NVME_SC_PRP_OFFSET_INVALID: return "PRP Offset Invalid";
	case NVME_SC_LBA_RANGE: return "LBA Out of Range";
	case NVME_SC_CAP_EXCEEDED: return "Capacity Exceeded";
	case NVME_SC_NS_NOT_READY: return "Namespace Not Ready";
	case NVME_SC_CQ_INVALID: return "Completion Queue Invalid";
	case NVME_SC_QID_INVALID: return "Invalid Queue Identifier";
	case NVME_SC_QUEUE_SIZE: return "Invalid Queue Size";
	case NVME_SC_ABORT_LIMIT: return "Abort Command Limit Exceeded";
	case NVME_SC_INVALID_LOG_PAGE: return "Invalid Log Page";
	case NVME_SC_INVALID_QUEUE_DELETE: return "Invalid Queue Deletion";
	case NVME_SC_FEATURE_NOT_SAVEABLE: return "Feature Identifier Not Saveable";
	case NVME_SC_NS_ALREADY_ATTACHED: return "Namespace Already Attached";
	case NVME_SC_NS_NOT_ATTACHED: return "Namespace Not Attached";
	case NVME_SC_INVALID_CTRL_ID: return "Invalid Controller Identifier";
	case NVME_SC_INVALID_SEC_CTRL_STATE: return "Invalid Secondary Controller State";
	case NVME_SC_INVALID_NUM_RESOURCES: return "Invalid Number of Controller Resources";
	case NVME_SC_INVALID_RESOURCE_ID: return "Invalid Resource Identifier";
	case NVME_SC_WRITE_FAULT: return "Write Fault";
	case NVME_SC_READ_ERROR: return "Unrecovered Read Error";
	case NVME_SC_UNWRITTEN_BLOCK: return "Deallocated or Unwritten Logical Block";
	default: break;
	}
	switch (NVME_STATUS_SCT(st)) {
	case 0: return "Generic Command Status (unknown code)";
	case 1: return "Command Specific Status (unknown code)";
	case 2: return "Media and Data Integrity Error (unknown code)";
	case 3: return "Path Related Status (unknown code)";
	case 7: return "Vendor Specific Status";
	default: return "Unknown Status";
	}
}
