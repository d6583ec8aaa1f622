/*
 * Queries for accounts, organization and team membership, and the private
 * collections users get at first login.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define ACCOUNT_COLS                                                                               \
	"a.id, a.name, a.full_name, a.ldap_dn, a.is_org, a.is_admin, a.is_active, a.is_imported,"  \
	" a.created_at, a.updated_at,"                                                             \
	" CASE WHEN a.is_org THEN (SELECT count(*) FROM org_members m WHERE m.org_id = a.id)"      \
	" ELSE 0 END,"                                                                             \
	" CASE WHEN a.is_org THEN (SELECT count(*) FROM teams t WHERE t.org_id = a.id) ELSE 0 "    \
	"END,"                                                                                     \
	" a.ldap_missing"

/* Reads the ACCOUNT_COLS starting at column `c`. */
static void read_account(sqlite3_stmt *st, int c, struct account *a)
{
	store_text(a->id, sizeof(a->id), st, c + 0);
	store_text(a->name, sizeof(a->name), st, c + 1);
	store_text(a->full_name, sizeof(a->full_name), st, c + 2);
	store_text(a->ldap_dn, sizeof(a->ldap_dn), st, c + 3);
	a->is_org = sqlite3_column_int(st, c + 4);
	a->is_admin = sqlite3_column_int(st, c + 5);
	a->is_active = sqlite3_column_int(st, c + 6);
	a->is_imported = sqlite3_column_int(st, c + 7);
	a->created_at = sqlite3_column_int64(st, c + 8);
	a->updated_at = sqlite3_column_int64(st, c + 9);
	a->members_count = sqlite3_column_int64(st, c + 10);
	a->teams_count = sqlite3_column_int64(st, c + 11);
	a->ldap_missing = sqlite3_column_int(st, c + 12);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

int store_account_get(const char *key, struct account *out)
{
	static const char sql[] =
	    "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.id = ?1 OR a.name = ?1";
	sqlite3_stmt *st = store_stmt(sql);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_account(st, 0, out);
		sqlite3_reset(st);
		return STORE_OK;
	}
	return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
}

int store_account_password(const char *id, char **hash_out)
{
	static const char sql[] = "SELECT password_hash FROM accounts WHERE id = ?1";
	sqlite3_stmt *st = store_stmt(sql);
	const unsigned char *h;
	int rc;

	*hash_out = NULL;
	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	h = sqlite3_column_text(st, 0);
	if (h == NULL) {
		sqlite3_reset(st);
		return STORE_NOT_FOUND;
	}
	*hash_out = strdup((const char *)h);
	sqlite3_reset(st);
	return *hash_out ? STORE_OK : STORE_ERROR;
}

/* Steps through rows of accounts, calling cb for each. */
static int each_account(sqlite3_stmt *st, account_cb cb, void *ctx)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct account a;

		read_account(st, 0, &a);
		if (cb(&a, ctx) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_account_list(enum account_filter f, const char *start, int limit, account_cb cb,
		       void *ctx)
{
	/* one literal per filter: the statement cache is keyed by address */
	static const char *const sql[] = {
	    [FILTER_ALL] = "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.name >= ?1"
			   " ORDER BY a.name LIMIT ?2",
	    [FILTER_USERS] = "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.name >= ?1"
			     " AND NOT a.is_org ORDER BY a.name LIMIT ?2",
	    [FILTER_ORGS] = "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.name >= ?1"
			    " AND a.is_org ORDER BY a.name LIMIT ?2",
	    [FILTER_ADMINS] = "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.name >= ?1"
			      " AND a.is_admin ORDER BY a.name LIMIT ?2",
	    [FILTER_NON_ADMINS] = "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.name >= ?1"
				  " AND NOT a.is_org AND NOT a.is_admin ORDER BY a.name LIMIT ?2",
	    [FILTER_ACTIVE_USERS] = "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.name >= ?1"
				    " AND NOT a.is_org AND a.is_active ORDER BY a.name LIMIT ?2",
	    [FILTER_INACTIVE_USERS] = "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.name >= ?1"
				      " AND NOT a.is_org AND NOT a.is_active"
				      " ORDER BY a.name LIMIT ?2",
	};
	sqlite3_stmt *st = store_stmt(sql[f]);

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, start);
	sqlite3_bind_int(st, 2, limit);
	return each_account(st, cb, ctx);
}

