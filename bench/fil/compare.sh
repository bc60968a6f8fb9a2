#!/usr/bin/env bash
# figure: fil backends on one imagenetish dataset, in one run: files/s and CPU seconds per GiB of posix (buffered cold and warm, O_DIRECT, io_uring) against aisio-cpu, 1 thread and one per core; a gnuplot PNG beside the JSON
# usage: bench/fil/compare.sh OUTDIR [SCALE] [EPOCHS]   (root: the image is loop-mounted; default scale 0.005 = 6,406 files, 1 epoch)
# The dataset is made by `aisio fil gen --image` (XFS) and loop-mounted read-only; posix backends read the
# mounted files (the loop device reads the image file through the page cache), aisio-cpu reads the same
# image as an emulated namespace. The emulated controller runs inline (threads=0: each worker's poll serves
# its own queue) so the process's CPU time holds no spinning engine thread:
#   aisio-cpu (emu:file)  the image's bytes, the emulated device's pread included in the CPU time, as the
#                         loop device's copy is in the posix figures
#   aisio-cpu (emu:null)  the same LBAs from a null namespace: the stack's own cost (the AiSIO method), data not real
# Cold runs drop the dataset's and the image's pages (posix_fadvise DONTNEED) first.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${AISIO_BUILD:-$here/build}
aisio=$build/tools/aisio
out=${1:?OUTDIR}; scale=${2:-0.005}; epochs=${3:-1}
[ "$(id -u)" = 0 ] || { echo "compare.sh: needs root (loop mount)"; exit 1; }
mkdir -p "$out"
work=$(mktemp -d /tmp/fil-bench.XXXXXX)
img=$work/imagenetish.xfs mnt=$work/mnt
cleanup() { umount "$mnt" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$aisio" fil gen --shape imagenetish --scale "$scale" --seed 1 --image "$img" | tail -1
mkdir -p "$mnt"
mount -o loop,ro,norecovery "$img" "$mnt"
drop() {
  python3 - "$mnt" "$img" <<'PY'
import os, sys
def drop(p):
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
for r, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        drop(os.path.join(r, f))
drop(sys.argv[2])
PY
}
ncpu=$(nproc)
rows=()
run() {  # NAME THREADS COLD ARGS...
  local name=$1 t=$2 cold=$3; shift 3
  [ "$cold" = 1 ] && drop
  "$aisio" fil perf --json --batch-size 64 --warmup 2 --epochs "$epochs" --threads "$t" "$@" "$mnt" > "$out/$name-t$t.json"
  python3 -c "import json,sys; d=json.load(open('$out/$name-t$t.json')); print(f\"%-28s %2d thr %9.0f files/s %8.1f MiB/s %7.3f CPU s/GiB\" % ('$name', $t, d['files_per_s'], d['mib_per_s'], d['cpu_s_per_gib']))"
}
for t in 1 "$ncpu"; do
  run posix-buffered-cold "$t" 1 --backend posix
  run posix-buffered-warm "$t" 0 --backend posix
  run posix-direct "$t" 1 --backend posix-direct
  run posix-uring "$t" 1 --backend posix-uring
  run aisio-cpu-emu-file "$t" 1 --backend aisio-cpu --device "emu:file:$img,threads=0" --xal-source "$img" --xal-mount "$mnt"
  run aisio-cpu-emu-null "$t" 1 --backend aisio-cpu --device "emu:null,threads=0" --xal-source "$img" --xal-mount "$mnt"
done
python3 - "$out" "$scale" "$ncpu" <<'PY'
import glob, json, os, sys, datetime, platform
out, scale, ncpu = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = []
for f in sorted(glob.glob(os.path.join(out, "*-t*.json"))):
    name, t = os.path.basename(f)[:-5].rsplit("-t", 1)
    d = json.load(open(f))
    rows.append({"config": name, "threads": int(t), "files_per_s": d["files_per_s"], "mib_per_s": d["mib_per_s"],
                 "cpu_s_per_gib": d["cpu_s_per_gib"], "files": d["files"], "bytes": d["bytes"]})
s = {"figure": "fil backends: files/s and CPU s/GiB", "scale": float(scale), "cpus": ncpu, "machine": platform.node(),
     "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "rows": rows}
json.dump(s, open(os.path.join(out, "summary.json"), "w"), indent=1)
with open(os.path.join(out, "plot.dat"), "w") as f:
    for t in sorted({r["threads"] for r in rows}):
        for r in rows:
            if r["threads"] == t:
                f.write(f"\"{r['config']} ({t}t)\" {r['files_per_s']:.1f} {r['cpu_s_per_gib']:.4f}\n")
for t in sorted({r["threads"] for r in rows}):
    d = {r["config"]: r for r in rows if r["threads"] == t}
    base = d.get("posix-direct")
    for k in ("aisio-cpu-emu-file", "aisio-cpu-emu-null"):
        if base and k in d and d[k]["cpu_s_per_gib"] > 0:
            print(f"{t} thread(s): posix-direct / {k} CPU s/GiB = {base['cpu_s_per_gib'] / d[k]['cpu_s_per_gib']:.1f}x")
PY
if command -v gnuplot >/dev/null; then
  gnuplot <<GP
set terminal pngcairo size 1100,520 noenhanced
set output "$out/fil_backends.png"
set multiplot layout 1,2 title "fil backends, imagenetish scale $scale ($(nproc) CPUs, $(date -u +%Y-%m-%d))"
set style data histograms
set style fill solid 0.8
set boxwidth 0.8
set xtics rotate by -50 font ",8"
set grid ytics
set title "files/s (log scale)"
set logscale y
plot "$out/plot.dat" using 2:xtic(1) notitle lc rgb "#3060a0"
set title "CPU seconds per GiB (lower is better)"
unset logscale y
plot "$out/plot.dat" using 3:xtic(1) notitle lc rgb "#a04030"
unset multiplot
GP
  echo "plot: $out/fil_backends.png"
fi
