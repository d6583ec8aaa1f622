/*
 * The LDAP settings cache, and the sealing of reader passwords. Settings are
 * kept as one JSON value in the settings table with every reader password
 * sealed (secret.c); they are opened here and nowhere else.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "ldap_config.h"
#include "store/store.h"

#define SETTINGS_KEY "ldapSettings"

struct ldap_cache {
	struct ref_slot current; /* NULL until asked, and after each change */
	/*
	 * Held while the store is read for a new config, and by a change: a load
	 * that read the settings before a change committed publishes before the
	 * change withdraws it, never after.
	 */
	pthread_mutex_t load;
};

/* What is done to each reader password of a settings JSON value, in place. */
enum password_op { PW_SEAL, PW_UNSEAL, PW_WIPE };

/* One server object's readerPassword; 0, or -1 when a seal cannot be made or opened. */
static int password_apply(json_t *server, enum password_op op, const unsigned char *key)
{
	json_t *v = json_object_get(server, "readerPassword");
	char *in, *out;

	if (!json_is_string(v) || json_string_length(v) == 0)
		return 0;
	in = (char *)json_string_value(v);
	if (op == PW_WIPE) {
		OPENSSL_cleanse(in, json_string_length(v));
		return 0;
	}
	out = op == PW_SEAL ? secret_seal(key, in) : secret_unseal(key, in);
	if (out == NULL)
		return -1;
	if (op == PW_SEAL)
		OPENSSL_cleanse(in, strlen(in));
	json_object_set_new(server, "readerPassword", json_string(out));
	if (op == PW_UNSEAL)
		OPENSSL_cleanse(out, strlen(out));
	free(out);
	return 0;
}

/* The top level is the default server; each of additionalDomains is another. */
static int each_password(json_t *settings, enum password_op op, const unsigned char *key)
{
	json_t *server;
	size_t i;

	if (password_apply(settings, op, key) != 0)
		return -1;
	json_array_foreach(json_object_get(settings, "additionalDomains"), i, server)
	{
		if (password_apply(server, op, key) != 0)
			return -1;
	}
	return 0;
}

/* Wipes the clear passwords a JSON value holds, then frees it. */
static void drop_clear_settings(json_t *settings)
{
	each_password(settings, PW_WIPE, NULL);
	json_decref(settings);
}

int ldap_settings_load(struct server *srv, struct ls_settings *out)
{
	struct refusal why;
	char *text = NULL;
	json_t *j;
	int rc = store_setting_get_text(SETTINGS_KEY, &text);

	if (rc != STORE_OK)
		return rc;
	j = json_loads(text, 0, NULL);
	free(text);
	if (j == NULL || each_password(j, PW_UNSEAL, srv->secret_key) != 0) {
		log_msg(LOG_ERROR,
			"stored LDAP settings cannot be read (is secret.key the one they "
			"were sealed with?)");
		json_decref(j);
		return STORE_ERROR;
	}
	rc = ls_settings_from_json(j, NULL, out, &why) == 0 ? STORE_OK : STORE_ERROR;
	if (rc != STORE_OK)
		log_msg(LOG_ERROR, "stored LDAP settings are refused: %s", why.message);
	drop_clear_settings(j);
	return rc;
}

int ldap_settings_save(struct server *srv, const struct ls_settings *s)
{
	json_t *j = ls_settings_to_json(s, true);
	char *text = NULL;
	int rc = STORE_ERROR;

	if (j != NULL && each_password(j, PW_SEAL, srv->secret_key) == 0 &&
	    (text = json_dumps(j, JSON_COMPACT)) != NULL)
		rc = store_setting_set(SETTINGS_KEY, text);
	free(text);
	drop_clear_settings(j);
	return rc;
}

/* ---- the cache ---- */

static void free_config(struct ref *r)
{
	struct ldap_config *c = (struct ldap_config *)r;

	if (c->configured)
		ls_settings_free(&c->s);
	free(c);
}

static struct ldap_config *config_load(struct server *srv)
{
	struct ldap_config *c = calloc(1, sizeof(*c));
	char backend[32] = "managed";
	int rc;

	if (c == NULL)
		return NULL;
	rc = store_setting_get("backend", backend, sizeof(backend));
	if (rc == STORE_OK || rc == STORE_NOT_FOUND)
		rc = ldap_settings_load(srv, &c->s);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
		free(c);
		return NULL;
	}
	ref_init(&c->ref, free_config);
	c->backend_ldap = strcmp(backend, "ldap") == 0;
	c->configured = rc == STORE_OK;
	return c;
}

struct ldap_cache *ldap_cache_new(void)
{
	struct ldap_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	ref_slot_init(&c->current);
	pthread_mutex_init(&c->load, NULL);
	return c;
}

void ldap_cache_free(struct ldap_cache *c)
{
	if (c == NULL)
		return;
	ref_slot_destroy(&c->current);
	pthread_mutex_destroy(&c->load);
	free(c);
}

struct ldap_config *ldap_config_get(struct server *srv)
{
	struct ldap_cache *cache = srv->ldap;
	struct ldap_config *c = (struct ldap_config *)ref_slot_take(&cache->current);

	if (c != NULL)
		return c;
	pthread_mutex_lock(&cache->load);
	c = (struct ldap_config *)ref_slot_take(&cache->current);
	if (c == NULL && (c = config_load(srv)) != NULL) {
		ref_get(&c->ref); /* one for the slot, one for the caller */
		ref_slot_publish(&cache->current, &c->ref);
	}
	pthread_mutex_unlock(&cache->load);
	return c;
}

void ldap_config_put(struct ldap_config *c)
{
	if (c != NULL)
		ref_put(&c->ref);
}

void ldap_config_changed(struct server *srv)
{
	pthread_mutex_lock(&srv->ldap->load);
	ref_slot_publish(&srv->ldap->current, NULL);
	pthread_mutex_unlock(&srv->ldap->load);
}
