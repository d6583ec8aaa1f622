/*
 * Nested group membership for member-sync configs with followNestedGroups:
 * on Active Directory one search per user search config with the in-chain
 * matching rule, elsewhere the member groups read level by level.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "strset.h"

/* LDAP_CAP_ACTIVE_DIRECTORY_OID, in the rootDSE's supportedCapabilities of AD and Samba AD. */
#define AD_CAPABILITY "1.2.840.113556.1.4.800"

bool ls_conn_is_ad(struct ls_conn *c)
{
	char *attrs[] = {"supportedCapabilities", NULL};
	struct timeval limit = {c->s->timeout_seconds, 0};
	LDAPMessage *res = NULL, *entry;
	struct berval **caps = NULL;

	if (c->ad != 0)
		return c->ad > 0;
	c->ad = -1;
	/* a rootDSE that cannot be read is no proof of AD: members are then read group by group,
	 * which works on AD too */
	if (ldap_search_ext_s(c->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
			      &limit, 0, &res) == LDAP_SUCCESS &&
	    (entry = ldap_first_entry(c->ld, res)) != NULL)
		caps = ldap_get_values_len(c->ld, entry, "supportedCapabilities");
	for (size_t i = 0; caps != NULL && caps[i] != NULL; i++)
		if (caps[i]->bv_len == strlen(AD_CAPABILITY) &&
		    memcmp(caps[i]->bv_val, AD_CAPABILITY, caps[i]->bv_len) == 0)
			c->ad = 1;
	ldap_value_free_len(caps);
	ldap_msgfree(res);
	ls_logf(c->log, "server %s: %s", c->url,
		c->ad > 0 ? "Active Directory (nested groups by the in-chain rule)"
			  : "not Active Directory (nested groups read level by level)");
	return c->ad > 0;
}

char *ls_in_chain_filter(const char *group_dn, const char *username_attr, const char *filter)
{
	char *dn = ls_escape_filter_value(group_dn, strlen(group_dn)), *out = NULL;
	const char *f = filter ? filter : "";
	int n;

	if (dn == NULL)
		return NULL;
	n = asprintf(&out, "(&(memberOf:" LS_IN_CHAIN_RULE ":=%s)(%s=*)%s%s%s)", dn, username_attr,
		     f[0] != '\0' && f[0] != '(' ? "(" : "", f,
		     f[0] != '\0' && f[0] != '(' ? ")" : "");
	free(dn);
	return n < 0 ? NULL : out;
}

/* ---- Active Directory: the in-chain rule ---- */

struct chain_found {
	struct ls_set *seen;
	ls_member_fn fn;
	void *ctx;
	bool failed;
};

/* A user the rule found, handed on once however many searches find it. */
static int on_chain_entry(void *arg, LDAP *ld, LDAPMessage *entry)
{
	struct chain_found *f = arg;
	char *dn = ldap_get_dn(ld, entry), *key = dn ? ls_dn_key(dn) : NULL;
	int added = key ? ls_set_add(f->seen, key) : 0, stop = 0;

	f->failed = added < 0;
	if (added > 0)
		stop = f->fn(f->ctx, key, NULL);
	ldap_memfree(dn);
	free(key);
	return stop || f->failed;
}

static int count_entry(void *arg, LDAP *ld, LDAPMessage *entry)
{
	(void)arg, (void)ld, (void)entry;
	return 0;
}

/* The group is there: an in-chain search for one that is not finds nobody, and would empty the
 * team rather than fail. */
static int group_exists(struct ls_conn *c, const char *group_dn)
{
	char *attrs[] = {(char *)LDAP_NO_ATTRS, NULL};
	size_t count = 0;
	int rc = ls_conn_search(c, group_dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, count_entry,
				NULL, &count);

	if (rc == LS_OK && count == 1)
		return LS_OK;
	ls_logf(c->log, "group %s: no such entry", group_dn);
	return LS_FAILED;
}

/*
 * The users of every user search config on the group's server that are
 * members of the group at any depth: AD answers the whole chain. *none is set
 * when no user search config is on that server (nothing to search under).
 */
