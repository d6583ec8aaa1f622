/*
 * Integration tests of the authorization point (SPEC §5, §7.3, §8), through a
 * real dockerd behind authd's plugin, as the real docker CLI shows it:
 * - what each principal may do through the engine: an admin, restricted
 *   control, view only, no grant, a team's grant (SPEC §5);
 * - revocation: a deleted key, a deactivated account, a removed grant (SPEC §7.3);
 * - bodies dockerd does not forward are not allowed; fail-closed while authd
 *   is down, and back without an engine restart (SPEC §8.1);
 * - services on a single-node swarm: Secret Use and Config Use on what they
 *   reference, Node Schedule once nodes have labels (SPEC §5, §8.2);
 * - the plugin over TLS (authz.listen), as an engine on another host
 *   reaches it through a plugin spec file: the same decisions as on the
 *   socket, engines' plugin-client certificates only, no API routes, and an
 *   engine with a wrong certificate gets no decision;
 * - the plugin socket under bad input: the protocol, malformed JSON, missing
 *   fields, bad, foreign and revoked certificates, user mismatches, huge
 *   bodies, unknown routes, path tricks, absolute URIs, local requests
 *   (SPEC §8.1, §8.2);
 * - the decision API /api/authz and its refusals (SPEC §8.3), text that is
 *   not UTF-8, and the decisions counted in /metrics (SPEC §10).
 */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "checks.h"
#include "harness.h"

#define ADMIN_PW "Admin-Passw0rd-AZ"
#define USER_PW "User-Passw0rd-AZ"
#define ACCOUNTS "/enzi/v0/accounts"
#define LABEL "com.docker.ucp.access.label"
#define IMAGE "localimg:1"
#define PLUGIN_DIR "/run/docker/plugins"
#define TEST_TIMEOUT 240
/* dockerd retries an absent plugin for 30 s before it refuses the request */
#define CMD_SECONDS 90
#define MIB (1024 * 1024)

/* ---- suite state: set by the unchecked fixtures, read by tests ---- */

static char plugin[64]; /* the plugin's name: dockerd dials PLUGIN_DIR/<name>.sock */
static char plugin_sock[IT_PATH_LEN];
static struct engine *eng;

/* An account the tests act as, with a bundle made for it by the admin. */
struct principal {
	char name[64];
	char id[80];
	char dir[IT_PATH_LEN + 32]; /* the bundle, unzipped */
	char key_id[80];
};

enum { P_ADMIN, P_RC, P_VO, P_NONE, P_MEMBER, P_GONE, P_OFF, P_DEP, N_PRINCIPALS };
static struct principal people[N_PRINCIPALS];
static char team_id[80]; /* the team whose grant the member case gives and takes */

/* ---- authd's API over the harness ---- */

#define call(method, token, body, ...) call_to(srv, method, token, body, __VA_ARGS__)

static const char *base64_of_file(const char *path)
{
	struct ran r = sh(NULL, "base64 -w0 '%s'", path);

	expect_ran(r, 0);
	return r.out;
}

static const char *base64_of_text(const char *text)
{
	const char *path = fmt("%s/b64-%d.in", wd, ++nfiles);

	ck_assert_int_eq(it_write_file(path, text), 0);
	return base64_of_file(path);
}

/* ---- accounts, grants and bundles (the fixtures' setup) ---- */

static void grant(const char *subject, const char *collection, const char *role, bool on)
{
	struct reply *r = call(on ? "PUT" : "DELETE", admin, NULL, "/collectionGrants/%s/%s/%s",
			       subject, collection, role);

	expect_status(r, on ? 201 : 204);
}

static const char *collection_id(const char *path)
{
	struct reply *r = call("GET", admin, NULL, "/collectionByPath?path=%s", path);

	expect_status(r, 200);
	ck_assert_msg(jstr(r->json, "id") != NULL, "no id for %s: %s", path, r->body);
	return jstr(r->json, "id");
}

/* Downloads a bundle for p (made by the admin) and unzips it to dir. */
static void fetch_bundle(struct principal *p, const char *dir)
{
	struct bundle b =
	    fetch_bundle_at(__LINE__, srv, admin, fmt("label=authz&account=%s", p->name), dir);

	snprintf(p->dir, sizeof(p->dir), "%s", b.dir);
	snprintf(p->key_id, sizeof(p->key_id), "%s", b.key_id);
}

/*
 * A user with the default grant on its private collection, and a grant of
 * role on /Shared when role is not NULL; fills p, bundle included.
 */
static void add_user(struct principal *p, const char *name, const char *role)
{
	const char *body = jbody("{s:s, s:s, s:b, s:b}", "name", name, "password", USER_PW,
				 "isAdmin", 0, "isActive", 1);
	struct reply *r = call("POST", admin, body, ACCOUNTS);

	expect_status(r, 201);
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->id, sizeof(p->id), "%s", jstr(r->json, "id"));
	if (role != NULL)
		grant(p->id, "shared", role, true);
	fetch_bundle(p, fmt("%s/bundle-%s", suite_dir, name));
}

static void add_admin(struct principal *p)
{
	struct reply *r = call("GET", admin, NULL, ACCOUNTS "/admin");

	expect_status(r, 200);
	snprintf(p->name, sizeof(p->name), "admin");
	snprintf(p->id, sizeof(p->id), "%s", jstr(r->json, "id"));
	fetch_bundle(p, fmt("%s/bundle-admin", suite_dir));
}

/* An org with one team; the team's id. */
static const char *make_team(const char *org, const char *team)
{
	struct reply *r;

	expect_status(call("POST", admin, jbody("{s:s, s:b}", "name", org, "isOrg", 1), ACCOUNTS),
		      201);
	r = call("POST", admin, jbody("{s:s}", "name", team), ACCOUNTS "/%s/teams", org);
	expect_status(r, 201);
	ck_assert_msg(jstr(r->json, "id") != NULL, "team without id: %s", r->body);
	return jstr(r->json, "id");
}

static void stop_server(void)
{
	teardown_server();
	/* authd removes its socket when it stops; not when it was killed */
	if (plugin_sock[0] != '\0')
		unlink(plugin_sock);
}

/* ---- a controller engine behind the plugin ---- */

static const char *const tools[] = {"dockerd", "docker", "openssl", "unzip",
				    "base64",  "tar",	 "bash",    NULL};

/* A controller engine whose requests go to the plugin `plugin` first (engine.c). */
static void start_engine(struct engine *e, const char *tls)
{
	snprintf(e->plugin, sizeof(e->plugin), "%s", plugin);
	ck_assert_msg(engine_start(e, tls) == 0, "dockerd did not start; its log is above");
}

/* A docker command over the engine's own unix socket: local, so never refused. */
__attribute__((format(printf, 1, 2))) static struct ran local_docker(const char *f, ...)
{
	const char *args;
	va_list ap;

	va_start(ap, f);
	args = vfmt(f, ap);
	va_end(ap);
	return sh(NULL, "docker -H 'unix://%s' %s", eng->sock, args);
}

/* A docker command as p: its bundle's certificate over TLS to the controller engine. */
static struct ran docker_as(const struct principal *p, const char *args)
{
	return sh(NULL, "DOCKER_HOST='%s' DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH='%s' docker %s",
		  eng->host, p->dir, args);
}

/* ---- the docker fixture ---- */

static const char *plugin_config(const char *engine_socket)
{
	return fmt("{\"authz\":{\"socket\":\"%s\"%s%s%s}}", plugin_sock,
		   engine_socket ? ",\"engineSocket\":\"" : "", engine_socket ? engine_socket : "",
		   engine_socket ? "\"" : "");
}

/* Who is who: roles on /Shared as SPEC §5 names them, a team, a custom collection. */
static void add_people(void)
{
	add_admin(&people[P_ADMIN]);
	add_user(&people[P_RC], "az-rc", "restrictedcontrol");
	add_user(&people[P_VO], "az-vo", "viewonly");
	add_user(&people[P_NONE], "az-none", NULL);
	/* no grant at all: the default one on its private collection goes too */
	grant(people[P_NONE].id, collection_id("/Shared/Private/az-none"), "restrictedcontrol",
	      false);
	add_user(&people[P_MEMBER], "az-member", NULL);
	add_user(&people[P_GONE], "az-gone", "restrictedcontrol");
	add_user(&people[P_OFF], "az-off", "restrictedcontrol");
	snprintf(team_id, sizeof(team_id), "%s", make_team("az-org", "devs"));
	expect_status(call("PUT", admin, "{}", ACCOUNTS "/az-org/teams/devs/members/az-member"),
		      200);
	expect_status(call("POST", admin, jbody("{s:s, s:s}", "name", "prod", "parent_id", "root"),
			   "/collections"),
		      201);
}

/*
 * authd first (dockerd asks the plugin on its first request), then a
 * controller engine with --tlsverify and --authorization-plugin, and a
 * local image for container and service creates (there is no network).
 */
static void start_controller(void)
{
	const char *tls;

	make_wd("fixture");
	require_tools(tools);
	snprintf(plugin, sizeof(plugin), "authd-it-%d", (int)getpid());
	snprintf(plugin_sock, sizeof(plugin_sock), PLUGIN_DIR "/%s.sock", plugin);
	ck_assert_msg(mkdir("/run/docker", 0700) == 0 || errno == EEXIST,
		      "cannot make /run/docker");
	ck_assert_msg(mkdir(PLUGIN_DIR, 0700) == 0 || errno == EEXIST, "cannot make " PLUGIN_DIR);
	eng = engine_new(suite_dir);
	ck_assert_msg(eng != NULL, "cannot make an engine's dirs under %s", suite_dir);
	srv = authd_new(plugin_config(eng->sock));
	ck_assert_msg(srv != NULL, "cannot make a data dir");
	tls = fmt("%s/tls-controller", srv->dir);
	engine_tls("it-authz", "controller", tls);
	start_srv(ADMIN_PW);
	start_engine(eng, tls);
	expect_ran(sh(NULL,
		      "tar cf - --files-from /dev/null | docker -H 'unix://%s' import - " IMAGE,
		      eng->sock),
		   0);
}

static void setup_docker(void)
{
	start_controller();
	add_people();
	http_close(); /* forked tests must not share this process's connection */
	teardown_test();
}

/*
 * Networks live on as bridge interfaces of the host after their engine
 * stops; left behind, a few runs exhaust the address pools of every later
 * engine on this machine. Prune them while the engine still answers.
 */
static bool in_swarm; /* the engine is a swarm manager: leave it before pruning */

static void prune_networks(void)
{
	if (eng == NULL)
		return;
	/* a swarm holds its ingress network and docker_gwbridge until the engine leaves it */
	if (in_swarm && local_docker("swarm leave --force").code == 0)
		in_swarm = false;
	(void)local_docker("network prune -f");
}

static void teardown_docker(void)
{
	prune_networks();
	engine_free(eng);
	eng = NULL;
	stop_server();
}

/* ---- what each principal may do through the engine ---- */

/*
 * One docker command of the matrix. "%s" is a tag naming the run, so that
 * each run acts on resources of its own. probe names, over the local
 * socket, what the command made (exists when allowed) or removed (gone when allowed).
 */
struct step {
	const char *args;
	const char *probe;
	bool removes;
	/* undoes what the step made, over the local socket: a network left behind
	   outlives its engine as a bridge of the host and uses up address pools */
	const char *cleanup;
};

static const struct step steps[] = {
    {"version --format '{{.Server.Version}} %s'", NULL, false, NULL},
    {"volume ls -q --filter name=%s", NULL, false, NULL},
    {"volume create v-%s", "volume inspect v-%s", false, NULL},
    {"volume create --label " LABEL "=/Shared vs-%s", "volume inspect vs-%s", false, NULL},
    {"network create n-%s", "network inspect n-%s", false, "network rm n-%s"},
    /* someone else's volumes: the admin's private collection, a collection outside
       /Shared, and no label at all (authz.engineCollection, /Shared by default) */
    {"volume rm ap-%s", "volume inspect ap-%s", true, NULL},
    {"volume rm pr-%s", "volume inspect pr-%s", true, NULL},
    {"volume rm un-%s", "volume inspect un-%s", true, NULL},
    {"container create --name priv-%s --label " LABEL "=/Shared --privileged " IMAGE " true", NULL,
     false, NULL},
    {"container create --name bind-%s --label " LABEL "=/Shared -v /etc:/x " IMAGE " true", NULL,
     false, NULL},
    {"container create --name plain-%s --label " LABEL "=/Shared " IMAGE " true", NULL, false,
     NULL},
};
#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

