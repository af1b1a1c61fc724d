//! Where an upstream server is: a command to start (stdio) or a URL (Streamable HTTP or legacy SSE).

use std::{collections::BTreeMap, fmt, path::PathBuf};

use crate::UpstreamError;

/// An upstream MCP server to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Start `command args…` and speak MCP over its stdin/stdout.
    ///
    /// `env` is added to the environment bulwark runs in; `cwd` is the child's working directory
    /// (bulwark's own when `None`).
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: Option<PathBuf>,
    },
    /// Speak MCP over Streamable HTTP to `url`, sending `headers` with every request.
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
    /// Speak MCP over the legacy HTTP+SSE transport (protocol 2024-11-05): an event stream at
    /// `url` and POSTs to the endpoint it names, sending `headers` with every request.
    Sse {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

impl Target {
    /// A stdio server: `command` with `args`, no extra environment, bulwark's working directory.
    pub fn stdio(
        command: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Target::Stdio {
            command: command.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            cwd: None,
        }
    }

    /// A Streamable HTTP server at `url`, without extra headers.
    pub fn http(url: impl Into<String>) -> Self {
        Target::Http {
            url: url.into(),
            headers: BTreeMap::new(),
        }
    }

    /// Split a command line the way a POSIX shell would (quotes and backslashes, no expansion),
    /// e.g. `npx -y @modelcontextprotocol/server-everything`.
    ///
    /// Leading `NAME=value` words set environment variables for the server, as in a shell:
    /// `API_KEY=x node server.js`.
    pub fn parse_command_line(cmdline: &str) -> Result<Target, UpstreamError> {
        let bad = |reason: &str| UpstreamError::CommandLine {
            cmdline: cmdline.to_owned(),
            reason: reason.to_owned(),
        };
        let words = shlex::split(cmdline).ok_or_else(|| {
            bad("unbalanced quotes or a trailing backslash; quote it as you would in a shell")
        })?;
        let mut env = BTreeMap::new();
        let mut words = words.into_iter().peekable();
        while let Some((name, value)) = words.peek().and_then(|w| env_assignment(w)) {
            env.insert(name, value);
            words.next();
        }
        let command = words.next().ok_or_else(|| {
            bad("no command; give the server's command, e.g. `npx -y @modelcontextprotocol/server-everything`")
        })?;
        Ok(Target::Stdio {
            command,
            args: words.collect(),
            env,
            cwd: None,
        })
    }

    /// True for stdio targets.
    pub fn is_stdio(&self) -> bool {
        matches!(self, Target::Stdio { .. })
    }
}

/// `NAME=value` with a shell-valid name.
fn env_assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    if !(first.is_ascii_alphabetic() || first == '_')
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    Some((name.to_owned(), value.to_owned()))
}

/// The command line (quoted for a shell, environment values hidden: they are often secrets) or
/// the URL, in backticks for stdio.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Stdio { command, args, .. } => {
                let words =
                    std::iter::once(command.as_str()).chain(args.iter().map(String::as_str));
                let line = shlex::try_join(words).unwrap_or_else(|_| {
                    // A word with a NUL byte cannot be quoted; show it plainly.
                    std::iter::once(command.clone())
                        .chain(args.iter().cloned())
                        .collect::<Vec<_>>()
                        .join(" ")
                });
                write!(f, "`{line}`")
            }
            Target::Http { url, .. } | Target::Sse { url, .. } => f.write_str(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio(target: &Target) -> (&str, Vec<&str>, &BTreeMap<String, String>) {
        match target {
            Target::Stdio {
                command, args, env, ..
            } => (command, args.iter().map(String::as_str).collect(), env),
            Target::Http { .. } | Target::Sse { .. } => panic!("not stdio"),
        }
    }

    #[test]
    fn splits_like_a_shell() {
        let t =
            Target::parse_command_line("npx -y @modelcontextprotocol/server-everything").unwrap();
        let (command, args, env) = stdio(&t);
        assert_eq!(command, "npx");
        assert_eq!(args, ["-y", "@modelcontextprotocol/server-everything"]);
        assert!(env.is_empty());

        let t = Target::parse_command_line(r#"sh -c 'echo "a b" >&2; exit 3'"#).unwrap();
        let (command, args, _) = stdio(&t);
        assert_eq!(command, "sh");
        assert_eq!(args, ["-c", r#"echo "a b" >&2; exit 3"#]);

        let t = Target::parse_command_line(r#"node "/path with space/index.js" a\ b"#).unwrap();
        assert_eq!(stdio(&t).1, ["/path with space/index.js", "a b"]);
    }

    #[test]
    fn leading_assignments_become_environment() {
        let t = Target::parse_command_line("API_KEY=s3cret _X=1 node server.js FOO=bar").unwrap();
        let (command, args, env) = stdio(&t);
        assert_eq!(command, "node");
        assert_eq!(args, ["server.js", "FOO=bar"]);
        assert_eq!(env.get("API_KEY").map(String::as_str), Some("s3cret"));
        assert_eq!(env.get("_X").map(String::as_str), Some("1"));
        // Not a valid name: it is the command.
        let t = Target::parse_command_line("1X=2 true").unwrap();
        assert_eq!(stdio(&t).0, "1X=2");
    }

    #[test]
    fn rejects_empty_and_unbalanced() {
        for bad in ["", "   ", "A=1", "echo 'oops", "trailing\\"] {
            let err = Target::parse_command_line(bad).unwrap_err();
            assert!(
                matches!(err, UpstreamError::CommandLine { .. }),
                "{bad:?}: {err}"
            );
        }
        let text = Target::parse_command_line("").unwrap_err().to_string();
        assert!(text.contains("no command"), "{text}");
        let text = Target::parse_command_line("echo 'x")
            .unwrap_err()
            .to_string();
        assert!(text.contains("unbalanced quotes"), "{text}");
    }

    #[test]
    fn displays_quoted_without_environment() {
        let t = Target::parse_command_line("TOKEN=secret sh -c 'exit 3'").unwrap();
        assert_eq!(t.to_string(), "`sh -c 'exit 3'`");
        assert_eq!(
            Target::http("http://127.0.0.1:9/mcp").to_string(),
            "http://127.0.0.1:9/mcp"
        );
    }
}
