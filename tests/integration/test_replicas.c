/*
 * Replicas sharing one CA and one identity: real authd processes, each with
 * its own data dir, on one real PostgreSQL database with store.keyFile set.
 * - both serve the same certificate and CAs; a bundle issued on one is
 *   honoured by the other (curl with its client certificate); a certificate
 *   uploaded on one is served by the other within a few seconds;
 * - two started at once on an empty database end with one CA and one admin;
 * - a key file that is wrong, unreadable by mode, or missing stops start-up
 *   with a message that does not hold the key;
 * - pg_dump of the database holds no private key, in PEM or raw;
 * - store-copy from SQLite, then replicas that keep the old CAs;
 * - the docker CLI with a bundle of one replica on an engine whose
 *   certificate `authd engine-tls` made from the store with another's config;
 * - the LDAP reader password, sealed under store.keyFile's key: a replica
 *   without another's secret.key opens the settings it saved (a test login
 *   against a real slapd), and settings secret.key sealed before
 *   store.keyFile was set are resealed at the next start and keep working.
 * It needs PostgreSQL, so it has only the postgres entry (77 otherwise).
 */
#include <check.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundles.h"
#include "checks.h"
#include "engine.h"
#include "pgcluster.h"
#include "slapd.h"

#define ADMIN_PW "Replica-Admin-Passw0rd"
#define A "/enzi/v0/accounts"
#define TEST_TIMEOUT 240
#define EXIT_SKIPPED 77
#define PG_DUMP "/usr/lib/postgresql/15/bin/pg_dump" /* the version pgcluster.c runs */

/* A new key file (64 hex digits and a line break) in the test's dir, mode 0600. */
static const char *key_file(const char *name)
{
	const char *path = fmt("%s/%s", wd, name);

	expect_ran(sh(NULL, "umask 077 && openssl rand -hex 32 > '%s'", path), 0);
	return path;
}

static const char *replica_config(const char *dsn, const char *key)
{
	return jbody("{s:{s:s}, s:{s:s, s:s, s:s}}", "log", "level", "debug", "store", "driver",
		     "postgres", "dsn", dsn, "keyFile", key);
}

static struct authd *replica(const char *dsn, const char *key)
{
	struct authd *s = authd_new(replica_config(dsn, key));

	ck_assert_msg(s != NULL, "cannot make a data dir");
	memcpy(s->dsn, dsn, sizeof(s->dsn));
	return s;
}

static const char *token_on(struct authd *s)
{
	const char *t = keep(authd_login(s, "admin", ADMIN_PW));

	http_close();
	return t;
}

static const char *fingerprint_on(struct authd *s, const char *token)
{
	struct reply *r = call_with(s, "GET", "/api/config/certs", token, NULL, NULL);
	const char *fp;

	expect_status(r, 200);
	fp = jstr(r->json, "fingerprint");
	ck_assert_msg(fp != NULL, "no fingerprint: %s", r->body);
	return fp;
}

/* GET path on s with curl, presenting the bundle's cert.pem and key.pem; the status. */
static long bundle_get(struct authd *s, const struct bundle *b, const char *path)
{
	struct ran r = sh(b->dir,
			  "curl -sS --max-time 30 --cert cert.pem --key key.pem --cacert ca.pem "
			  "-o /dev/null -w '%%{http_code}' 'https://127.0.0.1:%d%s'",
			  s->port, path);

	expect_ran(r, 0);
	return atol(r.out);
}

/* Stops s, which must exit 0 (under ASan: without a leak), and frees it. */
static void stop_clean(struct authd *s)
{
	int status = authd_stop(s);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "authd exited with %d: %s",
		      status, read_text(s->log));
	authd_free(s);
}

