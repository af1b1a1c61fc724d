//! Detectors for `bulwark scan` and the gateway's quarantine: they judge
//! text (source files, config values, tool descriptions) and return
//! [`Finding`]s. No I/O happens here, so the same detectors run on files, on
//! live servers' tool lists and inside the gateway.
//!
//! - [`scan_secrets`]: credentials in a file's text (`BWK-SECRET-*`).
//! - [`inspect_tools`]: poisoning, hidden text, encoded payloads, shadowing,
//!   exfiltration-shaped parameters, capability mismatch (`BWK-TOOL-*`).
//! - [`tool_fingerprint`]: a stable hash of a tool definition, for pinning.
//! - [`rules`] / [`rule`]: the static rule table.

mod finding;
mod mask;
mod rules;
mod secrets;
mod suppress;
mod tools;

pub use finding::{Confidence, Finding, Location, OwaspAgentic, Rule, Severity};
pub use mask::mask_secret;
pub use secrets::{SecretSpan, find_secrets, scan_secrets};
pub use suppress::suppressed;
pub use tools::{ToolDescriptor, ToolKind, inspect_tools, tool_fingerprint};

/// Every rule of this crate; ids are unique and stable.
pub fn rules() -> &'static [Rule] {
    rules::RULES
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    rules::RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn rule_ids_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for r in rules() {
            assert!(seen.insert(r.id), "duplicate {}", r.id);
            assert!(
                r.id.starts_with("BWK-SECRET-") || r.id.starts_with("BWK-TOOL-"),
                "{}",
                r.id
            );
            assert!(r.cwe.starts_with("CWE-"), "{}", r.id);
            assert!(!r.remediation.is_empty() && !r.title.is_empty());
        }
        assert!(rule("BWK-SECRET-AWS-ACCESS-KEY").is_some());
        assert!(rule("nope").is_none());
    }
}
