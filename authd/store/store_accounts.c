/*
 * Queries for accounts, organization and team membership, the private
 * collections users get, and the rows the authorization snapshot is built
 * from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

#define ACCOUNT_COLS                                                                               \
	"a.id, a.name, a.full_name, a.ldap_dn, a.is_org, a.is_admin, a.is_active, a.is_imported,"  \
	" a.created_at, a.updated_at,"                                                             \
	" CASE WHEN a.is_org THEN (SELECT count(*) FROM org_members m WHERE m.org_id = a.id)"      \
	" ELSE 0 END,"                                                                             \
	" CASE WHEN a.is_org THEN (SELECT count(*) FROM teams t WHERE t.org_id = a.id) ELSE 0 "    \
	"END,"                                                                                     \
	" a.ldap_missing, a.ldap_id"

/* Reads the ACCOUNT_COLS starting at column `c`. */
static void read_account(struct stmt *st, int c, struct account *a)
{
	col_copy(st, c + 0, a->id, sizeof(a->id));
	col_copy(st, c + 1, a->name, sizeof(a->name));
	col_copy(st, c + 2, a->full_name, sizeof(a->full_name));
	col_copy(st, c + 3, a->ldap_dn, sizeof(a->ldap_dn));
	a->is_org = col_bool(st, c + 4);
	a->is_admin = col_bool(st, c + 5);
	a->is_active = col_bool(st, c + 6);
	a->is_imported = col_bool(st, c + 7);
	a->created_at = col_int(st, c + 8);
	a->updated_at = col_int(st, c + 9);
	a->members_count = col_int(st, c + 10);
	a->teams_count = col_int(st, c + 11);
	a->ldap_missing = col_bool(st, c + 12);
	col_copy(st, c + 13, a->ldap_id, sizeof(a->ldap_id));
}

static int account_row(struct stmt *st, void *ctx)
{
	read_account(st, 0, ctx);
	return 0;
}

struct each_account {
	account_cb cb;
	void *ctx;
};

static int each_account_row(struct stmt *st, void *ctx)
{
	struct each_account *e = ctx;
	struct account a;

	read_account(st, 0, &a);
	return e->cb(&a, e->ctx);
}

/* Hands each row of ACCOUNT_COLS to cb, until it returns nonzero. */
static int each_account(struct stmt *st, account_cb cb, void *ctx)
{
	struct each_account e = {cb, ctx};

	return stmt_each(st, each_account_row, &e);
}

/*
 * ACCOUNT_COLS without an org's counts, for the lookups of one account that
 * most requests make: PostgreSQL sets up the two counting subqueries on
 * every run, a user's too, which doubled the server's time for the lookup.
 */
#define ACCOUNT_ONE_COLS                                                                           \
	"a.id, a.name, a.full_name, a.ldap_dn, a.is_org, a.is_admin, a.is_active, a.is_imported,"  \
	" a.created_at, a.updated_at, 0, 0, a.ldap_missing, a.ldap_id"

static int counts_row(struct stmt *st, void *ctx)
{
	struct account *a = ctx;

	a->members_count = col_int(st, 0);
	a->teams_count = col_int(st, 1);
	return 0;
}

/* A row of ACCOUNT_ONE_COLS, and an org's counts read after it. */
static int one_account(struct stmt *st, struct account *out)
{
	static const char counts[] = "SELECT (SELECT count(*) FROM org_members WHERE org_id = ?1),"
				     " (SELECT count(*) FROM teams WHERE org_id = ?1)";
	int rc = stmt_one(st, account_row, out);

	if (rc != STORE_OK || !out->is_org)
		return rc;
	rc = stmt_one(stmt_texts(counts, out->id, NULL, NULL), counts_row, out);
	return rc == STORE_NOT_FOUND ? STORE_ERROR : rc;
}

int store_account_get(const char *key, struct account *out)
{
	static const char sql[] =
	    "SELECT " ACCOUNT_ONE_COLS " FROM accounts a WHERE a.id = ?1 OR a.name = ?1";

	return one_account(stmt_texts(sql, key, NULL, NULL), out);
}

