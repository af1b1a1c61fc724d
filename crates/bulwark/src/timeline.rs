//! `bulwark timeline PATH…`: a merged, time-ordered timeline for scripts.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use bulwark_timeline::{EventWriter, OutputFormat, ReadOptions, Source, TimelineOptions};
use clap::Args;

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// Files or directories. Each file's format is detected from its content:
    /// EVTX, syslog/auth.log, journalctl -o json, auditd, shell history with
    /// timestamps, bodyfile, JSON/JSONL results of other tools.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also add the file-system MAC times of everything under this directory
    /// (repeatable; symlinks are not followed).
    #[arg(long = "mac-times", value_name = "DIR")]
    pub mac_times: Vec<PathBuf>,
    /// Keep events at or after this time (RFC 3339, a date, or epoch seconds).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Keep events before this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Keep only this source (repeatable): evtx, syslog, journald, auditd,
    /// shell_history, bodyfile, filesystem, json.
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// jsonl, csv or timesketch (CSV with message, datetime, timestamp_desc).
    #[arg(long, default_value = "jsonl")]
    pub format: String,
    /// Year for syslog lines without one. Default: the file's modification year.
    #[arg(long)]
    pub year: Option<i32>,
    /// Events kept in memory before a sorted run is spilled to a temporary file.
    #[arg(long, default_value_t = bulwark_timeline::DEFAULT_RUN, hide = true)]
    pub run_size: usize,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// No per-input summary on standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn time(flag: &str, value: &Option<String>) -> Result<Option<i64>> {
    value
        .as_deref()
        .map(|t| {
            bulwark_timeline::parse_time(t).ok_or_else(|| {
                anyhow!("--{flag} `{t}` is not a time; use RFC 3339 (2024-05-01T10:00:00Z), a date or epoch seconds")
            })
        })
        .transpose()
}

pub fn run(args: TimelineArgs) -> Result<ExitCode> {
    if args.paths.is_empty() && args.mac_times.is_empty() {
        bail!("give log files or directories, or --mac-times DIR");
    }
    let format = OutputFormat::parse(&args.format)
        .ok_or_else(|| anyhow!("--format `{}` is not jsonl, csv or timesketch", args.format))?;
    let mut sources = Vec::new();
    for s in &args.sources {
        sources.push(Source::parse(s).ok_or_else(|| {
            anyhow!(
                "--source `{s}` is not a source; use {}",
                Source::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?);
    }
    let options = TimelineOptions {
        paths: args.paths.clone(),
        mac_times: args.mac_times.clone(),
        since: time("since", &args.since)?,
        until: time("until", &args.until)?,
        sources,
        read: ReadOptions { year: args.year },
        run_size: args.run_size,
    };
    let (mut merged, summary) = bulwark_timeline::build(&options)?;
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut writer = EventWriter::new(out, format);
    for event in merged.by_ref() {
        if let Err(err) = writer.write(&event) {
            if err.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(err).context("cannot write the timeline");
        }
    }
    match writer.finish() {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(err).context("cannot write the timeline");
        }
        _ => {}
    }
    if let Some(err) = merged.error {
        bail!("{err}");
    }
    if !args.quiet {
        for input in &summary.inputs {
            let source = input.source.map(|s| s.as_str()).unwrap_or("unrecognized");
            eprintln!(
                "{}: {source}, {} events, {} skipped{}",
                input.path,
                input.events,
                input.skipped,
                if input.notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", input.notes.join("; "))
                }
            );
        }
        eprintln!(
            "{} events read, {} kept{}",
            summary.read,
            summary.kept,
            if summary.spilled_runs > 0 {
                format!(", sorted in {} runs on disk", summary.spilled_runs)
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
