/*
 * The certificate authd serves over HTTPS, swappable while running (SPEC
 * §7.5): each new handshake takes whatever is current; connections already
 * open keep the one they started with.
 */
#ifndef AUTHD_SERVERCERT_H
#define AUTHD_SERVERCERT_H

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

#include "authd.h"

int servercert_set(const char *cert_pem, const char *key_pem, struct failure *err);
/* The current certificate chain's PEM, malloc'd; the caller frees it. */
char *servercert_pem(void);
/* For libmicrohttpd's MHD_OPTION_HTTPS_CERT_CALLBACK. */
int servercert_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
			const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
			unsigned int *pcert_length, gnutls_privkey_t *pkey);
/* Frees every certificate set so far; only after the HTTP server stopped. */
void servercert_free_all(void);

#endif
