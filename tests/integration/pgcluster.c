/*
 * The tests' PostgreSQL cluster (Debian's postgresql package): initdb as the
 * unprivileged postgres user (initdb refuses root) in a folder of its own,
 * pg_ctl on 127.0.0.1 and a unix socket in that folder, and a role authd
 * logs in as with a password over TCP, as an operator's server would ask.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pgcluster.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"
#define STOP_SECONDS 20

static char dir[IT_PATH_LEN]; /* the cluster's folder; "" when none runs */
static char password[33];     /* the authd role's */
static int port;
static pid_t owner, postmaster;
static int databases;
static char settings[512]; /* it_pg_settings' */

void it_pg_settings(const char *options)
{
	snprintf(settings, sizeof(settings), "%s", options ? options : "");
}

bool it_pg_installed(void)
{
	return access(PG_BIN "/initdb", X_OK) == 0 && access(PG_BIN "/pg_ctl", X_OK) == 0;
}

bool it_pg_wanted(void)
{
	const char *v = getenv("AUTHD_TEST_STORE");

	return v != NULL && strcmp(v, "postgres") == 0;
}

const char *it_pg_dir(void)
{
	return dir;
}

/* Runs argv as the postgres user when this process is root, else as itself; exit status. */
static int run_as_postgres(const char *const *argv, const char *log)
{
	const char *full[24];
	int n = 0, status;
	pid_t pid;

	if (geteuid() == 0) {
		full[n++] = "runuser";
		full[n++] = "-u";
		full[n++] = "postgres";
		full[n++] = "--";
	}
	for (int i = 0; argv[i] != NULL && n < 23; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* the folder is the postgres user's; the test's cwd may not be */
		if (chdir(dir) != 0)
			_exit(127);
		execvp(full[0], (char *const *)full);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static PGconn *superuser(const char *dbname)
{
	char dsn[IT_PATH_LEN + 128];
	PGconn *pg;

	snprintf(dsn, sizeof(dsn), "host=%s port=%d user=postgres dbname=%s", dir, port, dbname);
	pg = PQconnectdb(dsn);
	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "pgcluster: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

static int sql_in(const char *dbname, const char *sql)
{
	PGconn *pg = superuser(dbname);
	PGresult *res;
	int rc = 0;

	if (pg == NULL)
		return -1;
	res = PQexec(pg, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "pgcluster: %s: %s", sql, PQresultErrorMessage(res));
		rc = -1;
	}
	PQclear(res);
	PQfinish(pg);
	return rc;
}

int it_pg_sql(const char *dsn, const char *sql)
{
	PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
	char db[128] = "postgres";

	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "dbname") == 0 && o->val != NULL)
			snprintf(db, sizeof(db), "%s", o->val);
	PQconninfoFree(opts);
	return sql_in(db, sql);
}

/* The postmaster's pid, from the first line of data/postmaster.pid; 0 when unknown. */
static pid_t read_postmaster(void)
{
	char path[IT_PATH_LEN + 32];
	char *text;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/data/postmaster.pid", dir);
	text = it_read_file(path, NULL);
	pid = text ? (pid_t)atol(text) : 0;
	free(text);
	return pid;
}

int it_pg_server_stop(void)
{
	double until = it_now() + STOP_SECONDS;
	/* read again: a test process may have restarted it since */
	pid_t pid = read_postmaster();

	if (pid <= 0)
		pid = postmaster;
	/* SIGINT is the fast shutdown: sessions are ended, nothing is waited for */
	if (pid > 0 && kill(pid, SIGINT) == 0) {
		while (kill(pid, 0) == 0 && it_now() < until)
			it_sleep_ms(50);
		if (kill(pid, 0) == 0) {
			kill(pid, SIGKILL);
			return -1;
		}
	}
	postmaster = 0;
	return 0;
}

/* Whether pid runs: a zombie (killed, and not yet reaped by whoever inherited it) does not. */
static bool running(pid_t pid)
{
	char path[64], *stat, *end;
	bool alive;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	stat = it_read_file(path, NULL);
	if (stat == NULL)
		return false;
	/* "pid (comm) S ...": the state follows the last ')' */
	end = strrchr(stat, ')');
	alive = end != NULL && end[1] == ' ' && end[2] != 'Z' && end[2] != 'X';
	free(stat);
	return alive;
}

/* The pids whose parent is pid, up to max, from /proc; how many. */
static int children_of(pid_t pid, pid_t *out, int max)
{
	DIR *proc = opendir("/proc");
	struct dirent *d;
	int n = 0;

	while (proc != NULL && n < max && (d = readdir(proc)) != NULL) {
		char path[300], *stat, *end;
		int ppid;

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		stat = it_read_file(path, NULL);
		end = stat ? strrchr(stat, ')') : NULL;
		if (end != NULL && sscanf(end + 1, " %*c %d", &ppid) == 1 && ppid == (int)pid)
			out[n++] = (pid_t)atoi(d->d_name);
		free(stat);
	}
	if (proc != NULL)
		closedir(proc);
	return n;
}

