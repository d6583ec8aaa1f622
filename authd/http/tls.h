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
	bool shared; /* kept in the store (store.keyFile), not in the data dir */
	/* the stored served certificate's version that servercert serves (tls_reload_served) */
	atomic_llong served_version;
};

int tls_make_dirs(const char *data_dir, struct failure *err);
/* Loads both CAs, making them at first start. */
int tls_load_cas(const char *data_dir, struct tls_material *m, struct failure *err);
/* Loads both CAs, then the server certificate (making it at first start). */
int tls_load(const struct config *cfg, struct tls_material *m, struct failure *err);
/*
 * The same from the store (store.keyFile set), making what an empty store
 * lacks under insert-if-absent, so that replicas starting together end with
 * one of each; kek is store.keyFile's key, which seals the private keys.
 */
int tls_load_shared(const struct config *cfg, const unsigned char *kek, struct tls_material *m,
		    struct failure *err);
/*
 * Serves the certificate the store holds when another replica replaced it
 * (an upload): one small read when nothing changed. For the tick and
 * CHANGE_CERTS; 0 also when not shared.
 */
int tls_reload_served(const struct config *cfg, const unsigned char *kek, struct tls_material *m);
/* Stores an uploaded served certificate, its key sealed under kek: STORE_OK or a failure. */
int tls_store_served(const unsigned char *kek, const char *ca, const char *cert, const char *key);
void tls_free(struct tls_material *m);

#endif
