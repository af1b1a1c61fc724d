//! A client for *other* MCP servers ("upstreams").
//!
//! `bulwark scan --server/--url` uses it to list a live server's tools, prompts and resources and
//! judge their descriptions; the gateway uses it to proxy calls. It speaks stdio (bulwark starts
//! the server as a child process), Streamable HTTP and the legacy HTTP+SSE transport, all through
//! rmcp's client, with the `initialize` handshake that deployed servers speak (protocol 2025-11-25
//! and older).
//!
//! ```no_run
//! # async fn demo() -> Result<(), bulwark_upstream::UpstreamError> {
//! use bulwark_upstream::{ConnectOptions, Target, Upstream};
//! let target = Target::parse_command_line("npx -y @modelcontextprotocol/server-everything")?;
//! let upstream = Upstream::connect(&target, &ConnectOptions::default()).await?;
//! for tool in upstream.list_tools().await? {
//!     println!("{}: {}", tool["name"], tool["description"]);
//! }
//! upstream.close().await?;
//! # Ok(()) }
//! ```
//!
//! Listings and tool results are returned as the JSON objects of the MCP schema (`name`,
//! `description`, `inputSchema`, …). A known field the server sent is kept; an object that rmcp's
//! types cannot read at all is passed on exactly as received, so one malformed tool does not hide
//! the rest from a scan.

mod error;
mod http;
pub mod oauth;
mod session;
mod sse;
mod stdio;
mod target;

use std::sync::Arc;
use std::time::Duration;

pub use error::UpstreamError;
pub use oauth::{LoginOptions, LoginOutcome, OAuthConnect, TokenVault};
pub use session::Upstream;
pub use target::Target;

/// At most this many pages are fetched for one listing…
pub const MAX_LIST_PAGES: usize = 100;
/// …and at most this many items in all.
pub const MAX_LIST_ITEMS: usize = 10_000;

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Limit for starting the server (or reaching it) and completing `initialize`. Default 30 s.
    pub timeout: Duration,
    /// Limit for each request after that (each page of a listing, each tool call). Default 30 s.
    pub request_timeout: Duration,
    /// The `clientInfo.name` sent in `initialize`. Default `bulwark`.
    pub client_name: String,
    /// What happens to a stdio server's stderr. Default: capture the last 64 KiB.
    pub stderr: StderrMode,
    /// Also hand every chunk of a stdio server's stderr to this function (with
    /// [`StderrMode::Capture`] only), e.g. to append it to a log file. Default: none.
    pub stderr_copy: Option<StderrCopy>,
    /// Called when the server sends `notifications/tools/list_changed`. Default: none.
    pub on_tools_changed: Option<OnToolsChanged>,
    /// For an HTTP server behind OAuth: the stored tokens to send (and refresh). Default: none.
    pub oauth: Option<OAuthConnect>,
    /// Start a stdio server in this sandbox. Then it gets the sandbox's environment (its
    /// allowlist plus the target's `env`) and working directory instead of bulwark's.
    /// Default: none (bulwark's rights, bulwark's environment).
    pub sandbox: Option<Arc<bulwark_sandbox::Sandbox>>,
}

/// What [`StderrCopy`] wraps.
pub type StderrSinkFn = dyn Fn(&[u8]) + Send + Sync;

/// A function that receives each chunk a stdio server writes to stderr.
#[derive(Clone)]
pub struct StderrCopy(pub Arc<StderrSinkFn>);

impl std::fmt::Debug for StderrCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StderrCopy(..)")
    }
}

/// A function called when the server says its tool list changed.
#[derive(Clone)]
pub struct OnToolsChanged(pub Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for OnToolsChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnToolsChanged(..)")
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            client_name: "bulwark".to_owned(),
            stderr: StderrMode::Capture(64 * 1024),
            stderr_copy: None,
            on_tools_changed: None,
            oauth: None,
            sandbox: None,
        }
    }
}

/// Where a stdio server's stderr goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StderrMode {
    /// To /dev/null.
    Discard,
    /// To bulwark's own stderr.
    Inherit,
    /// Into memory, keeping the last `n` bytes: quoted in errors, readable with
    /// [`Upstream::stderr`], and logged at debug level (target `bulwark_upstream::stderr`).
    Capture(usize),
}

/// What the server said about itself in `initialize`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServerInfo {
    /// `serverInfo.name`, when given.
    pub name: Option<String>,
    /// `serverInfo.title`, when given.
    pub title: Option<String>,
    /// `serverInfo.version`, when given.
    pub version: Option<String>,
    /// The protocol version the session runs, e.g. `2025-11-25`.
    pub protocol_version: String,
    /// Which capabilities it declared.
    pub capabilities: Capabilities,
    /// Its `instructions` for the model: text that reaches the model, so a scan judges it too.
    pub instructions: Option<String>,
}

/// The server's declared capabilities, summarised; `raw` keeps the whole object.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Capabilities {
    pub tools: bool,
    pub prompts: bool,
    pub resources: bool,
    /// `resources.subscribe`.
    pub resource_subscribe: bool,
    pub logging: bool,
    pub completions: bool,
    /// Which lists the server says it announces changes to (`tools`, `prompts`, `resources`).
    pub list_changed: Vec<String>,
    /// Names under `experimental` and `extensions`.
    pub experimental: Vec<String>,
    /// The `capabilities` object as rmcp read it.
    pub raw: serde_json::Value,
}
