//! The writer thread's scheduling priority. Alone in its own test binary (so
//! its own process): it looks the thread up by name in /proc, and no other
//! test's log may have a writer running meanwhile.
#![cfg(target_os = "linux")]

use std::time::Duration;

use bulwark_audit::{AuditEvent, AuditLog, AuditOptions, Fsync, Severity};

/// The nice value in a /proc `stat` line: its 19th field, the 17th after
/// the parenthesised name (which may hold spaces).
fn nice_of(stat: &str) -> i64 {
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(16).unwrap().parse().unwrap()
}

/// The nice values of this process's threads named `bulwark-audit`.
fn writer_nice_values() -> Vec<i64> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(task.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        if comm.trim() != "bulwark-audit" {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(task.join("stat")) else {
            continue;
        };
        out.push(nice_of(&stat));
    }
    out
}

fn event() -> AuditEvent {
    AuditEvent::new("tool_call", Severity::Low, "list_sensors", "success")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_yields_to_callers_only_when_no_caller_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();

    // Interval fsync: callers never wait for the writer, so it runs at the
    // lowest priority. A flush has gone through its loop, so it has set it.
    let mut options = AuditOptions::new(dir.path().join("interval.jsonl"));
    options.fsync = Fsync::Interval(Duration::from_millis(50));
    let log = AuditLog::open(options).unwrap();
    log.record(event()).await.unwrap();
    log.flush().await.unwrap();
    assert_eq!(writer_nice_values(), [19]);
    drop(log);
    assert!(
        writer_nice_values().is_empty(),
        "dropping the log ends its writer"
    );

    // Fsync on every record: each caller waits for the writer's fsync, so it
    // keeps the process's priority (whatever the test runs at).
    let process = nice_of(&std::fs::read_to_string("/proc/self/stat").unwrap());
    let log = AuditLog::open(AuditOptions::new(dir.path().join("always.jsonl"))).unwrap();
    log.record(event()).await.unwrap();
    assert_eq!(writer_nice_values(), [process]);
}
