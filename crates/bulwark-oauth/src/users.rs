//! Built-in users: argon2id password hashes, optional TOTP, scope allowance.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::{OAuthError, db_err};
use crate::grants::revoke_family;
use crate::util::{ct_eq, fill_random, now_secs, rfc3339, split_scope};

/// What a user may be granted when the record names nothing else.
pub(crate) const DEFAULT_USER_SCOPES: &[&str] = &["mcp", "profile:*"];
const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 1024;
const TOTP_STEP: u64 = 30;

/// The secret to put in an authenticator app, shown once when the user is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpEnrollment {
    pub secret_base32: String,
    /// `otpauth://totp/...`: render as a QR code or paste into the app.
    pub otpauth_uri: String,
}

/// A user as listed: never the password hash or TOTP secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserInfo {
    pub name: String,
    pub totp: bool,
    pub scopes: Vec<String>,
    pub tenant: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// What login needs to know about a user.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub name: String,
    pub password_hash: String,
    pub totp: bool,
    pub scopes: Vec<String>,
    pub tenant: Option<String>,
}

pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'))
}

pub(crate) fn valid_tenant(tenant: &str) -> bool {
    (1..=64).contains(&tenant.len())
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn totp_for(name: &str, secret: Vec<u8>) -> Result<TOTP, OAuthError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        TOTP_STEP,
        secret,
        Some("bulwark".into()),
        name.to_string(),
    )
    .map_err(|e| OAuthError::InvalidInput(format!("cannot set up TOTP for `{name}`: {e}")))
}

pub(crate) fn hash_password(password: &str) -> Result<String, OAuthError> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| OAuthError::Hash(e.to_string()))?;
    // Argon2::default() is argon2id v19, m=19 MiB, t=2, p=1 (OWASP's minimum).
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| OAuthError::Hash(e.to_string()))
}

/// A hash of a random password, checked for unknown users so that a wrong
/// name costs as much time as a wrong password.
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password(&crate::util::random_token(24)).unwrap_or_else(|_| {
            // Still a valid PHC string, so verification runs (and fails) as usual.
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$u1cBh2rw0A6p8Lt0TpCxoSRfWuM0Vc3kqxHB6LUA2Nc".into()
        })
    })
}

/// Checks a password against a PHC hash. CPU-heavy: call off the async threads.
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

pub(crate) fn add_user(
    conn: &mut Connection,
    name: &str,
    password: &str,
    totp: bool,
    scopes: &[String],
    tenant: Option<&str>,
) -> Result<Option<TotpEnrollment>, OAuthError> {
    const ACTION: &str = "adding a user";
    if !valid_name(name) {
        return Err(OAuthError::InvalidInput(format!(
            "user name `{name}` is not usable: use 1-64 letters, digits, `_`, `-`, `.` or `@`"
        )));
    }
    let chars = password.chars().count();
    if chars < MIN_PASSWORD || password.len() > MAX_PASSWORD {
        return Err(OAuthError::InvalidInput(format!(
            "choose a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )));
    }
    if let Some(t) = tenant
        && !valid_tenant(t)
    {
        return Err(OAuthError::InvalidInput(format!(
            "tenant `{t}` is not a tenant id: use 1-64 letters, digits, `_`, `-` or `.`"
        )));
    }
    let mut allowed = Vec::new();
    for s in scopes {
        let parsed = split_scope(s);
        if parsed.len() != 1 || parsed[0] != *s {
            return Err(OAuthError::InvalidInput(format!(
                "scope `{s}` is not one scope: use printable ASCII without spaces or quotes"
            )));
        }
        allowed.push(s.clone());
    }
    if allowed.is_empty() {
        allowed = DEFAULT_USER_SCOPES.iter().map(|s| s.to_string()).collect();
    }
    let (secret, enrollment) = if totp {
        let mut raw = vec![0u8; 20];
        fill_random(&mut raw);
        let t = totp_for(name, raw.clone())?;
        let Secret::Encoded(b32) = Secret::Raw(raw).to_encoded() else {
            unreachable!("to_encoded returns Encoded")
        };
        (
            Some(b32.clone()),
            Some(TotpEnrollment {
                secret_base32: b32,
                otpauth_uri: t.get_url(),
            }),
        )
    } else {
        (None, None)
    };
    let hash = hash_password(password)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(ACTION))?;
    let exists: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM oauth_users WHERE name = ?1)",
            [name],
            |r| r.get(0),
        )
        .map_err(db_err(ACTION))?;
    if exists {
        return Err(OAuthError::UserExists { name: name.into() });
    }
    tx.execute(
        "INSERT INTO oauth_users (name, password_hash, totp_secret, scopes, tenant, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![name, hash, secret, allowed.join(" "), tenant, now_secs()],
    )
    .map_err(db_err(ACTION))?;
    tx.commit().map_err(db_err(ACTION))?;
    Ok(enrollment)
}

