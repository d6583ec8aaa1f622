/*
 * `authd store-copy` against the real binary and a real PostgreSQL cluster:
 * a SQLite store filled through the API (accounts, orgs, teams, members,
 * roles, collections, grants, keys, sessions, LDAP settings with a sealed
 * reader password, member-sync configs, a job) is copied to PostgreSQL and
 * then into a new SQLite store, and every API listing is the same on each;
 * and the refusals: a target that is not empty, a source in use (on either
 * driver), another schema version, the same store twice, a missing or
 * broken config, and a DSN's password in no output; and a copy whose
 * checksums differ, which leaves the target as it was. The replicas' own
 * rows (authd_replicas) are runtime state, and are not copied.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checks.h"
#include "pgcluster.h"

#define ADMIN_PW "Copy-Admin-Passw0rd"
#define USER_PW "Copy-User-Passw0rd"
#define READER_PW "Copy-Reader-Secret-7"
#define A "/enzi/v0/accounts"
#define TEST_TIMEOUT 240
#define EXIT_SKIPPED 77
#define SQLITE_CONFIG "{\"store\":{\"driver\":\"sqlite\"}}"

/* What the round trip checks on each store: a user's session, and the ids it made. */
static struct {
	char user_token[256];
	char team_id[64], role_id[64], coll_id[64], sub_id[64];
} fx;

static struct reply *ok(struct authd *s, const char *method, const char *body, long status,
			const char *path)
{
	struct reply *r = call_with(s, method, path, admin, body, NULL);

	expect_status(r, status);
	return r;
}

static const char *id_of(struct reply *r)
{
	const char *id = jstr(r->json, "id");

	ck_assert_msg(id != NULL, "%s: no id in %s", r->what, r->body);
	return id;
}

static void wait_jobs_ended(struct authd *s)
{
	for (double deadline = it_now() + 30; it_now() < deadline; it_sleep_ms(100)) {
		const char *body = ok(s, "GET", NULL, 200, "/enzi/v0/jobs")->body;

		if (strstr(body, "\"waiting\"") == NULL && strstr(body, "\"running\"") == NULL)
			return;
	}
	ck_abort_msg("a job has not ended within 30 s");
}

