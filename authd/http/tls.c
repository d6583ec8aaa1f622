/*
 * authd's own TLS material. At first start it makes the cluster CA and the
 * client CA (kept in <dataDir>/ca; an admin may put their own there before)
 * and a server certificate the cluster CA signs (kept in <dataDir>/tls);
 * later starts load them. An admin may point tls.cert/tls.key elsewhere.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundles.h"
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

/* Issues <dataDir>/tls/server-{cert,key}.pem for localhost and the listen address. */
static int issue_server_cert(const struct config *cfg, const struct bdl_ca *ca,
			     const char *cert_path, const char *key_path, struct failure *err)
{
	const char *sans[5] = {"localhost", "127.0.0.1", "::1"};
	size_t n = 3;
	struct failure e;
	char host[256];
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	X509 *cert = NULL;
	char *cert_pem = NULL, *key_pem = NULL;
	int rc = -1;

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
		cert_pem = bdl_cert_pem(cert);
		key_pem = bdl_key_pem(key);
	}
	if (cert_pem != NULL && key_pem != NULL &&
	    file_write(key_path, key_pem, strlen(key_pem), 0600, &e) == 0 &&
	    file_write(cert_path, cert_pem, strlen(cert_pem), 0644, &e) == 0)
		rc = 0;
	if (rc != 0)
		failure_set(err, "server certificate: %s", e.message);
	else
		log_msg(LOG_INFO, "made a server certificate in %s", cert_path);
	free(cert_pem);
	bdl_free_secret(key_pem);
	X509_free(cert);
	EVP_PKEY_free(key);
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
