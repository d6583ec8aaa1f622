/*
 * Unit tests of libldapsync: the name rules that API input and directory
 * values share (SPEC §4, §6.3), escaping into filters and DNs, the choice
 * of server by domain (§6.2), the steps of a ranged read of a group's
 * members (as Active Directory answers one of more than 1,500), the
 * text of directory ids, and the connection pool's keys and bookkeeping.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ldap.h>
#include <openldap.h>

#include "ldapsync.h"
#include "../../ldapsync/conn.h"

/* The normalised name, or NULL; the reason lands in *why. */
static char *norm(const char *s, struct refusal *why)
{
	return ls_name_normalize(s, strlen(s), why);
}

static void expect_ok(const char *in, const char *want)
{
	struct refusal why = {"", ""};
	char *got = norm(in, &why);

	ck_assert_msg(got != NULL, "\"%s\" refused: %s", in, why.message);
	ck_assert_str_eq(got, want);
	free(got);
}

static void expect_refused(const char *in, const char *why_part)
{
	struct refusal why = {"", ""};
	char *got = norm(in, &why);

	ck_assert_msg(got == NULL, "\"%s\" accepted as \"%s\"", in, got ? got : "");
	ck_assert(why.message[0] != '\0');
	ck_assert_msg(strstr(why.message, why_part) != NULL, "\"%s\": \"%s\" lacks \"%s\"", in,
		      why.message, why_part);
}

START_TEST(lowercases_ascii_and_unicode)
{
	expect_ok("Alice", "alice");
	expect_ok("ÉLODIE", "élodie");
	expect_ok("STRASSE.Ü", "strasse.ü");
	expect_ok("dev-team_1.x", "dev-team_1.x");
	expect_ok("bob@example.com", "bob@example.com");
}
END_TEST

START_TEST(normalises_to_nfc)
{
	/* "e" + combining acute accent becomes the single code point é */
	expect_ok("Jose\xcc\x81", "jos\xc3\xa9");
}
END_TEST

START_TEST(refuses_empty_and_whitespace)
{
	expect_refused("", "empty");
	expect_refused("a b", "whitespace");
	expect_refused(" a", "whitespace");
	expect_refused("a\tb", "whitespace");
	expect_refused("a\xc2\xa0"
		       "b",
		       "whitespace"); /* no-break space */
	expect_refused("a\xe2\x80\x83"
		       "b",
		       "whitespace"); /* em space */
}
END_TEST

START_TEST(refuses_control_characters)
{
	expect_refused("a\x01"
		       "b",
		       "control");
	expect_refused("a\x7f", "control");
	expect_refused("a\xc2\x85", "control"); /* C1 next line */
}
END_TEST

START_TEST(refuses_each_forbidden_character)
{
	const char *forbidden = "/\\[]:;|=,+*?<>'\"";

	for (const char *c = forbidden; *c; c++) {
		char name[8] = {'a', *c, 'b', '\0'};

		expect_refused(name, "must not contain any of");
	}
}
END_TEST

