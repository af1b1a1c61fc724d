//! SARIF 2.1.0: one run; rules with descriptions, help and
//! `security-severity`; results with physical or logical locations and a
//! `bulwark/v1` partial fingerprint.

use serde_json::{Value, json};

use super::tool_version;
use crate::baseline::{FINGERPRINT_VERSION, fingerprints};
use crate::{Location, NoteKind, OwaspAgentic, ScanReport, Severity};

pub(crate) fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's scale: ≥9 critical, 7–8.9 high, 4–6.9 medium, 0.1–3.9 low.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

pub(crate) fn owasp_name(category: OwaspAgentic) -> &'static str {
    match category {
        OwaspAgentic::ASI01 => "Agent goal hijack",
        OwaspAgentic::ASI02 => "Tool misuse and exploitation",
        OwaspAgentic::ASI03 => "Identity and privilege abuse",
        OwaspAgentic::ASI04 => "Agentic supply-chain vulnerabilities",
        OwaspAgentic::ASI05 => "Unexpected code execution",
        OwaspAgentic::ASI06 => "Memory and context poisoning",
        OwaspAgentic::ASI07 => "Insecure inter-agent communication",
        OwaspAgentic::ASI08 => "Cascading failures",
        OwaspAgentic::ASI09 => "Human-agent trust exploitation",
        OwaspAgentic::ASI10 => "Rogue agents",
    }
}

pub(crate) fn owasp_id(category: OwaspAgentic) -> String {
    format!("{category:?}")
}

/// Percent-encodes a path for a URI, keeping `/` and unreserved characters.
pub(crate) fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &byte in path.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `file:///abs/path` for an absolute path (Windows drive paths too).
pub(crate) fn file_uri(path: &str) -> String {
    let forward = path.replace('\\', "/");
    let bytes = forward.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        let (drive, rest) = forward.split_at(2);
        return format!("file:///{drive}{}", encode_path(rest));
    }
    format!("file://{}", encode_path(&forward))
}

fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/') || path.starts_with('\\') || (bytes.len() >= 2 && bytes[1] == b':')
}

fn artifact_location(path: &str, has_root: bool) -> Value {
    if is_absolute(path) {
        json!({ "uri": file_uri(path) })
    } else if has_root {
        json!({ "uri": encode_path(path), "uriBaseId": "%SRCROOT%" })
    } else {
        json!({ "uri": encode_path(path) })
    }
}

pub(crate) fn render(report: &ScanReport) -> String {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_ids: Vec<String> = Vec::new();
    for rule in &report.rules {
        let tags = vec![
            "security".to_string(),
            rule.cwe.to_string(),
            format!("external/cwe/{}", rule.cwe.to_ascii_lowercase()),
            format!("OWASP-{}", owasp_id(rule.owasp)),
        ];
        rules.push(json!({
            "id": rule.id,
            "name": rule.id,
            "shortDescription": { "text": rule.title },
            "fullDescription": {
                "text": format!(
                    "{}. {}; OWASP Agentic {} ({}).",
                    rule.title, rule.cwe, owasp_id(rule.owasp), owasp_name(rule.owasp)
                )
            },
            "help": {
                "text": rule.remediation,
                "markdown": format!("**Fix:** {}\n\n{} · OWASP Agentic {} — {}", rule.remediation, rule.cwe, owasp_id(rule.owasp), owasp_name(rule.owasp)),
            },
            "defaultConfiguration": { "level": level(rule.severity) },
            "properties": {
                "tags": tags,
                "security-severity": security_severity(rule.severity),
                "precision": "medium",
                "problem.severity": match rule.severity {
                    Severity::Critical | Severity::High => "error",
                    Severity::Medium => "warning",
                    _ => "recommendation",
                },
            },
        }));
        rule_ids.push(rule.id.to_string());
    }
    // Findings under rules no participating detector declared still get a
    // descriptor so that every ruleIndex is valid.
    for finding in &report.findings {
        if !rule_ids.contains(&finding.rule_id) {
            rules.push(json!({
                "id": finding.rule_id,
                "shortDescription": { "text": finding.rule_id },
                "defaultConfiguration": { "level": level(finding.severity) },
                "properties": { "tags": ["security"], "security-severity": security_severity(finding.severity) },
            }));
            rule_ids.push(finding.rule_id.clone());
        }
    }
    let has_root = report.root.is_some();
    let results: Vec<Value> = report
        .findings
        .iter()
        .zip(fingerprints(&report.findings))
        .map(|(finding, fingerprint)| {
            let index = rule_ids
                .iter()
                .position(|id| *id == finding.rule_id)
                .unwrap_or(0);
            let location = match &finding.location {
                Location::File { path, line, column } => {
                    let mut region = json!({
                        "startLine": (*line).max(1),
                        "startColumn": (*column).max(1),
                    });
                    if !finding.snippet.is_empty() {
                        region["snippet"] = json!({ "text": finding.snippet });
                    }
                    json!({
                        "physicalLocation": {
                            "artifactLocation": artifact_location(path, has_root),
                            "region": region,
                        }
                    })
                }
                Location::Tool {
                    server,
                    tool,
                    field,
                } => json!({
                    "logicalLocations": [{
                        "name": field,
                        "fullyQualifiedName": format!("{server}/{tool}#{field}"),
                        "kind": "member",
                    }],
                    "message": { "text": format!("server {server}, tool {tool}, {field}") },
                }),
            };
            json!({
                "ruleId": finding.rule_id,
                "ruleIndex": index,
                "level": level(finding.severity),
                "message": { "text": finding.message },
                "locations": [location],
                "partialFingerprints": { FINGERPRINT_VERSION: fingerprint },
                "properties": {
                    "severity": finding.severity.as_str(),
                    "confidence": finding.confidence,
                    "evidence": finding.evidence,
                },
            })
        })
        .collect();
    let notifications: Vec<Value> = report
        .notes
        .iter()
        .map(|note| {
            let mut value = json!({
                "level": if note.kind == NoteKind::DetectorFailed { "error" } else { "note" },
                "message": { "text": format!("{}: {} ({})", note.path, note.kind.as_str(), note.detail) },
                "descriptor": { "id": note.kind.as_str() },
            });
            if !note.path.is_empty() {
                value["locations"] = json!([{ "physicalLocation": { "artifactLocation": artifact_location(&note.path, has_root) } }]);
            }
            value
        })
        .collect();
    let mut run = json!({
        "tool": {
            "driver": {
                "name": "bulwark",
                "version": tool_version(),
                "semanticVersion": tool_version(),
                "rules": rules,
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
        "invocations": [{
            "executionSuccessful": true,
            "toolExecutionNotifications": notifications,
        }],
    });
    if let Some(root) = &report.root {
        let mut uri = file_uri(&root.to_string_lossy());
        if !uri.ends_with('/') {
            uri.push('/');
        }
        run["originalUriBaseIds"] = json!({ "%SRCROOT%": { "uri": uri } });
    }
    let sarif = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    });
    let mut text = serde_json::to_string_pretty(&sarif).expect("SARIF serialises");
    text.push('\n');
    text
}
