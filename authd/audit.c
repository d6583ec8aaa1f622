/*
 * The audit log's writer: one JSON object per line, each opening with its
 * sequence number, time and event, and its rotation by size.
 *
 * Logins and admin changes are flushed per event, so a crash loses at most
 * the line being written. Authorization decisions come by the thousand per
 * second: they are buffered and flushed every second (audit_flush) and at
 * close, so a crash may lose the last second of them. Callers never pass
 * secrets; the fields are names, ids and outcomes.
 *
 * The sequence number and the time are taken under the lock that orders the
 * lines, so both grow line after line through the file and its rotated
 * predecessors: that is what lets audit_read.c find a page's first record
 * by bisecting instead of reading everything after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"

#define AUDIT_BUFFER (256 << 10)

struct audit {
	FILE *f;
	char *path;
	int64_t max_bytes; /* rotate past this size; 0: never (or not a regular file) */
	int keep;	   /* rotated files kept: path.1 … path.keep */
	int64_t size;	   /* of the current file, buffered lines included */
	uint64_t seq;	   /* of the last line written */
	int64_t second;	   /* the time in `when`, formatted once per second */
	char when[32];
	char *replica; /* ,"replica":"NAME" as JSON, once for every line; "" before it is set */
	pthread_mutex_t lock;
};

/* A file cut short by a crash ends mid-line: the next line must not be glued to it. */
static void end_last_line(FILE *f, const char *path)
{
	int fd = fileno(f);
	struct stat st;
	char last;

	if (fstat(fd, &st) != 0 || st.st_size == 0 || pread(fd, &last, 1, st.st_size - 1) != 1 ||
	    last == '\n')
		return;
	if (fputc('\n', f) == EOF || fflush(f) != 0)
		log_msg(LOG_ERROR, "audit: cannot write to %s: %s", path, strerror(errno));
}

/* Opens path for appending; the file's size goes to *size, and whether it may be rotated. */
static FILE *open_log(const char *path, int64_t *size, bool *regular, struct failure *err)
{
	/* read as well: end_last_line looks at the last byte */
	FILE *f = fopen(path, "a+e");
	struct stat st;

	if (f == NULL) {
		failure_set(err, "audit log %s: %s", path, strerror(errno));
		return NULL;
	}
	/*
	 * Decisions are written here for a second before a flush: with stdio's
	 * 4 KiB buffer, every dozenth line wrote(2) under the writer's lock, and
	 * the plugin socket's threads queued behind it.
	 */
	setvbuf(f, NULL, _IOFBF, AUDIT_BUFFER);
	end_last_line(f, path);
	*size = 0;
	*regular = false;
	if (fstat(fileno(f), &st) == 0) {
		*size = st.st_size;
		/* renaming /dev/null or a pipe away would be a disaster, not a rotation */
		*regular = S_ISREG(st.st_mode);
	}
	return f;
}

struct audit *audit_open(const char *path, int64_t max_bytes, int keep, struct failure *err)
{
	struct audit *a = calloc(1, sizeof(*a));
	struct audit_files files;
	bool regular;

	if (a == NULL || (a->path = strdup(path)) == NULL) {
		free(a);
		failure_set(err, "out of memory");
		return NULL;
	}
	a->f = open_log(path, &a->size, &regular, err);
	if (a->f == NULL) {
		free(a->path);
		free(a);
		return NULL;
	}
	a->max_bytes = regular ? max_bytes : 0;
	a->keep = keep < 1 ? 1 : keep > AUDIT_KEEP_MAX ? AUDIT_KEEP_MAX : keep;
	a->second = -1;
	a->replica = strdup("");
	pthread_mutex_init(&a->lock, NULL);
	/* numbers go on from the newest record, whichever file it is in */
	if (a->replica == NULL || audit_files_open(a, &files) != 0) {
		failure_set(err, "out of memory");
		audit_close(a);
		return NULL;
	}
	a->seq = audit_last_seq(&files);
	audit_files_close(&files);
	return a;
}

void audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	fclose(a->f);
	pthread_mutex_destroy(&a->lock);
	free(a->path);
	free(a->replica);
	free(a);
}

int audit_set_replica(struct audit *a, const char *replica)
{
	json_t *name = json_string(replica);
	char *text = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
	char *head = text ? malloc(strlen(text) + sizeof(",\"replica\":")) : NULL;

	json_decref(name);
	if (head == NULL) {
		free(text);
		return -1;
	}
	/* escaped once here: a line costs a copy of it, not an encoding */
	sprintf(head, ",\"replica\":%s", text);
	free(text);
	free(a->replica);
	a->replica = head;
	return 0;
}

/* "<path>.<i>", or path itself for 0. */
static void numbered(const struct audit *a, int i, char *buf, size_t len)
{
	if (i == 0)
		snprintf(buf, len, "%s", a->path);
	else
		snprintf(buf, len, "%s.%d", a->path, i);
}

/*
 * Under the lock: path becomes path.1, path.1 path.2 and so on, the oldest
 * is removed, and a new path is opened. A rename that fails stops there and
 * the log goes on in the file it has; the next line tries again once that
 * has grown by max_bytes more.
 */
