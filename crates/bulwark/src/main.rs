//! The `bulwark` binary: command line and wiring only.

mod auth;
mod cli;
mod config;
mod hunt;
mod iocs;
mod listing;
mod report;
mod scan;
mod tenant;
mod timeline;
mod upstream;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use bulwark_core::{ProfileFile, Registry};
use std::sync::Arc;

use bulwark_server::limits::{RateLimits, RedisBudgets};
use bulwark_server::{Bulwark, HttpOptions, HttpServer, PipelineOptions};
use clap::Parser;

use cli::{
    AuditCommand, AuthCommand, Cli, Command, ConfigCommand, KeyCommand, ProfilesCommand, ServeArgs,
    ToolsCommand,
};
use config::{Config, LogFormat, Mode};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps mimalloc's arenas off transparent huge pages: with THP, a few live
/// allocations pin whole 2 MiB pages, so RSS grows in 2 MiB steps. The `no_thp`
/// feature of libmimalloc-sys 0.1.49 defines a macro its option table does not
/// read, so this is done here. Memory that mimalloc mapped before `main` keeps
/// the huge pages it already has (4 MiB measured); everything mapped later is
/// covered, since the flag is per process.
fn disable_thp() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE takes integer arguments only and
    // changes no memory this program holds.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Source-code parsing (`bulwark scan`) allocates through mimalloc too,
/// not the C library's malloc: about 4% of a scan's CPU time went to glibc's
/// allocator.
fn parser_allocator() {
    /// `calloc` from `mi_zalloc` (mimalloc's own `mi_calloc` needs the
    /// crate's `extended` feature and its extra dependencies).
    unsafe extern "C" fn zeroed(count: usize, size: usize) -> *mut std::ffi::c_void {
        match count.checked_mul(size) {
            // SAFETY: a plain allocation request.
            Some(bytes) => unsafe { libmimalloc_sys::mi_zalloc(bytes) },
            None => std::ptr::null_mut(),
        }
    }

    // SAFETY: called first thing in `main`, before anything is parsed; the
    // mimalloc functions are drop-in replacements for their C namesakes.
    unsafe {
        bulwark_taint::set_parser_allocator(
            libmimalloc_sys::mi_malloc,
            zeroed,
            libmimalloc_sys::mi_realloc,
            libmimalloc_sys::mi_free,
        );
    }
}