/* Everything the API can hold, through the API. */
static void fill(struct authd *s)
{
	const char *users[] = {"sc-alice", "sc-bob", "sc-carol"};
	const char *user_token;

	for (int i = 0; i < 3; i++)
		ok(s, "POST",
		   jbody("{s:s, s:s, s:b}", "name", users[i], "password", USER_PW, "isActive",
			 i != 2),
		   201, A);
	ok(s, "POST", "{\"name\":\"sc-org\",\"isOrg\":true}", 201, A);
	snprintf(fx.team_id, sizeof(fx.team_id), "%s",
		 id_of(ok(s, "POST", "{\"name\":\"sc-dev\",\"description\":\"développeurs\"}", 201,
			  A "/sc-org/teams")));
	ok(s, "POST", "{\"name\":\"sc-ops\"}", 201, A "/sc-org/teams");
	ok(s, "PUT", "{\"isAdmin\":true}", 200, A "/sc-org/teams/sc-dev/members/sc-alice");
	ok(s, "PUT", "{\"isAdmin\":false}", 200, A "/sc-org/teams/sc-ops/members/sc-bob");
	ok(s, "PUT", "{\"isAdmin\":true}", 200, A "/sc-org/members/sc-bob");
	ok(s, "PUT", "{\"enableSync\":true,\"groupDN\":\"cn=devs,ou=groups,dc=example,dc=com\"}",
	   200, A "/sc-org/teams/sc-dev/memberSyncConfig");
	ok(s, "PUT", "{\"enableSync\":true,\"groupDN\":\"cn=admins,ou=groups,dc=example,dc=com\"}",
	   200, A "/sc-org/adminMemberSyncConfig");
	snprintf(fx.role_id, sizeof(fx.role_id), "%s",
		 id_of(ok(s, "POST",
			  "{\"name\":\"sc-role\",\"operations\":{\"Volume\":{\"Volume View\":[]}}}",
			  201, "/roles")));
	snprintf(fx.coll_id, sizeof(fx.coll_id), "%s",
		 id_of(ok(s, "POST", "{\"name\":\"sc-coll\",\"parent_id\":\"shared\"}", 201,
			  "/collections")));
	/* a child: its parent's row may sort after it, which the copy must not mind */
	snprintf(fx.sub_id, sizeof(fx.sub_id), "%s",
		 id_of(ok(s, "POST", jbody("{s:s, s:s}", "name", "sc-sub", "parent_id", fx.coll_id),
			  201, "/collections")));
	ok(s, "PUT", NULL, 201,
	   fmt("/collectionGrants/%s/%s/%s", fx.team_id, fx.coll_id, fx.role_id));
	ok(s, "PUT", NULL, 201,
	   fmt("/collectionGrants/%s/%s/viewonly",
	       jstr(ok(s, "GET", NULL, 200, A "/sc-bob")->json, "id"), fx.sub_id));
	ok(s, "PUT",
	   jbody("{s:s, s:i, s:s, s:s, s:[{s:s, s:s}]}", "serverURL", "ldap://127.0.0.1:1",
		 "timeoutSeconds", 2, "readerDN", "cn=reader,dc=example,dc=com", "readerPassword",
		 READER_PW, "userSearchConfigs", "baseDN", "ou=people,dc=example,dc=com",
		 "usernameAttr", "uid"),
	   200, "/enzi/v0/config/auth/ldap");
	ok(s, "POST", "{\"action\":\"ldap-sync\",\"dryRun\":true}", 202, "/enzi/v0/jobs");
	wait_jobs_ended(s);
	user_token = authd_login(s, "sc-alice", USER_PW);
	ck_assert_msg(user_token != NULL, "sc-alice cannot log in");
	snprintf(fx.user_token, sizeof(fx.user_token), "%s", user_token);
	free((char *)user_token);
	/* a client bundle registers a key of alice's */
	expect_status(
	    call_with(s, "GET", "/api/clientbundle?label=sc-laptop", fx.user_token, NULL, NULL),
	    200);
}

/*
 * Every listing the API gives of what fill made, as one text. The LDAP
 * settings' answer needs the reader password unsealed: with the moved
 * secret.key it is, and the stored seal was copied as it was.
 */
static const char *listings(struct authd *s)
{
	const char *paths[] = {A "?limit=1000",
			       A "/sc-alice",
			       A "/sc-carol",
			       A "/sc-alice/organizations",
			       A "/sc-bob/organizations",
			       A "/sc-org/members",
			       A "/sc-org/teams",
			       A "/sc-org/teams/sc-dev/members",
			       A "/sc-org/teams/sc-ops/members",
			       A "/sc-org/teams/sc-dev/memberSyncConfig",
			       A "/sc-org/adminMemberSyncConfig",
			       A "/sc-alice/publicKeys",
			       "/roles",
			       "/collections?limit=1000",
			       "/collectionGrants?limit=1000",
			       "/enzi/v0/config/auth",
			       "/enzi/v0/config/auth/ldap",
			       "/enzi/v0/jobs"};
	const char *all = "";
	size_t i;
	json_t *job;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		all = fmt("%s\n%s: %s", all, paths[i], ok(s, "GET", NULL, 200, paths[i])->body);
	/* and each job's log, which is in the store */
	json_array_foreach(jpath(ok(s, "GET", NULL, 200, "/enzi/v0/jobs")->json, "jobs"), i, job)
	{
		const char *log =
		    ok(s, "GET", NULL, 200, fmt("/enzi/v0/jobs/%s/logs", jstr(job, "id")))->body;

		ck_assert_msg(strstr(log, "ldap-sync (dry run) on replica ") != NULL,
			      "a job log without its first line: %s", log);
		all = fmt("%s\nlog of %s: %s", all, jstr(job, "id"), log);
	}
	return all;
}

