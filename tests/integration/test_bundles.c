/*
 * Integration tests of client bundles, keys and certificates (SPEC §3, §7)
 * with the real tools a user runs: Debian's dockerd and docker CLI, curl(1),
 * openssl(1) and unzip(1). Exit codes and output of those tools are the checks.
 * - docker(1) with a bundle against a controller and a direct engine, the
 *   files of `authd engine-tls`, docker context import (SPEC §7.1, §7.2);
 * - what a bundle holds, fresh keys each time, the RSA key type, whose bundle
 *   may be had, label rules (SPEC §7.2);
 * - mutual TLS with curl: revocation within a second and on an open
 *   connection, inactive and deleted accounts, scope, foreign certificates
 *   (SPEC §3, §7.3);
 * - the keys API, and external certificates registered or refused (SPEC §7.4);
 * - authd's own HTTPS certificate: read, refused, replaced, named by the
 *   config file, kept across a restart (SPEC §7.5).
 */
#include <check.h>
#include <curl/curl.h>
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "checks.h"
#include "harness.h"

#define ADMIN_PW "Admin-Passw0rd-BT"
#define USER_PW "User-Passw0rd-BT"
#define ACCOUNTS "/enzi/v0/accounts"
#define TEST_TIMEOUT 120
#define VALIDITY_DAYS 30 /* not the default 365, so that the setting shows */
#define TEXT_(x) #x
#define TEXT(x) TEXT_(x)
#define DAY 86400L
#define CURLE_PEER_FAILED_VERIFICATION_EXIT 60 /* curl(1)'s exit code for it */

/* Bundles made on servers without engines name these; only their text is checked. */
#define FAKE_DOCKER_HOST "tcp://docker.example:2376"
#define FAKE_ENGINE_1 "tcp://engine-1.example:2376"
#define FAKE_ENGINE_2 "tcp://engine-2.example:2376"

static const char plain_config[] =
    "{\"bundle\":{\"dockerHost\":\"" FAKE_DOCKER_HOST "\",\"engineHosts\":[\"" FAKE_ENGINE_1
    "\",\"" FAKE_ENGINE_2 "\"],\"validityDays\":" TEXT(VALIDITY_DAYS) "}}";

/* ---- suite state: set by the unchecked fixtures, read by tests ---- */

static struct engine *controller, *direct; /* the engines of the "docker" case */

/* ---- authd over the harness ---- */

#define call(method, token, body, ...) call_to(srv, method, token, body, __VA_ARGS__)

static void create_user_on(struct authd *s, const char *token, const char *name, bool is_admin)
{
	const char *body = jbody("{s:s, s:s, s:b, s:b}", "name", name, "password", USER_PW,
				 "isAdmin", is_admin, "isActive", 1);

	expect_status(call_to(s, "POST", token, body, ACCOUNTS), 201);
}

static const char *login_on(struct authd *s, const char *name, const char *password)
{
	char *token = authd_login(s, name, password);

	ck_assert_msg(token != NULL, "%s cannot log in", name);
	return keep(token);
}

/* A new account on srv and a token of it. */
static const char *new_user(const char *name, bool is_admin)
{
	create_user_on(srv, admin, name, is_admin);
	return login_on(srv, name, USER_PW);
}

static void set_active(const char *name, bool active)
{
	expect_status(
	    call("PATCH", admin, jbody("{s:b}", "isActive", active), ACCOUNTS "/%s", name), 200);
}

/* The account's keys list (as admin). */
static json_t *keys_of(const char *name)
{
	struct reply *r = call("GET", admin, NULL, ACCOUNTS "/%s/publicKeys", name);

	expect_status(r, 200);
	ck_assert_msg(json_is_array(jpath(r->json, "accountPublicKeys")),
		      "no accountPublicKeys array: %s", r->body);
	return jpath(r->json, "accountPublicKeys");
}

/* The key with this id in a keys list, or NULL. */
static json_t *key_in(json_t *list, const char *id)
{
	size_t i;
	json_t *k;

	json_array_foreach(list, i, k)
	{
		if (jstr(k, "id") != NULL && strcmp(jstr(k, "id"), id) == 0)
			return k;
	}
	return NULL;
}

/* ---- bundles ---- */

/* A new dir of the test's for a bundle's files. */
#define bundle_dir() fmt("%s/bundle-%d", wd, ++nfiles)
/* Downloads /api/clientbundle?<query> as token from srv and unzips it. */
#define fetch_bundle(token, query) fetch_bundle_at(__LINE__, srv, token, query, bundle_dir())

/* ---- curl(1) with a client certificate ---- */

/* What authd answered a curl(1) request. */
struct answer {
	long status;
	json_t *json;
	const char *body;
};

/* GET path on s with curl, presenting cert and key (paths relative to dir), trusting ca. */
static struct ran curl_mtls(struct authd *s, const char *dir, const char *cert, const char *key,
			    const char *ca, const char *path)
{
	return sh(dir,
		  ": >reply.body && curl -sS --max-time 30 --cert '%s' --key '%s' --cacert '%s' "
		  "-o reply.body "
		  "-w '%%{http_code}' 'https://127.0.0.1:%d%s'",
		  cert, key, ca, s->port, path);
}

/* The same, where curl must complete the exchange; authd's answer. */
static struct answer mtls_get_at(int line, struct authd *s, const char *dir, const char *cert,
				 const char *key, const char *ca, const char *path)
{
	struct ran r = curl_mtls(s, dir, cert, key, ca, path);
	struct answer a;

	expect_ran_at(line, r, 0);
	a.status = atol(r.out);
	a.body = read_text(fmt("%s/reply.body", dir));
	a.json = keep_json(json_loads(a.body, 0, NULL));
	return a;
}

/* GET path presenting the bundle's cert.pem and key.pem, trusting its ca.pem. */
#define bundle_get(b, path)                                                                        \
	mtls_get_at(__LINE__, srv, (b).dir, "cert.pem", "key.pem", "ca.pem", path)

static void expect_answer_at(int line, struct answer a, long status)
{
	ck_assert_msg(a.status == status, "line %d: curl got %ld, expected %ld: %.600s", line,
		      a.status, status, a.body);
}
#define expect_answer(a, status) expect_answer_at(__LINE__, a, status)

/* Authenticated as `name` by the bundle alone: its own account answers 200. */
static void expect_bundle_is_at(int line, const struct bundle *b, const char *name)
{
	struct answer a = mtls_get_at(line, srv, b->dir, "cert.pem", "key.pem", "ca.pem",
				      fmt(ACCOUNTS "/%s", name));

	expect_answer_at(line, a, 200);
	ck_assert_msg(jstr(a.json, "name") != NULL && strcmp(jstr(a.json, "name"), name) == 0,
		      "line %d: expected account %s: %s", line, name, a.body);
}
#define expect_bundle_is(b, name) expect_bundle_is_at(__LINE__, b, name)

/* ---- openssl(1) ---- */

static const char *ca_file(struct authd *s, const char *name)
{
	return fmt("%s/ca/%s.pem", s->dir, name);
}

static const char *ca_key_file(struct authd *s, const char *name)
{
	return fmt("%s/ca/%s-key.pem", s->dir, name);
}

