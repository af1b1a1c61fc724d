//! What every live tool shares: the `sid` check, budgets and the limits they
//! report, blocking work off the async runtime, and result rendering.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bulwark_core::{CallContext, Content, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::Limits;

/// Fail unless `sid` names this host.
pub fn local_only(sid: &str) -> Result<(), ToolError> {
    crate::sensors::endpoint(sid).map(|_| ())
}

/// A limit that cut a result short.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct LimitHit {
    /// `max_rows`, `max_result_bytes`, `max_file_bytes`, `max_region_bytes`,
    /// `max_secs`, `max_depth` (the `[live]` configuration keys) or `matches_per_process`.
    pub limit: String,
    /// The configured value of that limit.
    pub value: u64,
    /// What was left out because of it.
    pub effect: String,
}

/// Rows, bytes and time one call may spend, plus the client's cancellation.
#[derive(Clone)]
pub struct Budget {
    pub limits: Limits,
    started: Instant,
    deadline: Instant,
    cancel: CancellationToken,
    pub hits: Vec<LimitHit>,
}

impl Budget {
    pub fn new(limits: Limits, ctx: &CallContext) -> Self {
        let started = Instant::now();
        let mut deadline = started + limits.max_duration;
        if let Some(d) = ctx.deadline {
            deadline = deadline.min(d);
        }
        Budget {
            limits,
            started,
            deadline,
            cancel: ctx.cancel.clone(),
            hits: Vec::new(),
        }
    }

    #[cfg(test)]
    pub fn for_tests(limits: Limits) -> Self {
        Budget::new(limits, &CallContext::in_process("test"))
    }

    /// True once time is up or the call was cancelled; records the time limit once.
    pub fn out_of_time(&mut self) -> bool {
        if self.cancel.is_cancelled() {
            return true;
        }
        if Instant::now() >= self.deadline {
            let secs = self.limits.max_duration.as_secs();
            self.hit(
                "max_secs",
                secs,
                "collection stopped early; later items are missing",
            );
            return true;
        }
        false
    }

    /// Whether time is up, without recording anything (for worker threads).
    pub fn expired(&self) -> bool {
        self.cancel.is_cancelled() || Instant::now() >= self.deadline
    }

    /// True when `rows` already fills the row limit; records it once.
    pub fn rows_full(&mut self, rows: usize) -> bool {
        if rows >= self.limits.max_rows {
            let max = self.limits.max_rows as u64;
            self.hit("max_rows", max, "more rows exist than the result holds");
            return true;
        }
        false
    }

    pub fn hit(&mut self, limit: &str, value: u64, effect: &str) {
        if !self.hits.iter().any(|h| h.limit == limit) {
            self.hits.push(LimitHit {
                limit: limit.into(),
                value,
                effect: effect.into(),
            });
        }
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// Run blocking collection on the blocking pool.
pub async fn blocking<T, F>(f: F) -> Result<T, ToolError>
where
    F: FnOnce() -> Result<T, ToolError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ToolError::failed(format!("the collector stopped unexpectedly: {e}")))?
}

/// Structured content plus a readable text rendering of it.
pub fn render<T: Serialize>(value: &T, text: String) -> Result<ToolOutput, ToolError> {
    let structured = serde_json::to_value(value)
        .map_err(|e| ToolError::failed(format!("cannot encode the result: {e}")))?;
    Ok(ToolOutput::Done {
        content: vec![Content::Text(text)],
        structured: Some(structured),
        is_error: false,
    })
}

/// Lines naming the limits that were hit, for text renderings.
pub fn limits_text(hits: &[LimitHit]) -> String {
    hits.iter()
        .map(|h| format!("\nlimit {} = {} reached: {}", h.limit, h.value, h.effect))
        .collect()
}

/// RFC 3339 UTC timestamp of seconds since the epoch.
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

pub fn system_time_rfc3339(t: SystemTime) -> String {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => rfc3339(d.as_secs() as i64),
        Err(_) => rfc3339(
            -(UNIX_EPOCH
                .duration_since(t)
                .unwrap_or(Duration::ZERO)
                .as_secs() as i64),
        ),
    }
}

pub fn now_rfc3339() -> String {
    system_time_rfc3339(SystemTime::now())
}

/// Classify an I/O error as the per-item status the results carry.
pub fn io_status(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::PermissionDenied => "permission_denied".into(),
        std::io::ErrorKind::NotFound => "not_found".into(),
        _ => format!("error: {err}"),
    }
}

pub fn proc_status(err: &procfs::ProcError) -> String {
    match err {
        procfs::ProcError::PermissionDenied(_) => "permission_denied".into(),
        procfs::ProcError::NotFound(_) => "not_found".into(),
        other => format!("error: {other}"),
    }
}

/// Owner names by uid from /etc/passwd, read once per call.
pub fn user_names() -> std::collections::HashMap<u32, String> {
    let mut map = std::collections::HashMap::new();
    if let Ok(text) = std::fs::read_to_string("/etc/passwd") {
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 3
                && let Ok(uid) = f[2].parse::<u32>()
            {
                map.entry(uid).or_insert_with(|| f[0].to_string());
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn rows_limit_is_recorded_once() {
        let mut b = Budget::for_tests(Limits {
            max_rows: 2,
            ..Limits::default()
        });
        assert!(!b.rows_full(1));
        assert!(b.rows_full(2));
        assert!(b.rows_full(3));
        assert_eq!(b.hits.len(), 1);
        assert_eq!(b.hits[0].limit, "max_rows");
    }
}
