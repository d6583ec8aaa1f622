/*
 * Integration tests of authd's API, the auth suite: each test case starts a
 * real authd in a private data dir and drives it over verified HTTPS.
 * - ping, GET /ca and the TLS verification the other suites rely on (SPEC §1, §3);
 * - login, refusals that look alike, blank passwords, logout, bad tokens, the
 *   private collection made again at login (SPEC §3);
 * - secrets: no password or token in the audit log, the server's log or the
 *   database, no hash in any answer (SPEC §3, DESIGN "Secrets");
 * - login throttling: lockout and recovery, per user, per address (SPEC §3);
 * - the session settings of /enzi/v0/config/auth: the config file's defaults,
 *   changes, refusals and the per-user limit (README, "Sessions"; the
 *   lifetime and the renewal threshold against a moving clock, and a restart,
 *   are in test_faults.c).
 */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_fixtures.h"

/* The throttle's own server: small limits, so that a test reaches them quickly. */
static const char throttle_config[] =
    "{\"loginThrottle\":{\"maxFailures\":3,\"windowSeconds\":60,\"lockoutSeconds\":2}}";

static void setup_throttle(void)
{
	start_server(throttle_config, ADMIN_PW);
}

/* The session settings' own server: defaults from its config file's session keys. */
static const char sessions_config[] =
    "{\"session\":{\"idleMinutes\":45,\"absoluteMinutes\":600,\"renewalThresholdMinutes\":15},"
    "\"loginThrottle\":{\"maxFailures\":200,\"windowSeconds\":60,\"lockoutSeconds\":1}}";

static void setup_sessions(void)
{
	start_server(sessions_config, ADMIN_PW);
}

/* ---- ping, CA, login, logout, tokens (SPEC §1, §3) ---- */

static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
	(void)data;
	(void)ctx;
	return size * n;
}

/* GET /_ping as https://host:port, host pinned to 127.0.0.1, trusting only cafile. */
static CURLcode ping_as(const char *host, const char *cafile)
{
	CURL *c = curl_easy_init();
	struct curl_slist *resolve;
	CURLcode rc;

	ck_assert_ptr_nonnull(c);
	resolve = curl_slist_append(NULL, fmt("%s:%d:127.0.0.1", host, srv->port));
	curl_easy_setopt(c, CURLOPT_URL, fmt("https://%s:%d/_ping", host, srv->port));
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	curl_slist_free_all(resolve);
	return rc;
}

/* The harness's verification is real: the SANs match, and another trust store fails. */
START_TEST(test_tls_verification)
{
	const char *system_store = "/etc/ssl/certs/ca-certificates.crt";

	ck_assert_int_eq(ping_as("localhost", srv->cainfo), CURLE_OK);
	ck_assert_int_eq(ping_as("127.0.0.1", srv->cainfo), CURLE_OK);
	ck_assert_int_eq(ping_as("authd.invalid", srv->cainfo), CURLE_PEER_FAILED_VERIFICATION);
	if (access(system_store, R_OK) == 0)
		ck_assert_int_eq(ping_as("localhost", system_store),
				 CURLE_PEER_FAILED_VERIFICATION);
}
END_TEST

START_TEST(test_ping_and_ca)
{
	size_t len = 0;
	char *ca = it_read_file(srv->cainfo, &len);
	struct reply *r;

	keep(ca);
	ck_assert_msg(ca != NULL && len > 0, "no CA file at %s", srv->cainfo);
	expect_alive();
	expect_status(call("HEAD", NULL, NULL, "/_ping"), 200);
	r = call("GET", NULL, NULL, "/ca");
	expect_status(r, 200);
	ck_assert_msg(strncmp(r->body, "-----BEGIN CERTIFICATE-----", 27) == 0,
		      "GET /ca is not PEM: %.100s", r->body);
	ck_assert_msg(strstr(r->body, ca) != NULL, "GET /ca does not hold the cluster CA");
}
END_TEST

