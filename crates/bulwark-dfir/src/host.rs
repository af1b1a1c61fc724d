//! Facts about the local host, read from the files Linux exposes them in.

use std::fs;

use schemars::JsonSchema;
use serde::Serialize;

/// One endpoint, in LimaCharlie's sensor vocabulary.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HostInfo {
    /// Endpoint id (`local` for this host).
    pub sid: String,
    pub hostname: String,
    /// `linux`, `macos`, `windows`.
    pub platform: String,
    pub architecture: String,
    /// `PRETTY_NAME` from /etc/os-release.
    pub os_name: String,
    pub kernel_release: String,
    /// Seconds since boot.
    pub uptime_secs: u64,
    pub online: bool,
}

impl HostInfo {
    pub fn local() -> Self {
        HostInfo {
            sid: crate::LOCAL_SID.into(),
            hostname: read_trimmed("/proc/sys/kernel/hostname")
                .unwrap_or_else(|| "localhost".into()),
            platform: std::env::consts::OS.into(),
            architecture: std::env::consts::ARCH.into(),
            os_name: os_release_name().unwrap_or_else(|| std::env::consts::OS.into()),
            kernel_release: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default(),
            uptime_secs: read_trimmed("/proc/uptime")
                .and_then(|s| s.split('.').next().and_then(|n| n.parse().ok()))
                .unwrap_or(0),
            online: true,
        }
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn os_release_name() -> Option<String> {
    let text = fs::read_to_string("/etc/os-release")
        .or_else(|_| fs::read_to_string("/usr/lib/os-release"))
        .ok()?;
    text.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        Some(value.trim_matches('"').to_string())
    })
}
