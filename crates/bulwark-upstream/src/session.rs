//! A live client session with an upstream server.

use std::{collections::HashSet, time::Duration};

use rmcp::{
    ClientHandler, ServiceError,
    model::{
        ClientCapabilities, ClientConfig, ClientRequest, CustomRequest, Implementation,
        ProtocolVersion, ServerPeerInfo,
    },
    service::{
        ClientInitializeError, ClientLifecycleMode, NotificationContext, PeerRequestOptions,
        RoleClient, RunningService, serve_client_with_lifecycle,
    },
};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::{
    Capabilities, ConnectOptions, MAX_LIST_ITEMS, MAX_LIST_PAGES, ServerInfo, Target,
    UpstreamError,
    http::{self, chain},
    sse,
    stdio::{self, ChildProcess},
};

/// How long closing the MCP session (stdin EOF, HTTP DELETE) may take before we stop waiting.
const SESSION_CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// A live client session with one upstream MCP server.
///
/// Dropping it ends the session too: a stdio server gets SIGTERM at once and SIGKILL a second
/// later if it is still there (its whole process group). [`Upstream::close`] is the polite way:
/// it closes the server's stdin first and waits for it to exit.
pub struct Upstream {
    // Field order is drop order: the session (which closes the pipes) before the process.
    service: RunningService<RoleClient, Handler>,
    child: Option<Mutex<ChildProcess>>,
    pid: Option<u32>,
    info: ServerInfo,
    label: String,
    url: Option<String>,
    request_timeout: Duration,
    /// The upstream's name when it is reached with OAuth tokens: a 401 then means "log in again".
    oauth_name: Option<String>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("target", &self.label)
            .field("pid", &self.pid)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The client side's handler: our `initialize` info, and the list-changed hook.
struct Handler {
    info: ClientConfig,
    on_tools_changed: Option<crate::OnToolsChanged>,
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(hook) = &self.on_tools_changed {
            (hook.0)();
        }
    }
}

fn client_info(options: &ConnectOptions) -> Handler {
    Handler {
        info: client_config(options),
        on_tools_changed: options.on_tools_changed.clone(),
    }
}

fn client_config(options: &ConnectOptions) -> ClientConfig {
    // No client capabilities: a scan or a proxy has no model to sample from, no roots to share
    // and no person to elicit input from.
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new(options.client_name.clone(), env!("CARGO_PKG_VERSION")),
    )
    // `initialize` exists up to 2025-11-25; 2026-07-28 servers still answer it.
    .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
}

/// For an upstream reached with OAuth tokens, a 401 that survived rmcp's refresh-and-retry means
/// the tokens are no good any more: say to log in again instead of to pass a header.
fn needs_login(error: UpstreamError, oauth_name: Option<&str>) -> UpstreamError {
    match (error, oauth_name) {
        (
            UpstreamError::Unauthorized {
                url, status: 401, ..
            },
            Some(name),
        ) => UpstreamError::LoginRequired {
            name: name.to_owned(),
            url,
            reason: "the server rejected the access token and refreshing it did not help"
                .to_owned(),
        },
        (error, _) => error,
    }
}

impl Upstream {
    /// Start or reach the server and complete `initialize`, all within `options.timeout`.
    pub async fn connect(
        target: &Target,
        options: &ConnectOptions,
    ) -> Result<Upstream, UpstreamError> {
        match target {
            Target::Stdio {
                command,
                args,
                env,
                cwd,
            } => Self::connect_stdio(target, command, args, env, cwd.as_deref(), options).await,
            Target::Http { url, headers } => Self::connect_http(url, headers, options).await,
            Target::Sse { url, headers } => Self::connect_sse(url, headers, options).await,
        }
    }

