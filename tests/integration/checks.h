/*
 * The Check-aware helpers the integration suites share: the per-test arena,
 * assertions that name the caller's line, shell commands, authd's API through
 * the harness, client bundles, and the suite and test work dirs.
 */
#ifndef AUTHD_IT_CHECKS_H
#define AUTHD_IT_CHECKS_H

#include <check.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

/* ---- state the suites and these helpers share ---- */

extern struct authd *srv; /* the server of the current test case */
extern char *admin;	  /* a token of the first admin on srv */
/* The suite's files (tool output, bundles, engines); "" in a suite without one. */
extern char suite_dir[IT_PATH_LEN];
extern char wd[IT_PATH_LEN]; /* the test's own dir, under suite_dir */
extern int nfiles;	     /* numbers the files a test writes */
extern int sh_seconds;	     /* how long one sh() command may run; 60 unless the suite says */

/* ---- per-test memory: everything kept here is freed by teardown_test ---- */

/* Keeps a malloc'd string until the test ends; asserts it is not NULL (out of memory). */
const char *keep(char *s);
json_t *keep_json(json_t *j);
/* A zeroed reply that teardown_test frees with reply_free. */
struct reply *keep_reply(void);
__attribute__((format(printf, 1, 2))) const char *fmt(const char *f, ...);
/* fmt for the helpers that take a format of their own. */
const char *vfmt(const char *f, va_list ap);
/* A file's whole text; asserts it is readable. */
const char *read_text(const char *path);
/* Everything s's store holds, as text: the SQLite database file, or every row on PostgreSQL. */
const char *store_text(const struct authd *s);
/* A JSON text from a json_pack format (a bare string or number too). */
const char *jbody(const char *f, ...);
/* The checked fixture's teardown: frees the arena and drops the curl handle. */
void teardown_test(void);

/* ---- work dirs ---- */

/* Makes suite_dir as $TMPDIR/<prefix>-XXXXXX; 0 on success. */
int make_suite_dir(const char *prefix);
/* Removes suite_dir and the harness's workdir, or says where they are kept (AUTHD_TEST_KEEP). */
void remove_suite_dir(void);
/* A dir of its own for the files a test (or a fixture) writes: wd, named after `what`. */
void make_wd(const char *what);
/* The checked fixture's setup: a wd for the test (when the suite has a suite_dir). */
void setup_test(void);
/*
 * A test case with a server (or engines) started once by setup for all its
 * tests, which each get a wd and an arena.
 */
TCase *server_case(const char *name, void (*setup)(void), void (*teardown)(void), double timeout_s);
/*
 * The main of a suite with a suite_dir: sets up curl and the dirs, runs the
 * suites (a NULL-terminated list), then calls before_removal (when not NULL:
 * it stops what runs from suite_dir) and removes the dirs. The exit status.
 */
int run_suites(const char *dir_prefix, Suite *(*const suites[])(void),
	       void (*before_removal)(void));

/* Fails when any of these programs (a NULL-terminated list) is not in CMD_PATH. */
void require_tools(const char *const *tools);

/* ---- shell commands ---- */

/* How a command ended: its script, exit code, and stdout and stderr together. */
struct ran {
	int code;
	const char *cmd;
	const char *out;
};

/*
 * Runs a bash script in dir (NULL: the test's dir). The environment is
 * spelled out, so the caller's DOCKER_HOST and the real user's docker config
 * never take part: HOME and DOCKER_CONFIG are the test's own.
 */
__attribute__((format(printf, 2, 3))) struct ran sh(const char *dir, const char *f, ...);
/* The output without its trailing newlines. */
const char *chomp(const char *s);

/* The helpers take the caller's line, so that a failure names the test's own line. */
void expect_ran_at(int line, struct ran r, int code);
#define expect_ran(r, code) expect_ran_at(__LINE__, r, code)
void expect_failed_at(int line, struct ran r);
#define expect_failed(r) expect_failed_at(__LINE__, r)
void expect_has_at(int line, const char *text, const char *part, const char *what);
#define expect_has(text, part, what) expect_has_at(__LINE__, text, part, what)
void expect_lacks_at(int line, const char *text, const char *part, const char *what);
#define expect_lacks(text, part, what) expect_lacks_at(__LINE__, text, part, what)
/* Bytes in a file (0 when it is not there yet). */
long file_size(const char *path);
/* Occurrences of needle in a file, from byte `from` on; read afresh each time (no arena). */
int count_in_file(const char *path, long from, const char *needle);

/*
 * The first column of the first row that sql reads from s's store: sqlite3
 * beside the running authd (WAL lets it read), or libpq on a *_pg run.
 */
const char *store_value_of(const struct authd *s, const char *sql);

/* ---- authd's API over the harness ---- */

/* One request to s, its reply kept until the test ends; asserts that an answer came. */
struct reply *call_with(struct authd *s, const char *method, const char *path, const char *token,
			const char *body, const char *const *headers);
/* The same with a printf-style path. */
__attribute__((format(printf, 5, 6))) struct reply *call_to(struct authd *s, const char *method,
							    const char *token, const char *body,
							    const char *f, ...);
/* A response header's value, or NULL when absent. */
const char *header(const struct reply *r, const char *name);

void expect_status_at(int line, const struct reply *r, long status);
#define expect_status(r, status) expect_status_at(__LINE__, r, status)
/*
 * The eNZi error shape of SPEC §2, as JSON, with this status and code (and
 * detail.field when field is not NULL).
 */
void expect_error_at(int line, const struct reply *r, long status, const char *code,
		     const char *field);
#define expect_error(r, status, code, field) expect_error_at(__LINE__, r, status, code, field)

/*
 * Starts srv on a new data dir with config and logs admin in with
 * admin_password; the unchecked fixtures' setup.
 */
void start_server(const char *config, const char *admin_password);
/* The same for a srv made already (whose config or files a fixture wrote first). */
void start_srv(const char *admin_password);
/* Stops srv and forgets admin's token. */
void teardown_server(void);

/* ---- client bundles ---- */

struct bundle {
	const char *zip;    /* the download */
	const char *dir;    /* its files, unzipped */
	const char *key_id; /* meta.json's keyID */
	json_t *meta;
};

/* The text of one of the bundle's files. */
const char *bundle_file(const struct bundle *b, const char *name);
/*
 * Downloads /api/clientbundle?<query> as token from s to <dir>.zip and
 * unzips it into dir (replacing what was there) with unzip(1).
 */
struct bundle fetch_bundle_at(int line, struct authd *s, const char *token, const char *query,
			      const char *dir);

/* `authd engine-tls` for the engine `name`, before authd first starts (it makes the CAs then). */
void engine_tls(const char *name, const char *mode, const char *out);

/* ---- a wall clock that the test moves (libfaketime) ---- */

/* Debian's libfaketime for this machine's architecture, or NULL. */
const char *faketime_lib(void);
/*
 * s reads its wall clock through libfaketime from its next start, which reads
 * `file` at each clock call: an offset from the real time ("+6m", "-1h"). Its
 * monotonic clock stays real, as when an administrator or NTP steps the wall
 * clock. Servers given one file share one clock.
 */
void fake_clock(struct authd *s, const char *lib, const char *file);
/* Moves the wall clock of the servers that read `file`; never seen half-written. */
void set_clock(const char *file, const char *offset);

#endif
