//! Verifying a signed JWT against a provider's key set. Shared by bearer
//! tokens and ID tokens; each caller adds its own claim checks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use crate::IdpError;
use crate::jwks::RemoteJwks;

/// Bigger tokens are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

pub(crate) type Claims = Map<String, Value>;

/// What a token must satisfy besides its signature.
pub(crate) struct Expect<'a> {
    pub issuer: &'a str,
    /// `aud` must contain one of these.
    pub audiences: &'a [String],
    pub algorithms: &'a [Algorithm],
    pub leeway_secs: u64,
}

/// `Ok(Ok(claims))` verified; `Ok(Err(why))` not a valid token; `Err` cannot decide (no keys).
pub(crate) async fn verify_jwt(
    token: &str,
    jwks: &RemoteJwks,
    expect: &Expect<'_>,
) -> Result<Result<Claims, String>, IdpError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Ok(Err(format!("longer than {} KiB", MAX_TOKEN_BYTES / 1024)));
    }
    // Three base64url segments: a signed JWT. Five would be an encrypted one, which we do not take.
    let segments: Vec<&str> = token.split('.').collect();
    if segments.len() != 3
        || segments.iter().any(|s| {
            s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    {
        return Ok(Err("not a signed JWT (three base64url segments)".into()));
    }
    let header = match jsonwebtoken::decode_header(token) {
        Ok(header) => header,
        // `alg: none` lands here too: it is no algorithm jsonwebtoken knows.
        Err(e) => return Ok(Err(format!("unreadable or unsupported header: {e}"))),
    };
    if !expect.algorithms.contains(&header.alg) {
        return Ok(Err(format!(
            "alg {:?} is not allowed (allowed: {:?})",
            header.alg, expect.algorithms
        )));
    }
    // Check `iss` before touching keys, so tokens of other issuers never trigger a JWKS fetch.
    match unverified_issuer(segments[1]) {
        Some(iss) if iss == expect.issuer => {}
        Some(iss) => {
            return Ok(Err(format!("issued by `{iss}`, not `{}`", expect.issuer)));
        }
        None => return Ok(Err("no string `iss` claim in a JSON payload".into())),
    }
    let keys = jwks.keys_for(header.kid.as_deref(), header.alg).await?;
    if keys.is_empty() {
        return Ok(Err(match &header.kid {
            Some(kid) => format!(
                "no signing key with kid `{kid}` for {:?} in the issuer's key set",
                header.alg
            ),
            None => format!(
                "no signing key for {:?} in the issuer's key set",
                header.alg
            ),
        }));
    }
    let mut validation = Validation::new(header.alg);
    validation.leeway = expect.leeway_secs;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_issuer(&[expect.issuer]);
    validation.set_audience(expect.audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let mut last = String::new();
    for key in &keys {
        match jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
            Ok(data) => return Ok(Ok(data.claims)),
            // Without a kid several keys may fit; only a bad signature means "try the next".
            Err(e) if *e.kind() == ErrorKind::InvalidSignature => last = explain(&e, expect),
            Err(e) => return Ok(Err(explain(&e, expect))),
        }
    }
    Ok(Err(last))
}

fn unverified_issuer(payload: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// jsonwebtoken's messages are enum names; say it in words.
fn explain(error: &jsonwebtoken::errors::Error, expect: &Expect<'_>) -> String {
    match error.kind() {
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::ExpiredSignature => "expired".into(),
        ErrorKind::ImmatureSignature => "not valid yet (nbf is in the future)".into(),
        ErrorKind::InvalidIssuer => format!("iss is not `{}`", expect.issuer),
        ErrorKind::InvalidAudience => {
            format!("aud contains none of {:?}", expect.audiences)
        }
        ErrorKind::InvalidAlgorithm => "alg does not fit the signing key".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("no `{claim}` claim"),
        ErrorKind::InvalidClaimFormat(claim) => format!("the `{claim}` claim is malformed"),
        _ => format!("malformed: {error}"),
    }
}

/// Strings or arrays of strings (`scope: "a b"`, `scp: ["a", "b"]`).
pub(crate) fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .flat_map(str::split_whitespace)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scopes_come_as_strings_or_arrays() {
        assert_eq!(string_list(&json!("a b  c")), ["a", "b", "c"]);
        assert_eq!(string_list(&json!(["a", "b", 3])), ["a", "b"]);
        assert!(string_list(&json!(7)).is_empty());
    }

    #[test]
    fn issuer_is_peeked_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://idp.example"}"#);
        assert_eq!(
            unverified_issuer(&payload).as_deref(),
            Some("https://idp.example")
        );
        assert_eq!(unverified_issuer("!!"), None);
    }
}
