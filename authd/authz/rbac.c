/*
 * Role-based access control (SPEC §5, §8).
 *
 * The model. A role maps resource types to operations, and each operation
 * to the sub-options it allows ("Container Create": ["Privileged", ...]).
 * Collections form a tree rooted at "/". A grant gives a subject (a user, a
 * team or an organization) a role on a collection and, through it, on every
 * collection below. A user may do an operation on a resource when some
 * grant of the user, of one of its teams or of one of its organizations is
 * on the resource's collection or an ancestor of it, and its role has the
 * operation with every sub-option the request needs. Admins may do
 * everything; inactive accounts, and LDAP accounts missing from the
 * directory, nothing. Lists and system calls have no single target: they
 * are allowed when any grant's role has the operation (what the engine
 * returns is not filtered). Ping, version and info are open to any
 * authenticated account, so that `docker version` works for everyone.
 *
 * The snapshot. Decisions read an immutable copy of accounts, memberships,
 * collections, roles and grants, built from the store after every change
 * and published with one atomic pointer swap, so a decision does no SQL and
 * takes no lock. Bundle keys come and go far more often (one per bundle),
 * so they live beside it in an index of their own that is changed in place:
 * readers walk its chains without locks, a new key is linked in whole, and
 * a deleted one is marked revoked at once, never unlinked while running. A replaced snapshot is
 * freed a few seconds later, long after any decision that loaded it has finished (decisions take
 * microseconds). If a rebuild fails, nothing is published and the current
 * snapshot is withdrawn: until a rebuild succeeds, every request is denied.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundles.h"
#include "rbac.h"
#include "session.h"
#include "store/store.h"

#define GRACE_SECONDS 5
#define OPKEY_LEN 160

struct s_account {
	char id[ID_LEN];
	char *name; /* owned; names are short but may be NAME_LEN long, and there are many */
	bool active, admin, missing, org;
};

struct s_member {
	char user[ID_LEN];
	char group[ID_LEN];
};

/* A key of the index; immutable once linked, but for `revoked`. */
struct s_key {
	struct s_key *next;
	char fp[65];
	char key_id[ID_LEN];
	char account_id[ID_LEN];
	long long not_after;
	atomic_bool revoked;
};

#define KEY_BUCKETS 65536

struct s_coll {
	char id[ID_LEN];
	char parent_id[ID_LEN];
	char *path;
	long parent; /* index, -1 for the root */
};

struct s_op {
	char key[OPKEY_LEN]; /* "Container/Container Create" */
	unsigned mask;	     /* sub-options allowed */
};

struct s_role {
	char id[ID_LEN];
	char name[NAME_LEN];
	struct s_op *ops;
	size_t nops;
};

struct s_grant {
	char subject[ID_LEN];
	long coll;
	long role;
};

struct snapshot {
	struct s_account *accounts; /* by id */
	size_t naccounts;
	struct s_account **by_name;
	struct s_member *members; /* by user */
	size_t nmembers;
	struct s_coll *colls; /* by id */
	size_t ncolls;
	struct s_coll **coll_by_path;
	struct s_role *roles; /* by id */
	size_t nroles;
	struct s_grant *grants; /* by subject */
	size_t ngrants;
	struct snapshot *retired_next;
	int64_t retired_at; /* monotonic_ms() */
};

struct rbac {
	_Atomic(struct snapshot *) current;
	pthread_mutex_t lock; /* serialises refreshes and the retired list */
	struct snapshot *retired;
	pthread_mutex_t key_lock; /* serialises writers of the key index */
	_Atomic(struct s_key *) keys[KEY_BUCKETS];
};

/* ---- the built-in roles ---- */

static const char *const builtin_ids[] = {"none", "viewonly", "restrictedcontrol", "scheduler",
					  "fullcontrol"};
static const char *const builtin_names[] = {"None", "View Only", "Restricted Control", "Scheduler",
					    "Full Control"};
#define N_BUILTINS 5

