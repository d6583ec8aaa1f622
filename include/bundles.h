/*
 * libbundles: keys, certificate authorities and certificates for authd, its
 * engines and its client bundles. Knows OpenSSL; knows nothing of HTTP or the
 * store. Every function reports failure with a short reason in err[].
 */
#ifndef AUTHD_BUNDLES_H
#define AUTHD_BUNDLES_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define BDL_ERRLEN 256

enum bdl_key_type {
	BDL_KEY_ECDSA_P256,
	BDL_KEY_RSA_2048,
	BDL_KEY_RSA_4096,
};

/* A CA is its certificate and its private key; bdl_ca_free() frees both. */
struct bdl_ca {
	X509 *cert;
	EVP_PKEY *key;
};

/* "ecdsa-p256", "rsa-2048" or "rsa-4096"; -1 for anything else. */
int bdl_key_type_parse(const char *name, enum bdl_key_type *out);
/* A new private key; the caller frees it with EVP_PKEY_free(). */
EVP_PKEY *bdl_key_generate(enum bdl_key_type type);

/* A new self-signed CA with an ECDSA P-256 key. */
int bdl_ca_generate(const char *common_name, int days, struct bdl_ca *out, char *err);
int bdl_ca_load(const char *cert_path, const char *key_path, struct bdl_ca *out, char *err);
/* Writes the certificate (0644) and key (0600), each atomically. */
int bdl_ca_save(const struct bdl_ca *ca, const char *cert_path, const char *key_path, char *err);
void bdl_ca_free(struct bdl_ca *ca);

/*
 * A server certificate for `key`, signed by `ca`: CN=common_name, every
 * entry of sans[] as an IP address when it parses as one, else a DNS name,
 * extendedKeyUsage serverAuth, random 128-bit serial.
 */
X509 *bdl_issue_server_cert(const struct bdl_ca *ca, EVP_PKEY *key, const char *common_name,
			    const char *const *sans, size_t nsans, int days, char *err);

/* PEM text, NUL-terminated, from malloc(); the caller frees it (keys: bdl_free_secret). */
char *bdl_cert_pem(X509 *cert);
char *bdl_key_pem(EVP_PKEY *key);
/* Zeroes and frees a secret string. */
void bdl_free_secret(char *s);

/* Reads a whole file into a NUL-terminated buffer of at most `max` bytes. */
char *bdl_read_file(const char *path, size_t max, size_t *len, char *err);
/* Writes through a temporary file and rename(), so readers never see half a file. */
int bdl_write_file(const char *path, const char *data, size_t len, int mode, char *err);

#endif
