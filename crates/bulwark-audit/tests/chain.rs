//! Behaviour of the log as a whole: writing, reopening, tampering, crashes.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bulwark_audit::{
    AuditError, AuditEvent, AuditLog, AuditOptions, Fsync, Severity, VerifyError, args_digest,
    verify,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn log_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("nested/audit/audit.jsonl")
}

fn event(i: usize) -> AuditEvent {
    AuditEvent::new("tool_call", Severity::High, "list_sensors", "success")
        .with_user("alice")
        .with_request_id(format!("req-{i}"))
        .with_duration_ms(i as u64)
}

async fn write_n(log: &AuditLog, n: usize) {
    for i in 0..n {
        log.record(event(i)).await.unwrap();
    }
}

async fn fresh_log(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let log = AuditLog::open(AuditOptions::new(&path)).unwrap();
    write_n(&log, n).await;
    (dir, path)
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(path, text).unwrap();
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

/// Top-level fields in key order, whatever `serde_json::Map` is built with.
fn sorted(record: &Value) -> BTreeMap<String, Value> {
    record
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[tokio::test]
async fn a_chain_of_n_records_verifies_with_count_n() {
    let (_dir, path) = fresh_log(10).await;
    assert_eq!(verify(&path).unwrap(), 10);

    let records: Vec<Value> = lines(&path).iter().map(|l| parse(l)).collect();
    assert_eq!(records[0]["prev"], ZEROS);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record["seq"], i as u64 + 1);
        assert_eq!(record["request_id"], format!("req-{i}"));
        assert_eq!(record["severity"], "HIGH");
        if i > 0 {
            assert_eq!(record["prev"], records[i - 1]["hash"]);
        }
    }
}

#[tokio::test]
async fn the_hash_is_sha256_of_the_canonical_record_without_hash() {
    let (_dir, path) = fresh_log(1).await;
    let line = &lines(&path)[0];
    let mut record = sorted(&parse(line));
    let hash = record.remove("hash").unwrap();
    // Top-level fields are scalars here, so a sorted map serialised compactly
    // is the canonical form: what an outside tool would recompute.
    let expected = hex::encode(Sha256::digest(serde_json::to_string(&record).unwrap()));
    assert_eq!(hash, expected);
}

#[tokio::test]
async fn reopening_continues_seq_and_prev() {
    let (_dir, path) = fresh_log(3).await;
    let log = AuditLog::open(AuditOptions::new(&path)).unwrap();
    write_n(&log, 2).await;
    drop(log);

    assert_eq!(verify(&path).unwrap(), 5);
    let records: Vec<Value> = lines(&path).iter().map(|l| parse(l)).collect();
    assert_eq!(records[3]["seq"], 4);
    assert_eq!(records[3]["prev"], records[2]["hash"]);
}

