/*
 * authz/'s own header: the snapshot decisions read and the key index beside
 * it, shared by snapshot.c (which builds them), keys.c and decide.c.
 */
#ifndef AUTHD_AUTHZ_SNAPSHOT_H
#define AUTHD_AUTHZ_SNAPSHOT_H

#include <stdatomic.h>

#include "rbac.h"
#include "refcount.h"

#define OPKEY_LEN 160
#define KEY_BUCKETS 65536

struct s_account {
	char id[ID_LEN];
	char *name; /* owned; names are short but may be NAME_LEN long, and there are many */
	bool active, admin, missing, org;
};

struct s_member {
	char user[ID_LEN];
	char group[ID_LEN];
};

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

/* A key of the index; immutable once linked, but for `revoked`. */
struct s_key {
	struct s_key *next;
	char fp[65];
	char key_id[ID_LEN];
	char account_id[ID_LEN];
	long long not_after;
	atomic_bool revoked;
};

/*
 * Bundle keys by fingerprint. They come and go far more often than the rest
 * (one per bundle), so they are not in the snapshot but beside it, changed in
 * place: readers walk the chains without locks, a new key is linked in
 * whole, and a deleted one is marked revoked at once and never unlinked
 * while running (its node is freed with the index).
 */
struct key_index {
	pthread_mutex_t lock; /* serialises writers */
	_Atomic(struct s_key *) buckets[KEY_BUCKETS];
};

void key_index_init(struct key_index *x);
void key_index_destroy(struct key_index *x);
void key_index_add(struct key_index *x, const struct pubkey *k);
void key_index_revoke(struct key_index *x, const char *fingerprint);
/* Revokes every key whose fingerprint `kept` says no to. */
void key_index_keep_only(struct key_index *x, bool (*kept)(const char *fp, void *ctx), void *ctx);
/* The live key with this fingerprint, or NULL. */
const struct s_key *key_index_find(const struct key_index *x, const char *fingerprint);

/* Everything a decision reads, immutable once published (refcount.h). */
struct snapshot {
	struct ref ref;		    /* first: the object's address */
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
	const struct key_index *keys; /* the rbac's, which outlives every snapshot */
	int64_t built_ns;	      /* when its build ended (monotonic) */
};

struct rbac {
	struct ref_slot current;
	pthread_mutex_t refresh; /* one rebuild at a time */
	struct key_index keys;
	atomic_llong rebuild_ns;  /* how long the last rebuild took */
	atomic_ulong rebuilds[2]; /* since start: [0] failed, [1] done */
};

/* Lookups in the snapshot's sorted arrays. */
int snapshot_cmp_str(const void *a, const void *b);
int snapshot_cmp_name(const void *a, const void *b);
int snapshot_cmp_path(const void *a, const void *b);
/* Index of the item whose leading string field equals key, or -1. */
long snapshot_find(const void *base, size_t n, size_t size, const char *key);

#endif