pub(crate) fn list_users(conn: &Connection) -> Result<Vec<UserInfo>, OAuthError> {
    const ACTION: &str = "listing users";
    let mut stmt = conn
        .prepare(
            "SELECT name, totp_secret IS NOT NULL, scopes, tenant, created_at
             FROM oauth_users ORDER BY name",
        )
        .map_err(db_err(ACTION))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(UserInfo {
                name: r.get(0)?,
                totp: r.get(1)?,
                scopes: split_scope(&r.get::<_, String>(2)?),
                tenant: r.get(3)?,
                created_at: rfc3339(r.get(4)?),
            })
        })
        .map_err(db_err(ACTION))?;
    rows.collect::<Result<_, _>>().map_err(db_err(ACTION))
}

/// Deletes the user and revokes every token family issued to them.
pub(crate) fn remove_user(conn: &mut Connection, name: &str) -> Result<usize, OAuthError> {
    const ACTION: &str = "removing a user";
    let now = now_secs();
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(ACTION))?;
    let removed = tx
        .execute("DELETE FROM oauth_users WHERE name = ?1", [name])
        .map_err(db_err(ACTION))?;
    if removed == 0 {
        return Err(OAuthError::UserNotFound { name: name.into() });
    }
    let fids: Vec<String> = {
        let mut stmt = tx
            .prepare(
                "SELECT fid FROM oauth_families
                 WHERE subject = ?1 AND source = 'local' AND revoked_at IS NULL",
            )
            .map_err(db_err(ACTION))?;
        let rows = stmt
            .query_map([name], |r| r.get(0))
            .map_err(db_err(ACTION))?;
        rows.collect::<Result<_, _>>().map_err(db_err(ACTION))?
    };
    for fid in &fids {
        revoke_family(&tx, fid, "user_removed", now).map_err(db_err(ACTION))?;
    }
    tx.commit().map_err(db_err(ACTION))?;
    Ok(fids.len())
}

pub(crate) fn find_user(conn: &Connection, name: &str) -> Result<Option<UserRecord>, OAuthError> {
    conn.query_row(
        "SELECT name, password_hash, totp_secret IS NOT NULL, scopes, tenant
         FROM oauth_users WHERE name = ?1",
        [name],
        |r| {
            Ok(UserRecord {
                name: r.get(0)?,
                password_hash: r.get(1)?,
                totp: r.get(2)?,
                scopes: split_scope(&r.get::<_, String>(3)?),
                tenant: r.get(4)?,
            })
        },
    )
    .optional()
    .map_err(db_err("looking up a user"))
}

pub(crate) fn user_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM oauth_users WHERE name = ?1)",
        [name],
        |r| r.get(0),
    )
}

