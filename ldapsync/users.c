/*
 * Finding users (SPEC §6.3) and logging them in (SPEC §6.4): the user
 * search configs run in order on the server each one's base DN picks, with
 * group selection, username rules and first-search-wins de-duplication.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "strset.h"

/* One user search config while it runs. */
struct run {
	const struct ls_settings *s;
	size_t search;
	struct ls_conn *c;
	struct ls_set *seen;  /* usernames given out so far, across searches */
	struct ls_set *group; /* keys of the group's members, or NULL for no selection */
	bool group_by_name;
	ls_user_fn fn;
	void *ctx;
	struct ls_search_counts *counts;
	size_t users;
};

static const struct ls_user_search *run_search(const struct run *r)
{
	return &r->s->searches[r->search];
}

/* "(&(attr=value)filter)"; value is escaped already, or "*". malloc'd. */
static char *user_filter(const struct ls_user_search *q, const char *attr, const char *value)
{
	const char *f = q->filter;
	char *out = NULL;
	int n;

	if (f[0] == '\0')
		n = asprintf(&out, "(%s=%s)", attr, value);
	else
		n = asprintf(&out, f[0] == '(' ? "(&(%s=%s)%s)" : "(&(%s=%s)(%s))", attr, value, f);
	return n < 0 ? NULL : out;
}

/* The key a member is known by: its username for memberUid, else its DN's key. */
static char *member_key(bool by_name, const char *value)
{
	return by_name ? ls_name_normalize(value, strlen(value), NULL) : ls_dn_key(value);
}

static bool in_group(const struct run *r, const char *dn, const char *username)
{
	char *key;
	bool in;

	if (r->group == NULL)
		return true;
	if (r->group_by_name)
		return ls_set_has(r->group, username);
	key = ls_dn_key(dn);
	in = key != NULL && ls_set_has(r->group, key);
	free(key);
	return in;
}

/* One entry of a user search: checked, de-duplicated, and handed to the caller. */
static int on_user_entry(void *arg, LDAP *ld, LDAPMessage *entry)
{
	struct run *r = arg;
	const struct ls_user_search *q = run_search(r);
	char *dn = ldap_get_dn(ld, entry), *raw = ls_entry_value(ld, entry, q->username_attr);
	char *name = NULL, *full = NULL;
	struct refusal why = {"", "has no value"};
	int stop = 0, added;

	/* a group of DNs selects before the name rules, so outsiders are not reported */
	if (dn != NULL && r->group != NULL && !r->group_by_name && !in_group(r, dn, NULL))
		goto out;
	if (raw != NULL)
		name = ls_name_normalize(raw, strlen(raw), &why);
	if (dn == NULL || name == NULL) {
		ls_logf(r->c->log, "skipped %s: %s \"%s\" %s", dn ? dn : "(no DN)",
			q->username_attr, raw ? raw : "", why.message);
		r->counts->invalid++;
		goto out;
	}
	if (r->group_by_name && !in_group(r, dn, name))
		goto out;
	if ((added = ls_set_add(r->seen, name)) < 0) {
		stop = 1; /* out of memory: a partial answer must not pass for a whole one */
		goto out;
	}
	if (added == 0) {
		ls_logf(r->c->log, "skipped %s: username %s was found by an earlier search", dn,
			name);
		r->counts->duplicates++;
		goto out;
	}
	full = q->full_name_attr[0] ? ls_entry_value(ld, entry, q->full_name_attr) : NULL;
	struct ls_user u = {name, dn, full ? full : "", r->search, r->c->server};
	r->counts->found++;
	r->users++;
	stop = r->fn(r->ctx, &u);
out:
	ldap_memfree(dn);
	free(raw);
	free(name);
	free(full);
	return stop;
}

/* With matchGroupIterate: one lookup per member instead of one search of everyone. */
static int iterate_members(struct run *r, const struct ls_members *m)
{
	const struct ls_user_search *q = run_search(r);
	char *attrs[] = {q->username_attr, q->full_name_attr[0] ? q->full_name_attr : NULL, NULL};
	int rc = LS_OK;

	r->c->missing_ok = true; /* a group may name an entry that is gone */
	for (size_t i = 0; rc == LS_OK && i < m->n; i++) {
		char *value =
		    m->by_name ? ls_escape_filter_value(m->values[i], strlen(m->values[i])) : NULL;
		char *filter = user_filter(q, q->username_attr, m->by_name ? value : "*");
		size_t count = 0;

		if (filter == NULL)
			rc = LS_FAILED;
		else if (m->by_name)
			rc = ls_conn_search(r->c, q->base_dn,
					    q->scope_subtree ? LDAP_SCOPE_SUBTREE
							     : LDAP_SCOPE_ONELEVEL,
					    filter, attrs, on_user_entry, r, &count);
		else
			rc = ls_conn_search(r->c, m->values[i], LDAP_SCOPE_BASE, filter, attrs,
					    on_user_entry, r, &count);
		free(value);
		free(filter);
	}
	r->c->missing_ok = false;
	return rc;
}

