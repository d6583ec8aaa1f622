/*
 * What the LDAP sync benchmarks share: calls to authd that must answer as
 * expected, and a sync job run to its end for its durationMs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_sync.h"

int bench_must(const struct authd *s, const char *token, const char *method, const char *path,
	       const char *body, long want, json_t **json)
{
	struct reply r;
	int rc =
	    http_call(s, method, path, token, body, NULL, &r) == 0 && r.status == want ? 0 : -1;

	if (rc != 0)
		fprintf(stderr, "bench: %s %s: %ld %s\n", method, path, r.status,
			r.body ? r.body : r.error);
	if (json != NULL)
		*json = rc == 0 ? json_incref(r.json) : NULL;
	reply_free(&r);
	return rc;
}

double bench_run_sync(const struct authd *s, const char *admin, char **summary)
{
	json_t *job = NULL;
	char path[128];
	double ms = -1;

	if (bench_must(s, admin, "POST", "/enzi/v0/jobs", "{\"action\":\"ldap-sync\"}", 202, &job))
		return -1;
	snprintf(path, sizeof(path), "/enzi/v0/jobs/%s", jstr(job, "id"));
	json_decref(job);
	for (;;) {
		const char *status;

		usleep(50 * 1000);
		if (bench_must(s, admin, "GET", path, NULL, 200, &job))
			return -1;
		status = jstr(job, "status");
		if (strcmp(status, "done") == 0 || strcmp(status, "errored") == 0 ||
		    strcmp(status, "canceled") == 0)
			break;
		json_decref(job);
	}
	if (strcmp(jstr(job, "status"), "done") == 0)
		ms = (double)jint(job, "summary.durationMs", -1);
	free(*summary);
	*summary = json_dumps(jpath(job, "summary"), JSON_COMPACT);
	json_decref(job);
	return ms;
}
