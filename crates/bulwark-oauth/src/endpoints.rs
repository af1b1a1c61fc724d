//! The router and the machine-facing endpoints: metadata, JWKS, `/token`,
//! `/register`, `/revoke`, `/introspect`.

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use bulwark_core::Severity;
use serde_json::{Value, json};

use crate::Inner;
use crate::audit::{RequestMeta, record, who};
use crate::authorize::{authorize_get, authorize_post, consent_post, form, mfa_post};
use crate::clients::{Client, RawMetadata};
use crate::grants::{CodeRedemption, GrantError, Issued, RefreshRequest};
use crate::util::{Params, split_scope};

/// Largest request body any endpoint reads.
pub(crate) const MAX_BODY: usize = 16 * 1024;
const CLEANUP_EVERY: Duration = Duration::from_secs(600);

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/jwks.json", get(jwks))
        .route("/authorize", get(authorize_get).post(authorize_post))
        .route("/authorize/mfa", post(mfa_post))
        .route("/authorize/consent", post(consent_post))
        .route("/oauth/callback", get(crate::federation::callback))
        .route("/token", post(token))
        .route("/register", post(register))
        .route("/revoke", post(revoke))
        .route("/introspect", post(introspect))
        .layer(axum::middleware::from_fn(cors))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(inner)
}

/// Browser-based MCP clients call the machine endpoints cross-origin. They
/// carry no cookies, so any origin may. The login pages are not opened up.
async fn cors(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let open = !path.starts_with("/authorize") && !path.starts_with("/oauth/");
    if open && request.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type, MCP-Protocol-Version"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        return response;
    }
    let mut response = next.run(request).await;
    if open {
        response.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    response
}

impl Inner {
    /// A client by id: a registered one, or the client a metadata document
    /// URL describes. `Err` says why a document could not be used.
    pub(crate) async fn resolve_client(&self, client_id: &str) -> Result<Option<Client>, String> {
        if client_id.len() > 2048 {
            return Ok(None);
        }
        if self.cimd.is_document_url(client_id) {
            return self.cimd.client(client_id).await.map(Some);
        }
        let id = client_id.to_string();
        self.db
            .call(move |c| crate::clients::find(c, &id))
            .await
            .map_err(|e| {
                tracing::error!("client lookup failed: {e}");
                "the client registry is unavailable right now; try again shortly".to_string()
            })
    }

    fn maybe_cleanup(&self) {
        let mut last = self
            .last_cleanup
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| t.elapsed() < CLEANUP_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let db = self.db.clone();
        tokio::spawn(async move {
            if let Err(e) = db.call(|c| crate::grants::cleanup(c)).await {
                tracing::warn!("OAuth cleanup failed: {e}");
            }
        });
    }
}

/// RFC 6749 §5.2 error body; token responses are never cached.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    no_store(&mut response);
    response
}

fn no_store(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn json_ok(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    no_store(&mut response);
    response
}

async fn metadata(State(inner): State<Arc<Inner>>) -> Response {
    let iss = &inner.config.issuer;
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    let body = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "registration_endpoint": format!("{iss}/register"),
        "revocation_endpoint": format!("{iss}/revoke"),
        "introspection_endpoint": format!("{iss}/introspect"),
        "jwks_uri": format!("{iss}/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": crate::clients::AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": crate::clients::AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": inner.config.scopes_supported,
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
    });
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

async fn jwks(State(inner): State<Arc<Inner>>) -> Response {
    let now = crate::util::now_secs();
    match inner
        .db
        .call(move |c| {
            crate::keys::verifying(c, now).map_err(crate::error::db_err("listing signing keys"))
        })
        .await
    {
        Ok(keys) => {
            let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
            let mut response = axum::Json(json!({ "keys": keys })).into_response();
            // Short: after a rotation verifiers pick up the new key soon.
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60"),
            );
            response
        }
        Err(e) => {
            tracing::error!("JWKS: {e}");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the key set is unavailable right now",
            )
        }
    }
}

/// `Authorization: Basic` credentials, form-decoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let Some(decoded) = decoded else {
        return Some(Err(()));
    };
    let Some((id, secret)) = decoded.split_once(':') else {
        return Some(Err(()));
    };
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some(Ok((dec(id), dec(secret))))
}

fn invalid_client(basic: bool, description: &str) -> Response {
    let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    if basic {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"bulwark\""),
        );
    }
    response
}

