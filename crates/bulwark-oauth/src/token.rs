//! Access tokens: ES256 JWTs (RFC 9068 shape) and their local verification.
//!
//! Verification reads no database per request. Known public keys and the
//! revoked token ids and family ids live in memory; a watcher connection
//! checks `PRAGMA data_version` at most every [`POLL_EVERY`] and loads only
//! the new rows, so revocations made by another process sharing the file take
//! effect within a second.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bulwark_server::{AuthTarget, Principal};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::error::OAuthError;
use crate::keys::{ActiveKey, PublicKey};
use crate::util::{now_secs, split_scope};

/// How often at most the watcher asks SQLite whether anything changed.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// A full reload drops revocations whose tokens have expired anyway.
const FULL_RELOAD_EVERY: Duration = Duration::from_secs(60);
/// After failing to read the database this long, verification fails closed:
/// a revocation might be missed.
const STALE_AFTER: Duration = Duration::from_secs(30);
/// Verified tokens remembered, so a client reusing its token skips the
/// signature check (~250 µs for ES256) on later requests.
const VERIFIED_CACHE_MAX: usize = 10_000;
/// The JWT `typ` of access tokens (RFC 9068).
const TOKEN_TYP: &str = "at+jwt";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    /// Space-separated.
    pub scope: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The token family (one approved authorization).
    pub fid: String,
}

pub(crate) fn sign(claims: &AccessClaims, key: &ActiveKey) -> Result<String, OAuthError> {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.public.kid.clone());
    header.typ = Some(TOKEN_TYP.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&key.pkcs8))
        .map_err(|e| OAuthError::Key(format!("signing an access token failed: {e}")))
}

/// `aud` and resource URLs compare without a trailing slash.
pub(crate) fn normalise(url: &str) -> &str {
    url.trim_end_matches('/')
}

#[derive(Default)]
struct Known {
    keys: HashMap<String, Arc<DecodingKey>>,
    jti: HashSet<String>,
    fid: HashSet<String>,
}

struct Watcher {
    conn: Connection,
    data_version: Option<i64>,
    last_seq: i64,
    last_full: Option<Instant>,
}

/// Verifies access tokens this server issued. Shared by the authenticator,
/// `/introspect` and `/revoke`.
pub(crate) struct Verifier {
    issuer: String,
    validation: Validation,
    known: RwLock<Known>,
    /// Token → its claims, for tokens whose signature and issuer checked out.
    /// Only signed tokens get in, so the size is bounded by what we issued.
    verified: RwLock<HashMap<String, Arc<AccessClaims>>>,
    watcher: Mutex<Watcher>,
    epoch: Instant,
    /// Milliseconds since `epoch`.
    next_poll_ms: AtomicU64,
    /// When reads of the database started failing (0: they do not).
    failing_since_ms: AtomicU64,
}

