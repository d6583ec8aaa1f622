/*
 * The PostgreSQL driver's batches of a sync's writes (store.h's *_many): the
 * rows of a batch go to the server as one array parameter per column and
 * are written by one statement per table (unnest), so that a first sync of
 * a large directory costs a few statements per thousand rows, not a few per row.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../driver.h"
#include "pg.h"

#define MAX_COLUMNS 8

/* A column of a batch: the row's text at offset `at` of each element of `stride` bytes. */
struct column {
	const void *rows;
	size_t n, stride, at;
	bool pointer; /* the element holds a char * there, not the characters */
};

static const char *cell(const struct column *c, size_t i)
{
	const char *el = (const char *)c->rows + i * c->stride + c->at;

	return c->pointer ? *(const char *const *)el : el;
}

/*
 * The column as a PostgreSQL array literal, {"a","b\"c"}: each element quoted, its
 * quotes and backslashes escaped, bound as one parameter (no value is ever SQL
 * text). malloc'd, or NULL.
 */
static char *text_array(const struct column *c)
{
	size_t len = 3;
	char *out, *o;

	for (size_t i = 0; i < c->n; i++)
		len += 2 * strlen(cell(c, i)) + 3;
	if ((out = o = malloc(len)) == NULL)
		return NULL;
	*o++ = '{';
	for (size_t i = 0; i < c->n; i++) {
		if (i > 0)
			*o++ = ',';
		*o++ = '"';
		for (const char *v = cell(c, i); *v != '\0'; v++) {
			if (*v == '"' || *v == '\\')
				*o++ = '\\';
			*o++ = *v;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

/* Binds each column as an array, ?1 up, and `now` after them; runs the write. */
static int run_columns(const char *sql, const struct column *cols, int ncols, int64_t now)
{
	char *arrays[MAX_COLUMNS] = {NULL};
	struct stmt *st;
	int rc = ncols <= MAX_COLUMNS ? STORE_OK : STORE_ERROR;

	for (int i = 0; i < ncols && rc == STORE_OK; i++)
		if ((arrays[i] = text_array(&cols[i])) == NULL)
			rc = STORE_ERROR;
	if (rc == STORE_OK) {
		st = stmt_get(sql);
		for (int i = 0; i < ncols; i++)
			stmt_text(st, i + 1, arrays[i]);
		stmt_int(st, ncols + 1, now);
		rc = stmt_exec(st, false); /* the values are sent when it returns */
	}
	for (int i = 0; i < MAX_COLUMNS; i++)
		free(arrays[i]);
	return rc;
}

static struct column account_col(const struct account *a, size_t n, size_t at)
{
	return (struct column){a, n, sizeof(*a), at, false};
}

/* The private collections' ids, made here as store_imported_insert makes each. */
static char (*collection_ids(size_t n))[ID_LEN]
{
	char(*ids)[ID_LEN] = malloc(n * ID_LEN);

	for (size_t i = 0; ids != NULL && i < n; i++)
		if (new_uuid(ids[i]) != 0) {
			free(ids);
			return NULL;
		}
	return ids;
}

int pg_imported_insert_many(const struct account *a, size_t n, int64_t now)
{
	/* the columns and values of store_account_insert and store_imported_insert */
	static const char accounts[] =
	    "INSERT INTO accounts (id, name, full_name, is_org, is_admin, is_active, is_imported,"
	    " ldap_dn, password_hash, created_at, updated_at, ldap_id)"
	    " SELECT u.id, u.name, u.full_name, false, u.is_admin, u.is_active, true, u.dn, NULL,"
	    " u.created, u.created, u.ldap_id FROM unnest(?1::text[], ?2::text[], ?3::text[],"
	    " ?4::text[], ?5::text[], ?6::boolean[], ?7::boolean[], ?8::bigint[])"
	    " AS u(id, name, full_name, dn, ldap_id, is_admin, is_active, created)";
	static const char collections[] =
	    "INSERT INTO collections (id, name, parent_id, path, created_at)"
	    " SELECT u.id, u.name, 'private', '/Shared/Private/' || u.name, ?3"
	    " FROM unnest(?1::text[], ?2::text[]) AS u(id, name) ON CONFLICT DO NOTHING";
	static const char grants[] =
	    "INSERT INTO grants (subject_id, collection_id, role_id)"
	    " SELECT u.id, c.id, s.value FROM unnest(?1::text[], ?2::text[]) AS u(id, name)"
	    " JOIN collections c ON c.path = '/Shared/Private/' || u.name"
	    " JOIN settings s ON s.key = 'defaultNewUserRole' ON CONFLICT DO NOTHING";
	char(*ids)[ID_LEN] = collection_ids(n);
	const char **flags = malloc(2 * n * sizeof(*flags)); /* is_admin, then is_active */
	char(*created)[24] = malloc(n * sizeof(*created));
	int rc = STORE_ERROR;

	for (size_t i = 0; flags != NULL && created != NULL && i < n; i++) {
		flags[i] = a[i].is_admin ? "t" : "f";
		flags[n + i] = a[i].is_active ? "t" : "f";
		snprintf(created[i], sizeof(*created), "%lld", (long long)a[i].created_at);
	}
	if (ids != NULL && flags != NULL && created != NULL) {
		const struct column cols[] = {
		    account_col(a, n, offsetof(struct account, id)),
		    account_col(a, n, offsetof(struct account, name)),
		    account_col(a, n, offsetof(struct account, full_name)),
		    account_col(a, n, offsetof(struct account, ldap_dn)),
		    account_col(a, n, offsetof(struct account, ldap_id)),
		    {flags, n, sizeof(*flags), 0, true},
		    {flags + n, n, sizeof(*flags), 0, true},
		    {created, n, sizeof(*created), 0, false},
		};
		const struct column made[] = {{ids, n, ID_LEN, 0, false}, cols[1]};

		rc = run_columns(accounts, cols, 8, now);
		if (rc == STORE_OK)
			rc = run_columns(collections, made, 2, now);
		if (rc == STORE_OK)
			rc = run_columns(grants, cols, 2, now);
	}
	free(ids);
	free(flags);
	free(created);
	return rc;
}

int pg_members_add_many(const struct member_add *m, size_t n)
{
	/* store_org_member_ensure's and store_team_member_put's; a batch may name a pair twice */
	static const char orgs[] = "INSERT INTO org_members (org_id, user_id, is_admin)"
				   " SELECT u.org, u.usr, false FROM unnest(?1::text[], ?2::text[])"
				   " AS u(org, usr) ON CONFLICT DO NOTHING";
	static const char teams[] =
	    "INSERT INTO team_members (team_id, user_id, is_admin)"
	    " SELECT DISTINCT ON (u.team, u.usr) u.team, u.usr, false"
	    " FROM unnest(?1::text[], ?2::text[]) AS u(team, usr)"
	    " ON CONFLICT (team_id, user_id) DO UPDATE SET is_admin = excluded.is_admin";
	const size_t s = sizeof(*m);
	const struct column org_cols[] = {{m, n, s, offsetof(struct member_add, org_id), true},
					  {m, n, s, offsetof(struct member_add, user_id), true}};
	const struct column team_cols[] = {{m, n, s, offsetof(struct member_add, team_id), true},
					   org_cols[1]};
	int rc = run_columns(orgs, org_cols, 2, 0);

	return rc == STORE_OK ? run_columns(teams, team_cols, 2, 0) : rc;
}
