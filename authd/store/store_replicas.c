/*
 * Queries for the replicas' own rows (store.h): who runs on the store, what
 * it runs and how far it has followed the change sequence, as each process
 * writes it for itself (cluster.c). One statement each, the same on both
 * drivers (both take INSERT ... ON CONFLICT).
 */
#include "driver.h"

int store_replica_put(const struct store_replica *r)
{
	static const char sql[] =
	    "INSERT INTO authd_replicas (name, version, started_at, seq, seen_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET"
	    " version = excluded.version, started_at = excluded.started_at,"
	    " seq = excluded.seq, seen_at = excluded.seen_at";
	struct stmt *st = stmt_texts(sql, r->name, r->version, NULL);

	stmt_int(st, 3, r->started_at);
	stmt_int(st, 4, r->seq);
	stmt_int(st, 5, r->seen_at);
	return stmt_exec(st, false);
}

struct each {
	store_replica_cb cb;
	void *ctx;
};

static int replica_row(struct stmt *st, void *ctx)
{
	struct each *e = ctx;
	struct store_replica r;

	col_copy(st, 0, r.name, sizeof(r.name));
	col_copy(st, 1, r.version, sizeof(r.version));
	r.started_at = col_int(st, 2);
	r.seq = col_int(st, 3);
	r.seen_at = col_int(st, 4);
	return e->cb(&r, e->ctx);
}

int store_replicas_each(store_replica_cb cb, void *ctx)
{
	struct each e = {cb, ctx};

	return stmt_each(stmt_get("SELECT name, version, started_at, seq, seen_at"
				  " FROM authd_replicas ORDER BY name"),
			 replica_row, &e);
}

int store_replicas_prune(int64_t before)
{
	struct stmt *st = stmt_get("DELETE FROM authd_replicas WHERE seen_at < ?1");

	stmt_int(st, 1, before);
	return stmt_exec(st, false);
}
