/*
 * Histograms of durations and Prometheus's text format, for GET /metrics
 * (api/api_metrics.c writes the page; the request paths count).
 */
#include <inttypes.h>
#include <string.h>

#include "metrics.h"

const struct hist_buckets hist_request_buckets = {
    13, {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
const struct hist_buckets hist_job_buckets = {
    12, {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600}};

void hist_init(struct hist *h, const struct hist_buckets *b)
{
	h->b = b;
	for (size_t i = 0; i <= HIST_MAX_BUCKETS; i++)
		atomic_init(&h->count[i], 0);
	atomic_init(&h->sum_ns, 0);
}

void hist_observe(struct hist *h, int64_t ns)
{
	size_t i = 0;

	if (ns < 0)
		ns = 0;
	/* a bucket counts what is less than or equal to its bound, compared in whole nanoseconds */
	while (i < h->b->n && ns > (int64_t)(h->b->le[i] * 1e9 + 0.5))
		i++;
	atomic_fetch_add_explicit(&h->count[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (unsigned long long)ns, memory_order_relaxed);
}

void hist_read(const struct hist *h, struct hist_counts *out)
{
	memset(out, 0, sizeof(*out));
	out->b = h->b;
	for (size_t i = 0; i <= h->b->n; i++)
		out->count[i] = atomic_load_explicit(&h->count[i], memory_order_relaxed);
	out->sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
}

void hist_add(struct hist_counts *to, const struct hist_counts *from)
{
	for (size_t i = 0; i <= to->b->n; i++)
		to->count[i] += from->count[i];
	to->sum_ns += from->sum_ns;
}

uint64_t hist_total(const struct hist_counts *c)
{
	uint64_t n = 0;

	for (size_t i = 0; i <= c->b->n; i++)
		n += c->count[i];
	return n;
}

/* ---- the text format ---- */

void metrics_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The text format's escape of one character of a label value, or NULL when it stands as it is. */
static const char *label_escape(char c)
{
	if (c == '\\')
		return "\\\\";
	if (c == '"')
		return "\\\"";
	if (c == '\n')
		return "\\n";
	return NULL;
}

int metrics_label(char *labels, size_t len, const char *name, const char *value)
{
	size_t n = strlen(labels), start = n;

	n += (size_t)snprintf(labels + n, n < len ? len - n : 0, "%s%s=\"", n ? "," : "", name);
	/* each character must leave room for the closing quote and the NUL */
	for (; *value != '\0'; value++) {
		const char *esc = label_escape(*value);
		size_t need = esc ? 2 : 1;

		if (n + need + 2 > len)
			break;
		memcpy(labels + n, esc ? esc : value, need);
		n += need;
	}
	if (*value != '\0' || n + 2 > len) {
		labels[start] = '\0';
		return -1;
	}
	memcpy(labels + n, "\"", 2);
	return 0;
}

/* name{labels} or name, without the value. */
static void series(FILE *f, const char *name, const char *suffix, const char *labels)
{
	if (labels[0] != '\0')
		fprintf(f, "%s%s{%s} ", name, suffix, labels);
	else
		fprintf(f, "%s%s ", name, suffix);
}

void metrics_int(FILE *f, const char *name, const char *labels, int64_t value)
{
	series(f, name, "", labels);
	fprintf(f, "%" PRId64 "\n", value);
}

static void seconds_value(FILE *f, int64_t ns)
{
	uint64_t abs = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

	fprintf(f, "%s%" PRIu64 ".%09" PRIu64 "\n", ns < 0 ? "-" : "", abs / 1000000000,
		abs % 1000000000);
}

void metrics_seconds(FILE *f, const char *name, const char *labels, int64_t ns)
{
	series(f, name, "", labels);
	seconds_value(f, ns);
}

void metrics_hist(FILE *f, const char *name, const char *labels, const struct hist_counts *c)
{
	char le[512];
	uint64_t below = 0;

	for (size_t i = 0; i <= c->b->n; i++) {
		char bound[32];

		below += c->count[i];
		if (i < c->b->n)
			snprintf(bound, sizeof(bound), "%.15g", c->b->le[i]);
		else
			snprintf(bound, sizeof(bound), "+Inf");
		snprintf(le, sizeof(le), "%s", labels);
		metrics_label(le, sizeof(le), "le", bound);
		series(f, name, "_bucket", le);
		fprintf(f, "%" PRIu64 "\n", below);
	}
	series(f, name, "_sum", labels);
	seconds_value(f, (int64_t)c->sum_ns);
	series(f, name, "_count", labels);
	fprintf(f, "%" PRIu64 "\n", below);
}
