/*
 * `authd engine-tls`: TLS material for a Docker engine (SPEC §7.1). The
 * server certificate is signed by the cluster CA, which every bundle's ca.pem
 * trusts. ca.pem is what dockerd --tlscacert must trust in each mode:
 * "controller" engines sit behind authd's authorization and accept bundles
 * of both CAs; "direct" engines trust only the cluster CA, so only admin
 * bundles get past their TLS handshake. --plugin-client makes instead the
 * client certificate an engine shows authd's plugin listener (authz.listen).
 * With store.keyFile in the config, the CAs are read from the store.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "engine_tls.h"
#include "http/tls.h"
#include "store/store.h"

#define ENGINE_DAYS 825
#define MAX_SANS 32

struct engine_args {
	const char *config, *data_dir, *name, *mode, *out;
	const char *sans[MAX_SANS];
	size_t nsans;
	bool plugin_client;
};

static void engine_usage(FILE *f)
{
	fprintf(f, "usage: authd engine-tls [--config FILE | --data-dir DIR] --name NAME\n"
		   "                        --san IP_OR_DNS [--san ...] --mode controller|direct\n"
		   "                        --out DIR\n"
		   "       authd engine-tls [--config FILE | --data-dir DIR] --plugin-client\n"
		   "                        --name NAME --out DIR\n"
		   "Writes server-cert.pem, server-key.pem and ca.pem for a Docker engine;\n"
		   "with --plugin-client, plugin-cert.pem, plugin-key.pem and plugin-ca.pem,\n"
		   "which the engine's plugin spec names to reach authz.listen.\n");
}

static int parse(int argc, char **argv, struct engine_args *a, struct refusal *why)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"data-dir", required_argument, NULL, 'd'},
					     {"name", required_argument, NULL, 'n'},
					     {"san", required_argument, NULL, 's'},
					     {"mode", required_argument, NULL, 'm'},
					     {"out", required_argument, NULL, 'o'},
					     {"plugin-client", no_argument, NULL, 'p'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case 'd':
			a->data_dir = optarg;
			break;
		case 'n':
			a->name = optarg;
			break;
		case 'm':
			a->mode = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 's':
			if (a->nsans == MAX_SANS)
				return refusal_set(why, "san", "at most %d --san", MAX_SANS);
			a->sans[a->nsans++] = optarg;
			break;
		case 'p':
			a->plugin_client = true;
			break;
		case 'h':
			engine_usage(stdout);
			exit(0);
		default:
			/* getopt said which */
			return refusal_set(why, "", "unknown or incomplete option");
		}
	}
	if (a->plugin_client && (a->mode != NULL || a->nsans > 0))
		return refusal_set(why, "",
				   "--plugin-client takes --name and --out, not --mode or --san");
	if (a->plugin_client)
		return a->name == NULL || a->out == NULL
			   ? refusal_set(why, "", "--name and --out are required")
			   : 0;
	if (a->name == NULL || a->mode == NULL || a->out == NULL || a->nsans == 0)
		return refusal_set(why, "", "--name, --san, --mode and --out are required");
	if (strcmp(a->mode, "controller") != 0 && strcmp(a->mode, "direct") != 0)
		return refusal_set(why, "mode", "--mode must be controller or direct");
	return 0;
}

static int write_out(const char *dir, const char *name, const char *data, int mode,
		     struct failure *err)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (file_write(path, data, strlen(data), mode, err) != 0)
		return -1;
	printf("wrote %s\n", path);
	return 0;
}

/*
 * The engine's certificate: a server certificate, or its plugin-client one
 * (OU BDL_ENGINE_PLUGIN_UNIT, which bundles never carry, so that no bundle
 * gets into the plugin listener).
 */
static X509 *issue_cert(const struct engine_args *a, const struct tls_material *m, EVP_PKEY *key,
			struct failure *err)
{
	if (a->plugin_client)
		return bdl_issue_client_cert(&m->cluster, key, a->name, BDL_ENGINE_PLUGIN_UNIT,
					     ENGINE_DAYS, err);
	return bdl_issue_server_cert(&m->cluster, key, a->name, a->sans, a->nsans, ENGINE_DAYS,
				     err);
}

static int issue(const struct engine_args *a, const struct tls_material *m, struct failure *err)
{
	static const char *const names[2][3] = {
	    {"server-key.pem", "server-cert.pem", "ca.pem"},
	    {"plugin-key.pem", "plugin-cert.pem", "plugin-ca.pem"}};
	const char *const *name = names[a->plugin_client];
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	X509 *cert = key ? issue_cert(a, m, key, err) : NULL;
	char *cert_pem = cert ? bdl_cert_pem(cert) : NULL, *key_pem = key ? bdl_key_pem(key) : NULL;
	/* the plugin's client checks authd's server certificate, which the cluster CA signs */
	const char *ca =
	    !a->plugin_client && strcmp(a->mode, "controller") == 0 ? m->cas_pem : m->cluster_pem;
	int rc = -1;

	if (cert_pem == NULL || key_pem == NULL)
		failure_set(err, "issuing the engine certificate failed%s%s", cert ? "" : ": ",
			    cert ? "" : err->message);
	else if (mkdir(a->out, 0700) != 0 && access(a->out, W_OK) != 0)
		failure_set(err, "%s: cannot create or write", a->out);
	else if (write_out(a->out, name[0], key_pem, 0600, err) == 0 &&
		 write_out(a->out, name[1], cert_pem, 0644, err) == 0 &&
		 write_out(a->out, name[2], ca, 0644, err) == 0)
		rc = 0;
	free(cert_pem);
	bdl_free_secret(key_pem);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

/*
 * The CAs: from the data dir, or from the store when store.keyFile says the
 * replicas share them there (the config's store and key file, as authd's).
 */
static int load_cas(const struct config *cfg, struct tls_material *m, struct failure *err)
{
	unsigned char kek[SECRET_KEY_LEN];
	int rc;

	if (cfg->store_key_file == NULL)
		return tls_load_cas(cfg->data_dir, m, err);
	if (secret_key_file_read(cfg->store_key_file, kek, err) != 0)
		return -1;
	rc = store_open_config(cfg, err) == STORE_OK ? tls_load_shared(cfg, kek, m, err) : -1;
	store_close();
	OPENSSL_cleanse(kek, sizeof(kek));
	return rc;
}

int engine_tls_main(int argc, char **argv)
{
	struct engine_args a;
	struct config cfg;
	struct tls_material m;
	struct refusal why;
	struct failure err = {"out of memory"};
	int rc = 1;

	config_defaults(&cfg);
	if (parse(argc, argv, &a, &why) != 0 ||
	    (a.config != NULL && config_load_file(&cfg, a.config, &why) != 0)) {
		fprintf(stderr, "authd engine-tls: %s\n", why.message);
		engine_usage(stderr);
		config_free(&cfg);
		return 2;
	}
	if ((a.data_dir == NULL || config_set_string(&cfg.data_dir, a.data_dir) == 0) &&
	    tls_make_dirs(cfg.data_dir, &err) == 0 && load_cas(&cfg, &m, &err) == 0) {
		rc = issue(&a, &m, &err) == 0 ? 0 : 1;
		tls_free(&m);
	}
	if (rc != 0)
		fprintf(stderr, "authd engine-tls: %s\n", err.message);
	config_free(&cfg);
	return rc;
}
