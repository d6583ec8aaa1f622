/*
 * Integration tests of GET /metrics (SPEC §10; README, "Metrics") on the
 * real authd, each comparing the page before and after what it does:
 * - requests by method, route pattern and status, never by the path sent;
 *   requests no route serves as "other"; a latency histogram per route;
 * - failed logins by reason; decisions of POST /api/authz by outcome and
 *   operation; live sessions; the snapshot's age and rebuilds; sync jobs;
 * - the store's pool of connections on PostgreSQL, and none on SQLite;
 * - the whole page through `promtool check metrics` (Debian's prometheus),
 *   which must pass without a lint complaint. Without promtool the suite
 *   exits 77, which CTest reports as skipped.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_fixtures.h"
#include "engine.h"
#include "pgcluster.h"

/* Three failures lock a name out; the address's limit (four times that) is never reached. */
static const char metrics_config[] =
    "{\"loginThrottle\":{\"maxFailures\":3,\"windowSeconds\":60,\"lockoutSeconds\":60}}";

#define REQUESTS "authd_http_requests_total"
#define LATENCY "authd_http_request_duration_seconds"

static void setup_metrics(void)
{
	start_server(metrics_config, ADMIN_PW);
}

/* The page as admin reads it, asserted 200 in the text format. */
static const char *scrape(void)
{
	struct reply *r = call("GET", admin, NULL, "/metrics");

	expect_status(r, 200);
	expect_has(header(r, "Content-Type"), "text/plain; version=0.0.4", "the content type");
	return r->body;
}

/* The value of a series, spelled as authd writes it (name{labels}); -1 when it is absent. */
static double sample(const char *page, const char *series)
{
	const char *key = fmt("\n%s ", series);
	const char *at = strstr(page, key);

	return at ? strtod(at + strlen(key), NULL) : -1;
}

/* The same for a counter, which is 0 until something is counted. */
static double counted(const char *page, const char *series)
{
	double v = sample(page, series);

	return v < 0 ? 0 : v;
}

#define expect_grew(before, after, series, by) expect_grew_at(__LINE__, before, after, series, by)
static void expect_grew_at(int line, const char *before, const char *after, const char *series,
			   double by)
{
	double was = counted(before, series), is = counted(after, series);

	ck_assert_msg(is - was == by,
		      "line %d: %s went from %g to %g, not up by %g; page:\n%.3000s", line, series,
		      was, is, by, after);
}

static const char *route(const char *method, const char *pattern)
{
	return fmt("method=\"%s\",route=\"%s\"", method, pattern);
}

/* A histogram's series with its suffix: name_sum{labels}, or name_sum without labels. */
static const char *hist_series(const char *name, const char *suffix, const char *labels)
{
	return labels[0] ? fmt("%s%s{%s}", name, suffix, labels) : fmt("%s%s", name, suffix);
}

/*
 * A histogram: its buckets cumulative, in order, ending in +Inf, which
 * equals _count; returns _count.
 */
static double expect_histogram(const char *page, const char *name, const char *labels)
{
	const char *key = fmt("\n%s_bucket{%s%sle=\"", name, labels, labels[0] ? "," : "");
	double last = 0, count = sample(page, hist_series(name, "_count", labels));
	int buckets = 0;
	bool inf = false;

	ck_assert_msg(count >= 0, "no %s_count{%s}:\n%.3000s", name, labels, page);
	ck_assert_msg(sample(page, hist_series(name, "_sum", labels)) >= 0, "no %s_sum{%s}", name,
		      labels);
	for (const char *at = strstr(page, key); at != NULL; at = strstr(at + 1, key)) {
		const char *value = strstr(at, "} ") + 2;

		ck_assert_msg(!inf, "%s{%s} has a bucket after +Inf", name, labels);
		inf = strncmp(at + strlen(key), "+Inf\"", 5) == 0;
		ck_assert_msg(strtod(value, NULL) >= last, "%s{%s}: buckets not cumulative", name,
			      labels);
		last = strtod(value, NULL);
		buckets++;
	}
	ck_assert_msg(inf && buckets > 1, "%s{%s} has no +Inf bucket:\n%.3000s", name, labels,
		      page);
	ck_assert_msg(last == count, "%s{%s}: +Inf is %g, _count %g", name, labels, last, count);
	return count;
}

/* ---- requests ---- */

