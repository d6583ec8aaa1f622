/*
 * Unit tests of dockerapi: RequestUri normalization, the route table (one
 * example per row, so a row without a test fails) and the reading of bodies.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerapi.h"

#define NONE DK_TARGET_NONE
#define NEW DK_TARGET_NEW
#define OBJ DK_TARGET_EXISTING

struct example {
	const char *method;
	const char *uri; /* as the engine sends RequestUri */
	const char *pattern;
	enum dk_resource resource;
	const char *operation;
	enum dk_target target;
	const char *object;
	bool inspect_body;
};

/* clang-format off */
static const struct example examples[] = {
	{"GET", "/v1.41/containers/json?all=1", "/containers/json", DK_CONTAINER, "Container View", NONE, "", false},
	{"POST", "/v1.44/containers/create?name=web", "/containers/create", DK_CONTAINER, "Container Create", NEW, "", true},
	{"GET", "/containers/abc123/json", "/containers/{id}/json", DK_CONTAINER, "Container View", OBJ, "abc123", false},
	{"GET", "/v1.41/containers/web/top?ps_args=aux", "/containers/{id}/top", DK_CONTAINER, "Container Top", OBJ, "web", false},
	{"GET", "/v1.41/containers/web/logs?follow=1", "/containers/{id}/logs", DK_CONTAINER, "Container Logs", OBJ, "web", false},
	{"GET", "/v1.41/containers/web/changes", "/containers/{id}/changes", DK_CONTAINER, "Container Changes", OBJ, "web", false},
	{"GET", "/v1.41/containers/web/export", "/containers/{id}/export", DK_CONTAINER, "Container Export", OBJ, "web", false},
	{"GET", "/v1.41/containers/web/stats?stream=0", "/containers/{id}/stats", DK_CONTAINER, "Container Stats", OBJ, "web", false},
	{"POST", "/v1.41/containers/web/resize?h=40&w=80", "/containers/{id}/resize", DK_CONTAINER, "Container Resize", OBJ, "web", false},
	{"POST", "/v1.41/containers/web/start", "/containers/{id}/start", DK_CONTAINER, "Container Start", OBJ, "web", false},
	{"POST", "/v1.41/containers/web/stop?t=5", "/containers/{id}/stop", DK_CONTAINER, "Container Stop", OBJ, "web", false},
	{"POST", "/v1.41/containers/web/restart", "/containers/{id}/restart", DK_CONTAINER, "Container Restart", OBJ, "web", false},
	{"POST", "/v1.41/containers/web/kill?signal=HUP", "/containers/{id}/kill", DK_CONTAINER, "Container Kill", OBJ, "web", false},
	{"POST", "/v1.41/containers/web/update", "/containers/{id}/update", DK_CONTAINER, "Container Update", OBJ, "web", true},
	{"POST", "/v1.41/containers/web/rename?name=web2", "/containers/{id}/rename", DK_CONTAINER, "Container Rename", OBJ, "web", false},
	{"POST", "/v1.41/containers/web/pause", "/containers/{id}/pause", DK_CONTAINER, "Container Pause", OBJ, "web", false},
	{"POST", "/v1.41/containers/web/unpause", "/containers/{id}/unpause", DK_CONTAINER, "Container Unpause", OBJ, "web", false},
	{"POST", "/v1.41/containers/web/attach?stream=1", "/containers/{id}/attach", DK_CONTAINER, "Container Attach", OBJ, "web", false},
	{"GET", "/v1.41/containers/web/attach/ws", "/containers/{id}/attach/ws", DK_CONTAINER, "Container Attach", OBJ, "web", false},
	{"POST", "/v1.41/containers/web/wait?condition=removed", "/containers/{id}/wait", DK_CONTAINER, "Container Wait", OBJ, "web", false},
	{"DELETE", "/v1.41/containers/web?force=1", "/containers/{id}", DK_CONTAINER, "Container Remove", OBJ, "web", false},
	{"HEAD", "/v1.41/containers/web/archive?path=/etc", "/containers/{id}/archive", DK_CONTAINER, "Container Filesystem Read", OBJ, "web", false},
	{"GET", "/v1.41/containers/web/archive?path=/etc", "/containers/{id}/archive", DK_CONTAINER, "Container Filesystem Read", OBJ, "web", false},
	{"PUT", "/v1.41/containers/web/archive?path=/tmp", "/containers/{id}/archive", DK_CONTAINER, "Container Filesystem Write", OBJ, "web", false},
	{"POST", "/v1.41/containers/prune", "/containers/prune", DK_CONTAINER, "Container Remove", NONE, "", false},
	{"POST", "/v1.41/containers/web/exec", "/containers/{id}/exec", DK_CONTAINER, "Container Exec", OBJ, "web", true},
	{"POST", "/v1.41/exec/e1f2/start", "/exec/{id}/start", DK_CONTAINER, "Container Exec", OBJ, "e1f2", false},
	{"POST", "/v1.41/exec/e1f2/resize?h=1&w=2", "/exec/{id}/resize", DK_CONTAINER, "Container Exec", OBJ, "e1f2", false},
	{"GET", "/v1.41/exec/e1f2/json", "/exec/{id}/json", DK_CONTAINER, "Container Exec", OBJ, "e1f2", false},
	{"GET", "/v1.43/images/json", "/images/json", DK_IMAGE, "Image View", NONE, "", false},
	{"POST", "/v1.43/build?t=app", "/build", DK_IMAGE, "Image Build", NEW, "", false},
	{"POST", "/v1.43/build/prune", "/build/prune", DK_IMAGE, "Image Prune", NONE, "", false},
	{"POST", "/v1.43/build/cancel?id=x", "/build/cancel", DK_IMAGE, "Image Build", NONE, "", false},
	{"POST", "/v1.43/images/create?fromImage=alpine&tag=3", "/images/create", DK_IMAGE, "Image Create", NEW, "", false},
	{"GET", "/v1.43/images/alpine/json", "/images/{name*}/json", DK_IMAGE, "Image View", OBJ, "alpine", false},
	{"GET", "/v1.43/images/library/alpine:3/history", "/images/{name*}/history", DK_IMAGE, "Image History", OBJ, "library/alpine:3", false},
	{"POST", "/v1.43/images/registry.example.com:5000/team/app:1.0/push", "/images/{name*}/push", DK_IMAGE, "Image Push", OBJ, "registry.example.com:5000/team/app:1.0", false},
	{"POST", "/v1.43/images/app/tag?repo=x/app&tag=2", "/images/{name*}/tag", DK_IMAGE, "Image Tag", OBJ, "app", false},
	{"DELETE", "/v1.43/images/team/app:1.0", "/images/{name*}", DK_IMAGE, "Image Remove", OBJ, "team/app:1.0", false},
	{"GET", "/v1.43/images/search?term=alpine", "/images/search", DK_IMAGE, "Image Search", NONE, "", false},
	{"POST", "/v1.43/images/prune", "/images/prune", DK_IMAGE, "Image Prune", NONE, "", false},
	{"POST", "/v1.43/commit?container=web&repo=snap", "/commit", DK_IMAGE, "Image Commit", NONE, "", false},
	{"GET", "/v1.43/images/team/app/get", "/images/{name*}/get", DK_IMAGE, "Image Export", OBJ, "team/app", false},
	{"GET", "/v1.43/images/get?names=a&names=b", "/images/get", DK_IMAGE, "Image Export", NONE, "", false},
	{"POST", "/v1.43/images/load?quiet=1", "/images/load", DK_IMAGE, "Image Load", NEW, "", false},
	{"GET", "/v1.43/distribution/docker.io/library/alpine:latest/json", "/distribution/{name*}/json", DK_IMAGE, "Image View", OBJ, "docker.io/library/alpine:latest", false},
	{"GET", "/networks?filters=%7B%7D", "/networks", DK_NETWORK, "Network View", NONE, "", false},
	{"GET", "/networks/front", "/networks/{id}", DK_NETWORK, "Network View", OBJ, "front", false},
	{"DELETE", "/networks/front", "/networks/{id}", DK_NETWORK, "Network Remove", OBJ, "front", false},
	{"POST", "/networks/create", "/networks/create", DK_NETWORK, "Network Create", NEW, "", true},
	{"POST", "/networks/front/connect", "/networks/{id}/connect", DK_NETWORK, "Network Connect", OBJ, "front", false},
	{"POST", "/networks/front/disconnect", "/networks/{id}/disconnect", DK_NETWORK, "Network Disconnect", OBJ, "front", false},
	{"POST", "/networks/prune", "/networks/prune", DK_NETWORK, "Network Prune", NONE, "", false},
	{"GET", "/v1.42/volumes", "/volumes", DK_VOLUME, "Volume View", NONE, "", false},
	{"GET", "/v1.42/volumes/data", "/volumes/{name}", DK_VOLUME, "Volume View", OBJ, "data", false},
	{"POST", "/v1.42/volumes/create", "/volumes/create", DK_VOLUME, "Volume Create/Attach", NEW, "", true},
	{"PUT", "/v1.42/volumes/data?version=3", "/volumes/{name}", DK_VOLUME, "Volume Create/Attach", OBJ, "data", false},
	{"DELETE", "/v1.42/volumes/data", "/volumes/{name}", DK_VOLUME, "Volume Remove", OBJ, "data", false},
	{"POST", "/v1.42/volumes/prune", "/volumes/prune", DK_VOLUME, "Volume Prune", NONE, "", false},
	{"GET", "/v1.41/swarm", "/swarm", DK_SWARM, "Swarm View", NONE, "", false},
	{"POST", "/v1.41/swarm/init", "/swarm/init", DK_SWARM, "Swarm Init", NONE, "", true},
	{"POST", "/v1.41/swarm/join", "/swarm/join", DK_SWARM, "Swarm Join", NONE, "", true},
	{"POST", "/v1.41/swarm/leave?force=1", "/swarm/leave", DK_SWARM, "Swarm Leave", NONE, "", false},
	{"POST", "/v1.41/swarm/update?version=9", "/swarm/update", DK_SWARM, "Swarm Update", NONE, "", true},
	{"GET", "/v1.41/swarm/unlockkey", "/swarm/unlockkey", DK_SWARM, "Swarm Unlock", NONE, "", false},
	{"POST", "/v1.41/swarm/unlock", "/swarm/unlock", DK_SWARM, "Swarm Unlock", NONE, "", false},
	{"GET", "/v1.41/nodes", "/nodes", DK_NODE, "Node View", NONE, "", false},
	{"GET", "/v1.41/nodes/n1", "/nodes/{id}", DK_NODE, "Node View", OBJ, "n1", false},
	{"DELETE", "/v1.41/nodes/n1", "/nodes/{id}", DK_NODE, "Node Remove", OBJ, "n1", false},
	{"POST", "/v1.41/nodes/n1/update?version=2", "/nodes/{id}/update", DK_NODE, "Node Update", OBJ, "n1", true},
	{"GET", "/v1.41/services", "/services", DK_SERVICE, "Service View", NONE, "", false},
	{"POST", "/v1.41/services/create", "/services/create", DK_SERVICE, "Service Create", NEW, "", true},
	{"GET", "/v1.41/services/s1", "/services/{id}", DK_SERVICE, "Service View", OBJ, "s1", false},
	{"DELETE", "/v1.41/services/s1", "/services/{id}", DK_SERVICE, "Service Delete", OBJ, "s1", false},
	{"POST", "/v1.41/services/s1/update?version=4", "/services/{id}/update", DK_SERVICE, "Service Update", OBJ, "s1", true},
	{"GET", "/v1.41/services/s1/logs", "/services/{id}/logs", DK_SERVICE, "Service Logs", OBJ, "s1", false},
	{"GET", "/v1.41/tasks", "/tasks", DK_SERVICE, "Service View Tasks", NONE, "", false},
	{"GET", "/v1.41/tasks/t1", "/tasks/{id}", DK_SERVICE, "Service View Tasks", OBJ, "t1", false},
	{"GET", "/v1.41/tasks/t1/logs", "/tasks/{id}/logs", DK_SERVICE, "Service Logs", OBJ, "t1", false},
	{"GET", "/v1.41/secrets", "/secrets", DK_SECRET, "Secret View", NONE, "", false},
	{"POST", "/v1.41/secrets/create", "/secrets/create", DK_SECRET, "Secret Create", NEW, "", true},
	{"GET", "/v1.41/secrets/k1", "/secrets/{id}", DK_SECRET, "Secret View", OBJ, "k1", false},
	{"DELETE", "/v1.41/secrets/k1", "/secrets/{id}", DK_SECRET, "Secret Delete", OBJ, "k1", false},
	{"POST", "/v1.41/secrets/k1/update?version=1", "/secrets/{id}/update", DK_SECRET, "Secret Update", OBJ, "k1", true},
	{"GET", "/v1.41/configs", "/configs", DK_CONFIG, "Config View", NONE, "", false},
	{"POST", "/v1.41/configs/create", "/configs/create", DK_CONFIG, "Config Create", NEW, "", true},
	{"GET", "/v1.41/configs/c1", "/configs/{id}", DK_CONFIG, "Config View", OBJ, "c1", false},
	{"DELETE", "/v1.41/configs/c1", "/configs/{id}", DK_CONFIG, "Config Delete", OBJ, "c1", false},
	{"POST", "/v1.41/configs/c1/update?version=1", "/configs/{id}/update", DK_CONFIG, "Config Update", OBJ, "c1", true},
	{"GET", "/v1.41/plugins", "/plugins", DK_PLUGIN, "Plugin View", NONE, "", false},
	{"GET", "/v1.41/plugins/privileges?remote=vieux/sshfs", "/plugins/privileges", DK_PLUGIN, "Plugin View", NONE, "", false},
	{"POST", "/v1.41/plugins/pull?remote=vieux/sshfs", "/plugins/pull", DK_PLUGIN, "Plugin Install", NEW, "", true},
	{"POST", "/v1.41/plugins/create?name=p", "/plugins/create", DK_PLUGIN, "Plugin Create", NEW, "", true},
	{"GET", "/v1.41/plugins/vieux/sshfs:latest/json", "/plugins/{name*}/json", DK_PLUGIN, "Plugin View", OBJ, "vieux/sshfs:latest", false},
	{"DELETE", "/v1.41/plugins/vieux/sshfs:latest?force=1", "/plugins/{name*}", DK_PLUGIN, "Plugin Remove", OBJ, "vieux/sshfs:latest", false},
	{"POST", "/v1.41/plugins/vieux/sshfs/enable?timeout=0", "/plugins/{name*}/enable", DK_PLUGIN, "Plugin Enable", OBJ, "vieux/sshfs", false},
	{"POST", "/v1.41/plugins/vieux/sshfs/disable", "/plugins/{name*}/disable", DK_PLUGIN, "Plugin Disable", OBJ, "vieux/sshfs", false},
	{"POST", "/v1.41/plugins/vieux/sshfs/upgrade?remote=vieux/sshfs:2", "/plugins/{name*}/upgrade", DK_PLUGIN, "Plugin Upgrade", OBJ, "vieux/sshfs", true},
	{"POST", "/v1.41/plugins/registry:5000/p:1/push", "/plugins/{name*}/push", DK_PLUGIN, "Plugin Push", OBJ, "registry:5000/p:1", false},
	{"POST", "/v1.41/plugins/vieux/sshfs/set", "/plugins/{name*}/set", DK_PLUGIN, "Plugin Configure", OBJ, "vieux/sshfs", true},
	{"GET", "/_ping", "/_ping", DK_SYSTEM, "System Ping", NONE, "", false},
	{"HEAD", "/v1.44/_ping", "/_ping", DK_SYSTEM, "System Ping", NONE, "", false},
	{"GET", "/v1.44/version", "/version", DK_SYSTEM, "System Version", NONE, "", false},
	{"GET", "/v1.44/info", "/info", DK_SYSTEM, "System Info", NONE, "", false},
	{"GET", "/v1.44/events?since=1", "/events", DK_SYSTEM, "System Events", NONE, "", false},
	{"GET", "/v1.44/system/df", "/system/df", DK_SYSTEM, "System Disk Usage", NONE, "", false},
	{"POST", "/v1.44/auth", "/auth", DK_SYSTEM, "System Auth", NONE, "", false},
	{"POST", "/v1.44/session", "/session", DK_SYSTEM, "System Session", NONE, "", false},
};
/* clang-format on */

