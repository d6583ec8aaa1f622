/*
 * Integration tests of authd's API, the input suite: bad input is refused
 * with the right error and nothing is stored (SPEC §2), on one real authd
 * driven over verified HTTPS.
 * - malformed JSON, JSON that is not an object, empty bodies, deep nesting;
 * - wrong types and unknown fields, on every form;
 * - names: forbidden characters, length in characters, not bytes (SPEC §4);
 * - bodies over 1 MiB, by Content-Length and chunked; media types;
 * - unknown routes and methods (Allow), HEAD and OPTIONS (RFC 9110), long paths, errors
 *   that quote text that is not UTF-8;
 * - request targets over 8 KiB or 256 query parameters (414) and heads over 64 KiB or 256
 *   fields (431), each answered in JSON and then closed, up to the last head libmicrohttpd
 *   can hold, a few bytes or one field apart there; and heads it cannot hold at all.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_fixtures.h"

#define MIB (1024 * 1024)

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

/* RFC 9110: HEAD wherever GET is served, answered alike without the body; OPTIONS says Allow. */
START_TEST(test_head_and_options)
{
	struct reply *get = call("GET", admin, NULL, ACCOUNTS "/admin"), *r;
	const char *allow;

	r = call("HEAD", NULL, NULL, "/_ping");
	expect_status(r, 200);
	ck_assert_str_eq(r->body, "");
	ck_assert_str_eq(header(r, "Content-Length"), "2");
	r = call("HEAD", NULL, NULL, "/");
	expect_status(r, 200);
	ck_assert_ptr_nonnull(strstr(header(r, "Content-Type"), "text/html"));
	r = call("HEAD", admin, NULL, ACCOUNTS "/admin");
	expect_status(r, 200);
	ck_assert_str_eq(r->body, "");
	ck_assert_str_eq(header(r, "Content-Type"), header(get, "Content-Type"));
	ck_assert_str_eq(header(r, "Content-Length"), header(get, "Content-Length"));
	/* the same refusals as GET: no token, no such route, no such account */
	expect_status(call("HEAD", NULL, NULL, ACCOUNTS "/admin"), 401);
	expect_status(call("HEAD", admin, NULL, "/nope"), 404);
	expect_status(call("HEAD", admin, NULL, ACCOUNTS "/nobody"), 404);
	/* a route without GET has no HEAD either */
	r = call("HEAD", NULL, NULL, "/auth/login");
	expect_status(r, 405);
	ck_assert_ptr_null(strstr(header(r, "Allow"), "HEAD"));

	r = call("OPTIONS", NULL, NULL, ACCOUNTS);
	expect_status(r, 204);
	allow = header(r, "Allow");
	ck_assert_msg(allow != NULL && strcmp(allow, "GET, HEAD, POST, OPTIONS") == 0, "Allow: %s",
		      allow ? allow : "absent");
	r = call("OPTIONS", NULL, NULL, "/auth/login");
	expect_status(r, 204);
	ck_assert_str_eq(header(r, "Allow"), "POST, OPTIONS");
	expect_error(call("OPTIONS", NULL, NULL, "/nope"), 404, "NOT_FOUND", NULL);
	/* a 405 lists them too */
	r = call("PUT", NULL, "{}", "/_ping");
	ck_assert_str_eq(header(r, "Allow"), "GET, HEAD, OPTIONS");
	expect_alive();
}
END_TEST

/* n bytes of c after a prefix, kept until the test ends. */
static const char *filled(const char *prefix, char c, size_t n)
{
	size_t len = strlen(prefix);
	char *s = malloc(len + n + 1);

	ck_assert_ptr_nonnull(s);
	memcpy(s, prefix, len);
	memset(s + len, c, n);
	s[len + n] = '\0';
	return keep(s);
}

/* The answer's Connection header says it is the connection's last. */
static void expect_closed_after(const struct reply *r)
{
	const char *conn = header(r, "Connection");

	ck_assert_msg(conn != NULL && strcasecmp(conn, "close") == 0,
		      "%s: Connection: %s, not close", r->what, conn ? conn : "absent");
}