/// The calling client: confidential clients must prove their secret,
/// public clients name themselves with `client_id` and carry no secret.
async fn authenticate_client(
    inner: &Inner,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Client, Response> {
    let basic = match basic_credentials(headers) {
        Some(Ok(creds)) => Some(creds),
        Some(Err(())) => {
            return Err(invalid_client(
                true,
                "the Authorization: Basic header is malformed; send base64(client_id:client_secret)",
            ));
        }
        None => None,
    };
    let post_id = params
        .get("client_id")
        .map_err(|e| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e))?;
    let post_secret = params
        .get("client_secret")
        .map_err(|e| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e))?;
    if basic.is_some() && post_secret.is_some() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "use one client authentication method: Basic header or client_secret in the body, not both",
        ));
    }
    let (client_id, secret) = match (&basic, post_id) {
        (Some((id, _)), Some(p)) if id != p => {
            return Err(invalid_client(
                true,
                "client_id in the body differs from the Basic header",
            ));
        }
        (Some((id, s)), _) => (id.clone(), Some(s.clone())),
        (None, Some(id)) => (id.to_string(), post_secret.map(str::to_string)),
        (None, None) => {
            return Err(invalid_client(
                false,
                "client_id is missing; public clients send client_id, confidential clients authenticate with client_secret_basic or client_secret_post",
            ));
        }
    };
    let client = match inner.resolve_client(&client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(invalid_client(
                basic.is_some(),
                &format!("client `{client_id}` is not registered here"),
            ));
        }
        Err(e) => return Err(invalid_client(basic.is_some(), &e)),
    };
    if client.is_confidential() {
        match secret {
            Some(s) if client.secret_matches(&s) => Ok(client),
            Some(_) => Err(invalid_client(
                basic.is_some(),
                "client authentication failed: wrong client_secret",
            )),
            None => Err(invalid_client(
                false,
                "this client is confidential: authenticate with client_secret_basic or client_secret_post",
            )),
        }
    } else if secret.is_some_and(|s| !s.is_empty()) {
        Err(invalid_client(
            basic.is_some(),
            "this client is public (token_endpoint_auth_method none) and has no secret; send only client_id",
        ))
    } else {
        Ok(client)
    }
}

fn issued_body(issued: &Issued) -> Value {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    });
    if let Some(refresh) = &issued.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    body
}

/// POST /token
async fn token(
    State(inner): State<Arc<Inner>>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let params = match form(&headers, body) {
        Ok(p) => p,
        Err((status, msg)) => return oauth_error(status, "invalid_request", &msg),
    };
    let client = match authenticate_client(&inner, &headers, &params).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let get = |name: &str| params.get(name).map(|v| v.map(str::to_string));
    let grant_type = match get("grant_type") {
        Ok(Some(g)) => g,
        Ok(None) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            );
        }
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    if params.count("resource") > 1 {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "send one resource parameter",
        );
    }
    let resource = get("resource").ok().flatten();
    let settings = inner.settings.clone();
    let (result, event_type) = match grant_type.as_str() {
        "authorization_code" => {
            let (code, verifier) = match (get("code"), get("code_verifier")) {
                (Ok(Some(c)), Ok(Some(v))) => (c, v),
                (Ok(None), _) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "code is missing",
                    );
                }
                (_, Ok(None)) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "code_verifier is missing: PKCE is required",
                    );
                }
                (Err(e), _) | (_, Err(e)) => {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e);
                }
            };
            let redirect_uri = match get("redirect_uri") {
                Ok(r) => r,
                Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
            };
            let req = CodeRedemption {
                code,
                client_id: client.client_id.clone(),
                redirect_uri,
                code_verifier: verifier,
                resource,
                with_refresh: client.allows_refresh(),
            };
            let result = inner
                .db
                .call(move |c| Ok(crate::grants::redeem_code(c, &settings, &req)))
                .await;
            (result, "auth.token_issued")
        }
        "refresh_token" => {
            if !client.allows_refresh() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    "this client did not register the refresh_token grant",
                );
            }
            let refresh_token = match get("refresh_token") {
                Ok(Some(t)) => t,
                Ok(None) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "refresh_token is missing",
                    );
                }
                Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
            };
            let scope = match get("scope") {
                Ok(s) => s.map(|s| split_scope(&s)).filter(|s| !s.is_empty()),
                Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
            };
            let req = RefreshRequest {
                refresh_token,
                client_id: client.client_id.clone(),
                scope,
                resource,
            };
            let result = inner
                .db
                .call(move |c| Ok(crate::grants::refresh(c, &settings, &req)))
                .await;
            (result, "auth.token_refreshed")
        }
        other => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!(
                    "grant_type `{other}` is not supported; use authorization_code or refresh_token"
                ),
            );
        }
    };
    inner.maybe_cleanup();
    let result = match result {
        Ok(r) => r,
        Err(e) => Err(GrantError::Internal(e)),
    };
    match result {
        Ok(issued) => {
            inner.verifier.note_key(&issued.key);
            let event = meta
                .event(event_type, Severity::Low, "success", 200)
                .with_detail(format!("scope={}", issued.scope));
            record(
                inner.audit.as_ref(),
                who(
                    event,
                    Some(&issued.subject),
                    Some(&issued.client_id),
                    issued.tenant.as_deref(),
                ),
            )
            .await;
            json_ok(StatusCode::OK, issued_body(&issued))
        }
        Err(GrantError::Reused {
            what,
            fid,
            subject,
            client_id,
        }) => {
            inner.verifier.note_revoked_family(&fid);
            let event_type = if what == "code" {
                "auth.code_reuse"
            } else {
                "auth.refresh_reuse"
            };
            let event = meta
                .event(event_type, Severity::High, "denied", 400)
                .with_detail(format!(
                    "a used {what} was presented again; every token of its grant was revoked"
                ));
            record(
                inner.audit.as_ref(),
                who(event, Some(&subject), Some(&client_id), None),
            )
            .await;
            oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                &format!(
                    "this {what} was already used; every token issued from it is now revoked. Authorize again"
                ),
            )
        }
        Err(GrantError::InvalidGrant(m)) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &m)
        }
        Err(GrantError::InvalidScope(m)) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &m)
        }
        Err(GrantError::InvalidTarget(m)) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_target", &m)
        }
        Err(GrantError::Internal(e)) => {
            tracing::error!("token endpoint: {e}");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the server cannot issue tokens right now; retry shortly",
            )
        }
    }
}

