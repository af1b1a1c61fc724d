//! External JWT bearer tokens against a real loopback identity provider:
//! an axum server publishing a discovery document and a JWKS of keys made
//! here, tokens signed with jsonwebtoken.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bulwark_idp::{Algorithm, JwksPolicy, JwtAuthenticator, JwtConfig};
use bulwark_server::{AuthTarget, Authenticator, Principal};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

// ---------------------------------------------------------------- keys

struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
    /// PEM of the public key, for the algorithm-confusion attack (RSA only).
    public_pem: Option<String>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ec_key(kid: &str) -> TestKey {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::EncodePrivateKey;
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let der = secret.to_pkcs8_der().unwrap();
    let point = secret.public_key().to_encoded_point(false);
    TestKey {
        kid: kid.into(),
        alg: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(der.as_bytes()),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()),
        }),
        public_pem: None,
    }
}

/// RSA keys are slow to make in a debug build: one per test binary.
fn rsa_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
        use rsa::traits::PublicKeyParts;
        let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
        let public = private.to_public_key();
        TestKey {
            kid: "rsa-1".into(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(private.to_pkcs1_der().unwrap().as_bytes()),
            jwk: json!({
                "kty": "RSA", "use": "sig", "kid": "rsa-1",
                "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be()),
            }),
            public_pem: Some(public.to_pkcs1_pem(Default::default()).unwrap()),
        }
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sign(key: &TestKey, claims: &Value) -> String {
    sign_as(key, &key.kid, claims)
}

fn sign_as(key: &TestKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

// ---------------------------------------------------------------- the IdP

#[derive(Clone, Default)]
struct IdpState {
    issuer: Arc<Mutex<String>>,
    keys: Arc<Mutex<Vec<Value>>>,
    jwks_hits: Arc<AtomicUsize>,
    discovery_hits: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

struct TestIdp {
    issuer: String,
    state: IdpState,
}

impl TestIdp {
    async fn start(keys: &[&TestKey]) -> TestIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = IdpState::default();
        *state.issuer.lock().unwrap() = issuer.clone();
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/big-jwks", get(big_jwks))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let idp = TestIdp { issuer, state };
        idp.publish(keys);
        idp
    }

    fn publish(&self, keys: &[&TestKey]) {
        *self.state.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    fn config(&self) -> JwtConfig {
        JwtConfig {
            audiences: vec!["bulwark".into()],
            tenant_claim: Some("tenant".into()),
            allow_insecure_http: true,
            ..JwtConfig::new(&self.issuer)
        }
    }

    fn authenticator(&self) -> JwtAuthenticator {
        JwtAuthenticator::new(self.config()).unwrap()
    }

    /// Valid claims for this issuer and audience `bulwark`.
    fn claims(&self) -> Value {
        json!({
            "iss": self.issuer, "sub": "alice", "aud": "bulwark",
            "iat": now(), "exp": now() + 300,
            "scope": "profile:core read", "tenant": "acme", "azp": "cli-app",
        })
    }
}

async fn discovery(State(state): State<IdpState>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if state.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let issuer = state.issuer.lock().unwrap().clone();
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
    }))
    .into_response()
}

async fn jwks(State(state): State<IdpState>) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if state.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = state.keys.lock().unwrap().clone();
    Json(json!({ "keys": keys })).into_response()
}

async fn big_jwks() -> Response {
    let filler = "x".repeat(300 * 1024);
    Json(json!({ "keys": [], "filler": filler })).into_response()
}

fn target() -> AuthTarget {
    AuthTarget {
        path: "/mcp/core".into(),
        resource: "http://127.0.0.1:8080/mcp/core".into(),
    }
}

/// Through the `Authenticator` trait, the way the HTTP transport calls it.
async fn auth(authenticator: &JwtAuthenticator, token: &str) -> Result<Option<Principal>, String> {
    authenticator.authenticate(token, &target()).await
}

