//! Authentication for HTTP: who is calling, and may they reach this profile.
//!
//! Each MCP route runs [`authenticate`] before MCP sees the request. The
//! principal it finds rides in the request's extensions into the
//! `CallContext`; nothing about it is kept process-wide. Authenticators
//! (API keys now; OAuth and JWT later) sit behind the [`Authenticator`] trait.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bulwark_core::BoxFuture;
use serde_json::json;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// A stable name for audit lines: the API key's name, the token's subject.
    pub id: String,
    pub scopes: Vec<String>,
    pub tenant: Option<String>,
    /// How the principal was established (`api-key`, `oauth`, `jwt`).
    pub method: &'static str,
    /// The OAuth client the token was issued to, when there is one.
    pub client_id: Option<String>,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `profile:NAME` or the wildcard `profile:*` reaches a profile.
    pub fn reaches_profile(&self, profile: &str) -> bool {
        self.scopes.iter().any(|s| {
            s == "profile:*"
                || s.strip_prefix("profile:")
                    .is_some_and(|name| name == profile)
        })
    }
}

/// A tenant's backend credentials by name.
pub type Credentials = Arc<BTreeMap<String, String>>;

/// The tenant a request acts for and its backend credentials: those stored
/// for the tenant, overridden by any the request brought in headers.
/// Lives in the request's extensions and then the `CallContext`, nowhere else.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TenantContext {
    pub tenant: String,
    pub credentials: Credentials,
}

impl std::fmt::Debug for TenantContext {
    // Credentials are secrets: never in logs, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantContext")
            .field("tenant", &self.tenant)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish()
    }
}

const TENANT_HEADER: &str = "x-tenant-id";
const CREDENTIAL_PREFIX: &str = "x-tenant-credential-";
const MAX_CREDENTIALS: usize = 32;
const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

fn valid_tenant(tenant: &str) -> bool {
    (1..=64).contains(&tenant.len())
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `X-Tenant-Id: T` and `X-Tenant-Credential-NAME: value` headers; the
/// latter are refused unless `credential_headers`.
fn tenant_from_headers(
    headers: &axum::http::HeaderMap,
    credential_headers: bool,
) -> Result<Option<TenantContext>, String> {
    let tenant = match headers.get(TENANT_HEADER) {
        Some(value) => {
            let tenant = value
                .to_str()
                .map_err(|_| "X-Tenant-Id must be visible ASCII".to_string())?
                .trim();
            if !valid_tenant(tenant) {
                return Err(format!(
                    "X-Tenant-Id `{tenant}` is not a tenant id: use 1-64 letters, digits, `_`, `-` or `.`"
                ));
            }
            Some(tenant.to_string())
        }
        None => None,
    };
    let mut credentials = BTreeMap::new();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(CREDENTIAL_PREFIX) else {
            continue;
        };
        if !credential_headers {
            return Err(format!(
                "header `{name}`: credential headers are turned off here \
                 (auth.tenant_credentials = \"store\"); the tenant's stored credentials apply"
            ));
        }
        if key.is_empty() || value.len() > MAX_CREDENTIAL_BYTES {
            return Err(format!(
                "header `{name}` needs a name after X-Tenant-Credential- and at most {MAX_CREDENTIAL_BYTES} bytes"
            ));
        }
        let value = value
            .to_str()
            .map_err(|_| format!("header `{name}` must be visible ASCII"))?;
        credentials.insert(key.to_string(), value.to_string());
        if credentials.len() > MAX_CREDENTIALS {
            return Err(format!(
                "at most {MAX_CREDENTIALS} X-Tenant-Credential-* headers"
            ));
        }
    }
    match tenant {
        Some(tenant) => Ok(Some(TenantContext {
            tenant,
            credentials: Arc::new(credentials),
        })),
        None if credentials.is_empty() => Ok(None),
        None => Err(
            "X-Tenant-Credential-* headers need an X-Tenant-Id header naming their tenant".into(),
        ),
    }
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32600, "message": message } })),
    )
        .into_response()
}

/// 503 for a tenant whose stored credentials cannot be read: failing the
/// request beats running the tool without them.
fn unavailable(message: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32603, "message": message } })),
    )
        .into_response()
}

