/*
 * Unit tests of libbundles: keys, CAs, server certificates and file writes.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/x509v3.h>

#include "bundles.h"
#include "unit.h"

static char dir[] = "/tmp/test_bundles.XXXXXX";

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

START_TEST(parses_key_types)
{
	enum bdl_key_type t;

	ck_assert_int_eq(bdl_key_type_parse("ecdsa-p256", &t), 0);
	ck_assert_int_eq(t, BDL_KEY_ECDSA_P256);
	ck_assert_int_eq(bdl_key_type_parse("rsa-2048", &t), 0);
	ck_assert_int_eq(t, BDL_KEY_RSA_2048);
	ck_assert_int_eq(bdl_key_type_parse("rsa-4096", &t), 0);
	ck_assert_int_eq(t, BDL_KEY_RSA_4096);
	ck_assert_int_eq(bdl_key_type_parse("rsa-1024", &t), -1);
	ck_assert_int_eq(bdl_key_type_parse("", &t), -1);
}
END_TEST

START_TEST(generates_keys)
{
	EVP_PKEY *k = bdl_key_generate(BDL_KEY_ECDSA_P256);

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
	ck_assert_int_eq(EVP_PKEY_get_bits(k), 256);
	EVP_PKEY_free(k);
	k = bdl_key_generate(BDL_KEY_RSA_2048);
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(EVP_PKEY_get_base_id(k), EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_bits(k), 2048);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(makes_a_self_signed_ca)
{
	struct bdl_ca ca;
	struct failure err;

	ck_assert_int_eq(bdl_ca_generate("test CA", 3650, &ca, &err), 0);
	ck_assert_int_eq(X509_check_ca(ca.cert), 1);
	ck_assert_int_eq(X509_verify(ca.cert, ca.key), 1);
	ck_assert_int_eq(
	    X509_NAME_cmp(X509_get_subject_name(ca.cert), X509_get_issuer_name(ca.cert)), 0);
	ck_assert_int_eq(EVP_PKEY_get_base_id(ca.key), EVP_PKEY_EC);
	bdl_ca_free(&ca);
}
END_TEST

START_TEST(saves_and_loads_a_ca)
{
	char cert[512], key[512];
	struct failure err;
	struct bdl_ca ca, back;
	struct stat st;

	path_in(cert, sizeof(cert), "ca.pem");
	path_in(key, sizeof(key), "ca-key.pem");
	ck_assert_int_eq(bdl_ca_generate("test CA", 30, &ca, &err), 0);
	ck_assert_int_eq(bdl_ca_save(&ca, cert, key, &err), 0);
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(bdl_ca_load(cert, key, &back, &err), 0);
	ck_assert_int_eq(X509_cmp(ca.cert, back.cert), 0);
	ck_assert_int_eq(EVP_PKEY_eq(ca.key, back.key), 1);
	bdl_ca_free(&ca);
	bdl_ca_free(&back);
}
END_TEST

START_TEST(refuses_a_ca_whose_key_does_not_match)
{
	char cert[512], key[512], key2[512];
	struct failure err;
	struct bdl_ca a, b, back;

	path_in(cert, sizeof(cert), "a.pem");
	path_in(key, sizeof(key), "a-key.pem");
	path_in(key2, sizeof(key2), "b-key.pem");
	ck_assert_int_eq(bdl_ca_generate("A", 30, &a, &err), 0);
	ck_assert_int_eq(bdl_ca_generate("B", 30, &b, &err), 0);
	ck_assert_int_eq(bdl_ca_save(&a, cert, key, &err), 0);
	{
		char *pem = bdl_key_pem(b.key);

		ck_assert_int_eq(file_write(key2, pem, strlen(pem), 0600, &err), 0);
		bdl_free_secret(pem);
	}
	ck_assert_int_eq(bdl_ca_load(cert, key2, &back, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "does not match"));
	ck_assert_ptr_null(back.cert);
	bdl_ca_free(&a);
	bdl_ca_free(&b);
}
END_TEST

START_TEST(refuses_garbage_and_missing_files)
{
	char cert[512];
	struct failure err;
	struct bdl_ca back;

	path_in(cert, sizeof(cert), "garbage.pem");
	ck_assert_int_eq(file_write(cert, "not a certificate", 17, 0644, &err), 0);
	ck_assert_int_eq(bdl_ca_load(cert, cert, &back, &err), -1);
	ck_assert_int_eq(bdl_ca_load("/nonexistent/ca.pem", cert, &back, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/ca.pem"));
}
END_TEST

static bool has_san(X509 *cert, int type, const char *want)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	bool found = false;

	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *n = sk_GENERAL_NAME_value(names, i);

		if (n->type == type && type == GEN_DNS)
			found |=
			    strcmp((const char *)ASN1_STRING_get0_data(n->d.dNSName), want) == 0;
		if (n->type == type && type == GEN_IPADD) {
			char *ip = (char *)ASN1_STRING_get0_data(n->d.iPAddress);
			found |=
			    ASN1_STRING_length(n->d.iPAddress) == 4 && memcmp(ip, want, 4) == 0;
		}
	}
	GENERAL_NAMES_free(names);
	return found;
}

START_TEST(issues_server_certificates)
{
	const char *sans[] = {"localhost", "127.0.0.1", "engine.example.com"};
	struct bdl_ca ca;
	struct failure err;
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	X509 *cert;
	const ASN1_INTEGER *serial;

	ck_assert_int_eq(bdl_ca_generate("CA", 30, &ca, &err), 0);
	cert = bdl_issue_server_cert(&ca, key, "engine", sans, 3, 90, &err);
	ck_assert_ptr_nonnull(cert);
	ck_assert_int_eq(X509_verify(cert, ca.key), 1);
	ck_assert_int_eq(X509_check_issued(ca.cert, cert), X509_V_OK);
	ck_assert_int_eq(X509_check_ca(cert), 0);
	ck_assert(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
	ck_assert(has_san(cert, GEN_DNS, "localhost"));
	ck_assert(has_san(cert, GEN_DNS, "engine.example.com"));
	ck_assert(has_san(cert, GEN_IPADD, "\x7f\x00\x00\x01"));
	ck_assert(!has_san(cert, GEN_DNS, "127.0.0.1"));
	serial = X509_get0_serialNumber(cert);
	ck_assert_int_le(ASN1_STRING_length(serial), 16);
	ck_assert_int_ge(ASN1_STRING_length(serial), 8);
	X509_free(cert);
	EVP_PKEY_free(key);
	bdl_ca_free(&ca);
}
END_TEST

START_TEST(writes_files_whole_with_their_mode)
{
	char path[512];
	struct failure err;
	struct stat st;
	size_t len;
	char *back;

	path_in(path, sizeof(path), "secret");
	ck_assert_int_eq(file_write(path, "abc", 3, 0600, &err), 0);
	ck_assert_int_eq(file_write(path, "defg", 4, 0600, &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	back = file_read(path, 100, &len, &err);
	ck_assert_str_eq(back, "defg");
	ck_assert_uint_eq(len, 4);
	free(back);
	ck_assert_ptr_null(file_read(path, 3, &len, &err));
	ck_assert_ptr_nonnull(strstr(err.message, "too large"));
	ck_assert_int_eq(file_write("/nonexistent/dir/x", "a", 1, 0600, &err), -1);
}
END_TEST

START_TEST(issues_client_certificates)
{
	struct bdl_ca ca;
	char fp[65], fp2[65], cn[128], ou[128];
	struct failure err;
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_RSA_2048);
	X509 *cert;
	char *pub;

	ck_assert_int_eq(bdl_ca_generate("CA", 30, &ca, &err), 0);
	cert = bdl_issue_client_cert(&ca, key, "alice", "user", 365, &err);
	ck_assert_ptr_nonnull(cert);
	ck_assert_int_eq(X509_verify(cert, ca.key), 1);
	ck_assert(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT);
	ck_assert(!(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER));
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_organizationalUnitName, ou,
				  sizeof(ou));
	ck_assert_str_eq(cn, "alice");
	ck_assert_str_eq(ou, "user");
	ck_assert_int_eq(bdl_cert_fingerprint(cert, fp), 0);
	ck_assert_int_eq(bdl_cert_fingerprint(cert, fp2), 0);
	ck_assert_uint_eq(strlen(fp), 64);
	ck_assert_str_eq(fp, fp2);
	pub = bdl_public_key_pem(cert);
	ck_assert_ptr_nonnull(strstr(pub, "BEGIN PUBLIC KEY"));
	free(pub);
	X509_free(cert);
	EVP_PKEY_free(key);
	bdl_ca_free(&ca);
}
END_TEST

/* Unzips `zip` into a fresh folder under dir and returns the folder's path. */
static void unzip_to(const unsigned char *zip, size_t len, const char *name, char *out,
		     size_t outlen)
{
	char path[512], cmd[1200];
	struct failure err;

	snprintf(path, sizeof(path), "%s/%s.zip", dir, name);
	snprintf(out, outlen, "%s/%s", dir, name);
	ck_assert_int_eq(file_write(path, (const char *)zip, len, 0600, &err), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir '%s' && cd '%s' && unzip -q '%s'", out,
		 out, out, path);
	ck_assert_int_eq(system(cmd), 0);
}