int store_account_counts(int64_t *users, int64_t *orgs)
{
	static const char sql[] =
	    "SELECT count(*) FILTER (WHERE NOT is_org), count(*) FILTER (WHERE is_org)"
	    " FROM accounts";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	if (sqlite3_step(st) != SQLITE_ROW)
		return store_failed(st);
	*users = sqlite3_column_int64(st, 0);
	*orgs = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_account_insert(const struct account *a, const char *password_hash)
{
	static const char sql[] =
	    "INSERT INTO accounts (id, name, full_name, is_org, is_admin, is_active, is_imported,"
	    " ldap_dn, password_hash, created_at, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, a->id);
	bind_text(st, 2, a->name);
	bind_text(st, 3, a->full_name);
	sqlite3_bind_int(st, 4, a->is_org);
	sqlite3_bind_int(st, 5, a->is_admin);
	sqlite3_bind_int(st, 6, a->is_active);
	sqlite3_bind_int(st, 7, a->is_imported);
	bind_text(st, 8, a->ldap_dn);
	if (password_hash)
		bind_text(st, 9, password_hash);
	sqlite3_bind_int64(st, 10, a->created_at);
	return store_finish(st, false);
}

int store_account_update(const struct account *a)
{
	static const char sql[] =
	    "UPDATE accounts SET full_name = ?2, is_admin = ?3, is_active = ?4,"
	    " is_imported = ?5, ldap_dn = ?6, updated_at = ?7 WHERE id = ?1";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, a->id);
	bind_text(st, 2, a->full_name);
	sqlite3_bind_int(st, 3, a->is_admin);
	sqlite3_bind_int(st, 4, a->is_active);
	sqlite3_bind_int(st, 5, a->is_imported);
	bind_text(st, 6, a->ldap_dn);
	sqlite3_bind_int64(st, 7, a->updated_at);
	return store_finish(st, true);
}

int store_account_set_password(const char *id, const char *password_hash)
{
	static const char sql[] =
	    "UPDATE accounts SET password_hash = ?2, updated_at = ?3 WHERE id = ?1";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, id);
	bind_text(st, 2, password_hash);
	sqlite3_bind_int64(st, 3, now_seconds());
	return store_finish(st, true);
}

int store_account_delete(const char *id)
{
	/* grants name their subject by id without a foreign key (teams are subjects too) */
	static const char grants[] = "DELETE FROM grants WHERE subject_id = ?1"
				     " OR subject_id IN (SELECT id FROM teams WHERE org_id = ?1)";
	/* the private collection goes too, unless something was put below it */
	static const char private[] =
	    "DELETE FROM collections AS c WHERE c.path = '/Shared/Private/' ||"
	    " (SELECT name FROM accounts WHERE id = ?1)"
	    " AND NOT EXISTS (SELECT 1 FROM collections k WHERE k.parent_id = c.id)";
	static const char sql[] = "DELETE FROM accounts WHERE id = ?1";
	sqlite3_stmt *st = store_stmt(grants);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, id);
	rc = store_finish(st, false);
	if (rc != STORE_OK)
		return rc;
	st = store_stmt(private);
	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, id);
	rc = store_finish(st, false);
	if (rc != STORE_OK)
		return rc;
	st = store_stmt(sql);
	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, id);
	return store_finish(st, true);
}

