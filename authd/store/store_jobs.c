/*
 * Sync jobs in the store: a row per job with its status, times, summary and
 * (for dry runs) plan, and its log in chunks (job_logs) that the replica
 * running it adds as it goes (sync/job_log.c).
 */
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define JOB_COLUMNS                                                                                \
	"id, action, status, dry_run, force, target, scheduled_at, started_at, last_updated,"      \
	" summary, plan, replica"

void job_free_texts(struct job *j)
{
	free(j->summary);
	free(j->plan);
	j->summary = j->plan = NULL;
}

static char *column_dup(struct stmt *st, int col)
{
	return col_null(st, col) ? NULL : strdup(col_text(st, col));
}

static void read_job(struct stmt *st, struct job *j)
{
	col_copy(st, 0, j->id, sizeof(j->id));
	col_copy(st, 1, j->action, sizeof(j->action));
	col_copy(st, 2, j->status, sizeof(j->status));
	j->dry_run = col_bool(st, 3);
	j->force = col_bool(st, 4);
	col_copy(st, 5, j->target, sizeof(j->target));
	j->scheduled_at = col_int(st, 6);
	j->started_at = col_int(st, 7);
	j->last_updated = col_int(st, 8);
	j->summary = column_dup(st, 9);
	j->plan = column_dup(st, 10);
	col_copy(st, 11, j->replica, sizeof(j->replica));
}

static int job_row(struct stmt *st, void *ctx)
{
	read_job(st, ctx);
	return 0;
}

int store_job_insert(const struct job *j)
{
	static const char sql[] = "INSERT INTO jobs (" JOB_COLUMNS ")"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
	struct stmt *st = stmt_texts(sql, j->id, j->action, j->status);

	stmt_bool(st, 4, j->dry_run);
	stmt_bool(st, 5, j->force);
	stmt_text(st, 6, j->target);
	stmt_int(st, 7, j->scheduled_at);
	stmt_int(st, 8, j->started_at);
	stmt_int(st, 9, j->last_updated);
	stmt_text(st, 10, j->summary ? j->summary : "{}");
	stmt_text(st, 11, j->plan);
	stmt_text(st, 12, j->replica);
	return stmt_exec(st, false);
}

int store_job_get(const char *id, struct job *out)
{
	static const char sql[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1";

	return stmt_one(stmt_texts(sql, id, NULL, NULL), job_row, out);
}

struct each_job {
	job_cb cb;
	void *ctx;
};

static int each_job_row(struct stmt *st, void *ctx)
{
	struct each_job *e = ctx;
	struct job j;
	int stop;

	read_job(st, &j);
	stop = e->cb(&j, e->ctx);
	job_free_texts(&j);
	return stop;
}

int store_jobs(const char *action, const char *start_id, int limit, job_cb cb, void *ctx)
{
	static const char sql[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE (?1 = '' OR action = ?1)"
				  " AND (?2 = '' OR seq <= (SELECT seq FROM jobs WHERE id = ?2))"
				  " ORDER BY seq DESC LIMIT ?3";
	struct each_job e = {cb, ctx};
	struct stmt *st = stmt_texts(sql, action, start_id, NULL);

	stmt_int(st, 3, limit);
	return stmt_each(st, each_job_row, &e);
}

int store_job_latest(const char *action, int64_t *scheduled_at)
{
	static const char sql[] = "SELECT scheduled_at FROM jobs WHERE action = ?1 AND target = ''"
				  " ORDER BY seq DESC LIMIT 1";

	return stmt_one_int(stmt_texts(sql, action, NULL, NULL), scheduled_at);
}

/* The answer of a SELECT EXISTS (...). */
static int exists(struct stmt *st, bool *yes)
{
	int64_t n = 0;
	int rc = stmt_one_int(st, &n);

	*yes = n != 0;
	return rc == STORE_NOT_FOUND ? STORE_ERROR : rc;
}

/* Whether a job of the action waits or runs. */
static int job_pending(const char *action, bool *pending)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM jobs WHERE action = ?1"
				  " AND status IN ('waiting', 'running'))";

	return exists(stmt_texts(sql, action, NULL, NULL), pending);
}

/* ---- leases (store.h says how replicas share them) ---- */

/* Whether any job runs, on any replica. */
static int job_running(bool *running)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'running')";

	return exists(stmt_get(sql), running);
}

