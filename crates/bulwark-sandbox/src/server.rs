//! The policy for one MCP server that bulwark starts, shared by the gateway's upstreams and the
//! scanner's live scans.
//!
//! The server gets a private directory holding its `home` (HOME, so `~/.npm`, `~/.cache/uv` and
//! the like are its own and writable), `tmp` (TMPDIR) and `work` (the working directory unless
//! one is given). The real home directory is not visible. The command's own installation is
//! readable; the network is on by default only for package runners, which download the server
//! they run and cannot start without it.

use std::path::Path;

use crate::{Policy, SandboxError, command_paths};

/// Commands that download the server they run: they need the network to start at all.
const PACKAGE_RUNNERS: &[&str] = &[
    "npx", "uvx", "bunx", "pnpx", "pipx", "deno", "pnpm", "yarn", "uv",
];

/// Whether the network is on for `command` when nothing says otherwise.
pub fn default_network(command: &str) -> bool {
    let base = Path::new(command)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(command);
    PACKAGE_RUNNERS.contains(&base)
}

/// Create the private directories (`home`, `tmp`, `work`, mode 0700) under `private`.
pub fn create_server_dirs(private: &Path) -> Result<(), SandboxError> {
    for dir in ["home", "tmp", "work"].map(|d| private.join(d)) {
        create_private_dir(&dir).map_err(|e| SandboxError::BadPath {
            path: dir.clone(),
            reason: format!("could not be created ({e}); check the data directory"),
        })?;
    }
    Ok(())
}

/// The policy for `command args…` (a resolved command) with its private directories under
/// `private` (see [`create_server_dirs`]), working in `cwd` if given, else `private/work`.
pub fn server_policy(
    private: &Path,
    command: &str,
    args: &[String],
    cwd: Option<&Path>,
    network: bool,
) -> Policy {
    let (home, tmp, work) = (
        private.join("home"),
        private.join("tmp"),
        private.join("work"),
    );
    let workdir = cwd.map(Path::to_owned).unwrap_or(work);
    let mut policy = Policy::new(workdir.clone(), network);
    policy.writable = vec![private.to_owned()];
    if cwd.is_some() {
        policy.writable.push(workdir.clone());
    }
    for path in command_paths(command, args, &workdir) {
        if !policy.read_only.contains(&path) {
            policy.read_only.push(path);
        }
    }
    policy.env.insert("HOME".into(), home.display().to_string());
    policy
        .env
        .insert("TMPDIR".into(), tmp.display().to_string());
    policy
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
    fn the_private_directory_holds_home_tmp_and_work() {
        let root = tempfile::tempdir().unwrap();
        let private = root.path().join("srv");
        create_server_dirs(&private).unwrap();
        let p = server_policy(&private, "/usr/bin/python3", &[], None, false);
        assert_eq!(p.workdir, private.join("work"));
        assert_eq!(p.writable, std::slice::from_ref(&private));
        assert_eq!(p.env["HOME"], private.join("home").display().to_string());
        assert_eq!(p.env["TMPDIR"], private.join("tmp").display().to_string());
        assert!(!p.network);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(private.join("home"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        p.check().unwrap();
    }
}
