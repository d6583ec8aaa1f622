/*
 * The two ways a handler says no. Refused input is a 400 INVALID_FORM that
 * names the field; a failed operation is 507 STORAGE_FULL when the disk
 * under the store is full (the operator can act on it, and the client retry),
 * 503 STORE_UNAVAILABLE while a database server is out of reach, else 500
 * INTERNAL, whose message hides the internals the log has.
 */
#include <stdarg.h>
#include <stdio.h>

#include "api.h"

void resp_refused(struct resp *out, const struct refusal *why)
{
	resp_error(out, 400, "INVALID_FORM", why->field[0] ? why->field : NULL, "%s", why->message);
}

void resp_refuse(struct resp *out, const char *field, const char *fmt, ...)
{
	struct refusal why;
	char text[sizeof(why.message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	refusal_set(&why, field, "%s", text);
	resp_refused(out, &why);
}

void resp_store_failed(struct resp *out, int rc)
{
	if (rc == STORE_FULL) {
		resp_error(out, 507, "STORAGE_FULL", NULL,
			   "the store's disk is out of space; nothing was changed");
		return;
	}
	if (rc == STORE_UNAVAILABLE) {
		resp_error(out, 503, "STORE_UNAVAILABLE", NULL,
			   "the database is out of reach for now; nothing was changed, try again");
		return;
	}
	resp_internal(out);
}