static char *read_in(const char *folder, const char *file)
{
	char path[1024];
	struct failure err;

	snprintf(path, sizeof(path), "%s/%s", folder, file);
	return file_read(path, 1 << 20, NULL, &err);
}

START_TEST(makes_the_bundle_zip)
{
	const char *engines[] = {"tcp://engine-1:2376", "tcp://engine-2:2376\nrm -rf /"};
	struct bdl_bundle b = {.ca_pem = "CA PEM\n",
			       .cert_pem = "CERT PEM\n",
			       .key_pem = "KEY PEM\n",
			       .pub_pem = "PUB PEM\n",
			       .account = "alice",
			       .label = "laptop \"x\"",
			       .key_id = "0f0e-key-id",
			       .scope = "admin",
			       .not_after = "2027-11-23T00:00:00Z",
			       .docker_host = "tcp://127.0.0.1:2376",
			       .engine_hosts = engines,
			       .n_engine_hosts = 2};
	char folder[600], ctx[700], cmd[800];
	struct failure err;
	const char *files[] = {"ca.pem",   "cert.pem", "key.pem", "cert.pub",
			       "env.sh",   "env.ps1",  "env.cmd", "docker-context.zip",
			       "meta.json"};
	unsigned char *zip;
	size_t len;
	char *s;
	struct stat st;

	ck_assert_int_eq(bdl_make_zip(&b, &zip, &len, &err), 0);
	unzip_to(zip, len, "bundle", folder, sizeof(folder));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *f = read_in(folder, files[i]);

		ck_assert_msg(f != NULL, "%s missing", files[i]);
		free(f);
	}
	s = read_in(folder, "key.pem");
	ck_assert_str_eq(s, "KEY PEM\n");
	free(s);
	snprintf(cmd, sizeof(cmd), "%s/key.pem", folder);
	ck_assert_int_eq(stat(cmd, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	s = read_in(folder, "env.sh");
	ck_assert_ptr_nonnull(strstr(s, "export DOCKER_TLS_VERIFY=1\n"));
	ck_assert_ptr_nonnull(strstr(s, "export DOCKER_CERT_PATH=\"$PWD\"\n"));
	ck_assert_ptr_nonnull(strstr(s, "export DOCKER_HOST='tcp://127.0.0.1:2376'\n"));
	ck_assert_ptr_nonnull(strstr(s, "COMPOSE_TLS_VERSION=TLSv1_2"));
	ck_assert_ptr_nonnull(strstr(s, "eval \"$(<env.sh)\""));
	ck_assert_ptr_nonnull(strstr(s, "#   tcp://engine-1:2376\n"));
	/* a newline in a configured value cannot break out of its comment */
	ck_assert_ptr_null(strstr(s, "\nrm -rf"));
	free(s);
	s = read_in(folder, "env.ps1");
	ck_assert_ptr_nonnull(strstr(s, "Split-Path $script:MyInvocation.MyCommand.Path"));
	ck_assert_ptr_nonnull(strstr(s, "$Env:DOCKER_HOST = \"tcp://127.0.0.1:2376\""));
	free(s);
	s = read_in(folder, "env.cmd");
	ck_assert_ptr_nonnull(strstr(s, "set DOCKER_CERT_PATH=%~dp0"));
	free(s);
	s = read_in(folder, "meta.json");
	ck_assert_ptr_nonnull(strstr(s, "\"label\": \"laptop \\\"x\\\"\""));
	ck_assert_ptr_nonnull(strstr(s, "\"scope\": \"admin\""));
	ck_assert_ptr_nonnull(strstr(s, "\"keyID\": \"0f0e-key-id\""));
	free(s);
	/* the zip comment is the key id */
	ck_assert(len > 11 && memcmp(zip + len - 11, "0f0e-key-id", 11) == 0);
	bdl_free_bytes(zip, len);

	s = read_in(folder, "docker-context.zip");
	free(s);
	snprintf(cmd, sizeof(cmd), "%s/docker-context.zip", folder);
	snprintf(ctx, sizeof(ctx), "%s/ctx", dir);
	{
		char c[2000];

		snprintf(c, sizeof(c), "rm -rf '%s' && mkdir '%s' && cd '%s' && unzip -q '%s'", ctx,
			 ctx, ctx, cmd);
		ck_assert_int_eq(system(c), 0);
	}
	s = read_in(ctx, "meta.json");
	ck_assert_ptr_nonnull(strstr(s, "\"Host\":\"tcp://127.0.0.1:2376\""));
	free(s);
	s = read_in(ctx, "tls/docker/key.pem");
	ck_assert_str_eq(s, "KEY PEM\n");
	free(s);
}
END_TEST

START_TEST(user_bundles_list_no_engines_and_may_lack_a_host)
{
	const char *engines[] = {"tcp://engine-1:2376"};
	struct bdl_bundle b = {.ca_pem = "C",
			       .cert_pem = "C",
			       .key_pem = "K",
			       .pub_pem = "P",
			       .account = "bob",
			       .label = "l",
			       .key_id = "id",
			       .scope = "user",
			       .not_after = "t",
			       .docker_host = "",
			       .engine_hosts = engines,
			       .n_engine_hosts = 1};
	char folder[600];
	struct failure err;
	unsigned char *zip;
	size_t len;
	char *s;

	ck_assert_int_eq(bdl_make_zip(&b, &zip, &len, &err), 0);
	unzip_to(zip, len, "userbundle", folder, sizeof(folder));
	bdl_free_bytes(zip, len);
	s = read_in(folder, "env.sh");
	ck_assert_ptr_null(strstr(s, "engine-1"));
	ck_assert_ptr_null(strstr(s, "export DOCKER_HOST"));
	ck_assert_ptr_nonnull(strstr(s, "set DOCKER_HOST yourself"));
	free(s);
}
END_TEST

/* A CA, and a server certificate and key it signed, as PEM. */
struct material {
	char *ca, *cert, *key, *other_key;
};

static void make_material(struct material *m, int days)
{
	const char *sans[] = {"127.0.0.1"};
	struct bdl_ca ca;
	struct failure err;
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	EVP_PKEY *other = bdl_key_generate(BDL_KEY_ECDSA_P256);
	X509 *cert;

	ck_assert_int_eq(bdl_ca_generate("CA", 30, &ca, &err), 0);
	cert = bdl_issue_server_cert(&ca, key, "srv", sans, 1, days, &err);
	ck_assert_ptr_nonnull(cert);
	m->ca = bdl_cert_pem(ca.cert);
	m->cert = bdl_cert_pem(cert);
	m->key = bdl_key_pem(key);
	m->other_key = bdl_key_pem(other);
	X509_free(cert);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	bdl_ca_free(&ca);
}

static void free_material(struct material *m)
{
	free(m->ca);
	free(m->cert);
	bdl_free_secret(m->key);
	bdl_free_secret(m->other_key);
}

static void expect_refusal(const char *ca, const char *cert, const char *key, const char *field,
			   const char *message)
{
	struct refusal why;

	ck_assert_int_eq(bdl_check_server_material(ca, cert, key, &why), -1);
	ck_assert_str_eq(why.field, field);
	ck_assert_msg(strstr(why.message, message) != NULL, "\"%s\" lacks \"%s\"", why.message,
		      message);
}

START_TEST(accepts_good_server_material)
{
	struct material m, other;
	struct refusal why;

	make_material(&m, 30);
	make_material(&other, 30);
	ck_assert_int_eq(bdl_check_server_material(m.ca, m.cert, m.key, &why), 0);
	expect_refusal("garbage", m.cert, m.key, "ca", "not a PEM certificate");
	expect_refusal(m.ca, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		       m.key, "cert", "not a PEM certificate");
	expect_refusal(m.ca, m.cert,
		       "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "key",
		       "not an unencrypted PEM private key");
	expect_refusal(
	    m.ca, m.cert,
	    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
	    "key", "encrypted");
	expect_refusal(m.ca, m.cert, m.other_key, "key", "does not match");
	expect_refusal(other.ca, m.cert, m.key, "cert", "does not verify to the CA");
	free_material(&m);
	free_material(&other);
}
END_TEST

START_TEST(refuses_expired_server_certificates)
{
	struct material m;

	/* issued 60 s in the past with a validity of 0 days: expired a minute ago */
	make_material(&m, 0);
	expect_refusal(m.ca, m.cert, m.key, "cert", "expired");
	free_material(&m);
}
END_TEST

START_TEST(verifies_client_certificates)
{
	struct bdl_ca ca, other;
	struct failure err;
	struct refusal why;
	char cn[64];
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	const char *sans[] = {"localhost"};
	X509 *client, *server, *foreign;
	X509_STORE *trust;

	ck_assert_int_eq(bdl_ca_generate("CA", 30, &ca, &err), 0);
	ck_assert_int_eq(bdl_ca_generate("Other", 30, &other, &err), 0);
	trust = bdl_trust_new(&ca.cert, 1);
	client = bdl_issue_client_cert(&ca, key, "bob", "user", 30, &err);
	/* as a relying party sees it: parsed from its encoding */
	{
		char *pem = bdl_cert_pem(client);

		X509_free(client);
		client = bdl_cert_from_pem(pem, &why);
		free(pem);
	}
	server = bdl_issue_server_cert(&ca, key, "srv", sans, 1, 30, &err);
	foreign = bdl_issue_client_cert(&other, key, "bob", "user", 30, &err);
	{
		char *pem = bdl_cert_pem(foreign);

		X509_free(foreign);
		foreign = bdl_cert_from_pem(pem, &why);
		free(pem);
	}
	ck_assert_int_eq(bdl_verify_client_cert(trust, client, cn, sizeof(cn), &why), 0);
	ck_assert_str_eq(cn, "bob");
	ck_assert_int_eq(bdl_verify_client_cert(trust, server, cn, sizeof(cn), &why), -1);
	ck_assert_ptr_nonnull(strstr(why.message, "not for client authentication"));
	ck_assert_int_eq(bdl_verify_client_cert(trust, foreign, cn, sizeof(cn), &why), -1);
	ck_assert_ptr_nonnull(strstr(why.message, "not issued by this authd"));
	ck_assert_ptr_null(bdl_cert_from_pem("garbage", &why));
	ck_assert_ptr_null(bdl_cert_from_pem("", &why));
	X509_free(client);
	X509_free(server);
	X509_free(foreign);
	X509_STORE_free(trust);
	EVP_PKEY_free(key);
	bdl_ca_free(&ca);
	bdl_ca_free(&other);
}
END_TEST

/* DER of a certificate, parsed back as a relying party would see it; OPENSSL_free it. */
static unsigned char *der_of(X509 *cert, int *len)
{
	unsigned char *der = NULL;

	*len = i2d_X509(cert, &der);
	ck_assert_int_gt(*len, 0);
	return der;
}

/* Only the cluster CA's certificates with OU engine-plugin pass as an engine's. */
START_TEST(engine_plugin_certificates)
{
	struct bdl_ca cluster, client_ca;
	struct failure err;
	struct refusal why;
	char cn[64];
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	const char *sans[] = {"localhost"};
	X509 *certs[5];
	X509_STORE *trust;
	int len;

	ck_assert_int_eq(bdl_ca_generate("cluster", 30, &cluster, &err), 0);
	ck_assert_int_eq(bdl_ca_generate("client", 30, &client_ca, &err), 0);
	trust = bdl_trust_new(&cluster.cert, 1);
	certs[0] = bdl_issue_client_cert(&cluster, key, "node1", BDL_ENGINE_PLUGIN_UNIT, 30, &err);
	certs[1] = bdl_issue_client_cert(&cluster, key, "admin", "admin", 30, &err);
	certs[2] = bdl_issue_client_cert(&client_ca, key, "bob", BDL_ENGINE_PLUGIN_UNIT, 30, &err);
	certs[3] = bdl_issue_server_cert(&cluster, key, "node1", sans, 1, 30, &err);
	certs[4] = bdl_issue_client_cert(&cluster, key, "x", BDL_ENGINE_PLUGIN_UNIT "x", 30, &err);
	for (int i = 0; i < 5; i++) {
		unsigned char *der = der_of(certs[i], &len);
		int rc =
		    bdl_verify_engine_plugin_cert(trust, der, (size_t)len, cn, sizeof(cn), &why);

		ck_assert_msg(rc == (i == 0 ? 0 : -1), "certificate %d: %d (%s)", i, rc,
			      why.message);
		OPENSSL_free(der);
	}
	ck_assert_int_eq(bdl_verify_engine_plugin_cert(trust, (const unsigned char *)"junk", 4, cn,
						       sizeof(cn), &why),
			 -1);
	ck_assert_ptr_nonnull(strstr(why.message, "cannot be read"));
	for (int i = 0; i < 5; i++)
		X509_free(certs[i]);
	X509_STORE_free(trust);
	EVP_PKEY_free(key);
	bdl_ca_free(&cluster);
	bdl_ca_free(&client_ca);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bundles");
	TCase *tc = tcase_create("ca");

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	tcase_add_test(tc, parses_key_types);
	tcase_add_test(tc, generates_keys);
	tcase_add_test(tc, makes_a_self_signed_ca);
	tcase_add_test(tc, saves_and_loads_a_ca);
	tcase_add_test(tc, refuses_a_ca_whose_key_does_not_match);
	tcase_add_test(tc, refuses_garbage_and_missing_files);
	tcase_add_test(tc, issues_server_certificates);
	tcase_add_test(tc, writes_files_whole_with_their_mode);
	tcase_add_test(tc, issues_client_certificates);
	tcase_add_test(tc, makes_the_bundle_zip);
	tcase_add_test(tc, user_bundles_list_no_engines_and_may_lack_a_host);
	tcase_add_test(tc, accepts_good_server_material);
	tcase_add_test(tc, refuses_expired_server_certificates);
	tcase_add_test(tc, verifies_client_certificates);
	tcase_add_test(tc, engine_plugin_certificates);
	suite_add_tcase(s, tc);
	return unit_run(s, dir);
}
