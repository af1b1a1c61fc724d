//! The SQLite backend: every SQL statement and every rusqlite type lives here,
//! so a PostgreSQL backend can be added beside it without touching the API.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};

use crate::{ApiKey, StoreError};

/// How long a statement waits for another process's write lock before
/// failing. Writes here are tiny, so this is only reached if something hangs.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Versioned migrations, applied in order, each in its own transaction.
/// Never edit a released entry; append a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE api_keys (
         -- rowid alias: gives creation order even within one second
         seq           INTEGER PRIMARY KEY AUTOINCREMENT,
         id            TEXT NOT NULL UNIQUE,
         name          TEXT NOT NULL,
         secret_sha256 TEXT NOT NULL,
         scopes        TEXT NOT NULL, -- JSON array of strings
         tenant        TEXT,
         created_at    TEXT NOT NULL,
         last_used_at  TEXT,
         revoked_at    TEXT
     );
     -- Backstop for the check in create: one active key per name.
     CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;",
    ),
    (
        2,
        "CREATE TABLE audit_events (
         id         INTEGER PRIMARY KEY AUTOINCREMENT,
         hash       TEXT NOT NULL UNIQUE, -- the record's own chain hash
         seq        INTEGER,
         time       TEXT NOT NULL,
         event_type TEXT NOT NULL,
         severity   TEXT,
         user       TEXT,
         tenant     TEXT,
         outcome    TEXT,
         record     TEXT NOT NULL         -- the JSON line exactly as in the log
     );
     CREATE INDEX audit_events_time ON audit_events (time);
     CREATE INDEX audit_events_type ON audit_events (event_type, time);",
    ),
    (
        3,
        "CREATE TABLE upstreams (
         name       TEXT PRIMARY KEY,
         record     TEXT NOT NULL, -- JSON, owned by bulwark-gateway
         updated_at TEXT NOT NULL
     );
     -- One row; bumped by every change to `upstreams`, so a running server
     -- notices a change made by another process with one cheap read.
     CREATE TABLE upstream_generation (
         id         INTEGER PRIMARY KEY CHECK (id = 1),
         generation INTEGER NOT NULL
     );
     INSERT INTO upstream_generation (id, generation) VALUES (1, 0);",
    ),
    (
        4,
        "CREATE TABLE tenant_credentials (
         tenant     TEXT NOT NULL,
         name       TEXT NOT NULL,
         nonce      BLOB NOT NULL, -- 24 random bytes (XChaCha20)
         ciphertext BLOB NOT NULL, -- XChaCha20-Poly1305; tenant and name are its associated data
         updated_at TEXT NOT NULL,
         PRIMARY KEY (tenant, name)
     ) WITHOUT ROWID;",
    ),
    (
        5,
        "CREATE TABLE upstream_tokens (
         name       TEXT PRIMARY KEY,  -- the upstream's name
         nonce      BLOB NOT NULL,     -- 24 random bytes (XChaCha20)
         ciphertext BLOB NOT NULL,     -- XChaCha20-Poly1305 of rmcp's stored credentials (JSON); the name is its associated data
         updated_at TEXT NOT NULL
     ) WITHOUT ROWID;",
    ),
];

const KEY_COLUMNS: &str = "id, name, scopes, tenant, created_at, last_used_at, revoked_at";

/// Maps a driver error to a store error that names what was being done.
fn db_err(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy { action },
        _ => StoreError::Database {
            action,
            reason: e.to_string(),
        },
    }
}

/// Opens (creating if needed) a database file and brings its schema up to date.
pub(crate) fn open_file(path: &Path) -> Result<Connection, StoreError> {
    // The first errors about the file itself surface here or at the first
    // statement (SQLite opens lazily), so both get the path in the message.
    let file_err = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase {
            path: path.to_owned(),
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy {
            action: "opening the database",
        },
        _ => StoreError::Io {
            action: "open database file",
            path: path.to_owned(),
            reason: e.to_string(),
        },
    };
    let mut conn = Connection::open(path).map_err(file_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(file_err)?;
    // WAL lets readers run while another process (a `serve` and a CLI command
    // sharing the data dir) writes; NORMAL sync is durable enough under WAL.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(file_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database {
            action: "switching to WAL mode",
            reason: format!(
                "SQLite kept journal mode {mode:?}; put the data dir on a local file system"
            ),
        });
    }
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// A private database that vanishes when the connection closes.
pub(crate) fn open_memory() -> Result<Connection, StoreError> {
    let mut conn = Connection::open_in_memory().map_err(db_err("opening an in-memory database"))?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .map_err(db_err("configuring the connection"))
}

fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    const ACTION: &str = "migrating the database schema";
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    INTEGER PRIMARY KEY,
             applied_at TEXT NOT NULL
         )",
    )
    .map_err(db_err(ACTION))?;
    // Fast path: opening an up-to-date database takes no write lock.
    let current = schema_version(conn).map_err(db_err(ACTION))?;
    if current > latest {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: latest,
        });
    }
    for &(version, sql) in MIGRATIONS {
        if version <= current {
            continue;
        }
        // IMMEDIATE takes the write lock up front; re-reading the version
        // under it means two processes opening at once apply each step once.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err(ACTION))?;
        if schema_version(&tx).map_err(db_err(ACTION))? >= version {
            continue;
        }
        tx.execute_batch(sql).map_err(db_err(ACTION))?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            params![version, crate::now_rfc3339()],
        )
        .map_err(db_err(ACTION))?;
        tx.commit().map_err(db_err(ACTION))?;
    }
    Ok(())
}

/// Row → `ApiKey` for a SELECT of `KEY_COLUMNS` (in that order).
fn key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let scopes: String = row.get(2)?;
    let scopes = serde_json::from_str(&scopes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(ApiKey {
        id: row.get(0)?,
        name: row.get(1)?,
        scopes,
        tenant: row.get(3)?,
        created_at: row.get(4)?,
        last_used_at: row.get(5)?,
        revoked_at: row.get(6)?,
    })
}

pub(crate) struct NewKey<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub secret_sha256: &'a str,
    pub scopes: &'a [String],
    pub tenant: Option<&'a str>,
    pub created_at: &'a str,
}

pub(crate) enum Inserted {
    Done(ApiKey),
    /// The random id is already taken; the caller draws another.
    IdTaken,
}

pub(crate) fn insert_api_key(
    conn: &mut Connection,
    new: &NewKey<'_>,
) -> Result<Inserted, StoreError> {
    const ACTION: &str = "creating an API key";
    // IMMEDIATE: the name check and the insert happen under one write lock,
    // so two processes cannot both create the same active name.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(ACTION))?;
    let existing: Option<String> = tx
        .query_row(
            "SELECT id FROM api_keys WHERE name = ?1 AND revoked_at IS NULL",
            [new.name],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err(ACTION))?;
    if let Some(id) = existing {
        return Err(StoreError::DuplicateName {
            name: new.name.to_owned(),
            id,
        });
    }
    let scopes = serde_json::to_string(new.scopes).map_err(|e| StoreError::Database {
        action: ACTION,
        reason: e.to_string(),
    })?;
    let inserted = tx.execute(
        "INSERT INTO api_keys (id, name, secret_sha256, scopes, tenant, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            new.id,
            new.name,
            new.secret_sha256,
            scopes,
            new.tenant,
            new.created_at
        ],
    );
    match inserted {
        Ok(_) => {}
        // The name was checked above under the same lock, so a constraint
        // failure here can only be the id.
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
            return Ok(Inserted::IdTaken);
        }
        Err(e) => return Err(db_err(ACTION)(e)),
    }
    tx.commit().map_err(db_err(ACTION))?;
    Ok(Inserted::Done(ApiKey {
        id: new.id.to_owned(),
        name: new.name.to_owned(),
        scopes: new.scopes.to_vec(),
        tenant: new.tenant.map(str::to_owned),
        created_at: new.created_at.to_owned(),
        last_used_at: None,
        revoked_at: None,
    }))
}

pub(crate) fn list_api_keys(conn: &Connection) -> Result<Vec<ApiKey>, StoreError> {
    const ACTION: &str = "listing API keys";
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY seq"))
        .map_err(db_err(ACTION))?;
    let rows = stmt.query_map([], key_from_row).map_err(db_err(ACTION))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err(ACTION))
}

