/*
 * Authentication: login, logout, and the two calls anyone may make (ping and
 * the CA certificates).
 *
 * Login refuses blank passwords before it looks at anything else, answers the
 * same 401 for an unknown user, a wrong password and an inactive account (and
 * spends the same argon2 time on each), and throttles failures per username
 * and per client address: failures beyond a few are slowed, and at the limit
 * the key is answered 429 until its lockout ends. An LDAP account follows its
 * entry when it moves, and never becomes another entry's.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "authz/rbac.h"
#include "changes.h"
#include "cluster.h"
#include "http/tls.h"
#include "ldap_config.h"
#include "sync/jobs.h"

/* 200 OK while this replica can serve, else 503 saying why (cluster.c): a load balancer's check. */
void api_ping(struct req *r, struct resp *out)
{
	struct cluster_health why;

	if (!cluster_can_serve(r->srv, &why)) {
		resp_error(out, 503, why.code, NULL, "%s", why.message);
		return;
	}
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

/* Counts a failed login for /metrics (the audit log has the refusals' own reasons). */
static void login_failed(struct req *r, enum login_failure why)
{
	atomic_fetch_add_explicit(&r->srv->login_failures[why], 1, memory_order_relaxed);
}

/* A login's two throttle keys, and whether the user's has failures a success must clear. */
struct login_keys {
	char user[NAME_LEN + 8], ip[80];
	bool user_counted;
};

/*
 * A failure that could not be counted (the store out of reach) is answered as
 * the store's failure, never as a plain 401: the attempt must not go
 * uncounted, and the client learns nothing of the password from a 503.
 */
static void refuse_login(struct req *r, struct resp *out, const struct login_keys *k,
			 const char *name, const char *reason)
{
	int n = throttle_fail(r->srv->throttle, k->user, k->ip, now_seconds());

	if (n < 0) {
		login_failed(r, LOGIN_STORE_ERROR);
		resp_store_failed(out, n);
		return;
	}
	login_failed(r, LOGIN_BAD_CREDENTIALS);
	audit_log(r->srv->audit, "login.failure", NULL, r->client,
		  json_pack("{s:s, s:s}", "username", name, "reason", reason));
	slow_down(n);
	resp_error(out, 401, "UNAUTHORIZED", NULL, "wrong username or password");
}

/* 0 when the login may be tried; otherwise fills a 429, or a 503 when the store failed. */
static int check_throttle(struct req *r, struct resp *out, struct login_keys *k)
{
	int wait = throttle_wait(r->srv->throttle, k->user, k->ip, now_seconds(), &k->user_counted);

	if (wait < 0) {
		login_failed(r, LOGIN_STORE_ERROR);
		resp_store_failed(out, wait);
		return -1;
	}
	if (wait == 0)
		return 0;
	login_failed(r, LOGIN_THROTTLED);
	resp_error(out, 429, "TOO_MANY_REQUESTS", NULL,
		   "too many failed logins; try again in %d seconds", wait);
	resp_header(out, "Retry-After", "%d", wait);
	return -1;
}

/* Whether the current snapshot has the collection, so that a login asks no SQL for it. */
static bool collection_known(struct server *srv, const char *path)
{
	const struct snapshot *s = rbac_hold(srv->rbac);
	bool known = rbac_has_collection(s, path);

	rbac_release(s);
	return known;
}

static void grant_login(struct req *r, struct resp *out, const struct account *a,
			const struct login_keys *k)
{
	char token[TOKEN_LEN + 1], path[NAME_LEN + 32];
	unsigned char hash[32];
	int64_t ended = 0;
	int rc = STORE_OK;

	/* a login with no failures before it writes nothing here */
	if (k->user_counted)
		rc = throttle_clear(r->srv->throttle, k->user);
	/*
	 * The private collection is made at first login (SPEC §4), if not before.
	 * The snapshot holds every collection, so only a login that does not find
	 * it there asks the store (which makes it, unless it was made meanwhile).
	 */
	rbac_private_collection(a->name, path, sizeof(path));
	if (rc >= 0 && !collection_known(r->srv, path))
		rc = store_ensure_private_collection(a);
	if (rc == STORE_CREATED)
		changes_announce(r->srv,
				 &(struct change){.what = CHANGE_COLLECTIONS | CHANGE_GRANTS});
	if (rc >= 0)
		rc = session_create(r->srv->sessions, a->id, token, &ended);
	if (rc != STORE_OK) {
		login_failed(r, LOGIN_STORE_ERROR);
		resp_store_failed(out, rc);
		return;
	}
	/* past the per-user limit: the oldest sessions ended with this login */
	if (ended > 0) {
		token_hash(token, hash);
		changes_announce(
		    r->srv,
		    &(struct change){.what = CHANGE_SESSIONS, .account = a->id, .keep = hash});
	}
	audit_log(r->srv->audit, "login.success", a->name, r->client,
		  ended > 0 ? json_pack("{s:I}", "sessionsEnded", (json_int_t)ended) : NULL);
	resp_json(out, 200,
		  json_pack("{s:s, s:o}", "auth_token", token, "account", account_json(a)));
	OPENSSL_cleanse(token, sizeof(token));
}

static void log_ldap_step(void *ctx, const char *line)
{
	log_msg(LOG_DEBUG, "LDAP login of %s: %s", (const char *)ctx, line);
}

_Static_assert(LDAP_ID_LEN == LS_ID_MAX + 1, "an account holds every directory id ldapsync reads");

/*
 * A first login's insert met a taken name or directory id: the account a
 * login of the same user made at the same moment (by name, STORE_OK), or
 * the one the entry's id is already another name's (STORE_CONFLICT).
 */
static int already_made(const struct ls_found *f, struct account *a)
{
	int rc = store_account_get(f->username, a);

	if (rc != STORE_NOT_FOUND || f->unique_id == NULL)
		return rc == STORE_NOT_FOUND ? STORE_ERROR : rc;
	rc = store_account_by_ldap_id(f->unique_id, a);
	return rc == STORE_OK ? STORE_CONFLICT : rc == STORE_NOT_FOUND ? STORE_ERROR : rc;
}

/*
 * Just-in-time provisioning: the account, imported, with its private
 * collection, in one transaction. Two first logins at once both succeed:
 * the second finds the account the first made. An entry whose directory id
 * an account has already (its username changed in the directory since that
 * account was made) gets no second account: STORE_CONFLICT, with *a that
 * account.
 */
static int provision(struct req *r, const struct ls_found *f, struct account *a)
{
	int rc, made;

	memset(a, 0, sizeof(*a));
	if (new_uuid(a->id) != 0)
		return STORE_ERROR;
	snprintf(a->name, sizeof(a->name), "%s", f->username);
	snprintf(a->full_name, sizeof(a->full_name), "%s", f->full_name ? f->full_name : "");
	snprintf(a->ldap_dn, sizeof(a->ldap_dn), "%s", f->dn);
	snprintf(a->ldap_id, sizeof(a->ldap_id), "%s", f->unique_id ? f->unique_id : "");
	a->is_active = a->is_imported = true;
	a->created_at = a->updated_at = now_seconds();
	rc = store_begin();
	if (rc == STORE_OK)
		rc = store_account_insert(a, NULL);
	if (rc == STORE_OK && (made = store_ensure_private_collection(a)) < 0)
		rc = made;
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK)
		store_rollback();
	if (rc == STORE_CONFLICT)
		return already_made(f, a);
	if (rc != STORE_OK)
		return rc;
	changes_announce(
	    r->srv, &(struct change){.what = CHANGE_ACCOUNTS | CHANGE_COLLECTIONS | CHANGE_GRANTS});
	audit_log(r->srv->audit, "account.create", a->name, r->client,
		  json_pack("{s:s, s:b, s:s}", "account", a->name, "jit", 1, "ldapDN", a->ldap_dn));
	return STORE_OK;
}

