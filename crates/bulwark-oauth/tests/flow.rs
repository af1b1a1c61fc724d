//! The whole flow over real HTTP: DCR → authorize → login → TOTP → consent →
//! code → token → verify → refresh → refresh reuse → revoke → introspect.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_with_totp_refresh_reuse_revoke_and_introspect() {
    let h = Harness::start().await;
    let enrollment = h.add_user("alice", true).expect("TOTP enrolment");
    let totp = totp_of(&enrollment);
    let client = h.confidential_client(REDIRECT).await;

    // Authorize for one profile route, with a narrower scope than allowed.
    let pkce = Pkce::new();
    let resource = h.url("/mcp/core");
    let login = h
        .begin(
            &client,
            &pkce,
            &[("resource", &resource), ("scope", "mcp profile:core bogus")],
        )
        .await;
    assert!(login.cookie.starts_with("bulwark_oauth_browser="));
    assert!(login.page.contains("name=\"username\"") && login.page.contains("name=\"password\""));
    assert!(
        !login.page.contains("<script"),
        "no JavaScript on the login page"
    );

    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("action=\"/authorize/mfa\"")
    );
    let totp_code = totp.generate_current().unwrap();
    let r = h
        .post_form("/authorize/mfa", &login, &[("code", &totp_code)])
        .await;
    assert_eq!(r.status(), 200);
    let consent = r.text().await.unwrap();
    assert!(
        consent.contains("Confidential App"),
        "consent names the client: {consent}"
    );
    assert!(consent.contains("profile:core") && !consent.contains("bogus"));
    let r = h
        .post_form("/authorize/consent", &login, &[("decision", "approve")])
        .await;
    assert_eq!(r.status(), 302);
    let loc = location(&r);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let q = query_of(&loc);
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], h.base);
    let code = q["code"].clone();

    // Code → tokens.
    let r = h.exchange(&client, &code, &pkce).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let tokens: Value = r.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "mcp profile:core");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    // The authenticator accepts it for its route, with the user's identity.
    let p = h.check(&access, "/mcp/core").await.expect("token verifies");
    assert_eq!(p.id, "alice");
    assert_eq!(p.method, "oauth");
    assert_eq!(p.scopes, vec!["mcp", "profile:core"]);
    assert_eq!(p.client_id.as_deref(), Some(client.id.as_str()));
    assert!(
        h.check(&access, "/mcp/all").await.is_none(),
        "aud is /mcp/core only"
    );

    // Refresh: rotated, may narrow, never widen.
    let r = h
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("scope", "mcp"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let refreshed: Value = r.json().await.unwrap();
    assert_eq!(refreshed["scope"], "mcp");
    let access2 = refreshed["access_token"].as_str().unwrap().to_string();
    let refresh2 = refreshed["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh, refresh2);
    assert_eq!(
        h.check(&access2, "/mcp/core").await.unwrap().scopes,
        vec!["mcp"]
    );
    let r = h
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh2),
                ("scope", "mcp tools:destructive"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");

    // Introspection by the owning confidential client.
    let intro: Value = h
        .http
        .post(h.url("/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", access2.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["sub"], "alice");
    assert_eq!(intro["scope"], "mcp");
    assert_eq!(intro["client_id"], client.id.as_str());
    assert_eq!(intro["aud"], resource);
    assert_eq!(intro["iss"], h.base);
    assert!(intro["exp"].as_i64().unwrap() > intro["iat"].as_i64().unwrap());
    assert_eq!(intro["token_type"], "Bearer");

    // Reuse of the first (already rotated) refresh token: the family dies.
    let r = h
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert!(
        h.check(&access, "/mcp/core").await.is_none(),
        "earlier access token revoked"
    );
    assert!(
        h.check(&access2, "/mcp/core").await.is_none(),
        "later access token revoked"
    );
    let r = h
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh2),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        400,
        "the newest refresh token of the family is dead too"
    );
    let reuse = h.events("auth.refresh_reuse").await;
    assert_eq!(reuse.len(), 1);
    assert_eq!(reuse[0]["severity"], "HIGH");
    assert_eq!(reuse[0]["user"], "alice");

    // A fresh grant, then revoke its access token and its refresh token.
    let pkce = Pkce::new();
    let login = h.begin(&client, &pkce, &[]).await;
    // Another TOTP step is needed: the code above is burnt.
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = h
        .post_form("/authorize/mfa", &login, &[("code", &totp_code)])
        .await;
    assert_eq!(r.status(), 401, "a used TOTP code cannot be replayed");
    let next_step = totp.generate(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 30,
    );
    let r = h
        .post_form("/authorize/mfa", &login, &[("code", &next_step)])
        .await;
    assert_eq!(r.status(), 200, "the next step (+1 skew) works");
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
    let access3 = tokens["access_token"].as_str().unwrap().to_string();
    let refresh3 = tokens["refresh_token"].as_str().unwrap().to_string();
    assert!(
        h.check(&access3, "/mcp/anything").await.is_some(),
        "no resource: every MCP route"
    );

    let revoke = |token: String| {
        let h = &h;
        let client = client.clone();
        async move {
            h.http
                .post(h.url("/revoke"))
                .basic_auth(&client.id, client.secret.as_deref())
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(revoke(access3.clone()).await.status(), 200);
    assert!(
        h.check(&access3, "/mcp").await.is_none(),
        "revoked access token"
    );
    assert_eq!(revoke(refresh3.clone()).await.status(), 200);
    let r = h
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh3),
            ],
        )
        .await;
    assert_eq!(r.status(), 400, "revoked refresh token");
    assert_eq!(
        revoke("never-issued".into()).await.status(),
        200,
        "unknown tokens: 200"
    );

    let intro: Value = h
        .http
        .post(h.url("/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", access3.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro, json!({ "active": false }));

    // Every step left an audit line with who, where from and the endpoint.
    let logins = h.events("auth.login").await;
    assert!(
        logins
            .iter()
            .all(|e| e["outcome"] == "success" && e["source_ip"] == "127.0.0.1")
    );
    assert_eq!(logins[0]["user_agent"], "bulwark-oauth-tests");
    assert_eq!(logins[0]["action"], "/authorize");
    for t in [
        "auth.mfa",
        "auth.consent",
        "auth.token_issued",
        "auth.token_refreshed",
        "auth.token_revoked",
        "auth.client_registered",
    ] {
        assert!(!h.events(t).await.is_empty(), "no {t} event");
    }
    assert_eq!(h.events("auth.consent").await[0]["outcome"], "granted");
    assert_eq!(h.events("auth.token_revoked").await.len(), 2);
    let text = h.audit_text();
    for secret in [
        &access,
        &refresh,
        &code,
        PASSWORD,
        client.secret.as_deref().unwrap(),
    ] {
        assert!(!text.contains(secret), "audit log holds a secret");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_client_completes_the_flow_without_a_secret() {
    let h = Harness::start().await;
    h.add_user("bob", false);
    let client = h.public_client("com.example.app:/oauth-cb").await;
    let tokens = h.tokens_for(&client, "bob", &[]).await;
    assert_eq!(
        tokens["scope"], "mcp profile:*",
        "no scope asked: the user's allowance"
    );
    let p = h
        .check(tokens["access_token"].as_str().unwrap(), "/mcp")
        .await
        .unwrap();
    assert_eq!(p.id, "bob");
    // A public client cannot introspect.
    let r = h
        .http
        .post(h.url("/introspect"))
        .form(&[
            ("client_id", client.id.as_str()),
            ("token", tokens["access_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_token_reuse_revokes_the_family_and_is_audited_high() {
    let h = Harness::start().await;
    h.add_user("carol", false);
    let client = h.public_client(REDIRECT).await;
    let t1 = h.tokens_for(&client, "carol", &[]).await;
    let r1 = t1["refresh_token"].as_str().unwrap();
    let t2: Value = h
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", r1)],
        )
        .await
        .json()
        .await
        .unwrap();
    let a2 = t2["access_token"].as_str().unwrap();
    assert!(h.check(a2, "/mcp").await.is_some());
    let r = h
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", r1)],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert!(
        h.check(t1["access_token"].as_str().unwrap(), "/mcp")
            .await
            .is_none()
    );
    assert!(h.check(a2, "/mcp").await.is_none());
    let events = h.events("auth.refresh_reuse").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["severity"], "HIGH");
    assert_eq!(events[0]["client_id"], client.id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_code_reuse_fails_and_revokes_tokens_issued_from_it() {
    let h = Harness::start().await;
    h.add_user("dan", false);
    let client = h.public_client(REDIRECT).await;
    let pkce = Pkce::new();
    let login = h.begin(&client, &pkce, &[]).await;
    let code = h.login_and_approve(&login, "dan", None).await;
    let tokens: Value = h
        .exchange(&client, &code, &pkce)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert!(h.check(access, "/mcp").await.is_some());
    let r = h.exchange(&client, &code, &pkce).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert!(
        h.check(access, "/mcp").await.is_none(),
        "access token from the reused code revoked"
    );
    let r = h
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        400,
        "refresh token from the reused code revoked"
    );
    let events = h.events("auth.code_reuse").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["severity"], "HIGH");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_exchange_checks_verifier_client_and_redirect() {
    let h = Harness::start().await;
    h.add_user("erin", false);
    let client = h.public_client(REDIRECT).await;
    let other = h.public_client(REDIRECT).await;

    let pkce = Pkce::new();
    let code = h
        .login_and_approve(&h.begin(&client, &pkce, &[]).await, "erin", None)
        .await;
    let r = h.exchange(&client, &code, &Pkce::new()).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "wrong verifier"
    );

    let pkce = Pkce::new();
    let code = h
        .login_and_approve(&h.begin(&client, &pkce, &[]).await, "erin", None)
        .await;
    let r = h.exchange(&other, &code, &pkce).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "other client"
    );

    let pkce = Pkce::new();
    let code = h
        .login_and_approve(&h.begin(&client, &pkce, &[]).await, "erin", None)
        .await;
    let r = h
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &pkce.verifier),
                ("redirect_uri", "http://127.0.0.1:7777/other"),
            ],
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "other redirect_uri"
    );

    let r = h
        .token(&client, &[("grant_type", "password"), ("username", "erin")])
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confidential_clients_must_authenticate() {
    let h = Harness::start().await;
    h.add_user("fay", false);
    let client = h.confidential_client(REDIRECT).await;
    let pkce = Pkce::new();
    let code = h
        .login_and_approve(&h.begin(&client, &pkce, &[]).await, "fay", None)
        .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client.id.as_str()),
    ];
    let r = h
        .http
        .post(h.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no secret");
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth(&client.id, Some("bws_wrong"))
        .form(&form[..4])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "wrong secret");
    assert!(r.headers().contains_key("www-authenticate"));
    // client_secret_post works too (the code was not burnt by failed client auth).
    let mut post = form.to_vec();
    post.push(("client_secret", client.secret.as_deref().unwrap()));
    let r = h
        .http
        .post(h.url("/token"))
        .form(&post)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_a_removed_user_stop_working() {
    let h = Harness::start().await;
    h.add_user("gus", false);
    let client = h.public_client(REDIRECT).await;
    let tokens = h.tokens_for(&client, "gus", &[]).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert!(h.check(access, "/mcp").await.is_some());
    // The CLI's store is another connection, as another process would be.
    h.store.remove_user("gus").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while h.check(access, "/mcp").await.is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "still accepted 2 s after removal"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = h
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(h.store.list_users().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_is_stored_in_plain() {
    let h = Harness::start().await;
    h.add_user("hal", false);
    let client = h.confidential_client(REDIRECT).await;
    let pkce = Pkce::new();
    let code = h
        .login_and_approve(&h.begin(&client, &pkce, &[]).await, "hal", None)
        .await;
    let tokens: Value = h
        .exchange(&client, &code, &pkce)
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let refreshed: Value = h
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await
        .json()
        .await
        .unwrap();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", h.db_path.display());
        if let Ok(b) = std::fs::read(&path) {
            bytes.extend(b);
        }
    }
    assert!(bytes.len() > 4096);
    let secrets = [
        code.as_str(),
        refresh,
        refreshed["refresh_token"].as_str().unwrap(),
        tokens["access_token"].as_str().unwrap(),
        refreshed["access_token"].as_str().unwrap(),
        client.secret.as_deref().unwrap(),
        PASSWORD,
    ];
    for secret in secrets {
        // The random part alone: a prefix or JWT header is not secret.
        let needle = &secret[secret.len() - 20..];
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "the database holds `{secret}` in plain"
        );
    }
    // Sanity: the search does find what is stored.
    assert!(
        bytes
            .windows(client.id.len())
            .any(|w| w == client.id.as_bytes())
    );
}
