/*
 * The ldapsync command: runs the exact searches and login authd runs, from
 * a settings file, so an admin can see from a shell what a directory yields.
 * Users go to stdout, the step log to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldapsync.h"

static const char usage[] =
    "usage: ldapsync --settings FILE search\n"
    "       ldapsync --settings FILE try-login USER   (password on stdin)\n"
    "\n"
    "FILE holds LDAP settings as PUT /enzi/v0/config/auth/ldap takes them, reader\n"
    "passwords included. search prints one line per user: username, DN, full name,\n"
    "search config, server and directory id (uniqueIDAttr's value, \"-\" for none).\n"
    "Exit status: 0 done, 1 the directory refused or failed, 2 bad usage or\n"
    "settings.\n";

static void print_line(void *ctx, const char *text)
{
	(void)ctx;
	fprintf(stderr, "%s\n", text);
}

static int print_user(void *ctx, const struct ls_user *u)
{
	const struct ls_settings *s = ctx;

	printf("%s\t%s\t%s\tsearch %zu\t%s\t%s\n", u->username, u->dn, u->full_name, u->search + 1,
	       s->servers[u->server].urls[0], u->unique_id[0] ? u->unique_id : "-");
	return 0;
}

static int load_settings(const char *path, struct ls_settings *s)
{
	json_error_t jerr;
	struct refusal err;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	int rc;

	if (j == NULL) {
		fprintf(stderr, "ldapsync: %s:%d: %s\n", path, jerr.line, jerr.text);
		return -1;
	}
	rc = ls_settings_from_json(j, NULL, s, &err);
	json_decref(j);
	if (rc != 0)
		fprintf(stderr, "ldapsync: %s: %s\n", path, err.message);
	return rc;
}

static int cmd_search(const struct ls_settings *s, struct ls_log *log)
{
	struct ls_search_counts counts;
	int rc = ls_find_users(s, log, print_user, (void *)s, &counts);

	fprintf(stderr, "%zu users found, %zu invalid names and %zu duplicates skipped%s\n",
		counts.found, counts.invalid, counts.duplicates,
		rc == LS_OK ? "" : " (incomplete: a search failed)");
	return rc == LS_OK ? 0 : 1;
}

/* The password is read from stdin, never from the command line where ps shows it. */
static int cmd_try_login(const struct ls_settings *s, const char *user, struct ls_log *log)
{
	char pw[1024];
	struct ls_found found;
	enum ls_login_result rc;
	size_t n;

	if (fgets(pw, sizeof(pw), stdin) == NULL)
		pw[0] = '\0';
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	rc = ls_login(s, user, NULL, pw, log, &found);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc != LS_LOGIN_OK) {
		fprintf(stderr, "login %s\n", rc == LS_LOGIN_DENIED ? "refused" : "failed");
		return 1;
	}
	printf("%s\t%s\t%s\n", found.username, found.dn, found.full_name ? found.full_name : "");
	ls_found_free(&found);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"settings", required_argument, NULL, 's'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct ls_log log = {print_line, NULL};
	const char *path = NULL;
	struct ls_settings s;
	int c, rc;

	while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		if (c == 's')
			path = optarg;
		else {
			fputs(usage, c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (path == NULL || argc < 1 || (strcmp(argv[0], "search") == 0 && argc != 1) ||
	    (strcmp(argv[0], "try-login") == 0 && argc != 2) ||
	    (strcmp(argv[0], "search") != 0 && strcmp(argv[0], "try-login") != 0)) {
		fputs(usage, stderr);
		return 2;
	}
	if (load_settings(path, &s) != 0)
		return 2;
	rc = strcmp(argv[0], "search") == 0 ? cmd_search(&s, &log)
					    : cmd_try_login(&s, argv[1], &log);
	ls_settings_free(&s);
	ls_pool_shutdown();
	return rc;
}
