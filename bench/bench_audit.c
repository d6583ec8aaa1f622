/*
 * Benchmark (not a test) of the audit log's reader, in process: writes MB
 * MiB of decision lines through audit.c with rotation, then times pages of
 * GET /api/audit's reader beside a plain sequential read of the same files.
 *   bench_audit [MB]    (default 200; the files go in $TMPDIR)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

#define RUNS 15
#define PAGE 100

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static long max_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

struct page {
	int n, limit;
	uint64_t first;
};

static int count(json_t *rec, uint64_t seq, size_t len, void *ctx)
{
	struct page *p = ctx;

	(void)len;
	json_decref(rec);
	if (p->n == 0)
		p->first = seq;
	return ++p->n > p->limit;
}

/* Median milliseconds of RUNS reads of q; the last read's page in *out. */
static double time_read(struct audit *a, const struct audit_query *q, struct page *out)
{
	double ms[RUNS];

	for (int i = 0; i < RUNS; i++) {
		struct audit_files files;
		double t0 = now();

		*out = (struct page){0, PAGE, 0};
		if (audit_files_open(a, &files) != 0 || audit_read(&files, q, count, out) != 0) {
			fprintf(stderr, "bench_audit: the read failed\n");
			exit(1);
		}
		audit_files_close(&files);
		ms[i] = (now() - t0) * 1000;
	}
	qsort(ms, RUNS, sizeof(ms[0]), cmp_double);
	return ms[RUNS / 2];
}

/* The reference: every byte of every file read once, in order, in 64 KiB blocks. */
static double time_scan(struct audit *a, long long *bytes)
{
	static char buf[64 * 1024];
	double ms[RUNS];

	for (int i = 0; i < RUNS; i++) {
		struct audit_files files;
		double t0 = now();

		*bytes = 0;
		audit_files_open(a, &files);
		for (int f = 0; f < files.n; f++)
			for (off_t at = 0; at < files.file[f].size; at += (off_t)sizeof(buf)) {
				ssize_t n = pread(files.file[f].fd, buf, sizeof(buf), at);

				if (n <= 0)
					break;
				*bytes += n;
			}
		audit_files_close(&files);
		ms[i] = (now() - t0) * 1000;
	}
	qsort(ms, RUNS, sizeof(ms[0]), cmp_double);
	return ms[RUNS / 2];
}

static struct audit *write_log(const char *path, long mb, uint64_t *lines)
{
	struct failure err;
	struct audit *a = audit_open(path, (mb / 4 > 0 ? mb / 4 : 1) << 20, 5, &err);
	long long written = 0;
	char p[128];

	if (a == NULL) {
		fprintf(stderr, "bench_audit: %s\n", err.message);
		exit(1);
	}
	/* about 300 bytes a line, as a decision of `docker volume ls` makes */
	for (*lines = 0; written < (long long)mb << 20; (*lines)++) {
		snprintf(p, sizeof(p), "/volumes/bench-%llu", (unsigned long long)*lines);
		audit_decision(a, *lines % 7 ? "alice" : "bob",
			       json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "keyID",
					 "01a24e21-4446-7aa8-b924-2ec9ef7e34bc", "method", "GET",
					 "path", p, "operation", "Volume View", "collection",
					 "/Shared/Private/alice", "allow", 1, "role",
					 "restrictedcontrol", "reason", ""));
		written += 300;
	}
	audit_flush(a);
	return a;
}

int main(int argc, char **argv)
{
	long mb = argc > 1 ? strtol(argv[1], NULL, 10) : 200;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct audit_query q = {.since = INT64_MIN, .until = INT64_MAX};
	char dir[512], path[600], cmd[700];
	double scan_ms, first_ms, deep_ms, none_ms, bob_ms;
	long rss_before, rss_after;
	long long bytes;
	struct page page;
	uint64_t lines;
	struct audit *a;

	if (mb < 1) {
		fprintf(stderr, "usage: bench_audit [MB]   (at least 1)\n");
		return 2;
	}
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "%s/bench_audit.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("bench_audit: mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	a = write_log(path, mb, &lines);

	scan_ms = time_scan(a, &bytes);
	rss_before = max_rss_kib();
	first_ms = time_read(a, &q, &page);
	/* the oldest records kept: a cursor near the start of the oldest file */
	q.start = lines - (uint64_t)((double)lines * 0.95);
	deep_ms = time_read(a, &q, &page);
	q.start = 0;
	q.type = "no.such.event";
	none_ms = time_read(a, &q, &page);
	q.type = NULL;
	q.account = "bob";
	bob_ms = time_read(a, &q, &page);
	rss_after = max_rss_kib();

	printf("log_mib=%.0f lines=%llu\n", (double)bytes / (1 << 20), (unsigned long long)lines);
	printf("reference_full_read_ms=%.2f (every byte of the files once, 64 KiB preads)\n",
	       scan_ms);
	printf("first_page_ms=%.3f ratio=%.4f\n", first_ms, first_ms / scan_ms);
	printf("deep_page_ms=%.3f ratio=%.4f (cursor near the oldest record)\n", deep_ms,
	       deep_ms / scan_ms);
	printf("no_match_ms=%.2f ratio=%.2f (a filter that matches nothing: all of it, backward)\n",
	       none_ms, none_ms / scan_ms);
	printf("account_page_ms=%.3f (account=bob, 1 line in 7)\n", bob_ms);
	printf("max_rss_growth_kib=%ld (while reading)\n", rss_after - rss_before);
	audit_close(a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
