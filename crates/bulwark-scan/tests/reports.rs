//! Renderers: SARIF against the official schema, the JSON schema, text,
//! Markdown and HTML escaping.

mod common;

use bulwark_scan::{Format, ScanReport, fingerprints, render};
use serde_json::Value;

const SARIF_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpora/sarif/sarif-schema-2.1.0.json"
);

fn sarif_schema() -> Value {
    let candidates = [
        std::path::PathBuf::from(SARIF_SCHEMA),
        std::path::PathBuf::from("/work/shared/corpora/sarif/sarif-schema-2.1.0.json"),
    ];
    let path = candidates.iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("the official SARIF 2.1.0 schema is missing (expected {SARIF_SCHEMA})")
    });
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn assert_valid_sarif(report: &ScanReport) -> Value {
    let text = render(report, Format::Sarif, false);
    let instance: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&sarif_schema()).expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF does not validate:\n{}",
        errors.join("\n")
    );
    instance
}

#[test]
fn sarif_validates_and_carries_rules_levels_and_fingerprints() {
    let report = common::sample::report();
    let sarif = assert_valid_sarif(&report);
    assert_eq!(sarif["version"], "2.1.0");
    let runs = sarif["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    // The two declared rules plus one descriptor for the undeclared rule id.
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0]["id"], "TEST-MARK");
    assert_eq!(rules[0]["shortDescription"]["text"], "A FINDME marker");
    assert!(
        rules[0]["fullDescription"]["text"]
            .as_str()
            .unwrap()
            .contains("CWE-1")
    );
    assert_eq!(rules[0]["help"]["text"], "Remove the marker.");
    assert_eq!(rules[0]["properties"]["security-severity"], "5.5");
    let tags: Vec<&str> = rules[0]["properties"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"CWE-1") && tags.contains(&"OWASP-ASI01"),
        "{tags:?}"
    );

    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), report.findings.len());
    let fps = fingerprints(&report.findings);
    for ((result, finding), fp) in results.iter().zip(&report.findings).zip(&fps) {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(result["ruleId"], finding.rule_id.as_str());
        let expected = match finding.severity.as_str() {
            "critical" | "high" => "error",
            "medium" => "warning",
            _ => "note",
        };
        assert_eq!(result["level"], expected);
        assert_eq!(result["partialFingerprints"]["bulwark/v1"], fp.as_str());
    }
    // Physical locations are relative to %SRCROOT%, percent-encoded.
    let ts = results
        .iter()
        .find(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                == "src/app%20dir/index.ts"
        })
        .expect("index.ts result");
    assert_eq!(
        ts["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
        "%SRCROOT%"
    );
    assert_eq!(
        ts["locations"][0]["physicalLocation"]["region"]["startLine"],
        5
    );
    assert_eq!(
        ts["locations"][0]["physicalLocation"]["region"]["startColumn"],
        3
    );
    assert_eq!(
        run["originalUriBaseIds"]["%SRCROOT%"]["uri"],
        "file:///work/project%20dir/"
    );
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    // Tool findings use a logical location.
    let tool = results
        .iter()
        .find(|r| r["locations"][0]["logicalLocations"].is_array())
        .unwrap();
    assert_eq!(
        tool["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "evil-server/read_file#/properties/path/description"
    );
    // Notes become tool execution notifications.
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 2);
}

#[test]
fn sarif_of_empty_and_config_reports_validates() {
    assert_valid_sarif(&ScanReport::default());
    // Config scans report absolute paths and have no root.
    let dir = tempfile::tempdir().unwrap();
    common::write(
        dir.path(),
        "mcp.json",
        r#"{"mcpServers": {"a": {"command": "npx", "args": ["pkg"]}}}"#,
    );
    let report = bulwark_scan::scan_configs(&[dir.path().join("mcp.json")]).unwrap();
    assert_eq!(report.findings.len(), 1);
    let sarif = assert_valid_sarif(&report);
    let uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/mcp.json"),
        "{uri}"
    );
}

