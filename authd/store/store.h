/*
 * The store: every piece of authd's state that outlives a process, behind
 * these functions and nothing else. No caller sees a database type or SQL,
 * nor which database runs; store/driver.h is the store's own header, and
 * store/sqlite/ (SQLite in WAL mode, the embedded default) and
 * store/postgres/ (a PostgreSQL server, through libpq) its two drivers.
 *
 * Every function answers one of the results below. The failures are
 * negative, so `rc < 0` asks "did the store fail?"; a failure is logged by
 * the store, and the write that failed changed nothing. What else a result
 * means is said at each function; where nothing is said, a function answers
 * STORE_OK or a failure.
 */
#ifndef AUTHD_STORE_H
#define AUTHD_STORE_H

#include "authd.h"

enum store_result {
	STORE_OK = 0,
	STORE_NOT_FOUND = 1, /* no such row */
	STORE_CONFLICT = 2,  /* a uniqueness or reference rule refused the write */
	STORE_CREATED = 3,   /* it was missing and is there now */
	STORE_ERROR = -1,    /* the store failed; the log says how */
	STORE_FULL = -2,     /* the disk under the store is full: nothing was written */
	/*
	 * The store is out of reach for now (a database server down, restarting,
	 * or too slow): nothing was written, and a retry may succeed. Only a
	 * store on a server answers it.
	 */
	STORE_UNAVAILABLE = -3,
};

/* Opens the SQLite store in data_dir and brings its schema up to date; 0, or -1 with err. */
int store_open(const char *data_dir, struct failure *err);
/*
 * The same for the store the config names (its `store` section); the err never
 * holds its DSN. STORE_UNAVAILABLE when a database server did not answer (it
 * may later: the caller may try again after store_close), else 0 or -1.
 */
int store_open_config(const struct config *cfg, struct failure *err);
/*
 * `authd store-copy`: copies the store `from` names, which no authd runs on,
 * into the empty one `to` names, on the other driver, in one transaction on
 * the target, and verifies each table's rows and checksum on both sides
 * before committing; a line per table and the outcome go to out. 0, or -1
 * with err (nothing written). Neither err nor out ever holds a DSN.
 */
int store_copy(const struct config *from, const struct config *to, FILE *out, struct failure *err);
/* "sqlite" or "postgres": for the log and the tests, never for a decision. */
const char *store_driver_name(void);
/*
 * Whether other processes may use this store at the same time (a database
 * server's: several authd replicas): state they must agree on, such as the
 * failed logins, is kept in the store then, and in the process otherwise.
 */
bool store_is_shared(void);
/* Housekeeping off the request path (SQLite: copies the WAL into the database); main.c calls
 * it every second. */
void store_checkpoint(void);
/* A trivial statement on the calling thread's connection: STORE_OK when the store answers. */
int store_ping(void);
/* Closes the calling thread's connection and the shared one; the last call of a process. */
void store_close(void);
/*
 * The shared connection. A commit on one connection empties the page cache of
 * every other, so while logins write a session each, every statement on a
 * thread's own connection reads its pages again, one pread each. The login
 * path's statements run instead on one connection that all threads share, one
 * at a time, whose cache survives its own commits. Between store_shared_begin
 * and store_shared_end, the calling thread's statements run on it. It is not
 * lent while the thread's own connection is in a transaction (whose writes
 * its statements must see), nor when another thread has held it for wait_us
 * microseconds (negative: no limit): begin then returns false, and statements
 * stay on the own connection. Call store_shared_end only after a true, and
 * leave no transaction open. A store on a server has one cache for every
 * connection, and no shared one: on PostgreSQL begin always returns false,
 * at once, and what the caller runs is the same, on the own connection.
 */
bool store_shared_begin(long wait_us);
void store_shared_end(void);

/*
 * Transactions, one at a time per thread. store_begin takes the write lock up
 * front, so a transaction never fails half-way for want of it; every write
 * answered 2xx was committed before the answer. On a server, a transaction
 * may still meet a deadlock or a serialization failure (with a statement
 * outside one, or another client): the driver runs it again, as far as the
 * failed statement, at most three times, unseen by the caller, and answers
 * STORE_UNAVAILABLE when that does not cure it or its reads answer
 * otherwise the second time (the caller decided on them). A bulk
 * transaction is not run again.
 */
