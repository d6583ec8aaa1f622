/*
 * The authorization point (SPEC §8): one decision function shared by the
 * engine plugin protocol on authz.socket and the decision API for proxies.
 */
#ifndef AUTHD_AUTHZ_H
#define AUTHD_AUTHZ_H

#include "http/http.h"
#include "rbac.h"

struct authz_call {
	const char *method;
	const char *uri;
	const unsigned char *body; /* may be NULL */
	size_t body_len;
	bool body_withheld; /* the engine had a body but did not show it (over 1 MiB, not JSON) */
	const struct rbac_subject *who;
};

struct authz_outcome {
	bool allow;
	char msg[512];
	char operation[96];
	char collection[2048];
	char role[NAME_LEN];
};

void authz_decide(struct server *srv, const struct authz_call *c, struct authz_outcome *o);

/* Handlers: the plugin protocol, and POST /api/authz. */
void api_plugin_activate(struct req *r, struct resp *out);
void api_plugin_authz_req(struct req *r, struct resp *out);
void api_plugin_authz_res(struct req *r, struct resp *out);
void api_authz(struct req *r, struct resp *out);

#endif
