/*
 * Change announcements. What each kind of change must reach:
 *   accounts             cached callers (their admin and active flags), the snapshot
 *   memberships, grants,
 *   roles, collections   the snapshot
 *   keys                 the key index, in place (one per bundle is too often to rebuild)
 *   settings             the cached LDAP settings
 *   sessions             the session cache forgets the ended ones
 *   session settings     the session cache, which ends what they end
 *   certs                the served certificate, read again from the store where
 *                        replicas share it (an upload on another replica)
 * The snapshot is rebuilt once, however many of its kinds one change has.
 *
 * On a store several processes share (PostgreSQL), each announced change is
 * also recorded in the store's change sequence, which notifies the others;
 * each replica follows the sequence (a thread here, woken by the
 * notification and polling every POLL_MS besides) and makes another's
 * change take effect as its own announcement would, without recording it
 * again.
 *
 * A change is recorded after its write committed, in a transaction of its
 * own: a crash between the two, or a store lost right then, leaves a write
 * no record names. The follower therefore also makes everything it caches
 * the store's again every RESYNC_MS (and whenever the sequence skips a seq),
 * so that such a write reaches the other replicas late, but surely. Writing
 * the record in the write's own transaction would close that gap, but every
 * write path would then need its own recording, where today they share this
 * one announcement.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "authz/rbac.h"
#include "http/tls.h"
#include "ldap_config.h"
#include "metrics.h"
#include "session.h"

#define SNAPSHOT_KINDS                                                                             \
	(CHANGE_ACCOUNTS | CHANGE_MEMBERSHIPS | CHANGE_GRANTS | CHANGE_ROLES | CHANGE_COLLECTIONS)
/* what a follower applies change by change; the rest reloads whole caches, once per batch */
#define PER_CHANGE (CHANGE_SESSIONS | CHANGE_KEYS)
#define POLL_MS 500
#define BATCH 256
#define RESYNC_MS 60000
#define KEEP_MS (3600 * 1000) /* the sequence's rows older than this are deleted */

struct follower {
	struct server *srv;
	pthread_t thread;
	atomic_bool stop;
	int64_t last;	   /* the newest seq applied (or skipped, as this process's own) */
	int64_t resync_at; /* monotonic ms of the next full resync */
	struct store_change *batch;
	size_t n;
	struct hist lag;	  /* from a change's record to its effect here */
	atomic_ullong applied;	  /* other replicas' changes applied */
	atomic_ullong resyncs;	  /* full resyncs */
	atomic_llong applied_seq; /* f->last, for /metrics */
};

/* The effects of a change on this process's caches and snapshot. */
static void take_effect(struct server *srv, const struct change *c)
{
	if (c->what & CHANGE_SESSIONS) {
		/* first, so that no request still finds an ended session while the rest runs */
		if (c->session != NULL)
			session_forget(srv->sessions, c->session);
		if (c->account != NULL)
			session_forget_account(srv->sessions, c->account, c->keep);
	}
	if ((c->what & CHANGE_SESSION_SETTINGS) && c->session_settings != NULL)
		sessions_configure(srv->sessions, c->session_settings);
	if (c->what & CHANGE_KEYS) {
		if (c->key_added != NULL)
			rbac_key_added(srv->rbac, c->key_added);
		if (c->key_removed != NULL)
			rbac_key_removed(srv->rbac, c->key_removed);
	}
	if (c->what & CHANGE_SETTINGS)
		ldap_config_changed(srv);
	if (c->what & CHANGE_ACCOUNTS)
		sessions_accounts_changed(srv->sessions);
	if (c->what & SNAPSHOT_KINDS)
		rbac_refresh(srv->rbac);
	if (c->what & CHANGE_CERTS)
		tls_reload_served(srv->cfg, srv->store_key, srv->tls);
}

static void hex_of(const unsigned char *hash, char out[65])
{
	out[0] = '\0';
	if (hash != NULL)
		OPENSSL_buf2hexstr_ex(out, 65, NULL, hash, 32, '\0');
}

/* Records c for the other replicas; a failure is logged, and the resync covers it. */
static void record(struct server *srv, const struct change *c)
{
	struct store_change r = {.what = c->what};

	snprintf(r.origin, sizeof(r.origin), "%s", srv->instance);
	snprintf(r.replica, sizeof(r.replica), "%s", srv->replica);
	hex_of(c->session, r.session);
	hex_of(c->keep, r.keep);
	if (c->account != NULL)
		snprintf(r.account, sizeof(r.account), "%s", c->account);
	if (c->key_added != NULL) {
		snprintf(r.key_account, sizeof(r.key_account), "%s", c->key_added->account_id);
		snprintf(r.key_id, sizeof(r.key_id), "%s", c->key_added->id);
	}
	if (c->key_removed != NULL)
		snprintf(r.key_removed, sizeof(r.key_removed), "%s", c->key_removed);
	if (store_change_record(&r) != STORE_OK)
		log_msg(LOG_WARN, "changes: a change could not be recorded for the other replicas; "
				  "they see it at their next full resync");
}

void changes_announce(struct server *srv, const struct change *c)
{
	take_effect(srv, c);
	if (srv->follower != NULL)
		record(srv, c);
}

/* ---- following the other replicas ---- */

static bool hash_of(const char *hex, unsigned char out[32])
{
	size_t len = 0;

	return hex[0] != '\0' && OPENSSL_hexstr2buf_ex(out, 32, &len, hex, '\0') == 1 && len == 32;
}

/*
 * Another replica's change, made to take effect here as its announcement did
 * there: what names one session or key at once; the kinds that reload or
 * rebuild a whole cache are answered with their bits, for once per batch.
 */
