/*
 * Load generator for bench/bench_bundles.sh. Three modes, each running four
 * threads for a fixed time and printing requests (or issues) per second:
 *   --raw SECONDS                     key generation + client-certificate signing with
 *                                     OpenSSL alone, in process (the reference)
 *   --https URL TOKEN CAFILE SECONDS  GET of a client bundle from authd
 *   --cfssl URL CAFILE SECONDS        POST /api/v1/cfssl/newcert to `cfssl serve` over HTTPS
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "bundles.h"

#define THREADS 4

struct job {
	const char *mode, *url, *token, *cafile;
	double seconds;
	struct bdl_ca ca;
	atomic_long done, failed;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/*
 * The reference: what a program using OpenSSL alone does for one bundle
 * certificate, written the plain way its documentation shows: a P-256 key,
 * an X509 with subject, validity, public key and clientAuth, signed.
 */
static int raw_once(struct job *j)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *cert = X509_new();
	X509_NAME *name = cert ? X509_get_subject_name(cert) : NULL;
	X509_EXTENSION *eku = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, "clientAuth");
	int ok = key != NULL && name != NULL && eku != NULL && X509_set_version(cert, 2) &&
		 ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) &&
		 X509_gmtime_adj(X509_getm_notBefore(cert), 0) &&
		 X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 86400) &&
		 X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					    (const unsigned char *)"bench", -1, -1, 0) &&
		 X509_set_issuer_name(cert, X509_get_subject_name(j->ca.cert)) &&
		 X509_set_pubkey(cert, key) && X509_add_ext(cert, eku, -1) &&
		 X509_sign(cert, j->ca.key, EVP_sha256());

	X509_EXTENSION_free(eku);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ok;
}

static CURL *http_handle(struct job *j, struct curl_slist **headers)
{
	CURL *c = curl_easy_init();
	char auth[256];

	curl_easy_setopt(c, CURLOPT_URL, j->url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	if (strcmp(j->mode, "--https") == 0) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", j->token);
		*headers = curl_slist_append(NULL, auth);
		curl_easy_setopt(c, CURLOPT_CAINFO, j->cafile);
	} else {
		*headers = curl_slist_append(NULL, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_CAINFO, j->cafile);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS,
				 "{\"request\":{\"CN\":\"bench\",\"key\":{\"algo\":\"ecdsa\","
				 "\"size\":256}}}");
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
	return c;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct curl_slist *headers = NULL;
	CURL *c = strcmp(j->mode, "--raw") == 0 ? NULL : http_handle(j, &headers);
	double end = now() + j->seconds;

	while (now() < end) {
		long status = 0;
		int ok;

		if (c == NULL) {
			ok = raw_once(j);
		} else {
			ok = curl_easy_perform(c) == CURLE_OK;
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
			ok = ok && status == 200;
		}
		atomic_fetch_add(ok ? &j->done : &j->failed, 1);
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_bundles --raw SECONDS | --https URL TOKEN CAFILE SECONDS |"
			" --cfssl URL CAFILE SECONDS\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct job j = {0};
	pthread_t t[THREADS];
	struct failure err;
	double start;

	if (argc < 3)
		return usage();
	j.mode = argv[1];
	if (strcmp(j.mode, "--raw") == 0 && argc == 3) {
		j.seconds = atof(argv[2]);
		if (bdl_ca_generate("bench CA", 30, &j.ca, &err) != 0)
			return 1;
	} else if (strcmp(j.mode, "--https") == 0 && argc == 6) {
		j.url = argv[2];
		j.token = argv[3];
		j.cafile = argv[4];
		j.seconds = atof(argv[5]);
	} else if (strcmp(j.mode, "--cfssl") == 0 && argc == 5) {
		j.url = argv[2];
		j.cafile = argv[3];
		j.seconds = atof(argv[4]);
	} else {
		return usage();
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	start = now();
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, &j);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("%.1f %ld %ld\n", (double)atomic_load(&j.done) / (now() - start),
	       atomic_load(&j.done), atomic_load(&j.failed));
	bdl_ca_free(&j.ca);
	curl_global_cleanup();
	return 0;
}
