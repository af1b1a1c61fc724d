//! bulwark's persistence, behind a small API: API keys, copies of audit
//! records, and tenants' backend credentials (encrypted, see [`CredentialVault`]).
//!
//! The default backend is one SQLite file in the data dir, opened in WAL mode
//! with a busy timeout so several bulwark processes (a running `serve` and a
//! CLI command such as `bulwark auth key create`) can share it. All SQL lives
//! in one private module, and the public API carries no driver types, so a
//! PostgreSQL backend can be added later without changing callers.
//!
//! API key secrets look like `bwk_<id>_<43 base64url chars>`. Only the
//! SHA-256 of the whole secret is stored; the secret is returned once, at
//! creation. The id inside the secret makes verification a single indexed
//! lookup.
//!
//! ```
//! # fn main() -> Result<(), bulwark_store::StoreError> {
//! let store = bulwark_store::Store::open_in_memory()?;
//! let (key, secret) = store.create_api_key("ci", &["tools:read".to_owned()], None)?;
//! let verified = store.verify_api_key(&secret)?.expect("fresh key verifies");
//! assert_eq!(verified.id, key.id);
//! store.revoke_api_key("ci")?;
//! assert!(store.verify_api_key(&secret)?.is_none());
//! # Ok(())
//! # }
//! ```

mod credentials;
mod error;
mod key;
mod sqlite;
mod upstream;
mod upstream_tokens;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use credentials::{
    CredentialInfo, CredentialVault, KEY_LEN, PER_TENANT_MAX, SetOutcome, VALUE_MAX,
    normalize_name as normalize_credential_name, validate_tenant as validate_credential_tenant,
};
pub use error::StoreError;
pub use key::ApiKey;
pub use upstream::{StoredUpstream, UpstreamWrite, valid_upstream_name};
pub use upstream_tokens::{TOKEN_MAX, UpstreamToken};

/// `last_used_at` is written at most this often per key, so verification
/// does not turn every request into a database write.
const LAST_USED_EVERY: Duration = Duration::from_secs(60);
/// Past this many throttle entries, stale ones are dropped. Entries are only
/// made for keys that verified, so outsiders cannot grow the map.
const THROTTLE_PRUNE_AT: usize = 4096;
/// Most verified keys remembered; past this the memory starts over.
const KEY_CACHE_MAX: usize = 10_000;
/// How often, at most, verification asks SQLite whether another process
/// changed the database. Each asking opens a read transaction (file-lock
/// system calls), which cost more than the rest of a cached verification;
/// so a revocation made by another process takes effect within this time.
const CHANGE_CHECK_EVERY: Duration = Duration::from_millis(100);
/// Attempts at drawing an unused random key id (collisions are ~impossible).
const ID_ATTEMPTS: usize = 5;

/// A handle on bulwark's database. Cheap to clone; clones share one connection.
///
/// Every method is blocking but short (one or two small statements under a
/// mutex). Async callers should either accept that short blocking or wrap
/// calls in `tokio::task::spawn_blocking`; `verify_api_key` is fast enough to
/// call inline on a request path.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<rusqlite::Connection>,
    /// Key id → when this process last wrote its `last_used_at`.
    last_used: Mutex<HashMap<String, Instant>>,
    /// Keys verified since the database last changed.
    verified: Mutex<KeyCache>,
    /// Decrypted tenant credentials since the database last changed.
    credentials: Mutex<credentials::CredentialCache>,
}

/// Verified keys by the SHA-256 of their secret, valid for as long as the
/// database's `data_version` stays the same: any commit by another
/// connection (a `bulwark auth key revoke` in another process) empties it,
/// and this handle's own revocations do too. Checking the version costs a
/// read of shared memory; a cache hit skips the query, which under load
/// serialized every request on the connection's lock.
#[derive(Default)]
struct KeyCache {
    data_version: Option<i64>,
    checked_at: Option<Instant>,
    /// By the SHA-256 of the secret.
    keys: HashMap<[u8; 32], CachedKey>,
}

struct CachedKey {
    key: Arc<ApiKey>,
    /// When this process last recorded the key's use (or found it recorded).
    noted_at: Instant,
}

