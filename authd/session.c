/*
 * Bearer tokens and their in-memory cache.
 *
 * The store is the truth: a token is valid while its hash is in the sessions
 * table, its login's absolute limit has not passed, and a lifetime has not
 * passed since its renewal (its login, or the last use that renewed it). A
 * use renews a session when it comes within the renewal threshold of the
 * session's end: the session then lasts a whole lifetime from that use. The
 * lifetime and the threshold are read at each check, so a change of them
 * holds for every session at once.
 *
 * The cache holds tokens already seen, with the caller's account, so the hot
 * path is a hash lookup under one of several locks. Any change to any
 * account bumps a generation counter; a cached entry from an older
 * generation re-reads its account before it is trusted again. A renewal
 * reaches the store once it is a minute past the stored one, so the store
 * may be up to a minute behind the cache: reading a row again keeps the
 * newer of the two, and the sweep writes what the store lacks before it
 * deletes the rows whose sessions have ended.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "session.h"
#include "store/store.h"

#define BUCKETS 4096
#define STRIPES 16
#define RENEW_WRITE_EVERY 60

struct entry {
	struct entry *next;
	struct session_row row;
	int64_t persisted_renewed_at; /* the store's renewed_at, as far as this entry knows */
	unsigned long gen;
	struct principal who;
};

struct sessions {
	/* seconds, seconds and a count; changed by sessions_configure while requests read them */
	atomic_int lifetime, threshold, per_user_limit;
	int absolute;
	atomic_ulong gen;
	pthread_mutex_t locks[STRIPES];
	struct entry *buckets[BUCKETS];
};

static void configure(struct sessions *s, const struct session_settings *set)
{
	atomic_store(&s->lifetime, set->lifetime_minutes * 60);
	atomic_store(&s->threshold, set->renewal_threshold_minutes * 60);
	atomic_store(&s->per_user_limit, set->per_user_limit);
}

struct sessions *sessions_new(const struct session_settings *set, int absolute_seconds)
{
	struct sessions *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	configure(s, set);
	s->absolute = absolute_seconds;
	atomic_init(&s->gen, 1);
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&s->locks[i], NULL);
	return s;
}

void sessions_free(struct sessions *s)
{
	if (s == NULL)
		return;
	for (int b = 0; b < BUCKETS; b++) {
		struct entry *e = s->buckets[b], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&s->locks[i]);
	free(s);
}

int token_generate(char out[TOKEN_LEN + 1])
{
	unsigned char raw[32];
	char b64[48];
	int n;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	n = EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	/* standard base64 to base64url, without the one '=' of padding */
	for (int i = 0; i < n; i++) {
		if (b64[i] == '+')
			b64[i] = '-';
		else if (b64[i] == '/')
			b64[i] = '_';
	}
	memcpy(out, b64, TOKEN_LEN);
	out[TOKEN_LEN] = '\0';
	OPENSSL_cleanse(b64, sizeof(b64));
	return 0;
}

