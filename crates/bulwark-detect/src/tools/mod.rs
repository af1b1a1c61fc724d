//! The tool surface: what a server's tools, prompts and resources say about
//! themselves (names, descriptions, input schemas), judged for poisoning,
//! hidden text, encoded payloads, shadowing, exfiltration-shaped parameters,
//! capability mismatch and excessive permissions.

mod context;
mod decode;
mod hit;
mod mismatch;
mod params;
mod phrases;
mod shadow;
mod unicode;

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::finding::{Finding, Location};
use crate::rules::RULES;
use hit::{Hit, clip};

/// What kind of MCP object a descriptor describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolKind {
    #[default]
    Tool,
    Prompt,
    Resource,
}

/// A tool (or prompt, or resource) as a server exposes it.
///
/// Deserializes from this struct's own shape and from the MCP shapes:
/// a tool (`name`, `description`, `inputSchema`), a prompt (`name`,
/// `description`, `arguments` — turned into an input schema) and a resource
/// (`uri`/`uriTemplate`, `name`, `description`). `server` and `kind` default
/// to empty and inferred.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawTool")]
pub struct ToolDescriptor {
    pub server: String,
    pub name: String,
    pub description: String,
    #[serde(rename = "inputSchema", skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    pub kind: ToolKind,
}

#[derive(Deserialize)]
struct RawArgument {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    required: Option<bool>,
}

#[derive(Deserialize)]
struct RawTool {
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "inputSchema", alias = "input_schema")]
    input_schema: Option<Value>,
    #[serde(default)]
    arguments: Option<Vec<RawArgument>>,
    #[serde(default)]
    kind: Option<ToolKind>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default, rename = "uriTemplate")]
    uri_template: Option<String>,
}

impl From<RawTool> for ToolDescriptor {
    fn from(raw: RawTool) -> ToolDescriptor {
        let kind = raw.kind.unwrap_or(if raw.arguments.is_some() {
            ToolKind::Prompt
        } else if raw.uri.is_some() || raw.uri_template.is_some() {
            ToolKind::Resource
        } else {
            ToolKind::Tool
        });
        let input_schema = raw.input_schema.filter(|v| !v.is_null()).or_else(|| {
            raw.arguments.map(|args| {
                let mut props = serde_json::Map::new();
                let mut required = Vec::new();
                for a in args {
                    let mut p = serde_json::Map::new();
                    p.insert("type".into(), Value::String("string".into()));
                    if let Some(d) = a.description {
                        p.insert("description".into(), Value::String(d));
                    }
                    if a.required == Some(true) {
                        required.push(Value::String(a.name.clone()));
                    }
                    props.insert(a.name, Value::Object(p));
                }
                serde_json::json!({"type": "object", "properties": props, "required": required})
            })
        });
        ToolDescriptor {
            server: raw.server.unwrap_or_default(),
            name: raw
                .name
                .or(raw.uri)
                .or(raw.uri_template)
                .unwrap_or_default(),
            description: raw.description.unwrap_or_default(),
            input_schema,
            kind,
        }
    }
}

/// Escapes a JSON-pointer reference token.
pub(crate) fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Schema keys whose string values are not prose shown to the model.
const NON_PROSE_KEYS: &[&str] = &[
    "type",
    "format",
    "$schema",
    "$ref",
    "$id",
    "$anchor",
    "pattern",
    "contentEncoding",
    "contentMediaType",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Name,
    Prose,
    /// A property name: judged for hidden characters only.
    Key,
}

/// Every judged string of a tool: (field, text, kind).
fn fields(tool: &ToolDescriptor) -> Vec<(String, String, FieldKind)> {
    let mut out = vec![
        ("name".to_string(), tool.name.clone(), FieldKind::Name),
        (
            "description".to_string(),
            tool.description.clone(),
            FieldKind::Prose,
        ),
    ];
    if let Some(schema) = &tool.input_schema {
        walk_schema(schema, String::new(), None, &mut out, 0);
    }
    out
}

fn walk_schema(
    v: &Value,
    ptr: String,
    key: Option<&str>,
    out: &mut Vec<(String, String, FieldKind)>,
    depth: usize,
) {
    if depth > 32 || out.len() > 4096 {
        return;
    }
    match v {
        Value::String(s)
            if !key.is_some_and(|k| NON_PROSE_KEYS.contains(&k)) && !s.trim().is_empty() =>
        {
            out.push((ptr, s.clone(), FieldKind::Prose));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_schema(item, format!("{ptr}/{i}"), key, out, depth + 1);
            }
        }
        Value::Object(map) => {
            let is_props = key == Some("properties");
            for (k, child) in map {
                let child_ptr = format!("{ptr}/{}", pointer_escape(k));
                if is_props && !k.is_ascii() {
                    out.push((child_ptr.clone(), k.clone(), FieldKind::Key));
                }
                walk_schema(child, child_ptr, Some(k), out, depth + 1);
            }
        }
        _ => {}
    }
}

fn rule_severity(id: &str) -> crate::finding::Severity {
    RULES
        .iter()
        .find(|r| r.id == id)
        .map_or(crate::finding::Severity::High, |r| r.severity)
}

/// A snippet of `text` around `[start, end)`: one line, at most 200
/// characters, hidden characters shown as `<U+XXXX>`.
fn snippet(text: &str, start: usize, end: usize) -> String {
    let start = start.min(text.len());
    let mut lo = start.saturating_sub(80);
    while !text.is_char_boundary(lo) {
        lo -= 1;
    }
    let mut hi = (end.max(start) + 120).min(text.len());
    while !text.is_char_boundary(hi) {
        hi += 1;
    }
    let shown = unicode::reveal(&text[lo..hi]);
    let mut s = clip(&shown, 200);
    if lo > 0 && s.chars().count() < 200 {
        s.insert(0, '\u{2026}');
    }
    s
}

