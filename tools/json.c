/* SPDX-License-Identifier: BSD-3-Clause */
#include "json.h"

#include <stdint.h>

/* Bytes after lead byte c of a UTF-8 sequence (0: not a lead byte). */
static size_t utf8_tail(unsigned char c)
{
	if ((c & 0xe0) == 0xc0 && c >= 0xc2)
		return 1;
	if ((c & 0xf0) == 0xe0)
		return 2;
	if ((c & 0xf8) == 0xf0 && c <= 0xf4)
		return 3;
	return 0;
}

void json_str(FILE *f, const char *s, size_t maxlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strnlen(s, maxlen);

	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			continue;
		}
		if (c < 0x80) {
			fputc(c, f);
			continue;
		}
		size_t n = utf8_tail(c), k = 1;
		if (n && i + n < len)
			while (k <= n && (p[i + k] & 0xc0) == 0x80)
				k++;
		if (n && k == n + 1) {
			fwrite(p + i, 1, n + 1, f);
			i += n;
			continue;
		}
		fprintf(f, "\\u%04x", c);
	}
	fputc('"', f);
}