#define N_EXAMPLES (sizeof(examples) / sizeof(examples[0]))

/* Normalizes uri and looks it up; 0 when both succeed. */
static int route(const char *method, const char *uri, struct dk_op *op)
{
	char path[1024], query[1024];
	struct refusal why = {"", ""};

	if (dk_normalize(uri, path, sizeof(path), query, sizeof(query), &why) != 0)
		return -1;
	return dk_lookup(method, path, op);
}

/* Normalization must refuse uri, with a reason that mentions `want`. */
static void expect_refused(const char *uri, const char *want)
{
	char path[1024], query[1024];
	struct refusal why = {"", ""};

	ck_assert_msg(dk_normalize(uri, path, sizeof(path), query, sizeof(query), &why) == -1,
		      "%s was accepted as %s", uri, path);
	ck_assert(why.message[0] != '\0');
	ck_assert_msg(strstr(why.message, want) != NULL, "%s: \"%s\" lacks \"%s\"", uri,
		      why.message, want);
	ck_assert_str_eq(path, "");
}

static void expect_path(const char *uri, const char *want_path, const char *want_query)
{
	char path[1024], query[1024];
	struct refusal why = {"", ""};

	ck_assert_msg(dk_normalize(uri, path, sizeof(path), query, sizeof(query), &why) == 0,
		      "%s: %s", uri, why.message);
	ck_assert_str_eq(path, want_path);
	ck_assert_str_eq(query, want_query);
}

/* ---- the table ---- */

START_TEST(every_row_has_an_example)
{
	ck_assert_uint_eq(dk_route_count(), N_EXAMPLES);
	/* n distinct rows hit by n examples: every row is reached */
	for (size_t i = 0; i < N_EXAMPLES; i++)
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(examples[i].method, examples[j].method) != 0 ||
					  strcmp(examples[i].pattern, examples[j].pattern) != 0,
				      "two examples of %s %s", examples[i].method,
				      examples[i].pattern);
}
END_TEST

START_TEST(each_example_routes_as_expected)
{
	const struct example *e = &examples[_i];
	struct dk_op op;

	ck_assert_msg(route(e->method, e->uri, &op) == 0, "%s %s: no route", e->method, e->uri);
	ck_assert_str_eq(op.pattern, e->pattern);
	ck_assert_int_eq(op.resource, e->resource);
	ck_assert_str_eq(op.operation, e->operation);
	ck_assert_int_eq(op.target, e->target);
	ck_assert_str_eq(op.object, e->object);
	ck_assert_int_eq(op.inspect_body, e->inspect_body);
}
END_TEST

/* Another method, a segment before the path or one after it: the row does not match. */
START_TEST(each_example_is_anchored_and_method_bound)
{
	const struct example *e = &examples[_i];
	char path[1024], query[1024], longer[1100];
	struct refusal why = {"", ""};
	struct dk_op op;

	ck_assert_int_eq(dk_normalize(e->uri, path, sizeof(path), query, sizeof(query), &why), 0);
	snprintf(longer, sizeof(longer), "/x%s", path);
	ck_assert_int_eq(dk_lookup(e->method, longer, &op), -1);
	ck_assert_int_eq(dk_lookup("PATCH", path, &op), -1);
	ck_assert_int_eq(dk_lookup("OPTIONS", path, &op), -1);
	/* a trailing segment leaves the row, unless a {name*} at its end takes it */
	if (e->pattern[strlen(e->pattern) - 1] != '}' || strstr(e->pattern, "*}") == NULL) {
		snprintf(longer, sizeof(longer), "%s/extra", path);
		ck_assert_msg(dk_lookup(e->method, longer, &op) == -1 ||
				  strcmp(op.pattern, e->pattern) != 0,
			      "%s matched %s", longer, e->pattern);
	}
}
END_TEST

/* ---- unknown routes ---- */

START_TEST(unknown_routes_extra_segments_and_wrong_methods_are_refused)
{
	struct dk_op op;

	ck_assert_int_eq(route("GET", "/v1.41/containers", &op), -1);
	ck_assert_int_eq(route("GET", "/v1.41/nothing/here", &op), -1);
	ck_assert_int_eq(route("GET", "/", &op), -1);
	ck_assert_int_eq(route("GET", "/v1.41/", &op), -1);
	ck_assert_int_eq(route("GET", "/v1.41/containers/web/json/extra", &op), -1);
	ck_assert_int_eq(route("POST", "/v1.41/containers/create/now", &op), -1);
	ck_assert_int_eq(route("GET", "/v1.41/_ping/x", &op), -1);
	ck_assert_int_eq(route("GET", "/v1.41/info/", &op), 0); /* one trailing / is dropped */
	ck_assert_int_eq(route("POST", "/v1.41/containers/json", &op), -1);
	ck_assert_int_eq(route("GET", "/v1.41/containers/create", &op), -1);
	ck_assert_int_eq(route("DELETE", "/v1.41/networks", &op), -1);
	ck_assert_int_eq(route("get", "/v1.41/info", &op), -1); /* methods are case-sensitive */
	ck_assert_int_eq(route("PUT", "/v1.41/images/app/json", &op), -1);
	ck_assert_int_eq(route("GET", "/v1.41/images//json", &op), -1);
	ck_assert_int_eq(route("GET", "/v1.41/Containers/json", &op), -1);
	ck_assert_int_eq(route("POST", "/grpc", &op), -1);
	/* a failed lookup leaves nothing behind that a caller could act on */
	ck_assert_ptr_null(op.operation);
	ck_assert_str_eq(op.object, "");
}
END_TEST

