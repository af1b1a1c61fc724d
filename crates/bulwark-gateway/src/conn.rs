//! Connections to upstream servers: made on first use, made again on the use
//! after a crash, never pinged behind a call's back (a health-check ping on a
//! shared stdio pipe is what killed MCPProxy's upstreams mid-call).
//!
//! Each upstream has a circuit breaker. A failed connect or a broken call
//! counts as a failure; after [`TRIP_AFTER`] failures in a row the breaker
//! opens for an exponentially growing time with jitter, and calls fail fast
//! until it has passed. Then one attempt goes through: success closes the
//! breaker, failure opens it again for longer. An upstream that answers 401
//! or 403 is not redialled at all until its settings change.
//!
//! An upstream has one connection shared by every caller, or, with
//! `sessions = "per-client"`, one per client (an MCP session, else a
//! principal), for servers that keep state per connection. Those close after
//! [`ConnOptions::client_idle`] unused, and at most
//! [`ConnOptions::max_client_sessions`] are open per upstream; the breaker is
//! the upstream's, shared by all of them.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bulwark_upstream::{
    ConnectOptions, OnToolsChanged, StderrCopy, StderrMode, Target, Upstream, UpstreamError,
};
use serde_json::{Map, Value};
use tokio::sync::mpsc::UnboundedSender;

use crate::GatewayError;
use crate::logs::RotatingLog;
use crate::record::Transport;
use crate::tokens::UpstreamTokens;

/// Failures in a row that open the breaker.
pub const TRIP_AFTER: u32 = 3;
/// First open period; doubles with every trip…
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// …up to this.
const BACKOFF_CAP: Duration = Duration::from_secs(120);
/// How long the breaker stays open after a 401/403 (until the settings change).
const UNAUTHORIZED_HOLD: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct ConnOptions {
    pub connect_timeout: Duration,
    pub call_timeout: Duration,
    /// Where stdio servers' stderr goes, one file per upstream.
    pub log_dir: Option<PathBuf>,
    pub log_max_bytes: u64,
    /// Sealed OAuth tokens, for HTTP upstreams with `auth = "oauth"`.
    pub tokens: Option<Arc<UpstreamTokens>>,
    /// Each stdio upstream's private directories (`NAME/home`, `tmp`, `work`) go here.
    pub sandbox_dir: PathBuf,
    /// Upstreams that get one connection per client instead of one shared.
    pub per_client: BTreeSet<String>,
    /// A per-client connection unused this long is closed.
    pub client_idle: Duration,
    /// Per-client connections open at once, per upstream.
    pub max_client_sessions: usize,
}

#[cfg(test)]
impl ConnOptions {
    /// Defaults for everything but where files go.
    pub fn new(sandbox_dir: PathBuf) -> Self {
        ConnOptions {
            connect_timeout: Duration::from_secs(30),
            call_timeout: Duration::from_secs(120),
            log_dir: None,
            log_max_bytes: 5 * 1024 * 1024,
            tokens: None,
            sandbox_dir,
            per_client: BTreeSet::new(),
            client_idle: Duration::from_secs(600),
            max_client_sessions: 32,
        }
    }
}

#[derive(Default, Debug)]
struct Health {
    failures: u32,
    trips: u32,
    open_until: Option<Instant>,
    last_error: Option<String>,
    unauthorized: bool,
    /// For an OAuth upstream held after a 401: when its tokens were last written at that
    /// moment. A new login changes it, and the upstream is dialled again.
    token_stamp: Option<String>,
}

struct Slot {
    transport: Transport,
    live: tokio::sync::Mutex<Option<Arc<Upstream>>>,
    health: Mutex<Health>,
    /// Set by `notifications/tools/list_changed`: re-list before the next call.
    stale: Arc<AtomicBool>,
    /// With per-client sessions: each client's connection, by client key.
    clients: Mutex<HashMap<String, ClientConn>>,
}

struct ClientConn {
    upstream: Arc<Upstream>,
    last_used: Instant,
}

impl ClientConn {
    /// Held by no call right now (only the map holds it).
    fn idle(&self) -> bool {
        Arc::strong_count(&self.upstream) == 1
    }
}

