//! Indicator-of-compromise extraction: URLs, domains (checked against the
//! public suffix list), IPv4/IPv6 and CIDRs, emails, MD5/SHA-1/SHA-256/
//! SHA-512, CVE and MITRE ATT&CK ids, Windows and Unix paths, registry keys,
//! MAC and Bitcoin addresses, and user-defined patterns. Defanged forms
//! (`hxxp`, `[.]`, `(.)`, `{.}`, ` dot `, `[@]`, ` at `, `[:]`, `[/]`) are
//! found and refanged; each indicator keeps its original text and offsets.
//!
//! The engine ([`Extractor`]) knows nothing of MCP; [`register`] adds the
//! `extract_iocs` tool to the `analysis` profile.

mod extract;
mod output;
mod refang;
mod tools;
mod validate;

use bulwark_core::RegistryBuilder;

pub use extract::{
    Collector, CustomPattern, ExtractOptions, Extraction, Extractor, Indicator, IocError, IocType,
    Occurrence, combined_pattern, extract, extract_files,
};
pub use output::{csv_field, stix_pattern, to_csv, to_stix};
pub use refang::refang_str;
pub use tools::{IocDefaults, tools};
pub use validate::{BENIGN_DOMAINS, reserved_ip, valid_bitcoin, valid_domain};

/// Description of the `analysis` profile (shared by the analysis crates).
pub const ANALYSIS_PROFILE: &str = "Offline analysis of evidence on the bulwark host: IOC extraction, timelines, Sigma hunting and reports";

/// Add `extract_iocs` to the registry, with no configured patterns.
pub fn register(registry: &mut RegistryBuilder) {
    register_with(registry, IocDefaults::default());
}

/// Add `extract_iocs` with defaults from the configuration (custom patterns
/// and benign domains applied to every call).
pub fn register_with(registry: &mut RegistryBuilder, defaults: IocDefaults) {
    registry.profile("analysis", ANALYSIS_PROFILE, false);
    registry.tools(tools::tools_with(defaults));
}
