/*
 * Roles, collections and grants, UCP style (SPEC §5), and the auth config
 * (the backend, the default role and the session settings).
 * Admins change them; any signed-in account may read roles and collections.
 * Every change is announced before it is answered, so the next decision
 * sees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "authz/roles.h"
#include "changes.h"
#include "session_settings.h"

static int admin_only(struct req *r, struct resp *out)
{
	if (r->who.is_admin)
		return 0;
	resp_forbidden(out);
	return -1;
}

/* ---- roles ---- */

static json_t *builtin_json(const struct builtin_role *b)
{
	return roles_json(b->id, b->name, true, roles_builtin_operations(b->id));
}

static json_t *custom_json(const struct role_row *row)
{
	return roles_json(row->id, row->name, false, json_loads(row->operations, 0, NULL));
}

static int collect_role(const struct role_row *row, void *ctx)
{
	json_array_append_new(ctx, custom_json(row));
	return 0;
}

/*
 * The role whose id or name is key, built-in or custom, as the API shows it:
 * STORE_OK, STORE_NOT_FOUND, or the store's failure. With id, its id.
 */
static int find_role(const char *key, json_t **json, char id[ID_LEN])
{
	const struct builtin_role *b = roles_builtin(key);
	struct role_row row;
	int rc;

	if (b != NULL) {
		if (json != NULL)
			*json = builtin_json(b);
		if (id != NULL)
			snprintf(id, ID_LEN, "%s", b->id);
		return STORE_OK;
	}
	rc = store_role_get(key, &row);
	if (rc != STORE_OK)
		return rc;
	if (json != NULL)
		*json = custom_json(&row);
	if (id != NULL)
		snprintf(id, ID_LEN, "%s", row.id);
	free(row.operations);
	return STORE_OK;
}

void api_roles_list(struct req *r, struct resp *out)
{
	json_t *list = json_array();
	size_t n;
	const struct builtin_role *b = roles_builtins(&n);
	int rc;

	(void)r;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, builtin_json(&b[i]));
	rc = store_roles(collect_role, list);
	if (rc != STORE_OK) {
		json_decref(list);
		resp_store_failed(out, rc);
		return;
	}
	resp_json(out, 200, list);
}

void api_role_get(struct req *r, struct resp *out)
{
	json_t *role = NULL;
	int rc = find_role(r->params[0], &role, NULL);

	if (rc == STORE_NOT_FOUND)
		resp_not_found(out, "role", r->params[0]);
	else if (rc != STORE_OK)
		resp_store_failed(out, rc);
	else
		resp_json(out, 200, role);
}

/* Checks the create form into row (name, operations); 0, or -1 with out filled. */
static int role_form(struct req *r, struct resp *out, struct role_row *row)
{
	json_t *ops = json_object_get(r->body, "operations");
	const char *name = form_string(r->body, "name", "");
	struct refusal why;

	if (form_check(r->body, form_role_create, out) != 0 || form_label(name, "name", out) != 0)
		return -1;
	if (name[0] == '\0' || form_bool(r->body, "system_role", false)) {
		resp_refuse(out, name[0] ? "system_role" : "name", "%s",
			    name[0] ? "system_role: only built-in roles are system roles"
				    : "name: is required");
		return -1;
	}
	if (ops != NULL && roles_check_operations(ops, &why) != 0) {
		resp_refused(out, &why);
		return -1;
	}
	snprintf(row->name, sizeof(row->name), "%s", name);
	row->operations = ops ? json_dumps(ops, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	row->created_at = now_seconds();
	if (row->operations == NULL || new_uuid(row->id) != 0) {
		resp_internal(out);
		return -1;
	}
	return 0;
}

void api_role_create(struct req *r, struct resp *out)
{
	struct role_row row = {0};
	int rc;

	if (admin_only(r, out) != 0 || role_form(r, out, &row) != 0)
		goto done;
	/* a built-in name is taken too; among custom roles the store's uniqueness decides */
	rc = roles_builtin(row.name) ? STORE_CONFLICT : store_role_insert(&row);
	if (rc == STORE_CONFLICT) {
		resp_error(out, 409, "CONFLICT", "name", "name: a role named \"%s\" exists",
			   row.name);
		goto done;
	}
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		goto done;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_ROLES});
	audit_log(r->srv->audit, "role.create", r->who.name, r->client,
		  json_pack("{s:s, s:s}", "role", row.name, "id", row.id));
	resp_json(out, 201, custom_json(&row));
done:
	free(row.operations);
}

