//! What can go wrong talking to an upstream server, each message saying what to do about it.

use std::time::Duration;

/// An error from connecting to, or talking with, an upstream MCP server.
///
/// Every message names the server (its command line or URL) or the MCP method, and says what to
/// try next. Output that the server wrote to stderr, when it was captured, is part of the message
/// where it explains the failure (a crash before `initialize`, a timeout).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The command line was empty or could not be split into words.
    #[error("invalid server command line {cmdline:?}: {reason}")]
    CommandLine { cmdline: String, reason: String },

    /// The URL is not an `http://` or `https://` URL.
    #[error(
        "invalid server URL {url:?}: {reason}; give an http:// or https:// URL such as http://127.0.0.1:3001/mcp"
    )]
    Url { url: String, reason: String },

    /// A header given for an HTTP server cannot be sent.
    #[error("invalid header {name:?}: {reason}")]
    Header { name: String, reason: String },

    /// The working directory for a stdio server does not exist.
    #[error("could not start `{command}`: working directory {cwd} {reason}")]
    WorkingDirectory {
        command: String,
        cwd: String,
        reason: String,
    },

    /// The sandbox a stdio server was to run in could not be set up; it was not started.
    #[error("did not start `{command}`: {reason}")]
    Sandbox { command: String, reason: String },

    /// The command of a stdio server was not found.
    #[error("could not start `{command}`: {reason}")]
    CommandNotFound { command: String, reason: String },

    /// The stdio server could not be started for another reason.
    #[error("could not start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    /// The stdio server exited before it answered `initialize`.
    #[error("server {command} exited before initialize ({status}); {stderr}")]
    ExitedBeforeInitialize {
        command: String,
        status: String,
        stderr: String,
    },

    /// Connecting and `initialize` together took longer than the connect timeout.
    #[error(
        "timed out after {} waiting for initialize from {target}; {hint}",
        secs(*after)
    )]
    InitializeTimeout {
        target: String,
        after: Duration,
        hint: String,
    },

    /// The HTTP server answered 401 or 403: it wants credentials.
    #[error(
        "HTTP {status} from {url}: the server wants authentication; pass --header 'Authorization: Bearer …'{}",
        challenge.as_deref().map(|c| format!(" (it said: WWW-Authenticate: {c})")).unwrap_or_default()
    )]
    Unauthorized {
        url: String,
        status: u16,
        challenge: Option<String>,
    },

    /// An OAuth upstream has no usable tokens: nothing is stored, or the server rejected the
    /// access token and refreshing it did not help. Only a new login does.
    #[error(
        "{url} needs an OAuth login ({reason}); run `bulwark upstream login {name}` and finish it in a browser"
    )]
    LoginRequired {
        name: String,
        url: String,
        reason: String,
    },

    /// OAuth discovery, registration, or a token exchange failed.
    #[error("OAuth with {url} failed: {detail}")]
    OAuth { url: String, detail: String },

    /// The HTTP server answered 404 to `initialize`: no MCP endpoint at this path.
    #[error(
        "HTTP 404 from {url}: nothing serves MCP at this path; check the URL (most servers use /mcp)"
    )]
    NotFound { url: String },

    /// Any other HTTP failure status.
    #[error("HTTP {status} from {url}: {detail}")]
    HttpStatus {
        url: String,
        status: u16,
        detail: String,
    },

    /// No TCP/TLS connection could be made to the HTTP server.
    #[error("could not connect to {url}: {detail}; is the server running and listening there?")]
    Connect { url: String, detail: String },

    /// `initialize` failed for a reason other than the ones above.
    #[error("initialize with {target} failed: {detail}{stderr}")]
    Initialize {
        target: String,
        detail: String,
        stderr: String,
    },

    /// The server answered a request with a JSON-RPC error.
    #[error("{method} failed: the server answered with error {code}: {message}")]
    Rpc {
        method: String,
        code: i32,
        message: String,
        data: Option<serde_json::Value>,
    },

    /// No answer to a request within the request timeout.
    #[error(
        "timed out after {} waiting for the answer to {method}; the server may be stuck, or give it a longer request timeout",
        secs(*after)
    )]
    RequestTimeout { method: String, after: Duration },

    /// The connection ended (the stdio server exited, the HTTP session broke).
    #[error("the connection to {target} closed during {method}{detail}")]
    ConnectionClosed {
        target: String,
        method: String,
        detail: String,
    },

    /// The server answered, but not with what the method needs.
    #[error("{method}: unexpected answer from the server: {detail}")]
    Protocol { method: String, detail: String },

    /// A listing did not end within the page or item limits.
    #[error(
        "{method}: stopped after {pages} pages and {items} items: {reason}; a server should not list this much, treat it as suspect"
    )]
    ListingTooLong {
        method: String,
        pages: usize,
        items: usize,
        reason: String,
    },

    /// A transport-level failure while talking to the server.
    #[error("{method} to {target} failed: {detail}")]
    Transport {
        target: String,
        method: String,
        detail: String,
    },

    /// Closing the session did not finish cleanly.
    #[error("closing {target}: {detail}")]
    Close { target: String, detail: String },
}

/// `30 s`, `0.5 s`, `1.25 s`: durations in the unit people read timeouts in.
pub(crate) fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        let text = format!("{:.3}", d.as_secs_f64());
        format!("{} s", text.trim_end_matches('0').trim_end_matches('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_seconds() {
        assert_eq!(secs(Duration::from_secs(30)), "30 s");
        assert_eq!(secs(Duration::from_millis(500)), "0.5 s");
        assert_eq!(secs(Duration::from_millis(1250)), "1.25 s");
        assert_eq!(secs(Duration::from_millis(1)), "0.001 s");
    }

    #[test]
    fn unauthorized_names_the_header_to_pass() {
        let e = UpstreamError::Unauthorized {
            url: "http://127.0.0.1:1/mcp".into(),
            status: 401,
            challenge: Some("Bearer realm=\"x\"".into()),
        };
        let text = e.to_string();
        assert!(text.starts_with("HTTP 401 from http://127.0.0.1:1/mcp: the server wants authentication; pass --header 'Authorization: Bearer …'"), "{text}");
        assert!(text.contains("WWW-Authenticate: Bearer realm"), "{text}");
    }

    #[test]
    fn timeout_message_says_how_long() {
        let e = UpstreamError::InitializeTimeout {
            target: "`sleep 60`".into(),
            after: Duration::from_millis(300),
            hint: "it wrote nothing to stderr".into(),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("timed out after 0.3 s waiting for initialize from `sleep 60`"),
            "{text}"
        );
    }
}
