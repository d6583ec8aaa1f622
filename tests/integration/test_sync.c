/*
 * Integration tests of LDAP sync jobs (SPEC §6.5) with real slapd instances
 * and the real authd binary:
 * - users: created, deactivated when gone (their bundles refused); with
 *   just-in-time provisioning on, made at first login and marked missing;
 *   moved and renamed (modrdn) between syncs and between logins, matched by
 *   their entryUUID; an entry made again under a name is not merged, one
 *   restored with its entryUUID is;
 * - teams following their groups, by member and memberUid and by search;
 *   a missing group changes nothing; a group of 1,600 members, one whose
 *   values come in ranges that do not end, and the member-removal guard;
 * - nested groups (followNestedGroups): three levels, two paths to a user,
 *   a loop, a chain past the depth limit, members leaving, the team guard
 *   and the admin sync;
 * - system and org admins, promoted and demoted; never the last active admin;
 * - the safety rules: a directory killed while paging, a wrong base DN, the
 *   deactivation guard, dry runs, authd killed during a job;
 * - a domain of two servers with the same data: the first killed during
 *   logins and during a sync, logins and the next sync go to the second;
 * - the queue: a second job waits, cancel; a just-in-time login syncs the new
 *   user's groups;
 * - the jobs API's and the member sync config's refusals;
 * - on PostgreSQL, three replicas on one store: one queue, a job's log read
 *   on any of them, a cancel from any, a replica killed mid-job; and the
 *   hourly schedule on a faked clock, one job a period, also after a kill.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"
#include "pgcluster.h"
#include "slapd.h"

#define ADMIN_PW "Admin-Passw0rd-Sync"
#define LOCAL_PW "Local-Passw0rd-1"
#define ACCOUNTS "/enzi/v0/accounts"
#define LDAP_CONFIG "/enzi/v0/config/auth/ldap"
#define JOBS "/enzi/v0/jobs"
#define SUFFIX "dc=example,dc=com"
#define PEOPLE "ou=people," SUFFIX
#define MOVED "ou=moved," PEOPLE
#define GROUPS "ou=groups," SUFFIX
#define DEVS "cn=devs," GROUPS
#define POSIX "cn=posix," GROUPS
#define ADMINS "cn=admins," GROUPS
#define ORG_ADMINS "cn=orgadmins," GROUPS
#define PLATFORM "cn=platform," GROUPS /* nested groups (nested_ldif) */
#define BACKEND "cn=backend," GROUPS
#define DB "cn=db," GROUPS
#define STAFF "cn=staff," GROUPS
#define NESTED_ADMINS "cn=nestedadmins," GROUPS
#define DEEPEST 11 /* deep00 > deep01 > ... > deep11: one level more than followed */
#define BIG_DOMAIN "big.example.com"
#define BIG_SUFFIX "dc=big,dc=example,dc=com"
#define BIG_PEOPLE "ou=people," BIG_SUFFIX
#define MANY_SUFFIX "dc=many,dc=example,dc=com"
#define MANY_PEOPLE "ou=people," MANY_SUFFIX
#define MANY_GROUPS "ou=groups," MANY_SUFFIX
#define NMANY 1600	 /* more than the 1,500 values Active Directory answers at once */
#define FIRST_RANGE 1500 /* the values of its first range */
#define NPEOPLE 40
#define NBIG 20000 /* forty pages of 500 */
#define PAGE 500
#define MAX_DEACTIVATION 25 /* percent */
#define TEST_TIMEOUT 150
#define JOB_SECONDS 120
#define SYNC "{\"action\":\"ldap-sync\"}"
#define DRY_RUN "{\"action\":\"ldap-sync\",\"dryRun\":true}"
#define FORCED "{\"action\":\"ldap-sync\",\"force\":true}"

#define call(method, token, body, ...) call_to(srv, method, token, body, __VA_ARGS__)

/* Each test has its own: corp (people and groups), for the outage tests big, for groups many. */
static struct slapd *corp, *big, *many, *replica;

static const char *const tools[] = {"slapd",   "slapadd", "ldapmodify", "ldapsearch",
				    "sqlite3", "curl",	  "unzip",	NULL};

/* ---- the directories ---- */

static void person(FILE *f, const char *uid, const char *parent, const char *extra)
{
	fprintf(f,
		"dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: Person %s\nsn: P\n"
		"userPassword: pw-%s\n%s\n",
		uid, parent, uid, uid, uid, extra);
}

/* A groupOfNames whose members are user<from>..user<to>, by DN. */
static void group(FILE *f, const char *dn, int from, int to)
{
	fprintf(f, "dn: %s\nobjectClass: groupOfNames\ncn: %.*s\n", dn, (int)strcspn(dn + 3, ","),
		dn + 3);
	for (int i = from; i <= to; i++)
		fprintf(f, "member: uid=user%02d,%s\n", i, PEOPLE);
	fprintf(f, "\n");
}

/* A groupOfNames whose members are the users numbered in users ("21 22") and the groups cn'd in
 * groups ("backend db"), by DN. */
static void group_of(FILE *f, const char *cn, const char *users, const char *groups)
{
	char list[256], *save = NULL;

	fprintf(f, "dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n", cn, GROUPS, cn);
	snprintf(list, sizeof(list), "%s", users);
	for (char *u = strtok_r(list, " ", &save); u != NULL; u = strtok_r(NULL, " ", &save))
		fprintf(f, "member: uid=user%s,%s\n", u, PEOPLE);
	snprintf(list, sizeof(list), "%s", groups);
	for (char *g = strtok_r(list, " ", &save); g != NULL; g = strtok_r(NULL, " ", &save))
		fprintf(f, "member: cn=%s,%s\n", g, GROUPS);
	fprintf(f, "\n");
}

/*
 * Nested groups: platform > backend > db, and platform > frontend, user23
 * in both backend and frontend; a loop, loopa > loopb > loopa; deep00 >
 * deep01 > ... > deep11, one level deeper than followed; staff > ops (8
 * people); nestedadmins > admins.
 */
static void nested_ldif(FILE *f)
{
	group_of(f, "platform", "21", "backend frontend");
	group_of(f, "backend", "22 23", "db");
	group_of(f, "frontend", "23 24", "");
	group_of(f, "db", "25", "");
	group_of(f, "loopa", "26", "loopb");
	group_of(f, "loopb", "27", "loopa");
	for (int i = 0; i < DEEPEST; i++)
		group_of(f, fmt("deep%02d", i), "", fmt("deep%02d", i + 1));
	group_of(f, fmt("deep%02d", DEEPEST), "28", "");
	group_of(f, "staff", "39", "ops");
	group_of(f, "ops", "31 32 33 34 35 36 37 38", "");
	group_of(f, "nestedadmins", "29", "admins");
}

/*
 * user01..user40 (user10..user12 with employeeType qa); devs: user01..05;
 * posix (memberUid): user06, user07 and one nobody has; admins: user01,
 * user02; orgadmins: user03; the nested groups of nested_ldif.
 */
static char *corp_ldif(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fprintf(f, "dn: %s\nobjectClass: organizationalUnit\nou: people\n\n", PEOPLE);
	fprintf(f, "dn: %s\nobjectClass: organizationalUnit\nou: moved\n\n", MOVED);
	for (int i = 1; i <= NPEOPLE; i++) {
		char uid[16];

		snprintf(uid, sizeof(uid), "user%02d", i);
		person(f, uid, PEOPLE, i >= 10 && i <= 12 ? "employeeType: qa\n" : "");
	}
	fprintf(f, "dn: %s\nobjectClass: organizationalUnit\nou: groups\n\n", GROUPS);
	group(f, DEVS, 1, 5);
	group(f, ADMINS, 1, 2);
	group(f, ORG_ADMINS, 3, 3);
	fprintf(f,
		"dn: %s\nobjectClass: posixGroup\ncn: posix\ngidNumber: 1000\n"
		"memberUid: user06\nmemberUid: user07\nmemberUid: nobody\n\n",
		POSIX);
	nested_ldif(f);
	fclose(f);
	return text;
}

/* The people OU ou_dn and n people in it, whose uids are uid_format with 0..n-1. */
static void people(FILE *f, const char *ou_dn, const char *uid_format, int n)
{
	fprintf(f, "dn: %s\nobjectClass: organizationalUnit\nou: people\n\n", ou_dn);
	for (int i = 0; i < n; i++) {
		char uid[16];

		snprintf(uid, sizeof(uid), uid_format, i);
		person(f, uid, ou_dn, "");
	}
}

/* big00000..big19999: enough entries for many pages, so that a kill lands while it pages. */
static char *big_ldif(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	people(f, BIG_PEOPLE, "big%05d", NBIG);
	fclose(f);
	return text;
}

/*
 * m0000..m1599, and two groups of them all: all, whose member values slapd
 * answers at once, and ranged, whose values are stored as
 * "member;range=0-1499" and "member;range=1500-1599", which is how Active
 * Directory answers the first range and no server answers the last (it ends
 * in "*").
 */
static char *many_ldif(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	people(f, MANY_PEOPLE, "m%04d", NMANY);
	fprintf(f, "dn: %s\nobjectClass: organizationalUnit\nou: groups\n\n", MANY_GROUPS);
	fprintf(f, "dn: cn=all,%s\nobjectClass: groupOfNames\ncn: all\n", MANY_GROUPS);
	for (int i = 0; i < NMANY; i++)
		fprintf(f, "member: uid=m%04d,%s\n", i, MANY_PEOPLE);
	fprintf(f, "\ndn: cn=ranged,%s\nobjectClass: groupOfNames\ncn: ranged\n", MANY_GROUPS);
	for (int i = 0; i < NMANY; i++)
		fprintf(f, "member;range=%s: uid=m%04d,%s\n",
			i < FIRST_RANGE ? "0-1499" : "1500-1599", i, MANY_PEOPLE);
	fprintf(f, "\n");
	fclose(f);
	return text;
}

static struct slapd *start_directory(const char *suffix, char *ldif)
{
	struct slapd_opts o = {.suffix = suffix, .ldif = ldif};
	struct slapd *d = slapd_new(suite_dir);

	ck_assert_msg(d != NULL && slapd_start(d, &o) == 0,
		      "slapd for %s did not start (its log is above)", suffix);
	free(ldif);
	return d;
}

static void setup_each(void)
{
	require_tools(tools);
	corp = start_directory(SUFFIX, corp_ldif());
	start_server(NULL, ADMIN_PW);
}

static void teardown_each(void)
{
	teardown_server();
	slapd_free(corp);
	slapd_free(big);
	slapd_free(many);
	slapd_free(replica);
	corp = big = many = replica = NULL;
}

/* Applies LDIF change records to d as its root DN. */
static void change_at(int line, struct slapd *d, const char *ldif)
{
	ck_assert_msg(slapd_modify(d, ldif) == 0,
		      "line %d: ldapmodify refused (its output is above):\n%s", line, ldif);
}
#define change(...) change_at(__LINE__, corp, fmt(__VA_ARGS__))

/* Adds entries to corp with the relax control, so that they may carry their entryUUID. */
static void restore_at(int line, const char *ldif)
{
	ck_assert_msg(slapd_restore(corp, ldif) == 0,
		      "line %d: ldapmodify refused (its output is above):\n%s", line, ldif);
}
#define restore(...) restore_at(__LINE__, fmt(__VA_ARGS__))

/* The entryUUID of uid=<uid> in corp's people. */
static const char *uuid_of(const char *uid)
{
	char out[64];

	ck_assert_msg(slapd_entry_uuid(corp, fmt("uid=%s,%s", uid, PEOPLE), out, sizeof(out)) == 0,
		      "uid=%s,%s has no entryUUID", uid, PEOPLE);
	return fmt("%s", out);
}

/* LDIF that deletes user<first>..user<last>. */
static const char *deletions(int first, int last)
{
	const char *ldif = "";

	for (int i = first; i <= last; i++)
		ldif = fmt("%sdn: uid=user%02d,%s\nchangetype: delete\n\n", ldif, i, PEOPLE);
	return ldif;
}

/* LDIF that adds a person entry again, as corp_ldif made it. */
static const char *addition(const char *uid)
{
	return fmt("dn: uid=%s,%s\nchangetype: add\nobjectClass: inetOrgPerson\nuid: %s\n"
		   "cn: Person %s\nsn: P\nuserPassword: pw-%s\n\n",
		   uid, PEOPLE, uid, uid, uid);
}

/* LDIF that adds a person entry again with the entryUUID it had, as a restore from a backup. */
static const char *restoration(const char *uid, const char *uuid)
{
	const char *add = addition(uid);

	return fmt("%.*sentryUUID: %s\n\n", (int)strlen(add) - 1, add, uuid);
}

/* LDIF that moves uid=<uid> of people to parent as uid=<new_uid>. */
static const char *move(const char *uid, const char *new_uid, const char *parent)
{
	return fmt("dn: uid=%s,%s\nchangetype: modrdn\nnewrdn: uid=%s\ndeleteoldrdn: 1\n"
		   "newsuperior: %s\n\n",
		   uid, PEOPLE, new_uid, parent);
}

/* LDIF that adds and removes members (by DN, people's uids) of a groupOfNames. */
static const char *membership(const char *group_dn, const char *add, const char *del)
{
	return fmt("dn: %s\nchangetype: modify\nadd: member\nmember: uid=%s,%s\n-\n"
		   "delete: member\nmember: uid=%s,%s\n-\n\n",
		   group_dn, add, PEOPLE, del, PEOPLE);
}

/* Full pages of a paged search that slapd has answered since byte `from` of its log. */
static int pages_served(const struct slapd *d, long from)
{
	char needle[32];

	snprintf(needle, sizeof(needle), "nentries=%d ", PAGE);
	return count_in_file(d->log, from, needle);
}

/* ---- settings ---- */

