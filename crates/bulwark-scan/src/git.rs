//! `--diff REV`: the files changed since a revision, via the git CLI.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ScanError;

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, ScanError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| ScanError::Git(format!("cannot run git: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(ScanError::Git(format!(
            "git {} failed: {}",
            args.join(" "),
            stderr.trim()
        )));
    }
    Ok(output.stdout)
}

fn nul_separated(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    bytes
        .split(|&b| b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
}

/// Files under `root` that differ from `rev` (committed, staged or not)
/// plus untracked files that are not ignored, as absolute paths; deleted
/// files are left out. `rev` may be anything `git diff` takes (`HEAD`,
/// `origin/main`, `main...HEAD`).
pub fn changed_files(root: &Path, rev: &str) -> Result<Vec<PathBuf>, ScanError> {
    if rev.starts_with('-') {
        return Err(ScanError::Git(format!(
            "refusing revision {rev:?}: looks like an option"
        )));
    }
    let root = root
        .canonicalize()
        .map_err(|_| ScanError::RootNotFound(root.to_path_buf()))?;
    let diff = git(
        &root,
        &[
            "diff",
            "--name-only",
            "--relative",
            "-z",
            "--no-renames",
            rev,
            "--",
        ],
    )?;
    let untracked = git(
        &root,
        &[
            "ls-files",
            "--others",
            "--exclude-standard",
            "-z",
            "--",
            ".",
        ],
    )?;
    let mut paths = BTreeSet::new();
    for rel in nul_separated(&diff).chain(nul_separated(&untracked)) {
        let path = root.join(&rel);
        if path.is_file() {
            paths.insert(path);
        }
    }
    Ok(paths.into_iter().collect())
}
