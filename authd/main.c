/*
 * authd: flags and config, start-up in order (store, first admin, TLS, HTTP),
 * then signals until SIGTERM or SIGINT (SIGHUP reopens the audit log), and
 * an orderly stop.
 */
#include <getopt.h>
#include <openssl/crypto.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "authz/authz.h"
#include "authz/engine_labels.h"
#include "authz/idcache.h"
#include "authz/rbac.h"
#include "bootstrap.h"
#include "changes.h"
#include "cluster.h"
#include "engine_tls.h"
#include "http/http.h"
#include "http/servercert.h"
#include "http/tls.h"
#include "ldap_config.h"
#include "ldapsync.h"
#include "session.h"
#include "store/store.h"
#include "sync/jobs.h"

#define TICK_SECONDS 1
#define IP_FAILURE_FACTOR 4
#define SWEEP_TICKS 60
#define GRACE_SECONDS 10

static void usage(FILE *f)
{
	fprintf(f, "usage: authd [--config FILE] [--listen ADDR:PORT] [--data-dir DIR]\n"
		   "             [--log-level debug|info|warn|error]\n"
		   "       authd engine-tls --name NAME --san IP_OR_DNS --mode controller|direct\n"
		   "                        --out DIR [--config FILE | --data-dir DIR]\n"
		   "       authd routes\n"
		   "       authd store-copy --from CONFIG --to CONFIG\n"
		   "       authd --version | --help\n"
		   "\n"
		   "Identity and access control for container platforms. With no arguments it\n"
		   "keeps its data in ./authd-data and serves HTTPS on 127.0.0.1:8443.\n"
		   "The first admin's password comes from AUTHD_ADMIN_PASSWORD, or is written to\n"
		   "<data-dir>/initial-admin-password at first start. store-copy moves a\n"
		   "stopped store between SQLite and PostgreSQL (see the README).\n");
}

/*
 * `authd routes`: the API's routing table, one "METHOD PATTERN" a line, so
 * that tests and scripts see what the binary serves rather than a copy.
 */
static int routes_main(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "authd routes: unexpected argument \"%s\" (see --help)\n", argv[1]);
		return 2;
	}
	api_routes_print(stdout);
	/* a listing cut short by a full disk or a closed pipe must not pass for a whole one */
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

/* One side of store-copy: the defaults and the config file, as authd reads them. */
static int copy_config(const char *flag, const char *path, struct config *cfg)
{
	struct refusal why;

	if (path == NULL) {
		fprintf(stderr, "authd store-copy: %s CONFIG is missing (see --help)\n", flag);
		return -1;
	}
	if (config_load_file(cfg, path, &why) != 0) {
		fprintf(stderr, "authd store-copy: %s: %s\n", flag, why.message);
		return -1;
	}
	return 0;
}

/*
 * `authd store-copy --from CONFIG --to CONFIG`: moves a stopped store to the
 * other driver (store/copy.c). 0 when copied and verified, 1 when refused or
 * failed (nothing written), 2 for a wrong command line.
 */
static int store_copy_main(int argc, char **argv)
{
	static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
					     {"to", required_argument, NULL, 't'},
					     {NULL, 0, NULL, 0}};
	const char *from = NULL, *to = NULL;
	struct config src, dst;
	struct failure err;
	int c, rc = 2;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			from = optarg;
		else if (c == 't')
			to = optarg;
		else {
			fprintf(stderr, "usage: authd store-copy --from CONFIG --to CONFIG\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "authd store-copy: unexpected argument \"%s\" (see --help)\n",
			argv[optind]);
		return 2;
	}
	config_defaults(&src);
	config_defaults(&dst);
	if (copy_config("--from", from, &src) == 0 && copy_config("--to", to, &dst) == 0) {
		rc = store_copy(&src, &dst, stdout, &err) == 0 ? 0 : 1;
		if (rc != 0)
			fprintf(stderr, "authd store-copy: %s\n", err.message);
	}
	config_free(&src);
	config_free(&dst);
	return rc;
}

