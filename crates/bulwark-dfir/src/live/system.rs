//! Host-wide tables: OS version, services, autoruns, kernel modules, packages,
//! and the Windows-only registry tool (a clean "unsupported" here).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bulwark_core::{CallContext, Severity, ToolDef, ToolError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Live;
use super::common::{
    Budget, LimitHit, blocking, io_status, limits_text, local_only, render, system_time_rfc3339,
};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SidArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FilterArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Only rows whose name contains this text (any case).
    #[serde(default)]
    filter: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RegistryArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Registry key path, such as `HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run`.
    path: String,
}

fn matches(filter: &Option<String>, name: &str) -> bool {
    filter
        .as_ref()
        .is_none_or(|f| name.to_lowercase().contains(&f.to_lowercase()))
}

// ---------------------------------------------------------------- os version

#[derive(Serialize, JsonSchema)]
struct OsVersion {
    #[serde(flatten)]
    host: crate::HostInfo,
    /// `ID` from os-release, such as `debian`.
    os_id: Option<String>,
    /// `VERSION_ID` from os-release.
    os_version_id: Option<String>,
    /// The full /proc/version line (build, compiler).
    kernel_version: String,
    boot_time: String,
    /// Whether bulwark runs as root (uid 0): without it some rows read `permission_denied`.
    privileged: bool,
}

fn os_release() -> BTreeMap<String, String> {
    let text = fs::read_to_string("/etc/os-release")
        .or_else(|_| fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

fn os_version() -> OsVersion {
    let release = os_release();
    OsVersion {
        host: crate::HostInfo::local(),
        os_id: release.get("ID").cloned(),
        os_version_id: release.get("VERSION_ID").cloned(),
        kernel_version: fs::read_to_string("/proc/version")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        boot_time: super::common::rfc3339(procfs::boot_time_secs().unwrap_or(0) as i64),
        privileged: rustix::process::geteuid().is_root(),
    }
}

// ---------------------------------------------------------------- services

#[derive(Debug, Serialize, JsonSchema)]
struct Service {
    /// Unit name such as `ssh.service`, or the init script name.
    name: String,
    /// `systemd` or `sysv`.
    kind: String,
    /// `loaded`, `not-found`, ... (from systemd; `unknown` when systemd is not running).
    load_state: String,
    /// `active`, `inactive`, `failed`, or `unknown` when systemd is not running.
    active_state: String,
    /// `running`, `exited`, `dead`, ... or `unknown`.
    sub_state: String,
    /// `enabled`, `disabled`, `static`, `masked`... (from the unit files).
    enabled: String,
    description: Option<String>,
    /// The unit file or init script.
    path: Option<String>,
    /// `ExecStart=` of the unit file.
    exec_start: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct ServiceList {
    /// `systemctl` when systemd answered, else `unit_files` (state read from disk only).
    source: String,
    services: Vec<Service>,
    limits_hit: Vec<LimitHit>,
}

const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// Unit files by name (first directory wins, as systemd reads them).
fn unit_files() -> BTreeMap<String, PathBuf> {
    let mut units = BTreeMap::new();
    for dir in UNIT_DIRS {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.contains('.') && !e.path().is_dir() {
                units.entry(name).or_insert_with(|| e.path());
            }
        }
    }
    units
}

/// Units enabled through `*.wants`/`*.requires` symlinks in /etc/systemd/system.
fn enabled_units() -> BTreeMap<String, PathBuf> {
    let mut enabled = BTreeMap::new();
    let Ok(entries) = fs::read_dir("/etc/systemd/system") else {
        return enabled;
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        if !(n.ends_with(".wants") || n.ends_with(".requires")) {
            continue;
        }
        for link in fs::read_dir(e.path()).into_iter().flatten().flatten() {
            enabled.insert(link.file_name().to_string_lossy().to_string(), link.path());
        }
    }
    enabled
}

fn unit_field(path: &Path, key: &str) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().to_string()))
}