/* `openssl ca` settings in the test's dir: it can sign with past dates, unlike `x509 -req`. */
static void ca_config(void)
{
	static const char cnf[] = "[ca]\ndefault_ca = it\n"
				  "[it]\ndatabase = ca-db/index.txt\nserial = ca-db/serial\n"
				  "new_certs_dir = ca-db\ndefault_md = sha256\n"
				  "policy = cn_only\nunique_subject = no\n"
				  "[cn_only]\ncommonName = supplied\n"
				  "[client]\nbasicConstraints = CA:FALSE\n"
				  "keyUsage = digitalSignature\nextendedKeyUsage = clientAuth\n"
				  "[serveronly]\nbasicConstraints = CA:FALSE\n"
				  "keyUsage = digitalSignature\nextendedKeyUsage = serverAuth\n"
				  "[server]\nbasicConstraints = CA:FALSE\n"
				  "keyUsage = digitalSignature\nextendedKeyUsage = serverAuth\n"
				  "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
				  "[subca]\nbasicConstraints = critical,CA:TRUE\n"
				  "keyUsage = critical,keyCertSign,cRLSign\n";

	if (access(fmt("%s/ca.cnf", wd), F_OK) == 0)
		return;
	expect_ran(sh(NULL, "mkdir ca-db && : > ca-db/index.txt && echo 1000 > ca-db/serial"), 0);
	ck_assert_int_eq(it_write_file(fmt("%s/ca.cnf", wd), cnf), 0);
}

/* A CA of the test's own: <name>.pem and <name>-key.pem in its dir. */
static void make_ca(const char *name)
{
	expect_ran(sh(NULL,
		      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		      "-keyout %s-key.pem -out %s.pem -subj '/CN=%s' -days 30 "
		      "-addext basicConstraints=critical,CA:TRUE "
		      "-addext keyUsage=critical,keyCertSign,cRLSign",
		      name, name, name),
		   0);
}

/*
 * A new P-256 key <name>-key.pem and certificate <name>.pem with subject
 * CN=cn, signed by the CA files ca and ca_key, with the extensions of the
 * ca.cnf section ext; valid for 30 days from now, or expired in 2020.
 */
static void issue(const char *name, const char *cn, const char *ca, const char *ca_key,
		  const char *ext, bool expired)
{
	ca_config();
	expect_ran(sh(NULL,
		      "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		      "-keyout %s-key.pem -out %s.csr -subj '/CN=%s'",
		      name, name, cn),
		   0);
	expect_ran(sh(NULL,
		      "openssl ca -batch -notext -config ca.cnf -cert '%s' -keyfile '%s' "
		      "-in %s.csr -out %s.pem -extensions %s %s",
		      ca, ca_key, name, name, ext,
		      expired ? "-startdate 20200101000000Z -enddate 20200102000000Z" : "-days 30"),
		   0);
}

/* One line of `openssl x509 -noout <option>` on a certificate file, without its newline. */
static const char *x509_line_at(int line, const char *cert, const char *option)
{
	struct ran r = sh(NULL, "openssl x509 -in '%s' -noout %s", cert, option);

	expect_ran_at(line, r, 0);
	return chomp(r.out);
}
#define x509_line(cert, option) x509_line_at(__LINE__, cert, option)

/* A SHA-256 fingerprint as lowercase hex without separators, whatever the input's style. */
static const char *hex_only(const char *s)
{
	char *out = calloc(1, strlen(s) + 1);
	size_t n = 0;

	ck_assert_ptr_nonnull(out);
	if (strchr(s, '=') != NULL)
		s = strchr(s, '=') + 1;
	for (; *s; s++)
		if (isxdigit((unsigned char)*s))
			out[n++] = (char)tolower((unsigned char)*s);
	return keep(out);
}

/* The fingerprint of the certificate s serves to a new connection, read by openssl s_client. */
static const char *served_fingerprint(struct authd *s)
{
	struct ran r = sh(NULL,
			  "set -o pipefail; openssl s_client -connect 127.0.0.1:%d "
			  "-servername localhost </dev/null 2>/dev/null "
			  "| openssl x509 -noout -fingerprint -sha256",
			  s->port);

	expect_ran(r, 0);
	return hex_only(r.out);
}

/* "2027-11-23 15:33:45Z" or "2027-11-23T15:33:45Z" as seconds since the epoch. */
static long long iso_seconds(const char *text)
{
	struct tm tm = {0};
	const char *end = strptime(text, "%Y-%m-%d", &tm);

	ck_assert_msg(end != NULL && (*end == ' ' || *end == 'T'), "not a time: %s", text);
	end = strptime(end + 1, "%H:%M:%S", &tm);
	ck_assert_msg(end != NULL && *end == 'Z', "not a UTC time: %s", text);
	return (long long)timegm(&tm);
}

/* ---- fixtures ---- */

static void setup_plain(void)
{
	start_server(plain_config, ADMIN_PW);
}

static struct engine *start_engine(const char *tls_dir)
{
	struct engine *e = engine_new(suite_dir);

	ck_assert_msg(e != NULL, "cannot make an engine's dirs under %s", suite_dir);
	ck_assert_msg(engine_start(e, tls_dir) == 0, "dockerd did not start; its log is above");
	return e;
}

/*
 * A controller engine (trusts both CAs), a direct engine (cluster CA only),
 * and authd whose bundles point DOCKER_HOST at the controller. The engines'
 * TLS material comes first, so that their ports are known when authd's
 * config is written.
 */
static void setup_docker(void)
{
	char ctl[IT_PATH_LEN + 16], dir[IT_PATH_LEN + 16], config[1024];

	static const char *const tools[] = {"dockerd", "docker", "curl", "openssl",
					    "unzip",   "bash",	 NULL};

	require_tools(tools);
	srv = authd_new("{}");
	ck_assert_msg(srv != NULL, "cannot make a data dir");
	snprintf(ctl, sizeof(ctl), "%s/tls-controller", srv->dir);
	snprintf(dir, sizeof(dir), "%s/tls-direct", srv->dir);
	engine_tls("it-controller", "controller", ctl);
	engine_tls("it-direct", "direct", dir);
	controller = start_engine(ctl);
	direct = start_engine(dir);
	snprintf(config, sizeof(config),
		 "{\"bundle\":{\"dockerHost\":\"%s\",\"engineHosts\":[\"%s\"],"
		 "\"validityDays\":%d}}",
		 controller->host, direct->host, VALIDITY_DAYS);
	ck_assert_int_eq(it_write_file(srv->config, config), 0);
	start_srv(ADMIN_PW);
}

static void teardown_docker(void)
{
	teardown_server();
	engine_free(controller);
	engine_free(direct);
	controller = direct = NULL;
}

/* ---- docker(1) against real engines (SPEC §7.1, §7.2) ---- */

/* What the engine says its version is, asked on its unix socket (no TLS involved). */
static const char *engine_version(const struct engine *e)
{
	struct ran r =
	    sh(NULL, "docker -H 'unix://%s' version --format '{{.Server.Version}}'", e->sock);

	expect_ran(r, 0);
	return chomp(r.out);
}

/* docker version's output has a Server part, naming the engine's version. */
static void expect_server_at(int line, const char *out, const struct engine *e)
{
	const char *server = strstr(out, "\nServer:");

	ck_assert_msg(server != NULL, "line %d: docker version without a Server part:\n%s", line,
		      out);
	expect_has_at(line, server, engine_version(e), "docker version's Server part");
}

/* The documented use: cd into the bundle, eval env.sh, run docker; env.sh is not modified. */
static struct ran docker_with_env_sh(const struct bundle *b, const char *docker_host)
{
	return sh(NULL,
		  "cd '%s' && eval \"$(<env.sh)\" %s%s%s&& echo \"DOCKER_HOST=$DOCKER_HOST\" "
		  "&& docker version",
		  b->dir, docker_host ? "&& export DOCKER_HOST='" : "",
		  docker_host ? docker_host : "", docker_host ? "' " : "");
}

static void expect_docker_works_at(int line, const struct bundle *b, const struct engine *e,
				   bool override_host)
{
	struct ran r = docker_with_env_sh(b, override_host ? e->host : NULL);

	expect_ran_at(line, r, 0);
	expect_has_at(line, r.out, fmt("DOCKER_HOST=%s\n", e->host), "docker's environment");
	expect_server_at(line, r.out, e);
}
#define expect_docker_works(b, e, override) expect_docker_works_at(__LINE__, b, e, override)

