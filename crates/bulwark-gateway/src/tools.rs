//! The `gateway` profile's MCP tools. None of them can approve anything:
//! approval is a person's act, through the CLI or the config file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bulwark_core::{CallContext, JsonObject, Severity, ToolDef, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::record::{ToolStatus, Transport, UpstreamRecord, approval_diff};
use crate::{Gateway, GatewayError, Intent, UpstreamSpec, effect, tail_log};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CallArgs {
    /// The upstream tool, as `server:tool` (e.g. `everything:echo`).
    name: String,
    /// The tool's arguments, as a JSON object.
    #[serde(default)]
    args: Option<JsonObject>,
    /// The same as a JSON string (MCPProxy's `args_json`), for clients that
    /// cannot send nested objects.
    #[serde(default)]
    args_json: Option<String>,
}

fn call_args(a: CallArgs) -> Result<(String, JsonObject), ToolError> {
    let args = match (a.args, a.args_json) {
        (Some(_), Some(_)) => {
            return Err(ToolError::InvalidArguments(
                "give `args` or `args_json`, not both".into(),
            ));
        }
        (Some(args), None) => args,
        (None, Some(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(ToolError::InvalidArguments(
                    "field `args_json`: must hold a JSON object such as {\"path\": \"/tmp\"}"
                        .into(),
                ));
            }
            Err(e) => {
                return Err(ToolError::InvalidArguments(format!(
                    "field `args_json`: not JSON ({e})"
                )));
            }
        },
        (None, None) => JsonObject::new(),
    };
    Ok((a.name, args))
}

fn call_tool(
    gateway: &Gateway,
    name: &'static str,
    intent: Intent,
    description: &'static str,
) -> ToolDef {
    let gw = gateway.clone();
    let mut def = ToolDef::new(name, description)
        .title(match intent {
            Intent::Any => "Call an upstream tool",
            Intent::Read => "Call a read-only upstream tool",
            Intent::Write => "Call an upstream tool that changes things",
            Intent::Destructive => "Call a destructive upstream tool",
        })
        .severity(match intent {
            Intent::Read => Severity::Low,
            Intent::Write | Intent::Any => Severity::Medium,
            Intent::Destructive => Severity::High,
        })
        .open_world()
        .profiles(&["gateway"])
        .handler(move |ctx: CallContext, a: CallArgs| {
            let gw = gw.clone();
            async move {
                let (name, args) = call_args(a)?;
                gw.call(&ctx, &name, args, intent).await
            }
        });
    match intent {
        Intent::Read => def = def.read_only(),
        Intent::Destructive => def = def.destructive(),
        _ => {}
    }
    def
}

#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum ServerOp {
    List,
    Add,
    Remove,
    Update,
    Patch,
    TailLog,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ServersArgs {
    /// list, add, remove, update (replace how it is reached), patch (change
    /// only the given fields), tail_log.
    operation: ServerOp,
    /// The server's name (1-64 letters, digits, `_`, `-`, `.`); its tools are
    /// called as `name:tool`.
    #[serde(default)]
    name: Option<String>,
    /// stdio: the command to start, e.g. `npx`.
    #[serde(default)]
    command: Option<String>,
    /// stdio: its arguments.
    #[serde(default)]
    args: Option<Vec<String>>,
    /// stdio: extra environment variables.
    #[serde(default)]
    env: Option<BTreeMap<String, String>>,
    /// stdio: the working directory.
    #[serde(default)]
    cwd: Option<String>,
    /// HTTP: the server's MCP endpoint.
    #[serde(default)]
    url: Option<String>,
    /// HTTP: headers to send, e.g. {"Authorization": "Bearer ..."}.
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    /// stdio, http, streamable-http, sse or auto (default: stdio with a
    /// command, http with a url).
    #[serde(default)]
    protocol: Option<String>,
    /// Whether the server is used at all.
    #[serde(default)]
    enabled: Option<bool>,
    /// tail_log: how many lines (default 50, at most 1000).
    #[serde(default)]
    lines: Option<usize>,
}

