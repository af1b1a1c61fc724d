//! The parallel tree walk behind [`scan_tree`].

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fs::File;
use std::io::{IsTerminal, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ignore::{WalkBuilder, WalkState};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::suppress::is_suppressed;
use crate::{
    DEPENDENCY_DIRS, FileDetector, Finding, Location, Note, NoteKind, Rule, ScanError, ScanOptions,
    ScanReport,
};

/// How far into a file NUL bytes mark it as binary.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// The name of bulwark's own ignore file (gitignore syntax).
pub const IGNORE_FILE: &str = ".bulwarkignore";

struct Candidate {
    abs: PathBuf,
    rel: String,
    /// Indexes into the detector list of the detectors that want this file.
    detectors: Vec<usize>,
    symlink: bool,
    /// Inside a dependency directory (and those are not analysed in full).
    dependency: bool,
}

#[derive(Default)]
pub(crate) struct FileOutcome {
    pub(crate) findings: Vec<Finding>,
    pub(crate) notes: Vec<Note>,
    pub(crate) scanned: bool,
    pub(crate) bytes: u64,
}

/// Walks `options.root` in parallel and runs the detectors on every text file
/// they want. `.gitignore` (when `respect_gitignore`) and `.bulwarkignore`
/// are honoured, `.git` is never entered and symbolic links are not followed.
/// Findings silenced by a `bulwark-ignore` comment are dropped. Files that
/// cannot be scanned become [`Note`]s; only a missing root is an error.
pub fn scan_tree(options: &ScanOptions) -> Result<ScanReport, ScanError> {
    let started = Instant::now();
    let root = options
        .root
        .canonicalize()
        .map_err(|_| ScanError::RootNotFound(options.root.clone()))?;
    let base = if root.is_file() {
        root.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        root.clone()
    };
    let only = options
        .only_paths
        .as_ref()
        .map(|paths| only_set(paths, &options.root, &base));

    let (mut candidates, mut notes) = walk(options, &root, &base, only.as_ref());
    candidates.sort_by(|a, b| a.rel.cmp(&b.rel));

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .thread_name(|i| format!("bulwark-scan-{i}"))
        .build()
        .map_err(|e| ScanError::Threads(e.to_string()))?;
    let bar = progress_bar(options.progress, candidates.len() as u64);
    let outcomes: Vec<FileOutcome> = pool.install(|| {
        candidates
            .par_iter()
            .map(|candidate| {
                let outcome = if candidate.symlink {
                    FileOutcome {
                        notes: vec![note(
                            &candidate.rel,
                            NoteKind::Symlink,
                            "symbolic links are not followed",
                        )],
                        ..FileOutcome::default()
                    }
                } else {
                    let detectors: Vec<&Arc<dyn FileDetector>> = candidate
                        .detectors
                        .iter()
                        .map(|&i| &options.detectors[i])
                        .collect();
                    scan_file(
                        &candidate.abs,
                        &candidate.rel,
                        &detectors,
                        options.max_file_bytes,
                        candidate.dependency,
                    )
                };
                bar.inc(1);
                outcome
            })
            .collect()
    });
    bar.finish_and_clear();

    let mut report = ScanReport {
        root: Some(base),
        ..ScanReport::default()
    };
    for outcome in outcomes {
        report.findings.extend(outcome.findings);
        notes.extend(outcome.notes);
        report.files_scanned += usize::from(outcome.scanned);
        report.bytes_scanned += outcome.bytes;
    }
    report.notes = notes;
    report.rules = collect_rules(&options.detectors);
    finish(&mut report);
    report.duration = started.elapsed();
    Ok(report)
}

fn progress_bar(wanted: bool, len: u64) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} scanning {bar:40} {pos}/{len} files ({per_sec}, {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// The `only_paths` as root-relative `/`-separated strings.
fn only_set(paths: &[PathBuf], given_root: &Path, base: &Path) -> HashSet<String> {
    let mut set = HashSet::new();
    for path in paths {
        let absolute = if path.is_absolute() {
            path.clone()
        } else {
            given_root.join(path)
        };
        let absolute = absolute.canonicalize().unwrap_or(absolute);
        if let Ok(rel) = absolute.strip_prefix(base) {
            set.insert(rel_string(rel));
        } else if path.is_relative() {
            set.insert(rel_string(path));
        }
    }
    set
}

pub(crate) fn rel_string(rel: &Path) -> String {
    let mut out = String::new();
    for component in rel.components() {
        if let Component::Normal(part) = component {
            if !out.is_empty() {
                out.push('/');
            }
            out.push_str(&part.to_string_lossy());
        }
    }
    out
}

fn walk(
    options: &ScanOptions,
    root: &Path,
    base: &Path,
    only: Option<&HashSet<String>>,
) -> (Vec<Candidate>, Vec<Note>) {
    let git = options.respect_gitignore;
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .parents(true)
        .ignore(git)
        .git_ignore(git)
        .git_global(git)
        .git_exclude(git)
        .require_git(false)
        .follow_links(false)
        .threads(options.threads)
        .add_custom_ignore_filename(IGNORE_FILE)
        .filter_entry(|entry| entry.file_name() != ".git");
    let candidates = Mutex::new(Vec::new());
    let notes = Mutex::new(Vec::new());
    builder.build_parallel().run(|| {
        Box::new(|entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    let (path, detail) = describe_walk_error(&error, base);
                    notes
                        .lock()
                        .unwrap()
                        .push(note(&path, NoteKind::Unreadable, &detail));
                    return WalkState::Continue;
                }
            };
            let Some(file_type) = entry.file_type() else {
                return WalkState::Continue;
            };
            if file_type.is_dir() {
                return WalkState::Continue;
            }
            let rel = match entry.path().strip_prefix(base) {
                Ok(rel) => rel_string(rel),
                Err(_) => entry.path().to_string_lossy().into_owned(),
            };
            if only.is_some_and(|set| !set.contains(&rel)) {
                return WalkState::Continue;
            }
            let detectors: Vec<usize> = options
                .detectors
                .iter()
                .enumerate()
                .filter(|(_, d)| d.applies_to(&rel))
                .map(|(i, _)| i)
                .collect();
            if detectors.is_empty() {
                return WalkState::Continue;
            }
            let dependency = !options.analyze_dependencies && in_dependency_dir(entry.path());
            candidates.lock().unwrap().push(Candidate {
                abs: entry.path().to_path_buf(),
                rel,
                detectors,
                symlink: file_type.is_symlink(),
                dependency,
            });
            WalkState::Continue
        })
    });
    (
        candidates.into_inner().unwrap_or_default(),
        notes.into_inner().unwrap_or_default(),
    )
}

