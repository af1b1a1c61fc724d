//! MCP client configuration detectors: a positive and a negative fixture
//! for each client's format.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bulwark_scan::{
    Location, NoteKind, ScanOptions, ScanReport, Severity, config_detector, scan_configs, scan_tree,
};
use common::write;

// Obviously fake credentials of the right shapes.
const GITHUB_TOKEN: &str = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5";
const OPENAI_KEY: &str = "sk-proj-Zq8Xw7Vu6Ts5Rq4Po3Nm2Lk1Jh0Gf9Ed";

fn scan_one(name: &str, text: &str) -> ScanReport {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), name, text);
    let report = scan_configs(&[dir.path().join(name)]).unwrap();
    assert!(report.notes.is_empty(), "{name}: {:?}", report.notes);
    report
}

fn rules(report: &ScanReport) -> BTreeSet<String> {
    report.findings.iter().map(|f| f.rule_id.clone()).collect()
}

fn lines_of(report: &ScanReport, rule: &str) -> Vec<(u32, u32)> {
    report
        .findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .map(|f| match f.location {
            Location::File { line, column, .. } => (line, column),
            _ => unreachable!(),
        })
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn assert_no_secret_leaks(report: &ScanReport, secrets: &[&str]) {
    for finding in &report.findings {
        for secret in secrets {
            for field in [&finding.snippet, &finding.evidence, &finding.message] {
                assert!(!field.contains(secret), "secret leaked in {field:?}");
                assert!(
                    !field.contains(&secret[6..]),
                    "secret tail leaked in {field:?}"
                );
            }
        }
    }
}

#[test]
fn claude_desktop() {
    let bad = format!(
        r#"{{
  "mcpServers": {{
    "github": {{
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {{ "GITHUB_PERSONAL_ACCESS_TOKEN": "{GITHUB_TOKEN}" }}
    }},
    "filesystem": {{
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/", "~/projects"]
    }},
    "postgres": {{
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-postgres@0.6.2", "postgresql://admin:Sup3rS3cretPw@db.internal:5432/app"]
    }}
  }}
}}"#
    );
    let report = scan_one("claude_desktop_config.json", &bad);
    assert_eq!(
        rules(&report),
        set(&[
            "BWK-CONFIG-BROAD-FILESYSTEM",
            "BWK-CONFIG-HARDCODED-SECRET",
            "BWK-CONFIG-UNPINNED-PACKAGE"
        ])
    );
    // Findings point at the offending value.
    assert_eq!(lines_of(&report, "BWK-CONFIG-UNPINNED-PACKAGE"), [(5, 23)]);
    assert_eq!(
        lines_of(&report, "BWK-CONFIG-HARDCODED-SECRET"),
        [(6, 49), (14, 89)]
    );
    assert_eq!(lines_of(&report, "BWK-CONFIG-BROAD-FILESYSTEM"), [(10, 76)]);
    let secret = &report
        .findings
        .iter()
        .find(|f| f.rule_id == "BWK-CONFIG-HARDCODED-SECRET")
        .unwrap();
    assert_eq!(secret.severity, Severity::High);
    assert!(secret.snippet.contains("ghp_****"), "{}", secret.snippet);
    assert!(
        secret.message.contains("GitHub token"),
        "{}",
        secret.message
    );
    assert_no_secret_leaks(&report, &[GITHUB_TOKEN, "Sup3rS3cretPw"]);

    let good = r#"{
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
      "env": { "GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}" }
    },
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/Users/me/projects", "~/notes"]
    },
    "postgres": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-postgres@0.6.2", "postgresql://localhost/app"]
    }
  }
}"#;
    assert_eq!(
        rules(&scan_one("claude_desktop_config.json", good)),
        set(&[])
    );
}

