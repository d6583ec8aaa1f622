/*
 * Replicas: two real authd processes on one real PostgreSQL database. What
 * changes on A takes effect on B within a second (a grant, a logout, a key
 * stored and deleted, a deactivation, the LDAP settings), also after B's
 * listening connection was killed; propagation times over many changes are
 * printed (p50, p99); two authd starting at once on an empty database both
 * come up. Health: /_ping answers 503 while the sequence cannot be read or
 * PostgreSQL is stopped, past authz.maxStaleSeconds, and OK again after;
 * GET /api/cluster on either lists both with the change each applied. PostgreSQL only: without
 * AUTHD_TEST_STORE=postgres it exits 77.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "checks.h"
#include "pgcluster.h"

#define ADMIN_PW "Replica-Admin-Passw0rd"
#define USER_PW "Replica-User-Passw0rd"
#define ACCOUNTS "/enzi/v0/accounts"
#define EXIT_SKIPPED 77
#define BOUND_S 1.0 /* the bound: every change reaches every replica within it */
#define ROUNDS 50
#define TEST_TIMEOUT 240

static struct authd *a, *b;
static char *admin_b; /* the first admin's token on B (admin is A's) */
static char dsn[IT_PATH_LEN];

static const char *replica_config(const char *name)
{
	json_t *c = json_pack("{s:{s:s, s:s}, s:{s:s}, s:{s:i}}", "store", "driver", "postgres",
			      "dsn", dsn, "replica", "name", name, "authz", "maxStaleSeconds", 2);
	char *text = json_dumps(c, 0);

	json_decref(c);
	return keep(text);
}

/* secret.key is 32 raw bytes: copied as they are, with 0600 as authd makes it. */
static void copy_secret_key(const struct authd *from, const struct authd *to)
{
	size_t len = 0;
	char *key = it_read_file(fmt("%s/secret.key", from->dir), &len);
	FILE *f = fopen(fmt("%s/secret.key", to->dir), "wb");

	ck_assert_msg(key != NULL && f != NULL, "cannot copy secret.key");
	ck_assert_int_eq(fwrite(key, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(fmt("%s/secret.key", to->dir), 0600), 0);
	free(key);
}

/* A and B on one new database; B gets A's secret.key, which seals what both read. */
static void start_pair(void)
{
	setup_test();
	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	srv = a = authd_new(replica_config("replica-a"));
	b = authd_new(replica_config("replica-b"));
	ck_assert_msg(a != NULL && b != NULL, "cannot make the data dirs");
	start_srv(ADMIN_PW);
	copy_secret_key(a, b);
	ck_assert_msg(authd_start(b, ADMIN_PW) == 0, "B did not start; its log is above");
	admin_b = authd_login(b, "admin", ADMIN_PW);
	http_close();
	ck_assert_msg(admin_b != NULL, "the first admin cannot log in on B");
}

/* SIGTERM stops s with status 0: its follower ended, and nothing leaked (ASan's exit). */
static void expect_clean_stop(struct authd *s)
{
	int status = authd_stop(s);

	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	it_print_tail(s->log, "authd's log");
	ck_abort_msg("authd did not exit 0 on SIGTERM (wait status %d)", status);
}

static void stop_pair(void)
{
	expect_clean_stop(a);
	expect_clean_stop(b);
	free(admin_b);
	admin_b = NULL;
	authd_free(b);
	b = NULL;
	teardown_server();
	a = NULL;
	teardown_test();
}

static const char *make_user(const char *name)
{
	struct reply *r = call_with(a, "POST", ACCOUNTS, admin,
				    jbody("{s:s, s:s}", "name", name, "password", USER_PW), NULL);

	expect_status(r, 201);
	return jstr(r->json, "id");
}

/* B's decision on a volume's inspection (in /Shared, authz.engineCollection), by account. */
static int allowed_on_b(const char *account)
{
	struct reply *r = call_with(b, "POST", "/api/authz", admin_b,
				    jbody("{s:s, s:s, s:s}", "account", account, "method", "GET",
					  "uri", "/v1.41/volumes/v"),
				    NULL);

	expect_status(r, 200);
	return jbool(r->json, "allow");
}

/* The same by a bundle's certificate. */
static int cert_allowed_on_b(const char *pem)
{
	struct reply *r = call_with(b, "POST", "/api/authz", admin_b,
				    jbody("{s:s, s:s, s:s}", "certificate", pem, "method", "GET",
					  "uri", "/v1.41/volumes/v"),
				    NULL);

	expect_status(r, 200);
	return jbool(r->json, "allow");
}

static long status_on_b(const char *token, const char *path)
{
	return call_with(b, "GET", path, token, NULL, NULL)->status;
}

/* Seconds until check() is true on B, asked every 2 ms; fails past BOUND_S (what, said). */
#define SETTLE(what, check)                                                                        \
	({                                                                                         \
		double t0_ = it_now(), dt_;                                                        \
		while (!(check) && it_now() - t0_ <= BOUND_S)                                      \
			it_sleep_ms(2);                                                            \
		dt_ = it_now() - t0_;                                                              \
		ck_assert_msg((check), "%s: not seen on B within %.1f s", what, BOUND_S);          \
		dt_;                                                                               \
	})

static int by_value(const void *x, const void *y)
{
	double d = *(const double *)x - *(const double *)y;

	return d < 0 ? -1 : d > 0;
}

static void print_times(const char *what, double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), by_value);
	printf("propagation of %s, A to B, over %d changes: p50 %.1f ms, p99 %.1f ms, max %.1f ms "
	       "(bound %.0f ms)\n",
	       what, n, t[n / 2] * 1000, t[(n * 99) / 100] * 1000, t[n - 1] * 1000, BOUND_S * 1000);
	fflush(stdout);
}

