//! The file detectors of a tree scan.

use std::sync::Arc;

use bulwark_detect::{Finding, Rule};
use bulwark_scan::FileDetector;
use bulwark_taint::Language;

/// Secrets in any text file.
pub struct SecretsDetector;

impl FileDetector for SecretsDetector {
    fn rules(&self) -> &'static [Rule] {
        bulwark_detect::rules()
    }

    fn applies_to(&self, path: &str) -> bool {
        // Lock files are machine-written hashes and URLs: entropy without secrets.
        let name = path.rsplit('/').next().unwrap_or(path);
        !matches!(
            name,
            "package-lock.json"
                | "yarn.lock"
                | "pnpm-lock.yaml"
                | "Cargo.lock"
                | "poetry.lock"
                | "uv.lock"
                | "go.sum"
        )
    }

    fn scan(&self, path: &str, text: &str) -> Vec<Finding> {
        bulwark_detect::scan_secrets(path, text)
            .into_iter()
            // Tool-description rules belong to live scans; only secrets here.
            .filter(|f| f.rule_id.starts_with("BWK-SECRET-"))
            .collect()
    }
}

/// Source code of MCP servers: taint from tool parameters to sinks.
pub struct CodeDetector;

impl FileDetector for CodeDetector {
    fn rules(&self) -> &'static [Rule] {
        bulwark_taint::rules()
    }

    fn applies_to(&self, path: &str) -> bool {
        Language::from_path(path).is_some()
    }

    fn scan(&self, path: &str, text: &str) -> Vec<Finding> {
        match Language::from_path(path) {
            Some(language) => bulwark_taint::analyze(path, language, text),
            None => Vec::new(),
        }
    }
}

/// Every detector a tree scan runs.
pub fn file_detectors() -> Vec<Arc<dyn FileDetector>> {
    vec![
        Arc::new(SecretsDetector),
        Arc::new(CodeDetector),
        bulwark_scan::supply_chain_detector(),
        bulwark_scan::config_detector(),
    ]
}

/// Every rule any scan can report, ids unique.
pub fn all_rules() -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for detector in file_detectors() {
        for rule in detector.rules() {
            if !rules.iter().any(|r| r.id == rule.id) {
                rules.push(*rule);
            }
        }
    }
    rules.sort_by_key(|r| r.id);
    rules
}
