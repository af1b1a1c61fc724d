//! Where a tree scan's time goes, one thread, files already in memory:
//! `cargo run --release -p bulwark-scanner --example scan_profile -- DIR`.
//! Prints the time of each file detector by file extension.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            collect(&p, out);
        } else if ft.is_file() {
            out.push(p);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let texts: Vec<(String, String)> = files
        .iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(&root).ok()?.to_string_lossy().into_owned();
            Some((rel, std::fs::read_to_string(p).ok()?))
        })
        .collect();
    let detectors = bulwark_scanner::file_detectors();
    let names = ["secrets", "code", "supply", "config"];
    let mut table: BTreeMap<(String, &str), (usize, Duration, usize)> = BTreeMap::new();
    let started = Instant::now();
    for (rel, text) in &texts {
        let ext = rel.rsplit_once('.').map_or("", |x| x.1).to_string();
        for (d, name) in detectors.iter().zip(names) {
            if !d.applies_to(rel) {
                continue;
            }
            let t = Instant::now();
            let n = d.scan(rel, text).len();
            let e = t.elapsed();
            let row = table.entry((ext.clone(), name)).or_default();
            row.0 += 1;
            row.1 += e;
            row.2 += n;
        }
    }
    let total = started.elapsed();
    for ((ext, name), (count, time, found)) in &table {
        println!(
            "{ext:>8} {name:>8} files {count:6} findings {found:6} {:9.1} ms  {:7.1} us/file",
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() * 1e6 / *count as f64
        );
    }
    println!(
        "total {:.1} ms over {} files",
        total.as_secs_f64() * 1e3,
        texts.len()
    );
}
