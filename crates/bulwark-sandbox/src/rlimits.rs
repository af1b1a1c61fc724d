//! `setrlimit` in the child, between fork and exec.

use crate::Rlimits;

/// Apply `limits` to the calling process. Only async-signal-safe calls: this runs after fork.
pub(crate) fn apply(limits: &Rlimits) -> std::io::Result<()> {
    set(libc::RLIMIT_NOFILE, limits.open_files)?;
    set(libc::RLIMIT_CORE, limits.core_bytes)?;
    if let Some(bytes) = limits.file_bytes {
        set(libc::RLIMIT_FSIZE, bytes)?;
    }
    if let Some(secs) = limits.cpu_secs {
        set(libc::RLIMIT_CPU, secs)?;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_os = "linux"))]
type Resource = libc::c_int;

fn set(resource: Resource, value: u64) -> std::io::Result<()> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(resource, &mut current) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Never raise: an unprivileged process may only lower its hard limit.
        let value = value as libc::rlim_t;
        let limit = libc::rlimit {
            rlim_cur: value.min(current.rlim_max),
            rlim_max: value.min(current.rlim_max),
        };
        if libc::setrlimit(resource, &limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
