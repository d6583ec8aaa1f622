/*
 * Integration tests of authd's HTTP API (SPEC §1–4). Each test case starts a
 * real server in a private data dir and drives it over verified HTTPS; the
 * checks look at answers, at stored state, at files in the data dir and at
 * how the process exits.
 */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"
#include "harness.h"

#define ADMIN_PW "Admin-Passw0rd-IT"
#define USER_PW "User-Passw0rd-IT"
#define ACCOUNTS "/enzi/v0/accounts"
#define MIB (1024 * 1024)
#define TEST_TIMEOUT 120

/*
 * The shared servers get a throttle far above what the tests fail on
 * purpose, so that those failures never lock out a later login; the
 * throttle itself is tested on its own server with small limits.
 */
static const char main_config[] =
    "{\"loginThrottle\":{\"maxFailures\":200,\"windowSeconds\":60,\"lockoutSeconds\":1}}";
static const char throttle_config[] =
    "{\"loginThrottle\":{\"maxFailures\":3,\"windowSeconds\":60,\"lockoutSeconds\":2}}";

/* ---- requests and what every answer must satisfy ---- */

static struct reply *call_h(const char *method, const char *token, const char *body,
			    const char *const *headers, const char *path)
{
	struct reply *r = call_with(srv, method, path, token, body, headers);

	/* SPEC §4: never a password hash in an answer */
	ck_assert_msg(strstr(r->body, "$argon2") == NULL, "%s: the answer holds a password hash",
		      r->what);
	return r;
}

static struct reply *call(const char *method, const char *token, const char *body, const char *path)
{
	return call_h(method, token, body, NULL, path);
}

/* ---- accounts ---- */

static json_t *create_account(const char *name, bool is_org, bool is_admin, bool is_active)
{
	const char *body =
	    is_org ? jbody("{s:s, s:b}", "name", name, "isOrg", 1)
		   : jbody("{s:s, s:s, s:b, s:b, s:s}", "name", name, "password", USER_PW,
			   "isAdmin", is_admin, "isActive", is_active, "fullName", "Test User");
	struct reply *r = call("POST", admin, body, ACCOUNTS);

	expect_status(r, 201);
	return r->json;
}

static json_t *create_user(const char *name)
{
	return create_account(name, false, false, true);
}

static json_t *create_org(const char *name)
{
	return create_account(name, true, false, true);
}

static const char *login_as(const char *name, const char *password)
{
	struct reply *r =
	    call("POST", NULL, jbody("{s:s, s:s}", "username", name, "password", password),
		 "/auth/login");

	expect_status(r, 200);
	ck_assert_msg(jstr(r->json, "auth_token") != NULL, "login without auth_token");
	return jstr(r->json, "auth_token");
}

static struct reply *try_login(const char *name, const char *password)
{
	return call("POST", NULL, jbody("{s:s, s:s}", "username", name, "password", password),
		    "/auth/login");
}

static json_t *get_account(const char *name)
{
	struct reply *r = call("GET", admin, NULL, fmt(ACCOUNTS "/%s", name));

	expect_status(r, 200);
	return r->json;
}

static void expect_absent(const char *name)
{
	expect_error(call("GET", admin, NULL, fmt(ACCOUNTS "/%s", name)), 404, "NOT_FOUND", NULL);
}

static long long account_total(void)
{
	struct reply *r = call("GET", admin, NULL, ACCOUNTS "?limit=1");

	expect_status(r, 200);
	return jint(r->json, "usersCount", -1000) + jint(r->json, "orgsCount", -1000);
}

static void expect_alive(void)
{
	struct reply *r = call("GET", NULL, NULL, "/_ping");

	expect_status(r, 200);
	ck_assert_str_eq(r->body, "OK");
}

/* Whether a list's array (accounts, members, ...) holds an item whose `key` is `name`. */
static bool list_has(json_t *list, const char *key, const char *name)
{
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		const char *n = jstr(item, key);

		if (n != NULL && strcmp(n, name) == 0)
			return true;
	}
	return false;
}

static json_t *list_accounts(const char *filter)
{
	struct reply *r = call("GET", admin, NULL, fmt(ACCOUNTS "?filter=%s&limit=1000", filter));

	expect_status(r, 200);
	ck_assert_msg(json_is_array(jpath(r->json, "accounts")), "no accounts array: %s", r->body);
	return r->json;
}

/* ---- fixtures ---- */

static void setup_main(void)
{
	start_server(main_config, ADMIN_PW);
}

static void setup_throttle(void)
{
	start_server(throttle_config, ADMIN_PW);
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

/* ---- accounts: create, read, list (SPEC §4) ---- */

static void expect_account_shape(json_t *a, const char *name, bool is_org)
{
	static const char *const keys[] = {"id", "name", "fullName", "createdAt", "updatedAt"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(jstr(a, keys[i]) != NULL, "account without string %s", keys[i]);
	ck_assert_str_eq(jstr(a, "name"), name);
	ck_assert_int_eq(jbool(a, "isOrg"), is_org);
	ck_assert_int_ne(jbool(a, "isAdmin"), -1);
	ck_assert_int_ne(jbool(a, "isActive"), -1);
	ck_assert_int_eq(jbool(a, "isImported"), 0);
	ck_assert_ptr_null(jpath(a, "password"));
	ck_assert_ptr_null(jpath(a, "passwordHash"));
}

START_TEST(test_create_user_and_org)
{
	json_t *u = create_user("cr-user"), *o = create_org("cr-org");

	expect_account_shape(u, "cr-user", false);
	ck_assert_str_eq(jstr(u, "fullName"), "Test User");
	ck_assert_int_eq(jbool(u, "isAdmin"), 0);
	ck_assert_int_eq(jbool(u, "isActive"), 1);
	ck_assert_ptr_null(jpath(u, "membersCount"));
	expect_account_shape(o, "cr-org", true);
	ck_assert_int_eq(jint(o, "membersCount", -1), 0);
	ck_assert_int_eq(jint(o, "teamsCount", -1), 0);
	/* what was stored is what was answered */
	ck_assert_str_eq(jstr(get_account("cr-user"), "id"), jstr(u, "id"));
	ck_assert_int_eq(jint(get_account("cr-org"), "teamsCount", -1), 0);
	/* the new user can log in */
	login_as("cr-user", USER_PW);
}
END_TEST

START_TEST(test_create_refusals)
{
	long long before = account_total();

	/* users need a password, orgs must not have one, orgs are never admins */
	expect_error(call("POST", admin, jbody("{s:s}", "name", "cf-nopw"), ACCOUNTS), 400,
		     "INVALID_FORM", "password");
	expect_error(
	    call("POST", admin,
		 jbody("{s:s, s:b, s:s}", "name", "cf-org", "isOrg", 1, "password", USER_PW),
		 ACCOUNTS),
	    400, "INVALID_FORM", "password");
	expect_error(call("POST", admin,
			  jbody("{s:s, s:b, s:b}", "name", "cf-org2", "isOrg", 1, "isAdmin", 1),
			  ACCOUNTS),
		     400, "INVALID_FORM", "isAdmin");
	expect_error(call("POST", admin,
			  jbody("{s:s, s:s}", "name", "cf-short", "password", "short"), ACCOUNTS),
		     400, "INVALID_FORM", "password");
	expect_error(call("POST", admin, jbody("{s:b}", "isOrg", 1), ACCOUNTS), 400, "INVALID_FORM",
		     "name");
	ck_assert_int_eq(account_total(), before);
}
END_TEST

START_TEST(test_duplicate_names)
{
	json_t *a = create_account("DupName", false, false, true);
	long long before;

	ck_assert_str_eq(jstr(a, "name"), "dupname");
	before = account_total();
	expect_error(call("POST", admin,
			  jbody("{s:s, s:s}", "name", "dupname", "password", USER_PW), ACCOUNTS),
		     409, "CONFLICT", NULL);
	expect_error(
	    call("POST", admin, jbody("{s:s, s:b}", "name", "DUPNAME", "isOrg", 1), ACCOUNTS), 409,
	    "CONFLICT", NULL);
	ck_assert_int_eq(account_total(), before);
	/* the original is untouched */
	ck_assert_int_eq(jbool(get_account("dupname"), "isOrg"), 0);
	login_as("DupName", USER_PW);
}
END_TEST

START_TEST(test_get_by_name_and_id)
{
	json_t *u = create_user("gb-user");
	const char *id = jstr(u, "id");
	json_t *by_id = get_account(id);

	ck_assert_str_eq(jstr(by_id, "name"), "gb-user");
	ck_assert_str_eq(jstr(get_account("gb-user"), "id"), id);
	expect_absent("gb-nobody");
	expect_absent("00000000-0000-4000-8000-000000000000");
}
END_TEST

/* Whether an account belongs in a filter's answer, as SPEC §4 names them. */
static bool filter_wants(const char *filter, json_t *a)
{
	bool org = jbool(a, "isOrg") == 1, adm = jbool(a, "isAdmin") == 1;
	bool active = jbool(a, "isActive") == 1;

	if (strcmp(filter, "users") == 0)
		return !org;
	if (strcmp(filter, "orgs") == 0)
		return org;
	if (strcmp(filter, "admins") == 0)
		return adm;
	if (strcmp(filter, "non-admins") == 0)
		return !org && !adm;
	if (strcmp(filter, "active-users") == 0)
		return !org && active;
	if (strcmp(filter, "inactive-users") == 0)
		return !org && !active;
	return true;
}

START_TEST(test_list_filters)
{
	static const char *const filters[] = {
	    "users", "orgs", "admins", "non-admins", "active-users", "inactive-users", "all"};
	const char *mine[] = {"fl-user", "fl-admin", "fl-inactive", "fl-org"};
	json_t *all, *list, *a;
	long long users = 0, orgs = 0;
	size_t i;

	create_user("fl-user");
	create_account("fl-admin", false, true, true);
	create_account("fl-inactive", false, false, false);
	create_org("fl-org");
	all = list_accounts("all");
	json_array_foreach(jpath(all, "accounts"), i, a)
	{
		users += jbool(a, "isOrg") == 0;
		orgs += jbool(a, "isOrg") == 1;
	}
	ck_assert_int_eq(jint(all, "usersCount", -1), users);
	ck_assert_int_eq(jint(all, "orgsCount", -1), orgs);
	for (size_t m = 0; m < sizeof(mine) / sizeof(mine[0]); m++)
		ck_assert_msg(list_has(jpath(all, "accounts"), "name", mine[m]), "%s not listed",
			      mine[m]);
	for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++) {
		list = list_accounts(filters[f]);
		/* every item belongs, and every account that belongs is there */
		json_array_foreach(jpath(list, "accounts"), i, a)
		{
			ck_assert_msg(filter_wants(filters[f], a), "filter %s lists %s", filters[f],
				      jstr(a, "name"));
		}
		json_array_foreach(jpath(all, "accounts"), i, a)
		{
			ck_assert_msg(
			    !filter_wants(filters[f], a) ||
				list_has(jpath(list, "accounts"), "name", jstr(a, "name")),
			    "filter %s misses %s", filters[f], jstr(a, "name"));
		}
		ck_assert_int_eq(jint(list, "usersCount", -1), users);
		ck_assert_int_eq(jint(list, "orgsCount", -1), orgs);
	}
	/* no filter lists everything, ten at most by default */
	list = call("GET", admin, NULL, ACCOUNTS)->json;
	ck_assert_uint_eq(json_array_size(jpath(list, "accounts")),
			  users + orgs < 10 ? (size_t)(users + orgs) : 10);
}
END_TEST

START_TEST(test_list_unknown_filter)
{
	expect_error(call("GET", admin, NULL, ACCOUNTS "?filter=bogus"), 400, "INVALID_FORM",
		     "filter");
	expect_error(call("GET", admin, NULL, ACCOUNTS "?filter="), 400, "INVALID_FORM", "filter");
}
END_TEST

/* A query-string value, percent-encoded. */
static const char *escape(const char *value)
{
	char *e = curl_easy_escape(NULL, value, 0);
	const char *copy;

	ck_assert_ptr_nonnull(e);
	copy = keep(strdup(e));
	curl_free(e);
	return copy;
}

static bool plain_cursor(const char *s)
{
	return s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~")] ==
	       '\0';
}

/* Checks one page's headers against its nextPageStart. */
static void expect_page_headers(const struct reply *r, const char *next, int limit)
{
	const char *x = header(r, "X-Next-Page-Start"), *link = header(r, "Link");

	if (*next == '\0') {
		ck_assert_msg(x == NULL, "%s: X-Next-Page-Start on the last page", r->what);
		ck_assert_msg(link == NULL, "%s: Link on the last page", r->what);
		return;
	}
	ck_assert_msg(x != NULL, "%s: no X-Next-Page-Start", r->what);
	/* SPEC does not say how a cursor with reserved characters is spelled in the header */
	ck_assert_msg(!plain_cursor(next) || strcmp(x, next) == 0,
		      "%s: X-Next-Page-Start %s, nextPageStart %s", r->what, x, next);
	ck_assert_msg(link != NULL, "%s: no Link header", r->what);
	ck_assert_msg(strstr(link, "rel=\"next\"") != NULL, "Link: %s", link);
	ck_assert_msg(strstr(link, fmt("start=%s", escape(next))) != NULL, "Link: %s", link);
	ck_assert_msg(strstr(link, fmt("limit=%d", limit)) != NULL, "Link: %s", link);
}

/* The path of a Link header's <target>. */
static const char *link_target(const struct reply *r)
{
	const char *link = header(r, "Link"), *open, *close;

	ck_assert_msg(link != NULL, "%s: no Link header", r->what);
	open = strchr(link, '<');
	close = open ? strchr(open, '>') : NULL;
	ck_assert_msg(open && close, "%s: Link without <target>: %s", r->what, link);
	open++;
	if (strncmp(open, "https://", 8) == 0)
		open = strchr(open + 8, '/');
	ck_assert_msg(open != NULL && open < close, "Link: %s", link);
	return fmt("%.*s", (int)(close - open), open);
}

/*
 * Walks the whole account list two at a time, by nextPageStart or by
 * following the Link headers, appending each item to walked; the page count.
 */
static int walk_pages(bool by_link, json_t *walked)
{
	const char *path = ACCOUNTS "?filter=all&limit=2", *start = "";

	for (int pages = 1; pages < 1000; pages++) {
		struct reply *r = call("GET", admin, NULL, path);
		const char *next = jstr(r->json, "nextPageStart");
		json_t *page = jpath(r->json, "accounts"), *a;
		size_t i;

		expect_status(r, 200);
		ck_assert_msg(next != NULL, "%s: no nextPageStart", r->what);
		ck_assert_uint_ge(json_array_size(page), 1);
		ck_assert_uint_le(json_array_size(page), 2);
		json_array_foreach(page, i, a)
		{
			json_array_append(walked, a);
		}
		expect_page_headers(r, next, 2);
		if (*next == '\0')
			return pages;
		ck_assert_msg(strcmp(next, start) != 0, "paging does not advance at %s", start);
		start = next;
		path = by_link ? link_target(r)
			       : fmt(ACCOUNTS "?filter=all&limit=2&start=%s", escape(next));
	}
	ck_abort_msg("paging never ends");
	return 0;
}

START_TEST(test_list_paging)
{
	/* cursors are names, and names may hold characters that URLs reserve */
	static const char *const names[] = {"pg-0",  "pg-1",  "pg-2",	    "pg-a&b",
					    "pg-#1", "pg-%x", "pg-\xc3\xa9"};
	json_t *all, *walked, *a;
	size_t i;

	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
		create_org(names[n]);
	all = jpath(list_accounts("all"), "accounts");
	ck_assert_uint_ge(json_array_size(all), 8);
	for (int by_link = 0; by_link <= 1; by_link++) {
		int pages;

		walked = json_array();
		pages = walk_pages(by_link, walked);
		/* the pages together are the whole list, in order, without repeats */
		ck_assert_uint_eq(json_array_size(walked), json_array_size(all));
		json_array_foreach(all, i, a)
		{
			ck_assert_str_eq(jstr(json_array_get(walked, i), "name"), jstr(a, "name"));
		}
		json_decref(walked);
		ck_assert_int_eq(pages, (int)(json_array_size(all) + 1) / 2);
	}
}
END_TEST

START_TEST(test_list_bad_limits)
{
	static const char *const bad[] = {
	    "0", "1001", "abc", "-1", "", "2x", "99999999999999999999"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(call("GET", admin, NULL, fmt(ACCOUNTS "?limit=%s", bad[i])), 400,
			     "INVALID_FORM", "limit");
	expect_status(call("GET", admin, NULL, ACCOUNTS "?limit=1"), 200);
	expect_status(call("GET", admin, NULL, ACCOUNTS "?limit=1000"), 200);
}
END_TEST

START_TEST(test_accounts_alias)
{
	struct reply *r = call("GET", admin, NULL, "/accounts?filter=users&limit=1000");

	expect_status(r, 200);
	ck_assert(list_has(jpath(r->json, "accounts"), "name", "admin"));
	ck_assert_int_ge(jint(r->json, "usersCount", -1), 1);
	expect_status(call("GET", admin, NULL, "/accounts/admin"), 200);
	r = call("POST", admin, jbody("{s:s, s:b}", "name", "alias-org", "isOrg", 1), "/accounts");
	expect_status(r, 201);
	ck_assert_int_eq(jbool(get_account("alias-org"), "isOrg"), 1);
	expect_status(call("GET", admin, NULL, "/accounts/alias-org/teams"), 200);
	expect_status(call("DELETE", admin, NULL, "/accounts/alias-org"), 204);
	expect_absent("alias-org");
	/* only the accounts tree is aliased, and only as a whole segment */
	expect_error(call("GET", admin, NULL, "/accountsx"), 404, "NOT_FOUND", NULL);
	expect_error(call("GET", admin, NULL, "/v0/accounts"), 404, "NOT_FOUND", NULL);
}
END_TEST

/* ---- PATCH and DELETE, deactivation, the last admin (SPEC §4) ---- */

START_TEST(test_patch_fields)
{
	const char *token;
	struct reply *r;

	create_user("pa-user");
	r = call("PATCH", admin, jbody("{s:s}", "fullName", "Pat User"), ACCOUNTS "/pa-user");
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "fullName"), "Pat User");
	ck_assert_str_eq(jstr(get_account("pa-user"), "fullName"), "Pat User");
	/* made admin, the user's existing token gains admin rights, and loses them again */
	token = login_as("pa-user", USER_PW);
	expect_error(call("GET", token, NULL, ACCOUNTS), 403, "FORBIDDEN", NULL);
	r = call("PATCH", admin, jbody("{s:b}", "isAdmin", 1), ACCOUNTS "/pa-user");
	expect_status(r, 200);
	ck_assert_int_eq(jbool(r->json, "isAdmin"), 1);
	expect_status(call("GET", token, NULL, ACCOUNTS), 200);
	expect_status(call("PATCH", admin, jbody("{s:b}", "isAdmin", 0), ACCOUNTS "/pa-user"), 200);
	ck_assert_int_eq(jbool(get_account("pa-user"), "isAdmin"), 0);
	expect_error(call("GET", token, NULL, ACCOUNTS), 403, "FORBIDDEN", NULL);
	/* an empty PATCH changes nothing */
	r = call("PATCH", admin, "{}", ACCOUNTS "/pa-user");
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "fullName"), "Pat User");
	expect_error(
	    call("PATCH", admin, jbody("{s:s}", "fullName", "bad\001name"), ACCOUNTS "/pa-user"),
	    400, "INVALID_FORM", "fullName");
	ck_assert_str_eq(jstr(get_account("pa-user"), "fullName"), "Pat User");
	expect_error(call("PATCH", admin, jbody("{s:s}", "fullName", "x"), ACCOUNTS "/pa-nobody"),
		     404, "NOT_FOUND", NULL);
	create_org("pa-org");
	expect_error(call("PATCH", admin, jbody("{s:b}", "isAdmin", 1), ACCOUNTS "/pa-org"), 400,
		     "INVALID_FORM", "isAdmin");
	ck_assert_int_eq(jbool(get_account("pa-org"), "isAdmin"), 0);
}
END_TEST