static int by_in_chain(struct ls_conn *c, const struct ls_member_sync *m, ls_member_fn fn,
		       void *ctx, bool *none)
{
	const struct ls_settings *s = c->s;
	char *attrs[] = {(char *)LDAP_NO_ATTRS, NULL};
	struct ls_set seen = {NULL, 0, 0};
	struct chain_found found = {&seen, fn, ctx, false};
	int rc = LS_OK;

	*none = true;
	for (size_t i = 0; rc == LS_OK && i < s->nsearches; i++) {
		const struct ls_user_search *q = &s->searches[i];
		char *filter;
		size_t count = 0;

		if (ls_server_for_dn(s, q->base_dn) != c->server)
			continue;
		if (*none && (rc = group_exists(c, m->group_dn)) != LS_OK)
			break;
		*none = false;
		if ((filter = ls_in_chain_filter(m->group_dn, q->username_attr, q->filter)) == NULL)
			rc = LS_FAILED;
		else
			rc = ls_conn_search(c, q->base_dn,
					    q->scope_subtree ? LDAP_SCOPE_SUBTREE
							     : LDAP_SCOPE_ONELEVEL,
					    filter, attrs, on_chain_entry, &found, &count);
		if (rc == LS_OK)
			ls_logf(c->log, "group %s: search %s for %s: %zu entries", m->group_dn,
				q->base_dn, filter, count);
		free(filter);
	}
	if (found.failed)
		ls_logf(c->log, "group %s: out of memory while reading its members", m->group_dn);
	ls_set_free(&seen);
	return found.failed ? LS_FAILED : rc;
}

/* ---- elsewhere: level by level ---- */

/*
 * The walk: the configured group is level 0; the member values of a level's
 * groups are read, 64 requests at a time on each server, as the next level's
 * probes. An entry that answers member values is a group and is followed;
 * another (a user, or a DN nothing is at) is a member. Every DN is looked at
 * once, so that a loop ends and a user named on two paths counts once. A
 * group more than LS_NEST_MAX levels below the configured one fails the
 * sync: cutting the walk short would drop members silently.
 */
struct followed {
	char *dn;
	size_t parent; /* index of the group that named it; the configured group is its own */
};

/* One level's reads, and for each the chain index of the group that named it. */
struct level {
	struct ls_group_read *reads;
	size_t *owner;
	size_t n;
};

struct walk {
	struct ls_session *sess;
	const struct ls_member_sync *m;
	ls_member_fn fn;
	void *ctx;
	struct ls_set seen;	      /* DN keys of every value taken: users and groups */
	struct ls_set groups;	      /* DN keys of the groups followed */
	struct followed *chain;	      /* the groups followed, for the log */
	size_t nchain, members, read; /* read: entries read, the configured group's among them */
	struct level now;	      /* the level being read */
};

static void free_level(struct level *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free((char *)l->reads[i].dn);
		ls_members_free(&l->reads[i].values);
	}
	free(l->reads);
	free(l->owner);
	*l = (struct level){NULL, NULL, 0};
}

static void walk_free(struct walk *w)
{
	free_level(&w->now);
	for (size_t i = 0; i < w->nchain; i++)
		free(w->chain[i].dn);
	free(w->chain);
	ls_set_free(&w->seen);
	ls_set_free(&w->groups);
}

/* "top > a > b": the groups from the configured one down to chain[i]; malloc'd. */
static char *chain_text(const struct walk *w, size_t i)
{
	char *text = strdup(w->chain[i].dn), *longer;

	while (text != NULL && w->chain[i].parent != i) {
		i = w->chain[i].parent;
		longer = NULL;
		if (asprintf(&longer, "%s > %s", w->chain[i].dn, text) < 0)
			longer = NULL;
		free(text);
		text = longer;
	}
	return text;
}

/* Keeps a group in the chain; its index, or -1 when out of memory. */
static long follow(struct walk *w, const char *dn, size_t parent)
{
	struct followed *bigger = realloc(w->chain, (w->nchain + 1) * sizeof(*w->chain));

	if (bigger == NULL)
		return -1;
	w->chain = bigger;
	if ((bigger[w->nchain].dn = strdup(dn)) == NULL)
		return -1;
	bigger[w->nchain].parent = parent == SIZE_MAX ? w->nchain : parent;
	return (long)w->nchain++;
}

/* Adds a read of the entry at dn, named by the group chain[by], to level l. */
static int add_read(struct walk *w, struct level *l, const char *dn, size_t by, bool probe)
{
	struct ls_group_read *r = realloc(l->reads, (l->n + 1) * sizeof(*l->reads));
	size_t *o = r ? realloc(l->owner, (l->n + 1) * sizeof(*l->owner)) : NULL;
	char *copy = o ? strdup(dn) : NULL;

	if (r != NULL)
		l->reads = r;
	if (o != NULL)
		l->owner = o;
	if (copy == NULL)
		return LS_FAILED;
	r[l->n] = ls_group_read_init(NULL, copy, w->m->group_member_attr);
	r[l->n].probe = probe;
	o[l->n++] = by;
	return LS_OK;
}

