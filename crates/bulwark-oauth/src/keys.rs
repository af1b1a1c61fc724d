//! ES256 signing keys: P-256 key pairs kept in `oauth_signing_keys`. One key
//! signs; retired keys stay published until every token they signed expired.

use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::json;

use crate::error::{OAuthError, db_err};
use crate::util::{b64url, fill_random, now_secs, rfc3339};

/// A signing key as the CLI lists it (never the private half).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SigningKeyInfo {
    /// RFC 7638 thumbprint of the public key; the JWT header's `kid`.
    pub kid: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// The key new tokens are signed with.
    pub active: bool,
    pub retired_at: Option<String>,
    /// Expiry of the last token it signed; a retired key stays in the JWKS until then.
    pub signed_until: Option<String>,
}

/// A key's public half, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicKey {
    pub kid: String,
    pub x: String,
    pub y: String,
}

impl PublicKey {
    pub(crate) fn jwk(&self) -> serde_json::Value {
        json!({ "kty": "EC", "crv": "P-256", "x": self.x, "y": self.y,
                "kid": self.kid, "use": "sig", "alg": "ES256" })
    }
}

/// The key that signs now.
pub(crate) struct ActiveKey {
    pub public: PublicKey,
    pub pkcs8: Vec<u8>,
}

struct NewKey {
    public: PublicKey,
    pkcs8: Vec<u8>,
}

fn generate() -> Result<NewKey, OAuthError> {
    // Not every 32-byte string is a valid scalar; a retry is astronomically rare.
    let secret = loop {
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes);
        if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
            break secret;
        }
    };
    let pkcs8 = secret
        .to_pkcs8_der()
        .map_err(|e| OAuthError::Key(format!("encoding a new key as PKCS#8 failed: {e}")))?
        .as_bytes()
        .to_vec();
    let point = secret.public_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(OAuthError::Key(
            "a new public key has no coordinates".into(),
        ));
    };
    let (x, y) = (b64url(x), b64url(y));
    // RFC 7638: members in lexicographic order, no whitespace.
    let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = {
        use sha2::Digest;
        b64url(&sha2::Sha256::digest(thumbprint_input.as_bytes()))
    };
    Ok(NewKey {
        public: PublicKey { kid, x, y },
        pkcs8,
    })
}

fn insert(conn: &Connection, key: &NewKey, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO oauth_signing_keys (kid, pkcs8, x, y, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![key.public.kid, key.pkcs8, key.public.x, key.public.y, now],
    )
    .map(|_| ())
}

/// Makes sure one key is active; creates it on first use.
pub(crate) fn ensure_active(conn: &mut Connection) -> Result<(), OAuthError> {
    const ACTION: &str = "creating the first signing key";
    let has: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM oauth_signing_keys WHERE retired_at IS NULL)",
            [],
            |r| r.get(0),
        )
        .map_err(db_err(ACTION))?;
    if has {
        return Ok(());
    }
    let key = generate()?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(ACTION))?;
    let has: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM oauth_signing_keys WHERE retired_at IS NULL)",
            [],
            |r| r.get(0),
        )
        .map_err(db_err(ACTION))?;
    if !has {
        insert(&tx, &key, now_secs()).map_err(db_err(ACTION))?;
    }
    tx.commit().map_err(db_err(ACTION))
}