START_TEST(test_login_success)
{
	struct reply *r = try_login("admin", ADMIN_PW);
	const char *token = jstr(r->json, "auth_token");

	expect_status(r, 200);
	ck_assert_msg(token != NULL && strlen(token) >= 32, "short or absent token: %s", r->body);
	ck_assert_str_eq(jstr(r->json, "account.name"), "admin");
	ck_assert_int_eq(jbool(r->json, "account.isAdmin"), 1);
	ck_assert_int_eq(jbool(r->json, "account.isOrg"), 0);
	ck_assert_ptr_null(jpath(r->json, "account.password"));
	/* names are stored lowercase, so a login in another case is the same account */
	expect_status(try_login("ADMIN", ADMIN_PW), 200);
	/* the token works */
	expect_status(call("GET", token, NULL, ACCOUNTS "/admin"), 200);
}
END_TEST

START_TEST(test_login_refusals_look_alike)
{
	struct reply *wrong, *unknown, *inactive;

	create_user("lf-user");
	create_account("lf-inactive", false, false, false);
	wrong = try_login("lf-user", "Not-The-Passw0rd");
	unknown = try_login("lf-nobody", USER_PW);
	inactive = try_login("lf-inactive", USER_PW);
	expect_error(wrong, 401, "UNAUTHORIZED", NULL);
	expect_error(unknown, 401, "UNAUTHORIZED", NULL);
	expect_error(inactive, 401, "UNAUTHORIZED", NULL);
	/* SPEC §3: the three must not be told apart; nor an org, which has no password */
	ck_assert_str_eq(wrong->body, unknown->body);
	ck_assert_str_eq(wrong->body, inactive->body);
	create_org("lf-org");
	ck_assert_str_eq(try_login("lf-org", USER_PW)->body, wrong->body);
	login_as("lf-user", USER_PW);
}
END_TEST

START_TEST(test_login_blank_password)
{
	static const char *const blanks[] = {"", " ", "   \t ", "\n"};

	create_user("lb-user");
	for (size_t i = 0; i < sizeof(blanks) / sizeof(blanks[0]); i++)
		expect_error(try_login("lb-user", blanks[i]), 400, "INVALID_FORM", "password");
	/* refused before anything else: even for an unknown user */
	expect_error(try_login("lb-nobody", ""), 400, "INVALID_FORM", "password");
	expect_error(call("POST", NULL, jbody("{s:s}", "username", "lb-user"), "/auth/login"), 400,
		     "INVALID_FORM", "password");
	expect_error(call("POST", NULL, jbody("{s:s}", "password", USER_PW), "/auth/login"), 400,
		     "INVALID_FORM", "username");
	expect_error(try_login("  ", USER_PW), 400, "INVALID_FORM", "username");
	login_as("lb-user", USER_PW);
}
END_TEST

START_TEST(test_logout)
{
	const char *token;
	struct reply *r;

	create_user("lo-user");
	token = login_as("lo-user", USER_PW);
	expect_status(call("GET", token, NULL, ACCOUNTS "/lo-user"), 200);
	r = call("POST", token, NULL, "/auth/logout");
	expect_status(r, 204);
	ck_assert_uint_eq(r->len, 0);
	expect_error(call("GET", token, NULL, ACCOUNTS "/lo-user"), 401, "UNAUTHORIZED", NULL);
	expect_error(call("POST", token, NULL, "/auth/logout"), 401, "UNAUTHORIZED", NULL);
	/* another session of the same user is not touched */
	token = login_as("lo-user", USER_PW);
	expect_status(call("GET", token, NULL, ACCOUNTS "/lo-user"), 200);
}
END_TEST

/*
 * Logins skip the store when the authorization snapshot shows the private
 * collection; one deleted since must still be made again at the next login.
 */
START_TEST(test_private_collection_remade_at_login)
{
	const char *path = "/collectionByPath?path=/Shared/Private/pc-user";
	struct reply *r;

	create_user("pc-user");
	login_as("pc-user", USER_PW);
	r = call("GET", admin, NULL, path);
	expect_status(r, 200);
	expect_status(call("DELETE", admin, NULL, fmt("/collections/%s", jstr(r->json, "id"))),
		      204);
	expect_error(call("GET", admin, NULL, path), 404, "NOT_FOUND", NULL);
	login_as("pc-user", USER_PW);
	expect_status(call("GET", admin, NULL, path), 200);
}
END_TEST

