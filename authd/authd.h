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
	int throttle_max_keys;
	char *log_level;
	char *log_audit;
	int log_audit_max_mb; /* rotate the audit log past this size; 0: never */
	int log_audit_keep;   /* rotated audit files kept */
	/* the store (README, "Running on PostgreSQL"): the DSN may hold a password, never shown */
	char *store_driver; /* "sqlite" (the default) or "postgres" */
	char *store_dsn;
	char *store_dsn_file; /* a file of mode 0600 or stricter holding the DSN */
	/*
	 * postgres only: a file of mode 0600 or stricter holding the key that seals
	 * the CAs' and the served certificate's private keys kept in the store
	 */
	char *store_key_file;
	int store_max_connections;
	/* this process among those sharing the store (README, "Running several replicas");
	 * NULL: the host's name and the listen port */
	char *replica_name;
};
#define REPLICA_NAME_MAX_CHARS 100

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
/* Wall-clock milliseconds: for times other processes compare (a change's record, its lag). */
int64_t now_ms(void);
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

/*
 * Reads <dataDir>/secret.key: 0. When there is none, makes it (0600) if `make`
 * and answers 0, else answers 1. -1 with err when it cannot be read or made.
 */
int secret_key_load(const char *data_dir, bool make, unsigned char key[SECRET_KEY_LEN],
		    struct failure *err);
/* "v1:" and the hex of nonce, ciphertext and tag; malloc'd, NULL on failure. */
char *secret_seal(const unsigned char key[SECRET_KEY_LEN], const char *plain);
/* The plain text, malloc'd (the caller cleanses it); NULL when the seal does not open. */
char *secret_unseal(const unsigned char key[SECRET_KEY_LEN], const char *sealed);
/*
 * store.keyFile's key: 32 bytes, raw or as 64 hex digits (a last line break
 * allowed), in a file others may not read. Messages name the path, never the
 * content. 0, or -1 with err.
 */
int secret_key_file_read(const char *path, unsigned char key[SECRET_KEY_LEN], struct failure *err);

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
/* Names the replica in every line written from now on (main.c, once, before any line). */
int audit_set_replica(struct audit *a, const char *replica);

/* ---- throttle.c ---- */

struct throttle;
struct throttle_config {
	int max_failures;    /* per username, within the window */
	int ip_max_failures; /* per client address */
	int window, lockout; /* seconds */
	int max_keys;	     /* the keys a shared store keeps, beyond those locked out */
	bool shared;	     /* counted in the store, for every process on it (store_is_shared) */
};
struct throttle *throttle_new(const struct throttle_config *c);
void throttle_free(struct throttle *t);
/*
 * Seconds the user or the address must wait before trying again (0: now), or
 * a store failure (< 0). *user_counted says whether the user has failures to
 * clear at a success.
 */
int throttle_wait(struct throttle *t, const char *user_key, const char *ip_key, int64_t now,
		  bool *user_counted);
/* Records a failure of both keys; the user's count in its window, or a store failure (< 0). */
int throttle_fail(struct throttle *t, const char *user_key, const char *ip_key, int64_t now);
/* Forgets the user's failures (a login that succeeded); STORE_OK or a store failure. */
int throttle_clear(struct throttle *t, const char *user_key);
/* Housekeeping, from main.c's tick: keys that no decision needs any more go. */
void throttle_tick(struct throttle *t, int64_t now);

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
	struct throttle *throttle; /* failed logins per username and per client address */
	struct audit *audit;
	struct tls_material *tls;
	struct rbac *rbac;
	struct idcache *ids; /* certificate texts' fingerprints (authz/idcache.c) */
	struct engine_labels *labels;
	/*
	 * secret.key's: seals stored LDAP reader passwords without store.keyFile;
	 * with it, opens those sealed before (ldap_settings_move), when there is one
	 */
	unsigned char secret_key[SECRET_KEY_LEN];
	bool has_secret_key;
	/*
	 * store.keyFile's key: seals the private keys of the TLS material in the
	 * store, and the LDAP reader passwords, so that replicas share them
	 */
	unsigned char store_key[SECRET_KEY_LEN];
	struct ldap_cache *ldap; /* the settings, parsed once per change (ldap_config.c) */
	struct jobs *jobs;	 /* the sync worker and scheduler (sync/jobs.c) */
	/* what GET /metrics shows, counted where it happens (README, "Metrics") */
	atomic_int inflight;
	struct http_stats *api_stats, *plugin_stats; /* answers per route of each listener */
	struct authz_stats *decisions;		     /* by outcome and operation (authz.c) */
	atomic_long login_failures[LOGIN_FAILURE_REASONS];
	/* monotonic_ms() when the store last answered main.c's tick, or where replicas share it,
	 * when the change sequence was last read (changes.c); 0: not watched (no tick) */
	atomic_llong store_ok_ms;
	/* monotonic_ms() when the store last answered main.c's tick, whatever the driver: with
	 * store_ok_ms, what /_ping tells apart (cluster.c) */
	atomic_llong store_seen_ms;
	int64_t started_at; /* wall-clock seconds when this process started, for GET /api/cluster */
	/* false until the store is open and all it feeds is loaded; every request is answered
	 * 503 STORE_UNAVAILABLE until then (main.c) */
	atomic_bool ready;
	/* following other replicas' changes (changes.c); NULL on SQLite */
	_Atomic(struct follower *) follower;
	char replica[NAME_LEN]; /* replica.name, or its default */
	char instance[ID_LEN];	/* this process's id among the changes it records */
};

#endif
