# SPDX-License-Identifier: BSD-3-Clause
"""Shared by the kernel-path benchmarks: IOPS, run time and CPU time of one run from its JSON output,
whichever tool wrote it: fio (--output-format=json), `aisio perf run --json` or kio_bench."""
import json


def read(path, ticks, hz):
    """Returns iops, runtime_s, thread_cpu_s (the submitting thread's) and machine_cpu_s (busy clock
    ticks of all CPUs during the run / hz) of the run whose JSON is at path."""
    d = json.load(open(path))
    if "jobs" in d:  # fio
        j = d["jobs"][0]
        iops = j["read"]["iops"]
        runtime = j["read"]["runtime"] / 1000.0
        thread_cpu = (j["usr_cpu"] + j["sys_cpu"]) / 100.0 * runtime
    elif "total" in d:  # aisio perf
        iops, runtime, thread_cpu = d["total"]["iops"], d["elapsed_s"], d["cpu"]["submit_threads_s"]
    else:  # kio_bench
        iops, runtime, thread_cpu = d["iops"], d["elapsed_s"], d["thread_cpu_s"]
    return {"iops": iops, "runtime_s": runtime, "thread_cpu_s": thread_cpu, "machine_cpu_s": ticks / hz}