/// A connection handed out for one use, and whether it is new (its tools
/// must be listed and checked before use).
pub struct Lease {
    pub upstream: Arc<Upstream>,
    pub fresh: bool,
}

pub struct Connections {
    options: ConnOptions,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    changed: Option<UnboundedSender<String>>,
}

/// The breaker's state, for `upstream_servers list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnState {
    pub connected: bool,
    pub failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker_open_for_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Per-client connections open now (upstreams with per-client sessions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_sessions: Option<usize>,
}

impl Connections {
    pub fn new(options: ConnOptions, changed: Option<UnboundedSender<String>>) -> Self {
        Connections {
            options,
            slots: Mutex::new(HashMap::new()),
            changed,
        }
    }

    /// The slot of `name`, if it was ever used; never creates one.
    fn existing(&self, name: &str) -> Option<Arc<Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    fn slot(&self, name: &str, transport: &Transport) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match slots.get(name) {
            Some(slot) if slot.transport == *transport => slot.clone(),
            // New, or its settings changed: start over (the old connection
            // closes when its last in-flight call lets go of it).
            _ => {
                let slot = Arc::new(Slot {
                    transport: transport.clone(),
                    live: tokio::sync::Mutex::new(None),
                    health: Mutex::new(Health::default()),
                    stale: Arc::new(AtomicBool::new(false)),
                    clients: Mutex::new(HashMap::new()),
                });
                slots.insert(name.to_owned(), slot.clone());
                slot
            }
        }
    }

    /// Forget a server: its connection closes once no call holds it.
    pub fn drop_server(&self, name: &str) {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    /// Names with a slot, for pruning removed servers.
    pub fn names(&self) -> Vec<String> {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    pub fn state(&self, name: &str) -> ConnState {
        let slot = self.existing(name);
        let per_client = self.options.per_client.contains(name);
        let Some(slot) = slot else {
            return ConnState {
                connected: false,
                failures: 0,
                breaker_open_for_secs: None,
                last_error: None,
                client_sessions: per_client.then_some(0),
            };
        };
        let clients = slot
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|c| !c.upstream.is_closed())
            .count();
        let connected = clients > 0
            || slot
                .live
                .try_lock()
                .map(|l| l.as_ref().is_some_and(|u| !u.is_closed()))
                .unwrap_or(true);
        let health = slot.health.lock().unwrap_or_else(PoisonError::into_inner);
        ConnState {
            connected,
            failures: health.failures,
            breaker_open_for_secs: health
                .open_until
                .and_then(|t| t.checked_duration_since(Instant::now()))
                .map(|d| d.as_secs().max(1)),
            last_error: health.last_error.clone(),
            client_sessions: per_client.then_some(clients),
        }
    }

    /// Close per-client connections unused for longer than `client_idle`
    /// (and forget dead ones). Called from the gateway's background tick.
    pub fn reap_idle_clients(&self) {
        let slots: Vec<(String, Arc<Slot>)> = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        for (name, slot) in slots {
            let closed = reap(
                &mut slot.clients.lock().unwrap_or_else(PoisonError::into_inner),
                self.options.client_idle,
            );
            if closed > 0 {
                tracing::info!(upstream = %name, closed, "closed idle per-client connections");
            }
        }
    }

    /// Whether the tool list must be fetched again before the next call
    /// (and clear the flag).
    pub fn take_stale(&self, name: &str) -> bool {
        let slot = self.existing(name);
        slot.is_some_and(|s| s.stale.swap(false, Ordering::SeqCst))
    }

    /// A live connection, made now if there is none or the last one died.
    /// `client` names the caller (see [`client_key`]); it matters only for
    /// upstreams with per-client sessions.
    pub async fn lease(
        &self,
        name: &str,
        transport: &Transport,
        client: Option<&str>,
    ) -> Result<Lease, GatewayError> {
        let slot = self.slot(name, transport);
        self.reset_after_login(name, &slot);
        check_breaker(name, &slot)?;
        if self.options.per_client.contains(name) {
            // Callers that cannot be told apart (stdio, unauthenticated
            // stateless requests, the gateway's own inspections) are one client.
            return self
                .lease_for_client(name, transport, &slot, client.unwrap_or(""))
                .await;
        }
        let mut live = slot.live.lock().await;
        if let Some(upstream) = live.as_ref()
            && !upstream.is_closed()
        {
            return Ok(Lease {
                upstream: upstream.clone(),
                fresh: false,
            });
        }
        *live = None;
        // Another caller may have tripped the breaker while we waited.
        check_breaker(name, &slot)?;
        let upstream = self.dial(name, transport, &slot).await?;
        *live = Some(upstream.clone());
        Ok(Lease {
            upstream,
            fresh: true,
        })
    }

    async fn lease_for_client(
        &self,
        name: &str,
        transport: &Transport,
        slot: &Arc<Slot>,
        client: &str,
    ) -> Result<Lease, GatewayError> {
        {
            let mut clients = slot.clients.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(lease) = reuse(&mut clients, client) {
                return Ok(lease);
            }
            clients.remove(client);
            make_room(name, &mut clients, self.options.max_client_sessions)?;
        }
        // Dialled without holding the map: one slow server start must not
        // hold up the other clients of this upstream.
        let upstream = self.dial(name, transport, slot).await?;
        let mut clients = slot.clients.lock().unwrap_or_else(PoisonError::into_inner);
        // The same client may have dialled twice at once: keep the first.
        if let Some(lease) = reuse(&mut clients, client) {
            return Ok(lease);
        }
        make_room(name, &mut clients, self.options.max_client_sessions)?;
        clients.insert(
            client.to_owned(),
            ClientConn {
                upstream: upstream.clone(),
                last_used: Instant::now(),
            },
        );
        tracing::info!(upstream = name, client, "per-client connection opened");
        Ok(Lease {
            upstream,
            fresh: true,
        })
    }

    /// Connect, and count the outcome on the upstream's breaker.
    async fn dial(
        &self,
        name: &str,
        transport: &Transport,
        slot: &Arc<Slot>,
    ) -> Result<Arc<Upstream>, GatewayError> {
        match self.connect(name, transport, slot.stale.clone()).await {
            Ok(upstream) => {
                record_success(slot);
                tracing::info!(upstream = name, "connected");
                Ok(Arc::new(upstream))
            }
            Err(err) => {
                let unauthorized = needs_credentials(&err);
                let message = err.to_string();
                record_failure(slot, &message, unauthorized);
                self.note_token_stamp(name, slot, unauthorized);
                tracing::warn!(upstream = name, "connect failed: {message}");
                Err(GatewayError::Connect {
                    name: name.to_owned(),
                    reason: message,
                })
            }
        }
    }

    /// Note how a call on a leased connection went.
    pub async fn outcome(&self, name: &str, lease: &Lease, error: Option<&UpstreamError>) {
        let slot = self.existing(name);
        let Some(slot) = slot else { return };
        match error {
            None => record_success(&slot),
            // The server answered: it is alive, whatever it said.
            Some(UpstreamError::Rpc { .. }) | Some(UpstreamError::Protocol { .. }) => {
                record_success(&slot)
            }
            Some(err) => {
                // A connection whose credentials were refused goes too: the next one starts
                // from what is stored then (a new login may bring a new client id).
                let broken = lease.upstream.is_closed()
                    || needs_credentials(err)
                    || matches!(
                        err,
                        UpstreamError::ConnectionClosed { .. } | UpstreamError::Transport { .. }
                    );
                if broken {
                    let mut live = slot.live.lock().await;
                    if live
                        .as_ref()
                        .is_some_and(|u| Arc::ptr_eq(u, &lease.upstream))
                    {
                        *live = None;
                    }
                    drop(live);
                    slot.clients
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .retain(|_, c| !Arc::ptr_eq(&c.upstream, &lease.upstream));
                }
                let unauthorized = needs_credentials(err);
                record_failure(&slot, &err.to_string(), unauthorized);
                self.note_token_stamp(name, &slot, unauthorized);
            }
        }
    }

    /// Remember which tokens an OAuth upstream was refused with.
    fn note_token_stamp(&self, name: &str, slot: &Slot, unauthorized: bool) {
        if !unauthorized || slot.transport.oauth().is_none() {
            return;
        }
        let stamp = self.options.tokens.as_ref().and_then(|t| t.stamp(name));
        let mut h = slot.health.lock().unwrap_or_else(PoisonError::into_inner);
        h.token_stamp = stamp;
    }

    /// An OAuth upstream held after a 401 waits for `bulwark upstream login` (in any process):
    /// once its stored tokens change, close the breaker so that the next use dials again.
    fn reset_after_login(&self, name: &str, slot: &Slot) {
        if slot.transport.oauth().is_none() {
            return;
        }
        let held = {
            let h = slot.health.lock().unwrap_or_else(PoisonError::into_inner);
            h.unauthorized.then(|| h.token_stamp.clone())
        };
        let Some(seen) = held else { return };
        let now = self.options.tokens.as_ref().and_then(|t| t.stamp(name));
        if now.is_some() && now != seen {
            tracing::info!(upstream = name, "new OAuth tokens: dialling again");
            record_success(slot);
        }
    }

    async fn connect(
        &self,
        name: &str,
        transport: &Transport,
        stale: Arc<AtomicBool>,
    ) -> Result<Upstream, UpstreamError> {
        let mut sandbox = None;
        let target = match transport {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
                sandbox: config,
            } => {
                let (command, path) = bulwark_sandbox::path::resolve(command, env);
                let mut env = env.clone();
                env.entry("PATH".to_owned()).or_insert(path);
                let built = crate::sandbox::build(
                    name,
                    config,
                    &command,
                    args,
                    cwd.as_deref(),
                    &self.options.sandbox_dir,
                )
                .map_err(|e| UpstreamError::Sandbox {
                    command: command.clone(),
                    reason: e.to_string(),
                })?;
                sandbox = Some(Arc::new(built));
                Target::Stdio {
                    command,
                    args: args.clone(),
                    env,
                    cwd: cwd.clone(),
                }
            }
            Transport::Http { url, headers, .. } => Target::Http {
                url: url.clone(),
                headers: headers.clone(),
            },
            Transport::Sse { url, headers } => Target::Sse {
                url: url.clone(),
                headers: headers.clone(),
            },
        };
        let mut options = ConnectOptions {
            timeout: self.options.connect_timeout,
            request_timeout: self.options.call_timeout,
            client_name: "bulwark-gateway".to_owned(),
            stderr: StderrMode::Capture(16 * 1024),
            sandbox,
            ..ConnectOptions::default()
        };
        if let Some(dir) = &self.options.log_dir
            && transport.kind() == "stdio"
        {
            match RotatingLog::open(&log_path(dir, name), self.options.log_max_bytes) {
                Ok(log) => {
                    let log = Arc::new(log);
                    options.stderr_copy = Some(StderrCopy(Arc::new(move |chunk| log.write(chunk))));
                }
                Err(err) => tracing::warn!(upstream = name, "no stderr log: {err}"),
            }
        }
        if transport.oauth().is_some() {
            let tokens = self
                .options
                .tokens
                .as_ref()
                .ok_or_else(|| UpstreamError::OAuth {
                    url: transport.summary(),
                    detail: "this gateway has no token store".to_owned(),
                })?;
            options.oauth = Some(tokens.connect(name));
        }
        let sender = self.changed.clone();
        let server = name.to_owned();
        options.on_tools_changed = Some(OnToolsChanged(Arc::new(move || {
            stale.store(true, Ordering::SeqCst);
            if let Some(sender) = &sender {
                let _ = sender.send(server.clone());
            }
        })));
        Upstream::connect(&target, &options).await
    }
}

