/*
 * The whole cluster: a real PostgreSQL, three real authd replicas on one
 * database sharing store.keyFile, a real haproxy configured
 * from etc/haproxy.cfg in front of their HTTPS API and their plugin
 * listeners (authz.listen), a real dockerd whose authorization plugin
 * reaches authd through haproxy over TLS (etc/authd-plugin.json), and the real
 * docker CLI with bundles. One cluster is started for all the tests:
 * - a bundle issued through replica 1 works through each replica, and its
 *   key deleted on replica 2 is refused by the engine within 1 s whichever
 *   replica decides (haproxy's admin socket picks the replica);
 * - a grant added on one replica lets the docker CLI in within 1 s on the
 *   engine deciding through another; a logout on one ends the token on all;
 * - login lockout counts failures made through every replica and haproxy;
 * - PostgreSQL stopped for 10 s under load: no 500, decisions go on from
 *   the snapshots, a replica with a low authz.maxStaleSeconds denies past
 *   it, and all converges when PostgreSQL is back;
 * - SIGKILL of a replica in a burst of writes, logins and docker CLI calls
 *   through haproxy (last: the replica stays dead): only in-flight requests
 *   fail, every acknowledged write is there, the engine goes on deciding.
 * It needs PostgreSQL, haproxy, dockerd and root, and exits 77 without them.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"
#include "engine.h"
#include "haproxy.h"
#include "pgcluster.h"

#define ADMIN_PW "Cluster-Admin-Passw0rd"
#define USER_PW "Cluster-User-Passw0rd"
#define WRONG_PW "Wrong-Passw0rd-C"
#define ACCOUNTS "/enzi/v0/accounts"
#define N HAPROXY_SERVERS
#define BOUND_S 1.0	 /* the bound: every change reaches every replica within it */
#define MAX_FAILURES 4	 /* loginThrottle.maxFailures */
#define LOCKOUT_S 3	 /* loginThrottle.lockoutSeconds */
#define LOW_STALE_S 3	 /* replica 3's authz.maxStaleSeconds */
#define PG_OUTAGE_S 10	 /* how long PostgreSQL is stopped */
#define BURST_S 5.0	 /* the kill scenario's burst */
#define KILL_AFTER_S 1.5 /* when in the burst the replica is killed */
#define TEST_TIMEOUT 180 /* doubled by CK_TIMEOUT_MULTIPLIER on the postgres entry */
#define EXIT_SKIPPED 77

static struct authd *rep[N];
static int plugin_port[N];
static struct haproxy lb;
/* haproxy's API frontend, as the harness calls a server: base and CA file */
static struct authd via;
static struct engine *eng;
static char dsn[IT_PATH_LEN];
static char fixture_dir[IT_PATH_LEN];
static char plugin_tls[IT_PATH_LEN + 16]; /* `authd engine-tls --plugin-client`'s files */
static char admin_bundle[IT_PATH_LEN + 16];

/* ---- the cluster ---- */

static const char *replica_config(int i, const char *key)
{
	json_t *c = json_pack(
	    "{s:{s:s, s:s, s:s}, s:{s:s, s:i}, s:{s:s},"
	    " s:{s:i, s:i, s:i}, s:{s:s}}",
	    "store", "driver", "postgres", "dsn", dsn, "keyFile", key, "authz", "listen",
	    fmt("127.0.0.1:%d", plugin_port[i]), "maxStaleSeconds", i == 2 ? LOW_STALE_S : 30,
	    "replica", "name", fmt("cluster-%d", i + 1), "loginThrottle", "maxFailures",
	    MAX_FAILURES, "windowSeconds", 60, "lockoutSeconds", LOCKOUT_S, "log", "level", "info");
	char *text = json_dumps(c, 0);

	json_decref(c);
	return keep(text);
}

/* `authd engine-tls` with replica 1's config: the CAs come from the store. */
static void engine_tls_from_store(const char *const *more, const char *log)
{
	const char *args[16] = {"engine-tls", "--config", rep[0]->config, "--data-dir",
				rep[0]->dir};
	int n = 5, status;

	for (; *more != NULL && n < 15; more++)
		args[n++] = *more;
	args[n] = NULL;
	status = authd_run_once(args, NULL, log);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "engine-tls: %s",
		      read_text(log));
}

