/*
 * Queries for the change sequence (store.h): the announced changes that
 * replicas on one PostgreSQL store follow. Every row is written in a
 * transaction of its own, and a transaction takes the store's write lock
 * first (pg.c's BEGIN_SQL), so seqs become visible in the order they were
 * given: a follower that has seen seq N has seen every change before it.
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"

bool store_changes_wait(long timeout_ms)
{
	return store_driver()->changes_wait(timeout_ms);
}

static int insert(const struct store_change *c)
{
	static const char sql[] =
	    "INSERT INTO authd_changes (origin, replica, what, session, account, keep,"
	    " key_account, key_id, key_removed, at_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
	struct stmt *st = stmt_texts(sql, c->origin, c->replica, NULL);

	stmt_int(st, 3, c->what);
	stmt_text(st, 4, c->session);
	stmt_text(st, 5, c->account);
	stmt_text(st, 6, c->keep);
	stmt_text(st, 7, c->key_account);
	stmt_text(st, 8, c->key_id);
	stmt_text(st, 9, c->key_removed);
	stmt_int(st, 10, now_ms());
	return stmt_exec(st, false);
}

int store_change_record(const struct store_change *c)
{
	int rc = store_begin();

	if (rc != STORE_OK)
		return rc;
	rc = insert(c);
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK)
		store_rollback();
	return rc;
}

int store_changes_last(int64_t *seq)
{
	return stmt_one_int(stmt_get("SELECT COALESCE(MAX(seq), 0) FROM authd_changes"), seq);
}

struct since {
	store_change_cb cb;
	void *ctx;
};

static int change_row(struct stmt *st, void *ctx)
{
	struct since *s = ctx;
	struct store_change c;

	c.seq = col_int(st, 0);
	col_copy(st, 1, c.origin, sizeof(c.origin));
	col_copy(st, 2, c.replica, sizeof(c.replica));
	c.what = (unsigned)col_int(st, 3);
	col_copy(st, 4, c.session, sizeof(c.session));
	col_copy(st, 5, c.account, sizeof(c.account));
	col_copy(st, 6, c.keep, sizeof(c.keep));
	col_copy(st, 7, c.key_account, sizeof(c.key_account));
	col_copy(st, 8, c.key_id, sizeof(c.key_id));
	col_copy(st, 9, c.key_removed, sizeof(c.key_removed));
	c.at_ms = col_int(st, 10);
	return s->cb(&c, s->ctx);
}

int store_changes_since(int64_t after, int limit, store_change_cb cb, void *ctx)
{
	static const char sql[] =
	    "SELECT seq, origin, replica, what, session, account, keep, key_account, key_id,"
	    " key_removed, at_ms FROM authd_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2";
	struct stmt *st = stmt_get(sql);
	struct since s = {cb, ctx};

	stmt_int(st, 1, after);
	stmt_int(st, 2, limit);
	return stmt_each(st, change_row, &s);
}

int store_changes_prune(int64_t before_ms)
{
	struct stmt *st = stmt_get("DELETE FROM authd_changes WHERE at_ms < ?1");

	stmt_int(st, 1, before_ms);
	return stmt_exec(st, false);
}
