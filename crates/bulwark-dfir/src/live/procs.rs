//! Processes and their memory: `get_processes`, `get_process_modules`,
//! `get_process_strings`, `find_strings`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bulwark_core::{CallContext, Severity, ToolDef, ToolError};
use procfs::process::{MMapPath, Process};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Live;
use super::common::{
    Budget, LimitHit, blocking, limits_text, local_only, proc_status, render, rfc3339, user_names,
};
use super::memory::{self, MemStats, Skipped};

/// One process, in osquery's `processes` vocabulary.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProcessRow {
    pub pid: i32,
    pub ppid: i32,
    /// Kernel command name (`comm`, at most 15 bytes).
    pub name: String,
    /// Path of the executable; ends without the kernel's ` (deleted)` suffix.
    pub exe: Option<String>,
    /// The executable was deleted from disk after the process started.
    pub exe_deleted: bool,
    /// Arguments joined by spaces.
    pub cmdline: Option<String>,
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// One letter: R running, S sleeping, D disk sleep, Z zombie, T stopped, I idle...
    pub state: String,
    pub start_time: String,
    pub cwd: Option<String>,
    pub threads: i64,
    pub rss_bytes: u64,
    /// Kernel threads have no executable, command line or memory of their own.
    pub kernel_thread: bool,
    /// Fields that could not be read, with why: `exe: permission_denied`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct ProcessList {
    processes: Vec<ProcessRow>,
    /// Processes that vanished while being read.
    vanished: u64,
    limits_hit: Vec<LimitHit>,
    elapsed_ms: u64,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProcessesArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Only processes whose name, executable or command line contains this text.
    #[serde(default)]
    filter: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PidArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Process id.
    pid: i32,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StringsArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Process id.
    pid: i32,
    /// Shortest string reported (default 6, at least 3).
    #[serde(default)]
    min_length: Option<usize>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FindArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Strings to look for, each as ASCII/UTF-8 and as UTF-16LE.
    strings: Vec<String>,
    /// Search one process; all readable processes when left out.
    #[serde(default)]
    pid: Option<i32>,
}

/// Boot time and clock ticks, to turn `starttime` into a date.
struct Clock {
    boot: u64,
    ticks: u64,
}

impl Clock {
    fn new() -> Self {
        Clock {
            boot: procfs::boot_time_secs().unwrap_or(0),
            ticks: procfs::ticks_per_second().max(1),
        }
    }
    fn start(&self, starttime: u64) -> String {
        rfc3339((self.boot + starttime / self.ticks) as i64)
    }
}

/// Read one process. `None` when it vanished.
pub fn read_process(
    process: &Process,
    clock: &ClockRef,
    users: &HashMap<u32, String>,
) -> Option<ProcessRow> {
    let stat = process.stat().ok()?;
    let mut unreadable = Vec::new();
    let kernel_thread = stat.pid == 2 || stat.ppid == 2;
    let uid = match process.uid() {
        Ok(uid) => Some(uid),
        Err(e) => {
            unreadable.push(format!("uid: {}", proc_status(&e)));
            None
        }
    };
    let (exe, exe_deleted) = if kernel_thread {
        (None, false)
    } else {
        match std::fs::read_link(format!("/proc/{}/exe", stat.pid)) {
            Ok(path) => {
                let text = path.display().to_string();
                match text.strip_suffix(" (deleted)") {
                    Some(stripped) => (Some(stripped.to_string()), true),
                    None => (Some(text), false),
                }
            }
            Err(e) => {
                unreadable.push(format!("exe: {}", super::common::io_status(&e)));
                (None, false)
            }
        }
    };
    let cmdline = match process.cmdline() {
        Ok(args) if args.is_empty() => None,
        Ok(args) => Some(args.join(" ")),
        Err(e) => {
            unreadable.push(format!("cmdline: {}", proc_status(&e)));
            None
        }
    };
    let cwd = if kernel_thread {
        None
    } else {
        match process.cwd() {
            Ok(p) => Some(p.display().to_string()),
            Err(e) => {
                unreadable.push(format!("cwd: {}", proc_status(&e)));
                None
            }
        }
    };
    Some(ProcessRow {
        pid: stat.pid,
        ppid: stat.ppid,
        name: stat.comm.clone(),
        exe,
        exe_deleted,
        cmdline,
        user: uid.and_then(|u| users.get(&u).cloned()),
        uid,
        state: stat.state.to_string(),
        start_time: clock.0.start(stat.starttime),
        cwd,
        threads: stat.num_threads,
        rss_bytes: stat.rss * procfs::page_size(),
        kernel_thread,
        unreadable,
    })
}

