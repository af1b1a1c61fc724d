//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// MCP server for security operations: live investigation, DFIR analysis,
/// MCP scanning and a safe gateway to other MCP servers.
#[derive(Debug, Parser)]
#[command(name = "bulwark", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Without one, embedded defaults apply.
    #[arg(long, global = true, env = "BULWARK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory for everything bulwark persists (store, audit log, caches).
    /// Default: the XDG data directory, e.g. ~/.local/share/bulwark.
    #[arg(long, global = true, env = "BULWARK_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (default) or Streamable HTTP.
    Serve(ServeArgs),
    /// List or call tools.
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// List profiles.
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Check or show the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check the audit log's hash chain.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage credentials in the data directory's store.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Tenants' backend credentials, stored encrypted in the data directory.
    #[command(subcommand)]
    Tenant(crate::tenant::TenantCommand),
    /// Find vulnerabilities, leaked secrets and poisoned tool descriptions in an
    /// MCP server's source tree and in MCP client configs. Offline: nothing is
    /// uploaded. Exit 0 clean, 1 findings at or above --fail-on, 2 scan error,
    /// 3 usage error.
    Scan(Box<ScanArgs>),
    /// Extract indicators of compromise (URLs, domains, IPs, hashes, CVEs,
    /// ATT&CK ids, paths, registry keys ...) from files, refanging defanged
    /// forms. Exit 0 found, 1 none found, 2 error.
    Iocs(crate::iocs::IocsArgs),
    /// Merge EVTX, syslog/auth.log, journald, auditd, shell history, bodyfile,
    /// MAC times and tool JSON into one time-ordered timeline.
    Timeline(crate::timeline::TimelineArgs),
    /// Hunt with Sigma rules over EVTX, JSON/JSONL, auditd and syslog files:
    /// detections as JSON, JSONL or CSV.
    Hunt(crate::hunt::HuntArgs),
    /// Write an investigation report (Markdown and self-contained HTML) from a
    /// case JSON file: findings plus the results of the analysis tools.
    Report(crate::report::ReportArgs),
    /// Upstream MCP servers behind the gateway: add, list, approve, quarantine, import.
    #[command(subcommand)]
    Upstream(crate::upstream::UpstreamCommand),
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Source tree (or file) to scan. Default: the current directory, unless
    /// --configs, --config-file, --server or --url is given.
    pub path: Option<PathBuf>,
    /// Also scan the MCP client configs found in the usual places (Claude
    /// Desktop, Claude Code, Cursor, VS Code, Windsurf, MCPProxy).
    #[arg(long)]
    pub configs: bool,
    /// Scan this MCP client config file (repeatable).
    #[arg(long = "config-file", value_name = "FILE")]
    pub config_files: Vec<PathBuf>,
    /// Connect to a live MCP server over stdio, started with this command line
    /// (e.g. 'npx -y @modelcontextprotocol/server-everything'), and judge its
    /// tools, prompts, resources and instructions.
    #[arg(long, value_name = "'CMD ARGS'")]
    pub server: Option<String>,
    /// Connect to a live MCP server over Streamable HTTP at this URL.
    #[arg(long, value_name = "URL", conflicts_with = "server")]
    pub url: Option<String>,
    /// With --server: how to sandbox the started server (`auto`: bubblewrap, else Landlock +
    /// seccomp; `none` runs it with your rights). It gets a private temporary home.
    #[arg(long, value_name = "KIND", default_value = "auto", requires = "server")]
    pub sandbox: bulwark_gateway::SandboxKind,
    /// With --server: network for the started server; default on for package runners
    /// (npx, uvx, …) only.
    #[arg(long, value_name = "BOOL", requires = "server")]
    pub network: Option<bool>,
    /// With --url: the URL is a legacy HTTP+SSE endpoint (protocol 2024-11-05, often `/sse`)
    /// rather than Streamable HTTP.
    #[arg(long, requires = "url")]
    pub sse: bool,
    /// An HTTP header for --url, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE", requires = "url")]
    pub headers: Vec<String>,
    /// Pin file for live scans: tool definitions are recorded on the first scan
    /// and any change is reported on the next (rug pull).
    #[arg(long, value_name = "FILE")]
    pub pin: Option<PathBuf>,
    /// Seconds to wait for a live server to start and answer.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// text, json, sarif, html or markdown.
    #[arg(long, default_value = "text")]
    pub format: String,
    /// Write the report here instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity (info, low, medium,
    /// high, critical). Default: any finding.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Report only findings at or above this severity.
    #[arg(long, value_name = "SEVERITY")]
    pub min_severity: Option<String>,
    /// Report only findings not in this baseline (from --write-baseline).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record this scan's findings as the baseline.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Scan only files changed since this git revision (and untracked ones).
    #[arg(long, value_name = "REV")]
    pub diff: Option<String>,
    /// Scan files .gitignore excludes too.
    #[arg(long)]
    pub no_gitignore: bool,
    /// Analyse all code in node_modules / site-packages, not only the
    /// packages that register MCP tools (secrets and supply-chain checks run
    /// there either way).
    #[arg(long)]
    pub analyze_dependencies: bool,
    /// No progress bar (it is only drawn on a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify every record's hash and link; names the first altered, removed or
    /// reordered record and exits 1, or prints how many records verified.
    Verify {
        /// The log to check; default: `audit.path`, else audit.jsonl in the data directory.
        file: Option<PathBuf>,
    },
    /// Records copied into the store (`audit.store = true`), newest first, as JSON lines.
    Search {
        /// Only this event type, e.g. `tool_call`, `auth.login`, `http.401`.
        #[arg(long = "type", value_name = "TYPE")]
        event_type: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        /// Only records at or after this RFC 3339 time, e.g. 2026-11-21T08:00:00Z.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// API keys for `--auth api-key`.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Users who log in to the built-in authorization server (`--auth oauth`).
    #[command(subcommand)]
    User(UserCommand),
    /// The authorization server's token-signing keys.
    #[command(subcommand)]
    SigningKey(SigningKeyCommand),
    /// OAuth clients registered with the authorization server.
    #[command(subcommand)]
    Client(ClientCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from stdin (one line), never from
    /// the command line; it is stored as an argon2id hash.
    Add {
        name: String,
        /// Read the password from stdin (required: passwords do not belong in argv).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Also require a TOTP code at login; prints the secret and an
        /// otpauth:// URI to load into an authenticator app.
        #[arg(long)]
        totp: bool,
        /// Comma-separated scopes the user may grant to clients.
        #[arg(long, value_delimiter = ',', default_value = "mcp,profile:*")]
        scopes: Vec<String>,
        /// The tenant the user's tokens act for.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List users (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a user and revoke every token issued to them.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// Start signing with a new key; the old one stays published until the
    /// tokens it signed expire.
    Rotate,
    /// List signing keys.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// List registered clients.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key. The secret is printed once, as the last line of stdout;
    /// only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated scopes, e.g. `mcp,profile:core` (`profile:*` reaches every
        /// profile; `tools:destructive` allows destructive tools).
        #[arg(long, value_delimiter = ',', default_value = "mcp,profile:all")]
        scopes: Vec<String>,
        /// The tenant the key acts for.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id or name; it stops working at once, also for a running server.
    Revoke { key: String },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve Streamable HTTP on ADDR (default 127.0.0.1:8080, or `http.listen`).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub http: Option<String>,
    /// Serve over stdin/stdout (the default unless the config says `http`).
    #[arg(long, conflicts_with = "http")]
    pub stdio: bool,
    /// Profile to serve on stdio and at /mcp.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Authentication methods for HTTP, comma-separated: `none`, or any of
    /// `api-key`, `oauth`, `jwt`.
    #[arg(long, value_name = "METHODS", value_delimiter = ',')]
    pub auth: Option<Vec<String>>,
    /// Allow `--http` on a non-loopback address without authentication.
    /// Anyone who can reach the port can then run every tool.
    #[arg(long)]
    pub insecure_no_auth: bool,
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// List the tools of a profile.
    List {
        #[arg(long, value_name = "NAME", default_value = "all")]
        profile: String,
        /// Full declarations as JSON.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// The README tools table, per profile.
        #[arg(long)]
        markdown: bool,
    },
    /// Call a tool in this process, through the same pipeline as the server,
    /// and print the MCP result as JSON. Exit code 1 when the result is an error.
    Call {
        /// Tool name.
        name: String,
        /// Arguments as a JSON object.
        #[arg(long, value_name = "JSON", default_value = "{}")]
        args: String,
        #[arg(long, value_name = "NAME", default_value = "all")]
        profile: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// List profiles with their tool counts.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file (and its profiles file); exit 2 if invalid.
    Check {
        /// The file to check; default: --config / BULWARK_CONFIG.
        file: Option<PathBuf>,
    },
    /// Print the effective configuration, all layers applied, as TOML.
    Show,
}

/// Parse `--http` values: empty means "the configured address".
pub fn http_addr(value: &str) -> Result<Option<SocketAddr>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| {
        format!(
            "--http `{value}` is not an address; use HOST:PORT such as 127.0.0.1:8080 or [::1]:8080"
        )
    })
}
