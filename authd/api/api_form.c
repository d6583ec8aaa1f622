/*
 * Validation of JSON request bodies: unknown keys and wrong types are
 * refused by name, so that a typo never silently does nothing.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ldapsync.h"

/* Whether v is of the field's type; when not, what it must be. */
static bool of_type(const struct field *f, json_t *v, const char **must_be)
{
	static const char *const names[] = {"a string", "true or false", "anything", "an integer",
					    "an object"};

	*must_be = names[f->type];
	switch (f->type) {
	case F_STRING:
		return json_is_string(v);
	case F_BOOL:
		return json_is_boolean(v);
	case F_INT:
		return json_is_integer(v);
	case F_OBJECT:
		return json_is_object(v);
	default:
		return true;
	}
}

int form_check_at(json_t *body, const struct field *fields, const char *prefix, struct resp *out)
{
	const char *key, *must_be, *dot = prefix ? "." : "";
	char shown[101], path[sizeof(((struct refusal *)0)->field)];
	const struct field *f;
	json_t *v;

	prefix = prefix ? prefix : "";
	json_object_foreach(body, key, v)
	{
		for (f = fields; f->name != NULL; f++)
			if (strcmp(f->name, key) == 0)
				break;
		if (f->name == NULL) {
			/* the field as sent; the message quotes it cut short and fit for JSON */
			snprintf(path, sizeof(path), "%s%s%s", prefix, dot, key);
			resp_refuse(out, path, "%s%s%s: unknown field", prefix, dot,
				    utf8_clean(shown, sizeof(shown), key));
			return -1;
		}
		if (!of_type(f, v, &must_be)) {
			snprintf(path, sizeof(path), "%s%s%s", prefix, dot, key);
			resp_refuse(out, path, "%s: must be %s", path, must_be);
			return -1;
		}
	}
	for (f = fields; f->name != NULL; f++) {
		if (f->required && json_object_get(body, f->name) == NULL) {
			snprintf(path, sizeof(path), "%s%s%s", prefix, dot, f->name);
			resp_refuse(out, path, "%s: is required", path);
			return -1;
		}
	}
	return 0;
}

int form_check(json_t *body, const struct field *fields, struct resp *out)
{
	return form_check_at(body, fields, NULL, out);
}

const char *form_string(json_t *body, const char *name, const char *fallback)
{
	json_t *v = json_object_get(body, name);

	return json_is_string(v) ? json_string_value(v) : fallback;
}

bool form_bool(json_t *body, const char *name, bool fallback)
{
	json_t *v = json_object_get(body, name);

	return json_is_boolean(v) ? json_is_true(v) : fallback;
}

/* 8-4-4-4-12 hex digits: the shape of the ids authd makes. */
static bool looks_like_id(const char *s)
{
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return s[36] == '\0';
}

char *form_name(const char *value, const char *field, struct resp *out)
{
	struct refusal why;
	char *name = ls_name_normalize(value, strlen(value), &why);

	if (name == NULL) {
		refusal_in(&why, field);
		resp_refused(out, &why);
		return NULL;
	}
	/* paths take a name or an id, so a name shaped like an id would shadow one */
	if (looks_like_id(name)) {
		resp_refuse(out, field, "%s: must not have the shape of an id", field);
		free(name);
		return NULL;
	}
	return name;
}

int form_label(const char *label, const char *field, struct resp *out)
{
	json_t *utf8_check = json_string(label); /* NULL unless valid UTF-8 */

	if (utf8_check == NULL) {
		resp_refuse(out, field, "%s: must be valid UTF-8", field);
		return -1;
	}
	json_decref(utf8_check);
	for (const unsigned char *p = (const unsigned char *)label; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			resp_refuse(out, field, "%s: must not contain control characters", field);
			return -1;
		}
	}
	if (utf8_chars(label) > LABEL_MAX_CHARS) {
		resp_refuse(out, field, "%s: must be at most 100 characters", field);
		return -1;
	}
	return 0;
}
