/*
 * What an LDAP sync reads and changes in the store: imported accounts in a
 * compact form (a sync of a large directory holds them all), team and org
 * member rows, and the member-sync configs of teams and orgs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

struct each_imported {
	imported_cb cb;
	void *ctx;
};

static int imported_row(struct stmt *st, void *ctx)
{
	struct each_imported *e = ctx;
	struct imported_row r = {col_text(st, 0), col_text(st, 1), col_text(st, 2),
				 col_text(st, 8), col_text(st, 3), col_bool(st, 4),
				 col_bool(st, 5), col_bool(st, 6), col_bool(st, 7)};

	return e->cb(&r, e->ctx);
}

int store_imported_accounts(imported_cb cb, void *ctx)
{
	static const char sql[] =
	    "SELECT id, name, ldap_dn, full_name, is_active, is_admin, ldap_missing,"
	    " ldap_deactivated, ldap_id FROM accounts WHERE is_imported AND NOT is_org";
	struct each_imported e = {cb, ctx};

	return stmt_each(stmt_get(sql), imported_row, &e);
}

struct each_text {
	int (*cb)(const char *text, void *ctx);
	void *ctx;
};

/* Hands the first column of each row to cb, until it returns nonzero. */
static int text_row(struct stmt *st, void *ctx)
{
	struct each_text *e = ctx;

	return e->cb(col_text(st, 0), e->ctx);
}

int store_local_names(int (*cb)(const char *name, void *ctx), void *ctx)
{
	static const char sql[] = "SELECT name FROM accounts WHERE NOT is_imported OR is_org";
	struct each_text e = {cb, ctx};

	return stmt_each(stmt_get(sql), text_row, &e);
}

int store_imported_insert(const struct account *a, int64_t now)
{
	/* the private collection and its default grant come with the account, as in the API,
	 * without the lookup and savepoint that a login's check needs: a sync owns its
	 * transaction, and DO NOTHING keeps a collection that is there already */
	static const char collection[] =
	    "INSERT INTO collections (id, name, parent_id, path, created_at)"
	    " VALUES (?1, ?2, 'private', '/Shared/Private/' || ?2, ?3) ON CONFLICT DO NOTHING";
	static const char grant[] =
	    "INSERT INTO grants (subject_id, collection_id, role_id)"
	    " SELECT ?1, c.id, s.value FROM collections c, settings s"
	    " WHERE c.path = '/Shared/Private/' || ?2 AND s.key = 'defaultNewUserRole'"
	    " ON CONFLICT DO NOTHING";
	char collection_id[ID_LEN];
	struct stmt *st;
	int rc = store_account_insert(a, NULL);

	if (rc != STORE_OK)
		return rc < 0 ? rc : STORE_ERROR; /* a sync only makes names it checked are free */
	if (new_uuid(collection_id) != 0)
		return STORE_ERROR;
	st = stmt_texts(collection, collection_id, a->name, NULL);
	stmt_int(st, 3, now);
	rc = stmt_exec(st, false);
	return rc == STORE_OK ? stmt_exec(stmt_texts(grant, a->id, a->name, NULL), false) : rc;
}

int store_imported_insert_many(const struct account *a, size_t n, int64_t now)
{
	int rc = STORE_OK;

	if (n > 0 && store_driver()->imported_insert_many != NULL)
		return store_driver()->imported_insert_many(a, n, now);
	for (size_t i = 0; rc == STORE_OK && i < n; i++)
		rc = store_imported_insert(&a[i], now);
	return rc;
}

int store_members_add_many(const struct member_add *m, size_t n)
{
	int rc = STORE_OK;

	if (n > 0 && store_driver()->members_add_many != NULL)
		return store_driver()->members_add_many(m, n);
	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		rc = store_org_member_ensure(m[i].org_id, m[i].user_id);
		if (rc == STORE_OK)
			rc = store_team_member_put(m[i].team_id, m[i].user_id, false);
	}
	return rc;
}

int store_imported_update(const char *id, const char *dn, const char *ldap_id,
			  const char *full_name, bool is_active, bool is_admin, bool ldap_missing,
			  bool ldap_deactivated, int64_t now)
{
	static const char sql[] =
	    "UPDATE accounts SET ldap_dn = ?2, full_name = ?3, is_active = ?4, is_admin = ?5,"
	    " ldap_missing = ?6, ldap_deactivated = ?7, updated_at = ?8, ldap_id = ?9"
	    " WHERE id = ?1 AND is_imported";
	struct stmt *st = stmt_texts(sql, id, dn, full_name);

	stmt_bool(st, 4, is_active);
	stmt_bool(st, 5, is_admin);
	stmt_bool(st, 6, ldap_missing);
	stmt_bool(st, 7, ldap_deactivated);
	stmt_int(st, 8, now);
	stmt_text(st, 9, ldap_id);
	return stmt_exec(st, true);
}

