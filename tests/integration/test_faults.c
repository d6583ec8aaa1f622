/*
 * Fault injection against the real authd binary; each server is the test's
 * own and is stopped by its pid.
 * - SIGKILL in the middle of a burst of concurrent writes: every write that
 *   was answered 2xx survives, and the store is whole;
 * - a wall clock that jumps under the running server (libfaketime): idle and
 *   absolute session expiry hold, forwards and back (SPEC §3); the session
 *   settings' renewal threshold renews a session only near its end, and a
 *   lowered lifetime ends older sessions at once (README, "Sessions");
 * - on PostgreSQL, its server stopped (a fast shutdown, or its postmaster
 *   killed) under a burst of writes, reads and decisions and started again:
 *   requests that need the store are answered 503 STORE_UNAVAILABLE
 *   meanwhile, never 500, and once it is back authd reconnects by itself and
 *   every write answered 2xx is there;
 * - run with the argument "disk-full", alone: a disk that fills up under the
 *   data dir (a small tmpfs it mounts), or on PostgreSQL under the database's
 *   tablespace: writes refused with 507 change nothing, reads are served,
 *   writes succeed again once there is room (README, "The API").
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"
#include "pgcluster.h"

#define ADMIN_PW "Faults-Admin-Pw-1"
#define USER_PW "Faults-User-Pw-1"
#define NEW_PW "Faults-New-Pw-2"
#define ACCOUNTS "/enzi/v0/accounts"
#define TEST_TIMEOUT 100

#define call(method, token, body, ...) call_to(srv, method, token, body, __VA_ARGS__)

/* What a write answers while the disk under the data dir is full (README, "The API"). */
#define FULL_STATUS 507
#define FULL_CODE "STORAGE_FULL"

/* ---- shared checks ---- */

/* A server of the test's own, not started yet; the exit hook stops it if the test fails. */
static void new_server(const char *parent, const char *config)
{
	srv = authd_new_in(parent, config);
	ck_assert_msg(srv != NULL, "cannot make a data dir under %s",
		      parent ? parent : "the suite");
}

/* SIGTERM: authd must exit 0 (SPEC §1), whatever it went through. */
static void expect_clean_stop(void)
{
	int status = authd_stop(srv);

	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "authd did not exit 0 on SIGTERM (wait status %d); its log is %s", status,
		      srv->log);
}

/*
 * SQLite's own checks of the database in dir: every page and index whole, no
 * dangling row. On PostgreSQL the server keeps its files whole and its keys
 * checked; the store must answer.
 */
static void expect_store_whole(const struct authd *s)
{
	static const char *const tools[] = {"sqlite3", NULL};
	const char *dir = s->dir;
	struct ran r;

	if (s->dsn[0] != '\0') {
		char *n = it_pg_query(s->dsn, "SELECT count(*) FROM accounts");

		ck_assert_msg(n != NULL && atoi(n) > 0, "the store on PostgreSQL does not answer");
		free(n);
		return;
	}
	require_tools(tools);
	r = sh(NULL,
	       "sqlite3 -batch '%s/authd.db' 'PRAGMA integrity_check; PRAGMA foreign_key_check'",
	       dir);
	expect_ran(r, 0);
	ck_assert_msg(strcmp(chomp(r.out), "ok") == 0, "the store in %s is damaged:\n%.1500s", dir,
		      r.out);
}

static struct reply *login(const char *name, const char *password)
{
	return call("POST", NULL, jbody("{s:s, s:s}", "username", name, "password", password),
		    "/auth/login");
}

static const char *login_ok(const char *name, const char *password)
{
	struct reply *r = login(name, password);

	expect_status(r, 200);
	ck_assert_msg(jstr(r->json, "auth_token") != NULL, "a login without auth_token");
	return jstr(r->json, "auth_token");
}

/* ---- authd killed in the middle of a burst of writes ---- */

#define WRITERS 4
#define KILL_AFTER 80	     /* writes answered before the kill */
#define WRITER_ROUNDS 100000 /* a bound only: the kill comes long before */

/* How a writer ended: its exit code. */
enum { WRITER_CUT = 0, WRITER_REFUSED = 1, WRITER_DONE = 2, WRITER_BROKEN = 3 };

/* Appends a line to the writer's log in one write(2), so that a reader never sees half of it. */
__attribute__((format(printf, 2, 3))) static void note(int fd, const char *f, ...)
{
	char line[640];
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(line, sizeof(line) - 1, f, ap);
	va_end(ap);
	if (n < 0 || n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(fd, line, (size_t)n) != n)
		_exit(WRITER_BROKEN);
}

/* A writer's write answered 503 STORE_UNAVAILABLE while its database is away: it goes on. */
#define WROTE_NOTHING (-2)
/* Set in writers that run through the database server's absence, where 503s are expected. */
static bool through_absence;

static bool unavailable(const struct reply *r)
{
	const char *code = r->json ? jstr(r->json, "errors.0.code") : NULL;

	return r->status == 503 && code != NULL && strcmp(code, "STORE_UNAVAILABLE") == 0;
}

/*
 * One write of a writer, as admin. Returns -1 when authd answered 2xx (with
 * the new object's id in id, when there is one), WROTE_NOTHING for a 503
 * STORE_UNAVAILABLE when through_absence (noted); otherwise the writer's
 * exit code: the connection was cut (the kill), or authd refused.
 */
