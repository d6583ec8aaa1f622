/*
 * Reading the member values of group entries: in as many ranges as the
 * server answers them, many entries at once on each server's connection,
 * and the connections a job's member syncs share (ls_session).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"

/* Appends the values (those without a NUL, which no DN or name has) to m; -1 out of memory. */
static int add_values(struct ls_members *m, struct berval **vals)
{
	size_t k = 0;
	char **bigger;

	while (vals != NULL && vals[k] != NULL)
		k++;
	bigger = realloc(m->values, (m->n + k + 1) * sizeof(*m->values));
	if (bigger == NULL)
		return -1;
	m->values = bigger;
	for (size_t i = 0; i < k; i++) {
		if (memchr(vals[i]->bv_val, '\0', vals[i]->bv_len) != NULL)
			continue;
		if ((m->values[m->n] = strndup(vals[i]->bv_val, vals[i]->bv_len)) == NULL)
			return -1;
		m->n++;
	}
	m->values[m->n] = NULL;
	return 0;
}

void ls_members_free(struct ls_members *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->values[i]);
	free(m->values);
	*m = (struct ls_members){NULL, 0, false};
}

/* No members yet, of a group whose member attribute is attr. */
static struct ls_members no_members(const char *attr)
{
	return (struct ls_members){NULL, 0, strcasecmp(attr, "memberUid") == 0};
}

/* ---- reading groups, many at once ---- */

struct ls_group_read ls_group_read_init(const struct ls_member_sync *m, const char *dn,
					const char *attr)
{
	return (struct ls_group_read){
	    .m = m, .dn = dn, .attr = attr, .values = no_members(attr), .msgid = -1};
}

/* Requests out at once on one connection: enough to hide the round trips, few enough to bound
 * what the server queues for one client. */
#define READ_WINDOW 64

/*
 * The description a request asks for: the attribute, or "member;range=1500-*"; with the
 * server's memberRangeSize N, "member;range=<from>-<from+N-1>" from the first; malloc'd.
 */
static char *asked(const struct ls_conn *c, const struct ls_group_read *r)
{
	size_t step = (size_t)c->s->servers[c->server].member_range_size;
	char *d = NULL;

	if (step > 0)
		return asprintf(&d, "%s;range=%zu-%zu", r->attr, r->from, r->from + step - 1) < 0
			   ? NULL
			   : d;
	if (r->from == 0)
		return strdup(r->attr);
	return asprintf(&d, "%s;range=%zu-*", r->attr, r->from) < 0 ? NULL : d;
}

static int send_group_read(struct ls_conn *c, struct ls_group_read *r)
{
	char *attr = asked(c, r), *attrs[] = {attr, NULL}, *filter = NULL;
	struct timeval limit = {c->s->timeout_seconds, 0};
	int rc = LDAP_NO_MEMORY;

	r->entries = 0;
	if (r->probe && asprintf(&filter, "(%s=*)", r->attr) < 0)
		filter = NULL;
	/* a base search answers one entry at most: no paging */
	if (attr != NULL && (filter != NULL || !r->probe))
		rc = ldap_search_ext(c->ld, r->dn, LDAP_SCOPE_BASE,
				     filter ? filter : "(objectClass=*)", attrs, 0, NULL, NULL,
				     &limit, 0, &r->msgid);
	free(attr);
	free(filter);
	if (rc != LDAP_SUCCESS) {
		ls_logf(c->log, "group %s: the search could not be sent: %s", r->dn,
			ldap_err2string(rc));
		return LS_FAILED;
	}
	return LS_OK;
}

/* Descriptions an answer holds at most: it was asked for one attribute. */
#define MAX_ANSWERED 16

/* Says why the answer to a read cannot be taken, naming what was asked and what came. */
static void log_broken(struct ls_conn *c, struct ls_group_read *r, const struct ls_answered *got,
		       size_t n)
{
	char *attr = asked(c, r), held[512] = "";
	size_t used = 0;

	for (size_t i = 0; i < n && used < sizeof(held); i++)
		used += (size_t)snprintf(held + used, sizeof(held) - used, "%s%s (%zu)",
					 i ? ", " : "", got[i].name, got[i].nvalues);
	ls_logf(c->log,
		"group %s: its member values could not all be read: asked for %s, the answer "
		"held %s",
		r->dn, attr ? attr : r->attr, n ? held : "no values");
	free(attr);
	r->failed = true;
}

/* The attribute descriptions of an entry and their values, at most MAX_ANSWERED of them (the
 * caller frees both); false when it had more. */
