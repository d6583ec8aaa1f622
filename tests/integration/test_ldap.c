/*
 * Integration tests of LDAP (SPEC §6.1–§6.4) against real slapd instances:
 * libldapsync's searches, paging, group modes, server choice and TLS, the
 * ldapsync command, and authd's settings API, test login, LDAP login and
 * just-in-time provisioning; a user moved to another OU between two logins,
 * and a name that another entry has taken since; the connection pool (reuse,
 * settings changes, idle timeout, identity, a restart under logins).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"
#include "ldapsync.h"
#include "slapd.h"

#define ADMIN_PW "Admin-Passw0rd-LDAP"
#define ACCOUNTS "/enzi/v0/accounts"
#define LDAP_CONFIG "/enzi/v0/config/auth/ldap"
#define TRY_LOGIN LDAP_CONFIG "/tryLogin"
#define TEST_TIMEOUT 120
#define NUSERS 1200 /* more than two pages of 500 */
#define SIZE_LIMIT 50
#define EU_READER_PW "eu-reader-secret"

#define call(method, token, body, ...) call_to(srv, method, token, body, __VA_ARGS__)

/* example.com: TLS, a size limit below its user count; eu.example.com: its own reader. */
static struct slapd *dir_main, *dir_eu;
static char ca_pem_path[IT_PATH_LEN];

static const char *const tools[] = {"slapd",	  "slapadd", "ldapmodify",
				    "ldapsearch", "sqlite3", NULL};

/* ---- the directories ---- */

static void person(FILE *f, const char *dn_uid, const char *uid, const char *parent)
{
	fprintf(f,
		"dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: Person %s\nsn: P\n"
		"userPassword: pw-%s\n\n",
		dn_uid, parent, uid, dn_uid, dn_uid);
}

static char *main_ldif(void)
{
	const char *people = "ou=people,dc=example,dc=com";
	char *text = NULL, long_name[120];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fprintf(f, "dn: %s\nobjectClass: organizationalUnit\nou: people\n\n", people);
	for (int i = 0; i < NUSERS; i++) {
		char uid[16];

		snprintf(uid, sizeof(uid), "user%03d", i);
		person(f, uid, uid, people);
	}
	/* names that break the rules, or that normalise to something else */
	person(f, "badname", "bad name", people);
	person(f, "semicolon", "semi;colon", people);
	memset(long_name, 'x', 101);
	long_name[101] = '\0';
	person(f, "toolong", long_name, people);
	person(f, "mixed", "MixedCase", people);
	person(f, "zoe", "Zoe\xcc\x88", people); /* e + combining diaeresis: NFC is zoë */
	/* a second search's branch: one duplicate of the first, one of its own */
	fprintf(f,
		"dn: ou=staff,dc=example,dc=com\nobjectClass: organizationalUnit\nou: staff\n\n");
	person(f, "user001", "user001", "ou=staff,dc=example,dc=com");
	person(f, "staffonly", "staffonly", "ou=staff,dc=example,dc=com");
	/* a decoy domain: dc=xeu is not under eu.example.com and stays on this server */
	fprintf(f, "dn: dc=xeu,dc=example,dc=com\nobjectClass: domain\ndc: xeu\n\n"
		   "dn: ou=people,dc=xeu,dc=example,dc=com\nobjectClass: organizationalUnit\n"
		   "ou: people\n\n");
	person(f, "xeuuser", "xeuuser", "ou=people,dc=xeu,dc=example,dc=com");
	fprintf(f,
		"dn: ou=groups,dc=example,dc=com\nobjectClass: organizationalUnit\nou: groups\n\n"
		"dn: cn=devs,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: devs\n"
		"member: uid=user001,%s\nmember: UID=user002, OU=People,dc=example,dc=com\n"
		"member: uid=user003,%s\nmember: uid=gone,%s\n\n"
		"dn: cn=ops,ou=groups,dc=example,dc=com\nobjectClass: groupOfUniqueNames\ncn: ops\n"
		"uniqueMember: uid=user004,%s\nuniqueMember: uid=user005,%s\n\n"
		"dn: cn=posix,ou=groups,dc=example,dc=com\nobjectClass: posixGroup\ncn: posix\n"
		"gidNumber: 1000\nmemberUid: user006\nmemberUid: user007\nmemberUid: nobody\n\n",
		people, people, people, people, people);
	fclose(f);
	return text;
}

static char *eu_ldif(void)
{
	const char *people = "ou=people,dc=eu,dc=example,dc=com";
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fprintf(f, "dn: %s\nobjectClass: organizationalUnit\nou: people\n\n", people);
	person(f, "euuser1", "euuser1", people);
	person(f, "euuser2", "euuser2", people);
	person(f, "euuser3", "euuser3", people);
	fclose(f);
	return text;
}

static void start_directories(void)
{
	char *ldif_main = main_ldif(), *ldif_eu = eu_ldif();
	struct slapd_opts main_opts = {.suffix = "dc=example,dc=com",
				       .ldif = ldif_main,
				       .size_limit = SIZE_LIMIT,
				       .tls_dir = suite_dir};
	struct slapd_opts eu_opts = {.suffix = "dc=eu,dc=example,dc=com",
				     .ldif = ldif_eu,
				     .reader_password = EU_READER_PW,
				     .allow_bind_anon_dn = true};

	ck_assert_msg(slapd_test_ca(suite_dir) == 0, "cannot make the test CA");
	snprintf(ca_pem_path, sizeof(ca_pem_path), "%s/%s", suite_dir, SLAPD_CA_FILE);
	dir_main = slapd_new(suite_dir);
	dir_eu = slapd_new(suite_dir);
	ck_assert_msg(dir_main && slapd_start(dir_main, &main_opts) == 0, "slapd did not start");
	ck_assert_msg(dir_eu && slapd_start(dir_eu, &eu_opts) == 0, "slapd (eu) did not start");
	free(ldif_main);
	free(ldif_eu);
}

static void setup_ldap(void)
{
	make_wd("fixture");
	require_tools(tools);
	start_directories();
	start_server(NULL, ADMIN_PW);
}

static void teardown_ldap(void)
{
	teardown_server();
	slapd_free(dir_main);
	slapd_free(dir_eu);
	dir_main = dir_eu = NULL;
}

/* ---- settings ---- */

static const char *ca_pem(void)
{
	return read_text(ca_pem_path);
}