static int write_one(int fd, const char *method, const char *path, const char *body, char *id,
		     size_t idlen)
{
	struct reply r;
	int rc = -1;

	http_call(srv, method, path, admin, body, NULL, &r);
	if (through_absence && unavailable(&r)) {
		note(fd, "unavailable %s", r.what);
		rc = WROTE_NOTHING;
	} else if (r.status == 0) {
		rc = WRITER_CUT;
	} else if (r.status / 100 != 2) {
		note(fd, "refused %ld %s %.300s", r.status, r.what, r.body);
		rc = WRITER_REFUSED;
	} else if (id != NULL) {
		snprintf(id, idlen, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
	}
	reply_free(&r);
	return rc;
}

/*
 * Whether a write_one was answered 2xx; a writer that must stop exits here.
 * A write that wrote nothing ends its round: what followed needs it.
 */
static bool wrote(int rc)
{
	if (rc >= 0)
		_exit(rc);
	if (rc == WROTE_NOTHING)
		it_sleep_ms(20);
	return rc == -1;
}

/*
 * A writer: an org, a team in it and a grant to that team each round, a
 * user every fourth, each noted in its log once authd answered 2xx, until
 * the connection is cut. Runs in a child process and never returns.
 */
static void writer(int w, const char *log)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	char org[32], path[160], body[160], team_id[64];

	if (fd < 0)
		_exit(WRITER_BROKEN);
	for (int i = 0; i < WRITER_ROUNDS; i++) {
		snprintf(org, sizeof(org), "kw%d-%d", w, i);
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"isOrg\":true}", org);
		if (!wrote(write_one(fd, "POST", ACCOUNTS, body, NULL, 0)))
			continue;
		note(fd, "org %s", org);
		snprintf(path, sizeof(path), ACCOUNTS "/%s/teams", org);
		if (!wrote(write_one(fd, "POST", path, "{\"name\":\"t\",\"description\":\"burst\"}",
				     team_id, sizeof(team_id))))
			continue;
		note(fd, "team %s t", org);
		snprintf(path, sizeof(path), "/collectionGrants/%s/shared/viewonly", team_id);
		if (!wrote(write_one(fd, "PUT", path, NULL, NULL, 0)))
			continue;
		note(fd, "grant %s", team_id);
		if (i % 4 != 0)
			continue;
		snprintf(body, sizeof(body), "{\"name\":\"ku%d-%d\",\"password\":\"" USER_PW "\"}",
			 w, i);
		if (!wrote(write_one(fd, "POST", ACCOUNTS, body, NULL, 0)))
			continue;
		note(fd, "user ku%d-%d", w, i);
	}
	_exit(WRITER_DONE);
}

/* A child process of the burst, running body(w, log); it never returns. */
static pid_t start_child(void (*body)(int w, const char *log), int w, const char *log)
{
	pid_t parent = getpid(), pid;

	http_close(); /* the child must make its own connection, not share ours */
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* a failing test exits at once: its writers go with it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(WRITER_BROKEN);
		body(w, log);
	}
	return pid;
}

static pid_t start_writer(int w, const char *log)
{
	return start_child(writer, w, log);
}

/* The lines of a log that note an answered write (not a 503 while the database was away). */
static long lines_in(const char *path)
{
	char *text = it_read_file(path, NULL);
	long n = 0;

	for (const char *p = text, *eol; p != NULL && (eol = strchr(p, '\n')) != NULL; p = eol + 1)
		n += strncmp(p, "unavailable ", 12) != 0;
	free(text);
	return n;
}

static bool has_grant(json_t *grants, const char *subject)
{
	for (size_t i = 0; i < json_array_size(grants); i++) {
		json_t *g = json_array_get(grants, i);

		if (strcmp(jstr(g, "subjectID"), subject) == 0 &&
		    strcmp(jstr(g, "objectID"), "shared") == 0 &&
		    strcmp(jstr(g, "roleID"), "viewonly") == 0)
			return true;
	}
	return false;
}

/* Every write of a writer's log is in the store; how many there were. */
static int expect_logged_writes(const char *log, json_t *grants)
{
	char *text = (char *)read_text(log), *save = NULL, a[128], b[128];
	int n = 0;

	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save), n++) {
		if (sscanf(line, "org %127s", a) == 1 || sscanf(line, "user %127s", a) == 1)
			expect_status(call("GET", admin, NULL, ACCOUNTS "/%s", a), 200);
		else if (sscanf(line, "team %127s %127s", a, b) == 2)
			expect_status(call("GET", admin, NULL, ACCOUNTS "/%s/teams/%s", a, b), 200);
		else if (sscanf(line, "grant %127s", a) == 1)
			ck_assert_msg(has_grant(grants, a),
				      "%s: the grant to %s was answered 2xx, and is gone", log, a);
		else if (strncmp(line, "unavailable ", 12) == 0)
			n--; /* refused while the database was away: nothing to find */
		else
			ck_abort_msg("%s: a write was not answered 2xx: %s", log, line);
	}
	return n;
}

/* Every user has its private collection: no account was written without it. */
static void expect_private_collections(void)
{
	struct reply *r = call("GET", admin, NULL, ACCOUNTS "?filter=users&limit=1000");
	json_t *users = jpath(r->json, "accounts");

	expect_status(r, 200);
	for (size_t i = 0; i < json_array_size(users); i++)
		expect_status(call("GET", admin, NULL, "/collectionByPath?path=/Shared/Private/%s",
				   jstr(json_array_get(users, i), "name")),
			      200);
}

START_TEST(test_killed_during_a_burst_of_writes)
{
	pid_t pids[WRITERS];
	const char *logs[WRITERS];
	double deadline = it_now() + 60;
	long answered = 0;
	int checked = 0;
	json_t *grants;

	new_server(NULL, NULL);
	start_srv(ADMIN_PW);
	for (int w = 0; w < WRITERS; w++) {
		logs[w] = fmt("%s/writer-%d.log", wd, w);
		pids[w] = start_writer(w, logs[w]);
	}
	while (answered < KILL_AFTER && it_now() < deadline) {
		it_sleep_ms(10);
		answered = 0;
		for (int w = 0; w < WRITERS; w++)
			answered += lines_in(logs[w]);
	}
	ck_assert_msg(answered >= KILL_AFTER, "the writers made %ld writes in 60 s", answered);
	authd_stop_with(srv, SIGKILL);
	ck_assert_msg(WIFSIGNALED(srv->last_status) && WTERMSIG(srv->last_status) == SIGKILL,
		      "authd ended with wait status %d, not by the SIGKILL", srv->last_status);
	/* every writer was still writing: its connection was cut, nothing was refused */
	for (int w = 0; w < WRITERS; w++) {
		int status = 0;

		ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == WRITER_CUT,
			      "writer %d ended with wait status %d; its log:\n%.1500s", w, status,
			      read_text(logs[w]));
	}

	free(admin);
	admin = NULL;
	start_srv(ADMIN_PW);
	expect_store_whole(srv);
	grants = jpath(call("GET", admin, NULL, "/collectionGrants")->json, "grants");
	ck_assert_msg(json_is_array(grants), "GET /collectionGrants without grants");
	for (int w = 0; w < WRITERS; w++)
		checked += expect_logged_writes(logs[w], grants);
	ck_assert_int_ge(checked, KILL_AFTER);
	expect_private_collections();
	/* the passwords written in the burst still work */
	login_ok("ku0-0", USER_PW);
	expect_clean_stop();
	teardown_server();
}
END_TEST

/* ---- the disk under the data dir fills up ---- */

#define SPILL_MAX 1000
#define SETTLE_SECONDS 2.5 /* over two of authd's checkpoints, one a second */

static char small_disk[IT_PATH_LEN];
static int small_disk_errno = -1; /* 0 while the tmpfs is mounted */

