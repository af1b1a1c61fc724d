//! A tamper-evident, append-only audit log.
//!
//! # Format
//!
//! The log is JSON Lines: one JSON object per line, each line ending in `\n`.
//! Every object carries the [`AuditEvent`] fields plus three chain fields:
//!
//! - `seq`: 1 for the first record, then one more per record, continuing across
//!   restarts;
//! - `prev`: the `hash` of the record before it (64 zeros for record 1);
//! - `hash`: hex SHA-256 of the record's canonical JSON *without* `hash`: object
//!   keys sorted (recursively, by byte order), no whitespace. Because `seq` and
//!   `prev` are inside that JSON, the hash covers the record's position and its
//!   link as well as every event field.
//!
//! A line is written as exactly those canonical bytes with `,"hash":"<hex>"`
//! spliced in before the closing brace, so the verifier hashes the bytes as
//! written rather than a re-serialisation (which could drift, e.g. for floats).
//!
//! # Why both `prev` and `hash`
//!
//! `prev` alone makes the chain tamper-evident, but an edit to record *n* would
//! only show up as a broken link at record *n + 1*. Storing each record's own
//! `hash` lets [`verify`] name the altered record itself, and tell an edit
//! ("record 17 was altered") apart from a removal or reordering ("record 18 is
//! missing", "records out of order"). An attacker who rewrites a record *and* its
//! hash still breaks the next record's `prev`, unless they rewrite every record
//! after it; keep a copy of a recent `hash` elsewhere to catch that.
//!
//! # Durability
//!
//! [`AuditLog::record`] returns only after the line is written; with
//! [`Fsync::Always`] only after it is fsynced. A dedicated writer thread
//! group-commits, so concurrent callers share one fsync. With
//! [`Fsync::Interval`] and a non-zero [`AuditOptions::buffer`], records below
//! HIGH may return while they wait (at most that long) to share one write;
//! HIGH and CRITICAL records never wait, and write the waiting ones first. A
//! line torn by a crash is cut away on the next [`AuditLog::open`]; records
//! acknowledged as written are never lost.

mod canonical;
mod error;
mod event;
mod log;
mod verify;

pub use error::{AuditError, VerifyError};
pub use event::{AuditEvent, args_digest, args_object_digest};
pub use log::{AuditLog, AuditOptions, AuditSink, Fsync};
pub use verify::verify;

/// Re-exported so callers need not depend on `bulwark-core` just to build events.
pub use bulwark_core::Severity;