/* The main directory over ldaps with the test CA, one user search of ou=people. */
static json_t *settings_main(void)
{
	return keep_json(json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s}]}", "serverURL",
				   dir_main->ldaps_url, "rootCerts", ca_pem(), "readerDN",
				   dir_main->reader_dn, "readerPassword", dir_main->reader_pw,
				   "userSearchConfigs", "baseDN", "ou=people,dc=example,dc=com",
				   "filter", "(objectClass=inetOrgPerson)"));
}

/* Adds eu.example.com's server, with its own reader, as an additional domain. */
static void add_eu_domain(json_t *s)
{
	json_object_set_new(s, "additionalDomains",
			    json_pack("[{s:s, s:s, s:s, s:s}]", "domain", "eu.example.com",
				      "serverURL", dir_eu->url, "readerDN", dir_eu->reader_dn,
				      "readerPassword", EU_READER_PW));
}

static void set_searches(json_t *s, json_t *searches)
{
	json_object_set_new(s, "userSearchConfigs", searches);
}

static void parse_settings(json_t *j, struct ls_settings *out)
{
	struct refusal err;

	ck_assert_msg(ls_settings_from_json(j, NULL, out, &err) == 0, "settings refused: %s",
		      err.message);
}

/* ---- libldapsync in this process ---- */

/* What a search run gave: users by name ({dn, search, server}), the log, the outcome. */
struct found {
	json_t *users;
	json_t *log;
	struct ls_search_counts counts;
	int rc;
};

static void collect_line(void *ctx, const char *line)
{
	json_array_append_new(ctx, json_string(line));
}

static int collect_user(void *ctx, const struct ls_user *u)
{
	json_object_set_new(ctx, u->username,
			    json_pack("{s:s, s:s, s:i, s:i}", "dn", u->dn, "fullName", u->full_name,
				      "search", (int)u->search, "server", (int)u->server));
	return 0;
}

static struct found find_users(json_t *settings)
{
	struct found f = {keep_json(json_object()), keep_json(json_array()), {0, 0, 0}, 0};
	struct ls_log log = {collect_line, f.log};
	struct ls_settings s;

	parse_settings(settings, &s);
	f.rc = ls_find_users(&s, &log, collect_user, f.users, &f.counts);
	ls_settings_free(&s);
	return f;
}

static const char *log_text(json_t *log)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_t *line;
	size_t i;

	json_array_foreach(log, i, line) fprintf(f, "%s\n", json_string_value(line));
	fclose(f);
	return keep(text);
}

static void expect_user(const struct found *f, const char *name, bool present)
{
	ck_assert_msg((json_object_get(f->users, name) != NULL) == present, "%s %s; log:\n%s", name,
		      present ? "missing" : "present", log_text(f->log));
}

START_TEST(test_paging_gets_past_the_size_limit)
{
	json_t *s = settings_main();
	struct found f = find_users(s);

	ck_assert_msg(f.rc == LS_OK, "search failed:\n%s", log_text(f.log));
	/* every user and two names that normalise, past a size limit of 50, in three pages */
	ck_assert_uint_eq(json_object_size(f.users), NUSERS + 2);
	expect_user(&f, "user000", true);
	expect_user(&f, "user119", true);
	expect_has(log_text(f.log), "bind as reader cn=reader,dc=example,dc=com: ok", "log");

	/* without paging the same search hits the limit, and fails as a whole */
	json_object_set_new(s, "noSimplePagination", json_true());
	f = find_users(s);
	ck_assert_int_eq(f.rc, LS_FAILED);
	expect_has(log_text(f.log), "Size limit exceeded", "log");
	expect_has(log_text(f.log), "did not complete", "log");
}
END_TEST

START_TEST(test_names_are_checked_and_first_search_wins)
{
	json_t *s = settings_main();
	struct found f;

	set_searches(s, json_pack("[{s:s}, {s:s}]", "baseDN", "ou=people,dc=example,dc=com",
				  "baseDN", "ou=staff,dc=example,dc=com"));
	f = find_users(s);
	ck_assert_msg(f.rc == LS_OK, "%s", log_text(f.log));
	expect_user(&f, "mixedcase", true);
	expect_user(&f, "zo\xc3\xab", true);
	expect_user(&f, "staffonly", true);
	/* the first search's entry wins the duplicate */
	ck_assert_str_eq(jstr(f.users, "user001.dn"), "uid=user001,ou=people,dc=example,dc=com");
	ck_assert_int_eq(jint(f.users, "staffonly.search", -1), 1);
	expect_has(log_text(f.log), "skipped uid=user001,ou=staff,dc=example,dc=com", "log");
	expect_has(log_text(f.log), "was found by an earlier search", "log");
	expect_has(log_text(f.log), "uid \"bad name\" must not contain whitespace", "log");
	expect_has(log_text(f.log), "uid \"semi;colon\" must not contain", "log");
	expect_has(log_text(f.log), "skipped uid=toolong", "log");
	ck_assert_uint_eq(f.counts.invalid, 3);
	ck_assert_uint_eq(f.counts.duplicates, 1);
	ck_assert_str_eq(jstr(f.users, "user005.fullName"), "Person user005");
}
END_TEST

/* Searches the main directory's people with a group selection; the names it found. */
static const char *group_members(const char *group, const char *attr, bool iterate)
{
	json_t *s = settings_main();
	struct found f;
	const char *key;
	json_t *v;
	char *names = NULL;
	size_t len = 0;
	FILE *out;

	set_searches(s, json_pack("[{s:s, s:s, s:b, s:s, s:s, s:b}]", "baseDN",
				  "ou=people,dc=example,dc=com", "filter", "objectClass=person",
				  "matchGroup", 1, "matchGroupDN", group, "matchGroupMemberAttr",
				  attr, "matchGroupIterate", iterate));
	f = find_users(s);
	ck_assert_msg(f.rc == LS_OK, "%s", log_text(f.log));
	out = open_memstream(&names, &len);
	json_object_foreach(f.users, key, v) fprintf(out, "%s ", key);
	fclose(out);
	return keep(names);
}