bool rbac_builtin_role(const char *id)
{
	for (int i = 0; i < N_BUILTINS; i++)
		if (strcmp(builtin_ids[i], id) == 0)
			return true;
	return false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_view(const char *op)
{
	static const char *const reads[] = {
	    "Container Logs", "Container Stats", "Container Top", "Container Changes",
	    "Image History",  "Service Logs",	 "System Events", "System Disk Usage"};

	if (ends_with(op, " View") || ends_with(op, " View Tasks"))
		return true;
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
		if (strcmp(op, reads[i]) == 0)
			return true;
	return false;
}

/* What a built-in role allows of an operation: -1 nothing, else the sub-option mask. */
static int builtin_allows(const char *id, enum dk_resource res, const char *op)
{
	unsigned all = (1u << DK_N_SUBOPTIONS) - 1;

	if (strcmp(id, "fullcontrol") == 0)
		return (int)all;
	if (strcmp(id, "viewonly") == 0)
		return is_view(op) ? 0 : -1;
	if (strcmp(id, "scheduler") == 0)
		return strcmp(op, "Node View") == 0 || strcmp(op, "Node Schedule") == 0 ? 0 : -1;
	if (strcmp(id, "restrictedcontrol") == 0) {
		/* view and edit workloads; nothing that reaches the node or the engine itself */
		if (res == DK_NODE || res == DK_SWARM || res == DK_PLUGIN)
			return is_view(op) ? 0 : -1;
		if (strcmp(op, "Container Exec") == 0 || strcmp(op, "System Auth") == 0)
			return -1;
		return 0;
	}
	return -1; /* none */
}

struct op_list {
	struct s_op *ops;
	size_t n, cap;
};

static int op_push(struct op_list *l, enum dk_resource res, const char *op, unsigned mask)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct s_op *grown = realloc(l->ops, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		l->ops = grown;
		l->cap = cap;
	}
	snprintf(l->ops[l->n].key, OPKEY_LEN, "%s/%s", dk_resource_name(res), op);
	l->ops[l->n].mask = mask;
	l->n++;
	return 0;
}

struct builtin_ctx {
	const char *id;
	struct op_list list;
	int failed;
};

static void add_builtin_op(enum dk_resource res, const char *op, void *ctx)
{
	struct builtin_ctx *b = ctx;
	int mask = builtin_allows(b->id, res, op);

	if (mask >= 0 && op_push(&b->list, res, op, (unsigned)mask) != 0)
		b->failed = 1;
}

/* Sub-option names of a mask, as a JSON array. */
static json_t *mask_json(unsigned mask)
{
	json_t *a = json_array();

	for (unsigned bit = 1; bit < (1u << DK_N_SUBOPTIONS); bit <<= 1)
		if (mask & bit)
			json_array_append_new(a, json_string(dk_suboption_name(bit)));
	return a;
}

struct ops_json_ctx {
	const char *id;
	json_t *root;
};

static void add_op_json(enum dk_resource res, const char *op, void *ctx)
{
	struct ops_json_ctx *c = ctx;
	int mask = builtin_allows(c->id, res, op);
	json_t *group;

	if (mask < 0)
		return;
	group = json_object_get(c->root, dk_resource_name(res));
	if (group == NULL) {
		group = json_object();
		json_object_set_new(c->root, dk_resource_name(res), group);
	}
	/* only Container Create and the service writes take sub-options */
	json_object_set_new(group, op,
			    strcmp(op, "Container Create") == 0 ||
				    strcmp(op, "Service Create") == 0 ||
				    strcmp(op, "Service Update") == 0
				? mask_json((unsigned)mask)
				: json_array());
}

json_t *rbac_builtin_operations(const char *id)
{
	struct ops_json_ctx c = {id, json_object()};

	dk_each_operation(add_op_json, &c);
	return c.root;
}

json_t *rbac_role_json(const char *id, const char *name, bool system_role, json_t *operations)
{
	return json_pack("{s:s, s:s, s:b, s:o}", "id", id, "name", name, "system_role", system_role,
			 "operations", operations ? operations : json_object());
}

void rbac_builtin_roles(json_t *list)
{
	for (int i = 0; i < N_BUILTINS; i++)
		json_array_append_new(list,
				      rbac_role_json(builtin_ids[i], builtin_names[i], true,
						     rbac_builtin_operations(builtin_ids[i])));
}

/* ---- checking custom roles ---- */

struct known_ctx {
	const char *resource, *op;
	bool found;
};

static void find_op(enum dk_resource res, const char *op, void *ctx)
{
	struct known_ctx *k = ctx;

	if (strcmp(dk_resource_name(res), k->resource) == 0 && strcmp(op, k->op) == 0)
		k->found = true;
}

