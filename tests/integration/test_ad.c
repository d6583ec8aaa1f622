/*
 * Integration tests against a real Active Directory, Samba's AD domain
 * controller (provisioned once for the suite, stopped by pid): logins by
 * sAMAccountName over LDAPS and by userPrincipalName over StartTLS, a simple
 * bind without TLS refused as AD refuses it, objectGUID as the directory id, a
 * user moved between OUs who logs in at once, a team synced from a group of
 * 1,600 members with its member-removal guard, and a group of a group. Exits
 * 77 (skipped) where Samba's DC cannot run.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "samba.h"
#include "slapd.h"

#define ADMIN_PW "Admin-Passw0rd-AD"
#define ACCOUNTS "/enzi/v0/accounts"
#define LDAP_CONFIG "/enzi/v0/config/auth/ldap"
#define TRY_LOGIN LDAP_CONFIG "/tryLogin"
#define JOBS "/enzi/v0/jobs"
#define PEOPLE "OU=people," SAMBA_BASE
#define STAFF "OU=staff," PEOPLE
#define MOVED "OU=moved," PEOPLE
#define GROUPS "OU=groups," SAMBA_BASE
#define MANY "OU=many," SAMBA_BASE
#define DEVS "CN=devs," GROUPS
#define ALL "CN=all," GROUPS
#define NMANY 1600 /* more than the 1,500 values Windows' AD answers at once */
#define TEST_TIMEOUT 300
#define JOB_SECONDS 240
#define SYNC "{\"action\":\"ldap-sync\"}"
#define FORCED "{\"action\":\"ldap-sync\",\"force\":true}"

#define call(method, token, body, ...) call_to(srv, method, token, body, __VA_ARGS__)

static struct samba *dc;
static const char *const people[] = {"alice", "bob", "carol", "dave", "erin"};

/* A password that meets AD's complexity rules, never found in a log. */
static const char *password_of(const char *name)
{
	return fmt("Pw-%s-7x", name);
}

/* ---- the directory, loaded once for the suite ---- */

static char *directory_ldif(void)
{
	char *text = NULL, name[16], pw[32], **members = calloc(NMANY, sizeof(*members));
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert(f != NULL && members != NULL);
	samba_ou(f, PEOPLE);
	samba_ou(f, STAFF);
	samba_ou(f, MOVED);
	samba_ou(f, GROUPS);
	samba_ou(f, MANY);
	for (size_t i = 0; i < sizeof(people) / sizeof(people[0]); i++) {
		snprintf(pw, sizeof(pw), "Pw-%s-7x", people[i]);
		samba_user(f, people[i], PEOPLE, pw);
	}
	samba_group(f, DEVS, (const char *const[]){"CN=alice," PEOPLE, "CN=bob," PEOPLE}, 2);
	/* the 1,600 cannot log in (no password): they are read, never bound as */
	for (int i = 0; i < NMANY; i++) {
		snprintf(name, sizeof(name), "m%04d", i);
		samba_user(f, name, MANY, NULL);
		ck_assert(asprintf(&members[i], "CN=%s," MANY, name) > 0);
	}
	samba_group(f, ALL, (const char *const *)members, NMANY);
	for (int i = 0; i < NMANY; i++)
		free(members[i]);
	free(members);
	ck_assert(fclose(f) == 0);
	return text;
}

static void start_dc(void)
{
	double t0 = it_now(), t1;
	char *ldif;

	ck_assert_msg(slapd_test_ca(suite_dir) == 0, "the test CA");
	dc = samba_new(suite_dir);
	ck_assert_msg(dc != NULL, "no Samba instance dir");
	ck_assert_msg(samba_provision(dc, suite_dir) == 0, "provisioning failed (see above)");
	t1 = it_now();
	ldif = directory_ldif();
	ck_assert_msg(samba_load(dc, ldif) == 0, "loading the directory failed (see above)");
	free(ldif);
	ck_assert_msg(samba_start(dc) == 0, "samba did not start (see above)");
	fprintf(stderr,
		"Samba AD DC: provisioned in %.1f s, %d users loaded in %.1f s, up after %.1f s\n",
		t1 - t0, NMANY + 5, it_now() - t1, it_now() - t0);
}

static void stop_dc(void)
{
	samba_free(dc);
	dc = NULL;
}

