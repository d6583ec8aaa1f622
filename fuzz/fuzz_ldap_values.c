/*
 * Fuzz target for what a directory server says about values: the attribute
 * descriptions of a ranged answer (ls_range_next) and a directory id's text
 * (ls_id_text). A range step never takes a description of another attribute,
 * always moves forward, and takes nothing from an answer it calls bad; an
 * id is printable text that fits an account, or none.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ldapsync.h"

#define MAX_LINES 8

/* Whether the description names attr (the type, then nothing or options). */
static bool names_attr(const char *attr, const char *d)
{
	size_t len = strlen(attr);

	return strncasecmp(d, attr, len) == 0 && (d[len] == '\0' || d[len] == ';');
}

/* "#<from>" on the first line, if any, then one description a line. */
static void check_ranges(char *text)
{
	struct ls_answered got[MAX_LINES];
	bool use[MAX_LINES];
	size_t n = 0, next = 0, from = 0;
	enum ls_range_step st;
	char *line = strtok(text, "\n");

	if (line != NULL && line[0] == '#') {
		from = strtoul(line + 1, NULL, 10) % 100000;
		line = strtok(NULL, "\n");
	}
	/* each description's value count is its length's remainder: 0 values happen too */
	for (; line != NULL && n < MAX_LINES; line = strtok(NULL, "\n"))
		got[n++] = (struct ls_answered){line, strlen(line) % 3};
	st = ls_range_next("member", got, n, from, use, &next);
	if (st == LS_RANGE_MORE && next <= from)
		abort();
	for (size_t i = 0; i < n; i++)
		if (use[i] && (st == LS_RANGE_BAD || !names_attr("member", got[i].name)))
			abort();
}

static void check_id(const uint8_t *data, size_t size)
{
	const char *attr = size > 0 && data[0] % 2 ? "objectGUID" : "entryUUID";
	char *id = size > 0 ? ls_id_text(attr, data + 1, size - 1) : NULL;

	if (id == NULL)
		return;
	if (id[0] == '\0' || strlen(id) > LS_ID_MAX)
		abort();
	for (const char *p = id; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			abort();
	free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_ranges(text);
	free(text);
	check_id(data, size);
	return 0;
}
