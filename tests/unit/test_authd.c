/*
 * Unit tests of the server's parts that need no other server: config,
 * tokens, paging cursors, throttling, passwords, form validation, outside
 * text made fit for JSON, the text format of /metrics and its per-route
 * counts, sealed secrets, reference-counted swaps, the authorization model
 * on a store in a temporary folder (test_store.c has the store's own
 * tests), and the identity cache, alone and under the plugin's and the
 * decision API's handlers.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/api.h"
#include "authz/engine_labels.h"
#include "authz/idcache.h"
#include "authz/rbac.h"
#include "authz/roles.h"
#include "bundles.h"
#include "metrics.h"
#include "refcount.h"
#include "session.h"
#include "store/store.h"
#include "unit.h"

static char dir[] = "/tmp/test_authd.XXXXXX";

static void write_text(const char *name, const char *text, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* ---- config ---- */

START_TEST(config_defaults_match_the_spec)
{
	struct config c;

	config_defaults(&c);
	ck_assert_str_eq(c.listen_host, "127.0.0.1");
	ck_assert_int_eq(c.listen_port, 8443);
	ck_assert_str_eq(c.data_dir, "./authd-data");
	ck_assert(c.authz_allow_local);
	ck_assert_str_eq(c.bundle_key_type, "ecdsa-p256");
	ck_assert_int_eq(c.bundle_validity_days, 365);
	config_free(&c);
}
END_TEST

START_TEST(config_reads_every_section)
{
	char path[512];
	struct refusal err;
	struct config c;

	write_text(
	    "full.json",
	    "{\"//\":\"comment\",\"listen\":\"[::1]:9443\",\"dataDir\":\"/var/lib/authd\","
	    "\"tls\":{\"cert\":\"/c.pem\",\"key\":\"/k.pem\"},"
	    "\"authz\":{\"socket\":\"/run/docker/plugins/authd.sock\",\"allowLocal\":false,"
	    "\"listen\":\"0.0.0.0:9444\"},"
	    "\"bundle\":{\"dockerHost\":\"tcp://h:2376\",\"engineHosts\":[\"tcp://a:2376\","
	    "\"tcp://b:2376\"],\"validityDays\":30,\"keyType\":\"rsa-2048\"},"
	    "\"session\":{\"idleMinutes\":5,\"absoluteMinutes\":60,"
	    "\"renewalThresholdMinutes\":2,\"perUserLimit\":3},"
	    "\"loginThrottle\":{\"maxFailures\":3,\"maxKeys\":500},\"log\":{\"level\":\"debug\","
	    "\"//\":\"x\"}}",
	    path, sizeof(path));
	config_defaults(&c);
	ck_assert_msg(config_load_file(&c, path, &err) == 0, "%s", err.message);
	ck_assert_str_eq(c.listen_host, "::1");
	ck_assert_int_eq(c.listen_port, 9443);
	ck_assert_str_eq(c.data_dir, "/var/lib/authd");
	ck_assert(!c.authz_allow_local);
	ck_assert_str_eq(c.authz_listen_host, "0.0.0.0");
	ck_assert_int_eq(c.authz_listen_port, 9444);
	ck_assert_uint_eq(c.bundle_n_engine_hosts, 2);
	ck_assert_str_eq(c.bundle_engine_hosts[1], "tcp://b:2376");
	ck_assert_str_eq(c.bundle_key_type, "rsa-2048");
	ck_assert_int_eq(c.session_idle_minutes, 5);
	ck_assert_int_eq(c.session_renewal_minutes, 2);
	ck_assert_int_eq(c.session_per_user_limit, 3);
	ck_assert_int_eq(c.throttle_max_failures, 3);
	ck_assert_int_eq(c.throttle_max_keys, 500);
	ck_assert_str_eq(c.log_level, "debug");
	ck_assert_str_eq(c.path, path);
	config_free(&c);
}
END_TEST

/* Loads `text` over the defaults; it must fail with an error holding `want`. */
static void expect_config_error(const char *text, const char *want)
{
	char path[512];
	struct refusal err;
	struct config c;

	write_text("bad.json", text, path, sizeof(path));
	config_defaults(&c);
	ck_assert_int_eq(config_load_file(&c, path, &err), -1);
	ck_assert_msg(strstr(err.message, want) != NULL, "error \"%s\" lacks \"%s\"", err.message,
		      want);
	ck_assert_msg(strstr(err.message, path) != NULL, "error \"%s\" does not name the file",
		      err.message);
	/* nothing half-applied */
	ck_assert_str_eq(c.data_dir, "./authd-data");
	ck_assert_int_eq(c.listen_port, 8443);
	config_free(&c);
}

/* The store's keys: a DSN or a private file of one, for the postgres driver only. */
START_TEST(config_reads_the_store)
{
	char path[512], dsn_path[512], text[1200];
	struct refusal err;
	struct config c;

	config_defaults(&c);
	ck_assert_str_eq(c.store_driver, "sqlite");
	ck_assert_ptr_null(c.store_dsn);
	config_free(&c);
	write_text("pg.json",
		   "{\"store\":{\"driver\":\"postgres\",\"dsn\":\"host=db user=authd\","
		   "\"maxConnections\":4}}",
		   path, sizeof(path));
	config_defaults(&c);
	ck_assert_msg(config_load_file(&c, path, &err) == 0, "%s", err.message);
	ck_assert_str_eq(c.store_driver, "postgres");
	ck_assert_str_eq(c.store_dsn, "host=db user=authd");
	ck_assert_int_eq(c.store_max_connections, 4);
	ck_assert_ptr_null(c.replica_name);
	config_free(&c);
	write_text("replica.json", "{\"replica\":{\"name\":\"authd-1 (rack 2)\"}}", path,
		   sizeof(path));
	config_defaults(&c);
	ck_assert_msg(config_load_file(&c, path, &err) == 0, "%s", err.message);
	ck_assert_str_eq(c.replica_name, "authd-1 (rack 2)");
	config_free(&c);
	write_text("dsn", "host=db password=hunter2-secret\n", dsn_path, sizeof(dsn_path));
	ck_assert_int_eq(chmod(dsn_path, 0600), 0);
	snprintf(text, sizeof(text), "{\"store\":{\"driver\":\"postgres\",\"dsnFile\":\"%s\"}}",
		 dsn_path);
	write_text("pgfile.json", text, path, sizeof(path));
	config_defaults(&c);
	ck_assert_msg(config_load_file(&c, path, &err) == 0, "%s", err.message);
	ck_assert_str_eq(c.store_dsn_file, dsn_path);
	config_free(&c);
	/* a file others may read is refused, and the refusal quotes none of it */
	ck_assert_int_eq(chmod(dsn_path, 0640), 0);
	config_defaults(&c);
	ck_assert_int_eq(config_load_file(&c, path, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "chmod 600"));
	ck_assert_ptr_null(strstr(err.message, "hunter2"));
	config_free(&c);
}
END_TEST