START_TEST(lookup_refuses_paths_that_are_not_canonical)
{
	struct dk_op op;

	ck_assert_int_eq(dk_lookup("GET", "containers/json", &op), -1);
	ck_assert_int_eq(dk_lookup("GET", "/containers/../json", &op), -1);
	ck_assert_int_eq(dk_lookup("GET", "/images/a/../b/json", &op), -1);
	ck_assert_int_eq(dk_lookup("GET", "/images/./json", &op), -1);
	ck_assert_int_eq(dk_lookup("GET", "/containers//json", &op), -1);
	ck_assert_int_eq(dk_lookup("GET", "", &op), -1);
	ck_assert_int_eq(dk_lookup(NULL, "/info", &op), -1);
	ck_assert_int_eq(dk_lookup("GET", NULL, &op), -1);
}
END_TEST

/* ---- names with "/" and ":" ---- */

START_TEST(names_may_span_segments)
{
	struct dk_op op;

	ck_assert_int_eq(
	    route("GET", "/v1.41/images/registry.example.com:5000/team/app:1.0/json", &op), 0);
	ck_assert_str_eq(op.operation, "Image View");
	ck_assert_str_eq(op.object, "registry.example.com:5000/team/app:1.0");
	ck_assert_int_eq(
	    route("DELETE", "/v1.41/images/registry.example.com:5000/team/app:1.0", &op), 0);
	ck_assert_str_eq(op.operation, "Image Remove");
	ck_assert_str_eq(op.object, "registry.example.com:5000/team/app:1.0");
	/* a name ending in a route word still leaves the last segment to the route */
	ck_assert_int_eq(route("GET", "/images/team/json/json", &op), 0);
	ck_assert_str_eq(op.object, "team/json");
	ck_assert_int_eq(route("GET", "/images/team/history/json", &op), 0);
	ck_assert_str_eq(op.operation, "Image View");
	ck_assert_str_eq(op.object, "team/history");
	ck_assert_int_eq(route("POST", "/images/a/tag/push", &op), 0);
	ck_assert_str_eq(op.operation, "Image Push");
	ck_assert_str_eq(op.object, "a/tag");
	/* sha256 digests carry ":" and "@" */
	ck_assert_int_eq(route("GET", "/images/app@sha256:0123abcd/json", &op), 0);
	ck_assert_str_eq(op.object, "app@sha256:0123abcd");
	/* a {name*} needs at least one segment */
	ck_assert_int_eq(dk_lookup("GET", "/distribution/json", &op), -1);
	/* single-segment ids do not span */
	ck_assert_int_eq(route("GET", "/containers/a/b/json", &op), -1);
	ck_assert_int_eq(route("POST", "/containers/a%2Fb/start", &op), -1);
}
END_TEST

START_TEST(objects_that_do_not_fit_are_refused)
{
	char path[DK_OBJECT_LEN + 64];
	struct dk_op op;
	size_t n;

	strcpy(path, "/images/");
	n = strlen(path);
	memset(path + n, 'a', DK_OBJECT_LEN - 1);
	strcpy(path + n + DK_OBJECT_LEN - 1, "/json");
	ck_assert_int_eq(dk_lookup("GET", path, &op), 0);
	ck_assert_uint_eq(strlen(op.object), DK_OBJECT_LEN - 1);
	memset(path + n, 'a', DK_OBJECT_LEN);
	strcpy(path + n + DK_OBJECT_LEN, "/json");
	ck_assert_int_eq(dk_lookup("GET", path, &op), -1);
}
END_TEST

START_TEST(too_many_segments_are_refused)
{
	char path[2048] = "/images";
	struct dk_op op;

	for (int i = 0; i < 200; i++)
		strcat(path, "/a");
	strcat(path, "/json");
	ck_assert_int_eq(dk_lookup("GET", path, &op), -1);
}
END_TEST

/* ---- normalization ---- */

START_TEST(version_prefixes_are_stripped_once)
{
	expect_path("/v1.41/containers/json", "/containers/json", "");
	expect_path("/v1.44/containers/json", "/containers/json", "");
	expect_path("/v1.5/info", "/info", "");
	expect_path("/containers/json", "/containers/json", "");
	/* only digits.digits, and only once */
	expect_path("/v1/info", "/v1/info", "");
	expect_path("/v1.41x/info", "/v1.41x/info", "");
	expect_path("/v.41/info", "/v.41/info", "");
	expect_path("/v1./info", "/v1./info", "");
	expect_path("/v1.41/v1.41/info", "/v1.41/info", "");
	expect_path("/v1.41", "/v1.41", "");
	expect_path("/v1.41/", "/", "");
}
END_TEST

START_TEST(absolute_form_loses_scheme_and_host)
{
	struct dk_op op;

	expect_path("http://docker/v1.41/containers/json?all=1", "/containers/json", "all=1");
	expect_path("https://host:2376/v1.44/images/json", "/images/json", "");
	expect_path("HTTPS://user@host:2376/_ping", "/_ping", "");
	expect_path("http://[::1]:2375/info?x", "/info", "x");
	ck_assert_int_eq(route("GET", "https://host:2376/v1.41/containers/web/json", &op), 0);
	ck_assert_str_eq(op.object, "web");
	expect_refused("http://host", "does not start with /");
	expect_refused("http://host?x=1", "does not start with /");
	expect_refused("ftp://host/info", "does not start with /");
	expect_refused("containers/json", "does not start with /");
	expect_refused("*", "does not start with /");
	expect_refused("", "empty");
}
END_TEST

START_TEST(queries_are_kept_apart_and_raw)
{
	struct dk_op op;
	char path[64], query[8];
	struct refusal why = {"", ""};

	expect_path("/v1.41/containers/json?all=1&filters=%7B%22a%22%3A1%7D", "/containers/json",
		    "all=1&filters=%7B%22a%22%3A1%7D");
	expect_path("/info?", "/info", "");
	expect_path("/info?a=/../x?b", "/info", "a=/../x?b");
	expect_path("/images/a%3Fb/json?x", "/images/a?b/json", "x");
	ck_assert_int_eq(route("GET", "/v1.41/containers/web/json?path=/../../x", &op), 0);
	ck_assert_str_eq(op.object, "web");
	ck_assert_int_eq(
	    dk_normalize("/info?12345678", path, sizeof(path), query, sizeof(query), &why), -1);
	ck_assert_str_eq(why.message, "the query string is too long");
	ck_assert_int_eq(
	    dk_normalize("/info?1234567", path, sizeof(path), query, sizeof(query), &why), 0);
	ck_assert_str_eq(query, "1234567");
}
END_TEST

START_TEST(percent_escapes_are_decoded_after_the_query_is_split)
{
	struct dk_op op;

	expect_path("/containers/%61%62c/json", "/containers/abc/json", "");
	expect_path("/containers/%6A%73on", "/containers/json", "");
	ck_assert_int_eq(route("POST",
			       "/v1.41/images/registry.example.com%3A5000%2Fteam%2Fapp%3A1.0/"
			       "push",
			       &op),
			 0);
	ck_assert_str_eq(op.object, "registry.example.com:5000/team/app:1.0");
	/* "+" is not a space in a path */
	expect_path("/images/a+b/json", "/images/a+b/json", "");
	expect_path("/images/a%20b/json", "/images/a b/json", "");
	expect_path("/images/%C3%A9/json", "/images/\xC3\xA9/json", "");
	expect_path("/info%3Fall=1", "/info?all=1", "");
	ck_assert_int_eq(route("GET", "/info%3Fall=1", &op), -1);
}
END_TEST

START_TEST(bad_escapes_and_bytes_are_refused)
{
	expect_refused("/containers/%zz/json", "bad percent escape");
	expect_refused("/containers/%4/json", "bad percent escape");
	expect_refused("/containers/json%", "bad percent escape");
	expect_refused("/containers/json%4", "bad percent escape");
	expect_refused("/containers/%g0/json", "bad percent escape");
	expect_refused("/containers/a%00b/json", "NUL");
	expect_refused("/containers/a%0ab/json", "control");
	expect_refused("/containers/a%7Fb/json", "control");
	expect_refused("/containers/a%1bb/json", "control");
	expect_refused("/containers/a b/json", "space");
	expect_refused("/containers/a\tb/json", "control");
	expect_refused("/containers/a\x7f/json", "control");
	expect_refused("/containers/json#frag", "fragment");
}
END_TEST

START_TEST(dot_segments_are_refused)
{
	expect_refused("/v1.41/../containers/create", "..");
	expect_refused("/containers/../../x", "..");
	expect_refused("/containers/json/..", "..");
	expect_refused("/..", "..");
	expect_refused("/containers/./json", ". segment");
	expect_refused("/containers/json/.", ". segment");
	expect_refused("/containers/%2e%2e/x", "..");
	expect_refused("/containers/%2E%2E/x", "..");
	expect_refused("/containers/.%2e/x", "..");
	expect_refused("/containers/%2e/json", ". segment");
	expect_refused("/images/a%2F..%2Fb/json", "..");
	expect_refused("http://h/v1.41/../info", "..");
	/* dots inside a segment are names, not steps */
	expect_path("/images/a..b/json", "/images/a..b/json", "");
	expect_path("/images/.a/json", "/images/.a/json", "");
	expect_path("/volumes/...", "/volumes/...", "");
}
END_TEST

START_TEST(empty_segments_are_refused_but_one_trailing_slash_is_dropped)
{
	expect_path("/containers/json/", "/containers/json", "");
	expect_path("/v1.41/info/?a=1", "/info", "a=1");
	expect_path("/", "/", "");
	expect_refused("//", "empty segment");
	expect_refused("//info", "empty segment");
	expect_refused("/containers//json", "empty segment");
	expect_refused("/containers/json//", "empty segment");
	expect_refused("/images/a%2F%2Fb/json", "empty segment");
	expect_refused("/v1.41//info", "empty segment");
}
END_TEST

START_TEST(long_paths_are_refused)
{
	char path[16], query[16], uri[64];
	struct refusal why = {"", ""};

	ck_assert_int_eq(
	    dk_normalize("/containers/json", path, sizeof(path), query, sizeof(query), &why), -1);
	ck_assert_str_eq(why.message, "the path is too long");
	ck_assert_str_eq(path, "");
	ck_assert_int_eq(
	    dk_normalize("/containers/jso", path, sizeof(path), query, sizeof(query), &why), 0);
	/* escapes count once decoded */
	snprintf(uri, sizeof(uri), "/%%61%%61%%61%%61%%61%%61%%61%%61%%61%%61%%61%%61%%61%%61");
	ck_assert_int_eq(dk_normalize(uri, path, sizeof(path), query, sizeof(query), &why), 0);
	ck_assert_str_eq(path, "/aaaaaaaaaaaaaa");
	ck_assert_int_eq(dk_normalize("/info", path, 0, query, sizeof(query), &why), -1);
	ck_assert_int_eq(dk_normalize(NULL, path, sizeof(path), query, sizeof(query), &why), -1);
}
END_TEST

