//! `/authorize`: the request checks, the login, TOTP and consent pages, and
//! the redirect back to the client with a code.
//!
//! A pending authorization lives in memory under a random id that the forms
//! carry in a hidden `pending` field. It is also bound to a browser cookie
//! (HttpOnly, SameSite=Lax), so a form copied to another browser is useless.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bulwark_core::Severity;
use serde_json::json;

use crate::Inner;
use crate::audit::{RequestMeta, record, who};
use crate::grants::Grant;
use crate::util::{
    Params, cookie, ct_eq, html_escape, now_secs, random_token, sha256_hex, split_scope,
};

pub(crate) const BROWSER_COOKIE: &str = "bulwark_oauth_browser";
/// Logins in progress at once; the oldest expire first.
const MAX_PENDING: usize = 10_000;
/// Wrong passwords or codes before a pending login is thrown away.
const MAX_FAILURES: u32 = 5;

/// The checked authorization request.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub client_id: String,
    /// What the pages call the client.
    pub client_label: String,
    /// The client's registered scope limit, if it named one.
    pub client_scope: Option<Vec<String>>,
    pub redirect_uri: String,
    pub redirect_uri_sent: bool,
    pub state: Option<String>,
    pub code_challenge: String,
    /// Known scopes asked for; `None` when the request named none.
    pub scopes: Option<Vec<String>>,
    pub aud: String,
}

