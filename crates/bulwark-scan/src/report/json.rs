//! The JSON report, schema version 1:
//! `{version, tool{name, version}, summary{files, bytes, duration_ms,
//! findings, findings_by_severity{critical, high, medium, low, info}, notes},
//! findings[], notes[], rules[]}`.

use serde::Serialize;

use super::{count, millis, tool_version};
use crate::baseline::fingerprints;
use crate::{Confidence, Location, Note, OwaspAgentic, Rule, ScanReport, Severity};

/// Version of the JSON report schema.
pub const JSON_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    tool: Tool,
    summary: Summary,
    findings: Vec<FindingOut<'a>>,
    notes: &'a [Note],
    rules: &'a [Rule],
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Summary {
    files: usize,
    bytes: u64,
    duration_ms: u128,
    findings: usize,
    findings_by_severity: BySeverity,
    notes: usize,
}

#[derive(Serialize)]
struct BySeverity {
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
    info: usize,
}

#[derive(Serialize)]
struct FindingOut<'a> {
    rule_id: &'a str,
    title: Option<&'static str>,
    severity: Severity,
    confidence: Confidence,
    location: &'a Location,
    message: &'a str,
    snippet: &'a str,
    evidence: &'a str,
    fingerprint: String,
    cwe: Option<&'static str>,
    owasp: Option<OwaspAgentic>,
    remediation: Option<&'static str>,
}

pub(crate) fn render(report: &ScanReport) -> String {
    let findings = report
        .findings
        .iter()
        .zip(fingerprints(&report.findings))
        .map(|(f, fingerprint)| {
            let rule = report.rule(&f.rule_id);
            FindingOut {
                rule_id: &f.rule_id,
                title: rule.map(|r| r.title),
                severity: f.severity,
                confidence: f.confidence,
                location: &f.location,
                message: &f.message,
                snippet: &f.snippet,
                evidence: &f.evidence,
                fingerprint,
                cwe: rule.map(|r| r.cwe),
                owasp: rule.map(|r| r.owasp),
                remediation: rule.map(|r| r.remediation),
            }
        })
        .collect();
    let out = Report {
        version: JSON_SCHEMA_VERSION,
        tool: Tool {
            name: "bulwark",
            version: tool_version(),
        },
        summary: Summary {
            files: report.files_scanned,
            bytes: report.bytes_scanned,
            duration_ms: millis(report),
            findings: report.findings.len(),
            findings_by_severity: BySeverity {
                critical: count(report, Severity::Critical),
                high: count(report, Severity::High),
                medium: count(report, Severity::Medium),
                low: count(report, Severity::Low),
                info: count(report, Severity::Info),
            },
            notes: report.notes.len(),
        },
        findings,
        notes: &report.notes,
        rules: &report.rules,
    };
    let mut text = serde_json::to_string_pretty(&out).expect("report serialises");
    text.push('\n');
    text
}
