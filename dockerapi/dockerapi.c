/*
 * The Docker Engine API as authorization sees it (SPEC §8.2): request URIs
 * made canonical, the route table that names each call's operation, and the
 * reading of create bodies for sub-options and access labels.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "dockerapi.h"
#include "internal.h"

/* The engine passes authorization plugins bodies of at most 1 MiB. */
#define BODY_MAX (1024 * 1024)
/* More segments than any real route or image name has. */
#define MAX_SEGS 128

/* Every refusal here is of the request as a whole: it names no field. */
static int refuse(struct refusal *why, const char *msg)
{
	if (why != NULL)
		refusal_set(why, "", "%s", msg);
	return -1;
}

/* ---- names ---- */

static const char *const resource_names[DK_N_RESOURCES] = {
    [DK_CONTAINER] = "Container", [DK_IMAGE] = "Image",	  [DK_NETWORK] = "Network",
    [DK_VOLUME] = "Volume",	  [DK_NODE] = "Node",	  [DK_SERVICE] = "Service",
    [DK_SECRET] = "Secret",	  [DK_CONFIG] = "Config", [DK_PLUGIN] = "Plugin",
    [DK_SWARM] = "Swarm",	  [DK_SYSTEM] = "System",
};

const char *dk_resource_name(enum dk_resource r)
{
	if ((unsigned)r >= DK_N_RESOURCES)
		return NULL;
	return resource_names[r];
}

/* indexed by bit position, in the order of enum dk_suboption */
static const char *const suboption_names[DK_N_SUBOPTIONS] = {
    "Privileged",	    "Host Bind Mounts", "Additional Kernel Capabilities",
    "Host Networking Mode", "PID Mode",		"IPC Mode",
    "User Namespace Mode",  "Devices",
};

const char *dk_suboption_name(unsigned bit)
{
	for (unsigned i = 0; i < DK_N_SUBOPTIONS; i++)
		if (bit == 1u << i)
			return suboption_names[i];
	return NULL;
}

/* ---- normalizing RequestUri ---- */

/*
 * What reaches the router must be what the engine routes on. The engine
 * (Go's net/http and gorilla/mux) decodes the path before matching, so we
 * decode too, and then refuse every shape whose meaning could differ
 * between us and it: dot segments, empty segments, control bytes, encoded
 * NULs and malformed escapes. A refused URI is denied, never guessed at.
 */

/* Bytes that no well-formed request target carries raw. */
static int check_raw(const char *uri, struct refusal *why)
{
	for (const unsigned char *p = (const unsigned char *)uri; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f)
			return refuse(why, "the URI has a space or a control character");
		/* clients never send fragments; Go would keep one in the path */
		if (*p == '#')
			return refuse(why, "the URI has a fragment (#)");
	}
	return 0;
}

/* Skips "http://host:port" or "https://..." of an absolute-form target. */
static const char *skip_authority(const char *uri)
{
	const char *p;

	if (strncasecmp(uri, "http://", 7) == 0)
		p = uri + 7;
	else if (strncasecmp(uri, "https://", 8) == 0)
		p = uri + 8;
	else
		return uri;
	return p + strcspn(p, "/?");
}

static const char *skip_digits(const char *p, const char *end)
{
	const char *start = p;

	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p > start ? p : NULL;
}

