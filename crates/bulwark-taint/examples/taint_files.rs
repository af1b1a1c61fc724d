//! `cargo run --release -p bulwark-taint --example taint_files -- PATH...`: prints the
//! tools and findings of each file, or with `--bench DIR` walks a directory and
//! reports how many files per second `analyze` handles on one thread.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bulwark_taint::{Language, analyze, tool_entry_points};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            collect(&p, out);
        } else if ft.is_file() && Language::from_path(&p.to_string_lossy()).is_some() {
            out.push(p);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tools_only = args.first().map(String::as_str) == Some("--bench-tools");
    if args.first().map(String::as_str) == Some("--bench") || tools_only {
        let mut files = Vec::new();
        for d in &args[1..] {
            let p = Path::new(d);
            if p.is_file() {
                files.push(p.to_path_buf());
            } else {
                collect(p, &mut files);
            }
        }
        files.sort();
        let sources: Vec<(String, Language, String)> = files
            .iter()
            .filter_map(|p| {
                let s = p.to_string_lossy().to_string();
                let lang = Language::from_path(&s)?;
                Some((s, lang, std::fs::read_to_string(p).ok()?))
            })
            .collect();
        let bytes: usize = sources.iter().map(|s| s.2.len()).sum();
        let start = Instant::now();
        let mut findings = 0;
        let mut skipped = 0;
        let mut slowest = (0.0f64, String::new());
        for (path, lang, text) in &sources {
            if !bulwark_taint::within_bounds(text) {
                skipped += 1;
                continue;
            }
            let t = Instant::now();
            if tools_only {
                findings += tool_entry_points(path, *lang, text).len();
            } else {
                findings += analyze(path, *lang, text).len();
            }
            let dt = t.elapsed().as_secs_f64();
            if dt > slowest.0 {
                slowest = (dt, path.clone());
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{} files ({:.1} MiB, {} skipped as out of bounds) in {:.2} s: {:.0} files/s, {:.1} MiB/s, {} findings; slowest {:.3} s {}",
            sources.len(),
            bytes as f64 / 1048576.0,
            skipped,
            secs,
            sources.len() as f64 / secs,
            bytes as f64 / 1048576.0 / secs,
            findings,
            slowest.0,
            slowest.1
        );
        return;
    }
    for path in &args {
        let Some(lang) = Language::from_path(path) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for t in tool_entry_points(path, lang, &text) {
            println!(
                "tool {:?} fn={} params={:?} line={} {} dynamic={}",
                t.name, t.function, t.parameters, t.line, t.framework, t.dynamic_description
            );
        }
        for f in analyze(path, lang, &text) {
            if let bulwark_detect::Location::File { line, column, .. } = f.location {
                println!(
                    "{path}:{line}:{column} {} {:?}/{:?} {} | {}",
                    f.rule_id, f.severity, f.confidence, f.message, f.evidence
                );
            }
        }
    }
}
