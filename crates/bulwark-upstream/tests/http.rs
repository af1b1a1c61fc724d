//! Streamable HTTP upstreams: server-everything's HTTP mode, the TypeScript SDK's example server
//! behind OAuth, bulwark itself, and addresses where nothing (or nothing MCP) answers.

mod common;

use std::{collections::BTreeMap, time::Duration};

use bulwark_upstream::{ConnectOptions, Target, Upstream, UpstreamError};
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_over_http() {
    let server = everything_http();
    let upstream = Upstream::connect(&Target::http(&server.url), &options())
        .await
        .unwrap();
    assert_eq!(upstream.pid(), None);

    let info = upstream.server_info();
    assert_eq!(info.name.as_deref(), Some("example-servers/everything"));
    assert_eq!(info.protocol_version, "2025-11-25");
    assert!(info.capabilities.tools && info.capabilities.prompts && info.capabilities.resources);

    let names = tool_names(&upstream.list_tools().await.unwrap());
    assert!(names.contains(&"echo".to_owned()), "{names:?}");
    assert!(names.contains(&"add".to_owned()), "{names:?}");
    let prompts = tool_names(&upstream.list_prompts().await.unwrap());
    assert!(prompts.contains(&"simple_prompt".to_owned()), "{prompts:?}");
    let resources = upstream.list_resources().await.unwrap();
    assert_eq!(resources.len(), 100, "ten pages of ten");
    assert_eq!(resources[57]["uri"], "test://static/resource/58");

    let arguments = json!({ "message": "over http" });
    let result = upstream
        .call_tool("echo", arguments.as_object().unwrap().clone())
        .await
        .unwrap();
    assert_eq!(result["content"][0]["text"], "Echo: over http");
    upstream.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_are_sent() {
    // server-everything's printEnv cannot see headers, but a header the transport rejects is
    // caught before any request; a valid one is sent without breaking the session.
    let server = everything_http();
    let mut headers = BTreeMap::new();
    headers.insert("X-Bulwark-Test".to_owned(), "1".to_owned());
    let target = Target::Http {
        url: server.url.clone(),
        headers,
    };
    let upstream = Upstream::connect(&target, &options()).await.unwrap();
    assert!(!upstream.list_tools().await.unwrap().is_empty());
    upstream.close().await.unwrap();

    let mut headers = BTreeMap::new();
    headers.insert("Mcp-Session-Id".to_owned(), "mine".to_owned());
    let target = Target::Http {
        url: server.url.clone(),
        headers,
    };
    let err = Upstream::connect(&target, &options()).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Header { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_path_is_404() {
    let server = everything_http();
    let url = server.url.replace("/mcp", "/not-mcp");
    let err = Upstream::connect(&Target::http(&url), &options())
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::NotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "HTTP 404 from {url}: nothing serves MCP at this path; check the URL (most servers use /mcp)"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_protected_server_is_401() {
    // The TypeScript SDK's example server with --oauth: /mcp wants a bearer token.
    let mcp_port = free_port();
    let auth_port = free_port();
    let server = start_http(
        &node(),
        &[&sdk_example_js("simpleStreamableHttp"), "--oauth"],
        &[
            ("MCP_PORT", mcp_port.to_string()),
            ("MCP_AUTH_PORT", auth_port.to_string()),
        ],
        mcp_port,
        "/mcp",
    );
    let err = Upstream::connect(&Target::http(&server.url), &options())
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpstreamError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "HTTP 401 from {}: the server wants authentication; pass --header 'Authorization: Bearer …'",
            server.url
        )),
        "{text}"
    );
    assert!(
        text.contains("resource_metadata"),
        "the challenge is quoted: {text}"
    );

    // This example server cannot check a made-up token (its introspection call fails) and
    // answers 500: a server failure, reported as one.
    let mut headers = BTreeMap::new();
    headers.insert(
        "Authorization".to_owned(),
        "Bearer not-a-real-token".to_owned(),
    );
    let target = Target::Http {
        url: server.url.clone(),
        headers,
    };
    let err = Upstream::connect(&target, &options()).await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::HttpStatus { status: 500, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("HTTP 500 from {}: ", server.url)),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused() {
    let port = free_port(); // free, so nothing listens there
    let url = format!("http://127.0.0.1:{port}/mcp");
    let started = std::time::Instant::now();
    let err = Upstream::connect(&Target::http(&url), &options())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, UpstreamError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("could not connect to {url}: ")),
        "{text}"
    );
    assert!(text.contains("refused"), "{text}");
    assert!(
        text.ends_with("is the server running and listening there?"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_never_answers_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let options = ConnectOptions {
        timeout: Duration::from_millis(700),
        ..options()
    };
    let err = Upstream::connect(&Target::http(&url), &options)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "timed out after 0.7 s waiting for initialize from {url}; is an MCP server answering at this URL?"
        )
    );
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_are_refused_before_connecting() {
    for url in ["ftp://127.0.0.1/mcp", "127.0.0.1:3001/mcp", ""] {
        let err = Upstream::connect(&Target::http(url), &options())
            .await
            .unwrap_err();
        assert!(matches!(err, UpstreamError::Url { .. }), "{url}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulwark_itself() {
    let Some(binary) = bulwark_binary() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let server = start_bulwark(&binary, &["--profile", "core"], data.path());
    let upstream = Upstream::connect(&Target::http(&server.url), &options())
        .await
        .unwrap();
    let info = upstream.server_info();
    assert!(
        info.name.as_deref().is_some_and(|n| n.contains("bulwark")),
        "{info:?}"
    );
    assert!(info.capabilities.tools);
    let tools = upstream.list_tools().await.unwrap();
    assert!(!tools.is_empty());
    for tool in &tools {
        assert!(
            tool["name"].is_string() && tool["inputSchema"].is_object(),
            "{tool}"
        );
    }
    // Prompts and resources: whatever bulwark declares, listing them must work.
    upstream.list_prompts().await.unwrap();
    upstream.list_resources().await.unwrap();
    let unknown = upstream
        .call_tool("no_such_bulwark_tool", serde_json::Map::new())
        .await;
    assert!(unknown.is_err() || unknown.unwrap()["isError"] == true);
    upstream.close().await.unwrap();
    drop(server);

    // With API keys on, bulwark answers 401 and says how to authenticate.
    let data = tempfile::tempdir().unwrap();
    let server = start_bulwark(&binary, &["--auth", "api-key"], data.path());
    let err = Upstream::connect(&Target::http(&server.url), &options())
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpstreamError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_gone_mid_session() {
    let server = everything_http();
    let url = server.url.clone();
    let short = ConnectOptions {
        request_timeout: Duration::from_secs(5),
        ..options()
    };
    let upstream = Upstream::connect(&Target::http(&url), &short)
        .await
        .unwrap();
    drop(server);
    let err = upstream.list_tools().await.unwrap_err();
    // The next POST finds nothing listening.
    assert!(matches!(err, UpstreamError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("could not connect to {url}: ")),
        "{err}"
    );
    upstream.close().await.unwrap();
}