static bool answered_values(LDAP *ld, LDAPMessage *entry, struct ls_answered *got,
			    struct berval ***vals, size_t *n)
{
	BerElement *ber = NULL;
	size_t extra = 0;

	*n = 0;
	for (char *a = ldap_first_attribute(ld, entry, &ber); a != NULL;
	     a = ldap_next_attribute(ld, entry, ber)) {
		if (*n == MAX_ANSWERED) {
			extra++;
			ldap_memfree(a);
			continue;
		}
		vals[*n] = ldap_get_values_len(ld, entry, a);
		got[*n] = (struct ls_answered){a, 0};
		while (vals[*n] != NULL && vals[*n][got[*n].nvalues] != NULL)
			got[*n].nvalues++;
		(*n)++;
	}
	ber_free(ber, 0);
	return extra == 0;
}

/* The group's entry: the values it answers are added, and where the next range starts. */
static void take_entry(struct ls_conn *c, struct ls_group_read *r, LDAPMessage *entry)
{
	struct ls_answered got[MAX_ANSWERED];
	struct berval **vals[MAX_ANSWERED];
	bool use[MAX_ANSWERED];
	enum ls_range_step st = LS_RANGE_BAD;
	size_t n = 0, next = 0;

	/* a base search answers one entry; a failed read takes nothing more */
	if (++r->entries > 1 || r->failed)
		return;
	if (answered_values(c->ld, entry, got, vals, &n))
		st = ls_range_next(r->attr, got, n, r->from, use, &next);
	for (size_t i = 0; st != LS_RANGE_BAD && i < n; i++)
		if (use[i] && add_values(&r->values, vals[i]) != 0) {
			ls_logf(c->log, "group %s: out of memory while reading its members", r->dn);
			r->failed = true;
		}
	if (st == LS_RANGE_BAD)
		log_broken(c, r, got, n);
	r->more = st == LS_RANGE_MORE && !r->failed;
	r->from = r->more ? next : r->from;
	r->answers++;
	for (size_t i = 0; i < n; i++) {
		ldap_memfree((char *)got[i].name);
		ldap_value_free_len(vals[i]);
	}
}

/* A group's final result: LS_OK with its members logged, else LS_FAILED with why. */
static int group_read_done(struct ls_conn *c, struct ls_group_read *r, LDAPMessage *msg)
{
	char *diag = NULL;
	int err = LDAP_OTHER;

	if (ldap_parse_result(c->ld, msg, &err, NULL, &diag, NULL, NULL, 0) != LDAP_SUCCESS)
		err = LDAP_OTHER;
	if (r->probe && r->answers == 0 && (err == LDAP_SUCCESS || err == LDAP_NO_SUCH_OBJECT)) {
		/* no group there: a member that is not one, or that is gone */
	} else if (err == LDAP_SUCCESS && r->entries > 0) {
		if (!r->failed && !r->more)
			ls_logf(c->log, "group %s: %zu members by %s%s", r->dn, r->values.n,
				r->attr, r->answers > 1 ? " (read in ranges)" : "");
	} else if (err == LDAP_SUCCESS || err == LDAP_NO_SUCH_OBJECT) {
		ls_logf(c->log, "group %s: no such entry", r->dn);
		r->failed = true;
	} else {
		ls_logf(c->log, "group %s: search failed: %s (LDAP %d)%s%s", r->dn,
			ldap_err2string(err), err, diag && *diag ? ": " : "", diag ? diag : "");
		r->failed = true;
	}
	ldap_memfree(diag);
	return r->failed ? LS_FAILED : LS_OK;
}

/* The requests of one connection that are out, waiting for their answers. */
struct window {
	struct ls_group_read *out[READ_WINDOW];
	size_t n;
};

/* The outstanding read a message answers (taken out of the window when it is the last
 * answer), or NULL. */
static struct ls_group_read *answered(struct window *w, LDAPMessage *msg, int type)
{
	int msgid = ldap_msgid(msg);

	for (size_t i = 0; i < w->n; i++) {
		struct ls_group_read *r = w->out[i];

		if (r->msgid != msgid)
			continue;
		if (type == LDAP_RES_SEARCH_RESULT)
			w->out[i] = w->out[--w->n];
		return r;
	}
	return NULL;
}

