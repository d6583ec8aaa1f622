/*
 * What the API suites (test_api_*.c) share: the main config and its fixture,
 * requests whose answers never hold a password hash, account helpers, the
 * paging headers, and the main that runs one suite.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "api_fixtures.h"

/*
 * The shared servers get a throttle far above what the tests fail on
 * purpose, so that those failures never lock out a later login; the
 * throttle itself is tested on its own server with small limits.
 */
const char main_config[] =
    "{\"loginThrottle\":{\"maxFailures\":200,\"windowSeconds\":60,\"lockoutSeconds\":1}}";

/* ---- requests and what every answer must satisfy ---- */

struct reply *call_h(const char *method, const char *token, const char *body,
		     const char *const *headers, const char *path)
{
	struct reply *r = call_with(srv, method, path, token, body, headers);

	/* SPEC §4: never a password hash in an answer */
	ck_assert_msg(strstr(r->body, "$argon2") == NULL, "%s: the answer holds a password hash",
		      r->what);
	return r;
}

struct reply *call(const char *method, const char *token, const char *body, const char *path)
{
	return call_h(method, token, body, NULL, path);
}

/* ---- accounts ---- */

json_t *create_account(const char *name, bool is_org, bool is_admin, bool is_active)
{
	const char *body =
	    is_org ? jbody("{s:s, s:b}", "name", name, "isOrg", 1)
		   : jbody("{s:s, s:s, s:b, s:b, s:s}", "name", name, "password", USER_PW,
			   "isAdmin", is_admin, "isActive", is_active, "fullName", "Test User");
	struct reply *r = call("POST", admin, body, ACCOUNTS);

	expect_status(r, 201);
	return r->json;
}

json_t *create_user(const char *name)
{
	return create_account(name, false, false, true);
}

json_t *create_org(const char *name)
{
	return create_account(name, true, false, true);
}

const char *login_as(const char *name, const char *password)
{
	struct reply *r =
	    call("POST", NULL, jbody("{s:s, s:s}", "username", name, "password", password),
		 "/auth/login");

	expect_status(r, 200);
	ck_assert_msg(jstr(r->json, "auth_token") != NULL, "login without auth_token");
	return jstr(r->json, "auth_token");
}

struct reply *try_login(const char *name, const char *password)
{
	return call("POST", NULL, jbody("{s:s, s:s}", "username", name, "password", password),
		    "/auth/login");
}

json_t *get_account(const char *name)
{
	struct reply *r = call("GET", admin, NULL, fmt(ACCOUNTS "/%s", name));

	expect_status(r, 200);
	return r->json;
}

void expect_absent(const char *name)
{
	expect_error(call("GET", admin, NULL, fmt(ACCOUNTS "/%s", name)), 404, "NOT_FOUND", NULL);
}

long long account_total(void)
{
	struct reply *r = call("GET", admin, NULL, ACCOUNTS "?limit=1");

	expect_status(r, 200);
	return jint(r->json, "usersCount", -1000) + jint(r->json, "orgsCount", -1000);
}

void expect_alive(void)
{
	struct reply *r = call("GET", NULL, NULL, "/_ping");

	expect_status(r, 200);
	ck_assert_str_eq(r->body, "OK");
}

/* Whether a list's array (accounts, members, ...) holds an item whose `key` is `name`. */
bool list_has(json_t *list, const char *key, const char *name)
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

/* ---- paging ---- */

/* A query-string value, percent-encoded. */
const char *escape(const char *value)
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
void expect_page_headers(const struct reply *r, const char *next, int limit)
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

/* ---- passwords, teams ---- */

const char *change_pw(const char *old, const char *new_pw)
{
	if (old == NULL)
		return jbody("{s:s}", "newPassword", new_pw);
	return jbody("{s:s, s:s}", "oldPassword", old, "newPassword", new_pw);
}

const char *team_path(const char *org, const char *team)
{
	return fmt(ACCOUNTS "/%s/teams/%s", org, team);
}

/* ---- files and child processes ---- */

bool file_holds(const char *path, const char *needle)
{
	size_t len = 0;
	char *data = it_read_file(path, &len);
	bool found = data != NULL && memmem(data, len, needle, strlen(needle)) != NULL;

	free(data);
	return found;
}

int exit_code(pid_t pid)
{
	int status = 0;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

/* ---- fixtures ---- */

void setup_main(void)
{
	start_server(main_config, ADMIN_PW);
}

/* ---- the main of a suite ---- */

int run_api_suite(Suite *(*make)(void))
{
	const char *kept;
	SRunner *sr;
	int failed;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || it_workdir_init() != 0) {
		fprintf(stderr,
			"cannot set up: curl_global_init or the temporary directory failed\n");
		return EXIT_FAILURE;
	}
	sr = srunner_create(make());
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
