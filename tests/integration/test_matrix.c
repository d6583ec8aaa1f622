/*
 * The authorization matrix: every route of the API, as the real binary lists
 * it (`authd routes`), asked by six kinds of caller, each answer checked
 * against the status SPEC.md's rules give. A route without a row here fails.
 */
#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "checks.h"
#include "harness.h"

#define ADMIN_PW "Admin-Passw0rd-MX"
#define USER_PW "User-Passw0rd-MX"
#define TEST_TIMEOUT 180
#define JOB_SECONDS 30
#define MAX_ROUTES 200
#define ID_SIZE 64

/* The fixtures' names, which the rows' paths spell out. */
#define A "/enzi/v0/accounts"
#define ORG "mx-org"
#define TEAM "mx-team"
#define TARGET "mx-target"  /* the user that the account and key rows act on */
#define SPARE "mx-spare"    /* joins the org and the team again for each row that removes it */
#define LOGIN_AS "mx-login" /* whose name and password the login row sends */
#define COLLECTION "mx-coll"

/*
 * Valid bodies, so that a status tells of authorization and not of
 * validation. Nothing listens on port 1: every LDAP call fails at once, alike.
 */
#define LDAP_SETTINGS                                                                              \
	"{\"serverURL\":\"ldap://127.0.0.1:1\",\"timeoutSeconds\":2,\"userSearchConfigs\":"        \
	"[{\"baseDN\":\"ou=people,dc=example,dc=com\",\"usernameAttr\":\"uid\"}]}"
#define MEMBER_SYNC "{\"enableSync\":true,\"groupDN\":\"cn=devs,ou=groups,dc=example,dc=com\"}"
#define OPERATIONS "{\"Volume\":{\"Volume View\":[]}}"

/* The callers, in the order of a row's expected statuses. */
enum who { ANON, USER, ORG_ADMIN, ADMIN, DEACTIVATED, REVOKED, N_WHO };

static const char *const who_name[N_WHO] = {"anonymous", "user",	"org-admin",
					    "admin",	 "deactivated", "revoked-cert"};
/* Their accounts ("admin" is the first admin). */
static const char *const who_account[N_WHO] = {NULL,	"mx-user",  "mx-orgadmin",
					       "admin", "mx-deact", "mx-revoked"};

/* ---- suite state: set by the unchecked fixture, read by the tests ---- */

static struct {
	char token[N_WHO][128];	       /* bearer tokens; "" sends none */
	char deact_logout[128];	       /* the deactivated caller's second token, for logging out */
	char revoked_dir[IT_PATH_LEN]; /* the revoked bundle, unzipped */
	char team_id[ID_SIZE], role_id[ID_SIZE], coll_id[ID_SIZE], key_id[ID_SIZE];
	char job_id[ID_SIZE], spare_id[ID_SIZE];
} fx;

/* What `authd routes` printed. */
static struct {
	char method[16];
	char pattern[256];
} routes[MAX_ROUTES];
static int nroutes;

/* ---- the matrix ---- */

/* One request of the matrix: a row asked by one caller. */
struct cell {
	enum who who;
	const char *token; /* NULL: no Authorization header */
	const char *tmp;   /* what <tmp> stands for: the row's throwaway target */
	const char *body;  /* the body, when the row's prepare builds it */
};

struct row {
	const char *method;
	const char *pattern; /* as `authd routes` prints it */
	const char *path;    /* the request, with <placeholders> (see placeholder()) */
	const char *body;    /* NULL: none */
	/* makes what the request may destroy, before each caller's request */
	void (*prepare)(struct cell *c);
	int expect[N_WHO];
};

/*
 * Expected statuses. SPEC §3: without credentials every call but the public
 * ones is 401; so it is with the token of an account deactivated since (§5:
 * inactive accounts can do nothing, so the token proves nothing) and with a
 * bundle whose key was deleted (§7.3: it is no longer honoured). The other
 * callers follow the section each row names; where that section does not
 * say who may call, the README's choices where the contract is silent.
 */
/* clang-format off */
#define PUBLIC(s)     {s,   s,   s,   s, s,   s}
#define SIGNED_IN(s)  {401, s,   s,   s, 401, 401}
#define ORG_ADMINS(s) {401, 403, s,   s, 401, 401}
#define ADMINS(s)     {401, 403, 403, s, 401, 401}
/* clang-format on */

