//! Streamable HTTP: one endpoint per profile, both protocol eras on each.
//!
//! Routes: `/mcp` and `/mcp/v1` serve the default profile; `/mcp/{profile}` and
//! `/mcp/v1/{profile}` serve a named one (the `/v1` forms are the paths existing
//! LimaCharlie deployments use). `/health` is liveness, `/ready` readiness.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::Bulwark;
use crate::auth::{AuthConfig, AuthGate};
use crate::limits::{CallerKey, RateLimits, Verdict};
use crate::pipeline::InFlight;
use crate::sessions::BoundedSessions;

/// Settings of the HTTP transport.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The profile served at `/mcp` and `/mcp/v1`.
    pub default_profile: String,
    /// Accepted `Host` header values (DNS-rebinding protection); hostnames or
    /// `host:port`. Empty means any host.
    pub allowed_hosts: Vec<String>,
    /// Accepted browser `Origin`s (`scheme://host[:port|:*]`). Requests without
    /// an `Origin` header are always accepted.
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub max_sessions: usize,
    /// A session unused this long is closed.
    pub session_idle: Duration,
    /// How long shutdown waits for in-flight calls.
    pub shutdown_grace: Duration,
    /// Who may call; off when it holds no authenticator.
    pub auth: AuthConfig,
    /// Routes served beside MCP (the authorization server's).
    pub extra: Option<ExtraRoutes>,
    /// `/metrics` in the Prometheus text format; not served when `None`.
    pub metrics: Option<crate::metrics::MetricsEndpoint>,
}

/// Routes served beside the MCP endpoints, such as the built-in authorization
/// server's. Requests to the paths in `limited` spend the named endpoint
/// budget of their client address (`RateLimits::endpoints`).
#[derive(Clone, Default)]
pub struct ExtraRoutes {
    pub router: Router,
    /// `(path, budget name)`, e.g. `("/token", "token")`.
    pub limited: Vec<(String, String)>,
}

impl std::fmt::Debug for ExtraRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtraRoutes")
            .field("limited", &self.limited)
            .finish_non_exhaustive()
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            default_profile: "all".into(),
            allowed_hosts: vec![
                "localhost".into(),
                "127.0.0.1".into(),
                "::1".into(),
                "[::1]".into(),
            ],
            allowed_origins: vec![
                "http://localhost:*".into(),
                "https://localhost:*".into(),
                "http://127.0.0.1:*".into(),
                "https://127.0.0.1:*".into(),
                "http://[::1]:*".into(),
                "https://[::1]:*".into(),
            ],
            max_body_bytes: 4 * 1024 * 1024,
            max_sessions: 1024,
            session_idle: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(10),
            auth: AuthConfig::default(),
            extra: None,
            metrics: None,
        }
    }
}

/// Shared state of the HTTP routes outside MCP.
#[derive(Clone)]
struct HttpState {
    ready: Arc<AtomicBool>,
    authorization_servers: Arc<Vec<String>>,
    profiles: Arc<Vec<String>>,
    sessions: Arc<Vec<Arc<BoundedSessions>>>,
}

/// A running HTTP server's handle.
pub struct HttpServer {
    router: Router,
    ready: Arc<AtomicBool>,
    /// MCP POSTs whose response has not been fully written yet.
    responding: InFlight,
    mcp_shutdown: CancellationToken,
    bulwark: Bulwark,
    grace: Duration,
}

