/*
 * The built-in roles (SPEC §5) and the rules a custom role's operations map
 * must follow. Pure: no store, no snapshot.
 */
#ifndef AUTHD_AUTHZ_ROLES_H
#define AUTHD_AUTHZ_ROLES_H

#include <jansson.h>

#include "common.h"
#include "dockerapi.h"

struct builtin_role {
	const char *id;	  /* "viewonly" */
	const char *name; /* "View Only" */
};

/* Every built-in role, in the order the API lists them; *n gets the count. */
const struct builtin_role *roles_builtins(size_t *n);
/* The built-in role whose id, or name in any case, is key; NULL for none. */
const struct builtin_role *roles_builtin(const char *key);
/* What a built-in role allows of an operation: -1 nothing, else its mask of sub-options. */
int roles_builtin_allows(const char *id, enum dk_resource res, const char *op);
/* A built-in role's operations map as the API shows it (a new reference). */
json_t *roles_builtin_operations(const char *id);
/* A role as the API shows it, taking `operations` (NULL: an empty map). */
json_t *roles_json(const char *id, const char *name, bool system_role, json_t *operations);
/* The bit of a sub-option ("Privileged"), or 0 for a name that is none. */
unsigned roles_suboption_bit(const char *name);
/*
 * Checks a custom role's operations map: known resource types and
 * operations, each a list of short strings. 0, or -1 with why naming the
 * bad part ("operations.Container.Container Create").
 */
int roles_check_operations(json_t *ops, struct refusal *why);

#endif
