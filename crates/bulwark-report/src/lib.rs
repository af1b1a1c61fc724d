//! Investigation reports. A case — the analyst's findings plus the JSON
//! results of `generate_timeline`, `extract_iocs`, `hunt_sigma`,
//! `quick_triage` and `list_remediations`, pasted in as they are — becomes a
//! Markdown report and a self-contained HTML page: summary, key findings with
//! evidence, timeline, IOC table, detections by severity, triage, actions
//! taken and recommendations.
//!
//! The engine knows nothing of MCP; [`register`] adds `generate_report` to
//! the `analysis` profile.

pub mod case;
mod html;
pub mod markdown;
pub mod tools;
pub mod view;

use bulwark_core::RegistryBuilder;

pub use case::{Case, CaseError, MAX_CASE_BYTES};
pub use tools::{read_case, tools};

/// Which documents to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    Both,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text.trim().to_ascii_lowercase().as_str() {
            "markdown" | "md" => Some(Format::Markdown),
            "html" => Some(Format::Html),
            "both" => Some(Format::Both),
            _ => None,
        }
    }

    pub fn markdown(self) -> bool {
        matches!(self, Format::Markdown | Format::Both)
    }

    pub fn html(self) -> bool {
        matches!(self, Format::Html | Format::Both)
    }
}

/// The rendered documents.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub markdown: Option<String>,
    pub html: Option<String>,
    pub view: view::Report,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Case(#[from] CaseError),
    #[error("cannot render the HTML report: {0}")]
    Template(String),
}

/// Render a parsed case. `generated_at` is printed as the report's time.
pub fn render(case: &Case, format: Format, generated_at: &str) -> Result<Rendered, ReportError> {
    let view = view::build(case, generated_at);
    let markdown = format.markdown().then(|| markdown::render(&view));
    let html = if format.html() {
        Some(html::render(&view).map_err(|e| ReportError::Template(format!("{e:#}")))?)
    } else {
        None
    };
    Ok(Rendered {
        markdown,
        html,
        view,
    })
}

/// Now, RFC 3339 UTC to the second.
pub fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Add `generate_report` to the registry.
pub fn register(registry: &mut RegistryBuilder) {
    registry.profile(
        "analysis",
        "Offline analysis of evidence on the bulwark host: IOC extraction, timelines, Sigma hunting and reports",
        false,
    );
    registry.tools(tools::tools());
}
