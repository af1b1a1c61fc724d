//! OAuth for Streamable HTTP upstreams, on rmcp's client auth: discovery from the 401's
//! `WWW-Authenticate` (RFC 9728, then RFC 8414 / OIDC), client registration (a configured client
//! id, else a client metadata document URL when the server takes one, else RFC 7591 DCR), the
//! authorization code flow with PKCE, and refresh.
//!
//! Where the tokens live is the caller's business ([`TokenVault`]); the gateway keeps them sealed
//! in its store. [`login`] runs the interactive flow once; connections made with
//! [`crate::ConnectOptions::oauth`] use the stored tokens, refresh them when they expire or the
//! server rejects them, and fail with [`UpstreamError::LoginRequired`] when only a new login helps.

use std::sync::Arc;
use std::time::Duration;

use rmcp::transport::auth::{
    AuthClient, AuthError, AuthorizationManager, AuthorizationRequest, AuthorizationSession,
    CredentialStore, StoredCredentials,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::UpstreamError;
use crate::http::chain;

/// Somewhere to keep one upstream's OAuth state (client id, tokens) as an opaque string.
/// Calls are short and synchronous (a row in a database, a file).
pub trait TokenVault: Send + Sync {
    fn load(&self) -> Result<Option<String>, String>;
    fn save(&self, value: &str) -> Result<(), String>;
    fn clear(&self) -> Result<(), String>;
}

/// Connect to an upstream with the OAuth tokens kept for it.
#[derive(Clone)]
pub struct OAuthConnect {
    /// The upstream's name, for the `bulwark upstream login NAME` hint.
    pub name: String,
    pub vault: Arc<dyn TokenVault>,
}

impl std::fmt::Debug for OAuthConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConnect")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How to run [`login`].
#[derive(Debug, Clone, Default)]
pub struct LoginOptions {
    /// A client id registered with the authorization server by hand; without one, bulwark
    /// registers itself (DCR) or uses `client_metadata_url`.
    pub client_id: Option<String>,
    /// An HTTPS URL of a client ID metadata document, used as the client id when the server
    /// supports that (`client_id_metadata_document_supported`).
    pub client_metadata_url: Option<String>,
    /// Scopes to ask for; empty lets the server's challenge and metadata decide.
    pub scopes: Vec<String>,
    /// How long to wait for the browser's redirect.
    pub timeout: Duration,
}

/// What a finished login got.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub client_id: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
}

/// rmcp's credential store over a [`TokenVault`]: rmcp's stored credentials as JSON.
struct VaultStore(Arc<dyn TokenVault>);

fn store_error(e: impl std::fmt::Display) -> AuthError {
    AuthError::CredentialStoreError(e.to_string())
}

#[async_trait::async_trait]
impl CredentialStore for VaultStore {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        match self.0.load().map_err(store_error)? {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json).map(Some).map_err(store_error),
        }
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        let json = serde_json::to_string(&credentials).map_err(store_error)?;
        self.0.save(&json).map_err(store_error)
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.0.clear().map_err(store_error)
    }
}

fn login_required(name: &str, url: &str, reason: impl Into<String>) -> UpstreamError {
    UpstreamError::LoginRequired {
        name: name.to_owned(),
        url: url.to_owned(),
        reason: reason.into(),
    }
}

fn oauth_failed(url: &str, error: &AuthError) -> UpstreamError {
    UpstreamError::OAuth {
        url: url.to_owned(),
        detail: chain(error),
    }
}

/// rmcp's HTTP client wrapped so that every request carries the stored access token, refreshed
/// when needed. Fails without a network round trip to the MCP server when nothing is stored.
pub(crate) async fn authorized_client(
    url: &str,
    oauth: &OAuthConnect,
    client: reqwest::Client,
) -> Result<AuthClient<reqwest::Client>, UpstreamError> {
    if oauth
        .vault
        .load()
        .map_err(|e| UpstreamError::OAuth {
            url: url.to_owned(),
            detail: e,
        })?
        .is_none()
    {
        return Err(login_required(
            &oauth.name,
            url,
            "no OAuth tokens are stored for it",
        ));
    }
    let mut manager = AuthorizationManager::new(url)
        .await
        .map_err(|e| oauth_failed(url, &e))?;
    manager.set_credential_store(VaultStore(oauth.vault.clone()));
    match manager.initialize_from_store().await {
        Ok(true) => Ok(AuthClient::new(client, manager)),
        Ok(false) => Err(login_required(
            &oauth.name,
            url,
            "the stored tokens were issued by another authorization server",
        )),
        Err(e) => Err(oauth_failed(url, &e)),
    }
}

