/*
 * Fuzz target for what Docker engines send authd's authorization plugin
 * (authd/authz.c): an AuthZReq body through the real handler, and the same
 * body through POST /api/authz, against a store with one user and one key.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "authz/authz.h"
#include "bundles.h"
#include "authz/engine_labels.h"
#include "authz/idcache.h"
#include "authz/rbac.h"

#include "fixtures.h"

static char data_dir[4096];
static struct config cfg;
static struct server srv;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	audit_close(srv.audit);
	store_close();
	nftw(data_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_authz_plugin: %s: %s\n", what, why);
	exit(1);
}

/*
 * alice: an active user with Restricted Control on /Shared and the bundle
 * key of fixture_client_pem, so that seeds carrying that certificate reach
 * the decision itself instead of stopping at identification.
 */
static void add_alice(void)
{
	struct account a = {.is_active = true};
	struct grant_row g = {.collection_id = "shared", .role_id = "restrictedcontrol"};
	struct pubkey k = {.scope = "user", .not_after = INT64_MAX};
	unsigned char *der;
	size_t len = 0;

	snprintf(a.name, sizeof(a.name), "alice");
	if (new_uuid(a.id) != 0 || store_account_insert(&a, NULL) != STORE_OK ||
	    store_ensure_private_collection(&a) == STORE_ERROR)
		die("store", "cannot add alice");
	memcpy(g.subject_id, a.id, ID_LEN);
	if (store_grant_put(&g) != STORE_OK)
		die("store", "cannot grant alice");
	der = bdl_pem_to_der(fixture_client_pem, &len);
	if (der == NULL || bdl_der_fingerprint(der, len, k.fingerprint) != 0 || new_uuid(k.id) != 0)
		die("fixture", "cannot read the client certificate");
	OPENSSL_free(der);
	memcpy(k.account_id, a.id, ID_LEN);
	rbac_key_added(srv.rbac, &k);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct failure err;

	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	snprintf(data_dir, sizeof(data_dir), "%s/fuzz_authz.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(data_dir) == NULL)
		die("mkdtemp", "cannot make a data dir");
	atexit(cleanup);
	if (store_open(data_dir, &err) != 0)
		die("store", err.message);
	config_defaults(&cfg);
	srv.cfg = &cfg;
	/* decisions are audited as in the server: the JSON is built, then thrown away */
	srv.audit = audit_open("/dev/null", 0, 1, &err);
	srv.labels = engine_labels_new(NULL);
	srv.rbac = rbac_new();
	srv.ids = idcache_new();
	if (srv.audit == NULL || srv.labels == NULL || srv.rbac == NULL || srv.ids == NULL)
		die("setup", "out of memory");
	add_alice();
	if (rbac_refresh(srv.rbac) != 0)
		die("rbac", "cannot build the snapshot");
	return 0;
}

static void resp_free(struct resp *out)
{
	json_decref(out->json);
	free(out->text);
	free(out->bytes);
	for (int i = 0; i < out->nheaders; i++)
		free(out->headers[i].value);
}

/*
 * Every plugin request gets a verdict the engine can read, whatever bytes
 * its URI or body carry: never an error, never an empty body, never a crash.
 */
static void plugin_request(json_t *body)
{
	struct req r = {.srv = &srv, .method = "POST", .path = "/AuthZPlugin.AuthZReq"};
	struct resp out = {0};

	r.body = body;
	api_plugin_authz_req(&r, &out);
	if (out.status != 200 || !json_is_boolean(json_object_get(out.json, "Allow")) ||
	    !json_is_string(json_object_get(out.json, "Msg")))
		abort();
	resp_free(&out);
}

/* The decision API answers 200 with a verdict or 400 naming the bad field. */
static void decision_api(json_t *body)
{
	struct req r = {.srv = &srv, .method = "POST", .path = "/api/authz"};
	struct resp out = {0};

	r.body = body;
	r.who.is_admin = true;
	api_authz(&r, &out);
	if ((out.status != 200 && out.status != 400) || out.json == NULL)
		abort();
	resp_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	/* as http.c parses every request body before a handler sees it */
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);

	if (body == NULL)
		return 0;
	if (json_is_object(body)) {
		plugin_request(body);
		decision_api(body);
	}
	json_decref(body);
	return 0;
}
