/*
 * SQLite plumbing: the per-thread connections and the shared one, the
 * statement cache, the migrations and transactions. The queries themselves
 * are in store_*.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

/*
 * The schema, one step per entry. A database records how many steps it has
 * taken in PRAGMA user_version; start-up runs the rest in order, each in its
 * own transaction. Never edit a step that has shipped: add one.
 */
static const char *const migrations[] = {
    /* 1: accounts, organizations, teams, sessions, collections and grants */
    "CREATE TABLE accounts ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  full_name TEXT NOT NULL DEFAULT '',"
    "  is_org INTEGER NOT NULL DEFAULT 0,"
    "  is_admin INTEGER NOT NULL DEFAULT 0,"
    "  is_active INTEGER NOT NULL DEFAULT 1,"
    "  is_imported INTEGER NOT NULL DEFAULT 0,"
    "  ldap_dn TEXT NOT NULL DEFAULT '',"
    "  password_hash TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE org_members ("
    "  org_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  is_admin INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (org_id, user_id));"
    "CREATE INDEX org_members_user ON org_members(user_id);"
    "CREATE TABLE teams ("
    "  id TEXT PRIMARY KEY,"
    "  org_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (org_id, name));"
    "CREATE TABLE team_members ("
    "  team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  is_admin INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (team_id, user_id));"
    "CREATE INDEX team_members_user ON team_members(user_id);"
    "CREATE TABLE sessions ("
    "  token_hash BLOB PRIMARY KEY,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  last_used INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL);"
    "CREATE INDEX sessions_account ON sessions(account_id);"
    "CREATE TABLE collections ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  parent_id TEXT REFERENCES collections(id),"
    "  path TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL);"
    "INSERT INTO collections VALUES"
    "  ('root', '', NULL, '/', 0),"
    "  ('system', 'System', 'root', '/System', 0),"
    "  ('shared', 'Shared', 'root', '/Shared', 0),"
    "  ('private', 'Private', 'shared', '/Shared/Private', 0);"
    "CREATE TABLE grants ("
    "  subject_id TEXT NOT NULL,"
    "  collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  role_id TEXT NOT NULL,"
    "  PRIMARY KEY (subject_id, collection_id, role_id));"
    "CREATE TABLE settings ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);"
    "INSERT INTO settings VALUES ('defaultNewUserRole', 'restrictedcontrol');",

    /* 2: client-bundle keys (certificate and public key only), and LDAP's missing mark */
    "CREATE TABLE public_keys ("
    "  id TEXT PRIMARY KEY,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  label TEXT NOT NULL,"
    "  fingerprint TEXT NOT NULL UNIQUE,"
    "  certificate TEXT NOT NULL,"
    "  public_key TEXT NOT NULL,"
    "  scope TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL);"
    "CREATE INDEX public_keys_account ON public_keys(account_id);"
    "ALTER TABLE accounts ADD COLUMN ldap_missing INTEGER NOT NULL DEFAULT 0;",

    /* 3: custom roles (the built-in ones live in rbac.c) */
    "CREATE TABLE roles ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  operations TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX grants_role ON grants(role_id);"
    "CREATE INDEX grants_collection ON grants(collection_id);",

    /* 4: sessions keyed by their token hash alone, one b-tree fewer to write per login */
    "CREATE TABLE sessions_by_hash ("
    "  token_hash BLOB PRIMARY KEY,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  last_used INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO sessions_by_hash SELECT token_hash, account_id, created_at, last_used,"
    "  expires_at FROM sessions;"
    "DROP TABLE sessions;"
    "ALTER TABLE sessions_by_hash RENAME TO sessions;"
    "CREATE INDEX sessions_account ON sessions(account_id);",

    /* 5: LDAP sync jobs, the member-sync configs of teams and orgs, and who sync deactivated */
    "CREATE TABLE jobs ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  action TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  dry_run INTEGER NOT NULL DEFAULT 0,"
    "  force INTEGER NOT NULL DEFAULT 0,"
    "  target TEXT NOT NULL DEFAULT '',"
    "  scheduled_at INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL DEFAULT 0,"
    "  last_updated INTEGER NOT NULL,"
    "  summary TEXT NOT NULL DEFAULT '{}',"
    "  plan TEXT);"
    "CREATE INDEX jobs_status ON jobs(status);"
    "CREATE TABLE team_sync ("
    "  team_id TEXT PRIMARY KEY REFERENCES teams(id) ON DELETE CASCADE,"
    "  config TEXT NOT NULL);"
    "CREATE TABLE org_admin_sync ("
    "  org_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
    "  config TEXT NOT NULL);"
    "ALTER TABLE accounts ADD COLUMN ldap_deactivated INTEGER NOT NULL DEFAULT 0;",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
#define STMT_CACHE 96

/* One per thread, and the shared one: a connection and the statements prepared on it. */
struct conn {
	sqlite3 *db;
	struct {
		const char *sql; /* keyed by address: every caller passes a literal */
		sqlite3_stmt *stmt;
	} stmts[STMT_CACHE];
	int nstmts;
};

/* Set once by store_open before any other thread exists; read-only after. */
static char *db_path;
static pthread_key_t conn_key;

/*
 * The shared connection of store_shared_begin: opened on first use, closed by
 * store_close, held by one thread at a time. `lent` is that thread's pointer
 * to it while it holds it, and NULL in every other thread.
 */
static struct conn *shared;
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local struct conn *lent;

/*
 * Whether this thread's last store failure was a full disk. Per thread, as a
 * request runs on one; each failure overwrites it, so an older full disk never
 * speaks for a later failure of another kind.
 */
static _Thread_local bool last_failure_full;

static void conn_free(void *p)
{
	struct conn *c = p;
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nstmts; i++)
		sqlite3_finalize(c->stmts[i].stmt);
	sqlite3_close(c->db);
	free(c);
}

