/*
 * libldapsync: what authd knows of LDAP directories, and the name rules that
 * directory values and API input share. Knows libldap; knows nothing of HTTP
 * or the store.
 */
#ifndef AUTHD_LDAPSYNC_H
#define AUTHD_LDAPSYNC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common.h"

#define LS_NAME_MAX_CHARS 100

/*
 * Normalises an account or team name the way SPEC §4 and §6.3 want it:
 * NFC, lowercased (Unicode-aware), 1..100 characters, no control or
 * whitespace characters and none of / \ [ ] : ; | = , + * ? < > ' ".
 * Returns a malloc'd string the caller frees, or NULL with why (unless NULL)
 * filled without a field: its message completes "name: ..." (refusal_in).
 */
char *ls_name_normalize(const char *in, size_t len, struct refusal *why);

/*
 * A value put into a search filter, escaped per RFC 4515 (*, (, ), \ and NUL
 * as \XX). malloc'd; the caller frees it. NULL when out of memory.
 */
char *ls_escape_filter_value(const char *value, size_t len);

/*
 * An attribute value put into a DN, escaped per RFC 4514 (leading space or
 * #, trailing space, and , + " \ < > ; = among others). malloc'd; the caller
 * frees it. NULL when the value is not valid UTF-8, or out of memory.
 */
char *ls_escape_dn_value(const char *value, size_t len);

/*
 * How many labels of `domain` ("eu.example.com") the DN ends with, compared
 * per RDN and case-insensitively as dc=eu,dc=example,dc=com (SPEC §6.2):
 * the label count when the whole domain is a suffix of the DN, else 0; -1
 * when the DN does not parse.
 */
int ls_domain_suffix(const char *domain, const char *dn);

/*
 * The server for a base DN: the index of the domain that is its longest
 * suffix, or -1 for the default (top-level) server, also when the DN does
 * not parse.
 */
int ls_pick_server(const char *const *domains, size_t n, const char *base_dn);

/* ---- settings (SPEC §6.1) ---- */

/* The most URLs one domain may list (serverURLs). */
#define LS_URLS_MAX 8

/*
 * One directory domain: the default one, or one of additionalDomains,
 * served by one or more servers tried in order (serverURLs; serverURL is
 * the first). The servers serve the same data: all else is shared.
 */
struct ls_server {
	char *domain; /* "" for the default server */
	char *urls[LS_URLS_MAX];
	size_t nurls; /* at least 1 once read */
	bool start_tls;
	char *root_certs; /* PEM trust anchors; "" for the system's store */
	bool tls_skip_verify;
	bool no_simple_pagination;
	char *reader_dn;       /* "" binds anonymously */
	char *reader_password; /* a secret: never logged, never in JSON output */
	char *unique_id_attr;  /* uniqueIDAttr: what names an entry for good (entryUUID,
				  objectGUID); "" when the directory has nothing of the kind */
	int member_range_size; /* memberRangeSize: a group's values asked for this many at a
				  time ("member;range=0-1499"); 0 asks for them whole */
};

struct ls_user_search {
	char *base_dn;
	bool scope_subtree;
	char *username_attr;
	char *full_name_attr;
	char *filter; /* as given, with or without outer parentheses; "" for none */
	bool match_group;
	char *match_group_dn;
	char *match_group_member_attr;
	bool match_group_iterate;
};

/* adminSyncOpts, and a team's memberSyncConfig (SPEC §6.5). */
struct ls_member_sync {
	bool enable_sync;
	bool select_group_members;
	char *group_dn;
	char *group_member_attr;
	char *search_base_dn;
	bool search_scope_subtree;
	char *search_filter;
	bool allow_non_ldap_members;
	bool follow_nested_groups; /* members of member groups too (ls_member_sync_run) */
};

