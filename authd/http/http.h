/*
 * What a handler sees of HTTP: a parsed request and a response to fill.
 * Handlers never call libmicrohttpd; http.c turns the response into bytes.
 */
#ifndef AUTHD_HTTP_H
#define AUTHD_HTTP_H

#include <stdio.h>

#include "authd.h"
#include "session.h"

#define MAX_PARAMS 4
#define MAX_HEADERS 4

struct req {
	struct server *srv;
	void *conn; /* the MHD connection, for query lookups in http.c */
	const char *method;
	const char *path;
	const char *params[MAX_PARAMS]; /* the {…} segments of the route, in order */
	json_t *body;			/* the parsed JSON object, when the route takes one */
	struct principal who;		/* the caller; who.id[0] == '\0' when anonymous */
	unsigned char token_hash[32];	/* of the bearer token that authenticated, if any */
	char key_id[ID_LEN];		/* of the bundle certificate that authenticated, if any */
	char client[64];		/* the peer's address, for throttling and audit */
};

struct resp {
	unsigned status;
	json_t *json;	      /* owned; sent when set */
	char *text;	      /* owned; sent when json is NULL */
	unsigned char *bytes; /* owned, zeroed when freed; sent when json and text are NULL */
	size_t nbytes;
	const char *type; /* content type for text */
	struct {
		const char *name;
		char *value; /* owned */
	} headers[MAX_HEADERS];
	int nheaders;
};

typedef void (*handler_fn)(struct req *r, struct resp *out);

enum {
	R_AUTH = 1,	     /* needs a bearer token */
	R_BODY = 2,	     /* takes a JSON object body */
	R_BODY_OPTIONAL = 4, /* ... and no body means {} */
};

struct route {
	const char *method;
	const char *pattern; /* segments; "{}" matches one */
	handler_fn fn;
	int flags;
};

/* A query parameter, or NULL. */
const char *req_query(struct req *r, const char *name);
/* Calls fn with each query parameter in the order sent ("" for one without a value). */
void req_query_each(struct req *r, void (*fn)(const char *name, const char *value, void *ctx),
		    void *ctx);
/* A request header, or NULL. */
const char *req_header(struct req *r, const char *name);

/* Sets a JSON body (taking ownership) and the status. */
void resp_json(struct resp *out, unsigned status, json_t *body);
/* Sets the SPEC §2 error shape; `field` may be NULL. */
void resp_error(struct resp *out, unsigned status, const char *code, const char *field,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Adds key to the detail of the error just set, taking ownership of value. */
void resp_error_detail(struct resp *out, const char *key, json_t *value);
void resp_header(struct resp *out, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Shorthands for the common refusals. */
void resp_forbidden(struct resp *out);
/* 500 INTERNAL: something failed that the client cannot help (the log says what). */
void resp_internal(struct resp *out);
void resp_not_found(struct resp *out, const char *what, const char *key);

/*
 * What a listener answered (http_stats.c), per route of its table: how many
 * answers of each status, and how long each request took from its head to
 * its answer. Requests no route served (a 404, a 405, an OPTIONS, a head
 * refused before routing) count under the one route "other", so that the
 * labels are the table's patterns, never the paths clients send.
 */
struct http_stats;
/* For a route table; NULL when memory runs out. */
struct http_stats *http_stats_new(const struct route *routes, size_t n);
void http_stats_free(struct http_stats *s);
/* Counts an answer; route is its index in the table, -1 for "other". Lock-free. */
void http_stats_count(struct http_stats *s, long route, unsigned status, int64_t ns);
/*
 * The families authd_http_requests_total and
 * authd_http_request_duration_seconds over the stats of every listener (n of
 * them, NULL for one that does not run), whose "other" routes add up.
 */
void http_stats_write(FILE *f, struct http_stats *const *all, size_t n);

/*
 * Serves the routes over HTTPS with the certificate of servercert.c; set one
 * before starting. stats, made for the same table, counts its answers (NULL: nothing).
 */
struct http_server *http_start(struct server *srv, const struct route *routes, size_t n,
			       struct http_stats *stats, struct failure *err);
/* Serves the routes (the engine plugin protocol) on the unix socket authz.socket. */
struct http_server *http_start_plugin(struct server *srv, const struct route *routes, size_t n,
				      struct http_stats *stats, struct failure *err);
/*
 * Serves the routes (the engine plugin protocol) over TLS on authz.listen, to
 * engines only: a client without an engine's plugin-client certificate from
 * the cluster CA fails the handshake.
 */
struct http_server *http_start_engines(struct server *srv, const struct route *routes, size_t n,
				       struct http_stats *stats, struct failure *err);
/* Stops accepting, waits for in-flight requests (at most `grace_seconds`), stops. */
void http_stop(struct http_server *h, int grace_seconds);

#endif
