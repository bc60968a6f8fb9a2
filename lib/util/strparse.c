/* SPDX-License-Identifier: BSD-3-Clause */
#include <aisio/strparse.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* strtoull with the traps closed: no sign, no leading space, something parsed. */
static int strparse_prefix(const char *s, unsigned long long *v, char **end)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, end, 0);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || *end == s)
		return -EINVAL;
	return 0;
}

int strparse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int rc = strparse_prefix(s, &v, &end);
	if (rc < 0)
		return rc;
	if (*end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int strparse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int rc = strparse_prefix(s, &v, &end);
	if (rc < 0)
		return rc;
	unsigned shift = 0;
	switch (*end) {
	case 'k':
	case 'K': shift = 10; break;
	case 'm':
	case 'M': shift = 20; break;
	case 'g':
	case 'G': shift = 30; break;
	case 't':
	case 'T': shift = 40; break;
	default: break;
	}
	if (shift) {
		end++;
		if (end[0] == 'i' && end[1] == 'B')
			end += 2;
		else if (end[0] == 'B')
			end++;
	} else if (end[0] == 'B') {
		end++;
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int strparse_range(const char *s, uint64_t *a, uint64_t *b, uint64_t *x, int x_hex)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", s);
	char *colon = strchr(buf, ':');
	if (colon) {
		*colon++ = 0;
		char *end;
		errno = 0;
		unsigned long long v = strtoull(colon, &end, x_hex ? 16 : 10);
		if (errno || end == colon || *end || !x)
			return -EINVAL;
		*x = v;
	}
	char *dash = strchr(buf, '-');
	if (!dash)
		return -EINVAL;
	*dash++ = 0;
	if (strparse_u64(buf, 0, UINT64_MAX, a) < 0 || strparse_u64(dash, 0, UINT64_MAX, b) < 0 || *b < *a)
		return -EINVAL;
	return 0;
}
