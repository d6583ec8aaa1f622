/*
 * Managed passwords: argon2id with its parameters inside the encoded hash,
 * so they can be raised later without breaking stored hashes.
 */
#include <stdlib.h>
#include <string.h>
#include <argon2.h>
#include <openssl/rand.h>

#include "authd.h"

/* RFC 9106's second recommended option, scaled to OWASP's 19 MiB minimum. */
#define T_COST 2
#define M_COST_KIB 19456
#define PARALLELISM 1
#define SALT_LEN 16
#define HASH_LEN 32

char *password_hash(const char *password)
{
	unsigned char salt[SALT_LEN];
	size_t len =
	    argon2_encodedlen(T_COST, M_COST_KIB, PARALLELISM, SALT_LEN, HASH_LEN, Argon2_id);
	char *out = malloc(len);

	if (out == NULL || RAND_bytes(salt, sizeof(salt)) != 1 ||
	    argon2id_hash_encoded(T_COST, M_COST_KIB, PARALLELISM, password, strlen(password), salt,
				  sizeof(salt), HASH_LEN, out, len) != ARGON2_OK) {
		free(out);
		return NULL;
	}
	return out;
}

bool password_verify(const char *encoded, const char *password)
{
	return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK;
}

void password_verify_dummy(const char *password)
{
	/* a hash of a random password, made with the same parameters as real ones */
	static const char dummy[] = "$argon2id$v=19$m=19456,t=2,p=1$"
				    "c29tZXNhbHRzb21lc2FsdA$"
				    "4aBtwZtJ6CBGJXhzZdpbbQ3Kp0lOMUcm8Xb2HK0Sfps";

	(void)password_verify(dummy, password);
}

const char *password_problem(const char *password)
{
	if (is_blank(password))
		return "must not be empty";
	if (strlen(password) > PASSWORD_MAX_BYTES)
		return "must be at most 1024 bytes";
	if (utf8_chars(password) < PASSWORD_MIN_CHARS)
		return "must be at least 8 characters";
	return NULL;
}