/*
 * The login found the account's entry under a new DN, or read the directory
 * id of an account made before ids were kept: the account follows its entry.
 * A failure to write it down costs only the next login the same search.
 */
static void follow_entry(struct req *r, struct account *a, const struct ls_found *f)
{
	const char *id = a->ldap_id[0] == '\0' && f->unique_id ? f->unique_id : a->ldap_id;
	bool moved = strcmp(f->dn, a->ldap_dn) != 0;
	int rc;

	if (!moved && strcmp(id, a->ldap_id) == 0)
		return;
	rc = store_imported_relocate(a->id, f->dn, id, now_seconds());
	if (rc != STORE_OK) {
		log_msg(LOG_WARN, "LDAP login of %s: where its entry is could not be recorded: %s",
			a->name,
			rc == STORE_CONFLICT ? "another account has its directory id"
					     : "the store refused the write");
		return;
	}
	if (moved) {
		log_msg(LOG_INFO, "LDAP login of %s: its entry moved from %s to %s", a->name,
			a->ldap_dn, f->dn);
		audit_log(r->srv->audit, "account.update", a->name, r->client,
			  json_pack("{s:s, s:s, s:s, s:s}", "account", a->name, "ldapDN", f->dn,
				    "previousLDAPDN", a->ldap_dn, "reason",
				    "its directory entry moved (the same directory id)"));
	}
	snprintf(a->ldap_dn, sizeof(a->ldap_dn), "%s", f->dn);
	snprintf(a->ldap_id, sizeof(a->ldap_id), "%s", id);
}

