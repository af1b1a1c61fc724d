//! The sandbox a stdio upstream runs in: its settings in the record, and the policy built from
//! them (see docs/sandbox.md).
//!
//! Each upstream gets a private directory `DATA_DIR/sandbox/NAME/` holding its `home` (HOME, so
//! `~/.npm`, `~/.cache/uv` and the like are its own and writable), `tmp` (TMPDIR) and `work`
//! (the working directory unless `cwd` is set). The real home directory is not visible.

use std::path::{Path, PathBuf};

use bulwark_sandbox::{Policy, Sandbox, SandboxError, SandboxKind};
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

/// Commands that download the server they run: they need the network to start at all.
const PACKAGE_RUNNERS: &[&str] = &[
    "npx", "uvx", "bunx", "pnpx", "pipx", "deno", "pnpm", "yarn", "uv",
];

/// Whether the network is on for `command` when the config does not say.
pub fn default_network(command: &str) -> bool {
    let base = Path::new(command)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(command);
    PACKAGE_RUNNERS.contains(&base)
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
    let base = root.join(name);
    let (home, tmp, work) = (base.join("home"), base.join("tmp"), base.join("work"));
    if config.kind != SandboxKind::None {
        for dir in [&home, &tmp, &work] {
            create_private_dir(dir).map_err(|e| SandboxError::BadPath {
                path: dir.clone(),
                reason: format!("could not be created ({e}); check the data directory"),
            })?;
        }
    }
    let workdir = cwd.map(Path::to_owned).unwrap_or(work);
    let mut policy = Policy::new(workdir.clone(), network);
    policy.writable = vec![base];
    if cwd.is_some() {
        policy.writable.push(workdir.clone());
    }
    policy.writable.extend(config.writable.iter().cloned());
    policy.read_only.extend(config.read_only.iter().cloned());
    for path in bulwark_sandbox::command_paths(command, args, &workdir) {
        if !policy.read_only.contains(&path) {
            policy.read_only.push(path);
        }
    }
    policy.env.insert("HOME".into(), home.display().to_string());
    policy
        .env
        .insert("TMPDIR".into(), tmp.display().to_string());
    Ok(Sandbox::new(config.kind, policy))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_runners_get_the_network_by_default() {
        assert!(default_network("npx"));
        assert!(default_network("/usr/local/bin/uvx"));
        assert!(!default_network("/usr/bin/python3"));
        assert!(!default_network("node"));
    }

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
