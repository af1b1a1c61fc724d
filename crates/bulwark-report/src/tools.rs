//! `generate_report`: the report writer as an MCP tool.

use std::path::{Path, PathBuf};

use bulwark_core::{CallContext, Content, Severity, ToolDef, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::case::{self, CaseError, MAX_CASE_BYTES};
use crate::{Format, render};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReportArgs {
    /// The case as a JSON object: `title`, `case_id`, `analyst`, `summary`,
    /// `findings` [{title, severity, description, evidence, host, tags,
    /// recommendation}], `timeline` (a generate_timeline result), `iocs` (an
    /// extract_iocs result), `detections` (a hunt_sigma result), `triage`
    /// (quick_triage results), `remediations` (a list_remediations result),
    /// `recommendations` [text]. Every section is optional; tool results may
    /// be given whole or as their bare lists. Or give `case_path`.
    #[serde(default)]
    case: Option<serde_json::Value>,
    /// Absolute path of a case JSON file on the bulwark host, instead of `case`.
    #[serde(default)]
    case_path: Option<String>,
    /// markdown, html or both (default both).
    #[serde(default)]
    format: Option<String>,
    /// Absolute directory on the bulwark host to write report.md and
    /// report.html into (created if missing). Without it the documents come
    /// back in the result.
    #[serde(default)]
    output_dir: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct Written {
    path: String,
    bytes: u64,
}

#[derive(Serialize, JsonSchema)]
struct Counts {
    findings: usize,
    timeline_events: usize,
    indicators: usize,
    detections: usize,
    triage_items: usize,
    actions: usize,
    recommendations: usize,
}

#[derive(Serialize, JsonSchema)]
struct ReportResult {
    title: String,
    counts: Counts,
    /// Files written, with `output_dir`.
    files: Vec<Written>,
    /// The Markdown report, when no `output_dir` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    markdown: Option<String>,
    /// The HTML report, when no `output_dir` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    html: Option<String>,
}

fn bad(msg: String) -> ToolError {
    ToolError::InvalidArguments(msg)
}

fn case_error(prefix: &str, e: CaseError) -> ToolError {
    match e {
        CaseError::Field { field, message } if field != "(top level)" => {
            bad(format!("field `{prefix}.{field}`: {message}"))
        }
        other => bad(format!("field `{prefix}`: {other}")),
    }
}

fn absolute(field: &str, p: &str) -> Result<PathBuf, ToolError> {
    let path = PathBuf::from(p);
    if !path.is_absolute()
        || path
            .components()
            .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(bad(format!(
            "field `{field}`: `{p}` must be an absolute path without `..` on the bulwark host"
        )));
    }
    Ok(path)
}

/// Read and parse a case file, refusing oversized ones.
pub fn read_case(path: &Path) -> Result<case::Case, String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "{} cannot be read ({e}); give a case JSON file",
            path.display()
        )
    })?;
    if !meta.is_file() {
        return Err(format!(
            "{} is not a file; give a case JSON file",
            path.display()
        ));
    }
    if meta.len() > MAX_CASE_BYTES {
        return Err(format!(
            "{} is {} bytes, over the {MAX_CASE_BYTES}-byte limit for a case; cut the timeline or IOC sections",
            path.display(),
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{} cannot be read as UTF-8 text ({e})", path.display()))?;
    case::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn run(args: ReportArgs) -> Result<ToolOutput, ToolError> {
    let format = match args.format.as_deref() {
        None => Format::Both,
        Some(f) => Format::parse(f).ok_or_else(|| {
            bad(format!(
                "field `format`: `{f}` is not markdown, html or both"
            ))
        })?,
    };
    let case = match (args.case, args.case_path) {
        (Some(_), Some(_)) => {
            return Err(bad("give either `case` or `case_path`, not both".into()));
        }
        (None, None) => {
            return Err(bad(
                "give `case` (the case as a JSON object) or `case_path` (a case file)".into(),
            ));
        }
        (Some(value), None) => case::from_value(value).map_err(|e| case_error("case", e))?,
        (None, Some(p)) => {
            let path = absolute("case_path", &p)?;
            read_case(&path).map_err(|e| bad(format!("field `case_path`: {e}")))?
        }
    };
    let rendered =
        render(&case, format, &crate::now()).map_err(|e| ToolError::failed(e.to_string()))?;
    let c = &rendered.view.counts;
    let counts = Counts {
        findings: c.findings,
        timeline_events: c.events,
        indicators: c.iocs,
        detections: c.detections,
        triage_items: c.triage_items,
        actions: c.actions,
        recommendations: rendered.view.recommendations.len(),
    };
    let mut files = Vec::new();
    let (markdown, html) = match args.output_dir {
        Some(dir) => {
            let dir = absolute("output_dir", &dir)?;
            std::fs::create_dir_all(&dir).map_err(|e| {
                bad(format!(
                    "field `output_dir`: cannot create {} ({e}); give a writable directory",
                    dir.display()
                ))
            })?;
            for (name, doc) in [
                ("report.md", &rendered.markdown),
                ("report.html", &rendered.html),
            ] {
                if let Some(doc) = doc {
                    let path = dir.join(name);
                    std::fs::write(&path, doc).map_err(|e| {
                        ToolError::failed(format!("cannot write {} ({e})", path.display()))
                    })?;
                    files.push(Written {
                        path: path.display().to_string(),
                        bytes: doc.len() as u64,
                    });
                }
            }
            (None, None)
        }
        None => (rendered.markdown, rendered.html),
    };
    let text = match (&markdown, &files.is_empty()) {
        (Some(md), _) => md.clone(),
        (None, false) => files
            .iter()
            .map(|f| format!("wrote {} ({} bytes)", f.path, f.bytes))
            .collect::<Vec<_>>()
            .join("\n"),
        (None, true) => format!(
            "HTML report of {} bytes in the structured result (`html`)",
            html.as_ref().map_or(0, String::len)
        ),
    };
    let result = ReportResult {
        title: rendered.view.title.clone(),
        counts,
        files,
        markdown,
        html,
    };
    let structured = serde_json::to_value(result)
        .map_err(|e| ToolError::failed(format!("cannot encode the report: {e}")))?;
    Ok(ToolOutput::Done {
        content: vec![Content::Text(text)],
        structured: Some(structured),
        is_error: false,
    })
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        ToolDef::new(
            "generate_report",
            "Write an investigation report from a case: the analyst's findings plus the JSON results of generate_timeline, extract_iocs, hunt_sigma, quick_triage and list_remediations as they are. Produces Markdown and a self-contained HTML page (summary, key findings with evidence, timeline, IOC table, detections by severity, triage, actions taken, recommendations); returned in the result or written to `output_dir`.",
        )
        .title("Generate a report")
        .profiles(&["analysis"])
        .hints(bulwark_core::Hints {
            read_only: false,
            destructive: false,
            idempotent: true,
            open_world: false,
        })
        .severity(Severity::Medium)
        .output::<ReportResult>()
        .handler(|_ctx: CallContext, args: ReportArgs| async move {
            tokio::task::spawn_blocking(move || run(args))
                .await
                .map_err(|e| ToolError::failed(format!("the report stopped: {e}")))?
        }),
    ]
}
