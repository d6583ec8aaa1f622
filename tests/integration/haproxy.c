/*
 * haproxy for the cluster tests: the shipped etc/haproxy.cfg with the test's
 * addresses put in, so that what runs is what an operator installs; started
 * in the foreground and stopped by pid, driven through its admin socket.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "haproxy.h"

#define READY_SECONDS 20
#define STOP_SECONDS 10
#define ANSWER_MAX 65536

static const char *const backends[] = {"authd_api", "authd_plugin"};

bool haproxy_installed(void)
{
	char path[IT_PATH_LEN];

	return cmd_find("haproxy", path, sizeof(path));
}

/* Replaces every `from` in *text by `to`; how many there were (-1: out of memory). */
static int replace_all(char **text, const char *from, const char *to)
{
	size_t nf = strlen(from), nt = strlen(to), len = strlen(*text);
	int n = 0;

	for (char *p = strstr(*text, from); p != NULL; p = strstr(p + nf, from))
		n++;
	if (n == 0)
		return 0;
	char *out = malloc(len + (size_t)n * (nt > nf ? nt - nf : 0) + 1), *o = out;

	if (out == NULL)
		return -1;
	for (const char *p = *text, *hit; (hit = strstr(p, from)) != NULL || *p != '\0';) {
		if (hit == NULL) {
			o = stpcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(hit - p));
		o += hit - p;
		o = stpcpy(o, to);
		p = hit + nf;
	}
	*o = '\0';
	free(*text);
	*text = out;
	return n;
}

/* Drops the lines that hold `part` (the syslog target: the test has no /dev/log). */
static void drop_lines(char *text, const char *part)
{
	char *hit;

	while ((hit = strstr(text, part)) != NULL) {
		char *start = hit, *end = strchr(hit, '\n');

		while (start > text && start[-1] != '\n')
			start--;
		end = end ? end + 1 : hit + strlen(hit);
		memmove(start, end, strlen(end) + 1);
	}
}

/*
 * The shipped config with the test's addresses. Each substitution must hit
 * exactly once, so that a change there that this does not follow fails
 * loudly instead of testing something else.
 */
static char *test_config(const struct haproxy *h, const int api[HAPROXY_SERVERS],
			 const int plugin[HAPROXY_SERVERS], const char *ca_file)
{
	char from[HAPROXY_SERVERS * 2 + 4][64], to[HAPROXY_SERVERS * 2 + 4][IT_PATH_LEN + 64];
	int n = 0;
	char *text = it_read_file(HAPROXY_CFG, NULL);

	if (text == NULL) {
		fprintf(stderr, "cannot read %s\n", HAPROXY_CFG);
		return NULL;
	}
	for (int i = 0; i < HAPROXY_SERVERS; i++) {
		/* the plugin servers first: their lines also name the API port */
		snprintf(from[n], sizeof(from[n]), "10.0.0.1%d:8444 check port 8443", i + 1);
		snprintf(to[n], sizeof(to[n]), "127.0.0.1:%d check port %d", plugin[i], api[i]);
		n++;
		snprintf(from[n], sizeof(from[n]), "10.0.0.1%d:8443", i + 1);
		snprintf(to[n], sizeof(to[n]), "127.0.0.1:%d", api[i]);
		n++;
	}
	snprintf(from[n], sizeof(from[n]), "bind :8443");
	snprintf(to[n], sizeof(to[n]), "bind 127.0.0.1:%d", h->api_port);
	n++;
	snprintf(from[n], sizeof(from[n]), "bind :8444");
	snprintf(to[n], sizeof(to[n]), "bind 127.0.0.1:%d", h->plugin_port);
	n++;
	snprintf(from[n], sizeof(from[n]), "/etc/haproxy/authd-ca.pem");
	snprintf(to[n], sizeof(to[n]), "%s", ca_file);
	n++;
	snprintf(from[n], sizeof(from[n]), "\nglobal\n");
	snprintf(to[n], sizeof(to[n]), "\nglobal\n\tstats socket %s mode 600 level admin\n",
		 h->sock);
	n++;
	for (int i = 0; i < n; i++) {
		int got = replace_all(&text, from[i], to[i]);

		if (got != 1) {
			fprintf(stderr, "%s: \"%s\" found %d times, expected once\n", HAPROXY_CFG,
				from[i], got);
			free(text);
			return NULL;
		}
	}
	drop_lines(text, "log /dev/log");
	return text;
}

