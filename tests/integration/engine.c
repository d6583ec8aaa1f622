/*
 * Integration-test helpers for real programs: a command runner (explicit
 * environment, own process group, time limit) and Docker engines started
 * with TLS on 127.0.0.1, waited for, and stopped by pid even when tests fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define POOL_SIZE 4
#define START_ATTEMPTS 3
#define READY_SECONDS 30
#define STOP_SECONDS 20
#define PROBE_SECONDS 10

static struct engine pool[POOL_SIZE];
static bool exit_hook_installed;

/* ---- commands ---- */

bool cmd_find(const char *name, char *buf, size_t len)
{
	const char *p = CMD_PATH;

	while (*p != '\0') {
		size_t n = strcspn(p, ":");

		snprintf(buf, len, "%.*s/%s", (int)n, p, name);
		if (access(buf, X_OK) == 0)
			return true;
		p += n;
		if (*p == ':')
			p++;
	}
	return false;
}

pid_t cmd_spawn(const char *const argv[], const char *const envp[], const char *cwd,
		const char *out_path)
{
	char path[IT_PATH_LEN];
	pid_t parent = getpid(), pid;
	int fd;

	/* everything the child needs is prepared before the fork */
	if (strchr(argv[0], '/') != NULL)
		snprintf(path, sizeof(path), "%s", argv[0]);
	else if (!cmd_find(argv[0], path, sizeof(path)))
		return -1;
	fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	fflush(NULL); /* or the child's copy of our stdio buffers could be written twice */
	pid = fork();
	if (pid == 0) {
		/* die with the test process, even when it is killed by a timeout */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		/* a group of its own, so that a timeout also reaches what a shell started */
		setpgid(0, 0);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(STDIN_FILENO);
		open("/dev/null", O_RDONLY);
		close_range(3, ~0U, 0);
		if (cwd != NULL && chdir(cwd) != 0)
			_exit(126);
		execve(path, (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	close(fd);
	return pid;
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

int cmd_run(const char *const argv[], const char *const envp[], const char *cwd,
	    const char *out_path, int timeout_s)
{
	double deadline = it_now() + timeout_s;
	pid_t pid = cmd_spawn(argv, envp, cwd, out_path);
	int status;
	long pause_ms = 2;

	if (pid <= 0)
		return -1;
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (it_now() > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return CMD_TIMEOUT;
		}
		/* short commands are the rule: poll fast first, then back off */
		it_sleep_ms(pause_ms);
		if (pause_ms < 50)
			pause_ms *= 2;
	}
	return exit_code(status);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path); /* what cannot be removed shows in cmd_remove_tree's answer */
	return 0;
}

int cmd_remove_tree(const char *path)
{
	/* FTW_MOUNT: should an engine leave a mount behind, never delete through it */
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	return access(path, F_OK) == 0 ? -1 : 0;
}

/* ---- engines ---- */

static void stop_leftovers(void)
{
	for (int i = 0; i < POOL_SIZE; i++)
		if (pool[i].in_use && pool[i].owner == getpid())
			engine_free(&pool[i]);
}

struct engine *engine_new(const char *parent)
{
	struct engine *e = NULL;

	for (int i = 0; i < POOL_SIZE && e == NULL; i++)
		if (!pool[i].in_use)
			e = &pool[i];
	if (e == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "%s/engine-XXXXXX", parent);
	if (mkdtemp(e->dir) == NULL)
		return NULL;
	/* not under TMPDIR: containerd's sockets live in the exec root, and unix paths are short */
	snprintf(e->run, sizeof(e->run), "/tmp/ite-XXXXXX");
	if (mkdtemp(e->run) == NULL) {
		cmd_remove_tree(e->dir);
		return NULL;
	}
	snprintf(e->sock, sizeof(e->sock), "%s/docker.sock", e->run);
	snprintf(e->log, sizeof(e->log), "%s/dockerd.log", e->dir);
	e->in_use = true;
	e->owner = getpid();
	if (!exit_hook_installed) {
		/* a failing fixture leaves the test process through exit(): stop engines then */
		atexit(stop_leftovers);
		exit_hook_installed = true;
	}
	return e;
}

/* The environment of dockerd and of the probe's CLI: nothing inherited from the caller. */
static void engine_env(const struct engine *e, char home[][IT_PATH_LEN + 16], const char *env[6])
{
	snprintf(home[0], sizeof(home[0]), "HOME=%s", e->dir);
	snprintf(home[1], sizeof(home[1]), "DOCKER_CONFIG=%s/cli", e->dir);
	env[0] = "PATH=" CMD_PATH;
	env[1] = home[0];
	env[2] = home[1];
	env[3] = "LC_ALL=C";
	env[4] = NULL;
}

/*
 * dockerd reads plugin spec files from /etc/docker/plugins only: it runs in
 * a mount namespace of its own where e->spec_dir is that dir, so the host's
 * is never written (only made, empty, when absent: a mount point). unshare
 * and sh exec in turn, so the pid is dockerd's; its mounts end with it.
 */
static pid_t spawn_with_specs(struct engine *e, const char *const *argv, const char *const *env)
{
	const char *wrapped[48] = {"unshare",
				   "--mount",
				   "--propagation",
				   "private",
				   "--",
				   "sh",
				   "-c",
				   "mkdir -p /etc/docker/plugins && "
				   "mount --bind \"$0\" /etc/docker/plugins && exec \"$@\"",
				   e->spec_dir};
	int n = 9;

	for (; *argv != NULL && n < 47; argv++)
		wrapped[n++] = *argv;
	wrapped[n] = NULL;
	return cmd_spawn(wrapped, env, e->dir, e->log);
}

static pid_t spawn_dockerd(struct engine *e, const char *tls_dir)
{
	char root[IT_PATH_LEN + 8], pidfile[IT_PATH_LEN + 8], config[IT_PATH_LEN + 16];
	char unix_host[128], ca[IT_PATH_LEN + 8], cert[IT_PATH_LEN + 24], key[IT_PATH_LEN + 24];
	char vars[2][IT_PATH_LEN + 16], plugin[96];
	const char *env[6];

	snprintf(root, sizeof(root), "%s/root", e->dir);
	snprintf(pidfile, sizeof(pidfile), "%s/pid", e->dir);
	snprintf(config, sizeof(config), "%s/daemon.json", e->dir);
	snprintf(unix_host, sizeof(unix_host), "unix://%s", e->sock);
	snprintf(ca, sizeof(ca), "%s/ca.pem", tls_dir);
	snprintf(cert, sizeof(cert), "%s/server-cert.pem", tls_dir);
	snprintf(key, sizeof(key), "%s/server-key.pem", tls_dir);
	snprintf(plugin, sizeof(plugin), "--authorization-plugin=%s", e->plugin);
	snprintf(e->host, sizeof(e->host), "tcp://127.0.0.1:%d", e->port);
	/* an empty config of its own: /etc/docker/daemon.json must never change the test */
	if (it_write_file(config, "{}\n") != 0)
		return -1;
	engine_env(e, vars, env);
	const char *argv[] = {"dockerd",
			      "--iptables=false",
			      "--bridge=none",
			      "--storage-driver=vfs",
			      "--data-root",
			      root,
			      "--exec-root",
			      e->run,
			      "--pidfile",
			      pidfile,
			      "--config-file",
			      config,
			      "-H",
			      unix_host,
			      "-H",
			      e->host,
			      "--tlsverify",
			      "--tlscacert",
			      ca,
			      "--tlscert",
			      cert,
			      "--tlskey",
			      key,
			      e->plugin[0] != '\0' ? plugin : NULL,
			      NULL};
	return e->spec_dir[0] != '\0' ? spawn_with_specs(e, argv, env)
				      : cmd_spawn(argv, env, e->dir, e->log);
}

/* True once `docker version` answers on the engine's unix socket. */
static bool engine_answers(const struct engine *e)
{
	char vars[2][IT_PATH_LEN + 16], host[128], out[IT_PATH_LEN + 16];
	const char *env[6];

	snprintf(host, sizeof(host), "unix://%s", e->sock);
	snprintf(out, sizeof(out), "%s/probe.log", e->dir);
	engine_env(e, vars, env);
	const char *argv[] = {"docker", "-H", host, "version", "--format", "{{.Server.Version}}",
			      NULL};
	return cmd_run(argv, env, e->dir, out, PROBE_SECONDS) == 0;
}

/* Reaps dockerd if it has exited; true when it is gone. */
static bool reaped(struct engine *e, int *status, int options)
{
	if (e->pid <= 0)
		return true;
	if (waitpid(e->pid, status, options) != e->pid)
		return false;
	e->pid = 0;
	return true;
}

/* 0 when it answers; -2 when it exited; -1 on timeout. */
static int wait_ready(struct engine *e)
{
	double deadline = it_now() + READY_SECONDS;
	int status;

	while (it_now() < deadline) {
		if (reaped(e, &status, WNOHANG))
			return -2;
		if (engine_answers(e))
			return 0;
		it_sleep_ms(100);
	}
	return -1;
}

/* A port picked as free can be taken by someone else before dockerd binds it. */
static bool lost_port_race(const struct engine *e)
{
	char *text = it_read_file(e->log, NULL);
	bool lost = text != NULL && strstr(text, "address already in use") != NULL;

	free(text);
	return lost;
}

/*
 * dockerd bind-mounts its data root onto itself and undoes that only on a
 * clean exit; after a kill the mount would outlive the test and its dir.
 */
static void release_root(const struct engine *e)
{
	char root[IT_PATH_LEN + 8];

	snprintf(root, sizeof(root), "%s/root", e->dir);
	umount2(root, MNT_DETACH); /* EINVAL when it is not mounted: the usual case */
}

int engine_spawn(struct engine *e, const char *tls_dir)
{
	e->port = it_free_port();
	if (e->port <= 0)
		return -1;
	e->pid = spawn_dockerd(e, tls_dir);
	return e->pid > 0 ? 0 : -1;
}

int engine_start(struct engine *e, const char *tls_dir)
{
	for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
		int rc;

		if (engine_spawn(e, tls_dir) != 0)
			return -1;
		rc = wait_ready(e);
		if (rc == 0)
			return 0;
		if (rc == -1)
			engine_stop(e);
		else
			release_root(e); /* it exited on its own */
		if (rc == -2 && lost_port_race(e))
			continue;
		break;
	}
	it_print_tail(e->log, "dockerd did not start");
	return -1;
}

int engine_stop(struct engine *e)
{
	double deadline = it_now() + STOP_SECONDS;
	int status = -1;

	if (e->pid <= 0 || e->owner != getpid())
		return -1;
	/* SIGTERM lets dockerd stop its containerd and remove its sockets */
	kill(e->pid, SIGTERM);
	while (!reaped(e, &status, WNOHANG)) {
		if (it_now() > deadline) {
			fprintf(stderr, "dockerd %d ignored SIGTERM for %d s; killing it\n",
				(int)e->pid, STOP_SECONDS);
			kill(-e->pid, SIGKILL);
			kill(e->pid, SIGKILL);
			reaped(e, &status, 0);
			break;
		}
		it_sleep_ms(20);
	}
	release_root(e);
	return status;
}

void engine_free(struct engine *e)
{
	if (e == NULL || !e->in_use || e->owner != getpid())
		return;
	engine_stop(e);
	if (getenv("AUTHD_TEST_KEEP") != NULL) {
		fprintf(stderr, "kept engine dirs %s and %s\n", e->dir, e->run);
	} else {
		cmd_remove_tree(e->dir);
		cmd_remove_tree(e->run);
	}
	e->in_use = false;
}