static void fresh_session(struct cell *c);
static void throwaway_user(struct cell *c);
static void spare_in_org(struct cell *c);
static void throwaway_team(struct cell *c);
static void spare_in_team(struct cell *c);
static void unregistered_cert(struct cell *c);
static void throwaway_key(struct cell *c);
static void throwaway_role(struct cell *c);
static void throwaway_collection(struct cell *c);
static void throwaway_grant(struct cell *c);
static void served_certificate(struct cell *c);

static const struct row rows[] = {
    /* §1, §3, §7.1, §9: what answers without credentials */
    {"GET", "/_ping", "/_ping", NULL, NULL, PUBLIC(200)},
    {"GET", "/ca", "/ca", NULL, NULL, PUBLIC(200)},
    {"GET", "/", "/", NULL, NULL, PUBLIC(200)},
    {"GET", "/web/{}", "/web/app.js", NULL, NULL, PUBLIC(200)},
    {"POST", "/auth/login", "/auth/login",
     "{\"username\":\"" LOGIN_AS "\",\"password\":\"" USER_PW "\"}", NULL, PUBLIC(200)},
    {"POST", "/auth/logout", "/auth/logout", NULL, fresh_session, SIGNED_IN(204)},

    /* §4 accounts: admins; TARGET is neither the caller nor an org it is in */
    {"GET", A, A, NULL, NULL, ADMINS(200)},
    {"POST", A, A, "{\"name\":\"<new>\",\"isOrg\":true}", NULL, ADMINS(201)},
    {"GET", A "/{}", A "/" TARGET, NULL, NULL, ADMINS(200)},
    {"PATCH", A "/{}", A "/" TARGET, "{\"fullName\":\"Matrix Target\"}", NULL, ADMINS(200)},
    {"DELETE", A "/{}", A "/<tmp>", NULL, throwaway_user, ADMINS(204)},
    {"POST", A "/{}/changePassword", A "/" TARGET "/changePassword",
     "{\"newPassword\":\"An0ther-Passw0rd-MX\"}", NULL, ADMINS(200)},
    {"GET", A "/{}/organizations", A "/" TARGET "/organizations", NULL, NULL, ADMINS(200)},

    /* §4 organizations and teams: org admins manage their org; USER is not in it */
    {"GET", A "/{}/members", A "/" ORG "/members", NULL, NULL, ORG_ADMINS(200)},
    {"GET", A "/{}/members/{}", A "/" ORG "/members/" TARGET, NULL, NULL, ORG_ADMINS(200)},
    {"PUT", A "/{}/members/{}", A "/" ORG "/members/" TARGET, "{\"isAdmin\":false}", NULL,
     ORG_ADMINS(200)},
    {"DELETE", A "/{}/members/{}", A "/" ORG "/members/<tmp>", NULL, spare_in_org, ORG_ADMINS(204)},
    {"GET", A "/{}/teams", A "/" ORG "/teams", NULL, NULL, ORG_ADMINS(200)},
    {"POST", A "/{}/teams", A "/" ORG "/teams", "{\"name\":\"<new>\"}", NULL, ORG_ADMINS(201)},
    {"GET", A "/{}/teams/{}", A "/" ORG "/teams/" TEAM, NULL, NULL, ORG_ADMINS(200)},
    {"PATCH", A "/{}/teams/{}", A "/" ORG "/teams/" TEAM, "{\"description\":\"matrix\"}", NULL,
     ORG_ADMINS(200)},
    {"DELETE", A "/{}/teams/{}", A "/" ORG "/teams/<tmp>", NULL, throwaway_team, ORG_ADMINS(204)},
    {"GET", A "/{}/teams/{}/members", A "/" ORG "/teams/" TEAM "/members", NULL, NULL,
     ORG_ADMINS(200)},
    {"GET", A "/{}/teams/{}/members/{}", A "/" ORG "/teams/" TEAM "/members/" TARGET, NULL, NULL,
     ORG_ADMINS(200)},
    {"PUT", A "/{}/teams/{}/members/{}", A "/" ORG "/teams/" TEAM "/members/" TARGET,
     "{\"isAdmin\":false}", NULL, ORG_ADMINS(200)},
    {"DELETE", A "/{}/teams/{}/members/{}", A "/" ORG "/teams/" TEAM "/members/<tmp>", NULL,
     spare_in_team, ORG_ADMINS(204)},
    {"GET", A "/{}/teams/{}/memberSyncConfig", A "/" ORG "/teams/" TEAM "/memberSyncConfig", NULL,
     NULL, ORG_ADMINS(200)},
    {"PUT", A "/{}/teams/{}/memberSyncConfig", A "/" ORG "/teams/" TEAM "/memberSyncConfig",
     MEMBER_SYNC, NULL, ORG_ADMINS(200)},
    {"GET", A "/{}/adminMemberSyncConfig", A "/" ORG "/adminMemberSyncConfig", NULL, NULL,
     ORG_ADMINS(200)},
    {"PUT", A "/{}/adminMemberSyncConfig", A "/" ORG "/adminMemberSyncConfig", MEMBER_SYNC, NULL,
     ORG_ADMINS(200)},

    /* §7.4 keys: the user itself and admins; TARGET is none of the callers */
    {"GET", A "/{}/publicKeys", A "/" TARGET "/publicKeys", NULL, NULL, ADMINS(200)},
    {"POST", A "/{}/publicKeys", A "/" TARGET "/publicKeys", NULL, unregistered_cert, ADMINS(201)},
    {"GET", A "/{}/publicKeys/{}", A "/" TARGET "/publicKeys/<key>", NULL, NULL, ADMINS(200)},
    {"PATCH", A "/{}/publicKeys/{}", A "/" TARGET "/publicKeys/<key>", "{\"label\":\"matrix\"}",
     NULL, ADMINS(200)},
    {"DELETE", A "/{}/publicKeys/{}", A "/" TARGET "/publicKeys/<tmp>", NULL, throwaway_key,
     ADMINS(204)},

    /* §7.2 bundles: each account its own (GET); admins for another account (POST) */
    {"GET", "/api/clientbundle", "/api/clientbundle?label=matrix", NULL, NULL, SIGNED_IN(200)},
    {"POST", "/api/clientbundle", "/api/clientbundle?label=matrix&account=" TARGET, NULL, NULL,
     ADMINS(200)},

    /* §5 roles and collections: anyone signed in reads, admins write */
    {"GET", "/roles", "/roles", NULL, NULL, SIGNED_IN(200)},
    {"POST", "/roles", "/roles", "{\"name\":\"<new>\",\"operations\":" OPERATIONS "}", NULL,
     ADMINS(201)},
    {"GET", "/roles/{}", "/roles/<role>", NULL, NULL, SIGNED_IN(200)},
    {"DELETE", "/roles/{}", "/roles/<tmp>", NULL, throwaway_role, ADMINS(204)},
    {"GET", "/collections", "/collections", NULL, NULL, SIGNED_IN(200)},
    {"POST", "/collections", "/collections", "{\"name\":\"<new>\",\"parent_id\":\"<coll>\"}", NULL,
     ADMINS(201)},
    {"GET", "/collections/{}", "/collections/<coll>", NULL, NULL, SIGNED_IN(200)},
    {"DELETE", "/collections/{}", "/collections/<tmp>", NULL, throwaway_collection, ADMINS(204)},
    {"GET", "/collections/{}/children", "/collections/<coll>/children", NULL, NULL, SIGNED_IN(200)},
    {"GET", "/collectionByPath", "/collectionByPath?path=/Shared/" COLLECTION, NULL, NULL,
     SIGNED_IN(200)},

    /* §5 grants and the auth config: admins */
    {"GET", "/collectionGrants", "/collectionGrants", NULL, NULL, ADMINS(200)},
    {"PUT", "/collectionGrants/{}/{}/{}", "/collectionGrants/<team-id>/<coll>/<role>", NULL, NULL,
     ADMINS(201)},
    {"DELETE", "/collectionGrants/{}/{}/{}", "/collectionGrants/<tmp>", NULL, throwaway_grant,
     ADMINS(204)},
    {"GET", "/enzi/v0/config/auth", "/enzi/v0/config/auth", NULL, NULL, ADMINS(200)},
    {"PUT", "/enzi/v0/config/auth", "/enzi/v0/config/auth",
     "{\"backend\":\"managed\",\"defaultNewUserRole\":\"restrictedcontrol\"}", NULL, ADMINS(200)},

    /* §6 LDAP settings, test login and jobs: admins */
    {"GET", "/enzi/v0/config/auth/ldap", "/enzi/v0/config/auth/ldap", NULL, NULL, ADMINS(200)},
    {"PUT", "/enzi/v0/config/auth/ldap", "/enzi/v0/config/auth/ldap", LDAP_SETTINGS, NULL,
     ADMINS(200)},
    /* the directory refuses the connection: the admin gets the login's failure, LDAP_ERROR */
    {"POST", "/enzi/v0/config/auth/ldap/tryLogin", "/enzi/v0/config/auth/ldap/tryLogin",
     "{\"username\":\"nobody\",\"password\":\"Some-Passw0rd\",\"ldapSettings\":" LDAP_SETTINGS "}",
     NULL, ADMINS(400)},
    {"POST", "/enzi/v0/jobs", "/enzi/v0/jobs", "{\"action\":\"ldap-sync\",\"dryRun\":true}", NULL,
     ADMINS(202)},
    {"GET", "/enzi/v0/jobs", "/enzi/v0/jobs", NULL, NULL, ADMINS(200)},
    {"GET", "/enzi/v0/jobs/{}", "/enzi/v0/jobs/<job>", NULL, NULL, ADMINS(200)},
    {"GET", "/enzi/v0/jobs/{}/logs", "/enzi/v0/jobs/<job>/logs", NULL, NULL, ADMINS(200)},
    /* the job has ended: the admin is let through to the conflict */
    {"POST", "/enzi/v0/jobs/{}/cancel", "/enzi/v0/jobs/<job>/cancel", NULL, NULL, ADMINS(409)},
    {"GET", "/api/ucp/config/auth/ldap", "/api/ucp/config/auth/ldap", NULL, NULL, ADMINS(200)},
    {"PUT", "/api/ucp/config/auth/ldap", "/api/ucp/config/auth/ldap", LDAP_SETTINGS, NULL,
     ADMINS(200)},

    /* §8.3, §10, §7.5: the decision API, metrics and authd's certificate: admins */
    {"POST", "/api/authz", "/api/authz",
     "{\"account\":\"" TARGET "\",\"method\":\"GET\",\"uri\":\"/v1.41/_ping\"}", NULL, ADMINS(200)},
    {"GET", "/metrics", "/metrics", NULL, NULL, ADMINS(200)},
    {"GET", "/api/audit", "/api/audit?limit=5&type=login.", NULL, NULL, ADMINS(200)},
    {"GET", "/api/cluster", "/api/cluster", NULL, NULL, ADMINS(200)},
    {"GET", "/api/config/certs", "/api/config/certs", NULL, NULL, ADMINS(200)},
    {"PUT", "/api/config/certs", "/api/config/certs", NULL, served_certificate, ADMINS(200)},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* ---- authd over the harness ---- */

/* An admin's request, which must answer `status`. */
__attribute__((format(printf, 4, 5))) static struct reply *
admin_call(const char *method, const char *body, long status, const char *f, ...)
{
	struct reply *r;
	const char *path;
	va_list ap;

	va_start(ap, f);
	path = vfmt(f, ap);
	va_end(ap);
	r = call_with(srv, method, path, admin, body, NULL);
	expect_status(r, status);
	return r;
}

static const char *id_of(const struct reply *r)
{
	const char *id = jstr(r->json, "id");

	ck_assert_msg(id != NULL && strlen(id) < ID_SIZE, "%s: no id in %s", r->what, r->body);
	return id;
}

static const char *login_as(const char *name, const char *password)
{
	char *token = authd_login(srv, name, password);

	ck_assert_msg(token != NULL, "%s cannot log in", name);
	return keep(token);
}

/* A user with USER_PW; its id. */
static const char *create_user(const char *name, bool is_admin)
{
	return id_of(admin_call(
	    "POST",
	    jbody("{s:s, s:s, s:b}", "name", name, "password", USER_PW, "isAdmin", is_admin), 201,
	    A));
}

/* A name nobody has taken: the caller's, numbered (each caller runs in a process of its own). */
static const char *fresh_name(const struct cell *c)
{
	static int serial;

	return fmt("mx-%s-%d", who_name[c->who], ++serial);
}

/* A bundle of TARGET's, made by the admin. */
static struct bundle target_bundle(void)
{
	return fetch_bundle_at(__LINE__, srv, admin, "label=matrix&account=" TARGET,
			       fmt("%s/bundle-%d", wd, ++nfiles));
}

/* ---- what the rows' requests may destroy, made again for each caller ---- */

/*
 * A session of its own, so that logging it out leaves the caller's for the
 * other rows; the deactivated caller's second token, so that should it be
 * honoured, the other rows still show it.
 */
static void fresh_session(struct cell *c)
{
	if (c->who == USER || c->who == ORG_ADMIN)
		c->token = login_as(who_account[c->who], USER_PW);
	else if (c->who == ADMIN)
		c->token = login_as("admin", ADMIN_PW);
	else if (c->who == DEACTIVATED)
		c->token = fx.deact_logout;
}

static void throwaway_user(struct cell *c)
{
	c->tmp = fresh_name(c);
	create_user(c->tmp, false);
}

static void spare_in_org(struct cell *c)
{
	admin_call("PUT", "{\"isAdmin\":false}", 200, A "/" ORG "/members/" SPARE);
	c->tmp = SPARE;
}

static void throwaway_team(struct cell *c)
{
	c->tmp = fresh_name(c);
	admin_call("POST", jbody("{s:s}", "name", c->tmp), 201, A "/" ORG "/teams");
}

static void spare_in_team(struct cell *c)
{
	admin_call("PUT", "{\"isAdmin\":false}", 200, A "/" ORG "/teams/" TEAM "/members/" SPARE);
	c->tmp = SPARE;
}

/* A certificate of TARGET's that authd issued and no key holds any more: POST may add it. */
static void unregistered_cert(struct cell *c)
{
	struct bundle b = target_bundle();

	admin_call("DELETE", NULL, 204, A "/" TARGET "/publicKeys/%s", b.key_id);
	c->body =
	    jbody("{s:s, s:s}", "label", "matrix", "certificate", bundle_file(&b, "cert.pem"));
}

static void throwaway_key(struct cell *c)
{
	c->tmp = target_bundle().key_id;
}

static void throwaway_role(struct cell *c)
{
	c->tmp = id_of(admin_call(
	    "POST", fmt("{\"name\":\"%s\",\"operations\":" OPERATIONS "}", fresh_name(c)), 201,
	    "/roles"));
}

static void throwaway_collection(struct cell *c)
{
	c->tmp = id_of(
	    admin_call("POST", jbody("{s:s, s:s}", "name", fresh_name(c), "parent_id", fx.coll_id),
		       201, "/collections"));
}

static void throwaway_grant(struct cell *c)
{
	c->tmp = fmt("%s/%s/viewonly", fx.spare_id, fx.coll_id);
	admin_call("PUT", NULL, 201, "/collectionGrants/%s", c->tmp);
}

/* The certificate authd serves, uploaded again: accepted, and nothing changes. */
static void served_certificate(struct cell *c)
{
	c->body = jbody("{s:s, s:s, s:s}", "ca", read_text(srv->cainfo), "cert",
			read_text(fmt("%s/tls/server-cert.pem", srv->dir)), "key",
			read_text(fmt("%s/tls/server-key.pem", srv->dir)));
}

/* ---- one cell ---- */

/* What <name> stands for; NULL when it stands for nothing. */
static const char *placeholder(const char *name, size_t len, const struct cell *c)
{
	const struct {
		const char *name, *value;
	} known[] = {{"team-id", fx.team_id}, {"role", fx.role_id}, {"coll", fx.coll_id},
		     {"key", fx.key_id},      {"job", fx.job_id},   {"tmp", c->tmp}};

	if (len == 3 && strncmp(name, "new", 3) == 0)
		return fresh_name(c);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == len && strncmp(known[i].name, name, len) == 0)
			return known[i].value;
	return NULL;
}

