/*
 * A throwaway PostgreSQL cluster for the tests that run authd on its
 * PostgreSQL driver: made with initdb in a temporary folder, started with
 * pg_ctl on a free loopback port, a database per authd, stopped by pid.
 */
#ifndef AUTHD_IT_PGCLUSTER_H
#define AUTHD_IT_PGCLUSTER_H

#include <stdbool.h>
#include <stddef.h>

/* Whether this run is on PostgreSQL: AUTHD_TEST_STORE=postgres (CTest's *_pg entries). */
bool it_pg_wanted(void);
/*
 * Makes and starts the cluster and its `authd` role, waiting until it
 * answers; 0, or -1 (said on stderr). Exits 77 (skipped) when PostgreSQL's
 * programs are not installed. The process that started it stops it (by the
 * postmaster's pid) in it_pg_stop and at exit.
 */
int it_pg_start(void);
/*
 * Server settings for the next it_pg_start or it_pg_server_start, as postgres's
 * command-line options ("-c fsync=on -c synchronous_commit=on"), which follow the
 * harness's own and so win over them (fsync=off): for the benchmarks, which
 * measure a server set up as an operator's would be. NULL goes back to the
 * harness's.
 */
void it_pg_settings(const char *options);
/* Whether Debian's PostgreSQL server programs are installed. */
bool it_pg_installed(void);
void it_pg_stop(void);
/*
 * Stops the server (a fast shutdown: sessions are cut) and starts it again on
 * the same port, for the tests of authd without its database; 0 or -1.
 */
int it_pg_server_stop(void);
int it_pg_server_start(void);
/*
 * Kills the postmaster with SIGKILL, as the OOM killer or a crash would, and
 * waits until its backends have noticed and ended (else a new one cannot
 * start on its data); 0 or -1. it_pg_server_start starts it again, from
 * crash recovery.
 */
int it_pg_server_kill(void);
/* A new empty database owned by `authd`, and the DSN authd reaches it by; 0 or -1. */
int it_pg_database(char *dsn, size_t len);
/*
 * The same, its tables and indexes in the tablespace "small" at location (an
 * empty folder, which becomes the postgres user's), for a disk that fills
 * up under the database; 0 or -1. it_pg_database_drop drops the database
 * and that tablespace, so that the folder's disk can be unmounted.
 */
int it_pg_database_in(const char *location, char *dsn, size_t len);
void it_pg_database_drop(const char *dsn);
/* Runs one SQL command as the superuser in the database the DSN names; 0 or -1. */
int it_pg_sql(const char *dsn, const char *sql);
/*
 * The rows of sql (statements separated by ';') in the database of dsn, one
 * line each with the columns joined by '|' and booleans as 1 or 0, as
 * `sqlite3 -batch` prints them; malloc'd, or NULL (said on stderr).
 */
char *it_pg_query(const char *dsn, const char *sql);
/* Every row of every table of the database as text, for audits of what it holds; malloc'd. */
char *it_pg_dump(const char *dsn);
/* The cluster's folder (its data/ and server.log), for audits of what it stores; "" if none. */
const char *it_pg_dir(void);

#endif