START_TEST(test_user_bundle_controller)
{
	const char *token = new_user("dk-user", false);
	struct bundle b = fetch_bundle(token, "label=docker");

	ck_assert_str_eq(jstr(b.meta, "scope"), "user");
	expect_docker_works(&b, controller, false);
}
END_TEST

START_TEST(test_admin_bundle_controller)
{
	struct bundle b = fetch_bundle(admin, "label=docker");

	ck_assert_str_eq(jstr(b.meta, "scope"), "admin");
	expect_docker_works(&b, controller, false);
}
END_TEST

/* A direct engine trusts the cluster CA only: admins get in, users fail the handshake. */
START_TEST(test_direct_engine_admin_only)
{
	const char *token = new_user("dk-direct", false);
	struct bundle user = fetch_bundle(token, "label=direct");
	struct bundle adm = fetch_bundle(admin, "label=direct");
	struct ran r;

	expect_has(bundle_file(&adm, "env.sh"), direct->host, "the admin bundle's env.sh");
	expect_docker_works(&adm, direct, true);
	r = docker_with_env_sh(&user, direct->host);
	expect_failed(r);
	/* Go's words for the engine's TLS alert: "remote error: tls: bad certificate" */
	ck_assert_msg(strstr(r.out, "remote error: tls:") != NULL ||
			  strstr(r.out, "bad certificate") != NULL ||
			  strstr(r.out, "x509:") != NULL,
		      "the refusal is not a TLS error:\n%s", r.out);
	expect_lacks(r.out, "Server:", "docker version on a direct engine with a user bundle");
	/* the same user bundle is good where the client CA is trusted */
	expect_docker_works(&user, controller, false);
}
END_TEST

/* What `authd engine-tls` wrote, and GET /ca without authentication (SPEC §7.1). */
START_TEST(test_engine_tls_files)
{
	const char *cluster = read_text(ca_file(srv, "cluster-ca"));
	const char *client = read_text(ca_file(srv, "client-ca"));
	const char *ctl = fmt("%s/tls-controller", srv->dir), *dir = fmt("%s/tls-direct", srv->dir);
	struct ran r = sh(NULL, "curl -sS --max-time 30 --cacert '%s' https://127.0.0.1:%d/ca",
			  srv->cainfo, srv->port);
	struct stat st;

	expect_ran(r, 0);
	expect_has(r.out, cluster, "GET /ca");
	expect_has(r.out, client, "GET /ca");
	expect_has(read_text(fmt("%s/ca.pem", ctl)), cluster, "the controller's ca.pem");
	expect_has(read_text(fmt("%s/ca.pem", ctl)), client, "the controller's ca.pem");
	ck_assert_str_eq(read_text(fmt("%s/ca.pem", dir)), cluster);
	expect_ran(sh(NULL, "openssl verify -purpose sslserver -CAfile '%s' '%s/server-cert.pem'",
		      ca_file(srv, "cluster-ca"), ctl),
		   0);
	expect_has(x509_line(fmt("%s/server-cert.pem", ctl), "-ext subjectAltName"),
		   "IP Address:127.0.0.1", "the engine's SANs");
	ck_assert_int_eq(stat(fmt("%s/server-key.pem", ctl), &st), 0);
	ck_assert_msg((st.st_mode & 0777) == 0600, "server-key.pem has mode %o",
		      (unsigned)(st.st_mode & 0777));
	r = sh(ctl, "cmp <(openssl pkey -in server-key.pem -pubout) "
		    "<(openssl x509 -in server-cert.pem -noout -pubkey)");
	expect_ran(r, 0);
}
END_TEST

START_TEST(test_context_import)
{
	const char *token = new_user("dk-context", false);
	struct bundle b = fetch_bundle(token, "label=context");
	struct ran r;

	/* context names need 2+ characters in this docker, so not "t" */
	r = sh(b.dir, "docker context import tc docker-context.zip");
	expect_ran(r, 0);
	r = sh(b.dir, "docker context inspect tc --format '{{.Endpoints.docker.Host}}'");
	expect_ran(r, 0);
	ck_assert_str_eq(chomp(r.out), controller->host);
	/* run from elsewhere: the context's own copy of the TLS files is what is used */
	r = sh(NULL, "docker --context tc version");
	expect_ran(r, 0);
	expect_server_at(__LINE__, r.out, controller);
	expect_failed(sh(NULL, "docker context import t '%s/docker-context.zip'", b.dir));
}
END_TEST

/* ---- what a bundle holds (SPEC §7.2) ---- */

/* The zip's files, its comment, meta.json and key.pem's mode after unzip. */
static void check_zip(const struct bundle *b, const char *account, const char *label,
		      const char *scope)
{
	static const char files[] = "ca.pem\ncert.pem\nkey.pem\ncert.pub\nenv.sh\nenv.ps1\n"
				    "env.cmd\ndocker-context.zip\nmeta.json\n";
	struct ran r = sh(NULL, "unzip -Z1 '%s' | sort", b->zip);
	struct ran want = sh(NULL, "printf '%s' | sort", files);
	struct stat st;

	expect_ran(r, 0);
	ck_assert_str_eq(r.out, want.out);
	r = sh(NULL, "unzip -qz '%s'", b->zip);
	expect_ran(r, 0);
	ck_assert_str_eq(chomp(r.out), b->key_id);
	ck_assert_str_eq(jstr(b->meta, "account"), account);
	ck_assert_str_eq(jstr(b->meta, "label"), label);
	ck_assert_str_eq(jstr(b->meta, "scope"), scope);
	ck_assert_str_eq(jstr(b->meta, "dockerHost"), FAKE_DOCKER_HOST);
	ck_assert_ptr_nonnull(jstr(b->meta, "notAfter"));
	ck_assert_int_eq(stat(fmt("%s/key.pem", b->dir), &st), 0);
	ck_assert_msg((st.st_mode & 0777) == 0600, "key.pem has mode %o after unzip",
		      (unsigned)(st.st_mode & 0777));
	ck_assert_str_eq(bundle_file(b, "ca.pem"), read_text(srv->cainfo));
}

/* The three scripts set what SPEC §7.2 says; admin ones list the direct engines. */
static void check_scripts(const struct bundle *b, bool admin_scope)
{
	const char *scripts[] = {"env.sh", "env.ps1", "env.cmd"};
	struct ran r = sh(b->dir, "eval \"$(<env.sh)\" && printf '%%s|' \"$DOCKER_HOST\" "
				  "\"$DOCKER_CERT_PATH\" \"$DOCKER_TLS_VERIFY\" "
				  "\"$COMPOSE_TLS_VERSION\"");

	expect_ran(r, 0);
	ck_assert_str_eq(r.out, fmt("%s|%s|1|TLSv1_2|", FAKE_DOCKER_HOST, b->dir));
	expect_has(bundle_file(b, "env.sh"), "eval \"$(<env.sh)\"", "env.sh's usage comment");
	expect_has(bundle_file(b, "env.ps1"), "$Env:DOCKER_HOST = \"" FAKE_DOCKER_HOST "\"",
		   "env.ps1");
	expect_has(bundle_file(b, "env.ps1"), "Split-Path $script:MyInvocation.MyCommand.Path",
		   "env.ps1");
	expect_has(bundle_file(b, "env.cmd"), "set DOCKER_HOST=" FAKE_DOCKER_HOST, "env.cmd");
	expect_has(bundle_file(b, "env.cmd"), "set DOCKER_CERT_PATH=%~dp0", "env.cmd");
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		const char *text = bundle_file(b, scripts[i]);

		if (admin_scope) {
			expect_has(text, FAKE_ENGINE_1, scripts[i]);
			expect_has(text, FAKE_ENGINE_2, scripts[i]);
		} else {
			expect_lacks(text, FAKE_ENGINE_1, scripts[i]);
			expect_lacks(text, FAKE_ENGINE_2, scripts[i]);
		}
	}
}

