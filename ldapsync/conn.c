/*
 * Talking to one directory server: connect with its own TLS settings and
 * timeouts, bind, and run searches that stream their entries page by page.
 * Every step goes to the log, with libldap's error text when it fails.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

#define PAGE_SIZE 500

void ls_logf(struct ls_log *log, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (log == NULL || log->line == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log->line(log->ctx, line);
}

size_t ls_server_for_dn(const struct ls_settings *s, const char *dn)
{
	const char *domains[64];
	size_t n = 0;
	int i;

	/* settings.c caps additionalDomains below the array's size */
	for (size_t k = 1; k < s->nservers && n < sizeof(domains) / sizeof(domains[0]); k++)
		domains[n++] = s->servers[k].domain;
	i = ls_pick_server(domains, n, dn);
	return i < 0 ? 0 : (size_t)i + 1;
}

/* libldap's words for the last failure on ld: the code's text and the server's message. */
static void log_failure(struct ls_conn *c, const char *step, int rc)
{
	char *diag = NULL;

	ldap_get_option(c->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	ls_logf(c->log, "%s failed: %s (LDAP %d)%s%s", step, ldap_err2string(rc), rc,
		diag && *diag ? ": " : "", diag && *diag ? diag : "");
	ldap_memfree(diag);
}

/*
 * rootCerts are given as text, and libldap's TLS library reads trust anchors
 * from a file: write them to a private temporary file that lives only until
 * the TLS context has been made from it.
 */
static int set_trust_anchors(struct ls_conn *c, const char *pem)
{
	char path[] = "/tmp/ldapsync-ca-XXXXXX";
	size_t len = strlen(pem);
	int fd = mkstemp(path), rc;

	if (fd < 0) {
		ls_logf(c->log, "TLS: cannot write rootCerts to a temporary file");
		return -1;
	}
	rc = write(fd, pem, len) == (ssize_t)len ? 0 : -1;
	close(fd);
	if (rc == 0)
		rc = ldap_set_option(c->ld, LDAP_OPT_X_TLS_CACERTFILE, path);
	if (rc == 0) {
		int server_ctx = 0;

		rc = ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &server_ctx);
	}
	unlink(path);
	if (rc != 0)
		ls_logf(c->log, "TLS: rootCerts could not be loaded as trust anchors");
	return rc == 0 ? 0 : -1;
}

static int set_options(struct ls_conn *c)
{
	const struct ls_server *srv = &c->s->servers[c->server];
	struct timeval tv = {c->s->timeout_seconds, 0};
	int v3 = LDAP_VERSION3, zero = 0;
	int verify = srv->tls_skip_verify ? LDAP_OPT_X_TLS_NEVER : LDAP_OPT_X_TLS_DEMAND;

	if (ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &v3) ||
	    ldap_set_option(c->ld, LDAP_OPT_REFERRALS,
			    c->s->follow_referrals ? LDAP_OPT_ON : LDAP_OPT_OFF) ||
	    ldap_set_option(c->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) ||
	    ldap_set_option(c->ld, LDAP_OPT_TIMEOUT, &tv) ||
	    ldap_set_option(c->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &verify)) {
		ls_logf(c->log, "connect: libldap refused an option");
		return -1;
	}
	/* a TLS context loads its trust store: plain ldap:// does without one */
	if (!srv->start_tls && strncasecmp(c->url, "ldaps:", 6) != 0)
		return 0;
	if (srv->root_certs[0] != '\0')
		return set_trust_anchors(c, srv->root_certs);
	/* a context of this handle's own, so that one server's TLS settings never leak to another
	 */
	if (ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != 0) {
		ls_logf(c->log, "TLS: no TLS context could be made");
		return -1;
	}
	return 0;
}

/* An operation that failed this way lost its server, or never reached one. */
static bool unreachable(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR;
}

static atomic_ulong losses;

unsigned long ls_conn_losses(void)
{
	return atomic_load(&losses);
}