/// Revokes by exact id first, then by the name of the active key.
pub(crate) fn revoke_api_key(
    conn: &mut Connection,
    query: &str,
    now: &str,
) -> Result<ApiKey, StoreError> {
    const ACTION: &str = "revoking an API key";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(ACTION))?;
    let select = |sql_where: &str| {
        tx.query_row(
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE {sql_where} ORDER BY seq DESC LIMIT 1"
            ),
            [query],
            key_from_row,
        )
        .optional()
        .map_err(db_err(ACTION))
    };
    let found = match select("id = ?1")? {
        Some(key) => Some(key),
        None => match select("name = ?1 AND revoked_at IS NULL")? {
            Some(key) => Some(key),
            // Only revoked keys carry this name: say so rather than "not found".
            None => select("name = ?1")?,
        },
    };
    let Some(mut key) = found else {
        return Err(StoreError::NotFound {
            query: query.to_owned(),
        });
    };
    if let Some(revoked_at) = key.revoked_at {
        return Err(StoreError::AlreadyRevoked {
            query: query.to_owned(),
            id: key.id,
            revoked_at,
        });
    }
    tx.execute(
        "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1",
        params![key.id, now],
    )
    .map_err(db_err(ACTION))?;
    tx.commit().map_err(db_err(ACTION))?;
    key.revoked_at = Some(now.to_owned());
    Ok(key)
}

/// The key with this id and its stored hash: one lookup on the unique id index.
pub(crate) fn find_for_verify(
    conn: &Connection,
    id: &str,
) -> Result<Option<(ApiKey, String)>, StoreError> {
    const ACTION: &str = "verifying an API key";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS}, secret_sha256 FROM api_keys WHERE id = ?1"
        ))
        .map_err(db_err(ACTION))?;
    stmt.query_row([id], |row| Ok((key_from_row(row)?, row.get(7)?)))
        .optional()
        .map_err(db_err(ACTION))
}

/// A number that changes whenever another connection (another process, or a
/// CLI command) commits to the database. Reads shared memory only: cheap.
pub(crate) fn data_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached("PRAGMA data_version")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(db_err("checking for changes by other processes"))
}

/// One audit record, as the columns the queries filter on plus its line.
pub(crate) struct AuditRow<'a> {
    pub hash: &'a str,
    pub seq: Option<i64>,
    pub time: &'a str,
    pub event_type: &'a str,
    pub severity: Option<&'a str>,
    pub user: Option<&'a str>,
    pub tenant: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub record: &'a str,
}

/// Inserts records in one transaction; a record already present (same
/// hash) is skipped. Returns how many were new.
pub(crate) fn insert_audit_rows(
    conn: &mut Connection,
    rows: &[AuditRow<'_>],
) -> Result<usize, StoreError> {
    const ACTION: &str = "copying audit records into the store";
    let tx = conn.transaction().map_err(db_err(ACTION))?;
    let mut added = 0;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO audit_events
                 (hash, seq, time, event_type, severity, user, tenant, outcome, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(db_err(ACTION))?;
        for row in rows {
            added += stmt
                .execute(params![
                    row.hash,
                    row.seq,
                    row.time,
                    row.event_type,
                    row.severity,
                    row.user,
                    row.tenant,
                    row.outcome,
                    row.record
                ])
                .map_err(db_err(ACTION))?;
        }
    }
    tx.commit().map_err(db_err(ACTION))?;
    Ok(added)
}

/// Audit lines matching every given filter, newest first.
pub(crate) fn search_audit(
    conn: &Connection,
    query: &crate::AuditQuery,
) -> Result<Vec<String>, StoreError> {
    const ACTION: &str = "searching the audit records";
    let mut stmt = conn
        .prepare_cached(
            "SELECT record FROM audit_events
             WHERE (?1 IS NULL OR event_type = ?1)
               AND (?2 IS NULL OR user = ?2)
               AND (?3 IS NULL OR tenant = ?3)
               AND (?4 IS NULL OR time >= ?4)
             ORDER BY time DESC, id DESC
             LIMIT ?5",
        )
        .map_err(db_err(ACTION))?;
    let rows = stmt
        .query_map(
            params![
                query.event_type,
                query.user,
                query.tenant,
                query.since,
                query.limit as i64
            ],
            |row| row.get(0),
        )
        .map_err(db_err(ACTION))?;
    rows.collect::<Result<Vec<String>, _>>()
        .map_err(db_err(ACTION))
}

/// One sealed credential to store.
pub(crate) struct CredentialRow<'a> {
    pub tenant: &'a str,
    pub name: &'a str,
    pub nonce: &'a [u8],
    pub ciphertext: &'a [u8],
    pub updated_at: &'a str,
}

