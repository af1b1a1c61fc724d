//! Finding `npx`, `uvx`, `node`, `python` when bulwark was started with a
//! minimal PATH (from a GUI, a service manager, a container entry point).
//!
//! A bare command name is looked up in PATH and then in the places package
//! managers install to. The child gets a PATH that holds the directory where
//! the command was found, since `npx` itself runs `node` through PATH.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Directories searched after PATH, in order.
fn extra_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [
        "/usr/local/bin",
        "/usr/bin",
        "/bin",
        "/opt/homebrew/bin",
        "/opt/local/bin",
        "/snap/bin",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(home) = dirs::home_dir() {
        for sub in [
            ".local/bin",
            ".cargo/bin",
            ".volta/bin",
            ".bun/bin",
            ".deno/bin",
        ] {
            dirs.push(home.join(sub));
        }
        // nvm: the newest installed node, by version directory name.
        if let Ok(entries) = std::fs::read_dir(home.join(".nvm/versions/node")) {
            let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            versions.sort_by_key(|p| version_key(p));
            if let Some(newest) = versions.pop() {
                dirs.push(newest.join("bin"));
            }
        }
    }
    dirs
}

fn version_key(path: &Path) -> Vec<u64> {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The command to start (a full path when a bare name was found) and the
/// PATH to give the child.
pub fn resolve(command: &str, env: &BTreeMap<String, String>) -> (String, String) {
    let base = env
        .get("PATH")
        .cloned()
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    let mut search: Vec<PathBuf> = std::env::split_paths(&base).collect();
    for dir in extra_dirs() {
        if !search.contains(&dir) {
            search.push(dir);
        }
    }
    let joined = std::env::join_paths(&search)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or(base);
    if command.contains('/') {
        return (command.to_owned(), joined);
    }
    for dir in &search {
        let candidate = dir.join(command);
        if is_executable(&candidate) {
            // The found directory first, so `npx` finds the `node` beside it.
            let mut path = vec![dir.clone()];
            path.extend(search.iter().filter(|d| *d != dir).cloned());
            let path = std::env::join_paths(&path)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or(joined);
            return (candidate.to_string_lossy().into_owned(), path);
        }
    }
    (command.to_owned(), joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_with_an_empty_path() {
        let mut env = BTreeMap::new();
        env.insert("PATH".to_owned(), String::new());
        let (command, path) = resolve("sh", &env);
        assert!(
            command.ends_with("/sh") && Path::new(&command).is_absolute(),
            "{command}"
        );
        assert!(path.contains("/usr/bin"), "{path}");
    }

    #[test]
    fn paths_are_kept_and_unknown_names_left_alone() {
        let env = BTreeMap::new();
        assert_eq!(resolve("./server.py", &env).0, "./server.py");
        assert_eq!(
            resolve("no-such-cmd-bulwark", &env).0,
            "no-such-cmd-bulwark"
        );
    }
}
