/*
 * The secrets audit (DESIGN: passwords, tokens, private keys and reader
 * passwords never appear in clear in a log, an error message, the database
 * or an API response; the bundle download is the one exception).
 * - a full run: authd is driven through everything that handles a secret,
 *   every answer is kept (the audit log's through GET /api/audit too), and
 *   then its data dir (database, WAL, sealed store, job and audit logs,
 *   certificates), its own output and every answer are
 *   searched byte by byte for each secret and for its base64 and hex forms;
 * - the generated first admin password: in initial-admin-password, and
 *   nowhere else (SPEC §1);
 * - on PostgreSQL with store.keyFile, the CAs' and the served certificate's
 *   keys kept sealed in the store: in none of the database's files, nor is
 *   the key file's key; and no secret.key is made.
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zip.h>

#include "bundles.h"
#include "checks.h"
#include "pgcluster.h"
#include "slapd.h"

#define ACCOUNTS "/enzi/v0/accounts"
#define LDAP_CONFIG "/enzi/v0/config/auth/ldap"
#define JOBS "/enzi/v0/jobs"
#define PEOPLE "ou=people,dc=example,dc=com"
#define EU_SUFFIX "dc=eu,dc=example,dc=com"
#define EU_PEOPLE "ou=people," EU_SUFFIX
/* debug is the most authd ever writes to its log: all of it is audited */
#define CONFIG "{\"log\":{\"level\":\"debug\"}}"
#define SECRET_LEN 16	/* as long as people's: some messages quote only short texts */
#define CLEAR_PREFIX 16 /* a secret cut short in a message is still found */
#define MAX_SECRETS 48
#define MAX_NEEDLES 8
#define MAX_ANSWERS 1024
#define JOB_SECONDS 30
#define TEST_TIMEOUT 90

/* One form a secret could be written in, as bytes to look for. */
struct needle {
	const char *how;
	const unsigned char *bytes;
	size_t len;
};

struct secret {
	const char *what;
	const char *home;	    /* the one data-dir file that must hold it (0600), or NULL */
	const struct reply *origin; /* the one answer that hands it out, or NULL */
	bool seen;		    /* found at home or in its origin: its needles work */
	struct needle needles[MAX_NEEDLES];
	int n;
};

/* Where one search looks: a data-dir file (rel, mode) or an answer. */
struct place {
	const char *name;
	const char *rel;
	mode_t mode;
	const struct reply *answer;
};

/* The audit of one test; each test runs in a process of its own. */
static struct secret secrets[MAX_SECRETS];
static int nsecrets;
static struct reply *answers[MAX_ANSWERS];
static int nanswers;
static const char *leaks;     /* one line per finding */
static const char *scanned;   /* the data-dir files searched, for the summary */
static const char *scan_root; /* nftw passes no context */
static int nfiles_scanned;
static size_t bytes_scanned;

static struct slapd *corp, *eu;
static const char *const tools[] = {"slapd", "slapadd", "ldapmodify", "ldapsearch", NULL};

/* ---- answers ---- */

/* Keeps an answer for the audit. */
static struct reply *audited(struct reply *r)
{
	ck_assert_msg(nanswers < MAX_ANSWERS, "too many answers to audit");
	answers[nanswers++] = r;
	return r;
}

/* A request to srv whose answer joins the audit. */
#define call(method, token, body, ...) audited(call_to(srv, method, token, body, __VA_ARGS__))

/* ---- secrets and the forms they are looked for in ---- */

static struct secret *new_secret(const char *what, const char *home, const struct reply *origin)
{
	struct secret *s;

	ck_assert_msg(nsecrets < MAX_SECRETS, "too many secrets");
	s = &secrets[nsecrets++];
	memset(s, 0, sizeof(*s));
	s->what = what;
	s->home = home;
	s->origin = origin;
	return s;
}

static void add_needle(struct secret *s, const char *how, const void *bytes, size_t len)
{
	ck_assert_msg(s->n < MAX_NEEDLES && len >= 16, "%s: needle %s of %zu bytes", s->what, how,
		      len);
	s->needles[s->n++] = (struct needle){how, bytes, len};
}

static const char *hex_of(const unsigned char *b, size_t len, bool upper)
{
	char *out = malloc(2 * len + 1);

	ck_assert_ptr_nonnull(out);
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, upper ? "%02X" : "%02x", b[i]);
	return keep(out);
}

