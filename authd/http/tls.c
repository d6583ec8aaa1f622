/*
 * authd's own TLS material. At first start it makes the cluster CA and the
 * client CA (kept in <dataDir>/ca; an admin may put their own there before)
 * and a server certificate the cluster CA signs (kept in <dataDir>/tls);
 * later starts load them. An admin may point tls.cert/tls.key elsewhere.
 * On PostgreSQL with store.keyFile set, the same material is kept in the
 * store instead, its keys sealed, so that every replica has the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "bundles.h"
#include "servercert.h"
#include "store/store.h"
#include "tls.h"

#define CA_DAYS 3650
#define SERVER_DAYS 825
#define MAX_PEM (1 << 20)

static int make_dir(const char *path, struct failure *err)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return failure_set(err, "%s: %s", path, strerror(errno));
}

int tls_make_dirs(const char *data_dir, struct failure *err)
{
	char path[4096];

	if (make_dir(data_dir, err) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/ca", data_dir);
	if (make_dir(path, err) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/tls", data_dir);
	return make_dir(path, err);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Loads the CA <dataDir>/ca/<name>.pem, making it on first start. */
static int load_ca(const char *data_dir, const char *name, const char *common_name,
		   struct bdl_ca *ca, struct failure *err)
{
	char cert[4096], key[4096];
	struct failure e;

	snprintf(cert, sizeof(cert), "%s/ca/%s.pem", data_dir, name);
	snprintf(key, sizeof(key), "%s/ca/%s-key.pem", data_dir, name);
	if (exists(cert)) {
		if (bdl_ca_load(cert, key, ca, &e) == 0)
			return 0;
	} else if (bdl_ca_generate(common_name, CA_DAYS, ca, &e) == 0 &&
		   bdl_ca_save(ca, cert, key, &e) == 0) {
		log_msg(LOG_INFO, "made the %s in %s", common_name, cert);
		return 0;
	}
	bdl_ca_free(ca);
	return failure_set(err, "%s: %s", name, e.message);
}

/* The PEMs and trust store derived from the two CAs. */
static int ca_views(struct tls_material *m, struct failure *err)
{
	X509 *cas[2] = {m->cluster.cert, m->client.cert};
	char *client_pem = bdl_cert_pem(m->client.cert);

	m->cluster_pem = bdl_cert_pem(m->cluster.cert);
	if (client_pem != NULL && m->cluster_pem != NULL)
		m->cas_pem = malloc(strlen(m->cluster_pem) + strlen(client_pem) + 1);
	if (m->cas_pem != NULL) {
		strcpy(m->cas_pem, m->cluster_pem);
		strcat(m->cas_pem, client_pem);
	}
	free(client_pem);
	m->client_trust = bdl_trust_new(cas, 2);
	m->engine_trust = bdl_trust_new(cas, 1);
	if (m->cas_pem == NULL || m->client_trust == NULL || m->engine_trust == NULL)
		return failure_set(err, "cannot encode the CAs");
	return 0;
}

