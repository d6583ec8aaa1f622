/*
 * LDAP settings (SPEC §6.1): reading them from JSON with every field
 * validated, writing them back without their secrets, and the rule that
 * keeps a stored reader password only while URL and reader DN stay the same.
 */
#include <ctype.h>
#include <ldap.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ldapsync.h"

#define DEFAULT_TIMEOUT 10
#define MAX_TIMEOUT 300
#define DEFAULT_MAX_DEACTIVATION 10
#define DEFAULT_POOL_SIZE 8
#define MAX_POOL_SIZE 64
#define DEFAULT_POOL_IDLE 60
#define MAX_POOL_IDLE 3600
#define DEFAULT_SCHEDULE "@hourly"
#define MAX_EVERY_HOURS 720 /* "@every Nh": 30 days */
#define DEFAULT_UNIQUE_ID_ATTR "entryUUID"
/* memberRangeSize: Windows answers at most 1,500 (MaxValRange) whatever is asked */
#define MAX_RANGE_SIZE 100000
#define MAX_SERVERS 64
#define MAX_SEARCHES 64

static int refuse(struct refusal *err, const char *prefix, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fills *err with "<prefix><field>: <message>"; always -1, for `return refuse(...)`. */
static int refuse(struct refusal *err, const char *prefix, const char *field, const char *fmt, ...)
{
	char msg[224];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err->field, sizeof(err->field), "%s%s", prefix, field);
	/* the object itself ("additionalDomains[0]"), or a key that is the empty string */
	if (field[0] == '\0' && err->field[0] != '\0')
		err->field[strlen(err->field) - 1] = '\0';
	if (err->field[0] == '\0')
		snprintf(err->field, sizeof(err->field), "\"\"");
	snprintf(err->message, sizeof(err->message), "%s: %s", err->field, msg);
	return -1;
}

static bool listed(const char *const *list, const char *key)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (strcmp(list[i], key) == 0)
			return true;
	return false;
}

/* Refuses keys the object should not have (in neither list; also may be NULL), naming the
 * first one. */
static int check_keys(const json_t *obj, const char *const *known, const char *const *also,
		      const char *prefix, struct refusal *err)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		if (!listed(known, key) && !listed(also, key))
			return refuse(err, prefix, key, "unknown field");
	}
	return 0;
}

/* A string field: missing or null gives def (may be NULL); *out is malloc'd. */
static int get_string(const json_t *obj, const char *key, const char *def, const char *prefix,
		      char **out, struct refusal *err)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (def != NULL && (*out = strdup(def)) == NULL)
			return refuse(err, prefix, key, "out of memory");
		return 0;
	}
	if (!json_is_string(v))
		return refuse(err, prefix, key, "must be a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return refuse(err, prefix, key, "must not contain NUL characters");
	if ((*out = strdup(json_string_value(v))) == NULL)
		return refuse(err, prefix, key, "out of memory");
	return 0;
}

