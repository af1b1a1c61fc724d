//! Prometheus metrics: what the pipeline counts about every tool call, and
//! the `/metrics` route that serves a registry in the text exposition format.
//!
//! Recording is a few atomic adds behind a read lock (prometheus-client's
//! `Family`); encoding happens only when someone scrapes.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::auth::{AuthConfig, AuthTarget};

/// Latency buckets shared by every duration histogram: 0.25 ms to about 8 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // label values are snake_case on the wire
pub enum CallStatus {
    ok,
    error,
    input_required,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tool: Cow<'static, str>,
    status: CallStatus,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabel {
    tool: Cow<'static, str>,
}

/// Calls through the pipeline, per registered tool (a bounded set: the
/// registry is frozen at start, so no caller can mint label values).
#[derive(Debug, Clone)]
pub struct ToolMetrics {
    calls: Family<CallLabels, Counter>,
    duration: Family<ToolLabel, Histogram, fn() -> Histogram>,
}

impl Default for ToolMetrics {
    fn default() -> Self {
        ToolMetrics {
            calls: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl ToolMetrics {
    /// Add these metrics to `registry` (they share state with `self`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "bulwark_tool_calls",
            "Tool calls through the call pipeline, by tool and status",
            self.calls.clone(),
        );
        registry.register(
            "bulwark_tool_call_duration_seconds",
            "Time from entering the call pipeline to its result, by tool",
            self.duration.clone(),
        );
    }

    pub fn record(&self, tool: Cow<'static, str>, status: CallStatus, took: Duration) {
        self.calls
            .get_or_create(&CallLabels {
                tool: tool.clone(),
                status,
            })
            .inc();
        self.duration
            .get_or_create(&ToolLabel { tool })
            .observe(took.as_secs_f64());
    }
}

/// Who may read `/metrics`. Tool and upstream names and call rates tell an
/// attacker what is behind bulwark, so the default is as strict as MCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsAccess {
    /// With MCP authentication on: a credential with the `metrics:read`
    /// scope, checked by the same authenticators. With it off: loopback
    /// clients only.
    #[default]
    Auth,
    /// Loopback clients only, without a credential (a scraper on this host).
    Loopback,
    /// Anyone who reaches the port (a scraper on a protected network).
    Open,
}

/// The scope a credential needs for `/metrics` under [`MetricsAccess::Auth`].
pub const METRICS_SCOPE: &str = "metrics:read";

/// What the HTTP server needs to serve `/metrics`.
#[derive(Clone)]
pub struct MetricsEndpoint {
    pub registry: Arc<Registry>,
    pub access: MetricsAccess,
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsEndpoint")
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub(crate) struct MetricsState {
    pub endpoint: MetricsEndpoint,
    pub auth: AuthConfig,
}

fn denied(status: StatusCode, message: &str) -> Response {
    (status, format!("{message}\n")).into_response()
}

/// `GET /metrics`: the registry in the Prometheus text format, after the
/// access check.
pub(crate) async fn serve_metrics(
    State(state): State<Arc<MetricsState>>,
    request: Request,
) -> Response {
    let peer_is_loopback = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    let needs_credential = match state.endpoint.access {
        MetricsAccess::Open => false,
        MetricsAccess::Loopback => {
            if !peer_is_loopback {
                return denied(
                    StatusCode::FORBIDDEN,
                    "/metrics answers loopback clients only (metrics.access = \"loopback\")",
                );
            }
            false
        }
        MetricsAccess::Auth if state.auth.enabled() => true,
        MetricsAccess::Auth => {
            if !peer_is_loopback {
                return denied(
                    StatusCode::FORBIDDEN,
                    "/metrics answers loopback clients only while MCP authentication is off; turn authentication on or set metrics.access",
                );
            }
            false
        }
    };
    if needs_credential {
        let credential = crate::auth::bearer(request.headers()).filter(|c| !c.is_empty());
        let Some(credential) = credential else {
            return denied(
                StatusCode::UNAUTHORIZED,
                "/metrics needs `Authorization: Bearer <credential>` with the metrics:read scope",
            );
        };
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let target = AuthTarget {
            path: "/metrics".into(),
            resource: format!("http://{host}/metrics"),
        };
        let principal = match state.auth.principal(credential, &target).await {
            Ok(principal) => principal,
            Err(err) => {
                tracing::warn!("metrics: authenticator unavailable: {err}");
                return denied(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the credential cannot be checked right now; retry shortly",
                );
            }
        };
        match principal {
            None => return denied(StatusCode::UNAUTHORIZED, "the credential is not valid"),
            Some(p) if !p.has_scope(METRICS_SCOPE) => {
                return denied(
                    StatusCode::FORBIDDEN,
                    "this credential lacks the metrics:read scope; create one with it (`bulwark auth key create --name NAME --scopes metrics:read`)",
                );
            }
            Some(_) => {}
        }
    }
    let mut body = String::new();
    if let Err(err) = prometheus_client::encoding::text::encode(&mut body, &state.endpoint.registry)
    {
        tracing::error!("metrics: cannot encode: {err}");
        return denied(
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics cannot be encoded",
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_calls_show_in_the_encoding() {
        let metrics = ToolMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.record(
            Cow::Borrowed("get_processes"),
            CallStatus::ok,
            Duration::from_millis(3),
        );
        metrics.record(
            Cow::Borrowed("get_processes"),
            CallStatus::error,
            Duration::from_secs(20),
        );
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"bulwark_tool_calls_total{tool="get_processes",status="ok"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"bulwark_tool_call_duration_seconds_count{tool="get_processes"} 2"#),
            "{text}"
        );
        // 3 ms lands in the 4 ms bucket; 20 s only in +Inf.
        assert!(
            text.contains(
                r#"bulwark_tool_call_duration_seconds_bucket{le="0.004",tool="get_processes"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"bulwark_tool_call_duration_seconds_bucket{le="+Inf",tool="get_processes"} 2"#
            ),
            "{text}"
        );
    }
}