fn transport_of(a: &ServersArgs, base: Option<&Transport>) -> Result<Transport, GatewayError> {
    let protocol = a.protocol.as_deref().unwrap_or("auto");
    // Agents never choose the sandbox: a server they add gets the default, and an update keeps
    // what the administrator set (docs/sandbox.md).
    let b_sandbox = match base {
        Some(Transport::Stdio { sandbox, .. }) => sandbox.clone(),
        _ => Default::default(),
    };
    let (b_cmd, b_args, b_env, b_cwd, b_url, b_headers) = match base {
        Some(Transport::Stdio {
            command,
            args,
            env,
            cwd,
            ..
        }) => (
            Some(command.clone()),
            args.clone(),
            env.clone(),
            cwd.clone(),
            None,
            BTreeMap::new(),
        ),
        Some(Transport::Http { url, headers, .. }) | Some(Transport::Sse { url, headers }) => (
            None,
            Vec::new(),
            BTreeMap::new(),
            None,
            Some(url.clone()),
            headers.clone(),
        ),
        None => (
            None,
            Vec::new(),
            BTreeMap::new(),
            None,
            None,
            BTreeMap::new(),
        ),
    };
    let base_kind = base.map(Transport::kind);
    let command = a.command.clone().or(b_cmd);
    let url = a.url.clone().or(b_url);
    let kind = match protocol {
        "stdio" => "stdio",
        "http" | "streamable-http" => "http",
        "sse" => "sse",
        "auto" => {
            if a.command.is_some() {
                "stdio"
            } else if a.url.is_some() {
                "http"
            } else {
                base_kind.unwrap_or("")
            }
        }
        other => {
            return Err(GatewayError::Invalid(format!(
                "field `protocol`: {other:?} is not one of stdio, http, streamable-http, sse, auto"
            )));
        }
    };
    match kind {
        "stdio" => Ok(Transport::Stdio {
            command: command
                .ok_or_else(|| GatewayError::Invalid("a stdio server needs `command`".into()))?,
            args: a.args.clone().unwrap_or(b_args),
            env: a.env.clone().unwrap_or(b_env),
            cwd: a.cwd.clone().map(PathBuf::from).or(b_cwd),
            sandbox: b_sandbox,
        }),
        "http" | "sse" => {
            let url =
                url.ok_or_else(|| GatewayError::Invalid("an HTTP server needs `url`".into()))?;
            let headers = a.headers.clone().unwrap_or(b_headers);
            Ok(if kind == "sse" {
                Transport::Sse { url, headers }
            } else {
                // An update keeps the OAuth settings; only the CLI and the config set them.
                let oauth = base.and_then(Transport::oauth).cloned();
                Transport::Http {
                    url,
                    headers,
                    oauth,
                }
            })
        }
        _ => Err(GatewayError::Invalid(
            "give `command` (stdio) or `url` (HTTP)".into(),
        )),
    }
}

fn need_name(a: &ServersArgs) -> Result<String, GatewayError> {
    a.name
        .clone()
        .ok_or_else(|| GatewayError::Invalid("field `name`: required for this operation".into()))
}

/// A server as `list` shows it: approved tools with their descriptions,
/// the others by name and status only (their text is for `quarantine_security`).
fn server_view(gw: &Gateway, r: &UpstreamRecord) -> Value {
    let tools: Vec<Value> = r
        .tools
        .iter()
        .map(|(name, t)| {
            let status = r.status(name, t);
            let mut v = json!({
                "name": format!("{}:{name}", r.name),
                "status": status,
            });
            if status == ToolStatus::Approved {
                v["description"] = json!(t.description);
                v["effect"] = json!(effect(&t.annotations));
                if let Some(title) = &t.title {
                    v["title"] = json!(title);
                }
            }
            if !t.findings.is_empty() {
                v["findings"] = json!(t.findings.len());
            }
            v
        })
        .collect();
    json!({
        "name": r.name,
        "protocol": r.transport.kind(),
        "target": r.transport.summary(),
        "enabled": r.enabled,
        "quarantined": r.quarantined,
        "origin": r.origin,
        "inspected_at": r.inspected_at,
        "last_error": r.last_error,
        "connection": gw.conn_state(&r.name),
        "sandbox": gw.sandbox_report(r),
        "tools": tools,
    })
}

/// `disable_management` turns the management tools off; `read_only_mode`
/// leaves them able to look but not to change anything.
fn check_management(gw: &Gateway, changes: bool) -> Result<(), GatewayError> {
    let opts = gw.options();
    if opts.disable_management {
        return Err(GatewayError::Refused(
            "upstream management through MCP is turned off (`gateway.disable_management = true`); a person manages upstreams with `bulwark upstream …`".into(),
        ));
    }
    if changes && opts.read_only_mode {
        return Err(GatewayError::Refused(
            "the gateway is in read-only mode (`gateway.read_only_mode = true`): MCP tools cannot change upstreams; a person can with `bulwark upstream …`".into(),
        ));
    }
    Ok(())
}