/* A member, handed on once. */
static int take_member(struct walk *w, const char *key)
{
	w->members++;
	return w->fn(w->ctx, key, NULL) ? LS_STOPPED : LS_OK;
}

/* One value of chain[group]: a user the searches found is a member at once; an entry not seen
 * before is read on the next level; one seen before is done. */
static int take_value(struct walk *w, const char *value, size_t group, struct level *next)
{
	struct ls_session *sess = w->sess;
	char *key = ls_dn_key(value);
	int added = key ? ls_set_add(&w->seen, key) : 0, rc = LS_OK;

	if (key == NULL)
		ls_logf(sess->log, "skipped member \"%s\" of %s: not a DN", value,
			w->chain[group].dn);
	else if (added == 0 && ls_set_has(&w->groups, key))
		ls_logf(sess->log, "group %s names %s, followed already (a loop or a second path)",
			w->chain[group].dn, value);
	if (added < 0)
		rc = LS_FAILED;
	else if (added > 0 && sess->known && sess->known(sess->known_ctx, key))
		rc = take_member(w, key);
	else if (added > 0)
		rc = add_read(w, next, value, group, true);
	free(key);
	return rc;
}

/* A group found on the given level: followed, unless it is too deep. */
static int take_group(struct walk *w, size_t i, size_t level, const char *key, struct level *next)
{
	const struct ls_group_read *r = &w->now.reads[i];
	long at = ls_set_add(&w->groups, key) < 0 ? -1 : follow(w, r->dn, w->now.owner[i]);
	char *text;
	int rc = LS_OK;

	if (at < 0)
		return LS_FAILED;
	if (level > LS_NEST_MAX) {
		text = chain_text(w, (size_t)at);
		ls_logf(w->sess->log,
			"group %s: groups nested more than %d levels deep, through %s: its members "
			"cannot all be read",
			w->m->group_dn, LS_NEST_MAX, text ? text : r->dn);
		free(text);
		return LS_FAILED;
	}
	for (size_t k = 0; rc == LS_OK && k < r->values.n; k++)
		rc = take_value(w, r->values.values[k], (size_t)at, next);
	return rc;
}

/* Reads one level, and makes the next one of the values of the groups it found. */
static int walk_level(struct walk *w, size_t level)
{
	struct level next = {NULL, NULL, 0};
	int rc = ls_session_read(w->sess, w->now.reads, w->now.n);

	w->read += w->now.n;
	for (size_t i = 0; rc == LS_OK && i < w->now.n; i++) {
		const struct ls_group_read *r = &w->now.reads[i];
		char *key = ls_dn_key(r->dn);

		/* an entry that answered no member values is no group: a member */
		if (key == NULL)
			rc = LS_FAILED;
		else if (r->probe && r->answers == 0)
			rc = take_member(w, key);
		else
			rc = take_group(w, i, level, key, &next);
		free(key);
	}
	free_level(&w->now);
	w->now = next;
	return rc;
}

static int by_levels(struct ls_session *sess, const struct ls_member_sync *m, ls_member_fn fn,
		     void *ctx)
{
	struct walk w = {.sess = sess, .m = m, .fn = fn, .ctx = ctx};
	char *key = ls_dn_key(m->group_dn);
	size_t level = 0;
	/* the configured group is read as a group: not there, it fails the sync */
	int rc = key != NULL && ls_set_add(&w.seen, key) > 0
		     ? add_read(&w, &w.now, m->group_dn, SIZE_MAX, false)
		     : LS_FAILED;

	while (rc == LS_OK && w.now.n > 0)
		rc = walk_level(&w, level++);
	if (rc == LS_OK)
		ls_logf(sess->log,
			"group %s: %zu members in it and the %zu groups nested in it (%zu entries "
			"read)",
			m->group_dn, w.members, w.nchain - 1, w.read);
	free(key);
	walk_free(&w);
	return rc;
}

int ls_nested_members(struct ls_session *sess, const struct ls_member_sync *m, ls_member_fn fn,
		      void *ctx)
{
	struct ls_conn *c = ls_session_conn(sess, m->group_dn);
	bool none = false;
	int rc;

	if (c == NULL)
		return LS_FAILED;
	if (!ls_conn_is_ad(c))
		return by_levels(sess, m, fn, ctx);
	rc = by_in_chain(c, m, fn, ctx, &none);
	if (!none)
		return rc;
	ls_logf(sess->log,
		"group %s: no user search runs on its server; its nested groups are read level by "
		"level",
		m->group_dn);
	return by_levels(sess, m, fn, ctx);
}