void api_role_delete(struct req *r, struct resp *out)
{
	int rc;

	if (admin_only(r, out) != 0)
		return;
	if (roles_builtin(r->params[0])) {
		resp_error(out, 403, "FORBIDDEN", NULL, "built-in roles cannot be deleted");
		return;
	}
	rc = store_role_delete(r->params[0]);
	if (rc == STORE_CONFLICT) {
		resp_error(out, 409, "CONFLICT", NULL,
			   "the role is used by a grant; delete the grant first");
		return;
	}
	if (rc == STORE_NOT_FOUND) {
		resp_not_found(out, "role", r->params[0]);
		return;
	}
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_ROLES});
	audit_log(r->srv->audit, "role.delete", r->who.name, r->client,
		  json_pack("{s:s}", "id", r->params[0]));
	out->status = 204;
}

/* ---- collections ---- */

static json_t *collection_json(const struct collection_row *c)
{
	return json_pack("{s:s, s:s, s:s, s:s?}", "id", c->id, "name", c->name, "path", c->path,
			 "parent_id", c->parent_id[0] ? c->parent_id : NULL);
}

static bool builtin_collection(const char *id)
{
	return strcmp(id, "root") == 0 || strcmp(id, "system") == 0 || strcmp(id, "shared") == 0 ||
	       strcmp(id, "private") == 0;
}

struct children_ctx {
	const char *parent; /* NULL: all */
	json_t *list;
};

static int collect_collection(const struct collection_row *c, void *ctx)
{
	struct children_ctx *k = ctx;

	if (k->parent == NULL || strcmp(c->parent_id, k->parent) == 0)
		json_array_append_new(k->list, collection_json(c));
	return 0;
}

static void list_collections(struct resp *out, const char *parent)
{
	struct children_ctx k = {parent, json_array()};
	int rc = store_collections(collect_collection, &k);

	if (rc != STORE_OK) {
		json_decref(k.list);
		resp_store_failed(out, rc);
		return;
	}
	resp_json(out, 200, k.list);
}

void api_collections_list(struct req *r, struct resp *out)
{
	(void)r;
	list_collections(out, NULL);
}

/* Answers a lookup of a collection: 0 when found, else -1 with out filled. */
static int found_collection(struct resp *out, int rc, const char *key)
{
	if (rc == STORE_NOT_FOUND)
		resp_not_found(out, "collection", key);
	else if (rc != STORE_OK)
		resp_store_failed(out, rc);
	return rc == STORE_OK ? 0 : -1;
}

static int load_collection(struct resp *out, const char *id, struct collection_row *c)
{
	return found_collection(out, store_collection_get(id, c), id);
}

void api_collection_get(struct req *r, struct resp *out)
{
	struct collection_row c;

	if (load_collection(out, r->params[0], &c) == 0)
		resp_json(out, 200, collection_json(&c));
}

void api_collection_children(struct req *r, struct resp *out)
{
	struct collection_row c;

	if (load_collection(out, r->params[0], &c) == 0)
		list_collections(out, c.id);
}

void api_collection_by_path(struct req *r, struct resp *out)
{
	const char *path = req_query(r, "path");
	struct collection_row c;

	if (path == NULL) {
		resp_refuse(out, "path", "path: is required");
		return;
	}
	if (found_collection(out, store_collection_by_path(path, &c), path) == 0)
		resp_json(out, 200, collection_json(&c));
}

void api_collection_create(struct req *r, struct resp *out)
{
	const char *name = form_string(r->body, "name", "");
	struct collection_row parent, c = {0};
	int rc;

	if (admin_only(r, out) != 0 || form_check(r->body, form_collection_create, out) != 0 ||
	    form_label(name, "name", out) != 0)
		return;
	if (name[0] == '\0' || strchr(name, '/') != NULL) {
		resp_refuse(out, "name", "name: must be 1-100 characters without \"/\"");
		return;
	}
	if (load_collection(out, form_string(r->body, "parent_id", ""), &parent) != 0)
		return;
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.parent_id, sizeof(c.parent_id), "%s", parent.id);
	snprintf(c.path, sizeof(c.path), "%s/%s", strcmp(parent.path, "/") == 0 ? "" : parent.path,
		 name);
	c.created_at = now_seconds();
	if (new_uuid(c.id) != 0) {
		resp_internal(out);
		return;
	}
	rc = store_collection_insert(&c);
	if (rc == STORE_CONFLICT) {
		resp_error(out, 409, "CONFLICT", "name", "name: %s exists", c.path);
		return;
	}
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_COLLECTIONS});
	audit_log(r->srv->audit, "collection.create", r->who.name, r->client,
		  json_pack("{s:s}", "path", c.path));
	resp_json(out, 201, collection_json(&c));
}

