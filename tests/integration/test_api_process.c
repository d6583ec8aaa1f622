/*
 * Integration tests of authd's process (SPEC §1): each test starts a real
 * authd of its own in a private data dir and checks how it starts and exits.
 * - restarts keep state, sessions and logouts; the first admin is made once;
 * - SIGTERM and SIGINT exit 0; SIGTERM drains in-flight requests and
 *   checkpoints;
 * - the first start's generated admin password;
 * - refused configs and command lines name what is wrong; --listen and
 *   --data-dir override the config file.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api_fixtures.h"
#include "pgcluster.h"

/* ---- the process: restart, signals, first start (SPEC §1) ---- */

static void expect_clean_exit(int status, const char *how)
{
	ck_assert_msg(status != -1, "%s: authd was not running", how);
	ck_assert_msg(WIFEXITED(status), "%s: authd was killed by signal %d", how,
		      WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	ck_assert_msg(WEXITSTATUS(status) == 0, "%s: authd exited with %d", how,
		      WEXITSTATUS(status));
}

/* Starts a server of this test's own; the exit hook stops it if the test fails. */
static void start_own(const char *config, const char *admin_password)
{
	srv = authd_new(config);
	ck_assert_msg(srv != NULL, "cannot make a data dir");
	ck_assert_msg(authd_start(srv, admin_password) == 0,
		      "authd did not start; its log is above");
}

START_TEST(test_restart_keeps_state)
{
	const char *token, *user_token, *first_log;
	struct reply *r;

	start_own(main_config, ADMIN_PW);
	first_log = keep(strdup(srv->log));
	token = login_as("admin", ADMIN_PW);
	admin = (char *)token;
	create_user("rs-user");
	create_org("rs-org");
	expect_status(
	    call("POST", token, jbody("{s:s}", "name", "rs-team"), ACCOUNTS "/rs-org/teams"), 201);
	user_token = login_as("rs-user", USER_PW);
	expect_clean_exit(authd_stop(srv), "SIGTERM");
	/* a different AUTHD_ADMIN_PASSWORD must not matter: the first admin exists */
	ck_assert_msg(authd_start(srv, "Other-Admin-Pw-9") == 0, "authd did not restart");
	expect_status(call("GET", token, NULL, ACCOUNTS "/rs-user"), 200);
	expect_status(call("GET", user_token, NULL, ACCOUNTS "/rs-user"), 200);
	expect_status(call("GET", token, NULL, team_path("rs-org", "rs-team")), 200);
	login_as("rs-user", USER_PW);
	login_as("admin", ADMIN_PW);
	expect_error(try_login("admin", "Other-Admin-Pw-9"), 401, "UNAUTHORIZED", NULL);
	r = call("GET", token, NULL, ACCOUNTS "?filter=admins");
	expect_status(r, 200);
	ck_assert_uint_eq(json_array_size(jpath(r->json, "accounts")), 1);
	ck_assert_int_eq(jint(r->json, "usersCount", -1), 2);
	ck_assert_msg(file_holds(first_log, "created the first admin"),
		      "the first start did not report the first admin");
	ck_assert_msg(!file_holds(srv->log, "created the first admin"),
		      "the restart ran the first-admin bootstrap again");
	/* a logout before a restart stays a logout */
	expect_status(call("POST", user_token, NULL, "/auth/logout"), 204);
	expect_clean_exit(authd_stop(srv), "SIGTERM");
	ck_assert_msg(authd_start(srv, ADMIN_PW) == 0, "authd did not restart");
	expect_error(call("GET", user_token, NULL, ACCOUNTS "/rs-user"), 401, "UNAUTHORIZED", NULL);
	expect_clean_exit(authd_stop(srv), "SIGTERM");
	authd_free(srv);
}
END_TEST

START_TEST(test_signals_exit_zero)
{
	start_own(NULL, ADMIN_PW);
	/* a client keeps its connection open across the stop */
	admin = (char *)login_as("admin", ADMIN_PW);
	expect_status(call("GET", admin, NULL, ACCOUNTS), 200);
	expect_clean_exit(authd_stop_with(srv, SIGTERM), "SIGTERM");
	ck_assert_msg(authd_start(srv, ADMIN_PW) == 0, "authd did not restart");
	expect_status(call("GET", admin, NULL, ACCOUNTS), 200);
	expect_clean_exit(authd_stop_with(srv, SIGINT), "SIGINT");
	/* idle, with no connection at all */
	ck_assert_msg(authd_start(srv, ADMIN_PW) == 0, "authd did not restart");
	expect_clean_exit(authd_stop_with(srv, SIGTERM), "SIGTERM when idle");
	authd_free(srv);
}
END_TEST

/* A failing login for name, sent from a child process; its pid (exit 0: it got its 401). */
static pid_t slow_login_async(const char *name)
{
	const char *body = jbody("{s:s, s:s}", "username", name, "password", "Wrong-Passw0rd-S");
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct reply r;

		http_call(srv, "POST", "/auth/login", NULL, body, NULL, &r);
		_exit(r.status == 401 ? 0 : r.status == 0 ? 2 : 1);
	}
	return pid;
}

