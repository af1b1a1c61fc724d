//! stdio upstreams: real servers from npm (server-everything, server-filesystem) and real
//! commands that fail in the ways servers do.

mod common;

use std::{collections::BTreeMap, time::Duration};

use bulwark_upstream::{ConnectOptions, StderrMode, Target, Upstream, UpstreamError};
use common::*;
use serde_json::{Map, Value, json};

fn args(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_over_stdio() {
    let upstream = Upstream::connect(&everything_stdio(), &options())
        .await
        .unwrap();

    let info = upstream.server_info();
    assert_eq!(info.name.as_deref(), Some("example-servers/everything"));
    assert!(info.version.is_some());
    assert_eq!(info.protocol_version, "2025-11-25");
    assert!(info.capabilities.tools);
    assert!(info.capabilities.prompts);
    assert!(info.capabilities.resources);
    assert!(info.capabilities.resource_subscribe);
    assert!(info.capabilities.logging);
    assert!(
        info.instructions.as_deref().is_some_and(|i| !i.is_empty()),
        "server-everything sends instructions: {info:?}"
    );

    let tools = upstream.list_tools().await.unwrap();
    let names = tool_names(&tools);
    for expected in [
        "echo",
        "add",
        "printEnv",
        "longRunningOperation",
        "getTinyImage",
    ] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} missing from {names:?}"
        );
    }
    let echo = tools.iter().find(|t| t["name"] == "echo").unwrap();
    assert!(
        echo["description"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("echo")
    );
    assert_eq!(echo["inputSchema"]["type"], "object");
    assert!(
        echo["inputSchema"]["properties"]["message"].is_object(),
        "{echo}"
    );

    let prompts = upstream.list_prompts().await.unwrap();
    let prompt_names = tool_names(&prompts);
    assert!(
        prompt_names.contains(&"simple_prompt".to_owned()),
        "{prompt_names:?}"
    );
    assert!(
        prompt_names.contains(&"complex_prompt".to_owned()),
        "{prompt_names:?}"
    );
    let complex = prompts
        .iter()
        .find(|p| p["name"] == "complex_prompt")
        .unwrap();
    assert_eq!(complex["arguments"][0]["name"], "temperature", "{complex}");

    // 100 resources, 10 to a page: the listing must follow nextCursor nine times.
    let resources = upstream.list_resources().await.unwrap();
    assert_eq!(resources.len(), 100, "all pages");
    assert_eq!(resources[0]["uri"], "test://static/resource/1");
    assert_eq!(resources[99]["uri"], "test://static/resource/100");
    let uris: std::collections::HashSet<_> = resources
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris.len(), 100, "no page twice");

    let templates = upstream.list_resource_templates().await.unwrap();
    assert_eq!(templates[0]["uriTemplate"], "test://static/resource/{id}");

    let result = upstream
        .call_tool("echo", args(json!({ "message": "hello upstream" })))
        .await
        .unwrap();
    assert_eq!(result["content"][0]["type"], "text");
    assert_eq!(result["content"][0]["text"], "Echo: hello upstream");
    assert_ne!(result["isError"], true);

    let sum = upstream
        .call_tool("add", args(json!({ "a": 2, "b": 40 })))
        .await
        .unwrap();
    assert!(
        sum["content"][0]["text"].as_str().unwrap().contains("42"),
        "{sum}"
    );

    let pid = upstream.pid().expect("a stdio server has a pid");
    assert!(alive(pid));
    upstream.close().await.unwrap();
    assert!(!alive(pid), "close() waits for the server to exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tool_is_a_protocol_error_and_bad_arguments_a_result() {
    let upstream = Upstream::connect(&everything_stdio(), &options())
        .await
        .unwrap();
    let err = upstream
        .call_tool("no_such_tool", Map::new())
        .await
        .expect_err("unknown tool");
    match &err {
        UpstreamError::Rpc {
            method, message, ..
        } => {
            assert_eq!(method, "tools/call");
            assert!(message.contains("no_such_tool"), "{err}");
        }
        // Newer SDKs answer an unknown tool with an isError result instead.
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
    assert!(
        err.to_string()
            .starts_with("tools/call failed: the server answered with error")
    );
    upstream.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_reaches_the_server() {
    let mut env = BTreeMap::new();
    env.insert("BULWARK_UPSTREAM_TEST".to_owned(), "marker-1234".to_owned());
    let target = Target::Stdio {
        command: node(),
        args: vec![everything_js(), "stdio".to_owned()],
        env,
        cwd: None,
    };
    let upstream = Upstream::connect(&target, &options()).await.unwrap();
    let result = upstream.call_tool("printEnv", Map::new()).await.unwrap();
    let text = result["content"][0]["text"].as_str().unwrap();
    let env: Value = serde_json::from_str(text).unwrap();
    assert_eq!(env["BULWARK_UPSTREAM_TEST"], "marker-1234");
    upstream.close().await.unwrap();

    // Leading NAME=value words of a command line work the same way.
    let target =
        Target::parse_command_line("GREETING=hi-there sh -c 'echo $GREETING >&2; exit 1'").unwrap();
    let err = Upstream::connect(&target, &options()).await.unwrap_err();
    assert!(
        err.to_string().ends_with("its stderr said: hi-there"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn working_directory_is_the_servers() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::Stdio {
        command: "sh".into(),
        args: vec!["-c".into(), "pwd -P >&2; exit 1".into()],
        env: BTreeMap::new(),
        cwd: Some(dir.path().to_path_buf()),
    };
    let err = Upstream::connect(&target, &options()).await.unwrap_err();
    let expected = dir.path().canonicalize().unwrap();
    assert!(
        err.to_string()
            .ends_with(&format!("its stderr said: {}", expected.display())),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filesystem_server_with_a_temp_root() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("hello.txt"), "hi from the test").unwrap();
    let root_path = root.path().canonicalize().unwrap().display().to_string();
    let target = Target::stdio(node(), [filesystem_js(), root_path.clone()]);
    let upstream = Upstream::connect(&target, &options()).await.unwrap();

    let info = upstream.server_info();
    assert!(info.name.is_some_and(|n| n.contains("filesystem")));
    let tools = upstream.list_tools().await.unwrap();
    let names = tool_names(&tools);
    for expected in [
        "read_text_file",
        "write_file",
        "list_directory",
        "list_allowed_directories",
    ] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} missing from {names:?}"
        );
    }
    // Declares no prompts: the list is empty without asking.
    assert!(!info.capabilities.prompts);
    assert!(upstream.list_prompts().await.unwrap().is_empty());

    let listing = upstream
        .call_tool("list_directory", args(json!({ "path": root_path })))
        .await
        .unwrap();
    assert!(
        listing["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("hello.txt"),
        "{listing}"
    );
    // Outside the root: the tool fails, as a result with isError, not a protocol error.
    let denied = upstream
        .call_tool("read_text_file", args(json!({ "path": "/etc/hostname" })))
        .await
        .unwrap();
    assert_eq!(denied["isError"], true, "{denied}");
    upstream.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_without_close_leaves_no_process() {
    let upstream = Upstream::connect(&everything_stdio(), &options())
        .await
        .unwrap();
    let pid = upstream.pid().unwrap();
    assert!(alive(pid));
    drop(upstream);
    assert!(
        gone_within(pid, Duration::from_secs(2)).await,
        "server {pid} still running 2 s after the Upstream was dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_sigterm_is_killed() {
    // Speaks MCP through node, under a shell that ignores SIGTERM and does not exit on stdin EOF:
    // only SIGKILL to the group ends it.
    let script = format!(
        "trap '' TERM; '{}' '{}' stdio; while :; do sleep 0.1; done",
        node(),
        everything_js()
    );
    let target = Target::stdio("sh", ["-c".to_owned(), script]);
    let upstream = Upstream::connect(&target, &options()).await.unwrap();
    assert!(!upstream.list_tools().await.unwrap().is_empty());
    let pid = upstream.pid().unwrap();
    drop(upstream);
    assert!(
        alive(pid),
        "SIGTERM is ignored, so it is still there at first"
    );
    assert!(
        gone_within(pid, Duration::from_secs(3)).await,
        "SIGKILL follows the grace period"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_kills_a_server_that_does_not_exit_on_eof() {
    let script = format!(
        "trap '' TERM; '{}' '{}' stdio; while :; do sleep 0.1; done",
        node(),
        everything_js()
    );
    let target = Target::stdio("sh", ["-c".to_owned(), script]);
    let upstream = Upstream::connect(&target, &options()).await.unwrap();
    let pid = upstream.pid().unwrap();
    let started = std::time::Instant::now();
    upstream.close().await.unwrap();
    assert!(!alive(pid));
    // EOF wait, SIGTERM wait, then SIGKILL: about 4 s, well under the 5 + 6 s a stuck close would take.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_not_found() {
    let target = Target::parse_command_line("bulwark-no-such-command-xyz --flag").unwrap();
    let err = Upstream::connect(&target, &options()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not start `bulwark-no-such-command-xyz`: not found on PATH; install it or give its full path"
    );
    let target = Target::stdio("/no/such/dir/server", Vec::<String>::new());
    let err = Upstream::connect(&target, &options()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not start `/no/such/dir/server`: no such file; check the path"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_working_directory() {
    let target = Target::Stdio {
        command: "true".into(),
        args: vec![],
        env: BTreeMap::new(),
        cwd: Some("/no/such/dir".into()),
    };
    let err = Upstream::connect(&target, &options()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not start `true`: working directory /no/such/dir does not exist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_that_exits_at_once_is_quoted() {
    let target = Target::parse_command_line("sh -c 'echo boom >&2; exit 3'").unwrap();
    let err = Upstream::connect(&target, &options()).await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::ExitedBeforeInitialize { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "server `sh -c 'echo boom >&2; exit 3'` exited before initialize (exit status 3); its stderr said: boom"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_that_exits_silently() {
    let target = Target::parse_command_line("sh -c 'exit 0'").unwrap();
    let err = Upstream::connect(&target, &options()).await.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("exited before initialize (exit status 0); it wrote nothing to stderr"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_that_never_speaks_times_out_and_is_killed() {
    let options = ConnectOptions {
        timeout: Duration::from_millis(500),
        ..options()
    };
    let target =
        Target::parse_command_line("sh -c 'echo waiting >&2; exec sleep 61.2345'").unwrap();
    let started = std::time::Instant::now();
    let err = Upstream::connect(&target, &options).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, UpstreamError::InitializeTimeout { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("timed out after 0.5 s waiting for initialize from `sh -c 'echo waiting >&2; exec sleep 61.2345'`; is it an MCP server speaking JSON-RPC on stdio?"),
        "{text}"
    );
    assert!(text.ends_with("its stderr said: waiting"), "{text}");
    // And the sleeper is gone: it got SIGTERM when the attempt was given up.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !processes_running("sleep 61.2345").is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(processes_running("sleep 61.2345"), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stderr_modes() {
    let quiet = ConnectOptions {
        stderr: StderrMode::Discard,
        ..options()
    };
    let target = Target::parse_command_line("sh -c 'echo boom >&2; exit 3'").unwrap();
    let err = Upstream::connect(&target, &quiet).await.unwrap_err();
    assert!(
        err.to_string().ends_with("its stderr was discarded"),
        "{err}"
    );

    // Capture keeps the end of a long stderr.
    let small = ConnectOptions {
        stderr: StderrMode::Capture(16),
        ..options()
    };
    let target =
        Target::parse_command_line("sh -c 'echo 0123456789abcdefghijklmnop >&2; exit 1'").unwrap();
    let err = Upstream::connect(&target, &small).await.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("its stderr ended with: …bcdefghijklmnop"),
        "{err}"
    );

    // A running server's stderr is readable.
    let upstream = Upstream::connect(&everything_stdio(), &options())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        upstream
            .stderr()
            .await
            .contains("Starting default (STDIO) server"),
        "{:?}",
        upstream.stderr().await
    );
    upstream.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_and_a_server_that_dies_mid_session() {
    let short = ConnectOptions {
        request_timeout: Duration::from_millis(300),
        ..options()
    };
    let upstream = Upstream::connect(&everything_stdio(), &short)
        .await
        .unwrap();
    // longRunningOperation takes `duration` seconds.
    let err = upstream
        .call_tool(
            "longRunningOperation",
            args(json!({ "duration": 5, "steps": 5 })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpstreamError::RequestTimeout { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("timed out after 0.3 s waiting for the answer to tools/call"),
        "{err}"
    );

    // Kill the server under the session: the next request says it exited.
    let pid = upstream.pid().unwrap();
    // SAFETY: signalling a process we started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    // (It stays a zombie until the session reaps it while reporting the failure.)
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = upstream.list_tools().await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, UpstreamError::ConnectionClosed { .. }),
        "{err:?}"
    );
    assert!(text.contains("during tools/list"), "{text}");
    assert!(
        text.contains("the server exited (killed by signal 9)"),
        "{text}"
    );
    upstream.close().await.unwrap();
    assert!(!alive(pid), "reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grandchildren_go_with_the_server() {
    // Like `npx`, a wrapper whose server starts other processes: here a `sleep` in the
    // background that never reads stdin, so only a signal to the whole group ends it.
    let script = format!(
        "sleep 61.777 & '{}' '{}' stdio; wait",
        node(),
        everything_js()
    );
    let target = Target::stdio("sh", ["-c".to_owned(), script]);
    let upstream = Upstream::connect(&target, &options()).await.unwrap();
    assert!(!upstream.list_tools().await.unwrap().is_empty());
    let wrapper = upstream.pid().unwrap();
    let sleepers = processes_running("sleep 61.777");
    let sleepers: Vec<u32> = sleepers.into_iter().filter(|p| *p != wrapper).collect();
    assert_eq!(sleepers.len(), 1, "{sleepers:?}");
    drop(upstream);
    assert!(
        gone_within(wrapper, Duration::from_secs(2)).await,
        "wrapper"
    );
    assert!(
        gone_within(sleepers[0], Duration::from_secs(2)).await,
        "the background process of the server's group"
    );

    // close() too.
    let script = format!(
        "sleep 61.778 & '{}' '{}' stdio; wait",
        node(),
        everything_js()
    );
    let target = Target::stdio("sh", ["-c".to_owned(), script]);
    let upstream = Upstream::connect(&target, &options()).await.unwrap();
    let wrapper = upstream.pid().unwrap();
    let sleepers = processes_running("sleep 61.778");
    let sleepers: Vec<u32> = sleepers.into_iter().filter(|p| *p != wrapper).collect();
    assert_eq!(sleepers.len(), 1, "{sleepers:?}");
    upstream.close().await.unwrap();
    assert!(gone_within(sleepers[0], Duration::from_secs(2)).await);
}
