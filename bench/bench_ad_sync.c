/*
 * Benchmark (not a test): LDAP syncs of a team that follows a 10,000-member group
 * on a real Active Directory (Samba's AD DC), read in ranges of 1,500 as Windows
 * answers them, timed beside ldapsearch reading the same users and the same ranges
 * from the same DC in the same run.
 *   bench_ad_sync [MEMBERS]    (default 10000)
 * It provisions its own Samba DC on 127.0.0.1:389/636 (so nothing else may hold
 * them) and starts its own authd (the integration tests' fixtures); it exits 77
 * where Samba's DC cannot run.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "bench_sync.h"
#include "harness.h"
#include "samba.h"
#include "slapd.h"

#define ADMIN_PW "Bench-Admin-Passw0rd"
#define BENCH_OU "OU=bench," SAMBA_BASE
#define GROUP "CN=big,OU=groups," SAMBA_BASE
#define RANGE 1500 /* Windows' MaxValRange */
#define TARGET 1.5

static char *directory_ldif(int members)
{
	char *text = NULL, name[16], **dns = calloc((size_t)members, sizeof(*dns));
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL || dns == NULL)
		return NULL;
	samba_ou(f, BENCH_OU);
	samba_ou(f, "OU=groups," SAMBA_BASE);
	for (int i = 0; i < members; i++) {
		snprintf(name, sizeof(name), "b%05d", i);
		samba_user(f, name, BENCH_OU, NULL);
		if (asprintf(&dns[i], "CN=%s," BENCH_OU, name) < 0)
			dns[i] = NULL;
	}
	samba_group(f, GROUP, (const char *const *)dns, (size_t)members);
	for (int i = 0; i < members; i++)
		free(dns[i]);
	free(dns);
	fclose(f);
	return text;
}

static int configure(const struct authd *s, const char *admin, const struct samba *dc)
{
	char *ca = it_read_file(dc->ca, NULL), *body;
	json_t *settings;
	int rc;

	settings =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:[{s:s, s:s, s:s, s:s}], s:b, s:i}",
		      "serverURL", dc->ldaps_url, "rootCerts", ca ? ca : "", "readerDN",
		      dc->admin_dn, "readerPassword", dc->admin_pw, "uniqueIDAttr", "objectGUID",
		      "memberRangeSize", RANGE, "userSearchConfigs", "baseDN", BENCH_OU,
		      "usernameAttr", "sAMAccountName", "fullNameAttr", "displayName", "filter",
		      "(objectClass=user)", "jitUserProvisioning", 0, "timeoutSeconds", 300);
	body = settings ? json_dumps(settings, JSON_COMPACT) : NULL;
	rc = body == NULL ||
	     bench_must(s, admin, "PUT", "/enzi/v0/config/auth/ldap", body, 200, NULL) ||
	     bench_must(s, admin, "PUT", "/enzi/v0/config/auth", "{\"backend\":\"ldap\"}", 200,
			NULL) ||
	     bench_must(s, admin, "POST", "/enzi/v0/accounts",
			"{\"name\":\"bench\",\"isOrg\":true}", 201, NULL) ||
	     bench_must(s, admin, "POST", "/enzi/v0/accounts/bench/teams", "{\"name\":\"big\"}",
			201, NULL);
	free(body);
	free(ca);
	json_decref(settings);
	return rc ? -1 : 0;
}

static int follow_group(const struct authd *s, const char *admin)
{
	return bench_must(s, admin, "PUT", "/enzi/v0/accounts/bench/teams/big/memberSyncConfig",
			  "{\"enableSync\":true,\"selectGroupMembers\":true,\"groupDN\":\"" GROUP
			  "\",\"groupMemberAttr\":\"member\"}",
			  200, NULL);
}

/* One ldapsearch over LDAPS as the reader, output dropped; 0 on success. */
static int ldapsearch(const struct samba *dc, const char *base, const char *scope,
		      const char *filter, const char *const *attrs)
{
	char ca[IT_PATH_LEN + 16];
	const char *env[] = {"PATH=" CMD_PATH, "LDAPCONF=/dev/null", "LDAPRC=/dev/null", ca, NULL};
	const char *argv[24] = {
	    "ldapsearch", "-x", "-LLL", "-H", dc->ldaps_url, "-D", dc->admin_dn,      "-w",
	    dc->admin_pw, "-b", base,	"-s", scope,	     "-E", "pr=500/noprompt", filter};
	int argc = 16;

	snprintf(ca, sizeof(ca), "LDAPTLS_CACERT=%s", dc->ca);
	for (size_t i = 0; attrs[i] != NULL && argc < 23; i++)
		argv[argc++] = attrs[i];
	argv[argc] = NULL;
	return cmd_run(argv, env, NULL, "/dev/null", 600);
}