START_TEST(test_bad_tokens)
{
	static const char *const basic[] = {"Authorization: Basic YWRtaW46eA==", NULL};
	const char *never = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct reply *r;

	r = call("GET", NULL, NULL, ACCOUNTS "/admin");
	expect_error(r, 401, "UNAUTHORIZED", NULL);
	ck_assert_msg(header(r, "WWW-Authenticate") != NULL, "401 without WWW-Authenticate");
	ck_assert_msg(strncmp(header(r, "WWW-Authenticate"), "Bearer", 6) == 0,
		      "WWW-Authenticate: %s", header(r, "WWW-Authenticate"));
	r = call("GET", never, NULL, ACCOUNTS "/admin");
	expect_error(r, 401, "UNAUTHORIZED", NULL);
	ck_assert_msg(header(r, "WWW-Authenticate") != NULL, "401 without WWW-Authenticate");
	expect_error(call("GET", "", NULL, ACCOUNTS "/admin"), 401, "UNAUTHORIZED", NULL);
	expect_error(call_h("GET", NULL, NULL, basic, ACCOUNTS "/admin"), 401, "UNAUTHORIZED",
		     NULL);
	/* a real token with one character changed */
	r = call("GET",
		 fmt("%.*s%c", (int)strlen(admin) - 1, admin,
		     admin[strlen(admin) - 1] == 'A' ? 'B' : 'A'),
		 NULL, ACCOUNTS "/admin");
	expect_error(r, 401, "UNAUTHORIZED", NULL);
	expect_error(call("POST", NULL, NULL, "/auth/logout"), 401, "UNAUTHORIZED", NULL);
}
END_TEST

/* ---- secrets (SPEC §3, DESIGN "Secrets") ---- */

#define AUDIT_PW "Audit-Secret-Pw-1"
#define AUDIT_WRONG_PW "Audit-Wrong-Pw-2"

/*
 * Finds a line of the audit log with this event about this user. A success
 * names the user as the actor; a failure has no actor, only the name tried.
 */
static bool audit_has(json_t *lines, const char *event, const char *username)
{
	size_t i;
	json_t *l;

	json_array_foreach(lines, i, l)
	{
		const char *e = jstr(l, "event"), *u = jstr(l, "username"), *a = jstr(l, "actor");

		if (e == NULL || strcmp(e, event) != 0)
			continue;
		if ((u && strcmp(u, username) == 0) || (a && strcmp(a, username) == 0))
			return true;
	}
	return false;
}

static json_t *read_audit(void)
{
	char *text = it_read_file(fmt("%s/audit.log", srv->dir), NULL);
	json_t *lines = json_array();
	char *save = NULL;

	ck_assert_msg(text != NULL, "no audit.log in %s", srv->dir);
	keep(text);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);

		ck_assert_msg(json_is_object(o), "audit line is not a JSON object: %s", line);
		json_array_append_new(lines, o);
	}
	return lines;
}

START_TEST(test_audit_log_keeps_no_passwords)
{
	static const char *const secrets[] = {AUDIT_PW, AUDIT_WRONG_PW, ADMIN_PW};
	const char *token;
	json_t *lines;

	expect_status(call("POST", admin,
			   jbody("{s:s, s:s}", "name", "au-user", "password", AUDIT_PW), ACCOUNTS),
		      201);
	token = login_as("au-user", AUDIT_PW);
	expect_error(try_login("au-user", AUDIT_WRONG_PW), 401, "UNAUTHORIZED", NULL);
	expect_error(try_login("au-nobody", AUDIT_PW), 401, "UNAUTHORIZED", NULL);
	expect_status(
	    call("POST", admin, change_pw(NULL, NEW_PW), ACCOUNTS "/au-user/changePassword"), 200);
	lines = read_audit();
	ck_assert_msg(audit_has(lines, "login.success", "au-user"), "no login.success line");
	ck_assert_msg(audit_has(lines, "login.failure", "au-user"), "no login.failure line");
	ck_assert_msg(audit_has(lines, "login.failure", "au-nobody"), "no unknown-user line");
	json_decref(lines);
	/* no password or token in clear in the audit log, the server's log, or the database */
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		ck_assert_msg(!file_holds(fmt("%s/audit.log", srv->dir), secrets[i]),
			      "audit.log holds a password");
		ck_assert_msg(!file_holds(srv->log, secrets[i]), "the server log holds a password");
		ck_assert_msg(!file_holds(fmt("%s/authd.db", srv->dir), secrets[i]),
			      "authd.db holds a password");
		ck_assert_msg(!file_holds(fmt("%s/authd.db-wal", srv->dir), secrets[i]),
			      "authd.db-wal holds a password");
		ck_assert_msg(!srv->dsn[0] || strstr(store_text(srv), secrets[i]) == NULL,
			      "the store on PostgreSQL holds a password");
	}
	ck_assert_msg(!file_holds(fmt("%s/audit.log", srv->dir), token), "audit.log holds a token");
	ck_assert_msg(!file_holds(fmt("%s/authd.db", srv->dir), token), "authd.db holds a token");
	ck_assert_msg(!file_holds(fmt("%s/authd.db-wal", srv->dir), token),
		      "authd.db-wal holds a token");
	ck_assert_msg(!file_holds(srv->log, token), "the server log holds a token");
}
END_TEST

