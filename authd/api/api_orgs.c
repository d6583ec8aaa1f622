/*
 * Organization membership and teams.
 *
 * Roles within an org, weakest first: none, member, team admin (for its own
 * team), org admin; system admins are above all. Members may read the org,
 * its members and its teams; org admins manage members and teams; a team's
 * admins manage that team's members; anyone may leave an org or a team.
 * Adding a user to a team makes it a member of the team's org as well.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "changes.h"

enum org_role { ROLE_NONE, ROLE_MEMBER, ROLE_ORG_ADMIN };

struct org_ctx {
	struct account org;
	enum org_role role; /* the caller's; system admins count as org admins */
};

/* Loads the org of params[0] and the caller's role in it; non-members get 403. */
static int load_org(struct req *r, struct resp *out, struct org_ctx *o)
{
	bool is_admin = false;
	int rc = store_account_get(r->params[0], &o->org);

	o->role = ROLE_NONE;
	if (rc == STORE_OK && o->org.is_org) {
		if (r->who.is_admin)
			o->role = ROLE_ORG_ADMIN;
		else if ((rc = store_org_member_get(o->org.id, r->who.id, &is_admin)) == STORE_OK)
			o->role = is_admin ? ROLE_ORG_ADMIN : ROLE_MEMBER;
	}
	if (rc < 0) {
		resp_store_failed(out, rc);
		return -1;
	}
	if (o->role != ROLE_NONE)
		return 0;
	if (r->who.is_admin)
		resp_not_found(out, "organization", r->params[0]);
	else
		resp_forbidden(out);
	return -1;
}

/* Loads a user named by a path parameter; orgs are not users. */
static int load_user(struct resp *out, const char *key, struct account *u)
{
	int rc = store_account_get(key, u);

	if (rc < 0) {
		resp_store_failed(out, rc);
		return -1;
	}
	if (rc == STORE_NOT_FOUND || u->is_org) {
		resp_not_found(out, "user", key);
		return -1;
	}
	return 0;
}

static int load_team(struct resp *out, const struct org_ctx *o, const char *key, struct team *t)
{
	int rc = store_team_get(o->org.id, key, t);

	if (rc < 0) {
		resp_store_failed(out, rc);
		return -1;
	}
	if (rc == STORE_NOT_FOUND) {
		resp_not_found(out, "team", key);
		return -1;
	}
	return 0;
}

/* An optional {"isAdmin":bool} body of a membership PUT. */
static int member_form(struct req *r, struct resp *out, bool *is_admin)
{
	if (form_check(r->body, form_member_put, out) != 0)
		return -1;
	*is_admin = form_bool(r->body, "isAdmin", false);
	return 0;
}

static int collect_member(const struct member *m, void *ctx)
{
	return page_add(ctx, m->account.name, member_json(m));
}

typedef int (*members_fn)(const char *owner, const char *start, int limit, member_cb cb, void *ctx);

static void list_members(struct req *r, struct resp *out, members_fn fn, const char *owner)
{
	struct page p;
	json_t *body;
	int rc;

	if (page_from_query(r, &p, out) != 0)
		return;
	rc = fn(owner, p.start, p.limit + 1, collect_member, &p);
	if (rc != STORE_OK) {
		json_decref(p.items);
		resp_store_failed(out, rc);
		return;
	}
	body = json_pack("{s:o}", "members", p.items);
	page_finish(r, &p, body, out);
	resp_json(out, 200, body);
}

/* ---- org members ---- */

void api_org_members(struct req *r, struct resp *out)
{
	struct org_ctx o;

	if (load_org(r, out, &o) == 0)
		list_members(r, out, store_org_members, o.org.id);
}

void api_org_member_get(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct member m;
	int rc;

	if (load_org(r, out, &o) != 0 || load_user(out, r->params[1], &m.account) != 0)
		return;
	rc = store_org_member_get(o.org.id, m.account.id, &m.is_admin);
	if (rc == STORE_NOT_FOUND)
		resp_not_found(out, "member", r->params[1]);
	else if (rc != STORE_OK)
		resp_store_failed(out, rc);
	else
		resp_json(out, 200, member_json(&m));
}