static int claim_locked(const char *replica, int64_t now, int64_t lease_until, struct job *out)
{
	static const char next[] =
	    "SELECT " JOB_COLUMNS " FROM jobs WHERE status = 'waiting' ORDER BY seq LIMIT 1";
	static const char take[] =
	    "UPDATE jobs SET status = 'running', replica = ?2, started_at = ?3, last_updated = ?3,"
	    " lease_until = ?4 WHERE id = ?1 AND status = 'waiting'";
	struct stmt *st;
	bool running = true;
	int rc = job_running(&running);

	if (rc != STORE_OK || running)
		return rc != STORE_OK ? rc : STORE_NOT_FOUND;
	rc = stmt_one(stmt_get(next), job_row, out);
	if (rc != STORE_OK)
		return rc;
	st = stmt_texts(take, out->id, replica, NULL);
	stmt_int(st, 3, now);
	stmt_int(st, 4, lease_until);
	rc = stmt_exec(st, true);
	if (rc == STORE_OK) {
		snprintf(out->status, sizeof(out->status), "running");
		snprintf(out->replica, sizeof(out->replica), "%s", replica);
		out->started_at = out->last_updated = now;
	}
	return rc;
}

/* Ends the open transaction: committed when its statements answered rc STORE_OK, else
 * dropped; rc, or the commit's failure. */
static int end_transaction(int rc)
{
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK)
		store_rollback();
	return rc;
}

int store_job_claim(const char *replica, int64_t now, int64_t lease_until, struct job *out)
{
	/* idle replicas ask often: the write lock only when there may be a job to take */
	static const char ready[] = "SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'waiting')"
				    " AND NOT EXISTS (SELECT 1 FROM jobs WHERE status = 'running')";
	bool yes = false;
	int rc = exists(stmt_get(ready), &yes);

	memset(out, 0, sizeof(*out));
	if (rc != STORE_OK || !yes)
		return rc != STORE_OK ? rc : STORE_NOT_FOUND;
	rc = store_begin();
	if (rc == STORE_OK)
		rc = end_transaction(claim_locked(replica, now, lease_until, out));
	if (rc != STORE_OK)
		job_free_texts(out);
	return rc;
}

int store_job_renew(const char *id, const char *replica, int64_t lease_until, bool *cancel)
{
	static const char renew[] = "UPDATE jobs SET lease_until = ?3"
				    " WHERE id = ?1 AND replica = ?2 AND status = 'running'";
	static const char asked[] = "SELECT cancel_asked FROM jobs WHERE id = ?1";
	struct stmt *st = stmt_texts(renew, id, replica, NULL);
	int64_t yes = 0;
	int rc;

	stmt_int(st, 3, lease_until);
	rc = stmt_exec(st, true);
	if (rc == STORE_OK)
		rc = stmt_one_int(stmt_texts(asked, id, NULL, NULL), &yes);
	*cancel = yes != 0;
	return rc;
}

int store_job_hold(const char *id, const char *replica, int64_t lease_until)
{
	static const char sql[] =
	    "UPDATE jobs SET lease_until = ?3"
	    " WHERE id = ?1 AND replica = ?2 AND status = 'running' AND cancel_asked = ?4";
	struct stmt *st = stmt_texts(sql, id, replica, NULL);

	stmt_int(st, 3, lease_until);
	stmt_bool(st, 4, false);
	return stmt_exec(st, true);
}

