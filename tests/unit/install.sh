#!/usr/bin/env bash
# make install puts the library, headers, aisio and aisio.pc where pkg-config finds them,
# and a program built against the installed copy alone runs an I/O on an emulated device.
set -eu
build=$AISIO_BUILD_ROOT
# a sanitizer build's library needs the sanitizer runtime: that is not what users install
san=$(python3 -c "import json,sys; print(next(o['value'] for o in json.load(open(sys.argv[1])) if o['name'] == 'b_sanitize'))" \
  "$build/meson-info/intro-buildoptions.json")
[ "$san" = none ] || { echo "sanitizer build ($san): install test skipped"; exit 77; }
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild >/dev/null
pc=$(dirname "$(find "$dest" -name aisio.pc | head -1)")
[ -n "$pc" ] || { echo "no aisio.pc installed"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$pc/aisio.pc")
export PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$dest
test -x "$dest$prefix/bin/aisio" || { echo "aisio not installed"; exit 1; }
cat > "$dest/hello.c" <<'C'
#include <aisio/nvmed.h>
#include <stdio.h>
static void done(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe) { *(int *)arg = err ? err : 1; }
int main(void)
{
	struct nvmed_ctrl *c;
	struct nvmed_qpair *qp;
	int result = 0;
	if (nvmed_ctrl_open(&c, "emu:ram:1M", NULL) < 0 || nvmed_qpair_create(c, 4, &qp) < 0)
		return 1;
	void *buf = nvmed_dma_alloc(c, 4096);
	if (nvmed_qpair_read(qp, 1, 0, 8, buf, done, &result) < 0 || nvmed_qpair_drain(qp, 5000) < 0 || result != 1)
		return 1;
	nvmed_qpair_destroy(qp);
	nvmed_ctrl_close(c);
	puts("read through the installed library");
	return 0;
}
C
cc -std=gnu11 -o "$dest/hello" "$dest/hello.c" $(pkg-config --cflags --libs --static aisio)
"$dest/hello"
