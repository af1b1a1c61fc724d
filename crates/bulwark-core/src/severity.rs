use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How much an action matters to an auditor. Ordered: `Low < Medium < High < Critical`.
///
/// Follows the LimaCharlie audit convention: CRITICAL for deletions, credentials and
/// network isolation; HIGH for configuration changes; MEDIUM for reads and queries;
/// LOW for everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "LOW" => Ok(Severity::Low),
            "MEDIUM" => Ok(Severity::Medium),
            "HIGH" => Ok(Severity::High),
            "CRITICAL" => Ok(Severity::Critical),
            _ => Err(format!(
                "`{s}` is not a severity; use one of LOW, MEDIUM, HIGH, CRITICAL"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Low < Severity::Medium && Severity::High < Severity::Critical);
        assert_eq!("critical".parse::<Severity>().unwrap(), Severity::Critical);
        assert!(
            "urgent"
                .parse::<Severity>()
                .unwrap_err()
                .contains("LOW, MEDIUM")
        );
        assert_eq!(serde_json::to_string(&Severity::High).unwrap(), "\"HIGH\"");
    }
}
