/*
 * Connections kept open between logins and searches, so that a login costs
 * no TCP or TLS handshake with the directory. Kept per bucket: one server
 * URL, one purpose (bound as the reader, or used for users' binds only) and
 * the settings they were made under (ls_pool_key).
 *
 * The model: a bucket counts its open connections, idle and lent, and never
 * has more than connectionPoolSize; a taker finding none idle and the
 * bucket full waits up to timeoutSeconds for one to come back. An idle
 * connection is reused most recently used first, after a health check that
 * costs no round trip (its socket must have nothing to read: an idle LDAP
 * connection is sent nothing, so anything readable is the server's close or
 * its notice of disconnection), and closed once unused for
 * connectionIdleSeconds. A server found down drops its idle connections
 * and bumps the bucket's generation, so that those lent then are closed
 * when given back. Global state: logins of every HTTP thread share it, as
 * they share the backoff table.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"

struct idle {
	LDAP *ld;
	long since_ms; /* monotonic, when it was given back */
	long idle_ms;  /* connectionIdleSeconds of the settings it was given back under */
	struct idle *next;
};

struct ls_bucket {
	unsigned char key[32];
	char *url;
	int open;	   /* idle, lent, and places kept for connections being opened */
	int waiting;	   /* takers waiting for a place: the bucket stays while there are */
	unsigned gen;	   /* bumped when the server failed */
	struct idle *idle; /* most recently given back first */
	struct ls_bucket *next;
};

static struct ls_bucket *buckets;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t given_back = PTHREAD_COND_INITIALIZER;
static unsigned long opened, reused, dead;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hash_text(EVP_MD_CTX *h, const char *s)
{
	size_t len = s ? strlen(s) : 0;

	/* length first, so that two fields can never run into each other */
	EVP_DigestUpdate(h, &len, sizeof(len));
	if (len > 0)
		EVP_DigestUpdate(h, s, len);
}