#[test]
fn claude_code_mcp_json_and_claude_json() {
    let bad = format!(
        r#"{{
  "mcpServers": {{
    "remote": {{
      "type": "http",
      "url": "http://mcp.example.com/mcp",
      "headers": {{ "Authorization": "Bearer {OPENAI_KEY}" }}
    }},
    "sse": {{ "type": "sse", "url": "https://api.example.com/sse?api_key=q8Zr2LmX0pVt7cNw4bYe" }}
  }}
}}"#
    );
    let report = scan_one(".mcp.json", &bad);
    assert_eq!(
        rules(&report),
        set(&["BWK-CONFIG-HARDCODED-SECRET", "BWK-CONFIG-PLAIN-HTTP"])
    );
    assert_eq!(lines_of(&report, "BWK-CONFIG-PLAIN-HTTP"), [(5, 15)]);
    assert_eq!(lines_of(&report, "BWK-CONFIG-HARDCODED-SECRET").len(), 2);
    assert_no_secret_leaks(&report, &[OPENAI_KEY, "q8Zr2LmX0pVt7cNw4bYe"]);

    let good = r#"{
  "mcpServers": {
    "remote": {
      "type": "http",
      "url": "https://mcp.example.com/mcp",
      "headers": { "Authorization": "Bearer ${API_TOKEN}" }
    },
    "local": { "type": "sse", "url": "http://127.0.0.1:3000/sse" }
  }
}"#;
    assert_eq!(rules(&scan_one(".mcp.json", good)), set(&[]));

    // ~/.claude.json: user servers and per-project servers.
    let bad = r#"{
  "numStartups": 12,
  "mcpServers": { "fetch": { "command": "uvx", "args": ["mcp-server-fetch"] } },
  "projects": {
    "/home/me/app": {
      "allowedTools": [],
      "mcpServers": { "time": { "type": "stdio", "command": "uvx", "args": ["--from", "git+https://github.com/x/mcp-time", "mcp-time"] } }
    }
  }
}"#;
    let report = scan_one(".claude.json", bad);
    assert_eq!(
        lines_of(&report, "BWK-CONFIG-UNPINNED-PACKAGE"),
        [(3, 58), (7, 88)]
    );
    let good = r#"{
  "mcpServers": { "fetch": { "command": "uvx", "args": ["mcp-server-fetch==2025.1.17"] } },
  "projects": { "/home/me/app": { "mcpServers": { "git": { "command": "uvx", "args": ["mcp-server-git@2025.1.14", "--repository", "/home/me/app"] } } } }
}"#;
    assert_eq!(rules(&scan_one(".claude.json", good)), set(&[]));
}

#[test]
fn cursor() {
    let bad = r#"{
  "mcpServers": {
    "box": {
      "command": "docker",
      "args": ["run", "-i", "--rm", "--privileged", "-v", "/:/host", "-v=/var/run/docker.sock:/var/run/docker.sock", "--cap-add=SYS_ADMIN", "mcp/box"]
    },
    "lookalike": { "command": "npx", "args": ["-y", "@modelcontextprotcol/server-memory@1.0.0"] },
    "scratch": { "command": "node", "args": ["/tmp/mcp/server.js"] }
  }
}"#;
    let report = scan_one("mcp.json", bad);
    assert_eq!(
        rules(&report),
        set(&[
            "BWK-CONFIG-DOCKER-HOST-MOUNT",
            "BWK-CONFIG-DOCKER-PRIVILEGED",
            "BWK-CONFIG-TYPOSQUAT",
            "BWK-CONFIG-UNPINNED-PACKAGE",
            "BWK-CONFIG-UNTRUSTED-PATH",
        ])
    );
    let socket = report
        .findings
        .iter()
        .find(|f| f.message.contains("Docker socket"))
        .expect("socket mount found");
    assert_eq!(socket.severity, Severity::Critical);
    assert_eq!(lines_of(&report, "BWK-CONFIG-DOCKER-PRIVILEGED").len(), 2);
    assert_eq!(lines_of(&report, "BWK-CONFIG-DOCKER-HOST-MOUNT").len(), 2);
    let typo = report
        .findings
        .iter()
        .find(|f| f.rule_id == "BWK-CONFIG-TYPOSQUAT")
        .unwrap();
    assert!(
        typo.message.contains("@modelcontextprotocol/server-memory"),
        "{}",
        typo.message
    );
    // The image without a tag is a low-severity unpinned finding.
    let image = report
        .findings
        .iter()
        .find(|f| f.rule_id == "BWK-CONFIG-UNPINNED-PACKAGE")
        .unwrap();
    assert_eq!(image.severity, Severity::Low);

    let good = r#"{
  "mcpServers": {
    "github": {
      "command": "docker",
      "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "-v", "/home/me/work:/work:ro",
               "ghcr.io/github/github-mcp-server@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"],
      "env": { "GITHUB_PERSONAL_ACCESS_TOKEN": "${env:GITHUB_TOKEN}" }
    },
    "memory": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory@2025.8.4"] },
    "local": { "command": "node", "args": ["/opt/mcp/server.js"] }
  }
}"#;
    assert_eq!(rules(&scan_one("mcp.json", good)), set(&[]));
}

