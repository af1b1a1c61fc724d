//! The case file: what an investigation gathered, in the shapes the other
//! bulwark tools return, so an agent can paste their results in unchanged.
//!
//! Every section is optional. A section that holds a tool result may be given
//! as that tool's structured result (`extract_iocs`, `generate_timeline`,
//! `hunt_sigma`, `quick_triage`, `list_remediations`), as the whole MCP
//! `CallToolResult` (its `structuredContent` is used), or as the bare list.
//! Unknown fields inside tool results are ignored (tools grow fields); unknown
//! top-level fields are an error, since they are usually typos.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// Largest case file read.
pub const MAX_CASE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error(
        "the case is not valid JSON: {0}; check the file at that line and column (a trailing comma or an unquoted key are the usual causes)"
    )]
    Syntax(String),
    #[error("field `{field}`: {message}")]
    Field { field: String, message: String },
    #[error(
        "the case must be a JSON object with sections such as `findings`, `iocs`, `detections`; got {0}"
    )]
    NotObject(&'static str),
}

/// A whole case.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Report title (default: "Investigation report").
    #[serde(default)]
    pub title: Option<String>,
    /// Case or ticket number.
    #[serde(default)]
    pub case_id: Option<String>,
    #[serde(default)]
    pub analyst: Option<String>,
    /// When the case was opened (free text, RFC 3339 preferred).
    #[serde(default)]
    pub created: Option<String>,
    /// The analyst's summary; without one the report writes a summary from the counts.
    #[serde(default)]
    pub summary: Option<String>,
    /// Findings written by the analyst (or the agent).
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// A `generate_timeline` result, or a list of its events.
    #[serde(default)]
    pub timeline: Option<Timeline>,
    /// An `extract_iocs` result, or a list of its indicators.
    #[serde(default)]
    pub iocs: Option<Iocs>,
    /// A `hunt_sigma` result, or a list of its detections.
    #[serde(default)]
    pub detections: Option<Detections>,
    /// `quick_triage` results: one result or a list of them.
    #[serde(default)]
    pub triage: Vec<Triage>,
    /// A `list_remediations` result, or a list of its rows.
    #[serde(default)]
    pub remediations: Option<Remediations>,
    /// Recommendations of the analyst; the report adds ones drawn from the evidence.
    #[serde(default)]
    pub recommendations: Vec<String>,
}