static void setup_each(void)
{
	start_server(NULL, ADMIN_PW);
}

static void change_at(int line, const char *ldif)
{
	ck_assert_msg(samba_modify(dc, ldif) == 0, "line %d: ldapmodify refused:\n%s", line, ldif);
}
#define change(ldif) change_at(__LINE__, ldif)

static const char *guid_of(const char *dn)
{
	char out[40];

	ck_assert_msg(samba_guid(dc, dn, out, sizeof(out)) == 0, "no objectGUID read for %s", dn);
	return fmt("%s", out);
}

/* ---- settings ---- */

/*
 * Reader Administrator over url (ldaps://, or ldap:// with StartTLS), trusting
 * the DC's CA; one user search under base by name_attr; objectGUID as the id.
 */
static json_t *settings(const char *url, bool start_tls, const char *base, const char *name_attr,
			bool jit)
{
	return keep_json(json_pack(
	    "{s:s, s:b, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:b}], s:b, s:i, s:i}",
	    "serverURL", url, "startTLS", start_tls, "rootCerts", read_text(dc->ca), "readerDN",
	    dc->admin_dn, "readerPassword", dc->admin_pw, "uniqueIDAttr", "objectGUID",
	    "userSearchConfigs", "baseDN", base, "usernameAttr", name_attr, "fullNameAttr",
	    "displayName", "filter", "(objectClass=user)", "scopeSubtree", 1, "jitUserProvisioning",
	    jit, "maxDeactivationPercent", 10, "timeoutSeconds", 30));
}

static const char *dumps(json_t *j)
{
	return keep(json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS));
}

static void use_ldap(json_t *s)
{
	expect_status(call("PUT", admin, dumps(s), LDAP_CONFIG), 200);
	expect_status(call("PUT", admin, "{\"backend\":\"ldap\"}", "/enzi/v0/config/auth"), 200);
}

static struct reply *login(const char *user, const char *password)
{
	return call("POST", NULL, jbody("{s:s, s:s}", "username", user, "password", password),
		    "/auth/login");
}

static json_t *account(const char *name)
{
	struct reply *r = call("GET", admin, NULL, ACCOUNTS "/%s", name);

	expect_status(r, 200);
	return r->json;
}

static const char *ldap_id_of(const char *name)
{
	return store_value_of(srv, fmt("SELECT ldap_id FROM accounts WHERE name = '%s'", name));
}

static long team_size(const char *team)
{
	return atol(store_value_of(srv, fmt("SELECT count(*) FROM team_members m JOIN teams t ON "
					    "t.id = m.team_id WHERE t.name = '%s'",
					    team)));
}

/* ---- jobs ---- */

static json_t *job_fetch(const char *id)
{
	char path[160];
	struct reply r;
	json_t *j;

	snprintf(path, sizeof(path), JOBS "/%s", id);
	ck_assert_msg(http_call(srv, "GET", path, admin, NULL, NULL, &r) == 0 && r.status == 200,
		      "GET %s: %ld", path, r.status);
	j = json_incref(r.json);
	reply_free(&r);
	return j;
}

static const char *job_log(const char *id)
{
	struct reply *r = call("GET", admin, NULL, JOBS "/%s/logs", id);

	expect_status(r, 200);
	expect_lacks(r->body, dc->admin_pw, "the job log");
	expect_lacks(r->body, "Pw-", "the job log");
	return r->body;
}

/* Runs a job to its end, which must be `status`; the job. */
static json_t *run_job_at(int line, const char *body, const char *status)
{
	struct reply *r = call("POST", admin, body, JOBS);
	double deadline = it_now() + JOB_SECONDS;
	const char *id;
	json_t *j;

	expect_status_at(line, r, 202);
	id = jstr(r->json, "id");
	for (;;) {
		const char *now;

		j = keep_json(job_fetch(id));
		now = jstr(j, "status");
		if (strcmp(now, "waiting") != 0 && strcmp(now, "running") != 0)
			break;
		ck_assert_msg(it_now() < deadline, "line %d: job %s still %s", line, id, now);
		it_sleep_ms(50);
	}
	ck_assert_msg(strcmp(jstr(j, "status"), status) == 0,
		      "line %d: job ended %s, expected %s: %s\nlog:\n%.3000s", line,
		      jstr(j, "status"), status, dumps(j), job_log(id));
	return j;
}
#define run_job(body, status) run_job_at(__LINE__, body, status)

