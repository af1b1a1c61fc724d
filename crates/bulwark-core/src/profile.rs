use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

/// The profile whose tools every other profile also gets.
pub const CORE_PROFILE: &str = "core";
/// The union of every profile that is not isolated.
pub const ALL_PROFILE: &str = "all";

/// One profile: a named set of tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileDef {
    pub name: String,
    pub description: String,
    pub tools: BTreeSet<String>,
    /// Isolated profiles (such as `conformance`) get no `core` tools and are not
    /// part of `all`: they expose exactly what they list.
    pub isolated: bool,
}

/// The profiles in force: built-in defaults, possibly replaced by a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileSet {
    pub profiles: BTreeMap<String, ProfileDef>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProfileError {
    #[error("cannot read profiles file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("profiles file {path} is not valid TOML: {reason}")]
    Parse { path: String, reason: String },
    #[error("profile `{profile}` lists unknown tool `{tool}`; known tools: {known}")]
    UnknownTool {
        profile: String,
        tool: String,
        known: String,
    },
    #[error("profile `{profile}` includes unknown profile `{include}`; known profiles: {known}")]
    UnknownInclude {
        profile: String,
        include: String,
        known: String,
    },
    #[error(
        "profile `{profile}` lists `{pattern}`, which is neither a known tool nor an upstream tool pattern; write `SERVER:TOOL` or `SERVER:*` with the upstream's name"
    )]
    BadUpstreamPattern { profile: String, pattern: String },
    #[error("profile `all` is the union of the others and cannot be defined in a profiles file")]
    AllIsDerived,
    #[error("profile name `{0}` is not allowed: use lowercase letters, digits, `_` and `-`")]
    BadName(String),
}

/// A profiles file: `[profiles.NAME]` tables that add or replace profiles.
///
/// ```toml
/// [profiles.triage]
/// description = "What a first responder needs"
/// include = ["live_investigation"]
/// tools = ["get_os_version"]
/// exclude = ["yara_scan_memory"]
/// ```
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileEntry>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProfileEntry {
    #[serde(default)]
    pub description: Option<String>,
    /// Tools listed by name.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Profiles whose tools (as built in) are added.
    #[serde(default)]
    pub include: Vec<String>,
    /// Tools removed after `tools` and `include` are applied.
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub isolated: bool,
}

impl ProfileFile {
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ProfileError::Parse {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }
}

/// `SERVER:TOOL` or `SERVER:*`: an upstream's name (the gateway's rules) and a tool name or `*`.
pub(crate) fn valid_upstream_pattern(pattern: &str) -> bool {
    let Some((server, tool)) = pattern.split_once(':') else {
        return false;
    };
    let server_ok = (1..=64).contains(&server.len())
        && server
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    let tool_ok = tool == "*"
        || ((1..=128).contains(&tool.len())
            && !tool.contains(['*', ':'])
            && !tool.contains(char::is_whitespace));
    server_ok && tool_ok
}

/// Whether the upstream tool `name` (`server:tool`) is placed by `pattern`.
pub fn upstream_pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix(":*") {
        Some(server) => name
            .split_once(':')
            .is_some_and(|(s, tool)| s == server && !tool.is_empty()),
        None => pattern == name,
    }
}

pub(crate) fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl ProfileSet {
    /// Apply a profiles file on top of these (built-in) profiles.
    pub fn apply(
        &mut self,
        file: &ProfileFile,
        known_tools: &BTreeSet<String>,
    ) -> Result<(), ProfileError> {
        let builtin = self.profiles.clone();
        for (name, entry) in &file.profiles {
            if name == ALL_PROFILE {
                return Err(ProfileError::AllIsDerived);
            }
            if !valid_profile_name(name) {
                return Err(ProfileError::BadName(name.clone()));
            }
            let mut tools = BTreeSet::new();
            for include in &entry.include {
                let Some(included) = builtin.get(include).or_else(|| self.profiles.get(include))
                else {
                    return Err(ProfileError::UnknownInclude {
                        profile: name.clone(),
                        include: include.clone(),
                        known: join(builtin.keys()),
                    });
                };
                tools.extend(included.tools.iter().cloned());
            }
            for tool in entry.tools.iter().chain(&entry.exclude) {
                // `server:tool` and `server:*` place the gateway's upstream tools, which
                // are only known at run time: checked for shape here, matched per listing.
                if !known_tools.contains(tool) && tool.contains(':') {
                    if !valid_upstream_pattern(tool) {
                        return Err(ProfileError::BadUpstreamPattern {
                            profile: name.clone(),
                            pattern: tool.clone(),
                        });
                    }
                    continue;
                }
                if !known_tools.contains(tool) {
                    return Err(ProfileError::UnknownTool {
                        profile: name.clone(),
                        tool: tool.clone(),
                        known: join(known_tools.iter()),
                    });
                }
            }
            tools.extend(entry.tools.iter().cloned());
            for tool in &entry.exclude {
                tools.remove(tool);
            }
            let description = entry
                .description
                .clone()
                .or_else(|| builtin.get(name).map(|p| p.description.clone()))
                .unwrap_or_else(|| format!("Profile `{name}` from the profiles file"));
            self.profiles.insert(
                name.clone(),
                ProfileDef {
                    name: name.clone(),
                    description,
                    tools,
                    isolated: entry.isolated,
                },
            );
        }
        Ok(())
    }
}

fn join<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names.map(String::as_str).collect::<Vec<_>>().join(", ")
}
