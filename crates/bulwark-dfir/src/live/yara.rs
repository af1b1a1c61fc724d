//! YARA scanning with yara-x: files, directory trees, one process's memory,
//! or every readable process. Rules come inline or by name from
//! `live.rules_dir`; compiled rule sets are cached by the SHA-256 of their
//! sources. Matches carry each rule's `author` (the signature-base rules are
//! under DRL 1.1, which asks for it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulwark_core::{CallContext, Severity, ToolDef, ToolError};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Live;
use super::common::{Budget, LimitHit, blocking, io_status, limits_text, local_only, render};
use super::files::walk_status;
use super::memory::{self, MemStats, Skipped};
use super::procs::{memory_error, target_pids};

/// Compiled rule sets by the SHA-256 of their sources.
#[derive(Default)]
pub struct RulesCache {
    sets: Mutex<HashMap<[u8; 32], Arc<yara_x::Rules>>>,
}

const CACHE_SETS: usize = 16;

/// Rules named in a call, with where they came from.
#[derive(Deserialize, JsonSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct RuleArgs {
    /// YARA rule source text, given inline.
    #[serde(default)]
    rule: Option<String>,
    /// A rule file in the configured rules directory (`gen_webshells` or
    /// `gen_webshells.yar`), or `*` for every file there.
    #[serde(default)]
    rule_name: Option<String>,
}

/// Sources (origin, text) a call asked for.
fn sources(live: &Live, args: &RuleArgs) -> Result<Vec<(String, String)>, ToolError> {
    match (&args.rule, &args.rule_name) {
        (Some(_), Some(_)) => Err(ToolError::InvalidArguments(
            "give either `rule` (inline source) or `rule_name` (a file in the rules directory), not both".into(),
        )),
        (None, None) => Err(ToolError::InvalidArguments(
            "give `rule` (inline YARA source) or `rule_name` (a file in live.rules_dir, or `*` for all)".into(),
        )),
        (Some(text), None) => {
            if text.len() > 8 * 1024 * 1024 {
                return Err(ToolError::InvalidArguments("field `rule`: over 8 MiB of rule text".into()));
            }
            Ok(vec![("rule".into(), text.clone())])
        }
        (None, Some(name)) => {
            let dir = live.config.rules_dir.as_ref().ok_or_else(|| {
                ToolError::failed(
                    "field `rule_name`: no rules directory is configured; set `live.rules_dir` or pass the rule inline in `rule`",
                )
            })?;
            let files = rule_files(dir)?;
            if name == "*" {
                if files.is_empty() {
                    return Err(ToolError::failed(format!(
                        "field `rule_name`: the rules directory {} holds no .yar or .yara files",
                        dir.display()
                    )));
                }
                return files.iter().map(|p| read_rule(p)).collect();
            }
            if name.contains('/') || name.contains("..") || name.contains('\0') {
                return Err(ToolError::InvalidArguments(format!(
                    "field `rule_name`: `{name}` must be a file name in the rules directory, without `/` or `..`"
                )));
            }
            let found = files.iter().find(|p| {
                let file = p.file_name().and_then(|f| f.to_str()).unwrap_or("");
                let stem = p.file_stem().and_then(|f| f.to_str()).unwrap_or("");
                file == name || stem == name
            });
            match found {
                Some(p) => Ok(vec![read_rule(p)?]),
                None => Err(ToolError::failed(format!(
                    "field `rule_name`: no rule file `{name}` in {} ({} files there; `*` uses them all)",
                    dir.display(),
                    files.len()
                ))),
            }
        }
    }
}

fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, ToolError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        ToolError::failed(format!(
            "cannot read the rules directory {}: {}",
            dir.display(),
            io_status(&e)
        ))
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yar" | "yara")))
        .collect();
    files.sort();
    Ok(files)
}

fn read_rule(path: &Path) -> Result<(String, String), ToolError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ToolError::failed(format!(
            "cannot read rule file {}: {}",
            path.display(),
            io_status(&e)
        ))
    })?;
    let origin = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok((origin, text))
}

/// `--> origin:line:col` of a yara-x report, as (origin, line, column).
fn location(report: &str) -> Option<(String, u32, u32)> {
    let at = report.find("--> ")?;
    let rest = report[at + 4..].lines().next()?;
    let mut parts = rest.rsplitn(3, ':');
    let col = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    Some((parts.next()?.to_string(), line, col))
}

