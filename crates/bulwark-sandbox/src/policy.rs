//! What a sandboxed server may touch: the policy every backend enforces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::SandboxError;

/// System directories a server may read and execute from (when they exist). Home directories,
/// `/root`, `/srv`, `/var`, `/tmp` and `/run` are not here.
const SYSTEM_DIRS: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/opt",
    "/nix/store",
];

/// The parts of `/etc` that programs need to run and reach the network: the dynamic linker's
/// cache, users and groups (no shadow), name resolution, TLS roots, time zone, and Debian's
/// `alternatives` (where `/usr/bin/node` or `python3` may point). `/etc/shadow`, `/etc/ssh` and
/// the rest stay out.
const SYSTEM_ETC: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/resolv.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/os-release",
    "/etc/mime.types",
    "/etc/python3",
    "/etc/npmrc",
];

/// Variables a server inherits from bulwark's environment when they are set (the locale, the
/// terminal type, the time zone, proxies and extra CA certificates). Everything else is dropped;
/// the upstream's declared `env` is added on top.
pub const ENV_ALLOWLIST: &[&str] = &[
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TERM",
    "TZ",
    "USER",
    "LOGNAME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
];

/// Resource limits set in the child before it starts (`setrlimit`), for every backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rlimits {
    /// Open files (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Core dump size (`RLIMIT_CORE`): 0, so a crash does not write the server's memory
    /// (and the secrets in it) to disk.
    pub core_bytes: u64,
    /// Largest file the server may write (`RLIMIT_FSIZE`).
    pub file_bytes: Option<u64>,
    /// CPU seconds (`RLIMIT_CPU`).
    pub cpu_secs: Option<u64>,
}

impl Default for Rlimits {
    fn default() -> Self {
        Rlimits {
            open_files: 4096,
            core_bytes: 0,
            file_bytes: None,
            cpu_secs: None,
        }
    }
}

/// Everything a sandboxed server is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Readable and executable, nothing more.
    pub read_only: Vec<PathBuf>,
    /// Readable and writable.
    pub writable: Vec<PathBuf>,
    /// The server's working directory (must also be writable or read-only above).
    pub workdir: PathBuf,
    /// Whether the server may open network sockets.
    pub network: bool,
    /// The variables it gets besides the allowlisted ones (its declared `env`, `HOME`, `TMPDIR`).
    pub env: BTreeMap<String, String>,
    /// Names of variables passed through from bulwark's environment when set.
    pub env_allow: Vec<String>,
    pub rlimits: Rlimits,
}

impl Policy {
    /// A policy with the system paths read-only, `workdir` writable, the default allowlist,
    /// and the network as given.
    pub fn new(workdir: impl Into<PathBuf>, network: bool) -> Self {
        let workdir = workdir.into();
        Policy {
            read_only: system_paths(),
            writable: vec![workdir.clone()],
            workdir,
            network,
            env: BTreeMap::new(),
            env_allow: ENV_ALLOWLIST.iter().map(|s| (*s).to_owned()).collect(),
            rlimits: Rlimits::default(),
        }
    }

    /// Every path must be absolute and exist, and the working directory must be a directory
    /// reachable under the allowed paths.
    pub fn check(&self) -> Result<(), SandboxError> {
        for path in self.read_only.iter().chain(&self.writable) {
            check_path(path)?;
        }
        check_path(&self.workdir)?;
        if !self.workdir.is_dir() {
            return Err(SandboxError::BadPath {
                path: self.workdir.clone(),
                reason: "(the working directory) is not a directory".into(),
            });
        }
        let reachable = self
            .read_only
            .iter()
            .chain(&self.writable)
            .any(|p| self.workdir.starts_with(p));
        if !reachable {
            return Err(SandboxError::BadPath {
                path: self.workdir.clone(),
                reason:
                    "(the working directory) is not under any allowed path; add it to `writable`"
                        .into(),
            });
        }
        Ok(())
    }

