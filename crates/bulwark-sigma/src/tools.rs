//! The `hunt_sigma` MCP tool.

use std::path::PathBuf;

use bulwark_core::{CallContext, Severity, ToolDef, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{HuntOptions, HuntReport, RuleSet};

/// Detections returned by one call unless `max_detections` says otherwise.
const DEFAULT_MAX_DETECTIONS: usize = 200;
/// At most this many, whatever is asked: larger hunts belong to the CLI.
const MAX_DETECTIONS: usize = 5_000;
/// Rejected rules listed in one answer (the summary counts all).
const MAX_REJECTED_LISTED: usize = 100;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct HuntArgs {
    /// Sigma rules: a rule file (.yml) or a directory of rules (searched
    /// recursively), on the machine bulwark runs on. Several may be given.
    rules: Vec<String>,
    /// Log files or directories to hunt in: Windows EVTX, evtx_dump JSON,
    /// JSON/JSONL events, auditd logs, syslog/auth.log. The format is
    /// detected from the content.
    paths: Vec<String>,
    /// Report only detections at or above this level: informational, low,
    /// medium, high, critical.
    #[serde(default)]
    min_level: Option<String>,
    /// Return at most this many detections (default 200, at most 5000); the
    /// summary counts all.
    #[serde(default)]
    max_detections: Option<usize>,
}

fn level_rank(level: &str) -> Option<u8> {
    Some(match level.to_ascii_lowercase().as_str() {
        "informational" | "info" => 0,
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        _ => return None,
    })
}

fn existing(paths: &[String], what: &str) -> Result<Vec<PathBuf>, ToolError> {
    if paths.is_empty() {
        return Err(ToolError::InvalidArguments(format!(
            "`{what}` is empty; give at least one file or directory"
        )));
    }
    paths
        .iter()
        .map(|p| {
            let path = PathBuf::from(p);
            if path.exists() {
                Ok(path)
            } else {
                Err(ToolError::InvalidArguments(format!(
                    "`{what}`: `{p}` does not exist on this machine; give a file or directory path"
                )))
            }
        })
        .collect()
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        ToolDef::new(
            "hunt_sigma",
            "Hunt with Sigma rules (SigmaHQ format, Sigma 2.0 modifiers and correlation rules) over Windows EVTX files, JSON/JSONL events, auditd logs and syslog/auth.log on this machine. Returns detections (rule id, title, level, tags, author, time, host, matched fields), counts by level and rule, and every rule that could not be loaded with the reason.",
        )
        .title("Hunt with Sigma rules")
        .profiles(&["analysis"])
        .read_only()
        .severity(Severity::Medium)
        .output::<HuntReport>()
        .handler(|_ctx: CallContext, args: HuntArgs| async move {
            let rules = existing(&args.rules, "rules")?;
            let paths = existing(&args.paths, "paths")?;
            let min = match args.min_level.as_deref() {
                None => 0,
                Some(l) => level_rank(l).ok_or_else(|| {
                    ToolError::InvalidArguments(format!(
                        "min_level `{l}` is not a Sigma level; use informational, low, medium, high or critical"
                    ))
                })?,
            };
            let max = args
                .max_detections
                .unwrap_or(DEFAULT_MAX_DETECTIONS)
                .min(MAX_DETECTIONS);
            let report = tokio::task::spawn_blocking(move || {
                let set = RuleSet::load(&rules).map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
                let mut report = crate::hunt(&set, &paths, &HuntOptions::default());
                if min > 0 {
                    report.detections.retain(|d| {
                        d.level.as_deref().and_then(level_rank).unwrap_or(0) >= min
                    });
                }
                report.truncated = report.detections.len() > max;
                report.detections.truncate(max);
                report.rejected_rules.truncate(MAX_REJECTED_LISTED);
                Ok::<_, ToolError>(report)
            })
            .await
            .map_err(|e| ToolError::failed(format!("the hunt stopped: {e}")))??;
            serde_json::to_value(&report)
                .map(ToolOutput::structured)
                .map_err(|e| ToolError::failed(format!("cannot encode the detections: {e}")))
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_rank() {
        assert!(level_rank("high") > level_rank("medium"));
        assert_eq!(level_rank("bogus"), None);
    }
}
