/*
 * The store's own header, for store_*.c and the driver only: prepared
 * statements, their parameters and their rows, as the query files use them
 * whichever database runs. store.c forwards it to the driver store_open
 * chose (ops.h). The SQL is SQLite's dialect where the two agree, with ?N
 * parameters; the PostgreSQL driver numbers them $N when it prepares them.
 *
 * A statement comes from stmt_get, keyed by the address of its SQL literal,
 * reset and unbound; it belongs to the calling thread's connection and is
 * valid until the next stmt_get of the same SQL. A statement that could not
 * be prepared is NULL: binding to it does nothing and running it answers
 * STORE_ERROR, so a query needs no test of its own for that case.
 */
#ifndef AUTHD_STORE_DRIVER_H
#define AUTHD_STORE_DRIVER_H

#include "store.h"

struct stmt;

/* The cached statement for a literal SQL string; NULL when it cannot be prepared (logged). */
struct stmt *stmt_get(const char *sql);
/* The same with the texts that are not NULL bound to ?1..?3. */
struct stmt *stmt_texts(const char *sql, const char *a, const char *b, const char *c);

/* Parameters count from 1. The values are used where they are: they must outlive the run. */
void stmt_text(struct stmt *st, int i, const char *v); /* NULL binds SQL NULL */
void stmt_int(struct stmt *st, int i, int64_t v);
void stmt_bool(struct stmt *st, int i, bool v);
void stmt_blob(struct stmt *st, int i, const void *v, size_t len);

/*
 * Runs a write. STORE_OK; STORE_CONFLICT when a uniqueness or reference rule
 * refused it; STORE_NOT_FOUND when need_row and it changed no row;
 * STORE_FULL, STORE_UNAVAILABLE or STORE_ERROR when the store failed.
 */
int stmt_exec(struct stmt *st, bool need_row);
/* Rows the calling thread's last write changed. */
int64_t stmt_changed(void);

/* Reads the current row of st into ctx; nonzero stops stmt_each. */
typedef int (*row_fn)(struct stmt *st, void *ctx);
/* Every row, until row returns nonzero: STORE_OK, or a failure as stmt_exec's. */
int stmt_each(struct stmt *st, row_fn row, void *ctx);
/* The first row: STORE_OK once row has read it, STORE_NOT_FOUND when there is none. */
int stmt_one(struct stmt *st, row_fn row, void *ctx);
/* The same for a number, the first row's first column (a count, a flag, a time). */
int stmt_one_int(struct stmt *st, int64_t *out);

/* Columns of the current row, counted from 0; valid until the row function returns. */
const char *col_text(struct stmt *st, int col); /* "" for NULL */
bool col_null(struct stmt *st, int col);
int64_t col_int(struct stmt *st, int col);
bool col_bool(struct stmt *st, int col);
/* A blob's bytes (NULL for none) and *len, valid until the next column read or the row's end. */
const void *col_blob(struct stmt *st, int col, size_t *len);
/* A text column into dst (cut to len - 1 bytes). */
void col_copy(struct stmt *st, int col, char *dst, size_t len);

#endif