static int select_members(struct run *r, const struct ls_members *m, struct ls_set *group)
{
	for (size_t i = 0; i < m->n; i++) {
		char *key = member_key(m->by_name, m->values[i]);
		int added = key ? ls_set_add(group, key) : 1;

		free(key);
		if (added < 0)
			return LS_FAILED;
	}
	r->group = group;
	r->group_by_name = m->by_name;
	return LS_OK;
}

static int run_one_search(struct run *r)
{
	const struct ls_user_search *q = run_search(r);
	char *attrs[] = {q->username_attr, q->full_name_attr[0] ? q->full_name_attr : NULL, NULL};
	struct ls_members m = {NULL, 0, false};
	struct ls_set group = {NULL, 0, 0};
	char *filter = user_filter(q, q->username_attr, "*");
	size_t count = 0;
	int rc = filter ? LS_OK : LS_FAILED;

	if (rc == LS_OK && q->match_group)
		rc = ls_read_group(r->c, q->match_group_dn, q->match_group_member_attr, &m);
	if (rc == LS_OK && q->match_group && q->match_group_iterate) {
		rc = iterate_members(r, &m);
	} else if (rc == LS_OK) {
		if (q->match_group)
			rc = select_members(r, &m, &group);
		if (rc == LS_OK)
			rc = ls_conn_search(r->c, q->base_dn,
					    q->scope_subtree ? LDAP_SCOPE_SUBTREE
							     : LDAP_SCOPE_ONELEVEL,
					    filter, attrs, on_user_entry, r, &count);
	}
	if (rc == LS_OK)
		ls_logf(r->c->log, "user search %zu: %zu entries, %zu users", r->search + 1, count,
			r->users);
	r->group = NULL;
	ls_set_free(&group);
	ls_members_free(&m);
	free(filter);
	return rc;
}

int ls_find_users(const struct ls_settings *s, struct ls_log *log, ls_user_fn fn, void *ctx,
		  struct ls_search_counts *counts)
{
	struct ls_set seen = {NULL, 0, 0};
	int rc = LS_OK;

	*counts = (struct ls_search_counts){0, 0, 0};
	for (size_t i = 0; rc == LS_OK && i < s->nsearches; i++) {
		const struct ls_user_search *q = &s->searches[i];
		struct ls_conn c;
		struct run r = {s, i, &c, &seen, NULL, false, fn, ctx, counts, 0};

		ls_logf(log, "user search %zu: base %s (%s), filter %s", i + 1, q->base_dn,
			q->scope_subtree ? "subtree" : "one level",
			q->filter[0] ? q->filter : "(none)");
		if (ls_conn_open(&c, s, ls_server_for_dn(s, q->base_dn), true, log) != 0) {
			rc = LS_FAILED;
			break;
		}
		rc = run_one_search(&r);
		ls_conn_close(&c);
	}
	ls_set_free(&seen);
	if (rc == LS_FAILED)
		ls_logf(log, "the searches did not complete: nothing they found is a whole answer");
	return rc;
}

/* ---- login ---- */

void ls_found_free(struct ls_found *f)
{
	free(f->username);
	free(f->dn);
	free(f->full_name);
	*f = (struct ls_found){NULL, NULL, NULL};
}

/* What one login search found: the first entry, and whether there was more than one. */
struct lookup {
	const struct ls_user_search *q;
	const char *username;
	struct ls_found found;
	size_t matches;
};

static int on_login_entry(void *arg, LDAP *ld, LDAPMessage *entry)
{
	struct lookup *l = arg;
	char *raw = ls_entry_value(ld, entry, l->q->username_attr), *name = NULL, *dn;

	/* the server's matching rules are looser than ours: keep only an exact match */
	if (raw != NULL)
		name = ls_name_normalize(raw, strlen(raw), NULL);
	free(raw);
	if (name == NULL || strcmp(name, l->username) != 0) {
		free(name);
		return 0;
	}
	if (++l->matches > 1) {
		free(name);
		return 0;
	}
	dn = ldap_get_dn(ld, entry);
	l->found.username = name;
	l->found.dn = dn ? strdup(dn) : NULL;
	l->found.full_name =
	    l->q->full_name_attr[0] ? ls_entry_value(ld, entry, l->q->full_name_attr) : NULL;
	ldap_memfree(dn);
	return 0;
}

static int count_only(void *arg, LDAP *ld, LDAPMessage *entry)
{
	(void)arg;
	(void)ld;
	(void)entry;
	return 0;
}

/* Whether the user is in the search config's group: one base search of the group. */
static int check_group(struct ls_conn *c, const struct ls_user_search *q, const char *dn,
		       const char *username, bool *member)
{
	bool by_name = strcasecmp(q->match_group_member_attr, "memberUid") == 0;
	const char *value = by_name ? username : dn;
	char *esc = ls_escape_filter_value(value, strlen(value)), *filter = NULL;
	char *attrs[] = {(char *)LDAP_NO_ATTRS, NULL};
	size_t count = 0;
	int rc = LS_FAILED;

	if (esc != NULL && asprintf(&filter, "(%s=%s)", q->match_group_member_attr, esc) >= 0)
		rc = ls_conn_search(c, q->match_group_dn, LDAP_SCOPE_BASE, filter, attrs,
				    count_only, NULL, &count);
	*member = count > 0;
	if (rc == LS_OK)
		ls_logf(c->log, "group %s: %s %s a member", q->match_group_dn, dn,
			*member ? "is" : "is not");
	free(esc);
	free(filter);
	return rc;
}

