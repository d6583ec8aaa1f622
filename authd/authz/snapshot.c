/*
 * The authorization snapshot: accounts, memberships, collections, roles and
 * grants, read from the store after every change into sorted arrays, and
 * published for decisions (refcount.h), which therefore do no SQL and take
 * no lock but the slot's. If a rebuild fails, the current snapshot is
 * withdrawn: until a rebuild succeeds, every request is denied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roles.h"
#include "snapshot.h"
#include "store/store.h"

/* ---- sorted arrays ---- */

int snapshot_cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

int snapshot_cmp_name(const void *a, const void *b)
{
	return strcmp((*(struct s_account *const *)a)->name, (*(struct s_account *const *)b)->name);
}

int snapshot_cmp_path(const void *a, const void *b)
{
	return strcmp((*(struct s_coll *const *)a)->path, (*(struct s_coll *const *)b)->path);
}

long snapshot_find(const void *base, size_t n, size_t size, const char *key)
{
	const char *hit = n ? bsearch(key, base, n, size, snapshot_cmp_str) : NULL;

	return hit ? (long)((hit - (const char *)base) / (long)size) : -1;
}

static int cmp_op(const void *a, const void *b)
{
	return strcmp(((const struct s_op *)a)->key, ((const struct s_op *)b)->key);
}

/* qsort that accepts an empty (NULL) array, which C's does not. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* A growable array of fixed-size items. */
struct vec {
	void *items;
	size_t n, cap, size;
	bool short_of_memory; /* an item could not be kept: the vector is not whole */
};

/* Marks the vector as not whole, and stops the store's walk that fills it. */
static int vec_failed(struct vec *v)
{
	v->short_of_memory = true;
	return 1;
}

static void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		void *grown = realloc(v->items, cap * v->size);

		if (grown == NULL) {
			vec_failed(v);
			return NULL;
		}
		v->items = grown;
		v->cap = cap;
	}
	return memset((char *)v->items + v->n++ * v->size, 0, v->size);
}

/* The items, trimmed to their count: a snapshot lives long, and doubling leaves much unused. */
static void *vec_trimmed(struct vec *v)
{
	void *trimmed = v->n ? realloc(v->items, v->n * v->size) : NULL;

	return trimmed ? trimmed : v->items;
}

/* ---- reading the store ---- */

static int add_account(const struct account *a, void *ctx)
{
	struct s_account *s = vec_push(ctx);

	if (s == NULL)
		return 1;
	memcpy(s->id, a->id, sizeof(s->id));
	if ((s->name = strdup(a->name)) == NULL)
		return vec_failed(ctx);
	s->active = a->is_active;
	s->admin = a->is_admin;
	s->missing = a->ldap_missing;
	s->org = a->is_org;
	return 0;
}

static int add_member(const struct member_row *m, void *ctx)
{
	struct s_member *s = vec_push(ctx);

	if (s == NULL)
		return 1;
	memcpy(s->user, m->user_id, sizeof(s->user));
	memcpy(s->group, m->group_id, sizeof(s->group));
	return 0;
}

static int add_coll(const struct collection_row *c, void *ctx)
{
	struct s_coll *s = vec_push(ctx);

	if (s == NULL)
		return 1;
	if ((s->path = strdup(c->path)) == NULL)
		return vec_failed(ctx);
	memcpy(s->id, c->id, sizeof(s->id));
	memcpy(s->parent_id, c->parent_id, sizeof(s->parent_id));
	return 0;
}

static int push_op(struct vec *ops, const char *res, const char *op, unsigned mask)
{
	struct s_op *o = vec_push(ops);

	if (o == NULL)
		return -1;
	snprintf(o->key, OPKEY_LEN, "%s/%s", res, op);
	o->mask = mask;
	return 0;
}

/* Parses a custom role's operations map into its ops. */
static int parse_ops(const char *text, struct vec *ops)
{
	json_t *root = json_loads(text, 0, NULL), *group, *subs, *s;
	const char *res, *op;
	size_t i;
	int rc = 0;

	if (!json_is_object(root)) {
		json_decref(root);
		return -1;
	}
	json_object_foreach(root, res, group)
	{
		json_object_foreach(group, op, subs)
		{
			unsigned mask = 0;

			json_array_foreach(subs, i, s) mask |=
			    json_is_string(s) ? roles_suboption_bit(json_string_value(s)) : 0;
			if (rc == 0)
				rc = push_op(ops, res, op, mask);
		}
	}
	json_decref(root);
	return rc;
}

static int add_role(const struct role_row *r, void *ctx)
{
	struct s_role *s = vec_push(ctx);
	struct vec ops = {.size = sizeof(struct s_op)};

	if (s == NULL)
		return 1;
	memcpy(s->id, r->id, sizeof(s->id));
	memcpy(s->name, r->name, sizeof(s->name));
	if (parse_ops(r->operations, &ops) != 0) {
		if (ops.short_of_memory)
			vec_failed(ctx);
		log_msg(LOG_WARN, "rbac: role %s has unreadable operations; it allows nothing",
			r->name);
	}
	s->ops = ops.items;
	s->nops = ops.n;
	return 0;
}