START_TEST(config_refuses_bad_files)
{
	struct refusal err;
	struct config c;

	expect_config_error("{\"dataDir\":\"/x\",\"listn\":\"1.2.3.4:1\"}",
			    "unknown key \"listn\"");
	expect_config_error("{\"dataDir\":\"/x\",\"tls\":{\"crt\":\"a\"}}",
			    "unknown key \"tls.crt\"");
	expect_config_error("{\"dataDir\":\"/x\",\"listen\":8443}", "listen: must be a string");
	expect_config_error("{\"dataDir\":\"/x\",\"authz\":{\"allowLocal\":\"yes\"}}",
			    "authz.allowLocal: must be true or false");
	expect_config_error("{\"dataDir\":\"/x\",\"bundle\":{\"validityDays\":0}}",
			    "bundle.validityDays: must be between");
	expect_config_error("{\"dataDir\":\"/x\",\"bundle\":{\"engineHosts\":[1]}}",
			    "bundle.engineHosts[0]: must be a string");
	expect_config_error("{\"dataDir\":\"/x\",\"bundle\":{\"keyType\":\"dsa\"}}", "keyType");
	expect_config_error("{\"dataDir\":\"/x\",\"log\":{\"level\":\"loud\"}}", "log level");
	expect_config_error("{\"dataDir\":\"/x\",\"listen\":\"localhost:1\"}", "not an IP address");
	expect_config_error("{\"dataDir\":\"/x\",\"listen\":\"127.0.0.1:70000\"}", "port");
	expect_config_error("{\"authz\":{\"listen\":9444}}",
			    "authz.listen: must be a string ADDRESS:PORT");
	expect_config_error("{\"authz\":{\"listen\":\"engines:9444\"}}",
			    "authz.listen: \"engines\" is not an IP address");
	expect_config_error("{\"authz\":{\"listen\":\"0.0.0.0\"}}",
			    "authz.listen: \"0.0.0.0\" is not ADDRESS:PORT");
	expect_config_error("{\"authz\":{\"listen\":\"127.0.0.1:8443\"}}",
			    "authz.listen: must not be the HTTPS API's listen address");
	expect_config_error("{\"authz\":{\"listn\":\"127.0.0.1:9444\"}}",
			    "unknown key \"authz.listn\"");
	expect_config_error("{\"dataDir\":\"/x\",\"tls\":{\"cert\":\"/c.pem\"}}",
			    "cert and key must be given together");
	expect_config_error("{\"dataDir\":\"/x\",\"session\":{\"idleMinutes\":10,"
			    "\"renewalThresholdMinutes\":11}}",
			    "session.renewalThresholdMinutes: must not be more than idleMinutes");
	expect_config_error("{\"dataDir\":\"/x\",\"session\":{\"perUserLimit\":-1}}",
			    "session.perUserLimit: must be between 0 and 1000");
	expect_config_error("{\"store\":{\"dns\":\"x\"}}", "unknown key \"store.dns\"");
	expect_config_error("{\"store\":{\"maxConnections\":\"5\"}}",
			    "store.maxConnections: must be an integer");
	expect_config_error("{\"store\":{\"maxConnections\":0}}",
			    "store.maxConnections: must be between 1 and 1000");
	expect_config_error("{\"store\":{\"driver\":\"mysql\"}}",
			    "store.driver: must be sqlite or postgres");
	expect_config_error("{\"store\":{\"dsn\":\"password=hunter2\"}}",
			    "only for the postgres driver");
	expect_config_error("{\"store\":{\"driver\":\"postgres\"}}",
			    "needs one of dsn and dsnFile");
	expect_config_error("{\"store\":{\"driver\":\"postgres\",\"dsnFile\":\"/nonexistent\"}}",
			    "store.dsnFile: /nonexistent is not a readable file");
	expect_config_error("{\"replica\":{\"name\":\"\"}}",
			    "replica.name: must be 1 to 100 characters");
	expect_config_error("{\"replica\":{\"name\":\"a\\nb\"}}",
			    "replica.name: must not hold control characters");
	expect_config_error("{\"replica\":{\"name\":7}}", "replica.name: must be a string");
	expect_config_error("{\"replica\":{\"nam\":\"a\"}}", "unknown key \"replica.nam\"");
	expect_config_error("{\"dataDir\":\"/x\",", "");
	expect_config_error("[1,2]", "must hold a JSON object");
	expect_config_error("{\"dataDir\":\"/x\",\"dataDir\":\"/y\"}", "duplicate");
	config_defaults(&c);
	ck_assert_int_eq(config_load_file(&c, "/nonexistent.json", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent.json"));
	config_free(&c);
}
END_TEST

/* ---- session settings ---- */

/* The config's session keys are the defaults; an unset threshold is the whole lifetime. */
START_TEST(session_settings_default_to_the_config)
{
	struct session_settings set;
	struct config c;

	config_defaults(&c);
	session_settings_defaults(&c, &set);
	ck_assert_int_eq(set.lifetime_minutes, 60);
	ck_assert_int_eq(set.renewal_threshold_minutes, 60);
	ck_assert_int_eq(set.per_user_limit, 0);
	c.session_idle_minutes = 30;
	c.session_renewal_minutes = 0;
	c.session_per_user_limit = 5;
	session_settings_defaults(&c, &set);
	ck_assert_int_eq(set.lifetime_minutes, 30);
	ck_assert_int_eq(set.renewal_threshold_minutes, 0);
	ck_assert_int_eq(set.per_user_limit, 5);
	config_free(&c);
}
END_TEST

/* A PUT's sessions over current (60/20/10, absoluteMinutes 720): 0, or the refused field. */
static int sessions_put(const char *body, struct session_settings *out, struct refusal *why)
{
	static const struct session_settings current = {60, 20, 10};
	json_t *j = json_loads(body, 0, NULL);
	int rc;

	ck_assert_ptr_nonnull(j);
	*why = (struct refusal){"", ""};
	rc = session_settings_from_json(j, &current, 720, out, why);
	json_decref(j);
	return rc;
}

START_TEST(session_settings_take_what_a_put_gives)
{
	struct session_settings set;
	struct refusal why;

	ck_assert_int_eq(sessions_put("{}", &set, &why), 0);
	ck_assert_int_eq(set.lifetime_minutes, 60);
	ck_assert_int_eq(set.renewal_threshold_minutes, 20);
	ck_assert_int_eq(set.per_user_limit, 10);
	ck_assert_int_eq(sessions_put("{\"lifetimeMinutes\":720,\"renewalThresholdMinutes\":0,"
				      "\"perUserLimit\":0}",
				      &set, &why),
			 0);
	ck_assert_int_eq(set.lifetime_minutes, 720);
	ck_assert_int_eq(set.renewal_threshold_minutes, 0);
	ck_assert_int_eq(set.per_user_limit, 0);
	/* a threshold left above a lowered lifetime comes down with it */
	ck_assert_int_eq(sessions_put("{\"lifetimeMinutes\":5}", &set, &why), 0);
	ck_assert_int_eq(set.lifetime_minutes, 5);
	ck_assert_int_eq(set.renewal_threshold_minutes, 5);
	ck_assert_int_eq(set.per_user_limit, 10);
	ck_assert_int_eq(
	    sessions_put("{\"renewalThresholdMinutes\":60,\"perUserLimit\":1000}", &set, &why), 0);
	ck_assert_int_eq(set.renewal_threshold_minutes, 60);
	ck_assert_int_eq(set.per_user_limit, 1000);
}
END_TEST

START_TEST(session_settings_refuse_out_of_range)
{
	static const struct {
		const char *body, *field, *message;
	} bad[] = {
	    {"{\"lifetimeMinutes\":0}", "sessions.lifetimeMinutes",
	     "sessions.lifetimeMinutes: must be from 1 to 720 (session.absoluteMinutes in the "
	     "config file)"},
	    {"{\"lifetimeMinutes\":721}", "sessions.lifetimeMinutes", NULL},
	    {"{\"lifetimeMinutes\":-9223372036854775807}", "sessions.lifetimeMinutes", NULL},
	    {"{\"lifetimeMinutes\":4294967356}", "sessions.lifetimeMinutes", NULL},
	    {"{\"renewalThresholdMinutes\":-1}", "sessions.renewalThresholdMinutes", NULL},
	    {"{\"renewalThresholdMinutes\":61}", "sessions.renewalThresholdMinutes",
	     "sessions.renewalThresholdMinutes: must be from 0 (no renewal) to lifetimeMinutes "
	     "(60)"},
	    {"{\"lifetimeMinutes\":10,\"renewalThresholdMinutes\":11}",
	     "sessions.renewalThresholdMinutes", NULL},
	    {"{\"perUserLimit\":-1}", "sessions.perUserLimit", NULL},
	    {"{\"perUserLimit\":1001}", "sessions.perUserLimit",
	     "sessions.perUserLimit: must be from 0 (no limit) to 1000"},
	};
	struct session_settings set;
	struct refusal why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(sessions_put(bad[i].body, &set, &why) == -1, "%s passed",
			      bad[i].body);
		ck_assert_str_eq(why.field, bad[i].field);
		ck_assert_msg(strncmp(why.message, why.field, strlen(why.field)) == 0,
			      "%s: the message does not start with its field: %s", bad[i].body,
			      why.message);
		if (bad[i].message != NULL)
			ck_assert_str_eq(why.message, bad[i].message);
	}
}
END_TEST

/* ---- tokens ---- */

START_TEST(tokens_are_random_and_well_formed)
{
	char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
	unsigned char ha[32], hb[32], ha2[32];

	ck_assert_int_eq(token_generate(a), 0);
	ck_assert_int_eq(token_generate(b), 0);
	ck_assert_uint_eq(strlen(a), TOKEN_LEN);
	ck_assert_str_ne(a, b);
	ck_assert(token_well_formed(a));
	token_hash(a, ha);
	token_hash(a, ha2);
	token_hash(b, hb);
	ck_assert_mem_eq(ha, ha2, 32);
	ck_assert(memcmp(ha, hb, 32) != 0);
}
END_TEST

/* Ids are UUIDv7 (RFC 9562): time-ordered, with the random part drawn a batch at a time. */
START_TEST(ids_are_uuid7_and_distinct)
{
	char prev[ID_LEN] = "", id[ID_LEN];

	for (int n = 0; n < 500; n++) { /* several batches of the random pool */
		ck_assert_int_eq(new_uuid(id), 0);
		ck_assert_uint_eq(strlen(id), 36);
		for (int i = 0; i < 36; i++) {
			bool dash = i == 8 || i == 13 || i == 18 || i == 23;

			ck_assert_msg(dash ? id[i] == '-'
					   : strchr("0123456789abcdef", id[i]) != NULL,
				      "%s: bad character at %d", id, i);
		}
		ck_assert_int_eq(id[14], '7');
		ck_assert_ptr_nonnull(strchr("89ab", id[19]));
		/* the time comes first: an id never sorts before an earlier one's millisecond */
		ck_assert_int_ge(strncmp(id, prev, 13), 0);
		ck_assert_str_ne(id, prev);
		memcpy(prev, id, sizeof(prev));
	}
}
END_TEST

START_TEST(malformed_tokens_are_refused_before_lookup)
{
	char t[TOKEN_LEN + 2];

	ck_assert(!token_well_formed(""));
	memset(t, 'a', TOKEN_LEN - 1);
	t[TOKEN_LEN - 1] = '\0';
	ck_assert(!token_well_formed(t));
	memset(t, 'a', TOKEN_LEN + 1);
	t[TOKEN_LEN + 1] = '\0';
	ck_assert(!token_well_formed(t));
	t[TOKEN_LEN] = '\0';
	ck_assert(token_well_formed(t));
	t[5] = '+';
	ck_assert(!token_well_formed(t));
	t[5] = '=';
	ck_assert(!token_well_formed(t));
	t[5] = ' ';
	ck_assert(!token_well_formed(t));
}
END_TEST

/* ---- paging ---- */

START_TEST(paging_reads_start_and_limit)
{
	struct refusal why;
	struct page p;

	ck_assert_int_eq(page_parse(NULL, NULL, &p, &why), 0);
	ck_assert_int_eq(p.limit, PAGE_DEFAULT);
	ck_assert_str_eq(p.start, "");
	ck_assert_int_eq(page_parse("bob", "1000", &p, &why), 0);
	ck_assert_int_eq(p.limit, 1000);
	ck_assert_str_eq(p.start, "bob");
	ck_assert_int_eq(page_parse(NULL, "1", &p, &why), 0);
	ck_assert_int_eq(p.limit, 1);
}
END_TEST

START_TEST(paging_refuses_bad_limits_and_cursors)
{
	const char *bad[] = {"0", "1001", "-1", "abc", "10x", "", " 5", "99999999999999999999"};
	struct refusal why;
	char long_start[NAME_LEN + 10];
	struct page p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(page_parse(NULL, bad[i], &p, &why) == -1, "limit %s", bad[i]);
		ck_assert_str_eq(why.field, "limit");
	}
	memset(long_start, 'a', sizeof(long_start) - 1);
	long_start[sizeof(long_start) - 1] = '\0';
	ck_assert_int_eq(page_parse(long_start, NULL, &p, &why), -1);
	ck_assert_str_eq(why.field, "start");
}
END_TEST

START_TEST(paging_marks_where_the_next_page_starts)
{
	struct refusal why;
	struct page p;

	ck_assert_int_eq(page_parse(NULL, "2", &p, &why), 0);
	p.items = json_array();
	ck_assert_int_eq(page_add(&p, "a", json_string("a")), 0);
	ck_assert_int_eq(page_add(&p, "b", json_string("b")), 0);
	ck_assert_str_eq(p.next, "");
	ck_assert_int_eq(page_add(&p, "c", json_string("c")), 1);
	ck_assert_str_eq(p.next, "c");
	ck_assert_uint_eq(json_array_size(p.items), 2);
	json_decref(p.items);
}
END_TEST

/* ---- throttling ---- */

