/*
 * One LDAP sync (SPEC §6.5): read what the directory says, compare it with
 * the store, and apply the difference in one transaction.
 *
 * The model, with A the imported accounts and B the users the searches find:
 *   A∩B   updated (DN, full name); re-activated when sync had deactivated them or
 *         marked them missing;
 *   B−A   created, only with JIT off (with JIT on, users arrive at first login);
 *   A−B   JIT off: deactivated. JIT on: marked missing (no login, no bundle).
 * Team members follow each team's memberSyncConfig, system admins follow
 * adminSyncOpts and org admins their org's adminMemberSyncConfig; only
 * imported accounts are ever promoted or demoted, so the local admins stay.
 *
 * Safety comes first, because other products have deactivated whole
 * companies after a directory outage: the plan is complete before anything
 * is written; any failed search, a cancel, or a plan that deactivates more
 * than maxDeactivationPercent of the active imported users (and more than
 * five) ends the job with nothing changed. A dry run stops before applying.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs.h"

#define MIN_GUARDED 5

/* A user the directory has and the store does not (B−A). */
struct dir_user {
	char *name, *dn, *full_name;
};

/* An imported account (A), and what the plan makes of it. */
struct acct {
	char *id, *name, *dn, *dn_key, *full_name;
	bool active, admin, missing, deactivated;	  /* as stored */
	bool n_active, n_admin, n_missing, n_deactivated; /* as planned */
	char *n_dn, *n_full_name;			  /* owned; NULL: unchanged */
	bool created;					  /* B−A, made by this sync */
	bool in_dir;
};

/* A membership change of a team (org_id set) or of an org's admins. */
struct member_change {
	const char *team_id; /* NULL for an org admin change */
	const char *org_id;
	const char *group; /* the team's or org's name, for the log */
	const struct acct *who;
	enum { ADD, REMOVE, PROMOTE, DEMOTE } what;
};

/*
 * Accounts by a string key, hashed: a group sync looks up every member of
 * every group, and a sorted array's binary search compares long shared
 * prefixes (UUIDv7 ids start with the time, DNs with "uid=") many times each.
 */
struct acct_index {
	struct acct **slots; /* open addressing, at most half full */
	size_t mask;
	const char *(*key)(const struct acct *);
};

struct sync {
	struct sync_job *job;
	const struct ls_settings *s;
	struct dir_user *users; /* B−A, sorted by name once the search is done */
	size_t nusers, capusers;
	struct acct *accts; /* A and the accounts B−A makes, sorted by name */
	size_t naccts, capaccts;
	struct acct_index by_dn; /* accts by DN key, for group members named by DN */
	struct acct_index by_id; /* and by id, for the store's member rows */
	struct acct **locals;	 /* local accounts a team sync removes, each malloc'd */
	size_t nlocals, caplocals;
	struct member_change *changes;
	size_t nchanges, capchanges;
	char **local_names; /* accounts a sync never makes or touches, sorted */
	size_t nlocal_names, caplocal_names;
	struct ls_session *sess; /* the directory connections of the group syncs */
	struct sync_summary sum;
};

/* ---- growing arrays ---- */

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

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct acct *)a)->name, ((const struct acct *)b)->name);
}

static int user_by_name(const void *a, const void *b)
{
	return strcmp(((const struct dir_user *)a)->name, ((const struct dir_user *)b)->name);
}

static struct acct *find_acct(struct sync *y, const char *name)
{
	struct acct key = {.name = (char *)name};

	return find_item(&key, y->accts, y->naccts, sizeof(*y->accts), by_name);
}

/* FNV-1a: the keys come from the store and the directory, not from an adversary */
static size_t str_hash(const char *s)
{
	size_t h = (size_t)14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
	return h;
}

static const char *id_of(const struct acct *a)
{
	return a->id;
}

static const char *dn_key_of(const struct acct *a)
{
	return a->dn_key;
}

/* Indexes every account that has the key; 0, or -1 out of memory. */
static int index_build(struct acct_index *x, struct acct *accts, size_t n,
		       const char *(*key)(const struct acct *))
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	x->slots = calloc(cap, sizeof(*x->slots));
	x->mask = cap - 1;
	x->key = key;
	for (size_t i = 0; x->slots != NULL && i < n; i++) {
		size_t at;

		if (key(&accts[i]) == NULL)
			continue;
		for (at = str_hash(key(&accts[i])) & x->mask; x->slots[at]; at = (at + 1) & x->mask)
			;
		x->slots[at] = &accts[i];
	}
	return x->slots ? 0 : -1;
}