int store_account_by_ldap_id(const char *ldap_id, struct account *out)
{
	static const char sql[] =
	    "SELECT " ACCOUNT_ONE_COLS " FROM accounts a WHERE a.ldap_id = ?1 AND a.ldap_id != ''";

	return one_account(stmt_texts(sql, ldap_id, NULL, NULL), out);
}

/* The first column, malloc'd; stays NULL for SQL NULL. */
struct text_copy {
	char *text;
	bool no_memory;
};

static int copy_text_row(struct stmt *st, void *ctx)
{
	struct text_copy *t = ctx;

	if (col_null(st, 0))
		return 0;
	t->text = strdup(col_text(st, 0));
	t->no_memory = t->text == NULL;
	return 0;
}

int store_account_password(const char *id, char **hash_out)
{
	static const char sql[] = "SELECT password_hash FROM accounts WHERE id = ?1";
	struct text_copy t = {NULL, false};
	int rc = stmt_one(stmt_texts(sql, id, NULL, NULL), copy_text_row, &t);

	*hash_out = t.text;
	if (rc != STORE_OK)
		return rc;
	if (t.no_memory)
		return STORE_ERROR;
	return t.text ? STORE_OK : STORE_NOT_FOUND;
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
	struct stmt *st = stmt_texts(sql[f], start, NULL, NULL);

	stmt_int(st, 2, limit);
	return each_account(st, cb, ctx);
}

static int two_counts_row(struct stmt *st, void *ctx)
{
	int64_t *n = ctx;

	n[0] = col_int(st, 0);
	n[1] = col_int(st, 1);
	return 0;
}

int store_account_counts(int64_t *users, int64_t *orgs)
{
	static const char sql[] =
	    "SELECT count(*) FILTER (WHERE NOT is_org), count(*) FILTER (WHERE is_org)"
	    " FROM accounts";
	int64_t n[2] = {0, 0};
	int rc = stmt_one(stmt_get(sql), two_counts_row, n);

	*users = n[0];
	*orgs = n[1];
	return rc == STORE_NOT_FOUND ? STORE_ERROR : rc; /* a count always has its row */
}

int store_account_insert(const struct account *a, const char *password_hash)
{
	static const char sql[] =
	    "INSERT INTO accounts (id, name, full_name, is_org, is_admin, is_active, is_imported,"
	    " ldap_dn, password_hash, created_at, updated_at, ldap_id)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)";
	struct stmt *st = stmt_texts(sql, a->id, a->name, a->full_name);

	stmt_bool(st, 4, a->is_org);
	stmt_bool(st, 5, a->is_admin);
	stmt_bool(st, 6, a->is_active);
	stmt_bool(st, 7, a->is_imported);
	stmt_text(st, 8, a->ldap_dn);
	stmt_text(st, 9, password_hash);
	stmt_int(st, 10, a->created_at);
	stmt_text(st, 11, a->ldap_id);
	return stmt_exec(st, false);
}

int store_account_update(const struct account *a)
{
	static const char sql[] =
	    "UPDATE accounts SET full_name = ?2, is_admin = ?3, is_active = ?4,"
	    " is_imported = ?5, ldap_dn = ?6, updated_at = ?7 WHERE id = ?1";
	struct stmt *st = stmt_texts(sql, a->id, a->full_name, NULL);

	stmt_bool(st, 3, a->is_admin);
	stmt_bool(st, 4, a->is_active);
	stmt_bool(st, 5, a->is_imported);
	stmt_text(st, 6, a->ldap_dn);
	stmt_int(st, 7, a->updated_at);
	return stmt_exec(st, true);
}

int store_account_set_password(const char *id, const char *password_hash)
{
	static const char sql[] =
	    "UPDATE accounts SET password_hash = ?2, updated_at = ?3 WHERE id = ?1";
	struct stmt *st = stmt_texts(sql, id, password_hash, NULL);

	stmt_int(st, 3, now_seconds());
	return stmt_exec(st, true);
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
	int rc = stmt_exec(stmt_texts(grants, id, NULL, NULL), false);

	if (rc == STORE_OK)
		rc = stmt_exec(stmt_texts(private, id, NULL, NULL), false);
	if (rc == STORE_OK)
		rc = stmt_exec(stmt_texts(sql, id, NULL, NULL), true);
	return rc;
}

