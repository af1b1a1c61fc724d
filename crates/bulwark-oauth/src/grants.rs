//! Codes, token families, refresh tokens and revocations: every statement
//! that issues or redeems a credential, each in one IMMEDIATE transaction so
//! two processes sharing the file cannot both redeem the same code or token.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::error::{OAuthError, db_err};
use crate::keys::PublicKey;
use crate::token::{AccessClaims, sign};
use crate::util::{now_secs, random_token, s256, sha256_hex, split_scope};

/// What an approved authorization grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    pub subject: String,
    /// `local` or `federated`.
    pub source: &'static str,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub tenant: Option<String>,
    pub aud: String,
}

/// Lifetimes and issuer for new tokens.
#[derive(Debug, Clone)]
pub(crate) struct TokenSettings {
    pub issuer: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

/// A fresh token response.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
    pub scope: String,
    pub subject: String,
    pub tenant: Option<String>,
    pub client_id: String,
    pub key: PublicKey,
}

/// Why a grant was refused; maps to RFC 6749 errors.
#[derive(Debug)]
pub(crate) enum GrantError {
    InvalidGrant(String),
    InvalidScope(String),
    InvalidTarget(String),
    /// A used code or refresh token came back: the family is revoked.
    Reused {
        what: &'static str,
        fid: String,
        subject: String,
        client_id: String,
    },
    Internal(OAuthError),
}

impl From<OAuthError> for GrantError {
    fn from(e: OAuthError) -> Self {
        GrantError::Internal(e)
    }
}

impl From<rusqlite::Error> for GrantError {
    fn from(e: rusqlite::Error) -> Self {
        GrantError::Internal(db_err("issuing tokens")(e))
    }
}

/// Stores a family for `grant` and a single-use code for it; returns the code.
pub(crate) fn create_code(
    conn: &mut Connection,
    grant: &Grant,
    redirect_uri: &str,
    redirect_uri_sent: bool,
    code_challenge: &str,
    code_ttl: Duration,
) -> Result<String, OAuthError> {
    const ACTION: &str = "storing an authorization code";
    let now = now_secs();
    let fid = random_token(16);
    let code = format!("bwc_{}", random_token(32));
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(ACTION))?;
    tx.execute(
        "INSERT INTO oauth_families (fid, client_id, subject, source, scopes, tenant, aud, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            fid,
            grant.client_id,
            grant.subject,
            grant.source,
            grant.scopes.join(" "),
            grant.tenant,
            grant.aud,
            now
        ],
    )
    .map_err(db_err(ACTION))?;
    tx.execute(
        "INSERT INTO oauth_codes (code_sha256, fid, redirect_uri, redirect_uri_sent, code_challenge, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            sha256_hex(&code),
            fid,
            redirect_uri,
            redirect_uri_sent,
            code_challenge,
            now + code_ttl.as_secs() as i64
        ],
    )
    .map_err(db_err(ACTION))?;
    tx.commit().map_err(db_err(ACTION))?;
    Ok(code)
}

struct Family {
    fid: String,
    grant: Grant,
    revoked: bool,
}

fn load_family(tx: &Transaction<'_>, fid: &str) -> rusqlite::Result<Option<Family>> {
    tx.query_row(
        "SELECT fid, client_id, subject, source, scopes, tenant, aud, revoked_at IS NOT NULL
         FROM oauth_families WHERE fid = ?1",
        [fid],
        |r| {
            let source: String = r.get(3)?;
            Ok(Family {
                fid: r.get(0)?,
                grant: Grant {
                    client_id: r.get(1)?,
                    subject: r.get(2)?,
                    source: if source == "federated" {
                        "federated"
                    } else {
                        "local"
                    },
                    scopes: split_scope(&r.get::<_, String>(4)?),
                    tenant: r.get(5)?,
                    aud: r.get(6)?,
                },
                revoked: r.get(7)?,
            })
        },
    )
    .optional()
}