/*
 * Expected answers, one letter per step: A allowed (and it works), a
 * allowed (what follows may fail for other reasons: containers), D denied
 * by the plugin. Every user keeps Restricted Control on its private
 * collection (the default), which is where unlabelled creates go, and
 * /Shared/Private/admin lies below /Shared, so a grant on /Shared covers it.
 */
#define ADMIN_ROW "AAAAAAAAaaa"
#define RC_ROW "AAAAAADADDa"
#define VO_ROW "AAADADDDDDD"
#define NONE_ROW "ADDDDDDDDDD"
#define DENY_ROW "DDDDDDDDDDD"

/* Someone else's volumes for a run's rm steps, made by the admin over the local socket. */
static void prepare_volumes(const char *tag)
{
	expect_ran(local_docker("volume create --label " LABEL "=/Shared/Private/admin ap-%s "
				"&& docker -H 'unix://%s' volume create --label " LABEL
				"=/prod pr-%s && docker -H 'unix://%s' volume create un-%s",
				tag, eng->sock, tag, eng->sock, tag),
		   0);
}

static const char *denied_by_plugin(void)
{
	return fmt("authorization denied by plugin %s: ", plugin);
}

/* Checks one step's answer; 'A' or 'D' as it was allowed or denied. */
static char check_step(int line, const struct principal *p, const char *tag, size_t i, char want)
{
	const char *args = fmt(steps[i].args, tag);
	struct ran r = docker_as(p, args);
	bool denied = strstr(r.out, denied_by_plugin()) != NULL;

	ck_assert_msg(r.code != CMD_TIMEOUT, "line %d: %s: `docker %s` timed out", line, p->name,
		      args);
	if (want == 'D') {
		ck_assert_msg(denied && r.code == 1,
			      "line %d: %s: `docker %s` should be denied by the plugin, exited "
			      "%d:\n%.1500s",
			      line, p->name, args, r.code, r.out);
		/* the reason follows, in words */
		ck_assert_msg(strlen(strstr(r.out, denied_by_plugin())) >
				  strlen(denied_by_plugin()) + 5,
			      "line %d: denial without a reason:\n%s", line, r.out);
	} else {
		ck_assert_msg(!denied && (want == 'a' || r.code == 0),
			      "line %d: %s: `docker %s` should be allowed, exited %d:\n%.1500s",
			      line, p->name, args, r.code, r.out);
	}
	if (steps[i].probe != NULL && want != 'a') {
		bool exists = local_docker(steps[i].probe, tag).code == 0;
		bool allowed = want == 'A';

		if (exists && steps[i].cleanup != NULL)
			(void)local_docker(steps[i].cleanup, tag);
		ck_assert_msg(exists == (allowed != steps[i].removes),
			      "line %d: %s: after `docker %s` the resource %s", line, p->name, args,
			      exists ? "exists" : "does not exist");
	}
	return denied ? 'D' : 'A';
}

/* Runs every step as p on resources named for tag; the outcomes as a row of A and D. */
static const char *run_matrix_at(int line, const struct principal *p, const char *tag,
				 const char *row)
{
	char *got = calloc(1, N_STEPS + 1);

	ck_assert_int_eq(strlen(row), N_STEPS);
	keep(got);
	prepare_volumes(tag);
	for (size_t i = 0; i < N_STEPS; i++)
		got[i] = check_step(line, p, tag, i, row[i]);
	return got;
}
#define run_matrix(p, row) run_matrix_at(__LINE__, p, (p)->name, row)

/* The reason of the plugin's denial of `docker args` as p holds `part`. */
static void expect_denied_at(int line, const struct principal *p, const char *args,
			     const char *part)
{
	struct ran r = docker_as(p, args);

	expect_ran_at(line, r, 1);
	expect_has_at(line, r.out, denied_by_plugin(), "the CLI's error");
	expect_has_at(line, r.out, part, "the denial's reason");
}
#define expect_denied(p, args, part) expect_denied_at(__LINE__, p, args, part)

START_TEST(test_admin_does_everything)
{
	run_matrix(&people[P_ADMIN], ADMIN_ROW);
}
END_TEST

START_TEST(test_restricted_control)
{
	const struct principal *p = &people[P_RC];
	struct ran v = local_docker("version --format '{{.Server.Version}}'");
	int major = 0;

	run_matrix(p, RC_ROW);
	/* the lookups have read the engine's version: one before 23 has no fix for the body bypass
	 */
	expect_ran(v, 0);
	if (sscanf(v.out, "%d.", &major) == 1 && major < 23)
		expect_has(read_text(srv->log), "CVE-2024-41110", "authd's log");
	/* the reasons name the missing sub-option, the operation and the collection */
	expect_denied(p, "container create --label " LABEL "=/Shared --privileged " IMAGE " true",
		      "az-rc may do Container Create in /Shared but not with Privileged");
	expect_denied(p, "container create --label " LABEL "=/Shared -v /etc:/x " IMAGE " true",
		      "not with Host Bind Mounts");
	expect_denied(p, "volume rm pr-az-rc", "az-rc has no grant for Volume Remove in /prod");
	/* a label that is not a collection path is refused, not taken as the default */
	expect_denied(p, "volume create --label " LABEL "=Shared vx-az-rc", "collection path");
	expect_denied(p, "volume create --label " LABEL "=/Nowhere vx-az-rc",
		      "no collection /Nowhere");
}
END_TEST

START_TEST(test_view_only)
{
	const struct principal *p = &people[P_VO];

	run_matrix(p, VO_ROW);
	expect_denied(p, "volume create --label " LABEL "=/Shared vs2-az-vo",
		      "az-vo has no grant for Volume Create/Attach in /Shared");
}
END_TEST

START_TEST(test_no_grant)
{
	const struct principal *p = &people[P_NONE];

	run_matrix(p, NONE_ROW);
	expect_denied(p, "volume ls", "az-none has no grant for Volume View");
	expect_denied(p, "volume create v2-az-none",
		      "no grant for Volume Create/Attach in /Shared/Private/az-none");
}
END_TEST

/* The "done when" of the team grant: members are treated exactly like a user with the grant. */
START_TEST(test_team_grant)
{
	const struct principal *p = &people[P_MEMBER];
	const char *rc, *member;
	double changed;
	struct ran r;

	expect_denied(p, "volume create --label " LABEL "=/Shared before-az-member",
		      "az-member has no grant for Volume Create/Attach in /Shared");
	grant(team_id, "shared", "restrictedcontrol", true);
	member = run_matrix(p, RC_ROW);
	/* the same commands as the user granted directly, answered the same way */
	rc = run_matrix_at(__LINE__, &people[P_RC], "az-rc-again", RC_ROW);
	ck_assert_str_eq(member, rc);
	grant(team_id, "shared", "restrictedcontrol", false);
	changed = it_now();
	r = docker_as(p, "volume create --label " LABEL "=/Shared after-az-member");
	ck_assert_msg(it_now() - changed < 1.0, "the denial took %.2f s", it_now() - changed);
	expect_ran(r, 1);
	expect_has(r.out, denied_by_plugin(), "the CLI's error after the team grant went");
}
END_TEST

START_TEST(test_key_deleted)
{
	struct principal *p = &people[P_GONE];
	double changed;
	struct ran r;

	expect_ran(docker_as(p, "volume ls"), 0);
	expect_status(call("DELETE", admin, NULL, ACCOUNTS "/%s/publicKeys/%s", p->name, p->key_id),
		      204);
	changed = it_now();
	r = docker_as(p, "volume ls");
	ck_assert_msg(it_now() - changed < 1.0, "the denial took %.2f s", it_now() - changed);
	expect_ran(r, 1);
	expect_has(r.out, denied_by_plugin(), "the CLI's error");
	expect_has(r.out, "revoked", "the denial's reason");
	run_matrix(p, DENY_ROW);
}
END_TEST

START_TEST(test_deactivated)
{
	struct principal *p = &people[P_OFF];

	expect_ran(docker_as(p, "volume ls"), 0);
	expect_status(call("PATCH", admin, jbody("{s:b}", "isActive", 0), ACCOUNTS "/%s", p->name),
		      200);
	expect_denied(p, "volume ls", "the account \"az-off\" is inactive");
	run_matrix(p, DENY_ROW);
	/* activating it again lets the same bundle in at once */
	expect_status(call("PATCH", admin, jbody("{s:b}", "isActive", 1), ACCOUNTS "/%s", p->name),
		      200);
	expect_ran(docker_as(p, "volume ls"), 0);
}
END_TEST

START_TEST(test_grant_removed)
{
	const struct principal *p = &people[P_VO];
	double changed;
	struct ran r;

	expect_ran(docker_as(p, "volume ls"), 0);
	grant(p->id, "shared", "viewonly", false);
	/* its private collection's grant still lets it list: take that one too */
	grant(p->id, collection_id("/Shared/Private/az-vo"), "restrictedcontrol", false);
	changed = it_now();
	r = docker_as(p, "volume ls");
	ck_assert_msg(it_now() - changed < 1.0, "the denial took %.2f s", it_now() - changed);
	expect_ran(r, 1);
	expect_has(r.out, "az-vo has no grant for Volume View", "the denial's reason");
	grant(p->id, "shared", "viewonly", true);
	expect_ran(docker_as(p, "volume ls"), 0);
}
END_TEST