/*
 * The username is another directory entry's than the one the account was
 * made from (a, or for a first login the account the entry's id belongs
 * to): never merged. The user gets the same 401 as for a wrong password;
 * the server log and the audit line say why.
 */
static void refuse_other_entry(struct req *r, struct resp *out, const char *name,
			       const struct account *a, const struct ls_found *f,
			       const struct login_keys *k)
{
	char reason[DN_LEN + 3 * LDAP_ID_LEN + 256];

	if (strcmp(a->name, name) == 0)
		snprintf(reason, sizeof(reason),
			 "another directory entry has the username: %s (directory id %s); the "
			 "account was made from directory id %s",
			 f->dn, f->unique_id ? f->unique_id : "none", a->ldap_id);
	else
		snprintf(reason, sizeof(reason),
			 "the directory entry %s (directory id %s) is the one account %s was made "
			 "from: its username changed in the directory, and the account keeps its "
			 "name",
			 f->dn, f->unique_id ? f->unique_id : "none", a->name);
	log_msg(LOG_WARN, "LDAP login of %s refused: %s", name, reason);
	refuse_login(r, out, k, name, reason);
}

/* The account an entry's directory id belongs to already, if any (a first login's check). */
static bool id_taken(const struct ls_found *f, struct account *other)
{
	return f->unique_id != NULL && store_account_by_ldap_id(f->unique_id, other) == STORE_OK;
}

/*
 * The LDAP login of SPEC §6.4: an imported account binds as its DN (and is
 * found again when its entry moved); an unknown name, with JIT on, is
 * searched for and provisioned once its bind succeeds. `a` is NULL for an
 * unknown name.
 */
static void login_ldap(struct req *r, struct resp *out, struct ldap_config *cfg, struct account *a,
		       const char *name, const char *password, const struct login_keys *k)
{
	struct ls_log log = {log_ldap_step, (void *)name};
	struct ls_found found = {NULL, NULL, NULL, NULL, NULL};
	struct ls_known known = {a ? a->ldap_dn : "", a ? a->ldap_id : ""};
	struct account made;
	enum ls_login_result rc;
	int stored;

	if (!cfg->backend_ldap || !cfg->configured || (a == NULL && !cfg->s.jit)) {
		refuse_login(r, out, k, name, a ? "LDAP is off" : "unknown user (no JIT)");
		return;
	}
	rc = ls_login(&cfg->s, name, a ? &known : NULL, password, &log, &found);
	if (rc == LS_LOGIN_OTHER_ENTRY ||
	    (rc == LS_LOGIN_OK && a == NULL && id_taken(&found, &made))) {
		refuse_other_entry(r, out, name, a ? a : &made, &found, k);
		goto done;
	}
	if (rc == LS_LOGIN_ERROR) {
		/* not the user's failure: no throttling, and the admin learns why from the log */
		log_msg(LOG_WARN, "LDAP login of %s: the directory could not answer", name);
		login_failed(r, LOGIN_LDAP_ERROR);
		resp_error(out, 503, "LDAP_ERROR", NULL,
			   "the directory could not be reached; try again later");
		return;
	}
	if (rc != LS_LOGIN_OK) {
		refuse_login(r, out, k, name, a ? "wrong password" : "unknown user");
		return;
	}
	if (a == NULL) {
		stored = provision(r, &found, &made);
		if (stored == STORE_CONFLICT) {
			refuse_other_entry(r, out, name, &made, &found, k);
			goto done;
		}
		if (stored != STORE_OK) {
			login_failed(r, LOGIN_STORE_ERROR);
			resp_store_failed(out, stored);
			goto done;
		}
		/* its teams and admin rights follow in a targeted sync */
		jobs_submit_for_user(r->srv->jobs, &cfg->s, made.name);
		a = &made;
	}
	if (!a->is_active) {
		refuse_login(r, out, k, name, "inactive");
		goto done;
	}
	follow_entry(r, a, &found);
	grant_login(r, out, a, k);
done:
	ls_found_free(&found);
}