/* The base64 of b with `shift` bytes of fill before it and two after; the caller frees it. */
static char *base64_between(const unsigned char *b, size_t len, int shift, unsigned char fill)
{
	unsigned char *in = malloc(len + 5);
	char *out = malloc(4 * (len / 3 + 3) + 1);

	ck_assert(in != NULL && out != NULL);
	memset(in, fill, len + 5);
	memcpy(in + shift, b, len);
	EVP_EncodeBlock((unsigned char *)out, in, (int)(shift + len + 2));
	free(in);
	return out;
}

/*
 * The base64 characters that depend on b alone when b sits `shift` bytes
 * past a 3-byte boundary of a longer encoded text: the first group mixes
 * with what comes before, the last partial one with what follows. Two
 * fillings prove it.
 */
static const char *base64_at(const unsigned char *b, size_t len, int shift)
{
	char *zeros = base64_between(b, len, shift, 0x00),
	     *ones = base64_between(b, len, shift, 0xff);
	size_t from = shift ? 4 : 0, to = (shift + len) / 3 * 4;

	ck_assert_msg(memcmp(zeros + from, ones + from, to - from) == 0,
		      "base64 at shift %d depends on its surroundings", shift);
	free(ones);
	zeros[to] = '\0';
	keep(zeros);
	return zeros + from;
}

/* Hex both ways and base64 at each alignment: encodings anyone can reverse. */
static void add_encodings(struct secret *s, const unsigned char *b, size_t len)
{
	add_needle(s, "lowercase hex", hex_of(b, len, false), 2 * len);
	add_needle(s, "uppercase hex", hex_of(b, len, true), 2 * len);
	for (int shift = 0; shift < 3; shift++) {
		const char *b64 = base64_at(b, len, shift);

		add_needle(s, "base64", b64, strlen(b64));
	}
}

static struct secret *text_secret(const char *what, const char *text, const struct reply *origin)
{
	struct secret *s = new_secret(what, NULL, origin);
	size_t len = strlen(text);

	add_needle(s, "clear text", text, len < CLEAR_PREFIX ? len : CLEAR_PREFIX);
	add_encodings(s, (const unsigned char *)text, len);
	return s;
}

