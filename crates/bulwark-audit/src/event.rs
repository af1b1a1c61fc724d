use bulwark_core::Severity;
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::canonical::{push_json_string, sha256_hex, write_canonical, write_canonical_object};

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

    /// Sets only `args_sha256`, from [`args_object_digest`]: for callers
    /// whose log does not keep arguments, which then need no copy of them.
    pub fn with_args_digest(mut self, digest: String) -> Self {
        self.args_sha256 = Some(digest);
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

/// An event encoded ahead of its place in the chain: the canonical JSON
/// members on either side of `prev` and `seq`, so that sealing under the
/// writer's lock is only a splice and a hash.
///
/// Hand-written rather than `serde_json::to_value` plus a sort, because that
/// path builds a map per record and was most of the log's cost per call. The
/// keys are written in byte order; a test checks the result against the
/// generic canonical form so the two cannot drift apart.
#[derive(Debug)]
pub(crate) struct Encoded {
    /// Members before `prev`, each followed by a comma.
    pub before_prev: String,
    /// Members between `prev` and `seq` (only `request_id`), each followed by a comma.
    pub before_seq: String,
    /// Members after `seq`, each preceded by a comma.
    pub after_seq: String,
}

impl Encoded {
    pub(crate) fn new(event: &AuditEvent) -> Encoded {
        fn member(out: &mut String, key: &str, value: Option<&str>) {
            if let Some(value) = value {
                push_json_string(key, out);
                out.push(':');
                push_json_string(value, out);
                out.push(',');
            }
        }
        fn number(out: &mut String, key: &str, value: Option<u64>) {
            if let Some(value) = value {
                push_json_string(key, out);
                out.push(':');
                out.push_str(itoa_u64(value).as_str());
                out.push(',');
            }
        }
        let mut head = String::with_capacity(320);
        member(&mut head, "action", Some(&event.action));
        if let Some(args) = &event.args {
            head.push_str("\"args\":");
            write_canonical(args, &mut head);
            head.push(',');
        }
        member(&mut head, "args_sha256", event.args_sha256.as_deref());
        member(&mut head, "client_id", event.client_id.as_deref());
        member(&mut head, "detail", event.detail.as_deref());
        number(&mut head, "duration_ms", event.duration_ms);
        member(&mut head, "event_type", Some(&event.event_type));
        member(&mut head, "outcome", Some(&event.outcome));

        let mut middle = String::new();
        member(&mut middle, "request_id", event.request_id.as_deref());

        let mut tail = String::with_capacity(160);
        member(&mut tail, "severity", Some(event.severity.as_str()));
        member(&mut tail, "source_ip", event.source_ip.as_deref());
        number(&mut tail, "status_code", event.status_code.map(u64::from));
        member(&mut tail, "tenant", event.tenant.as_deref());
        member(&mut tail, "time", Some(&event.time));
        member(&mut tail, "user", event.user.as_deref());
        member(&mut tail, "user_agent", event.user_agent.as_deref());
        // Written with trailing commas above; the tail wants leading ones.
        tail.pop();
        tail.insert(0, ',');

        Encoded {
            before_prev: head,
            before_seq: middle,
            after_seq: tail,
        }
    }

    /// The record's canonical JSON at position `seq` after `prev`, without `hash`.
    pub(crate) fn canonical_at(&self, seq: u64, prev: &str, out: &mut String) {
        out.reserve(self.before_prev.len() + self.before_seq.len() + self.after_seq.len() + 110);
        out.push('{');
        out.push_str(&self.before_prev);
        out.push_str("\"prev\":\"");
        out.push_str(prev);
        out.push_str("\",");
        out.push_str(&self.before_seq);
        out.push_str("\"seq\":");
        out.push_str(itoa_u64(seq).as_str());
        out.push_str(&self.after_seq);
        out.push('}');
    }
}

/// Decimal text of `n` without a heap allocation.
fn itoa_u64(mut n: u64) -> SmallDecimal {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    SmallDecimal { buf, at }
}

struct SmallDecimal {
    buf: [u8; 20],
    at: usize,
}

impl SmallDecimal {
    fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.buf[self.at..]).unwrap_or("0")
    }
}

/// [`args_digest`] of an argument object, without building a `Value` around it.
pub fn args_object_digest(args: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut canonical = String::new();
    write_canonical_object(args, &mut canonical);
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
        assert_eq!(args_object_digest(a.as_object().unwrap()), args_digest(&a));
    }

    #[test]
    fn encoded_record_is_the_generic_canonical_form() {
        let prev = "ab".repeat(32);
        let full = AuditEvent::new(
            "tool_call",
            Severity::Critical,
            "kill_\"process\"",
            "success",
        )
        .with_user("alice\u{7}")
        .with_client_id("client-1")
        .with_tenant("acme")
        .with_request_id("req-9")
        .with_source_ip("::1")
        .with_user_agent("agent/1 \u{2028}")
        .with_duration_ms(18_446_744_073_709_551_615)
        .with_status_code(403)
        .with_args(serde_json::json!({"z": [1, 2.5, {"b": null, "a": "\n"}], "a": true}))
        .with_detail("it failed: \"why\"");
        let bare = AuditEvent::new("auth.login", Severity::Low, "/authorize", "denied");
        for (event, seq) in [
            (full, 0),
            (bare, 1),
            (bare_with_request_id(), 4_294_967_296),
        ] {
            let mut generic = serde_json::to_value(&event).unwrap();
            let fields = generic.as_object_mut().unwrap();
            fields.insert("seq".into(), seq.into());
            fields.insert("prev".into(), prev.clone().into());
            let mut expected = String::new();
            write_canonical(&generic, &mut expected);

            let mut got = String::new();
            Encoded::new(&event).canonical_at(seq, &prev, &mut got);
            assert_eq!(got, expected);
        }
    }

    fn bare_with_request_id() -> AuditEvent {
        AuditEvent::new("tool_call", Severity::Medium, "x", "error").with_request_id("r")
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