/* The template with its placeholders filled in (their values need no JSON escaping). */
static const char *expand(const char *tpl, const struct cell *c)
{
	const char *p, *end, *value = "";
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_msg(f != NULL, "out of memory");
	for (p = tpl; *p != '\0' && value != NULL; p++) {
		end = *p == '<' ? strchr(p, '>') : NULL;
		if (end == NULL) {
			fputc(*p, f);
			continue;
		}
		value = placeholder(p + 1, (size_t)(end - p - 1), c);
		fputs(value ? value : "", f);
		p = end;
	}
	fclose(f);
	keep(text);
	ck_assert_msg(value != NULL, "\"%s\": a placeholder stands for nothing here", tpl);
	return text;
}

/* What a request got. */
struct answer {
	long status;
	const char *body;
	json_t *json; /* the body parsed; NULL when it is not JSON */
};

static struct answer send_bearer(const char *method, const char *path, const char *token,
				 const char *body)
{
	struct reply *r = call_with(srv, method, path, token, body, NULL);

	return (struct answer){r->status, r->body, r->json};
}

/*
 * The same over mutual TLS with the revoked bundle and no token, by curl(1):
 * the harness's handle shows no client certificate.
 */
static struct answer send_revoked(const char *method, const char *path, const char *body)
{
	const char *in = fmt("%s/mtls-%d.in", wd, ++nfiles), *out = fmt("%s.out", in);
	const char *how = strcmp(method, "HEAD") == 0 ? "--head" : fmt("-X %s", method);
	const char *data = "";
	struct answer a;
	struct ran r;

