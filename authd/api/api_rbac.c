/*
 * Roles, collections and grants, UCP style (SPEC §5), and the auth config.
 * Admins change them; any signed-in account may read roles and collections.
 * Every change rebuilds the authorization snapshot before it is answered,
 * so the next decision sees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "authz/rbac.h"

static int admin_only(struct req *r, struct resp *out)
{
	if (r->who.is_admin)
		return 0;
	resp_forbidden(out);
	return -1;
}

/* ---- roles ---- */

static int collect_role(const struct role_row *row, void *ctx)
{
	json_t *ops = json_loads(row->operations, 0, NULL);

	json_array_append_new(ctx, rbac_role_json(row->id, row->name, false, ops));
	return 0;
}

/* Every role, built-in first; NULL on a store error. */
static json_t *all_roles(void)
{
	json_t *list = json_array();

	rbac_builtin_roles(list);
	if (store_roles(collect_role, list) != STORE_OK) {
		json_decref(list);
		return NULL;
	}
	return list;
}

/* The role whose id or name is `key`, as JSON (a new reference), or NULL. */
static json_t *find_role(json_t *roles, const char *key)
{
	size_t i;
	json_t *role;

	json_array_foreach(roles, i, role)
	{
		if (strcmp(json_string_value(json_object_get(role, "id")), key) == 0 ||
		    strcasecmp(json_string_value(json_object_get(role, "name")), key) == 0)
			return json_incref(role);
	}
	return NULL;
}

void api_roles_list(struct req *r, struct resp *out)
{
	json_t *roles = all_roles();

	(void)r;
	if (roles == NULL)
		resp_internal(out);
	else
		resp_json(out, 200, roles);
}

void api_role_get(struct req *r, struct resp *out)
{
	json_t *roles = all_roles(), *role = roles ? find_role(roles, r->params[0]) : NULL;

	if (roles == NULL)
		resp_internal(out);
	else if (role == NULL)
		resp_not_found(out, "role", r->params[0]);
	else
		resp_json(out, 200, role);
	json_decref(roles);
}

void api_role_create(struct req *r, struct resp *out)
{
	static const struct field form[] = {{"name", F_STRING, true},
					    {"system_role", F_BOOL, false},
					    {"operations", F_ANY, false},
					    {"id", F_STRING, false},
					    {NULL, 0, false}};
	json_t *ops = json_object_get(r->body, "operations"), *roles = NULL, *clash = NULL;
	struct role_row row = {0};
	const char *name = form_string(r->body, "name", ""), *why;
	char buf[256];
	int rc;

	if (admin_only(r, out) != 0 || form_check(r->body, form, out) != 0 ||
	    form_label(name, "name", out) != 0)
		return;
	if (name[0] == '\0' || form_bool(r->body, "system_role", false)) {
		resp_error(out, 400, "INVALID_FORM", name[0] ? "system_role" : "name",
			   name[0] ? "system_role: only built-in roles are system roles"
				   : "name: is required");
		return;
	}
	if (ops == NULL)
		ops = json_object();
	else
		json_incref(ops);
	if ((why = rbac_check_operations(ops, buf, sizeof(buf))) != NULL) {
		resp_error(out, 400, "INVALID_FORM", "operations", "%s", why);
		goto done;
	}
	roles = all_roles();
	if (roles != NULL && (clash = find_role(roles, name)) != NULL) {
		resp_error(out, 409, "CONFLICT", "name", "name: a role named \"%s\" exists", name);
		goto done;
	}
	snprintf(row.name, sizeof(row.name), "%s", name);
	row.operations = json_dumps(ops, JSON_COMPACT | JSON_SORT_KEYS);
	row.created_at = now_seconds();
	rc = roles && row.operations && new_uuid(row.id) == 0 ? store_role_insert(&row)
							      : STORE_ERROR;
	if (rc == STORE_CONFLICT)
		resp_error(out, 409, "CONFLICT", "name", "name: a role named \"%s\" exists", name);
	else if (rc != STORE_OK)
		resp_internal(out);
	else {
		server_changed(r->srv);
		audit_log(r->srv->audit, "role.create", r->who.name, r->client,
			  json_pack("{s:s, s:s}", "role", row.name, "id", row.id));
		resp_json(out, 201, rbac_role_json(row.id, row.name, false, json_incref(ops)));
	}
	free(row.operations);
done:
	json_decref(clash);
	json_decref(roles);
	json_decref(ops);
}

void api_role_delete(struct req *r, struct resp *out)
{
	int rc;

	if (admin_only(r, out) != 0)
		return;
	if (rbac_builtin_role(r->params[0])) {
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
		resp_internal(out);
		return;
	}
	server_changed(r->srv);
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

	if (store_collections(collect_collection, &k) != STORE_OK) {
		json_decref(k.list);
		resp_internal(out);
		return;
	}
	resp_json(out, 200, k.list);
}

void api_collections_list(struct req *r, struct resp *out)
{
	(void)r;
	list_collections(out, NULL);
}

static int load_collection(struct resp *out, const char *id, struct collection_row *c)
{
	int rc = store_collection_get(id, c);

	if (rc == STORE_NOT_FOUND)
		resp_not_found(out, "collection", id);
	else if (rc != STORE_OK)
		resp_internal(out);
	return rc == STORE_OK ? 0 : -1;
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
	int rc;

	if (path == NULL) {
		resp_error(out, 400, "INVALID_FORM", "path", "path: is required");
		return;
	}
	rc = store_collection_by_path(path, &c);
	if (rc == STORE_NOT_FOUND)
		resp_not_found(out, "collection", path);
	else if (rc != STORE_OK)
		resp_internal(out);
	else
		resp_json(out, 200, collection_json(&c));
}