static struct acct *index_find(const struct acct_index *x, const char *k)
{
	size_t at = str_hash(k) & x->mask;

	for (; x->slots[at] != NULL; at = (at + 1) & x->mask)
		if (strcmp(x->key(x->slots[at]), k) == 0)
			return x->slots[at];
	return NULL;
}

/* ---- reading the directory and the store ---- */

/* A∩B: only what differs is kept, so a directory of unchanged users costs no copies. */
static int match_user(struct acct *a, const struct ls_user *u)
{
	a->in_dir = true;
	if (strcmp(a->dn, u->dn) == 0 && strcmp(a->full_name, u->full_name) == 0)
		return 0;
	a->n_dn = strdup(u->dn);
	a->n_full_name = strdup(u->full_name);
	return !a->n_dn || !a->n_full_name;
}

/*
 * Each user the search finds is matched against the imported accounts as it
 * arrives (they are read and sorted before the search), and only the users
 * the store lacks are kept: memory follows the change, not the directory.
 */
static int collect_user(void *ctx, const struct ls_user *u)
{
	struct sync *y = ctx;
	struct acct *a = find_acct(y, u->username);
	struct dir_user *d;

	if (sync_job_canceled(y->job))
		return 1;
	if (a != NULL && match_user(a, u) == 0)
		return 0;
	if (a != NULL || grow((void **)&y->users, &y->capusers, y->nusers, sizeof(*y->users)) != 0)
		goto out_of_memory;
	d = &y->users[y->nusers++];
	*d = (struct dir_user){strdup(u->username), strdup(u->dn), strdup(u->full_name)};
	if (!d->name || !d->dn || !d->full_name)
		goto out_of_memory;
	return 0;
out_of_memory:
	sync_log(y->job, "out of memory while reading users");
	return 1;
}

static int collect_acct(const struct imported_row *r, void *ctx)
{
	struct sync *y = ctx;
	struct acct *a;

	if (grow((void **)&y->accts, &y->capaccts, y->naccts, sizeof(*y->accts)) != 0)
		return 1;
	a = &y->accts[y->naccts++];
	*a = (struct acct){.id = strdup(r->id),
			   .name = strdup(r->name),
			   .dn = strdup(r->dn),
			   .full_name = strdup(r->full_name),
			   .active = r->is_active,
			   .admin = r->is_admin,
			   .missing = r->ldap_missing,
			   .deactivated = r->ldap_deactivated};
	a->n_active = a->active;
	a->n_admin = a->admin;
	a->n_missing = a->missing;
	a->n_deactivated = a->deactivated;
	return !a->id || !a->name || !a->dn || !a->full_name;
}

/* ---- the user plan ---- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int collect_local(const char *name, void *ctx)
{
	struct sync *y = ctx;

	if (grow((void **)&y->local_names, &y->caplocal_names, y->nlocal_names,
		 sizeof(*y->local_names)) != 0 ||
	    (y->local_names[y->nlocal_names] = strdup(name)) == NULL)
		return 1;
	y->nlocal_names++;
	return 0;
}

/* Whether an account of that name exists that sync must not touch (managed, or an org). */
static bool name_taken(struct sync *y, const char *name)
{
	return find_item(&name, y->local_names, y->nlocal_names, sizeof(*y->local_names),
			 str_cmp) != NULL;
}

/* The new account takes the directory user's strings: a first sync holds each once. */
static int plan_created(struct sync *y, struct dir_user *d)
{
	struct acct *a;

	if (name_taken(y, d->name)) {
		sync_log(y->job, "skipped %s: a managed account or an organization has the name %s",
			 d->dn, d->name);
		y->sum.skipped++;
		return 0;
	}
	if (grow((void **)&y->accts, &y->capaccts, y->naccts, sizeof(*y->accts)) != 0)
		return -1;
	a = &y->accts[y->naccts++];
	*a = (struct acct){.id = malloc(ID_LEN),
			   .name = d->name,
			   .dn = d->dn,
			   .dn_key = ls_dn_key(d->dn),
			   .full_name = d->full_name,
			   .n_active = true,
			   .created = true,
			   .in_dir = true};
	*d = (struct dir_user){NULL, NULL, NULL};
	if (!a->id || new_uuid(a->id) != 0 || !a->dn_key)
		return -1;
	y->sum.created++;
	sync_change(y->job, "create", a->name, "dn", a->dn, NULL, NULL);
	return 0;
}

