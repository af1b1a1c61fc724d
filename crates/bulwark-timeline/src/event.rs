//! The normalized event every source is turned into.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where an event came from (the parser that read it).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Evtx,
    Syslog,
    Journald,
    Auditd,
    ShellHistory,
    Bodyfile,
    Filesystem,
    Json,
}

impl Source {
    pub const ALL: &'static [Source] = &[
        Source::Evtx,
        Source::Syslog,
        Source::Journald,
        Source::Auditd,
        Source::ShellHistory,
        Source::Bodyfile,
        Source::Filesystem,
        Source::Json,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Evtx => "evtx",
            Source::Syslog => "syslog",
            Source::Journald => "journald",
            Source::Auditd => "auditd",
            Source::ShellHistory => "shell_history",
            Source::Bodyfile => "bodyfile",
            Source::Filesystem => "filesystem",
            Source::Json => "json",
        }
    }

    pub fn parse(text: &str) -> Option<Source> {
        let t = text.trim().to_ascii_lowercase().replace('-', "_");
        let t = match t.as_str() {
            "auth" | "auth.log" | "authlog" => "syslog",
            "journal" | "journalctl" => "journald",
            "audit" => "auditd",
            "history" | "bash_history" | "shell" => "shell_history",
            "fs" | "mactime" | "mac_times" => "filesystem",
            "jsonl" => "json",
            other => other,
        }
        .to_string();
        Source::ALL.iter().copied().find(|s| s.as_str() == t)
    }
}

/// One event on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// UTC, RFC 3339 with microseconds when the source has them.
    #[serde(with = "ts")]
    #[schemars(with = "String")]
    pub timestamp: i64,
    pub source: Source,
    /// The input file the event was read from.
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host: Option<String>,
    /// Per source: `Security/4624` (EVTX), the program (`sshd`), the audit
    /// record type (`EXECVE`), `command`, or a MAC-time letter set (`m.c.`).
    pub event_type: String,
    /// What the timestamp means, for Timesketch (`Event Recorded`, `Modification Time` ...).
    pub timestamp_desc: String,
    pub message: String,
    /// The source's own fields, as read.
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub fields: Map<String, Value>,
}

/// Nanoseconds since the Unix epoch → `DateTime<Utc>`.
pub fn to_datetime(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

/// RFC 3339 in UTC (`2024-05-01T10:00:00.123456Z`); whole seconds without a fraction.
pub fn format_ts(nanos: i64) -> String {
    let dt = to_datetime(nanos);
    if nanos.rem_euclid(1_000_000_000) == 0 {
        dt.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else if nanos.rem_euclid(1_000) == 0 {
        dt.to_rfc3339_opts(SecondsFormat::Micros, true)
    } else {
        dt.to_rfc3339_opts(SecondsFormat::Nanos, true)
    }
}

/// Parse a timestamp given by a user or found in JSON: RFC 3339 (a missing
/// zone means UTC), a date alone, or epoch seconds / milliseconds /
/// microseconds / nanoseconds by magnitude.
pub fn parse_time(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(n) = t.parse::<f64>() {
        return epoch_to_nanos(n);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return dt.timestamp_nanos_opt();
    }
    let with_t = t.replacen(' ', "T", 1);
    if let Ok(dt) = DateTime::parse_from_rfc3339(&with_t) {
        return dt.timestamp_nanos_opt();
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(dt) = DateTime::parse_from_str(&with_t, f) {
            return dt.timestamp_nanos_opt();
        }
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(with_t.trim_end_matches('Z'), f) {
            return n.and_utc().timestamp_nanos_opt();
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt();
    }
    None
}

/// Epoch seconds, milliseconds, microseconds or nanoseconds, told apart by
/// magnitude (valid for dates between 1973 and 2262).
pub fn epoch_to_nanos(n: f64) -> Option<i64> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let nanos = if n < 1e11 {
        n * 1e9
    } else if n < 1e14 {
        n * 1e6
    } else if n < 1e17 {
        n * 1e3
    } else {
        n
    };
    (nanos < 9.2e18).then_some(nanos as i64)
}

mod ts {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(nanos: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_ts(*nanos))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_time(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a timestamp: {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let n = parse_time("2024-05-01T10:00:00.123456Z").unwrap();
        assert_eq!(format_ts(n), "2024-05-01T10:00:00.123456Z");
        assert_eq!(
            parse_time("2024-05-01T12:00:00+02:00"),
            parse_time("2024-05-01T10:00:00Z")
        );
        assert_eq!(
            parse_time("2024-05-01 10:00:00"),
            parse_time("2024-05-01T10:00:00Z")
        );
        assert_eq!(parse_time("1714557600"), parse_time("2024-05-01T10:00:00Z"));
        assert_eq!(
            parse_time("1714557600000"),
            parse_time("2024-05-01T10:00:00Z")
        );
        assert_eq!(parse_time("2024-05-01"), parse_time("2024-05-01T00:00:00Z"));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("-5"), None);
    }
}
