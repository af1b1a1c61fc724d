//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod sample;

use std::path::Path;
use std::sync::Arc;

use bulwark_scan::{
    Confidence, FileDetector, Finding, Location, OwaspAgentic, Rule, ScanReport, Severity,
};

pub const MARK_RULE: Rule = Rule {
    id: "TEST-MARK",
    title: "A FINDME marker",
    cwe: "CWE-1",
    owasp: OwaspAgentic::ASI01,
    severity: Severity::Medium,
    remediation: "Remove the marker.",
};

pub const OTHER_RULE: Rule = Rule {
    id: "TEST-OTHER",
    title: "Another marker",
    cwe: "CWE-2",
    owasp: OwaspAgentic::ASI02,
    severity: Severity::Low,
    remediation: "Remove it too.",
};

/// Reports `TEST-MARK` at each `FINDME` (severity from `FINDME:high` etc.)
/// and `TEST-OTHER` at each `OTHERME`; panics on a file containing
/// `PANICME`.
pub struct MarkerDetector;

pub static RULES: [Rule; 2] = [MARK_RULE, OTHER_RULE];

impl FileDetector for MarkerDetector {
    fn rules(&self) -> &'static [Rule] {
        &RULES
    }

    fn applies_to(&self, _path: &str) -> bool {
        true
    }

    fn scan(&self, path: &str, text: &str) -> Vec<Finding> {
        if text.contains("PANICME") {
            panic!("detector blew up on purpose");
        }
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            for (marker, rule) in [("FINDME", "TEST-MARK"), ("OTHERME", "TEST-OTHER")] {
                for (byte, _) in line.match_indices(marker) {
                    let rest = &line[byte + marker.len()..];
                    let severity = rest
                        .strip_prefix(':')
                        .and_then(|r| {
                            Severity::parse(
                                r.split(|c: char| !c.is_ascii_alphabetic())
                                    .next()
                                    .unwrap_or(""),
                            )
                        })
                        .unwrap_or(Severity::Medium);
                    out.push(Finding {
                        rule_id: rule.to_string(),
                        severity,
                        confidence: Confidence::High,
                        location: Location::File {
                            path: path.to_string(),
                            line: i as u32 + 1,
                            column: line[..byte].chars().count() as u32 + 1,
                        },
                        message: format!("{marker} marker"),
                        snippet: line.trim().to_string(),
                        evidence: marker.to_string(),
                    });
                }
            }
        }
        out
    }
}

pub fn marker() -> Arc<dyn FileDetector> {
    Arc::new(MarkerDetector)
}

pub fn write(root: &Path, rel: &str, contents: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// `path:line` of every finding, for compact assertions.
pub fn places(report: &ScanReport) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|f| match &f.location {
            Location::File { path, line, .. } => format!("{path}:{line}"),
            Location::Tool {
                server,
                tool,
                field,
            } => format!("{server}/{tool}#{field}"),
        })
        .collect()
}

pub fn rule_ids(report: &ScanReport) -> Vec<String> {
    report.findings.iter().map(|f| f.rule_id.clone()).collect()
}