impl Connections {
    /// The sandbox `name` runs in (or would run in, if not connected yet): backend, what it
    /// enforces, paths, network, variable names; or why it cannot start. `None` for HTTP.
    pub fn sandbox_report(&self, name: &str, transport: &Transport) -> Option<Value> {
        let Transport::Stdio {
            command,
            args,
            env,
            cwd,
            sandbox,
        } = transport
        else {
            return None;
        };
        let (command, _) = bulwark_sandbox::path::resolve(command, env);
        let report = crate::sandbox::build(
            name,
            sandbox,
            &command,
            args,
            cwd.as_deref(),
            &self.options.sandbox_dir,
        )
        .and_then(|sb| sb.report());
        Some(match report {
            Ok(mut report) => {
                let mut names: Vec<String> = report.env.drain(..).collect();
                names.extend(env.keys().cloned());
                names.sort();
                names.dedup();
                report.env = names;
                serde_json::to_value(report).unwrap_or(Value::Null)
            }
            Err(e) => serde_json::json!({
                "requested": sandbox.kind,
                "backend": "none",
                "error": format!("the server will not start: {e}"),
            }),
        })
    }
}

/// The stderr log of a stdio upstream.
/// Who a call is for, as far as per-client sessions go: its MCP session, else
/// its principal (and tenant); `None` (the shared connection) for an
/// unauthenticated stateless or in-process caller, who cannot be told apart.
pub fn client_key(ctx: &bulwark_core::CallContext) -> Option<String> {
    if let Some(session) = &ctx.session_id {
        return Some(format!("session:{session}"));
    }
    let principal = ctx.principal.as_deref()?;
    Some(match &ctx.tenant {
        Some(tenant) => format!("principal:{principal}@{tenant}"),
        None => format!("principal:{principal}"),
    })
}