/* ---- names ---- */

START_TEST(names_of_resources_and_sub_options)
{
	ck_assert_str_eq(dk_resource_name(DK_CONTAINER), "Container");
	ck_assert_str_eq(dk_resource_name(DK_VOLUME), "Volume");
	ck_assert_str_eq(dk_resource_name(DK_SYSTEM), "System");
	ck_assert_ptr_null(dk_resource_name(DK_N_RESOURCES));
	ck_assert_str_eq(dk_suboption_name(DK_PRIVILEGED), "Privileged");
	ck_assert_str_eq(dk_suboption_name(DK_HOST_BIND_MOUNTS), "Host Bind Mounts");
	ck_assert_str_eq(dk_suboption_name(DK_CAPABILITIES), "Additional Kernel Capabilities");
	ck_assert_str_eq(dk_suboption_name(DK_HOST_NETWORK), "Host Networking Mode");
	ck_assert_str_eq(dk_suboption_name(DK_PID_MODE), "PID Mode");
	ck_assert_str_eq(dk_suboption_name(DK_IPC_MODE), "IPC Mode");
	ck_assert_str_eq(dk_suboption_name(DK_USERNS_MODE), "User Namespace Mode");
	ck_assert_str_eq(dk_suboption_name(DK_DEVICES), "Devices");
	ck_assert_ptr_null(dk_suboption_name(0));
	ck_assert_ptr_null(dk_suboption_name(DK_PRIVILEGED | DK_DEVICES));
	ck_assert_ptr_null(dk_suboption_name(1u << DK_N_SUBOPTIONS));
}
END_TEST

/* ---- bodies ---- */

/* The op of a route, for body tests. */
static struct dk_op op_of(const char *method, const char *path)
{
	struct dk_op op;

	ck_assert_int_eq(dk_lookup(method, path, &op), 0);
	return op;
}

static unsigned needs_of(const char *method, const char *path, const char *body)
{
	struct dk_op op = op_of(method, path);
	char label[256];
	struct refusal why = {"", ""};
	unsigned needs = 0xffff;

	ck_assert_msg(
	    dk_inspect_body(&op, body, strlen(body), &needs, label, sizeof(label), NULL, &why) == 0,
	    "%s: %s", body, why.message);
	return needs;
}

static unsigned create_needs(const char *body)
{
	return needs_of("POST", "/containers/create", body);
}

/* The body must be refused for op, with a reason that mentions `want`. */
static void expect_body_refused(const char *method, const char *path, const char *body,
				const char *want)
{
	struct dk_op op = op_of(method, path);
	char label[256];
	struct refusal why = {"", ""};
	unsigned needs = 0xffff;

	ck_assert_msg(dk_inspect_body(&op, body, strlen(body), &needs, label, sizeof(label), NULL,
				      &why) == -1,
		      "%s was accepted", body);
	ck_assert(why.message[0] != '\0');
	ck_assert_msg(strstr(why.message, want) != NULL, "%s: \"%s\" lacks \"%s\"", body,
		      why.message, want);
	ck_assert_uint_eq(needs, 0);
	ck_assert_str_eq(label, "");
}

static void expect_create_refused(const char *body, const char *want)
{
	expect_body_refused("POST", "/containers/create", body, want);
}

START_TEST(a_plain_container_needs_nothing)
{
	ck_assert_uint_eq(create_needs("{\"Image\":\"alpine\"}"), 0);
	ck_assert_uint_eq(create_needs("{}"), 0);
	/* what the docker CLI sends: nulls, empty lists and the default modes */
	ck_assert_uint_eq(
	    create_needs("{\"Image\":\"alpine\",\"HostConfig\":{\"Binds\":null,\"CapAdd\":null,"
			 "\"Devices\":[],\"DeviceRequests\":null,\"Mounts\":null,"
			 "\"NetworkMode\":\"default\",\"PidMode\":\"\",\"IpcMode\":\"private\","
			 "\"UsernsMode\":\"\",\"Privileged\":false,\"VolumesFrom\":null,"
			 "\"CapDrop\":[\"ALL\"]},\"NetworkingConfig\":{}}"),
	    0);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":null}"), 0);
}
END_TEST

START_TEST(each_sub_option_is_detected)
{
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Privileged\":true}}"), DK_PRIVILEGED);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Binds\":[\"/etc:/host-etc:ro\"]}}"),
			  DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(
	    create_needs("{\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/\","
			 "\"Target\":\"/host\"}]}}"),
	    DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"CapAdd\":[\"SYS_ADMIN\"]}}"),
			  DK_CAPABILITIES);
	ck_assert_uint_eq(
	    create_needs("{\"HostConfig\":{\"Devices\":[{\"PathOnHost\":\"/dev/sda\","
			 "\"PathInContainer\":\"/dev/sda\",\"CgroupPermissions\":\"rwm\"}]}}"),
	    DK_DEVICES);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"NetworkMode\":\"host\"}}"),
			  DK_HOST_NETWORK);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"PidMode\":\"host\"}}"), DK_PID_MODE);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"IpcMode\":\"host\"}}"), DK_IPC_MODE);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"UsernsMode\":\"host\"}}"),
			  DK_USERNS_MODE);
	ck_assert_uint_eq(
	    create_needs("{\"HostConfig\":{\"Privileged\":true,\"Binds\":[\"/:/h\"],"
			 "\"CapAdd\":[\"NET_ADMIN\"],\"Devices\":[{}],\"NetworkMode\":\"host\","
			 "\"PidMode\":\"host\",\"IpcMode\":\"host\",\"UsernsMode\":\"host\"}}"),
	    (1u << DK_N_SUBOPTIONS) - 1);
}
END_TEST

START_TEST(joining_another_container_counts_as_its_mode)
{
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"PidMode\":\"container:web\"}}"),
			  DK_PID_MODE);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"IpcMode\":\"container:web\"}}"),
			  DK_IPC_MODE);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"NetworkMode\":\"container:web\"}}"),
			  DK_HOST_NETWORK);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"NetworkMode\":\"HOST\"}}"),
			  DK_HOST_NETWORK);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"NetworkMode\":\"bridge\"}}"), 0);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"NetworkMode\":\"front\"}}"), 0);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"IpcMode\":\"shareable\"}}"), 0);
}
END_TEST

START_TEST(named_and_anonymous_volumes_are_not_host_binds)
{
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Binds\":[\"data:/data\"]}}"), 0);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Binds\":[\"my_vol.1-x:/d:ro,z\"]}}"), 0);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Binds\":[\"/anonymous\"]}}"), 0);
	ck_assert_uint_eq(
	    create_needs("{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"data\","
			 "\"Target\":\"/d\"},{\"Type\":\"tmpfs\",\"Target\":\"/t\"}]}}"),
	    0);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Binds\":[\"data:/d\",\"/srv:/s\"]}}"),
			  DK_HOST_BIND_MOUNTS);
	/* what is neither a path nor a volume name may be a path to the engine */
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Binds\":[\"./rel:/d\"]}}"),
			  DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Binds\":[\":/d\"]}}"),
			  DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Binds\":[\"~/x:/d\"]}}"),
			  DK_HOST_BIND_MOUNTS);
}
END_TEST

START_TEST(other_ways_to_reach_the_host_are_counted)
{
	/* npipe and unknown mount types are treated as binds */
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Mounts\":[{\"Type\":\"npipe\"}]}}"),
			  DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Mounts\":[{\"Type\":\"BIND\"}]}}"),
			  DK_HOST_BIND_MOUNTS);
	/* a local volume made inline with a device path */
	ck_assert_uint_eq(
	    create_needs("{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Target\":\"/h\","
			 "\"VolumeOptions\":{\"DriverConfig\":{\"Name\":\"local\",\"Options\":{"
			 "\"type\":\"none\",\"o\":\"bind\",\"device\":\"/etc\"}}}}]}}"),
	    DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(
	    create_needs(
		"{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"VolumeOptions\":{"
		"\"DriverConfig\":{\"Options\":{\"type\":\"nfs\",\"device\":\":/x\"}}}}]}}"),
	    0);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"VolumesFrom\":[\"other\"]}}"),
			  DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"DeviceRequests\":[{\"Count\":-1}]}}"),
			  DK_DEVICES);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"DeviceCgroupRules\":[\"c *:* rwm\"]}}"),
			  DK_DEVICES);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Capabilities\":[\"CAP_SYS_ADMIN\"]}}"),
			  DK_CAPABILITIES);
	/* the engine takes CapAdd as a single string too */
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"CapAdd\":\"SYS_ADMIN\"}}"),
			  DK_CAPABILITIES);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"CapAdd\":[]}}"), 0);
}
END_TEST

START_TEST(host_config_fields_at_the_top_level_count)
{
	ck_assert_uint_eq(create_needs("{\"Image\":\"alpine\",\"Privileged\":true}"),
			  DK_PRIVILEGED);
	ck_assert_uint_eq(create_needs("{\"Binds\":[\"/:/h\"],\"HostConfig\":{}}"),
			  DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(
	    create_needs("{\"PidMode\":\"host\",\"HostConfig\":{\"Privileged\":true}}"),
	    DK_PID_MODE | DK_PRIVILEGED);
}
END_TEST

START_TEST(keys_fold_as_the_engine_folds_them)
{
	ck_assert_uint_eq(create_needs("{\"hostconfig\":{\"privileged\":true}}"), DK_PRIVILEGED);
	ck_assert_uint_eq(create_needs("{\"HOSTCONFIG\":{\"CAPADD\":[\"X\"]}}"), DK_CAPABILITIES);
	/* U+017F (long s) folds to "s", U+212A (Kelvin) to "k" */
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Bind\xC5\xBF\":[\"/:/h\"]}}"),
			  DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Networ\xE2\x84\xAAMode\":\"host\"}}"),
			  DK_HOST_NETWORK);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Binds2\":[\"/:/h\"],\"Bind\":[1]}}"), 0);
	/* two keys for one field: the engine takes the last, we take neither */
	expect_create_refused("{\"HostConfig\":{\"Privileged\":false,\"privileged\":true}}",
			      "differ only in case");
	expect_create_refused("{\"HostConfig\":{\"Privileged\":false,\"Privileged\":true}}",
			      "not valid JSON");
}
END_TEST

