/*
 * `authd store-copy`: every table of a stopped store, as its driver's own
 * catalog describes it, copied row by row into an empty store on the other
 * driver through the drivers' tables of functions (ops.h), in one
 * transaction on the target, then counted and checksummed on both sides.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy.h"
#include "ops.h"

/* One side of the copy: the config, its driver and target, and whether the driver is open. */
struct side {
	const struct config *cfg;
	const char *flag; /* "--from" or "--to", for messages */
	const struct store_ops *ops;
	struct store_target t;
	char *dsn; /* a dsnFile's, cleansed at the end */
	bool opened;
};

/* A table as both sides have it: the source's columns, the kinds both agree on, and its SQL. */
struct table {
	const struct store_table *desc;
	enum col_kind kinds[SCHEMA_COLS];
	char *select, *insert,
	    *clear;	 /* kept for the whole run: the drivers key statements by address */
	int64_t rows[2]; /* read from the source, read back from the target */
	unsigned char sum[2][EVP_MAX_MD_SIZE];
};

/* ---- the canonical form ---- */

static void put(EVP_MD_CTX *h, const void *p, size_t n)
{
	EVP_DigestUpdate(h, p, n);
}

void copy_hash_value(EVP_MD_CTX *h, const struct copy_value *v)
{
	char head[32];

	if (v->null) {
		put(h, "N;", 2);
		return;
	}
	switch (v->kind) {
	case COL_INT:
		snprintf(head, sizeof(head), "I%lld;", (long long)v->i);
		put(h, head, strlen(head));
		return;
	case COL_BOOL:
		put(h, v->i ? "B1;" : "B0;", 3);
		return;
	case COL_TEXT:
		snprintf(head, sizeof(head), "T%zu:", v->len);
		break;
	case COL_BLOB:
		snprintf(head, sizeof(head), "X%zu:", v->len);
		break;
	}
	put(h, head, strlen(head));
	put(h, v->bytes, v->len);
	put(h, ";", 1);
}

void copy_hash_row_end(EVP_MD_CTX *h)
{
	put(h, "\n", 1);
}

/* Column col of the current row of st, read through ops as kind says. */
static void read_value(const struct store_ops *ops, struct stmt *st, int col, enum col_kind kind,
		       struct copy_value *v)
{
	*v = (struct copy_value){.kind = kind, .null = ops->col_null(st, col)};
	if (v->null)
		return;
	if (kind == COL_INT)
		v->i = ops->col_int(st, col);
	else if (kind == COL_BOOL)
		v->i = ops->col_bool(st, col);
	else if (kind == COL_TEXT) {
		v->bytes = ops->col_text(st, col);
		v->len = strlen(v->bytes);
	} else {
		v->bytes = (const char *)ops->col_blob(st, col, &v->len);
		if (v->bytes == NULL)
			v->bytes = "";
	}
}

/* Binds v to parameter i; an unbound parameter is NULL. */
static void bind_value(const struct store_ops *ops, struct stmt *st, int i,
		       const struct copy_value *v)
{
	if (st == NULL || v->null)
		return;
	if (v->kind == COL_INT)
		ops->integer(st, i, v->i);
	else if (v->kind == COL_BOOL)
		ops->boolean(st, i, v->i != 0);
	else if (v->kind == COL_TEXT)
		ops->text(st, i, v->bytes);
	else
		ops->blob(st, i, v->bytes, v->len);
}

/* ---- the two sides ---- */

static int side_init(struct side *s, struct failure *err)
{
	struct failure e;

	if (store_target_of(s->cfg, &s->ops, &s->t, &s->dsn, &e) != 0)
		return failure_set(err, "%s: %s", s->flag, e.message);
	return 0;
}

static void side_close(struct side *s)
{
	if (s->opened)
		s->ops->close();
	s->opened = false;
	store_dsn_free(s->dsn);
	s->dsn = NULL;
}

/* The two sides are not the same store, and are on different drivers. */
static int check_sides(const struct side *s, const struct side *d, struct failure *err)
{
	char a[PATH_MAX], b[PATH_MAX];
	bool same;

	if (s->ops != d->ops)
		return 0;
	if (s->ops == &sqlite_ops)
		same = realpath(s->t.data_dir, a) != NULL && realpath(d->t.data_dir, b) != NULL &&
		       strcmp(a, b) == 0;
	else
		same = strcmp(s->t.dsn, d->t.dsn) == 0;
	if (same)
		return failure_set(err, "--from and --to name the same store");
	return failure_set(err,
			   "both sides use the %s driver; store-copy moves a store between "
			   "sqlite and postgres (copy a SQLite store with sqlite3's .backup, a "
			   "PostgreSQL one with pg_dump)",
			   s->ops->name);
}