int store_count_active_admins(const char *except_id, int64_t *out)
{
	static const char sql[] = "SELECT count(*) FROM accounts WHERE is_admin AND is_active"
				  " AND NOT is_org AND id IS DISTINCT FROM ?1";
	int rc;

	*out = 0;
	rc = stmt_one_int(stmt_texts(sql, except_id, NULL, NULL), out);
	return rc == STORE_NOT_FOUND ? STORE_ERROR : rc;
}

/* ---- membership ---- */

static int put_pair(const char *sql, const char *a, const char *b, bool flag)
{
	struct stmt *st = stmt_texts(sql, a, b, NULL);

	stmt_bool(st, 3, flag);
	return stmt_exec(st, false);
}

static int flag_row(struct stmt *st, void *ctx)
{
	*(bool *)ctx = col_bool(st, 0);
	return 0;
}

struct each_member {
	member_cb cb;
	void *ctx;
};

/* A row of (is_admin, ACCOUNT_COLS...). */
static int each_member_row(struct stmt *st, void *ctx)
{
	struct each_member *e = ctx;
	struct member m;

	m.is_admin = col_bool(st, 0);
	read_account(st, 1, &m.account);
	return e->cb(&m, e->ctx);
}

static int list_members(const char *sql, const char *owner, const char *start, int limit,
			member_cb cb, void *ctx)
{
	struct each_member e = {cb, ctx};
	struct stmt *st = stmt_texts(sql, owner, start, NULL);

	stmt_int(st, 3, limit);
	return stmt_each(st, each_member_row, &e);
}

