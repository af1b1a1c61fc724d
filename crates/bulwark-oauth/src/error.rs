use std::path::PathBuf;

/// What went wrong in the authorization server's store or setup. Each
/// message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error(
        "cannot {action} {path}: {reason}; check that the data dir exists and is writable by this user"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{path} is not a SQLite database; point the data dir at bulwark's own directory")]
    NotADatabase { path: PathBuf },
    #[error("the database is locked by another process while {action}; retry in a moment")]
    Busy { action: &'static str },
    #[error("database error while {action}: {reason}")]
    Database {
        action: &'static str,
        reason: String,
    },
    #[error(
        "the OAuth tables are at schema version {found} but this bulwark knows only up to {supported}; upgrade bulwark"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("user `{name}` already exists; remove it first to replace it")]
    UserExists { name: String },
    #[error("no user named `{name}`; list users to see the names")]
    UserNotFound { name: String },
    #[error("{0}")]
    InvalidInput(String),
    #[error("OAuth configuration: {0}")]
    Config(String),
    #[error("signing key: {0}; rotate the signing key to replace a damaged one")]
    Key(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Maps a driver error to an error that names what was being done.
pub(crate) fn db_err(action: &'static str) -> impl FnOnce(rusqlite::Error) -> OAuthError {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            OAuthError::Busy { action }
        }
        _ => OAuthError::Database {
            action,
            reason: e.to_string(),
        },
    }
}
