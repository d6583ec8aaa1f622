/*
 * Benchmark (not a test): a full LDAP sync of a generated directory (100,000
 * users, 1,000 groups of 50 on average, each synced to a team), first run
 * and no-change run, timed beside ldapsearch paging the same entries from
 * the same slapd in the same run; and authd's peak resident memory. Then
 * the same on the PostgreSQL store, beside the SQLite store's figures.
 *   bench_ldap_sync [USERS]    (default 100000; groups are USERS / 100)
 * With --nested, on SQLite, a team of every user by one flat group beside a
 * team of the same users through nested groups (top > 10 > 100 groups), each
 * synced on its own:
 *   bench_ldap_sync --nested [USERS]    (default 10000)
 * It starts its own slapd, authd and PostgreSQL (the integration tests' fixtures).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_sync.h"
#include "engine.h"
#include "harness.h"
#include "pgcluster.h"
#include "slapd.h"

#define ADMIN_PW "Bench-Admin-Passw0rd"
#define SUFFIX "dc=sync,dc=example"
#define MEMBERS 50
#define TARGET_FIRST 1.5
#define TARGET_NOCHANGE 1.3
#define TARGET_RSS_MB 150
/* PostgreSQL's over SQLite's, in the same run */
#define TARGET_PG_FIRST 2.0
#define TARGET_PG_NOCHANGE 1.3
#define TARGET_NESTED 1.5 /* the nested team's sync beside the flat one's */
#define MIDS 10		  /* nested: top > mid0..9 > sub0..99 > the users */
#define SUBS 100
/* A server as an operator's: every commit flushed to disk (Debian's defaults, which
 * the tests' cluster turns off); BENCH_PG_SETTINGS replaces them. */
#define PG_SETTINGS "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
/* what is printed of the server's settings */
#define PG_SHOW                                                                                    \
	"SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name)"               \
	" FROM pg_settings WHERE name IN ('server_version', 'fsync', 'synchronous_commit',"        \
	" 'full_page_writes', 'wal_level', 'shared_buffers', 'max_wal_size', 'work_mem')"

/* One store's figures. */
struct run {
	const char *store;
	double first, again, rss1, rss2;
	char *sum1, *sum2;
};

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
	return bench_must(s, admin, "PUT", path, body, 200, NULL);
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

/* authd on the store its config names (NULL: SQLite in its data dir), configured, and the two
 * syncs; 0, or -1 (said on stderr). */
static int measure(const char *config, const struct slapd *dir, int groups, struct run *r)
{
	struct authd *s = authd_new(config);
	char *admin = NULL;
	int rc = -1;

	if (s == NULL || authd_start(s, ADMIN_PW) != 0 ||
	    (admin = authd_login(s, "admin", ADMIN_PW)) == NULL ||
	    configure(s, admin, dir, groups) != 0) {
		fprintf(stderr, "bench_ldap_sync: could not set up authd on %s\n", r->store);
		goto out;
	}
	peak_rss_mb(s->pid);
	r->first = bench_run_sync(s, admin, &r->sum1);
	r->rss1 = peak_rss_mb(s->pid);
	r->again = bench_run_sync(s, admin, &r->sum2);
	r->rss2 = peak_rss_mb(s->pid);
	if (r->first < 0 || r->again < 0)
		fprintf(stderr, "bench_ldap_sync: a sync on %s failed: %s %s\n", r->store,
			r->sum1 ? r->sum1 : "", r->sum2 ? r->sum2 : "");
	else
		rc = 0;
out:
	free(admin);
	authd_free(s);
	return rc;
}

static void print_run(const struct run *r, double ref)
{
	const char *p = strcmp(r->store, "sqlite") == 0 ? "" : "pg_";

	printf("%sfirst_sync_ms=%.0f ratio=%.2f target=%.1f %s\n  summary=%s\n", p, r->first,
	       r->first / ref, TARGET_FIRST, r->first / ref <= TARGET_FIRST ? "met" : "NOT met",
	       r->sum1);
	printf("%snochange_sync_ms=%.0f ratio=%.2f target=%.1f %s\n  summary=%s\n", p, r->again,
	       r->again / ref, TARGET_NOCHANGE,
	       r->again / ref <= TARGET_NOCHANGE ? "met" : "NOT met", r->sum2);
	printf("%speak_rss_mb first=%.1f nochange=%.1f target=%d %s\n", p, r->rss1, r->rss2,
	       TARGET_RSS_MB,
	       r->rss1 <= TARGET_RSS_MB && r->rss2 <= TARGET_RSS_MB ? "met" : "NOT met");
}

/* PostgreSQL's figures over SQLite's. */
static void print_ratios(const struct run *pg, const struct run *lite)
{
	double first = pg->first / lite->first, again = pg->again / lite->again;

	printf("pg_vs_sqlite_first=%.2f target<=%.1f %s\n", first, TARGET_PG_FIRST,
	       first <= TARGET_PG_FIRST ? "met" : "NOT met");
	printf("pg_vs_sqlite_nochange=%.2f target<=%.1f %s\n", again, TARGET_PG_NOCHANGE,
	       again <= TARGET_PG_NOCHANGE ? "met" : "NOT met");
}