fn enabled_state(name: &str, path: &Path, enabled: &BTreeMap<String, PathBuf>) -> String {
    if fs::read_link(path)
        .map(|t| t == Path::new("/dev/null"))
        .unwrap_or(false)
    {
        "masked".into()
    } else if enabled.contains_key(name) {
        "enabled".into()
    } else if unit_field(path, "WantedBy=").is_none() && unit_field(path, "RequiredBy=").is_none() {
        "static".into()
    } else {
        "disabled".into()
    }
}

fn services(budget: &mut Budget, filter: &Option<String>) -> ServiceList {
    let units = unit_files();
    let enabled = enabled_units();
    let mut services = Vec::new();
    let mut source = "unit_files".to_string();
    if Path::new("/run/systemd/system").is_dir()
        && let Ok(out) = std::process::Command::new("systemctl")
            .args([
                "list-units",
                "--all",
                "--type=service",
                "--output=json",
                "--no-pager",
            ])
            .output()
        && out.status.success()
        && let Ok(rows) = serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
    {
        source = "systemctl".into();
        for row in rows {
            let get = |k: &str| {
                row.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let name = get("unit");
            if !matches(filter, &name) {
                continue;
            }
            if budget.rows_full(services.len()) {
                break;
            }
            let path = units.get(&name);
            services.push(Service {
                kind: "systemd".into(),
                load_state: get("load"),
                active_state: get("active"),
                sub_state: get("sub"),
                enabled: path
                    .map(|p| enabled_state(&name, p, &enabled))
                    .unwrap_or_else(|| "unknown".into()),
                description: Some(get("description")).filter(|d| !d.is_empty()),
                exec_start: path.and_then(|p| unit_field(p, "ExecStart=")),
                path: path.map(|p| p.display().to_string()),
                name,
            });
        }
    } else {
        for (name, path) in &units {
            if !name.ends_with(".service") || name.ends_with("@.service") {
                continue;
            }
            if !matches(filter, name) {
                continue;
            }
            if budget.rows_full(services.len()) {
                break;
            }
            services.push(Service {
                name: name.clone(),
                kind: "systemd".into(),
                load_state: "unknown".into(),
                active_state: "unknown".into(),
                sub_state: "unknown".into(),
                enabled: enabled_state(name, path, &enabled),
                description: unit_field(path, "Description="),
                path: Some(path.display().to_string()),
                exec_start: unit_field(path, "ExecStart="),
            });
        }
    }
    for e in fs::read_dir("/etc/init.d").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name == "README" || !matches(filter, &name) {
            continue;
        }
        if budget.rows_full(services.len()) {
            break;
        }
        services.push(Service {
            name,
            kind: "sysv".into(),
            load_state: "unknown".into(),
            active_state: "unknown".into(),
            sub_state: "unknown".into(),
            enabled: "unknown".into(),
            description: None,
            path: Some(e.path().display().to_string()),
            exec_start: None,
        });
    }
    ServiceList {
        source,
        services,
        limits_hit: budget.hits.clone(),
    }
}

// ---------------------------------------------------------------- autoruns

#[derive(Debug, Serialize, JsonSchema)]
struct Autorun {
    /// `cron`, `anacron`, `systemd_unit`, `systemd_timer`, `rc_local`, `shell_profile`,
    /// `ld_preload`, `ssh_authorized_keys`, `xdg_autostart`, `udev_rule`, `modules_load`.
    category: String,
    path: String,
    /// The entry itself: a crontab line, a key's type and comment, a unit's ExecStart,
    /// a udev RUN command; none when the whole file is the entry.
    entry: Option<String>,
    /// The account a per-user entry belongs to.
    user: Option<String>,
    owner_uid: Option<u32>,
    modified: Option<String>,
    /// `ok`, `permission_denied`, or another read error.
    status: String,
}

#[derive(Serialize, JsonSchema)]
struct AutorunList {
    autoruns: Vec<Autorun>,
    limits_hit: Vec<LimitHit>,
}

struct AutorunWalker<'a> {
    rows: Vec<Autorun>,
    budget: &'a mut Budget,
}

