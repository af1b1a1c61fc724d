//! Sigma 2.0 modifiers, conditions and correlations, each with an event it
//! must match and one it must not.

use std::io::Write;

use bulwark_sigma::{HuntOptions, RuleSet, hunt};
use serde_json::{Value, json};

/// Run `rule` (YAML) over `events` (written as JSONL) and return how many
/// detections each title has.
fn fire(rule: &str, events: &[Value]) -> Vec<(String, usize)> {
    let rules = RuleSet::from_yaml("test.yml", rule);
    assert!(
        rules.rejected().is_empty(),
        "rule rejected: {:?}",
        rules.rejected()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    for e in events {
        writeln!(file, "{e}").unwrap();
    }
    drop(file);
    let report = hunt(&rules, &[path], &HuntOptions::default());
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    report
        .summary
        .by_rule
        .iter()
        .map(|r| (r.title.clone(), r.count))
        .collect()
}

fn count(rule: &str, events: &[Value]) -> usize {
    fire(rule, events).iter().map(|(_, n)| n).sum()
}

fn rule(detection: &str) -> String {
    format!(
        "title: T\nid: 11111111-1111-1111-1111-111111111111\nauthor: Tester\nlogsource:\n    product: test\ndetection:\n{detection}\nlevel: high\n"
    )
}

fn ev(fields: Value) -> Value {
    let mut fields = fields;
    fields["product"] = json!("test");
    fields
}

#[test]
fn contains_startswith_endswith_are_caseless() {
    let r = rule(
        "    sel:\n        CommandLine|contains: 'WHOAMI'\n        Image|endswith: '\\cmd.exe'\n        ParentImage|startswith: 'C:\\Windows'\n    condition: sel",
    );
    let hit = ev(
        json!({"CommandLine": "x whoami /all", "Image": "C:\\WINDOWS\\System32\\CMD.EXE", "ParentImage": "c:\\windows\\explorer.exe"}),
    );
    let miss = ev(
        json!({"CommandLine": "x who ami", "Image": "C:\\cmd.exe", "ParentImage": "c:\\windows\\explorer.exe"}),
    );
    assert_eq!(count(&r, &[hit, miss]), 1);
}

#[test]
fn all_modifier_needs_every_value() {
    let r = rule(
        "    sel:\n        CommandLine|contains|all:\n            - '-enc'\n            - 'bypass'\n    condition: sel",
    );
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"CommandLine": "powershell -enc AAA -ep bypass"})),
                ev(json!({"CommandLine": "powershell -enc AAA"})),
            ]
        ),
        1
    );
}

#[test]
fn re_with_flags() {
    let r =
        rule("    sel:\n        CommandLine|re|i: '^POWERSHELL.*-E(NC)?\\s'\n    condition: sel");
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"CommandLine": "powershell.exe -e AAA"})),
                ev(json!({"CommandLine": "cmd.exe -e AAA"})),
            ]
        ),
        1
    );
    let r = rule("    sel:\n        Data|re|m: '^second$'\n    condition: sel");
    assert_eq!(count(&r, &[ev(json!({"Data": "first\nsecond\nthird"}))]), 1);
    let r = rule("    sel:\n        Data|re|s: 'first.second'\n    condition: sel");
    assert_eq!(count(&r, &[ev(json!({"Data": "first\nsecond"}))]), 1);
    // Regexes are case-sensitive unless `i` is given.
    let r = rule("    sel:\n        Data|re: 'SECOND'\n    condition: sel");
    assert_eq!(count(&r, &[ev(json!({"Data": "second"}))]), 0);
}

#[test]
fn base64_and_base64offset_and_wide() {
    // base64('whoami') = d2hvYW1p
    let r = rule("    sel:\n        Data|base64: 'whoami'\n    condition: sel");
    assert_eq!(count(&r, &[ev(json!({"Data": "d2hvYW1p"}))]), 1);
    // 'xx whoami' base64-encoded: the needle sits at an offset.
    let r = rule("    sel:\n        Data|base64offset|contains: 'whoami'\n    condition: sel");
    assert_eq!(count(&r, &[ev(json!({"Data": "eHggd2hvYW1p"}))]), 1);
    // UTF-16LE then base64 (PowerShell -EncodedCommand): 'iex' → aQBlAHgA
    let r = rule("    sel:\n        Data|wide|base64offset|contains: 'iex'\n    condition: sel");
    assert_eq!(
        count(&r, &[ev(json!({"Data": "powershell -enc aQBlAHgA"}))]),
        1
    );
    let r = rule("    sel:\n        Data|utf16le|base64offset|contains: 'iex'\n    condition: sel");
    assert_eq!(count(&r, &[ev(json!({"Data": "aQBlAHgA"}))]), 1);
}

