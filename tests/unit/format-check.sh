#!/usr/bin/env bash
# The tree is in the house style (.clang-format): `clang-format --dry-run -Werror` over every C, header
# and CUDA source of the repository. A change that needs reformatting fails here with the diff;
# fix it with `clang-format -i FILE` (or `git clang-format` on the staged lines).
set -eu
root=${AISIO_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
command -v clang-format >/dev/null || { echo "format-check: clang-format not installed (make check installs it)"; exit 77; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files '*.c' '*.h' '*.cu' '*.cuh')
else
	mapfile -t files < <(find lib include tools tests bench -name '*.[ch]' -o -name '*.cu' -o -name '*.cuh' | sort)
fi
[ ${#files[@]} -gt 50 ] || { echo "format-check: only ${#files[@]} sources found under $root"; exit 1; }
bad=()
for f in "${files[@]}"; do
	[ -f "$f" ] || continue
	clang-format --dry-run -Werror --style=file "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
	echo "format-check: ${#bad[@]} of ${#files[@]} files are not in the house style (.clang-format):"
	for f in "${bad[@]}"; do
		echo "== $f"
		clang-format --style=file "$f" | diff -u "$f" - | head -40 || true
	done
	exit 1
fi
echo "format-check: ${#files[@]} sources in the house style ($(clang-format --version | head -1))"
