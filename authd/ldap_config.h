/*
 * The LDAP settings as the login path and the sync jobs use them: read from
 * the store and unsealed once per change, then shared (refcount.h) until the
 * next change is announced. Also the one place settings are sealed and
 * unsealed on their way to and from the store.
 */
#ifndef AUTHD_LDAP_CONFIG_H
#define AUTHD_LDAP_CONFIG_H

#include "authd.h"
#include "ldapsync.h"
#include "refcount.h"

/* What a login or a sync needs of LDAP. Immutable once published. */
struct ldap_config {
	struct ref ref;	   /* first: the object's address */
	bool backend_ldap; /* /enzi/v0/config/auth's backend is "ldap" */
	bool configured;   /* settings were saved; s is filled only then */
	struct ls_settings s;
};

struct ldap_cache;
struct ldap_cache *ldap_cache_new(void);
/* After every reader has put its config back, or at exit: readers keep theirs alive. */
void ldap_cache_free(struct ldap_cache *c);

/* The current config with a reference for the caller (ldap_config_put); NULL when the store
 * fails. */
struct ldap_config *ldap_config_get(struct server *srv);
void ldap_config_put(struct ldap_config *c);
/* For changes.c: the next ldap_config_get reads the backend and the settings again. */
void ldap_config_changed(struct server *srv);

/* The saved settings, passwords unsealed (ls_settings_free clears them): STORE_OK,
 * STORE_NOT_FOUND before the first save, or a failure (logged). */
int ldap_settings_load(struct server *srv, struct ls_settings *out);
/* Stores the settings with every reader password sealed. */
int ldap_settings_save(struct server *srv, const struct ls_settings *s);
/*
 * At start-up, with store.keyFile set and a secret.key in the data dir:
 * reseals under store.keyFile's key the stored reader passwords that
 * secret.key sealed (before store.keyFile was set), so that every replica
 * opens them. Does nothing otherwise; a failure is logged, and the next start
 * tries again.
 */
void ldap_settings_move(struct server *srv);

#endif
