/*
 * The PostgreSQL driver's own header: what its files share, and what the
 * driver's tests reach. Nothing outside store/ includes it.
 */
#ifndef AUTHD_STORE_PG_H
#define AUTHD_STORE_PG_H

#include <libpq-fe.h>

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "../store.h"

/*
 * Brings the database to schema version `target` (pg_schema_version() for
 * the newest), each step in its own transaction, under an advisory lock so
 * that several authd processes starting at once migrate it once; refuses a
 * database newer than this build without touching it. 0, or -1 with err.
 */
int pg_migrate(PGconn *pg, int target, struct failure *err);
/* The newest schema version this build knows: the same number as the SQLite driver's. */
int pg_schema_version(void);
/* The schema version the database records; 0 for an empty one, -1 when it cannot be read. */
int pg_stored_version(PGconn *pg);

/*
 * A column of a batch (batch.c): the n rows' text at offset `at` of each
 * element of `stride` bytes from `rows`, or, with `pointer`, the char * there.
 */
struct pg_column {
	const void *rows;
	size_t n, stride, at;
	bool pointer;
};
/*
 * The column as a PostgreSQL array literal, {"a","b\"c"}: each element
 * quoted, its quotes and backslashes escaped, for one bound parameter
 * ($1::text[]). malloc'd, or NULL.
 */
char *pg_text_array(const struct pg_column *c);
/* n new ids (new_uuid), malloc'd; NULL when they cannot be made. */
char (*pg_new_ids(size_t n))[ID_LEN];

/*
 * store_changes_wait for the database at dsn (listen.c), on a connection of
 * its own; pg_listen_close closes it, once its thread has stopped.
 */
bool pg_listen_wait(const char *dsn, long timeout_ms);
void pg_listen_close(void);

/* The advisory lock keys, as SQL: one for migrations, one for transactions ("authdmg", "authdwr").
 */
#define PG_LOCK_MIGRATE "27432215569001831"
#define PG_LOCK_WRITE "27432215569004402"

#endif
