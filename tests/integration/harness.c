/*
 * Integration-test harness: authd processes (data dir, port, start, stop),
 * HTTPS requests over one reused libcurl handle, and small JSON helpers.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pgcluster.h"

#ifndef AUTHD_BIN
#error "AUTHD_BIN must name the authd binary (set by tests/integration/CMakeLists.txt)"
#endif

#define POOL_SIZE 8
#define READY_SECONDS 10
#define STOP_SECONDS 15 /* authd's own grace for in-flight requests is 10 s */
#define START_ATTEMPTS 3
#define MAX_ENV 512

extern char **environ;

static struct authd pool[POOL_SIZE];
static struct authd *make_authd(const char *parent, const char *config_json);
static bool exit_hook_installed;
/* Every data dir lives under this one, so that a single removal cleans up after a crash. */
static char workdir[IT_PATH_LEN];
static pid_t workdir_owner;

void it_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

double it_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- files ---- */

char *it_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *grown = realloc(buf, cap = (cap ? cap * 2 : 8192));

			if (grown == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = grown;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);

		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

int it_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void it_remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- processes ---- */

/* Stops what this process started and still runs; also removes their dirs. */
static void stop_leftovers(void)
{
	for (int i = 0; i < POOL_SIZE; i++)
		if (pool[i].in_use && pool[i].owner == getpid())
			authd_free(&pool[i]);
}

int it_workdir_init(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(workdir, sizeof(workdir), "%s/authd-it-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(workdir) == NULL) {
		workdir[0] = '\0';
		return -1;
	}
	workdir_owner = getpid();
	return it_pg_wanted() ? it_pg_start() : 0;
}