int store_begin(void);
/*
 * The same for a transaction that writes very much (a first sync of a large
 * directory). Its writes may be sent without waiting for their answers (on
 * PostgreSQL): a write's failure, a refused rule or a row it had to change
 * and did not, may then be answered by a later call, at the latest by
 * store_commit, and the transaction is lost whole.
 */
int store_begin_bulk(void);
/* STORE_OK once committed; on a failure the transaction is still open: roll it back. */
int store_commit(void);
/* Ends the open transaction, if any, with nothing of it kept. */
void store_rollback(void);
/* A savepoint: the same inside a transaction, a transaction of its own outside one. */
int store_begin_nested(void);
int store_commit_nested(void);
void store_rollback_nested(void);

/* ---- accounts ---- */

struct account {
	char id[ID_LEN];
	char name[NAME_LEN];
	char full_name[FULLNAME_LEN];
	char ldap_dn[DN_LEN];
	char ldap_id[LDAP_ID_LEN]; /* imported: its entry's directory id, "" until known */
	bool is_org, is_admin, is_active, is_imported;
	bool ldap_missing; /* imported, and gone from the directory at the last sync */
	int64_t created_at, updated_at;
	int64_t members_count, teams_count; /* orgs only */
};

enum account_filter {
	FILTER_ALL,
	FILTER_USERS,
	FILTER_ORGS,
	FILTER_ADMINS,
	FILTER_NON_ADMINS,
	FILTER_ACTIVE_USERS,
	FILTER_INACTIVE_USERS,
};

typedef int (*account_cb)(const struct account *a, void *ctx);

/* `key` is an id or a (normalised) name; STORE_NOT_FOUND when no account has it. */
int store_account_get(const char *key, struct account *out);
/* The account made from the directory entry of that id; STORE_NOT_FOUND when none is. */
int store_account_by_ldap_id(const char *ldap_id, struct account *out);
/* The argon2 hash of a managed user, malloc'd (the caller frees it); STORE_NOT_FOUND, with
 * *hash_out NULL, for an unknown id and for an account without a password. */
int store_account_password(const char *id, char **hash_out);
/*
 * The accounts of a filter in name order, from the name `start` on ("" for
 * the first), at most `limit`; cb sees each until it returns nonzero.
 */
int store_account_list(enum account_filter f, const char *start, int limit, account_cb cb,
		       void *ctx);
int store_account_counts(int64_t *users, int64_t *orgs);
/* STORE_CONFLICT when the name, or the directory id, is taken. password_hash is NULL for orgs
 * and imported users. */
int store_account_insert(const struct account *a, const char *password_hash);
/* Writes full name, admin, active, imported, DN and updated_at; STORE_NOT_FOUND for no such id. */
int store_account_update(const struct account *a);
/* STORE_NOT_FOUND for no such id. */
int store_account_set_password(const char *id, const char *password_hash);
/* With its memberships, keys, sessions, grants and (when nothing is below it) private
 * collection; STORE_NOT_FOUND for no such id. */
int store_account_delete(const char *id);
/* Active admins other than `except_id` (which may be NULL). */
int store_count_active_admins(const char *except_id, int64_t *out);

/* ---- organization and team membership ---- */

struct member {
	struct account account;
	bool is_admin;
};
typedef int (*member_cb)(const struct member *m, void *ctx);

/* STORE_NOT_FOUND when the user is not a member. */
int store_org_member_get(const char *org_id, const char *user_id, bool *is_admin);
/* Members in name order from `start`, at most `limit`, as store_account_list. */
int store_org_members(const char *org_id, const char *start, int limit, member_cb cb, void *ctx);
/* Adds the member, or sets its admin flag. */
int store_org_member_put(const char *org_id, const char *user_id, bool is_admin);
/* Removes the user from the org and from all of the org's teams; STORE_NOT_FOUND when the user
 * was not a member. Two statements: call it inside a transaction. */
