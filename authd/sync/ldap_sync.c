/*
 * One LDAP sync: the reading and the writing around the plan. The store's
 * side is read first, so that the directory's users are matched against it
 * as the search streams them; the groups are read ahead in one go; the plan
 * is complete before anything is written, and then written in one
 * transaction, or not at all (sync_plan.h has the model and its rules).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldap_sync.h"
#include "store/store.h"

/* ---- the member-sync configs of teams and orgs ---- */

struct cfg_list {
	struct member_sync_cfg *items;
	size_t n;
	bool teams;
	int rc;
};

static int add_config(const char *owner_id, const char *org_id, const char *name, const char *text,
		      void *ctx)
{
	struct cfg_list *l = ctx;
	json_t *j = json_loads(text, 0, NULL);
	struct member_sync_cfg c;
	struct refusal why;
	void *bigger;

	memset(&c, 0, sizeof(c));
	snprintf(c.owner_id, sizeof(c.owner_id), "%s", owner_id);
	snprintf(c.org_id, sizeof(c.org_id), "%s", l->teams ? org_id : owner_id);
	snprintf(c.name, sizeof(c.name), "%s", name);
	if (j == NULL || ls_member_sync_from_json(j, "", &c.sync, &why) != 0) {
		json_decref(j);
		l->rc = -1; /* it was checked when saved: a bad one now means a damaged store */
		return 1;
	}
	json_decref(j);
	if (!c.sync.enable_sync) {
		ls_member_sync_free(&c.sync);
		return 0;
	}
	bigger = realloc(l->items, (l->n + 1) * sizeof(*l->items));
	if (bigger == NULL) {
		ls_member_sync_free(&c.sync);
		l->rc = -1;
		return 1;
	}
	l->items = bigger;
	l->items[l->n++] = c;
	return 0;
}

static void free_config_list(struct member_sync_cfg *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ls_member_sync_free(&items[i].sync);
	free(items);
}

int sync_configs_load(struct sync_configs *out)
{
	struct cfg_list teams = {NULL, 0, true, 0}, orgs = {NULL, 0, false, 0};

	memset(out, 0, sizeof(*out));
	if (store_member_syncs("team", add_config, &teams) != STORE_OK || teams.rc != 0 ||
	    store_member_syncs("org", add_config, &orgs) != STORE_OK || orgs.rc != 0) {
		free_config_list(teams.items, teams.n);
		free_config_list(orgs.items, orgs.n);
		return -1;
	}
	*out = (struct sync_configs){teams.items, orgs.items, teams.n, orgs.n};
	return 0;
}

void sync_configs_free(struct sync_configs *c)
{
	free_config_list(c->teams, c->nteams);
	free_config_list(c->orgs, c->norgs);
	memset(c, 0, sizeof(*c));
}

static int any_enabled(const char *owner_id, const char *org_id, const char *name, const char *text,
		       void *ctx)
{
	json_t *j = json_loads(text, 0, NULL);

	(void)owner_id;
	(void)org_id;
	(void)name;
	if (json_is_true(json_object_get(j, "enableSync")))
		*(bool *)ctx = true;
	json_decref(j);
	return *(bool *)ctx;
}

int sync_groups_on(const struct ls_settings *s, bool *on)
{
	int rc = STORE_OK;

	*on = s->admin_sync.enable_sync;
	if (!*on)
		rc = store_member_syncs("team", any_enabled, on);
	if (rc == STORE_OK && !*on)
		rc = store_member_syncs("org", any_enabled, on);
	return rc;
}

/* ---- reading ---- */

struct sync {
	const struct sync_input *in;
	struct plan plan;
	bool short_of_memory;		 /* a row could not be kept: what was read is not whole */
	struct plan_group *teams, *orgs; /* the plan's changes point at them */
	struct ls_session *sess;	 /* the directory connections of the group syncs */
};

static bool canceled(const struct sync *y)
{
	return atomic_load(y->in->cancel);
}

static int add_imported(const struct imported_row *r, void *ctx)
{
	struct sync *y = ctx;

	y->short_of_memory =
	    plan_add_account(&y->plan, r->id, r->name, r->dn, r->ldap_id, r->full_name,
			     r->is_active, r->is_admin, r->ldap_missing, r->ldap_deactivated) != 0;
	return y->short_of_memory;
}

static int add_local(const char *name, void *ctx)
{
	struct sync *y = ctx;

	y->short_of_memory = plan_add_local_name(&y->plan, name) != 0;
	return y->short_of_memory;
}

