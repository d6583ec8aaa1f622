/*
 * Integration-test fixture for Samba's AD domain controller: provisioning,
 * offline loading with ldbadd, the daemon started in the foreground, waited for
 * over LDAPS and stopped by pid even when a test fails.
 */
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundles.h"
#include "engine.h"
#include "samba.h"
#include "slapd.h"

#define PROVISION_SECONDS 180
#define LOAD_SECONDS 300
#define READY_SECONDS 60
#define STOP_SECONDS 15
#define TOOL_SECONDS 60
#define BATCH 400 /* records per ldbadd transaction: its cost grows with their square */
#define ADMIN_PW "Samba-Adm1n-Passw0rd"

static struct samba slot;
static bool exit_hook_installed;

/* <dir>/<name>, into buf. */
static const char *in_dir(const struct samba *s, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", s->dir, name);
	return buf;
}

/*
 * The tools' environment: the DC's CA for ldapmodify and ldapsearch, and no
 * ldap.conf or ldaprc of the machine's (LDAPNOINIT would drop LDAPTLS_CACERT too).
 */
static void tool_env(const struct samba *s, char ca[IT_PATH_LEN + 16], char home[IT_PATH_LEN + 8],
		     const char *env[6])
{
	snprintf(ca, IT_PATH_LEN + 16, "LDAPTLS_CACERT=%s", s->ca);
	snprintf(home, IT_PATH_LEN + 8, "HOME=%s", s->dir);
	env[0] = "PATH=" CMD_PATH;
	env[1] = "LDAPCONF=/dev/null";
	env[2] = "LDAPRC=/dev/null";
	env[3] = ca;
	env[4] = home;
	env[5] = NULL;
}

bool samba_available(char *why, size_t len)
{
	static const char *const tools[] = {"samba",	  "samba-tool", "ldbadd",
					    "ldapmodify", "ldapsearch", NULL};
	char path[IT_PATH_LEN];

	for (const char *const *t = tools; *t != NULL; t++)
		if (!cmd_find(*t, path, sizeof(path))) {
			snprintf(why, len, "%s is not installed (scripts/install-deps.sh --test)",
				 *t);
			return false;
		}
	if (geteuid() != 0) {
		snprintf(why, len, "Samba's domain controller runs only as root");
		return false;
	}
	return true;
}

static void stop_leftover(void)
{
	if (slot.in_use && slot.owner == getpid())
		samba_free(&slot);
}

struct samba *samba_new(const char *parent)
{
	struct samba *s = &slot;

	if (s->in_use)
		return NULL;
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/samba-XXXXXX", parent);
	if (mkdtemp(s->dir) == NULL)
		return NULL;
	in_dir(s, "etc/smb.conf", s->conf, sizeof(s->conf));
	in_dir(s, "private/tls/ca.pem", s->ca, sizeof(s->ca));
	snprintf(s->url, sizeof(s->url), "ldap://127.0.0.1:389");
	snprintf(s->ldaps_url, sizeof(s->ldaps_url), "ldaps://127.0.0.1:636");
	snprintf(s->admin_dn, sizeof(s->admin_dn), "CN=Administrator," SAMBA_USERS);
	snprintf(s->admin_pw, sizeof(s->admin_pw), "%s", ADMIN_PW);
	s->in_use = true;
	s->owner = getpid();
	if (!exit_hook_installed) {
		atexit(stop_leftover);
		exit_hook_installed = true;
	}
	return s;
}

/* Copies tls_dir/from to <dir>/private/tls/to with mode. */
static int copy_pem(const struct samba *s, const char *tls_dir, const char *from, const char *to,
		    mode_t mode)
{
	char src[IT_PATH_LEN + 32], dst[IT_PATH_LEN + 32];
	struct failure err = {""};
	size_t len = 0;
	char *pem;
	int rc;

	snprintf(src, sizeof(src), "%s/%s", tls_dir, from);
	snprintf(dst, sizeof(dst), "%s/private/tls/%s", s->dir, to);
	if ((pem = it_read_file(src, &len)) == NULL)
		return -1;
	rc = file_write(dst, pem, len, mode, &err);
	free(pem);
	if (rc != 0)
		fprintf(stderr, "samba fixture: %s\n", err.message);
	return rc;
}

/* Samba uses private/tls/{key,cert,ca}.pem when they are there (the key 0600). */
static int install_tls(const struct samba *s, const char *tls_dir)
{
	char path[IT_PATH_LEN + 32];

	mkdir(in_dir(s, "private/tls", path, sizeof(path)), 0700);
	if (copy_pem(s, tls_dir, SLAPD_KEY_FILE, "key.pem", 0600) != 0 ||
	    copy_pem(s, tls_dir, SLAPD_CERT_FILE, "cert.pem", 0644) != 0 ||
	    copy_pem(s, tls_dir, SLAPD_CA_FILE, "ca.pem", 0644) != 0) {
		fprintf(stderr, "samba fixture: cannot put the certificate in %s/private/tls\n",
			s->dir);
		return -1;
	}
	return 0;
}