START_TEST(limits_length_in_characters)
{
	char name[512];

	memset(name, 'a', 100);
	name[100] = '\0';
	expect_ok(name, name);
	name[100] = 'a';
	name[101] = '\0';
	expect_refused(name, "at most 100");
	/* 100 two-byte characters are 200 bytes and still fine */
	for (int i = 0; i < 100; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[200] = '\0';
	expect_ok(name, name);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	expect_refused(name, "at most 100");
}
END_TEST

START_TEST(refuses_invalid_utf8)
{
	struct refusal why;

	expect_refused("a\xff"
		       "b",
		       "UTF-8");
	expect_refused("\xc3", "UTF-8");
	expect_refused("\xed\xa0\x80", "UTF-8"); /* a UTF-16 surrogate */
	ck_assert_ptr_null(ls_name_normalize("a\0b", 3, &why));
}
END_TEST

/* ---- escaping (RFC 4515, RFC 4514) ---- */

static void expect_filter(const char *in, size_t len, const char *want)
{
	char *got = ls_escape_filter_value(in, len);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(filter_values_are_escaped)
{
	expect_filter("alice", 5, "alice");
	expect_filter("", 0, ""); /* libldap hands back no buffer for it */
	expect_filter("*", 1, "\\2A");
	expect_filter("a(b)c", 5, "a\\28b\\29c");
	expect_filter("back\\slash", 10, "back\\5Cslash");
	expect_filter("nul\0byte", 8, "nul\\00byte");
	/* an injection attempt stays one value */
	expect_filter("x)(uid=*", 8, "x\\29\\28uid=\\2A");
}
END_TEST

/* libldap's filter encoder, which ldap_search_ext() runs; exported, declared in a private header.
 */
int ldap_pvt_put_filter(BerElement *ber, const char *str);

static void expect_in_chain(const char *dn, const char *attr, const char *filter, const char *want)
{
	char *got = ls_in_chain_filter(dn, attr, filter);
	BerElement *ber = ber_alloc_t(LBER_USE_DER);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	/* what goes out is one filter, as the server will read it */
	ck_assert_int_eq(ldap_pvt_put_filter(ber, got), 0);
	ber_free(ber, 1);
	free(got);
}

/* Active Directory's nested membership: the in-chain rule on memberOf, beside the user filter. */
START_TEST(in_chain_filters_escape_the_group_dn)
{
	expect_in_chain("CN=Devs,OU=Groups,DC=ad,DC=example", "sAMAccountName", "",
			"(&(memberOf:1.2.840.113556.1.4.1941:=CN=Devs,OU=Groups,DC=ad,DC=example)"
			"(sAMAccountName=*))");
	/* the user filter with or without its parentheses */
	expect_in_chain(
	    "cn=g,dc=x", "uid", "objectClass=person",
	    "(&(memberOf:1.2.840.113556.1.4.1941:=cn=g,dc=x)(uid=*)(objectClass=person))");
	expect_in_chain("cn=g,dc=x", "uid", "(&(objectClass=user)(!(cn=svc*)))",
			"(&(memberOf:1.2.840.113556.1.4.1941:=cn=g,dc=x)(uid=*)"
			"(&(objectClass=user)(!(cn=svc*))))");
	/* a DN's own escapes and the filter's specials are escaped per RFC 4515 */
	expect_in_chain("cn=R\\2C D (ops)*,dc=x", "uid", NULL,
			"(&(memberOf:1.2.840.113556.1.4.1941:=cn=R\\5C2C D \\28ops\\29\\2A,dc=x)"
			"(uid=*))");
	expect_in_chain("cn=a\\,b,dc=x", "uid", "",
			"(&(memberOf:1.2.840.113556.1.4.1941:=cn=a\\5C,b,dc=x)(uid=*))");
}
END_TEST

static void expect_member_sync_refused(const char *json, const char *field)
{
	json_t *in = json_loads(json, 0, NULL);
	struct ls_member_sync m;
	struct refusal err;

	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(ls_member_sync_from_json(in, "", &m, &err), -1);
	ck_assert_str_eq(err.field, field);
	json_decref(in);
}

START_TEST(member_sync_follows_nested_groups_only_when_asked)
{
	json_t *in = json_loads("{\"enableSync\":true,\"groupDN\":\"cn=g,dc=x\"}", 0, NULL), *out;
	struct ls_member_sync m;
	struct refusal err;

	ck_assert_int_eq(ls_member_sync_from_json(in, "", &m, &err), 0);
	ck_assert(!m.follow_nested_groups);
	ls_member_sync_free(&m);
	json_object_set_new(in, "followNestedGroups", json_true());
	ck_assert_int_eq(ls_member_sync_from_json(in, "", &m, &err), 0);
	ck_assert(m.follow_nested_groups);
	out = ls_member_sync_to_json(&m);
	ck_assert(json_is_true(json_object_get(out, "followNestedGroups")));
	json_decref(out);
	ls_member_sync_free(&m);
	json_decref(in);
	expect_member_sync_refused("{\"followNestedGroups\":\"yes\"}", "followNestedGroups");
	expect_member_sync_refused("{\"enableSync\":true,\"groupDN\":\"cn=g,dc=x\","
				   "\"groupMemberAttr\":\"memberUid\",\"followNestedGroups\":true}",
				   "followNestedGroups");
}
END_TEST

/* Escapes a value, and checks that a DN made with it parses back to that value. */
static void expect_dn(const char *in, const char *want)
{
	char *got = ls_escape_dn_value(in, strlen(in)), dn[512];
	LDAPDN parsed = NULL;

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	snprintf(dn, sizeof(dn), "cn=%s,dc=example,dc=com", got);
	ck_assert_int_eq(ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3), LDAP_SUCCESS);
	ck_assert_uint_eq(parsed[0][0]->la_value.bv_len, strlen(in));
	ck_assert(memcmp(parsed[0][0]->la_value.bv_val, in, strlen(in)) == 0);
	ck_assert_ptr_null(parsed[0][1]); /* one value, not split at a "+" */
	ldap_dnfree(parsed);
	free(got);
}

START_TEST(dn_values_are_escaped)
{
	expect_dn("alice", "alice");
	expect_dn("Smith, John", "Smith\\2C John");
	expect_dn("a+b", "a\\2Bb");
	expect_dn("say \"hi\"", "say \\22hi\\22");
	expect_dn("<x>;y=z", "\\3Cx\\3E\\3By\\3Dz");
	expect_dn(" lead", "\\20lead");
	expect_dn("trail ", "trail\\20");
	expect_dn("#hash", "\\23hash");
	expect_dn("back\\slash", "back\\5Cslash");
	expect_dn("\xc3\xa9l\xc3\xa8ve", "\xc3\xa9l\xc3\xa8ve"); /* UTF-8 stays as it is */
}
END_TEST

START_TEST(dn_values_must_be_utf8)
{
	/* a value cut inside a character: nothing past its end may reach the DN */
	static const char cut[] = "ab\xdf\x80\x80";

	ck_assert_ptr_null(ls_escape_dn_value(cut, 3));
	ck_assert_ptr_null(ls_escape_dn_value("\xff", 1));
	ck_assert_ptr_null(ls_escape_dn_value("\xed\xa0\x80", 3)); /* a UTF-16 surrogate */
}
END_TEST

/* ---- which server serves a base DN (SPEC §6.2) ---- */

START_TEST(domains_match_per_rdn)
{
	ck_assert_int_eq(ls_domain_suffix("example.com", "ou=people,dc=example,dc=com"), 2);
	ck_assert_int_eq(ls_domain_suffix("eu.example.com", "ou=people,dc=eu,dc=example,dc=com"),
			 3);
	ck_assert_int_eq(ls_domain_suffix("EU.Example.COM", "OU=x,DC=eu,DC=example,DC=com"), 3);
	/* a decoy: xeu is not eu, though the string ends the same */
	ck_assert_int_eq(ls_domain_suffix("eu.example.com", "ou=people,dc=xeu,dc=example,dc=com"),
			 0);
	ck_assert_int_eq(ls_domain_suffix("eu.example.com", "dc=example,dc=com"), 0);
	/* a multi-valued RDN is not a dc label */
	ck_assert_int_eq(ls_domain_suffix("example.com", "ou=x,dc=example+cn=y,dc=com"), 0);
	ck_assert_int_eq(ls_domain_suffix("example.com", "not a dn"), -1);
	ck_assert_int_eq(ls_domain_suffix("", "dc=com"), 0);
}
END_TEST

START_TEST(longest_suffix_picks_the_server)
{
	const char *domains[] = {"example.com", "eu.example.com", "xeu.example.com"};

	ck_assert_int_eq(ls_pick_server(domains, 3, "ou=people,dc=eu,dc=example,dc=com"), 1);
	ck_assert_int_eq(ls_pick_server(domains, 3, "ou=people,dc=xeu,dc=example,dc=com"), 2);
	ck_assert_int_eq(ls_pick_server(domains, 3, "ou=people,dc=us,dc=example,dc=com"), 0);
	ck_assert_int_eq(ls_pick_server(domains, 3, "ou=people,dc=other,dc=org"), -1);
	ck_assert_int_eq(ls_pick_server(domains, 3, "((("), -1);
	ck_assert_int_eq(ls_pick_server(domains, 0, "dc=example,dc=com"), -1);
}
END_TEST

/* ---- settings (SPEC §6.1) ---- */

static const char minimal[] =
    "{\"serverURL\":\"ldap://ldap.example.com\",\"readerDN\":\"cn=reader,dc=example,dc=com\","
    "\"readerPassword\":\"s3cret\",\"userSearchConfigs\":[{\"baseDN\":\"ou=people,dc=example,dc="
    "com\"}]}";

/* Parses minimal settings with one key replaced (or added) by `patch`, a JSON object. */
static int parse_patched(const char *patch, const struct ls_settings *stored,
			 struct ls_settings *out, struct refusal *err)
{
	json_t *base = json_loads(minimal, 0, NULL), *p = json_loads(patch, 0, NULL);
	int rc;

	ck_assert_ptr_nonnull(base);
	ck_assert_ptr_nonnull(p);
	json_object_update(base, p);
	rc = ls_settings_from_json(base, stored, out, err);
	json_decref(base);
	json_decref(p);
	return rc;
}

static void expect_settings_refused(const char *patch, const char *field)
{
	struct ls_settings s;
	struct refusal err;

	ck_assert_msg(parse_patched(patch, NULL, &s, &err) == -1, "%s was accepted", patch);
	ck_assert_msg(strcmp(err.field, field) == 0, "%s: field %s, want %s (%s)", patch, err.field,
		      field, err.message);
	ck_assert_msg(strncmp(err.message, field, strlen(field)) == 0, "%s", err.message);
}

START_TEST(settings_take_defaults)
{
	struct ls_settings s;
	struct refusal err;

	ck_assert_int_eq(parse_patched("{}", NULL, &s, &err), 0);
	ck_assert_uint_eq(s.nservers, 1);
	ck_assert_str_eq(s.servers[0].domain, "");
	ck_assert_str_eq(s.searches[0].username_attr, "uid");
	ck_assert_str_eq(s.searches[0].full_name_attr, "cn");
	ck_assert_str_eq(s.searches[0].match_group_member_attr, "member");
	ck_assert_str_eq(s.sync_schedule, "@hourly");
	ck_assert(s.jit);
	ck_assert(!s.follow_referrals);
	ck_assert_int_eq(s.timeout_seconds, 10);
	ck_assert_int_eq(s.max_deactivation_percent, 10);
	ck_assert_int_eq(s.pool_size, 8);
	ck_assert_int_eq(s.pool_idle_seconds, 60);
	ck_assert(s.admin_sync.select_group_members);
	ck_assert_str_eq(s.servers[0].unique_id_attr, "entryUUID");
	ck_assert_int_eq(s.servers[0].member_range_size, 0);
	ls_settings_free(&s);
}
END_TEST

START_TEST(settings_refuse_each_bad_field)
{
	expect_settings_refused("{\"serverURL\":\"\"}", "serverURL");
	expect_settings_refused("{\"serverURL\":\"http://x\"}", "serverURL");
	expect_settings_refused("{\"serverURL\":\"ldapi:///\"}", "serverURL");
	expect_settings_refused("{\"serverURL\":\"not a url\"}", "serverURL");
	expect_settings_refused("{\"serverURL\":\"ldaps://x\",\"startTLS\":true}", "startTLS");
	expect_settings_refused("{\"startTLS\":\"yes\"}", "startTLS");
	expect_settings_refused("{\"rootCerts\":\"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END "
				"CERTIFICATE-----\\n\"}",
				"rootCerts");
	expect_settings_refused("{\"rootCerts\":\"hello\"}", "rootCerts");
	expect_settings_refused("{\"readerDN\":\"not a dn\"}", "readerDN");
	expect_settings_refused("{\"uniqueIDAttr\":\"entry UUID\"}", "uniqueIDAttr");
	expect_settings_refused("{\"uniqueIDAttr\":7}", "uniqueIDAttr");
	expect_settings_refused("{\"memberRangeSize\":-1}", "memberRangeSize");
	expect_settings_refused("{\"memberRangeSize\":100001}", "memberRangeSize");
	expect_settings_refused("{\"memberRangeSize\":\"1500\"}", "memberRangeSize");
	expect_settings_refused("{\"readerDN\":\"\"}", "readerDN");
	expect_settings_refused("{\"readerPassword\":\"\"}", "readerPassword");
	expect_settings_refused("{\"userSearchConfigs\":[]}", "userSearchConfigs");
	expect_settings_refused("{\"userSearchConfigs\":{}}", "userSearchConfigs");
	expect_settings_refused("{\"userSearchConfigs\":[{\"baseDN\":\"\"}]}",
				"userSearchConfigs[0].baseDN");
	expect_settings_refused(
	    "{\"userSearchConfigs\":[{\"baseDN\":\"dc=a\"},{\"baseDN\":\"x\"}]}",
	    "userSearchConfigs[1].baseDN");
	expect_settings_refused(
	    "{\"userSearchConfigs\":[{\"baseDN\":\"dc=a\",\"usernameAttr\":\"u id\"}]}",
	    "userSearchConfigs[0].usernameAttr");
	expect_settings_refused(
	    "{\"userSearchConfigs\":[{\"baseDN\":\"dc=a\",\"usernameAttr\":\"\"}]}",
	    "userSearchConfigs[0].usernameAttr");
	expect_settings_refused(
	    "{\"userSearchConfigs\":[{\"baseDN\":\"dc=a\",\"filter\":\"(objectClass=\"}]}",
	    "userSearchConfigs[0].filter");
	expect_settings_refused(
	    "{\"userSearchConfigs\":[{\"baseDN\":\"dc=a\",\"filter\":\"(&(a=b)\"}]}",
	    "userSearchConfigs[0].filter");
	expect_settings_refused(
	    "{\"userSearchConfigs\":[{\"baseDN\":\"dc=a\",\"matchGroup\":true}]}",
	    "userSearchConfigs[0].matchGroupDN");
	expect_settings_refused("{\"userSearchConfigs\":[{\"baseDN\":\"dc=a\",\"scope\":1}]}",
				"userSearchConfigs[0].scope");
	expect_settings_refused(
	    "{\"additionalDomains\":[{\"domain\":\"-x.com\",\"serverURL\":\"ldap://y\"}]}",
	    "additionalDomains[0].domain");
	expect_settings_refused(
	    "{\"additionalDomains\":[{\"domain\":\"eu.x.com\",\"serverURL\":\"ldap://y\"},"
	    "{\"domain\":\"EU.x.com\",\"serverURL\":\"ldap://z\"}]}",
	    "additionalDomains[1].domain");
	expect_settings_refused(
	    "{\"additionalDomains\":[{\"domain\":\"eu.x.com\",\"serverURL\":\"ftp://y\"}]}",
	    "additionalDomains[0].serverURL");
	expect_settings_refused(
	    "{\"additionalDomains\":[{\"domain\":\"eu.x.com\",\"serverURL\":\"ldap://y\","
	    "\"readerDN\":\"cn=r\"}]}",
	    "additionalDomains[0].readerPassword");
	expect_settings_refused("{\"additionalDomains\":{}}", "additionalDomains");
	expect_settings_refused("{\"syncSchedule\":\"@every 0h\"}", "syncSchedule");
	expect_settings_refused("{\"syncSchedule\":\"@every 721h\"}", "syncSchedule");
	expect_settings_refused("{\"syncSchedule\":\"@every 0m\"}", "syncSchedule");
	expect_settings_refused("{\"syncSchedule\":\"@every 43201m\"}", "syncSchedule");
	expect_settings_refused("{\"syncSchedule\":\"@every 1.5m\"}", "syncSchedule");
	expect_settings_refused("{\"syncSchedule\":\"daily\"}", "syncSchedule");
	expect_settings_refused("{\"timeoutSeconds\":0}", "timeoutSeconds");
	expect_settings_refused("{\"connectionPoolSize\":-1}", "connectionPoolSize");
	expect_settings_refused("{\"connectionPoolSize\":65}", "connectionPoolSize");
	expect_settings_refused("{\"connectionIdleSeconds\":0}", "connectionIdleSeconds");
	expect_settings_refused("{\"connectionIdleSeconds\":3601}", "connectionIdleSeconds");
	expect_settings_refused("{\"timeoutSeconds\":\"10\"}", "timeoutSeconds");
	expect_settings_refused("{\"maxDeactivationPercent\":101}", "maxDeactivationPercent");
	expect_settings_refused("{\"jitUserProvisioning\":1}", "jitUserProvisioning");
	expect_settings_refused("{\"adminSyncOpts\":{\"enableSync\":true,\"groupDN\":\"\"}}",
				"adminSyncOpts.groupDN");
	expect_settings_refused(
	    "{\"adminSyncOpts\":{\"enableSync\":true,\"selectGroupMembers\":false,"
	    "\"searchBaseDN\":\"dc=a\",\"searchFilter\":\"(x\"}}",
	    "adminSyncOpts.searchFilter");
	expect_settings_refused("{\"readerPasword\":\"typo\"}", "readerPasword");
	/* the fuzz target found these naming no field */
	expect_settings_refused("{\"\":1}", "\"\"");
	expect_settings_refused("{\"additionalDomains\":[1]}", "additionalDomains[0]");
	expect_settings_refused("{\"userSearchConfigs\":[[]]}", "userSearchConfigs[0]");
}
END_TEST

START_TEST(settings_schedule_forms)
{
	ck_assert_int_eq(ls_schedule_seconds(""), 3600);
	ck_assert_int_eq(ls_schedule_seconds("@hourly"), 3600);
	ck_assert_int_eq(ls_schedule_seconds("@daily"), 86400);
	ck_assert_int_eq(ls_schedule_seconds("@weekly"), 604800);
	ck_assert_int_eq(ls_schedule_seconds("@every 1h"), 3600);
	ck_assert_int_eq(ls_schedule_seconds("@every 720h"), 720 * 3600);
	ck_assert_int_eq(ls_schedule_seconds("@every 2h "), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every -1h"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every 3x"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every 01h"), 3600);
	/* minutes, as far as hours reach */
	ck_assert_int_eq(ls_schedule_seconds("@every 1m"), 60);
	ck_assert_int_eq(ls_schedule_seconds("@every 90m"), 90 * 60);
	ck_assert_int_eq(ls_schedule_seconds("@every 43200m"), 720 * 3600);
	ck_assert_int_eq(ls_schedule_seconds("@every 01m"), 60);
	ck_assert_int_eq(ls_schedule_seconds("@every 0m"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every 43201m"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every 99999999999999999999m"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every 1.5m"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every m"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every 1M"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every 1mm"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every 1hm"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every  1m"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every 1m "), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every +1m"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every -1m"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every 1 m"), -1);
	ck_assert_int_eq(ls_schedule_seconds("@every1m"), -1);
}
END_TEST

/* A minute schedule is kept as given: what GET shows is what was PUT. */
START_TEST(settings_keep_a_minute_schedule)
{
	struct ls_settings s;
	struct refusal err;
	json_t *j;

	ck_assert_int_eq(parse_patched("{\"syncSchedule\":\"@every 15m\"}", NULL, &s, &err), 0);
	j = ls_settings_to_json(&s, false);
	ck_assert_str_eq(json_string_value(json_object_get(j, "syncSchedule")), "@every 15m");
	json_decref(j);
	ls_settings_free(&s);
	ck_assert_int_eq(parse_patched("{\"syncSchedule\":\"@every 0m\"}", NULL, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "@every Nm (N from 1 to 43200)"));
}
END_TEST

/* A server given without its password keeps the stored one only for the same URL and reader. */
START_TEST(settings_keep_password_only_for_same_server)
{
	struct ls_settings stored, s;
	struct refusal err;

	ck_assert_int_eq(parse_patched("{\"additionalDomains\":[{\"domain\":\"eu.example.com\","
				       "\"serverURL\":\"ldap://eu\",\"readerDN\":\"cn=r\","
				       "\"readerPassword\":\"eu-pw\"}]}",
				       NULL, &stored, &err),
			 0);
	ck_assert_int_eq(
	    parse_patched("{\"readerPassword\":null,\"additionalDomains\":[{\"domain\":"
			  "\"EU.example.com\",\"serverURL\":\"ldap://eu\",\"readerDN\":"
			  "\"cn=r\"}]}",
			  &stored, &s, &err),
	    0);
	ck_assert_str_eq(s.servers[0].reader_password, "s3cret");
	ck_assert_str_eq(s.servers[1].reader_password, "eu-pw");
	ls_settings_free(&s);

	ck_assert_int_eq(parse_patched("{\"readerPassword\":null,\"serverURL\":\"ldap://other\"}",
				       &stored, &s, &err),
			 -1);
	ck_assert_str_eq(err.field, "readerPassword");
	ck_assert_int_eq(
	    parse_patched("{\"readerPassword\":null,\"readerDN\":\"cn=other\"}", &stored, &s, &err),
	    -1);
	ck_assert_int_eq(parse_patched("{\"additionalDomains\":[{\"domain\":\"eu.example.com\","
				       "\"serverURL\":\"ldap://moved\",\"readerDN\":\"cn=r\"}]}",
				       &stored, &s, &err),
			 -1);
	ck_assert_str_eq(err.field, "additionalDomains[0].readerPassword");
	ls_settings_free(&stored);
}
END_TEST

/* serverURLs lists a domain's servers in order; serverURL alone is a list of one. */
START_TEST(settings_take_a_list_of_servers)
{
	struct ls_settings s;
	struct refusal err;
	json_t *j;

	ck_assert_int_eq(parse_patched("{\"serverURL\":null,\"serverURLs\":[\"ldap://a\",\"ldaps://"
				       "b:636\"]}",
				       NULL, &s, &err),
			 0);
	ck_assert_uint_eq(s.servers[0].nurls, 2);
	ck_assert_str_eq(s.servers[0].urls[1], "ldaps://b:636");
	j = ls_settings_to_json(&s, false);
	ck_assert_str_eq(json_string_value(json_object_get(j, "serverURL")), "ldap://a");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "serverURLs")), 2);
	json_decref(j);
	ls_settings_free(&s);

	/* both, agreeing: what GET shows can be PUT back */
	ck_assert_int_eq(parse_patched("{\"serverURL\":\"ldap://a\",\"serverURLs\":[\"ldap://a\","
				       "\"ldap://b\"]}",
				       NULL, &s, &err),
			 0);
	ls_settings_free(&s);
	ck_assert_int_eq(parse_patched("{}", NULL, &s, &err), 0);
	ck_assert_uint_eq(s.servers[0].nurls, 1);
	j = ls_settings_to_json(&s, false);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "serverURLs"), 0)),
			 "ldap://ldap.example.com");
	json_decref(j);
	ls_settings_free(&s);
}
END_TEST