	if (body != NULL) {
		ck_assert_int_eq(it_write_file(in, body), 0);
		data = fmt("-H 'Content-Type: application/json' --data-binary '@%s'", in);
	}
	r = sh(fx.revoked_dir,
	       ": >'%s' && curl -sS --max-time 30 --cert cert.pem --key key.pem --cacert ca.pem "
	       "%s %s -o '%s' -w '%%{http_code}' 'https://127.0.0.1:%d%s'",
	       out, how, data, out, srv->port, path);
	expect_ran(r, 0);
	a.status = atol(r.out);
	a.body = read_text(out);
	a.json = keep_json(json_loads(a.body, 0, NULL));
	return a;
}

/* The error code that a refusal with this status must carry; NULL for the others. */
static const char *code_of(long status)
{
	switch (status) {
	case 400: /* only the test login's row expects one: INVALID_* would mean a bad body */
		return "LDAP_ERROR";
	case 401:
		return "UNAUTHORIZED";
	case 403:
		return "FORBIDDEN";
	case 409:
		return "CONFLICT";
	default:
		return NULL;
	}
}

/*
 * Sends the row's request as `who` with `method` (the row's, or HEAD for a
 * GET row, which must answer alike without a body); false, with a line on
 * stderr, when the answer is wrong.
 */