static void plan_existing(struct sync *y, struct acct *a)
{
	bool jit = y->s->jit;

	if (!a->in_dir) {
		if (jit && !a->missing) {
			a->n_missing = true;
			y->sum.marked_missing++;
			sync_change(y->job, "markMissing", a->name, NULL, NULL, NULL, NULL);
		} else if (!jit && a->active) {
			a->n_active = false;
			a->n_deactivated = true;
			y->sum.deactivated++;
			sync_change(y->job, "deactivate", a->name, NULL, NULL, NULL, NULL);
		}
		return;
	}
	if (a->n_dn != NULL) {
		y->sum.updated++;
		sync_change(y->job, "update", a->name, "dn", a->n_dn, "fullName", a->n_full_name);
	}
	/* back in the directory: sync gives back what sync took, and says so like any change */
	if (!a->missing && !(a->deactivated && !a->active))
		return;
	a->n_missing = false;
	if (a->deactivated && !a->active) {
		a->n_active = true;
		a->n_deactivated = false;
	}
	y->sum.reactivated++;
	sync_change(y->job, "reactivate", a->name, NULL, NULL, NULL, NULL);
}

static int plan_users(struct sync *y)
{
	size_t nexisting = y->naccts;

	for (size_t i = 0; i < nexisting; i++)
		plan_existing(y, &y->accts[i]);
	/* B−A: with JIT on users arrive at their first login instead */
	sort_items(y->users, y->nusers, sizeof(*y->users), user_by_name);
	for (size_t i = 0; !y->s->jit && i < y->nusers; i++)
		if (plan_created(y, &y->users[i]) != 0)
			return -1;
	return 0;
}

/* The deactivation guard: too many at once is more likely an outage than a reorganisation. */
static int check_guard(struct sync *y)
{
	size_t active = 0, removed = y->sum.deactivated + y->sum.marked_missing;
	int pct = y->s->max_deactivation_percent;

	for (size_t i = 0; i < y->naccts; i++)
		active += !y->accts[i].created && y->accts[i].active && !y->accts[i].missing;
	if (removed <= MIN_GUARDED || removed * 100 <= (size_t)pct * active)
		return 0;
	if (y->job->job.force) {
		sync_log(y->job, "%zu of %zu active imported users would go; force is set", removed,
			 active);
		return 0;
	}
	sync_log(
	    y->job,
	    "refused: %zu of %zu active imported users would be deactivated or marked missing, "
	    "more than maxDeactivationPercent (%d%%); nothing was changed. If the directory "
	    "is right, start the job again with \"force\":true",
	    removed, active, pct);
	return -1;
}

/* ---- groups: teams, system admins, org admins ---- */

/* Who a member-sync config names, as a sorted list of accounts. */
struct wanted {
	struct sync *y;
	const struct acct **who;
	size_t n, cap;
};

static int add_wanted(void *ctx, const char *dn_key, const char *username)
{
	struct wanted *w = ctx;
	struct acct *a = dn_key ? index_find(&w->y->by_dn, dn_key) : find_acct(w->y, username);

	/* only known accounts, and only imported ones: a group never reaches a local account */
	if (a == NULL || !(a->in_dir || a->created))
		return 0;
	if (grow((void **)&w->who, &w->cap, w->n, sizeof(*w->who)) != 0)
		return 1;
	w->who[w->n++] = a;
	return 0;
}

static int ptr_cmp(const void *a, const void *b)
{
	const void *x = *(const void *const *)a, *y = *(const void *const *)b;

	return x < y ? -1 : x > y;
}

static bool is_wanted(const struct wanted *w, const struct acct *a)
{
	return find_item(&a, w->who, w->n, sizeof(*w->who), ptr_cmp) != NULL;
}

