//! Audit events for the authorization server. Events name the user, client,
//! source address, user agent, endpoint and status; never a password, code
//! or token.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use bulwark_audit::{AuditEvent, AuditLog};
use bulwark_core::Severity;

/// Who sent a request, for audit events.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestMeta {
            ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect()),
            path: parts.uri.path().to_string(),
        })
    }
}

impl RequestMeta {
    /// An event with this request's address, agent and endpoint filled in.
    pub(crate) fn event(
        &self,
        event_type: &str,
        severity: Severity,
        outcome: &str,
        status: u16,
    ) -> AuditEvent {
        let mut event = AuditEvent::new(event_type, severity, self.path.clone(), outcome)
            .with_status_code(status);
        if let Some(ip) = &self.ip {
            event = event.with_source_ip(ip.clone());
        }
        if let Some(agent) = &self.user_agent {
            event = event.with_user_agent(agent.clone());
        }
        event
    }
}

/// Writes `event` when there is a log; a failed write is logged, not fatal.
pub(crate) async fn record(log: Option<&AuditLog>, event: AuditEvent) {
    if let Some(log) = log
        && let Err(e) = log.record(event).await
    {
        tracing::error!("audit record not written: {e}");
    }
}

/// Optional fields in one go.
pub(crate) fn who(
    mut event: AuditEvent,
    user: Option<&str>,
    client_id: Option<&str>,
    tenant: Option<&str>,
) -> AuditEvent {
    if let Some(u) = user {
        event = event.with_user(u);
    }
    if let Some(c) = client_id {
        event = event.with_client_id(c);
    }
    if let Some(t) = tenant {
        event = event.with_tenant(t);
    }
    event
}