START_TEST(test_group_members_in_both_modes)
{
	const char *devs = "cn=devs,ou=groups,dc=example,dc=com";
	const char *ops = "cn=ops,ou=groups,dc=example,dc=com";
	const char *posix = "cn=posix,ou=groups,dc=example,dc=com";

	for (int iterate = 0; iterate < 2; iterate++) {
		/* DNs compare whatever their spelling; a member that is gone is skipped */
		ck_assert_str_eq(group_members(devs, "member", iterate),
				 "user001 user002 user003 ");
		ck_assert_str_eq(group_members(ops, "uniqueMember", iterate), "user004 user005 ");
		ck_assert_str_eq(group_members(posix, "memberUid", iterate), "user006 user007 ");
	}
}
END_TEST

START_TEST(test_each_domain_has_its_server_and_reader)
{
	json_t *s = settings_main();
	struct found f;

	add_eu_domain(s);
	set_searches(s, json_pack("[{s:s}, {s:s}, {s:s}]", "baseDN",
				  "ou=people,dc=eu,dc=example,dc=com", "baseDN",
				  "ou=people,dc=xeu,dc=example,dc=com", "baseDN",
				  "ou=staff,dc=example,dc=com"));
	f = find_users(s);
	ck_assert_msg(f.rc == LS_OK, "%s", log_text(f.log));
	ck_assert_int_eq(jint(f.users, "euuser1.server", -1), 1);
	ck_assert_int_eq(jint(f.users, "xeuuser.server", -1), 0); /* the decoy stays home */
	ck_assert_int_eq(jint(f.users, "staffonly.server", -1), 0);
	expect_has(log_text(f.log), fmt("server %s (eu.example.com)", dir_eu->url), "log");
	expect_has(log_text(f.log), "bind as reader cn=reader,dc=eu,dc=example,dc=com: ok", "log");

	/* the eu reader's password is eu's own: the default one fails there */
	json_object_set_new(json_array_get(json_object_get(s, "additionalDomains"), 0),
			    "readerPassword", json_string(dir_main->reader_pw));
	f = find_users(s);
	ck_assert_int_eq(f.rc, LS_FAILED);
	expect_has(log_text(f.log),
		   "bind as reader cn=reader,dc=eu,dc=example,dc=com failed: "
		   "Invalid credentials",
		   "log");
}
END_TEST

/* The outcome of one search of the main directory with TLS settings changed. */
static struct found with_tls(const char *url, bool start_tls, const char *roots, bool skip)
{
	json_t *s = settings_main();

	json_object_set_new(s, "serverURL", json_string(url));
	json_object_set_new(s, "startTLS", json_boolean(start_tls));
	json_object_set_new(s, "rootCerts", json_string(roots));
	json_object_set_new(s, "tlsSkipVerify", json_boolean(skip));
	return find_users(s);
}

START_TEST(test_tls_is_verified_unless_told_not_to)
{
	const char *other = read_text(fmt("%s/%s", suite_dir, SLAPD_OTHER_CA_FILE));
	struct found f;

	f = with_tls(dir_main->ldaps_url, false, ca_pem(), false);
	ck_assert_msg(f.rc == LS_OK, "%s", log_text(f.log));
	expect_has(log_text(f.log), "connect: ok (TLS, verified)", "log");
	/* the system's trust store does not know the test CA */
	f = with_tls(dir_main->ldaps_url, false, "", false);
	ck_assert_int_eq(f.rc, LS_FAILED);
	expect_has(log_text(f.log), "connect failed", "log");
	f = with_tls(dir_main->ldaps_url, false, other, false);
	ck_assert_int_eq(f.rc, LS_FAILED);
	expect_has(log_text(f.log), "connect failed", "log");
	f = with_tls(dir_main->ldaps_url, false, "", true);
	ck_assert_msg(f.rc == LS_OK, "%s", log_text(f.log));
	expect_has(log_text(f.log), "certificate not verified", "log");

	f = with_tls(dir_main->url, true, ca_pem(), false);
	ck_assert_msg(f.rc == LS_OK, "%s", log_text(f.log));
	expect_has(log_text(f.log), "StartTLS: ok (verified)", "log");
	f = with_tls(dir_main->url, true, other, false);
	ck_assert_int_eq(f.rc, LS_FAILED);
	expect_has(log_text(f.log), "StartTLS failed", "log");
	f = with_tls(dir_main->url, true, "", true);
	ck_assert_msg(f.rc == LS_OK, "%s", log_text(f.log));
}
END_TEST

START_TEST(test_unreachable_server_and_bad_base_fail)
{
	json_t *s = settings_main();
	struct found f;

	json_object_set_new(s, "serverURL",
			    json_string(fmt("ldap://127.0.0.1:%d", it_free_port())));
	json_object_set_new(s, "rootCerts", json_string(""));
	json_object_set_new(s, "timeoutSeconds", json_integer(3));
	f = find_users(s);
	ck_assert_int_eq(f.rc, LS_FAILED);
	expect_has(log_text(f.log), "connect failed: Can't contact LDAP server", "log");

	s = settings_main();
	set_searches(s, json_pack("[{s:s}]", "baseDN", "ou=nowhere,dc=example,dc=com"));
	f = find_users(s);
	ck_assert_int_eq(f.rc, LS_FAILED);
	expect_has(log_text(f.log), "No such object", "log");
}
END_TEST

/* ---- the ldapsync command ---- */

START_TEST(test_ldapsync_command)
{
	json_t *s = settings_main();
	const char *path = fmt("%s/settings.json", wd);
	struct ran r;

	add_eu_domain(s);
	set_searches(s, json_pack("[{s:s}]", "baseDN", "ou=people,dc=eu,dc=example,dc=com"));
	ck_assert_int_eq(json_dump_file(s, path, 0), 0);
	r = sh(NULL, "'%s' --settings '%s' search 2>/dev/null", LDAPSYNC_BIN, path);
	expect_ran(r, 0);
	expect_has(r.out,
		   fmt("euuser2\tuid=euuser2,ou=people,dc=eu,dc=example,dc=com\tPerson "
		       "euuser2\tsearch 1\t%s\t",
		       dir_eu->url),
		   "search output");
	/* the last column is the entry's entryUUID */
	{
		const char *line = strstr(r.out, "euuser2\t"),
			   *id = strrchr(fmt("%.*s", (int)strcspn(line, "\n"), line), '\t');

		ck_assert_msg(id != NULL && strlen(id + 1) == 36, "no entryUUID in %s", line);
	}
	r = sh(NULL, "echo pw-euuser3 | '%s' --settings '%s' try-login EUUSER3", LDAPSYNC_BIN,
	       path);
	expect_ran(r, 0);
	expect_has(r.out, "bind as user uid=euuser3,ou=people,dc=eu,dc=example,dc=com: ok", "log");
	expect_lacks(r.out, "pw-euuser3", "output");
	r = sh(NULL, "echo wrong | '%s' --settings '%s' try-login euuser3", LDAPSYNC_BIN, path);
	expect_ran(r, 1);
	expect_has(r.out, "Invalid credentials", "output");
	r = sh(NULL,
	       "echo '{\"serverURL\":\"http://x\"}' > bad.json; '%s' --settings bad.json search",
	       LDAPSYNC_BIN);
	expect_ran(r, 2);
	expect_has(r.out, "serverURL: must be an ldap:// or ldaps:// URL", "output");
}
END_TEST