static bool run_cell(const struct row *row, const char *method, enum who who)
{
	struct cell c = {.who = who, .token = fx.token[who][0] ? fx.token[who] : NULL};
	const char *path, *body, *code, *got;
	long want = row->expect[who];
	struct answer a;

	if (row->prepare != NULL)
		row->prepare(&c);
	path = expand(row->path, &c);
	body = c.body ? c.body : row->body ? expand(row->body, &c) : NULL;
	a = who == REVOKED ? send_revoked(method, path, body)
			   : send_bearer(method, path, c.token, body);
	/* a HEAD answer has no body to carry a code; curl --head writes the headers instead */
	code = strcmp(method, "HEAD") == 0 ? NULL : code_of(want);
	got = jstr(a.json, "errors.0.code");
	if (a.status == want && (code == NULL || (got != NULL && strcmp(got, code) == 0)) &&
	    (strcmp(method, "HEAD") != 0 || who == REVOKED || a.body[0] == '\0'))
		return true;
	fprintf(stderr, "%s: %s %s, sent as %s: expected %ld%s%s, got %ld: %.300s\n", who_name[who],
		method, row->pattern, path, want, code ? " " : "", code ? code : "", a.status,
		a.body);
	return false;
}

/* ---- the fixture ---- */

/* Runs `authd routes` and keeps its lines. */
static void read_routes(void)
{
	const char *out = fmt("%s/routes.out", wd);
	const char *const args[] = {"routes", NULL};
	int status = authd_run_once(args, NULL, out);
	char line[512], extra;
	FILE *f;

	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "`authd routes` failed (wait status %d): %s", status, read_text(out));
	f = fopen(out, "r");
	ck_assert_msg(f != NULL, "cannot read %s", out);
	for (nroutes = 0; fgets(line, sizeof(line), f) != NULL; nroutes++) {
		bool ok =
		    nroutes < MAX_ROUTES && sscanf(line, "%15s %255s %c", routes[nroutes].method,
						   routes[nroutes].pattern, &extra) == 2;

		if (!ok)
			fclose(f);
		ck_assert_msg(ok, "`authd routes` line %d is not \"METHOD PATTERN\": %s",
			      nroutes + 1, line);
	}
	fclose(f);
	ck_assert_msg(nroutes > 0, "`authd routes` printed nothing");
}

