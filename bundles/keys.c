/*
 * Key generation and PEM encoding. Private keys leave this file only as
 * EVP_PKEY objects or as PEM strings the caller must free with bdl_free_secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "bundles.h"

int bdl_key_type_parse(const char *name, enum bdl_key_type *out)
{
	if (strcmp(name, "ecdsa-p256") == 0)
		*out = BDL_KEY_ECDSA_P256;
	else if (strcmp(name, "rsa-2048") == 0)
		*out = BDL_KEY_RSA_2048;
	else if (strcmp(name, "rsa-4096") == 0)
		*out = BDL_KEY_RSA_4096;
	else
		return -1;
	return 0;
}

EVP_PKEY *bdl_key_generate(enum bdl_key_type type)
{
	switch (type) {
	case BDL_KEY_ECDSA_P256:
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case BDL_KEY_RSA_2048:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case BDL_KEY_RSA_4096:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	}
	return NULL;
}

/* Copies a memory BIO's contents into a NUL-terminated malloc'd string. */
static char *bio_to_string(BIO *bio)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	char *s;

	if (len < 0)
		return NULL;
	s = malloc((size_t)len + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	return s;
}

char *bdl_cert_pem(X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (bio == NULL)
		return NULL;
	if (PEM_write_bio_X509(bio, cert))
		s = bio_to_string(bio);
	BIO_free(bio);
	return s;
}

char *bdl_key_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *s = NULL;

	if (bio == NULL)
		return NULL;
	if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		s = bio_to_string(bio);
	BIO_free(bio); /* secmem BIOs zero their buffer */
	return s;
}

void bdl_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

char *bdl_public_key_pem(X509 *cert)
{
	/*
	 * The certificate already holds the SubjectPublicKeyInfo: re-wrapping its
	 * DER costs nothing, where encoding the EVP_PKEY goes through OpenSSL 3's
	 * encoder lookup, which costs more than signing the certificate.
	 */
	unsigned char *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	BIO *bio = len > 0 ? BIO_new(BIO_s_mem()) : NULL;
	char *s = NULL;

	if (bio != NULL && PEM_write_bio(bio, "PUBLIC KEY", "", der, len) > 0)
		s = bio_to_string(bio);
	BIO_free(bio);
	OPENSSL_free(der);
	return s;
}

static void hex(const unsigned char *md, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int bdl_cert_fingerprint(X509 *cert, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	if (!X509_digest(cert, EVP_sha256(), md, &n) || n != sizeof(md))
		return -1;
	hex(md, n, out);
	return 0;
}

int bdl_der_fingerprint(const unsigned char *der, size_t len, char out[65])
{
	unsigned char md[32];

	if (SHA256(der, len, md) == NULL)
		return -1;
	hex(md, sizeof(md), out);
	return 0;
}

unsigned char *bdl_pem_to_der(const char *pem, size_t *len)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	unsigned char *der = NULL;
	char *name = NULL, *header = NULL;
	long n = 0;

	/* PEM_read_bio decodes base64 only: no ASN.1 parsing, no key decoding */
	if (bio != NULL && PEM_read_bio(bio, &name, &header, &der, &n) == 1 &&
	    strcmp(name, PEM_STRING_X509) != 0) {
		OPENSSL_free(der);
		der = NULL;
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	BIO_free(bio);
	ERR_clear_error();
	*len = der ? (size_t)n : 0;
	return der;
}

void bdl_free_bytes(unsigned char *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}
