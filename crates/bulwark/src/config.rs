//! `bulwark.toml` and its overrides.
//!
//! Layers, lowest first: embedded defaults, the config file (`--config` or
//! `BULWARK_CONFIG`), the LimaCharlie variables `MCP_MODE`, `MCP_PROFILE` and
//! `PORT`, then `BULWARK_*` variables (`BULWARK_HTTP__LISTEN` sets
//! `http.listen`), then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where bulwark keeps everything it persists. Default: the XDG data
    /// directory (`~/.local/share/bulwark`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// A TOML file of `[profiles.NAME]` tables that add or replace profiles.
    /// Relative paths are taken from the config file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles_file: Option<PathBuf>,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub rate_limit: RateLimitSection,
    #[serde(default)]
    pub audit: AuditSection,
    #[serde(default)]
    pub live: LiveSection,
    #[serde(default)]
    pub gateway: GatewaySection,
    #[serde(default)]
    pub ioc: IocSection,
    #[serde(default)]
    pub metrics: MetricsSection,
    /// Upstream MCP servers for the gateway, merged into the store at start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<UpstreamDecl>,
}

/// `[ioc]`: applied to every `extract_iocs` call and every `bulwark iocs` run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IocSection {
    /// Indicators of your own, e.g. `{ name = "ticket", regex = 'INC-\d{6}' }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<IocPatternDecl>,
    /// More domains to treat as benign (subdomains included) when a call asks
    /// to drop benign domains.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub benign_domains: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IocPatternDecl {
    /// Reported as the indicator's name.
    pub name: String,
    /// A Rust regular expression; with one capture group, the group is the value.
    pub regex: String,
}

impl IocSection {
    /// The extractor's defaults. The patterns are compiled here, so a bad one
    /// stops `serve` and `config check` instead of failing every call.
    pub fn to_defaults(&self) -> anyhow::Result<bulwark_ioc::IocDefaults> {
        let patterns: Vec<bulwark_ioc::CustomPattern> = self
            .patterns
            .iter()
            .map(|p| bulwark_ioc::CustomPattern {
                name: p.name.clone(),
                regex: p.regex.clone(),
            })
            .collect();
        bulwark_ioc::Extractor::new(bulwark_ioc::ExtractOptions {
            custom: patterns.clone(),
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("`[ioc] patterns` in the config: {e}"))?;
        Ok(bulwark_ioc::IocDefaults {
            patterns,
            benign_domains: self.benign_domains.clone(),
        })
    }
}

/// `[metrics]`: Prometheus metrics at `/metrics` (HTTP mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// Serve `/metrics` at all.
    pub enabled: bool,
    /// Who may read it: `auth` (a credential with the `metrics:read` scope
    /// when authentication is on, loopback clients when it is off),
    /// `loopback`, or `open`.
    pub access: MetricsAccessDecl,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            enabled: true,
            access: MetricsAccessDecl::Auth,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricsAccessDecl {
    Auth,
    Loopback,
    Open,
}

/// The gateway to upstream MCP servers (see docs/gateway.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySection {
    /// Upstream responses longer than this many characters are cut; `read_cache` pages the rest.
    pub tool_response_limit: usize,
    /// Seconds one upstream call may take.
    pub call_timeout_secs: u64,
    /// Seconds to start (or reach) an upstream and finish `initialize`.
    pub connect_timeout_secs: u64,
    /// Size at which a stdio upstream's stderr log is rotated.
    pub log_max_bytes: u64,
    /// Largest JSON arguments of one upstream call.
    pub max_args_bytes: usize,
    /// Whether agents may add servers with `upstream_servers` (always quarantined).
    pub allow_server_add: bool,
    /// Whether agents may remove servers with `upstream_servers`.
    pub allow_server_remove: bool,
    /// MCP tools may look at upstreams but not add, remove, change or quarantine them.
    pub read_only_mode: bool,
    /// `upstream_servers` and `quarantine_security` refuse every operation.
    pub disable_management: bool,
    /// Replace secrets the scanner's detectors find in upstream responses by
    /// `[REDACTED:RULE-ID]` (each `[[upstreams]]` entry may override it).
    pub redact_secrets: bool,
    /// Upstreams with `sessions = "per-client"`: a client's connection unused this long closes.
    pub client_session_idle_secs: u64,
    /// Upstreams with `sessions = "per-client"`: connections open at once, per upstream.
    pub max_client_sessions: usize,
}

