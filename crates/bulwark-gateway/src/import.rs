//! `bulwark upstream import FILE`: servers from an MCP client's configuration
//! (Claude Desktop, Claude Code, Cursor, VS Code `mcp.json`, MCPProxy
//! `mcp_config.json`). The file is read by the scanner's config parser, which
//! already knows these shapes (comments and trailing commas included).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::GatewayError;
use crate::record::Transport;
use crate::state::UpstreamSpec;

/// A server that could not be imported, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// The servers a config file declares, as specs to add (all quarantined).
pub fn parse(text: &str) -> Result<(Vec<UpstreamSpec>, Vec<Skipped>), GatewayError> {
    let declared = bulwark_scan::declared_servers(text)
        .map_err(|e| GatewayError::Invalid(format!("not a readable MCP client config: {e}")))?;
    let mut specs = Vec::new();
    let mut skipped = Vec::new();
    for (name, server) in declared {
        match spec(&name, &server) {
            Ok(spec) => specs.push(spec),
            Err(reason) => skipped.push(Skipped { name, reason }),
        }
    }
    Ok((specs, skipped))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn spec(name: &str, server: &Value) -> Result<UpstreamSpec, String> {
    bulwark_store::valid_upstream_name(name).map_err(|e| {
        format!("{e}; rename it in the file, or add it by hand with `bulwark upstream add`")
    })?;
    let str_of = |k: &str| server.get(k).and_then(Value::as_str).map(str::to_owned);
    let kind = str_of("type")
        .or_else(|| str_of("protocol"))
        .or_else(|| str_of("transport"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let url = str_of("url").or_else(|| str_of("serverUrl"));
    let enabled = !(server.get("disabled").and_then(Value::as_bool) == Some(true)
        || server.get("enabled").and_then(Value::as_bool) == Some(false));
    let transport = if let Some(command) = str_of("command") {
        Transport::Stdio {
            command,
            args: strings(server.get("args")),
            env: map(server.get("env")),
            cwd: str_of("cwd")
                .or_else(|| str_of("working_dir"))
                .map(PathBuf::from),
            // Imported servers get the default sandbox whatever the file says.
            sandbox: Default::default(),
        }
    } else if let Some(url) = url {
        let headers = map(server.get("headers"));
        if kind == "sse" {
            Transport::Sse { url, headers }
        } else {
            Transport::Http {
                url,
                headers,
                oauth: None,
            }
        }
    } else {
        return Err("it has neither `command` nor `url`".into());
    };
    crate::state::check_transport(&transport).map_err(|e| e.to_string())?;
    Ok(UpstreamSpec {
        name: name.to_owned(),
        transport,
        enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_desktop_and_vscode_and_mcpproxy_shapes() {
        let claude = r#"{
          // comments are fine
          "mcpServers": {
            "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"], "env": {"A": "1"}},
            "remote": {"type": "http", "url": "https://example.com/mcp", "headers": {"X": "y"}},
            "old": {"type": "sse", "url": "https://example.com/sse"},
            "bad name!": {"command": "x"},
            "empty": {},
          }
        }"#;
        let (specs, skipped) = parse(claude).unwrap();
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["fs", "remote", "old"]);
        assert!(
            matches!(&specs[0].transport, Transport::Stdio { args, env, .. } if args.len() == 3 && env["A"] == "1")
        );
        assert!(
            matches!(&specs[1].transport, Transport::Http { headers, .. } if headers["X"] == "y")
        );
        assert!(matches!(&specs[2].transport, Transport::Sse { .. }));
        assert_eq!(skipped.len(), 2);

        let vscode = r#"{"servers": {"time": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time"]}}}"#;
        let (specs, _) = parse(vscode).unwrap();
        assert_eq!(specs[0].name, "time");

        let mcpproxy = r#"{"mcpServers": [{"name": "gh", "url": "http://127.0.0.1:3000/mcp", "protocol": "http", "enabled": false}]}"#;
        let (specs, _) = parse(mcpproxy).unwrap();
        assert_eq!(specs[0].name, "gh");
        assert!(!specs[0].enabled);
    }

    #[test]
    fn garbage_is_an_error_with_a_position() {
        let err = parse("{\"mcpServers\": {").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        let (specs, skipped) =
            parse(r#"{"mcpServers": {"x": {"url": "file:///etc/passwd"}}}"#).unwrap();
        assert!(specs.is_empty());
        assert!(skipped[0].reason.contains("http"), "{:?}", skipped);
    }
}