#[test]
fn json_report_schema() {
    let report = common::sample::report();
    let json: Value = serde_json::from_str(&render(&report, Format::Json, false)).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["tool"]["name"], "bulwark");
    assert_eq!(json["summary"]["files"], 42);
    assert_eq!(json["summary"]["bytes"], 123_456);
    assert_eq!(json["summary"]["findings"], 7);
    let by = &json["summary"]["findings_by_severity"];
    assert_eq!(
        (
            by["critical"].as_u64(),
            by["high"].as_u64(),
            by["medium"].as_u64()
        ),
        (Some(1), Some(3), Some(1))
    );
    assert_eq!(
        (by["low"].as_u64(), by["info"].as_u64()),
        (Some(1), Some(1))
    );
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 7);
    let first = &findings[0];
    for key in [
        "rule_id",
        "severity",
        "confidence",
        "location",
        "message",
        "snippet",
        "evidence",
        "fingerprint",
    ] {
        assert!(!first[key].is_null(), "{key} missing in {first}");
    }
    assert_eq!(json["notes"][0]["kind"], "binary");
    assert_eq!(json["notes"].as_array().unwrap().len(), 2);
    let tool = findings
        .iter()
        .find(|f| f["location"]["kind"] == "tool")
        .unwrap();
    assert_eq!(tool["location"]["server"], "evil-server");
    let undeclared = findings
        .iter()
        .find(|f| f["rule_id"] == "UNDECLARED-RULE")
        .unwrap();
    assert!(undeclared["title"].is_null());
}

#[test]
fn text_report_groups_by_file_and_colours_on_request() {
    let report = common::sample::report();
    let plain = render(&report, Format::Text, false);
    assert!(!plain.contains('\x1b'));
    assert!(
        plain.contains("src/server.py\n  10:3      CRITICAL TEST-MARK  critical thing"),
        "{plain}"
    );
    assert_eq!(
        plain.matches("src/server.py\n").count(),
        1,
        "one heading per file"
    );
    assert!(
        plain.contains("7 findings (1 critical, 3 high, 1 medium, 1 low, 1 info) in 42 files"),
        "{plain}"
    );
    assert!(
        plain.contains("hidden\\u{202e}txt.exe"),
        "bidi control shown, not applied"
    );
    let coloured = render(&report, Format::Text, true);
    assert!(coloured.contains("\x1b[1;35mCRITICAL"));
    let clean = render(&ScanReport::default(), Format::Text, false);
    assert!(clean.starts_with("no findings in 0 files"), "{clean}");
}

#[test]
fn markdown_report_escapes_attacker_text() {
    let md = render(&common::sample::report(), Format::Markdown, false);
    assert!(md.starts_with("# Bulwark scan report\n"));
    assert!(md.contains("| high | 3 |"));
    assert!(!md.contains("<script>"), "{md}");
    assert!(!md.contains("<b>bold</b>"));
    assert!(md.contains("&lt;script&gt;"));
    assert!(!md.contains("@admin"), "mentions are broken");
    assert!(!md.contains("[link](http"), "links are not rendered");
    // Every table row has exactly the header's five pipes (no injected cells).
    for line in md.lines().filter(|l| l.starts_with("| **")) {
        assert_eq!(line.matches('|').count(), 5, "{line}");
    }
}

#[test]
fn html_report_escapes_and_is_self_contained() {
    let html = render(&common::sample::report(), Format::Html, false);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script>alert"), "snippet script escaped");
    assert!(html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"));
    assert!(!html.contains("<img src=x"), "img escaped");
    assert!(!html.contains("<b>bold</b>"));
    assert!(html.contains("<span class=\"ctl\">U+202E</span>"));
    assert!(html.contains("data-file=\"src/app dir/index.ts\""));
    assert!(
        html.contains("data-file=\"data/&lt;dump&gt;.sql\"")
            || html.contains("data/&lt;dump&gt;.sql")
    );
    // Only one script element (ours) and no external resources.
    assert_eq!(html.matches("<script").count(), 1);
    for external in ["src=\"http", "href=\"http", "<link", "@import", "url("] {
        assert!(!html.contains(external), "{external}");
    }
    assert!(html.contains("Content-Security-Policy"));
    assert_eq!(html.matches("<tr class=\"finding").count(), 7);
}

#[test]
fn format_names() {
    for (name, format) in [
        ("text", Format::Text),
        ("terminal", Format::Text),
        ("JSON", Format::Json),
        ("sarif", Format::Sarif),
        ("html", Format::Html),
        ("md", Format::Markdown),
    ] {
        assert_eq!(Format::parse(name), Some(format));
    }
    assert!("pdf".parse::<Format>().is_err());
}