/* A server certificate for localhost, the listen address and this host's name, as PEMs. */
static int issue_server_pems(const struct config *cfg, const struct bdl_ca *ca, char **cert_pem,
			     char **key_pem, struct failure *err)
{
	const char *sans[5] = {"localhost", "127.0.0.1", "::1"};
	size_t n = 3;
	struct failure e;
	char host[256];
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	X509 *cert = NULL;

	*cert_pem = *key_pem = NULL;
	if (strcmp(cfg->listen_host, "127.0.0.1") != 0 && strcmp(cfg->listen_host, "::1") != 0 &&
	    strcmp(cfg->listen_host, "0.0.0.0") != 0 && strcmp(cfg->listen_host, "::") != 0)
		sans[n++] = cfg->listen_host;
	if (gethostname(host, sizeof(host)) == 0 && strcmp(host, "localhost") != 0) {
		host[sizeof(host) - 1] = '\0';
		sans[n++] = host;
	}
	if (key != NULL)
		cert = bdl_issue_server_cert(ca, key, "authd", sans, n, SERVER_DAYS, &e);
	else
		failure_set(&e, "cannot generate a key");
	if (cert != NULL) {
		*cert_pem = bdl_cert_pem(cert);
		*key_pem = bdl_key_pem(key);
		if (*cert_pem == NULL || *key_pem == NULL)
			failure_set(&e, "out of memory");
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	if (*cert_pem != NULL && *key_pem != NULL)
		return 0;
	free(*cert_pem);
	bdl_free_secret(*key_pem);
	*cert_pem = *key_pem = NULL;
	return failure_set(err, "server certificate: %s", e.message);
}

/* Issues <dataDir>/tls/server-{cert,key}.pem. */
static int issue_server_cert(const struct config *cfg, const struct bdl_ca *ca,
			     const char *cert_path, const char *key_path, struct failure *err)
{
	char *cert_pem, *key_pem;
	struct failure e;
	int rc = -1;

	if (issue_server_pems(cfg, ca, &cert_pem, &key_pem, err) != 0)
		return -1;
	if (file_write(key_path, key_pem, strlen(key_pem), 0600, &e) == 0 &&
	    file_write(cert_path, cert_pem, strlen(cert_pem), 0644, &e) == 0)
		rc = 0;
	if (rc != 0)
		failure_set(err, "server certificate: %s", e.message);
	else
		log_msg(LOG_INFO, "made a server certificate in %s", cert_path);
	free(cert_pem);
	bdl_free_secret(key_pem);
	return rc;
}

int tls_load_cas(const char *data_dir, struct tls_material *m, struct failure *err)
{
	memset(m, 0, sizeof(*m));
	if (load_ca(data_dir, "cluster-ca", "authd cluster CA", &m->cluster, err) != 0 ||
	    load_ca(data_dir, "client-ca", "authd client CA", &m->client, err) != 0 ||
	    ca_views(m, err) != 0) {
		tls_free(m);
		return -1;
	}
	return 0;
}

int tls_load(const struct config *cfg, struct tls_material *m, struct failure *err)
{
	char cert_path[4096], key_path[4096];
	struct failure e;

	if (tls_load_cas(cfg->data_dir, m, err) != 0)
		return -1;
	if (cfg->tls_cert != NULL) {
		snprintf(cert_path, sizeof(cert_path), "%s", cfg->tls_cert);
		snprintf(key_path, sizeof(key_path), "%s", cfg->tls_key);
	} else {
		snprintf(cert_path, sizeof(cert_path), "%s/tls/server-cert.pem", cfg->data_dir);
		snprintf(key_path, sizeof(key_path), "%s/tls/server-key.pem", cfg->data_dir);
		if (!exists(cert_path) &&
		    issue_server_cert(cfg, &m->cluster, cert_path, key_path, err) != 0)
			goto fail;
	}
	m->cert_pem = file_read(cert_path, MAX_PEM, NULL, &e);
	if (m->cert_pem != NULL)
		m->key_pem = file_read(key_path, MAX_PEM, NULL, &e);
	if (m->key_pem == NULL) {
		failure_set(err, "%s", e.message);
		goto fail;
	}
	return 0;
fail:
	tls_free(m);
	return -1;
}

/* ---- the material replicas share on PostgreSQL (store.keyFile set) ---- */

/* A CA from its certificate's and key's PEMs, checked to belong together. */
static int ca_from_pems(const char *cert, const char *key, struct bdl_ca *ca)
{
	struct refusal why;
	BIO *bio = BIO_new_mem_buf(key, -1);

	ca->cert = bdl_cert_from_pem(cert, &why);
	ca->key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
	BIO_free(bio);
	if (ca->cert != NULL && ca->key != NULL && X509_check_private_key(ca->cert, ca->key) == 1)
		return 0;
	ERR_clear_error();
	bdl_ca_free(ca);
	return -1;
}

/*
 * Seals key_pem under kek and stores the row unless another replica stored
 * one first: 1 when this one was stored, 0 when the other was, -1 with err.
 */
static int add_row(const unsigned char *kek, const char *name, const char *cert_pem,
		   const char *key_pem, struct failure *err)
{
	struct tls_row r = {.cert_pem = (char *)cert_pem, .ca_pem = ""};
	int rc;

	r.key_sealed = secret_seal(kek, key_pem);
	if (r.key_sealed == NULL)
		return failure_set(err, "%s: cannot seal the key", name);
	rc = store_tls_add(name, &r);
	free(r.key_sealed);
	if (rc != STORE_OK && rc != STORE_CREATED)
		return failure_set(err, "%s: cannot store it (%s)", name,
				   rc == STORE_UNAVAILABLE ? "it does not answer" : "it failed");
	return rc == STORE_CREATED;
}

/*
 * A CA for an empty store: the one in <dataDir>/ca when an admin put one
 * there (or this data dir ran without the store's), else a new one.
 */
static int first_ca(const struct config *cfg, const unsigned char *kek, const char *name,
		    const void *ctx, struct failure *err)
{
	const char *common_name = ctx;
	char cert[4096], key[4096], *cert_pem = NULL, *key_pem = NULL;
	struct bdl_ca ca = {0};
	bool own = false;
	struct failure e;
	int rc = -1;

	snprintf(cert, sizeof(cert), "%s/ca/%s.pem", cfg->data_dir, name);
	snprintf(key, sizeof(key), "%s/ca/%s-key.pem", cfg->data_dir, name);
	own = exists(key);
	if (own ? bdl_ca_load(cert, key, &ca, &e) != 0
		: bdl_ca_generate(common_name, CA_DAYS, &ca, &e) != 0)
		return failure_set(err, "%s: %s", name, e.message);
	cert_pem = bdl_cert_pem(ca.cert);
	key_pem = bdl_key_pem(ca.key);
	if (cert_pem == NULL || key_pem == NULL)
		failure_set(err, "%s: out of memory", name);
	else
		rc = add_row(kek, name, cert_pem, key_pem, err);
	/* two replicas may both get here: the one whose row was stored says so */
	if (rc == 1)
		log_msg(LOG_INFO, "%s the %s in the store", own ? "put" : "made", common_name);
	free(cert_pem);
	bdl_free_secret(key_pem);
	bdl_ca_free(&ca);
	return rc < 0 ? -1 : 0;
}

/* The row's key, unsealed; NULL with err when kek is not the key it was sealed with. */
static char *unseal_row(const unsigned char *kek, const char *name, const struct tls_row *r,
			struct failure *err)
{
	char *key = secret_unseal(kek, r->key_sealed);

	if (key == NULL)
		failure_set(err,
			    "store.keyFile does not open the %s kept in the store: it was sealed "
			    "with another key; give every replica the same key file",
			    name);
	return key;
}

/* What makes a row for an empty store: first_ca (ctx: the CA's name) or first_server (the CA). */
typedef int (*make_fn)(const struct config *cfg, const unsigned char *kek, const char *name,
		       const void *ctx, struct failure *err);

/* Reads the named row, making it first when the store has none. */
static int get_or_make(const char *name, struct tls_row *r, make_fn make, const void *ctx,
		       const struct config *cfg, const unsigned char *kek, struct failure *err)
{
	int rc = store_tls_get(name, r);

	if (rc == STORE_NOT_FOUND) {
		if (make(cfg, kek, name, ctx, err) != 0)
			return -1;
		rc = store_tls_get(name, r);
	}
	if (rc != STORE_OK)
		return failure_set(err, "%s: cannot read it from the store (%s)", name,
				   rc == STORE_UNAVAILABLE ? "it does not answer" : "it failed");
	return 0;
}

/* The CA kept in the store as `name`; its certificate is copied to <dataDir>/ca for tools. */
static int shared_ca(const struct config *cfg, const unsigned char *kek, const char *name,
		     const char *common_name, struct bdl_ca *ca, struct failure *err)
{
	struct tls_row r;
	char path[4096], *key;
	struct failure e;
	int rc = -1;

	if (get_or_make(name, &r, first_ca, common_name, cfg, kek, err) != 0)
		return -1;
	key = unseal_row(kek, name, &r, err);
	if (key != NULL && ca_from_pems(r.cert_pem, key, ca) != 0)
		failure_set(err, "%s: the store holds no usable CA", name);
	else if (key != NULL)
		rc = 0;
	snprintf(path, sizeof(path), "%s/ca/%s.pem", cfg->data_dir, name);
	if (rc == 0 && file_write(path, r.cert_pem, strlen(r.cert_pem), 0644, &e) != 0)
		log_msg(LOG_WARN, "%s", e.message);
	bdl_free_secret(key);
	store_tls_row_free(&r);
	return rc;
}

/* The served certificate for an empty store: <dataDir>/tls's when there, else a new one. */
static int first_server(const struct config *cfg, const unsigned char *kek, const char *name,
			const void *ctx, struct failure *err)
{
	const struct bdl_ca *cluster = ctx;
	char cert[4096], key[4096], *cert_pem = NULL, *key_pem = NULL;
	struct failure e;
	int rc;

	snprintf(cert, sizeof(cert), "%s/tls/server-cert.pem", cfg->data_dir);
	snprintf(key, sizeof(key), "%s/tls/server-key.pem", cfg->data_dir);
	if (exists(cert) && exists(key)) {
		cert_pem = file_read(cert, MAX_PEM, NULL, &e);
		key_pem = cert_pem ? file_read(key, MAX_PEM, NULL, &e) : NULL;
		if (key_pem == NULL) {
			free(cert_pem);
			return failure_set(err, "%s", e.message);
		}
	} else if (issue_server_pems(cfg, cluster, &cert_pem, &key_pem, err) != 0) {
		return -1;
	}
	rc = add_row(kek, name, cert_pem, key_pem, err);
	free(cert_pem);
	bdl_free_secret(key_pem);
	return rc < 0 ? -1 : 0;
}

/* The served certificate kept in the store, into m. */
static int shared_server(const struct config *cfg, const unsigned char *kek, struct tls_material *m,
			 struct failure *err)
{
	struct tls_row r;

	if (get_or_make("server", &r, first_server, &m->cluster, cfg, kek, err) != 0)
		return -1;
	m->key_pem = unseal_row(kek, "served certificate", &r, err);
	m->cert_pem = r.cert_pem;
	r.cert_pem = NULL;
	atomic_store(&m->served_version, r.version);
	store_tls_row_free(&r);
	return m->key_pem != NULL ? 0 : -1;
}

int tls_load_shared(const struct config *cfg, const unsigned char *kek, struct tls_material *m,
		    struct failure *err)
{
	memset(m, 0, sizeof(*m));
	m->shared = true;
	/* a row another replica adds meanwhile wins: both read back the stored one */
	if (shared_ca(cfg, kek, "cluster-ca", "authd cluster CA", &m->cluster, err) != 0 ||
	    shared_ca(cfg, kek, "client-ca", "authd client CA", &m->client, err) != 0 ||
	    ca_views(m, err) != 0)
		goto fail;
	if (cfg->tls_cert == NULL && shared_server(cfg, kek, m, err) != 0)
		goto fail;
	if (cfg->tls_cert != NULL &&
	    ((m->cert_pem = file_read(cfg->tls_cert, MAX_PEM, NULL, err)) == NULL ||
	     (m->key_pem = file_read(cfg->tls_key, MAX_PEM, NULL, err)) == NULL))
		goto fail;
	return 0;
fail:
	tls_free(m);
	return -1;
}

int tls_reload_served(const struct config *cfg, const unsigned char *kek, struct tls_material *m)
{
	struct failure err;
	struct tls_row r;
	int64_t v = 0;
	char *key;
	int rc;

	if (m == NULL || !m->shared || cfg->tls_cert != NULL)
		return 0;
	if (store_tls_version("server", &v) != STORE_OK || v == atomic_load(&m->served_version))
		return 0;
	if (store_tls_get("server", &r) != STORE_OK)
		return -1;
	key = unseal_row(kek, "served certificate", &r, &err);
	rc = key != NULL ? servercert_set(r.cert_pem, key, &err) : -1;
	/* a version that cannot be served is said once, not at every tick; the old one stays */
	atomic_store(&m->served_version, r.version);
	if (rc == 0)
		log_msg(LOG_INFO, "serving the stored certificate's version %lld",
			(long long)r.version);
	else
		log_msg(LOG_ERROR, "served certificate in the store: %s", err.message);
	bdl_free_secret(key);
	store_tls_row_free(&r);
	return rc;
}

int tls_store_served(const unsigned char *kek, const char *ca, const char *cert, const char *key)
{
	struct tls_row r = {.cert_pem = (char *)cert, .ca_pem = (char *)ca};
	int rc;

	r.key_sealed = secret_seal(kek, key);
	if (r.key_sealed == NULL)
		return STORE_ERROR;
	rc = store_tls_set("server", &r);
	free(r.key_sealed);
	return rc;
}

void tls_free(struct tls_material *m)
{
	bdl_ca_free(&m->cluster);
	bdl_ca_free(&m->client);
	free(m->cluster_pem);
	free(m->cas_pem);
	X509_STORE_free(m->client_trust);
	X509_STORE_free(m->engine_trust);
	free(m->cert_pem);
	bdl_free_secret(m->key_pem);
	memset(m, 0, sizeof(*m));
}
