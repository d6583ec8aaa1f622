/*
 * The configuration: embedded defaults, then a JSON file (daemon.json style),
 * then flags. The file is read into a copy and only swapped in when every key
 * passed, so a bad file never leaves a half-applied config.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sys/stat.h>

#include "audit.h"

enum kind { K_STRING, K_BOOL, K_INT, K_STRINGS, K_OBJECT, K_ADDRESS };

struct key {
	const char *name;
	enum kind kind;
	size_t offset;		  /* into struct config; unused for objects; an address's host */
	const struct key *fields; /* for objects */
	int min, max;		  /* for integers; an address's port field is at offset min */
};

#define STR(n, f)                                                                                  \
	{                                                                                          \
		n, K_STRING, offsetof(struct config, f), NULL, 0, 0                                \
	}
#define BOOL(n, f)                                                                                 \
	{                                                                                          \
		n, K_BOOL, offsetof(struct config, f), NULL, 0, 0                                  \
	}
#define INT(n, f, lo, hi)                                                                          \
	{                                                                                          \
		n, K_INT, offsetof(struct config, f), NULL, lo, hi                                 \
	}
#define OBJ(n, fs)                                                                                 \
	{                                                                                          \
		n, K_OBJECT, 0, fs, 0, 0                                                           \
	}
/* "ADDRESS:PORT", parsed into the char * host h and the int port p */
#define ADDR(n, h, p)                                                                              \
	{                                                                                          \
		n, K_ADDRESS, offsetof(struct config, h), NULL, (int)offsetof(struct config, p), 0 \
	}
#define END                                                                                        \
	{                                                                                          \
		NULL, 0, 0, NULL, 0, 0                                                             \
	}

static const struct key tls_keys[] = {STR("cert", tls_cert), STR("key", tls_key), STR("ca", tls_ca),
				      END};
static const struct key authz_keys[] = {STR("socket", authz_socket),
					ADDR("listen", authz_listen_host, authz_listen_port),
					BOOL("allowLocal", authz_allow_local),
					STR("engineSocket", authz_engine_socket),
					STR("engineCollection", authz_engine_collection),
					INT("maxStaleSeconds", authz_max_stale_seconds, 1, 86400),
					END};
static const struct key bundle_keys[] = {
    STR("dockerHost", bundle_docker_host),
    {"engineHosts", K_STRINGS, offsetof(struct config, bundle_engine_hosts), NULL, 0, 0},
    INT("validityDays", bundle_validity_days, 1, 3650),
    STR("keyType", bundle_key_type),
    END};
static const struct key session_keys[] = {
    INT("idleMinutes", session_idle_minutes, 1, 525600),
    INT("absoluteMinutes", session_absolute_minutes, 1, 5256000),
    INT("renewalThresholdMinutes", session_renewal_minutes, 0, 525600),
    INT("perUserLimit", session_per_user_limit, 0, SESSION_PER_USER_MAX), END};
static const struct key throttle_keys[] = {
    INT("maxFailures", throttle_max_failures, 1, 1000),
    INT("windowSeconds", throttle_window_seconds, 1, 86400),
    INT("lockoutSeconds", throttle_lockout_seconds, 1, 86400), END};
static const struct key store_keys[] = {STR("driver", store_driver), STR("dsn", store_dsn),
					STR("dsnFile", store_dsn_file),
					INT("maxConnections", store_max_connections, 1, 1000), END};
static const struct key log_keys[] = {STR("level", log_level), STR("audit", log_audit),
				      INT("auditMaxMB", log_audit_max_mb, 0, 1024 * 1024),
				      INT("auditKeep", log_audit_keep, 1, AUDIT_KEEP_MAX), END};
static const struct key replica_keys[] = {STR("name", replica_name), END};
static const struct key top_keys[] = {ADDR("listen", listen_host, listen_port),
				      STR("dataDir", data_dir),
				      OBJ("tls", tls_keys),
				      OBJ("authz", authz_keys),
				      OBJ("bundle", bundle_keys),
				      OBJ("session", session_keys),
				      OBJ("loginThrottle", throttle_keys),
				      OBJ("log", log_keys),
				      OBJ("store", store_keys),
				      OBJ("replica", replica_keys),
				      END};