impl KeyCache {
    /// Whether the database was asked for its change counter recently
    /// enough to trust the cached keys without asking again.
    fn is_fresh(&self, now: Instant) -> bool {
        self.data_version.is_some()
            && self
                .checked_at
                .is_some_and(|at| now.duration_since(at) < CHANGE_CHECK_EVERY)
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `path`, creating it and its parent directories
    /// if needed, and applies any pending schema migrations.
    ///
    /// On unix a new file is created with mode 0600 (and new directories
    /// 0700); SQLite gives its `-wal` and `-shm` files the same mode.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_dirs(parent)?;
        }
        create_private_file(path)?;
        Ok(Store::from_conn(sqlite::open_file(path)?))
    }

    /// A private, empty database that lives as long as this handle and its
    /// clones. For tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Ok(Store::from_conn(sqlite::open_memory()?))
    }

    fn from_conn(conn: rusqlite::Connection) -> Store {
        Store {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                last_used: Mutex::new(HashMap::new()),
                verified: Mutex::new(KeyCache::default()),
                credentials: Mutex::new(credentials::CredentialCache::default()),
            }),
        }
    }

    fn conn(&self) -> MutexGuard<'_, rusqlite::Connection> {
        // A panic while holding the lock leaves no half-done work behind:
        // an open transaction is rolled back when it is dropped.
        self.inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn verified(&self) -> MutexGuard<'_, KeyCache> {
        self.inner
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn credential_cache(&self) -> MutexGuard<'_, credentials::CredentialCache> {
        self.inner
            .credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn throttle(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.inner
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates an API key and returns it with its secret. The secret is not
    /// stored and cannot be shown again, so hand it to the user now.
    ///
    /// `name` is 1-64 printable characters, unique among keys that are not
    /// revoked. Each scope is 1-128 characters from `a-z 0-9 : _ . -`;
    /// repeated scopes are kept once.
    pub fn create_api_key(
        &self,
        name: &str,
        scopes: &[String],
        tenant: Option<&str>,
    ) -> Result<(ApiKey, String), StoreError> {
        key::validate_name(name)?;
        let scopes = key::normalize_scopes(scopes)?;
        if let Some(tenant) = tenant {
            key::validate_tenant(tenant)?;
        }
        for _ in 0..ID_ATTEMPTS {
            let (id, secret) = key::generate()?;
            let hash = key::hash_secret(&secret);
            let created_at = now_rfc3339();
            let new = sqlite::NewKey {
                id: &id,
                name,
                secret_sha256: &hash,
                scopes: &scopes,
                tenant,
                created_at: &created_at,
            };
            match sqlite::insert_api_key(&mut self.conn(), &new)? {
                sqlite::Inserted::Done(key) => return Ok((key, secret)),
                sqlite::Inserted::IdTaken => continue,
            }
        }
        Err(StoreError::Random {
            reason: format!(
                "{ID_ATTEMPTS} random key ids in a row were already taken; \
                 the system random source looks broken"
            ),
        })
    }

    /// All keys, oldest first, revoked ones included (with `revoked_at` set).
    pub fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        sqlite::list_api_keys(&self.conn())
    }

    /// Revokes the key with this id or, failing that, the active key with
    /// this name, and returns it. A revoked key never verifies again.
    pub fn revoke_api_key(&self, id_or_name: &str) -> Result<ApiKey, StoreError> {
        let now = now_rfc3339();
        let key = sqlite::revoke_api_key(&mut self.conn(), id_or_name, &now)?;
        self.throttle().remove(&key.id);
        self.verified().keys.clear();
        Ok(key)
    }

    /// The active key this secret belongs to, or `None` if the secret is
    /// malformed, unknown, wrong or revoked. Runs per request: usually one
    /// hash and one short lock; an indexed lookup for a key not seen since
    /// the database last changed, and a small write at most once a minute
    /// per key to record `last_used_at`.
    pub fn verify_api_key(&self, secret: &str) -> Result<Option<Arc<ApiKey>>, StoreError> {
        let Some(id) = key::parse_secret(secret) else {
            return Ok(None);
        };
        // Keyed by the full hash of a 256-bit secret: a hit proves the
        // secret as well as the constant-time comparison below does.
        let digest = key::digest_secret(secret);
        let now = Instant::now();
        {
            let cache = self.verified();
            if cache.is_fresh(now)
                && let Some(hit) = cache.keys.get(&digest)
                && now.duration_since(hit.noted_at) < LAST_USED_EVERY
            {
                return Ok(Some(hit.key.clone()));
            }
        }
        let version = self.current_version()?;
        {
            let mut cache = self.verified();
            if cache.data_version != Some(version) {
                cache.keys.clear();
                cache.data_version = Some(version);
            }
            if let Some(hit) = cache.keys.get(&digest) {
                let mut key = ApiKey::clone(&hit.key);
                drop(cache);
                let noted_at = self.note_use(&mut key);
                let key = Arc::new(key);
                if let Some(hit) = self.verified().keys.get_mut(&digest) {
                    hit.key = key.clone();
                    hit.noted_at = noted_at;
                }
                return Ok(Some(key));
            }
        }
        let Some((mut key, stored)) = sqlite::find_for_verify(&self.conn(), id)? else {
            return Ok(None);
        };
        let presented = key::hex_digest(&digest);
        // Constant time, so response timing says nothing about how much of
        // the hash matched. (Whether an id exists may leak; ids are not secret.)
        if !bool::from(presented.as_bytes().ct_eq(stored.as_bytes())) {
            return Ok(None);
        }
        if key.revoked_at.is_some() {
            return Ok(None);
        }
        let noted_at = self.note_use(&mut key);
        let key = Arc::new(key);
        let mut cache = self.verified();
        // Only if nothing changed since the version was read: a revocation
        // committed in between must not be papered over.
        if cache.data_version == Some(version) {
            if cache.keys.len() >= KEY_CACHE_MAX {
                cache.keys.clear();
            }
            cache.keys.insert(
                digest,
                CachedKey {
                    key: key.clone(),
                    noted_at,
                },
            );
        }
        Ok(Some(key))
    }

    /// The database's change counter, asked of SQLite at most every
    /// [`CHANGE_CHECK_EVERY`].
    fn current_version(&self) -> Result<i64, StoreError> {
        let now = Instant::now();
        {
            let cache = self.verified();
            if let (Some(version), Some(at)) = (cache.data_version, cache.checked_at)
                && now.duration_since(at) < CHANGE_CHECK_EVERY
            {
                return Ok(version);
            }
        }
        let version = sqlite::data_version(&self.conn())?;
        self.verified().checked_at = Some(now);
        Ok(version)
    }

    /// Records the key's use unless this process did within the minute;
    /// returns when the use was last recorded.
    fn note_use(&self, key: &mut ApiKey) -> Instant {
        let now = Instant::now();
        {
            let mut seen = self.throttle();
            if let Some(at) = seen.get(&key.id)
                && now.duration_since(*at) < LAST_USED_EVERY
            {
                return *at;
            }
            if seen.len() >= THROTTLE_PRUNE_AT {
                seen.retain(|_, t| now.duration_since(*t) < LAST_USED_EVERY);
            }
            // Claimed before writing, so concurrent requests write once.
            seen.insert(key.id.clone(), now);
        }
        // Another process (or an earlier run) may have stamped it recently.
        // Same fixed-width format, so strings compare like times.
        let wall = OffsetDateTime::now_utc();
        let cutoff = format_time(wall - LAST_USED_EVERY);
        if key
            .last_used_at
            .as_deref()
            .is_some_and(|t| t > cutoff.as_str())
        {
            return now;
        }
        let stamp = format_time(wall);
        match sqlite::touch_last_used(&self.conn(), &key.id, &stamp) {
            Ok(()) => {
                key.last_used_at = Some(stamp);
                now
            }
            Err(err) => {
                // The key is valid; failing the request over a bookkeeping
                // write would turn lock contention into an outage.
                self.throttle().remove(&key.id);
                tracing::warn!(key_id = %key.id, "{err}");
                // Not recorded: the next use tries again.
                now.checked_sub(LAST_USED_EVERY).unwrap_or(now)
            }
        }
    }
}