START_TEST(wrong_types_fail_closed)
{
	expect_create_refused("{\"HostConfig\":{\"Privileged\":\"yes\"}}", "Privileged");
	expect_create_refused("{\"HostConfig\":{\"Privileged\":1}}", "Privileged");
	expect_create_refused("{\"Privileged\":\"true\"}", "Privileged");
	expect_create_refused("{\"HostConfig\":{\"Binds\":\"/:/h\"}}", "Binds");
	expect_create_refused("{\"HostConfig\":{\"Binds\":[[\"/:/h\"]]}}", "Binds");
	expect_create_refused("{\"HostConfig\":{\"Mounts\":{\"Type\":\"bind\"}}}", "Mounts");
	expect_create_refused("{\"HostConfig\":{\"Mounts\":[\"bind\"]}}", "Mounts");
	expect_create_refused("{\"HostConfig\":{\"Mounts\":[{\"Source\":\"/\"}]}}", "Type");
	expect_create_refused("{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\","
			      "\"VolumeOptions\":[]}]}}",
			      "VolumeOptions");
	expect_create_refused("{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"VolumeOptions\":"
			      "{\"DriverConfig\":{\"Options\":{\"device\":7}}}}]}}",
			      "device");
	expect_create_refused("{\"HostConfig\":{\"NetworkMode\":[\"host\"]}}", "NetworkMode");
	expect_create_refused("{\"HostConfig\":{\"PidMode\":true}}", "PidMode");
	expect_create_refused("{\"HostConfig\":{\"IpcMode\":{}}}", "IpcMode");
	expect_create_refused("{\"HostConfig\":{\"UsernsMode\":0}}", "UsernsMode");
	expect_create_refused("{\"HostConfig\":[]}", "HostConfig");
	expect_create_refused("{\"HostConfig\":\"privileged\"}", "HostConfig");
	/* lists of the wrong type ask for their sub-option instead */
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"Devices\":\"/dev/sda\"}}"), DK_DEVICES);
	ck_assert_uint_eq(create_needs("{\"HostConfig\":{\"CapAdd\":{}}}"), DK_CAPABILITIES);
}
END_TEST

START_TEST(bodies_that_are_not_objects_are_refused)
{
	expect_create_refused("[]", "not a JSON object");
	expect_create_refused("\"x\"", "not a JSON object");
	expect_create_refused("null", "not a JSON object");
	expect_create_refused("{", "not valid JSON");
	expect_create_refused("{\"Image\":\"a\"} {\"HostConfig\":{\"Privileged\":true}}",
			      "not valid JSON");
	expect_create_refused("{\"Image\":\"a\\u0000\"}", "not valid JSON");
	expect_create_refused("{\"Image\":\"\xff\"}", "not valid JSON");
	expect_body_refused("POST", "/networks/create", "[1]", "not a JSON object");
	expect_body_refused("POST", "/volumes/create", "nope", "not valid JSON");
}
END_TEST

START_TEST(required_bodies_may_not_be_empty)
{
	struct dk_op op = op_of("POST", "/containers/create");
	char label[64] = "x";
	struct refusal why = {"", ""};
	unsigned needs = 1;

	ck_assert_int_eq(dk_inspect_body(&op, "", 0, &needs, label, sizeof(label), NULL, &why), -1);
	ck_assert_ptr_nonnull(strstr(why.message, "missing"));
	ck_assert_int_eq(dk_inspect_body(&op, NULL, 0, &needs, label, sizeof(label), NULL, &why),
			 -1);
	op = op_of("POST", "/services/create");
	ck_assert_int_eq(dk_inspect_body(&op, "", 0, &needs, label, sizeof(label), NULL, &why), -1);
	op = op_of("POST", "/services/s1/update");
	ck_assert_int_eq(dk_inspect_body(&op, "", 0, &needs, label, sizeof(label), NULL, &why), -1);
	op = op_of("POST", "/containers/web/exec");
	ck_assert_int_eq(dk_inspect_body(&op, "", 0, &needs, label, sizeof(label), NULL, &why), -1);
	/* every body a decision depends on is required, the engine having withheld it or not */
	static const char *const required[][2] = {
	    {"POST", "/networks/create"},   {"POST", "/volumes/create"},
	    {"POST", "/secrets/create"},    {"POST", "/configs/create"},
	    {"POST", "/plugins/pull"},	    {"POST", "/plugins/p/upgrade"},
	    {"POST", "/plugins/p/set"},	    {"POST", "/plugins/create"},
	    {"POST", "/swarm/init"},	    {"POST", "/swarm/join"},
	    {"POST", "/swarm/update"},	    {"POST", "/containers/web/update"},
	    {"POST", "/secrets/k1/update"}, {"POST", "/configs/c1/update"},
	    {"POST", "/nodes/n1/update"},
	};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		op = op_of(required[i][0], required[i][1]);
		ck_assert_msg(op.inspect_body, "%s", required[i][1]);
		ck_assert_msg(
		    dk_inspect_body(&op, NULL, 0, &needs, label, sizeof(label), NULL, &why) == -1,
		    "%s: an empty body passed", required[i][1]);
	}
	/* bodies that do not decide */
	op = op_of("POST", "/exec/e1/start");
	ck_assert_int_eq(dk_inspect_body(&op, "", 0, &needs, label, sizeof(label), NULL, &why), 0);
	ck_assert_uint_eq(needs, 0);
	ck_assert_str_eq(label, "");
	op = op_of("POST", "/networks/front/connect");
	ck_assert_int_eq(dk_inspect_body(&op, NULL, 0, &needs, label, sizeof(label), NULL, &why),
			 0);
	ck_assert_int_eq(dk_inspect_body(NULL, "{}", 2, &needs, label, sizeof(label), NULL, &why),
			 -1);
}
END_TEST

START_TEST(large_bodies_are_refused)
{
	struct dk_op op = op_of("POST", "/containers/create");
	size_t len = 1024 * 1024 + 1;
	char *body = malloc(len), label[64];
	struct refusal why = {"", ""};
	unsigned needs;

	ck_assert_ptr_nonnull(body);
	memset(body, ' ', len);
	body[0] = '{';
	body[len - 1] = '}';
	ck_assert_int_eq(dk_inspect_body(&op, body, len, &needs, label, sizeof(label), NULL, &why),
			 -1);
	ck_assert_ptr_nonnull(strstr(why.message, "1 MiB"));
	ck_assert_int_eq(
	    dk_inspect_body(&op, body, len - 1, &needs, label, sizeof(label), NULL, &why),
	    -1); /* the cut body is not JSON */
	body[len - 2] = '}';
	ck_assert_int_eq(
	    dk_inspect_body(&op, body, len - 1, &needs, label, sizeof(label), NULL, &why), 0);
	free(body);
}
END_TEST

static void expect_label(const char *method, const char *path, const char *body, const char *want)
{
	struct dk_op op = op_of(method, path);
	char label[64];
	struct refusal why = {"", ""};
	unsigned needs;

	ck_assert_msg(
	    dk_inspect_body(&op, body, strlen(body), &needs, label, sizeof(label), NULL, &why) == 0,
	    "%s: %s", body, why.message);
	ck_assert_str_eq(label, want);
}

START_TEST(labels_are_read_from_create_bodies)
{
	expect_label("POST", "/containers/create",
		     "{\"Image\":\"a\",\"Labels\":{\"com.docker.ucp.access.label\":\"/Shared/dev\","
		     "\"other\":\"x\"}}",
		     "/Shared/dev");
	expect_label("POST", "/containers/create", "{\"Image\":\"a\",\"Labels\":{\"x\":\"y\"}}",
		     "");
	expect_label("POST", "/containers/create", "{\"Labels\":null}", "");
	expect_label("POST", "/containers/create",
		     "{\"labels\":{\"com.docker.ucp.access.label\":\"/a\"}}", "/a");
	/* label keys are map keys: not folded */
	expect_label("POST", "/containers/create",
		     "{\"Labels\":{\"COM.DOCKER.UCP.ACCESS.LABEL\":\"/a\"}}", "");
	/* the HostConfig of a container has no labels of its own */
	expect_label("POST", "/containers/create",
		     "{\"HostConfig\":{\"Labels\":{\"com.docker.ucp.access.label\":\"/a\"}}}", "");
	expect_label(
	    "POST", "/networks/create",
	    "{\"Name\":\"n\",\"Labels\":{\"com.docker.ucp.access.label\":\"/Shared/net\"}}",
	    "/Shared/net");
	expect_label("POST", "/volumes/create",
		     "{\"Name\":\"v\",\"Labels\":{\"com.docker.ucp.access.label\":\"/v\"}}", "/v");
	expect_label(
	    "POST", "/secrets/create",
	    "{\"Name\":\"s\",\"Data\":\"eA==\",\"Labels\":{\"com.docker.ucp.access.label\":"
	    "\"/s\"}}",
	    "/s");
	expect_label("POST", "/configs/create",
		     "{\"Name\":\"c\",\"Labels\":{\"com.docker.ucp.access.label\":\"/c\"}}", "/c");
	/* services: the body is the spec, whose labels are the service's */
	expect_label("POST", "/services/create",
		     "{\"Name\":\"s\",\"Labels\":{\"com.docker.ucp.access.label\":\"/svc\"},"
		     "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\",\"Labels\":{"
		     "\"com.docker.ucp.access.label\":\"/other\"}}}}",
		     "/svc");
	expect_label("POST", "/services/s1/update",
		     "{\"Labels\":{\"com.docker.ucp.access.label\":\"/svc2\"}}", "/svc2");
}
END_TEST

START_TEST(bad_labels_are_refused)
{
	char body[200];
	struct dk_op op = op_of("POST", "/containers/create");
	char label[8];
	struct refusal why = {"", ""};
	unsigned needs;

	expect_create_refused("{\"Labels\":[\"com.docker.ucp.access.label=/a\"]}", "Labels");
	expect_create_refused("{\"Labels\":\"x\"}", "Labels");
	expect_create_refused("{\"Labels\":{\"com.docker.ucp.access.label\":1}}",
			      "must be a string");
	expect_create_refused("{\"Labels\":{\"com.docker.ucp.access.label\":{}}}",
			      "must be a string");
	snprintf(body, sizeof(body), "{\"Labels\":{\"com.docker.ucp.access.label\":\"/1234567\"}}");
	ck_assert_int_eq(
	    dk_inspect_body(&op, body, strlen(body), &needs, label, sizeof(label), NULL, &why), -1);
	ck_assert_ptr_nonnull(strstr(why.message, "too long"));
	snprintf(body, sizeof(body), "{\"Labels\":{\"com.docker.ucp.access.label\":\"/123456\"}}");
	ck_assert_int_eq(
	    dk_inspect_body(&op, body, strlen(body), &needs, label, sizeof(label), NULL, &why), 0);
	ck_assert_str_eq(label, "/123456");
}
END_TEST