static int user_found(void *ctx, const struct ls_user *u)
{
	struct sync *y = ctx;

	if (canceled(y))
		return 1;
	if (plan_user_found(&y->plan, u->username, u->dn, u->unique_id, u->full_name) == 0)
		return 0;
	ls_logf(y->in->log, "out of memory while reading users");
	return 1;
}

/* The users: A from the store, then B from the directory, matched as it streams. */
static int read_users(struct sync *y)
{
	struct ls_search_counts counts;

	/* a stopped walk answers STORE_OK: only the flag tells a partial read from a whole one */
	if (store_imported_accounts(add_imported, y) != STORE_OK || y->short_of_memory ||
	    store_local_names(add_local, y) != STORE_OK || y->short_of_memory) {
		ls_logf(y->in->log, "the store's accounts cannot be read: nothing was changed");
		return -1;
	}
	if (plan_accounts_done(&y->plan) != 0) {
		ls_logf(y->in->log,
			"out of memory while reading the accounts: nothing was changed");
		return -1;
	}
	if (y->in->target[0] != '\0')
		return 0;
	if (ls_find_users(y->in->settings, y->in->log, user_found, y, &counts) != LS_OK) {
		ls_logf(y->in->log, "a search failed or was stopped: nothing was changed");
		return -1;
	}
	y->plan.sum.users_found = counts.found;
	/* the plan has counted the entries it would not merge */
	y->plan.sum.skipped += counts.invalid;
	return 0;
}

/* A list of the members a group's config names, or that a team or an org has. */
struct members {
	struct plan_member *wanted;
	struct plan_current *current;
	size_t n, cap;
	bool failed; /* a member could not be kept: the list is not whole */
};

static int members_grow(struct members *m, size_t size, void **items)
{
	size_t cap = m->cap ? 2 * m->cap : 64;
	void *bigger;

	if (m->n < m->cap)
		return 0;
	if ((bigger = realloc(*items, cap * size)) == NULL)
		return -1;
	*items = bigger;
	m->cap = cap;
	return 0;
}

static int add_wanted(void *ctx, const char *dn_key, const char *username)
{
	struct members *m = ctx;
	struct plan_member *w;

	if (members_grow(m, sizeof(*m->wanted), (void **)&m->wanted) != 0)
		return 1;
	w = &m->wanted[m->n++];
	w->dn_key = dn_key ? strdup(dn_key) : NULL;
	w->username = username ? strdup(username) : NULL;
	return w->dn_key == NULL && w->username == NULL;
}

/* One more current member of the group being read. */
static int push_current(struct members *m, const char *id, const char *name, bool imported,
			bool admin)
{
	struct plan_current *c;

	if (members_grow(m, sizeof(*m->current), (void **)&m->current) != 0) {
		m->failed = true;
		return 1;
	}
	c = &m->current[m->n++];
	*c = (struct plan_current){strdup(id), name ? strdup(name) : NULL, imported, admin};
	m->failed = !c->user_id || (name && !c->name);
	return m->failed;
}

struct team_read {
	struct sync *y;
	struct members m;
};

/*
 * A team member by id: an account the plan knows needs nothing more; another
 * is a local account, whose name a removal shows.
 */
static int add_team_member(const char *user_id, void *ctx)
{
	struct team_read *t = ctx;
	struct account a;

	if (plan_knows(&t->y->plan, user_id))
		return push_current(&t->m, user_id, NULL, true, false);
	if (store_account_get(user_id, &a) != STORE_OK) {
		t->m.failed = true;
		return 1;
	}
	return push_current(&t->m, user_id, a.name, a.is_imported, false);
}

static int add_org_member(const struct member_row_sync *r, void *ctx)
{
	return push_current(ctx, r->user_id, NULL, r->is_imported, r->is_admin);
}

static void members_free(struct members *m)
{
	for (size_t i = 0; m->wanted != NULL && i < m->n; i++) {
		free((char *)m->wanted[i].dn_key);
		free((char *)m->wanted[i].username);
	}
	for (size_t i = 0; m->current != NULL && i < m->n; i++) {
		free((char *)m->current[i].user_id);
		free((char *)m->current[i].name); /* may be NULL */
	}
	free(m->wanted);
	free(m->current);
	*m = (struct members){NULL, NULL, 0, 0, false};
}

/* Who a member-sync config names, from the groups read ahead (or its search). */
static int read_wanted(struct sync *y, const struct ls_member_sync *cfg, struct members *w)
{
	*w = (struct members){NULL, NULL, 0, 0, false};
	if (ls_member_sync_run(y->sess, cfg, add_wanted, w) == LS_OK)
		return 0;
	members_free(w);
	return -1;
}

