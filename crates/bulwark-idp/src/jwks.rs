//! A provider's signing keys (JWKS), fetched on first use and cached.
//!
//! Refresh rules, in order of why they exist:
//! - a token naming an unknown `kid` refetches, because providers rotate keys
//!   and publish the new one shortly before signing with it;
//! - but at most once per [`JwksPolicy::min_refetch_interval`] (30 s), so a
//!   flood of garbage `kid`s cannot make us hammer the provider;
//! - keys older than [`JwksPolicy::max_age`] (1 h) are refreshed in the
//!   background on use, so removed (revoked) keys stop verifying;
//! - when the provider is down, the last good keys stay in use; with no keys
//!   yet, a failed fetch is retried at most every 5 s;
//! - concurrent misses share one fetch.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use url::Url;

use crate::IdpError;
use crate::discovery::{discover, endpoint};
use crate::http::{client, get_json, parse_url};

/// A JWKS with more keys than this is not a signing key set we want to try.
const MAX_KEYS: usize = 64;
/// Before any keys arrived, failed fetches are retried at most this often
/// (or the refetch interval, if shorter): short, because nothing verifies meanwhile.
const NO_KEYS_RETRY: Duration = Duration::from_secs(5);

/// When the cached key set is refetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksPolicy {
    /// Fetches for unknown `kid`s (and retries after failures) happen at most this often.
    pub min_refetch_interval: Duration,
    /// Keys older than this are refreshed in the background when next used.
    pub max_age: Duration,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        JwksPolicy {
            min_refetch_interval: Duration::from_secs(30),
            max_age: Duration::from_secs(60 * 60),
        }
    }
}

/// A key set served by an identity provider, cached in memory. Cheap to clone;
/// clones share the cache.
#[derive(Clone)]
pub struct RemoteJwks {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    allow_http: bool,
    http: reqwest::Client,
    policy: JwksPolicy,
    state: Mutex<State>,
    // Held while fetching: concurrent misses wait here and reuse the result.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
enum Source {
    Url(Url),
    /// Found through the issuer's discovery document on first fetch.
    Issuer(String),
}

#[derive(Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
    /// Counts finished fetch attempts; a waiter seeing it move reuses the result.
    generation: u64,
    last_error: Option<IdpError>,
    jwks_url: Option<Url>,
    refreshing: bool,
    attempts: u64,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("RemoteJwks")
            .field("source", &self.source_text())
            .field("keys", &state.keys.as_ref().map(|k| k.keys.len()))
            .field("policy", &self.inner.policy)
            .finish()
    }
}

impl RemoteJwks {
    /// Keys served at `jwks_url`.
    pub fn new(jwks_url: &str, allow_insecure_http: bool) -> Result<Self, IdpError> {
        let url = parse_url("jwks_url", jwks_url, allow_insecure_http)?;
        Self::build(Source::Url(url), allow_insecure_http, JwksPolicy::default())
    }

    /// Keys named by the `jwks_uri` of `issuer`'s discovery document.
    pub fn from_issuer(issuer: &str, allow_insecure_http: bool) -> Result<Self, IdpError> {
        parse_url("issuer", issuer, allow_insecure_http)?;
        Self::build(
            Source::Issuer(issuer.to_string()),
            allow_insecure_http,
            JwksPolicy::default(),
        )
    }

