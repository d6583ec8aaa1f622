/*
 * Secrets authd must keep in a form it can use again (LDAP reader
 * passwords) are sealed with AES-256-GCM under a key of their own in
 * <dataDir>/secret.key (0600), so that a copy of the database alone
 * reveals none of them. With store.keyFile (replicas on PostgreSQL) they
 * are sealed under that file's key instead, as the TLS material kept in
 * the store is (secret_key_file_read), so that replicas share them.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "bundles.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define PREFIX "v1:"

int secret_key_load(const char *data_dir, bool make, unsigned char key[SECRET_KEY_LEN],
		    struct failure *err)
{
	struct failure e;
	char path[4096];
	size_t len = 0;
	char *data;

	snprintf(path, sizeof(path), "%s/secret.key", data_dir);
	data = file_read(path, SECRET_KEY_LEN + 1, &len, &e);
	if (data != NULL && len == SECRET_KEY_LEN) {
		memcpy(key, data, SECRET_KEY_LEN);
		bdl_free_secret(data);
		return 0;
	}
	bdl_free_secret(data);
	if (data != NULL || errno != ENOENT) {
		/* a wrong key would make every sealed secret unreadable: refuse to guess */
		return failure_set(err,
				   "%s: not a %d-byte key; restore it or remove it together with "
				   "the LDAP settings",
				   path, SECRET_KEY_LEN);
	}
	if (!make)
		return 1;
	if (RAND_bytes(key, SECRET_KEY_LEN) != 1 ||
	    file_write(path, (const char *)key, SECRET_KEY_LEN, 0600, &e) != 0)
		return failure_set(err, "%s: cannot be made: %s", path, e.message);
	return 0;
}

int secret_key_file_read(const char *path, unsigned char key[SECRET_KEY_LEN], struct failure *err)
{
	struct failure e;
	size_t len = 0, got = 0, size;
	char *data = file_read(path, 4 * SECRET_KEY_LEN, &len, &e);
	int rc = -1;

	if (data == NULL)
		return failure_set(err, "store.keyFile: %s: %s", path, e.message);
	size = len;
	if (len == SECRET_KEY_LEN) {
		memcpy(key, data, SECRET_KEY_LEN);
		rc = 0;
	} else {
		/* `openssl rand -hex 32 > file` writes the digits and a line break */
		while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			data[--len] = '\0';
		if (len == 2 * SECRET_KEY_LEN &&
		    OPENSSL_hexstr2buf_ex(key, SECRET_KEY_LEN, &got, data, '\0') == 1 &&
		    got == SECRET_KEY_LEN)
			rc = 0;
		ERR_clear_error();
	}
	/* raw key bytes may hold a NUL: cleanse the whole read, not a string's length */
	OPENSSL_cleanse(data, size);
	free(data);
	if (rc != 0)
		return failure_set(err,
				   "store.keyFile: %s holds no key: it must hold %d bytes, raw or "
				   "as %d hex digits (make one with `openssl rand -hex %d`)",
				   path, SECRET_KEY_LEN, 2 * SECRET_KEY_LEN, SECRET_KEY_LEN);
	return 0;
}

/* AES-256-GCM one way or the other; the output length equals the input's. */
static int gcm(bool seal, const unsigned char *key, const unsigned char *nonce,
	       const unsigned char *in, int len, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, ok;

	ok = ctx != NULL &&
	     EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, seal ? 1 : 0) == 1 &&
	     EVP_CipherUpdate(ctx, out, &n, in, len) == 1 &&
	     (seal || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1) &&
	     EVP_CipherFinal_ex(ctx, out + n, &fin) == 1 &&
	     (!seal || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1);
	EVP_CIPHER_CTX_free(ctx);
	return ok && n + fin == len ? 0 : -1;
}

char *secret_seal(const unsigned char key[SECRET_KEY_LEN], const char *plain)
{
	size_t len = strlen(plain), total = NONCE_LEN + len + TAG_LEN;
	size_t hexlen = strlen(PREFIX) + 2 * total + 1;
	unsigned char *buf = malloc(total);
	char *out = malloc(hexlen);

	if (buf == NULL || out == NULL || len > INT32_MAX || RAND_bytes(buf, NONCE_LEN) != 1 ||
	    gcm(true, key, buf, (const unsigned char *)plain, (int)len, buf + NONCE_LEN,
		buf + NONCE_LEN + len) != 0 ||
	    OPENSSL_buf2hexstr_ex(out + strlen(PREFIX), hexlen - strlen(PREFIX), NULL, buf, total,
				  '\0') != 1) {
		free(buf);
		free(out);
		return NULL;
	}
	memcpy(out, PREFIX, strlen(PREFIX));
	free(buf);
	return out;
}

char *secret_unseal(const unsigned char key[SECRET_KEY_LEN], const char *sealed)
{
	size_t hex = strlen(sealed), total = 0, len;
	unsigned char *buf;
	char *plain;

	if (strncmp(sealed, PREFIX, strlen(PREFIX)) != 0 || hex > 1 << 20)
		return NULL;
	buf = malloc(hex / 2 + 1);
	if (buf == NULL ||
	    OPENSSL_hexstr2buf_ex(buf, hex / 2 + 1, &total, sealed + strlen(PREFIX), '\0') != 1 ||
	    total < NONCE_LEN + TAG_LEN) {
		free(buf);
		return NULL;
	}
	len = total - NONCE_LEN - TAG_LEN;
	plain = malloc(len + 1);
	if (plain == NULL ||
	    gcm(false, key, buf, buf + NONCE_LEN, (int)len, (unsigned char *)plain,
		buf + NONCE_LEN + len) != 0 ||
	    memchr(plain, '\0', len) != NULL) {
		/* a tag that does not match: another key, or a changed database */
		if (plain != NULL)
			OPENSSL_cleanse(plain, len);
		free(plain);
		free(buf);
		return NULL;
	}
	plain[len] = '\0';
	free(buf);
	return plain;
}
