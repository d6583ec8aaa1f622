/*
 * Certificate authorities and the certificates they sign. A CA here is
 * always ECDSA P-256 when generated; loaded CAs may be any key OpenSSL reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>

#include "bundles.h"

#define MAX_PEM_FILE (1 << 20)

static void ssl_error(struct failure *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	ERR_error_string_n(e, buf, sizeof(buf));
	failure_set(err, "%s: %s", what, e ? buf : "failed");
	ERR_clear_error();
}

/* A random positive 128-bit serial, as RFC 5280 allows (at most 20 octets). */
static int set_random_serial(X509 *cert)
{
	unsigned char raw[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	raw[0] &= 0x7f;
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (bn == NULL)
		return -1;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return 0;
}

/*
 * Puts the key's public half in a leaf certificate. For EC keys the
 * SubjectPublicKeyInfo is written straight from the encoded point:
 * X509_set_pubkey would run it through OpenSSL 3's encoder and then its
 * decoder, which costs more than signing the certificate. The X509 object
 * then has no decoded key of its own, so this is only for certificates that
 * are encoded and handed out, never for CAs that verify others in memory.
 */
static int set_leaf_pubkey(X509 *cert, EVP_PKEY *key)
{
	unsigned char *point;
	size_t len = 0;
	char curve[32];

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve),
					    NULL) ||
	    strcmp(curve, "prime256v1") != 0 ||
	    !EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0,
					     &len))
		return X509_set_pubkey(cert, key) ? 0 : -1;
	point = OPENSSL_malloc(len);
	if (point == NULL ||
	    !EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, len,
					     &len) ||
	    !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert),
				    OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
				    OBJ_nid2obj(NID_X9_62_prime256v1), point, (int)len)) {
		OPENSSL_free(point);
		return -1;
	}
	return 0; /* the point now belongs to the certificate */
}

/*
 * A certificate with serial, validity, subject (O=authd[, OU=unit], CN=cn)
 * and, unless key is NULL, the public key; not yet signed.
 */
static X509 *new_cert(EVP_PKEY *key, const char *unit, const char *cn, int days)
{
	X509 *cert = X509_new();
	X509_NAME *name;

	if (cert == NULL)
		return NULL;
	name = X509_get_subject_name(cert);
	if (!X509_set_version(cert, 2) || set_random_serial(cert) != 0 ||
	    /* a minute of slack for clocks that disagree a little */
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -60) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400) ||
	    (key != NULL && !X509_set_pubkey(cert, key)) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"authd",
					-1, -1, 0) ||
	    (unit != NULL && !X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
							 (const unsigned char *)unit, -1, -1, 0)) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0)) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

