/*
 * Reads resource labels, and the swarm's nodes, from the engine's API socket
 * with libcurl. Label answers (found or not) are cached for CACHE_SECONDS in
 * a fixed table with striped locks, so lookups stay bounded in memory and
 * never serialise decisions; the node list is cached as long, whole.
 */
#include <curl/curl.h>
#include <stdatomic.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "engine_labels.h"

#define SLOTS 1024
#define STRIPES 16
#define CACHE_SECONDS 2
#define MAX_ANSWER (1 << 20)
/* A node is a few KiB in GET /nodes: room for DK_MAX_NODES of them. */
#define MAX_NODES_ANSWER (16 << 20)
#define LABEL_KEY "com.docker.ucp.access.label"
/* An engine may be upgraded under a running authd: its version is read again after this. */
#define VERSION_SECONDS 300

struct slot {
	int resource;
	char object[DK_OBJECT_LEN];
	char label[512];
	bool found;
	int64_t fetched_at;
};

struct engine_labels {
	char *socket_path;
	_Atomic int64_t version_due_at; /* when the engine's version is next read; 0: now */
	struct ref_slot nodes;		/* the last struct engine_nodes read */
	pthread_mutex_t locks[STRIPES];
	struct slot slots[SLOTS];
};

struct engine_labels *engine_labels_new(const char *socket_path)
{
	struct engine_labels *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	if (socket_path != NULL && (e->socket_path = strdup(socket_path)) == NULL) {
		free(e);
		return NULL;
	}
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&e->locks[i], NULL);
	ref_slot_init(&e->nodes);
	return e;
}

void engine_labels_free(struct engine_labels *e)
{
	if (e == NULL)
		return;
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&e->locks[i]);
	ref_slot_destroy(&e->nodes);
	free(e->socket_path);
	free(e);
}

/* Where the inspect answer of each resource type keeps its labels. */
static const char *inspect_path(enum dk_resource r, const char **labels_in)
{
	*labels_in = "Spec";
	switch (r) {
	case DK_CONTAINER:
		*labels_in = "Config";
		return "/containers/%s/json";
	case DK_IMAGE:
		*labels_in = "Config";
		return "/images/%s/json";
	case DK_NETWORK:
		*labels_in = NULL;
		return "/networks/%s";
	case DK_VOLUME:
		*labels_in = NULL;
		return "/volumes/%s";
	case DK_NODE:
		return "/nodes/%s";
	case DK_SERVICE:
		return "/services/%s";
	case DK_SECRET:
		return "/secrets/%s";
	case DK_CONFIG:
		return "/configs/%s";
	default:
		return NULL;
	}
}

struct buf {
	char *data;
	size_t len;
	size_t max;
};

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	size_t add = size * n;
	char *grown;

	if (b->len + add > b->max)
		return 0; /* aborts the transfer */
	grown = realloc(b->data, b->len + add + 1);
	if (grown == NULL)
		return 0;
	memcpy(grown + b->len, p, add);
	b->data = grown;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/* GETs an engine path into b (at most b->max bytes); the HTTP status, or 0 when none came. */
