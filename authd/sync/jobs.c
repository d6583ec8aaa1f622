/*
 * The job queue: one worker thread runs LDAP syncs (ldap_sync.c) one at a
 * time, oldest first, and a scheduler queues one per syncSchedule. Jobs and
 * their logs (job_log.c) live in the store, so both survive restarts and
 * every replica reads them. Replicas on one store share the queue: a job
 * runs on the replica that claimed it, under a lease it renews; a job whose
 * lease ends (its replica died) becomes errored, having changed nothing.
 */
#include <stdarg.h>
#include <stdlib.h>
#ifdef __GLIBC__ /* stdlib.h says which libc this is */
#include <malloc.h>
#endif
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "changes.h"
#include "job_log.h"
#include "jobs.h"
#include "ldap_config.h"
#include "ldap_sync.h"

#define IDLE_CHECK_SECONDS 60
/* a claimed job is its replica's this long past its last renewal (README, "Sync jobs") */
#define LEASE_SECONDS 20
#define LEASE_RENEW_SECONDS 5
/* how soon an idle replica looks for jobs queued, or leases ended, on another */
#define CLAIM_POLL_SECONDS 2

struct jobs {
	struct server *srv;
	char replica[NAME_LEN]; /* this process's name in the jobs it runs */
	pthread_t thread, keeper;
	pthread_mutex_t lock; /* guards the fields below and the waiting → running step */
	pthread_cond_t wake, tick;
	bool stopping;
	bool keeper_stopping; /* the keeper goes first: the worker's end closes the store */
	char running[ID_LEN]; /* "" when idle */
	atomic_bool cancel;
	int64_t first_seen; /* when the scheduler first saw LDAP on: the first period starts then */
	long done, errored, canceled; /* finished jobs, for /metrics */
	struct hist seconds;	      /* and how long they took */
};

/* ---- one run ---- */

/* A run's record while it goes: its log, which the sync writes through `log`. */
struct run {
	struct job_log *jl;
	bool ending; /* the job's last line, kept past the log's cap */
	struct ls_log log;
};

/* A line in the job's log (never a secret: nothing here formats one). */
static void log_line(void *ctx, const char *text)
{
	struct run *run = ctx;

	job_log_line(run->jl, text, run->ending);
}

/* Before the apply's transaction: the log so far goes to the store, outside it. */
static void flush_log(void *ctx)
{
	struct run *run = ctx;

	job_log_flush(run->jl);
}

/* The counts, and for a plan a guard refused, which guard and why ("refused"). */
static json_t *summary_json(const struct sync_result *res, int64_t ms)
{
	const struct sync_summary *s = &res->sum;
	json_t *j = json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "usersFound",
	    (json_int_t)s->users_found, "created", (json_int_t)s->created, "updated",
	    (json_int_t)s->updated, "deactivated", (json_int_t)s->deactivated, "reactivated",
	    (json_int_t)s->reactivated, "markedMissing", (json_int_t)s->marked_missing,
	    "skippedInvalid", (json_int_t)s->skipped, "teamsSynced", (json_int_t)s->teams_synced,
	    "membersAdded", (json_int_t)s->members_added, "membersRemoved",
	    (json_int_t)s->members_removed, "adminsChanged", (json_int_t)s->admins_changed,
	    "durationMs", (json_int_t)ms);

	if (j != NULL && res->refused[0] != '\0')
		json_object_set_new(j, "refused", json_string(res->refused));
	return j;
}

/* What the apply's transaction checks before it commits: the job is still this replica's. */
struct hold {
	struct jobs *js;
	const char *id;
};

static int hold_lease(void *ctx)
{
	const struct hold *h = ctx;

	return store_job_hold(h->id, h->js->replica, now_seconds() + LEASE_SECONDS);
}

/* The sync of a job, given the settings and configs it needs. */
static int run_sync(struct jobs *js, const struct job *job, struct run *run,
		    struct sync_result *out)
{
	struct ldap_config *cfg = ldap_config_get(js->srv);
	struct sync_configs configs;
	struct hold hold = {js, job->id};
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (cfg == NULL || !cfg->configured) {
		ls_logf(&run->log, "refused: LDAP is not configured");
	} else if (sync_configs_load(&configs) != 0) {
		ls_logf(&run->log, "the team and organization sync settings cannot be read");
	} else {
		struct sync_input in = {&cfg->s,     &configs,	  job->dry_run, job->force,
					job->target, &js->cancel, &run->log,	hold_lease,
					&hold,	     flush_log,	  run};

		rc = ldap_sync_run(&in, out);
		sync_configs_free(&configs);
	}
	ldap_config_put(cfg);
	return rc;
}