/* A new random password, letters and digits only, so that no encoding changes it. */
static const char *password(const char *what)
{
	static const char alnum[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char raw[SECRET_LEN];
	char *pw = malloc(SECRET_LEN + 1);

	ck_assert(pw != NULL && RAND_bytes(raw, sizeof(raw)) == 1);
	for (int i = 0; i < SECRET_LEN; i++)
		pw[i] = alnum[raw[i] % (sizeof(alnum) - 1)];
	pw[SECRET_LEN] = '\0';
	keep(pw);
	text_secret(what, pw, NULL);
	return pw;
}

/* A token is base64url of 256 random bits: its bytes are looked for too. */
static void token_secret(const char *what, const char *token, const struct reply *origin)
{
	struct secret *s = text_secret(what, token, origin);
	char *std = malloc(strlen(token) + 4);
	unsigned char *raw = malloc(strlen(token));
	size_t n = strlen(token), i;

	ck_assert(std != NULL && raw != NULL);
	for (i = 0; i < n; i++)
		std[i] = token[i] == '-' ? '+' : token[i] == '_' ? '/' : token[i];
	while (i % 4 != 0)
		std[i++] = '=';
	std[i] = '\0';
	ck_assert_int_ge(EVP_DecodeBlock(raw, (unsigned char *)std, (int)i), 32);
	free(std);
	keep((char *)raw);
	add_needle(s, "decoded bytes", raw, 32);
	add_needle(s, "hex of the decoded bytes", hex_of(raw, 32, false), 64);
}

/* The private component of a key: EC's scalar, RSA's d. */
static const unsigned char *private_bytes(EVP_PKEY *key, size_t *len)
{
	const char *param =
	    EVP_PKEY_is_a(key, "EC") ? OSSL_PKEY_PARAM_PRIV_KEY : OSSL_PKEY_PARAM_RSA_D;
	BIGNUM *bn = NULL;
	unsigned char *out;

	ck_assert_msg(EVP_PKEY_get_bn_param(key, param, &bn) == 1, "no %s in the key", param);
	*len = (size_t)BN_num_bytes(bn);
	out = malloc(*len);
	ck_assert_ptr_nonnull(out);
	BN_bn2bin(bn, out);
	BN_clear_free(bn);
	keep((char *)out);
	return out;
}

/*
 * The longest run of the PEM body (base64 of the DER, 64 characters a line)
 * that encodes private bytes only, der[at..at+len), and stays on one line:
 * a public part would also be found in the stored certificate.
 */
static const char *pem_body_run(const unsigned char *der, long derlen, size_t at, size_t len)
{
	char *b64 = malloc(4 * ((size_t)derlen / 3 + 2) + 1);
	size_t from = (at + 2) / 3 * 4, to = (at + len) / 3 * 4, best = from, best_len = 0;

	ck_assert_ptr_nonnull(b64);
	EVP_EncodeBlock((unsigned char *)b64, der, (int)derlen);
	for (size_t start = from; start < to; start = (start / 64 + 1) * 64) {
		size_t end = (start / 64 + 1) * 64 < to ? (start / 64 + 1) * 64 : to;

		if (end - start > best_len) {
			best = start;
			best_len = end - start;
		}
	}
	b64[best + best_len] = '\0';
	keep(b64);
	return b64 + best;
}

static void key_secret(const char *what, const char *pem, const char *home,
		       const struct reply *origin)
{
	struct secret *s = new_secret(what, home, origin);
	BIO *bio = BIO_new_mem_buf(pem, -1);
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *p, *priv, *at;
	long derlen = 0;
	size_t privlen;
	EVP_PKEY *key;

	ck_assert_msg(bio != NULL && PEM_read_bio(bio, &name, &header, &der, &derlen) == 1,
		      "%s is not PEM: %.200s", what, pem);
	p = der;
	key = d2i_AutoPrivateKey(NULL, &p, derlen);
	ck_assert_msg(key != NULL, "%s is not a private key", what);
	priv = private_bytes(key, &privlen);
	at = memmem(der, (size_t)derlen, priv, privlen);
	ck_assert_msg(at != NULL, "%s: its private part is not in its DER", what);
	const char *run = pem_body_run(der, derlen, (size_t)(at - der), privlen);

	/* the run must be found in the PEM as written, or it would find nothing anywhere */
	ck_assert_msg(strstr(pem, run) != NULL, "%s: %s is not in its PEM", what, run);
	add_needle(s, "PEM body", run, strlen(run));
	add_needle(s, "private bytes", priv, privlen);
	add_needle(s, "lowercase hex of the private bytes", hex_of(priv, privlen, false),
		   2 * privlen);
	add_needle(s, "uppercase hex of the private bytes", hex_of(priv, privlen, true),
		   2 * privlen);
	EVP_PKEY_free(key);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_clear_free(der, (size_t)derlen);
	BIO_free(bio);
}

/* ---- the search ---- */

static bool at_home(const struct secret *s, const struct place *p)
{
	if (p->answer != NULL)
		return p->answer == s->origin;
	return p->rel != NULL && s->home != NULL && strcmp(p->rel, s->home) == 0;
}

static void found(struct secret *s, const struct needle *n, const struct place *p, size_t off)
{
	if (!at_home(s, p)) {
		leaks =
		    fmt("%s%s (%s) is in %s at byte %zu\n", leaks, s->what, n->how, p->name, off);
		return;
	}
	s->seen = true;
	if (p->answer == NULL && (p->mode & 077) != 0)
		leaks = fmt("%s%s is in %s, which is mode %o, not 0600\n", leaks, s->what, p->name,
			    (unsigned)(p->mode & 0777));
}

static void search(const struct place *p, const unsigned char *data, size_t len)
{
	for (int i = 0; i < nsecrets; i++) {
		struct secret *s = &secrets[i];

		for (int k = 0; k < s->n; k++) {
			const unsigned char *hit =
			    memmem(data, len, s->needles[k].bytes, s->needles[k].len);

			if (hit != NULL) {
				found(s, &s->needles[k], p, (size_t)(hit - data));
				break; /* one finding a secret and place is enough */
			}
		}
	}
}

static int scan_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct place p = {path, path + strlen(scan_root) + 1, st->st_mode, NULL};
	size_t len = 0;
	char *data;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	data = it_read_file(path, &len);
	if (data == NULL) {
		leaks = fmt("%s%s cannot be read: it went unaudited\n", leaks, path);
		return 0;
	}
	search(&p, (const unsigned char *)data, len);
	OPENSSL_cleanse(data, len);
	free(data);
	nfiles_scanned++;
	bytes_scanned += len;
	/* the PostgreSQL server's thousand files are counted; only those expected are named */
	if (scan_root != srv->dir && strcmp(p.rel, "server.log") != 0 &&
	    strcmp(p.rel, "data/global/pg_control") != 0)
		return 0;
	if (strstr(scanned, fmt(" %s ", p.rel)) == NULL)
		scanned = fmt("%s%s ", scanned, p.rel);
	return 0;
}