void api_org_member_put(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct member m;
	int rc;

	if (load_org(r, out, &o) != 0)
		return;
	if (o.role != ROLE_ORG_ADMIN) {
		resp_forbidden(out);
		return;
	}
	if (member_form(r, out, &m.is_admin) != 0 || load_user(out, r->params[1], &m.account) != 0)
		return;
	rc = store_org_member_put(o.org.id, m.account.id, m.is_admin);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_MEMBERSHIPS});
	audit_log(r->srv->audit, "org.member.put", r->who.name, r->client,
		  json_pack("{s:s, s:s, s:b}", "org", o.org.name, "user", m.account.name, "isAdmin",
			    m.is_admin));
	resp_json(out, 200, member_json(&m));
}

void api_org_member_delete(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct account u;
	int rc;

	if (load_org(r, out, &o) != 0 || load_user(out, r->params[1], &u) != 0)
		return;
	if (o.role != ROLE_ORG_ADMIN && strcmp(u.id, r->who.id) != 0) {
		resp_forbidden(out);
		return;
	}
	rc = store_begin();
	if (rc == STORE_OK)
		rc = store_org_member_delete(o.org.id, u.id);
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK) {
		store_rollback();
		if (rc == STORE_NOT_FOUND)
			resp_not_found(out, "member", r->params[1]);
		else
			resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_MEMBERSHIPS});
	audit_log(r->srv->audit, "org.member.delete", r->who.name, r->client,
		  json_pack("{s:s, s:s}", "org", o.org.name, "user", u.name));
	out->status = 204;
}

/* ---- teams ---- */

static int collect_team(const struct team *t, void *ctx)
{
	return page_add(ctx, t->name, team_json(t));
}

void api_teams_list(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct page p;
	json_t *body;
	int rc;

	if (load_org(r, out, &o) != 0 || page_from_query(r, &p, out) != 0)
		return;
	rc = store_teams(o.org.id, p.start, p.limit + 1, collect_team, &p);
	if (rc != STORE_OK) {
		json_decref(p.items);
		resp_store_failed(out, rc);
		return;
	}
	body = json_pack("{s:o}", "teams", p.items);
	page_finish(r, &p, body, out);
	resp_json(out, 200, body);
}

/* Reads name and description into t, checking the body against form (create or patch). */
static int team_form(struct req *r, struct resp *out, struct team *t, const struct field *form)
{
	const char *desc = form_string(r->body, "description", NULL);
	const char *name = form_string(r->body, "name", NULL);

	if (form_check(r->body, form, out) != 0)
		return -1;
	if (name != NULL) {
		char *norm = form_name(name, "name", out);

		if (norm == NULL)
			return -1;
		snprintf(t->name, sizeof(t->name), "%s", norm);
		free(norm);
	}
	if (desc != NULL) {
		if (utf8_chars(desc) > DESCRIPTION_MAX_CHARS) {
			resp_refuse(out, "description",
				    "description: must be at most 140 characters");
			return -1;
		}
		snprintf(t->description, sizeof(t->description), "%s", desc);
	}
	t->updated_at = now_seconds();
	return 0;
}

static void team_written(struct req *r, struct resp *out, int rc, const struct team *t,
			 const char *event, unsigned status)
{
	if (rc == STORE_CONFLICT) {
		resp_error(out, 409, "CONFLICT", "name",
			   "name: the organization has a team named \"%s\"", t->name);
		return;
	}
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	/* a team is a grant subject: the snapshot knows the teams */
	changes_announce(r->srv, &(struct change){.what = CHANGE_MEMBERSHIPS});
	audit_log(r->srv->audit, event, r->who.name, r->client,
		  json_pack("{s:s, s:s}", "org", r->params[0], "team", t->name));
	resp_json(out, status, team_json(t));
}

