/*
 * libmicrohttpd glue: the HTTPS listener, body limits, the routing table,
 * authentication of each call, and turning a handler's response into bytes.
 * Everything a handler needs arrives in struct req; nothing here knows SQL.
 */
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "authz/rbac.h"
#include "bundles.h"
#include "direct.h"
#include "http.h"
#include "servercert.h"
#include "tls.h"

/* Base64 inflates a 1 MiB engine request body by a third, and JSON wraps it. */
#define PLUGIN_MAX_BODY (2 * MAX_BODY)

/*
 * A request's head: its target (path and query, as sent) and the query's
 * parameters, and its request line and header fields together. Over these,
 * a request is refused with 414 or 431 in the API's JSON, before its body is
 * read.
 */
#define MAX_TARGET 8192
#define MAX_QUERY_PARAMS 256
#define MAX_HEAD (64 * 1024)
#define MAX_FIELDS 256
/*
 * libmicrohttpd's memory for a connection: the head as read, a record per
 * header field and query parameter (64 bytes each), and the answer's own
 * head, which 0.9.75 builds in what the request left. A head just short of
 * filling it leaves no room for that: libmicrohttpd then closes without an
 * answer; and query parameters that do not fit make it close without one
 * before authd sees the headers. So authd writes its refusals of heads on
 * the connection itself (direct.h): a target as soon as libmicrohttpd shows
 * it, the rest once the head is read. What does not fit at all
 * libmicrohttpd refuses itself, in HTML (README, "The API").
 */
#define CONNECTION_MEMORY ((size_t)(2 * MAX_HEAD))

struct http_server {
	struct MHD_Daemon *daemon;
	struct server *srv;
	const struct route *routes;
	size_t nroutes;
	size_t max_body;
	struct http_stats *stats; /* NULL: nothing is counted */
	char *socket_path;	  /* the unix socket to remove at stop, or NULL */
	/* authz.listen: a handshake without an engine's plugin-client certificate fails */
	bool engines_only;
};

/* One per request, from its first callback to its completion. */
struct call {
	struct http_server *h;
	struct req req;
	int64_t started_ns;  /* when its head arrived (monotonic) */
	long route;	     /* the index of the route that serves it; -1 for none */
	size_t target_len;   /* the request target's bytes, as sent */
	size_t query_params; /* the pieces of its query between '&' */
	bool begun;	     /* the first callback, with the head, has been answered */
	char *body;
	size_t len;
	bool too_large;
	char parambuf[2048]; /* the captured {} segments */
};

/*
 * A connection's own state, from its first byte to its close: the
 * certificate its handshake was served (TLS), which stays alive until the
 * connection closes however often it is replaced meanwhile (servercert.h),
 * and what the URI callback saw of the request being read. Nothing is kept
 * per request before its head is whole: libmicrohttpd may close a
 * connection without ending the request it began (CONNECTION_MEMORY).
 */
struct conn_state {
	struct http_server *h;
	struct certset *cert;
	bool engine;	     /* showed an engine's plugin-client certificate (engines_only) */
	size_t target_len;   /* the request target's bytes, as sent */
	size_t query_params; /* the pieces of its query between '&' */
	bool answered;	     /* refused from its target: the rest is not served */
};

static struct conn_state *conn_state_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* ---- responses ---- */

void resp_json(struct resp *out, unsigned status, json_t *body)
{
	json_decref(out->json);
	out->json = body;
	out->status = status;
	if (body != NULL)
		return;
	/* json_pack refused a value, or memory ran out: say so rather than answer without a body */
	log_msg(LOG_ERROR, "http: the JSON of a %u answer could not be built; answering 500",
		status);
	out->json = json_pack("{s:[{s:s, s:s}]}", "errors", "code", "INTERNAL", "message",
			      "internal error: the answer could not be built");
	out->status = 500;
}

void resp_error(struct resp *out, unsigned status, const char *code, const char *field,
		const char *fmt, ...)
{
	char msg[512], shown[256], *text;
	json_t *err;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	/* messages and fields quote what the client sent, which need not be UTF-8 */
	utf8_clean(msg, sizeof(msg), text ? text : code);
	free(text);
	err = json_pack("{s:s, s:s}", "code", code, "message", msg);
	if (err != NULL && field != NULL)
		json_object_set_new(
		    err, "detail",
		    json_pack("{s:s}", "field", utf8_clean(shown, sizeof(shown), field)));
	resp_json(out, status, json_pack("{s:[o]}", "errors", err));
}

