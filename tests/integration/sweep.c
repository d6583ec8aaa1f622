/*
 * Bad-input sweep: a seeded stream of malformed HTTPS requests against a real
 * authd (random JSON, wrong types for every route's body, invalid UTF-8 in
 * bodies, paths and headers, heads over the limits, bad methods and lengths, truncated
 * bodies, chunked garbage) while slow partial requests hold connections open
 * and a probe asks /_ping all along. It fails on a 5xx, on authd dying, on a
 * /_ping that goes unanswered, and on an error answer of authd's own that is
 * not the API's JSON error shape (SPEC §2).
 *
 * Request i depends on the seed and i alone, whatever thread sends it, so
 * `--seed S --only I` replays the one that failed.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* the ctest's short run by default; bench_sweep's long one is built with 100000 */
#ifndef SWEEP_REQUESTS
#define SWEEP_REQUESTS 10000
#endif
#define ADMIN_PW "Admin-Passw0rd-SW"
#define USER_PW "User-Passw0rd-SW"
#define MAX_ROUTES 256
#define MAX_BODY (1024 * 1024) /* authd's limit (SPEC §2) */
#define ANSWER_MS 30000	       /* a well-formed request unanswered this long hangs */
#define PROTOCOL_MS 10000      /* a broken one: the HTTP layer may wait for the rest */
#define PING_EVERY_MS 200
#define PING_MS 5000
#define MAX_HEAD (256 * 1024)
#define SHOWN_FAILURES 10
#define SHOWN_BYTES 800

/* ---- options and shared state ---- */

struct opts {
	uint64_t seed;
	long requests;
	long only; /* -1: all */
	int workers;
	int slow;
};

struct route {
	char method[16];
	char pattern[200];
};

/* Made before the sweep (single-threaded) and read-only during it. */
struct target {
	struct authd *srv;
	struct sockaddr_in addr;
	SSL_CTX *ctx;
	char *admin;	 /* tokens, malloc'd */
	char *user;	 /* alice: a user with a grant, no admin */
	char ids[3][64]; /* alice, eng, devs */
	struct route routes[MAX_ROUTES];
	int nroutes;
	char *ca_pem; /* authd's cluster CA certificate, malloc'd */
};

struct stats {
	long sent, routed, protocol, none, slow_conns, slow_done, pings;
	long status[6];	  /* by hundreds: 1xx..5xx, [0] unused */
	long version_505; /* of the 5xx: 505 to a bad HTTP version, the right answer */
	long failures;
	double ping_max_ms;
};

static struct target tgt;
static struct opts opt = {.requests = SWEEP_REQUESTS, .only = -1, .workers = 4, .slow = 16};
static struct stats st;
static pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_long next_index;
static atomic_bool stopping;
static atomic_int workers_done;
static atomic_long connections; /* TLS handshakes of the workers */

