//! What a detector reports, and the rule it reports under.

use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses `info|low|medium|high|critical`, any case.
    pub fn parse(text: &str) -> Option<Severity> {
        match text.to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure the detector is. A sink reached from a tool parameter (taint) is
/// `High`; the same sink with no traced input is `Medium`; pattern-only hits
/// with weak context are `Low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// OWASP Top 10 for Agentic Applications (2026) categories, ASI01–ASI10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OwaspAgentic {
    /// Agent goal hijack (prompt injection, poisoned tool descriptions).
    ASI01,
    /// Tool misuse and exploitation.
    ASI02,
    /// Identity and privilege abuse (leaked credentials, over-broad access).
    ASI03,
    /// Agentic supply-chain vulnerabilities.
    ASI04,
    /// Unexpected code execution.
    ASI05,
    /// Memory and context poisoning.
    ASI06,
    /// Insecure inter-agent communication.
    ASI07,
    /// Cascading failures.
    ASI08,
    /// Human-agent trust exploitation.
    ASI09,
    /// Rogue agents.
    ASI10,
}

/// A rule: what one detector looks for. Rules are static data so that
/// reports (SARIF `rules`, HTML legends) can list them without running anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `BWK-SECRET-AWS-KEY`; used in `bulwark-ignore:` comments,
    /// baselines and SARIF `ruleId`.
    pub id: &'static str,
    pub title: &'static str,
    /// `CWE-78` style.
    pub cwe: &'static str,
    pub owasp: OwaspAgentic,
    pub severity: Severity,
    /// What to do about it, in one or two sentences.
    pub remediation: &'static str,
}

/// Where a finding is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Location {
    /// A position in a file; line and column are 1-based, the column counts
    /// characters (not bytes).
    File {
        path: String,
        line: u32,
        column: u32,
    },
    /// A field of a tool (or prompt or resource) a server exposes; `field` is
    /// `name`, `description` or a JSON pointer into the input schema such as
    /// `/properties/path/description`.
    Tool {
        server: String,
        tool: String,
        field: String,
    },
}

/// One thing a detector found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    pub confidence: Confidence,
    pub location: Location,
    /// The message shown to people: what is wrong here, specifically.
    pub message: String,
    /// The text around the hit (one line, at most 200 characters); secrets
    /// are masked in it.
    pub snippet: String,
    /// What fired: the matched pattern's name, the tainted parameter's path
    /// from source to sink, the decoded payload. Secrets are masked.
    pub evidence: String,
}