/* Mounts the small disk's tmpfs (8 MiB) at dir; 0, or mount(2)'s errno. */
static int mount_tmpfs(const char *dir)
{
	return mount("authd-faults", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0700") == 0
		   ? 0
		   : errno;
}

/*
 * Whether this process may mount a tmpfs at all (it needs root, or
 * CAP_SYS_ADMIN over its mount namespace): tried on a dir of its own before
 * any test runs, so that a test that cannot run is reported as skipped, not
 * as passed. 0, or the errno of the refusal.
 */
static int try_mount_tmpfs(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[IT_PATH_LEN];
	int err;

	snprintf(dir, sizeof(dir), "%s/authd-faults-mount-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		return errno;
	err = mount_tmpfs(dir);
	if (err == 0 && umount2(dir, 0) != 0)
		err = errno;
	rmdir(dir);
	return err;
}

/*
 * The unchecked setup, in the process that runs the suite: a failing test
 * exits at once, and the teardown here unmounts after it all the same.
 */
static void mount_small_disk(void)
{
	/* on PostgreSQL the server's user must reach it: the cluster's folder is open to it */
	snprintf(small_disk, sizeof(small_disk), "%s/small-disk",
		 it_pg_wanted() ? it_pg_dir() : suite_dir);
	if (mkdir(small_disk, 0700) != 0) {
		small_disk_errno = errno;
		return;
	}
	small_disk_errno = mount_tmpfs(small_disk);
}

/* On PostgreSQL, the DSN of the database whose tablespace is on the small disk. */
static char small_dsn[IT_PATH_LEN];

static void unmount_small_disk(void)
{
	int tries = 0;

	/* the server keeps its files open until the database and its tablespace are gone */
	if (small_dsn[0] != '\0')
		it_pg_database_drop(small_dsn);
	small_dsn[0] = '\0';
	/* a failed test's server dies by its parent-death signal, maybe not quite yet */
	while (small_disk_errno == 0 && umount2(small_disk, 0) != 0 && ++tries < 40)
		it_sleep_ms(50);
	/* still busy: detached now, and freed once its last user is gone */
	if (tries == 40 && umount2(small_disk, MNT_DETACH) != 0)
		fprintf(stderr, "cannot unmount %s: %s\n", small_disk, strerror(errno));
	rmdir(small_disk);
	small_disk_errno = -1;
}

/* Fills what the small disk has left with one file; its path. */
static const char *fill_disk(void)
{
	static const char block[1 << 16];
	const char *path = fmt("%s/filler", small_disk);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct statvfs st;
	ssize_t n;

	ck_assert_msg(fd >= 0, "cannot make %s: %s", path, strerror(errno));
	while ((n = write(fd, block, sizeof(block))) > 0)
		;
	ck_assert_msg(n < 0 && errno == ENOSPC, "filling %s stopped with: %s", path,
		      strerror(errno));
	close(fd);
	ck_assert_msg(statvfs(small_disk, &st) == 0 && st.f_bavail == 0, "%s is not full",
		      small_disk);
	return path;
}

static void expect_full(const struct reply *r)
{
	const char *msg;

	expect_error(r, FULL_STATUS, FULL_CODE, NULL);
	/* the client learns what happened, and that it need not undo anything */
	msg = jstr(r->json, "errors.0.message");
	ck_assert_msg(strstr(msg, "out of space") != NULL &&
			  strstr(msg, "nothing was changed") != NULL,
		      "%s: a full disk's message says neither what nor what not: %s", r->what, msg);
}

/*
 * Creates orgs df-spill-N until the store refuses them for good, and marks
 * in made[] which were answered 201; how many it tried. The write-ahead log
 * may have room left after the disk is full, and a checkpoint may free
 * some, so the refusals must hold past a few checkpoints.
 */
static int spill(bool made[SPILL_MAX])
{
	double since = 0;

	for (int i = 0; i < SPILL_MAX; i++) {
		char body[96];
		struct reply r;

		snprintf(body, sizeof(body), "{\"name\":\"df-spill-%d\",\"isOrg\":true}", i);
		http_call(srv, "POST", ACCOUNTS, admin, body, NULL, &r);
		made[i] = r.status == 201;
		if (!made[i])
			expect_full(&r);
		reply_free(&r);
		if (made[i]) {
			since = 0;
			continue;
		}
		if (since == 0)
			since = it_now();
		else if (it_now() - since > SETTLE_SECONDS)
			return i + 1;
		it_sleep_ms(100);
	}
	ck_abort_msg("%d orgs were created on a full disk, and the store never refused for good",
		     SPILL_MAX);
	return SPILL_MAX;
}

/* Each org df-spill-N of the n tried is there exactly when it was answered 201. */
static void expect_spilled(const bool made[SPILL_MAX], int n)
{
	for (int i = 0; i < n; i++) {
		char path[96];
		struct reply r;

		snprintf(path, sizeof(path), ACCOUNTS "/df-spill-%d", i);
		http_call(srv, "GET", path, admin, NULL, NULL, &r);
		ck_assert_msg(r.status == (made[i] ? 200 : 404), "%s: %ld after a %s create", path,
			      r.status, made[i] ? "201" : "refused");
		reply_free(&r);
	}
}

/*
 * The smallest write, one page: a PATCH of an org's full name. Past the
 * refusals of larger writes, the room left in the log's last page may still
 * take one; they go on until one is refused too, and then nothing fits.
 */
static void exhaust_with_patches(void)
{
	const char *last = "";

	for (int i = 0; i < 50; i++) {
		const char *name = fmt("pad-%d", i);
		struct reply *r =
		    call("PATCH", admin, jbody("{s:s}", "fullName", name), ACCOUNTS "/df-pad");

		if (r->status != 200) {
			expect_full(r);
			ck_assert_str_eq(
			    jstr(call("GET", admin, NULL, ACCOUNTS "/df-pad")->json, "fullName"),
			    last);
			return;
		}
		last = name;
	}
	ck_abort_msg("50 changes were answered 200 on a full disk");
}

/* While the disk is full, every write is refused and changes nothing. */
static void expect_writes_refused(const char *user_token, const char *user_id)
{
	const char *grant = fmt("/collectionGrants/%s/shared/viewonly", user_id);

	expect_full(
	    call("POST", admin, jbody("{s:s, s:b}", "name", "df-org2", "isOrg", 1), ACCOUNTS));
	expect_full(call("POST", admin,
			 jbody("{s:s, s:s}", "name", "df-user2", "password", USER_PW), ACCOUNTS));
	expect_full(
	    call("PATCH", admin, jbody("{s:s}", "fullName", "Changed"), ACCOUNTS "/df-user"));
	expect_full(
	    call("POST", admin, jbody("{s:s}", "name", "df-team2"), ACCOUNTS "/df-org/teams"));
	expect_full(call("PUT", admin, NULL, "%s", grant));
	expect_full(login("df-user", USER_PW));
	/* a token the store could not forget still works: the logout must not say otherwise */
	expect_full(call("POST", user_token, NULL, "/auth/logout"));
	expect_status(call("GET", user_token, NULL, ACCOUNTS "/df-user"), 200);
	/* a wrong password writes nothing and is answered as usual */
	expect_error(login("df-user", "Wrong-Passw0rd-1"), 401, "UNAUTHORIZED", NULL);

	expect_status(call("GET", admin, NULL, ACCOUNTS "/df-org2"), 404);
	expect_status(call("GET", admin, NULL, ACCOUNTS "/df-user2"), 404);
	expect_status(call("GET", admin, NULL, "/collectionByPath?path=/Shared/Private/df-user2"),
		      404);
	ck_assert_str_eq(jstr(call("GET", admin, NULL, ACCOUNTS "/df-user")->json, "fullName"),
			 "Before");
	expect_status(call("GET", admin, NULL, ACCOUNTS "/df-org/teams/df-team2"), 404);
	ck_assert_msg(
	    !has_grant(jpath(call("GET", admin, NULL, "/collectionGrants")->json, "grants"),
		       user_id),
	    "a refused grant was stored");
}

/*
 * changePassword writes the new hash and ends the account's other sessions
 * in one transaction: on a full disk neither happens, whoever asks. The old
 * password is let in as far as the session's write (507), the new one not.
 */
static void expect_password_kept(const char *user_token, const char *other_token)
{
	expect_full(call("POST", user_token,
			 jbody("{s:s, s:s}", "oldPassword", USER_PW, "newPassword", NEW_PW),
			 ACCOUNTS "/df-user/changePassword"));
	expect_full(call("POST", admin, jbody("{s:s}", "newPassword", NEW_PW),
			 ACCOUNTS "/df-user/changePassword"));
	expect_full(login("df-user", USER_PW));
	expect_error(login("df-user", NEW_PW), 401, "UNAUTHORIZED", NULL);
	expect_status(call("GET", user_token, NULL, ACCOUNTS "/df-user"), 200);
	expect_status(call("GET", other_token, NULL, ACCOUNTS "/df-user"), 200);
}

/*
 * With room again, the old password and session were kept in the store (a
 * write since made every token be read from it again); a change of its own
 * password ends the user's other sessions and keeps the caller's (README).
 */
static void expect_password_changes(const char *user_token, const char *other_token)
{
	const char *third;

	expect_status(call("GET", other_token, NULL, ACCOUNTS "/df-user"), 200);
	third = login_ok("df-user", USER_PW);
	expect_status(call("POST", user_token,
			   jbody("{s:s, s:s}", "oldPassword", USER_PW, "newPassword", NEW_PW),
			   ACCOUNTS "/df-user/changePassword"),
		      200);
	expect_error(call("GET", other_token, NULL, ACCOUNTS "/df-user"), 401, "UNAUTHORIZED",
		     NULL);
	expect_error(call("GET", third, NULL, ACCOUNTS "/df-user"), 401, "UNAUTHORIZED", NULL);
	expect_status(call("GET", user_token, NULL, ACCOUNTS "/df-user"), 200);
	expect_error(login("df-user", USER_PW), 401, "UNAUTHORIZED", NULL);
	login_ok("df-user", NEW_PW);
}

/* Reads need no room: they are served while the disk is full. */
static void expect_reads_served(const char *user_token)
{
	struct reply *r = call("GET", NULL, NULL, "/_ping");

	expect_status(r, 200);
	ck_assert_str_eq(r->body, "OK");
	expect_status(call("GET", user_token, NULL, ACCOUNTS "/df-user"), 200);
	expect_status(call("GET", admin, NULL, ACCOUNTS "?filter=orgs&limit=1000"), 200);
	expect_status(call("GET", admin, NULL, ACCOUNTS "/df-org/teams/df-team"), 200);
	expect_status(call("GET", admin, NULL, "/collectionGrants"), 200);
	ck_assert_msg(kill(srv->pid, 0) == 0, "authd %d is gone", (int)srv->pid);
}

/* Once there is room again, the same writes succeed, without a restart. */
static void expect_writes_again(const char *user_token, const char *other_token,
				const char *user_id)
{
	expect_status(
	    call("POST", admin, jbody("{s:s, s:b}", "name", "df-org2", "isOrg", 1), ACCOUNTS), 201);
	expect_status(call("POST", admin,
			   jbody("{s:s, s:s}", "name", "df-user2", "password", USER_PW), ACCOUNTS),
		      201);
	expect_status(
	    call("PATCH", admin, jbody("{s:s}", "fullName", "Changed"), ACCOUNTS "/df-user"), 200);
	ck_assert_str_eq(jstr(call("GET", admin, NULL, ACCOUNTS "/df-user")->json, "fullName"),
			 "Changed");
	expect_status(
	    call("POST", admin, jbody("{s:s}", "name", "df-team2"), ACCOUNTS "/df-org/teams"), 201);
	expect_status(call("PUT", admin, NULL, "/collectionGrants/%s/shared/viewonly", user_id),
		      201);
	login_ok("df-user2", USER_PW);
	expect_password_changes(user_token, other_token);
	expect_status(call("POST", user_token, NULL, "/auth/logout"), 204);
	expect_error(call("GET", user_token, NULL, ACCOUNTS "/df-user"), 401, "UNAUTHORIZED", NULL);
}

START_TEST(test_disk_full)
{
	static bool made[SPILL_MAX];
	const char *user_id, *user_token, *other_token, *filler;
	int spilled;

	ck_assert_msg(small_disk_errno == 0, "cannot mount a tmpfs at %s: %s", small_disk,
		      strerror(small_disk_errno));
	new_server(small_disk, NULL);
	start_srv(ADMIN_PW);
	user_id = jstr(call("POST", admin,
			    jbody("{s:s, s:s, s:s}", "name", "df-user", "password", USER_PW,
				  "fullName", "Before"),
			    ACCOUNTS)
			   ->json,
		       "id");
	ck_assert_msg(user_id != NULL, "df-user was not created");
	expect_status(
	    call("POST", admin, jbody("{s:s, s:b}", "name", "df-org", "isOrg", 1), ACCOUNTS), 201);
	expect_status(
	    call("POST", admin, jbody("{s:s}", "name", "df-team"), ACCOUNTS "/df-org/teams"), 201);
	expect_status(
	    call("POST", admin, jbody("{s:s, s:b}", "name", "df-pad", "isOrg", 1), ACCOUNTS), 201);
	user_token = login_ok("df-user", USER_PW);
	other_token = login_ok("df-user", USER_PW);

	filler = fill_disk();
	spilled = spill(made);
	exhaust_with_patches();
	expect_writes_refused(user_token, user_id);
	expect_password_kept(user_token, other_token);
	expect_reads_served(user_token);
	expect_spilled(made, spilled);

	ck_assert_msg(unlink(filler) == 0, "cannot remove %s", filler);
	expect_writes_again(user_token, other_token, user_id);
	expect_clean_stop();
	expect_store_whole(srv);
	teardown_server();
}
END_TEST

/*
 * The database server's disk fills up (PostgreSQL, SQLSTATE 53100): authd's
 * tables are in a tablespace on the small tmpfs. The server refuses what
 * needs more room (a table or index that must grow) and nothing else: the
 * writes that must grow the full accounts table are answered 507 and change
 * nothing, reads are served, and once there is room writes succeed again.
 */
START_TEST(test_database_disk_full)
{
	static bool made[SPILL_MAX];
	const char *user_token, *filler;
	json_t *config;
	char *text;
	int spilled;

	ck_assert_msg(small_disk_errno == 0, "cannot mount a tmpfs at %s: %s", small_disk,
		      strerror(small_disk_errno));
	ck_assert_int_eq(it_pg_database_in(small_disk, small_dsn, sizeof(small_dsn)), 0);
	config = json_pack("{s:{s:s, s:s}}", "store", "driver", "postgres", "dsn", small_dsn);
	text = json_dumps(config, 0);
	json_decref(config);
	new_server(NULL, text);
	free(text);
	snprintf(srv->dsn, sizeof(srv->dsn), "%s", small_dsn);
	start_srv(ADMIN_PW);
	expect_status(call("POST", admin,
			   jbody("{s:s, s:s, s:s}", "name", "df-user", "password", USER_PW,
				 "fullName", "Before"),
			   ACCOUNTS),
		      201);
	expect_status(
	    call("POST", admin, jbody("{s:s, s:b}", "name", "df-org", "isOrg", 1), ACCOUNTS), 201);
	expect_status(
	    call("POST", admin, jbody("{s:s}", "name", "df-team"), ACCOUNTS "/df-org/teams"), 201);
	user_token = login_ok("df-user", USER_PW);

	filler = fill_disk();
	spilled = spill(made);
	/* a user is its account and its private collection: neither is written alone */
	expect_full(
	    call("POST", admin, jbody("{s:s, s:b}", "name", "df-org2", "isOrg", 1), ACCOUNTS));
	expect_full(call("POST", admin,
			 jbody("{s:s, s:s}", "name", "df-user2", "password", USER_PW), ACCOUNTS));
	expect_status(call("GET", admin, NULL, ACCOUNTS "/df-org2"), 404);
	expect_status(call("GET", admin, NULL, ACCOUNTS "/df-user2"), 404);
	expect_status(call("GET", admin, NULL, "/collectionByPath?path=/Shared/Private/df-user2"),
		      404);
	expect_reads_served(user_token);
	expect_spilled(made, spilled);

	ck_assert_msg(unlink(filler) == 0, "cannot remove %s", filler);
	expect_status(
	    call("POST", admin, jbody("{s:s, s:b}", "name", "df-org2", "isOrg", 1), ACCOUNTS), 201);
	expect_status(call("POST", admin,
			   jbody("{s:s, s:s}", "name", "df-user2", "password", USER_PW), ACCOUNTS),
		      201);
	expect_status(call("GET", admin, NULL, "/collectionByPath?path=/Shared/Private/df-user2"),
		      200);
	login_ok("df-user2", USER_PW);
	expect_clean_stop();
	expect_store_whole(srv);
	teardown_server();
}
END_TEST

/* ---- the wall clock jumps under the running server ---- */

/*
 * libfaketime makes a semaphore and a shared memory object named after the
 * process, and removes them only when the process exits normally. The test
 * leaves its server's pid here; the unchecked teardown, which runs even
 * when the test failed and its server was killed, removes what is left.
 */
static char faketime_pid_file[IT_PATH_LEN];

static void setup_clock_case(void)
{
	snprintf(faketime_pid_file, sizeof(faketime_pid_file), "%s/faketime-server.pid", suite_dir);
}

static void remove_faketime_leftovers(void)
{
	char *text = it_read_file(faketime_pid_file, NULL), name[64];
	long pid = text != NULL ? strtol(text, NULL, 10) : 0;

	free(text);
	unlink(faketime_pid_file);
	if (pid <= 0)
		return;
	snprintf(name, sizeof(name), "/faketime_shm_%ld", pid);
	shm_unlink(name);
	snprintf(name, sizeof(name), "/faketime_sem_%ld", pid);
	sem_unlink(name);
}

/* The token is honoured (200) or refused (401) with the clock at `offset`. */
static void expect_token(const char *token, long status, const char *offset)
{
	struct reply *r = call("GET", token, NULL, ACCOUNTS "/admin");

	ck_assert_msg(r->status == status, "clock %s: a token was answered %ld, expected %ld: %s",
		      offset, r->status, status, r->body);
	if (status == 401)
		expect_error(r, 401, "UNAUTHORIZED", NULL);
}

START_TEST(test_clock_jumps)
{
	static const char *const used[] = {"+14m", "+18m", "+22m", "+26m", "+29m"};
	const char *lib = faketime_lib(), *clock = fmt("%s/faketime", wd);
	const char *first, *second, *third;

	ck_assert_msg(lib != NULL,
		      "libfaketime is not installed: scripts/install-deps.sh --test installs it");
	/* idle expiry after 5 minutes unused, absolute 20 minutes after the login */
	new_server(NULL, "{\"session\":{\"idleMinutes\":5,\"absoluteMinutes\":20}}");
	fake_clock(srv, lib, clock);
	set_clock(clock, "+0");
	start_srv(ADMIN_PW);
	ck_assert_int_eq(it_write_file(faketime_pid_file, fmt("%d", (int)srv->pid)), 0);
	first = admin;
	expect_token(first, 200, "+0");
	set_clock(clock, "+4m");
	expect_token(first, 200, "+4m");

	/* unused for 6 minutes: idle expiry; a new login works */
	set_clock(clock, "+10m");
	expect_token(first, 401, "+10m");
	second = login_ok("admin", ADMIN_PW);
	expect_token(second, 200, "+10m");

	/* used every few minutes, it still ends 20 minutes after its login */
	for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
		set_clock(clock, used[i]);
		expect_token(second, 200, used[i]);
	}
	set_clock(clock, "+31m");
	expect_token(second, 401, "+31m");
	third = login_ok("admin", ADMIN_PW);
	expect_token(third, 200, "+31m");

	/* back before all of it: what expired stays expired, and the server carries on */
	set_clock(clock, "-1h");
	expect_token(first, 401, "-1h");
	expect_token(second, 401, "-1h");
	expect_token(third, 200, "-1h");
	expect_token(login_ok("admin", ADMIN_PW), 200, "-1h");
	expect_status(call("GET", NULL, NULL, "/_ping"), 200);
	expect_clean_stop();
	teardown_server();
}
END_TEST

static void put_sessions(const char *token, const char *sessions, const char *offset)
{
	struct reply *r =
	    call("PUT", token, fmt("{\"sessions\":%s}", sessions), "/enzi/v0/config/auth");

	ck_assert_msg(r->status == 200, "clock %s: PUT sessions %s answered %ld: %s", offset,
		      sessions, r->status, r->body);
}

START_TEST(test_session_settings_against_the_clock)
{
	const char *lib = faketime_lib(), *clock = fmt("%s/faketime", wd);
	const char *renewed, *never, *old, *young, *now;
	struct reply *r;

	ck_assert_msg(lib != NULL,
		      "libfaketime is not installed: scripts/install-deps.sh --test installs it");
	new_server(NULL, "{\"session\":{\"idleMinutes\":30,\"absoluteMinutes\":120}}");
	fake_clock(srv, lib, clock);
	set_clock(clock, "+0");
	start_srv(ADMIN_PW);
	ck_assert_int_eq(it_write_file(faketime_pid_file, fmt("%d", (int)srv->pid)), 0);

	/* lifetime 10, threshold 3: only a use in a session's last 3 minutes renews it */
	put_sessions(admin, "{\"lifetimeMinutes\":10,\"renewalThresholdMinutes\":3}", "+0");
	renewed = login_ok("admin", ADMIN_PW);
	set_clock(clock, "+5m");
	expect_token(renewed, 200, "+5m"); /* 5 minutes left: not renewed */
	set_clock(clock, "+9m");
	expect_token(renewed, 200, "+9m"); /* 1 minute left: renewed until +19m */
	set_clock(clock, "+12m");
	expect_token(renewed, 200, "+12m"); /* alive past +10m; 7 minutes left: not renewed */
	set_clock(clock, "+20m");
	expect_token(renewed, 401, "+20m");

	/* threshold 0: no use renews, the lifetime runs from the login */
	now = login_ok("admin", ADMIN_PW);
	put_sessions(now, "{\"renewalThresholdMinutes\":0}", "+20m");
	never = login_ok("admin", ADMIN_PW);
	set_clock(clock, "+29m");
	expect_token(never, 200, "+29m");
	set_clock(clock, "+31m");
	expect_token(never, 401, "+31m");

	/* a lowered lifetime ends the sessions older than it at once, and only those */
	now = login_ok("admin", ADMIN_PW);
	put_sessions(now, "{\"lifetimeMinutes\":30}", "+31m");
	old = login_ok("admin", ADMIN_PW);
	set_clock(clock, "+51m");
	young = login_ok("admin", ADMIN_PW);
	set_clock(clock, "+56m");
	now = login_ok("admin", ADMIN_PW);
	expect_token(old, 200, "+56m");
	put_sessions(now, "{\"lifetimeMinutes\":10}", "+56m");
	expect_token(old, 401, "+56m");
	expect_token(young, 200, "+56m");
	expect_token(now, 200, "+56m");
	/* raised again, it lengthens the live sessions but brings back none that ended */
	put_sessions(now, "{\"lifetimeMinutes\":60}", "+56m");
	expect_token(old, 401, "+56m");
	set_clock(clock, "+70m");
	expect_token(young, 200, "+70m");

	/* the saved settings and the sessions outlive a restart, over the config file's */
	expect_clean_stop();
	ck_assert_msg(authd_start(srv, ADMIN_PW) == 0, "authd did not start again");
	ck_assert_int_eq(it_write_file(faketime_pid_file, fmt("%d", (int)srv->pid)), 0);
	r = call("GET", young, NULL, "/enzi/v0/config/auth");
	expect_status(r, 200);
	ck_assert_msg(jint(r->json, "sessions.lifetimeMinutes", -1) == 60 &&
			  jint(r->json, "sessions.renewalThresholdMinutes", -1) == 0,
		      "the session settings did not survive a restart: %s", r->body);
	expect_token(young, 200, "+70m");
	expect_token(old, 401, "+70m");
	set_clock(clock, "+112m");
	expect_token(young, 401, "+112m");
	expect_clean_stop();
	teardown_server();
}
END_TEST

/* ---- the database server away (PostgreSQL) ---- */

/* A request that needs the store, answered 503 STORE_UNAVAILABLE while the server is away. */
static void expect_unavailable(const struct reply *r)
{
	expect_error(r, 503, "STORE_UNAVAILABLE", NULL);
}

/* What a decision says while there is no snapshot to decide on. */
#define SNAPSHOT_WITHDRAWN "authorization data is unavailable; try again shortly"

/* A request of a burst's reader: 200, or 503 STORE_UNAVAILABLE when may_be_away; noted. */
static void read_one(int fd, const char *method, const char *path, const char *body,
		     bool may_be_away)
{
	struct reply got;

	http_call(srv, method, path, admin, body, NULL, &got);
	if (got.status != 200 && !(may_be_away && unavailable(&got))) {
		note(fd, "refused %ld %s %.300s", got.status, got.what, got.body);
		_exit(WRITER_REFUSED);
	}
	/*
	 * The snapshot decides while the store is away, for longer than the test
	 * keeps it away; but a write committed just before the server went away
	 * withdraws it (its rebuild failed), and decisions deny, as they must,
	 * until it is rebuilt: "unavailable".
	 */
	if (got.status == 200 && body != NULL && jbool(got.json, "allow") != 1 &&
	    strcmp(jstr(got.json, "msg"), SNAPSHOT_WITHDRAWN) != 0) {
		note(fd, "denied %.300s", got.body);
		_exit(WRITER_REFUSED);
	}
	note(fd, "%s %ld", path, got.status);
	reply_free(&got);
}

/*
 * A reader of the burst: kept's account (200, or 503 STORE_UNAVAILABLE
 * while the database is away) and a decision for it, which the snapshot
 * answers all along, each noted, until it is killed. Never returns.
 */
static void reader(int r, const char *log)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	(void)r;
	if (fd < 0)
		_exit(WRITER_BROKEN);
	for (;;) {
		read_one(fd, "GET", ACCOUNTS "/kept", NULL, true);
		/* the caller's token is read from the store again after an account changed */
		read_one(fd, "POST", "/api/authz",
			 "{\"account\":\"kept\",\"method\":\"GET\",\"uri\":\"/v1.41/volumes\"}",
			 true);
	}
}