/* True when any key anywhere in v names a password or a hash. */
static bool has_secret_key(json_t *v)
{
	const char *key;
	json_t *child;
	size_t i;

	json_array_foreach(v, i, child)
	{
		if (has_secret_key(child))
			return true;
	}
	json_object_foreach(v, key, child)
	{
		if (strcasestr(key, "password") != NULL || strcasestr(key, "hash") != NULL ||
		    has_secret_key(child))
			return true;
	}
	return false;
}

START_TEST(test_answers_hold_no_hashes)
{
	struct reply *r;

	create_user("nh-user");
	create_org("nh-org");
	expect_status(call("PUT", admin, "{}", ACCOUNTS "/nh-org/members/nh-user"), 200);
	/* call() refuses any answer holding "$argon2"; here no key may even name one */
	r = try_login("nh-user", USER_PW);
	ck_assert_msg(!has_secret_key(r->json), "login answer: %s", r->body);
	r = call("GET", admin, NULL, ACCOUNTS "?filter=all&limit=1000");
	ck_assert_msg(!has_secret_key(r->json), "account list: %s", r->body);
	r = call("GET", admin, NULL, ACCOUNTS "/nh-user");
	ck_assert_msg(!has_secret_key(r->json), "account: %s", r->body);
	r = call("GET", admin, NULL, ACCOUNTS "/nh-org/members");
	ck_assert_msg(!has_secret_key(r->json), "members: %s", r->body);
	r = call("POST", admin, change_pw(NULL, NEW_PW), ACCOUNTS "/nh-user/changePassword");
	ck_assert_msg(!has_secret_key(r->json), "changePassword: %s", r->body);
	r = call("PATCH", admin, jbody("{s:s}", "fullName", "N H"), ACCOUNTS "/nh-user");
	ck_assert_msg(!has_secret_key(r->json), "patch: %s", r->body);
}
END_TEST

/* ---- login throttling, on a server with maxFailures 3 and a 2 s lockout (SPEC §3) ---- */

/* Waits out a lockout announced by a 429's Retry-After. */
static void wait_retry_after(const struct reply *r)
{
	const char *after = header(r, "Retry-After");
	int seconds;

	ck_assert_msg(after != NULL, "%s: 429 without Retry-After", r->what);
	seconds = atoi(after);
	ck_assert_msg(seconds >= 1 && seconds <= 2, "Retry-After: %s (lockout is 2 s)", after);
	sleep((unsigned)seconds + 1);
}

/* Fails logins for `name` until a 429 comes; that reply. */
static struct reply *fail_until_locked(const char *name, int max_attempts)
{
	for (int i = 0; i < max_attempts; i++) {
		struct reply *r = try_login(name, "Wrong-Passw0rd-T");

		if (r->status == 429) {
			expect_error(r, 429, "TOO_MANY_REQUESTS", NULL);
			return r;
		}
		expect_error(r, 401, "UNAUTHORIZED", NULL);
	}
	ck_abort_msg("no 429 after %d failed logins for %s", max_attempts, name);
	return NULL;
}

/* Waits until the address is not locked out (a 429 is not a failure, so this costs nothing). */
static void wait_unlocked(void)
{
	for (int i = 0; i < 40; i++) {
		struct reply *r = try_login("admin", ADMIN_PW);

		if (r->status != 429) {
			expect_status(r, 200);
			return;
		}
		usleep(100 * 1000);
	}
	ck_abort_msg("still locked out after 4 s");
}