static long engine_call(const struct engine_labels *e, const char *path, struct buf *b)
{
	CURL *c = curl_easy_init();
	char url[2048];
	long status = 0;

	if (c == NULL)
		return 0;
	snprintf(url, sizeof(url), "http://engine%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, e->socket_path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) != CURLE_OK ||
	    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
		status = 0;
	curl_easy_cleanup(c);
	return status;
}

/* GETs an engine path; the parsed JSON answer, or NULL. */
static json_t *engine_get(const struct engine_labels *e, const char *path)
{
	struct buf b = {.max = MAX_ANSWER};
	json_t *j = NULL;

	if (engine_call(e, path, &b) == 200)
		j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
	free(b.data);
	return j;
}

/* Asks the engine; 0 and the label when the resource has one. */
static int fetch(const struct engine_labels *e, enum dk_resource r, const char *object, char *label,
		 size_t len)
{
	const char *labels_in, *fmt = inspect_path(r, &labels_in);
	CURL *esc = curl_easy_init();
	char *escaped = esc ? curl_easy_escape(esc, object, 0) : NULL;
	char path[DK_OBJECT_LEN * 3 + 64];
	json_t *answer = NULL, *labels, *value;
	int rc = -1;

	if (fmt != NULL && escaped != NULL) {
		snprintf(path, sizeof(path), fmt, escaped);
		answer = engine_get(e, path);
	}
	labels = labels_in ? json_object_get(json_object_get(answer, labels_in), "Labels")
			   : json_object_get(answer, "Labels");
	value = json_object_get(labels, LABEL_KEY);
	if (json_is_string(value)) {
		snprintf(label, len, "%s", json_string_value(value));
		rc = 0;
	}
	json_decref(answer);
	curl_free(escaped);
	curl_easy_cleanup(esc);
	return rc;
}

/*
 * Warns when the engine predates the fix for CVE-2024-41110: such an engine
 * can pass authd a request without its body, which authd then cannot see
 * to refuse. Read at start-up and, at most every VERSION_SECONDS, on lookups.
 */
void engine_labels_check_version(struct engine_labels *e)
{
	int64_t now = now_seconds(), due = atomic_load(&e->version_due_at);
	json_t *v;
	const char *version;

	/* one caller reads it; the others go on with their lookups */
	if (e->socket_path == NULL || now < due ||
	    !atomic_compare_exchange_strong(&e->version_due_at, &due, now + VERSION_SECONDS))
		return;
	v = engine_get(e, "/version");
	version = json_string_value(json_object_get(v, "Version"));
	if (version == NULL) {
		/*
		 * The engine may start after authd: asked again soon, but no more often than a
		 * label, so that an engine that does not answer slows no lookup twice.
		 */
		log_msg(LOG_INFO, "cannot read the engine's version from %s", e->socket_path);
		atomic_store(&e->version_due_at, now + CACHE_SECONDS);
	} else if (dk_engine_version_fixed(version) != 1)
		log_msg(LOG_WARN,
			"the engine at %s is version %.40s, which may predate the fix for "
			"CVE-2024-41110 (23.0.15, 25.0.6, 26.1.5, 27.1.1); unless its packager "
			"backported the fix, upgrade it: such an engine can hide a request's body "
			"from authd",
			e->socket_path, version);
	json_decref(v);
}

static unsigned slot_of(int r, const char *object)
{
	unsigned h = 2166136261u ^ (unsigned)r;

	for (; *object; object++)
		h = (h ^ (unsigned char)*object) * 16777619u;
	return h % SLOTS;
}

int engine_label(struct engine_labels *e, const struct dk_op *op, char *label, size_t len)
{
	unsigned i = slot_of(op->resource, op->object);
	pthread_mutex_t *lock = &e->locks[i % STRIPES];
	struct slot *s = &e->slots[i];
	int64_t now = now_seconds();
	int rc;

	if (e->socket_path == NULL || op->object[0] == '\0')
		return -1;
	pthread_mutex_lock(lock);
	if (s->resource == (int)op->resource && strcmp(s->object, op->object) == 0 &&
	    now - s->fetched_at < CACHE_SECONDS) {
		rc = s->found ? 0 : -1;
		snprintf(label, len, "%s", s->label);
		pthread_mutex_unlock(lock);
		return rc;
	}
	pthread_mutex_unlock(lock);
	engine_labels_check_version(e);
	/* asked without the lock held: the engine may take its time */
	rc = fetch(e, op->resource, op->object, label, len);
	pthread_mutex_lock(lock);
	s->resource = (int)op->resource;
	snprintf(s->object, sizeof(s->object), "%s", op->object);
	snprintf(s->label, sizeof(s->label), "%s", rc == 0 ? label : "");
	s->found = rc == 0;
	s->fetched_at = now;
	pthread_mutex_unlock(lock);
	return rc;
}

/* ---- the swarm's nodes ---- */

static void nodes_free(struct ref *r)
{
	struct engine_nodes *n = (struct engine_nodes *)r;

	dk_nodes_free(n->nodes);
	free(n);
}

/* Asks the engine for its nodes; a new struct engine_nodes, NULL when out of memory. */
static struct engine_nodes *read_nodes(const struct engine_labels *e)
{
	struct engine_nodes *n = calloc(1, sizeof(*n));
	struct buf b = {.max = MAX_NODES_ANSWER};
	struct refusal why;
	long status;

	if (n == NULL)
		return NULL;
	ref_init(&n->ref, nodes_free);
	n->fetched_at = now_seconds();
	if (e->socket_path == NULL)
		return n; /* NODES_NONE: no engine to ask */
	status = engine_call(e, "/nodes", &b);
	if (status == 200 && (n->nodes = dk_nodes_read(b.data, b.len, &why)) != NULL) {
		n->state = NODES_READ;
	} else if (status == 503) {
		/* not a swarm manager: it places no service, and refuses to make one */
		n->state = NODES_NONE;
	} else {
		n->state = NODES_UNREADABLE;
		if (status == 200)
			snprintf(n->why, sizeof(n->why), "%s", why.message);
		else if (status != 0)
			snprintf(n->why, sizeof(n->why), "it answered HTTP %ld", status);
		else
			snprintf(n->why, sizeof(n->why), "it did not answer");
	}
	free(b.data);
	return n;
}

struct engine_nodes *engine_nodes_get(struct engine_labels *e)
{
	struct engine_nodes *n = (struct engine_nodes *)ref_slot_take(&e->nodes);

	if (n != NULL && now_seconds() - n->fetched_at < CACHE_SECONDS)
		return n;
	engine_nodes_put(n);
	/* asked without a lock held; two decisions at once may both ask, and the last one stays */
	if ((n = read_nodes(e)) == NULL)
		return NULL;
	ref_get(&n->ref);
	ref_slot_publish(&e->nodes, &n->ref);
	return n;
}

void engine_nodes_put(struct engine_nodes *n)
{
	if (n != NULL)
		ref_put(&n->ref);
}