START_TEST(service_specs_are_inspected)
{
	const char *create = "/services/create";

	ck_assert_uint_eq(
	    needs_of("POST", create,
		     "{\"Name\":\"s\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}}}"),
	    0);
	ck_assert_uint_eq(needs_of("POST", create, "{\"Name\":\"s\"}"), 0);
	ck_assert_uint_eq(
	    needs_of("POST", create,
		     "{\"TaskTemplate\":{\"ContainerSpec\":{\"Mounts\":[{\"Type\":\"bind\","
		     "\"Source\":\"/var/run/docker.sock\",\"Target\":\"/s\"}]}}}"),
	    DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(
	    needs_of("POST", create,
		     "{\"TaskTemplate\":{\"ContainerSpec\":{\"Mounts\":[{\"Type\":\"volume\","
		     "\"Source\":\"data\",\"Target\":\"/d\"}]}}}"),
	    0);
	ck_assert_uint_eq(needs_of("POST", create,
				   "{\"TaskTemplate\":{\"ContainerSpec\":{\"CapabilityAdd\":["
				   "\"CAP_NET_ADMIN\"]}}}"),
			  DK_CAPABILITIES);
	ck_assert_uint_eq(
	    needs_of("POST", "/services/s1/update",
		     "{\"TaskTemplate\":{\"ContainerSpec\":{\"Mounts\":[{\"Type\":\"bind\"}],"
		     "\"CapabilityAdd\":[\"X\"]}}}"),
	    DK_HOST_BIND_MOUNTS | DK_CAPABILITIES);
	/* a plugin task installs a plugin, with its privileges, on every node */
	ck_assert_uint_eq(
	    needs_of("POST", create,
		     "{\"TaskTemplate\":{\"Runtime\":\"plugin\",\"PluginSpec\":{\"Name\":\"p\"}}}"),
	    DK_PRIVILEGED);
	ck_assert_uint_eq(
	    needs_of("POST", create, "{\"TaskTemplate\":{\"Runtime\":\"container\"}}"), 0);
	/* container-create fields mean nothing at a spec's top level */
	ck_assert_uint_eq(needs_of("POST", create, "{\"Privileged\":true}"), 0);
	expect_body_refused("POST", create, "{\"TaskTemplate\":[]}", "TaskTemplate");
	expect_body_refused("POST", create, "{\"TaskTemplate\":{\"ContainerSpec\":1}}",
			    "ContainerSpec");
	expect_body_refused("POST", create, "{\"TaskTemplate\":{\"Runtime\":1}}", "Runtime");
	expect_body_refused("POST", create,
			    "{\"TaskTemplate\":{\"ContainerSpec\":{\"Mounts\":{}}}}", "Mounts");
	expect_body_refused("POST", create, "[]", "not a JSON object");
}
END_TEST

/* What a service spec uses, read without a refusal. */
static struct dk_uses *uses_of(const char *method, const char *path, const char *body)
{
	static struct dk_uses uses;
	struct dk_op op = op_of(method, path);
	char label[256];
	struct refusal why = {"", ""};
	unsigned needs;

	uses.nrefs = uses.nconstraints = 77;
	ck_assert_msg(dk_inspect_body(&op, body, strlen(body), &needs, label, sizeof(label), &uses,
				      &why) == 0,
		      "%s: %s", body, why.message);
	return &uses;
}

static void expect_ref(const struct dk_uses *u, size_t i, enum dk_resource r, const char *object,
		       const char *name)
{
	ck_assert_uint_gt(u->nrefs, i);
	ck_assert_int_eq(u->refs[i].resource, r);
	ck_assert_str_eq(u->refs[i].object, object);
	ck_assert_str_eq(u->refs[i].name, name);
}

START_TEST(service_specs_name_their_secrets_configs_and_constraints)
{
	struct dk_uses *u = uses_of(
	    "POST", "/services/create",
	    "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\",\"Secrets\":["
	    "{\"File\":{\"Name\":\"db\"},\"SecretID\":\"s1\",\"SecretName\":\"db\"},"
	    "{\"SecretID\":\"s2\"},{\"SecretName\":\"by-name\"}],"
	    "\"Configs\":[{\"ConfigID\":\"c1\",\"ConfigName\":\"nginx.conf\"}]},"
	    "\"Placement\":{\"Constraints\":[\"node.role==worker\",\" node.labels.zone != b \"],"
	    "\"Preferences\":[{\"Spread\":{\"SpreadDescriptor\":\"node.labels.rack\"}}]}}}");

	ck_assert_uint_eq(u->nrefs, 4);
	/* the engine finds a secret by its ID; messages call it by its name */
	expect_ref(u, 0, DK_SECRET, "s1", "db");
	expect_ref(u, 1, DK_SECRET, "s2", "s2");
	expect_ref(u, 2, DK_SECRET, "by-name", "by-name");
	expect_ref(u, 3, DK_CONFIG, "c1", "nginx.conf");
	ck_assert_uint_eq(u->nconstraints, 2);
	ck_assert_str_eq(u->constraints[0], "node.role==worker");
	ck_assert_str_eq(u->constraints[1], " node.labels.zone != b ");
	/* keys fold as Go folds them; null is absent */
	u = uses_of("POST", "/services/s1/update",
		    "{\"taskTemplate\":{\"containerSpec\":{\"secrets\":[{\"secretID\":\"x\"}],"
		    "\"Configs\":null},\"placement\":{\"constraints\":null}}}");
	ck_assert_uint_eq(u->nrefs, 1);
	expect_ref(u, 0, DK_SECRET, "x", "x");
	ck_assert_uint_eq(u->nconstraints, 0);
	u = uses_of("POST", "/services/create", "{\"Name\":\"bare\"}");
	ck_assert_uint_eq(u->nrefs + u->nconstraints, 0);
	/* only a service spec uses anything; the same keys elsewhere mean nothing */
	u = uses_of("POST", "/containers/create",
		    "{\"Secrets\":[{\"SecretID\":\"x\"}],\"TaskTemplate\":{\"ContainerSpec\":{"
		    "\"Secrets\":[{\"SecretID\":\"x\"}]}}}");
	ck_assert_uint_eq(u->nrefs + u->nconstraints, 0);
	u = uses_of("GET", "/services", "");
	ck_assert_uint_eq(u->nrefs + u->nconstraints, 0);
}
END_TEST

/* before, n copies of item joined by commas, after; two at a time may be in use (nested). */
static const char *spec_with(const char *before, const char *item, int n, const char *after)
{
	static char bodies[2][64 * 1024];
	static int turn;
	char *body = bodies[turn ^= 1];

	ck_assert_uint_lt(strlen(before) + (size_t)n * (strlen(item) + 1) + strlen(after),
			  sizeof(bodies[0]));
	strcpy(body, before);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			strcat(body, ",");
		strcat(body, item);
	}
	strcat(body, after);
	return body;
}

/* A spec whose ContainerSpec, or else its Placement, has the members `cs` (or `placement`). */
static const char *spec_of(const char *cs, const char *placement)
{
	static char body[DK_CONSTRAINT_LEN + 256];

	if (cs != NULL)
		snprintf(body, sizeof(body), "{\"TaskTemplate\":{\"ContainerSpec\":{%s}}}", cs);
	else
		snprintf(body, sizeof(body), "{\"TaskTemplate\":{\"Placement\":%s}}", placement);
	return body;
}

START_TEST(service_uses_of_the_wrong_type_or_too_many_are_refused)
{
	static const char *const bad_cs[][2] = {
	    {"\"Secrets\":{}", "TaskTemplate.ContainerSpec.Secrets must be a list of objects"},
	    {"\"Secrets\":[1]", "Secrets must be a list of objects"},
	    {"\"Secrets\":[null]", "Secrets must be a list of objects"},
	    {"\"Secrets\":[{\"SecretID\":1}]", "Secrets[].SecretID must be a string"},
	    {"\"Configs\":[{\"ConfigName\":[]}]", "Configs[].ConfigName must be a string"},
	    {"\"Configs\":[{}]", "each of TaskTemplate.ContainerSpec.Configs needs a ConfigID"},
	    {"\"Secrets\":[{\"SecretID\":\"\",\"SecretName\":\"\"}]", "needs a SecretID"},
	    {"\"Secrets\":[{\"SecretID\":\"a\",\"secretid\":\"b\"}]", "differ only in case"},
	    {"\"Secrets\":[{\"SecretID\":\"a\\u0000b\"}]", "not valid JSON"},
	};
	static const char *const bad_placement[][2] = {
	    {"[]", "TaskTemplate.Placement must be an object"},
	    {"{\"Constraints\":\"x\"}", "Constraints must be a list of strings"},
	    {"{\"Constraints\":[\"a==b\",2]}", "Constraints must be a list of strings"},
	};
	const char *c = "/services/create", *refused = "{\"TaskTemplate\":{\"Placement\":1}}";
	char text[DK_CONSTRAINT_LEN + 64];
	struct dk_op op = op_of("POST", c);
	struct dk_uses uses;
	char label[64];
	struct refusal why;
	unsigned needs;

	for (size_t i = 0; i < sizeof(bad_cs) / sizeof(bad_cs[0]); i++)
		expect_body_refused("POST", c, spec_of(bad_cs[i][0], NULL), bad_cs[i][1]);
	for (size_t i = 0; i < sizeof(bad_placement) / sizeof(bad_placement[0]); i++)
		expect_body_refused("POST", c, spec_of(NULL, bad_placement[i][0]),
				    bad_placement[i][1]);
	/* lengths: an ID or name of DK_REF_LEN bytes, a constraint of DK_CONSTRAINT_LEN */
	snprintf(text, sizeof(text), "\"Secrets\":[{\"SecretName\":\"%0*d\"}]", DK_REF_LEN, 0);
	expect_body_refused("POST", c, spec_of(text, NULL), "SecretName is too long");
	snprintf(text, sizeof(text), "{\"Constraints\":[\"a==%0*d\"]}", DK_CONSTRAINT_LEN - 3, 0);
	expect_body_refused("POST", c, spec_of(NULL, text), "longer than 511 bytes");
	/* the bounds: DK_MAX_REFS of each kind pass, one more is refused */
	ck_assert_uint_eq(uses_of("POST", c,
				  spec_with("{\"TaskTemplate\":{\"ContainerSpec\":{\"Secrets\":[",
					    "{\"SecretID\":\"s\"}", DK_MAX_REFS,
					    spec_with("],\"Configs\":[", "{\"ConfigID\":\"c\"}",
						      DK_MAX_REFS, "]}}}")))
			      ->nrefs,
			  2 * DK_MAX_REFS);
	expect_body_refused(
	    "POST", c,
	    spec_with("{\"TaskTemplate\":{\"ContainerSpec\":{\"Secrets\":[", "{\"SecretID\":\"s\"}",
		      DK_MAX_REFS + 1, "]}}}"),
	    "TaskTemplate.ContainerSpec.Secrets has 65 entries; authd checks at most 64");
	expect_body_refused("POST", c,
			    spec_with("{\"TaskTemplate\":{\"ContainerSpec\":{\"Configs\":[",
				      "{\"ConfigID\":\"c\"}", DK_MAX_REFS + 1, "]}}}"),
			    "Configs has 65 entries");
	expect_body_refused("POST", c,
			    spec_with("{\"TaskTemplate\":{\"Placement\":{\"Constraints\":[",
				      "\"node.role==worker\"", DK_MAX_CONSTRAINTS + 1, "]}}}"),
			    "Constraints has 33 entries; authd checks at most 32");
	/* a refusal leaves no uses behind */
	uses.nrefs = uses.nconstraints = 5;
	ck_assert_int_eq(dk_inspect_body(&op, refused, strlen(refused), &needs, label,
					 sizeof(label), &uses, &why),
			 -1);
	ck_assert_uint_eq(uses.nrefs + uses.nconstraints, 0);
}
END_TEST

