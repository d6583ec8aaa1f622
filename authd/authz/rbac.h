/*
 * Who may do what: roles, collections and grants, held as an immutable
 * snapshot that authorization decisions read without SQL or locks.
 */
#ifndef AUTHD_RBAC_H
#define AUTHD_RBAC_H

#include "authd.h"
#include "dockerapi.h"
#include "store/store.h"

struct rbac;

/* Loads the key index from the store; rbac_refresh then builds the snapshot. */
struct rbac *rbac_new(void);
void rbac_free(struct rbac *r);
/* Rebuilds the snapshot from the store and publishes it; call after every change. */
int rbac_refresh(struct rbac *r);
/* A bundle key was stored or deleted: takes effect for the next decision. */
void rbac_key_added(struct rbac *r, const struct pubkey *k);
void rbac_key_removed(struct rbac *r, const char *fingerprint);
/* Frees snapshots that no decision can still be reading; main.c calls it every tick. */
void rbac_reap(struct rbac *r);

/* The built-in roles (SPEC §5). */
bool rbac_builtin_role(const char *id);
/* Every role as the API shows it: built-ins first, then custom ones from the store. */
json_t *rbac_role_json(const char *id, const char *name, bool system_role, json_t *operations);
json_t *rbac_builtin_operations(const char *id);
/* Appends every built-in role, as the API shows it, to `list`. */
void rbac_builtin_roles(json_t *list);
/*
 * Checks an operations map of a custom role: known resource types and
 * operations, and sub-options each operation has. NULL when it is fine, else
 * a message naming the bad part (valid while `ops` lives).
 */
const char *rbac_check_operations(json_t *ops, char *buf, size_t len);

/* ---- decisions ---- */

struct rbac_subject {
	char account_id[ID_LEN];
	char account[NAME_LEN];
	char key_id[ID_LEN];
	bool is_admin;
};

/*
 * Who a certificate (its DER bytes) is, per SPEC §7.3: its key exists and
 * has not expired, its account is active and not missing from LDAP. `user`,
 * unless NULL, is the name the engine saw, and must be the account's (the
 * certificate's CN). -1 with the reason otherwise.
 */
int rbac_identify_der(struct rbac *r, const unsigned char *der, size_t len, const char *user,
		      struct rbac_subject *who, char *why, size_t whylen);
/* The same for an account named directly (the decision API, by admins). */
int rbac_identify_account(struct rbac *r, const char *name, struct rbac_subject *who, char *why,
			  size_t whylen);

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
void rbac_decide(struct rbac *r, const struct rbac_subject *who, const struct rbac_request *req,
		 struct rbac_verdict *v);
/* The private collection path of an account, "/Shared/Private/<name>". */
void rbac_private_collection(const char *account, char *out, size_t len);
/* Whether the current snapshot has a collection at `path`; false while there is none. */
bool rbac_has_collection(struct rbac *r, const char *path);

#endif
