//! Containment (`threat_response`): `kill_process`, `quarantine_file`,
//! `restore_file`, `list_remediations`, and network isolation through
//! nftables. Every action is written to the remediation ledger, done or failed.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bulwark_core::{CallContext, Severity, ToolDef, ToolError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Live;
use super::common::{io_status, local_only, now_rfc3339, render};
use super::files::hash_file;
use super::ledger::{Quarantined, Remediation};
use super::procs::{no_such_process, one_process};

fn ledger_err(e: super::ledger::LedgerError) -> ToolError {
    ToolError::failed(format!("{e}; check that the data directory is writable"))
}

fn remediation(ctx: &CallContext, action: &str, target: String) -> Remediation {
    Remediation {
        id: uuid::Uuid::new_v4().to_string(),
        at: now_rfc3339(),
        action: action.into(),
        sid: crate::LOCAL_SID.into(),
        target,
        principal: ctx.principal.clone(),
        tenant: ctx.tenant.clone(),
        client_id: ctx.client_id.clone(),
        client_addr: ctx.client_addr.map(|a| a.to_string()),
        request_id: ctx.request_id.clone(),
        before: json!(null),
        after: json!(null),
        status: "done".into(),
        undoes: None,
    }
}

#[derive(Serialize, JsonSchema)]
struct ActionResult {
    /// The ledger entry written for this action.
    remediation: Remediation,
}

// ---------------------------------------------------------------- kill

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct KillArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Process id to kill (SIGKILL).
    pid: i32,
}

fn kill(live: &Live, ctx: &CallContext, pid: i32) -> Result<Remediation, ToolError> {
    if pid <= 1 {
        return Err(ToolError::InvalidArguments(format!(
            "field `pid`: {pid} cannot be killed (pid 1 is init; give a positive pid from get_processes)"
        )));
    }
    if pid == std::process::id() as i32 {
        return Err(ToolError::InvalidArguments(format!(
            "field `pid`: {pid} is bulwark itself; refusing to kill the server"
        )));
    }
    let before = one_process(pid)?;
    let before_start = procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .map(|s| s.starttime)
        .map_err(|_| no_such_process(pid))?;
    let mut r = remediation(ctx, "kill_process", pid.to_string());
    r.before = serde_json::to_value(&before).unwrap_or_default();
    let target = rustix::process::Pid::from_raw(pid).ok_or_else(|| no_such_process(pid))?;
    match rustix::process::kill_process(target, rustix::process::Signal::KILL) {
        Ok(()) => {
            // Wait for the process to go (or turn zombie until its parent reaps it).
            let until = Instant::now() + Duration::from_secs(3);
            let mut state = String::from("alive");
            while Instant::now() < until {
                match procfs::process::Process::new(pid).and_then(|p| p.stat()) {
                    Err(_) => {
                        state = "gone".into();
                        break;
                    }
                    Ok(s) if s.starttime != before_start => {
                        state = "gone (pid reused)".into();
                        break;
                    }
                    Ok(s) if s.state == 'Z' || s.state == 'X' => {
                        state = "zombie (killed; its parent has not reaped it yet)".into();
                        break;
                    }
                    Ok(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            r.status = if state == "alive" {
                "failed".into()
            } else {
                "done".into()
            };
            r.after = json!({"signal": "SIGKILL", "state": state});
        }
        Err(e) => {
            r.status = "failed".into();
            r.after = json!({"signal": "SIGKILL", "error": e.to_string()});
        }
    }
    live.ledger.with(|l| l.record(&r)).map_err(ledger_err)?;
    if r.status == "failed" {
        return Err(ToolError::failed(format!(
            "kill_process {pid} failed: {}; recorded in the ledger as {}",
            r.after, r.id
        )));
    }
    Ok(r)
}

// ---------------------------------------------------------------- quarantine

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct QuarantineArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Absolute path of the file to move into the vault.
    path: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RestoreArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// The quarantine id that quarantine_file returned (also in list_remediations).
    id: String,
}

/// Move `from` to `to`: rename, or copy then delete across file systems.
fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    match fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) => {
            fs::copy(from, to)?;
            fs::File::open(to)?.sync_all()?;
            fs::remove_file(from)
        }
        Err(e) => Err(e),
    }
}