/* Defaults, then the config file, then flags; exits on --help and --version. */
static int parse_args(int argc, char **argv, struct config *cfg, struct refusal *why)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"listen", required_argument, NULL, 'l'},
					     {"data-dir", required_argument, NULL, 'd'},
					     {"log-level", required_argument, NULL, 'L'},
					     {"version", no_argument, NULL, 'V'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *config = NULL, *listen = NULL, *data_dir = NULL, *level = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'd':
			data_dir = optarg;
			break;
		case 'L':
			level = optarg;
			break;
		case 'V':
			printf("authd %s\n", AUTHD_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	/* before any refusal: the caller frees cfg whichever way this returns */
	config_defaults(cfg);
	if (optind < argc)
		return refusal_set(why, "", "unexpected argument \"%s\" (see --help)",
				   argv[optind]);
	if (config != NULL && config_load_file(cfg, config, why) != 0)
		return -1;
	if (listen != NULL && config_set_listen(cfg, listen, why) != 0)
		return -1;
	if (level != NULL && config_set_log_level(cfg, level, why) != 0)
		return -1;
	if (data_dir != NULL && config_set_string(&cfg->data_dir, data_dir) != 0)
		return refusal_set(why, "", "out of memory");
	return 0;
}

/* Opens the audit log at its configured path, or <dataDir>/audit.log. */
static struct audit *open_audit(const struct config *cfg, struct failure *err)
{
	char path[4096];

	if (cfg->log_audit != NULL)
		snprintf(path, sizeof(path), "%s", cfg->log_audit);
	else
		snprintf(path, sizeof(path), "%s/audit.log", cfg->data_dir);
	return audit_open(path, (int64_t)cfg->log_audit_max_mb << 20, cfg->log_audit_keep, err);
}

/*
 * Opens the store. A database server that does not answer yet (it starts
 * with the machine, or is being failed over) is asked again after 1, 2, 4 ...
 * and then every 30 seconds, saying so in the log, until it answers or a
 * stop signal comes; what it refuses (a password, a newer schema) stops
 * start-up at once. 0, or -1 with err.
 */
static int open_store(const struct config *cfg, sigset_t *signals, struct failure *err)
{
	for (int wait = 1;; wait = wait < 30 ? wait * 2 : 30) {
		struct timespec ts = {wait, 0};
		int rc = store_open_config(cfg, err);
		int sig;

		if (rc != STORE_UNAVAILABLE)
			return rc;
		log_msg(LOG_WARN, "store: %s; trying again in %d s", err->message, wait);
		sig = sigtimedwait(signals, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			return failure_set(err, "stopped while waiting for the store");
	}
}

/*
 * A snapshot whose rebuild failed (the store went away right after a write
 * committed) is withdrawn, and decisions deny; once the store answers again
 * it is rebuilt here, not only at the next write, which may be long coming.
 */
static void snapshot_recover(struct rbac *r)
{
	const struct snapshot *s = rbac_hold(r);

	if (s == NULL)
		rbac_refresh(r);
	rbac_release(s);
}

/* Waits for SIGTERM or SIGINT, doing the housekeeping meanwhile; SIGHUP reopens the audit log. */
static void wait_for_stop(struct server *srv, sigset_t *signals)
{
	struct timespec tick = {TICK_SECONDS, 0};

	for (unsigned ticks = 1;; ticks++) {
		int sig = sigtimedwait(signals, NULL, &tick);

		if (sig == SIGTERM || sig == SIGINT) {
			log_msg(LOG_INFO, "stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return;
		}
		/* logrotate moved the file away: the lines go on in a new one at the path */
		if (sig == SIGHUP)
			audit_reopen(srv->audit);
		store_checkpoint();
		/* decisions read this, never the store, and deny once it is too old */
		/* a replica is current when it last read the change sequence (changes.c) */
		if (store_ping() == STORE_OK) {
			atomic_store(&srv->store_seen_ms, monotonic_ms());
			if (srv->follower == NULL)
				atomic_store(&srv->store_ok_ms, monotonic_ms());
			cluster_tick(srv, ticks);
			snapshot_recover(srv->rbac);
			/* an upload on another replica; a change announcement may come sooner */
			tls_reload_served(srv->cfg, srv->store_key, srv->tls);
			throttle_tick(srv->throttle, now_seconds());
		}
		audit_flush(srv->audit);
		/* pooled directory connections unused for connectionIdleSeconds */
		ls_pool_reap();
		if (ticks % SWEEP_TICKS == 0)
			sessions_sweep(srv->sessions);
	}
}

/*
 * store.keyFile's key, and secret.key: made where it seals the LDAP reader
 * passwords, only read where store.keyFile's key does (it opens what it sealed
 * before, for ldap_settings_move), so that replicas need no copy of it.
 */
static int sealing_keys(struct server *srv, struct failure *err)
{
	struct config *cfg = srv->cfg;
	int rc;

	if (cfg->store_key_file != NULL &&
	    secret_key_file_read(cfg->store_key_file, srv->store_key, err) != 0)
		return -1;
	rc = secret_key_load(cfg->data_dir, cfg->store_key_file == NULL, srv->secret_key, err);
	srv->has_secret_key = rc == 0;
	return rc < 0 ? -1 : 0;
}

/*
 * What needs no store: the TLS material (unless the store keeps it), the
 * sealing keys, the audit log, the counters, the identity cache.
 */
static int prepare(struct server *srv, struct tls_material *tls, struct failure *err)
{
	struct config *cfg = srv->cfg;

	if (tls_make_dirs(cfg->data_dir, err) != 0 ||
	    (cfg->store_key_file == NULL && tls_load(cfg, tls, err) != 0) ||
	    sealing_keys(srv, err) != 0 || (srv->audit = open_audit(cfg, err)) == NULL ||
	    (audit_set_replica(srv->audit, srv->replica) != 0 &&
	     failure_set(err, "out of memory") != 0) ||
	    (cfg->store_key_file == NULL && servercert_set(tls->cert_pem, tls->key_pem, err) != 0))
		return -1;
	if (cfg->store_key_file == NULL)
		srv->tls = tls;
	srv->api_stats = http_stats_new(api_routes, api_nroutes);
	srv->plugin_stats = http_stats_new(plugin_routes, plugin_nroutes);
	srv->decisions = authz_stats_new();
	srv->ids = idcache_new();
	if (srv->api_stats == NULL || srv->plugin_stats == NULL || srv->decisions == NULL ||
	    srv->ids == NULL)
		return failure_set(err, "out of memory");
	return 0;
}

/*
 * With store.keyFile the replicas' shared TLS material is in the store, so
 * the store is opened before the listener, which cannot serve without it.
 */
static int prepare_shared(struct server *srv, struct tls_material *tls, sigset_t *signals,
			  struct failure *err)
{
	if (open_store(srv->cfg, signals, err) != 0 ||
	    tls_load_shared(srv->cfg, srv->store_key, tls, err) != 0 ||
	    servercert_set(tls->cert_pem, tls->key_pem, err) != 0)
		return -1;
	srv->tls = tls;
	return 0;
}

/*
 * Who this process is among replicas: replica.name, or the host's name and
 * the listen port, which tell replicas of one host apart; and an id of its
 * own, new at each start, which its recorded changes carry.
 */
static int identify(struct server *srv, struct failure *err)
{
	char host[256] = "localhost";

	if (new_uuid(srv->instance) != 0)
		return failure_set(err, "cannot make the instance id");
	if (srv->cfg->replica_name != NULL) {
		snprintf(srv->replica, sizeof(srv->replica), "%s", srv->cfg->replica_name);
		return 0;
	}
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(srv->replica, sizeof(srv->replica), "%s:%d", host, srv->cfg->listen_port);
	return 0;
}

/*
 * What comes from the store: the first admin, sessions, the snapshot, the
 * job queue; then the other replicas' changes since, followed.
 */
static int load(struct server *srv, struct failure *err)
{
	struct config *cfg = srv->cfg;
	struct session_settings session_settings;
	int64_t since;

	/* before anything is read: a change recorded meanwhile is applied once following */
	if (changes_follow_from(&since) != STORE_OK)
		return failure_set(err, "cannot read the change sequence");

	/* the listener is up already: the commonest failure, a port in use, made no admin */
	if (bootstrap_admin(cfg->data_dir, err) != 0)
		return -1;
	if (session_settings_load(cfg, &session_settings) != STORE_OK)
		return failure_set(err, "cannot read the session settings");
	ldap_settings_move(srv);
	srv->ldap = ldap_cache_new();
	srv->sessions = sessions_new(&session_settings, cfg->session_absolute_minutes * 60);
	/* one address may be many users (a NAT, a bastion): it gets more room */
	srv->throttle = throttle_new(&(struct throttle_config){
	    .max_failures = cfg->throttle_max_failures,
	    .ip_max_failures = cfg->throttle_max_failures * IP_FAILURE_FACTOR,
	    .window = cfg->throttle_window_seconds,
	    .lockout = cfg->throttle_lockout_seconds,
	    .max_keys = cfg->throttle_max_keys,
	    .shared = store_is_shared()});
	srv->labels = engine_labels_new(cfg->authz_engine_socket);
	if (srv->ldap == NULL || srv->sessions == NULL || srv->throttle == NULL ||
	    srv->labels == NULL)
		return failure_set(err, "out of memory");
	srv->rbac = rbac_new();
	if (srv->rbac == NULL || rbac_refresh(srv->rbac) != 0)
		return failure_set(err, "cannot load the authorization data");
	engine_labels_check_version(srv->labels);
	srv->jobs = jobs_start(srv, err);
	if (srv->jobs == NULL)
		return -1;
	return changes_follow(srv, since, err);
}

static int run(struct config *cfg)
{
	struct server srv = {.cfg = cfg};
	struct tls_material tls = {0};
	struct http_server *http = NULL, *plugin = NULL, *engines = NULL;
	bool shared = cfg->store_key_file != NULL;
	struct failure err;
	enum log_level level;
	sigset_t signals;
	int rc = 1;

	log_level_parse(cfg->log_level, &level);
	log_set_level(level);
	/* block the signals handled before any thread starts, so only sigtimedwait sees them */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* the database holds password hashes, the data dir private keys: owner only */
	umask(077);

	/*
	 * The listener comes up before the store, answering 503 STORE_UNAVAILABLE
	 * (/_ping included) until everything the store feeds is loaded, so that a
	 * load balancer sees an authd that waits for its database as down. With
	 * store.keyFile it waits for the store first, its TLS material being there.
	 */
	if (identify(&srv, &err) != 0 || prepare(&srv, &tls, &err) != 0 ||
	    (shared && prepare_shared(&srv, &tls, &signals, &err) != 0) ||
	    (http = http_start(&srv, api_routes, api_nroutes, srv.api_stats, &err)) == NULL ||
	    (!shared && open_store(cfg, &signals, &err) != 0) || load(&srv, &err) != 0)
		goto out;
	cluster_join(&srv);
	atomic_store(&srv.store_ok_ms, monotonic_ms());
	atomic_store(&srv.store_seen_ms, monotonic_ms());
	atomic_store(&srv.ready, true);
	if (cfg->authz_socket != NULL &&
	    (plugin = http_start_plugin(&srv, plugin_routes, plugin_nroutes, srv.plugin_stats,
					&err)) == NULL)
		goto out;
	/* both plugin listeners count under the plugin routes' patterns */
	if (cfg->authz_listen_host != NULL &&
	    (engines = http_start_engines(&srv, plugin_routes, plugin_nroutes, srv.plugin_stats,
					  &err)) == NULL)
		goto out;
	printf("authd %s listening on https://%s%s%s:%d (data in %s)\n", AUTHD_VERSION,
	       strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
	       strchr(cfg->listen_host, ':') ? "]" : "", cfg->listen_port, cfg->data_dir);
	if (plugin != NULL)
		printf("authd: engine authorization plugin on %s\n", cfg->authz_socket);
	if (engines != NULL)
		printf("authd: engine authorization plugin over TLS on %s%s%s:%d\n",
		       strchr(cfg->authz_listen_host, ':') ? "[" : "", cfg->authz_listen_host,
		       strchr(cfg->authz_listen_host, ':') ? "]" : "", cfg->authz_listen_port);
	fflush(stdout);
	wait_for_stop(&srv, &signals);
	rc = 0;
out:
	http_stop(engines, GRACE_SECONDS);
	http_stop(plugin, GRACE_SECONDS);
	http_stop(http, GRACE_SECONDS);
	/* before the jobs: the worker's end closes the store's connections (store_close) */
	changes_unfollow(&srv);
	jobs_stop(srv.jobs); /* after the listeners: nothing can queue a job now */
	ls_pool_shutdown();  /* no login or sync runs any more */
	if (rc != 0)
		fprintf(stderr, "authd: %s\n", err.message);
	sessions_free(srv.sessions);
	throttle_free(srv.throttle);
	rbac_free(srv.rbac);
	http_stats_free(srv.api_stats);
	http_stats_free(srv.plugin_stats);
	authz_stats_free(srv.decisions);
	idcache_free(srv.ids);
	engine_labels_free(srv.labels);
	audit_close(srv.audit);
	store_close();
	servercert_clear();
	tls_free(&tls);
	ldap_cache_free(srv.ldap);
	OPENSSL_cleanse(srv.secret_key, sizeof(srv.secret_key));
	OPENSSL_cleanse(srv.store_key, sizeof(srv.store_key));
	return rc;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct refusal why;
	int rc;

	/*
	 * A fixed threshold keeps argon2's 19 MiB working memory on mmap, so it
	 * goes back to the system after each hash instead of raising the heap
	 * (glibc's adaptive threshold would otherwise keep it for good).
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	if (argc > 1 && strcmp(argv[1], "engine-tls") == 0)
		return engine_tls_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "routes") == 0)
		return routes_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "store-copy") == 0)
		return store_copy_main(argc - 1, argv + 1);

	if (parse_args(argc, argv, &cfg, &why) != 0) {
		fprintf(stderr, "authd: %s\n", why.message);
		config_free(&cfg);
		return 2;
	}
	rc = run(&cfg);
	config_free(&cfg);
	return rc;
}
