/*
 * What GET /metrics shares between the files that count and the one that
 * writes: histograms of durations with fixed buckets, observed without a
 * lock, and Prometheus's text format (0.0.4) for every family.
 */
#ifndef AUTHD_METRICS_H
#define AUTHD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HIST_MAX_BUCKETS 16

/* Upper bounds in seconds, increasing; the bucket +Inf follows them. */
struct hist_buckets {
	size_t n;
	double le[HIST_MAX_BUCKETS];
};

/* HTTP requests: 1 ms to 10 s (a login hashes for tens of ms; an LDAP login may take seconds). */
extern const struct hist_buckets hist_request_buckets;
/* LDAP sync jobs: 0.1 s to an hour. */
extern const struct hist_buckets hist_job_buckets;

/* Observations since start; zeroed memory is an empty histogram once hist_init set b. */
struct hist {
	const struct hist_buckets *b;
	atomic_ullong count[HIST_MAX_BUCKETS + 1]; /* per bucket, not cumulative; [b->n] is +Inf */
	atomic_ullong sum_ns;
};

/* A histogram as read at one moment, to write (or to add another of the same buckets to). */
struct hist_counts {
	const struct hist_buckets *b;
	uint64_t count[HIST_MAX_BUCKETS + 1];
	uint64_t sum_ns;
};

void hist_init(struct hist *h, const struct hist_buckets *b);
/* One observation of ns nanoseconds (a negative one counts as 0). */
void hist_observe(struct hist *h, int64_t ns);
void hist_read(const struct hist *h, struct hist_counts *out);
/* Adds from's observations to to's; both have the same buckets. */
void hist_add(struct hist_counts *to, const struct hist_counts *from);
/* How many observations it has. */
uint64_t hist_total(const struct hist_counts *c);

/* ---- the text format ---- */

/* The "# HELP" and "# TYPE" lines of a family; type is counter, gauge or histogram. */
void metrics_family(FILE *f, const char *name, const char *type, const char *help);
/*
 * Appends name="value" to labels (a string in a buffer of len bytes, "" for
 * none yet), after a comma when it has some; the value's backslashes, double
 * quotes and line feeds escaped as the text format wants. -1 when it does not
 * fit, and labels is left as it was.
 */
int metrics_label(char *labels, size_t len, const char *name, const char *value);
/* A sample: name{labels} value, or name value when labels is "". */
void metrics_int(FILE *f, const char *name, const char *labels, int64_t value);
/* A sample in seconds of a value in nanoseconds, written exactly ("0.001500000"). */
void metrics_seconds(FILE *f, const char *name, const char *labels, int64_t ns);
/* A histogram's samples: name_bucket for each le (cumulative) and +Inf, name_sum, name_count. */
void metrics_hist(FILE *f, const char *name, const char *labels, const struct hist_counts *c);

#endif