#[test]
fn vscode_mcp_json_with_comments_and_inputs() {
    let bad = r#"// VS Code accepts comments and trailing commas.
{
  "inputs": [
    { "type": "promptString", "id": "api-key", "description": "Service API key" },
  ],
  "servers": {
    /* a server with TLS checks off */
    "svc": {
      "type": "stdio",
      "command": "uvx",
      "args": ["svc-mcp@latest", "--insecure"],
      "env": { "NODE_TLS_REJECT_UNAUTHORIZED": "0", "API_KEY": "${input:api-key}" },
    },
    "remote": { "type": "http", "url": "http://10.1.2.3:8080/mcp", "tls": { "verify_ssl": false } },
  },
}"#;
    let report = scan_one(".vscode/mcp.json", bad);
    assert_eq!(
        rules(&report),
        set(&[
            "BWK-CONFIG-INPUT-NOT-PASSWORD",
            "BWK-CONFIG-PLAIN-HTTP",
            "BWK-CONFIG-TLS-DISABLED",
            "BWK-CONFIG-UNPINNED-PACKAGE",
        ])
    );
    assert_eq!(
        lines_of(&report, "BWK-CONFIG-TLS-DISABLED"),
        [(11, 35), (12, 49), (14, 91)]
    );
    assert_eq!(
        lines_of(&report, "BWK-CONFIG-INPUT-NOT-PASSWORD"),
        [(4, 38)]
    );

    let good = r#"{
  // Secrets come from the prompt, stored in the secret store.
  "inputs": [{ "type": "promptString", "id": "api-key", "description": "Service API key", "password": true }],
  "servers": {
    "svc": { "command": "uvx", "args": ["svc-mcp==1.4.0"], "env": { "API_KEY": "${input:api-key}" } },
    "remote": { "type": "http", "url": "https://mcp.example.com/mcp" },
  },
}"#;
    assert_eq!(rules(&scan_one(".vscode/mcp.json", good)), set(&[]));
}

#[test]
fn vscode_settings_json() {
    let bad = r#"{
  "editor.fontSize": 14,
  "mcp": {
    "servers": {
      "dl": { "command": "~/Downloads/mcp-server", "args": [] },
      "gh": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
              "env": { "GITHUB_TOKEN": "q8Zr2LmX0pVt7cNw4bYeR5sT" } }
    }
  }
}"#;
    let report = scan_one(".vscode/settings.json", bad);
    assert_eq!(
        rules(&report),
        set(&["BWK-CONFIG-HARDCODED-SECRET", "BWK-CONFIG-UNTRUSTED-PATH"])
    );
    let secret = report
        .findings
        .iter()
        .find(|f| f.rule_id == "BWK-CONFIG-HARDCODED-SECRET")
        .unwrap();
    assert_eq!(secret.confidence, bulwark_scan::Confidence::Medium);

    let good = r#"{
  "editor.fontSize": 14,
  "mcp": { "servers": { "local": { "command": "/usr/local/bin/mcp-server", "args": ["--port", "0"] } } },
  "http.proxyStrictSSL": true
}"#;
    assert_eq!(rules(&scan_one(".vscode/settings.json", good)), set(&[]));
}