START_TEST(test_requests_by_route)
{
	const char *before = scrape(), *after;
	const char *account = route("GET", ACCOUNTS "/{}");
	double latency_before = counted(before, fmt(LATENCY "_count{%s}", account));

	create_user("mt-alice");
	expect_status(call("GET", admin, NULL, ACCOUNTS "/mt-alice"), 200);
	expect_status(call("GET", admin, NULL, ACCOUNTS "/mt-alice"), 200);
	expect_error(call("GET", admin, NULL, ACCOUNTS "/mt-nobody"), 404, "NOT_FOUND", NULL);
	expect_error(call("GET", admin, NULL, "/mt-no/such/path"), 404, "NOT_FOUND", NULL);
	expect_error(call("DELETE", admin, NULL, "/_ping"), 405, "METHOD_NOT_ALLOWED", NULL);
	after = scrape();

	expect_grew(before, after, fmt(REQUESTS "{%s,code=\"200\"}", account), 2);
	expect_grew(before, after, fmt(REQUESTS "{%s,code=\"404\"}", account), 1);
	expect_grew(before, after, fmt(REQUESTS "{%s,code=\"201\"}", route("POST", ACCOUNTS)), 1);
	/* the scrape before this one is counted by the time of the next */
	expect_grew(before, after, fmt(REQUESTS "{%s,code=\"200\"}", route("GET", "/metrics")), 1);
	expect_grew(before, after, REQUESTS "{method=\"other\",route=\"other\",code=\"404\"}", 1);
	expect_grew(before, after, REQUESTS "{method=\"other\",route=\"other\",code=\"405\"}", 1);
	ck_assert(expect_histogram(after, LATENCY, account) == latency_before + 3);
	expect_histogram(after, LATENCY, "method=\"other\",route=\"other\"");
	/* labels are the table's patterns: nothing a client sent */
	expect_lacks(after, "mt-alice", "/metrics");
	expect_lacks(after, "mt-nobody", "/metrics");
	expect_lacks(after, "/mt-no/such/path", "/metrics");
	ck_assert(sample(after, "authd_http_requests_in_flight") >= 1);
}
END_TEST

/* ---- logins ---- */

#define FAILURES(reason) "authd_login_failures_total{reason=\"" reason "\"}"

START_TEST(test_login_failures_by_reason)
{
	const char *before = scrape(), *after;

	create_user("mt-bob");
	login_as("mt-bob", USER_PW);
	for (int i = 0; i < 3; i++)
		expect_error(try_login("mt-bob", "Wrong-Passw0rd"), 401, "UNAUTHORIZED", NULL);
	/* locked out now, even with the right password */
	expect_error(try_login("mt-bob", USER_PW), 429, "TOO_MANY_REQUESTS", NULL);
	expect_error(try_login("mt-nobody", "Wrong-Passw0rd"), 401, "UNAUTHORIZED", NULL);
	expect_error(try_login("mt-bob", "   "), 400, "INVALID_FORM", "password");
	expect_error(try_login("", USER_PW), 400, "INVALID_FORM", "username");
	after = scrape();

	expect_grew(before, after, FAILURES("bad_credentials"), 4);
	expect_grew(before, after, FAILURES("throttled"), 1);
	expect_grew(before, after, FAILURES("blank_password"), 1);
	expect_grew(before, after, FAILURES("blank_username"), 1);
	expect_grew(before, after, FAILURES("ldap_error"), 0);
	expect_grew(before, after, FAILURES("store_error"), 0);
	/* every reason is there from the start, 0 or not */
	ck_assert(sample(before, FAILURES("ldap_error")) >= 0);
	expect_grew(before, after, fmt(REQUESTS "{%s,code=\"200\"}", route("POST", "/auth/login")),
		    1);
	expect_grew(before, after, fmt(REQUESTS "{%s,code=\"401\"}", route("POST", "/auth/login")),
		    4);
	expect_grew(before, after, fmt(REQUESTS "{%s,code=\"429\"}", route("POST", "/auth/login")),
		    1);
	expect_grew(before, after, fmt(REQUESTS "{%s,code=\"400\"}", route("POST", "/auth/login")),
		    2);
}
END_TEST

/* ---- decisions ---- */

/* POST /api/authz for the account; the answer's series, e.g. {outcome="allow",operation="..."}. */
static const char *decide(const char *account, const char *method, const char *uri)
{
	struct reply *r =
	    call("POST", admin,
		 jbody("{s:s, s:s, s:s}", "account", account, "method", method, "uri", uri),
		 "/api/authz");
	const char *op = jstr(r->json, "operation");

	expect_status(r, 200);
	ck_assert_msg(op != NULL, "no operation in %s", r->body);
	return fmt("authd_authz_decisions_total{outcome=\"%s\",operation=\"%s\"}",
		   jbool(r->json, "allow") == 1 ? "allow" : "deny", op[0] ? op : "other");
}