static void start_replicas(void)
{
	const char *key = fmt("%s/store.key", fixture_dir);

	expect_ran(sh(NULL, "umask 077 && openssl rand -hex 32 > '%s'", key), 0);
	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	for (int i = 0; i < N; i++) {
		plugin_port[i] = it_free_port();
		rep[i] = authd_new(replica_config(i, key));
		ck_assert_msg(rep[i] != NULL, "cannot make a data dir");
		memcpy(rep[i]->dsn, dsn, sizeof(dsn));
	}
	/* the first makes the CAs and the first admin; the others read them */
	srv = rep[0];
	start_srv(ADMIN_PW);
	for (int i = 1; i < N; i++) {
		ck_assert_msg(authd_start(rep[i], ADMIN_PW) == 0, "replica %d did not start",
			      i + 1);
	}
}

/* haproxy from etc/haproxy.cfg, checking the replicas against the CA GET /ca serves. */
static void start_haproxy(void)
{
	const char *ca = fmt("%s/authd-ca.pem", fixture_dir);
	int api[N];

	ck_assert_int_eq(it_write_file(ca, call_with(rep[0], "GET", "/ca", NULL, NULL, NULL)->body),
			 0);
	for (int i = 0; i < N; i++)
		api[i] = rep[i]->port;
	ck_assert_msg(haproxy_start(&lb, fixture_dir, api, plugin_port, ca) == 0,
		      "haproxy did not start");
	memset(&via, 0, sizeof(via));
	via.port = lb.api_port;
	snprintf(via.base, sizeof(via.base), "https://127.0.0.1:%d", lb.api_port);
	snprintf(via.cainfo, sizeof(via.cainfo), "%s", ca);
}

/*
 * The plugin spec file an engine's host gets: etc/authd-plugin.json with
 * haproxy's plugin port in Addr and the test's files in TLSConfig, so that
 * the test proves the shipped file; its other keys are kept as they are.
 */
static void write_spec(const char *dir)
{
	json_t *spec = json_load_file(AUTHD_PLUGIN_JSON, 0, NULL);
	json_t *tls = json_object_get(spec, "TLSConfig");

	ck_assert_msg(tls != NULL && json_is_false(json_object_get(tls, "InsecureSkipVerify")),
		      "%s: no TLSConfig that verifies", AUTHD_PLUGIN_JSON);
	ck_assert_str_eq(json_string_value(json_object_get(spec, "Name")), "authd");
	json_object_set_new(spec, "Addr", json_string(fmt("https://127.0.0.1:%d", lb.plugin_port)));
	json_object_set_new(tls, "CAFile", json_string(fmt("%s/plugin-ca.pem", plugin_tls)));
	json_object_set_new(tls, "CertFile", json_string(fmt("%s/plugin-cert.pem", plugin_tls)));
	json_object_set_new(tls, "KeyFile", json_string(fmt("%s/plugin-key.pem", plugin_tls)));
	ck_assert_int_eq(json_dump_file(spec, fmt("%s/authd.json", dir), JSON_INDENT(2)), 0);
	json_decref(spec);
}

/*
 * The engine: its own TLS from the store's CAs, and the plugin `authd`,
 * reached through haproxy's plugin port, found by the spec file in a dir of
 * the test's that dockerd sees as /etc/docker/plugins (engine.c).
 */
static void start_engine(void)
{
	const char *tls = fmt("%s/engine-tls", fixture_dir);
	const char *server[] = {"--name",     "cluster-engine", "--san", "127.0.0.1", "--mode",
				"controller", "--out",		tls,	 NULL};
	const char *client[] = {"--plugin-client", "--name",   "cluster-engine",
				"--out",	   plugin_tls, NULL};

	snprintf(plugin_tls, sizeof(plugin_tls), "%s/plugin-tls", fixture_dir);
	engine_tls_from_store(server, fmt("%s/engine-tls.log", fixture_dir));
	engine_tls_from_store(client, fmt("%s/plugin-tls.log", fixture_dir));
	eng = engine_new(suite_dir);
	ck_assert_msg(eng != NULL, "cannot make an engine's dirs");
	snprintf(eng->plugin, sizeof(eng->plugin), "authd");
	snprintf(eng->spec_dir, sizeof(eng->spec_dir), "%s/plugins", fixture_dir);
	ck_assert_int_eq(mkdir(eng->spec_dir, 0755), 0);
	write_spec(eng->spec_dir);
	ck_assert_msg(engine_start(eng, tls) == 0, "dockerd did not start; its log is above");
}

