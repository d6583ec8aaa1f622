/*
 * GET /metrics (SPEC §10), Prometheus text format, for admins. The counters
 * are plain atomics that the request paths bump.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api.h"

void api_metrics(struct req *r, struct resp *out)
{
	struct server *srv = r->srv;
	char *text = NULL;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	if (asprintf(&text,
		     "# HELP authd_authz_decisions_total Authorization decisions by outcome.\n"
		     "# TYPE authd_authz_decisions_total counter\n"
		     "authd_authz_decisions_total{outcome=\"allow\"} %ld\n"
		     "authd_authz_decisions_total{outcome=\"deny\"} %ld\n"
		     "# HELP authd_login_failures_total Failed logins.\n"
		     "# TYPE authd_login_failures_total counter\n"
		     "authd_login_failures_total %ld\n"
		     "# HELP authd_http_requests_in_flight Requests being served.\n"
		     "# TYPE authd_http_requests_in_flight gauge\n"
		     "authd_http_requests_in_flight %d\n",
		     atomic_load(&srv->decisions_allowed), atomic_load(&srv->decisions_denied),
		     atomic_load(&srv->login_failures), atomic_load(&srv->inflight)) < 0) {
		resp_internal(out);
		return;
	}
	out->status = 200;
	out->text = text;
	out->type = "text/plain; version=0.0.4";
}