/// The client's live connection, marked as used now.
fn reuse(clients: &mut HashMap<String, ClientConn>, client: &str) -> Option<Lease> {
    let conn = clients
        .get_mut(client)
        .filter(|c| !c.upstream.is_closed())?;
    conn.last_used = Instant::now();
    Some(Lease {
        upstream: conn.upstream.clone(),
        fresh: false,
    })
}

/// Drop dead and long-idle per-client connections; how many were closed.
fn reap(clients: &mut HashMap<String, ClientConn>, idle: Duration) -> usize {
    let before = clients.len();
    let expired = |c: &ClientConn| c.idle() && c.last_used.elapsed() >= idle;
    clients.retain(|_, c| !(c.upstream.is_closed() || expired(c)));
    before - clients.len()
}

/// Make room for one more per-client connection: close the least recently
/// used one that no call holds, or refuse when every one is busy.
fn make_room(
    name: &str,
    clients: &mut HashMap<String, ClientConn>,
    max: usize,
) -> Result<(), GatewayError> {
    clients.retain(|_, c| !c.upstream.is_closed());
    while clients.len() >= max.max(1) {
        let oldest = clients
            .iter()
            .filter(|(_, c)| c.idle())
            .min_by_key(|(_, c)| c.last_used)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(key) => {
                clients.remove(&key);
            }
            None => {
                return Err(GatewayError::Refused(format!(
                    "upstream `{name}` already has {} per-client connections, all in use; retry shortly, or raise `gateway.max_client_sessions`",
                    clients.len()
                )));
            }
        }
    }
    Ok(())
}