impl HttpServer {
    pub fn new(
        bulwark: &Bulwark,
        options: &HttpOptions,
    ) -> Result<Self, bulwark_core::RegistryError> {
        // Fail early, with the list of valid names, if the default is unknown.
        bulwark.registry().profile(&options.default_profile)?;
        let mcp_shutdown = CancellationToken::new();
        let ready = Arc::new(AtomicBool::new(false));
        let mut config = StreamableHttpServerConfig::default()
            .with_allowed_hosts(options.allowed_hosts.clone())
            .with_allowed_origins(options.allowed_origins.clone())
            .with_max_request_body_bytes(options.max_body_bytes)
            // A stateless call whose handler sends nothing before its result is
            // answered with one JSON body instead of an SSE stream: one write,
            // no stream framing. Calls that stream progress still get SSE.
            .with_json_response(true)
            .with_cancellation_token(mcp_shutdown.clone());
        if options.allowed_hosts.is_empty() {
            config = config.disable_allowed_hosts();
        }
        if !options.allowed_origins.is_empty() {
            config = config.enforce_origin_validation();
        }

        let mut router = Router::new();
        let responding = InFlight::default();
        let profiles = bulwark.registry().profile_names();
        // One session manager per profile; the limit applies to their sum.
        let all_sessions: Arc<Vec<Arc<BoundedSessions>>> = Arc::new(
            profiles
                .iter()
                .map(|_| {
                    let mut session_config = SessionConfig::default();
                    session_config.keep_alive = Some(options.session_idle);
                    let mut local = LocalSessionManager::default();
                    local.session_config = session_config;
                    Arc::new(BoundedSessions::new(local, options.max_sessions))
                })
                .collect(),
        );
        for (name, sessions) in profiles.iter().zip(all_sessions.iter().cloned()) {
            let handler = bulwark.handler(name)?;
            let service = StreamableHttpService::new(
                move || Ok(handler.clone()),
                sessions.clone(),
                config.clone(),
            );
            let guard = SessionGuard {
                sessions,
                all: all_sessions.clone(),
                max: options.max_sessions,
                responding: responding.clone(),
            };
            // Behind an Arc: axum clones a middleware's state for every request.
            let gate = Arc::new(AuthGate::new(
                options.auth.clone(),
                name.clone(),
                bulwark.audit().cloned(),
            ));
            let service = tower::ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(
                    gate,
                    crate::auth::authenticate,
                ))
                .layer(middleware::from_fn_with_state(
                    LimitGate {
                        limits: bulwark.limits().clone(),
                        audit: bulwark.audit().cloned(),
                    },
                    limit_requests,
                ))
                .layer(middleware::from_fn_with_state(guard, guard_sessions))
                .service(service);
            router = router
                .route_service(&format!("/mcp/{name}"), service.clone())
                .route_service(&format!("/mcp/v1/{name}"), service.clone());
            if *name == options.default_profile {
                router = router
                    .route_service("/mcp", service.clone())
                    .route_service("/mcp/v1", service);
            }
        }
        let router = router.layer(middleware::from_fn_with_state(
            options.max_body_bytes,
            check_json_body,
        ));
        let state = HttpState {
            ready: ready.clone(),
            authorization_servers: Arc::new(options.auth.authorization_servers.clone()),
            profiles: Arc::new(profiles),
            sessions: all_sessions,
        };
        let mut router = router
            .route("/mcp/{profile}", axum::routing::any(unknown_profile))
            .route("/mcp/v1/{profile}", axum::routing::any(unknown_profile))
            .route(
                "/.well-known/oauth-protected-resource",
                get(protected_resource),
            )
            .route(
                "/.well-known/oauth-protected-resource/{*path}",
                get(protected_resource),
            )
            .route("/health", get(health))
            .route("/ready", get(ready_check))
            .with_state(state);
        if let Some(endpoint) = &options.metrics {
            let state = Arc::new(crate::metrics::MetricsState {
                endpoint: endpoint.clone(),
                auth: options.auth.clone(),
            });
            router = router.route(
                "/metrics",
                get(crate::metrics::serve_metrics).with_state(state),
            );
        }
        if let Some(extra) = &options.extra {
            let gate = EndpointGate {
                limits: bulwark.limits().clone(),
                audit: bulwark.audit().cloned(),
                limited: Arc::new(extra.limited.iter().cloned().collect()),
            };
            router = router.merge(
                extra
                    .router
                    .clone()
                    .layer(middleware::from_fn_with_state(gate, limit_endpoints)),
            );
        }
        Ok(HttpServer {
            router,
            ready,
            responding,
            mcp_shutdown,
            bulwark: bulwark.clone(),
            grace: options.shutdown_grace,
        })
    }

    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serve until `shutdown` resolves, then stop taking new connections, let
    /// in-flight calls finish within the grace period, and close every session.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let ready = self.ready.clone();
        let mcp_shutdown = self.mcp_shutdown.clone();
        let calls = self.bulwark.pipeline().in_flight().clone();
        let responding = self.responding.clone();
        let grace = self.grace;
        let stopping = CancellationToken::new();
        let stopping_signal = stopping.clone();
        // Shutdown, in order: stop accepting; let running calls finish and
        // their responses reach the client (bounded by the grace period); then
        // end sessions and standalone SSE streams so the last connections close.
        let drain = tokio::spawn(async move {
            shutdown.await;
            ready.store(false, Ordering::Release);
            tracing::info!(
                in_flight = calls.count(),
                "shutting down: no new connections; waiting for running calls"
            );
            stopping_signal.cancel();
            let finished = async {
                calls.drained().await;
                responding.drained().await;
            };
            if tokio::time::timeout(grace, finished).await.is_err() {
                tracing::warn!(
                    in_flight = calls.count(),
                    "grace period over; abandoning running calls"
                );
            }
            mcp_shutdown.cancel();
        });
        self.ready.store(true, Ordering::Release);
        let serve = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopping.clone().cancelled_owned());
        let hard_stop = async {
            stopping.cancelled().await;
            tokio::time::sleep(grace + Duration::from_secs(2)).await;
        };
        let result = tokio::select! {
            result = serve => result,
            _ = hard_stop => {
                tracing::warn!("connections still open after the grace period; exiting anyway");
                Ok(())
            }
        };
        if stopping.is_cancelled() {
            // Calls may still run with no connection open (their client left);
            // they get the rest of the grace period too.
            let _ = drain.await;
        } else {
            drain.abort();
        }
        result
    }
}

