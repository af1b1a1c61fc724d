//! Markdown for pull-request comments and CI job summaries.

use std::fmt::Write;

use super::sarif::{owasp_id, owasp_name};
use super::{SEVERITIES_DESC, count, location_label, millis};
use crate::ScanReport;

/// Escapes attacker-controlled text for a GitHub-flavoured Markdown table
/// cell: HTML and Markdown syntax become entities, newlines spaces, and
/// `@mentions` are broken so a finding cannot ping anyone.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '*' => out.push_str("&#42;"),
            '_' => out.push_str("&#95;"),
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            '\\' => out.push_str("&#92;"),
            '~' => out.push_str("&#126;"),
            '!' => out.push_str("&#33;"),
            '#' => out.push_str("&#35;"),
            '@' => out.push_str("@&#8203;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn render(report: &ScanReport) -> String {
    let mut out = String::new();
    out.push_str("# Bulwark scan report\n\n");
    let total = report.findings.len();
    let _ = writeln!(
        out,
        "**{total} finding{}** in {} files ({} bytes, {} ms){}.\n",
        if total == 1 { "" } else { "s" },
        report.files_scanned,
        report.bytes_scanned,
        millis(report),
        match report.notes.len() {
            0 => String::new(),
            n => format!("; {n} skipped"),
        }
    );
    out.push_str("| Severity | Findings |\n| --- | ---: |\n");
    for severity in SEVERITIES_DESC {
        let _ = writeln!(
            out,
            "| {} | {} |",
            severity.as_str(),
            count(report, severity)
        );
    }
    if !report.findings.is_empty() {
        out.push_str("\n## Findings\n\n| Severity | Rule | Location | Finding |\n| --- | --- | --- | --- |\n");
        for finding in &report.findings {
            let mut detail = escape(&finding.message);
            if !finding.snippet.is_empty() {
                let _ = write!(detail, "<br><code>{}</code>", escape(&finding.snippet));
            }
            let _ = writeln!(
                out,
                "| **{}** | <code>{}</code> | <code>{}</code> | {} |",
                finding.severity.as_str(),
                escape(&finding.rule_id),
                escape(&location_label(&finding.location)),
                detail
            );
        }
    }
    if !report.notes.is_empty() {
        out.push_str("\n## Skipped files\n\n| File | Why | Detail |\n| --- | --- | --- |\n");
        for note in &report.notes {
            let _ = writeln!(
                out,
                "| <code>{}</code> | {} | {} |",
                escape(&note.path),
                note.kind.as_str(),
                escape(&note.detail)
            );
        }
    }
    let used: Vec<_> = report
        .rules
        .iter()
        .filter(|rule| report.findings.iter().any(|f| f.rule_id == rule.id))
        .collect();
    if !used.is_empty() {
        out.push_str("\n## Rules\n\n| Rule | What | CWE | OWASP Agentic | Fix |\n| --- | --- | --- | --- | --- |\n");
        for rule in used {
            let _ = writeln!(
                out,
                "| <code>{}</code> | {} | {} | {} {} | {} |",
                escape(rule.id),
                escape(rule.title),
                rule.cwe,
                owasp_id(rule.owasp),
                escape(owasp_name(rule.owasp)),
                escape(rule.remediation)
            );
        }
    }
    out
}
