//! Reports from a case file: snapshots of the Markdown, escaping of hostile
//! case text in both formats, missing sections, bad input, and the tool.

use bulwark_core::{CallContext, ToolOutput};
use bulwark_report::{Format, case, render};

const GENERATED: &str = "2026-11-21T12:00:00Z";

fn fixture() -> case::Case {
    case::parse(include_str!("fixtures/case.json")).expect("the fixture parses")
}

#[test]
fn markdown_snapshot() {
    let out = render(&fixture(), Format::Markdown, GENERATED).unwrap();
    assert!(out.html.is_none());
    insta::assert_snapshot!("markdown", out.markdown.unwrap());
}

#[test]
fn sections_are_ordered_and_grouped() {
    let r = render(&fixture(), Format::Both, GENERATED).unwrap().view;
    // Analyst findings and triage items of score >= 60, most severe first.
    let sev: Vec<&str> = r.findings.iter().map(|f| f.severity.as_str()).collect();
    assert_eq!(sev, ["critical", "critical", "low", "info"]);
    assert_eq!(r.findings[1].origin, "triage (web-01)");
    // Detections: high before info, one rule row with both hits and hosts.
    assert_eq!(r.detection_levels[0].level, "high");
    assert_eq!(r.detection_levels[0].rules[0].count, 2);
    assert_eq!(r.detection_levels[0].rules[0].hosts, "web-01, web-02");
    assert_eq!(r.detection_levels[1].level, "info");
    // Actions in time order; the failed one drives a recommendation.
    assert_eq!(r.actions[0].action, "kill_process");
    assert!(
        r.recommendations
            .iter()
            .any(|x| x.origin == "derived" && x.text.contains("quarantine_file /dev/shm/.x"))
    );
    assert_eq!(r.recommendations[0].origin, "analyst");
    // IOCs most frequent first, defanged.
    assert_eq!(r.iocs[0].value, "203[.]0[.]113[.]9");
    assert_eq!(r.iocs[1].value, "hxxp://evil[.]example[.]com/a[.]sh");
    assert_eq!(
        r.timeline_note.as_deref(),
        Some("2 of 3 events shown; the full timeline is in the generate_timeline output.")
    );
}

#[test]
fn hostile_text_is_escaped_in_html() {
    let html = render(&fixture(), Format::Html, GENERATED)
        .unwrap()
        .html
        .unwrap();
    let lower = html.to_lowercase();
    // The template itself has no scripts, so any `<script` came from the case.
    assert!(!lower.contains("<script"), "raw script tag in the HTML");
    assert!(!lower.contains("<img"), "raw img tag in the HTML");
    assert!(!html.contains("</td><script>"));
    assert!(
        html.contains("&lt;script&gt;alert("),
        "escaped text is shown"
    );
    assert!(
        html.contains("O&#x27;Neil") || html.contains("O&#39;Neil"),
        "quotes escaped"
    );
    assert!(html.contains("&quot;Bobby&quot;") || html.contains("&#34;Bobby&#34;"));
    // Self-contained: nothing is loaded from anywhere.
    assert!(html.contains("Content-Security-Policy"));
    for tag in tags(&lower) {
        for attr in [" src=", " href=", " on"] {
            assert!(!tag.contains(attr), "`{attr}` in <{tag}>");
        }
    }
    for needle in ["url(", "@import"] {
        assert!(
            !lower.contains(needle),
            "`{needle}` in a self-contained page"
        );
    }
    for id in [
        "summary",
        "findings",
        "timeline",
        "iocs",
        "detections",
        "triage",
        "actions",
        "recommendations",
    ] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
}

/// The insides of every tag (`<name ...>`) in an HTML document.
fn tags(html: &str) -> Vec<&str> {
    html.split('<')
        .skip(1)
        .filter(|t| t.starts_with(|c: char| c.is_ascii_alphabetic()))
        .map(|t| &t[..t.find('>').unwrap_or(t.len())])
        .collect()
}

#[test]
fn hostile_text_is_inert_in_markdown() {
    let md = render(&fixture(), Format::Markdown, GENERATED)
        .unwrap()
        .markdown
        .unwrap();
    assert!(!md.contains("<script") && !md.contains("<img"), "{md}");
    assert!(md.contains("&lt;script&gt;"));
    // A pipe in a cell cannot split the table, a link cannot form.
    assert!(md.contains("\\| pipes \\|"));
    assert!(md.contains("\\[link\\](javascript"));
    // Text that starts like a heading is a paragraph.
    assert!(!md.lines().any(|l| l.starts_with("# not a heading")));
}

#[test]
fn very_long_fields_are_cut_and_say_so() {
    let long = "A".repeat(50_000);
    let value = serde_json::json!({
        "title": long,
        "findings": [{"title": "t", "evidence": [long]}],
        "timeline": [{"timestamp": "2026-01-01T00:00:00Z", "message": "B".repeat(30_000)}]
    });
    let case = case::from_value(value).unwrap();
    let out = render(&case, Format::Both, GENERATED).unwrap();
    let md = out.markdown.unwrap();
    let html = out.html.unwrap();
    assert!(md.contains("… (48000 more characters)"), "marker");
    assert!(md.len() < 30_000, "{} bytes", md.len());
    assert!(html.len() < 40_000, "{} bytes", html.len());
    assert!(html.contains("(28000 more characters)"));
}

