/* SPDX-License-Identifier: BSD-3-Clause */
/* JSON output of the aisio command: the one string escaper every verb uses. */
#ifndef AISIO_TOOLS_JSON_H
#define AISIO_TOOLS_JSON_H

#include <stdio.h>
#include <string.h>

/* Write s as a JSON string: at most maxlen bytes, up to a NUL. Quotes, backslashes and control
 * bytes are escaped; valid UTF-8 passes through; any other byte is written as \u00XX, so the
 * output is valid JSON whatever the bytes (device serials, file names, host names). */
void json_str(FILE *f, const char *s, size_t maxlen);

static inline void json_string(FILE *f, const char *s)
{
	json_str(f, s, strlen(s));
}

#endif