fn vault_dir(live: &Live) -> Result<PathBuf, ToolError> {
    let dir = live.config.vault();
    fs::create_dir_all(&dir)
        .and_then(|_| fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)))
        .map_err(|e| {
            ToolError::failed(format!(
                "cannot prepare the quarantine vault {}: {}; set `live.vault_dir` to a writable directory",
                dir.display(),
                io_status(&e)
            ))
        })?;
    Ok(fs::canonicalize(&dir).unwrap_or(dir))
}

fn quarantine(
    live: &Live,
    ctx: &CallContext,
    requested: &str,
) -> Result<(Remediation, Quarantined), ToolError> {
    let path = live.roots.resolve("path", requested)?;
    let vault = vault_dir(live)?;
    if path.starts_with(&vault) {
        return Err(ToolError::failed(format!(
            "field `path`: `{}` is already in the quarantine vault",
            path.display()
        )));
    }
    let meta = fs::metadata(&path)
        .map_err(|e| ToolError::failed(format!("field `path`: {}", io_status(&e))))?;
    if !meta.is_file() {
        return Err(ToolError::failed(format!(
            "field `path`: `{}` is not a regular file; quarantine_file moves single files",
            path.display()
        )));
    }
    let (hashes, size) = hash_file(&path).map_err(|e| {
        ToolError::failed(format!(
            "field `path`: cannot read `{}`: {}",
            path.display(),
            io_status(&e)
        ))
    })?;
    let mut r = remediation(ctx, "quarantine_file", path.display().to_string());
    let stored = vault.join(&r.id);
    let q = Quarantined {
        id: r.id.clone(),
        original_path: path.display().to_string(),
        vault_path: stored.display().to_string(),
        sha256: hashes.sha256.clone(),
        size,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: meta.mtime(),
        quarantined_at: r.at.clone(),
        restored_at: None,
    };
    r.before = json!({
        "path": q.original_path, "size": size, "mode": format!("{:04o}", q.mode),
        "uid": q.uid, "gid": q.gid, "mtime": q.mtime,
        "md5": hashes.md5, "sha1": hashes.sha1, "sha256": hashes.sha256,
        "requested": requested,
    });
    match move_file(&path, &stored) {
        Ok(()) => {
            let _ = fs::set_permissions(&stored, fs::Permissions::from_mode(0o000));
            let meta_json = serde_json::to_string_pretty(&q).unwrap_or_default();
            let _ = fs::write(vault.join(format!("{}.json", r.id)), meta_json);
            r.after = json!({"vault_path": q.vault_path, "mode": "0000", "original_exists": path.exists()});
            live.ledger
                .with(|l| {
                    l.add_quarantine(&q)?;
                    l.record(&r)
                })
                .map_err(ledger_err)?;
            Ok((r, q))
        }
        Err(e) => {
            r.status = "failed".into();
            r.after = json!({"error": e.to_string()});
            live.ledger.with(|l| l.record(&r)).map_err(ledger_err)?;
            Err(ToolError::failed(format!(
                "cannot move `{}` into the vault: {}; recorded in the ledger as {}",
                path.display(),
                io_status(&e),
                r.id
            )))
        }
    }
}

