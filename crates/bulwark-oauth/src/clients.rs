//! OAuth clients: Dynamic Client Registration (RFC 7591) records in SQLite
//! and Client ID Metadata Documents fetched from the client's own URL.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use url::{Host, Url};

use crate::error::{OAuthError, db_err};
use crate::util::{ct_eq, now_secs, random_token, rfc3339, sha256_hex, split_scope};

pub(crate) const MAX_REDIRECT_URIS: usize = 10;
const MAX_URI_LEN: usize = 2048;
const MAX_NAME_LEN: usize = 200;
const MAX_SCOPE_LEN: usize = 1024;
/// Registration is open to anyone, so the table is capped.
const MAX_CLIENTS: i64 = 10_000;
const CIMD_MAX_BYTES: usize = 64 * 1024;
const CIMD_TIMEOUT: Duration = Duration::from_secs(5);
const CIMD_CACHE_FOR: Duration = Duration::from_secs(300);
const CIMD_CACHE_MAX: usize = 1024;

pub(crate) const AUTH_METHODS: &[&str] = &["none", "client_secret_basic", "client_secret_post"];

/// A registered client as the CLI lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientInfo {
    pub client_id: String,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub scope: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// Validated client metadata, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClientMetadata {
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub client_id: String,
    pub secret_sha256: Option<String>,
    pub meta: ClientMetadata,
}

impl Client {
    pub(crate) fn is_confidential(&self) -> bool {
        self.meta.token_endpoint_auth_method != "none"
    }

    pub(crate) fn allows_refresh(&self) -> bool {
        self.meta.grant_types.iter().any(|g| g == "refresh_token")
    }

    /// The registered redirect URI this request may use (RFC 8252 §7.3:
    /// loopback redirects match with any port).
    pub(crate) fn redirect_allowed(&self, requested: &str) -> bool {
        self.meta
            .redirect_uris
            .iter()
            .any(|r| redirect_matches(r, requested))
    }

    pub(crate) fn secret_matches(&self, secret: &str) -> bool {
        match &self.secret_sha256 {
            Some(stored) => ct_eq(stored, &sha256_hex(secret)),
            None => false,
        }
    }
}

/// Client metadata as received, before validation. Unknown members are
/// ignored (RFC 7591 §2).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawMetadata {
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// RFC 7591 §3.2.2 error codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MetadataError {
    RedirectUri(String),
    Metadata(String),
}

impl MetadataError {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            MetadataError::RedirectUri(_) => "invalid_redirect_uri",
            MetadataError::Metadata(_) => "invalid_client_metadata",
        }
    }

    pub(crate) fn message(&self) -> &str {
        match self {
            MetadataError::RedirectUri(m) | MetadataError::Metadata(m) => m,
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Schemes that run code or read local files in a browser: never a redirect.
const DANGEROUS_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "vbscript",
    "blob",
    "about",
    "filesystem",
    "view-source",
];

/// A redirect URI may be https, http on a loopback host (RFC 8252 §7.3), or
/// a private-use scheme in reverse-domain form (RFC 8252 §7.1).
pub(crate) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_URI_LEN {
        return Err(format!("redirect URI is longer than {MAX_URI_LEN} bytes"));
    }
    if uri.contains('#') {
        return Err(format!(
            "redirect URI `{uri}` has a fragment; remove the `#...` part"
        ));
    }
    let url =
        Url::parse(uri).map_err(|e| format!("redirect URI `{uri}` is not an absolute URL: {e}"))?;
    let scheme = url.scheme();
    if DANGEROUS_SCHEMES.contains(&scheme) {
        return Err(format!(
            "redirect URI scheme `{scheme}:` is not allowed; use https"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "redirect URI `{uri}` carries credentials; remove the `user@` part"
        ));
    }
    match scheme {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!(
            "redirect URI `{uri}` uses http on a non-loopback host; use https, or http://127.0.0.1, http://[::1] or http://localhost for native apps"
        )),
        s if s.contains('.') && s != "https" => Ok(()),
        _ => Err(format!(
            "redirect URI `{uri}` is not allowed; use https, a loopback http URL, or a private-use scheme in reverse-domain form such as com.example.app:/callback"
        )),
    }
}

/// Exact match, except that loopback http redirects may differ in port.
pub(crate) fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(a), Ok(b)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    a.scheme() == "http"
        && b.scheme() == "http"
        && is_loopback(&a)
        && a.host() == b.host()
        && a.path() == b.path()
        && a.query() == b.query()
        && b.fragment().is_none()
        && b.username().is_empty()
        && b.password().is_none()
}