START_TEST(test_blank_passwords_not_counted)
{
	wait_unlocked();
	create_user("th-blank");
	for (int i = 0; i < 6; i++)
		expect_error(try_login("th-blank", i % 2 ? "" : "  "), 400, "INVALID_FORM",
			     "password");
	login_as("th-blank", USER_PW);
}
END_TEST

START_TEST(test_lockout_and_recovery)
{
	struct reply *r;

	wait_unlocked();
	create_user("th-user");
	/* maxFailures is 3: the fourth attempt at the latest is refused */
	r = fail_until_locked("th-user", 4);
	/* while locked, even the right password is refused */
	expect_error(try_login("th-user", USER_PW), 429, "TOO_MANY_REQUESTS", NULL);
	wait_retry_after(r);
	login_as("th-user", USER_PW);
	/* a success clears the count: two more failures do not lock */
	expect_error(try_login("th-user", "Wrong-Passw0rd-T"), 401, "UNAUTHORIZED", NULL);
	expect_error(try_login("th-user", "Wrong-Passw0rd-T"), 401, "UNAUTHORIZED", NULL);
	login_as("th-user", USER_PW);
}
END_TEST

/*
 * A client address may fail IP_FAILURE_FACTOR (4) times as often as one
 * username (api_auth.c), so one user's lockout must not lock out another
 * user who logs in from the same address.
 */
START_TEST(test_lockout_is_per_user)
{
	struct reply *r, *b;

	wait_unlocked();
	create_user("th-a");
	create_user("th-b");
	r = fail_until_locked("th-a", 4);
	b = try_login("th-b", USER_PW);
	/* waited out before judging, so that a failure here leaves no lockout behind */
	wait_retry_after(r);
	expect_status(b, 200);
}
END_TEST

START_TEST(test_address_spray_locked)
{
	struct reply *r = NULL;

	wait_unlocked();
	/* many usernames, one address: the address is locked out in the end (4 x 3 failures) */
	for (int i = 0; i < 20 && (r == NULL || r->status != 429); i++)
		r = try_login(fmt("th-spray-%d", i), "Wrong-Passw0rd-T");
	expect_error(r, 429, "TOO_MANY_REQUESTS", NULL);
	wait_retry_after(r);
	login_as("admin", ADMIN_PW);
}
END_TEST

/* ---- session settings (README, "Sessions") ---- */

#define AUTH_CONFIG "/enzi/v0/config/auth"

/* Asserts the session settings an answer of GET or PUT /enzi/v0/config/auth shows. */
static void expect_sessions_at(int line, const struct reply *r, long long lifetime,
			       long long threshold, long long limit)
{
	ck_assert_msg(r->status == 200, "line %d: %s answered %ld: %s", line, r->what, r->status,
		      r->body);
	ck_assert_msg(jint(r->json, "sessions.lifetimeMinutes", -1) == lifetime &&
			  jint(r->json, "sessions.renewalThresholdMinutes", -1) == threshold &&
			  jint(r->json, "sessions.perUserLimit", -1) == limit,
		      "line %d: %s: sessions should be %lld/%lld/%lld: %s", line, r->what, lifetime,
		      threshold, limit, r->body);
	ck_assert_msg(json_object_size(jpath(r->json, "sessions")) == 3,
		      "line %d: sessions holds other keys: %s", line, r->body);
}
#define expect_sessions(r, lifetime, threshold, limit)                                             \
	expect_sessions_at(__LINE__, r, lifetime, threshold, limit)

static struct reply *put_auth_config(const char *body)
{
	return call("PUT", admin, body, AUTH_CONFIG);
}