/* Subject, issuer (by openssl verify), extendedKeyUsage and serial of cert.pem. */
static void check_cert_names(const struct bundle *b, const char *account, const char *scope)
{
	const char *cert = fmt("%s/cert.pem", b->dir);
	bool adm = strcmp(scope, "admin") == 0;
	const char *signer = ca_file(srv, adm ? "cluster-ca" : "client-ca");
	const char *other = ca_file(srv, adm ? "client-ca" : "cluster-ca");
	const char *serial = x509_line(cert, "-serial");

	ck_assert_str_eq(x509_line(cert, "-subject -nameopt RFC2253"),
			 fmt("subject=CN=%s,OU=%s,O=authd", account, scope));
	ck_assert_str_eq(x509_line(cert, "-issuer -nameopt RFC2253") + strlen("issuer="),
			 x509_line(signer, "-subject -nameopt RFC2253") + strlen("subject="));
	expect_ran(sh(NULL, "openssl verify -purpose sslclient -CAfile '%s' '%s'", signer, cert),
		   0);
	expect_failed(sh(NULL, "openssl verify -CAfile '%s' '%s'", other, cert));
	expect_has(x509_line(cert, "-ext extendedKeyUsage"), "TLS Web Client Authentication",
		   "extendedKeyUsage");
	/* a random 128-bit serial: 32 hex digits, fewer only by leading zeros */
	ck_assert_msg(strlen(serial) >= strlen("serial=") + 24 &&
			  strlen(serial) <= strlen("serial=") + 34,
		      "serial %s is not 128 bits", serial);
}

/* notBefore is now (or a little before), notAfter is validity days later and in meta.json. */
static void check_validity(const struct bundle *b, int days)
{
	const char *cert = fmt("%s/cert.pem", b->dir);
	const char *end = x509_line(cert, "-enddate -dateopt iso_8601");
	const char *start = x509_line(cert, "-startdate -dateopt iso_8601");
	long long now = (long long)time(NULL);

	ck_assert_msg(iso_seconds(start + strlen("notBefore=")) <= now + 5 &&
			  iso_seconds(start + strlen("notBefore=")) >= now - DAY,
		      "%s is not about now", start);
	ck_assert_int_eq(iso_seconds(end + strlen("notAfter=")),
			 iso_seconds(jstr(b->meta, "notAfter")));
	expect_ran(sh(NULL, "openssl x509 -in '%s' -noout -checkend %ld", cert, days * DAY - 3600),
		   0);
	expect_ran(sh(NULL, "openssl x509 -in '%s' -noout -checkend %ld", cert, days * DAY + 3600),
		   1);
}

/* key.pem, cert.pem and cert.pub hold one public key, of the configured type. */
static void check_key(const struct bundle *b, bool rsa)
{
	struct ran from_key = sh(b->dir, "openssl pkey -in key.pem -pubout");
	struct ran from_cert = sh(b->dir, "openssl x509 -in cert.pem -noout -pubkey");
	struct ran text = sh(b->dir, "openssl pkey -in key.pem -noout -text_pub");

	expect_ran(from_key, 0);
	expect_ran(from_cert, 0);
	expect_ran(text, 0);
	ck_assert_str_eq(from_key.out, from_cert.out);
	ck_assert_str_eq(from_key.out, bundle_file(b, "cert.pub"));
	if (rsa) {
		expect_has(text.out, "Public-Key: (2048 bit)", "the RSA key");
		expect_has(x509_line(fmt("%s/cert.pem", b->dir), "-text"), "rsaEncryption",
			   "cert.pem");
	} else {
		expect_has(text.out, "NIST CURVE: P-256", "the ECDSA key");
		expect_has(x509_line(fmt("%s/cert.pem", b->dir), "-text"), "id-ecPublicKey",
			   "cert.pem");
	}
}

/* The store kept the bundle's certificate and public key under its key id, nothing more. */
static void check_stored(const struct bundle *b, const char *account, const char *scope)
{
	json_t *k = key_in(keys_of(account), b->key_id);

	ck_assert_msg(k != NULL, "key %s is not in %s's list", b->key_id, account);
	ck_assert_str_eq(jstr(k, "scope"), scope);
	ck_assert_str_eq(jstr(k, "label"), jstr(b->meta, "label"));
	ck_assert_str_eq(jstr(k, "certificate"), bundle_file(b, "cert.pem"));
	ck_assert_str_eq(jstr(k, "publicKey"), bundle_file(b, "cert.pub"));
	ck_assert_int_eq(iso_seconds(jstr(k, "notAfter")), iso_seconds(jstr(b->meta, "notAfter")));
	expect_lacks(keep(json_dumps(k, 0)), "PRIVATE KEY", "the stored key");
}

START_TEST(test_user_bundle_contents)
{
	const char *token = new_user("ct-user", false);
	struct reply *r = call("GET", token, NULL, "/api/clientbundle?label=laptop");
	struct bundle b = fetch_bundle(token, "label=laptop");

	expect_status(r, 200);
	ck_assert_str_eq(header(r, "Content-Disposition"),
			 "attachment; filename=\"bundle-ct-user.zip\"");
	check_zip(&b, "ct-user", "laptop", "user");
	check_scripts(&b, false);
	check_cert_names(&b, "ct-user", "user");
	check_validity(&b, VALIDITY_DAYS);
	check_key(&b, false);
	check_stored(&b, "ct-user", "user");
}
END_TEST

START_TEST(test_admin_bundle_contents)
{
	struct reply *r = call("POST", admin, NULL, "/api/clientbundle?label=ops");
	struct bundle b = fetch_bundle(admin, "label=ops");

	expect_status(r, 200); /* POST is the same call as GET */
	check_zip(&b, "admin", "ops", "admin");
	check_scripts(&b, true);
	check_cert_names(&b, "admin", "admin");
	check_validity(&b, VALIDITY_DAYS);
	check_key(&b, false);
	check_stored(&b, "admin", "admin");
}
END_TEST

/* Every call makes a new key pair; no two bundles share a key or serial. */
START_TEST(test_bundles_are_fresh)
{
	struct bundle a = fetch_bundle(admin, "label=first");
	struct bundle b = fetch_bundle(admin, "label=second");

	ck_assert_str_ne(a.key_id, b.key_id);
	ck_assert_str_ne(bundle_file(&a, "cert.pub"), bundle_file(&b, "cert.pub"));
	ck_assert_str_ne(x509_line(fmt("%s/cert.pem", a.dir), "-serial"),
			 x509_line(fmt("%s/cert.pem", b.dir), "-serial"));
}
END_TEST

/* bundle.keyType rsa-2048 on a server of its own; validity is the default 365 days. */
START_TEST(test_rsa_key_type)
{
	struct authd *s = authd_new("{\"bundle\":{\"keyType\":\"rsa-2048\"}}");
	const char *token;
	struct bundle b;

	ck_assert_msg(s != NULL && authd_start(s, ADMIN_PW) == 0, "authd did not start");
	token = login_on(s, "admin", ADMIN_PW);
	b = fetch_bundle_at(__LINE__, s, token, "label=rsa", bundle_dir());
	check_key(&b, true);
	check_validity(&b, 365);
	expect_ran(sh(NULL, "openssl verify -purpose sslclient -CAfile '%s' '%s/cert.pem'",
		      ca_file(s, "cluster-ca"), b.dir),
		   0);
	expect_answer(
	    mtls_get_at(__LINE__, s, b.dir, "cert.pem", "key.pem", "ca.pem", ACCOUNTS "/admin"),
	    200);
	authd_free(s);
}
END_TEST

/* ---- who may get whose bundle, and labels (SPEC §7.2) ---- */

