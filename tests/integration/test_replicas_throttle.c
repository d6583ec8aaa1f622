/*
 * The login throttle across replicas: two real authd processes, each with
 * its own data dir, on one PostgreSQL database. Failures made through both
 * count together, a lockout set through one refuses on the other and ends
 * on both, the per-address key too, a spray of names keeps the store's
 * table within loginThrottle.maxKeys, and a store out of reach is a 503.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "pgcluster.h"

#define ADMIN_PW "Replica-Admin-Passw0rd"
#define USER_PW "Replica-User-Passw0rd"
#define WRONG_PW "Wrong-Passw0rd-R"
#define TEST_TIMEOUT 120
#define EXIT_SKIPPED 77
/* 4 failures per user, 16 per address, a 3 s lockout, at most 10 keys kept */
#define MAX_FAILURES 4
#define IP_MAX_FAILURES 16
#define MAX_KEYS 10

static const char *const users[] = {"rt-alt", "rt-one", "rt-ip", NULL};
static struct authd *b; /* the second replica; srv is the first */
static char dsn[IT_PATH_LEN];

static const char *config_json(void)
{
	static char json[IT_PATH_LEN + 256];

	snprintf(json, sizeof(json),
		 "{\"store\":{\"driver\":\"postgres\",\"dsn\":\"%s\"},"
		 "\"loginThrottle\":{\"maxFailures\":%d,\"windowSeconds\":60,"
		 "\"lockoutSeconds\":3,\"maxKeys\":%d}}",
		 dsn, MAX_FAILURES, MAX_KEYS);
	return json;
}

/* Starts a replica on the shared database (its DSN kept for store_value_of). */
static struct authd *start_replica(void)
{
	struct authd *s = authd_new(config_json());

	ck_assert_msg(s != NULL, "cannot make a data dir");
	snprintf(s->dsn, sizeof(s->dsn), "%s", dsn);
	ck_assert_msg(authd_start(s, ADMIN_PW) == 0, "authd did not start; its log is above");
	return s;
}

/* The users exist before the second replica starts, so that it reads them from the store. */
static void setup_replicas(void)
{
	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	srv = start_replica();
	admin = authd_login(srv, "admin", ADMIN_PW);
	ck_assert_msg(admin != NULL, "the first admin cannot log in");
	for (int i = 0; users[i] != NULL; i++) {
		const char *body = jbody("{s:s, s:s, s:b, s:b}", "name", users[i], "password",
					 USER_PW, "isAdmin", 0, "isActive", 1);

		expect_status(call_with(srv, "POST", "/enzi/v0/accounts", admin, body, NULL), 201);
	}
	b = start_replica();
	http_close(); /* forked tests must not share this process's connection */
}

static void teardown_replicas(void)
{
	free(admin);
	admin = NULL;
	authd_free(b);
	authd_free(srv);
	b = srv = NULL;
}

/* Each test starts with no failure counted: its counts are its own. */
static void forget_failures(void)
{
	ck_assert_int_eq(it_pg_sql(dsn, "DELETE FROM login_failures"), 0);
}

static struct reply *login(struct authd *s, const char *name, const char *password)
{
	return call_with(s, "POST", "/auth/login", NULL,
			 jbody("{s:s, s:s}", "username", name, "password", password), NULL);
}

/* Fails name's logins through the replicas in turn until a 429; how many failed before it. */
static int failures_until_locked(struct authd *const *replicas, int n)
{
	for (int i = 0; i < 3 * IP_MAX_FAILURES; i++) {
		struct reply *r = login(replicas[i % n], users[0], WRONG_PW);

		if (r->status == 429) {
			expect_error(r, 429, "TOO_MANY_REQUESTS", NULL);
			return i;
		}
		expect_error(r, 401, "UNAUTHORIZED", NULL);
	}
	ck_abort_msg("no 429 after %d failures", 3 * IP_MAX_FAILURES);
	return -1;
}

/* A login of name that must be refused 429 with a Retry-After of the lockout, at most. */
static int expect_locked(struct authd *s, const char *name, const char *password)
{
	struct reply *r = login(s, name, password);
	const char *after = header(r, "Retry-After");

	expect_error(r, 429, "TOO_MANY_REQUESTS", NULL);
	ck_assert_msg(after != NULL && atoi(after) >= 1 && atoi(after) <= 3, "Retry-After: %s",
		      after ? after : "none");
	return atoi(after);
}

static int rows(void)
{
	return atoi(store_value_of(srv, "SELECT count(*) FROM login_failures"));
}