/// Marks a family revoked and publishes the revocation for verifiers.
/// Returns whether it was live before.
pub(crate) fn revoke_family(
    conn: &Connection,
    fid: &str,
    reason: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE oauth_families SET revoked_at = ?1, revoked_reason = ?2
         WHERE fid = ?3 AND revoked_at IS NULL",
        params![now, reason, fid],
    )?;
    if changed == 0 {
        return Ok(false);
    }
    let access_exp_max: i64 = conn.query_row(
        "SELECT access_exp_max FROM oauth_families WHERE fid = ?1",
        [fid],
        |r| r.get(0),
    )?;
    // Verifiers need the entry only while an access token of the family lives.
    conn.execute(
        "INSERT INTO oauth_revocations (kind, value, expires_at) VALUES ('fid', ?1, ?2)",
        params![fid, access_exp_max.max(now + 60)],
    )?;
    Ok(true)
}

/// Publishes the revocation of one access token until it expires.
pub(crate) fn revoke_jti(conn: &Connection, jti: &str, exp: i64) -> Result<(), OAuthError> {
    conn.execute(
        "INSERT INTO oauth_revocations (kind, value, expires_at) VALUES ('jti', ?1, ?2)",
        params![jti, exp],
    )
    .map(|_| ())
    .map_err(db_err("revoking an access token"))
}

fn issue(
    tx: &Transaction<'_>,
    settings: &TokenSettings,
    family: &Family,
    scopes: &[String],
    with_refresh: bool,
    now: i64,
) -> Result<Issued, GrantError> {
    let ttl = settings.access_ttl.as_secs().max(1);
    let exp = now + ttl as i64;
    let key = crate::keys::take_active(tx, exp)?;
    let scope = scopes.join(" ");
    let claims = AccessClaims {
        iss: settings.issuer.clone(),
        sub: family.grant.subject.clone(),
        aud: family.grant.aud.clone(),
        exp,
        iat: now,
        nbf: now,
        jti: random_token(16),
        scope: scope.clone(),
        client_id: family.grant.client_id.clone(),
        tenant: family.grant.tenant.clone(),
        fid: family.fid.clone(),
    };
    let access_token = sign(&claims, &key)?;
    let refresh_token = if with_refresh {
        let token = format!("bwr_{}", random_token(32));
        let refresh_exp = now + settings.refresh_ttl.as_secs() as i64;
        tx.execute(
            "INSERT INTO oauth_refresh_tokens (token_sha256, fid, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![sha256_hex(&token), family.fid, now, refresh_exp],
        )?;
        tx.execute(
            "UPDATE oauth_families SET refresh_exp_max = max(refresh_exp_max, ?1) WHERE fid = ?2",
            params![refresh_exp, family.fid],
        )?;
        Some(token)
    } else {
        None
    };
    tx.execute(
        "UPDATE oauth_families SET access_exp_max = max(access_exp_max, ?1) WHERE fid = ?2",
        params![exp, family.fid],
    )?;
    Ok(Issued {
        access_token,
        refresh_token,
        expires_in: ttl,
        scope,
        subject: family.grant.subject.clone(),
        tenant: family.grant.tenant.clone(),
        client_id: family.grant.client_id.clone(),
        key: key.public,
    })
}

/// A local user removed since the grant gets nothing more.
fn subject_gone(tx: &Transaction<'_>, grant: &Grant) -> rusqlite::Result<bool> {
    Ok(grant.source == "local" && !crate::users::user_exists(tx, &grant.subject)?)
}

/// The token request for `grant_type=authorization_code`.
pub(crate) struct CodeRedemption {
    pub code: String,
    pub client_id: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: String,
    pub resource: Option<String>,
    pub with_refresh: bool,
}

