/*
 * The PostgreSQL driver: a bounded pool of libpq connections, statements
 * prepared once per connection, store/driver.h's statements and rows, and
 * transactions. The schema is in schema.c, the queries in store/store_*.c.
 *
 * A thread holds one connection from its first statement until that
 * statement's rows are read, or, in a transaction, until it ends; statements
 * a row callback runs go to the same connection. Values are always bound
 * parameters (PQexecPrepared), never SQL text. Every failure is mapped to a
 * store result: a broken rule to STORE_CONFLICT, a full disk to STORE_FULL,
 * a server out of reach, shutting down, too slow or in a serialization
 * failure or deadlock that retries did not cure to STORE_UNAVAILABLE; a
 * transaction's journal lets it be run again whole (journal_add).
 */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistr.h>

#include "../ops.h"
#include "pg.h"

#define STMT_CACHE 96
/* store-copy binds a whole row of the widest table */
#define MAX_PARAMS 32
#define TEXTOID 25
#define BLOB_COLS 32
/* how long a statement waits for a free connection before it answers STORE_UNAVAILABLE */
#define POOL_WAIT_SECONDS 10
/*
 * A statement outside a transaction, or a whole transaction (its journal),
 * that met a serialization failure or a deadlock runs again, this many times
 */
#define RETRIES 3
/* what a transaction's journal holds at most; a larger transaction is not run again */
#define JOURNAL_MAX 1024
#define JOURNAL_BYTES (1 << 20)
/* libpq's default waits as long as the kernel's TCP connect does: minutes */
#define CONNECT_TIMEOUT "5"
/* what begins a transaction: the write lock first (begin_tx says why) */
#define BEGIN_SQL                                                                                  \
	"BEGIN; SET LOCAL lock_timeout = '5s';"                                                    \
	" SELECT pg_advisory_xact_lock(" PG_LOCK_WRITE ");"                                        \
	" SET LOCAL lock_timeout = DEFAULT"

/* A statement prepared on one connection, its parameters and its last result. */
struct pstmt {
	const char *sql; /* keyed by address: every caller passes a literal */
	char name[16];
	int nparams;
	const char *values[MAX_PARAMS];
	int lengths[MAX_PARAMS];
	int formats[MAX_PARAMS];
	char numbers[MAX_PARAMS][24];
	char *cleaned[MAX_PARAMS];	 /* texts made UTF-8 for this run, malloc'd */
	unsigned char *blobs[BLOB_COLS]; /* bytea columns of the current row, PQfreemem'd */
	PGresult *res;
	int row;
	struct pconn *conn;
};

struct pconn {
	PGconn *pg;
	unsigned generation; /* the pool's generation when it connected */
	struct pstmt *stmts[STMT_CACHE];
	int nstmts;
};

/*
 * The pool. Global because every thread draws from it; set up by open_store
 * before any other thread exists. A connection lost to a server restart
 * bumps `generation`, and idle connections of an older one are dropped
 * rather than lent: the restart took them all.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct pconn **idle;
	int nidle, nopen, max;
	int waiting;	 /* callers in pool_wait with no connection for them */
	uint64_t waits;	 /* callers that had to wait, since the pool was made */
	int64_t wait_ns; /* what they waited, together */
	unsigned generation;
	char *dsn;	/* may hold a password: cleansed at close */
	char *password; /* the DSN's, to scrub from libpq's messages */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .freed = PTHREAD_COND_INITIALIZER};

/* The calling thread's connection, and why its last stmt_get failed. */
static _Thread_local struct pconn *held;
static _Thread_local int busy;		  /* statements running or being read on `held` */
static _Thread_local int tx_depth;	  /* 0 outside a transaction; savepoints above 1 */
static _Thread_local bool tx_from_nested; /* the transaction began as a savepoint */
static _Thread_local int get_failed;
static _Thread_local int64_t last_changed;

/*
 * A bulk transaction (a sync's) sends its writes in libpq's pipeline mode:
 * they go out without waiting for each answer, and their answers are read
 * in batches. `pending` holds, for each write sent and not yet answered,
 * whether it must change a row. The first failure among them is what the
 * next read, savepoint or commit answers; the transaction is then lost.
 */
#define PIPE_BATCH 256
static _Thread_local bool bulk_tx, piping;
static _Thread_local bool pending[PIPE_BATCH];
static _Thread_local int npending;

/*
 * The journal of the thread's transaction: each statement it ran, its
 * parameters, and a digest of what the server answered. A serialization
 * failure or a deadlock loses the whole transaction on the server; the
 * driver then runs it again from the journal, and goes on only when every
 * statement answers exactly what it answered before. The caller decided on
 * those answers, so the statements it goes on with are still the right ones,
 * and it never learns of the retry. A bulk transaction, or one too large
 * for the journal (`off`), is not run again: it answers STORE_UNAVAILABLE.
 */
struct jentry {
	struct pstmt *p; /* NULL for a command */
	const char *sql; /* the command (a literal) */
	char *values[MAX_PARAMS];
	int lengths[MAX_PARAMS], formats[MAX_PARAMS];
	unsigned char digest[32];
};

static _Thread_local struct {
	struct jentry *e;
	int n, cap;
	size_t bytes;
	bool off;
} journal;

/* libpq's message with the DSN's password, should it ever appear, replaced by stars. */
static void scrub(char *msg)
{
	size_t n;
	char *at;

	if (pool.password == NULL || (n = strlen(pool.password)) == 0)
		return;
	while ((at = strstr(msg, pool.password)) != NULL)
		memset(at, '*', n);
}

/*
 * A libpq message as one line for authd's log or an error (libpq puts its
 * hints on lines of their own), cut to len; the password is scrubbed from
 * the whole message first, so that no cut leaves a piece of it behind.
 */