#[test]
fn windash_matches_every_dash() {
    let r = rule("    sel:\n        CommandLine|windash|contains: ' -exec '\n    condition: sel");
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"CommandLine": "x /exec y"})),
                ev(json!({"CommandLine": "x -exec y"})),
                ev(json!({"CommandLine": "x \u{2013}exec y"})),
                ev(json!({"CommandLine": "x exec y"})),
            ]
        ),
        3
    );
}

#[test]
fn cidr_exists_and_numbers() {
    let r = rule("    sel:\n        DestinationIp|cidr: '10.0.0.0/8'\n    condition: sel");
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"DestinationIp": "10.1.2.3"})),
                ev(json!({"DestinationIp": "11.1.2.3"}))
            ]
        ),
        1
    );
    let r = rule(
        "    sel:\n        User|exists: true\n    filter:\n        Other|exists: true\n    condition: sel and not filter",
    );
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"User": "a"})),
                ev(json!({"User": "a", "Other": 1})),
                ev(json!({"Nope": 1}))
            ]
        ),
        1
    );
    let r = rule("    sel:\n        Size|gt: 100\n        Size|lte: 200\n    condition: sel");
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"Size": 150})),
                ev(json!({"Size": "200"})),
                ev(json!({"Size": 100})),
                ev(json!({"Size": 201}))
            ]
        ),
        2
    );
    let r = rule("    sel:\n        Size|gte: 100\n        Count|lt: 5\n    condition: sel");
    assert_eq!(count(&r, &[ev(json!({"Size": 100, "Count": 4}))]), 1);
}

#[test]
fn fieldref_and_cased() {
    let r = rule("    sel:\n        TargetUserName|fieldref: SubjectUserName\n    condition: sel");
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"TargetUserName": "bob", "SubjectUserName": "bob"})),
                ev(json!({"TargetUserName": "bob", "SubjectUserName": "eve"}))
            ]
        ),
        1
    );
    let r = rule("    sel:\n        Data|cased|contains: 'Mimikatz'\n    condition: sel");
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"Data": "x Mimikatz"})),
                ev(json!({"Data": "x mimikatz"}))
            ]
        ),
        1
    );
}

#[test]
fn conditions_of_patterns_and_parentheses() {
    let r = rule(
        "    selection_a:\n        A: 1\n    selection_b:\n        B: 2\n    filter:\n        C: 3\n    condition: 1 of selection_* and not filter",
    );
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"A": 1})),
                ev(json!({"B": 2, "C": 3})),
                ev(json!({"D": 4}))
            ]
        ),
        1
    );
    let r = rule("    s1:\n        A: 1\n    s2:\n        B: 2\n    condition: all of them");
    assert_eq!(
        count(&r, &[ev(json!({"A": 1, "B": 2})), ev(json!({"A": 1}))]),
        1
    );
    let r = rule(
        "    a:\n        A: 1\n    b:\n        B: 2\n    c:\n        C: 3\n    condition: a and (b or c)",
    );
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"A": 1, "C": 3})),
                ev(json!({"B": 2, "C": 3})),
                ev(json!({"A": 1}))
            ]
        ),
        1
    );
    let r = rule("    keywords:\n        - 'evil.exe'\n    condition: keywords");
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"Any": "run EVIL.EXE now"})),
                ev(json!({"Any": "x"}))
            ]
        ),
        1
    );
}

const BASE: &str = "title: Failed logon
id: 22222222-2222-2222-2222-222222222222
name: failed_logon
author: Tester
logsource:
    product: test
detection:
    sel:
        EventID: 4625
    condition: sel