void api_collection_delete(struct req *r, struct resp *out)
{
	struct collection_row c;
	int rc;

	if (admin_only(r, out) != 0 || load_collection(out, r->params[0], &c) != 0)
		return;
	if (builtin_collection(c.id)) {
		resp_error(out, 403, "FORBIDDEN", NULL, "built-in collections cannot be deleted");
		return;
	}
	rc = store_collection_delete(c.id);
	if (rc == STORE_CONFLICT) {
		resp_error(out, 409, "CONFLICT", NULL,
			   "%s has child collections; delete them first", c.path);
		return;
	}
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_COLLECTIONS | CHANGE_GRANTS});
	audit_log(r->srv->audit, "collection.delete", r->who.name, r->client,
		  json_pack("{s:s}", "path", c.path));
	out->status = 204;
}

/* ---- grants ---- */

struct grants_ctx {
	json_t *grants, *subjects;
};

static int collect_grant(const struct grant_row *g, void *ctx)
{
	struct grants_ctx *k = ctx;
	const char *kind = NULL;
	struct account a;

	json_array_append_new(k->grants,
			      json_pack("{s:s, s:s, s:s}", "subjectID", g->subject_id, "objectID",
					g->collection_id, "roleID", g->role_id));
	if (json_object_get(k->subjects, g->subject_id) != NULL ||
	    store_subject_kind(g->subject_id, &kind) != STORE_OK)
		return 0;
	json_object_set_new(
	    k->subjects, g->subject_id,
	    json_pack("{s:s, s:s, s:o?}", "id", g->subject_id, "subject_type", kind, "account",
		      strcmp(kind, "team") != 0 && store_account_get(g->subject_id, &a) == STORE_OK
			  ? account_json(&a)
			  : NULL));
	return 0;
}

void api_grants_list(struct req *r, struct resp *out)
{
	struct grants_ctx k = {json_array(), json_object()};
	json_t *subjects = json_array(), *v;
	const char *key;
	int rc = admin_only(r, out) == 0 ? store_grants(collect_grant, &k) : STORE_OK;

	if (out->status != 0 || rc != STORE_OK) {
		if (out->status == 0)
			resp_store_failed(out, rc);
		json_decref(k.grants);
		json_decref(k.subjects);
		json_decref(subjects);
		return;
	}
	json_object_foreach(k.subjects, key, v) json_array_append(subjects, v);
	json_decref(k.subjects);
	resp_json(out, 200, json_pack("{s:o, s:o}", "grants", k.grants, "subjects", subjects));
}

/*
 * Checks that the grant's subject, collection and role exist; a role named by
 * its name is stored by its id, which is what decisions look up.
 */
static int check_grant(struct resp *out, struct grant_row *g)
{
	struct collection_row c;
	const char *kind;
	char role_id[ID_LEN];
	int rc = store_subject_kind(g->subject_id, &kind);

	if (rc == STORE_NOT_FOUND) {
		resp_not_found(out, "subject", g->subject_id);
		return -1;
	}
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return -1;
	}
	if (load_collection(out, g->collection_id, &c) != 0)
		return -1;
	rc = find_role(g->role_id, NULL, role_id);
	if (rc == STORE_NOT_FOUND)
		resp_not_found(out, "role", g->role_id);
	else if (rc != STORE_OK)
		resp_store_failed(out, rc);
	else
		snprintf(g->role_id, sizeof(g->role_id), "%s", role_id);
	return rc == STORE_OK ? 0 : -1;
}

static void grant_from_path(struct req *r, struct grant_row *g)
{
	snprintf(g->subject_id, sizeof(g->subject_id), "%s", r->params[0]);
	snprintf(g->collection_id, sizeof(g->collection_id), "%s", r->params[1]);
	snprintf(g->role_id, sizeof(g->role_id), "%s", r->params[2]);
}

void api_grant_put(struct req *r, struct resp *out)
{
	struct grant_row g;
	int rc;

	if (admin_only(r, out) != 0)
		return;
	grant_from_path(r, &g);
	if (check_grant(out, &g) != 0)
		return;
	rc = store_grant_put(&g);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_GRANTS});
	audit_log(r->srv->audit, "grant.put", r->who.name, r->client,
		  json_pack("{s:s, s:s, s:s}", "subject", g.subject_id, "collection",
			    g.collection_id, "role", g.role_id));
	resp_json(out, 201,
		  json_pack("{s:s, s:s, s:s}", "subjectID", g.subject_id, "objectID",
			    g.collection_id, "roleID", g.role_id));
}

