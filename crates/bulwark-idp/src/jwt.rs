//! Bearer tokens issued by an external identity provider (Entra ID, Okta,
//! Keycloak, Auth0, ...), verified against the provider's published keys.

use std::sync::Arc;
use std::time::Duration;

use bulwark_core::BoxFuture;
use bulwark_server::{AuthTarget, Authenticator, Principal};
use jsonwebtoken::Algorithm;

use crate::IdpError;
use crate::http::parse_url;
use crate::jwks::{JwksPolicy, RemoteJwks};
use crate::verify::{Claims, Expect, string_list, verify_jwt};

/// How to verify bearer tokens of one issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The `iss` tokens carry, exactly (e.g. `https://login.example.com/tenant/v2.0`).
    pub issuer: String,
    /// Where the signing keys are; `None` takes `jwks_uri` from the issuer's discovery document.
    pub jwks_url: Option<String>,
    /// `aud` must contain one of these; empty means the URL of the MCP endpoint called
    /// (`AuthTarget::resource`, the RFC 8707 resource).
    pub audiences: Vec<String>,
    /// Accepted signature algorithms; asymmetric only (HS* and `none` are refused).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed for `exp` and `nbf`.
    pub leeway: Duration,
    /// The claim naming the principal.
    pub subject_claim: String,
    /// The claim holding scopes, a space-separated string or an array; `scp` is read when it is absent.
    pub scope_claim: String,
    /// The claim naming the tenant, if tokens carry one.
    pub tenant_claim: Option<String>,
    /// Scopes every verified token gets in addition to its own (e.g. `mcp`).
    pub default_scopes: Vec<String>,
    /// Allow http:// issuer and JWKS URLs (loopback tests only).
    pub allow_insecure_http: bool,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            issuer: String::new(),
            jwks_url: None,
            audiences: Vec::new(),
            algorithms: vec![Algorithm::RS256, Algorithm::ES256],
            leeway: Duration::from_secs(30),
            subject_claim: "sub".into(),
            scope_claim: "scope".into(),
            tenant_claim: None,
            default_scopes: Vec::new(),
            allow_insecure_http: false,
        }
    }
}

impl JwtConfig {
    /// Defaults for tokens of `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        JwtConfig {
            issuer: issuer.into(),
            ..JwtConfig::default()
        }
    }
}

/// Verifies external JWT bearer tokens; an [`Authenticator`] for bulwark's HTTP transport.
/// Cheap to clone; clones share the key cache.
#[derive(Clone, Debug)]
pub struct JwtAuthenticator {
    inner: Arc<JwtInner>,
}

#[derive(Debug)]
struct JwtInner {
    config: JwtConfig,
    jwks: RemoteJwks,
}

/// Asymmetric algorithms only: with HS* a public key could be used as the shared secret.
fn check_algorithms(algorithms: &[Algorithm]) -> Result<(), IdpError> {
    if algorithms.is_empty() {
        return Err(IdpError::config(
            "jwt.algorithms",
            "is empty: list the algorithms your provider signs with, e.g. [\"RS256\", \"ES256\"]",
        ));
    }
    if let Some(hs) = algorithms
        .iter()
        .find(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
    {
        return Err(IdpError::config(
            "jwt.algorithms",
            format!(
                "{hs:?} is a shared-secret algorithm, refused for tokens verified with published keys: \
                 use RS256, PS256, ES256, ES384 or EdDSA"
            ),
        ));
    }
    Ok(())
}

impl JwtAuthenticator {
    /// Checks the configuration; keys are fetched on first use.
    pub fn new(config: JwtConfig) -> Result<Self, IdpError> {
        if config.issuer.trim().is_empty() {
            return Err(IdpError::config(
                "jwt.issuer",
                "is empty: set it to the `iss` your provider puts in tokens",
            ));
        }
        parse_url("jwt.issuer", &config.issuer, config.allow_insecure_http)?;
        check_algorithms(&config.algorithms)?;
        if config.subject_claim.is_empty() || config.scope_claim.is_empty() {
            return Err(IdpError::config(
                "jwt.subject_claim / jwt.scope_claim",
                "must name a claim (defaults: `sub`, `scope`)",
            ));
        }
        for audience in &config.audiences {
            if audience.trim().is_empty() {
                return Err(IdpError::config(
                    "jwt.audiences",
                    "holds an empty audience: remove it, or leave the list empty to use the MCP endpoint URL",
                ));
            }
        }
        let jwks = match &config.jwks_url {
            Some(url) => RemoteJwks::new(url, config.allow_insecure_http)?,
            None => RemoteJwks::from_issuer(&config.issuer, config.allow_insecure_http)?,
        };
        Ok(JwtAuthenticator {
            inner: Arc::new(JwtInner { config, jwks }),
        })
    }

    /// Another refresh policy for the key cache (tests use short intervals).
    pub fn with_jwks_policy(self, policy: JwksPolicy) -> Self {
        let jwks = self.inner.jwks.with_policy(policy);
        JwtAuthenticator {
            inner: Arc::new(JwtInner {
                config: self.inner.config.clone(),
                jwks,
            }),
        }
    }

    pub fn config(&self) -> &JwtConfig {
        &self.inner.config
    }

    /// The key cache, for warm-up ([`RemoteJwks::refresh`]) and metrics.
    pub fn jwks(&self) -> &RemoteJwks {
        &self.inner.jwks
    }

    /// Verifies `token` for `target`. `Ok(None)`: not a valid token of this issuer.
    pub async fn verify(
        &self,
        token: &str,
        target: &AuthTarget,
    ) -> Result<Option<Principal>, IdpError> {
        match self.verify_explained(token, target).await? {
            Ok(principal) => Ok(Some(principal)),
            Err(reason) => {
                tracing::debug!(issuer = %self.inner.config.issuer, reason, "bearer token rejected");
                Ok(None)
            }
        }
    }

    /// Like [`verify`](Self::verify), but says why a token is rejected (for diagnostics).
    pub async fn verify_explained(
        &self,
        token: &str,
        target: &AuthTarget,
    ) -> Result<Result<Principal, String>, IdpError> {
        let config = &self.inner.config;
        let audiences = if config.audiences.is_empty() {
            resource_audiences(&target.resource)
        } else {
            config.audiences.clone()
        };
        let expect = Expect {
            issuer: &config.issuer,
            audiences: &audiences,
            algorithms: &config.algorithms,
            leeway_secs: config.leeway.as_secs(),
        };
        Ok(verify_jwt(token, &self.inner.jwks, &expect)
            .await?
            .and_then(|claims| principal(config, &claims)))
    }
}

/// The resource URL, with and without a trailing slash: providers differ in which they put in `aud`.
fn resource_audiences(resource: &str) -> Vec<String> {
    let trimmed = resource.trim_end_matches('/');
    vec![trimmed.to_string(), format!("{trimmed}/")]
}

fn principal(config: &JwtConfig, claims: &Claims) -> Result<Principal, String> {
    let id = match claims.get(&config.subject_claim) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(format!(
                "no non-empty string `{}` claim",
                config.subject_claim
            ));
        }
    };
    let scope_value = claims
        .get(&config.scope_claim)
        .or_else(|| claims.get("scp"));
    let mut scopes: Vec<String> = Vec::new();
    for scope in scope_value
        .map(string_list)
        .unwrap_or_default()
        .into_iter()
        .chain(config.default_scopes.iter().cloned())
    {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let tenant = match &config.tenant_claim {
        None => None,
        Some(claim) => match claims.get(claim) {
            None => None,
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => return Err(format!("the `{claim}` claim is not a non-empty string")),
        },
    };
    let client_id = ["azp", "client_id"]
        .iter()
        .find_map(|name| claims.get(*name)?.as_str().map(str::to_owned));
    Ok(Principal {
        id,
        scopes,
        tenant,
        method: "jwt",
        client_id,
    })
}

