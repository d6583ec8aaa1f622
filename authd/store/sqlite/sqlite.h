/*
 * The SQLite driver's own header: what its two files share, and what the
 * driver's tests reach. Nothing outside store/ includes it.
 */
#ifndef AUTHD_STORE_SQLITE_H
#define AUTHD_STORE_SQLITE_H

#include <sqlite3.h>

#include "common.h"

/*
 * Brings a database to schema version `target` (sqlite_schema_version() for
 * the newest), each step in its own transaction; refuses a database newer
 * than this build without touching it. 0, or -1 with err.
 */
int sqlite_migrate(sqlite3 *db, int target, struct failure *err);
/* The version the database records (PRAGMA user_version); -1 when it cannot be read. */
int sqlite_stored_version(sqlite3 *db);
/* The newest schema version this build knows. */
int sqlite_schema_version(void);

#endif
