/*
 * The bundle key index (snapshot.h says why it lives beside the snapshot).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

void key_index_init(struct key_index *x)
{
	pthread_mutex_init(&x->lock, NULL);
	for (unsigned b = 0; b < KEY_BUCKETS; b++)
		atomic_init(&x->buckets[b], NULL);
}

void key_index_destroy(struct key_index *x)
{
	for (unsigned b = 0; b < KEY_BUCKETS; b++) {
		struct s_key *n = atomic_load(&x->buckets[b]), *next;

		for (; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
	}
	pthread_mutex_destroy(&x->lock);
}

static unsigned key_bucket(const char *fp)
{
	/* a fingerprint is hex of SHA-256: its first digits are uniform already */
	return (unsigned)strtoul(
		   (char[9]){fp[0], fp[1], fp[2], fp[3], fp[4], fp[5], fp[6], fp[7], 0}, NULL, 16) %
	       KEY_BUCKETS;
}

void key_index_add(struct key_index *x, const struct pubkey *k)
{
	struct s_key *n = calloc(1, sizeof(*n));
	unsigned b = key_bucket(k->fingerprint);

	if (n == NULL) {
		/* the key simply is not honoured until the next start; deny, don't crash */
		log_msg(LOG_ERROR, "rbac: out of memory indexing key %s", k->id);
		return;
	}
	snprintf(n->fp, sizeof(n->fp), "%s", k->fingerprint);
	snprintf(n->key_id, sizeof(n->key_id), "%s", k->id);
	snprintf(n->account_id, sizeof(n->account_id), "%s", k->account_id);
	n->not_after = k->not_after;
	atomic_init(&n->revoked, false);
	pthread_mutex_lock(&x->lock);
	n->next = atomic_load(&x->buckets[b]);
	/* the node is whole before it is reachable: readers see all of it or none */
	atomic_store(&x->buckets[b], n);
	pthread_mutex_unlock(&x->lock);
}

void key_index_revoke(struct key_index *x, const char *fingerprint)
{
	struct s_key *n = atomic_load(&x->buckets[key_bucket(fingerprint)]);

	for (; n != NULL; n = n->next)
		if (strcmp(n->fp, fingerprint) == 0)
			atomic_store(&n->revoked, true);
}

const struct s_key *key_index_find(const struct key_index *x, const char *fingerprint)
{
	const struct s_key *n = atomic_load(&x->buckets[key_bucket(fingerprint)]);

	for (; n != NULL; n = n->next)
		if (strcmp(n->fp, fingerprint) == 0 && !atomic_load(&n->revoked))
			return n;
	return NULL;
}

void key_index_keep_only(struct key_index *x, bool (*kept)(const char *fp, void *ctx), void *ctx)
{
	for (unsigned b = 0; b < KEY_BUCKETS; b++)
		for (struct s_key *k = atomic_load(&x->buckets[b]); k != NULL; k = k->next)
			if (!kept(k->fp, ctx))
				atomic_store(&k->revoked, true);
}
