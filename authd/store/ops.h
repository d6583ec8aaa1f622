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

struct store_ops {
	const char *name;
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

	/*
	 * store.h's batches of a sync's writes, with the same contracts; NULL
	 * where a driver has no round trips to save, and store_sync.c writes a
	 * batch a row at a time through the one-row calls.
	 */
	int (*imported_insert_many)(const struct account *a, size_t n, int64_t now);
	int (*members_add_many)(const struct member_add *m, size_t n);
};

/* The driver store_open chose. */
const struct store_ops *store_driver(void);

extern const struct store_ops sqlite_ops;
extern const struct store_ops postgres_ops;

#endif