static json_t *settings(bool jit)
{
	return keep_json(
	    json_pack("{s:s, s:s, s:s, s:[{s:s, s:b, s:s}], s:b, s:i, s:i}", "serverURL", corp->url,
		      "readerDN", corp->reader_dn, "readerPassword", corp->reader_pw,
		      "userSearchConfigs", "baseDN", PEOPLE, "scopeSubtree", 1, "filter",
		      "(objectClass=inetOrgPerson)", "jitUserProvisioning", jit,
		      "maxDeactivationPercent", MAX_DEACTIVATION, "timeoutSeconds", 10));
}

static json_t *group_sync(const char *group_dn, const char *attr, bool allow_non_ldap)
{
	return keep_json(json_pack("{s:b, s:b, s:s, s:s, s:b}", "enableSync", 1,
				   "selectGroupMembers", 1, "groupDN", group_dn, "groupMemberAttr",
				   attr, "allowNonLDAPMembers", allow_non_ldap));
}

static json_t *search_sync(const char *base, const char *filter)
{
	return keep_json(json_pack("{s:b, s:b, s:s, s:b, s:s}", "enableSync", 1,
				   "selectGroupMembers", 0, "searchBaseDN", base,
				   "searchScopeSubtree", 0, "searchFilter", filter));
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

/* Adds the big directory as the domain big.example.com, and its people as a second search. */
static void add_big(json_t *s)
{
	json_object_set_new(s, "additionalDomains",
			    json_pack("[{s:s, s:s, s:s, s:s}]", "domain", BIG_DOMAIN, "serverURL",
				      big->url, "readerDN", big->reader_dn, "readerPassword",
				      big->reader_pw));
	json_array_append_new(
	    json_object_get(s, "userSearchConfigs"),
	    json_pack("{s:s, s:s}", "baseDN", BIG_PEOPLE, "filter", "(objectClass=inetOrgPerson)"));
}

/* ---- accounts, orgs and teams ---- */

static json_t *account(const char *name)
{
	struct reply *r = call("GET", admin, NULL, ACCOUNTS "/%s", name);

	expect_status(r, 200);
	return r->json;
}

static void expect_flag_at(int line, const char *name, const char *field, int want)
{
	json_t *a = account(name);

	ck_assert_msg(jbool(a, field) == want, "line %d: %s.%s is %d, expected %d: %s", line, name,
		      field, jbool(a, field), want, dumps(a));
}
#define expect_flag(name, field, want) expect_flag_at(__LINE__, name, field, want)

static void make_user(const char *name, bool is_admin)
{
	expect_status(call("POST", admin,
			   jbody("{s:s, s:s, s:s, s:b}", "name", name, "password", LOCAL_PW,
				 "fullName", "Local", "isAdmin", is_admin),
			   ACCOUNTS),
		      201);
}

static void make_team(const char *org, const char *team)
{
	struct reply *r =
	    call("POST", admin, jbody("{s:s, s:b}", "name", org, "isOrg", 1), ACCOUNTS);

	ck_assert_msg(r->status == 201 || r->status == 409, "org %s: %ld %s", org, r->status,
		      r->body);
	expect_status(call("POST", admin, jbody("{s:s}", "name", team), ACCOUNTS "/%s/teams", org),
		      201);
}

static void add_to_team(const char *org, const char *team, const char *user)
{
	expect_status(call("PUT", admin, "{\"isAdmin\":false}", ACCOUNTS "/%s/teams/%s/members/%s",
			   org, team, user),
		      200);
}

static void set_team_sync(const char *org, const char *team, json_t *cfg)
{
	expect_status(
	    call("PUT", admin, dumps(cfg), ACCOUNTS "/%s/teams/%s/memberSyncConfig", org, team),
	    200);
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names of a member list's entries (admins only, when asked), sorted, space-separated. */
static const char *member_names(json_t *members, bool admins_only)
{
	const char *names[256], *out = "";
	size_t n = 0, i;
	json_t *m;

	json_array_foreach(members, i, m)
	{
		if (admins_only && jbool(m, "isAdmin") != 1)
			continue;
		ck_assert(n < sizeof(names) / sizeof(names[0]));
		names[n++] = jstr(m, "member.name");
	}
	qsort(names, n, sizeof(names[0]), by_str);
	for (i = 0; i < n; i++)
		out = fmt("%s%s%s", out, i ? " " : "", names[i]);
	return out;
}

static const char *team_members(const char *org, const char *team)
{
	struct reply *r =
	    call("GET", admin, NULL, ACCOUNTS "/%s/teams/%s/members?limit=100", org, team);

	expect_status(r, 200);
	return member_names(jpath(r->json, "members"), false);
}

static const char *org_members(const char *org, bool admins_only)
{
	struct reply *r = call("GET", admin, NULL, ACCOUNTS "/%s/members?limit=100", org);

	expect_status(r, 200);
	return member_names(jpath(r->json, "members"), admins_only);
}

static struct reply *login(const char *user, const char *password)
{
	return call("POST", NULL, jbody("{s:s, s:s}", "username", user, "password", password),
		    "/auth/login");
}

/* ---- the store, read by sqlite3 ---- */

/* What sync may change, in a stable order: accounts, memberships, collections. */
static const char state_sql[] =
    "SELECT 'account', name, full_name, is_admin, is_active, is_imported, ldap_dn, "
    "ldap_missing, ldap_deactivated, ldap_id FROM accounts ORDER BY name; "
    "SELECT 'org', o.name, u.name, m.is_admin FROM org_members m JOIN accounts o ON o.id = "
    "m.org_id JOIN accounts u ON u.id = m.user_id ORDER BY 2, 3; "
    "SELECT 'team', o.name || '/' || t.name, u.name FROM team_members m JOIN teams t ON t.id = "
    "m.team_id JOIN accounts o ON o.id = t.org_id JOIN accounts u ON u.id = m.user_id "
    "ORDER BY 2, 3; "
    "SELECT 'collection', path FROM collections ORDER BY path;";

static const char *state_of(const char *db)
{
	struct ran r = sh(NULL, "sqlite3 -batch -cmd '.timeout 10000' '%s' \"%s\"", db, state_sql);

	expect_ran(r, 0);
	ck_assert_msg(strstr(r.out, "account|admin|") != NULL, "no accounts in %s:\n%.500s", db,
		      r.out);
	return r.out;
}

/* The same read from the PostgreSQL database of a *_pg run, booleans printed as SQLite's. */
static const char *pg_state_of(const char *dsn)
{
	char *out = it_pg_query(dsn, state_sql);
	const char *copy = fmt("%s", out ? out : "");

	free(out);
	ck_assert_msg(strstr(copy, "account|admin|") != NULL,
		      "no accounts in the store on PostgreSQL:\n%.500s", copy);
	return copy;
}

/* The store of the running (or stopped) srv; WAL lets sqlite3 read beside authd. */
static const char *store_state(void)
{
	if (srv->dsn[0] != '\0')
		return pg_state_of(srv->dsn);
	return state_of(fmt("%s/authd.db", srv->dir));
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

/* The first line where two dumps differ, for a failure message. */
static const char *first_difference(const char *a, const char *b)
{
	size_t i = 0, line = 0;

	while (a[i] != '\0' && a[i] == b[i]) {
		if (a[i] == '\n')
			line = i + 1;
		i++;
	}
	return fmt("before: %.*s\nafter:  %.*s", (int)strcspn(a + line, "\n"), a + line,
		   (int)strcspn(b + line, "\n"), b + line);
}

static void expect_same_store_at(int line, const char *before, const char *after)
{
	ck_assert_msg(strcmp(before, after) == 0, "line %d: the store changed:\n%s", line,
		      first_difference(before, after));
}
#define expect_same_store(before, after) expect_same_store_at(__LINE__, before, after)

/* ---- jobs ---- */

static const char *const counters[] = {"usersFound",	 "created",	  "updated",
				       "deactivated",	 "reactivated",	  "markedMissing",
				       "skippedInvalid", "teamsSynced",	  "membersAdded",
				       "membersRemoved", "adminsChanged", NULL};

/* The log of a job; whatever the job did, it holds no password. */
static const char *job_log_at(int line, const char *id)
{
	struct reply *r = call("GET", admin, NULL, JOBS "/%s/logs", id);
	const char *type = header(r, "Content-Type");

	expect_status_at(line, r, 200);
	ck_assert_msg(type != NULL && strncmp(type, "text/plain", 10) == 0,
		      "line %d: a log of type %s", line, type ? type : "none");
	/* the readers' password, the people's (pw-<uid>), the admin's */
	expect_lacks_at(line, r->body, SLAPD_READER_PW, "the job log");
	expect_lacks_at(line, r->body, "pw-", "the job log");
	expect_lacks_at(line, r->body, ADMIN_PW, "the job log");
	return r->body;
}
#define job_log(id) job_log_at(__LINE__, id)

/* The job as it is now; the caller owns it. Polls use this: they must not fill the arena. */
static json_t *job_fetch(const char *id)
{
	char path[160];
	struct reply r;
	json_t *j;

	snprintf(path, sizeof(path), JOBS "/%s", id);
	ck_assert_msg(http_call(srv, "GET", path, admin, NULL, NULL, &r) == 0 && r.status == 200,
		      "GET %s: %ld %s", path, r.status, r.body ? r.body : r.error);
	j = json_incref(r.json);
	reply_free(&r);
	return j;
}

static json_t *job_now(const char *id)
{
	return keep_json(job_fetch(id));
}

static bool has_ended(json_t *job)
{
	const char *s = jstr(job, "status");

	return s == NULL || (strcmp(s, "waiting") != 0 && strcmp(s, "running") != 0);
}

/* Polls until the job has this status (bounded); the job then. Replies are not kept. */
static json_t *await_status_at(int line, const char *id, const char *status)
{
	double deadline = it_now() + JOB_SECONDS;

	for (;;) {
		json_t *j = job_fetch(id);
		const char *now = jstr(j, "status");

		if (strcmp(now, status) == 0 || (strcmp(status, "ended") == 0 && has_ended(j)))
			return keep_json(j);
		/* an end is final: say at once how it ended, with its log */
		ck_assert_msg(!has_ended(j), "line %d: job %s ended %s, awaited %s: %s\nlog:\n%s",
			      line, id, now, status, dumps(keep_json(j)), job_log_at(line, id));
		ck_assert_msg(it_now() < deadline, "line %d: job %s is still %s after %d s", line,
			      id, now, JOB_SECONDS);
		json_decref(j);
		it_sleep_ms(20);
	}
}

static const char *start_job_at(int line, const char *body)
{
	struct reply *r = call("POST", admin, body, JOBS);

	expect_status_at(line, r, 202);
	ck_assert_str_eq(jstr(r->json, "action"), "ldap-sync");
	ck_assert_msg(jstr(r->json, "id") != NULL, "line %d: a job without id: %s", line, r->body);
	return jstr(r->json, "id");
}
#define start_job(body) start_job_at(__LINE__, body)

/* Waits for the job's end, which must be `status`; the job, with its log checked. */
static json_t *finish_at(int line, const char *id, const char *status)
{
	json_t *j = await_status_at(line, id, "ended");

	ck_assert_msg(strcmp(jstr(j, "status"), status) == 0,
		      "line %d: job %s ended %s, expected %s: %s\nlog:\n%s", line, id,
		      jstr(j, "status"), status, dumps(j), job_log_at(line, id));
	job_log_at(line, id);
	return j;
}
#define finish(id, status) finish_at(__LINE__, id, status)
#define run_job(body, status) finish_at(__LINE__, start_job_at(__LINE__, body), status)
#define sync_now(status) run_job(SYNC, status)

/*
 * The job's summary holds exactly the counts given ("created=3 updated=1");
 * every other counter is 0.
 */
static void expect_summary_at(int line, json_t *job, const char *want)
{
	for (const char *const *c = counters; *c != NULL; c++) {
		const char *key = fmt("%s=", *c), *at = want;
		long long expected = 0, got = jint(job, fmt("summary.%s", *c), -1);

		while ((at = strstr(at, key)) != NULL && at != want && at[-1] != ' ')
			at++;
		if (at != NULL)
			expected = atoll(at + strlen(key));
		ck_assert_msg(got == expected, "line %d: summary.%s is %lld, expected %lld: %s",
			      line, *c, got, expected, dumps(jpath(job, "summary")));
	}
	ck_assert_msg(jint(job, "summary.durationMs", -1) >= 0, "line %d: no durationMs: %s", line,
		      dumps(job));
}
#define expect_summary(job, want) expect_summary_at(__LINE__, job, want)

/* ---- bundles and what they prove ---- */

/* The HTTP status authd answers GET path presenting the bundle's certificate (mutual TLS). */
static long bundle_get(const struct bundle *b, const char *path)
{
	struct ran r =
	    sh(b->dir,
	       ": >reply.body && curl -sS --max-time 30 --cert cert.pem --key key.pem "
	       "--cacert ca.pem -o reply.body -w '%%{http_code}' 'https://127.0.0.1:%d%s'",
	       srv->port, path);

	expect_ran(r, 0);
	return atol(r.out);
}

/* POST /api/authz for the bundle's certificate: the decision as authd gives it. */
static json_t *authz_for(const struct bundle *b)
{
	struct reply *r = call("POST", admin,
			       jbody("{s:s, s:s, s:s}", "certificate", bundle_file(b, "cert.pem"),
				     "method", "GET", "uri", "/v1.41/info"),
			       "/api/authz");

	expect_status(r, 200);
	return r->json;
}

static void expect_bundle_honoured_at(int line, const struct bundle *b, const char *name)
{
	json_t *d = authz_for(b);
	long code = bundle_get(b, fmt(ACCOUNTS "/%s", name));

	ck_assert_msg(code == 200, "line %d: %s's bundle got %ld", line, name, code);
	ck_assert_msg(jstr(d, "account") != NULL && strcmp(jstr(d, "account"), name) == 0,
		      "line %d: the authorization point did not identify %s: %s", line, name,
		      dumps(d));
}
#define expect_bundle_honoured(b, name) expect_bundle_honoured_at(__LINE__, b, name)

static void expect_bundle_refused_at(int line, const struct bundle *b, const char *name,
				     const char *why)
{
	json_t *d = authz_for(b);
	long code = bundle_get(b, fmt(ACCOUNTS "/%s", name));

	ck_assert_msg(code == 401, "line %d: %s's bundle got %ld: %s", line, name, code,
		      read_text(fmt("%s/reply.body", b->dir)));
	expect_has_at(line, read_text(fmt("%s/reply.body", b->dir)), why, "the refusal");
	ck_assert_msg(jbool(d, "allow") == 0, "line %d: authz allowed: %s", line, dumps(d));
	expect_has_at(line, jstr(d, "msg"), why, "the authorization point's reason");
}
#define expect_bundle_refused(b, name, why) expect_bundle_refused_at(__LINE__, b, name, why)

/* ---- users ---- */

START_TEST(test_first_sync_creates_users)
{
	json_t *j;
	const char *id, *log;
	struct reply *r;

	make_user("user40", false); /* a managed account with a directory user's name */
	use_ldap(settings(false));
	id = start_job(SYNC);
	j = finish(id, "done");
	expect_summary(j, "usersFound=40 created=39 skippedInvalid=1");
	ck_assert_int_eq(jbool(j, "dryRun"), 0);
	ck_assert_ptr_null(jpath(j, "plan")); /* plans are for dry runs */
	ck_assert_ptr_nonnull(jstr(j, "startedAt"));

	j = account("user01");
	ck_assert_int_eq(jbool(j, "isImported"), 1);
	ck_assert_int_eq(jbool(j, "isActive"), 1);
	ck_assert_int_eq(jbool(j, "isAdmin"), 0);
	ck_assert_str_eq(jstr(j, "ldapDN"), "uid=user01," PEOPLE);
	ck_assert_str_eq(jstr(j, "fullName"), "Person user01");
	expect_status(call("GET", admin, NULL, "/collectionByPath?path=/Shared/Private/user39"),
		      200);
	/* the managed account is not touched */
	ck_assert_int_eq(jbool(account("user40"), "isImported"), 0);
	ck_assert_ptr_null(jpath(account("user40"), "ldapDN"));
	expect_status(login("user40", LOCAL_PW), 200);

	log = job_log(id);
	expect_has(log, fmt("server %s", corp->url), "log");
	expect_has(log, "bind as reader cn=reader," SUFFIX ": ok", "log");
	expect_has(log, "change: create user07 dn=uid=user07," PEOPLE, "log");
	expect_has(log, "skipped uid=user40," PEOPLE ": a managed account", "log");
	expect_has(log, "done in", "log");

	/* imported users log in with their directory passwords */
	expect_status(login("user05", "pw-user05"), 200);
	expect_status(login("user05", "pw-user06"), 401);

	/* the list has it, and a second run finds nothing to do */
	r = call("GET", admin, NULL, JOBS "?action=ldap-sync");
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "jobs.0.id"), id);
	ck_assert_str_eq(jstr(r->json, "jobs.0.status"), "done");
	j = sync_now("done");
	expect_summary(j, "usersFound=40 skippedInvalid=1");
}
END_TEST

START_TEST(test_deleted_user_is_deactivated_and_bundle_refused)
{
	const char *uuid;
	struct bundle b;
	json_t *j;

	use_ldap(settings(false));
	sync_now("done");
	b = fetch_bundle_at(__LINE__, srv, admin, "label=x&account=user05",
			    fmt("%s/bundle-user05", wd));
	expect_bundle_honoured(&b, "user05");
	/* deactivated by an admin: sync must not undo that */
	expect_status(call("PATCH", admin, "{\"isActive\":false}", ACCOUNTS "/user06"), 200);

	uuid = uuid_of("user05");
	change("%s", deletions(5, 5));
	j = sync_now("done");
	expect_summary(j, "usersFound=39 deactivated=1");
	expect_flag("user05", "isActive", 0);
	expect_status(login("user05", "pw-user05"), 401);
	expect_bundle_refused(&b, "user05", "inactive");
	expect_error(call("GET", admin, NULL, "/api/clientbundle?label=y&account=user05"), 409,
		     "CONFLICT", "account");

	/* back from a backup: the same entry, by its entryUUID */
	restore("%s", restoration("user05", uuid));
	j = sync_now("done");
	expect_summary(j, "usersFound=40 reactivated=1");
	expect_flag("user05", "isActive", 1);
	expect_status(login("user05", "pw-user05"), 200);
	expect_bundle_honoured(&b, "user05");
	expect_flag("user06", "isActive", 0);
}
END_TEST

START_TEST(test_jit_on_marks_missing_users)
{
	struct reply *r;
	struct bundle b = {.dir = fmt("%s/bundle-user07", wd)};
	const char *token, *uuid;
	json_t *j;
	FILE *f;

	use_ldap(settings(true));
	r = login("user07", "pw-user07"); /* just-in-time: the account is made now */
	expect_status(r, 200);
	token = jstr(r->json, "auth_token");
	j = sync_now("done");
	expect_summary(j, "usersFound=40"); /* with JIT on, users arrive at their first login */
	expect_status(call("GET", admin, NULL, ACCOUNTS "/user08"), 404);

	/* the user's own bundle, by POST */
	r = call("POST", token, NULL, "/api/clientbundle?label=laptop");
	expect_status(r, 200);
	b.zip = fmt("%s.zip", b.dir);
	f = fopen(b.zip, "wb");
	ck_assert(f != NULL && fwrite(r->body, 1, r->len, f) == r->len && fclose(f) == 0);
	expect_ran(sh(NULL, "unzip -q '%s' -d '%s'", b.zip, b.dir), 0);
	expect_bundle_honoured(&b, "user07");

	uuid = uuid_of("user07");
	change("%s", deletions(7, 7));
	j = sync_now("done");
	expect_summary(j, "usersFound=39 markedMissing=1");
	/* still active, but it cannot log in and its certificates are refused */
	expect_flag("user07", "isActive", 1);
	expect_error(login("user07", "pw-user07"), 401, "UNAUTHORIZED", NULL);
	expect_bundle_refused(&b, "user07", "missing from LDAP");
	/* a token from before the mark no longer acts, and no new bundle is made */
	expect_error(call("GET", token, NULL, ACCOUNTS "/user07"), 401, "UNAUTHORIZED", NULL);
	expect_error(call("POST", admin, NULL, "/api/clientbundle?label=x&account=user07"), 409,
		     "CONFLICT", "account");
	/* marked once: the next run has nothing to do */
	expect_summary(sync_now("done"), "usersFound=39");

	restore("%s", restoration("user07", uuid));
	j = sync_now("done");
	expect_summary(j, "usersFound=40 reactivated=1");
	expect_status(login("user07", "pw-user07"), 200);
	expect_bundle_honoured(&b, "user07");
}
END_TEST

/* Each account keeps the entryUUID of its entry, and finds the entry again by it. */
START_TEST(test_moved_and_renamed_users_keep_their_accounts)
{
	const char *id05, *audit;
	json_t *j;

	use_ldap(settings(false));
	sync_now("done");
	id05 = jstr(account("user05"), "id");

	/* moved to another OU between two logins: the login finds it there */
	change("%s", move("user06", "user06", MOVED));
	expect_error(login("user06", "pw-user07"), 401, "UNAUTHORIZED", NULL);
	ck_assert_str_eq(jstr(account("user06"), "ldapDN"), "uid=user06," PEOPLE);
	expect_status(login("user06", "pw-user06"), 200);
	ck_assert_str_eq(jstr(account("user06"), "ldapDN"), "uid=user06," MOVED);
	audit = read_text(fmt("%s/audit.log", srv->dir));
	expect_has(audit, "\"event\":\"account.update\"", "the audit log");
	expect_has(audit, "uid=user06," MOVED, "the audit log");
	/* and the next sync has nothing to change */
	expect_summary(sync_now("done"), "usersFound=40");
	ck_assert_str_eq(ldap_id_of("user05"), uuid_of("user05"));

	/* moved and renamed between two syncs: the same account, which keeps its name */
	change("%s", move("user05", "user05b", MOVED));
	j = sync_now("done");
	expect_summary(j, "usersFound=40 updated=1");
	ck_assert_str_eq(jstr(account("user05"), "id"), id05);
	ck_assert_str_eq(jstr(account("user05"), "ldapDN"), "uid=user05b," MOVED);
	expect_flag("user05", "isActive", 1);
	expect_status(call("GET", admin, NULL, ACCOUNTS "/user05b"), 404);
	expect_has(job_log(jstr(j, "id")), "user05 is user05b in the directory now", "log");
	expect_status(login("user05", "pw-user05"), 200);
}
END_TEST

/* An account with no directory id is found by its DN before its username, and then gets the id. */
START_TEST(test_an_account_without_an_id_is_found_by_its_dn)
{
	const char *entry = fmt("uid=user09,%s", PEOPLE), *id;
	json_t *s = settings(false),
	       *search = json_array_get(json_object_get(s, "userSearchConfigs"), 0);
	json_t *j;

	/* usernames from description, which can change while the DN stays; no ids kept */
	change("dn: %s\nchangetype: modify\nadd: description\ndescription: ann\n\n", entry);
	json_object_set_new(search, "usernameAttr", json_string("description"));
	json_object_set_new(search, "filter",
			    json_string("(&(objectClass=inetOrgPerson)(description=*))"));
	json_object_set_new(s, "uniqueIDAttr", json_string(""));
	use_ldap(s);
	expect_summary(sync_now("done"), "usersFound=1 created=1");
	id = jstr(account("ann"), "id");
	ck_assert_str_eq(ldap_id_of("ann"), "");

	/* renamed in the directory, same DN: the same account, which keeps its name */
	change("dn: %s\nchangetype: modify\nreplace: description\ndescription: anne\n\n", entry);
	j = sync_now("done");
	expect_summary(j, "usersFound=1");
	ck_assert_str_eq(jstr(account("ann"), "id"), id);
	expect_status(call("GET", admin, NULL, ACCOUNTS "/anne"), 404);
	expect_has(job_log(jstr(j, "id")), "ann is anne in the directory now", "log");

	/* with ids on, it gets its entry's, and from then on only the id matches it */
	json_object_set_new(s, "uniqueIDAttr", json_string("entryUUID"));
	use_ldap(s);
	expect_summary(sync_now("done"), "usersFound=1");
	ck_assert_str_eq(ldap_id_of("ann"), uuid_of("user09"));
}
END_TEST

/* A name whose entry was deleted and made again is another entry's: never merged silently. */
START_TEST(test_an_entry_made_again_is_not_merged)
{
	const char *uuid;
	json_t *j;

	use_ldap(settings(false));
	sync_now("done");
	uuid = uuid_of("user08");
	change("%s%s", deletions(8, 8), addition("user08"));
	ck_assert_str_ne(uuid_of("user08"), uuid);
	/* the bind with the stored DN succeeds, as the other entry */
	expect_error(login("user08", "pw-user08"), 401, "UNAUTHORIZED", NULL);
	expect_has(read_text(srv->log), "another directory entry", "authd's log");
	expect_has(read_text(fmt("%s/audit.log", srv->dir)), "another directory entry",
		   "the audit log");

	j = sync_now("done");
	expect_summary(j, "usersFound=40 deactivated=1 skippedInvalid=1");
	expect_flag("user08", "isActive", 0);
	ck_assert_str_eq(ldap_id_of("user08"), uuid);
	expect_has(job_log(jstr(j, "id")), "user08 is not merged", "log");

	/* restored with the entryUUID it had: the same entry again */
	change("%s", deletions(8, 8));
	restore("%s", restoration("user08", uuid));
	expect_summary(sync_now("done"), "usersFound=40 reactivated=1");
	expect_status(login("user08", "pw-user08"), 200);
}
END_TEST

/* ---- teams ---- */

START_TEST(test_team_follows_its_group)
{
	json_t *j;

	use_ldap(settings(false));
	sync_now("done");
	make_team("eng", "devs");
	make_user("localdev", false);
	add_to_team("eng", "devs", "localdev");
	add_to_team("eng", "devs", "user20");
	set_team_sync("eng", "devs", group_sync(DEVS, "member", false));

	j = sync_now("done");
	expect_summary(j, "usersFound=40 teamsSynced=1 membersAdded=5 membersRemoved=2");
	ck_assert_str_eq(team_members("eng", "devs"), "user01 user02 user03 user04 user05");
	expect_has(job_log(jstr(j, "id")), "change: addMember user03 team=eng/devs", "log");

	/* both ways */
	change("%s", membership(DEVS, "user08", "user01"));
	j = sync_now("done");
	expect_summary(j, "usersFound=40 teamsSynced=1 membersAdded=1 membersRemoved=1");
	ck_assert_str_eq(team_members("eng", "devs"), "user02 user03 user04 user05 user08");

	/* allowNonLDAPMembers keeps managed members, never imported ones the group lacks */
	set_team_sync("eng", "devs", group_sync(DEVS, "member", true));
	add_to_team("eng", "devs", "localdev");
	add_to_team("eng", "devs", "user20");
	j = sync_now("done");
	expect_summary(j, "usersFound=40 teamsSynced=1 membersRemoved=1");
	ck_assert_str_eq(team_members("eng", "devs"),
			 "localdev user02 user03 user04 user05 user08");
	set_team_sync("eng", "devs", group_sync(DEVS, "member", false));
	j = sync_now("done");
	expect_summary(j, "usersFound=40 teamsSynced=1 membersRemoved=1");
	ck_assert_str_eq(team_members("eng", "devs"), "user02 user03 user04 user05 user08");

	/* a member who leaves the directory leaves the team */
	change("%s", deletions(3, 3));
	j = sync_now("done");
	expect_summary(j, "usersFound=39 deactivated=1 teamsSynced=1 membersRemoved=1");
	ck_assert_str_eq(team_members("eng", "devs"), "user02 user04 user05 user08");

	/* a member moved in the directory, and named by the new DN, stays in the same sync */
	change("dn: uid=user04,%s\nchangetype: modrdn\nnewrdn: uid=user04\ndeleteoldrdn: 1\n"
	       "newsuperior: %s\n\n"
	       "dn: %s\nchangetype: modify\nadd: member\nmember: uid=user04,%s\n-\n"
	       "delete: member\nmember: uid=user04,%s\n-\n\n",
	       PEOPLE, MOVED, DEVS, MOVED, PEOPLE);
	j = sync_now("done");
	expect_summary(j, "usersFound=39 updated=1 teamsSynced=1");
	ck_assert_str_eq(team_members("eng", "devs"), "user02 user04 user05 user08");
}
END_TEST

/* The groups are read ahead of planning: one that is gone still fails the whole job. */
START_TEST(test_missing_group_changes_nothing)
{
	const char *before;
	json_t *j;

	use_ldap(settings(false));
	sync_now("done");
	make_team("eng", "devs");
	make_team("eng", "ghosts");
	set_team_sync("eng", "devs", group_sync(DEVS, "member", false));
	set_team_sync("eng", "ghosts", group_sync("cn=ghosts," GROUPS, "member", false));
	change("%s", deletions(30, 30));
	before = store_state();
	j = sync_now("errored");
	expect_same_store(before, store_state());
	expect_has(job_log(jstr(j, "id")), "group cn=ghosts," GROUPS ": no such entry", "log");
	ck_assert_str_eq(team_members("eng", "devs"), "");
}
END_TEST

/* A group sync that follows nested groups, or not. */
static json_t *nested_sync(const char *group_dn, bool nested)
{
	json_t *j = json_deep_copy(group_sync(group_dn, "member", false));

	json_object_set_new(j, "followNestedGroups", json_boolean(nested));
	return keep_json(j);
}

/* LDIF that removes one member value (a DN) from a groupOfNames. */
static const char *member_gone(const char *group_dn, const char *member_dn)
{
	return fmt("dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n-\n\n", group_dn,
		   member_dn);
}

/*
 * A team that follows nested groups has the members of its group's groups,
 * three levels down, a user named on two paths once; off, only the group's
 * own members, as before. A member leaves with the group that named it.
 */
START_TEST(test_nested_groups_are_followed)
{
	const char *log;
	json_t *j;

	use_ldap(settings(false));
	sync_now("done");
	make_team("eng", "platform");
	set_team_sync("eng", "platform", nested_sync(PLATFORM, false));
	expect_summary(sync_now("done"), "usersFound=40 teamsSynced=1 membersAdded=1");
	ck_assert_str_eq(team_members("eng", "platform"), "user21");

	/* entries the user searches did not find are read: no group, and no account either */
	change("dn: %s\nchangetype: modify\nadd: member\nmember: cn=reader,%s\n"
	       "member: uid=ghost,%s\n-\n\n",
	       BACKEND, SUFFIX, PEOPLE);
	set_team_sync("eng", "platform", nested_sync(PLATFORM, true));
	j = sync_now("done");
	log = job_log(jstr(j, "id"));
	expect_summary(j, "usersFound=40 teamsSynced=1 membersAdded=4");
	ck_assert_str_eq(team_members("eng", "platform"), "user21 user22 user23 user24 user25");
	expect_has(log, fmt("server %s: not Active Directory", corp->url), "log");
	expect_has(log, "group " DB ": 1 members by member", "log");
	expect_has(log, "group " PLATFORM ": 7 members in it and the 3 groups nested in it", "log");

	/* a member of the deepest group leaves, then that group leaves the one above it */
	change("%s", membership(DB, "user30", "user25"));
	expect_summary(sync_now("done"),
		       "usersFound=40 teamsSynced=1 membersAdded=1 membersRemoved=1");
	ck_assert_str_eq(team_members("eng", "platform"), "user21 user22 user23 user24 user30");
	change_at(__LINE__, corp, member_gone(BACKEND, DB));
	expect_summary(sync_now("done"), "usersFound=40 teamsSynced=1 membersRemoved=1");
	ck_assert_str_eq(team_members("eng", "platform"), "user21 user22 user23 user24");
	/* user23 stays while one of its two paths is left */
	change_at(__LINE__, corp, member_gone(BACKEND, "uid=user23," PEOPLE));
	expect_summary(sync_now("done"), "usersFound=40 teamsSynced=1");
	ck_assert_str_eq(team_members("eng", "platform"), "user21 user22 user23 user24");

	/* off again: the group's own members only */
	set_team_sync("eng", "platform", nested_sync(PLATFORM, false));
	expect_summary(sync_now("done"), "usersFound=40 teamsSynced=1 membersRemoved=3");
	ck_assert_str_eq(team_members("eng", "platform"), "user21");
}
END_TEST

/*
 * A loop is followed once round; a chain deeper than LS_NEST_MAX (10)
 * fails the job with nothing changed and the chain in the log, while one
 * 10 deep is followed; a group that is not there fails it too.
 */
START_TEST(test_nested_group_loops_and_depth)
{
	const char *before, *log, *chain = "";
	json_t *j;

	use_ldap(settings(false));
	sync_now("done");
	make_team("eng", "loop");
	set_team_sync("eng", "loop", nested_sync("cn=loopa," GROUPS, true));
	j = sync_now("done");
	expect_summary(j, "usersFound=40 teamsSynced=1 membersAdded=2");
	ck_assert_str_eq(team_members("eng", "loop"), "user26 user27");
	expect_has(job_log(jstr(j, "id")),
		   "group cn=loopb," GROUPS " names cn=loopa," GROUPS
		   ", followed already (a loop or a second path)",
		   "log");

	make_team("eng", "deep");
	set_team_sync("eng", "deep", nested_sync("cn=deep00," GROUPS, true));
	before = store_state();
	j = sync_now("errored");
	expect_summary(j, "usersFound=40");
	expect_same_store(before, store_state());
	for (int i = 0; i <= DEEPEST; i++)
		chain = fmt("%s%scn=deep%02d,%s", chain, i ? " > " : "", i, GROUPS);
	log = job_log(jstr(j, "id"));
	expect_has(
	    log,
	    fmt("group cn=deep00,%s: groups nested more than 10 levels deep, through %s: its "
		"members cannot all be read",
		GROUPS, chain),
	    "log");
	ck_assert_str_eq(team_members("eng", "deep"), "");

	set_team_sync("eng", "deep", nested_sync("cn=deep01," GROUPS, true));
	expect_summary(sync_now("done"), "usersFound=40 teamsSynced=2 membersAdded=1");
	ck_assert_str_eq(team_members("eng", "deep"), "user28");

	/* a group that is not there fails the job as without nesting */
	make_team("eng", "ghosts");
	set_team_sync("eng", "ghosts", nested_sync("cn=ghosts," GROUPS, true));
	before = store_state();
	j = sync_now("errored");
	expect_same_store(before, store_state());
	expect_has(job_log(jstr(j, "id")), "group cn=ghosts," GROUPS ": no such entry", "log");
}
END_TEST

/*
 * The member-removal guard counts the members that nested groups give: a
 * team whose nested group left would lose 8 of its 9.
 */
START_TEST(test_nested_members_and_the_team_guard)
{
	const char *before;
	json_t *j;

	use_ldap(settings(false));
	sync_now("done");
	make_team("eng", "staff");
	set_team_sync("eng", "staff", nested_sync(STAFF, true));
	expect_summary(sync_now("done"), "usersFound=40 teamsSynced=1 membersAdded=9");
	change_at(__LINE__, corp, member_gone(STAFF, "cn=ops," GROUPS));
	before = store_state();
	j = sync_now("errored");
	expect_same_store(before, store_state());
	expect_has(job_log(jstr(j, "id")),
		   "refused: team eng/staff would lose 8 of its 9 LDAP members, more than "
		   "maxDeactivationPercent (25%)",
		   "log");
	expect_summary(run_job(FORCED, "done"), "usersFound=40 teamsSynced=1 membersRemoved=8");
	ck_assert_str_eq(team_members("eng", "staff"), "user39");
}
END_TEST

/* adminSyncOpts may follow nested groups too: nestedadmins > admins. */
START_TEST(test_admin_sync_follows_nested_groups)
{
	json_t *s = settings(false);

	json_object_set_new(s, "adminSyncOpts", json_incref(nested_sync(NESTED_ADMINS, true)));
	use_ldap(s);
	expect_summary(sync_now("done"), "usersFound=40 created=40 adminsChanged=3");
	expect_flag("user01", "isAdmin", 1);
	expect_flag("user02", "isAdmin", 1);
	expect_flag("user29", "isAdmin", 1);
	expect_flag("user03", "isAdmin", 0);
	ck_assert_int_eq(
	    jbool(call("GET", admin, NULL, LDAP_CONFIG)->json, "adminSyncOpts.followNestedGroups"),
	    1);

	json_object_set_new(s, "adminSyncOpts", json_incref(nested_sync(NESTED_ADMINS, false)));
	use_ldap(s);
	expect_summary(sync_now("done"), "usersFound=40 adminsChanged=2");
	expect_flag("user01", "isAdmin", 0);
	expect_flag("user29", "isAdmin", 1);
}
END_TEST

static json_t *many_settings(void)
{
	return keep_json(json_pack("{s:s, s:s, s:s, s:[{s:s}], s:b, s:i}", "serverURL", many->url,
				   "readerDN", many->reader_dn, "readerPassword", many->reader_pw,
				   "userSearchConfigs", "baseDN", MANY_PEOPLE,
				   "jitUserProvisioning", 0, "maxDeactivationPercent", 10));
}

/* LDIF that removes members m<from>..m<to> from many's group all. */
static const char *many_removals(int from, int to)
{
	const char *ldif = fmt("dn: cn=all,%s\nchangetype: modify\ndelete: member\n", MANY_GROUPS);

	for (int i = from; i <= to; i++)
		ldif = fmt("%smember: uid=m%04d,%s\n", ldif, i, MANY_PEOPLE);
	return fmt("%s-\n\n", ldif);
}

/*
 * A team of 1,600 members; a group whose values cannot all be read (ranges
 * without an end) fails the job with nothing changed, where it used to give
 * the first range's 1,500; a team losing more than maxDeactivationPercent of
 * its LDAP members waits for force.
 */
START_TEST(test_big_groups)
{
	const char *before, *log, *id;
	json_t *j;

	many = start_directory(MANY_SUFFIX, many_ldif());
	use_ldap(many_settings());
	expect_summary(sync_now("done"), "usersFound=1600 created=1600");
	make_team("eng", "all");
	set_team_sync("eng", "all", group_sync("cn=all," MANY_GROUPS, "member", false));
	expect_summary(sync_now("done"), "usersFound=1600 teamsSynced=1 membersAdded=1600");
	ck_assert_int_eq(team_size("all"), NMANY);

	make_team("eng", "ranged");
	set_team_sync("eng", "ranged", group_sync("cn=ranged," MANY_GROUPS, "member", false));
	before = store_state();
	id = start_job(SYNC);
	j = await_status_at(__LINE__, id, "ended");
	/* the log of 1,600 creations is too long for a failure message */
	ck_assert_msg(strcmp(jstr(j, "status"), "errored") == 0,
		      "the sync of a group whose ranges do not end ended %s, its team with %ld "
		      "members",
		      jstr(j, "status"), team_size("ranged"));
	expect_summary(j, "usersFound=1600");
	expect_same_store(before, store_state());
	log = job_log(id);
	expect_has(log, "group cn=ranged," MANY_GROUPS ": its member values could not all be read",
		   "log");
	expect_has(log, "member;range=1600-*", "log");
	set_team_sync("eng", "ranged", keep_json(json_pack("{s:b}", "enableSync", 0)));

	/* 200 of 1,600 is 12.5%, more than 10% */
	change_at(__LINE__, many, many_removals(0, 199));
	before = store_state();
	j = sync_now("errored");
	expect_summary(j, "usersFound=1600");
	expect_same_store(before, store_state());
	expect_has(job_log(jstr(j, "id")),
		   "refused: team eng/all would lose 200 of its 1600 LDAP members, more than "
		   "maxDeactivationPercent (10%); nothing was changed",
		   "log");
	expect_has(jstr(j, "summary.refused"), "team eng/all", "the summary");
	j = run_job(FORCED, "done");
	expect_summary(j, "usersFound=1600 teamsSynced=1 membersRemoved=200");
	ck_assert_int_eq(team_size("all"), NMANY - 200);
}
END_TEST

START_TEST(test_member_uid_and_search_member_sync)
{
	json_t *j;

	use_ldap(settings(false));
	sync_now("done");
	make_team("eng", "ops");
	make_team("eng", "qa");
	set_team_sync("eng", "ops", group_sync(POSIX, "memberUid", false));
	set_team_sync("eng", "qa", search_sync(PEOPLE, "(employeeType=qa)"));
	j = sync_now("done");
	expect_summary(j, "usersFound=40 teamsSynced=2 membersAdded=5");
	ck_assert_str_eq(team_members("eng", "ops"), "user06 user07");
	ck_assert_str_eq(team_members("eng", "qa"), "user10 user11 user12");

	change("dn: %s\nchangetype: modify\nadd: memberUid\nmemberUid: USER09\n-\n"
	       "delete: memberUid\nmemberUid: user06\n-\n\n"
	       "dn: uid=user11,%s\nchangetype: modify\nreplace: employeeType\nemployeeType: dev\n"
	       "-\n\n"
	       "dn: uid=user13,%s\nchangetype: modify\nadd: employeeType\nemployeeType: qa\n-\n",
	       POSIX, PEOPLE, PEOPLE);
	j = sync_now("done");
	expect_summary(j, "usersFound=40 teamsSynced=2 membersAdded=2 membersRemoved=2");
	ck_assert_str_eq(team_members("eng", "ops"), "user07 user09");
	ck_assert_str_eq(team_members("eng", "qa"), "user10 user12 user13");
}
END_TEST

/* ---- admins ---- */

START_TEST(test_admin_sync_promotes_and_demotes)
{
	json_t *s = settings(false), *j;
	const char *token;

	make_user("localadmin", true);
	json_object_set_new(s, "adminSyncOpts", json_incref(group_sync(ADMINS, "member", false)));
	use_ldap(s);
	j = sync_now("done");
	expect_summary(j, "usersFound=40 created=40 adminsChanged=2");
	expect_flag("user01", "isAdmin", 1);
	expect_flag("user02", "isAdmin", 1);
	expect_flag("user03", "isAdmin", 0);
	token = keep(authd_login(srv, "user01", "pw-user01"));
	expect_status(call("GET", token, NULL, JOBS), 200);

	/* imported admins follow the group, whoever promoted them */
	expect_status(call("PATCH", admin, "{\"isAdmin\":true}", ACCOUNTS "/user03"), 200);
	change("%s", membership(ADMINS, "user04", "user02"));
	j = sync_now("done");
	expect_summary(j, "usersFound=40 adminsChanged=3");
	expect_flag("user02", "isAdmin", 0);
	expect_flag("user03", "isAdmin", 0);
	expect_flag("user04", "isAdmin", 1);

	/* by a search; the managed admins stay whatever the directory says */
	json_object_set_new(s, "adminSyncOpts", json_incref(search_sync(PEOPLE, "(cn=nobody)")));
	use_ldap(s);
	j = sync_now("done");
	expect_summary(j, "usersFound=40 adminsChanged=2");
	expect_flag("user01", "isAdmin", 0);
	expect_flag("user04", "isAdmin", 0);
	expect_flag("admin", "isAdmin", 1);
	expect_flag("localadmin", "isAdmin", 1);
	json_object_set_new(s, "adminSyncOpts",
			    json_incref(search_sync(PEOPLE, "employeeType=qa")));
	use_ldap(s);
	j = sync_now("done");
	expect_summary(j, "usersFound=40 adminsChanged=3");
	expect_flag("user11", "isAdmin", 1);
	expect_error(call("GET", token, NULL, JOBS), 403, "FORBIDDEN", NULL);
}
END_TEST

START_TEST(test_admin_sync_keeps_an_active_admin)
{
	json_t *s = settings(false), *j;
	const char *token, *before;

	json_object_set_new(s, "adminSyncOpts", json_incref(group_sync(ADMINS, "member", false)));
	use_ldap(s);
	expect_summary(sync_now("done"), "usersFound=40 created=40 adminsChanged=2");
	/* the directory's admins now run authd: they retire the local one */
	token = keep(authd_login(srv, "user01", "pw-user01"));
	expect_status(call("PATCH", token, "{\"isActive\":false}", ACCOUNTS "/admin"), 200);
	free(admin);
	admin = strdup(token); /* the helpers act as admin */
	json_object_set_new(s, "adminSyncOpts", json_incref(search_sync(PEOPLE, "(cn=nobody)")));
	expect_status(call("PUT", admin, dumps(s), LDAP_CONFIG), 200);
	/* demoting both would leave nobody to administer authd: refused, even with force */
	before = store_state();
	j = sync_now("errored");
	expect_summary(j, "usersFound=40");
	expect_has(job_log(jstr(j, "id")), "refused: this sync would leave no active admin", "log");
	expect_same_store(before, store_state());
	run_job(FORCED, "errored");
	expect_same_store(before, store_state());
	expect_flag("user01", "isAdmin", 1);

	/* with a local admin back, the directory has its way */
	expect_status(call("PATCH", admin, "{\"isActive\":true}", ACCOUNTS "/admin"), 200);
	free(admin);
	admin = authd_login(srv, "admin", ADMIN_PW);
	j = sync_now("done");
	expect_summary(j, "usersFound=40 adminsChanged=2");
	expect_flag("user01", "isAdmin", 0);
	expect_flag("admin", "isAdmin", 1);
}
END_TEST

START_TEST(test_org_admin_sync)
{
	json_t *j;

	use_ldap(settings(false));
	sync_now("done");
	make_team("eng", "devs");
	make_user("localboss", false);
	expect_status(call("PUT", admin, "{\"isAdmin\":true}", ACCOUNTS "/eng/members/localboss"),
		      200);
	expect_status(call("PUT", admin, "{\"isAdmin\":true}", ACCOUNTS "/eng/members/user04"),
		      200);
	expect_status(call("PUT", admin, "{\"isAdmin\":false}", ACCOUNTS "/eng/members/user05"),
		      200);
	expect_status(call("PUT", admin, dumps(group_sync(ORG_ADMINS, "member", false)),
			   ACCOUNTS "/eng/adminMemberSyncConfig"),
		      200);
	j = sync_now("done");
	expect_summary(j, "usersFound=40 adminsChanged=2");
	ck_assert_str_eq(org_members("eng", true), "localboss user03");
	ck_assert_str_eq(org_members("eng", false), "localboss user03 user04 user05");
	expect_has(job_log(jstr(j, "id")), "change: promoteOrgAdmin user03 organization=eng",
		   "log");
	expect_has(job_log(jstr(j, "id")), "change: demoteOrgAdmin user04 organization=eng", "log");

	change("%s", membership(ORG_ADMINS, "user05", "user03"));
	j = sync_now("done");
	expect_summary(j, "usersFound=40 adminsChanged=2");
	ck_assert_str_eq(org_members("eng", true), "localboss user05");
	ck_assert_str_eq(org_members("eng", false), "localboss user03 user04 user05");
	/* the user is an org admin, not a system admin */
	expect_flag("user05", "isAdmin", 0);
}
END_TEST

/* ---- safety ---- */

/* Starts the big directory; srv then syncs corp only, and user05 is gone from corp. */
static void prepare_big(void)
{
	json_t *s = settings(false);

	big = start_directory(BIG_SUFFIX, big_ldif());
	use_ldap(s);
	expect_summary(sync_now("done"), "usersFound=40 created=40");
	change("%s", deletions(5, 5));
	add_big(s);
	use_ldap(s);
}

/* Starts a sync and waits until big has served two pages of it; the job's id. */
static const char *sync_until_paging(long *log_from)
{
	double deadline = it_now() + JOB_SECONDS;
	const char *id;

	*log_from = file_size(big->log);
	id = start_job(SYNC);
	for (long polls = 1; pages_served(big, *log_from) < 2; polls++) {
		ck_assert_msg(it_now() < deadline, "big was not paged within %d s", JOB_SECONDS);
		if (polls % 100 == 0) {
			json_t *j = job_fetch(id);
			bool ended = has_ended(j);

			json_decref(j);
			ck_assert_msg(!ended, "the job ended before big paged: %s", job_log(id));
		}
		it_sleep_ms(1);
	}
	return id;
}

START_TEST(test_directory_killed_while_paging)
{
	const char *before, *id, *log;
	long from;
	json_t *j;
	int pages;

	prepare_big();
	before = store_state();
	id = sync_until_paging(&from);
	ck_assert_int_gt(slapd_kill(big), -1);
	pages = pages_served(big, from);
	/* the kill landed while it paged: fewer pages than the directory holds were served */
	ck_assert_msg(pages < NBIG / PAGE, "big served all %d pages before the kill", pages);
	j = finish(id, "errored");
	expect_summary(j, "");
	expect_same_store(before, store_state());
	expect_flag("user05", "isActive", 1);
	log = job_log(id);
	expect_has(log, "a search failed or was stopped: nothing was changed", "log");
	expect_has(log, fmt("server %s (" BIG_DOMAIN ")", big->url), "log");

	/* once it is back, the same sync does it all */
	ck_assert_int_eq(slapd_restart(big), 0);
	j = sync_now("done");
	expect_summary(j, fmt("usersFound=%d created=%d deactivated=1", NPEOPLE - 1 + NBIG, NBIG));
	expect_flag("big19999", "isActive", 1);
	expect_flag("user05", "isActive", 0);
}
END_TEST

/* corp's data with its people's entryUUIDs, as a replica of corp holds it. */
static char *replica_ldif(void)
{
	char *ldif = corp_ldif(), *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	char uid[16];

	for (line = strtok_r(ldif, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		/* strtok_r drops the blank lines that end entries: put them back */
		if (strncmp(line, "dn: ", 4) == 0 && ftell(f) > 0)
			fprintf(f, "\n");
		fprintf(f, "%s\n", line);
		if (sscanf(line, "dn: uid=%15[^,],", uid) == 1)
			fprintf(f, "entryUUID: %s\n", uuid_of(uid));
	}
	fprintf(f, "\n");
	fclose(f);
	free(ldif);
	return text;
}

/* The lines of a tryLogin answer's log (200 or 400), as one text. */
static const char *try_login_log(const char *user, const char *password, long status)
{
	struct reply *r =
	    call("POST", admin, jbody("{s:s, s:s}", "username", user, "password", password),
		 LDAP_CONFIG "/tryLogin");
	json_t *lines = jpath(r->json, status == 200 ? "log" : "errors.0.detail.log");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	expect_status(r, status);
	for (size_t i = 0; i < json_array_size(lines); i++)
		fprintf(f, "%s\n", json_string_value(json_array_get(lines, i)));
	fclose(f);
	return keep(text);
}

/* In a child: `n` logins of user11..user20 in turn; exits with how many did not answer 200. */
static void logins_in_child(int n)
{
	int bad = 0;

	for (int i = 0; i < n; i++) {
		int u = 11 + i % 10;
		char body[96];
		struct reply r;

		snprintf(body, sizeof(body),
			 "{\"username\":\"user%02d\",\"password\":\"pw-user%02d\"}", u, u);
		if (http_call(srv, "POST", "/auth/login", NULL, body, NULL, &r) != 0 ||
		    r.status != 200) {
			fprintf(stderr, "login %d of user%02d: %ld %s\n", i, u, r.status,
				r.body ? r.body : r.error);
			bad++;
		}
		reply_free(&r);
	}
	_exit(bad > 100 ? 100 : bad);
}

/* Kills corp by pid while a child logs in over and over: every login succeeds. */
static void kill_corp_during_logins(void)
{
	long from = file_size(corp->log);
	double deadline = it_now() + JOB_SECONDS;
	int status = 0;
	pid_t child;

	http_close(); /* the child must not share this process's connection */
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		logins_in_child(400);
	/* a few of its logins reached corp first */
	while (count_in_file(corp->log, from, "BIND dn=\"uid=user1") < 5) {
		ck_assert_msg(it_now() < deadline, "no login reached corp");
		ck_assert_msg(waitpid(child, &status, WNOHANG) == 0, "the logins ended early");
		it_sleep_ms(1);
	}
	ck_assert_int_gt(slapd_kill(corp), -1);
	ck_assert_msg(waitpid(child, &status, WNOHANG) == 0,
		      "the logins ended before corp was killed: run more of them");
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%d logins failed while corp was killed (above)",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/*
 * corp and its replica serve the same data, listed in that order: with corp
 * killed, logins and syncs go to the replica and corp is skipped; with corp
 * back and the replica killed, corp is tried although found down lately.
 */
START_TEST(test_failover_between_two_servers)
{
	json_t *s = settings(false), *list;
	const char *log, *id;

	replica = start_directory(SUFFIX, replica_ldif());
	list = json_pack("[s, s]", corp->url, replica->url);
	json_object_del(s, "serverURL");
	json_object_set_new(s, "serverURLs", list);
	use_ldap(s);
	ck_assert_str_eq(jstr(call("GET", admin, NULL, LDAP_CONFIG)->json, "serverURL"), corp->url);
	ck_assert_str_eq(jstr(call("GET", admin, NULL, LDAP_CONFIG)->json, "serverURLs.1"),
			 replica->url);
	expect_summary(sync_now("done"), "usersFound=40 created=40");
	log = try_login_log("user05", "pw-user05", 200);
	expect_has(log, fmt("server %s answered", corp->url), "tryLogin log");
	expect_status(login("user05", "pw-user05"), 200);

	/* the first server killed during logins: they go on to the replica */
	kill_corp_during_logins();
	expect_status(login("user06", "pw-user06"), 200);
	expect_status(login("user06", "pw-user07"), 401);
	log = try_login_log("user07", "pw-user07", 200);
	expect_has(log, fmt("server %s skipped: down, tried again in", corp->url), "tryLogin log");
	expect_has(log, fmt("server %s answered", replica->url), "tryLogin log");
	ck_assert_str_eq(
	    jstr(call("POST", admin,
		      jbody("{s:s, s:s}", "username", "user07", "password", "pw-user07"),
		      LDAP_CONFIG "/tryLogin")
		     ->json,
		 "server"),
	    replica->url);

	/* a sync too, and what it changes comes from the replica */
	change_at(__LINE__, replica, deletions(5, 5));
	id = start_job(SYNC);
	expect_summary(finish(id, "done"), "usersFound=39 deactivated=1");
	log = job_log(id);
	expect_has(log, fmt("server %s skipped", corp->url), "log");
	expect_has(log, fmt("server %s answered", replica->url), "log");
	expect_flag("user05", "isActive", 0);

	/* corp back, the replica gone: corp answers although it was found down */
	ck_assert_int_eq(slapd_restart(corp), 0);
	ck_assert_int_gt(slapd_kill(replica), -1);
	log = try_login_log("user07", "pw-user07", 200);
	expect_has(log, fmt("server %s is down", replica->url), "tryLogin log");
	expect_has(log, fmt("server %s answered", corp->url), "tryLogin log");
	expect_status(login("user08", "pw-user08"), 200);

	/* both down: the login fails, naming each server */
	ck_assert_int_gt(slapd_kill(corp), -1);
	log = try_login_log("user07", "pw-user07", 400);
	expect_has(log, "no server of the default domain answered", "tryLogin log");
	expect_status(login("user09", "pw-user09"), 503);
}
END_TEST

/*
 * big.example.com served by big and its replica: big killed while it pages
 * fails that job with nothing changed (a job keeps to one server), and the
 * next job goes to the replica.
 */
START_TEST(test_sync_fails_over_after_a_server_killed_while_paging)
{
	json_t *s = settings(false), *domain;
	const char *before, *id, *log;
	long from;

	big = start_directory(BIG_SUFFIX, big_ldif());
	replica = start_directory(BIG_SUFFIX, big_ldif());
	add_big(s);
	domain = json_array_get(json_object_get(s, "additionalDomains"), 0);
	json_object_set_new(domain, "serverURLs", json_pack("[s, s]", big->url, replica->url));
	use_ldap(s);
	before = store_state();
	id = sync_until_paging(&from);
	ck_assert_int_gt(slapd_kill(big), -1);
	expect_summary(finish(id, "errored"), "");
	expect_same_store(before, store_state());
	log = job_log(id);
	expect_has(log, fmt("server %s answered", big->url), "log");
	expect_has(log, "a search failed or was stopped: nothing was changed", "log");

	id = start_job(SYNC);
	expect_summary(finish(id, "done"),
		       fmt("usersFound=%d created=%d", NPEOPLE + NBIG, NPEOPLE + NBIG));
	log = job_log(id);
	expect_has(log, fmt("server %s skipped: down", big->url), "log");
	expect_has(log, fmt("server %s answered", replica->url), "log");
	expect_flag("big19999", "isActive", 1);
}
END_TEST

START_TEST(test_wrong_base_dn_changes_nothing)
{
	json_t *s = settings(false), *j;
	const char *before;

	use_ldap(s);
	sync_now("done");
	make_team("eng", "devs");
	change("%s", deletions(5, 5));
	json_array_append_new(json_object_get(s, "userSearchConfigs"),
			      json_pack("{s:s}", "baseDN", "ou=nowhere," SUFFIX));
	use_ldap(s);
	before = store_state();
	j = sync_now("errored");
	expect_summary(j, "");
	expect_same_store(before, store_state());
	expect_has(job_log(jstr(j, "id")), "No such object", "log");
	expect_has(job_log(jstr(j, "id")), "nothing was changed", "log");

	/* a team's group that does not exist fails the whole job too */
	use_ldap(settings(false));
	set_team_sync("eng", "devs", group_sync("cn=ghost," GROUPS, "member", false));
	before = store_state();
	j = sync_now("errored");
	expect_summary(j, "usersFound=39");
	expect_same_store(before, store_state());
	expect_flag("user05", "isActive", 1);
	expect_has(job_log(jstr(j, "id")), "cn=ghost," GROUPS, "log");
}
END_TEST

START_TEST(test_deactivation_guard)
{
	json_t *s = settings(false), *j;
	const char *before, *log;

	use_ldap(s);
	sync_now("done");
	/* 12 of 40 is 30%, more than 25% */
	change("%s", deletions(1, 12));
	before = store_state();
	j = sync_now("errored");
	expect_summary(j, "usersFound=28");
	expect_same_store(before, store_state());
	log = job_log(jstr(j, "id"));
	expect_has(log,
		   "refused: 12 of 40 active imported users would be deactivated or marked "
		   "missing, more than maxDeactivationPercent (25%); nothing was changed",
		   "log");
	expect_has(log, "\"force\":true", "log");
	/* a dry run shows the same plan, and is refused the same way */
	j = run_job(DRY_RUN, "errored");
	expect_same_store(before, store_state());

	j = run_job(FORCED, "done");
	ck_assert_int_eq(jbool(j, "force"), 1);
	expect_summary(j, "usersFound=28 deactivated=12");
	expect_flag("user12", "isActive", 0);
	expect_flag("user13", "isActive", 1);

	/* five are always allowed; a sixth is over any percentage */
	json_object_set_new(s, "maxDeactivationPercent", json_integer(0));
	use_ldap(s);
	change("%s", deletions(13, 17));
	expect_summary(sync_now("done"), "usersFound=23 deactivated=5");
	change("%s", deletions(18, 23));
	before = store_state();
	j = sync_now("errored");
	expect_same_store(before, store_state());
	expect_has(job_log(jstr(j, "id")), "refused: 6 of 23 active imported users", "log");
}
END_TEST

/* The plan's changes counted per summary field, as "created=2 ..." (fields in counters' order). */
static const char *plan_counts(json_t *plan)
{
	static const struct {
		const char *action, *counter;
	} map[] = {{"create", "created"},
		   {"update", "updated"},
		   {"deactivate", "deactivated"},
		   {"reactivate", "reactivated"},
		   {"markMissing", "markedMissing"},
		   {"promote", "adminsChanged"},
		   {"demote", "adminsChanged"},
		   {"addMember", "membersAdded"},
		   {"removeMember", "membersRemoved"},
		   {"promoteOrgAdmin", "adminsChanged"},
		   {"demoteOrgAdmin", "adminsChanged"}};
	const char *out = "";
	json_t *c;
	size_t i;

	for (const char *const *k = counters; *k != NULL; k++) {
		int n = 0;

		json_array_foreach(plan, i, c)
		{
			size_t m;

			for (m = 0; m < sizeof(map) / sizeof(map[0]); m++)
				if (strcmp(jstr(c, "action"), map[m].action) == 0)
					break;
			ck_assert_msg(m < sizeof(map) / sizeof(map[0]), "unknown action in %s",
				      dumps(c));
			n += strcmp(map[m].counter, *k) == 0;
		}
		if (n > 0)
			out = fmt("%s%s%s=%d", out, out[0] ? " " : "", *k, n);
	}
	return out;
}

/* The lines of a log that start (after the time) with prefix, the prefix cut, sorted. */
static const char *log_lines(const char *log, const char *prefix)
{
	const char *lines[512], *out = "";
	size_t n = 0;

	for (const char *p = log; p != NULL && *p != '\0';) {
		const char *end = strchr(p, '\n'), *at = strstr(p, prefix);
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (at != NULL && at < p + len) {
			ck_assert(n < sizeof(lines) / sizeof(lines[0]));
			lines[n++] =
			    fmt("%.*s", (int)(p + len - at - strlen(prefix)), at + strlen(prefix));
		}
		p = end ? end + 1 : NULL;
	}
	qsort(lines, n, sizeof(lines[0]), by_str);
	for (size_t i = 0; i < n; i++)
		out = fmt("%s%s\n", out, lines[i]);
	return out;
}

/* Whether user is a member of team ("org/team"). */
static bool in_team(const char *team, const char *user)
{
	struct reply *r = call("GET", admin, NULL, ACCOUNTS "/%.*s/teams/%s/members/%s",
			       (int)strcspn(team, "/"), team, strchr(team, '/') + 1, user);

	ck_assert_msg(r->status == 200 || r->status == 404, "%s: %ld", r->what, r->status);
	return r->status == 200;
}

static bool org_admin(const char *org, const char *user)
{
	return strstr(fmt(" %s ", org_members(org, true)), fmt(" %s ", user)) != NULL;
}

/* Each change of a plan, as the store has it after the real run. */
static void expect_applied(json_t *plan)
{
	json_t *c;
	size_t i;

	json_array_foreach(plan, i, c)
	{
		const char *what = jstr(c, "action"), *who = jstr(c, "account");
		const char *team = jstr(c, "team"), *org = jstr(c, "organization");
		json_t *a = account(who);

		if (strcmp(what, "create") == 0 || strcmp(what, "reactivate") == 0)
			ck_assert_msg(jbool(a, "isActive") == 1 && jbool(a, "isImported") == 1,
				      "%s: %s", dumps(c), dumps(a));
		else if (strcmp(what, "update") == 0)
			ck_assert_msg(strcmp(jstr(a, "ldapDN"), jstr(c, "dn")) == 0 &&
					  strcmp(jstr(a, "fullName"), jstr(c, "fullName")) == 0,
				      "%s: %s", dumps(c), dumps(a));
		else if (strcmp(what, "deactivate") == 0)
			ck_assert_msg(jbool(a, "isActive") == 0, "%s: %s", dumps(c), dumps(a));
		else if (strcmp(what, "promote") == 0 || strcmp(what, "demote") == 0)
			ck_assert_msg(jbool(a, "isAdmin") == (strcmp(what, "promote") == 0),
				      "%s: %s", dumps(c), dumps(a));
		else if (strcmp(what, "addMember") == 0 || strcmp(what, "removeMember") == 0)
			ck_assert_msg(in_team(team, who) == (strcmp(what, "addMember") == 0), "%s",
				      dumps(c));
		else if (strcmp(what, "promoteOrgAdmin") == 0 ||
			 strcmp(what, "demoteOrgAdmin") == 0)
			ck_assert_msg(org_admin(org, who) == (strcmp(what, "promoteOrgAdmin") == 0),
				      "%s", dumps(c));
		else
			ck_abort_msg("a change this test does not make: %s", dumps(c));
	}
}

START_TEST(test_dry_run_lists_what_the_run_does)
{
	json_t *s = settings(false), *dry, *real;
	const char *before, *want, *changes, *uuid;

	json_object_set_new(s, "adminSyncOpts", json_incref(group_sync(ADMINS, "member", false)));
	use_ldap(s);
	make_team("eng", "devs");
	set_team_sync("eng", "devs", group_sync(DEVS, "member", false));
	expect_status(call("PUT", admin, dumps(group_sync(ORG_ADMINS, "member", false)),
			   ACCOUNTS "/eng/adminMemberSyncConfig"),
		      200);
	sync_now("done");
	uuid = uuid_of("user31");
	change("%s", deletions(31, 31));
	expect_summary(sync_now("done"), "usersFound=39 deactivated=1 teamsSynced=1");

	/* one change of every kind the directory can cause */
	change("%s%s%s%s%s%s%s",
	       fmt("dn: uid=user41,%s\nchangetype: add\nobjectClass: inetOrgPerson\nuid: user41\n"
		   "cn: Person user41\nsn: P\n\n",
		   PEOPLE),
	       fmt("dn: uid=user42,%s\nchangetype: add\nobjectClass: inetOrgPerson\nuid: user42\n"
		   "cn: Person user42\nsn: P\n\n",
		   PEOPLE),
	       fmt("dn: uid=user20,%s\nchangetype: modify\nreplace: cn\ncn: Renamed Twenty\n-\n\n"
		   "dn: uid=user21,%s\nchangetype: modrdn\nnewrdn: uid=user21\ndeleteoldrdn: 1\n"
		   "newsuperior: %s\n\n",
		   PEOPLE, PEOPLE, MOVED),
	       deletions(30, 30), "",
	       fmt("%s%s", membership(DEVS, "user41", "user02"),
		   membership(ADMINS, "user03", "user01")),
	       membership(ORG_ADMINS, "user04", "user03"));
	restore("%s", restoration("user31", uuid));
	changes = "created=2 updated=2 deactivated=1 reactivated=1 membersAdded=1 "
		  "membersRemoved=1 adminsChanged=4";
	want = fmt("usersFound=41 teamsSynced=1 %s", changes);

	before = store_state();
	dry = run_job(DRY_RUN, "done");
	ck_assert_int_eq(jbool(dry, "dryRun"), 1);
	expect_same_store(before, store_state());
	expect_summary(dry, want);
	ck_assert_str_eq(plan_counts(jpath(dry, "plan")), changes);

	real = sync_now("done");
	expect_summary(real, want);
	ck_assert_ptr_null(jpath(real, "plan"));
	/* change for change, as each job's log has them */
	ck_assert_str_eq(log_lines(job_log(jstr(real, "id")), "change: "),
			 log_lines(job_log(jstr(dry, "id")), "would: "));
	expect_applied(jpath(dry, "plan"));
	ck_assert_str_eq(jstr(account("user21"), "ldapDN"), "uid=user21," MOVED);
	ck_assert_str_eq(jstr(account("user20"), "fullName"), "Renamed Twenty");

	/* nothing is left to do */
	dry = run_job(DRY_RUN, "done");
	ck_assert_uint_eq(json_array_size(jpath(dry, "plan")), 0);
	expect_summary(dry, "usersFound=41 teamsSynced=1");
}
END_TEST

/* SIGKILLs srv; the store as the kill left it (a copy of its files) must be whole. */
static const char *kill_authd(void)
{
	const char *copy = fmt("%s/copy-%d", wd, ++nfiles);

	authd_stop_with(srv, SIGKILL);
	ck_assert_msg(WIFSIGNALED(srv->last_status) && WTERMSIG(srv->last_status) == SIGKILL,
		      "authd ended with status %d", srv->last_status);
	if (srv->dsn[0] != '\0') /* the server's own files are not authd's to keep whole */
		return pg_state_of(srv->dsn);
	expect_ran(sh(NULL, "mkdir '%s' && cp '%s'/authd.db* '%s'/", copy, srv->dir, copy), 0);
	ck_assert_str_eq(
	    chomp(sh(NULL, "sqlite3 -batch '%s/authd.db' 'PRAGMA integrity_check'", copy).out),
	    "ok");
	return state_of(fmt("%s/authd.db", copy));
}

static void restart_authd(void)
{
	free(admin);
	admin = NULL;
	start_srv(ADMIN_PW);
}

/* The lines of a job's log so far, as any replica reads them; polls use this (no arena). */
static long log_lines_now(const char *id)
{
	char path[160];
	struct reply r;
	long n = 0;

	snprintf(path, sizeof(path), JOBS "/%s/logs", id);
	ck_assert_msg(http_call(srv, "GET", path, admin, NULL, NULL, &r) == 0 && r.status == 200,
		      "GET %s: %ld %s", path, r.status, r.body ? r.body : r.error);
	for (const char *p = r.body; p != NULL && (p = strchr(p, '\n')) != NULL; p++)
		n++;
	reply_free(&r);
	return n;
}

static int count_of(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

START_TEST(test_authd_killed_during_a_job)
{
	const char *first_id, *first, *first_log, *before, *id, *after;
	double deadline = it_now() + JOB_SECONDS;
	long from;
	struct reply *r;
	json_t *j;

	prepare_big();
	r = call("GET", admin, NULL, JOBS);
	first_id = keep(strdup(jstr(r->json, "jobs.0.id")));
	first = dumps(job_now(first_id));
	first_log = job_log(first_id);
	before = store_state();

	/* killed while it reads the directory */
	id = sync_until_paging(&from);
	expect_same_store(before, kill_authd());
	restart_authd();
	/* on PostgreSQL the restart, on another port, is another replica: the job waits for its
	 * lease to end */
	j = await_status_at(__LINE__, id, "ended");
	ck_assert_str_eq(jstr(j, "status"), "errored");
	ck_assert_ptr_nonnull(jstr(j, "startedAt"));
	/* it never finished: its summary is empty or counts nothing */
	for (const char *const *c = counters; *c != NULL; c++)
		ck_assert_int_eq(jint(j, fmt("summary.%s", *c), 0), 0);
	expect_has(read_text(srv->log),
		   srv->dsn[0] == '\0' ? "left running by the last stop are now errored"
				       : "whose replica stopped renewing its lease are now errored",
		   "authd's log");
	expect_same_store(before, store_state());
	/* jobs and their logs survive */
	ck_assert_str_eq(dumps(job_now(first_id)), first);
	ck_assert_str_eq(job_log(first_id), first_log);
	/* the killed job's log: what its replica wrote, then why it ended */
	expect_has(job_log(id), "ldap-sync on replica ", "the killed job's log");
	expect_has(job_log(id), "errored (noted by replica ", "the killed job's log");
	r = call("GET", admin, NULL, JOBS);
	ck_assert_str_eq(jstr(r->json, "jobs.0.id"), id);
	ck_assert_str_eq(jstr(r->json, "jobs.1.id"), first_id);
	/* and a clean stop too */
	ck_assert_int_eq(authd_stop(srv), 0);
	restart_authd();
	ck_assert_str_eq(dumps(job_now(first_id)), first);
	ck_assert_str_eq(job_log(first_id), first_log);
	ck_assert_str_eq(jstr(job_now(id), "status"), "errored");

	/*
	 * Killed once its plan of NBIG new accounts is logged, as it writes them
	 * (or just before): the transaction is there whole or not at all.
	 */
	id = start_job(SYNC);
	/* the log so far is in the store before the apply's transaction begins */
	while (log_lines_now(id) < NBIG) {
		ck_assert_msg(it_now() < deadline, "the plan was not logged within %d s",
			      JOB_SECONDS);
		it_sleep_ms(20);
	}
	after = kill_authd();
	restart_authd();
	ck_assert_str_eq(after, store_state());
	if (strcmp(after, before) != 0) {
		ck_assert_int_eq(count_of(after, "\naccount|big"), NBIG);
		expect_flag("user05", "isActive", 0);
	}
	await_status_at(__LINE__, id, "ended");
	ck_assert_msg(strcmp(jstr(job_now(id), "status"), "errored") == 0 ||
			  strcmp(jstr(job_now(id), "status"), "done") == 0,
		      "%s", dumps(job_now(id)));
	/* what is left to do, the next sync does */
	sync_now("done");
	ck_assert_int_eq(count_of(store_state(), "\naccount|big"), NBIG);
	expect_flag("user05", "isActive", 0);
}
END_TEST

/* ---- the queue ---- */

START_TEST(test_second_job_waits_and_cancel)
{
	json_t *s = settings(false), *j;
	const char *a, *b, *c, *before;
	struct reply *r;

	json_object_set_new(s, "timeoutSeconds", json_integer(60));
	use_ldap(s);
	sync_now("done");
	change("%s", deletions(5, 5));
	before = store_state();

	/* a directory that stops answering holds the first job in its search */
	ck_assert_int_eq(kill(corp->pid, SIGSTOP), 0);
	a = start_job(SYNC);
	await_status_at(__LINE__, a, "running");
	b = start_job(SYNC);
	c = start_job(SYNC);
	it_sleep_ms(300);
	ck_assert_str_eq(jstr(job_now(a), "status"), "running");
	ck_assert_str_eq(jstr(job_now(b), "status"), "waiting");
	ck_assert_str_eq(jstr(job_now(c), "status"), "waiting");
	r = call("GET", admin, NULL, JOBS "?action=ldap-sync&limit=3");
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "jobs.0.id"), c);
	ck_assert_str_eq(jstr(r->json, "jobs.2.id"), a);
	ck_assert_str_ne(jstr(r->json, "nextPageStart"), "");

	/* a waiting job is canceled at once, a running one stops changing nothing */
	r = call("POST", admin, NULL, JOBS "/%s/cancel", b);
	expect_status(r, 202);
	ck_assert_str_eq(jstr(r->json, "status"), "canceled");
	expect_error(call("POST", admin, NULL, JOBS "/%s/cancel", b), 409, "CONFLICT", NULL);
	expect_status(call("POST", admin, "{}", JOBS "/%s/cancel", a), 202);
	ck_assert_int_eq(kill(corp->pid, SIGCONT), 0);

	j = finish(a, "canceled");
	expect_summary(j, "");
	j = finish(c, "done");
	expect_summary(j, "usersFound=39 deactivated=1");
	j = job_now(b);
	ck_assert_str_eq(jstr(j, "status"), "canceled");
	ck_assert_ptr_null(jstr(j, "startedAt"));
	ck_assert_str_eq(job_log(b), "");
	/* the canceled job changed nothing: the only change is c's */
	expect_flag("user05", "isActive", 0);
	ck_assert_str_ne(before, store_state());
	expect_error(call("POST", admin, NULL, JOBS "/%s/cancel", c), 409, "CONFLICT", NULL);
}
END_TEST

START_TEST(test_jit_login_syncs_the_new_users_groups)
{
	json_t *j;
	struct reply *r;

	use_ldap(settings(true));
	make_team("eng", "devs");
	set_team_sync("eng", "devs", group_sync(DEVS, "member", false));
	expect_status(login("user03", "pw-user03"), 200);
	r = call("GET", admin, NULL, JOBS);
	ck_assert_str_eq(jstr(r->json, "jobs.0.target"), "user03");
	j = finish(jstr(r->json, "jobs.0.id"), "done");
	expect_summary(j, "teamsSynced=1 membersAdded=1");
	ck_assert_str_eq(team_members("eng", "devs"), "user03");

	expect_status(login("user04", "pw-user04"), 200);
	r = call("GET", admin, NULL, JOBS);
	ck_assert_str_eq(jstr(r->json, "jobs.0.target"), "user04");
	finish(jstr(r->json, "jobs.0.id"), "done");
	ck_assert_str_eq(team_members("eng", "devs"), "user03 user04");
	/* someone outside every synced group queues nothing */
	expect_status(login("user30", "pw-user30"), 200);
	r = call("GET", admin, NULL, JOBS);
	ck_assert_str_eq(jstr(r->json, "jobs.0.target"), "user30");
	j = finish(jstr(r->json, "jobs.0.id"), "done");
	expect_summary(j, "teamsSynced=1");
}
END_TEST

/* ---- refusals ---- */

START_TEST(test_jobs_api_refusals)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
	    {"{}", "action"},
	    {"{\"action\":\"nope\"}", "action"},
	    {"{\"action\":7}", "action"},
	    {"{\"action\":\"ldap-sync\",\"dryRun\":\"yes\"}", "dryRun"},
	    {"{\"action\":\"ldap-sync\",\"force\":1}", "force"},
	    {"{\"action\":\"ldap-sync\",\"target\":\"user01\"}", "target"},
	};
	const char *token, *id;
	struct reply *r;
	json_t *j;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(call("POST", admin, bad[i].body, JOBS), 400, "INVALID_FORM",
			     bad[i].field);
	expect_error(call("POST", admin, "[1]", JOBS), 400, "INVALID_JSON", NULL);
	expect_error(call("POST", admin, "{", JOBS), 400, "INVALID_JSON", NULL);
	r = call("GET", admin, NULL, JOBS);
	expect_status(r, 200);
	ck_assert_uint_eq(json_array_size(jpath(r->json, "jobs")), 0);

	/* without LDAP settings a job has nothing to do, and says why */
	id = start_job(SYNC);
	j = finish(id, "errored");
	expect_summary(j, "");
	expect_has(job_log(id), "LDAP is not configured", "log");
	expect_error(call("POST", admin, NULL, JOBS "/%s/cancel", id), 409, "CONFLICT", NULL);

	make_user("nosy", false);
	token = keep(authd_login(srv, "nosy", LOCAL_PW));
	expect_error(call("POST", token, SYNC, JOBS), 403, "FORBIDDEN", NULL);
	expect_error(call("GET", token, NULL, JOBS), 403, "FORBIDDEN", NULL);
	expect_error(call("GET", token, NULL, JOBS "/%s", id), 403, "FORBIDDEN", NULL);
	expect_error(call("GET", token, NULL, JOBS "/%s/logs", id), 403, "FORBIDDEN", NULL);
	expect_error(call("POST", token, NULL, JOBS "/%s/cancel", id), 403, "FORBIDDEN", NULL);
	expect_error(call("POST", NULL, SYNC, JOBS), 401, "UNAUTHORIZED", NULL);
	expect_error(call("GET", NULL, NULL, JOBS "/%s/logs", id), 401, "UNAUTHORIZED", NULL);

	expect_error(call("GET", admin, NULL, JOBS "/no-such-job"), 404, "NOT_FOUND", NULL);
	expect_error(call("GET", admin, NULL, JOBS "/no-such-job/logs"), 404, "NOT_FOUND", NULL);
	expect_error(call("POST", admin, NULL, JOBS "/no-such-job/cancel"), 404, "NOT_FOUND", NULL);
	expect_error(call("GET", admin, NULL, JOBS "?limit=0"), 400, "INVALID_FORM", "limit");
	expect_error(call("GET", admin, NULL, JOBS "?limit=x"), 400, "INVALID_FORM", "limit");

	/* pages, newest first, and the action filter */
	finish(start_job(SYNC), "errored");
	finish(start_job(DRY_RUN), "errored");
	r = call("GET", admin, NULL, JOBS "?limit=2");
	ck_assert_uint_eq(json_array_size(jpath(r->json, "jobs")), 2);
	ck_assert_int_eq(jbool(r->json, "jobs.0.dryRun"), 1);
	ck_assert_str_eq(jstr(r->json, "nextPageStart"), id);
	ck_assert_str_eq(header(r, "X-Next-Page-Start"), id);
	r = call("GET", admin, NULL, JOBS "?limit=2&start=%s", id);
	ck_assert_uint_eq(json_array_size(jpath(r->json, "jobs")), 1);
	ck_assert_str_eq(jstr(r->json, "jobs.0.id"), id);
	ck_assert_str_eq(jstr(r->json, "nextPageStart"), "");
	r = call("GET", admin, NULL, JOBS "?action=other");
	ck_assert_uint_eq(json_array_size(jpath(r->json, "jobs")), 0);
}
END_TEST

