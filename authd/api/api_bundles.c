/*
 * Client bundles and their keys (SPEC §7.2, §7.4).
 *
 * A bundle is made fresh on every call: a new key pair, a certificate for
 * the account (admins' signed by the cluster CA, users' by the client CA),
 * and a zip with scripts for sh, PowerShell and cmd.exe. The store keeps the
 * certificate, its public key and fingerprint; the private key exists only in
 * the response. Deleting a key revokes its certificate on the next request.
 * Users manage their own keys; admins anyone's, and may make a bundle for
 * another account (automation).
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/x509v3.h>

#include "api.h"
#include "bundles.h"
#include "changes.h"
#include "http/tls.h"

/* The user a bundle or key call is about: params[0] or ?account=, else the caller. */
static int load_owner(struct req *r, struct resp *out, const char *key, struct account *a)
{
	int rc;

	if (key == NULL)
		key = r->who.id;
	rc = store_account_get(key, a);
	if (rc < 0) {
		resp_store_failed(out, rc);
		return -1;
	}
	if (!r->who.is_admin && (rc != STORE_OK || strcmp(a->id, r->who.id) != 0)) {
		resp_forbidden(out);
		return -1;
	}
	if (rc == STORE_NOT_FOUND || a->is_org) {
		resp_not_found(out, "user", key);
		return -1;
	}
	return 0;
}

/* Fills the parts of a key row that come from its certificate. */
static int describe_cert(X509 *cert, struct pubkey *k)
{
	char *pem = bdl_cert_pem(cert), *pub = bdl_public_key_pem(cert);
	int rc = -1;

	if (pem != NULL && pub != NULL && strlen(pem) < sizeof(k->certificate) &&
	    strlen(pub) < sizeof(k->public_key) &&
	    bdl_cert_fingerprint(cert, k->fingerprint) == 0) {
		snprintf(k->certificate, sizeof(k->certificate), "%s", pem);
		snprintf(k->public_key, sizeof(k->public_key), "%s", pub);
		k->not_after = bdl_cert_not_after(cert);
		rc = 0;
	}
	free(pem);
	free(pub);
	return rc;
}

/* Stores a new key row for `a`; fills `out` and returns -1 on failure. */
static int record_key(struct req *r, struct resp *out, const struct account *a, X509 *cert,
		      const char *label, const char *scope, struct pubkey *k)
{
	int rc;

	memset(k, 0, sizeof(*k));
	if (new_uuid(k->id) != 0 || describe_cert(cert, k) != 0) {
		resp_internal(out);
		return -1;
	}
	snprintf(k->account_id, sizeof(k->account_id), "%s", a->id);
	snprintf(k->label, sizeof(k->label), "%s", label);
	snprintf(k->scope, sizeof(k->scope), "%s", scope);
	k->created_at = now_seconds();
	rc = store_key_insert(k);
	if (rc == STORE_CONFLICT) {
		resp_error(out, 409, "CONFLICT", "certificate",
			   "certificate: this key is registered");
		return -1;
	}
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return -1;
	}
	changes_announce(r->srv, &(struct change){.what = CHANGE_KEYS, .key_added = k});
	audit_log(r->srv->audit, "key.add", r->who.name, r->client,
		  json_pack("{s:s, s:s, s:s, s:s}", "account", a->name, "keyID", k->id, "label",
			    label, "scope", scope));
	return 0;
}

