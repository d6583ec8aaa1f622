/*
 * The connection that hears of changes (store_changes_wait): one libpq
 * connection of its own, outside the pool, that LISTENs on authd_changes,
 * which migration 11's trigger notifies at each recorded change. It opens
 * itself at the first wait and again after it broke (a server restart, a
 * pg_terminate_backend); the follower polls the sequence besides, so what a
 * broken connection missed is still found.
 */
#include <poll.h>

#include "pg.h"

#define RECONNECT_MS 250

static PGconn *conn;	     /* only the follower's thread uses it */
static int64_t next_attempt; /* monotonic ms: no connection attempt before */

static bool drain_notifies(void)
{
	PGnotify *n;
	bool any = false;

	while ((n = PQnotifies(conn)) != NULL) {
		any = true;
		PQfreemem(n);
	}
	return any;
}

static void drop(void)
{
	PQfinish(conn);
	conn = NULL;
	next_attempt = monotonic_ms() + RECONNECT_MS;
}

/* A new listening connection; false when the server did not take it (logged once). */
static bool open_listener(const char *dsn)
{
	static bool said;
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *values[] = {dsn, "authd-listen", NULL};
	PGresult *res;

	conn = PQconnectdbParams(keys, values, 1);
	if (PQstatus(conn) == CONNECTION_OK) {
		res = PQexec(conn, "LISTEN authd_changes");
		if (PQresultStatus(res) == PGRES_COMMAND_OK) {
			PQclear(res);
			said = false;
			PQsetnonblocking(conn, 1);
			return true;
		}
		PQclear(res);
	}
	if (!said)
		log_msg(LOG_WARN, "store: cannot listen for changes; polling until it can");
	said = true;
	drop();
	return false;
}

bool pg_listen_wait(const char *dsn, long timeout_ms)
{
	struct pollfd p;

	if (conn == NULL) {
		/* a connection made anew may have missed notifications: the caller looks at once */
		if (monotonic_ms() >= next_attempt && open_listener(dsn))
			return true;
		poll(NULL, 0, (int)timeout_ms);
		return false;
	}
	if (drain_notifies())
		return true;
	p = (struct pollfd){.fd = PQsocket(conn), .events = POLLIN};
	if (p.fd < 0 || poll(&p, 1, (int)timeout_ms) < 0) {
		drop();
		return false;
	}
	if (p.revents == 0)
		return false;
	if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) {
		log_msg(LOG_WARN,
			"store: the connection listening for changes broke; reopening it");
		drop();
		return true;
	}
	return drain_notifies();
}

void pg_listen_close(void)
{
	PQfinish(conn);
	conn = NULL;
	next_attempt = 0;
}
