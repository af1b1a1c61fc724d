//! Small helpers shared by the endpoints: randomness, hashing, time, HTML
//! escaping and strict form/query parsing.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `n` random bytes from the OS, base64url without padding.
pub(crate) fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    fill_random(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn fill_random(buf: &mut [u8]) {
    // Without OS randomness no secret this server hands out is safe, so
    // there is nothing sensible to fall back to.
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// Lowercase hex SHA-256: how codes, refresh tokens and client secrets are
/// kept at rest.
pub(crate) fn sha256_hex(data: &str) -> String {
    let digest = Sha256::digest(data.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// base64url(SHA-256(verifier)): the PKCE S256 transform.
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub(crate) fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Constant-time string comparison for secrets.
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Unix seconds → RFC 3339 UTC, for listings shown to people.
pub(crate) fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// Escapes text for HTML element content and double-quoted attributes.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Most parameters a request may carry and the longest value accepted.
const MAX_PARAMS: usize = 40;
const MAX_VALUE_LEN: usize = 4096;

/// URL-encoded parameters (a query string or a form body), kept as a list so
/// a repeated parameter can be refused (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(input: &[u8]) -> Result<Params, String> {
        let mut pairs = Vec::new();
        for (k, v) in url::form_urlencoded::parse(input) {
            if pairs.len() >= MAX_PARAMS {
                return Err(format!("send at most {MAX_PARAMS} parameters"));
            }
            if k.len() > 64 || v.len() > MAX_VALUE_LEN {
                return Err(format!(
                    "parameter `{}` is too long: names take at most 64 bytes, values {MAX_VALUE_LEN}",
                    k.chars().take(64).collect::<String>()
                ));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params(pairs))
    }

    /// The single value of `name`; `Err` when it is repeated. Empty values
    /// count as absent (RFC 6749 §3.1).
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, String> {
        let mut found = None;
        for (k, v) in &self.0 {
            if k == name && !v.is_empty() {
                if found.is_some() {
                    return Err(format!("parameter `{name}` is repeated; send it once"));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found)
    }

    pub(crate) fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|(k, _)| k == name).count()
    }
}

/// Value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Scope strings are space-separated lists of printable ASCII words (RFC 6749 §3.3).
pub(crate) fn split_scope(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
            && !out.iter().any(|o| o == s)
        {
            out.push(s.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_example() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let p = Params::parse(b"a=1&b=2&a=3").unwrap();
        assert!(p.get("a").is_err());
        assert_eq!(p.get("b").unwrap(), Some("2"));
        assert_eq!(p.get("c").unwrap(), None);
        assert_eq!(p.count("a"), 2);
    }

    #[test]
    fn oversized_values_are_refused() {
        let long = format!("a={}", "x".repeat(MAX_VALUE_LEN + 1));
        assert!(Params::parse(long.as_bytes()).is_err());
        let many: String = (0..=MAX_PARAMS).map(|i| format!("k{i}=v&")).collect();
        assert!(Params::parse(many.as_bytes()).is_err());
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn scopes_split_and_dedupe() {
        assert_eq!(
            split_scope(" mcp  profile:core mcp "),
            vec!["mcp", "profile:core"]
        );
        assert_eq!(split_scope("bad\"quote ok"), vec!["ok"]);
    }

    #[test]
    fn cookies_are_found() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            "a=1; bulwark_login=xyz".parse().unwrap(),
        );
        assert_eq!(cookie(&h, "bulwark_login").as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
