//! Unified forensic timelines. Sources — Windows EVTX, syslog and auth.log,
//! `journalctl -o json` exports, auditd logs, shell history with
//! timestamps, bodyfiles and directory MAC times, and JSON / JSON Lines
//! results of other tools — are recognized from their content, turned into
//! one [`Event`] model, filtered, and merged in time order with bounded
//! memory (sorted runs spilled to disk, then a k-way merge).
//!
//! The engine knows nothing of MCP; [`register`] adds `generate_timeline`
//! to the `analysis` profile.

mod event;
mod output;
mod parse;
mod sort;
mod tools;

use std::path::{Path, PathBuf};

use bulwark_core::RegistryBuilder;

pub use event::{Event, Source, epoch_to_nanos, format_ts, parse_time};
pub use output::{EventWriter, OutputFormat, csv_field};
pub use parse::{Format, MAX_LINE, ReadOptions, ReadStats, detect, for_each_line, read_file};
pub use sort::{DEFAULT_RUN, Merged, Sorter};
pub use tools::tools;

/// What to read and what to keep.
#[derive(Debug, Clone, Default)]
pub struct TimelineOptions {
    /// Files or directories; each file's format is detected from its content.
    pub paths: Vec<PathBuf>,
    /// Directories (or files) whose MAC times become events.
    pub mac_times: Vec<PathBuf>,
    /// Keep events at or after this time (ns since the epoch, UTC).
    pub since: Option<i64>,
    /// Keep events before this time.
    pub until: Option<i64>,
    /// Keep only these sources; empty means all.
    pub sources: Vec<Source>,
    pub read: ReadOptions,
    /// Events held in memory before a sorted run is spilled to disk.
    pub run_size: usize,
}

/// One input and what became of it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct InputReport {
    pub path: String,
    /// The detected source, absent when the format was not recognized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    pub events: u64,
    pub skipped: u64,
    pub notes: Vec<String>,
}

/// Totals of one run.
#[derive(Debug, Clone, Default, serde::Serialize, schemars::JsonSchema)]
pub struct TimelineSummary {
    /// Events read from all inputs.
    pub read: u64,
    /// Events kept after the time and source filters.
    pub kept: u64,
    pub inputs: Vec<InputReport>,
    /// Sorted runs spilled to disk (0 when everything fit in memory).
    pub spilled_runs: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error("{path} cannot be read: {error}; give a file or directory on this machine")]
    Input { path: String, error: String },
    #[error("cannot sort the timeline on disk: {0}")]
    Spill(String),
}

/// Files under `paths`, in name order; symlinks are not followed.
fn files_under(path: &Path, out: &mut Vec<PathBuf>, reports: &mut Vec<InputReport>) {
    for entry in walkdir::WalkDir::new(path)
        .follow_links(false)
        .sort_by_file_name()
    {
        match entry {
            Ok(e) if e.file_type().is_file() => out.push(e.into_path()),
            Ok(_) => {}
            Err(e) => reports.push(InputReport {
                path: e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                source: None,
                events: 0,
                skipped: 1,
                notes: vec![e.to_string()],
            }),
        }
    }
}

/// Read every input, filter, sort; returns the merged stream and the summary.
pub fn build(options: &TimelineOptions) -> Result<(Merged, TimelineSummary), TimelineError> {
    let mut summary = TimelineSummary::default();
    let mut sorter = Sorter::new(if options.run_size == 0 {
        DEFAULT_RUN
    } else {
        options.run_size
    });
    let mut spill_error: Option<String> = None;
    let keep = |e: &Event| {
        options.since.is_none_or(|s| e.timestamp >= s)
            && options.until.is_none_or(|u| e.timestamp < u)
            && (options.sources.is_empty() || options.sources.contains(&e.source))
    };
    let mut files = Vec::new();
    for p in &options.paths {
        let meta = std::fs::metadata(p).map_err(|e| TimelineError::Input {
            path: p.display().to_string(),
            error: e.to_string(),
        })?;
        if meta.is_dir() {
            files_under(p, &mut files, &mut summary.inputs);
        } else {
            files.push(p.clone());
        }
    }
    let mut kept = 0u64;
    let mut push = |e: Event, sorter: &mut Sorter| {
        if keep(&e) {
            kept += 1;
            if let Err(err) = sorter.push(e) {
                spill_error.get_or_insert(err.to_string());
            }
        }
    };
    for file in &files {
        let path = file.display().to_string();
        let format = match parse::head(file) {
            Ok(head) => parse::detect(&head),
            Err(e) => {
                summary.inputs.push(InputReport {
                    path,
                    source: None,
                    events: 0,
                    skipped: 1,
                    notes: vec![e.to_string()],
                });
                continue;
            }
        };
        let Some(format) = format else {
            summary.inputs.push(InputReport {
                path,
                source: None,
                events: 0,
                skipped: 0,
                notes: vec!["format not recognized (not EVTX, syslog, journald JSON, auditd, shell history, bodyfile or JSON)".into()],
            });
            continue;
        };
        if !options.sources.is_empty() && !options.sources.contains(&format.source()) {
            continue;
        }
        let result = read_file(file, format, &options.read, &mut |e| push(e, &mut sorter));
        let report = match result {
            Ok(stats) => InputReport {
                path,
                source: Some(format.source()),
                events: stats.events,
                skipped: stats.skipped,
                notes: stats.notes,
            },
            Err(e) => InputReport {
                path,
                source: Some(format.source()),
                events: 0,
                skipped: 1,
                notes: vec![format!("read stopped: {e}")],
            },
        };
        summary.read += report.events;
        summary.inputs.push(report);
    }
    for root in &options.mac_times {
        if !options.sources.is_empty() && !options.sources.contains(&Source::Filesystem) {
            break;
        }
        if let Err(e) = std::fs::symlink_metadata(root) {
            return Err(TimelineError::Input {
                path: root.display().to_string(),
                error: e.to_string(),
            });
        }
        let mut stats = ReadStats::default();
        parse::walk_mac_times(root, &mut |e| push(e, &mut sorter), &mut stats);
        summary.read += stats.events;
        summary.inputs.push(InputReport {
            path: root.display().to_string(),
            source: Some(Source::Filesystem),
            events: stats.events,
            skipped: stats.skipped,
            notes: stats.notes,
        });
    }
    if let Some(err) = spill_error {
        return Err(TimelineError::Spill(err));
    }
    summary.kept = kept;
    summary.spilled_runs = sorter.spilled_runs();
    let merged = sorter
        .finish()
        .map_err(|e| TimelineError::Spill(e.to_string()))?;
    Ok((merged, summary))
}

/// Add `generate_timeline` to the registry.
pub fn register(registry: &mut RegistryBuilder) {
    registry.profile(
        "analysis",
        "Offline analysis of evidence on the bulwark host: IOC extraction, timelines, Sigma hunting and reports",
        false,
    );
    registry.tools(tools::tools());
}
