/*
 * Checking certificates that come from outside: bundle certificates shown in
 * a TLS handshake or added through the keys API. Refusal is the default;
 * each reason is said in words a user can act on.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "bundles.h"

X509 *bdl_cert_from_pem(const char *pem, struct refusal *why)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	ERR_clear_error();
	if (cert == NULL)
		refusal_set(why, "", "not a PEM certificate");
	return cert;
}

X509_STORE *bdl_trust_new(X509 *const *cas, size_t n)
{
	X509_STORE *store = X509_STORE_new();

	if (store == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!X509_STORE_add_cert(store, cas[i])) {
			X509_STORE_free(store);
			return NULL;
		}
	}
	return store;
}

int bdl_verify_client_cert(X509_STORE *trust, X509 *cert, char *cn, size_t cnlen,
			   struct refusal *why)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok, code;

	if (ctx == NULL || !X509_STORE_CTX_init(ctx, trust, cert, NULL)) {
		X509_STORE_CTX_free(ctx);
		refusal_set(why, "", "out of memory");
		return -1;
	}
	/* the purpose makes OpenSSL insist on extendedKeyUsage clientAuth */
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	ok = X509_verify_cert(ctx);
	code = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	if (ok != 1) {
		if (code == X509_V_ERR_CERT_HAS_EXPIRED)
			refusal_set(why, "", "the certificate has expired");
		else if (code == X509_V_ERR_CERT_NOT_YET_VALID)
			refusal_set(why, "", "the certificate is not valid yet");
		else if (code == X509_V_ERR_INVALID_PURPOSE)
			refusal_set(why, "", "the certificate is not for client authentication");
		else
			refusal_set(why, "",
				    "the certificate was not issued by this authd's CAs (%s)",
				    X509_verify_cert_error_string(code));
		return -1;
	}
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
				      (int)cnlen) <= 0) {
		refusal_set(why, "", "the certificate has no common name");
		return -1;
	}
	return 0;
}

/* Whether the subject's only OU is unit: a name with a second OU is not what authd issued. */
static bool has_only_unit(X509 *cert, const char *unit)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int at = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, -1);
	const ASN1_STRING *value;

	if (at < 0 || X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, at) >= 0)
		return false;
	value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
	return (size_t)ASN1_STRING_length(value) == strlen(unit) &&
	       memcmp(ASN1_STRING_get0_data(value), unit, strlen(unit)) == 0;
}

int bdl_verify_engine_plugin_cert(X509_STORE *trust, const unsigned char *der, size_t len, char *cn,
				  size_t cnlen, struct refusal *why)
{
	const unsigned char *p = der;
	X509 *cert = len <= INT32_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
	int rc = -1;

	ERR_clear_error();
	if (cert == NULL)
		refusal_set(why, "", "the certificate cannot be read");
	else if (bdl_verify_client_cert(trust, cert, cn, cnlen, why) != 0)
		; /* it said why */
	else if (!has_only_unit(cert, BDL_ENGINE_PLUGIN_UNIT))
		refusal_set(why, "",
			    "the certificate is not an engine's plugin-client certificate (OU "
			    "\"" BDL_ENGINE_PLUGIN_UNIT "\"); make one with `authd engine-tls "
			    "--plugin-client`");
	else
		rc = 0;
	X509_free(cert);
	return rc;
}

long long bdl_cert_not_after(X509 *cert)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
		return -1;
	return (long long)timegm(&tm);
}

/* Every certificate of a PEM text, in order; NULL when there is none. */
static STACK_OF(X509) * certs_from_pem(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509 *c;

	while (bio != NULL && certs != NULL && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		sk_X509_push(certs, c);
	BIO_free(bio);
	ERR_clear_error();
	if (certs != NULL && sk_X509_num(certs) == 0) {
		sk_X509_free(certs);
		certs = NULL;
	}
	return certs;
}

static EVP_PKEY *key_from_pem(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	/* an empty passphrase: an encrypted key fails instead of prompting */
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;

	BIO_free(bio);
	ERR_clear_error();
	return key;
}

/* Verifies leaf (with the intermediates of chain) to the CAs, for TLS servers. */
static int verify_server_chain(STACK_OF(X509) * cas, STACK_OF(X509) * chain, struct refusal *why)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = 0, code = 0;

	for (int i = 0; store != NULL && i < sk_X509_num(cas); i++)
		X509_STORE_add_cert(store, sk_X509_value(cas, i));
	if (store != NULL && ctx != NULL &&
	    X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), chain)) {
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
		ok = X509_verify_cert(ctx) == 1;
		code = X509_STORE_CTX_get_error(ctx);
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	if (!ok)
		refusal_set(why, "cert", "cert: the certificate does not verify to the CA (%s)",
			    X509_verify_cert_error_string(code));
	return ok ? 0 : -1;
}

int bdl_check_server_material(const char *ca_pem, const char *cert_pem, const char *key_pem,
			      struct refusal *why)
{
	STACK_OF(X509) *cas = NULL, *chain = NULL;
	EVP_PKEY *key = NULL;
	int rc = -1;

	if (strstr(key_pem, "ENCRYPTED") != NULL) {
		refusal_set(why, "key", "key: the key is encrypted; send it without a passphrase");
	} else if ((cas = certs_from_pem(ca_pem)) == NULL) {
		refusal_set(why, "ca", "ca: not a PEM certificate");
	} else if ((chain = certs_from_pem(cert_pem)) == NULL) {
		refusal_set(why, "cert", "cert: not a PEM certificate");
	} else if ((key = key_from_pem(key_pem)) == NULL) {
		refusal_set(why, "key", "key: not an unencrypted PEM private key");
	} else if (X509_check_private_key(sk_X509_value(chain, 0), key) != 1) {
		refusal_set(why, "key", "key: the key does not match the certificate");
	} else if (X509_cmp_current_time(X509_get0_notAfter(sk_X509_value(chain, 0))) < 0) {
		refusal_set(why, "cert", "cert: the certificate has expired");
	} else if (verify_server_chain(cas, chain, why) != 0) {
		/* it said why */
	} else {
		rc = 0;
	}
	ERR_clear_error();
	sk_X509_pop_free(cas, X509_free);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
	return rc;
}