/// The `WWW-Authenticate` challenge of an unauthenticated `initialize`, if the server sends one.
async fn probe_challenge(
    url: &str,
    client: &reqwest::Client,
) -> Result<Option<String>, UpstreamError> {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "bulwark", "version": env!("CARGO_PKG_VERSION")}
        }
    });
    let response = client
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .json(&body)
        .send()
        .await
        .map_err(|e| UpstreamError::Connect {
            url: url.to_owned(),
            detail: chain(&e),
        })?;
    if response.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Ok(None);
    }
    Ok(response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned))
}

/// Run the authorization code flow with PKCE against the HTTP upstream at `url` and store the
/// tokens in `oauth.vault`. `show_url` gets the URL to open in a browser; the redirect comes back
/// to a listener on 127.0.0.1 (a random port) within `options.timeout`.
pub async fn login(
    url: &str,
    oauth: &OAuthConnect,
    options: &LoginOptions,
    show_url: impl FnOnce(&str),
) -> Result<LoginOutcome, UpstreamError> {
    crate::http::check_url(url)?;
    crate::http::install_crypto_provider();
    let name = oauth.name.as_str();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("bulwark/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| UpstreamError::Connect {
            url: url.to_owned(),
            detail: chain(&e),
        })?;
    let challenge = probe_challenge(url, &client).await?;

    let mut manager = AuthorizationManager::new(url)
        .await
        .map_err(|e| oauth_failed(url, &e))?;
    let resolution = manager
        .resolve_metadata_from_challenge(challenge.as_deref())
        .await
        .map_err(|e| oauth_failed(url, &e))?;
    if !resolution.source.is_discovered() {
        return Err(UpstreamError::OAuth {
            url: url.to_owned(),
            detail: "the server publishes no OAuth metadata (no RFC 9728 protected resource \
                     metadata, no RFC 8414 authorization server metadata); it does not look like \
                     an OAuth-protected MCP server, so use a static header \
                     (`--header 'Authorization: Bearer …'`) instead"
                .to_owned(),
        });
    }
    let can_register = resolution.metadata.registration_endpoint.is_some()
        || (options.client_metadata_url.is_some()
            && resolution
                .metadata
                .additional_fields
                .get("client_id_metadata_document_supported")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false));
    if options.client_id.is_none() && !can_register {
        return Err(UpstreamError::OAuth {
            url: url.to_owned(),
            detail: format!(
                "the authorization server ({}) offers no dynamic client registration; register \
                 a client there with the redirect URI http://127.0.0.1/callback (any port) and \
                 set its id as `client_id` of upstream `{name}`",
                resolution.metadata.authorization_endpoint
            ),
        });
    }
    manager.set_metadata(resolution.metadata);
    manager.set_credential_store(VaultStore(oauth.vault.clone()));

    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| UpstreamError::OAuth {
            url: url.to_owned(),
            detail: format!("cannot listen on 127.0.0.1 for the redirect: {e}"),
        })?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");

    let mut request = AuthorizationRequest::new(&redirect_uri).with_client_name("bulwark");
    if let Some(challenge) = &challenge {
        request = request.with_challenge(challenge.clone());
    }
    if !options.scopes.is_empty() {
        request = request.with_scopes(options.scopes.iter().cloned());
    }
    if let Some(id) = &options.client_id {
        request = request.with_preregistered_client(id.clone());
    }
    if let Some(doc) = &options.client_metadata_url {
        request = request.with_client_metadata_url(doc.clone());
    }
    let session = AuthorizationSession::new(manager, request)
        .await
        .map_err(|(_, e)| oauth_failed(url, &e))?;
    let auth_url = session.get_authorization_url().to_owned();
    let expected_state = query_param(&auth_url, "state").unwrap_or_default();
    show_url(&auth_url);

    let redirect = tokio::time::timeout(options.timeout, wait_for_redirect(&listener))
        .await
        .map_err(|_| UpstreamError::OAuth {
            url: url.to_owned(),
            detail: format!(
                "no redirect reached {redirect_uri} within {} s; open the printed URL in a \
                 browser on this machine and finish the login there, or give more time with \
                 `--timeout`",
                options.timeout.as_secs()
            ),
        })?;
    let (mut stream, target) = redirect;
    let callback = format!("http://127.0.0.1:{port}{target}");
    let answer = finish(&session, &callback, &expected_state, url, name).await;
    let page = match &answer {
        Ok(_) => (
            200,
            "bulwark is logged in; you can close this page.".to_owned(),
        ),
        Err(e) => (400, format!("bulwark could not log in: {e}")),
    };
    respond(&mut stream, page.0, &page.1).await;
    answer
}