int store_org_member_delete(const char *org_id, const char *user_id);
/* The orgs a user belongs to, as members with the user's admin flag. */
int store_user_orgs(const char *user_id, const char *start, int limit, member_cb cb, void *ctx);

struct team {
	char id[ID_LEN];
	char org_id[ID_LEN];
	char name[NAME_LEN];
	char description[DESCRIPTION_MAX_CHARS * 4 + 4];
	int64_t created_at, updated_at;
	int64_t members_count;
};
typedef int (*team_cb)(const struct team *t, void *ctx);

/* `key` is the team's id or name within the org; STORE_NOT_FOUND when it has no such team. */
int store_team_get(const char *org_id, const char *key, struct team *out);
/* The org's teams in name order from `start`, at most `limit`. */
int store_teams(const char *org_id, const char *start, int limit, team_cb cb, void *ctx);
/* STORE_CONFLICT when the org has a team of that name. */
int store_team_insert(const struct team *t);
/* Writes name, description and updated_at; STORE_CONFLICT for a taken name, STORE_NOT_FOUND for
 * no such team. */
int store_team_update(const struct team *t);
/* With its members, sync config and grants; STORE_NOT_FOUND for no such team. Two statements:
 * call it inside a transaction. */
int store_team_delete(const char *team_id);
/* STORE_NOT_FOUND when the user is not a member. */
int store_team_member_get(const char *team_id, const char *user_id, bool *is_admin);
int store_team_members(const char *team_id, const char *start, int limit, member_cb cb, void *ctx);
/* Adds the member, or sets its admin flag (the caller makes it an org member first). */
int store_team_member_put(const char *team_id, const char *user_id, bool is_admin);
/* STORE_NOT_FOUND when the user was not a member. */
int store_team_member_delete(const char *team_id, const char *user_id);

/* ---- collections ---- */

/* Creates /Shared/Private/<name> and the user's default grant on it, once:
 * STORE_CREATED the first time, STORE_OK after. Works inside or outside a transaction. */
int store_ensure_private_collection(const struct account *user);

/* ---- client-bundle keys ---- */

#define LABEL_MAX_CHARS 100
#define PEM_MAX 8192

struct pubkey {
	char id[ID_LEN];
	char account_id[ID_LEN];
	char label[LABEL_MAX_CHARS * 4 + 4];
	char fingerprint[65];
	char scope[8]; /* "admin" or "user" */
	int64_t created_at, not_after;
	char certificate[PEM_MAX];
	char public_key[PEM_MAX];
};
typedef int (*pubkey_cb)(const struct pubkey *k, void *ctx);

/*
 * The TLS material replicas share (README, "Replicas"): a CA or the served
 * certificate by name, its private key sealed (secret_seal) by the caller.
 */
struct tls_row {
	char *cert_pem;
	char *key_sealed;
	char *ca_pem; /* the CA an uploaded served certificate named; "" otherwise */
	int64_t version;
};
/* STORE_NOT_FOUND when there is none; store_tls_row_free frees what it read. */
int store_tls_get(const char *name, struct tls_row *out);
int store_tls_version(const char *name, int64_t *version);
/* Stores the row (STORE_CREATED) unless one of that name is there, from another replica (STORE_OK).
 */
int store_tls_add(const char *name, const struct tls_row *r);
/* Stores the row, replacing one of that name (and counting its version up). */
int store_tls_set(const char *name, const struct tls_row *r);
void store_tls_row_free(struct tls_row *r);

/* STORE_CONFLICT when a key of that fingerprint is stored already. */
int store_key_insert(const struct pubkey *k);
/* STORE_NOT_FOUND when the account has no such key. */
int store_key_get(const char *account_id, const char *key_id, struct pubkey *out);
/* The account's keys in id order from `start`, at most `limit`. */
int store_keys(const char *account_id, const char *start, int limit, pubkey_cb cb, void *ctx);
/* STORE_NOT_FOUND for no such key. */
int store_key_set_label(const char *key_id, const char *label);
/* STORE_NOT_FOUND when the account has no such key. */
int store_key_delete(const char *account_id, const char *key_id);

/* ---- roles, collections, grants (store_rbac.c) ---- */

