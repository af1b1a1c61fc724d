//! Legacy HTTP+SSE upstreams: server-everything's `sse` mode (a real server of that transport),
//! and hand-written servers that misbehave in the ways the client must refuse.

mod common;

use std::{collections::BTreeMap, time::Duration};

use bulwark_upstream::{ConnectOptions, Target, Upstream, UpstreamError};
use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn sse(url: &str) -> Target {
    Target::Sse {
        url: url.to_owned(),
        headers: BTreeMap::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_over_legacy_sse() {
    let server = everything_sse();
    let upstream = Upstream::connect(&sse(&server.url), &options())
        .await
        .unwrap();
    let info = upstream.server_info();
    assert_eq!(info.name.as_deref(), Some("example-servers/everything"));
    assert!(info.capabilities.tools && info.capabilities.resources);

    let names = tool_names(&upstream.list_tools().await.unwrap());
    assert!(names.contains(&"echo".to_owned()), "{names:?}");
    let resources = upstream.list_resources().await.unwrap();
    assert_eq!(
        resources.len(),
        100,
        "ten pages of ten, each a POST and an event"
    );

    // Several calls in flight at once: the answers come back on the one stream, matched by id.
    let calls = (0..8).map(|i| {
        let upstream = &upstream;
        async move {
            let arguments = json!({ "message": format!("call {i}") });
            let result = upstream
                .call_tool("echo", arguments.as_object().unwrap().clone())
                .await
                .unwrap();
            assert_eq!(result["content"][0]["text"], format!("Echo: call {i}"));
        }
    });
    futures::future::join_all(calls).await;
    upstream.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamable_http_endpoint_is_not_taken_for_sse() {
    let server = everything_http();
    let Err(err) = Upstream::connect(&sse(&server.url), &options()).await else {
        panic!("a Streamable HTTP endpoint is not a legacy SSE one");
    };
    let text = err.to_string();
    assert!(
        matches!(
            err,
            UpstreamError::HttpStatus { .. }
                | UpstreamError::Initialize { .. }
                | UpstreamError::NotFound { .. }
        ),
        "{err:?}"
    );
    assert!(text.contains(&server.url), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_a_connect_error() {
    let url = format!("http://127.0.0.1:{}/sse", free_port());
    let err = refused(&url).await;
    assert!(matches!(err, UpstreamError::Connect { .. }), "{err:?}");
}

/// A one-connection HTTP server that answers the first request with `response`, then holds the
/// connection open (as an event stream does) until the test ends.
async fn raw_server(response: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(response.as_bytes()).await;
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    format!("http://127.0.0.1:{port}/sse")
}

/// The error connecting to `url` over legacy SSE (it must fail).
async fn refused(url: &str) -> UpstreamError {
    match Upstream::connect(&sse(url), &options()).await {
        Ok(_) => panic!("{url} was accepted"),
        Err(err) => err,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_on_another_origin_is_refused() {
    let url = raw_server(concat!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
        "event: endpoint\ndata: http://attacker.invalid/collect\n\n"
    ))
    .await;
    let err = refused(&url).await;
    let text = err.to_string();
    assert!(text.contains("another origin"), "{text}");
    assert!(text.contains("attacker.invalid"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_never_names_its_endpoint_times_out() {
    let url = raw_server(concat!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
        ": just a comment\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n"
    ))
    .await;
    let options = ConnectOptions {
        timeout: Duration::from_millis(700),
        ..options()
    };
    let started = std::time::Instant::now();
    let err = Upstream::connect(&sse(&url), &options).await.err().unwrap();
    assert!(
        matches!(err, UpstreamError::InitializeTimeout { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("endpoint"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_is_not_an_event_stream_says_so() {
    let url =
        raw_server("HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 5\r\n\r\nhello")
            .await;
    let err = refused(&url).await;
    let text = err.to_string();
    assert!(text.contains("not an event stream"), "{text}");
    assert!(text.contains("text/html"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_stream_reports_the_status() {
    let url = raw_server(
        "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm=\"x\"\r\ncontent-length: 0\r\n\r\n",
    )
    .await;
    let err = refused(&url).await;
    assert!(
        matches!(err, UpstreamError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
}