static unsigned suboption_bit(const char *name)
{
	for (unsigned bit = 1; bit < (1u << DK_N_SUBOPTIONS); bit <<= 1)
		if (strcmp(dk_suboption_name(bit), name) == 0)
			return bit;
	return 0;
}

/* The keys a refusal quotes: at most 60 and 80 bytes, cut between characters. */
struct shown_keys {
	char res[61], op[81];
};

static void show_keys(struct shown_keys *shown, const char *res, const char *op)
{
	utf8_clean(shown->res, sizeof(shown->res), res);
	utf8_clean(shown->op, sizeof(shown->op), op);
}

const char *rbac_check_operations(json_t *ops, char *buf, size_t len)
{
	const char *res, *op;
	json_t *group, *subs;
	struct shown_keys shown;

	if (!json_is_object(ops))
		return "operations: must be an object of resource types";
	json_object_foreach(ops, res, group)
	{
		if (!json_is_object(group)) {
			show_keys(&shown, res, "");
			snprintf(buf, len, "operations.%s: must be an object of operations",
				 shown.res);
			return buf;
		}
		json_object_foreach(group, op, subs)
		{
			struct known_ctx k = {res, op, false};
			size_t i;
			json_t *s;

			dk_each_operation(find_op, &k);
			show_keys(&shown, res, op);
			if (!k.found) {
				snprintf(buf, len, "operations.%s: no operation \"%s\"", shown.res,
					 shown.op);
				return buf;
			}
			if (!json_is_array(subs)) {
				snprintf(buf, len, "operations.%s.%s: must be a list", shown.res,
					 shown.op);
				return buf;
			}
			json_array_foreach(subs, i, s)
			{
				if (!json_is_string(s) || json_string_length(s) > 100) {
					snprintf(buf, len,
						 "operations.%s.%s: sub-options are short strings",
						 shown.res, shown.op);
					return buf;
				}
			}
		}
	}
	return NULL;
}

/* ---- building a snapshot ---- */

/* A growable array of fixed-size items. */
struct vec {
	void *items;
	size_t n, cap, size;
};

static void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		void *grown = realloc(v->items, cap * v->size);

		if (grown == NULL)
			return NULL;
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

static int add_account(const struct account *a, void *ctx)
{
	struct s_account *s = vec_push(ctx);

	if (s == NULL)
		return 1;
	memcpy(s->id, a->id, sizeof(s->id));
	if ((s->name = strdup(a->name)) == NULL)
		return 1;
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

	if (s == NULL || (s->path = strdup(c->path)) == NULL)
		return 1;
	memcpy(s->id, c->id, sizeof(s->id));
	memcpy(s->parent_id, c->parent_id, sizeof(s->parent_id));
	return 0;
}

/* Parses a custom role's operations map into sorted-later s_ops. */
static int parse_ops(const char *text, struct op_list *l)
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
			    json_is_string(s) ? suboption_bit(json_string_value(s)) : 0;
			if (l->n == l->cap) {
				size_t cap = l->cap ? 2 * l->cap : 32;
				struct s_op *grown = realloc(l->ops, cap * sizeof(*grown));

				if (grown == NULL) {
					rc = -1;
					break;
				}
				l->ops = grown;
				l->cap = cap;
			}
			snprintf(l->ops[l->n].key, OPKEY_LEN, "%s/%s", res, op);
			l->ops[l->n++].mask = mask;
		}
	}
	json_decref(root);
	return rc;
}

static int add_role(const struct role_row *r, void *ctx)
{
	struct s_role *s = vec_push(ctx);
	struct op_list l = {0};

	if (s == NULL)
		return 1;
	memcpy(s->id, r->id, sizeof(s->id));
	memcpy(s->name, r->name, sizeof(s->name));
	if (parse_ops(r->operations, &l) != 0)
		log_msg(LOG_WARN, "rbac: role %s has unreadable operations; it allows nothing",
			r->name);
	s->ops = l.ops;
	s->nops = l.n;
	return 0;
}

struct grant_ctx {
	struct vec *grants;
	struct snapshot *s;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int cmp_op(const void *a, const void *b)
{
	return strcmp(((const struct s_op *)a)->key, ((const struct s_op *)b)->key);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(struct s_account *const *)a)->name, (*(struct s_account *const *)b)->name);
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp((*(struct s_coll *const *)a)->path, (*(struct s_coll *const *)b)->path);
}

