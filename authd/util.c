/*
 * Small helpers shared by the server's files: time, ids, UTF-8 lengths, and
 * outside text made fit for JSON.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistr.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "authd.h"

int64_t now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * The random part of ids, drawn from OpenSSL a batch at a time: a sync makes
 * a hundred thousand ids, and one RAND_bytes call each was a tenth of its work.
 * Per thread, so that no lock is needed; ids are not secrets.
 */
static int random_bytes(unsigned char *out, size_t n)
{
	static _Thread_local unsigned char pool[1020];
	static _Thread_local size_t left;

	if (n > sizeof(pool))
		return -1;
	if (left < n) {
		if (RAND_bytes(pool, sizeof(pool)) != 1)
			return -1;
		left = sizeof(pool);
	}
	left -= n;
	memcpy(out, pool + left, n);
	/* what was handed out is not kept */
	OPENSSL_cleanse(pool + left, n);
	return 0;
}

int new_uuid(char out[ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	struct timespec ts;
	uint64_t ms;
	char *p = out;

	/*
	 * Version 7 (RFC 9562): the time in milliseconds, then 74 random bits. Ids made
	 * one after another sort one after another, so the b-trees keyed by them grow at
	 * the end instead of being written all over (a sync makes thousands at once).
	 */
	if (random_bytes(b + 6, sizeof(b) - 6) != 0 || clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (int i = 5; i >= 0; i--, ms >>= 8)
		b[i] = (unsigned char)ms;
	b[6] = (b[6] & 0x0f) | 0x70; /* version 7 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 9562 variant */
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 15];
	}
	*p = '\0';
	return 0;
}

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