/* A grant added on A allows on B, removed denies; ROUNDS of each, timed. */
static void grants_propagate(const char *user, const char *what)
{
	const char *id = make_user(user);
	const char *grant = fmt("/collectionGrants/%s/shared/viewonly", id);
	double t[2 * ROUNDS];

	ck_assert_int_eq(allowed_on_b(user), 0);
	for (int i = 0; i < ROUNDS; i++) {
		expect_status(call_with(a, "PUT", grant, admin, NULL, NULL), 201);
		t[2 * i] = SETTLE("a grant", allowed_on_b(user) == 1);
		expect_status(call_with(a, "DELETE", grant, admin, NULL, NULL), 204);
		t[2 * i + 1] = SETTLE("a grant's removal", allowed_on_b(user) == 0);
	}
	print_times(what, t, 2 * ROUNDS);
}

START_TEST(test_grant_reaches_b)
{
	grants_propagate("rp-grant", "grants");
}
END_TEST

START_TEST(test_logout_reaches_b)
{
	double t[ROUNDS];

	make_user("rp-logout");
	for (int i = 0; i < ROUNDS; i++) {
		char *token = authd_login(a, "rp-logout", USER_PW);

		ck_assert_msg(token != NULL, "rp-logout cannot log in on A");
		keep(token);
		/* B caches the token at its first use */
		ck_assert_int_eq(status_on_b(token, ACCOUNTS "/rp-logout"), 200);
		expect_status(call_with(a, "POST", "/auth/logout", token, NULL, NULL), 204);
		t[i] = SETTLE("a logout", status_on_b(token, ACCOUNTS "/rp-logout") == 401);
	}
	print_times("logouts", t, ROUNDS);
}
END_TEST

START_TEST(test_key_reaches_b)
{
	const char *id = make_user("rp-key");
	double added[ROUNDS / 5], deleted[ROUNDS / 5];

	expect_status(
	    call_with(a, "PUT", fmt("/collectionGrants/%s/shared/viewonly", id), admin, NULL, NULL),
	    201);
	for (int i = 0; i < ROUNDS / 5; i++) {
		struct bundle bd = fetch_bundle_at(__LINE__, a, admin, "label=rp&account=rp-key",
						   fmt("%s/bundle-%d", wd, i));
		const char *pem = bundle_file(&bd, "cert.pem");

		added[i] = SETTLE("a key stored", cert_allowed_on_b(pem) == 1);
		expect_status(
		    call_to(a, "DELETE", admin, NULL, ACCOUNTS "/rp-key/publicKeys/%s", bd.key_id),
		    204);
		deleted[i] = SETTLE("a key deleted", cert_allowed_on_b(pem) == 0);
	}
	print_times("keys stored", added, ROUNDS / 5);
	print_times("keys deleted", deleted, ROUNDS / 5);
}
END_TEST

START_TEST(test_deactivation_reaches_b)
{
	const char *token;
	double t;

	make_user("rp-deact");
	token = keep(authd_login(a, "rp-deact", USER_PW));
	ck_assert_int_eq(status_on_b(token, ACCOUNTS "/rp-deact"), 200);
	expect_status(
	    call_with(a, "PATCH", ACCOUNTS "/rp-deact", admin, jbody("{s:b}", "isActive", 0), NULL),
	    200);
	t = SETTLE("a deactivation", status_on_b(token, ACCOUNTS "/rp-deact") == 401);
	printf("propagation of a deactivation, A to B: %.1f ms\n", t * 1000);
}
END_TEST

