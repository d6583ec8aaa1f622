/*
 * The plan of an LDAP sync: the model and its safety rules are in
 * sync_plan.h. Everything here is in memory; the only way out is the log
 * sink the options name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync_plan.h"

/* ---- growing and searching arrays ---- */

static int grow(void **items, size_t *cap, size_t n, size_t size)
{
	void *bigger;
	size_t want = *cap ? *cap * 2 : 256;

	if (n < *cap)
		return 0;
	bigger = realloc(*items, want * size);
	if (bigger == NULL)
		return -1;
	*items = bigger;
	*cap = want;
	return 0;
}

/*
 * qsort and bsearch for arrays that may be empty, and then NULL (nothing
 * read yet): the C library's must not be given a NULL array even of length 0.
 */
static void sort_items(void *items, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(items, n, size, cmp);
}

static void *find_item(const void *key, const void *items, size_t n, size_t size,
		       int (*cmp)(const void *, const void *))
{
	return n > 0 ? bsearch(key, items, n, size, cmp) : NULL;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct plan_account *)a)->name,
		      ((const struct plan_account *)b)->name);
}

static int user_by_name(const void *a, const void *b)
{
	return strcmp(((const struct plan_user *)a)->name, ((const struct plan_user *)b)->name);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ptr_cmp(const void *a, const void *b)
{
	const void *x = *(const void *const *)a, *y = *(const void *const *)b;

	return x < y ? -1 : x > y;
}

/* The account of that name, once plan_accounts_done (or plan_index) has sorted them. */
static struct plan_account *find_account(const struct plan *p, const char *name)
{
	struct plan_account key = {.name = (char *)name};

	return find_item(&key, p->accounts, p->naccounts, sizeof(*p->accounts), by_name);
}

/*
 * Accounts by a string key, hashed: a group sync looks up every member of
 * every group, and a sorted array's binary search compares long shared
 * prefixes (UUIDv7 ids start with the time, DNs with "uid=") many times each.
 */

/* FNV-1a: the keys come from the store and the directory, not from an adversary */
static size_t str_hash(const char *s)
{
	size_t h = (size_t)14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
	return h;
}

/* Indexes every account whose key is not NULL; 0, or -1 out of memory. */
static int index_build(struct plan_index *x, struct plan_account *accounts, size_t n,
		       size_t key_offset)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	x->slots = calloc(cap, sizeof(*x->slots));
	x->mask = cap - 1;
	for (size_t i = 0; x->slots != NULL && i < n; i++) {
		const char *key = *(char **)((char *)&accounts[i] + key_offset);
		size_t at;

		if (key == NULL)
			continue;
		for (at = str_hash(key) & x->mask; x->slots[at]; at = (at + 1) & x->mask)
			;
		x->slots[at] = &accounts[i];
	}
	return x->slots ? 0 : -1;
}

static struct plan_account *index_find(const struct plan_index *x, size_t key_offset, const char *k)
{
	if (x->slots == NULL)
		return NULL;
	for (size_t at = str_hash(k) & x->mask; x->slots[at] != NULL; at = (at + 1) & x->mask)
		if (strcmp(*(char **)((char *)x->slots[at] + key_offset), k) == 0)
			return x->slots[at];
	return NULL;
}

#define BY_DN offsetof(struct plan_account, dn_key)
#define BY_ID offsetof(struct plan_account, id)
#define BY_LDAP_ID offsetof(struct plan_account, ldap_id)

static void index_free(struct plan_index *x)
{
	free(x->slots);
	*x = (struct plan_index){NULL, 0};
}

/* ---- the plan ---- */