static const char *source_of(const struct ls_member_sync *m)
{
	return m->select_group_members ? m->group_dn : m->search_base_dn;
}

/* For nested groups: a member DN the user searches found is a user, with no read to tell. */
static bool found_user(void *ctx, const char *dn_key)
{
	return plan_found_dn(ctx, dn_key);
}

/*
 * Reads every group the configs name before any is planned, in the order
 * they will be planned: the directory answers many requests at once far
 * sooner than one round trip per team.
 */
static int read_groups_ahead(struct sync *y)
{
	const struct sync_configs *c = y->in->configs;
	const struct ls_settings *s = y->in->settings;
	/* the system admins', the teams', the orgs' */
	const struct ls_member_sync **m = calloc(c->nteams + c->norgs + 1, sizeof(*m));
	size_t n = 0;
	int rc;

	y->sess = ls_session_new(s, y->in->log);
	if (m == NULL || y->sess == NULL) {
		free(m);
		return -1;
	}
	ls_session_known_users(y->sess, found_user, &y->plan);
	if (s->admin_sync.enable_sync)
		m[n++] = &s->admin_sync;
	for (size_t i = 0; i < c->nteams; i++)
		m[n++] = &c->teams[i].sync;
	for (size_t i = 0; i < c->norgs; i++)
		m[n++] = &c->orgs[i].sync;
	rc = ls_session_read_groups(y->sess, m, n);
	free(m);
	return rc == LS_OK ? 0 : -1;
}

static int plan_system_admins(struct sync *y)
{
	const struct ls_member_sync *cfg = &y->in->settings->admin_sync;
	struct members w;
	int rc;

	if (!cfg->enable_sync)
		return 0;
	ls_logf(y->in->log, "system admins: from %s", source_of(cfg));
	if (read_wanted(y, cfg, &w) != 0)
		return -1;
	rc = plan_admins(&y->plan, w.wanted, w.n);
	members_free(&w);
	return rc;
}

/* A team's or an org's sync: who its config names, who it has, and the plan of the two. */
static int plan_group(struct sync *y, const struct member_sync_cfg *cfg, const struct plan_group *g)
{
	struct team_read t = {y, {NULL, NULL, 0, 0, false}};
	struct members w;
	int rc;

	ls_logf(y->in->log,
		g->team ? "team %s: members from %s" : "organization %s: admins from %s", cfg->name,
		source_of(&cfg->sync));
	if (read_wanted(y, &cfg->sync, &w) != 0)
		return -1;
	rc = g->team ? store_team_member_ids(cfg->owner_id, add_team_member, &t)
		     : store_org_member_rows(cfg->owner_id, add_org_member, &t.m);
	if (rc == STORE_OK && !t.m.failed)
		rc = g->team ? plan_team(&y->plan, g, w.wanted, w.n, t.m.current, t.m.n)
			     : plan_org_admins(&y->plan, g, w.wanted, w.n, t.m.current, t.m.n);
	else
		rc = -1;
	members_free(&w);
	members_free(&t.m);
	return rc == 0 ? 0 : -1;
}

/* The plan's view of each config, made once: its changes point at them. */
static struct plan_group *groups_of(const struct member_sync_cfg *cfgs, size_t n, bool team)
{
	struct plan_group *g = calloc(n + 1, sizeof(*g));

	for (size_t i = 0; g != NULL && i < n; i++)
		g[i] = (struct plan_group){cfgs[i].owner_id, cfgs[i].org_id, cfgs[i].name, team,
					   cfgs[i].sync.allow_non_ldap_members};
	return g;
}

static int plan_groups(struct sync *y)
{
	const struct sync_configs *c = y->in->configs;

	y->teams = groups_of(c->teams, c->nteams, true);
	y->orgs = groups_of(c->orgs, c->norgs, false);
	if (y->teams == NULL || y->orgs == NULL || read_groups_ahead(y) != 0 ||
	    plan_system_admins(y) != 0)
		return -1;
	for (size_t i = 0; i < c->nteams; i++)
		if (canceled(y) || plan_group(y, &c->teams[i], &y->teams[i]) != 0)
			return -1;
	for (size_t i = 0; i < c->norgs; i++)
		if (canceled(y) || plan_group(y, &c->orgs[i], &y->orgs[i]) != 0)
			return -1;
	return 0;
}

