//! `bulwark report CASE.json`: a case file as a Markdown and an HTML report.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use bulwark_report::Format;
use clap::Args;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The case JSON file (`-` for stdin): findings plus the JSON results of
    /// generate_timeline, extract_iocs, hunt_sigma, quick_triage and
    /// list_remediations. See docs/report.md.
    #[arg(value_name = "CASE.json")]
    pub case: PathBuf,
    /// markdown, html or both.
    #[arg(long, default_value = "both")]
    pub format: String,
    /// Directory to write report.md and report.html into (created if
    /// missing); `-` prints the one document of --format markdown or html.
    #[arg(long, short = 'o', value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let format = Format::parse(&args.format).ok_or_else(|| {
        anyhow!(
            "--format `{}` is not known; use markdown, html or both",
            args.format
        )
    })?;
    let to_stdout = args.output.as_os_str() == "-";
    if to_stdout && format == Format::Both {
        bail!(
            "--output - prints one document; add --format markdown or --format html, or give a directory"
        );
    }
    let case = if args.case.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(bulwark_report::MAX_CASE_BYTES + 1)
            .read_to_string(&mut text)
            .context("cannot read the case from stdin")?;
        if text.len() as u64 > bulwark_report::MAX_CASE_BYTES {
            bail!(
                "the case on stdin is over the {}-byte limit",
                bulwark_report::MAX_CASE_BYTES
            );
        }
        bulwark_report::case::parse(&text).map_err(|e| anyhow!("stdin: {e}"))?
    } else {
        bulwark_report::read_case(&args.case).map_err(|e| anyhow!(e))?
    };
    let rendered = bulwark_report::render(&case, format, &bulwark_report::now())?;
    if to_stdout {
        let doc = rendered.markdown.or(rendered.html).unwrap_or_default();
        std::io::stdout().write_all(doc.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    for (name, doc) in [
        ("report.md", rendered.markdown),
        ("report.html", rendered.html),
    ] {
        if let Some(doc) = doc {
            let path = args.output.join(name);
            std::fs::write(&path, doc)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