impl Default for GatewaySection {
    fn default() -> Self {
        GatewaySection {
            tool_response_limit: 20_000,
            call_timeout_secs: 120,
            connect_timeout_secs: 30,
            log_max_bytes: 5 * 1024 * 1024,
            max_args_bytes: 1024 * 1024,
            allow_server_add: true,
            allow_server_remove: true,
            read_only_mode: false,
            disable_management: false,
            redact_secrets: false,
            client_session_idle_secs: 600,
            max_client_sessions: 32,
        }
    }
}

/// Whether an upstream's callers share one connection or get one each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sessions {
    /// One connection for every caller.
    #[default]
    Shared,
    /// One connection per MCP session (else per principal), for servers that keep state
    /// per connection.
    PerClient,
}

/// One `[[upstreams]]` entry: a stdio `command` or an HTTP `url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamDecl {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub env: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// `stdio`, `http` (Streamable HTTP) or `sse`; default from `command`/`url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `oauth` for an HTTP server behind OAuth (log in with `bulwark upstream login NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// With `auth = "oauth"`: a client id registered by hand (for servers without DCR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// With `auth = "oauth"`: an HTTPS client ID metadata document URL (CIMD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_metadata_url: Option<String>,
    /// With `auth = "oauth"`: scopes to ask for; default: what the server asks for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `false` approves the server: each tool is pinned when first seen.
    #[serde(default = "yes")]
    pub quarantined: bool,
    /// Tools of this server that are never listed, indexed or callable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_tools: Vec<String>,
    /// Redact secrets in this server's responses; default `gateway.redact_secrets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact_secrets: Option<bool>,
    /// `shared` (default) or `per-client` connections (docs/gateway.md).
    #[serde(default)]
    pub sessions: Sessions,
    /// stdio only: `auto` (default), `bwrap`, `landlock` or `none` (docs/sandbox.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// stdio only: network inside the sandbox; default on for npx/uvx-style package runners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<bool>,
    /// stdio only: extra paths the sandboxed server may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_only: Vec<PathBuf>,
    /// stdio only: extra paths the sandboxed server may read and write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable: Vec<PathBuf>,
}

fn yes() -> bool {
    true
}

impl UpstreamDecl {
    pub fn to_spec(&self) -> Result<bulwark_gateway::UpstreamSpec> {
        use bulwark_gateway::Transport;
        let at = format!(
            "invalid configuration: `[[upstreams]]` entry `{}`",
            self.name
        );
        let protocol = self
            .protocol
            .as_deref()
            .unwrap_or(if self.command.is_some() {
                "stdio"
            } else {
                "http"
            });
        let oauth = match self.auth.as_deref() {
            None => {
                if self.client_id.is_some()
                    || self.client_metadata_url.is_some()
                    || !self.scopes.is_empty()
                {
                    bail!(
                        "{at}: `client_id`, `client_metadata_url` and `scopes` are OAuth settings; add `auth = \"oauth\"`"
                    );
                }
                None
            }
            Some("oauth") => Some(bulwark_gateway::OAuthSettings {
                client_id: self.client_id.clone(),
                client_metadata_url: self.client_metadata_url.clone(),
                scopes: self.scopes.clone(),
            }),
            Some(other) => bail!(
                "{at}: `auth = {other:?}` is not known; the one value is `oauth` (for static credentials use `headers`)"
            ),
        };
        if oauth.is_some() && !matches!(protocol, "http" | "streamable-http") {
            bail!("{at}: `auth = \"oauth\"` needs a Streamable HTTP `url`");
        }
        let transport = match (protocol, &self.command, &self.url) {
            ("stdio", Some(command), None) => Transport::Stdio {
                command: command.clone(),
                args: self.args.clone(),
                env: self.env.clone(),
                cwd: self.cwd.clone(),
                sandbox: self
                    .sandbox_config()
                    .map_err(|e| anyhow::anyhow!("{at}: {e}"))?,
            },
            ("http" | "streamable-http", None, Some(url)) => Transport::Http {
                url: url.clone(),
                headers: self.headers.clone(),
                oauth,
            },
            ("sse", None, Some(url)) => Transport::Sse {
                url: url.clone(),
                headers: self.headers.clone(),
            },
            _ => bail!(
                "{at}: give either `command` (stdio) or `url` (with protocol `http` or `sse`), not both or neither"
            ),
        };
        if protocol != "stdio"
            && (self.sandbox.is_some()
                || self.network.is_some()
                || !self.read_only.is_empty()
                || !self.writable.is_empty())
        {
            bail!(
                "{at}: `sandbox`, `network`, `read_only` and `writable` apply to stdio servers (`command`) only; remove them"
            );
        }
        bulwark_store::valid_upstream_name(&self.name).map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
        Ok(bulwark_gateway::UpstreamSpec {
            name: self.name.clone(),
            transport,
            enabled: self.enabled,
        })
    }
}

