/*
 * What the PostgreSQL driver's batches of a sync's writes (store.h's *_many,
 * in pg.c) bind: each column of a batch's rows as one array parameter, so
 * that one INSERT ... SELECT FROM unnest writes a thousand rows, with every
 * value still a bound parameter and never SQL text.
 */
#include <stdlib.h>
#include <string.h>

#include "pg.h"

static const char *cell(const struct pg_column *c, size_t i)
{
	const char *el = (const char *)c->rows + i * c->stride + c->at;

	return c->pointer ? *(const char *const *)el : el;
}

char *pg_text_array(const struct pg_column *c)
{
	size_t len = 3;
	char *out, *o;

	for (size_t i = 0; i < c->n; i++)
		len += 2 * strlen(cell(c, i)) + 3;
	if ((out = o = malloc(len)) == NULL)
		return NULL;
	*o++ = '{';
	for (size_t i = 0; i < c->n; i++) {
		if (i > 0)
			*o++ = ',';
		*o++ = '"';
		for (const char *v = cell(c, i); *v != '\0'; v++) {
			if (*v == '"' || *v == '\\')
				*o++ = '\\';
			*o++ = *v;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

char (*pg_new_ids(size_t n))[ID_LEN]
{
	char(*ids)[ID_LEN] = malloc(n * ID_LEN);

	for (size_t i = 0; ids != NULL && i < n; i++)
		if (new_uuid(ids[i]) != 0) {
			free(ids);
			return NULL;
		}
	return ids;
}
