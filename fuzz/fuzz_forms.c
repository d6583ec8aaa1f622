/*
 * Fuzz target for the validation every JSON API handler runs before it acts
 * (authd/api/api_form.c, api_paging.c, password rules, custom role maps and
 * the session settings' ranges): the body against every form in api_forms,
 * and its strings as names and labels.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ldapsync.h"
#include "authz/roles.h"
#include "session_settings.h"

static void resp_free(struct resp *out)
{
	json_decref(out->json);
	free(out->text);
	for (int i = 0; i < out->nheaders; i++)
		free(out->headers[i].value);
	memset(out, 0, sizeof(*out));
}

/* A refusal is a 400 INVALID_FORM with a message, whatever the input quoted in it. */
static void check_refusal(struct resp *out)
{
	json_t *e = json_array_get(json_object_get(out->json, "errors"), 0);
	const char *code = json_string_value(json_object_get(e, "code"));

	if (out->status != 400 || !json_is_string(json_object_get(e, "message")) || code == NULL ||
	    strcmp(code, "INVALID_FORM") != 0)
		abort();
	resp_free(out);
}

/* What form_check promises when it lets a body through. */
static void check_passed(json_t *body, const struct field *form)
{
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v)
	{
		const struct field *f = form;

		while (f->name != NULL && strcmp(f->name, key) != 0)
			f++;
		if (f->name == NULL || (f->type == F_STRING && !json_is_string(v)) ||
		    (f->type == F_BOOL && !json_is_boolean(v)) ||
		    (f->type == F_INT && !json_is_integer(v)) ||
		    (f->type == F_OBJECT && !json_is_object(v)))
			abort();
		if (f->type == F_STRING && form_string(body, key, NULL) != json_string_value(v))
			abort();
	}
	for (const struct field *f = form; f->name != NULL; f++)
		if (f->required && json_object_get(body, f->name) == NULL)
			abort();
}

/* A string as a name, a label, a password and a page cursor. */
static void check_string(const char *s)
{
	struct resp out = {0};
	struct refusal why = {"", ""};
	struct page p;
	char *name;

	name = form_name(s, "name", &out);

	if (name == NULL) {
		check_refusal(&out);
	} else {
		/* what form_name gives back is what the name rules give back */
		char *again = ls_name_normalize(s, strlen(s), NULL);

		if (again == NULL || strcmp(again, name) != 0 || out.json != NULL)
			abort();
		free(again);
		free(name);
	}
	if (form_label(s, "label", &out) != 0)
		check_refusal(&out);
	else if (utf8_chars(s) > LABEL_MAX_CHARS || out.json != NULL)
		abort();
	if (password_check(s, &why) != 0 && why.message[0] == '\0')
		abort();
	why = (struct refusal){"", ""};
	if (page_parse(s, s, &p, &why) == 0) {
		if (p.limit < 1 || p.limit > PAGE_MAX || strlen(p.start) >= sizeof(p.start))
			abort();
	} else if (why.field[0] == '\0' || why.message[0] == '\0') {
		abort();
	}
}

/*
 * A sessions object that passed its form, over settings of 60/20/10 under an
 * absoluteMinutes of 720: accepted values are in their ranges, and a refusal
 * names a sessions.<key> field and starts with it.
 */
static void check_sessions(json_t *obj)
{
	static const struct session_settings current = {60, 20, 10};
	struct session_settings next;
	struct refusal why = {"", ""};
	struct resp out = {0};

	if (!json_is_object(obj))
		return;
	if (form_check_at(obj, form_auth_sessions, "sessions", &out) != 0) {
		check_refusal(&out);
		return;
	}
	if (session_settings_from_json(obj, &current, 720, &next, &why) != 0) {
		if (strncmp(why.field, "sessions.", 9) != 0 ||
		    strncmp(why.message, why.field, strlen(why.field)) != 0)
			abort();
		return;
	}
	if (next.lifetime_minutes < 1 || next.lifetime_minutes > 720 ||
	    next.renewal_threshold_minutes < 0 ||
	    next.renewal_threshold_minutes > next.lifetime_minutes || next.per_user_limit < 0 ||
	    next.per_user_limit > SESSION_PER_USER_MAX)
		abort();
}

static void check_body(json_t *body)
{
	const char *key;
	json_t *v;

	/* the handlers' own tables, so that a form changed in a handler is the one checked */
	for (size_t i = 0; i < api_nforms; i++) {
		struct resp out = {0};

		if (form_check(body, api_forms[i].fields, &out) != 0)
			check_refusal(&out);
		else if (out.json != NULL)
			abort();
		else
			check_passed(body, api_forms[i].fields);
	}
	json_object_foreach(body, key, v)
	{
		if (json_is_string(v))
			check_string(json_string_value(v));
		(void)form_bool(body, key, false);
	}
	/* the session settings, as the body itself and as PUT /enzi/v0/config/auth's sessions */
	check_sessions(body);
	check_sessions(json_object_get(body, "sessions"));
	/* a custom role's operations map: refused with a message, or accepted */
	v = json_object_get(body, "operations");
	if (v != NULL) {
		struct refusal why = {"", ""};

		if (roles_check_operations(v, &why) != 0 &&
		    (strcmp(why.field, "operations") != 0 ||
		     strncmp(why.message, "operations", 10) != 0))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	json_error_t jerr;
	json_t *body;

	if (s == NULL)
		abort();
	/* query values and path segments reach the same checks as C strings */
	memcpy(s, data, size);
	s[size] = '\0';
	check_string(s);
	free(s);
	/* as http.c parses every request body before a handler sees it */
	body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (json_is_object(body))
		check_body(body);
	json_decref(body);
	return 0;
}