int store_count_active_admins(const char *except_id, int64_t *out)
{
	static const char sql[] = "SELECT count(*) FROM accounts WHERE is_admin AND is_active"
				  " AND NOT is_org AND id IS NOT ?1";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	if (except_id)
		bind_text(st, 1, except_id);
	if (sqlite3_step(st) != SQLITE_ROW)
		return store_failed(st);
	*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

/* ---- membership ---- */

static int put_pair(const char *sql, const char *a, const char *b, bool flag)
{
	sqlite3_stmt *st = store_bound(sql, a, b, NULL);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_int(st, 3, flag);
	return store_finish(st, false);
}

static int delete_pair(const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st = store_bound(sql, a, b, NULL);

	return st ? store_finish(st, true) : STORE_ERROR;
}

static int get_flag(const char *sql, const char *a, const char *b, bool *is_admin)
{
	sqlite3_stmt *st = store_bound(sql, a, b, NULL);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	*is_admin = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

/* Steps through rows of (is_admin, ACCOUNT_COLS...). */
static int each_member(sqlite3_stmt *st, member_cb cb, void *ctx)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct member m;

		m.is_admin = sqlite3_column_int(st, 0);
		read_account(st, 1, &m.account);
		if (cb(&m, ctx) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}

static int list_members(const char *sql, const char *owner, const char *start, int limit,
			member_cb cb, void *ctx)
{
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, owner);
	bind_text(st, 2, start);
	sqlite3_bind_int(st, 3, limit);
	return each_member(st, cb, ctx);
}

int store_org_member_get(const char *org_id, const char *user_id, bool *is_admin)
{
	static const char sql[] =
	    "SELECT is_admin FROM org_members WHERE org_id = ?1 AND user_id = ?2";
	return get_flag(sql, org_id, user_id, is_admin);
}

int store_org_members(const char *org_id, const char *start, int limit, member_cb cb, void *ctx)
{
	static const char sql[] = "SELECT m.is_admin, " ACCOUNT_COLS
				  " FROM org_members m JOIN accounts a ON a.id = m.user_id"
				  " WHERE m.org_id = ?1 AND a.name >= ?2 ORDER BY a.name LIMIT ?3";
	return list_members(sql, org_id, start, limit, cb, ctx);
}

int store_org_member_put(const char *org_id, const char *user_id, bool is_admin)
{
	static const char sql[] = "INSERT INTO org_members (org_id, user_id, is_admin)"
				  " VALUES (?1, ?2, ?3) ON CONFLICT (org_id, user_id)"
				  " DO UPDATE SET is_admin = excluded.is_admin";
	return put_pair(sql, org_id, user_id, is_admin);
}

int store_org_member_delete(const char *org_id, const char *user_id)
{
	static const char teams[] = "DELETE FROM team_members WHERE user_id = ?2"
				    " AND team_id IN (SELECT id FROM teams WHERE org_id = ?1)";
	static const char sql[] = "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2";
	sqlite3_stmt *st = store_bound(teams, org_id, user_id, NULL);
	int rc = st ? store_finish(st, false) : STORE_ERROR;

	if (rc != STORE_OK)
		return rc;
	return delete_pair(sql, org_id, user_id);
}

int store_user_orgs(const char *user_id, const char *start, int limit, member_cb cb, void *ctx)
{
	static const char sql[] = "SELECT m.is_admin, " ACCOUNT_COLS
				  " FROM org_members m JOIN accounts a ON a.id = m.org_id"
				  " WHERE m.user_id = ?1 AND a.name >= ?2 ORDER BY a.name LIMIT ?3";
	return list_members(sql, user_id, start, limit, cb, ctx);
}

/* ---- teams ---- */

#define TEAM_COLS                                                                                  \
	"t.id, t.org_id, t.name, t.description, t.created_at, t.updated_at,"                       \
	" (SELECT count(*) FROM team_members m WHERE m.team_id = t.id)"

static void read_team(sqlite3_stmt *st, struct team *t)
{
	store_text(t->id, sizeof(t->id), st, 0);
	store_text(t->org_id, sizeof(t->org_id), st, 1);
	store_text(t->name, sizeof(t->name), st, 2);
	store_text(t->description, sizeof(t->description), st, 3);
	t->created_at = sqlite3_column_int64(st, 4);
	t->updated_at = sqlite3_column_int64(st, 5);
	t->members_count = sqlite3_column_int64(st, 6);
}

int store_team_get(const char *org_id, const char *key, struct team *out)
{
	static const char sql[] = "SELECT " TEAM_COLS " FROM teams t"
				  " WHERE t.org_id = ?1 AND (t.id = ?2 OR t.name = ?2)";
	sqlite3_stmt *st = store_stmt(sql);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, org_id);
	bind_text(st, 2, key);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	read_team(st, out);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_teams(const char *org_id, const char *start, int limit, team_cb cb, void *ctx)
{
	static const char sql[] = "SELECT " TEAM_COLS " FROM teams t"
				  " WHERE t.org_id = ?1 AND t.name >= ?2 ORDER BY t.name LIMIT ?3";
	sqlite3_stmt *st = store_stmt(sql);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, org_id);
	bind_text(st, 2, start);
	sqlite3_bind_int(st, 3, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct team t;

		read_team(st, &t);
		if (cb(&t, ctx) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_team_insert(const struct team *t)
{
	static const char sql[] = "INSERT INTO teams (id, org_id, name, description, created_at,"
				  " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, t->id);
	bind_text(st, 2, t->org_id);
	bind_text(st, 3, t->name);
	bind_text(st, 4, t->description);
	sqlite3_bind_int64(st, 5, t->created_at);
	return store_finish(st, false);
}

int store_team_update(const struct team *t)
{
	static const char sql[] =
	    "UPDATE teams SET name = ?2, description = ?3, updated_at = ?4 WHERE id = ?1";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, t->id);
	bind_text(st, 2, t->name);
	bind_text(st, 3, t->description);
	sqlite3_bind_int64(st, 4, t->updated_at);
	return store_finish(st, true);
}

int store_team_delete(const char *team_id)
{
	static const char grants[] = "DELETE FROM grants WHERE subject_id = ?1";
	static const char sql[] = "DELETE FROM teams WHERE id = ?1";
	sqlite3_stmt *st = store_stmt(grants);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, team_id);
	rc = store_finish(st, false);
	if (rc != STORE_OK)
		return rc;
	st = store_stmt(sql);
	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, team_id);
	return store_finish(st, true);
}

