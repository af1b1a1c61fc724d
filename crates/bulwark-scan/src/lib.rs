//! The orchestration and reporting half of `bulwark scan`.
//!
//! * [`scan_tree`] walks a directory in parallel (honouring `.gitignore` and
//!   `.bulwarkignore`), hands every text file to the [`FileDetector`]s that
//!   want it, drops findings silenced by `bulwark-ignore` comments and sorts
//!   the rest deterministically.
//! * [`scan_configs`] reads MCP client configuration files (Claude Desktop,
//!   Claude Code, Cursor, VS Code, Windsurf, MCPProxy) and reports
//!   `BWK-CONFIG-*` findings; [`default_config_paths`] lists the ones present
//!   on this machine.
//! * [`supply_chain_detector`] (`BWK-SUPPLY-*`) and [`config_detector`] are
//!   detectors of this crate for use inside a tree scan.
//! * [`Baseline`] and [`fingerprint`] let a team accept today's findings and
//!   fail only on new ones; [`changed_files`] restricts a scan to a git diff.
//! * [`render`] writes text, JSON, SARIF 2.1.0, a single-file HTML report or
//!   Markdown; [`exit_code`] turns a report into the process exit status.
//!
//! Detectors themselves are plain functions over text and live elsewhere
//! (`bulwark-detect`, `bulwark-taint`); this crate takes them as
//! `Arc<dyn FileDetector>`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use bulwark_detect::{Confidence, Finding, Location, OwaspAgentic, Rule, Severity};
use serde::{Deserialize, Serialize};

mod baseline;
mod config;
mod git;
mod jsonc;
mod report;
mod secrets;
mod supply;
mod suppress;
mod text;
mod typosquat;
mod walk;

pub use baseline::{Baseline, FINGERPRINT_VERSION, fingerprint, fingerprints};
pub use config::{
    CONFIG_MAX_FILE_BYTES, CONFIG_RULES, config_detector, declared_servers, default_config_paths,
    scan_configs, scan_configs_with,
};
pub use git::changed_files;
pub use report::{Format, render};
pub use supply::{SUPPLY_RULES, supply_chain_detector};
pub use suppress::is_suppressed;
pub use typosquat::{POPULAR_PACKAGES, damerau_levenshtein, typosquat_of};
pub use walk::{IGNORE_FILE, scan_tree};

/// A detector that judges one file's text. Implementations are called from
/// many threads at once and should not do I/O of their own (the config
/// detector's one exception: it checks the permissions of a command path
/// that exists on this machine).
pub trait FileDetector: Send + Sync {
    /// Every rule this detector can report under (for SARIF `rules`, the
    /// HTML legend and `bulwark rules list`).
    fn rules(&self) -> &'static [Rule];
    /// Whether the detector wants this file; `path` is relative to the scan
    /// root with `/` separators. Files no detector wants are never read.
    fn applies_to(&self, path: &str) -> bool;
    /// The findings in `text`; `path` is the same string as given to
    /// [`FileDetector::applies_to`] and should be used in `Location::File`.
    fn scan(&self, path: &str, text: &str) -> Vec<Finding>;
    /// Called instead of [`FileDetector::scan`] for files inside a
    /// dependency directory ([`DEPENDENCY_DIRS`]: `node_modules`,
    /// `site-packages`, ...) unless [`ScanOptions::analyze_dependencies`] is
    /// set. A detector may do less there (the code detector analyses only
    /// files that register MCP tools); the default does the same as `scan`.
    fn scan_dependency(&self, path: &str, text: &str) -> Vec<Finding> {
        self.scan(path, text)
    }
}

/// Directory names whose contents are installed third-party packages. A file
/// with one of these among the directories of its absolute path (the scan
/// root's own included) is handed to [`FileDetector::scan_dependency`].
pub const DEPENDENCY_DIRS: &[&str] = &[
    "node_modules",
    "bower_components",
    "site-packages",
    "dist-packages",
];

/// What [`scan_tree`] scans and how.
#[derive(Clone)]
pub struct ScanOptions {
    /// The directory (or single file) to scan.
    pub root: PathBuf,
    pub detectors: Vec<Arc<dyn FileDetector>>,
    /// Files larger than this are skipped with a [`NoteKind::TooLarge`] note.
    pub max_file_bytes: u64,
    /// Honour `.gitignore`, `.git/info/exclude`, the global git excludes
    /// and `.ignore` files. `.bulwarkignore` is honoured either way.
    pub respect_gitignore: bool,
    /// Scan only these files (absolute, or relative to `root`), still subject
    /// to the ignore files; for `--diff`.
    pub only_paths: Option<Vec<PathBuf>>,
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Give files inside dependency directories ([`DEPENDENCY_DIRS`]) the
    /// same analysis as the project's own files; by default they go to
    /// [`FileDetector::scan_dependency`].
    pub analyze_dependencies: bool,
}

/// Default maximum size of a scanned file: 2 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