impl UpstreamDecl {
    fn sandbox_config(&self) -> Result<bulwark_gateway::SandboxConfig> {
        let kind = match &self.sandbox {
            Some(kind) => kind
                .parse()
                .map_err(|e| anyhow::anyhow!("`sandbox`: {e}"))?,
            None => Default::default(),
        };
        Ok(bulwark_gateway::SandboxConfig {
            kind,
            network: self.network,
            read_only: self.read_only.clone(),
            writable: self.writable.clone(),
        })
    }
}

/// Live investigation and containment of the `local` endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveSection {
    /// File tools (dir_list, file_hash, YARA scans, quarantine) reach only
    /// paths under these absolute roots, after `..` and symlinks are resolved.
    pub allowed_roots: Vec<PathBuf>,
    /// Directory of `.yar`/`.yara` files that the YARA tools' `rule_name` picks from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules_dir: Option<PathBuf>,
    /// Where quarantined files are kept. Default: `vault` in the data directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault_dir: Option<PathBuf>,
    /// Whether isolate_network may install its nftables table (needs root and `nft`).
    pub allow_isolation: bool,
    /// Rows in one result.
    pub max_rows: usize,
    /// Bytes of strings in one result.
    pub max_result_bytes: usize,
    /// Largest file hashed or YARA-scanned.
    pub max_file_bytes: u64,
    /// Largest process memory region read at once.
    pub max_region_bytes: u64,
    /// Seconds one live tool call may spend collecting.
    pub max_secs: u64,
    /// Deepest directory recursion.
    pub max_depth: usize,
}

impl Default for LiveSection {
    fn default() -> Self {
        let limits = bulwark_dfir::Limits::default();
        LiveSection {
            allowed_roots: vec![PathBuf::from("/")],
            rules_dir: None,
            vault_dir: None,
            allow_isolation: true,
            max_rows: limits.max_rows,
            max_result_bytes: limits.max_result_bytes,
            max_file_bytes: limits.max_file_bytes,
            max_region_bytes: limits.max_region_bytes,
            max_secs: limits.max_duration.as_secs(),
            max_depth: limits.max_depth,
        }
    }
}

impl LiveSection {
    /// The dfir crate's view of this section.
    pub fn to_live_config(&self, data_dir: PathBuf) -> bulwark_dfir::LiveConfig {
        let mut config = bulwark_dfir::LiveConfig::new(data_dir);
        config.allowed_roots = self.allowed_roots.clone();
        config.rules_dir = self.rules_dir.clone();
        config.vault_dir = self.vault_dir.clone();
        config.allow_isolation = self.allow_isolation;
        config.limits = bulwark_dfir::Limits {
            max_rows: self.max_rows,
            max_result_bytes: self.max_result_bytes,
            max_file_bytes: self.max_file_bytes,
            max_region_bytes: self.max_region_bytes,
            max_duration: std::time::Duration::from_secs(self.max_secs),
            max_depth: self.max_depth,
        };
        config
    }
}

/// The tamper-evident audit log (JSONL, each record chained to the previous one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    pub enabled: bool,
    /// Default: `audit.jsonl` in the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `interval` (default: HIGH and CRITICAL records written before the call
    /// is answered, lower ones within `buffer_ms`; fsynced at most every
    /// `fsync_interval_ms`) or `always` (every record fsynced before the call
    /// is answered).
    pub fsync: FsyncMode,
    /// With `fsync = "interval"`: how often, at most, to fsync.
    pub fsync_interval_ms: u64,
    /// With `fsync = "interval"`: how long a LOW or MEDIUM record may wait in
    /// memory so that a burst shares one write. A `kill -9` can lose that
    /// much of them; 0 writes every record before its call is answered.
    pub buffer_ms: u64,
    /// Records below this severity are not written: LOW, MEDIUM, HIGH, CRITICAL.
    pub min_severity: bulwark_core::Severity,
    /// Also print each record as an `AUDIT: {...}` line on stderr (LimaCharlie style).
    pub stderr: bool,
    /// Keep the raw arguments in records, not only their SHA-256 digest.
    pub include_params: bool,
    /// Also copy every record into the data directory's store, where
    /// `bulwark audit search` finds them. The JSONL file stays the record of truth.
    pub store: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncMode {
    Always,
    Interval,
}

