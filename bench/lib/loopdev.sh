# Shared by the kernel-path benchmarks (sourced, not run): a loop device over a tmpfs file
# filled with random data, removed on exit, and the machine's busy CPU time.

# loopdev_setup TMPFS_SIZE: sets $work (the tmpfs) and $dev (the loop device, 1 GiB).
loopdev_setup() {
  [ "$(id -u)" = 0 ] || { echo "needs root (loop device)"; exit 77; }
  command -v fio >/dev/null || { echo "needs fio"; exit 77; }
  work=$(mktemp -d)
  mount -t tmpfs -o size="$1" tmpfs "$work"
  truncate -s 1G "$work/img"
  dev=$(losetup --find --show "$work/img")
  trap loopdev_cleanup EXIT
  dd if=/dev/urandom of="$dev" bs=1M count=1024 oflag=direct status=none
}

loopdev_cleanup() {
  losetup -d "$dev" 2>/dev/null || true
  umount "$work" 2>/dev/null || true
  rmdir "$work" 2>/dev/null || true
}

# Busy CPU time of the whole machine in clock ticks (user nice system irq softirq); hz ticks a second.
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8; exit}' /proc/stat; }
hz=$(getconf CLK_TCK)