int it_pg_server_kill(void)
{
	pid_t pid = read_postmaster(), kids[256];
	double until = it_now() + STOP_SECONDS;
	int n;

	/* stopped first, it forks no backend between the listing of its children and its death */
	if (pid <= 0 || kill(pid, SIGSTOP) != 0)
		return -1;
	n = children_of(pid, kids, 256);
	if (kill(pid, SIGKILL) != 0)
		return -1;
	/* the backends notice their postmaster is gone and end; a new one cannot start before */
	for (int i = 0; i < n; i++)
		while (running(kids[i]) && it_now() < until)
			it_sleep_ms(20);
	for (int i = 0; i < n; i++)
		if (running(kids[i])) {
			fprintf(stderr, "pgcluster: backend %d outlived its postmaster\n",
				(int)kids[i]);
			kill(kids[i], SIGKILL);
		}
	while (running(pid) && it_now() < until)
		it_sleep_ms(20);
	postmaster = 0;
	if (running(pid))
		return -1;
	/*
	 * Dead, it may linger as a zombie until whoever inherited it reaps it
	 * (not every container's init does), and a new postmaster would take
	 * that pid in its lock files for a live server: they go.
	 */
	if (kill(pid, 0) == 0) {
		char lock[IT_PATH_LEN + 32];

		snprintf(lock, sizeof(lock), "%s/data/postmaster.pid", dir);
		unlink(lock);
		snprintf(lock, sizeof(lock), "%s/.s.PGSQL.%d.lock", dir, port);
		unlink(lock);
	}
	return 0;
}

void it_pg_stop(void)
{
	if (dir[0] == '\0' || owner != getpid())
		return;
	it_pg_server_stop();
	if (getenv("AUTHD_TEST_KEEP") == NULL)
		it_remove_tree(dir);
	else
		fprintf(stderr, "pgcluster: kept %s\n", dir);
	dir[0] = '\0';
}

/* The folder, owned by the postgres user so that initdb (not root) can write in it. */
static int make_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	struct passwd *pw = getpwnam("postgres");

	snprintf(dir, sizeof(dir), "%s/authd-pg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		return -1;
	}
	if (geteuid() == 0 &&
	    (pw == NULL || chown(dir, pw->pw_uid, pw->pw_gid) != 0 || chmod(dir, 0755) != 0)) {
		fprintf(stderr, "pgcluster: cannot give %s to the postgres user\n", dir);
		return -1;
	}
	return 0;
}

static int init_cluster(void)
{
	char data[IT_PATH_LEN + 8], pwfile[IT_PATH_LEN + 8], log[IT_PATH_LEN + 16];
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	for (int i = 0; i < 16; i++)
		sprintf(password + 2 * i, "%02x", raw[i]);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(pwfile, sizeof(pwfile), "%s/pw", dir);
	snprintf(log, sizeof(log), "%s/initdb.log", dir);
	if (it_write_file(pwfile, password) != 0 || chmod(pwfile, 0644) != 0)
		return -1;
	/* the local socket trusts the test (it makes databases), TCP asks authd for a password */
	const char *argv[] = {PG_BIN "/initdb",
			      "-D",
			      data,
			      "-U",
			      "postgres",
			      "-E",
			      "UTF8",
			      "--locale=C.UTF-8",
			      "--auth-local=trust",
			      "--auth-host=scram-sha-256",
			      "--pwfile",
			      pwfile,
			      "--no-sync",
			      NULL};

	if (run_as_postgres(argv, log) != 0) {
		fprintf(stderr, "pgcluster: initdb failed; see %s\n", log);
		return -1;
	}
	unlink(pwfile);
	return 0;
}

/*
 * Started on a free port; fsync is off, as nothing here outlives the test
 * and the machine is shared (the fault tests that stop the server start
 * their own with it on), unless it_pg_settings said otherwise.
 */
int it_pg_server_start(void)
{
	char data[IT_PATH_LEN + 8], log[IT_PATH_LEN + 16], opts[IT_PATH_LEN + 700];
	char out[IT_PATH_LEN + 16];
	const char *argv[] = {PG_BIN "/pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", opts,
			      "start",		NULL};

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/server.log", dir); /* the server's, written by it */
	snprintf(out, sizeof(out), "%s/pg_ctl.log", dir);
	snprintf(opts, sizeof(opts),
		 "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 %s",
		 port, dir, settings);
	if (run_as_postgres(argv, out) != 0) {
		char *text = it_read_file(log, NULL);
		size_t n = text ? strlen(text) : 0;

		/* the folder goes when the test ends: the reason is said here */
		fprintf(stderr, "pgcluster: pg_ctl start failed; the end of %s:\n%s\n", log,
			text ? text + (n > 1500 ? n - 1500 : 0) : "(none)");
		free(text);
		return -1;
	}
	postmaster = read_postmaster();
	return postmaster > 0 ? 0 : -1;
}

