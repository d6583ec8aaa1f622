/*
 * Queries for sessions: a row per live token, keyed by the token's SHA-256
 * (the token itself is never stored).
 */
#include <string.h>

#include "driver.h"

int store_session_insert(const struct session_row *s)
{
	static const char sql[] = "INSERT INTO sessions (token_hash, account_id, created_at,"
				  " renewed_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)";
	struct stmt *st = stmt_get(sql);

	stmt_blob(st, 1, s->hash, sizeof(s->hash));
	stmt_text(st, 2, s->account_id);
	stmt_int(st, 3, s->created_at);
	stmt_int(st, 4, s->renewed_at);
	stmt_int(st, 5, s->expires_at);
	return stmt_exec(st, false);
}

static int session_row(struct stmt *st, void *ctx)
{
	struct session_row *out = ctx;

	col_copy(st, 0, out->account_id, sizeof(out->account_id));
	out->created_at = col_int(st, 1);
	out->renewed_at = col_int(st, 2);
	out->expires_at = col_int(st, 3);
	return 0;
}

int store_session_get(const unsigned char hash[32], struct session_row *out)
{
	static const char sql[] = "SELECT account_id, created_at, renewed_at, expires_at"
				  " FROM sessions WHERE token_hash = ?1";
	struct stmt *st = stmt_get(sql);

	stmt_blob(st, 1, hash, 32);
	memcpy(out->hash, hash, 32);
	return stmt_one(st, session_row, out);
}

int store_session_renew(const unsigned char hash[32], int64_t renewed_at)
{
	/* a renewal never moves a session's back, whichever of two writers comes last */
	static const char sql[] =
	    "UPDATE sessions SET renewed_at = ?2 WHERE token_hash = ?1 AND renewed_at < ?2";
	struct stmt *st = stmt_get(sql);

	stmt_blob(st, 1, hash, 32);
	stmt_int(st, 2, renewed_at);
	return stmt_exec(st, false);
}

int store_session_delete(const unsigned char hash[32])
{
	static const char sql[] = "DELETE FROM sessions WHERE token_hash = ?1";
	struct stmt *st = stmt_get(sql);

	stmt_blob(st, 1, hash, 32);
	return stmt_exec(st, false);
}

int store_sessions_delete_account(const char *account_id, const unsigned char *keep)
{
	static const char sql[] =
	    "DELETE FROM sessions WHERE account_id = ?1 AND token_hash IS DISTINCT FROM ?2";
	struct stmt *st = stmt_texts(sql, account_id, NULL, NULL);

	stmt_blob(st, 2, keep, 32);
	return stmt_exec(st, false);
}

int store_sessions_trim_account(const char *account_id, int limit, const unsigned char keep[32],
				int64_t *ended)
{
	/* the account's index finds its sessions; `keep` counts as the newest of them */
	static const char sql[] =
	    "DELETE FROM sessions WHERE account_id = ?1 AND token_hash IS DISTINCT FROM ?3"
	    " AND token_hash NOT IN (SELECT token_hash FROM sessions"
	    "  WHERE account_id = ?1 AND token_hash IS DISTINCT FROM ?3"
	    "  ORDER BY created_at DESC, token_hash DESC LIMIT ?2)";
	struct stmt *st = stmt_texts(sql, account_id, NULL, NULL);
	int rc;

	stmt_int(st, 2, limit - 1);
	stmt_blob(st, 3, keep, 32);
	rc = stmt_exec(st, false);
	*ended = rc == STORE_OK ? stmt_changed() : 0;
	return rc;
}

int store_sessions_count_live(int64_t now, int64_t lifetime, int64_t *out)
{
	static const char sql[] =
	    "SELECT count(*) FROM sessions WHERE expires_at > ?1 AND renewed_at + ?2 > ?1";
	struct stmt *st = stmt_get(sql);
	int rc;

	stmt_int(st, 1, now);
	stmt_int(st, 2, lifetime);
	*out = 0;
	rc = stmt_one_int(st, out);
	return rc == STORE_NOT_FOUND ? STORE_ERROR : rc; /* a count always has its row */
}

int store_sessions_expire(int64_t now, int64_t lifetime)
{
	static const char sql[] =
	    "DELETE FROM sessions WHERE expires_at <= ?1 OR renewed_at + ?2 <= ?1";
	struct stmt *st = stmt_get(sql);

	stmt_int(st, 1, now);
	stmt_int(st, 2, lifetime);
	return stmt_exec(st, false);
}
