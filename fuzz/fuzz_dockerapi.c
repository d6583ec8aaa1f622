/*
 * Fuzz target for the Docker Engine API as authorization reads it
 * (dockerapi/): RequestUri normalisation, the route table, the inspection
 * of create bodies, and a service's placement on the nodes an engine lists.
 * Input: "METHOD\nURI\nBODY", where BODY may be followed by a NUL byte and
 * an engine's answer to GET /nodes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerapi.h"

/* A NUL-terminated copy of p[0..n), cut where the next '\n' is; *rest is what follows it. */
static char *take_line(const uint8_t **p, size_t *n)
{
	const uint8_t *nl = memchr(*p, '\n', *n);
	size_t len = nl ? (size_t)(nl - *p) : *n;
	char *s = malloc(len + 1);

	if (s == NULL)
		abort();
	memcpy(s, *p, len);
	s[len] = '\0';
	*p += nl ? len + 1 : len;
	*n -= nl ? len + 1 : len;
	return s;
}

/* What dk_lookup relies on: a path dk_normalize accepted is canonical. */
static void check_canonical(const char *path, size_t room)
{
	size_t len = strlen(path);

	if (len >= room || path[0] != '/')
		abort();
	if (len > 1 && path[len - 1] == '/')
		abort();
	for (const char *s = path; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
	if (len > 1 && (strstr(path, "//") != NULL || strstr(path, "/./") != NULL ||
			strstr(path, "/../") != NULL))
		abort();
	if ((len >= 2 && strcmp(path + len - 2, "/.") == 0) ||
	    (len >= 3 && strcmp(path + len - 3, "/..") == 0))
		abort();
}

/* The route's object is the path's text, and only routes naming one have it. */
static void check_op(const struct dk_op *op, const char *path)
{
	size_t olen = strlen(op->object);

	if (op->operation == NULL || op->pattern == NULL || dk_resource_name(op->resource) == NULL)
		abort();
	if (olen >= DK_OBJECT_LEN)
		abort();
	if ((op->target == DK_TARGET_EXISTING) != (olen > 0))
		abort();
	if (olen > 0 && strstr(path, op->object) == NULL)
		abort();
}

/* A service spec's uses, the only body that has any, each whole and terminated. */
static void check_uses(const struct dk_op *op, const struct dk_uses *u)
{
	bool service = op->resource == DK_SERVICE && op->inspect_body;

	if (u->nrefs > 2 * DK_MAX_REFS || u->nconstraints > DK_MAX_CONSTRAINTS)
		abort();
	if (!service && (u->nrefs != 0 || u->nconstraints != 0))
		abort();
	for (size_t i = 0; i < u->nrefs; i++) {
		const struct dk_ref *r = &u->refs[i];

		if (r->resource != DK_SECRET && r->resource != DK_CONFIG)
			abort();
		if (memchr(r->object, '\0', sizeof(r->object)) == NULL || r->object[0] == '\0' ||
		    memchr(r->name, '\0', sizeof(r->name)) == NULL || r->name[0] == '\0')
			abort();
	}
	for (size_t i = 0; i < u->nconstraints; i++)
		if (memchr(u->constraints[i], '\0', DK_CONSTRAINT_LEN) == NULL)
			abort();
}

/*
 * Every node a list has is named, the list is labelled when a node is, a
 * spec without constraints may run on every node, and a constraint only
 * ever takes nodes away.
 */
static void place(struct dk_uses *u, const char *json, size_t len)
{
	struct refusal why = {"", ""};
	struct dk_nodes *n = dk_nodes_read(json, len, &why);
	size_t all = u->nconstraints;
	bool labelled = false;

	if (n == NULL) {
		if (why.message[0] == '\0')
			abort();
		return;
	}
	if (dk_nodes_count(n) > DK_MAX_NODES)
		abort();
	for (size_t i = 0; i < dk_nodes_count(n); i++) {
		bool may = true;

		if (dk_node_name(n, i) == NULL || !dk_node_may_run(n, i, NULL))
			abort();
		labelled = labelled || dk_node_label(n, i) != NULL;
		for (u->nconstraints = 0; u->nconstraints <= all; u->nconstraints++) {
			bool now = dk_node_may_run(n, i, u);

			if (now && !may)
				abort();
			may = now;
		}
		u->nconstraints = all;
	}
	if (labelled != dk_nodes_labelled(n))
		abort();
	dk_nodes_free(n);
}

static struct dk_uses uses; /* tens of KiB: not on the stack */

static void inspect(const struct dk_op *op, const char *body, size_t len)
{
	const char *nul = memchr(body, '\0', len);
	size_t body_len = nul ? (size_t)(nul - body) : len;
	char label[512];
	struct refusal why = {"", ""};
	unsigned needs = 0xffffffffu;
	int rc;

	uses.nrefs = uses.nconstraints = 99999;
	rc = dk_inspect_body(op, body, body_len, &needs, label, sizeof(label), &uses, &why);
	if (needs >= 1u << DK_N_SUBOPTIONS || strlen(label) >= sizeof(label))
		abort();
	/* a refused body must leave nothing behind that a caller could act on */
	if (rc != 0 && (why.message[0] == '\0' || needs != 0 || label[0] != '\0' ||
			uses.nrefs != 0 || uses.nconstraints != 0))
		abort();
	for (unsigned bit = 1; bit < 1u << DK_N_SUBOPTIONS; bit <<= 1)
		if ((needs & bit) && dk_suboption_name(bit) == NULL)
			abort();
	check_uses(op, &uses);
	if (nul != NULL)
		place(&uses, nul + 1, len - body_len - 1);
}

/* The query asks for at most the network sub-option, and a refusal says why. */
static void inspect_query(const struct dk_op *op, const char *query)
{
	struct refusal why = {"", ""};
	unsigned needs = 0xffffffffu;
	int rc = dk_inspect_query(op, query, &needs, &why);

	if ((needs & ~(unsigned)DK_HOST_NETWORK) != 0 || (rc != 0 && why.message[0] == '\0'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t n = size;
	char *method = take_line(&p, &n);
	char *uri = take_line(&p, &n);
	char path[4096], query[4096];
	struct refusal why = {"", ""};
	struct dk_op op;

	/* a path that was never normalised must be refused or matched, never crash */
	if (dk_lookup(method, uri, &op) == 0)
		check_op(&op, uri);
	if (dk_normalize(uri, path, sizeof(path), query, sizeof(query), &why) != 0) {
		if (why.message[0] == '\0' || path[0] != '\0')
			abort();
	} else {
		check_canonical(path, sizeof(path));
		if (dk_lookup(method, path, &op) == 0) {
			check_op(&op, path);
			inspect(&op, (const char *)p, n);
			inspect_query(&op, query);
		}
	}
	/* an engine's answer to /version is outside input too */
	if (dk_engine_version_fixed(uri) < -1 || dk_engine_version_fixed(uri) > 1)
		abort();
	free(method);
	free(uri);
	return 0;
}
