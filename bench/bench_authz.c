/*
 * Load generator for bench/bench_authz.sh and bench/bench_cluster.sh: POSTs
 * to paths on a unix socket, or to URLs over TLS, from THREADS threads, each
 * with its own keep-alive libcurl handle, and prints the rate, p50 and p99
 * latency and the failures of each path.
 *   bench_authz SOCKET SECONDS THREADS PATH BODYFILE EXPECT [PATH BODYFILE EXPECT]...
 *   bench_authz tls:DIR SECONDS THREADS URL BODYFILE EXPECT [URL BODYFILE EXPECT]...
 * tls:DIR is for authz.listen: each URL (https://...) is reached presenting
 * the engine's client certificate that `authd engine-tls --plugin-client
 * --out DIR` wrote, and verifying the server with its plugin-ca.pem.
 * With several paths, every thread sends to one path at a time and all move
 * to the next every second, round and round, so that each path gets SECONDS
 * in all and the paths see the same moments of machine load: a busy neighbour
 * cannot favour one of them. BODYFILE "-" sends an empty body; EXPECT is text
 * every answer must hold ("" for none).
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
#define MAX_TARGETS 4
#define ANSWER_MAX 4096
#define SLICE_SECONDS 1.0

struct target {
	const char *path, *expect;
	char url[1024];
	char *body;
	size_t body_len;
};

struct job {
	const char *socket; /* NULL over TLS */
	char ca[1024], cert[1024], key[1024];
	struct target targets[MAX_TARGETS];
	int ntargets;
	double seconds; /* per target */
	double t0;	/* set by one thread once all are ready */
	pthread_barrier_t start;
};

/* One thread's results for one target; latencies in microseconds, grown as needed. */
struct series {
	uint32_t *lat;
	size_t n, cap;
	long failed;
};

struct worker {
	struct job *job;
	struct series s[MAX_TARGETS];
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

static int record(struct series *s, double seconds)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 65536;
		uint32_t *grown = realloc(s->lat, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		s->lat = grown;
		s->cap = cap;
	}
	s->lat[s->n++] = (uint32_t)(seconds * 1e6);
	return 0;
}

static CURL *handle(struct worker *w, struct curl_slist *headers)
{
	CURL *c = curl_easy_init();

	if (c == NULL)
		return NULL;
	if (w->job->socket != NULL) {
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, w->job->socket);
	} else {
		curl_easy_setopt(c, CURLOPT_CAINFO, w->job->ca);
		curl_easy_setopt(c, CURLOPT_SSLCERT, w->job->cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, w->job->key);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	return c;
}

