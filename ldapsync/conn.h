/*
 * libldapsync's private interface between connecting (conn.c), reading
 * values (values.c) and the searches and logins built on them (users.c,
 * members.c).
 */
#ifndef AUTHD_LDAPSYNC_CONN_H
#define AUTHD_LDAPSYNC_CONN_H

#include <ldap.h>

#include "ldapsync.h"

struct ls_bucket;

/* One connection to one server; the settings outlive it. */
struct ls_conn {
	LDAP *ld;
	const struct ls_settings *s;
	size_t server;	 /* index into s->servers */
	const char *url; /* the one of the server's URLs this connection went to */
	struct ls_log *log;
	bool missing_ok; /* a search of a base that does not exist finds nothing, not an error */
	bool reader;	 /* bound as the reader (searches); else used for users' binds only */
	bool reused;	 /* taken idle from the pool, and no operation has succeeded on it yet */
	bool broken;	 /* lost, or left in a state of its own: never goes back to the pool */
	bool unreached;	 /* ls_conn_open failed as no server of the domain could be reached */
	struct ls_bucket *bucket; /* the pool's place it counts in; NULL when unpooled */
	unsigned gen;		  /* the bucket's generation when it was taken (pool.c) */
	int ad; /* Active Directory: 0 not asked yet, 1 yes, -1 no (ls_conn_is_ad) */
};

/* The servers' index for a DN by SPEC §6.2 (0, the default, when none matches). */
size_t ls_server_for_dn(const struct ls_settings *s, const char *dn);
/*
 * Connects to one domain's servers, with its TLS settings, and binds as its
 * reader (anonymously when it has none) when bind_reader is set. Its URLs
 * are tried in order; one that could not be reached (connect, TLS, timeout)
 * is skipped for a while after (a backoff shared by every connection in
 * the process), and tried last while no other answers. A server that
 * answered is up, even when it refused the reader's bind. 0, or -1 with the
 * failing steps in the log and nothing left open.
 */
int ls_conn_open(struct ls_conn *c, const struct ls_settings *s, size_t server, bool bind_reader,
		 struct ls_log *log);
/* Gives the connection back to the pool when it may be reused, else closes it. */
void ls_conn_close(struct ls_conn *c);
/* Closes it for good (a failure left it in a state the next user must not find). */
void ls_conn_discard(struct ls_conn *c);
/*
 * c was taken from the pool and its first operation found it closed by the
 * server (a restart while it was idle): drops it and the server's other idle
 * ones, and opens another for the same domain and purpose. 0, or -1 with c
 * closed.
 */
int ls_conn_reconnect(struct ls_conn *c);

/* ---- the pool (pool.c) ---- */
enum ls_pool_take { LS_POOL_NONE, LS_POOL_REUSED, LS_POOL_NEW, LS_POOL_FULL };
/*
 * For c (url, settings and reader set): LS_POOL_REUSED with c->ld an idle
 * connection that passed the health check; LS_POOL_NEW with a place kept
 * for a connection the caller opens; LS_POOL_FULL when every place stayed
 * taken for timeoutSeconds; LS_POOL_NONE when the settings keep no pool.
 */
enum ls_pool_take ls_pool_take(struct ls_conn *c);
/* Back from c: kept idle when it may be reused, else closed; its place is freed. */
void ls_pool_give(struct ls_conn *c);
/*
 * Closes url's idle connections, and those lent now are closed when given
 * back: the server failed, or (stale) one of its pooled connections was
 * found closed by it when used (a restart).
 */
void ls_pool_drop(const char *url, bool stale);
/*
 * What a pooled connection was made under, as a SHA-256: the URL, purpose,
 * TLS options, reader and timeouts. Connections are reused only under the
 * same key, so that new settings never get one made under the old.
 */
void ls_pool_key(const struct ls_conn *c, unsigned char key[32]);

/* Seconds until url, found down, is tried again; 0 when it may be used now (backoff.c). */
long ls_backoff_left(const char *url);
/* Marks url down (30 s, doubling to 5 min while it stays down) and drops its pooled
 * connections; the seconds it is skipped for. */