/// One finding.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub title: String,
    /// critical, high, medium, low or info (default medium).
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Evidence: strings, or objects (shown as JSON).
    #[serde(default)]
    pub evidence: Vec<Value>,
    /// Host or endpoint concerned.
    #[serde(default)]
    pub host: Option<String>,
    /// ATT&CK technique ids or other tags.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub recommendation: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct Timeline {
    #[serde(default)]
    pub events: Vec<TimelineEvent>,
    /// Events that matched, when the tool returned fewer.
    #[serde(default)]
    pub matched: Option<u64>,
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct TimelineEvent {
    pub timestamp: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct Iocs {
    #[serde(default)]
    pub indicators: Vec<Indicator>,
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Indicator {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub defanged: Option<bool>,
    /// For custom patterns: the pattern's name.
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct Detections {
    #[serde(default)]
    pub detections: Vec<Detection>,
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Detection {
    pub title: String,
    #[serde(default)]
    pub rule_id: Option<String>,
    /// informational, low, medium, high or critical.
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub matched_fields: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Triage {
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub generated_at: Option<String>,
    #[serde(default)]
    pub host: Option<TriageHost>,
    #[serde(default)]
    pub summary: Option<TriageSummary>,
    #[serde(default)]
    pub items: Vec<TriageItem>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct TriageHost {
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub os_name: Option<String>,
    #[serde(default)]
    pub kernel_release: Option<String>,
    #[serde(default)]
    pub uptime_secs: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct TriageSummary {
    #[serde(default)]
    pub headline: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct TriageItem {
    pub title: String,
    pub score: u8,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub evidence: Vec<String>,
    #[serde(default)]
    pub pid: Option<i64>,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct Remediations {
    #[serde(default)]
    pub remediations: Vec<Remediation>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Remediation {
    #[serde(default)]
    pub id: Option<String>,
    pub at: String,
    pub action: String,
    #[serde(default)]
    pub sid: Option<String>,
    pub target: String,
    #[serde(default)]
    pub principal: Option<String>,
    pub status: String,
    #[serde(default)]
    pub undoes: Option<String>,
}

/// Sections that may be a bare list, and the key the tool result keeps it under.
const LISTS: &[(&str, &str)] = &[
    ("timeline", "events"),
    ("iocs", "indicators"),
    ("detections", "detections"),
    ("remediations", "remediations"),
];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An MCP `CallToolResult` stands for its structured content.
fn unwrap_result(v: &mut Value) {
    if let Value::Object(map) = v
        && let Some(inner) = map.get_mut("structuredContent")
    {
        *v = inner.take();
    }
}

/// Parse a case from JSON text.
pub fn parse(text: &str) -> Result<Case, CaseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| CaseError::Syntax(e.to_string()))?;
    from_value(value)
}

/// Parse a case from a JSON value; errors name the field as the caller wrote it.
pub fn from_value(mut value: Value) -> Result<Case, CaseError> {
    let Value::Object(map) = &mut value else {
        return Err(CaseError::NotObject(kind(&value)));
    };
    // (written path, path after wrapping) for error messages.
    let mut renamed: Vec<(String, String)> = Vec::new();
    for (section, key) in LISTS {
        if let Some(v) = map.get_mut(*section) {
            unwrap_result(v);
            if v.is_array() {
                let list = v.take();
                *v = serde_json::json!({ *key: list });
                renamed.push((format!("{section}.{key}"), section.to_string()));
            }
        }
    }
    if let Some(v) = map.get_mut("triage") {
        unwrap_result(v);
        if v.is_object() {
            let one = v.take();
            *v = Value::Array(vec![one]);
            renamed.push(("triage[0]".into(), "triage".into()));
        } else if let Value::Array(list) = v {
            list.iter_mut().for_each(unwrap_result);
        }
    }
    serde_path_to_error::deserialize::<_, Case>(value).map_err(|err| {
        let mut field = err.path().to_string();
        for (wrapped, written) in &renamed {
            if let Some(rest) = field.strip_prefix(wrapped.as_str()) {
                field = format!("{written}{rest}");
                break;
            }
        }
        let message = err.into_inner().to_string();
        if field == "." || field.is_empty() {
            // Unknown top-level fields land here with serde's list of known ones.
            CaseError::Field {
                field: "(top level)".into(),
                message,
            }
        } else {
            CaseError::Field { field, message }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_results_and_bare_lists_are_both_accepted() {
        let case = parse(
            r#"{
              "iocs": {"summary": {"files": 1}, "indicators": [{"type": "domain", "value": "evil.example", "count": 2, "offsets": []}]},
              "timeline": [{"timestamp": "2026-01-01T00:00:00Z", "source": "syslog", "message": "m", "fields": {}}],
              "detections": {"content": [], "structuredContent": {"detections": [{"title": "t", "level": "high", "kind": "detection", "file": "f", "matched_fields": {}}]}},
              "triage": {"kind": "quick_triage", "items": [{"rank": 1, "score": 75, "severity": "high", "category": "process", "title": "p", "evidence": ["e"]}]},
              "remediations": {"remediations": [{"id": "1", "at": "2026", "action": "kill_process", "sid": "local", "target": "42", "status": "done", "before": {}, "after": {}}]}
            }"#,
        )
        .unwrap();
        assert_eq!(case.iocs.unwrap().indicators[0].value, "evil.example");
        assert_eq!(case.timeline.unwrap().events.len(), 1);
        assert_eq!(case.detections.unwrap().detections[0].title, "t");
        assert_eq!(case.triage[0].items[0].score, 75);
        assert_eq!(case.remediations.unwrap().remediations[0].target, "42");
    }

    #[test]
    fn errors_name_the_field_as_written() {
        let err = parse(r#"{"detections": [{"level": "high"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("field `detections[0]`"), "{err}");
        assert!(err.contains("missing field `title`"), "{err}");
        let err = parse(r#"{"iocs": {"indicators": [{"type": "ipv4", "value": 7}]}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("field `iocs.indicators[0].value`"), "{err}");
        let err = parse(r#"{"triage": {"items": [{"title": "x", "score": 900}]}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("field `triage.items[0].score`"), "{err}");
        let err = parse(r#"{"findigns": []}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `findigns`"), "{err}");
        let err = parse("{\"title\": \"x\",}").unwrap_err().to_string();
        assert!(
            err.contains("not valid JSON") && err.contains("line 1"),
            "{err}"
        );
        let err = parse("[1]").unwrap_err().to_string();
        assert!(err.contains("got an array"), "{err}");
    }
}