static void message_line(const char *msg, char *out, size_t len)
{
	char *whole = strdup(msg);
	size_t n;

	if (whole == NULL) {
		snprintf(out, len, "(a message; out of memory)");
		return;
	}
	scrub(whole);
	snprintf(out, len, "%s", whole);
	free(whole);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	for (char *p = out; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

static void log_pg(const char *what, const char *msg)
{
	char text[1024];

	message_line(msg ? msg : "", text, sizeof(text));
	log_msg(LOG_ERROR, "store: %s%s%s", what, what[0] ? ": " : "", text);
}

static void reset(struct pstmt *p);
static int drain(void);

static void conn_free(struct pconn *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->nstmts; i++) {
		reset(c->stmts[i]);
		free(c->stmts[i]);
	}
	PQfinish(c->pg);
	free(c);
}

/*
 * How long a connection attempt waits for the server, in seconds: the DSN's
 * connect_timeout, or PGCONNECT_TIMEOUT's, or CONNECT_TIMEOUT. Without one,
 * a server whose packets are lost (a host down) holds the attempt for as
 * long as the kernel tries, and main.c's once-a-second store_ping with it.
 */
static const char *connect_timeout(void)
{
	const char *env = getenv("PGCONNECT_TIMEOUT");

	return env != NULL && env[0] != '\0' ? env : CONNECT_TIMEOUT;
}

/* A new connection, or NULL (logged). */
static PGconn *connect_db(const char *dsn, struct failure *err)
{
	/*
	 * dbname with expand_dbname reads the whole DSN (keywords or URI), whose
	 * values override those before it: connect_timeout is a default only;
	 * authd names itself
	 */
	const char *keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
	const char *values[] = {connect_timeout(), dsn, "authd", NULL};
	PGconn *pg = PQconnectdbParams(keys, values, 1);
	char text[1024];

	if (pg != NULL && PQstatus(pg) == CONNECTION_OK)
		return pg;
	message_line(pg ? PQerrorMessage(pg) : "out of memory", text, sizeof(text));
	failure_set(err, "cannot connect to PostgreSQL: %s", text);
	PQfinish(pg);
	return NULL;
}

static struct pconn *conn_new(void)
{
	struct pconn *c = calloc(1, sizeof(*c));
	struct failure err;

	if (c == NULL)
		return NULL;
	c->pg = connect_db(pool.dsn, &err);
	if (c->pg == NULL) {
		log_msg(LOG_ERROR, "store: %s", err.message);
		free(c);
		return NULL;
	}
	return c;
}

/* Waits for a free slot; 0 when one is ours (an idle connection in *out, or room for one). */
static int pool_wait(struct pconn **out)
{
	struct timespec until;
	int64_t began = 0;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += POOL_WAIT_SECONDS;
	pthread_mutex_lock(&pool.lock);
	/* counted for /metrics: a pool too small for the load shows as waits */
	if (pool.nidle == 0 && pool.nopen >= pool.max) {
		began = monotonic_ns();
		pool.waiting++;
		pool.waits++;
	}
	while (rc == 0 && pool.nidle == 0 && pool.nopen >= pool.max)
		rc = pthread_cond_timedwait(&pool.freed, &pool.lock, &until);
	if (began != 0) {
		pool.waiting--;
		pool.wait_ns += monotonic_ns() - began;
	}
	if (rc != 0) {
		pthread_mutex_unlock(&pool.lock);
		return -1;
	}
	*out = NULL;
	while (pool.nidle > 0 && *out == NULL) {
		struct pconn *c = pool.idle[--pool.nidle];

		if (c->generation == pool.generation && PQstatus(c->pg) == CONNECTION_OK)
			*out = c;
		else {
			pool.nopen--;
			conn_free(c); /* PQfinish of a dead socket does not block */
		}
	}
	if (*out == NULL)
		pool.nopen++;
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

/* The calling thread's connection, taken from the pool on first use; NULL with get_failed. */
static struct pconn *acquire(void)
{
	struct pconn *c;
	unsigned gen;

	if (held != NULL)
		return held;
	if (pool_wait(&c) != 0) {
		log_msg(LOG_ERROR, "store: no free connection in %d s (maxConnections %d)",
			POOL_WAIT_SECONDS, pool.max);
		get_failed = STORE_UNAVAILABLE;
		return NULL;
	}
	if (c == NULL) {
		pthread_mutex_lock(&pool.lock);
		gen = pool.generation;
		pthread_mutex_unlock(&pool.lock);
		c = conn_new();
		if (c == NULL) {
			pthread_mutex_lock(&pool.lock);
			pool.nopen--;
			pthread_cond_signal(&pool.freed);
			pthread_mutex_unlock(&pool.lock);
			get_failed = STORE_UNAVAILABLE;
			return NULL;
		}
		c->generation = gen;
	}
	held = c;
	return c;
}

/* Gives the thread's connection back once nothing runs on it and no transaction holds it. */
static void release(void)
{
	struct pconn *c = held;

	if (c == NULL || busy > 0 || tx_depth > 0)
		return;
	held = NULL;
	pthread_mutex_lock(&pool.lock);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		pool.generation++;
		pool.nopen--;
		conn_free(c);
	} else {
		pool.idle[pool.nidle++] = c;
	}
	pthread_cond_signal(&pool.freed);
	pthread_mutex_unlock(&pool.lock);
}

/*
 * What a failed command means to the caller, logged. SQLSTATE classes:
 * 23 integrity (a unique or foreign key rule), 53100 disk full, 40001 and
 * 40P01 serialization failure and deadlock, 57014 a statement timeout or
 * cancel, 55P03 a lock not had in time, 57P0x the server shutting down, 08 the connection; a result
 * with no SQLSTATE is a connection libpq lost.
 */
static int map_error(PGconn *pg, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state != NULL && strncmp(state, "23", 2) == 0)
		return STORE_CONFLICT;
	log_pg(state && strcmp(state, "57014") == 0 ? "statement timeout or cancel" : "",
	       res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
	if (state == NULL || PQstatus(pg) != CONNECTION_OK)
		return STORE_UNAVAILABLE;
	if (strcmp(state, "53100") == 0)
		return STORE_FULL;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "57014") == 0 || strncmp(state, "57P0", 4) == 0 ||
	    strncmp(state, "08", 2) == 0 || strcmp(state, "53300") == 0 ||
	    strcmp(state, "55P03") == 0)
		return STORE_UNAVAILABLE;
	return STORE_ERROR;
}

static bool retryable(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

/* ---- the transaction's journal ---- */

static void journal_clear(void)
{
	for (int i = 0; i < journal.n; i++)
		for (int k = 0; k < MAX_PARAMS; k++)
			free(journal.e[i].values[k]);
	free(journal.e);
	memset(&journal, 0, sizeof(journal));
}

static void digest_update(EVP_MD_CTX *ctx, const void *v, size_t n)
{
	EVP_DigestUpdate(ctx, &n, sizeof(n));
	EVP_DigestUpdate(ctx, v, n);
}

/* What a statement answered, its rows or its failure, as a SHA-256 digest; 0, or -1. */
static int digest_result(const PGresult *res, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ExecStatusType s = PQresultStatus(res);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	int rows = PQntuples(res), cols = PQnfields(res);

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	digest_update(ctx, &s, sizeof(s));
	digest_update(ctx, state ? state : "", state ? strlen(state) : 0);
	digest_update(ctx, PQcmdTuples((PGresult *)res), strlen(PQcmdTuples((PGresult *)res)));
	digest_update(ctx, &rows, sizeof(rows));
	digest_update(ctx, &cols, sizeof(cols));
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols; c++) {
			bool null = PQgetisnull(res, r, c);

			digest_update(ctx, &null, sizeof(null));
			digest_update(ctx, PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c));
		}
	EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return 0;
}

