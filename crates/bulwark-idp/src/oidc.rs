//! An OpenID Connect relying party: bulwark sends a browser to an upstream
//! provider and learns who logged in. Authorization code flow with PKCE
//! (S256), `state` against forged callbacks, `nonce` against replayed ID
//! tokens, and the RFC 9207 `iss` check against provider mix-ups.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

use crate::IdpError;
use crate::discovery::{ProviderMetadata, discover, endpoint};
use crate::http::{client, describe, parse_url, read_capped};
use crate::jwks::{JwksPolicy, RemoteJwks};
use crate::verify::{Claims, Expect, verify_jwt};

/// ID tokens may be signed with any of these; symmetric (client-secret) signatures are not accepted.
const ID_TOKEN_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];
const ID_TOKEN_LEEWAY_SECS: u64 = 30;

/// One upstream provider bulwark federates logins to.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcProviderConfig {
    /// The provider's issuer, exactly as its discovery document states it.
    pub issuer: String,
    pub client_id: String,
    /// `None`: a public client (PKCE only).
    pub client_secret: Option<String>,
    /// Where the provider sends the browser back to (bulwark's callback route).
    pub redirect_uri: String,
    /// Default `openid email profile`; `openid` is added when missing.
    pub scopes: Vec<String>,
    /// Allow http:// provider URLs (loopback tests only).
    pub allow_insecure_http: bool,
}

impl Default for OidcProviderConfig {
    fn default() -> Self {
        OidcProviderConfig {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: None,
            redirect_uri: String::new(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            allow_insecure_http: false,
        }
    }
}

impl std::fmt::Debug for OidcProviderConfig {
    // The client secret stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProviderConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish()
    }
}

/// What `begin` hands out and `finish` needs back: keep it server-side (or in
/// an encrypted, signed cookie) between the redirect and the callback.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl std::fmt::Debug for PendingLogin {
    // The PKCE verifier is what makes a stolen code useless; keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("state", &self.state)
            .field("nonce", &self.nonce)
            .field("pkce_verifier", &"<redacted>")
            .finish()
    }
}

/// A relying-party client for one discovered provider. Cheap to clone.
#[derive(Clone, Debug)]
pub struct OidcClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    config: OidcProviderConfig,
    metadata: ProviderMetadata,
    authorization_endpoint: Url,
    token_endpoint: Url,
    scope: String,
    auth: TokenAuth,
    http: reqwest::Client,
    jwks: RemoteJwks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenAuth {
    /// Public client: `client_id` in the body, PKCE proves possession.
    None,
    Basic,
    Post,
}

impl OidcClient {
    /// Reads the provider's discovery document; its `issuer` must equal `config.issuer`.
    pub async fn discover(config: OidcProviderConfig) -> Result<OidcClient, IdpError> {
        let allow_http = config.allow_insecure_http;
        parse_url("oidc.issuer", &config.issuer, allow_http)?;
        if config.client_id.is_empty() {
            return Err(IdpError::config(
                "oidc.client_id",
                "is empty: register bulwark with the provider and copy the client id it gives",
            ));
        }
        // Checked, but sent verbatim: providers compare it byte for byte with the registered one.
        parse_url("oidc.redirect_uri", &config.redirect_uri, allow_http)?;
        let http = client(allow_http)?;
        let metadata = discover(&http, &config.issuer, allow_http).await?;
        let authorization_endpoint = endpoint(
            &metadata,
            "authorization_endpoint",
            metadata.authorization_endpoint.as_ref(),
            allow_http,
        )?;
        let token_endpoint = endpoint(
            &metadata,
            "token_endpoint",
            metadata.token_endpoint.as_ref(),
            allow_http,
        )?;
        let jwks_uri = endpoint(
            &metadata,
            "jwks_uri",
            metadata.jwks_uri.as_ref(),
            allow_http,
        )?;
        if let Some(methods) = &metadata.code_challenge_methods_supported
            && !methods.iter().any(|m| m == "S256")
        {
            return Err(IdpError::BadDocument {
                what: "the OpenID discovery document",
                url: config.issuer.clone(),
                reason: "the provider does not support PKCE with S256 \
                         (code_challenge_methods_supported); enable it in the provider"
                    .into(),
            });
        }
        let auth = match (
            &config.client_secret,
            &metadata.token_endpoint_auth_methods_supported,
        ) {
            (None, _) => TokenAuth::None,
            // Basic is the OAuth default when the provider does not list methods.
            (Some(_), None) => TokenAuth::Basic,
            (Some(_), Some(methods)) if methods.iter().any(|m| m == "client_secret_basic") => {
                TokenAuth::Basic
            }
            (Some(_), Some(methods)) if methods.iter().any(|m| m == "client_secret_post") => {
                TokenAuth::Post
            }
            (Some(_), Some(methods)) => {
                return Err(IdpError::BadDocument {
                    what: "the OpenID discovery document",
                    url: config.issuer.clone(),
                    reason: format!(
                        "the token endpoint takes none of client_secret_basic, client_secret_post \
                         (it lists {methods:?}); configure the client for one of them"
                    ),
                });
            }
        };
        let mut scopes: Vec<&str> = vec!["openid"];
        for scope in &config.scopes {
            if !scopes.contains(&scope.as_str()) {
                scopes.push(scope);
            }
        }
        let scope = scopes.join(" ");
        let jwks = RemoteJwks::new(jwks_uri.as_str(), allow_http)?;
        Ok(OidcClient {
            inner: Arc::new(ClientInner {
                authorization_endpoint,
                token_endpoint,
                scope,
                auth,
                http,
                jwks,
                metadata,
                config,
            }),
        })
    }

