/*
 * The served certificate. GnuTLS asks for it through a callback that has no
 * user pointer, so the current set lives in this file: an atomic pointer to
 * an immutable set. A swap publishes a new set and keeps the old ones on a
 * list until shutdown, because a handshake may still be reading them; swaps
 * are rare admin actions, so the list stays short.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servercert.h"

#define MAX_CHAIN 16

struct certset {
	struct certset *older; /* the set this one replaced */
	gnutls_pcert_st pcerts[MAX_CHAIN];
	unsigned int npcerts;
	gnutls_privkey_t key;
	char *pem;
};

static _Atomic(struct certset *) current;
static pthread_mutex_t swap_lock = PTHREAD_MUTEX_INITIALIZER;

static void certset_free(struct certset *s)
{
	for (unsigned i = 0; i < s->npcerts; i++)
		gnutls_pcert_deinit(&s->pcerts[i]);
	if (s->key != NULL)
		gnutls_privkey_deinit(s->key);
	free(s->pem);
	free(s);
}

static struct certset *certset_new(const char *cert_pem, const char *key_pem, struct failure *err)
{
	struct certset *s = calloc(1, sizeof(*s));
	gnutls_datum_t cert = {(unsigned char *)cert_pem, (unsigned int)strlen(cert_pem)};
	gnutls_datum_t key = {(unsigned char *)key_pem, (unsigned int)strlen(key_pem)};
	int rc;

	if (s == NULL || (s->pem = strdup(cert_pem)) == NULL) {
		failure_set(err, "out of memory");
		goto fail;
	}
	s->npcerts = MAX_CHAIN;
	rc = gnutls_pcert_list_import_x509_raw(s->pcerts, &s->npcerts, &cert, GNUTLS_X509_FMT_PEM,
					       0);
	if (rc < 0) {
		s->npcerts = 0;
		failure_set(err, "server certificate: %s", gnutls_strerror(rc));
		goto fail;
	}
	if ((rc = gnutls_privkey_init(&s->key)) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(s->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		failure_set(err, "server key: %s", gnutls_strerror(rc));
		goto fail;
	}
	return s;
fail:
	if (s != NULL)
		certset_free(s);
	return NULL;
}

int servercert_set(const char *cert_pem, const char *key_pem, struct failure *err)
{
	struct certset *s = certset_new(cert_pem, key_pem, err);

	if (s == NULL)
		return -1;
	pthread_mutex_lock(&swap_lock);
	s->older = atomic_load(&current);
	atomic_store(&current, s);
	pthread_mutex_unlock(&swap_lock);
	return 0;
}

char *servercert_pem(void)
{
	struct certset *s = atomic_load(&current);

	return s ? strdup(s->pem) : NULL;
}

int servercert_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
			const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
			unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct certset *s = atomic_load(&current);

	(void)session;
	(void)req_ca_dn;
	(void)nreqs;
	(void)algos;
	(void)nalgos;
	if (s == NULL)
		return -1;
	*pcert = s->pcerts;
	*pcert_length = s->npcerts;
	*pkey = s->key;
	return 0;
}

void servercert_free_all(void)
{
	struct certset *s = atomic_exchange(&current, NULL);

	while (s != NULL) {
		struct certset *older = s->older;

		certset_free(s);
		s = older;
	}
}