/// Checks a 6-digit code for `name` at unix time `now`, one step either side.
/// A step that matched once is burnt, along with every earlier one, so a seen
/// code cannot be replayed.
pub(crate) fn check_totp(
    conn: &Connection,
    name: &str,
    code: &str,
    now: u64,
) -> Result<bool, OAuthError> {
    const ACTION: &str = "checking a TOTP code";
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(false);
    }
    let row: Option<(Option<String>, i64)> = conn
        .query_row(
            "SELECT totp_secret, totp_last_step FROM oauth_users WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err(ACTION))?;
    let Some((Some(secret), last_step)) = row else {
        return Ok(false);
    };
    let raw = Secret::Encoded(secret).to_bytes().map_err(|_| {
        OAuthError::InvalidInput(format!(
            "the stored TOTP secret of `{name}` is damaged; remove and re-add the user"
        ))
    })?;
    let totp = totp_for(name, raw)?;
    let current = now / TOTP_STEP;
    let mut matched = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        // Compare all three so timing does not tell which step matched.
        if ct_eq(&totp.generate(step * TOTP_STEP), code) && matched.is_none() {
            matched = Some(step);
        }
    }
    let Some(step) = matched else {
        return Ok(false);
    };
    if step as i64 <= last_step {
        return Ok(false);
    }
    // Conditional update: of two concurrent uses of one code only one wins.
    let won = conn
        .execute(
            "UPDATE oauth_users SET totp_last_step = ?1 WHERE name = ?2 AND totp_last_step < ?1",
            params![step as i64, name],
        )
        .map_err(db_err(ACTION))?;
    Ok(won == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_file(&dir.path().join("b.db")).unwrap();
        (dir, conn)
    }

    #[test]
    fn totp_codes_work_once_and_only_near_now() {
        let (_d, mut c) = conn();
        let e = add_user(&mut c, "ana", "long enough pw", true, &[], None)
            .unwrap()
            .unwrap();
        assert!(
            e.otpauth_uri.starts_with("otpauth://totp/bulwark:ana?"),
            "{}",
            e.otpauth_uri
        );
        let raw = Secret::Encoded(e.secret_base32).to_bytes().unwrap();
        let t = totp_for("ana", raw).unwrap();
        let now = 1_700_000_000u64;
        assert!(
            !check_totp(&c, "ana", &t.generate(now - 120), now).unwrap(),
            "4 steps old"
        );
        assert!(
            check_totp(&c, "ana", &t.generate(now - 30), now).unwrap(),
            "1 step skew"
        );
        let code = t.generate(now);
        assert!(check_totp(&c, "ana", &code, now).unwrap());
        assert!(!check_totp(&c, "ana", &code, now).unwrap(), "replayed");
        assert!(
            !check_totp(&c, "ana", &t.generate(now - 30), now).unwrap(),
            "older than used"
        );
        assert!(!check_totp(&c, "ana", "12345", now).unwrap());
        assert!(!check_totp(&c, "nobody", &code, now).unwrap());
    }

    #[test]
    fn users_are_validated_and_listed_without_secrets() {
        let (_d, mut c) = conn();
        assert!(add_user(&mut c, "bad name", "long enough pw", false, &[], None).is_err());
        assert!(add_user(&mut c, "bo", "short", false, &[], None).is_err());
        assert!(
            add_user(
                &mut c,
                "bo",
                "long enough pw",
                false,
                &[],
                Some("bad tenant")
            )
            .is_err()
        );
        assert!(add_user(&mut c, "bo", "long enough pw", false, &["a b".into()], None).is_err());
        add_user(&mut c, "bo", "long enough pw", false, &[], Some("acme")).unwrap();
        assert!(matches!(
            add_user(&mut c, "bo", "long enough pw", false, &[], None),
            Err(OAuthError::UserExists { .. })
        ));
        let users = list_users(&c).unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].scopes, vec!["mcp", "profile:*"]);
        assert_eq!(users[0].tenant.as_deref(), Some("acme"));
        let rec = find_user(&c, "bo").unwrap().unwrap();
        assert!(rec.password_hash.starts_with("$argon2id$"));
        assert!(verify_password("long enough pw", &rec.password_hash));
        assert!(!verify_password("long enough pX", &rec.password_hash));
        assert!(!verify_password("long enough pw", dummy_hash()));
        remove_user(&mut c, "bo").unwrap();
        assert!(matches!(
            remove_user(&mut c, "bo"),
            Err(OAuthError::UserNotFound { .. })
        ));
    }
}
