/*
 * What an LDAP sync reads and changes in the store: imported accounts in a
 * compact form (a sync of a large directory holds them all), team and org
 * member rows, and the member-sync configs of teams and orgs.
 */
#include <stdio.h>
#include <string.h>

#include "store.h"

static const char *text(sqlite3_stmt *st, int col)
{
	const unsigned char *v = sqlite3_column_text(st, col);

	return v ? (const char *)v : "";
}

int store_imported_accounts(imported_cb cb, void *ctx)
{
	static const char sql[] =
	    "SELECT id, name, ldap_dn, full_name, is_active, is_admin, ldap_missing,"
	    " ldap_deactivated FROM accounts WHERE is_imported AND NOT is_org";
	sqlite3_stmt *st = store_stmt(sql);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct imported_row r = {text(st, 0),
					 text(st, 1),
					 text(st, 2),
					 text(st, 3),
					 sqlite3_column_int(st, 4),
					 sqlite3_column_int(st, 5),
					 sqlite3_column_int(st, 6),
					 sqlite3_column_int(st, 7)};

		if (cb(&r, ctx) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}

/* Hands the first column of each row to cb, until it returns nonzero. */
static int each_text(sqlite3_stmt *st, int (*cb)(const char *text, void *ctx), void *ctx)
{
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (cb(text(st, 0), ctx) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_local_names(int (*cb)(const char *name, void *ctx), void *ctx)
{
	static const char sql[] = "SELECT name FROM accounts WHERE NOT is_imported OR is_org";

	return each_text(store_stmt(sql), cb, ctx);
}

int store_imported_insert(const struct account *a, int64_t now)
{
	/* the private collection and its default grant come with the account, as in the API,
	 * without the lookup and savepoint that a login's check needs: a sync owns its
	 * transaction, and OR IGNORE keeps a collection that is there already */
	static const char collection[] =
	    "INSERT OR IGNORE INTO collections (id, name, parent_id, path, created_at)"
	    " VALUES (?1, ?2, 'private', '/Shared/Private/' || ?2, ?4)";
	static const char grant[] =
	    "INSERT OR IGNORE INTO grants (subject_id, collection_id, role_id)"
	    " SELECT ?1, c.id, s.value FROM collections c, settings s"
	    " WHERE c.path = '/Shared/Private/' || ?2 AND s.key = 'defaultNewUserRole'";
	char collection_id[ID_LEN];
	sqlite3_stmt *st;

	if (store_account_insert(a, NULL) != STORE_OK || new_uuid(collection_id) != 0)
		return STORE_ERROR;
	st = store_bound(collection, collection_id, a->name, NULL);
	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(st, 4, now);
	if (store_finish(st, false) != STORE_OK)
		return STORE_ERROR;
	st = store_bound(grant, a->id, a->name, NULL);
	return st ? store_finish(st, false) : STORE_ERROR;
}

int store_cache_size_mb(int mb)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d", mb * 1024);
	return sqlite3_exec(store_db(), sql, NULL, NULL, NULL) == SQLITE_OK ? STORE_OK
									    : STORE_ERROR;
}

int store_imported_update(const char *id, const char *dn, const char *full_name, bool is_active,
			  bool is_admin, bool ldap_missing, bool ldap_deactivated, int64_t now)
{
	static const char sql[] =
	    "UPDATE accounts SET ldap_dn = ?2, full_name = ?3, is_active = ?4, is_admin = ?5,"
	    " ldap_missing = ?6, ldap_deactivated = ?7, updated_at = ?8"
	    " WHERE id = ?1 AND is_imported";
	sqlite3_stmt *st = store_bound(sql, id, dn, full_name);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_int(st, 4, is_active);
	sqlite3_bind_int(st, 5, is_admin);
	sqlite3_bind_int(st, 6, ldap_missing);
	sqlite3_bind_int(st, 7, ldap_deactivated);
	sqlite3_bind_int64(st, 8, now);
	return store_finish(st, true);
}

static int member_rows(const char *sql, const char *owner, member_sync_cb cb, void *ctx)
{
	sqlite3_stmt *st = store_bound(sql, owner, NULL, NULL);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct member_row_sync m = {text(st, 0), sqlite3_column_int(st, 1),
					    sqlite3_column_int(st, 2)};

		if (cb(&m, ctx) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_team_member_ids(const char *team_id, member_id_cb cb, void *ctx)
{
	static const char sql[] = "SELECT user_id FROM team_members WHERE team_id = ?1";

	return each_text(store_bound(sql, team_id, NULL, NULL), cb, ctx);
}

int store_org_member_rows(const char *org_id, member_sync_cb cb, void *ctx)
{
	static const char sql[] = "SELECT a.id, a.is_imported, m.is_admin FROM org_members m"
				  " JOIN accounts a ON a.id = m.user_id WHERE m.org_id = ?1";

	return member_rows(sql, org_id, cb, ctx);
}

int store_org_member_ensure(const char *org_id, const char *user_id)
{
	static const char sql[] =
	    "INSERT OR IGNORE INTO org_members (org_id, user_id, is_admin) VALUES (?1, ?2, 0)";
	sqlite3_stmt *st = store_bound(sql, org_id, user_id, NULL);

	return st ? store_finish(st, false) : STORE_ERROR;
}

/* The kind names the table; anything else is refused rather than guessed. */
static const char *sync_table(const char *kind)
{
	return strcmp(kind, "team") == 0 ? "team" : strcmp(kind, "org") == 0 ? "org" : NULL;
}

int store_member_sync_get(const char *kind, const char *owner_id, char **json)
{
	static const char team_sql[] = "SELECT config FROM team_sync WHERE team_id = ?1";
	static const char org_sql[] = "SELECT config FROM org_admin_sync WHERE org_id = ?1";
	const char *t = sync_table(kind);
	sqlite3_stmt *st;
	int rc;

	*json = NULL;
	if (t == NULL)
		return STORE_ERROR;
	st = store_bound(t[0] == 't' ? team_sql : org_sql, owner_id, NULL, NULL);
	if (st == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	*json = strdup(text(st, 0));
	sqlite3_reset(st);
	return *json ? STORE_OK : STORE_ERROR;
}

int store_member_sync_set(const char *kind, const char *owner_id, const char *json)
{
	static const char team_sql[] =
	    "INSERT INTO team_sync (team_id, config) VALUES (?1, ?2)"
	    " ON CONFLICT (team_id) DO UPDATE SET config = excluded.config";
	static const char org_sql[] =
	    "INSERT INTO org_admin_sync (org_id, config) VALUES (?1, ?2)"
	    " ON CONFLICT (org_id) DO UPDATE SET config = excluded.config";
	const char *t = sync_table(kind);
	sqlite3_stmt *st;

	if (t == NULL)
		return STORE_ERROR;
	st = store_bound(t[0] == 't' ? team_sql : org_sql, owner_id, json, NULL);
	return st ? store_finish(st, false) : STORE_ERROR;
}

int store_member_syncs(const char *kind, member_sync_cfg_cb cb, void *ctx)
{
	/* the names come with the configs: an org's account row would count its members */
	static const char team_sql[] =
	    "SELECT s.team_id, t.org_id, o.name || '/' || t.name, s.config FROM team_sync s"
	    " JOIN teams t ON t.id = s.team_id JOIN accounts o ON o.id = t.org_id"
	    " ORDER BY t.org_id, t.name";
	static const char org_sql[] = "SELECT s.org_id, '', o.name, s.config FROM org_admin_sync s"
				      " JOIN accounts o ON o.id = s.org_id";
	const char *t = sync_table(kind);
	sqlite3_stmt *st;
	int rc;

	if (t == NULL)
		return STORE_ERROR;
	st = store_stmt(t[0] == 't' ? team_sql : org_sql);
	if (st == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (cb(text(st, 0), text(st, 1), text(st, 2), text(st, 3), ctx) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}
