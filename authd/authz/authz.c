/*
 * Decisions for Docker engines (SPEC §8). Everything that goes wrong
 * denies: an unknown or revoked certificate, input that does not parse, a
 * route authd does not know (for non-admins), an internal error. The
 * message says why in words a user can act on; dockerd shows it as
 * "authorization denied by plugin authd: <message>". api/api_authz.c reads
 * the requests and answers them.
 */
#include <stdio.h>
#include <string.h>

#include "authz.h"
#include "engine_labels.h"

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
	atomic_fetch_add(o->allow ? &srv->decisions_allowed : &srv->decisions_denied, 1);
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
			 unsigned *needs, char *label, size_t labellen, struct authz_outcome *o)
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
	if (dk_inspect_body(op, (const char *)c->body, c->body_len, needs, label, labellen, NULL,
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

static void decide(struct server *srv, const struct authz_call *c, const char *path,
		   const char *query, struct authz_outcome *o)
{
	char label[512] = "", coll[2048];
	const char *target;
	struct dk_op op;
	unsigned needs = 0;

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
	if (!read_request(c, &op, query, &needs, label, sizeof(label), o))
		return;
	target = target_collection(srv, c, &op, label, coll, sizeof(coll));
	verdict(c, &op, needs, target, o);
	/* an update that relabels its resource moves it: the operation is needed there too */
	if (o->allow && op.target == DK_TARGET_EXISTING && label[0] != '\0' &&
	    strcmp(label, target) != 0)
		verdict(c, &op, needs, label, o);
}

void authz_decide(struct server *srv, const struct authz_call *c, struct authz_outcome *o)
{
	char path[4096], query[4096];
	struct refusal why;

	memset(o, 0, sizeof(*o));
	if (dk_normalize(c->uri, path, sizeof(path), query, sizeof(query), &why) != 0) {
		deny(o, "the request URI is not acceptable: %s", why.message);
		utf8_clean(path, AUTHZ_SHOWN_MAX + 1, c->uri);
	} else {
		decide(srv, c, path, query, o);
	}
	authz_record(srv, c->who, c->method, path, o);
}