int store_org_member_get(const char *org_id, const char *user_id, bool *is_admin)
{
	static const char sql[] =
	    "SELECT is_admin FROM org_members WHERE org_id = ?1 AND user_id = ?2";

	return stmt_one(stmt_texts(sql, org_id, user_id, NULL), flag_row, is_admin);
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
	int rc = stmt_exec(stmt_texts(teams, org_id, user_id, NULL), false);

	return rc == STORE_OK ? stmt_exec(stmt_texts(sql, org_id, user_id, NULL), true) : rc;
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

static void read_team(struct stmt *st, struct team *t)
{
	col_copy(st, 0, t->id, sizeof(t->id));
	col_copy(st, 1, t->org_id, sizeof(t->org_id));
	col_copy(st, 2, t->name, sizeof(t->name));
	col_copy(st, 3, t->description, sizeof(t->description));
	t->created_at = col_int(st, 4);
	t->updated_at = col_int(st, 5);
	t->members_count = col_int(st, 6);
}

static int team_row(struct stmt *st, void *ctx)
{
	read_team(st, ctx);
	return 0;
}

struct each_team {
	team_cb cb;
	void *ctx;
};

static int each_team_row(struct stmt *st, void *ctx)
{
	struct each_team *e = ctx;
	struct team t;

	read_team(st, &t);
	return e->cb(&t, e->ctx);
}

int store_team_get(const char *org_id, const char *key, struct team *out)
{
	static const char sql[] = "SELECT " TEAM_COLS " FROM teams t"
				  " WHERE t.org_id = ?1 AND (t.id = ?2 OR t.name = ?2)";

	return stmt_one(stmt_texts(sql, org_id, key, NULL), team_row, out);
}

int store_teams(const char *org_id, const char *start, int limit, team_cb cb, void *ctx)
{
	static const char sql[] = "SELECT " TEAM_COLS " FROM teams t"
				  " WHERE t.org_id = ?1 AND t.name >= ?2 ORDER BY t.name LIMIT ?3";
	struct each_team e = {cb, ctx};
	struct stmt *st = stmt_texts(sql, org_id, start, NULL);

	stmt_int(st, 3, limit);
	return stmt_each(st, each_team_row, &e);
}

int store_team_insert(const struct team *t)
{
	static const char sql[] = "INSERT INTO teams (id, org_id, name, description, created_at,"
				  " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
	struct stmt *st = stmt_texts(sql, t->id, t->org_id, t->name);

	stmt_text(st, 4, t->description);
	stmt_int(st, 5, t->created_at);
	return stmt_exec(st, false);
}

int store_team_update(const struct team *t)
{
	static const char sql[] =
	    "UPDATE teams SET name = ?2, description = ?3, updated_at = ?4 WHERE id = ?1";
	struct stmt *st = stmt_texts(sql, t->id, t->name, t->description);

	stmt_int(st, 4, t->updated_at);
	return stmt_exec(st, true);
}

int store_team_delete(const char *team_id)
{
	static const char grants[] = "DELETE FROM grants WHERE subject_id = ?1";
	static const char sql[] = "DELETE FROM teams WHERE id = ?1";
	int rc = stmt_exec(stmt_texts(grants, team_id, NULL, NULL), false);

	return rc == STORE_OK ? stmt_exec(stmt_texts(sql, team_id, NULL, NULL), true) : rc;
}

int store_team_member_get(const char *team_id, const char *user_id, bool *is_admin)
{
	static const char sql[] =
	    "SELECT is_admin FROM team_members WHERE team_id = ?1 AND user_id = ?2";

	return stmt_one(stmt_texts(sql, team_id, user_id, NULL), flag_row, is_admin);
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

	return stmt_exec(stmt_texts(sql, team_id, user_id, NULL), true);
}

/* ---- collections ---- */

static int ignore_row(struct stmt *st, void *ctx)
{
	(void)st;
	(void)ctx;
	return 0;
}

/* The collection and its grant, in the savepoint store_ensure_private_collection opened. */
static int make_private_collection(const struct account *user, const char *path)
{
	/* DO NOTHING: a concurrent login of the same user may have made it meanwhile */
	static const char add[] = "INSERT INTO collections"
				  " (id, name, parent_id, path, created_at)"
				  " VALUES (?1, ?2, 'private', ?3, ?4) ON CONFLICT DO NOTHING";
	static const char grant[] =
	    "INSERT INTO grants (subject_id, collection_id, role_id)"
	    " SELECT ?1, ?2, value FROM settings WHERE key = 'defaultNewUserRole'"
	    " ON CONFLICT DO NOTHING";
	char id[ID_LEN];
	struct stmt *st;
	int rc;

	if (new_uuid(id) != 0)
		return STORE_ERROR;
	st = stmt_texts(add, id, user->name, path);
	stmt_int(st, 4, now_seconds());
	rc = stmt_exec(st, false);
	if (rc != STORE_OK)
		return rc;
	if (stmt_changed() == 0)
		return STORE_OK; /* the concurrent login made it */
	rc = stmt_exec(stmt_texts(grant, user->id, id, NULL), false);
	return rc == STORE_OK ? STORE_CREATED : rc;
}

int store_ensure_private_collection(const struct account *user)
{
	static const char find[] = "SELECT id FROM collections WHERE path = ?1";
	char path[NAME_LEN + 32];
	int rc;

	snprintf(path, sizeof(path), "/Shared/Private/%s", user->name);
	rc = stmt_one(stmt_texts(find, path, NULL, NULL), ignore_row, NULL);
	if (rc != STORE_NOT_FOUND)
		return rc;
	rc = store_begin_nested();
	if (rc != STORE_OK)
		return rc;
	rc = make_private_collection(user, path);
	if (rc >= 0) {
		int committed = store_commit_nested();

		if (committed == STORE_OK)
			return rc;
		rc = committed;
	}
	store_rollback_nested();
	return rc;
}

/* ---- for the authorization snapshot ---- */

int store_each_account(account_row_cb cb, void *ctx)
{
	static const char sql[] = "SELECT " ACCOUNT_COLS " FROM accounts a";

	return each_account(stmt_get(sql), cb, ctx);
}

struct each_membership {
	member_row_cb cb;
	void *ctx;
};

static int membership_row(struct stmt *st, void *ctx)
{
	struct each_membership *e = ctx;
	struct member_row m;

	col_copy(st, 0, m.user_id, sizeof(m.user_id));
	col_copy(st, 1, m.group_id, sizeof(m.group_id));
	return e->cb(&m, e->ctx);
}

int store_each_membership(member_row_cb cb, void *ctx)
{
	/* org memberships, then team memberships: both make a user part of a grant subject */
	static const char sql[] = "SELECT user_id, org_id FROM org_members"
				  " UNION ALL SELECT user_id, team_id FROM team_members";
	struct each_membership e = {cb, ctx};

	return stmt_each(stmt_get(sql), membership_row, &e);
}