/* Copies what p ran with into e; the bytes it took, or -1. */
static long copy_params(struct jentry *e, const struct pstmt *p)
{
	long bytes = 0;

	for (int i = 0; i < p->nparams; i++) {
		size_t n;

		if (p->values[i] == NULL)
			continue;
		n = p->formats[i] ? (size_t)p->lengths[i] : strlen(p->values[i]) + 1;
		e->values[i] = malloc(n ? n : 1);
		if (e->values[i] == NULL)
			return -1;
		memcpy(e->values[i], p->values[i], n);
		e->lengths[i] = p->lengths[i];
		e->formats[i] = p->formats[i];
		bytes += (long)n;
	}
	return bytes;
}

/* Notes a statement of the transaction (p, or the command sql) and what it answered. */
static void journal_add(struct pstmt *p, const char *sql, const PGresult *res)
{
	struct jentry *e;
	long bytes;

	if (tx_depth == 0 || bulk_tx || journal.off)
		return;
	if (journal.n == journal.cap) {
		int cap = journal.cap ? journal.cap * 2 : 16;
		struct jentry *grown =
		    cap > JOURNAL_MAX ? NULL : realloc(journal.e, (size_t)cap * sizeof(*grown));

		if (grown == NULL)
			goto off;
		journal.e = grown;
		journal.cap = cap;
	}
	e = &journal.e[journal.n++];
	memset(e, 0, sizeof(*e));
	e->p = p;
	e->sql = sql;
	bytes = p ? copy_params(e, p) : 0;
	journal.bytes += bytes > 0 ? (size_t)bytes : 0;
	if (bytes < 0 || journal.bytes > JOURNAL_BYTES || digest_result(res, e->digest) != 0)
		goto off;
	return;
off:
	journal_clear();
	journal.off = true;
}

/* A statement of the journal, run again. */
static PGresult *journal_run(PGconn *pg, const struct jentry *e)
{
	if (e->p == NULL)
		return PQexec(pg, e->sql);
	return PQexecPrepared(pg, e->p->name, e->p->nparams, (const char *const *)e->values,
			      e->lengths, e->formats, 0);
}

/* replay's answer when the transaction met another serialization failure or deadlock */
#define AGAIN 1

/*
 * Rolls the lost transaction back and runs it again from its journal:
 * STORE_OK when every statement answered as before; AGAIN on another
 * serialization failure or deadlock; STORE_UNAVAILABLE when the answers
 * changed, or another failure.
 */