void resp_error_detail(struct resp *out, const char *key, json_t *value)
{
	json_t *err = json_array_get(json_object_get(out->json, "errors"), 0);
	json_t *detail = json_object_get(err, "detail");

	if (err != NULL && detail == NULL) {
		detail = json_object();
		json_object_set_new(err, "detail", detail);
	}
	/* set_new takes value even when it fails */
	json_object_set_new(detail, key, value);
}

void resp_header(struct resp *out, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *value;

	if (out->nheaders == MAX_HEADERS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&value, fmt, ap) < 0)
		value = NULL;
	va_end(ap);
	if (value == NULL)
		return;
	out->headers[out->nheaders].name = name;
	out->headers[out->nheaders].value = value;
	out->nheaders++;
}

void resp_forbidden(struct resp *out)
{
	resp_error(out, 403, "FORBIDDEN", NULL, "you are not allowed to do this");
}

void resp_internal(struct resp *out)
{
	resp_error(out, 500, "INTERNAL", NULL, "internal error; the server log has details");
}

void resp_not_found(struct resp *out, const char *what, const char *key)
{
	char shown[201];

	resp_error(out, 404, "NOT_FOUND", NULL, "no %s \"%s\"", what,
		   utf8_clean(shown, sizeof(shown), key));
}

static void resp_clear(struct resp *out)
{
	json_decref(out->json);
	free(out->text);
	bdl_free_bytes(out->bytes, out->nbytes);
	for (int i = 0; i < out->nheaders; i++)
		free(out->headers[i].value);
	memset(out, 0, sizeof(*out));
}

/* Binary bodies may hold a private key: zeroed when MHD is done with them. */
struct secret_body {
	unsigned char *data;
	size_t len;
};

static void free_secret_body(void *cls)
{
	struct secret_body *b = cls;

	bdl_free_bytes(b->data, b->len);
	free(b);
}

static struct MHD_Response *bytes_response(struct resp *out)
{
	struct secret_body *b = malloc(sizeof(*b));
	struct MHD_Response *r;

	if (b == NULL)
		return NULL;
	b->data = out->bytes;
	b->len = out->nbytes;
	r = MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data,
								   free_secret_body, b);
	if (r == NULL) {
		free(b);
		return NULL;
	}
	out->bytes = NULL; /* the response owns it now */
	out->nbytes = 0;
	return r;
}

/* The MHD response for out's body, JSON, text or bytes; *type gets its content type. */
static struct MHD_Response *make_response(struct resp *out, const char **type)
{
	struct MHD_Response *r;
	char *body = NULL;

	*type = "application/json";
	if (out->json == NULL && out->text == NULL && out->bytes != NULL) {
		*type = out->type;
		return bytes_response(out);
	}
	if (out->json != NULL) {
		body = json_dumps(out->json, JSON_COMPACT);
		*type = out->type ? out->type : *type;
	} else if (out->text != NULL) {
		body = out->text;
		out->text = NULL;
		*type = out->type ? out->type : "text/plain; charset=utf-8";
	}
	if (body == NULL) {
		*type = out->type ? out->type : *type;
		return MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
	}
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		free(body);
	return r;
}

static bool has_header(const struct resp *out, const char *name)
{
	for (int i = 0; i < out->nheaders; i++)
		if (strcasecmp(out->headers[i].name, name) == 0)
			return true;
	return false;
}

/*
 * The MHD response for out, with its headers, counted in its route's
 * statistics first (started: when its request's head arrived); out is
 * cleared, its status left in *status. NULL when memory ran out.
 */
static struct MHD_Response *finish_resp(struct http_server *h, long route, int64_t started,
					struct resp *out, unsigned *status)
{
	struct MHD_Response *r;
	const char *type;

	if (out->status == 0)
		resp_internal(out);
	*status = out->status;
	http_stats_count(h->stats, route, out->status, monotonic_ns() - started);
	r = make_response(out, &type);
	if (r == NULL) {
		resp_clear(out);
		return NULL;
	}
	if (out->status != 204 && out->status != 304)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	/* API answers are never cached; the web page's files say otherwise themselves */
	if (!has_header(out, MHD_HTTP_HEADER_CACHE_CONTROL))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	for (int i = 0; i < out->nheaders; i++)
		MHD_add_response_header(r, out->headers[i].name, out->headers[i].value);
	resp_clear(out);
	return r;
}

/* Queues the call's answer. */
static enum MHD_Result send_resp(struct MHD_Connection *c, const struct call *call,
				 struct resp *out)
{
	unsigned status;
	struct MHD_Response *r = finish_resp(call->h, call->route, call->started_ns, out, &status);
	enum MHD_Result ok;