static int check_source(const struct side *s, struct failure *err)
{
	int newest = s->ops->schema_version();
	struct failure e;
	int v = s->ops->stored_version(&s->t, &e);

	if (v < 0)
		return failure_set(err, "--from: %s", e.message);
	if (v == 0)
		return failure_set(err, "--from: the %s store holds no authd data", s->ops->name);
	if (v < newest)
		return failure_set(err,
				   "--from: the store has schema version %d and this authd %d: "
				   "run this authd once on it (it brings the schema up to date), "
				   "stop it, and copy again",
				   v, newest);
	if (v > newest)
		return failure_set(
		    err,
		    "--from: the store has schema version %d, newer than this authd's "
		    "%d: upgrade this authd, or copy it with the authd that last ran on it",
		    v, newest);
	if (s->ops->in_use(&s->t))
		return failure_set(
		    err,
		    "--from: another process has the %s store open (an authd?): stop "
		    "it first, so that nothing changes during the copy",
		    s->ops->name);
	return 0;
}

static int check_target(const struct side *d, struct failure *err)
{
	struct failure e;
	int v = d->ops->stored_version(&d->t, &e);

	if (v < 0)
		return failure_set(err, "--to: %s", e.message);
	if (v > 0)
		return failure_set(
		    err,
		    "--to: the %s store is not empty (an authd has run on it: schema "
		    "version %d); store-copy writes only into a new one (an empty "
		    "database, or a data dir without authd.db)",
		    d->ops->name, v);
	if (d->ops->in_use(&d->t))
		return failure_set(err, "--to: another process has the %s store open",
				   d->ops->name);
	return 0;
}

/* Opens a side's driver (a new target gets the schema, and its data dir as authd makes it). */
static int side_open(struct side *s, struct failure *err)
{
	struct failure e;

	if (mkdir(s->t.data_dir, 0700) != 0 && errno != EEXIST)
		return failure_set(err, "%s: %s: %s", s->flag, s->t.data_dir, strerror(errno));
	s->opened = true;
	if (s->ops->open(&s->t, &e) != 0)
		return failure_set(err, "%s: %s", s->flag, e.message);
	return 0;
}

/* ---- the plan: the tables of both sides, matched by name ---- */

static const struct store_table *find_table(const struct store_schema *s, const char *name)
{
	for (int i = 0; i < s->ntables; i++)
		if (strcmp(s->tables[i].name, name) == 0)
			return &s->tables[i];
	return NULL;
}

static const struct store_column *find_column(const struct store_table *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return &t->cols[i];
	return NULL;
}

/* A flag is an INTEGER to SQLite and a BOOLEAN to PostgreSQL: the more precise kind wins. */
static int agree(enum col_kind a, enum col_kind b, enum col_kind *out)
{
	if (a == b || (a == COL_BOOL && b == COL_INT))
		*out = a;
	else if (a == COL_INT && b == COL_BOOL)
		*out = b;
	else
		return -1;
	return 0;
}

static int match_table(const struct store_table *s, const struct store_table *d, struct table *t,
		       struct failure *err)
{
	if (d == NULL || d->ncols != s->ncols)
		return failure_set(err, "table %s differs between the two stores' schemas",
				   s->name);
	for (int c = 0; c < s->ncols; c++) {
		const struct store_column *dc = find_column(d, s->cols[c].name);

		if (dc == NULL || agree(s->cols[c].kind, dc->kind, &t->kinds[c]) != 0)
			return failure_set(err, "column %s.%s differs between the two stores",
					   s->name, s->cols[c].name);
	}
	t->desc = s;
	return 0;
}

/* A growing SQL text; NULL once memory ran out. */
struct sql {
	char *text;
	size_t len;
};

static void add(struct sql *q, const char *fmt, const char *arg)
{
	char *more;
	int n;

	if (q->text == NULL && q->len > 0)
		return;
	n = snprintf(NULL, 0, fmt, arg);
	more = realloc(q->text, q->len + (size_t)n + 1);
	if (more == NULL) {
		free(q->text);
		q->text = NULL;
		return;
	}
	snprintf(more + q->len, (size_t)n + 1, fmt, arg);
	q->text = more;
	q->len += (size_t)n;
}