/* Takes one answer off the connection and hands it to its read. */
static int take_answer(struct ls_conn *c, struct window *w)
{
	struct timeval wait = {c->s->timeout_seconds, 0};
	struct ls_group_read *r;
	LDAPMessage *msg;
	int type = ldap_result(c->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &wait, &msg);
	int rc = LS_OK;

	if (type > 0)
		c->reused = false;
	if (type <= 0) {
		ls_logf(c->log, "group search failed: %s",
			type == 0 ? "no answer in time" : ldap_err2string(type));
		return LS_FAILED;
	}
	r = answered(w, msg, type);
	if (r != NULL && type == LDAP_RES_SEARCH_ENTRY) {
		take_entry(c, r, msg);
	} else if (r != NULL && type == LDAP_RES_SEARCH_RESULT) {
		rc = group_read_done(c, r, msg);
		/* the next range goes out in the place this answer left in the window */
		if (rc == LS_OK && r->more && (rc = send_group_read(c, r)) == LS_OK)
			w->out[w->n++] = r;
	}
	ldap_msgfree(msg);
	return rc;
}

/* Reads groups through one connection, a window of requests at a time. */
static int read_window(struct ls_conn *c, struct ls_group_read **todo, size_t n)
{
	struct window w = {.n = 0};
	size_t sent = 0;
	int rc = LS_OK;

	while (rc == LS_OK && (sent < n || w.n > 0)) {
		while (rc == LS_OK && sent < n && w.n < READ_WINDOW)
			if ((rc = send_group_read(c, todo[sent])) == LS_OK)
				w.out[w.n++] = todo[sent++];
		if (rc == LS_OK)
			rc = take_answer(c, &w);
	}
	/* after a failure the rest are not wanted: the server need not answer them */
	for (size_t i = 0; i < w.n; i++)
		ldap_abandon_ext(c->ld, w.out[i]->msgid, NULL, NULL);
	/* their answers may still come: not for the connection's next user */
	if (w.n > 0)
		c->broken = true;
	return rc;
}

static int read_groups_on(struct ls_conn *c, struct ls_group_read **todo, size_t n)
{
	int rc = read_window(c, todo, n);

	/* a pooled connection the server closed while idle answers nothing: once more afresh */
	if (rc != LS_OK && c->reused && ls_conn_reconnect(c) == 0)
		rc = read_window(c, todo, n);
	return rc;
}

int ls_read_group(struct ls_conn *c, const char *group_dn, const char *attr, struct ls_members *m)
{
	struct ls_group_read r = ls_group_read_init(NULL, group_dn, attr), *one = &r;
	int rc = read_groups_on(c, &one, 1);

	*m = r.values;
	return rc;
}

struct ls_session *ls_session_new(const struct ls_settings *s, struct ls_log *log)
{
	struct ls_session *sess = calloc(1, sizeof(*sess));

	if (sess == NULL || (sess->conns = calloc(s->nservers, sizeof(*sess->conns))) == NULL) {
		free(sess);
		return NULL;
	}
	sess->s = s;
	sess->log = log;
	return sess;
}

void ls_session_free(struct ls_session *sess)
{
	if (sess == NULL)
		return;
	for (size_t i = 0; i < sess->s->nservers; i++)
		ls_conn_close(&sess->conns[i]);
	for (size_t i = 0; i < sess->nahead; i++)
		ls_members_free(&sess->ahead[i].values);
	free(sess->ahead);
	free(sess->conns);
	free(sess);
}

void ls_session_known_users(struct ls_session *sess, ls_known_fn fn, void *ctx)
{
	sess->known = fn;
	sess->known_ctx = ctx;
}

struct ls_conn *ls_session_conn(struct ls_session *sess, const char *dn)
{
	size_t i = ls_server_for_dn(sess->s, dn);
	struct ls_conn *c = &sess->conns[i];

	if (c->ld == NULL && ls_conn_open(c, sess->s, i, true, sess->log) != 0)
		return NULL;
	return c;
}

/* The group read ahead for m, or NULL. */
int ls_session_read(struct ls_session *sess, struct ls_group_read *reads, size_t n)
{
	struct ls_group_read **todo = calloc(n + 1, sizeof(*todo));
	int rc = todo ? LS_OK : LS_FAILED;

	/* one server at a time, each through its own connection */
	for (size_t server = 0; rc == LS_OK && server < sess->s->nservers; server++) {
		struct ls_conn *c = NULL;
		size_t k = 0;

		for (size_t i = 0; i < n; i++)
			if (ls_server_for_dn(sess->s, reads[i].dn) == server)
				todo[k++] = &reads[i];
		if (k > 0 && (c = ls_session_conn(sess, todo[0]->dn)) == NULL)
			rc = LS_FAILED;
		if (c != NULL)
			rc = read_groups_on(c, todo, k);
	}
	free(todo);
	return rc;
}