void api_collection_create(struct req *r, struct resp *out)
{
	static const struct field form[] = {
	    {"name", F_STRING, true}, {"parent_id", F_STRING, true}, {NULL, 0, false}};
	const char *name = form_string(r->body, "name", "");
	struct collection_row parent, c = {0};
	int rc;

	if (admin_only(r, out) != 0 || form_check(r->body, form, out) != 0 ||
	    form_label(name, "name", out) != 0)
		return;
	if (name[0] == '\0' || strchr(name, '/') != NULL) {
		resp_error(out, 400, "INVALID_FORM", "name",
			   "name: must be 1-100 characters without \"/\"");
		return;
	}
	if (load_collection(out, form_string(r->body, "parent_id", ""), &parent) != 0)
		return;
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.parent_id, sizeof(c.parent_id), "%s", parent.id);
	snprintf(c.path, sizeof(c.path), "%s/%s", strcmp(parent.path, "/") == 0 ? "" : parent.path,
		 name);
	c.created_at = now_seconds();
	rc = new_uuid(c.id) == 0 ? store_collection_insert(&c) : STORE_ERROR;
	if (rc == STORE_CONFLICT) {
		resp_error(out, 409, "CONFLICT", "name", "name: %s exists", c.path);
		return;
	}
	if (rc != STORE_OK) {
		resp_internal(out);
		return;
	}
	server_changed(r->srv);
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
		resp_internal(out);
		return;
	}
	server_changed(r->srv);
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

	if (admin_only(r, out) != 0 || store_grants(collect_grant, &k) != STORE_OK) {
		if (out->status == 0)
			resp_internal(out);
		json_decref(k.grants);
		json_decref(k.subjects);
		json_decref(subjects);
		return;
	}
	json_object_foreach(k.subjects, key, v) json_array_append(subjects, v);
	json_decref(k.subjects);
	resp_json(out, 200, json_pack("{s:o, s:o}", "grants", k.grants, "subjects", subjects));
}

/* Checks that the grant's subject, collection and role exist. */
static int check_grant(struct resp *out, const struct grant_row *g)
{
	struct collection_row c;
	const char *kind;
	json_t *roles, *role;
	int rc = store_subject_kind(g->subject_id, &kind);

	if (rc != STORE_OK) {
		if (rc == STORE_NOT_FOUND)
			resp_not_found(out, "subject", g->subject_id);
		else
			resp_internal(out);
		return -1;
	}
	if (load_collection(out, g->collection_id, &c) != 0)
		return -1;
	roles = all_roles();
	role = roles ? find_role(roles, g->role_id) : NULL;
	json_decref(roles);
	if (role == NULL) {
		resp_not_found(out, "role", g->role_id);
		return -1;
	}
	json_decref(role);
	return 0;
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

	if (admin_only(r, out) != 0)
		return;
	grant_from_path(r, &g);
	if (check_grant(out, &g) != 0)
		return;
	if (store_grant_put(&g) != STORE_OK) {
		resp_internal(out);
		return;
	}
	server_changed(r->srv);
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
		resp_internal(out);
		return;
	}
	server_changed(r->srv);
	audit_log(r->srv->audit, "grant.delete", r->who.name, r->client,
		  json_pack("{s:s, s:s, s:s}", "subject", g.subject_id, "collection",
			    g.collection_id, "role", g.role_id));
	out->status = 204;
}

/* ---- GET/PUT /enzi/v0/config/auth ---- */

static void auth_config_json(struct resp *out)
{
	char backend[32] = "managed", role[ID_LEN] = "restrictedcontrol";

	if (store_setting_get("backend", backend, sizeof(backend)) == STORE_ERROR ||
	    store_setting_get("defaultNewUserRole", role, sizeof(role)) == STORE_ERROR) {
		resp_internal(out);
		return;
	}
	resp_json(out, 200,
		  json_pack("{s:s, s:s}", "backend", backend, "defaultNewUserRole", role));
}

void api_auth_config_get(struct req *r, struct resp *out)
{
	if (admin_only(r, out) == 0)
		auth_config_json(out);
}

void api_auth_config_put(struct req *r, struct resp *out)
{
	static const struct field form[] = {{"backend", F_STRING, false},
					    {"defaultNewUserRole", F_STRING, false},
					    {NULL, 0, false}};
	const char *backend = form_string(r->body, "backend", NULL);
	const char *role = form_string(r->body, "defaultNewUserRole", NULL);
	json_t *roles, *found = NULL;

	if (admin_only(r, out) != 0 || form_check(r->body, form, out) != 0)
		return;
	if (backend && strcmp(backend, "managed") != 0 && strcmp(backend, "ldap") != 0) {
		resp_error(out, 400, "INVALID_FORM", "backend", "backend: must be managed or ldap");
		return;
	}
	if (role != NULL) {
		roles = all_roles();
		found = roles ? find_role(roles, role) : NULL;
		json_decref(roles);
		if (found == NULL) {
			char shown[101];

			resp_error(out, 400, "INVALID_FORM", "defaultNewUserRole",
				   "defaultNewUserRole: no role \"%s\"",
				   utf8_clean(shown, sizeof(shown), role));
			return;
		}
		role = json_string_value(json_object_get(found, "id"));
	}
	if (store_begin() != STORE_OK || (backend && store_setting_set("backend", backend)) ||
	    (role && store_setting_set("defaultNewUserRole", role)) || store_commit() != STORE_OK) {
		store_rollback();
		json_decref(found);
		resp_internal(out);
		return;
	}
	json_decref(found);
	ldap_config_changed(r->srv);
	audit_log(r->srv->audit, "config.auth", r->who.name, r->client, json_incref(r->body));
	auth_config_json(out);
}