	if (r == NULL)
		return MHD_NO;
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

/*
 * Writes out, a JSON refusal that is the connection's last answer, on the
 * connection itself and ends what it sends (direct.h), rather than through
 * the connection's memory (CONNECTION_MEMORY). MHD_NO then has libmicrohttpd
 * close the connection with nothing more to say (its log calls that an
 * application error, at debug level).
 */
static enum MHD_Result send_directly(struct MHD_Connection *c, struct http_server *h,
				     int64_t started, struct resp *out, bool head_only)
{
	char *body = json_dumps(out->json, JSON_COMPACT);
	unsigned status;
	struct MHD_Response *r = finish_resp(h, -1, started, out, &status);

	if (r == NULL || body == NULL ||
	    !direct_answer(c, status, r, body, strlen(body), head_only))
		log_msg(LOG_DEBUG,
			"http: the %u answer to a head refused for its size did not go out",
			status);
	direct_end(c);
	if (r != NULL)
		MHD_destroy_response(r);
	free(body);
	return MHD_NO;
}

/* ---- requests ---- */

const char *req_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_walk {
	void (*fn)(const char *name, const char *value, void *ctx);
	void *ctx;
};

static enum MHD_Result query_step(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct query_walk *w = cls;

	(void)kind;
	w->fn(key, value ? value : "", w->ctx);
	return MHD_YES;
}

void req_query_each(struct req *r, void (*fn)(const char *name, const char *value, void *ctx),
		    void *ctx)
{
	struct query_walk w = {fn, ctx};

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_step, &w);
}

const char *req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/*
 * Matches path against a pattern, capturing the {} segments. Segments are
 * compared whole, so a pattern is anchored at both ends.
 */
static bool match(const char *pattern, const char *path, const char **params, char *buf,
		  size_t buflen)
{
	int n = 0;
	size_t used = 0;

	while (*pattern != '\0' && *path != '\0') {
		const char *pe = strchr(pattern + 1, '/'), *se = strchr(path + 1, '/');
		size_t plen = pe ? (size_t)(pe - pattern) : strlen(pattern);
		size_t slen = se ? (size_t)(se - path) : strlen(path);

		if (plen == 3 && strncmp(pattern, "/{}", 3) == 0) {
			if (slen < 2 || n == MAX_PARAMS || used + slen > buflen)
				return false;
			memcpy(buf + used, path + 1, slen - 1);
			buf[used + slen - 1] = '\0';
			params[n++] = buf + used;
			used += slen;
		} else if (plen != slen || strncmp(pattern, path, plen) != 0) {
			return false;
		}
		pattern += plen;
		path += slen;
	}
	return *pattern == '\0' && *path == '\0';
}

/* Whether a route serves a method: its own, and HEAD wherever it serves GET (RFC 9110). */
static bool serves(const struct route *rt, const char *method)
{
	return strcmp(rt->method, method) == 0 ||
	       (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0);
}

