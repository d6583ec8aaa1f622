/*
 * Benchmark (not a test): a full LDAP sync of a generated directory (100,000
 * users, 1,000 groups of 50 on average, each synced to a team), first run
 * and no-change run, timed beside ldapsearch paging the same entries from
 * the same slapd in the same run; and authd's peak resident memory.
 *   bench_ldap_sync [USERS]    (default 100000; groups are USERS / 100)
 * It starts its own slapd and authd (the integration tests' fixtures).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "bench_sync.h"
#include "harness.h"
#include "slapd.h"

#define ADMIN_PW "Bench-Admin-Passw0rd"
#define SUFFIX "dc=sync,dc=example"
#define MEMBERS 50
#define TARGET_FIRST 1.5
#define TARGET_NOCHANGE 1.3
#define TARGET_RSS_MB 150

/* Users u0..uN-1; group g holds MEMBERS users spread over the directory. */
static char *directory_ldif(int users, int groups)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fprintf(f, "dn: ou=people," SUFFIX "\nobjectClass: organizationalUnit\nou: people\n\n"
		   "dn: ou=groups," SUFFIX "\nobjectClass: organizationalUnit\nou: groups\n\n");
	for (int i = 0; i < users; i++)
		fprintf(f,
			"dn: uid=u%d,ou=people," SUFFIX "\nobjectClass: inetOrgPerson\nuid: u%d\n"
			"cn: User %d\nsn: U\n\n",
			i, i, i);
	for (int g = 0; g < groups; g++) {
		fprintf(f, "dn: cn=g%d,ou=groups," SUFFIX "\nobjectClass: groupOfNames\ncn: g%d\n",
			g, g);
		for (int k = 0; k < MEMBERS; k++)
			fprintf(f, "member: uid=u%d,ou=people," SUFFIX "\n",
				(int)(((long)g * 7919 + (long)k * 104729) % users));
		fputc('\n', f);
	}
	fclose(f);
	return text;
}

static int configure(const struct authd *s, const char *admin, const struct slapd *dir, int groups)
{
	char body[2048], path[256];

	snprintf(body, sizeof(body),
		 "{\"serverURL\":\"%s\",\"readerDN\":\"%s\",\"readerPassword\":\"%s\","
		 "\"jitUserProvisioning\":false,\"timeoutSeconds\":300,"
		 "\"userSearchConfigs\":[{\"baseDN\":\"ou=people," SUFFIX "\","
		 "\"filter\":\"(objectClass=inetOrgPerson)\"}]}",
		 dir->url, dir->reader_dn, dir->reader_pw);
	if (bench_must(s, admin, "PUT", "/enzi/v0/config/auth/ldap", body, 200, NULL) ||
	    bench_must(s, admin, "PUT", "/enzi/v0/config/auth", "{\"backend\":\"ldap\"}", 200,
		       NULL) ||
	    bench_must(s, admin, "POST", "/enzi/v0/accounts", "{\"name\":\"bench\",\"isOrg\":true}",
		       201, NULL))
		return -1;
	for (int g = 0; g < groups; g++) {
		snprintf(body, sizeof(body), "{\"name\":\"t%d\"}", g);
		if (bench_must(s, admin, "POST", "/enzi/v0/accounts/bench/teams", body, 201, NULL))
			return -1;
		snprintf(path, sizeof(path), "/enzi/v0/accounts/bench/teams/t%d/memberSyncConfig",
			 g);
		snprintf(body, sizeof(body),
			 "{\"enableSync\":true,\"selectGroupMembers\":true,"
			 "\"groupDN\":\"cn=g%d,ou=groups," SUFFIX
			 "\",\"groupMemberAttr\":\"member\"}",
			 g);
		if (bench_must(s, admin, "PUT", path, body, 200, NULL))
			return -1;
	}
	return 0;
}

/* authd's peak resident set since the last reset, in MB; and resets it. */
static double peak_rss_mb(pid_t pid)
{
	char path[64], line[256];
	double kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lf kB", &kb) == 1)
			break;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
	if ((f = fopen(path, "w")) != NULL) {
		fputs("5", f); /* 5 resets the peak */
		fclose(f);
	}
	return kb / 1024;
}