int it_pg_start(void)
{
	char sql[128];

	if (!it_pg_installed()) {
		fprintf(stderr,
			"pgcluster: %s/initdb is not installed (Debian's postgresql); "
			"skipped\n",
			PG_BIN);
		exit(77);
	}
	owner = getpid();
	atexit(it_pg_stop);
	port = it_free_port();
	if (make_dir() != 0 || init_cluster() != 0 || it_pg_server_start() != 0)
		return -1;
	snprintf(sql, sizeof(sql), "CREATE ROLE authd LOGIN PASSWORD '%s'", password);
	return sql_in("postgres", sql);
}

int it_pg_database(char *dsn, size_t len)
{
	char name[64], sql[128];

	/* forked test processes make databases too: the pid keeps their names apart */
	snprintf(name, sizeof(name), "authd_%d_%d", (int)getpid(), ++databases);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER authd", name);
	if (sql_in("postgres", sql) != 0)
		return -1;
	snprintf(dsn, len, "host=127.0.0.1 port=%d dbname=%s user=authd password=%s", port, name,
		 password);
	return 0;
}

int it_pg_database_in(const char *location, char *dsn, size_t len)
{
	char sql[IT_PATH_LEN + 128], *at;
	struct passwd *pw = getpwnam("postgres");

	if (geteuid() == 0 && (pw == NULL || chown(location, pw->pw_uid, pw->pw_gid) != 0))
		return -1;
	snprintf(sql, sizeof(sql), "CREATE TABLESPACE small LOCATION '%s'", location);
	if (sql_in("postgres", sql) != 0 ||
	    sql_in("postgres", "GRANT CREATE ON TABLESPACE small TO authd") != 0 ||
	    it_pg_database(dsn, len) != 0 || (at = strstr(dsn, "dbname=")) == NULL)
		return -1;
	/* the catalogs stay in the data dir: only what authd makes is on the small disk */
	snprintf(sql, sizeof(sql), "ALTER DATABASE %.*s SET default_tablespace = small",
		 (int)strcspn(at + 7, " "), at + 7);
	return sql_in("postgres", sql);
}

void it_pg_database_drop(const char *dsn)
{
	const char *at = strstr(dsn, "dbname=");
	char sql[256];

	if (at == NULL)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %.*s WITH (FORCE)",
		 (int)strcspn(at + 7, " "), at + 7);
	sql_in("postgres", sql);
	sql_in("postgres", "DROP TABLESPACE IF EXISTS small");
}

/* A growing text: its bytes, its length, and room for cap bytes. */
struct text {
	char *s;
	size_t len, cap;
};

/* Appends the rows of res to t as it_pg_query prints them; 0 or -1. */
static int append_rows(const PGresult *res, struct text *t)
{
	for (int r = 0; r < PQntuples(res); r++)
		for (int c = 0; c < PQnfields(res); c++) {
			const char *v = PQgetvalue(res, r, c);
			bool last = c == PQnfields(res) - 1;

			if (PQftype(res, c) == 16 /* bool */)
				v = v[0] == 't' ? "1" : "0";
			/* doubling: a state of 20,000 accounts is a few megabytes */
			while (t->len + strlen(v) + 2 > t->cap) {
				char *grown = realloc(t->s, t->cap * 2);

				if (grown == NULL)
					return -1;
				t->s = grown;
				t->cap *= 2;
			}
			t->len += (size_t)sprintf(t->s + t->len, "%s%c", v, last ? '\n' : '|');
		}
	return 0;
}

char *it_pg_query(const char *dsn, const char *sql)
{
	PGconn *pg = PQconnectdb(dsn);
	struct text out = {calloc(1, 4096), 0, 4096};
	PGresult *res;
	int failed = out.s == NULL || PQstatus(pg) != CONNECTION_OK || !PQsendQuery(pg, sql);

	while (!failed && (res = PQgetResult(pg)) != NULL) {
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			failed = append_rows(res, &out);
		else if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "pgcluster: %s: %s", sql, PQresultErrorMessage(res));
			failed = 1;
		}
		PQclear(res);
	}
	if (failed && PQstatus(pg) != CONNECTION_OK)
		fprintf(stderr, "pgcluster: %s", PQerrorMessage(pg));
	PQfinish(pg);
	if (failed) {
		free(out.s);
		return NULL;
	}
	return out.s;
}

char *it_pg_dump(const char *dsn)
{
	char *tables =
	    it_pg_query(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
	char *sql = calloc(1, 1), *out = NULL;
	size_t len = 0;

	for (char *t = tables ? strtok(tables, "\n") : NULL; t != NULL && sql != NULL;
	     t = strtok(NULL, "\n")) {
		char *grown = realloc(sql, len + strlen(t) * 2 + 64);

		if (grown == NULL)
			break;
		sql = grown;
		len += (size_t)sprintf(sql + len, "SELECT t::text FROM \"%s\" t;", t);
	}
	if (tables != NULL && sql != NULL)
		out = it_pg_query(dsn, sql);
	free(tables);
	free(sql);
	return out;
}
