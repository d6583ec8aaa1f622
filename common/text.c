/*
 * Text from outside (requests, directories, engines) made fit for JSON, and
 * the few counts and checks the parts share.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistr.h>

#include "common.h"

/*
 * The bytes one U+FFFD stands for at a sequence u8_mbtoucr refused: the
 * longest start of a character that is there, as Unicode recommends, so a
 * character cut in two shows as one replacement and a stray byte as one.
 */
static size_t bad_sequence_len(const uint8_t *p, size_t left)
{
	size_t n = 1;
	ucs4_t uc;

	/* -2: these bytes begin a character that is not finished */
	for (size_t k = 2; k <= 3 && k <= left; k++)
		if (u8_mbtoucr(&uc, p, k) == -2)
			n = k;
	return n;
}

/* jansson refuses a string that is not UTF-8, and with it the whole object being packed. */
char *utf8_clean(char *dst, size_t size, const char *src)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	const uint8_t *p = (const uint8_t *)src;
	size_t left = strlen(src), used = 0;

	if (size == 0)
		return dst;
	if (left < size && u8_check(p, left) == NULL) {
		memcpy(dst, src, left + 1);
		return dst;
	}
	while (left > 0) {
		ucs4_t uc;
		int n = u8_mbtoucr(&uc, p, left);
		const char *piece = (const char *)p;
		size_t step = (size_t)n, len = (size_t)n;

		if (n < 0) {
			/* -2: the text ends inside a character, which is all that is left */
			step = n == -2 ? left : bad_sequence_len(p, left);
			piece = replacement;
			len = sizeof(replacement) - 1;
		}
		/* whole characters only: a cut never leaves half of one behind */
		if (used + len >= size)
			break;
		memcpy(dst + used, piece, len);
		used += len;
		p += step;
		left -= step;
	}
	dst[used] = '\0';
	return dst;
}

size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

bool is_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

int refusal_set(struct refusal *r, const char *field, const char *fmt, ...)
{
	char text[sizeof(r->message)];
	va_list ap;

	/* fields and messages quote what was sent, which need not be UTF-8 */
	utf8_clean(r->field, sizeof(r->field), field ? field : "");
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	utf8_clean(r->message, sizeof(r->message), text);
	return -1;
}

int refusal_in(struct refusal *r, const char *field)
{
	char message[sizeof(r->message)];

	snprintf(message, sizeof(message), "%s", r->message);
	return refusal_set(r, field, "%s: %s", field, message);
}

int failure_set(struct failure *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return -1;
}