    async fn connect_stdio(
        target: &Target,
        command: &str,
        args: &[String],
        env: &std::collections::BTreeMap<String, String>,
        cwd: Option<&std::path::Path>,
        options: &ConnectOptions,
    ) -> Result<Upstream, UpstreamError> {
        let label = target.to_string();
        let (mut child, stdout, stdin) = stdio::spawn(command, args, env, cwd, options, &label)?;
        let started = serve_client_with_lifecycle(
            client_info(options),
            (stdout, stdin),
            ClientLifecycleMode::Initialize,
        );
        let error = match tokio::time::timeout(options.timeout, started).await {
            Ok(Ok(service)) => {
                let info = server_info(service.peer_info().as_deref());
                tracing::debug!(server = %label, ?info, "connected");
                return Ok(Upstream {
                    service,
                    pid: child.pid(),
                    child: Some(Mutex::new(child)),
                    info,
                    label,
                    url: None,
                    request_timeout: options.request_timeout,
                    oauth_name: None,
                });
            }
            Ok(Err(error)) => error,
            Err(_) => {
                child.drain_stderr(Duration::from_millis(100)).await;
                return Err(UpstreamError::InitializeTimeout {
                    target: label,
                    after: options.timeout,
                    hint: format!(
                        "is it an MCP server speaking JSON-RPC on stdio? {}",
                        child.stderr_phrase()
                    ),
                });
            }
        };
        // The pipe closed or broke: most likely the server is exiting. Give it a moment.
        let closed = matches!(
            error,
            ClientInitializeError::ConnectionClosed(_)
                | ClientInitializeError::TransportError { .. }
        );
        let status = if closed {
            child.wait_exit(Duration::from_secs(2)).await
        } else {
            child.try_exit()
        };
        child.drain_stderr(Duration::from_millis(500)).await;
        if let Some(status) = status {
            return Err(UpstreamError::ExitedBeforeInitialize {
                command: label,
                status: describe_exit(status),
                stderr: child.stderr_phrase(),
            });
        }
        Err(UpstreamError::Initialize {
            target: label,
            detail: describe_init_error(&error),
            stderr: format!("; {}", child.stderr_phrase()),
        })
        // `child` drops here: SIGTERM, then SIGKILL.
    }

    async fn connect_http(
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
        options: &ConnectOptions,
    ) -> Result<Upstream, UpstreamError> {
        http::check_url(url)?;
        let headers = http::headers(headers)?;
        let client = http::client(url, options)?;
        match &options.oauth {
            None => Self::start_http(url, http::transport(url, headers, client), options).await,
            Some(oauth) => {
                let client = crate::oauth::authorized_client(url, oauth, client).await?;
                Self::start_http(url, http::transport(url, headers, client), options)
                    .await
                    .map_err(|e| needs_login(e, Some(oauth.name.as_str())))
            }
        }
    }

    async fn connect_sse(
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
        options: &ConnectOptions,
    ) -> Result<Upstream, UpstreamError> {
        http::check_url(url)?;
        if options.oauth.is_some() {
            return Err(UpstreamError::OAuth {
                url: url.to_owned(),
                detail: "OAuth is supported for Streamable HTTP upstreams only; for a legacy SSE \
                         server pass its token as a header instead"
                    .to_owned(),
            });
        }
        let headers = http::headers(headers)?;
        let client = http::client(url, options)?;
        let deadline = tokio::time::Instant::now() + options.timeout;
        let transport = sse::connect(url, headers, client, options.timeout).await?;
        // Boxed as `Send` here: otherwise rustc cannot prove the enclosing future `Send` for every
        // lifetime of its borrowed arguments (a known limit of its auto-trait inference over the
        // sink-and-stream transport's generic futures).
        let started: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>> =
            Box::pin(serve_client_with_lifecycle(
                client_info(options),
                transport,
                ClientLifecycleMode::Initialize,
            ));
        match tokio::time::timeout_at(deadline, started).await {
            Ok(Ok(service)) => Ok(Self::remote(service, url, options)),
            Ok(Err(error)) => Err(UpstreamError::Initialize {
                target: url.to_owned(),
                detail: http::describe_initialize_error(&error),
                stderr: String::new(),
            }),
            Err(_) => Err(UpstreamError::InitializeTimeout {
                target: url.to_owned(),
                after: options.timeout,
                hint: "the event stream opened but the server did not answer initialize".to_owned(),
            }),
        }
    }

