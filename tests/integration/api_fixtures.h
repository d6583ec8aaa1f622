/*
 * What the API suites (test_api_*.c) share: their constants, the main
 * config and its fixture, requests whose answers never hold a password hash,
 * account helpers, the paging headers, and the main that runs one suite.
 */
#ifndef AUTHD_IT_API_FIXTURES_H
#define AUTHD_IT_API_FIXTURES_H

#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "checks.h"
#include "harness.h"

#define ADMIN_PW "Admin-Passw0rd-IT"
#define USER_PW "User-Passw0rd-IT"
#define NEW_PW "New-Passw0rd-IT"
#define ACCOUNTS "/enzi/v0/accounts"
#define TEST_TIMEOUT 120

/* The shared servers' config: a login throttle no test reaches by accident. */
extern const char main_config[];

/* ---- requests and what every answer must satisfy ---- */

/* A request to srv with extra headers; asserts the answer holds no password hash. */
struct reply *call_h(const char *method, const char *token, const char *body,
		     const char *const *headers, const char *path);
struct reply *call(const char *method, const char *token, const char *body, const char *path);

/* ---- accounts ---- */

/* Creates an account as admin (users get USER_PW); the answer, asserted 201. */
json_t *create_account(const char *name, bool is_org, bool is_admin, bool is_active);
/* An active plain user with USER_PW. */
json_t *create_user(const char *name);
json_t *create_org(const char *name);
/* Logs in; the token, asserted. */
const char *login_as(const char *name, const char *password);
/* A login whatever its answer. */
struct reply *try_login(const char *name, const char *password);
/* The account as admin reads it, asserted 200. */
json_t *get_account(const char *name);
/* Asserts a 404 NOT_FOUND for the account. */
void expect_absent(const char *name);
/* Users and orgs together, as the list counts them. */
long long account_total(void);
/* Asserts that GET /_ping answers OK. */
void expect_alive(void);
/* Whether a list's array (accounts, members, ...) holds an item whose `key` is `name`. */
bool list_has(json_t *list, const char *key, const char *name);

/* ---- paging ---- */

/* A query-string value, percent-encoded, kept until the test ends. */
const char *escape(const char *value);
/* Checks one page's headers (X-Next-Page-Start, Link) against its nextPageStart. */
void expect_page_headers(const struct reply *r, const char *next, int limit);

/* ---- passwords, teams ---- */

/* A changePassword body; old NULL leaves oldPassword out (an admin's change). */
const char *change_pw(const char *old, const char *new_pw);
/* The path of an org's team. */
const char *team_path(const char *org, const char *team);

/* ---- files and child processes ---- */

/* Whether the file holds needle (false when it is unreadable). */
bool file_holds(const char *path, const char *needle);
/* Waits for a child; its exit code, or 3 when it did not exit. */
int exit_code(pid_t pid);

/* ---- fixtures ---- */

/* The unchecked setup of the shared servers: main_config, the first admin with ADMIN_PW. */
void setup_main(void);

/*
 * The main of one API suite: sets up curl and the harness's workdir, runs the
 * suite `make` builds, then removes the data dirs (or says where they are
 * kept). The exit status.
 */
int run_api_suite(Suite *(*make)(void));

#endif