/// Validates and completes metadata. `confidential_allowed` is false for
/// metadata documents, which cannot hold a shared secret.
pub(crate) fn validate(
    raw: RawMetadata,
    confidential_allowed: bool,
) -> Result<ClientMetadata, MetadataError> {
    let uris = raw.redirect_uris.unwrap_or_default();
    if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
        return Err(MetadataError::RedirectUri(format!(
            "send 1 to {MAX_REDIRECT_URIS} redirect_uris"
        )));
    }
    for uri in &uris {
        check_redirect_uri(uri).map_err(MetadataError::RedirectUri)?;
    }
    let client_name = match raw.client_name {
        Some(n) if n.chars().count() > MAX_NAME_LEN || n.chars().any(char::is_control) => {
            return Err(MetadataError::Metadata(format!(
                "client_name must be at most {MAX_NAME_LEN} characters without control characters"
            )));
        }
        Some(n) if n.trim().is_empty() => None,
        other => other,
    };
    let method = raw
        .token_endpoint_auth_method
        .unwrap_or_else(|| "none".into());
    if !AUTH_METHODS.contains(&method.as_str()) {
        return Err(MetadataError::Metadata(format!(
            "token_endpoint_auth_method `{method}` is not supported; use one of {}",
            AUTH_METHODS.join(", ")
        )));
    }
    if method != "none" && !confidential_allowed {
        return Err(MetadataError::Metadata(format!(
            "a client identified by a metadata document cannot use `{method}`: it has no shared secret; use `none`"
        )));
    }
    let grant_types = raw
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
    if grant_types.is_empty()
        || grant_types.len() > 4
        || grant_types
            .iter()
            .any(|g| g != "authorization_code" && g != "refresh_token")
    {
        return Err(MetadataError::Metadata(
            "grant_types may hold only `authorization_code` and `refresh_token`".into(),
        ));
    }
    let response_types = raw.response_types.unwrap_or_else(|| vec!["code".into()]);
    if response_types.is_empty()
        || response_types.len() > 4
        || response_types.iter().any(|r| r != "code")
    {
        return Err(MetadataError::Metadata(
            "response_types may hold only `code`".into(),
        ));
    }
    let scope = match raw.scope {
        Some(s) if s.len() > MAX_SCOPE_LEN => {
            return Err(MetadataError::Metadata(format!(
                "scope is longer than {MAX_SCOPE_LEN} bytes"
            )));
        }
        Some(s) => {
            let parsed = split_scope(&s);
            (!parsed.is_empty()).then(|| parsed.join(" "))
        }
        None => None,
    };
    Ok(ClientMetadata {
        redirect_uris: uris,
        client_name,
        grant_types,
        response_types,
        token_endpoint_auth_method: method,
        scope,
    })
}

/// Stores a registered client; returns its id and, for confidential
/// clients, the secret (shown once, kept only as a hash).
pub(crate) fn register(
    conn: &mut Connection,
    meta: &ClientMetadata,
) -> Result<(String, Option<String>, i64), OAuthError> {
    const ACTION: &str = "registering a client";
    let client_id = format!("bwc-{}", random_token(16));
    let secret =
        (meta.token_endpoint_auth_method != "none").then(|| format!("bws_{}", random_token(32)));
    let now = now_secs();
    let json = serde_json::to_string(meta).map_err(|e| OAuthError::InvalidInput(e.to_string()))?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(ACTION))?;
    let count: i64 = tx
        .query_row("SELECT COUNT(*) FROM oauth_clients", [], |r| r.get(0))
        .map_err(db_err(ACTION))?;
    if count >= MAX_CLIENTS {
        return Err(OAuthError::InvalidInput(format!(
            "this server already has {MAX_CLIENTS} registered clients; ask its operator to remove unused ones"
        )));
    }
    tx.execute(
        "INSERT INTO oauth_clients (client_id, secret_sha256, auth_method, metadata, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            client_id,
            secret.as_deref().map(sha256_hex),
            meta.token_endpoint_auth_method,
            json,
            now
        ],
    )
    .map_err(db_err(ACTION))?;
    tx.commit().map_err(db_err(ACTION))?;
    Ok((client_id, secret, now))
}

