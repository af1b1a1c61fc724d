//! API key values: the record, the secret format, and input validation.
//! Nothing here touches the database.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::StoreError;

/// One API key as stored. The secret itself is never stored or returned here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Short random id; also embedded in the secret, so lookups need no scan.
    pub id: String,
    /// Human name, unique among keys that are not revoked.
    pub name: String,
    pub scopes: Vec<String>,
    pub tenant: Option<String>,
    /// RFC 3339 UTC, whole seconds (`2025-01-31T12:00:00Z`).
    pub created_at: String,
    /// RFC 3339 UTC; updated at most once a minute per key.
    pub last_used_at: Option<String>,
    /// RFC 3339 UTC; a revoked key never verifies again.
    pub revoked_at: Option<String>,
}

pub(crate) const SECRET_PREFIX: &str = "bwk_";
pub(crate) const ID_LEN: usize = 12;
/// 32 random bytes in unpadded base64url.
pub(crate) const RANDOM_LEN: usize = 43;
pub(crate) const SECRET_LEN: usize = SECRET_PREFIX.len() + ID_LEN + 1 + RANDOM_LEN;

const NAME_MAX: usize = 64;
const SCOPE_MAX: usize = 128;
const SCOPES_MAX: usize = 64;

/// A fresh id and the full secret that embeds it.
pub(crate) fn generate() -> Result<(String, String), StoreError> {
    let mut id_bytes = [0u8; ID_LEN / 2];
    let mut random = [0u8; 32];
    fill_random(&mut id_bytes)?;
    fill_random(&mut random)?;
    let id = hex::encode(id_bytes);
    let secret = format!("{SECRET_PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(random));
    debug_assert_eq!(secret.len(), SECRET_LEN);
    Ok((id, secret))
}

fn fill_random(buf: &mut [u8]) -> Result<(), StoreError> {
    getrandom::fill(buf).map_err(|e| StoreError::Random {
        reason: e.to_string(),
    })
}

/// The key id inside a well-formed secret, or `None` for anything else.
/// Checks only shape, so it is cheap on hostile input of any size.
pub(crate) fn parse_secret(secret: &str) -> Option<&str> {
    if secret.len() != SECRET_LEN {
        return None;
    }
    let rest = secret.strip_prefix(SECRET_PREFIX)?;
    let (id, tail) = rest.split_at_checked(ID_LEN)?;
    let random = tail.strip_prefix('_')?;
    let random_ok = random.len() == RANDOM_LEN
        && random
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (is_key_id(id) && random_ok).then_some(id)
}

pub(crate) fn is_key_id(s: &str) -> bool {
    s.len() == ID_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Hex SHA-256 of the whole secret. A fast hash is enough (no argon2/bcrypt):
/// slow hashes protect low-entropy passwords from guessing, but this secret
/// carries 256 random bits, so a stolen hash cannot be brute-forced anyway,
/// and verification runs on every request.
pub(crate) fn hash_secret(secret: &str) -> String {
    hex_digest(&digest_secret(secret))
}

/// The SHA-256 of a secret, raw: what verification caches keys by.
pub(crate) fn digest_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Lowercase hex, as stored in the database.
pub(crate) fn hex_digest(digest: &[u8; 32]) -> String {
    let mut out = [0u8; 64];
    // The buffer is exactly twice the digest's length, so this cannot fail.
    let _ = hex::encode_to_slice(digest, &mut out);
    std::str::from_utf8(&out).unwrap_or_default().to_owned()
}

pub(crate) fn validate_name(name: &str) -> Result<(), StoreError> {
    let fail = |reason: &str| {
        Err(StoreError::InvalidName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        })
    };
    let len = name.chars().count();
    if len == 0 || len > NAME_MAX {
        return fail("use 1 to 64 characters");
    }
    if name.chars().any(char::is_control) {
        return fail("use printable characters only (no tabs, newlines or control characters)");
    }
    if name.trim() != name {
        return fail("remove the leading or trailing spaces");
    }
    // Revocation accepts an id or a name; a name shaped like an id could
    // revoke the wrong key.
    if is_key_id(name) {
        return fail("it looks like a key id (12 hex digits); pick a name with other characters");
    }
    Ok(())
}

/// Checks every scope and drops repeats, keeping the first occurrence's order.
pub(crate) fn normalize_scopes(scopes: &[String]) -> Result<Vec<String>, StoreError> {
    if scopes.is_empty() {
        return Err(StoreError::InvalidScope {
            scope: String::new(),
            reason: "give at least one scope; a key without scopes can do nothing".to_owned(),
        });
    }
    if scopes.len() > SCOPES_MAX {
        return Err(StoreError::InvalidScope {
            scope: scopes[SCOPES_MAX].clone(),
            reason: format!("a key takes at most {SCOPES_MAX} scopes"),
        });
    }
    let mut out: Vec<String> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let fail = |reason: &str| StoreError::InvalidScope {
            scope: scope.clone(),
            reason: reason.to_owned(),
        };
        if scope.is_empty() || scope.len() > SCOPE_MAX {
            return Err(fail("use 1 to 128 characters"));
        }
        let allowed = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b':' | b'_' | b'.' | b'-');
        // `profile:*` is the one wildcard: it reaches every profile.
        if scope != "profile:*" && !scope.bytes().all(allowed) {
            return Err(fail(
                "use only lowercase letters, digits and `:` `_` `.` `-` (e.g. `tools:destructive`), or `profile:*`",
            ));
        }
        if !out.contains(scope) {
            out.push(scope.clone());
        }
    }
    Ok(out)
}