/// Where a tenant's backend credentials are kept (bulwark's store,
/// encrypted). Asked on every request that acts for a tenant, so a hit
/// must be cheap.
pub trait TenantCredentials: Send + Sync + 'static {
    /// The tenant's stored credentials; `Ok(None)` when it has none. `Err`:
    /// they cannot be read right now (the request is answered 503).
    fn credentials(&self, tenant: &str) -> Result<Option<Credentials>, String>;
}

/// Adds the tenant's stored credentials beneath those its headers brought
/// (a header wins over a stored credential of the same name). `Some`: the
/// response to answer instead, because they cannot be read.
fn resolve_credentials(config: &AuthConfig, tenant: &mut TenantContext) -> Option<Response> {
    let source = config.tenant_credentials.as_ref()?;
    let stored = match source.credentials(&tenant.tenant) {
        Ok(Some(stored)) => stored,
        Ok(None) => return None,
        Err(err) => {
            tracing::warn!(tenant = %tenant.tenant, "stored tenant credentials unavailable: {err}");
            return Some(unavailable(
                "this tenant's stored backend credentials cannot be read right now; retry shortly, and tell the operator if it persists",
            ));
        }
    };
    if tenant.credentials.is_empty() {
        tenant.credentials = stored;
    } else {
        let mut merged = BTreeMap::clone(&stored);
        for (name, value) in tenant.credentials.iter() {
            merged.insert(name.clone(), value.clone());
        }
        tenant.credentials = Arc::new(merged);
    }
    None
}

/// The protected resource a credential is presented to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthTarget {
    /// The route's path, e.g. `/mcp/core`.
    pub path: String,
    /// Its canonical URL (RFC 8707 resource), e.g. `http://127.0.0.1:8080/mcp/core`,
    /// built from the request's (allow-listed) Host header.
    pub resource: String,
}

/// Turns a bearer credential into a principal. `Ok(None)`: not recognised by
/// this authenticator (the next one may know it). `Err`: the authenticator
/// cannot decide right now (its store or identity provider is down).
///
/// Token authenticators check the audience against `target`: a token issued
/// for another resource is not a credential here.
pub trait Authenticator: Send + Sync + 'static {
    fn authenticate(
        &self,
        credential: &str,
        target: &AuthTarget,
    ) -> BoxFuture<Result<Option<Principal>, String>>;
}

/// The authenticators in force. Empty means authentication is off.
#[derive(Clone)]
pub struct AuthConfig {
    pub authenticators: Vec<Arc<dyn Authenticator>>,
    /// Issuers announced in the protected-resource metadata (RFC 9728).
    pub authorization_servers: Vec<String>,
    /// Read the tenant and its credentials from `X-Tenant-Id` and
    /// `X-Tenant-Credential-*` headers (and `Bearer <key>:<tenant>`).
    pub tenant_headers: bool,
    /// Where stored tenant credentials come from; `None`: none are stored.
    pub tenant_credentials: Option<Arc<dyn TenantCredentials>>,
    /// With `tenant_headers`, also accept `X-Tenant-Credential-*` headers
    /// (`false`: only stored credentials count, and such headers get 400).
    pub credential_headers: bool,
}

