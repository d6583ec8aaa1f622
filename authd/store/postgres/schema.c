/*
 * The PostgreSQL schema: the same numbered migrations as the SQLite driver's
 * (store/sqlite/schema.c), step for step, in PostgreSQL's dialect; applied in
 * order at start-up, and the refusal of a database newer than this build.
 */
#include <stdio.h>
#include <stdlib.h>

#include "pg.h"

/*
 * Text compares and sorts byte by byte, as in SQLite, whatever the
 * database's locale: names page by `name >= start`, and must sort as they
 * compare. Flags are booleans, times and counts bigints, token hashes bytea.
 */
#define TEXT "TEXT COLLATE \"C\""

/*
 * The schema, one step per entry, numbered as the SQLite driver's: step N
 * here makes what step N makes there, so that a database of either driver at
 * version N holds the same tables. The version is the one row of
 * authd_schema. Never edit a step that has shipped: add one, here and there.
 */
static const char *const migrations[] = {
    /* 1: accounts, organizations, teams, sessions, collections and grants */
    "CREATE TABLE authd_schema (version INTEGER NOT NULL);"
    "INSERT INTO authd_schema VALUES (0);"
    "CREATE TABLE accounts ("
    "  id " TEXT " PRIMARY KEY,"
    "  name " TEXT " NOT NULL UNIQUE,"
    "  full_name " TEXT " NOT NULL DEFAULT '',"
    "  is_org BOOLEAN NOT NULL DEFAULT false,"
    "  is_admin BOOLEAN NOT NULL DEFAULT false,"
    "  is_active BOOLEAN NOT NULL DEFAULT true,"
    "  is_imported BOOLEAN NOT NULL DEFAULT false,"
    "  ldap_dn " TEXT " NOT NULL DEFAULT '',"
    "  password_hash " TEXT ","
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL);"
    "CREATE TABLE org_members ("
    "  org_id " TEXT " NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  user_id " TEXT " NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  is_admin BOOLEAN NOT NULL DEFAULT false,"
    "  PRIMARY KEY (org_id, user_id));"
    "CREATE INDEX org_members_user ON org_members(user_id);"
    "CREATE TABLE teams ("
    "  id " TEXT " PRIMARY KEY,"
    "  org_id " TEXT " NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name " TEXT " NOT NULL,"
    "  description " TEXT " NOT NULL DEFAULT '',"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  UNIQUE (org_id, name));"
    "CREATE TABLE team_members ("
    "  team_id " TEXT " NOT NULL REFERENCES teams(id) ON DELETE CASCADE,"
    "  user_id " TEXT " NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  is_admin BOOLEAN NOT NULL DEFAULT false,"
    "  PRIMARY KEY (team_id, user_id));"
    "CREATE INDEX team_members_user ON team_members(user_id);"
    "CREATE TABLE sessions ("
    "  token_hash BYTEA PRIMARY KEY,"
    "  account_id " TEXT " NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  created_at BIGINT NOT NULL,"
    "  last_used BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL);"
    "CREATE INDEX sessions_account ON sessions(account_id);"
    "CREATE TABLE collections ("
    "  id " TEXT " PRIMARY KEY,"
    "  name " TEXT " NOT NULL,"
    "  parent_id " TEXT " REFERENCES collections(id),"
    "  path " TEXT " NOT NULL UNIQUE,"
    "  created_at BIGINT NOT NULL);"
    "INSERT INTO collections VALUES"
    "  ('root', '', NULL, '/', 0),"
    "  ('system', 'System', 'root', '/System', 0),"
    "  ('shared', 'Shared', 'root', '/Shared', 0),"
    "  ('private', 'Private', 'shared', '/Shared/Private', 0);"
    "CREATE TABLE grants ("
    "  subject_id " TEXT " NOT NULL,"
    "  collection_id " TEXT " NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  role_id " TEXT " NOT NULL,"
    "  PRIMARY KEY (subject_id, collection_id, role_id));"
    "CREATE TABLE settings ("
    "  key " TEXT " PRIMARY KEY,"
    "  value " TEXT " NOT NULL);"
    "INSERT INTO settings VALUES ('defaultNewUserRole', 'restrictedcontrol');",

    /* 2: client-bundle keys (certificate and public key only), and LDAP's missing mark */
    "CREATE TABLE public_keys ("
    "  id " TEXT " PRIMARY KEY,"
    "  account_id " TEXT " NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  label " TEXT " NOT NULL,"
    "  fingerprint " TEXT " NOT NULL UNIQUE,"
    "  certificate " TEXT " NOT NULL,"
    "  public_key " TEXT " NOT NULL,"
    "  scope " TEXT " NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  not_after BIGINT NOT NULL);"
    "CREATE INDEX public_keys_account ON public_keys(account_id);"
    "ALTER TABLE accounts ADD COLUMN ldap_missing BOOLEAN NOT NULL DEFAULT false;",

    /* 3: custom roles (the built-in ones live in authz/roles.c) */
    "CREATE TABLE roles ("
    "  id " TEXT " PRIMARY KEY,"
    "  name " TEXT " NOT NULL UNIQUE,"
    "  operations " TEXT " NOT NULL,"
    "  created_at BIGINT NOT NULL);"
    "CREATE INDEX grants_role ON grants(role_id);"
    "CREATE INDEX grants_collection ON grants(collection_id);",

    /* 4: SQLite's sessions without a rowid; a PostgreSQL table has none to drop */
    "SELECT 1;",

    /* 5: LDAP sync jobs, the member-sync configs of teams and orgs, and who sync deactivated */
    "CREATE TABLE jobs ("
    "  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  id " TEXT " NOT NULL UNIQUE,"
    "  action " TEXT " NOT NULL,"
    "  status " TEXT " NOT NULL,"
    "  dry_run BOOLEAN NOT NULL DEFAULT false,"
    "  force BOOLEAN NOT NULL DEFAULT false,"
    "  target " TEXT " NOT NULL DEFAULT '',"
    "  scheduled_at BIGINT NOT NULL,"
    "  started_at BIGINT NOT NULL DEFAULT 0,"
    "  last_updated BIGINT NOT NULL,"
    "  summary " TEXT " NOT NULL DEFAULT '{}',"
    "  plan " TEXT ");"
    "CREATE INDEX jobs_status ON jobs(status);"
    "CREATE TABLE team_sync ("
    "  team_id " TEXT " PRIMARY KEY REFERENCES teams(id) ON DELETE CASCADE,"
    "  config " TEXT " NOT NULL);"
    "CREATE TABLE org_admin_sync ("
    "  org_id " TEXT " PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
    "  config " TEXT " NOT NULL);"
    "ALTER TABLE accounts ADD COLUMN ldap_deactivated BOOLEAN NOT NULL DEFAULT false;",

    /* 6: role names unique in any case, as the API looks them up (ASCII folding: the column
       is of collation "C", as SQLite's NOCASE) */
    "CREATE UNIQUE INDEX roles_name_nocase ON roles (lower(name));",

    /* 7: a session lasts from its login or its last renewal */
    "ALTER TABLE sessions RENAME COLUMN last_used TO renewed_at;",

    /* 8: the directory id of an imported account's entry, one account's at most */
    ("ALTER TABLE accounts ADD COLUMN ldap_id " TEXT " NOT NULL DEFAULT '';"
     "CREATE UNIQUE INDEX accounts_ldap_id ON accounts (ldap_id) WHERE ldap_id != '';"),

    /*
     * 9: the TLS material replicas share on PostgreSQL when store.keyFile is
     * set: the CAs ('cluster-ca', 'client-ca') and the served certificate
     * ('server', with the CA an upload named), their private keys sealed
     * under store.keyFile's key; version counts the row's replacements.
     * SQLite has the same table, unused: its material stays in the data dir.
     */
    ("CREATE TABLE tls_material ("
     "  name " TEXT " PRIMARY KEY,"
     "  cert_pem " TEXT " NOT NULL,"
     "  key_sealed " TEXT " NOT NULL,"
     "  ca_pem " TEXT " NOT NULL DEFAULT '',"
     "  version BIGINT NOT NULL DEFAULT 1,"
     "  updated_at BIGINT NOT NULL);"),

    /* 10: failed logins counted per key for every replica (store_throttle.c) */
    ("CREATE TABLE login_failures ("
     "  key " TEXT " PRIMARY KEY,"
     "  failures INTEGER NOT NULL,"
     "  window_start BIGINT NOT NULL,"
     "  locked_until BIGINT NOT NULL,"
     "  last_failure BIGINT NOT NULL);"
     "CREATE INDEX login_failures_last ON login_failures (last_failure);"),

    /*
     * 11: the change sequence replicas follow (store_changes.c): a row per
     * announced change, and a notification on channel authd_changes with each
     * insert, delivered when its transaction commits
     */
    ("CREATE TABLE authd_changes ("
     "  seq BIGSERIAL PRIMARY KEY,"
     "  origin " TEXT " NOT NULL,"
     "  replica " TEXT " NOT NULL,"
     "  what INTEGER NOT NULL,"
     "  session " TEXT " NOT NULL DEFAULT '',"
     "  account " TEXT " NOT NULL DEFAULT '',"
     "  keep " TEXT " NOT NULL DEFAULT '',"
     "  key_account " TEXT " NOT NULL DEFAULT '',"
     "  key_id " TEXT " NOT NULL DEFAULT '',"
     "  key_removed " TEXT " NOT NULL DEFAULT '',"
     "  at_ms BIGINT NOT NULL);"
     "CREATE INDEX authd_changes_at ON authd_changes (at_ms);"
     "CREATE FUNCTION authd_changes_notify() RETURNS trigger LANGUAGE plpgsql AS"
     " $$BEGIN PERFORM pg_notify('authd_changes', ''); RETURN NULL; END$$;"
     "CREATE TRIGGER authd_changes_notify AFTER INSERT ON authd_changes"
     " FOR EACH STATEMENT EXECUTE FUNCTION authd_changes_notify();"),

    /* 12: a sync job's lease, which replicas on one store share, and a cancel asked of it */
    ("ALTER TABLE jobs ADD COLUMN replica " TEXT " NOT NULL DEFAULT '';"
     "ALTER TABLE jobs ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;"
     "ALTER TABLE jobs ADD COLUMN cancel_asked BOOLEAN NOT NULL DEFAULT false;"),

    /*
     * 13: the processes that run on the store, as GET /api/cluster lists them
     * (store_replicas.c): a row per replica.name, refreshed while it runs
     */
    ("CREATE TABLE authd_replicas ("
     "  name " TEXT " PRIMARY KEY,"
     "  version " TEXT " NOT NULL,"
     "  started_at BIGINT NOT NULL,"
     "  seq BIGINT NOT NULL,"
     "  seen_at BIGINT NOT NULL);"),

    /*
     * 14: a sync job's log, in chunks of lines that the replica running it
     * writes as it goes (sync/job_log.c), outside the job's transaction, so
     * that every replica reads it; bytes, as the directory gave them
     */
    ("CREATE TABLE job_logs ("
     "  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
     "  job_id " TEXT " NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
     "  lines BYTEA NOT NULL);"
     "CREATE INDEX job_logs_job ON job_logs (job_id, seq);"),
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int pg_schema_version(void)
{
	return N_MIGRATIONS;
}