#define READERS 2

/* The writers and readers of a burst through the database server's absence. */
struct burst {
	pid_t pids[WRITERS + READERS];
	const char *logs[WRITERS + READERS];
};

static void burst_start(struct burst *b)
{
	through_absence = true;
	for (int i = 0; i < WRITERS + READERS; i++) {
		b->logs[i] = fmt("%s/%s-%d.log", wd, i < WRITERS ? "writer" : "reader", i);
		b->pids[i] = start_child(i < WRITERS ? writer : reader, i, b->logs[i]);
	}
	through_absence = false;
}

/* Waits until each writer has `more` writes answered beyond those in since[] (NULL: 0). */
static void burst_wait(const struct burst *b, const long *since, long more)
{
	double deadline = it_now() + 60;

	for (int w = 0; w < WRITERS; w++) {
		long base = since ? since[w] : 0;

		while (lines_in(b->logs[w]) < base + more && it_now() < deadline)
			it_sleep_ms(20);
		ck_assert_msg(lines_in(b->logs[w]) >= base + more,
			      "writer %d made %ld writes in 60 s, not %ld; its log:\n%.1500s", w,
			      lines_in(b->logs[w]) - base, more, read_text(b->logs[w]));
	}
}

/* Every child still runs (none saw a 500, a cut or a deny): they are killed; 503s counted. */
static long burst_stop(const struct burst *b)
{
	long unavailable_writes = 0;

	for (int i = 0; i < WRITERS + READERS; i++) {
		int status = 0;

		ck_assert_msg(waitpid(b->pids[i], &status, WNOHANG) == 0,
			      "%s ended by itself (wait status %d):\n%.1500s", b->logs[i], status,
			      read_text(b->logs[i]));
		kill(b->pids[i], SIGKILL);
		ck_assert_int_eq(waitpid(b->pids[i], &status, 0), b->pids[i]);
		if (i < WRITERS)
			unavailable_writes += strstr(read_text(b->logs[i]), "unavailable ") != NULL;
	}
	return unavailable_writes;
}