    /// A session with a server reached over HTTP (Streamable HTTP or legacy SSE).
    fn remote(
        service: RunningService<RoleClient, Handler>,
        url: &str,
        options: &ConnectOptions,
    ) -> Upstream {
        let info = server_info(service.peer_info().as_deref());
        tracing::debug!(server = %url, ?info, "connected");
        Upstream {
            service,
            child: None,
            pid: None,
            info,
            label: url.to_owned(),
            url: Some(url.to_owned()),
            request_timeout: options.request_timeout,
            oauth_name: options.oauth.as_ref().map(|o| o.name.clone()),
        }
    }

    async fn start_http<C>(
        url: &str,
        transport: rmcp::transport::StreamableHttpClientTransport<C>,
        options: &ConnectOptions,
    ) -> Result<Upstream, UpstreamError>
    where
        C: rmcp::transport::streamable_http_client::StreamableHttpClient<Error = reqwest::Error>
            + Send
            + Sync
            + 'static,
    {
        let started = serve_client_with_lifecycle(
            client_info(options),
            transport,
            ClientLifecycleMode::Initialize,
        );
        match tokio::time::timeout(options.timeout, started).await {
            Ok(Ok(service)) => Ok(Self::remote(service, url, options)),
            Ok(Err(error)) => Err(http::initialize_error(url, &error)),
            Err(_) => Err(UpstreamError::InitializeTimeout {
                target: url.to_owned(),
                after: options.timeout,
                hint: "is an MCP server answering at this URL?".to_owned(),
            }),
        }
    }

    /// What the server said about itself in `initialize`.
    pub fn server_info(&self) -> ServerInfo {
        self.info.clone()
    }

    /// True once the connection is gone (the stdio server exited, the HTTP session ended):
    /// further requests fail, so a caller should connect again.
    pub fn is_closed(&self) -> bool {
        self.service.is_closed() || self.service.is_transport_closed()
    }

    /// The process id of a stdio server (the leader of its process group).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// What a stdio server wrote to stderr so far, up to the [`crate::StderrMode::Capture`] limit
    /// (its last bytes). Empty for HTTP servers and other stderr modes.
    pub async fn stderr(&self) -> String {
        match &self.child {
            Some(child) => child.lock().await.stderr_text(),
            None => String::new(),
        }
    }

    /// Every tool, following `nextCursor` (at most [`MAX_LIST_PAGES`] pages and
    /// [`MAX_LIST_ITEMS`] tools). Empty when the server declared no `tools` capability.
    pub async fn list_tools(&self) -> Result<Vec<Value>, UpstreamError> {
        if !self.info.capabilities.tools {
            return Ok(Vec::new());
        }
        self.list_all("tools/list", "tools").await
    }

    /// Every prompt; empty when the server declared no `prompts` capability.
    pub async fn list_prompts(&self) -> Result<Vec<Value>, UpstreamError> {
        if !self.info.capabilities.prompts {
            return Ok(Vec::new());
        }
        self.list_all("prompts/list", "prompts").await
    }

    /// Every resource; empty when the server declared no `resources` capability.
    pub async fn list_resources(&self) -> Result<Vec<Value>, UpstreamError> {
        if !self.info.capabilities.resources {
            return Ok(Vec::new());
        }
        self.list_all("resources/list", "resources").await
    }

    /// Every resource template; empty when the server declared no `resources` capability.
    pub async fn list_resource_templates(&self) -> Result<Vec<Value>, UpstreamError> {
        if !self.info.capabilities.resources {
            return Ok(Vec::new());
        }
        self.list_all("resources/templates/list", "resourceTemplates")
            .await
    }

