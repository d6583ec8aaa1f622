/*
 * Small helpers shared by the server's files: time, ids, UTF-8 lengths.
 */
#include <ctype.h>
#include <stdio.h>
#include <time.h>
#include <openssl/rand.h>

#include "authd.h"

int64_t now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int new_uuid(char out[ID_LEN])
{
	unsigned char b[16];
	struct timespec ts;
	uint64_t ms;

	/*
	 * Version 7 (RFC 9562): the time in milliseconds, then 74 random bits. Ids made
	 * one after another sort one after another, so the b-trees keyed by them grow at
	 * the end instead of being written all over (a sync makes thousands at once).
	 */
	if (RAND_bytes(b + 6, sizeof(b) - 6) != 1 || clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (int i = 5; i >= 0; i--, ms >>= 8)
		b[i] = (unsigned char)ms;
	b[6] = (b[6] & 0x0f) | 0x70; /* version 7 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 9562 variant */
	snprintf(out, ID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
	return 0;
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
