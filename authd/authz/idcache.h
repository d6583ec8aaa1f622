/*
 * The identity cache: a certificate's text, exactly as a request carries it,
 * mapped to the SHA-256 fingerprint of its DER, so that a client's every
 * decision does not decode base64, read PEM and hash the certificate again.
 */
#ifndef AUTHD_IDCACHE_H
#define AUTHD_IDCACHE_H

#include <stdbool.h>
#include <stddef.h>

/* The cache's capacity in entries, and the longest text it keeps (longer ones are decoded each
 * time). */
#define IDCACHE_ENTRIES 1024
#define IDCACHE_TEXT_MAX 4096

/* How a text encodes its certificate: the same bytes in two forms are two keys. */
enum idcache_form {
	IDCACHE_PEM,	    /* PEM text (the decision API's "certificate") */
	IDCACHE_BASE64_PEM, /* base64 of the PEM text (what dockerd sends the plugin) */
};

struct idcache;

/* NULL when out of memory. */
struct idcache *idcache_new(void);
void idcache_free(struct idcache *c);
/*
 * Whether the len bytes of text, in form, are cached: fp gets their
 * fingerprint (64 hex digits and a NUL). Always false when c is NULL.
 */
bool idcache_get(struct idcache *c, enum idcache_form form, const char *text, size_t len,
		 char fp[65]);
/*
 * Remembers that text's certificate has fingerprint fp; the cache keeps its
 * own copy of text. Nothing when c is NULL or the text is over IDCACHE_TEXT_MAX.
 */
void idcache_put(struct idcache *c, enum idcache_form form, const char *text, size_t len,
		 const char fp[65]);

#endif