/* qsort that accepts an empty (NULL) array, which C's does not. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* Index of the item whose leading string field equals key, or -1. */
static long find(const void *base, size_t n, size_t size, const char *key)
{
	const char *hit = n ? bsearch(key, base, n, size, cmp_str) : NULL;

	return hit ? (long)((hit - (const char *)base) / (long)size) : -1;
}

static int add_grant(const struct grant_row *g, void *ctx)
{
	struct grant_ctx *c = ctx;
	long coll = find(c->s->colls, c->s->ncolls, sizeof(struct s_coll), g->collection_id);
	long role = find(c->s->roles, c->s->nroles, sizeof(struct s_role), g->role_id);
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

static void snapshot_free(struct snapshot *s)
{
	if (s == NULL)
		return;
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

static int builtin_roles(struct vec *roles)
{
	for (int i = 0; i < N_BUILTINS; i++) {
		struct builtin_ctx b = {builtin_ids[i], {0}, 0};
		struct s_role *r = vec_push(roles);

		if (r == NULL)
			return -1;
		snprintf(r->id, sizeof(r->id), "%s", builtin_ids[i]);
		snprintf(r->name, sizeof(r->name), "%s", builtin_names[i]);
		dk_each_operation(add_builtin_op, &b);
		r->ops = b.list.ops;
		r->nops = b.list.n;
		if (b.failed)
			return -1;
	}
	return 0;
}

/* Sorts what was loaded and builds the indexes. */
static int index_snapshot(struct snapshot *s)
{
	sort(s->accounts, s->naccounts, sizeof(*s->accounts), cmp_str);
	sort(s->members, s->nmembers, sizeof(*s->members), cmp_str);
	sort(s->colls, s->ncolls, sizeof(*s->colls), cmp_str);
	sort(s->roles, s->nroles, sizeof(*s->roles), cmp_str);
	for (size_t i = 0; i < s->nroles; i++)
		sort(s->roles[i].ops, s->roles[i].nops, sizeof(struct s_op), cmp_op);
	s->by_name = calloc(s->naccounts + 1, sizeof(*s->by_name));
	s->coll_by_path = calloc(s->ncolls + 1, sizeof(*s->coll_by_path));
	if (s->by_name == NULL || s->coll_by_path == NULL)
		return -1;
	for (size_t i = 0; i < s->naccounts; i++)
		s->by_name[i] = &s->accounts[i];
	sort(s->by_name, s->naccounts, sizeof(*s->by_name), cmp_name);
	for (size_t i = 0; i < s->ncolls; i++) {
		s->coll_by_path[i] = &s->colls[i];
		s->colls[i].parent =
		    s->colls[i].parent_id[0]
			? find(s->colls, s->ncolls, sizeof(struct s_coll), s->colls[i].parent_id)
			: -1;
	}
	sort(s->coll_by_path, s->ncolls, sizeof(*s->coll_by_path), cmp_path);
	return 0;
}

static struct snapshot *build(void)
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
	rc = store_each_account(add_account, &accounts) |
	     store_each_membership(add_member, &members) | store_collections(add_coll, &colls) |
	     builtin_roles(&roles) | store_roles(add_role, &roles);
	s->accounts = vec_trimmed(&accounts), s->naccounts = accounts.n;
	s->members = vec_trimmed(&members), s->nmembers = members.n;
	s->colls = vec_trimmed(&colls), s->ncolls = colls.n;
	s->roles = vec_trimmed(&roles), s->nroles = roles.n;
	if (rc != 0 || index_snapshot(s) != 0 || store_grants(add_grant, &gc) != STORE_OK) {
		s->grants = grants.items;
		snapshot_free(s);
		return NULL;
	}
	s->grants = vec_trimmed(&grants);
	s->ngrants = grants.n;
	sort(s->grants, s->ngrants, sizeof(*s->grants), cmp_str);
	return s;
}

/* ---- publishing ---- */

/* ---- the key index ---- */

static unsigned key_bucket(const char *fp)
{
	/* a fingerprint is hex of SHA-256: its first digits are uniform already */
	return (unsigned)strtoul(
		   (char[9]){fp[0], fp[1], fp[2], fp[3], fp[4], fp[5], fp[6], fp[7], 0}, NULL, 16) %
	       KEY_BUCKETS;
}

void rbac_key_added(struct rbac *r, const struct pubkey *k)
{
	struct s_key *n = calloc(1, sizeof(*n));
	unsigned b = key_bucket(k->fingerprint);

	if (n == NULL) {
		/* the key simply is not honoured until the next start; deny, don't crash */
		log_msg(LOG_ERROR, "rbac: out of memory indexing key %s", k->id);
		return;
	}
	snprintf(n->fp, sizeof(n->fp), "%s", k->fingerprint);
	snprintf(n->key_id, sizeof(n->key_id), "%s", k->id);
	snprintf(n->account_id, sizeof(n->account_id), "%s", k->account_id);
	n->not_after = k->not_after;
	atomic_init(&n->revoked, false);
	pthread_mutex_lock(&r->key_lock);
	n->next = atomic_load(&r->keys[b]);
	/* the node is whole before it is reachable: readers see all of it or none */
	atomic_store(&r->keys[b], n);
	pthread_mutex_unlock(&r->key_lock);
}

void rbac_key_removed(struct rbac *r, const char *fingerprint)
{
	struct s_key *n = atomic_load(&r->keys[key_bucket(fingerprint)]);

	for (; n != NULL; n = n->next)
		if (strcmp(n->fp, fingerprint) == 0)
			atomic_store(&n->revoked, true);
}

/* The live key with this fingerprint, or NULL. */
static const struct s_key *key_lookup(struct rbac *r, const char *fingerprint)
{
	const struct s_key *n = atomic_load(&r->keys[key_bucket(fingerprint)]);

	for (; n != NULL; n = n->next)
		if (strcmp(n->fp, fingerprint) == 0 && !atomic_load(&n->revoked))
			return n;
	return NULL;
}

static int index_key(const struct pubkey *k, void *ctx)
{
	rbac_key_added(ctx, k);
	return 0;
}

struct rbac *rbac_new(void)
{
	struct rbac *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->key_lock, NULL);
	atomic_init(&r->current, NULL);
	if (store_each_key(index_key, r) != STORE_OK) {
		rbac_free(r);
		return NULL;
	}
	return r;
}

