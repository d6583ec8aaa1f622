/*
 * The plan of an LDAP sync (SPEC §6.5), computed from plain structs: what
 * the store has and what the directory says go in, the planned accounts,
 * the changes in order and the summary come out, or a refusal. It reads no
 * store, no directory and no clock (new accounts' ids come from the options):
 * ldap_sync.c does that, and applies the plan.
 *
 * The model, with A the imported accounts and B the users the searches find:
 *   A∩B   updated (DN, full name); re-activated when sync had deactivated them or
 *         marked them missing;
 *   B−A   created, only with JIT off (with JIT on, users arrive at first login);
 *   A−B   JIT off: deactivated. JIT on: marked missing (no login, no bundle).
 * Team members follow each team's memberSyncConfig, system admins follow
 * adminSyncOpts and org admins their org's adminMemberSyncConfig; only
 * imported accounts are ever promoted or demoted, so the local admins stay.
 * A targeted sync (after a first login) trusts the login that found its one
 * user, and changes only that user's memberships and admin rights.
 *
 * Who is in A∩B: an account is its entry's, and the entry is found by its
 * directory id (entryUUID, objectGUID) first, wherever it moved and whatever
 * its username became (the account keeps its name: grants, collections and
 * certificates carry it). An account without a recorded id (imported before
 * ids were kept) is matched by its DN, then by username, and gets the
 * entry's id; from then on only the id matches it, so a DN or a name made
 * again for someone else never takes it over. An entry
 * whose username is an account's that was made from an entry of another id
 * is not merged: it is skipped and said, and the account, its own entry
 * gone, leaves as A−B. One entry is one account's, and one id one account's.
 *
 * Safety comes first, because other products have deactivated whole
 * companies after a directory outage: a plan that deactivates or marks
 * missing more than maxDeactivationPercent of the active imported users (and
 * more than five) is refused unless forced, as is one that removes more than
 * that share of a synced team's imported members (and more than five), and
 * one that would leave no active admin is refused whatever force says.
 */
#ifndef AUTHD_SYNC_PLAN_H
#define AUTHD_SYNC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authd.h"
#include "ldapsync.h"

/* Deactivations (and a team's removals) at or below this many are never refused (SPEC §6.5). */
#define PLAN_MIN_GUARDED 5

struct sync_summary {
	size_t users_found, created, updated, deactivated, reactivated, marked_missing, skipped;
	size_t teams_synced, members_added, members_removed, admins_changed;
};

struct plan_options {
	bool jit;
	bool force;
	int max_deactivation_percent;
	const char *target;		 /* the one user of a targeted sync, or "" */
	struct ls_log *log;		 /* where skips and refusals are said; may be NULL */
	int (*new_id)(char out[ID_LEN]); /* a created account's id: 0, or -1 */
};

/* An account the plan knows: imported (A), made by this sync (B−A), or a local team member. */
struct plan_account {
	char *id, *name, *dn, *full_name;
	char *ldap_id;					  /* its entry's directory id; NULL: none */
	bool id_recorded;				  /* ldap_id is new: this sync found it */
	char *dn_key;					  /* the DN as groups name it; NULL: none */
	bool active, admin, missing, deactivated;	  /* as stored */
	bool n_active, n_admin, n_missing, n_deactivated; /* as planned */
	char *n_dn, *n_full_name;			  /* NULL: unchanged */
	bool created;					  /* B−A, made by this sync */
	bool in_dir;					  /* found by the searches */
	bool local; /* not imported: only removed from teams */
};

/* A team (team set) or an org whose admins are synced. */
struct plan_group {
	const char *owner_id; /* the team's or the org's id */
	const char *org_id;   /* the team's org, or the org itself */
	const char *name;     /* "org/team" or "org" */
	bool team;
	bool allow_non_ldap_members;
};

/* A member a group's config names in the directory: by DN key, or (memberUid) by username. */
struct plan_member {
	const char *dn_key;
	const char *username;
};

/* A member the store has in a team or an org. */
struct plan_current {
	const char *user_id;
	const char *name; /* needed only when plan_knows not the id: a local account */
	bool imported;
	bool admin; /* an org's admin flag */
};

enum plan_action {
	PLAN_CREATE,
	PLAN_UPDATE,
	PLAN_DEACTIVATE,
	PLAN_MARK_MISSING,
	PLAN_REACTIVATE,
	PLAN_PROMOTE, /* a system admin */
	PLAN_DEMOTE,
	PLAN_ADD_MEMBER,
	PLAN_REMOVE_MEMBER,
	PLAN_PROMOTE_ORG_ADMIN,
	PLAN_DEMOTE_ORG_ADMIN,
};

