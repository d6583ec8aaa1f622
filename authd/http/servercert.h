/*
 * The certificate authd serves over HTTPS, swappable while running (SPEC
 * §7.5): each new handshake takes whatever is current, and a connection
 * keeps the one it started with for as long as it lives (refcount.h).
 */
#ifndef AUTHD_SERVERCERT_H
#define AUTHD_SERVERCERT_H

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

#include "authd.h"

struct certset;

/* Makes the certificate and key (PEM) the current ones; -1 with err, the old ones kept. */
int servercert_set(const char *cert_pem, const char *key_pem, struct failure *err);
/* The current certificate chain's PEM, malloc'd; the caller frees it. NULL when none. */
char *servercert_pem(void);
/* The current set with a reference for the caller, or NULL; servercert_put drops it. */
struct certset *servercert_take(void);
void servercert_put(struct certset *s);
/* What a handshake hands GnuTLS; valid while the caller holds its reference. */
void servercert_parts(struct certset *s, gnutls_pcert_st **pcert, unsigned int *n,
		      gnutls_privkey_t *key);
/* Withdraws the current set at exit; connections still open keep theirs. */
void servercert_clear(void);

#endif