/*
 * The LDAP backend with JIT, its directory on a port nothing listens on: an
 * unknown name's login is then the directory's failure (503), not 401.
 */
START_TEST(test_ldap_settings_reach_b)
{
	const char *settings = jbody(
	    "{s:s, s:s, s:s, s:b, s:[{s:s, s:s}]}", "serverURL",
	    fmt("ldap://127.0.0.1:%d", it_free_port()), "readerDN", "cn=reader,dc=example,dc=com",
	    "readerPassword", "Reader-Secret-1", "jitUserProvisioning", 1, "userSearchConfigs",
	    "baseDN", "ou=people,dc=example,dc=com", "filter", "(objectClass=inetOrgPerson)");
	const char *login = jbody("{s:s, s:s}", "username", "rp-nobody", "password", USER_PW);
	double t;

	expect_status(call_with(b, "POST", "/auth/login", NULL, login, NULL), 401);
	expect_status(call_with(a, "PUT", "/enzi/v0/config/auth/ldap", admin, settings, NULL), 200);
	expect_status(
	    call_with(a, "PUT", "/enzi/v0/config/auth", admin, "{\"backend\":\"ldap\"}", NULL),
	    200);
	t = SETTLE("the LDAP settings",
		   call_with(b, "POST", "/auth/login", NULL, login, NULL)->status == 503);
	printf("propagation of the LDAP settings, A to B: %.1f ms\n", t * 1000);
	/* B reads the reader password A sealed */
	ck_assert_int_eq(
	    jbool(call_with(b, "GET", "/enzi/v0/config/auth/ldap", admin_b, NULL, NULL)->json,
		  "readerPasswordSet"),
	    1);
	expect_status(
	    call_with(a, "PUT", "/enzi/v0/config/auth", admin, "{\"backend\":\"managed\"}", NULL),
	    200);
	SETTLE("the managed backend",
	       call_with(b, "POST", "/auth/login", NULL, login, NULL)->status == 401);
}
END_TEST

/* With the listening connections cut, B still converges: it listens again and polls. */
START_TEST(test_listener_killed)
{
	ck_assert_int_eq(it_pg_sql(dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
					" WHERE application_name = 'authd-listen'"),
			 0);
	grants_propagate("rp-killed", "grants after the listeners were killed");
	expect_has(read_text(b->log), "listening for changes broke", "B's log");
}
END_TEST

/*
 * A write no record names (its replica died between the write and the
 * record): the next change's seq skips the lost one's, and B reloads all it
 * caches then, finding the write.
 */
START_TEST(test_unrecorded_write_found)
{
	const char *id = make_user("rp-gap");

	expect_status(
	    call_with(a, "PUT", fmt("/collectionGrants/%s/shared/viewonly", id), admin, NULL, NULL),
	    201);
	SETTLE("a grant", allowed_on_b("rp-gap") == 1);
	ck_assert_int_eq(it_pg_sql(dsn, fmt("DELETE FROM grants WHERE subject_id = '%s'", id)), 0);
	ck_assert_int_eq(it_pg_sql(dsn, "SELECT nextval('authd_changes_seq_seq')"), 0);
	it_sleep_ms(600);
	ck_assert_msg(allowed_on_b("rp-gap") == 1, "B saw a write no change names at once");
	/* a logout rebuilds no snapshot of its own: only the resync finds the grant gone */
	expect_status(call_with(a, "POST", "/auth/logout", keep(authd_login(a, "rp-gap", USER_PW)),
				NULL, NULL),
		      204);
	SETTLE("an unrecorded write, after a skipped seq", allowed_on_b("rp-gap") == 0);
	expect_has(call_with(b, "GET", "/metrics", admin_b, NULL, NULL)->body,
		   "authd_replica_resyncs_total 1\n", "B's metrics");
}
END_TEST

/*
 * A replica that cannot read the change sequence cannot tell whether it is
 * current, although its database answers: past authz.maxStaleSeconds (2
 * here) it denies, and decides again once it reads the sequence.
 */
