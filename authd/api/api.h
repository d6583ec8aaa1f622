/*
 * The handlers of the API, one group per api_*.c file, and the helpers they
 * share for validating JSON forms and paging lists.
 */
#ifndef AUTHD_API_H
#define AUTHD_API_H

#include "http/http.h"
#include "ldapsync.h"
#include "store/store.h"

/* ---- api_answers.c: how a handler says no ---- */

/* 400 INVALID_FORM naming why->field (none when it is ""), with why->message. */
void resp_refused(struct resp *out, const struct refusal *why);
/* The same from a field and a message, which should start with the field. */
void resp_refuse(struct resp *out, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The store failed with rc (< 0): 507 STORAGE_FULL for STORE_FULL, 503 STORE_UNAVAILABLE for
 * STORE_UNAVAILABLE, else 500 INTERNAL. */
void resp_store_failed(struct resp *out, int rc);

/* ---- api_form.c: request validation ---- */

enum field_type { F_STRING, F_BOOL, F_ANY, F_INT, F_OBJECT };

struct field {
	const char *name;
	enum field_type type;
	bool required;
};

/*
 * Checks a body against its form: every key known, every value of the right
 * type, every required key present. On failure fills `out` with INVALID_FORM
 * naming the field and returns -1.
 */
int form_check(json_t *body, const struct field *fields, struct resp *out);
/* The same for an object inside a body, whose fields are named "prefix.name". */
int form_check_at(json_t *body, const struct field *fields, const char *prefix, struct resp *out);
/* The string or boolean value of a checked field, or the fallback when absent. */
const char *form_string(json_t *body, const char *name, const char *fallback);
bool form_bool(json_t *body, const char *name, bool fallback);
/* Normalises a name field (SPEC §4 rules); on failure fills `out` and returns NULL. */
char *form_name(const char *value, const char *field, struct resp *out);

/* Checks a key label: UTF-8, at most 100 characters, no control characters. */
int form_label(const char *label, const char *field, struct resp *out);

/* ---- api_forms.c: the form of every body a handler checks ---- */

extern const struct field form_login[], form_account_create[], form_account_patch[],
    form_account_password[], form_member_put[], form_team_create[], form_team_patch[],
    form_key_add[], form_key_patch[], form_role_create[], form_collection_create[],
    form_auth_config_put[], form_auth_sessions[], form_ldap_try_login[], form_job_create[],
    form_authz_request[], form_certs_put[];

/* Every table above with a name for messages, for the checks of the tables themselves. */
struct api_form {
	const char *name;
	const struct field *fields;
};
extern const struct api_form api_forms[];
extern const size_t api_nforms;

/* ---- api_paging.c ---- */

#define PAGE_DEFAULT 10
#define PAGE_MAX 1000

struct page {
	char start[NAME_LEN]; /* the first name to return; "" for the beginning */
	int limit;
	json_t *items;	     /* collected items, limit at most */
	char next[NAME_LEN]; /* name of the first item of the next page, or "" */
	int seen;
};

/* Reads a start cursor and a limit (either may be NULL); 0, or -1 with why naming the field. */
int page_parse(const char *start, const char *limit, struct page *p, struct refusal *why);
/* The same from ?start= and ?limit=; on refusal fills `out` and returns -1. */
int page_from_query(struct req *r, struct page *p, struct resp *out);
/* Collects one item (taking ownership); returns 1 once the page is full. */
int page_add(struct page *p, const char *name, json_t *item);
/* Adds nextPageStart to body, and X-Next-Page-Start and Link when there is more. */
void page_finish(struct req *r, struct page *p, json_t *body, struct resp *out);

/* ---- api_json.c: objects as the API shows them ---- */

json_t *account_json(const struct account *a);
json_t *team_json(const struct team *t);
json_t *member_json(const struct member *m);
json_t *pubkey_json(const struct pubkey *k);

/* ---- handlers ---- */

void api_ping(struct req *r, struct resp *out);
void api_ca(struct req *r, struct resp *out);
void api_login(struct req *r, struct resp *out);
void api_logout(struct req *r, struct resp *out);

void api_accounts_list(struct req *r, struct resp *out);
void api_account_create(struct req *r, struct resp *out);
void api_account_get(struct req *r, struct resp *out);
void api_account_patch(struct req *r, struct resp *out);
void api_account_delete(struct req *r, struct resp *out);
void api_account_change_password(struct req *r, struct resp *out);
void api_user_orgs(struct req *r, struct resp *out);

void api_org_members(struct req *r, struct resp *out);
void api_org_member_get(struct req *r, struct resp *out);
void api_org_member_put(struct req *r, struct resp *out);
void api_org_member_delete(struct req *r, struct resp *out);
void api_teams_list(struct req *r, struct resp *out);
void api_team_create(struct req *r, struct resp *out);
void api_team_get(struct req *r, struct resp *out);
void api_team_patch(struct req *r, struct resp *out);
void api_team_delete(struct req *r, struct resp *out);
void api_team_members(struct req *r, struct resp *out);
void api_team_member_get(struct req *r, struct resp *out);
void api_team_member_put(struct req *r, struct resp *out);
void api_team_member_delete(struct req *r, struct resp *out);

void api_clientbundle(struct req *r, struct resp *out);
void api_keys_list(struct req *r, struct resp *out);
void api_key_add(struct req *r, struct resp *out);
void api_key_get(struct req *r, struct resp *out);
void api_key_patch(struct req *r, struct resp *out);
void api_key_delete(struct req *r, struct resp *out);

void api_roles_list(struct req *r, struct resp *out);
void api_role_get(struct req *r, struct resp *out);
void api_role_create(struct req *r, struct resp *out);
void api_role_delete(struct req *r, struct resp *out);
void api_collections_list(struct req *r, struct resp *out);
void api_collection_get(struct req *r, struct resp *out);
void api_collection_children(struct req *r, struct resp *out);
void api_collection_by_path(struct req *r, struct resp *out);
void api_collection_create(struct req *r, struct resp *out);
void api_collection_delete(struct req *r, struct resp *out);
void api_grants_list(struct req *r, struct resp *out);
void api_grant_put(struct req *r, struct resp *out);
void api_grant_delete(struct req *r, struct resp *out);
void api_auth_config_get(struct req *r, struct resp *out);
void api_auth_config_put(struct req *r, struct resp *out);

/* ---- api_ldap.c ---- */

void api_team_sync_get(struct req *r, struct resp *out);
void api_team_sync_put(struct req *r, struct resp *out);
void api_org_admin_sync_get(struct req *r, struct resp *out);
void api_org_admin_sync_put(struct req *r, struct resp *out);

void api_job_create(struct req *r, struct resp *out);
void api_jobs_list(struct req *r, struct resp *out);
void api_job_get(struct req *r, struct resp *out);
void api_job_logs(struct req *r, struct resp *out);
void api_job_cancel(struct req *r, struct resp *out);

void api_ldap_get(struct req *r, struct resp *out);
void api_ldap_put(struct req *r, struct resp *out);
void api_ldap_try_login(struct req *r, struct resp *out);

void api_metrics(struct req *r, struct resp *out);
/* api_audit.c: GET /api/audit, the audit log's records newest first. */
void api_audit_list(struct req *r, struct resp *out);
/* api_cluster.c: GET /api/cluster, the replicas on the store. */
void api_cluster(struct req *r, struct resp *out);

void api_certs_get(struct req *r, struct resp *out);
void api_certs_put(struct req *r, struct resp *out);

/* api_web.c: GET / (the page) and GET /web/{file}; both answer without authentication. */
void api_web_index(struct req *r, struct resp *out);
void api_web_file(struct req *r, struct resp *out);

/* authz/authz.c: the engine plugin protocol, and POST /api/authz. */
void api_plugin_activate(struct req *r, struct resp *out);
void api_plugin_authz_req(struct req *r, struct resp *out);
void api_plugin_authz_res(struct req *r, struct resp *out);
void api_authz(struct req *r, struct resp *out);

/* ---- routes.c: the routing tables http.c serves ---- */

extern const struct route api_routes[], plugin_routes[];
extern const size_t api_nroutes, plugin_nroutes;
/* Writes the HTTPS API's routing table to f, one "METHOD PATTERN" a line ("{}": one segment). */
void api_routes_print(FILE *f);

#endif
