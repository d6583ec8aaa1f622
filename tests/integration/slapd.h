/*
 * Integration-test fixture for real OpenLDAP servers (Debian's slapd) on
 * 127.0.0.1: a test CA, instances made from a suffix and LDIF, started,
 * changed, killed and restarted by pid. Knows nothing about Check.
 *
 * What an instance holds (struct slapd names it all):
 * - the suffix entry (dc=, o= or ou= as its first RDN) and the reader
 *   cn=reader,<suffix> with the reader password; the caller's LDIF adds the
 *   rest, every entry under the suffix, parents before children, without the
 *   suffix entry itself;
 * - the root DN cn=admin,<suffix>, which the size limit does not apply to;
 * - schemas core, cosine, inetorgperson and nis; an mdb database in its dir;
 *   the attribute option range= declared, so that values may be stored as
 *   "member;range=0-1499" (a request for member then answers with that
 *   description, as Active Directory's first range does; slapd cannot store
 *   the last range's "*", nor answer a request for the next range);
 *   the memberof overlay, so that members of a groupOfNames (by `member`)
 *   carry memberOf. Entries are loaded with slapadd before the start, except
 *   groupOfNames entries: slapadd bypasses overlays, so those are added over
 *   LDAP once the server answers, and memberOf is right from the start
 *   (but a group with range= values is loaded by slapadd: over LDAP slapd
 *   refuses them);
 * - ACLs: userPassword serves binds (anonymous "auth") and is read by nobody;
 *   the reader and every bound user read everything else; anonymous users
 *   read only the root DSE and the schema;
 * - size limit N (when not 0): a plain search for more than N entries fails
 *   with sizeLimitExceeded (4) after N entries, for the reader and users;
 *   an RFC 2696 paged search gets every entry, whatever its page size. A
 *   page is not cut at N: with pages of 500, more than 500 entries are
 *   needed to see a second page. With 0, there is no limit at all (slapd's
 *   own default would be 500);
 * - with TLS: ldaps on a second port, StartTLS on ldap://, the certificate
 *   slapd_test_ca wrote; clients verify it with <tls_dir>/ca.pem (for the
 *   CLI: LDAPTLS_CACERT), and <tls_dir>/other-ca.pem is a CA that does not;
 * - a log of every connection, operation and result code (slapd -d stats).
 *
 * The fixture runs slapd and the ldap-utils with an environment of their own
 * (LDAPNOINIT: no ldap.conf). It uses harness.c, engine.c's cmd_* runner and
 * libbundles.
 *
 * Typical use, in the process that also stops them:
 *     slapd_test_ca(suite_dir);
 *     struct slapd *s = slapd_new(suite_dir);
 *     struct slapd_opts o = {.suffix = "dc=example,dc=com", .ldif = text,
 *                            .size_limit = 50, .tls_dir = suite_dir};
 *     if (slapd_start(s, &o) != 0) ...      (the log's tail is on stderr)
 *     ... s->url, s->ldaps_url, s->reader_dn, s->reader_pw ...
 *     slapd_free(s);
 */
#ifndef AUTHD_IT_SLAPD_H
#define AUTHD_IT_SLAPD_H

#include <stdbool.h>
#include <sys/types.h>

#include "harness.h"

/* What slapd_test_ca writes into its dir. */
#define SLAPD_CA_FILE "ca.pem"		   /* the test CA: verifies every instance */
#define SLAPD_OTHER_CA_FILE "other-ca.pem" /* an unrelated CA: verifies nothing here */
#define SLAPD_CERT_FILE "slapd-cert.pem"   /* the servers' certificate, signed by ca.pem */
#define SLAPD_KEY_FILE "slapd-key.pem"	   /* and its key */

#define SLAPD_READER_PW "reader-secret" /* the reader's password unless the options say */
#define SLAPD_DN_LEN 256

