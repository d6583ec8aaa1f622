/*
 * The served certificate. GnuTLS asks for it through a callback that has no
 * user pointer, so the current set lives in this file, in a slot of its own
 * (refcount.h): http.c takes a reference for each connection at its first
 * handshake and drops it when the connection closes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refcount.h"
#include "servercert.h"

#define MAX_CHAIN 16

struct certset {
	struct ref ref; /* first: the object's address */
	gnutls_pcert_st pcerts[MAX_CHAIN];
	unsigned int npcerts;
	gnutls_privkey_t key;
	char *pem;
};

static struct ref_slot current = {PTHREAD_MUTEX_INITIALIZER, NULL};

static void certset_free(struct ref *r)
{
	struct certset *s = (struct certset *)r;

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

	if (s == NULL) {
		failure_set(err, "out of memory");
		return NULL;
	}
	ref_init(&s->ref, certset_free);
	if ((s->pem = strdup(cert_pem)) == NULL) {
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
	ref_put(&s->ref);
	return NULL;
}

int servercert_set(const char *cert_pem, const char *key_pem, struct failure *err)
{
	struct certset *s = certset_new(cert_pem, key_pem, err);

	if (s == NULL)
		return -1;
	ref_slot_publish(&current, &s->ref);
	return 0;
}

struct certset *servercert_take(void)
{
	return (struct certset *)ref_slot_take(&current);
}

void servercert_put(struct certset *s)
{
	if (s != NULL)
		ref_put(&s->ref);
}

char *servercert_pem(void)
{
	struct certset *s = servercert_take();
	char *pem = s ? strdup(s->pem) : NULL;

	servercert_put(s);
	return pem;
}

void servercert_parts(struct certset *s, gnutls_pcert_st **pcert, unsigned int *n,
		      gnutls_privkey_t *key)
{
	*pcert = s->pcerts;
	*n = s->npcerts;
	*key = s->key;
}

void servercert_clear(void)
{
	ref_slot_publish(&current, NULL);
}