/// What the per-profile session guard needs.
#[derive(Clone)]
struct SessionGuard {
    /// This profile's sessions.
    sessions: Arc<BoundedSessions>,
    /// Every profile's, for the server-wide limit.
    all: Arc<Vec<Arc<BoundedSessions>>>,
    max: usize,
    responding: InFlight,
}

/// Session rules rmcp leaves to the server: a DELETE of a session that does not
/// exist is 404 (MCP 2025-11-25), a new session beyond the limit is 503 rather
/// than an opaque 500, and a POST counts as in flight until its response is
/// fully written, so shutdown does not cut it off.
async fn guard_sessions(
    State(guard): State<SessionGuard>,
    request: Request,
    next: Next,
) -> Response {
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match *request.method() {
        http::Method::DELETE => {
            let exists = match &session {
                Some(id) => guard.sessions.has(id).await,
                None => false,
            };
            if !exists {
                return json_rpc_error(
                    StatusCode::NOT_FOUND,
                    -32600,
                    "Session not found: it ended or never existed; start a new one with initialize"
                        .into(),
                );
            }
            let mut response = next.run(request).await;
            if response.status() == StatusCode::ACCEPTED {
                *response.status_mut() = StatusCode::OK;
            }
            response
        }
        http::Method::POST => {
            let stateless = request
                .headers()
                .get("mcp-protocol-version")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v >= "2026-07-28");
            if session.is_none() && !stateless && total_sessions(&guard.all).await >= guard.max {
                let mut response = json_rpc_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    -32603,
                    format!(
                        "bulwark already holds {} sessions, its limit; retry later, close idle clients, or raise `http.max_sessions`",
                        guard.max
                    ),
                );
                response.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("5"),
                );
                return response;
            }
            let in_flight = guard.responding.enter();
            let response = next.run(request).await;
            response.map(|body| {
                Body::new(GuardedBody {
                    inner: body,
                    _in_flight: in_flight,
                })
            })
        }
        _ => next.run(request).await,
    }
}

