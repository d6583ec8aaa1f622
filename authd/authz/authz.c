/*
 * Decisions for Docker engines (SPEC §8). Everything that goes wrong
 * denies: an unknown or revoked certificate, input that does not parse, a
 * route authd does not know (for non-admins), an internal error. The
 * message says why in words a user can act on; dockerd shows it as
 * "authorization denied by plugin authd: <message>". api/api_authz.c reads
 * the requests and answers them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "cluster.h"
#include "engine_labels.h"
#include "metrics.h"

/* ---- counting decisions ---- */

struct authz_stats {
	const char **ops; /* the operations' names, sorted and distinct (dockerapi's storage) */
	size_t nops;
	atomic_ulong (*count)[2]; /* [operation, nops for "other"][allow] */
};

struct op_names {
	const char **v;
	size_t n, cap;
};

static void collect_op(enum dk_resource res, const char *operation, void *ctx)
{
	struct op_names *names = ctx;

	(void)res;
	if (names->n < names->cap)
		names->v[names->n] = operation;
	names->n++;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct authz_stats *authz_stats_new(void)
{
	struct authz_stats *s = calloc(1, sizeof(*s));
	struct op_names names = {NULL, 0, 0};

	if (s == NULL)
		return NULL;
	dk_each_operation(collect_op, &names); /* counts them */
	names.cap = names.n;
	names.n = 0;
	names.v = calloc(names.cap, sizeof(*names.v));
	s->count = calloc(names.cap + 1, sizeof(*s->count));
	if (names.v == NULL || s->count == NULL) {
		free(names.v);
		free(s->count);
		free(s);
		return NULL;
	}
	dk_each_operation(collect_op, &names);
	qsort(names.v, names.n, sizeof(*names.v), cmp_name);
	/* two resources may name an operation alike: one label, one counter */
	for (size_t i = 0; i < names.n; i++)
		if (s->nops == 0 || strcmp(names.v[i], names.v[s->nops - 1]) != 0)
			names.v[s->nops++] = names.v[i];
	s->ops = names.v;
	for (size_t i = 0; i <= s->nops; i++) {
		atomic_init(&s->count[i][0], 0);
		atomic_init(&s->count[i][1], 0);
	}
	return s;
}

void authz_stats_free(struct authz_stats *s)
{
	if (s == NULL)
		return;
	free(s->ops);
	free(s->count);
	free(s);
}

/* A binary search of the sorted names: a decision's cost stays a few comparisons. */
static void count_decision(struct authz_stats *s, const struct authz_outcome *o)
{
	const char *name = o->operation;
	const char **at;
	size_t i;

	if (s == NULL)
		return;
	at = name[0] ? bsearch(&name, s->ops, s->nops, sizeof(*s->ops), cmp_name) : NULL;
	i = at ? (size_t)(at - s->ops) : s->nops;
	atomic_fetch_add_explicit(&s->count[i][o->allow], 1, memory_order_relaxed);
}

void authz_stats_write(FILE *f, const struct authz_stats *s)
{
	static const char *const outcome[2] = {"deny", "allow"};

	metrics_family(f, "authd_authz_decisions_total", "counter",
		       "Authorization decisions, by outcome and the Engine API operation.");
	for (size_t i = 0; s != NULL && i <= s->nops; i++) {
		for (int allow = 1; allow >= 0; allow--) {
			unsigned long n =
			    atomic_load_explicit(&s->count[i][allow], memory_order_relaxed);
			char labels[256] = "";

			if (n == 0)
				continue;
			metrics_label(labels, sizeof(labels), "outcome", outcome[allow]);
			metrics_label(labels, sizeof(labels), "operation",
				      i < s->nops ? s->ops[i] : "other");
			metrics_int(f, "authd_authz_decisions_total", labels, (int64_t)n);
		}
	}
}

/* ---- deciding ---- */

/* Denies with fmt's one %s: arg, cut to AUTHZ_SHOWN_MAX bytes between characters. */
static void deny(struct authz_outcome *o, const char *fmt, const char *arg)
{
	char shown[AUTHZ_SHOWN_MAX + 1];

	o->allow = false;
	snprintf(o->msg, sizeof(o->msg), fmt, utf8_clean(shown, sizeof(shown), arg));
}

/* The collection a request acts in; NULL for lists and system calls. */
static const char *target_collection(struct server *srv, const struct authz_call *c,
				     const struct dk_op *op, const char *label, char *buf,
				     size_t len)
{
	if (op->target == DK_TARGET_NEW) {
		if (label[0] != '\0')
			return label;
		rbac_private_collection(c->who->account, buf, len);
		return buf;
	}
	if (op->target == DK_TARGET_EXISTING) {
		if (engine_label(srv->labels, op, buf, len) == 0)
			return buf;
		return srv->cfg->authz_engine_collection;
	}
	return NULL;
}

/*
 * Counts and audits a decision; `who` is NULL when the sender was not
 * identified. The method and path are the request's own bytes, and the
 * collection and reason may quote them: one string jansson refuses would
 * leave the line with nothing of the decision, so all of them are cleaned.
 */
void authz_record(struct server *srv, const struct rbac_subject *who, const char *method,
		  const char *path, const struct authz_outcome *o)
{
	char m[128], p[4096], coll[sizeof(o->collection)], msg[sizeof(o->msg)];

	utf8_clean(m, sizeof(m), method ? method : "");
	utf8_clean(p, sizeof(p), path ? path : "");
	utf8_clean(coll, sizeof(coll), o->collection);
	utf8_clean(msg, sizeof(msg), o->msg);
	count_decision(srv->decisions, o);
	audit_decision(srv->audit, who ? who->account : "",
		       json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "keyID",
				 who ? who->key_id : "", "method", m, "path", p, "operation",
				 o->operation, "collection", coll, "allow", o->allow, "role",
				 o->role, "reason", msg));
}

