/*
 * Bearer tokens and their in-memory cache.
 *
 * The store is the truth: a token is valid while its hash is in the sessions
 * table and neither its idle nor its absolute expiry has passed. The cache
 * holds tokens already seen, with the caller's account, so the hot path is a
 * hash lookup under one of several locks. Any change to any account bumps a
 * generation counter; a cached entry from an older generation re-reads its
 * account before it is trusted again. last_used reaches the store at most
 * once a minute per token, which is the precision idle expiry needs.
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
#define TOUCH_EVERY 60

struct entry {
	struct entry *next;
	struct session_row row;
	int64_t persisted_last_used;
	unsigned long gen;
	struct principal who;
};

struct sessions {
	int idle, absolute;
	atomic_ulong gen;
	pthread_mutex_t locks[STRIPES];
	struct entry *buckets[BUCKETS];
};

struct sessions *sessions_new(int idle_seconds, int absolute_seconds)
{
	struct sessions *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->idle = idle_seconds;
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

static bool expired(const struct sessions *s, const struct session_row *r, int64_t now)
{
	return now >= r->expires_at || now >= r->last_used + s->idle;
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

int session_create(struct sessions *s, const char *account_id, char token_out[TOKEN_LEN + 1])
{
	struct session_row row;
	int64_t now = now_seconds();
	bool shared;
	int rc;

	if (token_generate(token_out) != 0)
		return STORE_ERROR;
	token_hash(token_out, row.hash);
	snprintf(row.account_id, sizeof(row.account_id), "%s", account_id);
	row.created_at = now;
	row.last_used = now;
	row.expires_at = now + s->absolute;
	/* writers take turns anyway: waiting for the shared connection costs no concurrency */
	shared = store_shared_begin(-1);
	rc = store_session_insert(&row);
	if (shared)
		store_shared_end();
	if (rc != STORE_OK)
		OPENSSL_cleanse(token_out, TOKEN_LEN);
	return rc;
}

/* Reads the entry's account; -1 when it may no longer act. */
static int load_principal(struct entry *e, unsigned long gen)
{
	struct account a;

	/* an account marked missing by an LDAP sync may not act until it is back (SPEC §6.5) */
	if (store_account_get(e->row.account_id, &a) != STORE_OK || !a.is_active || a.is_org ||
	    a.ldap_missing)
		return -1;
	snprintf(e->who.id, sizeof(e->who.id), "%s", a.id);
	snprintf(e->who.name, sizeof(e->who.name), "%s", a.name);
	e->who.is_admin = a.is_admin;
	e->gen = gen;
	return 0;
}

/* Looks the token up in the cache; on a hit, marks it used now. */
static bool cached(struct sessions *s, const unsigned char hash[32], int64_t now,
		   struct entry *copy, bool *touch)
{
	unsigned b = bucket_of(hash);
	struct entry *e;
	bool hit = false;

	pthread_mutex_lock(lock_of(s, b));
	for (e = s->buckets[b]; e != NULL; e = e->next)
		if (memcmp(e->row.hash, hash, 32) == 0)
			break;
	if (e != NULL && !expired(s, &e->row, now)) {
		e->row.last_used = now;
		*touch = now - e->persisted_last_used >= TOUCH_EVERY;
		if (*touch)
			e->persisted_last_used = now;
		*copy = *e;
		hit = true;
	}
	pthread_mutex_unlock(lock_of(s, b));
	return hit;
}

/*
 * The slow path: the row read again from the store and the account with it.
 * It runs under the bucket's lock, as revocation does, so a token revoked
 * while a request is reading it can never be cached again after.
 */
static int reload(struct sessions *s, const unsigned char hash[32], unsigned long gen, int64_t now,
		  struct entry *e)
{
	unsigned b = bucket_of(hash);
	int rc = -1;

	pthread_mutex_lock(lock_of(s, b));
	uncache_locked(s, b, hash);
	if (store_session_get(hash, &e->row) != STORE_OK)
		goto out;
	if (expired(s, &e->row, now)) {
		store_session_delete(hash);
		goto out;
	}
	if (load_principal(e, gen) != 0)
		goto out;
	e->row.last_used = now;
	e->persisted_last_used = now;
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
	bool touch = false;

	if (!token_well_formed(token))
		return -1;
	token_hash(token, hash_out);
	memset(&e, 0, sizeof(e));
	if (!cached(s, hash_out, now, &e, &touch) || e.gen != gen) {
		if (reload(s, hash_out, gen, now, &e) != 0)
			return -1;
		touch = true;
	}
	if (touch)
		store_session_touch(hash_out, now);
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

void sessions_accounts_changed(struct sessions *s)
{
	atomic_fetch_add(&s->gen, 1);
}

void sessions_sweep(struct sessions *s)
{
	int64_t now = now_seconds();

	for (unsigned b = 0; b < BUCKETS; b++) {
		struct entry **pp;

		pthread_mutex_lock(lock_of(s, b));
		for (pp = &s->buckets[b]; *pp != NULL;) {
			struct entry *e = *pp;

			if (expired(s, &e->row, now)) {
				*pp = e->next;
				free(e);
			} else {
				pp = &e->next;
			}
		}
		pthread_mutex_unlock(lock_of(s, b));
	}
	store_sessions_expire(now, s->idle);
}