static int replay(PGconn *pg)
{
	PGresult *res;
	unsigned char digest[32];
	int rc = STORE_OK;

	PQclear(PQexec(pg, "ROLLBACK"));
	res = PQexec(pg, BEGIN_SQL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = retryable(res) ? AGAIN : map_error(pg, res);
	PQclear(res);
	for (int i = 0; i < journal.n && rc == STORE_OK; i++) {
		res = journal_run(pg, &journal.e[i]);
		if (retryable(res))
			rc = AGAIN;
		else if (digest_result(res, digest) != 0 ||
			 memcmp(digest, journal.e[i].digest, sizeof(digest)) != 0) {
			log_msg(LOG_ERROR, "store: a transaction run again after a serialization "
					   "failure or deadlock was answered otherwise; given up");
			rc = STORE_UNAVAILABLE;
		}
		PQclear(res);
	}
	return rc < 0 ? STORE_UNAVAILABLE : rc;
}

/*
 * After a serialization failure or a deadlock at *attempt: waits a little,
 * and in a transaction runs it again from its journal, for as many of the
 * RETRIES as that takes. STORE_OK to run the failed statement again;
 * otherwise, what to answer (STORE_UNAVAILABLE).
 */
static int recover(PGconn *pg, int *attempt)
{
	if (tx_depth > 0 && (bulk_tx || journal.off))
		return STORE_UNAVAILABLE;
	for (; *attempt < RETRIES; ++*attempt) {
		struct timespec ts = {0, (*attempt + 1) * 10 * 1000 * 1000};
		int rc;

		nanosleep(&ts, NULL);
		if (tx_depth == 0)
			return STORE_OK;
		log_msg(LOG_WARN,
			"store: serialization failure or deadlock; the transaction runs "
			"again (%d of %d)",
			*attempt + 1, RETRIES);
		rc = replay(pg);
		if (rc != AGAIN)
			return rc;
	}
	return STORE_UNAVAILABLE;
}

/*
 * SQLite's ?N parameters as PostgreSQL's $N, outside quoted text; *nparams
 * is the highest N, and used[] marks those the text names (PostgreSQL
 * cannot type a parameter the text never uses). malloc'd, or NULL.
 */
static char *translate(const char *sql, int *nparams, bool used[MAX_PARAMS])
{
	char *out = malloc(strlen(sql) + 1), *o = out;
	bool quoted = false;

	*nparams = 0;
	if (out == NULL)
		return NULL;
	for (const char *p = sql; *p != '\0'; p++) {
		if (*p == '\'')
			quoted = !quoted;
		if (quoted || *p != '?' || !isdigit((unsigned char)p[1])) {
			*o++ = *p;
			continue;
		}
		int n = atoi(p + 1);

		if (n < 1 || n > MAX_PARAMS) {
			free(out);
			return NULL;
		}
		used[n - 1] = true;
		if (n > *nparams)
			*nparams = n;
		*o++ = '$';
	}
	*o = '\0';
	return out;
}

static struct pstmt *prepare(struct pconn *c, const char *sql)
{
	bool used[MAX_PARAMS] = {false};
	Oid types[MAX_PARAMS] = {0};
	struct pstmt *p;
	PGresult *res;
	char *text;

	if (c->nstmts == STMT_CACHE) {
		log_msg(LOG_ERROR, "store: statement cache full (raise STMT_CACHE)");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	text = p ? translate(sql, &p->nparams, used) : NULL;
	if (text == NULL) {
		log_msg(LOG_ERROR, "store: cannot prepare a statement (memory or parameters)");
		free(p);
		return NULL;
	}
	for (int i = 0; i < p->nparams; i++)
		types[i] = used[i] ? 0 : TEXTOID; /* the text types those it names */
	snprintf(p->name, sizeof(p->name), "s%d", c->nstmts);
	res = PQprepare(c->pg, p->name, text, p->nparams, types);
	free(text);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		get_failed = map_error(c->pg, res);
		if (get_failed >= 0)
			get_failed = STORE_ERROR;
		PQclear(res);
		free(p);
		return NULL;
	}
	PQclear(res);
	p->sql = sql;
	p->conn = c;
	c->stmts[c->nstmts++] = p;
	return p;
}

static struct pstmt *raw(struct stmt *st)
{
	return (struct pstmt *)st;
}

static void reset(struct pstmt *p)
{
	PQclear(p->res);
	p->res = NULL;
	p->row = 0;
	for (int i = 0; i < BLOB_COLS; i++) {
		PQfreemem(p->blobs[i]);
		p->blobs[i] = NULL;
	}
	for (int i = 0; i < MAX_PARAMS; i++) {
		free(p->cleaned[i]);
		p->cleaned[i] = NULL;
		p->values[i] = NULL;
		p->lengths[i] = 0;
		p->formats[i] = 0;
	}
}

static struct stmt *get(const char *sql)
{
	struct pconn *c = acquire();

	get_failed = STORE_ERROR;
	if (c == NULL) {
		get_failed = STORE_UNAVAILABLE;
		return NULL;
	}
	for (int i = 0; i < c->nstmts; i++)
		if (c->stmts[i]->sql == sql) {
			reset(c->stmts[i]);
			return (struct stmt *)c->stmts[i];
		}
	int piped = drain();
	struct pstmt *p = piped == STORE_OK ? prepare(c, sql) : NULL;

	if (piped != STORE_OK)
		get_failed = piped;

	if (p == NULL)
		release();
	return (struct stmt *)p;
}

static bool in_range(struct pstmt *p, int i)
{
	return i >= 1 && i <= p->nparams;
}

static void bind_text(struct stmt *st, int i, const char *v)
{
	if (in_range(raw(st), i))
		raw(st)->values[i - 1] = v;
}

static void bind_int(struct stmt *st, int i, int64_t v)
{
	struct pstmt *p = raw(st);

	if (!in_range(p, i))
		return;
	snprintf(p->numbers[i - 1], sizeof(p->numbers[i - 1]), "%lld", (long long)v);
	p->values[i - 1] = p->numbers[i - 1];
}

static void bind_bool(struct stmt *st, int i, bool v)
{
	if (in_range(raw(st), i))
		raw(st)->values[i - 1] = v ? "true" : "false";
}

static void bind_blob(struct stmt *st, int i, const void *v, size_t len)
{
	struct pstmt *p = raw(st);

	if (!in_range(p, i))
		return;
	p->values[i - 1] = v;
	p->lengths[i - 1] = (int)len;
	p->formats[i - 1] = 1; /* binary: bytea's bytes as they are */
}

/*
 * Makes every text parameter UTF-8: SQLite takes any bytes, the server
 * refuses text that is not UTF-8, and in a transaction the whole transaction
 * with it. What the API stores is UTF-8 (JSON is), so a key with a sequence
 * that is not, as U+FFFD, still matches nothing, as on SQLite. 0, or -1 for
 * want of memory.
 */
static int make_texts_utf8(struct pstmt *p)
{
	for (int i = 0; i < p->nparams; i++) {
		const char *v = p->values[i];
		size_t n;

		if (v == NULL || p->formats[i] != 0 ||
		    u8_check((const uint8_t *)v, strlen(v)) == NULL)
			continue;
		n = strlen(v) * 3 + 1; /* each byte may become U+FFFD's three */
		free(p->cleaned[i]);
		p->cleaned[i] = malloc(n);
		if (p->cleaned[i] == NULL)
			return -1;
		p->values[i] = utf8_clean(p->cleaned[i], n, v);
	}
	return 0;
}

/*
 * Runs p on its connection, its result in p->res. A serialization failure
 * or a deadlock runs it again, a few times: alone outside a transaction,
 * after the transaction's journal inside one (recover).
 */
static int run(struct pstmt *p)
{
	PGconn *pg = p->conn->pg;
	int rc = STORE_OK;

	if (make_texts_utf8(p) != 0)
		return STORE_ERROR;
	for (int attempt = 0;; attempt++) {
		ExecStatusType s;

		p->res =
		    PQexecPrepared(pg, p->name, p->nparams, p->values, p->lengths, p->formats, 0);
		s = PQresultStatus(p->res);
		if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
			journal_add(p, NULL, p->res);
			return STORE_OK;
		}
		if (attempt < RETRIES && retryable(p->res) && recover(pg, &attempt) == STORE_OK) {
			PQclear(p->res);
			continue;
		}
		/* a refused rule may be rolled back to a savepoint: a replay meets it again */
		journal_add(p, NULL, p->res);
		rc = map_error(pg, p->res);
		PQclear(p->res);
		p->res = NULL;
		return rc;
	}
}

/* Ends a statement's use of the connection. */
static int done(int rc)
{
	busy--;
	release();
	return rc;
}

/* One answer of the pipeline: STORE_OK, or what it failed with. */
static int pipe_answer(PGconn *pg, PGresult *res, bool need_row)
{
	ExecStatusType s = PQresultStatus(res);
	int rc;

	if (s == PGRES_PIPELINE_ABORTED)
		return STORE_ERROR; /* an earlier write failed: its own answer says why */
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		rc = map_error(pg, res);
		return rc >= 0 && rc != STORE_CONFLICT ? STORE_ERROR : rc;
	}
	last_changed = strtoll(PQcmdTuples(res), NULL, 10);
	return need_row && last_changed == 0 ? STORE_NOT_FOUND : STORE_OK;
}

