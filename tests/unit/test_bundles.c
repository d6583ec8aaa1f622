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
	char err[BDL_ERRLEN];

	ck_assert_int_eq(bdl_ca_generate("test CA", 3650, &ca, err), 0);
	ck_assert_int_eq(X509_check_ca(ca.cert), 1);
	ck_assert_int_eq(X509_verify(ca.cert, ca.key), 1);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(ca.cert),
				       X509_get_issuer_name(ca.cert)),
			 0);
	ck_assert_int_eq(EVP_PKEY_get_base_id(ca.key), EVP_PKEY_EC);
	bdl_ca_free(&ca);
}
END_TEST

START_TEST(saves_and_loads_a_ca)
{
	char cert[512], key[512], err[BDL_ERRLEN];
	struct bdl_ca ca, back;
	struct stat st;

	path_in(cert, sizeof(cert), "ca.pem");
	path_in(key, sizeof(key), "ca-key.pem");
	ck_assert_int_eq(bdl_ca_generate("test CA", 30, &ca, err), 0);
	ck_assert_int_eq(bdl_ca_save(&ca, cert, key, err), 0);
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(bdl_ca_load(cert, key, &back, err), 0);
	ck_assert_int_eq(X509_cmp(ca.cert, back.cert), 0);
	ck_assert_int_eq(EVP_PKEY_eq(ca.key, back.key), 1);
	bdl_ca_free(&ca);
	bdl_ca_free(&back);
}
END_TEST

START_TEST(refuses_a_ca_whose_key_does_not_match)
{
	char cert[512], key[512], key2[512], err[BDL_ERRLEN];
	struct bdl_ca a, b, back;

	path_in(cert, sizeof(cert), "a.pem");
	path_in(key, sizeof(key), "a-key.pem");
	path_in(key2, sizeof(key2), "b-key.pem");
	ck_assert_int_eq(bdl_ca_generate("A", 30, &a, err), 0);
	ck_assert_int_eq(bdl_ca_generate("B", 30, &b, err), 0);
	ck_assert_int_eq(bdl_ca_save(&a, cert, key, err), 0);
	{
		char *pem = bdl_key_pem(b.key);

		ck_assert_int_eq(bdl_write_file(key2, pem, strlen(pem), 0600, err), 0);
		bdl_free_secret(pem);
	}
	ck_assert_int_eq(bdl_ca_load(cert, key2, &back, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "does not match"));
	ck_assert_ptr_null(back.cert);
	bdl_ca_free(&a);
	bdl_ca_free(&b);
}
END_TEST

START_TEST(refuses_garbage_and_missing_files)
{
	char cert[512], err[BDL_ERRLEN];
	struct bdl_ca back;

	path_in(cert, sizeof(cert), "garbage.pem");
	ck_assert_int_eq(bdl_write_file(cert, "not a certificate", 17, 0644, err), 0);
	ck_assert_int_eq(bdl_ca_load(cert, cert, &back, err), -1);
	ck_assert_int_eq(bdl_ca_load("/nonexistent/ca.pem", cert, &back, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/ca.pem"));
}
END_TEST

static bool has_san(X509 *cert, int type, const char *want)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	bool found = false;

	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *n = sk_GENERAL_NAME_value(names, i);

		if (n->type == type && type == GEN_DNS)
			found |= strcmp((const char *)ASN1_STRING_get0_data(n->d.dNSName), want) == 0;
		if (n->type == type && type == GEN_IPADD) {
			char *ip = (char *)ASN1_STRING_get0_data(n->d.iPAddress);
			found |= ASN1_STRING_length(n->d.iPAddress) == 4 &&
				 memcmp(ip, want, 4) == 0;
		}
	}
	GENERAL_NAMES_free(names);
	return found;
}

START_TEST(issues_server_certificates)
{
	const char *sans[] = {"localhost", "127.0.0.1", "engine.example.com"};
	struct bdl_ca ca;
	char err[BDL_ERRLEN];
	EVP_PKEY *key = bdl_key_generate(BDL_KEY_ECDSA_P256);
	X509 *cert;
	const ASN1_INTEGER *serial;

	ck_assert_int_eq(bdl_ca_generate("CA", 30, &ca, err), 0);
	cert = bdl_issue_server_cert(&ca, key, "engine", sans, 3, 90, err);
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
	char path[512], err[BDL_ERRLEN];
	struct stat st;
	size_t len;
	char *back;

	path_in(path, sizeof(path), "secret");
	ck_assert_int_eq(bdl_write_file(path, "abc", 3, 0600, err), 0);
	ck_assert_int_eq(bdl_write_file(path, "defg", 4, 0600, err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	back = bdl_read_file(path, 100, &len, err);
	ck_assert_str_eq(back, "defg");
	ck_assert_uint_eq(len, 4);
	free(back);
	ck_assert_ptr_null(bdl_read_file(path, 3, &len, err));
	ck_assert_ptr_nonnull(strstr(err, "too large"));
	ck_assert_int_eq(bdl_write_file("/nonexistent/dir/x", "a", 1, 0600, err), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bundles");
	TCase *tc = tcase_create("ca");
	SRunner *sr;
	int failed;

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
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return failed ? 1 : 0;
}
