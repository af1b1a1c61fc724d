//! Runs `analyze` over the labelled fixtures and measures precision and
//! recall against their `expect:` markers. A finding matches a marker on the
//! same line with the same rule id; clean fixtures carry no markers, so any
//! finding there counts against precision.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bulwark_detect::Location;
use bulwark_taint::{Language, analyze};

fn markers(source: &str) -> BTreeSet<(u32, String)> {
    let mut out = BTreeSet::new();
    for (i, line) in source.lines().enumerate() {
        let Some(pos) = line.find("expect:") else {
            continue;
        };
        for tok in line[pos + 7..].split([',', ' ']) {
            let tok = tok.trim();
            if tok.starts_with("BWK-") {
                out.insert((i as u32 + 1, tok.to_string()));
            }
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    files: usize,
    expected: usize,
    found: usize,
    true_pos: usize,
    matched_markers: usize,
}

#[test]
fn fixtures_precision_and_recall() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut per_lang: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let mut problems = Vec::new();
    for path in entries {
        let p = path.to_string_lossy().to_string();
        let Some(lang) = Language::from_path(&p) else {
            continue;
        };
        let source = std::fs::read_to_string(&path).unwrap();
        let expected = markers(&source);
        let findings = analyze(&p, lang, &source);
        let got: BTreeSet<(u32, String)> = findings
            .iter()
            .filter_map(|f| match &f.location {
                Location::File { line, .. } => Some((*line, f.rule_id.clone())),
                _ => None,
            })
            .collect();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let t = per_lang.entry(lang.as_str()).or_default();
        t.files += 1;
        t.expected += expected.len();
        t.found += got.len();
        t.true_pos += got.intersection(&expected).count();
        t.matched_markers += expected.intersection(&got).count();
        for miss in expected.difference(&got) {
            problems.push(format!("MISSED   {name}:{} {}", miss.0, miss.1));
        }
        for extra in got.difference(&expected) {
            let f = findings
                .iter()
                .find(|f| {
                    matches!(&f.location, Location::File { line, .. } if *line == extra.0)
                        && f.rule_id == extra.1
                })
                .unwrap();
            problems.push(format!(
                "EXTRA    {name}:{} {} [{:?}/{:?}] {}",
                extra.0, extra.1, f.confidence, f.severity, f.evidence
            ));
        }
    }
    println!(
        "\n{:<12} {:>5} {:>9} {:>9} {:>5} {:>10} {:>7}",
        "language", "files", "expected", "findings", "TP", "precision", "recall"
    );
    let mut total = Tally::default();
    for (lang, t) in &per_lang {
        let precision = if t.found == 0 {
            1.0
        } else {
            t.true_pos as f64 / t.found as f64
        };
        let recall = if t.expected == 0 {
            1.0
        } else {
            t.matched_markers as f64 / t.expected as f64
        };
        println!(
            "{lang:<12} {:>5} {:>9} {:>9} {:>5} {:>10.3} {:>7.3}",
            t.files, t.expected, t.found, t.true_pos, precision, recall
        );
        total.files += t.files;
        total.expected += t.expected;
        total.found += t.found;
        total.true_pos += t.true_pos;
        total.matched_markers += t.matched_markers;
    }
    let precision = total.true_pos as f64 / total.found.max(1) as f64;
    let recall = total.matched_markers as f64 / total.expected.max(1) as f64;
    println!(
        "{:<12} {:>5} {:>9} {:>9} {:>5} {:>10.3} {:>7.3}",
        "all", total.files, total.expected, total.found, total.true_pos, precision, recall
    );
    for p in &problems {
        println!("{p}");
    }
    assert!(total.files >= 10, "fixtures missing");
    assert!(precision >= 0.9, "precision {precision:.3} < 0.9");
    assert!(recall >= 0.9, "recall {recall:.3} < 0.9");
}
