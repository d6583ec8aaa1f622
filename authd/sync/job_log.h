/*
 * A sync job's log, kept in the store so that every replica on it reads it:
 * lines gather in memory and go to the store in chunks, by a thread of the
 * log's own (so never inside the job's transaction), at least every second;
 * past a cap the rest is left out, but for the job's last line.
 */
#ifndef AUTHD_JOB_LOG_H
#define AUTHD_JOB_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* What a job's log keeps of its lines (README, "Sync jobs") */
#define JOB_LOG_MAX (32u << 20)

struct job_log;

/* The log of the job `id`, keeping at most `cap` bytes; NULL when out of memory. */
struct job_log *job_log_open(const char *id, size_t cap);
/* A line, stamped with the time; `last` lines are kept past the cap. NULL l does nothing. */
void job_log_line(struct job_log *l, const char *text, bool last);
/* Writes what is pending now, from a thread that has no transaction open; 0, or -1 when the
 * store refused it (the lines stay pending). */
int job_log_flush(struct job_log *l);
/* Writes the rest, stops the log's thread and frees it. */
void job_log_close(struct job_log *l);
/*
 * Moves the logs an older authd kept in <data_dir>/jobs/<id>.log into the
 * store, once: each file whose job is in the store is added (cut at the cap)
 * and removed, then the directory if it is empty.
 */
void job_log_import(const char *data_dir);

#endif