/// State of the request-budget middleware.
#[derive(Clone)]
struct LimitGate {
    limits: Arc<RateLimits>,
    audit: Option<bulwark_audit::AuditLog>,
}

/// The per-caller budget for MCP requests: 429 with `Retry-After` and the
/// `RateLimit-*` headers when spent (and a `rate_limited` audit record); the
/// headers ride on every answer.
async fn limit_requests(State(gate): State<LimitGate>, request: Request, next: Next) -> Response {
    let LimitGate { limits, audit } = gate;
    if limits.mcp.is_none() {
        return next.run(request).await;
    }
    let key = match request.extensions().get::<crate::auth::Principal>() {
        Some(principal) => CallerKey::Principal(principal.id.clone()),
        None => peer_key(&request),
    };
    match limits.check_mcp(&key).await.unwrap_or(Verdict::Allowed {
        limit: 0,
        remaining: 0,
    }) {
        Verdict::Allowed { limit, remaining } => {
            let mut response = next.run(request).await;
            budget_headers(response.headers_mut(), limit, remaining, None);
            response
        }
        Verdict::Limited { limit, retry_after } => {
            let secs = retry_after.as_secs().max(1);
            tracing::warn!(caller = %key, "rate limited: MCP requests");
            let user = request
                .extensions()
                .get::<crate::auth::Principal>()
                .map(|p| p.id.clone());
            let event = crate::auth::http_event(
                &request,
                "rate_limited",
                StatusCode::TOO_MANY_REQUESTS,
                user.as_deref(),
                &format!("{limit} MCP requests per minute"),
            );
            crate::auth::record(audit.as_ref(), event).await;
            let mut response = json_rpc_error(
                StatusCode::TOO_MANY_REQUESTS,
                -32029,
                format!("rate limit of {limit} MCP requests per minute reached; retry in {secs} s"),
            );
            budget_headers(response.headers_mut(), limit, 0, Some(secs));
            response
        }
    }
}

/// The budget key of a request without a principal: its peer address.
fn peer_key(request: &Request) -> CallerKey {
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map_or(CallerKey::Unknown, |info| CallerKey::Ip(info.0.ip()))
}

// Parsed once here instead of on every answer.
const RATELIMIT_LIMIT: http::HeaderName = http::HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: http::HeaderName = http::HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: http::HeaderName = http::HeaderName::from_static("ratelimit-reset");

/// `RateLimit-*` headers on every budgeted answer; with `retry_after`
/// (a refusal) also `Retry-After` and `RateLimit-Reset`.
fn budget_headers(
    headers: &mut http::HeaderMap,
    limit: u32,
    remaining: u32,
    retry_after: Option<u64>,
) {
    headers.insert(RATELIMIT_LIMIT, limit.into());
    headers.insert(RATELIMIT_REMAINING, remaining.into());
    if let Some(secs) = retry_after {
        headers.insert(http::header::RETRY_AFTER, secs.into());
        headers.insert(RATELIMIT_RESET, secs.into());
    }
}

/// State of the endpoint-budget middleware.
#[derive(Clone)]
struct EndpointGate {
    limits: Arc<RateLimits>,
    audit: Option<bulwark_audit::AuditLog>,
    /// Path → budget name.
    limited: Arc<std::collections::HashMap<String, String>>,
}

