/*
 * authd's own HTTPS certificate (SPEC §7.5): what is served, and replacing
 * it. An upload is checked whole before anything is written; once stored it
 * serves new connections at once, and on refusal the old one stays. Where
 * replicas share the store's (store.keyFile) it goes there, its key sealed.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>

#include "api.h"
#include "bundles.h"
#include "changes.h"
#include "http/servercert.h"
#include "http/tls.h"

#define UPLOAD_MAX (64 * 1024)

static json_t *name_json(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	json_t *s = NULL;
	char *data;
	long len;

	if (bio == NULL)
		return json_string("");
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
	len = BIO_get_mem_data(bio, &data);
	s = json_stringn(data, (size_t)len);
	BIO_free(bio);
	return s ? s : json_string("");
}

static json_t *sans_json(X509 *cert)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	json_t *list = json_array();

	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *n = sk_GENERAL_NAME_value(names, i);
		char ip[INET6_ADDRSTRLEN], dns[256];
		int len;

		/* an uploaded certificate's names are not checked to be text */
		if (n->type == GEN_DNS) {
			json_array_append_new(
			    list, json_string(utf8_clean(
				      dns, sizeof(dns),
				      (const char *)ASN1_STRING_get0_data(n->d.dNSName))));
		} else if (n->type == GEN_IPADD) {
			len = ASN1_STRING_length(n->d.iPAddress);
			if ((len == 4 || len == 16) &&
			    inet_ntop(len == 4 ? AF_INET : AF_INET6,
				      ASN1_STRING_get0_data(n->d.iPAddress), ip, sizeof(ip)))
				json_array_append_new(list, json_string(ip));
		}
	}
	GENERAL_NAMES_free(names);
	return list;
}

static json_t *describe(X509 *cert, const char *source)
{
	char fp[65] = "", nb[32], na[32];
	struct tm tm;

	bdl_cert_fingerprint(cert, fp);
	ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm);
	format_time((int64_t)timegm(&tm), nb, sizeof(nb));
	format_time(bdl_cert_not_after(cert), na, sizeof(na));
	return json_pack("{s:o, s:o, s:o, s:s, s:s, s:s, s:s}", "subject",
			 name_json(X509_get_subject_name(cert)), "issuer",
			 name_json(X509_get_issuer_name(cert)), "sans", sans_json(cert),
			 "notBefore", nb, "notAfter", na, "fingerprint", fp, "source", source);
}

static const char *source_of(const struct config *cfg)
{
	if (cfg->tls_cert != NULL)
		return "config";
	return cfg->store_key_file != NULL ? "store" : "dataDir";
}

void api_certs_get(struct req *r, struct resp *out)
{
	struct refusal why;
	char *pem;
	X509 *cert;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	pem = servercert_pem();
	cert = pem ? bdl_cert_from_pem(pem, &why) : NULL;
	free(pem);
	if (cert == NULL) {
		resp_internal(out);
		return;
	}
	resp_json(out, 200, describe(cert, source_of(r->srv->cfg)));
	X509_free(cert);
}

/* Writes ca, key and cert to <dataDir>/tls, for the next start. */
static int persist(const char *data_dir, const char *ca, const char *cert, const char *key)
{
	const struct {
		const char *name, *data;
		int mode;
	} files[] = {{"server-ca.pem", ca, 0644},
		     {"server-key.pem", key, 0600},
		     {"server-cert.pem", cert, 0644}};
	struct failure err;
	char path[4096];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/tls/%s", data_dir, files[i].name);
		if (file_write(path, files[i].data, strlen(files[i].data), files[i].mode, &err) !=
		    0) {
			log_msg(LOG_ERROR, "certs: %s", err.message);
			return -1;
		}
	}
	return 0;
}

void api_certs_put(struct req *r, struct resp *out)
{
	const char *ca = form_string(r->body, "ca", ""), *cert = form_string(r->body, "cert", "");
	const char *key = form_string(r->body, "key", "");
	struct refusal why;
	struct failure e;
	int rc;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	if (form_check(r->body, form_certs_put, out) != 0)
		return;
	if (r->srv->cfg->tls_cert != NULL) {
		resp_error(
		    out, 409, "CONFLICT", NULL,
		    "the certificate comes from the config file (tls.cert in %s); change it there",
		    r->srv->cfg->path ? r->srv->cfg->path : "the config");
		return;
	}
	if (strlen(ca) > UPLOAD_MAX || strlen(cert) > UPLOAD_MAX || strlen(key) > UPLOAD_MAX) {
		resp_refuse(out, NULL, "each PEM must be at most 64 KiB");
		return;
	}
	if (bdl_check_server_material(ca, cert, key, &why) != 0) {
		resp_refuse(out, why.field, "%s", why.message);
		return;
	}
	/* live first: if GnuTLS cannot use it, nothing was written */
	if (servercert_set(cert, key, &e) != 0) {
		resp_refuse(out, "cert", "cert: %s", e.message);
		return;
	}
	if (r->srv->cfg->store_key_file != NULL) {
		/* the replicas' shared one: they serve it at their next tick or announcement */
		rc = tls_store_served(r->srv->store_key, ca, cert, key);
		if (rc != STORE_OK) {
			/* the next tick serves the stored one again, as the other replicas do */
			atomic_store(&r->srv->tls->served_version, -1);
			resp_store_failed(out, rc);
			return;
		}
		changes_announce(r->srv, &(struct change){.what = CHANGE_CERTS});
	} else if (persist(r->srv->cfg->data_dir, ca, cert, key) != 0) {
		resp_internal(out);
		return;
	}
	audit_log(r->srv->audit, "certs.update", r->who.name, r->client, NULL);
	api_certs_get(r, out);
}