    /// The same source with another refresh policy and an empty cache.
    pub fn with_policy(&self, policy: JwksPolicy) -> Self {
        RemoteJwks {
            inner: Arc::new(Inner {
                source: self.inner.source.clone(),
                allow_http: self.inner.allow_http,
                http: self.inner.http.clone(),
                policy,
                state: Mutex::default(),
                fetching: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn build(source: Source, allow_http: bool, policy: JwksPolicy) -> Result<Self, IdpError> {
        Ok(RemoteJwks {
            inner: Arc::new(Inner {
                source,
                allow_http,
                http: client(allow_http)?,
                policy,
                state: Mutex::default(),
                fetching: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn policy(&self) -> JwksPolicy {
        self.inner.policy
    }

    /// How many times the key set has been fetched (or tried), for logs and tests.
    pub fn fetch_count(&self) -> u64 {
        self.state().attempts
    }

    /// The `kid`s of the cached keys (empty before the first fetch).
    pub fn cached_key_ids(&self) -> Vec<String> {
        self.state()
            .keys
            .as_ref()
            .map(|set| set.keys.iter().filter_map(|k| k.kid.clone()).collect())
            .unwrap_or_default()
    }

    /// Fetches the key set now (sharing a fetch already under way), ignoring the refetch interval.
    pub async fn refresh(&self) -> Result<(), IdpError> {
        let generation = self.state().generation;
        self.fetch_shared(generation).await.map(|_| ())
    }

    /// Keys that may have signed a token with this `kid` and `alg`; empty when none do.
    /// `Err` only when there are no keys to decide with (the provider is unreachable).
    pub(crate) async fn keys_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Vec<Arc<VerifyKey>>, IdpError> {
        let (cached, generation) = {
            let state = self.state();
            (state.keys.clone(), state.generation)
        };
        let keys = match cached {
            Some(keys) => {
                self.refresh_if_stale();
                keys
            }
            None => {
                if let Some(error) = self.recent_failure() {
                    return Err(error);
                }
                self.fetch_shared(generation).await?
            }
        };
        let found = keys.matching(kid, alg);
        if !found.is_empty() {
            return Ok(found);
        }
        // Unknown kid: maybe a rotation we have not seen yet, maybe garbage.
        if !self.may_refetch() {
            tracing::debug!(
                jwks = %self.source_text(),
                kid = kid.unwrap_or("(none)"),
                "no cached key matches and the key set was fetched too recently to fetch again"
            );
            return Ok(Vec::new());
        }
        // The newer of what we saw and what we fetched: a fetch finished since then is reused.
        let keys = self.fetch_shared(generation.max(keys.generation)).await?;
        Ok(keys.matching(kid, alg))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is plain data updated in one step; a panic elsewhere cannot leave it torn.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// With no keys yet, a fetch that failed moments ago is reported again rather than
    /// retried, so an outage does not turn every request into a request to the provider.
    fn recent_failure(&self) -> Option<IdpError> {
        let state = self.state();
        let retry_after = self.inner.policy.min_refetch_interval.min(NO_KEYS_RETRY);
        match (&state.keys, &state.last_error, state.attempted_at) {
            (None, Some(error), Some(at)) if at.elapsed() < retry_after => Some(error.clone()),
            _ => None,
        }
    }

    fn may_refetch(&self) -> bool {
        self.state()
            .attempted_at
            .is_none_or(|at| at.elapsed() >= self.inner.policy.min_refetch_interval)
    }

    fn source_text(&self) -> String {
        match &self.inner.source {
            Source::Url(url) => url.to_string(),
            Source::Issuer(issuer) => format!("the jwks_uri of {issuer}"),
        }
    }

    /// Starts a background refresh when the keys are older than `max_age`.
    fn refresh_if_stale(&self) {
        let generation = {
            let mut state = self.state();
            let stale = state
                .fetched_at
                .is_some_and(|at| at.elapsed() >= self.inner.policy.max_age);
            let may_try = state
                .attempted_at
                .is_none_or(|at| at.elapsed() >= self.inner.policy.min_refetch_interval);
            if !stale || !may_try || state.refreshing {
                return;
            }
            state.refreshing = true;
            state.generation
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.state().refreshing = false;
            return;
        };
        let jwks = self.clone();
        runtime.spawn(async move {
            // Reset the flag even if the runtime drops this task mid-fetch.
            struct Done(RemoteJwks);
            impl Drop for Done {
                fn drop(&mut self) {
                    self.0.state().refreshing = false;
                }
            }
            let done = Done(jwks);
            if let Err(error) = done.0.fetch_shared(generation).await {
                tracing::warn!(%error, "refreshing stale signing keys failed; still using the cached keys");
            }
        });
    }

    /// Fetches unless another fetch finished since `seen_generation`, in which case its result is reused.
    async fn fetch_shared(&self, seen_generation: u64) -> Result<Arc<KeySet>, IdpError> {
        let _fetching = self.inner.fetching.lock().await;
        {
            let mut state = self.state();
            if state.generation != seen_generation {
                return match (&state.last_error, &state.keys) {
                    (None, Some(keys)) => Ok(keys.clone()),
                    (Some(error), _) => Err(error.clone()),
                    (None, None) => unreachable!("a finished fetch leaves keys or an error"),
                };
            }
            state.attempts += 1;
        }
        let result = self.fetch_now().await;
        let mut state = self.state();
        let now = Instant::now();
        state.attempted_at = Some(now);
        state.generation += 1;
        match result {
            Ok(mut keys) => {
                keys.generation = state.generation;
                let keys = Arc::new(keys);
                tracing::debug!(jwks = %self.source_text(), keys = keys.keys.len(), "fetched signing keys");
                state.keys = Some(keys.clone());
                state.fetched_at = Some(now);
                state.last_error = None;
                Ok(keys)
            }
            Err(error) => {
                tracing::warn!(%error, "fetching signing keys failed");
                state.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    async fn fetch_now(&self) -> Result<KeySet, IdpError> {
        let url = self.jwks_url().await?;
        let raw: RawKeySet = get_json(&self.inner.http, &url, "the signing keys (JWKS)").await?;
        KeySet::parse(raw, &url)
    }

    async fn jwks_url(&self) -> Result<Url, IdpError> {
        match &self.inner.source {
            Source::Url(url) => Ok(url.clone()),
            Source::Issuer(issuer) => {
                if let Some(url) = self.state().jwks_url.clone() {
                    return Ok(url);
                }
                let metadata = discover(&self.inner.http, issuer, self.inner.allow_http).await?;
                let url = endpoint(
                    &metadata,
                    "jwks_uri",
                    metadata.jwks_uri.as_ref(),
                    self.inner.allow_http,
                )?;
                self.state().jwks_url = Some(url.clone());
                Ok(url)
            }
        }
    }
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

/// One verification key from a JWKS.
pub(crate) struct VerifyKey {
    pub(crate) kid: Option<String>,
    /// The JWK's own `alg`, when it pins one.
    alg: Option<Algorithm>,
    kind: KeyKind,
    pub(crate) key: DecodingKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl VerifyKey {
    /// Whether this key may verify `alg`: key type and curve must match, and a pinned `alg` too.
    fn fits(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        if self.alg.is_some_and(|pinned| pinned != alg) {
            return false;
        }
        matches!(
            (self.kind, alg),
            (KeyKind::Rsa, RS256 | RS384 | RS512 | PS256 | PS384 | PS512)
                | (KeyKind::P256, ES256)
                | (KeyKind::P384, ES384)
                | (KeyKind::Ed25519, EdDSA)
        )
    }

    fn from_value(value: serde_json::Value) -> Result<Self, String> {
        let jwk: Jwk = serde_json::from_value(value).map_err(|e| format!("not a JWK: {e}"))?;
        if let Some(key_use) = &jwk.common.public_key_use
            && *key_use != PublicKeyUse::Signature
        {
            return Err("not a signing key (`use` is not `sig`)".into());
        }
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(alg) => {
                Some(signing_algorithm(alg).ok_or("its `alg` is not a signing algorithm")?)
            }
        };
        let kind = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => KeyKind::Rsa,
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => KeyKind::P256,
                EllipticCurve::P384 => KeyKind::P384,
                _ => return Err("unsupported elliptic curve".into()),
            },
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
                KeyKind::Ed25519
            }
            AlgorithmParameters::OctetKeyPair(_) => return Err("unsupported curve".into()),
            // A shared secret published in a key set is never a trust anchor.
            AlgorithmParameters::OctetKey(_) => {
                return Err("symmetric keys are not accepted".into());
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable key material: {e}"))?;
        Ok(VerifyKey {
            kid: jwk.common.key_id,
            alg,
            kind,
            key,
        })
    }
}

fn signing_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

pub(crate) struct KeySet {
    keys: Vec<Arc<VerifyKey>>,
    /// The fetch generation that produced this set.
    generation: u64,
}

impl KeySet {
    fn parse(raw: RawKeySet, url: &Url) -> Result<KeySet, IdpError> {
        let mut keys = Vec::new();
        for (index, value) in raw.keys.into_iter().take(MAX_KEYS).enumerate() {
            let kid = value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
            match VerifyKey::from_value(value) {
                Ok(key) => keys.push(Arc::new(key)),
                Err(reason) => tracing::debug!(
                    jwks = %url,
                    index,
                    kid = kid.as_deref().unwrap_or("(none)"),
                    reason,
                    "skipping a key"
                ),
            }
        }
        if keys.is_empty() {
            return Err(IdpError::BadDocument {
                what: "the signing keys (JWKS)",
                url: url.to_string(),
                reason:
                    "it holds no usable signing key (RSA, P-256, P-384 or Ed25519 with `use` sig)"
                        .into(),
            });
        }
        Ok(KeySet {
            keys,
            generation: 0,
        })
    }

    /// With a `kid`, the keys carrying it; without, every key that fits `alg`.
    fn matching(&self, kid: Option<&str>, alg: Algorithm) -> Vec<Arc<VerifyKey>> {
        self.keys
            .iter()
            .filter(|key| kid.is_none_or(|kid| key.kid.as_deref() == Some(kid)) && key.fits(alg))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(value: serde_json::Value) -> Result<VerifyKey, String> {
        VerifyKey::from_value(value)
    }

    // A valid P-256 public point (the generator of the curve).
    const X: &str = "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY";
    const Y: &str = "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";

    #[test]
    fn ec_key_fits_only_its_curve_and_pinned_alg() {
        let k = key(json!({"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "a"})).unwrap();
        assert!(k.fits(Algorithm::ES256));
        assert!(!k.fits(Algorithm::ES384));
        assert!(!k.fits(Algorithm::RS256));
        let pinned =
            key(json!({"kty": "EC", "crv": "P-256", "x": X, "y": Y, "alg": "ES256"})).unwrap();
        assert!(pinned.fits(Algorithm::ES256));
    }

    #[test]
    fn symmetric_encryption_and_unknown_keys_are_skipped() {
        assert!(key(json!({"kty": "oct", "k": "c2VjcmV0"})).is_err());
        assert!(key(json!({"kty": "EC", "crv": "P-256", "x": X, "y": Y, "use": "enc"})).is_err());
        assert!(
            key(json!({"kty": "EC", "crv": "P-256", "x": X, "y": Y, "alg": "RSA-OAEP"})).is_err()
        );
        assert!(key(json!({"kty": "XYZ"})).is_err());
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        let url = Url::parse("https://idp.example/jwks").unwrap();
        let raw = RawKeySet {
            keys: vec![json!({"kty": "oct", "k": "c2VjcmV0"})],
        };
        let error = KeySet::parse(raw, &url).err().unwrap();
        assert!(
            error.to_string().contains("no usable signing key"),
            "{error}"
        );
    }

    #[test]
    fn http_urls_need_the_insecure_flag() {
        let error = RemoteJwks::new("http://idp.example/jwks", false).unwrap_err();
        assert!(error.to_string().contains("allow_insecure_http"), "{error}");
        assert!(RemoteJwks::new("http://127.0.0.1:1/jwks", true).is_ok());
    }
}