/* A config file for store-copy naming s's data dir and store; its path. */
static const char *copy_config(const char *name, struct authd *s, const char *store_json)
{
	const char *path = fmt("%s/%s.json", wd, name);

	ck_assert_int_eq(
	    it_write_file(path, fmt("{\"dataDir\":\"%s\"%s%s}", s->dir,
				    store_json ? ",\"store\":" : "", store_json ? store_json : "")),
	    0);
	return path;
}

/* A postgres store section whose DSN is in a dsnFile of mode 0600. */
static const char *pg_store(const char *dsn)
{
	const char *file = fmt("%s/dsn-%d", wd, ++nfiles);

	ck_assert_int_eq(it_write_file(file, dsn), 0);
	ck_assert_int_eq(chmod(file, 0600), 0);
	return fmt("{\"driver\":\"postgres\",\"dsnFile\":\"%s\"}", file);
}

/* The password of a DSN of the tests' cluster ("... password=HEX"). */
static const char *password_of(const char *dsn)
{
	const char *p = strstr(dsn, "password=");

	ck_assert_ptr_nonnull(p);
	return fmt("%.*s", (int)strcspn(p + 9, " "), p + 9);
}

static struct ran copy(const char *from, const char *to)
{
	return sh(NULL, "%s store-copy --from '%s' --to '%s' 2>&1", AUTHD_BIN, from, to);
}

/* What is not in the store goes by hand, as the command's last line says (the job logs are in
 * the store). */
static void move_files(struct authd *from, struct authd *to)
{
	expect_ran(sh(NULL, "cp -a '%s'/secret.key '%s'/ca '%s'/tls '%s'/", from->dir, from->dir,
		      from->dir, to->dir),
		   0);
}

static void expect_copied(struct ran r, const char *from_driver, const char *to_driver)
{
	expect_ran(r, 0);
	expect_has(r.out, fmt("from %s to %s; counts and checksums match", from_driver, to_driver),
		   "the copy's summary");
	expect_has(r.out, "collections", "the per-table lines");
	expect_has(r.out, "job_logs", "the per-table lines");
	expect_lacks(r.out, "MISMATCH", "the per-table lines");
	expect_has(r.out, "secret.key", "what the operator copies by hand");
}

/* The store after a copy: the same listings, alice's session, and new writes that take new ids. */
static void expect_same(struct authd *s, const char *before)
{
	ck_assert_str_eq(listings(s), before);
	expect_status(call_with(s, "GET", A "/sc-alice", fx.user_token, NULL, NULL), 200);
	/* new rows take ids after the copied ones (on PostgreSQL, the jobs' identity counter) */
	ok(s, "POST", "{\"action\":\"ldap-sync\",\"dryRun\":true}", 202, "/enzi/v0/jobs");
	wait_jobs_ended(s);
	ok(s, "POST", jbody("{s:s, s:s}", "name", fmt("sc-new-%d", ++nfiles), "password", USER_PW),
	   201, A);
	ok(s, "POST",
	   jbody("{s:s, s:s}", "name", fmt("sc-later-%d", ++nfiles), "parent_id", "shared"), 201,
	   "/collections");
}