/*
 * SPEC §1: on SIGTERM, stop accepting, finish in-flight requests,
 * checkpoint, exit 0. Failed logins past the second are slowed (250 ms
 * each, up to 1 s), which makes a request that is still running when the
 * signal comes.
 */
START_TEST(test_sigterm_drains)
{
	struct stat st;
	struct reply ping;
	pid_t slow;

	start_own(main_config, ADMIN_PW);
	admin = (char *)login_as("admin", ADMIN_PW);
	create_user("dr-user");
	for (int i = 0; i < 6; i++)
		expect_status(try_login("dr-user", "Wrong-Passw0rd-S"), 401);
	slow = slow_login_async("dr-user");
	usleep(400 * 1000);
	ck_assert_int_eq(kill(srv->pid, SIGTERM), 0);
	usleep(150 * 1000);
	/* no new connections while draining */
	http_close();
	http_call(srv, "GET", "/_ping", NULL, NULL, NULL, &ping);
	ck_assert_msg(ping.status == 0, "a new connection was served after SIGTERM: %ld",
		      ping.status);
	reply_free(&ping);
	expect_clean_exit(authd_stop(srv), "SIGTERM with a request in flight");
	ck_assert_msg(exit_code(slow) == 0, "the in-flight login did not get its 401");
	/* checkpointed: the write-ahead log is empty or gone */
	ck_assert_msg(stat(fmt("%s/authd.db-wal", srv->dir), &st) != 0 || st.st_size == 0,
		      "authd.db-wal holds %lld bytes after a clean stop", (long long)st.st_size);
	authd_free(srv);
}
END_TEST

START_TEST(test_first_start_generated_password)
{
	const char *path, *password;
	struct stat st;
	char *text;

	start_own(NULL, NULL);
	path = fmt("%s/initial-admin-password", srv->dir);
	ck_assert_msg(stat(path, &st) == 0, "no %s", path);
	ck_assert_msg((st.st_mode & 07777) == 0600, "%s has mode %o", path, st.st_mode & 07777);
	text = it_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	keep(text);
	text[strcspn(text, "\r\n")] = '\0';
	password = text;
	ck_assert_uint_ge(strlen(password), 12);
	admin = (char *)login_as("admin", password);
	ck_assert_int_eq(jbool(get_account("admin"), "isAdmin"), 1);
	/* the path is printed, the password is not */
	ck_assert_msg(file_holds(srv->log, path), "the log does not name %s", path);
	ck_assert_msg(!file_holds(srv->log, password), "the log holds the generated password");
	expect_clean_exit(authd_stop(srv), "SIGTERM");
	authd_free(srv);
}
END_TEST

/* Runs authd to its end with args; its wait status, and its output in *out. */
static int run_once(const char *log, const char *admin_password, const char *const *args,
		    const char **out)
{
	int status = authd_run_once(args, admin_password, log);

	*out = keep(it_read_file(log, NULL));
	return status;
}

static void expect_refused(int status, const char *out, const char *what)
{
	ck_assert_msg(status != -1, "%s: authd started instead of refusing; output: %s", what, out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		      "%s: expected a non-zero exit, got status %d; output: %s", what, status, out);
}

