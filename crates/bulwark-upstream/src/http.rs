//! The Streamable HTTP side: building rmcp's reqwest transport and naming its failures.
//!
//! TLS: rmcp's HTTP client is reqwest 0.13, whose `rustls` feature brings aws-lc-rs, too slow to
//! build in CI. We take rmcp's `reqwest-tls-no-provider` (reqwest's `rustls-no-provider`) and
//! install rustls's ring provider, which the workspace already builds for reqwest 0.12. Writing
//! rmcp's `StreamableHttpClient` trait over reqwest 0.12 instead would save compiling one more
//! reqwest, but means re-implementing SSE parsing, session headers and the status handling that
//! rmcp's client already gets right; the extra reqwest is the smaller cost.

use std::collections::{BTreeMap, HashMap};

use http::{HeaderName, HeaderValue};
use rmcp::{
    service::ClientInitializeError,
    transport::{
        StreamableHttpClientTransport,
        streamable_http_client::{StreamableHttpClientTransportConfig, StreamableHttpError},
    },
};

use crate::{ConnectOptions, UpstreamError};

/// Headers rmcp sets itself; a user value would break the session.
const RESERVED: &[&str] = &["accept", "mcp-session-id", "last-event-id", "content-type"];

/// Install ring as rustls's process-wide provider unless one already is.
pub(crate) fn install_crypto_provider() {
    // Err means another provider was installed first (by us or the host program): keep it.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub(crate) fn check_url(url: &str) -> Result<(), UpstreamError> {
    let bad = |reason: &str| UpstreamError::Url {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(bad(&format!("scheme `{other}` is not http or https"))),
        None => return Err(bad("no scheme")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    Ok(())
}

pub(crate) fn headers(
    given: &BTreeMap<String, String>,
) -> Result<HashMap<HeaderName, HeaderValue>, UpstreamError> {
    let mut out = HashMap::new();
    for (name, value) in given {
        let bad = |reason: String| UpstreamError::Header {
            name: name.clone(),
            reason,
        };
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| bad("not a valid HTTP header name".into()))?;
        if RESERVED.contains(&header.as_str()) {
            return Err(bad(
                "bulwark sets this header itself for the MCP session; leave it out".into(),
            ));
        }
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| bad("the value has characters HTTP headers cannot carry".into()))?;
        out.insert(header, value);
    }
    Ok(out)
}

/// The HTTP client that rmcp's transport and the OAuth client share.
pub(crate) fn client(
    url: &str,
    options: &ConnectOptions,
) -> Result<reqwest::Client, UpstreamError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(options.timeout)
        .user_agent(concat!("bulwark/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| UpstreamError::Connect {
            url: url.to_owned(),
            detail: format!("could not set up the HTTP client: {}", chain(&e)),
        })
}

pub(crate) fn transport<C: rmcp::transport::streamable_http_client::StreamableHttpClient>(
    url: &str,
    headers: HashMap<HeaderName, HeaderValue>,
    client: C,
) -> StreamableHttpClientTransport<C> {
    let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
    StreamableHttpClientTransport::with_client(client, config)
}

/// Turn a failed `initialize` over HTTP into an error that says what to do.
pub(crate) fn initialize_error(url: &str, error: &ClientInitializeError) -> UpstreamError {
    let found = match error {
        // `TransportError` does not expose its error as a `source()`: look inside ourselves.
        ClientInitializeError::TransportError { error, .. } => classify(url, error),
        other => classify(url, other),
    };
    found.unwrap_or_else(|| UpstreamError::Initialize {
        target: url.to_owned(),
        detail: describe_initialize_error(error),
        stderr: String::new(),
    })
}

/// A failed `initialize` in words, without rmcp's transport type names.
pub(crate) fn describe_initialize_error(error: &ClientInitializeError) -> String {
    match error {
        ClientInitializeError::JsonRpcError(data) => format!(
            "the server answered initialize with error {}: {}",
            data.code.0, data.message
        ),
        ClientInitializeError::ConnectionClosed(_) => {
            "the connection closed before the server answered".to_owned()
        }
        ClientInitializeError::TransportError { error, context } => {
            let inner = match std::error::Error::source(error) {
                Some(inner) => chain(inner),
                None => error.to_string(),
            };
            format!("{inner} (while trying to {context})")
        }
        other => chain(other),
    }
}

/// Walk the error's sources for an HTTP status or a connection failure.
pub(crate) fn classify(
    url: &str,
    error: &(dyn std::error::Error + 'static),
) -> Option<UpstreamError> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(found) = e
            .downcast_ref::<StreamableHttpError<reqwest::Error>>()
            .and_then(|e| from_streamable(url, e))
        {
            return Some(found);
        }
        if let Some(found) = e
            .downcast_ref::<reqwest::Error>()
            .and_then(|e| from_reqwest(url, e))
        {
            return Some(found);
        }
        current = e.source();
    }
    // Some failures only survive as text ("HTTP 404 Not Found: …").
    status_from_text(url, &chain(error))
}