void ls_conn_lost(struct ls_conn *c, int rc)
{
	if (!unreachable(rc) || c->s->servers[c->server].nurls < 2)
		return;
	atomic_fetch_add(&losses, 1);
	ls_logf(c->log, "server %s was lost: skipped for %ld s", c->url, ls_backoff_failed(c->url));
}

int ls_conn_bind(struct ls_conn *c, const char *dn, const char *password, const char *who)
{
	struct berval cred = {strlen(password), (char *)password};
	char step[640];
	int rc;

	rc = ldap_sasl_bind_s(c->ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	snprintf(step, sizeof(step), "bind as %s %s", who, dn[0] ? dn : "(anonymous)");
	if (rc == LDAP_SUCCESS)
		ls_logf(c->log, "%s: ok", step);
	else
		log_failure(c, step, rc);
	return rc;
}

/* Connects to c->url: 0, or -1 when the server could not be reached (nothing left open). */
static int open_connection(struct ls_conn *c)
{
	const struct ls_server *srv = &c->s->servers[c->server];
	bool ldaps = strncasecmp(c->url, "ldaps:", 6) == 0;
	int rc;

	ls_logf(c->log, "server %s (%s)", c->url, srv->domain[0] ? srv->domain : "default server");
	if ((rc = ldap_initialize(&c->ld, c->url)) != LDAP_SUCCESS) {
		ls_logf(c->log, "connect failed: %s", ldap_err2string(rc));
		c->ld = NULL;
		return -1;
	}
	if (set_options(c))
		return -1;
	if ((rc = ldap_connect(c->ld)) != LDAP_SUCCESS) {
		log_failure(c, "connect", rc);
		return -1;
	}
	ls_logf(c->log, "connect: ok%s%s", ldaps ? " (TLS" : "",
		ldaps ? (srv->tls_skip_verify ? ", certificate not verified)" : ", verified)")
		      : "");
	if (!srv->start_tls)
		return 0;
	if ((rc = ldap_start_tls_s(c->ld, NULL, NULL)) != LDAP_SUCCESS) {
		log_failure(c, "StartTLS", rc);
		return -1;
	}
	ls_logf(c->log, "StartTLS: ok (%s)",
		srv->tls_skip_verify ? "certificate not verified" : "verified");
	return 0;
}

enum { TRY_OK, TRY_DOWN, TRY_REFUSED };

/* One URL of the domain: connected (and the reader bound), down, or up but refusing. */
static int try_url(struct ls_conn *c, bool bind_reader)
{
	const struct ls_server *srv = &c->s->servers[c->server];
	int rc;

	if (open_connection(c) != 0)
		return TRY_DOWN;
	if (!bind_reader)
		return TRY_OK;
	rc = ls_conn_bind(c, srv->reader_dn, srv->reader_password ? srv->reader_password : "",
			  "reader");
	if (rc == LDAP_SUCCESS)
		return TRY_OK;
	return unreachable(rc) ? TRY_DOWN : TRY_REFUSED;
}

/*
 * Tries the URL of c (set by the caller): 0 when it is connected, -1 when
 * it answered but refused (its word is final), 1 when it could not be
 * reached, which puts it in the backoff.
 */
static int try_one(struct ls_conn *c, bool bind_reader)
{
	int rc = try_url(c, bind_reader);

	if (rc != TRY_DOWN) {
		ls_backoff_ok(c->url);
		if (rc == TRY_OK && c->s->servers[c->server].nurls > 1)
			ls_logf(c->log, "server %s answered", c->url);
		if (rc == TRY_OK)
			return 0;
		ls_conn_close(c);
		return -1;
	}
	ls_conn_close(c);
	/* a lone server is tried every time anyway: only a list has one to skip */
	if (c->s->servers[c->server].nurls > 1)
		ls_logf(c->log, "server %s is down: skipped for %ld s", c->url,
			ls_backoff_failed(c->url));
	return 1;
}

int ls_conn_open(struct ls_conn *c, const struct ls_settings *s, size_t server, bool bind_reader,
		 struct ls_log *log)
{
	const struct ls_server *srv = &s->servers[server];
	bool waiting[LS_URLS_MAX] = {false};
	int rc = 1;

	*c = (struct ls_conn){NULL, s, server, srv->urls[0], log, false, 0};
	/* the servers in order, but those found down lately only when no other answers */
	for (size_t i = 0; rc > 0 && i < srv->nurls; i++) {
		long left = ls_backoff_left(srv->urls[i]);

		*c = (struct ls_conn){NULL, s, server, srv->urls[i], log, false, 0};
		if (left > 0)
			ls_logf(log, "server %s skipped: down, tried again in %ld s", c->url, left);
		waiting[i] = left > 0;
		rc = left > 0 ? 1 : try_one(c, bind_reader);
	}
	for (size_t i = 0; rc > 0 && i < srv->nurls; i++) {
		if (!waiting[i])
			continue;
		*c = (struct ls_conn){NULL, s, server, srv->urls[i], log, false, 0};
		ls_logf(log, "server %s: tried although found down, as no other answered", c->url);
		rc = try_one(c, bind_reader);
	}
	if (rc > 0 && srv->nurls > 1)
		ls_logf(log, "no server of %s answered",
			srv->domain[0] ? srv->domain : "the default domain");
	return rc == 0 ? 0 : -1;
}

void ls_conn_close(struct ls_conn *c)
{
	if (c->ld != NULL)
		ldap_unbind_ext_s(c->ld, NULL, NULL);
	c->ld = NULL;
}

/* Reads the result of one page: LS_OK with *cookie set (empty at the end), else LS_FAILED. */
static int page_result(struct ls_conn *c, LDAPMessage *msg, bool paged, struct berval *cookie)
{
	LDAPControl **ctrls = NULL, *page;
	char *diag = NULL;
	int err = LDAP_OTHER, rc;
	ber_int_t estimate;

	rc = ldap_parse_result(c->ld, msg, &err, NULL, &diag, NULL, &ctrls, 1);
	if (rc == LDAP_SUCCESS && err == LDAP_NO_SUCH_OBJECT && c->missing_ok)
		err = LDAP_SUCCESS;
	if (rc != LDAP_SUCCESS || err != LDAP_SUCCESS) {
		err = rc != LDAP_SUCCESS ? rc : err;
		/* a size or time limit means a short answer, which must never pass for a whole one
		 */
		ls_logf(c->log, "search failed: %s (LDAP %d)%s%s", ldap_err2string(err), err,
			diag && *diag ? ": " : "", diag && *diag ? diag : "");
		ldap_memfree(diag);
		ldap_controls_free(ctrls);
		return LS_FAILED;
	}
	ldap_memfree(diag);
	page = paged ? ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, ctrls, NULL) : NULL;
	if (page != NULL &&
	    ldap_parse_pageresponse_control(c->ld, page, &estimate, cookie) != LDAP_SUCCESS) {
		ls_logf(c->log, "search failed: the server's paging control does not parse");
		ldap_controls_free(ctrls);
		return LS_FAILED;
	}
	ldap_controls_free(ctrls);
	return LS_OK;
}