START_TEST(test_member_sync_config_refusals)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
	    {"{\"enableSync\":\"yes\"}", "enableSync"},
	    {"{\"enableSync\":true,\"groupDN\":\"not a dn\"}", "groupDN"},
	    {"{\"enableSync\":true,\"groupDN\":\"cn=x,dc=y\",\"groupMemberAttr\":\"bad attr\"}",
	     "groupMemberAttr"},
	    {"{\"enableSync\":true,\"selectGroupMembers\":false,\"searchBaseDN\":\"\"}",
	     "searchBaseDN"},
	    {"{\"enableSync\":true,\"selectGroupMembers\":false,\"searchBaseDN\":\"dc=y\","
	     "\"searchFilter\":\"((\"}",
	     "searchFilter"},
	    {"{\"allowNonLDAPMembers\":1}", "allowNonLDAPMembers"},
	    {"{\"groupDn\":\"cn=x,dc=y\"}", "groupDn"},
	    {"{\"followNestedGroups\":\"yes\"}", "followNestedGroups"},
	    {"{\"enableSync\":true,\"groupDN\":\"cn=x,dc=y\",\"groupMemberAttr\":\"memberUid\","
	     "\"followNestedGroups\":true}",
	     "followNestedGroups"},
	};
	const char *paths[] = {ACCOUNTS "/eng/teams/devs/memberSyncConfig",
			       ACCOUNTS "/eng/adminMemberSyncConfig"};
	const char *token;

	make_team("eng", "devs");
	make_user("nosy", false);
	token = keep(authd_login(srv, "nosy", LOCAL_PW));
	add_to_team("eng", "devs", "nosy");
	for (size_t p = 0; p < 2; p++) {
		const char *saved = dumps(group_sync(DEVS, "member", true));
		struct reply *r;

		/* before any PUT: the defaults, sync off */
		r = call("GET", admin, NULL, "%s", paths[p]);
		expect_status(r, 200);
		ck_assert_int_eq(jbool(r->json, "enableSync"), 0);
		ck_assert_str_eq(jstr(r->json, "groupMemberAttr"), "member");
		expect_status(call("PUT", admin, saved, "%s", paths[p]), 200);
		saved = dumps(call("GET", admin, NULL, "%s", paths[p])->json);
		ck_assert_int_eq(
		    jbool(call("GET", admin, NULL, "%s", paths[p])->json, "enableSync"), 1);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			expect_error(call("PUT", admin, bad[i].body, "%s", paths[p]), 400,
				     "INVALID_FORM", bad[i].field);
		expect_error(call("PUT", admin, "[]", "%s", paths[p]), 400, "INVALID_JSON", NULL);
		/* members who are not org admins may neither read nor change it */
		expect_error(call("PUT", token, saved, "%s", paths[p]), 403, "FORBIDDEN", NULL);
		expect_error(call("GET", token, NULL, "%s", paths[p]), 403, "FORBIDDEN", NULL);
		/* nothing of the refused ones was saved */
		ck_assert_str_eq(dumps(call("GET", admin, NULL, "%s", paths[p])->json), saved);
	}
	expect_status(call("GET", admin, NULL, ACCOUNTS "/eng/teams/nope/memberSyncConfig"), 404);
}
END_TEST

