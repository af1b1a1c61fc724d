//! Live investigation and containment of the `local` endpoint: processes,
//! network, persistence, packages and files read straight from procfs, sysfs
//! and the file system; YARA scanning with yara-x; containment actions written
//! to a remediation ledger.
//!
//! Tool names and parameters follow LimaCharlie's `live_investigation` and
//! `threat_response` profiles, so the same calls reach platform sensors once
//! those backends exist. Every tool takes `sid`; `local` is this host.

mod common;
mod contain;
mod files;
mod ledger;
mod memory;
mod net;
mod paths;
mod procs;
mod system;
mod triage;
mod users;
mod yara;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bulwark_core::RegistryBuilder;

pub use ledger::{Ledger, LedgerError, Remediation};

/// How the live tools are set up. Built by the binary from the `[live]`
/// section of the configuration.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Where the remediation ledger (`remediations.db`) and, unless
    /// `vault_dir` says otherwise, the quarantine vault live.
    pub data_dir: PathBuf,
    /// File tools only reach paths under these roots (after resolving `..` and
    /// symlinks). Default: `/`.
    pub allowed_roots: Vec<PathBuf>,
    /// Directory of `.yar`/`.yara` files that `rule_name` picks from.
    pub rules_dir: Option<PathBuf>,
    /// Where quarantined files are kept. Default: `<data_dir>/vault`.
    pub vault_dir: Option<PathBuf>,
    /// Whether `isolate_network` may change the firewall at all.
    pub allow_isolation: bool,
    pub limits: Limits,
}

/// Bounds every live tool honours; a result says which one it hit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Rows in one result (processes, connections, files, matches...).
    pub max_rows: usize,
    /// Bytes of strings or memory text in one result.
    pub max_result_bytes: usize,
    /// Largest file hashed or scanned; larger ones are skipped and reported.
    pub max_file_bytes: u64,
    /// Largest memory region read from a process.
    pub max_region_bytes: u64,
    /// Wall-clock time one call may spend collecting.
    pub max_duration: Duration,
    /// Deepest directory recursion.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rows: 10_000,
            max_result_bytes: 4 * 1024 * 1024,
            max_file_bytes: 256 * 1024 * 1024,
            max_region_bytes: 64 * 1024 * 1024,
            max_duration: Duration::from_secs(60),
            max_depth: 32,
        }
    }
}

impl LiveConfig {
    /// Defaults around one data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        LiveConfig {
            data_dir: data_dir.into(),
            allowed_roots: vec![PathBuf::from("/")],
            rules_dir: None,
            vault_dir: None,
            allow_isolation: true,
            limits: Limits::default(),
        }
    }

    fn vault(&self) -> PathBuf {
        self.vault_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("vault"))
    }
}

/// State shared by the live tools: configuration, the ledger (opened on first
/// use) and the compiled-rules cache.
pub(crate) struct Live {
    pub config: LiveConfig,
    pub roots: paths::Roots,
    pub ledger: ledger::LazyLedger,
    pub rules: yara::RulesCache,
}

/// Add the `live_investigation` and `threat_response` tools.
pub fn register(registry: &mut RegistryBuilder, config: LiveConfig) {
    let live = Arc::new(Live {
        roots: paths::Roots::new(&config.allowed_roots),
        ledger: ledger::LazyLedger::new(config.data_dir.join("remediations.db")),
        rules: yara::RulesCache::default(),
        config,
    });
    registry.profile(
        "live_investigation",
        "Read-only investigation of an endpoint (`local` is this host): processes, memory, network, persistence, users, packages, files and YARA scans",
        false,
    );
    registry.profile(
        "threat_response",
        "Containment of an endpoint: kill processes, quarantine and restore files, network isolation, with a remediation ledger",
        false,
    );
    registry.tools(system::tools(&live));
    registry.tools(procs::tools(&live));
    registry.tools(net::tools(&live));
    registry.tools(users::tools(&live));
    registry.tools(files::tools(&live));
    registry.tools(yara::tools(&live));
    registry.tools(contain::tools(&live));
    registry.profile("analysis", bulwark_ioc::ANALYSIS_PROFILE, false);
    registry.tools(triage::tools(&live));
}
