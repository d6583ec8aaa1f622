/*
 * Integration-test fixture for a real Active Directory: Debian's Samba AD
 * domain controller, provisioned into a temporary dir, loaded offline with
 * ldbadd, started in the foreground and stopped by pid. Knows nothing about Check.
 *
 * What an instance is:
 * - the domain authd.test (NetBIOS AUTHD), base DN DC=authd,DC=test, provisioned by
 *   `samba-tool domain provision --server-role=dc --dns-backend=NONE --use-rfc2307`
 *   with an smb.conf of its own: every dir (private, lock, state, cache, pid) under
 *   the instance's dir, `server services = ldap` only;
 * - it listens on 127.0.0.1 only, on AD's fixed ports 389 (ldap://, StartTLS) and
 *   636 (ldaps://): one instance at a time on a machine, so the suites that use it
 *   never run beside each other (a CTest resource lock);
 * - TLS: Samba's own tls/ files in its private dir, made from the certificate that
 *   slapd_test_ca wrote (Samba's self-made certificate names only dc1.authd.test,
 *   which a client of 127.0.0.1 cannot verify); clients verify it with s->ca;
 * - as a real AD, a simple bind needs LDAPS or StartTLS (`ldap server require
 *   strong auth` is left at its default);
 * - Administrator (s->admin_dn, s->admin_pw) is the reader and the writer.
 *
 * Entries are loaded with samba_load while it is stopped (ldbadd on sam.ldb, in
 * batches: one transaction of thousands of users takes minutes, batches of a few
 * hundred a second each), or changed with samba_modify while it runs.
 *
 * Typical use, in the process that also stops it:
 *     if (!samba_available(why, sizeof why)) exit(77);
 *     slapd_test_ca(suite_dir);
 *     struct samba *s = samba_new(suite_dir);
 *     samba_provision(s, suite_dir); samba_load(s, ldif); samba_start(s);
 *     ... s->url, s->ldaps_url, s->ca, s->admin_dn ...
 *     samba_free(s);
 */
#ifndef AUTHD_IT_SAMBA_H
#define AUTHD_IT_SAMBA_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "harness.h"

#define SAMBA_BASE "DC=authd,DC=test"
#define SAMBA_DOMAIN "authd.test" /* a userPrincipalName's suffix */
#define SAMBA_USERS "CN=Users," SAMBA_BASE
#define SAMBA_DN_LEN 256

/* One Samba AD DC and its files; pid is 0 while it is not running. */
struct samba {
	bool in_use;
	pid_t owner; /* the process that made it: only that one starts and stops it */
	pid_t pid;
	int starts;		/* numbers the logs: samba-1.log, ... */
	int changes;		/* numbers samba_modify's and samba_load's files */
	char dir[IT_PATH_LEN];	/* the provision: etc/smb.conf, private/, state/, logs */
	char conf[IT_PATH_LEN]; /* <dir>/etc/smb.conf */
	char log[IT_PATH_LEN];	/* samba's output of the latest start */
	char ca[IT_PATH_LEN];	/* <dir>/private/tls/ca.pem: what verifies it */
	char url[64];		/* ldap://127.0.0.1:389 */
	char ldaps_url[64];	/* ldaps://127.0.0.1:636 */
	char admin_dn[SAMBA_DN_LEN];
	char admin_pw[64];
};

/*
 * Whether Samba's DC can run here: samba, samba-tool, ldbadd and the LDAP tools
 * installed, and root (samba refuses to run a DC otherwise). When not, why.
 */
bool samba_available(char *why, size_t len);
/* Makes an instance's dir under parent (one slot: one DC at a time); NULL when busy. */
struct samba *samba_new(const char *parent);
/*
 * Provisions the domain (some seconds) and puts the certificate and CA that
 * slapd_test_ca wrote in tls_dir where Samba looks for them. 0 on success; the
 * tool's output goes to stderr otherwise.
 */
int samba_provision(struct samba *s, const char *tls_dir);
/*
 * Adds the LDIF records (entries under SAMBA_BASE, parents first) to the stopped
 * DC's database with ldbadd, a few hundred per transaction. 0 on success.
 */
int samba_load(struct samba *s, const char *ldif);
/* Starts `samba -i` and waits (bounded) until LDAPS answers. 0 on success. */
int samba_start(struct samba *s);
/* SIGTERM to it and its workers, then waits (bounded; SIGKILL after). The wait status or -1. */
int samba_stop(struct samba *s);
/*
 * Applies LDIF change records (add, delete, modify, modrdn) as Administrator
 * over LDAPS while it runs: ldapmodify's exit code (0 on success, else the
 * LDAP result code); negative when it is not running or ldapmodify hung.
 */
int samba_modify(struct samba *s, const char *ldif);
/*
 * The objectGUID of the entry at dn in its text form (the first three fields
 * little-endian, as AD shows it), into out (37 bytes); 0, or -1 when unread.
 */
int samba_guid(struct samba *s, const char *dn, char *out, size_t len);
/* Stops it if needed, removes its dir (kept when AUTHD_TEST_KEEP is set), frees the slot. */
void samba_free(struct samba *s);

/* ---- LDIF for AD entries, for samba_load or (with changetype) samba_modify ---- */

/* An organizationalUnit record. */
void samba_ou(FILE *f, const char *dn);
/*
 * A user record CN=<name>,<parent> with sAMAccountName <name>, userPrincipalName
 * <name>@authd.test and displayName "User <name>"; with a password (which must
 * meet AD's complexity rules) it is an enabled account, without one a disabled
 * account that cannot bind (cheaper: no keys to derive).
 */
void samba_user(FILE *f, const char *name, const char *parent, const char *password);
/* A group record with these member DNs (n of them; members may be groups: nesting). */
void samba_group(FILE *f, const char *dn, const char *const *members, size_t n);
/* The same as an add change record, for samba_modify: a group added while it runs. */
int samba_add_group(struct samba *s, const char *dn, const char *const *members, size_t n);

#endif