/* SPEC §1: a bad config stops start-up with a message naming the key and the file. */
START_TEST(test_config_refusals)
{
	static const struct {
		const char *json, *key;
	} bad[] = {
	    {"{\"bogusKey\":1}", "bogusKey"},
	    {"{\"loginThrottle\":{\"maxFailures\":\"3\"}}", "maxFailures"},
	    {"{\"loginThrottle\":{\"maxFailures\":3,\"extra\":1}}", "extra"},
	    {"{\"session\":{\"idleMinutes\":0}}", "idleMinutes"},
	    {"{\"listen\":8443}", "listen"},
	    {"{", NULL},
	    {"[]", NULL},
	};
	struct authd *d = authd_new(NULL);
	const char *data, *listen, *out;
	int status;

	ck_assert_ptr_nonnull(d);
	srv = d;
	data = fmt("%s/data", d->dir);
	listen = fmt("127.0.0.1:%d", it_free_port());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *cfg = fmt("%s/bad-%zu.json", d->dir, i);
		const char *args[] = {"--config", cfg,	  "--data-dir", data,
				      "--listen", listen, NULL};

		ck_assert_int_eq(it_write_file(cfg, bad[i].json), 0);
		status = run_once(fmt("%s/bad-%zu.log", d->dir, i), ADMIN_PW, args, &out);
		expect_refused(status, out, bad[i].json);
		ck_assert_msg(strstr(out, cfg) != NULL,
			      "config %s: the message does not name %s: %s", bad[i].json, cfg, out);
		ck_assert_msg(bad[i].key == NULL || strstr(out, bad[i].key) != NULL,
			      "config %s: the message does not name %s: %s", bad[i].json,
			      bad[i].key, out);
	}
	{
		const char *cfg = fmt("%s/missing.json", d->dir);
		const char *args[] = {"--config", cfg,	  "--data-dir", data,
				      "--listen", listen, NULL};

		status = run_once(fmt("%s/missing.log", d->dir), ADMIN_PW, args, &out);
		expect_refused(status, out, "a missing config file");
		ck_assert_msg(strstr(out, cfg) != NULL, "the message does not name %s: %s", cfg,
			      out);
	}
	/* refused before anything was made */
	ck_assert_msg(access(fmt("%s/authd.db", data), F_OK) != 0,
		      "a refused start made a database");
	authd_free(d);
}
END_TEST

START_TEST(test_command_line)
{
	static const char *const version[] = {"--version", NULL}, *const help[] = {"--help", NULL};
	static const char *const unknown[] = {"--bogus", NULL}, *const extra[] = {"extra", NULL};
	struct authd *d = authd_new(NULL);
	const char *out, *data, *listen;
	int status;

	ck_assert_ptr_nonnull(d);
	srv = d;
	status = run_once(fmt("%s/version.log", d->dir), NULL, version, &out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "--version: status %d",
		      status);
	ck_assert_msg(strncmp(out, "authd ", 6) == 0, "--version printed: %s", out);
	status = run_once(fmt("%s/help.log", d->dir), NULL, help, &out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "--help: status %d", status);
	ck_assert_msg(strstr(out, "usage") != NULL && strstr(out, "--config") != NULL,
		      "--help printed: %s", out);
	expect_refused(run_once(fmt("%s/bogus.log", d->dir), NULL, unknown, &out), out, "--bogus");
	expect_refused(run_once(fmt("%s/extra.log", d->dir), NULL, extra, &out), out, "extra");
	data = fmt("%s/data", d->dir);
	listen = fmt("127.0.0.1:%d", it_free_port());
	{
		const char *args[] = {"--log-level", "loud", "--data-dir", data,
				      "--listen",    listen, NULL};

		expect_refused(run_once(fmt("%s/level.log", d->dir), ADMIN_PW, args, &out), out,
			       "--log-level loud");
		ck_assert_msg(strstr(out, "loud") != NULL,
			      "the message does not name the level: %s", out);
	}
	{
		const char *args[] = {"--listen", "127.0.0.1:notaport", "--data-dir", data, NULL};

		expect_refused(run_once(fmt("%s/listen.log", d->dir), ADMIN_PW, args, &out), out,
			       "--listen 127.0.0.1:notaport");
	}
	{
		/* a first admin password that breaks the password rules is not taken */
		const char *args[] = {"--data-dir", data, "--listen", listen, NULL};

		expect_refused(run_once(fmt("%s/weak.log", d->dir), "short", args, &out), out,
			       "AUTHD_ADMIN_PASSWORD=short");
		ck_assert_msg(strstr(out, "AUTHD_ADMIN_PASSWORD") != NULL,
			      "the message does not name AUTHD_ADMIN_PASSWORD: %s", out);
	}
	authd_free(d);
}
END_TEST