impl AutorunWalker<'_> {
    fn push(&mut self, row: Autorun) -> bool {
        if self.budget.rows_full(self.rows.len()) {
            return false;
        }
        self.rows.push(row);
        true
    }

    fn meta(path: &Path) -> (Option<u32>, Option<String>) {
        use std::os::unix::fs::MetadataExt;
        match fs::symlink_metadata(path) {
            Ok(m) => (Some(m.uid()), m.modified().ok().map(system_time_rfc3339)),
            Err(_) => (None, None),
        }
    }

    /// One row per meaningful line, or one row for the file when `lines` is
    /// false. Missing files add nothing; unreadable files add a
    /// `permission_denied` row.
    fn file(
        &mut self,
        category: &str,
        path: &Path,
        user: Option<&str>,
        lines: Option<fn(&str) -> Option<String>>,
    ) {
        if fs::symlink_metadata(path).is_err() {
            return;
        }
        let (owner_uid, modified) = Self::meta(path);
        let base = |entry: Option<String>, status: String| Autorun {
            category: category.into(),
            path: path.display().to_string(),
            entry,
            user: user.map(str::to_string),
            owner_uid,
            modified: modified.clone(),
            status,
        };
        let Some(select) = lines else {
            self.push(base(None, "ok".into()));
            return;
        };
        match fs::read_to_string(path) {
            Ok(text) => {
                for line in text.lines() {
                    if let Some(entry) = select(line)
                        && !self.push(base(Some(entry), "ok".into()))
                    {
                        return;
                    }
                }
            }
            Err(e) => {
                self.push(base(None, io_status(&e)));
            }
        }
    }

    fn dir(
        &mut self,
        category: &str,
        dir: &Path,
        user: Option<&str>,
        lines: Option<fn(&str) -> Option<String>>,
    ) {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                let (owner_uid, modified) = Self::meta(dir);
                self.push(Autorun {
                    category: category.into(),
                    path: dir.display().to_string(),
                    entry: None,
                    user: user.map(str::to_string),
                    owner_uid,
                    modified,
                    status: "permission_denied".into(),
                });
                return;
            }
            Err(_) => return,
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if name.starts_with('.') || name == "README" || p.is_dir() {
                continue;
            }
            self.file(category, &p, user, lines);
        }
    }
}

fn code_line(line: &str) -> Option<String> {
    let t = line.trim();
    (!t.is_empty() && !t.starts_with('#')).then(|| t.to_string())
}

fn cron_line(line: &str) -> Option<String> {
    let t = code_line(line)?;
    // Variable assignments (SHELL=, PATH=, MAILTO=) are not jobs.
    let first = t.split_whitespace().next().unwrap_or("");
    (!first.contains('=') || first.starts_with('@')).then_some(t)
}

fn key_line(line: &str) -> Option<String> {
    let t = code_line(line)?;
    // Keep options, type and comment; the key material itself is long and not useful.
    let parts: Vec<&str> = t.split_whitespace().collect();
    let at = parts
        .iter()
        .position(|p| p.starts_with("ssh-") || p.starts_with("ecdsa-") || p.starts_with("sk-"))?;
    let mut out: Vec<String> = parts[..at].iter().map(|s| s.to_string()).collect();
    out.push(parts[at].to_string());
    if let Some(key) = parts.get(at + 1) {
        out.push(format!("{}...", &key[..key.len().min(16)]));
    }
    out.extend(parts.iter().skip(at + 2).map(|s| s.to_string()));
    Some(out.join(" "))
}

fn udev_line(line: &str) -> Option<String> {
    let t = code_line(line)?;
    (t.contains("RUN") || t.contains("PROGRAM") || t.contains("IMPORT{program}")).then_some(t)
}

fn exec_line(line: &str) -> Option<String> {
    let t = line.trim();
    (t.starts_with("Exec=")
        || t.starts_with("ExecStart=")
        || t.starts_with("OnCalendar=")
        || t.starts_with("OnBootSec=")
        || t.starts_with("OnUnitActiveSec="))
    .then(|| t.to_string())
}

/// (user, home) of accounts with a home directory.
fn homes() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if let Ok(text) = fs::read_to_string("/etc/passwd") {
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 7 && f[5].starts_with('/') && f[5] != "/" && f[5] != "/nonexistent" {
                let home = PathBuf::from(f[5]);
                if !out.iter().any(|(_, h)| h == &home) {
                    out.push((f[0].to_string(), home));
                }
            }
        }
    }
    out
}

