/*
 * The Check-aware helpers the integration suites share (see checks.h): one
 * copy of the arena, the assertions, sh(), API calls and bundle downloads.
 */
#include <check.h>
#include <curl/curl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checks.h"
#include "engine.h"
#include "pgcluster.h"

struct authd *srv;
char *admin;
char suite_dir[IT_PATH_LEN];
char wd[IT_PATH_LEN];
int nfiles;
int sh_seconds = 60;

/* ---- per-test memory ---- */

#define ARENA 2048
static struct reply *replies[ARENA];
static char *strings[ARENA];
static json_t *jsons[ARENA];
static int nreplies, nstrings, njsons;

const char *keep(char *s)
{
	ck_assert_msg(s != NULL, "out of memory");
	ck_assert_msg(nstrings < ARENA, "too many strings in one test");
	strings[nstrings++] = s;
	return s;
}

json_t *keep_json(json_t *j)
{
	ck_assert_msg(njsons < ARENA, "too many JSON values in one test");
	jsons[njsons++] = j;
	return j;
}

struct reply *keep_reply(void)
{
	struct reply *r = calloc(1, sizeof(*r));

	ck_assert_msg(r != NULL && nreplies < ARENA, "too many requests in one test");
	replies[nreplies++] = r;
	return r;
}

const char *vfmt(const char *f, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, f, ap) < 0)
		s = NULL;
	return keep(s);
}

const char *fmt(const char *f, ...)
{
	const char *s;
	va_list ap;

	va_start(ap, f);
	s = vfmt(f, ap);
	va_end(ap);
	return s;
}

const char *read_text(const char *path)
{
	char *text = it_read_file(path, NULL);

	ck_assert_msg(text != NULL, "cannot read %s", path);
	return keep(text);
}

const char *store_text(const struct authd *s)
{
	char *text;

	if (s->dsn[0] == '\0')
		return read_text(fmt("%s/authd.db", s->dir));
	text = it_pg_dump(s->dsn);
	ck_assert_msg(text != NULL, "cannot read the store on PostgreSQL");
	return keep(text);
}

const char *jbody(const char *f, ...)
{
	json_error_t err;
	va_list ap;
	json_t *o;
	char *s;

	va_start(ap, f);
	o = json_vpack_ex(&err, 0, f, ap);
	va_end(ap);
	ck_assert_msg(o != NULL, "json_pack: %s", err.text);
	s = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(o);
	return keep(s);
}

void teardown_test(void)
{
	for (int i = 0; i < nreplies; i++) {
		reply_free(replies[i]);
		free(replies[i]);
	}
	for (int i = 0; i < nstrings; i++)
		free(strings[i]);
	for (int i = 0; i < njsons; i++)
		json_decref(jsons[i]);
	nreplies = nstrings = njsons = 0;
	http_close();
}

/* ---- work dirs ---- */

int make_suite_dir(const char *prefix)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(suite_dir, sizeof(suite_dir), "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
	return mkdtemp(suite_dir) != NULL ? 0 : -1;
}

void remove_suite_dir(void)
{
	const char *kept = it_workdir_remove();

	if (kept != NULL)
		printf("authd data dirs and logs kept in %s\n", kept);
	if (getenv("AUTHD_TEST_KEEP") != NULL)
		printf("engines, bundles and tool output kept in %s\n", suite_dir);
	else
		cmd_remove_tree(suite_dir);
}

void make_wd(const char *what)
{
	snprintf(wd, sizeof(wd), "%s/%s-XXXXXX", suite_dir, what);
	ck_assert_msg(mkdtemp(wd) != NULL, "cannot make a %s dir under %s", what, suite_dir);
	nfiles = 0;
}

void setup_test(void)
{
	/* a suite without a suite_dir (test_api_*.c) runs no commands: its tests need no dir */
	if (suite_dir[0] != '\0')
		make_wd("test");
}

TCase *server_case(const char *name, void (*setup)(void), void (*teardown)(void), double timeout_s)
{
	TCase *tc = tcase_create(name);

	if (setup != NULL)
		tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, setup_test, teardown_test);
	tcase_set_timeout(tc, timeout_s);
	return tc;
}