fn restore(live: &Live, ctx: &CallContext, id: &str) -> Result<Remediation, ToolError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(ToolError::InvalidArguments(format!(
            "field `id`: `{id}` is not a quarantine id; list them with list_remediations"
        )));
    }
    let q = live
        .ledger
        .with(|l| l.quarantined(id))
        .map_err(ledger_err)?
        .ok_or_else(|| {
            ToolError::failed(format!(
                "field `id`: no quarantined file with id {id}; list them with list_remediations"
            ))
        })?;
    if let Some(at) = &q.restored_at {
        return Err(ToolError::failed(format!(
            "field `id`: {id} was already restored to {} at {at}",
            q.original_path
        )));
    }
    let original = PathBuf::from(&q.original_path);
    if fs::symlink_metadata(&original).is_ok() {
        return Err(ToolError::failed(format!(
            "a file now exists at {}; move it away first, then restore {id}",
            q.original_path
        )));
    }
    let stored = PathBuf::from(&q.vault_path);
    let mut r = remediation(ctx, "restore_file", q.original_path.clone());
    r.undoes = Some(q.id.clone());
    r.before = json!({"vault_path": q.vault_path, "original_exists": false});
    let result = (|| -> std::io::Result<String> {
        // The vault copy is mode 0000; a root process reads it anyway, others need u+r.
        fs::set_permissions(&stored, fs::Permissions::from_mode(0o600))?;
        move_file(&stored, &original)?;
        if rustix::process::geteuid().is_root() {
            let _ = std::os::unix::fs::chown(&original, Some(q.uid), Some(q.gid));
        }
        fs::set_permissions(&original, fs::Permissions::from_mode(q.mode))?;
        let mtime = std::time::UNIX_EPOCH + Duration::from_secs(q.mtime.max(0) as u64);
        let _ = fs::File::options()
            .write(true)
            .open(&original)
            .and_then(|f| f.set_modified(mtime));
        Ok(hash_file(&original)?.0.sha256)
    })();
    match result {
        Ok(sha256) => {
            let intact = sha256 == q.sha256;
            r.after = json!({"path": q.original_path, "sha256": sha256, "sha256_matches": intact, "mode": format!("{:04o}", q.mode)});
            if !intact {
                r.status = "failed".into();
            }
            let at = r.at.clone();
            live.ledger
                .with(|l| {
                    l.mark_restored(&q.id, &at)?;
                    l.record(&r)
                })
                .map_err(ledger_err)?;
            let _ = fs::remove_file(stored.with_extension("json"));
            let _ = fs::remove_file(Path::new(&format!("{}.json", q.vault_path)));
            if !intact {
                return Err(ToolError::failed(format!(
                    "restored {} but its SHA-256 differs from the one recorded at quarantine ({} vs {}); recorded as {}",
                    q.original_path, sha256, q.sha256, r.id
                )));
            }
            Ok(r)
        }
        Err(e) => {
            r.status = "failed".into();
            r.after = json!({"error": e.to_string()});
            let _ = fs::set_permissions(&stored, fs::Permissions::from_mode(0o000));
            live.ledger.with(|l| l.record(&r)).map_err(ledger_err)?;
            Err(ToolError::failed(format!(
                "cannot restore {} to {}: {}; recorded in the ledger as {}",
                q.id,
                q.original_path,
                io_status(&e),
                r.id
            )))
        }
    }
}

// ---------------------------------------------------------------- list

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    /// Endpoint id; `local` is the host bulwark runs on. Omit for every endpoint.
    #[serde(default)]
    sid: Option<String>,
    /// Only this action, such as `quarantine_file`.
    #[serde(default)]
    action: Option<String>,
    /// Newest entries to return (default 100, at most 10000).
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Serialize, JsonSchema)]
struct RemediationList {
    remediations: Vec<Remediation>,
}

// ---------------------------------------------------------------- isolation

const NFT_TABLE: &str = "bulwark_isolation";

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SidArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
}

#[derive(Serialize, JsonSchema)]
struct IsolationState {
    sid: String,
    isolated: bool,
    /// `nftables`.
    mechanism: String,
    /// Whether bulwark could change isolation here; when false, `reason` says why.
    available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Why isolation cannot be changed here, if it cannot.
fn isolation_blocker(live: &Live) -> Option<String> {
    if !live.config.allow_isolation {
        return Some("network isolation is switched off by `live.allow_isolation = false`".into());
    }
    if !rustix::process::geteuid().is_root() {
        return Some("bulwark does not run as root, and changing the firewall needs root".into());
    }
    if Command::new("nft")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        return Some("the `nft` command (nftables) is not installed".into());
    }
    None
}

