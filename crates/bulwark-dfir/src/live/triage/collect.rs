//! Gathering for `quick_triage` on the local host, then ranking.

use std::collections::{BTreeMap, HashMap};

use super::auth;
use super::iocs::{self, Haystack, Needle};
use super::rank::{self, Item};
use super::{HostFacts, Listener, RecentAutorun, Session, Triage, TriageSummary};
use crate::live::common::{Budget, now_rfc3339, rfc3339, user_names};
use crate::live::net::{self, Connection};
use crate::live::procs::{ClockRef, ProcessRow, read_process};

fn host() -> HostFacts {
    let h = crate::HostInfo::local();
    HostFacts {
        sid: h.sid,
        hostname: h.hostname,
        os_name: h.os_name,
        kernel_release: h.kernel_release,
        architecture: h.architecture,
        uptime_secs: h.uptime_secs,
        boot_time: rfc3339(procfs::boot_time_secs().unwrap_or(0) as i64),
        privileged: rustix::process::geteuid().is_root(),
    }
}

fn processes(budget: &mut Budget) -> Vec<ProcessRow> {
    let clock = ClockRef::new();
    let users = user_names();
    let mut rows = Vec::new();
    if let Ok(all) = procfs::process::all_processes() {
        for process in all.flatten() {
            if budget.out_of_time() || budget.rows_full(rows.len()) {
                break;
            }
            if let Some(row) = read_process(&process, &clock, &users) {
                rows.push(row);
            }
        }
    }
    rows
}

fn is_listening(c: &Connection) -> bool {
    c.state == "LISTEN" || (c.protocol.starts_with("udp") && c.state == "UNCONN")
}

