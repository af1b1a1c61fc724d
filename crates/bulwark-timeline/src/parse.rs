//! Format detection from content and one reader per source. Every reader
//! streams: it hands events to a callback as it reads them.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use chrono::{Datelike, NaiveDateTime};
use serde_json::{Map, Value};

use crate::event::{Event, Source, epoch_to_nanos, parse_time};

/// Longest line kept; the rest of a longer line is skipped (and counted).
pub const MAX_LINE: usize = 1 << 20;
/// Largest whole-document JSON file read (JSON Lines stream without limit).
pub const MAX_JSON_DOCUMENT: u64 = 256 << 20;

/// What a file holds, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Evtx,
    Journald,
    Json,
    Auditd,
    ShellHistory,
    Bodyfile,
    Syslog,
}

impl Format {
    pub fn source(self) -> Source {
        match self {
            Format::Evtx => Source::Evtx,
            Format::Journald => Source::Journald,
            Format::Json => Source::Json,
            Format::Auditd => Source::Auditd,
            Format::ShellHistory => Source::ShellHistory,
            Format::Bodyfile => Source::Bodyfile,
            Format::Syslog => Source::Syslog,
        }
    }
}

/// Counts and remarks from reading one input.
#[derive(Debug, Default, Clone)]
pub struct ReadStats {
    pub events: u64,
    /// Lines or records that could not be read as events.
    pub skipped: u64,
    pub notes: Vec<String>,
}

impl ReadStats {
    fn note(&mut self, note: String) {
        if self.notes.len() < 5 {
            self.notes.push(note);
        }
    }
}

/// Options that change how sources are read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Year for syslog lines that carry none (RFC 3164). Default: from the
    /// file's modification time.
    pub year: Option<i32>,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn is_bsd_syslog(line: &str) -> bool {
    let l = strip_pri(line);
    l.len() > 16
        && MONTHS.contains(&&l[..3.min(l.len())])
        && l.as_bytes()[3] == b' '
        && l.as_bytes().get(6) == Some(&b' ')
        && l.as_bytes().get(9) == Some(&b':')
}

fn strip_pri(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('<')
        && let Some(end) = rest.find('>')
        && end <= 3
        && rest[..end].bytes().all(|b| b.is_ascii_digit())
    {
        return &rest[end + 1..];
    }
    line
}

fn is_iso_syslog(line: &str) -> bool {
    let l = strip_pri(line);
    let l = l.strip_prefix("1 ").unwrap_or(l);
    let Some(first) = l.split(' ').next() else {
        return false;
    };
    first.len() >= 19
        && first.as_bytes()[4] == b'-'
        && first.as_bytes()[10] == b'T'
        && parse_time(first).is_some()
        && l.len() > first.len() + 1
}

fn is_history(line: &str) -> bool {
    let t = line.trim_end();
    (t.len() >= 10
        && t.len() <= 12
        && t.starts_with('#')
        && t[1..].bytes().all(|b| b.is_ascii_digit()))
        || (t.starts_with(": ")
            && t[2..].split(';').next().is_some_and(|h| {
                let mut p = h.split(':');
                p.next()
                    .is_some_and(|s| s.len() >= 9 && s.bytes().all(|b| b.is_ascii_digit()))
            }))
}

fn is_bodyfile(line: &str) -> bool {
    let f: Vec<&str> = line.trim_end().split('|').collect();
    f.len() == 11 && f[7..].iter().all(|t| t.parse::<f64>().is_ok())
}

fn is_auditd(line: &str) -> bool {
    let l = line
        .strip_prefix("node=")
        .map(|r| r.split_once(' ').map(|x| x.1).unwrap_or(""))
        .unwrap_or(line);
    l.starts_with("type=") && l.contains(" msg=audit(")
}

type LineTest = fn(&str) -> bool;