/*
 * What the body and the query ask for: sub-options in *needs and the access
 * label. false, with o denied, when they cannot be read; what the engine did
 * not show cannot be checked, so it is refused like a body that is missing.
 */
static bool read_request(const struct authz_call *c, const struct dk_op *op, const char *query,
			 unsigned *needs, char *label, size_t labellen, struct dk_uses *uses,
			 struct authz_outcome *o)
{
	struct refusal why;
	unsigned from_query = 0;

	if (op->inspect_body && c->body_withheld) {
		/* dockerd does not forward bodies over 1 MiB: what is unseen is refused */
		deny(o, "%s",
		     "the request body was not shown to authd (over 1 MiB, or not JSON), so "
		     "it cannot be checked; send a smaller JSON body");
		return false;
	}
	if (dk_inspect_body(op, (const char *)c->body, c->body_len, needs, label, labellen, uses,
			    &why) != 0) {
		deny(o, "the request body cannot be checked: %s", why.message);
		return false;
	}
	if (dk_inspect_query(op, query, &from_query, &why) != 0) {
		deny(o, "the request's query cannot be checked: %s", why.message);
		return false;
	}
	*needs |= from_query;
	if (label[0] != '\0' && label[0] != '/') {
		deny(o, "the access label \"%s\" must be a collection path such as /Shared", label);
		return false;
	}
	return true;
}

static void verdict(const struct authz_call *c, const struct dk_op *op, unsigned needs,
		    const char *collection, struct authz_outcome *o)
{
	struct rbac_request req = {.op = op, .needs = needs, .collection = collection};
	struct rbac_verdict v;

	rbac_decide(c->snapshot, c->who, &req, &v);
	o->allow = v.allow;
	snprintf(o->msg, sizeof(o->msg), "%s", v.msg);
	snprintf(o->role, sizeof(o->role), "%s", v.role);
	snprintf(o->collection, sizeof(o->collection), "%s", v.collection);
}

/*
 * Whether the subject may also do `op` in `collection`, which the request
 * needs besides its own operation; when not, o is denied with the reason,
 * after `context` (which names what needed it), and names that operation.
 */
