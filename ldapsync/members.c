/*
 * Group membership as the directory has it: the member values of a group
 * entry, and the members a member-sync config (SPEC §6.5) names, by group
 * or by search.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"

static int on_member_entry(void *arg, LDAP *ld, LDAPMessage *entry)
{
	struct ls_members *m = arg;
	BerElement *ber = NULL;
	/* the search asked for one attribute, so the first one is it */
	char *name = ldap_first_attribute(ld, entry, &ber);

	if (name != NULL && m->values == NULL) {
		struct berval **vals = ldap_get_values_len(ld, entry, name);
		size_t k = 0;

		while (vals != NULL && vals[k] != NULL)
			k++;
		m->values = calloc(k + 1, sizeof(*m->values));
		for (size_t i = 0; m->values != NULL && i < k; i++)
			if (memchr(vals[i]->bv_val, '\0', vals[i]->bv_len) == NULL)
				m->values[m->n++] = strndup(vals[i]->bv_val, vals[i]->bv_len);
		ldap_value_free_len(vals);
	}
	ldap_memfree(name);
	ber_free(ber, 0);
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

/* One group's read: a config's read ahead of its turn (m), or one on its own (m NULL). */
struct read_ahead {
	const struct ls_member_sync *m;
	const char *dn, *attr;
	struct ls_members values;
	size_t entries;
	int msgid; /* while its request is out */
	bool failed;
};

/* Requests out at once on one connection: enough to hide the round trips, few enough to bound
 * what the server queues for one client. */
#define READ_WINDOW 64

static int send_group_read(struct ls_conn *c, struct read_ahead *r)
{
	char *attrs[] = {(char *)r->attr, NULL};
	struct timeval limit = {c->s->timeout_seconds, 0};
	/* a base search answers one entry at most: no paging */
	int rc = ldap_search_ext(c->ld, r->dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL,
				 NULL, &limit, 0, &r->msgid);

	if (rc != LDAP_SUCCESS) {
		ls_logf(c->log, "group %s: the search could not be sent: %s", r->dn,
			ldap_err2string(rc));
		return LS_FAILED;
	}
	return LS_OK;
}