/* json (an object) with spaces before its closing brace, to `size` bytes, in the test's dir. */
static const char *padded_file(const char *json, size_t size)
{
	const char *path = fmt("%s/padded-%d.json", wd, ++nfiles);
	size_t n = strlen(json);
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL && n > 0 && n < size, "cannot write %s", path);
	fwrite(json, 1, n - 1, f);
	for (size_t i = n; i < size; i++)
		fputc(' ', f);
	fputc('}', f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* POSTs a file to the engine's API as p with curl(1); "<status> <body>". */
static const char *engine_post(const struct principal *p, const char *path, const char *file)
{
	struct ran r = sh(NULL,
			  "curl -sS --max-time 60 --cacert '%s/ca.pem' --cert '%s/cert.pem' "
			  "--key '%s/key.pem' -H 'Content-Type: application/json' "
			  "--data-binary '@%s' -w ' %%{http_code}' 'https://127.0.0.1:%d/v1.41%s'",
			  p->dir, p->dir, p->dir, file, eng->port, path);

	expect_ran(r, 0);
	return r.out;
}

/*
 * dockerd does not forward bodies of 1 MiB or more to the plugin, but still
 * acts on them. Whatever authd cannot read, it must not allow (SPEC §8.1):
 * else a padded body carries a label or host bind options past it.
 */
START_TEST(test_unforwarded_body)
{
	const struct principal *p = &people[P_RC];
	const char *creates[][3] = {
	    {"/containers/create?name=big-priv",
	     "{\"Image\":\"" IMAGE "\",\"Labels\":{\"" LABEL "\":\"/Shared\"},"
	     "\"HostConfig\":{\"Privileged\":true}}",
	     "container inspect big-priv"},
	    {"/volumes/create",
	     "{\"Name\":\"big-bind\",\"DriverOpts\":{\"type\":\"none\",\"o\":\"bind\","
	     "\"device\":\"/etc\"}}",
	     "volume inspect big-bind"},
	    {"/volumes/create", "{\"Name\":\"big-prod\",\"Labels\":{\"" LABEL "\":\"/prod\"}}",
	     "volume inspect big-prod"},
	    {"/networks/create", "{\"Name\":\"big-net\",\"Labels\":{\"" LABEL "\":\"/prod\"}}",
	     "network inspect big-net"},
	};
	const char *passed = "";

	/* the same bodies unpadded are refused: the padding is the only trick */
	for (size_t i = 0; i < sizeof(creates) / sizeof(creates[0]); i++) {
		const char *small = padded_file(creates[i][1], strlen(creates[i][1]) + 10);

		expect_has(engine_post(p, creates[i][0], small), denied_by_plugin(), creates[i][0]);
	}
	for (size_t i = 0; i < sizeof(creates) / sizeof(creates[0]); i++) {
		const char *big = padded_file(creates[i][1], MIB + 4096);
		const char *out = engine_post(p, creates[i][0], big);

		if (strstr(out, denied_by_plugin()) == NULL ||
		    local_docker("%s", creates[i][2]).code == 0)
			passed = fmt("%s\n  POST %s %s (padded to 1 MiB + 4 KiB): %.300s", passed,
				     creates[i][0], creates[i][1], out);
	}
	ck_assert_msg(passed[0] == '\0', "az-rc got past the plugin with:%s", passed);
}
END_TEST

/* Whether process pid has exited (a zombie of another process counts: it serves nothing). */
static bool process_gone(pid_t pid)
{
	char *stat = it_read_file(fmt("/proc/%d/stat", (int)pid), NULL);
	const char *state = stat ? strrchr(stat, ')') : NULL;
	bool gone = state == NULL || state[1] == '\0' || state[2] == 'Z';

	free(stat);
	return gone;
}

/*
 * Three clients at once while authd is down: dockerd retries the plugin for
 * 30 s before it answers, so in sequence they would take three times as long.
 */
static void expect_fail_closed(void)
{
	const struct principal *rc = &people[P_RC], *adm = &people[P_ADMIN];
	struct ran r =
	    sh(NULL,
	       "as() { local n=$1 dir=$2; shift 2; DOCKER_HOST='%s' DOCKER_TLS_VERIFY=1 "
	       "DOCKER_CERT_PATH=$dir docker volume ls >$n.out 2>&1; echo $? >$n.code; }"
	       "; as rc '%s' & as admin '%s' & "
	       "{ docker -H 'unix://%s' volume ls >local.out 2>&1; echo $? >local.code; } & "
	       "wait",
	       eng->host, rc->dir, adm->dir, eng->sock);
	static const char *const who[] = {"rc", "admin", "local"};

	expect_ran(r, 0);
	for (size_t i = 0; i < 3; i++) {
		const char *code = chomp(read_text(fmt("%s/%s.code", wd, who[i])));
		const char *out = read_text(fmt("%s/%s.out", wd, who[i]));

		ck_assert_msg(strcmp(code, "0") != 0,
			      "%s's `docker volume ls` worked without authd:\n%s", who[i], out);
		expect_has(out, fmt("plugin %s", plugin), "the refusal without authd");
		expect_lacks(out, "DRIVER", "the refusal without authd");
	}
}

/* Last in its case: it stops the case's authd and starts it again from this process. */
START_TEST(test_fail_closed_and_restart)
{
	const struct principal *rc = &people[P_RC];
	double deadline;
	struct ran r;

	expect_ran(docker_as(rc, "volume ls"), 0);
	ck_assert_int_eq(kill(srv->pid, SIGTERM), 0);
	for (deadline = it_now() + 20; !process_gone(srv->pid); it_sleep_ms(20))
		ck_assert_msg(it_now() < deadline, "authd %d did not stop on SIGTERM",
			      (int)srv->pid);
	ck_assert_msg(access(plugin_sock, F_OK) != 0, "authd left %s behind", plugin_sock);
	expect_fail_closed();
	/* this process takes the server over: the fixture's process still reaps the old pid */
	srv->owner = getpid();
	srv->pid = 0;
	ck_assert_msg(authd_start(srv, ADMIN_PW) == 0, "authd did not start again; log above");
	/* dockerd dials the plugin's socket anew: no engine restart */
	for (deadline = it_now() + 10;; it_sleep_ms(200)) {
		r = docker_as(rc, "volume ls");
		if (r.code == 0 || it_now() > deadline)
			break;
	}
	expect_ran(r, 0);
	expect_denied(rc, "container create --label " LABEL "=/Shared --privileged " IMAGE " true",
		      "not with Privileged");
	ck_assert_int_eq(authd_stop(srv), 0);
}
END_TEST

/* ---- the plugin socket under bad input ---- */

static char rc_cert_b64[8192]; /* base64 of the PEM, as dockerd sends it */
static char rc_cert_pem[4096];
static char admin_cert_b64[8192];

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	char **body = ctx;
	size_t old = *body ? strlen(*body) : 0;
	char *grown = realloc(*body, old + size * n + 1);

	if (grown == NULL)
		return 0;
	memcpy(grown + old, data, size * n);
	grown[old + size * n] = '\0';
	*body = grown;
	return size * n;
}

/* Feeds a fixed buffer to libcurl without announcing its length (chunked). */
struct feed {
	const char *data;
	size_t left;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
	struct feed *f = ctx;
	size_t take = size * n < f->left ? size * n : f->left;

	memcpy(buf, f->data, take);
	f->data += take;
	f->left -= take;
	return take;
}

/* The body as the request's upload: with its length, or chunked, which hides it. */
static void set_upload(CURL *c, struct feed *feed, bool chunked)
{
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	if (chunked) {
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, feed);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, feed->data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)feed->left);
	}
}

/* Fills r from a finished transfer: status, Content-Type, body and its JSON. */
static void take_answer(struct reply *r, CURL *c)
{
	char *type = NULL;

	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type) != CURLE_OK || type == NULL)
		type = "";
	r->headers = strdup(fmt("Content-Type: %s\r\n", type));
	if (r->body == NULL)
		r->body = strdup("");
	r->len = strlen(r->body);
	r->json = json_loads(r->body, 0, NULL);
}

/* POSTs body to path on a plugin socket, with libcurl as dockerd's peer would. */
static struct reply *plugin_post_to(const char *sock, const char *path, const char *body,
				    size_t len, bool chunked)
{
	struct reply *r = keep_reply();
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	struct feed feed = {body, len};
	CURL *c = curl_easy_init();
	CURLcode rc;

	ck_assert_msg(c != NULL, "out of memory");
	snprintf(r->what, sizeof(r->what), "POST %s", path);
	if (chunked)
		hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, fmt("http://authd%s", path));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	set_upload(c, &feed, chunked);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		take_answer(r, c);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	ck_assert_msg(rc == CURLE_OK, "%s on %s: %s", r->what, sock, curl_easy_strerror(rc));
	return r;
}

static struct reply *plugin_post(const char *path, const char *body)
{
	return plugin_post_to(plugin_sock, path, body, strlen(body), false);
}

/* An AuthZReq body; certs is a JSON text (NULL: the key is absent). */
static const char *authz_req(const char *user, const char *method, const char *uri,
			     const char *body64, const char *certs)
{
	json_t *o = json_object();
	json_t *c = certs ? json_loads(certs, JSON_DECODE_ANY, NULL) : NULL;
	char *text;

	if (user != NULL)
		json_object_set_new(o, "User", json_string(user));
	json_object_set_new(o, "UserAuthNMethod", json_string("TLS"));
	if (method != NULL)
		json_object_set_new(o, "RequestMethod", json_string(method));
	if (uri != NULL)
		json_object_set_new(o, "RequestUri", json_string(uri));
	if (body64 != NULL)
		json_object_set_new(o, "RequestBody", json_string(body64));
	json_object_set_new(o, "RequestHeaders",
			    json_pack("{s:s}", "Content-Type", "application/json"));
	if (certs != NULL) {
		ck_assert_msg(c != NULL, "not JSON: %s", certs);
		json_object_set_new(o, "RequestPeerCertificates", c);
	}
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return keep(text);
}

static const char *cert_list(const char *b64)
{
	return fmt("[\"%s\"]", b64);
}

/* What the plugin answers az-pa-rc's certificate for method and uri. */
static struct reply *as_rc(const char *method, const char *uri, const char *body64)
{
	return plugin_post("/AuthZPlugin.AuthZReq",
			   authz_req("pa-rc", method, uri, body64, cert_list(rc_cert_b64)));
}

static void expect_allow_at(int line, const struct reply *r, bool allow)
{
	expect_status_at(line, r, 200);
	ck_assert_msg(jbool(r->json, "Allow") == (allow ? 1 : 0),
		      "line %d: %s: expected Allow %s: %.600s", line, r->what,
		      allow ? "true" : "false", r->body);
	ck_assert_msg(jstr(r->json, "Msg") != NULL && (allow || jstr(r->json, "Msg")[0] != '\0'),
		      "line %d: %s: a denial without Msg: %.600s", line, r->what, r->body);
}
#define expect_allow(r, allow) expect_allow_at(__LINE__, r, allow)

/* The plugin still answers its activation, with the plugin content type. */
static void expect_still_answers_at(int line)
{
	struct reply *r = plugin_post("/Plugin.Activate", "");
	char type[128];

	expect_status_at(line, r, 200);
	ck_assert_msg(jstr(r->json, "Implements.0") &&
			  strcmp(jstr(r->json, "Implements.0"), "authz") == 0,
		      "line %d: activation: %s", line, r->body);
	ck_assert_msg(reply_header(r, "Content-Type", type, sizeof(type)) &&
			  strcmp(type, "application/vnd.docker.plugins.v1.2+json") == 0,
		      "line %d: activation's Content-Type: %s", line, r->headers);
}
#define expect_still_answers() expect_still_answers_at(__LINE__)

/* A refusal: Allow false with a reason, or an HTTP error; never Allow true. Then it still answers.
 */
static void expect_refused_at(int line, const struct reply *r)
{
	if (r->status == 200)
		expect_allow_at(line, r, false);
	else
		ck_assert_msg(r->status >= 400 && r->status < 500,
			      "line %d: %s: expected a denial or a 4xx, got %ld: %.300s", line,
			      r->what, r->status, r->body);
	expect_still_answers_at(line);
}
#define expect_refused(r) expect_refused_at(__LINE__, r)

static void expect_msg_at(int line, const struct reply *r, const char *part)
{
	expect_has_at(line, jstr(r->json, "Msg"), part, "the plugin's Msg");
}
#define expect_msg(r, part) expect_msg_at(__LINE__, r, part)

/*
 * A plugin socket in the suite's dir (no engine: the requests are sent by
 * hand), a user with Restricted Control on /Shared and one with just its
 * private collection, and their bundles' certificates.
 */
static void setup_plugin(void)
{
	struct principal rc = {0}, adm = {0};

	make_wd("fixture");
	require_tools(tools);
	plugin[0] = '\0';
	snprintf(plugin_sock, sizeof(plugin_sock), "%s/plugin.sock", suite_dir);
	start_server(plugin_config(NULL), ADMIN_PW);
	add_admin(&adm);
	add_user(&rc, "pa-rc", "restrictedcontrol");
	add_user(&people[P_VO], "pa-vo", NULL);
	snprintf(people[P_RC].name, sizeof(people[P_RC].name), "%s", rc.name);
	snprintf(people[P_RC].id, sizeof(people[P_RC].id), "%s", rc.id);
	snprintf(rc_cert_pem, sizeof(rc_cert_pem), "%s", read_text(fmt("%s/cert.pem", rc.dir)));
	snprintf(rc_cert_b64, sizeof(rc_cert_b64), "%s",
		 base64_of_file(fmt("%s/cert.pem", rc.dir)));
	snprintf(admin_cert_b64, sizeof(admin_cert_b64), "%s",
		 base64_of_file(fmt("%s/cert.pem", adm.dir)));
	http_close();
	teardown_test();
}