/// Inserts or replaces a credential, refusing a new one past `max` per tenant.
pub(crate) fn upsert_credential(
    conn: &mut Connection,
    row: &CredentialRow<'_>,
    max: usize,
) -> Result<crate::SetOutcome, StoreError> {
    const ACTION: &str = "storing a tenant credential";
    // IMMEDIATE: the count and the insert happen under one write lock.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(ACTION))?;
    let (others, exists): (i64, bool) = tx
        .query_row(
            "SELECT COUNT(*) FILTER (WHERE name <> ?2), COUNT(*) FILTER (WHERE name = ?2) > 0
             FROM tenant_credentials WHERE tenant = ?1",
            params![row.tenant, row.name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db_err(ACTION))?;
    if !exists && others >= max as i64 {
        return Err(StoreError::TooManyCredentials {
            tenant: row.tenant.to_owned(),
            max,
        });
    }
    tx.execute(
        "INSERT INTO tenant_credentials (tenant, name, nonce, ciphertext, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant, name) DO UPDATE SET
             nonce = excluded.nonce, ciphertext = excluded.ciphertext,
             updated_at = excluded.updated_at",
        params![
            row.tenant,
            row.name,
            row.nonce,
            row.ciphertext,
            row.updated_at
        ],
    )
    .map_err(db_err(ACTION))?;
    tx.commit().map_err(db_err(ACTION))?;
    Ok(if exists {
        crate::SetOutcome::Replaced
    } else {
        crate::SetOutcome::Added
    })
}

pub(crate) fn list_credentials(
    conn: &Connection,
    tenant: &str,
) -> Result<Vec<crate::CredentialInfo>, StoreError> {
    const ACTION: &str = "listing tenant credentials";
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, updated_at FROM tenant_credentials WHERE tenant = ?1 ORDER BY name",
        )
        .map_err(db_err(ACTION))?;
    let rows = stmt
        .query_map([tenant], |r| {
            Ok(crate::CredentialInfo {
                tenant: tenant.to_owned(),
                name: r.get(0)?,
                updated_at: r.get(1)?,
            })
        })
        .map_err(db_err(ACTION))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err(ACTION))
}

/// Whether a row was deleted.
pub(crate) fn delete_credential(
    conn: &Connection,
    tenant: &str,
    name: &str,
) -> Result<bool, StoreError> {
    conn.prepare_cached("DELETE FROM tenant_credentials WHERE tenant = ?1 AND name = ?2")
        .and_then(|mut stmt| stmt.execute([tenant, name]))
        .map(|n| n > 0)
        .map_err(db_err("removing a tenant credential"))
}

/// A sealed credential as read back: (name, nonce, ciphertext).
pub(crate) type SealedRow = (String, Vec<u8>, Vec<u8>);

/// A tenant's sealed credentials, by name.
pub(crate) fn credential_rows(
    conn: &Connection,
    tenant: &str,
) -> Result<Vec<SealedRow>, StoreError> {
    const ACTION: &str = "reading tenant credentials";
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, nonce, ciphertext FROM tenant_credentials WHERE tenant = ?1 ORDER BY name",
        )
        .map_err(db_err(ACTION))?;
    let rows = stmt
        .query_map([tenant], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(db_err(ACTION))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err(ACTION))
}

/// The sealed token of an upstream: (nonce, ciphertext, updated_at).
pub(crate) type SealedTokenRow = (Vec<u8>, Vec<u8>, String);

