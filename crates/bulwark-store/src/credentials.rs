//! Tenant backend credentials, encrypted at rest.
//!
//! Each value is sealed with XChaCha20-Poly1305 under a 32-byte key that
//! lives in its own file (`secrets.key` in the data dir, mode 0600), apart
//! from the database: a copy of `bulwark.db` alone reveals no credential.
//! Every row has its own random 24-byte nonce, and the tenant and the name
//! are bound in as associated data, so a row moved to another tenant or
//! renamed no longer decrypts.
//!
//! Values never appear in logs or `Debug` output; listing shows names and
//! times only.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::{CHANGE_CHECK_EVERY, Store, StoreError, sqlite};

/// Bytes in the secrets key.
pub const KEY_LEN: usize = 32;
/// Bytes in an XChaCha20 nonce.
pub(crate) const NONCE_LEN: usize = 24;
/// Longest tenant id and credential name, in bytes.
const ID_MAX: usize = 64;
/// Largest credential value, in bytes (the same bound as a credential header).
pub const VALUE_MAX: usize = 8 * 1024;
/// Most credentials one tenant may hold (the same bound as credential headers).
pub const PER_TENANT_MAX: usize = 32;
/// Most tenants remembered; past this the memory starts over.
const CACHE_MAX: usize = 10_000;
/// Domain separation for the associated data: format version 1.
const AAD_PREFIX: &[u8] = b"bulwark tenant credential v1\0";

/// A stored credential, without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialInfo {
    pub tenant: String,
    pub name: String,
    /// RFC 3339 UTC, whole seconds.
    pub updated_at: String,
}

/// What [`CredentialVault::set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    Added,
    Replaced,
}

pub(crate) type Credentials = Arc<BTreeMap<String, String>>;

/// Decrypted credentials by tenant, valid while the database's
/// `data_version` and this handle's own write generation stay the same.
/// `None` entries remember tenants without credentials, so a request for
/// such a tenant costs no query either.
#[derive(Default)]
pub(crate) struct CredentialCache {
    data_version: Option<i64>,
    checked_at: Option<Instant>,
    /// Bumped by every write through this handle (its own commits do not
    /// change `data_version`).
    generation: u64,
    tenants: std::collections::HashMap<String, Option<Credentials>>,
}

impl CredentialCache {
    pub(crate) fn invalidate(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.tenants.clear();
    }
}

/// Tenant ids: 1-64 ASCII letters, digits, `_`, `-` or `.` (what the
/// `X-Tenant-Id` header accepts).
pub fn validate_tenant(tenant: &str) -> Result<(), StoreError> {
    if is_tenant(tenant) {
        return Ok(());
    }
    Err(StoreError::InvalidTenant {
        tenant: shorten(tenant),
        reason: "credentials are kept for tenant ids of 1-64 ASCII letters, digits, `_`, `-` \
                 or `.` (the form `X-Tenant-Id` accepts)"
            .into(),
    })
}