static bool may_also(const struct authz_call *c, const struct dk_op *op, const char *collection,
		     const char *context, const char *hint, struct authz_outcome *o)
{
	struct authz_outcome also = {0};

	verdict(c, op, 0, collection, &also);
	if (also.allow)
		return true;
	o->allow = false;
	snprintf(o->operation, sizeof(o->operation), "%s", op->operation);
	snprintf(o->collection, sizeof(o->collection), "%s", also.collection);
	snprintf(o->role, sizeof(o->role), "%s", also.role);
	snprintf(o->msg, sizeof(o->msg), "%s: %s%s", context, also.msg, hint);
	return false;
}

/*
 * Secret Use and Config Use: each secret and config the spec names, in its
 * own collection, read from the engine as any existing resource's is.
 */
static bool may_use_refs(struct server *srv, const struct authz_call *c, const struct dk_uses *u,
			 struct authz_outcome *o)
{
	for (size_t i = 0; i < u->nrefs; i++) {
		const struct dk_ref *r = &u->refs[i];
		bool secret = r->resource == DK_SECRET;
		struct dk_op use = {.resource = r->resource,
				    .operation = secret ? "Secret Use" : "Config Use",
				    .target = DK_TARGET_EXISTING};
		char coll[2048], name[AUTHZ_SHOWN_MAX + 1], context[AUTHZ_SHOWN_MAX + 64];
		const char *where = srv->cfg->authz_engine_collection;

		snprintf(use.object, sizeof(use.object), "%s", r->object);
		if (engine_label(srv->labels, &use, coll, sizeof(coll)) == 0)
			where = coll;
		snprintf(context, sizeof(context), "the service uses the %s %s",
			 secret ? "secret" : "config", utf8_clean(name, sizeof(name), r->name));
		if (!may_also(c, &use, where, context, "", o))
			return false;
	}
	return true;
}

#define DISTINCT_MAX 32 /* collections of nodes remembered as allowed; more are checked again */

/*
 * Node Schedule on every node the service may be placed on, once node
 * collections are in use, that is once some node has an access label (an
 * unlabelled node is then in the engine's collection). MKE adds placement
 * constraints that keep a service on the nodes its author may schedule on;
 * an authorization plugin can only allow or deny, so authd requires Node
 * Schedule on each node the spec's constraints leave open (dk_node_may_run),
 * and the author narrows them ("node.labels.com.docker.ucp.access.label==
 * /Shared") where needed. Nodes are those of the moment: one that joins or is
 * relabelled later is not checked until the service is next updated.
 */
static bool may_schedule(struct server *srv, const struct authz_call *c,
			 const struct dk_nodes *nodes, const struct dk_uses *u,
			 struct authz_outcome *o)
{
	struct dk_op schedule = {
	    .resource = DK_NODE, .operation = "Node Schedule", .target = DK_TARGET_EXISTING};
	const char *allowed[DISTINCT_MAX];
	size_t nallowed = 0;

	for (size_t i = 0; i < dk_nodes_count(nodes); i++) {
		const char *coll = dk_node_label(nodes, i);
		char name[AUTHZ_SHOWN_MAX + 1], context[AUTHZ_SHOWN_MAX + 64];
		bool seen = false;

		if (!dk_node_may_run(nodes, i, u))
			continue;
		coll = coll ? coll : srv->cfg->authz_engine_collection;
		for (size_t j = 0; j < nallowed && !seen; j++)
			seen = strcmp(allowed[j], coll) == 0;
		if (seen)
			continue;
		snprintf(context, sizeof(context), "the service may be placed on node %s",
			 utf8_clean(name, sizeof(name), dk_node_name(nodes, i)));
		if (!may_also(c, &schedule, coll, context,
			      " (a placement constraint can keep it off that node)", o))
			return false;
		if (nallowed < DISTINCT_MAX)
			allowed[nallowed++] = coll;
	}
	return true;
}

