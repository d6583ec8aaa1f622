/*
 * Queries for the TLS material replicas share (migration 9): a CA or the
 * served certificate by name, its private key sealed by the caller; the
 * store never sees a key it could use.
 */
#include <stdlib.h>
#include <string.h>

#include "driver.h"

static int tls_row(struct stmt *st, void *ctx)
{
	struct tls_row *r = ctx;

	r->cert_pem = strdup(col_text(st, 0));
	r->key_sealed = strdup(col_text(st, 1));
	r->ca_pem = strdup(col_text(st, 2));
	r->version = col_int(st, 3);
	return 0;
}

int store_tls_get(const char *name, struct tls_row *out)
{
	static const char sql[] = "SELECT cert_pem, key_sealed, ca_pem, version"
				  " FROM tls_material WHERE name = ?1";
	int rc;

	memset(out, 0, sizeof(*out));
	rc = stmt_one(stmt_texts(sql, name, NULL, NULL), tls_row, out);
	if (rc == STORE_OK &&
	    (out->cert_pem == NULL || out->key_sealed == NULL || out->ca_pem == NULL)) {
		store_tls_row_free(out);
		return STORE_ERROR;
	}
	return rc;
}

int store_tls_version(const char *name, int64_t *version)
{
	static const char sql[] = "SELECT version FROM tls_material WHERE name = ?1";

	return stmt_one_int(stmt_texts(sql, name, NULL, NULL), version);
}

int store_tls_add(const char *name, const struct tls_row *r)
{
	/* the first replica's row stays: the others read it back and use it */
	static const char sql[] = "INSERT INTO tls_material"
				  " (name, cert_pem, key_sealed, ca_pem, updated_at)"
				  " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING";
	struct stmt *st = stmt_texts(sql, name, r->cert_pem, r->key_sealed);

	int rc;

	stmt_text(st, 4, r->ca_pem);
	stmt_int(st, 5, now_seconds());
	rc = stmt_exec(st, false);
	return rc == STORE_OK && stmt_changed() == 1 ? STORE_CREATED : rc;
}

int store_tls_set(const char *name, const struct tls_row *r)
{
	static const char sql[] =
	    "INSERT INTO tls_material (name, cert_pem, key_sealed, ca_pem, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET"
	    " cert_pem = excluded.cert_pem, key_sealed = excluded.key_sealed,"
	    " ca_pem = excluded.ca_pem, updated_at = excluded.updated_at,"
	    " version = tls_material.version + 1";
	struct stmt *st = stmt_texts(sql, name, r->cert_pem, r->key_sealed);

	stmt_text(st, 4, r->ca_pem);
	stmt_int(st, 5, now_seconds());
	return stmt_exec(st, false);
}

void store_tls_row_free(struct tls_row *r)
{
	free(r->cert_pem);
	free(r->key_sealed);
	free(r->ca_pem);
	memset(r, 0, sizeof(*r));
}