bool token_well_formed(const char *token)
{
	size_t i;

	for (i = 0; token[i] != '\0'; i++) {
		char c = token[i];

		if (i >= TOKEN_LEN)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return i == TOKEN_LEN;
}

void token_hash(const char *token, unsigned char out[32])
{
	SHA256((const unsigned char *)token, strlen(token), out);
}

static unsigned bucket_of(const unsigned char hash[32])
{
	unsigned b;

	memcpy(&b, hash, sizeof(b)); /* the hash is uniform already */
	return b % BUCKETS;
}

static pthread_mutex_t *lock_of(struct sessions *s, unsigned bucket)
{
	return &s->locks[bucket % STRIPES];
}

static bool expired(struct sessions *s, const struct session_row *r, int64_t now)
{
	return now >= r->expires_at || now >= r->renewed_at + atomic_load(&s->lifetime);
}

/*
 * A use of a live session at `now`: it renews the session when it comes
 * within the threshold of the session's end. True when the store must hear
 * of the renewal, which it does once the renewal is a minute past its own.
 */
static bool use(struct sessions *s, struct entry *e, int64_t now)
{
	int threshold = atomic_load(&s->threshold);
	int64_t left = e->row.renewed_at + atomic_load(&s->lifetime) - now;

	if (threshold == 0 || left > threshold)
		return false;
	e->row.renewed_at = now;
	if (now - e->persisted_renewed_at < RENEW_WRITE_EVERY)
		return false;
	e->persisted_renewed_at = now;
	return true;
}

/* The token's cached entry; the caller holds its bucket's lock. */
static struct entry *find_locked(struct sessions *s, unsigned b, const unsigned char hash[32])
{
	struct entry *e;

	for (e = s->buckets[b]; e != NULL; e = e->next)
		if (memcmp(e->row.hash, hash, 32) == 0)
			break;
	return e;
}

/* Removes the token's entry, if cached; the caller holds its bucket's lock. */
static void uncache_locked(struct sessions *s, unsigned b, const unsigned char hash[32])
{
	struct entry **pp;

	for (pp = &s->buckets[b]; *pp != NULL; pp = &(*pp)->next) {
		if (memcmp((*pp)->row.hash, hash, 32) == 0) {
			struct entry *dead = *pp;

			*pp = dead->next;
			free(dead);
			break;
		}
	}
}

/* Adds a copy of src; the caller holds its bucket's lock. */
static void cache_locked(struct sessions *s, unsigned b, const struct entry *src)
{
	struct entry *e = malloc(sizeof(*e));

	if (e == NULL)
		return; /* the store still has it; the next request reads it again */
	*e = *src;
	e->next = s->buckets[b];
	s->buckets[b] = e;
}

/* The new session and the end of the account's oldest past the limit, in one transaction. */
static int insert_within_limit(const struct session_row *row, int limit, int64_t *ended)
{
	int rc = store_begin();

	if (rc == STORE_OK)
		rc = store_session_insert(row);
	if (rc == STORE_OK)
		rc = store_sessions_trim_account(row->account_id, limit, row->hash, ended);
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK) {
		store_rollback();
		*ended = 0;
	}
	return rc;
}

int session_create(struct sessions *s, const char *account_id, char token_out[TOKEN_LEN + 1],
		   int64_t *ended)
{
	int limit = atomic_load(&s->per_user_limit);
	struct session_row row;
	int64_t now = now_seconds();
	bool shared;
	int rc;

	*ended = 0;
	if (token_generate(token_out) != 0)
		return STORE_ERROR;
	token_hash(token_out, row.hash);
	snprintf(row.account_id, sizeof(row.account_id), "%s", account_id);
	row.created_at = now;
	row.renewed_at = now;
	row.expires_at = now + s->absolute;
	/* writers take turns anyway: waiting for the shared connection costs no concurrency */
	shared = store_shared_begin(-1);
	rc = limit == 0 ? store_session_insert(&row) : insert_within_limit(&row, limit, ended);
	if (shared)
		store_shared_end();
	if (rc != STORE_OK)
		OPENSSL_cleanse(token_out, TOKEN_LEN);
	return rc;
}

/* Reads the entry's account; -1 when it may no longer act, STORE_UNAVAILABLE when unknown. */
static int load_principal(struct entry *e, unsigned long gen)
{
	struct account a;
	int rc = store_account_get(e->row.account_id, &a);

	if (rc == STORE_UNAVAILABLE)
		return rc;
	/* an account marked missing by an LDAP sync may not act until it is back (SPEC §6.5) */
	if (rc != STORE_OK || !a.is_active || a.is_org || a.ldap_missing)
		return -1;
	snprintf(e->who.id, sizeof(e->who.id), "%s", a.id);
	snprintf(e->who.name, sizeof(e->who.name), "%s", a.name);
	e->who.is_admin = a.is_admin;
	e->gen = gen;
	return 0;
}

