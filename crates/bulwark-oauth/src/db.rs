//! The SQLite side: opening the shared `bulwark.db`, the `oauth_` tables and
//! their migrations. Other crates own other tables in the same file; this
//! module touches only `oauth_*`.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior, params};

use crate::error::{OAuthError, db_err};
use crate::util::now_secs;

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Versioned migrations, applied in order, each in its own transaction.
/// Never edit a released entry; append a new one.
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE oauth_users (
         name           TEXT PRIMARY KEY,
         password_hash  TEXT NOT NULL,          -- argon2id PHC string
         totp_secret    TEXT,                   -- base32; NULL without TOTP
         totp_last_step INTEGER NOT NULL DEFAULT 0, -- newest TOTP step used (replay guard)
         scopes         TEXT NOT NULL,          -- space-separated allowance
         tenant         TEXT,
         created_at     INTEGER NOT NULL
     );
     CREATE TABLE oauth_clients (
         client_id      TEXT PRIMARY KEY,
         secret_sha256  TEXT,                   -- NULL for public clients
         auth_method    TEXT NOT NULL,
         metadata       TEXT NOT NULL,          -- JSON client metadata
         created_at     INTEGER NOT NULL
     );
     CREATE TABLE oauth_signing_keys (
         kid            TEXT PRIMARY KEY,
         pkcs8          BLOB NOT NULL,          -- P-256 private key, PKCS#8 DER
         x              TEXT NOT NULL,          -- public point, base64url
         y              TEXT NOT NULL,
         created_at     INTEGER NOT NULL,
         retired_at     INTEGER,                -- NULL for the key that signs
         signed_until   INTEGER NOT NULL DEFAULT 0 -- latest exp of a token it signed
     );
     CREATE UNIQUE INDEX oauth_signing_keys_one_active
         ON oauth_signing_keys (coalesce(retired_at, 0)) WHERE retired_at IS NULL;
     -- One family per approved authorization: its code, refresh tokens and
     -- access tokens all carry its id, so one row revokes them all.
     CREATE TABLE oauth_families (
         fid            TEXT PRIMARY KEY,
         client_id      TEXT NOT NULL,
         subject        TEXT NOT NULL,
         source         TEXT NOT NULL,          -- local | federated
         scopes         TEXT NOT NULL,
         tenant         TEXT,
         aud            TEXT NOT NULL,
         created_at     INTEGER NOT NULL,
         access_exp_max INTEGER NOT NULL DEFAULT 0,
         refresh_exp_max INTEGER NOT NULL DEFAULT 0,
         revoked_at     INTEGER,
         revoked_reason TEXT
     );
     CREATE INDEX oauth_families_subject ON oauth_families (subject);
     CREATE TABLE oauth_codes (
         code_sha256    TEXT PRIMARY KEY,
         fid            TEXT NOT NULL,
         redirect_uri   TEXT NOT NULL,
         redirect_uri_sent INTEGER NOT NULL,    -- was it in the authorization request
         code_challenge TEXT NOT NULL,
         expires_at     INTEGER NOT NULL,
         used_at        INTEGER
     );
     CREATE TABLE oauth_refresh_tokens (
         token_sha256   TEXT PRIMARY KEY,
         fid            TEXT NOT NULL,
         created_at     INTEGER NOT NULL,
         expires_at     INTEGER NOT NULL,
         used_at        INTEGER
     );
     CREATE INDEX oauth_refresh_tokens_fid ON oauth_refresh_tokens (fid);
     -- Append-only: verifiers load new rows by seq to learn of revocations
     -- made by any process sharing the file.
     CREATE TABLE oauth_revocations (
         seq            INTEGER PRIMARY KEY AUTOINCREMENT,
         kind           TEXT NOT NULL,          -- jti | fid
         value          TEXT NOT NULL,
         expires_at     INTEGER NOT NULL
     );",
)];