START_TEST(test_deactivate_user)
{
	const char *token, *other;
	struct reply *r, *refused, *wrong;

	create_user("de-user");
	token = login_as("de-user", USER_PW);
	other = login_as("de-user", USER_PW);
	r = call("PATCH", admin, jbody("{s:b}", "isActive", 0), ACCOUNTS "/de-user");
	expect_status(r, 200);
	ck_assert_int_eq(jbool(r->json, "isActive"), 0);
	/* every session of the user ends at once */
	expect_error(call("GET", token, NULL, ACCOUNTS "/de-user"), 401, "UNAUTHORIZED", NULL);
	expect_error(call("GET", other, NULL, ACCOUNTS "/de-user"), 401, "UNAUTHORIZED", NULL);
	refused = try_login("de-user", USER_PW);
	wrong = try_login("de-user", "Wrong-Passw0rd-X");
	expect_error(refused, 401, "UNAUTHORIZED", NULL);
	ck_assert_str_eq(refused->body, wrong->body);
	/* re-activated, the user logs in again; old tokens stay dead */
	expect_status(call("PATCH", admin, jbody("{s:b}", "isActive", 1), ACCOUNTS "/de-user"),
		      200);
	token = login_as("de-user", USER_PW);
	expect_status(call("GET", token, NULL, ACCOUNTS "/de-user"), 200);
	expect_error(call("GET", other, NULL, ACCOUNTS "/de-user"), 401, "UNAUTHORIZED", NULL);
}
END_TEST

START_TEST(test_delete_account)
{
	const char *token;

	create_user("dl-user");
	create_org("dl-org");
	token = login_as("dl-user", USER_PW);
	expect_status(call("DELETE", admin, NULL, ACCOUNTS "/dl-user"), 204);
	expect_absent("dl-user");
	expect_error(call("GET", token, NULL, ACCOUNTS "/dl-user"), 401, "UNAUTHORIZED", NULL);
	expect_error(try_login("dl-user", USER_PW), 401, "UNAUTHORIZED", NULL);
	expect_error(call("DELETE", admin, NULL, ACCOUNTS "/dl-user"), 404, "NOT_FOUND", NULL);
	expect_status(
	    call("DELETE", admin, NULL, fmt(ACCOUNTS "/%s", jstr(get_account("dl-org"), "id"))),
	    204);
	expect_absent("dl-org");
	/* the name is free again */
	create_user("dl-user");
}
END_TEST

/*
 * {name} accepts a name or an id (SPEC §4), so a name that is another
 * account's id would make that path mean two accounts. Such a name must be
 * refused, or the account made with it could not be reached by its name.
 */
START_TEST(test_name_like_an_id)
{
	const char *id = jstr(create_user("ni-user"), "id");
	struct reply *r =
	    call("POST", admin, jbody("{s:s, s:b}", "name", id, "isOrg", 1), ACCOUNTS);

	if (r->status == 201) {
		const char *org_id = jstr(r->json, "id");

		r = call("GET", admin, NULL, fmt(ACCOUNTS "/%s", id));
		ck_assert_msg(strcmp(jstr(r->json, "id"), org_id) == 0,
			      "POST " ACCOUNTS " {\"name\":\"%s\",\"isOrg\":true} was accepted "
			      "(201, id %s) although %s is the id of ni-user; GET " ACCOUNTS
			      "/%s then answers ni-user, so the org cannot be reached by its name",
			      id, org_id, id, id);
		return;
	}
	ck_assert_msg(r->status == 400 || r->status == 409, "%s: %ld %s", r->what, r->status,
		      r->body);
	ck_assert_str_eq(jstr(get_account(id), "name"), "ni-user");
}
END_TEST

/* PATCH {"isAdmin":false} on target as token, in a child process; its pid. */
static pid_t demote_async(const char *token, const char *target)
{
	const char *body = jbody("{s:b}", "isAdmin", 0), *path = fmt(ACCOUNTS "/%s", target);
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct reply r;

		/* the child makes its own connection: http_call never shares a parent's */
		http_call(srv, "PATCH", path, token, body, NULL, &r);
		_exit(r.status == 200 ? 0 : r.status == 409 || r.status == 403 ? 1 : 2);
	}
	return pid;
}

