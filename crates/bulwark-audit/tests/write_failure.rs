//! A write that fails (here: the file-size limit, EFBIG) must not leave a
//! broken chain, and a caller told `Ok` must find its record in the file.
//!
//! Its own test binary: `RLIMIT_FSIZE` applies to the whole process.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bulwark_audit::{AuditEvent, AuditLog, AuditOptions, Fsync, Severity, verify};

fn high(worker: usize, i: usize) -> AuditEvent {
    AuditEvent::new("tool_call", Severity::High, "test_tool", "success")
        .with_request_id(format!("w{worker}-{i}"))
}

fn low(worker: usize, i: usize) -> AuditEvent {
    AuditEvent::new("tool_call", Severity::Low, "test_tool", "success")
        .with_request_id(format!("w{worker}-{i}"))
}

fn limit_file_size(bytes: u64) {
    // SAFETY: plain libc calls with integer arguments. Ignoring SIGXFSZ turns
    // a write past the limit into an EFBIG error instead of killing the process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let limit = libc::rlimit {
            rlim_cur: bytes,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

fn request_ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["request_id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_acknowledged_before_a_failed_write_survive_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(AuditOptions {
        fsync: Fsync::Interval(Duration::from_millis(5)),
        buffer: Duration::from_millis(2),
        ..AuditOptions::new(&path)
    })
    .unwrap();
    // Room for some hundreds of records, then EFBIG.
    limit_file_size(64 * 1024);

    let log = Arc::new(log);
    let mut workers = Vec::new();
    for worker in 0..8 {
        let log = log.clone();
        workers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut failures = 0;
            for i in 0..200 {
                // Every third record must be written before it is answered.
                let event = if i % 3 == 0 {
                    high(worker, i)
                } else {
                    low(worker, i)
                };
                match log.record(event).await {
                    Ok(()) if i % 3 == 0 => acknowledged.push(format!("w{worker}-{i}")),
                    Ok(()) => {}
                    Err(_) => failures += 1,
                }
            }
            (acknowledged, failures)
        }));
    }
    let mut acknowledged = Vec::new();
    let mut failures = 0;
    for worker in workers {
        let (acked, failed) = worker.await.unwrap();
        acknowledged.extend(acked);
        failures += failed;
    }
    drop(log);

    assert!(failures > 0, "the size limit was never reached");
    let count = verify(&path).expect("the chain verifies after failed writes");
    let written = request_ids(&path);
    assert_eq!(written.len(), count);
    let written: std::collections::HashSet<_> = written.into_iter().collect();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !written.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "HIGH records acknowledged but not in the file: {missing:?}"
    );
}
