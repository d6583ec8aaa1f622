/*
 * Sync jobs in the store: a row per job with its status, times, summary and
 * (for dry runs) plan. Their logs are files beside the database (jobs.c).
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define JOB_COLUMNS                                                                                \
	"id, action, status, dry_run, force, target, scheduled_at, started_at, last_updated,"      \
	" summary, plan"

void job_free_texts(struct job *j)
{
	free(j->summary);
	free(j->plan);
	j->summary = j->plan = NULL;
}

static char *column_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *v = sqlite3_column_text(st, col);

	return v ? strdup((const char *)v) : NULL;
}

static void read_job(sqlite3_stmt *st, struct job *j)
{
	store_text(j->id, sizeof(j->id), st, 0);
	store_text(j->action, sizeof(j->action), st, 1);
	store_text(j->status, sizeof(j->status), st, 2);
	j->dry_run = sqlite3_column_int(st, 3);
	j->force = sqlite3_column_int(st, 4);
	store_text(j->target, sizeof(j->target), st, 5);
	j->scheduled_at = sqlite3_column_int64(st, 6);
	j->started_at = sqlite3_column_int64(st, 7);
	j->last_updated = sqlite3_column_int64(st, 8);
	j->summary = column_dup(st, 9);
	j->plan = column_dup(st, 10);
}

int store_job_insert(const struct job *j)
{
	static const char sql[] = "INSERT INTO jobs (" JOB_COLUMNS ")"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
	sqlite3_stmt *st = store_bound(sql, j->id, j->action, j->status);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_int(st, 4, j->dry_run);
	sqlite3_bind_int(st, 5, j->force);
	sqlite3_bind_text(st, 6, j->target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, j->scheduled_at);
	sqlite3_bind_int64(st, 8, j->started_at);
	sqlite3_bind_int64(st, 9, j->last_updated);
	sqlite3_bind_text(st, 10, j->summary ? j->summary : "{}", -1, SQLITE_STATIC);
	if (j->plan != NULL)
		sqlite3_bind_text(st, 11, j->plan, -1, SQLITE_STATIC);
	return store_finish(st, false);
}

/* Steps a one-row query into *out. */
static int one_job(sqlite3_stmt *st, struct job *out)
{
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	read_job(st, out);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_job_get(const char *id, struct job *out)
{
	static const char sql[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1";

	return one_job(store_bound(sql, id, NULL, NULL), out);
}

int store_job_next(struct job *out)
{
	static const char sql[] =
	    "SELECT " JOB_COLUMNS " FROM jobs WHERE status = 'waiting' ORDER BY seq LIMIT 1";

	return one_job(store_stmt(sql), out);
}

int store_jobs(const char *action, const char *start_id, int limit, job_cb cb, void *ctx)
{
	static const char sql[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE (?1 = '' OR action = ?1)"
				  " AND (?2 = '' OR seq <= (SELECT seq FROM jobs WHERE id = ?2))"
				  " ORDER BY seq DESC LIMIT ?3";
	sqlite3_stmt *st = store_bound(sql, action, start_id, NULL);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_int(st, 3, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct job j;
		int stop;

		read_job(st, &j);
		stop = cb(&j, ctx);
		job_free_texts(&j);
		if (stop)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_failed(st);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_job_update(const struct job *j)
{
	static const char sql[] = "UPDATE jobs SET status = ?2, started_at = ?4, last_updated = ?5,"
				  " summary = ?6, plan = ?7 WHERE id = ?1";
	sqlite3_stmt *st = store_bound(sql, j->id, j->status, NULL);

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(st, 4, j->started_at);
	sqlite3_bind_int64(st, 5, j->last_updated);
	sqlite3_bind_text(st, 6, j->summary ? j->summary : "{}", -1, SQLITE_STATIC);
	if (j->plan != NULL)
		sqlite3_bind_text(st, 7, j->plan, -1, SQLITE_STATIC);
	return store_finish(st, true);
}

int store_jobs_interrupted(int64_t now, int *n)
{
	static const char sql[] =
	    "UPDATE jobs SET status = 'errored', last_updated = ?1 WHERE status = 'running'";
	sqlite3_stmt *st = store_stmt(sql);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(st, 1, now);
	rc = store_finish(st, false);
	*n = rc == STORE_OK ? sqlite3_changes(store_db()) : 0;
	return rc;
}

int store_job_latest(const char *action, int64_t *scheduled_at)
{
	static const char sql[] = "SELECT scheduled_at FROM jobs WHERE action = ?1 AND target = ''"
				  " ORDER BY seq DESC LIMIT 1";
	sqlite3_stmt *st = store_bound(sql, action, NULL, NULL);
	int rc;

	if (st == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_NOT_FOUND : store_failed(st);
	*scheduled_at = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

int store_job_pending(const char *action, bool *pending)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM jobs WHERE action = ?1"
				  " AND status IN ('waiting', 'running'))";
	sqlite3_stmt *st = store_bound(sql, action, NULL, NULL);

	if (st == NULL)
		return STORE_ERROR;
	if (sqlite3_step(st) != SQLITE_ROW)
		return store_failed(st);
	*pending = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}