START_TEST(settings_refuse_bad_server_lists)
{
	expect_settings_refused("{\"serverURLs\":[]}", "serverURLs");
	expect_settings_refused("{\"serverURLs\":\"ldap://a\"}", "serverURLs");
	expect_settings_refused(
	    "{\"serverURLs\":[\"ldap://1\",\"ldap://2\",\"ldap://3\",\"ldap://"
	    "4\",\"ldap://5\",\"ldap://6\",\"ldap://7\",\"ldap://8\",\"ldap://9\"]}",
	    "serverURLs");
	expect_settings_refused("{\"serverURLs\":[\"ldap://ldap.example.com\",7]}",
				"serverURLs[1]");
	expect_settings_refused("{\"serverURLs\":[\"ldap://ldap.example.com\",\"http://b\"]}",
				"serverURLs[1]");
	expect_settings_refused("{\"serverURLs\":[\"ldap://ldap.example.com\",\"ldap://ldap."
				"example.com\"]}",
				"serverURLs[1]");
	expect_settings_refused("{\"serverURLs\":[\"ldap://b\",\"ldap://ldap.example.com\"]}",
				"serverURL");
	expect_settings_refused("{\"startTLS\":true,\"serverURL\":null,\"serverURLs\":[\"ldap://"
				"a\",\"ldaps://b\"]}",
				"startTLS");
	expect_settings_refused("{\"additionalDomains\":[{\"domain\":\"eu.x.com\",\"serverURLs\":"
				"[\"ldap://y\",\"\"]}]}",
				"additionalDomains[0].serverURLs[1]");
}
END_TEST

