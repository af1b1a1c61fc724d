//! The `scanner` profile: scanning as MCP tools, for agents that review
//! MCP servers and configs.

use std::path::PathBuf;

use bulwark_core::{CallContext, Severity as CallSeverity, ToolDef, ToolError, ToolOutput};
use bulwark_detect::{Finding, Severity, ToolDescriptor};
use bulwark_scan::{ScanOptions, ScanReport};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Findings returned by one call, at most; the summary still counts all.
const DEFAULT_MAX_FINDINGS: usize = 200;
/// Tool definitions judged by one `inspect_tool_descriptions` call, at most.
const MAX_TOOLS: usize = 5_000;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ScanPathArgs {
    /// Directory or file to scan, on the machine bulwark runs on.
    path: String,
    /// Report only findings at or above this severity: info, low, medium, high, critical.
    #[serde(default)]
    min_severity: Option<String>,
    /// Return at most this many findings (default 200); the summary counts all.
    #[serde(default)]
    max_findings: Option<usize>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ScanConfigArgs {
    /// MCP client config files to check (claude_desktop_config.json, .mcp.json,
    /// mcp.json, mcp_config.json ...). Empty: the usual places on this machine.
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    min_severity: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct InspectArgs {
    /// Tool definitions as MCP `tools/list` returns them (`name`,
    /// `description`, `inputSchema`); prompts and resources are accepted too.
    #[schemars(with = "Vec<serde_json::Value>")]
    tools: Vec<ToolDescriptor>,
    /// The server they come from, for the report.
    #[serde(default)]
    server: Option<String>,
    /// Other servers' tools, to catch descriptions that give orders about them.
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    peers: Vec<ToolDescriptor>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ServerArgs {
    /// Start this stdio MCP server and scan it, e.g.
    /// `npx -y @modelcontextprotocol/server-everything`. Runs the command on
    /// the machine bulwark runs on.
    #[serde(default)]
    command: Option<String>,
    /// Or scan the Streamable HTTP MCP server at this URL.
    #[serde(default)]
    url: Option<String>,
    /// HTTP headers for `url`, e.g. `{"Authorization": "Bearer ..."}`.
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    /// Seconds to wait for the server to start and answer (default 30, at most 120).
    #[serde(default)]
    timeout_secs: Option<u64>,
}

/// What every scanner tool answers.
#[derive(Serialize, JsonSchema)]
struct ScanResult {
    /// Findings by severity, over everything found (not only those returned).
    summary: Summary,
    /// The findings, most severe first.
    #[schemars(with = "Vec<serde_json::Value>")]
    findings: Vec<Finding>,
    /// Whether `findings` was cut to `max_findings`.
    truncated: bool,
    /// Files skipped or only partly read, and why.
    notes: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
struct Summary {
    files_scanned: usize,
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
    info: usize,
}

fn min_severity(text: Option<&str>) -> Result<Severity, ToolError> {
    match text {
        None => Ok(Severity::Info),
        Some(text) => Severity::parse(text).ok_or_else(|| {
            ToolError::InvalidArguments(format!(
                "min_severity `{text}` is not a severity; use info, low, medium, high or critical"
            ))
        }),
    }
}

fn answer(
    mut findings: Vec<Finding>,
    files_scanned: usize,
    notes: Vec<String>,
    min: Severity,
    max: usize,
) -> Result<ToolOutput, ToolError> {
    findings.retain(|f| f.severity >= min);
    // Most severe first; the walker's order (path, line) within a severity.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let summary = Summary {
        files_scanned,
        critical: count(Severity::Critical),
        high: count(Severity::High),
        medium: count(Severity::Medium),
        low: count(Severity::Low),
        info: count(Severity::Info),
    };
    let truncated = findings.len() > max;
    findings.truncate(max);
    serde_json::to_value(ScanResult {
        summary,
        findings,
        truncated,
        notes,
    })
    .map(ToolOutput::structured)
    .map_err(|e| ToolError::failed(format!("cannot encode the findings: {e}")))
}

/// Runs a file scan on the blocking pool (it reads files and uses its own
/// threads) and answers with its findings.
async fn scan_off_thread(
    scan: impl FnOnce() -> Result<ScanReport, bulwark_scan::ScanError> + Send + 'static,
    min: Severity,
    max: usize,
) -> Result<ToolOutput, ToolError> {
    let report = tokio::task::spawn_blocking(scan)
        .await
        .map_err(|e| ToolError::failed(format!("the scan stopped: {e}")))?
        .map_err(|e| ToolError::failed(e.to_string()))?;
    let notes = report
        .notes
        .iter()
        .map(|n| format!("{}: {:?}", n.path, n.kind))
        .collect();
    answer(report.findings, report.files_scanned, notes, min, max)
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        ToolDef::new(
            "scan_path",
            "Scan an MCP server's source tree (Python, TypeScript/JavaScript, Go, Rust) for leaked secrets, dangerous code reachable from tool parameters, and supply-chain risks. Offline: nothing leaves this machine.",
        )
        .title("Scan a source tree")
        .profiles(&["scanner"])
        .read_only()
        .severity(CallSeverity::Medium)
        .output::<ScanResult>()
        .handler(|_ctx: CallContext, args: ScanPathArgs| async move {
            let min = min_severity(args.min_severity.as_deref())?;
            let root = PathBuf::from(&args.path);
            if !root.exists() {
                return Err(ToolError::InvalidArguments(format!(
                    "`{}` does not exist on this machine; give a directory or file path",
                    args.path
                )));
            }
            let options = ScanOptions::new(root, crate::file_detectors());
            let max = args.max_findings.unwrap_or(DEFAULT_MAX_FINDINGS);
            scan_off_thread(move || bulwark_scan::scan_tree(&options), min, max).await
        }),
        ToolDef::new(
            "scan_mcp_config",
            "Check MCP client config files (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf, MCPProxy) for hardcoded secrets, plain-http URLs, unpinned npx/uvx packages, over-broad filesystem roots, TLS verification turned off and commands from writable paths.",
        )
        .title("Check MCP client configs")
        .profiles(&["scanner"])
        .read_only()
        .severity(CallSeverity::Medium)
        .output::<ScanResult>()
        .handler(|_ctx: CallContext, args: ScanConfigArgs| async move {
            let min = min_severity(args.min_severity.as_deref())?;
            let paths: Vec<PathBuf> = if args.paths.is_empty() {
                bulwark_scan::default_config_paths()
            } else {
                args.paths.iter().map(PathBuf::from).collect()
            };
            scan_off_thread(move || bulwark_scan::scan_configs(&paths), min, DEFAULT_MAX_FINDINGS)
                .await
        }),
        ToolDef::new(
            "scan_mcp_server",
            "Connect to an MCP server as a client (a stdio command to start, or a Streamable HTTP URL), list its tools, prompts, resources and instructions, and judge them for tool poisoning and prompt injection. Starting a command runs it on this machine (in a sandbox: bubblewrap or Landlock + seccomp, a private temporary home, network only for package runners such as npx and uvx), so this tool needs the tools:destructive scope.",
        )
        .title("Scan a live MCP server")
        .profiles(&["scanner"])
        .destructive()
        .severity(CallSeverity::High)
        .output::<ScanResult>()
        .handler(|_ctx: CallContext, args: ServerArgs| async move {
            let target = match (args.command, args.url) {
                (Some(command), None) => bulwark_upstream::Target::parse_command_line(&command)
                    .map_err(|e| ToolError::InvalidArguments(format!("command: {e}")))?,
                (None, Some(url)) => bulwark_upstream::Target::Http {
                    url,
                    headers: args.headers,
                },
                _ => {
                    return Err(ToolError::InvalidArguments(
                        "give exactly one of `command` (a stdio server to start) or `url`".into(),
                    ));
                }
            };
            let timeout = std::time::Duration::from_secs(args.timeout_secs.unwrap_or(30).clamp(1, 120));
            let options = bulwark_upstream::ConnectOptions {
                timeout,
                request_timeout: timeout,
                ..Default::default()
            };
            // Always sandboxed here: the agent chose the command.
            let (scanned, _) =
                crate::scan_live_sandboxed(&target, &options, crate::ScanSandbox::default())
                    .await
                    .map_err(ToolError::failed)?;
            answer(scanned.findings, 0, Vec::new(), Severity::Info, DEFAULT_MAX_FINDINGS)
        }),
        ToolDef::new(
            "inspect_tool_descriptions",
            "Judge MCP tool definitions (as tools/list returns them) for tool poisoning and prompt injection: hidden instructions, invisible Unicode, encoded payloads, orders about other servers' tools, exfiltration-shaped parameters, names that understate what a tool does.",
        )
        .title("Inspect tool descriptions")
        .profiles(&["scanner"])
        .read_only()
        .output::<ScanResult>()
        .handler(|_ctx: CallContext, args: InspectArgs| async move {
            if args.tools.len() > MAX_TOOLS || args.peers.len() > MAX_TOOLS {
                return Err(ToolError::InvalidArguments(format!(
                    "at most {MAX_TOOLS} tools and {MAX_TOOLS} peers per call; split the list"
                )));
            }
            let mut tools = args.tools;
            if let Some(server) = &args.server {
                for tool in &mut tools {
                    if tool.server.is_empty() {
                        tool.server = server.clone();
                    }
                }
            }
            let findings = bulwark_detect::inspect_tools(&tools, &args.peers);
            answer(findings, 0, Vec::new(), Severity::Info, MAX_TOOLS)
        }),
    ]
}