int samba_provision(struct samba *s, const char *tls_dir)
{
	char base[IT_PATH_LEN + 32], target[IT_PATH_LEN + 32], out[IT_PATH_LEN + 32];
	char conf_opt[IT_PATH_LEN + 32], pass_opt[96], pid_opt[IT_PATH_LEN + 32];
	char rpc_opt[IT_PATH_LEN + 32];
	const char *env[] = {"PATH=" CMD_PATH, "LC_ALL=C", NULL};
	int rc;

	/* an empty base config: nothing of the machine's /etc/samba/smb.conf comes in */
	mkdir(in_dir(s, "etc", target, sizeof(target)), 0755);
	if (it_write_file(in_dir(s, "etc/base.conf", base, sizeof(base)), "") != 0)
		return -1;
	snprintf(conf_opt, sizeof(conf_opt), "--configfile=%s", base);
	snprintf(target, sizeof(target), "--targetdir=%s", s->dir);
	snprintf(pass_opt, sizeof(pass_opt), "--adminpass=%s", s->admin_pw);
	snprintf(pid_opt, sizeof(pid_opt), "--option=pid directory = %s/run", s->dir);
	snprintf(rpc_opt, sizeof(rpc_opt), "--option=ncalrpc dir = %s/run/ncalrpc", s->dir);
	const char *argv[] = {"samba-tool",
			      "domain",
			      "provision",
			      conf_opt,
			      "--server-role=dc",
			      "--dns-backend=NONE",
			      "--use-rfc2307",
			      "--realm=AUTHD.TEST",
			      "--domain=AUTHD",
			      "--host-name=dc1",
			      pass_opt,
			      target,
			      "--option=interfaces = 127.0.0.1",
			      "--option=bind interfaces only = yes",
			      "--option=server services = ldap",
			      "--option=prefork children = 2",
			      pid_opt,
			      rpc_opt,
			      NULL};
	rc = cmd_run(argv, env, s->dir, in_dir(s, "provision.log", out, sizeof(out)),
		     PROVISION_SECONDS);
	if (rc != 0) {
		it_print_tail(out, "samba-tool domain provision failed");
		return -1;
	}
	return install_tls(s, tls_dir);
}

/* ldbadd of one file into the stopped DC's database, without an fsync per transaction. */
static int ldbadd(struct samba *s, const char *file)
{
	char url[IT_PATH_LEN + 32], conf[IT_PATH_LEN + 32], name[48], out[IT_PATH_LEN + 48];
	const char *env[] = {"PATH=" CMD_PATH, "LC_ALL=C", NULL};
	int rc;

	snprintf(url, sizeof(url), "%s/private/sam.ldb", s->dir);
	snprintf(conf, sizeof(conf), "--configfile=%s", s->conf);
	snprintf(name, sizeof(name), "ldbadd-%d.log", ++s->changes);
	const char *argv[] = {"ldbadd", "-H", url, "--nosync", conf, file, NULL};
	rc = cmd_run(argv, env, s->dir, in_dir(s, name, out, sizeof(out)), LOAD_SECONDS);
	if (rc != 0)
		it_print_tail(out, "ldbadd failed");
	return rc == 0 ? 0 : -1;
}

/* Writes the next batch of records from *p to path; false when there were none left. */
static bool next_batch(const char **p, const char *path, int *rc)
{
	FILE *f;
	int n = 0;
	const char *q = *p;

	while (*q == '\n')
		q++;
	if (*q == '\0')
		return false;
	if ((f = fopen(path, "w")) == NULL) {
		*rc = -1;
		return false;
	}
	while (*q != '\0' && n < BATCH) {
		const char *end = strstr(q, "\n\n");
		size_t len = end ? (size_t)(end - q) + 2 : strlen(q);

		fwrite(q, 1, len, f);
		fputc('\n', f);
		q += len;
		while (*q == '\n')
			q++;
		n++;
	}
	*p = q;
	if (fclose(f) != 0)
		*rc = -1;
	return *rc == 0;
}

int samba_load(struct samba *s, const char *ldif)
{
	char path[IT_PATH_LEN + 32];
	const char *p = ldif;
	int rc = 0;

	if (s->pid > 0) {
		fprintf(stderr, "samba fixture: samba_load wants a stopped DC\n");
		return -1;
	}
	while (rc == 0 && next_batch(&p, in_dir(s, "batch.ldif", path, sizeof(path)), &rc))
		rc = ldbadd(s, path);
	return rc;
}

