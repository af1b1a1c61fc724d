//! Live servers: connect as an MCP client, list what the server exposes and
//! judge it; with a pin file, report tools whose definition changed since
//! the last scan (a "rug pull").

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bulwark_sandbox::{Report, Sandbox, SandboxKind};

use bulwark_detect::{Confidence, Finding, Location, Severity, ToolDescriptor, ToolKind};
use bulwark_upstream::{ConnectOptions, Target, Upstream};
use serde::{Deserialize, Serialize};

/// The rule a changed pinned tool is reported under.
pub const RUG_PULL_RULE: &str = "BWK-TOOL-RUG-PULL";

/// What a live scan saw and found.
pub struct LiveScan {
    pub server: String,
    pub tools: Vec<ToolDescriptor>,
    pub findings: Vec<Finding>,
}

/// `{server: {tool: sha256}}`, sorted, so the file diffs cleanly.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Pins {
    pub version: u32,
    pub servers: BTreeMap<String, BTreeMap<String, String>>,
}

impl Pins {
    pub fn load(path: &Path) -> Result<Pins, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                format!(
                    "{} is not a bulwark pin file ({e}); delete it to start over",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Pins {
                version: 1,
                ..Pins::default()
            }),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Compares `tools` with the pins of `server`, records the new state, and
    /// returns a finding per tool that changed or disappeared. New tools are
    /// pinned silently on first sight.
    pub fn check(&mut self, server: &str, tools: &[ToolDescriptor]) -> Vec<Finding> {
        let now: BTreeMap<String, String> = tools
            .iter()
            .map(|t| (pin_key(t), bulwark_detect::tool_fingerprint(t)))
            .collect();
        let mut findings = Vec::new();
        if let Some(before) = self.servers.get(server) {
            for (name, hash) in before {
                let (message, evidence) = match now.get(name) {
                    Some(current) if current == hash => continue,
                    Some(current) => (
                        format!(
                            "`{name}` changed since it was pinned: its name, description or input schema is different"
                        ),
                        format!("pinned sha256 {hash}, now {current}"),
                    ),
                    None => (
                        format!("`{name}` was pinned but the server no longer offers it"),
                        format!("pinned sha256 {hash}"),
                    ),
                };
                findings.push(Finding {
                    rule_id: RUG_PULL_RULE.into(),
                    severity: Severity::High,
                    confidence: Confidence::High,
                    location: Location::Tool {
                        server: server.into(),
                        tool: name.clone(),
                        field: "definition".into(),
                    },
                    message,
                    snippet: String::new(),
                    evidence,
                });
            }
        }
        self.servers.insert(server.to_string(), now);
        findings
    }
}

fn pin_key(tool: &ToolDescriptor) -> String {
    match tool.kind {
        ToolKind::Tool => tool.name.clone(),
        ToolKind::Prompt => format!("prompt:{}", tool.name),
        ToolKind::Resource => format!("resource:{}", tool.name),
    }
}

/// How to start a stdio server for a live scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanSandbox {
    /// `auto` (default): bubblewrap, else Landlock + seccomp; `none` runs it with bulwark's rights.
    pub kind: SandboxKind,
    /// Network on or off; unset: on for package runners (npx, uvx, …) only.
    pub network: Option<bool>,
}

/// [`scan_live`], with a stdio server started in a sandbox: a scanned server is untrusted code.
/// It gets a private, temporary home, tmp and working directory (removed afterwards), read-only
/// system paths and its own installation. Returns the scan and what the sandbox enforced.
pub async fn scan_live_sandboxed(
    target: &Target,
    options: &ConnectOptions,
    sandbox: ScanSandbox,
) -> Result<(LiveScan, Option<Report>), String> {
    let Target::Stdio {
        command,
        args,
        env,
        cwd,
    } = target
    else {
        return Ok((scan_live(target, options).await?, None));
    };
    if sandbox.kind == SandboxKind::None {
        return Ok((scan_live(target, options).await?, None));
    }
    let (resolved, path) = bulwark_sandbox::path::resolve(command, env);
    let private = tempfile::Builder::new()
        .prefix("bulwark-scan-")
        .tempdir()
        .map_err(|e| format!("cannot create the scanned server's private directory: {e}"))?;
    bulwark_sandbox::create_server_dirs(private.path()).map_err(|e| e.to_string())?;
    let network = sandbox
        .network
        .unwrap_or_else(|| bulwark_sandbox::default_network(&resolved));
    let policy =
        bulwark_sandbox::server_policy(private.path(), &resolved, args, cwd.as_deref(), network);
    let built = Sandbox::new(sandbox.kind, policy);
    let report = built.report().map_err(|e| format!("sandbox: {e}"))?;
    let mut env = env.clone();
    env.entry("PATH".to_owned()).or_insert(path);
    let target = Target::Stdio {
        command: resolved,
        args: args.clone(),
        env,
        cwd: cwd.clone(),
    };
    let options = ConnectOptions {
        sandbox: Some(Arc::new(built)),
        ..options.clone()
    };
    let scanned = scan_live(&target, &options).await;
    drop(private);
    Ok((scanned?, Some(report)))
}

/// Connects to `target`, lists tools, prompts and resources, and judges them.
pub async fn scan_live(target: &Target, options: &ConnectOptions) -> Result<LiveScan, String> {
    let upstream = Upstream::connect(target, options)
        .await
        .map_err(|e| e.to_string())?;
    let result = list_everything(&upstream).await;
    let info = upstream.server_info();
    let _ = upstream.close().await;
    let raw = result?;
    let server = info.name.clone().unwrap_or_else(|| target.to_string());
    let mut tools = Vec::with_capacity(raw.len());
    for (kind, value) in raw {
        let mut tool: ToolDescriptor = serde_json::from_value(value).map_err(|e| {
            format!("the server sent a {kind:?} definition bulwark cannot read: {e}")
        })?;
        tool.server = server.clone();
        tool.kind = kind;
        tools.push(tool);
    }
    // The server's instructions reach the model as surely as a description.
    if let Some(instructions) = info.instructions.filter(|i| !i.trim().is_empty()) {
        tools.push(ToolDescriptor {
            server: server.clone(),
            name: "instructions".into(),
            description: instructions,
            input_schema: None,
            kind: ToolKind::Prompt,
        });
    }
    let findings = bulwark_detect::inspect_tools(&tools, &[]);
    Ok(LiveScan {
        server,
        tools,
        findings,
    })
}

async fn list_everything(
    upstream: &Upstream,
) -> Result<Vec<(ToolKind, serde_json::Value)>, String> {
    let mut all = Vec::new();
    for tool in upstream.list_tools().await.map_err(|e| e.to_string())? {
        all.push((ToolKind::Tool, tool));
    }
    for prompt in upstream.list_prompts().await.map_err(|e| e.to_string())? {
        all.push((ToolKind::Prompt, prompt));
    }
    for resource in upstream.list_resources().await.map_err(|e| e.to_string())? {
        all.push((ToolKind::Resource, resource));
    }
    Ok(all)
}