START_TEST(test_round_trip)
{
	struct authd *lite, *pg, *back;
	char dsn[IT_PATH_LEN];
	const char *before, *from, *to;
	struct ran r;
	char *token;

	lite = srv = authd_new(SQLITE_CONFIG);
	ck_assert_ptr_nonnull(srv);
	start_srv(ADMIN_PW);
	fill(lite);
	before = listings(lite);
	ck_assert_int_eq(authd_stop(lite), 0);

	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	pg = authd_new(fmt("{\"store\":%s}", pg_store(dsn)));
	ck_assert_ptr_nonnull(pg);
	from = copy_config("from-sqlite", lite, NULL);
	to = copy_config("to-postgres", pg, pg_store(dsn));
	r = copy(from, to);
	expect_copied(r, "sqlite", "postgres");
	expect_lacks(r.out, password_of(dsn), "the output");
	/* the source's authd wrote its row among the replicas: runtime state, not copied */
	expect_has(r.out, "authd_replicas", "the per-table lines");
	expect_has(r.out, "not copied", "the per-table lines");
	ck_assert_str_eq(keep(it_pg_query(dsn, "SELECT count(*) FROM authd_replicas")), "0\n");
	move_files(lite, pg);
	ck_assert_int_eq(authd_start(pg, NULL), 0);
	token = authd_login(pg, "admin", ADMIN_PW);
	ck_assert_ptr_nonnull(token);
	free(admin);
	admin = token;
	expect_same(pg, before);
	/* the second copy starts from what PostgreSQL holds now, new rows included */
	before = listings(pg);
	ck_assert_int_eq(authd_stop(pg), 0);

	back = authd_new(SQLITE_CONFIG);
	ck_assert_ptr_nonnull(back);
	r = copy(to, copy_config("to-sqlite", back, NULL));
	expect_copied(r, "postgres", "sqlite");
	move_files(pg, back);
	ck_assert_int_eq(authd_start(back, NULL), 0);
	expect_same(back, before);
	ck_assert_int_eq(authd_stop(back), 0);
	authd_free(pg);
	authd_free(back);
	teardown_server();
}
END_TEST

START_TEST(test_refusals)
{
	struct authd *lite, *pg, *fresh;
	char dsn[IT_PATH_LEN], empty[IT_PATH_LEN];
	const char *from, *to, *full, *wrong;
	struct ran r;

	lite = srv = authd_new(SQLITE_CONFIG);
	ck_assert_ptr_nonnull(srv);
	start_srv(ADMIN_PW);
	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	ck_assert_int_eq(it_pg_database(empty, sizeof(empty)), 0);
	pg = authd_new(fmt("{\"store\":%s}", pg_store(dsn)));
	ck_assert_ptr_nonnull(pg);
	from = copy_config("from", lite, NULL);
	to = copy_config("to-empty", pg, pg_store(empty));

	/* in use: the running authd holds it */
	r = copy(from, to);
	expect_ran(r, 1);
	expect_has(r.out, "another process has the sqlite store open", "the refusal");
	ck_assert_int_eq(authd_stop(lite), 0);

	/* a target that an authd has run on, so not empty; while it runs, a source in use */
	ck_assert_int_eq(authd_start(pg, NULL), 0);
	full = copy_config("to-full", pg, pg_store(dsn));
	fresh = authd_new(SQLITE_CONFIG);
	ck_assert_ptr_nonnull(fresh);
	r = copy(full, copy_config("to-sqlite", fresh, NULL));
	expect_ran(r, 1);
	expect_has(r.out, "another process has the postgres store open", "the refusal");
	ck_assert_int_eq(authd_stop(pg), 0);
	r = copy(from, full);
	expect_ran(r, 1);
	expect_has(r.out, "--to: the postgres store is not empty", "the refusal");
	expect_lacks(r.out, password_of(dsn), "the refusal");

	/* the same store twice, and a move within one driver */
	r = copy(from, from);
	expect_ran(r, 1);
	expect_has(r.out, "name the same store", "the refusal");
	r = copy(from, copy_config("to-sqlite", fresh, NULL));
	expect_ran(r, 1);
	expect_has(r.out, "both sides use the sqlite driver", "the refusal");

	/* missing and broken configs */
	r = copy(fmt("%s/nowhere.json", wd), to);
	expect_ran(r, 2);
	expect_has(r.out, "--from: ", "the refusal");
	ck_assert_int_eq(it_write_file(fmt("%s/broken.json", wd), "{\"store\":{\"driver\":\"x\"}}"),
			 0);
	r = copy(from, fmt("%s/broken.json", wd));
	expect_ran(r, 2);
	expect_has(r.out, "--to: ", "the refusal");
	r = sh(NULL, "%s store-copy --from '%s' 2>&1", AUTHD_BIN, from);
	expect_ran(r, 2);
	expect_has(r.out, "--to CONFIG is missing", "the refusal");

	/* a wrong password: libpq's refusal, without it */
	wrong = copy_config("to-wrong", pg,
			    pg_store(fmt("%.*spassword=Wr0ng-Secret-42",
					 (int)(strstr(empty, "password=") - empty), empty)));
	r = copy(from, wrong);
	expect_ran(r, 1);
	expect_has(r.out, "password authentication failed", "the refusal");
	expect_lacks(r.out, "Wr0ng-Secret-42", "the refusal");

	/* another schema version, older or newer: nothing is read or written */
	for (int v = 0; v < 2; v++) {
		expect_ran(sh(NULL, "sqlite3 '%s/authd.db' 'PRAGMA user_version=%d'", lite->dir,
			      v ? 99 : 7),
			   0);
		r = copy(from, to);
		expect_ran(r, 1);
		expect_has(r.out, v ? "newer than this authd's" : "run this authd once on it",
			   "the refusal");
	}
	ck_assert_str_eq(
	    chomp(sh(NULL, "sqlite3 '%s/authd.db' 'PRAGMA user_version'", lite->dir).out), "99");
	/* nothing was written to either PostgreSQL database */
	memcpy(pg->dsn, dsn, sizeof(pg->dsn));
	ck_assert_str_eq(store_value_of(pg, "SELECT count(*) FROM accounts"), "1");
	memcpy(pg->dsn, empty, sizeof(pg->dsn));
	ck_assert_str_eq(store_value_of(pg, "SELECT count(*) FROM pg_tables WHERE schemaname ="
					    " current_schema()"),
			 "0");
	authd_free(pg);
	authd_free(fresh);
	teardown_server();
}
END_TEST