static int exit_code(pid_t pid)
{
	int status = 0;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

/* Two admins demoting each other at once: the last-admin check must see both. */
START_TEST(test_concurrent_demotions)
{
	const char *x, *y;

	create_account("cc-x", false, true, true);
	create_account("cc-y", false, true, true);
	x = login_as("cc-x", USER_PW);
	y = login_as("cc-y", USER_PW);
	expect_status(call("PATCH", x, jbody("{s:b}", "isAdmin", 0), ACCOUNTS "/admin"), 200);
	for (int round = 0; round < 8; round++) {
		pid_t a = demote_async(x, "cc-y"), b = demote_async(y, "cc-x");
		int ca = exit_code(a), cb = exit_code(b);
		int x_admin = jbool(call("GET", x, NULL, ACCOUNTS "/cc-x")->json, "isAdmin");
		int y_admin = jbool(call("GET", y, NULL, ACCOUNTS "/cc-y")->json, "isAdmin");

		ck_assert_msg(ca != 2 && cb != 2,
			      "round %d: a demotion answered neither 200 nor 409/403", round);
		ck_assert_msg(!(ca == 0 && cb == 0), "round %d: both admins were demoted", round);
		ck_assert_msg(x_admin + y_admin == 2 - (ca == 0) - (cb == 0),
			      "round %d: answers and stored flags disagree", round);
		ck_assert_msg(x_admin + y_admin >= 1, "round %d: no admin left", round);
		/* the survivor promotes the other again */
		if (x_admin + y_admin == 1)
			expect_status(call("PATCH", x_admin ? x : y, jbody("{s:b}", "isAdmin", 1),
					   fmt(ACCOUNTS "/%s", x_admin ? "cc-y" : "cc-x")),
				      200);
	}
}
END_TEST

/* The only active admin is "admin": every way of losing it is refused, and nothing changes. */
START_TEST(test_last_admin_refused)
{
	json_t *before = json_deep_copy(get_account("admin")), *after;

	/* an inactive admin does not count */
	create_account("la-dormant", false, true, false);
	expect_error(call("PATCH", admin, jbody("{s:b}", "isAdmin", 0), ACCOUNTS "/admin"), 409,
		     "CONFLICT", NULL);
	expect_error(call("PATCH", admin, jbody("{s:b}", "isActive", 0), ACCOUNTS "/admin"), 409,
		     "CONFLICT", NULL);
	expect_error(call("PATCH", admin, jbody("{s:s, s:b}", "fullName", "Changed", "isAdmin", 0),
			  ACCOUNTS "/admin"),
		     409, "CONFLICT", NULL);
	expect_error(call("DELETE", admin, NULL, ACCOUNTS "/admin"), 409, "CONFLICT", NULL);
	after = get_account("admin");
	ck_assert_int_eq(jbool(after, "isAdmin"), 1);
	ck_assert_int_eq(jbool(after, "isActive"), 1);
	ck_assert_str_eq(jstr(after, "fullName"), jstr(before, "fullName"));
	ck_assert_str_eq(jstr(after, "updatedAt"), jstr(before, "updatedAt"));
	json_decref(before);
	/* the admin's own session survived all that */
	expect_status(call("GET", admin, NULL, ACCOUNTS), 200);
	login_as("admin", ADMIN_PW);
}
END_TEST

START_TEST(test_second_admin_allows_demotion)
{
	const char *second;

	create_account("la-second", false, true, true);
	second = login_as("la-second", USER_PW);
	expect_status(call("PATCH", admin, jbody("{s:b}", "isAdmin", 0), ACCOUNTS "/admin"), 200);
	ck_assert_int_eq(jbool(get_account("admin"), "isAdmin"), 0);
	/* the demoted admin's token is a plain user's now */
	expect_error(call("GET", admin, NULL, ACCOUNTS), 403, "FORBIDDEN", NULL);
	/* and la-second is the last one */
	expect_error(call("PATCH", second, jbody("{s:b}", "isAdmin", 0), ACCOUNTS "/la-second"),
		     409, "CONFLICT", NULL);
	expect_error(call("DELETE", second, NULL, ACCOUNTS "/la-second"), 409, "CONFLICT", NULL);
	expect_status(call("DELETE", second, NULL, ACCOUNTS "/admin"), 204);
	expect_status(call("GET", second, NULL, ACCOUNTS), 200);
}
END_TEST

/* ---- who may do what (handler comments in api_accounts.c and api_orgs.c) ---- */

START_TEST(test_plain_user_limits)
{
	const char *me, *id;
	struct reply *r;

	id = jstr(create_user("pu-me"), "id");
	create_user("pu-other");
	me = login_as("pu-me", USER_PW);
	/* itself: read by name and id, change its full name */
	expect_status(call("GET", me, NULL, ACCOUNTS "/pu-me"), 200);
	expect_status(call("GET", me, NULL, fmt(ACCOUNTS "/%s", id)), 200);
	r = call("PATCH", me, jbody("{s:s}", "fullName", "Me Myself"), ACCOUNTS "/pu-me");
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "fullName"), "Me Myself");
	/* not: the list, creating, others (existing or not), its own flags, deleting */
	expect_error(call("GET", me, NULL, ACCOUNTS), 403, "FORBIDDEN", NULL);
	expect_error(call("GET", me, NULL, "/accounts?filter=users"), 403, "FORBIDDEN", NULL);
	expect_error(call("POST", me, jbody("{s:s, s:b}", "name", "pu-new", "isOrg", 1), ACCOUNTS),
		     403, "FORBIDDEN", NULL);
	expect_absent("pu-new");
	expect_error(call("GET", me, NULL, ACCOUNTS "/pu-other"), 403, "FORBIDDEN", NULL);
	expect_error(call("GET", me, NULL, ACCOUNTS "/admin"), 403, "FORBIDDEN", NULL);
	/* 403 also for names that do not exist, so names cannot be probed */
	expect_error(call("GET", me, NULL, ACCOUNTS "/pu-nobody"), 403, "FORBIDDEN", NULL);
	expect_error(call("PATCH", me, jbody("{s:s}", "fullName", "X"), ACCOUNTS "/pu-other"), 403,
		     "FORBIDDEN", NULL);
	expect_error(call("PATCH", me, jbody("{s:b}", "isAdmin", 1), ACCOUNTS "/pu-me"), 403,
		     "FORBIDDEN", NULL);
	expect_error(call("PATCH", me, jbody("{s:b}", "isActive", 1), ACCOUNTS "/pu-me"), 403,
		     "FORBIDDEN", NULL);
	expect_error(call("DELETE", me, NULL, ACCOUNTS "/pu-other"), 403, "FORBIDDEN", NULL);
	expect_error(call("DELETE", me, NULL, ACCOUNTS "/pu-me"), 403, "FORBIDDEN", NULL);
	ck_assert_int_eq(jbool(get_account("pu-me"), "isAdmin"), 0);
	ck_assert_str_eq(jstr(get_account("pu-other"), "fullName"), "Test User");
	expect_status(call("GET", me, NULL, ACCOUNTS "/pu-me/organizations"), 200);
	expect_error(call("GET", me, NULL, ACCOUNTS "/pu-other/organizations"), 403, "FORBIDDEN",
		     NULL);
}
END_TEST

START_TEST(test_org_member_rights)
{
	const char *member, *outsider;

	create_org("om-org");
	create_user("om-member");
	create_user("om-outsider");
	create_user("om-target");
	expect_status(
	    call("POST", admin, jbody("{s:s}", "name", "om-team"), ACCOUNTS "/om-org/teams"), 201);
	expect_status(call("PUT", admin, "{}", ACCOUNTS "/om-org/members/om-member"), 200);
	member = login_as("om-member", USER_PW);
	outsider = login_as("om-outsider", USER_PW);
	/* members read the org, its members and its teams */
	expect_status(call("GET", member, NULL, ACCOUNTS "/om-org"), 200);
	expect_status(call("GET", member, NULL, ACCOUNTS "/om-org/members"), 200);
	expect_status(call("GET", member, NULL, ACCOUNTS "/om-org/members/om-member"), 200);
	expect_status(call("GET", member, NULL, ACCOUNTS "/om-org/teams"), 200);
	expect_status(call("GET", member, NULL, ACCOUNTS "/om-org/teams/om-team"), 200);
	expect_status(call("GET", member, NULL, ACCOUNTS "/om-org/teams/om-team/members"), 200);
	/* but change nothing */
	expect_error(call("PUT", member, "{}", ACCOUNTS "/om-org/members/om-target"), 403,
		     "FORBIDDEN", NULL);
	expect_error(
	    call("POST", member, jbody("{s:s}", "name", "om-new"), ACCOUNTS "/om-org/teams"), 403,
	    "FORBIDDEN", NULL);
	expect_error(call("PATCH", member, jbody("{s:s}", "description", "x"),
			  ACCOUNTS "/om-org/teams/om-team"),
		     403, "FORBIDDEN", NULL);
	expect_error(call("DELETE", member, NULL, ACCOUNTS "/om-org/teams/om-team"), 403,
		     "FORBIDDEN", NULL);
	expect_error(call("PUT", member, "{}", ACCOUNTS "/om-org/teams/om-team/members/om-target"),
		     403, "FORBIDDEN", NULL);
	expect_error(call("PATCH", member, jbody("{s:s}", "fullName", "x"), ACCOUNTS "/om-org"),
		     403, "FORBIDDEN", NULL);
	expect_error(call("GET", admin, NULL, ACCOUNTS "/om-org/members/om-target"), 404,
		     "NOT_FOUND", NULL);
	/* non-members read nothing */
	expect_error(call("GET", outsider, NULL, ACCOUNTS "/om-org"), 403, "FORBIDDEN", NULL);
	expect_error(call("GET", outsider, NULL, ACCOUNTS "/om-org/members"), 403, "FORBIDDEN",
		     NULL);
	expect_error(call("GET", outsider, NULL, ACCOUNTS "/om-org/teams"), 403, "FORBIDDEN", NULL);
	expect_error(call("GET", outsider, NULL, ACCOUNTS "/om-org/teams/om-team"), 403,
		     "FORBIDDEN", NULL);
	expect_error(call("GET", outsider, NULL, ACCOUNTS "/om-org/teams/om-team/members"), 403,
		     "FORBIDDEN", NULL);
	expect_error(call("DELETE", outsider, NULL, ACCOUNTS "/om-org/members/om-member"), 403,
		     "FORBIDDEN", NULL);
	expect_status(call("GET", admin, NULL, ACCOUNTS "/om-org/members/om-member"), 200);
}
END_TEST

START_TEST(test_org_and_team_admin_rights)
{
	const char *oadmin, *tadmin;
	struct reply *r;

	create_org("oa-org");
	create_user("oa-orgadmin");
	create_user("oa-teamadmin");
	create_user("oa-target");
	create_user("oa-plain");
	r = call("PUT", admin, jbody("{s:b}", "isAdmin", 1),
		 ACCOUNTS "/oa-org/members/oa-orgadmin");
	expect_status(r, 200);
	ck_assert_int_eq(jbool(r->json, "isAdmin"), 1);
	oadmin = login_as("oa-orgadmin", USER_PW);
	/* an org admin makes teams and manages members */
	expect_status(
	    call("POST", oadmin, jbody("{s:s}", "name", "oa-team"), ACCOUNTS "/oa-org/teams"), 201);
	expect_status(call("PATCH", oadmin, jbody("{s:s}", "description", "by the org admin"),
			   ACCOUNTS "/oa-org/teams/oa-team"),
		      200);
	expect_status(call("PUT", oadmin, "{}", ACCOUNTS "/oa-org/members/oa-plain"), 200);
	expect_status(call("PUT", oadmin, jbody("{s:b}", "isAdmin", 1),
			   ACCOUNTS "/oa-org/teams/oa-team/members/oa-teamadmin"),
		      200);
	/* but stays a plain user outside the org */
	expect_error(call("GET", oadmin, NULL, ACCOUNTS), 403, "FORBIDDEN", NULL);
	expect_error(call("PATCH", oadmin, jbody("{s:s}", "fullName", "x"), ACCOUNTS "/oa-org"),
		     403, "FORBIDDEN", NULL);
	/* a team admin manages its team's members, and nothing else of the org */
	tadmin = login_as("oa-teamadmin", USER_PW);
	expect_status(call("PUT", tadmin, "{}", ACCOUNTS "/oa-org/teams/oa-team/members/oa-target"),
		      200);
	expect_status(call("GET", tadmin, NULL, ACCOUNTS "/oa-org/teams/oa-team/members/oa-target"),
		      200);
	expect_status(
	    call("DELETE", tadmin, NULL, ACCOUNTS "/oa-org/teams/oa-team/members/oa-target"), 204);
	expect_error(call("GET", admin, NULL, ACCOUNTS "/oa-org/teams/oa-team/members/oa-target"),
		     404, "NOT_FOUND", NULL);
	expect_error(
	    call("POST", tadmin, jbody("{s:s}", "name", "oa-other"), ACCOUNTS "/oa-org/teams"), 403,
	    "FORBIDDEN", NULL);
	expect_error(call("PUT", tadmin, "{}", ACCOUNTS "/oa-org/members/oa-target"), 403,
		     "FORBIDDEN", NULL);
	expect_error(call("DELETE", tadmin, NULL, ACCOUNTS "/oa-org/members/oa-plain"), 403,
		     "FORBIDDEN", NULL);
	/* a team admin's rights end at its team */
	expect_status(
	    call("POST", oadmin, jbody("{s:s}", "name", "oa-team2"), ACCOUNTS "/oa-org/teams"),
	    201);
	expect_error(call("PUT", tadmin, "{}", ACCOUNTS "/oa-org/teams/oa-team2/members/oa-target"),
		     403, "FORBIDDEN", NULL);
	expect_error(call("PUT", tadmin, jbody("{s:b}", "isAdmin", 1),
			  ACCOUNTS "/oa-org/members/oa-teamadmin"),
		     403, "FORBIDDEN", NULL);
	/* a plain team member cannot make itself the team's admin */
	expect_status(call("PUT", tadmin, "{}", ACCOUNTS "/oa-org/teams/oa-team/members/oa-target"),
		      200);
	expect_error(call("PUT", login_as("oa-target", USER_PW), jbody("{s:b}", "isAdmin", 1),
			  ACCOUNTS "/oa-org/teams/oa-team/members/oa-target"),
		     403, "FORBIDDEN", NULL);
	ck_assert_int_eq(
	    jbool(
		call("GET", admin, NULL, ACCOUNTS "/oa-org/teams/oa-team/members/oa-target")->json,
		"isAdmin"),
	    0);
	/* an org admin's rights end at its org */
	create_org("oa-elsewhere");
	expect_error(call("PUT", oadmin, "{}", ACCOUNTS "/oa-elsewhere/members/oa-orgadmin"), 403,
		     "FORBIDDEN", NULL);
	expect_error(
	    call("POST", oadmin, jbody("{s:s}", "name", "x"), ACCOUNTS "/oa-elsewhere/teams"), 403,
	    "FORBIDDEN", NULL);
	/* the org admin removes a member */
	expect_status(call("DELETE", oadmin, NULL, ACCOUNTS "/oa-org/members/oa-plain"), 204);
	expect_error(call("GET", admin, NULL, ACCOUNTS "/oa-org/members/oa-plain"), 404,
		     "NOT_FOUND", NULL);
}
END_TEST

