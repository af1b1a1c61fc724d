//! `bulwark upstream …`: the gateway's upstream servers, acting on the store
//! in the data dir. A running `bulwark serve` sees each change within a second.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use bulwark_gateway::record::{Origin, ToolStatus, approval_diff};
use bulwark_gateway::{Gateway, OAuthSettings, Transport, UpstreamRecord, UpstreamSpec};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
// Parsed once per process from the command line: the size of `Add` costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum UpstreamCommand {
    /// Add a server, quarantined: `add NAME -- CMD ARGS…` (stdio) or `add NAME --url URL`.
    Add {
        name: String,
        /// Streamable HTTP endpoint (or legacy SSE with --sse).
        #[arg(long, conflicts_with = "command")]
        url: Option<String>,
        /// The URL speaks the legacy HTTP+SSE transport.
        #[arg(long, requires = "url")]
        sse: bool,
        /// HTTP header for the server, `NAME: VALUE` (repeatable).
        #[arg(long = "header", value_name = "NAME: VALUE", requires = "url")]
        headers: Vec<String>,
        /// The server wants OAuth: log in with `bulwark upstream login NAME` afterwards.
        #[arg(long, requires = "url", conflicts_with = "sse")]
        oauth: bool,
        /// OAuth client id registered by hand (for servers without dynamic registration).
        #[arg(long, value_name = "ID", requires = "oauth")]
        oauth_client_id: Option<String>,
        /// HTTPS URL of a client ID metadata document to use as the client id, where the
        /// authorization server supports that (CIMD); else bulwark registers itself (DCR).
        #[arg(long, value_name = "URL", requires = "oauth")]
        oauth_client_metadata_url: Option<String>,
        /// OAuth scope to ask for (repeatable); default: what the server asks for.
        #[arg(long = "oauth-scope", value_name = "SCOPE", requires = "oauth")]
        oauth_scopes: Vec<String>,
        /// Environment variable for a stdio server, `NAME=VALUE` (repeatable).
        #[arg(long = "env", value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// Working directory for a stdio server.
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// Add it disabled.
        #[arg(long)]
        disabled: bool,
        /// Sandbox for a stdio server: auto (default), bwrap, landlock or none.
        #[arg(long, value_name = "KIND")]
        sandbox: Option<String>,
        /// Network inside the sandbox (default: on for npx/uvx-style package runners, else off).
        #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
        network: Option<bool>,
        /// Extra path the sandboxed server may read (repeatable).
        #[arg(long = "read-only", value_name = "PATH")]
        read_only: Vec<PathBuf>,
        /// Extra path the sandboxed server may read and write (repeatable).
        #[arg(long = "writable", value_name = "PATH")]
        writable: Vec<PathBuf>,
        /// The stdio command and its arguments, after `--`.
        #[arg(last = true, value_name = "CMD ARGS")]
        command: Vec<String>,
    },
    /// List the servers, their state and their tools.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a server.
    Remove { name: String },
    /// Approve a server (every tool it lists now) or one of its tools: pins
    /// each tool's hash; a later change blocks the tool until approved again.
    Approve {
        name: String,
        tool: Option<String>,
        /// Pin the listing stored at the last inspection instead of
        /// connecting to the server for a fresh one.
        #[arg(long)]
        no_connect: bool,
    },
    /// Put a server back into quarantine.
    Quarantine { name: String },
    /// Block tools of a server: they are neither listed, indexed nor
    /// callable, approved or not, until unblocked.
    Block {
        name: String,
        #[arg(required = true)]
        tools: Vec<String>,
    },
    /// Lift `block`.
    Unblock {
        name: String,
        #[arg(required = true)]
        tools: Vec<String>,
    },
    /// Disable a server, or only the given tools of it (the same as `block`).
    Disable { name: String, tools: Vec<String> },
    /// Enable a server, or only the given tools of it (the same as `unblock`).
    Enable { name: String, tools: Vec<String> },
    /// Show every tool's description with the scanner's findings (connects to list them).
    Inspect {
        name: String,
        #[arg(long)]
        no_connect: bool,
    },
    /// Add the servers of an MCP client config (Claude Desktop, Claude Code,
    /// Cursor, VS Code mcp.json, MCPProxy mcp_config.json), all quarantined.
    Import { file: PathBuf },
    /// Log in to an HTTP upstream that uses OAuth: prints a URL to open in a
    /// browser, waits for the redirect to 127.0.0.1, and stores the tokens
    /// encrypted.
    Login {
        name: String,
        /// Seconds to wait for the browser's redirect.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=3600))]
        timeout: u64,
    },
    /// Forget the stored OAuth tokens of an upstream.
    Logout { name: String },
}