/// Whether a directory of `path` (not its file name) is one of [`DEPENDENCY_DIRS`].
pub(crate) fn in_dependency_dir(path: &Path) -> bool {
    path.parent().is_some_and(|dir| {
        dir.components().any(|c| match c {
            Component::Normal(name) => name
                .to_str()
                .is_some_and(|name| DEPENDENCY_DIRS.contains(&name)),
            _ => false,
        })
    })
}

fn describe_walk_error(error: &ignore::Error, base: &Path) -> (String, String) {
    let mut current = error;
    loop {
        match current {
            ignore::Error::WithPath { path, err } => {
                let rel = path
                    .strip_prefix(base)
                    .map(rel_string)
                    .unwrap_or_else(|_| path.to_string_lossy().into_owned());
                return (rel, err.to_string());
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                current = err
            }
            ignore::Error::Loop { child, .. } => {
                let rel = child
                    .strip_prefix(base)
                    .map(rel_string)
                    .unwrap_or_else(|_| child.to_string_lossy().into_owned());
                return (rel, error.to_string());
            }
            other => return (String::new(), other.to_string()),
        }
    }
}

pub(crate) fn note(path: &str, kind: NoteKind, detail: &str) -> Note {
    Note {
        path: path.to_string(),
        kind,
        detail: detail.to_string(),
    }
}

