/*
 * Accounts (users and organizations), eNZi style.
 *
 * Who may do what: admins anything; a user may read itself, change its own
 * full name and password, and read the organizations it belongs to; members
 * of an organization may read it. Nobody may deactivate, demote or delete
 * the last active admin: the check and the write share one transaction, so
 * two admins demoting each other cannot both succeed.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "changes.h"

static const struct {
	const char *name;
	enum account_filter f;
} filters[] = {
    {"all", FILTER_ALL},
    {"users", FILTER_USERS},
    {"orgs", FILTER_ORGS},
    {"admins", FILTER_ADMINS},
    {"non-admins", FILTER_NON_ADMINS},
    {"active-users", FILTER_ACTIVE_USERS},
    {"inactive-users", FILTER_INACTIVE_USERS},
};

static bool is_self(const struct req *r, const struct account *a)
{
	return strcmp(r->who.id, a->id) == 0;
}

/*
 * Loads the account named by the first path parameter. Non-admins who may
 * not see it get 403 whether or not it exists, so names cannot be probed.
 */
static int load_account(struct req *r, struct resp *out, struct account *a)
{
	int rc = store_account_get(r->params[0], a);
	bool member = false;

	if (rc < 0) {
		resp_store_failed(out, rc);
		return -1;
	}
	if (r->who.is_admin) {
		if (rc == STORE_NOT_FOUND) {
			resp_not_found(out, "account", r->params[0]);
			return -1;
		}
		return 0;
	}
	if (rc == STORE_OK &&
	    (is_self(r, a) ||
	     (a->is_org && store_org_member_get(a->id, r->who.id, &member) == STORE_OK)))
		return 0;
	resp_forbidden(out);
	return -1;
}

static int refuse_if_last_admin(struct resp *out, const struct account *a)
{
	int64_t others = 0;
	int rc;

	if (!a->is_admin || !a->is_active)
		return 0;
	rc = store_count_active_admins(a->id, &others);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return -1;
	}
	if (others > 0)
		return 0;
	resp_error(out, 409, "CONFLICT", NULL,
		   "\"%s\" is the last active admin; make another admin first", a->name);
	return -1;
}

static int check_full_name(const char *full_name, struct resp *out)
{
	for (const unsigned char *p = (const unsigned char *)full_name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			resp_refuse(out, "fullName",
				    "fullName: must not contain control characters");
			return -1;
		}
	}
	if (utf8_chars(full_name) > FULLNAME_MAX_CHARS) {
		resp_refuse(out, "fullName", "fullName: must be at most 200 characters");
		return -1;
	}
	return 0;
}

static int collect_account(const struct account *a, void *ctx)
{
	return page_add(ctx, a->name, account_json(a));
}

void api_accounts_list(struct req *r, struct resp *out)
{
	const char *fname = req_query(r, "filter");
	enum account_filter f = FILTER_ALL;
	int64_t users = 0, orgs = 0;
	struct page p;
	size_t i;
	int rc;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	for (i = 0; fname != NULL && i < sizeof(filters) / sizeof(filters[0]); i++)
		if (strcmp(filters[i].name, fname) == 0)
			break;
	if (fname != NULL && i == sizeof(filters) / sizeof(filters[0])) {
		resp_refuse(out, "filter",
			    "filter: must be users, orgs, admins, non-admins, active-users, "
			    "inactive-users or all");
		return;
	}
	if (fname != NULL)
		f = filters[i].f;
	if (page_from_query(r, &p, out) != 0)
		return;
	rc = store_account_list(f, p.start, p.limit + 1, collect_account, &p);
	if (rc == STORE_OK)
		rc = store_account_counts(&users, &orgs);
	if (rc != STORE_OK) {
		json_decref(p.items);
		resp_store_failed(out, rc);
		return;
	}
	json_t *body = json_pack("{s:o, s:I, s:I}", "accounts", p.items, "usersCount",
				 (json_int_t)users, "orgsCount", (json_int_t)orgs);
	page_finish(r, &p, body, out);
	resp_json(out, 200, body);
}

/* Reads and checks the create form into `a`; the password's hash goes to *hash. */
static int create_form(struct req *r, struct resp *out, struct account *a, char **hash)
{
	const char *password = form_string(r->body, "password", NULL);
	struct refusal why;
	char *name;

	if (form_check(r->body, form_account_create, out) != 0)
		return -1;
	name = form_name(form_string(r->body, "name", ""), "name", out);
	if (name == NULL)
		return -1;
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	free(name);
	snprintf(a->full_name, sizeof(a->full_name), "%s", form_string(r->body, "fullName", ""));
	if (check_full_name(form_string(r->body, "fullName", ""), out) != 0)
		return -1;
	a->is_org = form_bool(r->body, "isOrg", false);
	a->is_admin = form_bool(r->body, "isAdmin", false);
	a->is_active = form_bool(r->body, "isActive", true);
	if (a->is_org && password != NULL) {
		resp_refuse(out, "password", "password: organizations do not have passwords");
		return -1;
	}
	if (a->is_org && a->is_admin) {
		resp_refuse(out, "isAdmin", "isAdmin: organizations cannot be admins");
		return -1;
	}
	if (a->is_org)
		return 0;
	if (password == NULL) {
		resp_refuse(out, "password", "password: is required for users");
		return -1;
	}
	if (password_check(password, &why) != 0) {
		refusal_in(&why, "password");
		resp_refused(out, &why);
		return -1;
	}
	*hash = password_hash(password);
	if (*hash == NULL) {
		resp_internal(out);
		return -1;
	}
	return 0;
}

