/*
 * This process among the replicas on its store: whether it can serve
 * (GET /_ping, and the decisions' stale rule), and its row in the store's
 * list of replicas (GET /api/cluster), which it writes at start and keeps
 * fresh from main.c's once-a-second tick.
 */
#ifndef AUTHD_CLUSTER_H
#define AUTHD_CLUSTER_H

#include "authd.h"

/* How often a replica writes its row, how long a row counts as live, and when it is dropped. */
#define CLUSTER_REFRESH_SECONDS 5
#define CLUSTER_LIVE_SECONDS (3 * CLUSTER_REFRESH_SECONDS)
#define CLUSTER_FORGET_SECONDS 3600

/*
 * Seconds since the store last answered what makes the snapshot current:
 * main.c's tick, or where replicas share the store, the change follower's
 * read of the sequence. 0 while nothing watches it (before the first tick).
 */
int64_t cluster_store_away_seconds(struct server *srv);

/*
 * Whether this replica can serve: the store answered within
 * authz.maxStaleSeconds (the sequence too, on a shared store). When it cannot, code
 * and message say why, as a 503's error. Reads only what the tick and the
 * follower recorded: no store round trip.
 */
struct cluster_health {
	const char *code; /* STORE_UNAVAILABLE or SNAPSHOT_STALE */
	char message[256];
};
bool cluster_can_serve(struct server *srv, struct cluster_health *why);

/* Writes this replica's row (at start, once loaded); a failure is logged. */
void cluster_join(struct server *srv);
/* From main.c's tick, when the store answered: the row every CLUSTER_REFRESH_SECONDS ticks,
 * and the rows unseen for CLUSTER_FORGET_SECONDS deleted once a minute. */
void cluster_tick(struct server *srv, unsigned ticks);

/*
 * The replicas seen within CLUSTER_FORGET_SECONDS, by name, this one with
 * what it knows now: a JSON array in *out, or a store failure (< 0).
 */
int cluster_list(struct server *srv, json_t **out);

#endif