START_TEST(test_bundle_for_other_account)
{
	const char *token = new_user("sc-user", false);
	size_t admin_keys = json_array_size(keys_of("admin"));
	struct bundle b;

	create_user_on(srv, admin, "sc-other", false);
	expect_error(call("GET", token, NULL, "/api/clientbundle?label=x&account=sc-other"), 403,
		     "FORBIDDEN", NULL);
	expect_error(call("GET", token, NULL, "/api/clientbundle?label=x&account=admin"), 403,
		     "FORBIDDEN", NULL);
	expect_error(call("GET", admin, NULL, "/api/clientbundle?label=x&account=sc-nobody"), 404,
		     "NOT_FOUND", NULL);
	ck_assert_int_eq(json_array_size(keys_of("sc-other")), 0);
	ck_assert_int_eq(json_array_size(keys_of("sc-user")), 0);
	ck_assert_int_eq(json_array_size(keys_of("admin")), admin_keys);
	/* naming oneself is no other account */
	b = fetch_bundle(token, "label=self&account=sc-user");
	ck_assert_str_eq(jstr(b.meta, "account"), "sc-user");
	/* an admin's automation: a user-scope bundle in the other account's name */
	b = fetch_bundle(admin, "label=robot&account=sc-other");
	ck_assert_str_eq(jstr(b.meta, "account"), "sc-other");
	ck_assert_str_eq(jstr(b.meta, "scope"), "user");
	check_cert_names(&b, "sc-other", "user");
	ck_assert_ptr_nonnull(key_in(keys_of("sc-other"), b.key_id));
	ck_assert_int_eq(json_array_size(keys_of("admin")), admin_keys);
	expect_bundle_is(&b, "sc-other");
}
END_TEST

START_TEST(test_bundle_label_rules)
{
	const char *token = new_user("lb-user", false);
	const char *bad[] = {"bad%01label", "tab%09label", "del%7F", "line%0Abreak"};
	char long_ascii[102], long_utf8[6 * 101 + 1];
	struct bundle b;

	memset(long_ascii, 'a', 101);
	long_ascii[101] = '\0';
	for (int i = 0; i < 101; i++)
		memcpy(long_utf8 + 6 * i, "%C3%A9", 6);
	long_utf8[6 * 101] = '\0';
	expect_error(call("GET", token, NULL, "/api/clientbundle?label=%s", long_ascii), 400,
		     "INVALID_FORM", "label");
	expect_error(call("GET", token, NULL, "/api/clientbundle?label=%s", long_utf8), 400,
		     "INVALID_FORM", "label");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(call("GET", token, NULL, "/api/clientbundle?label=%s", bad[i]), 400,
			     "INVALID_FORM", "label");
	ck_assert_int_eq(json_array_size(keys_of("lb-user")), 0);
	/* 100 characters is the limit, counted as characters, not bytes */
	long_utf8[6 * 100] = '\0';
	b = fetch_bundle(token, fmt("label=%s", long_utf8));
	ck_assert_int_eq(strlen(jstr(b.meta, "label")), 200);
	long_ascii[100] = '\0';
	b = fetch_bundle(token, fmt("label=%s", long_ascii));
	ck_assert_str_eq(jstr(b.meta, "label"), long_ascii);
	ck_assert_int_eq(json_array_size(keys_of("lb-user")), 2);
}
END_TEST

/* NUL is a control character too: it must not cut the label short and pass. */
START_TEST(test_bundle_label_nul)
{
	const char *token = new_user("lb-nul", false);

	expect_error(call("GET", token, NULL, "/api/clientbundle?label=nul%%00label"), 400,
		     "INVALID_FORM", "label");
	ck_assert_int_eq(json_array_size(keys_of("lb-nul")), 0);
}
END_TEST

/* ---- mutual TLS with curl (SPEC §3, §7.3) ---- */

START_TEST(test_mtls_revoked_within_a_second)
{
	const char *token = new_user("mt-user", false);
	struct bundle b = fetch_bundle(token, "label=mtls");
	struct bundle spare = fetch_bundle(token, "label=spare");
	struct timespec t0, t1;
	long status = 0;
	double waited = 0;

	expect_bundle_is(&b, "mt-user");
	expect_status(call("DELETE", token, NULL, ACCOUNTS "/mt-user/publicKeys/%s", b.key_id),
		      204);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (waited < 1.0) {
		status = bundle_get(b, ACCOUNTS "/mt-user").status;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (status == 401)
			break;
	}
	ck_assert_msg(status == 401, "the deleted key still answers %ld after %.2f s", status,
		      waited);
	ck_assert_msg(waited < 1.0, "revocation took %.2f s", waited);
	expect_error(call("GET", token, NULL, ACCOUNTS "/mt-user/publicKeys/%s", b.key_id), 404,
		     "NOT_FOUND", NULL);
	/* only that key: the account's other bundle still works */
	expect_bundle_is(&spare, "mt-user");
}
END_TEST

/*
 * A connection opened before the delete is no way around it: the second
 * request on the same TLS connection is refused. openssl s_client keeps the
 * connection; curl deletes the key between the two requests.
 */
START_TEST(test_mtls_revoked_on_open_connection)
{
	const char *token = new_user("mt-open", false);
	struct bundle b = fetch_bundle(token, "label=open");
	struct ran r =
	    sh(b.dir,
	       "req='GET " ACCOUNTS "/mt-open HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n'\n"
	       "{ printf \"$req\"; sleep 1.5; printf \"$req\"; sleep 1; } | openssl s_client "
	       "-quiet -no_ign_eof -connect 127.0.0.1:%d -cert cert.pem -key key.pem "
	       "-CAfile ca.pem >conn.out 2>conn.err &\n"
	       "sleep 0.7\n"
	       "curl -sS --max-time 10 -o /dev/null -w 'delete=%%{http_code}\\n' -X DELETE "
	       "-H 'Authorization: Bearer %s' --cacert ca.pem "
	       "https://127.0.0.1:%d" ACCOUNTS "/mt-open/publicKeys/%s\n"
	       "wait\n"
	       "grep -o 'HTTP/1.1 [0-9]*' conn.out | tr '\\n' ' '",
	       srv->port, token, srv->port, b.key_id);

	expect_ran(r, 0);
	ck_assert_str_eq(r.out, "delete=204\nHTTP/1.1 200 HTTP/1.1 401 ");
}
END_TEST

START_TEST(test_mtls_inactive_account)
{
	const char *token = new_user("mt-inactive", false);
	struct bundle b = fetch_bundle(token, "label=mtls");

	expect_bundle_is(&b, "mt-inactive");
	set_active("mt-inactive", false);
	expect_answer(bundle_get(b, ACCOUNTS "/mt-inactive"), 401);
	set_active("mt-inactive", true);
	expect_bundle_is(&b, "mt-inactive");
}
END_TEST

START_TEST(test_mtls_scope)
{
	const char *token = new_user("mt-alice", false);
	struct bundle alice = fetch_bundle(token, "label=mtls");
	struct bundle adm = fetch_bundle(admin, "label=mtls");

	create_user_on(srv, admin, "mt-bob", false);
	expect_answer(bundle_get(alice, ACCOUNTS "/mt-bob"), 403);
	expect_answer(bundle_get(alice, ACCOUNTS "/mt-bob/publicKeys"), 403);
	expect_answer(bundle_get(alice, ACCOUNTS "/mt-alice/publicKeys"), 200);
	expect_bundle_is(&adm, "admin");
	expect_answer(bundle_get(adm, ACCOUNTS "/mt-bob"), 200);
	/* without a certificate or a token: nothing */
	expect_error(call("GET", NULL, NULL, ACCOUNTS "/mt-alice"), 401, "UNAUTHORIZED", NULL);
}
END_TEST

