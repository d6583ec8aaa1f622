/*
 * authd's private header: the types the server's files share. Only authd/
 * includes it; the libraries under include/ never see it.
 */
#ifndef AUTHD_AUTHD_H
#define AUTHD_AUTHD_H

#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common.h"

#define AUTHD_VERSION "0.1.0"
#define MAX_BODY (1024 * 1024)

/* Sizes of stored strings: names are at most 100 characters of at most 4 bytes. */
#define ID_LEN 40
#define NAME_LEN 404
#define FULLNAME_MAX_CHARS 200
#define FULLNAME_LEN (FULLNAME_MAX_CHARS * 4 + 4)
#define DN_LEN 2048
#define LDAP_ID_LEN (128 + 1) /* a directory id as text: LS_ID_MAX and its NUL */
#define DESCRIPTION_MAX_CHARS 140
#define PASSWORD_MIN_CHARS 8
#define PASSWORD_MAX_BYTES 1024

/* ---- config.c ---- */

/* The most sessions per user a limit may allow (the config's and the API's). */
#define SESSION_PER_USER_MAX 1000

struct config {
	char *path; /* the file it came from, or NULL for the embedded defaults */
	char *listen_host;
	int listen_port;
	char *data_dir;
	char *tls_cert, *tls_key, *tls_ca;
	char *authz_socket;
	char *authz_listen_host; /* the plugin protocol over TLS (authz.listen); NULL: off */
	int authz_listen_port;
	bool authz_allow_local;
	char *authz_engine_socket;
	char *authz_engine_collection;
	int authz_max_stale_seconds; /* decisions deny once the store is out of reach this long */
	char *bundle_docker_host;
	char **bundle_engine_hosts;
	size_t bundle_n_engine_hosts;
	int bundle_validity_days;
	char *bundle_key_type;
	int session_idle_minutes;     /* the default session lifetime */
	int session_absolute_minutes; /* what no renewal passes */
	int session_renewal_minutes;  /* the default renewal threshold; -1: the whole lifetime */
	int session_per_user_limit;   /* the default limit of sessions per user; 0: none */
	int throttle_max_failures;
	int throttle_window_seconds;
	int throttle_lockout_seconds;
	char *log_level;
	char *log_audit;
	int log_audit_max_mb; /* rotate the audit log past this size; 0: never */
	int log_audit_keep;   /* rotated audit files kept */
	/* the store (README, "Running on PostgreSQL"): the DSN may hold a password, never shown */
	char *store_driver; /* "sqlite" (the default) or "postgres" */
	char *store_dsn;
	char *store_dsn_file; /* a file of mode 0600 or stricter holding the DSN */
	int store_max_connections;
	char *replica_name; /* names this process in job records; NULL: hostname:port */
};

void config_defaults(struct config *cfg);
/* Reads `path` over the defaults; on refusal nothing of it is applied, and why names the key. */
int config_load_file(struct config *cfg, const char *path, struct refusal *why);
int config_set_listen(struct config *cfg, const char *value, struct refusal *why);
int config_set_log_level(struct config *cfg, const char *value, struct refusal *why);
int config_set_string(char **field, const char *value);
void config_free(struct config *cfg);

/* ---- log.c ---- */

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
int log_level_parse(const char *name, enum log_level *out);
void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- util.c ---- */

/* Wall-clock seconds: for what is stored or shown, and for expiry the spec states in time. */
int64_t now_seconds(void);
/* Monotonic milliseconds: for durations and grace periods, which a clock step must not bend. */
int64_t monotonic_ms(void);
/* The same in nanoseconds, for what takes less than a millisecond (a request, a rebuild). */
int64_t monotonic_ns(void);
/* RFC 3339 UTC, e.g. 2026-11-23T15:05:00Z; buf holds at least 21 bytes. */
void format_time(int64_t t, char *buf, size_t len);
/*
 * An RFC 3339 time (2026-11-23T15:05:00Z, or with a fraction, which is
 * dropped, or an offset such as +02:00) as seconds since the epoch; 0 or -1.
 */
int parse_time(const char *s, int64_t *out);
/* A version 7 UUID (time-ordered, 74 random bits), 36 characters and a NUL. */
int new_uuid(char out[ID_LEN]);

/* ---- password.c ---- */

