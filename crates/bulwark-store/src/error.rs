use std::path::PathBuf;

/// Everything the store can fail with. Each message says what to do next.
///
/// Backend errors are carried as text so that no database driver type leaks
/// into the public API (a PostgreSQL backend will produce the same variants).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "cannot {action} {path}: {reason}; check that the path is right and writable by this user"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        reason: String,
    },

    #[error(
        "{path} is not a bulwark database (or it is damaged); move it aside and rerun to start a fresh one"
    )]
    NotADatabase { path: PathBuf },

    #[error(
        "the database has schema version {found} but this bulwark knows only up to {supported}; \
         upgrade bulwark, since a newer version wrote this data dir"
    )]
    SchemaTooNew { found: i64, supported: i64 },

    #[error(
        "the database stayed locked by another bulwark process while {action}; \
         retry, and look for a stuck bulwark process using the same data dir"
    )]
    Busy { action: &'static str },

    #[error(
        "database error while {action}: {reason}; if it persists, check free disk space \
         and the permissions of the data dir"
    )]
    Database {
        action: &'static str,
        reason: String,
    },

    #[error("cannot get random bytes from the operating system: {reason}")]
    Random { reason: String },

    #[error("invalid API key name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },

    #[error("invalid scope {scope:?}: {reason}")]
    InvalidScope { scope: String, reason: String },

    #[error("invalid tenant {tenant:?}: {reason}")]
    InvalidTenant { tenant: String, reason: String },

    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },

    #[error(
        "an active API key named {name:?} already exists (id {id}); revoke it first with \
         `bulwark auth key revoke {id}` or pick another name"
    )]
    DuplicateName { name: String, id: String },

    #[error("no API key has the id or name {query:?}; run `bulwark auth key list` to see the keys")]
    NotFound { query: String },

    #[error("API key {query:?} (id {id}) was already revoked at {revoked_at}; nothing to do")]
    AlreadyRevoked {
        query: String,
        id: String,
        revoked_at: String,
    },

    #[error("secrets key {path}: {reason}")]
    SecretsKey { path: PathBuf, reason: String },

    #[error(
        "cannot decrypt credential `{name}` of tenant `{tenant}`: the secrets key (secrets.key in \
         the data dir) is not the one it was stored with, or the row was altered; restore the \
         right secrets.key, or store the credential again with `bulwark tenant credential set`"
    )]
    Decrypt { tenant: String, name: String },

    #[error(
        "cannot decrypt the OAuth tokens of upstream `{name}`: the secrets key (secrets.key in \
         the data dir) is not the one they were stored with, or the row was altered; restore the \
         right secrets.key, or log in again with `bulwark upstream login {name}`"
    )]
    TokenDecrypt { name: String },

    #[error(
        "tenant `{tenant}` has no stored credential `{name}`; \
         run `bulwark tenant credential list {tenant}` to see its credentials"
    )]
    CredentialNotFound { tenant: String, name: String },

    #[error(
        "tenant `{tenant}` already holds {max} credentials, the most one tenant may have; \
         remove one first with `bulwark tenant credential remove {tenant} NAME`"
    )]
    TooManyCredentials { tenant: String, max: usize },
}