impl Default for AuditSection {
    fn default() -> Self {
        AuditSection {
            enabled: true,
            path: None,
            // A HIGH or CRITICAL record is written before its call is
            // answered, so a crash of bulwark loses none of them; lower ones
            // share writes (at most 10 ms late). `always` also survives power
            // loss, at the price of one fsync per answered call (group-committed).
            fsync: FsyncMode::Interval,
            fsync_interval_ms: 1000,
            buffer_ms: 10,
            min_severity: bulwark_core::Severity::Low,
            stderr: false,
            include_params: false,
            store: false,
        }
    }
}

/// Per-minute budgets per caller (principal, else client address). 0 turns one off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    /// MCP HTTP requests per caller per minute (LimaCharlie's default: 1000).
    pub mcp_requests_per_minute: u32,
    /// Calls per caller per minute for single tools, by tool name.
    pub tools: std::collections::BTreeMap<String, u32>,
    /// `local` (in this process) or `redis` (shared by every replica).
    pub backend: RateLimitBackend,
    /// Where the shared budgets live, with `backend = "redis"`.
    pub redis_url: String,
    /// When Redis cannot be reached: let calls through with a warning (true)
    /// or refuse them (false).
    pub fail_open: bool,
    /// Requests per client address per minute to each authorization-server
    /// endpoint: authorize, oauth_callback, mfa_verify, token, register,
    /// revoke, introspect.
    pub endpoints: std::collections::BTreeMap<String, u32>,
    /// When Redis cannot be reached, the authorization-server endpoints refuse
    /// requests (false, the default) or let them through (true).
    pub endpoints_fail_open: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitBackend {
    Local,
    Redis,
}

impl Default for RateLimitSection {
    fn default() -> Self {
        RateLimitSection {
            mcp_requests_per_minute: 1000,
            tools: Default::default(),
            backend: RateLimitBackend::Local,
            redis_url: "redis://127.0.0.1:6379".into(),
            fail_open: true,
            endpoints: bulwark_server::limits::DEFAULT_ENDPOINT_BUDGETS
                .iter()
                .map(|(name, n)| (name.to_string(), *n))
                .collect(),
            endpoints_fail_open: false,
        }
    }
}

/// How callers prove who they are (HTTP only; stdio is the local user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// `none`, or any of `api-key` (keys from `bulwark auth key create`),
    /// `oauth` (tokens from bulwark's own authorization server) and `jwt`
    /// (tokens from the external identity provider in `[auth.jwt]`).
    pub methods: Vec<AuthMethod>,
    /// Issuers announced in the RFC 9728 protected-resource metadata.
    pub authorization_servers: Vec<String>,
    /// Take the tenant and its backend credentials from each request's
    /// `X-Tenant-Id` / `X-Tenant-Credential-*` headers (or `Bearer <key>:<tenant>`).
    pub tenant_headers: bool,
    /// Where a tenant's backend credentials come from: `store` (set with
    /// `bulwark tenant credential set`, encrypted in the data dir),
    /// `headers` (`X-Tenant-Credential-*`, with `tenant_headers`), or `both`
    /// (stored ones, overridden by headers of the same name).
    pub tenant_credentials: TenantCredentialSource,
    /// The built-in OAuth 2.1 authorization server (method `oauth`).
    pub oauth: OAuthSection,
    /// JWTs from an external identity provider (method `jwt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtSection>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TenantCredentialSource {
    Store,
    Headers,
    #[default]
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    None,
    ApiKey,
    Oauth,
    Jwt,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            methods: vec![AuthMethod::None],
            authorization_servers: Vec::new(),
            tenant_headers: false,
            tenant_credentials: TenantCredentialSource::Both,
            oauth: OAuthSection::default(),
            jwt: None,
        }
    }
}

/// The built-in authorization server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSection {
    /// The issuer: the public origin clients reach bulwark at, such as
    /// `https://bulwark.example.com`. Default: `http://` + `http.listen`, which
    /// only works for loopback; set it for anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Accept `http://` loopback Client ID Metadata Document URLs (tests only).
    pub allow_insecure_cimd: bool,
    /// Log in through an upstream OpenID Connect provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<FederationSection>,
}

impl Default for OAuthSection {
    fn default() -> Self {
        OAuthSection {
            issuer: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            allow_insecure_cimd: false,
            federation: None,
        }
    }
}