/*
 * A text that is not UTF-8, which SQLite keeps and PostgreSQL cannot: the
 * checksums differ, nothing is written, and the database takes a second try.
 */
START_TEST(test_mismatch_writes_nothing)
{
	char dsn[IT_PATH_LEN];
	const char *from, *to, *tables;
	struct ran r;

	srv = authd_new(SQLITE_CONFIG);
	ck_assert_ptr_nonnull(srv);
	start_srv(ADMIN_PW);
	ck_assert_int_eq(authd_stop(srv), 0);
	expect_ran(
	    sh(NULL,
	       "sqlite3 '%s/authd.db' \"UPDATE accounts SET full_name = CAST(X'C328' AS TEXT)"
	       " WHERE name = 'admin'\"",
	       srv->dir),
	    0);
	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	from = copy_config("from", srv, NULL);
	to = copy_config("to", srv, pg_store(dsn));
	r = copy(from, to);
	expect_ran(r, 1);
	expect_has(r.out, "accounts", "the per-table lines");
	expect_has(r.out, "MISMATCH", "the per-table lines");
	expect_has(r.out, "nothing was written", "the message");
	tables = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()";
	memcpy(srv->dsn, dsn, sizeof(srv->dsn));
	ck_assert_str_eq(store_value_of(srv, tables), "0");
	srv->dsn[0] = '\0';

	expect_ran(sh(NULL,
		      "sqlite3 '%s/authd.db' \"UPDATE accounts SET full_name = 'Administrator'"
		      " WHERE name = 'admin'\"",
		      srv->dir),
		   0);
	expect_copied(copy(from, to), "sqlite", "postgres");
	teardown_server();
}
END_TEST

static Suite *store_copy_suite(void)
{
	Suite *s = suite_create("store-copy");
	TCase *tc = server_case("store-copy", NULL, NULL, TEST_TIMEOUT);

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_mismatch_writes_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	static Suite *(*const suites[])(void) = {store_copy_suite, NULL};

	if (!it_pg_wanted()) {
		printf("store-copy needs PostgreSQL: run it as integration_store_copy_pg "
		       "(AUTHD_TEST_STORE=postgres)\n");
		return EXIT_SKIPPED;
	}
	return run_suites("authd-store-copy", suites, NULL);
}