const char *it_workdir_remove(void)
{
	if (workdir[0] == '\0' || workdir_owner != getpid())
		return NULL;
	it_pg_stop();
	if (getenv("AUTHD_TEST_KEEP") != NULL)
		return workdir;
	nftw(workdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return NULL;
}

struct authd *authd_new(const char *config_json)
{
	return authd_new_in(NULL, config_json);
}

/*
 * On PostgreSQL, the config with a `store` section naming a new database of
 * the tests' cluster, so that every authd starts on an empty store as it
 * would on a new data dir; a config that names a store keeps it. malloc'd.
 */
static char *with_store(const char *config_json, char dsn[IT_PATH_LEN])
{
	json_t *root = config_json ? json_loads(config_json, 0, NULL) : json_object();
	char *out = NULL;

	if (root == NULL) /* a test of a broken config: it keeps its brokenness */
		return strdup(config_json);
	if (json_object_get(root, "store") == NULL && it_pg_database(dsn, IT_PATH_LEN) == 0)
		json_object_set_new(root, "store",
				    json_pack("{s:s, s:s}", "driver", "postgres", "dsn", dsn));
	if (json_object_get(root, "store") != NULL)
		out = json_dumps(root, JSON_INDENT(1));
	json_decref(root);
	return out;
}

struct authd *authd_new_in(const char *parent, const char *config_json)
{
	char *pg_config = NULL, dsn[IT_PATH_LEN] = "";
	struct authd *s;

	if (!it_pg_wanted())
		return make_authd(parent, config_json);
	pg_config = with_store(config_json, dsn);
	if (pg_config == NULL)
		return NULL;
	s = make_authd(parent, pg_config);
	free(pg_config);
	if (s != NULL)
		memcpy(s->dsn, dsn, sizeof(s->dsn));
	return s;
}

static struct authd *make_authd(const char *parent, const char *config_json)
{
	const char *tmp = getenv("TMPDIR");
	struct authd *s = NULL;

	for (int i = 0; i < POOL_SIZE && s == NULL; i++)
		if (!pool[i].in_use)
			s = &pool[i];
	if (s == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	if (parent != NULL)
		snprintf(s->dir, sizeof(s->dir), "%s/authd-XXXXXX", parent);
	else if (workdir[0] != '\0')
		snprintf(s->dir, sizeof(s->dir), "%s/authd-XXXXXX", workdir);
	else
		snprintf(s->dir, sizeof(s->dir), "%s/authd-it-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(s->dir) == NULL)
		return NULL;
	/* the config file sits in the data dir, so that it goes with it */
	if (config_json != NULL) {
		snprintf(s->config, sizeof(s->config), "%s/test-config.json", s->dir);
		if (it_write_file(s->config, config_json) != 0) {
			nftw(s->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
			return NULL;
		}
	}
	snprintf(s->cainfo, sizeof(s->cainfo), "%s/ca/cluster-ca.pem", s->dir);
	s->in_use = true;
	s->owner = getpid();
	s->last_status = -1;
	if (!exit_hook_installed) {
		/*
		 * A process that exits without freeing its servers stops them
		 * here. A failing Check test _exits instead: its servers die
		 * with it (PR_SET_PDEATHSIG) and main removes their dirs.
		 */
		atexit(stop_leftovers);
		exit_hook_installed = true;
	}
	return s;
}

int it_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Whether one of the extra lines (see struct authd's env) sets the name that line e sets. */
static bool overridden(const char *e, const char (*extra)[IT_PATH_LEN])
{
	size_t n = strcspn(e, "=");

	for (int i = 0; extra != NULL && i < IT_ENV_MAX && extra[i][0] != '\0'; i++)
		if (strncmp(extra[i], e, n + 1) == 0)
			return true;
	return false;
}

/*
 * This process's environment, with AUTHD_ADMIN_PASSWORD replaced (or
 * removed) and the extra lines (NULL: none) added.
 */
static void build_env(char **envp, char *admin_var, size_t admin_len, const char *admin_password,
		      const char (*extra)[IT_PATH_LEN])
{
	int n = 0;

	for (char **e = environ; *e != NULL && n < MAX_ENV - 2 - IT_ENV_MAX; e++)
		if (strncmp(*e, "AUTHD_ADMIN_PASSWORD=", 21) != 0 && !overridden(*e, extra))
			envp[n++] = *e;
	for (int i = 0; extra != NULL && i < IT_ENV_MAX && extra[i][0] != '\0'; i++)
		envp[n++] = (char *)extra[i];
	if (admin_password != NULL) {
		snprintf(admin_var, admin_len, "AUTHD_ADMIN_PASSWORD=%s", admin_password);
		envp[n++] = admin_var;
	}
	envp[n] = NULL;
}

/*
 * Forks and execs authd with argv, its output to log_path; the pid, or -1.
 * Everything the child needs is prepared before the fork.
 */
static pid_t launch(char *const argv[], const char *admin_password,
		    const char (*extra)[IT_PATH_LEN], const char *log_path)
{
	char admin_var[1200];
	char *envp[MAX_ENV];
	pid_t parent = getpid(), pid;
	int fd;

	build_env(envp, admin_var, sizeof(admin_var), admin_password, extra);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	fflush(NULL); /* or the child's copy of our stdio buffers could be written twice */
	pid = fork();
	if (pid == 0) {
		/* die with the test process, even when it is killed by a timeout */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(STDIN_FILENO);
		open("/dev/null", O_RDONLY);
		close_range(3, ~0U, 0); /* no inherited sockets or pipes in the server */
		execve(AUTHD_BIN, argv, envp);
		_exit(127);
	}
	close(fd);
	return pid;
}

static int spawn(struct authd *s, const char *admin_password)
{
	char listen[64];
	char *argv[10];
	int argc = 0;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
	snprintf(s->base, sizeof(s->base), "https://127.0.0.1:%d", s->port);
	snprintf(s->log, sizeof(s->log), "%s/authd-%d.log", s->dir, ++s->starts);
	argv[argc++] = (char *)AUTHD_BIN;
	argv[argc++] = (char *)"--listen";
	argv[argc++] = listen;
	argv[argc++] = (char *)"--data-dir";
	argv[argc++] = s->dir;
	if (s->config[0] != '\0') {
		argv[argc++] = (char *)"--config";
		argv[argc++] = s->config;
	}
	argv[argc] = NULL;
	s->pid = launch(argv, admin_password, s->env, s->log);
	return s->pid > 0 ? 0 : -1;
}

int authd_run_once(const char *const *args, const char *admin_password, const char *log_path)
{
	char *argv[32];
	int argc = 0, status = -1;
	double deadline = it_now() + READY_SECONDS;
	pid_t pid;

	argv[argc++] = (char *)AUTHD_BIN;
	for (; *args != NULL && argc < 31; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	pid = launch(argv, admin_password, NULL, log_path);
	if (pid <= 0)
		return -1;
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (it_now() > deadline) {
			/* it started serving instead of refusing: stop it and say so */
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		it_sleep_ms(20);
	}
	return status;
}

/* Reaps the child if it has exited; true when it is gone. */
static bool reaped(struct authd *s, int options)
{
	int status;

	if (s->pid <= 0)
		return true;
	if (waitpid(s->pid, &status, options) != s->pid)
		return false;
	s->last_status = status;
	s->pid = 0;
	return true;
}

static bool ping_ok(const struct authd *s)
{
	struct reply r;
	bool ok;

	if (access(s->cainfo, R_OK) != 0)
		return false;
	ok = http_call(s, "GET", "/_ping", NULL, NULL, NULL, &r) == 0 && r.status == 200;
	reply_free(&r);
	return ok;
}

/* 0 when /_ping answers; -2 when the process exited; -1 on timeout. */
static int wait_ready(struct authd *s)
{
	double deadline = it_now() + READY_SECONDS;

	while (it_now() < deadline) {
		if (reaped(s, WNOHANG))
			return -2;
		if (ping_ok(s))
			return 0;
		it_sleep_ms(50);
	}
	return -1;
}

void it_print_tail(const char *path, const char *what)
{
	size_t len = 0;
	char *text = it_read_file(path, &len);

	fprintf(stderr, "%s (%s):\n%s\n", what, path,
		text ? text + (len > 4000 ? len - 4000 : 0) : "(unreadable)");
	free(text);
}

/* A port picked as free can be taken by someone else before authd binds it. */
static bool lost_port_race(const struct authd *s)
{
	char *text = it_read_file(s->log, NULL);
	bool lost = text != NULL && strstr(text, "cannot listen") != NULL;

	free(text);
	return lost;
}

int authd_start(struct authd *s, const char *admin_password)
{
	for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
		int rc;

		s->port = it_free_port();
		if (s->port <= 0 || spawn(s, admin_password) != 0)
			return -1;
		rc = wait_ready(s);
		http_close(); /* the ping's connection must not be shared with forked tests */
		if (rc == 0)
			return 0;
		if (rc == -2 && lost_port_race(s))
			continue;
		if (rc == -1) {
			kill(s->pid, SIGKILL);
			reaped(s, 0);
		}
		break;
	}
	it_print_tail(s->log, "authd did not start");
	return -1;
}

int authd_start_together(struct authd *const *s, int n, const char *admin_password)
{
	int rc = 0;

	for (int i = 0; i < n; i++) {
		s[i]->port = it_free_port();
		if (s[i]->port <= 0 || spawn(s[i], admin_password) != 0)
			return -1;
	}
	for (int i = 0; i < n; i++) {
		if (wait_ready(s[i]) == 0)
			continue;
		it_print_tail(s[i]->log, "authd did not start beside the others");
		rc = -1;
	}
	http_close();
	return rc;
}

int authd_stop(struct authd *s)
{
	return authd_stop_with(s, SIGTERM);
}

int authd_stop_with(struct authd *s, int sig)
{
	double deadline = it_now() + STOP_SECONDS;

	if (s->pid <= 0 || s->owner != getpid()) {
		http_close();
		return s->last_status;
	}
	/* open keep-alive connections stay open: authd must stop despite them */
	kill(s->pid, sig);
	while (!reaped(s, WNOHANG)) {
		if (it_now() > deadline) {
			fprintf(stderr, "authd %d ignored signal %d for %d s; killing it\n",
				(int)s->pid, sig, STOP_SECONDS);
			kill(s->pid, SIGKILL);
			reaped(s, 0);
			break;
		}
		it_sleep_ms(20);
	}
	http_close(); /* its connections died with it */
	return s->last_status;
}

void authd_free(struct authd *s)
{
	if (s == NULL || !s->in_use || s->owner != getpid())
		return;
	authd_stop(s);
	if (getenv("AUTHD_TEST_KEEP") == NULL)
		nftw(s->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	s->in_use = false;
}

/* ---- HTTP ---- */

static CURL *handle;
static pid_t handle_owner;

void http_close(void)
{
	if (handle != NULL && handle_owner == getpid())
		curl_easy_cleanup(handle);
	handle = NULL;
}

/* This process's handle; a parent's is never used, its connections are the parent's. */
static CURL *get_handle(void)
{
	if (handle != NULL && handle_owner != getpid())
		handle = NULL;
	if (handle == NULL) {
		handle = curl_easy_init();
		handle_owner = getpid();
	} else {
		curl_easy_reset(handle); /* options go, the connection cache stays */
	}
	return handle;
}

struct buf {
	char *data;
	size_t len;
};

static bool buf_add(struct buf *b, const char *data, size_t n)
{
	char *grown = realloc(b->data, b->len + n + 1);

	if (grown == NULL)
		return false;
	memcpy(grown + b->len, data, n);
	b->data = grown;
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	return buf_add(ctx, data, size * n) ? size * n : 0;
}

/* Keeps only the last response's headers: a "100 Continue" may come first. */
static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;

	if (size * n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		b->len = 0;
	return buf_add(b, data, size * n) ? size * n : 0;
}

static bool has_header(const char *const *headers, const char *name)
{
	size_t n = strlen(name);

	for (; headers != NULL && *headers != NULL; headers++)
		if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
			return true;
	return false;
}

static struct curl_slist *request_headers(const char *token, const char *body,
					  const char *const *extra)
{
	struct curl_slist *list = NULL;
	char auth[1200];

	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		list = curl_slist_append(list, auth);
	}
	if (body != NULL && !has_header(extra, "Content-Type"))
		list = curl_slist_append(list, "Content-Type: application/json");
	for (; extra != NULL && *extra != NULL; extra++)
		list = curl_slist_append(list, *extra);
	return list;
}

static void set_method(CURL *c, const char *method, const char *body)
{
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0 || body != NULL)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

int http_call(const struct authd *s, const char *method, const char *path, const char *token,
	      const char *body, const char *const *headers, struct reply *out)
{
	struct buf rbody = {0}, rhead = {0};
	/* as long as the path: the tests send targets over authd's limit */
	size_t urllen = strlen(s->base) + strlen(path) + 1;
	char *url = malloc(urllen);
	CURL *c = get_handle();
	struct curl_slist *list;
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->what, sizeof(out->what), "%s %.140s", method, path);
	if (c == NULL || url == NULL) {
		snprintf(out->error, sizeof(out->error), "%s",
			 url == NULL ? "out of memory" : "curl_easy_init failed");
		free(url);
		return -1;
	}
	snprintf(url, urllen, "%s%s", s->base, path);
	list = request_headers(token, body, headers);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, s->cainfo);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rbody);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &rhead);
	set_method(c, method, body);
	rc = curl_easy_perform(c);
	curl_slist_free_all(list);
	free(url);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	else
		snprintf(out->error, sizeof(out->error), "%s", curl_easy_strerror(rc));
	out->body = rbody.data ? rbody.data : strdup("");
	out->len = rbody.len;
	out->headers = rhead.data ? rhead.data : strdup("");
	out->json = json_loadb(out->body, out->len, 0, NULL);
	return rc == CURLE_OK ? 0 : -1;
}

void reply_free(struct reply *r)
{
	free(r->body);
	free(r->headers);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

bool reply_header(const struct reply *r, const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	for (const char *line = r->headers; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t linelen = end ? (size_t)(end - line) : strlen(line);

		if (linelen > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			size_t vlen = (size_t)(line + linelen - v);

			while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
				vlen--;
			snprintf(buf, len, "%.*s", (int)vlen, v);
			return true;
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

char *authd_login(const struct authd *s, const char *user, const char *password)
{
	json_t *form = json_pack("{s:s, s:s}", "username", user, "password", password);
	char *body = json_dumps(form, JSON_COMPACT), *token = NULL;
	struct reply r;

	if (body != NULL && http_call(s, "POST", "/auth/login", NULL, body, NULL, &r) == 0 &&
	    r.status == 200 && jstr(r.json, "auth_token") != NULL)
		token = strdup(jstr(r.json, "auth_token"));
	reply_free(&r);
	free(body);
	json_decref(form);
	return token;
}

/* ---- JSON ---- */

json_t *jpath(json_t *root, const char *path)
{
	char key[256];

	while (root != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (json_is_array(root)) {
			char *end;
			long i = strtol(key, &end, 10);

			root = *end == '\0' && i >= 0 ? json_array_get(root, (size_t)i) : NULL;
		} else {
			root = json_object_get(root, key);
		}
		path += n;
		if (*path == '.')
			path++;
	}
	return root;
}

const char *jstr(json_t *root, const char *path)
{
	return json_string_value(jpath(root, path));
}

long long jint(json_t *root, const char *path, long long fallback)
{
	json_t *v = jpath(root, path);

	return json_is_integer(v) ? (long long)json_integer_value(v) : fallback;
}

int jbool(json_t *root, const char *path)
{
	json_t *v = jpath(root, path);

	return json_is_boolean(v) ? json_is_true(v) : -1;
}