/// An upstream OpenID Connect provider users log in with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSection {
    pub issuer: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Scopes asked of the provider.
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// The claim that names the user.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// The claim that names the user's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_claim: Option<String>,
    /// What federated users may be granted.
    #[serde(default = "default_grant_scopes")]
    pub grant_scopes: Vec<String>,
    /// The login button's text.
    #[serde(default = "default_federation_label")]
    pub label: String,
    /// Accept an `http://` provider (loopback tests only).
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// An external identity provider whose JWTs are accepted as bearer tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSection {
    pub issuer: String,
    /// Default: from the issuer's OpenID discovery document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// Accepted `aud` values; empty means the MCP endpoint's own URL.
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    #[serde(default = "default_scope_claim")]
    pub scope_claim: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_claim: Option<String>,
    /// Scopes every valid token gets on top of its own.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// Accept an `http://` issuer or JWKS URL (loopback tests only).
    #[serde(default)]
    pub allow_insecure_http: bool,
}

fn default_oidc_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}
fn default_subject_claim() -> String {
    "sub".into()
}
fn default_scope_claim() -> String {
    "scope".into()
}
fn default_grant_scopes() -> Vec<String> {
    ["mcp", "profile:*"].map(String::from).to_vec()
}
fn default_federation_label() -> String {
    "Sign in with single sign-on".into()
}

impl AuthSection {
    /// Whether callers must authenticate.
    pub fn required(&self) -> bool {
        self.methods.iter().any(|m| *m != AuthMethod::None)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Stdio,
    Http,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `stdio` (default) or `http`.
    pub mode: Mode,
    /// The profile served on stdio and at `/mcp`.
    pub profile: String,
    /// A tool call running longer than this is stopped with an error.
    pub call_timeout_secs: u64,
    /// Text results longer than this are cut, with a note.
    pub max_result_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address `bulwark serve --http` listens on.
    pub listen: SocketAddr,
    /// `Host` header values accepted (DNS-rebinding protection). `[]` accepts any.
    pub allowed_hosts: Vec<String>,
    /// Browser `Origin`s accepted, as `scheme://host:port` (`:*` for any port).
    pub allowed_origins: Vec<String>,
    /// Largest request body, in bytes; larger requests get 413.
    pub max_body_bytes: usize,
    /// Most 2025-11-25 sessions alive at once.
    pub max_sessions: usize,
    /// A session idle this long is closed.
    pub session_idle_secs: u64,
    /// On SIGINT/SIGTERM, how long running calls may take to finish.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `bulwark=debug`; `RUST_LOG` wins.
    pub level: String,
    /// `text` or `json`; logs always go to stderr.
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            mode: Mode::Stdio,
            profile: "all".into(),
            call_timeout_secs: 120,
            max_result_bytes: 8 * 1024 * 1024,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        let http = bulwark_server::HttpOptions::default();
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            allowed_hosts: http.allowed_hosts,
            allowed_origins: http.allowed_origins,
            max_body_bytes: http.max_body_bytes,
            max_sessions: http.max_sessions,
            session_idle_secs: http.session_idle.as_secs(),
            shutdown_grace_secs: http.shutdown_grace.as_secs(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            // rmcp logs every stateless request's start and end at info.
            level: "info,rmcp=warn".into(),
            format: LogFormat::Text,
        }
    }
}

/// The configuration in force.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
}

/// Environment access, injectable so tests need not touch the process env.
pub trait Vars {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Vars for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Build the layered config. `overrides` are command-line values as
/// `(dotted.key, value)` pairs.
pub fn load(
    file: Option<&Path>,
    vars: &dyn Vars,
    env: Env,
    overrides: &[(&str, figment::value::Value)],
) -> Result<Loaded> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = file {
        if !path.is_file() {
            bail!(
                "config file {} does not exist; pass an existing file to --config (or BULWARK_CONFIG), or leave both unset to use the embedded defaults",
                path.display()
            );
        }
        figment = figment.merge(Toml::file_exact(path));
    }

    // LimaCharlie MCP server variables, so existing deployments need no edits.
    if let Some(mode) = vars.get("MCP_MODE") {
        figment = figment.merge(set("server.mode", mode.to_ascii_lowercase()));
    }
    if let Some(profile) = vars.get("MCP_PROFILE") {
        figment = figment.merge(set("server.profile", profile));
    }
    if let Some(port) = vars.get("PORT") {
        let port: u16 = port.trim().parse().map_err(|_| {
            anyhow::anyhow!("PORT=`{port}` is not a TCP port; use a number from 1 to 65535")
        })?;
        let listen: SocketAddr = figment
            .extract_inner("http.listen")
            .unwrap_or_else(|_| HttpConfig::default().listen);
        figment = figment.merge((
            "http.listen",
            SocketAddr::new(listen.ip(), port).to_string(),
        ));
    }

