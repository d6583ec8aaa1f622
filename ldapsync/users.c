/*
 * Finding users (SPEC §6.3) and logging them in (SPEC §6.4): the user
 * search configs run in order on the server each one's base DN picks, with
 * group selection, username rules and first-search-wins de-duplication; an
 * imported account's login binds its stored DN, and finds its entry again by
 * its directory id when the entry has moved.
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

/* The attribute that holds an entry's directory id on the connection's server; "" for none. */
static const char *id_attr(const struct ls_conn *c)
{
	return c->s->servers[c->server].unique_id_attr;
}

/* The attributes a user search asks for: the username, the full name and the directory id. */
static void user_attrs(const struct ls_user_search *q, const struct ls_conn *c, char *attrs[4])
{
	size_t n = 0;

	attrs[n++] = q->username_attr;
	if (q->full_name_attr[0] != '\0')
		attrs[n++] = q->full_name_attr;
	if (id_attr(c)[0] != '\0')
		attrs[n++] = (char *)id_attr(c);
	attrs[n] = NULL;
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
	char *name = NULL, *full = NULL, *id = NULL;
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
	id = ls_entry_id(ld, entry, id_attr(r->c));
	struct ls_user u = {name, dn, id ? id : "", full ? full : "", r->search, r->c->server};
	r->counts->found++;
	r->users++;
	stop = r->fn(r->ctx, &u);
out:
	ldap_memfree(dn);
	free(raw);
	free(name);
	free(full);
	free(id);
	return stop;
}

/* With matchGroupIterate: one lookup per member instead of one search of everyone. */
static int iterate_members(struct run *r, const struct ls_members *m)
{
	const struct ls_user_search *q = run_search(r);
	char *attrs[4];
	int rc = LS_OK;

	user_attrs(q, r->c, attrs);
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
	char *attrs[4];
	struct ls_members m = {NULL, 0, false};
	struct ls_set group = {NULL, 0, 0};
	char *filter = user_filter(q, q->username_attr, "*");
	size_t count = 0;
	int rc = filter ? LS_OK : LS_FAILED;

	user_attrs(q, r->c, attrs);
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
	free(f->unique_id);
	free(f->server);
	*f = (struct ls_found){NULL, NULL, NULL, NULL, NULL};
}

/* What one login search found: the first entry, and whether there was more than one. */
struct lookup {
	const struct ls_user_search *q;
	const char *username;
	const char *id_attr;
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
	l->found.unique_id = ls_entry_id(ld, entry, l->id_attr);
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

/*
 * A simple bind as dn on the server §6.2 picks for it: the bind's LDAP
 * result, or -1 when the server could not be reached. After a success the
 * connection stays open, bound as dn, for the caller to close.
 */
static int bind_as(const struct ls_settings *s, const char *dn, const char *password,
		   struct ls_log *log, struct ls_conn *c)
{
	int rc;