void api_team_create(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct team t;

	if (load_org(r, out, &o) != 0)
		return;
	if (o.role != ROLE_ORG_ADMIN) {
		resp_forbidden(out);
		return;
	}
	memset(&t, 0, sizeof(t));
	if (team_form(r, out, &t, form_team_create) != 0)
		return;
	if (new_uuid(t.id) != 0) {
		resp_internal(out);
		return;
	}
	snprintf(t.org_id, sizeof(t.org_id), "%s", o.org.id);
	t.created_at = t.updated_at;
	team_written(r, out, store_team_insert(&t), &t, "team.create", 201);
}

void api_team_get(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct team t;

	if (load_org(r, out, &o) == 0 && load_team(out, &o, r->params[1], &t) == 0)
		resp_json(out, 200, team_json(&t));
}

void api_team_patch(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct team t;

	if (load_org(r, out, &o) != 0 || load_team(out, &o, r->params[1], &t) != 0)
		return;
	if (o.role != ROLE_ORG_ADMIN) {
		resp_forbidden(out);
		return;
	}
	if (team_form(r, out, &t, form_team_patch) != 0)
		return;
	team_written(r, out, store_team_update(&t), &t, "team.update", 200);
}

void api_team_delete(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct team t;
	int rc;

	if (load_org(r, out, &o) != 0 || load_team(out, &o, r->params[1], &t) != 0)
		return;
	if (o.role != ROLE_ORG_ADMIN) {
		resp_forbidden(out);
		return;
	}
	rc = store_begin();
	if (rc == STORE_OK)
		rc = store_team_delete(t.id);
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK) {
		store_rollback();
		resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_MEMBERSHIPS | CHANGE_GRANTS});
	audit_log(r->srv->audit, "team.delete", r->who.name, r->client,
		  json_pack("{s:s, s:s}", "org", o.org.name, "team", t.name));
	out->status = 204;
}

/* ---- team members ---- */

/* Org admins manage every team; a team's own admins manage that team. */
static bool may_manage_team(struct req *r, const struct org_ctx *o, const struct team *t)
{
	bool team_admin = false;

	if (o->role == ROLE_ORG_ADMIN)
		return true;
	return store_team_member_get(t->id, r->who.id, &team_admin) == STORE_OK && team_admin;
}

void api_team_members(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct team t;

	if (load_org(r, out, &o) == 0 && load_team(out, &o, r->params[1], &t) == 0)
		list_members(r, out, store_team_members, t.id);
}

void api_team_member_get(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct team t;
	struct member m;
	int rc;

	if (load_org(r, out, &o) != 0 || load_team(out, &o, r->params[1], &t) != 0 ||
	    load_user(out, r->params[2], &m.account) != 0)
		return;
	rc = store_team_member_get(t.id, m.account.id, &m.is_admin);
	if (rc == STORE_NOT_FOUND)
		resp_not_found(out, "team member", r->params[2]);
	else if (rc != STORE_OK)
		resp_store_failed(out, rc);
	else
		resp_json(out, 200, member_json(&m));
}

void api_team_member_put(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct team t;
	struct member m;
	int rc;

	if (load_org(r, out, &o) != 0 || load_team(out, &o, r->params[1], &t) != 0)
		return;
	if (!may_manage_team(r, &o, &t)) {
		resp_forbidden(out);
		return;
	}
	if (member_form(r, out, &m.is_admin) != 0 || load_user(out, r->params[2], &m.account) != 0)
		return;
	/* joining a team joins its org, keeping an existing org admin flag */
	rc = store_begin();
	if (rc == STORE_OK)
		rc = store_org_member_ensure(o.org.id, m.account.id);
	if (rc == STORE_OK)
		rc = store_team_member_put(t.id, m.account.id, m.is_admin);
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK) {
		store_rollback();
		resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_MEMBERSHIPS});
	audit_log(r->srv->audit, "team.member.put", r->who.name, r->client,
		  json_pack("{s:s, s:s, s:s, s:b}", "org", o.org.name, "team", t.name, "user",
			    m.account.name, "isAdmin", m.is_admin));
	resp_json(out, 200, member_json(&m));
}

