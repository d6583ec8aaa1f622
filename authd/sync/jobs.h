/*
 * Sync jobs: the queue, the worker thread and the scheduler (jobs.c), and
 * one LDAP sync (ldap_sync.c), which reads the job through these calls.
 */
#ifndef AUTHD_JOBS_H
#define AUTHD_JOBS_H

#include <stdio.h>

#include "api/api.h"

#define JOB_ACTION_LDAP_SYNC "ldap-sync"

/* A team's memberSyncConfig or an org's adminMemberSyncConfig, with sync on. */
struct member_sync_cfg {
	char owner_id[ID_LEN];	 /* the team's or the org's id */
	char org_id[ID_LEN];	 /* the team's org, or the org itself */
	char name[2 * NAME_LEN]; /* "org/team" or "org", for the log */
	struct ls_member_sync sync;
};

struct sync_summary {
	size_t users_found, created, updated, deactivated, reactivated, marked_missing, skipped;
	size_t teams_synced, members_added, members_removed, admins_changed;
};

struct jobs;

/* A job while it runs: its row, its log file, its plan, its group configs. */
struct sync_job {
	struct job job;
	struct jobs *jobs;
	FILE *log;
	size_t lines;
	struct ls_log ldap_log;
	json_t *plan; /* kept for dry runs only */
	struct member_sync_cfg *teams, *orgs;
	size_t nteams, norgs;
};

enum { SYNC_CANCELED = -2 };

/* A line in the job's log (never a secret: nothing here formats one). */
void sync_log(struct sync_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A planned change to an account: logged, and kept for the job's plan on a
 * dry run. k1/v1 and k2/v2 are optional details ("dn", "team", ...).
 */
void sync_change(struct sync_job *j, const char *action, const char *account, const char *k1,
		 const char *v1, const char *k2, const char *v2);
bool sync_job_canceled(struct sync_job *j);
struct ls_log *sync_job_ldap_log(struct sync_job *j);
const struct member_sync_cfg *sync_job_team_configs(struct sync_job *j, size_t *n);
const struct member_sync_cfg *sync_job_org_configs(struct sync_job *j, size_t *n);

/* ldap_sync.c: one sync. 0 when it completed (and applied, unless a dry run),
 * SYNC_CANCELED, or -1 with the reason in the log; nothing is changed unless 0. */
int ldap_sync_run(struct sync_job *job, const struct ls_settings *s, struct sync_summary *sum);

/* Marks jobs a stop left running as errored, then starts the worker and the scheduler. */
struct jobs *jobs_start(struct server *srv, struct failure *err);
/* Asks a running job to stop (it changes nothing then) and joins the worker. */
void jobs_stop(struct jobs *js);
/* Queues a sync (waiting) and wakes the worker; target "" for a full sync. */
int jobs_submit(struct jobs *js, bool dry_run, bool force, const char *target, struct job *out);
/* After a just-in-time login: a sync of that user's teams and admin rights, when any are synced. */
void jobs_submit_for_user(struct jobs *js, const struct ls_settings *s, const char *name);
/* A waiting job is canceled at once, a running one asked to stop: STORE_OK; STORE_NOT_FOUND;
 * STORE_CONFLICT when it has finished. */
int jobs_cancel(struct jobs *js, const char *id);
/* The file that holds a job's log. */
void jobs_log_path(const struct jobs *js, const char *id, char *buf, size_t len);
json_t *job_json(const struct job *j);

/* Finished syncs since start, by outcome, and the time they took, for /metrics. */
struct jobs_metrics {
	long done, errored, canceled;
	double seconds_sum;
};
void jobs_metrics(struct jobs *js, struct jobs_metrics *out);

#endif
