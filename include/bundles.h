/*
 * libbundles: keys, certificate authorities and certificates for authd, its
 * engines and its client bundles. Knows OpenSSL; knows nothing of HTTP or the
 * store. A failed operation says why in a struct failure, a refused
 * certificate in a struct refusal (common.h).
 */
#ifndef AUTHD_BUNDLES_H
#define AUTHD_BUNDLES_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common.h"

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
int bdl_ca_generate(const char *common_name, int days, struct bdl_ca *out, struct failure *err);
int bdl_ca_load(const char *cert_path, const char *key_path, struct bdl_ca *out,
		struct failure *err);
/* Writes the certificate (0644) and key (0600), each atomically. */
int bdl_ca_save(const struct bdl_ca *ca, const char *cert_path, const char *key_path,
		struct failure *err);
void bdl_ca_free(struct bdl_ca *ca);

/*
 * A server certificate for `key`, signed by `ca`: CN=common_name, every
 * entry of sans[] as an IP address when it parses as one, else a DNS name,
 * extendedKeyUsage serverAuth, random 128-bit serial.
 */
X509 *bdl_issue_server_cert(const struct bdl_ca *ca, EVP_PKEY *key, const char *common_name,
			    const char *const *sans, size_t nsans, int days, struct failure *err);

/*
 * A client certificate for `key`, signed by `ca`: subject CN=common_name,
 * OU=unit, O=authd; extendedKeyUsage clientAuth; random 128-bit serial.
 * It is made to be encoded and handed out: for EC keys the returned object
 * holds no decoded public key (X509_get0_pubkey gives NULL), so verify a
 * parsed copy, as any relying party does.
 */
X509 *bdl_issue_client_cert(const struct bdl_ca *ca, EVP_PKEY *key, const char *common_name,
			    const char *unit, int days, struct failure *err);

/* What goes into a client bundle (SPEC §7.2); every string is borrowed. */
struct bdl_bundle {
	const char *ca_pem;   /* verifies DOCKER_HOST's server certificate */
	const char *cert_pem; /* the client certificate */
	const char *key_pem;  /* its private key: exists only in the zip */
	const char *pub_pem;  /* its public key */
	const char *account, *label, *key_id, *scope, *not_after;
	const char *docker_host;	 /* may be empty */
	const char *const *engine_hosts; /* listed in admin bundles' scripts */
	size_t n_engine_hosts;
};

/*
 * The bundle zip: ca.pem, cert.pem, key.pem, cert.pub, env.sh, env.ps1,
 * env.cmd, docker-context.zip and meta.json, with the key id as the zip's
 * comment. *out is malloc'd; the caller frees it with bdl_free_bytes
 * (it holds the private key).
 */
int bdl_make_zip(const struct bdl_bundle *b, unsigned char **out, size_t *len, struct failure *err);
void bdl_free_bytes(unsigned char *p, size_t len);

/* The certificate's public key, as PEM; the caller frees it. */
char *bdl_public_key_pem(X509 *cert);
/* SHA-256 of the certificate's DER, as 64 lowercase hex digits and a NUL. */
int bdl_cert_fingerprint(X509 *cert, char out[65]);
/* The same from DER bytes, without parsing them. */
int bdl_der_fingerprint(const unsigned char *der, size_t len, char out[65]);
/*
 * The DER bytes of the first CERTIFICATE block of a PEM text, unparsed;
 * OPENSSL_malloc'd, the caller frees them with OPENSSL_free. NULL when none.
 */
unsigned char *bdl_pem_to_der(const char *pem, size_t *len);

/* The first certificate of a PEM text; NULL with a reason when there is none. */
X509 *bdl_cert_from_pem(const char *pem, struct refusal *why);
/* The CAs a client certificate may chain to; the caller frees it with X509_STORE_free. */
X509_STORE *bdl_trust_new(X509 *const *cas, size_t n);
/*
 * Checks a client certificate: it chains to `trust`, is valid now and is
 * meant for client authentication. Its subject's CN goes to `cn`.
 */
int bdl_verify_client_cert(X509_STORE *trust, X509 *cert, char *cn, size_t cnlen,
			   struct refusal *why);

/*
 * The OU of the certificate an engine presents to authd's plugin listener
 * (authz.listen), issued by the cluster CA with `authd engine-tls
 * --plugin-client`. Bundles are issued with OU "admin" or "user", so no
 * bundle certificate carries it.
 */
#define BDL_ENGINE_PLUGIN_UNIT "engine-plugin"

/*
 * Checks an engine's plugin-client certificate (DER): bdl_verify_client_cert
 * against `trust` (the cluster CA alone), and its subject's OU is
 * BDL_ENGINE_PLUGIN_UNIT. The engine's name (the CN) goes to `cn`.
 */
int bdl_verify_engine_plugin_cert(X509_STORE *trust, const unsigned char *der, size_t len, char *cn,
				  size_t cnlen, struct refusal *why);

/*
 * Checks HTTPS material an admin uploads (SPEC §7.5): every PEM parses, the
 * key is not encrypted and matches the certificate, the certificate (with
 * the intermediates after it in cert_pem) verifies to a CA in ca_pem for
 * TLS servers, and it has not expired. A refusal names the part at fault
 * ("ca", "cert" or "key").
 */
int bdl_check_server_material(const char *ca_pem, const char *cert_pem, const char *key_pem,
			      struct refusal *why);

/* The certificate's notAfter as seconds since the epoch; -1 when unreadable. */
long long bdl_cert_not_after(X509 *cert);

/* PEM text, NUL-terminated, from malloc(); the caller frees it (keys: bdl_free_secret). */
char *bdl_cert_pem(X509 *cert);
char *bdl_key_pem(EVP_PKEY *key);
/* Zeroes and frees a secret string. */
void bdl_free_secret(char *s);

#endif