START_TEST(test_decisions_by_outcome_and_operation)
{
	const char *before, *after, *list, *create, *unknown;

	create_user("mt-carol");
	before = scrape();
	list = decide("mt-carol", "GET", "/v1.41/volumes");
	create = decide("mt-carol", "POST", "/v1.41/volumes/create");
	decide("mt-carol", "GET", "/v1.41/volumes");
	unknown = decide("mt-carol", "GET", "/v1.41/mt-frobnicate");
	after = scrape();

	expect_has(list, "operation=\"Volume", "the list's series");
	ck_assert_msg(strcmp(list, create) != 0, "%s counted like the list", create);
	expect_grew(before, after, list, 2);
	expect_grew(before, after, create, 1);
	ck_assert_str_eq(unknown,
			 "authd_authz_decisions_total{outcome=\"deny\",operation=\"other\"}");
	expect_grew(before, after, unknown, 1);
	expect_lacks(after, "mt-frobnicate", "/metrics");
	expect_lacks(after, "mt-carol", "/metrics");
}
END_TEST

/* ---- sessions, the snapshot, jobs ---- */

START_TEST(test_sessions_live)
{
	double was, tokens;
	const char *first;

	create_user("mt-dave");
	was = sample(scrape(), "authd_sessions_live");
	ck_assert_msg(was >= 1, "the admin's session is not counted: %g", was);
	first = login_as("mt-dave", USER_PW);
	login_as("mt-dave", USER_PW);
	tokens = sample(scrape(), "authd_sessions_live");
	ck_assert_msg(tokens == was + 2, "two logins took authd_sessions_live from %g to %g", was,
		      tokens);
	expect_status(call("POST", first, NULL, "/auth/logout"), 204);
	ck_assert(sample(scrape(), "authd_sessions_live") == was + 1);
}
END_TEST

START_TEST(test_snapshot_age_and_rebuilds)
{
	const char *before = scrape(), *after;
	double age = sample(before, "authd_authz_snapshot_age_seconds");

	ck_assert_msg(age >= 0, "no snapshot age:\n%.3000s", before);
	it_sleep_ms(1100);
	ck_assert(sample(scrape(), "authd_authz_snapshot_age_seconds") >= age + 1);
	create_user("mt-erin"); /* a new account: the snapshot is built again */
	after = scrape();
	ck_assert_msg(sample(after, "authd_authz_snapshot_age_seconds") < 1,
		      "the snapshot was not rebuilt:\n%.3000s", after);
	expect_grew(before, after, "authd_authz_snapshot_rebuilds_total{outcome=\"done\"}", 1);
	expect_grew(before, after, "authd_authz_snapshot_rebuilds_total{outcome=\"failed\"}", 0);
	ck_assert(sample(after, "authd_authz_snapshot_rebuild_seconds") > 0);
}
END_TEST

START_TEST(test_sync_jobs)
{
	const char *before = scrape(), *after, *id, *status = "waiting";
	struct reply *r = call("POST", admin, "{\"action\":\"ldap-sync\"}", "/enzi/v0/jobs");
	double deadline = it_now() + 30;

	expect_status(r, 202);
	id = keep(strdup(jstr(r->json, "id")));
	/* LDAP is not set up: the job errors at once */
	while ((strcmp(status, "waiting") == 0 || strcmp(status, "running") == 0) &&
	       it_now() < deadline) {
		it_sleep_ms(100);
		r = call_to(srv, "GET", admin, NULL, "/enzi/v0/jobs/%s", id);
		status = jstr(r->json, "status");
		ck_assert_ptr_nonnull(status);
	}
	ck_assert_str_eq(status, "errored");
	after = scrape();
	expect_grew(before, after, "authd_sync_jobs_total{outcome=\"errored\"}", 1);
	expect_grew(before, after, "authd_sync_jobs_total{outcome=\"done\"}", 0);
	ck_assert(expect_histogram(after, "authd_sync_job_seconds", "") ==
		  expect_histogram(before, "authd_sync_job_seconds", "") + 1);
}
END_TEST

/* ---- the page as a whole ---- */

/* The family a sample line belongs to: its name, less a histogram's suffix. */
static const char *family_of(const char *line, const char *page)
{
	size_t n = strcspn(line, "{ ");
	const char *name = fmt("%.*s", (int)n, line);
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t k = strlen(suffixes[i]);
		const char *base;

		if (n <= k || strcmp(name + n - k, suffixes[i]) != 0)
			continue;
		base = fmt("%.*s", (int)(n - k), name);
		if (strstr(page, fmt("# TYPE %s histogram\n", base)) != NULL)
			return base;
	}
	return name;
}

/*
 * The store's pool, on PostgreSQL: its connections by state (some open,
 * fewer in use than open, none above the maximum) and its waits. SQLite has
 * a connection per thread and no pool: no such family.
 */
