//! The file detectors of a tree scan.

use std::sync::Arc;

use bulwark_detect::{Finding, Location, Rule, ToolDescriptor, ToolKind};
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
        let Some(language) = Language::from_path(path) else {
            return Vec::new();
        };
        let (mut findings, tools) = bulwark_taint::analyze_file(path, language, text);
        findings.extend(judge_source_descriptions(path, text, &tools));
        findings
    }

    /// Installed packages are analysed only when they look like MCP server
    /// code (they register tools): the libraries a server pulls in are
    /// thousands of files of someone else's code, which a tree scan would
    /// otherwise spend most of its time parsing. `--analyze-dependencies`
    /// turns this off.
    fn scan_dependency(&self, path: &str, text: &str) -> Vec<Finding> {
        if bulwark_taint::may_register_tools(text) {
            self.scan(path, text)
        } else {
            Vec::new()
        }
    }
}

/// Runs the tool-description detectors (the same ones live scans and the
/// gateway use) over the descriptions a source file fixes, so a poisoned
/// docstring is caught before the server ever runs. Findings point at the
/// line in the description where the evidence is, else at its first line.
fn judge_source_descriptions(
    path: &str,
    text: &str,
    tools: &[bulwark_taint::ToolEntry],
) -> Vec<Finding> {
    let described: Vec<&bulwark_taint::ToolEntry> =
        tools.iter().filter(|t| t.description.is_some()).collect();
    if described.is_empty() {
        return Vec::new();
    }
    let descriptors: Vec<ToolDescriptor> = described
        .iter()
        .map(|t| {
            let properties: serde_json::Map<String, serde_json::Value> = t
                .parameters
                .iter()
                .map(|p| (p.clone(), serde_json::json!({})))
                .collect();
            ToolDescriptor {
                server: String::new(),
                name: t.name.clone(),
                description: t.description.clone().unwrap_or_default(),
                input_schema: Some(serde_json::json!({"type": "object", "properties": properties})),
                kind: ToolKind::Tool,
            }
        })
        .collect();
    let lines: Vec<&str> = text.lines().collect();
    bulwark_detect::inspect_tools(&descriptors, &[])
        .into_iter()
        .filter_map(|mut f| {
            let Location::Tool { tool, field, .. } = &f.location else {
                return Some(f);
            };
            let entry = described.iter().find(|t| &t.name == tool)?;
            let (line, column) = locate(&lines, entry, field, &f.evidence);
            f.location = Location::File {
                path: path.to_string(),
                line,
                column,
            };
            f.snippet = lines
                .get(line as usize - 1)
                .map(|l| l.trim().chars().take(200).collect())
                .unwrap_or_default();
            Some(f)
        })
        .collect()
}

/// Pieces of a finding's evidence worth looking for in the source, best
/// first: a quoted phrase (its first 40 characters, as a phrase may wrap
/// onto the next line), a back-quoted name, the text after a label's colon.
fn evidence_needles(evidence: &str) -> Vec<String> {
    let mut out = Vec::new();
    for quote in ['"', '`'] {
        if let Some(piece) = evidence.split(quote).nth(1) {
            out.push(piece.chars().take(40).collect::<String>().to_lowercase());
        }
    }
    if let Some((_, rest)) = evidence.split_once(": ") {
        out.push(
            rest.trim_matches('"')
                .chars()
                .take(40)
                .collect::<String>()
                .to_lowercase(),
        );
    }
    if let Some(tag) = evidence.strip_prefix("tag ") {
        out.push(tag.trim().to_lowercase());
    }
    out
}

/// Where in the source a description finding's evidence sits: for a
/// parameter (`/properties/NAME...`), the first line from the registration
/// that names it; otherwise the first line of the description that contains
/// a quoted piece of the evidence; failing both, the description's start.
fn locate(
    lines: &[&str],
    entry: &bulwark_taint::ToolEntry,
    field: &str,
    evidence: &str,
) -> (u32, u32) {
    let start = entry.description_line.max(1) as usize;
    let span = entry
        .description
        .as_deref()
        .map_or(1, |d| d.lines().count().max(1));
    let (from, needles) = match field.strip_prefix("/properties/") {
        Some(rest) => (
            entry.line.max(1) as usize,
            rest.split('/')
                .next()
                .map(str::to_lowercase)
                .into_iter()
                .collect(),
        ),
        None => (start, evidence_needles(evidence)),
    };
    let end = start + span + 2;
    for needle in needles.iter().filter(|n| n.chars().count() >= 3) {
        for (i, line) in lines.iter().enumerate().take(end).skip(from.min(start) - 1) {
            if let Some(at) = line.to_lowercase().find(needle.as_str()) {
                let column = line.get(..at).map_or(0, |p| p.chars().count()) as u32 + 1;
                return ((i + 1) as u32, column);
            }
        }
    }
    (start as u32, entry.description_column.max(1))
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
