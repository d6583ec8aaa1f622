/*
 * Fuzz target for LDAP settings (ls_settings_from_json) and member-sync
 * configs: a refusal names a field and says why; accepted settings written
 * out (with their passwords, as they are stored) read back to the same
 * settings, and written out without them hold no password at all.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldapsync.h"

static void check_refusal(const struct refusal *err)
{
	if (err->field[0] == '\0' || strncmp(err->message, err->field, strlen(err->field)) != 0)
		abort();
}

static char *dump(const json_t *j)
{
	char *text = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;

	if (text == NULL)
		abort();
	return text;
}

/* The same, for a value made only to be dumped. */
static char *dump_new(json_t *j)
{
	char *text = dump(j);

	json_decref(j);
	return text;
}

/* The public form has no readerPassword anywhere, only readerPasswordSet. */
static void check_no_passwords(const struct ls_settings *s)
{
	json_t *public = ls_settings_to_json(s, false), *server;
	size_t i;

	if (public == NULL || json_object_get(public, "readerPassword") != NULL ||
	    !json_is_boolean(json_object_get(public, "readerPasswordSet")))
		abort();
	json_array_foreach(json_object_get(public, "additionalDomains"), i,
			   server) if (json_object_get(server, "readerPassword") != NULL) abort();
	json_decref(public);
}

static void check_settings(const json_t *in)
{
	struct ls_settings s, again;
	struct refusal err;
	json_t *stored, *restored;
	char *a, *b;

	if (ls_settings_from_json(in, NULL, &s, &err) != 0) {
		check_refusal(&err);
		return;
	}
	check_no_passwords(&s);
	stored = ls_settings_to_json(&s, true);
	if (stored == NULL || ls_settings_from_json(stored, NULL, &again, &err) != 0)
		abort();
	restored = ls_settings_to_json(&again, true);
	a = dump(stored);
	b = dump(restored);
	if (strcmp(a, b) != 0)
		abort();
	/* a PUT of the public form keeps the stored passwords: nothing changed */
	json_decref(restored);
	restored = ls_settings_to_json(&s, false);
	ls_settings_free(&again);
	if (ls_settings_from_json(restored, &s, &again, &err) != 0)
		abort();
	free(b);
	b = dump_new(ls_settings_to_json(&again, true));
	if (strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	json_decref(stored);
	json_decref(restored);
	ls_settings_free(&again);
	ls_settings_free(&s);
}

static void check_member_sync(const json_t *in)
{
	struct ls_member_sync m, again;
	struct refusal err;
	json_t *out;

	if (ls_member_sync_from_json(in, "x.", &m, &err) != 0) {
		check_refusal(&err);
		return;
	}
	out = ls_member_sync_to_json(&m);
	if (out == NULL || ls_member_sync_from_json(out, "", &again, &err) != 0)
		abort();
	json_decref(out);
	ls_member_sync_free(&again);
	ls_member_sync_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (in == NULL)
		return 0;
	check_settings(in);
	check_member_sync(in);
	json_decref(in);
	return 0;
}
