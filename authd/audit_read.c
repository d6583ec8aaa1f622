/*
 * Reading the audit log newest first, for GET /api/audit: the files are read
 * backward a block at a time, so memory stays bounded whatever their size.
 *
 * Every line authd writes opens with the same head,
 *     {"seq":N,"time":"2026-11-23T15:05:00Z","event":"login.failure",...
 * and N grows by one a line through the file and its rotated predecessors.
 * A page's cursor is the sequence number of its first record, which no
 * rotation changes. To find it the reader bisects the one file that holds
 * it, reading only the heads of a few lines; then it reads backward from
 * there, and the time and event filters need the head alone. A line without
 * such a head, or that is not JSON (cut short by a crash), is passed over.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"

/* The fuzz build makes it small, so that short inputs are bisected too. */
#ifndef AUDIT_BLOCK
#define AUDIT_BLOCK (64 * 1024)
#endif
#define BLOCK AUDIT_BLOCK
/* Enough for any head: the time, and an event name of at most 100 bytes. */
#define HEAD_MAX 256
#define TIME_LEN 20 /* 2026-11-23T15:05:00Z */
_Static_assert(BLOCK >= HEAD_MAX, "a head is read into one block");

struct head {
	uint64_t seq;
	const char *time; /* TIME_LEN bytes, in the line */
	const char *event;
	size_t event_len;
};

/* Reads the head of the line at p (n bytes, no newline); false when it has none. */
static bool parse_head(const char *p, size_t n, struct head *h)
{
	static const char k_seq[] = "{\"seq\":", k_time[] = ",\"time\":\"",
			  k_event[] = "\",\"event\":\"";
	const char *end = p + n, *q;

	if (n < sizeof(k_seq) - 1 || memcmp(p, k_seq, sizeof(k_seq) - 1) != 0)
		return false;
	h->seq = 0;
	/* at most INT64_MAX, as JSON takes integers: a bigger one is no number authd wrote */
	for (q = p + sizeof(k_seq) - 1; q < end && *q >= '0' && *q <= '9'; q++) {
		if (h->seq > ((uint64_t)INT64_MAX - 9) / 10)
			return false;
		h->seq = h->seq * 10 + (uint64_t)(*q - '0');
	}
	if (h->seq == 0 || (size_t)(end - q) < sizeof(k_time) - 1 + TIME_LEN + sizeof(k_event))
		return false;
	if (memcmp(q, k_time, sizeof(k_time) - 1) != 0)
		return false;
	h->time = q + sizeof(k_time) - 1;
	q = h->time + TIME_LEN;
	if (h->time[10] != 'T' || h->time[TIME_LEN - 1] != 'Z' ||
	    memcmp(q, k_event, sizeof(k_event) - 1) != 0)
		return false;
	h->event = q + sizeof(k_event) - 1;
	/* event names are plain: a backslash means this is not a head authd wrote */
	for (q = h->event; q < end && *q != '"'; q++)
		if (*q == '\\')
			return false;
	if (q + 1 >= end || (q[1] != ',' && q[1] != '}'))
		return false;
	h->event_len = (size_t)(q - h->event);
	return true;
}

/* ---- reading forward: the heads that steer the bisection ---- */

/* The start of the first line that begins after position p, or limit when none does before it. */
static int64_t next_line(int fd, char *buf, int64_t p, int64_t limit)
{
	while (p < limit) {
		size_t want = limit - p < BLOCK ? (size_t)(limit - p) : BLOCK;
		ssize_t n = pread(fd, buf, want, p);
		const char *nl;

		if (n <= 0)
			return limit;
		nl = memchr(buf, '\n', (size_t)n);
		if (nl != NULL)
			return p + (nl - buf) + 1;
		p += n;
	}
	return limit;
}

/* The head of the first record whose line starts in [pos, limit), and where; false when none. */
static bool first_head(int fd, char *buf, int64_t pos, int64_t limit, struct head *h, int64_t *at)
{
	int64_t s = pos == 0 ? 0 : next_line(fd, buf, pos - 1, limit);

	while (s < limit) {
		ssize_t n = pread(fd, buf, HEAD_MAX, s);
		const char *nl;

		if (n <= 0)
			return false;
		nl = memchr(buf, '\n', (size_t)n);
		if (parse_head(buf, nl ? (size_t)(nl - buf) : (size_t)n, h)) {
			*at = s;
			return true;
		}
		s = nl ? s + (nl - buf) + 1 : next_line(fd, buf, s + n, limit);
	}
	return false;
}