/* One change, in the order the plan made them; the strings are the plan's. */
struct plan_change {
	enum plan_action what;
	const char *id, *name;
	const struct plan_group *group; /* member changes only */
	const char *dn, *full_name;	/* what a create or an update sets; else NULL */
};

/*
 * A plan while it is made and once it is whole. accounts is sorted by name
 * after plan_index; the pointers of changes stay valid until plan_free.
 */
struct plan {
	struct plan_options o;
	struct plan_account *accounts;
	size_t naccounts, capaccounts;
	struct plan_account **locals; /* local team members to remove, each malloc'd */
	size_t nlocals, caplocals;
	struct plan_user {
		char *name, *dn, *ldap_id, *full_name; /* ldap_id NULL: none */
	} * users; /* B−A, until plan_users makes accounts of them */
	size_t nusers, capusers;
	char **local_names; /* accounts a sync never makes or touches */
	size_t nlocal_names, caplocal_names;
	struct plan_change *changes;
	size_t nchanges, capchanges;
	struct plan_index {
		struct plan_account **slots;
		size_t mask;
	} by_dn, by_id, by_ldap_id; /* by_ldap_id: the stored accounts, while users are found */
	size_t nidless_dns;	    /* stored accounts found by DN while users are found */
	struct sync_summary sum;
	char refused[256]; /* which guard refused the plan, and why, in a line; "" */
};

/* The options are copied; their strings must outlive the plan. */
void plan_init(struct plan *p, const struct plan_options *o);
void plan_free(struct plan *p);

/* ---- the store's side, then the directory's; -1 is out of memory ---- */

/* An imported account as stored (A), ldap_id "" when none is recorded; its strings are copied. */
int plan_add_account(struct plan *p, const char *id, const char *name, const char *dn,
		     const char *ldap_id, const char *full_name, bool active, bool admin,
		     bool missing, bool deactivated);
/* The name of an account a sync must leave alone (a managed user or an org). */
int plan_add_local_name(struct plan *p, const char *name);
/* Once the store's side is in: the directory's users are matched against it as they come;
 * 0, or -1 out of memory. */
int plan_accounts_done(struct plan *p);
/* A user the searches found (B), ldap_id "" when its entry has none: matched with A, kept as
 * B−A, or skipped (said). */
int plan_user_found(struct plan *p, const char *username, const char *dn, const char *ldap_id,
		    const char *full_name);

/* ---- planning; each answers 0, or -1 with the reason said (a refusal, or no memory) ---- */

/* A∩B, A−B and B−A, then the deactivation guard. */
int plan_users(struct plan *p);
/* Makes the accounts findable by DN and id for the group syncs; after plan_users. */
int plan_index(struct plan *p);
/* Whether the id is an account of the plan (imported, or made by this sync); after plan_index. */
bool plan_knows(const struct plan *p, const char *user_id);
/* Whether a DN (ls_dn_key's form) is a user the directory's searches found; after plan_index. */
bool plan_found_dn(const struct plan *p, const char *dn_key);
/* A team's members become who its config names (wanted), from who they are now (current);
 * refused when it would remove too many of its imported members (the guard above). */
int plan_team(struct plan *p, const struct plan_group *g, const struct plan_member *wanted,
	      size_t nwanted, const struct plan_current *current, size_t ncurrent);
/* Imported accounts are system admins exactly when adminSyncOpts names them. */
int plan_admins(struct plan *p, const struct plan_member *wanted, size_t nwanted);
/* An org's imported members are its admins exactly when its config names them. */
int plan_org_admins(struct plan *p, const struct plan_group *g, const struct plan_member *wanted,
		    size_t nwanted, const struct plan_current *current, size_t ncurrent);
/* The last-admin rule; active_admins is what the store counts, imported ones included. */
int plan_admins_left(struct plan *p, int64_t active_admins);
/*
 * Frees what only planning needs (the directory's users, the local names,
 * the DN keys, the indexes) before the plan is applied: a first sync of a
 * large directory peaks there. The accounts and the changes stay.
 */
void plan_settle(struct plan *p);

/* "create", "addMember", ...: the names the log and a dry run's plan give the changes. */
const char *plan_action_name(enum plan_action a);

#endif
