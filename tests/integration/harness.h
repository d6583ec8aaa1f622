/*
 * Integration-test harness: starts the real authd binary in a private data
 * dir on a free port, stops it by pid, and talks HTTPS to it through libcurl
 * with certificate verification on. Knows nothing about Check.
 */
#ifndef AUTHD_IT_HARNESS_H
#define AUTHD_IT_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define IT_PATH_LEN 512
#define IT_ENV_MAX 6

/* One authd process and the files it keeps; pid is 0 while it is not running. */
struct authd {
	bool in_use;
	pid_t owner; /* the process that made it: only that one stops it */
	pid_t pid;
	int port;
	int starts;
	int last_status; /* wait status of the last exit, -1 before any */
	char dir[IT_PATH_LEN];
	char config[IT_PATH_LEN]; /* "" when started without --config */
	char log[IT_PATH_LEN];	  /* stdout and stderr of the latest start */
	char cainfo[IT_PATH_LEN]; /* <dir>/ca/cluster-ca.pem */
	char base[64];		  /* https://127.0.0.1:PORT */
	char dsn[IT_PATH_LEN];	  /* its store's PostgreSQL database on a *_pg run; "" on SQLite */
	/*
	 * "NAME=value" lines added to the server's environment at each start,
	 * replacing what this process has under the same name; "" ends the list.
	 */
	char env[IT_ENV_MAX][IT_PATH_LEN];
};

/*
 * Makes the directory that holds every data dir made afterwards, in $TMPDIR
 * or /tmp; 0 on success. A test that fails exits at once and cannot clean
 * up after itself, so the process that made this removes it at the end.
 */
int it_workdir_init(void);
/* Removes it with all it holds; when AUTHD_TEST_KEEP is set, keeps it and returns its path. */
const char *it_workdir_remove(void);

/*
 * Makes a data dir (and, when config_json is not NULL, a config file beside
 * it). The struct comes from a static pool, so that an exit handler can stop
 * whatever a test process left running; NULL when the dir cannot be made.
 */
struct authd *authd_new(const char *config_json);
/* The same with the data dir made in `parent` (a file system of the test's own) instead. */
struct authd *authd_new_in(const char *parent, const char *config_json);
/*
 * Starts authd and waits until GET /_ping answers (bounded). admin_password
 * becomes AUTHD_ADMIN_PASSWORD; NULL leaves it unset. 0 on success; on
 * failure the log's tail goes to stderr and nothing is left running.
 */
int authd_start(struct authd *s, const char *admin_password);
/*
 * Starts the n servers at once, each launched before any is waited for (replicas
 * meeting an empty store), then waits until each answers; 0, or -1 (the logs'
 * tails said) with what started left running for authd_free.
 */
int authd_start_together(struct authd *const *s, int n, const char *admin_password);
/* SIGTERM, then waits (bounded; SIGKILL after). Returns the wait status, -1 if none. */
int authd_stop(struct authd *s);
/* The same with another signal (SIGINT). */
int authd_stop_with(struct authd *s, int sig);
/*
 * Runs authd with args (a NULL-terminated list, without argv[0]) to its end,
 * output to log_path; for commands and refused start-ups that exit at once.
 * Returns the wait status, or -1 when it had not exited within 10 s (it is
 * killed then).
 */
int authd_run_once(const char *const *args, const char *admin_password, const char *log_path);
/* Stops it if needed, removes its data dir (kept when AUTHD_TEST_KEEP is set), frees the slot. */
void authd_free(struct authd *s);

/* The whole file, NUL-terminated, malloc'd (caller frees); NULL when unreadable. */
char *it_read_file(const char *path, size_t *len);
/* Removes path and everything below it. */
void it_remove_tree(const char *path);
/* "<what> (<path>):" and the file's last 4000 bytes, on stderr: a server's log after a failure. */
void it_print_tail(const char *path, const char *what);
/* Writes text to path (created or truncated); 0 on success. */
int it_write_file(const char *path, const char *text);
/* A 127.0.0.1 TCP port that was free a moment ago (bind to 0, read it back, close). */
int it_free_port(void);
/* Sleeps ms milliseconds, through signals. */
void it_sleep_ms(long ms);
/* Seconds on the monotonic clock, for deadlines. */
double it_now(void);

/* ---- HTTP ---- */

struct reply {
	long status; /* 0 when the request did not complete */
	char *body;  /* NUL-terminated, malloc'd */
	size_t len;
	char *headers;	 /* raw header block of the final response, malloc'd */
	json_t *json;	 /* the body parsed, or NULL when it is not JSON */
	char what[160];	 /* "METHOD path", for messages */
	char error[256]; /* curl's reason when status is 0 */
};

/*
 * One request on this process's reused curl handle (keep-alive). token adds
 * "Authorization: Bearer"; body NULL sends none, "" an empty one; headers is
 * a NULL-terminated list of extra "Name: value" lines (a Content-Type there
 * replaces the default application/json). Fills out; returns 0 when an
 * answer arrived. Free out with reply_free.
 */
int http_call(const struct authd *s, const char *method, const char *path, const char *token,
	      const char *body, const char *const *headers, struct reply *out);
void reply_free(struct reply *r);
/* Copies the value of the named response header (any case) into buf; false when absent. */
bool reply_header(const struct reply *r, const char *name, char *buf, size_t len);
/* Drops this process's curl handle and its connections (before a fork, after a stop). */
void http_close(void);

/* Logs in; the token, malloc'd (caller frees), or NULL when the login is refused. */
char *authd_login(const struct authd *s, const char *user, const char *password);

/* ---- JSON ---- */

/* Follows a dotted path ("errors.0.detail.field"); numbers index arrays. NULL when absent. */
json_t *jpath(json_t *root, const char *path);
const char *jstr(json_t *root, const char *path);
/* The integer at path, or `fallback` when it is absent or not an integer. */
long long jint(json_t *root, const char *path, long long fallback);
/* 1 or 0 for a boolean at path, -1 when it is absent or not a boolean. */
int jbool(json_t *root, const char *path);

#endif
