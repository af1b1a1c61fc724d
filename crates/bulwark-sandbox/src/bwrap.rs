//! The bubblewrap backend: the server runs in fresh namespaces (mount, PID, IPC, UTS, cgroup,
//! and network unless it is on) whose root holds only the policy's paths.
//!
//! The environment is not passed as `--clearenv --setenv K V`: values on bwrap's command line
//! would be readable by every user in `/proc/PID/cmdline`. The spawned bwrap process gets
//! exactly the policy's environment instead, and passes it on.

use std::path::{Path, PathBuf};

use crate::{Backend, Launch, Policy, SandboxError};

pub struct Bwrap {
    pub(crate) program: PathBuf,
}

impl Backend for Bwrap {
    fn name(&self) -> &'static str {
        "bwrap"
    }

    fn enforces(&self, policy: &Policy) -> Vec<String> {
        vec![
            "filesystem: only the listed paths exist (read-only, except `writable`), a private /tmp, /proc and /dev".into(),
            if policy.network {
                "network: shared with the host".into()
            } else {
                "network: off (a new network namespace with only loopback)".into()
            },
            "namespaces: new mount, PID, IPC, UTS and cgroup namespaces; all capabilities dropped".into(),
            "no new privileges; dies with bulwark; new session (no terminal injection)".into(),
            "environment: the allowlist plus the declared variables".into(),
            rlimit_phrase(policy),
        ]
    }

    fn launch(
        &self,
        policy: &Policy,
        program: &str,
        args: &[String],
    ) -> Result<Launch, SandboxError> {
        let mut words: Vec<String> = [
            "--die-with-parent",
            "--new-session",
            "--unshare-all",
            "--cap-drop",
            "ALL",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        if policy.network {
            words.push("--share-net".into());
        }
        // The private /tmp first: a policy path under /tmp is bound on top of it.
        for (flag, dir) in [("--proc", "/proc"), ("--dev", "/dev"), ("--tmpfs", "/tmp")] {
            words.push(flag.into());
            words.push(dir.into());
        }
        words.extend(mounts(policy));
        words.push("--chdir".into());
        words.push(policy.workdir.display().to_string());
        words.push("--".into());
        words.push(program.to_owned());
        words.extend(args.iter().cloned());
        Ok(Launch {
            program: self.program.display().to_string(),
            args: words,
            pre_exec: Some(crate::rlimit_hook(policy.rlimits.clone())),
        })
    }
}

pub(crate) fn rlimit_phrase(policy: &Policy) -> String {
    let r = &policy.rlimits;
    let mut s = format!("rlimits: {} open files, no core dumps", r.open_files);
    if let Some(b) = r.file_bytes {
        s.push_str(&format!(", files up to {b} bytes"));
    }
    if let Some(c) = r.cpu_secs {
        s.push_str(&format!(", {c} CPU seconds"));
    }
    s
}

/// `--ro-bind`, `--bind` and `--symlink` words for the policy's paths: parents before children
/// (a writable directory inside a read-only tree is mounted over it), a symlink recreated as a
/// symlink with its target bound, and paths already inside a bound tree with the same access
/// left out.
fn mounts(policy: &Policy) -> Vec<String> {
    let mut binds: Vec<(PathBuf, bool)> = Vec::new();
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    let entries = policy
        .read_only
        .iter()
        .map(|p| (p, false))
        .chain(policy.writable.iter().map(|p| (p, true)));
    for (path, writable) in entries {
        let is_link = std::fs::symlink_metadata(path)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if is_link {
            if let (Ok(target), Ok(real)) = (std::fs::read_link(path), std::fs::canonicalize(path))
            {
                links.push((path.clone(), target));
                binds.push((real, writable));
            }
        } else {
            binds.push((path.clone(), writable));
        }
    }
    binds.sort_by_key(|(p, w)| (p.components().count(), *w, p.clone()));
    binds.dedup();
    let mut kept: Vec<(PathBuf, bool)> = Vec::new();
    for (path, writable) in binds {
        let covered = kept
            .iter()
            .any(|(k, kw)| path.starts_with(k) && *kw == writable && nearest_is(&kept, &path, k));
        if !covered {
            kept.push((path, writable));
        }
    }
    let mut words = Vec::new();
    for (path, writable) in &kept {
        let p = path.display().to_string();
        words.push(if *writable { "--bind" } else { "--ro-bind" }.to_owned());
        words.push(p.clone());
        words.push(p);
    }
    for (link, target) in links {
        if kept.iter().any(|(k, _)| link.starts_with(k)) {
            continue; // visible through the tree that holds it
        }
        words.push("--symlink".into());
        words.push(target.display().to_string());
        words.push(link.display().to_string());
    }
    words
}

/// Whether `k` is the innermost kept mount above `path` (a read-only child of a writable tree
/// is not covered by the writable one, and the other way round).
fn nearest_is(kept: &[(PathBuf, bool)], path: &Path, k: &Path) -> bool {
    !kept
        .iter()
        .any(|(other, _)| other != k && path.starts_with(other) && other.starts_with(k))
}