static json_t *decision_for_kept(void);

/* How the database server goes away: _i 0, a fast shutdown; 1, SIGKILL of its postmaster. */
static int database_away(int how)
{
	return how == 0 ? it_pg_server_stop() : it_pg_server_kill();
}

/*
 * The database server goes away in a burst of writes, reads and decisions,
 * by a fast shutdown or killed (_i): requests that need it are answered 503
 * STORE_UNAVAILABLE, never 500; decisions go on from the snapshot; once it is
 * back, authd reconnects by itself and every write answered 2xx is there.
 */
START_TEST(test_database_restarted)
{
	long since[WRITERS];
	struct burst b;
	const char *before;
	struct reply *r;
	json_t *grants;
	int checked = 0;

	new_server(NULL, NULL);
	start_srv(ADMIN_PW);
	expect_status(
	    call("POST", admin, jbody("{s:s, s:s}", "name", "kept", "password", USER_PW), ACCOUNTS),
	    201);
	before = call("GET", admin, NULL, ACCOUNTS "/kept")->body;
	burst_start(&b);
	burst_wait(&b, NULL, KILL_AFTER / WRITERS);
	ck_assert_int_eq(database_away(_i), 0);
	/* every pooled connection is gone: each request finds that out, none is a 500 */
	for (int i = 0; i < 12; i++) {
		expect_unavailable(call("GET", admin, NULL, ACCOUNTS "/kept"));
		expect_unavailable(call("POST", admin,
					jbody("{s:s, s:s}", "name", "lost", "password", USER_PW),
					ACCOUNTS));
	}
	expect_unavailable(call("POST", NULL,
				jbody("{s:s, s:s}", "username", "kept", "password", USER_PW),
				"/auth/login"));
	/* what needs no store still answers */
	expect_status(call("GET", NULL, NULL, "/_ping"), 200);
	ck_assert_int_eq(it_pg_server_start(), 0);
	for (int w = 0; w < WRITERS; w++)
		since[w] = lines_in(b.logs[w]);
	r = call("GET", admin, NULL, ACCOUNTS "/kept");
	expect_status(r, 200);
	ck_assert_str_eq(r->body, before);
	expect_error(call("GET", admin, NULL, ACCOUNTS "/lost"), 404, "NOT_FOUND", NULL);
	expect_status(call("POST", admin, jbody("{s:s, s:s}", "name", "after", "password", USER_PW),
			   ACCOUNTS),
		      201);
	expect_status(call("POST", NULL,
			   jbody("{s:s, s:s}", "username", "after", "password", USER_PW),
			   "/auth/login"),
		      200);
	/* each writer writes again, on connections authd made anew */
	burst_wait(&b, since, 3);
	ck_assert_msg(burst_stop(&b) > 0, "no writer was answered 503 while the database was away");
	ck_assert_int_eq(jbool(decision_for_kept(), "allow"), 1);
	ck_assert_msg(strstr(call("GET", admin, NULL, "/metrics")->body, "code=\"500\"") == NULL,
		      "authd answered 500 in the burst");
	grants = jpath(call("GET", admin, NULL, "/collectionGrants")->json, "grants");
	for (int w = 0; w < WRITERS; w++)
		checked += expect_logged_writes(b.logs[w], grants);
	ck_assert_int_ge(checked, KILL_AFTER);
	expect_private_collections();
	expect_clean_stop();
	teardown_server();
}
END_TEST