impl Verifier {
    pub(crate) fn new(issuer: &str, db_path: &Path) -> Result<Verifier, OAuthError> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud", "nbf"]);
        // The audience rule is ours (path-based, see `audience_ok`).
        validation.validate_aud = false;
        validation.validate_nbf = true;
        // Issuer and verifier share one clock (one binary, one host).
        validation.leeway = 0;
        let verifier = Verifier {
            issuer: normalise(issuer).to_string(),
            validation,
            known: RwLock::new(Known::default()),
            verified: RwLock::new(HashMap::new()),
            watcher: Mutex::new(Watcher {
                conn: crate::db::open_reader(db_path)?,
                data_version: None,
                last_seq: 0,
                last_full: None,
            }),
            epoch: Instant::now(),
            next_poll_ms: AtomicU64::new(0),
            failing_since_ms: AtomicU64::new(0),
        };
        let mut watcher = verifier
            .watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        verifier
            .reload(&mut watcher)
            .map_err(crate::error::db_err("loading signing keys and revocations"))?;
        drop(watcher);
        Ok(verifier)
    }

    fn elapsed_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Looks at the database if the last look is older than `POLL_EVERY`.
    pub(crate) fn poll_if_due(&self) {
        let now = self.elapsed_ms();
        let due = self.next_poll_ms.load(Ordering::Relaxed);
        if now < due
            || self
                .next_poll_ms
                .compare_exchange(
                    due,
                    now + POLL_EVERY.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        // Someone else is polling: their result will do.
        let Ok(mut watcher) = self.watcher.try_lock() else {
            return;
        };
        match self.reload(&mut watcher) {
            Ok(()) => self.failing_since_ms.store(0, Ordering::Relaxed),
            Err(e) => {
                tracing::warn!("OAuth revocation watcher cannot read the database: {e}");
                // Keep the first failure's time; `max(1)` because 0 means healthy.
                let _ = self.failing_since_ms.compare_exchange(
                    0,
                    self.elapsed_ms().max(1),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
        }
    }

    /// Loads what changed since the last look (or everything, now and then).
    fn reload(&self, w: &mut Watcher) -> rusqlite::Result<()> {
        let version: i64 = w.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let full = w.last_full.is_none_or(|t| t.elapsed() >= FULL_RELOAD_EVERY);
        if !full && w.data_version == Some(version) {
            return Ok(());
        }
        let now = now_secs();
        // One read transaction: keys and revocations from the same snapshot.
        let tx = w.conn.unchecked_transaction()?;
        let keys = crate::keys::verifying(&tx, now)?;
        let from = if full { 0 } else { w.last_seq };
        let mut rows: Vec<(i64, String, String)> = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT seq, kind, value FROM oauth_revocations WHERE seq > ?1 AND expires_at > ?2",
            )?;
            let mapped = stmt.query_map([from, now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            for row in mapped {
                rows.push(row?);
            }
        }
        let max_seq: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM oauth_revocations",
            [],
            |r| r.get(0),
        )?;
        tx.commit()?;
        let mut decoding = HashMap::new();
        for key in keys {
            match DecodingKey::from_ec_components(&key.x, &key.y) {
                Ok(k) => {
                    decoding.insert(key.kid, Arc::new(k));
                }
                Err(e) => tracing::error!("signing key {} is damaged: {e}", key.kid),
            }
        }
        {
            let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
            // A key that vanished takes its cached tokens with it.
            if known.keys.keys().any(|kid| !decoding.contains_key(kid)) {
                self.verified
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clear();
            }
            known.keys = decoding;
            if full {
                known.jti.clear();
                known.fid.clear();
            }
            for (_, kind, value) in rows {
                match kind.as_str() {
                    "jti" => known.jti.insert(value),
                    _ => known.fid.insert(value),
                };
            }
        }
        w.data_version = Some(version);
        w.last_seq = max_seq.max(w.last_seq);
        if full {
            w.last_full = Some(Instant::now());
        }
        Ok(())
    }

    /// A key the issuer just used; saves a poll before its tokens verify.
    pub(crate) fn note_key(&self, key: &PublicKey) {
        if self
            .known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys
            .contains_key(&key.kid)
        {
            return;
        }
        if let Ok(k) = DecodingKey::from_ec_components(&key.x, &key.y) {
            self.known
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .keys
                .insert(key.kid.clone(), Arc::new(k));
        }
    }

    /// A revocation this process just wrote: effective at once here.
    pub(crate) fn note_revoked_family(&self, fid: &str) {
        self.known
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .fid
            .insert(fid.to_string());
    }

    pub(crate) fn note_revoked_jti(&self, jti: &str) {
        self.known
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .jti
            .insert(jti.to_string());
    }

    /// Signature, issuer, times and revocation; not the audience.
    pub(crate) fn verify(&self, token: &str) -> Option<Arc<AccessClaims>> {
        let claims = self.verified_claims(token)?;
        (!self.is_revoked(&claims)).then_some(claims)
    }

    /// Signature, issuer and times, from the cache when the token was seen.
    fn verified_claims(&self, token: &str) -> Option<Arc<AccessClaims>> {
        let cached = self
            .verified
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned();
        // RFC 7519 §4.1.4: refused once now >= exp. jsonwebtoken only
        // refuses exp < now in whole seconds, which would add up to a second.
        let live = |claims: &AccessClaims| {
            let now = now_secs();
            claims.exp > now && claims.nbf <= now
        };
        if let Some(claims) = cached {
            return live(&claims).then_some(claims);
        }
        let claims = Arc::new(self.decode(token, &self.validation)?);
        if !live(&claims) {
            return None;
        }
        let mut cache = self
            .verified
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= VERIFIED_CACHE_MAX {
            let now = now_secs();
            cache.retain(|_, c| c.exp >= now);
            if cache.len() >= VERIFIED_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(token.to_string(), claims.clone());
        Some(claims)
    }

    /// Signature and issuer only: for `/revoke`, where an expired token is
    /// still worth recognising.
    pub(crate) fn verify_signature(&self, token: &str) -> Option<AccessClaims> {
        let mut validation = self.validation.clone();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        self.decode(token, &validation)
    }

    fn decode(&self, token: &str, validation: &Validation) -> Option<AccessClaims> {
        // Cheap shape check first: API keys and garbage never reach the crypto.
        if token.len() > 4096 || token.bytes().filter(|&b| b == b'.').count() != 2 {
            return None;
        }
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::ES256 || header.typ.as_deref() != Some(TOKEN_TYP) {
            return None;
        }
        let kid = header.kid?;
        let key = self
            .known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys
            .get(&kid)
            .cloned()?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key, validation).ok()?;
        // jsonwebtoken checks `iss` against the configured value; check the
        // normalised form too so a trailing slash cannot sneak through.
        (data.claims.iss == self.issuer).then_some(data.claims)
    }

    fn is_revoked(&self, claims: &AccessClaims) -> bool {
        let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
        known.jti.contains(&claims.jti) || known.fid.contains(&claims.fid)
    }

    /// `aud` is either the issuer origin (every MCP route) or exactly the
    /// route being called.
    fn audience_ok(&self, aud: &str, target: &AuthTarget) -> bool {
        let aud = normalise(aud);
        aud == self.issuer
            || aud
                .strip_prefix(self.issuer.as_str())
                .is_some_and(|path| path == normalise(&target.path))
    }

    /// The authenticator's work: `Ok(None)` for anything that is not a live
    /// token of ours for this route.
    pub(crate) fn authenticate(
        &self,
        token: &str,
        target: &AuthTarget,
    ) -> Result<Option<Principal>, String> {
        self.poll_if_due();
        let since = self.failing_since_ms.load(Ordering::Relaxed);
        let failing_for = self.elapsed_ms().saturating_sub(since);
        if since != 0 && failing_for > STALE_AFTER.as_millis() as u64 {
            return Err(format!(
                "the OAuth revocation list could not be read from the database for {}s; check the data dir",
                failing_for / 1000
            ));
        }
        let Some(claims) = self.verify(token) else {
            return Ok(None);
        };
        if !self.audience_ok(&claims.aud, target) {
            return Ok(None);
        }
        Ok(Some(Principal {
            id: claims.sub.clone(),
            scopes: split_scope(&claims.scope),
            tenant: claims.tenant.clone(),
            method: "oauth",
            client_id: Some(claims.client_id.clone()),
        }))
    }
}

/// The [`bulwark_server::Authenticator`] for tokens this server issued.
pub(crate) struct TokenAuthenticator {
    pub(crate) verifier: Arc<Verifier>,
}

impl bulwark_server::Authenticator for TokenAuthenticator {
    fn authenticate(
        &self,
        credential: &str,
        target: &AuthTarget,
    ) -> bulwark_core::BoxFuture<Result<Option<Principal>, String>> {
        // All local and quick: done before the future, which is just a value.
        let result = self.verifier.authenticate(credential, target);
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_fails_closed_when_the_database_stays_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let mut conn = crate::db::open_file(&path).unwrap();
        crate::keys::ensure_active(&mut conn).unwrap();
        let mut verifier = Verifier::new("http://127.0.0.1:1", &path).unwrap();
        let target = AuthTarget {
            path: "/mcp".into(),
            resource: "http://127.0.0.1:1/mcp".into(),
        };
        // Make every later read fail.
        conn.execute_batch("DROP TABLE oauth_revocations").unwrap();
        assert_eq!(
            verifier.authenticate("a.b.c", &target),
            Ok(None),
            "a short outage is tolerated"
        );
        assert_ne!(verifier.failing_since_ms.load(Ordering::Relaxed), 0);
        // Pretend the first failure was more than STALE_AFTER ago.
        verifier.epoch = Instant::now() - STALE_AFTER - Duration::from_secs(2);
        verifier.failing_since_ms.store(1, Ordering::Relaxed);
        verifier.next_poll_ms.store(0, Ordering::Relaxed);
        let err = verifier.authenticate("a.b.c", &target).unwrap_err();
        assert!(err.contains("could not be read"), "{err}");
    }

    #[test]
    fn cached_tokens_still_expire_and_die_with_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let mut conn = crate::db::open_file(&path).unwrap();
        crate::keys::ensure_active(&mut conn).unwrap();
        let v = Verifier::new("http://h:1", &path).unwrap();
        let now = now_secs();
        let claims = |exp: i64| AccessClaims {
            iss: "http://h:1".into(),
            sub: "u".into(),
            aud: "http://h:1".into(),
            exp,
            iat: now,
            nbf: now,
            jti: format!("j{exp}"),
            scope: "mcp".into(),
            client_id: "c".into(),
            tenant: None,
            fid: "f".into(),
        };
        let key = crate::keys::take_active(&conn, now + 600).unwrap();
        let long = sign(&claims(now + 600), &key).unwrap();
        let short = sign(&claims(now + 1), &key).unwrap();
        assert!(v.verify(&long).is_some());
        assert!(v.verify(&short).is_some());
        assert_eq!(v.verified.read().unwrap().len(), 2, "both cached");
        std::thread::sleep(Duration::from_millis(2100));
        assert!(v.verify(&short).is_none(), "expired although cached");
        assert!(v.verify(&long).is_some());
        // The key is deleted by hand: its cached tokens stop verifying.
        conn.execute_batch("DELETE FROM oauth_signing_keys")
            .unwrap();
        crate::keys::ensure_active(&mut conn).unwrap();
        v.next_poll_ms.store(0, Ordering::Relaxed);
        v.poll_if_due();
        assert!(v.verify(&long).is_none());
    }

    #[test]
    fn audience_is_the_origin_or_the_exact_route() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let mut conn = crate::db::open_file(&path).unwrap();
        crate::keys::ensure_active(&mut conn).unwrap();
        let v = Verifier::new("http://h:1", &path).unwrap();
        let t = |p: &str| AuthTarget {
            path: p.into(),
            resource: format!("http://h:1{p}"),
        };
        assert!(v.audience_ok("http://h:1", &t("/mcp/core")));
        assert!(v.audience_ok("http://h:1/", &t("/mcp/core")));
        assert!(v.audience_ok("http://h:1/mcp/core/", &t("/mcp/core")));
        assert!(!v.audience_ok("http://h:1/mcp/core", &t("/mcp/all")));
        assert!(!v.audience_ok("http://h:1/mcp", &t("/mcp/core")));
        assert!(!v.audience_ok("http://h:2", &t("/mcp")));
    }
}