/*
 * A point at or past the end of the last record numbered up to target, and
 * close to it: lo is the start of a record numbered up to target, and no
 * record from hi on is. The heads between steer by bisection until the two
 * are a block apart; without a head to steer by, hi is as good as it gets.
 */
static int64_t end_of(int fd, char *buf, int64_t lo, int64_t hi, uint64_t target)
{
	struct head h;
	int64_t at;

	while (hi - lo > BLOCK) {
		if (!first_head(fd, buf, lo + (hi - lo) / 2, hi, &h, &at))
			break;
		if (h.seq <= target)
			lo = at;
		else
			hi = at;
	}
	return hi;
}

/* ---- reading backward ---- */

struct back {
	int fd;
	int64_t end;	/* what is left to read: [0, end) */
	int64_t bstart; /* buf holds the bytes [bstart, end) */
	char *buf;
	size_t cap;
};

/* Reads the block before bstart, keeping [bstart, end) after it; 0, or -1. */
static int back_fill(struct back *b)
{
	size_t have = (size_t)(b->end - b->bstart);
	size_t want = b->bstart < BLOCK ? (size_t)b->bstart : BLOCK;
	size_t got = 0;

	if (have + want > b->cap) {
		char *grown = realloc(b->buf, have + want);

		if (grown == NULL)
			return -1;
		b->buf = grown;
		b->cap = have + want;
	}
	memmove(b->buf + want, b->buf, have);
	b->bstart -= (int64_t)want;
	while (got < want) {
		ssize_t n = pread(b->fd, b->buf + got, want - got, b->bstart + (int64_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		/* a file cut shorter since it was opened (logrotate's copytruncate) ends here */
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/*
 * The line that ends at b->end, without its newline: 1 with *line and *len,
 * 0 at the start of the file, -1 when it cannot be read. A line longer than
 * AUDIT_LINE_MAX comes back empty, having been read but not kept.
 */
static int back_line(struct back *b, const char **line, size_t *len)
{
	int64_t e = b->end, s;
	bool too_long = false;

	if (e == 0)
		return 0;
	if (b->bstart == e && back_fill(b) != 0)
		return -1;
	if (b->buf[e - 1 - b->bstart] == '\n')
		e--;
	for (;;) {
		const char *nl = memrchr(b->buf, '\n', (size_t)(e - b->bstart));

		if (nl != NULL) {
			s = b->bstart + (nl - b->buf) + 1;
			break;
		}
		if (b->bstart == 0) {
			s = 0;
			break;
		}
		if (e - b->bstart > AUDIT_LINE_MAX) {
			too_long = true;
			b->end = e = b->bstart;
		}
		if (back_fill(b) != 0)
			return -1;
	}
	*line = b->buf + (s - b->bstart);
	*len = too_long || e - s > AUDIT_LINE_MAX ? 0 : (size_t)(e - s);
	b->end = s;
	return 1;
}

/* ---- the read ---- */

struct reader {
	const struct audit_query *q;
	audit_record_fn fn;
	void *ctx;
	uint64_t next;		   /* the newest sequence number still wanted */
	char since[32], until[32]; /* as the records write them; "" when not asked */
	char quoted[NAME_LEN + 3]; /* "account" as a JSON string, or "" to parse every line */
	char *fwd;		   /* a block for reading forward */
	struct back back;
};

/* A time in the records' form, for comparing with theirs byte by byte. */
static void record_time(int64_t t, char *buf, size_t len)
{
	const int64_t last = 253402300799; /* 9999-12-31T23:59:59Z */

	format_time(t < 0 ? 0 : t > last ? last : t, buf, len);
}

static bool type_matches(const char *type, const struct head *h)
{
	size_t n = strlen(type);

	if (n > 0 && type[n - 1] == '.')
		return h->event_len >= n && memcmp(h->event, type, n) == 0;
	return h->event_len == n && memcmp(h->event, type, n) == 0;
}

static bool replica_matches(json_t *rec, const char *replica)
{
	const char *v = json_string_value(json_object_get(rec, "replica"));

	return v != NULL && strcmp(v, replica) == 0;
}

static bool account_matches(json_t *rec, const char *account)
{
	/* who acted, and the accounts acted on: users and organizations alike */
	static const char *const keys[] = {"actor", "account", "user", "org", "username"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = json_string_value(json_object_get(rec, keys[i]));

		if (v != NULL && strcmp(v, account) == 0)
			return true;
	}
	return false;
}

/* One record in the read's order: 1 when the read is over, else 0. */
static int offer(struct reader *rd, const struct head *h, const char *line, size_t len)
{
	const struct audit_query *q = rd->q;
	json_t *rec;

	if (rd->until[0] && memcmp(h->time, rd->until, TIME_LEN) > 0)
		return 0;
	/* newest first: what follows is older still */
	if (rd->since[0] && memcmp(h->time, rd->since, TIME_LEN) < 0)
		return 1;
	if (q->type != NULL && !type_matches(q->type, h))
		return 0;
	/* most lines are not about the account: they are passed over unparsed */
	if (rd->quoted[0] && memmem(line, len, rd->quoted, strlen(rd->quoted)) == NULL)
		return 0;
	/* one seq per record: the one its head gave */
	rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(rec) || (q->account != NULL && !account_matches(rec, q->account)) ||
	    (q->replica != NULL && !replica_matches(rec, q->replica))) {
		json_decref(rec);
		return 0;
	}
	return rd->fn(rec, h->seq, len, rd->ctx) != 0;
}

/* Reads one file backward from where the wanted records start: 1 when the read is over. */
static int read_file(struct reader *rd, const struct audit_file *f)
{
	struct back *b = &rd->back;
	struct head h;
	const char *line;
	size_t len;
	int64_t at;
	int rc;

	if (!first_head(f->fd, rd->fwd, 0, f->size, &h, &at) || h.seq > rd->next)
		return 0; /* empty, or newer than every record wanted */
	b->fd = f->fd;
	b->end = rd->next == UINT64_MAX ? f->size : end_of(f->fd, rd->fwd, at, f->size, rd->next);
	b->bstart = b->end;
	while ((rc = back_line(b, &line, &len)) == 1) {
		if (!parse_head(line, len, &h) || h.seq > rd->next)
			continue;
		rd->next = h.seq - 1;
		if (offer(rd, &h, line, len) != 0 || rd->next == 0)
			return 1;
	}
	/* the older files may still be read */
	if (rc < 0)
		log_msg(LOG_WARN, "audit: a log file could not be read to its start "
				  "(cut short while it was read, or out of memory)");
	return 0;
}

/* The account as it appears in a line, when it needs no escaping there. */
static void quote_account(const char *account, char *buf, size_t len)
{
	buf[0] = '\0';
	if (account == NULL || strlen(account) + 3 > len)
		return;
	for (const char *p = account; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return;
	snprintf(buf, len, "\"%s\"", account);
}

int audit_read(const struct audit_files *files, const struct audit_query *q, audit_record_fn fn,
	       void *ctx)
{
	struct reader rd = {.q = q, .fn = fn, .ctx = ctx};

	rd.next = q->start ? q->start : UINT64_MAX;
	if (q->since != INT64_MIN)
		record_time(q->since, rd.since, sizeof(rd.since));
	if (q->until != INT64_MAX)
		record_time(q->until, rd.until, sizeof(rd.until));
	quote_account(q->account, rd.quoted, sizeof(rd.quoted));
	rd.fwd = malloc(BLOCK);
	if (rd.fwd == NULL)
		return -1;
	for (int i = 0; i < files->n; i++)
		if (read_file(&rd, &files->file[i]) != 0)
			break;
	free(rd.back.buf);
	free(rd.fwd);
	return 0;
}

uint64_t audit_last_seq(const struct audit_files *files)
{
	struct back b = {0};
	uint64_t seq = 0;

	for (int i = 0; i < files->n && seq == 0; i++) {
		const char *line;
		struct head h;
		size_t len;

		b.fd = files->file[i].fd;
		b.end = b.bstart = files->file[i].size;
		while (seq == 0 && back_line(&b, &line, &len) == 1)
			if (parse_head(line, len, &h))
				seq = h.seq;
	}
	free(b.buf);
	return seq;
}

void audit_files_close(struct audit_files *f)
{
	for (int i = 0; i < f->n; i++)
		close(f->file[i].fd);
	free(f->file);
	memset(f, 0, sizeof(*f));
}