static void fail_setup(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "sweep: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static double now_ms(void)
{
	return it_now() * 1000.0;
}

/* ---- growable byte buffers ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (n == 0)
		return; /* data may be NULL then */
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *grown;

		while (b->len + n + 1 > cap)
			cap *= 2;
		if ((grown = realloc(b->p, cap)) == NULL)
			fail_setup("out of memory");
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_byte(struct buf *b, int c)
{
	char ch = (char)c;

	buf_add(b, &ch, 1);
}

static void buf_fmt(struct buf *b, const char *fmt, ...)
{
	char *text;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		fail_setup("out of memory");
	buf_add(b, text, (size_t)n);
	free(text);
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- the seeded generator (splitmix64) ---- */

struct rng {
	uint64_t s;
};

static uint64_t next64(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rnd(struct rng *r, unsigned n)
{
	return n == 0 ? 0 : (unsigned)(next64(r) % n);
}

static bool chance(struct rng *r, unsigned percent)
{
	return rnd(r, 100) < percent;
}

static const char *pick(struct rng *r, const char *const *list, size_t n)
{
	return list[rnd(r, (unsigned)n)];
}
#define PICK(r, list) pick(r, list, sizeof(list) / sizeof(list[0]))

/* Request i's own stream: independent of which thread sends it, or when. */
static void rng_for(struct rng *r, uint64_t seed, uint64_t i)
{
	r->s = seed ^ (i * 0xd1b54a32d192ed03ULL);
	next64(r);
}

/* ---- routes ---- */

static bool add_route(const char *method, const char *pattern)
{
	struct route *rt;

	if (tgt.nroutes == MAX_ROUTES || strlen(method) >= sizeof(rt->method) ||
	    strlen(pattern) >= sizeof(rt->pattern) || pattern[0] != '/')
		return false;
	rt = &tgt.routes[tgt.nroutes++];
	snprintf(rt->method, sizeof(rt->method), "%s", method);
	snprintf(rt->pattern, sizeof(rt->pattern), "%s", pattern);
	return true;
}

/* The API's routes as `authd routes` prints them, "METHOD PATTERN" a line. */
static void load_routes(void)
{
	char line[512], method[32], pattern[256];
	FILE *p = popen(AUTHD_BIN " routes", "r");

	if (p == NULL)
		fail_setup("cannot run %s routes", AUTHD_BIN);
	while (fgets(line, sizeof(line), p) != NULL)
		if (sscanf(line, "%31s %255s", method, pattern) == 2 && !add_route(method, pattern))
			fail_setup("`authd routes` printed a line the sweep cannot take: %s", line);
	if (pclose(p) != 0 || tgt.nroutes == 0)
		fail_setup("`%s routes` failed or printed no route", AUTHD_BIN);
}

static bool is_param(const char *seg, size_t len)
{
	return len >= 2 && seg[0] == '{' && seg[len - 1] == '}';
}

/* ---- generating values ---- */

/* the scalars first: deep values draw from those alone */
enum jtype { J_STR, J_BOOL, J_NUM, J_NULL, J_OBJ, J_ARR };

/*
 * The fields the API's bodies take, with their types and where they are
 * taken (a part of the route's pattern). A field sent where it is not taken
 * tests the unknown-field refusal; one sent where it is, the type check and
 * the handler behind it. Booleans are never sent the right type, so that the
 * sweep cannot deactivate or demote the accounts it works with.
 */
/* clang-format off */
static const struct field {
	const char *name;
	enum jtype type;
	const char *where;
} fields[] = {
	{"username", J_STR, "/auth/login"}, {"password", J_STR, "/auth/login"},
	{"oldPassword", J_STR, "/changePassword"}, {"newPassword", J_STR, "/changePassword"},
	{"name", J_STR, "/accounts"}, {"fullName", J_STR, "/accounts"},
	{"password", J_STR, "/accounts"}, {"isOrg", J_BOOL, "/accounts"},
	{"isAdmin", J_BOOL, "/accounts"}, {"isActive", J_BOOL, "/accounts"},
	{"name", J_STR, "/teams"}, {"description", J_STR, "/teams"},
	{"enableSync", J_BOOL, "emberSyncConfig"}, {"selectGroupMembers", J_BOOL, "emberSyncConfig"},
	{"groupDN", J_STR, "emberSyncConfig"}, {"groupMemberAttr", J_STR, "emberSyncConfig"},
	{"searchBaseDN", J_STR, "emberSyncConfig"}, {"searchScopeSubtree", J_BOOL, "emberSyncConfig"},
	{"searchFilter", J_STR, "emberSyncConfig"}, {"allowNonLDAPMembers", J_BOOL, "emberSyncConfig"},
	{"label", J_STR, "/publicKeys"}, {"certificate", J_STR, "/publicKeys"},
	{"name", J_STR, "/roles"}, {"id", J_STR, "/roles"},
	{"operations", J_OBJ, "/roles"}, {"system_role", J_BOOL, "/roles"},
	{"name", J_STR, "/collections"}, {"parent_id", J_STR, "/collections"},
	{"backend", J_STR, "/config/auth"}, {"defaultNewUserRole", J_STR, "/config/auth"},
	{"sessions", J_OBJ, "/config/auth"}, {"lifetimeMinutes", J_NUM, "/config/auth"},
	{"renewalThresholdMinutes", J_NUM, "/config/auth"}, {"perUserLimit", J_NUM, "/config/auth"},
	{"serverURL", J_STR, "/auth/ldap"}, {"startTLS", J_BOOL, "/auth/ldap"},
	{"rootCerts", J_STR, "/auth/ldap"}, {"tlsSkipVerify", J_BOOL, "/auth/ldap"},
	{"readerDN", J_STR, "/auth/ldap"}, {"readerPassword", J_STR, "/auth/ldap"},
	{"additionalDomains", J_ARR, "/auth/ldap"}, {"userSearchConfigs", J_ARR, "/auth/ldap"},
	{"adminSyncOpts", J_OBJ, "/auth/ldap"}, {"syncSchedule", J_STR, "/auth/ldap"},
	{"jitUserProvisioning", J_BOOL, "/auth/ldap"}, {"timeoutSeconds", J_NUM, "/auth/ldap"},
	{"maxDeactivationPercent", J_NUM, "/auth/ldap"}, {"connectionPoolSize", J_NUM, "/auth/ldap"},
	{"connectionIdleSeconds", J_NUM, "/auth/ldap"},
	{"username", J_STR, "/tryLogin"}, {"password", J_STR, "/tryLogin"},
	{"ldapSettings", J_OBJ, "/tryLogin"},
	{"action", J_STR, "/jobs"}, {"dryRun", J_BOOL, "/jobs"}, {"force", J_BOOL, "/jobs"},
	{"certificate", J_STR, "/api/authz"}, {"account", J_STR, "/api/authz"},
	{"method", J_STR, "/api/authz"}, {"uri", J_STR, "/api/authz"}, {"body", J_STR, "/api/authz"},
	{"ca", J_STR, "/api/config/certs"}, {"cert", J_STR, "/api/config/certs"},
	{"key", J_STR, "/api/config/certs"},
};
/* clang-format on */
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* Mostly a field the route takes, now and then any field at all. */
static const struct field *pick_field(struct rng *r, const char *pattern)
{
	const struct field *mine[NFIELDS];
	size_t n = 0;

	for (size_t i = 0; i < NFIELDS && pattern != NULL; i++)
		if (strstr(pattern, fields[i].where) != NULL)
			mine[n++] = &fields[i];
	if (n == 0 || chance(r, 25))
		return &fields[rnd(r, NFIELDS)];
	return mine[rnd(r, (unsigned)n)];
}

/* Valid UTF-8 that is awkward: accents, a 4-byte emoji, combining marks, RTL, BOM. */
static const char *const odd_utf8[] = {"\xc3\xa9",    "\xf0\x9f\x98\x80", "e\xcc\x81",
				       "\xd8\xa7",    "\xef\xbb\xbf",	  "\xe2\x80\xae",
				       "\xef\xbf\xbf"};
/* Invalid UTF-8: stray continuation, overlong, surrogate, past U+10FFFF, cut short. */
static const char *const bad_utf8[] = {"\x80",	   "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
				       "\xff\xfe", "\xe2\x82", "\xc3"};

static void random_text(struct rng *r, struct buf *b, size_t n)
{
	static const char set[64] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
	char chunk[4096];

	/* ten characters from each draw: long texts are most of what is generated */
	while (n > 0) {
		size_t k = n < sizeof(chunk) ? n : sizeof(chunk);

		for (size_t i = 0; i < k; i += 10) {
			uint64_t bits = next64(r);

			for (size_t j = i; j < i + 10 && j < k; j++, bits >>= 6)
				chunk[j] = set[bits & 63];
		}
		buf_add(b, chunk, k);
		n -= k;
	}
}

/* Escapes jansson takes: quote, backslash, newline, U+00E9, a surrogate pair, slash, tab. */
static const char *const escapes[] = {"\\\"",		"\\\\", "\\n", "\\u00e9",
				      "\\ud83d\\ude00", "\\/",	"\\t"};
/* Escapes jansson refuses: NUL, lone or reversed surrogates, unknown or cut short. */
static const char *const bad_escapes[] = {"\\u0000", "\\ud800", "\\udfff\\ud800",
					  "\\x41",   "\\u12",	"\\"};

/* A piece of text of kind k: 0 and 1 valid, 3 and 4 not (2 and 5 are made in place). */
static const char *piece(struct rng *r, unsigned k)
{
	if (k < 2)
		return k == 0 ? PICK(r, escapes) : PICK(r, odd_utf8);
	return k == 3 ? PICK(r, bad_escapes) : PICK(r, bad_utf8);
}

/*
 * The inside of a JSON string: mostly valid (plain, escaped, odd Unicode, very
 * long), a quarter of the time not (raw control bytes, invalid UTF-8, escapes
 * jansson refuses). In a header it stays on one line and within what a header
 * may hold.
 */
static void string_body(struct rng *r, struct buf *b, bool header)
{
	bool valid = !chance(r, 25);
	unsigned n = 1 + rnd(r, 5);

	if (chance(r, 3)) {
		/* long: past the limits of names and labels, and now and then far past */
		if (header)
			random_text(r, b, 200 + rnd(r, 7000));
		else
			random_text(r, b,
				    chance(r, 10) ? 100000 + rnd(r, 150000) : 200 + rnd(r, 20000));
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned k = rnd(r, valid ? 3 : 6);

		if (k == 2)
			random_text(r, b, 1 + rnd(r, 40));
		else if (k == 5) /* raw control bytes are not JSON; CR and LF would end a header */
			buf_byte(b, header ? 1 + (int)rnd(r, 9) : 1 + (int)rnd(r, 31));
		else
			buf_str(b, piece(r, k));
	}
}

static void rand_string(struct rng *r, struct buf *b)
{
	buf_byte(b, '"');
	string_body(r, b, false);
	buf_byte(b, '"');
}

static void rand_number(struct rng *r, struct buf *b)
{
	/* clang-format off */
	static const char *const nums[] = {
	    "0", "-1", "1.5", "1e999", "-0", "9223372036854775808",
	    "123456789012345678901234567890", "1e-400", "2147483648", "-9223372036854775809",
	    "0.0000001", "01", "+1", ".5", "NaN", "Infinity", "0x10"};
	/* clang-format on */

	buf_str(b, PICK(r, nums));
}

static void rand_value(struct rng *r, struct buf *b, int depth, int avoid);

static void rand_array(struct rng *r, struct buf *b, int depth)
{
	unsigned n = rnd(r, 4);

	buf_byte(b, '[');
	for (unsigned i = 0; i < n; i++) {
		if (i > 0)
			buf_byte(b, ',');
		rand_value(r, b, depth + 1, -1);
	}
	buf_byte(b, ']');
}

static void rand_object(struct rng *r, struct buf *b, int depth)
{
	unsigned n = rnd(r, 4);

	buf_byte(b, '{');
	for (unsigned i = 0; i < n; i++) {
		const struct field *f = &fields[rnd(r, NFIELDS)];

		if (i > 0)
			buf_byte(b, ',');
		if (chance(r, 70))
			buf_fmt(b, "\"%s\"", f->name);
		else
			rand_string(r, b);
		buf_byte(b, ':');
		rand_value(r, b, depth + 1, (int)f->type);
	}
	buf_byte(b, '}');
}

/* Any JSON value but one of type `avoid` (-1: any). */
static void rand_value(struct rng *r, struct buf *b, int depth, int avoid)
{
	unsigned t;

	do
		t = rnd(r, depth > 3 ? J_OBJ : J_ARR + 1);
	while ((int)t == avoid);
	switch (t) {
	case J_STR:
		rand_string(r, b);
		break;
	case J_BOOL:
		buf_str(b, chance(r, 50) ? "true" : "false");
		break;
	case J_NUM:
		rand_number(r, b);
		break;
	case J_NULL:
		buf_str(b, "null");
		break;
	case J_OBJ:
		rand_object(r, b, depth);
		break;
	default:
		rand_array(r, b, depth);
	}
}

/* ---- request bodies ---- */

/* Whether name is among the first n of used (a key twice is a different test). */
static bool used_before(const struct field **used, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(used[i]->name, name) == 0)
			return true;
	return false;
}

/*
 * For the fields that take PEM: authd's own CA certificate (real, but not a
 * client's), the same with bytes changed, or base64 of nothing in particular.
 */
static void pem_string(struct rng *r, struct buf *b)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *pem = tgt.ca_pem;
	/* past the BEGIN line and the first bytes of the DER, so that it still looks like one */
	size_t len = strlen(pem), keep = strcspn(pem, "\n") + 40;
	unsigned k = rnd(r, 3);

	buf_byte(b, '"');
	for (size_t i = 0; i < len && k < 2; i++) {
		char ch = pem[i];

		if (k == 1 && i > keep && ch != '\n' && chance(r, 2))
			ch = b64[rnd(r, 64)];
		if (ch == '\n')
			buf_str(b, "\\n");
		else
			buf_byte(b, ch);
	}
	if (k == 2) {
		buf_str(b, "-----BEGIN CERTIFICATE-----\\n");
		random_text(r, b, rnd(r, 2000));
		buf_str(b, "\\n-----END CERTIFICATE-----\\n");
	}
	buf_byte(b, '"');
}

static bool takes_pem(const char *name)
{
	static const char *const names[] = {"certificate", "cert", "ca", "key", "rootCerts"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/*
 * Distinct fields of the route: each with a value of the wrong type, or (odd)
 * string fields only with odd contents of the right type; booleans stay unsent.
 */
static void body_fields(struct rng *r, const char *pattern, bool odd, struct buf *b)
{
	const struct field *used[4];
	unsigned n = 1 + rnd(r, 4), sent = 0;

	buf_byte(b, '{');
	for (unsigned i = 0; i < n; i++) {
		const struct field *f = pick_field(r, pattern);

		/* a new password for alice would end her session, and the sweep's use of it */
		if (used_before(used, sent, f->name) ||
		    (odd && (f->type != J_STR || strcmp(f->name, "newPassword") == 0)))
			continue;
		buf_fmt(b, "%s\"%s\":", sent ? "," : "", f->name);
		if (!odd)
			rand_value(r, b, 1, (int)f->type);
		else if (takes_pem(f->name) && chance(r, 60))
			pem_string(r, b);
		else
			rand_string(r, b);
		used[sent++] = f;
	}
	buf_byte(b, '}');
}

static void base64_of(struct buf *b, const struct buf *raw)
{
	unsigned char *out = malloc(4 * (raw->len / 3 + 1) + 1);
	int n;

	if (out == NULL)
		fail_setup("out of memory");
	n = EVP_EncodeBlock(out, (const unsigned char *)(raw->p ? raw->p : ""), (int)raw->len);
	buf_add(b, out, (size_t)n);
	free(out);
}

/*
 * An engine's container create body: the settings a decision looks at
 * (SPEC §8.2), each sometimes of a shape that asks for a sub-option and
 * sometimes of any type at all, and the access label likewise.
 */
static void engine_body(struct rng *r, struct buf *b)
{
	/* clang-format off */
	static const struct {
		const char *key, *value;
	} settings[] = {
		{"Privileged", "true"}, {"Binds", "[\"/:/host\",\"v:/data\"]"},
		{"Mounts", "[{\"Type\":\"bind\",\"Source\":\"/\"}]"}, {"CapAdd", "[\"SYS_ADMIN\"]"},
		{"Devices", "[{\"PathOnHost\":\"/dev/x\"}]"}, {"NetworkMode", "\"host\""},
		{"PidMode", "\"host\""}, {"IpcMode", "\"host\""}, {"UsernsMode", "\"host\""}};
	/* clang-format on */
	unsigned n = rnd(r, 4);

	buf_str(b, "{\"Image\":\"x\",\"Labels\":{\"com.docker.ucp.access.label\":");
	if (chance(r, 50))
		buf_str(b, chance(r, 50) ? "\"/Shared\"" : "\"/Shared/Private/alice\"");
	else
		rand_value(r, b, 2, -1);
	buf_str(b, "},\"HostConfig\":{");
	for (unsigned i = 0; i < n; i++) {
		unsigned k = rnd(r, sizeof(settings) / sizeof(settings[0]));

		buf_fmt(b, "%s\"%s\":", i ? "," : "", settings[k].key);
		if (chance(r, 50))
			buf_str(b, settings[k].value);
		else
			rand_value(r, b, 2, -1);
	}
	buf_str(b, "}}");
}

/* A decision request of the right shape with odd method, URI and body (SPEC §8.3). */
static void body_authz(struct rng *r, struct buf *b)
{
	/* clang-format off */
	static const char *const uris[] = {
	    "/v1.41/containers/create", "/v1.41/volumes", "/v1.41/../../etc", "/v99999999999.1/x",
	    "http://h/v1.41/exec/x/start?a=%ff", "/%2e%2e/secrets", "/v1.41/containers/%00/json",
	    "", "/", "/v1.41/services/create", "/v1.41/services/x/update",
	    "/containers/create?name=%C3", "/v1.41/exec/x/json", "/v1.41/build?t=x",
	    "/v1.41/plugins/pull?remote=x", "/v1.41/containers/x/exec", "/v1.41/networks/create",
	    "/v1.41/_ping", "unix:///x", "/v1.41/containers/create/../../../volumes"};
	/* clang-format on */
	struct buf raw = {0};

	buf_str(b, "{\"account\":");
	if (chance(r, 70))
		buf_str(b, chance(r, 50) ? "\"alice\"" : "\"admin\"");
	else
		rand_string(r, b);
	buf_str(b, ",\"method\":");
	if (chance(r, 60))
		buf_fmt(b, "\"%s\"", chance(r, 60) ? "POST" : chance(r, 50) ? "GET" : "DELETE");
	else
		rand_string(r, b);
	buf_str(b, ",\"uri\":");
	if (chance(r, 70))
		buf_fmt(b, "\"%s\"", PICK(r, uris));
	else
		rand_string(r, b);
	if (chance(r, 60)) {
		buf_str(b, ",\"body\":");
		if (chance(r, 80)) {
			if (chance(r, 70))
				engine_body(r, &raw);
			else
				rand_value(r, &raw, 0, -1);
			buf_byte(b, '"');
			base64_of(b, &raw);
			buf_byte(b, '"');
		} else {
			rand_string(r, b);
		}
	}
	buf_byte(b, '}');
	buf_free(&raw);
}

/* Not JSON, or JSON that breaks a parser: cut short, deep, trailing bytes, duplicates. */
static void body_broken(struct rng *r, struct buf *b)
{
	struct buf whole = {0};
	unsigned depth;

	switch (rnd(r, 6)) {
	case 0:
		rand_object(r, &whole, 0);
		buf_add(b, whole.p, whole.len > 1 ? 1 + rnd(r, (unsigned)whole.len - 1) : 0);
		break;
	case 1:
		depth = 100 + rnd(r, 20000);
		for (unsigned i = 0; i < depth; i++)
			buf_byte(b, chance(r, 50) ? '[' : '{');
		break;
	case 2:
		rand_object(r, b, 0);
		buf_str(b, chance(r, 50) ? "}" : " garbage");
		break;
	case 3:
		buf_str(b, "{\"name\":\"a\",\"name\":\"b\"}");
		break;
	case 4:
		for (unsigned i = 0, n = 1 + rnd(r, 300); i < n; i++)
			buf_byte(b, (int)rnd(r, 256));
		break;
	default:
		buf_str(b, PICK(r, bad_utf8));
		rand_object(r, b, 0);
	}
	buf_free(&whole);
}

/* Over the 1 MiB limit: a long string in an otherwise fine object. */
static void body_too_large(struct rng *r, struct buf *b)
{
	buf_str(b, "{\"name\":\"");
	random_text(r, b, MAX_BODY + rnd(r, 4096));
	buf_str(b, "\"}");
}

/* A body for a route of pattern (NULL: any route). */
static void make_body(struct rng *r, const char *pattern, struct buf *b, bool *too_large)
{
	unsigned k = rnd(r, 100);

	*too_large = false;
	if (pattern != NULL && strcmp(pattern, "/api/authz") == 0 && chance(r, 50))
		body_authz(r, b);
	else if (k < 35)
		body_fields(r, pattern, false, b);
	else if (k < 55)
		body_fields(r, pattern, true, b);
	else if (k < 70)
		rand_value(r, b, 0, -1);
	else if (k < 90)
		body_broken(r, b);
	else if (k < 99)
		buf_str(b, chance(r, 50) ? "{}" : "");
	else {
		body_too_large(r, b);
		*too_large = true;
	}
}

/* ---- request paths ---- */

/*
 * A name that exists, for the nth {} after the literal segment `after`, so
 * that handlers get past their lookups: accounts, teams, members, roles,
 * collections, and a grant's subject, collection and role.
 */
static const char *fixture(struct rng *r, const char *after, int nth)
{
	static const char *const accounts[] = {"admin", "alice", "eng", "ALICE", "Eng"};
	static const char *const roles[] = {"restrictedcontrol", "fullcontrol", "viewonly", "none",
					    "scheduler"};
	static const char *const collections[] = {"shared", "private", "root", "system"};

	if (strcmp(after, "collectionGrants") == 0)
		after = nth == 0 ? "" : nth == 1 ? "collections" : "roles";
	if (after[0] == '\0')
		return tgt.ids[rnd(r, 3)];
	if (strcmp(after, "teams") == 0)
		return chance(r, 50) ? "devs" : tgt.ids[2];
	if (strcmp(after, "members") == 0)
		return chance(r, 70) ? "alice" : "admin";
	if (strcmp(after, "roles") == 0)
		return PICK(r, roles);
	if (strcmp(after, "collections") == 0)
		return PICK(r, collections);
	return chance(r, 70) ? PICK(r, accounts) : tgt.ids[rnd(r, 2)];
}

static void percent_bytes(struct buf *b, const char *bytes)
{
	for (const unsigned char *p = (const unsigned char *)bytes; *p; p++)
		buf_fmt(b, "%%%02X", *p);
}

/*
 * One {} segment. DELETE never names what the sweep works with, so that the
 * accounts, org and team it set up stay for the whole run.
 */
static void segment(struct rng *r, struct buf *b, bool deleting, const char *after, int nth)
{
	static const char *const odd[] = {"..", ".",	 "%2e%2e", "%2F",  "%00", "%", "%zz",
					  "~",	"a%20b", "%E9",	   "null", "-1",  "0", "*"};
	unsigned k = rnd(r, 12);

	/* names that exist, often: the handler then reads the body, not just the path */
	if (k < 5 && !deleting) {
		buf_str(b, fixture(r, after, nth));
		return;
	}
	switch (k % 8) {
	case 2:
		random_text(r, b, 1 + rnd(r, 30));
		return;
	case 3:
		percent_bytes(b, PICK(r, bad_utf8));
		return;
	case 4:
		buf_str(b, PICK(r, bad_utf8)); /* raw bytes in the request line */
		return;
	case 5:
		percent_bytes(b, PICK(r, odd_utf8));
		return;
	case 6:
		random_text(r, b, 150 + rnd(r, 3000)); /* past the 2000-byte path limit at times */
		return;
	default:
		buf_str(b, PICK(r, odd));
	}
}

/* Bytes as a query value: unreserved ones as they are, the rest percent-encoded. */
static void query_value(struct buf *b, const char *p, size_t n)
{
	static const char keep[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~";

	for (size_t i = 0; i < n; i++)
		if (p[i] != '\0' && strchr(keep, p[i]) != NULL)
			buf_byte(b, p[i]);
		else
			buf_fmt(b, "%%%02X", (unsigned char)p[i]);
}

static void query(struct rng *r, struct buf *b)
{
	static const char *const names[] = {"filter", "start",	"limit", "label", "account",
					    "path",   "action", "x",	 "",	  "limit"};
	static const char *const values[] = {
	    "-1",	"0",	       "1001",	  "99999999999999999999",
	    "abc",	"%00",	       "%FF%FE",  "users",
	    "orgs",	"/Shared/%C3", "",	  "%",
	    "a&&",	"=",	       "1e3",	  "alice",
	    "admin",	"eng",	       "/Shared", "1",
	    "ldap-sync"};
	unsigned n = 1 + rnd(r, 4);

	for (unsigned i = 0; i < n; i++) {
		struct buf text = {0};

		buf_fmt(b, "%c%s", i ? '&' : '?', PICK(r, names));
		if (chance(r, 10))
			continue;
		buf_byte(b, '=');
		if (chance(r, 70)) {
			buf_str(b, PICK(r, values));
			continue;
		}
		string_body(r, &text, true);
		query_value(b, text.p, text.len);
		buf_free(&text);
	}
}

static void make_path(struct rng *r, const struct route *rt, bool deleting, struct buf *b)
{
	const char *p = rt->pattern;
	char after[64] = "";
	int nth = 0;

	/* the accounts paths also answer without their /enzi/v0 prefix */
	if (strncmp(p, "/enzi/v0/accounts", 17) == 0 && chance(r, 20))
		p += 8;
	while (*p != '\0') {
		size_t n = strcspn(p + 1, "/") + 1;

		if (is_param(p + 1, n - 1)) {
			buf_byte(b, '/');
			segment(r, b, deleting, after, nth++);
		} else {
			buf_add(b, p, n);
			snprintf(after, sizeof(after), "%.*s", (int)n - 1, p + 1);
			nth = 0;
		}
		p += n;
	}
	if (chance(r, 5))
		buf_str(b, chance(r, 50) ? "/" : "//x");
	if (chance(r, 30))
		query(r, b);
}

/* ---- requests ---- */

enum kind { ROUTED, PROTOCOL };

struct request {
	long index;
	enum kind kind;
	const char *what; /* the generator, for messages */
	struct buf bytes;
	size_t send_len;  /* what is sent: less than bytes.len when truncated */
	bool head;	  /* the answer has no body */
	bool bad_version; /* 505 is the right answer */
	bool too_large;	  /* the server may answer before reading the body */
	bool close_after; /* the server closes after answering */
	bool half_close;  /* close_notify follows: the request stays incomplete */
	int refused;	  /* authd must answer this status in JSON, and close (414, 431) */
	bool unheld;	  /* 431 by authd or by the HTTP layer, which may not hold the head */
};

static const char *pick_method(struct rng *r, const struct route *rt)
{
	static const char *const std[] = {"GET",    "POST", "PUT",     "PATCH",
					  "DELETE", "HEAD", "OPTIONS", "TRACE"};
	static const char *const odd[] = {
	    "get",     "FOO",	   "G\xc3\xa9T", "P\xffST",
	    "GET\x01", "M-SEARCH", "PROPFIND",	 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
	unsigned k = rnd(r, 100);

	if (k < 85)
		return rt->method;
	return k < 95 ? PICK(r, std) : PICK(r, odd);
}

static bool takes_body(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	       strcmp(method, "PATCH") == 0;
}

/* Authorization: a real token, none, or one that is not. Logout never gets a real one. */
static void authorization(struct rng *r, struct buf *b, bool logout)
{
	unsigned k = rnd(r, 100);

	if (logout && k < 65)
		k = 65 + k % 35; /* none, or one that is not a token */
	if (k < 65) {
		buf_fmt(b, "%s: Bearer %s\r\n", chance(r, 95) ? "Authorization" : "authorization",
			k < 45 ? tgt.admin : tgt.user);
		return;
	}
	if (k < 75)
		return;
	buf_str(b, "Authorization: ");
	switch (rnd(r, 6)) {
	case 0:
		buf_str(b, "Bearer");
		break;
	case 1:
		buf_str(b, "Basic YWRtaW46YWRtaW4=");
		break;
	case 2:
		buf_str(b, "Bearer ");
		random_text(r, b, 4000 + rnd(r, 4000));
		break;
	case 3:
		buf_fmt(b, "Bearer %s%s", PICK(r, bad_utf8), tgt.user);
		break;
	case 4:
		buf_fmt(b, "Bearer %.20s", tgt.admin);
		break;
	default:
		buf_str(b, "Bearer ");
		string_body(r, b, true);
	}
	buf_str(b, "\r\n");
}

static void content_type(struct rng *r, struct buf *b)
{
	/* clang-format off */
	static const char *const good[] = {
	    "application/json", "application/json; charset=utf-8", "text/plain",
	    "application/x-www-form-urlencoded", "application/vnd.x+json", "APPLICATION/JSON"};
	static const char *const bad[] = {
	    "text/html", "multipart/form-data; boundary=x", "+json", "", "application/jsonx",
	    "application/json\xff", ";"};
	/* clang-format on */
	unsigned k = rnd(r, 100);

	if (k < 15)
		return;
	buf_fmt(b, "Content-Type: %s\r\n", k < 85 ? PICK(r, good) : PICK(r, bad));
}

/* Headers authd does not read, with values that are long, odd or not UTF-8. */
static void extra_headers(struct rng *r, struct buf *b)
{
	static const char *const names[] = {"X-Forwarded-For", "User-Agent", "Accept", "Cookie",
					    "X-Sweep",	       "Origin",     "Range"};
	unsigned n = rnd(r, 3);

	for (unsigned i = 0; i < n; i++) {
		buf_fmt(b, "%s: ", PICK(r, names));
		string_body(r, b, true);
		buf_str(b, "\r\n");
	}
}

/* Whether path is the logout's: a real token sent there would end the sweep's session. */
static bool is_logout(const char *path)
{
	return strncmp(path, "/auth/logout", 12) == 0 && (path[12] == '\0' || path[12] == '?');
}

/* A request the HTTP layer accepts, so that authd's routing answers it. */
static void gen_routed(struct rng *r, struct request *q)
{
	const struct route *rt = &tgt.routes[rnd(r, (unsigned)tgt.nroutes)];
	const char *method = pick_method(r, rt);
	struct buf path = {0}, body = {0};
	bool with_body, http10 = chance(r, 5);

	q->kind = ROUTED;
	q->what = "routed";
	make_path(r, rt, strcmp(method, "DELETE") == 0, &path);
	with_body = takes_body(method) ? chance(r, 95) : chance(r, 10);
	if (with_body)
		make_body(r, rt->pattern, &body, &q->too_large);
	q->head = strcmp(method, "HEAD") == 0;
	q->close_after = http10;
	buf_fmt(&q->bytes, "%s ", method);
	buf_add(&q->bytes, path.p, path.len);
	buf_fmt(&q->bytes, " HTTP/1.%d\r\n", http10 ? 0 : 1);
	if (chance(r, 95))
		buf_str(&q->bytes, "Host: 127.0.0.1\r\n");
	authorization(r, &q->bytes, is_logout(path.p));
	if (with_body || chance(r, 10))
		content_type(r, &q->bytes);
	extra_headers(r, &q->bytes);
	if (chance(r, 5)) {
		buf_str(&q->bytes, "Connection: close\r\n");
		q->close_after = true;
	}
	if (with_body && !http10 && chance(r, 5))
		buf_str(&q->bytes, "Expect: 100-continue\r\n");
	if (with_body)
		buf_fmt(&q->bytes, "Content-Length: %zu\r\n", body.len);
	buf_str(&q->bytes, "\r\n");
	buf_add(&q->bytes, body.p, body.len);
	buf_free(&path);
	buf_free(&body);
}

/* ---- requests the HTTP layer may refuse itself ---- */

static void start_line(struct rng *r, struct buf *b, const char *method)
{
	const struct route *rt = &tgt.routes[rnd(r, (unsigned)tgt.nroutes)];
	struct buf path = {0};

	make_path(r, rt, strcmp(method, "DELETE") == 0, &path);
	buf_fmt(b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, path.p);
	if (chance(r, 50) && !is_logout(path.p))
		buf_fmt(b, "Authorization: Bearer %s\r\n", tgt.user);
	buf_free(&path);
}

/* A target over 8 KiB, or with over 256 query parameters, for authd to refuse with 414. */
static void long_target(struct rng *r, struct request *q)
{
	q->refused = 414;
	if (chance(r, 50)) {
		buf_fmt(&q->bytes, "GET /_ping?pad=");
		for (unsigned i = 0, n = 8193 + rnd(r, 90000); i < n; i++)
			buf_byte(&q->bytes, 'a' + (int)(i % 26));
	} else {
		/* libmicrohttpd records each parameter in the connection's memory first */
		buf_fmt(&q->bytes, "GET /_ping?p0=0");
		for (unsigned i = 1, n = 257 + rnd(r, 5000); i < n; i++)
			buf_fmt(&q->bytes, "&p%u", i);
	}
	buf_str(&q->bytes, " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
}

static void big_field(struct rng *r, struct buf *b, size_t n)
{
	buf_str(b, "X-Big: ");
	random_text(r, b, n);
	buf_str(b, "\r\n");
}

static void many_fields(struct buf *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		buf_fmt(b, "X-H%u: %u\r\n", i, i);
}

/*
 * Heads over authd's limits (a target over 8 KiB or 256 query parameters, a
 * head over 64 KiB or 256 fields), which authd refuses in JSON and closes;
 * heads at the end of what libmicrohttpd can hold in its 128 KiB, refused
 * 431 by authd or by libmicrohttpd but never closed without an answer; and
 * heads beyond it, which libmicrohttpd answers 431 itself.
 */
static void gen_large_head(struct rng *r, struct request *q)
{
	unsigned band = rnd(r, 100);

	q->what = "large head";
	if (band < 20) {
		long_target(r, q);
	} else if (band < 75) {
		q->refused = 431;
		start_line(r, &q->bytes, "GET");
		if (band < 50)
			big_field(r, &q->bytes, 65536 + rnd(r, 50000));
		else
			many_fields(&q->bytes, 257 + rnd(r, 1100));
	} else {
		q->unheld = true;
		start_line(r, &q->bytes, "GET");
		if (band < 83)
			big_field(r, &q->bytes, 130400 + rnd(r, 800));
		else if (band < 88)
			many_fields(&q->bytes, 1600 + rnd(r, 150));
		else
			big_field(r, &q->bytes, 140000 + rnd(r, 120000));
	}
	buf_str(&q->bytes, "\r\n");
}

static void gen_bad_length(struct rng *r, struct request *q)
{
	/* clang-format off */
	static const char *const lengths[] = {
	    "abc", "-1", "1-2", "18446744073709551616", "99999999999999999999999", "0x10", " 5",
	    "5, 5", "", "+5", "1e3", "5\r\nContent-Length: 6", "\xff"};
	/* clang-format on */

	q->what = "bad Content-Length";
	start_line(r, &q->bytes, "POST");
	buf_fmt(&q->bytes, "Content-Type: application/json\r\nContent-Length: %s\r\n\r\n{}",
		PICK(r, lengths));
	q->half_close = true;
}

/* A body shorter than its Content-Length, and then the client goes away. */
static void gen_truncated(struct rng *r, struct request *q)
{
	struct buf body = {0};
	bool too_large;

	q->what = "truncated body";
	start_line(r, &q->bytes, "POST");
	make_body(r, NULL, &body, &too_large);
	buf_fmt(&q->bytes, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		body.len + 1 + rnd(r, 1000));
	buf_add(&q->bytes, body.p, body.len);
	q->half_close = true;
	buf_free(&body);
}

static void gen_chunked(struct rng *r, struct request *q)
{
	/* clang-format off */
	static const char *const chunks[] = {
	    "zz\r\nabc\r\n", "ffffffffffffffffff\r\nab\r\n", "5\r\nabc\r\n", "2;ext=1\r\n{}\r\n",
	    "-1\r\n\r\n", "2\r\n{}", "2\n{}\n", "0\r\nX-Trailer: \xff\r\n\r\n", "100000\r\n",
	    "\r\n", "2\r\n{}\r\n0\r\n\r\n"};
	/* clang-format on */
	static const char *const codings[] = {"chunked", "chunked, chunked", "gzip, chunked",
					      "xyz",	 "CHUNKED",	     "chunked\xff"};

	q->what = "chunked garbage";
	start_line(r, &q->bytes, "POST");
	buf_fmt(&q->bytes, "Content-Type: application/json\r\nTransfer-Encoding: %s\r\n",
		PICK(r, codings));
	if (chance(r, 20))
		buf_str(&q->bytes, "Content-Length: 4\r\n");
	buf_str(&q->bytes, "\r\n");
	for (unsigned i = 0, n = 1 + rnd(r, 3); i < n; i++)
		buf_str(&q->bytes, PICK(r, chunks));
	q->half_close = true;
}

/* Entries may hold a NUL byte, so each carries its length. */
#define L(s)                                                                                       \
	{                                                                                          \
		s, sizeof(s) - 1                                                                   \
	}

static void gen_bad_line(struct rng *r, struct request *q)
{
	/* clang-format off */
	static const struct {
		const char *s;
		size_t n;
	} lines[] = {
		L("GET\r\n\r\n"), L("GET /_ping\r\n\r\n"), L("GET  /_ping  HTTP/1.1\r\n\r\n"),
		L("GET /_ping HTTP/1.1 extra\r\n\r\n"), L("/_ping HTTP/1.1\r\n\r\n"),
		L(" GET /_ping HTTP/1.1\r\n\r\n"), L("GET /_ping http/1.1\r\n\r\n"),
		L("GET _ping HTTP/1.1\r\n\r\n"), L("GET * HTTP/1.1\r\n\r\n"),
		L("GET https://127.0.0.1/_ping HTTP/1.1\r\n\r\n"), L("GET /_p\x00ing HTTP/1.1\r\n\r\n"),
		L("GET /_ping HTTP/1.1\r\nX-A: a\x00" "b\r\n\r\n"),
		L("GET /_ping HTTP/1.1\r\nNo-Colon\r\n\r\n"), L("GET /_ping HTTP/1.1\r\n: empty-name\r\n\r\n"),
		L("GET /_ping HTTP/1.1\r\n folded\r\n\r\n"), L("GET /_ping HTTP/1.1\r\nX-\xff: a\r\n\r\n"),
		L("GET /_ping HTTP/1.1\r\nX\tY: a\r\n\r\n"), L("GET /_p ing HTTP/1.1\r\n\r\n"),
		L("\r\n\r\nGET /_ping HTTP/1.1\r\n\r\n"), L("GET /_ping HTTP/1.1\rHost: x\r\r"),
		L("GET /\x01\x7f HTTP/1.1\r\n\r\n"), L("CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n"),
	};
	/* clang-format on */
	unsigned k = rnd(r, sizeof(lines) / sizeof(lines[0]));

	q->what = "bad request line or header";
	buf_add(&q->bytes, lines[k].s, lines[k].n);
	q->half_close = true;
}

static void gen_bad_version(struct rng *r, struct request *q)
{
	static const char *const versions[] = {"HTTP/1.2",  "HTTP/2.0",	 "HTTP/0.9", "HTTP/9.9",
					       "HTTPS/1.1", "HTTP/1.10", "HTTP/"};

	q->what = "bad HTTP version";
	buf_fmt(&q->bytes, "GET /_ping %s\r\nHost: 127.0.0.1\r\n\r\n", PICK(r, versions));
	q->bad_version = true;
	q->half_close = true;
}

/* Headers cut anywhere, then the client goes away. */
static void gen_cut_headers(struct rng *r, struct request *q)
{
	struct request whole = {0};

	gen_routed(r, &whole);
	buf_add(&q->bytes, whole.bytes.p, whole.bytes.len);
	q->what = "cut request";
	q->head = whole.head;
	q->send_len = 1 + rnd(r, (unsigned)q->bytes.len - 1);
	q->half_close = true;
	buf_free(&whole.bytes);
}

static void gen_random_bytes(struct rng *r, struct request *q)
{
	q->what = "random bytes";
	for (unsigned i = 0, n = 1 + rnd(r, 3000); i < n; i++)
		buf_byte(&q->bytes, (int)rnd(r, 256));
	q->half_close = true;
}

/* A good request with garbage after it in the same write (pipelining). */
static void gen_pipelined(struct rng *r, struct request *q)
{
	q->what = "pipelined garbage";
	buf_str(&q->bytes, "GET /_ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
	for (unsigned i = 0, n = 1 + rnd(r, 200); i < n; i++)
		buf_byte(&q->bytes, (int)rnd(r, 256));
	q->half_close = true;
}

static void gen_protocol(struct rng *r, struct request *q)
{
	static void (*const gens[])(struct rng *, struct request *) = {
	    gen_large_head,  gen_bad_length,   gen_truncated, gen_truncated,   gen_chunked,
	    gen_chunked,     gen_bad_line,     gen_bad_line,  gen_bad_version, gen_cut_headers,
	    gen_cut_headers, gen_random_bytes, gen_pipelined};

	q->kind = PROTOCOL;
	gens[rnd(r, sizeof(gens) / sizeof(gens[0]))](r, q);
}

static void gen_request(long index, struct request *q)
{
	struct rng r;

	memset(q, 0, sizeof(*q));
	q->index = index;
	rng_for(&r, opt.seed, (uint64_t)index);
	/*
	 * Mostly requests authd's own code sees; the broken ones test the HTTP
	 * layer beneath it, and each costs a handshake of its own.
	 */
	if (chance(&r, 85))
		gen_routed(&r, q);
	else
		gen_protocol(&r, q);
	if (q->send_len == 0)
		q->send_len = q->bytes.len;
}

/* ---- TLS connections ---- */

struct conn {
	int fd;
	SSL *ssl;
	struct buf in; /* read and not yet consumed */
};

static void conn_close(struct conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
	buf_free(&c->in);
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A verified TLS connection to authd; 0, or -1 with why filled. */
static int conn_open(struct conn *c, int timeout_ms, char *why, size_t len)
{
	int one = 1;

	memset(c, 0, sizeof(*c));
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		return -1;
	}
	set_timeout(c->fd, timeout_ms);
	if (connect(c->fd, (struct sockaddr *)&tgt.addr, sizeof(tgt.addr)) != 0) {
		snprintf(why, len, "connect: %s", strerror(errno));
		conn_close(c);
		return -1;
	}
	/* slow requests go out a byte at a time: no coalescing */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ERR_clear_error();
	if ((c->ssl = SSL_new(tgt.ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_connect(c->ssl) != 1) {
		const char *e = ERR_reason_error_string(ERR_peek_last_error());

		snprintf(why, len, "TLS handshake: %s", e ? e : strerror(errno));
		conn_close(c);
		return -1;
	}
	return 0;
}

static int conn_send(struct conn *c, const char *data, size_t n)
{
	while (n > 0) {
		int w;

		ERR_clear_error();
		w = SSL_write(c->ssl, data, n > INT32_MAX ? INT32_MAX : (int)n);
		if (w <= 0)
			return -1;
		data += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads what arrives into c->in: bytes read, 0 at the end, -1 on timeout or error. */
static int conn_fill(struct conn *c)
{
	char chunk[16384];
	int n;

	ERR_clear_error();
	n = SSL_read(c->ssl, chunk, sizeof(chunk));
	if (n > 0) {
		buf_add(&c->in, chunk, (size_t)n);
		return n;
	}
	return SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static void conn_consume(struct conn *c, size_t n)
{
	memmove(c->in.p, c->in.p + n, c->in.len - n);
	c->in.len -= n;
}

/* ---- reading answers ---- */

struct answer {
	int status; /* 0: none came */
	bool authd; /* carries the header only authd's own answers have */
	bool close;
	char type[128];
	struct buf body;
	char why[160]; /* why none came */
};

static long head_end(const struct buf *in)
{
	for (size_t i = 0; i + 1 < in->len; i++) {
		if (in->p[i] != '\n')
			continue;
		if (in->p[i + 1] == '\n')
			return (long)i + 2;
		if (i + 2 < in->len && in->p[i + 1] == '\r' && in->p[i + 2] == '\n')
			return (long)i + 3;
	}
	return -1;
}

/* Reads until a header block is whole; its length, or -1. */
static long read_head(struct conn *c, struct answer *a)
{
	long end;

	while ((end = head_end(&c->in)) < 0) {
		int n;

		if (c->in.len > MAX_HEAD) {
			snprintf(a->why, sizeof(a->why), "the answer's headers are over %d bytes",
				 MAX_HEAD);
			return -1;
		}
		if ((n = conn_fill(c)) <= 0) {
			snprintf(a->why, sizeof(a->why), "%s after %zu bytes",
				 n == 0 ? "connection closed" : "no answer (timeout or reset)",
				 c->in.len);
			return -1;
		}
	}
	return end;
}

static const char *header_value(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	return line + n + 1 + strspn(line + n + 1, " \t");
}

/* Status and the headers that say how the body is framed. */
static void parse_head(char *head, struct answer *a, long *clen, bool *chunked)
{
	char *save = NULL, *line = strtok_r(head, "\r\n", &save);
	const char *v;

	*clen = -1;
	*chunked = false;
	if (line == NULL || sscanf(line, "HTTP/1.%*d %d", &a->status) != 1)
		a->status = -1;
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		if ((v = header_value(line, "Content-Length")) != NULL)
			*clen = strtol(v, NULL, 10);
		else if ((v = header_value(line, "Transfer-Encoding")) != NULL)
			*chunked = strcasestr(v, "chunked") != NULL;
		else if ((v = header_value(line, "Connection")) != NULL)
			a->close = strcasestr(v, "close") != NULL;
		else if ((v = header_value(line, "Content-Type")) != NULL)
			snprintf(a->type, sizeof(a->type), "%s", v);
		else if ((v = header_value(line, "X-Content-Type-Options")) != NULL)
			a->authd = true;
	}
}

/* Makes sure n bytes are buffered; -1 when the connection ends first. */
static int want(struct conn *c, size_t n)
{
	while (c->in.len < n)
		if (conn_fill(c) <= 0)
			return -1;
	return 0;
}

/* Reads until a whole line is buffered; its length with the newline, or -1. */
static long read_line(struct conn *c)
{
	const char *nl;

	while ((nl = c->in.len ? memchr(c->in.p, '\n', c->in.len) : NULL) == NULL)
		if (conn_fill(c) <= 0)
			return -1;
	return nl - c->in.p + 1;
}

static int read_chunked(struct conn *c, struct answer *a)
{
	for (;;) {
		long end = read_line(c), size;

		if (end < 0)
			return -1;
		size = strtol(c->in.p, NULL, 16);
		conn_consume(c, (size_t)end);
		if (size < 0 || size > 64L * 1024 * 1024 || want(c, (size_t)size + 2) != 0)
			return -1;
		buf_add(&a->body, c->in.p, (size_t)size);
		conn_consume(c, (size_t)size + 2);
		if (size == 0)
			return 0;
	}
}

static int read_body(struct conn *c, struct answer *a, long clen, bool chunked)
{
	if (chunked)
		return read_chunked(c, a);
	if (clen >= 0) {
		if (want(c, (size_t)clen) != 0)
			return -1;
		buf_add(&a->body, c->in.p, (size_t)clen);
		conn_consume(c, (size_t)clen);
		return 0;
	}
	/* neither: the body runs to the end of the connection */
	while (conn_fill(c) > 0)
		;
	buf_add(&a->body, c->in.p ? c->in.p : "", c->in.len);
	conn_consume(c, c->in.len);
	a->close = true;
	return 0;
}

/* Reads one answer, skipping 100 Continue; a->status stays 0 when none came. */
static void read_answer(struct conn *c, bool head_request, struct answer *a)
{
	for (;;) {
		long end = read_head(c, a), clen;
		bool chunked;
		char *head;

		if (end < 0)
			return;
		head = strndup(c->in.p, (size_t)end);
		if (head == NULL)
			fail_setup("out of memory");
		parse_head(head, a, &clen, &chunked);
		free(head);
		conn_consume(c, (size_t)end);
		if (a->status >= 100 && a->status < 200) {
			a->status = 0;
			a->authd = false;
			continue;
		}
		if (head_request || a->status == 204 || a->status == 304)
			return;
		if (read_body(c, a, clen, chunked) != 0)
			a->close = true;
		return;
	}
}

/* ---- checking answers ---- */

/* SPEC §2's codes with their statuses; others may exist ("codes at least"). */
static const struct {
	const char *code;
	int status;
} known_codes[] = {{"INVALID_JSON", 400},      {"INVALID_FORM", 400},
		   {"UNAUTHORIZED", 401},      {"FORBIDDEN", 403},
		   {"NOT_FOUND", 404},	       {"METHOD_NOT_ALLOWED", 405},
		   {"CONFLICT", 409},	       {"PAYLOAD_TOO_LARGE", 413},
		   {"URI_TOO_LONG", 414},      {"UNSUPPORTED_MEDIA_TYPE", 415},
		   {"TOO_MANY_REQUESTS", 429}, {"HEADERS_TOO_LARGE", 431},
		   {"INTERNAL", 500}};

static bool code_fits(const char *code, int status)
{
	if (code[0] == '\0' || strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != strlen(code))
		return false;
	for (size_t i = 0; i < sizeof(known_codes) / sizeof(known_codes[0]); i++)
		if (strcmp(known_codes[i].code, code) == 0)
			return known_codes[i].status == status;
	return true;
}

/* {"errors":[{"code","message"[,"detail"]}]} with a code that fits the status. */
static bool error_shape(const struct answer *a, char *why, size_t len)
{
	json_error_t jerr;
	json_t *doc, *errors, *e;
	size_t i;
	bool ok = true;

	if (strncasecmp(a->type, "application/json", 16) != 0) {
		snprintf(why, len, "error answer of type \"%s\", not JSON", a->type);
		return false;
	}
	doc = json_loadb(a->body.p ? a->body.p : "", a->body.len, 0, &jerr);
	errors = json_object_get(doc, "errors");
	if (!json_is_array(errors) || json_array_size(errors) == 0) {
		snprintf(why, len, "error answer without an \"errors\" list%s%s", doc ? "" : ": ",
			 doc ? "" : jerr.text);
		json_decref(doc);
		return false;
	}
	json_array_foreach(errors, i, e)
	{
		json_t *code = json_object_get(e, "code"), *msg = json_object_get(e, "message"),
		       *detail = json_object_get(e, "detail");

		if (!json_is_string(code) || !json_is_string(msg) || json_string_length(msg) == 0 ||
		    (detail && !json_is_object(detail)) ||
		    !code_fits(json_string_value(code), a->status)) {
			snprintf(why, len,
				 "errors[%zu] is not {code, message[, detail]} fitting %d", i,
				 a->status);
			ok = false;
			break;
		}
	}
	json_decref(doc);
	return ok;
}

/* NULL when the answer is acceptable for the request, else why not (in why). */
static const char *judge(const struct request *q, const struct answer *a, bool sent, char *why,
			 size_t len)
{
	if (a->status >= 500 && !(a->status == 505 && q->bad_version))
		return snprintf(why, len, "answered %d", a->status), why;
	if (a->status > 0 && a->authd && a->status >= 400 && !q->head && !error_shape(a, why, len))
		return why;
	if (q->refused != 0 && (a->status != q->refused || !a->authd || !a->close))
		return snprintf(why, len, "expected authd's %d, then a close; got %d%s%s",
				q->refused, a->status, a->authd ? "" : " (not authd's)",
				a->close ? "" : " without Connection: close"),
		       why;
	if (q->unheld && a->status != 431)
		return snprintf(why, len, "expected 431; got %d", a->status), why;
	if (q->kind == PROTOCOL)
		return NULL;
	/* a body over the limit may be refused, and the connection closed, before it is all sent */
	if (a->status == 0 && q->too_large && !sent)
		return NULL;
	if (a->status <= 0)
		return snprintf(why, len, "no answer: %s", a->why[0] ? a->why : "unreadable"), why;
	if (!a->authd)
		return snprintf(why, len, "answered %d by the HTTP layer, not by authd", a->status),
		       why;
	return NULL;
}

/* ---- reporting ---- */

static void print_escaped(FILE *f, const char *p, size_t n, size_t max)
{
	for (size_t i = 0; i < n && i < max; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\\')
			fputs("\\\\", f);
		else if (ch == '\r')
			fputs("\\r", f);
		else if (ch == '\n')
			fputs("\\n\n      ", f);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	if (n > max)
		fprintf(f, "... (%zu bytes in all)", n);
	fputc('\n', f);
}

static void report(const struct request *q, const struct answer *a, const char *why)
{
	pthread_mutex_lock(&st_lock);
	if (++st.failures <= SHOWN_FAILURES) {
		fprintf(stderr,
			"sweep: FAIL request %ld (%s): %s\n  replay: --seed %llu --only %ld\n"
			"  request (%zu of %zu bytes sent):\n      ",
			q->index, q->what, why, (unsigned long long)opt.seed, q->index, q->send_len,
			q->bytes.len);
		print_escaped(stderr, q->bytes.p, q->send_len, SHOWN_BYTES);
		fprintf(stderr, "  answer: %d%s, body: ", a->status, a->authd ? " (authd)" : "");
		print_escaped(stderr, a->body.p ? a->body.p : "", a->body.len, 300);
	}
	pthread_mutex_unlock(&st_lock);
}

static void count(const struct request *q, const struct answer *a)
{
	pthread_mutex_lock(&st_lock);
	st.sent++;
	if (q->kind == ROUTED)
		st.routed++;
	else
		st.protocol++;
	if (a->status >= 100 && a->status < 600)
		st.status[a->status / 100]++;
	else
		st.none++;
	if (a->status == 505 && q->bad_version)
		st.version_505++;
	pthread_mutex_unlock(&st_lock);
}

/* ---- the workers ---- */

/*
 * Sends q on c (reused when it is open) and reads the answer. A kept-alive
 * connection the server has closed meanwhile is tried once more, fresh.
 */
static bool exchange(struct conn *c, const struct request *q, struct answer *a)
{
	char why[160];
	bool sent = false;

	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = c->ssl != NULL;

		if (!reused && conn_open(c, q->kind == ROUTED ? ANSWER_MS : PROTOCOL_MS, why,
					 sizeof(why)) != 0) {
			snprintf(a->why, sizeof(a->why), "%s", why);
			return false;
		}
		if (!reused)
			atomic_fetch_add(&connections, 1);
		sent = conn_send(c, q->bytes.p, q->send_len) == 0;
		if (sent && q->half_close)
			SSL_shutdown(c->ssl); /* close_notify: nothing more will come */
		read_answer(c, q->head, a);
		if (a->status != 0 || !reused || c->in.len > 0)
			return sent;
		conn_close(c);
		memset(a->why, 0, sizeof(a->why));
	}
	return sent;
}

/* keep is the worker's kept-alive connection; each broken request gets one of its own. */
static void run_one(struct conn *keep, long index)
{
	struct conn own = {.fd = -1};
	struct request q;
	struct answer a = {0};
	struct conn *c;
	char why[256];
	const char *bad;
	bool sent;

	gen_request(index, &q);
	c = q.kind == PROTOCOL ? &own : keep;
	sent = exchange(c, &q, &a);
	if ((bad = judge(&q, &a, sent, why, sizeof(why))) != NULL)
		report(&q, &a, bad);
	if (opt.only >= 0) {
		printf("request %ld (%s):\n      ", index, q.what);
		print_escaped(stdout, q.bytes.p, q.send_len, 1 << 20);
		printf("answer %d:\n      ", a.status);
		print_escaped(stdout, a.body.p ? a.body.p : "", a.body.len, 1 << 20);
	}
	count(&q, &a);
	if (q.kind == PROTOCOL || q.close_after || a.close || a.status <= 0)
		conn_close(c);
	buf_free(&q.bytes);
	buf_free(&a.body);
}

static void *worker(void *arg)
{
	struct conn c = {.fd = -1};
	long end = opt.only >= 0 ? opt.only + 1 : opt.requests;

	(void)arg;
	while (!atomic_load(&stopping)) {
		long i = atomic_fetch_add(&next_index, 1);

		if (i >= end)
			break;
		run_one(&c, i);
	}
	conn_close(&c);
	atomic_fetch_add(&workers_done, 1);
	return NULL;
}

/* ---- slow clients and the /_ping probe ---- */

static bool ping_once(char *why, size_t len)
{
	static const char req[] =
	    "GET /_ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	struct conn c;
	struct answer a = {0};
	bool ok;

	if (conn_open(&c, PING_MS, why, len) != 0)
		return false;
	if (conn_send(&c, req, sizeof(req) - 1) == 0)
		read_answer(&c, false, &a);
	ok = a.status == 200 && a.body.len == 2 && memcmp(a.body.p, "OK", 2) == 0;
	if (!ok)
		snprintf(why, len, "answered %d: %s", a.status, a.why);
	conn_close(&c);
	buf_free(&a.body);
	return ok;
}

static void *prober(void *arg)
{
	(void)arg;
	while (!atomic_load(&stopping)) {
		double t0 = now_ms(), took;
		char why[200] = "";
		bool ok = ping_once(why, sizeof(why));

		took = now_ms() - t0;
		pthread_mutex_lock(&st_lock);
		st.pings++;
		if (took > st.ping_max_ms)
			st.ping_max_ms = took;
		pthread_mutex_unlock(&st_lock);
		if (!ok) {
			struct request q = {.index = -1, .what = "GET /_ping probe"};
			struct answer a = {0};

			report(&q, &a, why);
		}
		it_sleep_ms(PING_EVERY_MS);
	}
	return NULL;
}

/* A slow request sent whole must be answered like any other. */
static void slow_answer(struct conn *c, const struct request *q, struct answer *a)
{
	char why[256];

	read_answer(c, false, a);
	if (judge(q, a, true, why, sizeof(why)) != NULL)
		report(q, a, why);
	pthread_mutex_lock(&st_lock);
	st.slow_done++;
	pthread_mutex_unlock(&st_lock);
}

/*
 * One slow client: a request sent a byte at a time, 5-60 ms apart, cut
 * off somewhere or finished. The threads bound how many are open at once.
 */
static void slow_once(struct rng *r)
{
	static const char body[] = "{\"username\":\"nobody\",\"password\":\"\"}";
	struct request q = {.index = -1, .what = "slow request", .kind = ROUTED};
	struct answer a = {0};
	struct conn c;
	size_t cut;
	char why[256];

	if (chance(r, 50))
		buf_str(&q.bytes, "GET /_ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
	else
		buf_fmt(&q.bytes,
			"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			"Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			sizeof(body) - 1, body);
	cut = chance(r, 30) ? q.bytes.len : rnd(r, (unsigned)q.bytes.len);
	q.send_len = q.bytes.len;
	if (conn_open(&c, ANSWER_MS, why, sizeof(why)) == 0) {
		for (size_t i = 0; i < cut && !atomic_load(&stopping); i++) {
			if (conn_send(&c, q.bytes.p + i, 1) != 0)
				break;
			it_sleep_ms(5 + rnd(r, 55));
		}
		if (cut == q.bytes.len && !atomic_load(&stopping))
			slow_answer(&c, &q, &a);
		conn_close(&c);
	}
	pthread_mutex_lock(&st_lock);
	st.slow_conns++;
	pthread_mutex_unlock(&st_lock);
	buf_free(&q.bytes);
	buf_free(&a.body);
}

static void *slowloris(void *arg)
{
	struct rng r;

	rng_for(&r, opt.seed ^ 0x510e527fade682d1ULL, (uint64_t)(intptr_t)arg);
	while (!atomic_load(&stopping))
		slow_once(&r);
	return NULL;
}

/* ---- authd and its fixtures ---- */

static json_t *must(const char *method, const char *path, const char *body, long status)
{
	struct reply r;
	json_t *doc;

	if (http_call(tgt.srv, method, path, tgt.admin, body, NULL, &r) != 0 || r.status != status)
		fail_setup("setup: %s %s answered %ld: %s", method, path, r.status,
			   r.body ? r.body : r.error);
	doc = json_incref(r.json);
	reply_free(&r);
	return doc;
}

static void keep_id(json_t *doc, char *out, size_t len)
{
	snprintf(out, len, "%s", jstr(doc, "id") ? jstr(doc, "id") : "none");
	json_decref(doc);
}

/* alice, with a grant on /Shared, in team devs of org eng: real decisions, real members. */
static void make_fixtures(void)
{
	char path[256];

	if ((tgt.admin = authd_login(tgt.srv, "admin", ADMIN_PW)) == NULL)
		fail_setup("setup: admin cannot log in");
	keep_id(must("POST", "/enzi/v0/accounts",
		     "{\"name\":\"alice\",\"fullName\":\"Alice\",\"password\":\"" USER_PW "\"}",
		     201),
		tgt.ids[0], sizeof(tgt.ids[0]));
	keep_id(must("POST", "/enzi/v0/accounts", "{\"name\":\"eng\",\"isOrg\":true}", 201),
		tgt.ids[1], sizeof(tgt.ids[1]));
	keep_id(must("POST", "/enzi/v0/accounts/eng/teams", "{\"name\":\"devs\"}", 201), tgt.ids[2],
		sizeof(tgt.ids[2]));
	json_decref(must("PUT", "/enzi/v0/accounts/eng/teams/devs/members/alice", "{}", 200));
	snprintf(path, sizeof(path), "/collectionGrants/%s/shared/restrictedcontrol", tgt.ids[0]);
	json_decref(must("PUT", path, NULL, 201));
	if ((tgt.user = authd_login(tgt.srv, "alice", USER_PW)) == NULL)
		fail_setup("setup: alice cannot log in");
}

static void make_tls_context(void)
{
	X509_VERIFY_PARAM *param;

	tgt.ctx = SSL_CTX_new(TLS_client_method());
	if (tgt.ctx == NULL || SSL_CTX_load_verify_locations(tgt.ctx, tgt.srv->cainfo, NULL) != 1)
		fail_setup("TLS: cannot load %s", tgt.srv->cainfo);
	SSL_CTX_set_verify(tgt.ctx, SSL_VERIFY_PEER, NULL);
	param = SSL_CTX_get0_param(tgt.ctx);
	X509_VERIFY_PARAM_set1_ip_asc(param, "127.0.0.1");
	/* an EOF without close_notify is the server closing, not an attack on us */
	SSL_CTX_set_options(tgt.ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(tgt.ctx, SSL_MODE_AUTO_RETRY);
}

/* On its defaults: the login throttle's 401s, delays and 429s are part of what is swept. */
static void start_authd(void)
{
	if (it_workdir_init() != 0 || (tgt.srv = authd_new(NULL)) == NULL ||
	    authd_start(tgt.srv, ADMIN_PW) != 0)
		fail_setup("authd did not start");
	tgt.addr.sin_family = AF_INET;
	tgt.addr.sin_port = htons((uint16_t)tgt.srv->port);
	tgt.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	make_tls_context();
	if ((tgt.ca_pem = it_read_file(tgt.srv->cainfo, NULL)) == NULL)
		fail_setup("cannot read %s", tgt.srv->cainfo);
	make_fixtures();
}

/* ---- main ---- */

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--requests N] [--seed S] [--only I] [--workers W] [--slow K]\n"
		"Sends N malformed requests (default %d) to a fresh authd from seed S\n"
		"(default: from the clock), W at a time (4), with K slow clients (16);\n"
		"--only I replays request I of seed S and prints it with its answer.\n",
		prog, SWEEP_REQUESTS);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	opt.seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		unsigned long long n;

		if (v == NULL)
			usage(argv[0]);
		errno = 0;
		n = strtoull(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0')
			usage(argv[0]);
		if (strcmp(argv[i], "--requests") == 0 && n > 0)
			opt.requests = (long)n;
		else if (strcmp(argv[i], "--seed") == 0)
			opt.seed = n;
		else if (strcmp(argv[i], "--only") == 0)
			opt.only = (long)n;
		else if (strcmp(argv[i], "--workers") == 0 && n > 0 && n <= 64)
			opt.workers = (int)n;
		else if (strcmp(argv[i], "--slow") == 0 && n <= 256)
			opt.slow = (int)n;
		else
			usage(argv[0]);
		i++;
	}
}

/* Watches authd until the workers are done; false (and stops them) when it exits. */
static bool watch_authd(void)
{
	for (;;) {
		int status;

		if (atomic_load(&workers_done) == opt.workers)
			return true;
		if (waitpid(tgt.srv->pid, &status, WNOHANG) == tgt.srv->pid) {
			tgt.srv->pid = 0;
			tgt.srv->last_status = status;
			fprintf(stderr,
				"sweep: FAIL authd exited during the sweep (wait status %d)\n",
				status);
			atomic_store(&stopping, true);
			return false;
		}
		it_sleep_ms(100);
	}
}

/* The end of authd's log: a sanitizer's report, or what it said before it died. */
static void print_log_tail(void)
{
	size_t len = 0;
	char *text = it_read_file(tgt.srv->log, &len);

	fprintf(stderr, "sweep: the end of authd's log (%s):\n%s\n", tgt.srv->log,
		text ? text + (len > 6000 ? len - 6000 : 0) : "(unreadable)");
	free(text);
}

/*
 * Whether a token still works. The sweep never logs out with one nor changes
 * the password, state or rights of its accounts, so a lost token is a bug, of
 * authd's or of the sweep's, and the requests after it reached less of authd.
 */
static bool token_kept(const char *token)
{
	struct reply r;
	bool ok;

	ok = http_call(tgt.srv, "GET", "/enzi/v0/accounts/alice", token, NULL, NULL, &r) == 0 &&
	     r.status == 200;
	reply_free(&r);
	return ok;
}

static int finish(double seconds, bool alive)
{
	bool admin_kept = alive && token_kept(tgt.admin), user_kept = alive && token_kept(tgt.user);
	int status = authd_stop(tgt.srv);
	bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	long n = st.sent;

	printf("sweep_seed=%llu\n", (unsigned long long)opt.seed);
	printf("sweep_routes=%d (from `authd routes`)\n", tgt.nroutes);
	printf("sweep_requests=%ld (routed %ld, protocol-level %ld)\n", n, st.routed, st.protocol);
	printf("sweep_seconds=%.1f\n", seconds);
	printf("sweep_rate=%.0f requests/s\n", seconds > 0 ? n / seconds : 0.0);
	printf(
	    "sweep_answers=1xx %ld, 2xx %ld, 3xx %ld, 4xx %ld, 5xx %ld (%ld of them 505 to a bad "
	    "HTTP version), none %ld\n",
	    st.status[1], st.status[2], st.status[3], st.status[4], st.status[5], st.version_505,
	    st.none);
	printf("sweep_connections=%ld (TLS handshakes of the workers)\n",
	       atomic_load(&connections));
	printf("sweep_slow_clients=%ld (%ld finished and answered)\n", st.slow_conns, st.slow_done);
	printf("sweep_ping_probes=%ld (slowest %.0f ms)\n", st.pings, st.ping_max_ms);
	printf("sweep_tokens_kept=admin %s, alice %s\n", admin_kept ? "yes" : "no",
	       user_kept ? "yes" : "no");
	printf("sweep_failures=%ld\n", st.failures);
	printf("authd_alive_throughout=%s\n", alive ? "yes" : "no");
	printf("authd_exit_status=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	if (alive && !clean)
		fprintf(stderr, "sweep: FAIL authd did not exit 0 on SIGTERM (wait status %d)\n",
			status);
	if (!alive || !clean)
		print_log_tail();
	if (alive && !(admin_kept && user_kept))
		fprintf(stderr, "sweep: FAIL a token of the sweep's stopped working\n");
	return st.failures == 0 && alive && clean && admin_kept && user_kept ? 0 : 1;
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	if (pthread_create(t, NULL, fn, arg) != 0)
		fail_setup("cannot start a thread");
}

int main(int argc, char **argv)
{
	pthread_t workers[64], clients[257];
	int nclients = 0, rc;
	double t0;
	bool alive;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN); /* a server that closes first must not kill the sweep */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fail_setup("curl_global_init failed");
	start_authd();
	load_routes();
	atomic_store(&next_index, opt.only >= 0 ? opt.only : 0);
	if (opt.only >= 0) {
		opt.workers = 1;
		opt.slow = 0;
	}
	printf("sweep: seed %llu, %ld requests, %d workers, %d slow clients, %d routes\n",
	       (unsigned long long)opt.seed, opt.only >= 0 ? 1 : opt.requests, opt.workers,
	       opt.slow, tgt.nroutes);
	fflush(stdout);
	t0 = it_now();
	start_thread(&clients[nclients++], prober, NULL);
	for (int i = 0; i < opt.slow; i++)
		start_thread(&clients[nclients++], slowloris, (void *)(intptr_t)i);
	for (int i = 0; i < opt.workers; i++)
		start_thread(&workers[i], worker, NULL);
	alive = watch_authd();
	for (int i = 0; i < opt.workers; i++)
		pthread_join(workers[i], NULL);
	atomic_store(&stopping, true);
	for (int i = 0; i < nclients; i++)
		pthread_join(clients[i], NULL);
	rc = finish(it_now() - t0, alive);
	authd_free(tgt.srv);
	it_workdir_remove();
	SSL_CTX_free(tgt.ctx);
	free(tgt.admin);
	free(tgt.user);
	free(tgt.ca_pem);
	curl_global_cleanup();
	return rc;
}