    /// The environment the server gets: the allowlisted variables from `parent`, then
    /// `declared`, then the policy's own (`HOME`, `TMPDIR`), later ones winning.
    pub fn environment(
        &self,
        parent: impl IntoIterator<Item = (String, String)>,
        declared: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = parent
            .into_iter()
            .filter(|(k, _)| self.env_allow.iter().any(|a| a == k))
            .collect();
        env.extend(declared.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }
}

fn check_path(path: &Path) -> Result<(), SandboxError> {
    if !path.is_absolute() {
        return Err(SandboxError::BadPath {
            path: path.to_owned(),
            reason: "is not absolute".into(),
        });
    }
    if std::fs::symlink_metadata(path).is_err() {
        return Err(SandboxError::BadPath {
            path: path.to_owned(),
            reason: "does not exist".into(),
        });
    }
    Ok(())
}

/// The system paths that exist on this machine.
pub fn system_paths() -> Vec<PathBuf> {
    SYSTEM_DIRS
        .iter()
        .chain(SYSTEM_ETC)
        .map(PathBuf::from)
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .collect()
}

/// The paths a command line needs to run, beyond the system ones: the directory of the program
/// and of every argument that names an existing file (a script), widened to the tree that
/// holds it (the directory above the outermost `node_modules`, or a Python venv's root), and
/// every argument that names an existing directory. All read-only: a server that must write
/// somewhere says so in `writable`.
pub fn command_paths(program: &str, args: &[String], cwd: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let words = std::iter::once(program).chain(args.iter().map(String::as_str));
    for word in words {
        // `--root=/srv/x` style options carry a path too.
        let word = word.rsplit_once('=').map_or(word, |(_, v)| v);
        if word.is_empty() || word.starts_with('-') && !word.contains('/') {
            continue;
        }
        let path = cwd.join(word);
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        for candidate in [Some(path.clone()), std::fs::canonicalize(&path).ok()]
            .into_iter()
            .flatten()
        {
            let dir = if meta.is_dir() {
                candidate
            } else {
                match candidate.parent() {
                    Some(p) => widen(p),
                    None => continue,
                }
            };
            if dir.parent().is_some() && !out.contains(&dir) {
                out.push(dir);
            }
        }
    }
    out
}

/// The tree a script or program belongs to: above the outermost `node_modules`, the root of
/// a Python venv (`bin/` beside `pyvenv.cfg`), or an installation prefix (`bin/` beside
/// `lib/`); else its own directory.
fn widen(dir: &Path) -> PathBuf {
    if let Some(root) = dir
        .ancestors()
        .filter(|a| a.file_name().is_some_and(|n| n == "node_modules"))
        .last()
        .and_then(Path::parent)
    {
        return root.to_owned();
    }
    if dir.file_name().is_some_and(|n| n == "bin")
        && let Some(venv) = dir.parent()
        && venv.join("pyvenv.cfg").is_file()
    {
        return venv.to_owned();
    }
    // An installation prefix (`PREFIX/bin` beside `PREFIX/lib`): a pyenv or nvm interpreter
    // needs its standard library, which lives there, not beside the program.
    if dir.file_name().is_some_and(|n| n == "bin")
        && let Some(prefix) = dir.parent()
        && prefix.parent().is_some()
        && prefix.join("lib").is_dir()
    {
        return prefix.to_owned();
    }
    dir.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonexistent_and_relative_paths_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut policy = Policy::new(dir.path(), false);
        policy.check().unwrap();
        policy.read_only.push("/no/such/bulwark/path".into());
        let err = policy.check().unwrap_err().to_string();
        assert!(
            err.contains("/no/such/bulwark/path") && err.contains("does not exist"),
            "{err}"
        );
        policy.read_only.pop();
        policy.writable.push("relative/dir".into());
        let err = policy.check().unwrap_err().to_string();
        assert!(err.contains("is not absolute"), "{err}");
    }

    #[test]
    fn the_working_directory_must_be_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let mut policy = Policy::new(dir.path(), false);
        policy.writable.clear();
        let err = policy.check().unwrap_err().to_string();
        assert!(err.contains("not under any allowed path"), "{err}");
    }

    #[test]
    fn environment_keeps_only_the_allowlist_plus_declared() {
        let mut policy = Policy::new("/", false);
        policy.env.insert("HOME".into(), "/sandbox/home".into());
        let parent = vec![
            ("PATH".to_owned(), "/usr/bin".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "x".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ];
        let declared = BTreeMap::from([("API_TOKEN".to_owned(), "t".to_owned())]);
        let env = policy.environment(parent, &declared);
        assert_eq!(env.get("PATH").map(String::as_str), Some("/usr/bin"));
        assert_eq!(env.get("API_TOKEN").map(String::as_str), Some("t"));
        assert_eq!(env.get("HOME").map(String::as_str), Some("/sandbox/home"));
        assert!(!env.contains_key("AWS_SECRET_ACCESS_KEY"));
    }

    #[test]
    fn command_paths_cover_scripts_and_their_package_tree() {
        let root = tempfile::tempdir().unwrap();
        let pkg = root.path().join("proj/node_modules/@x/server/dist");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join("index.js"), "").unwrap();
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let args = vec![
            pkg.join("index.js").display().to_string(),
            data.display().to_string(),
            "--flag".into(),
            "not-a-path".into(),
        ];
        let paths = command_paths("/usr/bin/node", &args, root.path());
        // `/usr/bin` beside `/usr/lib`: the installation prefix.
        assert!(paths.contains(&PathBuf::from("/usr")), "{paths:?}");
        assert!(paths.contains(&root.path().join("proj")), "{paths:?}");
        assert!(paths.contains(&data), "{paths:?}");
        assert!(
            !paths.iter().any(|p| p.ends_with("not-a-path")),
            "{paths:?}"
        );
    }
}