/// One connection, shared behind a mutex. Statements are short; the async
/// side runs them on the blocking pool through [`Db::call`].
#[derive(Clone)]
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    pub(crate) fn open(path: &Path) -> Result<Db, OAuthError> {
        Ok(Db {
            conn: Arc::new(Mutex::new(open_file(path)?)),
        })
    }

    /// Runs `f` on this thread (CLI and blocking-pool use).
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, OAuthError>,
    ) -> Result<R, OAuthError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut conn)
    }

    /// Runs `f` on the blocking pool: a write may wait on another process's lock.
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, OAuthError> + Send + 'static,
    ) -> Result<R, OAuthError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.with(f))
            .await
            .map_err(|e| OAuthError::Database {
                action: "running a database task",
                reason: e.to_string(),
            })?
    }
}

/// Opens (creating owner-only if needed) the database file and brings the
/// `oauth_` tables up to date.
pub(crate) fn open_file(path: &Path) -> Result<Connection, OAuthError> {
    create_private_file(path)?;
    let file_err = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => OAuthError::NotADatabase {
            path: path.to_owned(),
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => OAuthError::Busy {
            action: "opening the database",
        },
        _ => OAuthError::Io {
            action: "open database file",
            path: path.to_owned(),
            reason: e.to_string(),
        },
    };
    let mut conn = Connection::open(path).map_err(file_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(file_err)?;
    // WAL, as bulwark-store: readers (token verification) never wait on a
    // writer, and a CLI process can write while `serve` runs.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(file_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OAuthError::Database {
            action: "switching to WAL mode",
            reason: format!(
                "SQLite kept journal mode {mode:?}; put the data dir on a local file system"
            ),
        });
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .map_err(db_err("configuring the connection"))?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// A second, read-mostly connection (the revocation watcher's).
pub(crate) fn open_reader(path: &Path) -> Result<Connection, OAuthError> {
    let conn = Connection::open(path).map_err(|e| OAuthError::Io {
        action: "open database file",
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(db_err("configuring the connection"))?;
    Ok(conn)
}

/// SQLite would create the file with the umask's (often world-readable)
/// mode; it holds password hashes and signing keys, so make it 0600 first.
fn create_private_file(path: &Path) -> Result<(), OAuthError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(parent).map_err(|e| OAuthError::Io {
            action: "create directory",
            path: parent.to_owned(),
            reason: e.to_string(),
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(OAuthError::Io {
            action: "create database file",
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM oauth_schema_version",
        [],
        |r| r.get(0),
    )
}

fn migrate(conn: &mut Connection) -> Result<(), OAuthError> {
    const ACTION: &str = "migrating the OAuth tables";
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS oauth_schema_version (
             version    INTEGER PRIMARY KEY,
             applied_at INTEGER NOT NULL
         )",
    )
    .map_err(db_err(ACTION))?;
    let current = schema_version(conn).map_err(db_err(ACTION))?;
    if current > latest {
        return Err(OAuthError::SchemaTooNew {
            found: current,
            supported: latest,
        });
    }
    for &(version, sql) in MIGRATIONS {
        if version <= current {
            continue;
        }
        // IMMEDIATE and a re-read: two processes opening at once apply each step once.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err(ACTION))?;
        if schema_version(&tx).map_err(db_err(ACTION))? >= version {
            continue;
        }
        tx.execute_batch(sql).map_err(db_err(ACTION))?;
        tx.execute(
            "INSERT INTO oauth_schema_version (version, applied_at) VALUES (?1, ?2)",
            params![version, now_secs()],
        )
        .map_err(db_err(ACTION))?;
        tx.commit().map_err(db_err(ACTION))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_twice_migrates_once_and_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bulwark.db");
        drop(open_file(&path).unwrap());
        let conn = open_file(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bulwark.db");
        let conn = open_file(&path).unwrap();
        conn.execute(
            "INSERT INTO oauth_schema_version (version, applied_at) VALUES (99, 0)",
            [],
        )
        .unwrap();
        drop(conn);
        assert!(matches!(
            open_file(&path),
            Err(OAuthError::SchemaTooNew { found: 99, .. })
        ));
    }
}