static long summary(json_t *job, const char *field)
{
	return (long)jint(job, fmt("summary.%s", field), -1);
}

/* ---- the tests ---- */

/* sAMAccountName over LDAPS: the account is made at first login with its objectGUID. */
START_TEST(test_login_by_sam_account_name_over_ldaps)
{
	struct reply *r;

	use_ldap(settings(dc->ldaps_url, false, PEOPLE, "sAMAccountName", true));
	expect_error(login("alice", password_of("bob")), 401, "UNAUTHORIZED", NULL);
	r = login("alice", password_of("alice"));
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "account.name"), "alice");
	ck_assert_str_eq(jstr(account("alice"), "ldapDN"), "CN=alice," PEOPLE);
	ck_assert_str_eq(jstr(account("alice"), "fullName"), "User alice");
	/* the binary objectGUID, kept in its text form */
	ck_assert_str_eq(ldap_id_of("alice"), guid_of("CN=alice," PEOPLE));

	/* the test login says which server answered */
	r = call(
	    "POST", admin,
	    jbody("{s:s, s:s, s:o}", "username", "dave", "password", password_of("dave"),
		  "ldapSettings",
		  json_deep_copy(settings(dc->ldaps_url, false, PEOPLE, "sAMAccountName", true))),
	    TRY_LOGIN);
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "server"), dc->ldaps_url);
}
END_TEST

/* userPrincipalName over StartTLS; without TLS, AD refuses the simple bind itself. */
START_TEST(test_login_by_user_principal_name_over_starttls)
{
	struct reply *r;

	use_ldap(settings(dc->url, true, PEOPLE, "userPrincipalName", true));
	expect_error(login("bob@" SAMBA_DOMAIN, password_of("alice")), 401, "UNAUTHORIZED", NULL);
	r = login("bob@" SAMBA_DOMAIN, password_of("bob"));
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "account.name"), "bob@" SAMBA_DOMAIN);
	ck_assert_str_eq(ldap_id_of("bob@" SAMBA_DOMAIN), guid_of("CN=bob," PEOPLE));

	r = call("POST", admin,
		 jbody("{s:s, s:s, s:o}", "username", "erin@" SAMBA_DOMAIN, "password",
		       password_of("erin"), "ldapSettings",
		       json_deep_copy(settings(dc->url, false, PEOPLE, "userPrincipalName", true))),
		 TRY_LOGIN);
	expect_error(r, 400, "LDAP_ERROR", NULL);
	expect_has(r->body, "Strong(er) authentication required", "the test login's log");
}
END_TEST

/* Moved to another OU after its first login: the next login finds it, and its DN follows. */
START_TEST(test_moved_user_logs_in_at_once)
{
	const char *id, *audit;

	json_t *j;

	use_ldap(settings(dc->ldaps_url, false, PEOPLE, "sAMAccountName", false));
	j = run_job(SYNC, "done");
	ck_assert_int_eq(summary(j, "created"), 5);
	id = ldap_id_of("carol");
	ck_assert_str_eq(id, guid_of("CN=carol," PEOPLE));
	expect_status(login("carol", password_of("carol")), 200);

	change("dn: CN=carol," PEOPLE "\nchangetype: modrdn\nnewrdn: CN=carol\ndeleteoldrdn: 1\n"
	       "newsuperior: " STAFF "\n\n");
	expect_error(login("carol", password_of("dave")), 401, "UNAUTHORIZED", NULL);
	ck_assert_str_eq(jstr(account("carol"), "ldapDN"), "CN=carol," PEOPLE);
	expect_status(login("carol", password_of("carol")), 200);
	ck_assert_str_eq(jstr(account("carol"), "ldapDN"), "CN=carol," STAFF);
	ck_assert_str_eq(ldap_id_of("carol"), id);
	audit = read_text(fmt("%s/audit.log", srv->dir));
	expect_has(audit, "\"event\":\"account.update\"", "the audit log");
	expect_has(audit, "CN=carol," STAFF, "the audit log");

	/* moved again, between two syncs: the sync follows it by its objectGUID */
	change("dn: CN=carol," STAFF "\nchangetype: modrdn\nnewrdn: CN=carol\ndeleteoldrdn: 1\n"
	       "newsuperior: " MOVED "\n\n");
	j = run_job(SYNC, "done");
	ck_assert_int_eq(summary(j, "updated"), 1);
	ck_assert_int_eq(summary(j, "created"), 0);
	ck_assert_str_eq(jstr(account("carol"), "ldapDN"), "CN=carol," MOVED);
	ck_assert_str_eq(ldap_id_of("carol"), id);
	expect_status(login("carol", password_of("carol")), 200);
}
END_TEST

