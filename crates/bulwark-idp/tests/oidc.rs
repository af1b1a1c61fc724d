//! OIDC federation against a real provider: the `oidc-provider` npm package,
//! run by tests/fixtures/oidc-provider/server.mjs. A reqwest "browser" logs in
//! as alice and consents by posting the provider's HTML forms.
//!
//! Needs Node.js (`BULWARK_NODE`, else `node` on PATH) and `npm ci` in
//! tools/npm; `scripts/test` does both. Missing either fails the tests.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bulwark_idp::{IdpError, OidcClient, OidcProviderConfig, PendingLogin};
use serde_json::{Value, json};
use url::Url;

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
const CLIENT_ID: &str = "bulwark";
const CLIENT_SECRET: &str = "s3cret with spaces:and/colons";
const PUBLIC_CLIENT_ID: &str = "bulwark-public";

// ---------------------------------------------------------------- the provider process

struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn start_provider() -> Provider {
    let root = repo_root();
    let node = std::env::var("BULWARK_NODE").unwrap_or_else(|_| "node".into());
    if !root
        .join("tools/npm/node_modules/oidc-provider/package.json")
        .exists()
    {
        panic!(
            "the npm package oidc-provider is not installed in tools/npm: \
             run scripts/test (it runs `npm ci` in tools/npm), then rerun these tests"
        );
    }
    let mut child = Command::new(&node)
        .arg(root.join("tests/fixtures/oidc-provider/server.mjs"))
        .arg("0")
        .env("OIDC_REDIRECT_URI", REDIRECT_URI)
        .env("OIDC_CLIENT_ID", CLIENT_ID)
        .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
        .env("OIDC_PUBLIC_CLIENT_ID", PUBLIC_CLIENT_ID)
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run Node.js (`{node}`): {e}. Install Node.js (or set BULWARK_NODE to a node binary) \
                 and run scripts/test, which also installs the npm packages these tests need"
            )
        });
    let stderr = Arc::new(Mutex::new(String::new()));
    {
        let mut pipe = child.stderr.take().unwrap();
        let stderr = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                stderr
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    let (ready, issuer) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(issuer) = line.strip_prefix("oidc-provider ready issuer=") {
                let _ = ready.send(issuer.to_string());
            }
        }
    });
    match issuer.recv_timeout(Duration::from_secs(30)) {
        Ok(issuer) => Provider { child, issuer },
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().ok();
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "the OIDC test provider did not start ({status:?}); its stderr:\n{}\n\
                 If node or the npm packages are missing, run scripts/test (it runs `npm ci` in tools/npm).",
                stderr.lock().unwrap()
            );
        }
    }
}

impl Provider {
    fn config(&self, client_id: &str, client_secret: Option<&str>) -> OidcProviderConfig {
        OidcProviderConfig {
            issuer: self.issuer.clone(),
            client_id: client_id.into(),
            client_secret: client_secret.map(str::to_owned),
            redirect_uri: REDIRECT_URI.into(),
            allow_insecure_http: true,
            ..OidcProviderConfig::default()
        }
    }

    async fn confidential(&self) -> OidcClient {
        OidcClient::discover(self.config(CLIENT_ID, Some(CLIENT_SECRET)))
            .await
            .unwrap()
    }
}

// ---------------------------------------------------------------- the "browser"

#[derive(Debug)]
struct Callback {
    code: String,
    state: String,
    iss: Option<String>,
}

/// Follows the provider's redirects and fills its forms until it sends the browser back to us.
async fn log_in(authorization_url: &str, login: &str, password: &str) -> Callback {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = browser.get(authorization_url);
    for _ in 0..12 {
        let response = request.send().await.unwrap();
        let here = response.url().clone();
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers()[reqwest::header::LOCATION]
                .to_str()
                .unwrap();
            let next = here.join(location).unwrap();
            if next.as_str().starts_with(REDIRECT_URI) {
                return callback(&next);
            }
            request = browser.get(next);
            continue;
        }
        let body = response.text().await.unwrap();
        assert!(
            status.is_success(),
            "the provider answered {status} at {here}:\n{body}"
        );
        let form = Form::parse(&body).unwrap_or_else(|| panic!("no form at {here}:\n{body}"));
        let fields: Vec<(String, String)> = form
            .inputs
            .into_iter()
            .map(|(name, value)| match name.as_str() {
                "login" => (name, login.to_string()),
                "password" => (name, password.to_string()),
                _ => (name, value),
            })
            .collect();
        request = browser.post(here.join(&form.action).unwrap()).form(&fields);
    }
    panic!("the login did not come back to {REDIRECT_URI} within 12 steps");
}

