/*
 * Unit tests of the store: the SQLite driver's migrations, the result codes
 * store.h promises, the per-user limit's end of old sessions, and the shared
 * connection of the login path. With AUTHD_TEST_STORE=postgres (unit_store_pg)
 * the driver-neutral ones run on a PostgreSQL cluster of their own, beside
 * the PostgreSQL driver's migrations, password hiding and reconnection.
 * store-copy's canonical form of a row is checked here too (its copies are
 * tested end to end in integration_store_copy_pg).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pgcluster.h"
#include "store/copy.h"
#include "store/postgres/pg.h"
#include "store/sqlite/sqlite.h"
#include "store/store.h"
#include "sync/job_log.h"
#include "unit.h"

static char dir[] = "/tmp/test_store.XXXXXX";
/* on PostgreSQL, the DSN of the database the running test's store_setup made */
static char dsn[512];

/* A config for the store on the test's PostgreSQL database; config_free it. */
static void pg_config(struct config *c, const char *with_dsn)
{
	config_defaults(c);
	config_set_string(&c->store_driver, "postgres");
	config_set_string(&c->store_dsn, with_dsn);
	c->store_max_connections = 4;
}

/* Opens the store on the PostgreSQL database of with_dsn. */
static void store_setup_on(const char *with_dsn)
{
	struct failure err;
	struct config c;

	pg_config(&c, with_dsn);
	ck_assert_msg(store_open_config(&c, &err) == 0, "%s", err.message);
	ck_assert_str_eq(store_driver_name(), "postgres");
	config_free(&c);
}

static void store_setup(void)
{
	char d[256];
	struct failure err;

	snprintf(d, sizeof(d), "%s/storeXXXXXX", dir);
	ck_assert_ptr_nonnull(mkdtemp(d));
	if (!it_pg_wanted()) {
		ck_assert_msg(store_open(d, &err) == 0, "%s", err.message);
		return;
	}
	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	store_setup_on(dsn);
}

static void add_account(const char *name, bool org, bool admin, bool active, char id[ID_LEN])
{
	struct account a = {0};

	ck_assert_int_eq(new_uuid(a.id), 0);
	snprintf(a.name, sizeof(a.name), "%s", name);
	a.is_org = org;
	a.is_admin = admin;
	a.is_active = active;
	a.created_at = a.updated_at = now_seconds();
	ck_assert_int_eq(store_account_insert(&a, NULL), STORE_OK);
	memcpy(id, a.id, ID_LEN);
}

static bool account_exists(const char *name);

/* ---- migrations ---- */

