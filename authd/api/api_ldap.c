/*
 * LDAP settings (SPEC §6.1) and the test login (§6.4). Settings are kept as
 * one JSON value in the settings table with every reader password sealed
 * (secret.c); GET shows only whether a password is set.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ldapsync.h"

#define SETTINGS_KEY "ldapSettings"

/* What is done to each reader password of a settings JSON value, in place. */
enum password_op { PW_SEAL, PW_UNSEAL, PW_WIPE };

/* One server object's readerPassword; 0, or -1 when a seal cannot be made or opened. */
static int password_apply(json_t *server, enum password_op op, const unsigned char *key)
{
	json_t *v = json_object_get(server, "readerPassword");
	char *in, *out;

	if (!json_is_string(v) || json_string_length(v) == 0)
		return 0;
	in = (char *)json_string_value(v);
	if (op == PW_WIPE) {
		OPENSSL_cleanse(in, json_string_length(v));
		return 0;
	}
	out = op == PW_SEAL ? secret_seal(key, in) : secret_unseal(key, in);
	if (out == NULL)
		return -1;
	if (op == PW_SEAL)
		OPENSSL_cleanse(in, strlen(in));
	json_object_set_new(server, "readerPassword", json_string(out));
	if (op == PW_UNSEAL)
		OPENSSL_cleanse(out, strlen(out));
	free(out);
	return 0;
}

/* The top level is the default server; each of additionalDomains is another. */
static int each_password(json_t *settings, enum password_op op, const unsigned char *key)
{
	json_t *server;
	size_t i;

	if (password_apply(settings, op, key) != 0)
		return -1;
	json_array_foreach(json_object_get(settings, "additionalDomains"), i, server)
	{
		if (password_apply(server, op, key) != 0)
			return -1;
	}
	return 0;
}

/* Wipes the clear passwords a JSON value holds, then frees it. */
static void drop_clear_settings(json_t *settings)
{
	each_password(settings, PW_WIPE, NULL);
	json_decref(settings);
}

/* The saved settings, passwords unsealed; STORE_NOT_FOUND before the first PUT. */
static int ldap_settings_load(struct server *srv, struct ls_settings *out)
{
	struct ls_error err;
	char *text = NULL;
	json_t *j;
	int rc = store_setting_get_text(SETTINGS_KEY, &text);

	if (rc != STORE_OK)
		return rc;
	j = json_loads(text, 0, NULL);
	free(text);
	if (j == NULL || each_password(j, PW_UNSEAL, srv->secret_key) != 0) {
		log_msg(LOG_ERROR,
			"stored LDAP settings cannot be read (is secret.key the one they "
			"were sealed with?)");
		json_decref(j);
		return STORE_ERROR;
	}
	rc = ls_settings_from_json(j, NULL, out, &err) == 0 ? STORE_OK : STORE_ERROR;
	if (rc != STORE_OK)
		log_msg(LOG_ERROR, "stored LDAP settings are refused: %s", err.message);
	drop_clear_settings(j);
	return rc;
}

static struct ldap_config *config_load(struct server *srv)
{
	struct ldap_config *c = calloc(1, sizeof(*c));
	char backend[32] = "managed";
	int rc;

	if (c == NULL)
		return NULL;
	atomic_init(&c->refs, 1);
	rc = store_setting_get("backend", backend, sizeof(backend));
	if (rc == STORE_OK || rc == STORE_NOT_FOUND)
		rc = ldap_settings_load(srv, &c->s);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		free(c);
		return NULL;
	}
	c->backend_ldap = strcmp(backend, "ldap") == 0;
	c->configured = rc == STORE_OK;
	return c;
}

struct ldap_config *ldap_config_get(struct server *srv)
{
	struct ldap_config *c;

	pthread_mutex_lock(&srv->ldap_lock);
	if (srv->ldap == NULL)
		srv->ldap = config_load(srv);
	c = srv->ldap;
	if (c != NULL)
		atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&srv->ldap_lock);
	return c;
}

