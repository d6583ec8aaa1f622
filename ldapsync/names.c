/*
 * The rules for account and team names. They live here because directory
 * values must pass the same rules as names typed into the API.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "ldapsync.h"

static const char forbidden[] = "/\\[]:;|=,+*?<>'\"";

static int is_control(ucs4_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/* Checks an already normalised name; NULL when it passes. */
static const char *name_problem(const uint8_t *s, size_t len)
{
	const uint8_t *p = s, *end = s + len;
	size_t chars = 0;

	if (len == 0)
		return "must not be empty";
	while (p < end) {
		ucs4_t c;
		int n = u8_mbtoucr(&c, p, (size_t)(end - p));

		if (n <= 0)
			return "must be valid UTF-8";
		if (is_control(c) || uc_is_property_white_space(c))
			return "must not contain whitespace or control characters";
		if (c < 0x80 && strchr(forbidden, (int)c) != NULL)
			return "must not contain any of / \\ [ ] : ; | = , + * ? < > ' \"";
		p += n;
		chars++;
	}
	if (chars > LS_NAME_MAX_CHARS)
		return "must be at most 100 characters";
	return NULL;
}

/* Refuses with msg, when the caller wants to know why; always NULL. */
static char *refuse_name(struct refusal *why, const char *msg)
{
	if (why != NULL)
		refusal_set(why, "", "%s", msg);
	return NULL;
}

char *ls_name_normalize(const char *in, size_t len, struct refusal *why)
{
	const uint8_t *src = (const uint8_t *)in;
	const char *problem;
	uint8_t *low;
	size_t outlen = 0;
	char *out;

	if (len == 0)
		return refuse_name(why, "must not be empty");
	/* a bound before the work: 100 characters are at most 400 bytes */
	if (len > 4 * LS_NAME_MAX_CHARS * 2)
		return refuse_name(why, "must be at most 100 characters");
	if (u8_check(src, len) != NULL || memchr(in, '\0', len) != NULL)
		return refuse_name(why, "must be valid UTF-8");
	low = u8_tolower(src, len, NULL, UNINORM_NFC, NULL, &outlen);
	if (low == NULL)
		return refuse_name(why, "could not be normalised");
	problem = name_problem(low, outlen);
	out = problem ? NULL : malloc(outlen + 1);
	if (out == NULL) {
		free(low);
		return refuse_name(why, problem ? problem : "could not be normalised");
	}
	memcpy(out, low, outlen);
	out[outlen] = '\0';
	free(low);
	return out;
}