START_TEST(test_session_settings_defaults_and_changes)
{
	struct reply *r = call("GET", admin, NULL, AUTH_CONFIG);

	/* idleMinutes is the lifetime; the other two are the config's keys of the same names */
	expect_sessions(r, 45, 15, 0);
	ck_assert_str_eq(jstr(r->json, "backend"), "managed");
	expect_sessions(
	    put_auth_config("{\"sessions\":{\"lifetimeMinutes\":30,\"perUserLimit\":5}}"), 30, 15,
	    5);
	expect_sessions(call("GET", admin, NULL, AUTH_CONFIG), 30, 15, 5);
	/* a PUT without sessions, or with an empty one, leaves them as they are */
	expect_sessions(put_auth_config("{\"backend\":\"managed\"}"), 30, 15, 5);
	expect_sessions(put_auth_config("{\"sessions\":{}}"), 30, 15, 5);
	expect_sessions(put_auth_config("{}"), 30, 15, 5);
	/* a threshold left above a lowered lifetime comes down with it */
	expect_sessions(put_auth_config("{\"sessions\":{\"lifetimeMinutes\":10}}"), 10, 10, 5);
	expect_sessions(
	    put_auth_config("{\"sessions\":{\"lifetimeMinutes\":600,\"renewalThresholdMinutes\":0,"
			    "\"perUserLimit\":1000}}"),
	    600, 0, 1000);
	expect_sessions(
	    put_auth_config("{\"sessions\":{\"lifetimeMinutes\":20,\"renewalThresholdMinutes\":"
			    "20,\"perUserLimit\":0}}"),
	    20, 20, 0);
	/* the shape GET answers is one PUT takes back */
	r = call("GET", admin, NULL, AUTH_CONFIG);
	expect_sessions(put_auth_config(r->body), 20, 20, 0);
	expect_sessions(
	    put_auth_config("{\"sessions\":{\"lifetimeMinutes\":45,\"renewalThresholdMinutes\":"
			    "15,\"perUserLimit\":0}}"),
	    45, 15, 0);
}
END_TEST

START_TEST(test_session_settings_refused)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
	    {"{\"sessions\":5}", "sessions"},
	    {"{\"sessions\":null}", "sessions"},
	    {"{\"sessions\":[30]}", "sessions"},
	    {"{\"lifetimeMinutes\":30}", "lifetimeMinutes"},
	    {"{\"sessions\":{\"idleMinutes\":30}}", "sessions.idleMinutes"},
	    {"{\"sessions\":{\"lifetimeMinutes\":\"30\"}}", "sessions.lifetimeMinutes"},
	    {"{\"sessions\":{\"lifetimeMinutes\":30.5}}", "sessions.lifetimeMinutes"},
	    {"{\"sessions\":{\"lifetimeMinutes\":null}}", "sessions.lifetimeMinutes"},
	    {"{\"sessions\":{\"lifetimeMinutes\":0}}", "sessions.lifetimeMinutes"},
	    {"{\"sessions\":{\"lifetimeMinutes\":601}}", "sessions.lifetimeMinutes"},
	    {"{\"sessions\":{\"lifetimeMinutes\":4294967341}}", "sessions.lifetimeMinutes"},
	    {"{\"sessions\":{\"renewalThresholdMinutes\":-1}}", "sessions.renewalThresholdMinutes"},
	    {"{\"sessions\":{\"renewalThresholdMinutes\":46}}", "sessions.renewalThresholdMinutes"},
	    {"{\"sessions\":{\"lifetimeMinutes\":5,\"renewalThresholdMinutes\":6}}",
	     "sessions.renewalThresholdMinutes"},
	    {"{\"sessions\":{\"perUserLimit\":true}}", "sessions.perUserLimit"},
	    {"{\"sessions\":{\"perUserLimit\":-1}}", "sessions.perUserLimit"},
	    {"{\"sessions\":{\"perUserLimit\":1001}}", "sessions.perUserLimit"},
	    /* nothing of a refused PUT is kept, the parts that would pass included */
	    {"{\"backend\":\"ldap\",\"sessions\":{\"perUserLimit\":1,\"lifetimeMinutes\":0}}",
	     "sessions.lifetimeMinutes"},
	};
	const char *user = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct reply *r = put_auth_config(bad[i].body);

		expect_error(r, 400, "INVALID_FORM", bad[i].field);
		ck_assert_msg(strncmp(jstr(r->json, "errors.0.message"), bad[i].field,
				      strlen(bad[i].field)) == 0,
			      "%s: the message does not start with %s: %s", bad[i].body,
			      bad[i].field, r->body);
	}
	expect_sessions(call("GET", admin, NULL, AUTH_CONFIG), 45, 15, 0);
	ck_assert_str_eq(jstr(call("GET", admin, NULL, AUTH_CONFIG)->json, "backend"), "managed");
	/* admins only */
	create_user("ss-user");
	user = login_as("ss-user", USER_PW);
	expect_error(call("GET", user, NULL, AUTH_CONFIG), 403, "FORBIDDEN", NULL);
	expect_error(call("PUT", user, "{\"sessions\":{\"perUserLimit\":1}}", AUTH_CONFIG), 403,
		     "FORBIDDEN", NULL);
	expect_sessions(call("GET", admin, NULL, AUTH_CONFIG), 45, 15, 0);
}
END_TEST