/* Binds as the user on the server §6.2 picks for the user's DN. */
static enum ls_login_result bind_user(const struct ls_settings *s, const char *dn,
				      const char *password, struct ls_log *log)
{
	struct ls_conn c;
	int rc;

	if (ls_conn_open(&c, s, ls_server_for_dn(s, dn), false, log) != 0)
		return LS_LOGIN_ERROR;
	rc = ls_conn_bind(&c, dn, password, "user");
	ls_conn_close(&c);
	if (rc == LDAP_SUCCESS)
		return LS_LOGIN_OK;
	return rc == LDAP_INVALID_CREDENTIALS ? LS_LOGIN_DENIED : LS_LOGIN_ERROR;
}

/* Runs one search config for the username: LS_OK with l->found.dn set when it matched. */
static int lookup_user(struct ls_conn *c, struct lookup *l)
{
	const struct ls_user_search *q = l->q;
	char *esc = ls_escape_filter_value(l->username, strlen(l->username));
	char *filter = esc ? user_filter(q, q->username_attr, esc) : NULL;
	char *attrs[] = {q->username_attr, q->full_name_attr[0] ? q->full_name_attr : NULL, NULL};
	size_t count = 0;
	int rc = LS_FAILED;
	bool member = true;

	if (filter != NULL)
		rc = ls_conn_search(c, q->base_dn,
				    q->scope_subtree ? LDAP_SCOPE_SUBTREE : LDAP_SCOPE_ONELEVEL,
				    filter, attrs, on_login_entry, l, &count);
	if (rc == LS_OK)
		ls_logf(c->log, "search %s for %s: %zu entries", q->base_dn, filter, count);
	free(esc);
	free(filter);
	if (rc != LS_OK || l->found.dn == NULL)
		return rc;
	if (l->matches > 1) {
		/* two entries for one name: binding as either could be the wrong person */
		ls_logf(c->log, "refused: %zu entries have the username %s", l->matches,
			l->username);
		ls_found_free(&l->found);
		return LS_OK;
	}
	if (q->match_group &&
	    (rc = check_group(c, q, l->found.dn, l->username, &member)) == LS_OK && !member)
		ls_found_free(&l->found);
	return rc;
}

/* Runs the user search configs in order; the first that finds the user wins. */
static enum ls_login_result find_user(const struct ls_settings *s, const char *username,
				      struct ls_log *log, struct ls_found *found)
{
	for (size_t i = 0; i < s->nsearches; i++) {
		struct lookup l = {&s->searches[i], username, {NULL, NULL, NULL}, 0};
		struct ls_conn c;
		int rc;

		ls_logf(log, "user search %zu: base %s", i + 1, l.q->base_dn);
		if (ls_conn_open(&c, s, ls_server_for_dn(s, l.q->base_dn), true, log) != 0)
			return LS_LOGIN_ERROR;
		rc = lookup_user(&c, &l);
		ls_conn_close(&c);
		if (rc != LS_OK) {
			ls_found_free(&l.found);
			return LS_LOGIN_ERROR;
		}
		if (l.found.dn != NULL) {
			*found = l.found;
			ls_logf(log, "user %s is %s", username, found->dn);
			return LS_LOGIN_OK;
		}
	}
	ls_logf(log, "user %s: not found by any user search", username);
	return LS_LOGIN_DENIED;
}

enum ls_login_result ls_login(const struct ls_settings *s, const char *username, const char *dn,
			      const char *password, struct ls_log *log, struct ls_found *out)
{
	struct ls_found found = {NULL, NULL, NULL};
	enum ls_login_result rc;
	struct refusal why;
	char *name;

	if (password == NULL || is_blank(password)) {
		/* a simple bind with an empty password is an anonymous bind, and succeeds */
		ls_logf(log, "refused: the password is empty (no bind was tried)");
		return LS_LOGIN_DENIED;
	}
	if ((name = ls_name_normalize(username, strlen(username), &why)) == NULL) {
		ls_logf(log, "refused: username %s", why.message);
		return LS_LOGIN_DENIED;
	}
	if (dn != NULL) {
		found.username = name;
		found.dn = strdup(dn);
		rc = found.dn ? LS_LOGIN_OK : LS_LOGIN_ERROR;
	} else {
		rc = find_user(s, name, log, &found);
		free(name);
	}
	if (rc == LS_LOGIN_OK)
		rc = bind_user(s, found.dn, password, log);
	if (rc == LS_LOGIN_OK && out != NULL)
		*out = found;
	else
		ls_found_free(&found);
	return rc;
}