fn is_tenant(tenant: &str) -> bool {
    (1..=ID_MAX).contains(&tenant.len())
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Credential names travel as `X-Tenant-Credential-NAME` headers too, whose
/// names HTTP lowercases; so a name is 1-64 ASCII letters, digits, `_`, `-`
/// or `.`, and is stored lowercased. Returns the stored form.
pub fn normalize_name(name: &str) -> Result<String, StoreError> {
    let ok = (1..=ID_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !ok {
        return Err(StoreError::Invalid {
            what: "credential name",
            reason: format!(
                "{:?}: use 1-64 ASCII letters, digits, `_`, `-` or `.` (it must also work as \
                 the header name `X-Tenant-Credential-NAME`)",
                shorten(name)
            ),
        });
    }
    Ok(name.to_ascii_lowercase())
}

fn validate_value(value: &str) -> Result<(), StoreError> {
    let fail = |reason: String| {
        Err(StoreError::Invalid {
            what: "credential value",
            reason,
        })
    };
    if value.is_empty() {
        return fail(
            "it is empty; to delete a credential use `bulwark tenant credential remove`".into(),
        );
    }
    if value.len() > VALUE_MAX {
        return fail(format!(
            "it is {} bytes; at most {VALUE_MAX} are kept",
            value.len()
        ));
    }
    if value.contains('\0') {
        return fail("it contains a NUL byte".into());
    }
    Ok(())
}

/// Hostile input can be long: error messages quote at most 80 characters.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 80 {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(80).collect();
    out.push('…');
    out
}

fn aad(tenant: &str, name: &str) -> Vec<u8> {
    // Neither may contain NUL (both are validated), so the encoding is unambiguous.
    let mut out = Vec::with_capacity(AAD_PREFIX.len() + tenant.len() + 1 + name.len());
    out.extend_from_slice(AAD_PREFIX);
    out.extend_from_slice(tenant.as_bytes());
    out.push(0);
    out.extend_from_slice(name.as_bytes());
    out
}

/// Stored credentials of tenants, and the key that seals them. Cheap to
/// share behind an `Arc`; it holds a clone of its [`Store`].
///
/// The key file is read when the vault is opened if it exists (so a bad file
/// is reported at once), created by the first [`set`](Self::set), and
/// otherwise needed only once some credential is stored: a server whose
/// tenants have no stored credentials never touches it.
pub struct CredentialVault {
    store: Store,
    key_file: PathBuf,
    cipher: OnceLock<XChaCha20Poly1305>,
}

impl std::fmt::Debug for CredentialVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialVault")
            .field("key_file", &self.key_file)
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The tenant credentials of this store, sealed with the key in
    /// `key_file` (conventionally `secrets.key` beside the database).
    /// An existing key file that is not exactly 32 bytes, or that others
    /// may read, is an error.
    pub fn credential_vault(&self, key_file: &Path) -> Result<CredentialVault, StoreError> {
        let vault = CredentialVault {
            store: self.clone(),
            key_file: key_file.to_owned(),
            cipher: OnceLock::new(),
        };
        if let Some(key) = read_key(key_file)? {
            let _ = vault.cipher.set(cipher(&key));
        }
        Ok(vault)
    }

    /// The names of a tenant's stored credentials (never the values), by
    /// name. Needs no key.
    pub fn list_tenant_credentials(&self, tenant: &str) -> Result<Vec<CredentialInfo>, StoreError> {
        validate_tenant(tenant)?;
        sqlite::list_credentials(&self.conn(), tenant)
    }

    /// Deletes one stored credential. Needs no key.
    pub fn remove_tenant_credential(&self, tenant: &str, name: &str) -> Result<(), StoreError> {
        validate_tenant(tenant)?;
        let name = normalize_name(name)?;
        let removed = sqlite::delete_credential(&self.conn(), tenant, &name);
        self.credential_cache().invalidate();
        if removed? {
            Ok(())
        } else {
            Err(StoreError::CredentialNotFound {
                tenant: tenant.to_owned(),
                name,
            })
        }
    }
}

impl CredentialVault {
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Where the key lives.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// Stores (or replaces) one credential of a tenant; creates the key
    /// file if there is none yet. `name` is stored lowercased.
    pub fn set(&self, tenant: &str, name: &str, value: &str) -> Result<SetOutcome, StoreError> {
        validate_tenant(tenant)?;
        let name = normalize_name(name)?;
        validate_value(value)?;
        let (nonce, sealed) = seal(self.cipher(true)?, value.as_bytes(), &aad(tenant, &name))
            .map_err(|e| match e {
                StoreError::Invalid { .. } => StoreError::Invalid {
                    what: "credential value",
                    reason: "it could not be encrypted".into(),
                },
                other => other,
            })?;
        let row = sqlite::CredentialRow {
            tenant,
            name: &name,
            nonce: &nonce,
            ciphertext: &sealed,
            updated_at: &crate::now_rfc3339(),
        };
        let result = sqlite::upsert_credential(&mut self.store.conn(), &row, PER_TENANT_MAX);
        self.store.credential_cache().invalidate();
        result
    }

    /// See [`Store::list_tenant_credentials`].
    pub fn list(&self, tenant: &str) -> Result<Vec<CredentialInfo>, StoreError> {
        self.store.list_tenant_credentials(tenant)
    }