/* True once Administrator's bind and a base search succeed over LDAPS. */
static bool answers(struct samba *s)
{
	char ca[IT_PATH_LEN + 16], home[IT_PATH_LEN + 8], out[IT_PATH_LEN + 32];
	const char *env[6];

	tool_env(s, ca, home, env);
	const char *argv[] = {"ldapsearch",   "-x",	   "-H", s->ldaps_url, "-o",
			      "nettimeout=2", "-l",	   "2",	 "-D",	       s->admin_dn,
			      "-w",	      s->admin_pw, "-b", SAMBA_BASE,   "-s",
			      "base",	      "-LLL",	   "dn", NULL};
	return cmd_run(argv, env, s->dir, in_dir(s, "probe.log", out, sizeof(out)), 10) == 0;
}

static bool reaped(struct samba *s, int options)
{
	int status;

	if (s->pid <= 0)
		return true;
	if (waitpid(s->pid, &status, options) != s->pid)
		return false;
	s->pid = 0;
	return true;
}

int samba_start(struct samba *s)
{
	char name[32], conf[IT_PATH_LEN + 32];
	const char *env[] = {"PATH=" CMD_PATH, "LC_ALL=C", NULL};
	double deadline = it_now() + READY_SECONDS;

	if (s == NULL || !s->in_use || s->owner != getpid() || s->pid > 0)
		return -1;
	snprintf(name, sizeof(name), "samba-%d.log", ++s->starts);
	in_dir(s, name, s->log, sizeof(s->log));
	snprintf(conf, sizeof(conf), "--configfile=%s", s->conf);
	/* -i: in the foreground, its log on stdout, so that the pid held is the server's */
	const char *argv[] = {"samba", "-i", conf, NULL};
	if ((s->pid = cmd_spawn(argv, env, s->dir, s->log)) <= 0)
		return -1;
	while (it_now() < deadline) {
		if (reaped(s, WNOHANG))
			break;
		if (answers(s))
			return 0;
		it_sleep_ms(100);
	}
	it_print_tail(s->log, "samba did not start (is another server on 127.0.0.1:389?)");
	samba_stop(s);
	return -1;
}

int samba_stop(struct samba *s)
{
	double deadline = it_now() + STOP_SECONDS;
	pid_t group;
	int status;

	if (s == NULL || s->pid <= 0 || s->owner != getpid())
		return -1;
	/* cmd_spawn made it a process group of its own: its workers go with it */
	group = s->pid;
	kill(-group, SIGTERM);
	while (waitpid(s->pid, &status, WNOHANG) != s->pid) {
		if (it_now() > deadline) {
			fprintf(stderr, "samba %d ignored SIGTERM for %d s; killing it\n",
				(int)s->pid, STOP_SECONDS);
			kill(-group, SIGKILL);
			waitpid(s->pid, &status, 0);
			break;
		}
		it_sleep_ms(20);
	}
	s->pid = 0;
	/* workers that outlived their master would hold the ports */
	kill(-group, SIGKILL);
	return status;
}