/*
 * Notes what the failure on db was. Only SQLITE_FULL says "no room": SQLite
 * turns a write's ENOSPC into it, and it has no extended codes. The I/O
 * errors (SQLITE_IOERR_WRITE and the rest) can have other causes, so they
 * stay plain failures.
 */
static void note_failure(sqlite3 *db)
{
	last_failure_full = (sqlite3_extended_errcode(db) & 0xff) == SQLITE_FULL;
}

/*
 * Waits for another connection's write lock. SQLite's own busy timeout
 * sleeps in steps of up to 100 ms, which turns a few concurrent writers into
 * a queue of idle threads; writes here take microseconds, so poll finely.
 */
static int on_busy(void *ctx, int tries)
{
	struct timespec ts = {0, 100 * 1000}; /* 100 µs */

	(void)ctx;
	if (tries >= 50000) /* about 5 s */
		return 0;
	if (tries > 1000)
		ts.tv_nsec = 1000 * 1000;
	nanosleep(&ts, NULL);
	return 1;
}

static sqlite3 *open_db(const char *path, struct failure *err)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	if (sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		failure_set(err, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_handler(db, on_busy, NULL);
	if (sqlite3_exec(db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 /* checkpoints run from store_checkpoint, off the request path */
			 "PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=0;",
			 NULL, NULL, &msg) != SQLITE_OK) {
		note_failure(db);
		failure_set(err, "%s: %s", path, msg ? msg : "cannot set pragmas");
		sqlite3_free(msg);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static struct conn *conn_new(void)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct failure err;

	if (c == NULL)
		return NULL;
	c->db = open_db(db_path, &err);
	if (c->db == NULL) {
		log_msg(LOG_ERROR, "store: %s", err.message);
		free(c);
		return NULL;
	}
	return c;
}

/* The connection this thread's statements run on: the shared one while it holds it. */
static struct conn *conn_current(void)
{
	return lent != NULL ? lent : pthread_getspecific(conn_key);
}

sqlite3 *store_db(void)
{
	struct conn *c = conn_current();

	if (c != NULL)
		return c->db;
	c = conn_new();
	if (c == NULL)
		return NULL;
	pthread_setspecific(conn_key, c);
	return c->db;
}

/*
 * Takes shared_lock, waiting at most wait_us microseconds (forever if negative); 0 when taken.
 * The deadline is on the monotonic clock: a step of the wall clock (NTP, an admin) would
 * otherwise stretch the wait by the step, or end it at once.
 */
static int take_shared(long wait_us)
{
	struct timespec until;

	if (wait_us < 0)
		return pthread_mutex_lock(&shared_lock);
	if (pthread_mutex_trylock(&shared_lock) == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_us / 1000000;
	until.tv_nsec += wait_us % 1000000 * 1000;
	until.tv_sec += until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	return pthread_mutex_clocklock(&shared_lock, CLOCK_MONOTONIC, &until);
}

bool store_shared_begin(long wait_us)
{
	struct conn *own = pthread_getspecific(conn_key);

	/* in a transaction, statements must see its writes, and a write would wait for itself */
	if (lent != NULL || (own != NULL && !sqlite3_get_autocommit(own->db)))
		return false;
	if (take_shared(wait_us) != 0)
		return false;
	if (shared == NULL)
		shared = conn_new();
	if (shared == NULL) {
		pthread_mutex_unlock(&shared_lock);
		return false;
	}
	lent = shared;
	return true;
}

void store_shared_end(void)
{
	/* a transaction left open would hold the next holder's statements in it */
	if (!sqlite3_get_autocommit(lent->db)) {
		log_msg(LOG_ERROR, "store: a transaction was left open on the shared connection");
		sqlite3_exec(lent->db, "ROLLBACK", NULL, NULL, NULL);
	}
	/* and a statement left mid-way would keep the next holder reading an old snapshot */
	for (sqlite3_stmt *st = sqlite3_next_stmt(lent->db, NULL); st != NULL;
	     st = sqlite3_next_stmt(lent->db, st))
		if (sqlite3_stmt_busy(st))
			sqlite3_reset(st);
	lent = NULL;
	pthread_mutex_unlock(&shared_lock);
}

/*
 * The cached, reset statement for `sql` on this thread's connection. Callers
 * pass string literals, so the address is the key; the cache never evicts
 * because the set of queries is fixed at compile time.
 */
sqlite3_stmt *store_stmt(const char *sql)
{
	struct conn *c;
	sqlite3_stmt *stmt;
	int i;

	if (store_db() == NULL)
		return NULL;
	c = conn_current();
	for (i = 0; i < c->nstmts; i++) {
		if (c->stmts[i].sql == sql) {
			sqlite3_reset(c->stmts[i].stmt);
			sqlite3_clear_bindings(c->stmts[i].stmt);
			return c->stmts[i].stmt;
		}
	}
	if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) !=
	    SQLITE_OK) {
		note_failure(c->db);
		log_msg(LOG_ERROR, "store: preparing a statement: %s", sqlite3_errmsg(c->db));
		return NULL;
	}
	if (c->nstmts == STMT_CACHE) {
		log_msg(LOG_ERROR, "store: statement cache full (raise STMT_CACHE)");
		sqlite3_finalize(stmt);
		return NULL;
	}
	c->stmts[c->nstmts].sql = sql;
	c->stmts[c->nstmts].stmt = stmt;
	c->nstmts++;
	return stmt;
}

sqlite3_stmt *store_bound(const char *sql, const char *a, const char *b, const char *c)
{
	const char *args[] = {a, b, c};
	sqlite3_stmt *st = store_stmt(sql);

	for (int i = 0; st != NULL && i < 3; i++)
		if (args[i] != NULL)
			sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	return st;
}

void store_text(char *dst, size_t len, sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(dst, len, "%s", s ? (const char *)s : "");
}

bool store_last_failure_was_full(void)
{
	return last_failure_full;
}

void store_failure_forget(void)
{
	last_failure_full = false;
}

int store_failed(sqlite3_stmt *st)
{
	sqlite3 *db = sqlite3_db_handle(st);

	note_failure(db);
	log_msg(LOG_ERROR, "store: %s", sqlite3_errmsg(db));
	return STORE_ERROR;
}

int store_finish(sqlite3_stmt *st, bool need_row)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_CONSTRAINT)
		return STORE_CONFLICT;
	if (rc != SQLITE_DONE)
		return store_failed(st);
	if (need_row && sqlite3_changes(sqlite3_db_handle(st)) == 0)
		return STORE_NOT_FOUND;
	return STORE_OK;
}