/// Where a pending authorization stands.
#[derive(Debug, Clone)]
pub(crate) enum Stage {
    Login,
    Mfa {
        user: String,
        allowed: Vec<String>,
        tenant: Option<String>,
    },
    Consent {
        grant: Grant,
    },
    /// Sent to the upstream provider; waiting for `/oauth/callback`.
    Upstream {
        login: bulwark_idp::PendingLogin,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub request: AuthRequest,
    browser_sha256: String,
    expires: Instant,
    pub stage: Stage,
    failures: u32,
}

pub(crate) struct PendingStore {
    map: Mutex<HashMap<String, Pending>>,
    ttl: Duration,
}

impl PendingStore {
    pub(crate) fn new(ttl: Duration) -> PendingStore {
        PendingStore {
            map: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a new pending authorization; `None` when too many are in progress.
    pub(crate) fn insert(&self, request: AuthRequest, browser: &str) -> Option<String> {
        let mut map = self.lock();
        if map.len() >= MAX_PENDING {
            let now = Instant::now();
            map.retain(|_, p| p.expires > now);
            if map.len() >= MAX_PENDING {
                return None;
            }
        }
        let id = random_token(24);
        map.insert(
            id.clone(),
            Pending {
                request,
                browser_sha256: sha256_hex(browser),
                expires: Instant::now() + self.ttl,
                stage: Stage::Login,
                failures: 0,
            },
        );
        Some(id)
    }

    /// A copy of the pending authorization, if it is live and this browser's.
    pub(crate) fn get(&self, id: &str, browser: Option<&str>) -> Option<Pending> {
        let mut map = self.lock();
        let pending = map.get(id)?;
        if pending.expires <= Instant::now() {
            map.remove(id);
            return None;
        }
        let browser = browser?;
        ct_eq(&pending.browser_sha256, &sha256_hex(browser)).then(|| pending.clone())
    }

    /// The pending authorization waiting for upstream `state`, if this browser's.
    pub(crate) fn find_upstream(
        &self,
        state: &str,
        browser: Option<&str>,
    ) -> Option<(String, Pending, bulwark_idp::PendingLogin)> {
        let id = self
            .lock()
            .iter()
            .find(|(_, p)| matches!(&p.stage, Stage::Upstream { login } if ct_eq(&login.state, state)))
            .map(|(id, _)| id.clone())?;
        let pending = self.get(&id, browser)?;
        match &pending.stage {
            Stage::Upstream { login } => {
                let login = login.clone();
                Some((id, pending, login))
            }
            _ => None,
        }
    }

    /// Moves to `stage` if the stage is still what the caller saw.
    pub(crate) fn advance(&self, id: &str, from: fn(&Stage) -> bool, to: Stage) -> bool {
        let mut map = self.lock();
        match map.get_mut(id) {
            Some(p) if from(&p.stage) => {
                p.stage = to;
                true
            }
            _ => false,
        }
    }

    /// Counts a failure; returns false (and forgets the login) at the limit.
    fn fail(&self, id: &str) -> bool {
        let mut map = self.lock();
        let Some(p) = map.get_mut(id) else {
            return false;
        };
        p.failures += 1;
        if p.failures >= MAX_FAILURES {
            map.remove(id);
            return false;
        }
        true
    }

    /// Removes and returns it (consent is the last step).
    fn take(&self, id: &str, browser: Option<&str>) -> Option<Pending> {
        let found = self.get(id, browser)?;
        self.lock().remove(id);
        Some(found)
    }
}

/// Does an allowance cover `scope`? `profile:*` covers every `profile:NAME`.
pub(crate) fn covers(allowance: &[String], scope: &str) -> bool {
    allowance.iter().any(|a| a == scope)
        || (scope.starts_with("profile:") && allowance.iter().any(|a| a == "profile:*"))
}

/// Requested ∩ user's allowance (∩ the client's registered scope). With no
/// request, the whole allowance.
pub(crate) fn grant_scopes(
    requested: Option<&[String]>,
    allowed: &[String],
    client_scope: Option<&[String]>,
) -> Vec<String> {
    let candidates = requested.unwrap_or(allowed);
    candidates
        .iter()
        .filter(|s| covers(allowed, s) && client_scope.is_none_or(|c| covers(c, s)))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------- responses

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn page_headers(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
}

fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}}\
         label{{display:block;margin:.8rem 0}}input{{display:block;width:100%;padding:.4rem;box-sizing:border-box}}\
         button{{padding:.5rem 1.2rem;margin:.8rem .5rem 0 0}}.error{{color:#a00}}code{{word-break:break-all}}\
         </style></head><body>{body}</body></html>",
        title = html_escape(title),
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    page_headers(&mut response);
    response
}

/// An error shown to the user (never redirected: the redirect URI is not
/// trusted yet, or the flow cannot continue).
pub(crate) fn error_page(
    headers: &HeaderMap,
    status: StatusCode,
    error: &str,
    description: &str,
) -> Response {
    if wants_html(headers) {
        let body = format!(
            "<h1>Sign-in cannot continue</h1><p class=\"error\">{}</p><p><small>{}</small></p>\
             <p>Go back to the application and start the sign-in again.</p>",
            html_escape(description),
            html_escape(error)
        );
        return html_page(status, "Sign-in error", &body);
    }
    let mut response = (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    page_headers(&mut response);
    response
}

/// 302 to the client's (validated) redirect URI with `pairs` added.
fn redirect_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let location = match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => redirect_uri.to_string(),
    };
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An error sent back to the client (RFC 6749 §4.1.2.1, with RFC 9207 `iss`).
fn redirect_error(inner: &Inner, req: &AuthRequest, error: &str, description: &str) -> Response {
    redirect_error_raw(
        inner,
        &req.redirect_uri,
        req.state.as_deref(),
        error,
        description,
    )
}

fn redirect_error_raw(
    inner: &Inner,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", inner.config.issuer.as_str()));
    redirect_to(redirect_uri, &pairs)
}

fn scope_description(scope: &str) -> String {
    match scope {
        "mcp" => "Use bulwark's MCP tools".into(),
        "profile:*" => "Every tool profile".into(),
        "tools:destructive" => "Run destructive tools (changes on hosts and in backends)".into(),
        s => match s.strip_prefix("profile:") {
            Some(p) => format!("The {p} tool profile"),
            None => s.to_string(),
        },
    }
}

fn hidden(id: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"pending\" value=\"{}\">",
        html_escape(id)
    )
}

pub(crate) fn login_page(
    inner: &Inner,
    id: &str,
    p: &Pending,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", html_escape(e)))
        .unwrap_or_default();
    let federated = inner
        .federation
        .as_ref()
        .map(|f| {
            format!(
                "<p>or</p><form method=\"post\" action=\"/authorize\">{}\
                 <button type=\"submit\" name=\"federated\" value=\"1\">{}</button></form>",
                hidden(id),
                html_escape(&f.config.label)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in to bulwark</h1>\
         <p><strong>{client}</strong> asks to use <code>{aud}</code>.</p>{error}\
         <form method=\"post\" action=\"/authorize\">{hidden}\
         <label>User name<input name=\"username\" autocomplete=\"username\" required autofocus></label>\
         <label>Password<input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Sign in</button></form>{federated}",
        client = html_escape(&p.request.client_label),
        aud = html_escape(&p.request.aud),
        hidden = hidden(id),
    );
    html_page(status, "Sign in", &body)
}

fn mfa_page(id: &str, status: StatusCode, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", html_escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Two-step verification</h1><p>Enter the 6-digit code from your authenticator app.</p>{error}\
         <form method=\"post\" action=\"/authorize/mfa\">{hidden}\
         <label>Code<input name=\"code\" inputmode=\"numeric\" pattern=\"[0-9]{{6}}\" maxlength=\"6\" \
         autocomplete=\"one-time-code\" required autofocus></label>\
         <button type=\"submit\">Verify</button></form>",
        hidden = hidden(id),
    );
    html_page(status, "Verify", &body)
}

fn consent_page(id: &str, p: &Pending, grant: &Grant) -> Response {
    let scopes: String = grant
        .scopes
        .iter()
        .map(|s| {
            format!(
                "<li><code>{}</code> — {}</li>",
                html_escape(s),
                html_escape(&scope_description(s))
            )
        })
        .collect();
    let back_to = url::Url::parse(&p.request.redirect_uri)
        .ok()
        .map(|u| match u.host_str() {
            Some(h) => format!("{}://{h}", u.scheme()),
            None => u.scheme().to_string(),
        })
        .unwrap_or_default();
    let tenant = grant
        .tenant
        .as_deref()
        .map(|t| format!(" in tenant <code>{}</code>", html_escape(t)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Allow access?</h1>\
         <p><strong>{client}</strong> (<code>{client_id}</code>) asks to act as <strong>{user}</strong>{tenant} \
         on <code>{aud}</code> with:</p><ul>{scopes}</ul>\
         <p><small>You will be sent back to <code>{back_to}</code>.</small></p>\
         <form method=\"post\" action=\"/authorize/consent\">{hidden}\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        client = html_escape(&p.request.client_label),
        client_id = html_escape(&p.request.client_id),
        user = html_escape(&grant.subject),
        aud = html_escape(&grant.aud),
        back_to = html_escape(&back_to),
        hidden = hidden(id),
    );
    html_page(StatusCode::OK, "Allow access", &body)
}

// ----------------------------------------------------------------- handlers

/// A resource (RFC 8707) must be an MCP route on the issuer's origin.
fn check_resource(issuer: &str, resource: &str) -> Result<String, String> {
    let url = url::Url::parse(resource).map_err(|_| {
        format!(
            "resource `{resource}` is not an absolute URL; use {issuer}/mcp or {issuer}/mcp/PROFILE"
        )
    })?;
    let path = url.path();
    let on_origin = url.origin().ascii_serialization() == issuer;
    let mcp_path =
        path == "/mcp" || path == "/mcp/" || (path.starts_with("/mcp/") && !path.contains("/../"));
    if !on_origin
        || !mcp_path
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(format!(
            "resource `{resource}` is not served here; use {issuer}/mcp or {issuer}/mcp/PROFILE"
        ));
    }
    Ok(format!("{issuer}{}", crate::token::normalise(path)))
}

fn browser_cookie(inner: &Inner, value: &str) -> String {
    let secure = if inner.config.issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{BROWSER_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        inner.config.login_ttl.as_secs()
    )
}

fn valid_cookie_value(v: &str) -> bool {
    v.len() == 43
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// GET /authorize
pub(crate) async fn authorize_get(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let bad = |status, error: &str, msg: String| error_page(&headers, status, error, &msg);
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return bad(StatusCode::BAD_REQUEST, "invalid_request", e),
    };
    // Until the redirect URI is checked, errors are shown here, never redirected.
    let client_id = match params.get("client_id") {
        Ok(Some(c)) => c.to_string(),
        Ok(None) => {
            return bad(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id is missing; the application must send its client_id".into(),
            );
        }
        Err(e) => return bad(StatusCode::BAD_REQUEST, "invalid_request", e),
    };
    let client = match inner.resolve_client(&client_id).await {
        Ok(Some(c)) => c,
        Ok(None) if client_id.starts_with("https://") || client_id.starts_with("http://") => {
            return bad(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                format!(
                    "client metadata document URL `{client_id}` is not accepted: it must be https, have a path, and be on a public address (loopback and private addresses only with auth.oauth.allow_insecure_cimd, for tests)"
                ),
            );
        }
        Ok(None) => {
            return bad(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                format!(
                    "client `{client_id}` is not registered here; the application must register (POST /register) or use a client metadata document URL"
                ),
            );
        }
        Err(e) => return bad(StatusCode::BAD_REQUEST, "invalid_client", e),
    };
    let (redirect_uri, sent) = match params.get("redirect_uri") {
        Ok(Some(uri)) if client.redirect_allowed(uri) => (uri.to_string(), true),
        Ok(Some(uri)) => {
            return bad(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "redirect_uri `{uri}` is not registered for client `{client_id}`; register it or send a registered one"
                ),
            );
        }
        Ok(None) if client.meta.redirect_uris.len() == 1 => {
            (client.meta.redirect_uris[0].clone(), false)
        }
        Ok(None) => {
            return bad(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "redirect_uri is missing and the client has several; send one of them".into(),
            );
        }
        Err(e) => return bad(StatusCode::BAD_REQUEST, "invalid_request", e),
    };
    // From here on errors go back to the client.
    let state = match params.get("state") {
        Ok(s) => s.map(str::to_string),
        Err(e) => return redirect_error_raw(&inner, &redirect_uri, None, "invalid_request", &e),
    };
    let fail = |error: &str, msg: &str| {
        redirect_error_raw(&inner, &redirect_uri, state.as_deref(), error, msg)
    };
    let single = |name: &str| params.get(name).map(|v| v.map(str::to_string));
    match single("response_type") {
        Ok(Some(t)) if t == "code" => {}
        Ok(Some(_)) => {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
        Ok(None) => {
            return fail(
                "invalid_request",
                "response_type is missing; send response_type=code",
            );
        }
        Err(e) => return fail("invalid_request", &e),
    }
    let challenge = match single("code_challenge") {
        Ok(Some(c)) => c,
        Ok(None) => {
            return fail(
                "invalid_request",
                "code_challenge is required: use PKCE with code_challenge_method=S256",
            );
        }
        Err(e) => return fail("invalid_request", &e),
    };
    match single("code_challenge_method") {
        Ok(Some(m)) if m == "S256" => {}
        Ok(_) => {
            return fail(
                "invalid_request",
                "code_challenge_method must be S256; plain is not accepted",
            );
        }
        Err(e) => return fail("invalid_request", &e),
    }
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return fail(
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the code_verifier (43 characters)",
        );
    }
    if params.count("resource") > 1 {
        return fail("invalid_target", "send one resource parameter");
    }
    let aud = match single("resource") {
        Ok(Some(r)) => match check_resource(&inner.config.issuer, &r) {
            Ok(aud) => aud,
            Err(e) => return fail("invalid_target", &e),
        },
        Ok(None) => inner.config.issuer.clone(),
        Err(e) => return fail("invalid_target", &e),
    };
    let scopes = match single("scope") {
        Ok(Some(s)) => {
            let asked = split_scope(&s);
            let known: Vec<String> = asked
                .iter()
                .filter(|s| covers(&inner.config.scopes_supported, s))
                .cloned()
                .collect();
            if known.is_empty() && !asked.is_empty() {
                return fail(
                    "invalid_scope",
                    &format!(
                        "none of the requested scopes is supported; use some of: {}",
                        inner.config.scopes_supported.join(" ")
                    ),
                );
            }
            Some(known)
        }
        Ok(None) => None,
        Err(e) => return fail("invalid_request", &e),
    };
    if matches!(single("prompt"), Ok(Some(p)) if p.split(' ').any(|p| p == "none")) {
        return fail(
            "login_required",
            "this server always asks the user to sign in",
        );
    }
    let request = AuthRequest {
        client_label: client
            .meta
            .client_name
            .clone()
            .unwrap_or_else(|| client.client_id.clone()),
        client_scope: client.meta.scope.as_deref().map(split_scope),
        client_id: client.client_id,
        redirect_uri,
        redirect_uri_sent: sent,
        state,
        code_challenge: challenge,
        scopes,
        aud,
    };
    let browser = cookie(&headers, BROWSER_COOKIE)
        .filter(|v| valid_cookie_value(v))
        .unwrap_or_else(|| random_token(32));
    let Some(id) = inner.pending.insert(request, &browser) else {
        return bad(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many sign-ins are in progress; try again in a few minutes".into(),
        );
    };
    let pending = inner
        .pending
        .get(&id, Some(&browser))
        .unwrap_or_else(|| unreachable!("just inserted"));
    let mut response = login_page(&inner, &id, &pending, StatusCode::OK, None);
    if let Ok(v) = HeaderValue::from_str(&browser_cookie(&inner, &browser)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// Parses a form body; the error response when it is not one.
pub(crate) fn form(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Params, (StatusCode, String)> {
    let body = body.map_err(|e| {
        (
            e.status(),
            format!("request body refused: {}", e.body_text()),
        )
    })?;
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err((
            StatusCode::BAD_REQUEST,
            "send the parameters as Content-Type: application/x-www-form-urlencoded".into(),
        ));
    }
    Params::parse(&body).map_err(|e| (StatusCode::BAD_REQUEST, e))
}

/// The pending authorization a form refers to, or the page saying it is gone.
fn pending_for(
    inner: &Inner,
    headers: &HeaderMap,
    params: &Params,
) -> Result<(String, Pending), Box<Response>> {
    let gone = || {
        Box::new(error_page(
            headers,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "this sign-in expired, was finished, or was started in another browser; start again from the application",
        ))
    };
    let id = params
        .get("pending")
        .ok()
        .flatten()
        .ok_or_else(gone)?
        .to_string();
    let browser = cookie(headers, BROWSER_COOKIE);
    let pending = inner
        .pending
        .get(&id, browser.as_deref())
        .ok_or_else(gone)?;
    Ok((id, pending))
}

/// After the last factor: either the consent page or, if nothing can be
/// granted, an `invalid_scope` redirect.
pub(crate) fn to_consent(
    inner: &Inner,
    id: &str,
    pending: &Pending,
    subject: &str,
    source: &'static str,
    allowed: &[String],
    tenant: Option<String>,
) -> Response {
    let scopes = grant_scopes(
        pending.request.scopes.as_deref(),
        allowed,
        pending.request.client_scope.as_deref(),
    );
    if scopes.is_empty() {
        inner.pending.lock().remove(id);
        return redirect_error(
            inner,
            &pending.request,
            "invalid_scope",
            "the user may not be granted any of the requested scopes",
        );
    }
    let grant = Grant {
        subject: subject.to_string(),
        source,
        client_id: pending.request.client_id.clone(),
        scopes,
        tenant,
        aud: pending.request.aud.clone(),
    };
    if !inner.pending.advance(
        id,
        |s| matches!(s, Stage::Login | Stage::Mfa { .. } | Stage::Upstream { .. }),
        Stage::Consent {
            grant: grant.clone(),
        },
    ) {
        return error_page(
            // Reached only from browser forms: answer as a page.
            &HeaderMap::from_iter([(header::ACCEPT, HeaderValue::from_static("text/html"))]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "this sign-in already moved on; start again from the application",
        );
    }
    consent_page(id, pending, &grant)
}

/// POST /authorize: the password step.
pub(crate) async fn authorize_post(
    State(inner): State<Arc<Inner>>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let params = match form(&headers, body) {
        Ok(p) => p,
        Err((status, msg)) => return error_page(&headers, status, "invalid_request", &msg),
    };
    let (id, pending) = match pending_for(&inner, &headers, &params) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if params.get("federated").ok().flatten().is_some() {
        return crate::federation::start(&inner, &headers, &id).await;
    }
    if !matches!(pending.stage, Stage::Login | Stage::Upstream { .. }) {
        return error_page(
            &headers,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "this sign-in is past the password step; start again from the application",
        );
    }
    let username = params
        .get("username")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_string();
    let password = params
        .get("password")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_string();
    if username.is_empty() || password.is_empty() {
        return login_page(
            &inner,
            &id,
            &pending,
            StatusCode::BAD_REQUEST,
            Some("Enter your user name and password."),
        );
    }
    let user = if crate::users::valid_name(&username) {
        let name = username.clone();
        match inner
            .db
            .call(move |c| crate::users::find_user(c, &name))
            .await
        {
            Ok(u) => u,
            Err(e) => {
                tracing::error!("login lookup failed: {e}");
                return error_page(
                    &headers,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "sign-in is unavailable right now; try again shortly",
                );
            }
        }
    } else {
        None
    };
    // Unknown users cost one argon2 verification too, so timing does not
    // tell which names exist.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| crate::users::dummy_hash().to_string());
    let ok = tokio::task::spawn_blocking(move || crate::users::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let user = match user {
        Some(u) if ok => u,
        _ => {
            let event = meta
                .event("auth.login", Severity::Medium, "failure", 401)
                .with_detail(if user.is_some() {
                    "wrong password"
                } else {
                    "unknown user"
                });
            let attempted: String = username.chars().take(64).collect();
            let event = who(
                event,
                Some(&attempted),
                Some(&pending.request.client_id),
                None,
            );
            record(inner.audit.as_ref(), event).await;
            if !inner.pending.fail(&id) {
                return error_page(
                    &headers,
                    StatusCode::UNAUTHORIZED,
                    "access_denied",
                    "too many failed attempts; start again from the application",
                );
            }
            return login_page(
                &inner,
                &id,
                &pending,
                StatusCode::UNAUTHORIZED,
                Some("Wrong user name or password."),
            );
        }
    };
    let event = meta.event("auth.login", Severity::Low, "success", 200);
    let event = who(
        event,
        Some(&user.name),
        Some(&pending.request.client_id),
        user.tenant.as_deref(),
    );
    record(inner.audit.as_ref(), event).await;
    if user.totp {
        let moved = inner.pending.advance(
            &id,
            |s| matches!(s, Stage::Login | Stage::Upstream { .. }),
            Stage::Mfa {
                user: user.name.clone(),
                allowed: user.scopes.clone(),
                tenant: user.tenant.clone(),
            },
        );
        if !moved {
            return error_page(
                &headers,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "this sign-in already moved on; start again from the application",
            );
        }
        return mfa_page(&id, StatusCode::OK, None);
    }
    to_consent(
        &inner,
        &id,
        &pending,
        &user.name,
        "local",
        &user.scopes,
        user.tenant,
    )
}

/// POST /authorize/mfa: the TOTP step.
pub(crate) async fn mfa_post(
    State(inner): State<Arc<Inner>>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let params = match form(&headers, body) {
        Ok(p) => p,
        Err((status, msg)) => return error_page(&headers, status, "invalid_request", &msg),
    };
    let (id, pending) = match pending_for(&inner, &headers, &params) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let Stage::Mfa {
        user,
        allowed,
        tenant,
    } = pending.stage.clone()
    else {
        return error_page(
            &headers,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "this sign-in is not waiting for a code; start again from the application",
        );
    };
    let code: String = params
        .get("code")
        .ok()
        .flatten()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let name = user.clone();
    let now = now_secs().max(0) as u64;
    let ok = match inner
        .db
        .call(move |c| crate::users::check_totp(c, &name, &code, now))
        .await
    {
        Ok(ok) => ok,
        Err(e) => {
            tracing::error!("TOTP check failed: {e}");
            return error_page(
                &headers,
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "sign-in is unavailable right now; try again shortly",
            );
        }
    };
    let client_id = pending.request.client_id.clone();
    if !ok {
        let event = meta.event("auth.mfa", Severity::Medium, "failure", 401);
        record(
            inner.audit.as_ref(),
            who(event, Some(&user), Some(&client_id), tenant.as_deref()),
        )
        .await;
        if !inner.pending.fail(&id) {
            return error_page(
                &headers,
                StatusCode::UNAUTHORIZED,
                "access_denied",
                "too many wrong codes; start again from the application",
            );
        }
        return mfa_page(
            &id,
            StatusCode::UNAUTHORIZED,
            Some("Wrong or already used code; wait for the next one."),
        );
    }
    let event = meta.event("auth.mfa", Severity::Low, "success", 200);
    record(
        inner.audit.as_ref(),
        who(event, Some(&user), Some(&client_id), tenant.as_deref()),
    )
    .await;
    to_consent(&inner, &id, &pending, &user, "local", &allowed, tenant)
}

/// POST /authorize/consent: approve → code, deny → access_denied.
pub(crate) async fn consent_post(
    State(inner): State<Arc<Inner>>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let params = match form(&headers, body) {
        Ok(p) => p,
        Err((status, msg)) => return error_page(&headers, status, "invalid_request", &msg),
    };
    let (id, pending) = match pending_for(&inner, &headers, &params) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let Stage::Consent { grant } = pending.stage.clone() else {
        return error_page(
            &headers,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "this sign-in is not waiting for consent; start again from the application",
        );
    };
    let decision = params
        .get("decision")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_string();
    if decision != "approve" && decision != "deny" {
        return consent_page(&id, &pending, &grant);
    }
    // One decision per pending authorization: take it out first.
    let browser = cookie(&headers, BROWSER_COOKIE);
    let Some(pending) = inner.pending.take(&id, browser.as_deref()) else {
        return error_page(
            &headers,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "this sign-in was already decided; start again from the application",
        );
    };
    let req = pending.request;
    if decision == "deny" {
        let event = meta.event("auth.consent", Severity::Low, "denied", 302);
        record(
            inner.audit.as_ref(),
            who(
                event,
                Some(&grant.subject),
                Some(&grant.client_id),
                grant.tenant.as_deref(),
            ),
        )
        .await;
        return redirect_error(&inner, &req, "access_denied", "the user denied access");
    }
    let code_ttl = inner.config.code_ttl;
    let (g, uri, sent, challenge) = (
        grant.clone(),
        req.redirect_uri.clone(),
        req.redirect_uri_sent,
        req.code_challenge.clone(),
    );
    let code = match inner
        .db
        .call(move |c| crate::grants::create_code(c, &g, &uri, sent, &challenge, code_ttl))
        .await
    {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("storing an authorization code failed: {e}");
            return redirect_error(
                &inner,
                &req,
                "temporarily_unavailable",
                "the server could not store the authorization; try again",
            );
        }
    };
    let event = meta
        .event("auth.consent", Severity::Low, "granted", 302)
        .with_detail(format!(
            "scope={} aud={}",
            grant.scopes.join(" "),
            grant.aud
        ));
    record(
        inner.audit.as_ref(),
        who(
            event,
            Some(&grant.subject),
            Some(&grant.client_id),
            grant.tenant.as_deref(),
        ),
    )
    .await;
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = &req.state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", inner.config.issuer.as_str()));
    redirect_to(&req.redirect_uri, &pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        split_scope(s)
    }

    #[test]
    fn granted_scopes_are_the_intersection() {
        let allowed = v("mcp profile:*");
        assert_eq!(grant_scopes(None, &allowed, None), v("mcp profile:*"));
        assert_eq!(
            grant_scopes(
                Some(&v("mcp profile:core tools:destructive")),
                &allowed,
                None
            ),
            v("mcp profile:core")
        );
        assert_eq!(
            grant_scopes(Some(&v("profile:core")), &v("mcp profile:dfir"), None),
            Vec::<String>::new()
        );
        assert_eq!(
            grant_scopes(Some(&v("mcp profile:core")), &allowed, Some(&v("mcp"))),
            v("mcp")
        );
    }

    #[test]
    fn resources_must_be_mcp_routes_on_the_issuer() {
        let iss = "http://127.0.0.1:8080";
        assert_eq!(
            check_resource(iss, "http://127.0.0.1:8080/mcp").unwrap(),
            "http://127.0.0.1:8080/mcp"
        );
        assert_eq!(
            check_resource(iss, "http://127.0.0.1:8080/mcp/core/").unwrap(),
            "http://127.0.0.1:8080/mcp/core"
        );
        for bad in [
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080/mcpx",
            "http://127.0.0.1:8081/mcp",
            "http://localhost:8080/mcp",
            "https://127.0.0.1:8080/mcp",
            "http://127.0.0.1:8080/mcp?x=1",
            "/mcp",
            "http://127.0.0.1:8080/token",
        ] {
            assert!(check_resource(iss, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pending_logins_are_bound_to_the_browser_and_expire() {
        let store = PendingStore::new(Duration::from_millis(50));
        let req = AuthRequest {
            client_id: "c".into(),
            client_label: "c".into(),
            client_scope: None,
            redirect_uri: "https://a.example/cb".into(),
            redirect_uri_sent: true,
            state: None,
            code_challenge: "x".into(),
            scopes: None,
            aud: "http://i".into(),
        };
        let id = store.insert(req, "browser-a").unwrap();
        assert!(store.get(&id, Some("browser-a")).is_some());
        assert!(store.get(&id, Some("browser-b")).is_none());
        assert!(store.get(&id, None).is_none());
        for _ in 0..MAX_FAILURES - 1 {
            assert!(store.fail(&id));
        }
        assert!(
            !store.fail(&id),
            "the last allowed failure forgets the login"
        );
        assert!(store.get(&id, Some("browser-a")).is_none());
        let req2 = AuthRequest {
            client_id: "d".into(),
            ..store_req()
        };
        let id2 = store.insert(req2, "b").unwrap();
        std::thread::sleep(Duration::from_millis(60));
        assert!(store.get(&id2, Some("b")).is_none(), "expired");
    }

    fn store_req() -> AuthRequest {
        AuthRequest {
            client_id: "c".into(),
            client_label: "c".into(),
            client_scope: None,
            redirect_uri: "https://a.example/cb".into(),
            redirect_uri_sent: true,
            state: None,
            code_challenge: "x".into(),
            scopes: None,
            aud: "http://i".into(),
        }
    }
}
