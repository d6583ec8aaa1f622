/*
 * The store's front: store_open picks a driver, and every call of store.h's
 * transactions and driver.h's statements goes to it through one table of
 * functions, so that the queries in store_*.c run unchanged on either.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* Set once by store_open, before any other thread exists; read-only after. */
static const struct store_ops *ops = &sqlite_ops;
static bool opened; /* store_open was called: the driver has something to close */

int store_open(const char *data_dir, struct failure *err)
{
	const struct store_target t = {data_dir, NULL, 1};

	ops = &sqlite_ops;
	opened = true;
	return ops->open(&t, err);
}

/* The DSN of a dsnFile, its last line break cut; malloc'd, or NULL with err. */
static char *read_dsn_file(const char *path, struct failure *err)
{
	size_t len;
	char *dsn = file_read(path, 64 * 1024, &len, err);

	if (dsn == NULL)
		return NULL;
	while (len > 0 && (dsn[len - 1] == '\n' || dsn[len - 1] == '\r'))
		dsn[--len] = '\0';
	return dsn;
}

int store_target_of(const struct config *cfg, const struct store_ops **driver,
		    struct store_target *t, char **dsn, struct failure *err)
{
	*t = (struct store_target){cfg->data_dir, cfg->store_dsn, cfg->store_max_connections};
	*dsn = NULL;
	*driver = &sqlite_ops;
	if (strcmp(cfg->store_driver, "postgres") != 0)
		return 0;
	*driver = &postgres_ops;
	if (cfg->store_dsn_file != NULL) {
		*dsn = read_dsn_file(cfg->store_dsn_file, err);
		if (*dsn == NULL)
			return -1;
		t->dsn = *dsn;
	}
	return 0;
}

void store_dsn_free(char *dsn)
{
	if (dsn != NULL)
		OPENSSL_cleanse(dsn, strlen(dsn));
	free(dsn);
}

int store_open_config(const struct config *cfg, struct failure *err)
{
	struct store_target t;
	char *from_file;
	int rc;

	if (strcmp(cfg->store_driver, "postgres") != 0)
		return store_open(cfg->data_dir, err);
	if (store_target_of(cfg, &ops, &t, &from_file, err) != 0)
		return -1;
	opened = true;
	rc = ops->open(&t, err);
	store_dsn_free(from_file);
	return rc;
}

const char *store_driver_name(void)
{
	return ops->name;
}

bool store_is_shared(void)
{
	return ops->shared;
}

bool store_pool_stats(struct store_pool_stats *out)
{
	if (ops->pool_stats == NULL)
		return false;
	ops->pool_stats(out);
	return true;
}

void store_checkpoint(void)
{
	ops->checkpoint();
}

int store_ping(void)
{
	int64_t one;

	return stmt_one_int(stmt_get("SELECT 1"), &one);
}

void store_close(void)
{
	/* main.c closes it on every way out, also when start-up failed before opening it */
	if (opened)
		ops->close();
	opened = false;
}

bool store_shared_begin(long wait_us)
{
	return ops->shared_begin(wait_us);
}

void store_shared_end(void)
{
	ops->shared_end();
}

int store_begin(void)
{
	return ops->begin(false);
}

int store_begin_bulk(void)
{
	return ops->begin(true);
}

int store_commit(void)
{
	return ops->commit();
}

void store_rollback(void)
{
	ops->rollback();
}

int store_begin_nested(void)
{
	return ops->begin_nested();
}

int store_commit_nested(void)
{
	return ops->commit_nested();
}

void store_rollback_nested(void)
{
	ops->rollback_nested();
}

struct stmt *stmt_get(const char *sql)
{
	return ops->get(sql);
}

struct stmt *stmt_texts(const char *sql, const char *a, const char *b, const char *c)
{
	const char *args[] = {a, b, c};
	struct stmt *st = stmt_get(sql);

	for (int i = 0; i < 3; i++)
		if (args[i] != NULL)
			stmt_text(st, i + 1, args[i]);
	return st;
}

void stmt_text(struct stmt *st, int i, const char *v)
{
	if (st != NULL && v != NULL)
		ops->text(st, i, v);
}

void stmt_int(struct stmt *st, int i, int64_t v)
{
	if (st != NULL)
		ops->integer(st, i, v);
}

void stmt_bool(struct stmt *st, int i, bool v)
{
	if (st != NULL)
		ops->boolean(st, i, v);
}

void stmt_blob(struct stmt *st, int i, const void *v, size_t len)
{
	if (st != NULL && v != NULL)
		ops->blob(st, i, v, len);
}

int stmt_exec(struct stmt *st, bool need_row)
{
	return ops->exec(st, need_row);
}

int64_t stmt_changed(void)
{
	return ops->changed();
}

int stmt_each(struct stmt *st, row_fn row, void *ctx)
{
	return ops->each(st, row, ctx);
}

int stmt_one(struct stmt *st, row_fn row, void *ctx)
{
	return ops->one(st, row, ctx);
}

static int int_row(struct stmt *st, void *ctx)
{
	*(int64_t *)ctx = col_int(st, 0);
	return 0;
}

int stmt_one_int(struct stmt *st, int64_t *out)
{
	return stmt_one(st, int_row, out);
}

const char *col_text(struct stmt *st, int col)
{
	return ops->col_text(st, col);
}

bool col_null(struct stmt *st, int col)
{
	return ops->col_null(st, col);
}

int64_t col_int(struct stmt *st, int col)
{
	return ops->col_int(st, col);
}

bool col_bool(struct stmt *st, int col)
{
	return ops->col_bool(st, col);
}

const void *col_blob(struct stmt *st, int col, size_t *len)
{
	return ops->col_blob(st, col, len);
}

void col_copy(struct stmt *st, int col, char *dst, size_t len)
{
	snprintf(dst, len, "%s", col_text(st, col));
}

const struct store_ops *store_driver(void)
{
	return ops;
}