int config_set_string(char **field, const char *value)
{
	char *copy = value ? strdup(value) : NULL;

	if (value != NULL && copy == NULL)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	config_set_string(&cfg->listen_host, "127.0.0.1");
	cfg->listen_port = 8443;
	config_set_string(&cfg->data_dir, "./authd-data");
	cfg->authz_allow_local = true;
	config_set_string(&cfg->authz_engine_collection, "/Shared");
	cfg->authz_max_stale_seconds = 30;
	cfg->bundle_validity_days = 365;
	config_set_string(&cfg->bundle_key_type, "ecdsa-p256");
	cfg->session_idle_minutes = 60;
	cfg->session_absolute_minutes = 12 * 60;
	cfg->session_renewal_minutes = -1;
	cfg->throttle_max_failures = 5;
	cfg->throttle_window_seconds = 300;
	cfg->throttle_lockout_seconds = 60;
	config_set_string(&cfg->log_level, "info");
	cfg->log_audit_max_mb = 100;
	cfg->log_audit_keep = 5;
	config_set_string(&cfg->store_driver, "sqlite");
	cfg->store_max_connections = 10;
}

static void free_strings(char ***list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

/* Every string field of a config, for copying and freeing them alike. */
#define N_STRINGS 18
static void string_fields(struct config *c, char **f[N_STRINGS])
{
	char **all[N_STRINGS] = {&c->path,
				 &c->listen_host,
				 &c->data_dir,
				 &c->tls_cert,
				 &c->tls_key,
				 &c->tls_ca,
				 &c->authz_socket,
				 &c->authz_listen_host,
				 &c->authz_engine_socket,
				 &c->authz_engine_collection,
				 &c->bundle_docker_host,
				 &c->bundle_key_type,
				 &c->log_level,
				 &c->log_audit,
				 &c->store_driver,
				 &c->store_dsn,
				 &c->store_dsn_file,
				 &c->replica_name};

	memcpy(f, all, sizeof(all));
}

void config_free(struct config *cfg)
{
	char **f[N_STRINGS];

	/* the DSN may hold a password */
	if (cfg->store_dsn != NULL)
		OPENSSL_cleanse(cfg->store_dsn, strlen(cfg->store_dsn));
	string_fields(cfg, f);
	for (size_t i = 0; i < N_STRINGS; i++) {
		free(*f[i]);
		*f[i] = NULL;
	}
	free_strings(&cfg->bundle_engine_hosts, &cfg->bundle_n_engine_hosts);
}

/* Parses "ADDRESS:PORT" ("[::1]:8443" for IPv6) into *host and *port; where names the key. */
static int set_address(const char *where, const char *value, char **host_field, int *port_field,
		       struct refusal *why)
{
	const char *colon = strrchr(value, ':');
	unsigned char buf[16];
	char host[256];
	char *end;
	long port;
	size_t hlen;

	if (colon == NULL || colon == value)
		return refusal_set(why, where, "%s: \"%s\" is not ADDRESS:PORT", where, value);
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || port < 1 || port > 65535)
		return refusal_set(why, where, "%s: port of \"%s\" must be 1-65535", where, value);
	hlen = (size_t)(colon - value);
	if (value[0] == '[' && colon[-1] == ']') { /* [::1]:8443 */
		value++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return refusal_set(why, where, "%s: address too long", where);
	memcpy(host, value, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
		return refusal_set(why, where, "%s: \"%s\" is not an IP address", where, host);
	*port_field = (int)port;
	return config_set_string(host_field, host);
}

int config_set_listen(struct config *cfg, const char *value, struct refusal *why)
{
	return set_address("listen", value, &cfg->listen_host, &cfg->listen_port, why);
}

int config_set_log_level(struct config *cfg, const char *value, struct refusal *why)
{
	enum log_level l;

	if (log_level_parse(value, &l) != 0) {
		refusal_set(why, "log.level", "log level \"%s\" must be debug, info, warn or error",
			    value);
		return -1;
	}
	return config_set_string(&cfg->log_level, value);
}

static int set_strings(struct config *cfg, size_t offset, json_t *v, const char *where,
		       struct refusal *why)
{
	char ***list = (char ***)((char *)cfg + offset);
	size_t n = json_array_size(v), i;
	char **out;

	out = calloc(n ? n : 1, sizeof(char *));
	if (out == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);

		if (!json_is_string(e) || (out[i] = strdup(json_string_value(e))) == NULL) {
			refusal_set(why, where, "%s[%zu]: must be a string", where, i);
			free_strings(&out, &i);
			return -1;
		}
	}
	free_strings(list, &cfg->bundle_n_engine_hosts);
	*list = out;
	cfg->bundle_n_engine_hosts = n;
	return 0;
}

static int apply_object(struct config *cfg, const struct key *keys, json_t *obj, const char *prefix,
			struct refusal *why);

static int apply_key(struct config *cfg, const struct key *k, json_t *v, const char *where,
		     struct refusal *why)
{
	void *field = (char *)cfg + k->offset;

	switch (k->kind) {
	case K_STRING:
		if (!json_is_string(v))
			break;
		return config_set_string(field, json_string_value(v));
	case K_BOOL:
		if (!json_is_boolean(v))
			break;
		*(bool *)field = json_is_true(v);
		return 0;
	case K_INT:
		if (!json_is_integer(v))
			break;
		if (json_integer_value(v) < k->min || json_integer_value(v) > k->max) {
			refusal_set(why, where, "%s: must be between %d and %d", where, k->min,
				    k->max);
			return -1;
		}
		*(int *)field = (int)json_integer_value(v);
		return 0;
	case K_STRINGS:
		if (!json_is_array(v))
			break;
		return set_strings(cfg, k->offset, v, where, why);
	case K_OBJECT:
		if (!json_is_object(v))
			break;
		return apply_object(cfg, k->fields, v, where, why);
	case K_ADDRESS:
		if (!json_is_string(v))
			break;
		return set_address(where, json_string_value(v), field,
				   (int *)((char *)cfg + k->min), why);
	}
	static const char *const kinds[] = {"a string",	  "true or false",
					    "an integer", "an array of strings",
					    "an object",  "a string ADDRESS:PORT"};
	refusal_set(why, where, "%s: must be %s", where, kinds[k->kind]);
	return -1;
}

static int apply_object(struct config *cfg, const struct key *keys, json_t *obj, const char *prefix,
			struct refusal *why)
{
	const char *name;
	json_t *v;

	json_object_foreach(obj, name, v)
	{
		const struct key *k;
		char where[256];

		if (strcmp(name, "//") == 0) /* comments */
			continue;
		snprintf(where, sizeof(where), "%s%s%s", prefix, *prefix ? "." : "", name);
		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, name) == 0)
				break;
		if (k->name == NULL) {
			refusal_set(why, where, "unknown key \"%s\"", where);
			return -1;
		}
		if (apply_key(cfg, k, v, where, why) != 0)
			return -1;
	}
	return 0;
}