fn callback(url: &Url) -> Callback {
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = param("error") {
        panic!(
            "the provider returned an error: {error}: {:?}",
            param("error_description")
        );
    }
    Callback {
        code: param("code").expect("a code in the callback"),
        state: param("state").expect("a state in the callback"),
        iss: param("iss"),
    }
}

/// The first `<form>` of a page: its action and its inputs.
struct Form {
    action: String,
    inputs: Vec<(String, String)>,
}

impl Form {
    fn parse(html: &str) -> Option<Form> {
        let start = html.find("<form")?;
        let end = start + html[start..].find("</form>")?;
        let form = &html[start..end];
        let action = attribute(&form[..form.find('>')?], "action")?;
        let mut inputs = Vec::new();
        let mut rest = form;
        while let Some(at) = rest.find("<input") {
            let tag_end = at + rest[at..].find('>')?;
            let tag = &rest[at..tag_end];
            if let Some(name) = attribute(tag, "name") {
                inputs.push((name, attribute(tag, "value").unwrap_or_default()));
            }
            rest = &rest[tag_end..];
        }
        Some(Form {
            action: unescape(&action),
            inputs,
        })
    }
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

fn unescape(text: &str) -> String {
    text.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
}

fn query(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn confidential_client_logs_alice_in_and_gets_verified_claims() {
    let provider = start_provider();
    let client = provider.confidential().await;
    assert_eq!(client.issuer(), provider.issuer);

    let (url, pending) = client.begin();
    assert_eq!(query(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query(&url, "state").as_deref(),
        Some(pending.state.as_str())
    );
    assert_eq!(
        query(&url, "nonce").as_deref(),
        Some(pending.nonce.as_str())
    );
    assert_eq!(
        query(&url, "scope").as_deref(),
        Some("openid email profile")
    );
    assert!(query(&url, "code_challenge").is_some());
    assert!(
        !url.contains(&pending.pkce_verifier),
        "the verifier never leaves bulwark"
    );

    let callback = log_in(&url, "alice", "wonderland").await;
    assert_eq!(callback.iss.as_deref(), Some(provider.issuer.as_str()));
    let claims = client
        .finish(
            &pending,
            &callback.code,
            &callback.state,
            callback.iss.as_deref(),
        )
        .await
        .unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["iss"], json!(provider.issuer));
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["nonce"], json!(pending.nonce));

    // The code works once.
    let replay = client
        .finish(
            &pending,
            &callback.code,
            &callback.state,
            callback.iss.as_deref(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&replay, IdpError::TokenEndpoint { detail, .. } if detail.contains("invalid_grant")),
        "{replay}"
    );
}

#[tokio::test]
async fn public_client_logs_in_with_pkce_only() {
    let provider = start_provider();
    let client = OidcClient::discover(provider.config(PUBLIC_CLIENT_ID, None))
        .await
        .unwrap();
    let (url, pending) = client.begin();
    let callback = log_in(&url, "alice", "wonderland").await;
    let claims = client
        .finish(
            &pending,
            &callback.code,
            &callback.state,
            callback.iss.as_deref(),
        )
        .await
        .unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], PUBLIC_CLIENT_ID);
    assert_eq!(claims["tenant"], "acme");
}

#[tokio::test]
async fn a_wrong_pkce_verifier_or_secret_is_refused_by_the_provider() {
    let provider = start_provider();
    let client = provider.confidential().await;
    let (url, pending) = client.begin();
    let callback = log_in(&url, "alice", "wonderland").await;
    let other_verifier = PendingLogin {
        pkce_verifier: client.begin().1.pkce_verifier,
        ..pending.clone()
    };
    let error = client
        .finish(
            &other_verifier,
            &callback.code,
            &callback.state,
            callback.iss.as_deref(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, IdpError::TokenEndpoint { status: 400, detail, .. } if detail.contains("invalid_grant")),
        "{error}"
    );

    let wrong_secret = OidcClient::discover(provider.config(CLIENT_ID, Some("not-the-secret")))
        .await
        .unwrap();
    let (url, pending) = wrong_secret.begin();
    let callback = log_in(&url, "alice", "wonderland").await;
    let error = wrong_secret
        .finish(
            &pending,
            &callback.code,
            &callback.state,
            callback.iss.as_deref(),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("invalid_client"), "{error}");
}