/* ---- authd: settings ---- */

static const char *dumps(json_t *j)
{
	return keep(json_dumps(j, JSON_COMPACT));
}

START_TEST(test_settings_are_saved_without_showing_passwords)
{
	json_t *s = settings_main();
	struct reply *r;
	const char *db;

	add_eu_domain(s);
	set_searches(s, json_pack("[{s:s}]", "baseDN", "ou=people,dc=eu,dc=example,dc=com"));
	r = call("PUT", admin, dumps(s), LDAP_CONFIG);
	expect_status(r, 200);
	r = call("GET", admin, NULL, "/api/ucp/config/auth/ldap");
	expect_status(r, 200);
	ck_assert_int_eq(jbool(r->json, "readerPasswordSet"), 1);
	ck_assert_int_eq(jbool(r->json, "additionalDomains.0.readerPasswordSet"), 1);
	ck_assert_str_eq(jstr(r->json, "additionalDomains.0.domain"), "eu.example.com");
	expect_lacks(r->body, dir_main->reader_pw, "GET");
	expect_lacks(r->body, EU_READER_PW, "GET");
	ck_assert_ptr_null(jpath(r->json, "readerPassword"));
	/* sealed in the database, and never in the logs */
	db = store_text(srv);
	ck_assert_ptr_null(memmem(db, strlen(db), EU_READER_PW, strlen(EU_READER_PW)));
	expect_lacks(read_text(srv->log), EU_READER_PW, "authd's log");
	expect_lacks(read_text(fmt("%s/audit.log", srv->dir)), EU_READER_PW, "audit log");

	/* a PUT without passwords keeps them while URL and reader DN stay */
	json_object_del(s, "readerPassword");
	json_object_del(json_array_get(json_object_get(s, "additionalDomains"), 0),
			"readerPassword");
	json_object_set_new(s, "syncSchedule", json_string("@every 6h"));
	expect_status(call("PUT", admin, dumps(s), LDAP_CONFIG), 200);
	r = call("POST", admin,
		 jbody("{s:s, s:s, s:O}", "username", "euuser1", "password", "pw-euuser1",
		       "ldapSettings", s),
		 TRY_LOGIN);
	expect_status(r, 200);
	ck_assert_str_eq(jstr(call("GET", admin, NULL, LDAP_CONFIG)->json, "syncSchedule"),
			 "@every 6h");

	/* ... and refuses them for a changed URL, changing nothing */
	json_object_set_new(s, "serverURL", json_string(dir_main->url));
	r = call("PUT", admin, dumps(s), LDAP_CONFIG);
	expect_error(r, 400, "INVALID_FORM", "readerPassword");
	ck_assert_str_eq(jstr(call("GET", admin, NULL, LDAP_CONFIG)->json, "serverURL"),
			 dir_main->ldaps_url);
}
END_TEST

START_TEST(test_settings_refusals_name_the_field)
{
	static const struct {
		const char *key, *value, *field;
	} bad[] = {
	    {"serverURL", "\"https://x\"", "serverURL"},
	    {"serverURLs", "[\"ldap://other\"]", "serverURL"}, /* not serverURL first */
	    {"serverURLs", "[]", "serverURLs"},
	    {"serverURLs",
	     "[\"ldap://a\",\"ldap://b\",\"ldap://c\",\"ldap://d\",\"ldap://e\","
	     "\"ldap://f\",\"ldap://g\",\"ldap://h\",\"ldap://i\"]",
	     "serverURLs"},
	    {"startTLS", "true", "startTLS"}, /* with an ldaps URL */
	    {"rootCerts", "\"not pem\"", "rootCerts"},
	    {"readerDN", "\"no dn\"", "readerDN"},
	    {"userSearchConfigs", "[]", "userSearchConfigs"},
	    {"userSearchConfigs", "[{\"baseDN\":\"dc=x\",\"filter\":\"((\"}]",
	     "userSearchConfigs[0].filter"},
	    {"additionalDomains", "[{\"domain\":\"bad_domain\",\"serverURL\":\"ldap://x\"}]",
	     "additionalDomains[0].domain"},
	    {"syncSchedule", "\"hourly\"", "syncSchedule"},
	    {"timeoutSeconds", "-1", "timeoutSeconds"},
	    {"maxDeactivationPercent", "\"10\"", "maxDeactivationPercent"},
	    {"connectionPoolSize", "65", "connectionPoolSize"},
	    {"connectionIdleSeconds", "0", "connectionIdleSeconds"},
	    {"serverUrl", "\"ldap://x\"", "serverUrl"},
	};
	const char *before = call("GET", admin, NULL, LDAP_CONFIG)->body;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *s = settings_main();
		struct reply *r;

		json_object_set_new(s, bad[i].key, json_loads(bad[i].value, JSON_DECODE_ANY, NULL));
		r = call("PUT", admin, dumps(s), LDAP_CONFIG);
		ck_assert_msg(r->status == 400, "%s=%s accepted", bad[i].key, bad[i].value);
		expect_error(r, 400, "INVALID_FORM", bad[i].field);
	}
	expect_error(call("PUT", admin, "[1]", LDAP_CONFIG), 400, "INVALID_JSON", NULL);
	ck_assert_str_eq(call("GET", admin, NULL, LDAP_CONFIG)->body, before);
	expect_lacks(read_text(srv->log), dir_main->reader_pw, "authd's log");
}
END_TEST

