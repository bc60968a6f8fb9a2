/* SPDX-License-Identifier: BSD-3-Clause */
/* Entry points of the aisio command families; each returns the process exit status. */
#ifndef AISIO_TOOLS_COMMANDS_H
#define AISIO_TOOLS_COMMANDS_H

/* perf_opts.c: run (perf_run.c), verify (perf_verify.c), and cuda-* via gpu_cmd.c */
int cmd_perf(int argc, char **argv);

/* the device commands, one file each (devices.h) */
int cmd_devices(int argc, char **argv);   /* devices_list.c */
int cmd_bind(int argc, char **argv);      /* devices_bind.c */
int cmd_hugepages(int argc, char **argv); /* devices_hugepages.c */
int cmd_id_ctrl(int argc, char **argv);   /* devices_admin.c */
int cmd_id_ns(int argc, char **argv);     /* devices_admin.c */
int cmd_smart_log(int argc, char **argv); /* devices_admin.c */

/* sriov_cmd.c: `aisio sriov status|assign|enable|online|offline|disable` */
int cmd_sriov(int argc, char **argv);

/* homi_cmd.c: `aisio homi status` */
int cmd_homi(int argc, char **argv);

/* xal_cmd.c */
int cmd_xal(int argc, char **argv);

/* fil_cmd.c: `aisio fil VERB`, each verb in its own file */
int cmd_fil(int argc, char **argv);
int cmd_fil_gen(int argc, char **argv); /* fil_gen.c */
/* fil_perf.c (a later step): define AISIO_HAVE_CMD_FIL_PERF and add its row to fil_cmd.c's table */
int cmd_fil_perf(int argc, char **argv);

/* gpu_cmd.c: `aisio perf cuda-run` and `aisio perf cuda-verify` (argv[0] is the verb) */
int cmd_perf_cuda(int argc, char **argv);
/* Host-to-GPU copy ceiling (pinned host memory -> GPU memory, 64 MiB copies, median), GB/s; 0 when none. */
double gpu_h2d_ceiling_gbs(void);

#endif
