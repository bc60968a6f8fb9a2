/* SPDX-License-Identifier: BSD-3-Clause */
/* Entry points of the aisio command families; each returns the process exit status. */
#ifndef AISIO_TOOLS_COMMANDS_H
#define AISIO_TOOLS_COMMANDS_H

int cmd_perf(int argc, char **argv);          /* perf.c: run, verify (and cuda-* via gpu_cmd.c) */

/* devices_cmd.c */
int cmd_devices(int argc, char **argv);
int cmd_bind(int argc, char **argv);
int cmd_hugepages(int argc, char **argv);
int cmd_id_ctrl(int argc, char **argv);
int cmd_id_ns(int argc, char **argv);
int cmd_smart_log(int argc, char **argv);

/* xal_cmd.c */
int cmd_xal(int argc, char **argv);

/* gpu_cmd.c: `aisio perf cuda-run` and `aisio perf cuda-verify` (argv[0] is the verb) */
int cmd_perf_cuda(int argc, char **argv);

#endif