pub fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.log"))
}

fn check_breaker(name: &str, slot: &Slot) -> Result<(), GatewayError> {
    let health = slot.health.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(until) = health.open_until
        && let Some(left) = until.checked_duration_since(Instant::now())
    {
        let last = health.last_error.clone().unwrap_or_default();
        return Err(if health.unauthorized && slot.transport.oauth().is_some() {
            GatewayError::NeedsLogin {
                name: name.to_owned(),
                reason: last,
            }
        } else if health.unauthorized {
            GatewayError::NeedsAuthorization {
                name: name.to_owned(),
                reason: last,
            }
        } else {
            GatewayError::CircuitOpen {
                name: name.to_owned(),
                failures: health.failures,
                retry_in_secs: left.as_secs().max(1),
                reason: last,
            }
        });
    }
    Ok(())
}

/// Errors that only new credentials fix: the upstream is not redialled until they change.
fn needs_credentials(err: &UpstreamError) -> bool {
    matches!(
        err,
        UpstreamError::Unauthorized { .. } | UpstreamError::LoginRequired { .. }
    )
}

fn record_success(slot: &Slot) {
    let mut h = slot.health.lock().unwrap_or_else(PoisonError::into_inner);
    *h = Health::default();
}

fn record_failure(slot: &Slot, message: &str, unauthorized: bool) {
    let mut h = slot.health.lock().unwrap_or_else(PoisonError::into_inner);
    h.failures += 1;
    h.last_error = Some(message.to_owned());
    if unauthorized {
        h.unauthorized = true;
        h.open_until = Some(Instant::now() + UNAUTHORIZED_HOLD);
    } else if h.failures >= TRIP_AFTER {
        h.trips += 1;
        h.open_until = Some(Instant::now() + backoff(h.trips));
    }
}