/* ---- replicas: three authd on one PostgreSQL store share the queue ---- */

#define NREPLICAS 3
static struct authd *replicas[NREPLICAS]; /* [0] is srv as the test began */
static char *tokens[NREPLICAS];		  /* a token of the first admin, for each */
static bool killed[NREPLICAS];
/* their replica.name; the first has none, and is called host:port */
static const char *const names[NREPLICAS] = {NULL, "replica-b", "replica-c"};

/* Starts the other replicas on srv's store; with a wall clock read from clock, when lib. */
static void start_other_replicas(const char *lib, const char *clock)
{
	replicas[0] = srv;
	tokens[0] = admin;
	for (int i = 1; i < NREPLICAS; i++) {
		replicas[i] = authd_new(fmt("{\"replica\":{\"name\":\"%s\"},"
					    "\"store\":{\"driver\":\"postgres\",\"dsn\":\"%s\"}}",
					    names[i], srv->dsn));
		ck_assert_msg(replicas[i] != NULL, "cannot make a data dir");
		snprintf(replicas[i]->dsn, sizeof(replicas[i]->dsn), "%s", srv->dsn);
		/* the LDAP settings in the store are sealed with the data dir's key: all need it */
		expect_ran(sh(NULL, "cp -p '%s/secret.key' '%s/'", srv->dir, replicas[i]->dir), 0);
		if (lib != NULL)
			fake_clock(replicas[i], lib, clock);
		/* a session is the store's: the first replica's token serves on the others */
		tokens[i] = strdup(tokens[0]);
		ck_assert_ptr_nonnull(tokens[i]);
		killed[i] = false;
	}
	killed[0] = false;
	ck_assert_msg(authd_start_together(replicas + 1, NREPLICAS - 1, ADMIN_PW) == 0,
		      "the other replicas did not start");
}