/* An in-memory throttle: a user may fail `max` times in 60 s, an address 4 x max; lockout 30 s. */
static struct throttle *memory_throttle(int max)
{
	struct throttle *t = throttle_new(&(struct throttle_config){
	    .max_failures = max, .ip_max_failures = 4 * max, .window = 60, .lockout = 30});

	ck_assert_ptr_nonnull(t);
	return t;
}

/* The wait of a user from one address. */
static int wait_of(struct throttle *t, const char *user, int64_t now)
{
	bool counted;

	return throttle_wait(t, user, "ip:a", now, &counted);
}

START_TEST(throttle_locks_out_at_the_limit)
{
	struct throttle *t = memory_throttle(3);

	ck_assert_int_eq(wait_of(t, "user:a", 1000), 0);
	ck_assert_int_eq(throttle_fail(t, "user:a", "ip:a", 1000), 1);
	ck_assert_int_eq(throttle_fail(t, "user:a", "ip:a", 1001), 2);
	ck_assert_int_eq(wait_of(t, "user:a", 1001), 0);
	ck_assert_int_eq(throttle_fail(t, "user:a", "ip:a", 1002), 3);
	ck_assert_int_eq(wait_of(t, "user:a", 1002), 30);
	ck_assert_int_eq(wait_of(t, "user:a", 1031), 1);
	ck_assert_int_eq(wait_of(t, "user:a", 1032), 0);
	/* other users are untouched: the address has room for 12 */
	ck_assert_int_eq(wait_of(t, "user:b", 1002), 0);
	throttle_free(t);
}
END_TEST

START_TEST(throttle_forgets_old_failures_and_clears)
{
	struct throttle *t = memory_throttle(3);

	throttle_fail(t, "k", "ip:a", 1000);
	throttle_fail(t, "k", "ip:a", 1001);
	/* the window has passed: counting starts again */
	ck_assert_int_eq(throttle_fail(t, "k", "ip:a", 1100), 1);
	throttle_fail(t, "k", "ip:a", 1101);
	ck_assert_int_eq(throttle_clear(t, "k"), 0);
	ck_assert_int_eq(throttle_fail(t, "k", "ip:a", 1102), 1);
	throttle_free(t);
}
END_TEST

START_TEST(throttle_locks_out_an_address_of_many_users)
{
	struct throttle *t = memory_throttle(3);
	char key[32];

	for (int i = 0; i < 11; i++) {
		snprintf(key, sizeof(key), "user:%d", i);
		throttle_fail(t, key, "ip:a", 1000);
	}
	ck_assert_int_eq(wait_of(t, "user:new", 1000), 0);
	throttle_fail(t, "user:11", "ip:a", 1000);
	/* the twelfth failure of the address locks out every user from it, and no other address */
	ck_assert_int_eq(wait_of(t, "user:new", 1000), 30);
	ck_assert_int_eq(throttle_wait(t, "user:new", "ip:b", 1000, &(bool){false}), 0);
	throttle_free(t);
}
END_TEST

START_TEST(throttle_stays_bounded_under_many_keys)
{
	struct throttle *t = memory_throttle(2);
	char key[32], ip[32];

	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "user:%d", i);
		snprintf(ip, sizeof(ip), "ip:%d", i);
		throttle_fail(t, key, ip, 1000 + i / 1000);
	}
	/* a key failing now is still counted */
	ck_assert_int_eq(throttle_fail(t, "user:x", "ip:x", 2000), 1);
	ck_assert_int_eq(throttle_fail(t, "user:x", "ip:x", 2000), 2);
	ck_assert_int_eq(throttle_wait(t, "user:x", "ip:y", 2000, &(bool){false}), 30);
	throttle_free(t);
}
END_TEST

/* ---- passwords ---- */

START_TEST(passwords_hash_with_argon2id)
{
	char *h = password_hash("correct horse");

	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(strstr(h, "$argon2id$"));
	ck_assert_ptr_null(strstr(h, "correct horse"));
	ck_assert(password_verify(h, "correct horse"));
	ck_assert(!password_verify(h, "correct horsE"));
	ck_assert(!password_verify("garbage", "x"));
	free(h);
}
END_TEST

START_TEST(password_rules)
{
	char big[PASSWORD_MAX_BYTES + 2];
	struct refusal why;

	ck_assert_int_eq(password_check("", &why), -1);
	ck_assert_str_eq(why.message, "must not be empty");
	ck_assert_int_eq(password_check("   \t ", &why), -1);
	ck_assert_int_eq(password_check("short", &why), -1);
	ck_assert_str_eq(why.message, "must be at least 8 characters");
	ck_assert_int_eq(password_check("eight ch", &why), 0);
	/* eight characters, more bytes */
	ck_assert_int_eq(password_check("éééééééé", &why), 0);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(password_check(big, &why), -1);
	/* named by the field it was given for */
	refusal_in(&why, "password");
	ck_assert_str_eq(why.field, "password");
	ck_assert_str_eq(why.message, "password: must be at most 1024 bytes");
}
END_TEST

/* ---- forms ---- */

static const struct field form[] = {{"name", F_STRING, true},
				    {"isOrg", F_BOOL, false},
				    {"count", F_INT, false},
				    {"inner", F_OBJECT, false},
				    {NULL, 0, false}};

/* Checks `body` against fields; returns the error's field, or "" when it passed. */
static const char *check_form_at(const struct field *fields, const char *prefix, const char *body,
				 char *field, size_t len)
{
	json_t *j = json_loads(body, 0, NULL);
	struct resp out;
	int rc;

	memset(&out, 0, sizeof(out));
	ck_assert_ptr_nonnull(j);
	rc = prefix ? form_check_at(j, fields, prefix, &out) : form_check(j, fields, &out);
	field[0] = '\0';
	if (rc != 0) {
		json_t *e = json_array_get(json_object_get(out.json, "errors"), 0);

		ck_assert_uint_eq(out.status, 400);
		ck_assert_str_eq(json_string_value(json_object_get(e, "code")), "INVALID_FORM");
		snprintf(field, len, "%s",
			 json_string_value(json_object_get(json_object_get(e, "detail"), "field")));
	}
	json_decref(out.json);
	json_decref(j);
	return field;
}

static const char *check_form(const struct field *fields, const char *body, char *field, size_t len)
{
	return check_form_at(fields, NULL, body, field, len);
}

START_TEST(forms_name_the_bad_field)
{
	char f[64];

	ck_assert_str_eq(check_form(form, "{\"name\":\"a\",\"isOrg\":true}", f, sizeof(f)), "");
	ck_assert_str_eq(check_form(form, "{\"name\":\"a\"}", f, sizeof(f)), "");
	ck_assert_str_eq(check_form(form, "{}", f, sizeof(f)), "name");
	ck_assert_str_eq(check_form(form, "{\"name\":1}", f, sizeof(f)), "name");
	ck_assert_str_eq(check_form(form, "{\"name\":null}", f, sizeof(f)), "name");
	ck_assert_str_eq(check_form(form, "{\"name\":\"a\",\"isOrg\":\"true\"}", f, sizeof(f)),
			 "isOrg");
	ck_assert_str_eq(check_form(form, "{\"name\":\"a\",\"isorg\":true}", f, sizeof(f)),
			 "isorg");
	/* integers are whole JSON numbers; objects are objects */
	ck_assert_str_eq(
	    check_form(form, "{\"name\":\"a\",\"count\":-3,\"inner\":{}}", f, sizeof(f)), "");
	ck_assert_str_eq(check_form(form, "{\"name\":\"a\",\"count\":1.5}", f, sizeof(f)), "count");
	ck_assert_str_eq(check_form(form, "{\"name\":\"a\",\"count\":\"3\"}", f, sizeof(f)),
			 "count");
	ck_assert_str_eq(check_form(form, "{\"name\":\"a\",\"inner\":[]}", f, sizeof(f)), "inner");
	ck_assert_str_eq(check_form(form, "{\"name\":\"a\",\"inner\":null}", f, sizeof(f)),
			 "inner");
	/* inside an object, a field is named by its path */
	ck_assert_str_eq(check_form_at(form, "outer", "{\"count\":true}", f, sizeof(f)),
			 "outer.count");
	ck_assert_str_eq(check_form_at(form, "outer", "{\"nope\":1}", f, sizeof(f)), "outer.nope");
	ck_assert_str_eq(check_form_at(form, "outer", "{}", f, sizeof(f)), "outer.name");
}
END_TEST

/* The handlers' tables: each ends within a bound, names each field once, and refuses strangers. */
START_TEST(every_form_is_well_formed)
{
	enum { FIELDS_MAX = 32 };
	char f[64];

	for (size_t i = 0; i < api_nforms; i++) {
		const char *name = api_forms[i].name;
		const struct field *fields = api_forms[i].fields;
		size_t n;

		ck_assert(name != NULL && name[0] != '\0');
		for (n = 0; n < FIELDS_MAX && fields[n].name != NULL; n++) {
			ck_assert_msg(fields[n].name[0] != '\0', "%s: a field has no name", name);
			for (size_t j = 0; j < n; j++)
				ck_assert_msg(strcmp(fields[j].name, fields[n].name) != 0,
					      "%s: %s twice", name, fields[n].name);
		}
		ck_assert_msg(n < FIELDS_MAX, "%s: no end within %d fields", name, FIELDS_MAX);
		ck_assert_msg(strcmp(check_form(fields, "{\"noSuchField\":1}", f, sizeof(f)),
				     "noSuchField") == 0,
			      "%s: an unknown key is not refused by name", name);
	}
}
END_TEST

/* ---- outside text on its way to JSON ---- */

#define FFFD "\xef\xbf\xbd"

/* utf8_clean into a buffer of `size` bytes, kept in a static buffer for the assertion. */
static const char *cleaned(const char *src, size_t size)
{
	static char buf[1024];

	ck_assert_uint_le(size, sizeof(buf));
	memset(buf, 'X', sizeof(buf));
	ck_assert_ptr_eq(utf8_clean(buf, size, src), buf);
	ck_assert_uint_lt(strlen(buf), size);
	return buf;
}

