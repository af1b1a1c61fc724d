//! `bulwark scan`: a source tree and/or MCP client configs, one report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use bulwark_scan::{Baseline, Format, ScanOptions, ScanReport, Severity};

use crate::cli::ScanArgs;

/// Exit codes: 0 clean, 1 findings at or above `--fail-on`, 2 the scan
/// failed, 3 the command line is wrong.
pub fn run(args: ScanArgs) -> ExitCode {
    match scan(args) {
        Ok(code) => ExitCode::from(code as u8),
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(bulwark_scan::EXIT_USAGE as u8)
        }
        Err(Failure::Scan(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(bulwark_scan::EXIT_ERROR as u8)
        }
    }
}

enum Failure {
    Usage(String),
    Scan(String),
}

fn severity(flag: &str, value: Option<&str>) -> Result<Option<Severity>, Failure> {
    value
        .map(|v| {
            Severity::parse(v).ok_or_else(|| {
                Failure::Usage(format!(
                    "{flag} `{v}` is not a severity; use info, low, medium, high or critical"
                ))
            })
        })
        .transpose()
}

fn scan(args: ScanArgs) -> Result<i32, Failure> {
    let format = Format::parse(&args.format).ok_or_else(|| {
        Failure::Usage(format!(
            "--format `{}` is unknown; use text, json, sarif, html or markdown",
            args.format
        ))
    })?;
    let fail_on = severity("--fail-on", args.fail_on.as_deref())?;
    let min = severity("--min-severity", args.min_severity.as_deref())?;
    let baseline = args
        .baseline
        .as_ref()
        .map(|path| {
            Baseline::load(path).map_err(|e| {
                Failure::Usage(format!(
                    "--baseline {}: {e}; write one with --write-baseline",
                    path.display()
                ))
            })
        })
        .transpose()?;
    let scan_configs = args.configs || !args.config_files.is_empty();
    let live = live_target(&args)?;
    if args.pin.is_some() && live.is_none() {
        return Err(Failure::Usage(
            "--pin records a live server's tools; use it with --server or --url".into(),
        ));
    }
    let tree = match (&args.path, scan_configs || live.is_some()) {
        (Some(path), _) => Some(path.clone()),
        (None, false) => Some(PathBuf::from(".")),
        (None, true) => None,
    };
    if let Some(root) = &tree
        && !root.exists()
    {
        return Err(Failure::Usage(format!(
            "{} does not exist; give a directory or file to scan",
            root.display()
        )));
    }

    let mut report: Option<ScanReport> = None;
    if let Some(root) = tree {
        let mut options = ScanOptions::new(root.clone(), bulwark_scanner::file_detectors());
        options.respect_gitignore = !args.no_gitignore;
        options.analyze_dependencies = args.analyze_dependencies;
        options.progress = !args.no_progress && std::io::stderr().is_terminal();
        if let Some(rev) = &args.diff {
            let changed = bulwark_scan::changed_files(&root, rev)
                .map_err(|e| Failure::Scan(format!("--diff {rev}: {e}")))?;
            options.only_paths = Some(changed);
        }
        report = Some(bulwark_scan::scan_tree(&options).map_err(|e| Failure::Scan(e.to_string()))?);
    }
    if scan_configs {
        let mut paths = args.config_files.clone();
        for path in &paths {
            if !path.exists() {
                return Err(Failure::Usage(format!(
                    "--config-file {} does not exist",
                    path.display()
                )));
            }
        }
        if args.configs {
            paths.extend(bulwark_scan::default_config_paths());
        }
        let extra: Vec<std::sync::Arc<dyn bulwark_scan::FileDetector>> =
            vec![std::sync::Arc::new(bulwark_scanner::SecretsDetector)];
        let configs = bulwark_scan::scan_configs_with(&paths, &extra)
            .map_err(|e| Failure::Scan(e.to_string()))?;
        match &mut report {
            Some(report) => report.merge(configs),
            None => report = Some(configs),
        }
    }
    if let Some(target) = live {
        let found = live_scan(&target, &args)?;
        match &mut report {
            Some(report) => report.merge(found),
            None => report = Some(found),
        }
    }
    let Some(mut report) = report else {
        return Err(Failure::Usage("nothing to scan".into()));
    };
    if let Some(path) = &args.write_baseline {
        Baseline::save(&report, path)
            .map_err(|e| Failure::Scan(format!("--write-baseline {}: {e}", path.display())))?;
    }
    if let Some(baseline) = &baseline {
        report.apply_baseline(baseline);
    }
    if let Some(min) = min {
        report.retain_at_least(min);
    }
    let color = args.output.is_none() && format == Format::Text && std::io::stdout().is_terminal();
    let rendered = bulwark_scan::render(&report, format, color);
    match &args.output {
        Some(path) => std::fs::write(path, rendered)
            .map_err(|e| Failure::Scan(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{rendered}"),
    }
    Ok(bulwark_scan::exit_code(&report, fail_on))
}

/// `--server` or `--url` (with `--header`s, and `--sse` for a legacy endpoint) as an upstream target.
fn live_target(args: &ScanArgs) -> Result<Option<bulwark_upstream::Target>, Failure> {
    if let Some(command) = &args.server {
        return bulwark_upstream::Target::parse_command_line(command)
            .map(Some)
            .map_err(|e| Failure::Usage(format!("--server: {e}")));
    }
    let Some(url) = &args.url else {
        return Ok(None);
    };
    let mut headers = std::collections::BTreeMap::new();
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            return Err(Failure::Usage(format!(
                "--header `{header}` is not `Name: value`"
            )));
        };
        headers.insert(name.trim().to_string(), value.trim().to_string());
    }
    let url = url.clone();
    Ok(Some(if args.sse {
        bulwark_upstream::Target::Sse { url, headers }
    } else {
        bulwark_upstream::Target::Http { url, headers }
    }))
}

fn live_scan(target: &bulwark_upstream::Target, args: &ScanArgs) -> Result<ScanReport, Failure> {
    let options = bulwark_upstream::ConnectOptions {
        timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        request_timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Scan(format!("cannot start the async runtime: {e}")))?;
    let sandbox = bulwark_scanner::ScanSandbox {
        kind: args.sandbox,
        network: args.network,
    };
    let (scanned, enforced) = runtime
        .block_on(bulwark_scanner::scan_live_sandboxed(
            target, &options, sandbox,
        ))
        .map_err(Failure::Scan)?;
    if let Some(report) = enforced {
        match &report.warning {
            Some(warning) => eprintln!("warning: {warning}"),
            None => eprintln!(
                "started the server in a sandbox ({}, network {})",
                report.backend,
                if report.network { "on" } else { "off" }
            ),
        }
    }
    let mut findings = scanned.findings;
    if let Some(path) = &args.pin {
        let mut pins = bulwark_scanner::Pins::load(path).map_err(Failure::Scan)?;
        findings.extend(pins.check(&scanned.server, &scanned.tools));
        pins.save(path).map_err(Failure::Scan)?;
    }
    Ok(ScanReport {
        findings,
        duration: started.elapsed(),
        rules: bulwark_detect::rules().to_vec(),
        ..Default::default()
    })
}