/* A certificate for 127.0.0.1 from a CA of the test's own, uploaded on s; its CA's PEM. */
static const char *upload_cert(struct authd *s, const char *token, const char **key_pem)
{
	const char *sans[] = {"127.0.0.1", "localhost"};
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	struct bdl_ca ca = {NULL, NULL};
	struct failure err;
	X509 *cert;

	ck_assert_msg(key != NULL && bdl_ca_generate("replicas test CA", 30, &ca, &err) == 0,
		      "a CA for the upload: %s", err.message);
	cert = bdl_issue_server_cert(&ca, key, "localhost", sans, 2, 30, &err);
	ck_assert_msg(cert != NULL, "a certificate for the upload: %s", err.message);
	const char *ca_pem = keep(bdl_cert_pem(ca.cert));

	*key_pem = keep(bdl_key_pem(key));
	expect_status(call_with(s, "PUT", "/api/config/certs", token,
				jbody("{s:s, s:s, s:s}", "ca", ca_pem, "cert",
				      keep(bdl_cert_pem(cert)), "key", *key_pem),
				NULL),
		      200);
	X509_free(cert);
	EVP_PKEY_free(key);
	bdl_ca_free(&ca);
	return ca_pem;
}

/* Whether s completes a TLS handshake trusting only ca_file, within seconds. */
static bool serves_within(struct authd *s, const char *ca_file, double seconds)
{
	for (double end = it_now() + seconds; it_now() < end; it_sleep_ms(100))
		if (sh(NULL,
		       "curl -sS --max-time 5 --cacert '%s' -o /dev/null "
		       "'https://127.0.0.1:%d/_ping'",
		       ca_file, s->port)
			.code == 0)
			return true;
	return false;
}