/// POST /register (RFC 7591)
async fn register(
    State(inner): State<Arc<Inner>>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return oauth_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_client_metadata",
                &format!("client metadata is larger than {} KiB", MAX_BODY / 1024),
            );
        }
        Err(e) => return oauth_error(e.status(), "invalid_client_metadata", &e.body_text()),
    };
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "send the client metadata as Content-Type: application/json",
        );
    }
    let raw: RawMetadata = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                &format!("the body is not client metadata JSON: {e}"),
            );
        }
    };
    let meta_data = match crate::clients::validate(raw, true) {
        Ok(m) => m,
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, e.code(), e.message()),
    };
    let stored = meta_data.clone();
    let (client_id, secret, issued_at) = match inner
        .db
        .call(move |c| crate::clients::register(c, &stored))
        .await
    {
        Ok(r) => r,
        Err(crate::OAuthError::InvalidInput(m)) => {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &m);
        }
        Err(e) => {
            tracing::error!("registration failed: {e}");
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "registration is unavailable right now; retry shortly",
            );
        }
    };
    let mut body = json!({
        "client_id": client_id,
        "client_id_issued_at": issued_at,
        "redirect_uris": meta_data.redirect_uris,
        "grant_types": meta_data.grant_types,
        "response_types": meta_data.response_types,
        "token_endpoint_auth_method": meta_data.token_endpoint_auth_method,
    });
    if let Some(secret) = &secret {
        body["client_secret"] = json!(secret);
        body["client_secret_expires_at"] = json!(0);
    }
    if let Some(name) = &meta_data.client_name {
        body["client_name"] = json!(name);
    }
    if let Some(scope) = &meta_data.scope {
        body["scope"] = json!(scope);
    }
    let event = meta
        .event("auth.client_registered", Severity::Low, "success", 201)
        .with_detail(format!(
            "name={:?} auth={} redirect_uris={}",
            meta_data.client_name.as_deref().unwrap_or(""),
            meta_data.token_endpoint_auth_method,
            meta_data.redirect_uris.join(" ")
        ));
    record(
        inner.audit.as_ref(),
        who(event, None, Some(&client_id), None),
    )
    .await;
    json_ok(StatusCode::CREATED, body)
}

