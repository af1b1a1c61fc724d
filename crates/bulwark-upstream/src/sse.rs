//! The legacy HTTP+SSE transport (MCP 2024-11-05), for servers that never moved to Streamable HTTP.
//!
//! rmcp 3.9 has no client for it, and it is small enough to write here on top of rmcp's
//! sink-and-stream transport: the client opens one long GET with `Accept: text/event-stream`; the
//! server's first `endpoint` event names the URL to POST each JSON-RPC message to; every message
//! from the server (responses, requests, notifications) arrives as a `message` event on the GET
//! stream. Event framing is parsed by `sse-stream`, the parser rmcp itself uses.
//!
//! The POST endpoint must be on the same origin as the SSE URL: the headers configured for the
//! upstream (often an API key) go with every POST, and a server must not be able to send them
//! elsewhere.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use futures::{Sink, Stream, StreamExt};
use http::{HeaderName, HeaderValue};
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use sse_stream::{Sse, SseStream};

use crate::UpstreamError;
use crate::http::chain;

/// Messages from the server, in order; ends when the GET stream does.
pub(crate) type Incoming = Pin<Box<dyn Stream<Item = RxJsonRpcMessage<RoleClient>> + Send>>;
/// Messages to the server: each one a POST to the endpoint.
pub(crate) type Outgoing =
    Pin<Box<dyn Sink<TxJsonRpcMessage<RoleClient>, Error = SendError> + Send>>;

/// A message could not be delivered to the server.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SendError(String);

/// Longest a single `message` event may be; a bigger one ends the connection.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Open the event stream at `url` and wait (up to `timeout`) for the server to name its endpoint.
pub(crate) async fn connect(
    url: &str,
    headers: HashMap<HeaderName, HeaderValue>,
    client: reqwest::Client,
    timeout: Duration,
) -> Result<(Outgoing, Incoming), UpstreamError> {
    let base = reqwest::Url::parse(url).map_err(|e| UpstreamError::Url {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let mut request = client
        .get(base.clone())
        .header(http::header::ACCEPT, "text/event-stream");
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let opened = async {
        let response = request.send().await.map_err(|e| connect_error(url, &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(status_error(url, status.as_u16(), response).await);
        }
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !content_type.starts_with("text/event-stream") {
            return Err(UpstreamError::Initialize {
                target: url.to_owned(),
                detail: format!(
                    "the answer to GET was {}, not an event stream; is this a legacy SSE endpoint (often `/sse`)? \
                     For Streamable HTTP use protocol `http`",
                    if content_type.is_empty() {
                        "untyped".to_owned()
                    } else {
                        format!("`{content_type}`")
                    }
                ),
                stderr: String::new(),
            });
        }
        let mut events = SseStream::from_bytes_stream(response.bytes_stream());
        loop {
            match events.next().await {
                Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                    let endpoint = endpoint_url(&base, event.data.as_deref().unwrap_or(""))
                        .map_err(|reason| UpstreamError::Protocol {
                            method: "connect".into(),
                            detail: format!("{url}: {reason}"),
                        })?;
                    return Ok((endpoint, events));
                }
                // Comments, pings or early messages before the endpoint: nothing to answer yet.
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    return Err(UpstreamError::Protocol {
                        method: "connect".into(),
                        detail: format!(
                            "{url}: the event stream broke before naming its endpoint: {e}"
                        ),
                    });
                }
                None => {
                    return Err(UpstreamError::Initialize {
                        target: url.to_owned(),
                        detail:
                            "the event stream ended before the server sent its `endpoint` event"
                                .to_owned(),
                        stderr: String::new(),
                    });
                }
            }
        }
    };
    let (endpoint, events) = match tokio::time::timeout(timeout, opened).await {
        Ok(found) => found?,
        Err(_) => {
            return Err(UpstreamError::InitializeTimeout {
                target: url.to_owned(),
                after: timeout,
                hint: "the server did not send an `endpoint` event; is this a legacy SSE endpoint?"
                    .to_owned(),
            });
        }
    };
    tracing::debug!(%url, %endpoint, "legacy SSE endpoint");
    Ok((
        outgoing(client, endpoint, headers),
        incoming(url.to_owned(), events),
    ))
}

/// The endpoint event's URI, resolved against the SSE URL; same origin only.
fn endpoint_url(base: &reqwest::Url, data: &str) -> Result<reqwest::Url, String> {
    let data = data.trim();
    if data.is_empty() {
        return Err("the `endpoint` event is empty".to_owned());
    }
    let endpoint = base
        .join(data)
        .map_err(|e| format!("the `endpoint` event `{data}` is not a URL: {e}"))?;
    if endpoint.origin() != base.origin() {
        return Err(format!(
            "the server names `{endpoint}` as its message endpoint, on another origin than the event stream; \
             refused, so that this upstream's headers are not sent elsewhere"
        ));
    }
    Ok(endpoint)
}

fn outgoing(
    client: reqwest::Client,
    endpoint: reqwest::Url,
    headers: HashMap<HeaderName, HeaderValue>,
) -> Outgoing {
    let state = (client, endpoint, headers);
    Box::pin(futures::sink::unfold(
        state,
        |(client, endpoint, headers), message: TxJsonRpcMessage<RoleClient>| async move {
            let body = serde_json::to_vec(&message)
                .map_err(|e| SendError(format!("could not encode the message: {e}")))?;
            let mut request = client
                .post(endpoint.clone())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body);
            for (name, value) in &headers {
                request = request.header(name, value);
            }
            let response = request
                .send()
                .await
                .map_err(|e| SendError(format!("POST {endpoint}: {}", chain(&e))))?;
            let status = response.status();
            if !status.is_success() {
                let text = response.text().await.unwrap_or_default();
                return Err(SendError(format!(
                    "POST {endpoint}: HTTP {status}{}",
                    said(&text)
                )));
            }
            Ok((client, endpoint, headers))
        },
    ))
}