pub(crate) fn find(conn: &Connection, client_id: &str) -> Result<Option<Client>, OAuthError> {
    const ACTION: &str = "looking up a client";
    let row: Option<(String, Option<String>, String)> = conn
        .query_row(
            "SELECT client_id, secret_sha256, metadata FROM oauth_clients WHERE client_id = ?1",
            [client_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db_err(ACTION))?;
    let Some((client_id, secret_sha256, json)) = row else {
        return Ok(None);
    };
    let meta: ClientMetadata = serde_json::from_str(&json).map_err(|e| OAuthError::Database {
        action: ACTION,
        reason: format!("stored metadata of `{client_id}` is damaged: {e}"),
    })?;
    Ok(Some(Client {
        client_id,
        secret_sha256,
        meta,
    }))
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<ClientInfo>, OAuthError> {
    const ACTION: &str = "listing clients";
    let mut stmt = conn
        .prepare(
            "SELECT client_id, metadata, created_at FROM oauth_clients ORDER BY created_at, rowid",
        )
        .map_err(db_err(ACTION))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(db_err(ACTION))?;
    let mut out = Vec::new();
    for row in rows {
        let (client_id, json, created) = row.map_err(db_err(ACTION))?;
        let Ok(meta) = serde_json::from_str::<ClientMetadata>(&json) else {
            continue;
        };
        out.push(ClientInfo {
            client_id,
            client_name: meta.client_name,
            redirect_uris: meta.redirect_uris,
            token_endpoint_auth_method: meta.token_endpoint_auth_method,
            grant_types: meta.grant_types,
            scope: meta.scope,
            created_at: rfc3339(created),
        });
    }
    Ok(out)
}

/// Addresses a metadata-document fetch must never reach unless the operator
/// allowed insecure (test) documents: loopback, private, link-local, ...
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
                || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

/// Resolves names like the system does, then drops every address that is
/// not public: a metadata URL must not make this server probe its own network.
struct PublicOnlyResolver {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()) || (allow_loopback && a.ip().is_loopback()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("`{host}` resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Fetches and caches Client ID Metadata Documents.
pub(crate) struct CimdFetcher {
    http: reqwest::Client,
    allow_insecure: bool,
    cache: Mutex<HashMap<String, (Instant, Client)>>,
}

impl CimdFetcher {
    pub(crate) fn new(allow_insecure: bool) -> Result<CimdFetcher, OAuthError> {
        let http = reqwest::Client::builder()
            .timeout(CIMD_TIMEOUT)
            .connect_timeout(CIMD_TIMEOUT)
            .user_agent(concat!("bulwark-oauth/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(PublicOnlyResolver {
                allow_loopback: allow_insecure,
            }))
            // Same host only, a few hops: the document is the client's own.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let first = attempt.previous().first().cloned();
                if attempt.previous().len() > 3 {
                    attempt.error("too many redirects")
                } else if first.is_some_and(|f| {
                    f.host_str() == attempt.url().host_str() && f.scheme() == attempt.url().scheme()
                }) {
                    attempt.follow()
                } else {
                    attempt.error("redirect to another host")
                }
            }))
            .build()
            .map_err(|e| {
                OAuthError::Config(format!(
                    "cannot build the HTTP client for client metadata documents: {e}"
                ))
            })?;
        Ok(CimdFetcher {
            http,
            allow_insecure,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Is this client_id a metadata-document URL we would fetch?
    pub(crate) fn is_document_url(&self, client_id: &str) -> bool {
        let Ok(url) = Url::parse(client_id) else {
            return false;
        };
        let host_ok = match url.host() {
            Some(Host::Domain(_)) => true,
            Some(Host::Ipv4(ip)) => {
                is_public(IpAddr::V4(ip)) || (self.allow_insecure && ip.is_loopback())
            }
            Some(Host::Ipv6(ip)) => {
                is_public(IpAddr::V6(ip)) || (self.allow_insecure && ip.is_loopback())
            }
            None => false,
        };
        let scheme_ok = url.scheme() == "https"
            || (self.allow_insecure && url.scheme() == "http" && is_loopback(&url));
        // draft-ietf-oauth-client-id-metadata-document: a path, no fragment, no credentials.
        scheme_ok
            && host_ok
            && url.path() != "/"
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none()
    }

    /// The client a metadata document describes; `Err` says why it is unusable.
    pub(crate) async fn client(&self, url: &str) -> Result<Client, String> {
        if let Some((at, client)) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url)
            && at.elapsed() < CIMD_CACHE_FOR
        {
            return Ok(client.clone());
        }
        let body = self.fetch(url).await?;
        let raw: RawMetadata = serde_json::from_slice(&body).map_err(|e| {
            format!("the client metadata document at {url} is not valid client metadata JSON: {e}")
        })?;
        if raw.client_id.as_deref() != Some(url) {
            return Err(format!(
                "the client metadata document at {url} names client_id {:?}; it must equal its own URL exactly",
                raw.client_id.unwrap_or_default()
            ));
        }
        let meta = validate(raw, false)
            .map_err(|e| format!("the client metadata document at {url}: {}", e.message()))?;
        let client = Client {
            client_id: url.to_string(),
            secret_sha256: None,
            meta,
        };
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CIMD_CACHE_MAX {
            cache.retain(|_, (at, _)| at.elapsed() < CIMD_CACHE_FOR);
            if cache.len() >= CIMD_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(url.to_string(), (Instant::now(), client.clone()));
        Ok(client)
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("cannot fetch the client metadata document at {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the client metadata document at {url} answered HTTP {}",
                response.status().as_u16()
            ));
        }
        if response
            .content_length()
            .is_some_and(|n| n as usize > CIMD_MAX_BYTES)
        {
            return Err(format!(
                "the client metadata document at {url} is larger than 64 KiB"
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the client metadata document at {url} failed: {e}"))?
        {
            if body.len() + chunk.len() > CIMD_MAX_BYTES {
                return Err(format!(
                    "the client metadata document at {url} is larger than 64 KiB"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1:3000/cb",
            "http://[::1]/cb",
            "http://localhost:9/x?y=1",
            "com.example.app:/callback",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "http://example.com/cb",
            "http://10.0.0.1/cb",
            "https://app.example/cb#frag",
            "/relative",
            "myapp:/cb",
            "https://user:pw@app.example/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_redirects_match_any_port_only() {
        assert!(redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5555/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1:1/cb",
            "http://127.0.0.1:2/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5555/other"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://localhost:5555/cb"
        ));
        assert!(!redirect_matches(
            "https://a.example/cb",
            "https://a.example:444/cb"
        ));
        assert!(!redirect_matches(
            "https://a.example/cb",
            "https://a.example/cb/"
        ));
        assert!(redirect_matches(
            "https://a.example/cb",
            "https://a.example/cb"
        ));
    }

    #[test]
    fn metadata_defaults_and_limits() {
        let meta = validate(
            RawMetadata {
                redirect_uris: Some(vec!["https://a.example/cb".into()]),
                ..Default::default()
            },
            true,
        )
        .unwrap();
        assert_eq!(meta.token_endpoint_auth_method, "none");
        assert_eq!(meta.response_types, vec!["code"]);
        assert!(matches!(
            validate(RawMetadata::default(), true),
            Err(MetadataError::RedirectUri(_))
        ));
        let too_many = RawMetadata {
            redirect_uris: Some(vec!["https://a.example/cb".into(); MAX_REDIRECT_URIS + 1]),
            ..Default::default()
        };
        assert!(validate(too_many, true).is_err());
        let secret_doc = RawMetadata {
            redirect_uris: Some(vec!["https://a.example/cb".into()]),
            token_endpoint_auth_method: Some("client_secret_basic".into()),
            ..Default::default()
        };
        assert!(matches!(
            validate(secret_doc, false),
            Err(MetadataError::Metadata(_))
        ));
        let implicit = RawMetadata {
            redirect_uris: Some(vec!["https://a.example/cb".into()]),
            grant_types: Some(vec!["implicit".into()]),
            ..Default::default()
        };
        assert!(validate(implicit, true).is_err());
    }

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "100.64.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("93.184.216.34".parse().unwrap()));
    }

    #[test]
    fn document_urls() {
        let strict = CimdFetcher::new(false).unwrap();
        assert!(strict.is_document_url("https://app.example/client.json"));
        assert!(!strict.is_document_url("https://app.example/"));
        assert!(!strict.is_document_url("http://127.0.0.1:9/client.json"));
        assert!(!strict.is_document_url("https://10.0.0.1/client.json"));
        assert!(!strict.is_document_url("bwc-abc"));
        let tests = CimdFetcher::new(true).unwrap();
        assert!(tests.is_document_url("http://127.0.0.1:9/client.json"));
        assert!(!tests.is_document_url("http://example.com/client.json"));
    }
}