/* Whether the sync wrote anything: a no-change sync leaves the snapshot as it is. */
static bool changed(const struct sync_summary *s)
{
	return s->created + s->updated + s->deactivated + s->reactivated + s->marked_missing +
		   s->members_added + s->members_removed + s->admins_changed >
	       0;
}

/* Records how the run ended: the job's row, the metrics, the log and the audit line. */
static void finish(struct jobs *js, struct job *job, struct run *run, int rc,
		   const struct sync_result *res, int64_t start)
{
	const char *status = rc == 0 ? "done" : rc == SYNC_CANCELED ? "canceled" : "errored";
	json_t *summary;
	int64_t ms;

	/* the new snapshot is part of the job: decisions see the change when it is done */
	if (rc == 0 && !job->dry_run && changed(&res->sum))
		changes_announce(js->srv,
				 &(struct change){.what = CHANGE_ACCOUNTS | CHANGE_MEMBERSHIPS |
							  CHANGE_COLLECTIONS | CHANGE_GRANTS});
	ms = monotonic_ms() - start;
	summary = summary_json(res, ms);
	snprintf(job->status, sizeof(job->status), "%s", status);
	job->last_updated = now_seconds();
	free(job->summary);
	job->summary = json_dumps(summary, JSON_COMPACT);
	if (rc == 0 && res->plan != NULL)
		job->plan = json_dumps(res->plan, JSON_COMPACT);
	run->ending = true;
	ls_logf(&run->log, "%s in %lld ms: %s", status, (long long)ms, job->summary);
	/* whoever sees the job ended, on any replica, reads its whole log */
	job_log_flush(run->jl);
	pthread_mutex_lock(&js->lock);
	js->done += rc == 0;
	js->errored += rc != 0 && rc != SYNC_CANCELED;
	js->canceled += rc == SYNC_CANCELED;
	hist_observe(&js->seconds, ms * 1000000);
	pthread_mutex_unlock(&js->lock);
	rc = store_job_end(job, js->replica);
	if (rc == STORE_NOT_FOUND)
		log_msg(LOG_WARN, "job %s: its lease had ended; it stays as recorded then",
			job->id);
	else if (rc != STORE_OK)
		log_msg(LOG_ERROR, "job %s: its end could not be recorded", job->id);
	audit_log(js->srv->audit, "ldap.sync", NULL, "",
		  json_pack("{s:s, s:s, s:b, s:o}", "job", job->id, "status", status, "dryRun",
			    job->dry_run, "summary", summary));
}

/* Whether the job was asked to stop, here or (so far as the store says) on another replica. */
static bool cancel_asked(struct jobs *js, const char *id)
{
	bool asked = false;

	if (atomic_load(&js->cancel))
		return true;
	return store_job_renew(id, js->replica, now_seconds() + LEASE_SECONDS, &asked) ==
		   STORE_OK &&
	       asked;
}

static void run_job(struct jobs *js, struct job *job)
{
	struct run run = {.jl = job_log_open(job->id, JOB_LOG_MAX), .log = {log_line, &run}};
	struct sync_result res;
	int64_t start = monotonic_ms();
	int rc;

	ls_logf(&run.log, "%s%s%s%s%s on replica %s", job->action, job->target[0] ? " of " : "",
		job->target, job->dry_run ? " (dry run)" : "", job->force ? " (force)" : "",
		js->replica);
	/* which replica runs it is in the store at once, for a reader on any of them */
	job_log_flush(run.jl);
	rc = run_sync(js, job, &run, &res);
#ifdef __GLIBC__
	/* a large sync's plan was just freed all at once: hand the pages back before the
	 * snapshot is rebuilt, rather than keep a directory's worth of free heap beside it */
	malloc_trim(0);
#endif
	if (rc != 0 && rc != SYNC_CANCELED && cancel_asked(js, job->id))
		rc = SYNC_CANCELED;
	finish(js, job, &run, rc, &res, start);
	json_decref(res.plan);
	job_log_close(run.jl);
}

/* ---- the scheduler ---- */

/* A waiting sync, not yet in the store; 0, or -1 when no id could be made. */
static int new_job(bool dry_run, bool force, const char *target, struct job *j)
{
	memset(j, 0, sizeof(*j));
	if (new_uuid(j->id) != 0)
		return -1;
	snprintf(j->action, sizeof(j->action), JOB_ACTION_LDAP_SYNC);
	snprintf(j->status, sizeof(j->status), "waiting");
	snprintf(j->target, sizeof(j->target), "%s", target ? target : "");
	j->dry_run = dry_run;
	j->force = force;
	j->scheduled_at = j->last_updated = now_seconds();
	return 0;
}

