//! A real authorization server on a loopback port, driven over HTTP the way
//! a browser and an MCP client would (no redirects followed, cookies by hand).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bulwark_audit::{AuditLog, AuditOptions};
use bulwark_oauth::{AuthorizationServer, OAuthConfig, OAuthStore};
use bulwark_server::{AuthTarget, Principal};
use serde_json::Value;
use sha2::Digest;

pub const PASSWORD: &str = "correct horse battery";
pub const REDIRECT: &str = "http://127.0.0.1:7777/callback";

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub server: AuthorizationServer,
    pub store: OAuthStore,
    pub http: reqwest::Client,
    pub audit: AuditLog,
    pub db_path: PathBuf,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Serves `router` on a fresh loopback port; returns its origin.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut OAuthConfig)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("bulwark.db");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut config = OAuthConfig {
            issuer: base.clone(),
            scopes_supported: vec![
                "mcp".into(),
                "profile:*".into(),
                "profile:core".into(),
                "profile:all".into(),
                "tools:destructive".into(),
            ],
            ..OAuthConfig::default()
        };
        tweak(&mut config);
        let audit = AuditLog::open(AuditOptions::new(dir.path().join("audit.jsonl"))).unwrap();
        let server = AuthorizationServer::open(&db_path, config, Some(audit.clone())).unwrap();
        let router = server.router();
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        let store = OAuthStore::open(&db_path).unwrap();
        Harness {
            dir,
            base,
            server,
            store,
            http: client(),
            audit,
            db_path,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Audit events of one type, after everything queued is written.
    pub async fn events(&self, event_type: &str) -> Vec<Value> {
        self.audit.flush().await.unwrap();
        let text = std::fs::read_to_string(self.dir.path().join("audit.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["event_type"] == event_type)
            .collect()
    }

    pub fn audit_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("audit.jsonl")).unwrap_or_default()
    }

    pub async fn register(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/register"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A registered public client with one redirect URI.
    pub async fn public_client(&self, redirect: &str) -> Client {
        let r = self
            .register(serde_json::json!({
                "redirect_uris": [redirect], "client_name": "Test App",
                "token_endpoint_auth_method": "none",
            }))
            .await;
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        Client {
            id: body["client_id"].as_str().unwrap().into(),
            secret: None,
            redirect: redirect.into(),
        }
    }

    pub async fn confidential_client(&self, redirect: &str) -> Client {
        let r = self
            .register(serde_json::json!({
                "redirect_uris": [redirect], "client_name": "Confidential App",
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code", "refresh_token"],
            }))
            .await;
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        Client {
            id: body["client_id"].as_str().unwrap().into(),
            secret: Some(body["client_secret"].as_str().unwrap().into()),
            redirect: redirect.into(),
        }
    }

    pub fn add_user(&self, name: &str, totp: bool) -> Option<bulwark_oauth::TotpEnrollment> {
        self.store
            .add_user(name, PASSWORD, totp, &[], None)
            .unwrap()
    }

    pub async fn get_authorize(
        &self,
        query: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .get(self.url("/authorize"))
            .query(query)
            .header("accept", "text/html");
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    /// GET /authorize with a good request; the login page's pending id and cookie.
    pub async fn begin(&self, client: &Client, pkce: &Pkce, extra: &[(&str, &str)]) -> Login {
        let mut q = vec![
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", client.redirect.as_str()),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "st-123"),
        ];
        q.extend_from_slice(extra);
        let r = self.get_authorize(&q, None).await;
        assert_eq!(r.status(), 200, "{:?}", r.headers().get("location"));
        login_from(r).await
    }

    pub async fn post_form(
        &self,
        path: &str,
        login: &Login,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = vec![("pending", login.pending.as_str())];
        form.extend_from_slice(fields);
        self.http
            .post(self.url(path))
            .header("cookie", &login.cookie)
            .header("accept", "text/html")
            .header("user-agent", "bulwark-oauth-tests")
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Password (and TOTP if given), then approve; the code from the redirect.
    pub async fn login_and_approve(
        &self,
        login: &Login,
        user: &str,
        totp: Option<&totp_rs::TOTP>,
    ) -> String {
        let r = self
            .post_form(
                "/authorize",
                login,
                &[("username", user), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        if let Some(t) = totp {
            assert!(page.contains("name=\"code\""), "{page}");
            let code = t.generate_current().unwrap();
            let r = self
                .post_form("/authorize/mfa", login, &[("code", &code)])
                .await;
            assert_eq!(r.status(), 200);
        } else {
            assert!(page.contains("name=\"decision\""), "{page}");
        }
        let r = self
            .post_form("/authorize/consent", login, &[("decision", "approve")])
            .await;
        assert_eq!(r.status(), 302);
        let location = location(&r);
        let q = query_of(&location);
        assert_eq!(q.get("state").map(String::as_str), Some("st-123"));
        assert_eq!(q.get("iss").map(String::as_str), Some(self.base.as_str()));
        q.get("code").cloned().expect("a code in the redirect")
    }

    pub async fn token(&self, client: &Client, form: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.post(self.url("/token"));
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        match &client.secret {
            Some(secret) => req = req.basic_auth(&client.id, Some(secret)),
            None => fields.push(("client_id", &client.id)),
        }
        req.form(&fields).send().await.unwrap()
    }

    pub async fn exchange(&self, client: &Client, code: &str, pkce: &Pkce) -> reqwest::Response {
        self.token(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", &pkce.verifier),
                ("redirect_uri", &client.redirect),
            ],
        )
        .await
    }

    /// Register, authorize, log in and exchange: a token response.
    pub async fn tokens_for(&self, client: &Client, user: &str, extra: &[(&str, &str)]) -> Value {
        let pkce = Pkce::new();
        let login = self.begin(client, &pkce, extra).await;
        let code = self.login_and_approve(&login, user, None).await;
        let r = self.exchange(client, &code, &pkce).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn check(&self, token: &str, path: &str) -> Option<Principal> {
        check_with(&self.server, &self.base, token, path).await
    }
}

pub async fn check_with(
    server: &AuthorizationServer,
    base: &str,
    token: &str,
    path: &str,
) -> Option<Principal> {
    let target = AuthTarget {
        path: path.into(),
        resource: format!("{base}{path}"),
    };
    server
        .authenticator()
        .authenticate(token, &target)
        .await
        .unwrap()
}

#[derive(Clone)]
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
    pub redirect: String,
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).unwrap();
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

pub struct Login {
    pub pending: String,
    pub cookie: String,
    pub page: String,
}

pub async fn login_from(r: reqwest::Response) -> Login {
    let cookie = r
        .headers()
        .get("set-cookie")
        .expect("the login page sets the browser cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = r.text().await.unwrap();
    let start = page
        .find("name=\"pending\" value=\"")
        .expect("hidden pending field")
        + 22;
    let end = start + page[start..].find('"').unwrap();
    Login {
        pending: page[start..end].to_string(),
        cookie,
        page,
    }
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_string()
}

pub fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn totp_of(enrollment: &bulwark_oauth::TotpEnrollment) -> totp_rs::TOTP {
    totp_rs::TOTP::from_url(&enrollment.otpauth_uri).unwrap()
}