struct builtin_ctx {
	const char *id;
	struct vec ops;
	int failed;
};

static void add_builtin_op(enum dk_resource res, const char *op, void *ctx)
{
	struct builtin_ctx *b = ctx;
	int mask = roles_builtin_allows(b->id, res, op);

	if (mask >= 0 && push_op(&b->ops, dk_resource_name(res), op, (unsigned)mask) != 0)
		b->failed = 1;
}

static int builtin_roles(struct vec *roles)
{
	size_t n;
	const struct builtin_role *builtins = roles_builtins(&n);

	for (size_t i = 0; i < n; i++) {
		struct builtin_ctx b = {builtins[i].id, {.size = sizeof(struct s_op)}, 0};
		struct s_role *r = vec_push(roles);

		if (r == NULL)
			return -1;
		snprintf(r->id, sizeof(r->id), "%s", builtins[i].id);
		snprintf(r->name, sizeof(r->name), "%s", builtins[i].name);
		dk_each_operation(add_builtin_op, &b);
		r->ops = b.ops.items;
		r->nops = b.ops.n;
		if (b.failed)
			return -1;
	}
	return 0;
}

struct grant_ctx {
	struct vec *grants;
	struct snapshot *s;
};

static int add_grant(const struct grant_row *g, void *ctx)
{
	struct grant_ctx *c = ctx;
	long coll =
	    snapshot_find(c->s->colls, c->s->ncolls, sizeof(struct s_coll), g->collection_id);
	long role = snapshot_find(c->s->roles, c->s->nroles, sizeof(struct s_role), g->role_id);
	struct s_grant *s;

	if (coll < 0 || role < 0)
		return 0; /* a grant naming a deleted role or collection grants nothing */
	s = vec_push(c->grants);
	if (s == NULL)
		return 1;
	memcpy(s->subject, g->subject_id, sizeof(s->subject));
	s->coll = coll;
	s->role = role;
	return 0;
}

/* ---- building ---- */

static void snapshot_free(struct ref *r)
{
	struct snapshot *s = (struct snapshot *)r;

	for (size_t i = 0; i < s->naccounts; i++)
		free(s->accounts[i].name);
	for (size_t i = 0; i < s->ncolls; i++)
		free(s->colls[i].path);
	for (size_t i = 0; i < s->nroles; i++)
		free(s->roles[i].ops);
	free(s->accounts);
	free(s->by_name);
	free(s->members);
	free(s->colls);
	free(s->coll_by_path);
	free(s->roles);
	free(s->grants);
	free(s);
}

/* Sorts what was loaded and builds the indexes. */
static int index_snapshot(struct snapshot *s)
{
	sort(s->accounts, s->naccounts, sizeof(*s->accounts), snapshot_cmp_str);
	sort(s->members, s->nmembers, sizeof(*s->members), snapshot_cmp_str);
	sort(s->colls, s->ncolls, sizeof(*s->colls), snapshot_cmp_str);
	sort(s->roles, s->nroles, sizeof(*s->roles), snapshot_cmp_str);
	for (size_t i = 0; i < s->nroles; i++)
		sort(s->roles[i].ops, s->roles[i].nops, sizeof(struct s_op), cmp_op);
	s->by_name = calloc(s->naccounts + 1, sizeof(*s->by_name));
	s->coll_by_path = calloc(s->ncolls + 1, sizeof(*s->coll_by_path));
	if (s->by_name == NULL || s->coll_by_path == NULL)
		return -1;
	for (size_t i = 0; i < s->naccounts; i++)
		s->by_name[i] = &s->accounts[i];
	sort(s->by_name, s->naccounts, sizeof(*s->by_name), snapshot_cmp_name);
	for (size_t i = 0; i < s->ncolls; i++) {
		s->coll_by_path[i] = &s->colls[i];
		s->colls[i].parent = s->colls[i].parent_id[0]
					 ? snapshot_find(s->colls, s->ncolls, sizeof(struct s_coll),
							 s->colls[i].parent_id)
					 : -1;
	}
	sort(s->coll_by_path, s->ncolls, sizeof(*s->coll_by_path), snapshot_cmp_path);
	return 0;
}

static struct snapshot *build(const struct key_index *keys)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	struct vec accounts = {.size = sizeof(struct s_account)};
	struct vec members = {.size = sizeof(struct s_member)};
	struct vec colls = {.size = sizeof(struct s_coll)};
	struct vec roles = {.size = sizeof(struct s_role)};
	struct vec grants = {.size = sizeof(struct s_grant)};
	struct grant_ctx gc = {&grants, s};
	int rc;

	if (s == NULL)
		return NULL;
	ref_init(&s->ref, snapshot_free);
	s->keys = keys;
	/* a walk a full vector stopped answers STORE_OK: only the vectors know they are short */
	rc = store_each_account(add_account, &accounts) |
	     store_each_membership(add_member, &members) | store_collections(add_coll, &colls) |
	     builtin_roles(&roles) | store_roles(add_role, &roles);
	if (accounts.short_of_memory || members.short_of_memory || colls.short_of_memory ||
	    roles.short_of_memory)
		rc = -1;
	s->accounts = vec_trimmed(&accounts), s->naccounts = accounts.n;
	s->members = vec_trimmed(&members), s->nmembers = members.n;
	s->colls = vec_trimmed(&colls), s->ncolls = colls.n;
	s->roles = vec_trimmed(&roles), s->nroles = roles.n;
	if (rc != 0 || index_snapshot(s) != 0 || store_grants(add_grant, &gc) != STORE_OK ||
	    grants.short_of_memory) {
		s->grants = grants.items;
		snapshot_free(&s->ref);
		return NULL;
	}
	s->grants = vec_trimmed(&grants);
	s->ngrants = grants.n;
	sort(s->grants, s->ngrants, sizeof(*s->grants), snapshot_cmp_str);
	return s;
}