/* A stored password follows a list that shrinks or is reordered, never one that gains a URL. */
START_TEST(settings_keep_password_only_for_known_servers)
{
	struct ls_settings stored, s;
	struct refusal err;

	ck_assert_int_eq(
	    parse_patched("{\"serverURLs\":[\"ldap://ldap.example.com\",\"ldap://b\"]}", NULL,
			  &stored, &err),
	    0);
	ck_assert_int_eq(parse_patched("{\"readerPassword\":null,\"serverURL\":null,\"serverURLs\":"
				       "[\"ldap://b\",\"ldap://ldap.example.com\"]}",
				       &stored, &s, &err),
			 0);
	ck_assert_str_eq(s.servers[0].reader_password, "s3cret");
	ls_settings_free(&s);
	ck_assert_int_eq(
	    parse_patched("{\"readerPassword\":null,\"serverURLs\":[\"ldap://ldap.example.com\","
			  "\"ldap://b\",\"ldap://c\"]}",
			  &stored, &s, &err),
	    -1);
	ck_assert_str_eq(err.field, "readerPassword");
	ls_settings_free(&stored);
}
END_TEST

/* A server found down waits 30 s, then twice as long each time, up to 5 min; an answer ends it. */
START_TEST(down_servers_back_off)
{
	const char *url = "ldap://backoff.test:1";

	ck_assert_int_eq(ls_backoff_left(url), 0);
	ck_assert_int_eq(ls_backoff_failed(url), 30);
	ck_assert_int_ge(ls_backoff_left(url), 29);
	ck_assert_int_eq(ls_backoff_left("ldap://other.test"), 0);
	ck_assert_int_eq(ls_backoff_failed(url), 60);
	for (int i = 0; i < 5; i++)
		ls_backoff_failed(url);
	ck_assert_int_eq(ls_backoff_failed(url), 300);
	ls_backoff_ok(url);
	ck_assert_int_eq(ls_backoff_left(url), 0);
	ck_assert_int_eq(ls_backoff_failed(url), 30);
	ls_backoff_ok(url);
}
END_TEST