START_TEST(test_users_may_leave)
{
	const char *me;

	create_org("lv-org");
	create_user("lv-user");
	create_user("lv-other");
	expect_status(
	    call("POST", admin, jbody("{s:s}", "name", "lv-team"), ACCOUNTS "/lv-org/teams"), 201);
	expect_status(call("PUT", admin, "{}", ACCOUNTS "/lv-org/teams/lv-team/members/lv-user"),
		      200);
	expect_status(call("PUT", admin, "{}", ACCOUNTS "/lv-org/teams/lv-team/members/lv-other"),
		      200);
	me = login_as("lv-user", USER_PW);
	/* not someone else */
	expect_error(call("DELETE", me, NULL, ACCOUNTS "/lv-org/teams/lv-team/members/lv-other"),
		     403, "FORBIDDEN", NULL);
	expect_error(call("DELETE", me, NULL, ACCOUNTS "/lv-org/members/lv-other"), 403,
		     "FORBIDDEN", NULL);
	/* but itself, from the team and then from the org */
	expect_status(call("DELETE", me, NULL, ACCOUNTS "/lv-org/teams/lv-team/members/lv-user"),
		      204);
	expect_error(call("GET", admin, NULL, ACCOUNTS "/lv-org/teams/lv-team/members/lv-user"),
		     404, "NOT_FOUND", NULL);
	expect_status(call("GET", me, NULL, ACCOUNTS "/lv-org"), 200);
	expect_status(call("DELETE", me, NULL, ACCOUNTS "/lv-org/members/lv-user"), 204);
	expect_error(call("GET", me, NULL, ACCOUNTS "/lv-org"), 403, "FORBIDDEN", NULL);
	expect_status(call("GET", admin, NULL, ACCOUNTS "/lv-org/members/lv-other"), 200);
}
END_TEST

/* ---- changePassword (SPEC §4) ---- */

#define NEW_PW "New-Passw0rd-IT"

static const char *change_pw(const char *old, const char *new_pw)
{
	if (old == NULL)
		return jbody("{s:s}", "newPassword", new_pw);
	return jbody("{s:s, s:s}", "oldPassword", old, "newPassword", new_pw);
}

START_TEST(test_change_own_password)
{
	const char *mine, *other;
	struct reply *r;

	create_user("cp-self");
	mine = login_as("cp-self", USER_PW);
	other = login_as("cp-self", USER_PW);
	r = call("POST", mine, change_pw(USER_PW, NEW_PW), ACCOUNTS "/cp-self/changePassword");
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "name"), "cp-self");
	login_as("cp-self", NEW_PW);
	expect_error(try_login("cp-self", USER_PW), 401, "UNAUTHORIZED", NULL);
	/* the session that changed it stays; the others end */
	expect_status(call("GET", mine, NULL, ACCOUNTS "/cp-self"), 200);
	expect_error(call("GET", other, NULL, ACCOUNTS "/cp-self"), 401, "UNAUTHORIZED", NULL);
}
END_TEST

START_TEST(test_change_password_refusals)
{
	const char *me;

	create_user("cr-pw");
	create_user("cr-pw-other");
	create_org("cr-pw-org");
	me = login_as("cr-pw", USER_PW);
	expect_error(call("POST", me, change_pw("Wrong-Passw0rd-1", NEW_PW),
			  ACCOUNTS "/cr-pw/changePassword"),
		     400, "INVALID_FORM", "oldPassword");
	expect_error(call("POST", me, change_pw(NULL, NEW_PW), ACCOUNTS "/cr-pw/changePassword"),
		     400, "INVALID_FORM", "oldPassword");
	expect_error(call("POST", me, change_pw("", NEW_PW), ACCOUNTS "/cr-pw/changePassword"), 400,
		     "INVALID_FORM", "oldPassword");
	expect_error(
	    call("POST", me, change_pw(USER_PW, "short"), ACCOUNTS "/cr-pw/changePassword"), 400,
	    "INVALID_FORM", "newPassword");
	expect_error(
	    call("POST", me, change_pw(USER_PW, "        "), ACCOUNTS "/cr-pw/changePassword"), 400,
	    "INVALID_FORM", "newPassword");
	expect_error(call("POST", me, jbody("{s:s}", "oldPassword", USER_PW),
			  ACCOUNTS "/cr-pw/changePassword"),
		     400, "INVALID_FORM", "newPassword");
	expect_error(
	    call("POST", me, change_pw(USER_PW, NEW_PW), ACCOUNTS "/cr-pw-other/changePassword"),
	    403, "FORBIDDEN", NULL);
	/* nothing of that changed a password */
	login_as("cr-pw", USER_PW);
	login_as("cr-pw-other", USER_PW);
	expect_error(
	    call("POST", admin, change_pw(NULL, NEW_PW), ACCOUNTS "/cr-pw-org/changePassword"), 409,
	    "CONFLICT", NULL);
	expect_error(
	    call("POST", admin, change_pw(NULL, NEW_PW), ACCOUNTS "/cr-pw-nobody/changePassword"),
	    404, "NOT_FOUND", NULL);
}
END_TEST

START_TEST(test_admin_sets_password)
{
	const char *token;

	create_user("ap-user");
	token = login_as("ap-user", USER_PW);
	expect_status(
	    call("POST", admin, change_pw(NULL, NEW_PW), ACCOUNTS "/ap-user/changePassword"), 200);
	login_as("ap-user", NEW_PW);
	expect_error(try_login("ap-user", USER_PW), 401, "UNAUTHORIZED", NULL);
	/* a password set by an admin ends the user's sessions */
	expect_error(call("GET", token, NULL, ACCOUNTS "/ap-user"), 401, "UNAUTHORIZED", NULL);
	expect_error(
	    call("POST", admin, change_pw(NULL, "short"), ACCOUNTS "/ap-user/changePassword"), 400,
	    "INVALID_FORM", "newPassword");
	login_as("ap-user", NEW_PW);
}
END_TEST

/* ---- organizations and teams (SPEC §4) ---- */

static const char *team_path(const char *org, const char *team)
{
	return fmt(ACCOUNTS "/%s/teams/%s", org, team);
}

START_TEST(test_team_crud)
{
	const char *org_id;
	struct reply *r;

	org_id = jstr(create_org("tc-org"), "id");
	create_org("tc-org2");
	r = call("POST", admin, jbody("{s:s, s:s}", "name", "Dev", "description", "developers"),
		 ACCOUNTS "/tc-org/teams");
	expect_status(r, 201);
	ck_assert_str_eq(jstr(r->json, "name"), "dev");
	ck_assert_str_eq(jstr(r->json, "description"), "developers");
	ck_assert_str_eq(jstr(r->json, "orgID"), org_id);
	ck_assert_msg(jstr(r->json, "id") != NULL, "team without id");
	ck_assert_int_eq(jint(r->json, "membersCount", -1), 0);
	/* unique per org, case-insensitively; the same name in another org is fine */
	expect_error(call("POST", admin, jbody("{s:s}", "name", "dev"), ACCOUNTS "/tc-org/teams"),
		     409, "CONFLICT", NULL);
	expect_error(call("POST", admin, jbody("{s:s}", "name", "DEV"), ACCOUNTS "/tc-org/teams"),
		     409, "CONFLICT", NULL);
	expect_status(call("POST", admin, jbody("{s:s}", "name", "dev"), ACCOUNTS "/tc-org2/teams"),
		      201);
	ck_assert_int_eq(jint(get_account("tc-org"), "teamsCount", -1), 1);
	/* by name and by id */
	r = call("GET", admin, NULL, team_path("tc-org", "dev"));
	expect_status(r, 200);
	expect_status(call("GET", admin, NULL, team_path("tc-org", jstr(r->json, "id"))), 200);
	r = call("GET", admin, NULL, ACCOUNTS "/tc-org/teams");
	expect_status(r, 200);
	ck_assert(list_has(jpath(r->json, "teams"), "name", "dev"));
	ck_assert_uint_eq(json_array_size(jpath(r->json, "teams")), 1);
	/* PATCH: description, rename, rename onto another team */
	r = call("PATCH", admin, jbody("{s:s}", "description", "builders"),
		 team_path("tc-org", "dev"));
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "description"), "builders");
	expect_status(call("POST", admin, jbody("{s:s}", "name", "ops"), ACCOUNTS "/tc-org/teams"),
		      201);
	expect_error(
	    call("PATCH", admin, jbody("{s:s}", "name", "OPS"), team_path("tc-org", "dev")), 409,
	    "CONFLICT", NULL);
	expect_status(
	    call("PATCH", admin, jbody("{s:s}", "name", "Dev"), team_path("tc-org", "dev")), 200);
	r = call("PATCH", admin, jbody("{s:s}", "name", "Platform"), team_path("tc-org", "dev"));
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "name"), "platform");
	expect_error(call("GET", admin, NULL, team_path("tc-org", "dev")), 404, "NOT_FOUND", NULL);
	ck_assert_str_eq(
	    jstr(call("GET", admin, NULL, team_path("tc-org", "platform"))->json, "description"),
	    "builders");
	/* the other org's team of the old name is untouched */
	expect_status(call("GET", admin, NULL, team_path("tc-org2", "dev")), 200);
	expect_status(call("DELETE", admin, NULL, team_path("tc-org", "platform")), 204);
	expect_error(call("GET", admin, NULL, team_path("tc-org", "platform")), 404, "NOT_FOUND",
		     NULL);
	expect_error(call("DELETE", admin, NULL, team_path("tc-org", "platform")), 404, "NOT_FOUND",
		     NULL);
	/* teams live only in orgs */
	create_user("tc-user");
	expect_error(call("POST", admin, jbody("{s:s}", "name", "x"), ACCOUNTS "/tc-user/teams"),
		     404, "NOT_FOUND", NULL);
	expect_error(call("GET", admin, NULL, ACCOUNTS "/tc-nobody/teams"), 404, "NOT_FOUND", NULL);
}
END_TEST

START_TEST(test_team_form_refusals)
{
	char desc[142];
	struct reply *r;

	create_org("tf-org");
	memset(desc, 'd', 141);
	desc[141] = '\0';
	expect_error(call("POST", admin, jbody("{s:s, s:s}", "name", "tf-a", "description", desc),
			  ACCOUNTS "/tf-org/teams"),
		     400, "INVALID_FORM", "description");
	desc[140] = '\0';
	r = call("POST", admin, jbody("{s:s, s:s}", "name", "tf-b", "description", desc),
		 ACCOUNTS "/tf-org/teams");
	expect_status(r, 201);
	expect_error(call("POST", admin, jbody("{s:s}", "name", "a b"), ACCOUNTS "/tf-org/teams"),
		     400, "INVALID_FORM", "name");
	expect_error(call("POST", admin, jbody("{s:s}", "name", ""), ACCOUNTS "/tf-org/teams"), 400,
		     "INVALID_FORM", "name");
	expect_error(
	    call("POST", admin, jbody("{s:s}", "description", "x"), ACCOUNTS "/tf-org/teams"), 400,
	    "INVALID_FORM", "name");
	expect_error(
	    call("PATCH", admin, jbody("{s:s}", "name", "a/b"), team_path("tf-org", "tf-b")), 400,
	    "INVALID_FORM", "name");
	r = call("GET", admin, NULL, ACCOUNTS "/tf-org/teams");
	ck_assert_uint_eq(json_array_size(jpath(r->json, "teams")), 1);
	ck_assert_int_eq(jint(get_account("tf-org"), "teamsCount", -1), 1);
}
END_TEST