static void setup_cluster(void)
{
	static const char *const tools[] = {"dockerd", "docker", "haproxy", "openssl",
					    "unzip",   "curl",	 "bash",    NULL};

	make_wd("fixture");
	snprintf(fixture_dir, sizeof(fixture_dir), "%s", wd);
	require_tools(tools);
	start_replicas();
	start_haproxy();
	start_engine();
	snprintf(admin_bundle, sizeof(admin_bundle), "%s/admin-bundle", fixture_dir);
	fetch_bundle_at(__LINE__, rep[0], admin, "label=cluster-admin", admin_bundle);
	teardown_test();
}

/* A replica stopped by SIGTERM exits 0 (under ASan: without a leak); a killed one is left. */
static void teardown_cluster(void)
{
	engine_free(eng);
	eng = NULL;
	haproxy_stop(&lb);
	for (int i = 0; i < N; i++) {
		int status = authd_stop(rep[i]);

		if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
			ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
				      "replica %d exited with %d: %s", i + 1, status,
				      read_text(rep[i]->log));
		if (rep[i] != srv)
			authd_free(rep[i]);
	}
	teardown_server();
	teardown_test();
}

/* ---- helpers ---- */

#define ALL_REPLICAS ((1U << N) - 1)

/* Only the replicas in mask (bit i: replica i + 1) take haproxy's connections. */
static void route(unsigned mask)
{
	ck_assert_msg(haproxy_route(&lb, NULL, mask) == 0, "haproxy's admin socket refused");
}

/* A docker command with the bundle in dir, through the engine (its decisions: haproxy's). */
static struct ran docker_with(const char *dir, const char *args)
{
	return sh(NULL, "DOCKER_HOST='%s' DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH='%s' docker %s",
		  eng->host, dir, args);
}

static bool refused(struct ran r)
{
	return r.code != 0 && strstr(r.out, "authorization denied by plugin") != NULL;
}

/*
 * Seconds from now until `docker volume ls` with the bundle in dir is
 * refused (want_refused) or allowed, the CLI's own time included; fails past
 * BOUND_S.
 */
static double cli_settles(const char *dir, bool want_refused, const char *what)
{
	double t0 = it_now(), dt;
	struct ran r;

	for (;;) {
		r = docker_with(dir, "volume ls -q");
		dt = it_now() - t0;
		if (want_refused ? refused(r) : r.code == 0)
			break;
		ck_assert_msg(want_refused ? r.code == 0 : refused(r), "%s: unexpected: %s", what,
			      r.out);
		ck_assert_msg(dt <= BOUND_S, "%s: not seen within %.1f s (%.2f s)", what, BOUND_S,
			      dt);
	}
	ck_assert_msg(dt <= BOUND_S, "%s: took %.2f s, over %.1f s", what, dt, BOUND_S);
	return dt;
}

static const char *make_user(const char *name)
{
	struct reply *r = call_with(&via, "POST", ACCOUNTS, admin,
				    jbody("{s:s, s:s}", "name", name, "password", USER_PW), NULL);

	expect_status(r, 201);
	return jstr(r->json, "id");
}

/* Seconds until GET path with token on s answers `status`, asked every 2 ms; past BOUND_S fails. */
static double status_within(struct authd *s, const char *token, const char *path, long status)
{
	double t0 = it_now();
	struct reply *r;

	while ((r = call_with(s, "GET", path, token, NULL, NULL))->status != status)
		ck_assert_msg(it_now() - t0 <= BOUND_S, "%s on %s: %ld after %.1f s", path, s->base,
			      r->status, BOUND_S);
	return it_now() - t0;
}

/* ---- a. bundle keys ---- */

START_TEST(test_key_deleted_refused_through_each_replica)
{
	for (int k = 0; k < N; k++) {
		const char *dir = fmt("%s/key-%d", wd, k + 1);
		struct bundle b;
		double dt;

		route(1U << k);
		b = fetch_bundle_at(__LINE__, rep[0], admin, fmt("label=key-%d", k + 1), dir);
		http_close();
		expect_ran(docker_with(dir, "volume ls -q"), 0);
		expect_status(call_to(rep[1], "DELETE", admin, NULL,
				      ACCOUNTS "/admin/publicKeys/%s", b.key_id),
			      204);
		dt = cli_settles(dir, true, "a deleted key");
		printf("cluster: a bundle of replica 1, its key deleted on replica 2, refused by "
		       "the engine deciding through replica %d after %.0f ms\n",
		       k + 1, dt * 1000);
		fflush(stdout);
	}
	route(ALL_REPLICAS);
}
END_TEST