/* Every file under the data dir, authd's own log (which the harness keeps there) included. */
static void scan_data_dir(void)
{
	scan_root = srv->dir;
	ck_assert_msg(strncmp(srv->log, srv->dir, strlen(srv->dir)) == 0,
		      "authd's log %s is outside its data dir", srv->log);
	ck_assert_int_eq(nftw(srv->dir, scan_file, 16, FTW_PHYS), 0);
	/* on PostgreSQL, the server's data folder and log hold the store */
	if (srv->dsn[0] != '\0') {
		scan_root = it_pg_dir();
		ck_assert_int_eq(nftw(scan_root, scan_file, 16, FTW_PHYS), 0);
	}
}

static void scan_answers(void)
{
	for (int i = 0; i < nanswers; i++) {
		const struct reply *r = answers[i];
		struct place body = {fmt("the answer to %s", r->what), NULL, 0, r};
		struct place head = {fmt("the headers of the answer to %s", r->what), NULL, 0, r};

		search(&body, (const unsigned char *)r->body, r->len);
		search(&head, (const unsigned char *)r->headers, strlen(r->headers));
	}
}

static void expect_scanned(const char *rel)
{
	ck_assert_msg(strstr(scanned, fmt(" %s ", rel)) != NULL, "%s was not audited; files:%s",
		      rel, scanned);
}

/*
 * The verdict. A secret that has a home or an origin must have been found
 * there: otherwise its needles are wrong and its absence elsewhere proves
 * nothing.
 */
static void expect_no_leak(void)
{
	int needles = 0;

	for (int i = 0; i < nsecrets; i++) {
		needles += secrets[i].n;
		if ((secrets[i].home != NULL || secrets[i].origin != NULL) && !secrets[i].seen)
			leaks =
			    fmt("%s%s was not found where it must be (%s): the audit is blind\n",
				leaks, secrets[i].what,
				secrets[i].home ? secrets[i].home : "the answer handing it out");
	}
	printf("secrets audit: %d secrets in %d forms; %d file reads (%zu bytes) of:%s; "
	       "%d answers\n",
	       nsecrets, needles, nfiles_scanned, bytes_scanned, scanned, nanswers);
	fflush(stdout); /* a failing test leaves without flushing */
	ck_assert_msg(*leaks == '\0', "secrets found where they must not be:\n%s", leaks);
}

static void audit_reset(void)
{
	nsecrets = nanswers = nfiles_scanned = 0;
	bytes_scanned = 0;
	leaks = "";
	scanned = " ";
}

/* ---- the run ---- */

static const char *login(const char *user, const char *pw, const char *what)
{
	struct reply *r = call("POST", NULL, jbody("{s:s, s:s}", "username", user, "password", pw),
			       "/auth/login");

	expect_status(r, 200);
	token_secret(what, jstr(r->json, "auth_token"), r);
	return jstr(r->json, "auth_token");
}

static void wrong_login(const char *user, const char *what)
{
	const char *pw = password(what);

	expect_error(call("POST", NULL, jbody("{s:s, s:s}", "username", user, "password", pw),
			  "/auth/login"),
		     401, "UNAUTHORIZED", NULL);
}

static void logout(const char *token)
{
	expect_status(call("POST", token, NULL, "/auth/logout"), 204);
	expect_error(call("GET", token, NULL, "/enzi/v0/config/auth"), 401, "UNAUTHORIZED", NULL);
}

