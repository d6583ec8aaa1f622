/*
 * The Docker Engine API as authorization sees it (SPEC §8.2): a request's
 * URI made canonical, and the table that maps method and path to a resource
 * type and an operation. Pure: no I/O and no state.
 */
#ifndef AUTHD_DOCKERAPI_H
#define AUTHD_DOCKERAPI_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

enum dk_resource {
	DK_CONTAINER,
	DK_IMAGE,
	DK_NETWORK,
	DK_VOLUME,
	DK_NODE,
	DK_SERVICE,
	DK_SECRET,
	DK_CONFIG,
	DK_PLUGIN,
	DK_SWARM,
	DK_SYSTEM,
	DK_N_RESOURCES,
};

/* Whether the request makes a new resource, names an existing one, or neither (lists, system). */
enum dk_target {
	DK_TARGET_NONE,
	DK_TARGET_NEW,
	DK_TARGET_EXISTING,
};

#define DK_OBJECT_LEN 512

struct dk_op {
	enum dk_resource resource;
	const char *operation; /* MKE's name, e.g. "Container Create"; static storage */
	enum dk_target target;
	char object[DK_OBJECT_LEN]; /* the id or name in the path for DK_TARGET_EXISTING, else "" */
	bool inspect_body;	    /* the decision depends on the JSON body, which must be shown */
	const char *pattern; /* the route that matched, e.g. "/containers/{id}/json"; static */
};

/* Container Create (and Service Create/Update) sub-options a body may need. */
enum dk_suboption {
	DK_PRIVILEGED = 1 << 0,
	DK_HOST_BIND_MOUNTS = 1 << 1,
	DK_CAPABILITIES = 1 << 2,
	DK_HOST_NETWORK = 1 << 3,
	DK_PID_MODE = 1 << 4,
	DK_IPC_MODE = 1 << 5,
	DK_USERNS_MODE = 1 << 6,
	DK_DEVICES = 1 << 7,
};
#define DK_N_SUBOPTIONS 8

/* "Container", "Image", ... as in role operation maps. */
const char *dk_resource_name(enum dk_resource r);
/* "Privileged", "Host Bind Mounts", ... for one bit; NULL for anything else. */
const char *dk_suboption_name(unsigned bit);

/*
 * Makes RequestUri canonical: strips scheme and host (absolute form), splits
 * off the query string, removes a /vX.Y version prefix, percent-decodes, and
 * refuses "." and ".." segments, empty segments, NUL bytes, bad escapes and
 * anything longer than the buffers. 0 on success; -1 with why filled (when not NULL).
 */
int dk_normalize(const char *uri, char *path, size_t pathlen, char *query, size_t querylen,
		 struct refusal *why);

/* The operation of a canonical path; -1 when no route matches (deny for non-admins). */
int dk_lookup(const char *method, const char *path, struct dk_op *op);
/* How many routes the table has (tests check that each has an example). */
size_t dk_route_count(void);
/*
 * Calls fn once for each operation a role may name: those of the routes and
 * those no route has (Node Schedule, Secret Use, Config Use).
 */
void dk_each_operation(void (*fn)(enum dk_resource res, const char *operation, void *ctx),
		       void *ctx);

/*
 * What a service spec uses besides its own collection (SPEC §5): the secrets
 * and configs it names, each of which needs Secret Use or Config Use in its
 * own collection, and the placement constraints that say on which nodes it
 * may run, which need Node Schedule there.
 */
#define DK_MAX_REFS 64	      /* secrets a spec may name, and as many configs */
#define DK_MAX_CONSTRAINTS 32 /* placement constraints a spec may have */
#define DK_REF_LEN 128	      /* an ID or a name (the engine allows names of 64) */
#define DK_CONSTRAINT_LEN 512

struct dk_ref {
	enum dk_resource resource; /* DK_SECRET or DK_CONFIG */
	char object[DK_REF_LEN];   /* what the engine finds it by: its ID, else its name */
	char name[DK_REF_LEN];	   /* what a message calls it: its name, else its ID */
};

struct dk_uses {
	size_t nrefs;
	struct dk_ref refs[2 * DK_MAX_REFS];
	size_t nconstraints;
	char constraints[DK_MAX_CONSTRAINTS][DK_CONSTRAINT_LEN];
};

/*
 * For ops with inspect_body: which sub-options the body needs (bits of enum
 * dk_suboption) and the com.docker.ucp.access.label it asks for ("" when
 * none). Such a body is required: -1 with why filled when it is missing,
 * over 1 MiB, not JSON, not the JSON the route takes (an object; a list for
 * plugin privileges and settings), or has a value of the wrong type. A
 * plugin create's body is an archive the engine never shows, so it is
 * always refused. Ops without inspect_body give 0 and nothing.
 *
 * uses, unless NULL, gets what a service create or update's spec uses
 * (TaskTemplate.ContainerSpec.Secrets and .Configs, TaskTemplate.Placement.
 * Constraints), and is emptied for every other body and on a refusal. A
 * spec naming more than DK_MAX_REFS secrets or configs, or having more than
 * DK_MAX_CONSTRAINTS constraints, is refused.
 */
int dk_inspect_body(const struct dk_op *op, const char *body, size_t len, unsigned *needs,
		    char *label, size_t labellen, struct dk_uses *uses, struct refusal *why);

/*
 * The swarm's nodes as the engine lists them (GET /nodes), read for Node
 * Schedule; immutable once read, so threads may share one. At most
 * DK_MAX_NODES: a larger answer is refused (and the decision denied).
 */
#define DK_MAX_NODES 5000
struct dk_nodes;

/* NULL with why filled when json is not a list of node objects, or too long a one. */
struct dk_nodes *dk_nodes_read(const char *json, size_t len, struct refusal *why);
void dk_nodes_free(struct dk_nodes *n);
size_t dk_nodes_count(const struct dk_nodes *n);
/* Whether any node has a com.docker.ucp.access.label: node collections are in use. */
bool dk_nodes_labelled(const struct dk_nodes *n);
/* Node i's hostname, or its ID when it has none; valid while n is. */
const char *dk_node_name(const struct dk_nodes *n, size_t i);
/* Node i's com.docker.ucp.access.label; NULL when it has none. */
const char *dk_node_label(const struct dk_nodes *n, size_t i);
/*
 * Whether the spec's placement constraints may let a task run on node i, as
 * swarmkit evaluates them; true whenever authd cannot be sure it may not.
 */
bool dk_node_may_run(const struct dk_nodes *n, size_t i, const struct dk_uses *uses);

/*
 * Sub-options a request's query string needs: an image build's
 * "networkmode" of host or container:<id> needs Host Networking Mode. 0 for
 * every other op; -1 with why filled for a query that cannot be read alike
 * by authd and the engine.
 */
int dk_inspect_query(const struct dk_op *op, const char *query, unsigned *needs,
		     struct refusal *why);

/*
 * Whether an engine version ("27.1.1", "26.1.5-ce", ...) has the fix for
 * CVE-2024-41110, under which an engine passed authorization plugins a
 * request without its body: 1 when it has, 0 when it predates the fix
 * (upstream 23.0.15, 25.0.6, 26.1.5, 27.1.1), -1 when it cannot be read.
 * A distribution may have backported the fix into an older version.
 */
int dk_engine_version_fixed(const char *version);

#endif
