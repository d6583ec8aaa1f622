/*
 * Bearer tokens. A token is 256 random bits; the store keeps only its
 * SHA-256. Verified tokens are cached in memory with their account, so an
 * authenticated request costs no SQL after the token's first use. How long
 * a session lasts follows the session settings (session_settings.h).
 */
#ifndef AUTHD_SESSION_H
#define AUTHD_SESSION_H

#include "authd.h"
#include "session_settings.h"

#define TOKEN_LEN 43 /* 32 bytes in unpadded base64url */

/* The authenticated caller, as handlers see it. */
struct principal {
	char id[ID_LEN];
	char name[NAME_LEN];
	bool is_admin;
};

struct sessions;
/* absolute_seconds: how long after its login a session ends, however it was renewed. */
struct sessions *sessions_new(const struct session_settings *set, int absolute_seconds);
void sessions_free(struct sessions *s);

/*
 * Makes a token for the account; token_out gets TOKEN_LEN chars and a NUL.
 * Past the per-user limit, the account's oldest sessions end with it, and
 * *ended says how many: the caller announces that (changes.c). STORE_OK, or
 * the store's failure (then there is no token, and nothing ended).
 */
int session_create(struct sessions *s, const char *account_id, char token_out[TOKEN_LEN + 1],
		   int64_t *ended);
/*
 * 0 and the caller when the token is live and its account active;
 * STORE_UNAVAILABLE when that could not be told, the store being out of
 * reach (the token may well be live); -1 otherwise.
 */
int session_check(struct sessions *s, const char *token, struct principal *who,
		  unsigned char hash_out[32]);
/*
 * For changes.c only: the cache forgets a session whose row is gone
 * (store_session_delete), or an account's but keep (NULL: all), and re-reads
 * the account of every cached caller.
 */
void session_forget(struct sessions *s, const unsigned char hash[32]);
void session_forget_account(struct sessions *s, const char *account_id, const unsigned char *keep);
void sessions_accounts_changed(struct sessions *s);
/* For changes.c's resync: the cache forgets every session whose row is gone from the store. */
void sessions_recheck(struct sessions *s);
/* For changes.c: new settings hold for every session from now on; those they end are dropped. */
void sessions_configure(struct sessions *s, const struct session_settings *set);
/* Drops expired sessions from memory and the store. */
void sessions_sweep(struct sessions *s);
/*
 * How many sessions are live now under the current settings, as the store
 * has them: a renewal that has not reached it yet (a minute at most) is not
 * seen. STORE_OK, or the store's failure.
 */
int sessions_count_live(struct sessions *s, int64_t *out);

/* Pure helpers, exposed for tests. */
int token_generate(char out[TOKEN_LEN + 1]);
bool token_well_formed(const char *token);
void token_hash(const char *token, unsigned char out[32]);

#endif
