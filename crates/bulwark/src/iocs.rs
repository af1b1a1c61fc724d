//! `bulwark iocs FILE…`: IOC extraction for scripts.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use bulwark_ioc::{Collector, CustomPattern, ExtractOptions, Extractor, IocType};
use clap::Args;

#[derive(Debug, Args)]
pub struct IocsArgs {
    /// Files to read (`-` for standard input). Defanged forms (hxxp, [.],
    /// (.), [dot], [@], [:]) are found and refanged.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// text (type, value, count; tab-separated), json, csv or stix (a STIX 2.1 bundle).
    #[arg(long, default_value = "text")]
    pub format: String,
    /// Only this type (repeatable): url, domain, ipv4, ipv6, cidr, email,
    /// md5, sha1, sha256, sha512, cve, attack_technique, windows_path,
    /// unix_path, registry_key, mac_address, bitcoin_address, custom; or
    /// the groups hash, path, ip.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Drop private, loopback, link-local, documentation and reserved addresses.
    #[arg(long)]
    pub exclude_private: bool,
    /// Drop well-known benign domains (example.com, microsoft.com, google.com ...).
    #[arg(long)]
    pub exclude_benign: bool,
    /// Another domain to treat as benign, subdomains included (repeatable).
    #[arg(long = "benign-domain", value_name = "DOMAIN")]
    pub benign_domains: Vec<String>,
    /// A user-defined pattern, NAME=REGEX (repeatable); with one capture
    /// group, the group is the value.
    #[arg(long = "pattern", value_name = "NAME=REGEX")]
    pub patterns: Vec<String>,
    /// A TOML file of patterns and benign domains:
    /// `benign_domains = ["corp.example"]` and `[[patterns]] name = "ticket"
    /// regex = 'INC-\d{6}'`.
    #[arg(long = "patterns-file", value_name = "FILE")]
    pub patterns_file: Option<PathBuf>,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Exit 0 when indicators were found, 1 when none were (like grep), 2 on errors.
pub fn run(args: IocsArgs, config: &crate::config::Config) -> Result<ExitCode> {
    let format = args.format.to_ascii_lowercase();
    if !matches!(format.as_str(), "text" | "json" | "csv" | "stix") {
        bail!("--format `{}` is not text, json, csv or stix", args.format);
    }
    let mut types = Vec::new();
    for t in &args.types {
        types.extend(IocType::parse_group(t).ok_or_else(|| {
            anyhow!(
                "--type `{t}` is not an indicator type; use {} or hash, path, ip",
                IocType::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?);
    }
    let mut defaults = match &args.patterns_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the patterns file {}", path.display()))?;
            toml::from_str::<bulwark_ioc::IocDefaults>(&text)
                .with_context(|| format!("{} is not a valid patterns file", path.display()))?
        }
        None => bulwark_ioc::IocDefaults::default(),
    };
    // The config's `[ioc]` section comes first; the file and flags add to it.
    let from_config = config.ioc.to_defaults()?;
    defaults.patterns.splice(0..0, from_config.patterns);
    defaults
        .benign_domains
        .splice(0..0, from_config.benign_domains);
    for p in &args.patterns {
        let (name, regex) = p
            .split_once('=')
            .ok_or_else(|| anyhow!("--pattern `{p}` is not NAME=REGEX"))?;
        defaults.patterns.push(CustomPattern {
            name: name.to_string(),
            regex: regex.to_string(),
        });
    }
    defaults
        .benign_domains
        .extend(args.benign_domains.iter().cloned());
    let options = ExtractOptions {
        types,
        exclude_private: args.exclude_private,
        exclude_benign: args.exclude_benign,
        benign_domains: defaults.benign_domains,
        custom: defaults.patterns,
        ..ExtractOptions::default()
    };
    let extractor = Extractor::new(options)?;
    let mut collector = Collector::new(extractor.options());
    for file in &args.files {
        let name = file.display().to_string();
        if name == "-" {
            extractor
                .extract_reader(std::io::stdin().lock(), Some("-"), &mut collector)
                .context("cannot read standard input")?;
            continue;
        }
        let f = std::fs::File::open(file)
            .with_context(|| format!("cannot open {name}; give a readable file"))?;
        extractor
            .extract_reader(std::io::BufReader::new(f), Some(&name), &mut collector)
            .with_context(|| format!("cannot read {name}"))?;
    }
    let extraction = collector.finish();
    let text = match format.as_str() {
        "json" => serde_json::to_string_pretty(&extraction)? + "\n",
        "csv" => bulwark_ioc::to_csv(&extraction),
        "stix" => serde_json::to_string_pretty(&bulwark_ioc::to_stix(&extraction))? + "\n",
        _ => {
            let mut out = String::new();
            for i in &extraction.indicators {
                let kind = match &i.name {
                    Some(name) => format!("custom:{name}"),
                    None => i.kind.as_str().to_string(),
                };
                out.push_str(&format!("{kind}\t{}\t{}\n", i.value, i.count));
            }
            out
        }
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error.
            let _ = stdout.write_all(text.as_bytes());
        }
    }
    Ok(if extraction.indicators.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
