/*
 * GET /metrics (SPEC §10), Prometheus's text format, for admins: each family
 * read from where it is counted (README, "Metrics", lists them). Counting
 * costs the request paths an atomic add; the work is done here, per scrape.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "changes.h"
#include "ldapsync.h"
#include "authz/authz.h"
#include "metrics.h"
#include "sync/jobs.h"

static const char *const login_failure_names[LOGIN_FAILURE_REASONS] = {
    [LOGIN_BAD_CREDENTIALS] = "bad_credentials", [LOGIN_THROTTLED] = "throttled",
    [LOGIN_BLANK_PASSWORD] = "blank_password",	 [LOGIN_BLANK_USERNAME] = "blank_username",
    [LOGIN_LDAP_ERROR] = "ldap_error",		 [LOGIN_STORE_ERROR] = "store_error",
};

static void write_http(FILE *f, struct server *srv)
{
	struct http_stats *listeners[] = {srv->api_stats, srv->plugin_stats};

	http_stats_write(f, listeners, sizeof(listeners) / sizeof(listeners[0]));
	metrics_family(f, "authd_http_requests_in_flight", "gauge", "Requests being served.");
	metrics_int(f, "authd_http_requests_in_flight", "", atomic_load(&srv->inflight));
}

static void write_snapshot(FILE *f, struct server *srv)
{
	struct rbac_stats st;

	rbac_stats(srv->rbac, &st);
	metrics_family(f, "authd_authz_snapshot_age_seconds", "gauge",
		       "Time since the live authorization snapshot was built (none while "
		       "a failed rebuild has withdrawn it).");
	if (st.live)
		metrics_seconds(f, "authd_authz_snapshot_age_seconds", "", st.age_ns);
	metrics_family(f, "authd_authz_snapshot_rebuild_seconds", "gauge",
		       "How long the last rebuild of the authorization snapshot took.");
	metrics_seconds(f, "authd_authz_snapshot_rebuild_seconds", "", st.rebuild_ns);
	metrics_family(f, "authd_authz_snapshot_rebuilds_total", "counter",
		       "Rebuilds of the authorization snapshot, by outcome.");
	metrics_int(f, "authd_authz_snapshot_rebuilds_total", "outcome=\"done\"", (int64_t)st.done);
	metrics_int(f, "authd_authz_snapshot_rebuilds_total", "outcome=\"failed\"",
		    (int64_t)st.failed);
}

/* Only on a store replicas share: how fast other replicas' changes take effect here. */
static void write_replication(FILE *f, struct server *srv)
{
	struct changes_stats st;

	if (!changes_stats(srv, &st))
		return;
	metrics_family(f, "authd_replica_change_lag_seconds", "histogram",
		       "Time from another replica's recording of a change to its effect here.");
	metrics_hist(f, "authd_replica_change_lag_seconds", "", &st.lag);
	metrics_family(f, "authd_replica_changes_applied_total", "counter",
		       "Other replicas' changes applied here.");
	metrics_int(f, "authd_replica_changes_applied_total", "", (int64_t)st.applied);
	metrics_family(f, "authd_replica_resyncs_total", "counter",
		       "Full reloads of what this replica caches from the store.");
	metrics_int(f, "authd_replica_resyncs_total", "", (int64_t)st.resyncs);
	metrics_family(f, "authd_replica_change_seq", "gauge",
		       "The newest change of the store's sequence applied here.");
	metrics_int(f, "authd_replica_change_seq", "", st.seq);
}

/* Only on a store with a pool of connections (PostgreSQL): whether it is big enough. */
static void write_store_pool(FILE *f)
{
	struct store_pool_stats st;

	if (!store_pool_stats(&st))
		return;
	const struct {
		const char *name, *type, *help;
		int64_t value;
	} plain[] = {
	    {"authd_store_pool_max_connections", "gauge",
	     "The most connections the pool opens (store.maxConnections).", st.max},
	    {"authd_store_pool_waiting", "gauge", "Callers waiting for a free connection now.",
	     st.waiting},
	    {"authd_store_pool_waits_total", "counter",
	     "Callers that found every connection in use and waited.", (int64_t)st.waits},
	};

	metrics_family(f, "authd_store_pool_connections", "gauge",
		       "Open connections to the store's server, by state.");
	metrics_int(f, "authd_store_pool_connections", "state=\"idle\"", st.open - st.in_use);
	metrics_int(f, "authd_store_pool_connections", "state=\"in_use\"", st.in_use);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		metrics_family(f, plain[i].name, plain[i].type, plain[i].help);
		metrics_int(f, plain[i].name, "", plain[i].value);
	}
	metrics_family(f, "authd_store_pool_wait_seconds_total", "counter",
		       "Time callers spent waiting for a free connection, together.");
	metrics_seconds(f, "authd_store_pool_wait_seconds_total", "", st.wait_ns);
}