/* Reads every answer the pipeline owes and leaves pipeline mode; the first failure, if any. */
static int drain(void)
{
	PGconn *pg;
	int rc = STORE_OK, got = 0, nulls = 0;

	if (!piping)
		return STORE_OK;
	pg = held->pg;
	piping = false;
	if (PQpipelineSync(pg) != 1)
		rc = STORE_UNAVAILABLE;
	while (rc != STORE_UNAVAILABLE) {
		PGresult *res = PQgetResult(pg);

		if (res == NULL) {
			/* each answer ends with a NULL; more than that is a lost connection */
			if (++nulls > npending + 1 &&
			    (PQstatus(pg) != CONNECTION_OK || nulls > npending + 16))
				rc = STORE_UNAVAILABLE;
			continue;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		if (got < npending) {
			int r = pipe_answer(pg, res, pending[got]);

			if (rc == STORE_OK || (rc == STORE_ERROR && r != STORE_ERROR))
				rc = r;
			got++;
		}
		PQclear(res);
	}
	npending = 0;
	if (PQstatus(pg) == CONNECTION_OK)
		PQexitPipelineMode(pg);
	return rc;
}

/* A write of a bulk transaction, sent into the pipeline; a failure of an earlier one, if read. */
static int pipe_exec(struct pstmt *p, bool need_row)
{
	PGconn *pg = p->conn->pg;

	if (!piping) {
		if (PQenterPipelineMode(pg) != 1)
			return STORE_ERROR;
		piping = true;
	}
	if (make_texts_utf8(p) != 0 || PQsendQueryPrepared(pg, p->name, p->nparams, p->values,
							   p->lengths, p->formats, 0) != 1) {
		int rc = drain();

		return rc != STORE_OK ? rc : map_error(pg, NULL);
	}
	pending[npending++] = need_row;
	return npending == PIPE_BATCH ? drain() : STORE_OK;
}

/* Runs a statement stmt_get made: STORE_OK with its result to read (then done), or a failure. */
static int start(struct pstmt *p)
{
	int rc;

	if (p == NULL)
		return get_failed;
	rc = drain();
	if (rc != STORE_OK)
		return rc;
	busy++;
	rc = run(p);
	return rc == STORE_OK ? rc : done(rc);
}

static int exec(struct stmt *st, bool need_row)
{
	struct pstmt *p = raw(st);
	int rc;

	if (p != NULL && bulk_tx && tx_depth == 1)
		return pipe_exec(p, need_row);
	rc = start(p);

	if (rc != STORE_OK)
		return rc;
	last_changed = strtoll(PQcmdTuples(p->res), NULL, 10);
	PQclear(p->res);
	p->res = NULL;
	if (need_row && last_changed == 0)
		return done(STORE_NOT_FOUND);
	return done(STORE_OK);
}

static int64_t changed(void)
{
	drain();
	return last_changed;
}

static int each(struct stmt *st, row_fn row, void *ctx)
{
	struct pstmt *p = raw(st);
	int rc = start(p), n;
	PGresult *res;

	if (rc != STORE_OK)
		return rc;
	/* as in SQLite, a callback must not run this same statement again */
	res = p->res;
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		p->row = i;
		if (row(st, ctx) != 0)
			break;
	}
	PQclear(res);
	p->res = NULL;
	return done(STORE_OK);
}

static int one(struct stmt *st, row_fn row, void *ctx)
{
	struct pstmt *p = raw(st);
	int rc = start(p);

	if (rc != STORE_OK)
		return rc;
	if (PQntuples(p->res) == 0) {
		rc = STORE_NOT_FOUND;
	} else {
		p->row = 0;
		row(st, ctx);
	}
	PQclear(p->res);
	p->res = NULL;
	return done(rc);
}

static const char *column_text(struct stmt *st, int col)
{
	return PQgetvalue(raw(st)->res, raw(st)->row, col);
}

static bool column_null(struct stmt *st, int col)
{
	return PQgetisnull(raw(st)->res, raw(st)->row, col);
}

/* A number, or a boolean (EXISTS answers one) as 0 or 1. */
static int64_t column_int(struct stmt *st, int col)
{
	const char *v = column_text(st, col);

	if (v[0] == 't')
		return 1;
	return strtoll(v, NULL, 10);
}

static bool column_bool(struct stmt *st, int col)
{
	return column_int(st, col) != 0;
}

/*
 * bytea comes as text (\x and hex): its bytes, kept until the same column
 * is read again or the statement is reset.
 */
static const void *column_blob(struct stmt *st, int col, size_t *len)
{
	struct pstmt *p = raw(st);

	*len = 0;
	if (col < 0 || col >= BLOB_COLS)
		return NULL;
	PQfreemem(p->blobs[col]);
	p->blobs[col] = PQunescapeBytea((const unsigned char *)column_text(st, col), len);
	if (p->blobs[col] == NULL)
		*len = 0;
	return p->blobs[col];
}

/* ---- transactions ---- */

/* A command without parameters on the thread's connection. */
static int command(const char *sql)
{
	struct pconn *c = acquire();
	PGresult *res;
	ExecStatusType s;
	int rc = STORE_OK;

	if (c == NULL)
		return STORE_UNAVAILABLE;
	rc = drain();
	if (rc != STORE_OK)
		return rc;
	res = PQexec(c->pg, sql);
	s = PQresultStatus(res);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		rc = map_error(c->pg, res);
		if (rc >= 0)
			rc = STORE_ERROR;
	}
	PQclear(res);
	return rc;
}

/*
 * A command of the open transaction (a savepoint's, COMMIT), journaled but
 * for COMMIT. A serialization failure or deadlock (at COMMIT, under an
 * isolation level an operator set) runs the transaction again first.
 */
static int tx_command(const char *sql)
{
	PGconn *pg = held ? held->pg : NULL;
	int rc = pg ? drain() : STORE_UNAVAILABLE;

	for (int attempt = 0; rc == STORE_OK; attempt++) {
		PGresult *res = PQexec(pg, sql);
		ExecStatusType s = PQresultStatus(res);

		if (s != PGRES_COMMAND_OK && attempt < RETRIES && retryable(res) &&
		    recover(pg, &attempt) == STORE_OK) {
			PQclear(res);
			continue;
		}
		if (strcmp(sql, "COMMIT") != 0)
			journal_add(NULL, sql, res);
		if (s != PGRES_COMMAND_OK) {
			rc = map_error(pg, res);
			rc = rc >= 0 ? STORE_ERROR : rc;
		}
		PQclear(res);
		return rc;
	}
	return rc;
}

/*
 * A transaction takes the write lock up front, as the SQLite driver's
 * BEGIN IMMEDIATE does: transactions run one at a time, across every authd
 * on the database, so one never fails half-way on another's rows. Single
 * statements outside one take no lock: each is atomic, and a write waits
 * only for the rows it changes. What the lock cannot keep away (a single
 * statement's row locks, another client of the database, an isolation
 * level an operator set) may still end a transaction in a deadlock or a
 * serialization failure: its journal runs it again (recover). As SQLite's
 * writer gives up after about 5 s, so does this one (55P03,
 * STORE_UNAVAILABLE): a sync of a large directory may hold the lock longer.
 */