static json_t *decision_for_kept(void)
{
	struct reply *r = call(
	    "POST", admin,
	    jbody("{s:s, s:s, s:s}", "account", "kept", "method", "GET", "uri", "/v1.41/volumes"),
	    "/api/authz");

	expect_status(r, 200);
	return r->json;
}

/* Asks for kept's decision every 250 ms until it is `allow`, for at most ms; its msg. */
static const char *decision_becomes(int allow, int ms)
{
	json_t *d = decision_for_kept();

	for (int waited = 0; jbool(d, "allow") != allow && waited < ms; waited += 250) {
		it_sleep_ms(250);
		d = decision_for_kept();
	}
	ck_assert_msg(jbool(d, "allow") == allow, "the decision stayed %s after %d ms: %s",
		      allow ? "deny" : "allow", ms, jstr(d, "msg"));
	return jstr(d, "msg");
}

/*
 * Decisions go on from the in-memory snapshot while the database server is
 * away, deny once authz.maxStaleSeconds passed without it, and resume when
 * it answers again.
 */
START_TEST(test_decisions_while_database_away)
{
	double stopped;

	new_server(NULL, "{\"authz\":{\"maxStaleSeconds\":3}}");
	start_srv(ADMIN_PW);
	expect_status(
	    call("POST", admin, jbody("{s:s, s:s}", "name", "kept", "password", USER_PW), ACCOUNTS),
	    201);
	ck_assert_int_eq(jbool(decision_for_kept(), "allow"), 1);
	/* from the stop's start: a fast shutdown refuses connections before it returns */
	stopped = it_now();
	ck_assert_int_eq(it_pg_server_stop(), 0);
	ck_assert_int_eq(jbool(decision_for_kept(), "allow"), 1);
	expect_has(decision_becomes(0, 8000), "authd has not reached its store for",
		   "the stale decision's msg");
	/*
	 * The store's last answer came up to a one-second tick before the stop,
	 * later on a loaded machine; half a second of the tick's lateness is allowed.
	 */
	ck_assert_msg(it_now() - stopped >= 1.5, "denied %.1f s after the stop, before 3 s - 1.5",
		      it_now() - stopped);
	expect_has(jstr(decision_for_kept(), "msg"), "(authz.maxStaleSeconds is 3)",
		   "the stale decision's msg");
	ck_assert_int_eq(it_pg_server_start(), 0);
	decision_becomes(1, 5000);
	expect_clean_stop();
	teardown_server();
}
END_TEST

