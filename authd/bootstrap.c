/*
 * The first admin. An empty store gets the account "admin", with the
 * password from AUTHD_ADMIN_PASSWORD, or else a generated one written to
 * <dataDir>/initial-admin-password (0600) whose path is printed once.
 * Replicas starting together on one empty store make one admin between them.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootstrap.h"
#include "store/store.h"

#define GENERATED_LEN 24

static int generate_password(char out[GENERATED_LEN + 1])
{
	/* no look-alikes (0/O, 1/l/I), so it can be typed from a screen */
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char raw[GENERATED_LEN];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	for (int i = 0; i < GENERATED_LEN; i++)
		out[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
	out[GENERATED_LEN] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

/* Where the password came from, for the start-up message. */
static int choose_password(const char *data_dir, char *password, size_t len, char *where,
			   size_t wherelen, struct failure *err)
{
	const char *env = getenv("AUTHD_ADMIN_PASSWORD");
	struct refusal why;
	struct failure e;
	char path[4096];

	if (env != NULL) {
		if (password_check(env, &why) != 0)
			return failure_set(err, "AUTHD_ADMIN_PASSWORD: %s", why.message);
		snprintf(password, len, "%s", env);
		snprintf(where, wherelen, "AUTHD_ADMIN_PASSWORD");
		return 0;
	}
	if (len <= GENERATED_LEN || generate_password(password) != 0)
		return failure_set(err, "cannot generate a password");
	snprintf(path, sizeof(path), "%s/initial-admin-password", data_dir);
	if (file_write(path, password, strlen(password), 0600, &e) != 0)
		return failure_set(err, "%s", e.message);
	snprintf(where, wherelen, "%s", path);
	return 0;
}

int bootstrap_admin(const char *data_dir, struct failure *err)
{
	int64_t users = 0, orgs = 0;
	char password[PASSWORD_MAX_BYTES + 1], where[4096];
	struct account a;
	char *hash;
	int rc;

	if (store_account_counts(&users, &orgs) != STORE_OK)
		return failure_set(err, "cannot read the accounts");
	if (users + orgs > 0)
		return 0;
	if (choose_password(data_dir, password, sizeof(password), where, sizeof(where), err) != 0)
		return -1;
	hash = password_hash(password);
	OPENSSL_cleanse(password, sizeof(password));
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "admin");
	snprintf(a.full_name, sizeof(a.full_name), "Administrator");
	a.is_admin = a.is_active = true;
	a.created_at = a.updated_at = now_seconds();
	rc = hash != NULL && new_uuid(a.id) == 0 ? store_account_insert(&a, hash) : STORE_ERROR;
	free(hash);
	if (rc == STORE_CONFLICT && store_account_counts(&users, &orgs) == STORE_OK && users > 0) {
		/* another replica on the same store made its first admin meanwhile: that one stays
		 */
		if (strcmp(where, "AUTHD_ADMIN_PASSWORD") != 0)
			unlink(where);
		log_msg(LOG_INFO, "another authd on this store made the first admin");
		return 0;
	}
	if (rc != STORE_OK)
		return failure_set(err, "cannot create the first admin");
	printf("authd: created the first admin \"admin\"; its password is in %s\n", where);
	fflush(stdout);
	return 0;
}
