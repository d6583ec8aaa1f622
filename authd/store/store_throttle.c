/*
 * Queries for failed logins on a store that several authd processes share: a
 * row per key ("user:NAME", "ip:ADDR") with its count in the current window
 * and the end of its lockout, so that every replica decides on the same count.
 */
#include <string.h>

#include "driver.h"

/*
 * One statement counts the failure, so that two replicas' failures of one key
 * at the same moment are both counted: the database orders them on the row.
 * The rule is throttle.c's in-memory one: a failure after the window's end
 * starts a new window; the max_failures-th locks the key out until now +
 * lockout and starts the count again. n below is the count with this failure.
 */
#define N                                                                                          \
	"(CASE WHEN ?2 - login_failures.window_start > ?3 THEN 0 ELSE login_failures.failures "    \
	"END + 1)"
#define LOCKS N " >= ?4"

static int failures_row(struct stmt *st, void *ctx)
{
	*(int64_t *)ctx = col_int(st, 0);
	return 0;
}

int store_login_failure_add(const char *key, int64_t now, const struct throttle_rule *rule,
			    int *failures)
{
	static const char sql[] =
	    "INSERT INTO login_failures (key, failures, window_start, locked_until, last_failure)"
	    " VALUES (?1, CASE WHEN CAST(?4 AS INTEGER) <= 1 THEN 0 ELSE 1 END, CAST(?2 AS BIGINT),"
	    " CASE WHEN CAST(?4 AS INTEGER) <= 1 THEN CAST(?2 AS BIGINT) + CAST(?5 AS BIGINT)"
	    " ELSE 0 END, CAST(?2 AS BIGINT))"
	    " ON CONFLICT (key) DO UPDATE SET"
	    " failures = CASE WHEN " LOCKS " THEN 0 ELSE " N " END,"
	    " window_start = CASE WHEN " LOCKS " OR ?2 - login_failures.window_start > ?3"
	    " THEN ?2 ELSE login_failures.window_start END,"
	    " locked_until = CASE WHEN " LOCKS " THEN CAST(?2 AS BIGINT) + CAST(?5 AS BIGINT)"
	    " ELSE login_failures.locked_until END,"
	    " last_failure = ?2"
	    " RETURNING failures";
	struct stmt *st = stmt_get(sql);
	int64_t n = 0;
	int rc;

	stmt_text(st, 1, key);
	stmt_int(st, 2, now);
	stmt_int(st, 3, rule->window);
	stmt_int(st, 4, rule->max_failures);
	stmt_int(st, 5, rule->lockout);
	rc = stmt_one(st, failures_row, &n);
	if (rc == STORE_NOT_FOUND) /* an upsert always returns its row */
		rc = STORE_ERROR;
	if (rc != STORE_OK)
		return rc;
	/* the count starts again at the lockout: 0 says this failure reached the limit */
	*failures = n == 0 ? rule->max_failures : (int)n;
	return STORE_OK;
}

struct lock_read {
	const char *key_a;
	int64_t now, locked_until;
	bool a_counted;
};

static int lock_row(struct stmt *st, void *ctx)
{
	struct lock_read *l = ctx;
	int64_t until = col_int(st, 1);

	if (strcmp(col_text(st, 0), l->key_a) == 0)
		l->a_counted = true;
	if (until > l->now && until > l->locked_until)
		l->locked_until = until;
	return 0;
}

int store_login_failures_get(const char *key_a, const char *key_b, int64_t now,
			     int64_t *locked_until, bool *a_counted)
{
	static const char sql[] =
	    "SELECT key, locked_until FROM login_failures WHERE key IN (?1, ?2)";
	struct stmt *st = stmt_texts(sql, key_a, key_b, NULL);
	struct lock_read l = {.key_a = key_a, .now = now};
	int rc = stmt_each(st, lock_row, &l);

	*locked_until = l.locked_until;
	*a_counted = l.a_counted;
	return rc;
}

int store_login_failure_clear(const char *key)
{
	static const char sql[] = "DELETE FROM login_failures WHERE key = ?1";

	return stmt_exec(stmt_texts(sql, key, NULL, NULL), false);
}

/*
 * A key no decision needs is deleted whatever the bound: its lockout is over
 * and its last failure older than a window (so is its window's start, and its
 * next failure would count from 1). Beyond max_keys, the unlocked keys whose
 * last failure is oldest go, as the in-memory table evicts the stalest:
 * those older than the max_keys-th newest's second. So a spray of names
 * leaves max_keys keys and the last second's after a tick; the address that
 * sprays, failing all along, stays counted; and a lockout running is never
 * cut short (there are at most failures / maxFailures of them).
 */
int store_login_failures_trim(int64_t now, int64_t window, int64_t max_keys, int64_t *deleted)
{
	static const char sql[] = "DELETE FROM login_failures WHERE locked_until <= ?1"
				  " AND (last_failure < CAST(?1 AS BIGINT) - CAST(?2 AS BIGINT)"
				  " OR last_failure < (SELECT last_failure FROM login_failures"
				  " ORDER BY last_failure DESC LIMIT 1 OFFSET ?3))";
	struct stmt *st = stmt_get(sql);
	int rc;

	stmt_int(st, 1, now);
	stmt_int(st, 2, window);
	stmt_int(st, 3, max_keys > 0 ? max_keys - 1 : 0); /* the max_keys-th newest's offset */
	rc = stmt_exec(st, false);
	*deleted = rc == STORE_OK ? stmt_changed() : 0;
	return rc;
}
