/*
 * Integration tests of the audit log through the real binary (SPEC §10):
 * - GET /api/audit pages newest first across a size rotation, and a
 *   rotation between two pages neither loses nor repeats a record;
 * - SIGHUP after an outside `mv` (logrotate's way) goes on in a new file;
 * - the filters (time range, account, event or prefix, replica), and the
 *   Link header that carries them; each line names the replica that wrote
 *   it, and lines from before that field are still read;
 * - bad query values are refused naming the parameter; only admins read.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api_fixtures.h"

#define AUDIT "/api/audit"
/* A decision's path this long makes an audit line of about 3 KiB. */
#define PATH_PAD 3000
/* Decisions enough for more than 1 MB of lines: one rotation at auditMaxMB 1. */
#define BURST 400
#define MAX_RECORDS 4000

static const char rotating_config[] =
    "{\"log\":{\"auditMaxMB\":1,\"auditKeep\":3},"
    "\"loginThrottle\":{\"maxFailures\":200,\"windowSeconds\":60,\"lockoutSeconds\":1}}";

/* Starts a server of this test's own; the exit hook stops it if the test fails. */
static void start_own(const char *config)
{
	srv = authd_new(config);
	ck_assert_msg(srv != NULL, "cannot make a data dir");
	ck_assert_msg(authd_start(srv, ADMIN_PW) == 0, "authd did not start; its log is above");
	admin = (char *)login_as("admin", ADMIN_PW);
}

static void stop_own(void)
{
	int status = authd_stop(srv);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "authd did not exit 0 on SIGTERM (status %d)", status);
	authd_free(srv);
}

/* n decisions for account through POST /api/authz, each an audit line of about 3 KiB. */
static void decisions(const char *account, int n)
{
	static char pad[PATH_PAD + 1];

	memset(pad, 'p', PATH_PAD);
	for (int i = 0; i < n; i++)
		expect_status(call("POST", admin,
				   jbody("{s:s, s:s, s:s}", "account", account, "method", "GET",
					 "uri", fmt("/v1.41/containers/%d%s/json", i, pad)),
				   "/api/authz"),
			      200);
}

/* A page of the audit log as admin, asserted 200 with its headers; its records. */
static json_t *audit_page(const char *query, int limit, const char **next)
{
	struct reply *r = call("GET", admin, NULL, fmt(AUDIT "?%slimit=%d", query, limit));
	json_t *records = jpath(r->json, "records");

	expect_status(r, 200);
	ck_assert_msg(json_is_array(records), "%s: no records: %s", r->what, r->body);
	*next = jstr(r->json, "nextPageStart");
	ck_assert_ptr_nonnull(*next);
	expect_page_headers(r, *next, limit);
	return records;
}

/*
 * Pages from cursor `start` ("" for the newest) to the end; the seqs in
 * seq[], each asserted one less than the one before, and how many.
 */
static int page_through(const char *start, int limit, long long *seq)
{
	const char *next = start;
	int n = 0;

	do {
		json_t *records = audit_page(*next ? fmt("start=%s&", next) : "", limit, &next);
		size_t i;
		json_t *rec;

		json_array_foreach(records, i, rec)
		{
			ck_assert_int_lt(n, MAX_RECORDS);
			seq[n] = jint(rec, "seq", -1);
			ck_assert_msg(n == 0 || seq[n] == seq[n - 1] - 1,
				      "record %d is seq %lld after seq %lld", n, seq[n],
				      seq[n - 1]);
			ck_assert_ptr_nonnull(jstr(rec, "time"));
			ck_assert_ptr_nonnull(jstr(rec, "event"));
			n++;
		}
	} while (*next);
	return n;
}