async fn servers(gw: Gateway, ctx: CallContext, a: ServersArgs) -> Result<ToolOutput, ToolError> {
    let opts = gw.options().clone();
    check_management(
        &gw,
        !matches!(a.operation, ServerOp::List | ServerOp::TailLog),
    )?;
    match a.operation {
        ServerOp::List => {
            let records = gw.sync()?;
            let list: Vec<Value> = records.values().map(|r| server_view(&gw, r)).collect();
            Ok(ToolOutput::structured(json!({ "servers": list })))
        }
        ServerOp::Add => {
            if !opts.allow_server_add {
                return Err(GatewayError::Refused(
                    "adding servers through MCP is turned off (`gateway.allow_server_add = false`); a person can run `bulwark upstream add`".into(),
                )
                .into());
            }
            let name = need_name(&a)?;
            let transport = transport_of(&a, None)?;
            let record = gw.add_from_agent(UpstreamSpec {
                name,
                transport,
                enabled: a.enabled.unwrap_or(true),
            })?;
            Ok(ToolOutput::structured(json!({
                "added": record.name,
                "quarantined": true,
                "next": format!("the server is quarantined; bulwark lists its tools for inspection (`quarantine_security` with operation `inspect_quarantined`, name `{}`). A person approves it with `bulwark upstream approve {}`", record.name, record.name),
            })))
        }
        ServerOp::Remove => {
            if !opts.allow_server_remove {
                return Err(GatewayError::Refused(
                    "removing servers through MCP is turned off (`gateway.allow_server_remove = false`); a person can run `bulwark upstream remove`".into(),
                )
                .into());
            }
            if !ctx.has_scope("tools:destructive") {
                return Err(ToolError::Forbidden("tools:destructive".into()));
            }
            let name = need_name(&a)?;
            let record = gw.remove(&name)?;
            Ok(ToolOutput::structured(json!({ "removed": record.name })))
        }
        ServerOp::Update | ServerOp::Patch => {
            let name = need_name(&a)?;
            let state = gw.state()?;
            let current = state
                .get(&name)?
                .ok_or(GatewayError::UnknownServer { name: name.clone() })?;
            let touches_transport = a.command.is_some()
                || a.args.is_some()
                || a.env.is_some()
                || a.cwd.is_some()
                || a.url.is_some()
                || a.headers.is_some()
                || a.protocol.is_some();
            let transport = if a.operation == ServerOp::Update {
                Some(transport_of(&a, None)?)
            } else if touches_transport {
                Some(transport_of(&a, Some(&current.transport))?)
            } else {
                None
            };
            if let Some(t) = &transport {
                crate::state::check_transport(t)?;
            }
            let record = state.update(&name, |r| {
                if let Some(t) = transport {
                    r.transport = t;
                }
                if let Some(enabled) = a.enabled {
                    r.enabled = enabled;
                }
                Ok(r.clone())
            })?;
            gw.sync()?;
            Ok(ToolOutput::structured(server_view(&gw, &record)))
        }
        ServerOp::TailLog => {
            let name = need_name(&a)?;
            gw.state()?
                .get(&name)?
                .ok_or(GatewayError::UnknownServer { name: name.clone() })?;
            let lines = a.lines.unwrap_or(50).clamp(1, 1000);
            let text = tail_log(&gw, &name, lines)?;
            Ok(ToolOutput::structured(json!({
                "name": name,
                "file": gw.log_file(&name).display().to_string(),
                "lines": text.lines().count(),
                "log": text,
            })))
        }
    }
}

#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum QuarantineOp {
    ListQuarantined,
    InspectQuarantined,
    QuarantineServer,
    InspectTools,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct QuarantineArgs {
    /// list_quarantined, inspect_quarantined, quarantine_server or inspect_tools.
    operation: QuarantineOp,
    /// The server, for every operation but list_quarantined.
    #[serde(default)]
    name: Option<String>,
}