fn main() -> ExitCode {
    disable_thp();
    parser_allocator();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            use clap::error::ErrorKind;
            let is_usage = !matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            );
            // `bulwark scan` follows the scanners' convention: 3 for usage errors
            // (2 is a failed scan); other commands keep clap's 2.
            if is_usage && std::env::args().skip(1).any(|a| a == "scan") {
                let _ = error.print();
                return ExitCode::from(bulwark_scan::EXIT_USAGE as u8);
            }
            error.exit();
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut overrides: Vec<(&str, figment::value::Value)> = Vec::new();
    if let Some(dir) = &cli.data_dir {
        overrides.push(("data_dir", dir.display().to_string().into()));
    }
    if let Command::Serve(args) = &cli.command {
        if let Some(profile) = &args.profile {
            overrides.push(("server.profile", profile.clone().into()));
        }
        if let Some(http) = &args.http {
            overrides.push(("server.mode", "http".into()));
            if let Some(addr) = cli::http_addr(http).map_err(|e| anyhow!(e))? {
                overrides.push(("http.listen", addr.to_string().into()));
            }
        }
        if args.stdio {
            overrides.push(("server.mode", "stdio".into()));
        }
        if let Some(methods) = &args.auth {
            let list: Vec<figment::value::Value> = methods
                .iter()
                .map(|m| m.trim().to_string().into())
                .collect();
            overrides.push(("auth.methods", list.into()));
        }
    }
    let config_file = match &cli.command {
        Command::Config(ConfigCommand::Check { file: Some(file) }) => Some(file.clone()),
        _ => cli.config.clone(),
    };
    let loaded = config::load(
        config_file.as_deref(),
        &config::ProcessEnv,
        config::bulwark_env(),
        &overrides,
    )?;
    let config = loaded.config;

    match cli.command {
        Command::Serve(args) => serve(config, args),
        Command::Tools(ToolsCommand::List {
            profile,
            json,
            markdown,
        }) => {
            let registry = build_registry(&config)?;
            let profile = registry.profile(&profile)?;
            let text = if json {
                listing::tools_json(&profile)
            } else if markdown {
                listing::markdown(&registry)
            } else {
                listing::tools_text(&profile)
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tools(ToolsCommand::Call {
            name,
            args,
            profile,
        }) => call(&config, &profile, &name, &args),
        Command::Profiles(ProfilesCommand::List { json }) => {
            let registry = build_registry(&config)?;
            print!("{}", listing::profiles(&registry, json));
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Check { .. }) => {
            let registry = build_registry(&config)?;
            registry.profile(&config.server.profile)?;
            let source = config_file
                .map(|f| f.display().to_string())
                .unwrap_or_else(|| "embedded defaults".into());
            println!(
                "ok: {source} is valid ({} profiles, {} tools; serves `{}` over {})",
                registry.profile_names().len(),
                registry.tools().count(),
                config.server.profile,
                match config.server.mode {
                    Mode::Stdio => "stdio".to_string(),
                    Mode::Http => format!("http on {}", config.http.listen),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Scan(args) => Ok(scan::run(*args)),
        Command::Iocs(args) => iocs::run(args, &config),
        Command::Timeline(args) => timeline::run(args),
        Command::Hunt(args) => hunt::run(args),
        Command::Report(args) => report::run(args),
        Command::Upstream(command) => upstream::run(&gateway(&config), command),
        Command::Tenant(command) => tenant::run(&config, command),
        Command::Auth(AuthCommand::Key(command)) => keys(&config, command),
        Command::Auth(AuthCommand::User(command)) => auth::users(&config, command),
        Command::Auth(AuthCommand::SigningKey(command)) => auth::signing_keys(&config, command),
        Command::Auth(AuthCommand::Client(command)) => auth::clients(&config, command),
        Command::Audit(AuditCommand::Verify { file }) => {
            let path = file.unwrap_or_else(|| audit_path(&config));
            match bulwark_audit::verify(&path) {
                Ok(count) => {
                    println!("ok: {count} records in {} verified", path.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    eprintln!("audit log {} failed verification: {err}", path.display());
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Audit(AuditCommand::Search {
            event_type,
            user,
            tenant,
            since,
            limit,
        }) => {
            let store = auth::open_store(&config::data_dir(&config))?;
            let query = bulwark_store::AuditQuery {
                event_type,
                user,
                tenant,
                since,
                limit,
            };
            let lines = store.search_audit(&query)?;
            if lines.is_empty() && !config.audit.store {
                eprintln!(
                    "no records: the store gets a copy only with `audit.store = true`; the log itself is {}",
                    audit_path(&config).display()
                );
            }
            for line in lines {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Show) => {
            let mut shown = config.clone();
            shown.data_dir = Some(config::data_dir(&config));
            print!(
                "{}",
                toml::to_string_pretty(&shown).context("cannot render the configuration")?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn keys(config: &Config, command: KeyCommand) -> Result<ExitCode> {
    let store = auth::open_store(&config::data_dir(config))?;
    match command {
        KeyCommand::Create {
            name,
            scopes,
            tenant,
        } => {
            let scopes: Vec<String> = scopes.into_iter().map(|s| s.trim().to_string()).collect();
            let (key, secret) = store.create_api_key(&name, &scopes, tenant.as_deref())?;
            println!(
                "created API key `{}` (id {}) with scopes {}",
                key.name,
                key.id,
                key.scopes.join(",")
            );
            println!("store it now: the secret is shown only once and only its hash is kept");
            println!("{secret}");
        }
        KeyCommand::List { json } => {
            let keys = store.list_api_keys()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                for key in keys {
                    println!(
                        "{}  {:20}  {:30}  created {}  {}",
                        key.id,
                        key.name,
                        key.scopes.join(","),
                        key.created_at,
                        match &key.revoked_at {
                            Some(at) => format!("revoked {at}"),
                            None => "active".to_string(),
                        }
                    );
                }
            }
        }
        KeyCommand::Revoke { key } => {
            let revoked = store.revoke_api_key(&key)?;
            println!("revoked API key `{}` (id {})", revoked.name, revoked.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The gateway to upstream MCP servers, from `[gateway]` and `[[upstreams]]`.
fn gateway(config: &Config) -> bulwark_gateway::Gateway {
    let data_dir = config::data_dir(config);
    let mut options = bulwark_gateway::GatewayOptions::new(&data_dir);
    options.store_path = auth::store_path(&data_dir);
    let g = &config.gateway;
    options.tool_response_limit = g.tool_response_limit;
    options.call_timeout = Duration::from_secs(g.call_timeout_secs);
    options.connect_timeout = Duration::from_secs(g.connect_timeout_secs);
    options.log_max_bytes = g.log_max_bytes;
    options.max_args_bytes = g.max_args_bytes;
    options.allow_server_add = g.allow_server_add;
    options.allow_server_remove = g.allow_server_remove;
    options.redact_secrets = g.redact_secrets;
    options.read_only_mode = g.read_only_mode;
    options.disable_management = g.disable_management;
    options.declared_blocks = config
        .upstreams
        .iter()
        .filter(|u| !u.blocked_tools.is_empty())
        .map(|u| (u.name.clone(), u.blocked_tools.iter().cloned().collect()))
        .collect();
    options.redact_upstreams = config
        .upstreams
        .iter()
        .filter_map(|u| u.redact_secrets.map(|on| (u.name.clone(), on)))
        .collect();
    options.per_client = config
        .upstreams
        .iter()
        .filter(|u| u.sessions == config::Sessions::PerClient)
        .map(|u| u.name.clone())
        .collect();
    options.client_idle = Duration::from_secs(g.client_session_idle_secs.max(1));
    options.max_client_sessions = g.max_client_sessions.max(1);
    // Validated when the config was loaded.
    options.declared = config
        .upstreams
        .iter()
        .filter_map(|u| u.to_spec().ok().map(|spec| (spec, u.quarantined)))
        .collect();
    bulwark_gateway::Gateway::new(options)
}

/// Every declaration from every domain crate, with the configured profiles file.
pub fn build_registry(config: &Config) -> Result<Registry> {
    Ok(build_registry_with_gateway(config)?.0)
}

/// [`build_registry`], also handing back the gateway behind the `gateway` profile.
fn build_registry_with_gateway(config: &Config) -> Result<(Registry, bulwark_gateway::Gateway)> {
    let file = match &config.profiles_file {
        Some(path) => Some(ProfileFile::load(path)?),
        None => None,
    };
    let mut builder = Registry::builder();
    bulwark_dfir::register(&mut builder);
    bulwark_dfir::register_live(
        &mut builder,
        config.live.to_live_config(config::data_dir(config)),
    );
    bulwark_conformance::register(&mut builder);
    bulwark_scanner::register(&mut builder);
    bulwark_ioc::register_with(&mut builder, config.ioc.to_defaults()?);
    bulwark_timeline::register(&mut builder);
    bulwark_sigma::register(&mut builder);
    bulwark_report::register(&mut builder);
    let gateway = gateway(config);
    bulwark_gateway::register(&mut builder, &gateway);
    Ok((builder.build(file.as_ref())?, gateway))
}

fn audit_path(config: &Config) -> std::path::PathBuf {
    config
        .audit
        .path
        .clone()
        .unwrap_or_else(|| config::data_dir(config).join("audit.jsonl"))
}

/// Open the audit log, unless it is turned off.
fn open_audit(config: &Config) -> Result<Option<bulwark_audit::AuditLog>> {
    if !config.audit.enabled {
        return Ok(None);
    }
    let mut options = bulwark_audit::AuditOptions::new(audit_path(config));
    options.fsync = match config.audit.fsync {
        config::FsyncMode::Always => bulwark_audit::Fsync::Always,
        config::FsyncMode::Interval => bulwark_audit::Fsync::Interval(Duration::from_millis(
            config.audit.fsync_interval_ms.max(1),
        )),
    };
    options.buffer = Duration::from_millis(config.audit.buffer_ms);
    options.min_severity = config.audit.min_severity;
    options.stderr_lines = config.audit.stderr;
    options.include_params = config.audit.include_params;
    if config.audit.store {
        let store = auth::open_store(&config::data_dir(config))?;
        options.sink = Some(Arc::new(StoreSink::start(store)?));
    }
    Ok(Some(bulwark_audit::AuditLog::open(options)?))
}

/// Copies audit lines into the store from a thread of its own, so the
/// audit writer (and the calls waiting on it) never wait for SQLite. The
/// queue is bounded; when the store falls that far behind, lines are
/// dropped from the copy with a warning (the file still has them).
struct StoreSink {
    queue: std::sync::mpsc::SyncSender<Vec<String>>,
}

impl StoreSink {
    const QUEUE: usize = 4096;

    fn start(store: bulwark_store::Store) -> Result<Self> {
        let (queue, batches) = std::sync::mpsc::sync_channel::<Vec<String>>(Self::QUEUE);
        std::thread::Builder::new()
            .name("bulwark-audit-store".into())
            .spawn(move || {
                for batch in batches {
                    let lines: Vec<&str> = batch.iter().map(String::as_str).collect();
                    if let Err(err) = store.insert_audit_lines(&lines) {
                        tracing::warn!("audit records not copied into the store: {err}");
                    }
                }
            })
            .context("cannot start the audit store thread")?;
        Ok(StoreSink { queue })
    }
}

impl bulwark_audit::AuditSink for StoreSink {
    fn accept(&self, lines: &[&str]) {
        let batch = lines.iter().map(|l| l.to_string()).collect();
        if let Err(std::sync::mpsc::TrySendError::Full(_)) = self.queue.try_send(batch) {
            tracing::warn!(
                records = lines.len(),
                "the store is behind; audit records kept in the file only"
            );
        }
    }
}

/// The configured budgets; with `backend = "redis"`, connected to Redis.
fn rate_limits(config: &Config, rt: &tokio::runtime::Runtime) -> Result<Arc<RateLimits>> {
    let tools: std::collections::HashMap<String, u32> = config
        .rate_limit
        .tools
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let endpoints: std::collections::HashMap<String, u32> = config
        .rate_limit
        .endpoints
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let limits = RateLimits::new(config.rate_limit.mcp_requests_per_minute, &tools)
        .with_endpoints(&endpoints);
    Ok(match config.rate_limit.backend {
        config::RateLimitBackend::Local => limits,
        config::RateLimitBackend::Redis => {
            let redis = rt
                .block_on(RedisBudgets::connect(
                    &config.rate_limit.redis_url,
                    config.rate_limit.fail_open,
                    config.rate_limit.endpoints_fail_open,
                ))
                .map_err(|e| anyhow!(e))?;
            limits.with_redis(redis)
        }
    })
}

fn pipeline_options(
    config: &Config,
    audit: Option<bulwark_audit::AuditLog>,
    limits: Arc<RateLimits>,
) -> PipelineOptions {
    PipelineOptions {
        audit,
        limits,
        call_timeout: Duration::from_secs(config.server.call_timeout_secs),
        max_result_bytes: config.server.max_result_bytes,
        metrics: None,
    }
}

/// The Prometheus registry behind `/metrics`: the pipeline's per-tool
/// counters and the gateway's. `None` when `[metrics] enabled = false`.
fn metrics_endpoint(
    config: &Config,
    pipeline: &mut PipelineOptions,
    gateway: &bulwark_gateway::Gateway,
) -> Option<bulwark_server::MetricsEndpoint> {
    if !config.metrics.enabled {
        return None;
    }
    let mut registry = prometheus_client::registry::Registry::default();
    let tools = bulwark_server::ToolMetrics::default();
    tools.register(&mut registry);
    pipeline.metrics = Some(tools);
    gateway.register_metrics(&mut registry);
    Some(bulwark_server::MetricsEndpoint {
        registry: Arc::new(registry),
        access: match config.metrics.access {
            config::MetricsAccessDecl::Auth => bulwark_server::MetricsAccess::Auth,
            config::MetricsAccessDecl::Loopback => bulwark_server::MetricsAccess::Loopback,
            config::MetricsAccessDecl::Open => bulwark_server::MetricsAccess::Open,
        },
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn call(config: &Config, profile: &str, name: &str, args: &str) -> Result<ExitCode> {
    let args: serde_json::Value = serde_json::from_str(args).map_err(|e| {
        anyhow!("--args is not valid JSON ({e}); pass an object such as '{{\"sid\": \"local\"}}'")
    })?;
    let serde_json::Value::Object(args) = args else {
        return Err(anyhow!(
            "--args must be a JSON object such as '{{\"sid\": \"local\"}}', not {args}"
        ));
    };
    let registry = build_registry(config)?;
    let rt = runtime()?;
    let _enter = rt.enter();
    let audit = match open_audit(config) {
        Err(err)
            if matches!(
                err.downcast_ref(),
                Some(bulwark_audit::AuditError::Locked { .. })
            ) =>
        {
            // A running `bulwark serve` owns the log; one writer keeps the chain whole.
            eprintln!("warning: {err}; this call is not recorded in the audit log");
            None
        }
        other => other?,
    };
    let limits = rate_limits(config, &rt)?;
    let bulwark = Bulwark::new(registry, pipeline_options(config, audit, limits));
    let output = rt.block_on(bulwark.call(profile, name, args));
    let output = output.map_err(|e| anyhow!("{e}"))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&bulwark_server::output_json(&output))?
    );
    Ok(if output.is_error() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Logs go to stderr only (stdout belongs to MCP in stdio mode), through a
/// background writer so a busy server does not serialize calls on the stderr
/// lock. Keep the returned guard alive: dropping it flushes what is buffered.
fn init_logging(config: &Config) -> tracing_appender::non_blocking::WorkerGuard {
    use tracing_subscriber::EnvFilter;
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        // Block rather than drop when the buffer is full: audit lines must not be lost.
        .lossy(false)
        .finish(std::io::stderr());
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(false).init(),
    }
    guard
}

fn serve(config: Config, args: ServeArgs) -> Result<ExitCode> {
    let _log_guard = init_logging(&config);
    let data_dir = config::data_dir(&config);
    std::fs::create_dir_all(&data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}; choose another with --data-dir",
            data_dir.display()
        )
    })?;
    let (registry, gateway) = build_registry_with_gateway(&config)?;
    registry.profile(&config.server.profile)?;
    for tool in config.rate_limit.tools.keys() {
        if registry.tool(tool).is_none() {
            return Err(anyhow!(
                "invalid configuration: key `rate_limit.tools.{tool}` names no tool; see `bulwark tools list`"
            ));
        }
    }
    let rt = runtime()?;
    let _enter = rt.enter();
    let audit = open_audit(&config)?;
    let limits = rate_limits(&config, &rt)?;
    if let Some(log) = &audit {
        gateway.set_audit(log.clone());
    }
    let mut pipeline = pipeline_options(&config, audit, limits);
    // Metrics are served over HTTP only; stdio has nowhere to scrape them.
    let metrics = match config.server.mode {
        Mode::Http => metrics_endpoint(&config, &mut pipeline, &gateway),
        Mode::Stdio => None,
    };
    let bulwark = Bulwark::new(registry, pipeline);
    bulwark.limits().spawn_pruner();
    // Merges `[[upstreams]]` into the store and follows it; a store that
    // cannot be opened leaves the gateway's tools failing with the reason.
    if let Err(err) = gateway.state() {
        tracing::warn!("gateway: {err}");
    }
    gateway.start();
    match config.server.mode {
        Mode::Stdio => {
            tracing::info!(profile = %config.server.profile, data_dir = %data_dir.display(), "serving MCP on stdio");
            rt.block_on(bulwark.serve_stdio(&config.server.profile))
                .map_err(|e| anyhow!(e))?;
        }
        Mode::Http => {
            let listen = config.http.listen;
            if !listen.ip().is_loopback() && !config.auth.required() && !args.insecure_no_auth {
                return Err(anyhow!(
                    "refusing to serve HTTP on {listen} without authentication: anyone who can reach it could run every tool. \
                     Turn authentication on (`--auth api-key`, after `bulwark auth key create`), listen on a loopback address, \
                     or pass --insecure-no-auth if the network is otherwise protected"
                ));
            }
            // Bound first: with port 0 the real address is only known now,
            // and the authorization server's default issuer is built from it.
            let listener = rt
                .block_on(tokio::net::TcpListener::bind(config.http.listen))
                .with_context(|| {
                    format!(
                        "cannot listen on {}; pick a free address with --http HOST:PORT",
                        config.http.listen
                    )
                })?;
            let local = listener.local_addr()?;
            let security = auth::http_security(
                &config,
                &data_dir,
                local,
                &bulwark.registry().profile_names(),
                bulwark.audit(),
            )?;
            let options = HttpOptions {
                default_profile: config.server.profile.clone(),
                allowed_hosts: config.http.allowed_hosts.clone(),
                allowed_origins: config.http.allowed_origins.clone(),
                max_body_bytes: config.http.max_body_bytes,
                max_sessions: config.http.max_sessions,
                session_idle: Duration::from_secs(config.http.session_idle_secs),
                shutdown_grace: Duration::from_secs(config.http.shutdown_grace_secs),
                auth: security.auth,
                extra: security.extra,
                metrics,
            };
            let server = HttpServer::new(&bulwark, &options)?;
            rt.block_on(async {
                tracing::info!(
                    address = %local,
                    profile = %config.server.profile,
                    data_dir = %data_dir.display(),
                    "serving MCP over Streamable HTTP at http://{local}/mcp"
                );
                // Scripts that ask for port 0 read the real address from here.
                eprintln!("bulwark listening on http://{local}/mcp");
                server.serve(listener, shutdown_signal()).await?;
                tracing::info!("stopped");
                anyhow::Ok(())
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