/// An opaque boot clock handle, so other modules can read processes.
pub struct ClockRef(Clock);

impl ClockRef {
    pub fn new() -> Self {
        ClockRef(Clock::new())
    }
}

/// One process by pid, or an error that says it does not exist.
pub fn one_process(pid: i32) -> Result<ProcessRow, ToolError> {
    let process = Process::new(pid).map_err(|_| no_such_process(pid))?;
    read_process(&process, &ClockRef::new(), &user_names()).ok_or_else(|| no_such_process(pid))
}

pub fn no_such_process(pid: i32) -> ToolError {
    ToolError::failed(format!(
        "field `pid`: no process {pid} on this host; list processes with get_processes"
    ))
}

fn check_pid(pid: i32) -> Result<(), ToolError> {
    if pid <= 0 {
        return Err(ToolError::InvalidArguments(format!(
            "field `pid`: {pid} is not a process id; give a positive pid from get_processes"
        )));
    }
    Ok(())
}

pub fn list_processes(budget: &mut Budget, filter: Option<&str>) -> ProcessList {
    let clock = ClockRef::new();
    let users = user_names();
    let mut processes = Vec::new();
    let mut vanished = 0;
    let filter = filter.map(|f| f.to_lowercase());
    if let Ok(all) = procfs::process::all_processes() {
        for process in all {
            if budget.out_of_time() {
                break;
            }
            let Ok(process) = process else {
                vanished += 1;
                continue;
            };
            let Some(row) = read_process(&process, &clock, &users) else {
                vanished += 1;
                continue;
            };
            if let Some(f) = &filter {
                let hay = format!(
                    "{}\n{}\n{}",
                    row.name,
                    row.exe.as_deref().unwrap_or(""),
                    row.cmdline.as_deref().unwrap_or("")
                )
                .to_lowercase();
                if !hay.contains(f.as_str()) {
                    continue;
                }
            }
            if budget.rows_full(processes.len()) {
                break;
            }
            processes.push(row);
        }
    }
    ProcessList {
        processes,
        vanished,
        limits_hit: budget.hits.clone(),
        elapsed_ms: budget.elapsed_ms(),
    }
}

fn processes_text(list: &ProcessList) -> String {
    let mut out = format!("{} processes\n", list.processes.len());
    out.push_str("PID     PPID    USER        STATE START                 COMMAND\n");
    for p in &list.processes {
        let cmd = p.cmdline.clone().unwrap_or_else(|| format!("[{}]", p.name));
        let cmd: String = cmd
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(160)
            .collect();
        out.push_str(&format!(
            "{:<7} {:<7} {:<11} {:<5} {:<21} {}{}\n",
            p.pid,
            p.ppid,
            p.user.as_deref().unwrap_or("?"),
            p.state,
            p.start_time,
            cmd,
            if p.exe_deleted {
                "  (binary deleted)"
            } else {
                ""
            }
        ));
    }
    out + &limits_text(&list.limits_hit)
}

/// A file mapped into a process.
#[derive(Debug, Serialize, JsonSchema)]
struct Module {
    path: String,
    /// Lowest mapped address, hex.
    base_address: String,
    /// Bytes mapped from this file across all its mappings.
    mapped_bytes: u64,
    /// Permissions seen across the mappings, such as `r-xp`.
    permissions: Vec<String>,
    inode: u64,
    /// The file was deleted (or replaced) after it was mapped.
    deleted: bool,
    /// This is the process's main executable.
    is_main: bool,
}

#[derive(Serialize, JsonSchema)]
struct ModuleList {
    pid: i32,
    name: String,
    modules: Vec<Module>,
    limits_hit: Vec<LimitHit>,
}

