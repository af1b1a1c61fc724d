//! Bad rules and bad logs are reported, never fatal and never silent.

use std::io::Write;
use std::path::{Path, PathBuf};

use bulwark_sigma::{HuntOptions, RuleSet, hunt};
use serde_json::json;

const GOOD: &str = "title: Whoami
id: 77777777-7777-7777-7777-777777777777
author: Tester
logsource:
    product: windows
    category: process_creation
detection:
    sel:
        CommandLine|contains: 'whoami'
    condition: sel
level: medium
";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn malformed_yaml_is_rejected_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.yml", GOOD);
    write(
        dir.path(),
        "broken.yml",
        "title: x\ndetection: [unclosed\n  - : :\n",
    );
    write(
        dir.path(),
        "no_condition.yml",
        "title: y\nlogsource:\n    product: windows\ndetection:\n    sel:\n        A: 1\n",
    );
    write(dir.path(), "readme.txt", "not a rule");
    let rules = RuleSet::load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(rules.rules_loaded(), 1);
    assert_eq!(rules.files(), 3, "only .yml/.yaml files are rules");
    let rejected = rules.rejected();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    for r in rejected {
        assert!(!r.reason.is_empty());
        assert!(r.path.ends_with("broken.yml") || r.path.ends_with("no_condition.yml"));
    }
}

#[test]
fn unknown_modifier_is_rejected_and_named() {
    let rule = GOOD.replace("CommandLine|contains", "CommandLine|containz");
    let rules = RuleSet::from_yaml("bad_mod.yml", &rule);
    assert_eq!(rules.rules_loaded(), 0);
    assert_eq!(rules.rejected().len(), 1);
    let reason = &rules.rejected()[0].reason;
    assert!(reason.contains("containz"), "{reason}");
}

#[test]
fn missing_rules_path_is_an_error_that_says_what_to_give() {
    let err = RuleSet::load(&[PathBuf::from("/nonexistent/rules")])
        .err()
        .unwrap();
    assert!(err.to_string().contains("does not exist"));
    let dir = tempfile::tempdir().unwrap();
    let err = RuleSet::load(&[dir.path().to_path_buf()]).err().unwrap();
    assert!(err.to_string().contains("no Sigma rule file"));
}

fn sample_evtx() -> Option<PathBuf> {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/sigma/regression_data");
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .find(|p| p.extension().is_some_and(|e| e == "evtx"))
}

#[test]
fn truncated_evtx_is_read_as_far_as_it_goes() {
    let Some(sample) = sample_evtx() else {
        eprintln!("skipped: no EVTX sample beside this checkout");
        return;
    };
    let bytes = std::fs::read(&sample).unwrap();
    let rules = RuleSet::from_yaml("r.yml", GOOD);
    let dir = tempfile::tempdir().unwrap();
    let whole = hunt(
        &rules,
        std::slice::from_ref(&sample),
        &HuntOptions::default(),
    );
    assert!(whole.notes.is_empty(), "{:?}", whole.notes);
    for cut in [10usize, 4096, 4096 + 300, bytes.len() / 2, bytes.len() - 7] {
        let path = dir.path().join(format!("cut{cut}.evtx"));
        std::fs::write(&path, &bytes[..cut.min(bytes.len())]).unwrap();
        // Must not panic; what is readable is read, the rest is noted.
        let report = hunt(&rules, &[path], &HuntOptions::default());
        assert!(report.summary.events <= whole.summary.events);
        assert!(!report.notes.is_empty(), "cut at {cut}: no note");
    }
    // Garbage after a valid header.
    let mut garbage = bytes[..4096.min(bytes.len())].to_vec();
    garbage.extend(std::iter::repeat_n(0xAB, 70_000));
    let path = dir.path().join("garbage.evtx");
    std::fs::write(&path, garbage).unwrap();
    let report = hunt(&rules, &[path], &HuntOptions::default());
    assert_eq!(report.summary.detections, 0);
}

#[test]
fn huge_event_is_matched_and_its_value_clipped_in_the_report() {
    let rules = RuleSet::from_yaml("r.yml", GOOD);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    let big = format!("{} whoami", "A".repeat(8 * 1024 * 1024));
    let event = json!({
        "Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
        "CommandLine": big, "Computer": "pc",
    });
    writeln!(f, "{event}").unwrap();
    writeln!(f, "{}", json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "CommandLine": "dir"})).unwrap();
    drop(f);
    let report = hunt(&rules, &[path], &HuntOptions::default());
    assert_eq!(report.summary.events, 2);
    assert_eq!(report.summary.detections, 1);
    let value = report.detections[0].matched_fields["CommandLine"]
        .as_str()
        .unwrap();
    assert!(value.len() < 10_000, "clipped: {} bytes", value.len());
    assert!(value.contains("characters in all"));
}

#[test]
fn overlong_text_line_is_skipped_with_a_note() {
    let rules = RuleSet::from_yaml("r.yml", GOOD);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("syslog");
    let mut text = String::from("Nov 21 11:13:11 web1 sshd[1]: ok\n");
    text.push_str(&"x".repeat(bulwark_sigma::events::MAX_EVENT_BYTES + 10));
    text.push_str("\nNov 21 11:13:12 web1 sshd[1]: after\n");
    std::fs::write(&path, text).unwrap();
    let report = hunt(&rules, &[path], &HuntOptions::default());
    assert_eq!(report.summary.events, 2);
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(report.notes[0].note.contains("skipped"));
}

#[test]
fn invalid_json_midway_keeps_what_came_before() {
    let rules = RuleSet::from_yaml("r.yml", GOOD);
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "e.jsonl",
        "{\"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"EventID\": 1, \"CommandLine\": \"whoami\"}\n{\"broken\": \n",
    );
    let report = hunt(&rules, &[path], &HuntOptions::default());
    assert_eq!(report.summary.detections, 1);
    assert_eq!(report.notes.len(), 1);
    assert!(report.notes[0].note.contains("JSON"));
}

#[test]
fn missing_log_path_is_noted() {
    let rules = RuleSet::from_yaml("r.yml", GOOD);
    let report = hunt(
        &rules,
        &[PathBuf::from("/nonexistent/log.evtx")],
        &HuntOptions::default(),
    );
    assert_eq!(report.notes.len(), 1);
    assert!(report.notes[0].note.contains("does not exist"));
}