/* The private scalar of a PEM key, as lowercase hex: what a dump must not hold in any form. */
static const char *private_hex(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
	BIGNUM *bn = NULL;
	char *hex, *out;

	ck_assert_msg(key != NULL && EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1,
		      "not an EC private key: %.80s", pem);
	hex = BN_bn2hex(bn);
	out = strdup(hex);
	for (char *p = out; p && *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	OPENSSL_free(hex);
	BN_clear_free(bn);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return keep(out);
}

/* The body's second line of a PEM key: base64 of private bytes, never in a dump. */
static const char *pem_line(const char *pem)
{
	const char *nl = strchr(pem, '\n');

	ck_assert_ptr_nonnull(nl);
	return keep(strndup(nl + 1, 40));
}

/* pg_dump of s's database (PostgreSQL's own tool, as an operator backs up), as text. */
static const char *dump_of(struct authd *s)
{
	const char *path = fmt("%s/dump.sql", wd);

	expect_ran(sh(NULL, "'%s' '%s' > '%s'", PG_DUMP, s->dsn, path), 0);
	return read_text(path);
}

static void expect_dump_clean(const char *dump, const char *what, const char *key_pem)
{
	const char *hex = private_hex(key_pem), *upper = keep(strdup(hex));

	for (char *p = (char *)upper; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
	expect_lacks(dump, pem_line(key_pem), what);
	expect_lacks(dump, hex, what);
	expect_lacks(dump, upper, what);
}

/* A CA made by the test, put in a data dir before the first start: its key is known here. */
static const char *own_ca(struct authd *s, const char *name)
{
	struct bdl_ca ca = {NULL, NULL};
	struct failure err;
	char *key_pem;

	expect_ran(sh(NULL, "mkdir -p -m 700 '%s/ca'", s->dir), 0);
	ck_assert_msg(bdl_ca_generate("operator's CA", 365, &ca, &err) == 0 &&
			  bdl_ca_save(&ca, fmt("%s/ca/%s.pem", s->dir, name),
				      fmt("%s/ca/%s-key.pem", s->dir, name), &err) == 0,
		      "%s", err.message);
	key_pem = bdl_key_pem(ca.key);
	bdl_ca_free(&ca);
	return keep(key_pem);
}

START_TEST(test_replicas_share_ca_and_identity)
{
	char dsn[IT_PATH_LEN];
	const char *key = key_file("store.key"), *ta, *tb, *cluster_key, *client_key, *upload_key;
	struct authd *a, *b;
	struct bundle admin_bundle, user_bundle;

	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	a = replica(dsn, key);
	b = replica(dsn, key);
	cluster_key = own_ca(a, "cluster-ca");
	client_key = own_ca(a, "client-ca");
	ck_assert_int_eq(authd_start(a, ADMIN_PW), 0);
	expect_has(read_text(a->log), "put the authd cluster CA in the store", "a's log");
	ta = token_on(a);
	ck_assert_ptr_nonnull(ta);

	/*
	 * An admin bundle (cluster CA) and a user bundle (client CA) issued on a,
	 * before b starts: their keys reach b's key index at its start here, and
	 * through change propagation once b runs.
	 */
	admin_bundle = fetch_bundle_at(__LINE__, a, ta, "label=on-a", fmt("%s/admin-bundle", wd));
	expect_status(call_with(a, "POST", A, ta,
				jbody("{s:s, s:s, s:s}", "name", "rita", "password",
				      "Rita-Passw0rd-1", "fullName", "Rita"),
				NULL),
		      201);
	user_bundle = fetch_bundle_at(__LINE__, a, keep(authd_login(a, "rita", "Rita-Passw0rd-1")),
				      "label=rita-on-a", fmt("%s/user-bundle", wd));
	http_close();

	ck_assert_int_eq(authd_start(b, ADMIN_PW), 0);
	expect_lacks(read_text(b->log), "in the store", "b's log: it made nothing");
	tb = token_on(b);
	ck_assert_ptr_nonnull(tb);
	ck_assert_int_eq(bundle_get(b, &admin_bundle, A "/admin"), 200);
	ck_assert_int_eq(bundle_get(b, &user_bundle, A "/rita"), 200);

	/* one CA pair and one served certificate; b has no private key in its data dir */
	ck_assert_str_eq(call_with(a, "GET", "/ca", NULL, NULL, NULL)->body,
			 call_with(b, "GET", "/ca", NULL, NULL, NULL)->body);
	ck_assert_str_eq(fingerprint_on(a, ta), fingerprint_on(b, tb));
	ck_assert_str_eq(
	    jstr(call_with(b, "GET", "/api/config/certs", tb, NULL, NULL)->json, "source"),
	    "store");
	expect_ran(sh(NULL, "test -z \"$(find '%s' -name '*key.pem')\"", b->dir), 0);

	/* an upload on a: b serves it too, at its next tick */
	const char *ca_pem = upload_cert(a, ta, &upload_key),
		   *ca_file = fmt("%s/upload-ca.pem", wd);

	ck_assert_int_eq(it_write_file(ca_file, ca_pem), 0);
	ck_assert_msg(serves_within(b, ca_file, 5), "b does not serve a's upload within 5 s");
	snprintf(a->cainfo, sizeof(a->cainfo), "%s", ca_file);
	snprintf(b->cainfo, sizeof(b->cainfo), "%s", ca_file);
	http_close();
	ck_assert_str_eq(fingerprint_on(a, ta), fingerprint_on(b, tb));

	/* what an operator's backup holds: certificates, and no key in any form */
	const char *dump = dump_of(a);

	expect_has(dump, "BEGIN CERTIFICATE", "the dump (the test sees the table)");
	expect_lacks(dump, "PRIVATE KEY", "the dump");
	expect_dump_clean(dump, "the dump (the cluster CA's key)", cluster_key);
	expect_dump_clean(dump, "the dump (the client CA's key)", client_key);
	expect_dump_clean(dump, "the dump (the uploaded key)", upload_key);
	expect_lacks(dump, chomp(read_text(key)), "the dump (the key file's key)");
	stop_clean(a);
	stop_clean(b);
}
END_TEST

START_TEST(test_started_together_make_one_ca)
{
	char dsn[IT_PATH_LEN];
	const char *key = key_file("store.key");
	struct authd *s[3];

	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	for (int i = 0; i < 3; i++)
		s[i] = replica(dsn, key);
	ck_assert_msg(authd_start_together(s, 3, ADMIN_PW) == 0, "the replicas did not start");
	for (int i = 1; i < 3; i++) {
		ck_assert_str_eq(call_with(s[0], "GET", "/ca", NULL, NULL, NULL)->body,
				 call_with(s[i], "GET", "/ca", NULL, NULL, NULL)->body);
		ck_assert_str_eq(read_text(fmt("%s/ca/cluster-ca.pem", s[0]->dir)),
				 read_text(fmt("%s/ca/cluster-ca.pem", s[i]->dir)));
	}
	/* each of the three was made once, whoever won */
	ck_assert_int_eq(count_in_file(s[0]->log, 0, "made the authd cluster CA") +
			     count_in_file(s[1]->log, 0, "made the authd cluster CA") +
			     count_in_file(s[2]->log, 0, "made the authd cluster CA"),
			 1);
	ck_assert_int_eq(count_in_file(s[0]->log, 0, "created the first admin") +
			     count_in_file(s[1]->log, 0, "created the first admin") +
			     count_in_file(s[2]->log, 0, "created the first admin"),
			 1);
	expect_has(store_value_of(s[0], "SELECT count(*) FROM tls_material"), "3", "the rows");
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(token_on(s[i]));
	for (int i = 0; i < 3; i++)
		stop_clean(s[i]);
}
END_TEST

/* authd with config started once: it must refuse, saying `says`, never holding `secret`. */
static void expect_refused(const char *config, const char *says, const char *secret)
{
	const char *cfg = fmt("%s/refused-%d.json", wd, nfiles++), *log = fmt("%s.log", cfg);
	const char *args[] = {"--config", cfg, "--data-dir", fmt("%s.d", cfg), NULL};
	int status;

	ck_assert_int_eq(it_write_file(cfg, config), 0);
	status = authd_run_once(args, ADMIN_PW, log);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "authd started: %s",
		      read_text(log));
	expect_has(read_text(log), says, "the refusal");
	if (secret != NULL)
		expect_lacks(read_text(log), secret, "the refusal");
}

START_TEST(test_wrong_key_file_refused)
{
	char dsn[IT_PATH_LEN];
	const char *key = key_file("store.key"), *other = key_file("other.key");
	const char *loose = key_file("loose.key"), *empty = fmt("%s/empty.key", wd);
	struct authd *a;

	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	a = replica(dsn, key);
	ck_assert_int_eq(authd_start(a, ADMIN_PW), 0);
	expect_refused(replica_config(dsn, other), "store.keyFile does not open",
		       chomp(read_text(other)));
	expect_refused(replica_config(dsn, fmt("%s/none.key", wd)), "is not a readable file", NULL);
	ck_assert_int_eq(chmod(loose, 0644), 0);
	expect_refused(replica_config(dsn, loose), "may be read by others",
		       chomp(read_text(loose)));
	expect_ran(sh(NULL, "umask 077 && echo short > '%s'", empty), 0);
	expect_refused(replica_config(dsn, empty), "holds no key", "short");
	/* SQLite keeps its files: the key file is refused there */
	expect_refused(jbody("{s:{s:s, s:s}}", "store", "driver", "sqlite", "keyFile", key),
		       "store.keyFile: only for the postgres driver", NULL);
	/* the replica that started is untouched by the refused ones */
	expect_status(call_with(a, "GET", "/_ping", NULL, NULL, NULL), 200);
	stop_clean(a);
}
END_TEST

/*
 * store-copy from SQLite to a PostgreSQL store with store.keyFile says how the
 * CAs get there; the first replica started on the old data dir puts them in
 * the store, so that a bundle given out before the move works on every replica.
 */
START_TEST(test_store_copy_brings_the_cas)
{
	char dsn[IT_PATH_LEN];
	const char *key = key_file("store.key"), *token, *from, *to;
	struct authd *old, *a, *b;
	struct bundle before;
	struct ran r;

	old = authd_new("{\"store\":{\"driver\":\"sqlite\"}}");
	ck_assert_ptr_nonnull(old);
	ck_assert_int_eq(authd_start(old, ADMIN_PW), 0);
	token = token_on(old);
	before = fetch_bundle_at(__LINE__, old, token, "label=before", fmt("%s/before", wd));
	http_close();
	authd_stop(old);

	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	from = fmt("%s/from.json", wd);
	to = fmt("%s/to.json", wd);
	ck_assert_int_eq(it_write_file(from, jbody("{s:s, s:{s:s}}", "dataDir", old->dir, "store",
						   "driver", "sqlite")),
			 0);
	ck_assert_int_eq(it_write_file(to, replica_config(dsn, key)), 0);
	r = sh(NULL, "%s store-copy --from '%s' --to '%s' 2>&1", AUTHD_BIN, from, to);
	expect_ran(r, 0);
	expect_has(r.out, fmt("start the first authd on it with the data dir %s", old->dir),
		   "store-copy's output");

	/* the first replica on the old data dir puts its CAs in the store; the next reads them */
	a = replica(dsn, key);
	expect_ran(sh(NULL, "cp -a '%s/ca' '%s/tls' '%s/'", old->dir, old->dir, a->dir), 0);
	ck_assert_int_eq(authd_start(a, ADMIN_PW), 0);
	b = replica(dsn, key);
	ck_assert_int_eq(authd_start(b, ADMIN_PW), 0);
	ck_assert_int_eq(bundle_get(a, &before, A "/admin"), 200);
	ck_assert_int_eq(bundle_get(b, &before, A "/admin"), 200);
	stop_clean(a);
	stop_clean(b);
	authd_free(old);
}
END_TEST

/*
 * The docker CLI: an engine whose TLS material `authd engine-tls` made from
 * the store with replica b's config accepts a bundle issued on replica a, and
 * the bundle's ca.pem verifies the engine.
 */
START_TEST(test_docker_cli_with_a_bundle_of_another_replica)
{
	static const char *const tools[] = {"dockerd", "docker", NULL};
	char dsn[IT_PATH_LEN];
	const char *key = key_file("store.key"), *tls = fmt("%s/engine-tls", wd), *log;
	struct authd *a, *b;
	struct engine *e;
	struct bundle bundle;
	struct ran r;
	int status;

	require_tools(tools);
	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	a = replica(dsn, key);
	b = replica(dsn, key);
	ck_assert_int_eq(authd_start(a, ADMIN_PW), 0);
	const char *args[] = {"engine-tls", "--config", b->config, "--data-dir", b->dir,
			      "--name",	    "engine",	"--san",   "127.0.0.1",	 "--mode",
			      "controller", "--out",	tls,	   NULL};

	log = fmt("%s/engine-tls.log", wd);
	status = authd_run_once(args, NULL, log);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "engine-tls: %s",
		      read_text(log));
	e = engine_new(wd);
	ck_assert_ptr_nonnull(e);
	ck_assert_msg(engine_start(e, tls) == 0, "dockerd did not start; its log is above");
	bundle = fetch_bundle_at(__LINE__, a, token_on(a), "label=cli", fmt("%s/bundle", wd));
	http_close();
	r = sh(bundle.dir,
	       "DOCKER_HOST='%s' DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=. docker version "
	       "--format '{{.Server.Version}}'",
	       e->host);
	expect_ran(r, 0);
	engine_free(e);
	stop_clean(a);
	authd_free(b);
}
END_TEST

