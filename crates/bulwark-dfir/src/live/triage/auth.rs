//! Recent authentication failures: /var/log/auth.log (Debian) or
//! /var/log/secure (Red Hat), else the systemd journal's auth facilities,
//! read by the timeline crate's parsers; grouped by where they came from.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use bulwark_timeline::{Event, Format, ReadOptions};
use schemars::JsonSchema;
use serde::Serialize;

use super::rank::{self, Item};
use crate::live::common::Budget;

const LOG_FILES: &[&str] = &["/var/log/auth.log", "/var/log/secure"];
/// Failure lines kept in the result (the newest).
const RECENT_LINES: usize = 20;
/// Sources (addresses or local accounts) listed.
const MAX_SOURCES: usize = 50;

/// What the logs say about logins within the window.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct AuthSummary {
    /// The logs read: file paths, or `journal`.
    pub read: Vec<String>,
    pub failures: u64,
    pub accepted: u64,
    /// Failures grouped by remote address (`local` for su, sudo and console), most first.
    pub by_source: Vec<AuthSource>,
    /// The newest failure lines.
    pub recent: Vec<AuthLine>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuthSource {
    pub source: String,
    pub failures: u64,
    /// Account names tried (at most 20).
    pub users: Vec<String>,
    pub first: String,
    pub last: String,
    /// A successful login from the same source after its failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_after: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuthLine {
    pub time: String,
    pub message: String,
}

/// What one log message says about a login.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthHit {
    pub failed: bool,
    pub user: Option<String>,
    pub source: Option<String>,
    /// `Failed password for invalid user` (sshd also logs `Invalid user` for it).
    pub invalid_user: bool,
    /// An sshd `Invalid user` line on its own.
    pub invalid_line: bool,
}

fn word_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let at = text.find(marker)?;
    text[at + marker.len()..].split_whitespace().next()
}

fn kv(text: &str, key: &str) -> Option<String> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Classify a log message (without the `program:` prefix).
pub fn classify(msg: &str) -> Option<AuthHit> {
    let msg = msg.trim();
    let hit = |failed, user: Option<&str>, source: Option<String>| AuthHit {
        failed,
        user: user.map(str::to_string),
        source,
        invalid_user: false,
        invalid_line: false,
    };
    if let Some(rest) = msg.strip_prefix("Accepted ") {
        let rest = rest.split_once(" for ")?.1;
        return Some(hit(
            false,
            rest.split_whitespace().next(),
            word_after(rest, " from ").map(str::to_string),
        ));
    }
    if let Some(rest) = msg.strip_prefix("Failed ") {
        let rest = rest.split_once(" for ")?.1;
        let (rest, invalid) = match rest.strip_prefix("invalid user ") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let mut h = hit(
            true,
            rest.split_whitespace().next(),
            word_after(rest, " from ").map(str::to_string),
        );
        h.invalid_user = invalid;
        return Some(h);
    }
    if let Some(rest) = msg.strip_prefix("Invalid user ") {
        let mut h = hit(
            true,
            rest.split_whitespace().next(),
            word_after(rest, " from ").map(str::to_string),
        );
        h.invalid_line = true;
        return Some(h);
    }
    if msg.contains("authentication failure;") {
        return Some(hit(true, kv(msg, "user=").as_deref(), kv(msg, "rhost=")));
    }
    if let Some(rest) = msg.strip_prefix("FAILED SU (to ") {
        let target = rest.split(')').next();
        return Some(hit(true, target, None));
    }
    if msg.contains("incorrect password attempt") {
        // sudo: `alice : 3 incorrect password attempts ; TTY=pts/0 ; ...`
        let user = msg.split(" : ").next().map(str::trim);
        return Some(hit(true, user, None));
    }
    None
}

/// The bare message of an event: syslog keeps it under `message`, the journal under `MESSAGE`.
fn message(e: &Event) -> String {
    for key in ["message", "MESSAGE"] {
        if let Some(serde_json::Value::String(s)) = e.fields.get(key) {
            return s.clone();
        }
    }
    e.message
        .split_once(": ")
        .map(|(_, m)| m.to_string())
        .unwrap_or_else(|| e.message.clone())
}

fn pid(e: &Event) -> Option<String> {
    ["pid", "_PID", "SYSLOG_PID"]
        .iter()
        .find_map(|k| e.fields.get(*k))
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
}

