/*
 * A sync job's log in the store (job_log.h). The job's thread only appends
 * to memory; the log's thread writes the pending lines as one chunk every
 * second, or sooner once a chunk's worth is pending. A replica that dies
 * mid-job leaves what was written so far, readable by the others.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authd.h"
#include "job_log.h"
#include "store/store.h"

#define FLUSH_SECONDS 1
#define CHUNK_BYTES (64u << 10) /* pending this much, the thread writes at once */

struct job_log {
	char id[ID_LEN];
	size_t cap;
	pthread_mutex_t writing; /* one write at a time: the thread's, or a flush */
	pthread_mutex_t lock;	 /* guards the fields below */
	pthread_cond_t wake;
	char *pending; /* lines not yet written */
	size_t len, size;
	size_t kept;	/* bytes taken in, written or pending: at most cap, and the last lines */
	size_t dropped; /* lines left out past the cap */
	bool truncated, closing, threaded;
	pthread_t thread;
};

/* Room for n more pending bytes and their NUL; false when out of memory. */
static bool reserve(struct job_log *l, size_t n)
{
	char *grown;
	size_t size;

	if (l->len + n + 1 <= l->size)
		return true;
	size = (l->len + n + 1) * 2;
	grown = realloc(l->pending, size);
	if (grown == NULL)
		return false;
	l->pending = grown;
	l->size = size;
	return true;
}

/* Adds "<time> <text>\n" to the pending lines, under l->lock. */
static void append(struct job_log *l, const char *when, const char *text)
{
	size_t n = strlen(when) + strlen(text) + 2;

	if (!reserve(l, n))
		return;
	snprintf(l->pending + l->len, n + 1, "%s %s\n", when, text);
	l->len += n;
	l->kept += n;
	if (l->len >= CHUNK_BYTES)
		pthread_cond_signal(&l->wake);
}

void job_log_line(struct job_log *l, const char *text, bool last)
{
	char when[32], note[160];

	if (l == NULL)
		return;
	format_time(now_seconds(), when, sizeof(when));
	pthread_mutex_lock(&l->lock);
	if (!last && l->kept + strlen(when) + strlen(text) + 2 > l->cap) {
		if (!l->truncated) {
			snprintf(note, sizeof(note),
				 "log truncated: a job's log keeps %zu MiB; the lines from here "
				 "on are left out, but for the job's last",
				 l->cap >> 20);
			append(l, when, note);
		}
		l->truncated = true;
		l->dropped++;
		pthread_mutex_unlock(&l->lock);
		return;
	}
	if (last && l->dropped > 0) {
		snprintf(note, sizeof(note), "(%zu lines left out)", l->dropped);
		append(l, when, note);
		l->dropped = 0;
	}
	append(l, when, text);
	pthread_mutex_unlock(&l->lock);
}

/* Puts back lines a failed write took, before those added since. */
static void restore(struct job_log *l, char *taken, size_t n)
{
	pthread_mutex_lock(&l->lock);
	if (reserve(l, n)) {
		memmove(l->pending + n, l->pending, l->len);
		memcpy(l->pending, taken, n);
		l->len += n;
		l->pending[l->len] = '\0';
	}
	pthread_mutex_unlock(&l->lock);
}

int job_log_flush(struct job_log *l)
{
	char *taken;
	size_t n;
	int rc = STORE_OK;

	if (l == NULL)
		return 0;
	pthread_mutex_lock(&l->writing);
	pthread_mutex_lock(&l->lock);
	taken = l->pending;
	n = l->len;
	l->pending = NULL;
	l->len = l->size = 0;
	pthread_mutex_unlock(&l->lock);
	if (n > 0)
		rc = store_job_log_append(l->id, taken, n);
	if (rc != STORE_OK)
		restore(l, taken, n);
	free(taken);
	pthread_mutex_unlock(&l->writing);
	return rc == STORE_OK ? 0 : -1;
}

