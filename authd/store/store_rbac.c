/*
 * Queries for custom roles, collections, grants and settings. Built-in roles
 * live in authz/roles.c; built-in collections are rows made by the first
 * migration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

/* ---- roles ---- */

#define ROLE_COLS "id, name, operations, created_at"

struct each_role {
	role_cb cb;
	void *ctx;
};

static void read_role(struct stmt *st, struct role_row *r)
{
	col_copy(st, 0, r->id, sizeof(r->id));
	col_copy(st, 1, r->name, sizeof(r->name));
	r->operations = (char *)col_text(st, 2);
	r->created_at = col_int(st, 3);
}

static int each_role_row(struct stmt *st, void *ctx)
{
	struct each_role *e = ctx;
	struct role_row r;

	read_role(st, &r);
	return e->cb(&r, e->ctx);
}

int store_roles(role_cb cb, void *ctx)
{
	static const char sql[] = "SELECT " ROLE_COLS " FROM roles ORDER BY name";
	struct each_role e = {cb, ctx};

	return stmt_each(stmt_get(sql), each_role_row, &e);
}

/* One role, its operations copied: they outlive the statement. */
static int role_row(struct stmt *st, void *ctx)
{
	struct role_row *r = ctx;

	read_role(st, r);
	r->operations = strdup(r->operations);
	return 0;
}

int store_role_get(const char *key, struct role_row *out)
{
	static const char sql[] =
	    "SELECT " ROLE_COLS " FROM roles WHERE id = ?1 OR lower(name) = lower(?1)";
	int rc;

	out->operations = NULL;
	rc = stmt_one(stmt_texts(sql, key, NULL, NULL), role_row, out);
	if (rc == STORE_OK && out->operations == NULL)
		return STORE_ERROR;
	return rc;
}

int store_role_insert(const struct role_row *r)
{
	static const char sql[] =
	    "INSERT INTO roles (id, name, operations, created_at) VALUES (?1, ?2, ?3, ?4)";
	struct stmt *st = stmt_texts(sql, r->id, r->name, r->operations);

	stmt_int(st, 4, r->created_at);
	return stmt_exec(st, false);
}

static int flag_row(struct stmt *st, void *ctx)
{
	*(bool *)ctx = col_bool(st, 0);
	return 0;
}

/* Whether a query of one boolean row answers true; a failure otherwise. */
static int exists(const char *sql, const char *id, bool *yes)
{
	int rc = stmt_one(stmt_texts(sql, id, NULL, NULL), flag_row, yes);

	return rc == STORE_NOT_FOUND ? STORE_ERROR : rc;
}

int store_role_delete(const char *id)
{
	static const char used[] = "SELECT EXISTS (SELECT 1 FROM grants WHERE role_id = ?1)";
	static const char sql[] = "DELETE FROM roles WHERE id = ?1";
	bool in_use = false;
	int rc = exists(used, id, &in_use);

	if (rc != STORE_OK)
		return rc;
	if (in_use)
		return STORE_CONFLICT;
	return stmt_exec(stmt_texts(sql, id, NULL, NULL), true);
}

/* ---- collections ---- */

#define COLLECTION_COLS "id, name, coalesce(parent_id, ''), path, created_at"

static void read_collection(struct stmt *st, struct collection_row *c)
{
	col_copy(st, 0, c->id, sizeof(c->id));
	col_copy(st, 1, c->name, sizeof(c->name));
	col_copy(st, 2, c->parent_id, sizeof(c->parent_id));
	col_copy(st, 3, c->path, sizeof(c->path));
	c->created_at = col_int(st, 4);
}

static int collection_row(struct stmt *st, void *ctx)
{
	read_collection(st, ctx);
	return 0;
}

struct each_collection {
	collection_cb cb;
	void *ctx;
};

static int each_collection_row(struct stmt *st, void *ctx)
{
	struct each_collection *e = ctx;
	struct collection_row c;

	read_collection(st, &c);
	return e->cb(&c, e->ctx);
}

int store_collections(collection_cb cb, void *ctx)
{
	static const char sql[] = "SELECT " COLLECTION_COLS " FROM collections ORDER BY path";
	struct each_collection e = {cb, ctx};

	return stmt_each(stmt_get(sql), each_collection_row, &e);
}

int store_collection_get(const char *id, struct collection_row *out)
{
	static const char sql[] = "SELECT " COLLECTION_COLS " FROM collections WHERE id = ?1";

	return stmt_one(stmt_texts(sql, id, NULL, NULL), collection_row, out);
}