static void rotate(struct audit *a)
{
	char from[4200], to[4200];
	int64_t size;
	bool regular;
	struct failure err;
	FILE *f;

	if (fflush(a->f) != 0)
		log_msg(LOG_ERROR, "audit: cannot write: %s", strerror(errno));
	a->size = 0;
	numbered(a, a->keep, to, sizeof(to));
	if (unlink(to) != 0 && errno != ENOENT)
		log_msg(LOG_WARN, "audit: cannot remove %s: %s", to, strerror(errno));
	for (int i = a->keep - 1; i >= 0; i--) {
		numbered(a, i, from, sizeof(from));
		numbered(a, i + 1, to, sizeof(to));
		if (rename(from, to) == 0 || errno == ENOENT)
			continue;
		/* going on would overwrite `to`: a gap in the numbers loses nothing */
		log_msg(LOG_ERROR, "audit: cannot rename %s to %s: %s", from, to, strerror(errno));
		return;
	}
	f = open_log(a->path, &size, &regular, &err);
	if (f == NULL) {
		/* the lines go on into the renamed file rather than nowhere */
		log_msg(LOG_ERROR, "audit: %s", err.message);
		return;
	}
	fclose(a->f);
	a->f = f;
	a->size = size;
}

/* Under the lock: the line's head, fields and newline; the bytes written, or -1. */
static int put_line(struct audit *a, const char *event, const char *rest)
{
	int64_t now = now_seconds();

	if (now != a->second) {
		format_time(now, a->when, sizeof(a->when));
		a->second = now;
	}
	/* rest is "{}" or "{...}": its fields follow the head */
	return fprintf(a->f, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"event\":\"%s\"%s%s%s\n",
		       a->seq + 1, a->when, event, a->replica, rest[1] == '}' ? "" : ",", rest + 1);
}

static void write_line(struct audit *a, const char *event, const char *actor, const char *client,
		       json_t *fields, bool flush)
{
	char *rest;
	int n;

	if (fields == NULL)
		fields = json_object();
	if (a == NULL || fields == NULL) {
		json_decref(fields);
		return;
	}
	/* the head's keys are written once, by put_line */
	json_object_del(fields, "seq");
	json_object_del(fields, "time");
	json_object_del(fields, "event");
	json_object_del(fields, "replica");
	if (actor != NULL)
		json_object_set_new(fields, "actor", json_string(actor));
	if (client != NULL)
		json_object_set_new(fields, "client", json_string(client));
	rest = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(fields);
	if (rest == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	n = put_line(a, event, rest);
	if (n >= 0) {
		/* the line is in the stream: its number is taken even if a flush fails */
		a->seq++;
		a->size += n;
	}
	if (n < 0 || (flush && fflush(a->f) != 0))
		log_msg(LOG_ERROR, "audit: cannot write: %s", strerror(errno));
	else if (a->max_bytes > 0 && a->size >= a->max_bytes)
		rotate(a);
	pthread_mutex_unlock(&a->lock);
	free(rest);
}

void audit_log(struct audit *a, const char *event, const char *actor, const char *client,
	       json_t *fields)
{
	write_line(a, event, actor, client, fields, true);
}

void audit_decision(struct audit *a, const char *actor, json_t *fields)
{
	write_line(a, "authz", actor, NULL, fields, false);
}

void audit_flush(struct audit *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	if (fflush(a->f) != 0)
		log_msg(LOG_ERROR, "audit: cannot write: %s", strerror(errno));
	pthread_mutex_unlock(&a->lock);
}

void audit_reopen(struct audit *a)
{
	struct failure err;
	int64_t size;
	bool regular;
	FILE *f;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	/* what is buffered belongs to the file it was written for, wherever it was moved */
	if (fflush(a->f) != 0)
		log_msg(LOG_ERROR, "audit: cannot write: %s", strerror(errno));
	f = open_log(a->path, &size, &regular, &err);
	if (f == NULL) {
		log_msg(LOG_ERROR, "audit: cannot reopen: %s; writing on to the old file",
			err.message);
	} else {
		fclose(a->f);
		a->f = f;
		a->size = size;
	}
	pthread_mutex_unlock(&a->lock);
	if (f != NULL)
		log_msg(LOG_INFO, "audit: reopened %s", a->path);
}

/*
 * Opens the log and its rotated predecessors under the writer's lock, so
 * that no rotation falls between two of them, and after a flush, so that
 * every line written so far is in them. A number missing in the middle (a
 * rotation cut short) is passed over.
 */
int audit_files_open(struct audit *a, struct audit_files *out)
{
	char path[4200];

	memset(out, 0, sizeof(*out));
	out->file = calloc((size_t)a->keep + 1, sizeof(*out->file));
	if (out->file == NULL)
		return -1;
	pthread_mutex_lock(&a->lock);
	if (fflush(a->f) != 0)
		log_msg(LOG_ERROR, "audit: cannot write: %s", strerror(errno));
	for (int i = 0; i <= a->keep; i++) {
		struct stat st;
		int fd;

		numbered(a, i, path, sizeof(path));
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			continue;
		}
		out->file[out->n].fd = fd;
		out->file[out->n].size = st.st_size;
		out->n++;
	}
	pthread_mutex_unlock(&a->lock);
	return 0;
}