static void expect_member_shape(json_t *m, const char *name, bool is_admin)
{
	ck_assert_str_eq(jstr(m, "member.name"), name);
	ck_assert_msg(jstr(m, "member.id") != NULL, "member without id");
	ck_assert_int_eq(jbool(m, "member.isOrg"), 0);
	ck_assert_int_eq(jbool(m, "isAdmin"), is_admin);
}

START_TEST(test_team_members_join_org)
{
	struct reply *r;

	create_org("tj-org");
	create_user("tj-user");
	expect_status(
	    call("POST", admin, jbody("{s:s}", "name", "tj-team"), ACCOUNTS "/tj-org/teams"), 201);
	r = call("PUT", admin, "{}", ACCOUNTS "/tj-org/teams/tj-team/members/tj-user");
	expect_status(r, 200);
	expect_member_shape(r->json, "tj-user", false);
	/* team members: {"members":[{"member":{..},"isAdmin":..}],"nextPageStart":..} */
	r = call("GET", admin, NULL, ACCOUNTS "/tj-org/teams/tj-team/members");
	expect_status(r, 200);
	ck_assert_uint_eq(json_array_size(jpath(r->json, "members")), 1);
	expect_member_shape(jpath(r->json, "members.0"), "tj-user", false);
	ck_assert_msg(jstr(r->json, "nextPageStart") != NULL, "no nextPageStart: %s", r->body);
	ck_assert_int_eq(jint(call("GET", admin, NULL, team_path("tj-org", "tj-team"))->json,
			      "membersCount", -1),
			 1);
	/* joining the team joined the org */
	r = call("GET", admin, NULL, ACCOUNTS "/tj-org/members");
	expect_status(r, 200);
	ck_assert_uint_eq(json_array_size(jpath(r->json, "members")), 1);
	expect_member_shape(jpath(r->json, "members.0"), "tj-user", false);
	ck_assert_msg(jstr(r->json, "nextPageStart") != NULL, "no nextPageStart: %s", r->body);
	ck_assert_int_eq(jint(get_account("tj-org"), "membersCount", -1), 1);
	r = call("GET", admin, NULL, ACCOUNTS "/tj-user/organizations");
	expect_status(r, 200);
	ck_assert_msg(json_is_array(jpath(r->json, "memberOrgs")), "no memberOrgs: %s", r->body);
	ck_assert_uint_eq(json_array_size(jpath(r->json, "memberOrgs")), 1);
	ck_assert_str_eq(jstr(r->json, "memberOrgs.0.org.name"), "tj-org");
	/* the user reads its own organizations */
	r = call("GET", login_as("tj-user", USER_PW), NULL, ACCOUNTS "/tj-user/organizations");
	expect_status(r, 200);
	ck_assert_uint_eq(json_array_size(jpath(r->json, "memberOrgs")), 1);
	/* PUT is idempotent and changes the flag */
	r = call("PUT", admin, jbody("{s:b}", "isAdmin", 1),
		 ACCOUNTS "/tj-org/teams/tj-team/members/tj-user");
	expect_status(r, 200);
	r = call("GET", admin, NULL, ACCOUNTS "/tj-org/teams/tj-team/members/tj-user");
	expect_status(r, 200);
	expect_member_shape(r->json, "tj-user", true);
	ck_assert_uint_eq(
	    json_array_size(
		jpath(call("GET", admin, NULL, ACCOUNTS "/tj-org/teams/tj-team/members")->json,
		      "members")),
	    1);
	/* an org admin who joins a team stays org admin */
	create_user("tj-oadmin");
	expect_status(
	    call("PUT", admin, jbody("{s:b}", "isAdmin", 1), ACCOUNTS "/tj-org/members/tj-oadmin"),
	    200);
	expect_status(call("PUT", admin, "{}", ACCOUNTS "/tj-org/teams/tj-team/members/tj-oadmin"),
		      200);
	r = call("GET", admin, NULL, ACCOUNTS "/tj-org/members/tj-oadmin");
	expect_member_shape(r->json, "tj-oadmin", true);
}
END_TEST

/*
 * api_orgs.c documents the {"isAdmin":bool} body of a membership PUT as
 * optional, so a PUT without a body adds a plain member.
 */
START_TEST(test_member_put_without_body)
{
	struct reply *r;

	create_org("nb-org");
	create_user("nb-user");
	create_user("nb-user2");
	expect_status(
	    call("POST", admin, jbody("{s:s}", "name", "nb-team"), ACCOUNTS "/nb-org/teams"), 201);
	r = call("PUT", admin, NULL, ACCOUNTS "/nb-org/members/nb-user");
	expect_status(r, 200);
	expect_member_shape(r->json, "nb-user", false);
	r = call("PUT", admin, NULL, ACCOUNTS "/nb-org/teams/nb-team/members/nb-user2");
	expect_status(r, 200);
	expect_member_shape(r->json, "nb-user2", false);
}
END_TEST

START_TEST(test_member_refusals)
{
	create_org("mr-org");
	create_org("mr-org2");
	expect_status(
	    call("POST", admin, jbody("{s:s}", "name", "mr-team"), ACCOUNTS "/mr-org/teams"), 201);
	/* orgs are not members, unknown users are not found, users have no members */
	expect_error(call("PUT", admin, "{}", ACCOUNTS "/mr-org/members/mr-org2"), 404, "NOT_FOUND",
		     NULL);
	expect_error(call("PUT", admin, "{}", ACCOUNTS "/mr-org/members/mr-nobody"), 404,
		     "NOT_FOUND", NULL);
	expect_error(call("PUT", admin, "{}", ACCOUNTS "/mr-org/teams/mr-team/members/mr-nobody"),
		     404, "NOT_FOUND", NULL);
	expect_error(call("PUT", admin, "{}", ACCOUNTS "/mr-org/teams/mr-none/members/admin"), 404,
		     "NOT_FOUND", NULL);
	expect_error(call("PUT", admin, "{}", ACCOUNTS "/admin/members/admin"), 404, "NOT_FOUND",
		     NULL);
	expect_error(call("GET", admin, NULL, ACCOUNTS "/mr-org2/organizations"), 404, "NOT_FOUND",
		     NULL);
	expect_error(call("DELETE", admin, NULL, ACCOUNTS "/mr-org/members/admin"), 404,
		     "NOT_FOUND", NULL);
	ck_assert_int_eq(jint(get_account("mr-org"), "membersCount", -1), 0);
	ck_assert_uint_eq(
	    json_array_size(
		jpath(call("GET", admin, NULL, ACCOUNTS "/mr-org/members")->json, "members")),
	    0);
}
END_TEST

START_TEST(test_org_member_delete_leaves_teams)
{
	struct reply *r;

	create_org("od-org");
	create_user("od-user");
	create_user("od-stay");
	for (int t = 0; t < 2; t++) {
		expect_status(call("POST", admin, jbody("{s:s}", "name", fmt("od-team%d", t)),
				   ACCOUNTS "/od-org/teams"),
			      201);
		expect_status(call("PUT", admin, "{}",
				   fmt(ACCOUNTS "/od-org/teams/od-team%d/members/od-user", t)),
			      200);
		expect_status(call("PUT", admin, "{}",
				   fmt(ACCOUNTS "/od-org/teams/od-team%d/members/od-stay", t)),
			      200);
	}
	expect_status(call("DELETE", admin, NULL, ACCOUNTS "/od-org/members/od-user"), 204);
	for (int t = 0; t < 2; t++) {
		r = call("GET", admin, NULL, fmt(ACCOUNTS "/od-org/teams/od-team%d/members", t));
		expect_status(r, 200);
		ck_assert_uint_eq(json_array_size(jpath(r->json, "members")), 1);
		ck_assert_str_eq(jstr(r->json, "members.0.member.name"), "od-stay");
		expect_error(call("GET", admin, NULL,
				  fmt(ACCOUNTS "/od-org/teams/od-team%d/members/od-user", t)),
			     404, "NOT_FOUND", NULL);
	}
	r = call("GET", admin, NULL, ACCOUNTS "/od-user/organizations");
	ck_assert_uint_eq(json_array_size(jpath(r->json, "memberOrgs")), 0);
	ck_assert_int_eq(jint(get_account("od-org"), "membersCount", -1), 1);
	expect_error(call("DELETE", admin, NULL, ACCOUNTS "/od-org/members/od-user"), 404,
		     "NOT_FOUND", NULL);
}
END_TEST

START_TEST(test_deletes_cascade)
{
	struct reply *r;

	create_org("cd-org");
	create_user("cd-user");
	create_user("cd-stay");
	expect_status(
	    call("POST", admin, jbody("{s:s}", "name", "cd-team"), ACCOUNTS "/cd-org/teams"), 201);
	expect_status(call("PUT", admin, "{}", ACCOUNTS "/cd-org/teams/cd-team/members/cd-user"),
		      200);
	expect_status(call("PUT", admin, "{}", ACCOUNTS "/cd-org/teams/cd-team/members/cd-stay"),
		      200);
	/* a deleted user leaves every org and team, counts included */
	expect_status(call("DELETE", admin, NULL, ACCOUNTS "/cd-user"), 204);
	ck_assert_int_eq(jint(get_account("cd-org"), "membersCount", -1), 1);
	r = call("GET", admin, NULL, team_path("cd-org", "cd-team"));
	ck_assert_int_eq(jint(r->json, "membersCount", -1), 1);
	r = call("GET", admin, NULL, ACCOUNTS "/cd-org/teams/cd-team/members");
	ck_assert_uint_eq(json_array_size(jpath(r->json, "members")), 1);
	/* a deleted org takes its teams and memberships along; its name starts afresh */
	expect_status(call("DELETE", admin, NULL, ACCOUNTS "/cd-org"), 204);
	expect_error(call("GET", admin, NULL, team_path("cd-org", "cd-team")), 404, "NOT_FOUND",
		     NULL);
	r = call("GET", admin, NULL, ACCOUNTS "/cd-stay/organizations");
	ck_assert_uint_eq(json_array_size(jpath(r->json, "memberOrgs")), 0);
	create_org("cd-org");
	ck_assert_int_eq(jint(get_account("cd-org"), "membersCount", -1), 0);
	ck_assert_int_eq(jint(get_account("cd-org"), "teamsCount", -1), 0);
	expect_status(
	    call("POST", admin, jbody("{s:s}", "name", "cd-team"), ACCOUNTS "/cd-org/teams"), 201);
	r = call("GET", admin, NULL, ACCOUNTS "/cd-org/teams/cd-team/members");
	ck_assert_uint_eq(json_array_size(jpath(r->json, "members")), 0);
}
END_TEST

START_TEST(test_member_list_paging)
{
	const char *start = "";
	int seen = 0;

	create_org("mp-org");
	for (int i = 0; i < 3; i++) {
		create_user(fmt("mp-user%d", i));
		expect_status(
		    call("PUT", admin, "{}", fmt(ACCOUNTS "/mp-org/members/mp-user%d", i)), 200);
	}
	do {
		struct reply *r = call(
		    "GET", admin, NULL,
		    fmt(ACCOUNTS "/mp-org/members?limit=1%s%s", *start ? "&start=" : "", start));
		const char *next = jstr(r->json, "nextPageStart");

		expect_status(r, 200);
		ck_assert_msg(next != NULL, "%s: no nextPageStart", r->what);
		ck_assert_uint_eq(json_array_size(jpath(r->json, "members")), 1);
		ck_assert_str_eq(jstr(r->json, "members.0.member.name"), fmt("mp-user%d", seen));
		expect_page_headers(r, next, 1);
		start = next;
		ck_assert_int_le(++seen, 3);
	} while (*start != '\0');
	ck_assert_int_eq(seen, 3);
	expect_error(call("GET", admin, NULL, ACCOUNTS "/mp-org/members?limit=0"), 400,
		     "INVALID_FORM", "limit");
}
END_TEST

/* ---- bad input: refused with the right error, and nothing stored (SPEC §2) ---- */