static void aim(CURL *c, const struct target *t)
{
	curl_easy_setopt(c, CURLOPT_URL, t->url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, t->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
}

static bool one_request(struct worker *w, CURL *c, const struct target *t, struct series *s)
{
	long status = 0;
	double t0 = now();
	bool ok;

	w->answer_len = 0;
	w->answer[0] = '\0';
	ok = curl_easy_perform(c) == CURLE_OK &&
	     curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200 &&
	     strstr(w->answer, t->expect) != NULL;
	if (ok && record(s, now() - t0) != 0)
		ok = false;
	return ok;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct job *job = w->job;
	/* "Expect: 100-continue" would add a round trip to every request */
	struct curl_slist *headers =
	    curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"), "Expect:");
	CURL *c = handle(w, headers);
	int aimed = -1;
	double t;

	if (pthread_barrier_wait(&job->start) == PTHREAD_BARRIER_SERIAL_THREAD)
		job->t0 = now();
	pthread_barrier_wait(&job->start);
	while (c != NULL && (t = now() - job->t0) < job->seconds * job->ntargets) {
		int i = (int)(t / SLICE_SECONDS) % job->ntargets;

		if (i != aimed)
			aim(c, &job->targets[aimed = i]);
		if (!one_request(w, c, &job->targets[i], &w->s[i]))
			w->s[i].failed++;
	}
	if (c == NULL)
		w->s[0].failed++;
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Every thread's latencies for target i in one sorted array; NULL when there are none. */
static uint32_t *merged(struct worker *ws, int threads, int i, size_t *total)
{
	uint32_t *all;
	size_t n = 0;

	*total = 0;
	for (int k = 0; k < threads; k++)
		*total += ws[k].s[i].n;
	if (*total == 0 || (all = malloc(*total * sizeof(*all))) == NULL)
		return NULL;
	for (int k = 0; k < threads; k++) {
		memcpy(all + n, ws[k].s[i].lat, ws[k].s[i].n * sizeof(*all));
		n += ws[k].s[i].n;
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

static void report(struct worker *ws, int threads, const struct job *job)
{
	for (int i = 0; i < job->ntargets; i++) {
		size_t total;
		uint32_t *all = merged(ws, threads, i, &total);
		long failed = 0;

		for (int k = 0; k < threads; k++)
			failed += ws[k].s[i].failed;
		printf("%s rate=%.0f p50_us=%u p99_us=%u requests=%zu failures=%ld\n",
		       job->targets[i].path, (double)total / job->seconds, all ? all[total / 2] : 0,
		       all ? all[(size_t)((double)total * 0.99)] : 0, total, failed);
		free(all);
	}
}

/* Reads argv's PATH BODYFILE EXPECT triples into job; -1 on a bad one. */
static int read_targets(struct job *job, int argc, char **argv)
{
	for (int a = 0; a + 2 < argc; a += 3) {
		struct target *t = &job->targets[job->ntargets++];

		t->path = argv[a];
		t->expect = argv[a + 2];
		if (job->socket == NULL)
			snprintf(t->url, sizeof(t->url), "%s", t->path);
		else
			snprintf(t->url, sizeof(t->url), "http://authd%s", t->path);
		if ((t->body = read_body(argv[a + 1], &t->body_len)) == NULL) {
			fprintf(stderr, "bench_authz: cannot read %s\n", argv[a + 1]);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct worker ws[MAX_THREADS];
	pthread_t tids[MAX_THREADS];
	struct job job = {0};
	int threads;

	if (argc < 7 || (argc - 4) % 3 != 0 || (argc - 4) / 3 > MAX_TARGETS) {
		fprintf(stderr,
			"usage: %s SOCKET|tls:DIR SECONDS THREADS PATH|URL BODYFILE|- EXPECT "
			"[PATH|URL BODYFILE|- EXPECT]... (at most %d paths)\n",
			argv[0], MAX_TARGETS);
		return 2;
	}
	job.socket = argv[1];
	if (strncmp(job.socket, "tls:", 4) == 0) {
		snprintf(job.ca, sizeof(job.ca), "%s/plugin-ca.pem", job.socket + 4);
		snprintf(job.cert, sizeof(job.cert), "%s/plugin-cert.pem", job.socket + 4);
		snprintf(job.key, sizeof(job.key), "%s/plugin-key.pem", job.socket + 4);
		job.socket = NULL;
	}
	job.seconds = atof(argv[2]);
	threads = atoi(argv[3]);
	if (job.seconds <= 0 || threads < 1 || threads > MAX_THREADS ||
	    read_targets(&job, argc - 4, argv + 4) != 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "%s: bad arguments\n", argv[0]);
		return 2;
	}
	pthread_barrier_init(&job.start, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++) {
		ws[i].job = &job;
		pthread_create(&tids[i], NULL, run, &ws[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	report(ws, threads, &job);
	for (int i = 0; i < threads; i++)
		for (int k = 0; k < job.ntargets; k++)
			free(ws[i].s[k].lat);
	pthread_barrier_destroy(&job.start);
	for (int k = 0; k < job.ntargets; k++)
		free(job.targets[k].body);
	curl_global_cleanup();
	return 0;
}
