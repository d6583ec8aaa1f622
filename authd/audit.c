/*
 * The audit log: one JSON object per line. Logins and admin changes are
 * flushed per event, so a crash loses at most the line being written.
 * Authorization decisions come by the thousand per second: they are
 * buffered and flushed every second (audit_flush) and at close, so a crash
 * may lose the last second of them. Callers never pass secrets; the fields
 * are names, ids and outcomes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"

struct audit {
	FILE *f;
	pthread_mutex_t lock;
};

struct audit *audit_open(const char *path, struct failure *err)
{
	struct audit *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		failure_set(err, "out of memory");
		return NULL;
	}
	a->f = fopen(path, "ae");
	if (a->f == NULL) {
		failure_set(err, "audit log %s: %s", path, strerror(errno));
		free(a);
		return NULL;
	}
	pthread_mutex_init(&a->lock, NULL);
	return a;
}

void audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	fclose(a->f);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static void write_line(struct audit *a, const char *event, const char *actor, const char *client,
		       json_t *fields, bool flush)
{
	char when[32];
	char *line;

	if (fields == NULL)
		fields = json_object();
	if (a == NULL || fields == NULL) {
		json_decref(fields);
		return;
	}
	format_time(now_seconds(), when, sizeof(when));
	json_object_set_new(fields, "time", json_string(when));
	json_object_set_new(fields, "event", json_string(event));
	if (actor != NULL)
		json_object_set_new(fields, "actor", json_string(actor));
	if (client != NULL)
		json_object_set_new(fields, "client", json_string(client));
	line = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(fields);
	if (line == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	if (fprintf(a->f, "%s\n", line) < 0 || (flush && fflush(a->f) != 0))
		log_msg(LOG_ERROR, "audit: cannot write: %s", strerror(errno));
	pthread_mutex_unlock(&a->lock);
	free(line);
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