static int begin_tx(void)
{
	int rc;

	journal_clear();
	tx_depth = 1;
	rc = command(BEGIN_SQL);
	if (rc != STORE_OK) {
		if (held != NULL && PQstatus(held->pg) == CONNECTION_OK)
			PQclear(PQexec(held->pg, "ROLLBACK"));
		tx_depth = 0;
		release();
	}
	return rc;
}

static int begin(bool bulk)
{
	int rc;

	if (tx_depth > 0) {
		log_msg(LOG_ERROR, "store: a transaction began inside another");
		return STORE_ERROR;
	}
	tx_from_nested = false;
	rc = begin_tx();
	bulk_tx = bulk && rc == STORE_OK;
	return rc;
}

static void end_tx(void)
{
	journal_clear();
	bulk_tx = false;
	tx_depth = 0;
	tx_from_nested = false;
	release();
}

static int commit(void)
{
	int rc;

	if (tx_depth == 0)
		return STORE_ERROR;
	/* the writes still in the pipeline first: a failure among them leaves it to roll back */
	rc = drain();
	if (rc != STORE_OK)
		return rc;
	rc = tx_command("COMMIT");
	/* a failed COMMIT ended the transaction too; store_rollback finds nothing to undo */
	end_tx();
	return rc;
}

static void rollback(void)
{
	if (tx_depth == 0)
		return;
	drain();
	if (held != NULL && PQstatus(held->pg) == CONNECTION_OK)
		PQclear(PQexec(held->pg, "ROLLBACK"));
	end_tx();
}

/* Outside a transaction a savepoint is a transaction of its own, as in SQLite. */
static int begin_nested(void)
{
	int rc;

	if (tx_depth == 0) {
		rc = begin_tx();
		tx_from_nested = rc == STORE_OK;
		return rc;
	}
	rc = tx_command("SAVEPOINT nested");
	if (rc == STORE_OK)
		tx_depth++;
	return rc;
}

static int commit_nested(void)
{
	int rc;

	if (tx_depth == 1 && tx_from_nested)
		return commit();
	if (tx_depth < 2)
		return STORE_ERROR;
	rc = tx_command("RELEASE nested");
	if (rc == STORE_OK)
		tx_depth--;
	return rc;
}

static void rollback_nested(void)
{
	if (tx_depth == 1 && tx_from_nested) {
		rollback();
		return;
	}
	if (tx_depth < 2)
		return;
	tx_command("ROLLBACK TO nested; RELEASE nested");
	tx_depth--;
}

/*
 * The shared connection is SQLite's cure for its page cache; a server has
 * one cache for all, so none is lent (store.h): the callers' statements run
 * on the thread's own connection, from the pool, as every other statement.
 */
static bool shared_begin(long wait_us)
{
	(void)wait_us;
	return false;
}

static void shared_end(void)
{
}

static void checkpoint(void)
{
}

/* ---- a sync's batches (store.h's *_many) ---- */

#define MAX_COLUMNS 8

/* Binds each column as an array, ?1 up, and `now` after them; runs the write. */
static int run_columns(const char *sql, const struct pg_column *cols, int ncols, int64_t now)
{
	char *arrays[MAX_COLUMNS] = {NULL};
	struct stmt *st;
	int rc = ncols <= MAX_COLUMNS ? STORE_OK : STORE_ERROR;

	for (int i = 0; i < ncols && rc == STORE_OK; i++)
		if ((arrays[i] = pg_text_array(&cols[i])) == NULL)
			rc = STORE_ERROR;
	if (rc == STORE_OK && (st = get(sql)) == NULL)
		rc = get_failed;
	if (rc == STORE_OK) {
		for (int i = 0; i < ncols; i++)
			bind_text(st, i + 1, arrays[i]);
		bind_int(st, ncols + 1, now);
		rc = exec(st, false); /* the values are sent when it returns */
	}
	for (int i = 0; i < MAX_COLUMNS; i++)
		free(arrays[i]);
	return rc;
}

static struct pg_column account_col(const struct account *a, size_t n, size_t at)
{
	return (struct pg_column){a, n, sizeof(*a), at, false};
}

static int imported_insert_many(const struct account *a, size_t n, int64_t now)
{
	/* the columns and values of store_account_insert and store_imported_insert */
	static const char accounts[] =
	    "INSERT INTO accounts (id, name, full_name, is_org, is_admin, is_active, is_imported,"
	    " ldap_dn, password_hash, created_at, updated_at, ldap_id)"
	    " SELECT u.id, u.name, u.full_name, false, u.is_admin, u.is_active, true, u.dn, NULL,"
	    " u.created, u.created, u.ldap_id FROM unnest(?1::text[], ?2::text[], ?3::text[],"
	    " ?4::text[], ?5::text[], ?6::boolean[], ?7::boolean[], ?8::bigint[])"
	    " AS u(id, name, full_name, dn, ldap_id, is_admin, is_active, created)";
	static const char collections[] =
	    "INSERT INTO collections (id, name, parent_id, path, created_at)"
	    " SELECT u.id, u.name, 'private', '/Shared/Private/' || u.name, ?3"
	    " FROM unnest(?1::text[], ?2::text[]) AS u(id, name) ON CONFLICT DO NOTHING";
	static const char grants[] =
	    "INSERT INTO grants (subject_id, collection_id, role_id)"
	    " SELECT u.id, c.id, s.value FROM unnest(?1::text[], ?2::text[]) AS u(id, name)"
	    " JOIN collections c ON c.path = '/Shared/Private/' || u.name"
	    " JOIN settings s ON s.key = 'defaultNewUserRole' ON CONFLICT DO NOTHING";
	char(*ids)[ID_LEN] = pg_new_ids(n);
	const char **flags = malloc(2 * n * sizeof(*flags)); /* is_admin, then is_active */
	char(*created)[24] = malloc(n * sizeof(*created));
	int rc = STORE_ERROR;

	for (size_t i = 0; flags != NULL && created != NULL && i < n; i++) {
		flags[i] = a[i].is_admin ? "t" : "f";
		flags[n + i] = a[i].is_active ? "t" : "f";
		snprintf(created[i], sizeof(*created), "%lld", (long long)a[i].created_at);
	}
	if (ids != NULL && flags != NULL && created != NULL) {
		const struct pg_column cols[] = {
		    account_col(a, n, offsetof(struct account, id)),
		    account_col(a, n, offsetof(struct account, name)),
		    account_col(a, n, offsetof(struct account, full_name)),
		    account_col(a, n, offsetof(struct account, ldap_dn)),
		    account_col(a, n, offsetof(struct account, ldap_id)),
		    {flags, n, sizeof(*flags), 0, true},
		    {flags + n, n, sizeof(*flags), 0, true},
		    {created, n, sizeof(*created), 0, false},
		};
		const struct pg_column made[] = {{ids, n, ID_LEN, 0, false}, cols[1]};

		rc = run_columns(accounts, cols, 8, now);
		if (rc == STORE_OK)
			rc = run_columns(collections, made, 2, now);
		if (rc == STORE_OK)
			rc = run_columns(grants, cols, 2, now);
	}
	free(ids);
	free(flags);
	free(created);
	return rc;
}