/// Judge a file's format from its first bytes.
pub fn detect(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"ElfFile\0") {
        return Some(Format::Evtx);
    }
    let sample = &head[..head.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if sample.contains(&0) {
        return None;
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if trimmed.contains("\"__REALTIME_TIMESTAMP\"") {
            return Some(Format::Journald);
        }
        return Some(Format::Json);
    }
    let lines: Vec<&str> = trimmed
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(40)
        .collect();
    // The last line of the sample may be cut short.
    let lines = if lines.len() > 1 && !text.ends_with('\n') {
        &lines[..lines.len() - 1]
    } else {
        &lines[..]
    };
    if lines.is_empty() {
        return None;
    }
    let tests: [(Format, LineTest); 5] = [
        (Format::Auditd, is_auditd),
        (Format::Bodyfile, is_bodyfile),
        (Format::ShellHistory, is_history),
        (Format::Syslog, is_bsd_syslog),
        (Format::Syslog, is_iso_syslog),
    ];
    let mut best: Option<(Format, usize)> = None;
    for (format, test) in tests {
        let n = lines.iter().filter(|l| test(l)).count();
        if best.is_none_or(|(_, b)| n > b) {
            best = Some((format, n));
        }
    }
    match best {
        // History alternates `#epoch` and command lines: a third is enough.
        Some((Format::ShellHistory, n)) if n * 3 >= lines.len() => Some(Format::ShellHistory),
        Some((f, n)) if n * 2 >= lines.len() && n > 0 => Some(f),
        _ => None,
    }
}