static int user_version(sqlite3 *db)
{
	sqlite3_stmt *stmt;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

int store_schema_version(void)
{
	return N_MIGRATIONS;
}

int store_migrate(sqlite3 *db, struct failure *err)
{
	return store_migrate_to(db, N_MIGRATIONS, err);
}

int store_migrate_to(sqlite3 *db, int target, struct failure *err)
{
	int v = user_version(db);

	if (v < 0) {
		failure_set(err, "cannot read the schema version: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (v > N_MIGRATIONS) {
		failure_set(
		    err,
		    "the database has schema version %d but this authd knows only up to %d; "
		    "run a newer authd (refusing to touch it)",
		    v, N_MIGRATIONS);
		return -1;
	}
	for (; v < target && v < N_MIGRATIONS; v++) {
		char *msg = NULL;
		char bump[64];

		snprintf(bump, sizeof(bump), "PRAGMA user_version=%d;", v + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, bump, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			failure_set(err, "migration %d: %s", v + 1, msg ? msg : "failed");
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}

int store_open(const char *data_dir, struct failure *err)
{
	sqlite3 *db;

	if (asprintf(&db_path, "%s/authd.db", data_dir) < 0) {
		failure_set(err, "out of memory");
		return -1;
	}
	if (pthread_key_create(&conn_key, conn_free) != 0) {
		failure_set(err, "cannot create a thread key");
		return -1;
	}
	db = store_db();
	if (db == NULL) {
		failure_set(err, "cannot open %s", db_path);
		return -1;
	}
	return store_migrate(db, err);
}

void store_checkpoint(void)
{
	sqlite3 *db = store_db();

	/* PASSIVE never waits for readers or writers; what it cannot copy now waits a tick */
	if (db != NULL)
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

void store_close(void)
{
	struct conn *c = pthread_getspecific(conn_key);

	conn_free(shared);
	shared = NULL;
	if (c != NULL) {
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		pthread_setspecific(conn_key, NULL);
		conn_free(c);
	}
	free(db_path);
	db_path = NULL;
}

static int exec_simple(const char *sql)
{
	sqlite3 *db = store_db();

	if (db == NULL)
		return STORE_ERROR;
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		note_failure(db);
		log_msg(LOG_ERROR, "store: %s: %s", sql, sqlite3_errmsg(db));
		return STORE_ERROR;
	}
	return STORE_OK;
}

int store_begin(void)
{
	return exec_simple("BEGIN IMMEDIATE");
}

int store_commit(void)
{
	return exec_simple("COMMIT");
}

int store_begin_nested(void)
{
	return exec_simple("SAVEPOINT nested");
}

int store_commit_nested(void)
{
	return exec_simple("RELEASE nested");
}

void store_rollback_nested(void)
{
	sqlite3 *db = store_db();

	if (db != NULL)
		sqlite3_exec(db, "ROLLBACK TO nested; RELEASE nested", NULL, NULL, NULL);
}

void store_rollback(void)
{
	sqlite3 *db = store_db();

	if (db != NULL && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}
