/*
 * Benchmark (not a test): LDAP logins per second through authd's /auth/login
 * (8 clients, each user bound as its own DN), beside two references made
 * directly with libldap against the same slapd in the same run: a connect,
 * simple bind and unbind per login, and a simple bind on a connection each
 * client keeps open.
 *   bench_ldap_login [SECONDS]    (default 10, or BENCH_SECONDS)
 * It starts its own slapd and authd (the integration tests' fixtures) and
 * stops both by pid at the end.
 */
#include <curl/curl.h>
#include <ldap.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "harness.h"
#include "slapd.h"

#define CLIENTS 8
#define USERS 200
#define ROUNDS 2
#define ADMIN_PW "Bench-Admin-Passw0rd"
#define TARGET 0.80 /* of the connect, bind, unbind reference */

enum kind { CONNECT_BIND, OPEN_BIND, AUTHD_LOGIN };

struct phase {
	enum kind kind;
	const struct authd *authd;
	const struct slapd *dir;
	double seconds;
	pthread_barrier_t start;
};

struct client {
	struct phase *phase;
	int id;
	long ok, failed;
};

static LDAP *connect_to(const struct slapd *dir)
{
	int v3 = LDAP_VERSION3;
	LDAP *ld = NULL;

	if (ldap_initialize(&ld, dir->url) != LDAP_SUCCESS)
		return NULL;
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	return ld;
}

/* A simple bind as the user's DN on ld. */
static bool bind_as_user(LDAP *ld, const struct slapd *dir, int user)
{
	char dn[128], pw[32];
	struct berval cred;

	snprintf(dn, sizeof(dn), "uid=b%d,ou=people,%s", user, dir->suffix);
	snprintf(pw, sizeof(pw), "pw-b%d", user);
	cred = (struct berval){strlen(pw), pw};
	return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL) == LDAP_SUCCESS;
}

/* The first reference, a login without a pool: connect, bind, unbind. */
static bool connect_and_bind(const struct slapd *dir, int user)
{
	LDAP *ld = connect_to(dir);
	bool ok = ld != NULL && bind_as_user(ld, dir, user);

	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return ok;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static CURL *login_handle(const struct authd *s, struct curl_slist **headers)
{
	CURL *c = curl_easy_init();
	char url[128];

	if (c == NULL)
		return NULL;
	snprintf(url, sizeof(url), "%s/auth/login", s->base);
	*headers = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, s->cainfo);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	return c;
}

static bool login_through_authd(CURL *c, int user)
{
	char body[96];
	long status = 0;

	snprintf(body, sizeof(body), "{\"username\":\"b%d\",\"password\":\"pw-b%d\"}", user, user);
	curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
	if (curl_easy_perform(c) != CURLE_OK)
		return false;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return status == 200;
}

static void *run_client(void *arg)
{
	struct client *cl = arg;
	struct phase *ph = cl->phase;
	struct curl_slist *headers = NULL;
	CURL *c = ph->kind == AUTHD_LOGIN ? login_handle(ph->authd, &headers) : NULL;
	/* the second reference: the connection is open (and its first bind made) before */
	LDAP *ld = ph->kind == OPEN_BIND ? connect_to(ph->dir) : NULL;
	double end;

	if (ld != NULL)
		bind_as_user(ld, ph->dir, cl->id);
	pthread_barrier_wait(&ph->start);
	end = it_now() + ph->seconds;
	for (int k = 0; it_now() < end; k++) {
		int user = (cl->id + k * CLIENTS) % USERS;
		bool ok = ph->kind == AUTHD_LOGIN ? c != NULL && login_through_authd(c, user)
			  : ph->kind == OPEN_BIND ? ld != NULL && bind_as_user(ld, ph->dir, user)
						  : connect_and_bind(ph->dir, user);

		ok ? cl->ok++ : cl->failed++;
	}
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	return NULL;
}

/* Runs CLIENTS clients for the phase; the rate of successes, with failures counted. */
static double run_phase(struct phase *ph, long *failed)
{
	struct client cl[CLIENTS];
	pthread_t t[CLIENTS];
	long ok = 0;
	double start;

	pthread_barrier_init(&ph->start, NULL, CLIENTS + 1);
	for (int i = 0; i < CLIENTS; i++) {
		cl[i] = (struct client){ph, i, 0, 0};
		pthread_create(&t[i], NULL, run_client, &cl[i]);
	}
	pthread_barrier_wait(&ph->start);
	start = it_now();
	*failed = 0;
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(t[i], NULL);
		ok += cl[i].ok;
		*failed += cl[i].failed;
	}
	pthread_barrier_destroy(&ph->start);
	return (double)ok / (it_now() - start);
}

static char *people_ldif(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fprintf(
	    f,
	    "dn: ou=people,dc=bench,dc=example\nobjectClass: organizationalUnit\nou: people\n\n");
	for (int i = 0; i < USERS; i++)
		fprintf(f,
			"dn: uid=b%d,ou=people,dc=bench,dc=example\nobjectClass: inetOrgPerson\n"
			"uid: b%d\ncn: Bench %d\nsn: B\nuserPassword: pw-b%d\n\n",
			i, i, i, i);
	fclose(f);
	return text;
}