int store_job_end(const struct job *j, const char *replica)
{
	static const char sql[] =
	    "UPDATE jobs SET status = ?3, last_updated = ?4, summary = ?5, plan = ?6"
	    " WHERE id = ?1 AND replica = ?2 AND status = 'running'";
	struct stmt *st = stmt_texts(sql, j->id, replica, j->status);

	stmt_int(st, 4, j->last_updated);
	stmt_text(st, 5, j->summary ? j->summary : "{}");
	stmt_text(st, 6, j->plan);
	return stmt_exec(st, true);
}

static int cancel_locked(const char *id, int64_t now)
{
	static const char waiting[] = "UPDATE jobs SET status = 'canceled', last_updated = ?2"
				      " WHERE id = ?1 AND status = 'waiting'";
	static const char running[] = "UPDATE jobs SET cancel_asked = ?2 WHERE id = ?1";
	struct job j;
	struct stmt *st;
	int rc = store_job_get(id, &j);

	if (rc != STORE_OK)
		return rc;
	job_free_texts(&j);
	if (strcmp(j.status, "waiting") == 0) {
		st = stmt_texts(waiting, id, NULL, NULL);
		stmt_int(st, 2, now);
		return stmt_exec(st, true);
	}
	if (strcmp(j.status, "running") != 0)
		return STORE_CONFLICT;
	st = stmt_texts(running, id, NULL, NULL);
	stmt_bool(st, 2, true);
	return stmt_exec(st, true);
}

int store_job_cancel(const char *id, int64_t now)
{
	int rc = store_begin();

	if (rc != STORE_OK)
		return rc;
	return end_transaction(cancel_locked(id, now));
}

#define EXPIRE_BATCH 16

struct stale {
	size_t n;
	char id[EXPIRE_BATCH][ID_LEN];
	char replica[EXPIRE_BATCH][NAME_LEN];
};

static int stale_row(struct stmt *st, void *ctx)
{
	struct stale *s = ctx;

	col_copy(st, 0, s->id[s->n], sizeof(s->id[0]));
	col_copy(st, 1, s->replica[s->n], sizeof(s->replica[0]));
	return ++s->n == EXPIRE_BATCH;
}

/* Why a job ended errored without its replica: for the job's summary and its log. */
static void expired_why(const char *holder, const char *replica, bool left, char *why, size_t len)
{
	if (left || holder[0] == '\0' || strcmp(holder, replica) == 0)
		snprintf(why, len,
			 "the job was interrupted: %s stopped while it ran; nothing was changed",
			 holder[0] ? holder : "authd");
	else
		snprintf(why, len,
			 "the job's lease ended: replica %s stopped renewing it while it ran;"
			 " nothing was changed",
			 holder);
}

/* The log's last line says it too, after the lines its replica wrote. */
static int log_expiry(const char *id, const char *why, const char *replica, int64_t now)
{
	char when[32], line[768];

	format_time(now, when, sizeof(when));
	snprintf(line, sizeof(line), "%s errored (noted by replica %s): %s\n", when, replica, why);
	return store_job_log_append(id, line, strlen(line));
}

/*
 * Errors the job unless its lease was renewed meanwhile, and adds why to its
 * log, in the caller's transaction: whoever reads the job errored reads why
 * in its log. *expired says whether it was.
 */
static int expire_one(const char *id, const char *holder, const char *replica, int64_t now,
		      int64_t ended, bool *expired)
{
	/* the lease may have been renewed since it was read: the update looks again */
	static const char sql[] =
	    "UPDATE jobs SET status = 'errored', last_updated = ?3, summary = ?4"
	    " WHERE id = ?1 AND status = 'running' AND (lease_until < ?5 OR replica = ?2)";
	char why[512];
	json_t *j;
	char *summary;
	struct stmt *st;
	int rc;

	expired_why(holder, replica, ended == INT64_MAX, why, sizeof(why));
	j = json_pack("{s:s}", "error", why);
	summary = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	st = stmt_texts(sql, id, replica, NULL);
	stmt_int(st, 3, now);
	stmt_text(st, 4, summary ? summary : "{}");
	stmt_int(st, 5, ended);
	rc = stmt_exec(st, false);
	free(summary);
	*expired = rc == STORE_OK && stmt_changed() > 0;
	if (*expired)
		rc = log_expiry(id, why, replica, now);
	return rc;
}

