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

int ls_read_group(struct ls_conn *c, const char *group_dn, const char *attr, struct ls_members *m)
{
	char *attrs[] = {(char *)attr, NULL};
	size_t count;
	int rc;

	*m = (struct ls_members){NULL, 0, strcasecmp(attr, "memberUid") == 0};
	rc = ls_conn_search(c, group_dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, on_member_entry,
			    m, &count);
	if (rc == LS_OK && count == 0) {
		ls_logf(c->log, "group %s: no such entry", group_dn);
		rc = LS_FAILED;
	}
	if (rc == LS_OK)
		ls_logf(c->log, "group %s: %zu members by %s", group_dn, m->n, attr);
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
		const char *why = NULL;
		char *key = m->by_name ? ls_name_normalize(m->values[i], strlen(m->values[i]), &why)
				       : ls_dn_key(m->values[i]);
		int stop;

		if (key == NULL) {
			ls_logf(log, "skipped member \"%s\": %s", m->values[i],
				why ? why : "not a DN");
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

int ls_member_sync_run(struct ls_session *sess, const struct ls_member_sync *m, ls_member_fn fn,
		       void *ctx)
{
	const char *base = m->select_group_members ? m->group_dn : m->search_base_dn;
	struct ls_members values = {NULL, 0, false};
	struct ls_conn *c = session_conn(sess, base);
	int rc;

	if (c == NULL)
		return LS_FAILED;
	if (!m->select_group_members)
		return by_search(c, m, fn, ctx);
	rc = ls_read_group(c, m->group_dn, m->group_member_attr, &values);
	if (rc == LS_OK)
		rc = each_value(&values, sess->log, fn, ctx);
	ls_members_free(&values);
	return rc;
}
