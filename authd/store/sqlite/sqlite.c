/*
 * The SQLite driver: the per-thread connections and the shared one, the
 * statement cache, store/driver.h's statements and rows, and transactions.
 * The schema is in schema.c, the queries in store/store_*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../ops.h"
#include "sqlite.h"

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
 * What a failure on db means to the caller, logged. Only SQLITE_FULL says "no
 * room": SQLite turns a write's ENOSPC into it, and it has no extended codes.
 * The I/O errors (SQLITE_IOERR_WRITE and the rest) can have other causes, so
 * they stay plain failures.
 */
static int failed(sqlite3 *db, const char *what)
{
	log_msg(LOG_ERROR, "store: %s%s%s", what, what[0] ? ": " : "", sqlite3_errmsg(db));
	return (sqlite3_extended_errcode(db) & 0xff) == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
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

/* The connection the calling thread's statements run on, opened on first use; NULL on failure. */
static sqlite3 *current_db(void)
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

static bool shared_begin(long wait_us)
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

static void shared_end(void)
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
static sqlite3_stmt *prepared(const char *sql)
{
	struct conn *c;
	sqlite3_stmt *stmt;
	int i;

	if (current_db() == NULL)
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
		failed(c->db, "preparing a statement");
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

/* driver.h's statement is SQLite's own: the casts cost nothing. */
static sqlite3_stmt *raw(struct stmt *st)
{
	return (sqlite3_stmt *)st;
}

static struct stmt *get(const char *sql)
{
	return (struct stmt *)prepared(sql);
}

static void bind_text(struct stmt *st, int i, const char *v)
{
	sqlite3_bind_text(raw(st), i, v, -1, SQLITE_STATIC);
}

static void bind_int(struct stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(raw(st), i, v);
}

static void bind_bool(struct stmt *st, int i, bool v)
{
	sqlite3_bind_int(raw(st), i, v);
}

static void bind_blob(struct stmt *st, int i, const void *v, size_t len)
{
	sqlite3_bind_blob(raw(st), i, v, (int)len, SQLITE_STATIC);
}

/* A failed step: what it means, and the statement reset for its next use. */
static int step_failed(sqlite3_stmt *st)
{
	int rc = failed(sqlite3_db_handle(st), "");

	sqlite3_reset(st);
	return rc;
}

static int exec(struct stmt *st, bool need_row)
{
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(raw(st));
	if (rc == SQLITE_CONSTRAINT) {
		sqlite3_reset(raw(st));
		return STORE_CONFLICT;
	}
	if (rc != SQLITE_DONE)
		return step_failed(raw(st));
	sqlite3_reset(raw(st));
	if (need_row && sqlite3_changes(sqlite3_db_handle(raw(st))) == 0)
		return STORE_NOT_FOUND;
	return STORE_OK;
}

static int64_t changed(void)
{
	sqlite3 *db = current_db();

	return db ? sqlite3_changes64(db) : 0;
}

static int each(struct stmt *st, row_fn row, void *ctx)
{
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(raw(st))) == SQLITE_ROW)
		if (row(st, ctx) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return step_failed(raw(st));
	sqlite3_reset(raw(st));
	return STORE_OK;
}

static int one(struct stmt *st, row_fn row, void *ctx)
{
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(raw(st));
	if (rc == SQLITE_DONE) {
		sqlite3_reset(raw(st));
		return STORE_NOT_FOUND;
	}
	if (rc != SQLITE_ROW)
		return step_failed(raw(st));
	row(st, ctx);
	sqlite3_reset(raw(st));
	return STORE_OK;
}

static const char *column_text(struct stmt *st, int col)
{
	const unsigned char *v = sqlite3_column_text(raw(st), col);

	return v ? (const char *)v : "";
}

static bool column_null(struct stmt *st, int col)
{
	return sqlite3_column_type(raw(st), col) == SQLITE_NULL;
}

static int64_t column_int(struct stmt *st, int col)
{
	return sqlite3_column_int64(raw(st), col);
}

static bool column_bool(struct stmt *st, int col)
{
	return sqlite3_column_int(raw(st), col) != 0;
}

static const void *column_blob(struct stmt *st, int col, size_t *len)
{
	const void *v = sqlite3_column_blob(raw(st), col);

	*len = (size_t)sqlite3_column_bytes(raw(st), col);
	return v;
}

/* The database is <data_dir>/authd.db; the target's DSN and pool size do not apply. */
static int open_store(const struct store_target *t, struct failure *err)
{
	sqlite3 *db;

	if (asprintf(&db_path, "%s/authd.db", t->data_dir) < 0)
		return failure_set(err, "out of memory");
	if (pthread_key_create(&conn_key, conn_free) != 0) {
		free(db_path);
		db_path = NULL; /* close_all: nothing to close */
		return failure_set(err, "cannot create a thread key");
	}
	db = current_db();
	if (db == NULL)
		return failure_set(err, "cannot open %s", db_path);
	return sqlite_migrate(db, sqlite_schema_version(), err);
}

static void checkpoint(void)
{
	sqlite3 *db = current_db();

	/* PASSIVE never waits for readers or writers; what it cannot copy now waits a tick */
	if (db != NULL)
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

static void close_all(void)
{
	struct conn *c;

	if (db_path == NULL) /* never opened: conn_key was not made */
		return;
	c = pthread_getspecific(conn_key);

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
	sqlite3 *db = current_db();

	if (db == NULL)
		return STORE_ERROR;
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return failed(db, sql);
	return STORE_OK;
}

/*
 * A bulk transaction writes more pages than SQLite's default cache (2 MB)
 * holds, and would spill them to the WAL one by one; it gets a larger cache
 * until it ends. Per thread, as transactions are.
 */
#define BULK_CACHE_KB (32 * 1024)
#define DEFAULT_CACHE_KB 2000
static _Thread_local bool bulk;

static void cache_kb(int kb)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d", kb);
	exec_simple(sql);
}

static void bulk_end(void)
{
	if (!bulk)
		return;
	bulk = false;
	cache_kb(DEFAULT_CACHE_KB);
}

static int begin(bool big)
{
	int rc;

	if (!big)
		return exec_simple("BEGIN IMMEDIATE");
	cache_kb(BULK_CACHE_KB);
	bulk = true;
	rc = exec_simple("BEGIN IMMEDIATE");
	if (rc != STORE_OK)
		bulk_end();
	return rc;
}

static int commit(void)
{
	int rc = exec_simple("COMMIT");

	if (rc == STORE_OK)
		bulk_end();
	return rc;
}

static int begin_nested(void)
{
	return exec_simple("SAVEPOINT nested");
}

static int commit_nested(void)
{
	return exec_simple("RELEASE nested");
}

static void rollback_nested(void)
{
	sqlite3 *db = current_db();

	if (db != NULL)
		sqlite3_exec(db, "ROLLBACK TO nested; RELEASE nested", NULL, NULL, NULL);
}

static void rollback(void)
{
	sqlite3 *db = current_db();

	if (db != NULL && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	bulk_end();
}

/* ---- what store-copy asks of a store authd does not run on ---- */

static int stored_version(const struct store_target *t, struct failure *err)
{
	char path[4096];
	sqlite3 *db = NULL;
	int v;

	snprintf(path, sizeof(path), "%s/authd.db", t->data_dir);
	if (access(path, F_OK) != 0)
		return errno == ENOENT ? 0 : failure_set(err, "%s: %s", path, strerror(errno));
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		failure_set(err, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	v = sqlite_stored_version(db);
	if (v < 0)
		failure_set(err, "%s: cannot read the schema version: %s", path,
			    sqlite3_errmsg(db));
	sqlite3_close(db);
	return v;
}

/*
 * Every connection to a database in WAL mode holds a read lock on one byte
 * of its -shm file (SQLite's "DMS" byte, 128) for as long as it is open; the
 * last one to close takes it for writing. A write lock that would conflict
 * is another process's open connection: an authd, or a sqlite3 shell.
 */
static bool in_use(const struct store_target *t)
{
	struct flock probe = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 128, .l_len = 1};
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/authd.db-shm", t->data_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fcntl(fd, F_GETLK, &probe) != 0)
		probe.l_type = F_UNLCK;
	close(fd);
	return probe.l_type != F_UNLCK;
}

static enum col_kind kind_of(const char *declared)
{
	/* SQLite's own affinity rules, with its flags (INTEGER) told apart by the other side */
	if (strcasestr(declared, "INT") != NULL)
		return COL_INT;
	if (strcasestr(declared, "BLOB") != NULL)
		return COL_BLOB;
	return COL_TEXT;
}

static int column_row(struct stmt *st, void *ctx)
{
	struct store_table *t = ctx;
	struct store_column *c;

	if (t->ncols == SCHEMA_COLS)
		return 1;
	c = &t->cols[t->ncols++];
	snprintf(c->name, sizeof(c->name), "%s", column_text(st, 0));
	c->kind = kind_of(column_text(st, 1));
	c->pk = (int)column_int(st, 2);
	return 0;
}

static int table_row(struct stmt *st, void *ctx)
{
	struct store_schema *s = ctx;

	if (s->ntables == SCHEMA_TABLES)
		return 1;
	snprintf(s->tables[s->ntables++].name, SCHEMA_NAME, "%s", column_text(st, 0));
	return 0;
}

static int describe(struct store_schema *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = each(get("SELECT name FROM sqlite_schema WHERE type = 'table'"
		      " AND name NOT LIKE 'sqlite!_%' ESCAPE '!'"
		      " AND name <> 'authd_changes' ORDER BY name"),
		  table_row, out);
	for (int i = 0; rc == STORE_OK && i < out->ntables; i++) {
		struct stmt *st =
		    get("SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid");

		if (st != NULL)
			bind_text(st, 1, out->tables[i].name);
		rc = each(st, column_row, &out->tables[i]);
	}
	return rc;
}

/* References are checked at COMMIT, so that tables and rows may come in any order. */
static int copy_begin(void)
{
	int rc = begin(true);

	if (rc == STORE_OK && (rc = exec_simple("PRAGMA defer_foreign_keys = ON")) != STORE_OK)
		rollback();
	return rc;
}

/* SQLite gives an INTEGER PRIMARY KEY the highest one plus one by itself. */
static int copy_end(void)
{
	return STORE_OK;
}

/* After a failed copy: a store with no tables and version 0, which counts as empty again. */
static int discard(void)
{
	static struct store_schema s; /* a few hundred kB: not on the stack */
	char sql[128];
	int rc = describe(&s);

	if (rc == STORE_OK)
		rc = exec_simple("PRAGMA foreign_keys = OFF");
	for (int i = 0; rc == STORE_OK && i < s.ntables; i++) {
		snprintf(sql, sizeof(sql), "DROP TABLE \"%s\"", s.tables[i].name);
		rc = exec_simple(sql);
	}
	return rc == STORE_OK ? exec_simple("PRAGMA user_version = 0") : rc;
}

const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .shared = false,
    .open = open_store,
    .checkpoint = checkpoint,
    .close = close_all,
    .shared_begin = shared_begin,
    .shared_end = shared_end,
    .begin = begin,
    .commit = commit,
    .rollback = rollback,
    .begin_nested = begin_nested,
    .commit_nested = commit_nested,
    .rollback_nested = rollback_nested,
    .get = get,
    .text = bind_text,
    .integer = bind_int,
    .boolean = bind_bool,
    .blob = bind_blob,
    .exec = exec,
    .changed = changed,
    .each = each,
    .one = one,
    .col_text = column_text,
    .col_null = column_null,
    .col_int = column_int,
    .col_bool = column_bool,
    .col_blob = column_blob,
    .schema_version = sqlite_schema_version,
    .stored_version = stored_version,
    .in_use = in_use,
    .describe = describe,
    .copy_begin = copy_begin,
    .copy_end = copy_end,
    .discard = discard,
    /* none: a statement is a function call here, and a batch gains nothing over its rows */
};