fn exists(path: &str) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Entries of one value array, each deserialized; bad rows are skipped with a note.
fn rows<T: serde::de::DeserializeOwned>(
    value: Option<&serde_json::Value>,
    key: &str,
    notes: &mut Vec<String>,
) -> Vec<T> {
    let Some(list) = value.and_then(|v| v.get(key)).and_then(|v| v.as_array()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for row in list {
        match serde_json::from_value(row.clone()) {
            Ok(r) => out.push(r),
            Err(e) => {
                notes.push(format!("{key}: a row was not understood: {e}"));
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
pub fn run(
    budget: &mut Budget,
    days: u32,
    max_items: usize,
    needles: &[Needle],
    users: Option<serde_json::Value>,
    autoruns: Option<serde_json::Value>,
    mut notes: Vec<String>,
) -> Triage {
    let generated_at = now_rfc3339();
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let since_ns = now_ns - i64::from(days) * 86_400 * 1_000_000_000;
    let host = host();
    let mut items: Vec<Item> = Vec::new();

    // Processes and sockets.
    let procs = processes(budget);
    let by_pid: HashMap<i32, &ProcessRow> = procs.iter().map(|p| (p.pid, p)).collect();
    let conns = net::connections(budget, None).connections;
    let listening_conns: Vec<&Connection> = conns.iter().filter(|c| is_listening(c)).collect();
    // bulwark itself is not judged: its command line holds the indicators,
    // and where its binary lives is the operator's choice.
    let me = std::process::id() as i32;
    for p in procs.iter().filter(|p| p.pid != me) {
        let parent = by_pid.get(&p.ppid).copied();
        let flags = rank::process_flags(p, parent, &listening_conns, &exists);
        if let Some(mut item) = rank::item("process", rank::process_title(p), flags) {
            if let Some(cmd) = &p.cmdline {
                item.evidence.push(format!(
                    "cmdline: {}",
                    cmd.chars().take(300).collect::<String>()
                ));
            }
            if let Some(parent) = parent {
                item.evidence
                    .push(format!("parent: {} (pid {})", parent.name, parent.pid));
            }
            item.evidence.push(format!("started {}", p.start_time));
            item.pid = Some(p.pid);
            item.path = p.exe.clone();
            items.push(item);
        }
    }
    let listening: Vec<Listener> = listening_conns
        .iter()
        .map(|c| {
            let owner = c.pid.and_then(|pid| by_pid.get(&pid));
            Listener {
                protocol: c.protocol.clone(),
                address: c.local_address.clone(),
                port: c.local_port,
                pid: c.pid,
                process: c.process_name.clone(),
                exe: owner.and_then(|p| p.exe.clone()),
                user: c.user.clone(),
                uid: c.uid,
            }
        })
        .collect();

    // Sessions open now.
    let logged_in: Vec<Session> = rows(users.as_ref(), "logged_in", &mut notes);
    for s in &logged_in {
        if let Some(h) = s.host.as_deref().filter(|h| !h.is_empty()) {
            let weight = if s.user == "root" { 25 } else { 10 };
            let flags = vec![rank::Flag {
                weight,
                reason: format!("{} on {} from {h} since {}", s.user, s.line, s.time),
            }];
            if let Some(item) =
                rank::item("session", format!("{} logged in from {h}", s.user), flags)
            {
                items.push(item);
            }
        }
    }

    // Autoruns, grouped by file.
    let all_autoruns: Vec<RecentAutorun> = rows(autoruns.as_ref(), "autoruns", &mut notes);
    let recent_of = |a: &RecentAutorun| {
        a.modified
            .as_deref()
            .and_then(bulwark_timeline::parse_time)
            .is_some_and(|t| t >= since_ns)
    };
    let mut by_path: BTreeMap<(String, String), Vec<&RecentAutorun>> = BTreeMap::new();
    for a in &all_autoruns {
        if a.status == "ok" || a.status.is_empty() {
            by_path
                .entry((a.path.clone(), a.category.clone()))
                .or_default()
                .push(a);
        }
    }
    for ((path, category), entries) in &by_path {
        let recent = recent_of(entries[0]);
        let modified = entries[0].modified.clone().unwrap_or_else(|| "?".into());
        let lines: Vec<String> = entries.iter().filter_map(|a| a.entry.clone()).collect();
        let flags = rank::autorun_flags(category, recent, &modified, &lines);
        if let Some(mut item) = rank::item("autorun", format!("{category} {path}"), flags) {
            for l in lines.iter().take(5) {
                item.evidence.push(format!(
                    "entry: {}",
                    l.chars().take(300).collect::<String>()
                ));
            }
            if let Some(user) = entries[0].user.as_deref() {
                item.evidence.push(format!("account: {user}"));
            }
            item.path = Some(path.clone());
            items.push(item);
        }
    }
    let recent_autoruns: Vec<RecentAutorun> = all_autoruns
        .iter()
        .filter(|a| recent_of(a))
        .take(budget.limits.max_rows)
        .cloned()
        .collect();

    // Authentication failures.
    let auth = auth::collect(since_ns, budget, &mut notes);
    items.extend(auth::items(&auth));

    // Indicators.
    let ioc = if needles.is_empty() {
        iocs::IocSummary::default()
    } else {
        let mut hays = Vec::new();
        let mut executables = Vec::new();
        for p in procs.iter().filter(|p| !p.kernel_thread && p.pid != me) {
            let object = rank::process_title(p);
            if let Some(exe) = &p.exe {
                hays.push(Haystack {
                    object: object.clone(),
                    field: "exe",
                    text: exe.clone(),
                    pid: Some(p.pid),
                    path: Some(exe.clone()),
                });
                executables.push((p.pid, object.clone(), exe.clone()));
            }
            if let Some(cmd) = &p.cmdline {
                hays.push(Haystack {
                    object,
                    field: "cmdline",
                    text: cmd.clone(),
                    pid: Some(p.pid),
                    path: p.exe.clone(),
                });
            }
        }
        for c in &conns {
            let object = format!(
                "socket {} {}:{} -> {}:{}{}",
                c.protocol,
                c.local_address,
                c.local_port,
                c.remote_address,
                c.remote_port,
                c.pid
                    .map(|p| format!(
                        " (pid {p}{})",
                        c.process_name
                            .as_deref()
                            .map(|n| format!(" {n}"))
                            .unwrap_or_default()
                    ))
                    .unwrap_or_default()
            );
            for (field, text) in [
                ("remote_address", &c.remote_address),
                ("local_address", &c.local_address),
            ] {
                hays.push(Haystack {
                    object: object.clone(),
                    field,
                    text: text.clone(),
                    pid: c.pid,
                    path: None,
                });
            }
        }
        for a in &all_autoruns {
            let object = format!("autorun {} {}", a.category, a.path);
            hays.push(Haystack {
                object: object.clone(),
                field: "path",
                text: a.path.clone(),
                pid: None,
                path: Some(a.path.clone()),
            });
            if let Some(e) = &a.entry {
                hays.push(Haystack {
                    object,
                    field: "entry",
                    text: e.clone(),
                    pid: None,
                    path: Some(a.path.clone()),
                });
            }
        }
        for s in &logged_in {
            if let Some(h) = &s.host {
                hays.push(Haystack {
                    object: format!("session {} on {}", s.user, s.line),
                    field: "host",
                    text: h.clone(),
                    pid: Some(s.pid),
                    path: None,
                });
            }
        }
        for s in &auth.by_source {
            hays.push(Haystack {
                object: format!("login source {}", s.source),
                field: "source",
                text: s.source.clone(),
                pid: None,
                path: None,
            });
        }
        let (summary, hits) = iocs::find(needles, &hays, &executables, budget);
        items.extend(hits);
        summary
    };

    rank::rank(&mut items);
    let mut by_severity: BTreeMap<String, usize> = ["critical", "high", "medium", "low", "info"]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    for i in &items {
        *by_severity.entry(i.severity.clone()).or_insert(0) += 1;
    }
    let serious: Vec<&Item> = items.iter().filter(|i| i.score >= 60).collect();
    let headline = if serious.is_empty() {
        match items.first() {
            Some(top) => format!(
                "nothing high or critical; the top item is {} ({}, score {})",
                top.title, top.severity, top.score
            ),
            None => "nothing flagged".to_string(),
        }
    } else {
        format!(
            "{} critical, {} high: {}",
            by_severity["critical"],
            by_severity["high"],
            serious
                .iter()
                .take(3)
                .map(|i| i.title.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    let summary = TriageSummary {
        items: items.len(),
        by_severity,
        top_score: items.first().map_or(0, |i| i.score),
        headline,
        processes_examined: procs.len(),
        listening_sockets: listening.len(),
        autoruns_examined: all_autoruns.len(),
        auth_failures: auth.failures,
    };
    let truncated = items.len() > max_items;
    items.truncate(max_items);
    Triage {
        kind: "quick_triage".into(),
        sid: crate::LOCAL_SID.into(),
        generated_at,
        days,
        host,
        summary,
        items,
        truncated,
        logged_in,
        listening,
        recent_autoruns,
        auth,
        ioc,
        notes,
        limits_hit: budget.hits.clone(),
        elapsed_ms: budget.elapsed_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_from_a_deleted_tmp_copy_tops_the_ranking() {
        // A copy of `sleep`-like binary: this test's own executable would do,
        // but a plain copy of /bin/sleep keeps the process small.
        let dir = tempfile::Builder::new()
            .prefix("bulwark-triage-")
            .tempdir_in("/tmp")
            .unwrap();
        let copy = dir.path().join("sleepy");
        std::fs::copy("/bin/sleep", &copy).unwrap();
        let mut child = std::process::Command::new(&copy).arg("30").spawn().unwrap();
        // Wait until the kernel shows the new image, then delete it.
        for _ in 0..100 {
            if std::fs::read_link(format!("/proc/{}/exe", child.id())).is_ok_and(|p| p == copy) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::fs::remove_file(&copy).unwrap();
        let mut budget = Budget::for_tests(crate::live::Limits::default());
        let t = run(&mut budget, 7, 500, &[], None, None, Vec::new());
        let _ = child.kill();
        let _ = child.wait();
        let item = t
            .items
            .iter()
            .find(|i| i.pid == Some(child.id() as i32))
            .expect("the child is flagged");
        assert_eq!(item.score, 75, "{item:?}");
        assert_eq!(item.severity, "high");
        assert!(
            item.evidence.iter().any(|e| e.contains("deleted")),
            "{item:?}"
        );
        assert!(
            item.evidence
                .iter()
                .any(|e| e.contains("world-writable /tmp")),
            "{item:?}"
        );
        assert!(t.items[0].score >= item.score);
        assert_eq!(t.summary.items, t.items.len());
        assert!(t.summary.processes_examined > 1);
    }
}