/* The zip for a fresh key and certificate; the caller zeroes and frees *zip. */
static int make_bundle(struct req *r, struct resp *out, const struct account *a, const char *label,
		       unsigned char **zip, size_t *len)
{
	const struct config *cfg = r->srv->cfg;
	const struct tls_material *tls = r->srv->tls;
	const char *scope = a->is_admin ? "admin" : "user";
	enum bdl_key_type type = BDL_KEY_ECDSA_P256;
	struct failure err;
	char not_after[32];
	char *key_pem = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct pubkey k;
	int rc = -1;

	bdl_key_type_parse(cfg->bundle_key_type, &type); /* checked when the config loaded */
	key = bdl_key_generate(type);
	if (key != NULL)
		cert = bdl_issue_client_cert(a->is_admin ? &tls->cluster : &tls->client, key,
					     a->name, scope, cfg->bundle_validity_days, &err);
	if (cert == NULL || (key_pem = bdl_key_pem(key)) == NULL) {
		resp_internal(out);
		goto done;
	}
	if (record_key(r, out, a, cert, label, scope, &k) != 0)
		goto done;
	format_time(k.not_after, not_after, sizeof(not_after));
	struct bdl_bundle b = {.ca_pem = tls->cluster_pem,
			       .cert_pem = k.certificate,
			       .key_pem = key_pem,
			       .pub_pem = k.public_key,
			       .account = a->name,
			       .label = label,
			       .key_id = k.id,
			       .scope = scope,
			       .not_after = not_after,
			       .docker_host =
				   cfg->bundle_docker_host ? cfg->bundle_docker_host : "",
			       .engine_hosts = (const char *const *)cfg->bundle_engine_hosts,
			       .n_engine_hosts = cfg->bundle_n_engine_hosts};
	if (bdl_make_zip(&b, zip, len, &err) != 0) {
		/* nobody will ever hold this key: forget it */
		if (store_key_delete(a->id, k.id) == STORE_OK)
			changes_announce(r->srv, &(struct change){.what = CHANGE_KEYS,
								  .key_removed = k.fingerprint});
		resp_internal(out);
		goto done;
	}
	rc = 0;
done:
	bdl_free_secret(key_pem);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

void api_clientbundle(struct req *r, struct resp *out)
{
	const char *label = req_query(r, "label");
	char fallback[64], when[32];
	struct account a;

	if (label == NULL || label[0] == '\0') {
		format_time(now_seconds(), when, sizeof(when));
		snprintf(fallback, sizeof(fallback), "bundle %s", when);
		label = fallback;
	}
	if (form_label(label, "label", out) != 0 ||
	    load_owner(r, out, req_query(r, "account"), &a) != 0)
		return;
	if (!a.is_active) {
		resp_error(out, 409, "CONFLICT", "account", "account: \"%s\" is inactive", a.name);
		return;
	}
	/* its certificates would be refused anyway (SPEC §6.5): say so now */
	if (a.ldap_missing) {
		resp_error(out, 409, "CONFLICT", "account",
			   "account: \"%s\" is missing from the directory", a.name);
		return;
	}
	/* HEAD answers what a GET would, without issuing a key that nobody would hold */
	if (strcmp(r->method, "HEAD") != 0 &&
	    make_bundle(r, out, &a, label, &out->bytes, &out->nbytes) != 0)
		return;
	out->status = 200;
	out->type = "application/zip";
	resp_header(out, "Content-Disposition", "attachment; filename=\"bundle-%s.zip\"", a.name);
}

/* ---- keys ---- */

static int collect_key(const struct pubkey *k, void *ctx)
{
	return page_add(ctx, k->id, pubkey_json(k));
}

void api_keys_list(struct req *r, struct resp *out)
{
	struct account a;
	struct page p;
	json_t *body;
	int rc;

	if (load_owner(r, out, r->params[0], &a) != 0 || page_from_query(r, &p, out) != 0)
		return;
	rc = store_keys(a.id, p.start, p.limit + 1, collect_key, &p);
	if (rc != STORE_OK) {
		json_decref(p.items);
		resp_store_failed(out, rc);
		return;
	}
	body = json_pack("{s:o}", "accountPublicKeys", p.items);
	page_finish(r, &p, body, out);
	resp_json(out, 200, body);
}

/* Checks an externally issued certificate for `a`; its scope goes to *scope. */
static int check_external_cert(struct req *r, struct resp *out, const struct account *a, X509 *cert,
			       const char **scope)
{
	const struct tls_material *tls = r->srv->tls;
	char cn[NAME_LEN], shown[101];
	struct refusal why;

	if (bdl_verify_client_cert(tls->client_trust, cert, cn, sizeof(cn), &why) != 0) {
		resp_refuse(out, "certificate", "certificate: %s", why.message);
		return -1;
	}
	if (strcmp(cn, a->name) != 0) {
		resp_refuse(out, "certificate",
			    "certificate: its CN \"%s\" is not the account's name",
			    utf8_clean(shown, sizeof(shown), cn));
		return -1;
	}
	*scope = X509_check_issued(tls->cluster.cert, cert) == X509_V_OK ? "admin" : "user";
	if (strcmp(*scope, "admin") == 0 && !a->is_admin) {
		resp_refuse(out, "certificate",
			    "certificate: signed by the cluster CA, which signs admins' only");
		return -1;
	}
	return 0;
}

void api_key_add(struct req *r, struct resp *out)
{
	const char *label = form_string(r->body, "label", "");
	const char *pem = form_string(r->body, "certificate", "");
	struct refusal why;
	const char *scope;
	struct account a;
	struct pubkey k;
	X509 *cert;

	if (form_check(r->body, form_key_add, out) != 0 || form_label(label, "label", out) != 0 ||
	    load_owner(r, out, r->params[0], &a) != 0)
		return;
	if (strlen(pem) >= PEM_MAX) {
		resp_refuse(out, "certificate", "certificate: too long");
		return;
	}
	cert = bdl_cert_from_pem(pem, &why);
	if (cert == NULL) {
		resp_refuse(out, "certificate", "certificate: %s", why.message);
		return;
	}
	if (check_external_cert(r, out, &a, cert, &scope) == 0 &&
	    record_key(r, out, &a, cert, label, scope, &k) == 0)
		resp_json(out, 201, pubkey_json(&k));
	X509_free(cert);
}

/* Loads the key of params[1] belonging to the user of params[0]. */
static int load_key(struct req *r, struct resp *out, struct account *a, struct pubkey *k)
{
	int rc;

	if (load_owner(r, out, r->params[0], a) != 0)
		return -1;
	rc = store_key_get(a->id, r->params[1], k);
	if (rc == STORE_NOT_FOUND)
		resp_not_found(out, "key", r->params[1]);
	else if (rc != STORE_OK)
		resp_store_failed(out, rc);
	return rc == STORE_OK ? 0 : -1;
}

void api_key_get(struct req *r, struct resp *out)
{
	struct account a;
	struct pubkey k;

	if (load_key(r, out, &a, &k) == 0)
		resp_json(out, 200, pubkey_json(&k));
}

void api_key_patch(struct req *r, struct resp *out)
{
	const char *label = form_string(r->body, "label", "");
	struct account a;
	struct pubkey k;
	int rc;

	if (form_check(r->body, form_key_patch, out) != 0 || form_label(label, "label", out) != 0 ||
	    load_key(r, out, &a, &k) != 0)
		return;
	rc = store_key_set_label(k.id, label);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	snprintf(k.label, sizeof(k.label), "%s", label);
	resp_json(out, 200, pubkey_json(&k));
}

void api_key_delete(struct req *r, struct resp *out)
{
	struct account a;
	struct pubkey k;
	int rc;

	if (load_key(r, out, &a, &k) != 0)
		return;
	rc = store_key_delete(a.id, k.id);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	changes_announce(r->srv,
			 &(struct change){.what = CHANGE_KEYS, .key_removed = k.fingerprint});
	audit_log(r->srv->audit, "key.revoke", r->who.name, r->client,
		  json_pack("{s:s, s:s}", "account", a.name, "keyID", k.id));
	out->status = 204;
}
