#!/usr/bin/env bash
# Libraries report through the log hook (include/aisio/log.h) and never print: fails when a C or CUDA
# source under lib/ calls a stdio printer or names stderr/stdout outside a comment, except
# lib/util/log.c, whose default sink is the one writer to stderr.
set -eu
root=${AISIO_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
pat='(^|[^_[:alnum:]])(printf|fprintf|vprintf|vfprintf|dprintf|vdprintf|puts|fputs|putchar|fputc|perror)[[:space:]]*\(|(^|[^_[:alnum:]])(stderr|stdout)([^_[:alnum:]]|$)'
# the pattern itself must catch what it is for, or an empty result proves nothing
for probe in '	fprintf(stderr, "x\n");' 'perror("open");' '	puts (s);' 'va_end(ap); vfprintf(f, fmt, ap);'; do
	printf '%s\n' "$probe" | grep -Eq "$pat" || { echo "no-print-in-lib: the pattern misses: $probe"; exit 1; }
done
for ok in 'snprintf(buf, n, "%d", i);' 'vsnprintf(b, n, fmt, ap);' '__attribute__((format(printf, 3, 4)))'; do
	if printf '%s\n' "$ok" | grep -Eq "$pat"; then echo "no-print-in-lib: the pattern catches: $ok"; exit 1; fi
done
hits=$(cd "$root" && grep -rnE "$pat" lib --include='*.c' --include='*.h' --include='*.cu' --include='*.cuh' |
	grep -v '^lib/util/log\.c:' | grep -Ev '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)' || true)
if [ -n "$hits" ]; then
	echo "no-print-in-lib: libraries must log through aisio_log (include/aisio/log.h), not print:"
	printf '%s\n' "$hits"
	exit 1
fi
echo "no-print-in-lib: no printing in lib/ outside the default sink (lib/util/log.c)"