fn pairs(items: &[String], sep: char, what: &str) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|item| {
            let (k, v) = item
                .split_once(sep)
                .ok_or_else(|| anyhow!("{what} `{item}` is not `NAME{sep}VALUE`"))?;
            let k = k.trim();
            if k.is_empty() {
                bail!("{what} `{item}` has an empty name");
            }
            Ok((k.to_string(), v.trim_start().to_string()))
        })
        .collect()
}

fn status_word(r: &UpstreamRecord) -> String {
    if !r.enabled {
        "disabled".into()
    } else if r.quarantined {
        "quarantined".into()
    } else {
        let blocked = r
            .tools
            .iter()
            .filter(|(n, t)| {
                matches!(
                    r.status(n, t),
                    ToolStatus::Changed | ToolStatus::Pending | ToolStatus::Blocked
                )
            })
            .count();
        if blocked > 0 {
            format!("approved, {blocked} tool(s) blocked")
        } else {
            "approved".into()
        }
    }
}

fn print_inspection(r: &UpstreamRecord) {
    println!(
        "{} ({} {}): {}",
        r.name,
        r.transport.kind(),
        r.transport.summary(),
        status_word(r)
    );
    if let Some(err) = &r.last_error {
        println!("  last error: {err}");
    }
    for (name, t) in &r.tools {
        println!("\n  {}:{name}  [{:?}]", r.name, r.status(name, t));
        for line in t.description.lines() {
            println!("    > {line}");
        }
        for f in &t.findings {
            println!(
                "    ! {} {:?}: {} (evidence: {})",
                f.rule_id, f.severity, f.message, f.evidence
            );
        }
        if let Some(diff) = approval_diff(t) {
            println!("    changed since approval:");
            for line in diff.lines() {
                println!("      {line}");
            }
        }
    }
}

fn block(
    state: &bulwark_gateway::StateStore,
    name: &str,
    tools: &[String],
    blocked: bool,
) -> Result<()> {
    let r = state.set_blocked(name, tools, blocked)?;
    for tool in tools {
        if !blocked {
            println!("unblocked `{}:{tool}`", r.name);
        } else if r.tools.contains_key(tool) {
            println!("blocked `{}:{tool}`", r.name);
        } else {
            println!(
                "blocked `{}:{tool}` (the server does not list it yet; it stays blocked if it appears)",
                r.name
            );
        }
    }
    Ok(())
}