    figment = figment.merge(env);
    for (key, value) in overrides {
        figment = figment.merge(set(key, value.clone()));
    }
    let mut config: Config = figment.extract().map_err(|errors| {
        let lines: Vec<String> = errors.into_iter().map(|e| describe(&e)).collect();
        anyhow::anyhow!("invalid configuration:\n  {}", lines.join("\n  "))
    })?;

    if let (Some(profiles), Some(path)) = (&config.profiles_file, file)
        && profiles.is_relative()
    {
        let base = path.parent().unwrap_or(Path::new("."));
        config.profiles_file = Some(base.join(profiles));
    }
    if let Some(path) = file {
        let base = path.parent().unwrap_or(Path::new("."));
        for dir in [&mut config.live.rules_dir, &mut config.live.vault_dir]
            .into_iter()
            .chain(config.upstreams.iter_mut().map(|u| &mut u.cwd))
            .flatten()
        {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
        for dir in config
            .upstreams
            .iter_mut()
            .flat_map(|u| u.read_only.iter_mut().chain(u.writable.iter_mut()))
        {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
    }
    validate(&config)?;
    Ok(Loaded { config })
}

/// One value at a dotted key, in figment's default profile. (A plain `(key,
/// value)` tuple lands in the *global* profile, which outranks every later layer.)
fn set<V: Serialize>(key: &str, value: V) -> Serialized<V> {
    Serialized::default(key, value)
}

/// The `BULWARK_*` environment provider (`__` separates nested keys).
///
/// Only variables that name a config key or section are read, so unrelated
/// `BULWARK_*` variables (`BULWARK_CONFIG`, `BULWARK_BIN` in tests) are not
/// mistaken for configuration; a typo inside a section still fails loudly.
pub fn bulwark_env() -> Env {
    Env::prefixed("BULWARK_").split("__").filter(|key| {
        let key = key.as_str().to_ascii_lowercase();
        matches!(key.as_str(), "data_dir" | "profiles_file")
            || [
                "server.",
                "http.",
                "log.",
                "auth.",
                "rate_limit.",
                "audit.",
                "live.",
                "gateway.",
            ]
            .iter()
            .any(|section| key.starts_with(section))
    })
}

/// One figment error as "key `a.b` (from SOURCE): what is wrong".
fn describe(error: &figment::Error) -> String {
    let key = if error.path.is_empty() {
        "(top level)".to_string()
    } else {
        error.path.join(".")
    };
    let source = error
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(source) => format!("{} {source}", m.name),
            // Name the exact variable rather than "BULWARK_ environment variable(s)".
            None if m.name.contains("environment") => {
                format!("BULWARK_{}", error.path.join("__").to_ascii_uppercase())
            }
            None => m.name.to_string(),
        })
        .unwrap_or_else(|| "defaults".into());
    let mut what = error.kind.to_string();
    if let figment::error::Kind::UnknownField(_, expected) = &error.kind {
        what = format!("unknown key; allowed keys here: {}", expected.join(", "));
    }
    format!("key `{key}` (from {source}): {what}")
}