static int members_add_many(const struct member_add *m, size_t n)
{
	/* store_org_member_ensure's and store_team_member_put's; a batch may name a pair twice */
	static const char orgs[] = "INSERT INTO org_members (org_id, user_id, is_admin)"
				   " SELECT u.org, u.usr, false FROM unnest(?1::text[], ?2::text[])"
				   " AS u(org, usr) ON CONFLICT DO NOTHING";
	static const char teams[] =
	    "INSERT INTO team_members (team_id, user_id, is_admin)"
	    " SELECT DISTINCT ON (u.team, u.usr) u.team, u.usr, false"
	    " FROM unnest(?1::text[], ?2::text[]) AS u(team, usr)"
	    " ON CONFLICT (team_id, user_id) DO UPDATE SET is_admin = excluded.is_admin";
	const size_t s = sizeof(*m);
	const struct pg_column org_cols[] = {{m, n, s, offsetof(struct member_add, org_id), true},
					     {m, n, s, offsetof(struct member_add, user_id), true}};
	const struct pg_column team_cols[] = {{m, n, s, offsetof(struct member_add, team_id), true},
					      org_cols[1]};
	int rc = run_columns(orgs, org_cols, 2, 0);

	return rc == STORE_OK ? run_columns(teams, team_cols, 2, 0) : rc;
}

/* ---- open and close ---- */

/* The DSN's password, for scrub(); NULL when it has none (it may come from PGPASSFILE). */
static char *dsn_password(const char *dsn)
{
	PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
	char *pw = NULL;

	if (opts == NULL)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
			pw = strdup(o->val);
	PQconninfoFree(opts); /* libpq's copy is not cleansed; ours is, at close */
	return pw;
}

static void forget_dsn(void)
{
	if (pool.dsn != NULL)
		OPENSSL_cleanse(pool.dsn, strlen(pool.dsn));
	if (pool.password != NULL)
		OPENSSL_cleanse(pool.password, strlen(pool.password));
	free(pool.dsn);
	free(pool.password);
	pool.dsn = pool.password = NULL;
}

/* Whether a server answers at the DSN's address, whatever it would say to our login. */
static bool answers(const char *dsn)
{
	const char *keys[] = {"connect_timeout", "dbname", NULL};
	const char *values[] = {connect_timeout(), dsn, NULL};
	PGPing ping = PQpingParams(keys, values, 1);

	/* REJECT: it answers that it cannot take connections now (starting, stopping) */
	return ping == PQPING_OK || ping == PQPING_NO_ATTEMPT;
}

static void close_all(void);

static int open_store(const struct store_target *t, struct failure *err)
{
	char *parse_error = NULL;
	PQconninfoOption *opts = PQconninfoParse(t->dsn, &parse_error);
	PGconn *pg;
	int rc;

	if (opts == NULL) {
		/* libpq's parse errors name a keyword or the URI's syntax, not the values */
		failure_set(err, "store.dsn: not a libpq connection string or URI");
		PQfreemem(parse_error);
		return -1;
	}
	PQconninfoFree(opts);
	pool.dsn = strdup(t->dsn);
	pool.password = dsn_password(t->dsn);
	pool.max = t->max_connections;
	pool.idle = calloc((size_t)pool.max, sizeof(*pool.idle));
	if (pool.dsn == NULL || pool.idle == NULL)
		return failure_set(err, "out of memory");
	pg = connect_db(pool.dsn, err);
	/*
	 * A server that was starting up (or recovering from a crash) refused us
	 * and may answer by now: then the connection is tried once more, so that
	 * only a refusal it repeats (a password, a database) stops start-up.
	 */
	if (pg == NULL && answers(pool.dsn))
		pg = connect_db(pool.dsn, err);
	if (pg == NULL) {
		rc = answers(pool.dsn) ? -1 : STORE_UNAVAILABLE;
		close_all();
		return rc;
	}
	rc = pg_migrate(pg, pg_schema_version(), err);
	PQfinish(pg);
	if (rc != 0)
		close_all();
	return rc;
}

static bool changes_wait(long timeout_ms)
{
	return pg_listen_wait(pool.dsn, timeout_ms);
}

static void pool_stats(struct store_pool_stats *out)
{
	pthread_mutex_lock(&pool.lock);
	out->open = pool.nopen;
	out->in_use = pool.nopen - pool.nidle;
	out->max = pool.max;
	out->waiting = pool.waiting;
	out->waits = pool.waits;
	out->wait_ns = pool.wait_ns;
	pthread_mutex_unlock(&pool.lock);
}

static void close_all(void)
{
	pg_listen_close();
	if (held != NULL) {
		busy = 0;
		rollback();
		tx_depth = 0;
		release();
	}
	pthread_mutex_lock(&pool.lock);
	while (pool.nidle > 0)
		conn_free(pool.idle[--pool.nidle]);
	pool.nopen = 0;
	pthread_mutex_unlock(&pool.lock);
	free(pool.idle);
	pool.idle = NULL;
	forget_dsn();
}

/* ---- what store-copy asks of a store authd does not run on ---- */

static int stored_version(const struct store_target *t, struct failure *err)
{
	PQconninfoOption *opts = PQconninfoParse(t->dsn, NULL);
	PGconn *pg;
	int v;

	if (opts == NULL)
		return failure_set(err, "store.dsn: not a libpq connection string or URI");
	PQconninfoFree(opts);
	pool.password = dsn_password(t->dsn); /* for connect_db's messages */
	pg = connect_db(t->dsn, err);
	v = pg == NULL ? -1 : pg_stored_version(pg);
	if (pg != NULL && v < 0)
		failure_set(err, "cannot read the schema version");
	PQfinish(pg);
	forget_dsn();
	return v;
}