    /// Call a tool; the `CallToolResult` object (`content`, `structuredContent`, `isError`).
    ///
    /// A tool that fails answers with `isError: true`, which is a result, not an `Err`; `Err` is
    /// for protocol errors (unknown tool, bad request), timeouts and broken connections.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<Value, UpstreamError> {
        let result = self
            .request(
                "tools/call",
                Some(json!({ "name": name, "arguments": arguments })),
            )
            .await?;
        if !result.is_object() {
            return Err(UpstreamError::Protocol {
                method: format!("tools/call `{name}`"),
                detail: format!("the result is not an object: {}", preview(&result)),
            });
        }
        Ok(result)
    }

    /// End the session. For a stdio server: close its stdin, wait for it to exit, then SIGTERM,
    /// then SIGKILL (2 s apart), and finally SIGTERM whatever is left of its process group.
    /// For HTTP: end the session with `DELETE`.
    pub async fn close(self) -> Result<(), UpstreamError> {
        let Upstream {
            mut service,
            child,
            label,
            ..
        } = self;
        let closed = service.close_with_timeout(SESSION_CLOSE_LIMIT).await;
        if let Some(child) = child {
            let mut child = child.into_inner();
            let status = child.shutdown().await;
            tracing::debug!(server = %label, ?status, "closed");
        }
        match closed {
            Ok(_) => Ok(()),
            Err(e) => Err(UpstreamError::Close {
                target: label,
                detail: e.to_string(),
            }),
        }
    }

    async fn list_all(&self, method: &str, key: &str) -> Result<Vec<Value>, UpstreamError> {
        paginate(method, key, |cursor| {
            self.request(method, cursor.map(|c| json!({ "cursor": c })))
        })
        .await
    }

    /// Send `method` and return its result as JSON.
    ///
    /// Sent as rmcp's `CustomRequest` so the answer comes back whatever its shape: rmcp reads it
    /// into its own types when it can (keeping every field those types know) and hands over the
    /// raw JSON when it cannot, instead of failing the whole listing.
    async fn request(&self, method: &str, params: Option<Value>) -> Result<Value, UpstreamError> {
        let request = ClientRequest::CustomRequest(CustomRequest::new(method, params));
        let options = PeerRequestOptions::with_timeout(self.request_timeout);
        let outcome = match self
            .service
            .send_request_with_option(request, options)
            .await
        {
            Ok(handle) => handle.await_response().await,
            Err(e) => Err(e),
        };
        let result = match outcome {
            Ok(result) => result,
            Err(e) => return Err(self.service_error(method, e).await),
        };
        serde_json::to_value(&result).map_err(|e| UpstreamError::Protocol {
            method: method.to_owned(),
            detail: e.to_string(),
        })
    }

    async fn service_error(&self, method: &str, error: ServiceError) -> UpstreamError {
        match error {
            ServiceError::McpError(data) => UpstreamError::Rpc {
                method: method.to_owned(),
                code: data.code.0,
                message: data.message.into_owned(),
                data: data.data,
            },
            ServiceError::Timeout { timeout } => UpstreamError::RequestTimeout {
                method: method.to_owned(),
                after: timeout,
            },
            ServiceError::UnexpectedResponse => UpstreamError::Protocol {
                method: method.to_owned(),
                detail: "an answer of the wrong kind".to_owned(),
            },
            ServiceError::TransportSend(e) => {
                if let Some(url) = &self.url
                    && let Some(found) = http::classify(url, &e)
                {
                    return needs_login(found, self.oauth_name.as_deref());
                }
                UpstreamError::Transport {
                    target: self.label.clone(),
                    method: method.to_owned(),
                    detail: chain(&e),
                }
            }
            ServiceError::TransportClosed | ServiceError::Cancelled { .. } => {
                UpstreamError::ConnectionClosed {
                    target: self.label.clone(),
                    method: method.to_owned(),
                    detail: self.closed_detail().await,
                }
            }
            other => UpstreamError::Transport {
                target: self.label.clone(),
                method: method.to_owned(),
                detail: chain(&other),
            },
        }
    }

    /// For a stdio server whose pipe closed: how it exited and what it said.
    async fn closed_detail(&self) -> String {
        let Some(child) = &self.child else {
            return String::new();
        };
        let mut child = child.lock().await;
        match child.wait_exit(Duration::from_secs(1)).await {
            Some(status) => {
                child.drain_stderr(Duration::from_millis(300)).await;
                format!(
                    ": the server exited ({}); {}",
                    describe_exit(status),
                    child.stderr_phrase()
                )
            }
            None => String::new(),
        }
    }
}