static int insert_job(bool dry_run, bool force, const char *target, struct job *out)
{
	struct job j;

	if (new_job(dry_run, force, target, &j) != 0)
		return STORE_ERROR;
	if (out != NULL)
		*out = j;
	return store_job_insert(&j);
}

/* Queues a sync when the schedule says one is due; the seconds until it next should look. */
static int64_t schedule(struct jobs *js)
{
	struct ldap_config *cfg = ldap_config_get(js->srv);
	int64_t now = now_seconds(), last, due;
	long period;
	struct job job;

	if (cfg == NULL || !cfg->configured || !cfg->backend_ldap) {
		ldap_config_put(cfg);
		js->first_seen = 0;
		return IDLE_CHECK_SECONDS;
	}
	period = ls_schedule_seconds(cfg->s.sync_schedule);
	ldap_config_put(cfg);
	if (js->first_seen == 0)
		js->first_seen = now;
	if (store_job_latest(JOB_ACTION_LDAP_SYNC, &last) != STORE_OK || last < js->first_seen)
		last = js->first_seen;
	due = last + period;
	if (now < due)
		return due - now < IDLE_CHECK_SECONDS ? due - now : IDLE_CHECK_SECONDS;
	/* every replica comes here in the period: the store queues one job of them all */
	if (new_job(false, false, "", &job) == 0 &&
	    store_job_schedule(&job, now - period) == STORE_OK)
		return 0;
	return IDLE_CHECK_SECONDS;
}

/* Jobs whose replica died while they ran, or (at start) that this one left, become errored. */
static void expire(struct jobs *js, bool at_start)
{
	int n = 0;

	if (store_jobs_expire(js->replica, now_seconds(), at_start, &n) != STORE_OK || n == 0)
		return;
	if (at_start)
		log_msg(LOG_WARN,
			"%d sync job(s) left running by the last stop are now errored; "
			"they changed nothing",
			n);
	else
		log_msg(LOG_WARN,
			"%d sync job(s) whose replica stopped renewing its lease are now errored; "
			"they changed nothing",
			n);
}

/* Renews the lease of the job this replica runs, and hears of a cancel asked elsewhere. */
static void *keeper(void *arg)
{
	struct jobs *js = arg;

	pthread_mutex_lock(&js->lock);
	while (!js->keeper_stopping) {
		struct timespec until;
		char id[ID_LEN];
		bool asked = false;

		snprintf(id, sizeof(id), "%s", js->running);
		if (id[0] != '\0') {
			int rc;

			pthread_mutex_unlock(&js->lock);
			rc =
			    store_job_renew(id, js->replica, now_seconds() + LEASE_SECONDS, &asked);
			if (rc == STORE_NOT_FOUND)
				log_msg(LOG_WARN, "job %s: its lease ended; it will change nothing",
					id);
			pthread_mutex_lock(&js->lock);
			/* a lost lease stops the job too: its transaction could not commit */
			if ((asked || rc == STORE_NOT_FOUND) && strcmp(js->running, id) == 0)
				atomic_store(&js->cancel, true);
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += LEASE_RENEW_SECONDS;
		pthread_cond_timedwait(&js->tick, &js->lock, &until);
	}
	pthread_mutex_unlock(&js->lock);
	/* its own connection ends with the thread; store_close is the worker's, the last */
	return NULL;
}

static void *worker(void *arg)
{
	struct jobs *js = arg;

	pthread_mutex_lock(&js->lock);
	while (!js->stopping) {
		struct job job;
		int64_t wait;

		expire(js, false);
		if (store_job_claim(js->replica, now_seconds(), now_seconds() + LEASE_SECONDS,
				    &job) == STORE_OK) {
			snprintf(js->running, sizeof(js->running), "%s", job.id);
			atomic_store(&js->cancel, false);
			pthread_mutex_unlock(&js->lock);
			run_job(js, &job);
			job_free_texts(&job);
			pthread_mutex_lock(&js->lock);
			js->running[0] = '\0';
			continue;
		}
		wait = schedule(js);
		/* a job queued on another replica, or a lease ended there, is seen this soon */
		if (wait > CLAIM_POLL_SECONDS)
			wait = CLAIM_POLL_SECONDS;
		if (wait > 0) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += wait;
			pthread_cond_timedwait(&js->wake, &js->lock, &until);
		}
	}
	pthread_mutex_unlock(&js->lock);
	store_close();
	return NULL;
}

/* ---- the interface ---- */

