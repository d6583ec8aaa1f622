/*
 * Unit tests of libldapsync: the name rules that API input and directory
 * values share (SPEC §4, §6.3).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ldapsync.h"

/* The normalised name, or NULL; the reason lands in *why. */
static char *norm(const char *s, const char **why)
{
	return ls_name_normalize(s, strlen(s), why);
}

static void expect_ok(const char *in, const char *want)
{
	const char *why = NULL;
	char *got = norm(in, &why);

	ck_assert_msg(got != NULL, "\"%s\" refused: %s", in, why);
	ck_assert_str_eq(got, want);
	free(got);
}

static void expect_refused(const char *in, const char *why_part)
{
	const char *why = NULL;
	char *got = norm(in, &why);

	ck_assert_msg(got == NULL, "\"%s\" accepted as \"%s\"", in, got ? got : "");
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, why_part) != NULL, "\"%s\": \"%s\" lacks \"%s\"", in, why,
		      why_part);
}

START_TEST(lowercases_ascii_and_unicode)
{
	expect_ok("Alice", "alice");
	expect_ok("ÉLODIE", "élodie");
	expect_ok("STRASSE.Ü", "strasse.ü");
	expect_ok("dev-team_1.x", "dev-team_1.x");
	expect_ok("bob@example.com", "bob@example.com");
}
END_TEST

START_TEST(normalises_to_nfc)
{
	/* "e" + combining acute accent becomes the single code point é */
	expect_ok("Jose\xcc\x81", "jos\xc3\xa9");
}
END_TEST

START_TEST(refuses_empty_and_whitespace)
{
	expect_refused("", "empty");
	expect_refused("a b", "whitespace");
	expect_refused(" a", "whitespace");
	expect_refused("a\tb", "whitespace");
	expect_refused("a\xc2\xa0"
		       "b",
		       "whitespace"); /* no-break space */
	expect_refused("a\xe2\x80\x83"
		       "b",
		       "whitespace"); /* em space */
}
END_TEST

START_TEST(refuses_control_characters)
{
	expect_refused("a\x01"
		       "b",
		       "control");
	expect_refused("a\x7f", "control");
	expect_refused("a\xc2\x85", "control"); /* C1 next line */
}
END_TEST

START_TEST(refuses_each_forbidden_character)
{
	const char *forbidden = "/\\[]:;|=,+*?<>'\"";

	for (const char *c = forbidden; *c; c++) {
		char name[8] = {'a', *c, 'b', '\0'};

		expect_refused(name, "must not contain any of");
	}
}
END_TEST

START_TEST(limits_length_in_characters)
{
	char name[512];

	memset(name, 'a', 100);
	name[100] = '\0';
	expect_ok(name, name);
	name[100] = 'a';
	name[101] = '\0';
	expect_refused(name, "at most 100");
	/* 100 two-byte characters are 200 bytes and still fine */
	for (int i = 0; i < 100; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[200] = '\0';
	expect_ok(name, name);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	expect_refused(name, "at most 100");
}
END_TEST

START_TEST(refuses_invalid_utf8)
{
	const char *why = NULL;

	expect_refused("a\xff"
		       "b",
		       "UTF-8");
	expect_refused("\xc3", "UTF-8");
	expect_refused("\xed\xa0\x80", "UTF-8"); /* a UTF-16 surrogate */
	ck_assert_ptr_null(ls_name_normalize("a\0b", 3, &why));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ldapsync");
	TCase *tc = tcase_create("names");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, lowercases_ascii_and_unicode);
	tcase_add_test(tc, normalises_to_nfc);
	tcase_add_test(tc, refuses_empty_and_whitespace);
	tcase_add_test(tc, refuses_control_characters);
	tcase_add_test(tc, refuses_each_forbidden_character);
	tcase_add_test(tc, limits_length_in_characters);
	tcase_add_test(tc, refuses_invalid_utf8);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