/* ldapmodify (or ldapsearch) as Administrator over LDAPS; its exit code. */
static int run_tool(struct samba *s, const char *const *args, const char *out)
{
	char ca[IT_PATH_LEN + 16], home[IT_PATH_LEN + 8], pw[IT_PATH_LEN + 32];
	const char *env[6], *argv[24];
	struct failure err;
	int argc = 0;

	tool_env(s, ca, home, env);
	in_dir(s, "admin.pw", pw, sizeof(pw));
	if (access(pw, R_OK) != 0 &&
	    file_write(pw, s->admin_pw, strlen(s->admin_pw), 0600, &err) != 0)
		return -1;
	argv[argc++] = args[0];
	argv[argc++] = "-x";
	argv[argc++] = "-H";
	argv[argc++] = s->ldaps_url;
	argv[argc++] = "-D";
	argv[argc++] = s->admin_dn;
	argv[argc++] = "-y"; /* the password from a file: it stays out of the process list */
	argv[argc++] = pw;
	for (size_t i = 1; args[i] != NULL && argc < 23; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	return cmd_run(argv, env, s->dir, out, TOOL_SECONDS);
}

int samba_modify(struct samba *s, const char *ldif)
{
	char name[48], file[IT_PATH_LEN + 48], out[IT_PATH_LEN + 48];
	int rc;

	if (s == NULL || s->pid <= 0) {
		fprintf(stderr, "samba fixture: samba_modify on a DC that is not running\n");
		return -1;
	}
	snprintf(name, sizeof(name), "change-%d-%d.ldif", (int)getpid(), ++s->changes);
	if (it_write_file(in_dir(s, name, file, sizeof(file)), ldif) != 0)
		return -1;
	snprintf(name, sizeof(name), "change-%d-%d.log", (int)getpid(), s->changes);
	const char *args[] = {"ldapmodify", "-f", file, NULL};
	rc = run_tool(s, args, in_dir(s, name, out, sizeof(out)));
	if (rc != 0)
		it_print_tail(out, "ldapmodify failed");
	return rc;
}

/* The value of "objectGUID:: <base64>" in an LDIF answer, as GUID text. */
static int guid_text(const char *text, char *out, size_t len)
{
	const char *at = text ? strstr(text, "\nobjectGUID:: ") : NULL;
	unsigned char b[64];
	char b64[64];
	size_t n;

	if (at == NULL || len < 37)
		return -1;
	at += 14;
	n = strcspn(at, "\r\n");
	if (n != 24)
		return -1;
	memcpy(b64, at, n);
	b64[n] = '\0';
	if (EVP_DecodeBlock(b, (const unsigned char *)b64, (int)n) != 18)
		return -1;
	snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

int samba_guid(struct samba *s, const char *dn, char *out, size_t len)
{
	char name[48], path[IT_PATH_LEN + 48];
	char *text;
	int rc;

	out[0] = '\0';
	snprintf(name, sizeof(name), "guid-%d-%d.ldif", (int)getpid(), ++s->changes);
	const char *args[] = {"ldapsearch", "-LLL", "-o",   "ldif-wrap=no",    "-b",
			      dn,	    "-s",   "base", "(objectClass=*)", "objectGUID",
			      NULL};
	rc = run_tool(s, args, in_dir(s, name, path, sizeof(path)));
	text = rc == 0 ? it_read_file(path, NULL) : NULL;
	rc = guid_text(text, out, len);
	free(text);
	return rc;
}

void samba_free(struct samba *s)
{
	if (s == NULL || !s->in_use || s->owner != getpid())
		return;
	samba_stop(s);
	if (getenv("AUTHD_TEST_KEEP") != NULL)
		fprintf(stderr, "kept samba dir %s\n", s->dir);
	else
		cmd_remove_tree(s->dir);
	s->in_use = false;
}

/* ---- LDIF ---- */

void samba_ou(FILE *f, const char *dn)
{
	fprintf(f, "dn: %s\nobjectClass: organizationalUnit\n\n", dn);
}

/* unicodePwd is the password in double quotes, UTF-16LE, base64 in LDIF (ASCII passwords). */
static void unicode_pwd(FILE *f, const char *password)
{
	unsigned char utf16[256], b64[400];
	size_t n = 0;

	utf16[n++] = '"';
	utf16[n++] = 0;
	for (const char *c = password; *c != '\0' && n < sizeof(utf16) - 4; c++) {
		utf16[n++] = (unsigned char)*c;
		utf16[n++] = 0;
	}
	utf16[n++] = '"';
	utf16[n++] = 0;
	EVP_EncodeBlock(b64, utf16, (int)n);
	fprintf(f, "unicodePwd:: %s\n", b64);
}

void samba_user(FILE *f, const char *name, const char *parent, const char *password)
{
	fprintf(f,
		"dn: CN=%s,%s\nobjectClass: user\nsAMAccountName: %s\n"
		"userPrincipalName: %s@" SAMBA_DOMAIN "\ndisplayName: User %s\n",
		name, parent, name, name, name);
	if (password != NULL) {
		unicode_pwd(f, password);
		/* a normal account, enabled */
		fprintf(f, "userAccountControl: 512\n");
	}
	fprintf(f, "\n");
}

void samba_group(FILE *f, const char *dn, const char *const *members, size_t n)
{
	size_t cn = strcspn(dn + 3, ",");

	fprintf(f, "dn: %s\nobjectClass: group\nsAMAccountName: %.*s\n", dn, (int)cn, dn + 3);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "member: %s\n", members[i]);
	fprintf(f, "\n");
}

int samba_add_group(struct samba *s, const char *dn, const char *const *members, size_t n)
{
	char *text = NULL, *change = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc = -1;

	if (f == NULL)
		return -1;
	samba_group(f, dn, members, n);
	if (fclose(f) != 0) {
		free(text);
		return -1;
	}
	if (s->pid <= 0)
		rc = samba_load(s, text);
	else if (asprintf(&change, "dn: %s\nchangetype: add\n%s", dn, strchr(text, '\n') + 1) >= 0)
		rc = samba_modify(s, change);
	free(change);
	free(text);
	return rc;
}