/*
 * Several authd processes may share a database; store-copy wants none on it,
 * so that nothing changes under it: it looks for another connection that
 * calls itself authd (connect_db names each one so).
 */
static bool in_use(const struct store_target *t)
{
	struct failure err;
	PGconn *pg;
	PGresult *res;
	bool used = false;

	pool.password = dsn_password(t->dsn);
	pg = connect_db(t->dsn, &err);
	if (pg != NULL) {
		res = PQexec(pg, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
				 " current_database() AND application_name = 'authd'"
				 " AND pid <> pg_backend_pid()");
		used = PQresultStatus(res) == PGRES_TUPLES_OK && atoi(PQgetvalue(res, 0, 0)) > 0;
		PQclear(res);
	}
	PQfinish(pg);
	forget_dsn();
	return used;
}

static enum col_kind kind_of(const char *type)
{
	if (strcmp(type, "boolean") == 0)
		return COL_BOOL;
	if (strcmp(type, "bytea") == 0)
		return COL_BLOB;
	return strstr(type, "int") != NULL ? COL_INT : COL_TEXT;
}

static int column_row(struct stmt *st, void *ctx)
{
	struct store_schema *s = ctx;
	const char *table = column_text(st, 0);
	struct store_table *t = s->ntables > 0 ? &s->tables[s->ntables - 1] : NULL;
	struct store_column *c;

	if (t == NULL || strcmp(t->name, table) != 0) {
		if (s->ntables == SCHEMA_TABLES)
			return 1;
		t = &s->tables[s->ntables++];
		snprintf(t->name, sizeof(t->name), "%s", table);
	}
	if (t->ncols == SCHEMA_COLS)
		return 1;
	c = &t->cols[t->ncols++];
	snprintf(c->name, sizeof(c->name), "%s", column_text(st, 1));
	c->kind = kind_of(column_text(st, 2));
	c->pk = (int)column_int(st, 3);
	return 0;
}

/* The tables of the connection's schema (search_path's first), but authd_schema and authd_changes.
 */
static int describe(struct store_schema *out)
{
	memset(out, 0, sizeof(*out));
	return each(get("SELECT c.table_name, c.column_name, c.data_type,"
			" COALESCE(k.ordinal_position, 0)"
			" FROM information_schema.columns c"
			" JOIN information_schema.tables t ON t.table_schema = c.table_schema"
			"  AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'"
			" LEFT JOIN information_schema.table_constraints p"
			"  ON p.table_schema = c.table_schema AND p.table_name = c.table_name"
			"  AND p.constraint_type = 'PRIMARY KEY'"
			" LEFT JOIN information_schema.key_column_usage k"
			"  ON k.constraint_schema = p.constraint_schema"
			"  AND k.constraint_name = p.constraint_name"
			"  AND k.table_name = c.table_name AND k.column_name = c.column_name"
			" WHERE c.table_schema = current_schema() AND c.table_name NOT IN "
			"('authd_schema', 'authd_changes')"
			" ORDER BY c.table_name, c.ordinal_position"),
		    column_row, out);
}

/*
 * The schema's references are checked at once, row by row, and a deferred
 * check is one more query per row at the end. For the copy, whose rows come
 * in any order (a collection before its parent), they are dropped inside its
 * transaction, which nothing else sees until it commits, and made again at
 * its end from their own definitions: adding one checks every row in one
 * query.
 */
static int copy_begin(void)
{
	int rc = begin(true);

	if (rc != STORE_OK)
		return rc;
	rc = command("CREATE TEMPORARY TABLE copy_references ON COMMIT DROP AS"
		     " SELECT conrelid::regclass::text AS t, conname AS name,"
		     " pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE contype = 'f'"
		     " AND connamespace = current_schema()::regnamespace;"
		     " DO $$ DECLARE r record; BEGIN FOR r IN SELECT t, name FROM copy_references"
		     " LOOP EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.name);"
		     " END LOOP; END $$");
	if (rc != STORE_OK)
		rollback();
	return rc;
}

/* The references made again (and so checked); the counters of identity and serial columns
 * (jobs.seq, job_logs.seq, authd_changes.seq) go on past the copy's. */
static int copy_end(void)
{
	int rc = command("DO $$ DECLARE r record; BEGIN FOR r IN SELECT t, name, def"
			 " FROM copy_references LOOP EXECUTE format('ALTER TABLE %s ADD CONSTRAINT"
			 " %I %s', r.t, r.name, r.def); END LOOP; END $$");

	if (rc == STORE_OK)
		rc = command(
		    "DO $$ DECLARE r record; BEGIN FOR r IN SELECT table_name, column_name"
		    " FROM information_schema.columns WHERE table_schema = current_schema()"
		    " AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')"
		    " LOOP EXECUTE format('SELECT setval("
		    "pg_get_serial_sequence(%L, %L), COALESCE((SELECT max(%I) FROM %I), 0) + 1,"
		    " false)', r.table_name, r.column_name, r.column_name, r.table_name);"
		    " END LOOP; END $$");
	return rc;
}

/*
 * After a failed copy: the tables describe lists and authd_schema dropped, so
 * that the database is as it was before (empty) and takes the next try.
 * The names are the catalog's, of authd's own tables, never a value.
 */
static int discard(void)
{
	static struct store_schema s; /* a few hundred kB: not on the stack */
	char sql[160];
	int rc = describe(&s);

	for (int i = 0; rc == STORE_OK && i < s.ntables; i++) {
		if (strchr(s.tables[i].name, '"') != NULL)
			return STORE_ERROR;
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS \"%s\" CASCADE", s.tables[i].name);
		rc = command(sql);
	}
	if (rc == STORE_OK)
		rc = command("DROP TABLE IF EXISTS authd_changes");
	if (rc == STORE_OK)
		rc = command("DROP FUNCTION IF EXISTS authd_changes_notify()");
	return rc == STORE_OK ? command("DROP TABLE IF EXISTS authd_schema") : rc;
}

const struct store_ops postgres_ops = {
    .name = "postgres",
    .shared = true,
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
    .schema_version = pg_schema_version,
    .stored_version = stored_version,
    .in_use = in_use,
    .describe = describe,
    .copy_begin = copy_begin,
    .copy_end = copy_end,
    .discard = discard,
    .imported_insert_many = imported_insert_many,
    .members_add_many = members_add_many,
    .changes_wait = changes_wait,
    .pool_stats = pool_stats,
};
