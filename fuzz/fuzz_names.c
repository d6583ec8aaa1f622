/*
 * Fuzz target for the name rules (ls_name_normalize): a name it accepts is
 * a fixed point, so a stored name typed back in, or read again from a
 * directory, is the same account and not a new one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldapsync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct refusal why = {"", ""};
	char *name = ls_name_normalize((const char *)data, size, &why);
	char *again;

	if (name == NULL) {
		if (why.message[0] == '\0')
			abort();
		return 0;
	}
	/* at most 100 characters of at most 4 bytes: what NAME_LEN holds */
	if (name[0] == '\0' || strlen(name) > 4 * LS_NAME_MAX_CHARS)
		abort();
	again = ls_name_normalize(name, strlen(name), NULL);
	if (again == NULL || strcmp(again, name) != 0)
		abort();
	free(again);
	free(name);
	return 0;
}