/// Reads one file and runs `detectors` on it; every failure is a note.
pub(crate) fn scan_file(
    abs: &Path,
    rel: &str,
    detectors: &[&Arc<dyn FileDetector>],
    max_bytes: u64,
    dependency: bool,
) -> FileOutcome {
    let mut outcome = FileOutcome::default();
    let text = match read_text(abs, max_bytes) {
        Ok(text) => text,
        Err((kind, detail)) => {
            outcome.notes.push(note(rel, kind, &detail));
            return outcome;
        }
    };
    outcome.scanned = true;
    outcome.bytes = text.len() as u64;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    run_detectors(rel, text, detectors, dependency, &mut outcome);
    outcome
}

/// Runs detectors on text already in memory, catching panics and applying
/// suppression comments.
pub(crate) fn run_detectors(
    rel: &str,
    text: &str,
    detectors: &[&Arc<dyn FileDetector>],
    dependency: bool,
    outcome: &mut FileOutcome,
) {
    for detector in detectors {
        let scan = || {
            if dependency {
                detector.scan_dependency(rel, text)
            } else {
                detector.scan(rel, text)
            }
        };
        match catch_unwind(AssertUnwindSafe(scan)) {
            Ok(findings) => outcome.findings.extend(findings),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                let rules: Vec<&str> = detector.rules().iter().map(|r| r.id).take(3).collect();
                outcome.notes.push(note(
                    rel,
                    NoteKind::DetectorFailed,
                    &format!("detector ({}) failed: {message}", rules.join(", ")),
                ));
            }
        }
    }
    outcome.findings.retain(|finding| match &finding.location {
        Location::File { path, line, .. } if path == rel => {
            !is_suppressed(text, *line, &finding.rule_id)
        }
        _ => true,
    });
}

pub(crate) fn read_text(abs: &Path, max_bytes: u64) -> Result<String, (NoteKind, String)> {
    let unreadable = |e: std::io::Error| (NoteKind::Unreadable, e.to_string());
    let file = File::open(abs).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    let too_large = |size: u64| {
        (
            NoteKind::TooLarge,
            format!("{size} bytes is over the {max_bytes}-byte limit"),
        )
    };
    if size > max_bytes {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    if bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0) {
        return Err((NoteKind::Binary, "NUL byte in the first 8 KiB".to_string()));
    }
    String::from_utf8(bytes).map_err(|e| {
        (
            NoteKind::NotUtf8,
            format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
        )
    })
}

pub(crate) fn collect_rules(detectors: &[Arc<dyn FileDetector>]) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for detector in detectors {
        for rule in detector.rules() {
            if !rules.iter().any(|known| known.id == rule.id) {
                rules.push(*rule);
            }
        }
    }
    rules.sort_by(|a, b| a.id.cmp(b.id));
    rules
}

/// Sorts findings (path, line, column, rule), drops exact duplicates, sorts
/// notes and rules.
pub(crate) fn finish(report: &mut ScanReport) {
    report.findings.sort_by(compare_findings);
    report.findings.dedup();
    report.notes.sort_by(|a, b| {
        a.path
            .cmp(&b.path)
            .then(a.kind.cmp(&b.kind))
            .then(a.detail.cmp(&b.detail))
    });
    report.notes.dedup();
    report.rules.sort_by(|a, b| a.id.cmp(b.id));
    report.rules.dedup_by(|a, b| a.id == b.id);
}

fn location_key(location: &Location) -> (u8, &str, &str, u32, u32, &str) {
    match location {
        Location::File { path, line, column } => (0, path, "", *line, *column, ""),
        Location::Tool {
            server,
            tool,
            field,
        } => (1, server, tool, 0, 0, field),
    }
}

pub(crate) fn compare_findings(a: &Finding, b: &Finding) -> Ordering {
    location_key(&a.location)
        .cmp(&location_key(&b.location))
        .then_with(|| a.rule_id.cmp(&b.rule_id))
        .then_with(|| a.message.cmp(&b.message))
        .then_with(|| a.snippet.cmp(&b.snippet))
        .then_with(|| a.evidence.cmp(&b.evidence))
        .then_with(|| b.severity.cmp(&a.severity))
        .then_with(|| a.confidence.cmp(&b.confidence))
}
