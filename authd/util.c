/*
 * Small helpers shared by the server's files: the two clocks, times as the
 * API shows and reads them, and ids.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "authd.h"

int64_t now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t monotonic_ms(void)
{
	return monotonic_ns() / 1000000;
}

int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The last second formatted, per thread (a thread-local cache, so that no
 * lock is needed): every audit and log line asks for the current second, and
 * glibc's gmtime_r takes a process-wide lock, the time zone's, on which the
 * plugin socket's threads queued at every decision.
 */
static _Thread_local struct {
	int64_t t;
	bool set;
	char text[32];
} last_time;

void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!last_time.set || last_time.t != t) {
		gmtime_r(&tt, &tm);
		strftime(last_time.text, sizeof(last_time.text), "%Y-%m-%dT%H:%M:%SZ", &tm);
		last_time.t = t;
		last_time.set = true;
	}
	snprintf(buf, len, "%s", last_time.text);
}

/* n digits at s as a number, or -1 when one of them is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* The offset at s ("Z", "+02:00", "-05:30") in seconds east of UTC; 0 or -1. */
static int parse_offset(const char *s, int64_t *east)
{
	int hh, mm;

	if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
		*east = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':')
		return -1;
	hh = digits(s + 1, 2);
	mm = digits(s + 4, 2);
	if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
		return -1;
	*east = (s[0] == '-' ? -1 : 1) * (int64_t)(hh * 3600 + mm * 60);
	return 0;
}

int parse_time(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec;
	struct tm tm = {0};
	int64_t east;
	time_t t;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    sec < 0 || sec > 59)
		return -1;
	s += 19;
	/* a fraction is read and dropped: times here are whole seconds */
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return -1;
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	}
	if (parse_offset(s, &east) != 0)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm rolls 31 April over into May: a day the month lacks is refused */
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -1;
	*out = (int64_t)t - east;
	return 0;
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