static void change_password(const char *token, const char *user, const char *old,
			    const char *new_pw)
{
	struct reply *r =
	    call("POST", token, jbody("{s:s, s:s}", "oldPassword", old, "newPassword", new_pw),
		 ACCOUNTS "/%s/changePassword", user);

	expect_status(r, 200);
}

/*
 * A managed user's life: created with a password, logged in, a wrong
 * password, a wrong old password, a change, a body that breaks around the
 * password. alice's token after the change.
 */
static const char *managed_user(const char *admin_token)
{
	const char *first = password("alice's first password");
	const char *second = password("alice's new password");
	const char *token;

	expect_status(
	    call("POST", admin_token,
		 jbody("{s:s, s:s, s:s}", "name", "alice", "fullName", "Alice", "password", first),
		 ACCOUNTS),
	    201);
	token = login("alice", first, "alice's first token");
	wrong_login("alice", "a wrong password of alice");
	expect_error(call("POST", token,
			  jbody("{s:s, s:s}", "oldPassword", password("a wrong old password"),
				"newPassword", password("a refused new password")),
			  ACCOUNTS "/alice/changePassword"),
		     400, "INVALID_FORM", "oldPassword");
	change_password(token, "alice", first, second);
	token = login("alice", second, "alice's second token");
	/* a client that does not escape a backslash in a password sends broken JSON */
	expect_error(call("POST", NULL,
			  fmt("{\"username\":\"alice\",\"password\":\"%s\\q\"}",
			      password("a password in a broken login body")),
			  "/auth/login"),
		     400, "INVALID_JSON", NULL);
	return token;
}

/* ---- LDAP ---- */

static const char *ldif_person(const char *uid, const char *parent, const char *pw)
{
	return fmt("dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: Person %s\nsn: P\n"
		   "userPassword: %s\n\n",
		   uid, parent, uid, uid, pw);
}

/* A directory with its own reader password and one user, uid, with the password pw. */
static struct slapd *start_directory(const char *suffix, const char *people, const char *uid,
				     const char *pw, const char *server)
{
	struct slapd_opts o = {
	    .suffix = suffix,
	    .reader_password = password(fmt("the reader password of %s", server)),
	    .ldif = fmt("dn: %s\nobjectClass: organizationalUnit\nou: people\n\n%s", people,
			ldif_person(uid, people, pw))};
	struct slapd *d = slapd_new(suite_dir);

	ck_assert_msg(d != NULL && slapd_start(d, &o) == 0, "slapd for %s did not start", suffix);
	return d;
}

/* carol is in the default server's directory, dave in eu.example.com's. */
static json_t *ldap_settings(void)
{
	return keep_json(json_pack(
	    "{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s}], s:[{s:s, s:s}, {s:s, s:s}], s:b}",
	    "serverURL", corp->url, "readerDN", corp->reader_dn, "readerPassword", corp->reader_pw,
	    "additionalDomains", "domain", "eu.example.com", "serverURL", eu->url, "readerDN",
	    eu->reader_dn, "readerPassword", eu->reader_pw, "userSearchConfigs", "baseDN", PEOPLE,
	    "filter", "(objectClass=inetOrgPerson)", "baseDN", EU_PEOPLE, "filter",
	    "(objectClass=inetOrgPerson)", "jitUserProvisioning", 1));
}

static struct reply *try_login(const char *token, json_t *settings, const char *user,
			       const char *pw)
{
	return call(
	    "POST", token,
	    jbody("{s:s, s:s, s:O}", "username", user, "password", pw, "ldapSettings", settings),
	    LDAP_CONFIG "/tryLogin");
}

/*
 * Test logins (right, wrong user password, wrong reader password), the
 * settings saved and read back, LDAP logins on both servers (each
 * provisions its user) and a wrong one.
 */
