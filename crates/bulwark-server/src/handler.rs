//! The MCP face of a profile: an rmcp `ServerHandler` that lists what the
//! profile holds and sends every call through the pipeline.

// MCP logging is deprecated for 2026-07-28 (SEP-2577) but 2025-11-25 clients,
// the ones most deployed, still use `logging/setLevel` and log notifications.
#![allow(deprecated)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use bulwark_core::{
    CallContext, ClientCaps, ClientChannel, InputState, LogLevel, Profile, ProtocolEra, ToolError,
    ToolOutput,
};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, DiscoverResult,
    GetPromptRequestParams, GetPromptResponse, Implementation, InitializeResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, LoggingLevel,
    PaginatedRequestParams, ProgressToken, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, RequestStateCodec, ServerCapabilities, SetLevelRequestParams,
    SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::convert;
use crate::pipeline::{CallRequest, Pipeline};

/// What every MCP endpoint of one server shares.
pub struct ServerCore {
    pub pipeline: Pipeline,
    /// Seals `requestState` so a stateless client cannot forge or alter it.
    codec: RequestStateCodec,
    name: String,
    version: String,
    instructions: Option<String>,
}

impl ServerCore {
    pub fn new(pipeline: Pipeline, instructions: Option<String>) -> Self {
        // A fresh key per process: state only has to survive one client's retry.
        let key: Vec<u8> = (0..2)
            .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
            .collect();
        ServerCore {
            pipeline,
            codec: RequestStateCodec::try_new(key).expect("a 32-byte key is long enough"),
            name: "bulwark".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            instructions,
        }
    }
}

/// A profile's lists, converted once to MCP form.
pub struct ProfileEndpoint {
    pub profile: Arc<Profile>,
    tools: ListToolsResult,
    resources: ListResourcesResult,
    templates: ListResourceTemplatesResult,
    prompts: ListPromptsResult,
}

impl ProfileEndpoint {
    pub fn new(profile: Arc<Profile>) -> Self {
        ProfileEndpoint {
            tools: ListToolsResult::with_all_items(
                profile.tools.iter().map(convert::tool).collect(),
            ),
            resources: ListResourcesResult::with_all_items(
                profile.resources.iter().map(convert::resource).collect(),
            ),
            templates: ListResourceTemplatesResult::with_all_items(
                profile
                    .templates
                    .iter()
                    .map(convert::resource_template)
                    .collect(),
            ),
            prompts: ListPromptsResult::with_all_items(
                profile.prompts.iter().map(convert::prompt).collect(),
            ),
            profile,
        }
    }
}

/// Log threshold meaning "send no log lines".
const SILENT: u8 = u8::MAX;

/// Per-session state (one per `initialize`, or per request when stateless).
#[derive(Default)]
struct SessionState {
    /// Lowest log level the client wants, as `LogLevel as u8 + 1`; 0 means all.
    log_level: Arc<AtomicU8>,
    subscriptions: Mutex<BTreeSet<String>>,
}

impl SessionState {
    fn clone_level(&self) -> Arc<AtomicU8> {
        self.log_level.clone()
    }
}

/// The rmcp handler for one profile.
#[derive(Clone)]
pub struct McpServer {
    core: Arc<ServerCore>,
    endpoint: Arc<ProfileEndpoint>,
    session: Arc<SessionState>,
}

impl McpServer {
    pub fn new(core: Arc<ServerCore>, endpoint: Arc<ProfileEndpoint>) -> Self {
        McpServer {
            core,
            endpoint,
            session: Arc::default(),
        }
    }

