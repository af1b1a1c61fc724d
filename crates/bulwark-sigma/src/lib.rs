//! Sigma hunting: SigmaHQ rules run over Windows EVTX and Linux logs.
//!
//! The rule engine is [`rsigma`](https://github.com/timescale/rsigma)
//! (`rsigma-parser` + `rsigma-eval`): a maintained Sigma implementation that
//! covers the Sigma 2.0 modifiers (contains/startswith/endswith, all, re with
//! i/m/s flags, base64/base64offset, wide/utf16le/utf16be, windash, cidr,
//! exists, gt/gte/lt/lte, fieldref, cased), the full condition grammar and
//! correlation rules (event_count, value_count, temporal), and compiles rules
//! into matchers with pre-lowercased needles, Aho-Corasick and an inverted
//! index. This crate adds what a hunt needs around it: reading events
//! (EVTX records straight from their binary XML, chunks the
//! `evtx` crate finds; JSON/JSONL, auditd, syslog), the field
//! mappings kept as data in `mappings/`, per-rule load errors, parallel
//! files, and reports. It knows nothing of MCP except [`register`], which
//! declares the `hunt_sigma` tool.

pub mod events;
pub mod fields;
mod hunt;
pub mod mapping;
mod output;
mod rules;
mod tools;

use bulwark_core::RegistryBuilder;

pub use fields::{Fields, FieldsEvent};
pub use hunt::{
    CorrelationHit, Detection, FileNote, HuntOptions, HuntReport, RuleCount, Summary,
    expand_inputs, hunt,
};
pub use output::{CSV_HEADER, OutputFormat, write};
pub use rules::{LoadError, Rejected, RuleSet, is_rule_file};

/// Add the Sigma hunting tool to the registry (profile `analysis`).
pub fn register(registry: &mut RegistryBuilder) {
    registry.profile(
        "analysis",
        // Same text as bulwark-ioc's, so the order of registration does not matter.
        "Offline analysis of evidence on the bulwark host: IOC extraction, timelines, Sigma hunting and reports",
        false,
    );
    registry.tools(tools::tools());
}
