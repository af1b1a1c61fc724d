//! Federated login: the login page's second button sends the browser to an
//! upstream OpenID Connect provider (code flow + PKCE, via `bulwark-idp`);
//! `/oauth/callback` maps the verified ID-token claims to a subject and
//! tenant and continues into the same consent step as a local login.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bulwark_core::Severity;
use bulwark_idp::{OidcClient, OidcProviderConfig};
use serde_json::{Map, Value};

use crate::Inner;
use crate::audit::{RequestMeta, record, who};
use crate::authorize::{BROWSER_COOKIE, Stage, error_page, login_page, to_consent};
use crate::util::{Params, cookie};

/// After a failed discovery, wait this long before asking the provider again.
const RETRY_DISCOVERY_AFTER: Duration = Duration::from_secs(5);
const MAX_SUBJECT_LEN: usize = 256;

/// Logins through an upstream OpenID Connect provider.
#[derive(Debug, Clone)]
pub struct FederationConfig {
    /// The upstream provider. Leave `redirect_uri` empty to get
    /// `{issuer}/oauth/callback`, the only value that works.
    pub provider: OidcProviderConfig,
    /// The ID-token claim that becomes the principal id (default `sub`).
    pub subject_claim: String,
    /// The claim naming the tenant; when set, a login without a valid
    /// tenant in that claim is refused.
    pub tenant_claim: Option<String>,
    /// What federated users may be granted (default `mcp profile:*`).
    pub scopes: Vec<String>,
    /// The login page's button text.
    pub label: String,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            provider: OidcProviderConfig::default(),
            subject_claim: "sub".into(),
            tenant_claim: None,
            scopes: vec!["mcp".into(), "profile:*".into()],
            label: "Sign in with single sign-on".into(),
        }
    }
}

/// A federated user: who they are and in which tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FederatedUser {
    pub subject: String,
    pub tenant: Option<String>,
}

/// Claims → subject and tenant, per the configured claim names.
pub(crate) fn map_claims(
    config: &FederationConfig,
    claims: &Map<String, Value>,
) -> Result<FederatedUser, String> {
    let text = |name: &str| -> Option<String> {
        match claims.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let subject = text(&config.subject_claim).ok_or_else(|| {
        format!(
            "the provider's ID token has no `{}` claim to name the user; set subject_claim to a claim it sends",
            config.subject_claim
        )
    })?;
    if subject.trim().is_empty()
        || subject.len() > MAX_SUBJECT_LEN
        || subject.chars().any(char::is_control)
    {
        return Err(format!(
            "the `{}` claim is not a usable user name (empty, longer than {MAX_SUBJECT_LEN} bytes or with control characters)",
            config.subject_claim
        ));
    }
    let tenant = match &config.tenant_claim {
        None => None,
        Some(claim) => {
            let tenant = text(claim).ok_or_else(|| {
                format!("the provider's ID token has no `{claim}` claim naming the tenant; ask the provider's admin to send it")
            })?;
            if !crate::users::valid_tenant(&tenant) {
                return Err(format!(
                    "the `{claim}` claim `{tenant}` is not a tenant id: 1-64 letters, digits, `_`, `-` or `.`"
                ));
            }
            Some(tenant)
        }
    };
    Ok(FederatedUser { subject, tenant })
}

/// The configured provider, discovered on first use.
pub(crate) struct Federation {
    pub config: FederationConfig,
    client: tokio::sync::Mutex<Option<OidcClient>>,
    last_failure: Mutex<Option<Instant>>,
}

impl Federation {
    pub(crate) fn new(config: FederationConfig) -> Federation {
        Federation {
            config,
            client: tokio::sync::Mutex::new(None),
            last_failure: Mutex::new(None),
        }
    }

    /// Discovery is async and the provider may be down when bulwark starts,
    /// so it happens here, once, and again after a failure.
    async fn client(&self) -> Result<OidcClient, String> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        if self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|t| t.elapsed() < RETRY_DISCOVERY_AFTER)
        {
            return Err(
                "the single sign-on provider is unreachable; try again in a few seconds".into(),
            );
        }
        match OidcClient::discover(self.config.provider.clone()).await {
            Ok(client) => {
                *slot = Some(client.clone());
                Ok(client)
            }
            Err(e) => {
                tracing::warn!(
                    "OIDC discovery of {} failed: {e}",
                    self.config.provider.issuer
                );
                *self
                    .last_failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                Err("the single sign-on provider is unreachable; try again in a few seconds".into())
            }
        }
    }
}