/* Whether jansson takes s as a string: what the cleaning is for. */
static bool json_takes(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

START_TEST(utf8_clean_keeps_valid_text)
{
	static const char *const valid[] = {
	    "",
	    "plain ASCII, with \"quotes\" and \x01 control bytes",
	    "h\xc3\xa9llo",			      /* é: two bytes */
	    "\xe2\x82\xac 10",			      /* €: three */
	    "\xf0\x9d\x84\x9e clef",		      /* U+1D11E: four */
	    "\xef\xbf\xbd already a replacement",     /* U+FFFD itself */
	    "\xf4\x8f\xbf\xbf last code point",	      /* U+10FFFF */
	    "\xed\x9f\xbf just below the surrogates", /* U+D7FF */
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xe4\xbd\xa0\xe5\xa5\xbd",
	};

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		ck_assert_str_eq(cleaned(valid[i], 200), valid[i]);
}
END_TEST

START_TEST(utf8_clean_replaces_invalid_sequences)
{
	/* stray bytes: continuation bytes without a start, bytes UTF-8 never uses */
	ck_assert_str_eq(cleaned("a\xff-", 64), "a" FFFD "-");
	ck_assert_str_eq(cleaned("\x80\xbf", 64), FFFD FFFD);
	ck_assert_str_eq(cleaned("\xf5\xf8\xfe", 64), FFFD FFFD FFFD);
	/* a percent-decoded byte of an engine URI */
	ck_assert_str_eq(cleaned("/v1.41/x/\xff", 64), "/v1.41/x/" FFFD);
	/* truncated sequences, in the middle and at the end: one replacement each */
	ck_assert_str_eq(cleaned("\xe2\x82x", 64), FFFD "x");
	ck_assert_str_eq(cleaned("x\xe2\x82", 64), "x" FFFD);
	ck_assert_str_eq(cleaned("\xf0\x9d\x84", 64), FFFD);
	ck_assert_str_eq(cleaned("\xc3", 64), FFFD);
	ck_assert_str_eq(cleaned("\xc3\xc3\xa9", 64), FFFD "\xc3\xa9");
	/* overlong encodings of '/' and NUL */
	ck_assert_str_eq(cleaned("\xc0\xaf", 64), FFFD FFFD);
	ck_assert_str_eq(cleaned("\xc0\x80", 64), FFFD FFFD);
	ck_assert_str_eq(cleaned("\xe0\x80\xaf", 64), FFFD FFFD FFFD);
	ck_assert_str_eq(cleaned("\xf0\x80\x80\xaf", 64), FFFD FFFD FFFD FFFD);
	/* surrogates and code points past U+10FFFF */
	ck_assert_str_eq(cleaned("\xed\xa0\x80", 64), FFFD FFFD FFFD);
	ck_assert_str_eq(cleaned("\xf4\x90\x80\x80", 64), FFFD FFFD FFFD FFFD);
	/* valid text around the bad bytes stays as it is */
	ck_assert_str_eq(cleaned("\xc3\xa9\xff\xe2\x82\xac", 64), "\xc3\xa9" FFFD "\xe2\x82\xac");
}
END_TEST

START_TEST(utf8_clean_cuts_between_characters)
{
	/* "aé€": 1 + 2 + 3 bytes */
	ck_assert_str_eq(cleaned("a\xc3\xa9\xe2\x82\xac", 7), "a\xc3\xa9\xe2\x82\xac");
	ck_assert_str_eq(cleaned("a\xc3\xa9\xe2\x82\xac", 6), "a\xc3\xa9");
	ck_assert_str_eq(cleaned("a\xc3\xa9\xe2\x82\xac", 4), "a\xc3\xa9");
	ck_assert_str_eq(cleaned("a\xc3\xa9\xe2\x82\xac", 3), "a");
	ck_assert_str_eq(cleaned("a\xc3\xa9\xe2\x82\xac", 2), "a");
	ck_assert_str_eq(cleaned("a\xc3\xa9\xe2\x82\xac", 1), "");
	/* a replacement is a character too: it fits whole or not at all */
	ck_assert_str_eq(cleaned("ab\xff", 5), "ab");
	ck_assert_str_eq(cleaned("ab\xff", 6), "ab" FFFD);
	ck_assert_str_eq(cleaned("\xff\xff\xff", 7), FFFD FFFD);
	/* plain ASCII is cut at the byte bound */
	ck_assert_str_eq(cleaned("abcdef", 4), "abc");
	{
		/* the "%.200s" of a long label would have cut its 100th é in half */
		char label[302] = "/", want[201] = "/";

		for (int i = 0; i < 150; i++)
			strcat(label, "\xc3\xa9");
		for (int i = 0; i < 99; i++)
			strcat(want, "\xc3\xa9");
		ck_assert_str_eq(cleaned(label, 201), want);
	}
	{
		char dst[4] = "xyz";

		/* no room at all: nothing is written */
		utf8_clean(dst, 0, "abc");
		ck_assert_str_eq(dst, "xyz");
	}
}
END_TEST

/*
 * Every string of up to three bytes comes out as text jansson takes, and a
 * valid one unchanged. (Check asserts cost a write each: failures are noted
 * in the loop and asserted once.)
 */
START_TEST(utf8_clean_output_is_always_json_text)
{
	static const unsigned char thirds[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
					       0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xf4, 0xff};
	char in[4] = "", out[16], first_bad[16] = "";

	for (unsigned a = 1; a < 256; a++) {
		for (unsigned b = 0; b < 256; b++) {
			for (size_t c = 0; c < sizeof(thirds); c++) {
				bool valid;

				in[0] = (char)a;
				in[1] = (char)b;
				in[2] = (char)thirds[c];
				valid = json_takes(in);
				utf8_clean(out, sizeof(out), in);
				if (first_bad[0] == '\0' &&
				    (!json_takes(out) || (valid && strcmp(out, in) != 0) ||
				     (!valid && strstr(out, FFFD) == NULL)))
					snprintf(first_bad, sizeof(first_bad), "%02x %02x %02x", a,
						 b, thirds[c]);
			}
		}
	}
	ck_assert_msg(first_bad[0] == '\0', "%s: not cleaned as it should be", first_bad);
}
END_TEST

/* The error's message (or, with detail, its detail.field); NULL when the answer has none. */
static const char *error_text(const struct resp *out, bool detail)
{
	json_t *e = json_array_get(json_object_get(out->json, "errors"), 0);

	if (detail)
		return json_string_value(json_object_get(json_object_get(e, "detail"), "field"));
	return json_string_value(json_object_get(e, "message"));
}

START_TEST(errors_quoting_bad_text_keep_their_body)
{
	char key[200] = "a", want[200] = "a";
	struct resp out;
	json_t *body;

	memset(&out, 0, sizeof(out));
	resp_error(&out, 404, "NOT_FOUND", "id\xff", "no account \"%s\"", "\xff");
	ck_assert_uint_eq(out.status, 404);
	ck_assert_str_eq(error_text(&out, false), "no account \"" FFFD "\"");
	ck_assert_str_eq(error_text(&out, true), "id" FFFD);
	json_decref(out.json);
	/* an unknown key whose 100th byte falls inside a character */
	for (int i = 0; i < 60; i++)
		strcat(key, "\xc3\xa9");
	for (int i = 0; i < 49; i++)
		strcat(want, "\xc3\xa9");
	strcat(want, ": unknown field");
	body = json_pack("{s:s, s:i}", "name", "x", key, 1);
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(form_check(body, form, &out), -1);
	ck_assert_uint_eq(out.status, 400);
	ck_assert_str_eq(error_text(&out, false), want);
	json_decref(out.json);
	json_decref(body);
	/* a body that could not be built is a 500 with one, not an empty answer */
	memset(&out, 0, sizeof(out));
	resp_json(&out, 200, json_pack("{s:s}", "msg", "\xff"));
	ck_assert_uint_eq(out.status, 500);
	ck_assert_ptr_nonnull(error_text(&out, false));
	json_decref(out.json);
}
END_TEST

/* ---- times ---- */

/* Each second is its own, whichever the thread formatted last (format_time keeps the last). */
START_TEST(times_are_formatted_per_second)
{
	char a[32], b[32];

	format_time(0, a, sizeof(a));
	ck_assert_str_eq(a, "1970-01-01T00:00:00Z");
	format_time(1796236090, b, sizeof(b));
	ck_assert_str_eq(b, "2026-12-02T18:28:10Z");
	format_time(1796236091, b, sizeof(b));
	ck_assert_str_eq(b, "2026-12-02T18:28:11Z");
	format_time(0, a, sizeof(a));
	ck_assert_str_eq(a, "1970-01-01T00:00:00Z");
	/* a short buffer gets the start, ended */
	format_time(0, a, 5);
	ck_assert_str_eq(a, "1970");
}
END_TEST

/* ---- the identity cache ---- */

static const char fp_a[65] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char fp_b[65] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/* Whether text is cached in form with fingerprint want. */
static bool cached_as(struct idcache *c, enum idcache_form form, const char *text, size_t len,
		      const char *want)
{
	char fp[65] = "";

	if (!idcache_get(c, form, text, len, fp))
		return false;
	ck_assert_str_eq(fp, want);
	return true;
}

START_TEST(idcache_hits_only_the_same_bytes)
{
	struct idcache *c = idcache_new();
	char text[] = "TUlJQmtUQ0NBVGVnQXdJQkFnSVVKc2J6", other[sizeof(text)],
	     big[IDCACHE_TEXT_MAX + 2];
	size_t n = strlen(text);

	ck_assert_ptr_nonnull(c);
	ck_assert(!cached_as(c, IDCACHE_BASE64_PEM, text, n, fp_a));
	idcache_put(c, IDCACHE_BASE64_PEM, text, n, fp_a);
	ck_assert(cached_as(c, IDCACHE_BASE64_PEM, text, n, fp_a));
	/* one byte changed, one byte less or more, the other form: other certificates */
	memcpy(other, text, sizeof(text));
	other[n / 2] ^= 1;
	ck_assert(!cached_as(c, IDCACHE_BASE64_PEM, other, n, fp_a));
	ck_assert(!cached_as(c, IDCACHE_BASE64_PEM, text, n - 1, fp_a));
	ck_assert(
	    !cached_as(c, IDCACHE_BASE64_PEM, "TUlJQmtUQ0NBVGVnQXdJQkFnSVVKc2J6=", n + 1, fp_a));
	ck_assert(!cached_as(c, IDCACHE_PEM, text, n, fp_a));
	/* each keeps its own */
	idcache_put(c, IDCACHE_BASE64_PEM, other, n, fp_b);
	ck_assert(cached_as(c, IDCACHE_BASE64_PEM, text, n, fp_a));
	ck_assert(cached_as(c, IDCACHE_BASE64_PEM, other, n, fp_b));
	/* the cache keeps a copy: the caller's buffer may change */
	other[0] ^= 1;
	ck_assert(!cached_as(c, IDCACHE_BASE64_PEM, other, n, fp_b));
	/* over the bound, nothing is kept */
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	idcache_put(c, IDCACHE_PEM, big, sizeof(big) - 1, fp_a);
	ck_assert(!cached_as(c, IDCACHE_PEM, big, sizeof(big) - 1, fp_a));
	idcache_free(c);
	/* without a cache, nothing hits and nothing breaks */
	idcache_put(NULL, IDCACHE_PEM, text, n, fp_a);
	ck_assert(!cached_as(NULL, IDCACHE_PEM, text, n, fp_a));
}
END_TEST

/* A text per i, of lengths that vary; fp: i's own, as hex. */
static size_t numbered(int i, char *text, size_t size, char fp[65])
{
	snprintf(fp, 65, "%064x", (unsigned)i);
	return (size_t)snprintf(text, size, "cert-%d-%.*s", i, i % 40,
				"0123456789012345678901234567890123456789");
}

/* Many more certificates than it holds: it stays bounded, and never answers one with another's
 * fingerprint. */
START_TEST(idcache_stays_bounded_and_never_mixes_entries)
{
	struct idcache *c = idcache_new();
	char text[96], fp[65], got[65];
	int hits = 0;

	ck_assert_ptr_nonnull(c);
	for (int i = 0; i < 8 * IDCACHE_ENTRIES; i++) {
		size_t n = numbered(i, text, sizeof(text), fp);

		idcache_put(c, IDCACHE_PEM, text, n, fp);
		/* the newest is always there */
		ck_assert(cached_as(c, IDCACHE_PEM, text, n, fp));
	}
	for (int i = 0; i < 8 * IDCACHE_ENTRIES; i++) {
		size_t n = numbered(i, text, sizeof(text), fp);

		if (idcache_get(c, IDCACHE_PEM, text, n, got)) {
			ck_assert_str_eq(got, fp);
			hits++;
		}
	}
	ck_assert_int_le(hits, IDCACHE_ENTRIES);
	/* most of the last quarter is still there (the least recent of a set goes first) */
	ck_assert_int_gt(hits, IDCACHE_ENTRIES / 4);
	idcache_free(c);
}
END_TEST

#define CACHE_THREADS 4
#define CACHE_ROUNDS 20000

static struct idcache *shared_cache;

/* Gets and puts of a few certificates from several threads; each answer must be its own. */
static void *cache_user(void *arg)
{
	char text[96], fp[65], got[65];

	for (int r = 0; r < CACHE_ROUNDS; r++) {
		int i = (r * 7 + (int)(intptr_t)arg) % (2 * IDCACHE_ENTRIES);
		size_t n = numbered(i, text, sizeof(text), fp);

		if (!idcache_get(shared_cache, IDCACHE_BASE64_PEM, text, n, got))
			idcache_put(shared_cache, IDCACHE_BASE64_PEM, text, n, fp);
		else if (strcmp(got, fp) != 0)
			abort();
	}
	return NULL;
}

START_TEST(idcache_threads_share_it_safely)
{
	pthread_t t[CACHE_THREADS];

	shared_cache = idcache_new();
	ck_assert_ptr_nonnull(shared_cache);
	for (intptr_t i = 0; i < CACHE_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, cache_user, (void *)i), 0);
	for (int i = 0; i < CACHE_THREADS; i++)
		pthread_join(t[i], NULL);
	idcache_free(shared_cache);
}
END_TEST