/* The same on a cluster of the tests' harness with an operator's settings, stopped by pid. */
static int measure_pg(const struct slapd *dir, int groups, struct run *r)
{
	const char *settings = getenv("BENCH_PG_SETTINGS");
	char dsn[IT_PATH_LEN], *config = NULL, *shown = NULL;
	json_t *root = NULL;
	int rc = -1;

	it_pg_settings(settings && *settings ? settings : PG_SETTINGS);
	if (it_pg_start() != 0 || it_pg_database(dsn, sizeof(dsn)) != 0) {
		fprintf(stderr, "bench_ldap_sync: could not start PostgreSQL\n");
		goto out;
	}
	root = json_pack("{s:{s:s, s:s}}", "store", "driver", "postgres", "dsn", dsn);
	config = root ? json_dumps(root, JSON_COMPACT) : NULL;
	shown = it_pg_query(dsn, PG_SHOW);
	if (shown != NULL)
		shown[strcspn(shown, "\n")] = '\0';
	printf("pg_settings=%s\n", shown ? shown : "(could not be read)");
	fflush(stdout);
	rc = config ? measure(config, dir, groups, r) : -1;
out:
	it_pg_stop();
	json_decref(root);
	free(config);
	free(shown);
	return rc;
}

/* Times its runs, in one authd: the users; the flat team; the nested one. */
static int nested_runs(const struct authd *s, const char *admin)
{
	double users, flat, nested;
	char *sums[3] = {NULL, NULL, NULL};
	int rc = -1;

	if (bench_must(s, admin, "POST", "/enzi/v0/accounts/bench/teams", "{\"name\":\"flat\"}",
		       201, NULL) ||
	    bench_must(s, admin, "POST", "/enzi/v0/accounts/bench/teams", "{\"name\":\"nested\"}",
		       201, NULL))
		return -1;
	/* the users first, so that both teams' syncs do the same work besides their groups */
	users = bench_run_sync(s, admin, &sums[0]);
	flat = team_sync(s, admin, "flat", "flat", true, false)
		   ? -1
		   : bench_run_sync(s, admin, &sums[1]);
	nested = team_sync(s, admin, "flat", "flat", false, false) ||
			 team_sync(s, admin, "nested", "top", true, true)
		     ? -1
		     : bench_run_sync(s, admin, &sums[2]);
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

/* The nested runs, on a new authd on SQLite; 0, or -1 (said on stderr). */
static int measure_nested(const struct slapd *dir)
{
	struct authd *s = authd_new(NULL);
	char *admin = NULL;
	int rc = -1;

	if (s == NULL || authd_start(s, ADMIN_PW) != 0 ||
	    (admin = authd_login(s, "admin", ADMIN_PW)) == NULL || configure(s, admin, dir, 0) != 0)
		fprintf(stderr, "bench_ldap_sync: could not set up authd\n");
	else
		rc = nested_runs(s, admin);
	free(admin);
	authd_free(s);
	return rc;
}

int main(int argc, char **argv)
{
	bool nested = argc > 1 && strcmp(argv[1], "--nested") == 0;
	int users = argc > 1 + nested ? atoi(argv[1 + nested]) : nested ? 10000 : 100000, groups;
	struct slapd_opts opts = {.suffix = SUFFIX};
	char tmp[] = "/tmp/authd-bench-sync-XXXXXX", *ldif = NULL;
	struct slapd *dir = NULL;
	struct run lite = {.store = "sqlite"}, pg = {.store = "postgres"};
	double ref;
	int rc = 1;

	if (users < 100) {
		fprintf(stderr, "usage: bench_ldap_sync [--nested] [USERS >= 100]\n");
		return 2;
	}
	groups = nested ? 0 : users / 100;
	unsetenv("AUTHD_TEST_STORE"); /* each store is chosen here, both in one run */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || it_workdir_init() != 0 ||
	    mkdtemp(tmp) == NULL) {
		fprintf(stderr, "bench_ldap_sync: no temporary directory\n");
		return 1;
	}
	opts.ldif = ldif = nested ? nested_ldif(users) : directory_ldif(users, groups);
	fprintf(stderr, "loading %d users and %d groups into slapd...\n", users, groups);
	if (slapd_test_ca(tmp) != 0 || (dir = slapd_new(tmp)) == NULL ||
	    slapd_start(dir, &opts) != 0) {
		fprintf(stderr, "bench_ldap_sync: could not start slapd\n");
		goto out;
	}
	if (nested) {
		rc = measure_nested(dir) == 0 ? 0 : 1;
		goto out;
	}
	if ((ref = ldapsearch_ms(dir)) <= 0) {
		fprintf(stderr, "bench_ldap_sync: ldapsearch failed\n");
		goto out;
	}
	printf("users=%d groups=%d members_per_group=%d\n", users, groups, MEMBERS);
	printf("ldapsearch_ms=%.0f (ldapsearch -E pr=500/noprompt: the users, then the groups)\n",
	       ref);
	printf("sqlite_settings=journal_mode=WAL synchronous=NORMAL (authd's own, store/sqlite)\n");
	fflush(stdout);
	if (measure(NULL, dir, groups, &lite) != 0)
		goto out;
	print_run(&lite, ref);
	fflush(stdout);
	if (!it_pg_installed()) {
		printf("pg: not measured (Debian's postgresql is not installed)\n");
		rc = 0;
		goto out;
	}
	if (measure_pg(dir, groups, &pg) != 0)
		goto out;
	print_run(&pg, ref);
	print_ratios(&pg, &lite);
	rc = 0;
out:
	free(lite.sum1);
	free(lite.sum2);
	free(pg.sum1);
	free(pg.sum2);
	http_close();
	slapd_free(dir);
	cmd_remove_tree(tmp);
	it_workdir_remove();
	free(ldif);
	curl_global_cleanup();
	return rc;
}