long ls_backoff_failed(const char *url);
/* Marks url up: it answered. */
void ls_backoff_ok(const char *url);
/*
 * After a bind or search on c failed with rc: when the server was lost
 * (a domain of several servers, and rc says it stopped answering), marks it
 * down, so that the next connection goes to another.
 */
void ls_conn_lost(struct ls_conn *c, int rc);
/* How many servers ls_conn_lost found lost, ever: a change says one was lost meanwhile. */
unsigned long ls_conn_losses(void);
/* A simple bind; the LDAP result code (LDAP_SUCCESS, LDAP_INVALID_CREDENTIALS, ...). */
int ls_conn_bind(struct ls_conn *c, const char *dn, const char *password, const char *who);

/* Called per entry; a nonzero return stops the search (LS_STOPPED). */
typedef int (*ls_entry_fn)(void *ctx, LDAP *ld, LDAPMessage *entry);

/*
 * A search that streams its entries to fn, paged (RFC 2696, 500 a page)
 * unless the server has noSimplePagination. Any error, a size or time limit
 * among them, fails the whole search: LS_OK, LS_FAILED or LS_STOPPED.
 * *count gets the number of entries seen.
 */
int ls_conn_search(struct ls_conn *c, const char *base, int scope, const char *filter, char **attrs,
		   ls_entry_fn fn, void *ctx, size_t *count);

/* The text of the first value of attr in entry, malloc'd; NULL when it has none. */
char *ls_entry_value(LDAP *ld, LDAPMessage *entry, const char *attr);
/* The entry's directory id (ls_id_text of attr's first value), malloc'd; NULL when none. */
char *ls_entry_id(LDAP *ld, LDAPMessage *entry, const char *attr);

/* A group's member values (DNs, or usernames for memberUid), malloc'd, NULL-terminated. */
struct ls_members {
	char **values;
	size_t n;
	bool by_name; /* memberUid holds usernames, not DNs */
};
/*
 * Reads a group's member values, every range of them (ls_range_next); LS_OK
 * (a group without members is fine), or LS_FAILED when they could not all be
 * read.
 */
int ls_read_group(struct ls_conn *c, const char *group_dn, const char *attr, struct ls_members *m);
void ls_members_free(struct ls_members *m);

/*
 * One entry's read of its member values. A server that answers them in
 * ranges is asked again, from the first value it has not given, until they
 * are all in. A probe asks an entry that may not be a group at all, with the
 * filter (attr=*): an entry that is not there or has no such values is no
 * group (entries stays 0), not a failure.
 */
struct ls_group_read {
	const struct ls_member_sync *m; /* the config it was read ahead for, or NULL */
	const char *dn, *attr;
	struct ls_members values;
	bool probe;
	size_t entries; /* answered to the request out now */
	size_t from;	/* the first value that request asks for: 0, or a range's start */
	size_t answers; /* of the requests so far */
	bool more;	/* the answers so far end in a range that is not the last */
	int msgid;	/* while a request is out */
	bool failed;
};
struct ls_group_read ls_group_read_init(const struct ls_member_sync *m, const char *dn,
					const char *attr);

/* The connections of a job's member syncs, one per server (ldapsync.h). */
struct ls_session {
	const struct ls_settings *s;
	struct ls_log *log;
	struct ls_conn *conns; /* one per server; ld is NULL until first used */
	struct ls_group_read *ahead;
	size_t nahead, next; /* configs are usually run in the order they were read */
	ls_known_fn known;   /* users found already (NULL: none known) */
	void *known_ctx;
};
/* The session's connection to the server for a DN, opened and bound on first use; NULL. */
struct ls_conn *ls_session_conn(struct ls_session *sess, const char *dn);
/*
 * Reads many entries' member values, each on its server's connection, a
 * window of requests at a time. LS_OK, or LS_FAILED when any could not be
 * read (the log says which).
 */
int ls_session_read(struct ls_session *sess, struct ls_group_read *reads, size_t n);

/* Whether c's server is Active Directory, by its rootDSE, asked once per connection. */
bool ls_conn_is_ad(struct ls_conn *c);
/* Who a member-sync config with followNestedGroups names (nested.c). */
int ls_nested_members(struct ls_session *sess, const struct ls_member_sync *m, ls_member_fn fn,
		      void *ctx);

#endif