    /// See [`Store::remove_tenant_credential`].
    pub fn remove(&self, tenant: &str, name: &str) -> Result<(), StoreError> {
        self.store.remove_tenant_credential(tenant, name)
    }

    /// A tenant's stored credentials by name, or `None` when it has none (a
    /// tenant id that could not have any is `None` too). Runs per request:
    /// one short lock on a hit; a query and decryption after the database
    /// changed, which another process's change makes visible within 100 ms.
    pub fn credentials_for(&self, tenant: &str) -> Result<Option<Credentials>, StoreError> {
        if !is_tenant(tenant) {
            return Ok(None);
        }
        let now = Instant::now();
        let generation = {
            let cache = self.store.credential_cache();
            let fresh = cache.data_version.is_some()
                && cache
                    .checked_at
                    .is_some_and(|at| now.duration_since(at) < CHANGE_CHECK_EVERY);
            if fresh && let Some(hit) = cache.tenants.get(tenant) {
                return Ok(hit.clone());
            }
            cache.generation
        };
        let version = sqlite::data_version(&self.store.conn())?;
        {
            let mut cache = self.store.credential_cache();
            cache.checked_at = Some(now);
            if cache.data_version != Some(version) {
                cache.tenants.clear();
                cache.data_version = Some(version);
            }
            if cache.generation == generation
                && let Some(hit) = cache.tenants.get(tenant)
            {
                return Ok(hit.clone());
            }
        }
        let rows = sqlite::credential_rows(&self.store.conn(), tenant)?;
        let found = if rows.is_empty() {
            None
        } else {
            let cipher = self.cipher(false)?;
            let mut map = BTreeMap::new();
            for (name, nonce, sealed) in rows {
                let value = open(cipher, tenant, &name, &nonce, &sealed)?;
                map.insert(name, value);
            }
            Some(Arc::new(map))
        };
        let mut cache = self.store.credential_cache();
        // Only if nothing changed meanwhile: a newer value must not be
        // papered over by the one read before it.
        if cache.data_version == Some(version) && cache.generation == generation {
            if cache.tenants.len() >= CACHE_MAX {
                cache.tenants.clear();
            }
            cache.tenants.insert(tenant.to_owned(), found.clone());
        }
        Ok(found)
    }

    /// The cipher, loading the key file on first need (and, for writes,
    /// creating it when there is none).
    pub(crate) fn cipher(&self, create: bool) -> Result<&XChaCha20Poly1305, StoreError> {
        if let Some(cipher) = self.cipher.get() {
            return Ok(cipher);
        }
        let key = match read_key(&self.key_file)? {
            Some(key) => key,
            None if create => create_key(&self.key_file)?,
            None => {
                return Err(StoreError::SecretsKey {
                    path: self.key_file.clone(),
                    reason: "it is missing, but the store holds encrypted tenant credentials or \
                             upstream OAuth tokens; restore it from a backup (without it they \
                             cannot be decrypted), or delete them with `bulwark tenant credential \
                             remove` and `bulwark upstream logout`"
                        .into(),
                });
            }
        };
        Ok(self.cipher.get_or_init(|| cipher(&key)))
    }
}

fn cipher(key: &[u8; KEY_LEN]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&(*key).into())
}

/// Seals `msg` under a fresh random nonce; returns the nonce and the ciphertext.
pub(crate) fn seal(
    cipher: &XChaCha20Poly1305,
    msg: &[u8],
    aad: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| StoreError::Random {
        reason: e.to_string(),
    })?;
    let sealed = cipher
        .encrypt(&XNonce::from(nonce), Payload { msg, aad })
        .map_err(|_| StoreError::Invalid {
            what: "sealed value",
            reason: "it could not be encrypted".into(),
        })?;
    Ok((nonce, sealed))
}

/// The plaintext of a sealed row as UTF-8, `None` if the key, the nonce, the
/// ciphertext or the associated data do not match.
pub(crate) fn unseal(
    cipher: &XChaCha20Poly1305,
    nonce: &[u8],
    sealed: &[u8],
    aad: &[u8],
) -> Option<String> {
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let plain = Zeroizing::new(
        cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: sealed, aad })
            .ok()?,
    );
    String::from_utf8(plain.to_vec()).ok()
}