void api_account_create(struct req *r, struct resp *out)
{
	struct account a;
	char *hash = NULL;
	int rc, made;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	if (create_form(r, out, &a, &hash) != 0)
		goto done;
	if (new_uuid(a.id) != 0) {
		resp_internal(out);
		goto done;
	}
	a.created_at = a.updated_at = now_seconds();
	/* a user gets its private collection now, so that bundles work before any login */
	rc = store_begin();
	if (rc == STORE_OK)
		rc = store_account_insert(&a, hash);
	if (rc == STORE_OK && !a.is_org && (made = store_ensure_private_collection(&a)) < 0)
		rc = made;
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK)
		store_rollback();
	if (rc == STORE_CONFLICT) {
		resp_error(out, 409, "CONFLICT", "name", "name: an account named \"%s\" exists",
			   a.name);
		goto done;
	}
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		goto done;
	}
	changes_announce(
	    r->srv, &(struct change){.what = CHANGE_ACCOUNTS | CHANGE_COLLECTIONS | CHANGE_GRANTS});
	audit_log(r->srv->audit, "account.create", r->who.name, r->client,
		  json_pack("{s:s, s:b, s:b}", "account", a.name, "isOrg", a.is_org, "isAdmin",
			    a.is_admin));
	resp_json(out, 201, account_json(&a));
done:
	free(hash);
}

void api_account_get(struct req *r, struct resp *out)
{
	struct account a;

	if (load_account(r, out, &a) == 0)
		resp_json(out, 200, account_json(&a));
}

/* Applies a PATCH form to `a`; -1 with `out` filled when it is refused. */
static int patch_form(struct req *r, struct resp *out, struct account *a)
{
	const char *full_name = form_string(r->body, "fullName", NULL);

	if (form_check(r->body, form_account_patch, out) != 0)
		return -1;
	/* a user may change its own full name; everything else is the admins' */
	if (!r->who.is_admin && (!is_self(r, a) || json_object_get(r->body, "isAdmin") ||
				 json_object_get(r->body, "isActive"))) {
		resp_forbidden(out);
		return -1;
	}
	if (full_name != NULL) {
		if (check_full_name(full_name, out) != 0)
			return -1;
		snprintf(a->full_name, sizeof(a->full_name), "%s", full_name);
	}
	if (a->is_org && form_bool(r->body, "isAdmin", false)) {
		resp_refuse(out, "isAdmin", "isAdmin: organizations cannot be admins");
		return -1;
	}
	if ((!form_bool(r->body, "isAdmin", true) || !form_bool(r->body, "isActive", true)) &&
	    refuse_if_last_admin(out, a) != 0)
		return -1;
	a->is_admin = form_bool(r->body, "isAdmin", a->is_admin);
	a->is_active = form_bool(r->body, "isActive", a->is_active);
	a->updated_at = now_seconds();
	return 0;
}

/*
 * The update, and for a deactivation the end of the account's sessions, in one
 * transaction: re-read inside it, so the last-admin check sees the truth.
 */
static int update_account(struct req *r, struct resp *out, struct account *a, bool *deactivated)
{
	int rc = store_begin();
	bool was_active;

	if (rc != STORE_OK)
		return rc;
	rc = store_account_get(a->id, a);
	was_active = a->is_active;
	if (rc == STORE_OK && patch_form(r, out, a) != 0)
		rc = STORE_ERROR; /* refused: out says why */
	*deactivated = was_active && !a->is_active;
	if (rc == STORE_OK)
		rc = store_account_update(a);
	if (rc == STORE_OK && *deactivated)
		rc = store_sessions_delete_account(a->id, NULL);
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK)
		store_rollback();
	return rc;
}

void api_account_patch(struct req *r, struct resp *out)
{
	struct account a;
	bool deactivated = false;
	int rc;

	if (load_account(r, out, &a) != 0)
		return;
	rc = update_account(r, out, &a, &deactivated);
	if (rc != STORE_OK) {
		if (out->status == 0)
			resp_store_failed(out, rc);
		return;
	}
	changes_announce(
	    r->srv, &(struct change){.what = CHANGE_ACCOUNTS | (deactivated ? CHANGE_SESSIONS : 0),
				     .account = deactivated ? a.id : NULL});
	audit_log(r->srv->audit, "account.update", r->who.name, r->client,
		  json_pack("{s:s, s:O}", "account", a.name, "changes", r->body));
	resp_json(out, 200, account_json(&a));
}