/* Sends the suite's calls (call, job_now, finish...) to replica i from now on. */
static void use_replica(int i)
{
	srv = replicas[i];
	admin = tokens[i];
}

static const char *replica_name(int i)
{
	char host[256];

	if (names[i] != NULL)
		return names[i];
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	return fmt("%s:%d", host, replicas[i]->port);
}

/* The replica a job names as its runner. */
static int replica_of(json_t *job)
{
	const char *name = jstr(job, "replica");

	ck_assert_ptr_nonnull(name);
	for (int i = 0; i < NREPLICAS; i++)
		if (strcmp(name, replica_name(i)) == 0)
			return i;
	ck_abort_msg("job %s names no replica of the test: %s", jstr(job, "id"), name);
	return -1;
}

/* The replica that runs the job, once it runs. */
static int holder_of(const char *id)
{
	return replica_of(await_status_at(__LINE__, id, "running"));
}

/* A replica alive that is not i. */
static int other_than(int i)
{
	for (int k = 1; k < NREPLICAS; k++)
		if (!killed[(i + k) % NREPLICAS])
			return (i + k) % NREPLICAS;
	ck_abort_msg("no replica but %d is alive", i);
	return -1;
}

static void kill_replica(int i)
{
	authd_stop_with(replicas[i], SIGKILL);
	killed[i] = true;
}

