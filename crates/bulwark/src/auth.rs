//! Wiring of authentication: the configured methods become authenticators,
//! and `bulwark auth key ...` manages API keys in the data directory's store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use bulwark_server::{AuthConfig, Authenticator, ExtraRoutes, Principal};
use bulwark_store::Store;

use std::process::ExitCode;

use crate::cli::{ClientCommand, SigningKeyCommand, UserCommand};
use crate::config::{AuthMethod, Config};

/// The store every bulwark process on this data directory shares.
pub fn store_path(data_dir: &Path) -> PathBuf {
    data_dir.join("bulwark.db")
}

/// The key that seals stored tenant credentials, apart from the database.
pub fn secrets_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("secrets.key")
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
    profiles: &[String],
    audit: Option<&bulwark_audit::AuditLog>,
) -> Result<HttpSecurity> {
    use crate::config::TenantCredentialSource as Source;
    let source = config.auth.tenant_credentials;
    let mut auth = AuthConfig {
        authorization_servers: config.auth.authorization_servers.clone(),
        tenant_headers: config.auth.tenant_headers,
        credential_headers: source != Source::Store,
        ..Default::default()
    };
    // One connection for the API keys and the tenant credentials.
    let mut opened: Option<Store> = None;
    let mut store = || -> Result<Store> {
        if opened.is_none() {
            opened = Some(open_store(data_dir)?);
        }
        Ok(opened
            .clone()
            .unwrap_or_else(|| unreachable!("opened just above")))
    };
    // Without authentication or tenant headers no request names a tenant.
    let tenants_possible = config.auth.tenant_headers || config.auth.required();
    if source != Source::Headers && tenants_possible {
        let key = secrets_key_path(data_dir);
        let vault = store()?
            .credential_vault(&key)
            .context("cannot use the stored tenant credentials; or set `auth.tenant_credentials = \"headers\"` to take them from request headers only")?;
        auth.tenant_credentials = Some(Arc::new(StoredCredentials(vault)));
    }
    let mut extra = None;
    for method in &config.auth.methods {
        match method {
            AuthMethod::None => {}
            AuthMethod::ApiKey => {
                auth.authenticators.push(Arc::new(ApiKeys(store()?)));
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
                let server = authorization_server(config, data_dir, local, profiles, audit)?;
                auth.authenticators.push(server.authenticator());
                if !auth
                    .authorization_servers
                    .iter()
                    .any(|s| s == server.issuer())
                {
                    auth.authorization_servers.push(server.issuer().to_string());
                }
                extra = Some(ExtraRoutes {
                    router: server.router(),
                    limited: bulwark_oauth::RATE_LIMITED_ENDPOINTS
                        .iter()
                        .map(|(path, budget)| (path.to_string(), budget.to_string()))
                        .collect(),
                });
            }
        }
    }
    Ok(HttpSecurity { auth, extra })
}

/// The built-in authorization server, from `[auth.oauth]`.
fn authorization_server(
    config: &Config,
    data_dir: &Path,
    local: SocketAddr,
    profiles: &[String],
    audit: Option<&bulwark_audit::AuditLog>,
) -> Result<bulwark_oauth::AuthorizationServer> {
    let section = &config.auth.oauth;
    let issuer = match &section.issuer {
        Some(issuer) => issuer.clone(),
        None if local.ip().is_unspecified() => anyhow::bail!(
            "bulwark listens on {local}, every address, so it cannot tell which one clients use: \
             set `auth.oauth.issuer` to the public origin, e.g. https://bulwark.example.com"
        ),
        None => format!("http://{local}"),
    };
    let mut scopes_supported = vec!["mcp".to_string(), "profile:*".to_string()];
    scopes_supported.extend(profiles.iter().map(|p| format!("profile:{p}")));
    scopes_supported.push("tools:destructive".into());
    let federation = section
        .federation
        .as_ref()
        .map(|f| bulwark_oauth::FederationConfig {
            provider: bulwark_idp::OidcProviderConfig {
                issuer: f.issuer.clone(),
                client_id: f.client_id.clone(),
                client_secret: f.client_secret.clone(),
                // Empty: the authorization server fills in its own callback.
                redirect_uri: String::new(),
                scopes: f.scopes.clone(),
                allow_insecure_http: f.allow_insecure_http,
            },
            subject_claim: f.subject_claim.clone(),
            tenant_claim: f.tenant_claim.clone(),
            scopes: f.grant_scopes.clone(),
            label: f.label.clone(),
        });
    let oauth = bulwark_oauth::OAuthConfig {
        issuer,
        access_token_ttl: std::time::Duration::from_secs(section.access_token_ttl_secs),
        refresh_token_ttl: std::time::Duration::from_secs(section.refresh_token_ttl_secs),
        scopes_supported,
        allow_insecure_cimd: section.allow_insecure_cimd,
        federation,
        ..Default::default()
    };
    bulwark_oauth::AuthorizationServer::open(&store_path(data_dir), oauth, audit.cloned())
        .map_err(|e| anyhow::anyhow!("cannot start the authorization server: {e}"))
}