struct role_row {
	char id[ID_LEN];
	char name[NAME_LEN];
	char *operations; /* JSON text: the store's during a callback, the caller's (to free) after
			     store_role_get */
	int64_t created_at;
};
struct collection_row {
	char id[ID_LEN];
	char name[NAME_LEN];
	char parent_id[ID_LEN]; /* "" for the root */
	char path[2048];
	int64_t created_at;
};
struct grant_row {
	char subject_id[ID_LEN];
	char collection_id[ID_LEN];
	char role_id[ID_LEN];
};
typedef int (*role_cb)(const struct role_row *r, void *ctx);
typedef int (*collection_cb)(const struct collection_row *c, void *ctx);
typedef int (*grant_cb)(const struct grant_row *g, void *ctx);

/* The custom roles in name order. */
int store_roles(role_cb cb, void *ctx);
/* The custom role whose id, or name in any case, is `key`; STORE_NOT_FOUND when none. */
int store_role_get(const char *key, struct role_row *out);
/* STORE_CONFLICT when a custom role has the name, in any case. */
int store_role_insert(const struct role_row *r);
/* STORE_CONFLICT when a grant uses it; STORE_NOT_FOUND for no such role. */
int store_role_delete(const char *id);

/* Every collection, in path order. */
int store_collections(collection_cb cb, void *ctx);
/* STORE_NOT_FOUND for no such collection (both). */
int store_collection_get(const char *id, struct collection_row *out);
int store_collection_by_path(const char *path, struct collection_row *out);
/* STORE_CONFLICT when the path exists or the parent does not. */
int store_collection_insert(const struct collection_row *c);
/* STORE_CONFLICT when it has children; STORE_NOT_FOUND for no such collection; its grants go
 * with it. */
int store_collection_delete(const char *id);

/* Every grant, by subject. */
int store_grants(grant_cb cb, void *ctx);
/* Adds the grant; one that exists already is left as it is (STORE_OK). */
int store_grant_put(const struct grant_row *g);
/* STORE_NOT_FOUND for no such grant. */
int store_grant_delete(const struct grant_row *g);

/* "user", "org" or "team" for a grant subject's id; STORE_NOT_FOUND when it is none of them. */
int store_subject_kind(const char *id, const char **kind);

/* A setting into a buffer (cut to len - 1 bytes); STORE_NOT_FOUND when it was never set. */
int store_setting_get(const char *key, char *value, size_t len);
/* The same for values of any length: *value is malloc'd (the caller frees it). */
int store_setting_get_text(const char *key, char **value);
int store_setting_set(const char *key, const char *value);

/* ---- sync jobs (store_jobs.c) ---- */

struct job {
	char id[ID_LEN];
	char action[32];
	char status[16]; /* waiting, running, done, canceled, errored */
	bool dry_run, force;
	char target[NAME_LEN]; /* the one user of a targeted sync, else "" */
	int64_t scheduled_at, started_at, last_updated;
	char *summary;		/* JSON text, malloc'd; NULL reads as {} */
	char *plan;		/* JSON text of a dry run's plan, malloc'd, or NULL */
	char replica[NAME_LEN]; /* the replica that runs or ran it; "" before it starts */
};
typedef int (*job_cb)(const struct job *j, void *ctx);

void job_free_texts(struct job *j);
/* STORE_CONFLICT when the id is taken. */
int store_job_insert(const struct job *j);
/* Fills *out, texts malloc'd (job_free_texts); STORE_NOT_FOUND for no such job. */
int store_job_get(const char *id, struct job *out);
/* Newest first, from the job `start_id` ("" for the newest); action "" for every action. */
int store_jobs(const char *action, const char *start_id, int limit, job_cb cb, void *ctx);
/*
 * A job's lease, which runs across every replica on the store: at most one
 * job runs at a time, held by the replica that claimed it until lease_until,
 * which it renews while it runs. Claims, cancels and expiries are each one
 * transaction, and transactions run one at a time across replicas.
 */
/* Takes the oldest waiting job for `replica` (running, started now) unless a job runs;
 * texts malloc'd. STORE_NOT_FOUND when none waits or one runs. */