/// Every tool of a server, each description quoted, with the detectors'
/// findings and evidence, and the diff for tools changed since approval.
fn inspection(r: &UpstreamRecord) -> Value {
    let tools: Vec<Value> = r
        .tools
        .iter()
        .map(|(name, t)| {
            let findings: Vec<Value> = t
                .findings
                .iter()
                .map(|f| {
                    json!({
                        "rule": f.rule_id,
                        "severity": f.severity,
                        "message": f.message,
                        "evidence": f.evidence,
                        "snippet": f.snippet,
                        "location": f.location,
                    })
                })
                .collect();
            let quoted: String = t.description.lines().map(|l| format!("> {l}\n")).collect();
            let mut v = json!({
                "name": format!("{}:{name}", r.name),
                "status": r.status(name, t),
                "description_quoted": quoted,
                "input_schema": t.input_schema,
                "annotations": t.annotations,
                "effect": effect(&t.annotations),
                "hash": t.hash,
                "findings": findings,
            });
            if let Some(diff) = approval_diff(t) {
                v["change_since_approval"] = json!(diff);
            }
            v
        })
        .collect();
    let findings: usize = r.tools.values().map(|t| t.findings.len()).sum();
    json!({
        "name": r.name,
        "protocol": r.transport.kind(),
        "target": r.transport.summary(),
        "quarantined": r.quarantined,
        "inspected_at": r.inspected_at,
        "last_error": r.last_error,
        "total_findings": findings,
        "tools": tools,
        "approve_with": format!("a person reviews the above and runs `bulwark upstream approve {}` (or `… approve {} TOOL` for one tool); agents cannot approve", r.name, r.name),
    })
}