/* Adds a method to an Allow list, once (the routes' methods are whole words). */
static void allow_add(char *allow, size_t len, const char *method)
{
	size_t n = strlen(method);

	for (const char *p = strstr(allow, method); p != NULL; p = strstr(p + 1, method))
		if ((p == allow || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
			return;
	if (strlen(allow) + n + 3 < len)
		snprintf(allow + strlen(allow), len - strlen(allow), "%s%s", allow[0] ? ", " : "",
			 method);
}

/*
 * The route for method and path. `allow` lists every method the path has
 * (HEAD beside GET, and OPTIONS), for a 405 or an answer to OPTIONS; it is
 * "" when no route has the path.
 */
static const struct route *find_route(struct call *call, const char *method, const char *path,
				      char *allow, size_t allowlen)
{
	const struct route *routes = call->h->routes, *found = NULL;
	const char *params[MAX_PARAMS];

	allow[0] = '\0';
	for (size_t i = 0; i < call->h->nroutes; i++) {
		if (!match(routes[i].pattern, path, params, call->parambuf, sizeof(call->parambuf)))
			continue;
		allow_add(allow, allowlen, routes[i].method);
		if (strcmp(routes[i].method, "GET") == 0)
			allow_add(allow, allowlen, "HEAD");
		if (found == NULL && serves(&routes[i], method))
			found = &routes[i];
	}
	if (allow[0] != '\0')
		allow_add(allow, allowlen, "OPTIONS");
	/* later patterns matched over the captures: take the found route's again */
	if (found != NULL) {
		match(found->pattern, path, params, call->parambuf, sizeof(call->parambuf));
		memcpy(call->req.params, params, sizeof(params));
		call->route = found - routes;
	}
	return found;
}

/* The first certificate the client showed in the handshake (DER), or NULL. */
static const gnutls_datum_t *peer_certificate(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const gnutls_datum_t *peers;
	unsigned int n = 0;

	if (ci == NULL || ci->tls_session == NULL)
		return NULL;
	peers = gnutls_certificate_get_peers(ci->tls_session, &n);
	return peers != NULL && n > 0 ? &peers[0] : NULL;
}

/* Authenticates by the client certificate of the handshake (mutual TLS). */
static void authenticate_cert(struct req *r, const gnutls_datum_t *cert, struct resp *out)
{
	const struct snapshot *s = rbac_hold(r->srv->rbac);
	struct rbac_subject who;
	struct refusal why;
	char fp[65];
	int rc = bdl_der_fingerprint(cert->data, cert->size, fp) != 0
		     ? refusal_set(&why, "", "the certificate cannot be hashed")
		     : rbac_identify_key(s, fp, NULL, &who, &why);

	rbac_release(s);
	if (rc != 0) {
		resp_error(out, 401, "UNAUTHORIZED", NULL, "client certificate refused: %s",
			   why.message);
		return;
	}
	snprintf(r->who.id, sizeof(r->who.id), "%s", who.account_id);
	snprintf(r->who.name, sizeof(r->who.name), "%s", who.account);
	r->who.is_admin = who.is_admin;
	snprintf(r->key_id, sizeof(r->key_id), "%s", who.key_id);
}

/*
 * Reads "Authorization: Bearer <token>" and checks the token; without the
 * header, a client certificate from the handshake may stand in for it.
 */
static void authenticate(struct MHD_Connection *c, struct req *r, struct resp *out)
{
	const char *h =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const gnutls_datum_t *cert = h == NULL ? peer_certificate(c) : NULL;

	if (cert != NULL) {
		authenticate_cert(r, cert, out);
		return;
	}
	if (h == NULL) {
		resp_error(out, 401, "UNAUTHORIZED", NULL,
			   "authentication required: send Authorization: Bearer <token> "
			   "(from POST /auth/login)");
		resp_header(out, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
		return;
	}
	int rc = strncasecmp(h, "Bearer ", 7) != 0
		     ? -1
		     : session_check(r->srv->sessions, h + 7, &r->who, r->token_hash);

	/* the token may be live: the client must not be told to log in again */
	if (rc == STORE_UNAVAILABLE) {
		resp_error(out, 503, "STORE_UNAVAILABLE", NULL,
			   "the database is out of reach for now; try again");
		return;
	}
	if (rc != 0) {
		resp_error(out, 401, "UNAUTHORIZED", NULL,
			   "the token is invalid or has expired; log in again");
		resp_header(out, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			    "Bearer error=\"invalid_token\"");
	}
}

/* JSON bodies come as application/json, or as curl -d's default form type. */
static bool acceptable_type(const char *type)
{
	static const char *const ok[] = {"application/json", "application/x-www-form-urlencoded",
					 "text/plain"};
	size_t n;

	if (type == NULL)
		return true;
	n = strcspn(type, "; \t");
	/* vendor types such as the plugin protocol's application/vnd.docker.plugins.v1.2+json */
	if (n > 5 && strncasecmp(type + n - 5, "+json", 5) == 0)
		return true;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (n == strlen(ok[i]) && strncasecmp(type, ok[i], n) == 0)
			return true;
	return false;
}

static void parse_body(struct MHD_Connection *c, struct call *call, bool optional, struct resp *out)
{
	const char *type =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	json_error_t jerr;

	if (!acceptable_type(type)) {
		resp_error(out, 415, "UNSUPPORTED_MEDIA_TYPE", NULL,
			   "send the body as application/json");
		return;
	}
	if (call->len == 0 && optional) {
		call->req.body = json_object();
		return;
	}
	if (call->len == 0) {
		resp_error(out, 400, "INVALID_JSON", NULL, "the request needs a JSON object body");
		return;
	}
	call->req.body = json_loadb(call->body, call->len, JSON_REJECT_DUPLICATES, &jerr);
	if (call->req.body == NULL) {
		/* jansson quotes the text near the fault, which may be a password: not that */
		char *near = strstr(jerr.text, " near '");

		if (near != NULL)
			*near = '\0';
		resp_error(out, 400, "INVALID_JSON", NULL, "invalid JSON at line %d, column %d: %s",
			   jerr.line, jerr.column, jerr.text);
		return;
	}
	if (!json_is_object(call->req.body))
		resp_error(out, 400, "INVALID_JSON", NULL, "the body must be a JSON object");
}

/* Notes the first query parameter whose name or value hides a NUL byte. */
static enum MHD_Result find_nul(void *cls, enum MHD_ValueKind kind, const char *key,
				size_t key_size, const char *value, size_t value_size)
{
	const char **bad = cls;

	(void)kind;
	if (strlen(key) != key_size || (value != NULL && strlen(value) != value_size)) {
		*bad = key;
		return MHD_NO;
	}
	return MHD_YES;
}

/*
 * Query values reach handlers as C strings, so "%00" would cut one short
 * silently ("label=a%00b" read as "a"); such a request is refused whole.
 */
static int refuse_nul_in_query(struct MHD_Connection *c, struct resp *out)
{
	const char *bad = NULL;
	char shown[101];

	MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, find_nul, &bad);
	if (bad == NULL)
		return 0;
	resp_error(out, 400, "INVALID_FORM", bad, "%s: must not contain NUL bytes",
		   utf8_clean(shown, sizeof(shown), bad));
	return -1;
}

/* The /accounts paths also answer without the /enzi/v0 prefix. */
static const char *canonical_path(const char *url, char *buf, size_t len)
{
	if (strncmp(url, "/accounts", 9) == 0 && (url[9] == '\0' || url[9] == '/')) {
		snprintf(buf, len, "/enzi/v0%s", url);
		return buf;
	}
	return url;
}

/*
 * On an engines_only listener the handshake has checked the engine's
 * certificate (verify_engine). A connection it did not mark, such as one
 * that resumed an earlier TLS session and so skipped that check, has its
 * certificate checked here, and gets no decision without a good one.
 */
static int refuse_non_engine(struct MHD_Connection *c, const struct http_server *h,
			     struct resp *out)
{
	struct conn_state *cs = conn_state_of(c);
	const gnutls_datum_t *cert;
	struct refusal why = {"", "no certificate"};
	char name[256];

	if (!h->engines_only || (cs != NULL && cs->engine))
		return 0;
	cert = peer_certificate(c);
	if (cs != NULL && cert != NULL &&
	    bdl_verify_engine_plugin_cert(h->srv->tls->engine_trust, cert->data, cert->size, name,
					  sizeof(name), &why) == 0) {
		cs->engine = true;
		return 0;
	}
	resp_error(out, 401, "UNAUTHORIZED", NULL,
		   "this listener answers engines only (%s): present the certificate `authd "
		   "engine-tls --plugin-client` made for the engine",
		   why.message);
	return -1;
}

static void dispatch(struct MHD_Connection *c, struct call *call, const char *url,
		     const char *method, struct resp *out)
{
	struct req *r = &call->req;
	char allow[64], buf[2100], shown[201];
	const struct route *route;

	if (refuse_non_engine(c, call->h, out) != 0)
		return;
	if (strlen(url) > 2000) {
		resp_error(out, 404, "NOT_FOUND", NULL, "no such endpoint (the path is too long)");
		return;
	}
	url = canonical_path(url, buf, sizeof(buf));
	route = find_route(call, method, url, allow, sizeof(allow));
	/* what a path allows is no secret: OPTIONS answers it without credentials */
	if (route == NULL && allow[0] != '\0' && strcmp(method, "OPTIONS") == 0) {
		resp_header(out, "Allow", "%s", allow);
		out->status = 204;
		return;
	}
	if (route == NULL && allow[0] != '\0') {
		resp_error(out, 405, "METHOD_NOT_ALLOWED", NULL,
			   "%s is not allowed on %s (allowed: %s)", method, url, allow);
		resp_header(out, "Allow", "%s", allow);
		return;
	}
	if (route == NULL) {
		resp_error(out, 404, "NOT_FOUND", NULL, "no such endpoint: %s %s", method,
			   utf8_clean(shown, sizeof(shown), url));
		return;
	}
	/* until start-up has loaded what the store holds (main.c), nothing can be answered */
	if (!atomic_load(&call->h->srv->ready)) {
		resp_error(out, 503, "STORE_UNAVAILABLE", NULL,
			   "authd is starting and waits for its store; try again");
		return;
	}
	if (call->too_large) {
		resp_error(out, 413, "PAYLOAD_TOO_LARGE", NULL, "the body is over %zu bytes",
			   call->h->max_body);
		return;
	}
	if (refuse_nul_in_query(c, out) != 0)
		return;
	r->method = method;
	r->path = url;
	if (route->flags & R_AUTH) {
		authenticate(c, r, out);
		if (out->status != 0)
			return;
	}
	if (route->flags & R_BODY) {
		parse_body(c, call, route->flags & R_BODY_OPTIONAL, out);
		if (out->status != 0)
			return;
	}
	route->fn(r, out);
}

static void client_address(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(buf, len, "unknown");
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
			  (socklen_t)len);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			  (socklen_t)len);
}

