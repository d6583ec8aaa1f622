/*
 * Managed passwords: argon2id with its parameters inside the encoded hash,
 * so they can be raised later without breaking stored hashes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <argon2.h>
#include <openssl/rand.h>

#include "authd.h"

/* RFC 9106's second recommended option, scaled to OWASP's 19 MiB minimum. */
#define T_COST 2
#define M_COST_KIB 19456
#define PARALLELISM 1
#define SALT_LEN 16
#define HASH_LEN 32

/*
 * At most one hashing per CPU at a time. Each one holds 19 MiB and a CPU for
 * about a tenth of a second; sixteen HTTP threads hashing at once took 300 MB
 * and made every one of them, and the requests queued behind them, sixteen
 * times slower, until clients timed out. Waiting here instead costs the same
 * CPU, in turn.
 */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_freed = PTHREAD_COND_INITIALIZER;
/* Tickets, served in order, so that no login waits while later ones go ahead of it. */
static unsigned long next_ticket, released, slots;

static void slot_take(void)
{
	unsigned long mine;

	pthread_mutex_lock(&slots_lock);
	if (slots == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		slots = cpus > 0 ? (unsigned long)cpus : 1;
	}
	mine = next_ticket++;
	while (mine >= released + slots)
		pthread_cond_wait(&slot_freed, &slots_lock);
	pthread_mutex_unlock(&slots_lock);
}

static void slot_give(void)
{
	pthread_mutex_lock(&slots_lock);
	released++;
	pthread_cond_broadcast(&slot_freed);
	pthread_mutex_unlock(&slots_lock);
}

char *password_hash(const char *password)
{
	unsigned char salt[SALT_LEN];
	size_t len =
	    argon2_encodedlen(T_COST, M_COST_KIB, PARALLELISM, SALT_LEN, HASH_LEN, Argon2_id);
	char *out = malloc(len);

	int rc;

	if (out == NULL || RAND_bytes(salt, sizeof(salt)) != 1) {
		free(out);
		return NULL;
	}
	slot_take();
	rc = argon2id_hash_encoded(T_COST, M_COST_KIB, PARALLELISM, password, strlen(password),
				   salt, sizeof(salt), HASH_LEN, out, len);
	slot_give();
	if (rc != ARGON2_OK) {
		free(out);
		return NULL;
	}
	return out;
}

bool password_verify(const char *encoded, const char *password)
{
	int rc;

	slot_take();
	rc = argon2id_verify(encoded, password, strlen(password));
	slot_give();
	return rc == ARGON2_OK;
}

void password_verify_dummy(const char *password)
{
	/* a hash of a random password, made with the same parameters as real ones */
	static const char dummy[] = "$argon2id$v=19$m=19456,t=2,p=1$"
				    "c29tZXNhbHRzb21lc2FsdA$"
				    "4aBtwZtJ6CBGJXhzZdpbbQ3Kp0lOMUcm8Xb2HK0Sfps";

	(void)password_verify(dummy, password);
}

int password_check(const char *password, struct refusal *why)
{
	if (is_blank(password))
		return refusal_set(why, "", "must not be empty");
	if (strlen(password) > PASSWORD_MAX_BYTES)
		return refusal_set(why, "", "must be at most 1024 bytes");
	if (utf8_chars(password) < PASSWORD_MIN_CHARS)
		return refusal_set(why, "", "must be at least 8 characters");
	return 0;
}