/* Waits for the job to end, so that its log exists and cancelling it conflicts, every run. */
static void wait_job_ended(const char *id)
{
	double deadline = it_now() + JOB_SECONDS;
	const char *status = NULL;

	while (it_now() < deadline) {
		status = jstr(admin_call("GET", NULL, 200, "/enzi/v0/jobs/%s", id)->json, "status");
		if (status != NULL && strcmp(status, "waiting") != 0 &&
		    strcmp(status, "running") != 0)
			return;
		it_sleep_ms(50);
	}
	ck_abort_msg("job %s has not ended within %d s (status %s)", id, JOB_SECONDS,
		     status ? status : "none");
}

/* The org, team, role, collection, key, LDAP settings and job that the rows name. */
static void make_fixtures(void)
{
	struct reply *r;

	create_user(TARGET, false);
	snprintf(fx.spare_id, sizeof(fx.spare_id), "%s", create_user(SPARE, false));
	create_user(LOGIN_AS, false);
	admin_call("POST", "{\"name\":\"" ORG "\",\"isOrg\":true}", 201, A);
	r = admin_call("POST", "{\"name\":\"" TEAM "\"}", 201, A "/" ORG "/teams");
	snprintf(fx.team_id, sizeof(fx.team_id), "%s", id_of(r));
	/* joining the team makes TARGET a member of the org too */
	admin_call("PUT", "{\"isAdmin\":false}", 200, A "/" ORG "/teams/" TEAM "/members/" TARGET);
	r = admin_call("POST", "{\"name\":\"mx-role\",\"operations\":" OPERATIONS "}", 201,
		       "/roles");
	snprintf(fx.role_id, sizeof(fx.role_id), "%s", id_of(r));
	r = admin_call("POST", "{\"name\":\"" COLLECTION "\",\"parent_id\":\"shared\"}", 201,
		       "/collections");
	snprintf(fx.coll_id, sizeof(fx.coll_id), "%s", id_of(r));
	snprintf(fx.key_id, sizeof(fx.key_id), "%s", target_bundle().key_id);
	admin_call("PUT", LDAP_SETTINGS, 200, "/enzi/v0/config/auth/ldap");
	r = admin_call("POST", "{\"action\":\"ldap-sync\",\"dryRun\":true}", 202, "/enzi/v0/jobs");
	snprintf(fx.job_id, sizeof(fx.job_id), "%s", id_of(r));
	wait_job_ended(fx.job_id);
}

