/*
 * LDAP settings (SPEC §6.1) and the test login (§6.4). GET shows only
 * whether a reader password is set; the sealing is ldap_config.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "changes.h"
#include "ldap_config.h"

void api_ldap_get(struct req *r, struct resp *out)
{
	struct ls_settings s;
	int rc;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	rc = ldap_settings_load(r->srv, &s);
	if (rc == STORE_NOT_FOUND) {
		resp_json(out, 200, ls_settings_unset_json());
		return;
	}
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	resp_json(out, 200, ls_settings_to_json(&s, false));
	ls_settings_free(&s);
}

/*
 * Reads settings from a request, taking missing passwords from the stored
 * settings under §6.1's rule. 0, or -1 with `out` filled.
 */
static int settings_from_request(struct req *r, json_t *in, struct ls_settings *s, struct resp *out)
{
	struct ls_settings stored;
	struct refusal why;
	int rc = ldap_settings_load(r->srv, &stored);
	bool have = rc == STORE_OK;

	if (rc < 0) {
		resp_store_failed(out, rc);
		return -1;
	}
	rc = ls_settings_from_json(in, have ? &stored : NULL, s, &why);
	if (rc != 0)
		resp_refused(out, &why);
	if (have)
		ls_settings_free(&stored);
	return rc;
}

void api_ldap_put(struct req *r, struct resp *out)
{
	struct ls_settings s;
	int rc;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	if (settings_from_request(r, r->body, &s, out) != 0)
		return;
	rc = ldap_settings_save(r->srv, &s);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		ls_settings_free(&s);
		return;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_SETTINGS});
	audit_log(r->srv->audit, "config.ldap", r->who.name, r->client,
		  json_pack("{s:s, s:i, s:i}", "serverURL", s.servers[0].urls[0], "domains",
			    (int)s.nservers - 1, "userSearchConfigs", (int)s.nsearches));
	resp_json(out, 200, ls_settings_to_json(&s, false));
	ls_settings_free(&s);
}

/* Lines quote the directory's own messages and values, which need not be UTF-8. */
static void log_to_array(void *ctx, const char *line)
{
	char shown[1024];

	json_array_append_new(ctx, json_string(utf8_clean(shown, sizeof(shown), line)));
}

/* The account a successful login would give: the stored one, or the one JIT would make. */
static json_t *account_as_it_would_be(const struct ls_found *f)
{
	struct account a;
	json_t *j;

	if (store_account_get(f->username, &a) == STORE_OK)
		return account_json(&a);
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", f->username);
	snprintf(a.full_name, sizeof(a.full_name), "%s", f->full_name ? f->full_name : "");
	snprintf(a.ldap_dn, sizeof(a.ldap_dn), "%s", f->dn);
	a.is_active = a.is_imported = true;
	a.created_at = a.updated_at = now_seconds();
	j = account_json(&a);
	json_object_del(j, "id"); /* it has none until it is made */
	return j;
}

void api_ldap_try_login(struct req *r, struct resp *out)
{
	json_t *given = json_object_get(r->body, "ldapSettings"), *lines;
	struct ls_found found = {NULL, NULL, NULL, NULL, NULL};
	enum ls_login_result rc;
	struct ls_settings s;
	struct ls_log log;
	const char *last;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	if (form_check(r->body, form_ldap_try_login, out) != 0)
		return;
	if (given != NULL && settings_from_request(r, given, &s, out) != 0)
		return;
	if (given == NULL) {
		int st = ldap_settings_load(r->srv, &s);

		if (st == STORE_NOT_FOUND)
			resp_refuse(
			    out, "ldapSettings",
			    "ldapSettings: LDAP is not configured; give the settings to try");
		else if (st != STORE_OK)
			resp_store_failed(out, st);
		if (st != STORE_OK)
			return;
	}
	lines = json_array();
	log = (struct ls_log){log_to_array, lines};
	/* a test login checks the directory as a first login would find it: every step afresh */
	s.unpooled = true;
	/* always by search: the settings tried may not be the ones a stored DN came from */
	rc = ls_login(&s, form_string(r->body, "username", ""), NULL,
		      form_string(r->body, "password", ""), &log, &found);
	ls_settings_free(&s);
	audit_log(r->srv->audit, "config.ldap.tryLogin", r->who.name, r->client,
		  json_pack("{s:s, s:b}", "username", form_string(r->body, "username", ""),
			    "success", rc == LS_LOGIN_OK));
	if (rc == LS_LOGIN_OK) {
		resp_json(out, 200,
			  json_pack("{s:o, s:s?, s:o}", "account", account_as_it_would_be(&found),
				    "server", found.server, "log", lines));
		ls_found_free(&found);
		return;
	}
	last = json_string_value(json_array_get(lines, json_array_size(lines) - 1));
	resp_error(out, 400, "LDAP_ERROR", NULL, "LDAP login %s: %s",
		   rc == LS_LOGIN_DENIED ? "refused" : "failed", last ? last : "no step ran");
	resp_error_detail(out, "log", lines);
}
