/*
 * Login throttling. Failures are counted per key ("user:NAME", "ip:ADDR")
 * in a window; at the limit the key is locked out for a while. On a store
 * that several processes share, the counts are the store's, so that N
 * replicas do not give an attacker N times the attempts; otherwise they are
 * this process's, in a fixed-size table that a spray of names cannot grow.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "store/store.h"

#define SLOTS 4096
#define KEY_LEN 128

struct slot {
	char key[KEY_LEN];
	int failures;
	int64_t window_start;
	int64_t locked_until;
	int64_t last_seen;
};

/* One process's counts of one kind of key; the stalest entry makes room when it is full. */
struct table {
	pthread_mutex_t lock;
	struct throttle_rule rule;
	struct slot slots[SLOTS];
};

struct throttle {
	struct throttle_rule user, ip;
	int max_keys;
	bool shared;
	struct table *users, *ips; /* NULL when shared */
};

static unsigned hash_key(const char *k)
{
	unsigned h = 2166136261u; /* FNV-1a */

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	return h;
}

/* The slot of `key`, or NULL; with `create`, a fresh one replacing the stalest nearby. */
static struct slot *find(struct table *t, const char *key, bool create, int64_t now)
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

static int table_wait(struct table *t, const char *key, int64_t now)
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

static int table_fail(struct table *t, const char *key, int64_t now)
{
	struct slot *s;
	int n;

	pthread_mutex_lock(&t->lock);
	s = find(t, key, true, now);
	if (now - s->window_start > t->rule.window) {
		s->window_start = now;
		s->failures = 0;
	}
	s->last_seen = now;
	n = ++s->failures;
	if (n >= t->rule.max_failures) {
		s->locked_until = now + t->rule.lockout;
		s->failures = 0;
		s->window_start = now;
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void table_clear(struct table *t, const char *key)
{
	struct slot *s;

	pthread_mutex_lock(&t->lock);
	s = find(t, key, false, 0);
	if (s != NULL)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&t->lock);
}

static struct table *table_new(const struct throttle_rule *rule)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->rule = *rule;
	return t;
}

static void table_free(struct table *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

struct throttle *throttle_new(const struct throttle_config *c)
{
	struct throttle *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->user = (struct throttle_rule){c->max_failures, c->window, c->lockout};
	t->ip = (struct throttle_rule){c->ip_max_failures, c->window, c->lockout};
	t->max_keys = c->max_keys;
	t->shared = c->shared;
	if (t->shared)
		return t;
	t->users = table_new(&t->user);
	t->ips = table_new(&t->ip);
	if (t->users == NULL || t->ips == NULL) {
		throttle_free(t);
		return NULL;
	}
	return t;
}

void throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	table_free(t->users);
	table_free(t->ips);
	free(t);
}

int throttle_wait(struct throttle *t, const char *user_key, const char *ip_key, int64_t now,
		  bool *user_counted)
{
	int64_t until;
	int wait, ip_wait, rc;

	/* a key is counted only when it has failed: then the success must clear it */
	*user_counted = true;
	if (!t->shared) {
		wait = table_wait(t->users, user_key, now);
		ip_wait = table_wait(t->ips, ip_key, now);
		return ip_wait > wait ? ip_wait : wait;
	}
	rc = store_login_failures_get(user_key, ip_key, now, &until, user_counted);
	if (rc < 0)
		return rc;
	return until > now ? (int)(until - now) : 0;
}

int throttle_fail(struct throttle *t, const char *user_key, const char *ip_key, int64_t now)
{
	int n, ip_n, rc;

	if (!t->shared) {
		table_fail(t->ips, ip_key, now);
		return table_fail(t->users, user_key, now);
	}
	rc = store_login_failure_add(ip_key, now, &t->ip, &ip_n);
	if (rc >= 0)
		rc = store_login_failure_add(user_key, now, &t->user, &n);
	return rc < 0 ? rc : n;
}

int throttle_clear(struct throttle *t, const char *user_key)
{
	if (!t->shared) {
		table_clear(t->users, user_key);
		return STORE_OK;
	}
	return store_login_failure_clear(user_key);
}

void throttle_tick(struct throttle *t, int64_t now)
{
	int64_t deleted;

	if (!t->shared)
		return;
	/* logged by the store when it fails; the next tick tries again */
	if (store_login_failures_trim(now, t->user.window, t->max_keys, &deleted) == STORE_OK &&
	    deleted > 0)
		log_msg(LOG_DEBUG, "login throttle: %lld keys expired", (long long)deleted);
}
