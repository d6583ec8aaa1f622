/*
 * Benchmark (not a test): a full LDAP sync of a generated directory (100,000
 * users, 1,000 groups of 50 on average, each synced to a team), first run
 * and no-change run, timed beside ldapsearch paging the same entries from
 * the same slapd in the same run; and authd's peak resident memory.
 *   bench_ldap_sync [USERS]    (default 100000; groups are USERS / 100)
 * With --nested, a team of every user by one flat group beside a team of the
 * same users through nested groups (top > 10 > 100 groups), each synced on
 * its own:
 *   bench_ldap_sync --nested [USERS]    (default 10000)
 * It starts its own slapd and authd (the integration tests' fixtures).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "harness.h"
#include "slapd.h"

#define ADMIN_PW "Bench-Admin-Passw0rd"
#define SUFFIX "dc=sync,dc=example"
#define MEMBERS 50
#define TARGET_FIRST 1.5
#define TARGET_NOCHANGE 1.3
#define TARGET_RSS_MB 150
#define TARGET_NESTED 1.5 /* the nested team's sync beside the flat one's */
#define MIDS 10		  /* nested: top > mid0..9 > sub0..99 > the users */
#define SUBS 100

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

/* The users, a group "flat" naming them all, and the same users in a tree of nested groups. */
static char *nested_ldif(int users)
{
	char *text = directory_ldif(users, 0), *more = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&more, &len);

	fprintf(f, "%s", text);
	fprintf(f, "dn: cn=flat,ou=groups," SUFFIX "\nobjectClass: groupOfNames\ncn: flat\n");
	for (int i = 0; i < users; i++)
		fprintf(f, "member: uid=u%d,ou=people," SUFFIX "\n", i);
	fprintf(f, "\ndn: cn=top,ou=groups," SUFFIX "\nobjectClass: groupOfNames\ncn: top\n");
	for (int m = 0; m < MIDS; m++)
		fprintf(f, "member: cn=mid%d,ou=groups," SUFFIX "\n", m);
	for (int m = 0; m < MIDS; m++) {
		fprintf(f, "\ndn: cn=mid%d,ou=groups," SUFFIX "\nobjectClass: groupOfNames\n", m);
		fprintf(f, "cn: mid%d\n", m);
		for (int k = m * (SUBS / MIDS); k < (m + 1) * (SUBS / MIDS); k++)
			fprintf(f, "member: cn=sub%d,ou=groups," SUFFIX "\n", k);
	}
	for (int k = 0; k < SUBS; k++) {
		fprintf(f, "\ndn: cn=sub%d,ou=groups," SUFFIX "\nobjectClass: groupOfNames\n", k);
		fprintf(f, "cn: sub%d\n", k);
		for (int i = k; i < users; i += SUBS)
			fprintf(f, "member: uid=u%d,ou=people," SUFFIX "\n", i);
	}
	fputc('\n', f);
	fclose(f);
	free(text);
	return more;
}

/* A call that must answer `want`; the reply's JSON is kept in *json when asked. */
static int must(const struct authd *s, const char *token, const char *method, const char *path,
		const char *body, long want, json_t **json)
{
	struct reply r;
	int rc =
	    http_call(s, method, path, token, body, NULL, &r) == 0 && r.status == want ? 0 : -1;

	if (rc != 0)
		fprintf(stderr, "bench_ldap_sync: %s %s: %ld %s\n", method, path, r.status,
			r.body ? r.body : r.error);
	if (json != NULL)
		*json = rc == 0 ? json_incref(r.json) : NULL;
	reply_free(&r);
	return rc;
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
	if (must(s, admin, "PUT", "/enzi/v0/config/auth/ldap", body, 200, NULL) ||
	    must(s, admin, "PUT", "/enzi/v0/config/auth", "{\"backend\":\"ldap\"}", 200, NULL) ||
	    must(s, admin, "POST", "/enzi/v0/accounts", "{\"name\":\"bench\",\"isOrg\":true}", 201,
		 NULL))
		return -1;
	for (int g = 0; g < groups; g++) {
		snprintf(body, sizeof(body), "{\"name\":\"t%d\"}", g);
		if (must(s, admin, "POST", "/enzi/v0/accounts/bench/teams", body, 201, NULL))
			return -1;
		snprintf(path, sizeof(path), "/enzi/v0/accounts/bench/teams/t%d/memberSyncConfig",
			 g);
		snprintf(body, sizeof(body),
			 "{\"enableSync\":true,\"selectGroupMembers\":true,"
			 "\"groupDN\":\"cn=g%d,ou=groups," SUFFIX
			 "\",\"groupMemberAttr\":\"member\"}",
			 g);
		if (must(s, admin, "PUT", path, body, 200, NULL))
			return -1;
	}
	return 0;
}