static int count_lines(const char *path)
{
	const char *text = read_text(path);
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* ---- rotation ---- */

START_TEST(test_audit_pages_across_rotation)
{
	static long long seq[MAX_RECORDS];
	const char *log, *next;
	json_t *first;
	int n, lines;

	start_own(rotating_config);
	log = fmt("%s/audit.log", srv->dir);
	create_user("ar-user");
	decisions("ar-user", BURST);
	ck_assert_msg(access(fmt("%s.1", log), F_OK) == 0, "no rotation past 1 MB");
	ck_assert_msg(access(fmt("%s.2", log), F_OK) != 0, "two rotations already");

	/* a first page, then a second rotation before the next */
	first = audit_page("", 50, &next);
	ck_assert_uint_eq(json_array_size(first), 50);
	ck_assert_str_eq(jstr(json_array_get(first, 0), "event"), "authz");
	ck_assert_str_eq(jstr(json_array_get(first, 0), "actor"), "ar-user");
	decisions("ar-user", BURST);
	ck_assert_msg(access(fmt("%s.2", log), F_OK) == 0, "no second rotation");
	n = page_through(next, 1000, seq);
	ck_assert_int_eq(seq[0], jint(json_array_get(first, 49), "seq", 0) - 1);
	/* down to the first admin's login, the log's first record */
	ck_assert_int_eq(seq[n - 1], 1);

	/* from the newest: every line of the three files, once */
	n = page_through("", 1000, seq);
	lines = count_lines(log) + count_lines(fmt("%s.1", log)) + count_lines(fmt("%s.2", log));
	ck_assert_int_eq(n, lines);
	ck_assert_int_eq(seq[0], n);
	stop_own();
}
END_TEST

/* logrotate's way: move the file aside, then SIGHUP; nothing is lost and authd goes on. */
START_TEST(test_audit_sighup_reopens)
{
	static long long seq[MAX_RECORDS];
	const char *log, *moved;
	double deadline;
	struct stat st;
	int n;

	start_own("{\"log\":{\"auditMaxMB\":0}}");
	log = fmt("%s/audit.log", srv->dir);
	moved = fmt("%s.1", log);
	create_user("hup-one");
	decisions("hup-one", 3); /* buffered: they must follow the file they were written for */
	ck_assert_int_eq(rename(log, moved), 0);
	ck_assert_int_eq(kill(srv->pid, SIGHUP), 0);
	deadline = it_now() + 10;
	while (stat(log, &st) != 0 && it_now() < deadline)
		it_sleep_ms(20);
	ck_assert_msg(stat(log, &st) == 0, "no new %s after SIGHUP", log);
	expect_alive();
	create_user("hup-two");
	ck_assert_msg(file_holds(log, "\"account\":\"hup-two\""), "the new file lacks hup-two");
	ck_assert_msg(!file_holds(log, "hup-one"), "the new file holds lines of the old one");
	ck_assert_msg(file_holds(moved, "\"event\":\"authz\""), "the decisions were lost");
	n = page_through("", 7, seq);
	ck_assert_int_eq(n, count_lines(log) + count_lines(moved));
	ck_assert_int_eq(seq[n - 1], 1);
	ck_assert_msg(file_holds(srv->log, "reopened"), "the server log does not say so");
	stop_own();
}
END_TEST

/* ---- filters and refusals, on one server ---- */

static void setup_filters(void)
{
	start_server(rotating_config, ADMIN_PW);
}

/* now + delta seconds, as RFC 3339. */
static const char *time_from_now(long delta)
{
	time_t t = time(NULL) + delta;
	char buf[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return keep(strdup(buf));
}

static bool about(json_t *rec, const char *account)
{
	static const char *const keys[] = {"actor", "account", "user", "org", "username"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = jstr(rec, keys[i]);

		if (v != NULL && strcmp(v, account) == 0)
			return true;
	}
	return false;
}

/* Every record of the answer to query, each asserted by check; how many. */
static size_t all_records(const char *query, bool (*check)(json_t *rec, const char *arg),
			  const char *arg)
{
	const char *next;
	json_t *records = audit_page(query, 1000, &next), *rec;
	size_t i;

	ck_assert_str_eq(next, "");
	json_array_foreach(records, i, rec)
	    ck_assert_msg(check(rec, arg), "%s: record %s", query, keep(json_dumps(rec, 0)));
	return json_array_size(records);
}

static bool is_event(json_t *rec, const char *event)
{
	return strcmp(jstr(rec, "event"), event) == 0;
}

static bool has_prefix(json_t *rec, const char *prefix)
{
	return strncmp(jstr(rec, "event"), prefix, strlen(prefix)) == 0;
}

static bool anything(json_t *rec, const char *arg)
{
	(void)rec;
	(void)arg;
	return true;
}

START_TEST(test_audit_filters)
{
	const char *since = time_from_now(-1), *next;
	struct reply *r;

	create_user("af-bob");
	for (int i = 0; i < 3; i++)
		expect_status(try_login("af-ghost", "Wrong-Passw0rd-A"), 401);
	login_as("af-bob", USER_PW);
	decisions("af-bob", 2);

	ck_assert_uint_eq(
	    all_records("type=login.failure&account=af-ghost&", is_event, "login.failure"), 3);
	ck_assert_uint_ge(all_records("type=account.&", has_prefix, "account."), 1);
	/* the account acted on, the actor of a login and of decisions */
	ck_assert_uint_eq(all_records("account=af-bob&", about, "af-bob"), 4);
	ck_assert_uint_eq(all_records("account=af-bob&type=authz&", is_event, "authz"), 2);
	ck_assert_uint_eq(all_records(fmt("since=%s&", escape(time_from_now(3600))), anything, ""),
			  0);
	ck_assert_uint_eq(all_records("until=2000-01-01T00:00:00Z&", anything, ""), 0);
	ck_assert_uint_eq(all_records(fmt("since=%s&until=%s&account=af-bob&", escape(since),
					  escape(time_from_now(60))),
				      anything, ""),
			  4);

	/* the next page's link keeps the filters */
	audit_page("type=login.failure&account=af-ghost&", 2, &next);
	ck_assert_str_ne(next, "");
	r = call("GET", admin, NULL, AUDIT "?type=login.failure&account=af-ghost&limit=2");
	ck_assert_ptr_nonnull(strstr(header(r, "Link"), "type=login.failure&account=af-ghost&"));
}
END_TEST

START_TEST(test_audit_refusals)
{
	static const struct {
		const char *query, *field;
	} bad[] = {
	    {"start=abc", "start"},
	    {"start=0", "start"},
	    {"start=-1", "start"},
	    {"start=123456789012345678901", "start"},
	    {"limit=0", "limit"},
	    {"limit=1001", "limit"},
	    {"since=yesterday", "since"},
	    {"since=2026-11-23", "since"},
	    {"until=2026-13-01T00:00:00Z", "until"},
	    {"since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"},
	    {"type=login%20failure", "type"},
	    {"type=%22", "type"},
	};
	const char *user;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(call("GET", admin, NULL, fmt(AUDIT "?%s", bad[i].query)), 400,
			     "INVALID_FORM", bad[i].field);
	{
		char name[120];

		memset(name, 'a', 101);
		name[101] = '\0';
		expect_error(call("GET", admin, NULL, fmt(AUDIT "?account=%s", name)), 400,
			     "INVALID_FORM", "account");
	}
	/* empty values are no filter */
	expect_status(call("GET", admin, NULL, AUDIT "?start=&since=&until=&account=&type="), 200);
	create_user("af-plain");
	user = login_as("af-plain", USER_PW);
	expect_error(call("GET", user, NULL, AUDIT), 403, "FORBIDDEN", NULL);
	expect_error(call("GET", NULL, NULL, AUDIT), 401, "UNAUTHORIZED", NULL);
}
END_TEST

/* ---- the replica that wrote each line ---- */

static bool by_replica(json_t *rec, const char *replica)
{
	const char *v = jstr(rec, "replica");

	return v != NULL && strcmp(v, replica) == 0;
}

/*
 * Each line names the replica that wrote it (replica.name), decisions too;
 * ?replica= selects one replica's lines. A line from before the field (an
 * older authd's) is still read, and matches no replica.
 */
START_TEST(test_audit_names_the_replica)
{
	static const char old_line[] =
	    "{\"seq\":1,\"time\":\"2026-01-01T00:00:00Z\",\"event\":\"login.success\","
	    "\"actor\":\"ar-elder\",\"client\":\"127.0.0.1\"}\n";
	const char *next;
	json_t *records;
	char name[120];

	srv = authd_new("{\"replica\":{\"name\":\"audit-replica\"}}");
	ck_assert_msg(srv != NULL, "cannot make a data dir");
	ck_assert_int_eq(it_write_file(fmt("%s/audit.log", srv->dir), old_line), 0);
	ck_assert_msg(authd_start(srv, ADMIN_PW) == 0, "authd did not start; its log is above");
	admin = (char *)login_as("admin", ADMIN_PW);
	create_user("ar-carol");
	login_as("ar-carol", USER_PW);
	decisions("ar-carol", 2);

	records = audit_page("", 1000, &next);
	ck_assert_uint_ge(json_array_size(records), 5);
	/* every line but the old one, newest first: the old one is the last */
	for (size_t i = 0; i + 1 < json_array_size(records); i++)
		ck_assert_msg(by_replica(json_array_get(records, i), "audit-replica"),
			      "a line without its replica: %s",
			      keep(json_dumps(json_array_get(records, i), 0)));
	ck_assert_str_eq(jstr(json_array_get(records, json_array_size(records) - 1), "actor"),
			 "ar-elder");
	ck_assert_ptr_null(jstr(json_array_get(records, json_array_size(records) - 1), "replica"));
	ck_assert_uint_eq(all_records("replica=audit-replica&", by_replica, "audit-replica"),
			  json_array_size(records) - 1);
	ck_assert_uint_eq(all_records("replica=audit-replica&type=authz&", is_event, "authz"), 2);
	ck_assert_uint_eq(all_records("replica=another-one&", anything, ""), 0);
	ck_assert_uint_eq(all_records("account=ar-elder&", about, "ar-elder"), 1);
	memset(name, 'r', 101);
	name[101] = '\0';
	expect_error(call("GET", admin, NULL, fmt(AUDIT "?replica=%s", name)), 400, "INVALID_FORM",
		     "replica");
	stop_own();
}
END_TEST

/* ---- suites ---- */

static Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *own = server_case("own-server", NULL, NULL, TEST_TIMEOUT);
	TCase *shared = server_case("filters", setup_filters, teardown_server, TEST_TIMEOUT);

	tcase_add_test(own, test_audit_pages_across_rotation);
	tcase_add_test(own, test_audit_sighup_reopens);
	tcase_add_test(own, test_audit_names_the_replica);
	tcase_add_test(shared, test_audit_filters);
	tcase_add_test(shared, test_audit_refusals);
	suite_add_tcase(s, own);
	suite_add_tcase(s, shared);
	return s;
}

int main(void)
{
	return run_api_suite(audit_suite);
}