/// Fetch pages with `fetch(cursor)` until one has no `nextCursor`, collecting `result[key]`.
///
/// Stops with an error after [`MAX_LIST_PAGES`] pages, past [`MAX_LIST_ITEMS`] items, or when a
/// cursor comes back a second time: a server that lists forever is not waited for.
async fn paginate<F, Fut>(
    method: &str,
    key: &str,
    mut fetch: F,
) -> Result<Vec<Value>, UpstreamError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Value, UpstreamError>>,
{
    let too_long = |pages: usize, items: usize, reason: String| UpstreamError::ListingTooLong {
        method: method.to_owned(),
        pages,
        items,
        reason,
    };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen = HashSet::new();
    for page in 1..=MAX_LIST_PAGES {
        let result = fetch(cursor.take()).await?;
        let Some(object) = result.as_object() else {
            return Err(UpstreamError::Protocol {
                method: method.to_owned(),
                detail: format!("the result is not an object: {}", preview(&result)),
            });
        };
        match object.get(key) {
            Some(Value::Array(list)) => items.extend(list.iter().cloned()),
            // Lenient, like the official SDKs: a page without the list is an empty page.
            None | Some(Value::Null) => {}
            Some(other) => {
                return Err(UpstreamError::Protocol {
                    method: method.to_owned(),
                    detail: format!("`{key}` is not a list: {}", preview(other)),
                });
            }
        }
        if items.len() > MAX_LIST_ITEMS {
            return Err(too_long(
                page,
                items.len(),
                format!("more than {MAX_LIST_ITEMS} items"),
            ));
        }
        match object.get("nextCursor") {
            Some(Value::String(next)) if !next.is_empty() => {
                if !seen.insert(next.clone()) {
                    return Err(too_long(
                        page,
                        items.len(),
                        format!("the server sent cursor {next:?} a second time, a loop"),
                    ));
                }
                cursor = Some(next.clone());
            }
            _ => return Ok(items),
        }
    }
    Err(too_long(
        MAX_LIST_PAGES,
        items.len(),
        format!("still a nextCursor after {MAX_LIST_PAGES} pages"),
    ))
}

