//! Plain, JSON and Markdown renderings of the registry for the CLI and README.

use std::fmt::Write;

use bulwark_core::{Profile, Registry, ToolDef};
use serde_json::{Value, json};

fn hints(tool: &ToolDef) -> String {
    let h = tool.hints;
    let mut out = Vec::new();
    if h.read_only {
        out.push("read-only");
    }
    if h.destructive {
        out.push("destructive");
    }
    if h.idempotent {
        out.push("idempotent");
    }
    if h.open_world {
        out.push("open-world");
    }
    out.join(", ")
}

pub fn tools_text(profile: &Profile) -> String {
    let width = profile
        .tools
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4);
    let mut out = String::new();
    for tool in &profile.tools {
        let _ = writeln!(
            out,
            "{:width$}  {:8}  {}",
            tool.name,
            tool.severity.as_str(),
            tool.description
        );
    }
    let _ = writeln!(
        out,
        "{} tools in profile `{}`",
        profile.tools.len(),
        profile.name
    );
    out
}

pub fn tools_json(profile: &Profile) -> String {
    let tools: Vec<Value> = profile
        .tools
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "title": t.title,
                "description": t.description,
                "severity": t.severity,
                "profiles": t.profiles,
                "annotations": {
                    "readOnlyHint": t.hints.read_only,
                    "destructiveHint": t.hints.destructive,
                    "idempotentHint": t.hints.idempotent,
                    "openWorldHint": t.hints.open_world,
                },
                "inputSchema": &*t.input_schema,
                "outputSchema": t.output_schema.as_deref(),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&tools).unwrap_or_default();
    text.push('\n');
    text
}

pub fn profiles(registry: &Registry, as_json: bool) -> String {
    if as_json {
        let list: Vec<Value> = registry
            .profiles()
            .map(|p| {
                json!({
                    "name": p.name,
                    "description": p.description,
                    "isolated": p.isolated,
                    "tools": p.tools.iter().map(|t| t.name.as_ref()).collect::<Vec<_>>(),
                })
            })
            .collect();
        return serde_json::to_string_pretty(&list).unwrap_or_default() + "\n";
    }
    let mut out = String::new();
    for p in registry.profiles() {
        let _ = writeln!(
            out,
            "{:24} {:>4} tools  {}",
            p.name,
            p.tools.len(),
            p.description
        );
    }
    out
}

/// The README's profiles and tools tables. A test keeps the README in sync.
pub fn markdown(registry: &Registry) -> String {
    let mut out = String::from("| profile | tools | description |\n|---|---:|---|\n");
    for p in registry.profiles() {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            p.name,
            p.tools.len(),
            p.description
        );
    }
    out.push_str("\n| tool | profiles | severity | hints | description |\n|---|---|---|---|---|\n");
    for t in registry.tools() {
        let profiles: Vec<String> = t.profiles.iter().map(|p| format!("`{p}`")).collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            t.name,
            profiles.join(" "),
            t.severity,
            hints(t),
            t.description.replace('|', "\\|")
        );
    }
    out
}
