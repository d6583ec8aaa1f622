/*
 * Checking certificates that come from outside: bundle certificates shown in
 * a TLS handshake or added through the keys API. Refusal is the default;
 * each reason is said in words a user can act on.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "bundles.h"

X509 *bdl_cert_from_pem(const char *pem, char *err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	ERR_clear_error();
	if (cert == NULL)
		snprintf(err, BDL_ERRLEN, "not a PEM certificate");
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

int bdl_verify_client_cert(X509_STORE *trust, X509 *cert, char *cn, size_t cnlen, char *err)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok, code;

	if (ctx == NULL || !X509_STORE_CTX_init(ctx, trust, cert, NULL)) {
		X509_STORE_CTX_free(ctx);
		snprintf(err, BDL_ERRLEN, "out of memory");
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
			snprintf(err, BDL_ERRLEN, "the certificate has expired");
		else if (code == X509_V_ERR_CERT_NOT_YET_VALID)
			snprintf(err, BDL_ERRLEN, "the certificate is not valid yet");
		else if (code == X509_V_ERR_INVALID_PURPOSE)
			snprintf(err, BDL_ERRLEN, "the certificate is not for client authentication");
		else
			snprintf(err, BDL_ERRLEN, "the certificate was not issued by this authd's CAs (%s)",
				 X509_verify_cert_error_string(code));
		return -1;
	}
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, (int)cnlen) <= 0) {
		snprintf(err, BDL_ERRLEN, "the certificate has no common name");
		return -1;
	}
	return 0;
}

long long bdl_cert_not_after(X509 *cert)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
		return -1;
	return (long long)timegm(&tm);
}
