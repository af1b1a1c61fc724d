//! Path checks for the file tools: absolute paths only, resolved with
//! `realpath` (so `..` and symlinks cannot leave a root), then matched against
//! the configured allowlist.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use bulwark_core::ToolError;

/// The allowlisted roots, canonicalized once at start-up.
#[derive(Debug, Clone)]
pub struct Roots {
    roots: Vec<PathBuf>,
}

impl Roots {
    pub fn new(roots: &[PathBuf]) -> Self {
        let roots = roots
            .iter()
            .map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| r.clone()))
            .collect();
        Roots { roots }
    }

    pub fn list(&self) -> String {
        self.roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn allows(&self, canonical: &Path) -> bool {
        self.roots.iter().any(|r| canonical.starts_with(r))
    }

    /// Resolve `path` (the argument named `field`) to its canonical form and
    /// check it lies under an allowed root.
    pub fn resolve(&self, field: &str, path: &str) -> Result<PathBuf, ToolError> {
        if path.is_empty() {
            return Err(ToolError::InvalidArguments(format!(
                "field `{field}`: empty path; give an absolute path such as /etc/passwd"
            )));
        }
        if path.contains('\0') {
            return Err(ToolError::InvalidArguments(format!(
                "field `{field}`: the path contains a NUL byte"
            )));
        }
        let raw = Path::new(path);
        if !raw.is_absolute() {
            return Err(ToolError::InvalidArguments(format!(
                "field `{field}`: `{path}` is relative; give an absolute path"
            )));
        }
        // Refuse a path whose plain `..`-resolved form is outside every root
        // before touching the file system, so errors cannot reveal whether
        // files outside the roots exist.
        let lexical = lexical_normal(raw);
        if !self.allows(&lexical) {
            return Err(ToolError::failed(format!(
                "field `{field}`: `{path}` is outside the allowed roots ({}); \
                 add a root to `live.allowed_roots` in the configuration to reach it",
                self.list()
            )));
        }
        let canonical = std::fs::canonicalize(raw).map_err(|e| match e.kind() {
            ErrorKind::NotFound => ToolError::failed(format!(
                "field `{field}`: `{path}` does not exist (or a symlink in it points nowhere)"
            )),
            ErrorKind::PermissionDenied => ToolError::failed(format!(
                "field `{field}`: permission denied resolving `{path}`; bulwark runs without access to it"
            )),
            _ if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                ToolError::failed(format!(
                    "field `{field}`: `{path}` is a symlink loop (too many levels of symbolic links)"
                ))
            }
            _ => ToolError::failed(format!("field `{field}`: cannot resolve `{path}`: {e}")),
        })?;
        if !self.allows(&canonical) {
            return Err(ToolError::failed(format!(
                "field `{field}`: `{path}` resolves to `{}`, which is outside the allowed roots ({}); \
                 add a root to `live.allowed_roots` in the configuration to reach it",
                canonical.display(),
                self.list()
            )));
        }
        Ok(canonical)
    }
}

/// `path` with `.` and `..` resolved by name only (no symlinks followed).
fn lexical_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(name) => out.push(name),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotdot_and_symlinks_cannot_leave_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("inside");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(inside.join("f"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc", inside.join("out")).unwrap();
        std::os::unix::fs::symlink("loop2", inside.join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", inside.join("loop2")).unwrap();
        let roots = Roots::new(std::slice::from_ref(&inside));
        let ok = roots
            .resolve("path", inside.join("f").to_str().unwrap())
            .unwrap();
        assert!(ok.ends_with("inside/f"));
        let dotdot = format!("{}/../../../etc/passwd", inside.display());
        let err = roots.resolve("path", &dotdot).unwrap_err().to_string();
        assert!(err.contains("outside the allowed roots"), "{err}");
        let err = roots
            .resolve("path", inside.join("out/passwd").to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/etc/passwd") && err.contains("outside"),
            "{err}"
        );
        let err = roots
            .resolve("path", inside.join("loop1").to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("symlink loop"), "{err}");
        let err = roots
            .resolve(
                "path",
                &format!("{}/../../../../../../../no/such/file", inside.display()),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside the allowed roots"), "{err}");
        let err = roots.resolve("path", "etc/passwd").unwrap_err().to_string();
        assert!(err.contains("relative"), "{err}");
    }
}