/* After a refused request: the server answers and the account count is unchanged. */
static void expect_nothing_stored(long long total)
{
	expect_alive();
	ck_assert_int_eq(account_total(), total);
}

/* 500,000 nested arrays: a parser that recursed without a bound would crash the server. */
static const char *deep_nesting(void)
{
	const size_t depth = 500000;
	char *body = malloc(2 * depth + 1);

	ck_assert_ptr_nonnull(body);
	memset(body, '[', depth);
	memset(body + depth, ']', depth);
	body[2 * depth] = '\0';
	return keep(body);
}

START_TEST(test_malformed_json)
{
	static const char *const bodies[] = {"{\"name\":\"mj-org\",\"isOrg\":true",
					     "{\"name\":\"mj-org\",\"isOrg\":tru}",
					     "{name:\"mj-org\"}",
					     "{\"name\":\"mj-org\",}",
					     "{\"name\":\"mj-org\"} trailing",
					     "\xff\xfe{}",
					     "{\"name\":\"mj-org\",\"name\":\"mj-b\"}"};
	long long total = account_total();

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		expect_error(call("POST", admin, bodies[i], ACCOUNTS), 400, "INVALID_JSON", NULL);
		expect_nothing_stored(total);
	}
	expect_absent("mj-org");
	expect_error(call("POST", admin, deep_nesting(), ACCOUNTS), 400, "INVALID_JSON", NULL);
	expect_nothing_stored(total);
	expect_error(call("POST", NULL, "{\"username\":", "/auth/login"), 400, "INVALID_JSON",
		     NULL);
	expect_error(call("PATCH", admin, "{\"fullName\":", ACCOUNTS "/admin"), 400, "INVALID_JSON",
		     NULL);
	ck_assert_str_eq(jstr(get_account("admin"), "fullName"), "Administrator");
}
END_TEST

START_TEST(test_json_not_object)
{
	static const char *const bodies[] = {
	    "[]", "[{\"name\":\"no-org\"}]", "\"no-org\"", "42", "null", "true"};
	long long total = account_total();

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		expect_error(call("POST", admin, bodies[i], ACCOUNTS), 400, "INVALID_JSON", NULL);
		expect_error(call("POST", NULL, bodies[i], "/auth/login"), 400, "INVALID_JSON",
			     NULL);
		expect_nothing_stored(total);
	}
	expect_absent("no-org");
}
END_TEST

START_TEST(test_empty_body)
{
	long long total = account_total();

	expect_error(call("POST", admin, "", ACCOUNTS), 400, "INVALID_JSON", NULL);
	expect_error(call("POST", admin, NULL, ACCOUNTS), 400, "INVALID_JSON", NULL);
	expect_error(call("POST", NULL, "", "/auth/login"), 400, "INVALID_JSON", NULL);
	expect_error(call("PATCH", admin, "", ACCOUNTS "/admin"), 400, "INVALID_JSON", NULL);
	expect_error(call("POST", admin, "   \n", ACCOUNTS), 400, "INVALID_JSON", NULL);
	expect_nothing_stored(total);
}
END_TEST

START_TEST(test_wrong_types)
{
	static const struct {
		const char *body, *field;
	} creates[] = {
	    {"{\"name\":5}", "name"},
	    {"{\"name\":null,\"isOrg\":true}", "name"},
	    {"{\"name\":[\"wt-a\"],\"isOrg\":true}", "name"},
	    {"{\"name\":\"wt-b\",\"isOrg\":\"yes\"}", "isOrg"},
	    {"{\"name\":\"wt-c\",\"isOrg\":1}", "isOrg"},
	    {"{\"name\":\"wt-d\",\"isOrg\":true,\"fullName\":{}}", "fullName"},
	    {"{\"name\":\"wt-e\",\"password\":12345678}", "password"},
	    {"{\"name\":\"wt-f\",\"password\":\"" USER_PW "\",\"isAdmin\":\"true\"}", "isAdmin"},
	    {"{\"name\":\"wt-g\",\"password\":\"" USER_PW "\",\"isActive\":0}", "isActive"},
	};
	long long total;
	json_t *before;

	create_org("wt-org");
	create_user("wt-user");
	total = account_total();
	before = get_account("admin");
	for (size_t i = 0; i < sizeof(creates) / sizeof(creates[0]); i++) {
		expect_error(call("POST", admin, creates[i].body, ACCOUNTS), 400, "INVALID_FORM",
			     creates[i].field);
		expect_nothing_stored(total);
	}
	expect_error(call("PATCH", admin, "{\"isActive\":\"false\"}", ACCOUNTS "/admin"), 400,
		     "INVALID_FORM", "isActive");
	expect_error(call("PATCH", admin, "{\"isAdmin\":null}", ACCOUNTS "/admin"), 400,
		     "INVALID_FORM", "isAdmin");
	expect_error(call("PATCH", admin, "{\"fullName\":7}", ACCOUNTS "/admin"), 400,
		     "INVALID_FORM", "fullName");
	ck_assert_str_eq(jstr(get_account("admin"), "updatedAt"), jstr(before, "updatedAt"));
	expect_error(call("POST", NULL, "{\"username\":1,\"password\":\"x\"}", "/auth/login"), 400,
		     "INVALID_FORM", "username");
	expect_error(
	    call("POST", NULL, "{\"username\":\"admin\",\"password\":true}", "/auth/login"), 400,
	    "INVALID_FORM", "password");
	expect_error(call("POST", admin, "{\"name\":\"wt-team\",\"description\":5}",
			  ACCOUNTS "/wt-org/teams"),
		     400, "INVALID_FORM", "description");
	expect_error(call("POST", admin, "{\"name\":false}", ACCOUNTS "/wt-org/teams"), 400,
		     "INVALID_FORM", "name");
	expect_error(
	    call("PUT", admin, "{\"isAdmin\":\"yes\"}", ACCOUNTS "/wt-org/members/wt-user"), 400,
	    "INVALID_FORM", "isAdmin");
	expect_error(
	    call("POST", admin, "{\"newPassword\":123456789}", ACCOUNTS "/wt-user/changePassword"),
	    400, "INVALID_FORM", "newPassword");
	ck_assert_int_eq(jint(get_account("wt-org"), "teamsCount", -1), 0);
	ck_assert_int_eq(jint(get_account("wt-org"), "membersCount", -1), 0);
	login_as("wt-user", USER_PW);
	expect_nothing_stored(total);
}
END_TEST

START_TEST(test_unknown_fields)
{
	long long total;

	create_org("uf-org");
	create_user("uf-user");
	total = account_total();
	expect_error(
	    call("POST", admin, "{\"name\":\"uf-a\",\"isOrg\":true,\"bogus\":1}", ACCOUNTS), 400,
	    "INVALID_FORM", "bogus");
	expect_error(call("POST", admin, "{\"name\":\"uf-b\",\"isorg\":true}", ACCOUNTS), 400,
		     "INVALID_FORM", "isorg");
	expect_error(
	    call("PATCH", admin, "{\"fullName\":\"x\",\"nickname\":\"x\"}", ACCOUNTS "/uf-user"),
	    400, "INVALID_FORM", "nickname");
	expect_error(call("PATCH", admin, "{\"password\":\"" NEW_PW "\"}", ACCOUNTS "/uf-user"),
		     400, "INVALID_FORM", "password");
	expect_error(call("POST", NULL,
			  "{\"username\":\"uf-user\",\"password\":\"" USER_PW "\",\"otp\":\"1\"}",
			  "/auth/login"),
		     400, "INVALID_FORM", "otp");
	expect_error(
	    call("POST", admin, "{\"name\":\"uf-team\",\"members\":[]}", ACCOUNTS "/uf-org/teams"),
	    400, "INVALID_FORM", "members");
	expect_error(call("PUT", admin, "{\"admin\":true}", ACCOUNTS "/uf-org/members/uf-user"),
		     400, "INVALID_FORM", "admin");
	expect_error(call("POST", admin, "{\"newPassword\":\"" NEW_PW "\",\"force\":true}",
			  ACCOUNTS "/uf-user/changePassword"),
		     400, "INVALID_FORM", "force");
	expect_nothing_stored(total);
	expect_absent("uf-a");
	expect_absent("uf-b");
	ck_assert_str_eq(jstr(get_account("uf-user"), "fullName"), "Test User");
	ck_assert_int_eq(jint(get_account("uf-org"), "teamsCount", -1), 0);
	ck_assert_int_eq(jint(get_account("uf-org"), "membersCount", -1), 0);
	login_as("uf-user", USER_PW);
}
END_TEST

START_TEST(test_invalid_names)
{
	static const char forbidden[] = "/\\[]:;|=,+*?<>'\"";
	static const char *const bad[] = {
	    "",
	    " ",
	    "a b",
	    " lead",
	    "trail ",
	    "tab\there",
	    "new\nline",
	    "ctl\001x",
	    "del\177x",
	    "nbsp\xc2\xa0x",
	    "em\xe2\x80\x83sp",
	    "nel\xc2\x85x",
	};
	char long_name[102];
	long long total = account_total();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_error(
		    call("POST", admin, jbody("{s:s, s:b}", "name", bad[i], "isOrg", 1), ACCOUNTS),
		    400, "INVALID_FORM", "name");
		expect_nothing_stored(total);
	}
	for (const char *c = forbidden; *c != '\0'; c++) {
		const char *name = fmt("bad%cname", *c);

		expect_error(
		    call("POST", admin, jbody("{s:s, s:b}", "name", name, "isOrg", 1), ACCOUNTS),
		    400, "INVALID_FORM", "name");
		expect_error(call("POST", admin,
				  jbody("{s:s, s:s}", "name", name, "password", USER_PW), ACCOUNTS),
			     400, "INVALID_FORM", "name");
	}
	expect_nothing_stored(total);
	memset(long_name, 'n', 101);
	long_name[101] = '\0';
	expect_error(
	    call("POST", admin, jbody("{s:s, s:b}", "name", long_name, "isOrg", 1), ACCOUNTS), 400,
	    "INVALID_FORM", "name");
	expect_nothing_stored(total);
	/* exactly 100 characters is fine, and stored lowercase */
	long_name[0] = 'N';
	long_name[100] = '\0';
	ck_assert_uint_eq(strlen(jstr(create_org(long_name), "name")), 100);
	long_name[0] = 'n';
	ck_assert_str_eq(jstr(get_account(long_name), "name"), long_name);
}
END_TEST

START_TEST(test_names_count_characters)
{
	char name[2 * 101 + 1] = "";
	struct reply *r;
	long long total;

	/* SPEC §4 counts characters, not bytes: 100 two-byte letters fit */
	for (int i = 0; i < 100; i++)
		strcat(name, "\xc3\xa9"); /* é */
	r = call("POST", admin, jbody("{s:s, s:b}", "name", name, "isOrg", 1), ACCOUNTS);
	expect_status(r, 201);
	ck_assert_str_eq(jstr(get_account(jstr(r->json, "id")), "name"), name);
	/* and uppercase non-ASCII letters are lowered */
	r = call("POST", admin, jbody("{s:s, s:b}", "name", "\xc3\x89QUIPE", "isOrg", 1), ACCOUNTS);
	expect_status(r, 201);
	ck_assert_str_eq(jstr(r->json, "name"), "\xc3\xa9quipe");
	/* and found by its name, percent-encoded in the path as any client sends it */
	expect_status(call("GET", admin, NULL, ACCOUNTS "/%C3%A9quipe"), 200);
	total = account_total();
	strcat(name, "\xc3\xa9");
	expect_error(call("POST", admin, jbody("{s:s, s:b}", "name", name, "isOrg", 1), ACCOUNTS),
		     400, "INVALID_FORM", "name");
	/* not valid UTF-8: refused as bad JSON or as a bad name, either way a 400 */
	r = call("POST", admin, "{\"name\":\"bad\xc3\",\"isOrg\":true}", ACCOUNTS);
	expect_status(r, 400);
	ck_assert_msg(jstr(r->json, "errors.0.code") != NULL, "%s: %s", r->what, r->body);
	expect_nothing_stored(total);
}
END_TEST

/* A create body for org `name`, padded with spaces to exactly `size` bytes: valid JSON. */
static const char *padded_body(const char *name, size_t size)
{
	const char *head = jbody("{s:s, s:b}", "name", name, "isOrg", 1);
	char *body = malloc(size + 1);

	ck_assert_ptr_nonnull(body);
	memset(body, ' ', size);
	memcpy(body, head, strlen(head));
	body[size] = '\0';
	return keep(body);
}

