//! The gateway: other MCP servers ("upstreams") behind bulwark, their tools
//! reachable as `server:tool` through the `gateway` profile's tools, and only
//! after a person approved them.
//!
//! * The store holds every upstream ([`record::UpstreamRecord`]); the config
//!   file's `[[upstreams]]` are merged in at start, `bulwark upstream …` and
//!   the `upstream_servers` tool change it, and a running server notices a
//!   change through the store's generation counter.
//! * A new upstream is quarantined: bulwark connects to it to list and judge
//!   its tools (the scanner's tool-description detectors), but none is listed
//!   or callable. Approval — `bulwark upstream approve NAME [TOOL]` or the
//!   config file, never an MCP tool — pins each tool's SHA-256; a tool that
//!   changes afterwards is blocked until approved again, with a diff.
//! * Calls go through the registered `call_tool*` tools, so the server's call
//!   pipeline (authentication, scopes, rate limits, audit) applies to them.
//! * Approved tools are handed to a [`ToolIndexSink`] whenever they change,
//!   for `retrieve_tools`.

mod conn;
pub mod import;
mod logs;
mod metrics;
pub mod record;
pub mod redact;
pub mod sandbox;
mod search;
mod state;
pub mod tokens;
mod tools;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bulwark_core::{CallContext, RegistryBuilder, ToolError};
use serde_json::{Map, Value};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

pub use bulwark_sandbox::SandboxKind;
pub use conn::{ConnState, TRIP_AFTER, backoff};
pub use record::{OAuthSettings, ToolStatus, Transport, UpstreamRecord};
pub use sandbox::SandboxConfig;
pub use search::SearchSink;
pub use state::{StateStore, UpstreamSpec};
pub use tokens::UpstreamTokens;

/// Why a gateway operation failed; each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    #[error(
        "no upstream server is named `{name}`; run `bulwark upstream list` (or the `upstream_servers` tool with operation `list`) to see them"
    )]
    UnknownServer { name: String },
    #[error("an upstream named `{name}` already exists; pick another name or remove it first")]
    Exists { name: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Store(String),
    #[error(
        "the stored record of upstream `{name}` cannot be read ({reason}); remove it with `bulwark upstream remove {name}` and add it again"
    )]
    Corrupt { name: String, reason: String },
    #[error("cannot connect to upstream `{name}`: {reason}")]
    Connect { name: String, reason: String },
    #[error(
        "upstream `{name}` failed {failures} times in a row, so calls to it are paused; retry in {retry_in_secs} s (last error: {reason})"
    )]
    CircuitOpen {
        name: String,
        failures: u32,
        retry_in_secs: u64,
        reason: String,
    },
    #[error(
        "upstream `{name}` refused bulwark's credentials ({reason}); it is not redialled until its headers change: update them with `bulwark upstream add` or the `upstream_servers` tool (operation `update`)"
    )]
    NeedsAuthorization { name: String, reason: String },
    #[error(
        "upstream `{name}` needs an OAuth login ({reason}); it is not redialled until `bulwark upstream login {name}` stores new tokens"
    )]
    NeedsLogin { name: String, reason: String },
    #[error("{0}")]
    Call(String),
}

impl From<GatewayError> for ToolError {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::Invalid(m) => ToolError::InvalidArguments(m),
            other => ToolError::Failed(other.to_string()),
        }
    }
}

/// One approved tool, as the tool index wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedTool {
    /// The upstream's own tool name (not `server:tool`).
    pub name: String,
    pub description: String,
    pub input_schema: Value,
}

/// Where approved tools go whenever they change (the BM25 index behind
/// `retrieve_tools`). Quarantined, pending, changed and disabled tools are
/// never handed over: a server whose last approved tool goes away is removed.
pub trait ToolIndexSink: Send + Sync {
    fn upsert_server(&self, server: &str, tools: &[IndexedTool]);
    fn remove_server(&self, server: &str);
}

