/*
 * The session settings of GET/PUT /enzi/v0/config/auth ("sessions"), as MKE
 * names them: how long a session lasts, when a use renews it, and how many
 * sessions one user may hold. The config file's session keys are their
 * defaults; what an admin saves is kept in the store, over them.
 */
#ifndef AUTHD_SESSION_SETTINGS_H
#define AUTHD_SESSION_SETTINGS_H

#include "authd.h"

struct session_settings {
	int lifetime_minutes;	       /* from a login or a renewal to the session's end */
	int renewal_threshold_minutes; /* a use this close to the end renews it; 0: none does */
	int per_user_limit;	       /* sessions one user may hold; 0: no limit */
};

/* The config file's values: idleMinutes, renewalThresholdMinutes, perUserLimit. */
void session_settings_defaults(const struct config *cfg, struct session_settings *out);
/*
 * The settings in effect: the stored ones over the defaults, cut to fit the
 * config's absoluteMinutes when it was lowered since they were saved.
 * STORE_OK, or the store's failure.
 */
int session_settings_load(const struct config *cfg, struct session_settings *out);
/* Stores all three, in the caller's transaction when one is open. */
int session_settings_save(const struct session_settings *s);

/*
 * A PUT's "sessions" object, whose form was checked (known keys, integers),
 * over `current`: a key it leaves out keeps its value, but a renewal
 * threshold left above a lowered lifetime comes down with it (it renewed at
 * every use, and still does). 0, or -1 with why naming the field as
 * "sessions.<key>".
 */
int session_settings_from_json(json_t *obj, const struct session_settings *current,
			       int absolute_minutes, struct session_settings *out,
			       struct refusal *why);
/* {"lifetimeMinutes","renewalThresholdMinutes","perUserLimit"}, as GET shows them. */
json_t *session_settings_json(const struct session_settings *s);

#endif