static void make_team_of(const char *team, const char *group_dn)
{
	expect_status(call("POST", admin, jbody("{s:s}", "name", team), ACCOUNTS "/eng/teams"),
		      201);
	expect_status(call("PUT", admin,
			   jbody("{s:b, s:b, s:s, s:s}", "enableSync", 1, "selectGroupMembers", 1,
				 "groupDN", group_dn, "groupMemberAttr", "member"),
			   ACCOUNTS "/eng/teams/%s/memberSyncConfig", team),
		      200);
}

/*
 * A team of a group of 1,600 members gets them all. Windows' AD answers a request
 * for member with the first 1,500 values, as member;range=0-1499; Samba answers
 * all 1,600 at once, however large the group, but honours a requested range: with
 * memberRangeSize 1500 authd asks as Windows would answer (member;range=0-1499,
 * then member;range=1500-2999, answered member;range=1500-*). Removing more than
 * 10% of the members is refused with nothing changed until forced.
 */
START_TEST(test_team_of_1600_members_and_its_guard)
{
	const char *removals = "", *log;
	json_t *s = settings(dc->ldaps_url, false, MANY, "sAMAccountName", false), *j;

	use_ldap(s);
	j = run_job(SYNC, "done");
	ck_assert_int_eq(summary(j, "created"), NMANY);
	expect_status(call("POST", admin, jbody("{s:s, s:b}", "name", "eng", "isOrg", 1), ACCOUNTS),
		      201);
	make_team_of("all", ALL);
	j = run_job(SYNC, "done");
	ck_assert_int_eq(summary(j, "membersAdded"), NMANY);
	ck_assert_int_eq(team_size("all"), NMANY);
	log = job_log(jstr(j, "id"));
	expect_has(log, ": 1600 members by member\n", "the job log (Samba's one whole answer)");

	/* in ranges of 1,500, as Windows answers them: a sync that kept the first range
	 * only would leave the team with 1,500 */
	json_object_set_new(s, "memberRangeSize", json_integer(1500));
	use_ldap(s);
	make_team_of("ranged", ALL);
	j = run_job(SYNC, "done");
	ck_assert_int_eq(summary(j, "membersAdded"), NMANY);
	ck_assert_int_eq(team_size("ranged"), NMANY);
	expect_has(job_log(jstr(j, "id")), ": 1600 members by member (read in ranges)",
		   "the job log");

	/* 200 of 1,600 is 12.5%, more than 10% */
	for (int i = 0; i < 200; i++)
		removals = fmt("%smember: CN=m%04d," MANY "\n", removals, i);
	change(fmt("dn: " ALL "\nchangetype: modify\ndelete: member\n%s\n", removals));
	j = run_job(SYNC, "errored");
	ck_assert_int_eq(team_size("all"), NMANY);
	ck_assert_int_eq(team_size("ranged"), NMANY);
	expect_has(job_log(jstr(j, "id")),
		   "refused: team eng/all would lose 200 of its 1600 LDAP members", "the job log");
	j = run_job(FORCED, "done");
	ck_assert_int_eq(summary(j, "membersRemoved"), 400);
	ck_assert_int_eq(team_size("all"), NMANY - 200);
	ck_assert_int_eq(team_size("ranged"), NMANY - 200);
}
END_TEST

/*
 * A group whose members are a group and a user, added while the DC runs: with
 * nested groups not followed (the default), the team gets its direct members.
 */