/* The primary key's columns in their order, or every column for a table without one. */
static void order_by(struct sql *q, const struct store_table *t)
{
	int n = 0;

	for (int k = 1; k <= t->ncols; k++)
		for (int c = 0; c < t->ncols; c++)
			if (t->cols[c].pk == k)
				add(q, n++ ? ", \"%s\"" : " ORDER BY \"%s\"", t->cols[c].name);
	for (int c = 0; n == 0 && c < t->ncols; c++)
		add(q, c ? ", \"%s\"" : " ORDER BY \"%s\"", t->cols[c].name);
}

/* The table's three statements, in the SQL both drivers take (ops.h: ?N parameters). */
static int make_sql(struct table *t)
{
	const struct store_table *d = t->desc;
	struct sql sel = {0}, ins = {0}, del = {0};
	char n[16];

	for (int c = 0; c < d->ncols; c++)
		add(&sel, c ? ", \"%s\"" : "SELECT \"%s\"", d->cols[c].name);
	add(&sel, " FROM \"%s\"", d->name);
	order_by(&sel, d);
	add(&ins, "INSERT INTO \"%s\" (", d->name);
	for (int c = 0; c < d->ncols; c++)
		add(&ins, c ? ", \"%s\"" : "\"%s\"", d->cols[c].name);
	for (int c = 0; c < d->ncols; c++) {
		snprintf(n, sizeof(n), "%d", c + 1);
		add(&ins, c ? ", ?%s" : ") VALUES (?%s", n);
	}
	add(&ins, "%s", ")");
	add(&del, "DELETE FROM \"%s\"", d->name);
	t->select = sel.text, t->insert = ins.text, t->clear = del.text;
	return sel.text && ins.text && del.text ? 0 : -1;
}

static bool plain_name(const char *name)
{
	return name[0] != '\0' && strchr(name, '"') == NULL;
}

/*
 * What the processes running on a store write of themselves (cluster.c): on
 * a stopped store these rows name processes that are gone, and the target's
 * own authd writes its row when it starts. Not copied, nor checked.
 */
static const char *const runtime_tables[] = {"authd_replicas"};

static bool runtime(const char *name)
{
	for (size_t i = 0; i < sizeof(runtime_tables) / sizeof(runtime_tables[0]); i++)
		if (strcmp(name, runtime_tables[i]) == 0)
			return true;
	return false;
}

/*
 * The source's tables but the runtime ones, each matched with the target's
 * of the same name, in tables[0 .. *n); 0, or -1 with err.
 */
static int plan(struct store_schema *src, struct store_schema *dst, struct table *tables, int *n,
		struct failure *err)
{
	*n = 0;
	if (src->ntables != dst->ntables)
		return failure_set(err, "the two stores have different tables (%d and %d)",
				   src->ntables, dst->ntables);
	for (int i = 0; i < src->ntables; i++) {
		const struct store_table *s = &src->tables[i];
		int k = *n;

		if (runtime(s->name))
			continue;

		if (!plain_name(s->name))
			return failure_set(err, "a table has a name store-copy cannot quote");
		for (int c = 0; c < s->ncols; c++)
			if (!plain_name(s->cols[c].name))
				return failure_set(err,
						   "table %s has a column name store-copy "
						   "cannot quote",
						   s->name);
		if (match_table(s, find_table(dst, s->name), &tables[k], err) != 0)
			return -1;
		(*n)++; /* freed by the caller from here on */
		if (make_sql(&tables[k]) != 0)
			return failure_set(err, "out of memory");
	}
	return 0;
}

/* ---- copying and verifying ---- */

struct rows {
	struct table *t;
	const struct store_ops *from, *to; /* to: NULL when only reading back */
	EVP_MD_CTX *h;
	int64_t n;
	int rc;
};

static int copy_row(struct stmt *st, void *ctx)
{
	struct rows *r = ctx;
	struct stmt *ins = r->to ? r->to->get(r->t->insert) : NULL;

	for (int c = 0; c < r->t->desc->ncols; c++) {
		struct copy_value v;

		read_value(r->from, st, c, r->t->kinds[c], &v);
		copy_hash_value(r->h, &v);
		if (r->to != NULL)
			bind_value(r->to, ins, c + 1, &v);
	}
	copy_hash_row_end(r->h);
	r->n++;
	if (r->to == NULL)
		return 0;
	r->rc = ins ? r->to->exec(ins, false) : STORE_ERROR;
	return r->rc != STORE_OK;
}