fn autoruns(budget: &mut Budget) -> AutorunList {
    let mut w = AutorunWalker {
        rows: Vec::new(),
        budget,
    };
    let cron: Option<fn(&str) -> Option<String>> = Some(cron_line);
    w.file("cron", Path::new("/etc/crontab"), None, cron);
    w.dir("cron", Path::new("/etc/cron.d"), None, cron);
    for period in ["hourly", "daily", "weekly", "monthly", "yearly"] {
        w.dir(
            "cron",
            Path::new(&format!("/etc/cron.{period}")),
            None,
            None,
        );
    }
    for spool in ["/var/spool/cron/crontabs", "/var/spool/cron"] {
        if let Ok(entries) = fs::read_dir(spool) {
            for e in entries.flatten() {
                if e.path().is_file() {
                    let user = e.file_name().to_string_lossy().to_string();
                    w.file("cron", &e.path(), Some(&user), cron);
                }
            }
        } else if Path::new(spool).exists() {
            w.dir("cron", Path::new(spool), None, cron);
        }
    }
    w.file("anacron", Path::new("/etc/anacrontab"), None, cron);
    // systemd: units enabled by symlink, and timers with their schedule.
    for (name, link) in enabled_units() {
        let target = fs::canonicalize(&link).unwrap_or(link.clone());
        let category = if name.ends_with(".timer") {
            "systemd_timer"
        } else {
            "systemd_unit"
        };
        let entry = unit_field(&target, "ExecStart=")
            .or_else(|| unit_field(&target, "OnCalendar=").map(|c| format!("OnCalendar={c}")));
        let (owner_uid, modified) = AutorunWalker::meta(&target);
        if !w.push(Autorun {
            category: category.into(),
            path: link.display().to_string(),
            entry: Some(format!(
                "{name} -> {}{}",
                target.display(),
                entry.map(|e| format!(": {e}")).unwrap_or_default()
            )),
            user: None,
            owner_uid,
            modified,
            status: "ok".into(),
        }) {
            break;
        }
    }
    w.file(
        "rc_local",
        Path::new("/etc/rc.local"),
        None,
        Some(code_line),
    );
    for f in [
        "/etc/profile",
        "/etc/bash.bashrc",
        "/etc/zsh/zshrc",
        "/etc/zsh/zprofile",
        "/etc/environment",
    ] {
        w.file("shell_profile", Path::new(f), None, None);
    }
    w.dir("shell_profile", Path::new("/etc/profile.d"), None, None);
    w.file(
        "ld_preload",
        Path::new("/etc/ld.so.preload"),
        None,
        Some(code_line),
    );
    w.dir(
        "xdg_autostart",
        Path::new("/etc/xdg/autostart"),
        None,
        Some(exec_line),
    );
    w.dir(
        "udev_rule",
        Path::new("/etc/udev/rules.d"),
        None,
        Some(udev_line),
    );
    w.dir(
        "modules_load",
        Path::new("/etc/modules-load.d"),
        None,
        Some(code_line),
    );
    w.file(
        "modules_load",
        Path::new("/etc/modules"),
        None,
        Some(code_line),
    );
    let mut home_list = homes();
    if !home_list.iter().any(|(_, h)| h == Path::new("/root")) {
        home_list.push(("root".into(), PathBuf::from("/root")));
    }
    for (user, home) in home_list {
        for f in [
            ".bashrc",
            ".bash_profile",
            ".bash_login",
            ".profile",
            ".zshrc",
            ".zprofile",
            ".bash_logout",
        ] {
            w.file("shell_profile", &home.join(f), Some(&user), None);
        }
        for f in [".ssh/authorized_keys", ".ssh/authorized_keys2"] {
            w.file(
                "ssh_authorized_keys",
                &home.join(f),
                Some(&user),
                Some(key_line),
            );
        }
        w.dir(
            "xdg_autostart",
            &home.join(".config/autostart"),
            Some(&user),
            Some(exec_line),
        );
        let user_units = home.join(".config/systemd/user");
        if let Ok(entries) = fs::read_dir(&user_units) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().ends_with(".wants") {
                    w.dir("systemd_unit", &e.path(), Some(&user), Some(exec_line));
                }
            }
        }
    }
    AutorunList {
        autoruns: w.rows,
        limits_hit: budget_hits(w.budget),
    }
}