START_TEST(test_group_of_a_group_and_a_user)
{
	const char *outer = "CN=outer," GROUPS;
	json_t *j;

	ck_assert_int_eq(
	    samba_add_group(dc, outer, (const char *const[]){DEVS, "CN=erin," PEOPLE}, 2), 0);
	use_ldap(settings(dc->ldaps_url, false, PEOPLE, "sAMAccountName", false));
	run_job(SYNC, "done");
	expect_status(call("POST", admin, jbody("{s:s, s:b}", "name", "eng", "isOrg", 1), ACCOUNTS),
		      201);
	make_team_of("outer", outer);
	j = run_job(SYNC, "done");
	ck_assert_int_eq(summary(j, "membersAdded"), 1);
	ck_assert_int_eq(team_size("outer"), 1);
	ck_assert_str_eq(store_value_of(srv, "SELECT a.name FROM team_members m JOIN teams t ON "
					     "t.id = m.team_id JOIN accounts a ON a.id = "
					     "m.user_id WHERE t.name = 'outer'"),
			 "erin");
}
END_TEST

/* Whether team holds exactly alice, bob and erin. */
static void expect_alice_bob_erin(const char *team)
{
	ck_assert_int_eq(team_size(team), 3);
	ck_assert_str_eq(store_value_of(srv, fmt("SELECT count(*) FROM team_members m JOIN teams t "
						 "ON t.id = m.team_id JOIN accounts a ON a.id = "
						 "m.user_id WHERE t.name = '%s' AND a.name IN "
						 "('alice', 'bob', 'erin')",
						 team)),
			 "3");
}

/*
 * Nested groups followed on AD by the in-chain rule: a team of a group three
 * levels above its users gets them all, each once, and a loop the directory
 * holds changes nothing; the server, not authd, walks the chain.
 */
START_TEST(test_nested_groups_by_the_in_chain_rule)
{
	const char *outer = "CN=outer2," GROUPS, *top = "CN=top," GROUPS;
	json_t *j;

	ck_assert_int_eq(
	    samba_add_group(dc, outer, (const char *const[]){DEVS, "CN=erin," PEOPLE}, 2), 0);
	/* alice is reached twice: through devs and directly */
	ck_assert_int_eq(
	    samba_add_group(dc, top, (const char *const[]){outer, "CN=alice," PEOPLE}, 2), 0);
	use_ldap(settings(dc->ldaps_url, false, PEOPLE, "sAMAccountName", false));
	run_job(SYNC, "done");
	expect_status(call("POST", admin, jbody("{s:s, s:b}", "name", "eng", "isOrg", 1), ACCOUNTS),
		      201);
	expect_status(call("POST", admin, jbody("{s:s}", "name", "top"), ACCOUNTS "/eng/teams"),
		      201);
	expect_status(
	    call("PUT", admin,
		 jbody("{s:b, s:b, s:s, s:s, s:b}", "enableSync", 1, "selectGroupMembers", 1,
		       "groupDN", top, "groupMemberAttr", "member", "followNestedGroups", 1),
		 ACCOUNTS "/eng/teams/top/memberSyncConfig"),
	    200);
	j = run_job(SYNC, "done");
	ck_assert_int_eq(summary(j, "membersAdded"), 3);
	expect_alice_bob_erin("top");
	expect_has(job_log(jstr(j, "id")), "nested groups by the in-chain rule", "the job log");

	/* devs names top: a loop, which the in-chain rule walks once */
	change(fmt("dn: " DEVS "\nchangetype: modify\nadd: member\nmember: %s\n\n", top));
	j = run_job(SYNC, "done");
	ck_assert_int_eq(summary(j, "membersAdded"), 0);
	ck_assert_int_eq(summary(j, "membersRemoved"), 0);
	expect_alice_bob_erin("top");
}
END_TEST

static Suite *ad_suite(void)
{
	Suite *s = suite_create("ad");
	TCase *tc = server_case("samba", start_dc, stop_dc, TEST_TIMEOUT);

	tcase_add_checked_fixture(tc, setup_each, teardown_server);
	tcase_add_test(tc, test_login_by_sam_account_name_over_ldaps);
	tcase_add_test(tc, test_login_by_user_principal_name_over_starttls);
	tcase_add_test(tc, test_moved_user_logs_in_at_once);
	tcase_add_test(tc, test_team_of_1600_members_and_its_guard);
	tcase_add_test(tc, test_group_of_a_group_and_a_user);
	tcase_add_test(tc, test_nested_groups_by_the_in_chain_rule);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	static Suite *(*const suites[])(void) = {ad_suite, NULL};
	char why[160];

	if (!samba_available(why, sizeof(why))) {
		fprintf(stderr, "skipped: %s\n", why);
		return 77;
	}
	return run_suites("authd-ad", suites, stop_dc);
}