/* Three nodes as GET /nodes lists them, cut to what placement reads. */
static const char *const three_nodes =
    "[{\"ID\":\"n1\",\"Spec\":{\"Labels\":{\"com.docker.ucp.access.label\":\"/System\","
    "\"zone\":\"a\"},\"Role\":\"manager\"},\"Description\":{\"Hostname\":\"mgr1\","
    "\"Platform\":{\"Architecture\":\"x86_64\",\"OS\":\"linux\"},\"Engine\":{\"Labels\":"
    "{\"disk\":\"ssd\"}},\"TLSInfo\":{\"TrustRoot\":\"...\"}},\"ManagerStatus\":{\"Leader\":true}},"
    "{\"ID\":\"n2\",\"Spec\":{\"Labels\":{\"com.docker.ucp.access.label\":\"/Shared\","
    "\"zone\":\"b\",\"kind\":\"\\u212a\"},\"Role\":\"worker\"},\"Description\":{\"Hostname\":"
    "\"Work-2\",\"Platform\":{\"Architecture\":\"aarch64\",\"OS\":\"linux\"}}},"
    "{\"ID\":\"n3\",\"Spec\":{\"Role\":\"manager\"}}]";

/* The ids of the nodes a spec with these constraints may run on, as "n1 n2 ". */
static const char *candidates(const struct dk_nodes *n, const char *const *constraints)
{
	static struct dk_uses uses;
	static char out[64];

	uses.nrefs = uses.nconstraints = 0;
	for (; *constraints; constraints++)
		snprintf(uses.constraints[uses.nconstraints++], DK_CONSTRAINT_LEN, "%s",
			 *constraints);
	out[0] = '\0';
	for (size_t i = 0; i < dk_nodes_count(n); i++)
		if (dk_node_may_run(n, i, &uses))
			snprintf(out + strlen(out), sizeof(out) - strlen(out), "n%zu ", i + 1);
	return out;
}

#define PLACED(n, ...) candidates(n, (const char *const[]){__VA_ARGS__, NULL})

START_TEST(nodes_are_read_with_their_collections)
{
	struct refusal why = {"", ""};
	struct dk_nodes *n = dk_nodes_read(three_nodes, strlen(three_nodes), &why);
	const char *unlabelled;

	ck_assert_msg(n != NULL, "%s", why.message);
	ck_assert_uint_eq(dk_nodes_count(n), 3);
	ck_assert(dk_nodes_labelled(n));
	ck_assert_str_eq(dk_node_name(n, 0), "mgr1");
	ck_assert_str_eq(dk_node_label(n, 0), "/System");
	ck_assert_str_eq(dk_node_label(n, 1), "/Shared");
	/* no hostname: the ID names it; no label: NULL */
	ck_assert_str_eq(dk_node_name(n, 2), "n3");
	ck_assert_ptr_null(dk_node_label(n, 2));
	dk_nodes_free(n);
	unlabelled = "[{\"ID\":\"x\",\"Spec\":{\"Labels\":{\"zone\":\"a\"}}}]";
	n = dk_nodes_read(unlabelled, strlen(unlabelled), &why);
	ck_assert_ptr_nonnull(n);
	ck_assert(!dk_nodes_labelled(n));
	dk_nodes_free(n);
	n = dk_nodes_read("[]", 2, &why);
	ck_assert_uint_eq(dk_nodes_count(n), 0);
	ck_assert(!dk_nodes_labelled(n));
	dk_nodes_free(n);
	ck_assert_ptr_null(dk_nodes_read("{\"message\":\"not a manager\"}", 27, &why));
	ck_assert_ptr_nonnull(strstr(why.message, "not JSON"));
	ck_assert_ptr_null(dk_nodes_read("[1]", 3, &why));
	ck_assert_ptr_nonnull(strstr(why.message, "not a node"));
	ck_assert_ptr_null(dk_nodes_read("[", 1, &why));
	ck_assert_ptr_null(dk_nodes_read(NULL, 0, &why));
	ck_assert_ptr_null(dk_nodes_read(spec_with("[", "{}", DK_MAX_NODES + 1, "]"),
					 strlen(spec_with("[", "{}", DK_MAX_NODES + 1, "]")),
					 &why));
	ck_assert_ptr_nonnull(strstr(why.message, "more nodes"));
}
END_TEST

START_TEST(constraints_are_evaluated_as_swarmkit_does)
{
	struct refusal why;
	struct dk_nodes *n = dk_nodes_read(three_nodes, strlen(three_nodes), &why);

	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(candidates(n, (const char *const[]){NULL}), "n1 n2 n3 ");
	ck_assert_str_eq(PLACED(n, "node.id==n2"), "n2 ");
	ck_assert_str_eq(PLACED(n, "node.id!=n2"), "n1 n3 ");
	/* keys and values compare without regard to case, label names exactly */
	ck_assert_str_eq(PLACED(n, "NODE.HOSTNAME==work-2"), "n2 ");
	ck_assert_str_eq(PLACED(n, "node.hostname==mgr1", "node.id==n2"), "");
	ck_assert_str_eq(PLACED(n, "node.labels.zone==A"), "n1 ");
	ck_assert_str_eq(PLACED(n, "node.labels.Zone==a"), "");
	ck_assert_str_eq(PLACED(n, "node.labels.zone!=a"), "n2 n3 ");
	ck_assert_str_eq(PLACED(n, "node.labels.com.docker.ucp.access.label==/Shared"), "n2 ");
	ck_assert_str_eq(PLACED(n, "engine.labels.disk==ssd"), "n1 ");
	ck_assert_str_eq(PLACED(n, "node.platform.arch==aarch64"), "n2 ");
	ck_assert_str_eq(PLACED(n, "node.platform.os!=linux"), "n3 ");
	/* Go folds the Kelvin sign to k: a label value of "\u212a" equals "k" */
	ck_assert_str_eq(PLACED(n, "node.labels.kind==k"), "n2 ");
	/* the role now (ManagerStatus) and the role asked for (Spec.Role) both count */
	ck_assert_str_eq(PLACED(n, "node.role==manager"), "n1 n3 ");
	ck_assert_str_eq(PLACED(n, "node.role==worker"), "n2 n3 ");
	/* swarmkit splits at "==" first, and trims spaces */
	ck_assert_str_eq(PLACED(n, "  node.id  ==  n1  "), "n1 ");
	ck_assert_str_eq(PLACED(n, "node.id!=n1==x"), "n1 n2 n3 ");
	/* what authd cannot be sure of keeps every node: unknown keys, node.ip, bad syntax */
	ck_assert_str_eq(PLACED(n, "node.ip==10.0.0.1"), "n1 n2 n3 ");
	ck_assert_str_eq(PLACED(n, "node.future==x"), "n1 n2 n3 ");
	ck_assert_str_eq(PLACED(n, "node.id=n1"), "n1 n2 n3 ");
	ck_assert_str_eq(PLACED(n, "node.id==n1>"), "n1 n2 n3 ");
	ck_assert_str_eq(PLACED(n, "node.labels.zone=="), "n1 n2 n3 ");
	ck_assert_str_eq(PLACED(n, "node.labelſ.zone==a"), "n1 n2 n3 ");
	ck_assert_str_eq(PLACED(n, "node.hostname==wörk"), "n1 n2 n3 ");
	dk_nodes_free(n);
}
END_TEST

START_TEST(exec_create_needs_privileged_only_for_a_privileged_exec)
{
	const char *exec = "/containers/web/exec";

	ck_assert_uint_eq(needs_of("POST", exec, "{\"Cmd\":[\"sh\"],\"AttachStdin\":true}"), 0);
	ck_assert_uint_eq(needs_of("POST", exec, "{\"Cmd\":[\"sh\"],\"Privileged\":false}"), 0);
	ck_assert_uint_eq(needs_of("POST", exec, "{\"Cmd\":[\"sh\"],\"Privileged\":true}"),
			  DK_PRIVILEGED);
	ck_assert_uint_eq(needs_of("POST", exec, "{\"Cmd\":[\"sh\"],\"privileged\":true}"),
			  DK_PRIVILEGED);
	/* host settings mean nothing to an exec */
	ck_assert_uint_eq(needs_of("POST", exec, "{\"HostConfig\":{\"Privileged\":true}}"), 0);
	expect_body_refused("POST", exec, "{\"Privileged\":\"yes\"}", "Privileged");
	expect_body_refused("POST", exec, "[\"sh\"]", "not a JSON object");
}
END_TEST

