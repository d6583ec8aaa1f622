/*
 * Decisions for Docker engines (SPEC §8). Everything that goes wrong
 * denies: an unknown or revoked certificate, input that does not parse, a
 * route authd does not know (for non-admins), an internal error. The
 * message says why in words a user can act on; dockerd shows it as
 * "authorization denied by plugin authd: <message>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/api.h"
#include "authz.h"
#include "bundles.h"
#include "engine_labels.h"

#define PLUGIN_TYPE "application/vnd.docker.plugins.v1.2+json"
/* Bytes of a request's own text (URI, label) that a message or an audit line quotes. */
#define SHOWN_MAX 200

/* Decodes base64 into a malloc'd, NUL-terminated buffer; NULL when it is not base64. */
static unsigned char *b64_decode(const char *in, size_t *outlen)
{
	size_t n = strlen(in);
	unsigned char *out = malloc(n / 4 * 3 + 4);
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int len = 0, fin = 0;

	if (out == NULL || ctx == NULL || n > INT32_MAX) {
		free(out);
		EVP_ENCODE_CTX_free(ctx);
		return NULL;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, out, &len, (const unsigned char *)in, (int)n) < 0 ||
	    EVP_DecodeFinal(ctx, out + len, &fin) < 0) {
		free(out);
		EVP_ENCODE_CTX_free(ctx);
		return NULL;
	}
	EVP_ENCODE_CTX_free(ctx);
	*outlen = (size_t)(len + fin);
	out[*outlen] = '\0'; /* room is left: 3 bytes out per 4 in, plus 4 */
	return out;
}