/// Which audit records [`Store::search_audit`] returns; `None` filters
/// nothing.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub event_type: Option<String>,
    pub user: Option<String>,
    pub tenant: Option<String>,
    /// RFC 3339; records at or after this time.
    pub since: Option<String>,
    pub limit: usize,
}

impl Store {
    /// Copies audit log lines (JSON objects as the audit log writes them)
    /// into the store, where they can be searched. Lines already copied are
    /// skipped; a line that is not an audit record is an error, and nothing
    /// of that batch is stored.
    pub fn insert_audit_lines(&self, lines: &[&str]) -> Result<usize, StoreError> {
        let parsed: Vec<serde_json::Value> = lines
            .iter()
            .map(|line| {
                serde_json::from_str(line).map_err(|e| StoreError::Invalid {
                    what: "audit record",
                    reason: format!("not JSON: {e}"),
                })
            })
            .collect::<Result<_, _>>()?;
        fn text<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
            v.get(key).and_then(|f| f.as_str())
        }
        let mut rows = Vec::with_capacity(lines.len());
        for (value, line) in parsed.iter().zip(lines) {
            let (Some(hash), Some(time), Some(event_type)) = (
                text(value, "hash"),
                text(value, "time"),
                text(value, "event_type"),
            ) else {
                return Err(StoreError::Invalid {
                    what: "audit record",
                    reason: "it lacks `hash`, `time` or `event_type`".into(),
                });
            };
            rows.push(sqlite::AuditRow {
                hash,
                seq: value.get("seq").and_then(|s| s.as_i64()),
                time,
                event_type,
                severity: text(value, "severity"),
                user: text(value, "user"),
                tenant: text(value, "tenant"),
                outcome: text(value, "outcome"),
                record: line,
            });
        }
        sqlite::insert_audit_rows(&mut self.conn(), &rows)
    }

    /// Copied audit records matching `query`, newest first, as JSON lines.
    pub fn search_audit(&self, query: &AuditQuery) -> Result<Vec<String>, StoreError> {
        sqlite::search_audit(&self.conn(), query)
    }
}

