/*
 * Fuzz target for the configuration file (authd/config.c): the input is
 * written to a file and loaded over the defaults, as `authd --config` does,
 * and read as a --listen or --log-level flag.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audit.h"
#include "bundles.h"

/* The file config_load_file reads: in memory, so each input costs no disk writes. */
static char path[64];
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	fd = memfd_create("fuzz_config", 0);
	if (fd < 0) {
		perror("fuzz_config: memfd_create");
		exit(1);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static bool same_string(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool same_config(const struct config *a, const struct config *b)
{
	if (a->bundle_n_engine_hosts != b->bundle_n_engine_hosts)
		return false;
	for (size_t i = 0; i < a->bundle_n_engine_hosts; i++)
		if (!same_string(a->bundle_engine_hosts[i], b->bundle_engine_hosts[i]))
			return false;
	return same_string(a->path, b->path) && same_string(a->listen_host, b->listen_host) &&
	       a->listen_port == b->listen_port && same_string(a->data_dir, b->data_dir) &&
	       same_string(a->tls_cert, b->tls_cert) && same_string(a->tls_key, b->tls_key) &&
	       same_string(a->tls_ca, b->tls_ca) && same_string(a->authz_socket, b->authz_socket) &&
	       a->authz_allow_local == b->authz_allow_local &&
	       same_string(a->authz_engine_socket, b->authz_engine_socket) &&
	       same_string(a->authz_engine_collection, b->authz_engine_collection) &&
	       a->authz_max_stale_seconds == b->authz_max_stale_seconds &&
	       same_string(a->bundle_docker_host, b->bundle_docker_host) &&
	       a->bundle_validity_days == b->bundle_validity_days &&
	       same_string(a->bundle_key_type, b->bundle_key_type) &&
	       a->session_idle_minutes == b->session_idle_minutes &&
	       a->session_absolute_minutes == b->session_absolute_minutes &&
	       a->session_renewal_minutes == b->session_renewal_minutes &&
	       a->session_per_user_limit == b->session_per_user_limit &&
	       a->throttle_max_failures == b->throttle_max_failures &&
	       a->throttle_window_seconds == b->throttle_window_seconds &&
	       a->throttle_lockout_seconds == b->throttle_lockout_seconds &&
	       a->throttle_max_keys == b->throttle_max_keys &&
	       same_string(a->log_level, b->log_level) && same_string(a->log_audit, b->log_audit) &&
	       a->log_audit_max_mb == b->log_audit_max_mb &&
	       a->log_audit_keep == b->log_audit_keep &&
	       same_string(a->store_driver, b->store_driver) &&
	       same_string(a->store_dsn, b->store_dsn) &&
	       same_string(a->store_dsn_file, b->store_dsn_file) &&
	       a->store_max_connections == b->store_max_connections;
}

/* What main.c may rely on once a file was accepted. */
static void check_accepted(const struct config *c)
{
	enum bdl_key_type kt;
	enum log_level l;

	if (c->listen_host == NULL || c->listen_port < 1 || c->listen_port > 65535 ||
	    c->data_dir == NULL || c->data_dir[0] == '\0' || c->bundle_key_type == NULL ||
	    bdl_key_type_parse(c->bundle_key_type, &kt) != 0 ||
	    log_level_parse(c->log_level, &l) != 0 ||
	    (c->tls_cert == NULL) != (c->tls_key == NULL) ||
	    c->session_absolute_minutes < c->session_idle_minutes ||
	    c->session_renewal_minutes > c->session_idle_minutes || c->session_per_user_limit < 0 ||
	    c->session_per_user_limit > SESSION_PER_USER_MAX || c->bundle_validity_days < 1 ||
	    c->throttle_max_failures < 1 || c->authz_engine_collection == NULL ||
	    c->log_audit_max_mb < 0 || c->log_audit_keep < 1 ||
	    c->log_audit_keep > AUDIT_KEEP_MAX || c->store_max_connections < 1 ||
	    c->store_max_connections > 1000 || c->authz_max_stale_seconds < 1 ||
	    c->authz_max_stale_seconds > 86400)
		abort();
	/* the postgres driver has exactly one DSN source; sqlite has none */
	if (strcmp(c->store_driver, "postgres") == 0
		? (c->store_dsn == NULL) == (c->store_dsn_file == NULL)
		: strcmp(c->store_driver, "sqlite") != 0 || c->store_dsn != NULL ||
		      c->store_dsn_file != NULL)
		abort();
	for (size_t i = 0; i < c->bundle_n_engine_hosts; i++)
		if (c->bundle_engine_hosts[i] == NULL)
			abort();
}

static void load_file(const uint8_t *data, size_t size)
{
	struct config cfg, defaults, again;
	struct refusal err;

	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	config_defaults(&cfg);
	config_defaults(&defaults);
	if (config_load_file(&cfg, path, &err) != 0) {
		/* a refused file leaves nothing of itself behind, and says where it failed */
		if (!same_config(&cfg, &defaults) || strncmp(err.message, path, strlen(path)) != 0)
			abort();
	} else {
		check_accepted(&cfg);
		/* loading the same file over its own result changes nothing */
		config_defaults(&again);
		if (config_load_file(&again, path, &err) != 0 ||
		    config_load_file(&again, path, &err) != 0 || !same_config(&cfg, &again))
			abort();
		config_free(&again);
	}
	config_free(&cfg);
	config_free(&defaults);
}

/* The same input as the value of --listen and --log-level. */
static void set_flags(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct refusal err;
	struct config cfg;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	config_defaults(&cfg);
	/* an accepted address is an IPv4 or IPv6 address and a port */
	if (config_set_listen(&cfg, s, &err) == 0 &&
	    (cfg.listen_port < 1 || cfg.listen_port > 65535 ||
	     (strchr(cfg.listen_host, '.') == NULL && strchr(cfg.listen_host, ':') == NULL)))
		abort();
	config_set_log_level(&cfg, s, &err);
	config_free(&cfg);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load_file(data, size);
	set_flags(data, size);
	return 0;
}
