/*
 * Sync jobs: the queue, the worker thread that runs them one at a time, the
 * scheduler, and the record of each run (its row, its log, its summary).
 * What a run does is ldap_sync.c's.
 */
#ifndef AUTHD_JOBS_H
#define AUTHD_JOBS_H

#include "ldapsync.h"
#include "metrics.h"
#include "store/store.h"

#define JOB_ACTION_LDAP_SYNC "ldap-sync"

struct jobs;

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
json_t *job_json(const struct job *j);

/* Finished syncs since start, by outcome, and the time they took, for /metrics. */
struct jobs_metrics {
	long done, errored, canceled;
	struct hist_counts seconds;
};
void jobs_metrics(struct jobs *js, struct jobs_metrics *out);

#endif
