use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::BoxFuture;

/// Which generation of the MCP protocol the caller speaks. It decides how a tool
/// asks the client for input: by a request over the session (`Session`), or by
/// returning an input-required result (`Stateless`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolEra {
    /// 2025-11-25 and earlier: `initialize`, sessions, server-to-client requests.
    Session,
    /// 2026-07-28 and later: stateless, multi round-trip requests.
    Stateless,
    /// Not over MCP at all (`bulwark tools call`).
    InProcess,
}

/// MCP logging levels (RFC 5424 names), lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

/// What a tool may say to the client while it runs. Implemented by the server
/// crate over the MCP peer; absent for in-process calls.
pub trait ClientChannel: Send + Sync {
    /// Send a `notifications/message` log line (dropped below the client's level).
    fn log(&self, level: LogLevel, logger: Option<String>, data: Value) -> BoxFuture<()>;
    /// Send `notifications/progress` if the caller asked for progress.
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>)
    -> BoxFuture<()>;
    /// Send a request to the client (sampling, elicitation, roots) and wait for the
    /// answer. Only in the session era; stateless callers get input-required results.
    fn request(&self, method: String, params: Value) -> BoxFuture<Result<Value, String>>;
}

/// Which client features the caller declared, so a tool asks only for what the
/// client can answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCaps {
    pub sampling: bool,
    pub elicitation: bool,
    pub roots: bool,
}

/// The answers a stateless client sent back after an input-required result.
#[derive(Debug, Clone, Default)]
pub struct InputState {
    /// `inputResponses` keyed as the handler named its requests.
    pub responses: serde_json::Map<String, Value>,
    /// The state the handler returned last round, verified untampered.
    pub state: Option<String>,
}

/// Everything a call carries with it: who asks, through which profile, and how to
/// reach back to the client. Built per call by the transport; never global.
#[derive(Clone)]
pub struct CallContext {
    /// Unique per call, echoed in logs and the audit trail.
    pub request_id: String,
    /// The profile the call came through.
    pub profile: Arc<str>,
    /// Authenticated principal, when authentication is on.
    pub principal: Option<String>,
    /// Tenant the principal acts for, when tenants are configured.
    pub tenant: Option<String>,
    /// The tenant's backend credentials, resolved for this request only (never
    /// process-wide); `None` when the request brought none.
    pub credentials: Option<Arc<std::collections::BTreeMap<String, String>>>,
    /// The principal's scopes; `None` when authentication is off (everything allowed).
    pub scopes: Option<Arc<[String]>>,
    pub client_addr: Option<SocketAddr>,
    /// The OAuth client the caller's token was issued to, for the audit trail.
    pub client_id: Option<String>,
    /// The HTTP `User-Agent`, for the audit trail.
    pub user_agent: Option<String>,
    /// The MCP session (`Mcp-Session-Id`) of a 2025-11-25 session over HTTP; `None` for stdio,
    /// stateless requests and in-process calls. Gateway upstreams with per-client sessions key
    /// their connections on it.
    pub session_id: Option<String>,
    pub era: ProtocolEra,
    /// What the client said it supports.
    pub client_caps: ClientCaps,
    /// The client's progress token, when it asked for progress reports.
    pub progress_token: Option<String>,
    /// When the call must be finished by.
    pub deadline: Option<Instant>,
    /// Cancelled when the client cancels the request or the server shuts down.
    pub cancel: CancellationToken,
    pub channel: Option<Arc<dyn ClientChannel>>,
    /// Present when a stateless client retries after an input-required result.
    pub input: Option<InputState>,
}

impl CallContext {
    /// A context for a call made in this process (CLI, tests).
    pub fn in_process(profile: impl Into<Arc<str>>) -> Self {
        CallContext {
            request_id: new_request_id(),
            profile: profile.into(),
            principal: None,
            tenant: None,
            scopes: None,
            credentials: None,
            client_addr: None,
            client_id: None,
            user_agent: None,
            session_id: None,
            era: ProtocolEra::InProcess,
            client_caps: ClientCaps::default(),
            progress_token: None,
            deadline: None,
            cancel: CancellationToken::new(),
            channel: None,
            input: None,
        }
    }

    /// Whether the caller holds `scope` (always true when authentication is off).
    pub fn has_scope(&self, scope: &str) -> bool {
        match &self.scopes {
            None => true,
            Some(scopes) => scopes.iter().any(|s| s == scope),
        }
    }

    /// Log to the client if there is one; a no-op otherwise.
    pub async fn log(&self, level: LogLevel, data: Value) {
        if let Some(channel) = &self.channel {
            channel.log(level, None, data).await;
        }
    }

    /// Report progress to the client if it asked for it.
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        if let Some(channel) = &self.channel {
            channel.progress(progress, total, message).await;
        }
    }
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext")
            .field("request_id", &self.request_id)
            .field("profile", &self.profile)
            .field("principal", &self.principal)
            .field("tenant", &self.tenant)
            .field("client_addr", &self.client_addr)
            .field("era", &self.era)
            .finish_non_exhaustive()
    }
}

/// A short random id: 16 hex digits from the process-wide counter mixed with time,
/// unique enough to correlate log lines (not a secret).
pub fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "{:016x}",
        t.rotate_left(17) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    )
}