#[test]
fn windsurf() {
    let bad = r#"{
  "mcpServers": {
    "lan": { "serverUrl": "http://10.0.0.5:8080/sse" },
    "fs": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "C:\\"] }
  }
}"#;
    let report = scan_one("mcp_config.json", bad);
    assert_eq!(
        rules(&report),
        set(&["BWK-CONFIG-BROAD-FILESYSTEM", "BWK-CONFIG-PLAIN-HTTP"])
    );
    let good = r#"{
  "mcpServers": {
    "local": { "serverUrl": "http://localhost:8080/sse" },
    "fs": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "C:\\work\\repo"] }
  }
}"#;
    assert_eq!(rules(&scan_one("mcp_config.json", good)), set(&[]));
}

#[test]
fn mcpproxy_array_format() {
    let bad = r#"{
  "listen": ":8080",
  "mcpServers": [
    { "name": "remote", "url": "http://remote.example.com/mcp", "protocol": "http", "enabled": true },
    { "name": "tools", "command": "npx", "args": ["mcp-remot"], "protocol": "stdio",
      "env": { "SERVICE_API_KEY": "q8Zr2LmX0pVt7cNw4bYeR5sT" }, "working_dir": "/var/tmp/tools" },
    { "name": "pipx", "command": "pipx", "args": ["run", "some-mcp-server"] }
  ]
}"#;
    let report = scan_one("mcp_config.json", bad);
    assert_eq!(
        rules(&report),
        set(&[
            "BWK-CONFIG-HARDCODED-SECRET",
            "BWK-CONFIG-PLAIN-HTTP",
            "BWK-CONFIG-TYPOSQUAT",
            "BWK-CONFIG-UNPINNED-PACKAGE",
            "BWK-CONFIG-UNTRUSTED-PATH",
        ])
    );
    assert_eq!(lines_of(&report, "BWK-CONFIG-UNPINNED-PACKAGE").len(), 2);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.message.contains("server \"tools\""))
    );
    let good = r#"{
  "mcpServers": [
    { "name": "remote", "url": "https://remote.example.com/mcp", "protocol": "http" },
    { "name": "tools", "command": "npx", "args": ["mcp-remote@0.1.29", "https://remote.example.com/mcp"],
      "env": { "SERVICE_API_KEY": "${SERVICE_API_KEY}" }, "working_dir": "/home/me/tools" },
    { "name": "pipx", "command": "pipx", "args": ["run", "some-mcp-server==1.2.0"] }
  ]
}"#;
    assert_eq!(rules(&scan_one("mcp_config.json", good)), set(&[]));
}

#[test]
fn wrappers_and_minified_configs() {
    // Windows `cmd /c npx` and a shell string; a minified file keeps every
    // secret masked in every snippet.
    let text = format!(
        r#"{{"mcpServers":{{"a":{{"command":"cmd","args":["/c","npx","-y","mcp-remote","https://x.example.com/mcp"],"env":{{"TOKEN":"{GITHUB_TOKEN}"}}}},"b":{{"command":"bash","args":["-c","curl -k https://x && npx some-pkg"]}}}}}}"#
    );
    let report = scan_one("claude_desktop_config.json", &text);
    assert_eq!(
        rules(&report),
        set(&[
            "BWK-CONFIG-HARDCODED-SECRET",
            "BWK-CONFIG-TLS-DISABLED",
            "BWK-CONFIG-UNPINNED-PACKAGE"
        ])
    );
    assert_eq!(lines_of(&report, "BWK-CONFIG-UNPINNED-PACKAGE").len(), 1);
    assert_no_secret_leaks(&report, &[GITHUB_TOKEN]);
    for finding in &report.findings {
        assert!(finding.snippet.chars().count() <= 200);
    }
}