/* ldapsearch paging through what the sync reads (users, then the groups); milliseconds. */
static double ldapsearch_ms(const struct slapd *dir)
{
	static const char *const env[] = {"PATH=" CMD_PATH, "LDAPNOINIT=1", NULL};
	const char *users[] = {"ldapsearch",
			       "-x",
			       "-LLL",
			       "-H",
			       dir->url,
			       "-D",
			       dir->reader_dn,
			       "-w",
			       dir->reader_pw,
			       "-b",
			       "ou=people," SUFFIX,
			       "-E",
			       "pr=500/noprompt",
			       "(&(uid=*)(objectClass=inetOrgPerson))",
			       "uid",
			       "cn",
			       "entryUUID", /* each user's directory id, as the sync asks */
			       NULL};
	const char *groups[] = {"ldapsearch",
				"-x",
				"-LLL",
				"-H",
				dir->url,
				"-D",
				dir->reader_dn,
				"-w",
				dir->reader_pw,
				"-b",
				"ou=groups," SUFFIX,
				"-E",
				"pr=500/noprompt",
				"(objectClass=groupOfNames)",
				"member",
				NULL};
	double start = it_now();

	if (cmd_run(users, env, NULL, "/dev/null", 600) != 0 ||
	    cmd_run(groups, env, NULL, "/dev/null", 600) != 0)
		return -1;
	return (it_now() - start) * 1000;
}

int main(int argc, char **argv)
{
	int users = argc > 1 ? atoi(argv[1]) : 100000, groups;
	struct slapd_opts opts = {.suffix = SUFFIX};
	char tmp[] = "/tmp/authd-bench-sync-XXXXXX", *ldif = NULL, *admin = NULL;
	char *sum1 = NULL, *sum2 = NULL;
	struct slapd *dir = NULL;
	struct authd *s = NULL;
	double ref, first, again, rss1, rss2;
	int rc = 1;

	if (users < 100) {
		fprintf(stderr, "usage: bench_ldap_sync [USERS >= 100]\n");
		return 2;
	}
	groups = users / 100;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || it_workdir_init() != 0 ||
	    mkdtemp(tmp) == NULL) {
		fprintf(stderr, "bench_ldap_sync: no temporary directory\n");
		return 1;
	}
	opts.ldif = ldif = directory_ldif(users, groups);
	fprintf(stderr, "loading %d users and %d groups into slapd...\n", users, groups);
	if (slapd_test_ca(tmp) != 0 || (dir = slapd_new(tmp)) == NULL ||
	    slapd_start(dir, &opts) != 0 || (s = authd_new(NULL)) == NULL ||
	    authd_start(s, ADMIN_PW) != 0 || (admin = authd_login(s, "admin", ADMIN_PW)) == NULL ||
	    configure(s, admin, dir, groups) != 0) {
		fprintf(stderr, "bench_ldap_sync: could not set up slapd and authd\n");
		goto out;
	}
	peak_rss_mb(s->pid);
	ref = ldapsearch_ms(dir);
	first = bench_run_sync(s, admin, &sum1);
	rss1 = peak_rss_mb(s->pid);
	again = bench_run_sync(s, admin, &sum2);
	rss2 = peak_rss_mb(s->pid);
	if (ref <= 0 || first < 0 || again < 0) {
		fprintf(stderr, "bench_ldap_sync: a sync or ldapsearch failed: %s %s\n",
			sum1 ? sum1 : "", sum2 ? sum2 : "");
		goto out;
	}
	printf("users=%d groups=%d members_per_group=%d\n", users, groups, MEMBERS);
	printf("ldapsearch_ms=%.0f (ldapsearch -E pr=500/noprompt: the users, then the groups)\n",
	       ref);
	printf("first_sync_ms=%.0f ratio=%.2f target=%.1f %s\n  summary=%s\n", first, first / ref,
	       TARGET_FIRST, first / ref <= TARGET_FIRST ? "met" : "NOT met", sum1);
	printf("nochange_sync_ms=%.0f ratio=%.2f target=%.1f %s\n  summary=%s\n", again,
	       again / ref, TARGET_NOCHANGE, again / ref <= TARGET_NOCHANGE ? "met" : "NOT met",
	       sum2);
	printf("peak_rss_mb first=%.1f nochange=%.1f target=%d %s\n", rss1, rss2, TARGET_RSS_MB,
	       rss1 <= TARGET_RSS_MB && rss2 <= TARGET_RSS_MB ? "met" : "NOT met");
	rc = 0;
out:
	free(sum1);
	free(sum2);
	free(admin);
	http_close();
	authd_free(s);
	slapd_free(dir);
	cmd_remove_tree(tmp);
	it_workdir_remove();
	free(ldif);
	curl_global_cleanup();
	return rc;
}