/* ---- b. grants and logouts ---- */

START_TEST(test_grant_and_logout_reach_the_others)
{
	const char *id = make_user("cl-grant"), *dir = fmt("%s/grant-bundle", wd);
	struct reply *r = call_with(&via, "GET", "/collectionByPath?path=/Shared/Private/cl-grant",
				    admin, NULL, NULL);

	/* no grant at all, its private collection's default one included */
	expect_status(r, 200);
	expect_status(call_to(&via, "DELETE", admin, NULL,
			      "/collectionGrants/%s/%s/restrictedcontrol", id, jstr(r->json, "id")),
		      204);
	fetch_bundle_at(__LINE__, rep[0], admin, "label=grant&account=cl-grant", dir);
	for (int k = 0; k < N; k++) {
		int on = (k + 1) % N;
		const char *grant = fmt("/collectionGrants/%s/shared/viewonly", id);

		route(1U << k);
		ck_assert_msg(refused(docker_with(dir, "volume ls -q")),
			      "allowed before the grant");
		expect_status(call_with(rep[on], "PUT", grant, admin, NULL, NULL), 201);
		printf("cluster: a grant added on replica %d lets the docker CLI in on the engine "
		       "deciding through replica %d after %.0f ms\n",
		       on + 1, k + 1, cli_settles(dir, false, "a grant") * 1000);
		expect_status(call_with(rep[on], "DELETE", grant, admin, NULL, NULL), 204);
		printf("cluster: its removal on replica %d refuses it there after %.0f ms\n",
		       on + 1, cli_settles(dir, true, "a grant's removal") * 1000);
		fflush(stdout);
	}
	route(ALL_REPLICAS);
	http_close();

	/* a logout on each replica ends the token on the two others */
	for (int i = 0; i < N; i++) {
		const char *token = keep(authd_login(rep[i], "cl-grant", USER_PW));

		for (int j = 0; j < N; j++) /* each replica caches the token at its first use */
			expect_status(
			    call_with(rep[j], "GET", ACCOUNTS "/cl-grant", token, NULL, NULL), 200);
		expect_status(call_with(rep[i], "POST", "/auth/logout", token, NULL, NULL), 204);
		for (int j = 0; j < N; j++) {
			if (j == i)
				continue;
			printf("cluster: a logout on replica %d ends the token on replica %d after "
			       "%.1f ms\n",
			       i + 1, j + 1,
			       status_within(rep[j], token, ACCOUNTS "/cl-grant", 401) * 1000);
		}
		expect_status(call_with(&via, "GET", ACCOUNTS "/cl-grant", token, NULL, NULL), 401);
		fflush(stdout);
	}
}
END_TEST

/* ---- d. login lockout ---- */

static struct reply *login(struct authd *s, const char *name, const char *password)
{
	http_close(); /* a new connection: through haproxy, it may go to another replica */
	return call_with(s, "POST", "/auth/login", NULL,
			 jbody("{s:s, s:s}", "username", name, "password", password), NULL);
}

START_TEST(test_lockout_counts_across_replicas)
{
	struct authd *order[] = {rep[0], &via, rep[1], rep[2]};
	struct authd *all[] = {rep[0], rep[1], rep[2], &via};
	int wait = 0;

	make_user("cl-locked");
	/* one failure through each of replica 1, haproxy, replica 2 and replica 3 */
	for (int i = 0; i < MAX_FAILURES; i++)
		expect_error(login(order[i], "cl-locked", WRONG_PW), 401, "UNAUTHORIZED", NULL);
	/* the lockout is everywhere, even for the right password */
	for (int i = 0; i < N + 1; i++) {
		struct reply *r = login(all[i], "cl-locked", USER_PW);
		const char *after = header(r, "Retry-After");

		expect_error(r, 429, "TOO_MANY_REQUESTS", NULL);
		ck_assert_msg(after != NULL && atoi(after) >= 1 && atoi(after) <= LOCKOUT_S,
			      "Retry-After: %s", after ? after : "none");
		wait = atoi(after) > wait ? atoi(after) : wait;
	}
	it_sleep_ms(wait * 1000L + 1100);
	for (int i = 0; i < N + 1; i++)
		expect_status(login(all[i], "cl-locked", USER_PW), 200);
	printf("cluster: %d failures through replicas 1, 2, 3 and haproxy locked the account out "
	       "on all of them\n",
	       MAX_FAILURES);
}
END_TEST

