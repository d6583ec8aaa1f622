/*
 * Queries for custom roles, collections, grants and settings. Built-in roles
 * live in rbac.c; built-in collections are rows made by the first migration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* ---- roles ---- */

int store_roles(role_cb cb, void *ctx)
{
	static const char sql[] =
	    "SELECT id, name, operations, created_at FROM roles ORDER BY name";
	sqlite3_stmt *st = store_stmt(sql);
	struct role_row r;
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_text(r.id, sizeof(r.id), st, 0);
		store_text(r.name, sizeof(r.name), st, 1);
		r.operations = (char *)sqlite3_column_text(st, 2);
		r.created_at = sqlite3_column_int64(st, 3);
		if (cb(&r, ctx) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_role_insert(const struct role_row *r)
{
	static const char sql[] =
	    "INSERT INTO roles (id, name, operations, created_at) VALUES (?1, ?2, ?3, ?4)";
	sqlite3_stmt *st = store_bound(sql, r->id, r->name, r->operations);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(st, 4, r->created_at);
	return store_finish(st, false);
}

static int role_in_use(const char *id, bool *used)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM grants WHERE role_id = ?1)";
	sqlite3_stmt *st = store_bound(sql, id, NULL, NULL);

	if (st == NULL || sqlite3_step(st) != SQLITE_ROW)
		return st ? store_failed(st) : STORE_ERROR;
	*used = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_role_delete(const char *id)
{
	static const char sql[] = "DELETE FROM roles WHERE id = ?1";
	bool used = false;
	sqlite3_stmt *st;
	int rc = role_in_use(id, &used);

	if (rc != STORE_OK)
		return rc;
	if (used)
		return STORE_CONFLICT;
	st = store_bound(sql, id, NULL, NULL);
	return st ? store_finish(st, true) : STORE_ERROR;
}

/* ---- collections ---- */

#define COLLECTION_COLS "id, name, coalesce(parent_id, ''), path, created_at"

static void read_collection(sqlite3_stmt *st, struct collection_row *c)
{
	store_text(c->id, sizeof(c->id), st, 0);
	store_text(c->name, sizeof(c->name), st, 1);
	store_text(c->parent_id, sizeof(c->parent_id), st, 2);
	store_text(c->path, sizeof(c->path), st, 3);
	c->created_at = sqlite3_column_int64(st, 4);
}

int store_collections(collection_cb cb, void *ctx)
{
	static const char sql[] = "SELECT " COLLECTION_COLS " FROM collections ORDER BY path";
	sqlite3_stmt *st = store_stmt(sql);
	struct collection_row c;
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_collection(st, &c);
		if (cb(&c, ctx) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}

static int one_collection(sqlite3_stmt *st, struct collection_row *out)
{
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	read_collection(st, out);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_collection_get(const char *id, struct collection_row *out)
{
	static const char sql[] = "SELECT " COLLECTION_COLS " FROM collections WHERE id = ?1";
	return one_collection(store_bound(sql, id, NULL, NULL), out);
}

int store_collection_by_path(const char *path, struct collection_row *out)
{
	static const char sql[] = "SELECT " COLLECTION_COLS " FROM collections WHERE path = ?1";
	return one_collection(store_bound(sql, path, NULL, NULL), out);
}

int store_collection_insert(const struct collection_row *c)
{
	static const char sql[] = "INSERT INTO collections (id, name, parent_id, path, created_at)"
				  " VALUES (?1, ?2, ?3, ?4, ?5)";
	sqlite3_stmt *st = store_bound(sql, c->id, c->name, c->parent_id);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_text(st, 4, c->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, c->created_at);
	return store_finish(st, false);
}

int store_collection_delete(const char *id)
{
	static const char children[] =
	    "SELECT EXISTS (SELECT 1 FROM collections WHERE parent_id = ?1)";
	static const char sql[] = "DELETE FROM collections WHERE id = ?1";
	sqlite3_stmt *st = store_bound(children, id, NULL, NULL);

	if (st == NULL || sqlite3_step(st) != SQLITE_ROW)
		return st ? store_failed(st) : STORE_ERROR;
	if (sqlite3_column_int(st, 0)) {
		sqlite3_reset(st);
		return STORE_CONFLICT;
	}
	sqlite3_reset(st);
	st = store_bound(sql, id, NULL, NULL);
	return st ? store_finish(st, true) : STORE_ERROR;
}

/* ---- grants ---- */

int store_grants(grant_cb cb, void *ctx)
{
	static const char sql[] = "SELECT subject_id, collection_id, role_id FROM grants"
				  " ORDER BY subject_id, collection_id, role_id";
	sqlite3_stmt *st = store_stmt(sql);
	struct grant_row g;
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_text(g.subject_id, sizeof(g.subject_id), st, 0);
		store_text(g.collection_id, sizeof(g.collection_id), st, 1);
		store_text(g.role_id, sizeof(g.role_id), st, 2);
		if (cb(&g, ctx) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_grant_put(const struct grant_row *g)
{
	static const char sql[] =
	    "INSERT OR IGNORE INTO grants (subject_id, collection_id, role_id)"
	    " VALUES (?1, ?2, ?3)";
	sqlite3_stmt *st = store_bound(sql, g->subject_id, g->collection_id, g->role_id);

	return st ? store_finish(st, false) : STORE_ERROR;
}

int store_grant_delete(const struct grant_row *g)
{
	static const char sql[] = "DELETE FROM grants WHERE subject_id = ?1 AND collection_id = ?2"
				  " AND role_id = ?3";
	sqlite3_stmt *st = store_bound(sql, g->subject_id, g->collection_id, g->role_id);

	return st ? store_finish(st, true) : STORE_ERROR;
}

/* ---- settings ---- */

int store_setting_get(const char *key, char *value, size_t len)
{
	static const char sql[] = "SELECT value FROM settings WHERE key = ?1";
	sqlite3_stmt *st = store_bound(sql, key, NULL, NULL);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	store_text(value, len, st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_setting_get_text(const char *key, char **value)
{
	static const char sql[] = "SELECT value FROM settings WHERE key = ?1";
	sqlite3_stmt *st = store_bound(sql, key, NULL, NULL);
	const unsigned char *v;
	int rc;

	*value = NULL;
	if (st == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	v = sqlite3_column_text(st, 0);
	*value = strdup(v ? (const char *)v : "");
	sqlite3_reset(st);
	return *value ? STORE_OK : STORE_ERROR;
}

int store_setting_set(const char *key, const char *value)
{
	static const char sql[] = "INSERT INTO settings (key, value) VALUES (?1, ?2)"
				  " ON CONFLICT (key) DO UPDATE SET value = excluded.value";
	sqlite3_stmt *st = store_bound(sql, key, value, NULL);

	return st ? store_finish(st, false) : STORE_ERROR;
}

int store_subject_kind(const char *id, const char **kind)
{
	static const char sql[] =
	    "SELECT CASE WHEN is_org THEN 'org' ELSE 'user' END FROM accounts WHERE id = ?1"
	    " UNION ALL SELECT 'team' FROM teams WHERE id = ?1";
	sqlite3_stmt *st = store_bound(sql, id, NULL, NULL);
	const unsigned char *k;
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	k = sqlite3_column_text(st, 0);
	/* static strings, so the answer outlives the statement */
	*kind = k && strcmp((const char *)k, "org") == 0    ? "org"
		: k && strcmp((const char *)k, "team") == 0 ? "team"
							    : "user";
	sqlite3_reset(st);
	return STORE_OK;
}