impl AuthConfig {
    /// Asks each authenticator in turn; the first that recognises `credential`
    /// names the principal. `Ok(None)`: none does. `Err`: one could not check it.
    pub async fn principal(
        &self,
        credential: &str,
        target: &AuthTarget,
    ) -> Result<Option<Principal>, String> {
        for authenticator in &self.authenticators {
            if let Some(found) = authenticator.authenticate(credential, target).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            authenticators: Vec::new(),
            authorization_servers: Vec::new(),
            tenant_headers: false,
            tenant_credentials: None,
            credential_headers: true,
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("authenticators", &self.authenticators.len())
            .field("authorization_servers", &self.authorization_servers)
            .field("tenant_headers", &self.tenant_headers)
            .field("tenant_credentials", &self.tenant_credentials.is_some())
            .field("credential_headers", &self.credential_headers)
            .finish()
    }
}

impl AuthConfig {
    pub fn enabled(&self) -> bool {
        !self.authenticators.is_empty()
    }
}

/// State of the per-profile authentication middleware.
pub(crate) struct AuthGate {
    pub config: AuthConfig,
    pub profile: String,
    /// `profile:<profile>`, the scope that reaches it.
    pub profile_scope: String,
    pub audit: Option<bulwark_audit::AuditLog>,
}

impl AuthGate {
    pub fn new(
        config: AuthConfig,
        profile: String,
        audit: Option<bulwark_audit::AuditLog>,
    ) -> AuthGate {
        AuthGate {
            profile_scope: format!("profile:{profile}"),
            config,
            profile,
            audit,
        }
    }
}

/// An HTTP-level security event (401, 403, 429) for the audit log. Built
/// before any await: a `&Request` cannot be held across one (its body is not `Sync`).
pub(crate) fn http_event(
    request: &Request,
    event_type: &str,
    status: StatusCode,
    user: Option<&str>,
    detail: &str,
) -> bulwark_audit::AuditEvent {
    let mut event = bulwark_audit::AuditEvent::new(
        event_type,
        bulwark_core::Severity::Medium,
        request.uri().path(),
        "denied",
    )
    .with_status_code(status.as_u16())
    .with_detail(detail);
    if let Some(info) = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        event = event.with_source_ip(info.0.ip().to_string());
    }
    if let Some(agent) = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        event = event.with_user_agent(agent);
    }
    if let Some(user) = user {
        event = event.with_user(user);
    }
    event
}

/// Write an event to the audit log, if there is one.
pub(crate) async fn record(
    audit: Option<&bulwark_audit::AuditLog>,
    event: bulwark_audit::AuditEvent,
) {
    if let Some(log) = audit
        && let Err(err) = log.record(event).await
    {
        tracing::error!("audit record not written: {err}");
    }
}

/// The request's origin (`http://host:port`), from its Host header, which the
/// MCP service has already checked against the allowed hosts.
fn origin(request: &Request) -> String {
    let host = host(request);
    let mut origin = String::with_capacity("http://".len() + host.len());
    origin.push_str("http://");
    origin.push_str(host);
    origin
}

fn host(request: &Request) -> &str {
    request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
}

/// The RFC 9728 metadata URL for a request's resource, built from its Host.
fn metadata_url(request: &Request) -> String {
    let path = request.uri().path().trim_end_matches('/');
    format!(
        "{}/.well-known/oauth-protected-resource{path}",
        origin(request)
    )
}