/* ---- e. PostgreSQL stopped under load ---- */

/*
 * The engine's question for the admin's bundle (`docker volume ls`), asked
 * of replica i's plugin listener directly; req is the AuthZReq's file.
 */
static struct ran decision(int i, const char *req)
{
	return sh(NULL,
		  "curl -sS --max-time 10 --cacert '%s/plugin-ca.pem' --cert '%s/plugin-cert.pem' "
		  "--key '%s/plugin-key.pem' -H 'Content-Type: application/json' -d @'%s' "
		  "https://127.0.0.1:%d/AuthZPlugin.AuthZReq",
		  plugin_tls, plugin_tls, plugin_tls, req, plugin_port[i]);
}

/* An AuthZReq as dockerd sends it for the admin's bundle, in a file of the test's. */
static const char *admin_request(void)
{
	const char *path = fmt("%s/authz-req.json", wd);
	struct ran b64 = sh(NULL, "base64 -w0 '%s/cert.pem'", admin_bundle);

	expect_ran(b64, 0);
	ck_assert_int_eq(it_write_file(path, jbody("{s:s, s:s, s:s, s:s, s:[s]}", "User", "admin",
						   "UserAuthNMethod", "TLS", "RequestMethod", "GET",
						   "RequestUri", "/v1.41/volumes",
						   "RequestPeerCertificates", b64.out)),
			 0);
	return path;
}

/* The outage's first failed expectation, said once PostgreSQL is back (a failure there would
 * leave it stopped for the tests after). */
static char problem[600];
#define NOTE(cond, ...)                                                                            \
	do {                                                                                       \
		if (!(cond) && problem[0] == '\0')                                                 \
			snprintf(problem, sizeof(problem), __VA_ARGS__);                           \
	} while (0)

static bool allows(struct ran r)
{
	return r.code == 0 && strstr(r.out, "\"Allow\":true") != NULL;
}

/* Whether haproxy has server i of the plugin backend up (its /_ping answered 200). */
static bool plugin_server_up(int i)
{
	char status[32] = "";

	haproxy_server_stat(&lb, "authd_plugin", i, "status", status, sizeof(status));
	return strncmp(status, "UP", 2) == 0;
}

/* Statuses seen during the outage, counted: no 500 may be among them. */
struct seen {
	int ok, unavailable, other, refused_by_lb;
};

static void count(struct seen *s, const struct reply *r, bool through_lb)
{
	NOTE(r->status != 500 && (r->status != 0 || through_lb), "%s on %s: %ld %s %.300s", r->what,
	     through_lb ? "haproxy" : "a replica", r->status, r->error, r->body);
	if (r->status == 0)
		s->refused_by_lb++;
	else if (r->status < 300)
		s->ok++;
	else if (r->status == 503)
		s->unavailable++;
	else
		s->other++;
}

/* One round of load: reads and a write on every replica and through haproxy. */
static void load_round(struct seen *s, int round)
{
	struct authd *targets[] = {rep[0], rep[1], rep[2], &via};
	struct reply *r;

	for (int i = 0; i < N + 1; i++) {
		http_close();
		r = keep_reply();
		http_call(targets[i], "GET", ACCOUNTS "/admin", admin, NULL, NULL, r);
		count(s, r, i == N);
		r = keep_reply();
		http_call(
		    targets[i], "POST", ACCOUNTS, admin,
		    jbody("{s:s, s:s}", "name", fmt("cl-pg-%d-%d", round, i), "password", USER_PW),
		    NULL, r);
		count(s, r, i == N);
	}
}