/// Settings, from `[gateway]` in bulwark.toml.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// The SQLite store (`DATA_DIR/bulwark.db`).
    pub store_path: PathBuf,
    /// Per-upstream stderr logs go here.
    pub log_dir: PathBuf,
    /// Per-upstream sandbox directories (private HOME, TMPDIR, working directory).
    pub sandbox_dir: PathBuf,
    pub log_max_bytes: u64,
    /// Responses longer than this many characters are cut; the rest is paged
    /// with `read_cache`.
    pub tool_response_limit: usize,
    pub call_timeout: Duration,
    pub connect_timeout: Duration,
    /// JSON size limit of one call's arguments.
    pub max_args_bytes: usize,
    /// Whether the `upstream_servers` tool may add and remove servers.
    pub allow_server_add: bool,
    pub allow_server_remove: bool,
    /// MCP tools may look at upstreams but not change them.
    pub read_only_mode: bool,
    /// `upstream_servers` and `quarantine_security` refuse every operation.
    pub disable_management: bool,
    /// `[[upstreams]]` from the config file, each with its `quarantined` flag.
    pub declared: Vec<(UpstreamSpec, bool)>,
    /// The key that seals upstream OAuth tokens (`DATA_DIR/secrets.key`).
    pub secrets_key: PathBuf,
    /// Their `blocked_tools`, by server.
    pub declared_blocks: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Replace secrets in upstream responses by `[REDACTED:RULE-ID]`…
    pub redact_secrets: bool,
    /// …unless the upstream's own setting says otherwise.
    pub redact_upstreams: BTreeMap<String, bool>,
    /// Upstreams with `sessions = "per-client"`: one connection per client.
    pub per_client: std::collections::BTreeSet<String>,
    /// A per-client connection unused this long is closed.
    pub client_idle: Duration,
    /// Per-client connections open at once, per upstream.
    pub max_client_sessions: usize,
}

impl GatewayOptions {
    pub fn new(data_dir: &std::path::Path) -> Self {
        GatewayOptions {
            store_path: data_dir.join("bulwark.db"),
            log_dir: data_dir.join("logs").join("upstreams"),
            sandbox_dir: data_dir.join("sandbox"),
            log_max_bytes: 5 * 1024 * 1024,
            secrets_key: data_dir.join("secrets.key"),
            tool_response_limit: 20_000,
            call_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(30),
            max_args_bytes: 1024 * 1024,
            allow_server_add: true,
            allow_server_remove: true,
            read_only_mode: false,
            disable_management: false,
            declared: Vec::new(),
            declared_blocks: BTreeMap::new(),
            redact_secrets: false,
            redact_upstreams: BTreeMap::new(),
            per_client: Default::default(),
            client_idle: Duration::from_secs(600),
            max_client_sessions: 32,
        }
    }
}

/// The gateway. Cheap to clone. Opening the store waits for first use, so
/// building the tool registry (`bulwark tools list`) touches nothing.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

/// The search index's view of the store: the tools (name, hash) fed per
/// server and the store generation they came from.
#[derive(Default)]
struct Fed {
    generation: Option<i64>,
    tools: BTreeMap<String, Vec<(String, String)>>,
}

struct Inner {
    options: GatewayOptions,
    state: OnceLock<Result<StateStore, String>>,
    conns: conn::Connections,
    changed: Mutex<Option<UnboundedReceiver<String>>>,
    cache: Mutex<Cache>,
    index: Mutex<Option<Arc<dyn ToolIndexSink>>>,
    /// What the index was last given, per server: (tool, hash) pairs.
    /// What the search index was last fed, and from which store generation.
    /// One lock for both: two callers syncing different generations must
    /// not interleave, or the older feed could land last while the newer
    /// generation is marked as seen, leaving the index stale until the
    /// next change.
    fed: Mutex<Fed>,
    /// The records as of a generation: a call reads one number from the
    /// store, not every record, unless something changed.
    records: Mutex<Option<(i64, Arc<Records>)>>,
    merged: OnceLock<Result<(), String>>,
    inspecting: Mutex<HashSet<String>>,
    started: AtomicBool,
    metrics: metrics::GatewayMetrics,
    /// Where redactions are recorded (the server's audit log).
    audit: OnceLock<bulwark_audit::AuditLog>,
}

/// Every upstream record, by name.
pub type Records = BTreeMap<String, UpstreamRecord>;

/// Cut responses, kept for `read_cache`.
#[derive(Default)]
struct Cache {
    entries: HashMap<String, CacheEntry>,
}

struct CacheEntry {
    text: Arc<String>,
    principal: Option<String>,
    created: Instant,
}

const CACHE_MAX_ENTRIES: usize = 64;
const CACHE_TTL: Duration = Duration::from_secs(30 * 60);

/// What a `call_tool*` variant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Any,
    Read,
    Write,
    Destructive,
}

/// What an upstream tool says it does, from its MCP annotations. Per the MCP
/// defaults, a tool that does not say it is read-only may change things, and
/// one that does not say it is non-destructive may destroy them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Read,
    Write,
    Destructive,
}

pub fn effect(annotations: &Value) -> Effect {
    let flag = |k: &str| annotations.get(k).and_then(Value::as_bool);
    if flag("readOnlyHint") == Some(true) {
        Effect::Read
    } else if flag("destructiveHint") == Some(false) {
        Effect::Write
    } else {
        Effect::Destructive
    }
}

