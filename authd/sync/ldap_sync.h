/*
 * One LDAP sync (SPEC §6.5): what the directory says and what the store has
 * go into a plan (sync_plan.h), which is applied in one transaction. It is
 * given everything it needs, and knows nothing of the job that runs it.
 */
#ifndef AUTHD_LDAP_SYNC_H
#define AUTHD_LDAP_SYNC_H

#include <stdatomic.h>

#include "sync_plan.h"

/* A team's memberSyncConfig or an org's adminMemberSyncConfig, with sync on. */
struct member_sync_cfg {
	char owner_id[ID_LEN];	 /* the team's or the org's id */
	char org_id[ID_LEN];	 /* the team's org, or the org itself */
	char name[2 * NAME_LEN]; /* "org/team" or "org", for the log */
	struct ls_member_sync sync;
};

struct sync_configs {
	struct member_sync_cfg *teams, *orgs;
	size_t nteams, norgs;
};

/* Every team's and org's member sync that is on; 0, or -1 when the store cannot give them. */
int sync_configs_load(struct sync_configs *out);
void sync_configs_free(struct sync_configs *c);
/*
 * Whether a sync of one user would change anything besides the user: some
 * team or org is synced, or the system admins are. STORE_OK with *on, or the
 * store's failure.
 */
int sync_groups_on(const struct ls_settings *s, bool *on);

struct sync_input {
	const struct ls_settings *settings;
	const struct sync_configs *configs;
	bool dry_run, force;
	const char *target;	   /* the one user of a targeted sync, or "" */
	const atomic_bool *cancel; /* looked at between entries and before anything is applied */
	struct ls_log *log;	   /* the job's log */
	/* inside the apply's transaction, before its commit: STORE_OK lets it commit (the job
	 * still holds its lease); NULL for none */
	int (*hold)(void *ctx);
	void *hold_ctx;
	/* just before the apply's transaction begins: writes the log so far out, so that it is
	 * read while the transaction runs, and kept if the process dies in it; NULL for none */
	void (*flush_log)(void *ctx);
	void *flush_ctx;
};

struct sync_result {
	struct sync_summary sum;
	char refused[256]; /* the guard that refused the plan, and why; "" */
	json_t *plan;	   /* a dry run's changes, for the job (the caller frees it); else NULL */
};

enum { SYNC_CANCELED = -2 };

/*
 * 0 when the sync completed (and was applied, unless a dry run),
 * SYNC_CANCELED, or -1 with the reason in the log. Nothing is changed unless
 * 0, and then the summary says what; otherwise it counts only what was read.
 */
int ldap_sync_run(const struct sync_input *in, struct sync_result *out);

#endif