int haproxy_command(const struct haproxy *h, const char *cmd, char *out, size_t len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t got = 0;
	ssize_t n;

	if (fd < 0 || len == 0)
		return -1;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", h->sock);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(fd, "\n", 1) != 1) {
		close(fd);
		return -1;
	}
	/* one command, not in interactive mode: haproxy answers and closes */
	while (got + 1 < len && (n = read(fd, out + got, len - got - 1)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	return 0;
}

/* The index of column `name` in `show stat`'s header line ("# pxname,svname,..."), or -1. */
static int column(const char *header, const char *name)
{
	size_t n = strlen(name);
	int i = 0;

	for (const char *p = header + 2; *p != '\0' && *p != '\n'; i++) {
		size_t w = strcspn(p, ",\n");

		if (w == n && strncmp(p, name, n) == 0)
			return i;
		p += w;
		if (*p == ',')
			p++;
	}
	return -1;
}

/* Field `col` of the CSV line at `line` into buf. */
static void field(const char *line, int col, char *buf, size_t len)
{
	for (int i = 0; i < col && line != NULL; i++) {
		line = strpbrk(line, ",\n");
		line = line && *line == ',' ? line + 1 : NULL;
	}
	snprintf(buf, len, "%.*s", line ? (int)strcspn(line, ",\n") : 0, line ? line : "");
}

int haproxy_server_stat(const struct haproxy *h, const char *backend, int i, const char *name,
			char *buf, size_t len)
{
	char *out = malloc(ANSWER_MAX), key[128];
	const char *line;
	int col, rc = -1;

	if (out == NULL)
		return -1;
	snprintf(key, sizeof(key), "\n%s,authd%d,", backend, i + 1);
	if (haproxy_command(h, "show stat", out, ANSWER_MAX) == 0 && strncmp(out, "# ", 2) == 0 &&
	    (col = column(out, name)) >= 0 && (line = strstr(out, key)) != NULL) {
		field(line + 1, col, buf, len);
		rc = 0;
	}
	free(out);
	return rc;
}

/* Every server of both backends up, after a health check that passed. */
static bool all_checked_up(const struct haproxy *h)
{
	char status[32], check[32];

	for (size_t b = 0; b < sizeof(backends) / sizeof(backends[0]); b++)
		for (int i = 0; i < HAPROXY_SERVERS; i++)
			if (haproxy_server_stat(h, backends[b], i, "status", status,
						sizeof(status)) != 0 ||
			    haproxy_server_stat(h, backends[b], i, "check_status", check,
						sizeof(check)) != 0 ||
			    strcmp(status, "UP") != 0 || strcmp(check, "L7OK") != 0)
				return false;
	return true;
}

int haproxy_start(struct haproxy *h, const char *dir, const int api[HAPROXY_SERVERS],
		  const int plugin[HAPROXY_SERVERS], const char *ca_file)
{
	static const char *const env[] = {"PATH=" CMD_PATH, "LC_ALL=C", NULL};
	double deadline = it_now() + READY_SECONDS;
	char *text;
	int status;

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "%s", dir);
	snprintf(h->cfg, sizeof(h->cfg), "%s/haproxy.cfg", dir);
	snprintf(h->log, sizeof(h->log), "%s/haproxy.log", dir);
	snprintf(h->sock, sizeof(h->sock), "%s/haproxy.sock", dir);
	h->api_port = it_free_port();
	h->plugin_port = it_free_port();
	text = test_config(h, api, plugin, ca_file);
	if (h->api_port <= 0 || h->plugin_port <= 0 || text == NULL ||
	    it_write_file(h->cfg, text) != 0) {
		free(text);
		return -1;
	}
	free(text);
	const char *argv[] = {"haproxy", "-db", "-f", h->cfg, NULL};

	h->pid = cmd_spawn(argv, env, dir, h->log);
	if (h->pid <= 0)
		return -1;
	while (!all_checked_up(h)) {
		bool exited = waitpid(h->pid, &status, WNOHANG) == h->pid;

		if (exited || it_now() > deadline) {
			if (exited)
				h->pid = 0; /* reaped: its pid may be another process's now */
			haproxy_stop(h);
			it_print_tail(h->log, "haproxy did not bring its servers up");
			return -1;
		}
		it_sleep_ms(100);
	}
	return 0;
}

int haproxy_stop(struct haproxy *h)
{
	double deadline = it_now() + STOP_SECONDS;
	int status = -1;

	if (h->pid <= 0)
		return -1;
	kill(h->pid, SIGTERM);
	while (waitpid(h->pid, &status, WNOHANG) != h->pid) {
		if (it_now() > deadline) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
			break;
		}
		it_sleep_ms(20);
	}
	h->pid = 0;
	return status;
}

int haproxy_route(const struct haproxy *h, const char *backend, unsigned mask)
{
	char cmd[160], out[512];

	for (size_t b = 0; b < sizeof(backends) / sizeof(backends[0]); b++)
		for (int i = 0; i < HAPROXY_SERVERS; i++) {
			if (backend != NULL && strcmp(backend, backends[b]) != 0)
				break;
			bool on = (mask >> i) & 1U;

			snprintf(cmd, sizeof(cmd), "set server %s/authd%d state %s", backends[b],
				 i + 1, on ? "ready" : "maint");
			if (haproxy_command(h, cmd, out, sizeof(out)) != 0 || out[0] != '\n')
				return -1;
			if (on)
				continue;
			snprintf(cmd, sizeof(cmd), "shutdown sessions server %s/authd%d",
				 backends[b], i + 1);
			if (haproxy_command(h, cmd, out, sizeof(out)) != 0)
				return -1;
		}
	return 0;
}