START_TEST(test_payload_too_large)
{
	static const char *const chunked[] = {"Transfer-Encoding: chunked", NULL};
	long long total = account_total();

	/* announced by Content-Length */
	expect_error(call("POST", admin, padded_body("big-length", MIB + 1), ACCOUNTS), 413,
		     "PAYLOAD_TOO_LARGE", NULL);
	expect_nothing_stored(total);
	/* not announced: chunked, so only the bytes tell */
	expect_error(call_h("POST", admin, padded_body("big-chunked", MIB + 1), chunked, ACCOUNTS),
		     413, "PAYLOAD_TOO_LARGE", NULL);
	expect_nothing_stored(total);
	expect_error(call("POST", NULL, padded_body("big-login", 3 * MIB), "/auth/login"), 413,
		     "PAYLOAD_TOO_LARGE", NULL);
	expect_absent("big-length");
	expect_absent("big-chunked");
	/* exactly 1 MiB is within the limit */
	expect_status(call("POST", admin, padded_body("big-ok", MIB), ACCOUNTS), 201);
	expect_status(call_h("POST", admin, padded_body("big-ok-chunked", MIB), chunked, ACCOUNTS),
		      201);
	ck_assert_int_eq(account_total(), total + 2);
}
END_TEST

START_TEST(test_unsupported_media_type)
{
	static const char *const xml[] = {"Content-Type: application/xml", NULL};
	static const char *const html[] = {"Content-Type: text/html", NULL};
	static const char *const json_utf8[] = {"Content-Type: application/json; charset=utf-8",
						NULL};
	long long total = account_total();
	const char *body = jbody("{s:s, s:b}", "name", "mt-org", "isOrg", 1);

	expect_error(call_h("POST", admin, body, xml, ACCOUNTS), 415, "UNSUPPORTED_MEDIA_TYPE",
		     NULL);
	expect_error(call_h("POST", admin, body, html, ACCOUNTS), 415, "UNSUPPORTED_MEDIA_TYPE",
		     NULL);
	expect_error(call_h("POST", NULL,
			    jbody("{s:s, s:s}", "username", "admin", "password", ADMIN_PW), xml,
			    "/auth/login"),
		     415, "UNSUPPORTED_MEDIA_TYPE", NULL);
	expect_nothing_stored(total);
	expect_absent("mt-org");
	expect_status(call_h("POST", admin, body, json_utf8, ACCOUNTS), 201);
}
END_TEST

START_TEST(test_unknown_routes_and_methods)
{
	struct reply *r;
	const char *allow;

	expect_error(call("GET", NULL, NULL, "/nope"), 404, "NOT_FOUND", NULL);
	expect_error(call("GET", admin, NULL, "/enzi/v0/nothing"), 404, "NOT_FOUND", NULL);
	expect_error(call("GET", admin, NULL, ACCOUNTS "/admin/nothing"), 404, "NOT_FOUND", NULL);
	expect_error(call("POST", admin, "{}", "/enzi/v0/accounts/a/b/c/d/e/f"), 404, "NOT_FOUND",
		     NULL);
	r = call("PUT", NULL, "{}", "/_ping");
	expect_error(r, 405, "METHOD_NOT_ALLOWED", NULL);
	allow = header(r, "Allow");
	ck_assert_msg(allow != NULL && strstr(allow, "GET") != NULL, "Allow: %s",
		      allow ? allow : "absent");
	r = call("DELETE", admin, NULL, ACCOUNTS);
	expect_error(r, 405, "METHOD_NOT_ALLOWED", NULL);
	allow = header(r, "Allow");
	ck_assert_msg(allow != NULL && strstr(allow, "GET") && strstr(allow, "POST"), "Allow: %s",
		      allow ? allow : "absent");
	r = call("POST", admin, "{}", ACCOUNTS "/admin");
	expect_error(r, 405, "METHOD_NOT_ALLOWED", NULL);
	allow = header(r, "Allow");
	ck_assert_msg(allow != NULL && strstr(allow, "GET") && strstr(allow, "PATCH") &&
			  strstr(allow, "DELETE"),
		      "Allow: %s", allow ? allow : "absent");
	r = call("FOO", NULL, NULL, "/_ping");
	expect_error(r, 405, "METHOD_NOT_ALLOWED", NULL);
	ck_assert_msg(header(r, "Allow") != NULL, "405 without Allow");
	r = call("GET", NULL, NULL, "/auth/login");
	expect_error(r, 405, "METHOD_NOT_ALLOWED", NULL);
	ck_assert_msg(header(r, "Allow") != NULL, "405 without Allow");
	expect_alive();
}
END_TEST

START_TEST(test_long_path)
{
	char path[5001];

	path[0] = '/';
	memset(path + 1, 'p', sizeof(path) - 2);
	path[sizeof(path) - 1] = '\0';
	expect_error(call("GET", admin, NULL, path), 404, "NOT_FOUND", NULL);
	memcpy(path, ACCOUNTS "/", strlen(ACCOUNTS "/"));
	expect_status(call("GET", admin, NULL, path), 404);
	expect_alive();
}
END_TEST

#define FFFD "\xef\xbf\xbd" /* U+FFFD, the replacement character */

/* s followed by n é (two bytes each). */
static const char *with_e_acute(const char *s, int n)
{
	size_t len = strlen(s);
	char *text = malloc(len + 2 * (size_t)n + 1);

	ck_assert_ptr_nonnull(text);
	memcpy(text, s, len);
	for (int i = 0; i < n; i++)
		memcpy(text + len + 2 * (size_t)i, "\xc3\xa9", 2);
	text[len + 2 * (size_t)n] = '\0';
	return keep(text);
}

/*
 * Errors quote what the client sent: bytes that are not UTF-8 (percent-
 * decoded from the URL) and text cut to a bound still give a JSON error.
 */
START_TEST(test_errors_quote_text_that_is_not_utf8)
{
	const char *key = with_e_acute("a", 60);
	struct reply *r;

	/* an unknown key is quoted up to 100 bytes, which end inside its 50th é */
	r = call("POST", admin, jbody("{s:s, s:i}", "name", "nu-org", key, 1), ACCOUNTS);
	expect_error(r, 400, "INVALID_FORM", key);
	ck_assert_str_eq(jstr(r->json, "errors.0.message"),
			 fmt("%s: unknown field", with_e_acute("a", 49)));
	expect_absent("nu-org");
	r = call("GET", admin, NULL, ACCOUNTS "/%ff");
	expect_error(r, 404, "NOT_FOUND", NULL);
	ck_assert_str_eq(jstr(r->json, "errors.0.message"), "no account \"" FFFD "\"");
	r = call("GET", admin, NULL, "/nope%ff");
	expect_error(r, 404, "NOT_FOUND", NULL);
	ck_assert_str_eq(jstr(r->json, "errors.0.message"), "no such endpoint: GET /nope" FFFD);
	expect_error(call("GET", admin, NULL, "/roles/%c0%af"), 404, "NOT_FOUND", NULL);
	r = call("GET", NULL, NULL, "/_ping?%ff=a%00b");
	expect_error(r, 400, "INVALID_FORM", FFFD);
	ck_assert_str_eq(jstr(r->json, "errors.0.message"), FFFD ": must not contain NUL bytes");
	expect_alive();
}
END_TEST

/* ---- secrets (SPEC §3, DESIGN "Secrets") ---- */

#define AUDIT_PW "Audit-Secret-Pw-1"
#define AUDIT_WRONG_PW "Audit-Wrong-Pw-2"

static bool file_holds(const char *path, const char *needle)
{
	size_t len = 0;
	char *data = it_read_file(path, &len);
	bool found = data != NULL && memmem(data, len, needle, strlen(needle)) != NULL;

	free(data);
	return found;
}

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

/* ---- the process: restart, signals, first start (SPEC §1) ---- */

static void expect_clean_exit(int status, const char *how)
{
	ck_assert_msg(status != -1, "%s: authd was not running", how);
	ck_assert_msg(WIFEXITED(status), "%s: authd was killed by signal %d", how,
		      WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	ck_assert_msg(WEXITSTATUS(status) == 0, "%s: authd exited with %d", how,
		      WEXITSTATUS(status));
}

/* Starts a server of this test's own; the exit hook stops it if the test fails. */
static void start_own(const char *config, const char *admin_password)
{
	srv = authd_new(config);
	ck_assert_msg(srv != NULL, "cannot make a data dir");
	ck_assert_msg(authd_start(srv, admin_password) == 0,
		      "authd did not start; its log is above");
}

START_TEST(test_restart_keeps_state)
{
	const char *token, *user_token, *first_log;
	struct reply *r;

	start_own(main_config, ADMIN_PW);
	first_log = keep(strdup(srv->log));
	token = login_as("admin", ADMIN_PW);
	admin = (char *)token;
	create_user("rs-user");
	create_org("rs-org");
	expect_status(
	    call("POST", token, jbody("{s:s}", "name", "rs-team"), ACCOUNTS "/rs-org/teams"), 201);
	user_token = login_as("rs-user", USER_PW);
	expect_clean_exit(authd_stop(srv), "SIGTERM");
	/* a different AUTHD_ADMIN_PASSWORD must not matter: the first admin exists */
	ck_assert_msg(authd_start(srv, "Other-Admin-Pw-9") == 0, "authd did not restart");
	expect_status(call("GET", token, NULL, ACCOUNTS "/rs-user"), 200);
	expect_status(call("GET", user_token, NULL, ACCOUNTS "/rs-user"), 200);
	expect_status(call("GET", token, NULL, team_path("rs-org", "rs-team")), 200);
	login_as("rs-user", USER_PW);
	login_as("admin", ADMIN_PW);
	expect_error(try_login("admin", "Other-Admin-Pw-9"), 401, "UNAUTHORIZED", NULL);
	r = call("GET", token, NULL, ACCOUNTS "?filter=admins");
	expect_status(r, 200);
	ck_assert_uint_eq(json_array_size(jpath(r->json, "accounts")), 1);
	ck_assert_int_eq(jint(r->json, "usersCount", -1), 2);
	ck_assert_msg(file_holds(first_log, "created the first admin"),
		      "the first start did not report the first admin");
	ck_assert_msg(!file_holds(srv->log, "created the first admin"),
		      "the restart ran the first-admin bootstrap again");
	/* a logout before a restart stays a logout */
	expect_status(call("POST", user_token, NULL, "/auth/logout"), 204);
	expect_clean_exit(authd_stop(srv), "SIGTERM");
	ck_assert_msg(authd_start(srv, ADMIN_PW) == 0, "authd did not restart");
	expect_error(call("GET", user_token, NULL, ACCOUNTS "/rs-user"), 401, "UNAUTHORIZED", NULL);
	expect_clean_exit(authd_stop(srv), "SIGTERM");
	authd_free(srv);
}
END_TEST

START_TEST(test_signals_exit_zero)
{
	start_own(NULL, ADMIN_PW);
	/* a client keeps its connection open across the stop */
	admin = (char *)login_as("admin", ADMIN_PW);
	expect_status(call("GET", admin, NULL, ACCOUNTS), 200);
	expect_clean_exit(authd_stop_with(srv, SIGTERM), "SIGTERM");
	ck_assert_msg(authd_start(srv, ADMIN_PW) == 0, "authd did not restart");
	expect_status(call("GET", admin, NULL, ACCOUNTS), 200);
	expect_clean_exit(authd_stop_with(srv, SIGINT), "SIGINT");
	/* idle, with no connection at all */
	ck_assert_msg(authd_start(srv, ADMIN_PW) == 0, "authd did not restart");
	expect_clean_exit(authd_stop_with(srv, SIGTERM), "SIGTERM when idle");
	authd_free(srv);
}
END_TEST

/* A failing login for name, sent from a child process; its pid (exit 0: it got its 401). */
static pid_t slow_login_async(const char *name)
{
	const char *body = jbody("{s:s, s:s}", "username", name, "password", "Wrong-Passw0rd-S");
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct reply r;

		http_call(srv, "POST", "/auth/login", NULL, body, NULL, &r);
		_exit(r.status == 401 ? 0 : r.status == 0 ? 2 : 1);
	}
	return pid;
}

/*
 * SPEC §1: on SIGTERM, stop accepting, finish in-flight requests,
 * checkpoint, exit 0. Failed logins past the second are slowed (250 ms
 * each, up to 1 s), which makes a request that is still running when the
 * signal comes.
 */