/* What a service create or update needs besides Service Create or Update. */
static void check_service_uses(struct server *srv, const struct authz_call *c,
			       const struct dk_uses *u, struct authz_outcome *o)
{
	struct engine_nodes *en;

	if (!may_use_refs(srv, c, u, o))
		return;
	if ((en = engine_nodes_get(srv->labels)) == NULL) {
		deny(o, "%s", "internal error: out of memory reading the swarm's nodes");
		return;
	}
	if (en->state == NODES_UNREADABLE)
		deny(o,
		     "the swarm's nodes cannot be read from the engine (%s), so Node Schedule "
		     "cannot be checked; try again",
		     en->why);
	else if (en->state == NODES_READ && dk_nodes_labelled(en->nodes))
		may_schedule(srv, c, en->nodes, u, o);
	engine_nodes_put(en);
}

static bool is_service_spec(const struct dk_op *op)
{
	return op->resource == DK_SERVICE && op->inspect_body;
}

static void decide_op(struct server *srv, const struct authz_call *c, const struct dk_op *op,
		      const char *query, struct dk_uses *uses, struct authz_outcome *o)
{
	char label[512] = "", coll[2048];
	const char *target;
	unsigned needs = 0;

	if (!read_request(c, op, query, &needs, label, sizeof(label), uses, o))
		return;
	target = target_collection(srv, c, op, label, coll, sizeof(coll));
	verdict(c, op, needs, target, o);
	/* an update that relabels its resource moves it: the operation is needed there too */
	if (o->allow && op->target == DK_TARGET_EXISTING && label[0] != '\0' &&
	    strcmp(label, target) != 0)
		verdict(c, op, needs, label, o);
	if (o->allow && uses != NULL)
		check_service_uses(srv, c, uses, o);
}

static void decide(struct server *srv, const struct authz_call *c, const char *path,
		   const char *query, struct authz_outcome *o)
{
	struct dk_uses *uses = NULL;
	struct dk_op op;

	if (dk_lookup(c->method, path, &op) != 0) {
		if (c->who->is_admin) {
			o->allow = true;
			snprintf(o->msg, sizeof(o->msg),
				 "allowed (admin; route not in authd's table)");
			return;
		}
		deny(o, "authd does not know this request (%s); only admins may make it", path);
		return;
	}
	snprintf(o->operation, sizeof(o->operation), "%s", op.operation);
	if (c->who->is_admin) {
		o->allow = true;
		snprintf(o->role, sizeof(o->role), "admin");
		snprintf(o->msg, sizeof(o->msg), "allowed");
		return;
	}
	/* a spec's secrets, configs and constraints take tens of KiB: not on a handler's stack */
	if (is_service_spec(&op) && (uses = malloc(sizeof(*uses))) == NULL) {
		deny(o, "%s", "internal error: out of memory");
		return;
	}
	decide_op(srv, c, &op, query, uses, o);
	free(uses);
}

/*
 * The snapshot goes on answering while the store is briefly away, but not
 * for ever: past authz.maxStaleSeconds without an answer from the store
 * (main.c's tick; on a store replicas share, the last read of the change
 * sequence, changes.c), a revoked grant could still be allowing. False with
 * a deny then.
 */
static bool snapshot_fresh(struct server *srv, struct authz_outcome *o)
{
	int64_t away_s = cluster_store_away_seconds(srv);

	if (away_s <= srv->cfg->authz_max_stale_seconds)
		return true;
	o->allow = false;
	snprintf(o->msg, sizeof(o->msg),
		 "authd has not reached its store for %lld s (authz.maxStaleSeconds is %d); "
		 "decisions resume when it answers again",
		 (long long)away_s, srv->cfg->authz_max_stale_seconds);
	return false;
}

void authz_decide(struct server *srv, const struct authz_call *c, struct authz_outcome *o)
{
	char path[4096], query[4096];
	struct refusal why;

	memset(o, 0, sizeof(*o));
	if (dk_normalize(c->uri, path, sizeof(path), query, sizeof(query), &why) != 0) {
		deny(o, "the request URI is not acceptable: %s", why.message);
		utf8_clean(path, AUTHZ_SHOWN_MAX + 1, c->uri);
	} else if (snapshot_fresh(srv, o)) {
		decide(srv, c, path, query, o);
	}
	authz_record(srv, c->who, c->method, path, o);
}