pub(crate) fn validate_tenant(tenant: &str) -> Result<(), StoreError> {
    let fail = |reason: &str| {
        Err(StoreError::InvalidTenant {
            tenant: tenant.to_owned(),
            reason: reason.to_owned(),
        })
    };
    let len = tenant.chars().count();
    if len == 0 || len > NAME_MAX {
        return fail("use 1 to 64 characters, or no tenant at all");
    }
    if tenant.chars().any(char::is_control) || tenant.trim() != tenant {
        return fail("use printable characters without leading or trailing spaces");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_parses_to_its_id() {
        let (id, secret) = generate().unwrap();
        assert!(is_key_id(&id));
        assert!(secret.starts_with("bwk_"));
        assert_eq!(secret.len(), SECRET_LEN);
        assert_eq!(parse_secret(&secret), Some(id.as_str()));
    }

    #[test]
    fn generated_secrets_differ() {
        let (id1, s1) = generate().unwrap();
        let (id2, s2) = generate().unwrap();
        assert_ne!(id1, id2);
        assert_ne!(s1, s2);
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        let (_, good) = generate().unwrap();
        let upper = good.replacen("bwk_", "BWK_", 1);
        let no_sep = good.replacen('_', "", 2);
        let bad_id = format!("bwk_ABCDEF123456_{}", &good[17..]);
        let bad_char = format!("{}!", &good[..good.len() - 1]);
        // Same byte length, but a multi-byte char lands on the id boundary.
        let unicode = format!("bwk_{}é{}", "a".repeat(11), &good[17..]);
        for bad in [
            "",
            "bwk_",
            "bwk__",
            "bwk___________________",
            &good[..good.len() - 1],
            &format!("{good}A"),
            &upper,
            &no_sep,
            &bad_id,
            &bad_char,
            &unicode,
        ] {
            assert_eq!(parse_secret(bad), None, "accepted {bad:?}");
        }
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn names() {
        for ok in ["ci", "serve on host-1", "Ünïcode ✓", &"x".repeat(64)] {
            validate_name(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for bad in [
            "",
            &"x".repeat(65),
            "tab\there",
            "new\nline",
            " padded",
            "padded ",
            "0123456789ab",
        ] {
            assert!(
                matches!(validate_name(bad), Err(StoreError::InvalidName { .. })),
                "accepted {bad:?}"
            );
        }
    }

    #[test]
    fn tenants() {
        validate_tenant("acme").unwrap();
        for bad in ["", " acme", "a\u{7}b", &"t".repeat(65)] {
            assert!(validate_tenant(bad).is_err(), "accepted {bad:?}");
        }
    }
}