/* Deletes the account, re-read in the transaction for the last-admin check. */
static int delete_account(struct resp *out, struct account *a)
{
	int rc = store_begin();

	if (rc != STORE_OK)
		return rc;
	rc = store_account_get(a->id, a);
	if (rc == STORE_OK && refuse_if_last_admin(out, a) != 0)
		rc = STORE_ERROR; /* refused: out says why */
	if (rc == STORE_OK)
		rc = store_account_delete(a->id);
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK)
		store_rollback();
	return rc;
}

void api_account_delete(struct req *r, struct resp *out)
{
	struct account a;
	int rc;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	if (load_account(r, out, &a) != 0)
		return;
	rc = delete_account(out, &a);
	if (rc != STORE_OK) {
		if (out->status == 0)
			resp_store_failed(out, rc);
		return;
	}
	/* its memberships, keys, sessions and grants went with it */
	changes_announce(r->srv, &(struct change){.what = CHANGE_ACCOUNTS | CHANGE_MEMBERSHIPS |
							  CHANGE_GRANTS | CHANGE_COLLECTIONS |
							  CHANGE_SESSIONS,
						  .account = a.id});
	audit_log(r->srv->audit, "account.delete", r->who.name, r->client,
		  json_pack("{s:s}", "account", a.name));
	out->status = 204;
}

/* Checks the old password for a user changing its own; admins skip it. */
static int check_old_password(struct req *r, struct resp *out, const struct account *a)
{
	const char *old = form_string(r->body, "oldPassword", NULL);
	char *hash = NULL;
	bool ok;
	int rc;

	if (r->who.is_admin)
		return 0;
	if (old == NULL || is_blank(old)) {
		resp_refuse(out, "oldPassword", "oldPassword: is required");
		return -1;
	}
	rc = store_account_password(a->id, &hash);
	if (rc < 0) {
		resp_store_failed(out, rc);
		return -1;
	}
	ok = hash != NULL && password_verify(hash, old);
	free(hash);
	if (!ok) {
		resp_refuse(out, "oldPassword", "oldPassword: is wrong");
		return -1;
	}
	return 0;
}

/*
 * The new hash and the end of the account's other sessions, in one
 * transaction: a store failing between two writes would otherwise leave the
 * new password with the old sessions alive. The cache follows the commit.
 */
static int save_password(struct req *r, const char *account_id, const char *hash,
			 const unsigned char *keep)
{
	int rc = store_begin();

	if (rc == STORE_OK)
		rc = store_account_set_password(account_id, hash);
	if (rc == STORE_OK)
		rc = store_sessions_delete_account(account_id, keep);
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK) {
		store_rollback();
		return rc;
	}
	changes_announce(
	    r->srv, &(struct change){.what = CHANGE_SESSIONS, .account = account_id, .keep = keep});
	return STORE_OK;
}

void api_account_change_password(struct req *r, struct resp *out)
{
	struct refusal why;
	struct account a;
	char *hash;
	int rc;

	if (form_check(r->body, form_account_password, out) != 0 || load_account(r, out, &a) != 0)
		return;
	if (!r->who.is_admin && !is_self(r, &a)) {
		resp_forbidden(out);
		return;
	}
	if (a.is_org || a.is_imported) {
		resp_error(out, 409, "CONFLICT", NULL,
			   a.is_org ? "organizations do not have passwords"
				    : "this account's password is kept by the LDAP directory; "
				      "change it there");
		return;
	}
	if (check_old_password(r, out, &a) != 0)
		return;
	if (password_check(form_string(r->body, "newPassword", ""), &why) != 0) {
		refusal_in(&why, "newPassword");
		resp_refused(out, &why);
		return;
	}
	hash = password_hash(form_string(r->body, "newPassword", ""));
	if (hash == NULL) {
		resp_internal(out);
		return;
	}
	/* other sessions end; the caller's own stays when it changed its own password */
	rc = save_password(r, a.id, hash, is_self(r, &a) ? r->token_hash : NULL);
	free(hash);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	audit_log(r->srv->audit, "account.password", r->who.name, r->client,
		  json_pack("{s:s}", "account", a.name));
	resp_json(out, 200, account_json(&a));
}

static int collect_org(const struct member *m, void *ctx)
{
	return page_add(
	    ctx, m->account.name,
	    json_pack("{s:o, s:b}", "org", account_json(&m->account), "isAdmin", m->is_admin));
}

void api_user_orgs(struct req *r, struct resp *out)
{
	struct account a;
	struct page p;
	json_t *body;
	int rc;

	if (load_account(r, out, &a) != 0)
		return;
	if (a.is_org) {
		resp_not_found(out, "user", r->params[0]);
		return;
	}
	if (page_from_query(r, &p, out) != 0)
		return;
	rc = store_user_orgs(a.id, p.start, p.limit + 1, collect_org, &p);
	if (rc != STORE_OK) {
		json_decref(p.items);
		resp_store_failed(out, rc);
		return;
	}
	body = json_pack("{s:o}", "memberOrgs", p.items);
	page_finish(r, &p, body, out);
	resp_json(out, 200, body);
}