/* ---- publishing ---- */

static int index_key(const struct pubkey *k, void *ctx)
{
	key_index_add(ctx, k);
	return 0;
}

/* The stored keys' fingerprints, and those the index lacked added to it. */
struct stored_keys {
	struct key_index *index;
	char (*fps)[65];
	size_t n, cap;
	bool short_of_memory;
};

static int stored_key(const struct pubkey *k, void *ctx)
{
	struct stored_keys *sk = ctx;

	if (key_index_find(sk->index, k->fingerprint) == NULL)
		key_index_add(sk->index, k);
	if (sk->n == sk->cap) {
		size_t cap = sk->cap ? sk->cap * 2 : 256;
		void *more = realloc(sk->fps, cap * sizeof(*sk->fps));

		if (more == NULL) {
			sk->short_of_memory = true;
			return 1;
		}
		sk->fps = more;
		sk->cap = cap;
	}
	memcpy(sk->fps[sk->n++], k->fingerprint, sizeof(*sk->fps));
	return 0;
}

static bool is_stored(const char *fp, void *ctx)
{
	const struct stored_keys *sk = ctx;

	return sk->n > 0 && bsearch(fp, sk->fps, sk->n, sizeof(*sk->fps), snapshot_cmp_str) != NULL;
}

int rbac_keys_resync(struct rbac *r)
{
	struct stored_keys sk = {&r->keys, NULL, 0, 0, false};
	int rc = store_each_key(stored_key, &sk);

	/* only a whole list may revoke: a short one would revoke live keys */
	if (rc == STORE_OK && !sk.short_of_memory) {
		if (sk.n > 0)
			qsort(sk.fps, sk.n, sizeof(*sk.fps), snapshot_cmp_str);
		key_index_keep_only(&r->keys, is_stored, &sk);
	}
	free(sk.fps);
	return rc == STORE_OK && !sk.short_of_memory ? 0 : -1;
}

struct rbac *rbac_new(void)
{
	struct rbac *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	ref_slot_init(&r->current);
	pthread_mutex_init(&r->refresh, NULL);
	key_index_init(&r->keys);
	if (store_each_key(index_key, &r->keys) != STORE_OK) {
		rbac_free(r);
		return NULL;
	}
	return r;
}

void rbac_free(struct rbac *r)
{
	if (r == NULL)
		return;
	ref_slot_destroy(&r->current);
	key_index_destroy(&r->keys);
	pthread_mutex_destroy(&r->refresh);
	free(r);
}

int rbac_refresh(struct rbac *r)
{
	struct snapshot *s;
	int64_t start;

	pthread_mutex_lock(&r->refresh);
	start = monotonic_ns();
	s = build(&r->keys);
	if (s != NULL)
		s->built_ns = monotonic_ns();
	atomic_store(&r->rebuild_ns, (s ? s->built_ns : monotonic_ns()) - start);
	atomic_fetch_add(&r->rebuilds[s != NULL], 1);
	if (s == NULL)
		log_msg(LOG_ERROR, "rbac: cannot rebuild the authorization snapshot; denying all");
	ref_slot_publish(&r->current, s ? &s->ref : NULL);
	pthread_mutex_unlock(&r->refresh);
	return s ? 0 : -1;
}

void rbac_stats(struct rbac *r, struct rbac_stats *out)
{
	const struct snapshot *s = rbac_hold(r);

	memset(out, 0, sizeof(*out));
	out->live = s != NULL;
	if (s != NULL)
		out->age_ns = monotonic_ns() - s->built_ns;
	rbac_release(s);
	out->rebuild_ns = atomic_load(&r->rebuild_ns);
	out->done = atomic_load(&r->rebuilds[1]);
	out->failed = atomic_load(&r->rebuilds[0]);
}

const struct snapshot *rbac_hold(struct rbac *r)
{
	return (const struct snapshot *)ref_slot_take(&r->current);
}

void rbac_release(const struct snapshot *s)
{
	if (s != NULL)
		ref_put((struct ref *)&s->ref);
}

void rbac_key_added(struct rbac *r, const struct pubkey *k)
{
	key_index_add(&r->keys, k);
}

void rbac_key_removed(struct rbac *r, const char *fingerprint)
{
	key_index_revoke(&r->keys, fingerprint);
}