fn budget_hits(b: &Budget) -> Vec<LimitHit> {
    b.hits.clone()
}

// ---------------------------------------------------------------- drivers

#[derive(Serialize, JsonSchema)]
struct Driver {
    name: String,
    size: u64,
    /// How many references hold the module.
    refcount: i32,
    used_by: Vec<String>,
    /// `Live`, `Loading`, `Unloading`.
    state: String,
    /// Taint flags and the like from /sys/module/NAME/taint, when set.
    taint: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct DriverList {
    modules: Vec<Driver>,
    /// `ok`, or why /proc/modules could not be read.
    source: String,
    /// Whether the kernel is tainted (non-zero /proc/sys/kernel/tainted).
    kernel_tainted: Option<u64>,
    limits_hit: Vec<LimitHit>,
}

fn drivers(budget: &mut Budget) -> Result<DriverList, ToolError> {
    let modules = match procfs::modules() {
        Ok(m) => m,
        Err(procfs::ProcError::NotFound(_)) => Default::default(),
        Err(e) => return Err(ToolError::failed(format!("cannot read /proc/modules: {e}"))),
    };
    let source = if Path::new("/proc/modules").exists() {
        "ok".to_string()
    } else {
        "not_found: /proc/modules is absent (a kernel without loadable modules, or a container that hides it)".to_string()
    };
    let mut names: Vec<_> = modules.into_values().collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for m in names {
        if budget.rows_full(out.len()) {
            break;
        }
        let taint = fs::read_to_string(format!("/sys/module/{}/taint", m.name))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        out.push(Driver {
            name: m.name,
            size: m.size as u64,
            refcount: m.refcount,
            used_by: m.used_by,
            state: m.state,
            taint,
        });
    }
    Ok(DriverList {
        modules: out,
        source,
        kernel_tainted: fs::read_to_string("/proc/sys/kernel/tainted")
            .ok()
            .and_then(|s| s.trim().parse().ok()),
        limits_hit: budget.hits.clone(),
    })
}

// ---------------------------------------------------------------- packages

#[derive(Debug, Serialize, JsonSchema, PartialEq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: Option<String>,
    /// `dpkg` or `rpm`.
    pub source: String,
    /// dpkg's `Status` (such as `install ok installed`).
    pub status: Option<String>,
    pub maintainer: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct PackageList {
    packages: Vec<Package>,
    /// Package databases read (`dpkg`, `rpm`), each with its status.
    sources: BTreeMap<String, String>,
    limits_hit: Vec<LimitHit>,
}

/// Installed packages from a dpkg `status` file.
pub fn parse_dpkg_status(text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for line in stanza.lines() {
            if line.starts_with(' ') {
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.insert(k, v.trim());
            }
        }
        let (Some(name), Some(status)) = (fields.get("Package"), fields.get("Status")) else {
            continue;
        };
        if !status.ends_with(" installed") {
            continue;
        }
        out.push(Package {
            name: name.to_string(),
            version: fields.get("Version").unwrap_or(&"").to_string(),
            architecture: fields.get("Architecture").map(|s| s.to_string()),
            source: "dpkg".into(),
            status: Some(status.to_string()),
            maintainer: fields.get("Maintainer").map(|s| s.to_string()),
        });
    }
    out
}

