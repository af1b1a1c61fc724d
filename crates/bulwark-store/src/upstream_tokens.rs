//! OAuth tokens of HTTP upstreams, encrypted at rest with the same secrets
//! key and cipher as tenant credentials (see `credentials.rs`).
//!
//! The value is opaque here: whatever the OAuth client wants kept (rmcp's
//! stored credentials as JSON: client id, access and refresh token, scopes).
//! The upstream's name is bound in as associated data, so a row copied to
//! another upstream no longer decrypts.

use crate::credentials::{CredentialVault, seal, unseal};
use crate::{StoreError, sqlite, valid_upstream_name};

/// Domain separation from tenant credentials: format version 1.
const AAD_PREFIX: &[u8] = b"bulwark upstream oauth v1\0";
/// Largest sealed value (a JWT access token, a refresh token and metadata fit easily).
pub const TOKEN_MAX: usize = 64 * 1024;

fn aad(name: &str) -> Vec<u8> {
    [AAD_PREFIX, name.as_bytes()].concat()
}

/// A stored token, decrypted, and when it was written.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamToken {
    pub value: String,
    /// RFC 3339 UTC; changes with every write, so a reader can tell a new login.
    pub updated_at: String,
}

impl std::fmt::Debug for UpstreamToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamToken")
            .field("value", &"<redacted>")
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl CredentialVault {
    /// The sealed OAuth state of upstream `name`, decrypted; `None` when there is none.
    pub fn upstream_token(&self, name: &str) -> Result<Option<UpstreamToken>, StoreError> {
        valid_upstream_name(name)?;
        let Some((nonce, sealed, updated_at)) =
            sqlite::upstream_token_row(&self.store().conn(), name)?
        else {
            return Ok(None);
        };
        let value = unseal(self.cipher(false)?, &nonce, &sealed, &aad(name)).ok_or_else(|| {
            StoreError::TokenDecrypt {
                name: name.to_owned(),
            }
        })?;
        Ok(Some(UpstreamToken { value, updated_at }))
    }

    /// When the token of `name` was last written, without decrypting it.
    pub fn upstream_token_stamp(&self, name: &str) -> Result<Option<String>, StoreError> {
        valid_upstream_name(name)?;
        Ok(sqlite::upstream_token_row(&self.store().conn(), name)?.map(|row| row.2))
    }

    /// Seals and stores (or replaces) the OAuth state of upstream `name`;
    /// creates the key file if there is none yet.
    pub fn set_upstream_token(&self, name: &str, value: &str) -> Result<(), StoreError> {
        valid_upstream_name(name)?;
        if value.len() > TOKEN_MAX {
            return Err(StoreError::Invalid {
                what: "upstream OAuth token",
                reason: format!("it is {} bytes; at most {TOKEN_MAX} are kept", value.len()),
            });
        }
        let (nonce, sealed) = seal(self.cipher(true)?, value.as_bytes(), &aad(name))?;
        sqlite::put_upstream_token(
            &self.store().conn(),
            name,
            &nonce,
            &sealed,
            &crate::now_rfc3339_precise(),
        )
    }

    /// Forgets the OAuth state of upstream `name`; whether there was any.
    /// Needs no key.
    pub fn remove_upstream_token(&self, name: &str) -> Result<bool, StoreError> {
        valid_upstream_name(name)?;
        sqlite::delete_upstream_token(&self.store().conn(), name)
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    fn vault(dir: &std::path::Path) -> crate::CredentialVault {
        let store = Store::open(&dir.join("bulwark.db")).unwrap();
        store.credential_vault(&dir.join("secrets.key")).unwrap()
    }

    #[test]
    fn tokens_round_trip_and_are_not_stored_in_the_clear() {
        let dir = tempfile::tempdir().unwrap();
        let vault = vault(dir.path());
        assert_eq!(vault.upstream_token("up").unwrap(), None);
        let secret = "access-token-that-must-not-leak-0123456789";
        vault.set_upstream_token("up", secret).unwrap();
        let got = vault.upstream_token("up").unwrap().unwrap();
        assert_eq!(got.value, secret);
        assert_eq!(
            vault.upstream_token_stamp("up").unwrap().as_deref(),
            Some(got.updated_at.as_str())
        );
        drop(vault);
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "plaintext token on disk"
            );
        }
        let vault = vault_again(dir.path());
        assert!(vault.remove_upstream_token("up").unwrap());
        assert!(!vault.remove_upstream_token("up").unwrap());
        assert_eq!(vault.upstream_token("up").unwrap(), None);
    }

    fn vault_again(dir: &std::path::Path) -> crate::CredentialVault {
        vault(dir)
    }

    #[test]
    fn a_row_moved_to_another_upstream_does_not_decrypt() {
        let dir = tempfile::tempdir().unwrap();
        let vault = vault(dir.path());
        vault.set_upstream_token("a", "{\"t\":1}").unwrap();
        {
            let conn = vault.store().conn();
            conn.execute("UPDATE upstream_tokens SET name = 'b' WHERE name = 'a'", [])
                .unwrap();
        }
        let err = vault.upstream_token("b").unwrap_err();
        assert!(
            err.to_string().contains("bulwark upstream login b"),
            "{err}"
        );
    }

    #[test]
    fn a_wrong_key_is_reported_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        vault(dir.path()).set_upstream_token("a", "x").unwrap();
        std::fs::remove_file(dir.path().join("secrets.key")).unwrap();
        let err = vault(dir.path()).upstream_token("a").unwrap_err();
        assert!(err.to_string().contains("bulwark upstream logout"), "{err}");
        let err = vault(dir.path())
            .set_upstream_token("a:b", "x")
            .unwrap_err();
        assert!(err.to_string().contains("upstream name"), "{err}");
        let big = "x".repeat(super::TOKEN_MAX + 1);
        assert!(vault(dir.path()).set_upstream_token("a", &big).is_err());
    }
}