/* Appends upload data, keeping at most max_body bytes; the rest is read and dropped. */
static void take_upload(struct call *call, const char *data, size_t n)
{
	char *grown;

	if (call->too_large)
		return;
	if (call->len + n > call->h->max_body) {
		call->too_large = true;
		free(call->body);
		call->body = NULL;
		call->len = 0;
		return;
	}
	grown = realloc(call->body, call->len + n + 1);
	if (grown == NULL) {
		call->too_large = true; /* refused rather than half-read */
		return;
	}
	memcpy(grown + call->len, data, n);
	call->body = grown;
	call->len += n;
}

static struct call *call_new(struct http_server *h, struct MHD_Connection *c, const char *url)
{
	const struct conn_state *cs = conn_state_of(c);
	struct call *call = calloc(1, sizeof(*call));

	if (call == NULL)
		return NULL;
	call->h = h;
	call->started_ns = monotonic_ns();
	call->route = -1;
	/* without a state (out of memory) the decoded path stands in for the target */
	call->target_len = cs ? cs->target_len : strlen(url);
	call->query_params = cs ? cs->query_params : 0;
	atomic_fetch_add(&h->srv->inflight, 1);
	call->req.srv = h->srv;
	call->req.conn = c;
	client_address(c, call->req.client, sizeof(call->req.client));
	return call;
}