/* ---- authorization model ---- */

static struct rbac *rbac;

/* Adds an account straight to the store; returns its id in `id`. */
static void add_account(const char *name, bool org, bool admin, bool active, char id[ID_LEN])
{
	struct account a = {0};

	ck_assert_int_eq(new_uuid(a.id), 0);
	snprintf(a.name, sizeof(a.name), "%s", name);
	a.is_org = org;
	a.is_admin = admin;
	a.is_active = active;
	ck_assert_int_eq(store_account_insert(&a, NULL), STORE_OK);
	memcpy(id, a.id, ID_LEN);
}

static void add_collection(const char *id, const char *name, const char *parent, const char *path)
{
	struct collection_row c = {0};

	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.parent_id, sizeof(c.parent_id), "%s", parent);
	snprintf(c.path, sizeof(c.path), "%s", path);
	ck_assert_int_eq(store_collection_insert(&c), STORE_OK);
}

static void grant(const char *subject, const char *collection, const char *role)
{
	struct grant_row g;

	snprintf(g.subject_id, sizeof(g.subject_id), "%s", subject);
	snprintf(g.collection_id, sizeof(g.collection_id), "%s", collection);
	snprintf(g.role_id, sizeof(g.role_id), "%s", role);
	ck_assert_int_eq(store_grant_put(&g), STORE_OK);
}

static bool allowed(const char *who_name, const char *method, const char *path, unsigned needs,
		    const char *collection, char *msg, size_t msglen)
{
	const struct snapshot *s;
	struct rbac_subject who;
	struct rbac_request req;
	struct rbac_verdict v;
	struct dk_op op;
	struct refusal why;

	ck_assert_int_eq(rbac_refresh(rbac), 0);
	s = rbac_hold(rbac);
	if (rbac_identify_account(s, who_name, &who, &why) != 0) {
		snprintf(msg, msglen, "%s", why.message);
		rbac_release(s);
		return false;
	}
	ck_assert_int_eq(dk_lookup(method, path, &op), 0);
	req.op = &op;
	req.needs = needs;
	req.collection = collection;
	rbac_decide(s, &who, &req, &v);
	rbac_release(s);
	snprintf(msg, msglen, "%s", v.msg);
	return v.allow;
}

static void rbac_setup(void)
{
	char d[256];
	struct failure err;

	snprintf(d, sizeof(d), "%s/rbacXXXXXX", dir);
	ck_assert_ptr_nonnull(mkdtemp(d));
	ck_assert_int_eq(store_open(d, &err), 0);
	rbac = rbac_new();
}

START_TEST(grants_inherit_down_the_tree_and_through_teams)
{
	char user[ID_LEN], other[ID_LEN], org[ID_LEN], msg[512];
	struct team t = {0};

	rbac_setup();
	add_account("ann", false, false, true, user);
	add_account("bob", false, false, true, other);
	add_account("eng", true, false, true, org);
	add_collection("apps", "apps", "shared", "/Shared/apps");
	add_collection("web", "web", "apps", "/Shared/apps/web");
	/* ann: View Only on /Shared/apps, reaching /Shared/apps/web below it */
	grant(user, "apps", "viewonly");
	ck_assert(allowed("ann", "GET", "/volumes/x", 0, "/Shared/apps/web", msg, sizeof(msg)));
	ck_assert(
	    !allowed("ann", "POST", "/volumes/create", 0, "/Shared/apps/web", msg, sizeof(msg)));
	ck_assert_ptr_nonnull(strstr(msg, "no grant for Volume Create/Attach"));
	/* not above the grant */
	ck_assert(!allowed("ann", "GET", "/volumes/x", 0, "/Shared", msg, sizeof(msg)));
	/* bob gets Restricted Control through a team of the org */
	ck_assert_int_eq(new_uuid(t.id), 0);
	memcpy(t.org_id, org, ID_LEN);
	snprintf(t.name, sizeof(t.name), "devs");
	ck_assert_int_eq(store_team_insert(&t), STORE_OK);
	ck_assert_int_eq(store_team_member_put(t.id, other, false), STORE_OK);
	ck_assert(!allowed("bob", "POST", "/volumes/create", 0, "/Shared/apps", msg, sizeof(msg)));
	grant(t.id, "shared", "restrictedcontrol");
	ck_assert(allowed("bob", "POST", "/volumes/create", 0, "/Shared/apps", msg, sizeof(msg)));
	/* ... but no sub-options, and no exec */
	ck_assert(!allowed("bob", "POST", "/containers/create", DK_PRIVILEGED, "/Shared/apps", msg,
			   sizeof(msg)));
	ck_assert_ptr_nonnull(strstr(msg, "Privileged"));
	ck_assert(
	    !allowed("bob", "POST", "/containers/abc/exec", 0, "/Shared/apps", msg, sizeof(msg)));
	/* an org grant reaches the org's members too */
	ck_assert_int_eq(store_org_member_put(org, user, false), STORE_OK);
	grant(org, "web", "fullcontrol");
	ck_assert(allowed("ann", "POST", "/containers/create", DK_PRIVILEGED | DK_HOST_BIND_MOUNTS,
			  "/Shared/apps/web", msg, sizeof(msg)));
	rbac_free(rbac);
	store_close();
}
END_TEST

START_TEST(lists_admins_and_bad_targets)
{
	char user[ID_LEN], root[ID_LEN], gone[ID_LEN], msg[512];

	rbac_setup();
	add_account("cat", false, false, true, user);
	add_account("root", false, true, true, root);
	add_account("gone", false, false, false, gone);
	/* lists: allowed when any grant has the operation */
	ck_assert(!allowed("cat", "GET", "/volumes", 0, NULL, msg, sizeof(msg)));
	grant(user, "private", "viewonly");
	ck_assert(allowed("cat", "GET", "/volumes", 0, NULL, msg, sizeof(msg)));
	/* version is open to any account */
	ck_assert(allowed("cat", "GET", "/version", 0, NULL, msg, sizeof(msg)));
	/* a collection that does not exist denies */
	ck_assert(!allowed("cat", "GET", "/volumes/v", 0, "/Nope", msg, sizeof(msg)));
	ck_assert_ptr_nonnull(strstr(msg, "no collection"));
	/* admins may do everything; inactive accounts nothing */
	ck_assert(allowed("root", "POST", "/containers/create", DK_PRIVILEGED, "/System", msg,
			  sizeof(msg)));
	ck_assert(!allowed("gone", "GET", "/version", 0, NULL, msg, sizeof(msg)));
	ck_assert_ptr_nonnull(strstr(msg, "inactive"));
	rbac_free(rbac);
	store_close();
}
END_TEST

/* buf: s followed by n é (two bytes each). */
static char *with_e_acute(char *buf, size_t len, const char *s, int n)
{
	snprintf(buf, len, "%s", s);
	for (int i = 0; i < n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "\xc3\xa9");
	return buf;
}

