/*
 * Integration-test fixture for real OpenLDAP servers: the test CA (through
 * libbundles), slapd.conf and LDIF generation, slapadd, and slapd processes
 * started, waited for and stopped by pid even when a test fails.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bundles.h"
#include "engine.h"
#include "slapd.h"

#define POOL_SIZE 8
#define START_ATTEMPTS 3
#define READY_SECONDS 10
#define STOP_SECONDS 10
#define TOOL_SECONDS 30
#define CERT_DAYS 30
#define ROOT_PW "root-secret"
#define SCHEMA_DIR "/etc/ldap/schema"
#define MODULE_DIR "/usr/lib/ldap"

static struct slapd pool[POOL_SIZE];
static bool exit_hook_installed;

/*
 * slapd and the LDAP tools run with this environment only: LDAPNOINIT keeps
 * /etc/ldap/ldap.conf, ~/.ldaprc and the caller's LDAP* variables out of it.
 */
static const char *const tool_env[] = {"PATH=" CMD_PATH, "LC_ALL=C", "LDAPNOINIT=1", NULL};

/* ---- the test CA ---- */

static bool has_file(const char *dir, const char *name)
{
	char path[IT_PATH_LEN + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, R_OK) == 0;
}

static int write_pem(const char *dir, const char *name, char *pem, bool secret, struct failure *err)
{
	char path[IT_PATH_LEN + 32];
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (pem == NULL)
		failure_set(err, "encoding %s: out of memory", name);
	else
		rc = file_write(path, pem, strlen(pem), secret ? 0600 : 0644, err);
	if (secret)
		bdl_free_secret(pem);
	else
		free(pem);
	return rc;
}

/*
 * libldap checks a certificate for "localhost" against this host's name
 * (ldap_pvt_get_fqdn), so the names include it and its canonical form.
 */
static size_t host_names(char host[256], char canon[256], const char *sans[], size_t n)
{
	struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *res = NULL;

	if (gethostname(host, 256) != 0 || host[0] == '\0')
		return n;
	host[255] = '\0';
	if (strcasecmp(host, "localhost") != 0)
		sans[n++] = host;
	if (getaddrinfo(host, NULL, &hints, &res) == 0 && res->ai_canonname != NULL &&
	    strcasecmp(res->ai_canonname, host) != 0) {
		snprintf(canon, 256, "%s", res->ai_canonname);
		sans[n++] = canon;
	}
	if (res != NULL)
		freeaddrinfo(res);
	return n;
}

