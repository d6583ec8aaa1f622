/*
 * The two faces of the authorization point: the engine plugin protocol on
 * authz.socket and authz.listen (SPEC §8.1) and POST /api/authz for proxies
 * (§8.3). Each reads its request, identifies the sender and has
 * authz_decide decide, all on one snapshot held for the whole request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api.h"
#include "authz/authz.h"
#include "authz/idcache.h"
#include "bundles.h"

#define PLUGIN_TYPE "application/vnd.docker.plugins.v1.2+json"
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
	char path[AUTHZ_SHOWN_MAX + 1];

	snprintf(o.msg, sizeof(o.msg), "%s", msg);
	utf8_clean(path, sizeof(path), uri ? uri : "");
	authz_record(r->srv, NULL, method, path, &o);
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
 * The DER of a certificate's text in form; OPENSSL_malloc'd. NULL, with why,
 * when it is not base64 or not a PEM certificate.
 */
static unsigned char *text_der(enum idcache_form form, const char *text, size_t *len,
			       struct refusal *why)
{
	unsigned char *pem = NULL, *der;
	size_t pem_len = 0;

	if (form == IDCACHE_BASE64_PEM && (pem = b64_decode(text, &pem_len)) == NULL) {
		refusal_set(why, "", "the peer certificate is not base64");
		return NULL;
	}
	/* a NUL inside would end the PEM text early: what was sent is not what is read */
	if (pem != NULL)
		der = memchr(pem, '\0', pem_len) ? NULL : bdl_pem_to_der((const char *)pem, len);
	else
		der = bdl_pem_to_der(text, len);
	free(pem);
	if (der == NULL)
		refusal_set(why, "", "the peer certificate is not a PEM certificate");
	return der;
}

/*
 * The fingerprint of a certificate's text (len bytes, no NUL among them),
 * from the identity cache, or decoded and hashed the first time; -1 with
 * why when the text holds no certificate.
 */
static int text_fingerprint(struct server *srv, enum idcache_form form, const char *text,
			    size_t len, char fp[65], struct refusal *why)
{
	unsigned char *der;
	size_t der_len = 0;
	int rc;

	if (idcache_get(srv->ids, form, text, len, fp))
		return 0;
	if ((der = text_der(form, text, &der_len, why)) == NULL)
		return -1;
	rc = bdl_der_fingerprint(der, der_len, fp);
	OPENSSL_free(der);
	if (rc != 0)
		return refusal_set(why, "", "the peer certificate cannot be hashed");
	idcache_put(srv->ids, form, text, len, fp);
	return 0;
}

/*
 * The fingerprint of the first peer certificate of a plugin request (dockerd
 * sends base64 of the PEM text): 0 with fp, 1 when there is none, -1 with
 * why when there is one that cannot be read.
 */
static int peer_fingerprint(struct server *srv, json_t *certs, char fp[65], struct refusal *why)
{
	json_t *first = json_array_get(certs, 0);

	if (certs != NULL && !json_is_null(certs) && !json_is_array(certs))
		return refusal_set(why, "", "RequestPeerCertificates is not a list");
	if (certs == NULL || json_is_null(certs) || json_array_size(certs) == 0)
		return 1;
	if (!json_is_string(first))
		return refusal_set(why, "", "the peer certificate is not base64");
	/* jansson refuses \u0000 unless asked (http.c does not): the length is strlen's */
	return text_fingerprint(srv, IDCACHE_BASE64_PEM, json_string_value(first),
				json_string_length(first), fp, why);
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
static bool plugin_identity(struct req *r, struct resp *out, const struct snapshot *s,
			    struct rbac_subject *who)
{
	const char *user = json_string_value(json_object_get(r->body, "User"));
	struct refusal why;
	char fp[65];
	int rc =
	    peer_fingerprint(r->srv, json_object_get(r->body, "RequestPeerCertificates"), fp, &why);

	if (rc > 0 && r->srv->cfg->authz_allow_local) {
		plugin_verdict(r, out, true, "local socket");
		return false;
	}
	if (rc != 0) {
		plugin_verdict(r, out, false,
			       rc < 0 ? why.message
				      : "requests without a client certificate are not allowed "
					"on this engine");
		return false;
	}
	if (rbac_identify_key(s, fp, user ? user : "", who, &why) != 0) {
		plugin_verdict(r, out, false, why.message);
		return false;
	}
	return true;
}

/* A plugin request, decided on the one snapshot s from the sender's identity to the verdict. */
static void plugin_request(struct req *r, struct resp *out, const struct snapshot *s)
{
	const char *method = json_string_value(json_object_get(r->body, "RequestMethod"));
	const char *uri = json_string_value(json_object_get(r->body, "RequestUri"));
	json_t *body64 = json_object_get(r->body, "RequestBody");
	struct authz_call c = {.method = method, .uri = uri, .snapshot = s};
	struct authz_outcome o;
	struct rbac_subject who;

	if (method == NULL || uri == NULL ||
	    (body64 && !json_is_string(body64) && !json_is_null(body64))) {
		plugin_verdict(r, out, false,
			       "authd cannot read this request (method, URI or body)");
		return;
	}
	if (!plugin_identity(r, out, s, &who))
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

void api_plugin_authz_req(struct req *r, struct resp *out)
{
	const struct snapshot *s = rbac_hold(r->srv->rbac);

	plugin_request(r, out, s);
	rbac_release(s);
}

/* ---- POST /api/authz ---- */

static int api_identity(struct req *r, struct resp *out, const struct snapshot *s,
			struct rbac_subject *who)
{
	const char *pem = form_string(r->body, "certificate", NULL);
	const char *account = form_string(r->body, "account", NULL);
	struct refusal why;
	char fp[65];
	int rc;

	if ((pem == NULL) == (account == NULL)) {
		resp_refuse(out, "certificate",
			    "certificate: give a certificate or an account, not both");
		return -1;
	}
	if (account != NULL)
		rc = rbac_identify_account(s, account, who, &why);
	else if (text_fingerprint(r->srv, IDCACHE_PEM, pem, strlen(pem), fp, &why) != 0) {
		resp_refuse(out, "certificate", "certificate: not a PEM certificate");
		return -1;
	} else
		rc = rbac_identify_key(s, fp, NULL, who, &why);
	if (rc != 0)
		resp_json(out, 200, json_pack("{s:b, s:s}", "allow", 0, "msg", why.message));
	return rc;
}

static void api_request(struct req *r, struct resp *out, const struct snapshot *s)
{
	const char *body64 = form_string(r->body, "body", NULL);
	struct authz_call c = {.method = form_string(r->body, "method", ""),
			       .uri = form_string(r->body, "uri", ""),
			       .snapshot = s};
	struct authz_outcome o;
	char msg[sizeof(o.msg)], coll[sizeof(o.collection)];
	struct rbac_subject who;

	if (form_check(r->body, form_authz_request, out) != 0 || api_identity(r, out, s, &who) != 0)
		return;
	if (body64 != NULL && (c.body = b64_decode(body64, &c.body_len)) == NULL) {
		resp_refuse(out, "body", "body: must be base64");
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

void api_authz(struct req *r, struct resp *out)
{
	const struct snapshot *s;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	s = rbac_hold(r->srv->rbac);
	api_request(r, out, s);
	rbac_release(s);
}