int run_suites(const char *dir_prefix, Suite *(*const suites[])(void), void (*before_removal)(void))
{
	SRunner *sr;
	int failed;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || it_workdir_init() != 0 ||
	    make_suite_dir(dir_prefix) != 0) {
		fprintf(stderr,
			"cannot set up: curl_global_init or a temporary directory failed\n");
		return EXIT_FAILURE;
	}
	sr = srunner_create(suites[0]());
	for (int i = 1; suites[i] != NULL; i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	/* a failed fixture leaves its engines running: they stop before their files go */
	if (before_removal != NULL)
		before_removal();
	remove_suite_dir();
	if (failed != 0 && getenv("AUTHD_TEST_KEEP") == NULL)
		printf(
		    "to keep the test files and server logs, run again with AUTHD_TEST_KEEP=1\n");
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void require_tools(const char *const *tools)
{
	char path[IT_PATH_LEN];

	for (size_t i = 0; tools[i] != NULL; i++)
		ck_assert_msg(cmd_find(tools[i], path, sizeof(path)),
			      "%s is not in %s: scripts/install-deps.sh --test installs it",
			      tools[i], CMD_PATH);
}

/* ---- shell commands ---- */

struct ran sh(const char *dir, const char *f, ...)
{
	struct ran r;
	const char *out = fmt("%s/cmd-%d.out", wd, ++nfiles);
	va_list ap;

	va_start(ap, f);
	r.cmd = vfmt(f, ap);
	va_end(ap);
	const char *env[] = {"PATH=" CMD_PATH,
			     fmt("HOME=%s/home", wd),
			     fmt("DOCKER_CONFIG=%s/home/.docker", wd),
			     fmt("TMPDIR=%s", wd),
			     "LC_ALL=C",
			     NULL};
	const char *argv[] = {"bash", "-c", r.cmd, NULL};

	r.code = cmd_run(argv, env, dir ? dir : wd, out, sh_seconds);
	r.out = read_text(out);
	return r;
}

const char *chomp(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	return fmt("%.*s", (int)n, s);
}

void expect_ran_at(int line, struct ran r, int code)
{
	ck_assert_msg(r.code == code, "line %d: `%s` exited %d, expected %d; output:\n%.1500s",
		      line, r.cmd, r.code, code, r.out);
}

const char *store_value_of(const struct authd *s, const char *sql)
{
	struct ran r;

	if (s->dsn[0] != '\0') {
		char *out = it_pg_query(s->dsn, sql);
		const char *first;

		ck_assert_msg(out != NULL, "cannot read the store on PostgreSQL: %s", sql);
		first = fmt("%.*s", (int)strcspn(out, "\n"), out);
		free(out);
		return first;
	}
	r = sh(NULL, "sqlite3 -batch -cmd '.timeout 10000' '%s/authd.db' \"%s\"", s->dir, sql);
	expect_ran(r, 0);
	return fmt("%.*s", (int)strcspn(r.out, "\n"), r.out);
}

void expect_failed_at(int line, struct ran r)
{
	ck_assert_msg(r.code > 0 && r.code < 128,
		      "line %d: `%s` should have failed, exited %d; output:\n%.1500s", line, r.cmd,
		      r.code, r.out);
}

void expect_has_at(int line, const char *text, const char *part, const char *what)
{
	ck_assert_msg(text != NULL && strstr(text, part) != NULL,
		      "line %d: %s lacks \"%s\":\n%.1500s", line, what, part, text ? text : "");
}

void expect_lacks_at(int line, const char *text, const char *part, const char *what)
{
	ck_assert_msg(text != NULL && strstr(text, part) == NULL,
		      "line %d: %s holds \"%s\":\n%.1500s", line, what, part, text ? text : "");
}

/* ---- authd's API over the harness ---- */

struct reply *call_with(struct authd *s, const char *method, const char *path, const char *token,
			const char *body, const char *const *headers)
{
	struct reply *r = keep_reply();

	http_call(s, method, path, token, body, headers, r);
	ck_assert_msg(r->status != 0, "%s: no answer: %s", r->what, r->error);
	return r;
}

struct reply *call_to(struct authd *s, const char *method, const char *token, const char *body,
		      const char *f, ...)
{
	const char *path;
	va_list ap;

	va_start(ap, f);
	path = vfmt(f, ap);
	va_end(ap);
	return call_with(s, method, path, token, body, NULL);
}

const char *header(const struct reply *r, const char *name)
{
	char buf[1024];

	return reply_header(r, name, buf, sizeof(buf)) ? fmt("%s", buf) : NULL;
}

void expect_status_at(int line, const struct reply *r, long status)
{
	ck_assert_msg(r->status == status, "line %d: %s: expected %ld, got %ld: %.600s", line,
		      r->what, status, r->status, r->body);
}

void expect_error_at(int line, const struct reply *r, long status, const char *code,
		     const char *field)
{
	const char *type = header(r, "Content-Type"), *got = jstr(r->json, "errors.0.code");
	const char *msg = jstr(r->json, "errors.0.message");

	expect_status_at(line, r, status);
	ck_assert_msg(type != NULL && strncmp(type, "application/json", 16) == 0,
		      "line %d: %s: error Content-Type is %s", line, r->what,
		      type ? type : "absent");
	ck_assert_msg(json_is_array(jpath(r->json, "errors")) &&
			  json_array_size(jpath(r->json, "errors")) >= 1,
		      "line %d: %s: not an {\"errors\":[..]} body: %.300s", line, r->what, r->body);
	ck_assert_msg(got != NULL && strcmp(got, code) == 0,
		      "line %d: %s: expected code %s, got %s: %.300s", line, r->what, code,
		      got ? got : "none", r->body);
	ck_assert_msg(msg != NULL && *msg != '\0', "line %d: %s: error without a message", line,
		      r->what);
	if (field == NULL)
		return;
	got = jstr(r->json, "errors.0.detail.field");
	ck_assert_msg(got != NULL && strcmp(got, field) == 0,
		      "line %d: %s: expected detail.field %s, got %s: %.300s", line, r->what, field,
		      got ? got : "none", r->body);
}

void start_server(const char *config, const char *admin_password)
{
	srv = authd_new(config);
	ck_assert_msg(srv != NULL, "cannot make a data dir");
	start_srv(admin_password);
}

void start_srv(const char *admin_password)
{
	ck_assert_msg(authd_start(srv, admin_password) == 0,
		      "authd did not start; its log is above");
	admin = authd_login(srv, "admin", admin_password);
	http_close(); /* forked tests must not share this process's connection */
	ck_assert_msg(admin != NULL, "the first admin cannot log in");
}

void teardown_server(void)
{
	free(admin);
	admin = NULL;
	authd_free(srv);
	srv = NULL;
}

/* ---- client bundles ---- */

const char *bundle_file(const struct bundle *b, const char *name)
{
	return read_text(fmt("%s/%s", b->dir, name));
}

struct bundle fetch_bundle_at(int line, struct authd *s, const char *token, const char *query,
			      const char *dir)
{
	struct reply *r = call_to(s, "GET", token, NULL, "/api/clientbundle?%s", query);
	const char *type = header(r, "Content-Type");
	struct bundle b;
	FILE *f;

	expect_status_at(line, r, 200);
	ck_assert_msg(type != NULL && strcmp(type, "application/zip") == 0,
		      "line %d: bundle Content-Type %s", line, type ? type : "absent");
	b.zip = fmt("%s.zip", dir);
	b.dir = dir;
	f = fopen(b.zip, "wb");
	ck_assert_msg(f != NULL && fwrite(r->body, 1, r->len, f) == r->len && fclose(f) == 0,
		      "cannot write %s", b.zip);
	/* a fixture may fetch again into the same dir: nothing of the old bundle may stay */
	expect_ran_at(line, sh(NULL, "rm -rf '%s' && unzip -q '%s' -d '%s'", b.dir, b.zip, b.dir),
		      0);
	b.meta = keep_json(json_load_file(fmt("%s/meta.json", b.dir), 0, NULL));
	b.key_id = jstr(b.meta, "keyID");
	ck_assert_msg(b.key_id != NULL, "line %d: meta.json without keyID in %s: %s", line, b.dir,
		      bundle_file(&b, "meta.json"));
	return b;
}

void engine_tls(const char *name, const char *mode, const char *out)
{
	/* not in the arena: fixtures call this outside any test */
	char log[IT_PATH_LEN + 160];
	const char *args[] = {"engine-tls", "--data-dir", srv->dir, "--name",	 name,
			      "--san",	    "127.0.0.1",  "--san",  "localhost", "--mode",
			      mode,	    "--out",	  out,	    NULL};
	int status;

	snprintf(log, sizeof(log), "%s/engine-tls-%s-%s.log", suite_dir, name, mode);
	status = authd_run_once(args, NULL, log);

	ck_assert_msg(status == 0, "authd engine-tls --mode %s exited with status %d (log %s)",
		      mode, status, log);
}

long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

int count_in_file(const char *path, long from, const char *needle)
{
	size_t len = 0;
	char *text = it_read_file(path, &len);
	int n = 0;

	if (text != NULL && (size_t)from <= len)
		for (const char *p = text + from; (p = strstr(p, needle)) != NULL; p++)
			n++;
	free(text);
	return n;
}

/* ---- a wall clock that the test moves (libfaketime) ---- */

/* Debian's libfaketime for this machine's architecture, or NULL. */
const char *faketime_lib(void)
{
	const char *found = NULL;
	glob_t g;

	if (glob("/usr/lib/*/faketime/libfaketimeMT.so.1", 0, NULL, &g) == 0 && g.gl_pathc > 0)
		found = fmt("%s", g.gl_pathv[0]);
	globfree(&g);
	return found;
}

/*
 * The server reads its wall clock through libfaketime, which reads `file`
 * at each clock call: an offset from the real time ("+6m", "-1h"). Its
 * monotonic clock stays real, as when an administrator or NTP steps the
 * wall clock.
 */
void fake_clock(struct authd *s, const char *lib, const char *file)
{
	const char *asan = getenv("ASAN_OPTIONS");
	const char *const env[] = {
	    fmt("LD_PRELOAD=%s", lib),
	    fmt("FAKETIME_TIMESTAMP_FILE=%s", file),
	    "FAKETIME_NO_CACHE=1",
	    "FAKETIME_DONT_FAKE_MONOTONIC=1",
	    /* ASan wants its runtime first in the list; the preload comes first instead */
	    fmt("ASAN_OPTIONS=%s%sverify_asan_link_order=0", asan ? asan : "",
		asan && *asan ? ":" : ""),
	};

	ck_assert_uint_le(sizeof(env) / sizeof(env[0]), IT_ENV_MAX);
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		snprintf(s->env[i], sizeof(s->env[i]), "%s", env[i]);
}

/* Moves the server's wall clock; the file is renamed into place, never seen half-written. */
void set_clock(const char *file, const char *offset)
{
	const char *next = fmt("%s.next", file);

	ck_assert_msg(it_write_file(next, offset) == 0 && rename(next, file) == 0,
		      "cannot write %s", file);
}
