/*
 * The LDAP settings cache, and the sealing of reader passwords. Settings are
 * kept as one JSON value in the settings table with every reader password
 * sealed (secret.c): under store.keyFile's key when it is set, which every
 * replica reads, else under the data dir's secret.key. They are opened here
 * and nowhere else.
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

/*
 * The keys of the reader passwords. New seals are made with store.keyFile's
 * key when it is set (every replica reads that file), else with secret.key's.
 * Beside store.keyFile's, `old` is secret.key's when the data dir has one: it
 * opens what was sealed before store.keyFile was set; opened_old counts those.
 */
struct seal_keys {
	const unsigned char *key, *old;
	int opened_old;
};

static struct seal_keys keys_of(const struct server *srv)
{
	bool shared = srv->cfg->store_key_file != NULL;

	return (struct seal_keys){.key = shared ? srv->store_key : srv->secret_key,
				  .old = shared && srv->has_secret_key ? srv->secret_key : NULL};
}

static char *unseal(struct seal_keys *k, const char *sealed)
{
	char *plain = secret_unseal(k->key, sealed);

	if (plain == NULL && k->old != NULL && (plain = secret_unseal(k->old, sealed)) != NULL)
		k->opened_old++;
	return plain;
}

/* One server object's readerPassword; 0, or -1 when a seal cannot be made or opened. */
static int password_apply(json_t *server, enum password_op op, struct seal_keys *k)
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
	out = op == PW_SEAL ? secret_seal(k->key, in) : unseal(k, in);
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
static int each_password(json_t *settings, enum password_op op, struct seal_keys *k)
{
	json_t *server;
	size_t i;

	if (password_apply(settings, op, k) != 0)
		return -1;
	json_array_foreach(json_object_get(settings, "additionalDomains"), i, server)
	{
		if (password_apply(server, op, k) != 0)
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

/*
 * The stored settings as JSON with their passwords opened, into *out (freed
 * with drop_clear_settings): STORE_OK, STORE_NOT_FOUND, or a failure (logged).
 */
static int settings_open(struct server *srv, struct seal_keys *k, json_t **out)
{
	char *text = NULL;
	json_t *j;
	int rc = store_setting_get_text(SETTINGS_KEY, &text);

	*out = NULL;
	if (rc != STORE_OK)
		return rc;
	j = json_loads(text, 0, NULL);
	free(text);
	if (j == NULL || each_password(j, PW_UNSEAL, k) != 0) {
		if (srv->cfg->store_key_file != NULL)
			log_msg(LOG_ERROR,
				"stored LDAP settings cannot be read: a reader password opens "
				"with neither store.keyFile's key nor this data dir's secret.key "
				"(start once the replica whose data dir holds the secret.key they "
				"were sealed with: it reseals them under store.keyFile's key)");
		else
			log_msg(LOG_ERROR, "stored LDAP settings cannot be read (is secret.key "
					   "the one they were sealed with?)");
		drop_clear_settings(j);
		return STORE_ERROR;
	}
	*out = j;
	return STORE_OK;
}

int ldap_settings_load(struct server *srv, struct ls_settings *out)
{
	struct seal_keys k = keys_of(srv);
	struct refusal why;
	json_t *j;
	int rc = settings_open(srv, &k, &j);

	if (rc != STORE_OK)
		return rc;
	rc = ls_settings_from_json(j, NULL, out, &why) == 0 ? STORE_OK : STORE_ERROR;
	if (rc != STORE_OK)
		log_msg(LOG_ERROR, "stored LDAP settings are refused: %s", why.message);
	drop_clear_settings(j);
	return rc;
}

/* The settings JSON sealed with k and stored; STORE_OK or a failure. */
static int seal_and_store(json_t *j, struct seal_keys *k)
{
	char *text = NULL;
	int rc = STORE_ERROR;

	if (each_password(j, PW_SEAL, k) == 0 && (text = json_dumps(j, JSON_COMPACT)) != NULL)
		rc = store_setting_set(SETTINGS_KEY, text);
	free(text);
	return rc;
}

int ldap_settings_save(struct server *srv, const struct ls_settings *s)
{
	struct seal_keys k = keys_of(srv);
	json_t *j = ls_settings_to_json(s, true);
	int rc = j != NULL ? seal_and_store(j, &k) : STORE_ERROR;

	drop_clear_settings(j);
	return rc;
}

void ldap_settings_move(struct server *srv)
{
	struct seal_keys k = keys_of(srv);
	json_t *j = NULL;
	int rc;

	if (k.old == NULL)
		return;
	/* read and written in one transaction: replicas starting together move them in turn */
	if (store_begin() != STORE_OK) {
		log_msg(LOG_WARN,
			"cannot look at the LDAP settings' seals now: the next start will");
		return;
	}
	rc = settings_open(srv, &k, &j);
	if (rc == STORE_OK && k.opened_old > 0 && (rc = seal_and_store(j, &k)) == STORE_OK)
		rc = store_commit();
	store_rollback(); /* when nothing was written, or the commit failed */
	drop_clear_settings(j);
	if (rc == STORE_OK && k.opened_old > 0)
		log_msg(LOG_INFO, "resealed the stored LDAP reader passwords under store.keyFile's "
				  "key: replicas need no copy of this data dir's secret.key");
	else if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		log_msg(LOG_WARN, "the LDAP settings sealed under secret.key were not resealed "
				  "under store.keyFile's key: the next start tries again");
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