/// Per-client-address budgets of the authorization server's endpoints: 429
/// with an OAuth-style JSON error, `Retry-After` and `RateLimit-*` headers,
/// and a `rate_limited` audit record.
async fn limit_endpoints(
    State(gate): State<EndpointGate>,
    request: Request,
    next: Next,
) -> Response {
    let Some(endpoint) = gate.limited.get(request.uri().path()) else {
        return next.run(request).await;
    };
    let key = peer_key(&request);
    match gate.limits.check_endpoint(endpoint, &key).await {
        None => next.run(request).await,
        Some(Verdict::Allowed { limit, remaining }) => {
            let mut response = next.run(request).await;
            budget_headers(response.headers_mut(), limit, remaining, None);
            response
        }
        Some(Verdict::Limited { limit, retry_after }) => {
            let secs = retry_after.as_secs().max(1);
            tracing::warn!(caller = %key, endpoint = %endpoint, "rate limited: authorization endpoint");
            let event = crate::auth::http_event(
                &request,
                "rate_limited",
                StatusCode::TOO_MANY_REQUESTS,
                None,
                &format!("{limit} requests per minute to {endpoint}"),
            );
            crate::auth::record(gate.audit.as_ref(), event).await;
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({
                    "error": "rate_limited",
                    "error_description": format!(
                        "at most {limit} requests per minute to this endpoint from one address; retry in {secs} s"
                    ),
                })),
            )
                .into_response();
            let headers = response.headers_mut();
            headers.insert(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-store"),
            );
            budget_headers(headers, limit, 0, Some(secs));
            response
        }
    }
}

/// A response body that keeps its request counted as in flight until the body
/// is fully sent or dropped. Delegates size hints, so `Content-Length` survives.
struct GuardedBody {
    inner: Body,
    _in_flight: crate::pipeline::InFlightGuard,
}

impl http_body::Body for GuardedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Answer unparseable POST bodies the JSON-RPC way (400, -32700) and enforce the
/// body limit (413) before the MCP service sees the request. rmcp alone would
/// answer a syntax error with 415, which tells the client nothing useful.
async fn check_json_body(State(limit): State<usize>, request: Request, next: Next) -> Response {
    if request.method() != http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return json_rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                format!(
                    "request body is larger than {limit} bytes (`http.max_body_bytes`); send less or raise the limit"
                ),
            );
        }
    };
    if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return json_rpc_error(
            StatusCode::BAD_REQUEST,
            -32700,
            format!("Parse error: the body is not valid JSON ({err})"),
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn json_rpc_error(status: StatusCode, code: i32, message: String) -> Response {
    (
        status,
        Json(
            json!({ "jsonrpc": "2.0", "id": null, "error": { "code": code, "message": message } }),
        ),
    )
        .into_response()
}

async fn unknown_profile(
    State(state): State<HttpState>,
    Path(profile): Path<String>,
) -> impl IntoResponse {
    let valid = state.profiles.join(", ");
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "error": "unknown_profile",
            "message": format!("no profile `{profile}`; valid profiles: {valid}"),
            "profiles": *state.profiles,
        })),
    )
}

/// RFC 9728 metadata, at the root and per resource path (`.../mcp/{profile}`).
async fn protected_resource(
    State(state): State<HttpState>,
    headers: http::HeaderMap,
    path: Option<Path<String>>,
) -> impl IntoResponse {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let resource = match path {
        Some(Path(path)) => format!("/{}", path.trim_start_matches('/')),
        None => "/mcp".to_string(),
    };
    let mut scopes = vec!["mcp".to_string(), "tools:destructive".to_string()];
    scopes.extend(state.profiles.iter().map(|p| format!("profile:{p}")));
    Json(crate::auth::resource_metadata(
        host,
        &resource,
        &state.authorization_servers,
        &scopes,
    ))
}

async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn total_sessions(all: &[Arc<BoundedSessions>]) -> usize {
    let mut total = 0;
    for manager in all {
        total += manager.count().await;
    }
    total
}

async fn ready_check(State(state): State<HttpState>) -> impl IntoResponse {
    let sessions = total_sessions(&state.sessions).await;
    if state.ready.load(Ordering::Acquire) {
        (
            StatusCode::OK,
            Json(json!({ "status": "ready", "sessions": sessions })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "stopping", "sessions": sessions })),
        )
    }
}
