//! `extract_iocs`: the extractor as an MCP tool in the `analysis` profile.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bulwark_core::{CallContext, Severity, ToolDef, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::extract::{Collector, CustomPattern, ExtractOptions, Extractor, Indicator, IocType};

/// Files read by one call, at most (directories are walked up to this).
const MAX_FILES: usize = 10_000;
/// Indicators returned by default; the summary counts all.
const DEFAULT_MAX_INDICATORS: usize = 500;

/// Settings applied to every call (from the configuration).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IocDefaults {
    #[serde(default)]
    pub patterns: Vec<CustomPattern>,
    #[serde(default)]
    pub benign_domains: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExtractArgs {
    /// Files or directories on the bulwark host to read (directories are
    /// walked, symlinks not followed).
    #[serde(default)]
    paths: Vec<String>,
    /// Or text to read directly, e.g. a report or another tool's JSON result.
    #[serde(default)]
    text: Option<String>,
    /// Only these types: url, domain, ipv4, ipv6, cidr, email, md5, sha1,
    /// sha256, sha512, cve, attack_technique, windows_path, unix_path,
    /// registry_key, mac_address, bitcoin_address, custom; or the groups
    /// hash, path, ip. Default: all.
    #[serde(default)]
    types: Vec<String>,
    /// Drop private, loopback, link-local, documentation and reserved addresses.
    #[serde(default)]
    exclude_private: bool,
    /// Drop well-known benign domains (example.com, microsoft.com, google.com ...)
    /// and the URLs and emails on them.
    #[serde(default)]
    exclude_benign: bool,
    /// More domains to treat as benign (their subdomains too).
    #[serde(default)]
    benign_domains: Vec<String>,
    /// Extra patterns, reported as type `custom` with the pattern's name.
    #[serde(default)]
    patterns: Vec<CustomPattern>,
    /// json (default), csv or stix (a STIX 2.1 bundle).
    #[serde(default)]
    format: Option<String>,
    /// Return at most this many indicators (default 500); the summary counts all.
    #[serde(default)]
    max_indicators: Option<usize>,
    /// Offsets kept per indicator (default 10).
    #[serde(default)]
    max_offsets: Option<usize>,
}