static void ldap_run(const char *token, const char *carol_pw, const char *dave_pw)
{
	json_t *s = ldap_settings(), *bad_reader = keep_json(json_deep_copy(s));

	expect_status(try_login(token, s, "carol", carol_pw), 200);
	expect_error(try_login(token, s, "carol", password("a wrong password in a test login")),
		     400, "LDAP_ERROR", NULL);
	json_object_set_new(bad_reader, "readerPassword",
			    json_string(password("a wrong reader password in a test login")));
	expect_error(try_login(token, bad_reader, "dave", dave_pw), 400, "LDAP_ERROR", NULL);
	expect_status(call("PUT", token, keep(json_dumps(s, JSON_COMPACT)), LDAP_CONFIG), 200);
	expect_status(call("PUT", token, "{\"backend\":\"ldap\"}", "/enzi/v0/config/auth"), 200);
	expect_status(call("GET", token, NULL, LDAP_CONFIG), 200);
	login("carol", carol_pw, "carol's token");
	login("dave", dave_pw, "dave's token");
	wrong_login("carol", "a wrong LDAP password of carol");
	/* an unknown name is looked for in the directories (JIT) before it is refused */
	wrong_login("nobody", "a password given for an unknown user");
}

static bool job_running(const char *status)
{
	return strcmp(status, "waiting") == 0 || strcmp(status, "running") == 0;
}

/* A sync, to its end, and the log of every job listed. */
static void sync_run(const char *token)
{
	struct reply *r = call("POST", token, "{\"action\":\"ldap-sync\"}", JOBS);
	double deadline = it_now() + JOB_SECONDS;
	const char *id;
	json_t *job;
	size_t i;

	expect_status(r, 202);
	id = jstr(r->json, "id");
	ck_assert_ptr_nonnull(id);
	do {
		ck_assert_msg(it_now() < deadline, "job %s did not end in %d s", id, JOB_SECONDS);
		it_sleep_ms(50);
		r = call("GET", token, NULL, JOBS "/%s", id);
		expect_status(r, 200);
	} while (job_running(jstr(r->json, "status")));
	ck_assert_msg(strcmp(jstr(r->json, "status"), "done") == 0, "the sync ended: %s", r->body);
	r = call("GET", token, NULL, JOBS "?limit=100");
	expect_status(r, 200);
	json_array_foreach(jpath(r->json, "jobs"), i, job)
	    expect_status(call("GET", token, NULL, JOBS "/%s/logs", jstr(job, "id")), 200);
}

/* ---- keys ---- */

