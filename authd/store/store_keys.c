/*
 * Queries for client-bundle keys. A key row holds a certificate, its public
 * key and its fingerprint; private keys are never given to the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

#define KEY_COLS                                                                                   \
	"id, account_id, label, fingerprint, scope, created_at, not_after, certificate, "          \
	"public_key"

static void read_key(struct stmt *st, struct pubkey *k)
{
	col_copy(st, 0, k->id, sizeof(k->id));
	col_copy(st, 1, k->account_id, sizeof(k->account_id));
	col_copy(st, 2, k->label, sizeof(k->label));
	col_copy(st, 3, k->fingerprint, sizeof(k->fingerprint));
	col_copy(st, 4, k->scope, sizeof(k->scope));
	k->created_at = col_int(st, 5);
	k->not_after = col_int(st, 6);
	col_copy(st, 7, k->certificate, sizeof(k->certificate));
	col_copy(st, 8, k->public_key, sizeof(k->public_key));
}

static int key_row(struct stmt *st, void *ctx)
{
	read_key(st, ctx);
	return 0;
}

int store_key_insert(const struct pubkey *k)
{
	static const char sql[] = "INSERT INTO public_keys (" KEY_COLS ")"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
	struct stmt *st = stmt_texts(sql, k->id, k->account_id, k->label);

	stmt_text(st, 4, k->fingerprint);
	stmt_text(st, 5, k->scope);
	stmt_int(st, 6, k->created_at);
	stmt_int(st, 7, k->not_after);
	stmt_text(st, 8, k->certificate);
	stmt_text(st, 9, k->public_key);
	return stmt_exec(st, false);
}

int store_key_get(const char *account_id, const char *key_id, struct pubkey *out)
{
	static const char sql[] =
	    "SELECT " KEY_COLS " FROM public_keys WHERE account_id = ?1 AND id = ?2";

	return stmt_one(stmt_texts(sql, account_id, key_id, NULL), key_row, out);
}

/* A key read for a callback; one buffer for every row, as a key is 16 KiB of PEM. */
struct each_key {
	pubkey_cb cb;
	void *ctx;
	struct pubkey *k;
};

static int each_key_row(struct stmt *st, void *ctx)
{
	struct each_key *e = ctx;

	read_key(st, e->k);
	return e->cb(e->k, e->ctx);
}

int store_keys(const char *account_id, const char *start, int limit, pubkey_cb cb, void *ctx)
{
	static const char sql[] = "SELECT " KEY_COLS " FROM public_keys"
				  " WHERE account_id = ?1 AND id >= ?2 ORDER BY id LIMIT ?3";
	struct each_key e = {cb, ctx, calloc(1, sizeof(struct pubkey))};
	struct stmt *st;
	int rc;

	if (e.k == NULL)
		return STORE_ERROR;
	st = stmt_texts(sql, account_id, start, NULL);
	stmt_int(st, 3, limit);
	rc = stmt_each(st, each_key_row, &e);
	free(e.k);
	return rc;
}

int store_key_set_label(const char *key_id, const char *label)
{
	static const char sql[] = "UPDATE public_keys SET label = ?2 WHERE id = ?1";

	return stmt_exec(stmt_texts(sql, key_id, label, NULL), true);
}

int store_key_delete(const char *account_id, const char *key_id)
{
	static const char sql[] = "DELETE FROM public_keys WHERE account_id = ?1 AND id = ?2";

	return stmt_exec(stmt_texts(sql, account_id, key_id, NULL), true);
}

/* Only what authorization needs: no PEM text. */
static int index_key_row(struct stmt *st, void *ctx)
{
	struct each_key *e = ctx;

	col_copy(st, 0, e->k->id, sizeof(e->k->id));
	col_copy(st, 1, e->k->account_id, sizeof(e->k->account_id));
	col_copy(st, 2, e->k->fingerprint, sizeof(e->k->fingerprint));
	col_copy(st, 3, e->k->scope, sizeof(e->k->scope));
	e->k->not_after = col_int(st, 4);
	return e->cb(e->k, e->ctx);
}

int store_each_key(key_row_cb cb, void *ctx)
{
	static const char sql[] =
	    "SELECT id, account_id, fingerprint, scope, not_after FROM public_keys";
	struct each_key e = {cb, ctx, calloc(1, sizeof(struct pubkey))};
	int rc;

	if (e.k == NULL)
		return STORE_ERROR;
	rc = stmt_each(stmt_get(sql), index_key_row, &e);
	free(e.k);
	return rc;
}
