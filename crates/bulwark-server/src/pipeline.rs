//! The one call pipeline every transport runs: each step is a tower layer.
//!
//! ```text
//! in-flight tracking → audit → deadline → result shaping → tool handler
//! ```
//!
//! stdio, Streamable HTTP and `bulwark tools call` all build their calls into a
//! [`CallRequest`] and send it through [`Pipeline`]. Authentication,
//! authorization and rate limiting slot in as further layers in front.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bulwark_core::{CallContext, Content, JsonObject, ToolDef, ToolError, ToolOutput};

use crate::limits::{CallerKey, RateLimits, Verdict};
use crate::metrics::{CallStatus, ToolMetrics};
use tokio::sync::Notify;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

/// One tool call on its way through the pipeline.
pub struct CallRequest {
    pub ctx: CallContext,
    pub tool: ToolDef,
    pub args: JsonObject,
}

type BoxFut = Pin<Box<dyn Future<Output = Result<ToolOutput, ToolError>> + Send>>;

/// Settings of the pipeline's own layers.
#[derive(Clone)]
pub struct PipelineOptions {
    /// Where every call is recorded; `None` leaves only the `bulwark::audit` log line.
    pub audit: Option<bulwark_audit::AuditLog>,
    /// Per-tool call budgets (and the HTTP request budget the transport applies).
    pub limits: Arc<RateLimits>,
    /// Longest a call may run before it is abandoned with an error.
    pub call_timeout: Duration,
    /// Text content beyond this many bytes is cut, with a note saying so.
    pub max_result_bytes: usize,
    /// Per-tool call counts and latencies for `/metrics`.
    pub metrics: Option<ToolMetrics>,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            audit: None,
            limits: Arc::default(),
            call_timeout: Duration::from_secs(120),
            max_result_bytes: 8 * 1024 * 1024,
            metrics: None,
        }
    }
}

/// The assembled call pipeline. Cheap to clone; clones share in-flight tracking.
#[derive(Clone)]
pub struct Pipeline {
    service: BoxCloneSyncService<CallRequest, ToolOutput, ToolError>,
    in_flight: InFlight,
}

impl Pipeline {
    pub fn new(options: PipelineOptions) -> Self {
        let in_flight = InFlight::default();
        let service = ServiceBuilder::new()
            .layer(StepLayer(InFlightStep(in_flight.clone())))
            .layer(StepLayer(AuditStep {
                log: options.audit.clone(),
                metrics: options.metrics.clone(),
            }))
            .layer(StepLayer(AuthorizeStep))
            .layer(StepLayer(RateLimitStep(options.limits.clone())))
            .layer(StepLayer(DeadlineStep(options.call_timeout)))
            .layer(StepLayer(ShapeStep(options.max_result_bytes)))
            .service(HandlerService);
        Pipeline {
            service: BoxCloneSyncService::new(service),
            in_flight,
        }
    }

    /// Run one call to completion. Tool failures become `isError` results, so
    /// the caller always gets a result to show; a missing client capability and
    /// a rate limit stay errors: they are protocol errors in MCP.
    pub async fn call(&self, request: CallRequest) -> Result<ToolOutput, ToolError> {
        match self.service.clone().oneshot(request).await {
            Ok(output) => Ok(output),
            Err(err @ (ToolError::MissingCapability(_) | ToolError::RateLimited { .. })) => {
                Err(err)
            }
            Err(err) => Ok(ToolOutput::error(err.to_string())),
        }
    }

    /// Calls running right now.
    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }
}

/// Counts calls in progress so shutdown can wait for them.
#[derive(Clone, Default)]
pub struct InFlight(Arc<(AtomicUsize, Notify)>);

impl InFlight {
    pub fn count(&self) -> usize {
        self.0.0.load(Ordering::Acquire)
    }

    /// Wait until no call is running (or return at once if none is).
    pub async fn drained(&self) {
        loop {
            let notified = self.0.1.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Count one more unit of work until the returned guard is dropped.
    pub fn enter(&self) -> InFlightGuard {
        self.0.0.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.clone())
    }
}

/// Keeps one unit of work counted in an [`InFlight`] while it lives.
pub struct InFlightGuard(InFlight);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.0.0.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.0.1.notify_waiters();
        }
    }
}

/// One step of the pipeline. It sees the call and decides whether and how to
/// run the rest of the pipeline (`next`); written once here, a step becomes a
/// tower layer through [`StepLayer`].
trait Step: Clone + Send + Sync + 'static {
    fn run(&self, request: CallRequest, next: Next) -> BoxFut;
}

