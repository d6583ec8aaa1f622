/*
 * The members a member-sync config (SPEC §6.5) names: by a group's values
 * (read ahead for many configs at once, or on their own), by a search, or
 * through nested groups (nested.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"

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

static struct ls_group_read *read_ahead_for(struct ls_session *sess, const struct ls_member_sync *m)
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
	struct ls_group_read *r = m->select_group_members ? read_ahead_for(sess, m) : NULL;
	struct ls_conn *c;
	int rc;

	if (r != NULL)
		return r->failed ? LS_FAILED : each_value(&r->values, sess->log, fn, ctx);
	if (m->select_group_members && m->follow_nested_groups)
		return ls_nested_members(sess, m, fn, ctx);
	if ((c = ls_session_conn(sess, base)) == NULL)
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
	if (sess->ahead != NULL) /* a second call would lose the first one's groups */
		return LS_FAILED;
	if ((sess->ahead = calloc(n + 1, sizeof(*sess->ahead))) == NULL)
		return LS_FAILED;
	/* nested groups are followed level by level when their config runs */
	for (size_t i = 0; i < n; i++)
		if (m[i]->select_group_members && !m[i]->follow_nested_groups)
			sess->ahead[sess->nahead++] =
			    ls_group_read_init(m[i], m[i]->group_dn, m[i]->group_member_attr);
	return ls_session_read(sess, sess->ahead, sess->nahead);
}