fn head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 8192];
    let mut f = std::fs::File::open(path)?;
    let n = f.read(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// Events of one log file within the window; notes say why a file was not read.
fn read_log(
    path: &Path,
    since_ns: i64,
    budget: &Budget,
    notes: &mut Vec<String>,
) -> Option<Vec<Event>> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            notes.push(format!("{shown}: {}", crate::live::common::io_status(&e)));
            return None;
        }
    };
    if meta.len() > budget.limits.max_file_bytes {
        notes.push(format!(
            "{shown}: {} bytes is over live.max_file_bytes ({}); not read",
            meta.len(),
            budget.limits.max_file_bytes
        ));
        return None;
    }
    let format = match head(path) {
        Ok(h) if h.is_empty() => return Some(Vec::new()),
        Ok(h) => bulwark_timeline::detect(&h),
        Err(e) => {
            notes.push(format!("{shown}: {}", crate::live::common::io_status(&e)));
            return None;
        }
    };
    let Some(format) = format.filter(|f| matches!(f, Format::Syslog | Format::Journald)) else {
        notes.push(format!("{shown}: not a syslog or journal export; not read"));
        return None;
    };
    let mut events = Vec::new();
    let result = bulwark_timeline::read_file(path, format, &ReadOptions::default(), &mut |e| {
        if e.timestamp >= since_ns {
            events.push(e);
        }
    });
    if let Err(e) = result {
        notes.push(format!("{shown}: read stopped: {e}"));
    }
    Some(events)
}

/// The journal's auth and authpriv facilities since the window start, through
/// `journalctl -o json` into a temporary file the timeline parser reads.
fn read_journal(since_ns: i64, budget: &Budget, notes: &mut Vec<String>) -> Option<Vec<Event>> {
    let Ok(out) = tempfile::NamedTempFile::new() else {
        notes.push("journal: no temporary file for journalctl's output".into());
        return None;
    };
    let child = Command::new("journalctl")
        .args(["-o", "json", "--no-pager", "-q"])
        .arg(format!("--since=@{}", since_ns / 1_000_000_000))
        .arg(format!("--lines={}", budget.limits.max_rows))
        .args(["SYSLOG_FACILITY=4", "SYSLOG_FACILITY=10"])
        .stdin(Stdio::null())
        .stdout(out.reopen().ok()?)
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            notes.push(format!("journal: journalctl did not start: {e}"));
            return None;
        }
    };
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if budget.expired() => {
                let _ = child.kill();
                let _ = child.wait();
                notes.push("journal: journalctl stopped at the time limit".into());
                break;
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => {
                notes.push(format!("journal: {e}"));
                return None;
            }
        }
    }
    let path = out.path().to_path_buf();
    if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) == 0 {
        return None;
    }
    let mut events = Vec::new();
    if let Err(e) =
        bulwark_timeline::read_file(&path, Format::Journald, &ReadOptions::default(), &mut |e| {
            if e.timestamp >= since_ns {
                events.push(e)
            }
        })
    {
        notes.push(format!("journal: read stopped: {e}"));
    }
    Some(events)
}

/// Read the logs and summarize the logins within the window.
pub fn collect(since_ns: i64, budget: &Budget, notes: &mut Vec<String>) -> AuthSummary {
    let mut summary = AuthSummary::default();
    let mut events = Vec::new();
    for file in LOG_FILES {
        if let Some(found) = read_log(Path::new(file), since_ns, budget, notes) {
            summary.read.push(file.to_string());
            events.extend(found);
        }
    }
    if summary.read.is_empty() {
        if let Some(found) = read_journal(since_ns, budget, notes) {
            summary.read.push("journal".into());
            events.extend(found);
        } else {
            notes.push(
                "authentication failures: no auth.log, secure or journal entries to read".into(),
            );
        }
    }
    summarize(&mut events, &mut summary);
    summary
}

/// Group classified events by source. Public for tests.
pub fn summarize(events: &mut [Event], summary: &mut AuthSummary) {
    events.sort_by_key(|e| e.timestamp);
    let classified: Vec<(&Event, AuthHit)> = events
        .iter()
        .filter_map(|e| classify(&message(e)).map(|h| (e, h)))
        .collect();
    // sshd logs `Invalid user` and then `Failed password for invalid user` for
    // the same attempt: count the line alone only when no Failed line followed.
    let failed_invalid: HashSet<(Option<String>, Option<String>)> = classified
        .iter()
        .filter(|(_, h)| h.invalid_user)
        .map(|(e, h)| (pid(e), h.user.clone()))
        .collect();
    struct Acc {
        failures: u64,
        users: BTreeSet<String>,
        first: i64,
        last: i64,
        accepted_after: Option<String>,
    }
    let mut by: BTreeMap<String, Acc> = BTreeMap::new();
    let mut recent = Vec::new();
    for (e, h) in &classified {
        let source = h.source.clone().unwrap_or_else(|| "local".into());
        if !h.failed {
            summary.accepted += 1;
            if let Some(acc) = by.get_mut(&source)
                && acc.accepted_after.is_none()
            {
                acc.accepted_after = Some(format!(
                    "{} {}",
                    bulwark_timeline::format_ts(e.timestamp),
                    message(e)
                ));
            }
            continue;
        }
        if h.invalid_line && pid(e).is_some() && failed_invalid.contains(&(pid(e), h.user.clone()))
        {
            continue;
        }
        summary.failures += 1;
        let acc = by.entry(source).or_insert(Acc {
            failures: 0,
            users: BTreeSet::new(),
            first: e.timestamp,
            last: e.timestamp,
            accepted_after: None,
        });
        acc.failures += 1;
        acc.last = e.timestamp;
        if let Some(u) = &h.user
            && acc.users.len() < 20
        {
            acc.users.insert(u.clone());
        }
        recent.push(AuthLine {
            time: bulwark_timeline::format_ts(e.timestamp),
            message: e.message.chars().take(500).collect(),
        });
    }
    let skip = recent.len().saturating_sub(RECENT_LINES);
    summary.recent = recent.into_iter().skip(skip).collect();
    let mut sources: Vec<AuthSource> = by
        .into_iter()
        .map(|(source, a)| AuthSource {
            source,
            failures: a.failures,
            users: a.users.into_iter().collect(),
            first: bulwark_timeline::format_ts(a.first),
            last: bulwark_timeline::format_ts(a.last),
            accepted_after: a.accepted_after,
        })
        .collect();
    sources.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.source.cmp(&b.source)));
    sources.truncate(MAX_SOURCES);
    summary.by_source = sources;
}