/* The job's log, as replica `reader` answers it, is the one the others answer. */
static const char *log_read_on(int reader, const char *id)
{
	const char *log;

	use_replica(reader);
	log = job_log(id);
	for (int i = 0; i < NREPLICAS; i++)
		if (i != reader && !killed[i]) {
			use_replica(i);
			ck_assert_str_eq(job_log(id), log);
		}
	use_replica(reader);
	return log;
}

static void stop_other_replicas(void)
{
	use_replica(0);
	for (int i = 1; i < NREPLICAS; i++) {
		authd_free(replicas[i]);
		free(tokens[i]);
		replicas[i] = NULL;
		tokens[i] = NULL;
	}
}

START_TEST(test_replicas_share_the_queue)
{
	int holder, rest;
	const char *a, *b, *before, *log;
	json_t *j;

	json_t *s = settings(false);

	/* a directory that stops answering holds a job in its search */
	json_object_set_new(s, "timeoutSeconds", json_integer(60));
	/* the other replicas read the LDAP settings as they start */
	use_ldap(s);
	start_other_replicas(NULL, NULL);

	/* a job started on one replica is seen, and waited on, on another; its log is the same on
	 * every replica, the one that ran it named on its first line */
	a = start_job(SYNC);
	use_replica(2);
	j = finish(a, "done");
	ck_assert_int_eq(jint(j, "summary.usersFound", 0), NPEOPLE);
	holder = replica_of(j);
	log = log_read_on(other_than(holder), a);
	expect_has(log, fmt(" ldap-sync on replica %s\n", replica_name(holder)), "the job's log");
	expect_has(log, " done in ", "the job's log");

	/* canceled on a replica that does not run it: it ends canceled, changing nothing */
	change("%s", deletions(5, 5));
	before = store_state();
	ck_assert_int_eq(kill(corp->pid, SIGSTOP), 0);
	a = start_job(SYNC);
	holder = holder_of(a);
	rest = other_than(holder);
	use_replica(rest);
	b = start_job(SYNC);
	/* the running job's log so far, read on another replica */
	expect_has(job_log(a), fmt(" on replica %s\n", replica_name(holder)),
		   "a running job's log");
	it_sleep_ms(300);
	/* one job at a time across replicas: the second waits though two replicas are idle */
	ck_assert_str_eq(jstr(job_now(b), "status"), "waiting");
	expect_status(call("POST", admin, NULL, JOBS "/%s/cancel", a), 202);
	use_replica(holder);
	expect_status(call("POST", admin, NULL, JOBS "/%s/cancel", b), 202);
	ck_assert_int_eq(kill(corp->pid, SIGCONT), 0);
	/* the directory may answer before the holder hears of the cancel: its apply then finds
	 * the cancel in the job's row, and the job counts what it read, having changed nothing */
	j = finish(a, "canceled");
	ck_assert_int_eq(jint(j, "summary.deactivated", -1), 0);
	ck_assert_str_eq(jstr(job_now(b), "status"), "canceled");
	expect_same_store(before, store_state());

	/* the replica that runs a job is killed: once its lease ends the job is errored with
	 * nothing applied, what its log had so far readable on the others, and the next job runs
	 * on another replica */
	ck_assert_int_eq(kill(corp->pid, SIGSTOP), 0);
	a = start_job(SYNC);
	holder = holder_of(a);
	rest = other_than(holder);
	use_replica(rest);
	b = start_job(SYNC);
	kill_replica(holder);
	j = await_status_at(__LINE__, a, "errored");
	expect_has(jstr(j, "summary.error"), "lease", "the errored job's summary");
	log = log_read_on(rest, a);
	expect_has(log, fmt(" on replica %s\n", replica_name(holder)), "the killed job's log");
	expect_has(log, " errored (noted by replica ", "the killed job's log");
	expect_has(log, fmt("replica %s stopped renewing", replica_name(holder)),
		   "the killed job's log");
	expect_same_store(before, store_state());
	ck_assert_int_eq(kill(corp->pid, SIGCONT), 0);
	j = finish(b, "done");
	expect_summary(j, "usersFound=39 deactivated=1");
	ck_assert_int_ne(replica_of(j), holder);
	expect_flag("user05", "isActive", 0);
	stop_other_replicas();
}
END_TEST