/* Reads every row of t from `from` in key order, writing each to `to` unless NULL. */
static int pass(struct table *t, const struct store_ops *from, const struct store_ops *to,
		int which)
{
	struct rows r = {t, from, to, EVP_MD_CTX_new(), 0, STORE_OK};
	unsigned int len = 0;
	int rc;

	if (r.h == NULL || EVP_DigestInit_ex(r.h, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(r.h);
		return STORE_ERROR;
	}
	rc = from->each(from->get(t->select), copy_row, &r);
	if (rc == STORE_OK)
		rc = r.rc;
	EVP_DigestFinal_ex(r.h, t->sum[which], &len);
	EVP_MD_CTX_free(r.h);
	t->rows[which] = r.n;
	return rc;
}

static const char *what_failed(int rc)
{
	switch (rc) {
	case STORE_CONFLICT:
		return "a uniqueness or reference rule refused a row";
	case STORE_FULL:
		return "the target's disk is full";
	case STORE_UNAVAILABLE:
		return "a database server did not answer";
	default:
		return "the store failed (its message is above)";
	}
}

/* Every table copied, then read back; in the target's one transaction, which the caller ends. */
static int copy_tables(const struct side *s, const struct side *d, struct table *tables, int n,
		       struct failure *err)
{
	int rc;

	/* a new target's seed rows (built-in collections, a setting) make way for the source's */
	for (int i = 0; i < n; i++)
		if ((rc = d->ops->exec(d->ops->get(tables[i].clear), false)) != STORE_OK)
			return failure_set(err, "clearing %s on the target: %s",
					   tables[i].desc->name, what_failed(rc));
	for (int i = 0; i < n; i++)
		if ((rc = pass(&tables[i], s->ops, d->ops, 0)) != STORE_OK)
			return failure_set(err, "copying %s: %s", tables[i].desc->name,
					   what_failed(rc));
	if (d->ops->copy_end() != STORE_OK)
		return failure_set(err,
				   "checking the target's references: a row refers to one that "
				   "is not there, or the store failed (see above)");
	for (int i = 0; i < n; i++)
		if ((rc = pass(&tables[i], d->ops, NULL, 1)) != STORE_OK)
			return failure_set(err, "reading %s back: %s", tables[i].desc->name,
					   what_failed(rc));
	return 0;
}

static void hex(const unsigned char *sum, char out[17])
{
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", sum[i]);
}

/* A line per table; 0 when every table matches. */
static int report(struct table *tables, int n, FILE *out, int64_t *total)
{
	int bad = 0;

	fprintf(out, "  %-18s %10s  %-16s  %s\n", "table", "rows", "sha-256", "");
	for (int i = 0; i < n; i++) {
		struct table *t = &tables[i];
		bool ok = t->rows[0] == t->rows[1] && memcmp(t->sum[0], t->sum[1], 32) == 0;
		char a[17], b[17];

		hex(t->sum[0], a);
		hex(t->sum[1], b);
		if (ok)
			fprintf(out, "  %-18s %10lld  %s  same on both sides\n", t->desc->name,
				(long long)t->rows[0], a);
		else
			fprintf(out,
				"  %-18s %10lld  %s  source; target has %lld rows, sha-256 %s: "
				"MISMATCH\n",
				t->desc->name, (long long)t->rows[0], a, (long long)t->rows[1], b);
		bad += !ok;
		*total += t->rows[0];
	}
	for (size_t i = 0; i < sizeof(runtime_tables) / sizeof(runtime_tables[0]); i++)
		fprintf(out, "  %-18s %10s  %-16s  not copied: the running replicas' own rows\n",
			runtime_tables[i], "-", "");
	return bad ? -1 : 0;
}

/* What the data dir holds besides the store, for the operator to move by hand. */
static void outside_store(const struct side *s, const struct side *d, FILE *out)
{
	/* the sync jobs' logs are in the store: an older authd's jobs/ moved there at its start */
	static const char *const files[] = {"secret.key", "ca", "tls", "audit.log"};
	char a[PATH_MAX], b[PATH_MAX], path[PATH_MAX + 32], list[256] = "";

	if (realpath(s->t.data_dir, a) == NULL || realpath(d->t.data_dir, b) == NULL)
		return;
	if (strcmp(a, b) == 0) {
		fprintf(out,
			"Both configs use the data dir %s: its other files (secret.key, the CAs, "
			"the audit log) serve the new store as they are.\n",
			a);
		return;
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", a, files[i]);
		if (access(path, F_OK) == 0)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 list[0] ? ", " : "", files[i]);
	}
	if (list[0] != '\0')
		fprintf(out,
			"Not in the store, and not copied: %s in %s. Copy them to %s before "
			"starting authd there (secret.key seals the LDAP reader password: "
			"without it that password cannot be read; the CAs sign the client "
			"bundles and engine certificates already given out).\n",
			list, a, b);
}

