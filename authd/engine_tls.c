/*
 * `authd engine-tls`: TLS material for a Docker engine (SPEC §7.1). The
 * server certificate is signed by the cluster CA, which every bundle's ca.pem
 * trusts. ca.pem is what dockerd --tlscacert must trust in each mode:
 * "controller" engines sit behind authd's authorization and accept bundles
 * of both CAs; "direct" engines trust only the cluster CA, so only admin
 * bundles get past their TLS handshake.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_tls.h"
#include "tls.h"

#define ENGINE_DAYS 825
#define MAX_SANS 32

struct engine_args {
	const char *config, *data_dir, *name, *mode, *out;
	const char *sans[MAX_SANS];
	size_t nsans;
};

static void engine_usage(FILE *f)
{
	fprintf(f, "usage: authd engine-tls [--config FILE | --data-dir DIR] --name NAME\n"
		   "                        --san IP_OR_DNS [--san ...] --mode controller|direct\n"
		   "                        --out DIR\n"
		   "Writes server-cert.pem, server-key.pem and ca.pem for a Docker engine.\n");
}

static int parse(int argc, char **argv, struct engine_args *a, char *err, size_t errlen)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"data-dir", required_argument, NULL, 'd'},
	    {"name", required_argument, NULL, 'n'},   {"san", required_argument, NULL, 's'},
	    {"mode", required_argument, NULL, 'm'},   {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0}};
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
			if (a->nsans == MAX_SANS) {
				snprintf(err, errlen, "at most %d --san", MAX_SANS);
				return -1;
			}
			a->sans[a->nsans++] = optarg;
			break;
		case 'h':
			engine_usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (a->name == NULL || a->mode == NULL || a->out == NULL || a->nsans == 0) {
		snprintf(err, errlen, "--name, --san, --mode and --out are required");
		return -1;
	}
	if (strcmp(a->mode, "controller") != 0 && strcmp(a->mode, "direct") != 0) {
		snprintf(err, errlen, "--mode must be controller or direct");
		return -1;
	}
	return 0;
}

static int write_out(const char *dir, const char *name, const char *data, int mode, char *err,
		     size_t errlen)
{
	char path[4096], e[BDL_ERRLEN];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (bdl_write_file(path, data, strlen(data), mode, e) != 0) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	printf("wrote %s\n", path);
	return 0;
}

static int issue(const struct engine_args *a, const struct tls_material *m, char *err,
		 size_t errlen)
{
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	char e[BDL_ERRLEN];
	X509 *cert = key ? bdl_issue_server_cert(&m->cluster, key, a->name, a->sans, a->nsans,
						 ENGINE_DAYS, e)
			 : NULL;
	char *cert_pem = cert ? bdl_cert_pem(cert) : NULL, *key_pem = key ? bdl_key_pem(key) : NULL;
	const char *ca = strcmp(a->mode, "controller") == 0 ? m->cas_pem : m->cluster_pem;
	int rc = -1;

	if (cert_pem == NULL || key_pem == NULL)
		snprintf(err, errlen, "issuing the engine certificate failed");
	else if (mkdir(a->out, 0700) != 0 && access(a->out, W_OK) != 0)
		snprintf(err, errlen, "%s: cannot create or write", a->out);
	else if (write_out(a->out, "server-key.pem", key_pem, 0600, err, errlen) == 0 &&
		 write_out(a->out, "server-cert.pem", cert_pem, 0644, err, errlen) == 0 &&
		 write_out(a->out, "ca.pem", ca, 0644, err, errlen) == 0)
		rc = 0;
	free(cert_pem);
	bdl_free_secret(key_pem);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int engine_tls_main(int argc, char **argv)
{
	struct engine_args a;
	struct config cfg;
	struct tls_material m;
	char err[ERRLEN];
	int rc = 1;

	config_defaults(&cfg);
	if (parse(argc, argv, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "authd engine-tls: %s\n", err);
		engine_usage(stderr);
		config_free(&cfg);
		return 2;
	}
	if ((a.config == NULL || config_load_file(&cfg, a.config, err, sizeof(err)) == 0) &&
	    (a.data_dir == NULL || config_set_string(&cfg.data_dir, a.data_dir) == 0) &&
	    tls_make_dirs(cfg.data_dir, err, sizeof(err)) == 0 &&
	    tls_load_cas(cfg.data_dir, &m, err, sizeof(err)) == 0) {
		rc = issue(&a, &m, err, sizeof(err)) == 0 ? 0 : 1;
		tls_free(&m);
	}
	if (rc != 0)
		fprintf(stderr, "authd engine-tls: %s\n", err);
	config_free(&cfg);
	return rc;
}