/*
 * A database server that does not answer at start-up: authd waits for it,
 * says so in its log, and answers 503 STORE_UNAVAILABLE (its /_ping too)
 * until it is there; /metrics counts those answers afterwards.
 */
START_TEST(test_database_away_at_start)
{
	const char *metrics;
	pid_t later;
	int status;

	new_server(NULL, NULL);
	start_srv(ADMIN_PW);
	expect_clean_stop();
	ck_assert_int_eq(it_pg_server_stop(), 0);
	later = fork();
	ck_assert_int_ge(later, 0);
	if (later == 0) {
		it_sleep_ms(3000);
		_exit(it_pg_server_start() == 0 ? 0 : 1);
	}
	/* the harness asks /_ping until it answers 200, within 10 s */
	free(admin);
	admin = NULL;
	start_srv(ADMIN_PW);
	ck_assert_int_eq(waitpid(later, &status, 0), later);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server did not start");
	expect_has(read_text(srv->log), "trying again in", "authd's log");
	metrics = call("GET", admin, NULL, "/metrics")->body;
	ck_assert_msg(strstr(metrics, "route=\"/_ping\",code=\"503\"") != NULL,
		      "no 503 of /_ping counted:\n%.3000s", metrics);
	expect_clean_stop();
	teardown_server();
}
END_TEST

