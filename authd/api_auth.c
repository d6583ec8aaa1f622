/*
 * Authentication: login, logout, and the two calls anyone may make (ping and
 * the CA certificates).
 *
 * Login refuses blank passwords before it looks at anything else, answers the
 * same 401 for an unknown user, a wrong password and an inactive account (and
 * spends the same argon2 time on each), and throttles failures per username
 * and per client address: failures beyond a few are slowed, and at the limit
 * the key is answered 429 until its lockout ends.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "tls.h"
#include "ldapsync.h"

void api_ping(struct req *r, struct resp *out)
{
	(void)r;
	out->status = 200;
	out->text = strdup("OK");
}

void api_ca(struct req *r, struct resp *out)
{
	out->status = 200;
	out->text = strdup(r->srv->tls->cas_pem);
	out->type = "application/x-pem-file";
}

/* Makes repeated failures cost the client time: 250 ms per failure past the second, up to 1 s. */
static void slow_down(int failures)
{
	int steps = failures - 2;
	struct timespec ts;

	if (steps <= 0)
		return;
	if (steps > 4)
		steps = 4;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)steps * 250 * 1000 * 1000;
	nanosleep(&ts, NULL);
}

static void refuse_login(struct req *r, struct resp *out, const char *user_key, const char *ip_key,
			 const char *name, const char *reason)
{
	int64_t now = now_seconds();
	int n = throttle_fail(r->srv->throttle, user_key, now);

	atomic_fetch_add(&r->srv->login_failures, 1);
	throttle_fail(r->srv->ip_throttle, ip_key, now);
	audit_log(r->srv->audit, "login.failure", NULL, r->client,
		  json_pack("{s:s, s:s}", "username", name, "reason", reason));
	slow_down(n);
	resp_error(out, 401, "UNAUTHORIZED", NULL, "wrong username or password");
}

/* 0 when the login may be tried; otherwise fills a 429. */
static int check_throttle(struct req *r, struct resp *out, const char *user_key, const char *ip_key)
{
	int64_t now = now_seconds();
	int wait = throttle_wait(r->srv->throttle, user_key, now);
	int ip_wait = throttle_wait(r->srv->ip_throttle, ip_key, now);

	if (ip_wait > wait)
		wait = ip_wait;
	if (wait == 0)
		return 0;
	resp_error(out, 429, "TOO_MANY_REQUESTS", NULL,
		   "too many failed logins; try again in %d seconds", wait);
	resp_header(out, "Retry-After", "%d", wait);
	return -1;
}

static void grant_login(struct req *r, struct resp *out, const struct account *a,
			const char *user_key)
{
	char token[TOKEN_LEN + 1];

	throttle_clear(r->srv->throttle, user_key);
	/* the private collection is made at first login (SPEC §4), if not before */
	switch (store_ensure_private_collection(a)) {
	case STORE_CREATED:
		server_changed(r->srv);
		break;
	case STORE_OK:
		break;
	default:
		resp_internal(out);
		return;
	}
	if (session_create(r->srv->sessions, a->id, token) != 0) {
		resp_internal(out);
		return;
	}
	audit_log(r->srv->audit, "login.success", a->name, r->client, NULL);
	resp_json(out, 200,
		  json_pack("{s:s, s:o}", "auth_token", token, "account", account_json(a)));
	OPENSSL_cleanse(token, sizeof(token));
}

void api_login(struct req *r, struct resp *out)
{
	static const struct field form[] = {
	    {"username", F_STRING, true}, {"password", F_STRING, true}, {NULL, 0, false}};
	const char *username, *password, *why = NULL;
	char user_key[NAME_LEN + 8], ip_key[80];
	struct account a;
	char *name, *hash = NULL;
	bool ok;

	if (form_check(r->body, form, out) != 0)
		return;
	password = form_string(r->body, "password", "");
	username = form_string(r->body, "username", "");
	/* refused before any lookup or hash, as SPEC §3 and LDAP's unauthenticated bind demand */
	if (is_blank(password)) {
		resp_error(out, 400, "INVALID_FORM", "password", "password: must not be empty");
		return;
	}
	if (is_blank(username)) {
		resp_error(out, 400, "INVALID_FORM", "username", "username: must not be empty");
		return;
	}
	name = ls_name_normalize(username, strlen(username), &why);
	snprintf(user_key, sizeof(user_key), "user:%s", name ? name : username);
	snprintf(ip_key, sizeof(ip_key), "ip:%s", r->client);
	if (check_throttle(r, out, user_key, ip_key) != 0)
		goto done;
	if (name == NULL || store_account_get(name, &a) != STORE_OK || a.is_org ||
	    store_account_password(a.id, &hash) != STORE_OK) {
		password_verify_dummy(password);
		refuse_login(r, out, user_key, ip_key, name ? name : "", "unknown user");
		goto done;
	}
	ok = password_verify(hash, password);
	if (!ok || !a.is_active) {
		refuse_login(r, out, user_key, ip_key, a.name, ok ? "inactive" : "wrong password");
		goto done;
	}
	grant_login(r, out, &a, user_key);
done:
	free(name);
	free(hash);
}

void api_logout(struct req *r, struct resp *out)
{
	session_revoke(r->srv->sessions, r->token_hash);
	audit_log(r->srv->audit, "logout", r->who.name, r->client, NULL);
	out->status = 204;
}