START_TEST(test_postgres_stopped_under_load)
{
	struct seen seen = {0};
	int cli_ok = 0, cli_refused = 0, stale_denied = 0, round = 0;
	double t0, back, first_denial = 0;
	const char *req = admin_request();
	struct ran r;

	/* the engine's decisions go to replicas 1 and 2; the API is balanced over all three */
	route(ALL_REPLICAS);
	ck_assert_int_eq(haproxy_route(&lb, "authd_plugin", 3U), 0);
	expect_ran(docker_with(admin_bundle, "volume ls -q"), 0);
	for (int i = 0; i < N; i++)
		ck_assert_msg(allows(r = decision(i, req)), "replica %d: %s", i + 1, r.out);
	/* from before the stop: a fast shutdown takes a while, and the replicas see it begin */
	t0 = it_now();
	ck_assert_int_eq(it_pg_server_stop(), 0);
	while (it_now() - t0 < PG_OUTAGE_S) {
		double away;

		load_round(&seen, round++);
		/* replicas 1 and 2 (maxStaleSeconds 30) go on deciding from their snapshots */
		for (int i = 0; i < 2; i++) {
			away = it_now() - t0;
			r = decision(i, req);
			NOTE(allows(r), "replica %d, %.1f s into the outage: %s", i + 1, away,
			     r.out);
		}
		/* replica 3 (maxStaleSeconds 3) denies once that is past */
		away = it_now() - t0;
		r = decision(2, req);
		if (!allows(r)) {
			NOTE(strstr(r.out, "maxStaleSeconds") != NULL && away > LOW_STALE_S - 0.5,
			     "replica 3, %.1f s into the outage: %s", away, r.out);
			if (stale_denied++ == 0)
				first_denial = away;
		} else {
			/* authd counts whole seconds since its last read of the sequence */
			NOTE(away < LOW_STALE_S + 2.5,
			     "replica 3 still allows %.1f s into the outage: %s", away, r.out);
		}
		/*
		 * The engine through haproxy, which sends its decisions to replica 1
		 * or 2: their /_ping stays 200 within their maxStaleSeconds (30), so
		 * haproxy keeps them, and they allow from their snapshots.
		 */
		r = docker_with(admin_bundle, "volume ls -q");
		if (r.code == 0)
			cli_ok++;
		else
			cli_refused++;
	}
	ck_assert_int_eq(it_pg_server_start(), 0);
	back = it_now();
	printf("cluster: PostgreSQL stopped %d s: %d rounds of API calls: %d answered 2xx, %d 503, "
	       "%d other 4xx, %d refused by haproxy with no replica up, no 500; the engine's CLI "
	       "calls: %d allowed, %d refused; "
	       "replica 3 (maxStaleSeconds %d) denied from %.1f s on, %d times\n",
	       PG_OUTAGE_S, round, seen.ok, seen.unavailable, seen.other, seen.refused_by_lb,
	       cli_ok, cli_refused, LOW_STALE_S, first_denial, stale_denied);
	fflush(stdout);
	ck_assert_msg(problem[0] == '\0', "%s", problem);
	ck_assert_int_gt(stale_denied, 0);
	/* replicas 1 and 2 had a current snapshot the whole time: the engine was never refused */
	ck_assert_int_eq(cli_refused, 0);

	/* back: every replica decides, writes go through, haproxy has them all again */
	for (int i = 0; i < N; i++) {
		while (!allows(r = decision(i, req)))
			ck_assert_msg(it_now() - back < 30, "replica %d: %s", i + 1, r.out);
		while (call_with(rep[i], "POST", ACCOUNTS, admin,
				 jbody("{s:s, s:s}", "name", fmt("cl-pg-after-%d", i), "password",
				       USER_PW),
				 NULL)
			   ->status != 201)
			ck_assert_msg(it_now() - back < 30, "replica %d does not write", i + 1);
	}
	route(ALL_REPLICAS);
	printf("cluster: after PostgreSQL came back, every replica decided and wrote within %.1f "
	       "s\n",
	       it_now() - back);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			status_within(rep[j], admin, fmt(ACCOUNTS "/cl-pg-after-%d", i), 200);
	for (double until = it_now() + 10;
	     !plugin_server_up(0) || !plugin_server_up(1) || !plugin_server_up(2); it_sleep_ms(100))
		ck_assert_msg(it_now() < until, "haproxy does not have every replica up again");
	expect_ran(docker_with(admin_bundle, "volume ls -q"), 0);
}
END_TEST

/* ---- c. a replica killed in a burst ---- */

enum op { OP_WRITE, OP_LOGIN, OP_CLI, N_OPS };
static const char *const op_names[] = {"write", "login", "docker CLI"};

/* `docker volume ls` with the admin's bundle, outside the arena (the burst makes thousands). */
static int cli_without_arena(const char *out)
{
	char host[96], cert[IT_PATH_LEN + 32], home[IT_PATH_LEN + 16], config[IT_PATH_LEN + 32];
	const char *env[] = {"PATH=" CMD_PATH,	    home, config, host,
			     "DOCKER_TLS_VERIFY=1", cert, NULL};
	const char *argv[] = {"docker", "volume", "ls", "-q", NULL};

	snprintf(home, sizeof(home), "HOME=%s", wd);
	snprintf(config, sizeof(config), "DOCKER_CONFIG=%s/.docker", wd);
	snprintf(host, sizeof(host), "DOCKER_HOST=%s", eng->host);
	snprintf(cert, sizeof(cert), "DOCKER_CERT_PATH=%s", admin_bundle);
	return cmd_run(argv, env, NULL, out, 60);
}