fn open(
    cipher: &XChaCha20Poly1305,
    tenant: &str,
    name: &str,
    nonce: &[u8],
    sealed: &[u8],
) -> Result<String, StoreError> {
    unseal(cipher, nonce, sealed, &aad(tenant, name)).ok_or_else(|| StoreError::Decrypt {
        tenant: tenant.to_owned(),
        name: name.to_owned(),
    })
}

fn key_err(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::SecretsKey {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// The key in `path`, `None` if there is no such file.
fn read_key(path: &Path) -> Result<Option<Zeroizing<[u8; KEY_LEN]>>, StoreError> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(key_err(path, format!("cannot open it: {e}"))),
    };
    let meta = file
        .metadata()
        .map_err(|e| key_err(path, format!("cannot read its metadata: {e}")))?;
    if !meta.is_file() {
        return Err(key_err(path, "it is not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(key_err(
                path,
                format!(
                    "its mode is {mode:04o}, so other users may read it; make it owner-only \
                     with `chmod 600 {}`",
                    path.display()
                ),
            ));
        }
    }
    if meta.len() != KEY_LEN as u64 {
        return Err(key_err(
            path,
            format!(
                "it holds {} bytes, but a secrets key is exactly {KEY_LEN}; restore the right \
                 file from a backup (only if no credentials are stored may you delete it, and a \
                 new one is made)",
                meta.len()
            ),
        ));
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    file.read_exact(key.as_mut())
        .map_err(|e| key_err(path, format!("cannot read it: {e}")))?;
    Ok(Some(key))
}