impl ScanOptions {
    /// Options with the defaults: 2 MiB files, `.gitignore` honoured, all
    /// files, all cores, no progress bar, dependency directories scanned
    /// with [`FileDetector::scan_dependency`].
    pub fn new(root: impl Into<PathBuf>, detectors: Vec<Arc<dyn FileDetector>>) -> ScanOptions {
        ScanOptions {
            root: root.into(),
            detectors,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            respect_gitignore: true,
            only_paths: None,
            threads: 0,
            progress: false,
            analyze_dependencies: false,
        }
    }
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions::new(".", Vec::new())
    }
}

impl std::fmt::Debug for ScanOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanOptions")
            .field("root", &self.root)
            .field("detectors", &self.detectors.len())
            .field("max_file_bytes", &self.max_file_bytes)
            .field("respect_gitignore", &self.respect_gitignore)
            .field("only_paths", &self.only_paths)
            .field("threads", &self.threads)
            .field("progress", &self.progress)
            .field("analyze_dependencies", &self.analyze_dependencies)
            .finish()
    }
}

/// Why a file was not (fully) scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// A NUL byte in the first 8 KiB.
    Binary,
    /// Larger than `max_file_bytes`.
    TooLarge,
    /// Could not be opened or read (permissions, vanished, I/O error).
    Unreadable,
    /// Not valid UTF-8.
    NotUtf8,
    /// A symbolic link; links are not followed.
    Symlink,
    /// A configuration file that is not valid JSON (with comments).
    ParseError,
    /// A detector panicked on this file; the other detectors' findings stand.
    DetectorFailed,
}

impl NoteKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            NoteKind::Binary => "binary",
            NoteKind::TooLarge => "too_large",
            NoteKind::Unreadable => "unreadable",
            NoteKind::NotUtf8 => "not_utf8",
            NoteKind::Symlink => "symlink",
            NoteKind::ParseError => "parse_error",
            NoteKind::DetectorFailed => "detector_failed",
        }
    }
}

/// A file the scan skipped or only partly scanned, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Relative to the scan root (tree scans) or as given (config scans).
    pub path: String,
    pub kind: NoteKind,
    /// Human-readable detail, e.g. the I/O error or the size.
    pub detail: String,
}

/// The outcome of a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    /// Sorted by path, line, column, rule id.
    pub findings: Vec<Finding>,
    /// Sorted by path.
    pub notes: Vec<Note>,
    pub files_scanned: usize,
    pub bytes_scanned: u64,
    pub duration: Duration,
    /// Every rule of every detector that took part, sorted by id.
    pub rules: Vec<Rule>,
    /// The scanned directory (absolute), for SARIF's `%SRCROOT%`; `None` for
    /// config scans, whose finding paths are absolute.
    pub root: Option<PathBuf>,
}

impl ScanReport {
    /// Number of findings of each severity, `Info` first.
    pub fn counts_by_severity(&self) -> [(Severity, usize); 5] {
        let mut counts = [
            (Severity::Info, 0),
            (Severity::Low, 0),
            (Severity::Medium, 0),
            (Severity::High, 0),
            (Severity::Critical, 0),
        ];
        for finding in &self.findings {
            counts[finding.severity as usize].1 += 1;
        }
        counts
    }

    /// The rule a finding was reported under, if a participating detector
    /// declared it.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.id == id)
    }

    /// Drops findings recorded in `baseline`.
    pub fn apply_baseline(&mut self, baseline: &Baseline) {
        self.findings = baseline.filter(&self.findings);
    }

    /// Drops findings below `min`.
    pub fn retain_at_least(&mut self, min: Severity) {
        self.findings.retain(|finding| finding.severity >= min);
    }

    /// Appends another report's findings, notes and rules, re-sorting.
    pub fn merge(&mut self, other: ScanReport) {
        self.findings.extend(other.findings);
        self.notes.extend(other.notes);
        self.files_scanned += other.files_scanned;
        self.bytes_scanned += other.bytes_scanned;
        self.duration += other.duration;
        for rule in other.rules {
            if !self.rules.iter().any(|known| known.id == rule.id) {
                self.rules.push(rule);
            }
        }
        walk::finish(self);
    }
}

/// Exit status: no findings at or above `fail_on` (any finding with `None`).
pub const EXIT_CLEAN: i32 = 0;
/// Exit status: findings at or above `fail_on`.
pub const EXIT_FINDINGS: i32 = 1;
/// Exit status for the binary: the scan itself failed.
pub const EXIT_ERROR: i32 = 2;
/// Exit status for the binary: bad command line.
pub const EXIT_USAGE: i32 = 3;

/// 0 when nothing is at or above `fail_on` (with `None`: no findings at all),
/// 1 otherwise.
pub fn exit_code(report: &ScanReport, fail_on: Option<Severity>) -> i32 {
    let failing = match fail_on {
        None => !report.findings.is_empty(),
        Some(min) => report.findings.iter().any(|f| f.severity >= min),
    };
    if failing { EXIT_FINDINGS } else { EXIT_CLEAN }
}

/// Everything that stops a scan altogether (per-file trouble becomes a
/// [`Note`] instead).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("scan root {0} does not exist or cannot be read")]
    RootNotFound(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("git: {0}")]
    Git(String),
    #[error("baseline {path}: {message}")]
    Baseline { path: PathBuf, message: String },
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}
