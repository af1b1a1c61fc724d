use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Why the audit log could not be opened or could not take an event.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    #[error(
        "cannot open audit log {}: {source}; check that the path is right and that this user may create and write it",
        path.display()
    )]
    Open {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },

    #[error(
        "audit log {} is already open for writing (by another process, or another AuditLog in this one); only one writer may extend a chain, so share one AuditLog (clones are cheap) or stop the other writer",
        path.display()
    )]
    Locked { path: PathBuf },

    #[error(
        "cannot continue audit log {}: its last record {reason}; run `verify` on the file to see what happened, then move it aside so a new log can start",
        path.display()
    )]
    BadTail { path: PathBuf, reason: String },

    #[error(
        "could not write to audit log {}: {source}; the event was NOT recorded; check free disk space and permissions",
        path.display()
    )]
    Write {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },

    #[error(
        "could not fsync audit log {}: {source}; the event may not be on disk, and the log takes no more events; check the disk, then restart so the log is reopened",
        path.display()
    )]
    Sync {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },

    #[error(
        "audit log {} stopped taking events after an earlier write or fsync failure; fix the disk problem, then restart so the log is reopened and its tail checked",
        path.display()
    )]
    Poisoned { path: PathBuf },

    #[error("could not encode the audit event as JSON: {0}; this is a bug in the caller's event")]
    Encode(String),

    #[error(
        "the audit log writer for {} has stopped (it panicked or the log was closed); restart the process to reopen the log",
        path.display()
    )]
    WriterGone { path: PathBuf },
}

/// The first thing wrong with an audit log, named by line and record.
///
/// Line numbers are 1-based; records are named by their `seq`.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read audit log {}: {source}; check the path and permissions", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "line {line} is not a JSON audit record ({reason}); the file was edited or damaged at that line"
    )]
    NotARecord { line: usize, reason: String },

    #[error(
        "line {line} is an incomplete record: the writer was interrupted mid-write; that record was never acknowledged, and opening the log with AuditLog::open cuts it away"
    )]
    Incomplete { line: usize },

    #[error("record {seq} (line {line}) was altered: its hash does not match its contents")]
    Altered { line: usize, seq: u64 },

    #[error(
        "record {expected} is missing: line {line} holds record {found} (records were removed before it)"
    )]
    Missing {
        line: usize,
        expected: u64,
        found: u64,
    },

    #[error(
        "records out of order at line {line}: expected record {expected} but found record {found} (lines were moved, swapped or copied)"
    )]
    OutOfOrder {
        line: usize,
        expected: u64,
        found: u64,
    },

    #[error(
        "record {seq}'s prev (line {line}) does not match record {}'s hash (a record before it was removed or replaced)",
        seq.saturating_sub(1)
    )]
    BrokenLink { line: usize, seq: u64 },

    #[error(
        "record 1 (line {line}) does not start a chain: its prev is not 64 zeros (the start of the log was cut off or replaced)"
    )]
    BadStart { line: usize },
}

impl VerifyError {
    /// The 1-based line the problem was found at, if it is about a line.
    pub fn line(&self) -> Option<usize> {
        match self {
            VerifyError::Io { .. } => None,
            VerifyError::NotARecord { line, .. }
            | VerifyError::Incomplete { line }
            | VerifyError::Altered { line, .. }
            | VerifyError::Missing { line, .. }
            | VerifyError::OutOfOrder { line, .. }
            | VerifyError::BrokenLink { line, .. }
            | VerifyError::BadStart { line } => Some(*line),
        }
    }
}
