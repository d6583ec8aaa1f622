/*
 * Integration tests of authd's API, the orgs suite: one real authd in a
 * private data dir, driven over verified HTTPS (SPEC §4).
 * - teams: create, read, rename, delete, their form's refusals;
 * - members of teams and orgs: joining a team joins the org, PUT with and
 *   without a body, refusals, member list paging;
 * - deletes: an org member leaves its teams, deleted users and orgs cascade.
 */
#include <check.h>
#include <string.h>

#include "api_fixtures.h"

/* ---- organizations and teams (SPEC §4) ---- */

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

/* ---- suites ---- */

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

int main(void)
{
	return run_api_suite(orgs_suite);
}
