//! Where MCP clients keep their configuration.

use std::path::{Path, PathBuf};

/// Every place a known client may keep MCP server configuration, given the
/// home directory, the platform config directory (`~/.config`,
/// `~/Library/Application Support`, `%APPDATA%`) and the working directory.
pub(crate) fn candidates(
    home: Option<&Path>,
    config: Option<&Path>,
    cwd: Option<&Path>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(config) = config {
        out.push(config.join("Claude").join("claude_desktop_config.json"));
        for editor in ["Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf"] {
            out.push(config.join(editor).join("User").join("mcp.json"));
            out.push(config.join(editor).join("User").join("settings.json"));
        }
        out.push(
            config
                .join("Code")
                .join("User")
                .join("globalStorage")
                .join("saoudrizwan.claude-dev")
                .join("settings")
                .join("cline_mcp_settings.json"),
        );
    }
    if let Some(home) = home {
        // Linux keeps Claude Desktop's file under ~/.config even where the
        // platform config directory is elsewhere.
        out.push(
            home.join(".config")
                .join("Claude")
                .join("claude_desktop_config.json"),
        );
        out.push(home.join(".claude.json"));
        out.push(home.join(".claude").join("settings.json"));
        out.push(home.join(".cursor").join("mcp.json"));
        out.push(
            home.join(".codeium")
                .join("windsurf")
                .join("mcp_config.json"),
        );
        out.push(home.join(".mcpproxy").join("mcp_config.json"));
        out.push(home.join(".gemini").join("settings.json"));
    }
    if let Some(cwd) = cwd {
        out.push(cwd.join(".mcp.json"));
        out.push(cwd.join(".cursor").join("mcp.json"));
        out.push(cwd.join(".vscode").join("mcp.json"));
        out.push(cwd.join(".vscode").join("settings.json"));
        out.push(cwd.join(".gemini").join("settings.json"));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

/// The MCP client configuration files that exist on this machine: Claude
/// Desktop, Claude Code (`~/.claude.json`, `./.mcp.json`), Cursor
/// (`~/.cursor/mcp.json`, `./.cursor/mcp.json`), VS Code (user `mcp.json`
/// and `settings.json`, `./.vscode/mcp.json`), Windsurf
/// (`~/.codeium/windsurf/mcp_config.json`), MCPProxy
/// (`~/.mcpproxy/mcp_config.json`), Cline and Gemini CLI.
pub fn default_config_paths() -> Vec<PathBuf> {
    let home = dirs::home_dir();
    let config = dirs::config_dir();
    let cwd = std::env::current_dir().ok();
    candidates(home.as_deref(), config.as_deref(), cwd.as_deref())
        .into_iter()
        .filter(|p| p.is_file())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_client() {
        let all = candidates(
            Some(Path::new("/h")),
            Some(Path::new("/h/.config")),
            Some(Path::new("/w")),
        );
        let shown: Vec<String> = all
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        for expected in [
            "/h/.config/Claude/claude_desktop_config.json",
            "/h/.claude.json",
            "/h/.cursor/mcp.json",
            "/h/.codeium/windsurf/mcp_config.json",
            "/h/.mcpproxy/mcp_config.json",
            "/h/.config/Code/User/settings.json",
            "/h/.config/Code/User/mcp.json",
            "/w/.mcp.json",
            "/w/.cursor/mcp.json",
            "/w/.vscode/mcp.json",
        ] {
            assert!(
                shown.iter().any(|s| s == expected),
                "{expected} missing from {shown:?}"
            );
        }
        // The Linux path appears once even when it is also the platform one.
        assert_eq!(
            shown
                .iter()
                .filter(|s| s.ends_with("claude_desktop_config.json"))
                .count(),
            1
        );
    }
}
