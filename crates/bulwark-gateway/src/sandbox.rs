//! The sandbox a stdio upstream runs in: its settings in the record, and the policy built from
//! them (see docs/sandbox.md).
//!
//! Each upstream gets a private directory `DATA_DIR/sandbox/NAME/` holding its `home`, `tmp` and
//! `work` ([`bulwark_sandbox::server_policy`]), plus the paths its settings add.

use std::path::{Path, PathBuf};

use bulwark_sandbox::{
    Sandbox, SandboxError, SandboxKind, create_server_dirs, default_network, server_policy,
};
use serde::{Deserialize, Serialize};

/// Per-upstream settings: `sandbox`, `network`, `read_only`, `writable`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SandboxConfig {
    /// `auto` (default), `bwrap`, `landlock` or `none`.
    #[serde(default)]
    pub kind: SandboxKind,
    /// Network on or off; unset: on for package runners (npx, uvx, …), off otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<bool>,
    /// Extra paths the server may read (absolute).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_only: Vec<PathBuf>,
    /// Extra paths the server may read and write (absolute).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable: Vec<PathBuf>,
}

impl SandboxConfig {
    pub fn is_default(&self) -> bool {
        *self == SandboxConfig::default()
    }
}

/// The sandbox for upstream `name` started as `command args…` (a resolved command), with its
/// private directories under `root` created if needed.
pub fn build(
    name: &str,
    config: &SandboxConfig,
    command: &str,
    args: &[String],
    cwd: Option<&Path>,
    root: &Path,
) -> Result<Sandbox, SandboxError> {
    let network = config.network.unwrap_or_else(|| default_network(command));
    let private = root.join(name);
    if config.kind != SandboxKind::None {
        create_server_dirs(&private)?;
    }
    let mut policy = server_policy(&private, command, args, cwd, network);
    policy.writable.extend(config.writable.iter().cloned());
    for path in config.read_only.iter().rev() {
        if !policy.read_only.contains(path) {
            policy.read_only.insert(0, path.clone());
        }
    }
    Ok(Sandbox::new(config.kind, policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_has_a_private_home_and_the_declared_paths() {
        let root = tempfile::tempdir().unwrap();
        let extra = tempfile::tempdir().unwrap();
        let config = SandboxConfig {
            kind: SandboxKind::Landlock,
            network: Some(false),
            read_only: vec![extra.path().to_owned()],
            writable: vec![],
        };
        let sb = build("demo", &config, "/usr/bin/python3", &[], None, root.path()).unwrap();
        let p = &sb.policy;
        assert_eq!(p.workdir, root.path().join("demo/work"));
        assert!(p.writable.contains(&root.path().join("demo")));
        assert!(p.read_only.contains(&extra.path().to_owned()));
        assert_eq!(
            p.env["HOME"],
            root.path().join("demo/home").display().to_string()
        );
        assert!(!p.network);
        p.check().unwrap();
    }
}