/*
 * The callers. The deactivated and the revoked one are admins, so that a
 * refusal that lapsed would show as a success rather than hide behind a 403.
 */
static void make_callers(void)
{
	const char *revoked_token;
	struct bundle b;

	snprintf(fx.token[ADMIN], sizeof(fx.token[ADMIN]), "%s", admin);
	create_user(who_account[USER], false);
	create_user(who_account[ORG_ADMIN], false);
	admin_call("PUT", "{\"isAdmin\":true}", 200, A "/" ORG "/members/%s",
		   who_account[ORG_ADMIN]);
	create_user(who_account[DEACTIVATED], true);
	create_user(who_account[REVOKED], true);
	for (int w = USER; w <= DEACTIVATED; w++)
		if (w != ADMIN)
			snprintf(fx.token[w], sizeof(fx.token[w]), "%s",
				 login_as(who_account[w], USER_PW));

	/* tokens that worked, then the account is deactivated */
	snprintf(fx.deact_logout, sizeof(fx.deact_logout), "%s",
		 login_as(who_account[DEACTIVATED], USER_PW));
	expect_status(
	    call_to(srv, "GET", fx.token[DEACTIVATED], NULL, A "/%s", who_account[DEACTIVATED]),
	    200);
	expect_status(call_to(srv, "GET", fx.deact_logout, NULL, A "/%s", who_account[DEACTIVATED]),
		      200);
	admin_call("PATCH", "{\"isActive\":false}", 200, A "/%s", who_account[DEACTIVATED]);

	/* a bundle the account downloaded, honoured over mutual TLS, then its key is deleted */
	revoked_token = login_as(who_account[REVOKED], USER_PW);
	b = fetch_bundle_at(__LINE__, srv, revoked_token, "label=matrix",
			    fmt("%s/revoked-bundle", suite_dir));
	snprintf(fx.revoked_dir, sizeof(fx.revoked_dir), "%s", b.dir);
	ck_assert_int_eq(send_revoked("GET", fmt(A "/%s", who_account[REVOKED]), NULL).status, 200);
	admin_call("DELETE", NULL, 204, A "/%s/publicKeys/%s", who_account[REVOKED], b.key_id);
}

