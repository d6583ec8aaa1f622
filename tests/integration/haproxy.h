/*
 * A real haproxy (Debian's) in front of authd replicas, configured from the
 * project's own etc/haproxy.cfg with the test's ports and CA file put in,
 * run in the foreground (-db) and stopped by pid. Its admin socket takes
 * servers out of rotation and puts them back. Knows nothing about Check.
 */
#ifndef AUTHD_IT_HAPROXY_H
#define AUTHD_IT_HAPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

#define HAPROXY_SERVERS 3 /* etc/haproxy.cfg's authd1, authd2, authd3 */

struct haproxy {
	pid_t pid; /* 0 while it is not running */
	int api_port;
	int plugin_port;
	char dir[IT_PATH_LEN];
	char cfg[IT_PATH_LEN + 16];  /* the config written from etc/haproxy.cfg */
	char log[IT_PATH_LEN + 16];  /* haproxy's stdout and stderr */
	char sock[IT_PATH_LEN + 16]; /* its admin socket */
};

/* Whether /usr/sbin/haproxy (or haproxy in the command PATH) is installed. */
bool haproxy_installed(void);
/*
 * Writes dir/haproxy.cfg from etc/haproxy.cfg: its listen ports on
 * 127.0.0.1, server i at api[i] (and plugin[i] for the plugin listener, its
 * check on api[i]), ca_file as the health checks' CA, no syslog, plus an
 * admin socket; starts haproxy on it and waits (bounded) until every server
 * is up. 0, or -1 with the reason on stderr and nothing left running.
 */
int haproxy_start(struct haproxy *h, const char *dir, const int api[HAPROXY_SERVERS],
		  const int plugin[HAPROXY_SERVERS], const char *ca_file);
/* SIGTERM, then waits (bounded; SIGKILL after). The wait status, -1 if none. */
int haproxy_stop(struct haproxy *h);
/* One command on the admin socket; its answer into out (NUL-terminated). 0, or -1. */
int haproxy_command(const struct haproxy *h, const char *cmd, char *out, size_t len);
/*
 * Only the servers whose bit is set in `mask` (bit 0: authd1) of backend
 * ("authd_api", "authd_plugin"; NULL: both) take connections: the others are put in maintenance and
 * the connections they hold are cut, so that the next request, an engine's included, goes to one in
 * the mask.
 */
int haproxy_route(const struct haproxy *h, const char *backend, unsigned mask);
/*
 * Column `name` of `show stat` for backend's server i (0-based): "status"
 * ("UP", "DOWN", "MAINT"...), "stot" (connections it has taken)... into buf;
 * 0, or -1.
 */
int haproxy_server_stat(const struct haproxy *h, const char *backend, int i, const char *name,
			char *buf, size_t len);

#endif