/*
 * The TLS material where one side keeps it in the store (store.keyFile):
 * this copy moves rows, and cannot seal or unseal keys, so it says what the
 * operator does instead.
 */
static void tls_material_note(const struct side *s, const struct side *d, FILE *out)
{
	if (d->cfg->store_key_file != NULL && s->cfg->store_key_file == NULL)
		fprintf(out,
			"The target keeps the CAs and the served certificate in the store, "
			"sealed with store.keyFile: start the first authd on it with the data "
			"dir %s (or a copy of its ca/ and tls/): it puts them in the store. A "
			"replica started first on a data dir without them makes new CAs, and "
			"the bundles and engine certificates given out stop being trusted.\n",
			s->t.data_dir);
	else if (s->cfg->store_key_file != NULL && d->cfg->store_key_file == NULL)
		fprintf(out, "The source keeps the CAs and the served certificate in the store, "
			     "sealed with store.keyFile; the target reads them from its data dir, "
			     "and this copy does not unseal them: the target's authd makes new CAs "
			     "unless its data dir's ca/ holds the old ones (the bundles and engine "
			     "certificates given out are trusted only then).\n");
}

/* Copies, verifies and commits, with both sides open; 0, or -1 with err and nothing written. */
static int run_copy(const struct side *s, const struct side *d, FILE *out, struct failure *err)
{
	static struct store_schema src, dst; /* a few hundred kB: not on the stack */
	struct table tables[SCHEMA_TABLES] = {0};
	int64_t total = 0;
	int rc = -1, n = 0;

	if (s->ops->describe(&src) != STORE_OK || d->ops->describe(&dst) != STORE_OK) {
		failure_set(err, "cannot read the stores' tables (the message is above)");
		goto out;
	}
	if (plan(&src, &dst, tables, &n, err) != 0)
		goto out;
	/* the source's write lock: nothing changes it while it is read */
	if (s->ops->begin(false) != STORE_OK) {
		failure_set(err, "--from: cannot lock the store for reading");
		goto out;
	}
	if (d->ops->copy_begin() != STORE_OK) {
		s->ops->rollback();
		failure_set(err, "--to: cannot begin the copy's transaction");
		goto out;
	}
	rc = copy_tables(s, d, tables, n, err);
	if (rc == 0 && report(tables, n, out, &total) != 0)
		rc = failure_set(err, "the target does not hold what the source does; nothing "
				      "was written");
	if (rc == 0 && d->ops->commit() != STORE_OK)
		rc = failure_set(err, "--to: the copy's transaction did not commit");
	if (rc != 0)
		d->ops->rollback();
	s->ops->rollback();
	if (rc == 0)
		fprintf(out,
			"Copied %lld rows in %d tables from %s to %s; counts and checksums "
			"match on both sides.\n",
			(long long)total, n, s->ops->name, d->ops->name);
out:
	for (int i = 0; i < n; i++) {
		free(tables[i].select);
		free(tables[i].insert);
		free(tables[i].clear);
	}
	return rc;
}

int store_copy(const struct config *from, const struct config *to, FILE *out, struct failure *err)
{
	struct side s = {.cfg = from, .flag = "--from"}, d = {.cfg = to, .flag = "--to"};
	int rc = -1;

	if (side_init(&s, err) != 0 || side_init(&d, err) != 0 || check_sides(&s, &d, err) != 0 ||
	    check_source(&s, err) != 0 || check_target(&d, err) != 0 || side_open(&s, err) != 0 ||
	    side_open(&d, err) != 0)
		goto out;
	rc = run_copy(&s, &d, out, err);
	if (rc == 0) {
		outside_store(&s, &d, out);
		tls_material_note(&s, &d, out);
	}
	/* the target had no store before: it gets none, so that a second try finds it empty */
	else if (d.ops->discard() != STORE_OK)
		fprintf(stderr,
			"authd store-copy: --to: the tables this copy made could not be "
			"dropped; drop them (or make a new database) before trying again\n");
out:
	side_close(&d);
	side_close(&s);
	return rc;
}