    fn context(
        &self,
        rc: &RequestContext<RoleServer>,
        progress: Option<ProgressToken>,
    ) -> CallContext {
        let era = if is_stateless(rc) {
            ProtocolEra::Stateless
        } else {
            ProtocolEra::Session
        };
        let parts = rc.extensions.get::<http::request::Parts>();
        let client_addr = parts
            .and_then(|parts| {
                parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<SocketAddr>>()
            })
            .map(|info| info.0);
        let principal = parts.and_then(|parts| parts.extensions.get::<crate::auth::Principal>());
        let mut ctx = CallContext::in_process(self.endpoint.profile.name.as_str());
        ctx.era = era;
        if let Some(principal) = principal {
            ctx.principal = Some(principal.id.clone());
            ctx.tenant = principal.tenant.clone();
            ctx.scopes = Some(principal.scopes.clone().into());
            ctx.client_id = principal.client_id.clone();
        }
        ctx.user_agent = parts
            .and_then(|p| p.headers.get(http::header::USER_AGENT))
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect());
        if era == ProtocolEra::Session {
            ctx.session_id = parts
                .and_then(|p| p.headers.get("mcp-session-id"))
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(128).collect());
        }
        if let Some(tenant) = parts.and_then(|p| p.extensions.get::<crate::auth::TenantContext>()) {
            ctx.tenant = Some(tenant.tenant.clone());
            ctx.credentials = Some(tenant.credentials.clone());
        }
        if let Some(caps) = rc.client_capabilities() {
            ctx.client_caps = ClientCaps {
                sampling: caps.sampling.is_some(),
                elicitation: caps.elicitation.is_some(),
                roots: caps.roots.is_some(),
            };
        }
        ctx.progress_token = progress.as_ref().map(|t| match serde_json::to_value(t) {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(_) => String::new(),
        });
        // Stateless requests carry their own log level; without one, a tool's
        // log lines stay on the server (SEP-2575). Sessions use logging/setLevel.
        let log_level = match era {
            ProtocolEra::Stateless => match rc.meta.log_level() {
                Some(level) => Arc::new(AtomicU8::new(from_mcp_level(level) as u8 + 1)),
                None => Arc::new(AtomicU8::new(SILENT)),
            },
            _ => self.session.clone_level(),
        };
        ctx.client_addr = client_addr;
        ctx.cancel = rc.ct.clone();
        ctx.channel = Some(Arc::new(PeerChannel {
            peer: rc.peer.clone(),
            progress,
            log_level,
        }));
        ctx
    }

    /// Open the sealed state a stateless client sent back. A forged or altered
    /// state is a protocol error: the client must start the call over.
    fn input_state(
        &self,
        responses: Option<BTreeMap<String, Value>>,
        sealed: Option<String>,
        bound_to: &str,
    ) -> Result<Option<InputState>, McpError> {
        if responses.is_none() && sealed.is_none() {
            return Ok(None);
        }
        let state = match sealed {
            Some(sealed) => {
                let opened = self
                    .core
                    .codec
                    .open_with(&sealed, bound_to.as_bytes())
                    .map_err(|e| {
                        McpError::invalid_params(
                            format!("requestState was altered or has expired ({e}); retry the call without inputResponses and requestState"),
                            None,
                        )
                    })?;
                Some(String::from_utf8_lossy(&opened).into_owned())
            }
            None => None,
        };
        Ok(Some(InputState {
            responses: responses.unwrap_or_default().into_iter().collect(),
            state,
        }))
    }

    fn seal(&self, state: Option<String>, bound_to: &str) -> String {
        let payload = state.unwrap_or_default();
        self.core.codec.seal_with(
            payload.as_bytes(),
            &rmcp::model::SealOptions::new()
                .associated_data(bound_to.as_bytes())
                .ttl(std::time::Duration::from_secs(600)),
        )
    }

    fn input_required(
        &self,
        requests: serde_json::Map<String, Value>,
        state: Option<String>,
        bound_to: &str,
    ) -> Value {
        json!({
            "resultType": "input_required",
            "inputRequests": requests,
            "requestState": self.seal(state, bound_to),
        })
    }
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, McpError> {
    serde_json::from_value(value).map_err(|e| {
        McpError::internal_error(format!("bulwark built an invalid result: {e}"), None)
    })
}

fn tool_error_to_mcp(err: ToolError) -> McpError {
    match err {
        ToolError::InvalidArguments(m) => McpError::invalid_params(m, None),
        ToolError::RateLimited {
            retry_after_secs, ..
        } => McpError::new(
            rmcp::model::ErrorCode(-32029),
            err.to_string(),
            Some(json!({ "retryAfterSecs": retry_after_secs })),
        ),
        ToolError::MissingCapability(ref cap) => McpError::new(
            rmcp::model::ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
            err.to_string(),
            Some(json!({ "requiredCapabilities": { cap.as_str(): {} } })),
        ),
        other => McpError::internal_error(other.to_string(), None),
    }
}

/// Whether the request speaks the stateless protocol (2026-07-28 or later).
fn is_stateless(rc: &RequestContext<RoleServer>) -> bool {
    matches!(rc.protocol_version(), Some(v) if v >= ProtocolVersion::V_2026_07_28)
}

/// Mark a result complete, as the stateless protocol requires of every result.
fn complete(mut value: Value, stateless: bool) -> Value {
    if stateless {
        value["resultType"] = "complete".into();
    }
    value
}