	if (ls_conn_open(c, s, ls_server_for_dn(s, dn), false, log) != 0)
		return -1;
	rc = ls_conn_bind(c, dn, password, "user");
	ls_conn_lost(c, rc);
	if (rc != LDAP_SUCCESS)
		ls_conn_close(c);
	return rc;
}

/* Binds as the user on the server §6.2 picks for the user's DN. */
static enum ls_login_result bind_user(const struct ls_settings *s, const char *dn,
				      const char *password, struct ls_log *log, char **server)
{
	struct ls_conn c;
	int rc = bind_as(s, dn, password, log, &c);

	if (rc == LDAP_SUCCESS) {
		free(*server);
		*server = strdup(c.url);
		ls_conn_close(&c);
		return LS_LOGIN_OK;
	}
	return rc == LDAP_INVALID_CREDENTIALS ? LS_LOGIN_DENIED : LS_LOGIN_ERROR;
}

/* Runs one search config for the username: LS_OK with l->found.dn set when it matched. */
static int lookup_user(struct ls_conn *c, struct lookup *l)
{
	const struct ls_user_search *q = l->q;
	char *esc = ls_escape_filter_value(l->username, strlen(l->username));
	char *filter = esc ? user_filter(q, q->username_attr, esc) : NULL;
	char *attrs[4];
	size_t count = 0;
	int rc = LS_FAILED;
	bool member = true;

	l->id_attr = id_attr(c);
	user_attrs(q, c, attrs);
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
		struct lookup l = {
		    &s->searches[i], username, "", {NULL, NULL, NULL, NULL, NULL}, 0};
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

static int on_own_entry(void *arg, LDAP *ld, LDAPMessage *entry)
{
	struct lookup *l = arg;

	if (l->found.unique_id == NULL)
		l->found.unique_id = ls_entry_id(ld, entry, l->id_attr);
	return 0;
}

/*
 * The directory id of the entry the connection is bound as, read as that
 * user; NULL when the entry has none, or it cannot be read (the login then
 * goes on as it did before ids were kept).
 */
static char *read_own_id(struct ls_conn *c, const char *dn)
{
	struct lookup l = {NULL, NULL, id_attr(c), {NULL, NULL, NULL, NULL, NULL}, 0};
	char *attrs[] = {(char *)l.id_attr, NULL};
	size_t count = 0;

	if (l.id_attr[0] == '\0')
		return NULL;
	if (ls_conn_search(c, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, on_own_entry, &l,
			   &count) != LS_OK)
		ls_logf(c->log, "the entry's %s could not be read: it is not checked", l.id_attr);
	return l.found.unique_id;
}

/*
 * The read of the entry's directory id, sent on a reader's connection just
 * before the user's bind, so that the two round trips overlap and a login
 * waits for one: the user's bind connection is then used for nothing but
 * the bind.
 */
struct id_read {
	struct ls_conn c;
	int msgid; /* -1 when none is out */
	char *id;  /* what it found; NULL when none */
};

static void send_id_read(const struct ls_settings *s, const char *dn, struct ls_log *log,
			 struct id_read *r)
{
	struct timeval limit = {s->timeout_seconds, 0};
	char *attrs[2] = {NULL, NULL};
	size_t server = ls_server_for_dn(s, dn);
	int rc;

	r->msgid = -1;
	r->id = NULL;
	r->c = (struct ls_conn){.ld = NULL};
	/* without a pool, a connection of its own would cost more than the round trip it saves */
	if (s->pool_size == 0 || s->unpooled || s->servers[server].unique_id_attr[0] == '\0' ||
	    ls_conn_open(&r->c, s, server, true, log) != 0)
		return;
	attrs[0] = (char *)id_attr(&r->c);
	rc = ldap_search_ext(r->c.ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
			     &limit, 1, &r->msgid);
	if (rc != LDAP_SUCCESS) {
		r->c.broken = true;
		r->msgid = -1;
	}
}

/* Waits for the read's answer: 0 with r->id set (NULL when the entry has none), else -1. */
static int take_id_read(struct id_read *r)
{
	struct timeval wait = {r->c.s->timeout_seconds, 0};
	LDAPMessage *msg;
	int type, err = LDAP_OTHER;

	while (r->msgid >= 0) {
		type = ldap_result(r->c.ld, r->msgid, LDAP_MSG_ONE, &wait, &msg);
		if (type <= 0) {
			/* lost, or left with an answer still to come: not for the next user */
			r->c.broken = true;
			r->msgid = -1;
			return -1;
		}
		if (type == LDAP_RES_SEARCH_ENTRY && r->id == NULL)
			r->id = ls_entry_id(r->c.ld, msg, id_attr(&r->c));
		if (type == LDAP_RES_SEARCH_RESULT) {
			r->msgid = -1;
			r->c.reused = false;
			if (ldap_parse_result(r->c.ld, msg, &err, NULL, NULL, NULL, NULL, 1) !=
			    LDAP_SUCCESS)
				err = LDAP_OTHER;
			return err == LDAP_SUCCESS ? 0 : -1;
		}
		ldap_msgfree(msg);
	}
	return -1;
}

/* Its answer read (or its connection dropped), and the connection given back. */
static void end_id_read(struct id_read *r)
{
	if (r->msgid >= 0)
		take_id_read(r);
	free(r->id);
	r->id = NULL;
	ls_conn_close(&r->c);
}

/*
 * The stored DN's bind succeeded: the entry there must still be the
 * account's. Its id comes from the read sent ahead, or, when that could not
 * be made, is read on c as the user.
 */
static enum ls_login_result check_same_entry(struct ls_conn *c, const struct ls_known *k,
					     struct id_read *ahead, struct ls_found *f)
{
	if (ahead->msgid >= 0 && take_id_read(ahead) == 0) {
		f->unique_id = ahead->id;
		ahead->id = NULL;
	} else {
		f->unique_id = read_own_id(c, k->dn);
	}
	if (f->unique_id == NULL || k->unique_id[0] == '\0' ||
	    strcmp(f->unique_id, k->unique_id) == 0)
		return LS_LOGIN_OK;
	ls_logf(c->log,
		"refused: the entry at %s has the directory id %s, not the account's %s: another "
		"entry has taken its place",
		k->dn, f->unique_id, k->unique_id);
	return LS_LOGIN_OTHER_ENTRY;
}

static bool same_dn(const char *a, const char *b)
{
	char *ka = ls_dn_key(a), *kb = ls_dn_key(b);
	bool same = ka != NULL && kb != NULL ? strcmp(ka, kb) == 0 : strcmp(a, b) == 0;

	free(ka);
	free(kb);
	return same;
}

/*
 * The stored DN's bind failed, and the entry may have moved: the username is
 * searched for again, and only an entry under another DN with the account's
 * directory id is bound as. *f becomes the entry found, when one is.
 */
static enum ls_login_result find_moved(const struct ls_settings *s, const char *name,
				       const struct ls_known *k, const char *password,
				       struct ls_log *log, struct ls_found *f)
{
	struct ls_found now = {NULL, NULL, NULL, NULL, NULL};
	enum ls_login_result rc;

	if (k->unique_id[0] == '\0') {
		ls_logf(log, "not searched for again: no directory id is recorded to know the "
			     "account's entry by");
		return LS_LOGIN_DENIED;
	}
	if ((rc = find_user(s, name, log, &now)) != LS_LOGIN_OK)
		return rc;
	if (same_dn(now.dn, k->dn)) {
		ls_logf(log, "%s is still %s: the password is wrong", name, k->dn);
		rc = LS_LOGIN_DENIED;
	} else if (now.unique_id == NULL || strcmp(now.unique_id, k->unique_id) != 0) {
		ls_logf(log,
			"refused: %s is now the entry %s, of directory id %s, not the account's "
			"%s: another entry has taken the name",
			name, now.dn, now.unique_id ? now.unique_id : "(none)", k->unique_id);
		rc = LS_LOGIN_OTHER_ENTRY;
	} else {
		ls_logf(log, "%s moved from %s to %s (the same directory id)", name, k->dn, now.dn);
		rc = bind_user(s, now.dn, password, log, &now.server);
	}
	if (rc == LS_LOGIN_OK || rc == LS_LOGIN_OTHER_ENTRY) {
		ls_found_free(f);
		*f = now;
	} else {
		ls_found_free(&now);
	}
	return rc;
}

/* An imported account's login: its stored DN first, then its entry found again if it moved. */
static enum ls_login_result login_known(const struct ls_settings *s, const char *name,
					const struct ls_known *k, const char *password,
					struct ls_log *log, struct ls_found *f)
{
	struct id_read ahead;
	struct ls_conn c;
	enum ls_login_result rc;
	int bound;

	send_id_read(s, k->dn, log, &ahead);
	/* the bind would go to the servers that could not be reached just now: no second wait */
	if (ahead.c.unreached)
		return LS_LOGIN_ERROR;
	bound = bind_as(s, k->dn, password, log, &c);
	if (bound == LDAP_SUCCESS) {
		f->server = strdup(c.url);
		rc = check_same_entry(&c, k, &ahead, f);
		ls_conn_close(&c);
		end_id_read(&ahead);
		return rc;
	}
	end_id_read(&ahead);
	/* OpenLDAP and AD answer a bind to a DN without an entry as they answer a wrong password */
	if (bound != LDAP_INVALID_CREDENTIALS && bound != LDAP_NO_SUCH_OBJECT)
		return LS_LOGIN_ERROR;
	return find_moved(s, name, k, password, log, f);
}

/* One try of a login whose name is normalised already (ls_login). */
static enum ls_login_result login_once(const struct ls_settings *s, const char *name,
				       const struct ls_known *known, const char *password,
				       struct ls_log *log, struct ls_found *out)
{
	struct ls_found found = {NULL, NULL, NULL, NULL, NULL};
	enum ls_login_result rc;

	if (known != NULL) {
		found.username = strdup(name);
		found.dn = strdup(known->dn);
		rc = found.username && found.dn ? login_known(s, name, known, password, log, &found)
						: LS_LOGIN_ERROR;
	} else {
		rc = find_user(s, name, log, &found);
		if (rc == LS_LOGIN_OK)
			rc = bind_user(s, found.dn, password, log, &found.server);
	}
	if ((rc == LS_LOGIN_OK || rc == LS_LOGIN_OTHER_ENTRY) && out != NULL)
		*out = found;
	else
		ls_found_free(&found);
	return rc;
}

enum ls_login_result ls_login(const struct ls_settings *s, const char *username,
			      const struct ls_known *known, const char *password,
			      struct ls_log *log, struct ls_found *out)
{
	unsigned long lost_before = ls_conn_losses();
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
	rc = login_once(s, name, known, password, log, out);
	/* a server lost in the middle of the login is skipped now: once more, on the others */
	if (rc == LS_LOGIN_ERROR && ls_conn_losses() != lost_before) {
		ls_logf(log, "a server was lost during the login: trying again");
		rc = login_once(s, name, known, password, log, out);
	}
	free(name);
	return rc;
}