void api_grant_delete(struct req *r, struct resp *out)
{
	struct grant_row g;
	int rc;

	if (admin_only(r, out) != 0)
		return;
	grant_from_path(r, &g);
	rc = store_grant_delete(&g);
	if (rc == STORE_NOT_FOUND) {
		resp_not_found(out, "grant", r->params[0]);
		return;
	}
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_GRANTS});
	audit_log(r->srv->audit, "grant.delete", r->who.name, r->client,
		  json_pack("{s:s, s:s, s:s}", "subject", g.subject_id, "collection",
			    g.collection_id, "role", g.role_id));
	out->status = 204;
}

/* ---- GET/PUT /enzi/v0/config/auth ---- */

static void auth_config_json(struct req *r, struct resp *out)
{
	char backend[32] = "managed", role[ID_LEN] = "restrictedcontrol";
	struct session_settings sessions;
	int rc = store_setting_get("backend", backend, sizeof(backend));

	if (rc >= 0)
		rc = store_setting_get("defaultNewUserRole", role, sizeof(role));
	if (rc >= 0)
		rc = session_settings_load(r->srv->cfg, &sessions);
	if (rc < 0) {
		resp_store_failed(out, rc);
		return;
	}
	resp_json(out, 200,
		  json_pack("{s:s, s:s, s:o}", "backend", backend, "defaultNewUserRole", role,
			    "sessions", session_settings_json(&sessions)));
}

void api_auth_config_get(struct req *r, struct resp *out)
{
	if (admin_only(r, out) == 0)
		auth_config_json(r, out);
}

static int save_auth_config(const char *backend, const char *role,
			    const struct session_settings *sessions)
{
	int rc = store_begin();

	if (rc == STORE_OK && backend != NULL)
		rc = store_setting_set("backend", backend);
	if (rc == STORE_OK && role != NULL)
		rc = store_setting_set("defaultNewUserRole", role);
	if (rc == STORE_OK && sessions != NULL)
		rc = session_settings_save(sessions);
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK)
		store_rollback();
	return rc;
}

/* The role a PUT names, as its id; 0, or -1 with out filled. */
static int default_role_id(const char *role, char role_id[ID_LEN], struct resp *out)
{
	char shown[101];
	int rc = find_role(role, NULL, role_id);

	if (rc == STORE_NOT_FOUND)
		resp_refuse(out, "defaultNewUserRole", "defaultNewUserRole: no role \"%s\"",
			    utf8_clean(shown, sizeof(shown), role));
	else if (rc != STORE_OK)
		resp_store_failed(out, rc);
	return rc == STORE_OK ? 0 : -1;
}

/* The session settings a PUT's "sessions" makes of the current ones; 0, or -1 with out filled. */
static int sessions_from_body(struct req *r, json_t *obj, struct session_settings *next,
			      struct resp *out)
{
	struct session_settings current;
	struct refusal why;
	int rc;

	if (form_check_at(obj, form_auth_sessions, "sessions", out) != 0)
		return -1;
	rc = session_settings_load(r->srv->cfg, &current);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return -1;
	}
	if (session_settings_from_json(obj, &current, r->srv->cfg->session_absolute_minutes, next,
				       &why) != 0) {
		resp_refused(out, &why);
		return -1;
	}
	return 0;
}

void api_auth_config_put(struct req *r, struct resp *out)
{
	const char *backend = form_string(r->body, "backend", NULL);
	const char *role = form_string(r->body, "defaultNewUserRole", NULL);
	json_t *sessions_obj = json_object_get(r->body, "sessions");
	struct session_settings sessions;
	char role_id[ID_LEN];
	unsigned what = 0;
	int rc;

	if (admin_only(r, out) != 0 || form_check(r->body, form_auth_config_put, out) != 0)
		return;
	if (backend && strcmp(backend, "managed") != 0 && strcmp(backend, "ldap") != 0) {
		resp_refuse(out, "backend", "backend: must be managed or ldap");
		return;
	}
	if (role != NULL && default_role_id(role, role_id, out) != 0)
		return;
	if (sessions_obj != NULL && sessions_from_body(r, sessions_obj, &sessions, out) != 0)
		return;
	rc = save_auth_config(backend, role ? role_id : NULL, sessions_obj ? &sessions : NULL);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	if (backend != NULL || role != NULL)
		what |= CHANGE_SETTINGS;
	if (sessions_obj != NULL)
		what |= CHANGE_SESSION_SETTINGS;
	changes_announce(r->srv, &(struct change){.what = what, .session_settings = &sessions});
	audit_log(r->srv->audit, "config.auth", r->who.name, r->client, json_incref(r->body));
	auth_config_json(r, out);
}