/// Compile (or fetch from the cache) the rules from these sources.
pub fn compile(
    cache: &RulesCache,
    sources: &[(String, String)],
) -> Result<(Arc<yara_x::Rules>, bool), ToolError> {
    let mut h = Sha256::new();
    for (origin, text) in sources {
        h.update(origin.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    let key: [u8; 32] = h.finalize().into();
    if let Some(rules) = cache
        .sets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
    {
        return Ok((rules.clone(), true));
    }
    let mut compiler = yara_x::Compiler::new();
    compiler.colorize_errors(false);
    let mut problems = Vec::new();
    for (origin, text) in sources {
        if let Err(err) = compiler
            .add_source(yara_x::SourceCode::from(text.as_str()).with_origin(origin.as_str()))
        {
            problems.push(err.to_string());
        }
    }
    for err in compiler.errors() {
        let text = err.to_string();
        if !problems.contains(&text) {
            problems.push(text);
        }
    }
    if !problems.is_empty() {
        let first = &problems[0];
        let title = first.lines().next().unwrap_or("").trim().to_string();
        let place = location(first)
            .map(|(origin, line, col)| format!("{origin} line {line}, column {col}: "))
            .unwrap_or_default();
        return Err(ToolError::failed(format!(
            "the YARA rules do not compile ({} error{}): {place}{title}\n\n{}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("\n")
        )));
    }
    let rules = Arc::new(compiler.build());
    let mut sets = cache.sets.lock().unwrap_or_else(|e| e.into_inner());
    if sets.len() >= CACHE_SETS {
        sets.clear();
    }
    sets.insert(key, rules.clone());
    Ok((rules, false))
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MatchedString {
    /// Pattern identifier, such as `$s1`.
    identifier: String,
    /// Offset in the file, or address in the process (hex for memory).
    offset: String,
    length: usize,
    /// The matched bytes, printable ASCII kept and the rest as `\xNN` (first 64 bytes).
    data: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct YaraMatch {
    /// File path, or `pid N` for process memory.
    target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<i32>,
    /// Memory region (mapped file, `[heap]`, `[stack]`), for process scans.
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    rule: String,
    namespace: String,
    tags: Vec<String>,
    /// The rule's `author` meta (kept with every match, as the DRL licence asks).
    author: Option<String>,
    description: Option<String>,
    reference: Option<String>,
    /// Every meta value of the rule.
    meta: serde_json::Value,
    strings: Vec<MatchedString>,
}

fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(64) {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Matches of one scan, `base` added to offsets (region address for memory).
fn collect(
    results: &yara_x::ScanResults,
    target: &str,
    pid: Option<i32>,
    region: Option<&str>,
    base: Option<u64>,
) -> Vec<YaraMatch> {
    results
        .matching_rules()
        .map(|rule| {
            let mut meta_map = serde_json::Map::new();
            for (k, v) in rule.metadata() {
                let value = match v {
                    yara_x::MetaValue::Integer(i) => serde_json::json!(i),
                    yara_x::MetaValue::Float(f) => serde_json::json!(f),
                    yara_x::MetaValue::Bool(b) => serde_json::json!(b),
                    yara_x::MetaValue::String(s) => serde_json::json!(s),
                    yara_x::MetaValue::Bytes(b) => serde_json::json!(escape(b)),
                };
                meta_map.insert(k.to_string(), value);
            }
            let text = |k: &str| meta_map.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let mut strings = Vec::new();
            for pattern in rule.patterns() {
                for m in pattern.matches().take(10) {
                    let range = m.range();
                    strings.push(MatchedString {
                        identifier: pattern.identifier().to_string(),
                        offset: match base {
                            Some(b) => format!("0x{:x}", b + range.start as u64),
                            None => range.start.to_string(),
                        },
                        length: range.len(),
                        data: escape(m.data()),
                    });
                }
            }
            YaraMatch {
                target: target.to_string(),
                pid,
                region: region.map(str::to_string),
                rule: rule.identifier().to_string(),
                namespace: rule.namespace().to_string(),
                tags: rule.tags().map(|t| t.identifier().to_string()).collect(),
                author: text("author"),
                description: text("description"),
                reference: text("reference"),
                meta: serde_json::Value::Object(meta_map),
                strings,
            }
        })
        .collect()
}

#[derive(Serialize, JsonSchema)]
struct ScanReport {
    matches: Vec<YaraMatch>,
    rules: usize,
    /// The compiled rules came from the cache.
    rules_cached: bool,
    files_scanned: u64,
    bytes_scanned: u64,
    /// Targets not scanned, with why (`permission_denied`, `too_large`, `timeout`...).
    skipped: Vec<SkippedTarget>,
    limits_hit: Vec<LimitHit>,
    elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
struct SkippedTarget {
    target: String,
    reason: String,
}

#[derive(Serialize, JsonSchema)]
struct MemoryReport {
    matches: Vec<YaraMatch>,
    rules: usize,
    rules_cached: bool,
    processes_scanned: u64,
    memory: MemStats,
    skipped: Vec<Skipped>,
    limits_hit: Vec<LimitHit>,
    elapsed_ms: u64,
}

/// Directories of pseudo file systems a tree walk from `/` must not enter.
const PSEUDO: &[&str] = &["/proc", "/sys", "/dev", "/run"];

fn scan_files(
    rules: &yara_x::Rules,
    root: &Path,
    glob: Option<&globset::GlobMatcher>,
    depth: usize,
    budget: &mut Budget,
) -> (Vec<YaraMatch>, u64, u64, Vec<SkippedTarget>) {
    let max_file = budget.limits.max_file_bytes;
    let mut skipped = Vec::new();
    let mut files = Vec::new();
    let pseudo_ok = PSEUDO.iter().any(|p| root.starts_with(p));
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .max_depth(depth)
        .into_iter()
        .filter_entry(|e| pseudo_ok || !PSEUDO.iter().any(|p| e.path() == Path::new(p)));
    for item in walker {
        if budget.out_of_time() {
            break;
        }
        match item {
            Ok(e) if e.file_type().is_file() => {
                if let Some(g) = glob {
                    let rel = e.path().strip_prefix(root).unwrap_or(e.path());
                    if !g.is_match(rel) && !g.is_match(e.file_name()) {
                        continue;
                    }
                }
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                if len > max_file {
                    budget.hit("max_file_bytes", max_file, "larger files were not scanned");
                    skipped.push(SkippedTarget {
                        target: e.path().display().to_string(),
                        reason: format!("too_large: {len} bytes"),
                    });
                    continue;
                }
                files.push((e.into_path(), len));
            }
            Ok(_) => {}
            Err(err) => skipped.push(SkippedTarget {
                target: err
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                reason: walk_status(&err),
            }),
        }
    }
    let shared = budget.clone();
    let results: Vec<Result<(Vec<YaraMatch>, u64), SkippedTarget>> = files
        .into_par_iter()
        .map_init(
            || yara_x::Scanner::new(rules),
            |scanner, (path, len)| {
                let target = path.display().to_string();
                if shared.expired() {
                    return Err(SkippedTarget {
                        target,
                        reason: "timeout: call budget spent".into(),
                    });
                }
                let remaining = Duration::from_secs(shared.limits.max_duration.as_secs().max(1));
                scanner.set_timeout(remaining);
                match scanner.scan_file(&path) {
                    Ok(results) => Ok((collect(&results, &target, None, None, None), len)),
                    Err(yara_x::errors::ScanError::Timeout) => Err(SkippedTarget {
                        target,
                        reason: "timeout".into(),
                    }),
                    Err(yara_x::errors::ScanError::OpenError { err, .. })
                    | Err(yara_x::errors::ScanError::MapError { err, .. }) => Err(SkippedTarget {
                        target,
                        reason: io_status(&err),
                    }),
                    Err(e) => Err(SkippedTarget {
                        target,
                        reason: format!("error: {e}"),
                    }),
                }
            },
        )
        .collect();
    if shared.expired() {
        budget.out_of_time();
    }
    let mut matches = Vec::new();
    let (mut count, mut bytes) = (0, 0);
    for r in results {
        match r {
            Ok((m, len)) => {
                count += 1;
                bytes += len;
                matches.extend(m);
            }
            Err(s) => skipped.push(s),
        }
    }
    if matches.len() > budget.limits.max_rows {
        budget.rows_full(matches.len());
        matches.truncate(budget.limits.max_rows);
    }
    (matches, count, bytes, skipped)
}

fn scan_memory(
    rules: &yara_x::Rules,
    pid: Option<i32>,
    budget: &mut Budget,
) -> Result<(Vec<YaraMatch>, u64, MemStats, Vec<Skipped>), ToolError> {
    let mut skipped = Vec::new();
    let targets = target_pids(pid, &mut skipped)?;
    let base = budget.clone();
    type One = (
        i32,
        String,
        Result<(Vec<YaraMatch>, MemStats), String>,
        Vec<LimitHit>,
    );
    let results: Vec<One> = targets
        .into_par_iter()
        .map_init(
            || yara_x::Scanner::new(rules),
            |scanner, (pid_now, name)| {
                let mut local = base.clone();
                local.hits.clear();
                let mut found = Vec::new();
                let target = format!("pid {pid_now}");
                let r = memory::each_region(pid_now, &mut local, |region, data| {
                    if let Ok(results) = scanner.scan(data) {
                        found.extend(collect(
                            &results,
                            &target,
                            Some(pid_now),
                            region.path.as_deref(),
                            Some(region.start),
                        ));
                    }
                    true
                });
                (pid_now, name, r.map(|s| (found, s)), local.hits)
            },
        )
        .collect();
    let mut matches = Vec::new();
    let mut stats = MemStats::default();
    let mut scanned = 0;
    for (pid_now, name, r, hits) in results {
        for h in hits {
            budget.hit(&h.limit, h.value, &h.effect);
        }
        match r {
            Ok((m, s)) => {
                scanned += 1;
                stats.regions_read += s.regions_read;
                stats.regions_unreadable += s.regions_unreadable;
                stats.bytes_read += s.bytes_read;
                matches.extend(m);
            }
            Err(status) if pid.is_some() => return Err(memory_error(pid_now, &status)),
            Err(status) => skipped.push(Skipped {
                pid: pid_now,
                name,
                reason: status,
            }),
        }
    }
    if matches.len() > budget.limits.max_rows {
        budget.rows_full(matches.len());
        matches.truncate(budget.limits.max_rows);
    }
    Ok((matches, scanned, stats, skipped))
}

fn matches_text(matches: &[YaraMatch]) -> String {
    let mut out = String::new();
    for m in matches {
        out.push_str(&format!(
            "MATCH {} (author: {}) {}{}{}\n",
            m.rule,
            m.author.as_deref().unwrap_or("unknown"),
            m.target,
            m.region
                .as_ref()
                .map(|r| format!(" in {r}"))
                .unwrap_or_default(),
            m.strings
                .first()
                .map(|s| format!(" at {} {}=\"{}\"", s.offset, s.identifier, s.data))
                .unwrap_or_default()
        ));
    }
    out
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FileArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Absolute file path.
    path: String,
    #[serde(flatten)]
    rules: RuleArgs,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DirArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Absolute directory to scan recursively (symlinks are not followed; /proc, /sys, /dev, /run are skipped).
    root: String,
    /// Only files whose name or path relative to `root` matches this glob, such as `*.php` or `**/bin/*`.
    #[serde(default)]
    glob: Option<String>,
    /// Levels to descend (default and maximum: live.max_depth).
    #[serde(default)]
    depth: Option<usize>,
    #[serde(flatten)]
    rules: RuleArgs,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProcArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Process id.
    pid: i32,
    #[serde(flatten)]
    rules: RuleArgs,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MemArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    #[serde(flatten)]
    rules: RuleArgs,
}

fn file_report(
    matches: Vec<YaraMatch>,
    rules: &yara_x::Rules,
    cached: bool,
    files: u64,
    bytes: u64,
    skipped: Vec<SkippedTarget>,
    budget: &Budget,
) -> ScanReport {
    ScanReport {
        matches,
        rules: rules.iter().len(),
        rules_cached: cached,
        files_scanned: files,
        bytes_scanned: bytes,
        skipped,
        limits_hit: budget.hits.clone(),
        elapsed_ms: budget.elapsed_ms(),
    }
}

fn scan_text(r: &ScanReport) -> String {
    let mut out = format!(
        "{} matches; {} rules over {} files ({} bytes), {} skipped, {} ms\n",
        r.matches.len(),
        r.rules,
        r.files_scanned,
        r.bytes_scanned,
        r.skipped.len(),
        r.elapsed_ms
    );
    out.push_str(&matches_text(&r.matches));
    for s in r.skipped.iter().take(50) {
        out.push_str(&format!("skipped {}: {}\n", s.target, s.reason));
    }
    out + &limits_text(&r.limits_hit)
}

fn memory_text(r: &MemoryReport) -> String {
    let mut out = format!(
        "{} matches; {} rules over {} processes ({} bytes of memory), {} skipped, {} ms\n",
        r.matches.len(),
        r.rules,
        r.processes_scanned,
        r.memory.bytes_read,
        r.skipped.len(),
        r.elapsed_ms
    );
    out.push_str(&matches_text(&r.matches));
    for s in r.skipped.iter().take(50) {
        out.push_str(&format!(
            "skipped pid {} ({}): {}\n",
            s.pid, s.name, s.reason
        ));
    }
    out + &limits_text(&r.limits_hit)
}

pub fn tools(live: &Arc<Live>) -> Vec<ToolDef> {
    let (l1, l2, l3, l4) = (live.clone(), live.clone(), live.clone(), live.clone());
    let rules_note = "Rules: `rule` (inline source) or `rule_name` (a file in the configured rules directory, `*` for all). Matches carry each rule's author.";
    vec![
        ToolDef::new(
            "yara_scan_file",
            format!("Scan one file of an endpoint with YARA rules (yara-x). {rules_note}"),
        )
        .title("YARA scan file")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<ScanReport>()
        .handler(move |ctx: CallContext, args: FileArgs| {
            let live = l1.clone();
            async move {
                local_only(&args.sid)?;
                let path = live.roots.resolve("path", &args.path)?;
                let srcs = sources(&live, &args.rules)?;
                let budget = Budget::new(live.config.limits, &ctx);
                let report = blocking(move || {
                    let (rules, cached) = compile(&live.rules, &srcs)?;
                    let m = std::fs::metadata(&path).map_err(|e| ToolError::failed(format!("field `path`: {}", io_status(&e))))?;
                    if !m.is_file() {
                        return Err(ToolError::failed(format!(
                            "field `path`: `{}` is not a regular file; use yara_scan_directory for directories",
                            path.display()
                        )));
                    }
                    let max = budget.limits.max_file_bytes;
                    if m.len() > max {
                        return Err(ToolError::failed(format!(
                            "field `path`: `{}` is {} bytes, over the limit live.max_file_bytes = {max}; raise it to scan this file",
                            path.display(),
                            m.len()
                        )));
                    }
                    let mut scanner = yara_x::Scanner::new(&rules);
                    scanner.set_timeout(budget.limits.max_duration);
                    let target = path.display().to_string();
                    let results = scanner.scan_file(&path).map_err(|e| {
                        ToolError::failed(format!("cannot scan `{target}`: {e}"))
                    })?;
                    let matches = collect(&results, &target, None, None, None);
                    Ok(file_report(matches, &rules, cached, 1, m.len(), Vec::new(), &budget))
                })
                .await?;
                render(&report, scan_text(&report))
            }
        }),
        ToolDef::new(
            "yara_scan_directory",
            format!("Scan a directory tree of an endpoint with YARA rules, files in parallel; `glob` filters files, `depth` bounds the walk. Unreadable and oversized files are listed under `skipped`. {rules_note}"),
        )
        .title("YARA scan directory")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<ScanReport>()
        .handler(move |ctx: CallContext, args: DirArgs| {
            let live = l2.clone();
            async move {
                local_only(&args.sid)?;
                let root = live.roots.resolve("root", &args.root)?;
                if !root.is_dir() {
                    return Err(ToolError::failed(format!(
                        "field `root`: `{}` is not a directory; use yara_scan_file for files",
                        args.root
                    )));
                }
                let max_depth = live.config.limits.max_depth;
                let depth = args.depth.unwrap_or(max_depth);
                if depth == 0 || depth > max_depth {
                    return Err(ToolError::InvalidArguments(format!(
                        "field `depth`: {depth} is out of range; use 1 to {max_depth} (live.max_depth)"
                    )));
                }
                let glob = match &args.glob {
                    Some(g) => Some(
                        globset::Glob::new(g)
                            .map_err(|e| ToolError::InvalidArguments(format!("field `glob`: {e}")))?
                            .compile_matcher(),
                    ),
                    None => None,
                };
                let srcs = sources(&live, &args.rules)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let report = blocking(move || {
                    let (rules, cached) = compile(&live.rules, &srcs)?;
                    let (matches, files, bytes, skipped) = scan_files(&rules, &root, glob.as_ref(), depth, &mut budget);
                    Ok(file_report(matches, &rules, cached, files, bytes, skipped, &budget))
                })
                .await?;
                render(&report, scan_text(&report))
            }
        }),
        ToolDef::new(
            "yara_scan_process",
            format!("Scan the readable memory of one process of an endpoint with YARA rules; match offsets are addresses. {rules_note}"),
        )
        .title("YARA scan process")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<MemoryReport>()
        .handler(move |ctx: CallContext, args: ProcArgs| {
            let live = l3.clone();
            async move {
                local_only(&args.sid)?;
                if args.pid <= 0 {
                    return Err(ToolError::InvalidArguments(format!(
                        "field `pid`: {} is not a process id; give a positive pid from get_processes",
                        args.pid
                    )));
                }
                let srcs = sources(&live, &args.rules)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let report = blocking(move || {
                    let (rules, cached) = compile(&live.rules, &srcs)?;
                    let (matches, n, memory, skipped) = scan_memory(&rules, Some(args.pid), &mut budget)?;
                    Ok(MemoryReport {
                        matches,
                        rules: rules.iter().len(),
                        rules_cached: cached,
                        processes_scanned: n,
                        memory,
                        skipped,
                        limits_hit: budget.hits.clone(),
                        elapsed_ms: budget.elapsed_ms(),
                    })
                })
                .await?;
                render(&report, memory_text(&report))
            }
        }),
        ToolDef::new(
            "yara_scan_memory",
            format!("Scan the memory of every process of an endpoint that bulwark may read (not bulwark itself) with YARA rules. Unreadable processes are listed under `skipped`. {rules_note}"),
        )
        .title("YARA scan memory")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<MemoryReport>()
        .handler(move |ctx: CallContext, args: MemArgs| {
            let live = l4.clone();
            async move {
                local_only(&args.sid)?;
                let srcs = sources(&live, &args.rules)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let report = blocking(move || {
                    let (rules, cached) = compile(&live.rules, &srcs)?;
                    let (matches, n, memory, skipped) = scan_memory(&rules, None, &mut budget)?;
                    Ok(MemoryReport {
                        matches,
                        rules: rules.iter().len(),
                        rules_cached: cached,
                        processes_scanned: n,
                        memory,
                        skipped,
                        limits_hit: budget.hits.clone(),
                        elapsed_ms: budget.elapsed_ms(),
                    })
                })
                .await?;
                render(&report, memory_text(&report))
            }
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Limits;

    const RULE: &str = r#"rule planted_marker {
  meta:
    author = "bulwark tests"
    description = "test marker"
  strings:
    $a = "bulwark-planted-" ascii
  condition:
    $a
}"#;

    #[test]
    fn compile_errors_carry_line_numbers_and_cache_hits() {
        let cache = RulesCache::default();
        let bad = "rule x {\n  strings:\n    $a = \"x\"\n  condition:\n    $b\n}\n";
        let err = compile(&cache, &[("rule".into(), bad.into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 5"), "{err}");
        let (_, cached) = compile(&cache, &[("rule".into(), RULE.into())]).unwrap();
        assert!(!cached);
        let (_, cached) = compile(&cache, &[("rule".into(), RULE.into())]).unwrap();
        assert!(cached);
    }

    #[test]
    fn directory_scan_finds_planted_file_with_author() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("deep/er")).unwrap();
        std::fs::write(
            dir.path().join("deep/er/evil.php"),
            b"<?php bulwark-planted-123 ?>",
        )
        .unwrap();
        std::fs::write(dir.path().join("deep/clean.php"), b"<?php echo 1; ?>").unwrap();
        std::fs::write(dir.path().join("deep/er/evil.txt"), b"bulwark-planted-456").unwrap();
        let cache = RulesCache::default();
        let (rules, _) = compile(&cache, &[("rule".into(), RULE.into())]).unwrap();
        let glob = globset::Glob::new("*.php").unwrap().compile_matcher();
        let mut budget = Budget::for_tests(Limits::default());
        let (matches, files, _, _) = scan_files(&rules, dir.path(), Some(&glob), 8, &mut budget);
        assert_eq!(files, 2);
        assert_eq!(matches.len(), 1);
        assert!(matches[0].target.ends_with("evil.php"));
        assert_eq!(matches[0].author.as_deref(), Some("bulwark tests"));
        let mut budget = Budget::for_tests(Limits::default());
        let (matches, _, _, _) = scan_files(&rules, dir.path(), None, 1, &mut budget);
        assert!(matches.is_empty(), "depth 1 stays at the top");
    }

    #[test]
    fn locations_parse() {
        let report = "error[E009]: unknown pattern `$b`\n --> rule:5:5\n  |";
        assert_eq!(location(report), Some(("rule".into(), 5, 5)));
    }
}