START_TEST(test_stale_without_the_sequence)
{
	const char *id = make_user("rp-stale");
	double t0;

	expect_status(
	    call_with(a, "PUT", fmt("/collectionGrants/%s/shared/viewonly", id), admin, NULL, NULL),
	    201);
	SETTLE("a grant", allowed_on_b("rp-stale") == 1);
	ck_assert_int_eq(it_pg_sql(dsn, "REVOKE SELECT ON authd_changes FROM authd"), 0);
	t0 = it_now();
	while (allowed_on_b("rp-stale") == 1 && it_now() - t0 < 8)
		it_sleep_ms(50);
	ck_assert_msg(allowed_on_b("rp-stale") == 0,
		      "B still allows 8 s after losing the sequence");
	/* the last poll came up to 0.5 s before the revoke; a loaded machine may make it late */
	ck_assert_msg(it_now() - t0 >= 1.0, "B denied %.1f s after losing the sequence, before 2 s",
		      it_now() - t0);
	/* and a load balancer's health check takes it out meanwhile: the store answers, though */
	expect_error(call_with(b, "GET", "/_ping", NULL, NULL, NULL), 503, "SNAPSHOT_STALE", NULL);
	ck_assert_int_eq(it_pg_sql(dsn, "GRANT SELECT ON authd_changes TO authd"), 0);
	t0 = it_now();
	while (allowed_on_b("rp-stale") == 0 && it_now() - t0 < 3)
		it_sleep_ms(20);
	ck_assert_msg(allowed_on_b("rp-stale") == 1,
		      "B does not decide again with the sequence back");
	expect_status(call_with(b, "GET", "/_ping", NULL, NULL, NULL), 200);
}
END_TEST

/* B's /_ping status, and its error code when it is not 200 ("" then for a 200). */
static long ping_b(const char **code)
{
	struct reply *r = call_with(b, "GET", "/_ping", NULL, NULL, NULL);

	*code = r->status == 200 ? "" : jstr(r->json, "errors.0.code");
	if (*code == NULL)
		*code = "(none)";
	return r->status;
}

/*
 * PostgreSQL stopped: once nothing has answered for authz.maxStaleSeconds (2
 * here), /_ping says the store is out of reach, 503 STORE_UNAVAILABLE, where
 * before it said OK; started again, OK within a few seconds.
 */
START_TEST(test_ping_without_the_store)
{
	const char *code = "";
	double t0, down;
	long status;

	ck_assert_int_eq(ping_b(&code), 200);
	t0 = it_now();
	ck_assert_int_eq(it_pg_server_stop(), 0);
	while ((status = ping_b(&code)) == 200 && it_now() - t0 < 15)
		it_sleep_ms(100);
	down = it_now() - t0;
	/* the tick finds the store gone first: 503 says the store, not the follower */
	while (status == 503 && strcmp(code, "STORE_UNAVAILABLE") != 0 && it_now() - t0 < 15) {
		it_sleep_ms(100);
		status = ping_b(&code);
	}
	/* started again before any assertion: the next tests need it */
	ck_assert_int_eq(it_pg_server_start(), 0);
	ck_assert_msg(status == 503 && strcmp(code, "STORE_UNAVAILABLE") == 0,
		      "/_ping on B answers %ld %s 15 s after PostgreSQL stopped", status, code);
	printf("/_ping on B answered 503 %.1f s after PostgreSQL was told to stop\n", down);
	t0 = it_now();
	while (ping_b(&code) != 200 && it_now() - t0 < 15)
		it_sleep_ms(100);
	ck_assert_msg(ping_b(&code) == 200, "/_ping on B still answers %s with the store back",
		      code);
	printf("/_ping on B answered 200 again %.1f s after PostgreSQL started\n", it_now() - t0);
}
END_TEST

/* The replica `name` as A's /api/cluster lists it; NULL when it is not there. */
static json_t *listed(json_t *cluster, const char *name)
{
	size_t i;
	json_t *r;

	json_array_foreach(jpath(cluster, "replicas"), i,
			   r) if (strcmp(jstr(r, "name"), name) == 0) return r;
	return NULL;
}

/* Whether the cluster lists the replica, live, having applied `seq` at least. */
static bool has_applied(json_t *cluster, const char *name, long long seq)
{
	json_t *r = listed(cluster, name);

	return r != NULL && jbool(r, "live") == 1 && jint(r, "appliedSeq", -1) >= seq;
}

/*
 * GET /api/cluster on either replica lists both, each with its version,
 * start and last sight, and the change it applied: once B's row is next
 * written (every 5 s), A's list shows that B applied A's latest change.
 */
