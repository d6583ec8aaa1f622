/*
 * The audit log as files to read: the set of them audit.c opens for a
 * reader, and audit_read.c's reader, which goes through them newest first.
 */
#ifndef AUTHD_AUDIT_H
#define AUTHD_AUDIT_H

#include "authd.h"

/* The most rotated files kept (log.auditKeep). */
#define AUDIT_KEEP_MAX 100
/* Lines longer than this are not records authd wrote: the reader skips them. */
#define AUDIT_LINE_MAX (2 * MAX_BODY)

struct audit_file {
	int fd;
	int64_t size; /* when opened: what a reader may read, all of it whole lines */
};

/* The log and its rotated predecessors as they were at one instant, newest first. */
struct audit_files {
	struct audit_file *file;
	int n;
};

/* In audit.c: opens them under the writer's lock, after a flush; 0, or -1 (memory). */
int audit_files_open(struct audit *a, struct audit_files *out);

/* ---- audit_read.c ---- */

void audit_files_close(struct audit_files *f);

/* Which records a read returns; every filter is optional. */
struct audit_query {
	uint64_t start;	     /* the newest sequence number wanted; 0: the newest there is */
	int64_t since;	     /* seconds: records at or after; INT64_MIN for all */
	int64_t until;	     /* records at or before; INT64_MAX for all */
	const char *account; /* the actor, or an account, user, org or username acted on */
	const char *type;    /* an event name, or a prefix of them ending in "." ("account.") */
	const char *replica; /* the replica that wrote it; lines that name none match no replica */
};

/*
 * Gets each record that matches, newest first, with its sequence number and
 * the length of its line; takes ownership of the record. Nonzero stops the read.
 */
typedef int (*audit_record_fn)(json_t *record, uint64_t seq, size_t len, void *ctx);

/*
 * Reads the records q asks for from the files, calling fn for each until it
 * says stop or the records run out; memory stays a few blocks whatever the
 * files' size. 0, or -1 when the read could not start (memory).
 */
int audit_read(const struct audit_files *files, const struct audit_query *q, audit_record_fn fn,
	       void *ctx);

/* The sequence number of the newest record in the files; 0 when they hold none. */
uint64_t audit_last_seq(const struct audit_files *files);

#endif