/* A deleted account's bundle is refused, also when the name is taken again. */
START_TEST(test_mtls_deleted_account)
{
	const char *token = new_user("mt-gone", false);
	struct bundle b = fetch_bundle(token, "label=mtls");

	expect_bundle_is(&b, "mt-gone");
	expect_status(call("DELETE", admin, NULL, ACCOUNTS "/mt-gone"), 204);
	expect_answer(bundle_get(b, ACCOUNTS "/mt-gone"), 401);
	create_user_on(srv, admin, "mt-gone", false);
	expect_answer(bundle_get(b, ACCOUNTS "/mt-gone"), 401);
	ck_assert_int_eq(json_array_size(keys_of("mt-gone")), 0);
}
END_TEST

/* A certificate from another CA, made out to a real account, proves nothing. */
START_TEST(test_mtls_foreign_certificate)
{
	struct ran r;

	create_user_on(srv, admin, "mt-foreign", false);
	make_ca("foreign");
	issue("stranger", "mt-foreign", "foreign.pem", "foreign-key.pem", "client", false);
	r = curl_mtls(srv, wd, "stranger.pem", "stranger-key.pem", srv->cainfo,
		      ACCOUNTS "/mt-foreign");
	/* refused at the handshake or with 401; never served */
	ck_assert_msg(r.code != 0 || strcmp(r.out, "401") == 0,
		      "a foreign certificate got: exit %d, %s", r.code, r.out);
}
END_TEST

/* ---- keys API (SPEC §7.4) ---- */

START_TEST(test_keys_list_patch_delete)
{
	const char *token = new_user("ky-user", false);
	struct bundle one = fetch_bundle(token, "label=one");
	struct bundle two = fetch_bundle(token, "label=two");
	const char *path = fmt(ACCOUNTS "/ky-user/publicKeys/%s", one.key_id);
	static const char *const fields[] = {"id",    "label",	   "publicKey", "certificate",
					     "scope", "createdAt", "notAfter"};
	struct reply *r = call("GET", token, NULL, ACCOUNTS "/ky-user/publicKeys");
	json_t *list = jpath(r->json, "accountPublicKeys");

	expect_status(r, 200);
	ck_assert_msg(json_object_get(r->json, "nextPageStart") != NULL, "no nextPageStart: %s",
		      r->body);
	ck_assert_int_eq(json_array_size(list), 2);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		ck_assert_msg(jstr(key_in(list, one.key_id), fields[i]) != NULL,
			      "a key without %s: %s", fields[i], r->body);
	ck_assert_str_eq(jstr(key_in(list, two.key_id), "label"), "two");
	r = call("PATCH", token, jbody("{s:s}", "label", "renamed"), "%s", path);
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "label"), "renamed");
	ck_assert_str_eq(jstr(call("GET", token, NULL, "%s", path)->json, "label"), "renamed");
	expect_error(call("PATCH", token, jbody("{s:s}", "label", "bad\001"), "%s", path), 400,
		     "INVALID_FORM", "label");
	ck_assert_str_eq(jstr(key_in(keys_of("ky-user"), one.key_id), "label"), "renamed");
	expect_status(call("DELETE", token, NULL, "%s", path), 204);
	expect_error(call("GET", token, NULL, "%s", path), 404, "NOT_FOUND", NULL);
	expect_error(call("DELETE", token, NULL, "%s", path), 404, "NOT_FOUND", NULL);
	ck_assert_int_eq(json_array_size(keys_of("ky-user")), 1);
	expect_answer(bundle_get(one, ACCOUNTS "/ky-user"), 401);
	expect_bundle_is(&two, "ky-user");
}
END_TEST

/* Users manage their own keys; admins anyone's. */
START_TEST(test_keys_permissions)
{
	const char *alice = new_user("kp-alice", false);
	const char *bob = new_user("kp-bob", false);
	struct bundle b = fetch_bundle(bob, "label=bob");
	const char *path = fmt(ACCOUNTS "/kp-bob/publicKeys/%s", b.key_id);

	expect_error(call("GET", alice, NULL, ACCOUNTS "/kp-bob/publicKeys"), 403, "FORBIDDEN",
		     NULL);
	expect_error(call("PATCH", alice, jbody("{s:s}", "label", "mine"), "%s", path), 403,
		     "FORBIDDEN", NULL);
	expect_error(call("DELETE", alice, NULL, "%s", path), 403, "FORBIDDEN", NULL);
	/* bob's key id under alice's own path is not hers */
	expect_error(call("DELETE", alice, NULL, ACCOUNTS "/kp-alice/publicKeys/%s", b.key_id), 404,
		     "NOT_FOUND", NULL);
	ck_assert_str_eq(jstr(key_in(keys_of("kp-bob"), b.key_id), "label"), "bob");
	expect_status(call("PATCH", admin, jbody("{s:s}", "label", "by admin"), "%s", path), 200);
	expect_status(call("DELETE", admin, NULL, "%s", path), 204);
	ck_assert_int_eq(json_array_size(keys_of("kp-bob")), 0);
}
END_TEST

static struct reply *post_cert(const char *token, const char *account, const char *label,
			       const char *pem)
{
	return call("POST", token, jbody("{s:s, s:s}", "label", label, "certificate", pem),
		    ACCOUNTS "/%s/publicKeys", account);
}

START_TEST(test_external_cert_accepted)
{
	const char *token = new_user("ex-user", false);
	const char *pem;
	struct reply *r;

	issue("ext", "ex-user", ca_file(srv, "client-ca"), ca_key_file(srv, "client-ca"), "client",
	      false);
	pem = read_text(fmt("%s/ext.pem", wd));
	/* not registered yet: signed by the right CA is not enough */
	expect_answer(mtls_get_at(__LINE__, srv, wd, "ext.pem", "ext-key.pem", srv->cainfo,
				  ACCOUNTS "/ex-user"),
		      401);
	r = post_cert(token, "ex-user", "from openssl", pem);
	expect_status(r, 201);
	ck_assert_str_eq(jstr(r->json, "scope"), "user");
	ck_assert_str_eq(jstr(r->json, "label"), "from openssl");
	ck_assert_str_eq(jstr(r->json, "certificate"), pem);
	ck_assert_ptr_nonnull(key_in(keys_of("ex-user"), jstr(r->json, "id")));
	expect_answer(mtls_get_at(__LINE__, srv, wd, "ext.pem", "ext-key.pem", srv->cainfo,
				  ACCOUNTS "/ex-user"),
		      200);
	expect_error(post_cert(token, "ex-user", "again", pem), 409, "CONFLICT", NULL);
	ck_assert_int_eq(json_array_size(keys_of("ex-user")), 1);
}
END_TEST

/* An admin's certificate signed by the cluster CA is registered with admin scope. */
START_TEST(test_external_admin_cert)
{
	const char *token = new_user("ex-admin", true);
	struct reply *r;

	issue("adm", "ex-admin", ca_file(srv, "cluster-ca"), ca_key_file(srv, "cluster-ca"),
	      "client", false);
	r = post_cert(token, "ex-admin", "ops", read_text(fmt("%s/adm.pem", wd)));
	expect_status(r, 201);
	ck_assert_str_eq(jstr(r->json, "scope"), "admin");
	expect_answer(mtls_get_at(__LINE__, srv, wd, "adm.pem", "adm-key.pem", srv->cainfo,
				  ACCOUNTS "/ex-admin"),
		      200);
	/* an admin may add one for someone else, and labels follow the bundle rules */
	create_user_on(srv, admin, "ex-other", false);
	issue("oth", "ex-other", ca_file(srv, "client-ca"), ca_key_file(srv, "client-ca"), "client",
	      false);
	expect_error(post_cert(token, "ex-other", "bad\001", read_text(fmt("%s/oth.pem", wd))), 400,
		     "INVALID_FORM", "label");
	ck_assert_int_eq(json_array_size(keys_of("ex-other")), 0);
	expect_status(post_cert(token, "ex-other", "robot", read_text(fmt("%s/oth.pem", wd))), 201);
	expect_answer(mtls_get_at(__LINE__, srv, wd, "oth.pem", "oth-key.pem", srv->cainfo,
				  ACCOUNTS "/ex-other"),
		      200);
}
END_TEST