int store_collection_by_path(const char *path, struct collection_row *out)
{
	static const char sql[] = "SELECT " COLLECTION_COLS " FROM collections WHERE path = ?1";

	return stmt_one(stmt_texts(sql, path, NULL, NULL), collection_row, out);
}

int store_collection_insert(const struct collection_row *c)
{
	static const char sql[] = "INSERT INTO collections (id, name, parent_id, path, created_at)"
				  " VALUES (?1, ?2, ?3, ?4, ?5)";
	struct stmt *st = stmt_texts(sql, c->id, c->name, c->parent_id);

	stmt_text(st, 4, c->path);
	stmt_int(st, 5, c->created_at);
	return stmt_exec(st, false);
}

int store_collection_delete(const char *id)
{
	static const char children[] =
	    "SELECT EXISTS (SELECT 1 FROM collections WHERE parent_id = ?1)";
	static const char sql[] = "DELETE FROM collections WHERE id = ?1";
	bool has_children = false;
	int rc = exists(children, id, &has_children);

	if (rc != STORE_OK)
		return rc;
	if (has_children)
		return STORE_CONFLICT;
	return stmt_exec(stmt_texts(sql, id, NULL, NULL), true);
}

/* ---- grants ---- */

struct each_grant {
	grant_cb cb;
	void *ctx;
};

static int each_grant_row(struct stmt *st, void *ctx)
{
	struct each_grant *e = ctx;
	struct grant_row g;

	col_copy(st, 0, g.subject_id, sizeof(g.subject_id));
	col_copy(st, 1, g.collection_id, sizeof(g.collection_id));
	col_copy(st, 2, g.role_id, sizeof(g.role_id));
	return e->cb(&g, e->ctx);
}

int store_grants(grant_cb cb, void *ctx)
{
	static const char sql[] = "SELECT subject_id, collection_id, role_id FROM grants"
				  " ORDER BY subject_id, collection_id, role_id";
	struct each_grant e = {cb, ctx};

	return stmt_each(stmt_get(sql), each_grant_row, &e);
}

int store_grant_put(const struct grant_row *g)
{
	static const char sql[] = "INSERT INTO grants (subject_id, collection_id, role_id)"
				  " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";

	return stmt_exec(stmt_texts(sql, g->subject_id, g->collection_id, g->role_id), false);
}

int store_grant_delete(const struct grant_row *g)
{
	static const char sql[] = "DELETE FROM grants WHERE subject_id = ?1 AND collection_id = ?2"
				  " AND role_id = ?3";

	return stmt_exec(stmt_texts(sql, g->subject_id, g->collection_id, g->role_id), true);
}

static int kind_row(struct stmt *st, void *ctx)
{
	const char *k = col_text(st, 0);

	/* static strings, so the answer outlives the statement */
	*(const char **)ctx = strcmp(k, "org") == 0    ? "org"
			      : strcmp(k, "team") == 0 ? "team"
						       : "user";
	return 0;
}

int store_subject_kind(const char *id, const char **kind)
{
	static const char sql[] =
	    "SELECT CASE WHEN is_org THEN 'org' ELSE 'user' END FROM accounts WHERE id = ?1"
	    " UNION ALL SELECT 'team' FROM teams WHERE id = ?1";

	return stmt_one(stmt_texts(sql, id, NULL, NULL), kind_row, kind);
}

/* ---- settings ---- */

struct text_buffer {
	char *buf;
	size_t len;
};

static int setting_row(struct stmt *st, void *ctx)
{
	struct text_buffer *b = ctx;

	col_copy(st, 0, b->buf, b->len);
	return 0;
}

int store_setting_get(const char *key, char *value, size_t len)
{
	static const char sql[] = "SELECT value FROM settings WHERE key = ?1";
	struct text_buffer b = {value, len};

	return stmt_one(stmt_texts(sql, key, NULL, NULL), setting_row, &b);
}

static int setting_dup_row(struct stmt *st, void *ctx)
{
	*(char **)ctx = strdup(col_text(st, 0));
	return 0;
}

int store_setting_get_text(const char *key, char **value)
{
	static const char sql[] = "SELECT value FROM settings WHERE key = ?1";
	int rc;

	*value = NULL;
	rc = stmt_one(stmt_texts(sql, key, NULL, NULL), setting_dup_row, value);
	return rc == STORE_OK && *value == NULL ? STORE_ERROR : rc;
}

int store_setting_set(const char *key, const char *value)
{
	static const char sql[] = "INSERT INTO settings (key, value) VALUES (?1, ?2)"
				  " ON CONFLICT (key) DO UPDATE SET value = excluded.value";

	return stmt_exec(stmt_texts(sql, key, value, NULL), false);
}
