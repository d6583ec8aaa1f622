/*
 * Change propagation between two replicas on one PostgreSQL database: a
 * grant added and removed on replica A, BENCH_CHANGES times, each timed from
 * A's answer until B's /api/authz decision follows it. Printed beside the
 * reference measured in the same run: one decision's round trip on B, the
 * finest step at which the propagation can be seen from outside.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "pgcluster.h"

#define ADMIN_PW "Bench-Admin-Passw0rd"
#define DEFAULT_CHANGES 1000
#define GIVE_UP_S 5.0

static struct authd *a, *b;
static char *admin_a, *admin_b;

static char *config_for(const char *dsn, const char *name)
{
	json_t *c = json_pack("{s:{s:s, s:s}, s:{s:s}}", "store", "driver", "postgres", "dsn", dsn,
			      "replica", "name", name);
	char *text = json_dumps(c, 0);

	json_decref(c);
	return text;
}

static int copy_secret_key(void)
{
	char path[IT_PATH_LEN + 16];
	size_t len = 0;
	char *key;
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/secret.key", a->dir);
	key = it_read_file(path, &len);
	snprintf(path, sizeof(path), "%s/secret.key", b->dir);
	f = fopen(path, "wb");
	if (key != NULL && f != NULL && fwrite(key, 1, len, f) == len)
		rc = chmod(path, 0600);
	if (f != NULL && fclose(f) != 0)
		rc = -1;
	free(key);
	return rc;
}

/* The status of a call, its JSON body's "allow" in *allow when asked for. */
static long call(struct authd *s, const char *method, const char *path, const char *token,
		 const char *body, int *allow)
{
	struct reply r;
	long status;

	if (http_call(s, method, path, token, body, NULL, &r) != 0) {
		reply_free(&r);
		return 0;
	}
	status = r.status;
	if (allow != NULL)
		*allow = jbool(r.json, "allow");
	reply_free(&r);
	return status;
}

static int decision_on_b(void)
{
	static const char body[] = "{\"account\":\"bench-user\",\"method\":\"GET\","
				   "\"uri\":\"/v1.41/volumes/v\"}";
	int allow = -1;

	call(b, "POST", "/api/authz", admin_b, body, &allow);
	return allow;
}

static int by_value(const void *x, const void *y)
{
	double d = *(const double *)x - *(const double *)y;

	return d < 0 ? -1 : d > 0;
}

static void print_figure(const char *name, double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), by_value);
	printf("%s_p50_ms=%.2f %s_p99_ms=%.2f %s_max_ms=%.2f\n", name, t[n / 2] * 1000, name,
	       t[(n * 99) / 100] * 1000, name, t[n - 1] * 1000);
}

/* n changes on A, each timed until B decides as it says; 0, or -1 when one never arrived. */
static int measure(const char *grant, int n, double *prop, double *rtt)
{
	for (int i = 0; i < n; i++) {
		int want = i % 2 == 0;
		double t0, t1;

		if (call(a, want ? "PUT" : "DELETE", grant, admin_a, NULL, NULL) / 100 != 2)
			return -1;
		t0 = it_now();
		for (;;) {
			t1 = it_now();
			if (decision_on_b() == want)
				break;
			if (t1 - t0 > GIVE_UP_S)
				return -1;
		}
		prop[i] = it_now() - t0;
		rtt[i] = it_now() - t1;
	}
	return 0;
}

static int run(int n)
{
	char dsn[IT_PATH_LEN], *ca = NULL, *cb = NULL, grant[256], id[64] = "";
	double *prop = calloc((size_t)n, sizeof(double)), *rtt = calloc((size_t)n, sizeof(double));
	struct reply r;
	int rc = -1;

	if (prop == NULL || rtt == NULL || it_pg_start() != 0 ||
	    it_pg_database(dsn, sizeof(dsn)) != 0)
		goto out;
	ca = config_for(dsn, "bench-a");
	cb = config_for(dsn, "bench-b");
	a = authd_new(ca);
	b = authd_new(cb);
	if (a == NULL || b == NULL || authd_start(a, ADMIN_PW) != 0 || copy_secret_key() != 0 ||
	    authd_start(b, ADMIN_PW) != 0)
		goto out;
	admin_a = authd_login(a, "admin", ADMIN_PW);
	admin_b = authd_login(b, "admin", ADMIN_PW);
	if (admin_a == NULL || admin_b == NULL ||
	    http_call(a, "POST", "/enzi/v0/accounts", admin_a,
		      "{\"name\":\"bench-user\",\"password\":\"Bench-User-Passw0rd\"}", NULL,
		      &r) != 0)
		goto out;
	if (r.status == 201 && jstr(r.json, "id") != NULL)
		snprintf(id, sizeof(id), "%s", jstr(r.json, "id"));
	reply_free(&r);
	snprintf(grant, sizeof(grant), "/collectionGrants/%s/shared/viewonly", id);
	if (id[0] == '\0' || measure(grant, n, prop, rtt) != 0) {
		fprintf(stderr, "bench_propagation: a change did not reach B within %.0f s\n",
			GIVE_UP_S);
		goto out;
	}
	printf("changes=%d (grants added and removed on A, decided on B)\n", n);
	print_figure("propagation", prop, n);
	print_figure("reference_decision_rtt", rtt, n);
	printf("target: propagation p99 <= 100 ms (bound 1000 ms): %s\n",
	       prop[(n * 99) / 100] <= 0.1 ? "met" : "missed");
	rc = 0;
out:
	free(admin_a);
	free(admin_b);
	authd_free(a);
	authd_free(b);
	it_pg_stop();
	free(ca);
	free(cb);
	free(prop);
	free(rtt);
	return rc;
}

int main(void)
{
	const char *env = getenv("BENCH_CHANGES");
	int n = env != NULL ? atoi(env) : DEFAULT_CHANGES, rc;

	if (n < 2) {
		fprintf(stderr, "bench_propagation: BENCH_CHANGES must be 2 or more\n");
		return 2;
	}
	if (!it_pg_installed()) {
		fprintf(stderr,
			"bench_propagation: PostgreSQL's server programs are not installed\n");
		return 77;
	}
	unsetenv("AUTHD_TEST_STORE"); /* the store is chosen here */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || it_workdir_init() != 0)
		return 1;
	rc = run(n);
	http_close();
	it_workdir_remove();
	curl_global_cleanup();
	return rc == 0 ? 0 : 1;
}