/// Open period after the `trips`-th trip: base × 2^(trips-1), capped, with
/// "equal jitter" (a uniform draw from the upper half) so that upstreams that
/// failed together do not all come back at the same instant.
pub fn backoff(trips: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << trips.saturating_sub(1).min(16));
    let full = exp.min(BACKOFF_CAP);
    let half = full / 2;
    half + half.mul_f64(fastrand::f64())
}

/// Split a leased call's arguments check: JSON object, bounded size.
pub fn check_args(args: &Map<String, Value>, max_bytes: usize) -> Result<(), GatewayError> {
    let size = serde_json::to_vec(args)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > max_bytes {
        return Err(GatewayError::Invalid(format!(
            "the arguments are {size} bytes of JSON, over the gateway's limit of {max_bytes}; send less, or pass a path or reference instead of the data"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for trips in 1..=20 {
            let d = backoff(trips);
            let full = BACKOFF_BASE
                .saturating_mul(1u32 << (trips - 1).min(16))
                .min(BACKOFF_CAP);
            assert!(d >= full / 2 && d <= full, "{trips}: {d:?}");
        }
        let draws: std::collections::HashSet<_> = (0..20).map(|_| backoff(5)).collect();
        assert!(draws.len() > 1, "jitter varies the delay");
    }

    #[test]
    fn a_client_is_its_session_else_its_principal_and_tenant() {
        let mut ctx = bulwark_core::CallContext::in_process("gateway");
        assert_eq!(
            client_key(&ctx),
            None,
            "stdio and in-process callers are one client"
        );
        ctx.principal = Some("ann".into());
        assert_eq!(client_key(&ctx).as_deref(), Some("principal:ann"));
        ctx.tenant = Some("acme".into());
        assert_eq!(client_key(&ctx).as_deref(), Some("principal:ann@acme"));
        ctx.session_id = Some("s-1".into());
        assert_eq!(client_key(&ctx).as_deref(), Some("session:s-1"));
    }

    #[tokio::test]
    async fn the_breaker_opens_after_repeated_failures_and_fails_fast() {
        let conns = Connections::new(
            ConnOptions {
                connect_timeout: Duration::from_secs(5),
                call_timeout: Duration::from_secs(5),
                log_max_bytes: 1024,
                ..ConnOptions::new(std::env::temp_dir().join("bulwark-sandbox-test"))
            },
            None,
        );
        let transport = Transport::Stdio {
            command: "/nonexistent/bulwark-test-server".into(),
            args: vec![],
            env: Default::default(),
            cwd: None,
            sandbox: Default::default(),
        };
        for _ in 0..TRIP_AFTER {
            let err = conns.lease("bad", &transport, None).await.err().unwrap();
            assert!(matches!(err, GatewayError::Connect { .. }), "{err}");
        }
        let err = conns.lease("bad", &transport, None).await.err().unwrap();
        assert!(matches!(err, GatewayError::CircuitOpen { .. }), "{err}");
        assert!(err.to_string().contains("retry in"), "{err}");
        let state = conns.state("bad");
        assert!(state.breaker_open_for_secs.is_some());
        // New settings start over.
        let other = Transport::Stdio {
            command: "/nonexistent/other".into(),
            args: vec![],
            env: Default::default(),
            cwd: None,
            sandbox: Default::default(),
        };
        let err = conns.lease("bad", &other, None).await.err().unwrap();
        assert!(matches!(err, GatewayError::Connect { .. }), "{err}");
    }

    #[test]
    fn oversized_arguments_are_refused() {
        let mut args = Map::new();
        args.insert("x".into(), Value::String("a".repeat(2000)));
        assert!(check_args(&args, 100).is_err());
        assert!(check_args(&args, 10_000).is_ok());
    }
}