/* Looks the token up in the cache; on a hit, uses it now. */
static bool cached(struct sessions *s, const unsigned char hash[32], int64_t now,
		   struct entry *copy, bool *write)
{
	unsigned b = bucket_of(hash);
	struct entry *e;
	bool hit = false;

	pthread_mutex_lock(lock_of(s, b));
	e = find_locked(s, b, hash);
	if (e != NULL && !expired(s, &e->row, now)) {
		*write = use(s, e, now);
		*copy = *e;
		hit = true;
	}
	pthread_mutex_unlock(lock_of(s, b));
	return hit;
}

/*
 * The slow path: the row read again from the store and the account with it.
 * It runs under the bucket's lock, as revocation does, so a token revoked
 * while a request is reading it can never be cached again after. A renewal
 * the cached entry has and the store not yet is kept.
 */
static int reload(struct sessions *s, const unsigned char hash[32], unsigned long gen, int64_t now,
		  struct entry *e, bool *write)
{
	unsigned b = bucket_of(hash);
	struct entry *old;
	int64_t renewed = 0, persisted = 0;
	int rc = -1;

	pthread_mutex_lock(lock_of(s, b));
	old = find_locked(s, b, hash);
	if (old != NULL) {
		renewed = old->row.renewed_at;
		persisted = old->persisted_renewed_at;
	}
	uncache_locked(s, b, hash);
	rc = store_session_get(hash, &e->row);
	if (rc != STORE_OK) {
		/* a store out of reach cannot say the token is dead: the caller answers 503 */
		rc = rc == STORE_UNAVAILABLE ? rc : -1;
		goto out;
	}
	rc = -1;
	e->persisted_renewed_at = e->row.renewed_at;
	if (renewed > e->row.renewed_at) {
		e->row.renewed_at = renewed;
		e->persisted_renewed_at = persisted;
	}
	if (expired(s, &e->row, now)) {
		store_session_delete(hash);
		goto out;
	}
	rc = load_principal(e, gen);
	if (rc != 0)
		goto out;
	*write = use(s, e, now);
	cache_locked(s, b, e);
	rc = 0;
out:
	pthread_mutex_unlock(lock_of(s, b));
	return rc;
}

int session_check(struct sessions *s, const char *token, struct principal *who,
		  unsigned char hash_out[32])
{
	unsigned long gen = atomic_load(&s->gen);
	int64_t now = now_seconds();
	struct entry e;
	bool write = false, rewrite = false;

	if (!token_well_formed(token))
		return -1;
	token_hash(token, hash_out);
	memset(&e, 0, sizeof(e));
	/* a hit of an older generation may have renewed: either use may ask for the write */
	if (!cached(s, hash_out, now, &e, &write) || e.gen != gen) {
		int rc = reload(s, hash_out, gen, now, &e, &rewrite);

		if (rc != 0)
			return rc;
	}
	/* a write that fails (a full disk) leaves the renewal in the cache only */
	if (write || rewrite)
		store_session_renew(hash_out, e.row.renewed_at);
	*who = e.who;
	return 0;
}

/*
 * After the row is gone: a request that read it before is caching it under
 * the bucket's lock (reload), which this waits for, so its entry is the one
 * removed; one that reads after finds no row. Either way the token is dead.
 */
void session_forget(struct sessions *s, const unsigned char hash[32])
{
	unsigned b = bucket_of(hash);

	pthread_mutex_lock(lock_of(s, b));
	uncache_locked(s, b, hash);
	pthread_mutex_unlock(lock_of(s, b));
}

void session_forget_account(struct sessions *s, const char *account_id, const unsigned char *keep)
{
	for (unsigned b = 0; b < BUCKETS; b++) {
		struct entry **pp;

		pthread_mutex_lock(lock_of(s, b));
		for (pp = &s->buckets[b]; *pp != NULL;) {
			struct entry *e = *pp;

			if (strcmp(e->row.account_id, account_id) == 0 &&
			    (keep == NULL || memcmp(e->row.hash, keep, 32) != 0)) {
				*pp = e->next;
				free(e);
			} else {
				pp = &e->next;
			}
		}
		pthread_mutex_unlock(lock_of(s, b));
	}
}