/// Upstream tools placed in profiles (`server:tool`, `server:*` in a profiles
/// file): listed and called like built-in tools, through the same pipeline.
/// Only approved tools are offered; a call goes through [`Gateway::call`], so
/// quarantine, pins, blocks, redaction and the response limit all apply.
impl bulwark_core::UpstreamTools for Gateway {
    fn list(&self, patterns: &[String]) -> Vec<bulwark_core::ToolDef> {
        let records = match self.sync() {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!("gateway: upstream tools of profiles not listed: {err}");
                return Vec::new();
            }
        };
        let mut out: Vec<bulwark_core::ToolDef> = records
            .values()
            .flat_map(|record| {
                record
                    .callable()
                    .map(move |(tool, entry)| (format!("{}:{tool}", record.name), entry))
            })
            .filter(|(name, _)| {
                patterns
                    .iter()
                    .any(|p| bulwark_core::upstream_pattern_matches(p, name))
            })
            .map(|(name, entry)| self.profile_tool(name, entry))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn get(&self, name: &str) -> Option<bulwark_core::ToolDef> {
        let (server, tool) = split_name(name).ok()?;
        let records = self.sync().ok()?;
        let record = records.get(server)?;
        let entry = record.tools.get(tool)?;
        (record.status(tool, entry) == ToolStatus::Approved)
            .then(|| self.profile_tool(name.to_owned(), entry))
    }
}

impl Gateway {
    /// An upstream tool as a declaration: its description, schema and
    /// annotations as listed (and approved), its effect as the hints.
    fn profile_tool(&self, name: String, entry: &record::ToolRecord) -> bulwark_core::ToolDef {
        let gateway = self.clone();
        let qualified = name.clone();
        let mut def = bulwark_core::ToolDef::new(name, entry.description.clone())
            .input_schema(entry.input_schema.clone())
            .open_world();
        def = match effect(&entry.annotations) {
            Effect::Read => def.read_only(),
            Effect::Write => def.severity(bulwark_core::Severity::Medium),
            Effect::Destructive => def.destructive().severity(bulwark_core::Severity::High),
        };
        if let Some(title) = &entry.title {
            def = def.title(title.clone());
        }
        def.raw_handler(move |ctx: CallContext, args: Map<String, Value>| {
            let gateway = gateway.clone();
            let qualified = qualified.clone();
            async move { gateway.call(&ctx, &qualified, args, Intent::Any).await }
        })
    }
}

/// Split `server:tool`, checking both halves.
pub fn split_name(qualified: &str) -> Result<(&str, &str), GatewayError> {
    let Some((server, tool)) = qualified.split_once(':') else {
        return Err(GatewayError::Invalid(format!(
            "tool name {qualified:?} has no server part; name upstream tools `server:tool`, e.g. `everything:echo` (`upstream_servers` with operation `list` shows them)"
        )));
    };
    if bulwark_store::valid_upstream_name(server).is_err() {
        return Err(GatewayError::Invalid(format!(
            "{server:?} in {qualified:?} is not a valid server name (1-64 letters, digits, `_`, `-`, `.`)"
        )));
    }
    if tool.is_empty() || tool.len() > 256 || tool.chars().any(char::is_control) {
        return Err(GatewayError::Invalid(format!(
            "the tool part of {qualified:?} must be 1-256 characters without control characters"
        )));
    }
    Ok((server, tool))
}

impl Gateway {
    pub fn new(options: GatewayOptions) -> Self {
        let (tx, rx) = unbounded_channel();
        let conns = conn::Connections::new(
            conn::ConnOptions {
                connect_timeout: options.connect_timeout,
                call_timeout: options.call_timeout,
                log_dir: Some(options.log_dir.clone()),
                log_max_bytes: options.log_max_bytes,
                tokens: Some(Arc::new(UpstreamTokens::new(
                    options.store_path.clone(),
                    options.secrets_key.clone(),
                ))),
                sandbox_dir: options.sandbox_dir.clone(),
                per_client: options.per_client.clone(),
                client_idle: options.client_idle,
                max_client_sessions: options.max_client_sessions,
            },
            Some(tx),
        );
        Gateway {
            inner: Arc::new(Inner {
                options,
                state: OnceLock::new(),
                conns,
                changed: Mutex::new(Some(rx)),
                cache: Mutex::new(Cache::default()),
                index: Mutex::new(None),
                fed: Mutex::new(Fed::default()),
                records: Mutex::new(None),
                merged: OnceLock::new(),
                inspecting: Mutex::new(HashSet::new()),
                started: AtomicBool::new(false),
                metrics: metrics::GatewayMetrics::default(),
                audit: OnceLock::new(),
            }),
        }
    }

    pub fn options(&self) -> &GatewayOptions {
        &self.inner.options
    }