fn packages(budget: &mut Budget, filter: &Option<String>) -> PackageList {
    let mut sources = BTreeMap::new();
    let mut all = Vec::new();
    match fs::read_to_string("/var/lib/dpkg/status") {
        Ok(text) => {
            let pkgs = parse_dpkg_status(&text);
            sources.insert("dpkg".into(), format!("ok: {} installed", pkgs.len()));
            all.extend(pkgs);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            sources.insert("dpkg".into(), io_status(&e));
        }
    }
    if Path::new("/var/lib/rpm").is_dir() || Path::new("/usr/lib/sysimage/rpm").is_dir() {
        match std::process::Command::new("rpm")
            .args([
                "-qa",
                "--queryformat",
                "%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\t%{VENDOR}\n",
            ])
            .output()
        {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                let before = all.len();
                for line in text.lines() {
                    let f: Vec<&str> = line.split('\t').collect();
                    if f.len() >= 3 {
                        all.push(Package {
                            name: f[0].into(),
                            version: f[1].into(),
                            architecture: Some(f[2].into()),
                            source: "rpm".into(),
                            status: None,
                            maintainer: f.get(3).map(|s| s.to_string()),
                        });
                    }
                }
                sources.insert(
                    "rpm".into(),
                    format!("ok: {} installed", all.len() - before),
                );
            }
            Ok(out) => {
                sources.insert(
                    "rpm".into(),
                    format!("error: rpm exited with {}", out.status),
                );
            }
            Err(e) => {
                sources.insert("rpm".into(), format!("error: cannot run rpm: {e}"));
            }
        }
    }
    let mut packages = Vec::new();
    for p in all {
        if !matches(filter, &p.name) {
            continue;
        }
        if budget.rows_full(packages.len()) {
            break;
        }
        packages.push(p);
    }
    PackageList {
        packages,
        sources,
        limits_hit: budget.hits.clone(),
    }
}

// ---------------------------------------------------------------- tools

