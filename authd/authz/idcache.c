/*
 * The identity cache (idcache.h). An engine sends the same client
 * certificate with every request of that client, and reading it (base64,
 * PEM, SHA-256 of the DER) was a fifth of a decision's instructions.
 *
 * What it may keep. Only what the certificate's bytes alone determine: the
 * fingerprint. Whose key that is, whether it was deleted or has expired, and
 * whether its account is active are looked up in the current snapshot and
 * key index on every decision, so a deleted key is refused on the very next
 * request (SPEC §7.3) whether its certificate is cached or not. A hit needs
 * the whole text to match byte for byte, never just its hash, so one
 * certificate cannot be taken for another.
 *
 * Its shape. A set-associative table: IDCACHE_SETS sets of IDCACHE_WAYS
 * entries, a text's set chosen by a seeded hash, the least recently used
 * entry of the set replaced. It is shared by the plugin socket's threads and
 * the API's (a thread per connection, where a cache per thread would start
 * cold each time), so each set has a lock of its own: a read lock for a hit,
 * which many threads hold at once (one client's certificate is one set), and
 * the write lock only to put, for a swap of pointers. Copies are made and
 * freed outside it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#include "idcache.h"

#define IDCACHE_WAYS 4
#define IDCACHE_SETS (IDCACHE_ENTRIES / IDCACHE_WAYS)

struct entry {
	char *text; /* malloc'd, owned by the entry; NULL when the entry is empty */
	size_t len;
	uint64_t hash;
	enum idcache_form form;
	char fp[65];
	atomic_uint_fast64_t used; /* the set's clock at the entry's last use */
};

struct set {
	pthread_rwlock_t lock;
	atomic_uint_fast64_t clock;
	struct entry e[IDCACHE_WAYS];
};

struct idcache {
	uint64_t seed;
	struct set sets[IDCACHE_SETS];
};

struct idcache *idcache_new(void)
{
	struct idcache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	/* without randomness the hash is merely predictable: sets still work */
	if (RAND_bytes((unsigned char *)&c->seed, sizeof(c->seed)) != 1)
		c->seed = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < IDCACHE_SETS; i++)
		pthread_rwlock_init(&c->sets[i].lock, NULL);
	return c;
}

void idcache_free(struct idcache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < IDCACHE_SETS; i++) {
		for (int w = 0; w < IDCACHE_WAYS; w++)
			free(c->sets[i].e[w].text);
		pthread_rwlock_destroy(&c->sets[i].lock);
	}
	free(c);
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53u;
	return h ^ (h >> 33);
}

/* A seeded hash of the text, eight bytes at a time; it only spreads texts over the sets. */
static uint64_t text_hash(uint64_t seed, enum idcache_form form, const char *text, size_t len)
{
	uint64_t h = seed ^ ((uint64_t)form << 56) ^ len, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, text + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15u;
		h ^= h >> 29;
	}
	w = 0;
	if (len > i)
		memcpy(&w, text + i, len - i);
	return mix(h ^ w);
}

/* Marks e the most recently used of s; a write only when it was not already. */
static void touch(struct set *s, struct entry *e)
{
	uint_fast64_t now = atomic_load_explicit(&s->clock, memory_order_relaxed);

	if (atomic_load_explicit(&e->used, memory_order_relaxed) != now)
		atomic_store_explicit(
		    &e->used, atomic_fetch_add_explicit(&s->clock, 1, memory_order_relaxed) + 1,
		    memory_order_relaxed);
}

static bool same(const struct entry *e, uint64_t hash, enum idcache_form form, const char *text,
		 size_t len)
{
	return e->text != NULL && e->hash == hash && e->len == len && e->form == form &&
	       memcmp(e->text, text, len) == 0;
}

bool idcache_get(struct idcache *c, enum idcache_form form, const char *text, size_t len,
		 char fp[65])
{
	uint64_t hash;
	struct set *s;
	bool hit = false;

	if (c == NULL || len > IDCACHE_TEXT_MAX)
		return false;
	hash = text_hash(c->seed, form, text, len);
	s = &c->sets[hash % IDCACHE_SETS];
	pthread_rwlock_rdlock(&s->lock);
	for (int w = 0; w < IDCACHE_WAYS && !hit; w++) {
		struct entry *e = &s->e[w];

		if (same(e, hash, form, text, len)) {
			memcpy(fp, e->fp, sizeof(e->fp));
			touch(s, e);
			hit = true;
		}
	}
	pthread_rwlock_unlock(&s->lock);
	return hit;
}

/* The entry of s that text goes to: its own if another thread put it meanwhile, else the LRU. */
static struct entry *slot_for(struct set *s, uint64_t hash, enum idcache_form form,
			      const char *text, size_t len)
{
	struct entry *victim = &s->e[0];

	for (int w = 0; w < IDCACHE_WAYS; w++) {
		struct entry *e = &s->e[w];

		if (same(e, hash, form, text, len))
			return e;
		if (e->text == NULL ||
		    (victim->text != NULL && atomic_load(&e->used) < atomic_load(&victim->used)))
			victim = e;
	}
	return victim;
}

void idcache_put(struct idcache *c, enum idcache_form form, const char *text, size_t len,
		 const char fp[65])
{
	uint64_t hash;
	struct set *s;
	struct entry *e;
	char *copy, *old;

	if (c == NULL || len > IDCACHE_TEXT_MAX || (copy = malloc(len ? len : 1)) == NULL)
		return;
	memcpy(copy, text, len);
	hash = text_hash(c->seed, form, text, len);
	s = &c->sets[hash % IDCACHE_SETS];
	pthread_rwlock_wrlock(&s->lock);
	e = slot_for(s, hash, form, text, len);
	old = e->text;
	e->text = copy;
	e->len = len;
	e->hash = hash;
	e->form = form;
	memcpy(e->fp, fp, sizeof(e->fp));
	atomic_store(&e->used, atomic_fetch_add(&s->clock, 1) + 1);
	pthread_rwlock_unlock(&s->lock);
	free(old);
}