static void expect_store_pool(const char *page)
{
	static const char *const families[] = {
	    "authd_store_pool_connections gauge",
	    "authd_store_pool_max_connections gauge",
	    "authd_store_pool_waiting gauge",
	    "authd_store_pool_waits_total counter",
	    "authd_store_pool_wait_seconds_total counter",
	};
	double idle = sample(page, "authd_store_pool_connections{state=\"idle\"}");
	double busy = sample(page, "authd_store_pool_connections{state=\"in_use\"}");

	if (!it_pg_wanted()) {
		ck_assert_msg(strstr(page, "authd_store_pool") == NULL,
			      "a store pool on SQLite:\n%.3000s", page);
		return;
	}
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		expect_has(page, fmt("\n# TYPE %s\n", families[i]), "/metrics");
	/* the requests before this one opened a connection at least, and gave it back or not */
	ck_assert_msg(busy >= 0 && idle >= 0 && idle + busy >= 1 &&
			  idle + busy <= sample(page, "authd_store_pool_max_connections"),
		      "the pool's connections: %g idle, %g in use:\n%.3000s", idle, busy, page);
	ck_assert_msg(sample(page, "authd_store_pool_waiting") >= 0 &&
			  sample(page, "authd_store_pool_waits_total") >= 0 &&
			  sample(page, "authd_store_pool_wait_seconds_total") >= 0,
		      "the pool's waits:\n%.3000s", page);
}

START_TEST(test_promtool_checks_the_page)
{
	static const char *const families[] = {
	    "authd_http_requests_total counter",
	    "authd_http_request_duration_seconds histogram",
	    "authd_http_requests_in_flight gauge",
	    "authd_authz_decisions_total counter",
	    "authd_authz_snapshot_age_seconds gauge",
	    "authd_authz_snapshot_rebuild_seconds gauge",
	    "authd_authz_snapshot_rebuilds_total counter",
	    "authd_login_failures_total counter",
	    "authd_sessions_live gauge",
	    "authd_sync_jobs_total counter",
	    "authd_sync_job_seconds histogram",
	    "authd_ldap_pool_connections gauge",
	    "authd_ldap_pool_takes_total counter",
	    "authd_ldap_pool_dead_total counter",
	};
	const char *page, *path = fmt("%s/metrics.txt", wd);
	struct ran check;

	/* a bit of everything first, so that every kind of series is on the page */
	expect_error(call("GET", admin, NULL, "/mt-nowhere"), 404, "NOT_FOUND", NULL);
	expect_error(try_login("mt-nobody", ""), 400, "INVALID_FORM", "password");
	decide("admin", "GET", "/v1.41/containers/json");
	page = scrape();
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		size_t n = strcspn(families[i], " ");

		expect_has(page, fmt("\n# TYPE %s\n", families[i]), "/metrics");
		expect_has(page, fmt("# HELP %.*s ", (int)n, families[i]), "/metrics");
	}
	/* and every sample belongs to a family that has them */
	for (const char *line = page; *line != '\0'; line += strcspn(line, "\n") + 1) {
		const char *family;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		family = family_of(line, page);
		expect_has(page, fmt("# HELP %s ", family), "/metrics");
		expect_has(page, fmt("# TYPE %s ", family), "/metrics");
	}
	expect_store_pool(page);
	ck_assert_int_eq(it_write_file(path, page), 0);
	check = sh(NULL, "promtool check metrics < %s", path);
	expect_ran(check, 0);
	ck_assert_msg(chomp(check.out)[0] == '\0', "promtool complained:\n%.3000s", check.out);
}
END_TEST

START_TEST(test_admins_only)
{
	create_user("mt-frank");
	expect_error(call("GET", login_as("mt-frank", USER_PW), NULL, "/metrics"), 403, "FORBIDDEN",
		     NULL);
	expect_error(call("GET", NULL, NULL, "/metrics"), 401, "UNAUTHORIZED", NULL);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = server_case("metrics", setup_metrics, teardown_server, TEST_TIMEOUT);

	tcase_add_test(tc, test_requests_by_route);
	tcase_add_test(tc, test_login_failures_by_reason);
	tcase_add_test(tc, test_decisions_by_outcome_and_operation);
	tcase_add_test(tc, test_sessions_live);
	tcase_add_test(tc, test_snapshot_age_and_rebuilds);
	tcase_add_test(tc, test_sync_jobs);
	tcase_add_test(tc, test_promtool_checks_the_page);
	tcase_add_test(tc, test_admins_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	static Suite *(*const suites[])(void) = {metrics_suite, NULL};
	char promtool[IT_PATH_LEN];

	if (!cmd_find("promtool", promtool, sizeof(promtool))) {
		printf("promtool is not in %s (Debian's prometheus package; "
		       "scripts/install-deps.sh --test installs it): skipped\n",
		       CMD_PATH);
		return 77;
	}
	return run_suites("authd-metrics", suites, NULL);
}