pub(crate) fn redeem_code(
    conn: &mut Connection,
    settings: &TokenSettings,
    req: &CodeRedemption,
) -> Result<Issued, GrantError> {
    let now = now_secs();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row: Option<(String, String, bool, String, i64, Option<i64>)> = tx
        .query_row(
            "SELECT fid, redirect_uri, redirect_uri_sent, code_challenge, expires_at, used_at
             FROM oauth_codes WHERE code_sha256 = ?1",
            [sha256_hex(&req.code)],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()?;
    let Some((fid, redirect_uri, redirect_uri_sent, challenge, expires_at, used_at)) = row else {
        return Err(GrantError::InvalidGrant(
            "the authorization code is unknown; start a new authorization".into(),
        ));
    };
    let Some(family) = load_family(&tx, &fid)? else {
        return Err(GrantError::InvalidGrant(
            "the authorization code is unknown".into(),
        ));
    };
    if used_at.is_some() {
        // RFC 6749 §4.1.2: a code used twice may have been stolen; every
        // token issued from it goes.
        revoke_family(&tx, &fid, "code_reuse", now)?;
        tx.commit()?;
        return Err(GrantError::Reused {
            what: "code",
            fid,
            subject: family.grant.subject,
            client_id: family.grant.client_id,
        });
    }
    // Burnt whatever happens next: a code gets one try.
    tx.execute(
        "UPDATE oauth_codes SET used_at = ?1 WHERE code_sha256 = ?2",
        params![now, sha256_hex(&req.code)],
    )?;
    let refusal =
        if expires_at < now {
            Some(GrantError::InvalidGrant(
                "the authorization code expired; start a new authorization".into(),
            ))
        } else if family.grant.client_id != req.client_id {
            Some(GrantError::InvalidGrant(
                "the authorization code was issued to another client".into(),
            ))
        } else if (redirect_uri_sent || req.redirect_uri.is_some())
            && req.redirect_uri.as_deref() != Some(redirect_uri.as_str())
        {
            Some(GrantError::InvalidGrant(
            "redirect_uri differs from the one in the authorization request; send the same value"
                .into(),
        ))
        } else if !valid_verifier(&req.code_verifier) || s256(&req.code_verifier) != challenge {
            Some(GrantError::InvalidGrant(
                "code_verifier does not match the code_challenge (PKCE S256)".into(),
            ))
        } else if req.resource.as_deref().is_some_and(|r| {
            crate::token::normalise(r) != crate::token::normalise(&family.grant.aud)
        }) {
            Some(GrantError::InvalidTarget(
                "resource differs from the one authorized; send the same value or none".into(),
            ))
        } else if family.revoked || subject_gone(&tx, &family.grant)? {
            Some(GrantError::InvalidGrant(
                "this authorization was revoked; start a new one".into(),
            ))
        } else {
            None
        };
    if let Some(refusal) = refusal {
        tx.commit()?;
        return Err(refusal);
    }
    let issued = issue(
        &tx,
        settings,
        &family,
        &family.grant.scopes,
        req.with_refresh,
        now,
    )?;
    tx.commit()?;
    Ok(issued)
}

/// RFC 7636 §4.1: 43-128 unreserved characters.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The token request for `grant_type=refresh_token`.
pub(crate) struct RefreshRequest {
    pub refresh_token: String,
    pub client_id: String,
    pub scope: Option<Vec<String>>,
    pub resource: Option<String>,
}

pub(crate) fn refresh(
    conn: &mut Connection,
    settings: &TokenSettings,
    req: &RefreshRequest,
) -> Result<Issued, GrantError> {
    let now = now_secs();
    let hash = sha256_hex(&req.refresh_token);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row: Option<(String, i64, Option<i64>)> = tx
        .query_row(
            "SELECT fid, expires_at, used_at FROM oauth_refresh_tokens WHERE token_sha256 = ?1",
            [&hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let unknown = || {
        GrantError::InvalidGrant("the refresh token is unknown or expired; authorize again".into())
    };
    let Some((fid, expires_at, used_at)) = row else {
        return Err(unknown());
    };
    let Some(family) = load_family(&tx, &fid)? else {
        return Err(unknown());
    };
    if family.grant.client_id != req.client_id {
        return Err(GrantError::InvalidGrant(
            "the refresh token was issued to another client".into(),
        ));
    }
    if used_at.is_some() {
        // Rotation means a used token only comes back if it was copied:
        // end the whole family (OAuth 2.1 §4.3.1).
        revoke_family(&tx, &fid, "refresh_reuse", now)?;
        tx.commit()?;
        return Err(GrantError::Reused {
            what: "refresh_token",
            fid,
            subject: family.grant.subject,
            client_id: family.grant.client_id,
        });
    }
    if family.revoked || expires_at < now {
        return Err(GrantError::InvalidGrant(
            "the refresh token was revoked or expired; authorize again".into(),
        ));
    }
    if subject_gone(&tx, &family.grant)? {
        revoke_family(&tx, &fid, "user_removed", now)?;
        tx.commit()?;
        return Err(GrantError::InvalidGrant(
            "the user of this grant no longer exists".into(),
        ));
    }
    let scopes = match &req.scope {
        None => family.grant.scopes.clone(),
        Some(asked) => {
            if let Some(extra) = asked.iter().find(|s| !family.grant.scopes.contains(s)) {
                return Err(GrantError::InvalidScope(format!(
                    "scope `{extra}` was not granted; a refresh may only narrow the scope (granted: {})",
                    family.grant.scopes.join(" ")
                )));
            }
            asked.clone()
        }
    };
    if let Some(r) = &req.resource
        && crate::token::normalise(r) != crate::token::normalise(&family.grant.aud)
    {
        return Err(GrantError::InvalidTarget(
            "resource differs from the one authorized; send the same value or none".into(),
        ));
    }
    tx.execute(
        "UPDATE oauth_refresh_tokens SET used_at = ?1 WHERE token_sha256 = ?2",
        params![now, hash],
    )?;
    let issued = issue(&tx, settings, &family, &scopes, true, now)?;
    tx.commit()?;
    Ok(issued)
}

/// A refresh token as `/introspect` and `/revoke` see it.
#[derive(Debug, Clone)]
pub(crate) struct RefreshInfo {
    pub fid: String,
    pub grant: Grant,
    pub active: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

pub(crate) fn find_refresh(
    conn: &mut Connection,
    token: &str,
) -> Result<Option<RefreshInfo>, OAuthError> {
    const ACTION: &str = "looking up a refresh token";
    let now = now_secs();
    let tx = conn.transaction().map_err(db_err(ACTION))?;
    let row: Option<(String, i64, i64, Option<i64>)> = tx
        .query_row(
            "SELECT fid, created_at, expires_at, used_at FROM oauth_refresh_tokens WHERE token_sha256 = ?1",
            [sha256_hex(token)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(db_err(ACTION))?;
    let Some((fid, created_at, expires_at, used_at)) = row else {
        return Ok(None);
    };
    let Some(family) = load_family(&tx, &fid).map_err(db_err(ACTION))? else {
        return Ok(None);
    };
    let gone = subject_gone(&tx, &family.grant).map_err(db_err(ACTION))?;
    Ok(Some(RefreshInfo {
        active: !family.revoked && used_at.is_none() && expires_at >= now && !gone,
        fid,
        grant: family.grant,
        created_at,
        expires_at,
    }))
}

/// Revokes the family of a refresh token; returns it when it was live.
pub(crate) fn revoke_by_family(
    conn: &mut Connection,
    fid: &str,
    reason: &str,
) -> Result<bool, OAuthError> {
    const ACTION: &str = "revoking a token family";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(ACTION))?;
    let changed = revoke_family(&tx, fid, reason, now_secs()).map_err(db_err(ACTION))?;
    tx.commit().map_err(db_err(ACTION))?;
    Ok(changed)
}

/// Drops rows nobody can use any more. Used codes are kept a day past expiry
/// so that a late replay is still recognised as reuse.
pub(crate) fn cleanup(conn: &Connection) -> Result<(), OAuthError> {
    let now = now_secs();
    conn.execute_batch(&format!(
        "DELETE FROM oauth_codes WHERE expires_at < {day_ago};
         DELETE FROM oauth_refresh_tokens WHERE expires_at < {now};
         DELETE FROM oauth_revocations WHERE expires_at < {now};
         DELETE FROM oauth_families WHERE access_exp_max < {now} AND refresh_exp_max < {now}
             AND created_at < {day_ago}
             AND NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.fid = oauth_families.fid);",
        day_ago = now - 86_400
    ))
    .map_err(db_err("removing expired codes and tokens"))
}
