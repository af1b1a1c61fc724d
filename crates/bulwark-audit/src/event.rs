use bulwark_core::Severity;
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::canonical::{sha256_hex, write_canonical};

/// One thing that happened, as an auditor needs to see it.
///
/// Build with [`AuditEvent::new`] and the `with_*` setters. The chain fields
/// (`seq`, `prev`, `hash`) are not here: [`crate::AuditLog::record`] adds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// RFC 3339 UTC with milliseconds, e.g. `2025-01-31T12:00:00.123Z`.
    pub time: String,
    /// e.g. `tool_call`, `auth.login_failed`, `auth.token_issued`, `http.401`, `rate_limited`.
    pub event_type: String,
    pub severity: Severity,
    /// Tool name or endpoint.
    pub action: String,
    /// `success`, `error`, `denied`, ...
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// [`args_digest`] of the arguments; kept even when `args` itself is not logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An event stamped with the current time; every optional field empty.
    pub fn new(
        event_type: impl Into<String>,
        severity: Severity,
        action: impl Into<String>,
        outcome: impl Into<String>,
    ) -> Self {
        AuditEvent {
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            event_type: event_type.into(),
            severity,
            action: action.into(),
            outcome: outcome.into(),
            user: None,
            client_id: None,
            tenant: None,
            request_id: None,
            source_ip: None,
            user_agent: None,
            duration_ms: None,
            status_code: None,
            args_sha256: None,
            args: None,
            detail: None,
        }
    }

    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    pub fn with_source_ip(mut self, source_ip: impl Into<String>) -> Self {
        self.source_ip = Some(source_ip.into());
        self
    }

    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    pub fn with_duration_ms(mut self, duration_ms: u64) -> Self {
        self.duration_ms = Some(duration_ms);
        self
    }

    pub fn with_status_code(mut self, status_code: u16) -> Self {
        self.status_code = Some(status_code);
        self
    }

    /// Sets `args` and `args_sha256` together, so the digest survives when the
    /// log is configured not to keep the arguments themselves.
    pub fn with_args(mut self, args: serde_json::Value) -> Self {
        self.args_sha256 = Some(args_digest(&args));
        self.args = Some(args);
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Hex SHA-256 of the canonical JSON of `args` (object keys sorted at every
/// depth, no whitespace): the same arguments give the same digest whatever
/// order their keys arrived in.
pub fn args_digest(args: &serde_json::Value) -> String {
    let mut canonical = String::new();
    write_canonical(args, &mut canonical);
    sha256_hex(canonical.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_digest_ignores_key_order_at_every_depth() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b": {"d": [3, {"f": 5, "e": 4}], "c": 2}, "a": 1}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a":1,"b":{"c":2,"d":[3,{"e":4,"f":5}]}}"#).unwrap();
        assert_eq!(args_digest(&a), args_digest(&b));
        // Pinned to the digest of the canonical text, so a change in the
        // canonical form (whitespace, order) cannot go unnoticed.
        assert_eq!(
            args_digest(&a),
            sha256_hex(br#"{"a":1,"b":{"c":2,"d":[3,{"e":4,"f":5}]}}"#)
        );
        // Array order is meaningful and must still change the digest.
        let c: serde_json::Value =
            serde_json::from_str(r#"{"a":1,"b":{"c":2,"d":[{"e":4,"f":5},3]}}"#).unwrap();
        assert_ne!(args_digest(&a), args_digest(&c));
    }

    #[test]
    fn new_stamps_utc_millis_and_skips_empty_fields() {
        let event = AuditEvent::new("tool_call", Severity::High, "delete_sensor", "success");
        // e.g. 2025-01-31T12:00:00.123Z
        assert_eq!(event.time.len(), 24, "{}", event.time);
        assert!(event.time.ends_with('Z') && event.time.as_bytes()[19] == b'.');
        let json = serde_json::to_value(&event).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["action", "event_type", "outcome", "severity", "time"]
        );
        assert_eq!(json["severity"], "HIGH");
    }
}
