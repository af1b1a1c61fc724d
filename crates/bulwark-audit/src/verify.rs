use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::canonical::{GENESIS, parse_line};
use crate::error::VerifyError;

/// Checks a whole audit log and returns how many records it holds.
///
/// For each line in order: it is a complete JSON record; its bytes match its
/// `hash`; its `seq` is one more than the previous record's (the first is 1);
/// its `prev` equals the previous record's `hash` (64 zeros for the first).
/// The hash is checked before the sequence so that an edited line is named as
/// altered, not mistaken for a gap. The first failure is returned.
///
/// Reads the file independently of any open [`crate::AuditLog`], so it can
/// run while the log is being written (a record still being written may then
/// show up as [`VerifyError::Incomplete`]).
pub fn verify(path: &Path) -> Result<usize, VerifyError> {
    let io_err = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io_err)?);
    let mut buf = Vec::new();
    let mut line = 0usize;
    let mut expected_seq = 1u64;
    let mut prev_hash = GENESIS.to_string();

    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io_err)? == 0 {
            // Every line is one record, so the line count is the record count.
            return Ok(line);
        }
        line += 1;
        if buf.pop() != Some(b'\n') {
            return Err(VerifyError::Incomplete { line });
        }
        let record = parse_line(&buf).map_err(|reason| VerifyError::NotARecord { line, reason })?;
        if !record.intact {
            return Err(VerifyError::Altered {
                line,
                seq: record.seq,
            });
        }
        if record.seq != expected_seq {
            let found = record.seq;
            // A later seq is a gap only if the expected record is nowhere
            // further on; if it is, lines were moved rather than removed.
            return Err(
                if found > expected_seq && !appears_later(&mut reader, expected_seq) {
                    VerifyError::Missing {
                        line,
                        expected: expected_seq,
                        found,
                    }
                } else {
                    VerifyError::OutOfOrder {
                        line,
                        expected: expected_seq,
                        found,
                    }
                },
            );
        }
        if record.prev != prev_hash {
            return Err(if record.seq == 1 {
                VerifyError::BadStart { line }
            } else {
                VerifyError::BrokenLink {
                    line,
                    seq: record.seq,
                }
            });
        }
        prev_hash = record.hash;
        expected_seq += 1;
    }
}

/// Whether any remaining line holds record `seq`. Unreadable lines are skipped:
/// this only picks the wording of an error already found.
fn appears_later(reader: &mut impl BufRead, seq: u64) -> bool {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                if parse_line(&buf).is_ok_and(|r| r.seq == seq) {
                    return true;
                }
            }
        }
    }
}
