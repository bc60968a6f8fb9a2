#!/usr/bin/env bash
# aisio devices and aisio bind over a fake PCI tree: /sys/bus/pci/devices, /sys/class/block and /run/lock replaced
# by bind mounts in a private mount namespace. Table rows, JSON fields, an aisio lock held by another process, and
# bind's refusals (none gets as far as writing to sysfs). Root only (exit 77 otherwise); nothing outside the
# namespace changes. The discovery itself is tests/unit/test_pci_sysfs.c; this is the command's output.
set -u
aisio=$1
if [ "${AISIO_FAKE_PCI_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "skipped: needs root (a private mount namespace)"; exit 77; }
	unshare -m --propagation private true 2>/dev/null || { echo "skipped: no mount namespaces here"; exit 77; }
	AISIO_FAKE_PCI_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
fail=0
tmp=$(mktemp -d)
holder=
trap '[ -z "$holder" ] || kill $holder 2>/dev/null; umount /sys/bus/pci/devices /sys/class/block /run/lock 2>/dev/null; rm -rf "$tmp"' EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; cat "$tmp/out" "$tmp/err"; fail=1; }
out_has() { # description, ERE the output must have, command
	local what=$1 re=$2; shift 2
	if "$@" >"$tmp/out" 2>"$tmp/err" && grep -Eq -- "$re" "$tmp/out"; then ok "$what"; else bad "$what: no /$re/"; fi
}
refused() { # description, text stderr must have, command that must fail
	local what=$1 text=$2; shift 2
	if "$@" >"$tmp/out" 2>"$tmp/err"; then bad "$what (succeeded)"; return; fi
	if grep -Fq -- "$text" "$tmp/err"; then ok "$what"; else bad "$what: no '$text'"; fi
}

# The tree: a PF on nvme (partition on the device of a mount of this system, a namespace under device mapper, SR-IOV), its VF on
# vfio-pci, one on uio_pci_generic, one on no driver, one with a native-multipath namespace, a bridge.
R=$tmp/tree
fn() {
	local d=$R/devices/$1
	mkdir -p "$d"
	echo "$2" >"$d/class"
	echo 0x1b36 >"$d/vendor"
	echo 0x0010 >"$d/device"
	echo -1 >"$d/numa_node"
	[ -z "$3" ] || ln -s "../../../bus/pci/drivers/$3" "$d/driver"
}
blk() {
	mkdir -p "$R/block/$1/holders"
	echo "$2" >"$R/block/$1/dev"
	echo "$3" >"$R/block/$1/size"
}
read -r mnt_dev mnt_point < <(awk '$5 !~ /\\/ { print $3, $5; exit }' /proc/self/mountinfo)
fn 0000:01:00.0 0x010802 nvme
ln -s ../../../kernel/iommu_groups/7 "$R/devices/0000:01:00.0/iommu_group"
echo 1 >"$R/devices/0000:01:00.0/sriov_numvfs"
echo 2 >"$R/devices/0000:01:00.0/sriov_totalvfs"
mkdir -p "$R/devices/0000:01:00.0/nvme/nvme0/nvme0n1" "$R/devices/0000:01:00.0/nvme/nvme0/nvme0n2"
blk nvme0n1 259:0 2097152
blk nvme0n1/nvme0n1p1 "$mnt_dev" 1000
blk nvme0n2 259:2 4096
mkdir "$R/block/nvme0n2/holders/dm-0"
fn 0000:02:00.0 0x010802 vfio-pci
ln -s ../../../kernel/iommu_groups/12 "$R/devices/0000:02:00.0/iommu_group"
ln -s ../0000:01:00.0 "$R/devices/0000:02:00.0/physfn"
fn 0000:03:00.0 0x010802 uio_pci_generic
fn 0000:04:00.0 0x010802 ""
fn 0000:05:00.0 0x010802 nvme
mkdir -p "$R/devices/0000:05:00.0/nvme/nvme1/nvme1c1n1"
blk nvme1n1 259:5 8
fn 0000:00:1f.0 0x060100 ""
mkdir -p "$tmp/lock"
mount --bind "$R/devices" /sys/bus/pci/devices || { echo "skipped: cannot bind-mount over sysfs"; exit 77; }
mount --bind "$R/block" /sys/class/block || { echo "skipped: cannot bind-mount over sysfs"; exit 77; }
[ -d /run/lock ] || { echo "skipped: no /run/lock to cover"; exit 77; }
mount --bind "$tmp/lock" /run/lock || { echo "skipped: cannot bind-mount over /run/lock"; exit 77; }

out_has "devices: header" '^PCI +ID +DRIVER +IOMMU +NAMESPACES +MOUNTED +OPEN BY$' "$aisio" devices
out_has "devices: PF on nvme, mounted, held, SR-IOV" \
	'^0000:01:00\.0  1b36:0010  nvme +7 +nvme0n1,nvme0n2 +/.*nvme0n2 held - PF 1/2 VFs$' "$aisio" devices
