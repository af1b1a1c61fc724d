//! The gateway against a real upstream (`@modelcontextprotocol/server-everything` from the
//! repository's `tools/npm`): what reaches the tool index, and what a caller may call.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bulwark_core::{CallContext, Content, ToolError, ToolOutput};
use bulwark_gateway::{
    Gateway, GatewayOptions, IndexedTool, Intent, ToolIndexSink, Transport, UpstreamSpec,
};
use serde_json::{Map, json};

fn everything_js() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        std::env::var("BULWARK_NODE_MODULES")
            .ok()
            .map(PathBuf::from),
        Some(root.join("tools/npm/node_modules")),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|d| d.join("@modelcontextprotocol/server-everything/dist/index.js"))
        .find(|p| p.is_file())
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl ToolIndexSink for Recorder {
    fn upsert_server(&self, server: &str, tools: &[IndexedTool]) {
        let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        names.sort();
        self.0
            .lock()
            .unwrap()
            .push(format!("upsert {server} {}", names.join(",")));
    }
    fn remove_server(&self, server: &str) {
        self.0.lock().unwrap().push(format!("remove {server}"));
    }
}

fn text(output: &ToolOutput) -> String {
    match output {
        ToolOutput::Done { content, .. } => content
            .iter()
            .filter_map(|c| match c {
                Content::Text(t) => Some(t.clone()),
                _ => None,
            })
            .collect(),
        other => format!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_approved_tools_reach_the_index_and_the_caller() {
    let Some(js) = everything_js() else {
        eprintln!("skipped: server-everything is not installed (npm ci in tools/npm)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::new(GatewayOptions::new(dir.path()));
    let recorder = Arc::new(Recorder::default());
    gateway.set_index(recorder.clone());
    let state = gateway.state().unwrap();
    state
        .add(
            UpstreamSpec {
                name: "everything".into(),
                transport: Transport::Stdio {
                    command: "node".into(),
                    args: vec![js.display().to_string(), "stdio".into()],
                    env: Default::default(),
                    cwd: None,
                    sandbox: Default::default(),
                },
                enabled: true,
            },
            bulwark_gateway::record::Origin::Cli,
        )
        .unwrap();

    // Inspected while quarantined: tools known, nothing indexed, nothing callable.
    let record = gateway.inspect("everything").await.unwrap();
    assert!(
        record.tools.contains_key("echo"),
        "{:?}",
        record.tools.keys()
    );
    assert!(recorder.0.lock().unwrap().is_empty());
    let ctx = CallContext::in_process("gateway");
    let mut args = Map::new();
    args.insert("message".into(), json!("hi"));
    let err = gateway
        .call(&ctx, "everything:echo", args.clone(), Intent::Any)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("quarantined"), "{err}");

    // Approve one tool: only it is indexed and callable.
    state.approve("everything", Some("echo")).unwrap();
    gateway.sync().unwrap();
    assert_eq!(
        recorder.0.lock().unwrap().as_slice(),
        ["upsert everything echo"]
    );
    let out = gateway
        .call(&ctx, "everything:echo", args.clone(), Intent::Any)
        .await
        .unwrap();
    assert_eq!(text(&out), "Echo: hi");
    let err = gateway
        .call(&ctx, "everything:add", Map::new(), Intent::Any)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("bulwark upstream approve everything add"),
        "{err}"
    );

    // A caller without the destructive scope cannot reach a tool that does not say it is safe.
    let mut limited = CallContext::in_process("gateway");
    limited.scopes = Some(vec!["mcp".to_string()].into());
    let err = gateway
        .call(&limited, "everything:echo", args.clone(), Intent::Any)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ToolError::Forbidden(ref s) if s == "tools:destructive"),
        "{err}"
    );

    // Quarantine again: removed from the index.
    state.quarantine("everything").unwrap();
    gateway.sync().unwrap();
    assert_eq!(
        recorder.0.lock().unwrap().last().unwrap(),
        "remove everything"
    );
    let err = gateway
        .call(&ctx, "everything:echo", args, Intent::Any)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("quarantined"), "{err}");
}