/* Stops the worker (a running job changes nothing then) and joins it. */
static void jobs_stop_worker(struct jobs *js)
{
	pthread_mutex_lock(&js->lock);
	js->stopping = true;
	atomic_store(&js->cancel, true);
	pthread_cond_signal(&js->wake);
	pthread_mutex_unlock(&js->lock);
	pthread_join(js->thread, NULL);
}

struct jobs *jobs_start(struct server *srv, struct failure *err)
{
	struct jobs *js = calloc(1, sizeof(*js));

	if (js == NULL) {
		failure_set(err, "out of memory");
		return NULL;
	}
	js->srv = srv;
	hist_init(&js->seconds, &hist_job_buckets);
	job_log_import(srv->cfg->data_dir);
	/* main.c named this process (replica.name, or host:port) before starting the jobs */
	snprintf(js->replica, sizeof(js->replica), "%s", srv->replica);
	expire(js, true);
	pthread_mutex_init(&js->lock, NULL);
	pthread_cond_init(&js->wake, NULL);
	pthread_cond_init(&js->tick, NULL);
	atomic_init(&js->cancel, false);
	if (pthread_create(&js->thread, NULL, worker, js) != 0) {
		failure_set(err, "cannot start the job worker");
		free(js);
		return NULL;
	}
	if (pthread_create(&js->keeper, NULL, keeper, js) != 0) {
		failure_set(err, "cannot start the job lease keeper");
		jobs_stop_worker(js);
		free(js);
		return NULL;
	}
	return js;
}

void jobs_stop(struct jobs *js)
{
	if (js == NULL)
		return;
	pthread_mutex_lock(&js->lock);
	js->keeper_stopping = true;
	pthread_cond_signal(&js->tick);
	pthread_mutex_unlock(&js->lock);
	pthread_join(js->keeper, NULL);
	jobs_stop_worker(js);
	pthread_cond_destroy(&js->wake);
	pthread_cond_destroy(&js->tick);
	pthread_mutex_destroy(&js->lock);
	free(js);
}

int jobs_submit(struct jobs *js, bool dry_run, bool force, const char *target, struct job *out)
{
	int rc;

	pthread_mutex_lock(&js->lock);
	rc = insert_job(dry_run, force, target, out);
	if (rc == STORE_OK)
		pthread_cond_signal(&js->wake);
	pthread_mutex_unlock(&js->lock);
	return rc;
}

void jobs_submit_for_user(struct jobs *js, const struct ls_settings *s, const char *name)
{
	bool on = false;

	if (sync_groups_on(s, &on) == STORE_OK && on &&
	    jobs_submit(js, false, false, name, NULL) != STORE_OK)
		log_msg(LOG_WARN, "the sync of %s's teams could not be queued", name);
}

int jobs_cancel(struct jobs *js, const char *id)
{
	int rc = store_job_cancel(id, now_seconds());

	/* the sync looks at the flag between entries and before it applies anything; a
	 * replica that runs it hears of the cancel when it next renews its lease */
	pthread_mutex_lock(&js->lock);
	if (rc == STORE_OK && strcmp(js->running, id) == 0)
		atomic_store(&js->cancel, true);
	pthread_mutex_unlock(&js->lock);
	return rc;
}

static json_t *time_or_null(int64_t t)
{
	char buf[32];

	if (t == 0)
		return json_null();
	format_time(t, buf, sizeof(buf));
	return json_string(buf);
}

json_t *job_json(const struct job *j)
{
	json_t *o =
	    json_pack("{s:s, s:s, s:s, s:b, s:b, s:o, s:o, s:o}", "id", j->id, "action", j->action,
		      "status", j->status, "dryRun", j->dry_run, "force", j->force, "scheduledAt",
		      time_or_null(j->scheduled_at), "startedAt", time_or_null(j->started_at),
		      "lastUpdated", time_or_null(j->last_updated));
	json_t *summary = json_loads(j->summary ? j->summary : "{}", 0, NULL);

	if (o == NULL)
		return NULL;
	if (j->target[0] != '\0')
		json_object_set_new(o, "target", json_string(j->target));
	if (j->replica[0] != '\0')
		json_object_set_new(o, "replica", json_string(j->replica));
	json_object_set_new(o, "summary", summary ? summary : json_object());
	if (j->plan != NULL)
		json_object_set_new(o, "plan", json_loads(j->plan, 0, NULL));
	return o;
}

void jobs_metrics(struct jobs *js, struct jobs_metrics *out)
{
	pthread_mutex_lock(&js->lock);
	out->done = js->done;
	out->errored = js->errored;
	out->canceled = js->canceled;
	hist_read(&js->seconds, &out->seconds);
	pthread_mutex_unlock(&js->lock);
}