out_has "devices: VF on vfio-pci" '^0000:02:00\.0  1b36:0010  vfio-pci +12 +- +- +- VF of 0000:01:00\.0$' \
	"$aisio" devices
out_has "devices: uio, no IOMMU group" '^0000:03:00\.0  1b36:0010  uio_pci_generic +- +- +- +-$' "$aisio" devices
out_has "devices: no driver" '^0000:04:00\.0  1b36:0010  \(none\) +- +- +- +-$' "$aisio" devices
out_has "devices: multipath namespace by its block device" '^0000:05:00\.0 .* nvme1n1 +- +-$' "$aisio" devices
if grep -q '^0000:00:1f' "$tmp/out"; then bad "devices: a bridge listed"; else ok "devices: NVMe only"; fi

if "$aisio" devices --json >"$tmp/out" 2>"$tmp/err" && python3 - "$tmp/out" "$mnt_point" <<'EOF'; then ok "devices --json"; else bad "devices --json"; fi
import json, sys
d = {f["bdf"]: f for f in json.load(open(sys.argv[1]))["devices"]}
assert list(d) == ["0000:01:00.0", "0000:02:00.0", "0000:03:00.0", "0000:04:00.0", "0000:05:00.0"], list(d)
pf, vf = d["0000:01:00.0"], d["0000:02:00.0"]
assert pf["vendor"] == "0x1b36" and pf["device"] == "0x0010" and pf["class"] == "0x010802", pf
assert pf["driver"] == "nvme" and pf["iommu_group"] == 7 and pf["numa_node"] == -1 and pf["controller"] == "nvme0"
assert pf["sriov"] == {"numvfs": 1, "totalvfs": 2} and "physfn" not in pf
ns = {n["name"]: n for n in pf["namespaces"]}
assert ns["nvme0n1"]["size_bytes"] == 2097152 * 512 and sys.argv[2] in ns["nvme0n1"]["mounts"] and not ns["nvme0n1"]["held"]
assert ns["nvme0n2"]["held"] and ns["nvme0n2"]["mounts"] == [] and pf["in_use"] and not pf["aisio_open"]
assert vf["driver"] == "vfio-pci" and vf["iommu_group"] == 12 and vf["physfn"] == "0000:01:00.0" and "sriov" not in vf
assert d["0000:03:00.0"]["iommu_group"] is None and d["0000:04:00.0"]["driver"] is None
assert [n["name"] for n in d["0000:05:00.0"]["namespaces"]] == ["nvme1n1"]
assert all(f["open_by"] == [] for f in d.values())
EOF

refused "bind: in use" "nvme0n1 mounted on $mnt_point;" "$aisio" bind 0000:01:00.0 vfio-pci
refused "bind: held" "nvme0n2 held (device mapper, md or swap); unmount first" "$aisio" bind 01:00.0 none
refused "bind: not NVMe" "0000:00:1f.0 is not an NVMe controller" "$aisio" bind 0000:00:1f.0 nvme
refused "bind: absent" "no PCI function 0000:09:00.0 on this machine" "$aisio" bind 0000:09:00.0 nvme
refused "bind: malformed address" "'0x1:00.0' is not a PCI address" "$aisio" bind 0x1:00.0 nvme
refused "bind: unknown driver" "unknown driver 'ahci'" "$aisio" bind 0000:04:00.0 ahci
refused "bind: vfio-pci without an IOMMU group" "has no IOMMU group" "$aisio" bind 0000:03:00.0 vfio-pci
out_has "bind: already bound" '^0000:02:00\.0 is already bound to vfio-pci$' "$aisio" bind 2:0.0 vfio-pci

# An aisio lock on the uio function held by another process: shown with its pid, bind and open refused.
python3 -c 'import fcntl, sys, time
f = open("/run/lock/aisio-0000:03:00.0.lock", "w")
fcntl.flock(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)' >"$tmp/holder" &
holder=$!
for _ in $(seq 100); do grep -q locked "$tmp/holder" && break; sleep 0.1; done
out_has "devices: aisio lock holder" "^0000:03:00\.0 .* open \(pid $holder\)$" "$aisio" devices
out_has "devices --json: aisio_pid" "\"bdf\": \"0000:03:00\.0\".*\"aisio_open\": true, \"aisio_pid\": $holder" \
	"$aisio" devices --json
refused "bind: open in aisio" "0000:03:00.0 is open in aisio process $holder; stop it first" \
	"$aisio" bind 0000:03:00.0 nvme
refused "open refused, holder named" "0000:03:00.0: already open in aisio process $holder" "$aisio" id-ctrl 3:0.0
kill $holder
wait $holder 2>/dev/null
holder=
out_has "devices: lock gone with its holder" '^0000:03:00\.0  1b36:0010  uio_pci_generic +- +- +- +-$' "$aisio" devices
exit $fail
