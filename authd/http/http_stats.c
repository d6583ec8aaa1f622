/*
 * Per-route request statistics for GET /metrics: a counter per status and a
 * latency histogram per route of a listener's table, bumped with atomics as
 * each answer is queued, and written in Prometheus's text format.
 */
#include <stdlib.h>

#include "http.h"
#include "metrics.h"

/* Answers are counted by status from 100 to 599, one counter each. */
#define STATUS_MIN 100
#define STATUS_SLOTS 500

struct route_stats {
	atomic_ullong by_status[STATUS_SLOTS];
	struct hist latency;
};

struct http_stats {
	const struct route *routes;
	size_t n;
	struct route_stats per_route[]; /* n + 1: [n] is "other" */
};

struct http_stats *http_stats_new(const struct route *routes, size_t n)
{
	struct http_stats *s = calloc(1, sizeof(*s) + (n + 1) * sizeof(s->per_route[0]));

	if (s == NULL)
		return NULL;
	s->routes = routes;
	s->n = n;
	for (size_t i = 0; i <= n; i++) {
		for (size_t c = 0; c < STATUS_SLOTS; c++)
			atomic_init(&s->per_route[i].by_status[c], 0);
		hist_init(&s->per_route[i].latency, &hist_request_buckets);
	}
	return s;
}

void http_stats_free(struct http_stats *s)
{
	free(s);
}

void http_stats_count(struct http_stats *s, long route, unsigned status, int64_t ns)
{
	struct route_stats *rs;

	if (s == NULL)
		return;
	rs = &s->per_route[route >= 0 && (size_t)route < s->n ? (size_t)route : s->n];
	if (status >= STATUS_MIN && status - STATUS_MIN < STATUS_SLOTS)
		atomic_fetch_add_explicit(&rs->by_status[status - STATUS_MIN], 1,
					  memory_order_relaxed);
	hist_observe(&rs->latency, ns);
}

/* A route's labels: its method and pattern; "other" for both when rt is NULL. */
static void route_labels(const struct route *rt, char *buf, size_t len)
{
	buf[0] = '\0';
	metrics_label(buf, len, "method", rt ? rt->method : "other");
	metrics_label(buf, len, "route", rt ? rt->pattern : "other");
}

/* A route's statistics as read at one moment. */
struct route_read {
	uint64_t by_status[STATUS_SLOTS];
	struct hist_counts latency;
};

static void route_read(const struct route_stats *rs, struct route_read *out)
{
	for (unsigned c = 0; c < STATUS_SLOTS; c++)
		out->by_status[c] = atomic_load_explicit(&rs->by_status[c], memory_order_relaxed);
	hist_read(&rs->latency, &out->latency);
}

typedef void (*route_writer)(FILE *f, const char *labels, const struct route_read *r);

/* Writes each route of each listener, then "other", which adds up every listener's. */
static void each_route(FILE *f, struct http_stats *const *all, size_t n, route_writer write)
{
	struct route_read r, other = {.latency.b = &hist_request_buckets};
	char labels[512];

	for (size_t l = 0; l < n; l++) {
		const struct http_stats *s = all[l];

		for (size_t i = 0; s != NULL && i < s->n; i++) {
			route_read(&s->per_route[i], &r);
			route_labels(&s->routes[i], labels, sizeof(labels));
			write(f, labels, &r);
		}
		if (s == NULL)
			continue;
		route_read(&s->per_route[s->n], &r);
		for (unsigned c = 0; c < STATUS_SLOTS; c++)
			other.by_status[c] += r.by_status[c];
		hist_add(&other.latency, &r.latency);
	}
	route_labels(NULL, labels, sizeof(labels));
	write(f, labels, &other);
}

/* A sample per status the route answered. */
static void write_counts(FILE *f, const char *labels, const struct route_read *r)
{
	for (unsigned c = 0; c < STATUS_SLOTS; c++) {
		char with_code[600], code[8];

		if (r->by_status[c] == 0)
			continue;
		snprintf(with_code, sizeof(with_code), "%s", labels);
		snprintf(code, sizeof(code), "%u", c + STATUS_MIN);
		metrics_label(with_code, sizeof(with_code), "code", code);
		metrics_int(f, "authd_http_requests_total", with_code, (int64_t)r->by_status[c]);
	}
}

/* The route's histogram, once it has answered anything. */
static void write_latency(FILE *f, const char *labels, const struct route_read *r)
{
	if (hist_total(&r->latency) > 0)
		metrics_hist(f, "authd_http_request_duration_seconds", labels, &r->latency);
}

void http_stats_write(FILE *f, struct http_stats *const *all, size_t n)
{
	metrics_family(f, "authd_http_requests_total", "counter",
		       "HTTP requests answered, by method and route pattern and status code.");
	each_route(f, all, n, write_counts);
	metrics_family(f, "authd_http_request_duration_seconds", "histogram",
		       "Time from a request's head to its answer, by method and route pattern.");
	each_route(f, all, n, write_latency);
}