int store_team_member_get(const char *team_id, const char *user_id, bool *is_admin)
{
	static const char sql[] =
	    "SELECT is_admin FROM team_members WHERE team_id = ?1 AND user_id = ?2";
	return get_flag(sql, team_id, user_id, is_admin);
}

int store_team_members(const char *team_id, const char *start, int limit, member_cb cb, void *ctx)
{
	static const char sql[] = "SELECT m.is_admin, " ACCOUNT_COLS
				  " FROM team_members m JOIN accounts a ON a.id = m.user_id"
				  " WHERE m.team_id = ?1 AND a.name >= ?2 ORDER BY a.name LIMIT ?3";
	return list_members(sql, team_id, start, limit, cb, ctx);
}

int store_team_member_put(const char *team_id, const char *user_id, bool is_admin)
{
	static const char sql[] = "INSERT INTO team_members (team_id, user_id, is_admin)"
				  " VALUES (?1, ?2, ?3) ON CONFLICT (team_id, user_id)"
				  " DO UPDATE SET is_admin = excluded.is_admin";
	return put_pair(sql, team_id, user_id, is_admin);
}

int store_team_member_delete(const char *team_id, const char *user_id)
{
	static const char sql[] = "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2";
	return delete_pair(sql, team_id, user_id);
}

/* ---- collections ---- */

int store_ensure_private_collection(const struct account *user)
{
	static const char find[] = "SELECT id FROM collections WHERE path = ?1";
	/* OR IGNORE: a concurrent login of the same user may have made it meanwhile */
	static const char add[] = "INSERT OR IGNORE INTO collections"
				  " (id, name, parent_id, path, created_at)"
				  " VALUES (?1, ?2, 'private', ?3, ?4)";
	static const char grant[] =
	    "INSERT OR IGNORE INTO grants (subject_id, collection_id, role_id)"
	    " SELECT ?1, ?2, value FROM settings WHERE key = 'defaultNewUserRole'";
	char path[NAME_LEN + 32], id[ID_LEN];
	sqlite3_stmt *st = store_stmt(find);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	snprintf(path, sizeof(path), "/Shared/Private/%s", user->name);
	bind_text(st, 1, path);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc != SQLITE_DONE)
		return store_failed(st);
	if (new_uuid(id) != 0 || store_begin_nested() != STORE_OK)
		return STORE_ERROR;
	st = store_stmt(add);
	if (st == NULL)
		goto fail;
	bind_text(st, 1, id);
	bind_text(st, 2, user->name);
	bind_text(st, 3, path);
	sqlite3_bind_int64(st, 4, now_seconds());
	if (store_finish(st, false) != STORE_OK)
		goto fail;
	if (sqlite3_changes(sqlite3_db_handle(st)) == 0)
		return store_commit_nested() == STORE_OK ? STORE_OK : STORE_ERROR;
	st = store_stmt(grant);
	if (st == NULL)
		goto fail;
	bind_text(st, 1, user->id);
	bind_text(st, 2, id);
	if (store_finish(st, false) != STORE_OK || store_commit_nested() != STORE_OK)
		goto fail;
	return STORE_CREATED;