/* SPEC §2: heads over the limits are refused in JSON, before any body is read. */
START_TEST(test_large_heads)
{
	const char *big[] = {NULL, NULL};
	const char *fields[301];
	struct reply *r;
	char name[300][16];

	/* the target as sent, path and query: 8192 bytes are read, one more is not */
	expect_status(call("GET", NULL, NULL, filled("/_ping?q=", 'a', 8192 - 9)), 200);
	r = call("GET", NULL, NULL, filled("/_ping?q=", 'a', 8192 - 8));
	expect_error(r, 414, "URI_TOO_LONG", NULL);
	ck_assert_ptr_nonnull(strstr(jstr(r->json, "errors.0.message"), "8193 bytes"));
	expect_closed_after(r);
	expect_error(call("POST", admin, "{}", filled(ACCOUNTS "?x=", 'a', 20000)), 414,
		     "URI_TOO_LONG", NULL);

	/* 63 KiB of header fields pass; 60 KiB and a 5 KiB path are over 64 KiB */
	big[0] = filled("X-Big: ", 'b', 63 * 1024);
	expect_status(call_h("GET", admin, NULL, big, ACCOUNTS "/admin"), 200);
	big[0] = filled("X-Big: ", 'b', 60 * 1024);
	r = call_h("GET", admin, NULL, big, filled(ACCOUNTS "/admin?q=", 'a', 5 * 1024));
	expect_error(r, 431, "HEADERS_TOO_LARGE", NULL);
	expect_closed_after(r);
	/* before the body: a create refused so creates nothing */
	r = call_h("POST", admin, jbody("{s:s, s:b}", "name", "bigheadorg", "isOrg", 1), big,
		   filled(ACCOUNTS "?q=", 'a', 5 * 1024));
	expect_error(r, 431, "HEADERS_TOO_LARGE", NULL);
	expect_absent("bigheadorg");

	/* 256 fields are read, with curl's own few among them; 300 are not */
	for (int i = 0; i < 300; i++) {
		snprintf(name[i], sizeof(name[i]), "X-F%d: %d", i, i);
		fields[i] = name[i];
	}
	fields[240] = NULL;
	expect_status(call_h("GET", admin, NULL, fields, ACCOUNTS "/admin"), 200);
	fields[240] = name[240];
	fields[300] = NULL;
	r = call_h("GET", admin, NULL, fields, ACCOUNTS "/admin");
	expect_error(r, 431, "HEADERS_TOO_LARGE", NULL);
	ck_assert_ptr_nonnull(strstr(jstr(r->json, "errors.0.message"), "256 fields"));

	/* a HEAD is refused the same, without the body */
	big[0] = filled("X-Big: ", 'b', 70 * 1024);
	r = call_h("HEAD", NULL, NULL, big, "/_ping");
	expect_status(r, 431);
	expect_closed_after(r);
	ck_assert_int_eq(r->len, 0);
	ck_assert_ptr_nonnull(header(r, "Content-Length"));

	/* a head beyond what the HTTP layer can hold is still answered 431, and closed */
	big[0] = filled("X-Big: ", 'b', 200 * 1024);
	r = call_h("GET", admin, NULL, big, "/_ping");
	expect_status(r, 431);
	expect_closed_after(r);
	expect_alive();
}
END_TEST

/* "/_ping?" and n query parameters, the first of them pad bytes long. */
static const char *ping_with_params(int n, size_t pad)
{
	size_t len = strlen("/_ping?p") + pad + 2 * (size_t)n;
	char *s = malloc(len + 1), *p = s;

	ck_assert_ptr_nonnull(s);
	p += sprintf(p, "/_ping?p");
	memset(p, 'x', pad);
	p += pad;
	for (int i = 1; i < n; i++, p += 2)
		memcpy(p, "&a", 2);
	*p = '\0';
	return keep(s);
}

/*
 * libmicrohttpd records each query parameter in the connection's memory
 * before authd sees the head; with no room left it used to close without an
 * answer. authd reads at most 256 and refuses more, however short the target.
 */