int store_jobs_expire(const char *replica, int64_t now, bool at_start, int *n)
{
	/* leases end before this; on a store of one process, at start, every one has */
	int64_t ended = at_start && !store_driver()->shared ? INT64_MAX : now;
	static const char sql[] = "SELECT id, replica FROM jobs WHERE status = 'running'"
				  " AND (lease_until < ?2 OR replica = ?1) ORDER BY seq";
	struct stale s = {0};
	struct stmt *st = stmt_texts(sql, replica, NULL, NULL);
	int rc;

	*n = 0;
	stmt_int(st, 2, ended);
	rc = stmt_each(st, stale_row, &s);
	for (size_t i = 0; rc == STORE_OK && i < s.n; i++) {
		bool expired = false;

		rc = store_begin();
		if (rc == STORE_OK)
			rc = end_transaction(
			    expire_one(s.id[i], s.replica[i], replica, now, ended, &expired));
		*n += rc == STORE_OK && expired;
	}
	return rc;
}

static int schedule_locked(const struct job *j, int64_t since)
{
	int64_t last = 0;
	bool pending = true;
	int rc = store_job_latest(j->action, &last);

	if (rc == STORE_OK && last > since)
		return STORE_NOT_FOUND;
	if (rc < 0 || (rc = job_pending(j->action, &pending)) != STORE_OK)
		return rc;
	return pending ? STORE_NOT_FOUND : store_job_insert(j);
}

int store_job_schedule(const struct job *j, int64_t since)
{
	int rc = store_begin();

	if (rc != STORE_OK)
		return rc;
	return end_transaction(schedule_locked(j, since));
}

/* ---- logs ---- */

int store_job_log_append(const char *id, const void *lines, size_t len)
{
	static const char sql[] = "INSERT INTO job_logs (job_id, lines) VALUES (?1, ?2)";
	struct stmt *st = stmt_texts(sql, id, NULL, NULL);

	stmt_blob(st, 2, lines, len);
	return stmt_exec(st, false);
}

int store_job_log_exists(const char *id, bool *yes)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM job_logs WHERE job_id = ?1)";

	return exists(stmt_texts(sql, id, NULL, NULL), yes);
}

struct log_text {
	char *text;
	size_t len, size;
	bool failed;
};

static int chunk_row(struct stmt *st, void *ctx)
{
	struct log_text *t = ctx;
	size_t n = 0;
	const void *bytes = col_blob(st, 0, &n);
	char *grown;

	if (t->len + n + 1 > t->size) {
		t->size = (t->len + n + 1) * 2;
		grown = realloc(t->text, t->size);
		if (grown == NULL) {
			t->failed = true;
			return 1;
		}
		t->text = grown;
	}
	if (n > 0)
		memcpy(t->text + t->len, bytes, n);
	t->len += n;
	t->text[t->len] = '\0';
	return 0;
}

int store_job_log_read(const char *id, char **text, size_t *len)
{
	static const char sql[] = "SELECT lines FROM job_logs WHERE job_id = ?1 ORDER BY seq";
	struct log_text t = {calloc(1, 1), 0, 1, false};
	int rc = t.text != NULL ? stmt_each(stmt_texts(sql, id, NULL, NULL), chunk_row, &t)
				: STORE_ERROR;

	if (rc == STORE_OK && t.failed)
		rc = STORE_ERROR;
	if (rc != STORE_OK) {
		free(t.text);
		t.text = NULL;
		t.len = 0;
	}
	*text = t.text;
	*len = t.len;
	return rc;
}