static void write_logins(FILE *f, struct server *srv)
{
	int64_t live;

	metrics_family(f, "authd_login_failures_total", "counter", "Failed logins, by reason.");
	for (int i = 0; i < LOGIN_FAILURE_REASONS; i++) {
		char labels[64] = "";

		metrics_label(labels, sizeof(labels), "reason", login_failure_names[i]);
		metrics_int(f, "authd_login_failures_total", labels,
			    atomic_load(&srv->login_failures[i]));
	}
	metrics_family(f, "authd_sessions_live", "gauge",
		       "Sessions live under the current session settings.");
	/* a store that cannot count leaves the sample out (the store logged why) */
	if (sessions_count_live(srv->sessions, &live) == STORE_OK)
		metrics_int(f, "authd_sessions_live", "", live);
}

static void write_jobs(FILE *f, struct server *srv)
{
	struct jobs_metrics jobs;

	jobs_metrics(srv->jobs, &jobs);
	metrics_family(f, "authd_sync_jobs_total", "counter",
		       "Finished LDAP sync jobs, by outcome.");
	metrics_int(f, "authd_sync_jobs_total", "outcome=\"done\"", jobs.done);
	metrics_int(f, "authd_sync_jobs_total", "outcome=\"errored\"", jobs.errored);
	metrics_int(f, "authd_sync_jobs_total", "outcome=\"canceled\"", jobs.canceled);
	metrics_family(f, "authd_sync_job_seconds", "histogram",
		       "How long finished LDAP sync jobs took.");
	metrics_hist(f, "authd_sync_job_seconds", "", &jobs.seconds);
}

static void write_ldap_pool(FILE *f)
{
	struct ls_pool_stats st;

	ls_pool_stats(&st);
	metrics_family(f, "authd_ldap_pool_connections", "gauge",
		       "Open pooled connections to directory servers, by state.");
	metrics_int(f, "authd_ldap_pool_connections", "state=\"idle\"", (int64_t)st.idle);
	metrics_int(f, "authd_ldap_pool_connections", "state=\"busy\"", (int64_t)st.busy);
	metrics_family(f, "authd_ldap_pool_takes_total", "counter",
		       "Connections taken from the pool: opened anew or reused.");
	metrics_int(f, "authd_ldap_pool_takes_total", "kind=\"opened\"", (int64_t)st.opened);
	metrics_int(f, "authd_ldap_pool_takes_total", "kind=\"reused\"", (int64_t)st.reused);
	metrics_family(f, "authd_ldap_pool_dead_total", "counter",
		       "Pooled connections found closed by their server when taken.");
	metrics_int(f, "authd_ldap_pool_dead_total", "", (int64_t)st.dead);
}

void api_metrics(struct req *r, struct resp *out)
{
	char *text = NULL;
	size_t len = 0;
	int failed;
	FILE *f;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	f = open_memstream(&text, &len);
	if (f == NULL) {
		resp_internal(out);
		return;
	}
	write_http(f, r->srv);
	authz_stats_write(f, r->srv->decisions);
	write_snapshot(f, r->srv);
	write_replication(f, r->srv);
	write_store_pool(f);
	write_logins(f, r->srv);
	write_jobs(f, r->srv);
	write_ldap_pool(f);
	/* a page cut short by memory must not pass for a whole one */
	failed = ferror(f);
	if (fclose(f) != 0 || failed) {
		free(text);
		resp_internal(out);
		return;
	}
	out->status = 200;
	out->text = text;
	out->type = "text/plain; version=0.0.4; charset=utf-8";
}