#[tokio::test]
async fn a_state_mismatch_is_rejected_before_the_code_is_redeemed() {
    let provider = start_provider();
    let client = provider.confidential().await;
    let (url, pending) = client.begin();
    let callback = log_in(&url, "alice", "wonderland").await;
    let (_, other) = client.begin();
    let error = client
        .finish(
            &pending,
            &callback.code,
            &other.state,
            callback.iss.as_deref(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, IdpError::StateMismatch), "{error}");
    let error = client
        .finish(
            &other,
            &callback.code,
            &callback.state,
            callback.iss.as_deref(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, IdpError::StateMismatch), "{error}");
    // The code was not spent: the right login still finishes.
    let claims = client
        .finish(
            &pending,
            &callback.code,
            &callback.state,
            callback.iss.as_deref(),
        )
        .await
        .unwrap();
    assert_eq!(claims["sub"], "alice");
}

#[tokio::test]
async fn a_wrong_or_missing_iss_is_rejected() {
    let provider = start_provider();
    let client = provider.confidential().await;
    assert!(
        client
            .metadata()
            .authorization_response_iss_parameter_supported
    );
    let (url, pending) = client.begin();
    let callback = log_in(&url, "alice", "wonderland").await;
    let error = client
        .finish(
            &pending,
            &callback.code,
            &callback.state,
            Some("https://evil.example"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, IdpError::IssuerParameterMismatch { .. }),
        "{error}"
    );
    // This provider promises `iss` (RFC 9207), so a callback without one is suspect.
    let error = client
        .finish(&pending, &callback.code, &callback.state, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, IdpError::MissingIssuerParameter { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_nonce_mismatch_is_rejected() {
    let provider = start_provider();
    let client = provider.confidential().await;
    let (url, pending) = client.begin();
    let callback = log_in(&url, "alice", "wonderland").await;
    // Same state and verifier, another nonce: the ID token is not from this login.
    let replayed = PendingLogin {
        nonce: client.begin().1.nonce,
        ..pending
    };
    let error = client
        .finish(
            &replayed,
            &callback.code,
            &callback.state,
            callback.iss.as_deref(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, IdpError::InvalidIdToken { reason, .. } if reason.contains("nonce")),
        "{error}"
    );
}

#[tokio::test]
async fn a_tampered_id_token_is_rejected() {
    let provider = start_provider();
    let client = provider.confidential().await;
    let (url, pending) = client.begin();
    let callback = log_in(&url, "alice", "wonderland").await;
    // Redeem the code by hand to hold the raw ID token.
    let token_endpoint = client.metadata().token_endpoint.clone().unwrap();
    let response: Value = reqwest::Client::new()
        .post(token_endpoint)
        .basic_auth(
            url::form_urlencoded::byte_serialize(CLIENT_ID.as_bytes()).collect::<String>(),
            Some(
                url::form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect::<String>(),
            ),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &callback.code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &pending.pkce_verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = response["id_token"]
        .as_str()
        .expect("an id_token")
        .to_string();
    let claims = client
        .verify_id_token(&id_token, &pending.nonce)
        .await
        .unwrap();
    assert_eq!(claims["sub"], "alice");

    let parts: Vec<&str> = id_token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("mallory");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    let error = client
        .verify_id_token(&tampered, &pending.nonce)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, IdpError::InvalidIdToken { reason, .. } if reason.contains("bad signature")),
        "{error}"
    );

    // The genuine token for another client is not ours either.
    let public = OidcClient::discover(provider.config(PUBLIC_CLIENT_ID, None))
        .await
        .unwrap();
    let error = public
        .verify_id_token(&id_token, &pending.nonce)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("aud"), "{error}");
}

#[tokio::test]
async fn discovery_checks_the_issuer_and_the_scheme() {
    let provider = start_provider();
    let mut config = provider.config(CLIENT_ID, Some(CLIENT_SECRET));
    config.issuer.push('/');
    let error = OidcClient::discover(config).await.unwrap_err();
    assert!(matches!(error, IdpError::IssuerMismatch { .. }), "{error}");

    let mut config = provider.config(CLIENT_ID, Some(CLIENT_SECRET));
    config.allow_insecure_http = false;
    let error = OidcClient::discover(config).await.unwrap_err();
    assert!(matches!(error, IdpError::InsecureUrl { .. }), "{error}");

    let mut config = provider.config("", None);
    config.client_id.clear();
    let error = OidcClient::discover(config).await.unwrap_err();
    assert!(error.to_string().contains("client_id"), "{error}");
}

#[tokio::test]
async fn a_wrong_password_stays_on_the_login_page() {
    let provider = start_provider();
    let client = provider.confidential().await;
    let (url, _) = client.begin();
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap();
    let page = browser.get(&url).send().await.unwrap();
    let here = page.url().clone();
    let form = Form::parse(&page.text().await.unwrap()).unwrap();
    let response = browser
        .post(here.join(&form.action).unwrap())
        .form(&[("login", "alice"), ("password", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.text().await.unwrap().contains("wrong password"));
}