/*
 * ldapsearch reading what the sync reads: the users (paged, the same filter and
 * attributes), then the group's member values in the same ranges; milliseconds.
 */
static double ldapsearch_ms(const struct samba *dc, int members)
{
	static const char *const user_attrs[] = {"sAMAccountName", "displayName", "objectGUID",
						 NULL};
	double start = it_now();
	char range[64];

	if (ldapsearch(dc, BENCH_OU, "sub", "(&(sAMAccountName=*)(objectClass=user))",
		       user_attrs) != 0)
		return -1;
	for (int from = 0; from < members; from += RANGE) {
		const char *attrs[] = {range, NULL};

		snprintf(range, sizeof(range), "member;range=%d-%d", from, from + RANGE - 1);
		if (ldapsearch(dc, GROUP, "base", "(objectClass=*)", attrs) != 0)
			return -1;
	}
	return (it_now() - start) * 1000;
}

static void report(const char *what, double ms, double ref, const char *summary)
{
	printf("%s_ms=%.0f ratio=%.2f target=%.1f %s\n  summary=%s\n", what, ms, ms / ref, TARGET,
	       ms / ref <= TARGET ? "met" : "NOT met", summary);
}

int main(int argc, char **argv)
{
	int members = argc > 1 ? atoi(argv[1]) : 10000;
	char tmp[] = "/tmp/authd-bench-ad-XXXXXX", *ldif = NULL, *admin = NULL, why[160];
	char *sum = NULL;
	struct samba *dc = NULL;
	struct authd *s = NULL;
	double t0, ref, users, first, again;
	int rc = 1;

	if (members < 100) {
		fprintf(stderr, "usage: bench_ad_sync [MEMBERS >= 100]\n");
		return 2;
	}
	if (!samba_available(why, sizeof(why))) {
		fprintf(stderr, "bench_ad_sync: skipped: %s\n", why);
		return 77;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || it_workdir_init() != 0 ||
	    mkdtemp(tmp) == NULL) {
		fprintf(stderr, "bench_ad_sync: no temporary directory\n");
		return 1;
	}
	t0 = it_now();
	fprintf(stderr, "provisioning Samba's AD DC and loading %d users...\n", members);
	if (slapd_test_ca(tmp) != 0 || (dc = samba_new(tmp)) == NULL ||
	    samba_provision(dc, tmp) != 0 || (ldif = directory_ldif(members)) == NULL ||
	    samba_load(dc, ldif) != 0 || samba_start(dc) != 0) {
		fprintf(stderr, "bench_ad_sync: could not set up the DC\n");
		goto out;
	}
	fprintf(stderr, "the DC is up after %.0f s\n", it_now() - t0);
	if ((s = authd_new(NULL)) == NULL || authd_start(s, ADMIN_PW) != 0 ||
	    (admin = authd_login(s, "admin", ADMIN_PW)) == NULL || configure(s, admin, dc) != 0) {
		fprintf(stderr, "bench_ad_sync: could not set up authd\n");
		goto out;
	}
	/* the users first, so that the team's syncs add members, not accounts */
	users = bench_run_sync(s, admin, &sum);
	if (users < 0 || follow_group(s, admin) != 0) {
		fprintf(stderr, "bench_ad_sync: the users' sync failed: %s\n", sum ? sum : "");
		goto out;
	}
	printf("members=%d ranges_of=%d (memberRangeSize) users_sync_ms=%.0f\n", members, RANGE,
	       users);
	ref = ldapsearch_ms(dc, members);
	printf("ldapsearch_ms=%.0f (over LDAPS: the users with pr=500, then one ldapsearch per "
	       "range of the group)\n",
	       ref);
	first = bench_run_sync(s, admin, &sum);
	if (ref <= 0 || first < 0) {
		fprintf(stderr, "bench_ad_sync: a sync or ldapsearch failed: %s\n", sum ? sum : "");
		goto out;
	}
	report("team_first_sync", first, ref, sum);
	again = bench_run_sync(s, admin, &sum);
	if (again < 0) {
		fprintf(stderr, "bench_ad_sync: the second sync failed: %s\n", sum ? sum : "");
		goto out;
	}
	report("team_nochange_sync", again, ref, sum);
	rc = 0;
out:
	free(sum);
	free(admin);
	http_close();
	authd_free(s);
	samba_free(dc);
	cmd_remove_tree(tmp);
	it_workdir_remove();
	free(ldif);
	curl_global_cleanup();
	return rc;
}