async fn quarantine(gw: Gateway, a: QuarantineArgs) -> Result<ToolOutput, ToolError> {
    check_management(&gw, a.operation == QuarantineOp::QuarantineServer)?;
    match a.operation {
        QuarantineOp::ListQuarantined => {
            let records = gw.sync()?;
            let list: Vec<Value> = records
                .values()
                .filter_map(|r| {
                    let blocked: Vec<String> = r
                        .tools
                        .iter()
                        .filter(|(n, t)| {
                            matches!(
                                r.status(n, t),
                                ToolStatus::Changed | ToolStatus::Pending | ToolStatus::Blocked
                            )
                        })
                        .map(|(n, t)| {
                            format!("{}:{n} ({:?})", r.name, r.status(n, t)).to_lowercase()
                        })
                        .collect();
                    if !r.quarantined && blocked.is_empty() {
                        return None;
                    }
                    Some(json!({
                        "name": r.name,
                        "quarantined": r.quarantined,
                        "tools": r.tools.len(),
                        "blocked_tools": blocked,
                        "findings": r.tools.values().map(|t| t.findings.len()).sum::<usize>(),
                        "inspected_at": r.inspected_at,
                        "last_error": r.last_error,
                    }))
                })
                .collect();
            Ok(ToolOutput::structured(json!({ "quarantined": list })))
        }
        QuarantineOp::InspectQuarantined | QuarantineOp::InspectTools => {
            let name = a.name.ok_or_else(|| {
                GatewayError::Invalid("field `name`: required for this operation".into())
            })?;
            let current = gw
                .sync()?
                .get(&name)
                .cloned()
                .ok_or(GatewayError::UnknownServer { name: name.clone() })?;
            if a.operation == QuarantineOp::InspectQuarantined && !current.quarantined {
                return Err(GatewayError::Invalid(format!(
                    "upstream `{name}` is not quarantined; use operation `inspect_tools` to inspect an approved server"
                ))
                .into());
            }
            // A fresh listing when the server is reachable; otherwise the last
            // one stored, with the connection error.
            let (record, error) = match gw.inspect(&name).await {
                Ok(r) => (r, None),
                Err(e) => (current, Some(e.to_string())),
            };
            let mut view = inspection(&record);
            if let Some(error) = error {
                view["connect_error"] = json!(error);
            }
            Ok(ToolOutput::structured(view))
        }
        QuarantineOp::QuarantineServer => {
            let name = a.name.ok_or_else(|| {
                GatewayError::Invalid("field `name`: required for this operation".into())
            })?;
            let record = gw.state()?.quarantine(&name)?;
            gw.sync()?;
            Ok(ToolOutput::structured(json!({
                "quarantined": record.name,
                "next": format!("its tools are no longer listed or callable; a person releases it with `bulwark upstream approve {}`", record.name),
            })))
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReadCacheArgs {
    /// The key from a cut response's note.
    key: String,
    /// Where to start, in characters (the note gives the first offset).
    #[serde(default)]
    offset: usize,
    /// How many characters (default and maximum: the tool response limit).
    #[serde(default)]
    limit: Option<usize>,
}

pub(crate) fn tools(gateway: &Gateway) -> Vec<ToolDef> {
    let mut out = vec![
        call_tool(
            gateway,
            "call_tool",
            Intent::Any,
            "Call a tool of an approved upstream MCP server, named `server:tool`, with `args`. Tools of quarantined servers and tools changed since approval are refused. A tool that is not marked read-only or non-destructive counts as destructive and needs the `tools:destructive` scope. Prefer call_tool_read / call_tool_write / call_tool_destructive, which state the intent.",
        ),
        call_tool(
            gateway,
            "call_tool_read",
            Intent::Read,
            "Call a read-only upstream tool (`readOnlyHint: true`), named `server:tool`, with `args`. Refuses tools that may change things and names the variant to use.",
        ),
        call_tool(
            gateway,
            "call_tool_write",
            Intent::Write,
            "Call an upstream tool that may change things but is not destructive (`destructiveHint: false`), or a read-only one, named `server:tool`, with `args`.",
        ),
        call_tool(
            gateway,
            "call_tool_destructive",
            Intent::Destructive,
            "Call any approved upstream tool, including destructive ones, named `server:tool`, with `args`. Needs the `tools:destructive` scope.",
        ),
    ];
    let gw = gateway.clone();
    out.push(
        ToolDef::new(
            "upstream_servers",
            "Manage the upstream MCP servers behind the gateway. operation: list (servers, state, and their callable `server:tool` tools), add (saved quarantined: a person must approve it), remove (needs `tools:destructive`), update (replace how it is reached), patch (change given fields, e.g. enabled), tail_log (the server's stderr). Cannot approve or release a quarantine.",
        )
        .title("Upstream MCP servers")
        .severity(Severity::Medium)
        .profiles(&["gateway"])
        .handler(move |ctx: CallContext, a: ServersArgs| servers(gw.clone(), ctx, a)),
    );
    let gw = gateway.clone();
    out.push(
        ToolDef::new(
            "quarantine_security",
            "Review upstream servers before a person approves them. operation: list_quarantined (quarantined servers and blocked tools), inspect_quarantined / inspect_tools (every tool description quoted, with the scanner's findings and their evidence, and a diff for tools changed since approval), quarantine_server (put a server back into quarantine). Approval itself is not available here.",
        )
        .title("Quarantine and tool pinning")
        .severity(Severity::Medium)
        .profiles(&["gateway"])
        .handler(move |_ctx: CallContext, a: QuarantineArgs| quarantine(gw.clone(), a)),
    );
    let gw = gateway.clone();
    out.push(
        ToolDef::new(
            "read_cache",
            "Read more of an upstream response that was cut at the gateway's response limit: `key` from the note, `offset` and `limit` in characters.",
        )
        .title("Page through a cut response")
        .read_only()
        .profiles(&["gateway"])
        .handler(move |ctx: CallContext, a: ReadCacheArgs| {
            let gw = gw.clone();
            async move {
                let text = gw.cache_get(&ctx, &a.key)?;
                let max = gw.options().tool_response_limit;
                let limit = a.limit.unwrap_or(max).clamp(1, max);
                let total = text.chars().count();
                if a.offset > total {
                    return Err(ToolError::InvalidArguments(format!(
                        "field `offset`: {} is past the end ({total} characters)",
                        a.offset
                    )));
                }
                let part: String = text.chars().skip(a.offset).take(limit).collect();
                let end = a.offset + part.chars().count();
                Ok(ToolOutput::structured(json!({
                    "key": a.key,
                    "offset": a.offset,
                    "total_chars": total,
                    "next_offset": if end < total { Some(end) } else { None },
                    "text": part,
                })))
            }
        }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::SandboxConfig;
    use bulwark_sandbox::SandboxKind;

    fn stdio_sandbox(t: &Transport) -> &SandboxConfig {
        match t {
            Transport::Stdio { sandbox, .. } => sandbox,
            _ => panic!("not stdio: {t:?}"),
        }
    }

    #[test]
    fn agents_cannot_choose_or_change_the_sandbox() {
        let base = Transport::Stdio {
            command: "python3".into(),
            args: vec![],
            env: BTreeMap::new(),
            cwd: None,
            sandbox: SandboxConfig {
                kind: SandboxKind::Bwrap,
                network: Some(false),
                ..Default::default()
            },
        };
        let patch: ServersArgs = serde_json::from_value(
            json!({"operation": "patch", "name": "x", "command": "node", "args": ["s.js"]}),
        )
        .unwrap();
        let patched = transport_of(&patch, Some(&base)).unwrap();
        assert_eq!(stdio_sandbox(&patched), stdio_sandbox(&base));
        let added = transport_of(&patch, None).unwrap();
        assert!(stdio_sandbox(&added).is_default());
        let sneaky = serde_json::from_value::<ServersArgs>(
            json!({"operation": "add", "name": "x", "command": "sh", "sandbox": "none"}),
        );
        assert!(
            sneaky.is_err(),
            "an agent-supplied sandbox setting is refused"
        );
    }
}