/* Makes team <name> of org bench follow group cn=<group>, with or without nesting; or stop. */
static int team_sync(const struct authd *s, const char *admin, const char *name, const char *group,
		     bool on, bool nested)
{
	char body[512], path[256];

	snprintf(path, sizeof(path), "/enzi/v0/accounts/bench/teams/%s/memberSyncConfig", name);
	snprintf(body, sizeof(body),
		 "{\"enableSync\":%s,\"groupDN\":\"cn=%s,ou=groups," SUFFIX
		 "\",\"followNestedGroups\":%s}",
		 on ? "true" : "false", group, nested ? "true" : "false");
	return must(s, admin, "PUT", path, body, 200, NULL);
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

/* Runs one sync to its end; its durationMs, or -1. *summary gets the summary's text. */
static double run_sync(const struct authd *s, const char *admin, char **summary)
{
	json_t *job = NULL;
	char path[128];
	double ms = -1;

	if (must(s, admin, "POST", "/enzi/v0/jobs", "{\"action\":\"ldap-sync\"}", 202, &job))
		return -1;
	snprintf(path, sizeof(path), "/enzi/v0/jobs/%s", jstr(job, "id"));
	json_decref(job);
	for (;;) {
		const char *status;

		usleep(50 * 1000);
		if (must(s, admin, "GET", path, NULL, 200, &job))
			return -1;
		status = jstr(job, "status");
		if (strcmp(status, "done") == 0 || strcmp(status, "errored") == 0 ||
		    strcmp(status, "canceled") == 0)
			break;
		json_decref(job);
	}
	if (strcmp(jstr(job, "status"), "done") == 0)
		ms = (double)jint(job, "summary.durationMs", -1);
	*summary = json_dumps(jpath(job, "summary"), JSON_COMPACT);
	json_decref(job);
	return ms;
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

/* Times its runs, in one authd: the users; the flat team; the nested one. */
static int nested_runs(const struct authd *s, const char *admin)
{
	double users, flat, nested;
	char *sums[3] = {NULL, NULL, NULL};
	int rc = -1;

	if (must(s, admin, "POST", "/enzi/v0/accounts/bench/teams", "{\"name\":\"flat\"}", 201,
		 NULL) ||
	    must(s, admin, "POST", "/enzi/v0/accounts/bench/teams", "{\"name\":\"nested\"}", 201,
		 NULL))
		return -1;
	/* the users first, so that both teams' syncs do the same work besides their groups */
	users = run_sync(s, admin, &sums[0]);
	flat = team_sync(s, admin, "flat", "flat", true, false) ? -1 : run_sync(s, admin, &sums[1]);
	nested = team_sync(s, admin, "flat", "flat", false, false) ||
			 team_sync(s, admin, "nested", "top", true, true)
		     ? -1
		     : run_sync(s, admin, &sums[2]);
	if (users >= 0 && flat > 0 && nested > 0) {
		printf("users_sync_ms=%.0f (creating the users, no team)\n", users);
		printf("flat_team_sync_ms=%.0f (one group of every user)\n  summary=%s\n", flat,
		       sums[1]);
		printf("nested_team_sync_ms=%.0f ratio=%.2f target=%.1f %s (top > %d > %d groups)\n"
		       "  summary=%s\n",
		       nested, nested / flat, TARGET_NESTED,
		       nested / flat <= TARGET_NESTED ? "met" : "NOT met", MIDS, SUBS, sums[2]);
		rc = 0;
	}
	for (int i = 0; i < 3; i++)
		free(sums[i]);
	return rc;
}

int main(int argc, char **argv)
{
	bool nested = argc > 1 && strcmp(argv[1], "--nested") == 0;
	int users = argc > 1 + nested ? atoi(argv[1 + nested]) : nested ? 10000 : 100000, groups;
	struct slapd_opts opts = {.suffix = SUFFIX};
	char tmp[] = "/tmp/authd-bench-sync-XXXXXX", *ldif = NULL, *admin = NULL;
	char *sum1 = NULL, *sum2 = NULL;
	struct slapd *dir = NULL;
	struct authd *s = NULL;
	double ref, first, again, rss1, rss2;
	int rc = 1;

	if (users < 100) {
		fprintf(stderr, "usage: bench_ldap_sync [--nested] [USERS >= 100]\n");
		return 2;
	}
	groups = nested ? 0 : users / 100;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || it_workdir_init() != 0 ||
	    mkdtemp(tmp) == NULL) {
		fprintf(stderr, "bench_ldap_sync: no temporary directory\n");
		return 1;
	}
	opts.ldif = ldif = nested ? nested_ldif(users) : directory_ldif(users, groups);
	fprintf(stderr, "loading %d users and %d groups into slapd...\n", users, groups);
	if (slapd_test_ca(tmp) != 0 || (dir = slapd_new(tmp)) == NULL ||
	    slapd_start(dir, &opts) != 0 || (s = authd_new(NULL)) == NULL ||
	    authd_start(s, ADMIN_PW) != 0 || (admin = authd_login(s, "admin", ADMIN_PW)) == NULL ||
	    configure(s, admin, dir, groups) != 0) {
		fprintf(stderr, "bench_ldap_sync: could not set up slapd and authd\n");
		goto out;
	}
	if (nested) {
		rc = nested_runs(s, admin) == 0 ? 0 : 1;
		goto out;
	}
	peak_rss_mb(s->pid);
	ref = ldapsearch_ms(dir);
	first = run_sync(s, admin, &sum1);
	rss1 = peak_rss_mb(s->pid);
	again = run_sync(s, admin, &sum2);
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