START_TEST(settings_json_hides_passwords)
{
	struct ls_settings s;
	struct refusal err;
	json_t *j;
	char *text;

	ck_assert_int_eq(parse_patched("{}", NULL, &s, &err), 0);
	j = ls_settings_to_json(&s, false);
	text = json_dumps(j, 0);
	ck_assert_ptr_null(strstr(text, "s3cret"));
	ck_assert(json_is_true(json_object_get(j, "readerPasswordSet")));
	ck_assert_ptr_null(json_object_get(j, "readerPassword"));
	free(text);
	json_decref(j);
	/* the public form parses back to the same settings, password aside */
	j = ls_settings_to_json(&s, true);
	ls_settings_free(&s);
	ck_assert_int_eq(ls_settings_from_json(j, NULL, &s, &err), 0);
	ck_assert_str_eq(s.servers[0].reader_password, "s3cret");
	json_decref(j);
	ls_settings_free(&s);
}
END_TEST

START_TEST(settings_refuse_a_non_object)
{
	struct ls_settings s;
	struct refusal err;
	json_t *j = json_array();

	ck_assert_int_eq(ls_settings_from_json(j, NULL, &s, &err), -1);
	ck_assert_str_eq(err.field, "settings");
	json_decref(j);
}
END_TEST

/* ---- ranged retrieval ---- */

