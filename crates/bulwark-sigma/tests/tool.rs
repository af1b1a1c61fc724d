//! The `hunt_sigma` tool as the registry declares it, called in process.

use bulwark_core::{CallContext, Registry, ToolOutput};
use serde_json::{Value, json};

const RULE: &str = "title: Whoami
id: 88888888-8888-8888-8888-888888888888
author: Tester
logsource:
    product: windows
    category: process_creation
detection:
    sel:
        CommandLine|contains: 'whoami'
    condition: sel
level: high
";

fn registry() -> Registry {
    let mut builder = Registry::builder();
    bulwark_sigma::register(&mut builder);
    builder.build(None).unwrap()
}

async fn call(args: Value) -> Result<Value, String> {
    let registry = registry();
    let tool = registry.tool("hunt_sigma").expect("hunt_sigma is declared");
    let args = args.as_object().unwrap().clone();
    match tool
        .handler
        .call(CallContext::in_process("analysis"), args)
        .await
    {
        Ok(ToolOutput::Done {
            structured: Some(value),
            ..
        }) => Ok(value),
        Ok(other) => Err(format!("no structured content: {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn declared_read_only_in_analysis() {
    let registry = registry();
    let tool = registry.tool("hunt_sigma").unwrap();
    assert!(tool.profiles.iter().any(|p| p == "analysis"));
    assert!(tool.hints.read_only);
    assert!(tool.output_schema.is_some());
    assert!(
        registry
            .profile("analysis")
            .unwrap()
            .tool("hunt_sigma")
            .is_some()
    );
    assert!(
        registry
            .profile("all")
            .unwrap()
            .tool("hunt_sigma")
            .is_some()
    );
}

#[tokio::test]
async fn hunts_and_reports_rejected_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("whoami.yml"), RULE).unwrap();
    std::fs::write(rules.join("bad.yml"), RULE.replace("|contains", "|nope")).unwrap();
    let log = dir.path().join("events.jsonl");
    std::fs::write(
        &log,
        "{\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"EventID\":1,\"CommandLine\":\"whoami /all\",\"Computer\":\"pc1\"}\n",
    )
    .unwrap();
    let out = call(json!({"rules": [rules], "paths": [log]}))
        .await
        .unwrap();
    assert_eq!(out["summary"]["rules_loaded"], 1);
    assert_eq!(out["summary"]["rules_rejected"], 1);
    assert_eq!(out["summary"]["detections"], 1);
    let d = &out["detections"][0];
    assert_eq!(d["title"], "Whoami");
    assert_eq!(d["author"], "Tester");
    assert_eq!(d["host"], "pc1");
    assert_eq!(d["matched_fields"]["CommandLine"], "whoami /all");
    assert!(
        out["rejected_rules"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("nope")
    );

    let out = call(json!({"rules": [rules], "paths": [log], "min_level": "critical"}))
        .await
        .unwrap();
    assert_eq!(out["detections"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn bad_arguments_name_the_field() {
    let err = call(json!({"rules": ["/nonexistent"], "paths": ["/tmp"]}))
        .await
        .unwrap_err();
    assert!(
        err.contains("rules") && err.contains("/nonexistent"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.yml"), RULE).unwrap();
    let err = call(json!({"rules": [dir.path()], "paths": [dir.path()], "min_level": "loud"}))
        .await
        .unwrap_err();
    assert!(err.contains("min_level"), "{err}");
}
