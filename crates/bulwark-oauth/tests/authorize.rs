//! `/authorize` and the login pages: one test per bad input.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

fn base_query<'a>(client: &'a Client, pkce: &'a Pkce) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", client.redirect.as_str()),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "s1"),
    ]
}

fn without<'a>(q: &[(&'a str, &'a str)], name: &str) -> Vec<(&'a str, &'a str)> {
    q.iter().filter(|(k, _)| *k != name).cloned().collect()
}

/// The error an /authorize redirect carries back to the client.
fn redirected_error(h: &Harness, r: &reqwest::Response) -> String {
    assert_eq!(r.status(), 302);
    let loc = location(r);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let q = query_of(&loc);
    assert_eq!(q["state"], "s1");
    assert_eq!(q["iss"], h.base);
    assert!(!q.contains_key("code"));
    assert!(q.contains_key("error_description"));
    q["error"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_pkce_is_refused() {
    let h = Harness::start().await;
    let client = h.public_client(REDIRECT).await;
    let pkce = Pkce::new();
    let q = without(
        &without(&base_query(&client, &pkce), "code_challenge"),
        "code_challenge_method",
    );
    let r = h.get_authorize(&q, None).await;
    assert_eq!(redirected_error(&h, &r), "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_or_missing_pkce_method_is_refused() {
    let h = Harness::start().await;
    let client = h.public_client(REDIRECT).await;
    let pkce = Pkce::new();
    let mut q = without(&base_query(&client, &pkce), "code_challenge_method");
    let r = h.get_authorize(&q, None).await;
    assert_eq!(
        redirected_error(&h, &r),
        "invalid_request",
        "missing method means plain"
    );
    q.push(("code_challenge_method", "plain"));
    let r = h.get_authorize(&q, None).await;
    assert_eq!(redirected_error(&h, &r), "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_redirect_uri_is_shown_not_redirected() {
    let h = Harness::start().await;
    let client = h.public_client(REDIRECT).await;
    let pkce = Pkce::new();
    let mut q = without(&base_query(&client, &pkce), "redirect_uri");
    q.push(("redirect_uri", "https://evil.example/cb"));
    let r = h.get_authorize(&q, None).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let page = r.text().await.unwrap();
    assert!(page.contains("not registered"), "{page}");
    // The JSON flavour for non-browsers.
    let r = h
        .http
        .get(h.url("/authorize"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    // Unknown client: also a page.
    let q = [
        ("response_type", "code"),
        ("client_id", "nope"),
        ("redirect_uri", REDIRECT),
    ];
    let r = h.get_authorize(&q, None).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_redirect_may_use_another_port() {
    let h = Harness::start().await;
    h.add_user("ivy", false);
    let registered = h.public_client("http://127.0.0.1/callback").await;
    let client = Client {
        redirect: "http://127.0.0.1:54321/callback".into(),
        ..registered.clone()
    };
    let pkce = Pkce::new();
    let login = h.begin(&client, &pkce, &[]).await;
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "ivy"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = h
        .post_form("/authorize/consent", &login, &[("decision", "approve")])
        .await;
    let loc = location(&r);
    assert!(loc.starts_with("http://127.0.0.1:54321/callback?"), "{loc}");
    let code = query_of(&loc)["code"].clone();
    let r = h.exchange(&client, &code, &pkce).await;
    assert_eq!(r.status(), 200);
    // Another path on loopback is still a mismatch.
    let other = Client {
        redirect: "http://127.0.0.1:54321/elsewhere".into(),
        ..registered
    };
    let r = h.get_authorize(&base_query(&other, &pkce), None).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_must_be_one_mcp_route_of_this_server() {
    let h = Harness::start().await;
    let client = h.public_client(REDIRECT).await;
    let pkce = Pkce::new();
    let core = h.url("/mcp/core");
    let all = h.url("/mcp/all");
    let mut q = base_query(&client, &pkce);
    q.push(("resource", &core));
    q.push(("resource", &all));
    assert_eq!(
        redirected_error(&h, &h.get_authorize(&q, None).await),
        "invalid_target"
    );
    for bad in ["https://other.example/mcp", "http://127.0.0.1:1/mcp"] {
        let mut q = base_query(&client, &pkce);
        q.push(("resource", bad));
        assert_eq!(
            redirected_error(&h, &h.get_authorize(&q, None).await),
            "invalid_target",
            "{bad}"
        );
    }
    let token_path = h.url("/token");
    let mut q = base_query(&client, &pkce);
    q.push(("resource", &token_path));
    assert_eq!(
        redirected_error(&h, &h.get_authorize(&q, None).await),
        "invalid_target"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_code_response_type() {
    let h = Harness::start().await;
    let client = h.public_client(REDIRECT).await;
    let pkce = Pkce::new();
    let mut q = without(&base_query(&client, &pkce), "response_type");
    q.push(("response_type", "token"));
    assert_eq!(
        redirected_error(&h, &h.get_authorize(&q, None).await),
        "unsupported_response_type"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_fail_and_are_audited() {
    let h = Harness::start().await;
    h.add_user("jo", false);
    let client = h.public_client(REDIRECT).await;
    let login = h.begin(&client, &Pkce::new(), &[]).await;
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "jo"), ("password", "wrong password!")],
        )
        .await;
    assert_eq!(r.status(), 401);
    let page = r.text().await.unwrap();
    assert!(page.contains("Wrong user name or password"));
    assert!(page.contains("name=\"pending\""), "the form comes back");
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "nobody"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 401);
    let failures = h.events("auth.login").await;
    assert_eq!(failures.len(), 2);
    for (e, user) in failures.iter().zip(["jo", "nobody"]) {
        assert_eq!(e["outcome"], "failure");
        assert_eq!(e["user"], user);
        assert_eq!(e["client_id"], client.id.as_str());
        assert_eq!(e["source_ip"], "127.0.0.1");
        assert_eq!(e["status_code"], 401);
    }
    assert!(
        !h.audit_text().contains("wrong password!"),
        "passwords never reach the log"
    );
    // The right password still works on the same page afterwards.
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "jo"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_failures_end_the_login() {
    let h = Harness::start().await;
    h.add_user("kim", false);
    let client = h.public_client(REDIRECT).await;
    let login = h.begin(&client, &Pkce::new(), &[]).await;
    for _ in 0..5 {
        h.post_form(
            "/authorize",
            &login,
            &[("username", "kim"), ("password", "nope nope")],
        )
        .await;
    }
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "kim"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 400, "the pending login is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_totp_is_refused_and_audited() {
    let h = Harness::start().await;
    let enrollment = h.add_user("lou", true).unwrap();
    let totp = totp_of(&enrollment);
    let client = h.public_client(REDIRECT).await;
    let login = h.begin(&client, &Pkce::new(), &[]).await;
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "lou"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 200);
    // Consent cannot be reached by skipping the second factor.
    let r = h
        .post_form("/authorize/consent", &login, &[("decision", "approve")])
        .await;
    assert_eq!(r.status(), 400);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stale = totp.generate(now - 300);
    for bad in ["000000", "12345", stale.as_str()] {
        let r = h
            .post_form("/authorize/mfa", &login, &[("code", bad)])
            .await;
        assert_eq!(r.status(), 401, "{bad}");
    }
    let events = h.events("auth.mfa").await;
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e["outcome"] == "failure" && e["user"] == "lou")
    );
    let r = h
        .post_form(
            "/authorize/mfa",
            &login,
            &[("code", &totp.generate_current().unwrap())],
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_redirects_access_denied() {
    let h = Harness::start().await;
    h.add_user("max", false);
    let client = h.public_client(REDIRECT).await;
    let login = h.begin(&client, &Pkce::new(), &[]).await;
    h.post_form(
        "/authorize",
        &login,
        &[("username", "max"), ("password", PASSWORD)],
    )
    .await;
    let r = h
        .post_form("/authorize/consent", &login, &[("decision", "deny")])
        .await;
    assert_eq!(redirected_error_state(&h, &r), "access_denied");
    let events = h.events("auth.consent").await;
    assert_eq!(events[0]["outcome"], "denied");
    // The decision is final: the form cannot be sent again.
    let r = h
        .post_form("/authorize/consent", &login, &[("decision", "approve")])
        .await;
    assert_eq!(r.status(), 400);
}

fn redirected_error_state(h: &Harness, r: &reqwest::Response) -> String {
    assert_eq!(r.status(), 302);
    let q = query_of(&location(r));
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], h.base);
    q["error"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_from_another_browser_is_refused() {
    let h = Harness::start().await;
    h.add_user("ned", false);
    let client = h.public_client(REDIRECT).await;
    let login = h.begin(&client, &Pkce::new(), &[]).await;
    for cookie in [
        "bulwark_oauth_browser=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "",
    ] {
        let stolen = Login {
            pending: login.pending.clone(),
            cookie: cookie.into(),
            page: String::new(),
        };
        let r = h
            .post_form(
                "/authorize",
                &stolen,
                &[("username", "ned"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status(), 400, "cookie {cookie:?}");
    }
    // The browser that started it still can.
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "ned"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_page_expires() {
    let h = Harness::start_with(|c| c.login_ttl = Duration::from_secs(1)).await;
    h.add_user("oli", false);
    let client = h.public_client(REDIRECT).await;
    let login = h.begin(&client, &Pkce::new(), &[]).await;
    assert!(login.cookie.len() > 20);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "oli"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("start again"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_scopes_are_requested_ones_the_user_may_have() {
    let h = Harness::start().await;
    h.store
        .add_user(
            "pat",
            PASSWORD,
            false,
            &["mcp".into(), "profile:core".into()],
            Some("acme"),
        )
        .unwrap();
    h.add_user("quin", false);
    let client = h.public_client(REDIRECT).await;
    let t = h
        .tokens_for(
            &client,
            "pat",
            &[("scope", "mcp profile:all profile:core unknown:thing")],
        )
        .await;
    assert_eq!(
        t["scope"], "mcp profile:core",
        "profile:all not allowed, unknown dropped"
    );
    let p = h
        .check(t["access_token"].as_str().unwrap(), "/mcp/core")
        .await
        .unwrap();
    assert_eq!(p.tenant.as_deref(), Some("acme"));
    let t = h
        .tokens_for(
            &client,
            "quin",
            &[("scope", "profile:all tools:destructive")],
        )
        .await;
    assert_eq!(t["scope"], "profile:all", "profile:* covers profile:all");
    let p = h
        .check(t["access_token"].as_str().unwrap(), "/mcp")
        .await
        .unwrap();
    assert_eq!(p.tenant, None);
    // Only unknown scopes: nothing to grant.
    let pkce = Pkce::new();
    let mut q = base_query(&client, &pkce);
    q.push(("scope", "unknown:thing"));
    assert_eq!(
        redirected_error(&h, &h.get_authorize(&q, None).await),
        "invalid_scope"
    );
    // Known but not allowed for this user: refused after login.
    let login = h
        .begin(&client, &pkce, &[("scope", "tools:destructive")])
        .await;
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "pat"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(redirected_error_state(&h, &r), "invalid_scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_and_jwks() {
    let h = Harness::start().await;
    let m: Value = h
        .http
        .get(h.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["issuer"], h.base);
    for (k, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("registration_endpoint", "/register"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
        ("jwks_uri", "/jwks.json"),
    ] {
        assert_eq!(m[k], h.url(path), "{k}");
    }
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!(["none", "client_secret_basic", "client_secret_post"])
    );
    assert!(
        m["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&"mcp".into())
    );
    assert_eq!(m["client_id_metadata_document_supported"], true);
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);

    let jwks: Value = h
        .http
        .get(h.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-256");
    assert_eq!(keys[0]["alg"], "ES256");
    assert!(keys[0].get("d").is_none(), "no private part");
    let active = h.store.list_signing_keys().unwrap();
    assert_eq!(keys[0]["kid"], active[0].kid.as_str());
}