int slapd_test_ca(const char *dir)
{
	char host[256], canon[256], ca_path[IT_PATH_LEN + 32], ca_key_path[IT_PATH_LEN + 32];
	struct failure err = {""};
	const char *sans[4] = {"127.0.0.1", "localhost"};
	size_t nsans = host_names(host, canon, sans, 2);
	struct bdl_ca ca = {0}, other = {0};
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc = -1;

	if (has_file(dir, SLAPD_CA_FILE) && has_file(dir, SLAPD_OTHER_CA_FILE) &&
	    has_file(dir, SLAPD_CERT_FILE) && has_file(dir, SLAPD_KEY_FILE))
		return 0;
	snprintf(ca_path, sizeof(ca_path), "%s/%s", dir, SLAPD_CA_FILE);
	snprintf(ca_key_path, sizeof(ca_key_path), "%s/ca-key.pem", dir);
	if (bdl_ca_generate("authd test LDAP CA", CERT_DAYS, &ca, &err) != 0 ||
	    bdl_ca_generate("authd unrelated CA", CERT_DAYS, &other, &err) != 0)
		goto out;
	key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	if (key == NULL) {
		failure_set(&err, "generating the server key failed");
		goto out;
	}
	cert = bdl_issue_server_cert(&ca, key, "localhost", sans, nsans, CERT_DAYS, &err);
	if (cert == NULL)
		goto out;
	/* ca.pem last: the others must exist whenever it does */
	if (write_pem(dir, SLAPD_KEY_FILE, bdl_key_pem(key), true, &err) != 0 ||
	    write_pem(dir, SLAPD_CERT_FILE, bdl_cert_pem(cert), false, &err) != 0 ||
	    write_pem(dir, SLAPD_OTHER_CA_FILE, bdl_cert_pem(other.cert), false, &err) != 0 ||
	    bdl_ca_save(&ca, ca_path, ca_key_path, &err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "cannot make the test LDAP CA in %s: %s\n", dir, err.message);
	X509_free(cert);
	EVP_PKEY_free(key);
	bdl_ca_free(&ca);
	bdl_ca_free(&other);
	return rc;
}

/* ---- instances ---- */

static void stop_leftovers(void)
{
	for (int i = 0; i < POOL_SIZE; i++)
		if (pool[i].in_use && pool[i].owner == getpid())
			slapd_free(&pool[i]);
}

struct slapd *slapd_new(const char *parent)
{
	struct slapd *s = NULL;

	for (int i = 0; i < POOL_SIZE && s == NULL; i++)
		if (!pool[i].in_use)
			s = &pool[i];
	if (s == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/slapd-XXXXXX", parent);
	if (mkdtemp(s->dir) == NULL)
		return NULL;
	snprintf(s->conf, sizeof(s->conf), "%s/slapd.conf", s->dir);
	s->in_use = true;
	s->owner = getpid();
	s->last_status = -1;
	if (!exit_hook_installed) {
		/* a failing fixture leaves the test process through exit(): stop servers then */
		atexit(stop_leftovers);
		exit_hook_installed = true;
	}
	return s;
}

/* <dir>/<name>, into buf. */
static const char *in_dir(const struct slapd *s, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", s->dir, name);
	return buf;
}

/*
 * The database's ACLs, in order: the password only serves binds; the reader
 * and every bound user read the rest; anonymous users get nothing. The root
 * DN is above ACLs.
 */
static void write_acls(FILE *f, const struct slapd *s)
{
	fprintf(f, "access to attrs=userPassword\n"
		   "\tby anonymous auth\n"
		   "\tby * none\n");
	fprintf(f,
		"access to *\n"
		"\tby dn.exact=\"%s\" read\n"
		"\tby users read\n"
		"\tby * none\n",
		s->reader_dn);
}

/*
 * The size limit. slapd counts a paged search's entries against
 * size.prtotal, which defaults to the hard limit: without
 * size.prtotal=unlimited a paged search would stop at the limit too. The
 * page size itself is not bounded (size.pr): a smaller bound would refuse a
 * page of 500 with adminLimitExceeded instead of serving smaller pages.
 * With no limit asked for, slapd's default of 500 must not apply either.
 */
static void write_size_limit(FILE *f, int limit)
{
	if (limit <= 0)
		fprintf(f, "sizelimit unlimited\n");
	else
		fprintf(f,
			"sizelimit size.soft=%d size.hard=%d size.pr=unlimited "
			"size.prtotal=unlimited\n",
			limit, limit);
}

static int write_conf(const struct slapd *s, const struct slapd_opts *o)
{
	static const char *const schemas[] = {"core", "cosine", "inetorgperson", "nis"};
	char path[IT_PATH_LEN + 32];
	FILE *f = fopen(s->conf, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "# %s: written by the integration-test fixture, for %s\n", s->conf, s->suffix);
	for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
		fprintf(f, "include %s/%s.schema\n", SCHEMA_DIR, schemas[i]);
	fprintf(f, "pidfile \"%s\"\n", in_dir(s, "slapd.pid", path, sizeof(path)));
	fprintf(f, "argsfile \"%s\"\n", in_dir(s, "slapd.args", path, sizeof(path)));
	fprintf(f, "modulepath %s\nmoduleload back_mdb\nmoduleload memberof\n", MODULE_DIR);
	/* values stored under "member;range=0-1499" answer a request for member as Active
	 * Directory's first range does: the closest slapd comes to ranged retrieval */
	fprintf(f, "attributeoptions range=\n");
	if (o->allow_bind_anon_dn)
		fprintf(f, "allow bind_anon_dn\n");
	if (o->tls_dir != NULL) {
		fprintf(f, "TLSCACertificateFile \"%s/%s\"\n", o->tls_dir, SLAPD_CA_FILE);
		fprintf(f, "TLSCertificateFile \"%s/%s\"\n", o->tls_dir, SLAPD_CERT_FILE);
		fprintf(f, "TLSCertificateKeyFile \"%s/%s\"\n", o->tls_dir, SLAPD_KEY_FILE);
	}
	/* outside every database: what anonymous clients may read to find their way */
	fprintf(f, "access to dn.base=\"\" by * read\n"
		   "access to dn.base=\"cn=Subschema\" by * read\n");
	fprintf(f, "database mdb\nsuffix \"%s\"\nrootdn \"%s\"\nrootpw %s\n", s->suffix, s->root_dn,
		s->root_pw);
	fprintf(f, "directory \"%s\"\n", in_dir(s, "db", path, sizeof(path)));
	/* a sparse map; dbnosync because a test database need not survive a power cut */
	fprintf(f, "maxsize 268435456\ndbnosync\n");
	write_size_limit(f, o->size_limit);
	fprintf(f, "overlay memberof\n");
	write_acls(f, s);
	return fclose(f) == 0 ? 0 : -1;
}

/* The suffix's own entry, made from its first RDN; -1 for a type it cannot make. */
static int write_suffix_entry(FILE *f, const char *suffix)
{
	size_t rdn = strcspn(suffix, ",");
	const char *eq = memchr(suffix, '=', rdn);
	int type_len, value_len;
	const char *value;

	if (eq == NULL)
		return -1;
	type_len = (int)(eq - suffix);
	value = eq + 1;
	value_len = (int)(suffix + rdn - value);
	fprintf(f, "dn: %s\n", suffix);
	if (type_len == 2 && strncasecmp(suffix, "dc", 2) == 0)
		fprintf(f, "objectClass: dcObject\nobjectClass: organization\ndc: %.*s\no: %.*s\n",
			value_len, value, value_len, value);
	else if (type_len == 1 && strncasecmp(suffix, "o", 1) == 0)
		fprintf(f, "objectClass: organization\no: %.*s\n", value_len, value);
	else if (type_len == 2 && strncasecmp(suffix, "ou", 2) == 0)
		fprintf(f, "objectClass: organizationalUnit\nou: %.*s\n", value_len, value);
	else
		return -1;
	fprintf(f, "\n");
	return 0;
}

/* Length of the line at p without its end of line; *next is where the following one starts. */
static size_t line_at(const char *p, const char **next)
{
	const char *nl = strchr(p, '\n');
	size_t len = nl ? (size_t)(nl - p) : strlen(p);

	*next = nl ? nl + 1 : p + len;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	return len;
}

/* True when an unfolded LDIF line says "objectClass: groupOfNames". */
static bool names_group(const char *line)
{
	const char *v;
	size_t n;

	if (strncasecmp(line, "objectclass:", 12) != 0)
		return false;
	for (v = line + 12; *v == ' '; v++)
		;
	n = strlen(v);
	while (n > 0 && v[n - 1] == ' ')
		n--;
	return n == 12 && strncasecmp(v, "groupOfNames", 12) == 0;
}

/*
 * Whether the record [p, end) is a groupOfNames. Lines are unfolded first
 * (a line starting with a space continues the one before) into a bounded
 * buffer: a line longer than that is not "objectClass: groupOfNames".
 */
static bool record_is_group(const char *p, const char *end)
{
	char logical[128] = "";
	size_t used = 0;
	bool too_long = false;

	while (p < end) {
		const char *next;
		size_t len = line_at(p, &next);
		bool cont = len > 0 && p[0] == ' ';

		if (!cont) {
			if (!too_long && names_group(logical))
				return true;
			used = 0;
			too_long = false;
		}
		if (cont) {
			p++;
			len--;
		}
		if (used + len < sizeof(logical)) {
			memcpy(logical + used, p, len);
			used += len;
		} else {
			too_long = true;
		}
		logical[used] = '\0';
		p = next;
	}
	return !too_long && names_group(logical);
}

/* Whether the record [p, end) stores values under the range= option ("member;range=0-9:"). */
static bool record_has_range(const char *p, const char *end)
{
	for (; p + 7 <= end; p++)
		if (strncasecmp(p, ";range=", 7) == 0)
			return true;
	return false;
}

/*
 * Copies the caller's records to base (for slapadd) or, for groupOfNames
 * entries, to groups (added over LDAP once slapd runs, so that the memberof
 * overlay sees them). A group whose values use the range= option goes to
 * base: slapd takes range= for a tag range and refuses it in an add over
 * LDAP, while slapadd stores it. A leading "version:" line is dropped: the
 * records are appended to the fixture's own.
 */
static void split_ldif(const char *ldif, FILE *base, FILE *groups, int *ngroups)
{
	const char *p = ldif;

	*ngroups = 0;
	while (*p != '\0') {
		const char *next, *start, *end;
		size_t len = line_at(p, &next);

		if (len == 0) {
			p = next;
			continue;
		}
		if (strncasecmp(p, "version:", 8) == 0) {
			p = next;
			continue;
		}
		start = p;
		while (*p != '\0' && line_at(p, &next) > 0)
			p = next;
		end = p;
		FILE *to =
		    record_is_group(start, end) && !record_has_range(start, end) ? groups : base;

		if (to == groups)
			(*ngroups)++;
		fwrite(start, 1, (size_t)(end - start), to);
		if (end[-1] != '\n')
			fputc('\n', to);
		fputc('\n', to);
	}
}

/* base.ldif: the suffix, the reader, then the caller's entries but groups; groups.ldif those. */
static int write_ldif(const struct slapd *s, const char *ldif, int *ngroups)
{
	char path[IT_PATH_LEN + 32];
	FILE *base = fopen(in_dir(s, "base.ldif", path, sizeof(path)), "w");
	FILE *groups = fopen(in_dir(s, "groups.ldif", path, sizeof(path)), "w");
	int rc = -1;

	*ngroups = 0;
	if (base == NULL || groups == NULL)
		goto out;
	if (write_suffix_entry(base, s->suffix) != 0) {
		fprintf(stderr,
			"slapd fixture: cannot make an entry for the suffix %s "
			"(its first RDN must be dc=, o= or ou=)\n",
			s->suffix);
		goto out;
	}
	fprintf(base,
		"dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
		"cn: reader\nuserPassword: %s\n\n",
		s->reader_dn, s->reader_pw);
	if (ldif != NULL)
		split_ldif(ldif, base, groups, ngroups);
	rc = 0;
out:
	if (base != NULL && fclose(base) != 0)
		rc = -1;
	if (groups != NULL && fclose(groups) != 0)
		rc = -1;
	return rc;
}

/* ldapmodify as the root DN with file as input (and extra, e.g. "-a", when not NULL). */
static int run_ldapmodify(const struct slapd *s, const char *file, const char *extra,
			  const char *out)
{
	char pw[IT_PATH_LEN + 32];
	const char *argv[12];
	int argc = 0, rc;

	argv[argc++] = "ldapmodify";
	argv[argc++] = "-x";
	argv[argc++] = "-H";
	argv[argc++] = s->url;
	argv[argc++] = "-D";
	argv[argc++] = s->root_dn;
	argv[argc++] = "-y"; /* the password from a file: it stays out of the process list */
	argv[argc++] = in_dir(s, "root.pw", pw, sizeof(pw));
	if (extra != NULL)
		argv[argc++] = extra;
	argv[argc++] = "-f";
	argv[argc++] = file;
	argv[argc] = NULL;
	rc = cmd_run(argv, tool_env, s->dir, out, TOOL_SECONDS);
	if (rc != 0)
		it_print_tail(out, "ldapmodify failed");
	return rc;
}

static int run_slapadd(const struct slapd *s)
{
	char ldif[IT_PATH_LEN + 32], out[IT_PATH_LEN + 32];
	int rc;

	/* -q: a fresh database need not be checked entry by entry, which is slow */
	const char *argv[] = {
	    "slapadd", "-q", "-f", s->conf, "-l", in_dir(s, "base.ldif", ldif, sizeof(ldif)), NULL};
	rc = cmd_run(argv, tool_env, s->dir, in_dir(s, "slapadd.log", out, sizeof(out)),
		     TOOL_SECONDS);
	if (rc != 0)
		it_print_tail(out, "slapadd failed");
	return rc == 0 ? 0 : -1;
}

/* True once an anonymous base search of the root DSE succeeds. */
static bool answers(const struct slapd *s)
{
	char out[IT_PATH_LEN + 32];
	const char *argv[] = {"ldapsearch", "-x", "-H", s->url, "-o",	"nettimeout=2",	  "-l", "2",
			      "-b",	    "",	  "-s", "base", "-LLL", "namingContexts", NULL};

	return cmd_run(argv, tool_env, s->dir, in_dir(s, "probe.log", out, sizeof(out)), 5) == 0;
}

/* Reaps slapd if it has exited; true when it is gone. */
static bool reaped(struct slapd *s, int options)
{
	int status;

	if (s->pid <= 0)
		return true;
	if (waitpid(s->pid, &status, options) != s->pid)
		return false;
	s->last_status = status;
	s->pid = 0;
	return true;
}

/* Starts slapd in the foreground (-d) so that the pid held is the server's. */
static int spawn(struct slapd *s)
{
	char urls[160], log[32];

	if (s->ldaps_port > 0)
		snprintf(urls, sizeof(urls), "ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", s->port,
			 s->ldaps_port);
	else
		snprintf(urls, sizeof(urls), "ldap://127.0.0.1:%d/", s->port);
	snprintf(log, sizeof(log), "slapd-%d.log", ++s->starts);
	in_dir(s, log, s->log, sizeof(s->log));
	/* "stats": every connection, operation and result code lands in the log */
	const char *argv[] = {"slapd", "-d", "stats", "-f", s->conf, "-h", urls, NULL};
	s->pid = cmd_spawn(argv, tool_env, s->dir, s->log);
	return s->pid > 0 ? 0 : -1;
}

/* 0 when it answers; -2 when it exited; -1 on timeout (it is killed then). */
static int wait_ready(struct slapd *s)
{
	double deadline = it_now() + READY_SECONDS;

	while (it_now() < deadline) {
		if (reaped(s, WNOHANG))
			return -2;
		if (answers(s))
			return 0;
		it_sleep_ms(20);
	}
	slapd_kill(s);
	return -1;
}

/* A port picked as free can be taken by someone else before slapd binds it. */
static bool lost_port_race(const struct slapd *s)
{
	char *text = it_read_file(s->log, NULL);
	bool lost = text != NULL && strstr(text, "errno=98") != NULL;

	free(text);
	return lost;
}

static void set_urls(struct slapd *s)
{
	snprintf(s->url, sizeof(s->url), "ldap://127.0.0.1:%d", s->port);
	if (s->ldaps_port > 0)
		snprintf(s->ldaps_url, sizeof(s->ldaps_url), "ldaps://127.0.0.1:%d", s->ldaps_port);
}

static int pick_ports(struct slapd *s, bool tls)
{
	s->port = it_free_port();
	s->ldaps_port = 0;
	if (s->port <= 0)
		return -1;
	while (tls && (s->ldaps_port <= 0 || s->ldaps_port == s->port)) {
		s->ldaps_port = it_free_port();
		if (s->ldaps_port < 0)
			return -1;
	}
	set_urls(s);
	return 0;
}

/* Names, config, password file and database of a first start. */
static int prepare(struct slapd *s, const struct slapd_opts *o, int *ngroups)
{
	char path[IT_PATH_LEN + 32];
	struct failure err;

	if (o->suffix == NULL || strlen(o->suffix) >= sizeof(s->suffix) ||
	    strpbrk(o->suffix, "\"\\\n") != NULL) {
		fprintf(stderr,
			"slapd fixture: a suffix without quotes, backslashes or newlines, "
			"shorter than %zu bytes, is required\n",
			sizeof(s->suffix));
		return -1;
	}
	snprintf(s->suffix, sizeof(s->suffix), "%s", o->suffix);
	snprintf(s->root_dn, sizeof(s->root_dn), "cn=admin,%s", s->suffix);
	snprintf(s->root_pw, sizeof(s->root_pw), "%s", ROOT_PW);
	snprintf(s->reader_dn, sizeof(s->reader_dn), "cn=reader,%s", s->suffix);
	snprintf(s->reader_pw, sizeof(s->reader_pw), "%s",
		 o->reader_password ? o->reader_password : SLAPD_READER_PW);
	if (o->tls_dir != NULL)
		snprintf(s->ca, sizeof(s->ca), "%s/%s", o->tls_dir, SLAPD_CA_FILE);
	/* ldapmodify -y warns about a password file others can read */
	if (mkdir(in_dir(s, "db", path, sizeof(path)), 0700) != 0 || write_conf(s, o) != 0 ||
	    file_write(in_dir(s, "root.pw", path, sizeof(path)), s->root_pw, strlen(s->root_pw),
		       0600, &err) != 0 ||
	    write_ldif(s, o->ldif, ngroups) != 0) {
		fprintf(stderr, "slapd fixture: cannot write the files in %s\n", s->dir);
		return -1;
	}
	return run_slapadd(s);
}

int slapd_start(struct slapd *s, const struct slapd_opts *o)
{
	char groups[IT_PATH_LEN + 32], out[IT_PATH_LEN + 32];
	int ngroups = 0, rc = -1;

	if (s == NULL || !s->in_use || s->owner != getpid() || s->starts > 0) {
		fprintf(stderr,
			"slapd fixture: slapd_start wants a new instance of this process\n");
		return -1;
	}
	if (prepare(s, o, &ngroups) != 0)
		return -1;
	for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
		if (pick_ports(s, o->tls_dir != NULL) != 0 || spawn(s) != 0)
			return -1;
		rc = wait_ready(s);
		if (rc != -2 || !lost_port_race(s))
			break;
	}
	if (rc != 0) {
		it_print_tail(s->log, "slapd did not start");
		return -1;
	}
	if (ngroups > 0 && run_ldapmodify(s, in_dir(s, "groups.ldif", groups, sizeof(groups)), "-a",
					  in_dir(s, "groups.log", out, sizeof(out))) != 0) {
		slapd_stop(s);
		return -1;
	}
	return 0;
}

int slapd_restart(struct slapd *s)
{
	int rc;

	if (s == NULL || !s->in_use || s->owner != getpid() || s->starts == 0 || s->pid > 0) {
		fprintf(stderr, "slapd fixture: slapd_restart wants a stopped instance of this "
				"process that started once\n");
		return -1;
	}
	if (spawn(s) != 0)
		return -1;
	/* the same ports: clients configured with its URLs must find it again */
	rc = wait_ready(s);
	if (rc != 0)
		it_print_tail(s->log, "slapd did not restart");
	return rc == 0 ? 0 : -1;
}

/* Only the process that started slapd can reap it: tests forked from it may only use it. */
static bool owned_and_running(const struct slapd *s, const char *what)
{
	if (s == NULL || s->pid <= 0)
		return false;
	if (s->owner != getpid()) {
		fprintf(stderr, "slapd fixture: %s: slapd %d belongs to process %d, not to %d\n",
			what, (int)s->pid, (int)s->owner, (int)getpid());
		return false;
	}
	return true;
}

int slapd_stop(struct slapd *s)
{
	double deadline = it_now() + STOP_SECONDS;

	if (!owned_and_running(s, "slapd_stop"))
		return -1;
	kill(s->pid, SIGTERM);
	while (!reaped(s, WNOHANG)) {
		if (it_now() > deadline) {
			fprintf(stderr, "slapd %d ignored SIGTERM for %d s; killing it\n",
				(int)s->pid, STOP_SECONDS);
			return slapd_kill(s);
		}
		it_sleep_ms(10);
	}
	return s->last_status;
}

int slapd_kill(struct slapd *s)
{
	if (!owned_and_running(s, "slapd_kill"))
		return -1;
	kill(s->pid, SIGKILL);
	reaped(s, 0);
	return s->last_status;
}

/* ldapmodify of the given records; with relax, operational attributes may be given too. */
static int modify(struct slapd *s, const char *ldif, bool relax)
{
	char name[48], file[IT_PATH_LEN + 48], out[IT_PATH_LEN + 48];

	if (s == NULL || s->pid <= 0) {
		fprintf(stderr, "slapd fixture: slapd_modify on a server that is not running\n");
		return -1;
	}
	/* tests forked from one process share the counter's value: the pid tells them apart */
	snprintf(name, sizeof(name), "change-%d-%d.ldif", (int)getpid(), ++s->changes);
	if (it_write_file(in_dir(s, name, file, sizeof(file)), ldif) != 0)
		return -1;
	snprintf(name, sizeof(name), "change-%d-%d.log", (int)getpid(), s->changes);
	return run_ldapmodify(s, file, relax ? "-erelax" : NULL, in_dir(s, name, out, sizeof(out)));
}

int slapd_modify(struct slapd *s, const char *ldif)
{
	return modify(s, ldif, false);
}

int slapd_restore(struct slapd *s, const char *ldif)
{
	return modify(s, ldif, true);
}

int slapd_entry_uuid(struct slapd *s, const char *dn, char *out, size_t len)
{
	char pw[IT_PATH_LEN + 32], path[IT_PATH_LEN + 48], name[48];
	const char *argv[] = {"ldapsearch",
			      "-x",
			      "-LLL",
			      "-o",
			      "ldif-wrap=no",
			      "-H",
			      s->url,
			      "-D",
			      s->root_dn,
			      "-y",
			      in_dir(s, "root.pw", pw, sizeof(pw)),
			      "-b",
			      dn,
			      "-s",
			      "base",
			      "(objectClass=*)",
			      "entryUUID",
			      NULL};
	char *text, *at;
	int rc;

	out[0] = '\0';
	snprintf(name, sizeof(name), "uuid-%d-%d.ldif", (int)getpid(), ++s->changes);
	rc = cmd_run(argv, tool_env, s->dir, in_dir(s, name, path, sizeof(path)), TOOL_SECONDS);
	text = rc == 0 ? it_read_file(path, NULL) : NULL;
	at = text ? strstr(text, "\nentryUUID: ") : NULL;
	if (at != NULL)
		snprintf(out, len, "%.*s", (int)strcspn(at + 12, "\r\n"), at + 12);
	free(text);
	return out[0] != '\0' ? 0 : -1;
}

void slapd_free(struct slapd *s)
{
	if (s == NULL || !s->in_use || s->owner != getpid())
		return;
	slapd_stop(s);
	if (getenv("AUTHD_TEST_KEEP") != NULL)
		fprintf(stderr, "kept slapd dir %s\n", s->dir);
	else
		cmd_remove_tree(s->dir);
	s->in_use = false;
}
