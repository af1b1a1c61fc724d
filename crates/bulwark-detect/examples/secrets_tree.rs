//! Scans a directory tree with `scan_secrets` and prints the findings:
//! `cargo run -p bulwark-detect --release --example secrets_tree -- DIR`.

fn main() {
    let root = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let mut stack = vec![std::path::PathBuf::from(root)];
    let (mut files, mut bytes, mut total) = (0usize, 0usize, std::time::Duration::ZERO);
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() {
                if !matches!(name, "target" | ".git" | "node_modules") {
                    stack.push(p);
                }
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            files += 1;
            bytes += text.len();
            let t = std::time::Instant::now();
            let findings = bulwark_detect::scan_secrets(&p.to_string_lossy(), &text);
            total += t.elapsed();
            for f in findings {
                if let bulwark_detect::Location::File { path, line, .. } = &f.location {
                    println!(
                        "{} {:?} {path}:{line} {} | {}",
                        f.rule_id, f.severity, f.evidence, f.snippet
                    );
                }
            }
        }
    }
    eprintln!(
        "{files} files, {} KiB, {:.1} ms, {:.1} MB/s",
        bytes / 1024,
        total.as_secs_f64() * 1e3,
        bytes as f64 / total.as_secs_f64() / 1e6
    );
}