/* What one answer held: its attribute descriptions and value counts. */
struct answer {
	struct ls_answered got[4];
	size_t n;
};

/* The step for an answer of "member", from `from`; which descriptions it used, as "01". */
static enum ls_range_step step(const struct answer *a, size_t from, size_t *next, char used[5])
{
	bool use[4] = {false, false, false, false};
	enum ls_range_step st;

	*next = 0;
	st = ls_range_next("member", a->got, a->n, from, use, next);
	for (size_t i = 0; i < a->n; i++)
		used[i] = use[i] ? '1' : '0';
	used[a->n] = '\0';
	return st;
}

START_TEST(a_whole_attribute_is_done_at_once)
{
	struct answer a = {{{"member", 3}}, 1}, none = {{{"cn", 1}}, 1},
		      tagged = {{{"member", 2}, {"Member;lang-en", 1}}, 2};
	size_t next;
	char used[5];

	ck_assert_int_eq(step(&a, 0, &next, used), LS_RANGE_DONE);
	ck_assert_str_eq(used, "1");
	/* a group without members answers no member at all */
	ck_assert_int_eq(step(&none, 0, &next, used), LS_RANGE_DONE);
	ck_assert_str_eq(used, "0");
	/* a description with another option is still the attribute's */
	ck_assert_int_eq(step(&tagged, 0, &next, used), LS_RANGE_DONE);
	ck_assert_str_eq(used, "11");
}
END_TEST

START_TEST(ranges_are_followed_until_the_star)
{
	/* how Active Directory answers a group of 3,200 members, one request after another */
	struct answer first = {{{"member;range=0-1499", 1500}}, 1};
	struct answer second = {{{"cn", 1}, {"Member;Range=1500-2999", 1500}}, 2};
	struct answer last = {{{"member;range=3000-*", 200}}, 1};
	size_t next;
	char used[5];

	ck_assert_int_eq(step(&first, 0, &next, used), LS_RANGE_MORE);
	ck_assert_uint_eq(next, 1500);
	ck_assert_str_eq(used, "1");
	ck_assert_int_eq(step(&second, 1500, &next, used), LS_RANGE_MORE);
	ck_assert_uint_eq(next, 3000);
	ck_assert_str_eq(used, "01");
	ck_assert_int_eq(step(&last, 3000, &next, used), LS_RANGE_DONE);
	ck_assert_str_eq(used, "1");
}
END_TEST

START_TEST(ranges_in_one_answer_are_joined)
{
	/* slapd with range= tags answers every stored range at once, in any order */
	struct answer both = {{{"member;range=1500-1599", 100}, {"member;range=0-1499", 1500}}, 2};
	struct answer ended = {{{"member;range=2-*", 1}, {"member;range=0-1", 2}}, 2};
	size_t next;
	char used[5];

	ck_assert_int_eq(step(&both, 0, &next, used), LS_RANGE_MORE);
	ck_assert_uint_eq(next, 1600);
	ck_assert_str_eq(used, "11");
	ck_assert_int_eq(step(&ended, 0, &next, used), LS_RANGE_DONE);
	ck_assert_str_eq(used, "11");
}
END_TEST