impl Authenticator for JwtAuthenticator {
    fn authenticate(
        &self,
        credential: &str,
        target: &AuthTarget,
    ) -> BoxFuture<Result<Option<Principal>, String>> {
        let this = self.clone();
        let credential = credential.to_string();
        let target = target.clone();
        Box::pin(async move {
            this.verify(&credential, &target)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: serde_json::Value) -> Claims {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn principal_maps_scopes_tenant_and_client() {
        let config = JwtConfig {
            tenant_claim: Some("tenant".into()),
            default_scopes: vec!["mcp".into(), "read".into()],
            ..JwtConfig::new("https://idp.example")
        };
        let p = principal(
            &config,
            &claims(json!({"sub": "alice", "scope": "read write", "tenant": "acme", "azp": "cli"})),
        )
        .unwrap();
        assert_eq!(p.id, "alice");
        assert_eq!(p.scopes, ["read", "write", "mcp"]);
        assert_eq!(p.tenant.as_deref(), Some("acme"));
        assert_eq!(p.client_id.as_deref(), Some("cli"));
        assert_eq!(p.method, "jwt");
    }

    #[test]
    fn scp_is_read_when_scope_is_absent() {
        let config = JwtConfig::new("https://idp.example");
        let p = principal(
            &config,
            &claims(json!({"sub": "svc", "scp": ["a", "b"], "client_id": "robot"})),
        )
        .unwrap();
        assert_eq!(p.scopes, ["a", "b"]);
        assert_eq!(p.client_id.as_deref(), Some("robot"));
    }

    #[test]
    fn missing_subject_or_bad_tenant_is_rejected() {
        let config = JwtConfig {
            tenant_claim: Some("tenant".into()),
            ..JwtConfig::new("https://idp.example")
        };
        assert!(principal(&config, &claims(json!({"scope": "a"}))).is_err());
        assert!(principal(&config, &claims(json!({"sub": "", "scope": "a"}))).is_err());
        assert!(principal(&config, &claims(json!({"sub": "a", "tenant": 5}))).is_err());
    }

    #[test]
    fn config_is_checked() {
        let err = |config: JwtConfig| JwtAuthenticator::new(config).unwrap_err().to_string();
        assert!(err(JwtConfig::default()).contains("jwt.issuer"));
        assert!(err(JwtConfig::new("http://idp.example")).contains("allow_insecure_http"));
        assert!(err(JwtConfig::new("not a url")).contains("not a URL"));
        let hs = JwtConfig {
            algorithms: vec![Algorithm::RS256, Algorithm::HS256],
            ..JwtConfig::new("https://idp.example")
        };
        assert!(err(hs).contains("shared-secret"));
        let none = JwtConfig {
            algorithms: vec![],
            ..JwtConfig::new("https://idp.example")
        };
        assert!(err(none).contains("is empty"));
        let insecure_jwks = JwtConfig {
            jwks_url: Some("http://idp.example/keys".into()),
            ..JwtConfig::new("https://idp.example")
        };
        assert!(err(insecure_jwks).contains("jwks_url"));
        assert!(JwtAuthenticator::new(JwtConfig::new("https://idp.example")).is_ok());
    }

    #[test]
    fn resource_audience_tolerates_a_trailing_slash() {
        assert_eq!(
            resource_audiences("http://h:1/mcp/core"),
            ["http://h:1/mcp/core", "http://h:1/mcp/core/"]
        );
    }
}
