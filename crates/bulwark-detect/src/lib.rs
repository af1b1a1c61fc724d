//! Detectors for `bulwark scan` and the gateway's quarantine: they judge
//! text (source files, config values, tool descriptions) and return
//! [`Finding`]s. No I/O happens here, so the same detectors run on files, on
//! live servers' tool lists and inside the gateway.

mod finding;

pub use finding::{Confidence, Finding, Location, OwaspAgentic, Rule, Severity};