/* Reads both sides and makes the whole plan; 0, or -1 with the reason in the log. */
static int make_plan(struct sync *y)
{
	int64_t admins = 0;

	if (read_users(y) != 0 || plan_users(&y->plan) != 0 || plan_index(&y->plan) != 0 ||
	    plan_groups(y) != 0)
		return -1;
	if (store_count_active_admins(NULL, &admins) != STORE_OK)
		return -1;
	return plan_admins_left(&y->plan, admins);
}

/* ---- saying and writing ---- */

/* The change's details as the log and a dry run's plan show them. */
static void change_details(const struct plan_change *c, const char *k[2], const char *v[2])
{
	k[0] = k[1] = v[0] = v[1] = NULL;
	if (c->dn != NULL) {
		k[0] = "dn", v[0] = c->dn;
		if (c->full_name != NULL)
			k[1] = "fullName", v[1] = c->full_name;
	}
	if (c->group != NULL)
		k[0] = c->group->team ? "team" : "organization", v[0] = c->group->name;
}

static void log_change(const struct sync *y, const struct plan_change *c)
{
	const char *k[2], *v[2];

	change_details(c, k, v);
	ls_logf(y->in->log, "%s: %s %s%s%s%s%s%s%s%s%s", y->in->dry_run ? "would" : "change",
		plan_action_name(c->what), c->name, k[0] ? " " : "", k[0] ? k[0] : "",
		k[0] ? "=" : "", k[0] ? v[0] : "", k[1] ? " " : "", k[1] ? k[1] : "",
		k[1] ? "=" : "", k[1] ? v[1] : "");
}

static json_t *change_json(const struct plan_change *c)
{
	json_t *o =
	    json_pack("{s:s, s:s}", "action", plan_action_name(c->what), "account", c->name);
	const char *k[2], *v[2];

	change_details(c, k, v);
	for (int i = 0; o != NULL && i < 2; i++)
		if (k[i] != NULL)
			json_object_set_new(o, k[i], json_string(v[i]));
	return o;
}

/* The new accounts of the plan, STORE_BATCH at a time; an account is made with all its fields. */
static int apply_created(const struct plan *p, int64_t now)
{
	struct account *rows = calloc(STORE_BATCH, sizeof(*rows));
	size_t n = 0;
	int rc = rows != NULL ? STORE_OK : STORE_ERROR;

	for (size_t i = 0; rc == STORE_OK && i < p->naccounts; i++) {
		const struct plan_account *a = &p->accounts[i];
		struct account *row = &rows[n];

		if (!a->created)
			continue;
		memset(row, 0, sizeof(*row));
		snprintf(row->id, sizeof(row->id), "%s", a->id);
		snprintf(row->name, sizeof(row->name), "%s", a->name);
		snprintf(row->full_name, sizeof(row->full_name), "%s", a->full_name);
		snprintf(row->ldap_dn, sizeof(row->ldap_dn), "%s", a->dn);
		snprintf(row->ldap_id, sizeof(row->ldap_id), "%s", a->ldap_id ? a->ldap_id : "");
		row->is_active = row->is_imported = true;
		row->is_admin = a->n_admin;
		row->created_at = row->updated_at = now;
		if (++n == STORE_BATCH) {
			rc = store_imported_insert_many(rows, n, now);
			n = 0;
		}
	}
	if (rc == STORE_OK)
		rc = store_imported_insert_many(rows, n, now);
	free(rows);
	return rc;
}

static int apply_updated(const struct plan_account *a, int64_t now)
{
	if (a->created)
		return STORE_OK;
	if (!a->n_dn && !a->id_recorded && a->n_active == a->active && a->n_admin == a->admin &&
	    a->n_missing == a->missing && a->n_deactivated == a->deactivated)
		return STORE_OK;
	return store_imported_update(a->id, a->n_dn ? a->n_dn : a->dn, a->ldap_id ? a->ldap_id : "",
				     a->n_full_name ? a->n_full_name : a->full_name, a->n_active,
				     a->n_admin, a->n_missing, a->n_deactivated, now);
}

/* A change to a membership other than an addition (those go in batches). */
static int apply_member(const struct plan_change *c)
{
	const struct plan_group *g = c->group;
	int rc;

	switch (c->what) {
	case PLAN_REMOVE_MEMBER:
		rc = store_team_member_delete(g->owner_id, c->id);
		return rc == STORE_NOT_FOUND ? STORE_OK : rc;
	case PLAN_PROMOTE_ORG_ADMIN:
	case PLAN_DEMOTE_ORG_ADMIN:
		return store_org_member_put(g->org_id, c->id, c->what == PLAN_PROMOTE_ORG_ADMIN);
	default:
		return STORE_OK; /* an account's change: apply_updated wrote it */
	}
}