fn validate(config: &Config) -> Result<()> {
    let positive = [
        (
            "server.call_timeout_secs",
            config.server.call_timeout_secs as usize,
        ),
        ("server.max_result_bytes", config.server.max_result_bytes),
        ("http.max_body_bytes", config.http.max_body_bytes),
        ("http.max_sessions", config.http.max_sessions),
        (
            "http.session_idle_secs",
            config.http.session_idle_secs as usize,
        ),
    ];
    for (key, value) in positive {
        if value == 0 {
            bail!("invalid configuration: key `{key}` is 0; it must be a positive number");
        }
    }
    for origin in &config.http.allowed_origins {
        if origin != "null" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
            bail!(
                "invalid configuration: key `http.allowed_origins` has `{origin}`; an origin is `http://host:port` or `https://host:port` (`:*` for any port), or `null`"
            );
        }
    }
    if config.auth.methods.contains(&AuthMethod::None) && config.auth.methods.len() > 1 {
        bail!(
            "invalid configuration: key `auth.methods` mixes `none` with other methods; use `none` alone, or list only real methods"
        );
    }
    if config.auth.methods.is_empty() {
        bail!(
            "invalid configuration: key `auth.methods` is empty; use [\"none\"] to turn authentication off, or any of [\"api-key\", \"oauth\", \"jwt\"]"
        );
    }
    if config.auth.methods.contains(&AuthMethod::Jwt) && config.auth.jwt.is_none() {
        bail!(
            "invalid configuration: key `auth.methods` has `jwt` but there is no `[auth.jwt]` section; give at least `auth.jwt.issuer`"
        );
    }
    for name in config.rate_limit.endpoints.keys() {
        if !bulwark_server::limits::DEFAULT_ENDPOINT_BUDGETS
            .iter()
            .any(|(known, _)| known == name)
        {
            let known: Vec<&str> = bulwark_server::limits::DEFAULT_ENDPOINT_BUDGETS
                .iter()
                .map(|(known, _)| *known)
                .collect();
            bail!(
                "invalid configuration: key `rate_limit.endpoints.{name}` names no endpoint; known endpoints: {}",
                known.join(", ")
            );
        }
    }
    if let Some(issuer) = &config.auth.oauth.issuer
        && (!(issuer.starts_with("http://") || issuer.starts_with("https://"))
            || issuer.ends_with('/')
            || issuer.get(8..).unwrap_or("").contains('/'))
    {
        bail!(
            "invalid configuration: key `auth.oauth.issuer` is `{issuer}`; give the public origin bulwark is reached at, like `https://bulwark.example.com`, with no path and no trailing slash"
        );
    }
    if let Some(root) = config.live.allowed_roots.iter().find(|r| !r.is_absolute()) {
        bail!(
            "invalid configuration: key `live.allowed_roots` holds `{}`, which is relative; give absolute paths such as \"/var/www\"",
            root.display()
        );
    }
    if config.live.max_rows == 0 || config.live.max_secs == 0 || config.live.max_depth == 0 {
        bail!(
            "invalid configuration: `live.max_rows`, `live.max_secs` and `live.max_depth` must be at least 1"
        );
    }
    for decl in &config.upstreams {
        decl.to_spec()?;
    }
    if config.gateway.tool_response_limit == 0 || config.gateway.call_timeout_secs == 0 {
        bail!(
            "invalid configuration: `gateway.tool_response_limit` and `gateway.call_timeout_secs` must be at least 1"
        );
    }
    if config.server.profile.is_empty() {
        bail!(
            "invalid configuration: key `server.profile` is empty; name a profile (see `bulwark profiles list`)"
        );
    }
    Ok(())
}

/// The data directory: `--data-dir`, `BULWARK_DATA_DIR`/`data_dir`, or XDG.
pub fn data_dir(config: &Config) -> PathBuf {
    config
        .data_dir
        .clone()
        .or_else(|| dirs::data_dir().map(|d| d.join("bulwark")))
        .unwrap_or_else(|| PathBuf::from(".bulwark"))
}