static int run_member_sync(struct sync *y, const struct ls_member_sync *m, struct wanted *w)
{
	/* the session is read_groups_ahead's, which every group sync follows */
	*w = (struct wanted){y, NULL, 0, 0};
	if (ls_member_sync_run(y->sess, m, add_wanted, w) != LS_OK)
		return -1;
	sort_items(w->who, w->n, sizeof(*w->who), ptr_cmp);
	return 0;
}

static int add_change(struct sync *y, struct member_change c)
{
	if (grow((void **)&y->changes, &y->capchanges, y->nchanges, sizeof(*y->changes)) != 0)
		return -1;
	y->changes[y->nchanges++] = c;
	return 0;
}

/* A local account that a team sync removes: only its id and name are needed. */
static struct acct *local_acct(struct sync *y, const char *id)
{
	struct account row;
	struct acct *a;

	if (store_account_get(id, &row) != STORE_OK ||
	    grow((void **)&y->locals, &y->caplocals, y->nlocals, sizeof(*y->locals)) != 0 ||
	    (a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	y->locals[y->nlocals++] = a;
	a->id = strdup(row.id);
	a->name = strdup(row.name);
	return a->id && a->name ? a : NULL;
}

/* Walks the current members of a team or org against who the config wants. */
struct current {
	struct sync *y;
	const struct wanted *w;
	const struct member_sync_cfg *cfg;
	bool *flag; /* per wanted account: a member (teams) or an admin (orgs) already */
	int rc;
};

static bool targeted_away(const struct sync *y, const struct acct *a)
{
	const char *only = y->job->job.target;

	return only[0] != '\0' && strcmp(a->name, only) != 0;
}

/* The index of a in the wanted list, or -1. */
static long wanted_index(const struct wanted *w, const struct acct *a)
{
	const struct acct **hit = find_item(&a, w->who, w->n, sizeof(*w->who), ptr_cmp);

	return hit ? hit - w->who : -1;
}

static int team_member_seen(const char *user_id, void *ctx)
{
	struct current *c = ctx;
	const struct member_sync_cfg *cfg = c->cfg;
	/* every imported account is in the plan: one that is not there is a local one */
	struct acct *a = index_find(&c->y->by_id, user_id);
	long at;

	if (a == NULL && cfg->sync.allow_non_ldap_members)
		return 0; /* the team allows members from outside the directory */
	if (a == NULL && (a = local_acct(c->y, user_id)) == NULL) {
		c->rc = -1;
		return 1;
	}
	if ((at = wanted_index(c->w, a)) >= 0) {
		c->flag[at] = true;
		return 0;
	}
	if (!targeted_away(c->y, a) &&
	    add_change(c->y, (struct member_change){cfg->owner_id, cfg->org_id, cfg->name, a,
						    REMOVE}) != 0)
		c->rc = -1;
	return 0;
}

static int plan_team(struct sync *y, const struct member_sync_cfg *cfg)
{
	struct current c = {y, NULL, cfg, NULL, 0};
	struct wanted w;

	sync_log(y->job, "team %s: members from %s", cfg->name,
		 cfg->sync.select_group_members ? cfg->sync.group_dn : cfg->sync.search_base_dn);
	if (run_member_sync(y, &cfg->sync, &w) != 0)
		return -1;
	c.w = &w;
	c.flag = calloc(w.n + 1, sizeof(*c.flag));
	if (c.flag == NULL || store_team_member_ids(cfg->owner_id, team_member_seen, &c) != 0)
		c.rc = -1;
	for (size_t i = 0; c.rc == 0 && i < w.n; i++)
		if (!c.flag[i] && !targeted_away(y, w.who[i]))
			c.rc = add_change(y, (struct member_change){cfg->owner_id, cfg->org_id,
								    cfg->name, w.who[i], ADD});
	y->sum.teams_synced++;
	free(c.flag);
	free(w.who);
	return c.rc;
}

/* System admins: imported accounts are admins exactly when adminSyncOpts names them. */
static int plan_admins(struct sync *y)
{
	struct wanted w;

	if (!y->s->admin_sync.enable_sync)
		return 0;
	sync_log(y->job, "system admins: from %s",
		 y->s->admin_sync.select_group_members ? y->s->admin_sync.group_dn
						       : y->s->admin_sync.search_base_dn);
	if (run_member_sync(y, &y->s->admin_sync, &w) != 0)
		return -1;
	for (size_t i = 0; i < y->naccts; i++) {
		struct acct *a = &y->accts[i];
		bool want = is_wanted(&w, a);

		if (want == a->admin || targeted_away(y, a) || !(a->in_dir || a->created))
			continue;
		a->n_admin = want;
		y->sum.admins_changed++;
		sync_change(y->job, want ? "promote" : "demote", a->name, NULL, NULL, NULL, NULL);
	}
	free(w.who);
	return 0;
}

static int org_member_seen(const struct member_row_sync *m, void *ctx)
{
	struct current *c = ctx;
	struct acct *a = m->is_imported ? index_find(&c->y->by_id, m->user_id) : NULL;
	long at;

	if (a == NULL || targeted_away(c->y, a))
		return 0; /* local members are never promoted or demoted by sync */
	if ((at = wanted_index(c->w, a)) >= 0)
		c->flag[at] = m->is_admin;
	else if (m->is_admin &&
		 add_change(c->y, (struct member_change){NULL, c->cfg->owner_id, c->cfg->name, a,
							 DEMOTE}) != 0)
		c->rc = -1;
	return 0;
}

/* An org's admins: imported members are its admins exactly when the config names them. */
static int plan_org_admins(struct sync *y, const struct member_sync_cfg *cfg)
{
	struct current c = {y, NULL, cfg, NULL, 0};
	struct wanted w;

	sync_log(y->job, "organization %s: admins from %s", cfg->name,
		 cfg->sync.select_group_members ? cfg->sync.group_dn : cfg->sync.search_base_dn);
	if (run_member_sync(y, &cfg->sync, &w) != 0)
		return -1;
	c.w = &w;
	c.flag = calloc(w.n + 1, sizeof(*c.flag));
	if (c.flag == NULL || store_org_member_rows(cfg->owner_id, org_member_seen, &c) != 0)
		c.rc = -1;
	for (size_t i = 0; c.rc == 0 && i < w.n; i++)
		if (!c.flag[i] && !targeted_away(y, w.who[i]))
			c.rc = add_change(y, (struct member_change){NULL, cfg->owner_id, cfg->name,
								    w.who[i], PROMOTE});
	free(c.flag);
	free(w.who);
	return c.rc;
}

/*
 * Reads every group the configs name before any is planned, in the order
 * they will be planned: the directory answers many requests at once far
 * sooner than one round trip per team.
 */
static int read_groups_ahead(struct sync *y)
{
	size_t nteams, norgs, n = 0;
	const struct member_sync_cfg *teams = sync_job_team_configs(y->job, &nteams);
	const struct member_sync_cfg *orgs = sync_job_org_configs(y->job, &norgs);
	/* the teams', the orgs' and the system admins' */
	const struct ls_member_sync **m = calloc(nteams + norgs + 1, sizeof(*m));
	int rc;

	y->sess = ls_session_new(y->s, sync_job_ldap_log(y->job));
	if (m == NULL || y->sess == NULL) {
		free(m);
		return -1;
	}
	if (y->s->admin_sync.enable_sync)
		m[n++] = &y->s->admin_sync;
	for (size_t i = 0; i < nteams; i++)
		m[n++] = &teams[i].sync;
	for (size_t i = 0; i < norgs; i++)
		m[n++] = &orgs[i].sync;
	rc = ls_session_read_groups(y->sess, m, n);
	free(m);
	return rc == LS_OK ? 0 : -1;
}

static int plan_groups(struct sync *y)
{
	const struct member_sync_cfg *cfgs;
	size_t n;

	if (read_groups_ahead(y) != 0 || plan_admins(y) != 0)
		return -1;
	cfgs = sync_job_team_configs(y->job, &n);
	for (size_t i = 0; i < n; i++)
		if (sync_job_canceled(y->job) || plan_team(y, &cfgs[i]) != 0)
			return -1;
	cfgs = sync_job_org_configs(y->job, &n);
	for (size_t i = 0; i < n; i++)
		if (sync_job_canceled(y->job) || plan_org_admins(y, &cfgs[i]) != 0)
			return -1;
	for (size_t i = 0; i < y->nchanges; i++) {
		const struct member_change *c = &y->changes[i];
		static const char *const names[] = {"addMember", "removeMember", "promoteOrgAdmin",
						    "demoteOrgAdmin"};

		if (c->what == ADD)
			y->sum.members_added++;
		else if (c->what == REMOVE)
			y->sum.members_removed++;
		else
			y->sum.admins_changed++;
		sync_change(y->job, names[c->what], c->who->name,
			    c->team_id ? "team" : "organization", c->group, NULL, NULL);
	}
	return 0;
}

/*
 * Nobody could administer authd any more if a sync demoted, deactivated or
 * marked missing every admin left (SPEC §4: never the last active admin),
 * so such a plan is refused whatever force says.
 */
static int check_admins_left(struct sync *y)
{
	size_t imported = 0, usable_now = 0, usable_after = 0;
	int64_t all = 0, locals;

	if (store_count_active_admins(NULL, &all) != STORE_OK)
		return -1;
	for (size_t i = 0; i < y->naccts; i++) {
		const struct acct *a = &y->accts[i];

		imported += !a->created && a->active && a->admin;
		usable_now += !a->created && a->active && a->admin && !a->missing;
		usable_after += a->n_active && a->n_admin && !a->n_missing;
	}
	/* the store counts the imported admins too, missing ones included */
	locals = all - (int64_t)imported;
	if (locals + (int64_t)usable_after > 0 || locals + (int64_t)usable_now == 0)
		return 0;
	sync_log(y->job, "refused: this sync would leave no active admin (it demotes, deactivates "
			 "or marks missing every one left); nothing was changed. Make another "
			 "account an admin first");
	return -1;
}

/* ---- applying ---- */

static int apply_acct(struct acct *a, int64_t now)
{
	struct account row;

	if (a->created) {
		memset(&row, 0, sizeof(row));
		snprintf(row.id, sizeof(row.id), "%s", a->id);
		snprintf(row.name, sizeof(row.name), "%s", a->name);
		snprintf(row.full_name, sizeof(row.full_name), "%s", a->full_name);
		snprintf(row.ldap_dn, sizeof(row.ldap_dn), "%s", a->dn);
		row.is_active = row.is_imported = true;
		row.is_admin = a->n_admin;
		row.created_at = row.updated_at = now;
		return store_imported_insert(&row, now) == STORE_OK ? 0 : -1;
	}
	if (!a->n_dn && a->n_active == a->active && a->n_admin == a->admin &&
	    a->n_missing == a->missing && a->n_deactivated == a->deactivated)
		return 0;
	return store_imported_update(a->id, a->n_dn ? a->n_dn : a->dn,
				     a->n_full_name ? a->n_full_name : a->full_name, a->n_active,
				     a->n_admin, a->n_missing, a->n_deactivated, now) == STORE_OK
		   ? 0
		   : -1;
}

static int apply_change(const struct member_change *c)
{
	switch (c->what) {
	case ADD:
		return store_org_member_ensure(c->org_id, c->who->id) != STORE_OK ||
		       store_team_member_put(c->team_id, c->who->id, false) != STORE_OK;
	case REMOVE:
		return store_team_member_delete(c->team_id, c->who->id) == STORE_ERROR;
	case PROMOTE:
		return store_org_member_put(c->org_id, c->who->id, true) != STORE_OK;
	case DEMOTE:
		return store_org_member_put(c->org_id, c->who->id, false) != STORE_OK;
	}
	return -1;
}

/* Every change in one transaction: all of them, or none. */
static int apply(struct sync *y)
{
	int64_t now = now_seconds();
	int rc;

	rc = store_begin_bulk() == STORE_OK ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < y->naccts; i++)
		rc = apply_acct(&y->accts[i], now);
	for (size_t i = 0; rc == 0 && i < y->nchanges; i++)
		rc = apply_change(&y->changes[i]);
	if (rc == 0 && store_commit() != STORE_OK)
		rc = -1;
	if (rc != 0) {
		store_rollback();
		sync_log(y->job, "the store refused a change: nothing was changed");
	}
	return rc;
}

/* ---- the job ---- */

/*
 * Frees what only planning needs (the directory connections and the groups
 * read ahead, the indexes, the DN keys, the names) before the apply's page
 * cache grows: a first sync of a large directory peaks there.
 */
static void planning_done(struct sync *y)
{
	for (size_t i = 0; i < y->nusers; i++) {
		free(y->users[i].name);
		free(y->users[i].dn);
		free(y->users[i].full_name);
	}
	free(y->users);
	y->users = NULL;
	y->nusers = y->capusers = 0;
	for (size_t i = 0; i < y->naccts; i++) {
		free(y->accts[i].dn_key);
		y->accts[i].dn_key = NULL;
	}
	for (size_t i = 0; i < y->nlocal_names; i++)
		free(y->local_names[i]);
	free(y->local_names);
	y->local_names = NULL;
	y->nlocal_names = y->caplocal_names = 0;
	ls_session_free(y->sess);
	y->sess = NULL;
	free(y->by_dn.slots);
	free(y->by_id.slots);
	y->by_dn = y->by_id = (struct acct_index){NULL, 0, NULL};
}

static void sync_free(struct sync *y)
{
	planning_done(y);
	for (size_t i = 0; i < y->naccts; i++) {
		free(y->accts[i].id);
		free(y->accts[i].name);
		free(y->accts[i].dn);
		free(y->accts[i].full_name);
		free(y->accts[i].n_dn);
		free(y->accts[i].n_full_name);
	}
	for (size_t i = 0; i < y->nlocals; i++) {
		free(y->locals[i]->id);
		free(y->locals[i]->name);
		free(y->locals[i]);
	}
	free(y->accts);
	free(y->locals);
	free(y->changes);
}

/* Reads both sides and makes the whole plan; 0, or -1 with the reason in the log. */
static int make_plan(struct sync *y)
{
	struct ls_search_counts counts;
	bool targeted = y->job->job.target[0] != '\0';

	/* the store's side first: the search matches each user against it as it arrives */
	if (store_imported_accounts(collect_acct, y) != STORE_OK ||
	    store_local_names(collect_local, y) != STORE_OK)
		return -1;
	sort_items(y->local_names, y->nlocal_names, sizeof(*y->local_names), str_cmp);
	sort_items(y->accts, y->naccts, sizeof(*y->accts), by_name);
	if (!targeted) {
		if (ls_find_users(y->s, sync_job_ldap_log(y->job), collect_user, y, &counts) !=
		    LS_OK) {
			sync_log(y->job, "a search failed or was stopped: nothing was changed");
			return -1;
		}
		y->sum.users_found = counts.found;
		y->sum.skipped = counts.invalid;
	}
	if (targeted) {
		/* a targeted sync trusts the login that just found the user */
		for (size_t i = 0; i < y->naccts; i++)
			y->accts[i].in_dir = true;
	} else if (plan_users(y) != 0 || check_guard(y) != 0) {
		return -1;
	}
	sort_items(y->accts, y->naccts, sizeof(*y->accts), by_name);
	/* DN keys only matter to group syncs, which name members by DN: the DN this sync sets */
	for (size_t i = 0; i < y->naccts; i++) {
		struct acct *a = &y->accts[i];
		const char *dn = a->n_dn ? a->n_dn : a->dn;

		if (a->dn_key == NULL && dn[0] != '\0' && (a->dn_key = ls_dn_key(dn)) == NULL)
			sync_log(y->job, "%s: the DN \"%s\" cannot be read; groups cannot name it",
				 a->name, dn);
	}
	if (index_build(&y->by_dn, y->accts, y->naccts, dn_key_of) != 0 ||
	    index_build(&y->by_id, y->accts, y->naccts, id_of) != 0)
		return -1;
	return plan_groups(y) == 0 && check_admins_left(y) == 0 ? 0 : -1;
}

int ldap_sync_run(struct sync_job *job, const struct ls_settings *s, struct sync_summary *sum)
{
	struct sync y = {.job = job, .s = s};
	int rc;

	memset(sum, 0, sizeof(*sum));
	rc = make_plan(&y);
	planning_done(&y);
	if (rc == 0 && sync_job_canceled(job))
		rc = SYNC_CANCELED;
	if (rc == 0 && !job->job.dry_run)
		rc = apply(&y);
	/* a job that did not complete changed nothing, and its summary says so (the log has why) */
	*sum = rc == 0 ? y.sum
		       : (struct sync_summary){.users_found = y.sum.users_found,
					       .skipped = y.sum.skipped};
	sync_free(&y);
	return rc;
}