/// Calls `f` with each line (without its line end), at most [`MAX_LINE`]
/// bytes of it; returns how many lines were cut.
pub fn for_each_line(mut reader: impl BufRead, mut f: impl FnMut(&[u8])) -> std::io::Result<u64> {
    let mut line: Vec<u8> = Vec::new();
    let mut cut = 0u64;
    let mut overflow = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !line.is_empty() {
                f(trim_cr(&line));
            }
            return Ok(cut);
        }
        let (used, done) = match memchr_nl(buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let piece = if done { &buf[..used - 1] } else { buf };
        if !overflow {
            let room = MAX_LINE - line.len();
            if piece.len() > room {
                line.extend_from_slice(&piece[..room]);
                overflow = true;
                cut += 1;
            } else {
                line.extend_from_slice(piece);
            }
        }
        reader.consume(used);
        if done {
            f(trim_cr(&line));
            line.clear();
            overflow = false;
        }
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

fn trim_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

fn new_event(source: Source, file: &str, timestamp: i64) -> Event {
    Event {
        timestamp,
        source,
        file: file.to_string(),
        host: None,
        event_type: String::new(),
        timestamp_desc: "Event Recorded".into(),
        message: String::new(),
        fields: Map::new(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

// ---------------------------------------------------------------- syslog

/// `sshd[123]: text` → (`sshd`, Some(123), `text`).
fn split_tag(rest: &str) -> (String, Option<String>, String) {
    let Some((tag, msg)) = rest.split_once(": ") else {
        return (String::new(), None, rest.to_string());
    };
    if tag.contains(' ') || tag.is_empty() || tag.len() > 64 {
        return (String::new(), None, rest.to_string());
    }
    match tag.split_once('[') {
        Some((prog, pid)) => (
            prog.to_string(),
            Some(pid.trim_end_matches(']').to_string()),
            msg.to_string(),
        ),
        None => (tag.to_string(), None, msg.to_string()),
    }
}

pub fn syslog_line(line: &str, file: &str, year: i32) -> Option<Event> {
    let body = strip_pri(line);
    let pri = (body.len() != line.len()).then(|| line[1..line.len() - body.len() - 1].to_string());
    let (ts, rest) = if is_bsd_syslog(line) {
        let stamp = &body[..15];
        let naive = NaiveDateTime::parse_from_str(
            &format!(
                "{year} {}",
                stamp.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            "%Y %b %d %H:%M:%S",
        )
        .ok()?;
        (
            naive.and_utc().timestamp_nanos_opt()?,
            body[15..].trim_start(),
        )
    } else if is_iso_syslog(line) {
        let b = body.strip_prefix("1 ").unwrap_or(body);
        let (stamp, rest) = b.split_once(' ')?;
        (parse_time(stamp)?, rest)
    } else {
        return None;
    };
    let (host, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut event = new_event(Source::Syslog, file, ts);
    event.timestamp_desc = "Log Entry".into();
    let (program, pid, message) = if body.starts_with("1 ") {
        // RFC 5424: APP PROCID MSGID [SD] MSG
        let mut parts = rest.splitn(4, ' ');
        let app = parts.next().unwrap_or("-").to_string();
        let procid = parts.next().filter(|p| *p != "-").map(str::to_string);
        let _msgid = parts.next();
        let msg = parts.next().unwrap_or("");
        let msg = msg.strip_prefix("- ").unwrap_or(msg);
        (app, procid, msg.to_string())
    } else {
        split_tag(rest)
    };
    event.host = Some(host.to_string());
    event.event_type = if program.is_empty() {
        "syslog".into()
    } else {
        program.clone()
    };
    event.message = if program.is_empty() {
        message.clone()
    } else {
        format!("{program}: {message}")
    };
    let f = &mut event.fields;
    f.insert("host".into(), host.into());
    if !program.is_empty() {
        f.insert("program".into(), program.into());
    }
    if let Some(pid) = pid {
        f.insert("pid".into(), pid.into());
    }
    if let Some(pri) = pri {
        f.insert("pri".into(), pri.into());
    }
    auth_fields(&message, f);
    f.insert("message".into(), message.into());
    Some(event)
}

/// Fields analysts filter on in auth.log lines (sshd, sudo, su).
fn auth_fields(msg: &str, f: &mut Map<String, Value>) {
    for (prefix, action) in [
        ("Failed password for invalid user ", "failed_password"),
        ("Failed password for ", "failed_password"),
        ("Accepted password for ", "accepted_password"),
        ("Accepted publickey for ", "accepted_publickey"),
        ("Invalid user ", "invalid_user"),
    ] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let mut words = rest.split_whitespace();
            if let Some(user) = words.next() {
                f.insert("user".into(), user.into());
            }
            if let Some(pos) = rest.find(" from ") {
                let ip = rest[pos + 6..].split_whitespace().next().unwrap_or("");
                f.insert("src_ip".into(), ip.into());
            }
            f.insert("action".into(), action.into());
            return;
        }
    }
    if let Some(cmd) = msg.split_once("COMMAND=") {
        f.insert("command".into(), cmd.1.into());
        if let Some(user) = msg.split(" : ").next() {
            f.insert("user".into(), user.trim().into());
        }
        f.insert("action".into(), "sudo".into());
    }
}

// ---------------------------------------------------------------- journald

fn journal_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        // Binary-safe export: MESSAGE as an array of bytes.
        Value::Array(a) => Some(
            String::from_utf8_lossy(
                &a.iter()
                    .filter_map(|b| b.as_u64().map(|b| b as u8))
                    .collect::<Vec<u8>>(),
            )
            .into_owned(),
        ),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn journald_object(obj: Map<String, Value>, file: &str) -> Option<Event> {
    let ts = obj
        .get("__REALTIME_TIMESTAMP")
        .and_then(journal_str)?
        .parse::<i64>()
        .ok()?
        .checked_mul(1000)?;
    let mut event = new_event(Source::Journald, file, ts);
    event.timestamp_desc = "Log Entry".into();
    event.host = obj.get("_HOSTNAME").and_then(journal_str);
    let program = ["SYSLOG_IDENTIFIER", "_COMM", "_SYSTEMD_UNIT"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(journal_str))
        .unwrap_or_else(|| "journal".into());
    let msg = obj.get("MESSAGE").and_then(journal_str).unwrap_or_default();
    event.message = format!("{program}: {msg}");
    event.event_type = program;
    let mut fields = Map::new();
    for (k, v) in obj {
        if k == "__CURSOR" {
            continue;
        }
        let v = match &v {
            Value::Array(_) => journal_str(&v).map(Value::String).unwrap_or(v),
            _ => v,
        };
        fields.insert(k, v);
    }
    event.fields = fields;
    Some(event)
}

// ---------------------------------------------------------------- auditd

/// `key=value key="quoted value"` pairs.
fn kv_pairs(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\'' || b[i] == b'\x1d') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        let key = s[ks..i].to_string();
        i += 1;
        let value = if i < b.len() && b[i] == b'"' {
            let vs = i + 1;
            let ve = s[vs..].find('"').map(|p| vs + p).unwrap_or(b.len());
            i = (ve + 1).min(b.len());
            s[vs..ve].to_string()
        } else {
            let vs = i;
            while i < b.len() && b[i] != b' ' && b[i] != b'\'' && b[i] != b'\x1d' {
                i += 1;
            }
            s[vs..i].to_string()
        };
        if !key.is_empty() {
            out.push((key, value));
        }
    }
    out
}

fn unhex(s: &str) -> Option<String> {
    if s.len() < 2 || !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect();
    Some(String::from_utf8_lossy(&bytes).replace('\0', " "))
}

pub fn auditd_line(line: &str, file: &str) -> Option<Event> {
    let (node, rest) = match line.strip_prefix("node=") {
        Some(r) => {
            let (n, rest) = r.split_once(' ')?;
            (Some(n.to_string()), rest)
        }
        None => (None, line),
    };
    let rest = rest.strip_prefix("type=")?;
    let (kind, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("msg=audit(")?;
    let (stamp, body) = rest.split_once("):")?;
    let (secs, serial) = stamp.split_once(':')?;
    let ts = epoch_to_nanos(secs.parse::<f64>().ok()?)?;
    let mut event = new_event(Source::Auditd, file, ts);
    event.host = node;
    event.event_type = kind.to_string();
    let mut fields = Map::new();
    fields.insert("type".into(), kind.into());
    fields.insert("serial".into(), serial.into());
    let pairs = kv_pairs(body.trim());
    let mut argv: Vec<(usize, String)> = Vec::new();
    for (k, v) in &pairs {
        if kind == "EXECVE" && k.starts_with('a') && k[1..].parse::<usize>().is_ok() {
            let n = k[1..].parse::<usize>().unwrap_or(0);
            argv.push((n, unhex(v).unwrap_or_else(|| v.clone())));
        }
        let value = if matches!(k.as_str(), "proctitle" | "cmd") {
            unhex(v).unwrap_or_else(|| v.clone())
        } else {
            v.clone()
        };
        fields.insert(k.clone(), value.into());
    }
    event.message = if kind == "EXECVE" && !argv.is_empty() {
        argv.sort();
        let cmd = argv
            .into_iter()
            .map(|(_, a)| a)
            .collect::<Vec<_>>()
            .join(" ");
        fields.insert("command_line".into(), cmd.clone().into());
        format!("EXECVE: {cmd}")
    } else if kind == "PROCTITLE" {
        format!(
            "PROCTITLE: {}",
            fields
                .get("proctitle")
                .and_then(Value::as_str)
                .unwrap_or("")
        )
    } else {
        format!("{kind}: {}", truncate(body.trim(), 400))
    };
    event.fields = fields;
    Some(event)
}

// ---------------------------------------------------------------- shell history

fn history_user(file: &str) -> Option<String> {
    let p = Path::new(file);
    let parent = p.parent()?;
    let name = parent.file_name()?.to_string_lossy().into_owned();
    if parent
        .parent()
        .is_some_and(|g| g.ends_with("home") || g.ends_with("Users"))
    {
        return Some(name);
    }
    if parent == Path::new("/root") {
        return Some("root".into());
    }
    None
}

fn history_event(ts: i64, cmd: &str, file: &str, user: &Option<String>) -> Event {
    let mut e = new_event(Source::ShellHistory, file, ts);
    e.event_type = "command".into();
    e.timestamp_desc = "Command Executed".into();
    e.message = match user {
        Some(u) => format!("{u}$ {cmd}"),
        None => format!("$ {cmd}"),
    };
    e.fields.insert("command".into(), cmd.into());
    if let Some(u) = user {
        e.fields.insert("user".into(), u.clone().into());
    }
    e
}

// ---------------------------------------------------------------- bodyfile / MAC times

/// One event per distinct time, with mactime's letters (`m.c.`).
pub fn macb_events(
    times: [Option<i64>; 4],
    file: &str,
    source: Source,
    path: &str,
    mut fields: Map<String, Value>,
    emit: &mut dyn FnMut(Event),
) {
    const LETTERS: [char; 4] = ['m', 'a', 'c', 'b'];
    const DESCS: [&str; 4] = [
        "Modification Time",
        "Access Time",
        "Metadata Change Time",
        "Creation Time",
    ];
    fields.insert("path".into(), path.into());
    let mut done = [false; 4];
    for i in 0..4 {
        let Some(t) = times[i] else { continue };
        if done[i] {
            continue;
        }
        let mut letters = String::new();
        let mut descs = Vec::new();
        for j in 0..4 {
            if times[j] == Some(t) {
                done[j] = true;
                letters.push(LETTERS[j]);
                descs.push(DESCS[j]);
            } else {
                letters.push('.');
            }
        }
        let mut e = new_event(source, file, t);
        e.event_type = letters.clone();
        e.timestamp_desc = descs.join("; ");
        e.message = format!("{path} ({letters})");
        e.fields = fields.clone();
        emit(e);
    }
}

fn body_time(s: &str) -> Option<i64> {
    let n = s.trim().parse::<f64>().ok()?;
    // 0 and -1 mean "not recorded".
    (n > 0.0).then_some((n * 1e9) as i64)
}

pub fn bodyfile_line(line: &str, file: &str, emit: &mut dyn FnMut(Event)) -> bool {
    // The name may itself hold `|`: the first field and the last nine are fixed.
    let parts: Vec<&str> = line.split('|').collect();
    if parts.len() < 11 {
        return false;
    }
    let n = parts.len();
    let name = parts[1..n - 9].join("|");
    let tail = &parts[n - 9..];
    let times = [
        body_time(tail[6]),
        body_time(tail[5]),
        body_time(tail[7]),
        body_time(tail[8]),
    ];
    if times.iter().all(Option::is_none)
        && tail[5..].iter().any(|t| t.trim().parse::<f64>().is_err())
    {
        return false;
    }
    let mut fields = Map::new();
    for (k, v) in ["md5", "inode", "mode", "uid", "gid", "size"]
        .iter()
        .zip([parts[0], tail[0], tail[1], tail[2], tail[3], tail[4]])
    {
        fields.insert((*k).into(), v.into());
    }
    macb_events(times, file, Source::Bodyfile, &name, fields, emit);
    true
}

/// MAC times of every entry under `root` (symlinks are not followed).
pub fn walk_mac_times(root: &Path, emit: &mut dyn FnMut(Event), stats: &mut ReadStats) {
    #[cfg(unix)]
    use std::os::unix::fs::MetadataExt;
    let file = root.display().to_string();
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                stats.skipped += 1;
                stats.note(format!("{e}"));
                continue;
            }
        };
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                stats.skipped += 1;
                stats.note(format!("{}: {e}", entry.path().display()));
                continue;
            }
        };
        let nanos = |t: std::io::Result<std::time::SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as i64)
        };
        #[cfg(unix)]
        let ctime = Some(meta.ctime() * 1_000_000_000 + meta.ctime_nsec());
        #[cfg(not(unix))]
        let ctime = None;
        let times = [
            nanos(meta.modified()),
            nanos(meta.accessed()),
            ctime,
            nanos(meta.created()),
        ];
        let mut fields = Map::new();
        fields.insert("size".into(), meta.len().into());
        fields.insert(
            "kind".into(),
            (if meta.is_dir() {
                "dir"
            } else if meta.is_symlink() {
                "symlink"
            } else {
                "file"
            })
            .into(),
        );
        #[cfg(unix)]
        {
            fields.insert("mode".into(), format!("{:o}", meta.mode()).into());
            fields.insert("uid".into(), meta.uid().into());
            fields.insert("gid".into(), meta.gid().into());
            fields.insert("inode".into(), meta.ino().into());
        }
        let before = stats.events;
        let mut count = 0;
        macb_events(
            times,
            &file,
            Source::Filesystem,
            &entry.path().display().to_string(),
            fields,
            &mut |e| {
                count += 1;
                emit(e)
            },
        );
        stats.events = before + count;
    }
}

