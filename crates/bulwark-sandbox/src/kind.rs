//! Which sandbox an upstream asks for.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::SandboxError;

/// `sandbox = "auto" | "bwrap" | "landlock" | "none"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String", into = "String")]
pub enum SandboxKind {
    /// bubblewrap when `bwrap` is installed and works, else Landlock + seccomp, else none
    /// (said so in the status, never silently).
    #[default]
    Auto,
    /// bubblewrap, or an error when it is missing.
    Bwrap,
    /// Landlock + seccomp + rlimits applied in the child, or an error when the kernel lacks them.
    Landlock,
    /// Run the server with bulwark's own rights.
    None,
}

impl SandboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxKind::Auto => "auto",
            SandboxKind::Bwrap => "bwrap",
            SandboxKind::Landlock => "landlock",
            SandboxKind::None => "none",
        }
    }
}

impl FromStr for SandboxKind {
    type Err = SandboxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(SandboxKind::Auto),
            "bwrap" | "bubblewrap" => Ok(SandboxKind::Bwrap),
            "landlock" => Ok(SandboxKind::Landlock),
            "none" | "off" => Ok(SandboxKind::None),
            _ => Err(SandboxError::UnknownKind(s.to_owned())),
        }
    }
}

impl TryFrom<String> for SandboxKind {
    type Error = SandboxError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SandboxKind> for String {
    fn from(k: SandboxKind) -> String {
        k.as_str().to_owned()
    }
}

impl fmt::Display for SandboxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_kinds_and_names_the_choices_for_others() {
        assert_eq!("auto".parse::<SandboxKind>().unwrap(), SandboxKind::Auto);
        assert_eq!("BWRAP".parse::<SandboxKind>().unwrap(), SandboxKind::Bwrap);
        assert_eq!(
            "landlock".parse::<SandboxKind>().unwrap(),
            SandboxKind::Landlock
        );
        assert_eq!("none".parse::<SandboxKind>().unwrap(), SandboxKind::None);
        let err = "docker".parse::<SandboxKind>().unwrap_err().to_string();
        assert!(
            err.contains("\"docker\"") && err.contains("\"landlock\""),
            "{err}"
        );
        let json: Result<SandboxKind, _> = serde_json::from_str("\"firejail\"");
        assert!(
            json.unwrap_err()
                .to_string()
                .contains("unknown sandbox kind")
        );
    }
}
