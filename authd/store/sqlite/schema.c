/*
 * The SQLite schema: numbered migrations, applied in order at start-up, and
 * the refusal of a database newer than this build.
 */
#include <stdio.h>

#include "sqlite.h"

/*
 * The schema, one step per entry. A database records how many steps it has
 * taken in PRAGMA user_version; start-up runs the rest in order, each in its
 * own transaction. Never edit a step that has shipped: add one.
 */
static const char *const migrations[] = {
    /* 1: accounts, organizations, teams, sessions, collections and grants */
    "CREATE TABLE accounts ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  full_name TEXT NOT NULL DEFAULT '',"
    "  is_org INTEGER NOT NULL DEFAULT 0,"
    "  is_admin INTEGER NOT NULL DEFAULT 0,"
    "  is_active INTEGER NOT NULL DEFAULT 1,"
    "  is_imported INTEGER NOT NULL DEFAULT 0,"
    "  ldap_dn TEXT NOT NULL DEFAULT '',"
    "  password_hash TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE org_members ("
    "  org_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  is_admin INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (org_id, user_id));"
    "CREATE INDEX org_members_user ON org_members(user_id);"
    "CREATE TABLE teams ("
    "  id TEXT PRIMARY KEY,"
    "  org_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (org_id, name));"
    "CREATE TABLE team_members ("
    "  team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  is_admin INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (team_id, user_id));"
    "CREATE INDEX team_members_user ON team_members(user_id);"
    "CREATE TABLE sessions ("
    "  token_hash BLOB PRIMARY KEY,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  last_used INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL);"
    "CREATE INDEX sessions_account ON sessions(account_id);"
    "CREATE TABLE collections ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  parent_id TEXT REFERENCES collections(id),"
    "  path TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL);"
    "INSERT INTO collections VALUES"
    "  ('root', '', NULL, '/', 0),"
    "  ('system', 'System', 'root', '/System', 0),"
    "  ('shared', 'Shared', 'root', '/Shared', 0),"
    "  ('private', 'Private', 'shared', '/Shared/Private', 0);"
    "CREATE TABLE grants ("
    "  subject_id TEXT NOT NULL,"
    "  collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  role_id TEXT NOT NULL,"
    "  PRIMARY KEY (subject_id, collection_id, role_id));"
    "CREATE TABLE settings ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);"
    "INSERT INTO settings VALUES ('defaultNewUserRole', 'restrictedcontrol');",

    /* 2: client-bundle keys (certificate and public key only), and LDAP's missing mark */
    "CREATE TABLE public_keys ("
    "  id TEXT PRIMARY KEY,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  label TEXT NOT NULL,"
    "  fingerprint TEXT NOT NULL UNIQUE,"
    "  certificate TEXT NOT NULL,"
    "  public_key TEXT NOT NULL,"
    "  scope TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL);"
    "CREATE INDEX public_keys_account ON public_keys(account_id);"
    "ALTER TABLE accounts ADD COLUMN ldap_missing INTEGER NOT NULL DEFAULT 0;",

    /* 3: custom roles (the built-in ones live in authz/roles.c) */
    "CREATE TABLE roles ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  operations TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX grants_role ON grants(role_id);"
    "CREATE INDEX grants_collection ON grants(collection_id);",

    /* 4: sessions keyed by their token hash alone, one b-tree fewer to write per login */
    "CREATE TABLE sessions_by_hash ("
    "  token_hash BLOB PRIMARY KEY,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  last_used INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO sessions_by_hash SELECT token_hash, account_id, created_at, last_used,"
    "  expires_at FROM sessions;"
    "DROP TABLE sessions;"
    "ALTER TABLE sessions_by_hash RENAME TO sessions;"
    "CREATE INDEX sessions_account ON sessions(account_id);",

    /* 5: LDAP sync jobs, the member-sync configs of teams and orgs, and who sync deactivated */
    "CREATE TABLE jobs ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  action TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  dry_run INTEGER NOT NULL DEFAULT 0,"
    "  force INTEGER NOT NULL DEFAULT 0,"
    "  target TEXT NOT NULL DEFAULT '',"
    "  scheduled_at INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL DEFAULT 0,"
    "  last_updated INTEGER NOT NULL,"
    "  summary TEXT NOT NULL DEFAULT '{}',"
    "  plan TEXT);"
    "CREATE INDEX jobs_status ON jobs(status);"
    "CREATE TABLE team_sync ("
    "  team_id TEXT PRIMARY KEY REFERENCES teams(id) ON DELETE CASCADE,"
    "  config TEXT NOT NULL);"
    "CREATE TABLE org_admin_sync ("
    "  org_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
    "  config TEXT NOT NULL);"
    "ALTER TABLE accounts ADD COLUMN ldap_deactivated INTEGER NOT NULL DEFAULT 0;",

    /* 6: role names unique in any case, as the API looks them up */
    "CREATE UNIQUE INDEX roles_name_nocase ON roles(name COLLATE NOCASE);",

    /*
     * 7: a session lasts from its login or its last renewal; under the idle
     * expiry before, every use renewed it, so its last use is that renewal
     */
    "ALTER TABLE sessions RENAME COLUMN last_used TO renewed_at;",

    /*
     * 8: the directory id of an imported account's entry (entryUUID,
     * objectGUID), which stays when the entry moves; '' until it is known.
     * One entry is one account's at most.
     */
    ("ALTER TABLE accounts ADD COLUMN ldap_id TEXT NOT NULL DEFAULT '';"
     "CREATE UNIQUE INDEX accounts_ldap_id ON accounts(ldap_id) WHERE ldap_id != '';"),

    /*
     * 9: the TLS material replicas share on PostgreSQL when store.keyFile is
     * set: the CAs ('cluster-ca', 'client-ca') and the served certificate
     * ('server', with the CA an upload named), their private keys sealed
     * under store.keyFile's key; version counts the row's replacements.
     * SQLite has the same table, unused: its material stays in the data dir.
     */
    ("CREATE TABLE tls_material ("
     "  name TEXT PRIMARY KEY,"
     "  cert_pem TEXT NOT NULL,"
     "  key_sealed TEXT NOT NULL,"
     "  ca_pem TEXT NOT NULL DEFAULT '',"
     "  version INTEGER NOT NULL DEFAULT 1,"
     "  updated_at INTEGER NOT NULL);"),

    /*
     * 10: failed logins counted per key for every replica (store_throttle.c).
     * One SQLite process counts them in memory (throttle.c); the table is
     * here so that both drivers hold the same tables.
     */
    ("CREATE TABLE login_failures ("
     "  key TEXT PRIMARY KEY,"
     "  failures INTEGER NOT NULL,"
     "  window_start INTEGER NOT NULL,"
     "  locked_until INTEGER NOT NULL,"
     "  last_failure INTEGER NOT NULL);"
     "CREATE INDEX login_failures_last ON login_failures(last_failure);"),

    /*
     * 11: the change sequence replicas follow on PostgreSQL (store_changes.c).
     * One process runs on SQLite and nothing writes it here: the table keeps
     * the two drivers' schemas alike, version for version.
     */
    ("CREATE TABLE authd_changes ("
     "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  origin TEXT NOT NULL,"
     "  replica TEXT NOT NULL,"
     "  what INTEGER NOT NULL,"
     "  session TEXT NOT NULL DEFAULT '',"
     "  account TEXT NOT NULL DEFAULT '',"
     "  keep TEXT NOT NULL DEFAULT '',"
     "  key_account TEXT NOT NULL DEFAULT '',"
     "  key_id TEXT NOT NULL DEFAULT '',"
     "  key_removed TEXT NOT NULL DEFAULT '',"
     "  at_ms INTEGER NOT NULL);"
     "CREATE INDEX authd_changes_at ON authd_changes(at_ms);"),

    /* 12: a sync job's lease, which replicas on one store share, and a cancel asked of it */
    ("ALTER TABLE jobs ADD COLUMN replica TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE jobs ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE jobs ADD COLUMN cancel_asked INTEGER NOT NULL DEFAULT 0;"),

    /*
     * 13: the processes that run on the store, as GET /api/cluster lists them
     * (store_replicas.c): a row per replica.name, refreshed while it runs
     */
    ("CREATE TABLE authd_replicas ("
     "  name TEXT PRIMARY KEY,"
     "  version TEXT NOT NULL,"
     "  started_at INTEGER NOT NULL,"
     "  seq INTEGER NOT NULL,"
     "  seen_at INTEGER NOT NULL);"),

    /*
     * 14: a sync job's log, in chunks of lines written as the job goes
     * (sync/job_log.c), in the store rather than a file beside it, as on
     * PostgreSQL: one place to back up and to copy
     */
    ("CREATE TABLE job_logs ("
     "  seq INTEGER PRIMARY KEY,"
     "  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
     "  lines BLOB NOT NULL);"
     "CREATE INDEX job_logs_job ON job_logs(job_id, seq);"),
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int sqlite_stored_version(sqlite3 *db)
{
	sqlite3_stmt *stmt;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

int sqlite_schema_version(void)
{
	return N_MIGRATIONS;
}

int sqlite_migrate(sqlite3 *db, int target, struct failure *err)
{
	int v = sqlite_stored_version(db);

	if (v < 0) {
		failure_set(err, "cannot read the schema version: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (v > N_MIGRATIONS) {
		failure_set(
		    err,
		    "the database has schema version %d but this authd knows only up to %d; "
		    "run a newer authd (refusing to touch it)",
		    v, N_MIGRATIONS);
		return -1;
	}
	for (; v < target && v < N_MIGRATIONS; v++) {
		char *msg = NULL;
		char bump[64];

		snprintf(bump, sizeof(bump), "PRAGMA user_version=%d;", v + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, bump, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			failure_set(err, "migration %d: %s", v + 1, msg ? msg : "failed");
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}