/* An argon2id encoded hash (parameters inside) in malloc'd memory, or NULL. */
char *password_hash(const char *password);
bool password_verify(const char *encoded, const char *password);
/* Spends the same time as a verify against a real hash, for unknown users. */
void password_verify_dummy(const char *password);
/* 0 when the password is acceptable for a managed account, else -1 with why (no field). */
int password_check(const char *password, struct refusal *why);

/* ---- secret.c ---- */

#define SECRET_KEY_LEN 32

/* Reads <dataDir>/secret.key, or makes it (0600) on first start; 0 or -1 with err. */
int secret_key_load(const char *data_dir, unsigned char key[SECRET_KEY_LEN], struct failure *err);
/* "v1:" and the hex of nonce, ciphertext and tag; malloc'd, NULL on failure. */
char *secret_seal(const unsigned char key[SECRET_KEY_LEN], const char *plain);
/* The plain text, malloc'd (the caller cleanses it); NULL when the seal does not open. */
char *secret_unseal(const unsigned char key[SECRET_KEY_LEN], const char *sealed);

/* ---- audit.c ---- */

struct audit;
/*
 * Opens the audit log at path for appending. Past max_bytes (0: never) the
 * file becomes path.1, path.1 path.2 and so on, keeping `keep` of them
 * (1-AUDIT_KEEP_MAX of audit.h). Each line gets the next sequence number
 * after the newest record found in them.
 */
struct audit *audit_open(const char *path, int64_t max_bytes, int keep, struct failure *err);
void audit_close(struct audit *a);
/* Writes one JSON line and flushes it; takes ownership of `fields` (may be NULL). */
void audit_log(struct audit *a, const char *event, const char *actor, const char *client,
	       json_t *fields);
/* An "authz" line, buffered until the next audit_flush (main.c: every second). */
void audit_decision(struct audit *a, const char *actor, json_t *fields);
void audit_flush(struct audit *a);
/* Opens path anew (SIGHUP, once logrotate moved the file); buffered lines go to the old one. */
void audit_reopen(struct audit *a);

/* ---- throttle.c ---- */

struct throttle;
struct throttle *throttle_new(int max_failures, int window_seconds, int lockout_seconds);
void throttle_free(struct throttle *t);
/* Seconds the key must wait before it may try again; 0 when it may try now. */
int throttle_wait(struct throttle *t, const char *key, int64_t now);
/* Records a failure; returns how many the key has in its window. */
int throttle_fail(struct throttle *t, const char *key, int64_t now);
void throttle_clear(struct throttle *t, const char *key);

/* ---- server context, built by main.c and passed to every handler ---- */

struct sessions;
struct http_server;
struct tls_material;
struct rbac;
struct engine_labels;
struct ldap_cache;
struct jobs;
struct http_stats;
struct authz_stats;

/* Why a login failed, as /metrics counts it (api_auth.c; api_metrics.c names them). */
enum login_failure {
	LOGIN_BAD_CREDENTIALS, /* unknown user, wrong password, inactive or missing account */
	LOGIN_THROTTLED,
	LOGIN_BLANK_PASSWORD,
	LOGIN_BLANK_USERNAME,
	LOGIN_LDAP_ERROR, /* the directory did not answer */
	LOGIN_STORE_ERROR,
	LOGIN_FAILURE_REASONS
};

struct server {
	struct config *cfg;
	struct sessions *sessions;
	struct throttle *throttle;    /* failed logins per username */
	struct throttle *ip_throttle; /* and per client address, with a higher limit */
	struct audit *audit;
	struct tls_material *tls;
	struct rbac *rbac;
	struct idcache *ids; /* certificate texts' fingerprints (authz/idcache.c) */
	struct engine_labels *labels;
	unsigned char secret_key[SECRET_KEY_LEN]; /* seals stored LDAP reader passwords */
	struct ldap_cache *ldap; /* the settings, parsed once per change (ldap_config.c) */
	struct jobs *jobs;	 /* the sync worker and scheduler (sync/jobs.c) */
	/* what GET /metrics shows, counted where it happens (README, "Metrics") */
	atomic_int inflight;
	struct http_stats *api_stats, *plugin_stats; /* answers per route of each listener */
	struct authz_stats *decisions;		     /* by outcome and operation (authz.c) */
	atomic_long login_failures[LOGIN_FAILURE_REASONS];
	/* monotonic_ms() when the store last answered main.c's tick; 0: not watched (no tick) */
	atomic_llong store_ok_ms;
	/* false until the store is open and all it feeds is loaded; every request is answered
	 * 503 STORE_UNAVAILABLE until then (main.c) */
	atomic_bool ready;
};

#endif