/* A command's failure, with PostgreSQL's message (which never holds the connection string). */
static int command_failed(PGresult *res, struct failure *err, const char *what)
{
	failure_set(err, "%s: %s", what, res ? PQresultErrorMessage(res) : "no answer");
	PQclear(res);
	return -1;
}

static int run_command(PGconn *pg, const char *sql, struct failure *err, const char *what)
{
	PGresult *res = PQexec(pg, sql);
	ExecStatusType s = PQresultStatus(res);

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		return command_failed(res, err, what);
	PQclear(res);
	return 0;
}

int pg_stored_version(PGconn *pg)
{
	PGresult *res = PQexec(pg, "SELECT to_regclass('authd_schema') IS NOT NULL");
	int v = -1;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = PQexec(pg, "SELECT version FROM authd_schema");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* One step and its version, in one transaction. */
static int apply_step(PGconn *pg, int v, struct failure *err)
{
	char what[32], bump[64];

	snprintf(what, sizeof(what), "migration %d", v + 1);
	snprintf(bump, sizeof(bump), "UPDATE authd_schema SET version = %d", v + 1);
	if (run_command(pg, "BEGIN", err, what) != 0)
		return -1;
	if (run_command(pg, migrations[v], err, what) != 0 ||
	    run_command(pg, bump, err, what) != 0 || run_command(pg, "COMMIT", err, what) != 0) {
		PQclear(PQexec(pg, "ROLLBACK"));
		return -1;
	}
	return 0;
}

static int migrate_locked(PGconn *pg, int target, struct failure *err)
{
	int v = pg_stored_version(pg);

	if (v < 0)
		return failure_set(err, "cannot read the schema version: %s", PQerrorMessage(pg));
	if (v > N_MIGRATIONS)
		return failure_set(
		    err,
		    "the database has schema version %d but this authd knows only up to %d; "
		    "run a newer authd (refusing to touch it)",
		    v, N_MIGRATIONS);
	for (; v < target && v < N_MIGRATIONS; v++)
		if (apply_step(pg, v, err) != 0)
			return -1;
	return 0;
}

int pg_migrate(PGconn *pg, int target, struct failure *err)
{
	int rc;

	/* a session lock: another authd starting now waits here, then finds the work done */
	if (run_command(pg, "SELECT pg_advisory_lock(" PG_LOCK_MIGRATE ")", err,
			"taking the migration lock") != 0)
		return -1;
	rc = migrate_locked(pg, target, err);
	PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" PG_LOCK_MIGRATE ")"));
	return rc;
}
