//! `get_network_connections`: the TCP and UDP tables of /proc/net (v4 and v6),
//! each socket matched to its owning processes through the socket inodes in
//! `/proc/<pid>/fd`.

use std::collections::HashMap;
use std::sync::Arc;

use bulwark_core::{CallContext, Severity, ToolDef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Live;
use super::common::{Budget, LimitHit, blocking, limits_text, local_only, render, user_names};

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Connection {
    /// `tcp`, `tcp6`, `udp`, `udp6`.
    pub protocol: String,
    pub local_address: String,
    pub local_port: u16,
    pub remote_address: String,
    pub remote_port: u16,
    /// TCP state (`LISTEN`, `ESTABLISHED`, ...); UDP sockets are `UNCONN` or `ESTABLISHED`.
    pub state: String,
    /// Owning process (the first, when several share the socket).
    pub pid: Option<i32>,
    pub process_name: Option<String>,
    /// Every process holding the socket.
    pub pids: Vec<i32>,
    pub uid: u32,
    pub user: Option<String>,
    pub inode: u64,
    /// Why the owner is unknown: `permission_denied` when some processes'
    /// descriptors could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_unreadable: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct ConnectionList {
    pub connections: Vec<Connection>,
    /// Processes whose open descriptors bulwark could not read (their sockets show no pid).
    pub processes_unreadable: u64,
    pub limits_hit: Vec<LimitHit>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NetArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Only sockets in this state, such as `LISTEN` or `ESTABLISHED` (any case).
    #[serde(default)]
    state: Option<String>,
}

/// Socket inode -> (pids, first process name); plus how many processes were unreadable.
fn socket_owners() -> (HashMap<u64, (Vec<i32>, String)>, u64) {
    let mut owners: HashMap<u64, (Vec<i32>, String)> = HashMap::new();
    let mut unreadable = 0;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return (owners, 0);
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let fds = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(fds) => fds,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                unreadable += 1;
                continue;
            }
            Err(_) => continue,
        };
        let mut name: Option<String> = None;
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
            else {
                continue;
            };
            let name = name.get_or_insert_with(|| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default()
            });
            let slot = owners
                .entry(inode)
                .or_insert_with(|| (Vec::new(), name.clone()));
            if !slot.0.contains(&pid) {
                slot.0.push(pid);
            }
        }
    }
    (owners, unreadable)
}

fn tcp_state(state: &procfs::net::TcpState) -> &'static str {
    use procfs::net::TcpState::*;
    match state {
        Established => "ESTABLISHED",
        SynSent => "SYN_SENT",
        SynRecv => "SYN_RECV",
        FinWait1 => "FIN_WAIT1",
        FinWait2 => "FIN_WAIT2",
        TimeWait => "TIME_WAIT",
        Close => "CLOSE",
        CloseWait => "CLOSE_WAIT",
        LastAck => "LAST_ACK",
        Listen => "LISTEN",
        Closing => "CLOSING",
        NewSynRecv => "NEW_SYN_RECV",
    }
}

pub fn connections(budget: &mut Budget, state: Option<&str>) -> ConnectionList {
    let (owners, processes_unreadable) = socket_owners();
    let users = user_names();
    let mut rows: Vec<(
        String,
        std::net::SocketAddr,
        std::net::SocketAddr,
        String,
        u32,
        u64,
    )> = Vec::new();
    for (proto, table) in [("tcp", procfs::net::tcp()), ("tcp6", procfs::net::tcp6())] {
        for e in table.into_iter().flatten() {
            rows.push((
                proto.into(),
                e.local_address,
                e.remote_address,
                tcp_state(&e.state).into(),
                e.uid,
                e.inode,
            ));
        }
    }
    for (proto, table) in [("udp", procfs::net::udp()), ("udp6", procfs::net::udp6())] {
        for e in table.into_iter().flatten() {
            let st = match e.state {
                procfs::net::UdpState::Established => "ESTABLISHED",
                procfs::net::UdpState::Close => "UNCONN",
            };
            rows.push((
                proto.into(),
                e.local_address,
                e.remote_address,
                st.into(),
                e.uid,
                e.inode,
            ));
        }
    }
    let want = state.map(|s| s.to_uppercase());
    let mut connections = Vec::new();
    for (protocol, local, remote, st, uid, inode) in rows {
        if want.as_deref().is_some_and(|w| w != st) {
            continue;
        }
        if budget.rows_full(connections.len()) {
            break;
        }
        let owner = owners.get(&inode);
        connections.push(Connection {
            protocol,
            local_address: local.ip().to_string(),
            local_port: local.port(),
            remote_address: remote.ip().to_string(),
            remote_port: remote.port(),
            state: st,
            pid: owner.map(|o| o.0[0]),
            process_name: owner.map(|o| o.1.clone()),
            pids: owner.map(|o| o.0.clone()).unwrap_or_default(),
            uid,
            user: users.get(&uid).cloned(),
            inode,
            owner_unreadable: (owner.is_none() && inode != 0 && processes_unreadable > 0)
                .then(|| "permission_denied".to_string()),
        });
    }
    ConnectionList {
        connections,
        processes_unreadable,
        limits_hit: budget.hits.clone(),
    }
}

fn text(list: &ConnectionList) -> String {
    let mut out = format!("{} sockets\n", list.connections.len());
    out.push_str("PROTO STATE        LOCAL                          REMOTE                         PID/PROGRAM\n");
    for c in &list.connections {
        out.push_str(&format!(
            "{:<5} {:<12} {:<30} {:<30} {}\n",
            c.protocol,
            c.state,
            format!("{}:{}", c.local_address, c.local_port),
            format!("{}:{}", c.remote_address, c.remote_port),
            match (c.pid, &c.process_name) {
                (Some(pid), Some(name)) => format!("{pid}/{name}"),
                _ => c.owner_unreadable.clone().unwrap_or_else(|| "-".into()),
            }
        ));
    }
    if list.processes_unreadable > 0 {
        out.push_str(&format!(
            "{} processes' descriptors were unreadable (permission_denied); run as root for every owner\n",
            list.processes_unreadable
        ));
    }
    out + &limits_text(&list.limits_hit)
}

pub fn tools(live: &Arc<Live>) -> Vec<ToolDef> {
    let live = live.clone();
    vec![
        ToolDef::new(
            "get_network_connections",
            "TCP and UDP sockets (IPv4 and IPv6), listening and connected, with the owning process. Optional `state` filter such as LISTEN.",
        )
        .title("Get network connections")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<ConnectionList>()
        .handler(move |ctx: CallContext, args: NetArgs| {
            let live = live.clone();
            async move {
                local_only(&args.sid)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let list = blocking(move || Ok(connections(&mut budget, args.state.as_deref()))).await?;
                render(&list, text(&list))
            }
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Limits;

    #[test]
    fn own_listener_is_found_with_our_pid() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut budget = Budget::for_tests(Limits::default());
        let list = connections(&mut budget, Some("listen"));
        let row = list
            .connections
            .iter()
            .find(|c| c.protocol == "tcp" && c.local_port == port)
            .expect("listener listed");
        assert_eq!(row.state, "LISTEN");
        assert_eq!(row.pid, Some(std::process::id() as i32));
        assert!(list.connections.iter().all(|c| c.state == "LISTEN"));
    }
}
