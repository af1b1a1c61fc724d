//! Prometheus metrics of the gateway.
//!
//! Counters and histograms are recorded as calls happen (atomic adds);
//! connection state and the tool-index size are read when someone scrapes,
//! from what the gateway already keeps, so they cost nothing in between.
//!
//! Label values are upstream and tool names of approved tools only: a caller
//! naming a tool that does not exist is refused before anything is counted,
//! so no caller can grow the label set.

use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::Gateway;

/// 0.25 ms to about 8 s, the same buckets as the pipeline's.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ToolLabels {
    pub upstream: String,
    pub tool: String,
}

/// Why an upstream call did not give a normal result.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // label values are snake_case on the wire
pub(crate) enum ErrorKind {
    /// The tool answered with `isError: true`.
    tool_error,
    /// No answer: transport failure, timeout, or a JSON-RPC error.
    failed,
    /// The caller cancelled.
    cancelled,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    upstream: String,
    tool: String,
    kind: ErrorKind,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RedactionLabels {
    upstream: String,
    tool: String,
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabel {
    upstream: String,
}

/// What the gateway counts as it works.
#[derive(Debug, Clone)]
pub(crate) struct GatewayMetrics {
    calls: Family<ToolLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: Family<ToolLabels, Histogram, fn() -> Histogram>,
    redactions: Family<RedactionLabels, Counter>,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        GatewayMetrics {
            calls: Family::default(),
            errors: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            redactions: Family::default(),
        }
    }
}

impl GatewayMetrics {
    /// One call that reached the upstream, how long the round trip took and
    /// how it ended (`None`: a normal result).
    pub fn call(&self, labels: &ToolLabels, took: Duration, error: Option<ErrorKind>) {
        self.calls.get_or_create(labels).inc();
        self.duration
            .get_or_create(labels)
            .observe(took.as_secs_f64());
        if let Some(kind) = error {
            self.errors
                .get_or_create(&ErrorLabels {
                    upstream: labels.upstream.clone(),
                    tool: labels.tool.clone(),
                    kind,
                })
                .inc();
        }
    }

    /// Secrets of one detector rule replaced in one response.
    pub fn redacted(&self, labels: &ToolLabels, rule: &str, count: u64) {
        self.redactions
            .get_or_create(&RedactionLabels {
                upstream: labels.upstream.clone(),
                tool: labels.tool.clone(),
                rule: rule.to_owned(),
            })
            .inc_by(count);
    }
}

/// Reads connection state and index size at scrape time.
struct StateCollector(Gateway);

impl std::fmt::Debug for StateCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateCollector")
    }
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gateway = &self.0;
        let connected: Family<UpstreamLabel, Gauge> = Family::default();
        let breaker: Family<UpstreamLabel, Gauge> = Family::default();
        let callable: Family<UpstreamLabel, Gauge> = Family::default();
        for record in gateway.cached_records().values() {
            let label = UpstreamLabel {
                upstream: record.name.clone(),
            };
            let state = gateway.conn_state(&record.name);
            connected
                .get_or_create(&label)
                .set(i64::from(state.connected));
            breaker
                .get_or_create(&label)
                .set(i64::from(state.breaker_open_for_secs.is_some()));
            callable
                .get_or_create(&label)
                .set(record.callable().count() as i64);
        }
        let indexed: Gauge = Gauge::default();
        indexed.set(gateway.indexed_tools() as i64);
        for (name, help, family) in [
            (
                "bulwark_upstream_connected",
                "1 while bulwark holds a live connection to the upstream",
                &connected,
            ),
            (
                "bulwark_upstream_breaker_open",
                "1 while the upstream's circuit breaker makes calls fail fast",
                &breaker,
            ),
            (
                "bulwark_upstream_callable_tools",
                "Approved, unchanged tools of the upstream",
                &callable,
            ),
        ] {
            family.encode(encoder.encode_descriptor(name, help, None, family.metric_type())?)?;
        }
        indexed.encode(encoder.encode_descriptor(
            "bulwark_tool_index_tools",
            "Upstream tools in the retrieve_tools search index",
            None,
            indexed.metric_type(),
        )?)?;
        Ok(())
    }
}

/// Add the gateway's metrics to `registry`.
pub(crate) fn register(gateway: &Gateway, registry: &mut Registry) {
    let m = &gateway.inner.metrics;
    registry.register(
        "bulwark_upstream_calls",
        "Calls of approved upstream tools that reached the upstream",
        m.calls.clone(),
    );
    registry.register(
        "bulwark_upstream_call_errors",
        "Upstream calls that ended in an error, by kind (tool_error: isError result; failed: no answer, timeout or JSON-RPC error; cancelled)",
        m.errors.clone(),
    );
    registry.register(
        "bulwark_upstream_call_duration_seconds",
        "Round trip of tools/call to the upstream (connecting and listing not included)",
        m.duration.clone(),
    );
    registry.register(
        "bulwark_upstream_redactions",
        "Secrets replaced by [REDACTED:rule] in upstream responses, by detector rule",
        m.redactions.clone(),
    );
    registry.register_collector(Box::new(StateCollector(gateway.clone())));
}
