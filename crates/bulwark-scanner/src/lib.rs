//! `bulwark scan` put together: which detectors judge which files, and the
//! `scanner` profile's MCP tools. The detectors live in `bulwark-detect`
//! (secrets, tool descriptions) and `bulwark-taint` (source code); the
//! walker, config checks and reports in `bulwark-scan`.

mod detectors;
mod live;
mod tools;

use bulwark_core::RegistryBuilder;

pub use detectors::{CodeDetector, SecretsDetector, all_rules, file_detectors};
pub use live::{LiveScan, Pins, RUG_PULL_RULE, ScanSandbox, scan_live, scan_live_sandboxed};

/// Add the scanner's tools to the registry.
pub fn register(registry: &mut RegistryBuilder) {
    registry.profile(
        "scanner",
        "Find vulnerabilities, leaked secrets and poisoned tool descriptions in MCP servers and their configs",
        false,
    );
    registry.tools(tools::tools());
}