/* SPEC §1: --listen and --data-dir override the config file's listen and dataDir. */
START_TEST(test_flags_override_config)
{
	struct authd *d = authd_new(NULL);
	const char *elsewhere;

	ck_assert_ptr_nonnull(d);
	srv = d;
	elsewhere = fmt("%s/elsewhere", d->dir);
	snprintf(d->config, sizeof(d->config), "%s/override.json", d->dir);
	ck_assert_int_eq(
	    it_write_file(d->config,
			  fmt("{\"listen\":\"127.0.0.1:9\",\"dataDir\":\"%s\"}", elsewhere)),
	    0);
	ck_assert_msg(authd_start(d, ADMIN_PW) == 0, "authd did not start; its log is above");
	expect_alive();
	ck_assert_msg(access(elsewhere, F_OK) != 0, "the config's dataDir was used");
	ck_assert_msg(access(fmt("%s/authd.db", d->dir), F_OK) == 0, "no database in --data-dir");
	expect_clean_exit(authd_stop(d), "SIGTERM");
	authd_free(d);
}
END_TEST

/* ---- this process among replicas: /_ping and GET /api/cluster ---- */

/* "2026-12-07T12:50:30Z" as seconds since the epoch; -1 when it is not that form. */
static long long seconds_of(const char *rfc3339)
{
	struct tm tm = {0};
	const char *end = rfc3339 ? strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;

	return end != NULL && *end == '\0' ? (long long)timegm(&tm) : -1;
}

/*
 * One authd alone (SQLite's only case; on PostgreSQL, alone on its
 * database): /_ping answers OK, and the cluster lists this process, named
 * by replica.name, started when it started, seen now, as the one that
 * answered; the answering process's row is written to the store at start.
 */
START_TEST(test_cluster_of_one)
{
	long long before = (long long)time(NULL), started;
	struct reply *r;
	json_t *one;

	start_own("{\"replica\":{\"name\":\"solo-replica\"}}", ADMIN_PW);
	r = call("GET", NULL, NULL, "/_ping");
	expect_status(r, 200);
	ck_assert_str_eq(r->body, "OK");
	admin = (char *)login_as("admin", ADMIN_PW);
	r = call("GET", admin, NULL, "/api/cluster");
	expect_status(r, 200);
	ck_assert_str_eq(jstr(r->json, "answeredBy"), "solo-replica");
	ck_assert_uint_eq(json_array_size(jpath(r->json, "replicas")), 1);
	one = jpath(r->json, "replicas.0");
	ck_assert_str_eq(jstr(one, "name"), "solo-replica");
	ck_assert_msg(jstr(one, "version") != NULL && jstr(one, "version")[0] != '\0',
		      "no version: %s", r->body);
	started = seconds_of(jstr(one, "startedAt"));
	ck_assert_msg(started >= before - 1 && started <= (long long)time(NULL) + 1,
		      "startedAt is not this start: %s", r->body);
	ck_assert_msg(seconds_of(jstr(one, "lastSeen")) >= started, "lastSeen: %s", r->body);
	ck_assert_int_eq(jbool(one, "live"), 1);
	/* one process follows no sequence on SQLite; on PostgreSQL it has read its own changes */
	if (it_pg_wanted())
		ck_assert_int_ge(jint(one, "appliedSeq", -1), 0);
	else
		ck_assert_int_eq(jint(one, "appliedSeq", -1), 0);
	expect_error(call("GET", NULL, NULL, "/api/cluster"), 401, "UNAUTHORIZED", NULL);
	expect_clean_exit(authd_stop(srv), "SIGTERM");
	authd_free(srv);
}
END_TEST

/* ---- suites ---- */

static Suite *process_suite(void)
{
	Suite *s = suite_create("process");
	TCase *tc = server_case("lifecycle", NULL, NULL, TEST_TIMEOUT);

	tcase_add_test(tc, test_restart_keeps_state);
	tcase_add_test(tc, test_signals_exit_zero);
	tcase_add_test(tc, test_sigterm_drains);
	tcase_add_test(tc, test_first_start_generated_password);
	tcase_add_test(tc, test_config_refusals);
	tcase_add_test(tc, test_command_line);
	tcase_add_test(tc, test_flags_override_config);
	tcase_add_test(tc, test_cluster_of_one);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_api_suite(process_suite);
}