fn from_streamable(url: &str, e: &StreamableHttpError<reqwest::Error>) -> Option<UpstreamError> {
    match e {
        StreamableHttpError::AuthRequired(auth) => Some(UpstreamError::Unauthorized {
            url: url.to_owned(),
            status: 401,
            challenge: Some(auth.www_authenticate_header.clone()),
        }),
        StreamableHttpError::InsufficientScope(scope) => Some(UpstreamError::Unauthorized {
            url: url.to_owned(),
            status: 403,
            challenge: Some(scope.www_authenticate_header.clone()),
        }),
        StreamableHttpError::HttpStatus(status) => Some(status_error(
            url,
            status.status,
            format!(
                "the server failed{}",
                retry_after(status.retry_after.as_deref())
            ),
        )),
        StreamableHttpError::Client(e) => from_reqwest(url, e),
        StreamableHttpError::UnexpectedServerResponse(text) => status_from_text(url, text),
        StreamableHttpError::UnexpectedContentType(ct) => Some(UpstreamError::Initialize {
            target: url.to_owned(),
            detail: format!(
                "the answer was {}, not JSON or an event stream; is this an MCP endpoint?",
                ct.as_deref()
                    .map_or("untyped".to_owned(), |ct| format!("`{ct}`"))
            ),
            stderr: String::new(),
        }),
        _ => None,
    }
}

fn retry_after(value: Option<&str>) -> String {
    value
        .map(|v| format!(" (Retry-After: {v})"))
        .unwrap_or_default()
}

fn from_reqwest(url: &str, e: &reqwest::Error) -> Option<UpstreamError> {
    if let Some(status) = e.status() {
        return Some(status_error(url, status.as_u16(), chain(e)));
    }
    if e.is_connect() || e.is_timeout() {
        return Some(UpstreamError::Connect {
            url: url.to_owned(),
            detail: innermost(e),
        });
    }
    None
}

pub(crate) fn status_error(url: &str, status: u16, detail: String) -> UpstreamError {
    match status {
        401 | 403 => UpstreamError::Unauthorized {
            url: url.to_owned(),
            status,
            challenge: None,
        },
        404 => UpstreamError::NotFound {
            url: url.to_owned(),
        },
        _ => UpstreamError::HttpStatus {
            url: url.to_owned(),
            status,
            detail,
        },
    }
}

/// rmcp reports statuses without a dedicated variant as `HTTP 404 Not Found: <body>`.
fn status_from_text(url: &str, text: &str) -> Option<UpstreamError> {
    let at = text.find("HTTP ")?;
    let rest = &text[at + 5..];
    let code: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let status: u16 = code.parse().ok().filter(|s| (400..600).contains(s))?;
    let body = rest.split_once(": ").map_or("", |(_, body)| body).trim();
    let detail = if body.is_empty() {
        "the server refused the request".to_owned()
    } else {
        format!("the server said: {}", shorten(body, 300))
    };
    Some(status_error(url, status, detail))
}

pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The deepest source's message: for a refused connection, "Connection refused (os error 111)".
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// An error and its sources, `a: b: c`, skipping a source already in its parent's message.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut current = e.source();
    while let Some(source) = current {
        let next = source.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        current = source.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http() {
        assert!(check_url("http://127.0.0.1:3001/mcp").is_ok());
        assert!(check_url("https://example.invalid/mcp").is_ok());
        for bad in [
            "ftp://x/mcp",
            "127.0.0.1:3001/mcp",
            "/mcp",
            "http://",
            "not a url",
        ] {
            let err = check_url(bad).unwrap_err();
            assert!(matches!(err, UpstreamError::Url { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn headers_are_checked() {
        let mut given = BTreeMap::new();
        given.insert("Authorization".to_owned(), "Bearer abc".to_owned());
        given.insert("X-Api-Key".to_owned(), " k ".to_owned());
        let out = headers(&given).unwrap();
        assert_eq!(out[&HeaderName::from_static("authorization")], "Bearer abc");
        assert_eq!(out[&HeaderName::from_static("x-api-key")], "k");

        for (name, value) in [
            ("Mcp-Session-Id", "x"),
            ("bad header", "x"),
            ("X-Ok", "a\nb"),
        ] {
            let mut given = BTreeMap::new();
            given.insert(name.to_owned(), value.to_owned());
            let err = headers(&given).unwrap_err();
            assert!(matches!(err, UpstreamError::Header { .. }), "{name}: {err}");
        }
    }

    #[test]
    fn statuses_in_text_are_found() {
        let e = status_from_text(
            "http://h/mcp",
            "unexpected server response: HTTP 404 Not Found: Cannot POST /x",
        )
        .unwrap();
        assert!(matches!(e, UpstreamError::NotFound { .. }), "{e}");
        let e = status_from_text("http://h/mcp", "HTTP 401 Unauthorized: {}").unwrap();
        assert!(
            matches!(e, UpstreamError::Unauthorized { status: 401, .. }),
            "{e}"
        );
        let e = status_from_text("http://h/mcp", "HTTP 400 Bad Request: nope").unwrap();
        assert_eq!(
            e.to_string(),
            "HTTP 400 from http://h/mcp: the server said: nope"
        );
        assert!(status_from_text("http://h/mcp", "HTTP 200 fine").is_none());
        assert!(status_from_text("http://h/mcp", "no status here").is_none());
    }
}