/* Sends one page's request; the message id, or -1. */
static int send_page(struct ls_conn *c, const char *base, int scope, const char *filter,
		     char **attrs, bool paged, struct berval *cookie)
{
	struct timeval limit = {c->s->timeout_seconds, 0};
	LDAPControl *page = NULL, *ctrls[2] = {NULL, NULL};
	int msgid = -1, rc;

	/* critical: a server that cannot page must say so, not answer unpaged */
	if (paged &&
	    (rc = ldap_create_page_control(c->ld, PAGE_SIZE, cookie, 1, &page)) != LDAP_SUCCESS) {
		log_failure(c, "search", rc);
		return -1;
	}
	ctrls[0] = page;
	rc = ldap_search_ext(c->ld, base, scope, filter, attrs, 0, paged ? ctrls : NULL, NULL,
			     &limit, 0, &msgid);
	ldap_control_free(page);
	if (rc != LDAP_SUCCESS) {
		log_failure(c, "search", rc);
		ls_conn_lost(c, rc);
		return -1;
	}
	return msgid;
}

/* Reads one page's entries and its result; LS_OK, LS_FAILED or LS_STOPPED. */
static int read_page(struct ls_conn *c, int msgid, bool paged, ls_entry_fn fn, void *ctx,
		     size_t *count, struct berval *cookie)
{
	struct timeval wait = {c->s->timeout_seconds, 0};
	LDAPMessage *msg;

	for (;;) {
		int type = ldap_result(c->ld, msgid, LDAP_MSG_ONE, &wait, &msg);

		if (type <= 0) {
			int err = LDAP_TIMEOUT;

			if (type == 0)
				ls_logf(c->log, "search failed: no answer within %d s",
					c->s->timeout_seconds);
			else if (ldap_get_option(c->ld, LDAP_OPT_RESULT_CODE, &err) != 0)
				err = type;
			if (type < 0)
				log_failure(c, "search", err);
			ls_conn_lost(c, err);
			ldap_abandon_ext(c->ld, msgid, NULL, NULL);
			return LS_FAILED;
		}
		if (type == LDAP_RES_SEARCH_RESULT)
			return page_result(c, msg, paged, cookie);
		if (type == LDAP_RES_SEARCH_ENTRY) {
			int stop = fn(ctx, c->ld, msg);

			(*count)++;
			ldap_msgfree(msg);
			if (stop) {
				ldap_abandon_ext(c->ld, msgid, NULL, NULL);
				return LS_STOPPED;
			}
			continue;
		}
		if (type == LDAP_RES_SEARCH_REFERENCE)
			ls_logf(c->log,
				"search: a referral was not followed (followReferrals is off)");
		ldap_msgfree(msg);
	}
}

