#!/usr/bin/env bash
# figure: 512 B and 4 KiB randread, QD 128, one thread, IOPS per CPU second: kio (bench/kio/kio_bench) vs fio 3.33 io_uring on a loop device over tmpfs
# usage: bench/kio/uring_vs_fio.sh [OUTDIR]     (root: loop device; needs fio)   env: RUNTIME (s, default 10), REPS (default 3)
# Both drive the same loop device the same way: O_DIRECT, registered file and
# buffers, fill to QD 128, one submit per batch, block for one completion when
# none is ready; fio with --gtod_reduce=1, its leanest setting, as kio_bench takes
# no per-I/O timestamps either. "thread CPU" is the submitting thread's own CPU time (fio's
# usr+sys of its job, kio_bench's CLOCK_THREAD_CPUTIME_ID); "machine CPU" is
# every CPU's busy time from /proc/stat during the run, which also counts the
# loop device's kernel workers. Runs alternate fio / kio so that background load
# on the machine hits both alike; the median of REPS runs is reported.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
kb=${KIO_BENCH:-$here/build/bench/kio/kio_bench}
out=${1:-$here/bench/results/$(hostname -s)-$(date -u +%Y%m%d)}
runtime=${RUNTIME:-10}
reps=${REPS:-3}
mkdir -p "$out"
. "$here/bench/lib/loopdev.sh"
[ -x "$kb" ] || { echo "no $kb (build with liburing, and bench/meson.build must subdir kio)"; exit 77; }
loopdev_setup 1200M
raw="$out/uring_vs_fio.runs.jsonl"
measure() { # name bs rep command...
  local name=$1 bs=$2 rep=$3; shift 3
  local b0 b1
  b0=$(busy)
  "$@" > "$work/out.json"
  b1=$(busy)
  python3 - "$here/bench/lib" "$name" "$bs" "$rep" "$work/out.json" "$(( b1 - b0 ))" "$hz" <<'PY' >> "$raw"
import json, sys
sys.path.insert(0, sys.argv[1])
import run_cost
name, bs, rep = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
r = run_cost.read(sys.argv[5], int(sys.argv[6]), int(sys.argv[7]))
ios = r["iops"] * r["runtime_s"]
thread_cpu, machine_cpu = r["thread_cpu_s"], r["machine_cpu_s"]
print(json.dumps({"name": name, "bs": bs, "rep": rep, "iops": round(r["iops"]), "runtime_s": r["runtime_s"],
                  "thread_cpu_s": round(thread_cpu, 3), "machine_cpu_s": round(machine_cpu, 3),
                  "iops_per_thread_cpu_s": round(ios / thread_cpu) if thread_cpu else None,
                  "iops_per_machine_cpu_s": round(ios / machine_cpu) if machine_cpu else None}))
PY
}
: > "$raw"
for bs in 512 4096; do
  for rep in $(seq 1 "$reps"); do
    measure "fio io_uring" "$bs" "$rep" fio --name=k --filename="$dev" --ioengine=io_uring --direct=1 --rw=randread \
      --bs="$bs" --iodepth=128 --numjobs=1 --time_based --runtime="$runtime" --registerfiles --fixedbufs \
      --norandommap --randrepeat=0 --gtod_reduce=1 --output-format=json
    measure "kio io_uring" "$bs" "$rep" "$kb" --bs "$bs" --qd 128 --runtime "$runtime" --fixed "$dev"
  done
done
python3 - "$raw" "$(date -u +%FT%TZ)" "$(uname -r)" "$(nproc)" <<'PY' | tee -a "$out/uring_vs_fio.jsonl"
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
summary = {"figure": "uring_vs_fio", "date": sys.argv[2], "kernel": sys.argv[3], "cpus": int(sys.argv[4]), "rows": []}
for bs in (512, 4096):
    row = {"bs": bs}
    for name, key in (("fio io_uring", "fio"), ("kio io_uring", "kio")):
        rs = [r for r in runs if r["bs"] == bs and r["name"] == name]
        for m in ("iops", "iops_per_thread_cpu_s", "iops_per_machine_cpu_s"):
            row[f"{key}_{m}"] = statistics.median(r[m] for r in rs)
    row["kio_vs_fio_per_thread_cpu"] = round(row["kio_iops_per_thread_cpu_s"] / row["fio_iops_per_thread_cpu_s"], 3)
    row["kio_vs_fio_per_machine_cpu"] = round(row["kio_iops_per_machine_cpu_s"] / row["fio_iops_per_machine_cpu_s"], 3)
    summary["rows"].append(row)
print(json.dumps(summary))
PY
echo "runs: $raw"