/* The full syncs the schedule queued (the test queues none itself), newest first. */
static json_t *scheduled(void)
{
	struct reply *r = call("GET", admin, NULL, JOBS "?action=ldap-sync&limit=100");
	json_t *jobs = jpath(r->json, "jobs"), *out = keep_json(json_array());

	expect_status(r, 200);
	for (size_t i = 0; i < json_array_size(jobs); i++)
		if (jstr(json_array_get(jobs, i), "target") == NULL)
			json_array_append(out, json_array_get(jobs, i));
	return out;
}

/*
 * Moves every replica's clock to `offset`, into the next period of the
 * schedule, and waits for the period's job: the schedule's n-th. It must be
 * the only one, after each replica has looked twice (every 2 s).
 */
static json_t *period_at(int line, const char *clock, const char *offset, long n)
{
	double deadline = it_now() + 30;
	json_t *jobs;

	set_clock(clock, offset);
	while ((long)json_array_size(jobs = scheduled()) < n) {
		ck_assert_msg(it_now() < deadline, "line %d: no sync was scheduled at %s", line,
			      offset);
		it_sleep_ms(200);
	}
	ck_assert_int_eq(json_array_size(jobs), n);
	return json_array_get(jobs, 0);
}

/* No second job in the period: each replica has looked twice since it began. */
static void expect_one_job_a_period(long n)
{
	it_sleep_ms(4500);
	ck_assert_int_eq(json_array_size(scheduled()), n);
}