/* Each refusal of SPEC §7.4's POST, with the certificate made by openssl. */
START_TEST(test_external_cert_refusals)
{
	const char *token = new_user("xr-user", false);
	const char *client = ca_file(srv, "client-ca"), *client_key = ca_key_file(srv, "client-ca");
	/* garbage PEM, a foreign CA, expired, another CN, no clientAuth, the cluster CA */
	const char *cases[] = {"garbage", "foreign", "expired", "othercn", "noclient", "cluster"};
	struct bundle b;

	make_ca("foreign-ca");
	issue("foreign", "xr-user", "foreign-ca.pem", "foreign-ca-key.pem", "client", false);
	issue("expired", "xr-user", client, client_key, "client", true);
	issue("othercn", "xr-someone", client, client_key, "client", false);
	issue("noclient", "xr-user", client, client_key, "serveronly", false);
	/* the cluster CA signs admins' certificates only */
	issue("cluster", "xr-user", ca_file(srv, "cluster-ca"), ca_key_file(srv, "cluster-ca"),
	      "client", false);
	ck_assert_int_eq(it_write_file(fmt("%s/garbage.pem", wd),
				       "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
				       "-----END CERTIFICATE-----\n"),
			 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *pem = read_text(fmt("%s/%s.pem", wd, cases[i]));

		expect_error(post_cert(token, "xr-user", cases[i], pem), 400, "INVALID_FORM",
			     "certificate");
	}
	ck_assert_int_eq(json_array_size(keys_of("xr-user")), 0);
	/* a bundle's own certificate is registered already */
	b = fetch_bundle(token, "label=bundle");
	expect_error(post_cert(token, "xr-user", "dup", bundle_file(&b, "cert.pem")), 409,
		     "CONFLICT", NULL);
	ck_assert_int_eq(json_array_size(keys_of("xr-user")), 1);
}
END_TEST

/* ---- authd's own certificate (SPEC §7.5) ---- */

/* New server material from openssl: newca.pem, and srv.pem / srv-key.pem it signed. */
static void make_server_material(void)
{
	make_ca("newca");
	issue("srv", "localhost", "newca.pem", "newca-key.pem", "server", false);
}

static const char *certs_body(const char *ca, const char *cert, const char *key)
{
	return jbody("{s:s, s:s, s:s}", "ca", read_text(fmt("%s/%s", wd, ca)), "cert",
		     read_text(fmt("%s/%s", wd, cert)), "key", read_text(fmt("%s/%s", wd, key)));
}

static const char *current_fingerprint(void)
{
	struct reply *r = call("GET", admin, NULL, "/api/config/certs");

	expect_status(r, 200);
	ck_assert_ptr_nonnull(jstr(r->json, "fingerprint"));
	return hex_only(jstr(r->json, "fingerprint"));
}

/* A new connection trusting only ca gets /_ping answered: curl's exit code. */
static int ping_with_ca(const char *ca)
{
	struct ran r = sh(NULL, "curl -sS --max-time 30 --cacert '%s' https://127.0.0.1:%d/_ping",
			  ca, srv->port);

	if (r.code == 0)
		ck_assert_str_eq(r.out, "OK");
	return r.code;
}

START_TEST(test_certs_get)
{
	struct reply *r = call("GET", admin, NULL, "/api/config/certs");
	const char *ca_subject = x509_line(srv->cainfo, "-subject -nameopt RFC2253");
	json_t *sans = jpath(r->json, "sans");
	bool has_ip = false;
	size_t i;
	json_t *v;

	expect_status(r, 200);
	expect_has(jstr(r->json, "subject"), "CN=", "subject");
	ck_assert_str_eq(jstr(r->json, "issuer"), ca_subject + strlen("subject="));
	json_array_foreach(sans, i, v) has_ip |= strcmp(json_string_value(v), "127.0.0.1") == 0;
	ck_assert_msg(has_ip, "127.0.0.1 is not among the SANs: %s", r->body);
	ck_assert_msg(iso_seconds(jstr(r->json, "notAfter")) > (long long)time(NULL), "notAfter %s",
		      jstr(r->json, "notAfter"));
	ck_assert_int_eq(strlen(hex_only(jstr(r->json, "fingerprint"))), 64);
	ck_assert_str_eq(hex_only(jstr(r->json, "fingerprint")), served_fingerprint(srv));
}
END_TEST

/* Each refusal of SPEC §7.5 names its field and keeps the old certificate served. */
START_TEST(test_certs_refusals)
{
	const char *before = current_fingerprint();
	const char *cases[][4] = {
	    {"garbage.pem", "srv.pem", "srv-key.pem", "ca"},
	    {"newca.pem", "garbage.pem", "srv-key.pem", "cert"},
	    {"newca.pem", "srv.pem", "garbage.pem", "key"},
	    {"newca.pem", "srv.pem", "srv-key-enc.pem", "key"},
	    {"newca.pem", "srv.pem", "other-key.pem", "key"},
	    {"otherca.pem", "srv.pem", "srv-key.pem", "cert"},
	    {"newca.pem", "old.pem", "old-key.pem", "cert"},
	};

	make_server_material();
	make_ca("otherca");
	issue("other", "localhost", "newca.pem", "newca-key.pem", "server", false);
	issue("old", "localhost", "newca.pem", "newca-key.pem", "server", true);
	expect_ran(sh(NULL, "openssl pkey -in srv-key.pem -aes256 -passout pass:x "
			    "-out srv-key-enc.pem && grep -q ENCRYPTED srv-key-enc.pem"),
		   0);
	ck_assert_int_eq(it_write_file(fmt("%s/garbage.pem", wd), "this is not PEM\n"), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reply *r =
		    call("PUT", admin, certs_body(cases[i][0], cases[i][1], cases[i][2]),
			 "/api/config/certs");

		expect_error(r, 400, "INVALID_FORM", cases[i][3]);
		ck_assert_str_eq(current_fingerprint(), before);
	}
	ck_assert_str_eq(served_fingerprint(srv), before);
	ck_assert_int_eq(ping_with_ca(srv->cainfo), 0);
	ck_assert_int_eq(ping_with_ca(fmt("%s/newca.pem", wd)),
			 CURLE_PEER_FAILED_VERIFICATION_EXIT);
}
END_TEST

START_TEST(test_certs_non_admin)
{
	const char *token = new_user("ce-user", false);
	const char *before = current_fingerprint();

	make_server_material();
	expect_error(call("GET", token, NULL, "/api/config/certs"), 403, "FORBIDDEN", NULL);
	expect_error(call("PUT", token, certs_body("newca.pem", "srv.pem", "srv-key.pem"),
			  "/api/config/certs"),
		     403, "FORBIDDEN", NULL);
	ck_assert_str_eq(current_fingerprint(), before);
	ck_assert_str_eq(served_fingerprint(srv), before);
}
END_TEST

/*
 * root.pem -> inter.pem -> leaf.pem (+ leaf-key.pem): a chain, sent as
 * "cert.pem with intermediates" (SPEC §7.5).
 */
static void make_chain(void)
{
	make_ca("root");
	issue("inter", "it-intermediate", "root.pem", "root-key.pem", "subca", false);
	issue("leaf", "localhost", "inter.pem", "inter-key.pem", "server", false);
	expect_ran(sh(NULL, "cat leaf.pem inter.pem > leaf-chain.pem"), 0);
}

