//! Access-token verification by `authenticator()`: expiry, audience,
//! forgeries, revocation seen across processes, key rotation.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bulwark_oauth::{AuthorizationServer, OAuthConfig};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The claims of a JWT, unverified.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn sign(claims: &Value, kid: &str, pkcs8: &[u8]) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    header.typ = Some("at+jwt".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(pkcs8)).unwrap()
}

/// The server's own private key, read from the database as an attacker with
/// the file would: lets a test forge everything but the checked claims.
fn server_key(h: &Harness) -> (String, Vec<u8>) {
    let conn = rusqlite::Connection::open(&h.db_path).unwrap();
    conn.query_row(
        "SELECT kid, pkcs8 FROM oauth_signing_keys WHERE retired_at IS NULL",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_claims_have_the_documented_shape() {
    let h = Harness::start().await;
    h.store
        .add_user("ann", PASSWORD, false, &[], Some("tenant-1"))
        .unwrap();
    let client = h.public_client(REDIRECT).await;
    let resource = h.url("/mcp/core");
    let t = h
        .tokens_for(&client, "ann", &[("resource", &resource)])
        .await;
    let token = t["access_token"].as_str().unwrap();
    let header = header_of(token);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(
        header["kid"],
        h.store.list_signing_keys().unwrap()[0].kid.as_str()
    );
    let c = claims_of(token);
    assert_eq!(c["iss"], h.base);
    assert_eq!(c["sub"], "ann");
    assert_eq!(c["aud"], resource);
    assert_eq!(c["client_id"], client.id.as_str());
    assert_eq!(c["tenant"], "tenant-1");
    assert_eq!(c["scope"], "mcp profile:*");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
    assert_eq!(c["nbf"], c["iat"]);
    assert!(c["jti"].as_str().unwrap().len() >= 16);
    assert!(c["fid"].as_str().unwrap().len() >= 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_access_token_is_rejected() {
    // Times are whole seconds, so a 1 s token may live only a few
    // milliseconds; 3 s leaves a loaded CI machine room for the first check.
    let h = Harness::start_with(|c| c.access_token_ttl = Duration::from_secs(3)).await;
    h.add_user("bea", false);
    let client = h.public_client(REDIRECT).await;
    let t = h.tokens_for(&client, "bea", &[]).await;
    let token = t["access_token"].as_str().unwrap();
    let exp = claims_of(token)["exp"].as_u64().unwrap();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    if now() + 0.5 < exp as f64 {
        assert!(h.check(token, "/mcp").await.is_some());
    }
    // Sleep until just past `exp`, then it must be refused.
    let wait = (exp as f64 - now()).max(0.0) + 0.1;
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    assert!(h.check(token, "/mcp").await.is_none());
    // The refresh token still gets a new one.
    let r = h
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    let fresh: Value = r.json().await.unwrap();
    assert!(
        h.check(fresh["access_token"].as_str().unwrap(), "/mcp")
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_audience_is_rejected() {
    let h = Harness::start().await;
    h.add_user("cal", false);
    let client = h.public_client(REDIRECT).await;
    let core = h.url("/mcp/core");
    let t = h.tokens_for(&client, "cal", &[("resource", &core)]).await;
    let token = t["access_token"].as_str().unwrap();
    assert!(h.check(token, "/mcp/core").await.is_some());
    assert!(h.check(token, "/mcp/all").await.is_none());
    assert!(h.check(token, "/mcp").await.is_none());
    assert!(h.check(token, "/mcp/core2").await.is_none());
    // With a trailing slash, the same resource.
    let core_slash = format!("{core}/");
    let t = h
        .tokens_for(&client, "cal", &[("resource", &core_slash)])
        .await;
    assert!(
        h.check(t["access_token"].as_str().unwrap(), "/mcp/core")
            .await
            .is_some()
    );
    // No resource: the issuer origin, good for every MCP route.
    let t = h.tokens_for(&client, "cal", &[]).await;
    let any = t["access_token"].as_str().unwrap();
    assert_eq!(claims_of(any)["aud"], h.base);
    assert!(h.check(any, "/mcp/core").await.is_some());
    assert!(h.check(any, "/mcp/all").await.is_some());
    // A token issued by another bulwark (other origin) is not ours.
    let other = Harness::start().await;
    other.add_user("cal", false);
    let other_client = other.public_client(REDIRECT).await;
    let foreign = other.tokens_for(&other_client, "cal", &[]).await;
    assert!(
        h.check(foreign["access_token"].as_str().unwrap(), "/mcp")
            .await
            .is_none()
    );
    // Resource at the token endpoint must match the authorized one.
    let pkce = Pkce::new();
    let code = h
        .login_and_approve(
            &h.begin(&client, &pkce, &[("resource", &core)]).await,
            "cal",
            None,
        )
        .await;
    let all = h.url("/mcp/all");
    let r = h
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &pkce.verifier),
                ("redirect_uri", REDIRECT),
                ("resource", &all),
            ],
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_target");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_forged_tokens_are_rejected() {
    let h = Harness::start().await;
    h.add_user("dee", false);
    let client = h.public_client(REDIRECT).await;
    let t = h.tokens_for(&client, "dee", &[]).await;
    let good = t["access_token"].as_str().unwrap().to_string();
    let claims = claims_of(&good);
    let kid = header_of(&good)["kid"].as_str().unwrap().to_string();
    assert!(h.check(&good, "/mcp").await.is_some());

    // Garbage and API-key-shaped strings.
    for bad in [
        "",
        "garbage",
        "a.b.c",
        "bwk_0123456789abcdef",
        "eyJhbGciOiJFUzI1NiJ9..",
        &good[..good.len() - 2],
    ] {
        assert!(h.check(bad, "/mcp").await.is_none(), "{bad:?}");
    }

    // alg none with the real claims.
    let none_header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string());
    let body = good.split('.').nth(1).unwrap();
    assert!(
        h.check(&format!("{none_header}.{body}."), "/mcp")
            .await
            .is_none(),
        "alg none"
    );
    // HS256 with the public x coordinate as the secret (key confusion).
    let hs = jsonwebtoken::encode(
        &Header {
            kid: Some(kid.clone()),
            typ: Some("at+jwt".into()),
            ..Header::new(Algorithm::HS256)
        },
        &claims,
        &EncodingKey::from_secret(b"x"),
    )
    .unwrap();
    assert!(h.check(&hs, "/mcp").await.is_none(), "HS256");

    // Signed by another P-256 key under the server's kid.
    let mut bytes = [7u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    let other = p256::SecretKey::from_slice(&bytes).unwrap();
    let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&other).unwrap();
    assert!(
        h.check(&sign(&claims, &kid, der.as_bytes()), "/mcp")
            .await
            .is_none(),
        "wrong signature"
    );

    // Tampered payload with the original signature.
    let mut tampered = claims.clone();
    tampered["scope"] = json!("mcp profile:* tools:destructive");
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(tampered.to_string()),
        parts[2]
    );
    assert!(h.check(&forged, "/mcp").await.is_none(), "tampered payload");

    // With the server's real key: each claim check on its own.
    let (real_kid, pkcs8) = server_key(&h);
    assert_eq!(real_kid, kid);
    assert!(
        h.check(&sign(&claims, &kid, &pkcs8), "/mcp")
            .await
            .is_some(),
        "control: re-signed original"
    );
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("http://evil.example");
    assert!(
        h.check(&sign(&wrong_iss, &kid, &pkcs8), "/mcp")
            .await
            .is_none(),
        "wrong issuer"
    );
    let mut slash_iss = claims.clone();
    slash_iss["iss"] = json!(format!("{}/", h.base));
    assert!(
        h.check(&sign(&slash_iss, &kid, &pkcs8), "/mcp")
            .await
            .is_none(),
        "issuer with slash"
    );
    let mut future = claims.clone();
    future["nbf"] = json!(claims["iat"].as_i64().unwrap() + 3600);
    assert!(
        h.check(&sign(&future, &kid, &pkcs8), "/mcp")
            .await
            .is_none(),
        "not yet valid"
    );
    let mut expired = claims.clone();
    expired["exp"] = json!(claims["iat"].as_i64().unwrap() - 10);
    assert!(
        h.check(&sign(&expired, &kid, &pkcs8), "/mcp")
            .await
            .is_none(),
        "expired"
    );
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert!(
        h.check(&sign(&no_exp, &kid, &pkcs8), "/mcp")
            .await
            .is_none(),
        "no exp"
    );
    let mut other_aud = claims.clone();
    other_aud["aud"] = json!("http://evil.example/mcp");
    assert!(
        h.check(&sign(&other_aud, &kid, &pkcs8), "/mcp")
            .await
            .is_none(),
        "foreign aud"
    );
    let mut unknown_kid = Header::new(Algorithm::ES256);
    unknown_kid.kid = Some("nope".into());
    unknown_kid.typ = Some("at+jwt".into());
    let t = jsonwebtoken::encode(&unknown_kid, &claims, &EncodingKey::from_ec_der(&pkcs8)).unwrap();
    assert!(h.check(&t, "/mcp").await.is_none(), "unknown kid");
    let mut id_token_typ = Header::new(Algorithm::ES256);
    id_token_typ.kid = Some(kid.clone());
    let t =
        jsonwebtoken::encode(&id_token_typ, &claims, &EncodingKey::from_ec_der(&pkcs8)).unwrap();
    assert!(h.check(&t, "/mcp").await.is_none(), "typ is not at+jwt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_by_another_process_takes_effect_within_a_second() {
    let h = Harness::start().await;
    h.add_user("eli", false);
    let client = h.confidential_client(REDIRECT).await;
    // A second server on the same file stands in for another process.
    let config = OAuthConfig {
        issuer: h.base.clone(),
        ..OAuthConfig::default()
    };
    let replica = AuthorizationServer::open(&h.db_path, config, None).unwrap();
    let t = h.tokens_for(&client, "eli", &[]).await;
    let access = t["access_token"].as_str().unwrap();
    assert!(
        check_with(&replica, &h.base, access, "/mcp")
            .await
            .is_some(),
        "shared keys"
    );
    let r = h
        .http
        .post(h.url("/revoke"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[
            ("token", t["refresh_token"].as_str().unwrap()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        h.check(access, "/mcp").await.is_none(),
        "at once in the revoking process"
    );
    let start = std::time::Instant::now();
    while check_with(&replica, &h.base, access, "/mcp")
        .await
        .is_some()
    {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the replica still accepts the token after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key() {
    let h = Harness::start().await;
    h.add_user("fox", false);
    let client = h.public_client(REDIRECT).await;
    let old = h.tokens_for(&client, "fox", &[]).await;
    let old_token = old["access_token"].as_str().unwrap();
    let old_kid = header_of(old_token)["kid"].as_str().unwrap().to_string();
    let new_key = h.store.rotate_signing_key().unwrap();
    assert_ne!(new_key.kid, old_kid);
    let keys = h.store.list_signing_keys().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys.iter().filter(|k| k.active).count(), 1);
    let new = h.tokens_for(&client, "fox", &[]).await;
    let new_token = new["access_token"].as_str().unwrap();
    assert_eq!(header_of(new_token)["kid"], new_key.kid.as_str());
    assert!(h.check(new_token, "/mcp").await.is_some());
    assert!(
        h.check(old_token, "/mcp").await.is_some(),
        "old key still verifies its tokens"
    );
    let jwks: Value = h
        .http
        .get(h.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_key.kid.as_str()),
        "{kids:?}"
    );
}