fn capabilities(with_subscribe: bool) -> ServerCapabilities {
    let builder = ServerCapabilities::builder()
        .enable_tools()
        .enable_resources();
    // Resource subscriptions exist only in sessions; the stateless protocol
    // replaced them with subscriptions/listen, which bulwark does not offer.
    if with_subscribe {
        builder
            .enable_resources_subscribe()
            .enable_prompts()
            .enable_logging()
            .enable_completions()
            .build()
    } else {
        builder
            .enable_prompts()
            .enable_logging()
            .enable_completions()
            .build()
    }
}

impl ServerHandler for McpServer {
    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        let mut info = self.get_info();
        info.capabilities = capabilities(false);
        Ok(DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            info,
        ))
    }

    fn get_info(&self) -> InitializeResult {
        let mut info = InitializeResult::new(capabilities(true));
        let mut implementation = Implementation::new(&self.core.name, &self.core.version);
        implementation.title = Some(format!("bulwark ({} profile)", self.endpoint.profile.name));
        info.server_info = implementation;
        info.instructions = self.core.instructions.clone();
        info
    }

    /// Lets rmcp check the `Mcp-Param-*` headers of stateless calls against
    /// the tool's `x-mcp-header` annotations (SEP-2243).
    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        let position = self.endpoint.profile.position(name)?;
        self.endpoint.tools.tools.get(position).cloned()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let profile = &self.endpoint.profile;
        if !profile.has_upstream_tools() {
            return Ok(self.endpoint.tools.clone());
        }
        // Upstream tools placed in this profile come and go with approvals.
        let mut tools = self.endpoint.tools.tools.clone();
        tools.extend(profile.upstream_tools().iter().map(convert::tool));
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let profile = &self.endpoint.profile;
        let tool = match profile.tool(&request.name) {
            Some(tool) => Some(tool.clone()),
            None => profile.upstream_tool(&request.name),
        };
        let Some(tool) = tool else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool `{}` in profile `{}`; call tools/list to see the tools it offers",
                    request.name, self.endpoint.profile.name
                ),
                None,
            ));
        };
        let bound_to = format!("tools/call:{}", request.name);
        let mut ctx = self.context(&context, context.meta.get_progress_token());
        ctx.input = self.input_state(request.input_responses, request.request_state, &bound_to)?;
        let era = ctx.era;
        let args = request.arguments.unwrap_or_default();
        let output = self
            .core
            .pipeline
            .call(CallRequest { ctx, tool, args })
            .await
            .map_err(tool_error_to_mcp)?;
        let value = match output {
            ToolOutput::Done { .. } => {
                let value = complete(convert::output_json(&output), era == ProtocolEra::Stateless);
                let result = from_json::<rmcp::model::CallToolResult>(value)?;
                return Ok(CallToolResponse::from(result));
            }
            ToolOutput::InputRequired { requests, state } => {
                if era != ProtocolEra::Stateless {
                    return Err(McpError::internal_error(
                        format!(
                            "tool `{}` asked for client input in a way this protocol version does not support",
                            request.name
                        ),
                        None,
                    ));
                }
                self.input_required(requests, state, &bound_to)
            }
        };
        Ok(CallToolResponse::InputRequired(from_json(value)?))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(self.endpoint.prompts.clone())
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let Some(prompt) = self.endpoint.profile.prompt(&request.name) else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown prompt `{}`; call prompts/list to see the prompts offered",
                    request.name
                ),
                None,
            ));
        };
        let args: BTreeMap<String, String> = request
            .arguments
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect();
        prompt.check_args(&args).map_err(tool_error_to_mcp)?;
        let bound_to = format!("prompts/get:{}", request.name);
        let mut ctx = self.context(&context, None);
        ctx.input = self.input_state(request.input_responses, request.request_state, &bound_to)?;
        let era = ctx.era;
        let output = prompt
            .handler
            .get(ctx, args)
            .await
            .map_err(tool_error_to_mcp)?;
        match output.input_required {
            Some((requests, state)) if era == ProtocolEra::Stateless => {
                Ok(GetPromptResponse::InputRequired(from_json(
                    self.input_required(requests, state, &bound_to),
                )?))
            }
            Some(_) => Err(McpError::internal_error(
                format!(
                    "prompt `{}` needs client input, which this protocol version cannot carry",
                    request.name
                ),
                None,
            )),
            None => Ok(GetPromptResponse::Complete(from_json(complete(
                convert::prompt_output_json(&output),
                era == ProtocolEra::Stateless,
            ))?)),
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(self.endpoint.resources.clone())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(self.endpoint.templates.clone())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let profile = &self.endpoint.profile;
        let (handler, vars) = if let Some(resource) = profile.resource(&request.uri) {
            (resource.handler.clone(), BTreeMap::new())
        } else if let Some((template, vars)) = profile
            .templates
            .iter()
            .find_map(|t| t.matches(&request.uri).map(|vars| (t, vars)))
        {
            (template.handler.clone(), vars)
        } else {
            return Err(McpError::resource_not_found(
                format!(
                    "no resource `{}`; call resources/list and resources/templates/list to see what exists",
                    request.uri
                ),
                Some(json!({ "uri": request.uri })),
            ));
        };
        let stateless = is_stateless(&context);
        let ctx = self.context(&context, None);
        let contents = handler
            .read(ctx, request.uri.clone(), vars)
            .await
            .map_err(tool_error_to_mcp)?;
        let contents: Vec<Value> = contents
            .iter()
            .map(|c| convert::resource_contents_json(&c.uri, c.mime_type.as_deref(), &c.body))
            .collect();
        Ok(ReadResourceResponse::Complete(from_json(complete(
            json!({ "contents": contents }),
            stateless,
        ))?))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Ok(mut subs) = self.session.subscriptions.lock() {
            subs.insert(request.uri);
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Ok(mut subs) = self.session.subscriptions.lock() {
            subs.remove(&request.uri);
        }
        Ok(())
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let level = from_mcp_level(request.level);
        self.session
            .log_level
            .store(level as u8 + 1, Ordering::Relaxed);
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        // No declared prompt argument has a closed set of values to offer yet.
        let _ = request;
        from_json(complete(
            json!({ "completion": { "values": [], "total": 0, "hasMore": false } }),
            is_stateless(&context),
        ))
    }
}

