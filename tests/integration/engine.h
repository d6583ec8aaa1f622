/*
 * Integration-test helpers for real programs: running a command with an
 * explicit environment and a time limit, and Docker engines (Debian's dockerd)
 * listening with TLS on 127.0.0.1, stopped by pid. Knows nothing about Check.
 */
#ifndef AUTHD_IT_ENGINE_H
#define AUTHD_IT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

/*
 * The PATH every command runs with. Debian's directories come first so that
 * the docker.io package's CLI is the one under test, not another docker a
 * developer may have put in /usr/local/bin.
 */
#define CMD_PATH "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin"

/* cmd_run's answer when the command outlived its time limit (it is killed). */
#define CMD_TIMEOUT (-2)

/* The full path of `name` found in CMD_PATH, into buf; false when it is not there. */
bool cmd_find(const char *name, char *buf, size_t len);
/*
 * Starts argv (argv[0] a path, or a name looked up in CMD_PATH) in cwd (NULL:
 * ours) with exactly envp, stdout and stderr to out_path, stdin from
 * /dev/null, in a process group of its own, dying with the caller. The pid,
 * or -1.
 */
pid_t cmd_spawn(const char *const argv[], const char *const envp[], const char *cwd,
		const char *out_path);
/*
 * Runs it to its end: the exit code, 128 + the signal that killed it,
 * CMD_TIMEOUT when it ran longer than timeout_s (its group is killed), or -1
 * when it could not be started.
 */
int cmd_run(const char *const argv[], const char *const envp[], const char *cwd,
	    const char *out_path, int timeout_s);
/* Removes a directory tree without following symlinks or crossing mounts; 0 on success. */
int cmd_remove_tree(const char *path);

/* One dockerd and its files; pid is 0 while it is not running. */
struct engine {
	bool in_use;
	pid_t owner; /* the process that made it: only that one stops it */
	pid_t pid;
	int port;
	char dir[IT_PATH_LEN]; /* data root, daemon.json, log, the CLI config of the readiness probe
				*/
	char run[64];	       /* exec root and unix socket: kept short for socket path limits */
	char sock[96];	       /* <run>/docker.sock */
	char host[64];	       /* tcp://127.0.0.1:PORT, what DOCKER_HOST names */
	char log[IT_PATH_LEN]; /* dockerd's stdout and stderr */
	char plugin[64];       /* its --authorization-plugin, set before engine_start; "" none */
	/* set before engine_start: dockerd's /etc/docker/plugins (spec files); "" the host's */
	char spec_dir[IT_PATH_LEN];
};

/*
 * Makes the engine's dirs under parent. The struct comes from a static pool,
 * so that an exit handler can stop whatever a failing fixture left running;
 * NULL when no slot or dir is available.
 */
struct engine *engine_new(const char *parent);
/*
 * Starts dockerd with --tlsverify, trusting tls_dir/ca.pem and serving
 * tls_dir/server-cert.pem and server-key.pem (as `authd engine-tls` writes
 * them), on a free 127.0.0.1 port; waits (bounded) until its unix socket
 * answers `docker version` (asking e->plugin first, when set). 0 on success; on failure the log's
 * tail goes to stderr and nothing is left running.
 */
int engine_start(struct engine *e, const char *tls_dir);
/* dockerd as engine_start starts it, on a free port, without waiting for it: 0, or -1. */
int engine_spawn(struct engine *e, const char *tls_dir);
/* SIGTERM, then waits (bounded; SIGKILL after). Returns the wait status, -1 if none. */
int engine_stop(struct engine *e);
/* Stops it if needed, removes its dirs (kept when AUTHD_TEST_KEEP is set), frees the slot. */
void engine_free(struct engine *e);

#endif