/* ---- the LDAP reader password, sealed under store.keyFile's key ---- */

#define LDAP_CONFIG "/enzi/v0/config/auth/ldap"
#define PEOPLE "ou=people,dc=example,dc=com"
#define LENA_PW "Lena-Ldap-Passw0rd"

/* A directory whose reader password is its own, with one user, lena. */
static struct slapd *start_directory(void)
{
	struct slapd_opts o = {
	    .suffix = "dc=example,dc=com",
	    .reader_password = "Reader-Of-The-Replicas-1",
	    .ldif = "dn: " PEOPLE "\nobjectClass: organizationalUnit\nou: people\n\n"
		    "dn: uid=lena," PEOPLE "\nobjectClass: inetOrgPerson\nuid: lena\n"
		    "cn: Lena\nsn: L\nuserPassword: " LENA_PW "\n\n"};
	struct slapd *d = slapd_new(suite_dir);

	ck_assert_msg(d != NULL && slapd_start(d, &o) == 0, "slapd did not start");
	return d;
}

/* The settings saved on s: the directory, read with its reader's password. */
static void save_ldap_settings(struct authd *s, const struct slapd *d)
{
	expect_status(
	    call_with(s, "PUT", LDAP_CONFIG, token_on(s),
		      jbody("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "serverURL", d->url, "readerDN",
			    d->reader_dn, "readerPassword", d->reader_pw, "userSearchConfigs",
			    "baseDN", PEOPLE, "filter", "(objectClass=inetOrgPerson)"),
		      NULL),
	    200);
}