START_TEST(test_cluster_lists_both)
{
	struct reply *r;
	long long last;
	double t0;

	make_user("rp-cluster");
	SETTLE("a new account", allowed_on_b("rp-cluster") == 0);
	last = atoll(keep(it_pg_query(dsn, "SELECT max(seq) FROM authd_changes")));
	ck_assert_int_gt(last, 0);
	t0 = it_now();
	do {
		r = call_with(a, "GET", "/api/cluster", admin, NULL, NULL);
		expect_status(r, 200);
		if (has_applied(r->json, "replica-b", last))
			break;
		it_sleep_ms(200);
	} while (it_now() - t0 < 10);
	ck_assert_msg(has_applied(r->json, "replica-b", last),
		      "A does not list B as having applied seq %lld within 10 s: %s", last,
		      r->body);
	/* A lists itself as it is now */
	ck_assert_msg(has_applied(r->json, "replica-a", last), "A's own row: %s", r->body);
	ck_assert_str_eq(jstr(r->json, "answeredBy"), "replica-a");
	ck_assert_uint_eq(json_array_size(jpath(r->json, "replicas")), 2);
	for (int i = 0; i < 2; i++) {
		json_t *one = jpath(r->json, fmt("replicas.%d", i));

		ck_assert_msg(jstr(one, "version")[0] != '\0' && jstr(one, "startedAt") != NULL &&
				  jstr(one, "lastSeen") != NULL,
			      "a replica without its version or times: %s", r->body);
	}
	r = call_with(b, "GET", "/api/cluster", admin_b, NULL, NULL);
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "answeredBy"), "replica-b");
	ck_assert_msg(has_applied(r->json, "replica-b", last), "B's own row: %s", r->body);
	ck_assert_msg(listed(r->json, "replica-a") != NULL, "B does not list A: %s", r->body);
}
END_TEST

/* B's /metrics counts A's changes and their lag. */
START_TEST(test_metrics)
{
	const char *m;

	make_user("rp-metrics");
	SETTLE("a new account", allowed_on_b("rp-metrics") == 0);
	m = call_with(b, "GET", "/metrics", admin_b, NULL, NULL)->body;
	expect_has(m, "authd_replica_change_lag_seconds_count", "B's metrics");
	expect_has(m, "authd_replica_changes_applied_total", "B's metrics");
}
END_TEST

/* Two authd starting at once on an empty database: one migrates, the other waits; both serve. */
START_TEST(test_start_together)
{
	struct authd *both[2];
	char *t1, *t2;

	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	both[0] = authd_new(replica_config("together-1"));
	both[1] = authd_new(replica_config("together-2"));
	ck_assert_msg(both[0] != NULL && both[1] != NULL, "cannot make the data dirs");
	ck_assert_int_eq(authd_start_together(both, 2, ADMIN_PW), 0);
	t1 = authd_login(both[0], "admin", ADMIN_PW);
	t2 = authd_login(both[1], "admin", ADMIN_PW);
	http_close();
	ck_assert_msg(t1 != NULL && t2 != NULL, "the first admin cannot log in on both");
	ck_assert_str_eq(keep(it_pg_query(dsn, "SELECT count(*) FROM accounts")), "1\n");
	free(t1);
	free(t2);
	expect_clean_stop(both[0]);
	expect_clean_stop(both[1]);
	authd_free(both[0]);
	authd_free(both[1]);
}
END_TEST

static Suite *replicas_suite(void)
{
	Suite *s = suite_create("replicas");
	TCase *tc = tcase_create("two replicas");
	TCase *start = tcase_create("start");

	tcase_add_checked_fixture(tc, start_pair, stop_pair);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_grant_reaches_b);
	tcase_add_test(tc, test_logout_reaches_b);
	tcase_add_test(tc, test_key_reaches_b);
	tcase_add_test(tc, test_deactivation_reaches_b);
	tcase_add_test(tc, test_ldap_settings_reach_b);
	tcase_add_test(tc, test_listener_killed);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_unrecorded_write_found);
	tcase_add_test(tc, test_stale_without_the_sequence);
	tcase_add_test(tc, test_ping_without_the_store);
	tcase_add_test(tc, test_cluster_lists_both);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(start, setup_test, teardown_test);
	tcase_set_timeout(start, TEST_TIMEOUT);
	tcase_add_test(start, test_start_together);
	suite_add_tcase(s, start);
	return s;
}

int main(void)
{
	static Suite *(*const suites[])(void) = {replicas_suite, NULL};

	if (!it_pg_wanted()) {
		printf("the replica tests need PostgreSQL: run them as integration_replicas_pg "
		       "(AUTHD_TEST_STORE=postgres)\n");
		return EXIT_SKIPPED;
	}
	return run_suites("authd-replicas", suites, NULL);
}