fn challenge(
    request: &Request,
    status: StatusCode,
    error: Option<(&str, &str)>,
    message: String,
) -> Response {
    let mut value = format!("Bearer resource_metadata=\"{}\"", metadata_url(request));
    if let Some((code, scope)) = error {
        value.push_str(&format!(", error=\"{code}\", scope=\"{scope}\""));
    }
    let mut response = (
        status,
        axum::Json(json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": -32001, "message": message },
        })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The credential of an `Authorization: Bearer …` header, trimmed.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Authenticate an MCP request and check it may reach this profile.
pub(crate) async fn authenticate(
    State(gate): State<Arc<AuthGate>>,
    mut request: Request,
    next: Next,
) -> Response {
    let mut tenant = None;
    if gate.config.tenant_headers {
        match tenant_from_headers(request.headers(), gate.config.credential_headers) {
            Ok(found) => tenant = found,
            Err(message) => return bad_request(message),
        }
    }
    if !gate.config.enabled() {
        if let Some(mut tenant) = tenant {
            if let Some(response) = resolve_credentials(&gate.config, &mut tenant) {
                return response;
            }
            request.extensions_mut().insert(tenant);
        }
        return next.run(request).await;
    }
    // Tokens never travel in URLs (they end up in logs and browser history).
    if let Some(query) = request.uri().query()
        && query
            .split('&')
            .any(|pair| pair.starts_with("access_token=") || pair.starts_with("api_key="))
    {
        return challenge(
            &request,
            StatusCode::BAD_REQUEST,
            Some(("invalid_request", "mcp")),
            "credentials in the query string are refused; send them in the Authorization header as `Bearer <token>`".into(),
        );
    }
    let credential = bearer(request.headers());
    // LimaCharlie style: `Bearer <key>:<tenant>` names the tenant with the key.
    let (credential, bearer_tenant) = match credential {
        Some(c) if gate.config.tenant_headers && c.contains(':') => {
            let (key, tenant) = c.rsplit_once(':').unwrap_or((c, ""));
            (Some(key), Some(tenant.to_string()))
        }
        other => (other, None),
    };
    if let Some(named) = &bearer_tenant {
        if !valid_tenant(named) {
            return bad_request(format!("tenant `{named}` after the key is not a tenant id"));
        }
        match &mut tenant {
            Some(t) if &t.tenant != named => {
                return bad_request(format!(
                    "the bearer names tenant `{named}` but X-Tenant-Id says `{}`",
                    t.tenant
                ));
            }
            Some(_) => {}
            None => {
                tenant = Some(TenantContext {
                    tenant: named.clone(),
                    credentials: Default::default(),
                })
            }
        }
    }
    let Some(credential) = credential.filter(|c| !c.is_empty()) else {
        let event = http_event(
            &request,
            "http.401",
            StatusCode::UNAUTHORIZED,
            None,
            "no credential",
        );
        record(gate.audit.as_ref(), event).await;
        return challenge(
            &request,
            StatusCode::UNAUTHORIZED,
            None,
            "authentication required: send `Authorization: Bearer <token or API key>`".into(),
        );
    };
    let path = request.uri().path().trim_end_matches('/');
    let host = host(&request);
    let mut resource = String::with_capacity("http://".len() + host.len() + path.len());
    resource.push_str("http://");
    resource.push_str(host);
    resource.push_str(path);
    let target = AuthTarget {
        resource,
        path: path.to_string(),
    };
    let principal = match gate.config.principal(credential, &target).await {
        Ok(principal) => principal,
        Err(err) => {
            tracing::warn!("authenticator failed: {err}");
            return challenge(
                &request,
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "authentication is unavailable right now; retry shortly".into(),
            );
        }
    };
    let Some(principal) = principal else {
        let event = http_event(
            &request,
            "http.401",
            StatusCode::UNAUTHORIZED,
            None,
            "invalid, expired or revoked credential",
        );
        record(gate.audit.as_ref(), event).await;
        return challenge(
            &request,
            StatusCode::UNAUTHORIZED,
            Some(("invalid_token", "mcp")),
            "the credential is invalid, expired or revoked".into(),
        );
    };
    let lacks_mcp = !principal.has_scope("mcp");
    let lacks_profile = !principal.reaches_profile(&gate.profile);
    if lacks_mcp || lacks_profile {
        let missing: Vec<&str> = [
            lacks_mcp.then_some("mcp"),
            lacks_profile.then_some(gate.profile_scope.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let needed = missing.join(" ");
        let event = http_event(
            &request,
            "http.403",
            StatusCode::FORBIDDEN,
            Some(&principal.id),
            &format!("insufficient scope: needs {needed}"),
        );
        record(gate.audit.as_ref(), event).await;
        return challenge(
            &request,
            StatusCode::FORBIDDEN,
            Some(("insufficient_scope", &needed)),
            format!(
                "`{}` lacks the scope(s) {needed} needed for this endpoint",
                principal.id
            ),
        );
    }
    // A key bound to a tenant acts for that tenant only.
    if let (Some(bound), Some(asked)) = (&principal.tenant, &tenant)
        && bound != &asked.tenant
    {
        let event = http_event(
            &request,
            "http.403",
            StatusCode::FORBIDDEN,
            Some(&principal.id),
            &format!(
                "key bound to tenant {bound} asked for tenant {}",
                asked.tenant
            ),
        );
        record(gate.audit.as_ref(), event).await;
        return challenge(
            &request,
            StatusCode::FORBIDDEN,
            Some(("insufficient_scope", "mcp")),
            format!(
                "`{}` acts for tenant `{bound}` only, not `{}`",
                principal.id, asked.tenant
            ),
        );
    }
    let tenant = match (tenant, &principal.tenant) {
        (Some(tenant), _) => Some(tenant),
        (None, Some(bound)) => Some(TenantContext {
            tenant: bound.clone(),
            credentials: Default::default(),
        }),
        (None, None) => None,
    };
    if let Some(mut tenant) = tenant {
        if let Some(response) = resolve_credentials(&gate.config, &mut tenant) {
            return response;
        }
        request.extensions_mut().insert(tenant);
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// RFC 9728 protected-resource metadata for `/mcp...` paths.
pub(crate) fn resource_metadata(
    host: &str,
    path: &str,
    authorization_servers: &[String],
    scopes: &[String],
) -> serde_json::Value {
    json!({
        "resource": format!("http://{host}{path}"),
        "authorization_servers": authorization_servers,
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": "bulwark",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_scopes() {
        let p = Principal {
            id: "ci".into(),
            scopes: vec!["mcp".into(), "profile:core".into()],
            tenant: None,
            method: "api-key",
            client_id: None,
        };
        assert!(p.reaches_profile("core"));
        assert!(!p.reaches_profile("all"));
        let star = Principal {
            scopes: vec!["profile:*".into()],
            ..p
        };
        assert!(star.reaches_profile("anything"));
    }

    struct Fixed(Result<Option<Credentials>, String>);

    impl TenantCredentials for Fixed {
        fn credentials(&self, _tenant: &str) -> Result<Option<Credentials>, String> {
            self.0.clone()
        }
    }

    fn creds(pairs: &[(&str, &str)]) -> Credentials {
        Arc::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn config(source: Fixed) -> AuthConfig {
        AuthConfig {
            tenant_credentials: Some(Arc::new(source)),
            ..Default::default()
        }
    }

    #[test]
    fn stored_credentials_sit_beneath_header_ones() {
        let stored = creds(&[("api_key", "stored"), ("oid", "org-1")]);
        let config = config(Fixed(Ok(Some(stored.clone()))));

        let mut tenant = TenantContext {
            tenant: "t1".into(),
            credentials: Default::default(),
        };
        assert!(resolve_credentials(&config, &mut tenant).is_none());
        assert!(
            Arc::ptr_eq(&tenant.credentials, &stored),
            "shared, not copied"
        );

        let mut tenant = TenantContext {
            tenant: "t1".into(),
            credentials: creds(&[("api_key", "header"), ("extra", "x")]),
        };
        assert!(resolve_credentials(&config, &mut tenant).is_none());
        assert_eq!(
            tenant.credentials,
            creds(&[("api_key", "header"), ("extra", "x"), ("oid", "org-1")])
        );
        assert_eq!(stored["api_key"], "stored", "the stored map is not changed");
    }

    #[test]
    fn no_stored_credentials_leave_the_context_alone() {
        let header = creds(&[("api_key", "header")]);
        for config in [config(Fixed(Ok(None))), AuthConfig::default()] {
            let mut tenant = TenantContext {
                tenant: "t1".into(),
                credentials: header.clone(),
            };
            assert!(resolve_credentials(&config, &mut tenant).is_none());
            assert!(Arc::ptr_eq(&tenant.credentials, &header));
        }
    }

    #[test]
    fn unreadable_stored_credentials_are_503() {
        let config = config(Fixed(Err("disk on fire".into())));
        let mut tenant = TenantContext {
            tenant: "t1".into(),
            credentials: Default::default(),
        };
        let response = resolve_credentials(&config, &mut tenant).expect("refused");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn credential_headers_can_be_turned_off() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(TENANT_HEADER, HeaderValue::from_static("t1"));
        headers.insert("x-tenant-credential-api_key", HeaderValue::from_static("k"));
        let found = tenant_from_headers(&headers, true).unwrap().unwrap();
        assert_eq!(found.credentials["api_key"], "k");
        let err = tenant_from_headers(&headers, false).unwrap_err();
        assert!(err.contains("turned off"), "{err}");
        headers.remove("x-tenant-credential-api_key");
        let found = tenant_from_headers(&headers, false).unwrap().unwrap();
        assert_eq!(found.tenant, "t1");
    }
}
