//! Wiring of authentication: the configured methods become authenticators,
//! and `bulwark auth key ...` manages API keys in the data directory's store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use bulwark_server::{AuthConfig, Authenticator, ExtraRoutes, Principal};
use bulwark_store::Store;

use crate::config::{AuthMethod, Config};

/// The store every bulwark process on this data directory shares.
pub fn store_path(data_dir: &Path) -> PathBuf {
    data_dir.join("bulwark.db")
}

pub fn open_store(data_dir: &Path) -> Result<Store> {
    let path = store_path(data_dir);
    Store::open(&path).with_context(|| format!("cannot open the store at {}", path.display()))
}

/// What `bulwark serve --http` needs for security: the authenticators, and
/// the authorization server's routes when it runs one.
pub struct HttpSecurity {
    pub auth: AuthConfig,
    pub extra: Option<ExtraRoutes>,
}

/// The HTTP authentication of `bulwark serve`, from the configuration.
/// `local` is the address actually bound (the default OAuth issuer).
pub fn http_security(
    config: &Config,
    data_dir: &Path,
    local: SocketAddr,
    audit: Option<&bulwark_audit::AuditLog>,
) -> Result<HttpSecurity> {
    let _ = (local, audit);
    let mut auth = AuthConfig {
        authorization_servers: config.auth.authorization_servers.clone(),
        tenant_headers: config.auth.tenant_headers,
        ..Default::default()
    };
    let extra = None;
    for method in &config.auth.methods {
        match method {
            AuthMethod::None => {}
            AuthMethod::ApiKey => {
                let store = open_store(data_dir)?;
                auth.authenticators.push(Arc::new(ApiKeys(store)));
            }
            AuthMethod::Jwt => {
                let jwt = config.auth.jwt.as_ref().context(
                    "auth method `jwt` needs an `[auth.jwt]` section with at least `issuer`",
                )?;
                let mut idp = bulwark_idp::JwtConfig::new(jwt.issuer.clone());
                idp.jwks_url = jwt.jwks_url.clone();
                idp.audiences = jwt.audiences.clone();
                idp.subject_claim = jwt.subject_claim.clone();
                idp.scope_claim = jwt.scope_claim.clone();
                idp.tenant_claim = jwt.tenant_claim.clone();
                idp.default_scopes = jwt.default_scopes.clone();
                idp.allow_insecure_http = jwt.allow_insecure_http;
                let verifier = bulwark_idp::JwtAuthenticator::new(idp)
                    .map_err(|e| anyhow::anyhow!("`[auth.jwt]`: {e}"))?;
                auth.authenticators.push(Arc::new(verifier));
                if !auth.authorization_servers.contains(&jwt.issuer) {
                    auth.authorization_servers.push(jwt.issuer.clone());
                }
            }
            AuthMethod::Oauth => {
                anyhow::bail!("auth method `oauth` is not available in this build yet")
            }
        }
    }
    Ok(HttpSecurity { auth, extra })
}

/// API keys from the store: `Authorization: Bearer bwk_...`.
struct ApiKeys(Store);

impl Authenticator for ApiKeys {
    fn authenticate(
        &self,
        credential: &str,
        _target: &bulwark_server::AuthTarget,
    ) -> bulwark_core::BoxFuture<Result<Option<Principal>, String>> {
        // Not one of ours: let the next authenticator look at it.
        if !credential.starts_with("bwk_") {
            return Box::pin(std::future::ready(Ok(None)));
        }
        // One indexed SQLite read of a few microseconds: done inline, because a
        // hop to the blocking pool costs more than the read itself.
        let found = self.0.verify_api_key(credential).map_err(|e| e.to_string());
        Box::pin(async move {
            let found = found?;
            Ok(found.map(|key| Principal {
                id: key.name,
                scopes: key.scopes,
                tenant: key.tenant,
                method: "api-key",
                client_id: None,
            }))
        })
    }
}