fn from_mcp_level(level: LoggingLevel) -> LogLevel {
    match level {
        LoggingLevel::Debug => LogLevel::Debug,
        LoggingLevel::Info => LogLevel::Info,
        LoggingLevel::Notice => LogLevel::Notice,
        LoggingLevel::Warning => LogLevel::Warning,
        LoggingLevel::Error => LogLevel::Error,
        LoggingLevel::Critical => LogLevel::Critical,
        LoggingLevel::Alert => LogLevel::Alert,
        LoggingLevel::Emergency => LogLevel::Emergency,
    }
}

fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Notice => "notice",
        LogLevel::Warning => "warning",
        LogLevel::Error => "error",
        LogLevel::Critical => "critical",
        LogLevel::Alert => "alert",
        LogLevel::Emergency => "emergency",
    }
}

/// A tool's way back to the client, over the rmcp peer of its request.
struct PeerChannel {
    peer: Peer<RoleServer>,
    progress: Option<ProgressToken>,
    /// Shared with the session, so `logging/setLevel` applies to running calls.
    log_level: Arc<AtomicU8>,
}

impl ClientChannel for PeerChannel {
    fn log(
        &self,
        level: LogLevel,
        logger: Option<String>,
        data: Value,
    ) -> bulwark_core::BoxFuture<()> {
        let threshold = self.log_level.load(Ordering::Relaxed);
        let peer = self.peer.clone();
        Box::pin(async move {
            if threshold == SILENT || (threshold > 0 && (level as u8) + 1 < threshold) {
                return;
            }
            let mut params = json!({ "level": level_name(level), "data": data });
            if let Some(logger) = logger {
                params["logger"] = logger.into();
            }
            if let Ok(params) = serde_json::from_value(params) {
                let _ = peer.notify_logging_message(params).await;
            }
        })
    }

    fn progress(
        &self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> bulwark_core::BoxFuture<()> {
        let peer = self.peer.clone();
        let token = self.progress.clone();
        Box::pin(async move {
            let Some(token) = token else { return };
            let mut params = json!({ "progressToken": token, "progress": progress });
            if let Some(total) = total {
                params["total"] = total.into();
            }
            if let Some(message) = message {
                params["message"] = message.into();
            }
            if let Ok(params) = serde_json::from_value(params) {
                let _ = peer.notify_progress(params).await;
            }
        })
    }

    fn request(
        &self,
        method: String,
        params: Value,
    ) -> bulwark_core::BoxFuture<Result<Value, String>> {
        let peer = self.peer.clone();
        Box::pin(async move {
            let request: rmcp::model::ServerRequest =
                serde_json::from_value(json!({ "method": method, "params": params }))
                    .map_err(|e| format!("cannot build `{method}` request: {e}"))?;
            let response = peer
                .send_request(request)
                .await
                .map_err(|e| format!("the client did not answer `{method}`: {e}"))?;
            serde_json::to_value(response).map_err(|e| e.to_string())
        })
    }
}
