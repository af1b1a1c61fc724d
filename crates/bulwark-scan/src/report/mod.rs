//! Rendering a [`ScanReport`].

mod html;
mod json;
mod markdown;
mod sarif;
mod text;

use crate::{Finding, Location, ScanReport, Severity};

/// Output formats of `bulwark scan -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Grouped by file, for terminals.
    Text,
    /// Stable machine-readable schema (`version` 1).
    Json,
    /// SARIF 2.1.0 for code-scanning dashboards.
    Sarif,
    /// One self-contained HTML page with filters.
    Html,
    /// For pull-request comments and job summaries.
    Markdown,
}

impl Format {
    /// Parses `text|terminal|json|sarif|html|markdown|md`, any case.
    pub fn parse(text: &str) -> Option<Format> {
        match text.to_ascii_lowercase().as_str() {
            "text" | "terminal" => Some(Format::Text),
            "json" => Some(Format::Json),
            "sarif" => Some(Format::Sarif),
            "html" => Some(Format::Html),
            "markdown" | "md" => Some(Format::Markdown),
            _ => None,
        }
    }

    /// The usual file extension.
    pub const fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Html => "html",
            Format::Markdown => "md",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::parse(s)
            .ok_or_else(|| format!("unknown format {s:?} (text, json, sarif, html, markdown)"))
    }
}

/// Renders the report. `color` only affects [`Format::Text`] (ANSI colours
/// by severity).
pub fn render(report: &ScanReport, format: Format, color: bool) -> String {
    match format {
        Format::Text => text::render(report, color),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
        Format::Html => html::render(report),
        Format::Markdown => markdown::render(report),
    }
}

/// `path:line:column` or `server/tool#field`.
pub(crate) fn location_label(location: &Location) -> String {
    match location {
        Location::File { path, line, column } => format!("{path}:{line}:{column}"),
        Location::Tool {
            server,
            tool,
            field,
        } => format!("{server}/{tool}#{field}"),
    }
}

/// The file a finding is in, or `server/tool` for tool findings.
pub(crate) fn group_label(finding: &Finding) -> String {
    match &finding.location {
        Location::File { path, .. } => path.clone(),
        Location::Tool { server, tool, .. } => format!("{server}/{tool}"),
    }
}

pub(crate) const SEVERITIES_DESC: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

pub(crate) fn count(report: &ScanReport, severity: Severity) -> usize {
    report
        .findings
        .iter()
        .filter(|f| f.severity == severity)
        .count()
}

pub(crate) fn tool_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Milliseconds, for summaries.
pub(crate) fn millis(report: &ScanReport) -> u128 {
    report.duration.as_millis()
}