START_TEST(test_settings_are_for_admins)
{
	const char *token;

	expect_status(call("POST", admin,
			   jbody("{s:s, s:s, s:s}", "name", "ldapnosy", "password", "Nosy-Passw0rd",
				 "fullName", "N"),
			   ACCOUNTS),
		      201);
	token = keep(authd_login(srv, "ldapnosy", "Nosy-Passw0rd"));
	expect_error(call("GET", token, NULL, LDAP_CONFIG), 403, "FORBIDDEN", NULL);
	expect_error(call("PUT", token, dumps(settings_main()), LDAP_CONFIG), 403, "FORBIDDEN",
		     NULL);
	expect_error(call("POST", token, "{\"username\":\"a\",\"password\":\"b\"}", TRY_LOGIN), 403,
		     "FORBIDDEN", NULL);
	expect_error(call("GET", NULL, NULL, LDAP_CONFIG), 401, "UNAUTHORIZED", NULL);
}
END_TEST

/* ---- authd: test login ---- */

static struct reply *try_login(json_t *settings, const char *user, const char *password)
{
	return call("POST", admin,
		    jbody("{s:s, s:s, s:O}", "username", user, "password", password, "ldapSettings",
			  settings),
		    TRY_LOGIN);
}

static const char *error_log(struct reply *r)
{
	json_t *log = jpath(r->json, "errors.0.detail.log");

	ck_assert_msg(json_is_array(log), "no log in %s", r->body);
	return log_text(log);
}

START_TEST(test_try_login_shows_each_step)
{
	json_t *s = settings_main();
	struct reply *r;
	const char *log;

	add_eu_domain(s);
	set_searches(s, json_pack("[{s:s}, {s:s, s:s}]", "baseDN",
				  "ou=people,dc=eu,dc=example,dc=com", "baseDN",
				  "ou=people,dc=example,dc=com", "filter", "objectClass=person"));
	r = try_login(s, "user042", "pw-user042");
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "account.name"), "user042");
	ck_assert_str_eq(jstr(r->json, "account.ldapDN"),
			 "uid=user042,ou=people,dc=example,dc=com");
	ck_assert_int_eq(jbool(r->json, "account.isImported"), 1);
	log = log_text(jpath(r->json, "log"));
	expect_has(log, fmt("server %s (eu.example.com)", dir_eu->url), "log");
	expect_has(log, "user search 2: base ou=people,dc=example,dc=com", "log");
	expect_has(log, "connect: ok (TLS, verified)", "log");
	expect_has(log, "bind as reader cn=reader,dc=example,dc=com: ok", "log");
	expect_has(log, "(&(uid=user042)(objectClass=person)): 1 entries", "log");
	expect_has(log, "bind as user uid=user042,ou=people,dc=example,dc=com: ok", "log");
	expect_lacks(r->body, "pw-user042", "answer");
	/* it stores nothing */
	expect_status(call("GET", admin, NULL, ACCOUNTS "/user042"), 404);

	r = try_login(s, "user042", "wrong-password");
	expect_error(r, 400, "LDAP_ERROR", NULL);
	expect_has(error_log(r),
		   "bind as user uid=user042,ou=people,dc=example,dc=com failed: "
		   "Invalid credentials",
		   "log");
	r = try_login(s, "nobody-here", "whatever");
	expect_error(r, 400, "LDAP_ERROR", NULL);
	expect_has(error_log(r), "user nobody-here: not found by any user search", "log");
}
END_TEST

/* Counts the binds slapd has logged so far. */
static int binds_in(const struct slapd *d)
{
	const char *log = read_text(d->log);
	int n = 0;

	for (const char *p = log; (p = strstr(p, " BIND ")) != NULL; p++)
		n++;
	return n;
}

START_TEST(test_try_login_refusals)
{
	json_t *s = settings_main();
	struct reply *r;
	int before;

	add_eu_domain(s);
	set_searches(s, json_pack("[{s:s}]", "baseDN", "ou=people,dc=eu,dc=example,dc=com"));
	/* eu allows a DN with no password: the refusal must come before any bind */
	before = binds_in(dir_eu);
	for (const char *const *pw = (const char *const[]){"", "   ", NULL}; *pw; pw++) {
		r = try_login(s, "euuser1", *pw);
		expect_error(r, 400, "LDAP_ERROR", NULL);
		expect_has(error_log(r), "the password is empty (no bind was tried)", "log");
	}
	expect_error(
	    call("POST", NULL, "{\"username\":\"euuser1\",\"password\":\"\"}", "/auth/login"), 400,
	    "INVALID_FORM", "password");
	ck_assert_int_eq(binds_in(dir_eu), before);

	/* filter injection: refused by the name rules, or escaped into a filter that finds none */
	for (const char *const *u = (const char *const[]){"*", ")(uid=*", "euuser*", NULL}; *u;
	     u++) {
		r = try_login(s, *u, "pw-euuser1");
		expect_error(r, 400, "LDAP_ERROR", NULL);
		expect_has(error_log(r), "refused: username must not contain", "log");
	}
	r = try_login(s, "euuser1)(cn", "pw-euuser1");
	expect_error(r, 400, "LDAP_ERROR", NULL);
	expect_has(error_log(r), "(uid=euuser1\\29\\28cn): 0 entries", "log");
	r = call("POST", admin,
		 "{\"username\":\"eu\\u0000user1\",\"password\":\"x\",\"ldapSettings\":"
		 "null}",
		 TRY_LOGIN);
	ck_assert_int_eq(r->status / 100, 4);

	/* an unreachable server, and a TLS failure */
	json_object_set_new(s, "serverURL",
			    json_string(fmt("ldap://127.0.0.1:%d", it_free_port())));
	set_searches(s, json_pack("[{s:s}]", "baseDN", "ou=people,dc=example,dc=com"));
	r = try_login(s, "user010", "pw-user010");
	expect_error(r, 400, "LDAP_ERROR", NULL);
	expect_has(error_log(r), "connect failed: Can't contact LDAP server", "log");
	json_object_set_new(s, "serverURL", json_string(dir_main->ldaps_url));
	json_object_set_new(s, "rootCerts",
			    json_string(read_text(fmt("%s/%s", suite_dir, SLAPD_OTHER_CA_FILE))));
	r = try_login(s, "user010", "pw-user010");
	expect_error(r, 400, "LDAP_ERROR", NULL);
	expect_has(error_log(r), "connect failed", "log");
}
END_TEST

/* ---- authd: LDAP login and just-in-time provisioning ---- */

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

