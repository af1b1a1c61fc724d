//! `cargo run --release -p bulwark-timeline --example timeline_speed -- PATH…`:
//! builds a timeline, writes it as JSONL to /dev/null-like sink, and prints
//! events/s and MB/s of input to stderr.

use std::time::Instant;

fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let bytes: u64 = paths
        .iter()
        .flat_map(|p| walkdir::WalkDir::new(p).into_iter().filter_map(Result::ok))
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let options = bulwark_timeline::TimelineOptions {
        paths,
        read: bulwark_timeline::ReadOptions { year: Some(2024) },
        ..Default::default()
    };
    let start = Instant::now();
    let (merged, summary) = bulwark_timeline::build(&options).expect("inputs");
    let mut w =
        bulwark_timeline::EventWriter::new(std::io::sink(), bulwark_timeline::OutputFormat::Jsonl);
    let mut n = 0u64;
    for e in merged {
        w.write(&e).expect("sink");
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{n} events ({} runs on disk) from {:.1} MB in {secs:.2} s: {:.0} events/s, {:.1} MB/s",
        summary.spilled_runs,
        bytes as f64 / 1e6,
        n as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
}