fn server_info(peer: Option<&ServerPeerInfo>) -> ServerInfo {
    let Some(peer) = peer else {
        return ServerInfo {
            name: None,
            title: None,
            version: None,
            protocol_version: String::new(),
            capabilities: Capabilities::default(),
            instructions: None,
        };
    };
    let caps = &peer.capabilities;
    let mut list_changed = Vec::new();
    if caps.tools.as_ref().and_then(|c| c.list_changed) == Some(true) {
        list_changed.push("tools".to_owned());
    }
    if caps.prompts.as_ref().and_then(|c| c.list_changed) == Some(true) {
        list_changed.push("prompts".to_owned());
    }
    if caps.resources.as_ref().and_then(|c| c.list_changed) == Some(true) {
        list_changed.push("resources".to_owned());
    }
    let experimental = caps
        .experimental
        .iter()
        .chain(caps.extensions.iter())
        .flat_map(|map| map.keys().cloned())
        .collect();
    ServerInfo {
        name: peer.server_info.as_ref().map(|i| i.name.clone()),
        title: peer.server_info.as_ref().and_then(|i| i.title.clone()),
        version: peer.server_info.as_ref().map(|i| i.version.clone()),
        protocol_version: peer.protocol_version.to_string(),
        capabilities: Capabilities {
            tools: caps.tools.is_some(),
            prompts: caps.prompts.is_some(),
            resources: caps.resources.is_some(),
            resource_subscribe: caps.resources.as_ref().and_then(|r| r.subscribe) == Some(true),
            logging: caps.logging.is_some(),
            completions: caps.completions.is_some(),
            list_changed,
            experimental,
            raw: serde_json::to_value(caps).unwrap_or(Value::Null),
        },
        instructions: peer.instructions.clone(),
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}

fn describe_init_error(error: &ClientInitializeError) -> String {
    match error {
        ClientInitializeError::ConnectionClosed(_) => {
            "the server closed its stdout without answering".to_owned()
        }
        other => http::describe_initialize_error(other),
    }
}

/// A JSON value cut to a length that fits in an error message.
fn preview(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serve pages from a function of the cursor, recording the cursors asked for.
    async fn list(
        pages: impl Fn(Option<&str>) -> Value,
    ) -> (Result<Vec<Value>, UpstreamError>, Vec<Option<String>>) {
        let mut asked = Vec::new();
        let result = paginate("tools/list", "tools", |cursor| {
            asked.push(cursor.clone());
            let page = pages(cursor.as_deref());
            async move { Ok(page) }
        })
        .await;
        (result, asked)
    }

    #[tokio::test]
    async fn follows_cursors_to_the_end() {
        let (result, asked) = list(|cursor| match cursor {
            None => json!({ "tools": [{ "name": "a" }], "nextCursor": "p2" }),
            Some("p2") => {
                json!({ "tools": [{ "name": "b" }, { "name": "c" }], "nextCursor": "p3" })
            }
            Some("p3") => json!({ "tools": [{ "name": "d" }] }),
            other => panic!("unexpected cursor {other:?}"),
        })
        .await;
        let names: Vec<_> = result.unwrap().iter().map(|t| t["name"].clone()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert_eq!(asked, [None, Some("p2".into()), Some("p3".into())]);
    }

    #[tokio::test]
    async fn empty_or_null_cursor_ends_and_missing_list_is_empty() {
        let (result, _) = list(|_| json!({ "tools": [], "nextCursor": "" })).await;
        assert!(result.unwrap().is_empty());
        let (result, _) = list(|_| json!({ "nextCursor": null })).await;
        assert!(result.unwrap().is_empty());
    }

    #[tokio::test]
    async fn endless_cursors_stop_at_the_page_limit() {
        let (result, asked) = list(|cursor| {
            let n: usize = cursor.map_or(0, |c| c.parse().unwrap());
            json!({ "tools": [{ "name": format!("t{n}") }], "nextCursor": (n + 1).to_string() })
        })
        .await;
        assert_eq!(asked.len(), MAX_LIST_PAGES);
        let err = result.unwrap_err();
        assert_eq!(
            err.to_string(),
            "tools/list: stopped after 100 pages and 100 items: still a nextCursor after 100 pages; \
             a server should not list this much, treat it as suspect"
        );
    }

    #[tokio::test]
    async fn a_repeated_cursor_is_a_loop() {
        let (result, asked) = list(|cursor| match cursor {
            None => json!({ "tools": [], "nextCursor": "x" }),
            _ => json!({ "tools": [], "nextCursor": "x" }),
        })
        .await;
        assert_eq!(asked.len(), 2);
        assert!(
            result
                .unwrap_err()
                .to_string()
                .contains("cursor \"x\" a second time")
        );
    }

    #[tokio::test]
    async fn too_many_items() {
        let big: Vec<Value> = (0..6000)
            .map(|i| json!({ "name": i.to_string() }))
            .collect();
        let (result, asked) = list(|cursor| match cursor {
            None => json!({ "tools": big, "nextCursor": "2" }),
            _ => json!({ "tools": big, "nextCursor": "3" }),
        })
        .await;
        assert_eq!(asked.len(), 2);
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                UpstreamError::ListingTooLong {
                    pages: 2,
                    items: 12000,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn malformed_pages_are_protocol_errors() {
        let (result, _) = list(|_| json!({ "tools": { "name": "x" } })).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            r#"tools/list: unexpected answer from the server: `tools` is not a list: {"name":"x"}"#
        );
        let (result, _) = list(|_| json!(["not", "an", "object"])).await;
        assert!(matches!(
            result.unwrap_err(),
            UpstreamError::Protocol { .. }
        ));
    }

    #[test]
    fn upstream_is_shareable_and_its_futures_are_send() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>(_: &T) {}
        send_sync::<Upstream>();
        let target = Target::http("http://127.0.0.1:9/mcp");
        let options = ConnectOptions::default();
        let connect = Upstream::connect(&target, &options);
        send(&connect);
        drop(connect);
    }
}
