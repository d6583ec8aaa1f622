/*
 * GET /metrics (SPEC §10), Prometheus text format, for admins. The counters
 * are plain atomics that the request paths bump.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "sync/jobs.h"

void api_metrics(struct req *r, struct resp *out)
{
	struct server *srv = r->srv;
	struct jobs_metrics jobs;
	char *text = NULL;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	jobs_metrics(srv->jobs, &jobs);
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
		     "authd_http_requests_in_flight %d\n"
		     "# HELP authd_sync_jobs_total Finished LDAP sync jobs by outcome.\n"
		     "# TYPE authd_sync_jobs_total counter\n"
		     "authd_sync_jobs_total{outcome=\"done\"} %ld\n"
		     "authd_sync_jobs_total{outcome=\"errored\"} %ld\n"
		     "authd_sync_jobs_total{outcome=\"canceled\"} %ld\n"
		     "# HELP authd_sync_job_seconds_sum Time finished LDAP sync jobs took.\n"
		     "# TYPE authd_sync_job_seconds_sum counter\n"
		     "authd_sync_job_seconds_sum %.3f\n",
		     atomic_load(&srv->decisions_allowed), atomic_load(&srv->decisions_denied),
		     atomic_load(&srv->login_failures), atomic_load(&srv->inflight), jobs.done,
		     jobs.errored, jobs.canceled, jobs.seconds_sum) < 0) {
		resp_internal(out);
		return;
	}
	out->status = 200;
	out->text = text;
	out->type = "text/plain; version=0.0.4";
}