START_TEST(failures_through_both_replicas_count_together)
{
	struct authd *one[] = {srv}, *both[] = {srv, b};
	int alone, alternated, wait;

	alone = failures_until_locked(one, 1);
	ck_assert_int_eq(alone, MAX_FAILURES);
	ck_assert_int_eq(it_pg_sql(dsn, "DELETE FROM login_failures"), 0);
	alternated = failures_until_locked(both, 2);
	ck_assert_int_eq(alternated, alone);
	/* set through one, refused on both, even with the right password */
	expect_locked(srv, users[0], USER_PW);
	wait = expect_locked(b, users[0], USER_PW);
	it_sleep_ms(wait * 1000L + 1100);
	expect_status(login(b, users[0], USER_PW), 200);
	expect_status(login(srv, users[0], USER_PW), 200);
}
END_TEST

/* A success on one replica clears the count the other sees. */
START_TEST(a_success_on_one_replica_clears_the_count_on_both)
{
	for (int i = 0; i < MAX_FAILURES - 1; i++)
		expect_error(login(i % 2 ? b : srv, users[1], WRONG_PW), 401, "UNAUTHORIZED", NULL);
	expect_status(login(srv, users[1], USER_PW), 200);
	for (int i = 0; i < MAX_FAILURES - 1; i++)
		expect_error(login(b, users[1], WRONG_PW), 401, "UNAUTHORIZED", NULL);
	expect_status(login(b, users[1], USER_PW), 200);
}
END_TEST

/*
 * Many names from one address, through both replicas: the address is locked
 * at its own limit, on both; meanwhile the tick keeps the table within
 * maxKeys (and the newest keys' second), and the address stays counted.
 */
START_TEST(an_address_spraying_names_is_locked_on_both_and_bounded)
{
	int wait;

	/* a few failures a second, so that the spray spans seconds the bound tells apart */
	for (int n = 0; n < IP_MAX_FAILURES - 1; n++) {
		expect_error(login(n % 2 ? b : srv, fmt("rt-spray-%d", n), WRONG_PW), 401,
			     "UNAUTHORIZED", NULL);
		it_sleep_ms(300);
	}
	/* 16 keys made: 15 names and the address; a tick of each replica since */
	it_sleep_ms(2200);
	ck_assert_msg(rows() < IP_MAX_FAILURES, "%d keys kept of 16 (maxKeys %d)", rows(),
		      MAX_KEYS);
	ck_assert_str_eq(store_value_of(srv, fmt("SELECT count(*) FROM login_failures WHERE"
						 " last_failure < (SELECT last_failure FROM"
						 " login_failures ORDER BY last_failure DESC"
						 " LIMIT 1 OFFSET %d)",
						 MAX_KEYS - 1)),
			 "0");
	ck_assert_str_eq(store_value_of(srv, "SELECT failures FROM login_failures"
					     " WHERE key = 'ip:127.0.0.1'"),
			 "15");
	/* the address's sixteenth failure locks it out, for every name, on both */
	expect_error(login(b, "rt-spray-last", WRONG_PW), 401, "UNAUTHORIZED", NULL);
	expect_locked(srv, users[2], USER_PW);
	wait = expect_locked(b, "admin", ADMIN_PW);
	it_sleep_ms(wait * 1000L + 1100);
	expect_status(login(srv, users[2], USER_PW), 200);
	expect_status(login(b, "admin", ADMIN_PW), 200);
}
END_TEST

/* With the store out of reach, a login is a 503 on either replica: never an uncounted try. */
START_TEST(a_login_without_the_store_is_unavailable)
{
	ck_assert_int_eq(it_pg_server_stop(), 0);
	expect_status(login(srv, users[1], WRONG_PW), 503);
	expect_status(login(b, users[1], USER_PW), 503);
	ck_assert_int_eq(it_pg_server_start(), 0);
}
END_TEST

static Suite *replicas_throttle_suite(void)
{
	Suite *s = suite_create("replicas_throttle");
	TCase *tc = server_case("throttle", setup_replicas, teardown_replicas, TEST_TIMEOUT);

	tcase_add_checked_fixture(tc, forget_failures, NULL);
	tcase_add_test(tc, failures_through_both_replicas_count_together);
	tcase_add_test(tc, a_success_on_one_replica_clears_the_count_on_both);
	tcase_add_test(tc, an_address_spraying_names_is_locked_on_both_and_bounded);
	tcase_add_test(tc, a_login_without_the_store_is_unavailable);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	static Suite *(*const suites[])(void) = {replicas_throttle_suite, NULL};

	if (!it_pg_wanted()) {
		printf("the replicas' throttle needs PostgreSQL: run it as "
		       "integration_replicas_throttle_pg (AUTHD_TEST_STORE=postgres)\n");
		return EXIT_SKIPPED;
	}
	return run_suites("authd-replicas-throttle", suites, NULL);
}