    /// Add the gateway's Prometheus metrics (calls, errors and latency per
    /// upstream tool, redactions, connection state, index size) to `registry`.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        metrics::register(self, registry);
    }

    /// Record redactions in this audit log (the one the call pipeline writes).
    pub fn set_audit(&self, log: bulwark_audit::AuditLog) {
        let _ = self.inner.audit.set(log);
    }

    fn redacts(&self, server: &str) -> bool {
        let options = &self.inner.options;
        options
            .redact_upstreams
            .get(server)
            .copied()
            .unwrap_or(options.redact_secrets)
    }

    /// The records as last read from the store, without reading it again
    /// (for scrapes, which must not touch the database).
    fn cached_records(&self) -> Arc<Records> {
        self.inner
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    }

    /// How many tools the search index was last given.
    fn indexed_tools(&self) -> usize {
        self.inner
            .fed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tools
            .values()
            .map(Vec::len)
            .sum()
    }

    /// The store, opened on first use, with the config's upstreams merged in.
    pub fn state(&self) -> Result<&StateStore, GatewayError> {
        let state = self
            .inner
            .state
            .get_or_init(|| {
                bulwark_store::Store::open(&self.inner.options.store_path)
                    .map(StateStore::new)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| GatewayError::Store(e.clone()))?;
        let merged = self.inner.merged.get_or_init(|| {
            state
                .merge_declared(
                    &self.inner.options.declared,
                    &self.inner.options.declared_blocks,
                )
                .map(|changed| {
                    if !changed.is_empty() {
                        tracing::info!(
                            ?changed,
                            "upstreams from the config file merged into the store"
                        );
                    }
                })
                .map_err(|e| e.to_string())
        });
        merged
            .as_ref()
            .map_err(|e| GatewayError::Store(e.clone()))?;
        Ok(state)
    }

    /// Hand approved tools to `sink` now and on every change from here on.
    pub fn set_index(&self, sink: Arc<dyn ToolIndexSink>) {
        *self
            .inner
            .index
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(sink);
        *self
            .inner
            .fed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Fed::default();
        if let Err(err) = self.sync() {
            tracing::warn!("gateway: {err}");
        }
    }

    /// Start the background work (inside a tokio runtime): follow the store
    /// for changes made by other processes, inspect new upstreams, and
    /// re-list servers that announce `tools/list_changed`. Idempotent.
    pub fn start(&self) {
        if self.inner.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let receiver = self
            .inner
            .changed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let me = self.clone();
        tokio::spawn(async move {
            let mut receiver = receiver;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let changed = async {
                    match receiver.as_mut() {
                        Some(r) => r.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = tick.tick() => me.background_tick(),
                    Some(name) = changed => {
                        let me = me.clone();
                        tokio::spawn(async move {
                            if let Err(err) = me.inspect(&name).await {
                                tracing::warn!(upstream = %name, "re-listing after tools/list_changed failed: {err}");
                            }
                        });
                    }
                }
            }
        });
    }

    fn background_tick(&self) {
        self.inner.conns.reap_idle_clients();
        let records = match self.sync() {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!("gateway: {err}");
                return;
            }
        };
        for record in records.values() {
            // A server that cannot be reached waits for its breaker: the
            // backoff, not this 1 s tick, sets how often it is tried.
            if record.enabled
                && record.inspected_at.is_none()
                && self
                    .inner
                    .conns
                    .state(&record.name)
                    .breaker_open_for_secs
                    .is_none()
            {
                let mut busy = self
                    .inner
                    .inspecting
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if !busy.insert(record.name.clone()) {
                    continue;
                }
                let me = self.clone();
                let name = record.name.clone();
                tokio::spawn(async move {
                    if let Err(err) = me.inspect(&name).await {
                        tracing::warn!(upstream = %name, "inspection failed: {err}");
                        let _ = me.state().and_then(|s| {
                            s.update(&name, |r| {
                                r.last_error = Some(err.to_string());
                                Ok(())
                            })
                        });
                    }
                    me.inner
                        .inspecting
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&name);
                });
            }
        }
    }

    /// Every record, after taking in any change from other processes: the
    /// index is brought up to date and removed servers are disconnected.
    pub fn sync(&self) -> Result<Arc<Records>, GatewayError> {
        let state = self.state()?;
        let generation = state.generation()?;
        let cached = self
            .inner
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(g, _)| *g == generation)
            .map(|(_, r)| r.clone());
        let records = match cached {
            Some(records) => records,
            None => {
                let records: Arc<Records> = Arc::new(
                    state
                        .all()?
                        .into_iter()
                        .map(|r| (r.name.clone(), r))
                        .collect(),
                );
                *self
                    .inner
                    .records
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some((generation, records.clone()));
                records
            }
        };
        let mut fed = self
            .inner
            .fed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if fed.generation != Some(generation) {
            fed.generation = Some(generation);
            for name in self.inner.conns.names() {
                if !records.contains_key(&name) {
                    self.inner.conns.drop_server(&name);
                }
            }
            self.feed_index(&mut fed.tools, &records);
        }
        Ok(records)
    }

    /// Called with the `fed` lock held (see [`Fed`]).
    fn feed_index(
        &self,
        fed: &mut BTreeMap<String, Vec<(String, String)>>,
        records: &BTreeMap<String, UpstreamRecord>,
    ) {
        let Some(sink) = self
            .inner
            .index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return;
        };
        let mut now: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for record in records.values() {
            let tools: Vec<(String, String)> = record
                .callable()
                .map(|(n, t)| (n.clone(), t.hash.clone()))
                .collect();
            if !tools.is_empty() {
                now.insert(record.name.clone(), tools);
            }
        }
        for name in fed.keys() {
            if !now.contains_key(name) {
                sink.remove_server(name);
            }
        }
        for (name, tools) in &now {
            if fed.get(name) != Some(tools) {
                let record = &records[name];
                let indexed: Vec<IndexedTool> = record
                    .callable()
                    .map(|(n, t)| IndexedTool {
                        name: n.clone(),
                        description: t.description.clone(),
                        input_schema: t.input_schema.clone(),
                    })
                    .collect();
                sink.upsert_server(name, &indexed);
            }
        }
        *fed = now;
    }

    fn record(&self, name: &str) -> Result<UpstreamRecord, GatewayError> {
        self.sync()?
            .get(name)
            .cloned()
            .ok_or_else(|| GatewayError::UnknownServer {
                name: name.to_owned(),
            })
    }

    /// Connect (if needed) and list the server's tools again: re-hash, re-run
    /// the detectors, and store the result. Works on quarantined servers:
    /// that is what "connected for inspection only" means.
    pub async fn inspect(&self, name: &str) -> Result<UpstreamRecord, GatewayError> {
        let record = self.record(name)?;
        if !record.enabled {
            return Err(GatewayError::Refused(format!(
                "upstream `{name}` is disabled; enable it with `upstream_servers` (operation `patch`, enabled: true)"
            )));
        }
        let result = match self.inner.conns.lease(name, &record.transport, None).await {
            Ok(lease) => self.relist(name, &lease).await,
            Err(err) => Err(err),
        };
        // Kept on the record, so `upstream list` says why a server is not up.
        if let Err(err) = &result {
            let _ = self.state().and_then(|s| {
                s.update(name, |r| {
                    r.last_error = Some(err.to_string());
                    Ok(())
                })
            });
        }
        result
    }

    async fn relist(
        &self,
        name: &str,
        lease: &conn::Lease,
    ) -> Result<UpstreamRecord, GatewayError> {
        let listed = match lease.upstream.list_tools().await {
            Ok(listed) => {
                self.inner.conns.outcome(name, lease, None).await;
                listed
            }
            Err(err) => {
                self.inner.conns.outcome(name, lease, Some(&err)).await;
                return Err(GatewayError::Connect {
                    name: name.to_owned(),
                    reason: err.to_string(),
                });
            }
        };
        let records = self.sync()?;
        let peers: Vec<_> = records
            .values()
            .filter(|r| r.name != name)
            .flat_map(UpstreamRecord::descriptors)
            .collect();
        let now = state::now();
        let record = self.state()?.update(name, |r| {
            let changed = r.apply_listing(&listed, &peers, &now);
            if !changed.is_empty() {
                tracing::warn!(
                    upstream = name,
                    tools = ?changed,
                    "tool definitions changed since approval: blocked until approved again"
                );
            }
            Ok(r.clone())
        })?;
        self.sync()?;
        Ok(record)
    }

    /// Call `server:tool` on behalf of `ctx`.
    pub async fn call(
        &self,
        ctx: &CallContext,
        qualified: &str,
        args: Map<String, Value>,
        intent: Intent,
    ) -> Result<bulwark_core::ToolOutput, ToolError> {
        let (server, tool) = split_name(qualified)?;
        conn::check_args(&args, self.inner.options.max_args_bytes)?;
        // Borrowed from the cached records: a call copies no record unless it
        // had to list the server again.
        let records = self.sync()?;
        let record = records
            .get(server)
            .ok_or_else(|| GatewayError::UnknownServer {
                name: server.to_owned(),
            })?;
        if !record.enabled {
            return Err(GatewayError::Refused(format!(
                "upstream `{server}` is disabled; a person can enable it with `upstream_servers` (operation `patch`, enabled: true)"
            ))
            .into());
        }
        if record.quarantined {
            return Err(GatewayError::Refused(format!(
                "upstream `{server}` is quarantined: its tools cannot be called until a person reviews them (`quarantine_security` with operation `inspect_quarantined`) and approves with `bulwark upstream approve {server}`"
            ))
            .into());
        }
        let client = conn::client_key(ctx);
        let lease = self
            .inner
            .conns
            .lease(server, &record.transport, client.as_deref())
            .await?;
        let relisted = lease.fresh || self.inner.conns.take_stale(server);
        let mut record = if relisted {
            std::borrow::Cow::Owned(self.relist(server, &lease).await?)
        } else {
            std::borrow::Cow::Borrowed(record)
        };
        // A tool we have not seen may be in a listing still under way (the
        // background inspection of a server that was just declared): list
        // once more before refusing.
        if !relisted && !record.tools.contains_key(tool) {
            record = std::borrow::Cow::Owned(self.relist(server, &lease).await?);
        }
        let Some(entry) = record.tools.get(tool) else {
            let callable: Vec<String> = record
                .callable()
                .map(|(n, _)| format!("{server}:{n}"))
                .collect();
            return Err(GatewayError::Invalid(format!(
                "upstream `{server}` has no tool `{tool}`; its callable tools: {}",
                if callable.is_empty() {
                    "none".to_owned()
                } else {
                    callable.join(", ")
                }
            ))
            .into());
        };
        match record.status(tool, entry) {
            ToolStatus::Approved => {}
            ToolStatus::Blocked => {
                return Err(GatewayError::Refused(format!(
                    "`{qualified}` is blocked by a person; `bulwark upstream unblock {server} {tool}` makes it callable again"
                ))
                .into());
            }
            ToolStatus::Changed => {
                let diff = record::approval_diff(entry).unwrap_or_default();
                return Err(GatewayError::Refused(format!(
                    "`{qualified}` is blocked: its definition changed since it was approved (a possible rug pull). A person must review the change and run `bulwark upstream approve {server} {tool}`.\n{diff}"
                ))
                .into());
            }
            ToolStatus::Pending => {
                return Err(GatewayError::Refused(format!(
                    "`{qualified}` appeared after `{server}` was approved and is not approved yet; a person can approve it with `bulwark upstream approve {server} {tool}`"
                ))
                .into());
            }
            ToolStatus::Quarantined | ToolStatus::Disabled => {
                return Err(GatewayError::Refused(format!(
                    "`{qualified}` is not callable: upstream `{server}` is quarantined or disabled"
                ))
                .into());
            }
        }
        let effect = effect(&entry.annotations);
        let allowed = match intent {
            Intent::Any | Intent::Destructive => true,
            Intent::Read => effect == Effect::Read,
            Intent::Write => effect != Effect::Destructive,
        };
        if !allowed {
            let variant = match effect {
                Effect::Read => "call_tool_read",
                Effect::Write => "call_tool_write",
                Effect::Destructive => "call_tool_destructive",
            };
            let why = match effect {
                Effect::Read => "is read-only",
                Effect::Write => "may change things (readOnlyHint is not true)",
                Effect::Destructive => {
                    "may destroy data (it is not marked readOnlyHint: true or destructiveHint: false)"
                }
            };
            return Err(GatewayError::Refused(format!(
                "`{qualified}` {why}, so this variant refuses it; use `{variant}` instead"
            ))
            .into());
        }
        if effect == Effect::Destructive && !ctx.has_scope("tools:destructive") {
            return Err(ToolError::Forbidden("tools:destructive".into()));
        }
        let labels = metrics::ToolLabels {
            upstream: server.to_owned(),
            tool: tool.to_owned(),
        };
        let upstream = lease.upstream.clone();
        let started = Instant::now();
        let call = upstream.call_tool(tool, args);
        let outcome = tokio::select! {
            outcome = call => outcome,
            _ = ctx.cancel.cancelled() => {
                let took = started.elapsed();
                self.inner.metrics.call(&labels, took, Some(metrics::ErrorKind::cancelled));
                return Err(ToolError::Cancelled);
            }
        };
        let took = started.elapsed();
        match outcome {
            Ok(result) => {
                self.inner.conns.outcome(server, &lease, None).await;
                let is_error = result.get("isError").and_then(Value::as_bool) == Some(true);
                self.inner.metrics.call(
                    &labels,
                    took,
                    is_error.then_some(metrics::ErrorKind::tool_error),
                );
                let (output, redactions) = self.shape(ctx, server, result);
                if redactions.total() > 0 {
                    self.record_redactions(ctx, qualified, &labels, &redactions)
                        .await;
                }
                Ok(output)
            }
            Err(err) => {
                self.inner
                    .metrics
                    .call(&labels, took, Some(metrics::ErrorKind::failed));
                self.inner.conns.outcome(server, &lease, Some(&err)).await;
                let hint = if lease.upstream.is_closed() {
                    " The upstream is restarted on the next call."
                } else {
                    ""
                };
                Err(GatewayError::Call(format!("upstream `{server}`: {err}.{hint}")).into())
            }
        }
    }

    /// Count redactions in the metrics and write one audit record for them.
    async fn record_redactions(
        &self,
        ctx: &CallContext,
        qualified: &str,
        labels: &metrics::ToolLabels,
        redactions: &redact::Redactions,
    ) {
        for (rule, n) in &redactions.0 {
            self.inner.metrics.redacted(labels, rule, *n);
        }
        let detail = format!(
            "{} secret(s) redacted from the response: {}",
            redactions.total(),
            redactions.summary()
        );
        tracing::warn!(tool = qualified, request_id = %ctx.request_id, "{detail}");
        let Some(log) = self.inner.audit.get() else {
            return;
        };
        let mut event = bulwark_audit::AuditEvent::new(
            "upstream_redaction",
            bulwark_core::Severity::High,
            qualified,
            "redacted",
        )
        .with_request_id(ctx.request_id.clone())
        .with_detail(detail);
        if let Some(user) = &ctx.principal {
            event = event.with_user(user.clone());
        }
        if let Some(tenant) = &ctx.tenant {
            event = event.with_tenant(tenant.clone());
        }
        if let Err(err) = log.record(event).await {
            tracing::error!(
                tool = qualified,
                "audit record of a redaction not written: {err}"
            );
        }
    }

    /// Turn an upstream `CallToolResult` into a tool output: secrets redacted
    /// when the upstream's setting says so, then text past
    /// `tool_response_limit` characters cut and kept for `read_cache`.
    fn shape(
        &self,
        ctx: &CallContext,
        server: &str,
        result: Value,
    ) -> (bulwark_core::ToolOutput, redact::Redactions) {
        let mut redactions = redact::Redactions::default();
        let redacting = self.redacts(server);
        use bulwark_core::{Content, ResourceBody, ToolOutput};
        let limit = self.inner.options.tool_response_limit;
        let is_error = result.get("isError").and_then(Value::as_bool) == Some(true);
        let mut structured = result.get("structuredContent").cloned();
        let mut content = Vec::new();
        let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        for item in result
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
            content.push(match kind {
                "text" => Content::Text(str_of(item, "text").unwrap_or_default()),
                "image" | "audio" => {
                    let data = str_of(item, "data").unwrap_or_default();
                    let mime_type = str_of(item, "mimeType").unwrap_or_default();
                    if kind == "image" {
                        Content::Image { data, mime_type }
                    } else {
                        Content::Audio { data, mime_type }
                    }
                }
                "resource" => {
                    let r = item.get("resource").cloned().unwrap_or(Value::Null);
                    Content::Resource {
                        uri: str_of(&r, "uri").unwrap_or_default(),
                        mime_type: str_of(&r, "mimeType"),
                        body: match str_of(&r, "blob") {
                            Some(blob) => ResourceBody::Blob(blob),
                            None => ResourceBody::Text(str_of(&r, "text").unwrap_or_default()),
                        },
                    }
                }
                "resource_link" => Content::ResourceLink {
                    uri: str_of(item, "uri").unwrap_or_default(),
                    name: str_of(item, "name").unwrap_or_default(),
                    mime_type: str_of(item, "mimeType"),
                    description: str_of(item, "description"),
                    size: item.get("size").and_then(Value::as_u64),
                },
                _ => Content::Text(item.to_string()),
            });
        }
        if redacting {
            for item in &mut content {
                let text = match item {
                    Content::Text(t) => t,
                    Content::Resource {
                        body: ResourceBody::Text(t),
                        ..
                    } => t,
                    _ => continue,
                };
                if let Some(clean) = redact::redact_text(text, &mut redactions) {
                    *text = clean;
                }
            }
            if let Some(value) = structured.as_mut() {
                redact::redact_json(value, &mut redactions);
            }
        }
        let text_chars: usize = content
            .iter()
            .map(|c| match c {
                Content::Text(t) => t.chars().count(),
                _ => 0,
            })
            .sum();
        let structured_chars = structured
            .as_ref()
            .map(|s| s.to_string().chars().count())
            .unwrap_or(0);
        if text_chars > limit || structured_chars > limit {
            // The whole text (or the structured JSON when there is no text) is
            // kept; the agent gets the first `limit` characters and a key.
            let full: String = if text_chars > 0 {
                content
                    .iter()
                    .filter_map(|c| match c {
                        Content::Text(t) => Some(t.as_str()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                serde_json::to_string_pretty(structured.as_ref().unwrap_or(&Value::Null))
                    .unwrap_or_default()
            };
            let total = full.chars().count();
            let head: String = full.chars().take(limit).collect();
            let key = self.cache_put(ctx, full);
            content.retain(|c| !matches!(c, Content::Text(_)));
            content.insert(0, Content::Text(head));
            content.push(Content::Text(format!(
                "[response cut at {limit} of {total} characters; read the rest with read_cache(key=\"{key}\", offset={limit})]"
            )));
            if structured_chars > limit {
                structured = None;
            }
        }
        let output = ToolOutput::Done {
            content,
            structured,
            is_error,
        };
        (output, redactions)
    }

    fn cache_put(&self, ctx: &CallContext, text: String) -> String {
        let key = uuid::Uuid::new_v4().simple().to_string();
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache.entries.retain(|_, e| e.created.elapsed() < CACHE_TTL);
        while cache.entries.len() >= CACHE_MAX_ENTRIES {
            let oldest = cache
                .entries
                .iter()
                .min_by_key(|(_, e)| e.created)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => cache.entries.remove(&k),
                None => break,
            };
        }
        cache.entries.insert(
            key.clone(),
            CacheEntry {
                text: Arc::new(text),
                principal: ctx.principal.clone(),
                created: Instant::now(),
            },
        );
        key
    }

    fn cache_get(&self, ctx: &CallContext, key: &str) -> Result<Arc<String>, GatewayError> {
        let cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match cache.entries.get(key) {
            Some(e) if e.created.elapsed() < CACHE_TTL && e.principal == ctx.principal => {
                Ok(e.text.clone())
            }
            _ => Err(GatewayError::Invalid(format!(
                "no cached response has the key {key:?} (keys last {} minutes and belong to the caller that got them); call the tool again",
                CACHE_TTL.as_secs() / 60
            ))),
        }
    }

    pub fn conn_state(&self, name: &str) -> ConnState {
        self.inner.conns.state(name)
    }

    /// The sandbox a stdio upstream runs in, or why it cannot start (see docs/sandbox.md).
    pub fn sandbox_report(&self, record: &UpstreamRecord) -> Option<serde_json::Value> {
        self.inner
            .conns
            .sandbox_report(&record.name, &record.transport)
    }

    /// Add a server from an agent (saved quarantined) and inspect it in the background.
    pub fn add_from_agent(&self, spec: UpstreamSpec) -> Result<UpstreamRecord, GatewayError> {
        let record = self.state()?.add(spec, record::Origin::Agent)?;
        self.sync()?;
        Ok(record)
    }

    pub fn remove(&self, name: &str) -> Result<UpstreamRecord, GatewayError> {
        let record = self.state()?.remove(name)?;
        self.inner.conns.drop_server(name);
        self.sync()?;
        Ok(record)
    }

    pub fn log_file(&self, name: &str) -> PathBuf {
        conn::log_path(&self.inner.options.log_dir, name)
    }
}