/// POST /revoke (RFC 7009). Unknown tokens and tokens of other clients are
/// answered 200 and left alone.
async fn revoke(
    State(inner): State<Arc<Inner>>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let params = match form(&headers, body) {
        Ok(p) => p,
        Err((status, msg)) => return oauth_error(status, "invalid_request", &msg),
    };
    let client = match authenticate_client(&inner, &headers, &params).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let token = match params.get("token") {
        Ok(Some(t)) => t.to_string(),
        Ok(None) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "token is missing",
            );
        }
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    let ok = || json_ok(StatusCode::OK, json!({}));
    // An access token is recognised by its signature, a refresh token by its hash.
    if let Some(claims) = inner.verifier.verify_signature(&token) {
        if claims.client_id != client.client_id {
            return ok();
        }
        let (jti, exp) = (claims.jti.clone(), claims.exp);
        if let Err(e) = inner
            .db
            .call(move |c| crate::grants::revoke_jti(c, &jti, exp))
            .await
        {
            tracing::error!("revocation failed: {e}");
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "revocation is unavailable right now; retry",
            );
        }
        inner.verifier.note_revoked_jti(&claims.jti);
        let event = meta
            .event("auth.token_revoked", Severity::Low, "success", 200)
            .with_detail("access_token");
        record(
            inner.audit.as_ref(),
            who(
                event,
                Some(&claims.sub),
                Some(&claims.client_id),
                claims.tenant.as_deref(),
            ),
        )
        .await;
        return ok();
    }
    let t = token.clone();
    let found = match inner
        .db
        .call(move |c| crate::grants::find_refresh(c, &t))
        .await
    {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("revocation lookup failed: {e}");
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "revocation is unavailable right now; retry",
            );
        }
    };
    let Some(info) = found.filter(|i| i.grant.client_id == client.client_id) else {
        return ok();
    };
    let fid = info.fid.clone();
    match inner
        .db
        .call(move |c| crate::grants::revoke_by_family(c, &fid, "revoked"))
        .await
    {
        Ok(_) => {
            inner.verifier.note_revoked_family(&info.fid);
            let event = meta
                .event("auth.token_revoked", Severity::Low, "success", 200)
                .with_detail("refresh_token and its family");
            record(
                inner.audit.as_ref(),
                who(
                    event,
                    Some(&info.grant.subject),
                    Some(&info.grant.client_id),
                    info.grant.tenant.as_deref(),
                ),
            )
            .await;
            ok()
        }
        Err(e) => {
            tracing::error!("revocation failed: {e}");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "revocation is unavailable right now; retry",
            )
        }
    }
}

/// POST /introspect (RFC 7662): confidential clients, about their own tokens.
async fn introspect(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let params = match form(&headers, body) {
        Ok(p) => p,
        Err((status, msg)) => return oauth_error(status, "invalid_request", &msg),
    };
    let client = match authenticate_client(&inner, &headers, &params).await {
        Ok(c) if c.is_confidential() => c,
        Ok(_) => {
            return invalid_client(
                false,
                "introspection needs client authentication: register a confidential client (client_secret_basic or client_secret_post)",
            );
        }
        Err(response) => return response,
    };
    let token = match params.get("token") {
        Ok(Some(t)) => t.to_string(),
        Ok(None) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "token is missing",
            );
        }
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    let inactive = || json_ok(StatusCode::OK, json!({ "active": false }));
    inner.verifier.poll_if_due();
    if let Some(c) = inner.verifier.verify(&token) {
        if c.client_id != client.client_id {
            return inactive();
        }
        let mut body = json!({
            "active": true, "token_type": "Bearer", "scope": c.scope, "client_id": c.client_id,
            "sub": c.sub, "aud": c.aud, "iss": c.iss, "exp": c.exp, "iat": c.iat, "nbf": c.nbf, "jti": c.jti,
        });
        if let Some(t) = &c.tenant {
            body["tenant"] = json!(t);
        }
        return json_ok(StatusCode::OK, body);
    }
    let t = token.clone();
    match inner
        .db
        .call(move |c| crate::grants::find_refresh(c, &t))
        .await
    {
        Ok(Some(info)) if info.active && info.grant.client_id == client.client_id => {
            let mut body = json!({
                "active": true, "token_type": "refresh_token", "scope": info.grant.scopes.join(" "),
                "client_id": info.grant.client_id, "sub": info.grant.subject, "aud": info.grant.aud,
                "iss": inner.config.issuer, "exp": info.expires_at, "iat": info.created_at,
            });
            if let Some(t) = info.grant.tenant {
                body["tenant"] = json!(t);
            }
            json_ok(StatusCode::OK, body)
        }
        Ok(_) => inactive(),
        Err(e) => {
            tracing::error!("introspection failed: {e}");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "introspection is unavailable right now; retry",
            )
        }
    }
}