/// Creates the key file with fresh random bytes, owner-only, atomically:
/// written to a temporary file and linked into place, so a concurrent
/// reader never sees a half-written key and two processes creating it at
/// once end up sharing one. Returns the key in force.
fn create_key(path: &Path) -> Result<Zeroizing<[u8; KEY_LEN]>, StoreError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::create_dirs(dir)?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(key.as_mut()).map_err(|e| StoreError::Random {
        reason: e.to_string(),
    })?;
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).map_err(|e| StoreError::Random {
        reason: e.to_string(),
    })?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "secrets.key".into());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", hex::encode(tag)));
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(key.as_ref())?;
        file.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(key_err(path, format!("cannot create it: {e}")));
    }
    // hard_link fails if the target exists: it never replaces a key.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            // The key must outlive a crash: persist the directory entry.
            #[cfg(unix)]
            if let Ok(dir) = std::fs::File::open(dir) {
                let _ = dir.sync_all();
            }
            tracing::info!(path = %path.display(), "created the secrets key for tenant credentials; back it up");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_key(path)?.ok_or_else(|| key_err(path, "it vanished while being created; retry"))
        }
        Err(e) => Err(key_err(path, format!("cannot create it: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> (tempfile::TempDir, Store, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("bulwark.db");
        let store = Store::open(&db).unwrap();
        (dir, store, db)
    }

    #[test]
    fn round_trip() {
        let (dir, store, _) = temp_store();
        let key_file = dir.path().join("secrets.key");
        let vault = store.credential_vault(&key_file).unwrap();
        assert!(!key_file.exists(), "no key until something is stored");
        assert_eq!(vault.credentials_for("t1").unwrap(), None);

        assert_eq!(
            vault.set("t1", "API_KEY", "s3cret").unwrap(),
            SetOutcome::Added
        );
        assert_eq!(vault.set("t1", "oid", "org-1").unwrap(), SetOutcome::Added);
        assert_eq!(
            vault.set("t2", "api_key", "other").unwrap(),
            SetOutcome::Added
        );
        let got = vault.credentials_for("t1").unwrap().unwrap();
        assert_eq!(
            *got,
            BTreeMap::from([
                ("api_key".to_owned(), "s3cret".to_owned()),
                ("oid".to_owned(), "org-1".to_owned())
            ])
        );
        assert_eq!(
            vault.set("t1", "api_key", "new").unwrap(),
            SetOutcome::Replaced
        );
        assert_eq!(
            vault.credentials_for("t1").unwrap().unwrap()["api_key"],
            "new"
        );

        let names: Vec<_> = vault
            .list("t1")
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["api_key", "oid"]);
        vault.remove("t1", "oid").unwrap();
        assert!(matches!(
            vault.remove("t1", "oid"),
            Err(StoreError::CredentialNotFound { .. })
        ));
        vault.remove("t1", "api_key").unwrap();
        assert_eq!(vault.credentials_for("t1").unwrap(), None);
        assert_eq!(
            vault.credentials_for("t2").unwrap().unwrap()["api_key"],
            "other"
        );

        // A second vault (another process) reads them with the same key file.
        let again = Store::open(&dir.path().join("bulwark.db"))
            .unwrap()
            .credential_vault(&key_file)
            .unwrap();
        assert_eq!(
            again.credentials_for("t2").unwrap().unwrap()["api_key"],
            "other"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::metadata(&key_file).unwrap().len(), KEY_LEN as u64);
    }

    #[test]
    fn debug_output_redacts() {
        let (dir, store, _) = temp_store();
        let vault = store
            .credential_vault(&dir.path().join("secrets.key"))
            .unwrap();
        vault.set("t1", "api_key", "hunter2-value").unwrap();
        let shown = format!("{vault:?} {:?}", vault.list("t1").unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn bad_key_files_are_refused() {
        let (dir, store, _) = temp_store();
        let key_file = dir.path().join("secrets.key");

        std::fs::write(&key_file, [7u8; 31]).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let err = store.credential_vault(&key_file).unwrap_err().to_string();
        assert!(
            err.contains("31 bytes") && err.contains("exactly 32"),
            "{err}"
        );

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&key_file, [7u8; 32]).unwrap();
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = store.credential_vault(&key_file).unwrap_err().to_string();
            assert!(err.contains("0644") && err.contains("chmod 600"), "{err}");
        }
    }

    #[test]
    fn another_key_cannot_decrypt_and_a_missing_key_is_reported() {
        let (dir, store, db) = temp_store();
        let key_file = dir.path().join("secrets.key");
        store
            .credential_vault(&key_file)
            .unwrap()
            .set("t1", "api_key", "s3cret")
            .unwrap();

        // A different (valid) key: decryption fails with a clear error.
        let other = dir.path().join("other.key");
        let other_vault = Store::open(&db).unwrap().credential_vault(&other).unwrap();
        other_vault.set("t9", "x", "y").unwrap();
        let err = other_vault.credentials_for("t1").unwrap_err();
        assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
        assert!(err.to_string().contains("secrets.key"), "{err}");

        // No key at all while credentials are stored.
        let missing = dir.path().join("missing.key");
        let vault = Store::open(&db)
            .unwrap()
            .credential_vault(&missing)
            .unwrap();
        let err = vault.credentials_for("t1").unwrap_err().to_string();
        assert!(err.contains("missing") && err.contains("backup"), "{err}");
        assert!(!missing.exists(), "a read never creates a key");
    }

    #[test]
    fn database_file_holds_no_plaintext() {
        let (dir, store, db) = temp_store();
        let vault = store
            .credential_vault(&dir.path().join("secrets.key"))
            .unwrap();
        let secret = "plaintext-marker-4f1c9e2a";
        vault.set("acme", "api_key", secret).unwrap();
        drop(vault);
        drop(store);
        let mut bytes = Vec::new();
        for suffix in ["", "-wal"] {
            let mut path = db.clone().into_os_string();
            path.push(suffix);
            if let Ok(b) = std::fs::read(&path) {
                bytes.extend(b);
            }
        }
        assert!(!bytes.is_empty());
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "the plaintext is in the database file");
        // The tenant and name are stored in clear (they are ids, not secrets).
        assert!(bytes.windows(4).any(|w| w == b"acme"));
    }

    #[test]
    fn a_row_copied_to_another_tenant_or_name_does_not_decrypt() {
        let (dir, store, _) = temp_store();
        let vault = store
            .credential_vault(&dir.path().join("secrets.key"))
            .unwrap();
        vault.set("t1", "api_key", "s3cret").unwrap();
        store
            .conn()
            .execute_batch(
                "INSERT INTO tenant_credentials (tenant, name, nonce, ciphertext, updated_at)
                 SELECT 't2', name, nonce, ciphertext, updated_at FROM tenant_credentials
                 WHERE tenant = 't1';
                 INSERT INTO tenant_credentials (tenant, name, nonce, ciphertext, updated_at)
                 SELECT tenant, 'renamed', nonce, ciphertext, updated_at FROM tenant_credentials
                 WHERE tenant = 't1' AND name = 'api_key';",
            )
            .unwrap();
        store.credential_cache().invalidate();
        let err = vault.credentials_for("t2").unwrap_err();
        assert!(
            matches!(&err, StoreError::Decrypt { tenant, name } if tenant == "t2" && name == "api_key"),
            "{err}"
        );
        let err = vault.credentials_for("t1").unwrap_err();
        assert!(
            matches!(&err, StoreError::Decrypt { name, .. } if name == "renamed"),
            "{err}"
        );
    }

    #[test]
    fn another_connections_change_is_seen_within_the_check_interval() {
        let (dir, store, db) = temp_store();
        let key_file = dir.path().join("secrets.key");
        let server = store.credential_vault(&key_file).unwrap();
        let cli = Store::open(&db)
            .unwrap()
            .credential_vault(&key_file)
            .unwrap();
        cli.set("t1", "api_key", "one").unwrap();
        assert_eq!(
            server.credentials_for("t1").unwrap().unwrap()["api_key"],
            "one"
        );
        assert_eq!(server.credentials_for("t9").unwrap(), None);

        cli.set("t1", "api_key", "two").unwrap();
        cli.set("t9", "api_key", "nine").unwrap();
        std::thread::sleep(CHANGE_CHECK_EVERY + std::time::Duration::from_millis(20));
        assert_eq!(
            server.credentials_for("t1").unwrap().unwrap()["api_key"],
            "two"
        );
        assert_eq!(
            server.credentials_for("t9").unwrap().unwrap()["api_key"],
            "nine"
        );

        cli.remove("t1", "api_key").unwrap();
        std::thread::sleep(CHANGE_CHECK_EVERY + std::time::Duration::from_millis(20));
        assert_eq!(server.credentials_for("t1").unwrap(), None);
    }

    #[test]
    fn hostile_tenants_names_and_values_are_refused() {
        let (dir, store, _) = temp_store();
        let vault = store
            .credential_vault(&dir.path().join("secrets.key"))
            .unwrap();
        let long = "x".repeat(300);
        for tenant in ["", "../x", "a b", "t\n", &long, "tenant/1", "é"] {
            let err = vault.set(tenant, "api_key", "v").unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidTenant { .. }),
                "{tenant:?}: {err}"
            );
            assert!(err.to_string().len() < 400, "{err}");
            assert_eq!(vault.credentials_for(tenant).unwrap(), None);
        }
        for name in ["", "../x", "a b", "x:y", &long, "é"] {
            let err = vault.set("t1", name, "v").unwrap_err().to_string();
            assert!(err.contains("credential name"), "{name:?}: {err}");
        }
        assert!(vault.set("t1", "a", "").is_err());
        assert!(vault.set("t1", "a", &"v".repeat(VALUE_MAX + 1)).is_err());
        vault.set("t1", "a", &"v".repeat(VALUE_MAX)).unwrap();
        for n in 1..PER_TENANT_MAX {
            vault.set("t1", &format!("n{n}"), "v").unwrap();
        }
        let err = vault
            .set("t1", "one-too-many", "v")
            .unwrap_err()
            .to_string();
        assert!(err.contains("32"), "{err}");
        // Replacing one at the limit is fine.
        vault.set("t1", "a", "w").unwrap();
        assert!(vault.list("t1").unwrap().len() == PER_TENANT_MAX);
    }

    #[test]
    fn concurrent_key_creation_yields_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.key");
        let keys: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| create_key(&path).unwrap()))
                .collect();
            handles.into_iter().map(|h| *h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "temporary files are removed");
    }
}