level: low
---
title: Success logon
id: 33333333-3333-3333-3333-333333333333
name: success_logon
author: Tester
logsource:
    product: test
detection:
    sel:
        EventID: 4624
    condition: sel
level: low
";

fn logon(id: u32, user: &str, host: &str, minute: u32) -> Value {
    ev(json!({
        "EventID": id, "TargetUserName": user, "host": host,
        "timestamp": format!("2026-01-01T10:{minute:02}:00Z"),
    }))
}

#[test]
fn correlation_event_count_with_group_by_and_timespan() {
    let rules = format!(
        "{BASE}---
title: Brute force
id: 44444444-4444-4444-4444-444444444444
author: Tester
correlation:
    type: event_count
    rules:
        - failed_logon
    group-by:
        - TargetUserName
    timespan: 5m
    condition:
        gte: 3
level: high
"
    );
    let events = [
        logon(4625, "bob", "h", 0),
        logon(4625, "bob", "h", 1),
        logon(4625, "eve", "h", 1),
        logon(4625, "bob", "h", 2),
        // Outside the window of the first three for alice.
        logon(4625, "alice", "h", 0),
        logon(4625, "alice", "h", 10),
        logon(4625, "alice", "h", 20),
    ];
    let fired = fire(&rules, &events);
    let brute = fired.iter().find(|(t, _)| t == "Brute force");
    assert_eq!(brute.map(|b| b.1), Some(1), "{fired:?}");
}

#[test]
fn correlation_value_count_and_temporal() {
    let rules = format!(
        "{BASE}---
title: Spray
id: 55555555-5555-5555-5555-555555555555
correlation:
    type: value_count
    rules:
        - failed_logon
    group-by:
        - host
    timespan: 10m
    condition:
        field: TargetUserName
        gte: 3
level: high
---
title: Fail then success
id: 66666666-6666-6666-6666-666666666666
correlation:
    type: temporal
    rules:
        - failed_logon
        - success_logon
    group-by:
        - TargetUserName
    timespan: 5m
level: high
"
    );
    let events = [
        logon(4625, "a", "h1", 0),
        logon(4625, "b", "h1", 1),
        logon(4625, "c", "h1", 2),
        logon(4625, "a", "h2", 0),
        logon(4625, "a", "h2", 1),
        logon(4624, "c", "h1", 3),
    ];
    let fired = fire(&rules, &events);
    let get = |t: &str| fired.iter().find(|(x, _)| x == t).map(|x| x.1);
    assert_eq!(get("Spray"), Some(1), "{fired:?}");
    assert!(get("Fail then success").is_some(), "{fired:?}");
}

#[test]
fn author_and_matched_fields_are_reported() {
    let rules = RuleSet::from_yaml(
        "r.yml",
        &rule("    sel:\n        CommandLine|contains: 'whoami'\n    condition: sel"),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.json");
    std::fs::write(
        &path,
        ev(json!({"CommandLine": "whoami", "host": "pc1", "timestamp": "2026-01-01T00:00:00Z"}))
            .to_string(),
    )
    .unwrap();
    let report = hunt(&rules, &[path], &HuntOptions::default());
    let d = &report.detections[0];
    assert_eq!(d.author.as_deref(), Some("Tester"));
    assert_eq!(d.level.as_deref(), Some("high"));
    assert_eq!(d.host.as_deref(), Some("pc1"));
    assert_eq!(d.timestamp.as_deref(), Some("2026-01-01T00:00:00Z"));
    assert_eq!(d.matched_fields["CommandLine"], "whoami");
    let mut csv = Vec::new();
    bulwark_sigma::write(&report, bulwark_sigma::OutputFormat::Csv, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("timestamp,host,level,title,rule_id,author"));
    assert!(csv.contains("Tester"), "{csv}");
}

#[test]
fn keywords_with_all_need_each_keyword_somewhere() {
    let r = rule(
        "    kw:\n        '|all':\n            - 'truncate'\n            - '-s'\n    condition: kw",
    );
    assert_eq!(
        count(
            &r,
            &[
                ev(json!({"a0": "truncate", "a1": "-s", "a2": "+5"})),
                ev(json!({"a0": "/usr/bin/truncate", "a1": "5"})),
            ]
        ),
        1
    );
}