    /// Another refresh policy for the provider's key cache.
    pub fn with_jwks_policy(self, policy: JwksPolicy) -> Self {
        let mut inner = ClientInner {
            config: self.inner.config.clone(),
            metadata: self.inner.metadata.clone(),
            authorization_endpoint: self.inner.authorization_endpoint.clone(),
            token_endpoint: self.inner.token_endpoint.clone(),
            scope: self.inner.scope.clone(),
            auth: self.inner.auth,
            http: self.inner.http.clone(),
            jwks: self.inner.jwks.clone(),
        };
        inner.jwks = inner.jwks.with_policy(policy);
        OidcClient {
            inner: Arc::new(inner),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.inner.config.issuer
    }

    pub fn metadata(&self) -> &ProviderMetadata {
        &self.inner.metadata
    }

    /// The authorization URL to send the browser to, and what `finish` needs to check the callback.
    pub fn begin(&self) -> (String, PendingLogin) {
        let pending = PendingLogin {
            state: random_token(),
            nonce: random_token(),
            pkce_verifier: random_token(),
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.pkce_verifier.as_bytes()));
        let mut url = self.inner.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.inner.config.client_id)
            .append_pair("redirect_uri", &self.inner.config.redirect_uri)
            .append_pair("scope", &self.inner.scope)
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        (url.into(), pending)
    }

    /// Checks the callback, redeems the code and returns the verified ID token's claims.
    /// `iss` is the callback's `iss` query parameter (RFC 9207), when it has one.
    pub async fn finish(
        &self,
        pending: &PendingLogin,
        code: &str,
        state: &str,
        iss: Option<&str>,
    ) -> Result<Map<String, Value>, IdpError> {
        if !constant_time_eq(state, &pending.state) {
            return Err(IdpError::StateMismatch);
        }
        let issuer = &self.inner.config.issuer;
        match iss {
            Some(found) if found != issuer => {
                return Err(IdpError::IssuerParameterMismatch {
                    expected: issuer.clone(),
                    found: found.to_string(),
                });
            }
            None if self
                .inner
                .metadata
                .authorization_response_iss_parameter_supported =>
            {
                return Err(IdpError::MissingIssuerParameter {
                    issuer: issuer.clone(),
                });
            }
            _ => {}
        }
        if code.is_empty() {
            return Err(IdpError::TokenEndpoint {
                url: self.inner.token_endpoint.to_string(),
                status: 0,
                detail: "the callback has no code: the login was cancelled or failed at the provider; start it again".into(),
            });
        }
        let id_token = self.redeem(code, &pending.pkce_verifier).await?;
        self.verify_id_token(&id_token, &pending.nonce).await
    }

    /// Verifies an ID token of this provider: signature, iss, aud, azp, exp, iat, nonce.
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        nonce: &str,
    ) -> Result<Map<String, Value>, IdpError> {
        let issuer = &self.inner.config.issuer;
        let client_id = &self.inner.config.client_id;
        let invalid = |reason: String| IdpError::InvalidIdToken {
            issuer: issuer.clone(),
            reason,
        };
        let audiences = [client_id.clone()];
        let expect = Expect {
            issuer,
            audiences: &audiences,
            algorithms: ID_TOKEN_ALGORITHMS,
            leeway_secs: ID_TOKEN_LEEWAY_SECS,
        };
        let claims: Claims = verify_jwt(id_token, &self.inner.jwks, &expect)
            .await?
            .map_err(invalid)?;
        check_id_token_claims(&claims, client_id, nonce).map_err(invalid)?;
        Ok(claims)
    }

    /// Exchanges the code at the token endpoint and returns the ID token.
    async fn redeem(&self, code: &str, verifier: &str) -> Result<String, IdpError> {
        let inner = &self.inner;
        let url = inner.token_endpoint.to_string();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", inner.config.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ];
        let mut request = inner.http.post(inner.token_endpoint.clone());
        match (inner.auth, inner.config.client_secret.as_deref()) {
            (TokenAuth::Basic, Some(secret)) => {
                // RFC 6749 §2.3.1: both parts are form-encoded before base64.
                let pair = format!(
                    "{}:{}",
                    form_encode(&inner.config.client_id),
                    form_encode(secret)
                );
                request = request.header(
                    reqwest::header::AUTHORIZATION,
                    format!("Basic {}", STANDARD.encode(pair)),
                );
            }
            (TokenAuth::Post, Some(secret)) => {
                form.push(("client_id", &inner.config.client_id));
                form.push(("client_secret", secret));
            }
            _ => form.push(("client_id", &inner.config.client_id)),
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let response = request
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| IdpError::Fetch {
                what: "tokens",
                url: url.clone(),
                reason: describe(&e),
            })?;
        let status = response.status();
        let bytes = read_capped(response, "the token response").await?;
        let json: Option<Map<String, Value>> = serde_json::from_slice(&bytes).ok();
        if !status.is_success() {
            let detail = match &json {
                Some(body) => {
                    let error = body
                        .get("error")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown error");
                    match body.get("error_description").and_then(Value::as_str) {
                        Some(description) => format!("{error}: {}", clip(description)),
                        None => error.to_string(),
                    }
                }
                None => "no OAuth error body".into(),
            };
            return Err(IdpError::TokenEndpoint {
                url,
                status: status.as_u16(),
                detail: format!(
                    "{detail}; codes work once and expire quickly, so start the login again; \
                     if it persists check the client id, secret and redirect URI"
                ),
            });
        }
        let body = json.ok_or_else(|| IdpError::BadDocument {
            what: "the token response",
            url: url.clone(),
            reason: "not a JSON object".into(),
        })?;
        match body.get("id_token").and_then(Value::as_str) {
            Some(id_token) => Ok(id_token.to_string()),
            None => Err(IdpError::BadDocument {
                what: "the token response",
                url,
                reason: "it has no id_token: request the `openid` scope and use an OpenID Connect client".into(),
            }),
        }
    }
}