START_TEST(test_plugin_protocol)
{
	struct reply *r = plugin_post("/AuthZPlugin.AuthZRes",
				      jbody("{s:s, s:s, s:i}", "RequestMethod", "GET", "RequestUri",
					    "/v1.41/volumes", "ResponseStatusCode", 200));

	expect_still_answers();
	expect_allow(r, true);
	/* the positive controls for what follows */
	expect_allow(as_rc("GET", "/v1.41/volumes", NULL), true);
	expect_allow(as_rc("GET", "/v1.41/containers/json?all=1", NULL), true);
	/* \u escapes are JSON: the same request spelled otherwise */
	r = plugin_post("/AuthZPlugin.AuthZReq",
			fmt("{\"User\":\"pa-r\\u0063\",\"RequestMethod\":\"\\u0047ET\","
			    "\"RequestUri\":\"\\u002fv1.41\\u002fvolumes\","
			    "\"RequestPeerCertificates\":[\"%s\"]}",
			    rc_cert_b64));
	expect_allow(r, true);
	/* no certificate: the engine's own unix socket, allowed by default (authz.allowLocal) */
	expect_allow(plugin_post("/AuthZPlugin.AuthZReq",
				 authz_req(NULL, "DELETE", "/v1.41/volumes/x", NULL, NULL)),
		     true);
	expect_error(plugin_post("/Plugin.Nothing", "{}"), 404, "NOT_FOUND", NULL);
}
END_TEST

START_TEST(test_plugin_malformed_json)
{
	static const char *const bodies[] = {
	    "{", "", "[]", "null", "\"x\"", "{\"a\":}", "{\"RequestMethod\":\"GET\"", "\x80\x81"};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		expect_refused(plugin_post("/AuthZPlugin.AuthZReq", bodies[i]));
}
END_TEST

START_TEST(test_plugin_missing_fields)
{
	const char *certs = cert_list(rc_cert_b64);
	struct reply *r;

	expect_refused(plugin_post("/AuthZPlugin.AuthZReq", "{}"));
	r = plugin_post("/AuthZPlugin.AuthZReq",
			authz_req("pa-rc", NULL, "/v1.41/volumes", NULL, certs));
	expect_refused(r);
	expect_msg(r, "method");
	expect_refused(
	    plugin_post("/AuthZPlugin.AuthZReq", authz_req("pa-rc", "GET", NULL, NULL, certs)));
	expect_refused(plugin_post("/AuthZPlugin.AuthZReq",
				   fmt("{\"User\":\"pa-rc\",\"RequestMethod\":42,\"RequestUri\":"
				       "\"/v1.41/volumes\",\"RequestPeerCertificates\":%s}",
				       certs)));
	expect_refused(
	    plugin_post("/AuthZPlugin.AuthZReq",
			fmt("{\"User\":\"pa-rc\",\"RequestMethod\":\"GET\",\"RequestUri\":"
			    "[\"/v1.41/volumes\"],\"RequestPeerCertificates\":%s}",
			    certs)));
	/* the same without a certificate, where a refusal cannot come from the identity */
	expect_refused(plugin_post("/AuthZPlugin.AuthZReq",
				   authz_req(NULL, NULL, "/v1.41/volumes", NULL, NULL)));
	expect_refused(
	    plugin_post("/AuthZPlugin.AuthZReq", authz_req(NULL, "GET", NULL, NULL, NULL)));
}
END_TEST

START_TEST(test_plugin_body_checks)
{
	const char *priv =
	    base64_of_text(jbody("{s:s, s:[s], s:{s:s}, s:{s:b}}", "Image", IMAGE, "Cmd", "true",
				 "Labels", LABEL, "/Shared", "HostConfig", "Privileged", 1));
	const char *plain =
	    base64_of_text(jbody("{s:s, s:{s:s}}", "Image", IMAGE, "Labels", LABEL, "/Shared"));
	struct reply *r;

	expect_allow(as_rc("POST", "/v1.41/containers/create", plain), true);
	r = as_rc("POST", "/v1.41/containers/create", "%%% not base64 %%%");
	expect_refused(r);
	expect_msg(r, "base64");
	expect_refused(
	    plugin_post("/AuthZPlugin.AuthZReq",
			fmt("{\"User\":\"pa-rc\",\"RequestMethod\":\"POST\",\"RequestUri\":"
			    "\"/v1.41/containers/create\",\"RequestBody\":42,"
			    "\"RequestPeerCertificates\":%s}",
			    cert_list(rc_cert_b64))));
	expect_refused(as_rc("POST", "/v1.41/containers/create", base64_of_text("not json")));
	expect_refused(as_rc("POST", "/v1.41/containers/create", base64_of_text("[1,2]")));
	r = as_rc("POST", "/v1.41/containers/create", priv);
	expect_refused(r);
	expect_msg(r, "Privileged");
	r = as_rc("POST", "/v1.41/containers/create",
		  base64_of_text(jbody("{s:s, s:{s:s}, s:{s:[s]}}", "Image", IMAGE, "Labels", LABEL,
				       "/Shared", "HostConfig", "Binds", "/etc:/x")));
	expect_refused(r);
	expect_msg(r, "Host Bind Mounts");
}
END_TEST

/*
 * Every request whose decision reads its body is refused without one (the
 * CVE-2024-41110 class: an engine that drops the body still acts on it),
 * and an image build's network mode is read from its query.
 */
START_TEST(test_plugin_bodies_required)
{
	static const char *const routes[][2] = {
	    {"POST", "/v1.41/networks/create"},
	    {"POST", "/v1.41/volumes/create"},
	    {"POST", "/v1.41/secrets/create"},
	    {"POST", "/v1.41/configs/create"},
	    {"POST", "/v1.41/plugins/pull?remote=x"},
	    {"POST", "/v1.41/plugins/x/set"},
	    {"POST", "/v1.41/swarm/init"},
	    {"POST", "/v1.41/swarm/join"},
	    {"POST", "/v1.41/swarm/update?version=1"},
	    {"POST", "/v1.41/containers/web/update"},
	    {"POST", "/v1.41/services/s1/update"},
	    {"POST", "/v1.41/nodes/n1/update"},
	    {"POST", "/v1.41/secrets/k1/update"},
	    {"POST", "/v1.41/configs/c1/update"},
	};
	const char *list = base64_of_text("[1]");
	struct reply *r;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		r = as_rc(routes[i][0], routes[i][1], NULL);
		expect_refused(r);
		expect_msg(r, "the request body is missing");
		r = as_rc(routes[i][0], routes[i][1], base64_of_text("not json"));
		expect_refused(r);
		expect_msg(r, "not valid JSON");
	}
	r = as_rc("POST", "/v1.41/networks/create", list);
	expect_refused(r);
	expect_msg(r, "not a JSON object");
	r = as_rc("POST", "/v1.41/plugins/create?name=p", base64_of_text("{}"));
	expect_refused(r);
	expect_msg(r, "archive");
	/* with their bodies, the same creates are decided on their labels */
	expect_allow(
	    as_rc("POST", "/v1.41/networks/create",
		  base64_of_text(jbody("{s:s, s:{s:s}}", "Name", "n", "Labels", LABEL, "/Shared"))),
	    true);
	r = as_rc("POST", "/v1.41/volumes/create",
		  base64_of_text(jbody("{s:s, s:{s:s}}", "Name", "v", "Labels", LABEL, "/prod")));
	expect_refused(r);
	expect_msg(r, "no collection /prod");
	/* a relabelling update needs the operation in the new collection too */
	r = as_rc("POST", "/v1.41/containers/web/update",
		  base64_of_text(jbody("{s:{s:s}}", "Labels", LABEL, "/prod")));
	expect_refused(r);
	expect_msg(r, "no collection /prod");
	expect_allow(as_rc("POST", "/v1.41/containers/web/update",
			   base64_of_text(jbody("{s:i}", "Memory", 1 << 26))),
		     true);
	r = as_rc("POST", "/v1.41/containers/web/update",
		  base64_of_text(jbody("{s:[{s:s}]}", "Devices", "PathOnHost", "/dev/sda")));
	expect_refused(r);
	expect_msg(r, "not with Devices");
	r = as_rc("POST", "/v1.41/build?t=app&networkmode=host", NULL);
	expect_refused(r);
	expect_msg(r, "not with Host Networking Mode");
	r = as_rc("POST", "/v1.41/build?networkmode=host;x", NULL);
	expect_refused(r);
	expect_msg(r, "query");
}
END_TEST

START_TEST(test_plugin_bad_certificates)
{
	const char *der;
	struct reply *r;

	expect_ran(sh(NULL, "openssl x509 -in /dev/stdin -outform DER -out cert.der <<'EOF'\n%sEOF",
		      rc_cert_pem),
		   0);
	der = base64_of_file(fmt("%s/cert.der", wd));
	r = as_rc("GET", "/v1.41/volumes", NULL); /* the control */
	expect_allow(r, true);
	r = plugin_post("/AuthZPlugin.AuthZReq",
			authz_req("pa-rc", "GET", "/v1.41/volumes", NULL,
				  cert_list(base64_of_text("garbage, not a certificate"))));
	expect_refused(r);
	expect_msg(r, "certificate");
	/* the PEM itself rather than its base64: dockerd never sends that */
	expect_refused(
	    plugin_post("/AuthZPlugin.AuthZReq", authz_req("pa-rc", "GET", "/v1.41/volumes", NULL,
							   jbody("[s]", rc_cert_pem))));
	expect_refused(
	    plugin_post("/AuthZPlugin.AuthZReq",
			authz_req("pa-rc", "GET", "/v1.41/volumes", NULL, cert_list(der))));
	expect_refused(plugin_post("/AuthZPlugin.AuthZReq",
				   authz_req("pa-rc", "GET", "/v1.41/volumes", NULL, "[42]")));
	expect_refused(
	    plugin_post("/AuthZPlugin.AuthZReq",
			authz_req("pa-rc", "GET", "/v1.41/volumes", NULL, cert_list("@@@@"))));
}
END_TEST

/*
 * RequestPeerCertificates of the wrong type is input that does not parse
 * (SPEC §8.1): it must not pass for "no certificate", which is allowed as
 * the engine's local socket.
 */
START_TEST(test_plugin_certificates_wrong_type)
{
	static const char *const lists[] = {"\"x\"", "{}", "{\"a\":\"b\"}", "42", "true"};
	const char *allowed = "";

	/* every case is tried, so that a failure lists all that were let through */
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct reply *r =
		    plugin_post("/AuthZPlugin.AuthZReq",
				authz_req("pa-rc", "DELETE", "/v1.41/volumes/x", NULL, lists[i]));

		if (jbool(r->json, "Allow") == 1)
			allowed =
			    fmt("%s\n  RequestPeerCertificates %s: %s", allowed, lists[i], r->body);
	}
	ck_assert_msg(allowed[0] == '\0', "allowed:%s", allowed);
}
END_TEST

/* Certificates with the right CN that authd never issued. */
START_TEST(test_plugin_foreign_certificates)
{
	struct reply *r;

	/* a CA of the test's own */
	expect_ran(sh(NULL, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
			    "-keyout foreign-key.pem -out foreign.pem -subj /CN=pa-rc -days 2"),
		   0);
	r = plugin_post("/AuthZPlugin.AuthZReq",
			authz_req("pa-rc", "GET", "/v1.41/volumes", NULL,
				  cert_list(base64_of_file(fmt("%s/foreign.pem", wd)))));
	expect_refused(r);
	expect_msg(r, "revoked or never issued");
	/* authd's own client CA, as a thief of its key could sign: still not an issued key */
	expect_ran(sh(NULL,
		      "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		      "-keyout forged-key.pem -subj /CN=pa-rc | openssl x509 -req -days 2 "
		      "-set_serial 4242 -CA '%s/ca/client-ca.pem' -CAkey '%s/ca/client-ca-key.pem' "
		      "-out forged.pem",
		      srv->dir, srv->dir),
		   0);
	r = plugin_post("/AuthZPlugin.AuthZReq",
			authz_req("pa-rc", "GET", "/v1.41/volumes", NULL,
				  cert_list(base64_of_file(fmt("%s/forged.pem", wd)))));
	expect_refused(r);
}
END_TEST