int store_job_claim(const char *replica, int64_t now, int64_t lease_until, struct job *out);
/* Extends the replica's lease of a running job and says whether a cancel was asked for;
 * STORE_NOT_FOUND when the job is no longer the replica's (its lease ended). */
int store_job_renew(const char *id, const char *replica, int64_t lease_until, bool *cancel);
/* The same inside the job's own transaction, before it commits: STORE_NOT_FOUND (and the
 * transaction is to be dropped) when the lease ended or a cancel was asked for. */
int store_job_hold(const char *id, const char *replica, int64_t lease_until);
/* Writes a running job's end (status, last_updated, summary, plan) while the replica holds it;
 * STORE_NOT_FOUND when it no longer does. */
int store_job_end(const struct job *j, const char *replica);
/* A waiting job canceled, or a running one asked to stop, in one transaction;
 * STORE_NOT_FOUND; STORE_CONFLICT when it has ended. */
int store_job_cancel(const char *id, int64_t now);
/*
 * Running jobs whose lease ended before `now`, or that `replica` held (it runs none when it
 * asks: they were left by its last stop), become errored with a summary {"error": why};
 * *n says how many. At start (at_start), on a store that one process has at a time
 * (SQLite), every running job was left by the last stop.
 */
int store_jobs_expire(const char *replica, int64_t now, bool at_start, int *n);
/* When the newest full (untargeted) job of the action was scheduled; STORE_NOT_FOUND before any. */
int store_job_latest(const char *action, int64_t *scheduled_at);
/*
 * Queues j (waiting) when no full job of its action was scheduled after `since` and none of
 * the action waits or runs, in one transaction, so that of replicas that look at once one
 * queues it: STORE_OK when queued, STORE_NOT_FOUND when it was not due.
 */
int store_job_schedule(const struct job *j, int64_t since);
/*
 * A job's log, a chunk of lines at a time, in the order they were added;
 * each chunk is its own write, never part of the job's transaction.
 * STORE_CONFLICT for no such job.
 */
int store_job_log_append(const char *id, const void *lines, size_t len);
/* The whole log into *text (malloc'd, NUL-terminated, "" for none), its length in *len. */
int store_job_log_read(const char *id, char **text, size_t *len);
/* Whether the job has any of its log in the store. */
int store_job_log_exists(const char *id, bool *yes);

/* ---- what a sync reads and changes (store_sync.c) ---- */

/* An imported account as a sync needs it; the strings live only during the callback. */
struct imported_row {
	const char *id, *name, *dn, *ldap_id, *full_name;
	bool is_active, is_admin, ldap_missing, ldap_deactivated;
};
typedef int (*imported_cb)(const struct imported_row *r, void *ctx);
int store_imported_accounts(imported_cb cb, void *ctx);
/* The names of the accounts a sync must leave alone: managed users and orgs. */
int store_local_names(int (*cb)(const char *name, void *ctx), void *ctx);
/* A new imported account with its private collection and default grant, in the caller's
 * transaction; a taken name is STORE_ERROR (the sync checked it was free). */
int store_imported_insert(const struct account *a, int64_t now);
/*
 * Writes in batches, for a sync of a large directory: up to STORE_BATCH rows a
 * call, in the caller's transaction, each row as the one-row call does it.
 * The drivers write a batch their fastest way (PostgreSQL in a few statements
 * for all its rows, SQLite a row at a time); a failure is the whole
 * transaction's, as with store_begin_bulk.
 */
#define STORE_BATCH 1000
/* n new imported accounts (is_org false, is_imported true), each as store_imported_insert
 * makes one. */
int store_imported_insert_many(const struct account *a, size_t n, int64_t now);
/* A member a sync adds: to the team, and to the team's org when it is not in it yet. */
struct member_add {
	const char *org_id, *team_id, *user_id;
};
/* n members added, each as store_org_member_ensure and then store_team_member_put (not admin). */
int store_members_add_many(const struct member_add *m, size_t n);
/* Sets what the directory says of an imported account; STORE_NOT_FOUND when there is no imported
 * account of that id, STORE_CONFLICT when another account has the directory id. */