void ldap_config_put(struct ldap_config *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	if (c->configured)
		ls_settings_free(&c->s);
	free(c);
}

void ldap_config_changed(struct server *srv)
{
	struct ldap_config *old;

	pthread_mutex_lock(&srv->ldap_lock);
	old = srv->ldap;
	srv->ldap = NULL;
	pthread_mutex_unlock(&srv->ldap_lock);
	ldap_config_put(old);
}

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
		resp_internal(out);
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
	struct ls_error err;
	int rc = ldap_settings_load(r->srv, &stored);

	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		resp_internal(out);
		return -1;
	}
	bool have = rc == STORE_OK;

	rc = ls_settings_from_json(in, have ? &stored : NULL, s, &err);
	if (rc != 0)
		resp_error(out, 400, "INVALID_FORM", err.field, "%s", err.message);
	if (have)
		ls_settings_free(&stored);
	return rc;
}

static int save_settings(struct server *srv, const struct ls_settings *s)
{
	json_t *j = ls_settings_to_json(s, true);
	char *text = NULL;
	int rc = STORE_ERROR;

	if (j != NULL && each_password(j, PW_SEAL, srv->secret_key) == 0 &&
	    (text = json_dumps(j, JSON_COMPACT)) != NULL)
		rc = store_setting_set(SETTINGS_KEY, text);
	free(text);
	drop_clear_settings(j);
	return rc;
}

void api_ldap_put(struct req *r, struct resp *out)
{
	struct ls_settings s;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	if (settings_from_request(r, r->body, &s, out) != 0)
		return;
	if (save_settings(r->srv, &s) != STORE_OK) {
		resp_internal(out);
		ls_settings_free(&s);
		return;
	}
	ldap_config_changed(r->srv);
	audit_log(r->srv->audit, "config.ldap", r->who.name, r->client,
		  json_pack("{s:s, s:i, s:i}", "serverURL", s.servers[0].url, "domains",
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
	static const struct field form[] = {{"username", F_STRING, true},
					    {"password", F_STRING, true},
					    {"ldapSettings", F_ANY, false},
					    {NULL, 0, false}};
	json_t *given = json_object_get(r->body, "ldapSettings"), *lines;
	struct ls_found found = {NULL, NULL, NULL};
	enum ls_login_result rc;
	struct ls_settings s;
	struct ls_log log;
	const char *last;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	if (form_check(r->body, form, out) != 0)
		return;
	if (given != NULL && settings_from_request(r, given, &s, out) != 0)
		return;
	if (given == NULL) {
		int st = ldap_settings_load(r->srv, &s);

		if (st == STORE_NOT_FOUND)
			resp_error(
			    out, 400, "INVALID_FORM", "ldapSettings",
			    "ldapSettings: LDAP is not configured; give the settings to try");
		else if (st != STORE_OK)
			resp_internal(out);
		if (st != STORE_OK)
			return;
	}
	lines = json_array();
	log = (struct ls_log){log_to_array, lines};
	/* always by search: the settings tried may not be the ones a stored DN came from */
	rc = ls_login(&s, form_string(r->body, "username", ""), NULL,
		      form_string(r->body, "password", ""), &log, &found);
	ls_settings_free(&s);
	audit_log(r->srv->audit, "config.ldap.tryLogin", r->who.name, r->client,
		  json_pack("{s:s, s:b}", "username", form_string(r->body, "username", ""),
			    "success", rc == LS_LOGIN_OK));
	if (rc == LS_LOGIN_OK) {
		resp_json(out, 200,
			  json_pack("{s:o, s:o}", "account", account_as_it_would_be(&found), "log",
				    lines));
		ls_found_free(&found);
		return;
	}
	last = json_string_value(json_array_get(lines, json_array_size(lines) - 1));
	resp_error(out, 400, "LDAP_ERROR", NULL, "LDAP login %s: %s",
		   rc == LS_LOGIN_DENIED ? "refused" : "failed", last ? last : "no step ran");
	resp_error_detail(out, "log", lines);
}
