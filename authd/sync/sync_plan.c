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
		     const char *full_name, bool active, bool admin, bool missing, bool deactivated)
{
	struct plan_account *a;

	if (grow((void **)&p->accounts, &p->capaccounts, p->naccounts, sizeof(*p->accounts)) != 0)
		return -1;
	a = &p->accounts[p->naccounts++];
	*a = (struct plan_account){.id = strdup(id),
				   .name = strdup(name),
				   .dn = strdup(dn),
				   .full_name = strdup(full_name),
				   .active = active,
				   .admin = admin,
				   .missing = missing,
				   .deactivated = deactivated,
				   .n_active = active,
				   .n_admin = admin,
				   .n_missing = missing,
				   .n_deactivated = deactivated};
	return !a->id || !a->name || !a->dn || !a->full_name ? -1 : 0;
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

void plan_accounts_done(struct plan *p)
{
	sort_items(p->local_names, p->nlocal_names, sizeof(*p->local_names), str_cmp);
	sort_items(p->accounts, p->naccounts, sizeof(*p->accounts), by_name);
}

/* A∩B: only what differs is kept, so a directory of unchanged users costs no copies. */
static int match_user(struct plan_account *a, const char *dn, const char *full_name)
{
	a->in_dir = true;
	if (strcmp(a->dn, dn) == 0 && strcmp(a->full_name, full_name) == 0)
		return 0;
	free(a->n_dn);
	free(a->n_full_name);
	a->n_dn = strdup(dn);
	a->n_full_name = strdup(full_name);
	return !a->n_dn || !a->n_full_name ? -1 : 0;
}

/*
 * Each user is matched against the imported accounts as the search streams
 * it, and only the users the store lacks are kept: memory follows the
 * change, not the directory.
 */
int plan_user_found(struct plan *p, const char *username, const char *dn, const char *full_name)
{
	struct plan_account *a = find_account(p, username);
	struct plan_user *u;

	if (a != NULL)
		return match_user(a, dn, full_name);
	if (grow((void **)&p->users, &p->capusers, p->nusers, sizeof(*p->users)) != 0)
		return -1;
	u = &p->users[p->nusers++];
	*u = (struct plan_user){strdup(username), strdup(dn), strdup(full_name)};
	return !u->name || !u->dn || !u->full_name ? -1 : 0;
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
				   .full_name = u->full_name,
				   .n_active = true,
				   .created = true,
				   .in_dir = true};
	*u = (struct plan_user){NULL, NULL, NULL};
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
	note(p,
	     "refused: %zu of %zu active imported users would be deactivated or marked missing, "
	     "more than maxDeactivationPercent (%d%%); nothing was changed. If the directory "
	     "is right, start the job again with \"force\":true",
	     removed, active, pct);
	return -1;
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
	for (size_t i = 0; !p->o.jit && i < p->nusers; i++)
		if (plan_created(p, &p->users[i]) != 0)
			return -1;
	return check_guard(p);
}

int plan_index(struct plan *p)
{
	sort_items(p->accounts, p->naccounts, sizeof(*p->accounts), by_name);
	/* DN keys only matter to group syncs, which name members by DN: the DN this sync sets */
	for (size_t i = 0; i < p->naccounts; i++) {
		struct plan_account *a = &p->accounts[i];
		const char *dn = a->n_dn ? a->n_dn : a->dn;

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

/* ---- groups ---- */

/* Who a config names, as a sorted list of the accounts the plan knows. */
struct wanted {
	const struct plan_account **who;
	size_t n;
};

static int wanted_list(const struct plan *p, const struct plan_member *m, size_t n,
		       struct wanted *w)
{
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

/* One current member of a team: kept when wanted, else removed (within the rules). */
static int team_member(struct plan *p, const struct plan_group *g, const struct wanted *w,
		       bool *member, const struct plan_current *c)
{
	/* every imported account is in the plan: one that is not there is a local one */
	const struct plan_account *a = index_find(&p->by_id, BY_ID, c->user_id);
	long at;

	if (a == NULL && g->allow_non_ldap_members)
		return 0; /* the team allows members from outside the directory */
	if (a == NULL && (a = local_account(p, c)) == NULL)
		return out_of_memory(p);
	if ((at = wanted_index(w, a)) >= 0) {
		member[at] = true;
		return 0;
	}
	if (targeted_away(p, a))
		return 0;
	p->sum.members_removed++;
	return add_change(p, PLAN_REMOVE_MEMBER, a, g);
}

int plan_team(struct plan *p, const struct plan_group *g, const struct plan_member *wanted,
	      size_t nwanted, const struct plan_current *current, size_t ncurrent)
{
	struct wanted w;
	bool *member;
	int rc = 0;

	if (wanted_list(p, wanted, nwanted, &w) != 0)
		return -1;
	member = calloc(w.n + 1, sizeof(*member));
	if (member == NULL)
		rc = out_of_memory(p);
	for (size_t i = 0; rc == 0 && i < ncurrent; i++)
		rc = team_member(p, g, &w, member, &current[i]);
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
	note(p, "refused: this sync would leave no active admin (it demotes, deactivates or "
		"marks missing every one left); nothing was changed. Make another account an "
		"admin first");
	return -1;
}

void plan_settle(struct plan *p)
{
	for (size_t i = 0; i < p->nusers; i++) {
		free(p->users[i].name);
		free(p->users[i].dn);
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
	free(p->by_dn.slots);
	free(p->by_id.slots);
	p->by_dn = p->by_id = (struct plan_index){NULL, 0};
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
