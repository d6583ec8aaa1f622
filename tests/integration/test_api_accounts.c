/*
 * Integration tests of authd's API, the accounts suite: each test case starts
 * a real authd in a private data dir and drives it over verified HTTPS.
 * - accounts: create, read by name and id, list with filters and paging, the
 *   /accounts alias (SPEC §4);
 * - PATCH and DELETE, deactivation, names that look like ids (SPEC §4);
 * - the last admin: concurrent demotions, every way of losing it refused,
 *   a second admin allowing it (SPEC §4);
 * - who may do what: plain users, org members, org and team admins, users
 *   leaving (the handler comments in api_accounts.c and api_orgs.c);
 * - changePassword, by the user and by an admin (SPEC §4).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api_fixtures.h"

/* ---- accounts: create, read, list (SPEC §4) ---- */

static json_t *list_accounts(const char *filter)
{
	struct reply *r = call("GET", admin, NULL, fmt(ACCOUNTS "?filter=%s&limit=1000", filter));

	expect_status(r, 200);
	ck_assert_msg(json_is_array(jpath(r->json, "accounts")), "no accounts array: %s", r->body);
	return r->json;
}

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

/* ---- suites ---- */

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

int main(void)
{
	return run_api_suite(accounts_suite);
}
