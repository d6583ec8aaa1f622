/*
 * The replicas' health and membership (cluster.h).
 *
 * A health check comes every second from every load balancer, so /_ping
 * reads two times others keep: store_ok_ms, which main.c's tick (or on a
 * shared store the change follower, changes.c) sets when the store answers
 * what makes the snapshot current, and store_seen_ms, which the tick sets
 * when the store answers at all. The first decides, with the same limit as
 * decisions (authz.maxStaleSeconds), so that a load balancer takes a replica
 * out exactly when its decisions would start denying; the second tells an
 * unreachable store from a follower that fell behind. A snapshot withdrawn
 * after a failed rebuild does not count: within that limit, it comes back
 * within a second of the store's return, and the replica's reads, and
 * whatever needs no store, are served meanwhile.
 *
 * Each replica writes only its own row, at most once every
 * CLUSTER_REFRESH_SECONDS: N replicas cost the store N small writes per
 * period, whatever the number of readers of the list.
 */
#include <string.h>

#include "changes.h"
#include "cluster.h"
#include "store/store.h"

/* The tick had an answer this recently (it asks every second): the store is there */
#define SEEN_RECENTLY_MS 3000
#define PRUNE_TICKS 60

int64_t cluster_store_away_seconds(struct server *srv)
{
	int64_t ok_ms = atomic_load(&srv->store_ok_ms);

	return ok_ms == 0 ? 0 : (monotonic_ms() - ok_ms) / 1000;
}

bool cluster_can_serve(struct server *srv, struct cluster_health *why)
{
	int64_t away = cluster_store_away_seconds(srv);
	int64_t seen_ms = atomic_load(&srv->store_seen_ms);
	int limit = srv->cfg->authz_max_stale_seconds;

	if (away <= limit)
		return true;
	if (monotonic_ms() - seen_ms > SEEN_RECENTLY_MS) {
		why->code = "STORE_UNAVAILABLE";
		snprintf(why->message, sizeof(why->message),
			 "the store has not answered for %lld s (authz.maxStaleSeconds is %d)",
			 (long long)away, limit);
		return false;
	}
	why->code = "SNAPSHOT_STALE";
	snprintf(why->message, sizeof(why->message),
		 "the store answers, but the change sequence was last read %lld s ago "
		 "(authz.maxStaleSeconds is %d)",
		 (long long)away, limit);
	return false;
}

/* This replica's row as it is now. */
static void own_row(struct server *srv, struct store_replica *r)
{
	struct changes_stats st;

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", srv->replica);
	snprintf(r->version, sizeof(r->version), "%s", AUTHD_VERSION);
	r->started_at = srv->started_at;
	r->seen_at = now_seconds();
	r->seq = changes_stats(srv, &st) ? st.seq : 0;
}

static void refresh(struct server *srv)
{
	static bool failed; /* only the tick's thread writes: said once per outage */
	struct store_replica r;

	own_row(srv, &r);
	if (store_replica_put(&r) == STORE_OK) {
		failed = false;
		return;
	}
	if (!failed)
		log_msg(LOG_WARN, "cluster: this replica's row could not be written; "
				  "GET /api/cluster shows it as of its last write");
	failed = true;
}

void cluster_join(struct server *srv)
{
	srv->started_at = now_seconds();
	refresh(srv);
}

void cluster_tick(struct server *srv, unsigned ticks)
{
	if (ticks % CLUSTER_REFRESH_SECONDS == 0)
		refresh(srv);
	if (ticks % PRUNE_TICKS == 0)
		store_replicas_prune(now_seconds() - CLUSTER_FORGET_SECONDS);
}

static json_t *replica_json(const struct store_replica *r, int64_t now)
{
	char started[32], seen[32];

	format_time(r->started_at, started, sizeof(started));
	format_time(r->seen_at, seen, sizeof(seen));
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:b}", "name", r->name, "version", r->version,
			 "startedAt", started, "appliedSeq", (json_int_t)r->seq, "lastSeen", seen,
			 "live", now - r->seen_at <= CLUSTER_LIVE_SECONDS);
}

struct listing {
	struct server *srv;
	json_t *items;
	int64_t now;
	bool self; /* this replica's row was met */
};

static int add_row(const struct store_replica *r, void *ctx)
{
	struct listing *l = ctx;
	struct store_replica own;

	if (r->seen_at < l->now - CLUSTER_FORGET_SECONDS)
		return 0;
	/* this one's row may be a few seconds old: what it knows now instead */
	if (strcmp(r->name, l->srv->replica) == 0) {
		own_row(l->srv, &own);
		l->self = true;
		r = &own;
	}
	return json_array_append_new(l->items, replica_json(r, l->now)) == 0 ? 0 : -1;
}

int cluster_list(struct server *srv, json_t **out)
{
	struct listing l = {srv, json_array(), now_seconds(), false};
	struct store_replica own;
	int rc;

	if (l.items == NULL)
		return STORE_ERROR;
	rc = store_replicas_each(add_row, &l);
	/* a row whose write failed (a full disk): this one is here all the same */
	if (rc == STORE_OK && !l.self) {
		own_row(srv, &own);
		json_array_append_new(l.items, replica_json(&own, l.now));
	}
	if (rc != STORE_OK) {
		json_decref(l.items);
		return rc;
	}
	*out = l.items;
	return STORE_OK;
}