pub fn tools(live: &Arc<Live>) -> Vec<ToolDef> {
    let (l1, l2, l3, l4) = (live.clone(), live.clone(), live.clone(), live.clone());
    vec![
        ToolDef::new(
            "get_os_version",
            "Operating system and kernel of an endpoint: distribution, version, kernel build, architecture, boot time, and whether bulwark runs privileged.",
        )
        .title("Get OS version")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<OsVersion>()
        .handler(|_ctx: CallContext, args: SidArgs| async move {
            local_only(&args.sid)?;
            let v = os_version();
            let text = format!(
                "{} ({}), kernel {} on {}, booted {}{}",
                v.host.os_name,
                v.host.hostname,
                v.host.kernel_release,
                v.host.architecture,
                v.boot_time,
                if v.privileged { "" } else { "; bulwark runs unprivileged, some tables will show permission_denied" }
            );
            render(&v, text)
        }),
        ToolDef::new(
            "get_services",
            "Services of an endpoint: systemd units with load, active and enabled state (from systemctl when systemd runs, else from the unit files), plus SysV init scripts.",
        )
        .title("Get services")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<ServiceList>()
        .handler(move |ctx: CallContext, args: FilterArgs| {
            let live = l1.clone();
            async move {
                local_only(&args.sid)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let list = blocking(move || Ok(services(&mut budget, &args.filter))).await?;
                let mut text = format!("{} services (state from {})\n", list.services.len(), list.source);
                for s in &list.services {
                    text.push_str(&format!(
                        "{:<40} {:<8} {:<9} {:<8} {}\n",
                        s.name,
                        s.active_state,
                        s.sub_state,
                        s.enabled,
                        s.description.as_deref().unwrap_or("")
                    ));
                }
                text.push_str(&limits_text(&list.limits_hit));
                render(&list, text)
            }
        }),
        ToolDef::new(
            "get_autoruns",
            "Persistence locations of an endpoint: cron and anacron, enabled systemd units and timers, rc.local, shell profiles and rc files, ld.so.preload, SSH authorized_keys, XDG autostart, udev rules, modules-load.d. Unreadable locations are listed as permission_denied.",
        )
        .title("Get autoruns")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<AutorunList>()
        .handler(move |ctx: CallContext, args: SidArgs| {
            let live = l2.clone();
            async move {
                local_only(&args.sid)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let list = blocking(move || Ok(autoruns(&mut budget))).await?;
                let mut text = format!("{} autorun entries\n", list.autoruns.len());
                for a in &list.autoruns {
                    text.push_str(&format!(
                        "{:<20} {}{}{}{}\n",
                        a.category,
                        a.path,
                        a.user.as_ref().map(|u| format!(" [{u}]")).unwrap_or_default(),
                        a.entry.as_ref().map(|e| format!(": {e}")).unwrap_or_default(),
                        if a.status == "ok" { String::new() } else { format!(" ({})", a.status) }
                    ));
                }
                text.push_str(&limits_text(&list.limits_hit));
                render(&list, text)
            }
        }),
        ToolDef::new(
            "get_drivers",
            "Loaded kernel modules of an endpoint (/proc/modules) with size, references, users, state and taint.",
        )
        .title("Get drivers")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<DriverList>()
        .handler(move |ctx: CallContext, args: SidArgs| {
            let live = l3.clone();
            async move {
                local_only(&args.sid)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let list = blocking(move || drivers(&mut budget)).await?;
                let mut text = format!("{} kernel modules ({})\n", list.modules.len(), list.source);
                for m in &list.modules {
                    text.push_str(&format!("{:<24} {:>9} {} {}\n", m.name, m.size, m.state, m.used_by.join(",")));
                }
                text.push_str(&limits_text(&list.limits_hit));
                render(&list, text)
            }
        }),
        ToolDef::new(
            "get_packages",
            "Installed packages of an endpoint from the dpkg database (and rpm where present), with version and architecture. Optional `filter` on the name.",
        )
        .title("Get packages")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<PackageList>()
        .handler(move |ctx: CallContext, args: FilterArgs| {
            let live = l4.clone();
            async move {
                local_only(&args.sid)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let list = blocking(move || Ok(packages(&mut budget, &args.filter))).await?;
                let mut text = format!("{} packages\n", list.packages.len());
                for p in &list.packages {
                    text.push_str(&format!("{:<40} {:<30} {}\n", p.name, p.version, p.architecture.as_deref().unwrap_or("")));
                }
                text.push_str(&limits_text(&list.limits_hit));
                render(&list, text)
            }
        }),
        ToolDef::new(
            "get_registry_keys",
            "Windows registry keys of an endpoint. Linux has no registry: on `local` this returns an error saying so.",
        )
        .title("Get registry keys")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .handler(|_ctx: CallContext, args: RegistryArgs| async move {
            local_only(&args.sid)?;
            Err(ToolError::failed(format!(
                "get_registry_keys is unsupported on Linux: `local` runs {}, which has no Windows registry (asked for `{}`); \
                 for persistence use get_autoruns, for configuration read the files with file_info / dir_list",
                std::env::consts::OS,
                args.path
            )))
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_keeps_installed_packages_only() {
        let text = "Package: bash\nStatus: install ok installed\nVersion: 5.2-1\nArchitecture: amd64\nDescription: shell\n more text\n\n\
                    Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n";
        let pkgs = parse_dpkg_status(text);
        assert_eq!(pkgs.len(), 1);
        assert_eq!(pkgs[0].name, "bash");
        assert_eq!(pkgs[0].version, "5.2-1");
    }

    #[test]
    fn this_host_has_dpkg_packages_when_debian() {
        if !Path::new("/var/lib/dpkg/status").exists() {
            return;
        }
        let mut budget = Budget::for_tests(super::super::Limits::default());
        let list = packages(&mut budget, &Some("coreutils".into()));
        assert!(list.packages.iter().any(|p| p.name == "coreutils"));
    }

    #[test]
    fn cron_and_key_lines() {
        assert_eq!(cron_line("SHELL=/bin/sh"), None);
        assert_eq!(cron_line("# x"), None);
        assert!(cron_line("17 * * * * root cd / && run-parts --report /etc/cron.hourly").is_some());
        let k =
            key_line("from=\"10.0.0.1\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG user@host").unwrap();
        assert!(
            k.starts_with("from=") && k.contains("ssh-ed25519") && k.ends_with("user@host"),
            "{k}"
        );
    }

    #[test]
    fn autoruns_see_a_crontab_when_present() {
        let mut budget = Budget::for_tests(super::super::Limits::default());
        let list = autoruns(&mut budget);
        if Path::new("/etc/crontab").exists() {
            assert!(list.autoruns.iter().any(|a| a.path == "/etc/crontab"));
        }
        assert!(list.autoruns.iter().all(|a| !a.category.is_empty()));
    }
}