static void retire(struct rbac *r, struct snapshot *old)
{
	if (old == NULL)
		return;
	/* the grace period is a duration: a wall-clock step must not end it early */
	old->retired_at = monotonic_ms();
	old->retired_next = r->retired;
	r->retired = old;
}

int rbac_refresh(struct rbac *r)
{
	struct snapshot *s;

	pthread_mutex_lock(&r->lock);
	s = build();
	if (s == NULL)
		log_msg(LOG_ERROR, "rbac: cannot rebuild the authorization snapshot; denying all");
	retire(r, atomic_exchange(&r->current, s));
	pthread_mutex_unlock(&r->lock);
	return s ? 0 : -1;
}

static void free_retired(struct rbac *r, int64_t older_than)
{
	struct snapshot **pp = &r->retired;

	while (*pp != NULL) {
		struct snapshot *s = *pp;

		if (s->retired_at < older_than) {
			*pp = s->retired_next;
			snapshot_free(s);
		} else {
			pp = &s->retired_next;
		}
	}
}

void rbac_reap(struct rbac *r)
{
	pthread_mutex_lock(&r->lock);
	free_retired(r, monotonic_ms() - GRACE_SECONDS * 1000);
	pthread_mutex_unlock(&r->lock);
}

void rbac_free(struct rbac *r)
{
	if (r == NULL)
		return;
	retire(r, atomic_exchange(&r->current, NULL));
	free_retired(r, INT64_MAX);
	for (unsigned b = 0; b < KEY_BUCKETS; b++) {
		struct s_key *n = atomic_load(&r->keys[b]), *next;

		for (; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
	}
	pthread_mutex_destroy(&r->key_lock);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void server_changed(struct server *srv)
{
	sessions_accounts_changed(srv->sessions);
	rbac_refresh(srv->rbac);
}

/* ---- decisions ---- */

static const struct s_account *account_by_id(const struct snapshot *s, const char *id)
{
	long i = find(s->accounts, s->naccounts, sizeof(*s->accounts), id);

	return i < 0 ? NULL : &s->accounts[i];
}

static int usable(const struct s_account *a, char *why, size_t whylen)
{
	if (a == NULL || a->org) {
		snprintf(why, whylen, "the account no longer exists");
		return -1;
	}
	if (!a->active || a->missing) {
		snprintf(why, whylen, "the account \"%s\" is %s", a->name,
			 a->active ? "missing from LDAP" : "inactive");
		return -1;
	}
	return 0;
}

static void fill_subject(const struct s_account *a, const char *key_id, struct rbac_subject *who)
{
	snprintf(who->account_id, sizeof(who->account_id), "%s", a->id);
	snprintf(who->account, sizeof(who->account), "%s", a->name);
	snprintf(who->key_id, sizeof(who->key_id), "%s", key_id);
	who->is_admin = a->admin;
}

/*
 * The fingerprint pins the exact certificate authd issued, or accepted after
 * checking its chain, its purpose and that its CN names the account; so the
 * account's name is the certificate's CN, and nothing needs parsing here.
 */
int rbac_identify_der(struct rbac *r, const unsigned char *der, size_t len, const char *user,
		      struct rbac_subject *who, char *why, size_t whylen)
{
	const struct snapshot *s = atomic_load(&r->current);
	const struct s_key *k;
	const struct s_account *a;
	char fp[65];

	if (s == NULL) {
		snprintf(why, whylen, "authorization data is unavailable; try again shortly");
		return -1;
	}
	if (bdl_der_fingerprint(der, len, fp) != 0 || (k = key_lookup(r, fp)) == NULL) {
		snprintf(why, whylen, "the certificate's key was revoked or never issued here");
		return -1;
	}
	if (k->not_after < now_seconds()) {
		snprintf(why, whylen, "the certificate has expired; download a new bundle");
		return -1;
	}
	a = account_by_id(s, k->account_id);
	if (usable(a, why, whylen) != 0)
		return -1;
	if (user != NULL && strcmp(user, a->name) != 0) {
		snprintf(why, whylen, "the engine's user does not match the certificate");
		return -1;
	}
	fill_subject(a, k->key_id, who);
	return 0;
}

int rbac_identify_account(struct rbac *r, const char *name, struct rbac_subject *who, char *why,
			  size_t whylen)
{
	const struct snapshot *s = atomic_load(&r->current);
	struct s_account key = {.name = (char *)name}, *kp = &key, **hit;

	if (s == NULL) {
		snprintf(why, whylen, "authorization data is unavailable; try again shortly");
		return -1;
	}
	hit = s->naccounts ? bsearch(&kp, s->by_name, s->naccounts, sizeof(*s->by_name), cmp_name)
			   : NULL;
	if (hit == NULL) {
		char shown[101];

		snprintf(why, whylen, "no account \"%s\"", utf8_clean(shown, sizeof(shown), name));
		return -1;
	}
	if (usable(*hit, why, whylen) != 0)
		return -1;
	fill_subject(*hit, "", who);
	return 0;
}

void rbac_private_collection(const char *account, char *out, size_t len)
{
	snprintf(out, len, "/Shared/Private/%s", account);
}

bool rbac_has_collection(struct rbac *r, const char *path)
{
	const struct snapshot *s = atomic_load(&r->current);
	struct s_coll key, *kp = &key;

	if (s == NULL || s->ncolls == 0)
		return false;
	key.path = (char *)path;
	return bsearch(&kp, s->coll_by_path, s->ncolls, sizeof(*s->coll_by_path), cmp_path) != NULL;
}

static const struct s_op *role_op(const struct s_role *role, const char *key)
{
	return role->nops ? bsearch(key, role->ops, role->nops, sizeof(*role->ops), cmp_str) : NULL;
}

static bool is_ancestor(const struct snapshot *s, long ancestor, long c)
{
	/* the tree is shallow; the bound guards against a cycle in bad data */
	for (int depth = 0; c >= 0 && depth < 64; depth++, c = s->colls[c].parent)
		if (c == ancestor)
			return true;
	return false;
}

/* Scan state: the best answer so far, and what fell short of one. */
struct scan {
	const struct snapshot *s;
	const char *key;
	unsigned needs;
	long target; /* -1: any collection */
	struct rbac_verdict *v;
	unsigned missing; /* sub-options a role with the operation lacked */
};

/* Looks at the grants of one subject; true when one allows. */
static bool scan_subject(struct scan *sc, const char *subject)
{
	const struct snapshot *s = sc->s;
	long i = find(s->grants, s->ngrants, sizeof(*s->grants), subject);

	/* bsearch lands anywhere in the run of this subject's grants */
	while (i > 0 && strcmp(s->grants[i - 1].subject, subject) == 0)
		i--;
	for (; i >= 0 && (size_t)i < s->ngrants && strcmp(s->grants[i].subject, subject) == 0;
	     i++) {
		const struct s_grant *g = &s->grants[i];
		const struct s_role *role = &s->roles[g->role];
		const struct s_op *op = role_op(role, sc->key);

		if (op == NULL || (sc->target >= 0 && !is_ancestor(s, g->coll, sc->target)))
			continue;
		if ((sc->needs & ~op->mask) != 0) {
			sc->missing |= sc->needs & ~op->mask;
			continue;
		}
		sc->v->allow = true;
		snprintf(sc->v->role, sizeof(sc->v->role), "%s", role->name);
		snprintf(sc->v->collection, sizeof(sc->v->collection), "%s",
			 s->colls[g->coll].path);
		return true;
	}
	return false;
}

/* The user, then its teams and orgs: every subject whose grants count. */
static bool scan_all(struct scan *sc, const char *user_id)
{
	const struct snapshot *s = sc->s;
	long i = find(s->members, s->nmembers, sizeof(*s->members), user_id);

	if (scan_subject(sc, user_id))
		return true;
	while (i > 0 && strcmp(s->members[i - 1].user, user_id) == 0)
		i--;
	for (; i >= 0 && (size_t)i < s->nmembers && strcmp(s->members[i].user, user_id) == 0; i++)
		if (scan_subject(sc, s->members[i].group))
			return true;
	return false;
}

static void deny_message(const struct scan *sc, const struct rbac_subject *who,
			 const struct rbac_request *req, struct rbac_verdict *v)
{
	char names[256] = "";

	for (unsigned bit = 1; bit < (1u << DK_N_SUBOPTIONS); bit <<= 1) {
		if (sc->missing & bit)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 names[0] ? ", " : "", dk_suboption_name(bit));
	}
	if (names[0])
		snprintf(v->msg, sizeof(v->msg),
			 "%s may do %s%s%s but not with %s; ask an admin for a role that allows it",
			 who->account, req->op->operation, req->collection ? " in " : "",
			 req->collection ? req->collection : "", names);
	else
		snprintf(v->msg, sizeof(v->msg), "%s has no grant for %s%s%s; ask an admin for one",
			 who->account, req->op->operation, req->collection ? " in " : "",
			 req->collection ? req->collection : "");
}

static bool open_to_all(const struct dk_op *op)
{
	return op->resource == DK_SYSTEM && (strcmp(op->operation, "System Ping") == 0 ||
					     strcmp(op->operation, "System Version") == 0 ||
					     strcmp(op->operation, "System Info") == 0);
}

void rbac_decide(struct rbac *r, const struct rbac_subject *who, const struct rbac_request *req,
		 struct rbac_verdict *v)
{
	const struct snapshot *s = atomic_load(&r->current);
	struct s_coll key, *kp = &key, **hit = NULL;
	char opkey[OPKEY_LEN];
	struct scan sc = {s, opkey, req->needs, -1, v, 0};

	memset(v, 0, sizeof(*v));
	snprintf(v->collection, sizeof(v->collection), "%s",
		 req->collection ? req->collection : "");
	if (s == NULL) {
		snprintf(v->msg, sizeof(v->msg),
			 "authorization data is unavailable; try again shortly");
		return;
	}
	if (who->is_admin || open_to_all(req->op)) {
		v->allow = true;
		snprintf(v->role, sizeof(v->role), "%s", who->is_admin ? "admin" : "any account");
		snprintf(v->msg, sizeof(v->msg), "allowed");
		return;
	}
	if (req->collection != NULL) {
		key.path = (char *)req->collection;
		hit = s->ncolls ? bsearch(&kp, s->coll_by_path, s->ncolls, sizeof(*s->coll_by_path),
					  cmp_path)
				: NULL;
		if (hit == NULL) {
			char shown[201];

			snprintf(v->msg, sizeof(v->msg), "there is no collection %s",
				 utf8_clean(shown, sizeof(shown), req->collection));
			return;
		}
		sc.target = *hit - s->colls;
	}
	snprintf(opkey, sizeof(opkey), "%s/%s", dk_resource_name(req->op->resource),
		 req->op->operation);
	if (scan_all(&sc, who->account_id)) {
		snprintf(v->msg, sizeof(v->msg), "allowed");
		return;
	}
	deny_message(&sc, who, req, v);
}