#[cfg(test)]
// figment's Jail fixes the closure's error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake(HashMap<&'static str, &'static str>);
    impl Vars for Fake {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
    }

    fn fake(pairs: &[(&'static str, &'static str)]) -> Fake {
        Fake(pairs.iter().cloned().collect())
    }

    /// The error of loading a config file with these contents.
    fn file_error(jail: &mut figment::Jail, name: &str, contents: &str) -> String {
        jail.create_file(name, contents).unwrap();
        load(
            Some(&jail.directory().join(name)),
            &fake(&[]),
            bulwark_env(),
            &[],
        )
        .unwrap_err()
        .to_string()
    }

    #[test]
    fn defaults_are_stdio_all_on_loopback() {
        figment::Jail::expect_with(|_jail| {
            let loaded = load(None, &fake(&[]), bulwark_env(), &[]).unwrap();
            assert_eq!(loaded.config.server.mode, Mode::Stdio);
            assert_eq!(loaded.config.server.profile, "all");
            assert_eq!(loaded.config.http.listen.to_string(), "127.0.0.1:8080");
            Ok(())
        });
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "bulwark.toml",
                "[server]\nprofile = \"core\"\nmode = \"http\"\n[http]\nlisten = \"127.0.0.1:9000\"\nmax_sessions = 7\n",
            )?;
            let path = jail.directory().join("bulwark.toml");
            // File alone.
            let c = load(Some(&path), &fake(&[]), bulwark_env(), &[])
                .unwrap()
                .config;
            assert_eq!(
                (c.server.profile.as_str(), c.http.max_sessions),
                ("core", 7)
            );
            assert_eq!(c.http.listen.port(), 9000);
            // LimaCharlie variables override the file; PORT keeps the host.
            let lc = fake(&[
                ("MCP_PROFILE", "live_investigation"),
                ("MCP_MODE", "STDIO"),
                ("PORT", "8181"),
            ]);
            let c = load(Some(&path), &lc, bulwark_env(), &[]).unwrap().config;
            assert_eq!(c.server.profile, "live_investigation");
            assert_eq!(c.server.mode, Mode::Stdio);
            assert_eq!(c.http.listen.to_string(), "127.0.0.1:8181");
            // BULWARK_* beats MCP_*; flags beat everything.
            jail.set_env("BULWARK_SERVER__PROFILE", "threat_response");
            jail.set_env("BULWARK_HTTP__MAX_SESSIONS", "9");
            let c = load(Some(&path), &lc, bulwark_env(), &[]).unwrap().config;
            assert_eq!(
                (c.server.profile.as_str(), c.http.max_sessions),
                ("threat_response", 9)
            );
            let flags = [("server.profile", figment::value::Value::from("core"))];
            let c = load(Some(&path), &lc, bulwark_env(), &flags)
                .unwrap()
                .config;
            assert_eq!(c.server.profile, "core");
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_key_value_and_what_is_allowed() {
        figment::Jail::expect_with(|jail| {
            let err = file_error(jail, "bad.toml", "[server]\nmode = \"tcp\"\n");
            assert!(
                err.contains("server.mode") && err.contains("tcp") && err.contains("stdio"),
                "{err}"
            );

            let err = file_error(jail, "typo.toml", "[http]\nlisten_addr = \"x\"\n");
            assert!(
                err.contains("listen_addr")
                    && err.contains("allowed keys here")
                    && err.contains("listen"),
                "{err}"
            );

            jail.set_env("BULWARK_BIN", "/not/a/config/key");
            jail.set_env("BULWARK_HTTP__LISTN", "x");
            let err = load(None, &fake(&[]), bulwark_env(), &[])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("http.listn") && err.contains("BULWARK_HTTP__LISTN"),
                "{err}"
            );
            assert!(
                !err.contains("bin"),
                "unrelated BULWARK_BIN was read: {err}"
            );
            jail.clear_env();

            jail.set_env("BULWARK_HTTP__MAX_BODY_BYTES", "lots");
            let err = load(None, &fake(&[]), bulwark_env(), &[])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("http.max_body_bytes")
                    && err.contains("lots")
                    && err.contains("BULWARK_HTTP__MAX_BODY_BYTES"),
                "{err}"
            );
            jail.clear_env();

            let err = load(None, &fake(&[("PORT", "eighty")]), bulwark_env(), &[])
                .unwrap_err()
                .to_string();
            assert!(err.contains("PORT=`eighty`"), "{err}");

            let err = file_error(jail, "zero.toml", "[http]\nmax_sessions = 0\n");
            assert!(err.contains("http.max_sessions"), "{err}");

            let err = load(
                Some(&jail.directory().join("missing.toml")),
                &fake(&[]),
                bulwark_env(),
                &[],
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("does not exist"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn relative_profiles_file_is_taken_from_the_config_directory() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bulwark.toml", "profiles_file = \"profiles.toml\"\n")?;
            let path = jail.directory().join("bulwark.toml");
            let c = load(Some(&path), &fake(&[]), bulwark_env(), &[])
                .unwrap()
                .config;
            assert_eq!(
                c.profiles_file.unwrap(),
                jail.directory().join("profiles.toml")
            );
            Ok(())
        });
    }

    fn upstream_decl(toml: &str) -> Result<bulwark_gateway::UpstreamSpec> {
        let decl: UpstreamDecl = toml::from_str(toml).map_err(|e| anyhow::anyhow!("{e}"))?;
        decl.to_spec()
    }

    #[test]
    fn oauth_upstreams_are_declared_with_auth_oauth() {
        let spec = upstream_decl(
            "name = \"sso\"\nurl = \"http://127.0.0.1:9/mcp\"\nauth = \"oauth\"\nclient_id = \"c1\"\nscopes = [\"mcp:read\"]\n",
        )
        .unwrap();
        let oauth = spec.transport.oauth().unwrap();
        assert_eq!(oauth.client_id.as_deref(), Some("c1"));
        assert_eq!(oauth.scopes, ["mcp:read"]);
        let plain = upstream_decl("name = \"p\"\nurl = \"http://127.0.0.1:9/mcp\"\n").unwrap();
        assert!(plain.transport.oauth().is_none());

        for (bad, says) in [
            (
                "name = \"b\"\nurl = \"http://h/mcp\"\nauth = \"basic\"\n",
                "is not known",
            ),
            (
                "name = \"b\"\nurl = \"http://h/mcp\"\nclient_id = \"x\"\n",
                "add `auth = \"oauth\"`",
            ),
            (
                "name = \"b\"\ncommand = \"x\"\nauth = \"oauth\"\n",
                "Streamable HTTP",
            ),
            (
                "name = \"b\"\nurl = \"http://h/sse\"\nprotocol = \"sse\"\nauth = \"oauth\"\n",
                "Streamable HTTP",
            ),
        ] {
            let err = upstream_decl(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
