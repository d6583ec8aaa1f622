/*
 * The PostgreSQL driver's own header: what its files share, and what the
 * driver's tests reach. Nothing outside store/ includes it.
 */
#ifndef AUTHD_STORE_PG_H
#define AUTHD_STORE_PG_H

#include <libpq-fe.h>

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

/* store.h's batches of a sync's writes (batch.c) */
int pg_imported_insert_many(const struct account *a, size_t n, int64_t now);
int pg_members_add_many(const struct member_add *m, size_t n);

/* The advisory lock keys, as SQL: one for migrations, one for transactions ("authdmg", "authdwr").
 */
#define PG_LOCK_MIGRATE "27432215569001831"
#define PG_LOCK_WRITE "27432215569004402"

#endif