/* Writes the pending lines every FLUSH_SECONDS, or when a chunk's worth waits. */
static void *writer(void *arg)
{
	struct job_log *l = arg;

	pthread_mutex_lock(&l->lock);
	while (!l->closing) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += FLUSH_SECONDS;
		if (l->len < CHUNK_BYTES)
			pthread_cond_timedwait(&l->wake, &l->lock, &until);
		if (l->closing || l->len == 0)
			continue;
		pthread_mutex_unlock(&l->lock);
		job_log_flush(l);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	/* this thread's store connection ends with it */
	return NULL;
}

struct job_log *job_log_open(const char *id, size_t cap)
{
	struct job_log *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->cap = cap;
	pthread_mutex_init(&l->writing, NULL);
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->wake, NULL);
	/* without its thread the log is written at the job's flushes (its apply, its end) */
	l->threaded = pthread_create(&l->thread, NULL, writer, l) == 0;
	if (!l->threaded)
		log_msg(LOG_WARN, "job %s: its log is written only at its apply and its end", id);
	return l;
}

void job_log_close(struct job_log *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	l->closing = true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
	if (l->threaded)
		pthread_join(l->thread, NULL);
	if (job_log_flush(l) != 0)
		log_msg(LOG_WARN, "job %s: the last %zu bytes of its log could not be written",
			l->id, l->len);
	free(l->pending);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->writing);
	free(l);
}

/* ---- the files of older versions ---- */

/* The first JOB_LOG_MAX bytes of a log file, and a line if it had more; malloc'd, or NULL. */
static char *read_old_log(const char *path, size_t *len)
{
	static const char cut[] = "log truncated: the rest of this log was left out when it "
				  "moved into the store\n";
	FILE *f = fopen(path, "rb");
	char *text = f != NULL ? malloc(JOB_LOG_MAX + sizeof(cut)) : NULL;

	*len = 0;
	if (text != NULL) {
		*len = fread(text, 1, JOB_LOG_MAX, f);
		if (*len == JOB_LOG_MAX && fgetc(f) != EOF) {
			memcpy(text + *len, cut, sizeof(cut) - 1);
			*len += sizeof(cut) - 1;
		}
	}
	if (f != NULL)
		fclose(f);
	return text;
}

/* Moves one file's log into the store: 1 when moved, 0 when left as it is. */
static int import_one(const char *dir, const char *name)
{
	size_t n = strlen(name), len;
	char id[ID_LEN], path[4200];
	struct job job;
	bool there = false;
	char *text;
	int rc;

	if (n <= 4 || n - 4 >= sizeof(id) || strcmp(name + n - 4, ".log") != 0)
		return 0;
	snprintf(id, sizeof(id), "%.*s", (int)(n - 4), name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (store_job_get(id, &job) != STORE_OK)
		return 0;
	job_free_texts(&job);
	/* a start that stopped between the write and the removal wrote it already */
	if (store_job_log_exists(id, &there) != STORE_OK)
		return 0;
	if (!there) {
		text = read_old_log(path, &len);
		rc = text == NULL ? STORE_ERROR
		     : len > 0	  ? store_job_log_append(id, text, len)
				  : STORE_OK;
		free(text);
		if (rc != STORE_OK)
			return 0;
	}
	return unlink(path) == 0;
}

void job_log_import(const char *data_dir)
{
	char dir[4096];
	struct dirent *e;
	int moved = 0, left = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/jobs", data_dir);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		int one;

		if (e->d_name[0] == '.')
			continue;
		one = import_one(dir, e->d_name);
		moved += one;
		left += !one;
	}
	closedir(d);
	if (moved > 0)
		log_msg(LOG_INFO, "moved %d sync job log(s) from %s into the store", moved, dir);
	if (left > 0)
		log_msg(LOG_WARN,
			"%s: %d file(s) left there, of no job in the store or not readable; "
			"job logs are in the store now",
			dir, left);
	else if (rmdir(dir) != 0 && errno != ENOENT)
		log_msg(LOG_WARN, "%s: %s", dir, strerror(errno));
}
