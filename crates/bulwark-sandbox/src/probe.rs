//! What this machine offers: is `bwrap` installed and able to run, which Landlock ABI the
//! kernel has, is seccomp there. Each answer is computed once per process.

use std::path::PathBuf;
use std::sync::OnceLock;

/// `bwrap`'s path when it is on PATH (or in /usr/bin) and a trial run works; else why not.
pub fn bwrap() -> Result<PathBuf, String> {
    static CACHE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CACHE.get_or_init(find_bwrap).clone()
}

fn find_bwrap() -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "`bwrap` is not installed (Debian/Ubuntu: apt-get install bubblewrap)".to_owned()
        })?;
    // User namespaces can be disabled (sysctl, AppArmor, a container): try it once.
    let out = std::process::Command::new(&found)
        .args([
            "--ro-bind",
            "/",
            "/",
            "--unshare-all",
            "--die-with-parent",
            "--",
            "true",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| format!("{} could not be started: {e}", found.display()))?;
    if out.status.success() {
        Ok(found)
    } else {
        Err(format!(
            "{} is installed but cannot create namespaces here ({}); are user namespaces disabled?",
            found.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The kernel's Landlock ABI version (1 and up), or why there is none.
pub fn landlock_abi() -> Result<u32, String> {
    static CACHE: OnceLock<Result<u32, String>> = OnceLock::new();
    CACHE.get_or_init(kernel_landlock_abi).clone()
}

#[cfg(target_os = "linux")]
fn kernel_landlock_abi() -> Result<u32, String> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with this flag and a null attribute the call only returns the ABI version.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if version >= 1 {
        return Ok(u32::try_from(version).unwrap_or(1));
    }
    let err = std::io::Error::last_os_error();
    Err(match err.raw_os_error() {
        Some(libc::ENOSYS) => "this kernel was built without Landlock (needs Linux 5.13+ with CONFIG_SECURITY_LANDLOCK)".to_owned(),
        Some(libc::EOPNOTSUPP) => "Landlock is built in but not enabled at boot (add `landlock` to the `lsm=` kernel parameter)".to_owned(),
        _ => format!("the kernel refused the Landlock version query: {err}"),
    })
}

#[cfg(not(target_os = "linux"))]
fn kernel_landlock_abi() -> Result<u32, String> {
    Err("Landlock exists on Linux only".to_owned())
}

/// Whether seccomp filters can be installed.
pub fn seccomp() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_GET_SECCOMP only reads this thread's mode.
        let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP) };
        if mode < 0 {
            return Err(format!(
                "this kernel has no seccomp ({})",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    Err("seccomp exists on Linux only".to_owned())
}