/*
 * The store's keys. The DSN may hold a password, so no message here quotes
 * it: they name the key, and a dsnFile by its path. A dsnFile that others
 * may read is refused, as ssh refuses such a key: its password is not secret.
 */
static int check_store(const struct config *cfg, struct refusal *why)
{
	bool pg = strcmp(cfg->store_driver, "postgres") == 0;
	struct stat st;

	if (!pg && strcmp(cfg->store_driver, "sqlite") != 0)
		return refusal_set(why, "store.driver", "store.driver: must be sqlite or postgres");
	if (!pg && (cfg->store_dsn != NULL || cfg->store_dsn_file != NULL))
		return refusal_set(why, "store.dsn",
				   "store.dsn and store.dsnFile: only for the postgres driver");
	if (!pg)
		return 0;
	if ((cfg->store_dsn == NULL) == (cfg->store_dsn_file == NULL))
		return refusal_set(why, "store.dsn",
				   "store: the postgres driver needs one of dsn and dsnFile");
	if (cfg->store_dsn != NULL)
		return cfg->store_dsn[0] == '\0'
			   ? refusal_set(why, "store.dsn", "store.dsn: must not be empty")
			   : 0;
	if (stat(cfg->store_dsn_file, &st) != 0 || !S_ISREG(st.st_mode))
		return refusal_set(why, "store.dsnFile", "store.dsnFile: %s is not a readable file",
				   cfg->store_dsn_file);
	if ((st.st_mode & 077) != 0)
		return refusal_set(why, "store.dsnFile",
				   "store.dsnFile: %s may be read by others (mode %03o); "
				   "chmod 600 it",
				   cfg->store_dsn_file, (unsigned)(st.st_mode & 0777));
	return 0;
}