/* A file of a zip held in memory, NUL-terminated, kept in the arena. */
static const char *zip_entry(const struct reply *r, const char *name)
{
	zip_error_t err;
	zip_source_t *src;
	zip_t *z;
	zip_file_t *f;
	zip_stat_t st;
	char *text;

	zip_error_init(&err);
	src = zip_source_buffer_create(r->body, r->len, 0, &err);
	z = src ? zip_open_from_source(src, ZIP_RDONLY, &err) : NULL;
	ck_assert_msg(z != NULL, "%s: not a zip: %s", r->what, zip_error_strerror(&err));
	ck_assert_msg(zip_stat(z, name, 0, &st) == 0 && (f = zip_fopen(z, name, 0)) != NULL,
		      "%s: no %s in the zip", r->what, name);
	text = calloc(1, st.size + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(zip_fread(f, text, st.size), (zip_int64_t)st.size);
	zip_fclose(f);
	zip_discard(z);
	zip_error_fini(&err);
	return keep(text);
}

/* A bundle's key exists only in its download (SPEC §7.2). */
static void bundle(const char *token, const char *query, const char *what)
{
	struct reply *r = call("GET", token, NULL, "/api/clientbundle?%s", query);

	expect_status(r, 200);
	key_secret(what, zip_entry(r, "key.pem"), NULL, r);
}

/* The keys authd makes at first start; the CAs' stay in ca/, the server's until replaced. */
static void first_start_keys(void)
{
	key_secret("the cluster CA's key", read_text(fmt("%s/ca/cluster-ca-key.pem", srv->dir)),
		   "ca/cluster-ca-key.pem", NULL);
	key_secret("the client CA's key", read_text(fmt("%s/ca/client-ca-key.pem", srv->dir)),
		   "ca/client-ca-key.pem", NULL);
	key_secret("the generated server key (replaced by the upload)",
		   read_text(fmt("%s/tls/server-key.pem", srv->dir)), NULL, NULL);
}

/*
 * Replaces the served certificate (SPEC §7.5). authd must keep the new key
 * to serve it after a restart: in home (tls/server-key.pem), and only there;
 * NULL where it is kept sealed in the store.
 */
static void upload_server_cert(const char *token, const char *home)
{
	const char *sans[] = {"127.0.0.1", "localhost"}, *ca_path = fmt("%s/upload-ca.pem", wd);
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	struct bdl_ca ca = {NULL, NULL};
	struct failure err;
	X509 *cert;

	ck_assert_msg(key != NULL && bdl_ca_generate("secrets audit CA", 30, &ca, &err) == 0,
		      "a CA for the upload: %s", err.message);
	cert = bdl_issue_server_cert(&ca, key, "localhost", sans, 2, 30, &err);
	ck_assert_msg(cert != NULL, "a certificate for the upload: %s", err.message);
	const char *ca_pem = keep(bdl_cert_pem(ca.cert)), *key_pem = keep(bdl_key_pem(key));
	struct reply *r = call("PUT", token,
			       jbody("{s:s, s:s, s:s}", "ca", ca_pem, "cert",
				     keep(bdl_cert_pem(cert)), "key", key_pem),
			       "/api/config/certs");

	expect_status(r, 200);
	key_secret("the uploaded server key", key_pem, home, NULL);
	X509_free(cert);
	EVP_PKEY_free(key);
	bdl_ca_free(&ca);
	/* new connections get the new certificate: the harness must trust its CA */
	ck_assert_int_eq(it_write_file(ca_path, ca_pem), 0);
	snprintf(srv->cainfo, sizeof(srv->cainfo), "%s", ca_path);
	http_close();
	expect_status(call("GET", token, NULL, "/api/config/certs"), 200);
}

/* ---- the audit's end ---- */

/*
 * Searched while authd runs, for the database's WAL and shared memory,
 * which a clean stop folds into the database and removes, and again once
 * it has stopped, for what it writes on the way out.
 */
/* secret.key: where store.keyFile's key seals the LDAP reader passwords there is none. */
static void stop_and_audit(bool has_secret_key)
{
	int status;

	scan_data_dir();
	status = authd_stop(srv);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "authd stopped with %d",
		      status);
	scan_data_dir();
	scan_answers();
	if (srv->dsn[0] != '\0') {
		expect_scanned("server.log");
		expect_scanned("data/global/pg_control");
	} else {
		expect_scanned("authd.db");
		expect_scanned("authd.db-wal");
		expect_scanned("authd.db-shm");
	}
	expect_scanned("audit.log");
	if (has_secret_key)
		expect_scanned("secret.key");
	else
		ck_assert_msg(access(fmt("%s/secret.key", srv->dir), F_OK) != 0,
			      "a secret.key was made beside store.keyFile");
	expect_scanned(srv->log + strlen(srv->dir) + 1);
	expect_no_leak();
}

START_TEST(test_full_run_leaves_no_secret_behind)
{
	const char *admin_pw, *carol_pw, *dave_pw, *token, *alice;

	audit_reset();
	require_tools(tools);
	admin_pw = password("the admin password (AUTHD_ADMIN_PASSWORD)");
	carol_pw = password("carol's LDAP password");
	dave_pw = password("dave's LDAP password");
	corp =
	    start_directory("dc=example,dc=com", PEOPLE, "carol", carol_pw, "the default server");
	eu = start_directory(EU_SUFFIX, EU_PEOPLE, "dave", dave_pw, "eu.example.com");
	srv = authd_new(CONFIG);
	ck_assert_msg(srv != NULL && authd_start(srv, admin_pw) == 0, "authd did not start");
	first_start_keys();

	token = login("admin", admin_pw, "the admin's token");
	wrong_login("admin", "a wrong admin password");
	alice = managed_user(token);
	ldap_run(token, carol_pw, dave_pw);
	sync_run(token);
	bundle(token, "label=admin-laptop", "the admin's bundle key");
	bundle(alice, "label=alice-laptop", "alice's bundle key");
	expect_status(call("GET", alice, NULL, ACCOUNTS "/alice/publicKeys"), 200);
	upload_server_cert(token, "tls/server-key.pem");
	/* the audit log as its API shows it, searched like any other answer */
	expect_status(call("GET", token, NULL, "/api/audit?limit=1000"), 200);
	logout(alice);
	logout(token);

	stop_and_audit(true);
	authd_free(srv);
	slapd_free(corp);
	slapd_free(eu);
	srv = NULL;
	corp = eu = NULL;
}
END_TEST

