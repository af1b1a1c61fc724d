//! bulwark's built-in OAuth 2.1 authorization server.
//!
//! - [`AuthorizationServer`] serves the endpoints ([`AuthorizationServer::router`])
//!   and verifies the access tokens it issued ([`AuthorizationServer::authenticator`]).
//! - [`OAuthStore`] manages users, clients and signing keys from the CLI,
//!   with or without a running server, in the same database file.
//!
//! Everything lives in `oauth_*` tables of the shared `bulwark.db`. Access
//! tokens are ES256 JWTs verified locally; codes, refresh tokens and client
//! secrets are stored only as SHA-256 hashes. See `docs/oauth.md`.

mod audit;
mod authorize;
mod clients;
mod db;
mod endpoints;
mod error;
mod federation;
mod grants;
mod keys;
mod token;
mod users;
mod util;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use clients::ClientInfo;
pub use error::OAuthError;
pub use federation::FederationConfig;
pub use keys::SigningKeyInfo;
pub use users::{TotpEnrollment, UserInfo};

/// (path, rate-limit budget name) of every endpoint the HTTP server should
/// rate-limit per client IP.
pub const RATE_LIMITED_ENDPOINTS: &[(&str, &str)] = &[
    ("/authorize", "authorize"),
    ("/authorize/mfa", "mfa_verify"),
    ("/oauth/callback", "oauth_callback"),
    ("/token", "token"),
    ("/register", "register"),
    ("/revoke", "revoke"),
    ("/introspect", "introspect"),
];

/// How the authorization server behaves.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The issuer, e.g. `http://127.0.0.1:8080`: an origin without a path or
    /// trailing slash. Also the public origin of the MCP routes.
    pub issuer: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub code_ttl: Duration,
    /// How long a login/consent page stays valid.
    pub login_ttl: Duration,
    /// Scopes announced in the metadata; other requested scopes are dropped.
    /// `profile:*` here makes every `profile:NAME` known.
    pub scopes_supported: Vec<String>,
    /// Accept `http://` loopback Client ID Metadata Document URLs (tests only).
    pub allow_insecure_cimd: bool,
    /// Offer logins through an upstream OpenID Connect provider.
    pub federation: Option<FederationConfig>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            issuer: "http://127.0.0.1:8080".into(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            code_ttl: Duration::from_secs(60),
            login_ttl: Duration::from_secs(10 * 60),
            scopes_supported: vec!["mcp".into(), "profile:*".into(), "tools:destructive".into()],
            allow_insecure_cimd: false,
            federation: None,
        }
    }
}