static int get_bool(const json_t *obj, const char *key, bool def, const char *prefix, bool *out,
		    struct refusal *err)
{
	const json_t *v = json_object_get(obj, key);

	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return refuse(err, prefix, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

static int get_int(const json_t *obj, const char *key, int def, int min, int max,
		   const char *prefix, int *out, struct refusal *err)
{
	const json_t *v = json_object_get(obj, key);

	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return refuse(err, prefix, key, "must be a whole number from %d to %d", min, max);
	*out = (int)json_integer_value(v);
	return 0;
}

/* ---- what a value must look like ---- */

static bool is_dn(const char *s)
{
	LDAPDN dn = NULL;

	if (s[0] == '\0' || ldap_str2dn(s, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return false;
	ldap_dnfree(dn);
	return true;
}

/* An attribute description: a name (letter, then letters, digits, '-') or an OID. */
static bool is_attr(const char *s)
{
	if (isalpha((unsigned char)s[0])) {
		for (s++; *s; s++)
			if (!isalnum((unsigned char)*s) && *s != '-')
				return false;
		return true;
	}
	if (!isdigit((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && !(*s == '.' && isdigit((unsigned char)s[1])))
			return false;
	return true;
}

static bool is_dns_name(const char *s)
{
	size_t total = strlen(s), label = 0;

	if (total == 0 || total > 253)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return false;
		if ((label == 0 && *p == '-') || ++label > 63)
			return false;
	}
	return label > 0 && s[total - 1] != '-';
}

/* libldap parses filters only while encoding them, so encode one in an assertion control. */
static bool is_filter(const char *filter)
{
	struct berval bv = {0, NULL};
	LDAP *ld = NULL;
	int rc;

	if (ldap_initialize(&ld, NULL) != LDAP_SUCCESS)
		return false;
	rc = ldap_create_assertion_control_value(ld, (char *)filter, &bv);
	ldap_memfree(bv.bv_val);
	ldap_unbind_ext_s(ld, NULL, NULL);
	return rc == LDAP_SUCCESS;
}

/* A user-written filter may omit its outer parentheses; "(x=*)" is checked whole. */
static int check_filter(const char *filter, const char *prefix, const char *field,
			struct refusal *err)
{
	char *wrapped;
	bool ok;

	if (filter[0] == '\0')
		return 0;
	if (asprintf(&wrapped, filter[0] == '(' ? "%s" : "(%s)", filter) < 0)
		return refuse(err, prefix, field, "out of memory");
	ok = is_filter(wrapped);
	free(wrapped);
	return ok ? 0 : refuse(err, prefix, field, "is not a valid LDAP filter (RFC 4515)");
}

/* rootCerts: "" or one or more PEM certificates and nothing else. */
static bool is_pem_certs(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	unsigned long e;
	int n = 0;
	X509 *x;

	if (bio == NULL)
		return false;
	ERR_clear_error();
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	e = ERR_peek_last_error();
	ERR_clear_error();
	BIO_free(bio);
	/* running out of input is the one way a good list ends */
	return n > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

static int check_url(const char *url, bool start_tls, const char *prefix, const char *field,
		     struct refusal *err)
{
	LDAPURLDesc *lud = NULL;
	bool ldaps;

	if (url[0] == '\0')
		return refuse(err, prefix, field, "must be set");
	if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS)
		return refuse(err, prefix, field, "must be an ldap:// or ldaps:// URL");
	ldaps = strcasecmp(lud->lud_scheme, "ldaps") == 0;
	if (!ldaps && strcasecmp(lud->lud_scheme, "ldap") != 0) {
		ldap_free_urldesc(lud);
		return refuse(err, prefix, field, "scheme must be ldap or ldaps");
	}
	if (lud->lud_host == NULL || lud->lud_host[0] == '\0') {
		ldap_free_urldesc(lud);
		return refuse(err, prefix, field, "must name a host");
	}
	ldap_free_urldesc(lud);
	if (ldaps && start_tls)
		return refuse(err, prefix, "startTLS", "cannot be used with an ldaps:// URL");
	return 0;
}

/* One entry of serverURLs, checked like serverURL and listed once. */
static int read_listed_url(const json_t *v, size_t i, const char *prefix, struct ls_server *out,
			   struct refusal *err)
{
	char field[32];

	snprintf(field, sizeof(field), "serverURLs[%zu]", i);
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return refuse(err, prefix, field, "must be a string");
	if ((out->urls[i] = strdup(json_string_value(v))) == NULL)
		return refuse(err, prefix, field, "out of memory");
	out->nurls = i + 1;
	for (size_t k = 0; k < i; k++)
		if (strcmp(out->urls[k], out->urls[i]) == 0)
			return refuse(err, prefix, field, "is listed twice");
	return check_url(out->urls[i], out->start_tls, prefix, field, err);
}

/*
 * serverURL, serverURLs (the servers in the order they are tried) or both,
 * when serverURL is the list's first: the one URL of SPEC §6.1 keeps working.
 */
static int read_urls(const json_t *obj, const char *prefix, struct ls_server *out,
		     struct refusal *err)
{
	const json_t *list = json_object_get(obj, "serverURLs");
	char *one = NULL;
	int rc = 0;

	if (get_string(obj, "serverURL", "", prefix, &one, err))
		return -1;
	if (list == NULL || json_is_null(list)) {
		out->urls[0] = one;
		out->nurls = 1;
		return check_url(one, out->start_tls, prefix, "serverURL", err);
	}
	if (!json_is_array(list) || json_array_size(list) < 1 ||
	    json_array_size(list) > LS_URLS_MAX)
		rc = refuse(err, prefix, "serverURLs", "must be a list of 1 to %d URLs",
			    LS_URLS_MAX);
	for (size_t i = 0; rc == 0 && i < json_array_size(list); i++)
		rc = read_listed_url(json_array_get(list, i), i, prefix, out, err);
	if (rc == 0 && one[0] != '\0' && strcmp(one, out->urls[0]) != 0)
		rc = refuse(err, prefix, "serverURL",
			    "must be the first of serverURLs when both are given");
	free(one);
	return rc;
}

/* ---- objects ---- */

static const char *const server_keys[] = {
    "domain",	     "serverURL",	   "serverURLs", "startTLS",	   "rootCerts",
    "tlsSkipVerify", "noSimplePagination", "readerDN",	 "readerPassword", "readerPasswordSet",
    "uniqueIDAttr",  "memberRangeSize",	   NULL};

static int read_server(const json_t *obj, bool additional, const char *prefix,
		       struct ls_server *out, struct refusal *err)
{
	if (!json_is_object(obj))
		return refuse(err, prefix, "", "must be an object");
	if (check_keys(obj, server_keys, NULL, prefix, err) ||
	    get_string(obj, "domain", "", prefix, &out->domain, err) ||
	    get_bool(obj, "startTLS", false, prefix, &out->start_tls, err) ||
	    get_string(obj, "rootCerts", "", prefix, &out->root_certs, err) ||
	    get_bool(obj, "tlsSkipVerify", false, prefix, &out->tls_skip_verify, err) ||
	    get_bool(obj, "noSimplePagination", false, prefix, &out->no_simple_pagination, err) ||
	    get_string(obj, "readerDN", "", prefix, &out->reader_dn, err) ||
	    get_string(obj, "readerPassword", NULL, prefix, &out->reader_password, err) ||
	    get_string(obj, "uniqueIDAttr", DEFAULT_UNIQUE_ID_ATTR, prefix, &out->unique_id_attr,
		       err) ||
	    get_int(obj, "memberRangeSize", 0, 0, MAX_RANGE_SIZE, prefix, &out->member_range_size,
		    err))
		return -1;
	if (additional && !is_dns_name(out->domain))
		return refuse(err, prefix, "domain", "must be a DNS name such as eu.example.com");
	if (read_urls(obj, prefix, out, err))
		return -1;
	if (out->root_certs[0] != '\0' && !is_pem_certs(out->root_certs))
		return refuse(err, prefix, "rootCerts", "must be one or more PEM certificates");
	if (out->reader_dn[0] != '\0' && !is_dn(out->reader_dn))
		return refuse(err, prefix, "readerDN", "is not a valid DN (RFC 4514)");
	if (out->unique_id_attr[0] != '\0' && !is_attr(out->unique_id_attr))
		return refuse(err, prefix, "uniqueIDAttr",
			      "must be an attribute name such as entryUUID or objectGUID");
	return 0;
}

static const char *const search_keys[] = {
    "baseDN",	  "scopeSubtree", "usernameAttr",	  "fullNameAttr",      "filter",
    "matchGroup", "matchGroupDN", "matchGroupMemberAttr", "matchGroupIterate", NULL};

static int read_search(const json_t *obj, const char *prefix, struct ls_user_search *out,
		       struct refusal *err)
{
	if (!json_is_object(obj))
		return refuse(err, prefix, "", "must be an object");
	if (check_keys(obj, search_keys, NULL, prefix, err) ||
	    get_string(obj, "baseDN", "", prefix, &out->base_dn, err) ||
	    get_bool(obj, "scopeSubtree", false, prefix, &out->scope_subtree, err) ||
	    get_string(obj, "usernameAttr", "uid", prefix, &out->username_attr, err) ||
	    get_string(obj, "fullNameAttr", "cn", prefix, &out->full_name_attr, err) ||
	    get_string(obj, "filter", "", prefix, &out->filter, err) ||
	    get_bool(obj, "matchGroup", false, prefix, &out->match_group, err) ||
	    get_string(obj, "matchGroupDN", "", prefix, &out->match_group_dn, err) ||
	    get_string(obj, "matchGroupMemberAttr", "member", prefix, &out->match_group_member_attr,
		       err) ||
	    get_bool(obj, "matchGroupIterate", false, prefix, &out->match_group_iterate, err))
		return -1;
	if (!is_dn(out->base_dn))
		return refuse(err, prefix, "baseDN", "must be a DN (RFC 4514)");
	if (!is_attr(out->username_attr))
		return refuse(err, prefix, "usernameAttr", "must be an attribute name such as uid");
	if (out->full_name_attr[0] != '\0' && !is_attr(out->full_name_attr))
		return refuse(err, prefix, "fullNameAttr", "must be an attribute name such as cn");
	if (check_filter(out->filter, prefix, "filter", err))
		return -1;
	if (!out->match_group)
		return 0;
	if (!is_dn(out->match_group_dn))
		return refuse(err, prefix, "matchGroupDN", "must be a DN when matchGroup is on");
	if (!is_attr(out->match_group_member_attr))
		return refuse(err, prefix, "matchGroupMemberAttr", "must be an attribute name");
	return 0;
}

static const char *const member_sync_keys[] = {"enableSync",
					       "selectGroupMembers",
					       "groupDN",
					       "groupMemberAttr",
					       "searchBaseDN",
					       "searchScopeSubtree",
					       "searchFilter",
					       "allowNonLDAPMembers",
					       "followNestedGroups",
					       NULL};

int ls_member_sync_from_json(const json_t *obj, const char *prefix, struct ls_member_sync *out,
			     struct refusal *err)
{
	memset(out, 0, sizeof(*out));
	if (obj == NULL || json_is_null(obj))
		obj = json_object();
	else
		json_incref((json_t *)obj);
	if (!json_is_object(obj)) {
		json_decref((json_t *)obj);
		return refuse(err, prefix, "", "must be an object");
	}
	int rc =
	    check_keys(obj, member_sync_keys, NULL, prefix, err) ||
	    get_bool(obj, "enableSync", false, prefix, &out->enable_sync, err) ||
	    get_bool(obj, "selectGroupMembers", true, prefix, &out->select_group_members, err) ||
	    get_string(obj, "groupDN", "", prefix, &out->group_dn, err) ||
	    get_string(obj, "groupMemberAttr", "member", prefix, &out->group_member_attr, err) ||
	    get_string(obj, "searchBaseDN", "", prefix, &out->search_base_dn, err) ||
	    get_bool(obj, "searchScopeSubtree", false, prefix, &out->search_scope_subtree, err) ||
	    get_string(obj, "searchFilter", "", prefix, &out->search_filter, err) ||
	    get_bool(obj, "allowNonLDAPMembers", false, prefix, &out->allow_non_ldap_members,
		     err) ||
	    get_bool(obj, "followNestedGroups", false, prefix, &out->follow_nested_groups, err);
	json_decref((json_t *)obj);
	if (rc)
		goto refused;
	/* the fields only matter, and are only checked, when the sync is on */
	if (!out->enable_sync)
		return 0;
	if (out->select_group_members) {
		if (!is_dn(out->group_dn))
			rc = refuse(err, prefix, "groupDN", "must be a DN (RFC 4514)");
		else if (!is_attr(out->group_member_attr))
			rc = refuse(err, prefix, "groupMemberAttr", "must be an attribute name");
		/* memberUid names users, never groups: there is nothing to follow */
		else if (out->follow_nested_groups &&
			 strcasecmp(out->group_member_attr, "memberUid") == 0)
			rc = refuse(err, prefix, "followNestedGroups",
				    "cannot be on with groupMemberAttr memberUid, whose values are "
				    "usernames, not groups");
	} else if (!is_dn(out->search_base_dn)) {
		rc = refuse(err, prefix, "searchBaseDN", "must be a DN (RFC 4514)");
	} else {
		rc = check_filter(out->search_filter, prefix, "searchFilter", err);
	}
	if (rc == 0)
		return 0;
refused:
	ls_member_sync_free(out);
	return -1;
}

json_t *ls_member_sync_to_json(const struct ls_member_sync *m)
{
	return json_pack("{s:b, s:b, s:s, s:s, s:s, s:b, s:s, s:b, s:b}", "enableSync",
			 m->enable_sync, "selectGroupMembers", m->select_group_members, "groupDN",
			 m->group_dn ? m->group_dn : "", "groupMemberAttr",
			 m->group_member_attr ? m->group_member_attr : "member", "searchBaseDN",
			 m->search_base_dn ? m->search_base_dn : "", "searchScopeSubtree",
			 m->search_scope_subtree, "searchFilter",
			 m->search_filter ? m->search_filter : "", "allowNonLDAPMembers",
			 m->allow_non_ldap_members, "followNestedGroups", m->follow_nested_groups);
}

void ls_member_sync_free(struct ls_member_sync *m)
{
	free(m->group_dn);
	free(m->group_member_attr);
	free(m->search_base_dn);
	free(m->search_filter);
	memset(m, 0, sizeof(*m));
}

long ls_schedule_seconds(const char *s)
{
	char *end;
	long n;

	if (s[0] == '\0' || strcmp(s, "@hourly") == 0)
		return 3600;
	if (strcmp(s, "@daily") == 0)
		return 86400;
	if (strcmp(s, "@weekly") == 0)
		return 7 * 86400;
	if (strncmp(s, "@every ", 7) != 0 || !isdigit((unsigned char)s[7]))
		return -1;
	n = strtol(s + 7, &end, 10);
	if (strcmp(end, "h") == 0 && n >= 1 && n <= MAX_EVERY_HOURS)
		return n * 3600;
	/* minutes reach as far as hours do: 30 days */
	if (strcmp(end, "m") == 0 && n >= 1 && n <= MAX_EVERY_HOURS * 60)
		return n * 60;
	return -1;
}

/* Whether every URL of srv is one of old's: a list may shrink or change its order. */
static bool same_servers(const struct ls_server *old, const struct ls_server *srv)
{
	for (size_t i = 0; i < srv->nurls; i++) {
		bool known = false;

		for (size_t k = 0; k < old->nurls && !known; k++)
			known = strcmp(old->urls[k], srv->urls[i]) == 0;
		if (!known)
			return false;
	}
	return true;
}

/*
 * A server given without its password keeps the stored one, but only when
 * it still talks to the same URLs as the same reader: a password must never
 * follow a changed or added URL to another server (SPEC §6.1).
 */
static int settle_password(struct ls_server *srv, const struct ls_settings *stored,
			   const char *prefix, struct refusal *err)
{
	if (srv->reader_password == NULL) {
		for (size_t i = 0; stored != NULL && i < stored->nservers; i++) {
			const struct ls_server *old = &stored->servers[i];

			if (strcasecmp(old->domain, srv->domain) != 0)
				continue;
			if (same_servers(old, srv) && strcmp(old->reader_dn, srv->reader_dn) == 0 &&
			    old->reader_password != NULL)
				srv->reader_password = strdup(old->reader_password);
			break;
		}
		if (srv->reader_password == NULL && srv->reader_dn[0] != '\0')
			return refuse(
			    err, prefix, "readerPassword",
			    "must be given again when a server URL is added or readerDN changes");
		if (srv->reader_password == NULL && (srv->reader_password = strdup("")) == NULL)
			return refuse(err, prefix, "readerPassword", "out of memory");
	}
	if (srv->reader_dn[0] == '\0' && srv->reader_password[0] != '\0')
		return refuse(err, prefix, "readerDN", "must be set when readerPassword is");
	if (srv->reader_dn[0] != '\0' && srv->reader_password[0] == '\0')
		return refuse(err, prefix, "readerPassword", "must be set when readerDN is");
	return 0;
}

/* Beside the default server's fields: server_keys but its first, "domain" (see read_settings). */
static const char *const settings_keys[] = {"additionalDomains",
					    "userSearchConfigs",
					    "adminSyncOpts",
					    "syncSchedule",
					    "jitUserProvisioning",
					    "followReferrals",
					    "timeoutSeconds",
					    "maxDeactivationPercent",
					    "connectionPoolSize",
					    "connectionIdleSeconds",
					    NULL};

/* The default server's fields sit at the top level, beside the others (the key check ran first). */
static int read_default_server(const json_t *in, struct ls_settings *out, struct refusal *err)
{
	json_t *srv = json_object();
	int rc;

	for (size_t i = 0; server_keys[i] != NULL; i++) {
		json_t *v = json_object_get(in, server_keys[i]);

		if (v != NULL)
			json_object_set(srv, server_keys[i], v);
	}
	rc = read_server(srv, false, "", &out->servers[0], err);
	json_decref(srv);
	return rc;
}

static int read_servers(const json_t *in, struct ls_settings *out, struct refusal *err)
{
	const json_t *extra = json_object_get(in, "additionalDomains");
	size_t n = 0;
	char prefix[48];

	if (extra != NULL && !json_is_null(extra) && !json_is_array(extra))
		return refuse(err, "", "additionalDomains", "must be a list");
	n = extra ? json_array_size(extra) : 0;
	if (n >= MAX_SERVERS)
		return refuse(err, "", "additionalDomains", "must hold fewer than %d domains",
			      MAX_SERVERS);
	out->servers = calloc(n + 1, sizeof(*out->servers));
	if (out->servers == NULL)
		return refuse(err, "", "additionalDomains", "out of memory");
	out->nservers = n + 1;
	if (read_default_server(in, out, err))
		return -1;
	for (size_t i = 0; i < n; i++) {
		snprintf(prefix, sizeof(prefix), "additionalDomains[%zu].", i);
		if (read_server(json_array_get(extra, i), true, prefix, &out->servers[i + 1], err))
			return -1;
		for (size_t j = 1; j <= i; j++)
			if (strcasecmp(out->servers[j].domain, out->servers[i + 1].domain) == 0)
				return refuse(err, prefix, "domain", "is listed twice");
	}
	return 0;
}

static int read_searches(const json_t *in, struct ls_settings *out, struct refusal *err)
{
	const json_t *list = json_object_get(in, "userSearchConfigs");
	char prefix[48];
	size_t n;

	if (!json_is_array(list) || json_array_size(list) == 0)
		return refuse(err, "", "userSearchConfigs", "must list at least one user search");
	n = json_array_size(list);
	if (n > MAX_SEARCHES)
		return refuse(err, "", "userSearchConfigs", "must hold at most %d searches",
			      MAX_SEARCHES);
	out->searches = calloc(n, sizeof(*out->searches));
	if (out->searches == NULL)
		return refuse(err, "", "userSearchConfigs", "out of memory");
	out->nsearches = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(prefix, sizeof(prefix), "userSearchConfigs[%zu].", i);
		if (read_search(json_array_get(list, i), prefix, &out->searches[i], err))
			return -1;
	}
	return 0;
}

static int read_settings(const json_t *in, const struct ls_settings *stored,
			 struct ls_settings *out, struct refusal *err)
{
	if (!json_is_object(in))
		return refuse(err, "", "settings", "must be a JSON object");
	/* the default server has no domain: every server key but the first */
	if (check_keys(in, settings_keys, server_keys + 1, "", err) || read_servers(in, out, err) ||
	    read_searches(in, out, err) ||
	    ls_member_sync_from_json(json_object_get(in, "adminSyncOpts"), "adminSyncOpts.",
				     &out->admin_sync, err) ||
	    get_string(in, "syncSchedule", DEFAULT_SCHEDULE, "", &out->sync_schedule, err) ||
	    get_bool(in, "jitUserProvisioning", true, "", &out->jit, err) ||
	    get_bool(in, "followReferrals", false, "", &out->follow_referrals, err) ||
	    get_int(in, "timeoutSeconds", DEFAULT_TIMEOUT, 1, MAX_TIMEOUT, "",
		    &out->timeout_seconds, err) ||
	    get_int(in, "maxDeactivationPercent", DEFAULT_MAX_DEACTIVATION, 0, 100, "",
		    &out->max_deactivation_percent, err) ||
	    get_int(in, "connectionPoolSize", DEFAULT_POOL_SIZE, 0, MAX_POOL_SIZE, "",
		    &out->pool_size, err) ||
	    get_int(in, "connectionIdleSeconds", DEFAULT_POOL_IDLE, 1, MAX_POOL_IDLE, "",
		    &out->pool_idle_seconds, err))
		return -1;
	if (ls_schedule_seconds(out->sync_schedule) < 0)
		return refuse(err, "", "syncSchedule",
			      "must be @hourly, @daily, @weekly, @every Nh (N from 1 to 720) or "
			      "@every Nm (N from 1 to 43200)");
	if (out->sync_schedule[0] == '\0') {
		free(out->sync_schedule);
		if ((out->sync_schedule = strdup(DEFAULT_SCHEDULE)) == NULL)
			return refuse(err, "", "syncSchedule", "out of memory");
	}
	for (size_t i = 0; i < out->nservers; i++) {
		char prefix[48] = "";

		if (i > 0)
			snprintf(prefix, sizeof(prefix), "additionalDomains[%zu].", i - 1);
		if (settle_password(&out->servers[i], stored, prefix, err))
			return -1;
	}
	return 0;
}

int ls_settings_from_json(const json_t *in, const struct ls_settings *stored,
			  struct ls_settings *out, struct refusal *err)
{
	memset(out, 0, sizeof(*out));
	if (read_settings(in, stored, out, err) == 0)
		return 0;
	ls_settings_free(out);
	return -1;
}

static int put_server(json_t *obj, const struct ls_server *srv, bool with_passwords)
{
	const char *pw = srv->reader_password ? srv->reader_password : "";
	json_t *urls = json_array();
	int rc = urls == NULL;

	for (size_t i = 0; !rc && i < srv->nurls; i++)
		rc = json_array_append_new(urls, json_string(srv->urls[i]));
	rc |= json_object_set_new(obj, "serverURL", json_string(srv->urls[0])) |
	      json_object_set_new(obj, "serverURLs", urls) |
	      json_object_set_new(obj, "startTLS", json_boolean(srv->start_tls)) |
	      json_object_set_new(obj, "rootCerts", json_string(srv->root_certs)) |
	      json_object_set_new(obj, "tlsSkipVerify", json_boolean(srv->tls_skip_verify)) |
	      json_object_set_new(obj, "noSimplePagination",
				  json_boolean(srv->no_simple_pagination)) |
	      json_object_set_new(obj, "readerDN", json_string(srv->reader_dn)) |
	      json_object_set_new(obj, "uniqueIDAttr", json_string(srv->unique_id_attr)) |
	      json_object_set_new(obj, "memberRangeSize", json_integer(srv->member_range_size));

	if (with_passwords)
		return rc | json_object_set_new(obj, "readerPassword", json_string(pw));
	return rc | json_object_set_new(obj, "readerPasswordSet", json_boolean(pw[0] != '\0'));
}

static json_t *search_to_json(const struct ls_user_search *s)
{
	return json_pack("{s:s, s:b, s:s, s:s, s:s, s:b, s:s, s:s, s:b}", "baseDN", s->base_dn,
			 "scopeSubtree", s->scope_subtree, "usernameAttr", s->username_attr,
			 "fullNameAttr", s->full_name_attr, "filter", s->filter, "matchGroup",
			 s->match_group, "matchGroupDN", s->match_group_dn, "matchGroupMemberAttr",
			 s->match_group_member_attr, "matchGroupIterate", s->match_group_iterate);
}

json_t *ls_settings_to_json(const struct ls_settings *s, bool with_passwords)
{
	json_t *out = json_object(), *extra = json_array(), *searches = json_array();
	int rc = out == NULL || extra == NULL || searches == NULL;

	for (size_t i = 1; !rc && i < s->nservers; i++) {
		json_t *srv = json_pack("{s:s}", "domain", s->servers[i].domain);

		rc = srv == NULL || put_server(srv, &s->servers[i], with_passwords) ||
		     json_array_append_new(extra, srv);
	}
	for (size_t i = 0; !rc && i < s->nsearches; i++)
		rc = json_array_append_new(searches, search_to_json(&s->searches[i]));
	if (!rc)
		rc =
		    put_server(out, &s->servers[0], with_passwords) |
		    json_object_set(out, "additionalDomains", extra) |
		    json_object_set(out, "userSearchConfigs", searches) |
		    json_object_set_new(out, "adminSyncOpts",
					ls_member_sync_to_json(&s->admin_sync)) |
		    json_object_set_new(out, "syncSchedule", json_string(s->sync_schedule)) |
		    json_object_set_new(out, "jitUserProvisioning", json_boolean(s->jit)) |
		    json_object_set_new(out, "followReferrals", json_boolean(s->follow_referrals)) |
		    json_object_set_new(out, "timeoutSeconds", json_integer(s->timeout_seconds)) |
		    json_object_set_new(out, "maxDeactivationPercent",
					json_integer(s->max_deactivation_percent)) |
		    json_object_set_new(out, "connectionPoolSize", json_integer(s->pool_size)) |
		    json_object_set_new(out, "connectionIdleSeconds",
					json_integer(s->pool_idle_seconds));
	json_decref(extra);
	json_decref(searches);
	if (rc) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *ls_settings_unset_json(void)
{
	struct ls_server none = {.domain = (char *)"",
				 .urls = {(char *)""},
				 .nurls = 1,
				 .root_certs = (char *)"",
				 .reader_dn = (char *)"",
				 .unique_id_attr = (char *)DEFAULT_UNIQUE_ID_ATTR};
	struct ls_settings s = {&none,
				1,
				NULL,
				0,
				{0},
				(char *)DEFAULT_SCHEDULE,
				true,
				false,
				DEFAULT_TIMEOUT,
				DEFAULT_MAX_DEACTIVATION,
				DEFAULT_POOL_SIZE,
				DEFAULT_POOL_IDLE,
				false};
	struct refusal err;
	json_t *j;

	if (ls_member_sync_from_json(NULL, "", &s.admin_sync, &err) != 0)
		return NULL;
	j = ls_settings_to_json(&s, false);
	ls_member_sync_free(&s.admin_sync);
	return j;
}

static void free_secret(char *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void ls_settings_free(struct ls_settings *s)
{
	for (size_t i = 0; i < s->nservers; i++) {
		struct ls_server *srv = &s->servers[i];

		free(srv->domain);
		for (size_t k = 0; k < srv->nurls; k++)
			free(srv->urls[k]);
		free(srv->root_certs);
		free(srv->reader_dn);
		free(srv->unique_id_attr);
		free_secret(srv->reader_password);
	}
	for (size_t i = 0; i < s->nsearches; i++) {
		struct ls_user_search *q = &s->searches[i];

		free(q->base_dn);
		free(q->username_attr);
		free(q->full_name_attr);
		free(q->filter);
		free(q->match_group_dn);
		free(q->match_group_member_attr);
	}
	free(s->servers);
	free(s->searches);
	ls_member_sync_free(&s->admin_sync);
	free(s->sync_schedule);
	memset(s, 0, sizeof(*s));
}
