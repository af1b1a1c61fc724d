//! Fingerprints and baselines.
//!
//! A fingerprint identifies a finding across edits that move it: it hashes
//! the rule id, the file (or server/tool/field) and the snippet with its
//! whitespace collapsed, never the line number. Two identical snippets in
//! one file under one rule are told apart by an occurrence index (their
//! order in the file).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Finding, Location, ScanError, ScanReport};

/// The `partialFingerprints` key in SARIF and the baseline format version.
pub const FINGERPRINT_VERSION: &str = "bulwark/v1";

fn location_key(location: &Location) -> String {
    match location {
        Location::File { path, .. } => path.clone(),
        Location::Tool {
            server,
            tool,
            field,
        } => format!("tool:{server}/{tool}#{field}"),
    }
}

fn normalised_text(finding: &Finding) -> String {
    let source = if !finding.snippet.trim().is_empty() {
        &finding.snippet
    } else if !finding.evidence.trim().is_empty() {
        &finding.evidence
    } else {
        &finding.message
    };
    source.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn identity(finding: &Finding) -> (String, String, String) {
    (
        finding.rule_id.clone(),
        location_key(&finding.location),
        normalised_text(finding),
    )
}

fn hash(identity: &(String, String, String), occurrence: usize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(FINGERPRINT_VERSION.as_bytes());
    for part in [&identity.0, &identity.1, &identity.2] {
        hasher.update([0]);
        hasher.update(part.as_bytes());
    }
    if occurrence > 0 {
        hasher.update(format!("\0#{occurrence}").as_bytes());
    }
    let digest = hasher.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of a finding as the first (or only) occurrence of its
/// snippet: 32 hex digits of SHA-256 over rule id, path and normalised
/// snippet. Line and column do not take part.
pub fn fingerprint(finding: &Finding) -> String {
    hash(&identity(finding), 0)
}

/// Fingerprints of a list of findings (in the report's order), with the
/// occurrence index mixed in for repeated snippets; the first occurrence's
/// fingerprint equals [`fingerprint`].
pub fn fingerprints(findings: &[Finding]) -> Vec<String> {
    let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
    findings
        .iter()
        .map(|finding| {
            let id = identity(finding);
            let count = seen.entry(id.clone()).or_insert(0);
            let fp = hash(&id, *count);
            *count += 1;
            fp
        })
        .collect()
}

#[derive(Debug, Serialize, Deserialize)]
struct BaselineFile {
    version: u32,
    tool: String,
    fingerprint: String,
    findings: Vec<BaselineEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct BaselineEntry {
    fingerprint: String,
    rule_id: String,
    location: String,
    message: String,
}

/// A set of accepted findings, by fingerprint.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    fingerprints: HashSet<String>,
}

impl Baseline {
    /// Reads a baseline written by [`Baseline::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Baseline, ScanError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScanError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file: BaselineFile = serde_json::from_str(&text).map_err(|e| ScanError::Baseline {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if file.version != 1 || file.fingerprint != FINGERPRINT_VERSION {
            return Err(ScanError::Baseline {
                path: path.to_path_buf(),
                message: format!(
                    "unsupported baseline version {} / {}",
                    file.version, file.fingerprint
                ),
            });
        }
        Ok(Baseline {
            fingerprints: file.findings.into_iter().map(|e| e.fingerprint).collect(),
        })
    }

    /// Writes every finding of `report` as accepted (pretty JSON, sorted,
    /// so baselines diff well in review).
    pub fn save(report: &ScanReport, path: impl AsRef<Path>) -> Result<(), ScanError> {
        let path = path.as_ref();
        let mut findings: Vec<BaselineEntry> = report
            .findings
            .iter()
            .zip(fingerprints(&report.findings))
            .map(|(finding, fingerprint)| BaselineEntry {
                fingerprint,
                rule_id: finding.rule_id.clone(),
                location: match &finding.location {
                    Location::File { path, line, .. } => format!("{path}:{line}"),
                    other => location_key(other),
                },
                message: finding.message.clone(),
            })
            .collect();
        findings.sort_by(|a, b| {
            a.location
                .cmp(&b.location)
                .then(a.fingerprint.cmp(&b.fingerprint))
        });
        let file = BaselineFile {
            version: 1,
            tool: "bulwark".to_string(),
            fingerprint: FINGERPRINT_VERSION.to_string(),
            findings,
        };
        let mut text = serde_json::to_string_pretty(&file).expect("baseline serialises");
        text.push('\n');
        std::fs::write(path, text).map_err(|source| ScanError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// A baseline accepting every finding of `report`, without a file.
    pub fn from_report(report: &ScanReport) -> Baseline {
        Baseline {
            fingerprints: fingerprints(&report.findings).into_iter().collect(),
        }
    }

    /// The findings not in the baseline (the new ones), in their order.
    pub fn filter(&self, findings: &[Finding]) -> Vec<Finding> {
        findings
            .iter()
            .zip(fingerprints(findings))
            .filter(|(_, fp)| !self.fingerprints.contains(fp))
            .map(|(finding, _)| finding.clone())
            .collect()
    }

    pub fn contains(&self, fingerprint: &str) -> bool {
        self.fingerprints.contains(fingerprint)
    }

    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }
}