// ---------------------------------------------------------------- JSON

const TIME_KEYS: &[&str] = &[
    "@timestamp",
    "timestamp",
    "time",
    "datetime",
    "date",
    "ts",
    "event_time",
    "eventtime",
    "created_at",
    "created",
    "start_time",
    "timecreated",
    "systemtime",
    "_time",
    "when",
    "utctime",
    "first_seen",
    "last_seen",
];
const MESSAGE_KEYS: &[&str] = &[
    "message",
    "msg",
    "description",
    "title",
    "summary",
    "name",
    "command",
    "commandline",
];
const TYPE_KEYS: &[&str] = &[
    "event_type",
    "type",
    "kind",
    "rule",
    "rule_id",
    "eventid",
    "category",
    "action",
];
const HOST_KEYS: &[&str] = &["host", "hostname", "computer", "sid", "device", "endpoint"];

fn find_key<'a>(obj: &'a Map<String, Value>, keys: &[&str]) -> Option<(&'a String, &'a Value)> {
    for k in keys {
        if let Some(found) = obj.iter().find(|(name, _)| name.eq_ignore_ascii_case(k)) {
            return Some(found);
        }
    }
    None
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn json_object(obj: &Map<String, Value>, file: &str) -> Option<Event> {
    let (tkey, tval) = find_key(obj, TIME_KEYS)?;
    let ts = match tval {
        Value::Number(n) => epoch_to_nanos(n.as_f64()?)?,
        Value::String(s) => parse_time(s)?,
        Value::Object(o) => o.values().find_map(|v| v.as_str().and_then(parse_time))?,
        _ => return None,
    };
    let mut e = new_event(Source::Json, file, ts);
    e.timestamp_desc = tkey.clone();
    e.host = find_key(obj, HOST_KEYS).and_then(|(_, v)| scalar(v));
    e.event_type = find_key(obj, TYPE_KEYS)
        .and_then(|(_, v)| scalar(v))
        .unwrap_or_else(|| "record".into());
    e.message = match find_key(obj, MESSAGE_KEYS).and_then(|(_, v)| scalar(v)) {
        Some(m) => truncate(&m, 1000),
        None => truncate(&Value::Object(obj.clone()).to_string(), 400),
    };
    e.fields = obj.clone();
    Some(e)
}

/// Timestamped objects anywhere in a JSON document (arrays of records,
/// `{"events": [...]}`, MCP results with `structuredContent`), depth ≤ 4.
fn json_records(
    v: &Value,
    file: &str,
    depth: usize,
    emit: &mut dyn FnMut(Event),
    stats: &mut ReadStats,
) {
    match v {
        Value::Object(o) => {
            if let Some(e) = json_object(o, file) {
                stats.events += 1;
                emit(e);
            } else if depth < 4 {
                for child in o.values() {
                    if child.is_array() || child.is_object() {
                        json_records(child, file, depth + 1, emit, stats);
                    }
                }
            }
        }
        Value::Array(a) if depth < 4 => {
            for item in a {
                json_records(item, file, depth + 1, emit, stats);
            }
        }
        Value::String(s) if depth < 4 && (s.starts_with('{') || s.starts_with('[')) => {
            // Tool results often carry JSON as text content.
            if let Ok(inner) = serde_json::from_str::<Value>(s) {
                json_records(&inner, file, depth + 1, emit, stats);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- EVTX

fn evtx_text(v: &Value) -> Option<String> {
    match v {
        Value::Object(o) => o.get("#text").and_then(scalar),
        other => scalar(other),
    }
}

pub fn evtx_event(data: &Value, ts: i64, record_id: u64, file: &str) -> Event {
    let ev = data.get("Event").unwrap_or(data);
    let sys = ev.get("System");
    let get = |k: &str| sys.and_then(|s| s.get(k));
    let provider = get("Provider")
        .and_then(|p| p.get("#attributes"))
        .and_then(|a| a.get("Name"))
        .and_then(scalar)
        .unwrap_or_default();
    let event_id = get("EventID").and_then(evtx_text).unwrap_or_default();
    let channel = get("Channel").and_then(evtx_text).unwrap_or_default();
    let computer = get("Computer").and_then(evtx_text);
    let mut e = new_event(Source::Evtx, file, ts);
    e.host = computer.clone();
    e.event_type = format!("{channel}/{event_id}");
    let mut fields = Map::new();
    fields.insert("EventID".into(), event_id.clone().into());
    fields.insert("Provider".into(), provider.clone().into());
    fields.insert("Channel".into(), channel.into());
    if let Some(c) = computer {
        fields.insert("Computer".into(), c.into());
    }
    fields.insert("EventRecordID".into(), record_id.into());
    let mut parts = Vec::new();
    for section in ["EventData", "UserData"] {
        let Some(Value::Object(data)) = ev.get(section) else {
            continue;
        };
        let data = if section == "UserData" {
            match data.values().next() {
                Some(Value::Object(inner)) => inner,
                _ => data,
            }
        } else {
            data
        };
        for (k, v) in data {
            if k == "#attributes" {
                continue;
            }
            let text = scalar(v).unwrap_or_else(|| v.to_string());
            if parts.len() < 12 && !text.is_empty() && text != "-" {
                parts.push(format!("{k}={}", truncate(&text, 200)));
            }
            fields.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    e.message = truncate(
        &format!("{provider} {event_id}: {}", parts.join("; ")),
        1500,
    );
    e.fields = fields;
    e
}

fn read_evtx(path: &Path, file: &str, emit: &mut dyn FnMut(Event), stats: &mut ReadStats) {
    let settings = evtx::ParserSettings::new()
        .num_threads(1)
        .separate_json_attributes(false);
    let mut parser = match evtx::EvtxParser::from_path(path) {
        Ok(p) => p.with_configuration(settings),
        Err(e) => {
            stats.skipped += 1;
            stats.note(format!("not a readable EVTX file: {e}"));
            return;
        }
    };
    for record in parser.records_json_value() {
        match record {
            Ok(r) => {
                let ts = r.timestamp.as_nanosecond() as i64;
                stats.events += 1;
                emit(evtx_event(&r.data, ts, r.event_record_id, file));
            }
            Err(e) => {
                stats.skipped += 1;
                stats.note(format!("EVTX record skipped: {e}"));
            }
        }
    }
    if stats.events == 0 && stats.notes.is_empty() {
        stats.note("no EVTX record could be read: the file is empty, truncated or damaged".into());
    }
}

// ---------------------------------------------------------------- dispatch

fn file_year(path: &Path) -> i32 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| chrono::DateTime::from_timestamp(d.as_secs() as i64, 0))
        .map(|d| d.year())
        .unwrap_or_else(|| chrono::Utc::now().year())
}

/// Read one file of a known format, handing each event to `emit`.
pub fn read_file(
    path: &Path,
    format: Format,
    options: &ReadOptions,
    emit: &mut dyn FnMut(Event),
) -> std::io::Result<ReadStats> {
    let file = path.display().to_string();
    let mut stats = ReadStats::default();
    if format == Format::Evtx {
        read_evtx(path, &file, emit, &mut stats);
        return Ok(stats);
    }
    let reader = BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
    if format == Format::Json {
        // JSON Lines stream; a whole document is parsed at once (size-capped).
        // JSON Lines when the first non-empty line is a whole JSON value;
        // otherwise one document over several lines.
        let mut probe = BufReader::new(std::fs::File::open(path)?);
        let mut jsonl = false;
        let mut first = Vec::new();
        loop {
            first.clear();
            let n = (&mut probe)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut first)?;
            if n == 0 {
                break;
            }
            let t = first.trim_ascii();
            let t = t.strip_prefix(b"\xef\xbb\xbf").unwrap_or(t);
            if !t.is_empty() {
                jsonl = serde_json::from_slice::<Value>(t).is_ok();
                break;
            }
        }
        let mut lines = 0u64;
        let mut parsed_lines = 0u64;
        let mut pending: Vec<Event> = Vec::new();
        let cut = if jsonl {
            for_each_line(reader, |line| {
                let t = line.trim_ascii();
                if t.is_empty() {
                    return;
                }
                lines += 1;
                if let Ok(v) = serde_json::from_slice::<Value>(t) {
                    parsed_lines += 1;
                    let mut s = ReadStats::default();
                    json_records(&v, &file, 0, &mut |e| pending.push(e), &mut s);
                    stats.events += s.events;
                    for e in pending.drain(..) {
                        emit(e);
                    }
                }
            })?
        } else {
            0
        };
        stats.skipped += cut;
        if !jsonl {
            // Not JSON Lines: one document over several lines.
            let size = std::fs::metadata(path)?.len();
            if size > MAX_JSON_DOCUMENT {
                stats.note(format!("JSON document of {size} bytes is over the {MAX_JSON_DOCUMENT}-byte limit; write it as JSON Lines"));
                return Ok(stats);
            }
            match serde_json::from_reader::<_, Value>(BufReader::new(std::fs::File::open(path)?)) {
                Ok(v) => json_records(&v, &file, 0, emit, &mut stats),
                Err(e) => {
                    stats.skipped += 1;
                    stats.note(format!("not valid JSON: {e}"));
                }
            }
        } else if parsed_lines < lines {
            stats.skipped += lines - parsed_lines;
        }
        if stats.events == 0 {
            stats.note(
                "no object with a timestamp field (timestamp, @timestamp, time, datetime ...)"
                    .into(),
            );
        }
        return Ok(stats);
    }
    let year = options.year.unwrap_or_else(|| file_year(path));
    let user = history_user(&file);
    let mut pending_ts: Option<i64> = None;
    let cut = for_each_line(reader, |raw| {
        let line = String::from_utf8_lossy(raw);
        let line = line.as_ref();
        if line.trim().is_empty() {
            return;
        }
        let mut emitted = false;
        match format {
            Format::Syslog => {
                if let Some(e) = syslog_line(line, &file, year) {
                    emit(e);
                    emitted = true;
                }
            }
            Format::Auditd => {
                if let Some(e) = auditd_line(line, &file) {
                    emit(e);
                    emitted = true;
                }
            }
            Format::Journald => {
                if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line)
                    && let Some(e) = journald_object(o, &file)
                {
                    emit(e);
                    emitted = true;
                }
            }
            Format::Bodyfile => {
                let mut n = 0;
                if bodyfile_line(line, &file, &mut |e| {
                    n += 1;
                    emit(e)
                }) {
                    stats.events += n;
                    return;
                }
            }
            Format::ShellHistory => {
                let t = line.trim_end();
                if t.starts_with('#') && t.len() > 1 && t[1..].bytes().all(|b| b.is_ascii_digit()) {
                    pending_ts = t[1..].parse::<f64>().ok().and_then(epoch_to_nanos);
                    return;
                }
                if let Some(rest) = t.strip_prefix(": ")
                    && let Some((meta, cmd)) = rest.split_once(';')
                    && let Some(ts) = meta
                        .split(':')
                        .next()
                        .and_then(|s| s.parse::<f64>().ok())
                        .and_then(epoch_to_nanos)
                {
                    emit(history_event(ts, cmd, &file, &user));
                    emitted = true;
                } else if let Some(ts) = pending_ts.take() {
                    emit(history_event(ts, t, &file, &user));
                    emitted = true;
                }
            }
            Format::Evtx | Format::Json => {}
        }
        if emitted {
            stats.events += 1;
        } else {
            stats.skipped += 1;
        }
    })?;
    stats.skipped += cut;
    if cut > 0 {
        stats.note(format!(
            "{cut} line(s) longer than {MAX_LINE} bytes were cut"
        ));
    }
    Ok(stats)
}

/// The first bytes of a file, for [`detect`].
pub fn head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(65536);
    std::fs::File::open(path)?
        .take(65536)
        .read_to_end(&mut buf)?;
    Ok(buf)
}