/// Retires the active key and makes a new one active, in one transaction.
pub(crate) fn rotate(conn: &mut Connection) -> Result<SigningKeyInfo, OAuthError> {
    const ACTION: &str = "rotating the signing key";
    let key = generate()?;
    let now = now_secs();
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(ACTION))?;
    tx.execute(
        "UPDATE oauth_signing_keys SET retired_at = ?1 WHERE retired_at IS NULL",
        [now],
    )
    .map_err(db_err(ACTION))?;
    insert(&tx, &key, now).map_err(db_err(ACTION))?;
    tx.commit().map_err(db_err(ACTION))?;
    Ok(SigningKeyInfo {
        kid: key.public.kid,
        created_at: rfc3339(now),
        active: true,
        retired_at: None,
        signed_until: None,
    })
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<SigningKeyInfo>, OAuthError> {
    const ACTION: &str = "listing signing keys";
    let mut stmt = conn
        .prepare(
            "SELECT kid, created_at, retired_at, signed_until FROM oauth_signing_keys
             ORDER BY created_at DESC, rowid DESC",
        )
        .map_err(db_err(ACTION))?;
    let rows = stmt
        .query_map([], |r| {
            let retired: Option<i64> = r.get(2)?;
            let until: i64 = r.get(3)?;
            Ok(SigningKeyInfo {
                kid: r.get(0)?,
                created_at: rfc3339(r.get(1)?),
                active: retired.is_none(),
                retired_at: retired.map(rfc3339),
                signed_until: (until > 0).then(|| rfc3339(until)),
            })
        })
        .map_err(db_err(ACTION))?;
    rows.collect::<Result<_, _>>().map_err(db_err(ACTION))
}

/// Keys whose signatures may still be valid: the active one and retired
/// ones that signed a token which has not expired yet.
pub(crate) fn verifying(conn: &Connection, now: i64) -> rusqlite::Result<Vec<PublicKey>> {
    let mut stmt = conn.prepare_cached(
        "SELECT kid, x, y FROM oauth_signing_keys
         WHERE retired_at IS NULL OR signed_until > ?1 ORDER BY created_at DESC",
    )?;
    let rows = stmt.query_map([now], |r| {
        Ok(PublicKey {
            kid: r.get(0)?,
            x: r.get(1)?,
            y: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// The active key, recording that it signs a token valid until `exp`.
/// Call inside the issuing transaction.
pub(crate) fn take_active(conn: &Connection, exp: i64) -> Result<ActiveKey, OAuthError> {
    const ACTION: &str = "loading the signing key";
    let mut key = conn
        .query_row(
            "SELECT kid, x, y, pkcs8 FROM oauth_signing_keys WHERE retired_at IS NULL",
            [],
            |r| {
                Ok(ActiveKey {
                    public: PublicKey {
                        kid: r.get(0)?,
                        x: r.get(1)?,
                        y: r.get(2)?,
                    },
                    pkcs8: r.get(3)?,
                })
            },
        )
        .optional()
        .map_err(db_err(ACTION))?;
    if key.is_none() {
        // Someone deleted the rows by hand: start over with a fresh key.
        let new = generate()?;
        insert(conn, &new, now_secs()).map_err(db_err(ACTION))?;
        key = Some(ActiveKey {
            public: new.public,
            pkcs8: new.pkcs8,
        });
    }
    let key = key.unwrap_or_else(|| unreachable!("set above"));
    conn.execute(
        "UPDATE oauth_signing_keys SET signed_until = max(signed_until, ?1) WHERE kid = ?2",
        params![exp, key.public.kid],
    )
    .map_err(db_err(ACTION))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_keys_that_signed_live_tokens_published() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::db::open_file(&dir.path().join("b.db")).unwrap();
        ensure_active(&mut conn).unwrap();
        ensure_active(&mut conn).unwrap();
        assert_eq!(list(&conn).unwrap().len(), 1);
        let now = now_secs();
        let first = take_active(&conn, now + 600).unwrap().public.kid;
        let second = rotate(&mut conn).unwrap();
        assert_ne!(first, second.kid);
        let published: Vec<_> = verifying(&conn, now)
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(published.len(), 2, "{published:?}");
        // Once its last token expired the old key leaves the JWKS.
        let later: Vec<_> = verifying(&conn, now + 601)
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(later, vec![second.kid.clone()]);
        let listed = list(&conn).unwrap();
        assert_eq!(listed.iter().filter(|k| k.active).count(), 1);
        assert!(
            listed
                .iter()
                .any(|k| k.kid == first && !k.active && k.signed_until.is_some())
        );
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint_shape() {
        let key = generate().unwrap();
        assert_eq!(key.public.kid.len(), 43);
        assert_eq!(key.public.x.len(), 43);
        assert!(p256::SecretKey::from_pkcs8_der(&key.pkcs8).is_ok());
    }
    use p256::pkcs8::DecodePrivateKey;
}