int store_imported_update(const char *id, const char *dn, const char *ldap_id,
			  const char *full_name, bool is_active, bool is_admin, bool ldap_missing,
			  bool ldap_deactivated, int64_t now);
/*
 * Where a login found an imported account's entry: its DN and directory id
 * (a login that finds a moved entry, or reads an id not recorded yet).
 * STORE_NOT_FOUND when there is no imported account of that id,
 * STORE_CONFLICT when another account has the directory id.
 */
int store_imported_relocate(const char *id, const char *dn, const char *ldap_id, int64_t now);

/*
 * A team's members by id alone: a sync knows every imported account already,
 * and the team's key index holds the ids, so no row of accounts is read.
 */
typedef int (*member_id_cb)(const char *user_id, void *ctx);
int store_team_member_ids(const char *team_id, member_id_cb cb, void *ctx);
/* An org's member as a sync sees it; the id lives only during the callback. */
struct member_row_sync {
	const char *user_id;
	bool is_imported, is_admin;
};
typedef int (*member_sync_cb)(const struct member_row_sync *m, void *ctx);
int store_org_member_rows(const char *org_id, member_sync_cb cb, void *ctx);
/* Makes the user a member of the org when it is not one (an org admin stays one). */
int store_org_member_ensure(const char *org_id, const char *user_id);

/* Member-sync configs as JSON text: kind "team" (memberSyncConfig) or "org"
 * (adminMemberSyncConfig); *json malloc'd. STORE_NOT_FOUND before the first set. */
int store_member_sync_get(const char *kind, const char *owner_id, char **json);
int store_member_sync_set(const char *kind, const char *owner_id, const char *json);
/*
 * Every config of a kind: owner (a team's or org's id), the team's org id ("" for orgs),
 * the name the log shows ("org/team", or the org's), and the JSON.
 */
typedef int (*member_sync_cfg_cb)(const char *owner_id, const char *org_id, const char *name,
				  const char *json, void *ctx);
int store_member_syncs(const char *kind, member_sync_cfg_cb cb, void *ctx);

/* For the authorization snapshot: every account, membership and key, in one pass each. */
struct member_row {
	char user_id[ID_LEN];
	char group_id[ID_LEN]; /* a team's or an org's id */
};
typedef int (*account_row_cb)(const struct account *a, void *ctx);
typedef int (*member_row_cb)(const struct member_row *m, void *ctx);
typedef int (*key_row_cb)(const struct pubkey *k, void *ctx);
int store_each_account(account_row_cb cb, void *ctx);
int store_each_membership(member_row_cb cb, void *ctx);
int store_each_key(key_row_cb cb, void *ctx);

/* ---- sessions ---- */

/*
 * A session lasts until expires_at (its login's absolute limit) or until a
 * lifetime has passed since renewed_at (its login or its last renewal),
 * whichever comes first; session.c says when a use renews it.
 */
struct session_row {
	unsigned char hash[32];
	char account_id[ID_LEN];
	int64_t created_at, renewed_at, expires_at;
};

int store_session_insert(const struct session_row *s);
/* STORE_NOT_FOUND for no such session. */
int store_session_get(const unsigned char hash[32], struct session_row *out);
/* Both leave a missing session as it is, answering STORE_OK; a renewal older than the stored
 * one changes nothing. */
int store_session_renew(const unsigned char hash[32], int64_t renewed_at);
int store_session_delete(const unsigned char hash[32]);
/* Deletes an account's sessions but the one whose hash is `keep` (may be NULL). */
int store_sessions_delete_account(const char *account_id, const unsigned char *keep);
/*
 * Ends the account's oldest sessions (by login, the newer hash first among
 * logins of one second) until at most `limit` are left, never the one whose
 * hash is `keep`; *ended says how many went. limit is 1 or more.
 */
int store_sessions_trim_account(const char *account_id, int limit, const unsigned char keep[32],
				int64_t *ended);
/* Deletes the sessions past expires_at, or whose renewal is `lifetime` seconds old or more. */
int store_sessions_expire(int64_t now, int64_t lifetime);
/* How many sessions are live at `now`: those store_sessions_expire would leave. */
int store_sessions_count_live(int64_t now, int64_t lifetime, int64_t *out);