struct ls_settings {
	struct ls_server *servers; /* [0] is the default server, then additionalDomains */
	size_t nservers;
	struct ls_user_search *searches;
	size_t nsearches;
	struct ls_member_sync admin_sync;
	char *sync_schedule; /* one of the forms ls_schedule_seconds accepts */
	bool jit;
	bool follow_referrals;
	int timeout_seconds;
	int max_deactivation_percent;
	int pool_size;	       /* connectionPoolSize: per server and purpose; 0 keeps none open */
	int pool_idle_seconds; /* connectionIdleSeconds: an unused pooled connection is closed after
				*/
	bool
	    unpooled; /* not a setting: a test login connects afresh, so its log shows every step */
};

/*
 * Reads and validates settings as PUT (or a settings file) gives them.
 * A server without "readerPassword" keeps the one in `stored` (may be NULL)
 * for the same domain, but only when its serverURL and readerDN are
 * unchanged (SPEC §6.1). Unknown keys are refused, so that a misspelt field
 * is not silently dropped. Returns 0 and fills *out (free with
 * ls_settings_free), or -1 with *err set and nothing to free.
 */
int ls_settings_from_json(const json_t *in, const struct ls_settings *stored,
			  struct ls_settings *out, struct refusal *err);
/*
 * The settings as JSON. Without with_passwords every server says only
 * "readerPasswordSet"; with it, "readerPassword" holds the secret in clear
 * (for a caller that seals it before storing). NULL when out of memory.
 */
json_t *ls_settings_to_json(const struct ls_settings *s, bool with_passwords);
/* What settings look like before any are saved: every default, no server, no search. */
json_t *ls_settings_unset_json(void);
/* Clears the passwords (OPENSSL_cleanse) and frees everything *s holds. */
void ls_settings_free(struct ls_settings *s);
/* Reads a member-sync object ({} gives the defaults); 0, or -1 with *err naming prefix.field. */
int ls_member_sync_from_json(const json_t *in, const char *prefix, struct ls_member_sync *out,
			     struct refusal *err);
json_t *ls_member_sync_to_json(const struct ls_member_sync *m);
void ls_member_sync_free(struct ls_member_sync *m);
/*
 * Seconds between two scheduled syncs for "@hourly", "@daily", "@weekly",
 * "@every Nh" (N = 1..720), "@every Nm" (N = 1..43200) or "" (= @hourly);
 * -1 for anything else.
 */
long ls_schedule_seconds(const char *schedule);

/* ---- directory access ---- */

/*
 * Where the steps of a search or login go, one line each: servers, connects,
 * TLS, binds, each search with its count, each skipped entry with its reason.
 * Never a password.
 */
