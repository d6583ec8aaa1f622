/*
 * store-copy's canonical form of a value, the same whichever driver read it,
 * so that a table's SHA-256 on SQLite and on PostgreSQL can be compared
 * (copy.c; the unit tests check it).
 */
#ifndef AUTHD_STORE_COPY_H
#define AUTHD_STORE_COPY_H

#include <openssl/evp.h>

#include "ops.h"

/*
 * A column's value. Its form in the digest: NULL "N;", an integer
 * "I<decimal>;", a flag "B0;" or "B1;" (an INTEGER 0/1 to SQLite, a BOOLEAN
 * to PostgreSQL), a text "T<length>:<bytes>;", a blob "X<length>:<bytes>;";
 * a row ends with "\n".
 */
struct copy_value {
	enum col_kind kind;
	bool null;
	int64_t i;	   /* COL_INT, COL_BOOL */
	const char *bytes; /* COL_TEXT, COL_BLOB */
	size_t len;
};

void copy_hash_value(EVP_MD_CTX *h, const struct copy_value *v);
void copy_hash_row_end(EVP_MD_CTX *h);

#endif
