//! The tool-poisoning dev corpus: recall per malicious category and false
//! positives on the benign entries, with the targets asserted.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bulwark_detect::{ToolDescriptor, ToolKind, inspect_tools};
use serde_json::Value;

fn corpus_path() -> Option<PathBuf> {
    let candidates = [
        std::env::var("BULWARK_DETECT_CORPUS")
            .ok()
            .map(PathBuf::from),
        Some(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/corpora/tool-search/detect_corpus_v1.json"),
        ),
        Some(PathBuf::from(
            "/work/shared/corpora/tool-search/detect_corpus_v1.json",
        )),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

fn descriptor(server: &str, tool: &Value) -> ToolDescriptor {
    let mut t: ToolDescriptor = serde_json::from_value(tool.clone()).expect("tool parses");
    t.server = server.to_string();
    t.kind = ToolKind::Tool;
    t
}

#[test]
fn corpus_recall_and_false_positives() {
    let Some(path) = corpus_path() else {
        eprintln!("detect corpus not found; set BULWARK_DETECT_CORPUS");
        return;
    };
    let corpus: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read corpus"))
        .expect("corpus json");
    let entries = corpus["entries"].as_array().expect("entries");
    // category -> (hit, total)
    let mut recall: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut fp: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut false_positives = Vec::new();
    for e in entries {
        let id = e["id"].as_str().unwrap();
        let label = e["label"].as_str().unwrap();
        let category = e["category"].as_str().unwrap().to_string();
        let tool = descriptor(e["server"].as_str().unwrap(), &e["tool"]);
        let peers: Vec<ToolDescriptor> = e
            .get("peers")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .map(|p| descriptor(p["server"].as_str().unwrap(), &p["tool"]))
                    .collect()
            })
            .unwrap_or_default();
        let findings = inspect_tools(std::slice::from_ref(&tool), &peers);
        let flagged = !findings.is_empty();
        let rules: Vec<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
        if label == "malicious" {
            let slot = recall.entry(category.clone()).or_default();
            slot.1 += 1;
            if flagged {
                slot.0 += 1;
            } else {
                misses.push(id.to_string());
            }
            println!("{id:<36} malicious {category:<20} -> {rules:?}");
        } else {
            let slot = fp.entry(category.clone()).or_default();
            slot.1 += 1;
            if flagged {
                slot.0 += 1;
                false_positives.push(format!(
                    "{id}: {rules:?} {:?}",
                    findings.iter().map(|f| &f.evidence).collect::<Vec<_>>()
                ));
            }
            println!("{id:<36} benign    {category:<20} -> {rules:?}");
        }
    }
    let (mut hit, mut total) = (0, 0);
    println!(
        "\n{:<22} {:>6} {:>6} {:>8}",
        "category", "hit", "total", "recall"
    );
    for (cat, (h, t)) in &recall {
        println!("{cat:<22} {h:>6} {t:>6} {:>8.3}", *h as f64 / *t as f64);
        hit += h;
        total += t;
    }
    let overall = hit as f64 / total as f64;
    println!("{:<22} {hit:>6} {total:>6} {overall:>8.3}", "overall");
    println!(
        "\n{:<22} {:>6} {:>6} {:>8}",
        "benign category", "fp", "total", "fp rate"
    );
    for (cat, (f, t)) in &fp {
        println!("{cat:<22} {f:>6} {t:>6} {:>8.3}", *f as f64 / *t as f64);
    }
    println!("misses: {misses:?}");
    println!("false positives: {false_positives:#?}");
    assert!(
        overall >= 0.90,
        "overall recall {overall:.3} < 0.90; misses {misses:?}"
    );
    for (cat, (h, t)) in &recall {
        assert!(
            *h as f64 / *t as f64 >= 0.90,
            "{cat} recall {h}/{t} < 0.90; misses {misses:?}"
        );
    }
    let (hn_fp, hn_total) = fp.get("hard_negative").copied().unwrap_or((0, 0));
    assert!(
        hn_fp as f64 <= 0.05 * hn_total as f64 + 1e-9 || hn_fp <= 1,
        "hard-negative FPs {hn_fp}/{hn_total}: {false_positives:#?}"
    );
    assert!(
        hn_fp * 20 <= hn_total.max(20),
        "hard-negative FP rate above 5%: {false_positives:#?}"
    );
    let (b_fp, _) = fp.get("benign").copied().unwrap_or((0, 0));
    assert_eq!(b_fp, 0, "plain benign FPs: {false_positives:#?}");
}
