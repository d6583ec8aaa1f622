/*
 * Which directory servers are down: a server that could not be reached is
 * skipped for 30 s, then 60, 120, up to 5 min while it stays down, and is
 * used again as soon as one connection reaches it. Kept in memory per URL,
 * shared by logins and syncs of every thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"

#define FIRST_DELAY 30
#define MAX_DELAY 300
#define SLOTS 64

struct down {
	char *url; /* NULL for a free slot */
	long delay;
	long until; /* monotonic seconds */
};

static struct down table[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static long now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec;
}

/* The slot for url, or NULL; under the lock. */
static struct down *find(const char *url)
{
	for (size_t i = 0; i < SLOTS; i++)
		if (table[i].url != NULL && strcmp(table[i].url, url) == 0)
			return &table[i];
	return NULL;
}

/* A free slot, else the one whose wait ends first (the table is only a cache of bad news). */
static struct down *take_slot(void)
{
	struct down *best = &table[0];

	for (size_t i = 0; i < SLOTS; i++) {
		if (table[i].url == NULL)
			return &table[i];
		if (table[i].until < best->until)
			best = &table[i];
	}
	free(best->url);
	best->url = NULL;
	return best;
}

long ls_backoff_left(const char *url)
{
	struct down *d;
	long left = 0;

	pthread_mutex_lock(&lock);
	if ((d = find(url)) != NULL && d->until > now_mono())
		left = d->until - now_mono();
	pthread_mutex_unlock(&lock);
	return left;
}

long ls_backoff_failed(const char *url)
{
	struct down *d;
	long delay = FIRST_DELAY;

	pthread_mutex_lock(&lock);
	if ((d = find(url)) == NULL && (d = take_slot()) != NULL)
		*d = (struct down){strdup(url), 0, 0};
	if (d->url != NULL) {
		delay = d->delay == 0 ? FIRST_DELAY : d->delay * 2;
		if (delay > MAX_DELAY)
			delay = MAX_DELAY;
		d->delay = delay;
		d->until = now_mono() + delay;
	}
	pthread_mutex_unlock(&lock);
	/* its open connections went with it */
	ls_pool_drop(url, false);
	return delay;
}

void ls_backoff_ok(const char *url)
{
	struct down *d;

	pthread_mutex_lock(&lock);
	if ((d = find(url)) != NULL) {
		free(d->url);
		*d = (struct down){NULL, 0, 0};
	}
	pthread_mutex_unlock(&lock);
}