int bdl_ca_generate(const char *common_name, int days, struct bdl_ca *out, struct failure *err)
{
	out->cert = NULL;
	out->key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	if (out->key == NULL) {
		ssl_error(err, "generating CA key");
		return -1;
	}
	out->cert = new_cert(out->key, NULL, common_name, days);
	if (out->cert == NULL ||
	    !X509_set_issuer_name(out->cert, X509_get_subject_name(out->cert)) ||
	    add_ext(out->cert, out->cert, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
	    add_ext(out->cert, out->cert, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
	    add_ext(out->cert, out->cert, NID_subject_key_identifier, "hash") != 0 ||
	    !X509_sign(out->cert, out->key, EVP_sha256())) {
		ssl_error(err, "making CA certificate");
		bdl_ca_free(out);
		return -1;
	}
	return 0;
}

int bdl_ca_load(const char *cert_path, const char *key_path, struct bdl_ca *out,
		struct failure *err)
{
	char *pem;
	BIO *bio;

	out->cert = NULL;
	out->key = NULL;
	pem = file_read(cert_path, MAX_PEM_FILE, NULL, err);
	if (pem == NULL)
		return -1;
	bio = BIO_new_mem_buf(pem, -1);
	out->cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	free(pem);
	if (out->cert == NULL) {
		ssl_error(err, cert_path);
		return -1;
	}
	pem = file_read(key_path, MAX_PEM_FILE, NULL, err);
	if (pem == NULL) {
		bdl_ca_free(out);
		return -1;
	}
	bio = BIO_new_mem_buf(pem, -1);
	/* an encrypted key would prompt; an empty passphrase makes it fail instead */
	out->key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
	BIO_free(bio);
	bdl_free_secret(pem);
	if (out->key == NULL) {
		ssl_error(err, key_path);
		bdl_ca_free(out);
		return -1;
	}
	if (X509_check_private_key(out->cert, out->key) != 1) {
		failure_set(err, "%s does not match %s", key_path, cert_path);
		ERR_clear_error();
		bdl_ca_free(out);
		return -1;
	}
	return 0;
}

int bdl_ca_save(const struct bdl_ca *ca, const char *cert_path, const char *key_path,
		struct failure *err)
{
	char *cert = bdl_cert_pem(ca->cert);
	char *key = bdl_key_pem(ca->key);
	int rc = -1;

	if (cert == NULL || key == NULL)
		failure_set(err, "encoding CA: out of memory");
	else if (file_write(key_path, key, strlen(key), 0600, err) == 0 &&
		 file_write(cert_path, cert, strlen(cert), 0644, err) == 0)
		rc = 0;
	free(cert);
	bdl_free_secret(key);
	return rc;
}

void bdl_ca_free(struct bdl_ca *ca)
{
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	ca->cert = NULL;
	ca->key = NULL;
}

/* "IP:1.2.3.4,DNS:host,..." for the subjectAltName extension. */
static char *san_list(const char *const *sans, size_t nsans)
{
	size_t cap = 1, i;
	char *s;

	for (i = 0; i < nsans; i++)
		cap += strlen(sans[i]) + 5;
	s = calloc(1, cap);
	if (s == NULL)
		return NULL;
	for (i = 0; i < nsans; i++) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(sans[i]);

		if (i > 0)
			strcat(s, ",");
		strcat(s, ip ? "IP:" : "DNS:");
		strcat(s, sans[i]);
		ASN1_OCTET_STRING_free(ip);
	}
	ERR_clear_error();
	return s;
}

X509 *bdl_issue_server_cert(const struct bdl_ca *ca, EVP_PKEY *key, const char *common_name,
			    const char *const *sans, size_t nsans, int days, struct failure *err)
{
	X509 *cert = new_cert(key, NULL, common_name, days);
	char *alt = san_list(sans, nsans);

	if (cert == NULL || alt == NULL ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) ||
	    add_ext(cert, ca->cert, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(cert, ca->cert, NID_key_usage, "critical,digitalSignature,keyEncipherment") !=
		0 ||
	    add_ext(cert, ca->cert, NID_ext_key_usage, "serverAuth") != 0 ||
	    add_ext(cert, ca->cert, NID_authority_key_identifier, "keyid:always") != 0 ||
	    (nsans > 0 && add_ext(cert, ca->cert, NID_subject_alt_name, alt) != 0) ||
	    !X509_sign(cert, ca->key, EVP_sha256())) {
		ssl_error(err, "issuing server certificate");
		X509_free(cert);
		cert = NULL;
	}
	free(alt);
	return cert;
}

X509 *bdl_issue_client_cert(const struct bdl_ca *ca, EVP_PKEY *key, const char *common_name,
			    const char *unit, int days, struct failure *err)
{
	X509 *cert = new_cert(NULL, unit, common_name, days);

	if (cert == NULL || set_leaf_pubkey(cert, key) != 0 ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) ||
	    add_ext(cert, ca->cert, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(cert, ca->cert, NID_key_usage, "critical,digitalSignature,keyEncipherment") !=
		0 ||
	    add_ext(cert, ca->cert, NID_ext_key_usage, "clientAuth") != 0 ||
	    add_ext(cert, ca->cert, NID_authority_key_identifier, "keyid:always") != 0 ||
	    !X509_sign(cert, ca->key, EVP_sha256())) {
		ssl_error(err, "issuing client certificate");
		X509_free(cert);
		return NULL;
	}
	return cert;
}