fn incoming<S>(url: String, events: S) -> Incoming
where
    S: Stream<Item = Result<Sse, sse_stream::Error>> + Send + 'static,
{
    Box::pin(
        events
            .take_while(move |event| {
                let go_on = match event {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::warn!(%url, "legacy SSE stream broke: {e}");
                        false
                    }
                };
                futures::future::ready(go_on)
            })
            .filter_map(|event| futures::future::ready(event.ok().and_then(message))),
    )
}

/// A `message` event (or an unnamed one, the SSE default) carrying one JSON-RPC message. Anything
/// else, and a message that does not parse, is logged and skipped: one bad event must not end
/// the session.
fn message(event: Sse) -> Option<RxJsonRpcMessage<RoleClient>> {
    if !matches!(event.event.as_deref(), None | Some("message")) {
        return None;
    }
    let data = event.data?;
    if data.len() > MAX_EVENT_BYTES {
        tracing::warn!(bytes = data.len(), "legacy SSE message too large; skipped");
        return None;
    }
    match serde_json::from_str(&data) {
        Ok(message) => Some(message),
        Err(e) => {
            tracing::warn!("legacy SSE message is not JSON-RPC ({e}); skipped");
            None
        }
    }
}

fn connect_error(url: &str, e: &reqwest::Error) -> UpstreamError {
    UpstreamError::Connect {
        url: url.to_owned(),
        detail: chain(e),
    }
}

async fn status_error(url: &str, status: u16, response: reqwest::Response) -> UpstreamError {
    let challenge = response
        .headers()
        .get(http::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    let detail = format!("the server refused the event stream{}", said(&text));
    match crate::http::status_error(url, status, detail) {
        UpstreamError::Unauthorized { url, status, .. } => UpstreamError::Unauthorized {
            url,
            status,
            challenge,
        },
        other => other,
    }
}

/// `: <body>` (shortened) after a status, or nothing for an empty body.
fn said(body: &str) -> String {
    match body.trim() {
        "" => String::new(),
        text => format!(": {}", crate::http::shorten(text, 300)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> reqwest::Url {
        reqwest::Url::parse("http://127.0.0.1:8000/sse").unwrap()
    }

    #[test]
    fn endpoint_is_resolved_against_the_stream_url() {
        let e = endpoint_url(&base(), "/messages/?session_id=abc").unwrap();
        assert_eq!(e.as_str(), "http://127.0.0.1:8000/messages/?session_id=abc");
        let e = endpoint_url(&base(), "  message?sessionId=1\n").unwrap();
        assert_eq!(e.as_str(), "http://127.0.0.1:8000/message?sessionId=1");
        let e = endpoint_url(&base(), "http://127.0.0.1:8000/m").unwrap();
        assert_eq!(e.as_str(), "http://127.0.0.1:8000/m");
    }

    #[test]
    fn endpoint_on_another_origin_is_refused() {
        for other in [
            "http://evil.example/messages",
            "https://127.0.0.1:8000/messages",
            "http://127.0.0.1:8001/messages",
            "//evil.example/messages",
        ] {
            let err = endpoint_url(&base(), other).unwrap_err();
            assert!(err.contains("another origin"), "{other}: {err}");
        }
        assert!(endpoint_url(&base(), "").unwrap_err().contains("empty"));
        assert!(endpoint_url(&base(), "http://[::1").is_err());
    }

    #[test]
    fn only_message_events_with_json_rpc_are_passed_on() {
        let ok = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        assert!(message(Sse::default().event("message").data(ok)).is_some());
        assert!(
            message(Sse::default().data(ok)).is_some(),
            "unnamed events are messages"
        );
        assert!(message(Sse::default().event("endpoint").data(ok)).is_none());
        assert!(message(Sse::default().event("message").data("{not json")).is_none());
        assert!(message(Sse::default().event("message")).is_none());
    }
}
