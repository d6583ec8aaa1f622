/* Who a client-bundle certificate is, if anyone (SPEC §7.3). */
#ifndef AUTHD_CERTAUTH_H
#define AUTHD_CERTAUTH_H

#include <openssl/x509.h>

#include "session.h"

struct tls_material;

/* 0 and the caller and key id when honoured; -1 and the reason otherwise. */
int certauth_check(const struct tls_material *tls, X509 *cert, struct principal *who,
		   char key_id[ID_LEN], char *why, size_t whylen);

#endif