/// One ranked item per source of failures.
pub fn items(summary: &AuthSummary) -> Vec<Item> {
    summary
        .by_source
        .iter()
        .filter_map(|s| {
            let mut item = rank::item(
                "auth",
                format!(
                    "{} failed logins from {} ({} to {})",
                    s.failures, s.source, s.first, s.last
                ),
                rank::auth_flags(s.failures, &s.users, s.accepted_after.as_deref()),
            )?;
            item.evidence
                .push(format!("logs read: {}", summary.read.join(", ")));
            Some(item)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_usual_lines() {
        let f = classify("Failed password for root from 203.0.113.9 port 4242 ssh2").unwrap();
        assert!(f.failed);
        assert_eq!(f.user.as_deref(), Some("root"));
        assert_eq!(f.source.as_deref(), Some("203.0.113.9"));
        let f = classify("Failed password for invalid user admin from 203.0.113.9 port 1 ssh2")
            .unwrap();
        assert_eq!(f.user.as_deref(), Some("admin"));
        assert!(f.invalid_user);
        let a = classify("Accepted publickey for alice from 198.51.100.7 port 5 ssh2: ED25519")
            .unwrap();
        assert!(!a.failed);
        assert_eq!(a.source.as_deref(), Some("198.51.100.7"));
        let p = classify("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=bob").unwrap();
        assert_eq!(p.user.as_deref(), Some("bob"));
        assert_eq!(p.source.as_deref(), Some("192.0.2.1"));
        let s = classify("alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh").unwrap();
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(s.source, None);
        assert_eq!(
            classify("FAILED SU (to root) alice on pts/1")
                .unwrap()
                .user
                .as_deref(),
            Some("root")
        );
        assert!(classify("Server listening on 0.0.0.0 port 22.").is_none());
    }

    #[test]
    fn auth_log_lines_are_grouped_by_source_with_a_later_success() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        let mut text = String::new();
        for i in 0..12 {
            text.push_str(&format!(
                "2026-11-20T10:00:{i:02}.000000+00:00 host sshd[{}]: Invalid user u{i} from 203.0.113.9 port 4000\n",
                100 + i
            ));
            text.push_str(&format!(
                "2026-11-20T10:00:{i:02}.500000+00:00 host sshd[{}]: Failed password for invalid user u{i} from 203.0.113.9 port 4000 ssh2\n",
                100 + i
            ));
        }
        text.push_str("2026-11-20T10:01:00.000000+00:00 host sshd[200]: Accepted password for u3 from 203.0.113.9 port 4001 ssh2\n");
        text.push_str("2026-11-20T10:02:00.000000+00:00 host sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh\n");
        std::fs::write(&path, text).unwrap();
        let budget = Budget::for_tests(crate::live::Limits::default());
        let mut notes = Vec::new();
        let mut events = read_log(&path, 0, &budget, &mut notes).expect("read");
        assert!(notes.is_empty(), "{notes:?}");
        let mut summary = AuthSummary::default();
        summarize(&mut events, &mut summary);
        assert_eq!(
            summary.failures, 13,
            "Invalid user lines are not double counted"
        );
        assert_eq!(summary.accepted, 1);
        let remote = &summary.by_source[0];
        assert_eq!(remote.source, "203.0.113.9");
        assert_eq!(remote.failures, 12);
        assert_eq!(remote.users.len(), 12);
        assert!(
            remote
                .accepted_after
                .as_deref()
                .unwrap()
                .contains("Accepted password for u3")
        );
        assert_eq!(summary.by_source[1].source, "local");
        summary.read.push(path.display().to_string());
        let items = items(&summary);
        assert_eq!(items[0].severity, "critical", "{items:?}");
        // Events before the window are dropped.
        let late = read_log(&path, i64::MAX, &budget, &mut notes).unwrap();
        assert!(late.is_empty());
    }
}
