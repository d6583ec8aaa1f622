/*
 * Notes json_pack's refusals of invalid UTF-8, the known finding of fuzz/README.md:
 * with -Wl,--wrap=json_pack every json_pack of the code under test comes here.
 */
#include <jansson.h>
#include <stdarg.h>

#include "json_utf8.h"

static bool refused;

void json_utf8_reset(void)
{
	refused = false;
}

bool json_utf8_refused(void)
{
	return refused;
}

json_t *__wrap_json_pack(const char *fmt, ...);

json_t *__wrap_json_pack(const char *fmt, ...)
{
	json_error_t err;
	va_list ap;
	json_t *v;

	va_start(ap, fmt);
	v = json_vpack_ex(&err, 0, fmt, ap);
	va_end(ap);
	if (v == NULL && json_error_code(&err) == json_error_invalid_utf8)
		refused = true;
	return v;
}