/* A DSN with a wrong password: start-up stops with libpq's reason, never the password. */
START_TEST(test_wrong_password_in_the_dsn)
{
	char dsn[IT_PATH_LEN], *pw;
	const char *wrong, *log;
	json_t *config;

	ck_assert_int_eq(it_pg_database(dsn, sizeof(dsn)), 0);
	ck_assert_ptr_nonnull(pw = strstr(dsn, "password="));
	wrong = fmt("%.*spassword=Wr0ng-Dsn-Secret-9", (int)(pw - dsn), dsn);
	config = json_pack("{s:{s:s, s:s}}", "store", "driver", "postgres", "dsn", wrong);
	new_server(NULL, keep(json_dumps(config, JSON_COMPACT)));
	json_decref(config);
	ck_assert_int_eq(authd_start(srv, ADMIN_PW), -1);
	ck_assert_msg(WIFEXITED(srv->last_status) && WEXITSTATUS(srv->last_status) != 0,
		      "authd did not exit with an error (wait status %d)", srv->last_status);
	log = read_text(srv->log);
	expect_has(log, "password authentication failed", "authd's log");
	expect_lacks(log, "Wr0ng-Dsn-Secret-9", "authd's log");
	teardown_server();
}
END_TEST

/* ---- suites ---- */

/* CTest's SKIP_RETURN_CODE for integration_faults_disk_full: the test could not run here. */
#define EXIT_SKIPPED 77

static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *kill = server_case("kill", NULL, NULL, TEST_TIMEOUT);
	TCase *clock =
	    server_case("clock", setup_clock_case, remove_faketime_leftovers, TEST_TIMEOUT);
	TCase *session_clock =
	    server_case("session-clock", setup_clock_case, remove_faketime_leftovers, TEST_TIMEOUT);

	tcase_add_test(kill, test_killed_during_a_burst_of_writes);
	tcase_add_test(clock, test_clock_jumps);
	tcase_add_test(session_clock, test_session_settings_against_the_clock);
	suite_add_tcase(s, kill);
	suite_add_tcase(s, clock);
	suite_add_tcase(s, session_clock);
	if (it_pg_wanted()) {
		TCase *away = server_case("database-away", NULL, NULL, TEST_TIMEOUT);

		tcase_add_loop_test(away, test_database_restarted, 0, 2);
		tcase_add_test(away, test_database_away_at_start);
		tcase_add_test(away, test_decisions_while_database_away);
		tcase_add_test(away, test_wrong_password_in_the_dsn);
		suite_add_tcase(s, away);
	}
	return s;
}

static Suite *disk_full_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *full = server_case("disk-full", mount_small_disk, unmount_small_disk, TEST_TIMEOUT);

	/* on PostgreSQL, the database server's disk; on SQLite, the data dir's */
	tcase_add_test(full, it_pg_wanted() ? test_database_disk_full : test_disk_full);
	suite_add_tcase(s, full);
	return s;
}

/*
 * No argument: the kill and clock cases (integration_faults). "disk-full":
 * that case alone (integration_faults_disk_full), which needs to mount a
 * tmpfs; where this process may not, it exits EXIT_SKIPPED without running.
 */
int main(int argc, char **argv)
{
	static Suite *(*const faults[])(void) = {faults_suite, NULL};
	static Suite *(*const disk_full[])(void) = {disk_full_suite, NULL};
	int refused;

	if (argc == 1)
		return run_suites("authd-faults", faults, NULL);
	if (argc != 2 || strcmp(argv[1], "disk-full") != 0) {
		fprintf(stderr, "usage: %s [disk-full]\n", argv[0]);
		return EXIT_FAILURE;
	}
	refused = try_mount_tmpfs();
	if (refused == EPERM) {
		printf("test_disk_full skipped: mounting a tmpfs is not permitted (%s); "
		       "it needs root, as CI has\n",
		       strerror(refused));
		return EXIT_SKIPPED;
	}
	return run_suites("authd-faults", disk_full, NULL);
}