START_TEST(test_plugin_user_mismatch)
{
	const char *certs = cert_list(rc_cert_b64);
	struct reply *r;

	r = plugin_post("/AuthZPlugin.AuthZReq",
			authz_req("admin", "GET", "/v1.41/volumes", NULL, certs));
	expect_refused(r);
	expect_msg(r, "does not match");
	expect_refused(plugin_post("/AuthZPlugin.AuthZReq",
				   authz_req("PA-RC", "GET", "/v1.41/volumes", NULL, certs)));
	/* an admin's certificate with a user's name does not make the user an admin either */
	expect_refused(
	    plugin_post("/AuthZPlugin.AuthZReq", authz_req("pa-rc", "GET", "/v1.41/frobnicate",
							   NULL, cert_list(admin_cert_b64))));
}
END_TEST

/*
 * dockerd sets User to the certificate's CN whenever it sends one; an empty,
 * absent or non-string User does not equal the CN (SPEC §8.1).
 */
START_TEST(test_plugin_user_missing)
{
	const char *certs = cert_list(rc_cert_b64);
	const char *bodies[] = {
	    authz_req("", "GET", "/v1.41/volumes", NULL, certs),
	    authz_req(NULL, "GET", "/v1.41/volumes", NULL, certs),
	    fmt("{\"User\":42,\"RequestMethod\":\"GET\",\"RequestUri\":\"/v1.41/volumes\","
		"\"RequestPeerCertificates\":%s}",
		certs),
	};
	static const char *const what[] = {"User \"\"", "no User", "User 42"};
	const char *allowed = "";

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct reply *r = plugin_post("/AuthZPlugin.AuthZReq", bodies[i]);

		if (jbool(r->json, "Allow") == 1)
			allowed = fmt("%s\n  %s: %s", allowed, what[i], r->body);
	}
	ck_assert_msg(allowed[0] == '\0', "allowed with pa-rc's certificate:%s", allowed);
}
END_TEST

/* Over 2 MiB is refused whether the length is announced or not, and the server goes on. */
START_TEST(test_plugin_huge_body)
{
	size_t len = 3 * MIB;
	char *huge = malloc(len + 1);
	struct reply *r;

	ck_assert_ptr_nonnull(huge);
	keep(huge);
	memset(huge, 'A', len);
	memcpy(huge, "{\"RequestBody\":\"", 16);
	memcpy(huge + len - 2, "\"}", 2);
	huge[len] = '\0';
	r = plugin_post_to(plugin_sock, "/AuthZPlugin.AuthZReq", huge, len, false);
	expect_error(r, 413, "PAYLOAD_TOO_LARGE", NULL);
	expect_still_answers();
	r = plugin_post_to(plugin_sock, "/AuthZPlugin.AuthZReq", huge, len, true);
	expect_error(r, 413, "PAYLOAD_TOO_LARGE", NULL);
	expect_still_answers();
	expect_allow(as_rc("GET", "/v1.41/volumes", NULL), true);
}
END_TEST

START_TEST(test_plugin_unknown_routes)
{
	static const char *const calls[][2] = {
	    {"GET", "/v1.41/frobnicate"},
	    {"PATCH", "/v1.41/containers/json"},
	    {"GET", "/V1.41/volumes"},
	    {"BREW", "/v1.41/volumes"},
	    {"GET", "/v1.41/v1.40/volumes"},
	    {"DELETE", "/v1.41/volumes/a%2Fb"},
	    {"GET", "/v1.41/containers/x/y/json"},
	    {"get", "/v1.41/volumes"},
	};
	struct reply *r;

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		expect_refused(as_rc(calls[i][0], calls[i][1], NULL));
	r = as_rc("GET", "/v1.41/frobnicate", NULL);
	expect_msg(r, "only admins");
	/* admins may make requests authd's table does not know */
	expect_allow(
	    plugin_post("/AuthZPlugin.AuthZReq", authz_req("admin", "GET", "/v1.41/frobnicate",
							   NULL, cert_list(admin_cert_b64))),
	    true);
}
END_TEST

/* Each of these would reach /containers/json, which pa-rc may list, if taken naively. */
START_TEST(test_plugin_path_tricks)
{
	static const char *const uris[] = {
	    "/v1.41/../containers/json",
	    "/v1.41/x/../containers/json",
	    "/v1.41/%2e%2e/v1.41/containers/json",
	    "/v1.41/containers/%2E%2e/containers/json",
	    "/v1.41/./containers/json",
	    "/v1.41//containers/json",
	    "//v1.41/containers/json",
	    "/v1.41/containers/json%00",
	    "/v1.41/containers/json%zz",
	    "/v1.41/containers/json#x",
	    "containers/json",
	    "",
	    "http://docker/v1.41/../containers/json",
	    "http://docker",
	};

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		struct reply *r = as_rc("GET", uris[i], NULL);

		ck_assert_msg(jbool(r->json, "Allow") != 1, "%s was allowed: %s", uris[i], r->body);
		expect_refused(r);
	}
	/* a dot-dot trick on a create must not slip past the body check either */
	expect_refused(as_rc("POST", "/v1.41/containers/x/../create",
			     base64_of_text(jbody("{s:s, s:{s:b}}", "Image", IMAGE, "HostConfig",
						  "Privileged", 1))));
}
END_TEST

/* The absolute form is a way of writing the URI, not a trick: it is recognised. */
START_TEST(test_plugin_absolute_uris)
{
	static const char *const uris[] = {
	    "http://docker/v1.41/containers/json",
	    "http://docker/v1.41/containers/json?all=1",
	    "https://127.0.0.1:2376/v1.41/containers/json",
	    "http://docker/containers/json",
	};

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		struct reply *r = call(
		    "POST", admin,
		    jbody("{s:s, s:s, s:s}", "account", "pa-rc", "method", "GET", "uri", uris[i]),
		    "/api/authz");

		expect_allow(as_rc("GET", uris[i], NULL), true);
		expect_status(r, 200);
		ck_assert_msg(jstr(r->json, "operation") &&
				  strcmp(jstr(r->json, "operation"), "Container View") == 0,
			      "%s: %s", uris[i], r->body);
	}
}
END_TEST

/*
 * Deleting a key refuses its certificate on the next request (SPEC §7.3),
 * although the first request left the certificate in the identity cache.
 */
START_TEST(test_plugin_key_revoked)
{
	struct principal p = people[P_RC];
	const char *b64;
	double changed;
	struct reply *r;

	fetch_bundle(&p, fmt("%s/bundle", wd));
	b64 = base64_of_file(fmt("%s/cert.pem", p.dir));
	expect_allow(plugin_post("/AuthZPlugin.AuthZReq",
				 authz_req("pa-rc", "GET", "/v1.41/volumes", NULL, cert_list(b64))),
		     true);
	expect_status(call("DELETE", admin, NULL, ACCOUNTS "/pa-rc/publicKeys/%s", p.key_id), 204);
	changed = it_now();
	r = plugin_post("/AuthZPlugin.AuthZReq",
			authz_req("pa-rc", "GET", "/v1.41/volumes", NULL, cert_list(b64)));
	ck_assert_msg(it_now() - changed < 1.0, "the answer took %.2f s", it_now() - changed);
	expect_refused(r);
	expect_msg(r, "revoked");
	/* the account's other bundle is untouched */
	expect_allow(as_rc("GET", "/v1.41/volumes", NULL), true);
}
END_TEST

/* authz.allowLocal false: a request without a certificate is refused. */
START_TEST(test_plugin_local_refused)
{
	const char *sock = fmt("%s/local.sock", wd);
	const char *req = authz_req(NULL, "GET", "/v1.41/_ping", NULL, NULL);
	struct authd *s =
	    authd_new(fmt("{\"authz\":{\"socket\":\"%s\",\"allowLocal\":false}}", sock));
	struct reply *r;

	ck_assert_ptr_nonnull(s);
	ck_assert_msg(authd_start(s, ADMIN_PW) == 0, "authd did not start; its log is above");
	r = plugin_post_to(sock, "/AuthZPlugin.AuthZReq", req, strlen(req), false);
	expect_allow(r, false);
	expect_msg(r, "without a client certificate");
	ck_assert_int_eq(authd_stop(s), 0);
	authd_free(s);
}
END_TEST

/* ---- the decision API (SPEC §8.3) and the counters (SPEC §10) ---- */

static struct reply *decide(const char *token, const char *body)
{
	return call("POST", token, body, "/api/authz");
}

START_TEST(test_decision_api)
{
	const char *priv = base64_of_text(jbody("{s:s, s:{s:s}, s:{s:b}}", "Image", IMAGE, "Labels",
						LABEL, "/Shared", "HostConfig", "Privileged", 1));
	const char *user = authd_login(srv, "pa-rc", USER_PW);
	struct reply *r;

	keep((char *)user);
	r = decide(admin, jbody("{s:s, s:s, s:s}", "account", "pa-rc", "method", "GET", "uri",
				"/v1.41/volumes"));
	expect_status(r, 200);
	ck_assert_int_eq(jbool(r->json, "allow"), 1);
	ck_assert_str_eq(jstr(r->json, "account"), "pa-rc");
	ck_assert_str_eq(jstr(r->json, "operation"), "Volume View");
	r = decide(admin, jbody("{s:s, s:s, s:s, s:s}", "account", "pa-rc", "method", "POST", "uri",
				"/v1.41/containers/create", "body", priv));
	expect_status(r, 200);
	ck_assert_int_eq(jbool(r->json, "allow"), 0);
	expect_has(jstr(r->json, "msg"), "Privileged", "the decision's msg");
	ck_assert_str_eq(jstr(r->json, "operation"), "Container Create");
	ck_assert_str_eq(jstr(r->json, "collection"), "/Shared");
	/* the private collection only: nothing in /Shared */
	r = decide(admin, jbody("{s:s, s:s, s:s, s:s}", "account", "pa-vo", "method", "POST", "uri",
				"/v1.41/volumes/create", "body",
				base64_of_text(jbody("{s:s, s:{s:s}}", "Name", "x", "Labels", LABEL,
						     "/Shared"))));
	expect_status(r, 200);
	ck_assert_int_eq(jbool(r->json, "allow"), 0);
	/* by certificate PEM, as a proxy holding the client's certificate asks */
	r = decide(admin, jbody("{s:s, s:s, s:s}", "certificate", rc_cert_pem, "method", "GET",
				"uri", "/v1.41/volumes"));
	expect_status(r, 200);
	ck_assert_int_eq(jbool(r->json, "allow"), 1);
	ck_assert_str_eq(jstr(r->json, "account"), "pa-rc");
	r = decide(admin, jbody("{s:s, s:s, s:s}", "account", "nobody-here", "method", "GET", "uri",
				"/v1.41/volumes"));
	expect_status(r, 200);
	ck_assert_int_eq(jbool(r->json, "allow"), 0);
	/* admins only */
	expect_error(decide(user, jbody("{s:s, s:s, s:s}", "account", "pa-rc", "method", "GET",
					"uri", "/v1.41/volumes")),
		     403, "FORBIDDEN", NULL);
	expect_error(call("POST", NULL,
			  jbody("{s:s, s:s, s:s}", "account", "pa-rc", "method", "GET", "uri",
				"/v1.41/volumes"),
			  "/api/authz"),
		     401, "UNAUTHORIZED", NULL);
}
END_TEST