fail:
	store_rollback_nested();
	return STORE_ERROR;
}

/* ---- sessions ---- */

int store_session_insert(const struct session_row *s)
{
	static const char sql[] = "INSERT INTO sessions (token_hash, account_id, created_at,"
				  " last_used, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_blob(st, 1, s->hash, sizeof(s->hash), SQLITE_STATIC);
	bind_text(st, 2, s->account_id);
	sqlite3_bind_int64(st, 3, s->created_at);
	sqlite3_bind_int64(st, 4, s->last_used);
	sqlite3_bind_int64(st, 5, s->expires_at);
	return store_finish(st, false);
}

int store_session_get(const unsigned char hash[32], struct session_row *out)
{
	static const char sql[] = "SELECT account_id, created_at, last_used, expires_at"
				  " FROM sessions WHERE token_hash = ?1";
	sqlite3_stmt *st = store_stmt(sql);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	memcpy(out->hash, hash, 32);
	store_text(out->account_id, sizeof(out->account_id), st, 0);
	out->created_at = sqlite3_column_int64(st, 1);
	out->last_used = sqlite3_column_int64(st, 2);
	out->expires_at = sqlite3_column_int64(st, 3);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_session_touch(const unsigned char hash[32], int64_t last_used)
{
	static const char sql[] = "UPDATE sessions SET last_used = ?2 WHERE token_hash = ?1";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, last_used);
	return store_finish(st, false);
}

int store_session_delete(const unsigned char hash[32])
{
	static const char sql[] = "DELETE FROM sessions WHERE token_hash = ?1";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	return store_finish(st, false);
}

int store_sessions_delete_account(const char *account_id, const unsigned char *keep)
{
	static const char sql[] =
	    "DELETE FROM sessions WHERE account_id = ?1 AND token_hash IS NOT ?2";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	bind_text(st, 1, account_id);
	if (keep != NULL)
		sqlite3_bind_blob(st, 2, keep, 32, SQLITE_STATIC);
	return store_finish(st, false);
}

int store_sessions_expire(int64_t now, int64_t idle_seconds)
{
	static const char sql[] =
	    "DELETE FROM sessions WHERE expires_at <= ?1 OR last_used + ?2 <= ?1";
	sqlite3_stmt *st = store_stmt(sql);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, idle_seconds);
	return store_finish(st, false);
}

/* ---- for the authorization snapshot ---- */

int store_each_account(account_row_cb cb, void *ctx)
{
	static const char sql[] = "SELECT " ACCOUNT_COLS " FROM accounts a";
	sqlite3_stmt *st = store_stmt(sql);

	return st ? each_account(st, cb, ctx) : STORE_ERROR;
}

int store_each_membership(member_row_cb cb, void *ctx)
{
	/* org memberships, then team memberships: both make a user part of a grant subject */
	static const char sql[] = "SELECT user_id, org_id FROM org_members"
				  " UNION ALL SELECT user_id, team_id FROM team_members";
	sqlite3_stmt *st = store_stmt(sql);
	struct member_row m;
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_text(m.user_id, sizeof(m.user_id), st, 0);
		store_text(m.group_id, sizeof(m.group_id), st, 1);
		if (cb(&m, ctx) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}