/// Now, as RFC 3339 UTC with whole seconds: `2025-01-31T12:00:00Z`.
pub(crate) fn now_rfc3339() -> String {
    format_time(OffsetDateTime::now_utc())
}

/// RFC 3339 UTC with the fraction of a second: a stamp that differs between
/// two writes in the same second.
pub(crate) fn now_rfc3339_precise() -> String {
    let now = OffsetDateTime::now_utc();
    now.format(&Rfc3339).unwrap_or_else(|_| format_time(now))
}

fn format_time(t: OffsetDateTime) -> String {
    // Whole seconds keep every stamp the same width (so they sort as text);
    // Rfc3339 writes UTC as `Z` and omits a zero fraction.
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| unreachable!("UTC times in years 0-9999 always format as RFC 3339"))
}

fn create_dirs(dir: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| StoreError::Io {
        action: "create directory",
        path: dir.to_owned(),
        reason: e.to_string(),
    })
}

/// Creates the database file owner-only before SQLite opens it; SQLite would
/// otherwise create it with the umask's (usually world-readable) mode.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Io {
            action: "create database file",
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_utc() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z'), "{t}");
        assert!(OffsetDateTime::parse(&t, &Rfc3339).is_ok());
    }

    #[test]
    fn last_used_is_written_at_most_once_a_minute() {
        let store = Store::open_in_memory().unwrap();
        let (key, secret) = store.create_api_key("k", &["a".to_owned()], None).unwrap();
        let first = store.verify_api_key(&secret).unwrap().unwrap();
        let stamp = first.last_used_at.clone().expect("first use is recorded");

        // Pretend the stored stamp is old: only the in-memory throttle can
        // now stop a second write.
        let old = "2000-01-01T00:00:00Z";
        sqlite::touch_last_used(&store.conn(), &key.id, old).unwrap();
        // That write went around the store; a new process would not have
        // the key cached.
        store.verified().keys.clear();
        let second = store.verify_api_key(&secret).unwrap().unwrap();
        assert_eq!(second.last_used_at.as_deref(), Some(old), "throttled");

        // Once the throttle entry has aged out, the next use writes again.
        store
            .throttle()
            .insert(key.id.clone(), Instant::now() - LAST_USED_EVERY * 2);
        store.verified().keys.clear();
        let third = store.verify_api_key(&secret).unwrap().unwrap();
        let listed = store.list_api_keys().unwrap();
        assert_eq!(listed[0].last_used_at, third.last_used_at);
        assert!(third.last_used_at.as_deref().unwrap() >= stamp.as_str());
    }

    #[test]
    fn recent_stamp_from_another_process_is_not_rewritten() {
        let store = Store::open_in_memory().unwrap();
        let (key, secret) = store.create_api_key("k", &["a".to_owned()], None).unwrap();
        // A stamp 10 s ago, as another process would have left it.
        let recent = format_time(OffsetDateTime::now_utc() - Duration::from_secs(10));
        sqlite::touch_last_used(&store.conn(), &key.id, &recent).unwrap();
        let got = store.verify_api_key(&secret).unwrap().unwrap();
        assert_eq!(got.last_used_at.as_deref(), Some(recent.as_str()));
        assert_eq!(
            store.list_api_keys().unwrap()[0].last_used_at.as_deref(),
            Some(recent.as_str())
        );
    }
}
