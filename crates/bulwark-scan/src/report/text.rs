//! Plain text for terminals, grouped by file.

use std::fmt::Write;

use super::{SEVERITIES_DESC, count, group_label, millis};
use crate::{Location, ScanReport, Severity};

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn severity_code(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "1;35",
        Severity::High => "1;31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    }
}

/// Findings quote scanned files; control characters (terminal escape
/// sequences in particular) are shown as `\u{..}` instead of acting.
pub(crate) fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn render(report: &ScanReport, color: bool) -> String {
    let mut out = String::new();
    let mut current_group: Option<String> = None;
    let mut fixes_shown = std::collections::HashSet::new();
    for finding in &report.findings {
        let group = group_label(finding);
        if current_group.as_deref() != Some(group.as_str()) {
            if current_group.is_some() {
                out.push('\n');
            }
            let _ = writeln!(out, "{}", paint(color, "1", &sanitize(&group)));
            current_group = Some(group);
        }
        let position = match &finding.location {
            Location::File { line, column, .. } => format!("{line}:{column}"),
            Location::Tool { field, .. } => field.clone(),
        };
        let label = format!("{:<8}", finding.severity.as_str().to_ascii_uppercase());
        let _ = writeln!(
            out,
            "  {:<9} {} {}  {}",
            sanitize(&position),
            paint(color, severity_code(finding.severity), &label),
            paint(color, "2", &finding.rule_id),
            sanitize(&finding.message)
        );
        if !finding.snippet.is_empty() {
            let _ = writeln!(
                out,
                "            {} {}",
                paint(color, "2", "│"),
                sanitize(&finding.snippet)
            );
        }
        // The remediation once per rule, where the rule first appears.
        if let Some(rule) = report.rule(&finding.rule_id)
            && fixes_shown.insert(rule.id)
        {
            let _ = writeln!(
                out,
                "            {} {}",
                paint(color, "2", "fix:"),
                rule.remediation
            );
        }
    }
    if !report.findings.is_empty() {
        out.push('\n');
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "{}", paint(color, "1", "Skipped or partly scanned"));
        for note in &report.notes {
            let _ = writeln!(
                out,
                "  {}  {} ({})",
                sanitize(&note.path),
                note.kind.as_str(),
                sanitize(&note.detail)
            );
        }
        out.push('\n');
    }
    let by_severity: Vec<String> = SEVERITIES_DESC
        .iter()
        .filter_map(|&s| {
            let n = count(report, s);
            (n > 0).then(|| paint(color, severity_code(s), &format!("{n} {s}")))
        })
        .collect();
    let findings = match report.findings.len() {
        0 => paint(color, "32", "no findings"),
        1 => "1 finding".to_string(),
        n => format!("{n} findings"),
    };
    let _ = write!(out, "{findings}");
    if !by_severity.is_empty() {
        let _ = write!(out, " ({})", by_severity.join(", "));
    }
    let _ = writeln!(
        out,
        " in {} files ({} bytes) in {} ms{}",
        report.files_scanned,
        report.bytes_scanned,
        millis(report),
        match report.notes.len() {
            0 => String::new(),
            1 => "; 1 file skipped".to_string(),
            n => format!("; {n} files skipped"),
        }
    );
    out
}
