//! A minimal front end for trying the crate without the `bulwark` binary:
//! `cargo run -p bulwark-scan --example scan -- [ROOT] [text|json|sarif|html|markdown] [--configs] [--no-gitignore]`.
//! Runs the config and supply-chain detectors (the binary adds the rest).

use std::path::PathBuf;
use std::process::ExitCode;

use bulwark_scan::{
    Format, ScanOptions, config_detector, default_config_paths, exit_code, render, scan_configs,
    scan_tree, supply_chain_detector,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let configs = args.iter().any(|a| a == "--configs");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let root = positional
        .first()
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let format = positional
        .get(1)
        .map_or(Some(Format::Text), |f| Format::parse(f));
    let Some(format) = format else {
        eprintln!("unknown format");
        return ExitCode::from(3);
    };
    let result = if configs {
        scan_configs(&default_config_paths())
    } else {
        let mut options = ScanOptions::new(root, vec![config_detector(), supply_chain_detector()]);
        options.progress = true;
        options.respect_gitignore = !args.iter().any(|a| a == "--no-gitignore");
        scan_tree(&options)
    };
    match result {
        Ok(report) => {
            use std::io::IsTerminal;
            print!(
                "{}",
                render(&report, format, std::io::stdout().is_terminal())
            );
            ExitCode::from(exit_code(&report, None) as u8)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