#[derive(Serialize, JsonSchema)]
struct ExtractResult {
    summary: Summary,
    /// Most frequent first.
    indicators: Vec<Indicator>,
    /// Whether `indicators` was cut to `max_indicators`.
    truncated: bool,
    /// With `format: "csv"`: the indicators as CSV.
    #[serde(skip_serializing_if = "Option::is_none")]
    csv: Option<String>,
    /// With `format: "stix"`: a STIX 2.1 bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    stix: Option<serde_json::Value>,
    /// Inputs skipped and why.
    notes: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
struct Summary {
    files: usize,
    bytes: u64,
    /// Distinct indicators found.
    indicators: usize,
    /// Distinct indicators by type.
    by_type: BTreeMap<String, usize>,
    /// Occurrences dropped by exclude_private / exclude_benign.
    excluded: u64,
}

fn bad(msg: String) -> ToolError {
    ToolError::InvalidArguments(msg)
}

/// Files under the given paths, in a stable order.
fn expand(paths: &[String], notes: &mut Vec<String>) -> Result<Vec<PathBuf>, ToolError> {
    let mut out = Vec::new();
    for p in paths {
        let path = PathBuf::from(p);
        let meta = std::fs::metadata(&path).map_err(|e| {
            bad(format!("field `paths`: `{p}` cannot be read ({e}); give a file or directory on the bulwark host"))
        })?;
        if meta.is_file() {
            out.push(path);
            continue;
        }
        for entry in walkdir::WalkDir::new(&path)
            .follow_links(false)
            .sort_by_file_name()
        {
            match entry {
                Ok(e) if e.file_type().is_file() => {
                    if out.len() >= MAX_FILES {
                        notes.push(format!("stopped after {MAX_FILES} files"));
                        return Ok(out);
                    }
                    out.push(e.into_path());
                }
                Ok(_) => {}
                Err(e) => notes.push(format!("skipped: {e}")),
            }
        }
    }
    Ok(out)
}

fn parse_types(types: &[String]) -> Result<Vec<IocType>, ToolError> {
    let mut out = Vec::new();
    for t in types {
        let kinds = IocType::parse_group(t).ok_or_else(|| {
            bad(format!(
                "field `types`: `{t}` is not an indicator type; use {} or hash, path, ip",
                IocType::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        out.extend(kinds);
    }
    Ok(out)
}

fn run(args: ExtractArgs, defaults: &IocDefaults) -> Result<ToolOutput, ToolError> {
    if args.paths.is_empty() && args.text.is_none() {
        return Err(bad("give `paths` (files or directories) or `text`".into()));
    }
    let format = args
        .format
        .as_deref()
        .unwrap_or("json")
        .to_ascii_lowercase();
    if !matches!(format.as_str(), "json" | "csv" | "stix") {
        return Err(bad(format!(
            "field `format`: `{format}` is not json, csv or stix"
        )));
    }
    let mut custom = defaults.patterns.clone();
    custom.extend(args.patterns);
    let mut benign = defaults.benign_domains.clone();
    benign.extend(args.benign_domains);
    let options = ExtractOptions {
        types: parse_types(&args.types)?,
        exclude_private: args.exclude_private,
        exclude_benign: args.exclude_benign,
        benign_domains: benign,
        custom,
        max_offsets: args.max_offsets.unwrap_or(10),
        ..ExtractOptions::default()
    };
    let extractor = Extractor::new(options).map_err(|e| bad(format!("field `patterns`: {e}")))?;
    let mut notes = Vec::new();
    let files = expand(&args.paths, &mut notes)?;
    let mut collector = Collector::new(extractor.options());
    if let Some(text) = &args.text {
        extractor.scan(text.as_bytes(), 0, None, &mut collector);
        collector.bytes += text.len() as u64;
    }
    for file in &files {
        let name = file.display().to_string();
        match std::fs::File::open(file) {
            Ok(f) => {
                if let Err(e) = extractor.extract_reader(
                    std::io::BufReader::new(f),
                    Some(&name),
                    &mut collector,
                ) {
                    notes.push(format!("{name}: read stopped: {e}"));
                }
            }
            Err(e) => notes.push(format!("{name}: skipped: {e}")),
        }
    }
    let mut extraction = collector.finish();
    let mut by_type = BTreeMap::new();
    for i in &extraction.indicators {
        *by_type.entry(i.kind.as_str().to_string()).or_insert(0) += 1;
    }
    let summary = Summary {
        files: files.len(),
        bytes: extraction.bytes,
        indicators: extraction.indicators.len(),
        by_type,
        excluded: extraction.excluded,
    };
    // Most frequent first, first-seen order among equals.
    extraction
        .indicators
        .sort_by_key(|i| std::cmp::Reverse(i.count));
    let max = args.max_indicators.unwrap_or(DEFAULT_MAX_INDICATORS);
    let truncated = extraction.indicators.len() > max;
    extraction.indicators.truncate(max);
    let csv = (format == "csv").then(|| crate::to_csv(&extraction));
    let stix = (format == "stix").then(|| crate::to_stix(&extraction));
    let result = ExtractResult {
        summary,
        indicators: if format == "json" {
            extraction.indicators
        } else {
            Vec::new()
        },
        truncated,
        csv,
        stix,
        notes,
    };
    serde_json::to_value(result)
        .map(ToolOutput::structured)
        .map_err(|e| ToolError::failed(format!("cannot encode the indicators: {e}")))
}

pub fn tools() -> Vec<ToolDef> {
    tools_with(IocDefaults::default())
}

pub(crate) fn tools_with(defaults: IocDefaults) -> Vec<ToolDef> {
    let defaults = std::sync::Arc::new(defaults);
    vec![
        ToolDef::new(
            "extract_iocs",
            "Extract indicators of compromise from files, directories or text on the bulwark host: URLs, domains (public-suffix checked), IPv4/IPv6/CIDR, emails, MD5/SHA-1/SHA-256/SHA-512, CVE and MITRE ATT&CK ids, Windows/Unix paths, registry keys, MAC and Bitcoin addresses. Defanged forms (hxxp, [.], (.), [dot], [@], [:]) are refanged. Each indicator has its type, value, original text, count and offsets. Output JSON, CSV or a STIX 2.1 bundle.",
        )
        .title("Extract IOCs")
        .profiles(&["analysis"])
        .read_only()
        .severity(Severity::Medium)
        .output::<ExtractResult>()
        .handler(move |_ctx: CallContext, args: ExtractArgs| {
            let defaults = defaults.clone();
            async move {
                tokio::task::spawn_blocking(move || run(args, &defaults))
                    .await
                    .map_err(|e| ToolError::failed(format!("the extraction stopped: {e}")))?
            }
        }),
    ]
}