START_TEST(test_decision_api_refusals)
{
	struct reply *r;

	expect_error(decide(admin, jbody("{s:s, s:s, s:s, s:s}", "account", "pa-rc", "certificate",
					 rc_cert_pem, "method", "GET", "uri", "/v1.41/volumes")),
		     400, "INVALID_FORM", NULL);
	expect_error(decide(admin, jbody("{s:s, s:s}", "method", "GET", "uri", "/v1.41/volumes")),
		     400, "INVALID_FORM", NULL);
	expect_error(
	    decide(admin, jbody("{s:s, s:s}", "account", "pa-rc", "uri", "/v1.41/volumes")), 400,
	    "INVALID_FORM", NULL);
	expect_error(decide(admin, jbody("{s:s, s:s, s:s, s:s}", "account", "pa-rc", "method",
					 "POST", "uri", "/v1.41/volumes/create", "body", "%%%")),
		     400, "INVALID_FORM", NULL);
	expect_error(decide(admin, jbody("{s:s, s:s, s:s}", "certificate", "not a PEM", "method",
					 "GET", "uri", "/v1.41/volumes")),
		     400, "INVALID_FORM", NULL);
	expect_error(decide(admin, "{"), 400, "INVALID_JSON", NULL);
	r = decide(admin, jbody("{s:s, s:s, s:s}", "account", "pa-rc", "method", "GET", "uri",
				"/v1.41/../containers/json"));
	expect_status(r, 200);
	ck_assert_int_eq(jbool(r->json, "allow"), 0);
}
END_TEST

#define FFFD "\xef\xbf\xbd" /* U+FFFD, the replacement character */

/* s followed by n é (two bytes each). */
static const char *with_e_acute(const char *s, int n)
{
	size_t len = strlen(s);
	char *text = malloc(len + 2 * (size_t)n + 1);

	ck_assert_ptr_nonnull(text);
	memcpy(text, s, len);
	for (int i = 0; i < n; i++)
		memcpy(text + len + 2 * (size_t)i, "\xc3\xa9", 2);
	text[len + 2 * (size_t)n] = '\0';
	return keep(text);
}

/* The audit line of the decision on path, waiting for the log's next flush; NULL when none. */
static json_t *audit_decision_on(const char *path)
{
	const char *log = fmt("%s/audit.log", srv->dir);
	json_t *found = NULL;

	for (int tries = 0; tries < 30 && found == NULL; tries++) {
		char *text = it_read_file(log, NULL), *save = NULL;

		ck_assert_msg(text != NULL, "cannot read %s", log);
		for (char *l = strtok_r(text, "\n", &save); l && !found;
		     l = strtok_r(NULL, "\n", &save)) {
			json_t *o = json_loads(l, 0, NULL);

			if (jstr(o, "event") && strcmp(jstr(o, "event"), "authz") == 0 &&
			    jstr(o, "path") && strcmp(jstr(o, "path"), path) == 0)
				found = keep_json(o);
			else
				json_decref(o);
		}
		free(text);
		if (found == NULL)
			it_sleep_ms(100);
	}
	return found;
}

/*
 * A URI's percent-decoded bytes need not be UTF-8, and a long label is
 * quoted cut: the engine still gets a whole answer, and the audit log a
 * whole line, allowed or denied.
 */
START_TEST(test_plugin_text_that_is_not_utf8)
{
	struct reply *r;
	json_t *line;

	r = as_rc("GET", "/v1.41/utf8-denied/%ff", NULL);
	expect_allow(r, false);
	expect_msg(r, "(/utf8-denied/" FFFD ")");
	/* a label of 150 é is quoted up to 200 bytes, which end inside the 100th */
	r = as_rc("POST", "/v1.41/volumes/create",
		  base64_of_text(jbody("{s:s, s:{s:s}}", "Name", "x", "Labels", LABEL,
				       with_e_acute("/", 150))));
	expect_allow(r, false);
	ck_assert_str_eq(jstr(r->json, "Msg"),
			 fmt("there is no collection %s", with_e_acute("/", 99)));
	r = as_rc("POST", "/v1.41/volumes/create",
		  base64_of_text(jbody("{s:s, s:{s:s}}", "Name", "x", "Labels", LABEL,
				       with_e_acute("x", 150))));
	expect_allow(r, false);
	expect_msg(r, fmt("\"%s\" must be a collection path", with_e_acute("x", 99)));
	/* the decision API answers the same */
	r = decide(admin, jbody("{s:s, s:s, s:s}", "account", "pa-rc", "method", "GET", "uri",
				"/v1.41/utf8-denied/%ff"));
	expect_status(r, 200);
	ck_assert_int_eq(jbool(r->json, "allow"), 0);
	expect_has(jstr(r->json, "msg"), "(/utf8-denied/" FFFD ")", "the decision's msg");
	/* admins may make unknown requests: allowed, and audited in full too */
	expect_allow(plugin_post("/AuthZPlugin.AuthZReq",
				 authz_req("admin", "GET", "/v1.41/utf8-allowed/%ff", NULL,
					   cert_list(admin_cert_b64))),
		     true);
	line = audit_decision_on("/utf8-denied/" FFFD);
	ck_assert_msg(line != NULL, "no whole audit line for the denied request");
	ck_assert_int_eq(jbool(line, "allow"), 0);
	ck_assert_str_eq(jstr(line, "method"), "GET");
	expect_has(jstr(line, "reason"), "only admins", "the audit line's reason");
	line = audit_decision_on("/utf8-allowed/" FFFD);
	ck_assert_msg(line != NULL, "no whole audit line for the allowed request");
	ck_assert_int_eq(jbool(line, "allow"), 1);
	ck_assert_str_eq(jstr(line, "actor"), "admin");
	expect_still_answers();
}
END_TEST

/* authd_authz_decisions_total{outcome="...",...} from GET /metrics, over every operation. */
static long decisions(const char *outcome)
{
	struct reply *r = call("GET", admin, NULL, "/metrics");
	const char *key = fmt("\nauthd_authz_decisions_total{outcome=\"%s\",", outcome);
	long n = 0;

	expect_status(r, 200);
	expect_has(r->body, "# TYPE authd_authz_decisions_total counter\n", "/metrics");
	for (const char *at = strstr(r->body, key); at != NULL; at = strstr(at + 1, key))
		n += atol(strstr(at, "} ") + 2);
	return n;
}

START_TEST(test_metrics_count_decisions)
{
	const char *user = authd_login(srv, "pa-rc", USER_PW);
	long allowed = decisions("allow"), denied = decisions("deny");

	keep((char *)user);
	expect_allow(as_rc("GET", "/v1.41/volumes", NULL), true);
	expect_allow(as_rc("POST", "/v1.41/volumes/create",
			   base64_of_text(jbody("{s:s, s:{s:s}}", "Name", "x", "Labels", LABEL,
						"/prod-none"))),
		     false);
	expect_allow(as_rc("GET", "/v1.41/frobnicate", NULL), false);
	/* the decision API decides the same way, and is counted the same way */
	expect_status(decide(admin, jbody("{s:s, s:s, s:s}", "account", "pa-vo", "method", "POST",
					  "uri", "/v1.41/auth")),
		      200);
	ck_assert_int_eq(decisions("allow"), allowed + 1);
	ck_assert_int_eq(decisions("deny"), denied + 3);
	expect_error(call("GET", user, NULL, "/metrics"), 403, "FORBIDDEN", NULL);
}
END_TEST

/*
 * A refused certificate is a decision too (SPEC §8.2: every decision is
 * audited; §10: decisions by outcome): it must be counted and logged.
 */
START_TEST(test_identity_denials_counted)
{
	long denied = decisions("deny");
	const char *log = fmt("%s/audit.log", srv->dir);

	expect_refused(
	    plugin_post("/AuthZPlugin.AuthZReq",
			authz_req("admin", "GET", "/v1.41/volumes", NULL, cert_list(rc_cert_b64))));
	ck_assert_msg(decisions("deny") == denied + 1,
		      "authd_authz_decisions_total{outcome=\"deny\"} went from %ld to %ld", denied,
		      decisions("deny"));
	ck_assert_msg(strstr(read_text(log), "does not match") != NULL,
		      "%s has no line for the refused certificate", log);
}
END_TEST

/* ---- services: Secret Use, Config Use, Node Schedule, on a single-node swarm ---- */

#define SERVICE "service create --detach --no-resolve-image --replicas 0 "

static char node_id[64], node_host[256];

/* `docker service create` of an idle service named name, with more flags. */
static const char *service(const char *name, const char *flags)
{
	return fmt(SERVICE "--name %s %s " IMAGE " true", name, flags);
}

static bool service_exists(const char *name)
{
	return local_docker("service inspect %s", name).code == 0;
}

/* swarm's VXLAN port must be in 1024-49151; a free one keeps this swarm off others'. */
static int data_path_port(void)
{
	for (int i = 0; i < 200; i++) {
		int port = it_free_port();

		if (port > 1024 && port <= 49151)
			return port;
	}
	return -1;
}

/*
 * The controller engine made a single-node swarm manager. Its
 * docker_gwbridge gets a bridge name of its own and its ports are free
 * ones, so that engines of other tests on this machine may be swarms too.
 */
static void init_swarm(void)
{
	int port = it_free_port(), data = data_path_port();
	struct ran r;

	ck_assert_msg(port > 0 && data > 0, "no free port for the swarm");
	expect_ran(local_docker("network create --opt com.docker.network.bridge.name=azgw%d "
				"--opt com.docker.network.bridge.enable_icc=false "
				"--opt com.docker.network.bridge.enable_ip_masquerade=false "
				"docker_gwbridge",
				(int)getpid()),
		   0);
	in_swarm = true;
	expect_ran(local_docker("swarm init --advertise-addr 127.0.0.1:%d --listen-addr "
				"127.0.0.1:%d --data-path-port %d",
				port, port, data),
		   0);
	r = local_docker("node inspect self --format '{{.ID}} {{.Description.Hostname}}'");
	expect_ran(r, 0);
	ck_assert_int_eq(sscanf(r.out, "%63s %255s", node_id, node_host), 2);
}

/* Secrets and configs in /Shared, in /prod, and with no label (the engine's collection). */
static void add_secrets(void)
{
	const char *data = fmt("%s/secret.txt", wd);

	ck_assert_int_eq(it_write_file(data, "not really secret\n"), 0);
	expect_ran(local_docker("secret create --label " LABEL "=/Shared s-shared '%s'", data), 0);
	expect_ran(local_docker("secret create --label " LABEL "=/prod s-prod '%s'", data), 0);
	expect_ran(local_docker("secret create s-plain '%s'", data), 0);
	expect_ran(local_docker("config create --label " LABEL "=/Shared c-shared '%s'", data), 0);
	expect_ran(local_docker("config create --label " LABEL "=/prod c-prod '%s'", data), 0);
}

/*
 * az-rc: Restricted Control on /Shared (Secret Use and Config Use, no Node
 * Schedule); az-dep: a custom role on /Shared that may create services but
 * use no secret.
 */
static void add_swarm_people(void)
{
	struct reply *r;

	add_admin(&people[P_ADMIN]);
	add_user(&people[P_RC], "az-rc", "restrictedcontrol");
	add_user(&people[P_DEP], "az-dep", NULL);
	r = call("POST", admin,
		 "{\"name\":\"deployer\",\"operations\":{\"Service\":{\"Service Create\":[],"
		 "\"Service View\":[]},\"Secret\":{\"Secret View\":[]}}}",
		 "/roles");
	expect_status(r, 201);
	grant(people[P_DEP].id, "shared", jstr(r->json, "id"), true);
	expect_status(call("POST", admin, jbody("{s:s, s:s}", "name", "prod", "parent_id", "root"),
			   "/collections"),
		      201);
}

static void setup_swarm(void)
{
	start_controller();
	init_swarm();
	add_secrets();
	add_swarm_people();
	http_close();
	teardown_test();
}