fn modules(pid: i32, budget: &mut Budget) -> Result<ModuleList, ToolError> {
    let process = Process::new(pid).map_err(|_| no_such_process(pid))?;
    let name = process
        .stat()
        .map(|s| s.comm)
        .map_err(|_| no_such_process(pid))?;
    let maps = process.maps().map_err(|e| {
        ToolError::failed(format!(
            "cannot read the memory map of process {pid}: {}; run bulwark as the process's user or as root",
            proc_status(&e)
        ))
    })?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.display().to_string());
    let mut by_path: BTreeMap<String, Module> = BTreeMap::new();
    for map in maps.iter() {
        let MMapPath::Path(path) = &map.pathname else {
            continue;
        };
        let text = path.display().to_string();
        let (clean, deleted) = match text.strip_suffix(" (deleted)") {
            Some(c) => (c.to_string(), true),
            None => (text.clone(), false),
        };
        let is_main =
            exe.as_deref().map(|e| e.trim_end_matches(" (deleted)")) == Some(clean.as_str());
        let entry = by_path.entry(clean.clone()).or_insert_with(|| Module {
            path: clean,
            base_address: format!("0x{:x}", map.address.0),
            mapped_bytes: 0,
            permissions: Vec::new(),
            inode: map.inode,
            deleted,
            is_main,
        });
        entry.mapped_bytes += map.address.1 - map.address.0;
        let perms = map.perms.as_str();
        if !entry.permissions.contains(&perms) {
            entry.permissions.push(perms);
        }
    }
    let mut modules: Vec<Module> = by_path.into_values().collect();
    if modules.len() > budget.limits.max_rows {
        budget.rows_full(modules.len());
        modules.truncate(budget.limits.max_rows);
    }
    Ok(ModuleList {
        pid,
        name,
        modules,
        limits_hit: budget.hits.clone(),
    })
}

#[derive(Serialize, JsonSchema)]
struct FoundString {
    /// Address in the process, hex.
    address: String,
    /// `ascii` or `utf16le`.
    encoding: String,
    value: String,
}

#[derive(Serialize, JsonSchema)]
struct StringList {
    pid: i32,
    name: String,
    min_length: usize,
    /// Distinct strings, first occurrence of each.
    strings: Vec<FoundString>,
    memory: MemStats,
    limits_hit: Vec<LimitHit>,
}

fn process_strings(
    pid: i32,
    min_length: usize,
    budget: &mut Budget,
) -> Result<StringList, ToolError> {
    let name = Process::new(pid)
        .and_then(|p| p.stat())
        .map(|s| s.comm)
        .map_err(|_| no_such_process(pid))?;
    let mut seen = std::collections::HashSet::new();
    let mut strings = Vec::new();
    let mut bytes = 0usize;
    let (max_rows, max_bytes) = (budget.limits.max_rows, budget.limits.max_result_bytes);
    let mut full: Option<&'static str> = None;
    let stats = memory::each_region(pid, budget, |region, data| {
        memory::strings(data, min_length, |off, enc, value| {
            if seen.insert(value.clone()) {
                if strings.len() >= max_rows {
                    full = Some("max_rows");
                    return false;
                }
                if bytes + value.len() > max_bytes {
                    full = Some("max_result_bytes");
                    return false;
                }
                bytes += value.len();
                strings.push(FoundString {
                    address: format!("0x{:x}", region.start + off as u64),
                    encoding: enc.into(),
                    value,
                });
            }
            true
        })
    })
    .map_err(|status| memory_error(pid, &status))?;
    match full {
        Some("max_rows") => budget.hit(
            "max_rows",
            max_rows as u64,
            "more strings exist than the result holds",
        ),
        Some(_) => budget.hit(
            "max_result_bytes",
            max_bytes as u64,
            "more strings exist than the result holds",
        ),
        None => {}
    }
    Ok(StringList {
        pid,
        name,
        min_length,
        strings,
        memory: stats,
        limits_hit: budget.hits.clone(),
    })
}

pub fn memory_error(pid: i32, status: &str) -> ToolError {
    if status == "not_found" {
        return no_such_process(pid);
    }
    ToolError::failed(format!(
        "cannot read the memory of process {pid}: {status}; reading another process's memory needs root (or the same user with ptrace allowed)"
    ))
}

