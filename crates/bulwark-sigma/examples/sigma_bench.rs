//! Events per second of a Sigma hunt: `sigma_bench RULES LOGS [RUNS]`.
//! Prints one JSON line per run (rules loaded, events, detections, seconds,
//! events/s) after a parse-only pass (no rules) for comparison.

use std::path::PathBuf;
use std::time::Instant;

use bulwark_sigma::{HuntOptions, RuleSet, hunt};

// The bulwark binary's allocator, so the figures are the tool's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU seconds this process has used (all threads, user + system), to the
/// nanosecond: a hunt of the corpus takes a fifth of a second, too short for
/// the 10 ms clock ticks of /proc/self/stat.
fn cpu_seconds() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: sigma_bench RULES LOGS [RUNS]");
        std::process::exit(2);
    }
    let rules_path = PathBuf::from(&args[1]);
    let logs = vec![PathBuf::from(&args[2])];
    let runs: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(3);

    let started = Instant::now();
    let rules = RuleSet::load(std::slice::from_ref(&rules_path)).expect("rules load");
    let load_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} rules loaded, {} rejected in {load_secs:.2}s",
        rules.rules_loaded(),
        rules.rejected().len()
    );
    let none = RuleSet::from_yaml(
        "none.yml",
        "title: never\nlogsource:\n    product: none\ndetection:\n    sel:\n        X: y\n    condition: sel\n",
    );
    let cpu = cpu_seconds();
    let report = hunt(&none, &logs, &HuntOptions::default());
    let cpu = cpu_seconds() - cpu;
    println!(
        "{{\"pass\":\"parse-only\",\"events\":{},\"seconds\":{:.3},\"events_per_second\":{:.0},\"cpu_seconds\":{cpu:.4},\"events_per_cpu_second\":{:.0}}}",
        report.summary.events,
        report.summary.elapsed_ms as f64 / 1000.0,
        report.summary.events_per_second,
        report.summary.events as f64 / cpu.max(0.01)
    );
    for run in 1..=runs {
        let cpu = cpu_seconds();
        let report = hunt(&rules, &logs, &HuntOptions::default());
        let cpu = cpu_seconds() - cpu;
        println!(
            "{{\"pass\":\"hunt\",\"run\":{run},\"rules\":{},\"events\":{},\"detections\":{},\"files\":{},\"seconds\":{:.3},\"events_per_second\":{:.0},\"threads\":{},\"cpu_seconds\":{cpu:.4},\"events_per_cpu_second\":{:.0}}}",
            rules.rules_loaded(),
            report.summary.events,
            report.summary.detections,
            report.summary.files_read,
            report.summary.elapsed_ms as f64 / 1000.0,
            report.summary.events_per_second,
            rayon::current_num_threads(),
            report.summary.events as f64 / cpu.max(0.01)
        );
    }
}