START_TEST(test_replicas_schedule_once_per_period)
{
	/*
	 * A one-minute schedule over five periods, on the clock every replica
	 * reads: each starts one job; in the fourth the replica that runs it is
	 * killed and, half a period on, its lease (20 s) has ended. The clock
	 * moves a period and a second at a time (libfaketime's offsets are in
	 * seconds); between two moves less than a minute passes, so the real
	 * clock never reaches a period by itself.
	 */
	static const char *const minutes[] = {"+61", "+122", "+183", "+244", "+305"};
	const char *lib = faketime_lib(), *clock = fmt("%s/faketime", wd), *id;
	json_t *s = settings(false), *j;
	double ldap_on;
	int holder;

	ck_assert_msg(lib != NULL,
		      "libfaketime is not installed: scripts/install-deps.sh --test installs it");
	set_clock(clock, "+0");
	authd_stop(srv);
	fake_clock(srv, lib, clock);
	free(admin);
	admin = NULL;
	start_srv(ADMIN_PW);
	json_object_set_new(s, "timeoutSeconds", json_integer(60));
	json_object_set_new(s, "syncSchedule", json_string("@every 1m"));
	use_ldap(s);
	ldap_on = it_now();
	ck_assert_str_eq(jstr(call("GET", admin, NULL, LDAP_CONFIG)->json, "syncSchedule"),
			 "@every 1m");
	start_other_replicas(lib, clock);
	/* the first period starts when a scheduler first sees LDAP on: each looks every 2 s, and
	 * one that saw it only after the move would wait a period more */
	it_sleep_ms(ldap_on + 4 > it_now() ? (long)((ldap_on + 4 - it_now()) * 1000) : 0);
	for (long m = 1; m <= 3; m++) {
		id = jstr(period_at(__LINE__, clock, minutes[m - 1], m), "id");
		finish(id, "done");
		expect_one_job_a_period(m);
	}

	/* killed while it runs the fourth period's job (held in its search) */
	ck_assert_int_eq(kill(corp->pid, SIGSTOP), 0);
	id = jstr(period_at(__LINE__, clock, minutes[3], 4), "id");
	holder = holder_of(id);
	kill_replica(holder);
	use_replica(other_than(holder));
	set_clock(clock, "+274");
	j = await_status_at(__LINE__, id, "errored");
	expect_has(jstr(j, "summary.error"), "lease", "the errored job's summary");
	ck_assert_int_eq(kill(corp->pid, SIGCONT), 0);
	expect_one_job_a_period(4);

	/* the next period's job runs once, on another replica */
	j = period_at(__LINE__, clock, minutes[4], 5);
	id = jstr(j, "id");
	j = finish(id, "done");
	ck_assert_int_ne(replica_of(j), holder);
	expect_one_job_a_period(5);
	stop_other_replicas();
}
END_TEST

static Suite *sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = server_case("slapd", NULL, NULL, TEST_TIMEOUT);

	tcase_add_checked_fixture(tc, setup_each, teardown_each);
	tcase_add_test(tc, test_first_sync_creates_users);
	tcase_add_test(tc, test_deleted_user_is_deactivated_and_bundle_refused);
	tcase_add_test(tc, test_jit_on_marks_missing_users);
	tcase_add_test(tc, test_moved_and_renamed_users_keep_their_accounts);
	tcase_add_test(tc, test_an_account_without_an_id_is_found_by_its_dn);
	tcase_add_test(tc, test_an_entry_made_again_is_not_merged);
	tcase_add_test(tc, test_team_follows_its_group);
	tcase_add_test(tc, test_missing_group_changes_nothing);
	tcase_add_test(tc, test_nested_groups_are_followed);
	tcase_add_test(tc, test_nested_group_loops_and_depth);
	tcase_add_test(tc, test_nested_members_and_the_team_guard);
	tcase_add_test(tc, test_admin_sync_follows_nested_groups);
	tcase_add_test(tc, test_big_groups);
	tcase_add_test(tc, test_member_uid_and_search_member_sync);
	tcase_add_test(tc, test_admin_sync_promotes_and_demotes);
	tcase_add_test(tc, test_admin_sync_keeps_an_active_admin);
	tcase_add_test(tc, test_org_admin_sync);
	tcase_add_test(tc, test_directory_killed_while_paging);
	tcase_add_test(tc, test_failover_between_two_servers);
	tcase_add_test(tc, test_sync_fails_over_after_a_server_killed_while_paging);
	tcase_add_test(tc, test_wrong_base_dn_changes_nothing);
	tcase_add_test(tc, test_deactivation_guard);
	tcase_add_test(tc, test_dry_run_lists_what_the_run_does);
	tcase_add_test(tc, test_authd_killed_during_a_job);
	tcase_add_test(tc, test_second_job_waits_and_cancel);
	tcase_add_test(tc, test_jit_login_syncs_the_new_users_groups);
	tcase_add_test(tc, test_jobs_api_refusals);
	tcase_add_test(tc, test_member_sync_config_refusals);
	suite_add_tcase(s, tc);
	/* replicas share a store only on a server: on SQLite one process has it */
	if (it_pg_wanted()) {
		tc = server_case("replicas", NULL, NULL, TEST_TIMEOUT);
		tcase_add_checked_fixture(tc, setup_each, teardown_each);
		tcase_add_test(tc, test_replicas_share_the_queue);
		tcase_add_test(tc, test_replicas_schedule_once_per_period);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	static Suite *(*const suites[])(void) = {sync_suite, NULL};

	return run_suites("authd-sync", suites, NULL);
}