/* Denies with fmt's one %s: arg, cut to SHOWN_MAX bytes between characters. */
static void deny(struct authz_outcome *o, const char *fmt, const char *arg)
{
	char shown[SHOWN_MAX + 1];

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
static void record(struct server *srv, const struct rbac_subject *who, const char *method,
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

static void decide(struct server *srv, const struct authz_call *c, const char *path,
		   struct authz_outcome *o)
{
	char label[512] = "", coll[2048];
	const char *why = NULL, *target;
	struct rbac_request req;
	struct rbac_verdict v;
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
	if ((op.inspect_body || op.target == DK_TARGET_NEW) && c->body_withheld) {
		/* dockerd does not forward bodies over 1 MiB: what is unseen is refused */
		deny(o, "%s",
		     "the request body was not shown to authd (over 1 MiB, or not JSON), so "
		     "it cannot be checked; send a smaller JSON body");
		return;
	}
	if ((op.inspect_body || op.target == DK_TARGET_NEW) &&
	    dk_inspect_body(&op, (const char *)c->body, c->body_len, &needs, label, sizeof(label),
			    &why) != 0) {
		deny(o, "the request body cannot be checked: %s", why);
		return;
	}
	if (label[0] != '\0' && label[0] != '/') {
		deny(o, "the access label \"%s\" must be a collection path such as /Shared", label);
		return;
	}
	target = target_collection(srv, c, &op, label, coll, sizeof(coll));
	req.op = &op;
	req.needs = needs;
	req.collection = target;
	rbac_decide(srv->rbac, c->who, &req, &v);
	o->allow = v.allow;
	snprintf(o->msg, sizeof(o->msg), "%s", v.msg);
	snprintf(o->role, sizeof(o->role), "%s", v.role);
	snprintf(o->collection, sizeof(o->collection), "%s", v.collection);
}

void authz_decide(struct server *srv, const struct authz_call *c, struct authz_outcome *o)
{
	char path[4096], query[4096];
	const char *why = NULL;

	memset(o, 0, sizeof(*o));
	if (dk_normalize(c->uri, path, sizeof(path), query, sizeof(query), &why) != 0) {
		deny(o, "the request URI is not acceptable: %s", why);
		utf8_clean(path, SHOWN_MAX + 1, c->uri);
	} else {
		decide(srv, c, path, o);
	}
	record(srv, c->who, c->method, path, o);
}

/* ---- the engine plugin protocol ---- */

static void plugin_answer(struct resp *out, bool allow, const char *msg)
{
	char shown[512]; /* the size of authz_outcome's msg */

	resp_json(out, 200,
		  json_pack("{s:b, s:s, s:s}", "Allow", allow, "Msg",
			    utf8_clean(shown, sizeof(shown), msg), "Err", ""));
	out->type = PLUGIN_TYPE;
}

/* Answers a plugin request decided before authz_decide, counted and audited like the rest. */
static void plugin_verdict(struct req *r, struct resp *out, bool allow, const char *msg)
{
	struct authz_outcome o = {.allow = allow};
	const char *method = json_string_value(json_object_get(r->body, "RequestMethod"));
	const char *uri = json_string_value(json_object_get(r->body, "RequestUri"));
	char path[SHOWN_MAX + 1];

	snprintf(o.msg, sizeof(o.msg), "%s", msg);
	utf8_clean(path, sizeof(path), uri ? uri : "");
	record(r->srv, NULL, method, path, &o);
	plugin_answer(out, allow, msg);
}

void api_plugin_activate(struct req *r, struct resp *out)
{
	(void)r;
	resp_json(out, 200, json_pack("{s:[s]}", "Implements", "authz"));
	out->type = PLUGIN_TYPE;
}

void api_plugin_authz_res(struct req *r, struct resp *out)
{
	/* the decision was made on the request; the response passes as it is */
	(void)r;
	plugin_answer(out, true, "");
}

/*
 * The DER of the first peer certificate of a plugin request (dockerd sends
 * base64 of the PEM text); OPENSSL_malloc'd. NULL when there is none, with
 * *why set when there is one that cannot be read.
 */
static unsigned char *peer_cert(json_t *certs, size_t *len, const char **why)
{
	json_t *first = json_array_get(certs, 0);
	unsigned char *pem, *der;
	size_t pem_len = 0;

	*why = NULL;
	if (certs == NULL || json_is_null(certs))
		return NULL;
	if (!json_is_array(certs)) {
		*why = "RequestPeerCertificates is not a list";
		return NULL;
	}
	if (json_array_size(certs) == 0)
		return NULL;
	if (!json_is_string(first) ||
	    (pem = b64_decode(json_string_value(first), &pem_len)) == NULL) {
		*why = "the peer certificate is not base64";
		return NULL;
	}
	der = memchr(pem, '\0', pem_len) ? NULL : bdl_pem_to_der((const char *)pem, len);
	free(pem);
	if (der == NULL)
		*why = "the peer certificate is not a PEM certificate";
	return der;
}

/* Whether the engine's request headers announce a body (length or chunks). */
static bool has_body(json_t *headers)
{
	const char *name;
	json_t *v;

	json_object_foreach(headers, name, v)
	{
		const char *value = json_string_value(v);

		if (strcasecmp(name, "Transfer-Encoding") == 0)
			return true;
		if (strcasecmp(name, "Content-Length") == 0 && value != NULL &&
		    strtoull(value, NULL, 10) > 0)
			return true;
	}
	return false;
}

/* Identifies the request's sender; false (with the answer given) when it may not go on. */
static bool plugin_identity(struct req *r, struct resp *out, struct rbac_subject *who)
{
	const char *user = json_string_value(json_object_get(r->body, "User"));
	const char *why = NULL;
	char reason[256];
	size_t len = 0;
	unsigned char *der =
	    peer_cert(json_object_get(r->body, "RequestPeerCertificates"), &len, &why);
	int rc;

	if (der == NULL) {
		if (why == NULL && r->srv->cfg->authz_allow_local)
			plugin_verdict(r, out, true, "local socket");
		else
			plugin_verdict(r, out, false,
				       why ? why
					   : "requests without a client certificate are "
					     "not allowed on this engine");
		return false;
	}
	rc = rbac_identify_der(r->srv->rbac, der, len, user ? user : "", who, reason,
			       sizeof(reason));
	OPENSSL_free(der);
	if (rc != 0)
		plugin_verdict(r, out, false, reason);
	return rc == 0;
}

void api_plugin_authz_req(struct req *r, struct resp *out)
{
	const char *method = json_string_value(json_object_get(r->body, "RequestMethod"));
	const char *uri = json_string_value(json_object_get(r->body, "RequestUri"));
	json_t *body64 = json_object_get(r->body, "RequestBody");
	struct authz_call c = {.method = method, .uri = uri};
	struct authz_outcome o;
	struct rbac_subject who;

	if (method == NULL || uri == NULL ||
	    (body64 && !json_is_string(body64) && !json_is_null(body64))) {
		plugin_verdict(r, out, false,
			       "authd cannot read this request (method, URI or body)");
		return;
	}
	if (!plugin_identity(r, out, &who))
		return;
	if (json_is_string(body64) &&
	    (c.body = b64_decode(json_string_value(body64), &c.body_len)) == NULL) {
		plugin_verdict(r, out, false, "authd cannot read the request body (not base64)");
		return;
	}
	c.body_withheld = c.body_len == 0 && has_body(json_object_get(r->body, "RequestHeaders"));
	c.who = &who;
	authz_decide(r->srv, &c, &o);
	free((void *)c.body);
	plugin_answer(out, o.allow, o.msg);
}

/* ---- POST /api/authz ---- */

static int api_identity(struct req *r, struct resp *out, struct rbac_subject *who)
{
	const char *pem = form_string(r->body, "certificate", NULL);
	const char *account = form_string(r->body, "account", NULL);
	char why[256], shown[sizeof(why)];
	unsigned char *der;
	size_t len = 0;
	int rc;

	if ((pem == NULL) == (account == NULL)) {
		resp_error(out, 400, "INVALID_FORM", "certificate",
			   "certificate: give a certificate or an account, not both");
		return -1;
	}
	if (account != NULL)
		rc = rbac_identify_account(r->srv->rbac, account, who, why, sizeof(why));
	else if ((der = bdl_pem_to_der(pem, &len)) == NULL) {
		resp_error(out, 400, "INVALID_FORM", "certificate",
			   "certificate: not a PEM certificate");
		return -1;
	} else {
		rc = rbac_identify_der(r->srv->rbac, der, len, NULL, who, why, sizeof(why));
		OPENSSL_free(der);
	}
	if (rc != 0)
		resp_json(out, 200,
			  json_pack("{s:b, s:s}", "allow", 0, "msg",
				    utf8_clean(shown, sizeof(shown), why)));
	return rc;
}

void api_authz(struct req *r, struct resp *out)
{
	static const struct field form[] = {
	    {"certificate", F_STRING, false}, {"account", F_STRING, false},
	    {"method", F_STRING, true},	      {"uri", F_STRING, true},
	    {"body", F_STRING, false},	      {NULL, 0, false}};
	const char *body64 = form_string(r->body, "body", NULL);
	struct authz_call c = {.method = form_string(r->body, "method", ""),
			       .uri = form_string(r->body, "uri", "")};
	struct authz_outcome o;
	char msg[sizeof(o.msg)], coll[sizeof(o.collection)];
	struct rbac_subject who;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	if (form_check(r->body, form, out) != 0 || api_identity(r, out, &who) != 0)
		return;
	if (body64 != NULL && (c.body = b64_decode(body64, &c.body_len)) == NULL) {
		resp_error(out, 400, "INVALID_FORM", "body", "body: must be base64");
		return;
	}
	c.who = &who;
	authz_decide(r->srv, &c, &o);
	free((void *)c.body);
	resp_json(out, 200,
		  json_pack("{s:b, s:s, s:s, s:s, s:s, s:s}", "allow", o.allow, "msg",
			    utf8_clean(msg, sizeof(msg), o.msg), "account", who.account,
			    "operation", o.operation, "collection",
			    utf8_clean(coll, sizeof(coll), o.collection), "role", o.role));
}