START_TEST(test_ldap_login_provisions_at_first_login)
{
	json_t *s = settings_main();
	struct reply *r;
	const char *id;

	add_eu_domain(s);
	set_searches(s, json_pack("[{s:s}, {s:s}]", "baseDN", "ou=people,dc=example,dc=com",
				  "baseDN", "ou=people,dc=eu,dc=example,dc=com"));
	use_ldap(s);
	r = login("User020", "pw-user020");
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "account.name"), "user020");
	ck_assert_str_eq(jstr(r->json, "account.fullName"), "Person user020");
	ck_assert_int_eq(jbool(r->json, "account.isImported"), 1);
	id = keep(strdup(jstr(r->json, "account.id")));
	r = call("GET", admin, NULL, ACCOUNTS "/user020");
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "ldapDN"), "uid=user020,ou=people,dc=example,dc=com");
	expect_status(call("GET", admin, NULL, "/collectionByPath?path=/Shared/Private/user020"),
		      200);
	/* the second login finds the account the first made */
	r = login("user020", "pw-user020");
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "account.id"), id);
	/* on the eu server, by its DN */
	expect_status(login("euuser2", "pw-euuser2"), 200);

	expect_error(login("user020", "pw-user021"), 401, "UNAUTHORIZED", NULL);
	expect_error(login("nobody-here", "whatever"), 401, "UNAUTHORIZED", NULL);
	/* managed accounts keep their own passwords */
	expect_status(login("admin", ADMIN_PW), 200);
	/* an imported account that is deactivated cannot log in */
	expect_status(call("PATCH", admin, "{\"isActive\":false}", ACCOUNTS "/euuser2"), 200);
	expect_error(login("euuser2", "pw-euuser2"), 401, "UNAUTHORIZED", NULL);
	expect_lacks(read_text(srv->log), "pw-user020", "authd's log");
	expect_lacks(read_text(fmt("%s/audit.log", srv->dir)), "pw-user020", "audit log");
}
END_TEST

START_TEST(test_no_jit_and_managed_backend_refuse)
{
	json_t *s = settings_main();

	json_object_set_new(s, "jitUserProvisioning", json_false());
	use_ldap(s);
	expect_error(login("user030", "pw-user030"), 401, "UNAUTHORIZED", NULL);
	expect_status(call("GET", admin, NULL, ACCOUNTS "/user030"), 404);

	json_object_set_new(s, "jitUserProvisioning", json_true());
	use_ldap(s);
	expect_status(login("user031", "pw-user031"), 200);
	/* with the managed backend, imported accounts cannot log in */
	expect_status(call("PUT", admin, "{\"backend\":\"managed\"}", "/enzi/v0/config/auth"), 200);
	expect_error(login("user031", "pw-user031"), 401, "UNAUTHORIZED", NULL);
	expect_error(login("user032", "pw-user032"), 401, "UNAUTHORIZED", NULL);
	expect_status(login("admin", ADMIN_PW), 200);
}
END_TEST

START_TEST(test_directory_outage_is_not_a_wrong_password)
{
	json_t *s = settings_main();
	struct reply *r;

	json_object_set_new(s, "serverURL",
			    json_string(fmt("ldap://127.0.0.1:%d", it_free_port())));
	json_object_set_new(s, "rootCerts", json_string(""));
	json_object_set_new(s, "timeoutSeconds", json_integer(2));
	use_ldap(s);
	r = login("user040", "pw-user040");
	expect_error(r, 503, "LDAP_ERROR", NULL);
	expect_status(call("GET", admin, NULL, ACCOUNTS "/user040"), 404);
}
END_TEST

/* Applies LDIF change records to the main directory as its root DN. */
static void change_main_at(int line, const char *ldif)
{
	ck_assert_msg(slapd_modify(dir_main, ldif) == 0,
		      "line %d: ldapmodify refused (its output is above):\n%s", line, ldif);
}
#define change_main(...) change_main_at(__LINE__, fmt(__VA_ARGS__))

/* A person of ou=people replaced by another entry of the same uid, under parent. */
static const char *replacement(const char *uid, const char *parent, const char *password)
{
	return fmt("dn: uid=%s,ou=people,dc=example,dc=com\nchangetype: delete\n\n"
		   "dn: uid=%s,%s\nchangetype: add\nobjectClass: inetOrgPerson\nuid: %s\n"
		   "cn: Another %s\nsn: A\nuserPassword: %s\n\n",
		   uid, uid, parent, uid, uid, password);
}

static const char *account_dn(const char *name)
{
	struct reply *r = call("GET", admin, NULL, ACCOUNTS "/%s", name);

	expect_status(r, 200);
	return jstr(r->json, "ldapDN");
}