/// Rejected as a credential (`Ok(None)`), for the reason `why`.
async fn rejected(authenticator: &JwtAuthenticator, token: &str, why: &str) {
    let result = auth(authenticator, token).await;
    assert!(
        matches!(result, Ok(None)),
        "expected the token to be rejected, got {result:?}"
    );
    let reason = authenticator
        .verify_explained(token, &target())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        reason.contains(why),
        "expected `{why}` in the reason `{reason}`"
    );
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn valid_token_becomes_a_principal_with_mapped_claims() {
    let key = ec_key("ec-1");
    let idp = TestIdp::start(&[&key]).await;
    let authenticator = JwtAuthenticator::new(JwtConfig {
        default_scopes: vec!["mcp".into(), "read".into()],
        ..idp.config()
    })
    .unwrap();
    let principal = auth(&authenticator, &sign(&key, &idp.claims()))
        .await
        .unwrap()
        .expect("a valid token is accepted");
    assert_eq!(
        principal,
        Principal {
            id: "alice".into(),
            scopes: vec!["profile:core".into(), "read".into(), "mcp".into()],
            tenant: Some("acme".into()),
            method: "jwt",
            client_id: Some("cli-app".into()),
        }
    );
    // The JWKS location came from discovery, fetched once.
    assert_eq!(idp.state.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(idp.jwks_hits(), 1);
    // Cached: a second token needs no fetch.
    auth(&authenticator, &sign(&key, &idp.claims()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(idp.jwks_hits(), 1);
}

#[tokio::test]
async fn rs256_with_scp_array_client_id_and_resource_audience() {
    let key = rsa_key();
    let idp = TestIdp::start(&[key]).await;
    // No audiences configured: the token must be for the MCP endpoint called.
    let authenticator = JwtAuthenticator::new(JwtConfig {
        jwks_url: Some(format!("{}/jwks", idp.issuer)),
        audiences: vec![],
        ..idp.config()
    })
    .unwrap();
    let claims = json!({
        "iss": idp.issuer, "sub": "svc-robot", "aud": ["other", target().resource],
        "iat": now(), "exp": now() + 300, "scp": ["a", "b"], "client_id": "robot",
    });
    let principal = auth(&authenticator, &sign(key, &claims))
        .await
        .unwrap()
        .expect("a valid RS256 token is accepted");
    assert_eq!(principal.id, "svc-robot");
    assert_eq!(principal.scopes, ["a", "b"]);
    assert_eq!(principal.client_id.as_deref(), Some("robot"));
    assert_eq!(principal.tenant, None);
    // Explicit jwks_url: no discovery.
    assert_eq!(idp.state.discovery_hits.load(Ordering::SeqCst), 0);

    let mut other_resource = claims.clone();
    other_resource["aud"] = json!("http://127.0.0.1:8080/mcp/dfir");
    rejected(
        &authenticator,
        &sign(key, &other_resource),
        "aud contains none",
    )
    .await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_rejected_within_leeway_rules() {
    let key = ec_key("ec-1");
    let idp = TestIdp::start(&[&key]).await;
    let authenticator = idp.authenticator();

    let mut expired = idp.claims();
    expired["exp"] = json!(now() - 120);
    rejected(&authenticator, &sign(&key, &expired), "expired").await;

    let mut early = idp.claims();
    early["nbf"] = json!(now() + 120);
    rejected(&authenticator, &sign(&key, &early), "not valid yet").await;

    // Inside the 30 s leeway both are still fine (clock skew).
    let mut skewed = idp.claims();
    skewed["exp"] = json!(now() - 10);
    skewed["nbf"] = json!(now() + 10);
    assert!(
        auth(&authenticator, &sign(&key, &skewed))
            .await
            .unwrap()
            .is_some()
    );

    let mut no_exp = idp.claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    rejected(&authenticator, &sign(&key, &no_exp), "no `exp` claim").await;
}

#[tokio::test]
async fn wrong_issuer_or_audience_is_rejected() {
    let key = ec_key("ec-1");
    let idp = TestIdp::start(&[&key]).await;
    let authenticator = idp.authenticator();

    let mut foreign = idp.claims();
    foreign["iss"] = json!("https://evil.example");
    rejected(
        &authenticator,
        &sign(&key, &foreign),
        "issued by `https://evil.example`",
    )
    .await;
    // A token of another issuer never makes us fetch keys.
    assert_eq!(idp.jwks_hits(), 0);
    assert!(
        auth(&authenticator, &sign(&key, &idp.claims()))
            .await
            .unwrap()
            .is_some()
    );

    let mut lookalike = idp.claims();
    lookalike["iss"] = json!(format!("{}/", idp.issuer));
    rejected(&authenticator, &sign(&key, &lookalike), "issued by").await;

    let mut audience = idp.claims();
    audience["aud"] = json!("someone-else");
    rejected(&authenticator, &sign(&key, &audience), "aud contains none").await;

    let mut no_audience = idp.claims();
    no_audience.as_object_mut().unwrap().remove("aud");
    rejected(&authenticator, &sign(&key, &no_audience), "no `aud` claim").await;

    let mut no_subject = idp.claims();
    no_subject.as_object_mut().unwrap().remove("sub");
    rejected(&authenticator, &sign(&key, &no_subject), "`sub`").await;
}

#[tokio::test]
async fn alg_none_and_hs256_with_the_public_key_are_rejected() {
    let key = rsa_key();
    let idp = TestIdp::start(&[key]).await;
    let authenticator = idp.authenticator();
    let claims = idp.claims();
    // Sanity: the same claims properly signed are accepted.
    assert!(
        auth(&authenticator, &sign(key, &claims))
            .await
            .unwrap()
            .is_some()
    );

    let payload = b64(claims.to_string().as_bytes());
    for header in [
        json!({"alg": "none", "typ": "JWT"}),
        json!({"alg": "none", "kid": "rsa-1"}),
        json!({"alg": "None", "kid": "rsa-1"}),
    ] {
        let header = b64(header.to_string().as_bytes());
        rejected(
            &authenticator,
            &format!("{header}.{payload}."),
            "not a signed JWT",
        )
        .await;
        rejected(
            &authenticator,
            &format!("{header}.{payload}.c2ln"),
            "unsupported header",
        )
        .await;
    }

    // The classic confusion: HMAC keyed with the RSA public key the verifier holds.
    let pem = key.public_pem.as_deref().unwrap();
    for secret in [pem.as_bytes(), key.jwk.to_string().as_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        let forged =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap();
        rejected(&authenticator, &forged, "alg HS256 is not allowed").await;
    }

    // ES256 is allowed, but an RSA key cannot verify it.
    let ec = ec_key("rsa-1");
    rejected(
        &authenticator,
        &sign(&ec, &claims),
        "no signing key with kid `rsa-1` for ES256",
    )
    .await;

    // A tampered payload breaks the signature.
    let token = sign(key, &claims);
    let parts: Vec<&str> = token.split('.').collect();
    let mut tampered = claims.clone();
    tampered["sub"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(tampered.to_string().as_bytes()),
        parts[2]
    );
    rejected(&authenticator, &forged, "bad signature").await;
}

#[tokio::test]
async fn garbage_is_rejected_without_fetching_keys() {
    let key = ec_key("ec-1");
    let idp = TestIdp::start(&[&key]).await;
    let authenticator = idp.authenticator();
    let valid = sign(&key, &idp.claims());
    let huge = {
        let mut claims = idp.claims();
        claims["padding"] = json!("p".repeat(17 * 1024));
        sign(&key, &claims)
    };
    for garbage in [
        "",
        "bwk_live_0123456789abcdef",
        "a.b.c",
        "....",
        "eyJhbGciOiJFUzI1NiJ9..",
        "not.base64!.x",
        "eyJ9.eyJ9.eyJ9.eyJ9.eyJ9",
        &format!("{valid}.extra"),
        &huge,
        "😀.😀.😀",
    ] {
        rejected(&authenticator, garbage, "").await;
    }
    assert_eq!(
        idp.jwks_hits(),
        0,
        "no fetch for tokens that cannot be ours"
    );
}

#[tokio::test]
async fn unknown_kid_refetches_once_and_a_rotated_key_verifies() {
    let old = ec_key("2024");
    let new = ec_key("2025");
    let idp = TestIdp::start(&[&old]).await;
    let authenticator = idp.authenticator().with_jwks_policy(JwksPolicy {
        min_refetch_interval: Duration::from_millis(300),
        ..JwksPolicy::default()
    });
    assert!(
        auth(&authenticator, &sign(&old, &idp.claims()))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(idp.jwks_hits(), 1);

    // The provider rotates: the new key is published, then used.
    idp.publish(&[&old, &new]);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let principal = auth(&authenticator, &sign(&new, &idp.claims()))
        .await
        .unwrap();
    assert_eq!(principal.unwrap().id, "alice");
    assert_eq!(idp.jwks_hits(), 2, "exactly one refetch for the new kid");
    assert!(
        auth(&authenticator, &sign(&new, &idp.claims()))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        auth(&authenticator, &sign(&old, &idp.claims()))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn with_the_default_policy_a_rotation_right_after_a_fetch_waits_30_seconds() {
    let old = ec_key("2024");
    let new = ec_key("2025");
    let idp = TestIdp::start(&[&old]).await;
    let authenticator = idp.authenticator();
    assert_eq!(authenticator.jwks().policy(), JwksPolicy::default());
    assert!(
        auth(&authenticator, &sign(&old, &idp.claims()))
            .await
            .unwrap()
            .is_some()
    );
    idp.publish(&[&old, &new]);
    rejected(
        &authenticator,
        &sign(&new, &idp.claims()),
        "no signing key with kid `2025`",
    )
    .await;
    assert_eq!(
        idp.jwks_hits(),
        1,
        "no refetch within 30 s of the last fetch"
    );
}

#[tokio::test]
async fn a_flood_of_unknown_kids_causes_at_most_one_refetch_per_interval() {
    let key = ec_key("real");
    let idp = TestIdp::start(&[&key]).await;
    let interval = Duration::from_secs(1);
    let authenticator = idp.authenticator().with_jwks_policy(JwksPolicy {
        min_refetch_interval: interval,
        ..JwksPolicy::default()
    });
    assert!(
        auth(&authenticator, &sign(&key, &idp.claims()))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(idp.jwks_hits(), 1);

    for round in 1..=2 {
        // Signed beforehand: the window below must hold only lookups, not signing.
        let burst: Vec<String> = (0..50)
            .map(|i| sign_as(&key, &format!("garbage-{round}-{i}"), &idp.claims()))
            .collect();
        let late: Vec<String> = (0..50)
            .map(|i| sign_as(&key, &format!("late-{round}-{i}"), &idp.claims()))
            .collect();
        tokio::time::sleep(interval + Duration::from_millis(50)).await;
        // Concurrent misses share one fetch...
        let results =
            futures::future::join_all(burst.iter().map(|t| auth(&authenticator, t))).await;
        assert!(results.iter().all(|r| matches!(r, Ok(None))), "{results:?}");
        // ...and later ones inside the interval fetch nothing.
        for token in &late {
            rejected(&authenticator, token, "no signing key").await;
        }
        assert_eq!(idp.jwks_hits(), 1 + round, "one refetch in round {round}");
    }
    // The real key still works throughout.
    assert!(
        auth(&authenticator, &sign(&key, &idp.claims()))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn stale_keys_are_refreshed_in_the_background_and_removed_keys_stop_verifying() {
    let revoked = ec_key("revoked");
    let current = ec_key("current");
    let idp = TestIdp::start(&[&revoked]).await;
    let authenticator = idp.authenticator().with_jwks_policy(JwksPolicy {
        min_refetch_interval: Duration::from_millis(100),
        max_age: Duration::from_millis(300),
    });
    let token = sign(&revoked, &idp.claims());
    assert!(auth(&authenticator, &token).await.unwrap().is_some());
    idp.publish(&[&current]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Stale keys still answer at once; the refresh runs behind.
    assert!(auth(&authenticator, &token).await.unwrap().is_some());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while idp.jwks_hits() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no background refresh"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the refresh land in the cache.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(authenticator.jwks().cached_key_ids(), ["current"]);
    rejected(&authenticator, &token, "no signing key with kid `revoked`").await;
    assert!(
        auth(&authenticator, &sign(&current, &idp.claims()))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn idp_down_with_cached_keys_still_verifies() {
    let key = ec_key("ec-1");
    let idp = TestIdp::start(&[&key]).await;
    let authenticator = idp.authenticator().with_jwks_policy(JwksPolicy {
        min_refetch_interval: Duration::from_millis(50),
        max_age: Duration::from_millis(100),
    });
    assert!(
        auth(&authenticator, &sign(&key, &idp.claims()))
            .await
            .unwrap()
            .is_some()
    );
    idp.set_down(true);
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Stale keys and a failing refresh: the cached keys keep working.
    for _ in 0..3 {
        let principal = auth(&authenticator, &sign(&key, &idp.claims()))
            .await
            .unwrap();
        assert_eq!(principal.unwrap().id, "alice");
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    assert!(idp.jwks_hits() >= 2, "the refresh was tried");
    // An unknown kid while down may be a rotation we cannot see: cannot decide, say so.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let unknown = sign_as(&key, "new-kid", &idp.claims());
    let error = auth(&authenticator, &unknown).await.unwrap_err();
    assert!(error.contains("503"), "{error}");
}

#[tokio::test]
async fn idp_down_without_cached_keys_is_an_error() {
    let key = ec_key("ec-1");
    let idp = TestIdp::start(&[&key]).await;
    idp.set_down(true);
    let authenticator = idp.authenticator();
    let error = auth(&authenticator, &sign(&key, &idp.claims()))
        .await
        .unwrap_err();
    assert!(error.contains("could not fetch"), "{error}");
    assert!(error.contains("503"), "{error}");
    // Asked again at once: the failure is reported, the provider not asked again.
    let again = auth(&authenticator, &sign(&key, &idp.claims()))
        .await
        .unwrap_err();
    assert_eq!(again, error);
    assert_eq!(idp.state.discovery_hits.load(Ordering::SeqCst), 1);

    // Nothing listening at all.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let authenticator = JwtAuthenticator::new(JwtConfig {
        jwks_url: Some(format!("http://{closed}/jwks")),
        ..idp.config()
    })
    .unwrap();
    let error = auth(&authenticator, &sign(&key, &idp.claims()))
        .await
        .unwrap_err();
    assert!(error.contains(&format!("http://{closed}/jwks")), "{error}");

    // When the provider comes back, keys are fetched again (failures wait only the refetch interval).
    idp.set_down(false);
    let authenticator = idp.authenticator().with_jwks_policy(JwksPolicy {
        min_refetch_interval: Duration::from_millis(0),
        ..JwksPolicy::default()
    });
    idp.set_down(true);
    assert!(
        auth(&authenticator, &sign(&key, &idp.claims()))
            .await
            .is_err()
    );
    idp.set_down(false);
    assert!(
        auth(&authenticator, &sign(&key, &idp.claims()))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn discovery_issuer_mismatch_and_oversized_jwks_are_errors() {
    let key = ec_key("ec-1");
    let idp = TestIdp::start(&[&key]).await;

    // Configured with a trailing slash the provider does not use.
    let slash = format!("{}/", idp.issuer);
    let authenticator = JwtAuthenticator::new(JwtConfig {
        issuer: slash.clone(),
        ..idp.config()
    })
    .unwrap();
    let mut claims = idp.claims();
    claims["iss"] = json!(slash);
    let error = auth(&authenticator, &sign(&key, &claims))
        .await
        .unwrap_err();
    assert!(error.contains("names issuer"), "{error}");

    let authenticator = JwtAuthenticator::new(JwtConfig {
        jwks_url: Some(format!("{}/big-jwks", idp.issuer)),
        ..idp.config()
    })
    .unwrap();
    let error = auth(&authenticator, &sign(&key, &idp.claims()))
        .await
        .unwrap_err();
    assert!(error.contains("larger than 256 KiB"), "{error}");
}