#[test]
fn missing_sections_are_reported_as_empty() {
    let case = case::parse("{}").unwrap();
    let out = render(&case, Format::Both, GENERATED).unwrap();
    let md = out.markdown.unwrap();
    assert!(md.starts_with("# Investigation report\n"));
    for what in [
        "findings",
        "timeline events",
        "indicators",
        "detections",
        "containment actions",
    ] {
        assert!(md.contains(&format!("_No {what} in this case._")), "{what}");
    }
    assert!(md.contains("This report covers 0 key findings"), "{md}");
    assert!(md.contains("Nothing in this case calls for action"));
    let html = out.html.unwrap();
    assert!(html.contains("No indicators in this case."));
    assert!(
        !html.contains("id=\"triage\""),
        "no triage section without triage"
    );
}

#[test]
fn bad_cases_name_the_problem() {
    let cases = [
        (
            "{\"findings\": [{\"severity\": \"high\"}]}",
            "field `findings[0]`: missing field `title`",
        ),
        (
            "{\"timeline\": [{\"message\": \"m\"}]}",
            "field `timeline[0]`: missing field `timestamp`",
        ),
        (
            "{\"iocs\": {\"indicators\": \"none\"}}",
            "field `iocs.indicators`",
        ),
        ("{\"title\": 5}", "field `title`: invalid type: integer `5`"),
        (
            "{\"remediations\": [{\"at\": \"x\", \"action\": \"a\", \"target\": \"t\"}]}",
            "field `remediations[0]`: missing field `status`",
        ),
        ("{\"title\": \"x\"", "not valid JSON"),
        ("", "not valid JSON"),
        ("\"just text\"", "got a string"),
    ];
    for (text, want) in cases {
        let err = case::parse(text).unwrap_err().to_string();
        assert!(err.contains(want), "{text}: {err}");
    }
}

async fn call(args: serde_json::Value) -> Result<ToolOutput, bulwark_core::ToolError> {
    let tool = bulwark_report::tools().remove(0);
    let args = args.as_object().unwrap().clone();
    tool.handler
        .call(CallContext::in_process("analysis"), args)
        .await
}

fn structured(out: ToolOutput) -> serde_json::Value {
    match out {
        ToolOutput::Done {
            structured: Some(v),
            is_error: false,
            ..
        } => v,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tool_returns_documents_or_writes_files() {
    let case: serde_json::Value = serde_json::from_str(include_str!("fixtures/case.json")).unwrap();
    let v = structured(
        call(serde_json::json!({"case": case.clone(), "format": "html"}))
            .await
            .unwrap(),
    );
    assert!(v["html"].as_str().unwrap().starts_with("<!DOCTYPE html>"));
    assert!(v.get("markdown").is_none());
    assert_eq!(v["counts"]["detections"], 3);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new/sub");
    let v = structured(
        call(serde_json::json!({"case": case, "output_dir": out.display().to_string()}))
            .await
            .unwrap(),
    );
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert!(out.join("report.md").is_file() && out.join("report.html").is_file());

    let path = dir.path().join("case.json");
    std::fs::write(&path, include_str!("fixtures/case.json")).unwrap();
    let v = structured(
        call(serde_json::json!({"case_path": path.display().to_string(), "format": "markdown"}))
            .await
            .unwrap(),
    );
    assert!(
        v["markdown"].as_str().unwrap().contains("IR\\-2026")
            || v["markdown"].as_str().unwrap().contains("IR-2026")
    );
}

#[tokio::test]
async fn tool_errors_name_the_field() {
    let bad = [
        (serde_json::json!({}), "give `case`"),
        (
            serde_json::json!({"case": {}, "case_path": "/x"}),
            "not both",
        ),
        (
            serde_json::json!({"case": {}, "format": "pdf"}),
            "field `format`",
        ),
        (
            serde_json::json!({"case": {"detections": [{}]}}),
            "field `case.detections[0]`: missing field `title`",
        ),
        (
            serde_json::json!({"case": []}),
            "field `case`: the case must be a JSON object",
        ),
        (
            serde_json::json!({"case_path": "relative.json"}),
            "field `case_path`: `relative.json` must be an absolute path",
        ),
        (
            serde_json::json!({"case_path": "/nonexistent/case.json"}),
            "field `case_path`: /nonexistent/case.json cannot be read",
        ),
        (
            serde_json::json!({"case": {}, "output_dir": "/tmp/../etc"}),
            "field `output_dir`",
        ),
    ];
    for (args, want) in bad {
        let err = call(args.clone()).await.unwrap_err().to_string();
        assert!(err.contains(want), "{args}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{\"findings\": [ }").unwrap();
    let err = call(serde_json::json!({"case_path": path.display().to_string()}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not valid JSON") && err.contains("line 1"),
        "{err}"
    );
}
