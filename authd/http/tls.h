/*
 * authd's certificate material: the cluster CA (signs server certificates
 * and admin bundles), the client CA (signs user bundles), and the HTTPS
 * server certificate.
 */
#ifndef AUTHD_TLS_H
#define AUTHD_TLS_H

#include "authd.h"
#include "bundles.h"

/* Everything here is owned by the struct; tls_free() frees it (keys zeroed). */
struct tls_material {
	struct bdl_ca cluster;
	struct bdl_ca client;
	char *cluster_pem; /* verifies authd's and the engines' server certificates */
	char *cas_pem;	   /* both CA certificates: GET /ca, and the handshake's trust list */
	X509_STORE *client_trust; /* both CAs, for bundle certificates */
	/* the cluster CA alone, for engines' plugin-client certificates */
	X509_STORE *engine_trust;
	char *cert_pem; /* the HTTPS certificate (and chain) */
	char *key_pem;
};

int tls_make_dirs(const char *data_dir, struct failure *err);
/* Loads both CAs, making them at first start. */
int tls_load_cas(const char *data_dir, struct tls_material *m, struct failure *err);
/* Loads both CAs, then the server certificate (making it at first start). */
int tls_load(const struct config *cfg, struct tls_material *m, struct failure *err);
void tls_free(struct tls_material *m);

#endif