static unsigned apply(struct server *srv, const struct store_change *r)
{
	static struct pubkey key; /* large; only the follower's thread uses it */
	unsigned char session[32], keep[32];
	struct change c = {.what = r->what & PER_CHANGE};

	if (hash_of(r->session, session))
		c.session = session;
	if (hash_of(r->keep, keep))
		c.keep = keep;
	if (r->account[0] != '\0')
		c.account = r->account;
	/* a key deleted since is not found, and its own change revokes it */
	if (r->key_id[0] != '\0' && store_key_get(r->key_account, r->key_id, &key) == STORE_OK)
		c.key_added = &key;
	if (r->key_removed[0] != '\0')
		c.key_removed = r->key_removed;
	take_effect(srv, &c);
	return r->what & ~PER_CHANGE;
}

/* The whole-cache kinds of a batch's changes, once: a burst rebuilds the snapshot once. */
static void apply_whole(struct server *srv, unsigned what)
{
	struct session_settings set;
	struct change c = {.what = what};

	if ((what & CHANGE_SESSION_SETTINGS) && session_settings_load(srv->cfg, &set) == STORE_OK)
		c.session_settings = &set;
	take_effect(srv, &c);
}

/* Everything this process caches made the store's again, for changes it may have missed. */
static void resync(struct follower *f)
{
	struct server *srv = f->srv;
	struct session_settings set;

	rbac_keys_resync(srv->rbac);
	ldap_config_changed(srv);
	if (session_settings_load(srv->cfg, &set) == STORE_OK)
		sessions_configure(srv->sessions, &set);
	sessions_recheck(srv->sessions);
	sessions_accounts_changed(srv->sessions);
	rbac_refresh(srv->rbac);
	atomic_fetch_add(&f->resyncs, 1);
	f->resync_at = monotonic_ms() + RESYNC_MS;
}

static int gather(const struct store_change *c, void *ctx)
{
	struct follower *f = ctx;

	f->batch[f->n++] = *c;
	return 0;
}

/* Applies a batch read; false when the sequence skipped a seq (a record lost or pruned). */
static bool apply_batch(struct follower *f)
{
	bool whole = true;
	unsigned rest = 0;
	int64_t now;

	for (size_t i = 0; i < f->n; i++) {
		const struct store_change *c = &f->batch[i];

		whole &= c->seq == f->last + 1;
		f->last = c->seq;
		if (strcmp(c->origin, f->srv->instance) != 0)
			rest |= apply(f->srv, c);
	}
	if (rest != 0)
		apply_whole(f->srv, rest);
	now = now_ms();
	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->batch[i].origin, f->srv->instance) == 0)
			continue;
		hist_observe(&f->lag, (now - f->batch[i].at_ms) * 1000000);
		atomic_fetch_add(&f->applied, 1);
	}
	atomic_store(&f->applied_seq, f->last);
	return whole;
}

/*
 * Reads and applies what was recorded since the last seq; a success is what
 * tells decisions that this replica is current (authz.c's stale rule).
 */
static void catch_up(struct follower *f)
{
	bool whole = true;
	int rc;

	do {
		f->n = 0;
		rc = store_changes_since(f->last, BATCH, gather, f);
		if (rc == STORE_OK)
			whole &= apply_batch(f);
	} while (rc == STORE_OK && f->n == BATCH && !atomic_load(&f->stop));
	if (rc != STORE_OK)
		return;
	if (!whole)
		resync(f);
	atomic_store(&f->srv->store_ok_ms, monotonic_ms());
}

static void *follow(void *arg)
{
	struct follower *f = arg;
	int64_t prune_at = 0;

	while (!atomic_load(&f->stop)) {
		store_changes_wait(POLL_MS);
		if (atomic_load(&f->stop))
			break;
		catch_up(f);
		if (monotonic_ms() >= f->resync_at)
			resync(f);
		if (monotonic_ms() >= prune_at) {
			store_changes_prune(now_ms() - KEEP_MS);
			prune_at = monotonic_ms() + RESYNC_MS;
		}
	}
	return NULL;
}

int changes_follow_from(int64_t *since)
{
	*since = 0;
	return store_is_shared() ? store_changes_last(since) : STORE_OK;
}

int changes_follow(struct server *srv, int64_t since, struct failure *err)
{
	struct follower *f;

	if (!store_is_shared())
		return 0;
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->batch = calloc(BATCH, sizeof(*f->batch))) == NULL) {
		free(f);
		return failure_set(err, "out of memory");
	}
	f->srv = srv;
	f->last = since;
	atomic_store(&f->applied_seq, since); /* what load() read is applied, until a batch comes */
	f->resync_at = monotonic_ms() + RESYNC_MS;
	hist_init(&f->lag, &hist_request_buckets);
	log_msg(LOG_INFO, "replica %s follows the store's changes after seq %lld", srv->replica,
		(long long)since);
	/* set before the thread runs: announcements record from now on */
	srv->follower = f;
	if (pthread_create(&f->thread, NULL, follow, f) != 0) {
		srv->follower = NULL;
		free(f->batch);
		free(f);
		return failure_set(err, "cannot start the change follower");
	}
	return 0;
}

void changes_unfollow(struct server *srv)
{
	struct follower *f = srv->follower;

	if (f == NULL)
		return;
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	srv->follower = NULL;
	free(f->batch);
	free(f);
}

bool changes_stats(struct server *srv, struct changes_stats *out)
{
	struct follower *f = srv->follower;

	if (f == NULL)
		return false;
	hist_read(&f->lag, &out->lag);
	out->applied = atomic_load(&f->applied);
	out->resyncs = atomic_load(&f->resyncs);
	out->seq = atomic_load(&f->applied_seq);
	return true;
}