static void setup_matrix(void)
{
	static const char *const tools[] = {"curl", "unzip", NULL};

	make_wd("fixture");
	require_tools(tools);
	read_routes();
	start_server(NULL, ADMIN_PW);
	make_fixtures();
	make_callers();
	http_close(); /* forked tests must not share this process's connection */
	teardown_test();
}

/* ---- tests ---- */

static int rows_for(const char *method, const char *pattern, const struct row **found)
{
	int n = 0;

	for (size_t i = 0; i < NROWS; i++) {
		if (strcmp(rows[i].method, method) != 0 || strcmp(rows[i].pattern, pattern) != 0)
			continue;
		if (n++ == 0 && found != NULL)
			*found = &rows[i];
	}
	return n;
}

static bool listed(const struct row *row)
{
	for (int i = 0; i < nroutes; i++)
		if (strcmp(routes[i].method, row->method) == 0 &&
		    strcmp(routes[i].pattern, row->pattern) == 0)
			return true;
	return false;
}

/* The matrix and the binary's routing table name the same routes, each once. */
START_TEST(test_every_route_has_one_row)
{
	int wrong = 0;

	for (int i = 0; i < nroutes; i++) {
		int n = rows_for(routes[i].method, routes[i].pattern, NULL);

		if (n == 1)
			continue;
		fprintf(stderr, "route %s %s has %d rows in the matrix; it needs exactly one\n",
			routes[i].method, routes[i].pattern, n);
		wrong++;
	}
	for (size_t i = 0; i < NROWS; i++) {
		if (listed(&rows[i]))
			continue;
		fprintf(stderr, "matrix row %s %s is not a route of authd any more\n",
			rows[i].method, rows[i].pattern);
		wrong++;
	}
	ck_assert_msg(wrong == 0, "%d routes or rows do not match (listed above)", wrong);
}
END_TEST

/* Every route of the binary, asked by one kind of caller (_i, an enum who). */
START_TEST(test_caller)
{
	enum who who = (enum who)_i;
	const struct row *row;
	int wrong = 0, asked = 0;

	for (int i = 0; i < nroutes; i++) {
		/* a route without a row fails test_every_route_has_one_row */
		if (rows_for(routes[i].method, routes[i].pattern, &row) == 0)
			continue;
		asked++;
		if (!run_cell(row, row->method, who))
			wrong++;
		/* RFC 9110: wherever GET is served, HEAD is too, with the same status */
		if (strcmp(row->method, "GET") != 0)
			continue;
		asked++;
		if (!run_cell(row, "HEAD", who))
			wrong++;
	}
	ck_assert_msg(wrong == 0, "%s: %d of %d requests answered otherwise (listed above)",
		      who_name[who], wrong, asked);
}
END_TEST

static Suite *matrix_suite(void)
{
	Suite *s = suite_create("matrix");
	TCase *tc = server_case("matrix", setup_matrix, teardown_server, TEST_TIMEOUT);

	tcase_add_test(tc, test_every_route_has_one_row);
	tcase_add_loop_test(tc, test_caller, 0, N_WHO);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	static Suite *(*const suites[])(void) = {matrix_suite, NULL};

	return run_suites("authd-mx", suites, NULL);
}