int store_imported_relocate(const char *id, const char *dn, const char *ldap_id, int64_t now)
{
	static const char sql[] = "UPDATE accounts SET ldap_dn = ?2, ldap_id = ?3, updated_at = ?4"
				  " WHERE id = ?1 AND is_imported";
	struct stmt *st = stmt_texts(sql, id, dn, ldap_id);

	stmt_int(st, 4, now);
	return stmt_exec(st, true);
}

int store_team_member_ids(const char *team_id, member_id_cb cb, void *ctx)
{
	static const char sql[] = "SELECT user_id FROM team_members WHERE team_id = ?1";
	struct each_text e = {cb, ctx};

	return stmt_each(stmt_texts(sql, team_id, NULL, NULL), text_row, &e);
}

struct each_member_row {
	member_sync_cb cb;
	void *ctx;
};

static int member_sync_row(struct stmt *st, void *ctx)
{
	struct each_member_row *e = ctx;
	struct member_row_sync m = {col_text(st, 0), col_bool(st, 1), col_bool(st, 2)};

	return e->cb(&m, e->ctx);
}

int store_org_member_rows(const char *org_id, member_sync_cb cb, void *ctx)
{
	static const char sql[] = "SELECT a.id, a.is_imported, m.is_admin FROM org_members m"
				  " JOIN accounts a ON a.id = m.user_id WHERE m.org_id = ?1";
	struct each_member_row e = {cb, ctx};

	return stmt_each(stmt_texts(sql, org_id, NULL, NULL), member_sync_row, &e);
}

int store_org_member_ensure(const char *org_id, const char *user_id)
{
	static const char sql[] =
	    "INSERT INTO org_members (org_id, user_id, is_admin) VALUES (?1, ?2, false)"
	    " ON CONFLICT DO NOTHING";

	return stmt_exec(stmt_texts(sql, org_id, user_id, NULL), false);
}

/* The kind names the table; anything else is refused rather than guessed. */
static int sync_kind(const char *kind)
{
	return strcmp(kind, "team") == 0 ? 0 : strcmp(kind, "org") == 0 ? 1 : -1;
}

static int dup_row(struct stmt *st, void *ctx)
{
	*(char **)ctx = strdup(col_text(st, 0));
	return 0;
}

int store_member_sync_get(const char *kind, const char *owner_id, char **json)
{
	static const char *const sql[] = {"SELECT config FROM team_sync WHERE team_id = ?1",
					  "SELECT config FROM org_admin_sync WHERE org_id = ?1"};
	int k = sync_kind(kind), rc;

	*json = NULL;
	if (k < 0)
		return STORE_ERROR;
	rc = stmt_one(stmt_texts(sql[k], owner_id, NULL, NULL), dup_row, json);
	return rc == STORE_OK && *json == NULL ? STORE_ERROR : rc;
}

int store_member_sync_set(const char *kind, const char *owner_id, const char *json)
{
	static const char *const sql[] = {
	    "INSERT INTO team_sync (team_id, config) VALUES (?1, ?2)"
	    " ON CONFLICT (team_id) DO UPDATE SET config = excluded.config",
	    "INSERT INTO org_admin_sync (org_id, config) VALUES (?1, ?2)"
	    " ON CONFLICT (org_id) DO UPDATE SET config = excluded.config"};
	int k = sync_kind(kind);

	return k < 0 ? STORE_ERROR : stmt_exec(stmt_texts(sql[k], owner_id, json, NULL), false);
}

struct each_config {
	member_sync_cfg_cb cb;
	void *ctx;
};

static int config_row(struct stmt *st, void *ctx)
{
	struct each_config *e = ctx;

	return e->cb(col_text(st, 0), col_text(st, 1), col_text(st, 2), col_text(st, 3), e->ctx);
}

int store_member_syncs(const char *kind, member_sync_cfg_cb cb, void *ctx)
{
	/* the names come with the configs: an org's account row would count its members */
	static const char *const sql[] = {
	    "SELECT s.team_id, t.org_id, o.name || '/' || t.name, s.config FROM team_sync s"
	    " JOIN teams t ON t.id = s.team_id JOIN accounts o ON o.id = t.org_id"
	    " ORDER BY t.org_id, t.name",
	    "SELECT s.org_id, '', o.name, s.config FROM org_admin_sync s"
	    " JOIN accounts o ON o.id = s.org_id"};
	struct each_config e = {cb, ctx};
	int k = sync_kind(kind);

	return k < 0 ? STORE_ERROR : stmt_each(stmt_get(sql[k]), config_row, &e);
}