int ls_conn_search(struct ls_conn *c, const char *base, int scope, const char *filter, char **attrs,
		   ls_entry_fn fn, void *ctx, size_t *count)
{
	bool paged = !c->s->servers[c->server].no_simple_pagination;
	struct berval cookie = {0, NULL};
	int rc;

	*count = 0;
	do {
		struct berval next = {0, NULL};
		int msgid = send_page(c, base, scope, filter, attrs, paged, &cookie);

		rc = msgid < 0 ? LS_FAILED : read_page(c, msgid, paged, fn, ctx, count, &next);
		ber_memfree(cookie.bv_val);
		cookie = next;
	} while (rc == LS_OK && cookie.bv_len > 0);
	ber_memfree(cookie.bv_val);
	return rc;
}

char *ls_entry_value(LDAP *ld, LDAPMessage *entry, const char *attr)
{
	struct berval **vals = ldap_get_values_len(ld, entry, attr);
	char *s = NULL;

	if (vals != NULL && vals[0] != NULL &&
	    memchr(vals[0]->bv_val, '\0', vals[0]->bv_len) == NULL)
		s = strndup(vals[0]->bv_val, vals[0]->bv_len);
	ldap_value_free_len(vals);
	return s;
}

/* Plain ASCII names and values, no spaces, escapes, quotes or multi-valued RDNs. */
static bool is_simple_dn(const char *dn)
{
	if (*dn == '\0')
		return false;
	for (const char *p = dn; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("=,-._", *p) == NULL)
			return false;
	return true;
}

char *ls_dn_key(const char *dn)
{
	char *norm = NULL, *key;

	/* most DNs are already in the form the slow path would give: lowercase is enough */
	if (is_simple_dn(dn)) {
		key = strdup(dn);
		for (char *p = key; p != NULL && *p; p++)
			*p = (char)tolower((unsigned char)*p);
		return key;
	}

	if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAPV3, &norm, LDAP_DN_FORMAT_LDAPV3) !=
	    LDAP_SUCCESS)
		return NULL;
	key = strdup(norm);
	ldap_memfree(norm);
	/* attribute types and the values of dc, ou, cn and uid compare without case */
	for (char *p = key; p != NULL && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return key;
}
