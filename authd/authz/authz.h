/*
 * The authorization point (SPEC §8): one decision function shared by the
 * engine plugin protocol on authz.socket and the decision API for proxies.
 */
#ifndef AUTHD_AUTHZ_H
#define AUTHD_AUTHZ_H

#include <stdio.h>

#include "rbac.h"

/* Bytes of a request's own text (URI, label) that a message or an audit line quotes. */
#define AUTHZ_SHOWN_MAX 200

struct authz_call {
	const char *method;
	const char *uri;
	const unsigned char *body; /* may be NULL */
	size_t body_len;
	bool body_withheld; /* the engine had a body but did not show it (over 1 MiB, not JSON) */
	const struct rbac_subject *who;
	const struct snapshot *snapshot; /* held by the caller for the whole decision */
};

struct authz_outcome {
	bool allow;
	char msg[512];
	char operation[96];
	char collection[2048];
	char role[NAME_LEN];
};

/*
 * Decisions since start by outcome and operation, for GET /metrics, counted
 * without a lock. The operations are those of the Engine API's route table
 * (dockerapi.h); a decision that names none (a route authd does not know, a
 * URI it refuses, a sender not identified, the local socket) is "other".
 */
struct authz_stats;
struct authz_stats *authz_stats_new(void);
void authz_stats_free(struct authz_stats *s);
/* The family authd_authz_decisions_total, a sample per outcome and operation counted. */
void authz_stats_write(FILE *f, const struct authz_stats *s);

/* Decides, counts and audits one request. */
void authz_decide(struct server *srv, const struct authz_call *c, struct authz_outcome *o);
/* Counts and audits a decision made before authz_decide could be asked; who may be NULL. */
void authz_record(struct server *srv, const struct rbac_subject *who, const char *method,
		  const char *path, const struct authz_outcome *o);

#endif