static void login_managed(struct req *r, struct resp *out, struct account *a, const char *password,
			  const struct login_keys *k)
{
	char *hash = NULL;
	bool ok;
	int rc = store_account_password(a->id, &hash);

	if (rc < 0) {
		login_failed(r, LOGIN_STORE_ERROR);
		resp_store_failed(out, rc);
		return;
	}
	if (rc != STORE_OK) {
		password_verify_dummy(password);
		refuse_login(r, out, k, a->name, "no password");
		return;
	}
	ok = password_verify(hash, password);
	free(hash);
	if (!ok || !a->is_active) {
		refuse_login(r, out, k, a->name, ok ? "inactive" : "wrong password");
		return;
	}
	grant_login(r, out, a, k);
}

/*
 * The account, read on the shared connection. A login holds that for tens of
 * microseconds; a holder that keeps it for milliseconds is waiting for
 * another connection's write (a sync, an admin's change), and a read need not
 * wait for that: after 2 ms it runs on the thread's own connection.
 */
static int account_for_login(const char *name, struct account *a)
{
	bool shared = store_shared_begin(2000);
	int rc = store_account_get(name, a);

	if (shared)
		store_shared_end();
	return rc;
}

void api_login(struct req *r, struct resp *out)
{
	const char *username, *password;
	struct login_keys k;
	struct ldap_config *cfg;
	struct account a;
	char *name;
	int found;

	if (form_check(r->body, form_login, out) != 0)
		return;
	password = form_string(r->body, "password", "");
	username = form_string(r->body, "username", "");
	/* refused before any lookup or hash, as SPEC §3 and LDAP's unauthenticated bind demand */
	if (is_blank(password)) {
		login_failed(r, LOGIN_BLANK_PASSWORD);
		resp_refuse(out, "password", "password: must not be empty");
		return;
	}
	if (is_blank(username)) {
		login_failed(r, LOGIN_BLANK_USERNAME);
		resp_refuse(out, "username", "username: must not be empty");
		return;
	}
	/* a name the rules refuse is no account's: it fails as an unknown user does */
	name = ls_name_normalize(username, strlen(username), NULL);
	snprintf(k.user, sizeof(k.user), "user:%s", name ? name : username);
	snprintf(k.ip, sizeof(k.ip), "ip:%s", r->client);
	if (check_throttle(r, out, &k) != 0)
		goto done;
	found = name ? account_for_login(name, &a) : STORE_NOT_FOUND;
	cfg = ldap_config_get(r->srv);
	if (found < 0) {
		login_failed(r, LOGIN_STORE_ERROR);
		resp_store_failed(out, found);
	} else if (cfg == NULL) {
		/* the LDAP settings could not be read from the store, or memory ran out */
		login_failed(r, LOGIN_STORE_ERROR);
		resp_internal(out);
	} else if (found == STORE_OK && !a.is_org && a.is_imported && a.ldap_missing) {
		/* gone from the directory at the last sync (SPEC §6.5) */
		refuse_login(r, out, &k, a.name, "missing from the directory");
	} else if (found == STORE_OK && !a.is_org && a.is_imported) {
		login_ldap(r, out, cfg, &a, a.name, password, &k);
	} else if (found == STORE_OK && !a.is_org) {
		login_managed(r, out, &a, password, &k);
	} else if (found == STORE_NOT_FOUND && name != NULL && cfg->backend_ldap) {
		login_ldap(r, out, cfg, NULL, name, password, &k);
	} else {
		password_verify_dummy(password);
		refuse_login(r, out, &k, name ? name : "", "unknown user");
	}
	ldap_config_put(cfg);
done:
	free(name);
}

void api_logout(struct req *r, struct resp *out)
{
	int rc = store_session_delete(r->token_hash);

	/* the row is still there (a full disk): the next request reads it back, so say so */
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv,
			 &(struct change){.what = CHANGE_SESSIONS, .session = r->token_hash});
	audit_log(r->srv->audit, "logout", r->who.name, r->client, NULL);
	out->status = 204;
}