static void note(const struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(const struct plan *p, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (p->o.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	p->o.log->line(p->o.log->ctx, line);
}

static int out_of_memory(const struct plan *p)
{
	note(p, "out of memory while planning");
	return -1;
}

static int refuse(struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A guard's refusal: said in the log, and kept in a line for the job's summary; always -1. */
static int refuse(struct plan *p, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	note(p, "refused: %s", line);
	/* the summary gets the first sentence */
	snprintf(p->refused, sizeof(p->refused), "%.*s", (int)strcspn(line, ";"), line);
	return -1;
}

void plan_init(struct plan *p, const struct plan_options *o)
{
	memset(p, 0, sizeof(*p));
	p->o = *o;
}

static void free_account(struct plan_account *a)
{
	free(a->id);
	free(a->name);
	free(a->dn);
	free(a->dn_key);
	free(a->ldap_id);
	free(a->full_name);
	free(a->n_dn);
	free(a->n_full_name);
}

void plan_free(struct plan *p)
{
	plan_settle(p);
	for (size_t i = 0; i < p->naccounts; i++)
		free_account(&p->accounts[i]);
	for (size_t i = 0; i < p->nlocals; i++) {
		free_account(p->locals[i]);
		free(p->locals[i]);
	}
	free(p->accounts);
	free(p->locals);
	free(p->changes);
	memset(p, 0, sizeof(*p));
}

static int add_change(struct plan *p, enum plan_action what, const struct plan_account *a,
		      const struct plan_group *g)
{
	struct plan_change *c;

	if (grow((void **)&p->changes, &p->capchanges, p->nchanges, sizeof(*p->changes)) != 0)
		return out_of_memory(p);
	c = &p->changes[p->nchanges++];
	*c = (struct plan_change){.what = what, .id = a->id, .name = a->name, .group = g};
	if (what == PLAN_CREATE)
		c->dn = a->dn;
	if (what == PLAN_UPDATE) {
		c->dn = a->n_dn;
		c->full_name = a->n_full_name;
	}
	return 0;
}

int plan_add_account(struct plan *p, const char *id, const char *name, const char *dn,
		     const char *ldap_id, const char *full_name, bool active, bool admin,
		     bool missing, bool deactivated)
{
	struct plan_account *a;

	if (grow((void **)&p->accounts, &p->capaccounts, p->naccounts, sizeof(*p->accounts)) != 0)
		return -1;
	a = &p->accounts[p->naccounts++];
	*a = (struct plan_account){.id = strdup(id),
				   .name = strdup(name),
				   .dn = strdup(dn),
				   .ldap_id = ldap_id[0] ? strdup(ldap_id) : NULL,
				   .full_name = strdup(full_name),
				   .active = active,
				   .admin = admin,
				   .missing = missing,
				   .deactivated = deactivated,
				   .n_active = active,
				   .n_admin = admin,
				   .n_missing = missing,
				   .n_deactivated = deactivated};
	return !a->id || !a->name || !a->dn || !a->full_name || (ldap_id[0] && !a->ldap_id) ? -1
											    : 0;
}

int plan_add_local_name(struct plan *p, const char *name)
{
	if (grow((void **)&p->local_names, &p->caplocal_names, p->nlocal_names,
		 sizeof(*p->local_names)) != 0 ||
	    (p->local_names[p->nlocal_names] = strdup(name)) == NULL)
		return -1;
	p->nlocal_names++;
	return 0;
}

int plan_accounts_done(struct plan *p)
{
	sort_items(p->local_names, p->nlocal_names, sizeof(*p->local_names), str_cmp);
	sort_items(p->accounts, p->naccounts, sizeof(*p->accounts), by_name);
	/*
	 * Accounts with no directory id yet (imported before ids were kept, or
	 * from a directory without them) are found by their DN before their
	 * name: a renamed entry keeps its DN more often than its username.
	 */
	p->nidless_dns = 0;
	for (size_t i = 0; i < p->naccounts; i++) {
		struct plan_account *a = &p->accounts[i];

		if (a->ldap_id != NULL || a->dn[0] == '\0')
			continue;
		if ((a->dn_key = ls_dn_key(a->dn)) != NULL)
			p->nidless_dns++;
	}
	/* the accounts stay where they are until plan_users adds to them */
	if (index_build(&p->by_dn, p->accounts, p->naccounts, BY_DN) != 0)
		return -1;
	return index_build(&p->by_ldap_id, p->accounts, p->naccounts, BY_LDAP_ID);
}

/* A∩B: only what differs is kept, so a directory of unchanged users costs no copies. */
static int match_user(struct plan *p, struct plan_account *a, const char *username, const char *dn,
		      const char *ldap_id, const char *full_name)
{
	a->in_dir = true;
	if (strcmp(a->name, username) != 0)
		note(p, "account %s is %s in the directory now (%s); the account keeps its name",
		     a->name, username, dn);
	if (a->ldap_id == NULL && ldap_id[0] != '\0') {
		if ((a->ldap_id = strdup(ldap_id)) == NULL)
			return -1;
		a->id_recorded = true;
	}
	if (strcmp(a->dn, dn) == 0 && strcmp(a->full_name, full_name) == 0)
		return 0;
	free(a->n_dn);
	free(a->n_full_name);
	a->n_dn = strdup(dn);
	a->n_full_name = strdup(full_name);
	return !a->n_dn || !a->n_full_name ? -1 : 0;
}

/* The id-less account whose DN is this entry's, or NULL. */
static struct plan_account *idless_account_at(const struct plan *p, const char *dn)
{
	struct plan_account *a;
	char *key;

	/* once every imported account has its id, no entry's DN needs reading */
	if (p->nidless_dns == 0 || (key = ls_dn_key(dn)) == NULL)
		return NULL;
	a = index_find(&p->by_dn, BY_DN, key);
	free(key);
	return a;
}

/* The account a directory user is: by its entry's id, else an account with no id by its DN,
 * else by a username whose account has no other id. */
static struct plan_account *account_of(struct plan *p, const char *username, const char *dn,
				       const char *ldap_id, bool *other)
{
	struct plan_account *a =
	    ldap_id[0] ? index_find(&p->by_ldap_id, BY_LDAP_ID, ldap_id) : NULL;

	*other = false;
	if (a == NULL)
		a = idless_account_at(p, dn);
	if (a != NULL || (a = find_account(p, username)) == NULL)
		return a;
	if (a->ldap_id != NULL && ldap_id[0] != '\0' && strcmp(a->ldap_id, ldap_id) != 0) {
		*other = true;
		note(p,
		     "skipped %s: the account %s was made from another directory entry (id %s, "
		     "this one's is %s), and %s is not merged with it; delete the account to let "
		     "this entry in",
		     dn, a->name, a->ldap_id, ldap_id, username);
		return NULL;
	}
	return a;
}

/*
 * Each user is matched against the imported accounts as the search streams
 * it, and only the users the store lacks are kept: memory follows the
 * change, not the directory.
 */
int plan_user_found(struct plan *p, const char *username, const char *dn, const char *ldap_id,
		    const char *full_name)
{
	bool other;
	struct plan_account *a = account_of(p, username, dn, ldap_id, &other);
	struct plan_user *u;

	if (other || (a != NULL && a->in_dir)) {
		if (!other)
			note(p, "skipped %s: the account %s was matched to another entry", dn,
			     a->name);
		p->sum.skipped++;
		return 0;
	}
	if (a != NULL)
		return match_user(p, a, username, dn, ldap_id, full_name);
	if (grow((void **)&p->users, &p->capusers, p->nusers, sizeof(*p->users)) != 0)
		return -1;
	u = &p->users[p->nusers++];
	*u = (struct plan_user){strdup(username), strdup(dn), ldap_id[0] ? strdup(ldap_id) : NULL,
				strdup(full_name)};
	return !u->name || !u->dn || !u->full_name || (ldap_id[0] && !u->ldap_id) ? -1 : 0;
}

/* Whether an account of that name exists that sync must not touch (managed, or an org). */
static bool name_taken(const struct plan *p, const char *name)
{
	return find_item(&name, p->local_names, p->nlocal_names, sizeof(*p->local_names),
			 str_cmp) != NULL;
}

/* The new account takes the directory user's strings: a first sync holds each once. */
static int plan_created(struct plan *p, struct plan_user *u)
{
	struct plan_account *a;

	if (name_taken(p, u->name)) {
		note(p, "skipped %s: a managed account or an organization has the name %s", u->dn,
		     u->name);
		p->sum.skipped++;
		return 0;
	}
	if (grow((void **)&p->accounts, &p->capaccounts, p->naccounts, sizeof(*p->accounts)) != 0)
		return out_of_memory(p);
	a = &p->accounts[p->naccounts++];
	*a = (struct plan_account){.id = malloc(ID_LEN),
				   .name = u->name,
				   .dn = u->dn,
				   .ldap_id = u->ldap_id,
				   .full_name = u->full_name,
				   .n_active = true,
				   .created = true,
				   .in_dir = true};
	*u = (struct plan_user){NULL, NULL, NULL, NULL};
	if (a->id == NULL || p->o.new_id(a->id) != 0)
		return out_of_memory(p);
	p->sum.created++;
	return add_change(p, PLAN_CREATE, a, NULL);
}

static int plan_existing(struct plan *p, struct plan_account *a)
{
	if (!a->in_dir) {
		if (p->o.jit && !a->missing) {
			a->n_missing = true;
			p->sum.marked_missing++;
			return add_change(p, PLAN_MARK_MISSING, a, NULL);
		}
		if (!p->o.jit && a->active) {
			a->n_active = false;
			a->n_deactivated = true;
			p->sum.deactivated++;
			return add_change(p, PLAN_DEACTIVATE, a, NULL);
		}
		return 0;
	}
	if (a->n_dn != NULL) {
		p->sum.updated++;
		if (add_change(p, PLAN_UPDATE, a, NULL) != 0)
			return -1;
	}
	/* back in the directory: sync gives back what sync took, and says so like any change */
	if (!a->missing && !(a->deactivated && !a->active))
		return 0;
	a->n_missing = false;
	if (a->deactivated && !a->active) {
		a->n_active = true;
		a->n_deactivated = false;
	}
	p->sum.reactivated++;
	return add_change(p, PLAN_REACTIVATE, a, NULL);
}

/* The deactivation guard: too many at once is more likely an outage than a reorganisation. */
static int check_guard(struct plan *p)
{
	size_t active = 0, removed = p->sum.deactivated + p->sum.marked_missing;
	int pct = p->o.max_deactivation_percent;

	for (size_t i = 0; i < p->naccounts; i++)
		active +=
		    !p->accounts[i].created && p->accounts[i].active && !p->accounts[i].missing;
	if (removed <= PLAN_MIN_GUARDED || removed * 100 <= (size_t)pct * active)
		return 0;
	if (p->o.force) {
		note(p, "%zu of %zu active imported users would go; force is set", removed, active);
		return 0;
	}
	return refuse(p,
		      "%zu of %zu active imported users would be deactivated or marked missing, "
		      "more than maxDeactivationPercent (%d%%); nothing was changed. If the "
		      "directory is right, start the job again with \"force\":true",
		      removed, active, pct);
}

static int user_by_ldap_id(const void *a, const void *b)
{
	const struct plan_user *x = *(const struct plan_user *const *)a;
	const struct plan_user *y = *(const struct plan_user *const *)b;
	int c = strcmp(x->ldap_id, y->ldap_id);

	return c != 0 ? c : strcmp(x->name, y->name);
}

/* A new user that may not be made: its id is an account's already (the index holds them
 * all, ids found in this sync included), or an earlier new user's by name. */
static void skip_user(struct plan *p, struct plan_user *u, const char *whose)
{
	note(p, "skipped %s: its directory id %s is %s's already", u->dn, u->ldap_id, whose);
	p->sum.skipped++;
	free(u->name);
	free(u->dn);
	free(u->ldap_id);
	free(u->full_name);
	*u = (struct plan_user){NULL, NULL, NULL, NULL};
}

static int account_by_ldap_id(const void *a, const void *b)
{
	const struct plan_account *x = *(const struct plan_account *const *)a;
	const struct plan_account *y = *(const struct plan_account *const *)b;
	int c = strcmp(x->ldap_id, y->ldap_id);

	/* of two with one id, the stored one first: it keeps it */
	return c != 0 ? c : (int)x->id_recorded - (int)y->id_recorded;
}

/*
 * Two entries of one id (a directory listed under two domains) could give it
 * to two accounts found by their names: the second keeps its match but not
 * the id.
 */
static int one_account_per_recorded_id(struct plan *p)
{
	const struct plan_account **with_id = calloc(p->naccounts + 1, sizeof(*with_id));
	size_t n = 0;

	if (with_id == NULL)
		return out_of_memory(p);
	for (size_t i = 0; i < p->naccounts; i++)
		if (p->accounts[i].ldap_id != NULL)
			with_id[n++] = &p->accounts[i];
	sort_items(with_id, n, sizeof(*with_id), account_by_ldap_id);
	for (size_t i = 1; i < n; i++) {
		struct plan_account *a = (struct plan_account *)with_id[i];

		if (!a->id_recorded || strcmp(with_id[i - 1]->ldap_id, a->ldap_id) != 0)
			continue;
		note(p, "%s: the directory id %s is %s's already, and is not recorded", a->name,
		     a->ldap_id, with_id[i - 1]->name);
		free(a->ldap_id);
		a->ldap_id = NULL;
		a->id_recorded = false;
	}
	free(with_id);
	return 0;
}

/* One id is one account's: an id recorded twice is kept once, and new users whose id is taken
 * are not made. */
static int one_account_per_id(struct plan *p)
{
	struct plan_user **with_id = calloc(p->nusers + 1, sizeof(*with_id));
	size_t n = 0;

	if (with_id == NULL || one_account_per_recorded_id(p) != 0) {
		free(with_id);
		return out_of_memory(p);
	}
	index_free(&p->by_ldap_id);
	if (index_build(&p->by_ldap_id, p->accounts, p->naccounts, BY_LDAP_ID) != 0) {
		free(with_id);
		return out_of_memory(p);
	}
	/* with JIT on, new users are made at their logins, which check their ids */
	for (size_t i = 0; !p->o.jit && i < p->nusers; i++)
		if (p->users[i].ldap_id != NULL)
			with_id[n++] = &p->users[i];
	sort_items(with_id, n, sizeof(*with_id), user_by_ldap_id);
	for (size_t i = 0; i < n; i++) {
		const struct plan_account *a =
		    index_find(&p->by_ldap_id, BY_LDAP_ID, with_id[i]->ldap_id);

		if (a != NULL)
			skip_user(p, with_id[i], a->name);
		else if (i > 0 && with_id[i - 1]->ldap_id != NULL &&
			 strcmp(with_id[i - 1]->ldap_id, with_id[i]->ldap_id) == 0)
			skip_user(p, with_id[i], with_id[i - 1]->name);
	}
	free(with_id);
	/* the accounts are about to grow: the index would point into freed memory */
	index_free(&p->by_ldap_id);
	return 0;
}

int plan_users(struct plan *p)
{
	size_t nexisting = p->naccounts;

	if (p->o.target[0] != '\0') {
		/* a targeted sync trusts the login that just found the user */
		for (size_t i = 0; i < p->naccounts; i++)
			p->accounts[i].in_dir = true;
		return 0;
	}
	for (size_t i = 0; i < nexisting; i++)
		if (plan_existing(p, &p->accounts[i]) != 0)
			return -1;
	/* B−A: with JIT on users arrive at their first login instead */
	sort_items(p->users, p->nusers, sizeof(*p->users), user_by_name);
	if (one_account_per_id(p) != 0)
		return -1;
	for (size_t i = 0; !p->o.jit && i < p->nusers; i++)
		if (p->users[i].name != NULL && plan_created(p, &p->users[i]) != 0)
			return -1;
	return check_guard(p);
}

int plan_index(struct plan *p)
{
	index_free(&p->by_ldap_id);
	index_free(&p->by_dn);
	sort_items(p->accounts, p->naccounts, sizeof(*p->accounts), by_name);
	/* DN keys only matter to group syncs, which name members by DN: the DN this sync sets */
	for (size_t i = 0; i < p->naccounts; i++) {
		struct plan_account *a = &p->accounts[i];
		const char *dn = a->n_dn ? a->n_dn : a->dn;

		if (a->n_dn != NULL) {
			free(a->dn_key);
			a->dn_key = NULL;
		}
		if (a->dn_key == NULL && dn[0] != '\0' && (a->dn_key = ls_dn_key(dn)) == NULL)
			note(p, "%s: the DN \"%s\" cannot be read; groups cannot name it", a->name,
			     dn);
	}
	if (index_build(&p->by_dn, p->accounts, p->naccounts, BY_DN) != 0 ||
	    index_build(&p->by_id, p->accounts, p->naccounts, BY_ID) != 0)
		return out_of_memory(p);
	return 0;
}

bool plan_knows(const struct plan *p, const char *user_id)
{
	return index_find(&p->by_id, BY_ID, user_id) != NULL;
}

bool plan_found_dn(const struct plan *p, const char *dn_key)
{
	const struct plan_account *a = index_find(&p->by_dn, BY_DN, dn_key);

	return a != NULL && (a->in_dir || a->created);
}

/* ---- groups ---- */

/* Who a config names, as a sorted list of the accounts the plan knows. */
struct wanted {
	const struct plan_account **who;
	size_t n;
};

static int wanted_list(const struct plan *p, const struct plan_member *m, size_t n,
		       struct wanted *w)
{
	size_t kept = 0;

	w->n = 0;
	w->who = calloc(n + 1, sizeof(*w->who));
	if (w->who == NULL)
		return out_of_memory(p);
	for (size_t i = 0; i < n; i++) {
		const struct plan_account *a = m[i].dn_key
						   ? index_find(&p->by_dn, BY_DN, m[i].dn_key)
						   : find_account(p, m[i].username);

		/* only known accounts, and only imported ones: a group never reaches a local one */
		if (a != NULL && (a->in_dir || a->created))
			w->who[w->n++] = a;
	}
	sort_items(w->who, w->n, sizeof(*w->who), ptr_cmp);
	/* an account named twice (two spellings of its DN, two paths through nested groups) is
	 * one member: a second copy would be added again */
	for (size_t i = 0; i < w->n; i++)
		if (kept == 0 || w->who[i] != w->who[kept - 1])
			w->who[kept++] = w->who[i];
	w->n = kept;
	return 0;
}

/* The index of a in the wanted list, or -1. */
static long wanted_index(const struct wanted *w, const struct plan_account *a)
{
	const struct plan_account **hit = find_item(&a, w->who, w->n, sizeof(*w->who), ptr_cmp);

	return hit ? hit - w->who : -1;
}

static bool targeted_away(const struct plan *p, const struct plan_account *a)
{
	return p->o.target[0] != '\0' && strcmp(a->name, p->o.target) != 0;
}

/* A local account that a team sync removes: only its id and name are needed. */
static struct plan_account *local_account(struct plan *p, const struct plan_current *c)
{
	struct plan_account *a;

	if (grow((void **)&p->locals, &p->caplocals, p->nlocals, sizeof(*p->locals)) != 0 ||
	    (a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	p->locals[p->nlocals++] = a;
	a->id = strdup(c->user_id);
	a->name = strdup(c->name);
	a->local = true;
	return a->id && a->name ? a : NULL;
}

/* A team's imported members, and how many of them its plan removes. */
struct team_count {
	size_t members, removed;
};

/* One current member of a team: kept when wanted, else removed (within the rules). */
static int team_member(struct plan *p, const struct plan_group *g, const struct wanted *w,
		       bool *member, const struct plan_current *c, struct team_count *n)
{
	/* every imported account is in the plan: one that is not there is a local one */
	const struct plan_account *a = index_find(&p->by_id, BY_ID, c->user_id);
	long at;

	if (a == NULL && g->allow_non_ldap_members)
		return 0; /* the team allows members from outside the directory */
	if (a == NULL && (a = local_account(p, c)) == NULL)
		return out_of_memory(p);
	n->members += !a->local;
	if ((at = wanted_index(w, a)) >= 0) {
		member[at] = true;
		return 0;
	}
	if (targeted_away(p, a))
		return 0;
	n->removed += !a->local;
	p->sum.members_removed++;
	return add_change(p, PLAN_REMOVE_MEMBER, a, g);
}

/*
 * The member-removal guard: a team that would lose more than
 * maxDeactivationPercent of its imported members (and more than five) has
 * more likely lost its group's values than its members. Local members a
 * team does not allow are not the directory's, and do not count.
 */
static int check_team_guard(struct plan *p, const struct plan_group *g, const struct team_count *n)
{
	int pct = p->o.max_deactivation_percent;

	if (n->removed <= PLAN_MIN_GUARDED || n->removed * 100 <= (size_t)pct * n->members)
		return 0;
	if (p->o.force) {
		note(p, "team %s: %zu of its %zu LDAP members would go; force is set", g->name,
		     n->removed, n->members);
		return 0;
	}
	return refuse(p,
		      "team %s would lose %zu of its %zu LDAP members, more than "
		      "maxDeactivationPercent (%d%%); nothing was changed. If its group is right, "
		      "start the job again with \"force\":true",
		      g->name, n->removed, n->members, pct);
}

int plan_team(struct plan *p, const struct plan_group *g, const struct plan_member *wanted,
	      size_t nwanted, const struct plan_current *current, size_t ncurrent)
{
	struct team_count n = {0, 0};
	struct wanted w;
	bool *member;
	int rc = 0;

	if (wanted_list(p, wanted, nwanted, &w) != 0)
		return -1;
	member = calloc(w.n + 1, sizeof(*member));
	if (member == NULL)
		rc = out_of_memory(p);
	for (size_t i = 0; rc == 0 && i < ncurrent; i++)
		rc = team_member(p, g, &w, member, &current[i], &n);
	if (rc == 0)
		rc = check_team_guard(p, g, &n);
	for (size_t i = 0; rc == 0 && i < w.n; i++) {
		if (member[i] || targeted_away(p, w.who[i]))
			continue;
		p->sum.members_added++;
		rc = add_change(p, PLAN_ADD_MEMBER, w.who[i], g);
	}
	p->sum.teams_synced++;
	free(member);
	free(w.who);
	return rc;
}

int plan_admins(struct plan *p, const struct plan_member *wanted, size_t nwanted)
{
	struct wanted w;
	int rc = 0;

	if (wanted_list(p, wanted, nwanted, &w) != 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < p->naccounts; i++) {
		struct plan_account *a = &p->accounts[i];
		bool want = wanted_index(&w, a) >= 0;

		if (want == a->admin || targeted_away(p, a) || !(a->in_dir || a->created))
			continue;
		a->n_admin = want;
		p->sum.admins_changed++;
		rc = add_change(p, want ? PLAN_PROMOTE : PLAN_DEMOTE, a, NULL);
	}
	free(w.who);
	return rc;
}

int plan_org_admins(struct plan *p, const struct plan_group *g, const struct plan_member *wanted,
		    size_t nwanted, const struct plan_current *current, size_t ncurrent)
{
	struct wanted w;
	bool *admin;
	int rc = 0;

	if (wanted_list(p, wanted, nwanted, &w) != 0)
		return -1;
	admin = calloc(w.n + 1, sizeof(*admin));
	if (admin == NULL)
		rc = out_of_memory(p);
	for (size_t i = 0; rc == 0 && i < ncurrent; i++) {
		const struct plan_current *c = &current[i];
		/* local members are never promoted or demoted by sync */
		const struct plan_account *a =
		    c->imported ? index_find(&p->by_id, BY_ID, c->user_id) : NULL;
		long at;

		if (a == NULL || targeted_away(p, a))
			continue;
		if ((at = wanted_index(&w, a)) >= 0) {
			admin[at] = c->admin;
		} else if (c->admin) {
			p->sum.admins_changed++;
			rc = add_change(p, PLAN_DEMOTE_ORG_ADMIN, a, g);
		}
	}
	for (size_t i = 0; rc == 0 && i < w.n; i++) {
		if (admin[i] || targeted_away(p, w.who[i]))
			continue;
		p->sum.admins_changed++;
		rc = add_change(p, PLAN_PROMOTE_ORG_ADMIN, w.who[i], g);
	}
	free(admin);
	free(w.who);
	return rc;
}

/*
 * Nobody could administer authd any more if a sync demoted, deactivated or
 * marked missing every admin left (SPEC §4: never the last active admin),
 * so such a plan is refused whatever force says.
 */
int plan_admins_left(struct plan *p, int64_t active_admins)
{
	size_t imported = 0, usable_now = 0, usable_after = 0;
	int64_t locals;

	for (size_t i = 0; i < p->naccounts; i++) {
		const struct plan_account *a = &p->accounts[i];

		imported += !a->created && a->active && a->admin;
		usable_now += !a->created && a->active && a->admin && !a->missing;
		usable_after += a->n_active && a->n_admin && !a->n_missing;
	}
	/* the store counts the imported admins too, missing ones included */
	locals = active_admins - (int64_t)imported;
	if (locals + (int64_t)usable_after > 0 || locals + (int64_t)usable_now == 0)
		return 0;
	return refuse(p, "this sync would leave no active admin (it demotes, deactivates or "
			 "marks missing every one left); nothing was changed. Make another account "
			 "an admin first");
}

void plan_settle(struct plan *p)
{
	for (size_t i = 0; i < p->nusers; i++) {
		free(p->users[i].name);
		free(p->users[i].dn);
		free(p->users[i].ldap_id);
		free(p->users[i].full_name);
	}
	free(p->users);
	p->users = NULL;
	p->nusers = p->capusers = 0;
	for (size_t i = 0; i < p->naccounts; i++) {
		free(p->accounts[i].dn_key);
		p->accounts[i].dn_key = NULL;
	}
	for (size_t i = 0; i < p->nlocal_names; i++)
		free(p->local_names[i]);
	free(p->local_names);
	p->local_names = NULL;
	p->nlocal_names = p->caplocal_names = 0;
	index_free(&p->by_dn);
	index_free(&p->by_id);
	index_free(&p->by_ldap_id);
}

const char *plan_action_name(enum plan_action a)
{
	static const char *const names[] = {
	    [PLAN_CREATE] = "create",
	    [PLAN_UPDATE] = "update",
	    [PLAN_DEACTIVATE] = "deactivate",
	    [PLAN_MARK_MISSING] = "markMissing",
	    [PLAN_REACTIVATE] = "reactivate",
	    [PLAN_PROMOTE] = "promote",
	    [PLAN_DEMOTE] = "demote",
	    [PLAN_ADD_MEMBER] = "addMember",
	    [PLAN_REMOVE_MEMBER] = "removeMember",
	    [PLAN_PROMOTE_ORG_ADMIN] = "promoteOrgAdmin",
	    [PLAN_DEMOTE_ORG_ADMIN] = "demoteOrgAdmin",
	};

	return names[a];
}