/// POST /authorize with `federated=1`: off to the provider.
pub(crate) async fn start(inner: &Arc<Inner>, headers: &HeaderMap, id: &str) -> Response {
    let Some(federation) = &inner.federation else {
        return error_page(
            headers,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "single sign-on is not configured on this server",
        );
    };
    let client = match federation.client().await {
        Ok(c) => c,
        Err(e) => {
            return error_page(
                headers,
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                &e,
            );
        }
    };
    let (url, login) = client.begin();
    if !inner.pending.advance(
        id,
        |s| matches!(s, Stage::Login | Stage::Upstream { .. }),
        Stage::Upstream { login },
    ) {
        return error_page(
            headers,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "this sign-in already moved on; start again from the application",
        );
    }
    // Redirect::to is a 303: the browser follows with a GET.
    let mut response =
        axum::response::IntoResponse::into_response(axum::response::Redirect::to(&url));
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// GET /oauth/callback: the provider sends the browser back here.
pub(crate) async fn callback(
    State(inner): State<Arc<Inner>>,
    meta: RequestMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let gone = |h: &HeaderMap| {
        error_page(
            h,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "this sign-in expired, was finished, or was started in another browser; start again from the application",
        )
    };
    let Some(federation) = &inner.federation else {
        return error_page(
            &headers,
            StatusCode::NOT_FOUND,
            "invalid_request",
            "single sign-on is not configured on this server",
        );
    };
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return error_page(&headers, StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    let get = |name: &str| params.get(name).ok().flatten().map(str::to_string);
    let Some(state) = get("state") else {
        return gone(&headers);
    };
    let browser = cookie(&headers, BROWSER_COOKIE);
    let Some((id, pending, login)) = inner.pending.find_upstream(&state, browser.as_deref()) else {
        return gone(&headers);
    };
    let client_id = pending.request.client_id.clone();
    let fail = |detail: String| {
        let inner = inner.clone();
        let meta = meta.clone();
        let client_id = client_id.clone();
        let id = id.clone();
        let pending = pending.clone();
        async move {
            let event = meta
                .event("auth.login", Severity::Medium, "failure", 401)
                .with_detail(format!("federated: {detail}"));
            record(
                inner.audit.as_ref(),
                who(event, None, Some(&client_id), None),
            )
            .await;
            inner
                .pending
                .advance(&id, |s| matches!(s, Stage::Upstream { .. }), Stage::Login);
            login_page(
                &inner,
                &id,
                &pending,
                StatusCode::UNAUTHORIZED,
                Some(&format!("Single sign-on failed: {detail}")),
            )
        }
    };
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_default();
        let detail: String = format!("the provider answered {error} {description}")
            .chars()
            .take(300)
            .collect();
        return fail(detail).await;
    }
    let client = match federation.client().await {
        Ok(c) => c,
        Err(e) => return fail(e).await,
    };
    let code = get("code").unwrap_or_default();
    let claims = match client
        .finish(&login, &code, &state, get("iss").as_deref())
        .await
    {
        Ok(claims) => claims,
        Err(e) => return fail(e.to_string()).await,
    };
    let user = match map_claims(&federation.config, &claims) {
        Ok(u) => u,
        Err(e) => return fail(e).await,
    };
    let event = meta
        .event("auth.login", Severity::Low, "success", 200)
        .with_detail(format!(
            "federated via {}",
            federation.config.provider.issuer
        ));
    record(
        inner.audit.as_ref(),
        who(
            event,
            Some(&user.subject),
            Some(&client_id),
            user.tenant.as_deref(),
        ),
    )
    .await;
    to_consent(
        &inner,
        &id,
        &pending,
        &user.subject,
        "federated",
        &federation.config.scopes,
        user.tenant,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn subject_and_tenant_come_from_the_configured_claims() {
        let mut config = FederationConfig::default();
        let c =
            claims(json!({ "sub": "248289761001", "email": "jane@example.com", "org": "acme" }));
        assert_eq!(
            map_claims(&config, &c).unwrap(),
            FederatedUser {
                subject: "248289761001".into(),
                tenant: None
            }
        );
        config.subject_claim = "email".into();
        config.tenant_claim = Some("org".into());
        assert_eq!(
            map_claims(&config, &c).unwrap(),
            FederatedUser {
                subject: "jane@example.com".into(),
                tenant: Some("acme".into())
            }
        );
    }

    #[test]
    fn numbers_are_accepted_as_text() {
        let config = FederationConfig {
            subject_claim: "uid".into(),
            ..Default::default()
        };
        assert_eq!(
            map_claims(&config, &claims(json!({ "uid": 42 })))
                .unwrap()
                .subject,
            "42"
        );
    }

    #[test]
    fn missing_or_bad_claims_refuse_the_login() {
        let mut config = FederationConfig {
            subject_claim: "email".into(),
            ..Default::default()
        };
        let err = map_claims(&config, &claims(json!({ "sub": "x" }))).unwrap_err();
        assert!(err.contains("`email`"), "{err}");
        assert!(map_claims(&config, &claims(json!({ "email": "" }))).is_err());
        assert!(map_claims(&config, &claims(json!({ "email": ["a"] }))).is_err());
        assert!(map_claims(&config, &claims(json!({ "email": "a\nb" }))).is_err());
        config.tenant_claim = Some("org".into());
        let err = map_claims(&config, &claims(json!({ "email": "a@b" }))).unwrap_err();
        assert!(
            err.contains("`org`"),
            "a configured tenant claim is required: {err}"
        );
        assert!(
            map_claims(
                &config,
                &claims(json!({ "email": "a@b", "org": "bad tenant!" }))
            )
            .is_err()
        );
    }
}