/* Denials quote names, labels and keys cut to a bound, never inside a character. */
START_TEST(denials_cut_quoted_text_between_characters)
{
	char user[ID_LEN], long_text[512], want[512], msg[512];
	const struct snapshot *s;
	struct rbac_subject who;
	struct refusal why;
	json_t *ops;

	rbac_setup();
	add_account("dot", false, false, true, user);
	ck_assert_int_eq(rbac_refresh(rbac), 0);
	/* "n" and 120 é: 100 bytes end inside the 50th é */
	with_e_acute(long_text, sizeof(long_text), "n", 120);
	s = rbac_hold(rbac);
	ck_assert_int_eq(rbac_identify_account(s, long_text, &who, &why), -1);
	rbac_release(s);
	strcat(with_e_acute(want, sizeof(want), "no account \"n", 49), "\"");
	ck_assert_str_eq(why.message, want);
	/* an access label of 150 é: 200 bytes end inside the 100th */
	with_e_acute(long_text, sizeof(long_text), "/", 150);
	ck_assert(!allowed("dot", "GET", "/volumes/v", 0, long_text, msg, sizeof(msg)));
	ck_assert_str_eq(msg, with_e_acute(want, sizeof(want), "there is no collection /", 99));
	/* a custom role's keys: 60 bytes of a resource type, 80 of an operation */
	ops = json_pack("{s:b}", with_e_acute(long_text, sizeof(long_text), "R", 40), 1);
	ck_assert_int_eq(roles_check_operations(ops, &why), -1);
	strcat(with_e_acute(want, sizeof(want), "operations.R", 29),
	       ": must be an object of operations");
	ck_assert_str_eq(why.message, want);
	json_decref(ops);
	ops =
	    json_pack("{s:{s:[]}}", "Volume", with_e_acute(long_text, sizeof(long_text), "O", 50));
	ck_assert_int_eq(roles_check_operations(ops, &why), -1);
	strcat(with_e_acute(want, sizeof(want), "operations.Volume: no operation \"O", 39), "\"");
	ck_assert_str_eq(why.message, want);
	json_decref(ops);
	rbac_free(rbac);
	store_close();
}
END_TEST

/* ---- decisions through the plugin handler, with the identity cache ---- */

static struct server decide_srv;
static struct config decide_cfg;

static void decide_setup(void)
{
	char path[300];
	struct failure err;

	rbac_setup();
	config_defaults(&decide_cfg);
	snprintf(path, sizeof(path), "%s/audit-%d.log", dir, (int)getpid());
	decide_srv = (struct server){.cfg = &decide_cfg, .rbac = rbac};
	decide_srv.audit = audit_open(path, 0, 1, &err);
	decide_srv.labels = engine_labels_new(NULL);
	decide_srv.ids = idcache_new();
	ck_assert(decide_srv.audit && decide_srv.labels && decide_srv.ids);
}

static void decide_teardown(void)
{
	idcache_free(decide_srv.ids);
	engine_labels_free(decide_srv.labels);
	audit_close(decide_srv.audit);
	rbac_free(rbac);
	store_close();
}

/*
 * A PEM certificate block of 300 made-up bytes, the one at `flip` changed:
 * the decision path hashes a certificate's DER and never parses it.
 */
static void fake_pem(unsigned char seed, int flip, char *pem, size_t size)
{
	unsigned char der[300];
	char line[80];

	for (size_t i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)(seed + i * 31) ^ (i == (size_t)flip);
	snprintf(pem, size, "-----BEGIN CERTIFICATE-----\n");
	for (size_t at = 0; at < sizeof(der); at += 48) {
		EVP_EncodeBlock((unsigned char *)line, der + at,
				(int)(sizeof(der) - at < 48 ? sizeof(der) - at : 48));
		snprintf(pem + strlen(pem), size - strlen(pem), "%s\n", line);
	}
	snprintf(pem + strlen(pem), size - strlen(pem), "-----END CERTIFICATE-----\n");
}

/* What dockerd sends: base64 of the PEM text. */
static void base64_of(const char *text, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)text, (int)strlen(text));
}

/* A bundle key of account_id for pem's certificate, as a stored bundle adds it; fp gets its
 * fingerprint. */
static void add_key(const char *account_id, const char *pem, char fp[65])
{
	static struct pubkey k;
	unsigned char *der;
	size_t len = 0;

	memset(&k, 0, sizeof(k));
	der = bdl_pem_to_der(pem, &len);
	ck_assert_ptr_nonnull(der);
	ck_assert_int_eq(bdl_der_fingerprint(der, len, k.fingerprint), 0);
	OPENSSL_free(der);
	ck_assert_int_eq(new_uuid(k.id), 0);
	memcpy(k.account_id, account_id, ID_LEN);
	snprintf(k.scope, sizeof(k.scope), "user");
	k.not_after = INT64_MAX;
	rbac_key_added(rbac, &k);
	memcpy(fp, k.fingerprint, 65);
}

/* The plugin's verdict on `docker version` by user with the certificate b64; msg gets its Msg. */
static bool plugin_allows(const char *user, const char *b64, char *msg, size_t len)
{
	struct req r = {.srv = &decide_srv, .method = "POST", .path = "/AuthZPlugin.AuthZReq"};
	struct resp out = {0};
	bool allow;

	r.body = json_pack("{s:s, s:s, s:s, s:[s]}", "User", user, "RequestMethod", "GET",
			   "RequestUri", "/v1.41/version", "RequestPeerCertificates", b64);
	api_plugin_authz_req(&r, &out);
	json_decref(r.body);
	ck_assert_uint_eq(out.status, 200);
	allow = json_is_true(json_object_get(out.json, "Allow"));
	snprintf(msg, len, "%s", json_string_value(json_object_get(out.json, "Msg")));
	json_decref(out.json);
	return allow;
}

/* The decision API's verdict on the PEM certificate; account gets the account it names. */
static bool api_allows(const char *pem, char *account, size_t len)
{
	struct req r = {.srv = &decide_srv, .method = "POST", .path = "/api/authz"};
	struct resp out = {0};
	bool allow;

	r.who.is_admin = true;
	r.body =
	    json_pack("{s:s, s:s, s:s}", "certificate", pem, "method", "GET", "uri", "/version");
	api_authz(&r, &out);
	json_decref(r.body);
	ck_assert_uint_eq(out.status, 200);
	allow = json_is_true(json_object_get(out.json, "allow"));
	snprintf(account, len, "%s",
		 json_string_value(json_object_get(out.json, allow ? "account" : "msg")));
	json_decref(out.json);
	return allow;
}

/* SPEC §7.3: deleting a key refuses its certificate on the next decision, cached or not. */
START_TEST(a_cached_certificate_is_refused_once_its_key_is_deleted)
{
	char ann[ID_LEN], pem[1024], b64[1500], fp[65], got[65], msg[512];

	decide_setup();
	add_account("ann", false, false, true, ann);
	fake_pem(1, -1, pem, sizeof(pem));
	base64_of(pem, b64);
	add_key(ann, pem, fp);
	ck_assert_int_eq(rbac_refresh(rbac), 0);
	ck_assert(plugin_allows("ann", b64, msg, sizeof(msg)));
	ck_assert(api_allows(pem, msg, sizeof(msg)));
	ck_assert_str_eq(msg, "ann");
	/* both texts are cached now, with the key's fingerprint */
	ck_assert(idcache_get(decide_srv.ids, IDCACHE_BASE64_PEM, b64, strlen(b64), got));
	ck_assert_str_eq(got, fp);
	ck_assert(idcache_get(decide_srv.ids, IDCACHE_PEM, pem, strlen(pem), got));
	ck_assert(plugin_allows("ann", b64, msg, sizeof(msg)));
	/* as changes.c does when DELETE .../publicKeys/{id} commits */
	rbac_key_removed(rbac, fp);
	ck_assert(!plugin_allows("ann", b64, msg, sizeof(msg)));
	ck_assert_ptr_nonnull(strstr(msg, "revoked"));
	ck_assert(!api_allows(pem, msg, sizeof(msg)));
	ck_assert_ptr_nonnull(strstr(msg, "revoked"));
	/* still cached: the refusal came from the key index, not from a miss */
	ck_assert(idcache_get(decide_srv.ids, IDCACHE_BASE64_PEM, b64, strlen(b64), got));
	decide_teardown();
}
END_TEST

/* Each certificate is identified as its own, whatever was cached before it. */
START_TEST(a_certificate_never_passes_for_another)
{
	char ann[ID_LEN], bob[ID_LEN], pem_a[1024], pem_b[1024], pem_c[1024];
	char b64_a[1500], b64_b[1500], b64_c[1500], fp[65], msg[512];

	decide_setup();
	add_account("ann", false, false, true, ann);
	add_account("bob", false, false, true, bob);
	fake_pem(1, -1, pem_a, sizeof(pem_a));
	fake_pem(2, -1, pem_b, sizeof(pem_b));
	/* ann's certificate but for one byte, of the same length */
	fake_pem(1, 150, pem_c, sizeof(pem_c));
	base64_of(pem_a, b64_a);
	base64_of(pem_b, b64_b);
	base64_of(pem_c, b64_c);
	ck_assert_uint_eq(strlen(b64_a), strlen(b64_c));
	add_key(ann, pem_a, fp);
	add_key(bob, pem_b, fp);
	ck_assert_int_eq(rbac_refresh(rbac), 0);
	for (int round = 0; round < 3; round++) {
		ck_assert(plugin_allows("ann", b64_a, msg, sizeof(msg)));
		ck_assert(plugin_allows("bob", b64_b, msg, sizeof(msg)));
		/* the engine's user must be the certificate's account */
		ck_assert(!plugin_allows("bob", b64_a, msg, sizeof(msg)));
		ck_assert_ptr_nonnull(strstr(msg, "does not match"));
		ck_assert(!plugin_allows("ann", b64_b, msg, sizeof(msg)));
		ck_assert(!plugin_allows("ann", b64_c, msg, sizeof(msg)));
		ck_assert_ptr_nonnull(strstr(msg, "never issued"));
		ck_assert(api_allows(pem_a, msg, sizeof(msg)));
		ck_assert_str_eq(msg, "ann");
		ck_assert(api_allows(pem_b, msg, sizeof(msg)));
		ck_assert_str_eq(msg, "bob");
		ck_assert(!api_allows(pem_c, msg, sizeof(msg)));
	}
	decide_teardown();
}
END_TEST

/* Whether the current snapshot has a collection at path. */
static bool has_collection(const char *path)
{
	const struct snapshot *s = rbac_hold(rbac);
	bool has = rbac_has_collection(s, path);

	rbac_release(s);
	return has;
}

