//! MCP client configuration files: finding the servers they declare and
//! judging how those servers are launched (`BWK-CONFIG-*`).
//!
//! Shapes understood (all may carry `//` comments and trailing commas):
//! * `mcpServers: {name: {command, args, env, url, headers, type}}` — Claude
//!   Desktop, Claude Code (`.mcp.json`, `~/.claude.json`, also
//!   `projects.<dir>.mcpServers`), Cursor, Windsurf (`serverUrl`), Gemini;
//! * `mcpServers: [{name, url, command, args, env, protocol, working_dir}]` —
//!   MCPProxy;
//! * `servers: {...}` and `inputs: [...]` — VS Code `mcp.json`;
//! * `mcp: {servers, inputs}` or `"mcp.servers"` — VS Code `settings.json`.

mod checks;
mod paths;
mod rules;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub use paths::default_config_paths;
pub use rules::CONFIG_RULES;

use crate::jsonc::{self, Node};
use crate::text::{LineIndex, masked_snippet_around};
use crate::walk::{FileOutcome, collect_rules, finish, note, read_text, run_detectors};
use crate::{
    Confidence, FileDetector, Finding, Location, NoteKind, Rule, ScanError, ScanReport, Severity,
};

/// Size limit for explicitly named config files: `~/.claude.json` also
/// holds Claude Code's per-project history and grows past the tree scan's
/// 2 MiB default.
pub const CONFIG_MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// File names that are MCP client configurations wherever they appear.
const CONFIG_FILE_NAMES: &[&str] = &[
    "claude_desktop_config.json",
    ".mcp.json",
    ".claude.json",
    "mcp.json",
    "mcp_config.json",
    "mcp_settings.json",
    "cline_mcp_settings.json",
];

/// Whether a root-relative path looks like an MCP client configuration.
pub(crate) fn is_config_path(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let name = parts.next().unwrap_or("");
    let parent = parts.next().unwrap_or("");
    CONFIG_FILE_NAMES.contains(&name)
        || (name == "settings.json"
            && (parent == ".vscode" || parent == ".gemini" || parent == "User"))
}

struct ConfigDetector;

impl FileDetector for ConfigDetector {
    fn rules(&self) -> &'static [Rule] {
        CONFIG_RULES
    }

    fn applies_to(&self, path: &str) -> bool {
        is_config_path(path)
    }

    fn scan(&self, path: &str, text: &str) -> Vec<Finding> {
        match jsonc::parse(text) {
            Ok(root) => analyse(path, text, &root),
            Err(_) => Vec::new(),
        }
    }
}

/// The `BWK-CONFIG-*` detector for MCP client configs found inside a tree
/// (`.mcp.json`, `.cursor/mcp.json`, `.vscode/mcp.json`,
/// `.vscode/settings.json`, `claude_desktop_config.json`, ...).
pub fn config_detector() -> Arc<dyn FileDetector> {
    Arc::new(ConfigDetector)
}

/// Scans MCP client configuration files with the config detector. Paths
/// are reported as given. Missing, unreadable or malformed files become
/// notes.
pub fn scan_configs(paths: &[PathBuf]) -> Result<ScanReport, ScanError> {
    scan_configs_with(paths, &[])
}

/// [`scan_configs`] with more detectors run over each file's text (secrets,
/// tool-description checks), whatever their `applies_to` says.
pub fn scan_configs_with(
    paths: &[PathBuf],
    extra: &[Arc<dyn FileDetector>],
) -> Result<ScanReport, ScanError> {
    let started = Instant::now();
    let mut detectors: Vec<Arc<dyn FileDetector>> = vec![config_detector()];
    detectors.extend(extra.iter().cloned());
    let refs: Vec<&Arc<dyn FileDetector>> = detectors.iter().collect();
    let mut report = ScanReport::default();
    for path in paths {
        let shown = path.to_string_lossy().into_owned();
        let mut outcome = FileOutcome::default();
        match read_text(path, CONFIG_MAX_FILE_BYTES) {
            Err((kind, detail)) => outcome.notes.push(note(&shown, kind, &detail)),
            Ok(text) => {
                let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
                report.files_scanned += 1;
                report.bytes_scanned += text.len() as u64;
                if let Err(error) = jsonc::parse(text) {
                    let (line, column) = LineIndex::new(text).position(error.offset);
                    outcome.notes.push(note(
                        &shown,
                        NoteKind::ParseError,
                        &format!("line {line}, column {column}: {}", error.message),
                    ));
                }
                run_detectors(&shown, text, &refs, false, &mut outcome);
            }
        }
        report.findings.extend(outcome.findings);
        report.notes.extend(outcome.notes);
    }
    report.rules = collect_rules(&detectors);
    finish(&mut report);
    report.duration = started.elapsed();
    Ok(report)
}

/// The servers an MCP client configuration declares, each as its name and its
/// object (comments and trailing commas dropped), in any of the shapes this
/// module understands. For `bulwark upstream import`. The error is the parse
/// error's position and message.
pub fn declared_servers(text: &str) -> Result<Vec<(String, serde_json::Value)>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = jsonc::parse(text).map_err(|error| {
        let (line, column) = LineIndex::new(text).position(error.offset);
        format!("line {line}, column {column}: {}", error.message)
    })?;
    Ok(servers(&root)
        .into_iter()
        .map(|s| (s.name, to_json(s.node)))
        .collect())
}