/// A scratch directory outside /tmp (whose name alone is flagged): cargo's
/// test tmpdir, else the workspace's target dir, else ~/.cache; the first of
/// them that is not itself under /tmp or /var/tmp (a clone in /tmp is).
fn scratch() -> tempfile::TempDir {
    let candidates = [
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bulwark-scan-tests"),
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
            .join(".cache/bulwark-scan-tests"),
    ];
    for base in candidates {
        if std::fs::create_dir_all(&base).is_err() {
            continue;
        }
        let Ok(base) = base.canonicalize() else {
            continue;
        };
        if !base.starts_with("/tmp") && !base.starts_with("/var/tmp") {
            return tempfile::tempdir_in(base).unwrap();
        }
    }
    panic!("no scratch directory outside /tmp: set HOME to a directory elsewhere");
}

#[cfg(unix)]
#[test]
fn world_writable_command_locations_are_checked_on_disk() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch();
    let shared = dir.path().join("shared");
    let private = dir.path().join("private");
    write(&shared, "server", "#!/bin/sh\n");
    write(&private, "server", "#!/bin/sh\n");
    write(&private, "open-script.js", "");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(
        private.join("open-script.js"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let config = format!(
        r#"{{"mcpServers": {{
  "a": {{ "command": "{}" }},
  "b": {{ "command": "{}" }},
  "c": {{ "command": "node", "args": ["{}"] }}
}}}}"#,
        shared.join("server").display(),
        private.join("server").display(),
        private.join("open-script.js").display()
    );
    write(dir.path(), "mcp.json", &config);
    let report = scan_configs(&[dir.path().join("mcp.json")]).unwrap();
    let messages: Vec<&str> = report.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        lines_of(&report, "BWK-CONFIG-UNTRUSTED-PATH"),
        [(2, 22), (4, 39)],
        "{messages:#?}"
    );
    assert!(
        messages[0].ends_with("/shared, which is world-writable"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].ends_with("open-script.js` is world-writable"),
        "{}",
        messages[1]
    );
}

#[test]
fn config_files_inside_a_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let bad = r#"{"mcpServers": {"x": {"command": "npx", "args": ["-y", "some-server"]}}}"#;
    write(root, ".mcp.json", bad);
    write(root, ".cursor/mcp.json", bad);
    write(
        root,
        ".vscode/mcp.json",
        r#"{"servers": {"x": {"url": "http://example.com/mcp"}}}"#,
    );
    write(root, "docs/example.json", bad); // not a config file name
    write(root, "broken/.mcp.json", "{ not json");
    let report = scan_tree(&ScanOptions::new(root, vec![config_detector()])).unwrap();
    let places = common::places(&report);
    assert_eq!(
        places,
        [".cursor/mcp.json:1", ".mcp.json:1", ".vscode/mcp.json:1"]
    );
    assert_eq!(report.files_scanned, 4);
    assert_eq!(report.rules.len(), bulwark_scan::CONFIG_RULES.len());
}

#[test]
fn scan_configs_notes_missing_and_malformed_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.json", "{\n  \"mcpServers\": {,\n}");
    let report = scan_configs(&[
        dir.path().join("bad.json"),
        PathBuf::from("/nonexistent/mcp.json"),
    ])
    .unwrap();
    let kinds: Vec<NoteKind> = report.notes.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [NoteKind::Unreadable, NoteKind::ParseError]);
    assert!(
        report.notes[1].detail.starts_with("line 2, column 18"),
        "{}",
        report.notes[1].detail
    );
    assert!(report.findings.is_empty());
}

#[test]
fn default_config_paths_only_lists_existing_files() {
    for path in bulwark_scan::default_config_paths() {
        assert!(path.is_file(), "{}", path.display());
    }
}