START_TEST(snapshot_knows_which_collections_exist)
{
	rbac_setup();
	add_collection("apps", "apps", "shared", "/Shared/apps");
	ck_assert_int_eq(rbac_refresh(rbac), 0);
	ck_assert(has_collection("/Shared/apps"));
	ck_assert(has_collection("/Shared/Private"));
	ck_assert(!has_collection("/Shared/app"));
	ck_assert(!has_collection("/Shared/apps/"));
	/* what the store gained since the last refresh, the snapshot does not know yet */
	add_collection("web", "web", "apps", "/Shared/apps/web");
	ck_assert(!has_collection("/Shared/apps/web"));
	ck_assert_int_eq(rbac_refresh(rbac), 0);
	ck_assert(has_collection("/Shared/apps/web"));
	rbac_free(rbac);
	store_close();
}
END_TEST

/*
 * A decision that stalls (a preempted thread, a slow engine) keeps reading
 * the snapshot it took while several others replace it: under AddressSanitizer
 * a freed one would be caught here. Its answers stay those of its own time.
 */
START_TEST(a_held_snapshot_outlives_swaps)
{
	char user[ID_LEN], msg[512];
	const struct snapshot *held;
	struct rbac_subject who;
	struct rbac_request req;
	struct rbac_verdict v;
	struct refusal why;
	struct dk_op op;

	rbac_setup();
	add_account("eve", false, false, true, user);
	add_collection("apps", "apps", "shared", "/Shared/apps");
	ck_assert_int_eq(rbac_refresh(rbac), 0);
	held = rbac_hold(rbac);
	ck_assert_ptr_nonnull(held);
	for (int i = 0; i < 8; i++) {
		char id[16], path[32];

		snprintf(id, sizeof(id), "c%d", i);
		snprintf(path, sizeof(path), "/Shared/c%d", i);
		add_collection(id, id, "shared", path);
		if (i == 3)
			grant(user, "apps", "fullcontrol");
		ck_assert_int_eq(rbac_refresh(rbac), 0);
	}
	/* the newest snapshot has all of it; the held one none */
	ck_assert(has_collection("/Shared/c7"));
	ck_assert(allowed("eve", "POST", "/volumes/create", 0, "/Shared/apps", msg, sizeof(msg)));
	ck_assert(!rbac_has_collection(held, "/Shared/c0"));
	ck_assert(rbac_has_collection(held, "/Shared/apps"));
	ck_assert_int_eq(rbac_identify_account(held, "eve", &who, &why), 0);
	ck_assert_int_eq(dk_lookup("POST", "/volumes/create", &op), 0);
	req = (struct rbac_request){&op, 0, "/Shared/apps"};
	rbac_decide(held, &who, &req, &v);
	ck_assert(!v.allow);
	ck_assert_ptr_nonnull(strstr(v.msg, "no grant"));
	rbac_release(held);
	rbac_free(rbac);
	store_close();
}
END_TEST

START_TEST(builtin_roles_have_their_operations)
{
	json_t *full = roles_builtin_operations("fullcontrol");
	json_t *view = roles_builtin_operations("viewonly");
	json_t *rc = roles_builtin_operations("restrictedcontrol");
	json_t *sched = roles_builtin_operations("scheduler");
	json_t *none = roles_builtin_operations("none");

	ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(full, "Container"),
							  "Container Create")),
			  DK_N_SUBOPTIONS);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(view, "Volume"), "Volume View"));
	ck_assert_ptr_null(json_object_get(json_object_get(view, "Volume"), "Volume Remove"));
	ck_assert_ptr_null(json_object_get(json_object_get(rc, "Container"), "Container Exec"));
	ck_assert_uint_eq(
	    json_array_size(json_object_get(json_object_get(rc, "Container"), "Container Create")),
	    0);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(sched, "Node"), "Node Schedule"));
	ck_assert_uint_eq(json_object_size(none), 0);
	/* by id, and by name in any case */
	ck_assert_str_eq(roles_builtin("viewonly")->name, "View Only");
	ck_assert_str_eq(roles_builtin("view only")->id, "viewonly");
	ck_assert_ptr_null(roles_builtin("View"));
	json_decref(full);
	json_decref(view);
	json_decref(rc);
	json_decref(sched);
	json_decref(none);
}
END_TEST

START_TEST(custom_role_maps_are_checked)
{
	struct refusal why;
	json_t *ok = json_loads("{\"Volume\":{\"Volume View\":[]},\"Container\":"
				"{\"Container Create\":[\"Privileged\"]}}",
				0, NULL);
	json_t *bad_res = json_loads("{\"Boat\":{\"Boat View\":[]}}", 0, NULL);
	json_t *bad_op = json_loads("{\"Volume\":{\"Volume Paint\":[]}}", 0, NULL);
	json_t *bad_subs = json_loads("{\"Volume\":{\"Volume View\":\"all\"}}", 0, NULL);
	json_t *not_object = json_array();

	ck_assert_int_eq(roles_check_operations(ok, &why), 0);
	ck_assert_int_eq(roles_check_operations(bad_res, &why), -1);
	ck_assert_int_eq(roles_check_operations(bad_op, &why), -1);
	ck_assert_ptr_nonnull(strstr(why.message, "Volume Paint"));
	ck_assert_str_eq(why.field, "operations");
	ck_assert_int_eq(roles_check_operations(bad_subs, &why), -1);
	ck_assert_int_eq(roles_check_operations(not_object, &why), -1);
	json_decref(not_object);
	json_decref(ok);
	json_decref(bad_res);
	json_decref(bad_op);
	json_decref(bad_subs);
}
END_TEST

/* ---- metrics: the text format ---- */

/* What `call` wrote into the FILE f it is given, copied into buf. */
#define WRITTEN(buf, call)                                                                         \
	do {                                                                                       \
		size_t len_ = 0;                                                                   \
		char *text_ = NULL;                                                                \
		FILE *f = open_memstream(&text_, &len_);                                           \
		ck_assert_ptr_nonnull(f);                                                          \
		call;                                                                              \
		ck_assert_int_eq(fclose(f), 0);                                                    \
		snprintf(buf, sizeof(buf), "%s", text_);                                           \
		free(text_);                                                                       \
	} while (0)

START_TEST(metrics_labels_are_escaped)
{
	char labels[64] = "";

	ck_assert_int_eq(metrics_label(labels, sizeof(labels), "route", "/a/{}"), 0);
	ck_assert_str_eq(labels, "route=\"/a/{}\"");
	ck_assert_int_eq(metrics_label(labels, sizeof(labels), "v", "a\\b\"c\nd"), 0);
	ck_assert_str_eq(labels, "route=\"/a/{}\",v=\"a\\\\b\\\"c\\nd\"");
	/* what does not fit is not half-written */
	ck_assert_int_eq(
	    metrics_label(labels, sizeof(labels), "w", "0123456789012345678901234567890123456789"),
	    -1);
	ck_assert_str_eq(labels, "route=\"/a/{}\",v=\"a\\\\b\\\"c\\nd\"");
	labels[0] = '\0';
	ck_assert_int_eq(metrics_label(labels, 8, "k", "\"\"\""), -1);
	ck_assert_str_eq(labels, "");
	ck_assert_int_eq(metrics_label(labels, 7, "k", "ab"), 0);
	ck_assert_str_eq(labels, "k=\"ab\"");
}
END_TEST

START_TEST(metrics_samples_are_written_exactly)
{
	char out[512];

	WRITTEN(out, metrics_family(f, "x_total", "counter", "Things."));
	ck_assert_str_eq(out, "# HELP x_total Things.\n# TYPE x_total counter\n");
	WRITTEN(out, metrics_int(f, "x_total", "", 42));
	ck_assert_str_eq(out, "x_total 42\n");
	WRITTEN(out, metrics_int(f, "x_total", "a=\"b\"", 0));
	ck_assert_str_eq(out, "x_total{a=\"b\"} 0\n");
	WRITTEN(out, metrics_seconds(f, "age_seconds", "", 1500000));
	ck_assert_str_eq(out, "age_seconds 0.001500000\n");
	WRITTEN(out, metrics_seconds(f, "age_seconds", "", 12000000007LL));
	ck_assert_str_eq(out, "age_seconds 12.000000007\n");
}
END_TEST

/* A bucket counts what is less than or equal to its bound; the buckets are written cumulative. */
START_TEST(metrics_histograms_have_cumulative_buckets)
{
	static const struct hist_buckets b = {3, {0.001, 0.5, 2}};
	struct hist h;
	struct hist_counts c, twice;
	char out[1024];

	hist_init(&h, &b);
	hist_observe(&h, -5);	      /* a clock that stepped back: 0 */
	hist_observe(&h, 1000000);    /* exactly 1 ms */
	hist_observe(&h, 1000001);    /* just over */
	hist_observe(&h, 2000000000); /* exactly 2 s */
	hist_observe(&h, 3000000000); /* past the last bound */
	hist_read(&h, &c);
	ck_assert_uint_eq(hist_total(&c), 5);
	WRITTEN(out, metrics_hist(f, "d_seconds", "route=\"/x\"", &c));
	ck_assert_str_eq(out, "d_seconds_bucket{route=\"/x\",le=\"0.001\"} 2\n"
			      "d_seconds_bucket{route=\"/x\",le=\"0.5\"} 3\n"
			      "d_seconds_bucket{route=\"/x\",le=\"2\"} 4\n"
			      "d_seconds_bucket{route=\"/x\",le=\"+Inf\"} 5\n"
			      "d_seconds_sum{route=\"/x\"} 5.002000001\n"
			      "d_seconds_count{route=\"/x\"} 5\n");
	twice = c;
	hist_add(&twice, &c);
	WRITTEN(out, metrics_hist(f, "d_seconds", "", &twice));
	ck_assert_str_eq(out, "d_seconds_bucket{le=\"0.001\"} 4\n"
			      "d_seconds_bucket{le=\"0.5\"} 6\n"
			      "d_seconds_bucket{le=\"2\"} 8\n"
			      "d_seconds_bucket{le=\"+Inf\"} 10\n"
			      "d_seconds_sum 10.004000002\n"
			      "d_seconds_count 10\n");
}
END_TEST

/* Routes are labelled by their table's method and pattern; the rest of two listeners as one
 * "other". */