/// The issuer as an origin: scheme, host and port, no trailing slash.
fn normalise_issuer(issuer: &str) -> Result<String, OAuthError> {
    let url = url::Url::parse(issuer).map_err(|e| {
        OAuthError::Config(format!(
            "issuer `{issuer}` is not a URL ({e}); use e.g. https://bulwark.example.com"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(OAuthError::Config(format!(
            "issuer `{issuer}` must be an http(s) origin without path, query or credentials, e.g. https://bulwark.example.com"
        )));
    }
    Ok(url.origin().ascii_serialization())
}

pub(crate) struct Inner {
    pub config: OAuthConfig,
    pub db: db::Db,
    pub verifier: Arc<token::Verifier>,
    pub pending: authorize::PendingStore,
    pub cimd: clients::CimdFetcher,
    pub audit: Option<bulwark_audit::AuditLog>,
    pub settings: grants::TokenSettings,
    pub last_cleanup: Mutex<Option<Instant>>,
    pub federation: Option<federation::Federation>,
}

/// The authorization server: its HTTP endpoints and its token verifier.
#[derive(Clone)]
pub struct AuthorizationServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("issuer", &self.inner.config.issuer)
            .finish_non_exhaustive()
    }
}

impl AuthorizationServer {
    /// Opens the store (creating tables and, on first use, a signing key).
    pub fn open(
        db_path: &Path,
        mut config: OAuthConfig,
        audit: Option<bulwark_audit::AuditLog>,
    ) -> Result<Self, OAuthError> {
        config.issuer = normalise_issuer(&config.issuer)?;
        for (name, ttl) in [
            ("access_token_ttl", config.access_token_ttl),
            ("refresh_token_ttl", config.refresh_token_ttl),
            ("code_ttl", config.code_ttl),
            ("login_ttl", config.login_ttl),
        ] {
            if ttl.as_secs() == 0 {
                return Err(OAuthError::Config(format!(
                    "{name} must be at least one second"
                )));
            }
        }
        if let Some(f) = &mut config.federation {
            let callback = format!("{}/oauth/callback", config.issuer);
            if f.provider.redirect_uri.is_empty() {
                f.provider.redirect_uri = callback;
            } else if f.provider.redirect_uri != callback {
                return Err(OAuthError::Config(format!(
                    "federation redirect_uri is `{}` but the callback is served at `{callback}`; register that URL with the provider and use it",
                    f.provider.redirect_uri
                )));
            }
        }
        let db = db::Db::open(db_path)?;
        db.with(keys::ensure_active)?;
        let verifier = Arc::new(token::Verifier::new(&config.issuer, db_path)?);
        let settings = grants::TokenSettings {
            issuer: config.issuer.clone(),
            access_ttl: config.access_token_ttl,
            refresh_ttl: config.refresh_token_ttl,
        };
        Ok(AuthorizationServer {
            inner: Arc::new(Inner {
                pending: authorize::PendingStore::new(config.login_ttl),
                cimd: clients::CimdFetcher::new(config.allow_insecure_cimd)?,
                federation: config.federation.clone().map(federation::Federation::new),
                config,
                db,
                verifier,
                audit,
                settings,
                last_cleanup: Mutex::new(None),
            }),
        })
    }

    /// The issuer as served in the metadata.
    pub fn issuer(&self) -> &str {
        &self.inner.config.issuer
    }

    /// Every endpoint, state applied. Mount beside the MCP routes.
    pub fn router(&self) -> axum::Router {
        endpoints::router(self.inner.clone())
    }

    /// Verifies access tokens issued here: locally, without a database read
    /// per request.
    pub fn authenticator(&self) -> Arc<dyn bulwark_server::Authenticator> {
        Arc::new(token::TokenAuthenticator {
            verifier: self.inner.verifier.clone(),
        })
    }
}

/// Users, clients and signing keys, for the CLI. Works without a running
/// server on the same database file.
#[derive(Clone)]
pub struct OAuthStore {
    db: db::Db,
}

impl std::fmt::Debug for OAuthStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthStore").finish_non_exhaustive()
    }
}

impl OAuthStore {
    pub fn open(db_path: &Path) -> Result<Self, OAuthError> {
        Ok(OAuthStore {
            db: db::Db::open(db_path)?,
        })
    }

    /// Adds a user with an argon2id password hash. With `totp`, returns the
    /// secret to enrol in an authenticator app (shown once). Empty `scopes`
    /// means `mcp profile:*`.
    pub fn add_user(
        &self,
        name: &str,
        password: &str,
        totp: bool,
        scopes: &[String],
        tenant: Option<&str>,
    ) -> Result<Option<TotpEnrollment>, OAuthError> {
        self.db
            .with(|c| users::add_user(c, name, password, totp, scopes, tenant))
    }

    pub fn list_users(&self) -> Result<Vec<UserInfo>, OAuthError> {
        self.db.with(|c| users::list_users(c))
    }

    /// Removes the user and revokes every token issued to them; a running
    /// server stops accepting them within a second.
    pub fn remove_user(&self, name: &str) -> Result<(), OAuthError> {
        self.db.with(|c| users::remove_user(c, name)).map(|_| ())
    }

    /// A new key signs from now on; the old one stays published until the
    /// tokens it signed have expired.
    pub fn rotate_signing_key(&self) -> Result<SigningKeyInfo, OAuthError> {
        self.db.with(keys::rotate)
    }

    pub fn list_signing_keys(&self) -> Result<Vec<SigningKeyInfo>, OAuthError> {
        self.db.with(|c| keys::list(c))
    }

    /// Clients registered through `/register` (metadata-document clients are
    /// not stored).
    pub fn list_clients(&self) -> Result<Vec<ClientInfo>, OAuthError> {
        self.db.with(|c| clients::list(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_must_be_an_origin() {
        assert_eq!(
            normalise_issuer("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalise_issuer("https://A.example").unwrap(),
            "https://a.example"
        );
        assert_eq!(
            normalise_issuer("https://a.example:443").unwrap(),
            "https://a.example"
        );
        for bad in [
            "a.example",
            "ftp://a.example",
            "https://a.example/base",
            "https://a.example/?q",
            "https://u@a.example",
        ] {
            assert!(normalise_issuer(bad).is_err(), "{bad}");
        }
    }
}
