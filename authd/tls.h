/*
 * authd's own certificates: the cluster CA and the HTTPS server certificate.
 */
#ifndef AUTHD_TLS_H
#define AUTHD_TLS_H

#include "authd.h"

/* PEM strings owned by the struct; tls_free() frees them (the key zeroed). */
struct tls_material {
	char *ca_pem;
	char *cert_pem;
	char *key_pem;
};

int tls_make_dirs(const char *data_dir, char *err, size_t errlen);
int tls_load(const struct config *cfg, struct tls_material *m, char *err, size_t errlen);
void tls_free(struct tls_material *m);

#endif
