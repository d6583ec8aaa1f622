/*
 * The one path by which a change that affects sessions or decisions reaches
 * the caches and the authorization snapshot. Every write path announces what
 * it changed here, once, after its transaction committed; nothing else drops
 * cached callers, rebuilds the snapshot, touches the key index or reloads the
 * LDAP settings.
 */
#ifndef AUTHD_CHANGES_H
#define AUTHD_CHANGES_H

#include "authd.h"
#include "metrics.h"
#include "session_settings.h"
#include "store/store.h"

enum change_kind {
	CHANGE_ACCOUNTS = 1 << 0,    /* an account was made, changed or deleted */
	CHANGE_MEMBERSHIPS = 1 << 1, /* who is in which org or team */
	CHANGE_KEYS = 1 << 2, /* a bundle key was stored or deleted (key_added, key_removed) */
	CHANGE_GRANTS = 1 << 3,
	CHANGE_ROLES = 1 << 4,
	CHANGE_COLLECTIONS = 1 << 5,
	CHANGE_SETTINGS = 1 << 6,	  /* the backend, the default role or the LDAP settings */
	CHANGE_SESSIONS = 1 << 7,	  /* sessions ended (session, or account's but keep) */
	CHANGE_SESSION_SETTINGS = 1 << 8, /* the session settings are session_settings */
	CHANGE_CERTS = 1 << 9, /* the served certificate was replaced in the store (an upload) */
};

struct change {
	unsigned what; /* CHANGE_* bits */
	const struct pubkey *key_added;
	const char *key_removed; /* the deleted key's fingerprint */
	const unsigned char *session;
	const char *account; /* whose sessions ended, all but `keep` (may be NULL) */
	const unsigned char *keep;
	const struct session_settings *session_settings;
};

/*
 * Makes the change take effect for the next request and decision of this
 * process, and, while it follows other replicas, records it for them.
 */
void changes_announce(struct server *srv, const struct change *c);

/*
 * Replicas on one store (PostgreSQL; nothing of this runs on SQLite). Before
 * loading what the store feeds, main.c reads the sequence's newest seq, and
 * once loaded, follows the changes after it: other replicas' changes take
 * effect here within a second, and each successful poll of the sequence
 * sets srv->store_ok_ms. 0, or -1 with err.
 */
int changes_follow_from(int64_t *since);
int changes_follow(struct server *srv, int64_t since, struct failure *err);
/* Stops following; before the store closes. */
void changes_unfollow(struct server *srv);

/* For GET /metrics: false when this process follows no other. */
struct changes_stats {
	struct hist_counts lag; /* from a change's record elsewhere to its effect here */
	uint64_t applied, resyncs;
	int64_t seq; /* the newest seq applied */
};
bool changes_stats(struct server *srv, struct changes_stats *out);

#endif