#[tokio::test]
async fn altering_a_middle_record_names_that_record() {
    let (_dir, path) = fresh_log(5).await;
    let mut all = lines(&path);
    assert!(all[2].contains(r#""outcome":"success""#));
    all[2] = all[2].replace(r#""outcome":"success""#, r#""outcome":"denied""#);
    write_lines(&path, &all);

    let err = verify(&path).unwrap_err();
    assert!(
        matches!(err, VerifyError::Altered { line: 3, seq: 3 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "record 3 (line 3) was altered: its hash does not match its contents"
    );
}

#[tokio::test]
async fn altering_the_last_record_is_detected() {
    let (_dir, path) = fresh_log(5).await;
    let mut all = lines(&path);
    all[4] = all[4].replace(r#""user":"alice""#, r#""user":"mallory""#);
    write_lines(&path, &all);

    let err = verify(&path).unwrap_err();
    assert!(
        matches!(err, VerifyError::Altered { line: 5, seq: 5 }),
        "{err:?}"
    );

    // And the writer refuses to extend a chain whose tail was tampered with.
    let err = AuditLog::open(AuditOptions::new(&path)).unwrap_err();
    assert!(matches!(err, AuditError::BadTail { .. }), "{err:?}");
    assert!(err.to_string().contains("record 5"), "{err}");
}

#[tokio::test]
async fn a_rewritten_and_rehashed_record_breaks_the_next_link() {
    let (_dir, path) = fresh_log(5).await;
    let mut all = lines(&path);
    // A careful forger edits record 2 and recomputes its hash.
    let mut record = sorted(&parse(&all[1]));
    record.remove("hash");
    record.insert("outcome".into(), json!("denied"));
    let body = serde_json::to_string(&record).unwrap();
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    all[1] = format!("{},\"hash\":\"{hash}\"}}", &body[..body.len() - 1]);
    write_lines(&path, &all);

    let err = verify(&path).unwrap_err();
    assert!(
        matches!(err, VerifyError::BrokenLink { line: 3, seq: 3 }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("record 3's prev (line 3) does not match record 2's hash"),
        "{err}"
    );
}

#[tokio::test]
async fn deleting_a_middle_line_names_the_gap() {
    let (_dir, path) = fresh_log(5).await;
    let mut all = lines(&path);
    all.remove(2);
    write_lines(&path, &all);

    let err = verify(&path).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Missing {
                line: 3,
                expected: 3,
                found: 4
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("record 3 is missing: line 3 holds record 4"),
        "{err}"
    );
}

#[tokio::test]
async fn deleting_the_first_line_is_a_gap_too() {
    let (_dir, path) = fresh_log(3).await;
    let mut all = lines(&path);
    all.remove(0);
    write_lines(&path, &all);
    let err = verify(&path).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Missing {
                line: 1,
                expected: 1,
                found: 2
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn swapping_two_lines_is_out_of_order() {
    let (_dir, path) = fresh_log(5).await;
    let mut all = lines(&path);
    all.swap(1, 2);
    write_lines(&path, &all);

    let err = verify(&path).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::OutOfOrder {
                line: 2,
                expected: 2,
                found: 3
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("records out of order at line 2"),
        "{err}"
    );
}

#[tokio::test]
async fn a_line_that_is_not_json_is_named() {
    let (_dir, path) = fresh_log(4).await;
    let mut all = lines(&path);
    all[2] = "hello".into();
    write_lines(&path, &all);
    let err = verify(&path).unwrap_err();
    assert!(
        matches!(err, VerifyError::NotARecord { line: 3, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("line 3 is not a JSON audit record"),
        "{err}"
    );
}

#[tokio::test]
async fn a_torn_final_line_is_cut_on_open_and_the_chain_continues() {
    let (_dir, path) = fresh_log(3).await;
    let good_len = fs::metadata(&path).unwrap().len();
    // What a crash mid-write leaves: the start of a record, no newline.
    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(br#"{"action":"list_sensors","duration_ms":3,"event"#)
        .unwrap();
    drop(file);
    assert!(matches!(
        verify(&path).unwrap_err(),
        VerifyError::Incomplete { line: 4 }
    ));

    let log = AuditLog::open(AuditOptions::new(&path)).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), good_len);
    assert_eq!(verify(&path).unwrap(), 3);
    log.record(event(9)).await.unwrap();
    drop(log);

    assert_eq!(verify(&path).unwrap(), 4);
    assert_eq!(parse(&lines(&path)[3])["seq"], 4);
}

#[tokio::test]
async fn a_file_that_is_only_a_torn_line_starts_a_new_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, b"{\"seq\":1,\"pr").unwrap();

    let log = AuditLog::open(AuditOptions::new(&path)).unwrap();
    log.record(event(0)).await.unwrap();
    drop(log);
    assert_eq!(verify(&path).unwrap(), 1);
    assert_eq!(parse(&lines(&path)[0])["prev"], ZEROS);
}

#[tokio::test]
async fn events_below_min_severity_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let log = AuditLog::open(AuditOptions {
        min_severity: Severity::High,
        ..AuditOptions::new(&path)
    })
    .unwrap();
    for severity in [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ] {
        log.record(AuditEvent::new("tool_call", severity, "x", "success"))
            .await
            .unwrap();
    }
    drop(log);

    assert_eq!(verify(&path).unwrap(), 2);
    let severities: Vec<Value> = lines(&path)
        .iter()
        .map(|l| parse(l)["severity"].clone())
        .collect();
    assert_eq!(severities, [json!("HIGH"), json!("CRITICAL")]);
}

#[tokio::test]
async fn args_are_stripped_unless_include_params() {
    let args = json!({"sid": "abc", "token": "secret"});
    for include_params in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let log = AuditLog::open(AuditOptions {
            include_params,
            ..AuditOptions::new(&path)
        })
        .unwrap();
        // No `with_args`: the log must fill in the digest itself.
        let mut e = AuditEvent::new("tool_call", Severity::Critical, "isolate", "success");
        e.args = Some(args.clone());
        log.record(e).await.unwrap();
        drop(log);

        let line = &lines(&path)[0];
        let record = parse(line);
        assert_eq!(record["args_sha256"], args_digest(&args));
        if include_params {
            assert_eq!(record["args"], args);
        } else {
            assert!(record.get("args").is_none(), "{line}");
            assert!(!line.contains("secret"), "{line}");
        }
        assert_eq!(verify(&path).unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_records_get_unique_consecutive_seqs() {
    concurrent_records(Fsync::Always).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_direct_appends_get_unique_consecutive_seqs() {
    // Interval fsync appends from the calling tasks under the lock, not via the thread.
    concurrent_records(Fsync::Interval(Duration::from_millis(5))).await;
}

async fn concurrent_records(fsync: Fsync) {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let log = AuditLog::open(AuditOptions {
        fsync,
        ..AuditOptions::new(&path)
    })
    .unwrap();

    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.record(event(i)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // Every call has returned, so every record is already on disk.
    assert_eq!(verify(&path).unwrap(), 200);
    drop(log);

    let records: Vec<Value> = lines(&path).iter().map(|l| parse(l)).collect();
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<u64>>());
    let ids: HashSet<&str> = records
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 200, "each call must land exactly once");
}

#[tokio::test]
async fn a_returned_record_is_already_in_the_file() {
    for fsync in [Fsync::Always, Fsync::Interval(Duration::from_secs(3600))] {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let log = AuditLog::open(AuditOptions {
            fsync,
            ..AuditOptions::new(&path)
        })
        .unwrap();
        for i in 1..=5 {
            log.record(event(i)).await.unwrap();
            // `verify` opens the file on its own: no shared buffer could hide a missing write.
            assert_eq!(verify(&path).unwrap(), i, "{fsync:?}");
        }
        log.flush().await.unwrap();
        assert_eq!(verify(&path).unwrap(), 5);
    }
}

#[tokio::test]
async fn a_second_writer_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let first = AuditLog::open(AuditOptions::new(&path)).unwrap();
    let err = AuditLog::open(AuditOptions::new(&path)).unwrap_err();
    assert!(matches!(err, AuditError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("share one AuditLog"), "{err}");

    // Dropping the last handle releases the file for the next writer.
    let clone = first.clone();
    drop(first);
    clone.record(event(0)).await.unwrap();
    drop(clone);
    let again = AuditLog::open(AuditOptions::new(&path)).unwrap();
    again.record(event(1)).await.unwrap();
    drop(again);
    assert_eq!(verify(&path).unwrap(), 2);
}

#[cfg(unix)]
#[tokio::test]
async fn the_log_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = fresh_log(1).await;
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn an_empty_log_verifies_with_no_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.jsonl");
    fs::write(&path, b"").unwrap();
    assert_eq!(verify(&path).unwrap(), 0);
    let err = verify(&dir.path().join("absent.jsonl")).unwrap_err();
    assert!(matches!(err, VerifyError::Io { .. }), "{err:?}");
}

fn low(i: usize) -> AuditEvent {
    AuditEvent::new("tool_call", Severity::Low, "test_tool", "success")
        .with_request_id(format!("low-{i}"))
}

fn buffered_log(path: &Path, buffer: Duration) -> AuditLog {
    AuditLog::open(AuditOptions {
        fsync: Fsync::Interval(Duration::from_secs(3600)),
        buffer,
        ..AuditOptions::new(path)
    })
    .unwrap()
}

/// Polls `verify` until it counts `n` records; panics after `within`.
fn wait_for_records(path: &Path, n: usize, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let count = verify(path).unwrap();
        if count == n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{count} records after {within:?}, want {n}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[tokio::test]
async fn with_a_buffer_high_records_are_written_before_returning_and_carry_waiting_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    // A buffer far longer than the test, so only the HIGH record can have written the LOW ones.
    let log = buffered_log(&path, Duration::from_secs(3600));
    for i in 0..3 {
        log.record(low(i)).await.unwrap();
    }
    assert_eq!(verify(&path).unwrap(), 0, "LOW records wait in the buffer");
    log.record(event(1)).await.unwrap();
    assert_eq!(
        verify(&path).unwrap(),
        4,
        "the HIGH record wrote the waiting ones first"
    );
    let ids: Vec<String> = lines(&path)
        .iter()
        .map(|l| parse(l)["request_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["low-0", "low-1", "low-2", "req-1"]);
}

#[tokio::test]
async fn with_a_buffer_low_records_reach_the_file_within_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let log = buffered_log(&path, Duration::from_millis(20));
    for i in 0..10 {
        log.record(low(i)).await.unwrap();
    }
    // The thread writes them 20 ms after the first; allow for a loaded machine.
    wait_for_records(&path, 10, Duration::from_secs(5));
    for i in 10..15 {
        log.record(low(i)).await.unwrap();
    }
    wait_for_records(&path, 15, Duration::from_secs(5));
}

#[tokio::test]
async fn with_a_buffer_flush_and_drop_write_what_waits() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let log = buffered_log(&path, Duration::from_secs(3600));
    log.record(low(0)).await.unwrap();
    log.flush().await.unwrap();
    assert_eq!(verify(&path).unwrap(), 1);
    log.record(low(1)).await.unwrap();
    drop(log);
    assert_eq!(verify(&path).unwrap(), 2);
}

#[tokio::test]
async fn with_a_buffer_a_full_buffer_is_written_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let log = buffered_log(&path, Duration::from_secs(3600));
    // Each record is about 300 bytes; 64 KiB of them must not wait an hour.
    let mut n = 0;
    while verify(&path).unwrap() == 0 {
        log.record(low(n)).await.unwrap();
        n += 1;
        assert!(n < 1_000, "the buffer was never written");
    }
    assert!(n > 100, "written after only {n} records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_buffer_concurrent_records_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let log = buffered_log(&path, Duration::from_millis(2));
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move {
                let event = if i % 7 == 0 { event(i) } else { low(i) };
                log.record(event).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    drop(log);
    assert_eq!(verify(&path).unwrap(), 400);
    let seqs: Vec<u64> = lines(&path)
        .iter()
        .map(|l| parse(l)["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=400).collect::<Vec<u64>>());
}
