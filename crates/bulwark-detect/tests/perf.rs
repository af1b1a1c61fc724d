//! Throughput on ordinary source and bounded time on pathological input.
//! Timings are printed (`--nocapture`); the assertions are loose ceilings
//! that only catch super-linear behaviour, so they hold in debug builds too.

use std::path::Path;
use std::time::{Duration, Instant};

use bulwark_detect::{ToolDescriptor, inspect_tools, scan_secrets};

/// The workspace's own Rust sources, repeated up to `size` bytes.
fn ordinary_code(size: usize) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("target") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut corpus = String::new();
    for f in &files {
        if let Ok(s) = std::fs::read_to_string(f) {
            corpus.push_str(&s);
        }
    }
    assert!(!corpus.is_empty(), "no sources found");
    let mut out = String::with_capacity(size + corpus.len());
    while out.len() < size {
        out.push_str(&corpus);
    }
    out
}

fn timed<T>(label: &str, bytes: usize, f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    let d = t.elapsed();
    println!(
        "{label}: {} KiB in {:.1} ms ({:.1} MB/s)",
        bytes / 1024,
        d.as_secs_f64() * 1e3,
        bytes as f64 / d.as_secs_f64() / 1e6
    );
    (out, d)
}

#[test]
fn five_mib_of_ordinary_code() {
    let code = ordinary_code(5 << 20);
    // Per-file calls, as the scanner makes them (files of about 20 KiB).
    let chunks: Vec<&str> = code
        .as_bytes()
        .chunks(20 * 1024)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    let _ = scan_secrets(
        "warmup.rs",
        "warm up the automaton and regexes: password = \"x\"",
    );
    let (n, d) = timed(
        "scan_secrets, 5 MiB of Rust in 20 KiB files",
        code.len(),
        || {
            chunks
                .iter()
                .map(|c| scan_secrets("src/lib.rs", c).len())
                .sum::<usize>()
        },
    );
    println!("findings: {n}");
    assert!(d < Duration::from_secs(30), "too slow: {d:?}");
}

#[test]
fn pathological_lines_stay_linear() {
    let mib = 1 << 20;
    let cases: Vec<(&str, String)> = vec![
        ("one char", "a".repeat(mib)),
        ("sk- repeated", "sk-".repeat(mib / 3)),
        ("AKIA repeated", "AKIA".repeat(mib / 4)),
        ("password= repeated", "password=".repeat(mib / 9)),
        ("eyJ repeated", "eyJ".repeat(mib / 3)),
        ("base64 run", "QUJD".repeat(mib / 4)),
        (
            "-----BEGIN repeated",
            "-----BEGIN PRIVATE KEY-----".repeat(mib / 27),
        ),
        ("token quotes", "token = \"".repeat(mib / 9)),
        ("url schemes", "postgres://a:b@".repeat(mib / 15)),
        ("pat path", "pathpat".repeat(mib / 7)),
        ("SK and key-", "SKkey-SK".repeat(mib / 8)),
    ];
    for (label, text) in &cases {
        let (_, d) = timed(
            &format!("scan_secrets, 1 MiB line of {label}"),
            text.len(),
            || scan_secrets("x.min.js", text),
        );
        assert!(d < Duration::from_secs(20), "{label}: {d:?}");
    }
}

#[test]
fn pathological_tool_descriptions_stay_linear() {
    let n = 256 * 1024;
    let cases: Vec<(&str, String)> = vec![
        ("ignore repeated", "ignore ".repeat(n / 7)),
        ("quotes", "'a ".repeat(n / 3)),
        ("sentences", "Send it. ".repeat(n / 9)),
        ("base64", "QUJD".repeat(n / 4)),
        ("percent", "%41".repeat(n / 3)),
        ("zero width", "a\u{200B}".repeat(n / 4)),
        ("comments", "<!-- a b c ".repeat(n / 11)),
        ("send to", "send the token to ".repeat(n / 18)),
    ];
    for (label, text) in &cases {
        let tool = ToolDescriptor {
            server: "s".into(),
            name: "t".into(),
            description: text.clone(),
            input_schema: None,
            kind: Default::default(),
        };
        let (_, d) = timed(
            &format!("inspect_tools, 256 KiB description of {label}"),
            text.len(),
            || inspect_tools(std::slice::from_ref(&tool), &[]),
        );
        assert!(d < Duration::from_secs(30), "{label}: {d:?}");
    }
}