START_TEST(answers_that_do_not_continue_are_bad)
{
	static const struct {
		struct answer a;
		size_t from;
	} bad[] = {
	    /* asked for more, and nothing came: the rest cannot be read */
	    {{{{"cn", 1}}, 1}, 1500},
	    {{{{"member", 3}}, 1}, 1500},
	    /* a gap, an overlap, a range that does not start at 0 */
	    {{{{"member;range=1600-*", 5}}, 1}, 1500},
	    {{{{"member;range=1000-*", 5}}, 1}, 1500},
	    {{{{"member;range=5-9", 5}}, 1}, 0},
	    {{{{"member;range=0-9", 10}, {"member;range=9-*", 2}}, 2}, 0},
	    /* a range after the last one, whole and ranged values together */
	    {{{{"member;range=0-*", 10}, {"member;range=10-19", 10}}, 2}, 0},
	    {{{{"member", 1}, {"member;range=0-9", 10}}, 2}, 0},
	    /* ranges that do not parse, or make no progress */
	    {{{{"member;range=9-5", 1}}, 1}, 0},
	    {{{{"member;range=0-", 1}}, 1}, 0},
	    {{{{"member;range=-9", 1}}, 1}, 0},
	    {{{{"member;range=0-x", 1}}, 1}, 0},
	    {{{{"member;range=+0-9", 1}}, 1}, 0},
	    {{{{"member;range=0-99999999999999999999999", 1}}, 1}, 0},
	    {{{{"member;range=0-9;range=10-19", 10}}, 1}, 0},
	    {{{{"member;range=0-1499", 0}}, 1}, 0},
	};
	size_t next;
	char used[5];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(step(&bad[i].a, bad[i].from, &next, used) == LS_RANGE_BAD,
			      "answer %zu (%s, from %zu) passed", i, bad[i].a.got[0].name,
			      bad[i].from);
	/* another attribute that starts with the name is not the attribute */
	{
		struct answer other = {{{"memberUid;range=0-9", 10}}, 1};

		ck_assert_int_eq(step(&other, 0, &next, used), LS_RANGE_DONE);
		ck_assert_str_eq(used, "0");
	}
}
END_TEST

/* ---- directory ids ---- */

START_TEST(directory_ids_are_text)
{
	/* objectGUID 01020304-0506-0708-090a-0b0c0d0e0f10, as Active Directory stores it */
	static const unsigned char guid[16] = {4, 3,  2,  1,  6,  5,  8,  7,
					       9, 10, 11, 12, 13, 14, 15, 16};
	static const unsigned char bytes[3] = {0x00, 0xff, 0x41};
	char *t;

	t = ls_id_text("objectGUID", guid, sizeof(guid));
	ck_assert_str_eq(t, "01020304-0506-0708-090a-0b0c0d0e0f10");
	free(t);
	t = ls_id_text("entryUUID", "6f0c1f4e-8ef4-103c-9ac5-6b3e1b3e4f9a", 36);
	ck_assert_str_eq(t, "6f0c1f4e-8ef4-103c-9ac5-6b3e1b3e4f9a");
	free(t);
	/* another binary value: hex */
	t = ls_id_text("nsUniqueId", bytes, sizeof(bytes));
	ck_assert_str_eq(t, "00ff41");
	free(t);
	/* too long to keep, or empty: no id */
	{
		char long_id[LS_ID_MAX + 2];

		memset(long_id, 'a', sizeof(long_id));
		ck_assert_ptr_null(ls_id_text("entryUUID", long_id, sizeof(long_id)));
		ck_assert_ptr_null(ls_id_text("entryUUID", "", 0));
	}
}
END_TEST

/* ---- the connection pool ---- */

/* The pool key of settings patched so, for the default server's first URL. */
static void key_of(const char *patch, bool reader, unsigned char key[32])
{
	struct ls_settings s;
	struct refusal err;
	struct ls_conn c;

	ck_assert_int_eq(parse_patched(patch, NULL, &s, &err), 0);
	c = (struct ls_conn){.s = &s, .url = s.servers[0].urls[0], .reader = reader};
	ls_pool_key(&c, key);
	ls_settings_free(&s);
}

/* Connections are reused only under the settings they were made under. */
START_TEST(pool_keys_follow_the_settings)
{
	unsigned char a[32], b[32];

	key_of("{}", true, a);
	key_of("{\"syncSchedule\":\"@daily\",\"connectionIdleSeconds\":5}", true, b);
	ck_assert_mem_eq(a, b, 32);
	key_of("{}", false, b);
	ck_assert(memcmp(a, b, 32) != 0);
	for (const char *const *p =
		 (const char *const[]){"{\"readerDN\":\"cn=other,dc=example,dc=com\"}",
				       "{\"readerPassword\":\"other\"}",
				       "{\"serverURL\":\"ldap://ldap2.example.com\"}",
				       "{\"startTLS\":true}", "{\"tlsSkipVerify\":true}",
				       "{\"timeoutSeconds\":9}", "{\"followReferrals\":true}",
				       NULL};
	     *p; p++) {
		key_of(*p, true, b);
		ck_assert_msg(memcmp(a, b, 32) != 0, "%s keeps the reader's key", *p);
	}
	/* a connection for users' binds is bound as nobody of the settings' */
	key_of("{}", false, a);
	key_of("{\"readerPassword\":\"other\"}", false, b);
	ck_assert_mem_eq(a, b, 32);
}
END_TEST

/* A conn of settings s for url, taken from the pool. */
static enum ls_pool_take take(struct ls_conn *c, const struct ls_settings *s, const char *url)
{
	*c = (struct ls_conn){.s = s, .url = url, .reader = true};
	return ls_pool_take(c);
}

/*
 * The bookkeeping without a server: handles made by ldap_initialize never
 * connect, so that the health check finds them closed.
 */