/* After a "/vX.Y" prefix followed by "/", or p itself when there is none. */
static const char *skip_version(const char *p, const char *end)
{
	const char *q = p + 2;

	if (end - p < 2 || p[0] != '/' || p[1] != 'v')
		return p;
	if ((q = skip_digits(q, end)) == NULL || q == end || *q != '.')
		return p;
	if ((q = skip_digits(q + 1, end)) == NULL || q == end || *q != '/')
		return p;
	return q;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int percent_decode(const char *s, const char *end, char *out, size_t outlen,
			  struct refusal *why)
{
	size_t n = 0;

	while (s < end) {
		unsigned char c = (unsigned char)*s++;

		if (c == '%') {
			int hi = end - s >= 2 ? hex_value(s[0]) : -1;
			int lo = end - s >= 2 ? hex_value(s[1]) : -1;

			if (hi < 0 || lo < 0)
				return refuse(why, "the path has a bad percent escape");
			c = (unsigned char)(hi << 4 | lo);
			s += 2;
		}
		if (c == 0)
			return refuse(why, "the path has an encoded NUL byte");
		if (c < 0x20 || c == 0x7f)
			return refuse(why, "the path has an encoded control character");
		if (n + 1 >= outlen)
			return refuse(why, "the path is too long");
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

/* Drops one trailing "/", then refuses empty, "." and ".." segments. */
static int check_segments(char *path, struct refusal *why)
{
	size_t len = strlen(path);
	const char *seg = path + 1;

	if (len >= 2 && path[len - 1] == '/' && path[len - 2] != '/')
		path[--len] = '\0';
	if (len == 1)
		return 0;
	for (;;) {
		size_t n = strcspn(seg, "/");

		if (n == 0)
			return refuse(why, "the path has an empty segment (//)");
		if (n == 1 && seg[0] == '.')
			return refuse(why, "the path has a . segment");
		if (n == 2 && seg[0] == '.' && seg[1] == '.')
			return refuse(why, "the path has a .. segment");
		if (seg[n] == '\0')
			return 0;
		seg += n + 1;
	}
}

static int split_query(const char *p, const char **path_end, char *query, size_t querylen,
		       struct refusal *why)
{
	const char *q = strchr(p, '?');

	*path_end = q ? q : p + strlen(p);
	if (q == NULL)
		return 0;
	if (strlen(q + 1) >= querylen)
		return refuse(why, "the query string is too long");
	memcpy(query, q + 1, strlen(q + 1) + 1);
	return 0;
}

int dk_normalize(const char *uri, char *path, size_t pathlen, char *query, size_t querylen,
		 struct refusal *why)
{
	const char *p, *end;

	if (path == NULL || pathlen == 0 || query == NULL || querylen == 0)
		return refuse(why, "internal error: no room for the path");
	path[0] = query[0] = '\0';
	if (uri == NULL || uri[0] == '\0')
		return refuse(why, "the URI is empty");
	if (check_raw(uri, why) != 0)
		return -1;
	p = skip_authority(uri);
	if (*p != '/')
		return refuse(why, "the path does not start with /");
	if (split_query(p, &end, query, querylen, why) != 0)
		return -1;
	p = skip_version(p, end);
	if (percent_decode(p, end, path, pathlen, why) != 0 || check_segments(path, why) != 0) {
		path[0] = query[0] = '\0';
		return -1;
	}
	return 0;
}

/* ---- the route table ---- */

/*
 * The model. Each route of the Engine API (1.41 and later) is one row:
 * method, path pattern, the resource type it acts on, the operation a role
 * must allow (MKE's names where MKE has one, the same style elsewhere), what
 * it targets, and whether its body must be read for sub-options.
 *
 * Patterns are matched segment by segment against the canonical path and
 * are anchored at both ends. "{id}" matches one segment. "{name*}" matches
 * one or more: image, plugin and distribution names carry "/" and ":"
 * ("registry.example.com:5000/team/app:1.0"), as the engine's own
 * "{name:.*}" does; it is the only variable of its row, and what follows it
 * in the pattern must match the path's last segments. The variable's text is
 * the target object.
 *
 * Targets: NEW rows make a resource, whose collection comes from the body's
 * label; EXISTING rows name one in the path, whose collection is its label;
 * NONE rows are lists and engine-wide calls. POST /commit names its source
 * container in the query ("container"), not the path, so it is NONE here.
 *
 * No path matches two rows (a test checks every row with an example), so
 * order does not matter. A path no row matches is denied for non-admins.
 */

#define T_NONE DK_TARGET_NONE
#define T_NEW DK_TARGET_NEW
#define T_OBJ DK_TARGET_EXISTING

struct route {
	const char *method;
	const char *pattern;
	enum dk_resource resource;
	const char *operation;
	enum dk_target target;
	bool inspect_body;
};

/* clang-format off */
static const struct route routes[] = {
	/* containers */
	{"GET",    "/containers/json",             DK_CONTAINER, "Container View",             T_NONE, false},
	{"POST",   "/containers/create",           DK_CONTAINER, "Container Create",           T_NEW,  true},
	{"GET",    "/containers/{id}/json",        DK_CONTAINER, "Container View",             T_OBJ,  false},
	{"GET",    "/containers/{id}/top",         DK_CONTAINER, "Container Top",              T_OBJ,  false},
	{"GET",    "/containers/{id}/logs",        DK_CONTAINER, "Container Logs",             T_OBJ,  false},
	{"GET",    "/containers/{id}/changes",     DK_CONTAINER, "Container Changes",          T_OBJ,  false},
	{"GET",    "/containers/{id}/export",      DK_CONTAINER, "Container Export",           T_OBJ,  false},
	{"GET",    "/containers/{id}/stats",       DK_CONTAINER, "Container Stats",            T_OBJ,  false},
	{"POST",   "/containers/{id}/resize",      DK_CONTAINER, "Container Resize",           T_OBJ,  false},
	{"POST",   "/containers/{id}/start",       DK_CONTAINER, "Container Start",            T_OBJ,  false},
	{"POST",   "/containers/{id}/stop",        DK_CONTAINER, "Container Stop",             T_OBJ,  false},
	{"POST",   "/containers/{id}/restart",     DK_CONTAINER, "Container Restart",          T_OBJ,  false},
	{"POST",   "/containers/{id}/kill",        DK_CONTAINER, "Container Kill",             T_OBJ,  false},
	{"POST",   "/containers/{id}/update",      DK_CONTAINER, "Container Update",           T_OBJ,  true},
	{"POST",   "/containers/{id}/rename",      DK_CONTAINER, "Container Rename",           T_OBJ,  false},
	{"POST",   "/containers/{id}/pause",       DK_CONTAINER, "Container Pause",            T_OBJ,  false},
	{"POST",   "/containers/{id}/unpause",     DK_CONTAINER, "Container Unpause",          T_OBJ,  false},
	{"POST",   "/containers/{id}/attach",      DK_CONTAINER, "Container Attach",           T_OBJ,  false},
	{"GET",    "/containers/{id}/attach/ws",   DK_CONTAINER, "Container Attach",           T_OBJ,  false},
	{"POST",   "/containers/{id}/wait",        DK_CONTAINER, "Container Wait",             T_OBJ,  false},
	{"DELETE", "/containers/{id}",             DK_CONTAINER, "Container Remove",           T_OBJ,  false},
	{"HEAD",   "/containers/{id}/archive",     DK_CONTAINER, "Container Filesystem Read",  T_OBJ,  false},
	{"GET",    "/containers/{id}/archive",     DK_CONTAINER, "Container Filesystem Read",  T_OBJ,  false},
	{"PUT",    "/containers/{id}/archive",     DK_CONTAINER, "Container Filesystem Write", T_OBJ,  false},
	{"POST",   "/containers/prune",            DK_CONTAINER, "Container Remove",           T_NONE, false},
	/* exec: creating one names the container, the rest name the exec */
	{"POST",   "/containers/{id}/exec",        DK_CONTAINER, "Container Exec",             T_OBJ,  true},
	{"POST",   "/exec/{id}/start",             DK_CONTAINER, "Container Exec",             T_OBJ,  false},
	{"POST",   "/exec/{id}/resize",            DK_CONTAINER, "Container Exec",             T_OBJ,  false},
	{"GET",    "/exec/{id}/json",              DK_CONTAINER, "Container Exec",             T_OBJ,  false},
	/* images and builds */
	{"GET",    "/images/json",                 DK_IMAGE,     "Image View",                 T_NONE, false},
	{"POST",   "/build",                       DK_IMAGE,     "Image Build",                T_NEW,  false},
	{"POST",   "/build/prune",                 DK_IMAGE,     "Image Prune",                T_NONE, false},
	{"POST",   "/build/cancel",                DK_IMAGE,     "Image Build",                T_NONE, false},
	{"POST",   "/images/create",               DK_IMAGE,     "Image Create",               T_NEW,  false},
	{"GET",    "/images/{name*}/json",         DK_IMAGE,     "Image View",                 T_OBJ,  false},
	{"GET",    "/images/{name*}/history",      DK_IMAGE,     "Image History",              T_OBJ,  false},
	{"POST",   "/images/{name*}/push",         DK_IMAGE,     "Image Push",                 T_OBJ,  false},
	{"POST",   "/images/{name*}/tag",          DK_IMAGE,     "Image Tag",                  T_OBJ,  false},
	{"DELETE", "/images/{name*}",              DK_IMAGE,     "Image Remove",               T_OBJ,  false},
	{"GET",    "/images/search",               DK_IMAGE,     "Image Search",               T_NONE, false},
	{"POST",   "/images/prune",                DK_IMAGE,     "Image Prune",                T_NONE, false},
	{"POST",   "/commit",                      DK_IMAGE,     "Image Commit",               T_NONE, false},
	{"GET",    "/images/{name*}/get",          DK_IMAGE,     "Image Export",               T_OBJ,  false},
	{"GET",    "/images/get",                  DK_IMAGE,     "Image Export",               T_NONE, false},
	{"POST",   "/images/load",                 DK_IMAGE,     "Image Load",                 T_NEW,  false},
	{"GET",    "/distribution/{name*}/json",   DK_IMAGE,     "Image View",                 T_OBJ,  false},
	/* networks */
	{"GET",    "/networks",                    DK_NETWORK,   "Network View",               T_NONE, false},
	{"GET",    "/networks/{id}",               DK_NETWORK,   "Network View",               T_OBJ,  false},
	{"DELETE", "/networks/{id}",               DK_NETWORK,   "Network Remove",             T_OBJ,  false},
	{"POST",   "/networks/create",             DK_NETWORK,   "Network Create",             T_NEW,  true},
	{"POST",   "/networks/{id}/connect",       DK_NETWORK,   "Network Connect",            T_OBJ,  false},
	{"POST",   "/networks/{id}/disconnect",    DK_NETWORK,   "Network Disconnect",         T_OBJ,  false},
	{"POST",   "/networks/prune",              DK_NETWORK,   "Network Prune",              T_NONE, false},
	/* volumes; PUT updates a cluster volume (API 1.42) */
	{"GET",    "/volumes",                     DK_VOLUME,    "Volume View",                T_NONE, false},
	{"GET",    "/volumes/{name}",              DK_VOLUME,    "Volume View",                T_OBJ,  false},
	{"POST",   "/volumes/create",              DK_VOLUME,    "Volume Create/Attach",       T_NEW,  true},
	{"PUT",    "/volumes/{name}",              DK_VOLUME,    "Volume Create/Attach",       T_OBJ,  false},
	{"DELETE", "/volumes/{name}",              DK_VOLUME,    "Volume Remove",              T_OBJ,  false},
	{"POST",   "/volumes/prune",               DK_VOLUME,    "Volume Prune",               T_NONE, false},
	/* swarm; reading the unlock key is as strong as unlocking */
	{"GET",    "/swarm",                       DK_SWARM,     "Swarm View",                 T_NONE, false},
	{"POST",   "/swarm/init",                  DK_SWARM,     "Swarm Init",                 T_NONE, true},
	{"POST",   "/swarm/join",                  DK_SWARM,     "Swarm Join",                 T_NONE, true},
	{"POST",   "/swarm/leave",                 DK_SWARM,     "Swarm Leave",                T_NONE, false},
	{"POST",   "/swarm/update",                DK_SWARM,     "Swarm Update",               T_NONE, true},
	{"GET",    "/swarm/unlockkey",             DK_SWARM,     "Swarm Unlock",               T_NONE, false},
	{"POST",   "/swarm/unlock",                DK_SWARM,     "Swarm Unlock",               T_NONE, false},
	/* nodes */
	{"GET",    "/nodes",                       DK_NODE,      "Node View",                  T_NONE, false},
	{"GET",    "/nodes/{id}",                  DK_NODE,      "Node View",                  T_OBJ,  false},
	{"DELETE", "/nodes/{id}",                  DK_NODE,      "Node Remove",                T_OBJ,  false},
	{"POST",   "/nodes/{id}/update",           DK_NODE,      "Node Update",                T_OBJ,  true},
	/* services and their tasks; logs are gated like service logs */
	{"GET",    "/services",                    DK_SERVICE,   "Service View",               T_NONE, false},
	{"POST",   "/services/create",             DK_SERVICE,   "Service Create",             T_NEW,  true},
	{"GET",    "/services/{id}",               DK_SERVICE,   "Service View",               T_OBJ,  false},
	{"DELETE", "/services/{id}",               DK_SERVICE,   "Service Delete",             T_OBJ,  false},
	{"POST",   "/services/{id}/update",        DK_SERVICE,   "Service Update",             T_OBJ,  true},
	{"GET",    "/services/{id}/logs",          DK_SERVICE,   "Service Logs",               T_OBJ,  false},
	{"GET",    "/tasks",                       DK_SERVICE,   "Service View Tasks",         T_NONE, false},
	{"GET",    "/tasks/{id}",                  DK_SERVICE,   "Service View Tasks",         T_OBJ,  false},
	{"GET",    "/tasks/{id}/logs",             DK_SERVICE,   "Service Logs",               T_OBJ,  false},
	/* secrets and configs */
	{"GET",    "/secrets",                     DK_SECRET,    "Secret View",                T_NONE, false},
	{"POST",   "/secrets/create",              DK_SECRET,    "Secret Create",              T_NEW,  true},
	{"GET",    "/secrets/{id}",                DK_SECRET,    "Secret View",                T_OBJ,  false},
	{"DELETE", "/secrets/{id}",                DK_SECRET,    "Secret Delete",              T_OBJ,  false},
	{"POST",   "/secrets/{id}/update",         DK_SECRET,    "Secret Update",              T_OBJ,  true},
	{"GET",    "/configs",                     DK_CONFIG,    "Config View",                T_NONE, false},
	{"POST",   "/configs/create",              DK_CONFIG,    "Config Create",              T_NEW,  true},
	{"GET",    "/configs/{id}",                DK_CONFIG,    "Config View",                T_OBJ,  false},
	{"DELETE", "/configs/{id}",                DK_CONFIG,    "Config Delete",              T_OBJ,  false},
	{"POST",   "/configs/{id}/update",         DK_CONFIG,    "Config Update",              T_OBJ,  true},
	/* plugins */
	{"GET",    "/plugins",                     DK_PLUGIN,    "Plugin View",                T_NONE, false},
	{"GET",    "/plugins/privileges",          DK_PLUGIN,    "Plugin View",                T_NONE, false},
	{"POST",   "/plugins/pull",                DK_PLUGIN,    "Plugin Install",             T_NEW,  true},
	{"POST",   "/plugins/create",              DK_PLUGIN,    "Plugin Create",              T_NEW,  true},
	{"GET",    "/plugins/{name*}/json",        DK_PLUGIN,    "Plugin View",                T_OBJ,  false},
	{"DELETE", "/plugins/{name*}",             DK_PLUGIN,    "Plugin Remove",              T_OBJ,  false},
	{"POST",   "/plugins/{name*}/enable",      DK_PLUGIN,    "Plugin Enable",              T_OBJ,  false},
	{"POST",   "/plugins/{name*}/disable",     DK_PLUGIN,    "Plugin Disable",             T_OBJ,  false},
	{"POST",   "/plugins/{name*}/upgrade",     DK_PLUGIN,    "Plugin Upgrade",             T_OBJ,  true},
	{"POST",   "/plugins/{name*}/push",        DK_PLUGIN,    "Plugin Push",                T_OBJ,  false},
	{"POST",   "/plugins/{name*}/set",         DK_PLUGIN,    "Plugin Configure",           T_OBJ,  true},
	/* the engine itself */
	{"GET",    "/_ping",                       DK_SYSTEM,    "System Ping",                T_NONE, false},
	{"HEAD",   "/_ping",                       DK_SYSTEM,    "System Ping",                T_NONE, false},
	{"GET",    "/version",                     DK_SYSTEM,    "System Version",             T_NONE, false},
	{"GET",    "/info",                        DK_SYSTEM,    "System Info",                T_NONE, false},
	{"GET",    "/events",                      DK_SYSTEM,    "System Events",              T_NONE, false},
	{"GET",    "/system/df",                   DK_SYSTEM,    "System Disk Usage",          T_NONE, false},
	{"POST",   "/auth",                        DK_SYSTEM,    "System Auth",                T_NONE, false},
	{"POST",   "/session",                     DK_SYSTEM,    "System Session",             T_NONE, false},
};
/* clang-format on */

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

size_t dk_route_count(void)
{
	return N_ROUTES;
}

/* Operations roles may name that no route carries: they are checked elsewhere or not yet. */
static const struct {
	enum dk_resource resource;
	const char *operation;
} unrouted[] = {
    {DK_NODE, "Node Schedule"},
    {DK_SECRET, "Secret Use"},
    {DK_CONFIG, "Config Use"},
};

static bool seen_before(size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (routes[j].resource == routes[i].resource &&
		    strcmp(routes[j].operation, routes[i].operation) == 0)
			return true;
	return false;
}

void dk_each_operation(void (*fn)(enum dk_resource res, const char *operation, void *ctx),
		       void *ctx)
{
	for (size_t i = 0; i < N_ROUTES; i++)
		if (!seen_before(i))
			fn(routes[i].resource, routes[i].operation, ctx);
	for (size_t i = 0; i < sizeof(unrouted) / sizeof(unrouted[0]); i++)
		fn(unrouted[i].resource, unrouted[i].operation, ctx);
}

/* ---- matching ---- */

struct seg {
	const char *s;
	size_t n;
};

/*
 * The segments of "/a/b/c"; "/" has none. -1 for more than max, or for a
 * path that is not canonical (dk_lookup may be handed one by mistake).
 */
static int split_path(const char *path, struct seg *segs, int max)
{
	int n = 0;

	if (path[0] != '/')
		return -1;
	if (path[1] == '\0')
		return 0;
	while (*path == '/') {
		size_t len = strcspn(++path, "/");

		if (n == max || len == 0 || (len == 1 && path[0] == '.') ||
		    (len == 2 && path[0] == '.' && path[1] == '.'))
			return -1;
		segs[n].s = path;
		segs[n].n = len;
		path += len;
		n++;
	}
	return n;
}

static bool is_var(struct seg p)
{
	return p.n >= 2 && p.s[0] == '{';
}

static bool is_star(struct seg p)
{
	return p.n >= 3 && p.s[0] == '{' && p.s[p.n - 2] == '*';
}

static int star_index(const struct seg *pat, int npat)
{
	for (int i = 0; i < npat; i++)
		if (is_star(pat[i]))
			return i;
	return -1;
}

/* Whether the row's pattern matches; *obj is set to the variable's text if it has one. */
static bool match(const struct route *r, const struct seg *path, int n, struct seg *obj)
{
	struct seg pat[16];
	int npat = split_path(r->pattern, pat, 16);
	int star = star_index(pat, npat);
	int extra = n - npat; /* segments the star takes beyond its first */

	obj->s = NULL;
	obj->n = 0;
	if (npat < 0 || (star < 0 ? extra != 0 : extra < 0))
		return false;
	for (int i = 0; i < npat; i++) {
		int j = star >= 0 && i > star ? i + extra : i;

		if (i == star) {
			const struct seg *last = &path[i + extra];

			obj->s = path[i].s;
			obj->n = (size_t)(last->s + last->n - path[i].s);
		} else if (is_var(pat[i])) {
			*obj = path[j];
		} else if (pat[i].n != path[j].n || memcmp(pat[i].s, path[j].s, pat[i].n) != 0) {
			return false;
		}
	}
	return true;
}

static void fill_op(const struct route *r, struct seg obj, struct dk_op *op)
{
	op->resource = r->resource;
	op->operation = r->operation;
	op->target = r->target;
	op->inspect_body = r->inspect_body;
	op->pattern = r->pattern;
	memcpy(op->object, obj.s ? obj.s : "", obj.n);
	op->object[obj.n] = '\0';
}

int dk_lookup(const char *method, const char *path, struct dk_op *op)
{
	struct seg segs[MAX_SEGS], obj;
	int n;

	memset(op, 0, sizeof(*op));
	if (method == NULL || path == NULL)
		return -1;
	n = split_path(path, segs, MAX_SEGS);
	if (n < 0)
		return -1;
	for (size_t i = 0; i < N_ROUTES; i++) {
		if (strcmp(routes[i].method, method) != 0 || !match(&routes[i], segs, n, &obj))
			continue;
		/* an object we cannot hold whole could name another one: deny */
		if (obj.n >= DK_OBJECT_LEN)
			return -1;
		fill_op(&routes[i], obj, op);
		return 0;
	}
	return -1;
}

/* ---- reading bodies ---- */

/*
 * The engine decodes bodies with Go's encoding/json, and we must see what
 * it will act on. Go matches object keys to fields without regard to case
 * (folding the Kelvin sign to "k" and the long s to "s" as well), lets the
 * last of two matching keys win, and reads a null as absent. So keys are
 * looked up the same way, two keys that fold alike are refused, null counts
 * as absent, and a value of the wrong type is refused rather than skipped:
 * the engine would refuse it too, and skipping it could hide a request.
 * Map keys (labels, driver options) are not folded by Go, nor here.
 */

bool dk_fold_equal(const char *key, const char *name)
{
	for (; *name; name++) {
		char c;

		if (strncmp(key, "\xE2\x84\xAA", 3) == 0) {
			c = 'k';
			key += 3;
		} else if (strncmp(key, "\xC5\xBF", 2) == 0) {
			c = 's';
			key += 2;
		} else if (*key == '\0') {
			return false;
		} else {
			c = (char)tolower((unsigned char)*key++);
		}
		if (c != tolower((unsigned char)*name))
			return false;
	}
	return *key == '\0';
}

/* The value of obj's field `name`, NULL when absent or null. */
static int field(json_t *obj, const char *name, json_t **out, struct refusal *why)
{
	const char *k;
	json_t *v, *found = NULL;

	*out = NULL;
	json_object_foreach(obj, k, v)
	{
		if (!dk_fold_equal(k, name))
			continue;
		if (found != NULL)
			return refuse(why, "the body has two keys that differ only in case");
		found = v;
	}
	*out = json_is_null(found) ? NULL : found;
	return 0;
}

/* An object field: NULL when absent, -1 with `msg` when it is something else. */
static int object_field(json_t *obj, const char *name, json_t **out, const char *msg,
			struct refusal *why)
{
	if (field(obj, name, out, why) != 0)
		return -1;
	if (*out != NULL && !json_is_object(*out))
		return refuse(why, msg);
	return 0;
}

/* true asks for `bit`; false and absent do not. */
static int flag_field(json_t *obj, const char *name, unsigned bit, unsigned *needs, const char *msg,
		      struct refusal *why)
{
	json_t *v;

	if (field(obj, name, &v, why) != 0)
		return -1;
	if (v != NULL && !json_is_boolean(v))
		return refuse(why, msg);
	if (json_is_true(v))
		*needs |= bit;
	return 0;
}

/*
 * Lists where any entry asks for `bit` (CapAdd, Devices, ...). Anything but
 * an empty list asks for it: CapAdd may be a single string to the engine,
 * and for the rest a wrong type costs the request nothing it should have.
 */
static int list_field(json_t *obj, const char *name, unsigned bit, unsigned *needs,
		      struct refusal *why)
{
	json_t *v;

	if (field(obj, name, &v, why) != 0)
		return -1;
	if (v != NULL && !(json_is_array(v) && json_array_size(v) == 0))
		*needs |= bit;
	return 0;
}

/* "host", or "container:<id>" (joining another container's namespace). */
static int mode_field(json_t *obj, const char *name, unsigned bit, unsigned *needs, const char *msg,
		      struct refusal *why)
{
	json_t *v;
	const char *s;

	if (field(obj, name, &v, why) != 0)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return refuse(why, msg);
	s = json_string_value(v);
	if (strcasecmp(s, "host") == 0 || strncasecmp(s, "container:", 10) == 0)
		*needs |= bit;
	return 0;
}

/* What the engine accepts as a volume name; anything else in a bind source may be a path. */
static bool is_volume_name(const char *s, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) == NULL)
			return false;
	return true;
}

/* "src:dst[:opts]": a host path unless src is a volume name; "dst" alone is an anonymous volume. */
static bool bind_is_host(const char *spec)
{
	const char *colon = strchr(spec, ':');

	if (colon == NULL)
		return false;
	return !is_volume_name(spec, (size_t)(colon - spec));
}

static int scan_binds(json_t *obj, unsigned *needs, struct refusal *why)
{
	json_t *binds, *b;
	size_t i;

	if (field(obj, "Binds", &binds, why) != 0)
		return -1;
	if (binds == NULL)
		return 0;
	if (!json_is_array(binds))
		return refuse(why, "HostConfig.Binds must be a list of strings");
	json_array_foreach(binds, i, b)
	{
		if (!json_is_string(b))
			return refuse(why, "HostConfig.Binds must be a list of strings");
		if (bind_is_host(json_string_value(b)))
			*needs |= DK_HOST_BIND_MOUNTS;
	}
	return 0;
}

/*
 * The local volume driver mounts its "device" option: a volume made with
 * {"type":"none","o":"bind","device":"/etc"} is a host bind by another name.
 */
static int scan_driver_opts(json_t *opts, unsigned *needs, struct refusal *why)
{
	json_t *device;

	if (opts == NULL)
		return 0;
	if (!json_is_object(opts))
		return refuse(why, "volume driver options must be an object of strings");
	device = json_object_get(opts, "device");
	if (device != NULL && !json_is_string(device))
		return refuse(why, "the volume driver option \"device\" must be a string");
	if (device != NULL && json_string_value(device)[0] == '/')
		*needs |= DK_HOST_BIND_MOUNTS;
	return 0;
}

/* A volume mount's inline driver options (Mounts[].VolumeOptions.DriverConfig.Options). */
static int scan_volume_options(json_t *mount, unsigned *needs, struct refusal *why)
{
	json_t *vo, *dc, *opts;

	if (object_field(mount, "VolumeOptions", &vo, "Mounts[].VolumeOptions must be an object",
			 why) != 0)
		return -1;
	if (vo == NULL)
		return 0;
	if (object_field(vo, "DriverConfig", &dc,
			 "Mounts[].VolumeOptions.DriverConfig must be an object", why) != 0)
		return -1;
	if (dc == NULL)
		return 0;
	if (field(dc, "Options", &opts, why) != 0)
		return -1;
	return scan_driver_opts(opts, needs, why);
}

/* Mount types that never reach a host path; bind, npipe and any unknown type do. */
static bool mount_type_is_safe(const char *type)
{
	static const char *const safe[] = {"volume", "tmpfs", "cluster", "image"};

	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (strcmp(type, safe[i]) == 0)
			return true;
	return false;
}

static int scan_mount(json_t *m, unsigned *needs, struct refusal *why)
{
	json_t *type;

	if (!json_is_object(m))
		return refuse(why, "Mounts must be a list of objects");
	if (field(m, "Type", &type, why) != 0)
		return -1;
	if (!json_is_string(type))
		return refuse(why, "Mounts[].Type must be a string");
	if (!mount_type_is_safe(json_string_value(type))) {
		*needs |= DK_HOST_BIND_MOUNTS;
		return 0;
	}
	return scan_volume_options(m, needs, why);
}

static int scan_mounts(json_t *obj, unsigned *needs, struct refusal *why)
{
	json_t *mounts, *m;
	size_t i;

	if (field(obj, "Mounts", &mounts, why) != 0)
		return -1;
	if (mounts == NULL)
		return 0;
	if (!json_is_array(mounts))
		return refuse(why, "Mounts must be a list of objects");
	json_array_foreach(mounts, i, m)
	{
		if (scan_mount(m, needs, why) != 0)
			return -1;
	}
	return 0;
}

/* The fields of a container's HostConfig that need a Container Create sub-option. */
static int scan_host_config(json_t *hc, unsigned *needs, struct refusal *why)
{
	if (flag_field(hc, "Privileged", DK_PRIVILEGED, needs,
		       "HostConfig.Privileged must be true or false", why) != 0 ||
	    scan_binds(hc, needs, why) != 0 || scan_mounts(hc, needs, why) != 0 ||
	    /* another container's volumes bring its host binds along */
	    list_field(hc, "VolumesFrom", DK_HOST_BIND_MOUNTS, needs, why) != 0 ||
	    list_field(hc, "CapAdd", DK_CAPABILITIES, needs, why) != 0 ||
	    list_field(hc, "Capabilities", DK_CAPABILITIES, needs, why) != 0 ||
	    list_field(hc, "Devices", DK_DEVICES, needs, why) != 0 ||
	    list_field(hc, "DeviceCgroupRules", DK_DEVICES, needs, why) != 0 ||
	    list_field(hc, "DeviceRequests", DK_DEVICES, needs, why) != 0)
		return -1;
	if (mode_field(hc, "NetworkMode", DK_HOST_NETWORK, needs,
		       "HostConfig.NetworkMode must be a string", why) != 0 ||
	    mode_field(hc, "PidMode", DK_PID_MODE, needs, "HostConfig.PidMode must be a string",
		       why) != 0 ||
	    mode_field(hc, "IpcMode", DK_IPC_MODE, needs, "HostConfig.IpcMode must be a string",
		       why) != 0 ||
	    mode_field(hc, "UsernsMode", DK_USERNS_MODE, needs,
		       "HostConfig.UsernsMode must be a string", why) != 0)
		return -1;
	return 0;
}

/*
 * Container create. The engine still reads HostConfig's fields from the top
 * level of the body when "HostConfig" is absent (a relic of old API
 * versions), so both places are scanned and their needs added together.
 */
static int scan_container(json_t *root, unsigned *needs, struct refusal *why)
{
	json_t *hc;

	if (object_field(root, "HostConfig", &hc, "HostConfig must be an object", why) != 0 ||
	    scan_host_config(root, needs, why) != 0)
		return -1;
	return hc == NULL ? 0 : scan_host_config(hc, needs, why);
}

/* Exec create: a privileged exec gets every capability even in an unprivileged container. */
static int scan_exec(json_t *root, unsigned *needs, struct refusal *why)
{
	return flag_field(root, "Privileged", DK_PRIVILEGED, needs,
			  "Privileged must be true or false", why);
}

/* ---- what a service uses: secrets, configs, placement ---- */

/* A refusal whose text names a field of the spec; why may be NULL. */
__attribute__((format(printf, 2, 3))) static int refusef(struct refusal *why, const char *fmt, ...)
{
	char msg[sizeof(why->message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return refuse(why, msg);
}

struct ref_kind {
	enum dk_resource resource;
	const char *list; /* "Secrets" */
	const char *id;	  /* "SecretID" */
	const char *name; /* "SecretName" */
};

static const struct ref_kind secret_refs = {DK_SECRET, "Secrets", "SecretID", "SecretName"};
static const struct ref_kind config_refs = {DK_CONFIG, "Configs", "ConfigID", "ConfigName"};

/* A reference's ID or name into out ("" when absent). */
static int ref_string(json_t *ref, const struct ref_kind *k, const char *key, char *out,
		      size_t outlen, struct refusal *why)
{
	json_t *v;

	out[0] = '\0';
	if (field(ref, key, &v, why) != 0)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return refusef(why, "TaskTemplate.ContainerSpec.%s[].%s must be a string", k->list,
			       key);
	if (json_string_length(v) >= outlen ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return refusef(why, "TaskTemplate.ContainerSpec.%s[].%s is too long or has a NUL",
			       k->list, key);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/*
 * One reference. swarmkit finds a secret or config by its ID and refuses a
 * spec whose name is not that one's, so the ID is what authd looks up; the
 * name only when there is no ID (the engine will refuse that spec anyway).
 */
static int scan_ref(json_t *ref, const struct ref_kind *k, struct dk_ref *out, struct refusal *why)
{
	char id[DK_REF_LEN], name[DK_REF_LEN];

	if (!json_is_object(ref))
		return refusef(why, "TaskTemplate.ContainerSpec.%s must be a list of objects",
			       k->list);
	if (ref_string(ref, k, k->id, id, sizeof(id), why) != 0 ||
	    ref_string(ref, k, k->name, name, sizeof(name), why) != 0)
		return -1;
	if (id[0] == '\0' && name[0] == '\0')
		return refusef(why, "each of TaskTemplate.ContainerSpec.%s needs a %s", k->list,
			       k->id);
	out->resource = k->resource;
	snprintf(out->object, sizeof(out->object), "%s", id[0] ? id : name);
	snprintf(out->name, sizeof(out->name), "%s", name[0] ? name : id);
	return 0;
}

/* The secrets or configs a container spec names; kept in uses unless it is NULL. */
static int scan_refs(json_t *cs, const struct ref_kind *k, struct dk_uses *uses,
		     struct refusal *why)
{
	json_t *list, *ref;
	struct dk_ref scratch;
	size_t i;

	if (field(cs, k->list, &list, why) != 0)
		return -1;
	if (list == NULL)
		return 0;
	if (!json_is_array(list))
		return refusef(why, "TaskTemplate.ContainerSpec.%s must be a list of objects",
			       k->list);
	/* each one costs the decision a lookup in the engine: a bound keeps it short */
	if (json_array_size(list) > DK_MAX_REFS)
		return refusef(why,
			       "TaskTemplate.ContainerSpec.%s has %zu entries; authd checks at "
			       "most %d",
			       k->list, json_array_size(list), DK_MAX_REFS);
	json_array_foreach(list, i, ref)
	{
		struct dk_ref *out = uses ? &uses->refs[uses->nrefs] : &scratch;

		if (scan_ref(ref, k, out, why) != 0)
			return -1;
		if (uses != NULL)
			uses->nrefs++;
	}
	return 0;
}

/* TaskTemplate.Placement.Constraints: ["node.role==worker", ...]. */
static int scan_placement(json_t *tt, struct dk_uses *uses, struct refusal *why)
{
	json_t *placement, *list, *c;
	size_t i;

	if (object_field(tt, "Placement", &placement, "TaskTemplate.Placement must be an object",
			 why) != 0)
		return -1;
	if (placement == NULL)
		return 0;
	if (field(placement, "Constraints", &list, why) != 0)
		return -1;
	if (list == NULL)
		return 0;
	if (!json_is_array(list))
		return refuse(why, "TaskTemplate.Placement.Constraints must be a list of strings");
	if (json_array_size(list) > DK_MAX_CONSTRAINTS)
		return refusef(why,
			       "TaskTemplate.Placement.Constraints has %zu entries; authd checks "
			       "at most %d",
			       json_array_size(list), DK_MAX_CONSTRAINTS);
	json_array_foreach(list, i, c)
	{
		if (!json_is_string(c))
			return refuse(
			    why, "TaskTemplate.Placement.Constraints must be a list of strings");
		if (json_string_length(c) >= DK_CONSTRAINT_LEN ||
		    strlen(json_string_value(c)) != json_string_length(c))
			return refusef(
			    why, "a placement constraint is longer than %d bytes or has a NUL",
			    DK_CONSTRAINT_LEN - 1);
		if (uses != NULL)
			memcpy(uses->constraints[uses->nconstraints++], json_string_value(c),
			       json_string_length(c) + 1);
	}
	return 0;
}

/* A task template that runs something other than a container installs it with privileges. */
static int scan_runtime(json_t *tt, unsigned *needs, struct refusal *why)
{
	json_t *plugin, *runtime;

	if (field(tt, "PluginSpec", &plugin, why) != 0 || field(tt, "Runtime", &runtime, why) != 0)
		return -1;
	if (runtime != NULL && !json_is_string(runtime))
		return refuse(why, "TaskTemplate.Runtime must be a string");
	if (plugin != NULL ||
	    (runtime != NULL && strcmp(json_string_value(runtime), "container") != 0 &&
	     json_string_value(runtime)[0] != '\0'))
		*needs |= DK_PRIVILEGED;
	return 0;
}

/*
 * Service create and update: the body is the service spec. Its containers
 * are described by TaskTemplate.ContainerSpec; a task template that runs a
 * plugin instead installs it, with its privileges, on every node.
 */
static int scan_service(json_t *root, unsigned *needs, struct dk_uses *uses, struct refusal *why)
{
	json_t *tt, *cs;

	if (object_field(root, "TaskTemplate", &tt, "TaskTemplate must be an object", why) != 0)
		return -1;
	if (tt == NULL)
		return 0;
	if (scan_runtime(tt, needs, why) != 0 || scan_placement(tt, uses, why) != 0)
		return -1;
	if (object_field(tt, "ContainerSpec", &cs, "TaskTemplate.ContainerSpec must be an object",
			 why) != 0)
		return -1;
	if (cs == NULL)
		return 0;
	if (scan_mounts(cs, needs, why) != 0 ||
	    list_field(cs, "CapabilityAdd", DK_CAPABILITIES, needs, why) != 0 ||
	    scan_refs(cs, &secret_refs, uses, why) != 0 ||
	    scan_refs(cs, &config_refs, uses, why) != 0)
		return -1;
	return 0;
}

static int scan_volume(json_t *root, unsigned *needs, struct refusal *why)
{
	json_t *opts;

	if (field(root, "DriverOpts", &opts, why) != 0)
		return -1;
	return scan_driver_opts(opts, needs, why);
}

static int read_label(json_t *root, char *label, size_t labellen, struct refusal *why)
{
	json_t *labels, *v;

	if (object_field(root, "Labels", &labels, "Labels must be an object of strings", why) != 0)
		return -1;
	if (labels == NULL || (v = json_object_get(labels, ACCESS_LABEL)) == NULL ||
	    json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return refuse(why, "the label " ACCESS_LABEL " must be a string");
	if (json_string_length(v) >= labellen)
		return refuse(why, "the label " ACCESS_LABEL " is too long");
	memcpy(label, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/*
 * A plugin's privileges, as the engine lists them for `docker plugin
 * install` and as the client grants them in the body of a pull or an
 * upgrade: [{"Name":"network","Value":["host"]}, ...]. Each is as strong as
 * the Container Create sub-option that gives a container the same reach; a
 * name authd does not know counts as Privileged.
 */
static unsigned privilege_needs(const char *name, json_t *value)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {
	    {"mount", DK_HOST_BIND_MOUNTS},    {"device", DK_DEVICES},
	    {"allow-all-devices", DK_DEVICES}, {"capabilities", DK_CAPABILITIES},
	    {"host pid", DK_PID_MODE},	       {"host ipc", DK_IPC_MODE},
	};
	json_t *v;
	size_t i;

	if (strcmp(name, "network") == 0) {
		json_array_foreach(value, i, v)
		{
			if (!json_is_string(v) || strcmp(json_string_value(v), "host") == 0)
				return DK_HOST_NETWORK;
		}
		return 0;
	}
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(name, known[i].name) == 0)
			return known[i].bit;
	return DK_PRIVILEGED;
}

static int scan_privileges(json_t *root, unsigned *needs, struct refusal *why)
{
	json_t *p, *name, *value;
	size_t i;

	if (!json_is_array(root))
		return refuse(why, "the request body is not a list of plugin privileges");
	json_array_foreach(root, i, p)
	{
		if (!json_is_object(p) || field(p, "Name", &name, why) != 0 ||
		    field(p, "Value", &value, why) != 0)
			return refuse(why, "a plugin privilege must be an object with a Name");
		if (!json_is_string(name) || (value != NULL && !json_is_array(value)))
			return refuse(why, "a plugin privilege has a string Name and a list Value");
		*needs |= privilege_needs(json_string_value(name), value);
	}
	return 0;
}

/*
 * `docker plugin set` sends ["key=value", ...]; "NAME.source" moves one of
 * the plugin's mounts to a host path and "NAME.path" one of its devices.
 */
static int scan_plugin_settings(json_t *root, unsigned *needs, struct refusal *why)
{
	json_t *v;
	size_t i;

	if (!json_is_array(root))
		return refuse(why, "the request body is not a list of plugin settings");
	json_array_foreach(root, i, v)
	{
		const char *eq;

		if (!json_is_string(v) || (eq = strchr(json_string_value(v), '=')) == NULL)
			return refuse(why, "a plugin setting must be a string \"key=value\"");
		if (eq - json_string_value(v) >= 7 && strncmp(eq - 7, ".source", 7) == 0)
			*needs |= DK_HOST_BIND_MOUNTS;
		if (eq - json_string_value(v) >= 5 && strncmp(eq - 5, ".path", 5) == 0)
			*needs |= DK_DEVICES;
	}
	return 0;
}

/*
 * What a route's body is to its decision. Only rows with inspect_body are
 * read, and for each of them the body is required: an engine that leaves
 * it out (over 1 MiB, or not sent as JSON) still acts on it.
 */
enum body_kind {
	BODY_IGNORED,	 /* the decision does not depend on it */
	BODY_LABELS,	 /* a JSON object; its label names a collection */
	BODY_CONTAINER,	 /* container create */
	BODY_RESOURCES,	 /* container update: resources as in a HostConfig */
	BODY_EXEC,	 /* exec create */
	BODY_SERVICE,	 /* service create and update */
	BODY_VOLUME,	 /* volume create */
	BODY_PRIVILEGES, /* plugin pull and upgrade: the privileges granted */
	BODY_SETTINGS,	 /* plugin set */
	BODY_ARCHIVE,	 /* plugin create: a tar the engine never shows */
};

static bool is_op(const struct dk_op *op, const char *name)
{
	return strcmp(op->operation, name) == 0;
}

static enum body_kind body_kind(const struct dk_op *op)
{
	static const struct {
		const char *operation;
		enum body_kind kind;
	} kinds[] = {
	    {"Container Create", BODY_CONTAINER}, {"Container Update", BODY_RESOURCES},
	    {"Container Exec", BODY_EXEC},	  {"Service Create", BODY_SERVICE},
	    {"Service Update", BODY_SERVICE},	  {"Volume Create/Attach", BODY_VOLUME},
	    {"Plugin Install", BODY_PRIVILEGES},  {"Plugin Upgrade", BODY_PRIVILEGES},
	    {"Plugin Configure", BODY_SETTINGS},  {"Plugin Create", BODY_ARCHIVE},
	};

	if (!op->inspect_body)
		return BODY_IGNORED;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (is_op(op, kinds[i].operation))
			return kinds[i].kind;
	return BODY_LABELS;
}

static int scan_kind(enum body_kind kind, json_t *root, unsigned *needs, struct dk_uses *uses,
		     struct refusal *why)
{
	switch (kind) {
	case BODY_CONTAINER:
		return scan_container(root, needs, why);
	case BODY_RESOURCES:
		return scan_host_config(root, needs, why);
	case BODY_EXEC:
		return scan_exec(root, needs, why);
	case BODY_SERVICE:
		return scan_service(root, needs, uses, why);
	case BODY_VOLUME:
		return scan_volume(root, needs, why);
	case BODY_PRIVILEGES:
		return scan_privileges(root, needs, why);
	case BODY_SETTINGS:
		return scan_plugin_settings(root, needs, why);
	default:
		return 0;
	}
}

/* The parsed body; NULL with why filled when it is missing, too large or not JSON. */
static json_t *load_body(const char *body, size_t len, struct refusal *why)
{
	json_error_t err;
	json_t *root;

	if (len == 0 || body == NULL) {
		refuse(why, "the request body is missing; send it as JSON "
			    "(Content-Type: application/json), at most 1 MiB");
		return NULL;
	}
	if (len > BODY_MAX) {
		refuse(why, "the request body is larger than 1 MiB");
		return NULL;
	}
	/* duplicate keys: Go takes the last, jansson the first; neither is safe to guess */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (root == NULL)
		refuse(why, "the request body is not valid JSON");
	return root;
}

static void uses_clear(struct dk_uses *uses)
{
	if (uses != NULL)
		uses->nrefs = uses->nconstraints = 0;
}

int dk_inspect_body(const struct dk_op *op, const char *body, size_t len, unsigned *needs,
		    char *label, size_t labellen, struct dk_uses *uses, struct refusal *why)
{
	enum body_kind kind;
	json_t *root;
	bool list;
	int rc;

	uses_clear(uses);
	if (needs == NULL || label == NULL || labellen == 0 || op == NULL || op->operation == NULL)
		return refuse(why, "internal error: no operation to read the body for");
	*needs = 0;
	label[0] = '\0';
	kind = body_kind(op);
	if (kind == BODY_IGNORED)
		return 0;
	if (kind == BODY_ARCHIVE)
		return refuse(why, "a plugin made from an archive cannot be checked: the engine "
				   "does not show archives to authorization plugins; ask an admin");
	if ((root = load_body(body, len, why)) == NULL)
		return -1;
	list = kind == BODY_PRIVILEGES || kind == BODY_SETTINGS;
	if (!list && !json_is_object(root)) {
		json_decref(root);
		return refuse(why, "the request body is not a JSON object");
	}
	rc = list ? 0 : read_label(root, label, labellen, why);
	if (rc == 0)
		rc = scan_kind(kind, root, needs, uses, why);
	json_decref(root);
	if (rc != 0) {
		*needs = 0;
		label[0] = '\0';
		uses_clear(uses);
	}
	return rc;
}

/*
 * The first value of `key` in a raw query string, percent-decoded, as the
 * engine's r.FormValue reads it; 1 when found, 0 when not, -1 with why
 * filled for a query that Go might read differently from us (a ";", a bad
 * escape). Go also reads "+" as a space; no value compared here has either.
 */
static int query_value(const char *query, const char *key, char *out, size_t outlen,
		       struct refusal *why)
{
	size_t keylen = strlen(key);
	int found = 0;

	if (strchr(query, ';') != NULL)
		return refuse(why, "the query string has a \";\"");
	for (const char *p = query; *p != '\0';) {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		char name[64];

		if (eq != NULL && !found && (size_t)(eq - p) < sizeof(name)) {
			if (percent_decode(p, eq, name, sizeof(name), why) != 0)
				return -1;
			if (strlen(name) == keylen && strcmp(name, key) == 0) {
				if (percent_decode(eq + 1, p + n, out, outlen, why) != 0)
					return -1;
				found = 1;
			}
		}
		p += n + (p[n] == '&');
	}
	return found;
}

int dk_inspect_query(const struct dk_op *op, const char *query, unsigned *needs,
		     struct refusal *why)
{
	char mode[256];
	int rc;

	*needs = 0;
	if (op == NULL || op->operation == NULL || !is_op(op, "Image Build") || query == NULL)
		return 0;
	/* the build's containers run in this network mode; host reaches the node's network */
	rc = query_value(query, "networkmode", mode, sizeof(mode), why);
	if (rc < 0)
		return -1;
	if (rc == 1 && (strcasecmp(mode, "host") == 0 || strncasecmp(mode, "container:", 10) == 0))
		*needs |= DK_HOST_NETWORK;
	return 0;
}

/* ---- engine versions ---- */

int dk_engine_version_fixed(const char *version)
{
	/* the first fixed patch release of each line that has one */
	static const struct {
		int major, minor, patch;
	} fixed[] = {{23, 0, 15}, {25, 0, 6}, {26, 1, 5}, {27, 1, 1}};
	int major, minor, patch;

	if (version == NULL || sscanf(version, "%d.%d.%d", &major, &minor, &patch) != 3 ||
	    major < 0 || minor < 0 || patch < 0)
		return -1;
	if (major > 27 || (major == 27 && minor > 1))
		return 1;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (major == fixed[i].major && minor == fixed[i].minor)
			return patch >= fixed[i].patch;
	return 0;
}