void ls_pool_key(const struct ls_conn *c, unsigned char key[32])
{
	const struct ls_server *srv = &c->s->servers[c->server];
	int flags[] = {c->reader, srv->start_tls, srv->tls_skip_verify, c->s->follow_referrals,
		       c->s->timeout_seconds};
	EVP_MD_CTX *h = EVP_MD_CTX_new();

	memset(key, 0, 32);
	if (h == NULL || !EVP_DigestInit_ex(h, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(h);
		return;
	}
	EVP_DigestUpdate(h, flags, sizeof(flags));
	hash_text(h, c->url);
	hash_text(h, srv->root_certs);
	/* a user-bind connection is bound as nobody in particular: the reader is not its own */
	hash_text(h, c->reader ? srv->reader_dn : "");
	hash_text(h, c->reader ? srv->reader_password : "");
	EVP_DigestFinal_ex(h, key, NULL);
	EVP_MD_CTX_free(h);
}

static bool pooling(const struct ls_settings *s)
{
	return s->pool_size > 0 && !s->unpooled;
}

/* The socket of an idle connection has nothing to read; anything there says it is closed. */
static bool still_open(LDAP *ld)
{
	struct pollfd p = {.fd = -1, .events = POLLIN};

	if (ldap_get_option(ld, LDAP_OPT_DESC, &p.fd) != LDAP_OPT_SUCCESS || p.fd < 0)
		return false;
	return poll(&p, 1, 0) == 0;
}

/* Under the lock. */
static struct ls_bucket *find_bucket(const unsigned char key[32])
{
	for (struct ls_bucket *b = buckets; b != NULL; b = b->next)
		if (memcmp(b->key, key, 32) == 0)
			return b;
	return NULL;
}

/* Under the lock; NULL when out of memory. */
static struct ls_bucket *make_bucket(const unsigned char key[32], const char *url)
{
	struct ls_bucket *b = calloc(1, sizeof(*b));

	if (b == NULL || (b->url = strdup(url)) == NULL) {
		free(b);
		return NULL;
	}
	memcpy(b->key, key, 32);
	b->next = buckets;
	buckets = b;
	return b;
}

/* Under the lock: unlinks and frees buckets that hold nothing and that nobody waits on. */
static void free_empty_buckets(void)
{
	struct ls_bucket **p = &buckets;

	while (*p != NULL) {
		struct ls_bucket *b = *p;

		if (b->open > 0 || b->waiting > 0 || b->idle != NULL) {
			p = &b->next;
			continue;
		}
		*p = b->next;
		free(b->url);
		free(b);
	}
}

/* Closes what was taken out of the pool under the lock, once the lock is let go. */
static void close_all(struct idle *list)
{
	while (list != NULL) {
		struct idle *next = list->next;

		ldap_unbind_ext_s(list->ld, NULL, NULL);
		free(list);
		list = next;
	}
}

/* Under the lock: an idle connection of b that is still good, or NULL; the bad go to *gone. */
static LDAP *pop_healthy(struct ls_bucket *b, struct idle **gone)
{
	long now = now_ms();

	while (b->idle != NULL) {
		struct idle *i = b->idle;
		LDAP *ld = i->ld;

		b->idle = i->next;
		if (now - i->since_ms < i->idle_ms && still_open(ld)) {
			free(i);
			return ld;
		}
		if (now - i->since_ms < i->idle_ms)
			dead++;
		b->open--;
		i->next = *gone;
		*gone = i;
	}
	return NULL;
}

/* Under the lock: waits for a connection to come back until deadline; false on timeout. */
static bool wait_for_place(struct ls_bucket *b, const struct timespec *deadline)
{
	int rc;

	b->waiting++;
	rc = pthread_cond_timedwait(&given_back, &lock, deadline);
	b->waiting--;
	return rc != ETIMEDOUT;
}

enum ls_pool_take ls_pool_take(struct ls_conn *c)
{
	unsigned char key[32];
	struct idle *gone = NULL;
	enum ls_pool_take rc = LS_POOL_FULL;
	struct ls_bucket *b;
	struct timespec deadline;

	if (!pooling(c->s))
		return LS_POOL_NONE;
	ls_pool_key(c, key);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += c->s->timeout_seconds;
	pthread_mutex_lock(&lock);
	if ((b = find_bucket(key)) == NULL && (b = make_bucket(key, c->url)) == NULL) {
		pthread_mutex_unlock(&lock);
		return LS_POOL_NONE;
	}
	for (;;) {
		if ((c->ld = pop_healthy(b, &gone)) != NULL) {
			reused++;
			rc = LS_POOL_REUSED;
			break;
		}
		if (b->open < c->s->pool_size) {
			b->open++;
			opened++;
			rc = LS_POOL_NEW;
			break;
		}
		if (!wait_for_place(b, &deadline))
			break;
	}
	if (rc != LS_POOL_FULL) {
		c->bucket = b;
		c->gen = b->gen;
		c->reused = rc == LS_POOL_REUSED;
	}
	free_empty_buckets();
	pthread_mutex_unlock(&lock);
	close_all(gone);
	return rc;
}

void ls_pool_give(struct ls_conn *c)
{
	struct ls_bucket *b = c->bucket;
	struct idle *i = NULL;
	LDAP *close_now = c->ld;

	if (b == NULL) {
		if (c->ld != NULL)
			ldap_unbind_ext_s(c->ld, NULL, NULL);
		c->ld = NULL;
		return;
	}
	if (c->ld != NULL && !c->broken && pooling(c->s) && (i = malloc(sizeof(*i))) != NULL)
		*i = (struct idle){c->ld, now_ms(), c->s->pool_idle_seconds * 1000L, NULL};
	pthread_mutex_lock(&lock);
	if (i != NULL && c->gen == b->gen) {
		i->next = b->idle;
		b->idle = i;
		close_now = NULL;
		i = NULL;
	} else {
		b->open--;
	}
	free_empty_buckets();
	pthread_cond_broadcast(&given_back);
	pthread_mutex_unlock(&lock);
	free(i);
	if (close_now != NULL)
		ldap_unbind_ext_s(close_now, NULL, NULL);
	c->ld = NULL;
	c->bucket = NULL;
}

/* Under the lock: moves b's idle connections to *gone. */
static void take_idle(struct ls_bucket *b, struct idle **gone)
{
	while (b->idle != NULL) {
		struct idle *i = b->idle;

		b->idle = i->next;
		b->open--;
		i->next = *gone;
		*gone = i;
	}
}

void ls_pool_drop(const char *url, bool stale)
{
	struct idle *gone = NULL;

	pthread_mutex_lock(&lock);
	if (stale)
		dead++;
	for (struct ls_bucket *b = buckets; b != NULL; b = b->next) {
		if (strcmp(b->url, url) != 0)
			continue;
		b->gen++;
		take_idle(b, &gone);
	}
	free_empty_buckets();
	pthread_cond_broadcast(&given_back);
	pthread_mutex_unlock(&lock);
	close_all(gone);
}

void ls_pool_reap(void)
{
	long now = now_ms();
	struct idle *gone = NULL;

	pthread_mutex_lock(&lock);
	for (struct ls_bucket *b = buckets; b != NULL; b = b->next) {
		struct idle **p = &b->idle;

		while (*p != NULL) {
			struct idle *i = *p;

			if (now - i->since_ms < i->idle_ms) {
				p = &i->next;
				continue;
			}
			*p = i->next;
			b->open--;
			i->next = gone;
			gone = i;
		}
	}
	free_empty_buckets();
	pthread_cond_broadcast(&given_back);
	pthread_mutex_unlock(&lock);
	close_all(gone);
}

void ls_pool_shutdown(void)
{
	struct idle *gone = NULL;

	pthread_mutex_lock(&lock);
	for (struct ls_bucket *b = buckets; b != NULL; b = b->next)
		take_idle(b, &gone);
	free_empty_buckets();
	pthread_mutex_unlock(&lock);
	close_all(gone);
}

void ls_pool_stats(struct ls_pool_stats *out)
{
	*out = (struct ls_pool_stats){0, 0, 0, 0, 0};
	pthread_mutex_lock(&lock);
	for (struct ls_bucket *b = buckets; b != NULL; b = b->next) {
		unsigned long n = 0;

		for (struct idle *i = b->idle; i != NULL; i = i->next)
			n++;
		out->idle += n;
		out->busy += (unsigned long)b->open - n;
	}
	out->opened = opened;
	out->reused = reused;
	out->dead = dead;
	pthread_mutex_unlock(&lock);
}