/* The cached sessions of one bucket whose rows are gone are forgotten. */
static void recheck_bucket(struct sessions *s, unsigned b)
{
	unsigned char(*hashes)[32] = NULL;
	size_t n = 0, cap = 0;
	struct session_row row;

	pthread_mutex_lock(lock_of(s, b));
	for (struct entry *e = s->buckets[b]; e != NULL; e = e->next) {
		if (n == cap) {
			void *more = realloc(hashes, (cap = cap ? cap * 2 : 8) * sizeof(*hashes));

			if (more == NULL)
				break;
			hashes = more;
		}
		memcpy(hashes[n++], e->row.hash, 32);
	}
	pthread_mutex_unlock(lock_of(s, b));
	/* outside the lock: the store is asked once per session */
	for (size_t i = 0; i < n; i++)
		if (store_session_get(hashes[i], &row) == STORE_NOT_FOUND)
			session_forget(s, hashes[i]);
	free(hashes);
}

void sessions_recheck(struct sessions *s)
{
	for (unsigned b = 0; b < BUCKETS; b++)
		recheck_bucket(s, b);
}

void sessions_accounts_changed(struct sessions *s)
{
	atomic_fetch_add(&s->gen, 1);
}

/* A renewal the cache has and the store not yet, gathered by the sweep. */
struct renewal {
	unsigned char hash[32];
	int64_t at;
};
struct renewals {
	struct renewal *v;
	size_t n, cap;
	bool lost; /* one could not be kept (out of memory) */
};

static void renewal_add(struct renewals *r, const struct entry *e)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct renewal *v = realloc(r->v, cap * sizeof(*v));

		if (v == NULL) {
			r->lost = true;
			return;
		}
		r->v = v;
		r->cap = cap;
	}
	memcpy(r->v[r->n].hash, e->row.hash, 32);
	r->v[r->n++].at = e->row.renewed_at;
}

/* Writes them in one transaction; 0 when the store has every one. */
static int renewals_write(const struct renewals *r)
{
	int rc;

	if (r->lost)
		return -1;
	if (r->n == 0)
		return 0;
	rc = store_begin();
	for (size_t i = 0; i < r->n && rc == STORE_OK; i++)
		rc = store_session_renew(r->v[i].hash, r->v[i].at);
	if (rc == STORE_OK)
		rc = store_commit();
	if (rc != STORE_OK)
		store_rollback();
	return rc == STORE_OK ? 0 : -1;
}

void sessions_sweep(struct sessions *s)
{
	struct renewals pending = {NULL, 0, 0, false};
	int64_t now = now_seconds();

	for (unsigned b = 0; b < BUCKETS; b++) {
		struct entry **pp;

		pthread_mutex_lock(lock_of(s, b));
		for (pp = &s->buckets[b]; *pp != NULL;) {
			struct entry *e = *pp;

			if (expired(s, &e->row, now)) {
				*pp = e->next;
				free(e);
				continue;
			}
			if (e->row.renewed_at > e->persisted_renewed_at)
				renewal_add(&pending, e);
			pp = &e->next;
		}
		pthread_mutex_unlock(lock_of(s, b));
	}
	/*
	 * Written outside the buckets' locks (a reload holds one while it writes). Only a store
	 * that has every renewal may judge its rows: it would end sessions renewed since.
	 */
	if (renewals_write(&pending) == 0)
		store_sessions_expire(now, atomic_load(&s->lifetime));
	free(pending.v);
}

int sessions_count_live(struct sessions *s, int64_t *out)
{
	return store_sessions_count_live(now_seconds(), atomic_load(&s->lifetime), out);
}

void sessions_configure(struct sessions *s, const struct session_settings *set)
{
	/* what the old settings ended stays ended, even when the new lifetime is longer */
	sessions_sweep(s);
	configure(s, set);
	/* and what the new ones end, a lowered lifetime's older sessions, leaves the store now */
	sessions_sweep(s);
}