/* One client of the burst: `op` in a loop through haproxy, one line per answer in out. */
static void burst_client(enum op op, const char *out, double until)
{
	char body[128], cli_out[IT_PATH_LEN + 16];
	FILE *f = fopen(out, "w");

	for (int i = 0; f != NULL && it_now() < until; i++) {
		double t = it_now();
		struct reply r = {0};

		/* a new connection each time, as from many clients: haproxy spreads them */
		http_close();
		if (op == OP_CLI) {
			snprintf(cli_out, sizeof(cli_out), "%s.cli-%d", out, i);
			r.status = cli_without_arena(cli_out) == 0 ? 200 : 0;
			if (r.status == 200) /* a failure's output stays, for its message */
				unlink(cli_out);
		} else if (op == OP_WRITE) {
			/* an org: a write without a password to hash, so that there are many */
			snprintf(body, sizeof(body), "{\"name\":\"cl-burst-%d\",\"isOrg\":true}",
				 i);
			http_call(&via, "POST", ACCOUNTS, admin, body, NULL, &r);
		} else {
			snprintf(body, sizeof(body), "{\"username\":\"admin\",\"password\":\"%s\"}",
				 ADMIN_PW);
			http_call(&via, "POST", "/auth/login", NULL, body, NULL, &r);
		}
		/* what went wrong, for the test's message: curl's reason or the answer */
		fprintf(f, "%d %ld %.3f %.3f %.100s\n", i, r.status, t, it_now() - t,
			r.status == 0	  ? r.error
			: r.status >= 300 ? r.body
					  : "-");
		fflush(f);
		reply_free(&r);
	}
	if (f != NULL)
		fclose(f);
	_exit(0);
}

/* Whether something accepts TCP connections on 127.0.0.1:port. */
static bool accepts(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool open = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return open;
}

/* GET path on s, outside the arena; the status. */
static long status_of(struct authd *s, const char *path)
{
	struct reply r;
	long status;

	http_call(s, "GET", path, admin, NULL, NULL, &r);
	status = r.status;
	reply_free(&r);
	return status;
}

