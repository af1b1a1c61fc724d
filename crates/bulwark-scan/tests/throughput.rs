//! Throughput of `scan_tree` on a generated 10,000-file tree. Prints
//! figures; asserts only correctness (no timing assertion).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bulwark_scan::{
    Confidence, FileDetector, Finding, Location, OwaspAgentic, Rule, ScanOptions, Severity,
    config_detector, scan_tree, supply_chain_detector,
};

const TODO_RULE: Rule = Rule {
    id: "TEST-TODO",
    title: "TODO marker",
    cwe: "CWE-1",
    owasp: OwaspAgentic::ASI01,
    severity: Severity::Info,
    remediation: "Do it.",
};

/// A trivial detector: one finding per `TODO(bulwark)`.
struct Todo;

impl FileDetector for Todo {
    fn rules(&self) -> &'static [Rule] {
        std::slice::from_ref(&TODO_RULE)
    }
    fn applies_to(&self, _path: &str) -> bool {
        true
    }
    fn scan(&self, path: &str, text: &str) -> Vec<Finding> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.contains("TODO(bulwark)"))
            .map(|(i, l)| Finding {
                rule_id: TODO_RULE.id.into(),
                severity: Severity::Info,
                confidence: Confidence::High,
                location: Location::File {
                    path: path.into(),
                    line: i as u32 + 1,
                    column: 1,
                },
                message: "todo".into(),
                snippet: l.trim().into(),
                evidence: String::new(),
            })
            .collect()
    }
}

/// Deterministic pseudo-random numbers (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn body(kind: usize, i: usize, rng: &mut Rng) -> (String, &'static str) {
    let lines = 20 + (rng.next() % 80) as usize;
    let mut text = String::new();
    let ext = match kind {
        0 => {
            for n in 0..lines {
                text.push_str(&format!(
                    "def handler_{i}_{n}(request):\n    return request.get('p{n}')  # note\n"
                ));
            }
            "py"
        }
        1 => {
            for n in 0..lines {
                text.push_str(&format!("export function tool{i}_{n}(input: string): string {{ return input + '{n}'; }}\n"));
            }
            "ts"
        }
        2 => {
            for n in 0..lines {
                text.push_str(&format!(
                    "const v{n} = require('./m{i}');\nmodule.exports.f{n} = () => v{n};\n"
                ));
            }
            "js"
        }
        3 => {
            text.push_str("package main\n\n");
            for n in 0..lines {
                text.push_str(&format!(
                    "func F{i}x{n}(s string) string {{ return s + \"{n}\" }}\n"
                ));
            }
            "go"
        }
        4 => {
            text.push_str("{\n");
            for n in 0..lines {
                text.push_str(&format!("  \"key{n}\": \"value {i} {n}\",\n"));
            }
            text.push_str("  \"end\": true\n}\n");
            "json"
        }
        _ => {
            for n in 0..lines {
                text.push_str(&format!(
                    "## Section {n}\n\nSome prose about file {i}, paragraph {n}.\n\n"
                ));
            }
            "md"
        }
    };
    if i.is_multiple_of(10) {
        text.push_str("// TODO(bulwark) marker\n");
    }
    (text, ext)
}

fn generate(root: &Path, files: usize) -> u64 {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut bytes = 0;
    for i in 0..files {
        let dir = root.join(format!("pkg{:02}/mod{:02}", i % 50, (i / 50) % 20));
        std::fs::create_dir_all(&dir).unwrap();
        let (text, ext) = body(i % 6, i, &mut rng);
        bytes += text.len() as u64;
        std::fs::write(dir.join(format!("file{i}.{ext}")), text).unwrap();
    }
    bytes
}

#[test]
fn ten_thousand_files() {
    const FILES: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let bytes = generate(dir.path(), FILES);
    let generation = started.elapsed();

    let detectors: Vec<Arc<dyn FileDetector>> = vec![Arc::new(Todo)];
    // Warm the page cache once, then measure.
    scan_tree(&ScanOptions::new(dir.path(), detectors.clone())).unwrap();
    let mut best = f64::MAX;
    let mut report = None;
    for _ in 0..3 {
        let r = scan_tree(&ScanOptions::new(dir.path(), detectors.clone())).unwrap();
        best = best.min(r.duration.as_secs_f64());
        report = Some(r);
    }
    let report = report.unwrap();
    assert_eq!(report.files_scanned, FILES);
    assert_eq!(report.bytes_scanned, bytes);
    assert_eq!(report.findings.len(), FILES / 10);
    assert!(report.notes.is_empty());

    let mut one = ScanOptions::new(dir.path(), detectors.clone());
    one.threads = 1;
    let single = scan_tree(&one).unwrap().duration.as_secs_f64();

    let shipped: Vec<Arc<dyn FileDetector>> =
        vec![Arc::new(Todo), config_detector(), supply_chain_detector()];
    let with_shipped = scan_tree(&ScanOptions::new(dir.path(), shipped))
        .unwrap()
        .duration
        .as_secs_f64();

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "throughput: {FILES} files, {:.1} MB generated in {:.2} s; scan_tree (trivial detector, {cores} cores): \
         {:.3} s = {:.0} files/s, {:.1} MB/s; 1 thread: {:.3} s = {:.0} files/s; \
         with config + supply-chain detectors too: {:.3} s",
        bytes as f64 / 1e6,
        generation.as_secs_f64(),
        best,
        FILES as f64 / best,
        bytes as f64 / 1e6 / best,
        single,
        FILES as f64 / single,
        with_shipped
    );
}