START_TEST(test_query_parameters)
{
	static const int many[] = {257, 1000, 2000, 4000};
	struct reply *r;

	expect_status(call("GET", NULL, NULL, ping_with_params(256, 0)), 200);
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++) {
		r = call("GET", NULL, NULL, ping_with_params(many[i], 0));
		expect_error(r, 414, "URI_TOO_LONG", NULL);
		ck_assert_ptr_nonnull(
		    strstr(jstr(r->json, "errors.0.message"), fmt("%d query parameters", many[i])));
		expect_closed_after(r);
	}
	/* a long target with fewer parameters, which used to leave them no room either */
	r = call("GET", NULL, NULL, ping_with_params(255, 120 * 1024));
	expect_error(r, 414, "URI_TOO_LONG", NULL);
	expect_closed_after(r);
	expect_alive();
}
END_TEST

/*
 * One answer to a head at the end of the connection's memory: 431 and a
 * close, in authd's JSON while libmicrohttpd holds the head, in its HTML
 * once it cannot; *past says the HTML was seen, after which JSON never is.
 */
static void expect_refused_at_limit(const struct reply *r, bool *past)
{
	expect_status(r, 431);
	expect_closed_after(r);
	if (r->json == NULL) {
		ck_assert_msg(strstr(r->body, "<html>") != NULL,
			      "%s: neither JSON nor HTML: %.200s", r->what, r->body);
		*past = true;
		return;
	}
	ck_assert_msg(!*past, "%s: JSON after a larger head was answered in HTML", r->what);
	expect_error(r, 431, "HEADERS_TOO_LARGE", NULL);
}

/*
 * libmicrohttpd 0.9.75 builds an answer's head in the memory the request's
 * head left, and closed without an answer when some 200 bytes or fewer were
 * left. Heads across that end, 3 bytes apart in one field, then one field
 * apart, must each be answered.
 */
START_TEST(test_heads_at_the_memory_limit)
{
	enum { FROM = 130200, TO = 131200, STEP = 3, FIELDS_FROM = 1640, FIELDS_TO = 1720 };
	char *big = malloc(strlen("X-Big: ") + TO + 1);
	char(*name)[24] = malloc(FIELDS_TO * sizeof(*name));
	const char **fields = malloc((FIELDS_TO + 1) * sizeof(*fields));
	const char *one[] = {big, NULL};
	bool past = false;

	ck_assert(big != NULL && name != NULL && fields != NULL);
	memcpy(big, "X-Big: ", 7);
	memset(big + 7, 'b', TO);
	for (size_t n = FROM; n <= TO; n += STEP) {
		big[7 + n] = '\0';
		expect_refused_at_limit(call_h("GET", NULL, NULL, one, "/_ping"), &past);
		big[7 + n] = 'b';
	}
	ck_assert_msg(past, "no head up to %d bytes was beyond libmicrohttpd's memory", TO);

	for (int i = 0; i < FIELDS_TO; i++) {
		snprintf(name[i], sizeof(name[i]), "X-F%d: %d", i, i);
		fields[i] = name[i];
	}
	past = false;
	for (int n = FIELDS_FROM; n <= FIELDS_TO; n++) {
		fields[n] = NULL;
		expect_refused_at_limit(call_h("GET", NULL, NULL, fields, "/_ping"), &past);
		if (n < FIELDS_TO)
			fields[n] = name[n];
	}
	ck_assert_msg(past, "no head of up to %d fields was beyond libmicrohttpd's memory",
		      FIELDS_TO);
	free(big);
	free(name);
	free(fields);
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

/* ---- suites ---- */

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
	tcase_add_test(tc, test_head_and_options);
	tcase_add_test(tc, test_large_heads);
	tcase_add_test(tc, test_query_parameters);
	tcase_add_test(tc, test_heads_at_the_memory_limit);
	tcase_add_test(tc, test_long_path);
	tcase_add_test(tc, test_errors_quote_text_that_is_not_utf8);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_api_suite(input_suite);
}