START_TEST(test_sigterm_drains)
{
	struct stat st;
	struct reply ping;
	pid_t slow;

	start_own(main_config, ADMIN_PW);
	admin = (char *)login_as("admin", ADMIN_PW);
	create_user("dr-user");
	for (int i = 0; i < 6; i++)
		expect_status(try_login("dr-user", "Wrong-Passw0rd-S"), 401);
	slow = slow_login_async("dr-user");
	usleep(400 * 1000);
	ck_assert_int_eq(kill(srv->pid, SIGTERM), 0);
	usleep(150 * 1000);
	/* no new connections while draining */
	http_close();
	http_call(srv, "GET", "/_ping", NULL, NULL, NULL, &ping);
	ck_assert_msg(ping.status == 0, "a new connection was served after SIGTERM: %ld",
		      ping.status);
	reply_free(&ping);
	expect_clean_exit(authd_stop(srv), "SIGTERM with a request in flight");
	ck_assert_msg(exit_code(slow) == 0, "the in-flight login did not get its 401");
	/* checkpointed: the write-ahead log is empty or gone */
	ck_assert_msg(stat(fmt("%s/authd.db-wal", srv->dir), &st) != 0 || st.st_size == 0,
		      "authd.db-wal holds %lld bytes after a clean stop", (long long)st.st_size);
	authd_free(srv);
}
END_TEST

START_TEST(test_first_start_generated_password)
{
	const char *path, *password;
	struct stat st;
	char *text;

	start_own(NULL, NULL);
	path = fmt("%s/initial-admin-password", srv->dir);
	ck_assert_msg(stat(path, &st) == 0, "no %s", path);
	ck_assert_msg((st.st_mode & 07777) == 0600, "%s has mode %o", path, st.st_mode & 07777);
	text = it_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	keep(text);
	text[strcspn(text, "\r\n")] = '\0';
	password = text;
	ck_assert_uint_ge(strlen(password), 12);
	admin = (char *)login_as("admin", password);
	ck_assert_int_eq(jbool(get_account("admin"), "isAdmin"), 1);
	/* the path is printed, the password is not */
	ck_assert_msg(file_holds(srv->log, path), "the log does not name %s", path);
	ck_assert_msg(!file_holds(srv->log, password), "the log holds the generated password");
	expect_clean_exit(authd_stop(srv), "SIGTERM");
	authd_free(srv);
}
END_TEST

/* Runs authd to its end with args; its wait status, and its output in *out. */
static int run_once(const char *log, const char *admin_password, const char *const *args,
		    const char **out)
{
	int status = authd_run_once(args, admin_password, log);

	*out = keep(it_read_file(log, NULL));
	return status;
}

static void expect_refused(int status, const char *out, const char *what)
{
	ck_assert_msg(status != -1, "%s: authd started instead of refusing; output: %s", what, out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		      "%s: expected a non-zero exit, got status %d; output: %s", what, status, out);
}

/* SPEC §1: a bad config stops start-up with a message naming the key and the file. */
START_TEST(test_config_refusals)
{
	static const struct {
		const char *json, *key;
	} bad[] = {
	    {"{\"bogusKey\":1}", "bogusKey"},
	    {"{\"loginThrottle\":{\"maxFailures\":\"3\"}}", "maxFailures"},
	    {"{\"loginThrottle\":{\"maxFailures\":3,\"extra\":1}}", "extra"},
	    {"{\"session\":{\"idleMinutes\":0}}", "idleMinutes"},
	    {"{\"listen\":8443}", "listen"},
	    {"{", NULL},
	    {"[]", NULL},
	};
	struct authd *d = authd_new(NULL);
	const char *data, *listen, *out;
	int status;

	ck_assert_ptr_nonnull(d);
	srv = d;
	data = fmt("%s/data", d->dir);
	listen = fmt("127.0.0.1:%d", it_free_port());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *cfg = fmt("%s/bad-%zu.json", d->dir, i);
		const char *args[] = {"--config", cfg,	  "--data-dir", data,
				      "--listen", listen, NULL};

		ck_assert_int_eq(it_write_file(cfg, bad[i].json), 0);
		status = run_once(fmt("%s/bad-%zu.log", d->dir, i), ADMIN_PW, args, &out);
		expect_refused(status, out, bad[i].json);
		ck_assert_msg(strstr(out, cfg) != NULL,
			      "config %s: the message does not name %s: %s", bad[i].json, cfg, out);
		ck_assert_msg(bad[i].key == NULL || strstr(out, bad[i].key) != NULL,
			      "config %s: the message does not name %s: %s", bad[i].json,
			      bad[i].key, out);
	}
	{
		const char *cfg = fmt("%s/missing.json", d->dir);
		const char *args[] = {"--config", cfg,	  "--data-dir", data,
				      "--listen", listen, NULL};

		status = run_once(fmt("%s/missing.log", d->dir), ADMIN_PW, args, &out);
		expect_refused(status, out, "a missing config file");
		ck_assert_msg(strstr(out, cfg) != NULL, "the message does not name %s: %s", cfg,
			      out);
	}
	/* refused before anything was made */
	ck_assert_msg(access(fmt("%s/authd.db", data), F_OK) != 0,
		      "a refused start made a database");
	authd_free(d);
}
END_TEST

START_TEST(test_command_line)
{
	static const char *const version[] = {"--version", NULL}, *const help[] = {"--help", NULL};
	static const char *const unknown[] = {"--bogus", NULL}, *const extra[] = {"extra", NULL};
	struct authd *d = authd_new(NULL);
	const char *out, *data, *listen;
	int status;

	ck_assert_ptr_nonnull(d);
	srv = d;
	status = run_once(fmt("%s/version.log", d->dir), NULL, version, &out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "--version: status %d",
		      status);
	ck_assert_msg(strncmp(out, "authd ", 6) == 0, "--version printed: %s", out);
	status = run_once(fmt("%s/help.log", d->dir), NULL, help, &out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "--help: status %d", status);
	ck_assert_msg(strstr(out, "usage") != NULL && strstr(out, "--config") != NULL,
		      "--help printed: %s", out);
	expect_refused(run_once(fmt("%s/bogus.log", d->dir), NULL, unknown, &out), out, "--bogus");
	expect_refused(run_once(fmt("%s/extra.log", d->dir), NULL, extra, &out), out, "extra");
	data = fmt("%s/data", d->dir);
	listen = fmt("127.0.0.1:%d", it_free_port());
	{
		const char *args[] = {"--log-level", "loud", "--data-dir", data,
				      "--listen",    listen, NULL};

		expect_refused(run_once(fmt("%s/level.log", d->dir), ADMIN_PW, args, &out), out,
			       "--log-level loud");
		ck_assert_msg(strstr(out, "loud") != NULL,
			      "the message does not name the level: %s", out);
	}
	{
		const char *args[] = {"--listen", "127.0.0.1:notaport", "--data-dir", data, NULL};

		expect_refused(run_once(fmt("%s/listen.log", d->dir), ADMIN_PW, args, &out), out,
			       "--listen 127.0.0.1:notaport");
	}
	{
		/* a first admin password that breaks the password rules is not taken */
		const char *args[] = {"--data-dir", data, "--listen", listen, NULL};

		expect_refused(run_once(fmt("%s/weak.log", d->dir), "short", args, &out), out,
			       "AUTHD_ADMIN_PASSWORD=short");
		ck_assert_msg(strstr(out, "AUTHD_ADMIN_PASSWORD") != NULL,
			      "the message does not name AUTHD_ADMIN_PASSWORD: %s", out);
	}
	authd_free(d);
}
END_TEST

/* SPEC §1: --listen and --data-dir override the config file's listen and dataDir. */
START_TEST(test_flags_override_config)
{
	struct authd *d = authd_new(NULL);
	const char *elsewhere;

	ck_assert_ptr_nonnull(d);
	srv = d;
	elsewhere = fmt("%s/elsewhere", d->dir);
	snprintf(d->config, sizeof(d->config), "%s/override.json", d->dir);
	ck_assert_int_eq(
	    it_write_file(d->config,
			  fmt("{\"listen\":\"127.0.0.1:9\",\"dataDir\":\"%s\"}", elsewhere)),
	    0);
	ck_assert_msg(authd_start(d, ADMIN_PW) == 0, "authd did not start; its log is above");
	expect_alive();
	ck_assert_msg(access(elsewhere, F_OK) != 0, "the config's dataDir was used");
	ck_assert_msg(access(fmt("%s/authd.db", d->dir), F_OK) == 0, "no database in --data-dir");
	expect_clean_exit(authd_stop(d), "SIGTERM");
	authd_free(d);
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
	tc = server_case("secrets", setup_main, teardown_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_audit_log_keeps_no_passwords);
	tcase_add_test(tc, test_answers_hold_no_hashes);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *accounts_suite(void)
{
	Suite *s = suite_create("accounts");
	TCase *tc = server_case("accounts", setup_main, teardown_server, TEST_TIMEOUT);

	tcase_add_test(tc, test_create_user_and_org);
	tcase_add_test(tc, test_create_refusals);
	tcase_add_test(tc, test_duplicate_names);
	tcase_add_test(tc, test_get_by_name_and_id);
	tcase_add_test(tc, test_list_filters);
	tcase_add_test(tc, test_list_unknown_filter);
	tcase_add_test(tc, test_list_paging);
	tcase_add_test(tc, test_list_bad_limits);
	tcase_add_test(tc, test_accounts_alias);
	tcase_add_test(tc, test_patch_fields);
	tcase_add_test(tc, test_deactivate_user);
	tcase_add_test(tc, test_delete_account);
	tcase_add_test(tc, test_name_like_an_id);
	suite_add_tcase(s, tc);
	tc = server_case("admin-race", setup_main, teardown_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_concurrent_demotions);
	suite_add_tcase(s, tc);
	/* these two change who the admins are: a server of their own, in this order */
	tc = server_case("last-admin", setup_main, teardown_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_last_admin_refused);
	tcase_add_test(tc, test_second_admin_allows_demotion);
	suite_add_tcase(s, tc);
	tc = server_case("permissions", setup_main, teardown_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_plain_user_limits);
	tcase_add_test(tc, test_org_member_rights);
	tcase_add_test(tc, test_org_and_team_admin_rights);
	tcase_add_test(tc, test_users_may_leave);
	suite_add_tcase(s, tc);
	tc = server_case("passwords", setup_main, teardown_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_change_own_password);
	tcase_add_test(tc, test_change_password_refusals);
	tcase_add_test(tc, test_admin_sets_password);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *orgs_suite(void)
{
	Suite *s = suite_create("orgs");
	TCase *tc = server_case("teams", setup_main, teardown_server, TEST_TIMEOUT);

	tcase_add_test(tc, test_team_crud);
	tcase_add_test(tc, test_team_form_refusals);
	tcase_add_test(tc, test_team_members_join_org);
	tcase_add_test(tc, test_member_put_without_body);
	tcase_add_test(tc, test_member_refusals);
	tcase_add_test(tc, test_org_member_delete_leaves_teams);
	tcase_add_test(tc, test_deletes_cascade);
	tcase_add_test(tc, test_member_list_paging);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *input_suite(void)
{
	Suite *s = suite_create("input");
	TCase *tc = server_case("bad-input", setup_main, teardown_server, TEST_TIMEOUT);

	tcase_add_test(tc, test_malformed_json);
	tcase_add_test(tc, test_json_not_object);
	tcase_add_test(tc, test_empty_body);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_unknown_fields);
	tcase_add_test(tc, test_invalid_names);
	tcase_add_test(tc, test_names_count_characters);
	tcase_add_test(tc, test_payload_too_large);
	tcase_add_test(tc, test_unsupported_media_type);
	tcase_add_test(tc, test_unknown_routes_and_methods);
	tcase_add_test(tc, test_long_path);
	tcase_add_test(tc, test_errors_quote_text_that_is_not_utf8);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *process_suite(void)
{
	Suite *s = suite_create("process");
	TCase *tc = server_case("lifecycle", NULL, NULL, TEST_TIMEOUT);

	tcase_add_test(tc, test_restart_keeps_state);
	tcase_add_test(tc, test_signals_exit_zero);
	tcase_add_test(tc, test_sigterm_drains);
	tcase_add_test(tc, test_first_start_generated_password);
	tcase_add_test(tc, test_config_refusals);
	tcase_add_test(tc, test_command_line);
	tcase_add_test(tc, test_flags_override_config);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *kept;
	SRunner *sr;
	int failed;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || it_workdir_init() != 0) {
		fprintf(stderr,
			"cannot set up: curl_global_init or the temporary directory failed\n");
		return EXIT_FAILURE;
	}
	sr = srunner_create(auth_suite());
	srunner_add_suite(sr, accounts_suite());
	srunner_add_suite(sr, orgs_suite());
	srunner_add_suite(sr, input_suite());
	srunner_add_suite(sr, process_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	kept = it_workdir_remove();
	if (kept != NULL)
		printf("data dirs and server logs kept in %s\n", kept);
	else if (failed != 0)
		printf("to keep the data dirs and server logs, run again with AUTHD_TEST_KEEP=1\n");
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
