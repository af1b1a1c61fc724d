//! `get_users`: accounts, groups, shells, password state (never the hash),
//! who is logged in (utmp) and last logins (wtmp).

use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;

use bulwark_core::{CallContext, Severity, ToolDef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Live;
use super::common::{
    Budget, LimitHit, blocking, io_status, limits_text, local_only, render, rfc3339,
};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SidArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
}

#[derive(Debug, Serialize, JsonSchema)]
struct User {
    name: String,
    uid: u32,
    gid: u32,
    gecos: String,
    home: String,
    shell: String,
    /// The shell lets the account log in (not nologin/false).
    login_shell: bool,
    /// Supplementary groups plus the primary group's name.
    groups: Vec<String>,
    /// From /etc/shadow: `set`, `locked`, `none` (empty: no password!), or
    /// `permission_denied` when shadow is unreadable.
    password: String,
    /// Latest login recorded in wtmp.
    last_login: Option<Login>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
struct Login {
    user: String,
    /// Terminal, such as `pts/0`.
    line: String,
    /// Remote host or address, when the login came over the network.
    host: Option<String>,
    time: String,
    pid: i32,
}

#[derive(Serialize, JsonSchema)]
struct UserList {
    users: Vec<User>,
    groups: Vec<Group>,
    /// Sessions open now (utmp records whose process still runs).
    logged_in: Vec<Login>,
    /// Status of each source file: `ok`, `permission_denied`, `not_found`.
    sources: BTreeMap<String, String>,
    limits_hit: Vec<LimitHit>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct Group {
    name: String,
    gid: u32,
    members: Vec<String>,
}

const UTMP_SIZE: usize = 384;
const USER_PROCESS: i16 = 7;

fn cstr(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// USER_PROCESS records of a utmp/wtmp file (glibc x86_64/aarch64 layout).
fn utmp_logins(data: &[u8]) -> Vec<Login> {
    data.chunks_exact(UTMP_SIZE)
        .filter_map(|r| {
            let kind = i16::from_ne_bytes([r[0], r[1]]);
            if kind != USER_PROCESS {
                return None;
            }
            let pid = i32::from_ne_bytes(r[4..8].try_into().ok()?);
            let line = cstr(&r[8..40]);
            let user = cstr(&r[44..76]);
            let host = cstr(&r[76..332]);
            let secs = i32::from_ne_bytes(r[340..344].try_into().ok()?);
            Some(Login {
                user,
                line,
                host: (!host.is_empty()).then_some(host),
                time: rfc3339(secs as i64),
                pid,
            })
        })
        .collect()
}

fn read_source(sources: &mut BTreeMap<String, String>, path: &str) -> Option<Vec<u8>> {
    match fs::read(path) {
        Ok(b) => {
            sources.insert(path.into(), "ok".into());
            Some(b)
        }
        Err(e) => {
            sources.insert(path.into(), io_status(&e));
            None
        }
    }
}

fn users(budget: &mut Budget) -> UserList {
    let mut sources = BTreeMap::new();
    let passwd = read_source(&mut sources, "/etc/passwd").unwrap_or_default();
    let group = read_source(&mut sources, "/etc/group").unwrap_or_default();
    let shadow = read_source(&mut sources, "/etc/shadow");
    let shells: Vec<String> = fs::read_to_string("/etc/shells")
        .map(|t| {
            t.lines()
                .filter(|l| l.starts_with('/'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();

    let mut groups = Vec::new();
    for line in String::from_utf8_lossy(&group).lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 {
            groups.push(Group {
                name: f[0].into(),
                gid: f[2].parse().unwrap_or(0),
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            });
        }
    }
    let mut passwords: BTreeMap<String, String> = BTreeMap::new();
    if let Some(shadow) = &shadow {
        for line in String::from_utf8_lossy(shadow).lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 2 {
                let state = if f[1].is_empty() {
                    "none"
                } else if f[1].starts_with('!') || f[1].starts_with('*') {
                    "locked"
                } else {
                    "set"
                };
                passwords.insert(f[0].into(), state.into());
            }
        }
    }
    let mut last: BTreeMap<String, Login> = BTreeMap::new();
    if let Some(wtmp) = read_source(&mut sources, "/var/log/wtmp") {
        for login in utmp_logins(&wtmp) {
            last.insert(login.user.clone(), login);
        }
    }
    let logged_in: Vec<Login> = read_source(&mut sources, "/var/run/utmp")
        .map(|u| {
            utmp_logins(&u)
                .into_iter()
                .filter(|l| std::path::Path::new(&format!("/proc/{}", l.pid)).exists())
                .collect()
        })
        .unwrap_or_default();

    let mut users = Vec::new();
    for line in String::from_utf8_lossy(&passwd).lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            continue;
        }
        if budget.rows_full(users.len()) {
            break;
        }
        let gid: u32 = f[3].parse().unwrap_or(0);
        let mut member_of: Vec<String> = groups
            .iter()
            .filter(|g| g.gid == gid || g.members.iter().any(|m| m == f[0]))
            .map(|g| g.name.clone())
            .collect();
        member_of.dedup();
        let shell = f[6].to_string();
        let login_shell =
            !(shell.ends_with("nologin") || shell.ends_with("/false") || shell.is_empty())
                && (shells.is_empty() || shells.contains(&shell));
        users.push(User {
            name: f[0].into(),
            uid: f[2].parse().unwrap_or(0),
            gid,
            gecos: f[4].into(),
            home: f[5].into(),
            login_shell,
            shell,
            groups: member_of,
            password: if shadow.is_none() {
                "permission_denied".into()
            } else {
                passwords
                    .get(f[0])
                    .cloned()
                    .unwrap_or_else(|| "unknown".into())
            },
            last_login: last.get(f[0]).cloned(),
        });
    }
    UserList {
        users,
        groups,
        logged_in,
        sources,
        limits_hit: budget.hits.clone(),
    }
}

pub fn tools(live: &Arc<Live>) -> Vec<ToolDef> {
    let live = live.clone();
    vec![
        ToolDef::new(
            "get_users",
            "Accounts of an endpoint with groups, shells, password state (set/locked/none, never the hash), last login from wtmp, and who is logged in now.",
        )
        .title("Get users")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<UserList>()
        .handler(move |ctx: CallContext, args: SidArgs| {
            let live = live.clone();
            async move {
                local_only(&args.sid)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let list = blocking(move || Ok(users(&mut budget))).await?;
                let mut text = format!("{} accounts, {} logged in now\n", list.users.len(), list.logged_in.len());
                for u in &list.users {
                    text.push_str(&format!(
                        "{:<20} uid={:<6} {:<20} password={:<17} last={}\n",
                        u.name,
                        u.uid,
                        u.shell,
                        u.password,
                        u.last_login.as_ref().map(|l| l.time.clone()).unwrap_or_else(|| "-".into())
                    ));
                }
                for (source, status) in &list.sources {
                    if status != "ok" {
                        text.push_str(&format!("{source}: {status}\n"));
                    }
                }
                text.push_str(&limits_text(&list.limits_hit));
                render(&list, text)
            }
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utmp_records_parse() {
        let mut rec = vec![0u8; UTMP_SIZE];
        rec[0..2].copy_from_slice(&USER_PROCESS.to_ne_bytes());
        rec[4..8].copy_from_slice(&4242i32.to_ne_bytes());
        rec[8..13].copy_from_slice(b"pts/3");
        rec[44..49].copy_from_slice(b"alice");
        rec[76..84].copy_from_slice(b"10.1.2.3");
        rec[340..344].copy_from_slice(&1_700_000_000i32.to_ne_bytes());
        let mut data = rec.clone();
        data.extend(vec![0u8; UTMP_SIZE]); // an EMPTY record
        let logins = utmp_logins(&data);
        assert_eq!(logins.len(), 1);
        assert_eq!(logins[0].user, "alice");
        assert_eq!(logins[0].line, "pts/3");
        assert_eq!(logins[0].host.as_deref(), Some("10.1.2.3"));
        assert_eq!(logins[0].time, "2023-11-14T22:13:20Z");
    }

    #[test]
    fn root_is_listed() {
        let mut budget = Budget::for_tests(super::super::Limits::default());
        let list = users(&mut budget);
        let root = list.users.iter().find(|u| u.uid == 0).expect("root");
        assert_eq!(root.name, "root");
        assert!(root.groups.contains(&"root".to_string()));
    }
}