/* Whether each token is honoured (1) or refused with 401 (0), as `want` says. */
static void expect_tokens_at(int line, const char *const *tokens, const int *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct reply *r = call("GET", tokens[i], NULL, ACCOUNTS "/sl-user");
		long status = want[i] ? 200 : 401;

		ck_assert_msg(r->status == status,
			      "line %d: token %zu was answered %ld, not %ld: %s", line, i + 1,
			      r->status, status, r->body);
	}
}
#define expect_tokens(tokens, ...)                                                                 \
	expect_tokens_at(__LINE__, tokens, (const int[]){__VA_ARGS__},                             \
			 sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

/* Logs sl-user in a second after its last login, so that no two of its logins share a second. */
static const char *next_login(void)
{
	it_sleep_ms(1100);
	return login_as("sl-user", USER_PW);
}

START_TEST(test_session_limit_ends_the_oldest)
{
	const char *t[6];

	create_user("sl-user");
	expect_sessions(put_auth_config("{\"sessions\":{\"perUserLimit\":2}}"), 45, 15, 2);
	t[0] = login_as("sl-user", USER_PW);
	t[1] = next_login();
	expect_tokens(t, 1, 1);
	/* the third ends the first, the oldest */
	t[2] = next_login();
	expect_tokens(t, 0, 1, 1);
	/* a used session is no younger: the next login ends the second */
	expect_status(call("GET", t[1], NULL, ACCOUNTS "/sl-user"), 200);
	t[3] = next_login();
	expect_tokens(t, 0, 0, 1, 1);
	/* a lowered limit ends nothing by itself, only at the next login, all past it at once */
	expect_sessions(put_auth_config("{\"sessions\":{\"perUserLimit\":1}}"), 45, 15, 1);
	expect_tokens(t, 0, 0, 1, 1);
	t[4] = next_login();
	expect_tokens(t, 0, 0, 0, 0, 1);
	/* another user's sessions do not count: the admin's token works throughout */
	expect_status(call("GET", admin, NULL, ACCOUNTS "/admin"), 200);
	/* no limit: every session stays */
	expect_sessions(put_auth_config("{\"sessions\":{\"perUserLimit\":0}}"), 45, 15, 0);
	t[5] = login_as("sl-user", USER_PW);
	expect_tokens(t, 0, 0, 0, 0, 1, 1);
	for (int i = 0; i < 3; i++)
		login_as("sl-user", USER_PW);
	expect_tokens(t, 0, 0, 0, 0, 1, 1);
}
END_TEST

/* ---- suites ---- */

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = server_case("login", setup_main, teardown_server, TEST_TIMEOUT);

	tcase_add_test(tc, test_ping_and_ca);
	tcase_add_test(tc, test_tls_verification);
	tcase_add_test(tc, test_login_success);
	tcase_add_test(tc, test_login_refusals_look_alike);
	tcase_add_test(tc, test_login_blank_password);
	tcase_add_test(tc, test_logout);
	tcase_add_test(tc, test_private_collection_remade_at_login);
	tcase_add_test(tc, test_bad_tokens);
	suite_add_tcase(s, tc);
	tc = server_case("throttle", setup_throttle, teardown_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_blank_passwords_not_counted);
	tcase_add_test(tc, test_lockout_and_recovery);
	tcase_add_test(tc, test_lockout_is_per_user);
	tcase_add_test(tc, test_address_spray_locked);
	suite_add_tcase(s, tc);
	tc = server_case("sessions", setup_sessions, teardown_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_session_settings_defaults_and_changes);
	tcase_add_test(tc, test_session_settings_refused);
	tcase_add_test(tc, test_session_limit_ends_the_oldest);
	suite_add_tcase(s, tc);
	tc = server_case("secrets", setup_main, teardown_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_audit_log_keeps_no_passwords);
	tcase_add_test(tc, test_answers_hold_no_hashes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_api_suite(auth_suite);
}