/* Runs last in its case: afterwards the server no longer chains to its cluster CA. */
START_TEST(test_certs_replace)
{
	const char *old_ca = fmt("%s", srv->cainfo);
	pid_t pid = srv->pid;
	struct reply *r;

	make_server_material();
	r = call("PUT", admin, certs_body("newca.pem", "srv.pem", "srv-key.pem"),
		 "/api/config/certs");
	expect_status(r, 200);
	expect_has(jstr(r->json, "subject"), "CN=localhost", "the new subject");
	expect_has(jstr(r->json, "issuer"), "CN=newca", "the new issuer");
	ck_assert_str_eq(hex_only(jstr(r->json, "fingerprint")),
			 hex_only(x509_line(fmt("%s/srv.pem", wd), "-fingerprint -sha256")));
	ck_assert_int_eq(ping_with_ca(fmt("%s/newca.pem", wd)), 0);
	ck_assert_int_eq(ping_with_ca(old_ca), CURLE_PEER_FAILED_VERIFICATION_EXIT);
	ck_assert_str_eq(served_fingerprint(srv), hex_only(jstr(r->json, "fingerprint")));
	/* the same process: no restart was needed */
	ck_assert_int_eq(kill(pid, 0), 0);
	ck_assert_int_eq(srv->pid, pid);

	/* again, with an intermediate: clients that trust only the root must get the chain */
	snprintf(srv->cainfo, sizeof(srv->cainfo), "%s/newca.pem", wd); /* this process only */
	http_close();
	make_chain();
	r = call("PUT", admin, certs_body("root.pem", "leaf-chain.pem", "leaf-key.pem"),
		 "/api/config/certs");
	expect_status(r, 200);
	expect_has(jstr(r->json, "issuer"), "CN=it-intermediate", "the chained issuer");
	ck_assert_int_eq(ping_with_ca(fmt("%s/root.pem", wd)), 0);
	ck_assert_int_eq(ping_with_ca(fmt("%s/newca.pem", wd)),
			 CURLE_PEER_FAILED_VERIFICATION_EXIT);
	ck_assert_str_eq(served_fingerprint(srv),
			 hex_only(x509_line(fmt("%s/leaf.pem", wd), "-fingerprint -sha256")));
}
END_TEST

/* When the config file names the certificate, the API may not replace it. */
START_TEST(test_certs_from_config)
{
	struct authd *s;
	const char *token;
	struct reply *r;

	make_ca("cfgca");
	issue("cfgsrv", "localhost", "cfgca.pem", "cfgca-key.pem", "server", false);
	make_server_material();
	s = authd_new(fmt("{\"tls\":{\"cert\":\"%s/cfgsrv.pem\",\"key\":\"%s/cfgsrv-key.pem\","
			  "\"ca\":\"%s/cfgca.pem\"}}",
			  wd, wd, wd));
	ck_assert_ptr_nonnull(s);
	/* the harness verifies authd with this CA, not the cluster CA it would make */
	snprintf(s->cainfo, sizeof(s->cainfo), "%s/cfgca.pem", wd);
	ck_assert_msg(authd_start(s, ADMIN_PW) == 0, "authd did not start with tls.cert");
	token = login_on(s, "admin", ADMIN_PW);
	r = call_to(s, "GET", token, NULL, "/api/config/certs");
	expect_status(r, 200);
	ck_assert_str_eq(hex_only(jstr(r->json, "fingerprint")),
			 hex_only(x509_line(fmt("%s/cfgsrv.pem", wd), "-fingerprint -sha256")));
	r = call_to(s, "PUT", token, certs_body("newca.pem", "srv.pem", "srv-key.pem"),
		    "/api/config/certs");
	expect_error(r, 409, "CONFLICT", NULL);
	ck_assert_str_eq(served_fingerprint(s),
			 hex_only(x509_line(fmt("%s/cfgsrv.pem", wd), "-fingerprint -sha256")));
	authd_free(s);
}
END_TEST

/* An uploaded certificate is what the next start serves, too. */
START_TEST(test_certs_survive_restart)
{
	struct authd *s = authd_new(plain_config);
	const char *token, *fp;

	ck_assert_msg(s != NULL && authd_start(s, ADMIN_PW) == 0, "authd did not start");
	token = login_on(s, "admin", ADMIN_PW);
	make_server_material();
	fp = hex_only(x509_line(fmt("%s/srv.pem", wd), "-fingerprint -sha256"));
	expect_status(call_to(s, "PUT", token, certs_body("newca.pem", "srv.pem", "srv-key.pem"),
			      "/api/config/certs"),
		      200);
	ck_assert_int_eq(authd_stop(s), 0);
	/* the harness must now verify authd with the uploaded CA */
	snprintf(s->cainfo, sizeof(s->cainfo), "%s/newca.pem", wd);
	ck_assert_msg(authd_start(s, ADMIN_PW) == 0, "authd did not start again");
	ck_assert_str_eq(served_fingerprint(s), fp);
	token = login_on(s, "admin", ADMIN_PW);
	ck_assert_str_eq(hex_only(jstr(call_to(s, "GET", token, NULL, "/api/config/certs")->json,
				       "fingerprint")),
			 fp);
	authd_free(s);
}
END_TEST

/* ---- suites ---- */

static Suite *bundles_suite(void)
{
	Suite *s = suite_create("bundles");
	TCase *tc = server_case("docker", setup_docker, teardown_docker, TEST_TIMEOUT);

	tcase_add_test(tc, test_user_bundle_controller);
	tcase_add_test(tc, test_admin_bundle_controller);
	tcase_add_test(tc, test_direct_engine_admin_only);
	tcase_add_test(tc, test_context_import);
	tcase_add_test(tc, test_engine_tls_files);
	suite_add_tcase(s, tc);
	tc = server_case("contents", setup_plain, teardown_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_user_bundle_contents);
	tcase_add_test(tc, test_admin_bundle_contents);
	tcase_add_test(tc, test_bundles_are_fresh);
	tcase_add_test(tc, test_rsa_key_type);
	tcase_add_test(tc, test_bundle_for_other_account);
	tcase_add_test(tc, test_bundle_label_rules);
	tcase_add_test(tc, test_bundle_label_nul);
	suite_add_tcase(s, tc);
	tc = server_case("mtls", setup_plain, teardown_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_mtls_revoked_within_a_second);
	tcase_add_test(tc, test_mtls_revoked_on_open_connection);
	tcase_add_test(tc, test_mtls_inactive_account);
	tcase_add_test(tc, test_mtls_scope);
	tcase_add_test(tc, test_mtls_deleted_account);
	tcase_add_test(tc, test_mtls_foreign_certificate);
	suite_add_tcase(s, tc);
	tc = server_case("keys", setup_plain, teardown_server, TEST_TIMEOUT);
	tcase_add_test(tc, test_keys_list_patch_delete);
	tcase_add_test(tc, test_keys_permissions);
	tcase_add_test(tc, test_external_cert_accepted);
	tcase_add_test(tc, test_external_admin_cert);
	tcase_add_test(tc, test_external_cert_refusals);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *certs_suite(void)
{
	Suite *s = suite_create("certs");
	TCase *tc = server_case("server-cert", setup_plain, teardown_server, TEST_TIMEOUT);

	tcase_add_test(tc, test_certs_get);
	tcase_add_test(tc, test_certs_refusals);
	tcase_add_test(tc, test_certs_non_admin);
	tcase_add_test(tc, test_certs_replace); /* last: it changes what the server serves */
	suite_add_tcase(s, tc);
	tc = server_case("config-cert", NULL, NULL, TEST_TIMEOUT);
	tcase_add_test(tc, test_certs_from_config);
	tcase_add_test(tc, test_certs_survive_restart);
	suite_add_tcase(s, tc);
	return s;
}

/* A failed fixture leaves its engines running: they stop before their files go. */
static void stop_engines(void)
{
	engine_free(controller);
	engine_free(direct);
}

int main(void)
{
	static Suite *(*const suites[])(void) = {bundles_suite, certs_suite, NULL};

	/* tool output, bundles and engines go to suite_dir; authd's data dirs to the harness's */
	return run_suites("authd-bt", suites, stop_engines);
}