/* connectionPoolSize: BENCH_LDAP_POOL, to compare with no pool (0); else the default. */
static int pool_size(void)
{
	const char *env = getenv("BENCH_LDAP_POOL");

	return env && *env ? atoi(env) : 8;
}

/* Saves the LDAP settings, switches the backend, and provisions every user by a first login. */
static int configure(struct authd *s, const struct slapd *dir)
{
	char *admin = authd_login(s, "admin", ADMIN_PW), body[1024];
	struct reply r;
	int rc = admin ? 0 : -1;

	snprintf(body, sizeof(body),
		 "{\"serverURL\":\"%s\",\"readerDN\":\"%s\",\"readerPassword\":\"%s\","
		 "\"userSearchConfigs\":[{\"baseDN\":\"ou=people,%s\"}],"
		 "\"connectionPoolSize\":%d}",
		 dir->url, dir->reader_dn, dir->reader_pw, dir->suffix, pool_size());
	if (rc == 0 && (http_call(s, "PUT", "/enzi/v0/config/auth/ldap", admin, body, NULL, &r) ||
			r.status != 200))
		rc = -1;
	reply_free(&r);
	if (rc == 0 && (http_call(s, "PUT", "/enzi/v0/config/auth", admin, "{\"backend\":\"ldap\"}",
				  NULL, &r) ||
			r.status != 200))
		rc = -1;
	reply_free(&r);
	for (int i = 0; rc == 0 && i < USERS; i++) {
		char *token, user[16], pw[16];

		snprintf(user, sizeof(user), "b%d", i);
		snprintf(pw, sizeof(pw), "pw-b%d", i);
		token = authd_login(s, user, pw);
		rc = token ? 0 : -1;
		free(token);
	}
	free(admin);
	http_close();
	return rc;
}

int main(int argc, char **argv)
{
	const char *env = getenv("BENCH_SECONDS");
	double seconds = argc > 1 ? atof(argv[1]) : env ? atof(env) : 10;
	struct slapd_opts opts = {.suffix = "dc=bench,dc=example"};
	double rps[3] = {0, 0, 0};
	long failed[3] = {0, 0, 0};
	struct slapd *dir = NULL;
	struct authd *s = NULL;
	char tmp[] = "/tmp/authd-bench-ldap-XXXXXX", *ldif;
	int rc = 1;

	if (seconds <= 0) {
		fprintf(stderr, "usage: bench_ldap_login [SECONDS > 0]\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || it_workdir_init() != 0 ||
	    mkdtemp(tmp) == NULL) {
		fprintf(stderr, "bench_ldap_login: no temporary directory\n");
		return 1;
	}
	opts.ldif = ldif = people_ldif();
	if (slapd_test_ca(tmp) != 0 || (dir = slapd_new(tmp)) == NULL ||
	    slapd_start(dir, &opts) != 0 || (s = authd_new(NULL)) == NULL ||
	    authd_start(s, ADMIN_PW) != 0 || configure(s, dir) != 0) {
		fprintf(stderr, "bench_ldap_login: could not set up slapd and authd\n");
		goto out;
	}
	/* alternate the three, best of each, so that a noisy moment does not pick the winner */
	for (int round = 0; round < ROUNDS; round++) {
		for (int k = CONNECT_BIND; k <= AUTHD_LOGIN; k++) {
			struct phase ph = {(enum kind)k, s, dir, seconds, {{0}}};
			long f;
			double r = run_phase(&ph, &f);

			rps[k] = r > rps[k] ? r : rps[k];
			failed[k] += f;
		}
	}
	printf("clients=%d users=%d seconds=%.0f rounds=%d\n", CLIENTS, USERS, seconds, ROUNDS);
	printf("connect_bind_rps=%.1f (libldap: connect, simple bind, unbind) failed=%ld\n",
	       rps[CONNECT_BIND], failed[CONNECT_BIND]);
	printf("open_bind_rps=%.1f (libldap: simple bind on an open connection) failed=%ld\n",
	       rps[OPEN_BIND], failed[OPEN_BIND]);
	printf("ldap_login_rps=%.1f (POST /auth/login over HTTPS, keep-alive) failed=%ld\n",
	       rps[AUTHD_LOGIN], failed[AUTHD_LOGIN]);
	printf("ratio_connect=%.2f target=%.2f %s\n", rps[AUTHD_LOGIN] / rps[CONNECT_BIND], TARGET,
	       rps[AUTHD_LOGIN] / rps[CONNECT_BIND] >= TARGET ? "met" : "NOT met");
	printf("ratio_open=%.2f (no target: the floor of what a login adds to a bind)\n",
	       rps[AUTHD_LOGIN] / rps[OPEN_BIND]);
	rc = failed[0] == 0 && failed[1] == 0 && failed[2] == 0 ? 0 : 1;
out:
	authd_free(s);
	slapd_free(dir);
	cmd_remove_tree(tmp);
	it_workdir_remove();
	free(ldif);
	curl_global_cleanup();
	return rc;
}