fn oauth_store(config: &Config) -> Result<bulwark_oauth::OAuthStore> {
    let path = store_path(&crate::config::data_dir(config));
    bulwark_oauth::OAuthStore::open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open the store at {}: {e}", path.display()))
}

/// `bulwark auth user ...`.
pub fn users(config: &Config, command: UserCommand) -> Result<ExitCode> {
    let store = oauth_store(config)?;
    match command {
        UserCommand::Add {
            name,
            password_stdin: _,
            totp,
            scopes,
            tenant,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                anyhow::bail!(
                    "no password on stdin; pipe one in, e.g. `printf '%s\\n' \"$PW\" | bulwark auth user add {name} --password-stdin`"
                );
            }
            let scopes: Vec<String> = scopes.into_iter().map(|s| s.trim().to_string()).collect();
            let enrollment = store.add_user(&name, password, totp, &scopes, tenant.as_deref())?;
            println!("added user `{name}` with scopes {}", scopes.join(","));
            if let Some(enrollment) = enrollment {
                println!("TOTP secret (base32): {}", enrollment.secret_base32);
                println!("load this URI into an authenticator app; it is shown only once:");
                println!("{}", enrollment.otpauth_uri);
            }
        }
        UserCommand::List { json } => {
            let users = store.list_users()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                for user in users {
                    println!(
                        "{:20}  {:30}  totp {:3}  tenant {}  created {}",
                        user.name,
                        user.scopes.join(","),
                        if user.totp { "on" } else { "off" },
                        user.tenant.as_deref().unwrap_or("-"),
                        user.created_at
                    );
                }
            }
        }
        UserCommand::Remove { name } => {
            store.remove_user(&name)?;
            println!("removed user `{name}` and revoked their tokens");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `bulwark auth signing-key ...`.
pub fn signing_keys(config: &Config, command: SigningKeyCommand) -> Result<ExitCode> {
    let store = oauth_store(config)?;
    match command {
        SigningKeyCommand::Rotate => {
            let key = store.rotate_signing_key()?;
            println!(
                "new signing key {}; the previous one stays published until its tokens expire",
                key.kid
            );
        }
        SigningKeyCommand::List { json } => {
            let keys = store.list_signing_keys()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                for key in keys {
                    println!(
                        "{}  created {}  {}",
                        key.kid,
                        key.created_at,
                        if key.active {
                            "active".to_string()
                        } else {
                            format!("retired {}", key.retired_at.as_deref().unwrap_or("-"))
                        }
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `bulwark auth client ...`.
pub fn clients(config: &Config, command: ClientCommand) -> Result<ExitCode> {
    let store = oauth_store(config)?;
    match command {
        ClientCommand::List { json } => {
            let clients = store.list_clients()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&clients)?);
            } else {
                for client in clients {
                    println!(
                        "{}  {:24}  {}  created {}",
                        client.client_id,
                        client.client_name.as_deref().unwrap_or("-"),
                        client.redirect_uris.join(" "),
                        client.created_at
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
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
                id: key.name.clone(),
                scopes: key.scopes.clone(),
                tenant: key.tenant.clone(),
                method: "api-key",
                client_id: None,
            }))
        })
    }
}

/// Tenant credentials from the store, decrypted with the data dir's
/// `secrets.key`. Inline like the API keys: a hit is one short lock.
struct StoredCredentials(bulwark_store::CredentialVault);

impl bulwark_server::TenantCredentials for StoredCredentials {
    fn credentials(&self, tenant: &str) -> Result<Option<bulwark_server::Credentials>, String> {
        self.0.credentials_for(tenant).map_err(|e| e.to_string())
    }
}