void api_team_member_delete(struct req *r, struct resp *out)
{
	struct org_ctx o;
	struct team t;
	struct account u;
	int rc;

	if (load_org(r, out, &o) != 0 || load_team(out, &o, r->params[1], &t) != 0 ||
	    load_user(out, r->params[2], &u) != 0)
		return;
	if (!may_manage_team(r, &o, &t) && strcmp(u.id, r->who.id) != 0) {
		resp_forbidden(out);
		return;
	}
	rc = store_team_member_delete(t.id, u.id);
	if (rc == STORE_NOT_FOUND) {
		resp_not_found(out, "team member", r->params[2]);
		return;
	}
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_MEMBERSHIPS});
	audit_log(r->srv->audit, "team.member.delete", r->who.name, r->client,
		  json_pack("{s:s, s:s, s:s}", "org", o.org.name, "team", t.name, "user", u.name));
	out->status = 204;
}

/* ---- LDAP member sync of a team (memberSyncConfig) and of an org's admins ---- */

static void sync_config_get(struct resp *out, const char *kind, const char *owner_id)
{
	struct ls_member_sync m;
	struct refusal err;
	char *text = NULL;
	json_t *j = NULL;
	int rc = store_member_sync_get(kind, owner_id, &text);

	if (rc < 0) {
		resp_store_failed(out, rc);
		return;
	}
	if (rc == STORE_OK)
		j = json_loads(text, 0, NULL);
	free(text);
	/* before any PUT, the defaults, with sync off; a saved one was checked when it was saved */
	if ((rc == STORE_OK && j == NULL) || ls_member_sync_from_json(j, "", &m, &err) != 0) {
		json_decref(j);
		resp_internal(out);
		return;
	}
	json_decref(j);
	resp_json(out, 200, ls_member_sync_to_json(&m));
	ls_member_sync_free(&m);
}

static void sync_config_put(struct req *r, struct resp *out, const char *kind, const char *owner_id,
			    const char *what)
{
	struct ls_member_sync m;
	struct refusal why;
	json_t *j;
	char *text;
	int rc;

	if (ls_member_sync_from_json(r->body, "", &m, &why) != 0) {
		resp_refused(out, &why);
		return;
	}
	j = ls_member_sync_to_json(&m);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	rc = text ? store_member_sync_set(kind, owner_id, text) : STORE_ERROR;
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
	} else {
		audit_log(r->srv->audit, "ldap.memberSync", r->who.name, r->client,
			  json_pack("{s:s, s:O}", what, owner_id, "config", j));
		resp_json(out, 200, json_incref(j));
	}
	free(text);
	json_decref(j);
	ls_member_sync_free(&m);
}

/* The team of params[1] in the org of params[0], for its org admins. */
static int load_team_for_admin(struct req *r, struct resp *out, struct team *t)
{
	struct org_ctx o;

	if (load_org(r, out, &o) != 0 || load_team(out, &o, r->params[1], t) != 0)
		return -1;
	if (o.role == ROLE_ORG_ADMIN)
		return 0;
	resp_forbidden(out);
	return -1;
}

void api_team_sync_get(struct req *r, struct resp *out)
{
	struct team t;

	if (load_team_for_admin(r, out, &t) == 0)
		sync_config_get(out, "team", t.id);
}

void api_team_sync_put(struct req *r, struct resp *out)
{
	struct team t;

	if (load_team_for_admin(r, out, &t) == 0)
		sync_config_put(r, out, "team", t.id, "team");
}

static int load_org_for_admin(struct req *r, struct resp *out, struct org_ctx *o)
{
	if (load_org(r, out, o) != 0)
		return -1;
	if (o->role == ROLE_ORG_ADMIN)
		return 0;
	resp_forbidden(out);
	return -1;
}

void api_org_admin_sync_get(struct req *r, struct resp *out)
{
	struct org_ctx o;

	if (load_org_for_admin(r, out, &o) == 0)
		sync_config_get(out, "org", o.org.id);
}

void api_org_admin_sync_put(struct req *r, struct resp *out)
{
	struct org_ctx o;

	if (load_org_for_admin(r, out, &o) == 0)
		sync_config_put(r, out, "org", o.org.id, "organization");
}
