/*
 * Fuzz target for the audit log's reader (authd/audit_read.c), which reads
 * what is on disk, however it got there, and the times GET /api/audit takes
 * (parse_time, authd/util.c): the input is an audit file's bytes, read the
 * ways the API reads it, and a time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audit.h"

/* The log audit_open appends to: in memory, so each input costs no disk writes. */
static char path[64];
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	fd = memfd_create("fuzz_audit", 0);
	if (fd < 0) {
		perror("fuzz_audit: memfd_create");
		exit(1);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

struct seen {
	const struct audit_query *q;
	uint64_t last;
	int n;
};

static bool names(json_t *rec, const char *account)
{
	static const char *const keys[] = {"actor", "account", "user", "org", "username"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = json_string_value(json_object_get(rec, keys[i]));

		if (v != NULL && strcmp(v, account) == 0)
			return true;
	}
	return false;
}

/* What the reader promises of each record: newest first, each once, as asked. */
static int check(json_t *rec, uint64_t seq, size_t len, void *ctx)
{
	struct seen *s = ctx;
	const struct audit_query *q = s->q;
	const char *event = json_string_value(json_object_get(rec, "event"));
	int64_t t;

	if (!json_is_object(rec) || len > AUDIT_LINE_MAX || seq == 0 ||
	    json_integer_value(json_object_get(rec, "seq")) != (json_int_t)seq ||
	    (s->n > 0 && seq >= s->last) || (q->start != 0 && seq > q->start) || event == NULL ||
	    !json_is_string(json_object_get(rec, "time")))
		abort();
	if ((q->account != NULL && !names(rec, q->account)) ||
	    (q->type != NULL && strncmp(event, q->type, strlen(q->type)) != 0))
		abort();
	/* a time authd did not write is compared as text: only real ones are held to the range */
	if (parse_time(json_string_value(json_object_get(rec, "time")), &t) == 0 &&
	    ((q->since != INT64_MIN && t < q->since) || (q->until != INT64_MAX && t > q->until)))
		abort();
	s->last = seq;
	s->n++;
	json_decref(rec);
	return s->n == 100;
}

static void read_as(const struct audit_files *files, const struct audit_query *q)
{
	struct seen s = {q, 0, 0};

	if (audit_read(files, q, check, &s) != 0)
		abort();
}

/* The file read whole, from a cursor, and through each filter. */
static void read_file(void)
{
	struct audit_files files;
	struct failure err;
	struct audit *a = audit_open(path, 0, 1, &err);
	struct audit_query q = {.since = INT64_MIN, .until = INT64_MAX};
	uint64_t newest;

	if (a == NULL || audit_files_open(a, &files) != 0)
		abort();
	newest = audit_last_seq(&files);
	read_as(&files, &q);
	for (q.start = newest / 2 + 1; q.start <= newest + 1; q.start += newest / 3 + 1)
		read_as(&files, &q);
	q.start = 0;
	q.type = "login.";
	read_as(&files, &q);
	q.type = "authz";
	q.account = "alice";
	read_as(&files, &q);
	q.type = NULL;
	q.account = NULL;
	parse_time("2026-01-01T00:00:00Z", &q.since);
	parse_time("2026-06-30T23:59:59Z", &q.until);
	read_as(&files, &q);
	audit_files_close(&files);
	audit_close(a);
}

/* An accepted time of a year 1970-9999 is a fixed point of format and parse. */
static void read_time(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), again[32];
	int64_t t, u;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (parse_time(s, &t) == 0 && t >= 0 && t <= 253402300799) {
		format_time(t, again, sizeof(again));
		if (parse_time(again, &u) != 0 || u != t)
			abort();
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	read_file();
	read_time(data, size);
	return 0;
}
