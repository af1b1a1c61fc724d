//! `bulwark hunt --sigma RULES PATH…`: Sigma rules over log files.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use bulwark_sigma::{HuntOptions, OutputFormat, RuleSet};
use clap::Args;

#[derive(Debug, Args)]
pub struct HuntArgs {
    /// Sigma rules: a rule file or a directory of rules (repeatable).
    #[arg(long = "sigma", value_name = "RULES", required = true)]
    pub sigma: Vec<PathBuf>,
    /// Log files or directories: EVTX, evtx_dump JSON, JSON/JSONL, auditd,
    /// syslog/auth.log (detected from the content).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// json (whole report), jsonl (one detection a line) or csv.
    #[arg(long, default_value = "jsonl")]
    pub format: String,
    /// Write detections here instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Report only detections at or above this level (informational, low,
    /// medium, high, critical).
    #[arg(long, value_name = "LEVEL")]
    pub min_level: Option<String>,
    /// Do not list rejected rules on stderr (the summary still counts them).
    #[arg(long)]
    pub quiet: bool,
}

fn rank(level: &str) -> Option<u8> {
    Some(match level {
        "informational" => 0,
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        _ => return None,
    })
}

pub fn run(args: HuntArgs) -> Result<ExitCode> {
    let Some(format) = OutputFormat::parse(&args.format) else {
        bail!(
            "--format `{}` is not known; use json, jsonl or csv",
            args.format
        );
    };
    let min = match args.min_level.as_deref() {
        None => 0,
        Some(l) => rank(&l.to_ascii_lowercase()).with_context(|| {
            format!("--min-level `{l}` is not a Sigma level; use informational, low, medium, high or critical")
        })?,
    };
    let rules = RuleSet::load(&args.sigma)?;
    if !args.quiet {
        for r in rules.rejected() {
            eprintln!(
                "rejected: {}{}: {}",
                r.path,
                r.title
                    .as_deref()
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default(),
                r.reason
            );
        }
    }
    let mut report = bulwark_sigma::hunt(&rules, &args.paths, &HuntOptions::default());
    if min > 0 {
        report
            .detections
            .retain(|d| d.level.as_deref().and_then(rank).unwrap_or(0) >= min);
    }
    for note in &report.notes {
        eprintln!("note: {}: {}", note.path, note.note);
    }
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    bulwark_sigma::write(&report, format, &mut out)?;
    out.flush()?;
    let s = &report.summary;
    eprintln!(
        "{} rules loaded ({} correlations), {} rejected from {} files; {} events in {} files; {} detections ({} shown); {:.0} events/s",
        s.rules_loaded,
        s.correlations_loaded,
        s.rules_rejected,
        s.rule_files,
        s.events,
        s.files_read,
        s.detections,
        report.detections.len(),
        s.events_per_second
    );
    Ok(ExitCode::SUCCESS)
}
