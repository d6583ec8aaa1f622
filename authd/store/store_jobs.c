/*
 * Sync jobs in the store: a row per job with its status, times, summary and
 * (for dry runs) plan. Their logs are files beside the database (sync/jobs.c).
 */
#include <stdlib.h>
#include <string.h>

#include "driver.h"

#define JOB_COLUMNS                                                                                \
	"id, action, status, dry_run, force, target, scheduled_at, started_at, last_updated,"      \
	" summary, plan"

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
}

static int job_row(struct stmt *st, void *ctx)
{
	read_job(st, ctx);
	return 0;
}

int store_job_insert(const struct job *j)
{
	static const char sql[] = "INSERT INTO jobs (" JOB_COLUMNS ")"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
	struct stmt *st = stmt_texts(sql, j->id, j->action, j->status);

	stmt_bool(st, 4, j->dry_run);
	stmt_bool(st, 5, j->force);
	stmt_text(st, 6, j->target);
	stmt_int(st, 7, j->scheduled_at);
	stmt_int(st, 8, j->started_at);
	stmt_int(st, 9, j->last_updated);
	stmt_text(st, 10, j->summary ? j->summary : "{}");
	stmt_text(st, 11, j->plan);
	return stmt_exec(st, false);
}

int store_job_get(const char *id, struct job *out)
{
	static const char sql[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1";

	return stmt_one(stmt_texts(sql, id, NULL, NULL), job_row, out);
}

int store_job_next(struct job *out)
{
	static const char sql[] =
	    "SELECT " JOB_COLUMNS " FROM jobs WHERE status = 'waiting' ORDER BY seq LIMIT 1";

	return stmt_one(stmt_get(sql), job_row, out);
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

int store_job_update(const struct job *j)
{
	static const char sql[] = "UPDATE jobs SET status = ?2, started_at = ?4, last_updated = ?5,"
				  " summary = ?6, plan = ?7 WHERE id = ?1";
	struct stmt *st = stmt_texts(sql, j->id, j->status, NULL);

	stmt_int(st, 4, j->started_at);
	stmt_int(st, 5, j->last_updated);
	stmt_text(st, 6, j->summary ? j->summary : "{}");
	stmt_text(st, 7, j->plan);
	return stmt_exec(st, true);
}

int store_jobs_interrupted(int64_t now, int *n)
{
	static const char sql[] =
	    "UPDATE jobs SET status = 'errored', last_updated = ?1 WHERE status = 'running'";
	struct stmt *st = stmt_get(sql);
	int rc;

	stmt_int(st, 1, now);
	rc = stmt_exec(st, false);
	*n = rc == STORE_OK ? (int)stmt_changed() : 0;
	return rc;
}

int store_job_latest(const char *action, int64_t *scheduled_at)
{
	static const char sql[] = "SELECT scheduled_at FROM jobs WHERE action = ?1 AND target = ''"
				  " ORDER BY seq DESC LIMIT 1";

	return stmt_one_int(stmt_texts(sql, action, NULL, NULL), scheduled_at);
}

int store_job_pending(const char *action, bool *pending)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM jobs WHERE action = ?1"
				  " AND status IN ('waiting', 'running'))";
	int64_t yes = 0;
	int rc = stmt_one_int(stmt_texts(sql, action, NULL, NULL), &yes);

	*pending = yes != 0;
	return rc == STORE_NOT_FOUND ? STORE_ERROR : rc;
}
