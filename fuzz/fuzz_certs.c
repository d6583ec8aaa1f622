/*
 * Fuzz target for certificates that come from outside (libbundles): peer
 * certificates and keys added by hand (PEM to DER, parsing, verification to
 * a CA, fingerprints) and HTTPS material uploads. Input: "PEM\0PEM\0PEM".
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "bundles.h"

#include "fixtures.h"

/* As authd bounds them: a key's certificate (store.h), each uploaded PEM (api_certs.c), a name. */
#define PEM_MAX 8192
#define UPLOAD_MAX (64 * 1024)
#define NAME_LEN 404

static X509 *ca;
static X509_STORE *trust;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct refusal why;

	(void)argc;
	(void)argv;
	ca = bdl_cert_from_pem(fixture_ca_pem, &why);
	trust = ca ? bdl_trust_new(&ca, 1) : NULL;
	if (trust == NULL)
		abort();
	return 0;
}

static void check_fingerprint(const char fp[65])
{
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)fp[i]) || isupper((unsigned char)fp[i]))
			abort();
	if (fp[64] != '\0')
		abort();
}

/* The engine's path: the first CERTIFICATE block's bytes, hashed without parsing. */
static void peer_cert(const char *pem)
{
	size_t len = 0;
	unsigned char *der = bdl_pem_to_der(pem, &len);
	char fp[65];

	if (der == NULL) {
		if (len != 0)
			abort();
		return;
	}
	if (bdl_der_fingerprint(der, len, fp) != 0)
		abort();
	check_fingerprint(fp);
	OPENSSL_free(der);
}

/* The keys API's path: parse, verify to the CA, and read what gets stored. */
static void added_cert(const char *pem)
{
	char cn[NAME_LEN], fp[65];
	struct refusal why;
	X509 *cert;
	char *s;

	if (strlen(pem) >= PEM_MAX || (cert = bdl_cert_from_pem(pem, &why)) == NULL)
		return;
	memset(cn, 'x', sizeof(cn));
	if (bdl_verify_client_cert(trust, cert, cn, sizeof(cn), &why) == 0 &&
	    (memchr(cn, '\0', sizeof(cn)) == NULL || cn[0] == '\0'))
		abort();
	(void)X509_check_issued(ca, cert);
	if (bdl_cert_fingerprint(cert, fp) == 0)
		check_fingerprint(fp);
	(void)bdl_cert_not_after(cert);
	s = bdl_public_key_pem(cert);
	free(s);
	s = bdl_cert_pem(cert);
	free(s);
	X509_free(cert);
}

/* PUT /api/config/certs: a refusal names the part at fault and says why. */
static void upload(const char *ca_pem, const char *cert_pem, const char *key_pem)
{
	struct refusal why = {"", ""};

	if (strlen(ca_pem) > UPLOAD_MAX || strlen(cert_pem) > UPLOAD_MAX ||
	    strlen(key_pem) > UPLOAD_MAX)
		return;
	if (bdl_check_server_material(ca_pem, cert_pem, key_pem, &why) == 0)
		return;
	if (why.message[0] == '\0' || memchr(why.message, '\0', sizeof(why.message)) == NULL)
		abort();
	if (strcmp(why.field, "ca") != 0 && strcmp(why.field, "cert") != 0 &&
	    strcmp(why.field, "key") != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* one more NUL than needed, so that each of the three parts ends, present or not */
	char *buf = calloc(size + 3, 1);
	const char *part[3];

	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	part[0] = buf;
	part[1] = part[0] + strlen(part[0]) + 1;
	part[2] = part[1] + strlen(part[1]) + 1;
	peer_cert(part[0]);
	added_cert(part[0]);
	upload(part[0], part[1], part[2]);
	free(buf);
	return 0;
}
