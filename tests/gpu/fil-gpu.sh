#!/bin/sh
# usage: fil-gpu.sh AISIO: fil's backends into GPU memory deliver byte-identical files (verify mode: each
# file copied back and hashed against a plain read) on a generated ext4 dataset, loop-mounted:
#   aisio-gpu on gpuemu:host,file=IMAGE and gpuemu:hbm,file=IMAGE (extents by FIEMAP of the mount),
#   posix and posix-direct into GPU memory (pinned copy), and gds (cuFile in compatibility mode).
# Skipped (77) without a GPU, root (the loop mount) or mkfs.ext4; gds is left out, saying so, where
# libcufile is missing.
aisio=${1:?AISIO}
[ -e /dev/nvidia0 ] || { echo "skip: no GPU (/dev/nvidia0)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skip: the loop mount needs root"; exit 77; }
command -v mkfs.ext4 >/dev/null || { echo "skip: no mkfs.ext4"; exit 77; }
tmp=$(mktemp -d /tmp/aisio-fil-gpu.XXXXXX)
udev_entry=
cleanup() {
	umount "$tmp/mnt" 2>/dev/null
	[ -n "$udev_entry" ] && rm -f "$udev_entry"
	rm -rf "$tmp"
}
trap cleanup EXIT
"$aisio" fil gen --shape imagenetish --scale 0.0002 --seed 11 --image "$tmp/img" --fs ext4 >/dev/null || exit 1
mkdir "$tmp/mnt" && mount -o loop,ro "$tmp/img" "$tmp/mnt" || exit 1
want=$(find "$tmp/mnt" -type f | wc -l)
echo "dataset: $want files in an ext4 image of $(stat -c %s "$tmp/img") bytes"
fails=0
check() { # name, then fil perf options
	name=$1
	shift
	out=$("$aisio" fil perf --json --verify --epochs 1 --batch-size 16 --threads 2 "$@" "$tmp/mnt" 2>"$tmp/err")
	rc=$?
	files=$(printf '%s\n' "$out" | sed -n 's/.*"files": \([0-9]*\).*/\1/p')
	if [ $rc -ne 0 ] || [ "$files" != "$want" ]; then
		echo "FAIL $name: rc $rc, $files of $want files verified"
		cat "$tmp/err"
		fails=$((fails + 1))
	else
		echo "ok   $name: $files files verified: $out"
	fi
}
check aisio-gpu-host --backend aisio-gpu --device "gpuemu:host,file=$tmp/img" --xal-source "$tmp/mnt"
check aisio-gpu-hbm --backend aisio-gpu --device "gpuemu:hbm,lba=4096,file=$tmp/img" --xal-source "$tmp/mnt" \
	--gpu-queues 4
check posix-cuda --backend posix --mem cuda
check posix-direct-cuda --backend posix-direct --mem cuda
if ldconfig -p | grep -q libcufile.so || ls /usr/local/cuda*/targets/x86_64-linux/lib/libcufile.so.0 >/dev/null 2>&1; then
	# cuFile without nvidia-fs (compatibility mode) asks udev about the block device: give the loop
	# device an entry when it has none, and allow compatibility mode in a config file of its own
	loop=$(findmnt -no SOURCE "$tmp/mnt")
	mm=$(lsblk -no MAJ:MIN "$loop" | tr -d ' ')
	if [ ! -e "/run/udev/data/b$mm" ]; then
		mkdir -p /run/udev/data
		udev_entry=/run/udev/data/b$mm
		printf 'E:ID_FS_USAGE=filesystem\nE:ID_FS_TYPE=ext4\n' >"$udev_entry"
	fi
	printf '{"properties": {"allow_compat_mode": true}}\n' >"$tmp/cufile.json"
	export CUFILE_ENV_PATH_JSON=$tmp/cufile.json
	libdir=$(ls -d /usr/local/cuda*/targets/x86_64-linux/lib 2>/dev/null | head -n1)
	export LD_LIBRARY_PATH="${libdir:+$libdir:}${LD_LIBRARY_PATH:-}"
	check gds --backend gds
else
	echo "gds left out: no libcufile.so on this machine"
fi
[ $fails -eq 0 ]
