use std::path::PathBuf;

/// Why a sandbox could not be set up. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "unknown sandbox kind {0:?}; use \"auto\" (the best available), \"bwrap\", \"landlock\" or \"none\""
    )]
    UnknownKind(String),
    #[error("sandbox path {path:?} {reason}; fix or remove it in the upstream's sandbox settings")]
    BadPath { path: PathBuf, reason: String },
    #[error("the {backend} sandbox is not available here: {reason}")]
    Unavailable {
        backend: &'static str,
        reason: String,
    },
    #[error("could not prepare the {backend} sandbox: {reason}")]
    Setup {
        backend: &'static str,
        reason: String,
    },
}