/* Cross-field checks the per-key table cannot express. */
static int check_config(struct config *cfg, struct refusal *why)
{
	static const char *const key_types[] = {"ecdsa-p256", "rsa-2048", "rsa-4096"};
	size_t i;

	if (config_set_log_level(cfg, cfg->log_level, why) != 0)
		return -1;
	for (i = 0; i < 3; i++)
		if (strcmp(cfg->bundle_key_type, key_types[i]) == 0)
			break;
	if (i == 3) {
		refusal_set(why, "bundle.keyType",
			    "bundle.keyType: must be ecdsa-p256, rsa-2048 or rsa-4096");
		return -1;
	}
	if (cfg->data_dir[0] == '\0') {
		refusal_set(why, "dataDir", "dataDir: must not be empty");
		return -1;
	}
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
		refusal_set(why, "tls", "tls: cert and key must be given together");
		return -1;
	}
	if (cfg->session_absolute_minutes < cfg->session_idle_minutes) {
		refusal_set(why, "session.absoluteMinutes",
			    "session.absoluteMinutes: must not be less than idleMinutes");
		return -1;
	}
	if (cfg->session_renewal_minutes > cfg->session_idle_minutes) {
		refusal_set(why, "session.renewalThresholdMinutes",
			    "session.renewalThresholdMinutes: must not be more than idleMinutes");
		return -1;
	}
	/* both listeners on one port would leave one of them unable to start */
	if (cfg->authz_listen_host != NULL && cfg->authz_listen_port == cfg->listen_port &&
	    strcmp(cfg->authz_listen_host, cfg->listen_host) == 0)
		return refusal_set(why, "authz.listen",
				   "authz.listen: must not be the HTTPS API's listen address");
	return check_store(cfg, why);
}

/* A deep copy, so a failed load can be thrown away whole. */
static int config_copy(struct config *dst, const struct config *src)
{
	char **f[N_STRINGS];
	int failed = 0;
	size_t i;

	*dst = *src;
	string_fields(dst, f);
	/* every pointer is replaced, even after a failure, so config_free(dst) is safe */
	for (i = 0; i < N_STRINGS; i++) {
		const char *orig = *f[i];

		*f[i] = orig ? strdup(orig) : NULL;
		failed |= orig != NULL && *f[i] == NULL;
	}
	dst->bundle_n_engine_hosts = 0;
	dst->bundle_engine_hosts = calloc(src->bundle_n_engine_hosts + 1, sizeof(char *));
	if (dst->bundle_engine_hosts == NULL)
		return -1;
	for (i = 0; i < src->bundle_n_engine_hosts; i++, dst->bundle_n_engine_hosts++)
		if ((dst->bundle_engine_hosts[i] = strdup(src->bundle_engine_hosts[i])) == NULL)
			return -1;
	return failed ? -1 : 0;
}

int config_load_file(struct config *cfg, const char *path, struct refusal *why)
{
	struct refusal inner = {"", "out of memory"};
	struct config next;
	json_error_t jerr;
	json_t *root;
	int rc;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return refusal_set(why, "", "%s:%d: %s", path, jerr.line, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return refusal_set(why, "", "%s: must hold a JSON object", path);
	}
	/* the messages name the key; the file is named once, in front */
	rc = config_copy(&next, cfg);
	if (rc == 0)
		rc = apply_object(&next, top_keys, root, "", &inner);
	if (rc == 0)
		rc = check_config(&next, &inner);
	if (rc == 0)
		rc = config_set_string(&next.path, path);
	json_decref(root);
	if (rc != 0) {
		config_free(&next);
		return refusal_set(why, inner.field, "%s: %s", path, inner.message);
	}
	config_free(cfg);
	*cfg = next;
	return 0;
}