fn to_json(node: &Node) -> serde_json::Value {
    use crate::jsonc::Value as J;
    use serde_json::Value;
    match &node.value {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => serde_json::from_str(n).unwrap_or(Value::Null),
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        J::Object(members) => Value::Object(
            members
                .iter()
                .map(|m| (m.key.clone(), to_json(&m.value)))
                .collect(),
        ),
    }
}

/// One declared server.
pub(crate) struct Server<'a> {
    pub(crate) name: String,
    pub(crate) node: &'a Node,
}

/// Every server declared in any of the understood shapes.
pub(crate) fn servers(root: &Node) -> Vec<Server<'_>> {
    let mut out = Vec::new();
    let mut containers: Vec<&Node> = Vec::new();
    containers.extend(root.get("mcpServers"));
    containers.extend(root.get("servers"));
    containers.extend(root.get("mcp.servers"));
    containers.extend(root.get("mcp").and_then(|mcp| mcp.get("servers")));
    containers.extend(root.get("context_servers"));
    if let Some(projects) = root.get("projects").and_then(Node::members) {
        for project in projects {
            containers.extend(project.value.get("mcpServers"));
        }
    }
    for container in containers {
        if let Some(members) = container.members() {
            for member in members {
                if member.value.members().is_some() {
                    out.push(Server {
                        name: member.key.clone(),
                        node: &member.value,
                    });
                }
            }
        } else if let Some(items) = container.items() {
            for (i, item) in items.iter().enumerate() {
                if item.members().is_some() {
                    let name = item
                        .get("name")
                        .and_then(Node::as_str)
                        .map_or_else(|| format!("#{i}"), str::to_string);
                    out.push(Server { name, node: item });
                }
            }
        }
    }
    out
}

/// VS Code `inputs` declarations.
pub(crate) fn inputs(root: &Node) -> Vec<&Node> {
    let mut out = Vec::new();
    for container in [
        root.get("inputs"),
        root.get("mcp").and_then(|mcp| mcp.get("inputs")),
        root.get("mcp.inputs"),
    ]
    .into_iter()
    .flatten()
    {
        out.extend(
            container
                .items()
                .into_iter()
                .flatten()
                .filter(|i| i.members().is_some()),
        );
    }
    out
}

struct Pending {
    rule: &'static Rule,
    severity: Severity,
    confidence: Confidence,
    offset: usize,
    message: String,
    evidence: String,
}

/// Collects findings for one config file; snippets are built at the end so
/// that every secret found anywhere in the file is masked in all of them.
pub(crate) struct Ctx<'a> {
    pub(crate) text: &'a str,
    pending: Vec<Pending>,
    pub(crate) secrets: Vec<String>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(text: &'a str) -> Ctx<'a> {
        Ctx {
            text,
            pending: Vec::new(),
            secrets: Vec::new(),
        }
    }

    pub(crate) fn add(
        &mut self,
        rule: &'static Rule,
        confidence: Confidence,
        offset: usize,
        message: String,
        evidence: String,
    ) {
        self.add_with_severity(rule, rule.severity, confidence, offset, message, evidence);
    }

    pub(crate) fn add_with_severity(
        &mut self,
        rule: &'static Rule,
        severity: Severity,
        confidence: Confidence,
        offset: usize,
        message: String,
        evidence: String,
    ) {
        self.pending.push(Pending {
            rule,
            severity,
            confidence,
            offset,
            message,
            evidence,
        });
    }

    /// Byte offset in the file of byte `index` of string node's decoded
    /// value (exact unless escapes precede it, then the string's start).
    pub(crate) fn offset_in(&self, node: &Node, index: usize) -> usize {
        let start = node.content_start();
        let decoded = node.as_str().unwrap_or("");
        match (
            self.text.as_bytes().get(start..start + index),
            decoded.as_bytes().get(..index),
        ) {
            (Some(raw), Some(value)) if raw == value => start + index,
            _ => start,
        }
    }

    pub(crate) fn finish(self, path: &str) -> Vec<Finding> {
        let index = LineIndex::new(self.text);
        self.pending
            .into_iter()
            .map(|p| {
                let (line, column) = index.position(p.offset);
                Finding {
                    rule_id: p.rule.id.to_string(),
                    severity: p.severity,
                    confidence: p.confidence,
                    location: Location::File {
                        path: path.to_string(),
                        line,
                        column,
                    },
                    message: p.message,
                    snippet: masked_snippet_around(index.line(line), column, &self.secrets),
                    evidence: p.evidence,
                }
            })
            .collect()
    }
}

/// All `BWK-CONFIG-*` findings of a parsed config.
pub(crate) fn analyse(path: &str, text: &str, root: &Node) -> Vec<Finding> {
    let mut ctx = Ctx::new(text);
    for server in servers(root) {
        checks::check_server(&mut ctx, &server);
    }
    for input in inputs(root) {
        checks::check_input(&mut ctx, input);
    }
    ctx.finish(path)
}

/// `~`, `$HOME`, `${HOME}`, `${env:HOME}`, `${userHome}` expanded.
pub(crate) fn expand_home(path: &str) -> Option<PathBuf> {
    let home = dirs::home_dir()?;
    for prefix in [
        "~",
        "$HOME",
        "${HOME}",
        "${env:HOME}",
        "${userHome}",
        "%USERPROFILE%",
    ] {
        if let Some(rest) = path.strip_prefix(prefix)
            && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('\\'))
        {
            return Some(home.join(rest.trim_start_matches(['/', '\\'])));
        }
    }
    let path = Path::new(path);
    path.is_absolute().then(|| path.to_path_buf())
}
