/*
 * Who may do what (SPEC §5, §8): the authorization snapshot decisions read,
 * the bundle keys beside it, and the decisions themselves. The model is
 * explained in decide.c, the snapshot in snapshot.c, the built-in roles in
 * roles.h.
 */
#ifndef AUTHD_RBAC_H
#define AUTHD_RBAC_H

#include "authd.h"
#include "dockerapi.h"
#include "store/store.h"

struct rbac;
struct snapshot;

/* Loads the key index from the store; rbac_refresh then builds the first snapshot. */
struct rbac *rbac_new(void);
/* At exit, once nothing holds a snapshot. */
void rbac_free(struct rbac *r);
/* For changes.c: rebuilds the snapshot from the store and publishes it; -1 (logged, and every
 * decision denies until the next success) when it cannot. */
int rbac_refresh(struct rbac *r);
/* For GET /metrics: how old the live snapshot is, and how its rebuilds went. */
struct rbac_stats {
	bool live;		    /* a snapshot is published (none after a failed rebuild) */
	int64_t age_ns;		    /* since the live one was built */
	int64_t rebuild_ns;	    /* how long the last rebuild took, whether it failed or not */
	unsigned long done, failed; /* rebuilds since start, the first one included */
};
void rbac_stats(struct rbac *r, struct rbac_stats *out);
/* For changes.c: a bundle key was stored or deleted; it counts for the next decision. */
void rbac_key_added(struct rbac *r, const struct pubkey *k);
void rbac_key_removed(struct rbac *r, const char *fingerprint);
/* For changes.c: the key index made the store's again (keys added and deleted elsewhere). */
int rbac_keys_resync(struct rbac *r);

/*
 * The current snapshot, held until rbac_release however long the caller
 * takes: a rebuild meanwhile publishes a new one and leaves this one be. NULL
 * while there is none; every function below then denies.
 */
const struct snapshot *rbac_hold(struct rbac *r);
void rbac_release(const struct snapshot *s);

/* ---- decisions ---- */

struct rbac_subject {
	char account_id[ID_LEN];
	char account[NAME_LEN];
	char key_id[ID_LEN];
	bool is_admin;
};

/*
 * Who a certificate is, by the SHA-256 fingerprint of its DER (64 hex
 * digits), per SPEC §7.3: its key exists and has not expired, its account is
 * active and not missing from LDAP. `user`, unless NULL, is the name the
 * engine saw, and must be the account's (the certificate's CN). -1 with why
 * otherwise.
 */
int rbac_identify_key(const struct snapshot *s, const char *fingerprint, const char *user,
		      struct rbac_subject *who, struct refusal *why);
/* The same for an account named directly (the decision API, by admins). */
int rbac_identify_account(const struct snapshot *s, const char *name, struct rbac_subject *who,
			  struct refusal *why);

struct rbac_request {
	const struct dk_op *op;
	unsigned needs;		/* Container Create sub-options the body asks for */
	const char *collection; /* the target's collection path; NULL for lists and system calls */
};

struct rbac_verdict {
	bool allow;
	char msg[512];
	char role[NAME_LEN];   /* the role that allowed it, if any */
	char collection[2048]; /* where it was decided */
};

/* Decides a request for a subject. Never fails open: anything unknown denies. */
void rbac_decide(const struct snapshot *s, const struct rbac_subject *who,
		 const struct rbac_request *req, struct rbac_verdict *v);
/* The private collection path of an account, "/Shared/Private/<name>". */
void rbac_private_collection(const char *account, char *out, size_t len);
/* Whether the snapshot has a collection at `path`. */
bool rbac_has_collection(const struct snapshot *s, const char *path);

#endif