/* The query's parameters as libmicrohttpd records them: the pieces between its '&'. */
static size_t count_query_params(const char *uri)
{
	const char *q = strchr(uri, '?');
	size_t n = 1;

	if (q == NULL || q[1] == '\0')
		return 0;
	for (q++; *q != '\0'; q++)
		if (*q == '&' && q[1] != '\0')
			n++;
	return n;
}

/* 414 when the target is over its limits, and the connection closes after the answer. */
static bool refuse_target(size_t len, size_t params, struct resp *out)
{
	if (len > MAX_TARGET)
		resp_error(out, 414, "URI_TOO_LONG", NULL,
			   "the request target is %zu bytes; at most %d are read", len, MAX_TARGET);
	else if (params > MAX_QUERY_PARAMS)
		resp_error(out, 414, "URI_TOO_LONG", NULL,
			   "the request target has %zu query parameters; at most %d are read",
			   params, MAX_QUERY_PARAMS);
	else
		return false;
	/* the rest of such a request is not read, so the connection cannot carry another */
	resp_header(out, MHD_HTTP_HEADER_CONNECTION, "close");
	return true;
}

/*
 * Only here does libmicrohttpd show the request target as sent, before it
 * splits off the query and decodes both, and before it records the query's
 * parameters, which it may have no room for (CONNECTION_MEMORY): a target
 * over its limits is answered here. The method is not known yet, so a HEAD
 * gets the body too, on a connection that ends with it.
 */
static void *on_target(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct conn_state *cs = conn_state_of(c);
	struct resp out;

	if (cs == NULL)
		return NULL;
	cs->target_len = strlen(uri);
	cs->query_params = count_query_params(uri);
	memset(&out, 0, sizeof(out));
	if (refuse_target(cs->target_len, cs->query_params, &out)) {
		send_directly(c, cls, monotonic_ns(), &out, false);
		cs->answered = true;
	}
	return NULL;
}

struct head_size {
	size_t bytes, fields;
};

static enum MHD_Result count_field(void *cls, enum MHD_ValueKind kind, const char *key,
				   size_t key_size, const char *value, size_t value_size)
{
	struct head_size *hs = cls;

	(void)kind;
	(void)key;
	(void)value;
	hs->bytes += key_size + value_size + 4; /* "key: value\r\n" */
	hs->fields++;
	return MHD_YES;
}

/* 414 or 431 when the head is over its limits, and the connection closes after the answer. */
static bool refuse_large_head(struct MHD_Connection *c, const struct call *call, const char *method,
			      const char *version, struct resp *out)
{
	struct head_size hs = {strlen(method) + call->target_len + strlen(version) + 4, 0};

	if (refuse_target(call->target_len, call->query_params, out))
		return true;
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, count_field, &hs);
	if (hs.bytes <= MAX_HEAD && hs.fields <= MAX_FIELDS)
		return false;
	resp_error(out, 431, "HEADERS_TOO_LARGE", NULL,
		   "the request line and header fields are %zu bytes in %zu fields; at most "
		   "%d bytes in %d fields are read",
		   hs.bytes, hs.fields, MAX_HEAD, MAX_FIELDS);
	resp_header(out, MHD_HTTP_HEADER_CONNECTION, "close");
	return true;
}