/// OIDC Core §3.1.3.7 checks jsonwebtoken does not do.
fn check_id_token_claims(claims: &Claims, client_id: &str, nonce: &str) -> Result<(), String> {
    match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => {}
        _ => return Err("no `sub` claim".into()),
    }
    if !claims.get("iat").is_some_and(Value::is_number) {
        return Err("no numeric `iat` claim".into());
    }
    let audiences = match claims.get("aud") {
        Some(Value::Array(items)) => items.len(),
        _ => 1,
    };
    match claims.get("azp") {
        Some(Value::String(azp)) if azp == client_id => {}
        Some(_) => return Err(format!("azp is not `{client_id}`")),
        None if audiences > 1 => {
            return Err("several audiences but no `azp` naming this client".into());
        }
        None => {}
    }
    match claims.get("nonce").and_then(Value::as_str) {
        Some(found) if constant_time_eq(found, nonce) => Ok(()),
        Some(_) => Err("its nonce is not the one this login sent (a replayed token)".into()),
        None => Err("it has no nonce".into()),
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// 256 random bits, base64url: unguessable state, nonce and PKCE verifier (43 chars, RFC 7636).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // Without an OS random source no login can be safe; there is nothing to fall back to.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Provider text goes into our error messages; keep it short and printable.
fn clip(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Claims {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn random_tokens_are_43_unique_base64url_chars() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(a, random_token());
    }

    #[test]
    fn id_token_claims_are_checked() {
        let ok = json!({"sub": "alice", "iat": 1, "aud": "c", "nonce": "n"});
        assert!(check_id_token_claims(&claims(ok), "c", "n").is_ok());
        let replay = json!({"sub": "alice", "iat": 1, "aud": "c", "nonce": "other"});
        assert!(
            check_id_token_claims(&claims(replay), "c", "n")
                .unwrap_err()
                .contains("nonce")
        );
        let no_nonce = json!({"sub": "alice", "iat": 1, "aud": "c"});
        assert!(check_id_token_claims(&claims(no_nonce), "c", "n").is_err());
        let multi = json!({"sub": "alice", "iat": 1, "aud": ["c", "d"], "nonce": "n"});
        assert!(
            check_id_token_claims(&claims(multi), "c", "n")
                .unwrap_err()
                .contains("azp")
        );
        let foreign_azp =
            json!({"sub": "alice", "iat": 1, "aud": ["c", "d"], "azp": "d", "nonce": "n"});
        assert!(check_id_token_claims(&claims(foreign_azp), "c", "n").is_err());
        let no_iat = json!({"sub": "alice", "aud": "c", "nonce": "n"});
        assert!(check_id_token_claims(&claims(no_iat), "c", "n").is_err());
    }

    #[test]
    fn basic_auth_parts_are_form_encoded() {
        assert_eq!(form_encode("a b:c/é"), "a+b%3Ac%2F%C3%A9");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = OidcProviderConfig {
            client_secret: Some("hunter2".into()),
            ..OidcProviderConfig::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
        let pending = PendingLogin {
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "verifier-secret".into(),
        };
        assert!(!format!("{pending:?}").contains("verifier-secret"));
    }
}
