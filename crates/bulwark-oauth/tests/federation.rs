//! Federated login against a tiny in-test OpenID provider on loopback: the
//! login page's button → provider → /oauth/callback → consent → tokens.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bulwark_idp::OidcProviderConfig;
use bulwark_oauth::FederationConfig;
use common::*;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{Value, json};

#[derive(Clone)]
struct Idp {
    issuer: String,
    pkcs8: Vec<u8>,
    x: String,
    y: String,
    /// code → nonce
    codes: Arc<Mutex<HashMap<String, String>>>,
}

async fn start_idp() -> Idp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    let key = p256::SecretKey::from_slice(&bytes).unwrap();
    let point = key.public_key().to_encoded_point(false);
    let idp = Idp {
        issuer,
        pkcs8: p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&key)
            .unwrap()
            .as_bytes()
            .to_vec(),
        x: URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        y: URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        codes: Arc::default(),
    };
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(idp): State<Idp>| async move {
                let i = &idp.issuer;
                axum::Json(json!({
                    "issuer": i,
                    "authorization_endpoint": format!("{i}/auth"),
                    "token_endpoint": format!("{i}/token"),
                    "jwks_uri": format!("{i}/jwks"),
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["ES256"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["none"],
                    "authorization_response_iss_parameter_supported": true,
                }))
            }),
        )
        .route(
            "/jwks",
            get(|State(idp): State<Idp>| async move {
                axum::Json(json!({ "keys": [{
                    "kty": "EC", "crv": "P-256", "x": idp.x, "y": idp.y, "kid": "k1", "alg": "ES256", "use": "sig"
                }]}))
            }),
        )
        .route(
            "/auth",
            get(|State(idp): State<Idp>, Query(q): Query<HashMap<String, String>>| async move {
                // The user "logs in" at once.
                let code = format!("code-{}", q["state"]);
                idp.codes.lock().unwrap().insert(code.clone(), q["nonce"].clone());
                let mut url = url::Url::parse(&q["redirect_uri"]).unwrap();
                url.query_pairs_mut()
                    .append_pair("code", &code)
                    .append_pair("state", &q["state"])
                    .append_pair("iss", &idp.issuer);
                axum::response::Redirect::to(url.as_str())
            }),
        )
        .route(
            "/token",
            post(|State(idp): State<Idp>, body: String| async move {
                let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                let nonce = idp.codes.lock().unwrap().remove(&form["code"]).unwrap();
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
                header.kid = Some("k1".into());
                let id_token = jsonwebtoken::encode(
                    &header,
                    &json!({
                        "iss": idp.issuer, "aud": form["client_id"], "sub": "u-1001",
                        "email": "jane@corp.example", "org": "acme",
                        "nonce": nonce, "iat": now, "exp": now + 300,
                    }),
                    &jsonwebtoken::EncodingKey::from_ec_der(&idp.pkcs8),
                )
                .unwrap();
                axum::Json(json!({ "access_token": "upstream", "token_type": "Bearer", "id_token": id_token }))
            }),
        )
        .with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    idp
}

fn federation(issuer: &str) -> FederationConfig {
    FederationConfig {
        provider: OidcProviderConfig {
            issuer: issuer.into(),
            client_id: "bulwark".into(),
            allow_insecure_http: true,
            ..OidcProviderConfig::default()
        },
        subject_claim: "email".into(),
        tenant_claim: Some("org".into()),
        label: "Sign in with Corp SSO".into(),
        ..FederationConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federated_login_reaches_consent_and_gets_tokens() {
    let idp = start_idp().await;
    let issuer = idp.issuer.clone();
    let h = Harness::start_with(move |c| c.federation = Some(federation(&issuer))).await;
    let client = h.public_client(REDIRECT).await;
    let pkce = Pkce::new();
    let login = h
        .begin(&client, &pkce, &[("scope", "mcp profile:core")])
        .await;
    assert!(login.page.contains("Sign in with Corp SSO"));
    assert!(login.page.contains("name=\"federated\""));

    let r = h
        .post_form("/authorize", &login, &[("federated", "1")])
        .await;
    assert_eq!(r.status(), 303);
    let to_idp = location(&r);
    assert!(
        to_idp.starts_with(&format!("{}/auth?", idp.issuer)),
        "{to_idp}"
    );
    assert_eq!(query_of(&to_idp)["redirect_uri"], h.url("/oauth/callback"));
    let r = h.http.get(&to_idp).send().await.unwrap();
    let back = location(&r);
    assert!(back.starts_with(&h.url("/oauth/callback?")), "{back}");

    // Without the browser cookie the callback is refused.
    let r = h
        .http
        .get(&back)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let r = h
        .http
        .get(&back)
        .header("cookie", &login.cookie)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let status = r.status();
    let consent = r.text().await.unwrap();
    assert_eq!(status, 200, "{consent}");
    assert!(
        consent.contains("jane@corp.example") && consent.contains("acme"),
        "{consent}"
    );
    let r = h
        .post_form("/authorize/consent", &login, &[("decision", "approve")])
        .await;
    let code = query_of(&location(&r))["code"].clone();
    let tokens: Value = h
        .exchange(&client, &code, &pkce)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["scope"], "mcp profile:core");
    let p = h
        .check(tokens["access_token"].as_str().unwrap(), "/mcp/core")
        .await
        .unwrap();
    assert_eq!(p.id, "jane@corp.example");
    assert_eq!(p.tenant.as_deref(), Some("acme"));
    // Federated grants keep refreshing: there is no local user to check.
    let r = h
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let logins = h.events("auth.login").await;
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0]["user"], "jane@corp.example");
    assert_eq!(logins[0]["outcome"], "success");
    // The callback's state works once.
    let r = h
        .http
        .get(&back)
        .header("cookie", &login.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_provider_is_reported_and_retried_later() {
    let h = Harness::start_with(|c| c.federation = Some(federation("http://127.0.0.1:1"))).await;
    h.add_user("local", false);
    let client = h.public_client(REDIRECT).await;
    let login = h.begin(&client, &Pkce::new(), &[]).await;
    let r = h
        .post_form("/authorize", &login, &[("federated", "1")])
        .await;
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("unreachable"));
    // Local login still works on the same page.
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "local"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_uri_other_than_the_callback_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut fed = federation("https://idp.example");
    fed.provider.redirect_uri = "https://elsewhere.example/cb".into();
    let config = bulwark_oauth::OAuthConfig {
        issuer: "https://bulwark.example".into(),
        federation: Some(fed),
        ..Default::default()
    };
    let err = bulwark_oauth::AuthorizationServer::open(&dir.path().join("b.db"), config, None)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("https://bulwark.example/oauth/callback"),
        "{err}"
    );
}