/* Simple binds as dn that slapd has logged so far. */
static int binds_as(const char *dn)
{
	const char *log = read_text(dir_main->log), *needle = fmt("BIND dn=\"%s\"", dn);
	int n = 0;

	for (const char *p = log; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

START_TEST(test_moved_user_logs_in_and_another_entry_is_refused)
{
	const char *people = "ou=people,dc=example,dc=com", *staff = "ou=staff,dc=example,dc=com";
	const char *audit, *dn52 = "uid=user052,ou=people,dc=example,dc=com";
	json_t *s = settings_main();
	int binds;

	set_searches(s, json_pack("[{s:s}, {s:s}]", "baseDN", people, "baseDN", staff));
	use_ldap(s);
	for (int i = 50; i <= 53; i++)
		expect_status(login(fmt("user%03d", i), fmt("pw-user%03d", i)), 200);

	/* moved to another OU since its last login: found again by its entryUUID */
	change_main("dn: uid=user050,%s\nchangetype: modrdn\nnewrdn: uid=user050\n"
		    "deleteoldrdn: 1\nnewsuperior: %s\n\n",
		    people, staff);
	expect_error(login("user050", "pw-user051"), 401, "UNAUTHORIZED", NULL);
	ck_assert_str_eq(account_dn("user050"), "uid=user050,ou=people,dc=example,dc=com");
	expect_status(login("user050", "pw-user050"), 200);
	ck_assert_str_eq(account_dn("user050"), "uid=user050,ou=staff,dc=example,dc=com");
	audit = read_text(fmt("%s/audit.log", srv->dir));
	expect_has(audit, "\"event\":\"account.update\"", "the audit log");
	expect_has(audit, "uid=user050,ou=staff,dc=example,dc=com", "the audit log");
	expect_status(login("user050", "pw-user050"), 200);
	ck_assert_int_eq(
	    (int)strlen(store_value_of(srv, "SELECT ldap_id FROM accounts WHERE name = "
					    "'user050'")),
	    36);

	/* a wrong password where the entry has not moved: one bind, as before */
	binds = binds_as(dn52);
	expect_error(login("user052", "pw-user050"), 401, "UNAUTHORIZED", NULL);
	ck_assert_int_eq(binds_as(dn52), binds + 1);

	/* another entry has the name now, elsewhere: refused, and said */
	change_main("%s", replacement("user051", staff, "other-051"));
	expect_error(login("user051", "other-051"), 401, "UNAUTHORIZED", NULL);
	ck_assert_str_eq(account_dn("user051"), "uid=user051,ou=people,dc=example,dc=com");
	expect_has(read_text(srv->log), "LDAP login of user051 refused: another directory entry",
		   "authd's log");
	expect_has(read_text(fmt("%s/audit.log", srv->dir)), "another directory entry",
		   "the audit log");

	/* or at the same DN: its bind succeeds, and it is still another entry */
	change_main("%s", replacement("user052", people, "other-052"));
	expect_error(login("user052", "other-052"), 401, "UNAUTHORIZED", NULL);

	/* an account made before ids were kept gets its id at its next login */
	store_value_of(srv, "UPDATE accounts SET ldap_id = '' WHERE name = 'user053'");
	expect_status(login("user053", "pw-user053"), 200);
	ck_assert_int_eq(
	    (int)strlen(store_value_of(srv, "SELECT ldap_id FROM accounts WHERE name = "
					    "'user053'")),
	    36);
}
END_TEST

/* ---- the connection pool ---- */

/* Connections slapd accepted, and closed, since byte `from` of its log. */
static int accepted(long from)
{
	return count_in_file(dir_main->log, from, " ACCEPT from");
}

static int closed(long from)
{
	return count_in_file(dir_main->log, from, " closed");
}

#define MAX_CONNS 65536

/*
 * Searches slapd ran on a connection last bound as someone else than the
 * reader, other than a user's read of its own entry (a base search of the
 * DN it bound as, which a login makes right after the bind): each would be
 * a search made with a user's identity. slapd numbers connections from 1000.
 */
static int searches_as_users(void)
{
	size_t len = 0;
	char *text = it_read_file(dir_main->log, &len), **bound = calloc(MAX_CONNS, sizeof(char *));
	char dn[SLAPD_DN_LEN + 16], base[SLAPD_DN_LEN + 16];
	int bad = 0, scope = -1;

	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(bound);
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char *c = strstr(line, "conn="), *op;
		long n = c ? strtol(c + 5, NULL, 10) - 1000 : -1;

		if (n < 0 || n >= MAX_CONNS)
			continue;
		if ((op = strstr(line, " BIND dn=\"")) != NULL) {
			free(bound[n]);
			bound[n] =
			    sscanf(op, " BIND dn=\"%271[^\"]\"", dn) == 1 ? strdup(dn) : NULL;
		} else if ((op = strstr(line, " SRCH base=\"")) != NULL && bound[n] != NULL &&
			   strcasecmp(bound[n], dir_main->reader_dn) != 0 &&
			   (sscanf(op, " SRCH base=\"%271[^\"]\" scope=%d", base, &scope) != 2 ||
			    scope != 0 || strcasecmp(base, bound[n]) != 0)) {
			fprintf(stderr, "a search as %s: %s\n", bound[n], line);
			bad++;
		}
	}
	for (size_t i = 0; i < MAX_CONNS; i++)
		free(bound[i]);
	free(bound);
	free(text);
	return bad;
}

/* A sample's value on the /metrics page. */
static long metric(const char *series)
{
	const char *page = call("GET", admin, NULL, "/metrics")->body;
	const char *at = strstr(page, fmt("\n%s ", series));

	ck_assert_msg(at != NULL, "%s is not on /metrics", series);
	return strtol(at + strlen(series) + 2, NULL, 10);
}

START_TEST(test_logins_reuse_pooled_connections)
{
	json_t *s = settings_main();
	long from, reused = metric("authd_ldap_pool_takes_total{kind=\"reused\"}");

	use_ldap(s);
	expect_status(login("user100", "pw-user100"), 200);
	from = file_size(dir_main->log);
	for (int i = 101; i <= 120; i++) {
		/* a new name (a search as the reader, then a bind), and a known one (a bind) */
		expect_status(login(fmt("user%03d", i), fmt("pw-user%03d", i)), 200);
		expect_status(login("user100", "pw-user100"), 200);
	}
	expect_error(login("user100", "pw-user101"), 401, "UNAUTHORIZED", NULL);
	expect_status(login("user121", "pw-user121"), 200);
	/* no TCP or TLS handshake: every one of them went over the connections already open */
	ck_assert_int_eq(accepted(from), 0);
	ck_assert_int_ge(count_in_file(dir_main->log, from, "BIND dn=\"uid=user100,"), 21);
	ck_assert_int_ge(metric("authd_ldap_pool_takes_total{kind=\"reused\"}") - reused, 60);
	/* a user's bind never left its identity to a search */
	ck_assert_int_eq(searches_as_users(), 0);

	/* new settings never get a connection made under the old ones */
	json_object_set_new(s, "timeoutSeconds", json_integer(9));
	use_ldap(s);
	from = file_size(dir_main->log);
	expect_status(login("user100", "pw-user100"), 200);
	expect_status(login("user122", "pw-user122"), 200);
	ck_assert_int_eq(accepted(from), 2);

	/* without a pool, each login connects */
	json_object_set_new(s, "connectionPoolSize", json_integer(0));
	use_ldap(s);
	from = file_size(dir_main->log);
	expect_status(login("user100", "pw-user100"), 200);
	expect_status(login("user100", "pw-user100"), 200);
	ck_assert_int_eq(accepted(from), 2);
	ck_assert_int_eq(searches_as_users(), 0);
}
END_TEST

START_TEST(test_idle_pooled_connections_are_closed)
{
	json_t *s = settings_main();
	double deadline = it_now() + 10;
	long from;

	/* settings of their own: no connection of an earlier test is theirs */
	json_object_set_new(s, "timeoutSeconds", json_integer(7));
	json_object_set_new(s, "connectionIdleSeconds", json_integer(1));
	use_ldap(s);
	from = file_size(dir_main->log);
	expect_status(login("user130", "pw-user130"), 200);
	expect_status(login("user130", "pw-user130"), 200);
	ck_assert_int_eq(accepted(from), 2);
	while (closed(from) < 2) {
		ck_assert_msg(it_now() < deadline, "idle connections were not closed");
		it_sleep_ms(100);
	}
	/* and the next login opens them again: the reader's (the entry's id) and its bind's */
	expect_status(login("user130", "pw-user130"), 200);
	ck_assert_int_eq(accepted(from), 4);
}
END_TEST

/*
 * In a child: logins of user141..user150 in turn until `stop` exists, one
 * mark each in `marks`: '.' for 200, 'x' for a 503 LDAP_ERROR (the directory
 * away), '!' for anything else.
 */
static void logins_until(const char *stop, const char *marks)
{
	FILE *f = fopen(marks, "w");

	for (int i = 0; f != NULL && i < 5000 && access(stop, F_OK) != 0; i++) {
		int u = 141 + i % 10;
		char body[96], mark = '!';
		struct reply r;

		snprintf(body, sizeof(body),
			 "{\"username\":\"user%03d\",\"password\":\"pw-user%03d\"}", u, u);
		if (http_call(srv, "POST", "/auth/login", NULL, body, NULL, &r) == 0 &&
		    r.status == 200)
			mark = '.';
		else if (r.status == 503 && r.body && strstr(r.body, "\"LDAP_ERROR\""))
			mark = 'x';
		if (mark == '!')
			fprintf(stderr, "login %d of user%03d: %ld %s\n", i, u, r.status,
				r.body ? r.body : r.error);
		reply_free(&r);
		fputc(mark, f);
		fflush(f);
	}
	_exit(f == NULL);
}

/* A directory of its own (the fixture's belong to the suite's process): user141..user150. */
static struct slapd *start_own_directory(void)
{
	struct slapd *d = slapd_new(wd);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct slapd_opts o = {.suffix = "dc=example,dc=com", .tls_dir = suite_dir};

	ck_assert_ptr_nonnull(f);
	fprintf(f, "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\n"
		   "ou: people\n\n");
	for (int i = 141; i <= 150; i++) {
		char uid[16];

		snprintf(uid, sizeof(uid), "user%03d", i);
		person(f, uid, uid, "ou=people,dc=example,dc=com");
	}
	fclose(f);
	o.ldif = text;
	ck_assert_msg(d && slapd_start(d, &o) == 0, "slapd did not start");
	free(text);
	return d;
}

/* slapd killed and restarted while a child logs in: logins after the restart all succeed. */
START_TEST(test_logins_go_on_after_a_restart)
{
	const char *marks = fmt("%s/marks", wd), *stop = fmt("%s/stop", wd), *seen;
	struct slapd *d = start_own_directory();
	double deadline = it_now() + 60;
	json_t *s = settings_main();
	long restarted;
	int status = 0;
	pid_t child;

	json_object_set_new(s, "serverURL", json_string(d->ldaps_url));
	use_ldap(s);
	expect_status(login("user140", "pw-user140"), 401);
	expect_status(login("user141", "pw-user141"), 200);
	http_close(); /* the child must not share this process's connection */
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		logins_until(stop, marks);
	while (file_size(marks) < 20) {
		ck_assert_msg(it_now() < deadline, "the logins did not start");
		it_sleep_ms(10);
	}
	ck_assert_int_gt(slapd_kill(d), -1);
	ck_assert_int_eq(slapd_restart(d), 0);
	restarted = file_size(marks);
	while (file_size(marks) < restarted + 40) {
		ck_assert_msg(it_now() < deadline, "the logins stopped");
		it_sleep_ms(10);
	}
	ck_assert_int_eq(it_write_file(stop, ""), 0);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	seen = read_text(marks);
	ck_assert_msg(strchr(seen, '!') == NULL, "a login failed otherwise than cleanly: %s", seen);
	/* the one in flight at the restart may have failed; none after it */
	ck_assert_msg(strchr(seen + restarted + 1, 'x') == NULL,
		      "a login failed after the restart: %s", seen);
	expect_status(login("user141", "pw-user141"), 200);
	slapd_free(d);
}
END_TEST

static Suite *ldap_suite(void)
{
	Suite *s = suite_create("ldap");
	TCase *tc = server_case("slapd", setup_ldap, teardown_ldap, TEST_TIMEOUT);

	tcase_add_test(tc, test_paging_gets_past_the_size_limit);
	tcase_add_test(tc, test_names_are_checked_and_first_search_wins);
	tcase_add_test(tc, test_group_members_in_both_modes);
	tcase_add_test(tc, test_each_domain_has_its_server_and_reader);
	tcase_add_test(tc, test_tls_is_verified_unless_told_not_to);
	tcase_add_test(tc, test_unreachable_server_and_bad_base_fail);
	tcase_add_test(tc, test_ldapsync_command);
	tcase_add_test(tc, test_settings_are_saved_without_showing_passwords);
	tcase_add_test(tc, test_settings_refusals_name_the_field);
	tcase_add_test(tc, test_settings_are_for_admins);
	tcase_add_test(tc, test_try_login_shows_each_step);
	tcase_add_test(tc, test_try_login_refusals);
	tcase_add_test(tc, test_ldap_login_provisions_at_first_login);
	tcase_add_test(tc, test_no_jit_and_managed_backend_refuse);
	tcase_add_test(tc, test_directory_outage_is_not_a_wrong_password);
	tcase_add_test(tc, test_moved_user_logs_in_and_another_entry_is_refused);
	tcase_add_test(tc, test_logins_reuse_pooled_connections);
	tcase_add_test(tc, test_idle_pooled_connections_are_closed);
	tcase_add_test(tc, test_logins_go_on_after_a_restart);
	suite_add_tcase(s, tc);
	return s;
}

/* A failed fixture leaves its servers running: they stop before their files go. */
static void stop_directories(void)
{
	slapd_free(dir_main);
	slapd_free(dir_eu);
}

int main(void)
{
	static Suite *(*const suites[])(void) = {ldap_suite, NULL};

	return run_suites("authd-ldap", suites, stop_directories);
}