START_TEST(pool_places_are_bounded_and_checked)
{
	const char *url = "ldap://pool.test:1";
	struct ls_pool_stats st;
	struct ls_settings s;
	struct refusal err;
	struct ls_conn c1, c2;
	unsigned long dead;

	ck_assert_int_eq(
	    parse_patched("{\"connectionPoolSize\":1,\"timeoutSeconds\":1}", NULL, &s, &err), 0);
	ck_assert_int_eq(take(&c1, &s, url), LS_POOL_NEW);
	/* the one place is taken: a second taker waits timeoutSeconds, then gives up */
	ck_assert_int_eq(take(&c2, &s, url), LS_POOL_FULL);
	ck_assert_int_eq(ldap_initialize(&c1.ld, url), LDAP_SUCCESS);
	ls_pool_give(&c1);
	ls_pool_stats(&st);
	ck_assert_uint_eq(st.idle, 1);
	dead = st.dead;
	/* the idle one fails the health check: closed, and its place goes to a new one */
	ck_assert_int_eq(take(&c2, &s, url), LS_POOL_NEW);
	ls_pool_stats(&st);
	ck_assert_uint_eq(st.dead, dead + 1);
	ck_assert_uint_eq(st.busy, 1);
	/* lent while the server failed: closed when it comes back */
	ck_assert_int_eq(ldap_initialize(&c2.ld, url), LDAP_SUCCESS);
	ls_pool_drop(url, false);
	ls_pool_give(&c2);
	ls_pool_stats(&st);
	ck_assert_uint_eq(st.idle + st.busy, 0);
	/* broken ones are never kept; and without a pool nothing is */
	ck_assert_int_eq(take(&c1, &s, url), LS_POOL_NEW);
	ck_assert_int_eq(ldap_initialize(&c1.ld, url), LDAP_SUCCESS);
	c1.broken = true;
	ls_pool_give(&c1);
	ls_pool_stats(&st);
	ck_assert_uint_eq(st.idle + st.busy, 0);
	s.pool_size = 0;
	ck_assert_int_eq(take(&c1, &s, url), LS_POOL_NONE);
	ls_settings_free(&s);
	ls_pool_shutdown();
}
END_TEST

static void collect(void *ctx, const char *line)
{
	char *all = ctx;

	strncat(all, line, 4095 - strlen(all));
	strncat(all, "\n", 4095 - strlen(all));
}

/* A pooled connection over one end of a socket pair, given back idle; *peer is the other end. */
static void pool_socket(struct ls_conn *c, const struct ls_settings *s, int *peer)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(take(c, s, s->servers[0].urls[0]), LS_POOL_NEW);
	ck_assert_int_eq(ldap_init_fd(sv[0], LDAP_PROTO_TCP, s->servers[0].urls[0], &c->ld),
			 LDAP_SUCCESS);
	ls_pool_give(c);
	*peer = sv[1];
}

/*
 * The health check, and a connection that passes it but was closed when
 * used (a server restarted just then): dropped, and a new one tried (here
 * on a port nobody listens on, so that the bind fails as the server's).
 */
START_TEST(pool_drops_closed_connections)
{
	char lines[4096] = "";
	struct ls_log log = {collect, lines};
	struct ls_pool_stats st;
	struct ls_settings s;
	struct refusal err;
	struct ls_conn c;
	unsigned long dead;
	int peer;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(
	    parse_patched("{\"serverURL\":\"ldap://127.0.0.1:1\",\"timeoutSeconds\":1}", NULL, &s,
			  &err),
	    0);
	pool_socket(&c, &s, &peer);
	ls_pool_stats(&st);
	dead = st.dead;
	/* its peer still open: the check passes, and the bind finds it closed */
	ck_assert_int_eq(take(&c, &s, s.servers[0].urls[0]), LS_POOL_REUSED);
	c.log = &log;
	close(peer);
	ck_assert_int_ne(ls_conn_bind(&c, "cn=u,dc=example,dc=com", "pw", "user"), LDAP_SUCCESS);
	ck_assert_ptr_nonnull(strstr(lines, "had closed the pooled connection: connecting again"));
	ck_assert_ptr_nonnull(strstr(lines, "connect failed"));
	ck_assert_ptr_null(c.ld);
	ls_pool_stats(&st);
	ck_assert_uint_eq(st.dead, dead + 1);
	ck_assert_uint_eq(st.idle + st.busy, 0);
	/* its peer closed while it was idle: the check drops it */
	pool_socket(&c, &s, &peer);
	close(peer);
	ck_assert_int_eq(take(&c, &s, s.servers[0].urls[0]), LS_POOL_NEW);
	ls_pool_stats(&st);
	ck_assert_uint_eq(st.dead, dead + 2);
	ls_pool_give(&c);
	ls_settings_free(&s);
	ls_pool_shutdown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ldapsync");
	TCase *tc = tcase_create("names");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, lowercases_ascii_and_unicode);
	tcase_add_test(tc, normalises_to_nfc);
	tcase_add_test(tc, refuses_empty_and_whitespace);
	tcase_add_test(tc, refuses_control_characters);
	tcase_add_test(tc, refuses_each_forbidden_character);
	tcase_add_test(tc, limits_length_in_characters);
	tcase_add_test(tc, refuses_invalid_utf8);
	tcase_add_test(tc, filter_values_are_escaped);
	tcase_add_test(tc, in_chain_filters_escape_the_group_dn);
	tcase_add_test(tc, member_sync_follows_nested_groups_only_when_asked);
	tcase_add_test(tc, dn_values_are_escaped);
	tcase_add_test(tc, dn_values_must_be_utf8);
	tcase_add_test(tc, domains_match_per_rdn);
	tcase_add_test(tc, longest_suffix_picks_the_server);
	tcase_add_test(tc, settings_take_defaults);
	tcase_add_test(tc, settings_refuse_each_bad_field);
	tcase_add_test(tc, settings_schedule_forms);
	tcase_add_test(tc, settings_keep_a_minute_schedule);
	tcase_add_test(tc, settings_keep_password_only_for_same_server);
	tcase_add_test(tc, settings_json_hides_passwords);
	tcase_add_test(tc, settings_take_a_list_of_servers);
	tcase_add_test(tc, settings_refuse_bad_server_lists);
	tcase_add_test(tc, settings_keep_password_only_for_known_servers);
	tcase_add_test(tc, down_servers_back_off);
	tcase_add_test(tc, settings_refuse_a_non_object);
	tcase_add_test(tc, a_whole_attribute_is_done_at_once);
	tcase_add_test(tc, ranges_are_followed_until_the_star);
	tcase_add_test(tc, ranges_in_one_answer_are_joined);
	tcase_add_test(tc, answers_that_do_not_continue_are_bad);
	tcase_add_test(tc, directory_ids_are_text);
	tcase_add_test(tc, pool_keys_follow_the_settings);
	tcase_add_test(tc, pool_places_are_bounded_and_checked);
	tcase_add_test(tc, pool_drops_closed_connections);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