/* The first callback, with the head: what can be refused before the body is read. */
static enum MHD_Result begin(struct MHD_Connection *c, struct call *call, const char *method,
			     const char *version)
{
	const char *cl =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct resp out;

	memset(&out, 0, sizeof(out));
	call->begun = true;
	/* a head that fits only just leaves libmicrohttpd no room to answer it (CONNECTION_MEMORY)
	 */
	if (refuse_large_head(c, call, method, version, &out))
		return send_directly(c, call->h, call->started_ns, &out,
				     strcmp(method, MHD_HTTP_METHOD_HEAD) == 0);
	/* refuse before reading when the length is announced */
	if (cl != NULL && strtoull(cl, NULL, 10) > call->h->max_body) {
		resp_error(&out, 413, "PAYLOAD_TOO_LARGE", NULL, "the body is over %zu bytes",
			   call->h->max_body);
		return send_resp(c, call, &out);
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	const struct conn_state *cs = conn_state_of(c);
	struct call *call = *con_cls;
	struct resp out;

	if (call == NULL) {
		/* answered from its target already: libmicrohttpd closes the connection */
		if (cs != NULL && cs->answered)
			return MHD_NO;
		call = call_new(cls, c, url);
		if (call == NULL)
			return MHD_NO;
		*con_cls = call;
	}
	if (!call->begun)
		return begin(c, call, method, version);
	if (*upload_size > 0) {
		take_upload(call, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	memset(&out, 0, sizeof(out));
	dispatch(c, call, url, method, &out);
	return send_resp(c, call, &out);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *h = cls;
	struct call *call = *con_cls;

	(void)c;
	(void)toe;
	if (call == NULL)
		return;
	json_decref(call->req.body);
	free(call->body);
	free(call);
	*con_cls = NULL;
	atomic_fetch_sub(&h->srv->inflight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct conn_state *cs = *socket_context;

	(void)c;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		cs = calloc(1, sizeof(struct conn_state));
		if (cs != NULL)
			cs->h = cls;
		*socket_context = cs;
		return;
	}
	/* closed: libmicrohttpd has deinitialised the TLS session already */
	if (cs != NULL)
		servercert_put(cs->cert);
	free(cs);
	*socket_context = NULL;
}

/*
 * GnuTLS's verification of the client's certificate chain, on an
 * engines_only listener: the handshake fails unless the client shows an
 * engine's plugin-client certificate from the cluster CA (README, "Engines on
 * other hosts"), so that nothing else reaches the plugin protocol.
 */
static int verify_engine(gnutls_session_t session)
{
	struct MHD_Connection *c = gnutls_session_get_ptr(session);
	struct conn_state *cs = c ? conn_state_of(c) : NULL;
	const gnutls_datum_t *peers;
	unsigned int n = 0;
	struct refusal why = {"", "no certificate"};
	char name[256], from[64];

	if (cs == NULL || cs->h == NULL)
		return -1;
	peers = gnutls_certificate_get_peers(session, &n);
	if (peers != NULL && n > 0 &&
	    bdl_verify_engine_plugin_cert(cs->h->srv->tls->engine_trust, peers[0].data,
					  peers[0].size, name, sizeof(name), &why) == 0) {
		cs->engine = true;
		return 0;
	}
	client_address(c, from, sizeof(from));
	log_msg(LOG_WARN, "authz.listen: refused the TLS handshake of %s: %s", from, why.message);
	return -1;
}

/*
 * libmicrohttpd's MHD_OPTION_HTTPS_CERT_CALLBACK. libmicrohttpd makes the
 * connection the TLS session's pointer, which leads to the connection's
 * state; a connection without it (out of memory) gets no certificate, and
 * its handshake fails rather than serve one nobody holds.
 */
static int on_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		   const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
		   unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct MHD_Connection *c = gnutls_session_get_ptr(session);
	struct conn_state *t = c ? conn_state_of(c) : NULL;

	(void)req_ca_dn;
	(void)nreqs;
	(void)algos;
	(void)nalgos;
	if (t == NULL)
		return -1;
	/* refusing unauthenticated engines: a certificate is required, and checked */
	if (t->h != NULL && t->h->engines_only) {
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
		gnutls_session_set_verify_function(session, verify_engine);
	}
	if (t->cert == NULL)
		t->cert = servercert_take();
	if (t->cert == NULL)
		return -1;
	servercert_parts(t->cert, pcert, pcert_length, pkey);
	return 0;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_msg(LOG_DEBUG, "http: %s", line);
}

static int listen_addr(const char *host, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return AF_INET6;
	}
	return -1;
}

/*
 * A TLS daemon for h on host:port, serving servercert.c's certificate and
 * asking clients for a certificate from trust_pem; per_ip caps one address's
 * connections (0: no cap).
 */
static int start_tls(struct http_server *h, const char *host, int port, const char *trust_pem,
		     unsigned int per_ip, struct failure *err)
{
	struct sockaddr_storage ss;
	/*
	 * A thread per connection: a handler may wait (a password hashing in turn, an
	 * LDAP round trip, SQLite's write lock), and in a pool that wait would stall
	 * every other connection its thread serves, reads and decisions included.
	 */
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			     MHD_USE_POLL | MHD_USE_TLS | MHD_USE_ITC | MHD_USE_ERROR_LOG;

	if (listen_addr(host, port, &ss) == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->daemon = MHD_start_daemon(
	    flags, (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_HTTPS_CERT_CALLBACK, on_cert,
	    MHD_OPTION_HTTPS_MEM_TRUST, trust_pem, MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    CONNECTION_MEMORY, MHD_OPTION_URI_LOG_CALLBACK, on_target, h,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
	if (h->daemon != NULL)
		return 0;
	return failure_set(err, "cannot listen on %s%s%s:%d: %s", strchr(host, ':') ? "[" : "",
			   host, strchr(host, ':') ? "]" : "", port,
			   errno ? strerror(errno) : "TLS or socket setup failed");
}

static struct http_server *server_new(struct server *srv, const struct route *routes, size_t n,
				      struct http_stats *stats, size_t max_body)
{
	struct http_server *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->srv = srv;
	h->routes = routes;
	h->nroutes = n;
	h->stats = stats;
	h->max_body = max_body;
	return h;
}

struct http_server *http_start(struct server *srv, const struct route *routes, size_t n,
			       struct http_stats *stats, struct failure *err)
{
	struct http_server *h = server_new(srv, routes, n, stats, MAX_BODY);

	if (h == NULL) {
		failure_set(err, "out of memory");
		return NULL;
	}
	/* asks clients for a bundle certificate; rbac_identify_cert decides what it proves */
	if (start_tls(h, srv->cfg->listen_host, srv->cfg->listen_port, srv->tls->cas_pem, 256,
		      err) != 0) {
		free(h);
		return NULL;
	}
	return h;
}

struct http_server *http_start_engines(struct server *srv, const struct route *routes, size_t n,
				       struct http_stats *stats, struct failure *err)
{
	struct http_server *h = server_new(srv, routes, n, stats, PLUGIN_MAX_BODY);

	if (h == NULL) {
		failure_set(err, "out of memory");
		return NULL;
	}
	h->engines_only = true;
	/*
	 * Engines' certificates come from the cluster CA; behind a load balancer
	 * every engine comes from one address, so none is capped per address.
	 */
	if (start_tls(h, srv->cfg->authz_listen_host, srv->cfg->authz_listen_port,
		      srv->tls->cluster_pem, 0, err) != 0) {
		free(h);
		return NULL;
	}
	return h;
}

/* A listening unix socket at path, replacing a stale one; -1 with err set. */
static int unix_listener(const char *path, struct failure *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		failure_set(err, "authz.socket: path too long");
		return -1;
	}
	strcpy(sa.sun_path, path);
	/* a socket left by a crash is ours to replace; anything else is not */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0660) != 0 ||
	    listen(fd, 128) != 0) {
		failure_set(err, "authz.socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct http_server *http_start_plugin(struct server *srv, const struct route *routes, size_t n,
				      struct http_stats *stats, struct failure *err)
{
	struct http_server *h = server_new(srv, routes, n, stats, PLUGIN_MAX_BODY);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int fd;

	if (h == NULL || (h->socket_path = strdup(srv->cfg->authz_socket)) == NULL) {
		free(h);
		failure_set(err, "out of memory");
		return NULL;
	}
	fd = unix_listener(h->socket_path, err);
	if (fd >= 0)
		h->daemon = MHD_start_daemon(
		    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			MHD_USE_ERROR_LOG,
		    0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(cores > 0 ? 2 * cores : 2),
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY,
		    MHD_OPTION_URI_LOG_CALLBACK, on_target, h, MHD_OPTION_NOTIFY_COMPLETED,
		    on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
	if (h->daemon == NULL) {
		if (fd >= 0) {
			failure_set(err, "cannot serve %s", h->socket_path);
			close(fd);
			unlink(h->socket_path);
		}
		free(h->socket_path);
		free(h);
		return NULL;
	}
	return h;
}

void http_stop(struct http_server *h, int grace_seconds)
{
	MHD_socket fd;
	struct timespec tick = {0, 20 * 1000 * 1000};

	if (h == NULL)
		return;
	fd = MHD_quiesce_daemon(h->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	for (int waited = 0; atomic_load(&h->srv->inflight) > 0 && waited < grace_seconds * 50;
	     waited++)
		nanosleep(&tick, NULL);
	MHD_stop_daemon(h->daemon);
	if (h->socket_path != NULL)
		unlink(h->socket_path);
	free(h->socket_path);
	free(h);
}