/*
 * The membership changes in the plan's order, its additions STORE_BATCH at a
 * time: a batch is written before the next change of another kind, which may
 * be about the same member.
 */
static int apply_members(const struct plan *p)
{
	struct member_add *adds = calloc(STORE_BATCH, sizeof(*adds));
	size_t n = 0;
	int rc = adds != NULL ? STORE_OK : STORE_ERROR;

	for (size_t i = 0; rc == STORE_OK && i < p->nchanges; i++) {
		const struct plan_change *c = &p->changes[i];

		if (c->what != PLAN_ADD_MEMBER) {
			rc = store_members_add_many(adds, n);
			n = 0;
			if (rc == STORE_OK)
				rc = apply_member(c);
			continue;
		}
		adds[n++] = (struct member_add){c->group->org_id, c->group->owner_id, c->id};
		if (n == STORE_BATCH) {
			rc = store_members_add_many(adds, n);
			n = 0;
		}
	}
	if (rc == STORE_OK)
		rc = store_members_add_many(adds, n);
	free(adds);
	return rc;
}

/* Every change in one transaction: all of them, or none. */
static int apply(const struct sync *y)
{
	const struct plan *p = &y->plan;
	int64_t now = now_seconds();
	int rc;

	if (y->in->flush_log != NULL)
		y->in->flush_log(y->in->flush_ctx);
	rc = store_begin_bulk();

	/* the updates first: one may free a directory id that a new account takes */
	for (size_t i = 0; rc == STORE_OK && i < p->naccounts; i++)
		rc = apply_updated(&p->accounts[i], now);
	if (rc == STORE_OK)
		rc = apply_created(p, now);
	if (rc == STORE_OK)
		rc = apply_members(p);
	if (rc == STORE_OK && y->in->hold != NULL && y->in->hold(y->in->hold_ctx) != STORE_OK) {
		store_rollback();
		ls_logf(y->in->log, "the job no longer holds its lease, or was canceled: "
				    "nothing was changed");
		return -1;
	}
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc == STORE_OK)
		return 0;
	store_rollback();
	ls_logf(y->in->log, "the store refused a change%s: nothing was changed",
		rc == STORE_FULL ? " (its disk is full)" : "");
	return -1;
}

/* Ids recorded for accounts made before ids were kept: written, but no change the API counts. */
static void log_recorded_ids(const struct sync *y)
{
	size_t n = 0;

	for (size_t i = 0; i < y->plan.naccounts; i++)
		n += y->plan.accounts[i].id_recorded;
	if (n > 0)
		ls_logf(y->in->log, "%s the directory ids of %zu accounts that had none",
			y->in->dry_run ? "would record" : "recording", n);
}

/* What a dry run shows of its plan. */
static json_t *plan_json(const struct plan *p)
{
	json_t *list = json_array();

	for (size_t i = 0; list != NULL && i < p->nchanges; i++)
		json_array_append_new(list, change_json(&p->changes[i]));
	return list;
}

int ldap_sync_run(const struct sync_input *in, struct sync_result *out)
{
	const struct plan_options o = {
	    in->settings->jit, in->force, in->settings->max_deactivation_percent,
	    in->target,	       in->log,	  new_uuid};
	struct sync y = {.in = in};
	int rc;

	memset(out, 0, sizeof(*out));
	plan_init(&y.plan, &o);
	rc = make_plan(&y);
	/* a large first sync peaks at the apply: what only planning needed goes first */
	plan_settle(&y.plan);
	ls_session_free(y.sess);
	if (rc == 0 && canceled(&y))
		rc = SYNC_CANCELED;
	for (size_t i = 0; rc == 0 && i < y.plan.nchanges; i++)
		log_change(&y, &y.plan.changes[i]);
	if (rc == 0)
		log_recorded_ids(&y);
	if (rc == 0 && in->dry_run)
		out->plan = plan_json(&y.plan);
	else if (rc == 0)
		rc = apply(&y);
	/* a job that did not complete changed nothing, and its summary says so (the log has why) */
	out->sum = rc == 0 ? y.plan.sum
			   : (struct sync_summary){.users_found = y.plan.sum.users_found,
						   .skipped = y.plan.sum.skipped};
	snprintf(out->refused, sizeof(out->refused), "%s", y.plan.refused);
	plan_free(&y.plan);
	free(y.teams);
	free(y.orgs);
	return rc;
}