/// The rest of the pipeline, to be run at most once.
struct Next(Box<dyn FnOnce(CallRequest) -> BoxFut + Send>);

impl Next {
    fn run(self, request: CallRequest) -> BoxFut {
        (self.0)(request)
    }
}

/// A [`Step`] as a tower layer.
#[derive(Clone)]
struct StepLayer<T>(T);

impl<T: Step, S> Layer<S> for StepLayer<T> {
    type Service = StepService<T, S>;
    fn layer(&self, inner: S) -> Self::Service {
        StepService {
            step: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
struct StepService<T, S> {
    step: T,
    inner: S,
}

impl<T, S> Service<CallRequest> for StepService<T, S>
where
    T: Step,
    S: Service<CallRequest, Response = ToolOutput, Error = ToolError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = ToolOutput;
    type Error = ToolError;
    type Future = BoxFut;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ToolError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: CallRequest) -> BoxFut {
        // Hand the service that was polled ready to the step, keep a fresh clone
        // (the usual tower idiom for services that are called after an await).
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let next = Next(Box::new(move |request| Box::pin(ready.call(request))));
        self.step.run(request, next)
    }
}

/// Counts the call as in flight until it finishes, for graceful shutdown.
#[derive(Clone)]
struct InFlightStep(InFlight);

impl Step for InFlightStep {
    fn run(&self, request: CallRequest, next: Next) -> BoxFut {
        let guard = self.0.enter();
        Box::pin(async move {
            let result = next.run(request).await;
            drop(guard);
            result
        })
    }
}

/// Records every call with its severity, outcome and duration: one
/// `bulwark::audit` log line, and one record in the tamper-evident audit log
/// when there is one. The record is written (and, by default, fsynced) before
/// the caller gets the result, so an answered call is never missing from it.
/// Arguments are recorded as a SHA-256 digest unless `audit.include_params`.
/// The same step counts the call in the metrics, when there are any.
#[derive(Clone)]
struct AuditStep {
    log: Option<bulwark_audit::AuditLog>,
    metrics: Option<ToolMetrics>,
}

enum RecordedArgs {
    Raw(serde_json::Value),
    Digest(String),
}

impl Step for AuditStep {
    fn run(&self, request: CallRequest, next: Next) -> BoxFut {
        let tool = request.tool.name.clone();
        let severity = request.tool.severity;
        let ctx = request.ctx.clone();
        // Only pay for the arguments' copy when the log keeps them; otherwise
        // their digest is all it needs.
        let args = self.log.as_ref().map(|log| {
            if log.keeps_args() {
                RecordedArgs::Raw(serde_json::Value::Object(request.args.clone()))
            } else {
                RecordedArgs::Digest(bulwark_audit::args_object_digest(&request.args))
            }
        });
        let log = self.log.clone();
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let fut = next.run(request);
        Box::pin(async move {
            let result = fut.await;
            let status = match &result {
                Ok(ToolOutput::Done { is_error: true, .. }) | Err(_) => "error",
                Ok(ToolOutput::InputRequired { .. }) => "input_required",
                Ok(_) => "ok",
            };
            let took = started.elapsed();
            let duration_ms = took.as_millis() as u64;
            if let Some(metrics) = &metrics {
                let status = match status {
                    "ok" => CallStatus::ok,
                    "input_required" => CallStatus::input_required,
                    _ => CallStatus::error,
                };
                metrics.record(tool.clone(), status, took);
            }
            // One line per call on stderr, unless the audit log holds the call:
            // then that record is the trace, and the line drops to debug
            // rather than paying for the same fact twice (`audit.stderr`
            // prints the records themselves, LimaCharlie style).
            macro_rules! call_line {
                ($level:ident) => {
                    tracing::$level!(
                        target: "bulwark::audit",
                        tool = %tool,
                        severity = %severity,
                        status,
                        request_id = %ctx.request_id,
                        profile = %ctx.profile,
                        principal = ctx.principal.as_deref().unwrap_or("-"),
                        duration_ms,
                        "tool call"
                    )
                };
            }
            if log.is_some() {
                call_line!(debug);
            } else {
                call_line!(info);
            }
            if let (Some(log), Some(args)) = (log, args) {
                let outcome = match status {
                    "ok" => "success",
                    other => other,
                };
                let mut event =
                    bulwark_audit::AuditEvent::new("tool_call", severity, tool.as_ref(), outcome)
                        .with_request_id(ctx.request_id.clone())
                        .with_duration_ms(duration_ms);
                event = match args {
                    RecordedArgs::Raw(args) => event.with_args(args),
                    RecordedArgs::Digest(digest) => event.with_args_digest(digest),
                };
                if let Some(user) = &ctx.principal {
                    event = event.with_user(user.clone());
                }
                if let Some(tenant) = &ctx.tenant {
                    event = event.with_tenant(tenant.clone());
                }
                if let Some(addr) = ctx.client_addr {
                    event = event.with_source_ip(addr.ip().to_string());
                }
                if let Some(client_id) = &ctx.client_id {
                    event = event.with_client_id(client_id.clone());
                }
                if let Some(agent) = &ctx.user_agent {
                    event = event.with_user_agent(agent.clone());
                }
                if let Err(err) = &result {
                    event = event.with_detail(err.to_string());
                }
                if let Err(err) = log.record(event).await {
                    // The call already ran; say loudly that its record is missing.
                    tracing::error!(tool = %tool, "audit record not written: {err}");
                }
            }
            result
        })
    }
}

/// Checks what the tool itself demands of the caller: a tool annotated
/// destructive needs the `tools:destructive` scope.
#[derive(Clone)]
struct AuthorizeStep;

impl Step for AuthorizeStep {
    fn run(&self, request: CallRequest, next: Next) -> BoxFut {
        if request.tool.hints.destructive && !request.ctx.has_scope("tools:destructive") {
            return Box::pin(std::future::ready(Err(ToolError::Forbidden(
                "tools:destructive".into(),
            ))));
        }
        next.run(request)
    }
}

/// Per-tool budgets, keyed by principal, else client address, else `local`.
#[derive(Clone)]
struct RateLimitStep(Arc<RateLimits>);

impl Step for RateLimitStep {
    fn run(&self, request: CallRequest, next: Next) -> BoxFut {
        if !self.0.tools.contains_key(request.tool.name.as_ref()) {
            return next.run(request);
        }
        let limits = self.0.clone();
        Box::pin(async move {
            let key = caller_key(&request.ctx);
            if let Some(Verdict::Limited { retry_after, .. }) =
                limits.check_tool(&request.tool.name, &key).await
            {
                return Err(ToolError::RateLimited {
                    scope: request.tool.name.to_string(),
                    retry_after_secs: retry_after.as_secs().max(1),
                });
            }
            next.run(request).await
        })
    }
}

/// Whom a budget belongs to: the principal, else the client address.
pub fn caller_key(ctx: &CallContext) -> CallerKey {
    match (&ctx.principal, ctx.client_addr) {
        (Some(principal), _) => CallerKey::Principal(principal.clone()),
        (None, Some(addr)) => CallerKey::Ip(addr.ip()),
        (None, None) => CallerKey::Local,
    }
}

/// Bounds a call by the server's timeout and the context's own deadline, and
/// stops it when the client cancels.
#[derive(Clone)]
struct DeadlineStep(Duration);

impl Step for DeadlineStep {
    fn run(&self, request: CallRequest, next: Next) -> BoxFut {
        let mut budget = self.0;
        if let Some(deadline) = request.ctx.deadline {
            budget = budget.min(deadline.saturating_duration_since(Instant::now()));
        }
        let cancel = request.ctx.cancel.clone();
        let fut = next.run(request);
        Box::pin(async move {
            tokio::select! {
                result = tokio::time::timeout(budget, fut) => {
                    result.unwrap_or(Err(ToolError::TimedOut(budget.as_secs().max(1))))
                }
                _ = cancel.cancelled() => Err(ToolError::Cancelled),
            }
        })
    }
}

/// Keeps results within what a client can take: oversized text is cut at a
/// character boundary with a note that says how much was dropped.
#[derive(Clone)]
struct ShapeStep(usize);

impl Step for ShapeStep {
    fn run(&self, request: CallRequest, next: Next) -> BoxFut {
        let max = self.0;
        let fut = next.run(request);
        Box::pin(async move {
            let mut output = fut.await?;
            if let ToolOutput::Done { content, .. } = &mut output {
                for block in content.iter_mut() {
                    if let Content::Text(text) = block {
                        truncate_text(text, max);
                    }
                }
            }
            Ok(output)
        })
    }
}

fn truncate_text(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = text.len() - cut;
    text.truncate(cut);
    text.push_str(&format!(
        "\n[bulwark: result cut here, {dropped} more bytes dropped; narrow the request to see the rest]"
    ));
}

/// The innermost service: run the tool's handler.
#[derive(Clone)]
struct HandlerService;

impl Service<CallRequest> for HandlerService {
    type Response = ToolOutput;
    type Error = ToolError;
    type Future = BoxFut;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ToolError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: CallRequest) -> BoxFut {
        request.tool.handler.call(request.ctx, request.args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_core::ToolDef;

    fn tool_sleeping(ms: u64) -> ToolDef {
        ToolDef::new("sleepy", "sleeps").raw_handler(
            move |_c: CallContext, _a: JsonObject| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(ToolOutput::text("done"))
            },
        )
    }

    fn request(tool: ToolDef) -> CallRequest {
        CallRequest {
            ctx: CallContext::in_process("all"),
            tool,
            args: JsonObject::new(),
        }
    }

    #[tokio::test]
    async fn slow_calls_time_out_with_an_error_result() {
        let pipeline = Pipeline::new(PipelineOptions {
            call_timeout: Duration::from_millis(20),
            ..Default::default()
        });
        let out = pipeline.call(request(tool_sleeping(2_000))).await.unwrap();
        assert!(out.is_error());
        let ToolOutput::Done { content, .. } = out else {
            panic!()
        };
        assert!(matches!(&content[0], Content::Text(t) if t.contains("did not finish")));
        assert_eq!(pipeline.in_flight().count(), 0);
    }

    #[tokio::test]
    async fn per_tool_limits_stop_the_excess_with_a_retry_time() {
        let limits = RateLimits::new(
            0,
            &std::collections::HashMap::from([("sleepy".to_string(), 2)]),
        );
        let pipeline = Pipeline::new(PipelineOptions {
            limits,
            ..Default::default()
        });
        for _ in 0..2 {
            assert!(pipeline.call(request(tool_sleeping(0))).await.is_ok());
        }
        let err = pipeline.call(request(tool_sleeping(0))).await.unwrap_err();
        assert!(
            matches!(err, ToolError::RateLimited { retry_after_secs, .. } if (1..=30).contains(&retry_after_secs)),
            "{err}"
        );
        // A different caller has its own budget.
        let mut other = request(tool_sleeping(0));
        other.ctx.principal = Some("someone-else".into());
        assert!(pipeline.call(other).await.is_ok());
    }

    #[tokio::test]
    async fn destructive_tools_need_their_scope() {
        let pipeline = Pipeline::new(PipelineOptions::default());
        let tool = ToolDef::new("wipe", "destroys")
            .destructive()
            .raw_handler(|_c: CallContext, _a: JsonObject| async { Ok(ToolOutput::text("gone")) });
        let mut req = request(tool.clone());
        req.ctx.scopes = Some(vec!["mcp".to_string()].into());
        let out = pipeline.call(req).await.unwrap();
        let ToolOutput::Done {
            content, is_error, ..
        } = out
        else {
            panic!()
        };
        assert!(is_error);
        assert!(matches!(&content[0], Content::Text(t) if t.contains("tools:destructive")));

        let mut req = request(tool.clone());
        req.ctx.scopes = Some(vec!["mcp".to_string(), "tools:destructive".to_string()].into());
        assert_eq!(pipeline.call(req).await.unwrap(), ToolOutput::text("gone"));
        // Authentication off: no scopes to check.
        assert_eq!(
            pipeline.call(request(tool)).await.unwrap(),
            ToolOutput::text("gone")
        );
    }

    #[tokio::test]
    async fn cancelled_calls_stop() {
        let pipeline = Pipeline::new(PipelineOptions::default());
        let req = request(tool_sleeping(10_000));
        let cancel = req.ctx.cancel.clone();
        let handle = tokio::spawn({
            let p = pipeline.clone();
            async move { p.call(req).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(pipeline.in_flight().count(), 1);
        cancel.cancel();
        let out = handle.await.unwrap().unwrap();
        assert_eq!(out, ToolOutput::error("the call was cancelled"));
        pipeline.in_flight().drained().await;
    }

    #[tokio::test]
    async fn oversized_text_is_cut_on_a_char_boundary() {
        let pipeline = Pipeline::new(PipelineOptions {
            max_result_bytes: 5,
            ..Default::default()
        });
        let tool =
            ToolDef::new("big", "big").raw_handler(|_c: CallContext, _a: JsonObject| async {
                Ok(ToolOutput::text("ééééé"))
            });
        let ToolOutput::Done { content, .. } = pipeline.call(request(tool)).await.unwrap() else {
            panic!()
        };
        let Content::Text(text) = &content[0] else {
            panic!()
        };
        assert!(
            text.starts_with("éé\n[bulwark: result cut here, 6 more bytes"),
            "{text}"
        );
    }
}