pub(crate) fn upstream_token_row(
    conn: &Connection,
    name: &str,
) -> Result<Option<SealedTokenRow>, StoreError> {
    conn.prepare_cached("SELECT nonce, ciphertext, updated_at FROM upstream_tokens WHERE name = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(db_err("reading an upstream's OAuth tokens"))
}

pub(crate) fn put_upstream_token(
    conn: &Connection,
    name: &str,
    nonce: &[u8],
    ciphertext: &[u8],
    updated_at: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO upstream_tokens (name, nonce, ciphertext, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET
             nonce = excluded.nonce, ciphertext = excluded.ciphertext,
             updated_at = excluded.updated_at",
    )
    .and_then(|mut stmt| stmt.execute(params![name, nonce, ciphertext, updated_at]))
    .map(|_| ())
    .map_err(db_err("storing an upstream's OAuth tokens"))
}

/// Whether a row was deleted.
pub(crate) fn delete_upstream_token(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("DELETE FROM upstream_tokens WHERE name = ?1")
        .and_then(|mut stmt| stmt.execute([name]))
        .map(|n| n > 0)
        .map_err(db_err("removing an upstream's OAuth tokens"))
}

pub(crate) fn touch_last_used(conn: &Connection, id: &str, now: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([id, now]))
        .map(drop)
        .map_err(db_err("recording when an API key was last used"))
}

pub(crate) fn upstream_generation(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row(
        "SELECT generation FROM upstream_generation WHERE id = 1",
        [],
        |r| r.get(0),
    )
    .map_err(db_err("reading the upstream generation"))
}

pub(crate) fn list_upstreams(conn: &Connection) -> Result<Vec<crate::StoredUpstream>, StoreError> {
    const ACTION: &str = "listing upstream servers";
    let mut stmt = conn
        .prepare_cached("SELECT name, record, updated_at FROM upstreams ORDER BY name")
        .map_err(db_err(ACTION))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(crate::StoredUpstream {
                name: r.get(0)?,
                record: r.get(1)?,
                updated_at: r.get(2)?,
            })
        })
        .map_err(db_err(ACTION))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err(ACTION))
}

/// Read one record, let `change` decide, and write its decision, all under
/// one write lock: two processes changing the same upstream never lose an update.
pub(crate) fn modify_upstream<T, E: From<StoreError>>(
    conn: &mut Connection,
    name: &str,
    change: impl FnOnce(Option<String>) -> Result<(crate::UpstreamWrite, T), E>,
) -> Result<T, E> {
    const ACTION: &str = "changing an upstream server";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(ACTION))?;
    let current: Option<String> = tx
        .query_row(
            "SELECT record FROM upstreams WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err(ACTION))?;
    let (write, out) = change(current)?;
    let changed = match write {
        crate::UpstreamWrite::Keep => false,
        crate::UpstreamWrite::Put(record) => {
            tx.execute(
                "INSERT INTO upstreams (name, record, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET record = excluded.record,
                                                  updated_at = excluded.updated_at",
                params![name, record, crate::now_rfc3339()],
            )
            .map_err(db_err(ACTION))?;
            true
        }
        crate::UpstreamWrite::Delete => {
            tx.execute("DELETE FROM upstreams WHERE name = ?1", [name])
                .map_err(db_err(ACTION))?;
            true
        }
    };
    if changed {
        tx.execute(
            "UPDATE upstream_generation SET generation = generation + 1 WHERE id = 1",
            [],
        )
        .map_err(db_err(ACTION))?;
        tx.commit().map_err(db_err(ACTION))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_lookup_uses_the_id_index() {
        let conn = open_memory().unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT {KEY_COLUMNS}, secret_sha256 FROM api_keys WHERE id = ?1"
            ))
            .unwrap()
            .query_map(["x"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(plan.len(), 1, "{plan:?}");
        assert!(plan[0].contains("USING INDEX"), "{plan:?}");
    }

    #[test]
    fn migrations_are_numbered_in_order() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].0 < pair[1].0);
        }
        assert_eq!(MIGRATIONS[0].0, 1);
    }
}
