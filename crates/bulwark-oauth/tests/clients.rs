//! Dynamic Client Registration and Client ID Metadata Documents.

mod common;

use axum::routing::get;
use common::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_returns_rfc7591_metadata() {
    let h = Harness::start().await;
    let r = h
        .register(json!({
            "redirect_uris": ["https://app.example/cb", "http://127.0.0.1/cb"],
            "client_name": "Inspector",
            "token_endpoint_auth_method": "client_secret_post",
            "scope": "mcp profile:core",
            "software_id": "ignored-extension",
        }))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let b: Value = r.json().await.unwrap();
    assert!(b["client_id"].as_str().unwrap().starts_with("bwc-"));
    assert!(b["client_id_issued_at"].as_i64().unwrap() > 1_600_000_000);
    assert!(b["client_secret"].as_str().unwrap().len() > 40);
    assert_eq!(b["client_secret_expires_at"], 0);
    assert_eq!(
        b["redirect_uris"],
        json!(["https://app.example/cb", "http://127.0.0.1/cb"])
    );
    assert_eq!(
        b["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(b["response_types"], json!(["code"]));
    assert_eq!(b["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(b["client_name"], "Inspector");
    assert_eq!(b["scope"], "mcp profile:core");

    let public: Value = h
        .register(json!({ "redirect_uris": ["https://app.example/cb"] }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["token_endpoint_auth_method"], "none");
    assert!(public.get("client_secret").is_none());

    let listed = h.store.list_clients().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].client_name.as_deref(), Some("Inspector"));
    assert_eq!(listed[0].token_endpoint_auth_method, "client_secret_post");
    let events = h.events("auth.client_registered").await;
    assert_eq!(events.len(), 2);
    assert!(
        !h.audit_text()
            .contains(b["client_secret"].as_str().unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refuses_dangerous_redirect_uris() {
    let h = Harness::start().await;
    for bad in [
        "javascript:alert(document.cookie)",
        "http://app.example/cb",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "https://app.example/cb#fragment",
        "not a url",
    ] {
        let r = h
            .register(json!({ "redirect_uris": ["https://ok.example/cb", bad] }))
            .await;
        assert_eq!(r.status(), 400, "{bad}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"], "invalid_redirect_uri", "{bad}");
        assert!(b["error_description"].as_str().unwrap().len() > 10);
    }
    let r = h.register(json!({ "client_name": "no uris" })).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_redirect_uri"
    );
    let r = h
        .register(json!({ "redirect_uris": ["https://ok.example/cb"], "token_endpoint_auth_method": "private_key_jwt" }))
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );
    let r = h
        .register(
            json!({ "redirect_uris": ["https://ok.example/cb"], "grant_types": ["implicit"] }),
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );
    let r = h
        .register(json!({ "redirect_uris": "https://ok.example/cb" }))
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata",
        "string, not array"
    );
    let r = h
        .http
        .post(h.url("/register"))
        .body("redirect_uris=https://ok.example/cb")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(h.store.list_clients().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_registration_body_is_refused() {
    let h = Harness::start().await;
    let r = h
        .register(json!({ "redirect_uris": ["https://ok.example/cb"], "client_name": "x".repeat(20 * 1024) }))
        .await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );
    let many: Vec<String> = (0..11)
        .map(|i| format!("https://ok.example/cb{i}"))
        .collect();
    let r = h.register(json!({ "redirect_uris": many })).await;
    assert_eq!(r.status(), 400, "too many redirect URIs");
    let r = h
        .register(
            json!({ "redirect_uris": ["https://ok.example/cb"], "client_name": "x".repeat(300) }),
        )
        .await;
    assert_eq!(r.status(), 400, "client_name too long");
    assert!(h.store.list_clients().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_needs_client_authentication() {
    let h = Harness::start().await;
    let r = h
        .http
        .post(h.url("/introspect"))
        .form(&[("token", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let client = h.confidential_client(REDIRECT).await;
    let r = h
        .http
        .post(h.url("/introspect"))
        .basic_auth(&client.id, Some("bws_not_the_secret"))
        .form(&[("token", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = h
        .http
        .post(h.url("/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "active": false }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_for_machine_endpoints_only() {
    let h = Harness::start().await;
    let r = h
        .http
        .request(reqwest::Method::OPTIONS, h.url("/token"))
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let r = h.http.get(h.url("/authorize")).send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// A client metadata document server on loopback; returns its origin.
async fn document_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let o = origin.clone();
    let app = axum::Router::new()
        .route(
            "/good.json",
            get(move || {
                let o = o.clone();
                async move {
                    axum::Json(json!({
                        "client_id": format!("{o}/good.json"),
                        "client_name": "Metadata Client",
                        "redirect_uris": [REDIRECT],
                        "token_endpoint_auth_method": "none",
                        "grant_types": ["authorization_code", "refresh_token"],
                    }))
                }
            }),
        )
        .route(
            "/mismatch.json",
            get(|| async {
                axum::Json(json!({
                    "client_id": "https://someone-else.example/client.json",
                    "redirect_uris": [REDIRECT],
                }))
            }),
        )
        .route(
            "/big.json",
            get(|| async { format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024)) }),
        )
        .route(
            "/js.json",
            get({
                let o = origin.clone();
                move || {
                    let o = o.clone();
                    async move {
                        axum::Json(json!({ "client_id": format!("{o}/js.json"), "redirect_uris": ["javascript:alert(1)"] }))
                    }
                }
            }),
        )
        .route(
            "/elsewhere.json",
            get(|| async { axum::response::Redirect::temporary("http://localhost:1/good.json") }),
        );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    origin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_metadata_documents() {
    let h = Harness::start_with(|c| c.allow_insecure_cimd = true).await;
    h.add_user("gil", false);
    let docs = document_server().await;
    let pkce = Pkce::new();

    for (doc, why) in [
        ("mismatch.json", "client_id"),
        ("big.json", "64 KiB"),
        ("js.json", "javascript"),
        ("elsewhere.json", "fetch"),
        ("missing.json", "404"),
    ] {
        let client = Client {
            id: format!("{docs}/{doc}"),
            secret: None,
            redirect: REDIRECT.into(),
        };
        let q = [
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let r = h
            .http
            .get(h.url("/authorize"))
            .query(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{doc}");
        assert!(r.headers().get("location").is_none());
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"], "invalid_client", "{doc}");
        assert!(
            b["error_description"].as_str().unwrap().contains(why),
            "{doc}: {b}"
        );
    }

    // A good document: the whole flow, the URL is the client id.
    let client = Client {
        id: format!("{docs}/good.json"),
        secret: None,
        redirect: REDIRECT.into(),
    };
    let login = h.begin(&client, &pkce, &[]).await;
    let r = h
        .post_form(
            "/authorize",
            &login,
            &[("username", "gil"), ("password", PASSWORD)],
        )
        .await;
    assert!(r.text().await.unwrap().contains("Metadata Client"));
    let r = h
        .post_form("/authorize/consent", &login, &[("decision", "approve")])
        .await;
    let code = query_of(&location(&r))["code"].clone();
    let r = h.exchange(&client, &code, &pkce).await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    let p = h
        .check(t["access_token"].as_str().unwrap(), "/mcp")
        .await
        .unwrap();
    assert_eq!(p.client_id.as_deref(), Some(client.id.as_str()));
    assert!(
        h.store.list_clients().unwrap().is_empty(),
        "documents are not stored as registrations"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_document_urls_are_not_fetched_by_default() {
    let h = Harness::start().await;
    let docs = document_server().await;
    let pkce = Pkce::new();
    let id = format!("{docs}/good.json");
    let q = [
        ("response_type", "code"),
        ("client_id", id.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let r = h
        .http
        .get(h.url("/authorize"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
}
