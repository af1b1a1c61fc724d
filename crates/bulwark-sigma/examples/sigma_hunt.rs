//! `bulwark hunt` without the rest of bulwark: `sigma_hunt RULES PATH... [--format json|jsonl|csv]`.
use std::path::PathBuf;

use bulwark_sigma::{HuntOptions, OutputFormat, RuleSet, hunt, write};

// The bulwark binary's allocator, so the figures are the tool's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut format = OutputFormat::Jsonl;
    if let Some(i) = args.iter().position(|a| a == "--format") {
        format = args
            .get(i + 1)
            .and_then(|f| OutputFormat::parse(f))
            .expect("--format json, jsonl or csv");
        args.drain(i..i + 2);
    }
    if args.len() < 2 {
        eprintln!("usage: sigma_hunt RULES PATH... [--format json|jsonl|csv]");
        std::process::exit(2);
    }
    let rules = RuleSet::load(&[PathBuf::from(&args[0])]).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    for r in rules.rejected() {
        eprintln!("rejected: {}: {}", r.path, r.reason);
    }
    let paths: Vec<PathBuf> = args[1..].iter().map(PathBuf::from).collect();
    let report = hunt(&rules, &paths, &HuntOptions::default());
    for n in &report.notes {
        eprintln!("note: {}: {}", n.path, n.note);
    }
    write(&report, format, &mut std::io::stdout().lock()).expect("stdout");
    let s = &report.summary;
    eprintln!(
        "{} rules loaded, {} rejected; {} events in {} files; {} detections; {:.0} events/s",
        s.rules_loaded, s.rules_rejected, s.events, s.files_read, s.detections, s.events_per_second
    );
}