struct ls_log {
	void (*line)(void *ctx, const char *text);
	void *ctx;
};
void ls_logf(struct ls_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The longest directory id kept, as text; a longer value is no id. */
#define LS_ID_MAX 128

/*
 * A directory id as text, from a value of attr: objectGUID's 16 bytes in
 * the GUID's string form, a value of printable ASCII as it is, another
 * binary value in hex. malloc'd; NULL for an empty value, one whose text
 * would be longer than LS_ID_MAX, or out of memory.
 */
char *ls_id_text(const char *attr, const void *value, size_t len);

/* A user as the directory has it. The strings belong to the caller of the callback's caller. */
struct ls_user {
	const char *username; /* normalised (SPEC §6.3) */
	const char *dn;
	const char *unique_id; /* the entry's directory id (ls_id_text); "" when it has none */
	const char *full_name;
	size_t search; /* index into settings->searches */
	size_t server; /* index into settings->servers */
};

/* Called once per distinct, valid username; a nonzero return stops the search. */
typedef int (*ls_user_fn)(void *ctx, const struct ls_user *u);

struct ls_search_counts {
	size_t found;	   /* users passed to the callback */
	size_t invalid;	   /* entries whose username breaks the name rules */
	size_t duplicates; /* usernames an earlier search had found */
};

enum {
	LS_OK = 0,
	LS_FAILED = -1,	 /* a connect, bind or search failed: the result is incomplete */
	LS_STOPPED = -2, /* the callback asked to stop */
};

/*
 * Runs every user search config in order (SPEC §6.3) and streams the users
 * it finds to fn: only the current page of entries is held. When two
 * searches yield the same username, the first wins. Returns LS_OK only when
 * every search completed.
 */
int ls_find_users(const struct ls_settings *s, struct ls_log *log, ls_user_fn fn, void *ctx,
		  struct ls_search_counts *counts);

/* A DN in the form two spellings of one DN share (parsed, re-written, lowercased); malloc'd. */
char *ls_dn_key(const char *dn);

/*
 * Called once per member a member-sync config finds: by DN (dn_key, in
 * ls_dn_key's form) or, for a memberUid group, by username; the other is
 * NULL. A nonzero return stops.
 */
typedef int (*ls_member_fn)(void *ctx, const char *dn_key, const char *username);

/*
 * Connections kept open across many member syncs of one job, one per server
 * as it is first needed, bound as that server's reader. Free with
 * ls_session_free; the settings and log outlive it.
 */
struct ls_session;
struct ls_session *ls_session_new(const struct ls_settings *s, struct ls_log *log);
void ls_session_free(struct ls_session *sess);
/*
 * Tells a session which DNs (ls_dn_key's form) are users already, found by
 * the user searches: following nested groups, their entries need not be read
 * to know they are no group. fn and ctx outlive the session.
 */
typedef bool (*ls_known_fn)(void *ctx, const char *dn_key);
void ls_session_known_users(struct ls_session *sess, ls_known_fn fn, void *ctx);

/*
 * Who a member-sync config (adminSyncOpts, a team's memberSyncConfig) says
 * belongs (SPEC §6.5): the values of the group's member attribute, or the
 * entries its search finds. LS_OK only when it completed.
 */
int ls_member_sync_run(struct ls_session *sess, const struct ls_member_sync *m, ls_member_fn fn,
		       void *ctx);
/*
 * Nested groups (followNestedGroups, with selectGroupMembers): the members
 * of the group's member groups too, at any depth up to LS_NEST_MAX levels.
 * On Active Directory (its rootDSE's supportedCapabilities has
 * 1.2.840.113556.1.4.800; asked once per connection) one search per user
 * search config served by the group's server, with ls_in_chain_filter;
 * elsewhere the member entries are read level by level, a group being an
 * entry that has member values. A loop or a second path to a group follows
 * it once; a group nested deeper than LS_NEST_MAX, or one that cannot be
 * read, fails the config.
 */
#define LS_NEST_MAX 10
#define LS_IN_CHAIN_RULE "1.2.840.113556.1.4.1941" /* LDAP_MATCHING_RULE_IN_CHAIN */
/*
 * "(&(memberOf:1.2.840.113556.1.4.1941:=<group_dn>)(<username_attr>=*)<filter>)",
 * the DN escaped per RFC 4515, the user search's filter with or without its
 * outer parentheses ("" for none). malloc'd; NULL when out of memory.
 */
char *ls_in_chain_filter(const char *group_dn, const char *username_attr, const char *filter);

/*
 * Reads the groups of many configs ahead, with the requests to each server
 * sent a window at a time instead of one round trip each; ls_member_sync_run
 * then answers those configs (by pointer) from what was read. Configs that
 * select by search or follow nested groups are left to ls_member_sync_run. Once per session. LS_OK,
 * or LS_FAILED when any group could not be read (the log says which).
 */
int ls_session_read_groups(struct ls_session *sess, const struct ls_member_sync *const *m,
			   size_t n);

/*
 * Ranged retrieval. Active Directory answers no more than 1,500 values of an
 * attribute at once: a group of more members answers `member` as
 * "member;range=0-1499", and the client asks for "member;range=1500-*",
 * and so on, until an answer's range ends with "*". One answer may also hold
 * several ranges (slapd answers every range stored under the range= tag at
 * once). ls_range_next says what one answer means: given the attribute asked
 * for, the descriptions the entry answered (got, with their value counts)
 * and the first value asked for (from; 0 for the first, plain request), it
 * marks in use[] the descriptions that hold attr's values and says
 *   LS_RANGE_DONE  every value is in;
 *   LS_RANGE_MORE  ask for "attr;range=<*next>-*" next;
 *   LS_RANGE_BAD   the answer does not continue the values read so far
 *                  (a gap, an overlap, a follow-up that holds nothing, a
 *                  range that does not parse): they cannot all be read.
 */
struct ls_answered {
	const char *name; /* the attribute description as the server gave it */
	size_t nvalues;
};
enum ls_range_step { LS_RANGE_DONE, LS_RANGE_MORE, LS_RANGE_BAD };
enum ls_range_step ls_range_next(const char *attr, const struct ls_answered *got, size_t n,
				 size_t from, bool *use, size_t *next);

/*
 * The connection pool: connections to each server are kept open between
 * logins and searches (connectionPoolSize per server for the reader's
 * searches, as many for users' binds, which nothing else uses). Housekeeping
 * is the caller's: ls_pool_reap closes those unused for
 * connectionIdleSeconds (call it every second or so), and ls_pool_shutdown
 * closes all once no login or search runs any more.
 */
void ls_pool_reap(void);
void ls_pool_shutdown(void);
struct ls_pool_stats {
	unsigned long idle;   /* open, waiting to be reused */
	unsigned long busy;   /* open, in use */
	unsigned long opened; /* ever opened for the pool */
	unsigned long reused; /* ever taken idle instead of opening one */
	unsigned long dead;   /* found closed by the server when taken (health check, or stale) */
};
void ls_pool_stats(struct ls_pool_stats *out);

enum ls_login_result {
	LS_LOGIN_OK,
	LS_LOGIN_DENIED, /* empty or wrong password, unknown user, not in the group */
	LS_LOGIN_ERROR,	 /* the directory could not answer: unreachable, TLS, a failed search */
	LS_LOGIN_OTHER_ENTRY, /* the username belongs to another entry than the account's now */
};

/* Who logged in; every string malloc'd (unique_id may be NULL), freed by ls_found_free. */
struct ls_found {
	char *username;
	char *dn;
	char *full_name;
	char *unique_id; /* the entry's directory id, when it was read */
	char *server;	 /* the URL of the server the user's bind succeeded on */
};
void ls_found_free(struct ls_found *f);

/* What authd knows of an imported account's entry. */
struct ls_known {
	const char *dn;
	const char *unique_id; /* "" when none is recorded */
};

/*
 * The login of SPEC §6.4. An empty or all-whitespace password is refused
 * before anything else, since a simple bind with an empty password is an
 * anonymous bind that succeeds.
 *
 * Without `known` (an unknown name), runs the user search configs in order
 * for the username (first match wins) and binds as the entry found.
 *
 * With `known` (an imported account), binds as its DN on the server §6.2
 * picks for it, then reads the entry's directory id: an entry of another id
 * at that DN is LS_LOGIN_OTHER_ENTRY. When that bind fails because no entry
 * is there any more (OpenLDAP and AD answer invalidCredentials then, as they
 * do for a wrong password), the user searches run again for the username:
 * an entry under another DN with the account's id is the account's, moved
 * or renamed, and its bind decides; one with another id is
 * LS_LOGIN_OTHER_ENTRY, never bound as; the same DN is a wrong password.
 * Without a recorded id nothing proves a found entry is the account's, and
 * it is not searched for.
 *
 * On LS_LOGIN_OK and LS_LOGIN_OTHER_ENTRY, *out is filled when out is not
 * NULL: the entry bound as, or the other one (its dn and unique_id).
 */
enum ls_login_result ls_login(const struct ls_settings *s, const char *username,
			      const struct ls_known *known, const char *password,
			      struct ls_log *log, struct ls_found *out);

#endif
