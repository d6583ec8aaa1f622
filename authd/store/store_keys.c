/*
 * Queries for client-bundle keys. A key row holds a certificate, its public
 * key and its fingerprint; private keys are never given to the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define KEY_COLS                                                                                   \
	"id, account_id, label, fingerprint, scope, created_at, not_after, certificate, "          \
	"public_key"

static void read_key(sqlite3_stmt *st, struct pubkey *k)
{
	store_text(k->id, sizeof(k->id), st, 0);
	store_text(k->account_id, sizeof(k->account_id), st, 1);
	store_text(k->label, sizeof(k->label), st, 2);
	store_text(k->fingerprint, sizeof(k->fingerprint), st, 3);
	store_text(k->scope, sizeof(k->scope), st, 4);
	k->created_at = sqlite3_column_int64(st, 5);
	k->not_after = sqlite3_column_int64(st, 6);
	store_text(k->certificate, sizeof(k->certificate), st, 7);
	store_text(k->public_key, sizeof(k->public_key), st, 8);
}

/* Steps a bound query expected to yield at most one key. */
static int one_key(sqlite3_stmt *st, struct pubkey *out)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	read_key(st, out);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_key_insert(const struct pubkey *k)
{
	static const char sql[] = "INSERT INTO public_keys (" KEY_COLS ")"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_text(st, 1, k->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, k->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, k->scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, k->created_at);
	sqlite3_bind_int64(st, 7, k->not_after);
	sqlite3_bind_text(st, 8, k->certificate, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, k->public_key, -1, SQLITE_STATIC);
	return store_finish(st, false);
}

int store_key_get(const char *account_id, const char *key_id, struct pubkey *out)
{
	static const char sql[] =
	    "SELECT " KEY_COLS " FROM public_keys WHERE account_id = ?1 AND id = ?2";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
	return one_key(st, out);
}

int store_keys(const char *account_id, const char *start, int limit, pubkey_cb cb, void *ctx)
{
	static const char sql[] = "SELECT " KEY_COLS " FROM public_keys"
				  " WHERE account_id = ?1 AND id >= ?2 ORDER BY id LIMIT ?3";
	sqlite3_stmt *st = store_stmt(sql);
	struct pubkey k;
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, start, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_key(st, &k);
		if (cb(&k, ctx) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_key_set_label(const char *key_id, const char *label)
{
	static const char sql[] = "UPDATE public_keys SET label = ?2 WHERE id = ?1";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
	return store_finish(st, true);
}

int store_key_delete(const char *account_id, const char *key_id)
{
	static const char sql[] = "DELETE FROM public_keys WHERE account_id = ?1 AND id = ?2";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
	return store_finish(st, true);
}

int store_each_key(key_row_cb cb, void *ctx)
{
	/* only what authorization needs: no PEM text */
	static const char sql[] =
	    "SELECT id, account_id, fingerprint, scope, not_after FROM public_keys";
	sqlite3_stmt *st = store_stmt(sql);
	struct pubkey *k;
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_text(k->id, sizeof(k->id), st, 0);
		store_text(k->account_id, sizeof(k->account_id), st, 1);
		store_text(k->fingerprint, sizeof(k->fingerprint), st, 2);
		store_text(k->scope, sizeof(k->scope), st, 3);
		k->not_after = sqlite3_column_int64(st, 4);
		if (cb(k, ctx) != 0)
			break;
	}
	free(k);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}