START_TEST(test_replica_killed_in_a_burst)
{
	const int victim = 1; /* replica 2 */
	double start, killed_at, gone_after, down_after;
	char taken[32] = "";
	pid_t kids[N_OPS];
	int failed[N_OPS] = {0}, done[N_OPS] = {0}, acked = 0;

	/* the engine's connection goes to the victim: all go back in rotation, and it stays */
	route(1U << victim);
	expect_ran(docker_with(admin_bundle, "volume ls -q"), 0);
	route(ALL_REPLICAS);
	http_close();
	start = it_now();
	for (int op = 0; op < N_OPS; op++) {
		const char *out = fmt("%s/burst-%d.txt", wd, op);

		kids[op] = fork();
		ck_assert_int_ge(kids[op], 0);
		if (kids[op] == 0)
			burst_client(op, out, start + BURST_S);
	}
	it_sleep_ms((long)(KILL_AFTER_S * 1000));
	haproxy_server_stat(&lb, "authd_api", victim, "stot", taken, sizeof(taken));
	killed_at = it_now();
	ck_assert_int_eq(kill(rep[victim]->pid, SIGKILL), 0);
	/* its sockets close once the kernel has ended it: tens of ms later under ASan */
	while (accepts(rep[victim]->port))
		it_sleep_ms(2);
	gone_after = it_now() - killed_at;
	/* haproxy takes the dead replica out (its /_ping fails); the burst goes on meanwhile */
	for (char status[32] = ""; strncmp(status, "DOWN", 4) != 0; it_sleep_ms(50)) {
		haproxy_server_stat(&lb, "authd_plugin", victim, "status", status, sizeof(status));
		ck_assert_msg(it_now() - killed_at < 10, "haproxy still has replica 2: %s", status);
	}
	down_after = it_now() - killed_at;
	for (int op = 0; op < N_OPS; op++) {
		int status;

		ck_assert_int_eq(waitpid(kids[op], &status, 0), kids[op]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client %s: %d",
			      op_names[op], status);
	}
	for (int op = 0; op < N_OPS; op++) {
		FILE *f = fopen(fmt("%s/burst-%d.txt", wd, op), "r");
		int i, after_kill = 0;
		char path[128];
		long status;
		double t, took, longest = 0;
		int late = 0;
		char why[300];

		ck_assert_ptr_nonnull(f);
		while (fscanf(f, "%d %ld %lf %lf %299[^\n]", &i, &status, &t, &took, why) == 5) {
			done[op]++;
			longest = took > longest ? took : longest;
			after_kill += t > killed_at;
			if (status != (op == OP_WRITE ? 201 : 200)) {
				failed[op]++;
				late += t - killed_at > gone_after;
				printf("cluster: a %s request %.2f s after the kill failed (%ld "
				       "%s)%s\n",
				       op_names[op], t - killed_at, status, why,
				       op == OP_CLI
					   ? read_text(fmt("%s/burst-%d.txt.cli-%d", wd, op, i))
					   : "");
				fflush(stdout);
			}
			if (op != OP_WRITE || status != 201)
				continue;
			/* every acknowledged write, read back through the survivors */
			acked++;
			snprintf(path, sizeof(path), ACCOUNTS "/cl-burst-%d", i);
			for (int s = 0; s < N; s++)
				ck_assert_msg(s == victim || status_of(rep[s], path) == 200,
					      "an acknowledged write is not on replica %d: %s",
					      s + 1, path);
		}
		fclose(f);
		printf("cluster: SIGKILL of replica %d %.1f s into a %.0f s burst: %d %s requests "
		       "through haproxy, %d after the kill, %d failed, the longest took %.2f s\n",
		       victim + 1, KILL_AFTER_S, BURST_S, done[op], op_names[op], after_kill,
		       failed[op], longest);
		/* only requests it had taken before it was gone: the one in flight at the kill,
		 * and one its dying process's socket accepted meanwhile */
		ck_assert_msg(late == 0 && failed[op] <= 2,
			      "%d %s requests failed, %d begun after the replica was gone",
			      failed[op], op_names[op], late);
		ck_assert_msg(after_kill > 0, "no %s request after the kill", op_names[op]);
	}
	printf("cluster: all %d acknowledged writes are on replicas 1 and 3\n", acked);
	fflush(stdout);
	ck_assert_int_gt(acked, 0);
	printf("cluster: replica %d had taken %s API connections through haproxy when it was "
	       "killed, with the engine's; its port refused connections %.0f ms after the kill, "
	       "haproxy had it down %.1f s after\n",
	       victim + 1, taken, gone_after * 1000, down_after);
	/* the engine keeps deciding through the others */
	for (int i = 0; i < 5; i++)
		expect_ran(docker_with(admin_bundle, "volume ls -q"), 0);
}
END_TEST

static Suite *cluster_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc = server_case("three-replicas", setup_cluster, teardown_cluster, TEST_TIMEOUT);

	tcase_add_test(tc, test_key_deleted_refused_through_each_replica);
	tcase_add_test(tc, test_grant_and_logout_reach_the_others);
	tcase_add_test(tc, test_lockout_counts_across_replicas);
	tcase_add_test(tc, test_postgres_stopped_under_load);
	tcase_add_test(tc, test_replica_killed_in_a_burst); /* last: the replica stays dead */
	suite_add_tcase(s, tc);
	return s;
}

/* A failed fixture leaves its engine and haproxy running: they stop before their files go. */
static void stop_the_rest(void)
{
	engine_free(eng);
	haproxy_stop(&lb);
}

int main(void)
{
	static Suite *(*const suites[])(void) = {cluster_suite, NULL};

	if (!it_pg_wanted()) {
		printf("the cluster suite needs PostgreSQL: run it as integration_cluster_pg "
		       "(AUTHD_TEST_STORE=postgres)\n");
		return EXIT_SKIPPED;
	}
	char path[IT_PATH_LEN];

	if (!haproxy_installed() || !cmd_find("dockerd", path, sizeof(path)) || geteuid() != 0) {
		printf("the cluster suite needs haproxy, dockerd and root (for dockerd)\n");
		return EXIT_SKIPPED;
	}
	sh_seconds = 90; /* dockerd retries an absent plugin for 30 s before it refuses */
	return run_suites("authd-cluster", suites, stop_the_rest);
}