START_TEST(test_service_secret_and_config_use)
{
	const struct principal *rc = &people[P_RC], *dep = &people[P_DEP];

	/* in /Shared, or with no label (the engine's collection, /Shared): az-rc may use them */
	expect_ran(docker_as(rc, service("sv-ok", "--secret s-shared --secret s-plain "
						  "--config c-shared")),
		   0);
	ck_assert(service_exists("sv-ok"));
	expect_denied(rc, service("sv-sp", "--secret s-prod"),
		      "the service uses the secret s-prod: az-rc has no grant for Secret Use in "
		      "/prod");
	expect_denied(rc, service("sv-cp", "--secret s-shared --config c-prod"),
		      "the service uses the config c-prod: az-rc has no grant for Config Use in "
		      "/prod");
	ck_assert(!service_exists("sv-sp") && !service_exists("sv-cp"));
	/* an update sends the whole spec: what it adds is checked like a create's */
	expect_denied(rc, "service update --detach --secret-add s-prod sv-ok",
		      "az-rc has no grant for Secret Use in /prod");
	expect_lacks(local_docker("service inspect sv-ok --format "
				  "'{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}'")
			 .out,
		     "s-prod", "sv-ok's secrets");
	expect_ran(docker_as(rc, "service update --detach --secret-rm s-plain sv-ok"), 0);
	/* Secret Use is an operation of its own: Service Create is not enough */
	expect_ran(docker_as(dep, service("sv-dep", "")), 0);
	expect_denied(dep, service("sv-dep2", "--secret s-shared"),
		      "the service uses the secret s-shared: az-dep has no grant for Secret Use in "
		      "/Shared");
	/* a grant in the secret's collection is */
	grant(rc->id, collection_id("/prod"), "restrictedcontrol", true);
	expect_ran(docker_as(rc, service("sv-sp", "--secret s-prod --config c-prod")), 0);
	grant(rc->id, collection_id("/prod"), "restrictedcontrol", false);
	expect_ran(docker_as(&people[P_ADMIN], service("sv-adm", "--secret s-prod")), 0);
}
END_TEST

/* A spec as JSON, named name, whose ContainerSpec has the members `more`. */
static const char *spec(const char *name, const char *more)
{
	return fmt("{\"Name\":\"%s\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"" IMAGE
		   "\"%s%s}}}",
		   name, more[0] ? "," : "", more);
}

/* Specs the CLI never sends, through the engine as any client may send them. */
START_TEST(test_service_uses_read_strictly)
{
	const struct principal *rc = &people[P_RC];
	static const char *const bad[][2] = {
	    {"\"Secrets\":\"s-shared\"",
	     "TaskTemplate.ContainerSpec.Secrets must be a list of objects"},
	    {"\"Secrets\":[{\"SecretID\":7}]",
	     "TaskTemplate.ContainerSpec.Secrets[].SecretID must be a string"},
	    {"\"Configs\":[{\"File\":{\"Name\":\"x\"}}]",
	     "each of TaskTemplate.ContainerSpec.Configs needs a ConfigID"},
	    {"\"Secrets\":[{\"SecretID\":\"a\",\"secretID\":\"b\"}]", "differ only in case"},
	};
	const char *many = "\"Secrets\":[", *out, *body;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		body = spec(fmt("bad-%zu", i), bad[i][0]);
		out = engine_post(rc, "/services/create", padded_file(body, strlen(body) + 1));
		expect_has(out, denied_by_plugin(), body);
		expect_has(out, bad[i][1], body);
		ck_assert(!service_exists(fmt("bad-%zu", i)));
	}
	body = fmt("{\"Name\":\"bad-c\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"" IMAGE
		   "\"},\"Placement\":{\"Constraints\":[\"node.role==worker\",1]}}}");
	expect_has(engine_post(rc, "/services/create", padded_file(body, strlen(body) + 1)),
		   "TaskTemplate.Placement.Constraints must be a list of strings", body);
	/* past the bound: a refusal that says so, not 65 lookups */
	for (int i = 0; i < 65; i++)
		many = fmt("%s%s{\"SecretName\":\"s-shared\",\"SecretID\":\"x%d\"}", many,
			   i ? "," : "", i);
	body = spec("bad-many", fmt("%s]", many));
	expect_has(engine_post(rc, "/services/create", padded_file(body, strlen(body) + 1)),
		   "TaskTemplate.ContainerSpec.Secrets has 65 entries; authd checks at most 64",
		   "65 secrets");
	ck_assert(!service_exists("bad-many"));
}
END_TEST

/* The decision API of s on account's service create of spec (JSON text), answered 200. */
static struct reply *decide_service(struct authd *s, const char *token, const char *account,
				    const char *spec_json)
{
	struct reply *r =
	    call_to(s, "POST", token,
		    jbody("{s:s, s:s, s:s, s:s}", "account", account, "method", "POST", "uri",
			  "/v1.41/services/create", "body", base64_of_text(spec_json)),
		    "/api/authz");

	expect_status(r, 200);
	return r;
}

/* The decision API names the operation and the collection that refused. */
START_TEST(test_service_uses_in_the_decision_api)
{
	struct ran id = local_docker("secret inspect s-prod --format '{{.ID}}'");
	const char *body;
	struct reply *r;

	expect_ran(id, 0);
	body = spec("d1", fmt("\"Secrets\":[{\"SecretID\":\"%s\",\"SecretName\":\"s-prod\"}]",
			      chomp(id.out)));
	r = decide_service(srv, admin, "az-rc", body);
	ck_assert_int_eq(jbool(r->json, "allow"), 0);
	ck_assert_str_eq(jstr(r->json, "operation"), "Secret Use");
	ck_assert_str_eq(jstr(r->json, "collection"), "/prod");
	expect_has(jstr(r->json, "msg"), "the service uses the secret s-prod",
		   "the decision's msg");
	/* the same spec by an account with Secret Use in /prod */
	ck_assert_int_eq(jbool(decide_service(srv, admin, "admin", body)->json, "allow"), 1);
}
END_TEST

/*
 * An engine authd cannot ask: a secret's collection is then the engine's
 * (authz.engineCollection), and a service is refused, since the nodes it
 * may be placed on cannot be known.
 */
START_TEST(test_service_without_an_engine_to_ask)
{
	const char *sock = fmt("%s/noengine.sock", wd);
	struct authd *s = authd_new(fmt("{\"authz\":{\"socket\":\"%s\",\"engineSocket\":\"%s/"
					"gone.sock\"}}",
					sock, wd));
	const char *token;
	struct reply *r;

	ck_assert_ptr_nonnull(s);
	ck_assert_msg(authd_start(s, ADMIN_PW) == 0, "authd did not start; its log is above");
	token = keep(authd_login(s, "admin", ADMIN_PW));
	expect_status(call_to(s, "POST", token,
			      jbody("{s:s, s:s, s:b, s:b}", "name", "nu", "password", USER_PW,
				    "isAdmin", 0, "isActive", 1),
			      ACCOUNTS),
		      201);
	r = decide_service(
	    s, token, "nu",
	    spec("web", "\"Secrets\":[{\"SecretID\":\"k1\",\"SecretName\":\"db\"}]"));
	ck_assert_int_eq(jbool(r->json, "allow"), 0);
	expect_has(jstr(r->json, "msg"),
		   "the service uses the secret db: nu has no grant for Secret Use in /Shared",
		   "the decision's msg");
	r = decide_service(s, token, "nu", spec("web", ""));
	ck_assert_int_eq(jbool(r->json, "allow"), 0);
	expect_has(jstr(r->json, "msg"),
		   "the swarm's nodes cannot be read from the engine (it did not answer), so Node "
		   "Schedule cannot be checked",
		   "the decision's msg");
	ck_assert_int_eq(authd_stop(s), 0);
	authd_free(s);
}
END_TEST

/* Labels the node with collection (NULL: takes the label away) and waits out authd's cache. */
static void label_node(const char *collection)
{
	double deadline = it_now() + 10;

	if (collection != NULL)
		expect_ran(
		    local_docker("node update --label-add " LABEL "=%s %s", collection, node_id),
		    0);
	else
		expect_ran(local_docker("node update --label-rm " LABEL " %s", node_id), 0);
	/* the node list is cached for 2 s: ask until az-rc's plain service is decided anew */
	for (;; it_sleep_ms(200)) {
		struct reply *r = decide_service(srv, admin, "az-rc", spec("probe", ""));

		/* denied, it names the node's collection (az-rc has no Node Schedule anywhere) */
		if (collection == NULL ? jbool(r->json, "allow") == 1
				       : jstr(r->json, "collection") &&
					     strcmp(jstr(r->json, "collection"), collection) == 0)
			return;
		ck_assert_msg(it_now() < deadline, "authd still decides on the old node label");
	}
}

/* Last in its case: it labels the node, which every later service create would need. */
START_TEST(test_node_schedule)
{
	const struct principal *rc = &people[P_RC];

	/* no node has a label: node collections are not in use, and nothing more is needed */
	expect_ran(docker_as(rc, service("ns-free", "")), 0);
	label_node("/prod");
	expect_denied(rc, service("ns-prod", ""),
		      fmt("the service may be placed on node %s: az-rc has no grant for Node "
			  "Schedule in /prod",
			  node_host));
	ck_assert(!service_exists("ns-prod"));
	/* constraints that keep it off the node need nothing there */
	expect_ran(docker_as(rc, service("ns-off1", "--constraint node.labels.zone==nowhere")), 0);
	expect_ran(docker_as(rc, service("ns-off2", fmt("--constraint 'node.id!=%s'", node_id))),
		   0);
	expect_denied(rc, service("ns-on", fmt("--constraint node.hostname==%s", node_host)),
		      "Node Schedule in /prod");
	/* and an update that lets the service onto it is refused */
	expect_denied(rc,
		      "service update --detach --constraint-rm node.labels.zone==nowhere ns-off1",
		      "keep it off that node");
	/* Scheduler in the node's collection */
	grant(rc->id, collection_id("/prod"), "scheduler", true);
	expect_ran(docker_as(rc, service("ns-prod", "")), 0);
	grant(rc->id, collection_id("/prod"), "scheduler", false);
	/* in /Shared, Restricted Control is not enough: it has no Node Schedule */
	label_node("/Shared");
	expect_denied(rc, service("ns-shared", ""),
		      "az-rc has no grant for Node Schedule in /Shared");
	grant(rc->id, "shared", "scheduler", true);
	expect_ran(docker_as(rc, service("ns-shared", "")), 0);
	grant(rc->id, "shared", "scheduler", false);
	label_node(NULL);
	expect_ran(docker_as(rc, service("ns-free2", "")), 0);
}
END_TEST

/* ---- the plugin over TLS: authz.listen, as an engine on another host reaches it ---- */

/*
 * dockerd reads plugin spec files from /etc/docker/plugins only: the suite
 * writes one per plugin, named for its pid, and removes it by its exact path.
 */
#define SPEC_DIR "/etc/docker/plugins"

static int plugin_port;			      /* authz.listen's */
static char plugin_spec[IT_PATH_LEN];	      /* the fixture engine's spec file */
static char bad_plugin[64];		      /* the plugin of an engine with a wrong certificate */
static char bad_spec[IT_PATH_LEN];	      /* its spec file */
static char plugin_tls_dir[IT_PATH_LEN + 16]; /* `authd engine-tls --plugin-client`'s files */

static void plugin_client_tls(const char *name, const char *out)
{
	char log[IT_PATH_LEN + 160];
	const char *args[] = {"engine-tls",	 "--data-dir", srv->dir,
			      "--plugin-client", "--name",     name,
			      "--out",		 out,	       NULL};
	int status;

	snprintf(log, sizeof(log), "%s/engine-tls-%s-plugin.log", suite_dir, name);
	status = authd_run_once(args, NULL, log);
	ck_assert_msg(status == 0,
		      "authd engine-tls --plugin-client exited with status %d (log %s)", status,
		      log);
}

/* The spec file of plugin `name`: authd over TLS, showing cert and key, trusting plugin-ca.pem. */
static void write_spec(const char *path, const char *name, const char *cert, const char *key)
{
	const char *text =
	    fmt("{\"Name\": \"%s\", \"Addr\": \"https://127.0.0.1:%d\", \"TLSConfig\": "
		"{\"InsecureSkipVerify\": false, \"CAFile\": \"%s/plugin-ca.pem\", "
		"\"CertFile\": \"%s\", \"KeyFile\": \"%s\"}}\n",
		name, plugin_port, plugin_tls_dir, cert, key);

	ck_assert_msg(it_write_file(path, text) == 0, "cannot write %s", path);
}

static void remove_specs(void)
{
	if (plugin_spec[0] != '\0')
		unlink(plugin_spec);
	if (bad_spec[0] != '\0')
		unlink(bad_spec);
}