pub fn run(gateway: &Gateway, command: UpstreamCommand) -> Result<ExitCode> {
    let state = gateway.state()?;
    match command {
        UpstreamCommand::Add {
            name,
            url,
            sse,
            headers,
            oauth,
            oauth_client_id,
            oauth_client_metadata_url,
            oauth_scopes,
            env,
            cwd,
            disabled,
            sandbox,
            network,
            read_only,
            writable,
            command,
        } => {
            let absolute = |paths: Vec<PathBuf>| -> Result<Vec<PathBuf>> {
                let here = std::env::current_dir().context("cannot read the current directory")?;
                Ok(paths.into_iter().map(|p| here.join(p)).collect())
            };
            let sandbox = bulwark_gateway::SandboxConfig {
                kind: match sandbox {
                    Some(kind) => kind.parse().map_err(|e| anyhow!("--sandbox: {e}"))?,
                    None => Default::default(),
                },
                network,
                read_only: absolute(read_only)?,
                writable: absolute(writable)?,
            };
            let transport = match (url, command.split_first()) {
                (Some(url), None) => {
                    let headers = pairs(&headers, ':', "--header")?;
                    if sse {
                        Transport::Sse { url, headers }
                    } else {
                        Transport::Http {
                            url,
                            headers,
                            oauth: oauth.then_some(OAuthSettings {
                                client_id: oauth_client_id,
                                client_metadata_url: oauth_client_metadata_url,
                                scopes: oauth_scopes,
                            }),
                        }
                    }
                }
                (None, Some(_)) if oauth => bail!(
                    "--oauth is for HTTP upstreams (`--url URL`); give a stdio server its credentials with --env"
                ),
                (None, Some((cmd, args))) => Transport::Stdio {
                    command: cmd.clone(),
                    args: args.to_vec(),
                    env: pairs(&env, '=', "--env")?,
                    cwd,
                    sandbox,
                },
                _ => bail!(
                    "give the server as `bulwark upstream add {name} -- CMD ARGS…` (stdio) or `bulwark upstream add {name} --url URL` (HTTP)"
                ),
            };
            let record = state.add(
                UpstreamSpec {
                    name,
                    transport,
                    enabled: !disabled,
                },
                Origin::Cli,
            )?;
            println!(
                "added `{}` ({}), quarantined: review it with `bulwark upstream inspect {}`, then `bulwark upstream approve {}`",
                record.name,
                record.transport.summary(),
                record.name,
                record.name
            );
        }
        UpstreamCommand::List { json } => {
            let records = state.all()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&records)?);
            } else if records.is_empty() {
                println!(
                    "no upstream servers; add one with `bulwark upstream add NAME -- CMD ARGS…`"
                );
            } else {
                for r in records {
                    let callable = r.callable().count();
                    println!(
                        "{:20} {:6} {:28} {:3} tools, {:3} callable  {}",
                        r.name,
                        r.transport.kind(),
                        status_word(&r),
                        r.tools.len(),
                        callable,
                        r.transport.summary()
                    );
                }
            }
        }
        UpstreamCommand::Remove { name } => {
            let r = state.remove(&name)?;
            println!("removed `{}`", r.name);
        }
        UpstreamCommand::Quarantine { name } => {
            let r = state.quarantine(&name)?;
            println!(
                "`{}` is quarantined: its tools are neither listed nor callable",
                r.name
            );
        }
        UpstreamCommand::Block { name, tools } => block(state, &name, &tools, true)?,
        UpstreamCommand::Unblock { name, tools } => block(state, &name, &tools, false)?,
        UpstreamCommand::Disable { name, tools } if !tools.is_empty() => {
            block(state, &name, &tools, true)?
        }
        UpstreamCommand::Enable { name, tools } if !tools.is_empty() => {
            block(state, &name, &tools, false)?
        }
        UpstreamCommand::Disable { name, .. } => {
            let r = state.set_enabled(&name, false)?;
            println!(
                "`{}` is disabled: it is not connected and none of its tools is listed or callable",
                r.name
            );
        }
        UpstreamCommand::Enable { name, .. } => {
            let r = state.set_enabled(&name, true)?;
            println!("`{}` is enabled", r.name);
        }
        UpstreamCommand::Inspect { name, no_connect } => {
            let record = refreshed(gateway, &name, no_connect)?;
            print_inspection(&record);
            print_sandbox(gateway, &record);
        }
        UpstreamCommand::Approve {
            name,
            tool,
            no_connect,
        } => {
            let record = refreshed(gateway, &name, no_connect)?;
            if record.tools.is_empty() {
                bail!(
                    "no tools of `{name}` are known yet, so there is nothing to pin; make the server reachable and run this again{}",
                    record
                        .last_error
                        .as_deref()
                        .map(|e| format!(" (last error: {e})"))
                        .unwrap_or_default()
                );
            }
            let (record, pinned) = state.approve(&name, tool.as_deref())?;
            let findings: usize = pinned
                .iter()
                .filter_map(|t| record.tools.get(t))
                .map(|t| t.findings.len())
                .sum();
            println!(
                "approved `{name}`: pinned {} tool(s): {}",
                pinned.len(),
                pinned.join(", ")
            );
            if findings > 0 {
                eprintln!(
                    "warning: the approved tools carry {findings} scanner finding(s); see `bulwark upstream inspect {name}`"
                );
            }
        }
        UpstreamCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let (specs, skipped) = bulwark_gateway::import::parse(&text)?;
            for skip in &skipped {
                eprintln!("skipped `{}`: {}", skip.name, skip.reason);
            }
            let mut added = 0;
            for spec in specs {
                let name = spec.name.clone();
                match state.add(spec, Origin::Import) {
                    Ok(_) => {
                        added += 1;
                        println!("added `{name}` (quarantined)");
                    }
                    Err(err) => eprintln!("skipped `{name}`: {err}"),
                }
            }
            println!(
                "imported {added} server(s) from {}; review each with `bulwark upstream inspect NAME` and approve with `bulwark upstream approve NAME`",
                file.display()
            );
        }
        UpstreamCommand::Login { name, timeout } => login(gateway, &name, timeout)?,
        UpstreamCommand::Logout { name } => {
            state.get(&name)?.ok_or_else(|| {
                anyhow!(bulwark_gateway::GatewayError::UnknownServer { name: name.clone() })
            })?;
            if tokens(gateway).forget(&name)? {
                println!("forgot the OAuth tokens of `{name}`");
            } else {
                println!("`{name}` has no stored OAuth tokens");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `inspect` says about the sandbox a stdio server runs in.
fn print_sandbox(gateway: &Gateway, record: &UpstreamRecord) {
    let Some(report) = gateway.sandbox_report(record) else {
        return;
    };
    let field = |k: &str| report.get(k).and_then(|v| v.as_str()).unwrap_or("");
    println!();
    if let Some(error) = report.get("error").and_then(|v| v.as_str()) {
        println!("sandbox: {} (requested) — {error}", field("requested"));
        return;
    }
    println!(
        "sandbox: {} (requested {}), network {}",
        field("backend"),
        field("requested"),
        if report["network"].as_bool() == Some(true) {
            "on"
        } else {
            "off"
        }
    );
    if let Some(warning) = report.get("warning").and_then(|v| v.as_str()) {
        println!("  WARNING: {warning}");
    }
    for line in report["enforces"].as_array().into_iter().flatten() {
        println!("  - {}", line.as_str().unwrap_or(""));
    }
    let list = |k: &str| {
        report[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    if field("backend") != "none" {
        println!("  working directory: {}", field("workdir"));
        println!("  writable: {}", list("writable"));
        println!("  read-only: {}", list("read_only"));
    }
    println!("  environment: {}", list("env"));
}

/// The record after a fresh listing, unless `no_connect` or the server is
/// unreachable (then the stored listing, with a warning).
fn refreshed(gateway: &Gateway, name: &str, no_connect: bool) -> Result<UpstreamRecord> {
    let stored = gateway.state()?.get(name)?.ok_or_else(|| {
        anyhow!(bulwark_gateway::GatewayError::UnknownServer { name: name.into() })
    })?;
    if no_connect {
        return Ok(stored);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match rt.block_on(gateway.inspect(name)) {
        Ok(record) => Ok(record),
        Err(err) => {
            eprintln!("warning: {err}; using the listing stored at the last inspection");
            Ok(stored)
        }
    }
}

fn tokens(gateway: &Gateway) -> std::sync::Arc<bulwark_gateway::UpstreamTokens> {
    let options = gateway.options();
    std::sync::Arc::new(bulwark_gateway::UpstreamTokens::new(
        options.store_path.clone(),
        options.secrets_key.clone(),
    ))
}

/// `bulwark upstream login NAME`: the authorization code flow with PKCE, the
/// redirect caught on 127.0.0.1, the tokens sealed in the store.
fn login(gateway: &Gateway, name: &str, timeout_secs: u64) -> Result<()> {
    let record = gateway.state()?.get(name)?.ok_or_else(|| {
        anyhow!(bulwark_gateway::GatewayError::UnknownServer { name: name.into() })
    })?;
    let (url, settings) = match &record.transport {
        Transport::Http {
            url,
            oauth: Some(settings),
            ..
        } => (url.clone(), settings.clone()),
        Transport::Http { .. } => bail!(
            "upstream `{name}` does not use OAuth; add it again with `bulwark upstream add {name} --url URL --oauth` (or set `auth = \"oauth\"` in its `[[upstreams]]` entry)"
        ),
        other => bail!(
            "upstream `{name}` is a {} server; OAuth login is only for HTTP upstreams",
            other.kind()
        ),
    };
    let options = bulwark_upstream::LoginOptions {
        client_id: settings.client_id,
        client_metadata_url: settings.client_metadata_url,
        scopes: settings.scopes,
        timeout: std::time::Duration::from_secs(timeout_secs),
    };
    let connect = tokens(gateway).connect(name);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = rt.block_on(bulwark_upstream::oauth::login(
        &url,
        &connect,
        &options,
        |auth_url| {
            println!("Open this URL in a browser to log in to `{name}` ({url}):\n\n  {auth_url}\n");
            println!("Waiting up to {timeout_secs} s for the redirect to 127.0.0.1 …");
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
        },
    ))?;
    println!(
        "logged in to `{name}` as client {}{}; the tokens are stored encrypted",
        outcome.client_id,
        if outcome.scopes.is_empty() {
            String::new()
        } else {
            format!(" with scopes {}", outcome.scopes.join(" "))
        }
    );
    Ok(())
}
