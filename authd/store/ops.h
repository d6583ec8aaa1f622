/*
 * The seam between the store and its drivers: what a driver (store/sqlite/,
 * store/postgres/) implements, as a table of functions that store_open picks
 * once. store.c forwards driver.h's and store.h's calls through it.
 */
#ifndef AUTHD_STORE_OPS_H
#define AUTHD_STORE_OPS_H

#include "driver.h"

/* Where a driver keeps its data; what each driver reads of it is said at its open. */
struct store_target {
	const char *data_dir;
	const char *dsn; /* postgres: a libpq connection string; may hold a password */
	int max_connections;
};

/* What store-copy (copy.c) learns of a store's tables from its own catalog. */
enum col_kind { COL_INT, COL_BOOL, COL_TEXT, COL_BLOB };
#define SCHEMA_NAME 64
#define SCHEMA_COLS 32
#define SCHEMA_TABLES 48
struct store_column {
	char name[SCHEMA_NAME];
	enum col_kind kind;
	int pk; /* its place in the primary key, from 1; 0 when not in it */
};
struct store_table {
	char name[SCHEMA_NAME];
	int ncols;
	struct store_column cols[SCHEMA_COLS];
};
struct store_schema {
	int ntables;
	struct store_table tables[SCHEMA_TABLES];
};

struct store_ops {
	const char *name;
	bool shared; /* other processes may use the store at the same time (a server's) */
	int (*open)(const struct store_target *t, struct failure *err);
	void (*checkpoint)(void);
	void (*close)(void);
	bool (*shared_begin)(long wait_us);
	void (*shared_end)(void);
	int (*begin)(bool bulk);
	int (*commit)(void);
	void (*rollback)(void);
	int (*begin_nested)(void);
	int (*commit_nested)(void);
	void (*rollback_nested)(void);

	/* driver.h's statements, rows and columns, with the same contracts */
	struct stmt *(*get)(const char *sql);
	void (*text)(struct stmt *st, int i, const char *v);
	void (*integer)(struct stmt *st, int i, int64_t v);
	void (*boolean)(struct stmt *st, int i, bool v);
	void (*blob)(struct stmt *st, int i, const void *v, size_t len);
	int (*exec)(struct stmt *st, bool need_row);
	int64_t (*changed)(void);
	int (*each)(struct stmt *st, row_fn row, void *ctx);
	int (*one)(struct stmt *st, row_fn row, void *ctx);
	const char *(*col_text)(struct stmt *st, int col);
	bool (*col_null)(struct stmt *st, int col);
	int64_t (*col_int)(struct stmt *st, int col);
	bool (*col_bool)(struct stmt *st, int col);
	/* a blob's bytes and length, valid until the next column read or the row's end */
	const void *(*col_blob)(struct stmt *st, int col, size_t *len);

	/* store-copy's, on a store that authd does not run on */
	int (*schema_version)(void); /* the newest this build knows */
	/* the version the store records, changing nothing: 0 for none, -1 with err */
	int (*stored_version)(const struct store_target *t, struct failure *err);
	/* whether another process has the store open, where the driver can tell */
	bool (*in_use)(const struct store_target *t);
	/* the tables of the open store, but the driver's own bookkeeping; STORE_OK or a failure */
	int (*describe)(struct store_schema *out);
	/* a bulk transaction whose reference checks wait for copy_end */
	int (*copy_begin)(void);
	/* runs those checks and sets the counters of generated ids past the copied ones */
	int (*copy_end)(void);
	/* drops the tables describe lists and the schema version, leaving a new store as it was */
	int (*discard)(void);

	/*
	 * store.h's batches of a sync's writes, with the same contracts; NULL
	 * where a driver has no round trips to save, and store_sync.c writes a
	 * batch a row at a time through the one-row calls.
	 */
	int (*imported_insert_many)(const struct account *a, size_t n, int64_t now);
	int (*members_add_many)(const struct member_add *m, size_t n);

	/* store_changes_wait; NULL for a driver that one process has to itself */
	bool (*changes_wait)(long timeout_ms);
	/* store_pool_stats; NULL for a driver without a pool */
	void (*pool_stats)(struct store_pool_stats *out);
};

/*
 * The driver and target a config names (store.c). A dsnFile's DSN is read
 * into *dsn, for store_dsn_free once the driver has opened. 0, or -1 with err.
 */
int store_target_of(const struct config *cfg, const struct store_ops **driver,
		    struct store_target *t, char **dsn, struct failure *err);
/* Cleanses and frees a DSN that store_target_of read (it may hold a password); NULL is fine. */
void store_dsn_free(char *dsn);

/* The driver store_open chose. */
const struct store_ops *store_driver(void);

extern const struct store_ops sqlite_ops;
extern const struct store_ops postgres_ops;

#endif