static int table_count(sqlite3 *db)
{
	sqlite3_stmt *st;
	int n;

	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "SELECT count(*) FROM sqlite_master WHERE type='table'",
					    -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int version_of(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v;

	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	sqlite3_step(st);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

START_TEST(migrations_build_and_keep_the_schema)
{
	struct failure err;
	sqlite3 *db;
	int tables;

	ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	ck_assert_int_eq(sqlite_migrate(db, sqlite_schema_version(), &err), 0);
	ck_assert_int_eq(version_of(db), sqlite_schema_version());
	tables = table_count(db);
	ck_assert_int_gt(tables, 5);
	/* a second start changes nothing and keeps rows */
	ck_assert_int_eq(
	    sqlite3_exec(db, "INSERT INTO settings VALUES ('k','v')", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite_migrate(db, sqlite_schema_version(), &err), 0);
	ck_assert_int_eq(table_count(db), tables);
	ck_assert_int_eq(sqlite3_exec(db, "SELECT 1 FROM settings WHERE key='k'", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
}
END_TEST

START_TEST(migrations_upgrade_an_older_database_in_place)
{
	struct failure err;
	sqlite3 *db;
	sqlite3_stmt *st;

	ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	ck_assert_int_eq(sqlite_migrate(db, 1, &err), 0);
	ck_assert_int_eq(version_of(db), 1);
	ck_assert_int_eq(sqlite3_exec(db,
				      "INSERT INTO accounts (id, name, created_at, updated_at)"
				      " VALUES ('id1', 'old', 1, 1)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite_migrate(db, sqlite_schema_version(), &err), 0);
	ck_assert_int_eq(version_of(db), sqlite_schema_version());
	ck_assert_int_eq(
	    sqlite3_prepare_v2(db, "SELECT name, ldap_missing FROM accounts", -1, &st, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "old");
	ck_assert_int_eq(sqlite3_column_int(st, 1), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
}
END_TEST

/* Migration 7: under the idle expiry before it, every use renewed a session; its last use is
 * its renewal. */
START_TEST(migrations_keep_a_session_s_last_use_as_its_renewal)
{
	struct failure err;
	sqlite3 *db;
	sqlite3_stmt *st;

	ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	ck_assert_int_eq(sqlite_migrate(db, 6, &err), 0);
	ck_assert_int_eq(sqlite3_exec(db,
				      "INSERT INTO accounts (id, name, created_at, updated_at)"
				      " VALUES ('id1', 'old', 1, 1);"
				      "INSERT INTO sessions VALUES (x'01', 'id1', 100, 160, 900)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite_migrate(db, sqlite_schema_version(), &err), 0);
	ck_assert_int_eq(
	    sqlite3_prepare_v2(db, "SELECT created_at, renewed_at, expires_at FROM sessions", -1,
			       &st, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 100);
	ck_assert_int_eq(sqlite3_column_int(st, 1), 160);
	ck_assert_int_eq(sqlite3_column_int(st, 2), 900);
	sqlite3_finalize(st);
	sqlite3_close(db);
}
END_TEST

START_TEST(migrations_refuse_a_newer_database)
{
	char sql[64];
	struct failure err;
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", sqlite_schema_version() + 1);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite_migrate(db, sqlite_schema_version(), &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "newer authd"));
	/* and nothing was created */
	ck_assert_int_eq(table_count(db), 0);
	sqlite3_close(db);
}
END_TEST

START_TEST(migrations_roll_back_a_failed_step)
{
	struct failure err;
	sqlite3 *db;

	/* a table in the way makes step 1 fail half-way */
	ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE teams (x)", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite_migrate(db, sqlite_schema_version(), &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "migration 1"));
	ck_assert_int_eq(version_of(db), 0);
	ck_assert_int_eq(table_count(db), 1);
	sqlite3_close(db);
}
END_TEST

/* ---- what the results say ---- */

START_TEST(results_tell_missing_taken_and_created_apart)
{
	char user[ID_LEN], org[ID_LEN];
	struct account a = {0};
	struct team t = {0};
	struct role_row role = {0}, found;
	char *hash = (char *)"x";
	bool flag;

	store_setup();
	add_account("una", false, false, true, user);
	add_account("acme", true, false, true, org);
	ck_assert_int_eq(store_account_get("nobody", &a), STORE_NOT_FOUND);
	ck_assert_int_eq(store_account_get("una", &a), STORE_OK);
	ck_assert_str_eq(a.id, user);
	/* a name is taken whatever the id */
	ck_assert_int_eq(new_uuid(a.id), 0);
	ck_assert_int_eq(store_account_insert(&a, NULL), STORE_CONFLICT);
	/* no password: not found, and nothing to free */
	ck_assert_int_eq(store_account_password(org, &hash), STORE_NOT_FOUND);
	ck_assert_ptr_null(hash);
	ck_assert_int_eq(store_org_member_get(org, user, &flag), STORE_NOT_FOUND);
	ck_assert_int_eq(store_org_member_delete(org, user), STORE_NOT_FOUND);
	ck_assert_int_eq(new_uuid(t.id), 0);
	memcpy(t.org_id, org, ID_LEN);
	snprintf(t.name, sizeof(t.name), "ops");
	ck_assert_int_eq(store_team_insert(&t), STORE_OK);
	ck_assert_int_eq(store_team_insert(&t), STORE_CONFLICT);
	ck_assert_int_eq(store_team_member_delete(t.id, user), STORE_NOT_FOUND);
	/* the private collection is made once */
	ck_assert_int_eq(store_ensure_private_collection(&a), STORE_CREATED);
	ck_assert_int_eq(store_ensure_private_collection(&a), STORE_OK);
	/* role names are unique in any case, and found in any case */
	ck_assert_int_eq(new_uuid(role.id), 0);
	snprintf(role.name, sizeof(role.name), "Builders");
	role.operations = (char *)"{}";
	ck_assert_int_eq(store_role_insert(&role), STORE_OK);
	ck_assert_int_eq(new_uuid(role.id), 0);
	snprintf(role.name, sizeof(role.name), "BUILDERS");
	ck_assert_int_eq(store_role_insert(&role), STORE_CONFLICT);
	ck_assert_int_eq(store_role_get("builders", &found), STORE_OK);
	ck_assert_str_eq(found.name, "Builders");
	ck_assert_str_eq(found.operations, "{}");
	free(found.operations);
	ck_assert_int_eq(store_role_get("nope", &found), STORE_NOT_FOUND);
	store_close();
}
END_TEST

static void add_session(const char *account_id, unsigned char tag, int64_t created)
{
	struct session_row row;

	memset(&row, 0, sizeof(row));
	row.hash[0] = tag;
	snprintf(row.account_id, sizeof(row.account_id), "%s", account_id);
	row.created_at = row.renewed_at = created;
	row.expires_at = created + 3600;
	ck_assert_int_eq(store_session_insert(&row), STORE_OK);
}

static bool session_exists(unsigned char tag)
{
	unsigned char hash[32] = {tag};
	struct session_row row;

	return store_session_get(hash, &row) == STORE_OK;
}

/* The per-user limit ends the oldest logins, never the one kept, and no other account's. */
START_TEST(trimming_ends_an_account_s_oldest_sessions)
{
	unsigned char keep[32] = {9};
	char una[ID_LEN], ugo[ID_LEN];
	int64_t ended = -1;

	store_setup();
	add_account("una", false, false, true, una);
	add_account("ugo", false, false, true, ugo);
	add_session(una, 1, 100);
	add_session(una, 2, 300);
	add_session(una, 3, 200);
	add_session(ugo, 4, 50);
	/* the one kept is the newest even when its clock says otherwise */
	add_session(una, 9, 10);
	ck_assert_int_eq(store_sessions_trim_account(una, 5, keep, &ended), STORE_OK);
	ck_assert_int_eq(ended, 0);
	ck_assert_int_eq(store_sessions_trim_account(una, 3, keep, &ended), STORE_OK);
	ck_assert_int_eq(ended, 1);
	ck_assert(!session_exists(1));
	ck_assert(session_exists(2) && session_exists(3) && session_exists(9));
	ck_assert_int_eq(store_sessions_trim_account(una, 1, keep, &ended), STORE_OK);
	ck_assert_int_eq(ended, 2);
	ck_assert(!session_exists(2) && !session_exists(3));
	ck_assert(session_exists(9) && session_exists(4));
	store_close();
}
END_TEST

static int64_t live_sessions(int64_t now, int64_t lifetime)
{
	int64_t n = -1;

	ck_assert_int_eq(store_sessions_count_live(now, lifetime, &n), STORE_OK);
	return n;
}

/* A session is live until its absolute end and until a lifetime past its renewal, both excluded. */
START_TEST(live_sessions_are_those_expiry_leaves)
{
	char una[ID_LEN];

	store_setup();
	add_account("una", false, false, true, una);
	ck_assert_int_eq(live_sessions(0, 60), 0);
	add_session(una, 1, 100);  /* ends at 3700 */
	add_session(una, 2, 1000); /* ends at 4600 */
	ck_assert_int_eq(live_sessions(1099, 100), 1);
	ck_assert_int_eq(live_sessions(1100, 100), 0);
	ck_assert_int_eq(live_sessions(1100, 101), 1);
	ck_assert_int_eq(live_sessions(3699, 1 << 20), 2);
	ck_assert_int_eq(live_sessions(3700, 1 << 20), 1);
	ck_assert_int_eq(live_sessions(4600, 1 << 20), 0);
	/* the count and the sweep agree on which ones are live */
	ck_assert_int_eq(store_sessions_expire(3700, 1 << 20), STORE_OK);
	ck_assert(!session_exists(1) && session_exists(2));
	ck_assert_int_eq(live_sessions(3700, 1 << 20), 1);
	store_close();
}
END_TEST

START_TEST(a_bulk_transaction_commits_or_rolls_back_whole)
{
	char id[ID_LEN];
	struct account a;

	store_setup();
	ck_assert_int_eq(store_begin_bulk(), STORE_OK);
	add_account("bulk1", false, false, true, id);
	store_rollback();
	ck_assert_int_eq(store_account_get("bulk1", &a), STORE_NOT_FOUND);
	ck_assert_int_eq(store_begin_bulk(), STORE_OK);
	add_account("bulk2", false, false, true, id);
	ck_assert_int_eq(store_commit(), STORE_OK);
	ck_assert_int_eq(store_account_get("bulk2", &a), STORE_OK);
	store_close();
}
END_TEST

static int count_row(const char *text, void *ctx)
{
	(void)text;
	++*(int *)ctx;
	return 0;
}

static int count_grant(const struct grant_row *g, void *ctx)
{
	struct {
		const char *subject;
		int n;
	} *want = ctx;

	want->n += strcmp(g->subject_id, want->subject) == 0;
	return 0;
}

/* n imported accounts PREFIX0.. with odd characters in their names and fields. */
static void imported_rows(struct account *rows, int n, const char *prefix)
{
	for (int i = 0; i < n; i++) {
		memset(&rows[i], 0, sizeof(rows[i]));
		ck_assert_int_eq(new_uuid(rows[i].id), 0);
		/* quotes, backslashes, commas and braces: what an array's text escapes */
		snprintf(rows[i].name, sizeof(rows[i].name), "%s%d\"{,}\\", prefix, i);
		snprintf(rows[i].full_name, sizeof(rows[i].full_name), "Full, \"%d\" \\ NULL", i);
		snprintf(rows[i].ldap_dn, sizeof(rows[i].ldap_dn), "uid=u%d,ou=people", i);
		snprintf(rows[i].ldap_id, sizeof(rows[i].ldap_id), "%s", i == 0 ? "" : rows[i].id);
		rows[i].is_imported = true;
		rows[i].is_active = i != 1;
		rows[i].is_admin = i == 2;
		rows[i].created_at = rows[i].updated_at = 1000;
	}
}

/* The batches write what their rows' one-row calls would: every field, collection, grant. */
START_TEST(a_sync_s_batches_write_each_row_whole)
{
	struct account rows[3], got, org;
	struct team team = {0};
	struct collection_row coll;
	struct member_add adds[4];
	char path[NAME_LEN + 32];
	int members = 0;

	store_setup();
	add_account("org1", true, false, true, org.id);
	ck_assert_int_eq(new_uuid(team.id), 0);
	memcpy(team.org_id, org.id, ID_LEN);
	snprintf(team.name, sizeof(team.name), "t1");
	ck_assert_int_eq(store_team_insert(&team), STORE_OK);
	imported_rows(rows, 3, "u");
	for (int i = 0; i < 4; i++) /* the last names a pair again, as a sync's batch may */
		adds[i] = (struct member_add){org.id, team.id, rows[i % 3].id};
	ck_assert_int_eq(store_begin_bulk(), STORE_OK);
	ck_assert_int_eq(store_imported_insert_many(rows, 3, 1000), STORE_OK);
	ck_assert_int_eq(store_members_add_many(adds, 4), STORE_OK);
	ck_assert_int_eq(store_commit(), STORE_OK);
	for (int i = 0; i < 3; i++) {
		struct {
			const char *subject;
			int n;
		} grants = {rows[i].id, 0};

		ck_assert_int_eq(store_account_get(rows[i].name, &got), STORE_OK);
		ck_assert_str_eq(got.id, rows[i].id);
		ck_assert_str_eq(got.full_name, rows[i].full_name);
		ck_assert_str_eq(got.ldap_dn, rows[i].ldap_dn);
		ck_assert_str_eq(got.ldap_id, rows[i].ldap_id);
		ck_assert(got.is_imported && !got.is_org);
		ck_assert_int_eq(got.is_active, rows[i].is_active);
		ck_assert_int_eq(got.is_admin, rows[i].is_admin);
		ck_assert_int_eq(got.created_at, 1000);
		snprintf(path, sizeof(path), "/Shared/Private/%s", rows[i].name);
		ck_assert_int_eq(store_collection_by_path(path, &coll), STORE_OK);
		ck_assert_int_eq(store_grants(count_grant, &grants), STORE_OK);
		ck_assert_int_eq(grants.n, 1);
	}
	ck_assert_int_eq(store_team_member_ids(team.id, count_row, &members), STORE_OK);
	ck_assert_int_eq(members, 3);
	/* a taken name fails the transaction, and none of the batch is kept */
	imported_rows(rows, 2, "v");
	snprintf(rows[1].name, sizeof(rows[1].name), "org1");
	ck_assert_int_eq(store_begin_bulk(), STORE_OK);
	if (store_imported_insert_many(rows, 2, 1000) == STORE_OK)
		ck_assert_int_ne(store_commit(), STORE_OK);
	store_rollback();
	ck_assert_int_eq(store_account_get(rows[0].name, &got), STORE_NOT_FOUND);
	store_close();
}
END_TEST

/* ---- the shared connection ---- */

static bool account_exists(const char *name)
{
	struct account a;

	return store_account_get(name, &a) == STORE_OK;
}

START_TEST(shared_connection_reads_and_writes_what_the_own_one_does)
{
	char id[ID_LEN];

	store_setup();
	ck_assert(store_shared_begin(-1));
	/* a second begin on the same thread does not lend it twice */
	ck_assert(!store_shared_begin(-1));
	add_account("sam", false, false, true, id);
	store_shared_end();
	ck_assert(account_exists("sam"));
	add_account("sue", false, false, true, id);
	ck_assert(store_shared_begin(0));
	ck_assert(account_exists("sue"));
	store_shared_end();
	store_close();
}
END_TEST

START_TEST(shared_connection_is_not_lent_inside_a_transaction)
{
	char id[ID_LEN];

	store_setup();
	ck_assert_int_eq(store_begin(), STORE_OK);
	add_account("tx", false, false, true, id);
	/* its statements would not see "tx", and a write would wait for this transaction */
	ck_assert(!store_shared_begin(-1));
	ck_assert(account_exists("tx"));
	store_rollback();
	ck_assert(!account_exists("tx"));
	ck_assert(store_shared_begin(-1));
	store_shared_end();
	store_close();
}
END_TEST

START_TEST(shared_connection_takes_back_a_transaction_left_open)
{
	char id[ID_LEN];

	store_setup();
	ck_assert(store_shared_begin(-1));
	ck_assert_int_eq(store_begin(), STORE_OK);
	add_account("left", false, false, true, id);
	store_shared_end();
	ck_assert(!account_exists("left"));
	ck_assert(store_shared_begin(-1));
	ck_assert(!account_exists("left"));
	ck_assert_int_eq(store_begin(), STORE_OK);
	ck_assert_int_eq(store_commit(), STORE_OK);
	store_shared_end();
	store_close();
}
END_TEST

struct holder {
	pthread_barrier_t taken, done;
};

static void *hold_shared(void *arg)
{
	struct holder *h = arg;

	ck_assert(store_shared_begin(-1));
	pthread_barrier_wait(&h->taken);
	pthread_barrier_wait(&h->done);
	store_shared_end();
	return NULL;
}

START_TEST(shared_connection_waits_no_longer_than_asked)
{
	struct holder h;
	struct timespec t0, t1;
	pthread_t t;
	double waited;

	store_setup();
	pthread_barrier_init(&h.taken, NULL, 2);
	pthread_barrier_init(&h.done, NULL, 2);
	ck_assert_int_eq(pthread_create(&t, NULL, hold_shared, &h), 0);
	pthread_barrier_wait(&h.taken);
	ck_assert(!store_shared_begin(0));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert(!store_shared_begin(20 * 1000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(waited >= 0.015 && waited < 2, "waited %.3f s for 20 ms", waited);
	/* refused, the statements run on the own connection */
	ck_assert(!account_exists("nobody"));
	pthread_barrier_wait(&h.done);
	pthread_join(t, NULL);
	ck_assert(store_shared_begin(0));
	store_shared_end();
	pthread_barrier_destroy(&h.taken);
	pthread_barrier_destroy(&h.done);
	store_close();
}
END_TEST

/* ---- the PostgreSQL driver ---- */

static int pg_version(void)
{
	PGconn *pg = PQconnectdb(dsn);
	int v = pg_stored_version(pg);

	PQfinish(pg);
	return v;
}

START_TEST(pg_migrations_build_the_schema_once)
{
	struct failure err;
	struct config c;
	char id[ID_LEN];

	store_setup();
	ck_assert_int_eq(pg_version(), pg_schema_version());
	ck_assert_int_eq(pg_schema_version(), sqlite_schema_version());
	add_account("kept", false, false, true, id);
	store_close();
	/* a second start changes nothing and keeps rows */
	pg_config(&c, dsn);
	ck_assert_msg(store_open_config(&c, &err) == 0, "%s", err.message);
	ck_assert(account_exists("kept"));
	store_close();
	/* a database newer than this build is refused untouched */
	ck_assert_int_eq(it_pg_sql(dsn, "UPDATE authd_schema SET version = 99"), 0);
	ck_assert_int_eq(store_open_config(&c, &err), -1);
	ck_assert_msg(strstr(err.message, "newer authd") != NULL, "%s", err.message);
	ck_assert_int_eq(pg_version(), 99);
	config_free(&c);
}
END_TEST

/* A refused login says why, and never with the DSN's password. */
START_TEST(pg_a_wrong_password_is_not_in_the_error)
{
	char wrong[600], *pw;
	struct failure err;
	struct config c;

	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	pw = strstr(dsn, "password=");
	ck_assert_ptr_nonnull(pw);
	snprintf(wrong, sizeof(wrong), "%.*spassword=Wr0ng-Secret-Pw", (int)(pw - dsn), dsn);
	pg_config(&c, wrong);
	ck_assert_int_eq(store_open_config(&c, &err), -1);
	ck_assert_msg(strstr(err.message, "password authentication failed") != NULL, "%s",
		      err.message);
	ck_assert_msg(strstr(err.message, "Wr0ng-Secret-Pw") == NULL, "%s", err.message);
	config_free(&c);
	pg_config(&c, "host=127.0.0.1 nonsense_key=Wr0ng-Secret-Pw");
	ck_assert_int_eq(store_open_config(&c, &err), -1);
	ck_assert_msg(strstr(err.message, "Wr0ng") == NULL, "%s", err.message);
	config_free(&c);
}
END_TEST

/* Connections the server ends answer STORE_UNAVAILABLE once; the next statement reconnects. */
START_TEST(pg_a_lost_connection_is_unavailable_then_reconnected)
{
	char sql[700];
	struct account a;
	char id[ID_LEN];

	store_setup();
	add_account("before", false, false, true, id);
	snprintf(sql, sizeof(sql),
		 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		 " WHERE datname = current_database() AND pid <> pg_backend_pid()");
	ck_assert_int_eq(it_pg_sql(dsn, sql), 0);
	ck_assert_int_eq(store_account_get("before", &a), STORE_UNAVAILABLE);
	ck_assert_int_eq(store_account_get("before", &a), STORE_OK);
	/* and in a transaction: it is lost, nothing of it kept, and the next one works */
	ck_assert_int_eq(store_begin(), STORE_OK);
	add_account("lost", false, false, true, id);
	ck_assert_int_eq(it_pg_sql(dsn, sql), 0);
	ck_assert_int_eq(store_commit(), STORE_UNAVAILABLE);
	store_rollback();
	ck_assert(!account_exists("lost"));
	ck_assert_int_eq(store_begin(), STORE_OK);
	add_account("after", false, false, true, id);
	ck_assert_int_eq(store_commit(), STORE_OK);
	ck_assert(account_exists("after"));
	store_close();
}
END_TEST

/* A statement past the server's statement_timeout answers STORE_UNAVAILABLE, then all is well. */
START_TEST(pg_a_statement_timeout_is_unavailable)
{
	struct account a;
	char id[ID_LEN], sql[600];
	PGconn *locker;
	PGresult *res;

	store_setup();
	add_account("slow", false, false, true, id);
	store_close();
	snprintf(sql, sizeof(sql), "ALTER ROLE authd SET statement_timeout = '300ms'");
	ck_assert_int_eq(it_pg_sql(dsn, sql), 0);
	store_setup_on(dsn);
	/* another session holds the table, so the read waits past the timeout */
	locker = PQconnectdb(dsn);
	ck_assert_int_eq(PQstatus(locker), CONNECTION_OK);
	res = PQexec(locker, "BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE");
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	ck_assert_int_eq(store_account_get("slow", &a), STORE_UNAVAILABLE);
	PQfinish(locker);
	ck_assert_int_eq(store_account_get("slow", &a), STORE_OK);
	store_close();
	ck_assert_int_eq(it_pg_sql(dsn, "ALTER ROLE authd RESET statement_timeout"), 0);
}
END_TEST

static void *hold_write_lock(void *arg)
{
	struct holder *h = arg;

	ck_assert_int_eq(store_begin(), STORE_OK);
	pthread_barrier_wait(&h->taken);
	pthread_barrier_wait(&h->done);
	ck_assert_int_eq(store_commit(), STORE_OK);
	return NULL;
}

/* Transactions run one at a time; one that waits about 5 s for another gives up, as on SQLite. */
START_TEST(pg_a_transaction_waits_for_another_then_gives_up)
{
	struct timespec t0, t1;
	struct holder h;
	pthread_t t;
	double waited;

	store_setup();
	pthread_barrier_init(&h.taken, NULL, 2);
	pthread_barrier_init(&h.done, NULL, 2);
	ck_assert_int_eq(pthread_create(&t, NULL, hold_write_lock, &h), 0);
	pthread_barrier_wait(&h.taken);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(store_begin(), STORE_UNAVAILABLE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(waited >= 4.5 && waited < 10, "waited %.1f s for the lock", waited);
	pthread_barrier_wait(&h.done);
	pthread_join(t, NULL);
	ck_assert_int_eq(store_begin(), STORE_OK);
	ck_assert_int_eq(store_commit(), STORE_OK);
	pthread_barrier_destroy(&h.taken);
	pthread_barrier_destroy(&h.done);
	store_close();
}
END_TEST

/*
 * A single statement outside a transaction takes no write lock: it neither
 * waits for a transaction that holds the lock nor makes one wait.
 */
START_TEST(pg_a_single_statement_does_not_wait_for_a_transaction)
{
	struct timespec t0, t1;
	struct holder h;
	char id[ID_LEN];
	pthread_t t;
	double took;

	store_setup();
	pthread_barrier_init(&h.taken, NULL, 2);
	pthread_barrier_init(&h.done, NULL, 2);
	ck_assert_int_eq(pthread_create(&t, NULL, hold_write_lock, &h), 0);
	pthread_barrier_wait(&h.taken);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	add_account("alone", false, false, true, id);
	ck_assert(account_exists("alone"));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(took < 2, "a write outside a transaction waited %.1f s", took);
	pthread_barrier_wait(&h.done);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&h.taken);
	pthread_barrier_destroy(&h.done);
	store_close();
}
END_TEST

/* A bulk transaction's writes go out without waiting: a failure among them fails the commit. */
START_TEST(pg_a_bulk_transaction_answers_its_writes_failure_at_the_latest_at_commit)
{
	struct account a = {0};
	char id[ID_LEN];
	int rc;

	store_setup();
	ck_assert_int_eq(store_begin_bulk(), STORE_OK);
	add_account("dup", false, false, true, id);
	ck_assert_int_eq(new_uuid(a.id), 0);
	snprintf(a.name, sizeof(a.name), "dup");
	rc = store_account_insert(&a, NULL);
	ck_assert(rc == STORE_OK || rc == STORE_CONFLICT);
	ck_assert_int_eq(store_commit(), STORE_CONFLICT);
	store_rollback();
	ck_assert(!account_exists("dup"));
	/* a write that must change a row and did not */
	ck_assert_int_eq(store_begin_bulk(), STORE_OK);
	add_account("ok", false, false, true, id);
	ck_assert_int_eq(
	    store_imported_update("no-such-id", "", "", "", true, false, false, false, 1),
	    STORE_OK);
	ck_assert_int_eq(store_commit(), STORE_NOT_FOUND);
	store_rollback();
	ck_assert(!account_exists("ok"));
	/* and a read in the middle sees the writes before it */
	ck_assert_int_eq(store_begin_bulk(), STORE_OK);
	add_account("seen", false, false, true, id);
	ck_assert(account_exists("seen"));
	ck_assert_int_eq(store_commit(), STORE_OK);
	ck_assert(account_exists("seen"));
	store_close();
}
END_TEST

/* A key that is not UTF-8 finds nothing, as on SQLite, and does not spoil a transaction. */
START_TEST(pg_a_key_that_is_not_utf8_finds_nothing)
{
	struct account a;
	char id[ID_LEN];
	int64_t n = -1;

	store_setup();
	ck_assert_int_eq(store_begin(), STORE_OK);
	ck_assert_int_eq(store_account_get("\xff\xfe", &a), STORE_NOT_FOUND);
	/* a query that always has its row still has it */
	ck_assert_int_eq(store_count_active_admins("\xc3", &n), STORE_OK);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(store_role_delete("\xc3"), STORE_NOT_FOUND);
	add_account("still", false, false, true, id);
	ck_assert_int_eq(store_commit(), STORE_OK);
	ck_assert(account_exists("still"));
	store_close();
}
END_TEST

/* ---- serialization failures and deadlocks (PostgreSQL) ---- */

/* The account of that name with its full name set to full; asserted there. */
static struct account renamed(const char *name, const char *full)
{
	struct account a;

	ck_assert_int_eq(store_account_get(name, &a), STORE_OK);
	snprintf(a.full_name, sizeof(a.full_name), "%s", full);
	return a;
}

static void expect_full_name(const char *name, const char *full)
{
	struct account a;

	ck_assert_int_eq(store_account_get(name, &a), STORE_OK);
	ck_assert_str_eq(a.full_name, full);
}

/*
 * The test's database at an isolation level where a row changed by another
 * transaction since this one began cannot be changed (40001), with two
 * accounts, "x" and "y"; the store opened anew so that it applies.
 */
static void repeatable_read_setup(void)
{
	char id[ID_LEN];

	store_setup();
	add_account("x", false, false, true, id);
	add_account("y", false, false, true, id);
	store_close();
	ck_assert_int_eq(it_pg_sql(dsn, "DO $$BEGIN EXECUTE format("
					"'ALTER DATABASE %I SET default_transaction_isolation"
					" = ''repeatable read''', current_database()); END$$"),
			 0);
	store_setup_on(dsn);
}

/*
 * A transaction that meets a serialization failure is run again from what
 * it did so far, and goes on as if nothing happened: its caller never knows.
 */
START_TEST(pg_a_serialization_failure_runs_the_transaction_again)
{
	struct account x, y;

	repeatable_read_setup();
	y = renamed("y", "mine");
	ck_assert_int_eq(store_begin(), STORE_OK);
	ck_assert_int_eq(store_account_get("x", &x), STORE_OK);
	/* another client changes y after this transaction began: y cannot be changed in it */
	ck_assert_int_eq(
	    it_pg_sql(dsn, "UPDATE accounts SET full_name = 'theirs' WHERE name = 'y'"), 0);
	ck_assert_int_eq(store_account_update(&y), STORE_OK);
	ck_assert_int_eq(store_commit(), STORE_OK);
	expect_full_name("y", "mine");
	store_close();
}
END_TEST

/* Run again, a transaction whose reads answer otherwise is given up: its caller decided on them. */
START_TEST(pg_a_transaction_whose_reads_changed_is_not_run_again)
{
	struct account x, y;

	repeatable_read_setup();
	y = renamed("y", "mine");
	ck_assert_int_eq(store_begin(), STORE_OK);
	ck_assert_int_eq(store_account_get("x", &x), STORE_OK);
	ck_assert_int_eq(it_pg_sql(dsn, "UPDATE accounts SET full_name = 'theirs'"), 0);
	ck_assert_int_eq(store_account_update(&y), STORE_UNAVAILABLE);
	store_rollback();
	expect_full_name("y", "theirs");
	/* the next transaction is a new one */
	ck_assert_int_eq(store_begin(), STORE_OK);
	ck_assert_int_eq(store_account_update(&y), STORE_OK);
	ck_assert_int_eq(store_commit(), STORE_OK);
	expect_full_name("y", "mine");
	store_close();
}
END_TEST

/*
 * A trigger on accounts that refuses a change to the full name "twice" with
 * a deadlock the first two times and "always" with a serialization failure
 * every time; the sequence `attempts` counts the tries.
 */
static const char refusing_trigger[] =
    "CREATE SEQUENCE attempts; GRANT ALL ON SEQUENCE attempts TO authd;"
    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF NEW.full_name NOT IN ('twice', 'always') THEN RETURN NEW; END IF;"
    "  IF nextval('attempts') <= 2 OR NEW.full_name = 'always' THEN"
    "   RAISE EXCEPTION 'refused' USING ERRCODE = CASE NEW.full_name"
    "    WHEN 'twice' THEN '40P01' ELSE '40001' END;"
    "  END IF;"
    "  RETURN NEW;"
    " END $$;"
    "CREATE TRIGGER refuse BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION refuse()";

/* The tries the trigger counted since the last call. */
static int64_t attempts_since_last(void)
{
	char *n = it_pg_query(dsn, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
				   " FROM attempts");
	int64_t v = n ? atoll(n) : -1;

	free(n);
	ck_assert_int_eq(it_pg_sql(dsn, "ALTER SEQUENCE attempts RESTART"), 0);
	return v;
}

/*
 * Deadlocks and serialization failures are retried a bounded number of
 * times (3), in a transaction and outside one: one that goes away within
 * them is not seen, one that stays is answered STORE_UNAVAILABLE.
 */
START_TEST(pg_a_deadlock_is_retried_a_bounded_number_of_times)
{
	struct account twice, always, x;
	char id[ID_LEN];

	store_setup();
	add_account("x", false, false, true, id);
	add_account("y", false, false, true, id);
	ck_assert_int_eq(it_pg_sql(dsn, refusing_trigger), 0);
	twice = renamed("y", "twice");
	always = renamed("y", "always");

	ck_assert_int_eq(store_begin(), STORE_OK);
	x = renamed("x", "first");
	ck_assert_int_eq(store_account_update(&x), STORE_OK);
	ck_assert_int_eq(store_account_update(&twice), STORE_OK);
	ck_assert_int_eq(store_commit(), STORE_OK);
	ck_assert_int_eq(attempts_since_last(), 3);
	expect_full_name("x", "first");
	expect_full_name("y", "twice");

	ck_assert_int_eq(store_begin(), STORE_OK);
	x = renamed("x", "second");
	ck_assert_int_eq(store_account_update(&x), STORE_OK);
	ck_assert_int_eq(store_account_update(&always), STORE_UNAVAILABLE);
	store_rollback();
	ck_assert_int_eq(attempts_since_last(), 4);
	expect_full_name("x", "first");

	/* a single statement outside a transaction, run again alone */
	ck_assert_int_eq(store_account_update(&twice), STORE_OK);
	ck_assert_int_eq(attempts_since_last(), 3);
	ck_assert_int_eq(store_account_update(&always), STORE_UNAVAILABLE);
	ck_assert_int_eq(attempts_since_last(), 4);
	expect_full_name("y", "twice");
	store_close();
}
END_TEST

/* ---- connecting (PostgreSQL) ---- */

/*
 * A socket that listens and never accepts: a connection to it is made by
 * the kernel, and libpq then waits for a server that never answers.
 */
static int silent_server(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Opens the store at a server that never answers: STORE_UNAVAILABLE; the seconds it took. */
static double open_silent(const char *with_dsn)
{
	struct timespec t0, t1;
	struct failure err;
	struct config c;
	int rc;

	pg_config(&c, with_dsn);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = store_open_config(&c, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	config_free(&c);
	ck_assert_int_eq(rc, STORE_UNAVAILABLE);
	return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/*
 * A connection attempt gives up after connect_timeout: 5 s unless the DSN
 * says otherwise (a connection, then a ping to tell "down" from "refused").
 */
START_TEST(pg_a_server_that_never_answers_is_given_up_on)
{
	char with_dsn[256];
	double took;
	int port, fd = silent_server(&port);

	unsetenv("PGCONNECT_TIMEOUT");
	snprintf(with_dsn, sizeof(with_dsn),
		 "host=127.0.0.1 port=%d dbname=authd user=authd password=x sslmode=disable", port);
	took = open_silent(with_dsn);
	ck_assert_msg(took >= 9 && took < 20, "gave up after %.1f s, not twice 5 s", took);
	snprintf(with_dsn, sizeof(with_dsn),
		 "host=127.0.0.1 port=%d dbname=authd user=authd password=x sslmode=disable "
		 "connect_timeout=2",
		 port);
	took = open_silent(with_dsn);
	ck_assert_msg(took >= 3 && took < 8, "gave up after %.1f s, not twice 2 s", took);
	close(fd);
}
END_TEST

/* PostgreSQL lends no shared connection; the login path's statements run on their own. */
START_TEST(pg_no_shared_connection_is_lent)
{
	char id[ID_LEN];

	store_setup();
	ck_assert(!store_shared_begin(-1));
	add_account("own", false, false, true, id);
	ck_assert(account_exists("own"));
	store_close();
}
END_TEST

/* ---- failed logins counted in the store (store_throttle.c) ---- */

/* A user may fail 3 times in 10 s, an address 5 times; a lockout lasts 7 s. */
static struct throttle *test_throttle(bool shared, int max_keys)
{
	struct throttle *t = throttle_new(&(struct throttle_config){.max_failures = 3,
								    .ip_max_failures = 5,
								    .window = 10,
								    .lockout = 7,
								    .max_keys = max_keys,
								    .shared = shared});

	ck_assert_ptr_nonnull(t);
	return t;
}

/*
 * The same logins, failed and succeeded at random among three users and two
 * addresses over a few minutes, get the same answers from the store's counts
 * as from the in-memory table, and the tick's expiry changes none of them.
 */
START_TEST(throttle_in_the_store_decides_as_in_memory)
{
	struct throttle *mem, *st;
	unsigned seed = 12345;
	int64_t now = 100000;
	char user[16], ip[16];

	store_setup();
	mem = test_throttle(false, 1000);
	st = test_throttle(true, 1000);
	for (int i = 0; i < 600; i++) {
		bool counted, ignored;
		int w_mem, w_st;

		seed = seed * 1103515245u + 12345u;
		now += (seed >> 16) % 3;
		snprintf(user, sizeof(user), "user:u%u", (seed >> 8) % 3);
		snprintf(ip, sizeof(ip), "ip:a%u", (seed >> 12) % 2);
		w_mem = throttle_wait(mem, user, ip, now, &ignored);
		w_st = throttle_wait(st, user, ip, now, &counted);
		ck_assert_msg(w_mem == w_st, "step %d: wait %d in memory, %d in the store", i,
			      w_mem, w_st);
		if (w_st > 0)
			continue;
		if ((seed >> 20) % 5 == 0) {
			ck_assert_int_eq(throttle_clear(mem, user), STORE_OK);
			if (counted)
				ck_assert_int_eq(throttle_clear(st, user), STORE_OK);
		} else {
			ck_assert_int_eq(throttle_fail(st, user, ip, now),
					 throttle_fail(mem, user, ip, now));
		}
		if (i % 7 == 0)
			throttle_tick(st, now);
	}
	throttle_free(mem);
	throttle_free(st);
	store_close();
}
END_TEST

/* A success after no failure has nothing to clear: the login writes nothing. */
START_TEST(throttle_says_which_users_have_failures)
{
	struct throttle *t;
	bool counted = true;

	store_setup();
	t = test_throttle(true, 1000);
	ck_assert_int_eq(throttle_wait(t, "user:a", "ip:x", 1000, &counted), 0);
	ck_assert(!counted);
	ck_assert_int_eq(throttle_fail(t, "user:b", "ip:x", 1000), 1);
	/* the address's failure is not the user's */
	ck_assert_int_eq(throttle_wait(t, "user:a", "ip:x", 1000, &counted), 0);
	ck_assert(!counted);
	ck_assert_int_eq(throttle_wait(t, "user:b", "ip:y", 1000, &counted), 0);
	ck_assert(counted);
	ck_assert_int_eq(throttle_clear(t, "user:b"), STORE_OK);
	ck_assert_int_eq(throttle_wait(t, "user:b", "ip:y", 1000, &counted), 0);
	ck_assert(!counted);
	throttle_free(t);
	store_close();
}
END_TEST

/*
 * A spray of names leaves the max_keys newest after a tick (with their
 * second's); a lockout running stays whatever the spray, and expired keys all go.
 */
START_TEST(throttle_keys_stay_bounded_in_the_store)
{
	struct throttle *t;
	int64_t deleted;
	char user[32], ip[32];

	store_setup();
	/* windows and lockouts longer than the spray, so that only the bound deletes */
	t = throttle_new(&(struct throttle_config){.max_failures = 3,
						   .ip_max_failures = 5,
						   .window = 1000,
						   .lockout = 500,
						   .max_keys = 20,
						   .shared = true});
	for (int i = 0; i < 3; i++)
		throttle_fail(t, "user:target", "ip:t", 1000);
	ck_assert_int_eq(throttle_wait(t, "user:target", "ip:t", 1001, &(bool){false}), 499);
	for (int i = 0; i < 200; i++) {
		snprintf(user, sizeof(user), "user:spray%d", i);
		snprintf(ip, sizeof(ip), "ip:s%d", i);
		ck_assert_int_eq(throttle_fail(t, user, ip, 1001 + i), 1);
	}
	/*
	 * 402 keys: the target's two, 400 sprayed ones (a name and an address a
	 * second); those of the 20 newest's seconds stay, and the lockout
	 */
	ck_assert_int_eq(store_login_failures_trim(1200, 1000, 20, &deleted), STORE_OK);
	ck_assert_int_eq(deleted, 402 - 21);
	ck_assert_int_eq(store_login_failures_trim(1200, 1000, 20, &deleted), STORE_OK);
	ck_assert_int_eq(deleted, 0);
	ck_assert_int_eq(throttle_wait(t, "user:target", "ip:z", 1201, &(bool){false}), 299);
	/* the newest are still counted */
	ck_assert_int_eq(throttle_fail(t, "user:spray199", "ip:n", 1201), 2);
	/* past the windows and the lockout, nothing is left */
	ck_assert_int_eq(store_login_failures_trim(2500, 1000, 20, &deleted), STORE_OK);
	ck_assert_int_eq(deleted, 22);
	ck_assert_int_eq(store_login_failures_trim(2500, 1000, 20, &deleted), STORE_OK);
	ck_assert_int_eq(deleted, 0);
	throttle_free(t);
	store_close();
}
END_TEST

/* A waiting full sync, id "job<n>", scheduled at `at`. */
static void add_job(int n, int64_t at)
{
	struct job j = {0};

	snprintf(j.id, sizeof(j.id), "job%d", n);
	snprintf(j.action, sizeof(j.action), "ldap-sync");
	snprintf(j.status, sizeof(j.status), "waiting");
	j.scheduled_at = j.last_updated = at;
	ck_assert_int_eq(store_job_insert(&j), STORE_OK);
}

static const char *job_status(const char *id)
{
	static struct job j;

	ck_assert_int_eq(store_job_get(id, &j), STORE_OK);
	job_free_texts(&j);
	return j.status;
}

START_TEST(a_job_runs_under_one_replica_s_lease)
{
	struct job j;
	bool cancel = true;
	int n = -1;

	store_setup();
	add_job(1, 10);
	add_job(2, 11);
	/* the oldest, to one replica; none other while it runs */
	ck_assert_int_eq(store_job_claim("a", 100, 120, &j), STORE_OK);
	ck_assert_str_eq(j.id, "job1");
	ck_assert_str_eq(j.replica, "a");
	job_free_texts(&j);
	ck_assert_int_eq(store_job_claim("b", 100, 120, &j), STORE_NOT_FOUND);
	/* renewed by its holder only; the other's expiry leaves a live lease */
	ck_assert_int_eq(store_job_renew("job1", "a", 130, &cancel), STORE_OK);
	ck_assert(!cancel);
	ck_assert_int_eq(store_job_renew("job1", "b", 130, &cancel), STORE_NOT_FOUND);
	ck_assert_int_eq(store_jobs_expire("b", 125, false, &n), STORE_OK);
	ck_assert_int_eq(n, 0);
	/* a cancel from anywhere: the renewal hears it, the apply's hold refuses */
	ck_assert_int_eq(store_job_cancel("job1", 126), STORE_OK);
	ck_assert_int_eq(store_job_renew("job1", "a", 140, &cancel), STORE_OK);
	ck_assert(cancel);
	ck_assert_int_eq(store_job_hold("job1", "a", 140), STORE_NOT_FOUND);
	ck_assert_str_eq(job_status("job1"), "running");
	/* its lease ends: errored by the other, whose claim then takes the next */
	ck_assert_int_eq(store_jobs_expire("b", 141, false, &n), STORE_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(store_job_get("job1", &j), STORE_OK);
	ck_assert_str_eq(j.status, "errored");
	ck_assert_ptr_nonnull(strstr(j.summary, "replica a stopped renewing"));
	job_free_texts(&j);
	ck_assert_int_eq(store_job_renew("job1", "a", 150, &cancel), STORE_NOT_FOUND);
	ck_assert_int_eq(store_job_claim("b", 142, 162, &j), STORE_OK);
	ck_assert_str_eq(j.id, "job2");
	job_free_texts(&j);
	ck_assert_int_eq(store_job_hold("job2", "b", 170), STORE_OK);
	snprintf(j.id, sizeof(j.id), "job2");
	snprintf(j.status, sizeof(j.status), "done");
	j.summary = j.plan = NULL;
	j.last_updated = 150;
	ck_assert_int_eq(store_job_end(&j, "a"), STORE_NOT_FOUND);
	ck_assert_int_eq(store_job_end(&j, "b"), STORE_OK);
	ck_assert_str_eq(job_status("job2"), "done");
	ck_assert_int_eq(store_job_cancel("job2", 151), STORE_CONFLICT);
	ck_assert_int_eq(store_job_cancel("nope", 151), STORE_NOT_FOUND);
	store_close();
}
END_TEST

struct failer {
	struct throttle *t;
	int most; /* the highest count the thread was answered */
};

static void *fail_often(void *arg)
{
	struct failer *f = arg;

	for (int i = 0; i < 50; i++) {
		int n = throttle_fail(f->t, "user:raced", "ip:r", 5000);

		ck_assert_int_ge(n, 1);
		if (n > f->most)
			f->most = n;
	}
	return NULL;
}

/* Two writers failing one key at the same moment lose no failure: the count is their sum. */
START_TEST(throttle_counts_concurrent_failures_once_each)
{
	struct throttle *t;
	struct failer a, b;
	pthread_t ta, tb;

	store_setup();
	t = throttle_new(&(struct throttle_config){.max_failures = 1000,
						   .ip_max_failures = 1000,
						   .window = 60,
						   .lockout = 7,
						   .max_keys = 1000,
						   .shared = true});
	a = (struct failer){t, 0};
	b = (struct failer){t, 0};
	ck_assert_int_eq(pthread_create(&ta, NULL, fail_often, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, fail_often, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ck_assert_int_eq(a.most > b.most ? a.most : b.most, 100);
	ck_assert_int_eq(throttle_fail(t, "user:raced", "ip:r", 5000), 101);
	throttle_free(t);
	store_close();
}
END_TEST

START_TEST(a_schedule_queues_one_job_a_period)
{
	struct job j = {0};

	store_setup();
	snprintf(j.action, sizeof(j.action), "ldap-sync");
	snprintf(j.status, sizeof(j.status), "waiting");
	snprintf(j.id, sizeof(j.id), "s1");
	j.scheduled_at = j.last_updated = 4000;
	ck_assert_int_eq(store_job_schedule(&j, 400), STORE_OK);
	/* the same period, seen by another replica: queued already */
	snprintf(j.id, sizeof(j.id), "s2");
	ck_assert_int_eq(store_job_schedule(&j, 400), STORE_NOT_FOUND);
	/* the next period, while s1 still waits: nothing either */
	j.scheduled_at = 7700;
	ck_assert_int_eq(store_job_schedule(&j, 4100), STORE_NOT_FOUND);
	ck_assert_int_eq(store_job_cancel("s1", 7700), STORE_OK);
	ck_assert_int_eq(store_job_schedule(&j, 4100), STORE_OK);
	ck_assert_str_eq(job_status("s2"), "waiting");
	store_close();
}
END_TEST

/* The job's log as the store has it, kept for the test's end. */
static const char *log_of(const char *id)
{
	static char *text;
	size_t len = 0;

	free(text);
	ck_assert_int_eq(store_job_log_read(id, &text, &len), STORE_OK);
	ck_assert_uint_eq(strlen(text), len);
	return text;
}

START_TEST(a_job_log_is_written_beside_the_job_s_transaction_and_capped)
{
	struct job_log *l;
	const char *text;
	struct job j;
	int n = 0;

	store_setup();
	add_job(1, 10);
	ck_assert_str_eq(log_of("job1"), "");
	l = job_log_open("job1", 400);
	job_log_line(l, "ldap-sync on replica a", false);
	ck_assert_int_eq(job_log_flush(l), 0);
	ck_assert_ptr_nonnull(strstr(log_of("job1"), " ldap-sync on replica a\n"));
	/* a line pending while a transaction is open on the job's thread is written by the log's
	 * own thread within a second, and stays when the transaction rolls back (on a server;
	 * one SQLite writer at a time makes the job flush before its apply instead) */
	if (store_is_shared()) {
		ck_assert_int_eq(store_begin(), STORE_OK);
		job_log_line(l, "planned", false);
		it_sleep_ms(1500);
		store_rollback();
		ck_assert_ptr_nonnull(strstr(log_of("job1"), " planned\n"));
	}
	/* past the cap, a line says so and the rest is left out, but for the last */
	for (int i = 0; i < 20; i++)
		job_log_line(l, "change: create someone dn=uid=someone,ou=people", false);
	job_log_line(l, "done in 5 ms", true);
	job_log_close(l);
	text = log_of("job1");
	ck_assert_int_lt(strlen(text), 400 + 300);
	ck_assert_ptr_nonnull(strstr(text, " log truncated: a job's log keeps "));
	ck_assert_ptr_nonnull(strstr(text, " lines left out)\n"));
	ck_assert(strlen(text) > 14 && strcmp(text + strlen(text) - 14, " done in 5 ms\n") == 0);
	/* a log for no job is refused */
	ck_assert_int_eq(store_job_log_append("nope", "x\n", 2), STORE_CONFLICT);

	/* a job whose lease ended says so at the end of its log */
	ck_assert_int_eq(store_job_claim("a", 100, 120, &j), STORE_OK);
	ck_assert_str_eq(j.id, "job1");
	job_free_texts(&j);
	ck_assert_int_eq(store_jobs_expire("b", 121, false, &n), STORE_OK);
	ck_assert_int_eq(n, 1);
	text = log_of("job1");
	ck_assert_ptr_nonnull(strstr(text, " done in 5 ms\n"));
	ck_assert_ptr_nonnull(strstr(text, " errored (noted by replica b): the job's lease ended: "
					   "replica a stopped renewing"));
	store_close();
}
END_TEST

/* An older authd's log files move into the store once; a file of no job stays. */
START_TEST(old_job_log_files_move_into_the_store)
{
	char data[256], jobs[300], one[320], gone[320];

	store_setup();
	add_job(1, 10);
	snprintf(data, sizeof(data), "%s/dataXXXXXX", dir);
	ck_assert_ptr_nonnull(mkdtemp(data));
	snprintf(jobs, sizeof(jobs), "%s/jobs", data);
	snprintf(one, sizeof(one), "%s/job1.log", jobs);
	snprintf(gone, sizeof(gone), "%s/gone.log", jobs);
	ck_assert_int_eq(mkdir(jobs, 0700), 0);
	ck_assert_int_eq(it_write_file(one, "2026 old line\n"), 0);
	ck_assert_int_eq(it_write_file(gone, "2026 other\n"), 0);
	job_log_import(data);
	ck_assert_str_eq(log_of("job1"), "2026 old line\n");
	ck_assert_int_ne(access(one, F_OK), 0);
	ck_assert_int_eq(access(gone, F_OK), 0);
	/* once: a second start finds the file gone, the log as it was, and the directory goes */
	ck_assert_int_eq(unlink(gone), 0);
	job_log_import(data);
	ck_assert_str_eq(log_of("job1"), "2026 old line\n");
	ck_assert_int_ne(access(jobs, F_OK), 0);
	ck_assert_int_eq(rmdir(data), 0);
	store_close();
}
END_TEST

/* The cases that hold for either driver. */
static void add_neutral_cases(Suite *s)
{
	unit_case(s, "results",
		  (const TTest *const[]){results_tell_missing_taken_and_created_apart,
					 a_bulk_transaction_commits_or_rolls_back_whole,
					 a_sync_s_batches_write_each_row_whole, NULL});
	unit_case(s, "sessions",
		  (const TTest *const[]){trimming_ends_an_account_s_oldest_sessions,
					 live_sessions_are_those_expiry_leaves, NULL});
	unit_case(s, "throttle",
		  (const TTest *const[]){throttle_in_the_store_decides_as_in_memory,
					 throttle_says_which_users_have_failures,
					 throttle_keys_stay_bounded_in_the_store,
					 throttle_counts_concurrent_failures_once_each, NULL});
	unit_case(s, "jobs",
		  (const TTest *const[]){
		      a_job_runs_under_one_replica_s_lease, a_schedule_queues_one_job_a_period,
		      a_job_log_is_written_beside_the_job_s_transaction_and_capped,
		      old_job_log_files_move_into_the_store, NULL});
}

/* The SHA-256 of one row of values in store-copy's canonical form. */
static void row_digest(const struct copy_value *v, int n, unsigned char out[32])
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned int len = 0;

	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(EVP_DigestInit_ex(h, EVP_sha256(), NULL), 1);
	for (int i = 0; i < n; i++)
		copy_hash_value(h, &v[i]);
	copy_hash_row_end(h);
	EVP_DigestFinal_ex(h, out, &len);
	EVP_MD_CTX_free(h);
	ck_assert_uint_eq(len, 32);
}

START_TEST(copy_canonical_form_is_the_documented_one)
{
	static const char form[] = "N;I-42;B1;B0;T4:\xc3\xa9;x;X2:\x00\xff;\n";
	const struct copy_value row[] = {
	    {.kind = COL_TEXT, .null = true},
	    {.kind = COL_INT, .i = -42},
	    {.kind = COL_BOOL, .i = 2}, /* any nonzero flag is true, as SQLite reads it */
	    {.kind = COL_BOOL, .i = 0},
	    {.kind = COL_TEXT, .bytes = "\xc3\xa9;x", .len = 4},
	    {.kind = COL_BLOB, .bytes = "\x00\xff", .len = 2},
	};
	unsigned char got[32], want[32];

	row_digest(row, 6, got);
	EVP_Digest(form, sizeof(form) - 1, want, NULL, EVP_sha256(), NULL);
	ck_assert_mem_eq(got, want, 32);
}
END_TEST

START_TEST(copy_canonical_form_tells_columns_apart)
{
	const struct copy_value ab_c[] = {{.kind = COL_TEXT, .bytes = "ab", .len = 2},
					  {.kind = COL_TEXT, .bytes = "c", .len = 1}};
	const struct copy_value a_bc[] = {{.kind = COL_TEXT, .bytes = "a", .len = 1},
					  {.kind = COL_TEXT, .bytes = "bc", .len = 2}};
	const struct copy_value empty = {.kind = COL_TEXT, .bytes = "", .len = 0};
	const struct copy_value null = {.kind = COL_TEXT, .null = true};
	const struct copy_value zero = {.kind = COL_INT, .i = 0};
	const struct copy_value no = {.kind = COL_BOOL, .i = 0};
	unsigned char x[32], y[32];

	row_digest(ab_c, 2, x);
	row_digest(a_bc, 2, y);
	ck_assert_mem_ne(x, y, 32);
	row_digest(&empty, 1, x);
	row_digest(&null, 1, y);
	ck_assert_mem_ne(x, y, 32);
	row_digest(&zero, 1, x);
	row_digest(&no, 1, y);
	ck_assert_mem_ne(x, y, 32);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	log_set_level(LOG_ERROR);
	add_neutral_cases(s);
	if (it_pg_wanted()) {
		if (it_pg_start() != 0)
			return 1;
		unit_case(
		    s, "postgres",
		    (const TTest *const[]){
			pg_migrations_build_the_schema_once,
			pg_a_wrong_password_is_not_in_the_error,
			pg_a_lost_connection_is_unavailable_then_reconnected,
			pg_a_statement_timeout_is_unavailable,
			pg_a_bulk_transaction_answers_its_writes_failure_at_the_latest_at_commit,
			pg_a_transaction_waits_for_another_then_gives_up,
			pg_a_single_statement_does_not_wait_for_a_transaction,
			pg_a_key_that_is_not_utf8_finds_nothing, NULL});
		unit_case(s, "postgres-retries",
			  (const TTest *const[]){
			      pg_a_serialization_failure_runs_the_transaction_again,
			      pg_a_transaction_whose_reads_changed_is_not_run_again,
			      pg_a_deadlock_is_retried_a_bounded_number_of_times, NULL});
		unit_case(s, "postgres-connections",
			  (const TTest *const[]){pg_a_server_that_never_answers_is_given_up_on,
						 pg_no_shared_connection_is_lent, NULL});
		return unit_run(s, dir);
	}
	unit_case(s, "migrations",
		  (const TTest *const[]){migrations_build_and_keep_the_schema,
					 migrations_upgrade_an_older_database_in_place,
					 migrations_keep_a_session_s_last_use_as_its_renewal,
					 migrations_refuse_a_newer_database,
					 migrations_roll_back_a_failed_step, NULL});
	unit_case(s, "copy",
		  (const TTest *const[]){copy_canonical_form_is_the_documented_one,
					 copy_canonical_form_tells_columns_apart, NULL});
	unit_case(s, "shared-connection",
		  (const TTest *const[]){shared_connection_reads_and_writes_what_the_own_one_does,
					 shared_connection_is_not_lent_inside_a_transaction,
					 shared_connection_takes_back_a_transaction_left_open,
					 shared_connection_waits_no_longer_than_asked, NULL});
	return unit_run(s, dir);
}