START_TEST(metrics_requests_are_labelled_by_route)
{
	static const struct route api[] = {{"GET", "/a/{}", NULL, 0}, {"POST", "/a", NULL, 0}};
	static const struct route plugin[] = {{"POST", "/Plugin.Activate", NULL, 0}};
	struct http_stats *s[3] = {http_stats_new(api, 2), NULL, http_stats_new(plugin, 1)};
	char out[8192];

	ck_assert(s[0] != NULL && s[2] != NULL);
	http_stats_count(s[0], 0, 200, 1000);
	http_stats_count(s[0], 0, 200, 2000);
	http_stats_count(s[0], 0, 404, 3000);
	http_stats_count(s[0], -1, 404, 4000);
	http_stats_count(s[2], -1, 404, 5000);
	http_stats_count(s[2], 0, 200, 6000);
	http_stats_count(s[2], 7, 999, 7000); /* no such route, no such status: "other", no code */
	WRITTEN(out, http_stats_write(f, s, 3));
	ck_assert_msg(strstr(out, "# TYPE authd_http_requests_total counter\n"
				  "authd_http_requests_total{method=\"GET\",route=\"/a/{}\",code="
				  "\"200\"} 2\n"
				  "authd_http_requests_total{method=\"GET\",route=\"/a/{}\",code="
				  "\"404\"} 1\n"
				  "authd_http_requests_total{method=\"POST\",route=\"/Plugin."
				  "Activate\",code=\"200\"} 1\n"
				  "authd_http_requests_total{method=\"other\",route=\"other\",code="
				  "\"404\"} 2\n# HELP") != NULL,
		      "%s", out);
	/* POST /a answered nothing: no series of it */
	ck_assert_ptr_null(strstr(out, "route=\"/a\""));
	ck_assert_ptr_nonnull(strstr(
	    out, "authd_http_request_duration_seconds_count{method=\"GET\",route=\"/a/{}\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(out, "authd_http_request_duration_seconds_sum{method=\"GET\","
					  "route=\"/a/{}\"} 0.000006000\n"));
	ck_assert_ptr_nonnull(strstr(
	    out,
	    "authd_http_request_duration_seconds_count{method=\"other\",route=\"other\"} 3\n"));
	http_stats_free(s[0]);
	http_stats_free(s[2]);
}
END_TEST

START_TEST(secrets_seal_and_open_only_with_their_key)
{
	unsigned char key[SECRET_KEY_LEN], other[SECRET_KEY_LEN];
	char *sealed, *again, *plain;
	struct failure err;
	char sub[4096];

	snprintf(sub, sizeof(sub), "%s/secret", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	/* where store.keyFile's key seals, secret.key is read when there is one, never made */
	ck_assert_int_eq(secret_key_load(sub, false, key, &err), 1);
	ck_assert_int_eq(secret_key_load(sub, false, key, &err), 1);
	ck_assert_int_eq(secret_key_load(sub, true, key, &err), 0);
	/* a second start reads the same key back, whether it would make one or not */
	ck_assert_int_eq(secret_key_load(sub, true, other, &err), 0);
	ck_assert_mem_eq(key, other, SECRET_KEY_LEN);
	ck_assert_int_eq(secret_key_load(sub, false, other, &err), 0);
	ck_assert_mem_eq(key, other, SECRET_KEY_LEN);
	sealed = secret_seal(key, "reader-pw");
	again = secret_seal(key, "reader-pw");
	ck_assert_ptr_nonnull(sealed);
	ck_assert_ptr_null(strstr(sealed, "reader-pw"));
	ck_assert_str_ne(sealed, again); /* a fresh nonce each time */
	plain = secret_unseal(key, sealed);
	ck_assert_str_eq(plain, "reader-pw");
	free(plain);
	other[0] ^= 1;
	ck_assert_ptr_null(secret_unseal(other, sealed));
	sealed[10] = sealed[10] == '0' ? '1' : '0';
	ck_assert_ptr_null(secret_unseal(key, sealed));
	ck_assert_ptr_null(secret_unseal(key, "v1:00"));
	ck_assert_ptr_null(secret_unseal(key, "v1:zz"));
	ck_assert_ptr_null(secret_unseal(key, "plain"));
	free(sealed);
	free(again);
	/* a key file of the wrong size is refused, not replaced */
	snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), "/secret.key");
	ck_assert_int_eq(truncate(sub, 5), 0);
	sub[strlen(sub) - strlen("/secret.key")] = '\0';
	ck_assert_int_eq(secret_key_load(sub, true, key, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "secret.key"));
}
END_TEST

/* ---- what is swapped while others read it (refcount.h) ---- */

static atomic_int freed;

struct counted {
	struct ref ref;
	int value;
	char canary[64]; /* read by readers: freed memory would show under AddressSanitizer */
};

static void free_counted(struct ref *r)
{
	atomic_fetch_add(&freed, 1);
	free(r);
}

static struct ref *counted_new(int value)
{
	struct counted *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	ref_init(&c->ref, free_counted);
	c->value = value;
	memset(c->canary, 'c', sizeof(c->canary));
	return &c->ref;
}

START_TEST(a_reference_outlives_the_slot_s_swaps)
{
	struct ref_slot slot;
	struct counted *held;

	atomic_store(&freed, 0);
	ref_slot_init(&slot);
	ck_assert_ptr_null(ref_slot_take(&slot));
	ref_slot_publish(&slot, counted_new(1));
	held = (struct counted *)ref_slot_take(&slot);
	for (int i = 2; i <= 5; i++)
		ref_slot_publish(&slot, counted_new(i));
	/* 2, 3 and 4 went as they were replaced; 1 is held, 5 is current */
	ck_assert_int_eq(atomic_load(&freed), 3);
	ck_assert_int_eq(held->value, 1);
	ck_assert_int_eq(held->canary[63], 'c');
	ref_put(&held->ref);
	ck_assert_int_eq(atomic_load(&freed), 4);
	ref_slot_destroy(&slot);
	ck_assert_int_eq(atomic_load(&freed), 5);
}
END_TEST

#define SWAPS 20000

struct race {
	struct ref_slot slot;
	atomic_bool stop;
	atomic_long reads;
};

static void *reader(void *arg)
{
	struct race *race = arg;

	while (!atomic_load(&race->stop)) {
		struct counted *c = (struct counted *)ref_slot_take(&race->slot);

		if (c == NULL)
			continue;
		/* a reader that takes its time now and then, as a stalled decision does */
		if (c->value % 1000 == 0)
			sched_yield();
		if (c->value < 0 || c->value > SWAPS || c->canary[0] != 'c' || c->canary[63] != 'c')
			abort();
		ref_put(&c->ref);
		atomic_fetch_add(&race->reads, 1);
	}
	return NULL;
}

START_TEST(readers_and_a_writer_race_safely)
{
	struct race race;
	pthread_t t[3];

	atomic_store(&freed, 0);
	ref_slot_init(&race.slot);
	atomic_init(&race.stop, false);
	atomic_init(&race.reads, 0);
	ref_slot_publish(&race.slot, counted_new(0));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader, &race), 0);
	for (int i = 1; i <= SWAPS; i++)
		ref_slot_publish(&race.slot, counted_new(i));
	atomic_store(&race.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_gt(atomic_load(&race.reads), 0);
	/* every object but the current one freed, each exactly once */
	ck_assert_int_eq(atomic_load(&freed), SWAPS);
	ref_slot_destroy(&race.slot);
	ck_assert_int_eq(atomic_load(&freed), SWAPS + 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("authd");

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	unit_case(s, "config",
		  (const TTest *const[]){config_defaults_match_the_spec, config_reads_every_section,
					 config_reads_the_store, config_refuses_bad_files, NULL});
	unit_case(s, "session-settings",
		  (const TTest *const[]){session_settings_default_to_the_config,
					 session_settings_take_what_a_put_gives,
					 session_settings_refuse_out_of_range, NULL});
	unit_case(s, "tokens",
		  (const TTest *const[]){tokens_are_random_and_well_formed,
					 ids_are_uuid7_and_distinct,
					 malformed_tokens_are_refused_before_lookup, NULL});
	unit_case(s, "paging",
		  (const TTest *const[]){paging_reads_start_and_limit,
					 paging_refuses_bad_limits_and_cursors,
					 paging_marks_where_the_next_page_starts, NULL});
	unit_case(s, "throttle",
		  (const TTest *const[]){throttle_locks_out_at_the_limit,
					 throttle_forgets_old_failures_and_clears,
					 throttle_locks_out_an_address_of_many_users,
					 throttle_stays_bounded_under_many_keys, NULL});
	unit_case(s, "passwords",
		  (const TTest *const[]){passwords_hash_with_argon2id, password_rules, NULL});
	unit_case(
	    s, "forms",
	    (const TTest *const[]){forms_name_the_bad_field, every_form_is_well_formed, NULL});
	unit_case(s, "json-text",
		  (const TTest *const[]){
		      utf8_clean_keeps_valid_text, utf8_clean_replaces_invalid_sequences,
		      utf8_clean_cuts_between_characters, utf8_clean_output_is_always_json_text,
		      errors_quoting_bad_text_keep_their_body, NULL});
	unit_case(s, "metrics",
		  (const TTest *const[]){metrics_labels_are_escaped,
					 metrics_samples_are_written_exactly,
					 metrics_histograms_have_cumulative_buckets,
					 metrics_requests_are_labelled_by_route, NULL});
	unit_case(s, "secrets",
		  (const TTest *const[]){secrets_seal_and_open_only_with_their_key, NULL});
	unit_case(s, "refcount",
		  (const TTest *const[]){a_reference_outlives_the_slot_s_swaps,
					 readers_and_a_writer_race_safely, NULL});
	unit_case(s, "rbac",
		  (const TTest *const[]){
		      grants_inherit_down_the_tree_and_through_teams, lists_admins_and_bad_targets,
		      builtin_roles_have_their_operations, custom_role_maps_are_checked,
		      denials_cut_quoted_text_between_characters,
		      snapshot_knows_which_collections_exist, a_held_snapshot_outlives_swaps,
		      NULL});
	unit_case(s, "times", (const TTest *const[]){times_are_formatted_per_second, NULL});
	unit_case(s, "identity-cache",
		  (const TTest *const[]){idcache_hits_only_the_same_bytes,
					 idcache_stays_bounded_and_never_mixes_entries,
					 idcache_threads_share_it_safely,
					 a_cached_certificate_is_refused_once_its_key_is_deleted,
					 a_certificate_never_passes_for_another, NULL});
	return unit_run(s, dir);
}
