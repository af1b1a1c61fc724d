//! The README's profiles/tools table is generated from the registry; this test
//! fails when it is stale. Regenerate with:
//! `bulwark tools list --markdown` and paste it between the README markers.

use std::process::Command;

#[test]
fn readme_tools_table_matches_the_registry() {
    let output = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(["tools", "list", "--markdown"])
        .env_remove("BULWARK_CONFIG")
        .output()
        .expect("run bulwark");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generated = String::from_utf8(output.stdout).unwrap();

    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("<!-- tools:start -->\n")
        .expect("README has <!-- tools:start -->");
    let end = readme
        .find("<!-- tools:end -->")
        .expect("README has <!-- tools:end -->");
    let in_readme = &readme[start + "<!-- tools:start -->\n".len()..end];
    assert_eq!(
        in_readme, generated,
        "README.md's tools table is stale: replace the text between the markers with `bulwark tools list --markdown`"
    );
}

#[test]
fn every_profile_in_the_table_is_listed_by_the_cli() {
    let output = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(["profiles", "list", "--json"])
        .output()
        .expect("run bulwark");
    let profiles: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = profiles
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for required in ["all", "core", "conformance"] {
        assert!(names.contains(&required), "{names:?}");
    }
    let all = profiles
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "all")
        .unwrap();
    let all_tools: Vec<&str> = all["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        !all_tools.contains(&"test_simple_text"),
        "conformance fixtures leaked into `all`"
    );
    let mut sorted = all_tools.clone();
    sorted.sort();
    assert_eq!(
        all_tools, sorted,
        "listing order must be deterministic (by name)"
    );
}