/// Check the redirect and exchange its code for tokens (which the session saves in the vault).
async fn finish(
    session: &AuthorizationSession,
    callback: &str,
    expected_state: &str,
    url: &str,
    name: &str,
) -> Result<LoginOutcome, UpstreamError> {
    let fail = |detail: String| UpstreamError::OAuth {
        url: url.to_owned(),
        detail,
    };
    if let Some(error) = query_param(callback, "error") {
        let description = query_param(callback, "error_description").unwrap_or_default();
        return Err(fail(format!(
            "the authorization server refused: {error} {description}; run `bulwark upstream \
             login {name}` again"
        )));
    }
    let state = query_param(callback, "state").unwrap_or_default();
    if expected_state.is_empty() || state != expected_state {
        return Err(fail(format!(
            "the redirect's `state` does not match this login (it belongs to another login or \
             was forged), so its code was not used; run `bulwark upstream login {name}` again"
        )));
    }
    session
        .handle_callback_url(callback)
        .await
        .map_err(|e| oauth_failed(url, &e))?;
    let credentials = session
        .get_credentials()
        .await
        .map_err(|e| oauth_failed(url, &e))?;
    Ok(LoginOutcome {
        client_id: credentials.0,
        scopes: session.auth_manager.get_current_scopes().await,
    })
}

/// The first `GET /callback…` that reaches the listener; other paths get a 404 and are ignored
/// (a browser asks for /favicon.ico, for one).
async fn wait_for_redirect(listener: &TcpListener) -> (TcpStream, String) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let Some(target) = read_request_target(&mut stream).await else {
            respond(&mut stream, 400, "bad request").await;
            continue;
        };
        if target == "/callback" || target.starts_with("/callback?") {
            return (stream, target);
        }
        respond(&mut stream, 404, "not found").await;
    }
}

/// The request target of `GET <target> HTTP/1.x`, reading at most 16 KiB for at most 10 s.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()??;
    let head = String::from_utf8_lossy(&buf);
    let mut words = head.lines().next()?.split(' ');
    match (words.next(), words.next(), words.next()) {
        (Some("GET"), Some(target), Some(version)) if version.starts_with("HTTP/1.") => {
            Some(target.to_owned())
        }
        _ => None,
    }
}

async fn respond(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>bulwark</title><p>{}</p>\n",
        html_escape(text)
    );
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\n\
         content-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn query_param(url: &str, key: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let url = "http://127.0.0.1:1/callback?code=a%2Fb&state=s+1";
        assert_eq!(query_param(url, "code").as_deref(), Some("a/b"));
        assert_eq!(query_param(url, "state").as_deref(), Some("s 1"));
        assert_eq!(query_param(url, "iss"), None);
    }

    #[tokio::test]
    async fn the_listener_ignores_other_paths_and_returns_the_callback() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            for path in ["/favicon.ico", "/callback?code=c&state=s"] {
                let mut s = TcpStream::connect(addr).await.unwrap();
                s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
                    .await
                    .unwrap();
                let mut answer = String::new();
                s.read_to_string(&mut answer).await.unwrap();
                if path == "/favicon.ico" {
                    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
                }
            }
        });
        let (mut stream, target) = wait_for_redirect(&listener).await;
        assert_eq!(target, "/callback?code=c&state=s");
        respond(&mut stream, 200, "ok <b>").await;
        client.await.unwrap();
    }
}