/* A group's final result: LS_OK with its members logged, else LS_FAILED with why. */
static int group_read_done(struct ls_conn *c, struct read_ahead *r, LDAPMessage *msg)
{
	char *diag = NULL;
	int err = LDAP_OTHER;

	if (ldap_parse_result(c->ld, msg, &err, NULL, &diag, NULL, NULL, 0) != LDAP_SUCCESS)
		err = LDAP_OTHER;
	if (err == LDAP_SUCCESS && r->entries > 0) {
		ls_logf(c->log, "group %s: %zu members by %s", r->dn, r->values.n, r->attr);
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
	struct read_ahead *out[READ_WINDOW];
	size_t n;
};

/* The outstanding read a message answers (taken out of the window when it is the last
 * answer), or NULL. */
static struct read_ahead *answered(struct window *w, LDAPMessage *msg, int type)
{
	int msgid = ldap_msgid(msg);

	for (size_t i = 0; i < w->n; i++) {
		struct read_ahead *r = w->out[i];

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
	struct read_ahead *r;
	LDAPMessage *msg;
	int type = ldap_result(c->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &wait, &msg);
	int rc = LS_OK;

	if (type <= 0) {
		ls_logf(c->log, "group search failed: %s",
			type == 0 ? "no answer in time" : ldap_err2string(type));
		return LS_FAILED;
	}
	r = answered(w, msg, type);
	if (r != NULL && type == LDAP_RES_SEARCH_ENTRY) {
		r->entries++;
		on_member_entry(&r->values, c->ld, msg);
	} else if (r != NULL && type == LDAP_RES_SEARCH_RESULT) {
		rc = group_read_done(c, r, msg);
	}
	ldap_msgfree(msg);
	return rc;
}

/* Reads groups through one connection, a window of requests at a time. */
static int read_groups_on(struct ls_conn *c, struct read_ahead **todo, size_t n)
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
	return rc;
}

int ls_read_group(struct ls_conn *c, const char *group_dn, const char *attr, struct ls_members *m)
{
	struct read_ahead r = {NULL, group_dn, attr, no_members(attr), 0, -1, false}, *one = &r;
	int rc = read_groups_on(c, &one, 1);

	*m = r.values;
	return rc;
}

struct found_members {
	ls_member_fn fn;
	void *ctx;
};

static int on_found_entry(void *arg, LDAP *ld, LDAPMessage *entry)
{
	struct found_members *f = arg;
	char *dn = ldap_get_dn(ld, entry), *key = dn ? ls_dn_key(dn) : NULL;
	int stop = key ? f->fn(f->ctx, key, NULL) : 0;

	ldap_memfree(dn);
	free(key);
	return stop;
}

/* Hands each of a group's values to fn, as a DN key or a normalised username. */
static int each_value(const struct ls_members *m, struct ls_log *log, ls_member_fn fn, void *ctx)
{
	for (size_t i = 0; i < m->n; i++) {
		struct refusal why = {"", "not a DN"};
		char *key = m->by_name ? ls_name_normalize(m->values[i], strlen(m->values[i]), &why)
				       : ls_dn_key(m->values[i]);
		int stop;

		if (key == NULL) {
			ls_logf(log, "skipped member \"%s\": %s", m->values[i], why.message);
			continue;
		}
		stop = m->by_name ? fn(ctx, NULL, key) : fn(ctx, key, NULL);
		free(key);
		if (stop)
			return LS_STOPPED;
	}
	return LS_OK;
}

static int by_search(struct ls_conn *c, const struct ls_member_sync *m, ls_member_fn fn, void *ctx)
{
	const char *f = m->search_filter;
	char *attrs[] = {(char *)LDAP_NO_ATTRS, NULL}, *filter = NULL;
	struct found_members found = {fn, ctx};
	size_t count = 0;
	int rc;

	if (asprintf(&filter,
		     f[0] == '\0'  ? "(objectClass=*)"
		     : f[0] == '(' ? "%s"
				   : "(%s)",
		     f) < 0)
		return LS_FAILED;
	rc = ls_conn_search(c, m->search_base_dn,
			    m->search_scope_subtree ? LDAP_SCOPE_SUBTREE : LDAP_SCOPE_ONELEVEL,
			    filter, attrs, on_found_entry, &found, &count);
	if (rc == LS_OK)
		ls_logf(c->log, "search %s for %s: %zu entries", m->search_base_dn, filter, count);
	free(filter);
	return rc;
}

struct ls_session {
	const struct ls_settings *s;
	struct ls_log *log;
	struct ls_conn *conns; /* one per server; ld is NULL until first used */
	struct read_ahead *ahead;
	size_t nahead, next; /* configs are usually run in the order they were read */
};

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

/* The session's connection to the server for a DN, opened and bound on first use. */
static struct ls_conn *session_conn(struct ls_session *sess, const char *dn)
{
	size_t i = ls_server_for_dn(sess->s, dn);
	struct ls_conn *c = &sess->conns[i];

	if (c->ld == NULL && ls_conn_open(c, sess->s, i, true, sess->log) != 0)
		return NULL;
	return c;
}

/* The group read ahead for m, or NULL. */
static struct read_ahead *read_ahead_for(struct ls_session *sess, const struct ls_member_sync *m)
{
	if (sess->next < sess->nahead && sess->ahead[sess->next].m == m)
		return &sess->ahead[sess->next++];
	for (size_t i = 0; i < sess->nahead; i++)
		if (sess->ahead[i].m == m)
			return &sess->ahead[i];
	return NULL;
}

int ls_member_sync_run(struct ls_session *sess, const struct ls_member_sync *m, ls_member_fn fn,
		       void *ctx)
{
	const char *base = m->select_group_members ? m->group_dn : m->search_base_dn;
	struct ls_members values = {NULL, 0, false};
	struct read_ahead *r = m->select_group_members ? read_ahead_for(sess, m) : NULL;
	struct ls_conn *c;
	int rc;

	if (r != NULL)
		return r->failed ? LS_FAILED : each_value(&r->values, sess->log, fn, ctx);
	if ((c = session_conn(sess, base)) == NULL)
		return LS_FAILED;
	if (!m->select_group_members)
		return by_search(c, m, fn, ctx);
	rc = ls_read_group(c, m->group_dn, m->group_member_attr, &values);
	if (rc == LS_OK)
		rc = each_value(&values, sess->log, fn, ctx);
	ls_members_free(&values);
	return rc;
}

int ls_session_read_groups(struct ls_session *sess, const struct ls_member_sync *const *m, size_t n)
{
	struct read_ahead **todo;
	int rc = LS_OK;

	if (sess->ahead != NULL) /* a second call would lose the first one's groups */
		return LS_FAILED;
	todo = calloc(n + 1, sizeof(*todo));
	sess->ahead = calloc(n + 1, sizeof(*sess->ahead));
	if (todo == NULL || sess->ahead == NULL) {
		free(todo);
		return LS_FAILED;
	}
	for (size_t i = 0; i < n; i++)
		if (m[i]->select_group_members)
			sess->ahead[sess->nahead++] =
			    (struct read_ahead){m[i],
						m[i]->group_dn,
						m[i]->group_member_attr,
						no_members(m[i]->group_member_attr),
						0,
						-1,
						false};
	/* one server at a time, each through its own connection */
	for (size_t server = 0; rc == LS_OK && server < sess->s->nservers; server++) {
		struct ls_conn *c = NULL;
		size_t k = 0;

		for (size_t i = 0; i < sess->nahead; i++)
			if (ls_server_for_dn(sess->s, sess->ahead[i].dn) == server)
				todo[k++] = &sess->ahead[i];
		if (k > 0 && (c = session_conn(sess, todo[0]->dn)) == NULL)
			rc = LS_FAILED;
		if (c != NULL)
			rc = read_groups_on(c, todo, k);
	}
	free(todo);
	return rc;
}
