/*
 * The access label of resources that already exist, and the swarm's nodes,
 * read from the engine's own API socket (SPEC §8.2) and kept for a moment,
 * since one `docker` command often touches the same resource several times.
 */
#ifndef AUTHD_ENGINE_LABELS_H
#define AUTHD_ENGINE_LABELS_H

#include <stdint.h>

#include "dockerapi.h"
#include "refcount.h"

struct engine_labels;

/* NULL socket_path: no engine to ask; every lookup answers "unknown". */
struct engine_labels *engine_labels_new(const char *socket_path);
void engine_labels_free(struct engine_labels *e);
/* Logs a warning when the engine's version predates the fix for CVE-2024-41110. */
void engine_labels_check_version(struct engine_labels *e);
/*
 * The com.docker.ucp.access.label of the op's target into `label`; 0 when
 * found, -1 when the engine does not know the resource, has no label for
 * it, or cannot be asked.
 */
int engine_label(struct engine_labels *e, const struct dk_op *op, char *label, size_t len);

enum nodes_state {
	NODES_NONE,	  /* no engine to ask, or it is not a swarm manager: no nodes */
	NODES_READ,	  /* nodes holds them */
	NODES_UNREADABLE, /* the engine was asked and gave no list; why says what happened */
};

/* What the engine said of its nodes, immutable; shared, so held and put back. */
struct engine_nodes {
	struct ref ref; /* first: refcount.h */
	enum nodes_state state;
	struct dk_nodes *nodes;
	int64_t fetched_at;
	char why[256];
};

/* The swarm's nodes as read at most a few seconds ago, held for the caller; NULL when out of
 * memory. */
struct engine_nodes *engine_nodes_get(struct engine_labels *e);
void engine_nodes_put(struct engine_nodes *n);

#endif