/* ---- failed logins, counted for every process on the store (store_throttle.c) ---- */

/* What a key may fail: max_failures within window seconds, then a lockout of lockout seconds. */
struct throttle_rule {
	int max_failures;
	int64_t window, lockout;
};
/*
 * Counts a failure of key at now, in one statement that other processes'
 * failures of the key wait for: *failures becomes the key's count in its
 * window with this one (max_failures when this one locked it out).
 */
int store_login_failure_add(const char *key, int64_t now, const struct throttle_rule *rule,
			    int *failures);
/*
 * The later end of a lockout of the two keys (0 when neither has one that
 * ends after now), and whether key_a has failures counted; one indexed read.
 */
int store_login_failures_get(const char *key_a, const char *key_b, int64_t now,
			     int64_t *locked_until, bool *a_counted);
/* Forgets the key's failures (a login that succeeded). */
int store_login_failure_clear(const char *key);
/*
 * Deletes the keys no decision needs any more (the last failure a window ago
 * and no lockout running), then the unlocked ones whose last failure is
 * older than the max_keys-th newest's second; *deleted says how many went.
 */
int store_login_failures_trim(int64_t now, int64_t window, int64_t max_keys, int64_t *deleted);
/* ---- the change sequence (replicas on one PostgreSQL store) ---- */

/*
 * A change one process announced (changes.c), as other processes on the same
 * store read it: what kind it was and the ids it names. Texts are "" where
 * the change names none; session and keep are token hashes in hex.
 */
struct store_change {
	int64_t seq;
	char origin[ID_LEN];	/* the announcing process's instance id */
	char replica[NAME_LEN]; /* and its replica.name */
	unsigned what;		/* changes.h's CHANGE_* bits */
	char session[65], keep[65];
	char account[ID_LEN];
	char key_account[ID_LEN], key_id[ID_LEN]; /* a key stored */
	char key_removed[65];			  /* a key deleted, by fingerprint */
	int64_t at_ms;				  /* wall-clock milliseconds when recorded */
};
typedef int (*store_change_cb)(const struct store_change *c, void *ctx);

/* Records a change (seq and at_ms are set here) and, on PostgreSQL, notifies the listeners. */
int store_change_record(const struct store_change *c);
/* The newest change's seq, 0 when there is none. */
int store_changes_last(int64_t *seq);
/* The changes after `after`, oldest first, at most `limit`. */
int store_changes_since(int64_t after, int limit, store_change_cb cb, void *ctx);
/* Deletes the changes recorded before before_ms (wall-clock milliseconds). */
int store_changes_prune(int64_t before_ms);
/*
 * Waits up to timeout_ms for a notification of a new change on the driver's
 * own listening connection, which it opens and reopens itself; true when one
 * came (or the connection was just made again, when one may have been
 * missed). Only while store_is_shared; one thread at a time.
 */
bool store_changes_wait(long timeout_ms);

/* ---- the processes on the store, for GET /api/cluster (store_replicas.c) ---- */

struct store_replica {
	char name[NAME_LEN]; /* replica.name: a row per name */
	char version[32];
	int64_t started_at, seen_at; /* wall-clock seconds */
	int64_t seq;		     /* the newest change of the sequence it applied */
};
typedef int (*store_replica_cb)(const struct store_replica *r, void *ctx);
/* Writes the replica's row, made or replaced. */
int store_replica_put(const struct store_replica *r);
/* Every replica's row, by name. */
int store_replicas_each(store_replica_cb cb, void *ctx);
/* Deletes the rows last written before `before` (seconds). */
int store_replicas_prune(int64_t before);

/* What a pool of connections to a database server knows of itself (GET /metrics). */
struct store_pool_stats {
	int open, in_use, max;
	int waiting;	 /* callers waiting for a connection now */
	uint64_t waits;	 /* callers that had to wait, since start */
	int64_t wait_ns; /* what they waited, together */
};
/* False for a driver without a pool (SQLite: each thread has its own connection). */
bool store_pool_stats(struct store_pool_stats *out);

#endif