struct slapd_opts {
	const char *suffix;	     /* "dc=example,dc=com"; required */
	const char *ldif;	     /* entries under the suffix; NULL or "" for none */
	const char *reader_password; /* NULL: SLAPD_READER_PW */
	int size_limit;		     /* entries a plain search may return; 0: no limit */
	const char *tls_dir;	     /* NULL: ldap:// only; else the dir slapd_test_ca wrote */
	bool allow_bind_anon_dn;     /* a DN without a password binds (anonymously) */
};

/* One slapd and its files; pid is 0 while it is not running. */
struct slapd {
	bool in_use;
	pid_t owner; /* the process that made it: only that one stops, kills or restarts it */
	pid_t pid;
	int port;		/* ldap:// */
	int ldaps_port;		/* 0 without TLS */
	int starts;		/* numbers the logs: slapd-1.log, slapd-2.log, ... */
	int changes;		/* numbers slapd_modify's files */
	int last_status;	/* wait status of the last exit, -1 before any */
	char dir[IT_PATH_LEN];	/* config, database, LDIF, logs */
	char conf[IT_PATH_LEN]; /* <dir>/slapd.conf */
	char log[IT_PATH_LEN];	/* slapd's output (operations and errors) of the latest start */
	char ca[IT_PATH_LEN];	/* the CA that verifies it; "" without TLS */
	char url[64];		/* ldap://127.0.0.1:PORT */
	char ldaps_url[64];	/* ldaps://127.0.0.1:PORT, "" without TLS */
	char suffix[SLAPD_DN_LEN];
	char root_dn[SLAPD_DN_LEN + 16]; /* cn=admin,<suffix> */
	char root_pw[32];
	char reader_dn[SLAPD_DN_LEN + 16]; /* cn=reader,<suffix> */
	char reader_pw[128];
};

/*
 * Writes the test CA (ca.pem and its key), a certificate for slapd whose
 * names are IP 127.0.0.1, localhost and this host's name (libldap checks
 * "localhost" against the host's name), and an unrelated CA, into dir.
 * Files there already are kept, so every instance of a run shares one CA.
 * 0 on success; the reason goes to stderr otherwise.
 */
int slapd_test_ca(const char *dir);

/*
 * Makes an instance's dir under parent. The struct comes from a static pool,
 * so that an exit handler can stop whatever a failing test left running;
 * NULL when no slot or dir is available.
 */
struct slapd *slapd_new(const char *parent);
/*
 * Writes slapd.conf, loads the entries and starts slapd on free ports,
 * waiting (bounded) until it answers a search. Once per instance (after a
 * failure, free it and make another); later starts are slapd_restart. 0 on
 * success; on failure the reason or the log's tail goes to stderr and
 * nothing is left running.
 */
int slapd_start(struct slapd *s, const struct slapd_opts *o);
/* Starts it again on the same ports with the same data (after a stop or a kill). */
int slapd_restart(struct slapd *s);
/* SIGTERM, then waits (bounded; SIGKILL after). The wait status, -1 when it was not running. */
int slapd_stop(struct slapd *s);
/* SIGKILL now, as an outage would; reaps it. The wait status, -1 when it was not running. */
int slapd_kill(struct slapd *s);
/*
 * Applies LDIF with changetype records (add, delete, modify, modrdn) as the
 * root DN through ldapmodify while it runs; any process may (a test forked
 * from the owner too). ldapmodify's exit code: 0 on success, else the LDAP
 * result code of the record that failed (its output goes to stderr);
 * negative when slapd is not running or ldapmodify could not run or hung.
 */
int slapd_modify(struct slapd *s, const char *ldif);
/*
 * The same with the relax control (RFC draft-zeilenga-ldap-relax), which
 * lets the root DN give operational attributes: an add that gives the
 * entryUUID a deleted entry had restores it, as a restore from a backup would.
 */
int slapd_restore(struct slapd *s, const char *ldif);
/* The entryUUID of the entry at dn, read as the root DN into out; 0, or -1 when it has none. */
int slapd_entry_uuid(struct slapd *s, const char *dn, char *out, size_t len);
/* Stops it if needed, removes its dir (kept when AUTHD_TEST_KEEP is set), frees the slot. */
void slapd_free(struct slapd *s);

#endif
