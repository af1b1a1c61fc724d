//! The remediation ledger: every containment action with who asked, when,
//! what it touched and the state before and after, in SQLite
//! (`<data_dir>/remediations.db`). Quarantined files also have a row in
//! `quarantine` that `restore_file` reads.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("remediation ledger {path}: {source}")]
    Sql {
        path: String,
        source: rusqlite::Error,
    },
    #[error("cannot create the data directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
}

/// One containment action.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Remediation {
    pub id: String,
    /// RFC 3339 UTC.
    pub at: String,
    /// `kill_process`, `quarantine_file`, `restore_file`, `isolate_network`, `rejoin_network`.
    pub action: String,
    pub sid: String,
    /// The pid, path, quarantine id or host acted on.
    pub target: String,
    /// Authenticated principal, or none when authentication is off.
    pub principal: Option<String>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub client_addr: Option<String>,
    pub request_id: String,
    /// State before the action (JSON).
    pub before: serde_json::Value,
    /// State after the action (JSON).
    pub after: serde_json::Value,
    /// `done` or `failed`.
    pub status: String,
    /// The earlier remediation this one undoes (restore_file, rejoin_network).
    pub undoes: Option<String>,
}

/// A file held in the vault.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Quarantined {
    pub id: String,
    pub original_path: String,
    pub vault_path: String,
    pub sha256: String,
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    pub quarantined_at: String,
    pub restored_at: Option<String>,
}

pub struct Ledger {
    conn: Connection,
    path: String,
}

impl Ledger {
    pub fn open(path: &std::path::Path) -> Result<Self, LedgerError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| LedgerError::Dir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let sql = |source| LedgerError::Sql {
            path: shown.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS remediations (
                id TEXT PRIMARY KEY,
                at TEXT NOT NULL,
                action TEXT NOT NULL,
                sid TEXT NOT NULL,
                target TEXT NOT NULL,
                principal TEXT,
                tenant TEXT,
                client_id TEXT,
                client_addr TEXT,
                request_id TEXT NOT NULL,
                before TEXT NOT NULL,
                after TEXT NOT NULL,
                status TEXT NOT NULL,
                undoes TEXT
            );
            CREATE INDEX IF NOT EXISTS remediations_at ON remediations(at);
            CREATE TABLE IF NOT EXISTS quarantine (
                id TEXT PRIMARY KEY,
                original_path TEXT NOT NULL,
                vault_path TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                size INTEGER NOT NULL,
                mode INTEGER NOT NULL,
                uid INTEGER NOT NULL,
                gid INTEGER NOT NULL,
                mtime INTEGER NOT NULL,
                quarantined_at TEXT NOT NULL,
                restored_at TEXT
            );",
        )
        .map_err(sql)?;
        Ok(Ledger { conn, path: shown })
    }

    fn err(&self, source: rusqlite::Error) -> LedgerError {
        LedgerError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    pub fn record(&self, r: &Remediation) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO remediations (id, at, action, sid, target, principal, tenant, client_id, client_addr, request_id, before, after, status, undoes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    r.id,
                    r.at,
                    r.action,
                    r.sid,
                    r.target,
                    r.principal,
                    r.tenant,
                    r.client_id,
                    r.client_addr,
                    r.request_id,
                    r.before.to_string(),
                    r.after.to_string(),
                    r.status,
                    r.undoes
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Newest first; `action` filters.
    pub fn list(
        &self,
        action: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Remediation>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, at, action, sid, target, principal, tenant, client_id, client_addr, request_id, before, after, status, undoes
                 FROM remediations WHERE (?1 IS NULL OR action = ?1) ORDER BY at DESC, rowid DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![action, limit as i64], |row| {
                let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
                    let text: String = row.get(i)?;
                    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
                };
                Ok(Remediation {
                    id: row.get(0)?,
                    at: row.get(1)?,
                    action: row.get(2)?,
                    sid: row.get(3)?,
                    target: row.get(4)?,
                    principal: row.get(5)?,
                    tenant: row.get(6)?,
                    client_id: row.get(7)?,
                    client_addr: row.get(8)?,
                    request_id: row.get(9)?,
                    before: json(10)?,
                    after: json(11)?,
                    status: row.get(12)?,
                    undoes: row.get(13)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    pub fn add_quarantine(&self, q: &Quarantined) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO quarantine (id, original_path, vault_path, sha256, size, mode, uid, gid, mtime, quarantined_at, restored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL)",
                params![q.id, q.original_path, q.vault_path, q.sha256, q.size as i64, q.mode, q.uid, q.gid, q.mtime, q.quarantined_at],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn quarantined(&self, id: &str) -> Result<Option<Quarantined>, LedgerError> {
        self.conn
            .query_row(
                "SELECT id, original_path, vault_path, sha256, size, mode, uid, gid, mtime, quarantined_at, restored_at FROM quarantine WHERE id = ?1",
                params![id],
                |row| {
                    Ok(Quarantined {
                        id: row.get(0)?,
                        original_path: row.get(1)?,
                        vault_path: row.get(2)?,
                        sha256: row.get(3)?,
                        size: row.get::<_, i64>(4)? as u64,
                        mode: row.get(5)?,
                        uid: row.get(6)?,
                        gid: row.get(7)?,
                        mtime: row.get(8)?,
                        quarantined_at: row.get(9)?,
                        restored_at: row.get(10)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn mark_restored(&self, id: &str, at: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE quarantine SET restored_at = ?2 WHERE id = ?1",
                params![id, at],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

/// The ledger, opened on first use so that listing tools creates no files.
pub struct LazyLedger {
    path: PathBuf,
    inner: Mutex<Option<Ledger>>,
}

impl LazyLedger {
    pub fn new(path: PathBuf) -> Self {
        LazyLedger {
            path,
            inner: Mutex::new(None),
        }
    }

    pub fn with<T>(
        &self,
        f: impl FnOnce(&Ledger) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(Ledger::open(&self.path)?);
        }
        f(guard.as_ref().expect("opened above"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str, at: &str, action: &str) -> Remediation {
        Remediation {
            id: id.into(),
            at: at.into(),
            action: action.into(),
            sid: "local".into(),
            target: "42".into(),
            principal: Some("alice".into()),
            tenant: None,
            client_id: None,
            client_addr: Some("127.0.0.1:5000".into()),
            request_id: "r1".into(),
            before: serde_json::json!({"pid": 42}),
            after: serde_json::json!({"alive": false}),
            status: "done".into(),
            undoes: None,
        }
    }

    #[test]
    fn records_survive_reopening_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/remediations.db");
        {
            let l = Ledger::open(&path).unwrap();
            l.record(&sample("a", "2026-01-01T00:00:00Z", "kill_process"))
                .unwrap();
            l.record(&sample("b", "2026-01-02T00:00:00Z", "quarantine_file"))
                .unwrap();
        }
        let l = Ledger::open(&path).unwrap();
        let all = l.list(None, 10).unwrap();
        assert_eq!(
            all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        assert_eq!(all[1], sample("a", "2026-01-01T00:00:00Z", "kill_process"));
        assert_eq!(l.list(Some("kill_process"), 10).unwrap().len(), 1);
        assert_eq!(l.list(None, 1).unwrap().len(), 1);
    }
}