/*
 * A test login on s with the stored settings: it binds as their reader,
 * whose password s must open, to find lena.
 */
static void expect_ldap_settings_open(struct authd *s, const char *who)
{
	struct reply *r =
	    call_with(s, "POST", LDAP_CONFIG "/tryLogin", token_on(s),
		      jbody("{s:s, s:s}", "username", "lena", "password", LENA_PW), NULL);

	ck_assert_msg(r->status == 200, "%s: the test login with the stored settings: %ld %s", who,
		      r->status, r->body);
	ck_assert_str_eq(jstr(r->json, "account.name"), "lena");
}

static bool has_secret_key(const struct authd *s)
{
	return access(fmt("%s/secret.key", s->dir), F_OK) == 0;
}

/*
 * With store.keyFile the reader password is sealed under its key: a replica
 * whose data dir never had another's secret.key opens the settings another
 * saved, and no replica makes a secret.key; the database holds no clear
 * reader password. Then an installation on PostgreSQL without store.keyFile,
 * whose reader password secret.key sealed: started again with store.keyFile,
 * it reseals it under the file's key, once, so that a new replica without its
 * secret.key opens the settings, and it opens them itself still.
 */
START_TEST(test_ldap_reader_password_sealed_under_key_file)
{
	char dsn[IT_PATH_LEN], old_dsn[IT_PATH_LEN];
	const char *key = key_file("store.key");
	struct slapd *d = start_directory();
	struct authd *a, *b, *old;

	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	a = replica(dsn, key);
	ck_assert_int_eq(authd_start(a, ADMIN_PW), 0);
	save_ldap_settings(a, d);
	expect_ldap_settings_open(a, "a");
	b = replica(dsn, key);
	ck_assert_int_eq(authd_start(b, ADMIN_PW), 0);
	expect_ldap_settings_open(b, "b, which has no secret.key of a's");
	ck_assert_msg(!has_secret_key(a) && !has_secret_key(b), "a replica made a secret.key");
	expect_lacks(dump_of(a), d->reader_pw, "the dump");
	http_close();
	stop_clean(a);
	stop_clean(b);

	/* an existing installation: secret.key sealed its settings */
	ck_assert_int_eq(it_pg_database(old_dsn, sizeof(old_dsn)), 0);
	old = authd_new(jbody("{s:{s:s, s:s}}", "store", "driver", "postgres", "dsn", old_dsn));
	ck_assert_ptr_nonnull(old);
	memcpy(old->dsn, old_dsn, sizeof(old->dsn));
	ck_assert_int_eq(authd_start(old, ADMIN_PW), 0);
	save_ldap_settings(old, d);
	ck_assert_msg(has_secret_key(old), "no secret.key without store.keyFile");
	http_close();
	ck_assert_int_eq(authd_stop(old), 0);

	ck_assert_int_eq(it_write_file(old->config, replica_config(old_dsn, key)), 0);
	ck_assert_int_eq(authd_start(old, ADMIN_PW), 0);
	expect_has(read_text(old->log), "resealed the stored LDAP reader passwords",
		   "the log of the first start with store.keyFile");
	expect_ldap_settings_open(old, "the installation, with store.keyFile now");
	b = replica(old_dsn, key);
	ck_assert_int_eq(authd_start(b, ADMIN_PW), 0);
	expect_ldap_settings_open(b, "a new replica of the installation");
	http_close();
	/* the next start finds nothing left to move */
	ck_assert_int_eq(authd_stop(old), 0);
	ck_assert_int_eq(authd_start(old, ADMIN_PW), 0);
	expect_lacks(read_text(old->log), "resealed", "the log of the next start");
	expect_ldap_settings_open(old, "the installation, started again");
	http_close();
	stop_clean(old);
	stop_clean(b);
	slapd_free(d);
}
END_TEST

static Suite *replicas_suite(void)
{
	Suite *s = suite_create("replicas");
	TCase *tc = server_case("shared-tls", NULL, NULL, TEST_TIMEOUT);

	tcase_add_test(tc, test_replicas_share_ca_and_identity);
	tcase_add_test(tc, test_started_together_make_one_ca);
	tcase_add_test(tc, test_wrong_key_file_refused);
	tcase_add_test(tc, test_store_copy_brings_the_cas);
	tcase_add_test(tc, test_docker_cli_with_a_bundle_of_another_replica);
	tcase_add_test(tc, test_ldap_reader_password_sealed_under_key_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	static Suite *(*const suites[])(void) = {replicas_suite, NULL};

	if (!it_pg_wanted()) {
		printf("the replicas suite needs PostgreSQL: run it as integration_replicas_pg "
		       "(AUTHD_TEST_STORE=postgres)\n");
		return EXIT_SKIPPED;
	}
	return run_suites("authd-replicas", suites, NULL);
}
