//! A tree scan as `bulwark scan DIR --format json --no-gitignore` runs it,
//! without the rest of the binary, for profiling the scanner on its own:
//! `cargo run --release -p bulwark-scanner --example scan_tree -- DIR [--analyze-dependencies]`.
//! Prints the JSON report on stdout and the wall time on stderr.

use std::path::PathBuf;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let mut options = bulwark_scan::ScanOptions::new(root, bulwark_scanner::file_detectors());
    options.respect_gitignore = false;
    options.analyze_dependencies = args.any(|a| a == "--analyze-dependencies");
    let report = match bulwark_scan::scan_tree(&options) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("scan_tree: {e}");
            std::process::exit(2);
        }
    };
    print!(
        "{}",
        bulwark_scan::render(&report, bulwark_scan::Format::Json, false)
    );
    eprintln!(
        "{} files, {} findings, {:.3} s",
        report.files_scanned,
        report.findings.len(),
        report.duration.as_secs_f64()
    );
}