START_TEST(volume_create_with_a_host_device_is_a_host_bind)
{
	ck_assert_uint_eq(needs_of("POST", "/volumes/create",
				   "{\"Name\":\"v\",\"Driver\":\"local\",\"DriverOpts\":{\"type\":"
				   "\"none\",\"o\":\"bind\",\"device\":\"/etc\"}}"),
			  DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(needs_of("POST", "/volumes/create",
				   "{\"Name\":\"v\",\"DriverOpts\":{\"type\":\"tmpfs\","
				   "\"device\":\"tmpfs\"}}"),
			  0);
	ck_assert_uint_eq(needs_of("POST", "/volumes/create", "{\"Name\":\"v\"}"), 0);
	expect_body_refused("POST", "/volumes/create", "{\"DriverOpts\":[\"device=/\"]}",
			    "driver options");
}
END_TEST

START_TEST(plugin_privileges_need_sub_options)
{
	ck_assert_uint_eq(
	    needs_of("POST", "/plugins/pull", "[{\"Name\":\"network\",\"Value\":[\"host\"]}]"),
	    DK_HOST_NETWORK);
	ck_assert_uint_eq(
	    needs_of("POST", "/plugins/pull", "[{\"Name\":\"network\",\"Value\":[\"bridge\"]}]"),
	    0);
	ck_assert_uint_eq(needs_of("POST", "/plugins/pull", "[]"), 0);
	ck_assert_uint_eq(needs_of("POST", "/plugins/p/upgrade",
				   "[{\"Name\":\"mount\",\"Value\":[\"/var/lib\"]},"
				   "{\"Name\":\"capabilities\",\"Value\":[\"CAP_SYS_ADMIN\"]}]"),
			  DK_HOST_BIND_MOUNTS | DK_CAPABILITIES);
	ck_assert_uint_eq(needs_of("POST", "/plugins/pull",
				   "[{\"Name\":\"allow-all-devices\",\"Value\":[\"true\"]}]"),
			  DK_DEVICES);
	/* a privilege authd does not know is taken for the strongest */
	ck_assert_uint_eq(needs_of("POST", "/plugins/pull", "[{\"Name\":\"new-thing\"}]"),
			  DK_PRIVILEGED);
	expect_body_refused("POST", "/plugins/pull", "{}", "list of plugin privileges");
	expect_body_refused("POST", "/plugins/pull", "[1]", "Name");
	expect_body_refused("POST", "/plugins/pull", "[{\"Name\":1}]", "string Name");
	ck_assert_uint_eq(needs_of("POST", "/plugins/p/set", "[\"DEBUG=1\"]"), 0);
	ck_assert_uint_eq(needs_of("POST", "/plugins/p/set", "[\"data.source=/etc\"]"),
			  DK_HOST_BIND_MOUNTS);
	ck_assert_uint_eq(needs_of("POST", "/plugins/p/set", "[\"dev.path=/dev/sda\"]"),
			  DK_DEVICES);
	expect_body_refused("POST", "/plugins/p/set", "[\"novalue\"]", "key=value");
	expect_body_refused("POST", "/plugins/create", "{}", "archive");
}
END_TEST

START_TEST(container_update_reads_resources)
{
	ck_assert_uint_eq(needs_of("POST", "/containers/web/update", "{\"Memory\":1048576}"), 0);
	ck_assert_uint_eq(needs_of("POST", "/containers/web/update",
				   "{\"Devices\":[{\"PathOnHost\":\"/dev/sda\"}]}"),
			  DK_DEVICES);
	ck_assert_uint_eq(needs_of("POST", "/containers/web/update", "{\"Devices\":null}"), 0);
	expect_body_refused("POST", "/containers/web/update", "[]", "not a JSON object");
}
END_TEST

static unsigned query_needs(const char *uri, int want_rc)
{
	char path[256], query[256];
	struct dk_op op;
	struct refusal why = {"", ""};
	unsigned needs = 99;

	ck_assert_int_eq(dk_normalize(uri, path, sizeof(path), query, sizeof(query), &why), 0);
	ck_assert_int_eq(dk_lookup("POST", path, &op), 0);
	ck_assert_msg(dk_inspect_query(&op, query, &needs, &why) == want_rc, "%s: %s", uri,
		      why.message);
	return needs;
}

START_TEST(build_network_mode_is_read_from_the_query)
{
	ck_assert_uint_eq(query_needs("/v1.41/build?t=app&networkmode=host", 0), DK_HOST_NETWORK);
	ck_assert_uint_eq(query_needs("/build?networkmode=%68ost", 0), DK_HOST_NETWORK);
	ck_assert_uint_eq(query_needs("/build?networkmode=container:web", 0), DK_HOST_NETWORK);
	ck_assert_uint_eq(query_needs("/build?networkmode=default&networkmode=host", 0), 0);
	ck_assert_uint_eq(query_needs("/build?networkmode=bridge", 0), 0);
	ck_assert_uint_eq(query_needs("/build?t=x", 0), 0);
	ck_assert_uint_eq(query_needs("/build", 0), 0);
	/* Go's reading of these may differ from ours: refused */
	query_needs("/build?networkmode=host;x=1", -1);
	query_needs("/build?networkmode=%zz", -1);
	/* other routes' queries ask for nothing */
	ck_assert_uint_eq(query_needs("/containers/create?networkmode=host", 0), 0);
}
END_TEST

START_TEST(engine_versions_with_the_body_fix)
{
	ck_assert_int_eq(dk_engine_version_fixed("27.1.1"), 1);
	ck_assert_int_eq(dk_engine_version_fixed("27.1.0"), 0);
	ck_assert_int_eq(dk_engine_version_fixed("27.2.0"), 1);
	ck_assert_int_eq(dk_engine_version_fixed("28.0.4"), 1);
	ck_assert_int_eq(dk_engine_version_fixed("26.1.5"), 1);
	ck_assert_int_eq(dk_engine_version_fixed("26.1.4"), 0);
	ck_assert_int_eq(dk_engine_version_fixed("26.0.9"), 0);
	ck_assert_int_eq(dk_engine_version_fixed("25.0.6"), 1);
	ck_assert_int_eq(dk_engine_version_fixed("24.0.9"), 0);
	ck_assert_int_eq(dk_engine_version_fixed("23.0.15"), 1);
	ck_assert_int_eq(dk_engine_version_fixed("20.10.24+dfsg1"), 0);
	ck_assert_int_eq(dk_engine_version_fixed("v27"), -1);
	ck_assert_int_eq(dk_engine_version_fixed(""), -1);
	ck_assert_int_eq(dk_engine_version_fixed(NULL), -1);
}
END_TEST

START_TEST(other_bodies_give_only_their_label)
{
	struct dk_op op;
	char label[64];
	struct refusal why = {"", ""};
	unsigned needs = 9;
	static const char tar[] = "ustar\0\0\0binary";

	/* archives are not read: the engine never shows them */
	op = op_of("POST", "/build");
	ck_assert_int_eq(
	    dk_inspect_body(&op, tar, sizeof(tar), &needs, label, sizeof(label), NULL, &why), 0);
	ck_assert_uint_eq(needs, 0);
	ck_assert_str_eq(label, "");
	op = op_of("POST", "/images/load");
	ck_assert_int_eq(
	    dk_inspect_body(&op, tar, sizeof(tar), &needs, label, sizeof(label), NULL, &why), 0);
	op = op_of("POST", "/images/create");
	ck_assert_int_eq(
	    dk_inspect_body(&op, tar, sizeof(tar), &needs, label, sizeof(label), NULL, &why), 0);
	op = op_of("PUT", "/containers/web/archive");
	ck_assert_int_eq(
	    dk_inspect_body(&op, tar, sizeof(tar), &needs, label, sizeof(label), NULL, &why), 0);
	/* host settings in a network create body are not Container Create's */
	ck_assert_uint_eq(needs_of("POST", "/networks/create", "{\"Privileged\":true}"), 0);
	ck_assert_uint_eq(needs_of("POST", "/networks/front/connect", "{\"Container\":\"web\"}"),
			  0);
}
END_TEST

struct op_count {
	int total, container_view, node_schedule, secret_use, config_use, volume_create;
};

static void count_op(enum dk_resource res, const char *operation, void *ctx)
{
	struct op_count *c = ctx;

	c->total++;
	c->container_view += res == DK_CONTAINER && strcmp(operation, "Container View") == 0;
	c->node_schedule += res == DK_NODE && strcmp(operation, "Node Schedule") == 0;
	c->secret_use += res == DK_SECRET && strcmp(operation, "Secret Use") == 0;
	c->config_use += res == DK_CONFIG && strcmp(operation, "Config Use") == 0;
	c->volume_create += res == DK_VOLUME && strcmp(operation, "Volume Create/Attach") == 0;
}

START_TEST(each_operation_is_listed_once)
{
	struct op_count c = {0};
	size_t distinct = 0;

	dk_each_operation(count_op, &c);
	ck_assert_int_eq(c.container_view, 1);
	ck_assert_int_eq(c.volume_create, 1);
	ck_assert_int_eq(c.node_schedule, 1);
	ck_assert_int_eq(c.secret_use, 1);
	ck_assert_int_eq(c.config_use, 1);
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		size_t j;

		for (j = 0; j < i; j++)
			if (strcmp(examples[i].operation, examples[j].operation) == 0)
				break;
		distinct += j == i;
	}
	ck_assert_int_eq(c.total, (int)distinct + 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dockerapi");
	TCase *routes = tcase_create("routes"), *uris = tcase_create("uris");
	TCase *bodies = tcase_create("bodies");
	SRunner *sr;
	int failed;

	tcase_add_test(routes, every_row_has_an_example);
	tcase_add_loop_test(routes, each_example_routes_as_expected, 0, (int)N_EXAMPLES);
	tcase_add_loop_test(routes, each_example_is_anchored_and_method_bound, 0, (int)N_EXAMPLES);
	tcase_add_test(routes, unknown_routes_extra_segments_and_wrong_methods_are_refused);
	tcase_add_test(routes, lookup_refuses_paths_that_are_not_canonical);
	tcase_add_test(routes, names_may_span_segments);
	tcase_add_test(routes, objects_that_do_not_fit_are_refused);
	tcase_add_test(routes, too_many_segments_are_refused);
	tcase_add_test(routes, names_of_resources_and_sub_options);
	tcase_add_test(routes, each_operation_is_listed_once);
	suite_add_tcase(s, routes);
	tcase_add_test(uris, version_prefixes_are_stripped_once);
	tcase_add_test(uris, absolute_form_loses_scheme_and_host);
	tcase_add_test(uris, queries_are_kept_apart_and_raw);
	tcase_add_test(uris, percent_escapes_are_decoded_after_the_query_is_split);
	tcase_add_test(uris, bad_escapes_and_bytes_are_refused);
	tcase_add_test(uris, dot_segments_are_refused);
	tcase_add_test(uris, empty_segments_are_refused_but_one_trailing_slash_is_dropped);
	tcase_add_test(uris, long_paths_are_refused);
	suite_add_tcase(s, uris);
	tcase_add_test(bodies, a_plain_container_needs_nothing);
	tcase_add_test(bodies, each_sub_option_is_detected);
	tcase_add_test(bodies, joining_another_container_counts_as_its_mode);
	tcase_add_test(bodies, named_and_anonymous_volumes_are_not_host_binds);
	tcase_add_test(bodies, other_ways_to_reach_the_host_are_counted);
	tcase_add_test(bodies, host_config_fields_at_the_top_level_count);
	tcase_add_test(bodies, keys_fold_as_the_engine_folds_them);
	tcase_add_test(bodies, wrong_types_fail_closed);
	tcase_add_test(bodies, bodies_that_are_not_objects_are_refused);
	tcase_add_test(bodies, required_bodies_may_not_be_empty);
	tcase_add_test(bodies, large_bodies_are_refused);
	tcase_add_test(bodies, labels_are_read_from_create_bodies);
	tcase_add_test(bodies, bad_labels_are_refused);
	tcase_add_test(bodies, service_specs_are_inspected);
	tcase_add_test(bodies, service_specs_name_their_secrets_configs_and_constraints);
	tcase_add_test(bodies, service_uses_of_the_wrong_type_or_too_many_are_refused);
	tcase_add_test(bodies, nodes_are_read_with_their_collections);
	tcase_add_test(bodies, constraints_are_evaluated_as_swarmkit_does);
	tcase_add_test(bodies, exec_create_needs_privileged_only_for_a_privileged_exec);
	tcase_add_test(bodies, volume_create_with_a_host_device_is_a_host_bind);
	tcase_add_test(bodies, other_bodies_give_only_their_label);
	tcase_add_test(bodies, plugin_privileges_need_sub_options);
	tcase_add_test(bodies, container_update_reads_resources);
	tcase_add_test(bodies, build_network_mode_is_read_from_the_query);
	tcase_add_test(bodies, engine_versions_with_the_body_fix);
	suite_add_tcase(s, bodies);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