fn nft_isolated() -> bool {
    Command::new("nft")
        .args(["list", "table", "inet", NFT_TABLE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn nft(script: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(script.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Drop all traffic but loopback and the client that asked (so the agent keeps
/// its session).
fn isolation_script(keep: Option<std::net::IpAddr>) -> String {
    let keep_in = match keep {
        Some(std::net::IpAddr::V4(ip)) if !ip.is_loopback() => format!("ip saddr {ip} accept;"),
        Some(std::net::IpAddr::V6(ip)) if !ip.is_loopback() => format!("ip6 saddr {ip} accept;"),
        _ => String::new(),
    };
    let keep_out = keep_in.replace("saddr", "daddr");
    format!(
        "table inet {NFT_TABLE} {{
  chain input {{ type filter hook input priority -300; policy drop; iif \"lo\" accept; {keep_in} }}
  chain output {{ type filter hook output priority -300; policy drop; oif \"lo\" accept; {keep_out} }}
  chain forward {{ type filter hook forward priority -300; policy drop; }}
}}
"
    )
}

fn not_permitted(action: &str, why: String) -> ToolError {
    ToolError::failed(format!("{action} is not permitted here: {why}"))
}

// ---------------------------------------------------------------- tools

pub fn tools(live: &Arc<Live>) -> Vec<ToolDef> {
    let (l1, l2, l3, l4, l5, l6, l7) = (
        live.clone(),
        live.clone(),
        live.clone(),
        live.clone(),
        live.clone(),
        live.clone(),
        live.clone(),
    );
    vec![
        ToolDef::new(
            "kill_process",
            "Kill a process of an endpoint with SIGKILL. The process as it was (command line, user, executable) and the outcome are written to the remediation ledger.",
        )
        .title("Kill process")
        .profiles(&["threat_response"])
        .destructive()
        .severity(Severity::Critical)
        .output::<ActionResult>()
        .handler(move |ctx: CallContext, args: KillArgs| {
            let live = l1.clone();
            async move {
                local_only(&args.sid)?;
                let c = ctx.clone();
                let r = tokio::task::spawn_blocking(move || kill(&live, &c, args.pid))
                    .await
                    .map_err(|e| ToolError::failed(e.to_string()))??;
                let text = format!(
                    "killed pid {} ({}): {}; ledger entry {}",
                    r.target,
                    r.before.get("cmdline").and_then(|v| v.as_str()).or_else(|| r.before.get("name").and_then(|v| v.as_str())).unwrap_or("?"),
                    r.after.get("state").and_then(|v| v.as_str()).unwrap_or(""),
                    r.id
                );
                render(&ActionResult { remediation: r }, text)
            }
        }),
        ToolDef::new(
            "quarantine_file",
            "Move a file of an endpoint into the quarantine vault with all permissions stripped, recording its path, owner, mode, times and hashes in the remediation ledger. Returns the id restore_file takes.",
        )
        .title("Quarantine file")
        .profiles(&["threat_response"])
        .destructive()
        .severity(Severity::Critical)
        .output::<ActionResult>()
        .handler(move |ctx: CallContext, args: QuarantineArgs| {
            let live = l2.clone();
            async move {
                local_only(&args.sid)?;
                let c = ctx.clone();
                let (r, q) = tokio::task::spawn_blocking(move || quarantine(&live, &c, &args.path))
                    .await
                    .map_err(|e| ToolError::failed(e.to_string()))??;
                let text = format!(
                    "quarantined {} (sha256 {}, {} bytes) as id {}; restore with restore_file",
                    q.original_path, q.sha256, q.size, q.id
                );
                render(&ActionResult { remediation: r }, text)
            }
        }),
        ToolDef::new(
            "restore_file",
            "Put a quarantined file back where it was, with its mode, owner and modification time, and check its SHA-256. Refuses when a file now exists at the original path.",
        )
        .title("Restore file")
        .profiles(&["threat_response"])
        .destructive()
        .severity(Severity::Critical)
        .output::<ActionResult>()
        .handler(move |ctx: CallContext, args: RestoreArgs| {
            let live = l3.clone();
            async move {
                local_only(&args.sid)?;
                let c = ctx.clone();
                let r = tokio::task::spawn_blocking(move || restore(&live, &c, &args.id))
                    .await
                    .map_err(|e| ToolError::failed(e.to_string()))??;
                let text = format!("restored {} (SHA-256 verified); ledger entry {}", r.target, r.id);
                render(&ActionResult { remediation: r }, text)
            }
        }),
        ToolDef::new(
            "list_remediations",
            "The remediation ledger, newest first: every containment action with who asked, when, the target, and the state before and after.",
        )
        .title("List remediations")
        .profiles(&["threat_response"])
        .read_only()
        .severity(Severity::Medium)
        .output::<RemediationList>()
        .handler(move |_ctx: CallContext, args: ListArgs| {
            let live = l4.clone();
            async move {
                if let Some(sid) = &args.sid {
                    local_only(sid)?;
                }
                let limit = args.limit.unwrap_or(100);
                if limit == 0 || limit > 10_000 {
                    return Err(ToolError::InvalidArguments(format!(
                        "field `limit`: {limit} is out of range; use 1 to 10000"
                    )));
                }
                let action = args.action.clone();
                let list = tokio::task::spawn_blocking(move || live.ledger.with(|l| l.list(action.as_deref(), limit)))
                    .await
                    .map_err(|e| ToolError::failed(e.to_string()))?
                    .map_err(ledger_err)?;
                let mut text = format!("{} remediations\n", list.len());
                for r in &list {
                    text.push_str(&format!(
                        "{} {} {:<16} {} by {} [{}]{}\n",
                        r.at,
                        r.id,
                        r.action,
                        r.target,
                        r.principal.as_deref().unwrap_or("anonymous"),
                        r.status,
                        r.undoes.as_ref().map(|u| format!(" undoes {u}")).unwrap_or_default()
                    ));
                }
                render(&RemediationList { remediations: list }, text)
            }
        }),
        ToolDef::new(
            "is_isolated",
            "Whether an endpoint is cut off from the network by bulwark's nftables isolation table.",
        )
        .title("Is isolated")
        .profiles(&["live_investigation", "threat_response"])
        .read_only()
        .severity(Severity::Medium)
        .output::<IsolationState>()
        .handler(move |_ctx: CallContext, args: SidArgs| {
            let live = l5.clone();
            async move {
                local_only(&args.sid)?;
                let state = tokio::task::spawn_blocking(move || {
                    let reason = isolation_blocker(&live);
                    IsolationState {
                        sid: args.sid,
                        isolated: reason.is_none() && nft_isolated(),
                        mechanism: "nftables".into(),
                        available: reason.is_none(),
                        reason,
                    }
                })
                .await
                .map_err(|e| ToolError::failed(e.to_string()))?;
                let text = format!(
                    "{} is {}{}",
                    state.sid,
                    if state.isolated { "isolated" } else { "not isolated" },
                    state.reason.as_ref().map(|r| format!(" (isolation unavailable: {r})")).unwrap_or_default()
                );
                render(&state, text)
            }
        }),
        ToolDef::new(
            "isolate_network",
            "Cut an endpoint off the network with nftables: everything is dropped except loopback and the client that asked. Needs root and nft; otherwise says it is not permitted here.",
        )
        .title("Isolate network")
        .profiles(&["threat_response"])
        .destructive()
        .severity(Severity::Critical)
        .output::<ActionResult>()
        .handler(move |ctx: CallContext, args: SidArgs| {
            let live = l6.clone();
            async move {
                local_only(&args.sid)?;
                let c = ctx.clone();
                let r = tokio::task::spawn_blocking(move || -> Result<Remediation, ToolError> {
                    if let Some(why) = isolation_blocker(&live) {
                        return Err(not_permitted("isolate_network", why));
                    }
                    let mut r = remediation(&c, "isolate_network", args.sid.clone());
                    let was = nft_isolated();
                    r.before = json!({"isolated": was});
                    if was {
                        return Err(ToolError::failed("the host is already isolated; rejoin_network lifts it"));
                    }
                    let keep = c.client_addr.map(|a| a.ip());
                    match nft(&isolation_script(keep)) {
                        Ok(()) => r.after = json!({"isolated": true, "kept": keep.map(|k| k.to_string())}),
                        Err(e) => {
                            r.status = "failed".into();
                            r.after = json!({"isolated": nft_isolated(), "error": e});
                        }
                    }
                    live.ledger.with(|l| l.record(&r)).map_err(ledger_err)?;
                    if r.status == "failed" {
                        return Err(ToolError::failed(format!("nft refused the isolation table: {}", r.after)));
                    }
                    Ok(r)
                })
                .await
                .map_err(|e| ToolError::failed(e.to_string()))??;
                let text = format!("isolated {}; ledger entry {}", r.target, r.id);
                render(&ActionResult { remediation: r }, text)
            }
        }),
        ToolDef::new(
            "rejoin_network",
            "Lift bulwark's nftables isolation of an endpoint. Needs root and nft; otherwise says it is not permitted here.",
        )
        .title("Rejoin network")
        .profiles(&["threat_response"])
        .destructive()
        .severity(Severity::Critical)
        .output::<ActionResult>()
        .handler(move |ctx: CallContext, args: SidArgs| {
            let live = l7.clone();
            async move {
                local_only(&args.sid)?;
                let c = ctx.clone();
                let r = tokio::task::spawn_blocking(move || -> Result<Remediation, ToolError> {
                    if let Some(why) = isolation_blocker(&live) {
                        return Err(not_permitted("rejoin_network", why));
                    }
                    if !nft_isolated() {
                        return Err(ToolError::failed("the host is not isolated; nothing to lift"));
                    }
                    let mut r = remediation(&c, "rejoin_network", args.sid.clone());
                    r.before = json!({"isolated": true});
                    match nft(&format!("delete table inet {NFT_TABLE}\n")) {
                        Ok(()) => r.after = json!({"isolated": false}),
                        Err(e) => {
                            r.status = "failed".into();
                            r.after = json!({"isolated": nft_isolated(), "error": e});
                        }
                    }
                    live.ledger.with(|l| l.record(&r)).map_err(ledger_err)?;
                    if r.status == "failed" {
                        return Err(ToolError::failed(format!("nft could not delete the isolation table: {}", r.after)));
                    }
                    Ok(r)
                })
                .await
                .map_err(|e| ToolError::failed(e.to_string()))??;
                let text = format!("{} rejoined the network; ledger entry {}", r.target, r.id);
                render(&ActionResult { remediation: r }, text)
            }
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveConfig;

    fn live(dir: &Path) -> Live {
        let mut config = LiveConfig::new(dir.join("data"));
        config.allowed_roots = vec![dir.to_path_buf()];
        Live {
            roots: super::super::paths::Roots::new(&config.allowed_roots),
            ledger: super::super::ledger::LazyLedger::new(dir.join("data/remediations.db")),
            rules: Default::default(),
            config,
        }
    }

    #[test]
    fn quarantine_then_restore_round_trips_bytes_mode_and_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let live = live(dir.path());
        let ctx = CallContext::in_process("threat_response");
        let file = dir.path().join("evil.sh");
        let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        fs::write(&file, &bytes).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o751)).unwrap();
        let (r, q) = quarantine(&live, &ctx, file.to_str().unwrap()).unwrap();
        assert!(!file.exists());
        let vault_mode = fs::metadata(&q.vault_path).unwrap().mode() & 0o777;
        assert_eq!(vault_mode, 0);
        let err = quarantine(&live, &ctx, "/etc/passwd")
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside the allowed roots"), "{err}");
        let back = restore(&live, &ctx, &q.id).unwrap();
        assert_eq!(back.undoes.as_deref(), Some(r.id.as_str()));
        assert_eq!(fs::read(&file).unwrap(), bytes);
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o751);
        let again = restore(&live, &ctx, &q.id).unwrap_err().to_string();
        assert!(again.contains("already restored"), "{again}");
        let list = live.ledger.with(|l| l.list(None, 10)).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            list.iter()
                .filter(|r| r.action == "quarantine_file")
                .count(),
            1
        );
    }

    #[test]
    fn kill_records_the_process_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let live = live(dir.path());
        let ctx = CallContext::in_process("threat_response");
        let mut child = Command::new("sleep").arg("300").spawn().unwrap();
        let pid = child.id() as i32;
        // Wait for the exec, so the command line is sleep's and not ours.
        for _ in 0..200 {
            if fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let r = kill(&live, &ctx, pid).unwrap();
        assert_eq!(r.status, "done");
        assert_eq!(r.before["cmdline"], "sleep 300");
        assert!(!child.wait().unwrap().success());
        assert!(kill(&live, &ctx, 1).is_err());
        assert!(kill(&live, &ctx, std::process::id() as i32).is_err());
        let list = live
            .ledger
            .with(|l| l.list(Some("kill_process"), 10))
            .unwrap();
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn isolation_script_keeps_loopback_and_client() {
        let s = isolation_script(Some("192.0.2.7".parse().unwrap()));
        assert!(s.contains("iif \"lo\" accept") && s.contains("ip saddr 192.0.2.7 accept"));
        assert!(s.contains("ip daddr 192.0.2.7 accept"));
        let s = isolation_script(Some("127.0.0.1".parse().unwrap()));
        assert!(!s.contains("saddr"));
    }
}