/// Add the `gateway` profile and its tools.
pub fn register(builder: &mut RegistryBuilder, gateway: &Gateway) {
    builder.upstream_tools(Arc::new(gateway.clone()));
    builder.profile(
        "gateway",
        "Call tools of other MCP servers through bulwark: quarantine, tool pinning, one audit trail",
        false,
    );
    builder.tools(tools::tools(gateway));
    match search::retrieve_tools(gateway) {
        Ok(def) => {
            builder.tool(def);
        }
        // Search is a convenience: call_tool and the rest still work.
        Err(err) => tracing::error!("retrieve_tools not available: {err}"),
    }
}

/// The tail of a stdio upstream's stderr log.
pub fn tail_log(gateway: &Gateway, name: &str, lines: usize) -> Result<String, GatewayError> {
    let path = gateway.log_file(name);
    match logs::tail(&path, lines) {
        Ok(text) => Ok(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(err) => Err(GatewayError::Store(format!(
            "cannot read {}: {err}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_split_and_hostile_ones_are_refused() {
        assert_eq!(split_name("fs:read_file").unwrap(), ("fs", "read_file"));
        assert_eq!(split_name("a:b:c").unwrap(), ("a", "b:c"));
        for bad in [
            "nocolon",
            ":tool",
            "../x:y",
            "a b:c",
            "fs:",
            "fs:a\nb",
            &format!("x:{}", "y".repeat(300)),
        ] {
            assert!(split_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn effects_follow_the_mcp_defaults() {
        assert_eq!(effect(&json!({"readOnlyHint": true})), Effect::Read);
        assert_eq!(effect(&json!({"destructiveHint": false})), Effect::Write);
        assert_eq!(effect(&json!({})), Effect::Destructive);
        assert_eq!(effect(&Value::Null), Effect::Destructive);
        assert_eq!(
            effect(&json!({"readOnlyHint": false, "destructiveHint": true})),
            Effect::Destructive
        );
    }
}