/*
 * Without AUTHD_ADMIN_PASSWORD the first admin's password is generated and
 * written to initial-admin-password (0600, SPEC §1): there, and nowhere else.
 */
START_TEST(test_generated_admin_password_stays_in_its_file)
{
	const char *generated, *token;

	audit_reset();
	srv = authd_new(CONFIG);
	ck_assert_msg(srv != NULL && authd_start(srv, NULL) == 0, "authd did not start");
	generated = read_text(fmt("%s/initial-admin-password", srv->dir));
	/* the one secret with a home that is not a key file */
	text_secret("the generated admin password", generated, NULL)->home =
	    "initial-admin-password";
	token = login("admin", generated, "the admin's token");
	wrong_login("admin", "a wrong admin password");
	change_password(token, "admin", generated, password("the admin's new password"));
	logout(token);
	stop_and_audit(true);
	authd_free(srv);
	srv = NULL;
}
END_TEST

/* A CA of the audit's own in the data dir before the first start: its key is known here. */
static void own_ca(const char *name)
{
	struct bdl_ca ca = {NULL, NULL};
	struct failure err;
	const char *rel = fmt("ca/%s-key.pem", name);

	ck_assert(mkdir(fmt("%s/ca", srv->dir), 0700) == 0 || errno == EEXIST);
	ck_assert_msg(bdl_ca_generate(name, 30, &ca, &err) == 0 &&
			  bdl_ca_save(&ca, fmt("%s/ca/%s.pem", srv->dir, name),
				      fmt("%s/%s", srv->dir, rel), &err) == 0,
		      "%s", err.message);
	key_secret(fmt("%s's key", name), keep(bdl_key_pem(ca.key)), rel, NULL);
	bdl_ca_free(&ca);
}

/*
 * On PostgreSQL with store.keyFile, the CAs and the served certificate are
 * kept in the store, their keys sealed: the database's files hold none of
 * them, nor the key file's key, in any form.
 */
START_TEST(test_store_keeps_tls_keys_sealed)
{
	char dsn[IT_PATH_LEN];
	const char *key_path = fmt("%s/store.key", wd), *token, *key, *admin_pw;
	unsigned char *raw;
	struct secret *kek;
	long rawlen = 0;

	audit_reset();
	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	ck_assert_int_eq(system(fmt("umask 077 && openssl rand -hex 32 > '%s'", key_path)), 0);
	key = keep(strndup(read_text(key_path), 64));
	kek = text_secret("store.keyFile's key", key, NULL);
	raw = OPENSSL_hexstr2buf(key, &rawlen);
	ck_assert_msg(raw != NULL && rawlen == 32, "the key file is not 64 hex digits");
	add_needle(kek, "the key's bytes", keep((char *)raw), (size_t)rawlen);
	admin_pw = password("the admin password (AUTHD_ADMIN_PASSWORD)");
	srv = authd_new(jbody("{s:{s:s}, s:{s:s, s:s, s:s}}", "log", "level", "debug", "store",
			      "driver", "postgres", "dsn", dsn, "keyFile", key_path));
	ck_assert_ptr_nonnull(srv);
	memcpy(srv->dsn, dsn, sizeof(srv->dsn));
	own_ca("cluster-ca");
	own_ca("client-ca");
	ck_assert_msg(authd_start(srv, admin_pw) == 0, "authd did not start");
	token = login("admin", admin_pw, "the admin's token");
	bundle(token, "label=admin-laptop", "the admin's bundle key");
	upload_server_cert(token, NULL);
	logout(token);
	stop_and_audit(false);
	authd_free(srv);
	srv = NULL;
}
END_TEST

static Suite *secrets_suite(void)
{
	Suite *s = suite_create("secrets");
	TCase *tc = server_case("audit", NULL, NULL, TEST_TIMEOUT);

	tcase_add_test(tc, test_full_run_leaves_no_secret_behind);
	tcase_add_test(tc, test_generated_admin_password_stays_in_its_file);
	if (it_pg_wanted())
		tcase_add_test(tc, test_store_keeps_tls_keys_sealed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	static Suite *(*const suites[])(void) = {secrets_suite, NULL};

	/* a failed test's directories die with its process (their parent-death signal) */
	return run_suites("authd-secrets", suites, NULL);
}
