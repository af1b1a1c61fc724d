//! The `core` tools: a liveness check and endpoint discovery.

use bulwark_core::{CallContext, Severity, ToolDef, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{HostInfo, LOCAL_SID};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TestArgs {
    /// Text to echo back; useful to check a client round trip.
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SidArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    /// Hostname pattern; `*` matches any run of characters, matching ignores case.
    hostname_expr: String,
}

#[derive(Serialize, JsonSchema)]
struct SensorList {
    sensors: Vec<HostInfo>,
}

#[derive(Serialize, JsonSchema)]
struct OnlineList {
    /// Ids of the endpoints that answer now.
    sids: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
struct Online {
    sid: String,
    online: bool,
}

/// The endpoint behind `sid`, or an error that says which ids exist.
pub(crate) fn endpoint(sid: &str) -> Result<HostInfo, ToolError> {
    if sid == LOCAL_SID {
        Ok(HostInfo::local())
    } else {
        Err(ToolError::failed(format!(
            "no backend is configured for sensor `{sid}`: only `local` (this host) is available; \
             configure a LimaCharlie or Velociraptor backend to reach other endpoints"
        )))
    }
}

fn structured<T: Serialize>(value: &T) -> Result<ToolOutput, ToolError> {
    serde_json::to_value(value)
        .map(ToolOutput::structured)
        .map_err(|e| ToolError::failed(format!("cannot encode the result: {e}")))
}

/// Case-insensitive glob with `*` only. Hand-written: one wildcard kind does not
/// justify a glob crate, and the loop is linear in practice for hostnames.
fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern = pattern.to_lowercase();
    let text = text.to_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        ToolDef::new(
            "test_tool",
            "Check that bulwark answers. Echoes `message` back, or `ok`.",
        )
        .title("Test bulwark")
        .profiles(&["core"])
        .read_only()
        .handler(|_ctx: CallContext, args: TestArgs| async move {
            Ok(ToolOutput::text(
                args.message.unwrap_or_else(|| "ok".into()),
            ))
        }),
        ToolDef::new(
            "list_sensors",
            "List the endpoints bulwark can investigate, with host facts.",
        )
        .title("List sensors")
        .profiles(&["core"])
        .read_only()
        .severity(Severity::Medium)
        .output::<SensorList>()
        .handler(|_ctx: CallContext, _args: NoArgs| async move {
            structured(&SensorList {
                sensors: vec![HostInfo::local()],
            })
        }),
        ToolDef::new(
            "get_sensor_info",
            "Host facts of one endpoint: hostname, platform, OS, kernel, uptime.",
        )
        .title("Get sensor info")
        .profiles(&["core"])
        .read_only()
        .severity(Severity::Medium)
        .output::<HostInfo>()
        .handler(
            |_ctx: CallContext, args: SidArgs| async move { structured(&endpoint(&args.sid)?) },
        ),
        ToolDef::new(
            "get_online_sensors",
            "Ids of the endpoints that are online now.",
        )
        .title("Get online sensors")
        .profiles(&["core"])
        .read_only()
        .output::<OnlineList>()
        .handler(|_ctx: CallContext, _args: NoArgs| async move {
            structured(&OnlineList {
                sids: vec![LOCAL_SID.into()],
            })
        }),
        ToolDef::new("is_online", "Whether one endpoint is online now.")
            .title("Is online")
            .profiles(&["core"])
            .read_only()
            .output::<Online>()
            .handler(|_ctx: CallContext, args: SidArgs| async move {
                let host = endpoint(&args.sid)?;
                structured(&Online {
                    sid: host.sid,
                    online: host.online,
                })
            }),
        ToolDef::new(
            "search_hosts",
            "Find endpoints whose hostname matches a pattern (`*` wildcards).",
        )
        .title("Search hosts")
        .profiles(&["core"])
        .read_only()
        .severity(Severity::Medium)
        .output::<SensorList>()
        .handler(|_ctx: CallContext, args: SearchArgs| async move {
            if args.hostname_expr.len() > 256 {
                return Err(ToolError::InvalidArguments(
                    "field `hostname_expr`: longer than 256 characters".into(),
                ));
            }
            let host = HostInfo::local();
            let sensors = if glob_match(&args.hostname_expr, &host.hostname) {
                vec![host]
            } else {
                vec![]
            };
            structured(&SensorList { sensors })
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_wildcards_without_case() {
        assert!(glob_match("web-*", "WEB-01"));
        assert!(glob_match("*01", "web-01"));
        assert!(glob_match("w*-*1", "web-01"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("db-*", "web-01"));
        assert!(!glob_match("web", "web-01"));
        assert!(!glob_match("*x*", "web-01"));
    }

    #[test]
    fn unknown_sensor_says_what_exists() {
        let err = endpoint("abc-123").unwrap_err().to_string();
        assert!(
            err.contains("`abc-123`") && err.contains("`local`"),
            "{err}"
        );
        assert_eq!(endpoint("local").unwrap().sid, "local");
    }
}