fn finding(tool: &ToolDescriptor, field: &str, text: &str, h: Hit) -> Finding {
    let severity = h.severity.unwrap_or_else(|| rule_severity(h.rule));
    let what = match tool.kind {
        ToolKind::Tool => "tool",
        ToolKind::Prompt => "prompt",
        ToolKind::Resource => "resource",
    };
    let message = match h.message.strip_prefix("tool ") {
        Some(rest) if tool.kind != ToolKind::Tool => format!("{what} {rest}"),
        _ => h.message.clone(),
    };
    Finding {
        rule_id: h.rule.to_string(),
        severity,
        confidence: h.confidence,
        location: Location::Tool {
            server: tool.server.clone(),
            tool: tool.name.clone(),
            field: field.to_string(),
        },
        message: format!(
            "{}/{}: {message}",
            if tool.server.is_empty() {
                "-"
            } else {
                &tool.server
            },
            tool.name
        ),
        snippet: snippet(text, h.start, h.end),
        evidence: h.evidence,
    }
}

/// Judges `tools` (one server's or several servers'). `peers` are tools of
/// other servers the client also connects to; they are used, together with
/// the tools of `tools` that belong to other servers, for shadowing and
/// impersonation. Findings are `Location::Tool`; at most one per rule and
/// field.
pub fn inspect_tools(tools: &[ToolDescriptor], peers: &[ToolDescriptor]) -> Vec<Finding> {
    let mut out = Vec::new();
    for tool in tools {
        out.extend(inspect_one(tool, tools, peers));
    }
    out
}

struct Collector<'a> {
    tool: &'a ToolDescriptor,
    seen: HashSet<(&'static str, String)>,
    findings: Vec<Finding>,
}

impl Collector<'_> {
    fn push(&mut self, field: &str, text: &str, h: Hit) {
        if self.seen.insert((h.rule, field.to_string())) {
            self.findings.push(finding(self.tool, field, text, h));
        }
    }
}

fn inspect_one(
    tool: &ToolDescriptor,
    tools: &[ToolDescriptor],
    peers: &[ToolDescriptor],
) -> Vec<Finding> {
    let mut c = Collector {
        tool,
        seen: HashSet::new(),
        findings: Vec::new(),
    };
    let all = fields(tool);
    let mut prose: Vec<(String, String)> = Vec::new();
    for (field, raw, kind) in &all {
        for h in unicode::unicode_hits(raw, *kind == FieldKind::Name) {
            c.push(field, raw, h);
        }
        if *kind == FieldKind::Key {
            continue;
        }
        let norm = unicode::normalize(raw);
        if *kind == FieldKind::Prose {
            for h in phrases::phrase_hits(&norm, false) {
                c.push(field, &norm, h);
            }
            for h in decode::decoded_hits(&norm) {
                c.push(field, &norm, h);
            }
            for f in crate::secrets::scan_secrets("tool-definition", raw) {
                if c.seen.insert((rule_static(&f.rule_id), field.clone())) {
                    c.findings.push(Finding {
                        location: Location::Tool {
                            server: tool.server.clone(),
                            tool: tool.name.clone(),
                            field: field.clone(),
                        },
                        message: format!(
                            "{}/{}: {} in the tool definition",
                            tool.server, tool.name, f.message
                        ),
                        ..f
                    });
                }
            }
        }
        prose.push((field.clone(), norm));
    }
    let others: Vec<&ToolDescriptor> = peers
        .iter()
        .chain(tools.iter())
        .filter(|p| p.server != tool.server)
        .collect();
    let siblings: BTreeSet<String> = tools
        .iter()
        .chain(peers.iter())
        .filter(|p| p.server == tool.server)
        .map(|p| p.name.to_ascii_lowercase())
        .collect();
    let text_of = |field: &str| {
        prose
            .iter()
            .find(|(f, _)| f == field)
            .map_or("", |(_, t)| t.as_str())
            .to_string()
    };
    for (field, h) in shadow::shadow_hits(tool, &prose, &others, &siblings) {
        let t = if field == "name" {
            tool.name.clone()
        } else {
            text_of(&field)
        };
        c.push(&field, &t, h);
    }
    for (field, h) in params::param_hits(tool) {
        let t = tool
            .input_schema
            .as_ref()
            .and_then(|s| s.pointer(&field))
            .map(|p| {
                ["description", "title"]
                    .iter()
                    .filter_map(|k| p.get(*k).and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        c.push(&field, &t, h);
    }
    for (field, h) in mismatch::mismatch_hits(tool, &prose) {
        let t = text_of(&field);
        c.push(&field, &t, h);
    }
    c.findings
}

fn rule_static(id: &str) -> &'static str {
    RULES
        .iter()
        .find(|r| r.id == id)
        .map_or("BWK-SECRET-GENERIC", |r| r.id)
}

/// SHA-256 (hex) of the canonical JSON of the tool's `name`, `description`
/// and `input_schema` (keys sorted at every level, no whitespace). Two
/// descriptors fingerprint alike exactly when those three are equal as JSON;
/// the server name and the kind are not part of it.
pub fn tool_fingerprint(tool: &ToolDescriptor) -> String {
    let value = serde_json::json!({
        "description": tool.description,
        "input_schema": tool.input_schema.clone().unwrap_or(Value::Null),
        "name": tool.name,
    });
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).expect("string serializes"));
                out.push(':');
                write_canonical(&map[*k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).expect("scalar serializes")),
    }
}
