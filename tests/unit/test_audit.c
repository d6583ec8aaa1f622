/*
 * Unit tests of the audit log: the lines the writer makes, rotation and
 * reopening, and the reader's pages, cursors, filters and bisection over
 * files written here, some of them by hand.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "unit.h"

static char dir[] = "/tmp/test_audit.XXXXXX";

/* A folder of the test's own (each runs in a process of its own), and the log's path in it. */
static const char *fresh_log(void)
{
	static char path[512];
	char sub[256];

	snprintf(sub, sizeof(sub), "%s/t.XXXXXX", dir);
	ck_assert_ptr_nonnull(mkdtemp(sub));
	snprintf(path, sizeof(path), "%s/audit.log", sub);
	return path;
}

static struct audit *open_log(const char *path, int64_t max_bytes, int keep)
{
	struct failure err;
	struct audit *a = audit_open(path, max_bytes, keep, &err);

	ck_assert_msg(a != NULL, "%s", err.message);
	return a;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static char *read_all(const char *path)
{
	struct failure err;
	size_t len;
	char *text = file_read(path, 64 << 20, &len, &err);

	ck_assert_msg(text != NULL, "%s", err.message);
	return text;
}

/* Writes n records of event `event` by `actor`, each with a field padding it to about `pad` bytes.
 */
static void write_records(struct audit *a, int n, const char *event, const char *actor, int pad)
{
	char filler[4096];

	memset(filler, 'x', sizeof(filler));
	filler[pad < (int)sizeof(filler) ? pad : (int)sizeof(filler) - 1] = '\0';
	for (int i = 0; i < n; i++)
		audit_log(a, event, actor, "127.0.0.1",
			  json_pack("{s:i, s:s}", "i", i, "pad", filler));
}

/* ---- a page, as GET /api/audit makes one ---- */

#define MAX_GOT 30000

struct got {
	uint64_t seq[MAX_GOT];
	int n, limit;
	uint64_t next; /* the seq of the record after the page, 0 at the end */
};

static int collect(json_t *rec, uint64_t seq, size_t len, void *ctx)
{
	struct got *g = ctx;

	(void)len;
	ck_assert(json_is_object(rec));
	ck_assert_int_eq(json_integer_value(json_object_get(rec, "seq")), (long long)seq);
	json_decref(rec);
	if (g->n == g->limit) {
		g->next = seq;
		return 1;
	}
	ck_assert_int_lt(g->n, MAX_GOT);
	g->seq[g->n++] = seq;
	return 0;
}

static struct got *read_page(struct audit *a, const struct audit_query *q, int limit)
{
	static struct got g;
	struct audit_files files;

