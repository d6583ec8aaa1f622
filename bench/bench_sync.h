/*
 * What the LDAP sync benchmarks share: calls to authd that must answer as
 * expected, and a sync job run to its end for its durationMs.
 */
#ifndef AUTHD_BENCH_SYNC_H
#define AUTHD_BENCH_SYNC_H

#include "harness.h"

/* A call that must answer `want` (else it says so on stderr); the reply's JSON in *json when
 * asked. 0, or -1. */
int bench_must(const struct authd *s, const char *token, const char *method, const char *path,
	       const char *body, long want, json_t **json);
/* Runs one sync to its end; its durationMs, or -1. *summary gets the summary's text (the
 * previous one is freed). */
double bench_run_sync(const struct authd *s, const char *admin, char **summary);

#endif
