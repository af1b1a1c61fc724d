//! `generate_timeline`: the timeline engine as an MCP tool.

use std::path::PathBuf;

use bulwark_core::{CallContext, Severity, ToolDef, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    Event, EventWriter, OutputFormat, Source, TimelineOptions, TimelineSummary, parse_time,
};

/// Events returned by default; the summary counts all.
const DEFAULT_MAX_EVENTS: usize = 500;
/// Never more than this many in one answer.
const MAX_EVENTS: usize = 20_000;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TimelineArgs {
    /// Files or directories on the bulwark host. Each file's format is
    /// detected from its content: EVTX, syslog/auth.log, journalctl -o json,
    /// auditd, shell history with timestamps, bodyfile, JSON/JSONL.
    #[serde(default)]
    paths: Vec<String>,
    /// Directories whose file-system MAC times become events.
    #[serde(default)]
    mac_times: Vec<String>,
    /// Keep events at or after this time (RFC 3339, date, or epoch seconds).
    #[serde(default)]
    since: Option<String>,
    /// Keep events before this time.
    #[serde(default)]
    until: Option<String>,
    /// Keep only these sources: evtx, syslog, journald, auditd, shell_history,
    /// bodyfile, filesystem, json.
    #[serde(default)]
    sources: Vec<String>,
    /// Keep only events whose message contains this text (case-insensitive).
    #[serde(default)]
    contains: Option<String>,
    /// Year for syslog lines without one (default: the file's modification year).
    #[serde(default)]
    year: Option<i32>,
    /// events (default: structured events), csv, jsonl or timesketch (CSV text).
    #[serde(default)]
    format: Option<String>,
    /// Return at most this many events (default 500, at most 20000); the
    /// summary counts all kept.
    #[serde(default)]
    max_events: Option<usize>,
    /// With max_events: the newest events instead of the oldest.
    #[serde(default)]
    newest: bool,
}

#[derive(Serialize, JsonSchema)]
struct TimelineResult {
    summary: TimelineSummary,
    /// Time-ordered events (format `events`).
    events: Vec<Event>,
    /// The events as CSV, JSONL or Timesketch CSV text (other formats).
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// Events matching `contains` (equal to `summary.kept` without it).
    matched: u64,
    /// Whether more events matched than were returned.
    truncated: bool,
    first: Option<String>,
    last: Option<String>,
}

fn bad(msg: String) -> ToolError {
    ToolError::InvalidArguments(msg)
}

fn time_arg(field: &str, value: &Option<String>) -> Result<Option<i64>, ToolError> {
    value
        .as_deref()
        .map(|t| {
            parse_time(t).ok_or_else(|| bad(format!("field `{field}`: `{t}` is not a time; use RFC 3339 (2024-05-01T10:00:00Z), a date or epoch seconds")))
        })
        .transpose()
}

fn run(args: TimelineArgs) -> Result<ToolOutput, ToolError> {
    if args.paths.is_empty() && args.mac_times.is_empty() {
        return Err(bad(
            "give `paths` (log files or directories) or `mac_times` (directories)".into(),
        ));
    }
    let format = args
        .format
        .as_deref()
        .unwrap_or("events")
        .to_ascii_lowercase();
    let writer_format = match format.as_str() {
        "events" => None,
        other => Some(OutputFormat::parse(other).ok_or_else(|| {
            bad(format!(
                "field `format`: `{other}` is not events, csv, jsonl or timesketch"
            ))
        })?),
    };
    let mut sources = Vec::new();
    for s in &args.sources {
        sources.push(Source::parse(s).ok_or_else(|| {
            bad(format!(
                "field `sources`: `{s}` is not a source; use {}",
                Source::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?);
    }
    let options = TimelineOptions {
        paths: args.paths.iter().map(PathBuf::from).collect(),
        mac_times: args.mac_times.iter().map(PathBuf::from).collect(),
        since: time_arg("since", &args.since)?,
        until: time_arg("until", &args.until)?,
        sources,
        read: crate::ReadOptions { year: args.year },
        run_size: 0,
    };
    let (merged, summary) =
        crate::build(&options).map_err(|e| bad(format!("field `paths`: {e}")))?;
    let max = args
        .max_events
        .unwrap_or(DEFAULT_MAX_EVENTS)
        .min(MAX_EVENTS);
    let needle = args.contains.as_deref().map(str::to_lowercase);
    let mut events: std::collections::VecDeque<Event> = std::collections::VecDeque::new();
    let mut matched = 0u64;
    let (mut first, mut last) = (None, None);
    for e in merged {
        if let Some(n) = &needle
            && !e.message.to_lowercase().contains(n)
        {
            continue;
        }
        matched += 1;
        if first.is_none() {
            first = Some(crate::format_ts(e.timestamp));
        }
        last = Some(e.timestamp);
        if args.newest {
            events.push_back(e);
            if events.len() > max {
                events.pop_front();
            }
        } else if events.len() < max {
            events.push_back(e);
        }
    }
    let events: Vec<Event> = events.into();
    let text = match writer_format {
        None => None,
        Some(f) => {
            let mut w = EventWriter::new(Vec::new(), f);
            for e in &events {
                w.write(e).map_err(|e| ToolError::failed(e.to_string()))?;
            }
            let bytes = w.finish().map_err(|e| ToolError::failed(e.to_string()))?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let result = TimelineResult {
        summary,
        truncated: matched > events.len() as u64,
        events: if text.is_none() { events } else { Vec::new() },
        text,
        matched,
        first,
        last: last.map(crate::format_ts),
    };
    serde_json::to_value(result)
        .map(ToolOutput::structured)
        .map_err(|e| ToolError::failed(format!("cannot encode the timeline: {e}")))
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        ToolDef::new(
            "generate_timeline",
            "Build one time-ordered timeline (UTC) from evidence on the bulwark host: Windows EVTX, syslog and auth.log, journalctl -o json exports, auditd logs, shell history with timestamps, bodyfiles or directory MAC times, and JSON/JSONL results of other tools. Formats are detected from content. Filter by time range, source and text; output structured events, CSV, JSONL or Timesketch CSV.",
        )
        .title("Generate a timeline")
        .profiles(&["analysis"])
        .read_only()
        .severity(Severity::Medium)
        .output::<TimelineResult>()
        .handler(|_ctx: CallContext, args: TimelineArgs| async move {
            tokio::task::spawn_blocking(move || run(args))
                .await
                .map_err(|e| ToolError::failed(format!("the timeline stopped: {e}")))?
        }),
    ]
}