#[derive(Serialize, JsonSchema)]
struct StringHit {
    pid: i32,
    name: String,
    string: String,
    /// `ascii` or `utf16le`.
    encoding: String,
    /// Address in the process, hex.
    address: String,
    /// File backing the region, or `[heap]`, `[stack]`; none for anonymous memory.
    region: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct FindResult {
    matches: Vec<StringHit>,
    processes_searched: u64,
    /// Processes whose memory was not searched, and why.
    skipped: Vec<Skipped>,
    limits_hit: Vec<LimitHit>,
    elapsed_ms: u64,
}

/// Pids to search: one, or every process but bulwark itself and kernel threads.
pub fn target_pids(
    pid: Option<i32>,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<(i32, String)>, ToolError> {
    if let Some(pid) = pid {
        check_pid(pid)?;
        let name = Process::new(pid)
            .and_then(|p| p.stat())
            .map(|s| s.comm)
            .map_err(|_| no_such_process(pid))?;
        return Ok(vec![(pid, name)]);
    }
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    for process in procfs::process::all_processes()
        .map_err(|e| ToolError::failed(format!("cannot list processes: {e}")))?
        .flatten()
    {
        let Ok(stat) = process.stat() else { continue };
        if stat.pid == me {
            skipped.push(Skipped {
                pid: me,
                name: stat.comm,
                reason: "self: bulwark's own memory holds the search terms and rules".into(),
            });
        } else if stat.pid == 2 || stat.ppid == 2 {
            continue; // kernel threads have no user memory
        } else {
            pids.push((stat.pid, stat.comm));
        }
    }
    Ok(pids)
}

fn find(
    strings: &[String],
    pid: Option<i32>,
    budget: &mut Budget,
) -> Result<FindResult, ToolError> {
    if strings.is_empty() || strings.iter().any(|s| s.len() < 3) {
        return Err(ToolError::InvalidArguments(
            "field `strings`: give at least one string of 3 or more characters".into(),
        ));
    }
    if strings.len() > 100 {
        return Err(ToolError::InvalidArguments(
            "field `strings`: at most 100 strings per call".into(),
        ));
    }
    let needles: Vec<(String, &'static str, memchr::memmem::Finder<'static>)> = strings
        .iter()
        .flat_map(|s| {
            [
                (
                    s.clone(),
                    "ascii",
                    memchr::memmem::Finder::new(s.as_bytes()).into_owned(),
                ),
                (
                    s.clone(),
                    "utf16le",
                    memchr::memmem::Finder::new(&memory::utf16le(s)).into_owned(),
                ),
            ]
        })
        .collect();
    let mut skipped = Vec::new();
    let targets = target_pids(pid, &mut skipped)?;
    let mut matches = Vec::new();
    let mut searched = 0;
    let max_rows = budget.limits.max_rows;
    const PER_PROCESS: usize = 20;
    for (pid_now, name) in targets {
        if budget.out_of_time() || budget.rows_full(matches.len()) {
            break;
        }
        let mut here = 0usize;
        let result = memory::each_region(pid_now, budget, |region, data| {
            for (text, enc, finder) in &needles {
                for off in finder.find_iter(data) {
                    if here >= PER_PROCESS || matches.len() >= max_rows {
                        return false;
                    }
                    here += 1;
                    matches.push(StringHit {
                        pid: pid_now,
                        name: name.clone(),
                        string: text.clone(),
                        encoding: (*enc).into(),
                        address: format!("0x{:x}", region.start + off as u64),
                        region: region.path.clone(),
                    });
                }
            }
            true
        });
        match result {
            Ok(_) => searched += 1,
            Err(status) if pid.is_some() => return Err(memory_error(pid_now, &status)),
            Err(status) => skipped.push(Skipped {
                pid: pid_now,
                name,
                reason: status,
            }),
        }
        if here >= PER_PROCESS {
            budget.hit(
                "matches_per_process",
                PER_PROCESS as u64,
                "only the first matches in each process are listed",
            );
        }
    }
    Ok(FindResult {
        matches,
        processes_searched: searched,
        skipped,
        limits_hit: budget.hits.clone(),
        elapsed_ms: budget.elapsed_ms(),
    })
}

pub fn tools(live: &Arc<Live>) -> Vec<ToolDef> {
    let l1 = live.clone();
    let l2 = live.clone();
    let l3 = live.clone();
    let l4 = live.clone();
    vec![
        ToolDef::new(
            "get_processes",
            "List the processes of an endpoint: pid, parent, name, executable (and whether it was deleted from disk), command line, user, state, start time, working directory. Fields bulwark may not read are listed per process under `unreadable`.",
        )
        .title("Get processes")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<ProcessList>()
        .handler(move |ctx: CallContext, args: ProcessesArgs| {
            let live = l1.clone();
            async move {
                local_only(&args.sid)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let list = blocking(move || Ok(list_processes(&mut budget, args.filter.as_deref()))).await?;
                render(&list, processes_text(&list))
            }
        }),
        ToolDef::new(
            "get_process_modules",
            "The files mapped into one process (shared libraries, the executable, mapped data files), with base address, mapped size, permissions and whether the file was deleted.",
        )
        .title("Get process modules")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<ModuleList>()
        .handler(move |ctx: CallContext, args: PidArgs| {
            let live = l2.clone();
            async move {
                local_only(&args.sid)?;
                check_pid(args.pid)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let list = blocking(move || modules(args.pid, &mut budget)).await?;
                let mut text = format!("{} modules in {} ({})\n", list.modules.len(), list.pid, list.name);
                for m in &list.modules {
                    text.push_str(&format!(
                        "{} {:>10} {}{}{}\n",
                        m.base_address,
                        m.mapped_bytes,
                        m.path,
                        if m.is_main { "  [main]" } else { "" },
                        if m.deleted { "  (deleted)" } else { "" }
                    ));
                }
                text.push_str(&limits_text(&list.limits_hit));
                render(&list, text)
            }
        }),
        ToolDef::new(
            "get_process_strings",
            "Printable strings (ASCII and UTF-16LE) in the readable memory of one process, each with its address; distinct strings only.",
        )
        .title("Get process strings")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<StringList>()
        .handler(move |ctx: CallContext, args: StringsArgs| {
            let live = l3.clone();
            async move {
                local_only(&args.sid)?;
                check_pid(args.pid)?;
                let min = args.min_length.unwrap_or(6);
                if !(3..=1024).contains(&min) {
                    return Err(ToolError::InvalidArguments(format!(
                        "field `min_length`: {min} is out of range; use 3 to 1024"
                    )));
                }
                let mut budget = Budget::new(live.config.limits, &ctx);
                let list = blocking(move || process_strings(args.pid, min, &mut budget)).await?;
                let mut text = format!(
                    "{} strings of {}+ characters in {} ({}), {} bytes read\n",
                    list.strings.len(),
                    min,
                    list.pid,
                    list.name,
                    list.memory.bytes_read
                );
                for s in list.strings.iter().take(200) {
                    text.push_str(&format!("{} {} {}\n", s.address, s.encoding, s.value));
                }
                if list.strings.len() > 200 {
                    text.push_str("... (all strings are in the structured result)\n");
                }
                text.push_str(&limits_text(&list.limits_hit));
                render(&list, text)
            }
        }),
        ToolDef::new(
            "find_strings",
            "Search process memory for strings (as ASCII/UTF-8 and UTF-16LE): one process with `pid`, or every process bulwark may read. Processes it cannot read are listed under `skipped` with the reason.",
        )
        .title("Find strings")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<FindResult>()
        .handler(move |ctx: CallContext, args: FindArgs| {
            let live = l4.clone();
            async move {
                local_only(&args.sid)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let result = blocking(move || find(&args.strings, args.pid, &mut budget)).await?;
                let mut text = format!(
                    "{} matches in {} processes searched ({} skipped)\n",
                    result.matches.len(),
                    result.processes_searched,
                    result.skipped.len()
                );
                for m in &result.matches {
                    text.push_str(&format!(
                        "pid {} ({}) {} {} \"{}\" {}\n",
                        m.pid,
                        m.name,
                        m.address,
                        m.encoding,
                        m.string,
                        m.region.as_deref().unwrap_or("[anonymous]")
                    ));
                }
                text.push_str(&limits_text(&result.limits_hit));
                render(&result, text)
            }
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Limits;

    #[test]
    fn lists_this_process_with_its_command_line() {
        let mut budget = Budget::for_tests(Limits::default());
        let list = list_processes(&mut budget, None);
        let me = std::process::id() as i32;
        let row = list
            .processes
            .iter()
            .find(|p| p.pid == me)
            .expect("self listed");
        assert_eq!(row.ppid, std::os::unix::process::parent_id() as i32);
        assert!(row.exe.as_deref().unwrap().contains("bulwark_dfir"));
        assert!(!row.exe_deleted);
        assert!(list.processes.iter().any(|p| p.pid == 1));
    }

    #[test]
    fn row_limit_is_reported() {
        let mut budget = Budget::for_tests(Limits {
            max_rows: 1,
            ..Limits::default()
        });
        let list = list_processes(&mut budget, None);
        assert_eq!(list.processes.len(), 1);
        assert_eq!(list.limits_hit[0].limit, "max_rows");
    }

    #[test]
    fn modules_include_the_main_executable() {
        let mut budget = Budget::for_tests(Limits::default());
        let list = modules(std::process::id() as i32, &mut budget).unwrap();
        assert!(list.modules.iter().any(|m| m.is_main));
    }

    #[test]
    fn missing_process_is_named() {
        let err = one_process(i32::MAX - 1).unwrap_err().to_string();
        assert!(err.contains("no process"), "{err}");
    }
}
