/*
 * Answers written on a libmicrohttpd connection by authd itself (direct.h):
 * the answer's bytes are made here and sent through the connection's TLS
 * session, or its socket on the unix listener, from the connection's thread.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include <gnutls/gnutls.h>

#include "authd.h"
#include "direct.h"

/* A client that has not taken the answer by then does not get it. */
#define WRITE_WAIT_NS (2 * 1000000000LL)

/* The connection's TLS session, or NULL on the unix listener. */
static gnutls_session_t session_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);

	return ci ? (gnutls_session_t)ci->tls_session : NULL;
}

static int fd_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? ci->connect_fd : -1;
}

/*
 * libmicrohttpd's sockets do not block: a full send buffer is waited out
 * until the deadline (monotonic ns), so that a client that reads nothing
 * holds the connection's thread no longer.
 */
static bool wait_writable(int fd, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int64_t left_ms = (deadline - monotonic_ns()) / 1000000;

	return left_ms > 0 && poll(&p, 1, (int)left_ms) > 0;
}

static bool try_again(gnutls_session_t tls, ssize_t n)
{
	if (tls != NULL)
		return n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED;
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

static bool write_all(struct MHD_Connection *c, const char *p, size_t len)
{
	gnutls_session_t tls = session_of(c);
	int fd = fd_of(c);
	int64_t deadline = monotonic_ns() + WRITE_WAIT_NS;

	if (fd < 0)
		return false;
	while (len > 0) {
		/* after GNUTLS_E_AGAIN gnutls wants the same bytes again, which these are */
		ssize_t n = tls ? gnutls_record_send(tls, p, len) : send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (!try_again(tls, n) || !wait_writable(fd, deadline))
			return false;
	}
	return true;
}

/* RFC 9110's IMF-fixdate, in English whatever the locale. */
static void http_date(char *buf, size_t len)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static enum MHD_Result put_header(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	if (kind == MHD_HEADER_KIND)
		fprintf(cls, "%s: %s\r\n", key, value);
	return MHD_YES;
}

bool direct_answer(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
		   const char *body, size_t len, bool head_only)
{
	const char *reason = MHD_get_reason_phrase_for(status);
	char date[40], *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	bool ok;

	if (f == NULL)
		return false;
	http_date(date, sizeof(date));
	fprintf(f, "HTTP/1.1 %u %s\r\nDate: %s\r\n", status, *reason ? reason : "Error", date);
	MHD_get_response_headers(r, put_header, f);
	fprintf(f, "Content-Length: %zu\r\n\r\n", len);
	/* a HEAD's answer says how long the body would be, and has none */
	if (!head_only)
		fwrite(body, 1, len, f);
	ok = fclose(f) == 0 && write_all(c, text, size);
	free(text);
	return ok;
}

void direct_end(struct MHD_Connection *c)
{
	gnutls_session_t tls = session_of(c);
	int fd = fd_of(c);
	int64_t deadline = monotonic_ns() + WRITE_WAIT_NS;

	if (fd < 0)
		return;
	/* close_notify says the answer is whole; the half close stops whatever follows */
	while (tls != NULL && try_again(tls, gnutls_bye(tls, GNUTLS_SHUT_WR)))
		if (!wait_writable(fd, deadline))
			break;
	shutdown(fd, SHUT_WR);
}
