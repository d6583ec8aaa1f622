/*
 * Login throttling. Failures are counted per key ("user:NAME", "ip:ADDR")
 * in a sliding window; at the limit the key is locked out for a while. The
 * table is fixed in size so that an attacker spraying names cannot grow
 * memory: when it is full, the stalest entry makes room.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"

#define SLOTS 4096
#define KEY_LEN 128

struct slot {
	char key[KEY_LEN];
	int failures;
	int64_t window_start;
	int64_t locked_until;
	int64_t last_seen;
};

struct throttle {
	pthread_mutex_t lock;
	int max_failures, window, lockout;
	struct slot slots[SLOTS];
};

struct throttle *throttle_new(int max_failures, int window_seconds, int lockout_seconds)
{
	struct throttle *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->max_failures = max_failures;
	t->window = window_seconds;
	t->lockout = lockout_seconds;
	return t;
}

void throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static unsigned hash_key(const char *k)
{
	unsigned h = 2166136261u; /* FNV-1a */

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	return h;
}

/* The slot of `key`, or NULL; with `create`, a fresh one replacing the stalest nearby. */
static struct slot *find(struct throttle *t, const char *key, bool create, int64_t now)
{
	unsigned h = hash_key(key);
	struct slot *victim = NULL;

	/* a short probe keeps each lookup bounded */
	for (unsigned i = 0; i < 16; i++) {
		struct slot *s = &t->slots[(h + i) % SLOTS];

		if (strncmp(s->key, key, KEY_LEN - 1) == 0 && s->key[0] != '\0')
			return s;
		if (victim == NULL || s->last_seen < victim->last_seen)
			victim = s;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, KEY_LEN, "%s", key);
	victim->window_start = now;
	victim->last_seen = now;
	return victim;
}

int throttle_wait(struct throttle *t, const char *key, int64_t now)
{
	struct slot *s;
	int wait = 0;

	pthread_mutex_lock(&t->lock);
	s = find(t, key, false, now);
	if (s != NULL && s->locked_until > now)
		wait = (int)(s->locked_until - now);
	pthread_mutex_unlock(&t->lock);
	return wait;
}

int throttle_fail(struct throttle *t, const char *key, int64_t now)
{
	struct slot *s;
	int n;

	pthread_mutex_lock(&t->lock);
	s = find(t, key, true, now);
	if (now - s->window_start > t->window) {
		s->window_start = now;
		s->failures = 0;
	}
	s->last_seen = now;
	n = ++s->failures;
	if (n >= t->max_failures) {
		s->locked_until = now + t->lockout;
		s->failures = 0;
		s->window_start = now;
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

void throttle_clear(struct throttle *t, const char *key)
{
	struct slot *s;

	pthread_mutex_lock(&t->lock);
	s = find(t, key, false, 0);
	if (s != NULL)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&t->lock);
}