	memset(&g, 0, sizeof(g));
	g.limit = limit;
	ck_assert_int_eq(audit_files_open(a, &files), 0);
	ck_assert_int_eq(audit_read(&files, q, collect, &g), 0);
	audit_files_close(&files);
	return &g;
}

static const struct audit_query all = {.since = INT64_MIN, .until = INT64_MAX};

/* Pages through everything with `limit`; the seqs in *out, newest first. */
static int read_everything(struct audit *a, int limit, uint64_t *out, int max)
{
	struct audit_query q = all;
	int n = 0;

	for (;;) {
		struct got *g = read_page(a, &q, limit);

		ck_assert_int_le(n + g->n, max);
		memcpy(out + n, g->seq, sizeof(uint64_t) * (size_t)g->n);
		n += g->n;
		if (g->next == 0)
			return n;
		q.start = g->next;
	}
}

/* Each seq one less than the one before: nothing lost, nothing twice. */
static void expect_consecutive(const uint64_t *seq, int n, uint64_t newest)
{
	for (int i = 0; i < n; i++)
		ck_assert_msg(seq[i] == newest - (uint64_t)i, "record %d is seq %llu, not %llu", i,
			      (unsigned long long)seq[i],
			      (unsigned long long)(newest - (uint64_t)i));
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (f == NULL)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* ---- times ---- */

START_TEST(times_parse_as_rfc3339)
{
	static const char *const bad[] = {"",
					  "2026-11-23",
					  "2026-11-23 15:05:00Z",
					  "2026-11-23T15:05:00",
					  "2026-13-01T00:00:00Z",
					  "2026-04-31T00:00:00Z",
					  "2026-11-23T24:00:00Z",
					  "2026-11-23T15:05:00.Z",
					  "2026-11-23T15:05:00+2:00",
					  "2026-11-23T15:05:00+02:00x",
					  "2026-11-23T15:05:00ZZ",
					  "x026-11-23T15:05:00Z"};
	int64_t t;

	ck_assert_int_eq(parse_time("1970-01-01T00:00:00Z", &t), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(parse_time("2026-11-23T15:05:00Z", &t), 0);
	ck_assert_int_eq(t, 1795446300);
	ck_assert_int_eq(parse_time("2026-11-23T17:05:00.999+02:00", &t), 0);
	ck_assert_int_eq(t, 1795446300);
	ck_assert_int_eq(parse_time("2026-11-23t10:05:00-05:00", &t), 0);
	ck_assert_int_eq(t, 1795446300);
	ck_assert_int_eq(parse_time("2024-02-29T00:00:00z", &t), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse_time(bad[i], &t) == -1, "\"%s\" was taken", bad[i]);
}
END_TEST

/* ---- the writer ---- */

START_TEST(records_open_with_seq_time_and_event)
{
	const char *path = fresh_log();
	struct audit *a = open_log(path, 0, 5);
	char *text;

	/* a caller's own seq, time or event cannot take the head's place */
	audit_log(a, "login.success", "alice", "10.0.0.1",
		  json_pack("{s:i, s:s, s:s}", "seq", 99, "time", "then", "event", "other"));
	audit_decision(a, "bob", json_pack("{s:b}", "allow", 1));
	audit_log(a, "logout", NULL, NULL, NULL);
	audit_close(a);
	text = read_all(path);
	ck_assert_msg(strncmp(text, "{\"seq\":1,\"time\":\"", 17) == 0, "%s", text);
	ck_assert_ptr_nonnull(strstr(
	    text,
	    "Z\",\"event\":\"login.success\",\"actor\":\"alice\",\"client\":\"10.0.0.1\"}\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n{\"seq\":2,"));
	ck_assert_ptr_nonnull(
	    strstr(text, "\"event\":\"authz\",\"actor\":\"bob\",\"allow\":true}\n"));
	ck_assert_ptr_nonnull(strstr(text, "\"event\":\"logout\"}\n"));
	ck_assert_ptr_null(strstr(text, "then"));
	free(text);
	/* a restart numbers on */
	a = open_log(path, 0, 5);
	audit_log(a, "logout", NULL, NULL, NULL);
	audit_close(a);
	text = read_all(path);
	ck_assert_ptr_nonnull(strstr(text, "\n{\"seq\":4,"));
	free(text);
}
END_TEST

/* The replica follows the event in every line, escaped as JSON; a caller's own cannot replace it.
 */
START_TEST(records_name_their_replica)
{
	const char *path = fresh_log();
	struct audit *a = open_log(path, 0, 5);
	char *text;

	ck_assert_int_eq(audit_set_replica(a, "db-1 \"east\""), 0);
	audit_log(a, "login.success", "alice", NULL, json_pack("{s:s}", "replica", "forged"));
	audit_decision(a, "bob", json_pack("{s:b}", "allow", 0));
	audit_log(a, "logout", NULL, NULL, NULL);
	audit_close(a);
	text = read_all(path);
	ck_assert_ptr_nonnull(strstr(text, "\"event\":\"login.success\",\"replica\":\"db-1 "
					   "\\\"east\\\"\",\"actor\":\"alice\"}\n"));
	ck_assert_ptr_nonnull(strstr(
	    text, "\"event\":\"authz\",\"replica\":\"db-1 \\\"east\\\"\",\"actor\":\"bob\","));
	ck_assert_ptr_nonnull(
	    strstr(text, "\"event\":\"logout\",\"replica\":\"db-1 \\\"east\\\"\"}\n"));
	ck_assert_ptr_null(strstr(text, "forged"));
	free(text);
}
END_TEST

START_TEST(rotation_keeps_keep_files)
{
	const char *path = fresh_log();
	struct audit *a = open_log(path, 2000, 3);
	char name[600];
	struct stat st;
	int lines = 0;

	write_records(a, 300, "test.event", "alice", 60);
	audit_close(a);
	for (int i = 0; i <= 3; i++) {
		if (i == 0)
			snprintf(name, sizeof(name), "%s", path);
		else
			snprintf(name, sizeof(name), "%s.%d", path, i);
		ck_assert_msg(stat(name, &st) == 0, "no %s", name);
		/* a file ends at the line that took it past the size */
		ck_assert_int_lt(st.st_size, 2000 + 200);
		lines += count_lines(name);
	}
	snprintf(name, sizeof(name), "%s.4", path);
	ck_assert_msg(stat(name, &st) != 0, "%s was kept", name);
	ck_assert_int_lt(lines, 300);
	{
		uint64_t *seq = calloc(MAX_GOT, sizeof(*seq));
		int n;

		a = open_log(path, 2000, 3);
		n = read_everything(a, 7, seq, MAX_GOT);
		ck_assert_int_eq(n, lines);
		expect_consecutive(seq, n, 300);
		audit_close(a);
		free(seq);
	}
}
END_TEST

/* The cursor is a seq: the files shifting under it between two pages changes nothing. */
START_TEST(a_cursor_survives_rotations_between_pages)
{
	struct audit *a = open_log(fresh_log(), 4000, 5);
	struct audit_query q = all;
	struct got *g;
	uint64_t next;

	write_records(a, 100, "test.event", "alice", 60);
	g = read_page(a, &q, 10);
	expect_consecutive(g->seq, g->n, 100);
	ck_assert_int_eq(g->next, 90);
	next = g->next;
	write_records(a, 100, "test.event", "alice", 60);
	q.start = next;
	g = read_page(a, &q, 10);
	ck_assert_int_eq(g->n, 10);
	expect_consecutive(g->seq, g->n, 90);
	ck_assert_int_eq(g->next, 80);
	audit_close(a);
}
END_TEST

/* Files much bigger than the reader's block: every cursor lands on its own record. */
START_TEST(bisection_finds_every_cursor)
{
	struct audit *a = open_log(fresh_log(), 400 << 10, 5);
	struct audit_query q = all;

	write_records(a, 6000, "test.event", "alice", 200);
	for (uint64_t c = 6000; c > 4000; c -= 37) {
		struct got *g;

		q.start = c;
		g = read_page(a, &q, 3);
		ck_assert_int_eq(g->n, 3);
		expect_consecutive(g->seq, g->n, c);
		ck_assert_int_eq(g->next, c - 3);
	}
	/* past the newest: from the newest */
	q.start = 1000000;
	ck_assert_int_eq(read_page(a, &q, 1)->seq[0], 6000);
	audit_close(a);
}
END_TEST

START_TEST(broken_lines_are_passed_over)
{
	const char *path = fresh_log();
	char *huge = malloc(AUDIT_LINE_MAX + 100);
	struct audit *a;
	struct got *g;
	FILE *f;

	ck_assert_ptr_nonnull(huge);
	write_file(path, "{\"seq\":1,\"time\":\"2026-01-01T00:00:01Z\",\"event\":\"a\"}\n"
			 "not json at all\n"
			 "{\"seq\":2,\"time\":\"2026-01-01T00:00:02Z\",\"event\":\"a\"}\n"
			 "\n");
	/* a line too long to be authd's, then one cut short by a crash */
	f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	memset(huge, 'x', AUDIT_LINE_MAX + 99);
	huge[AUDIT_LINE_MAX + 99] = '\0';
	fprintf(f, "{\"seq\":3,\"time\":\"2026-01-01T00:00:03Z\",\"event\":\"a\",\"x\":\"%s\"}\n",
		huge);
	fputs("{\"seq\":4,\"time\":\"2026-01-01T00:00:04Z\",\"event\":\"a\",\"cut", f);
	fclose(f);
	free(huge);
	a = open_log(path, 0, 5);
	audit_log(a, "b", NULL, NULL, NULL);
	g = read_page(a, &all, 10);
	ck_assert_int_eq(g->n, 3);
	ck_assert_int_eq(g->seq[0], 5);
	ck_assert_int_eq(g->seq[1], 2);
	ck_assert_int_eq(g->seq[2], 1);
	audit_close(a);
}
END_TEST

/* A number past INT64_MAX is no number authd wrote, nor one to go on from. */
START_TEST(a_seq_past_int64_is_passed_over)
{
	const char *path = fresh_log();
	struct audit *a;
	struct got *g;

	write_file(path, "{\"seq\":1,\"time\":\"2026-01-01T00:00:01Z\",\"event\":\"a\"}\n"
			 "{\"seq\":9223372036854775808,\"time\":\"2026-01-01T00:00:02Z\","
			 "\"event\":\"a\"}\n");
	a = open_log(path, 0, 5);
	audit_log(a, "b", NULL, NULL, NULL);
	g = read_page(a, &all, 10);
	ck_assert_int_eq(g->n, 2);
	ck_assert_int_eq(g->seq[0], 2);
	ck_assert_int_eq(g->seq[1], 1);
	audit_close(a);
}
END_TEST

/* Reads a page of q and asserts the seqs it holds, newest first: "6 4 2". */
static void expect_seqs(struct audit *a, const struct audit_query *q, const char *want)
{
	struct got *g = read_page(a, q, 10);
	char have[256] = "";

	for (int i = 0; i < g->n; i++)
		snprintf(have + strlen(have), sizeof(have) - strlen(have), "%s%llu", i ? " " : "",
			 (unsigned long long)g->seq[i]);
	ck_assert_str_eq(have, want);
}

START_TEST(filters_by_time_account_and_type)
{
	const char *path = fresh_log();
	struct audit_query q = all;
	struct audit *a;

	write_file(path,
		   "{\"seq\":1,\"time\":\"2026-01-01T10:00:00Z\",\"event\":\"login.success\","
		   "\"actor\":\"alice\"}\n"
		   "{\"seq\":2,\"time\":\"2026-01-01T11:00:00Z\",\"event\":\"login.failure\","
		   "\"username\":\"bob\"}\n"
		   "{\"seq\":3,\"time\":\"2026-01-01T12:00:00Z\",\"event\":\"account.create\","
		   "\"account\":\"bob\",\"actor\":\"alice\"}\n"
		   "{\"seq\":4,\"time\":\"2026-01-01T13:00:00Z\",\"event\":\"authz\","
		   "\"actor\":\"bob\",\"path\":\"/alice\"}\n"
		   "{\"seq\":5,\"time\":\"2026-01-01T14:00:00Z\",\"event\":\"accounts\","
		   "\"actor\":\"carol\",\"note\":\"\\\"alice\\\"\"}\n"
		   "{\"seq\":6,\"time\":\"2026-01-01T15:00:00Z\",\"event\":\"team.member.put\","
		   "\"actor\":\"carol\",\"org\":\"eng\",\"user\":\"bob\"}\n");
	a = open_log(path, 0, 5);
	ck_assert(parse_time("2026-01-01T11:00:00Z", &q.since) == 0);
	expect_seqs(a, &q, "6 5 4 3 2");
	ck_assert(parse_time("2026-01-01T13:00:00+01:00", &q.until) == 0);
	expect_seqs(a, &q, "3 2");

	/* the actor, the account or user acted on, a failed login's username */
	q = all;
	q.account = "bob";
	expect_seqs(a, &q, "6 4 3 2");
	q.account = "eng";
	expect_seqs(a, &q, "6");
	q.account = "alice"; /* not the path, nor a quoted note */
	expect_seqs(a, &q, "3 1");

	/* an event, or the events of a prefix ending in a dot */
	q = all;
	q.type = "account.";
	expect_seqs(a, &q, "3");
	q.type = "login.failure";
	expect_seqs(a, &q, "2");
	q.type = "login";
	expect_seqs(a, &q, "");
	q.type = "authz";
	q.account = "bob";
	ck_assert(parse_time("2026-01-01T12:30:00Z", &q.since) == 0);
	expect_seqs(a, &q, "4");
	audit_close(a);
}
END_TEST

/* logrotate's way: move the file, then SIGHUP; buffered decisions stay with the moved file. */
START_TEST(reopen_goes_on_in_a_new_file)
{
	const char *path = fresh_log();
	struct audit *a = open_log(path, 0, 5);
	char moved[600], *text;
	uint64_t seq[10];

	audit_decision(a, "alice", NULL);
	audit_decision(a, "alice", NULL);
	snprintf(moved, sizeof(moved), "%s.1", path);
	ck_assert_int_eq(rename(path, moved), 0);
	audit_decision(a, "alice", NULL);
	audit_reopen(a);
	audit_log(a, "logout", "alice", NULL, NULL);
	text = read_all(moved);
	ck_assert_int_eq(count_lines(moved), 3);
	ck_assert_ptr_nonnull(strstr(text, "{\"seq\":3,"));
	free(text);
	ck_assert_int_eq(count_lines(path), 1);
	ck_assert_int_eq(read_everything(a, 2, seq, 10), 4);
	expect_consecutive(seq, 4, 4);
	audit_close(a);
}
END_TEST

/* ---- rotation while pages are read ---- */

struct race {
	struct audit *a;
	int written;
};

static void *writer(void *arg)
{
	struct race *r = arg;

	write_records(r->a, r->written, "test.event", "alice", 100);
	return NULL;
}

START_TEST(pages_stay_whole_while_files_rotate)
{
	struct race r = {open_log(fresh_log(), 32 << 10, 3), 20000};
	pthread_t t;

	write_records(r.a, 100, "test.event", "alice", 100);
	ck_assert_int_eq(pthread_create(&t, NULL, writer, &r), 0);
	for (int round = 0; round < 200; round++) {
		struct audit_query q = all;

		for (int page = 0; page < 4; page++) {
			struct got *g = read_page(r.a, &q, 25);

			if (g->n == 0)
				break;
			if (q.start != 0)
				ck_assert_int_eq(g->seq[0], q.start);
			expect_consecutive(g->seq, g->n, g->seq[0]);
			if (g->next == 0)
				break;
			ck_assert_int_eq(g->next, g->seq[g->n - 1] - 1);
			q.start = g->next;
		}
	}
	pthread_join(t, NULL);
	audit_close(r.a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("audit");

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	log_set_level(LOG_ERROR);
	unit_case(s, "times", (const TTest *const[]){times_parse_as_rfc3339, NULL});
	unit_case(s, "writer",
		  (const TTest *const[]){records_open_with_seq_time_and_event,
					 records_name_their_replica, rotation_keeps_keep_files,
					 reopen_goes_on_in_a_new_file, NULL});
	unit_case(s, "reader",
		  (const TTest *const[]){
		      a_cursor_survives_rotations_between_pages, bisection_finds_every_cursor,
		      broken_lines_are_passed_over, a_seq_past_int64_is_passed_over,
		      filters_by_time_account_and_type, pages_stay_whole_while_files_rotate, NULL});
	return unit_run(s, dir);
}
