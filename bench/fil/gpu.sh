#!/usr/bin/env bash
# figure: fil into GPU memory, one run: files/s, GB/s and CPU s/GiB of posix+cudaMemcpy (1 and 16 threads),
# gds (cuFile) and aisio-gpu (GPU threads submit the reads on gpuemu:host,file=IMAGE), with the host-to-GPU
# ceiling measured in the same run, on imagenetish and tiktokish ext4 images (loop-mounted).
# usage: bench/fil/gpu.sh OUTDIR [IMAGENET_SCALE] [TIKTOK_SCALE]   (root; a GPU; AISIO_BUILD = the build)
# Every backend reads from host RAM: posix from the page cache (a warm-up epoch first), gds through it in
# compatibility mode, aisio-gpu from the image loaded into pinned host memory (what an SSD's DMA would
# cross PCIe from). JSON per run in OUTDIR/*.json, the table in OUTDIR/table.md.
set -uo pipefail
out=${1:?OUTDIR}
inet_scale=${2:-0.02}
tik_scale=${3:-0.04}
aisio=${AISIO_BUILD:?AISIO_BUILD}/tools/aisio
mkdir -p "$out"
work=$(mktemp -d /var/tmp/aisio-fil-gpu.XXXXXX)
udev_entries=()
cleanup() {
	for m in "$work"/mnt-*; do umount "$m" 2>/dev/null; done
	for u in "${udev_entries[@]}"; do rm -f "$u"; done
	rm -rf "$work"
}
trap cleanup EXIT
printf '{"properties": {"allow_compat_mode": true}}\n' >"$work/cufile.json"
export CUFILE_ENV_PATH_JSON=$work/cufile.json
libdir=$(ls -d /usr/local/cuda*/targets/x86_64-linux/lib 2>/dev/null | head -n1)
export LD_LIBRARY_PATH="${libdir:+$libdir:}${LD_LIBRARY_PATH:-}"

echo "| dataset | backend | threads | files/s | GB/s | CPU s/GiB | % of ceiling |" >"$out/table.md"
echo "|---|---|---|---|---|---|---|" >>"$out/table.md"
for spec in "imagenetish:$inet_scale:256" "tiktokish:$tik_scale:16"; do
	IFS=: read -r shape scale bs <<<"$spec"
	img=$work/$shape.img mnt=$work/mnt-$shape
	t0=$(date +%s)
	"$aisio" fil gen --shape "$shape" --scale "$scale" --seed 1 --image "$img" --fs ext4 >"$out/gen-$shape.txt" || exit 1
	echo "$shape at scale $scale: generated in $(($(date +%s) - t0)) s: $(tail -n1 "$out/gen-$shape.txt")"
	mkdir -p "$mnt" && mount -o loop,ro "$img" "$mnt" || exit 1
	loop=$(findmnt -no SOURCE "$mnt")
	mm=$(lsblk -no MAJ:MIN "$loop" | tr -d ' ')
	if [ ! -e "/run/udev/data/b$mm" ]; then
		mkdir -p /run/udev/data
		printf 'E:ID_FS_USAGE=filesystem\nE:ID_FS_TYPE=ext4\n' >"/run/udev/data/b$mm"
		udev_entries+=("/run/udev/data/b$mm")
	fi
	cat "$mnt"/*/* >/dev/null 2>&1 || find "$mnt" -type f -exec cat {} + >/dev/null # page cache warm
	run() { # name threads options...
		local name=$1 threads=$2
		shift 2
		"$aisio" fil perf --json --ceiling --epochs "${FIL_EPOCHS:-3}" --batch-size "$bs" --inflight 4 --threads "$threads" "$@" "$mnt" \
			>"$out/$shape-$name.json" 2>"$out/$shape-$name.err"
		local rc=$?
		python3 - "$out/$shape-$name.json" "$shape" "$name" "$threads" "$rc" >>"$out/table.md" <<'PY'
import json, sys
path, shape, name, threads, rc = sys.argv[1:]
try:
    j = json.load(open(path))
except Exception:
    print(f"| {shape} | {name} | {threads} | failed (rc {rc}) | | | |")
    sys.exit()
gbs = j["bytes"] / j["seconds"] / 1e9
ceil = j["h2d_ceiling_gb_per_s"]
print(f"| {shape} | {name} | {threads} | {j['files_per_s']:,.0f} | {gbs:.2f} | {j['cpu_s_per_gib']:.3f} | "
      f"{100 * gbs / ceil if ceil else 0:.0f}% (ceiling {ceil:.1f}) |")
PY
		tail -n1 "$out/table.md"
	}
	run posix-cuda-1t 1 --backend posix --mem cuda
	run posix-cuda-16t 16 --backend posix --mem cuda
	run gds-16t 16 --backend gds
	run aisio-gpu-4t 4 --backend aisio-gpu --device "gpuemu:host,file=$img,mdts=8,sms=32,qpairs=128" \
		--xal-source "$mnt" --gpu-queues 128
	run aisio-gpu 2 --backend aisio-gpu --device "gpuemu:host,file=$img,mdts=8,sms=32,qpairs=128" \
		--xal-source "$mnt" --gpu-queues 128
	umount "$mnt"
	rm -f "$img"
done
cat "$out/table.md"