/*
 * authd with authz.listen and no plugin socket, its engine's plugin-client
 * certificate, the spec file that points dockerd at authd over TLS, and a
 * controller engine that uses it; the people of the docker fixture.
 */
static void setup_tls(void)
{
	const char *tls;

	make_wd("fixture");
	require_tools(tools);
	snprintf(plugin, sizeof(plugin), "authd-it-tls-%d", (int)getpid());
	snprintf(bad_plugin, sizeof(bad_plugin), "authd-it-tlsbad-%d", (int)getpid());
	snprintf(plugin_spec, sizeof(plugin_spec), SPEC_DIR "/%s.json", plugin);
	snprintf(bad_spec, sizeof(bad_spec), SPEC_DIR "/%s.json", bad_plugin);
	plugin_sock[0] = '\0';
	ck_assert_msg(mkdir("/etc/docker", 0755) == 0 || errno == EEXIST,
		      "cannot make /etc/docker");
	ck_assert_msg(mkdir(SPEC_DIR, 0755) == 0 || errno == EEXIST, "cannot make " SPEC_DIR);
	plugin_port = it_free_port();
	ck_assert_int_gt(plugin_port, 0);
	eng = engine_new(suite_dir);
	ck_assert_msg(eng != NULL, "cannot make an engine's dirs under %s", suite_dir);
	srv = authd_new(fmt("{\"authz\":{\"listen\":\"127.0.0.1:%d\",\"engineSocket\":\"%s\"}}",
			    plugin_port, eng->sock));
	ck_assert_msg(srv != NULL, "cannot make a data dir");
	tls = fmt("%s/tls-controller", srv->dir);
	engine_tls("it-authz", "controller", tls);
	snprintf(plugin_tls_dir, sizeof(plugin_tls_dir), "%s/tls-plugin", srv->dir);
	plugin_client_tls("it-authz", plugin_tls_dir);
	start_srv(ADMIN_PW);
	write_spec(plugin_spec, plugin, fmt("%s/plugin-cert.pem", plugin_tls_dir),
		   fmt("%s/plugin-key.pem", plugin_tls_dir));
	start_engine(eng, tls);
	expect_ran(sh(NULL,
		      "tar cf - --files-from /dev/null | docker -H 'unix://%s' import - " IMAGE,
		      eng->sock),
		   0);
	add_people();
	http_close();
	teardown_test();
}

static void teardown_tls(void)
{
	teardown_docker();
	remove_specs();
}

/*
 * method path on authz.listen with a client certificate (cert NULL: none);
 * *rc is libcurl's outcome, CURLE_OK only when an answer came back.
 */
static struct reply *tls_call(const char *method, const char *path, const char *body,
			      const char *cert, const char *key, CURLcode *rc)
{
	struct reply *r = keep_reply();
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	struct feed feed = {body ? body : "", body ? strlen(body) : 0};
	CURL *c = curl_easy_init();

	ck_assert_msg(c != NULL, "out of memory");
	snprintf(r->what, sizeof(r->what), "%s %s over TLS", method, path);
	curl_easy_setopt(c, CURLOPT_URL, fmt("https://127.0.0.1:%d%s", plugin_port, path));
	curl_easy_setopt(c, CURLOPT_CAINFO, fmt("%s/plugin-ca.pem", plugin_tls_dir));
	if (cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (strcmp(method, "POST") == 0)
		set_upload(c, &feed, false);
	*rc = curl_easy_perform(c);
	if (*rc == CURLE_OK)
		take_answer(r, c);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return r;
}

/* What the engine's own certificate gets on authz.listen. */
static struct reply *as_engine(const char *method, const char *path, const char *body)
{
	CURLcode rc;
	struct reply *r = tls_call(method, path, body, fmt("%s/plugin-cert.pem", plugin_tls_dir),
				   fmt("%s/plugin-key.pem", plugin_tls_dir), &rc);

	ck_assert_msg(rc == CURLE_OK, "%s: %s", r->what, curl_easy_strerror(rc));
	return r;
}

/* A client showing cert (NULL: none) gets no answer at all: its handshake fails. */
static void expect_handshake_refused_at(int line, const char *cert, const char *key)
{
	CURLcode rc;
	struct reply *r = tls_call("POST", "/Plugin.Activate", "", cert, key, &rc);

	ck_assert_msg(rc != CURLE_OK && r->status == 0,
		      "line %d: %s with %s was answered %ld: %.300s", line, r->what,
		      cert ? cert : "no certificate", r->status, r->body ? r->body : "");
}
#define expect_handshake_refused(cert, key) expect_handshake_refused_at(__LINE__, cert, key)

/* An AuthZReq for p's bundle certificate. */
static const char *req_as(const struct principal *p, const char *method, const char *uri)
{
	return authz_req(p->name, method, uri, NULL,
			 cert_list(base64_of_file(fmt("%s/cert.pem", p->dir))));
}

START_TEST(test_tls_listener_engines_only)
{
	static const char *const api[][2] = {{"GET", "/_ping"},
					     {"GET", "/ca"},
					     {"POST", "/auth/login"},
					     {"POST", "/api/authz"},
					     {"GET", "/metrics"},
					     {"GET", ACCOUNTS},
					     {"GET", "/"}};
	const char *tls = fmt("%s/tls-controller", srv->dir);
	struct reply *r = as_engine("POST", "/Plugin.Activate", "");

	/* the engine's certificate: the plugin protocol, decided as on the socket */
	expect_status(r, 200);
	ck_assert_msg(jstr(r->json, "Implements.0") &&
			  strcmp(jstr(r->json, "Implements.0"), "authz") == 0,
		      "activation: %s", r->body);
	expect_allow(as_engine("POST", "/AuthZPlugin.AuthZReq",
			       req_as(&people[P_RC], "GET", "/v1.41/volumes")),
		     true);
	r = as_engine("POST", "/AuthZPlugin.AuthZReq",
		      req_as(&people[P_NONE], "GET", "/v1.41/volumes"));
	expect_allow(r, false);
	expect_msg(r, "az-none has no grant for Volume View");
	/* ... and nothing of the API */
	for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++)
		expect_status(
		    as_engine(api[i][0], api[i][1], strcmp(api[i][0], "POST") == 0 ? "{}" : NULL),
		    404);
	/* no certificate, bundles of both CAs, the engine's server certificate: no handshake */
	expect_handshake_refused(NULL, NULL);
	expect_handshake_refused(fmt("%s/cert.pem", people[P_RC].dir),
				 fmt("%s/key.pem", people[P_RC].dir));
	expect_handshake_refused(fmt("%s/cert.pem", people[P_ADMIN].dir),
				 fmt("%s/key.pem", people[P_ADMIN].dir));
	expect_handshake_refused(fmt("%s/server-cert.pem", tls), fmt("%s/server-key.pem", tls));
	/* the operator learns why */
	expect_has(read_text(srv->log), "authz.listen: refused the TLS handshake of 127.0.0.1",
		   "authd's log");
	expect_has(read_text(srv->log), "not an engine's plugin-client certificate", "authd's log");
}
END_TEST

/* Whether pid has exited, leaving it to be reaped (by engine_free). */
static bool exited(pid_t pid)
{
	siginfo_t info = {0};

	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == pid;
}

/*
 * An engine whose spec shows the admin's bundle certificate instead of its
 * plugin-client one gets no decision: dockerd cannot activate the plugin,
 * serves nothing meanwhile, and gives up.
 */
START_TEST(test_tls_wrong_certificate_fails_closed)
{
	const struct principal *adm = &people[P_ADMIN];
	struct engine *e = engine_new(suite_dir);
	double deadline = it_now() + 120;

	ck_assert_msg(e != NULL, "cannot make an engine's dirs");
	write_spec(bad_spec, bad_plugin, fmt("%s/cert.pem", adm->dir), fmt("%s/key.pem", adm->dir));
	snprintf(e->plugin, sizeof(e->plugin), "%s", bad_plugin);
	ck_assert_int_eq(engine_spawn(e, fmt("%s/tls-controller", srv->dir)), 0);
	while (!exited(e->pid)) {
		ck_assert_msg(it_now() < deadline,
			      "dockerd with a wrong plugin certificate still runs");
		it_sleep_ms(250);
	}
	expect_has(read_text(e->log), "failed to validate authorization plugin", "dockerd's log");
	expect_has(read_text(srv->log), "not an engine's plugin-client certificate", "authd's log");
	unlink(bad_spec);
	engine_free(e);
}
END_TEST

/* ---- suites ---- */

static Suite *authz_suite(void)
{
	Suite *s = suite_create("authz");
	TCase *tc = server_case("docker", setup_docker, teardown_docker, TEST_TIMEOUT);

	tcase_add_test(tc, test_admin_does_everything);
	tcase_add_test(tc, test_restricted_control);
	tcase_add_test(tc, test_view_only);
	tcase_add_test(tc, test_no_grant);
	tcase_add_test(tc, test_team_grant);
	tcase_add_test(tc, test_key_deleted);
	tcase_add_test(tc, test_deactivated);
	tcase_add_test(tc, test_grant_removed);
	tcase_add_test(tc, test_unforwarded_body);
	tcase_add_test(tc, test_fail_closed_and_restart); /* last: it stops authd */
	suite_add_tcase(s, tc);
	tc = server_case("swarm", setup_swarm, teardown_docker, TEST_TIMEOUT);
	tcase_add_test(tc, test_service_secret_and_config_use);
	tcase_add_test(tc, test_service_uses_read_strictly);
	tcase_add_test(tc, test_service_uses_in_the_decision_api);
	tcase_add_test(tc, test_service_without_an_engine_to_ask);
	tcase_add_test(tc, test_node_schedule); /* last: it labels the node */
	suite_add_tcase(s, tc);
	tc = server_case("plugin_tls", setup_tls, teardown_tls, TEST_TIMEOUT);
	tcase_add_test(tc, test_admin_does_everything);
	tcase_add_test(tc, test_restricted_control);
	tcase_add_test(tc, test_no_grant);
	tcase_add_test(tc, test_key_deleted);
	tcase_add_test(tc, test_deactivated);
	tcase_add_test(tc, test_tls_listener_engines_only);
	tcase_add_test(tc, test_tls_wrong_certificate_fails_closed);
	suite_add_tcase(s, tc);
	tc = server_case("plugin", setup_plugin, stop_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_plugin_protocol);
	tcase_add_test(tc, test_plugin_malformed_json);
	tcase_add_test(tc, test_plugin_missing_fields);
	tcase_add_test(tc, test_plugin_body_checks);
	tcase_add_test(tc, test_plugin_bodies_required);
	tcase_add_test(tc, test_plugin_bad_certificates);
	tcase_add_test(tc, test_plugin_certificates_wrong_type);
	tcase_add_test(tc, test_plugin_foreign_certificates);
	tcase_add_test(tc, test_plugin_user_mismatch);
	tcase_add_test(tc, test_plugin_user_missing);
	tcase_add_test(tc, test_plugin_huge_body);
	tcase_add_test(tc, test_plugin_unknown_routes);
	tcase_add_test(tc, test_plugin_path_tricks);
	tcase_add_test(tc, test_plugin_absolute_uris);
	tcase_add_test(tc, test_plugin_key_revoked);
	tcase_add_test(tc, test_plugin_local_refused);
	tcase_add_test(tc, test_decision_api);
	tcase_add_test(tc, test_decision_api_refusals);
	tcase_add_test(tc, test_plugin_text_that_is_not_utf8);
	tcase_add_test(tc, test_metrics_count_decisions);
	tcase_add_test(tc, test_identity_denials_counted);
	suite_add_tcase(s, tc);
	return s;
}

/* A failed fixture leaves its engine running: it stops before its files go. */
static void stop_engine(void)
{
	prune_networks();
	engine_free(eng);
	remove_specs();
}

int main(void)
{
	static Suite *(*const suites[])(void) = {authz_suite, NULL};

	sh_seconds = CMD_SECONDS;
	return run_suites("authd-az", suites, stop_engine);
}
