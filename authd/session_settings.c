/*
 * The session settings: their defaults from the config file, their ranges,
 * and their one JSON value in the settings table, in the API's own shape.
 */
#include <stdio.h>
#include <stdlib.h>

#include "session_settings.h"
#include "store/store.h"

#define SETTINGS_KEY "sessions"

void session_settings_defaults(const struct config *cfg, struct session_settings *out)
{
	out->lifetime_minutes = cfg->session_idle_minutes;
	/* unset: every use renews, which makes the lifetime an idle expiry */
	out->renewal_threshold_minutes = cfg->session_renewal_minutes < 0
					     ? cfg->session_idle_minutes
					     : cfg->session_renewal_minutes;
	out->per_user_limit = cfg->session_per_user_limit;
}

/* The integer at key, when obj has one there. */
static bool integer_at(json_t *obj, const char *key, long long *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return true;
}

static int clamp(long long v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int)v;
}

int session_settings_load(const struct config *cfg, struct session_settings *out)
{
	char *text = NULL;
	json_t *stored;
	long long v;
	int rc;

	session_settings_defaults(cfg, out);
	rc = store_setting_get_text(SETTINGS_KEY, &text);
	if (rc == STORE_NOT_FOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	stored = json_loads(text, 0, NULL);
	free(text);
	if (stored == NULL)
		log_msg(LOG_WARN, "the stored session settings do not parse; using the config's");
	if (integer_at(stored, "lifetimeMinutes", &v))
		out->lifetime_minutes = clamp(v, 1, cfg->session_absolute_minutes);
	if (integer_at(stored, "renewalThresholdMinutes", &v))
		out->renewal_threshold_minutes = clamp(v, 0, out->lifetime_minutes);
	if (integer_at(stored, "perUserLimit", &v))
		out->per_user_limit = clamp(v, 0, SESSION_PER_USER_MAX);
	/* a lifetime cut to a lowered absoluteMinutes takes the threshold down with it */
	out->renewal_threshold_minutes =
	    clamp(out->renewal_threshold_minutes, 0, out->lifetime_minutes);
	json_decref(stored);
	return STORE_OK;
}

int session_settings_save(const struct session_settings *s)
{
	json_t *j = session_settings_json(s);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc = text ? store_setting_set(SETTINGS_KEY, text) : STORE_ERROR;

	free(text);
	json_decref(j);
	return rc;
}

/* The value of key when obj has it: within lo..hi, or refused, naming sessions.<key>. */
static int read_in_range(json_t *obj, const char *key, long long lo, long long hi,
			 const char *range, int *value, struct refusal *why)
{
	char field[64];
	long long v;

	if (!integer_at(obj, key, &v))
		return 0;
	if (v < lo || v > hi) {
		snprintf(field, sizeof(field), "sessions.%s", key);
		return refusal_set(why, field, "%s: must be from %s", field, range);
	}
	*value = (int)v;
	return 0;
}

int session_settings_from_json(json_t *obj, const struct session_settings *current,
			       int absolute_minutes, struct session_settings *out,
			       struct refusal *why)
{
	char range[96];
	bool threshold_given = json_object_get(obj, "renewalThresholdMinutes") != NULL;

	*out = *current;
	snprintf(range, sizeof(range), "1 to %d (session.absoluteMinutes in the config file)",
		 absolute_minutes);
	if (read_in_range(obj, "lifetimeMinutes", 1, absolute_minutes, range,
			  &out->lifetime_minutes, why) != 0)
		return -1;
	if (!threshold_given && out->renewal_threshold_minutes > out->lifetime_minutes)
		out->renewal_threshold_minutes = out->lifetime_minutes;
	snprintf(range, sizeof(range), "0 (no renewal) to lifetimeMinutes (%d)",
		 out->lifetime_minutes);
	if (read_in_range(obj, "renewalThresholdMinutes", 0, out->lifetime_minutes, range,
			  &out->renewal_threshold_minutes, why) != 0)
		return -1;
	snprintf(range, sizeof(range), "0 (no limit) to %d", SESSION_PER_USER_MAX);
	return read_in_range(obj, "perUserLimit", 0, SESSION_PER_USER_MAX, range,
			     &out->per_user_limit, why);
}

json_t *session_settings_json(const struct session_settings *s)
{
	return json_pack("{s:i, s:i, s:i}", "lifetimeMinutes", s->lifetime_minutes,
			 "renewalThresholdMinutes", s->renewal_threshold_minutes, "perUserLimit",
			 s->per_user_limit);
}
