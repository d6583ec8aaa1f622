/*
 * Load generator for bench/bench_authz.sh: POSTs one body to a path on a unix
 * socket from THREADS threads, each with its own keep-alive libcurl handle,
 * for SECONDS; prints the rate, p50 and p99 latency, and the failures.
 *   bench_authz SOCKET PATH BODYFILE SECONDS THREADS [EXPECT]
 * BODYFILE "-" sends an empty body; EXPECT is text every answer must hold.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 256
#define ANSWER_MAX 4096

struct job {
	const char *socket, *url, *body, *expect;
	size_t body_len;
	double seconds;
	pthread_barrier_t start;
};

/* One thread's results; latencies in microseconds, grown as needed. */
struct worker {
	struct job *job;
	uint32_t *lat;
	size_t n, cap;
	long failed;
	char answer[ANSWER_MAX];
	size_t answer_len;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps the head of the answer, enough to find EXPECT in a plugin reply. */
static size_t on_answer(char *p, size_t size, size_t n, void *ctx)
{
	struct worker *w = ctx;
	size_t take = size * n;

	if (take > ANSWER_MAX - 1 - w->answer_len)
		take = ANSWER_MAX - 1 - w->answer_len;
	memcpy(w->answer + w->answer_len, p, take);
	w->answer_len += take;
	w->answer[w->answer_len] = '\0';
	return size * n;
}

static int record(struct worker *w, double seconds)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 65536;
		uint32_t *grown = realloc(w->lat, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		w->lat = grown;
		w->cap = cap;
	}
	w->lat[w->n++] = (uint32_t)(seconds * 1e6);
	return 0;
}

static CURL *handle(struct worker *w, struct curl_slist *headers)
{
	CURL *c = curl_easy_init();

	if (c == NULL)
		return NULL;
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, w->job->socket);
	curl_easy_setopt(c, CURLOPT_URL, w->job->url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, w->job->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->job->body_len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	return c;
}

static bool one_request(struct worker *w, CURL *c)
{
	long status = 0;
	double t0 = now();
	bool ok;

	w->answer_len = 0;
	w->answer[0] = '\0';
	ok = curl_easy_perform(c) == CURLE_OK &&
	     curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200 &&
	     (w->job->expect == NULL || strstr(w->answer, w->job->expect) != NULL);
	if (ok && record(w, now() - t0) != 0)
		ok = false;
	return ok;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	/* "Expect: 100-continue" would add a round trip to every request */
	struct curl_slist *headers =
	    curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"), "Expect:");
	CURL *c = handle(w, headers);
	double deadline;

	pthread_barrier_wait(&w->job->start);
	deadline = now() + w->job->seconds;
	while (c != NULL && now() < deadline)
		if (!one_request(w, c))
			w->failed++;
	if (c == NULL)
		w->failed++;
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Every thread's latencies in one sorted array; NULL when there are none. */
static uint32_t *merged(struct worker *ws, int threads, size_t *total)
{
	uint32_t *all;
	size_t n = 0;

	*total = 0;
	for (int i = 0; i < threads; i++)
		*total += ws[i].n;
	if (*total == 0 || (all = malloc(*total * sizeof(*all))) == NULL)
		return NULL;
	for (int i = 0; i < threads; i++) {
		memcpy(all + n, ws[i].lat, ws[i].n * sizeof(*all));
		n += ws[i].n;
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	return all;
}

static char *read_body(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? NULL : fopen(path, "rb");
	char *buf;
	long size;

	*len = 0;
	if (strcmp(path, "-") == 0)
		return strdup("");
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)size + 1)) == NULL) {
		if (f != NULL)
			fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)size, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void report(struct worker *ws, int threads, double seconds)
{
	size_t total;
	uint32_t *all = merged(ws, threads, &total);
	long failed = 0;

	for (int i = 0; i < threads; i++)
		failed += ws[i].failed;
	printf("rate=%.0f p50_us=%u p99_us=%u requests=%zu failures=%ld\n", (double)total / seconds,
	       all ? all[total / 2] : 0, all ? all[(size_t)((double)total * 0.99)] : 0, total,
	       failed);
	free(all);
}

int main(int argc, char **argv)
{
	static struct worker ws[MAX_THREADS];
	pthread_t tids[MAX_THREADS];
	struct job job = {0};
	char url[1024];
	int threads;

	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: %s SOCKET PATH BODYFILE|- SECONDS THREADS [EXPECT]\n",
			argv[0]);
		return 2;
	}
	snprintf(url, sizeof(url), "http://authd%s", argv[2]);
	job.socket = argv[1];
	job.url = url;
	job.body = read_body(argv[3], &job.body_len);
	job.seconds = atof(argv[4]);
	threads = atoi(argv[5]);
	job.expect = argc == 7 ? argv[6] : NULL;
	if (job.body == NULL || job.seconds <= 0 || threads < 1 || threads > MAX_THREADS ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "%s: bad arguments or unreadable %s\n", argv[0], argv[3]);
		return 2;
	}
	pthread_barrier_init(&job.start, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++) {
		ws[i].job = &job;
		pthread_create(&tids[i], NULL, run, &ws[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	report(ws, threads, job.seconds);
	for (int i = 0; i < threads; i++)
		free(ws[i].lat);
	pthread_barrier_destroy(&job.start);
	free((void *)job.body);
	curl_global_cleanup();
	return 0;
}
