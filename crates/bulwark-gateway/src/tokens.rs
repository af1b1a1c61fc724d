//! OAuth tokens of HTTP upstreams, sealed in the store with the data dir's secrets key (the
//! same key and cipher as tenant credentials). `bulwark upstream login` writes them; the
//! gateway's connections read them and write back refreshed ones.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bulwark_store::{CredentialVault, Store};
use bulwark_upstream::{OAuthConnect, TokenVault};

use crate::GatewayError;

/// The sealed tokens of all upstreams; opens the store on first use.
pub struct UpstreamTokens {
    store_path: PathBuf,
    key_file: PathBuf,
    vault: OnceLock<Result<Arc<CredentialVault>, String>>,
}

impl std::fmt::Debug for UpstreamTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTokens")
            .field("store_path", &self.store_path)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl UpstreamTokens {
    /// Tokens in the store at `store_path`, sealed with the key in `key_file`.
    pub fn new(store_path: PathBuf, key_file: PathBuf) -> Self {
        UpstreamTokens {
            store_path,
            key_file,
            vault: OnceLock::new(),
        }
    }

    fn vault(&self) -> Result<&CredentialVault, GatewayError> {
        self.vault
            .get_or_init(|| {
                Store::open(&self.store_path)
                    .and_then(|store| store.credential_vault(&self.key_file))
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .as_deref()
            .map_err(|e| GatewayError::Store(e.clone()))
    }

    /// What a connection to upstream `name` needs to use (and refresh) its tokens.
    pub fn connect(self: &Arc<Self>, name: &str) -> OAuthConnect {
        OAuthConnect {
            name: name.to_owned(),
            vault: Arc::new(Named {
                tokens: self.clone(),
                name: name.to_owned(),
            }),
        }
    }

    /// When the tokens of `name` were last written (a login or a refresh); `None` when there
    /// are none. Reads no secret.
    pub fn stamp(&self, name: &str) -> Option<String> {
        self.vault().ok()?.upstream_token_stamp(name).ok().flatten()
    }

    /// Forget the tokens of `name`; whether there were any.
    pub fn forget(&self, name: &str) -> Result<bool, GatewayError> {
        self.vault()?
            .remove_upstream_token(name)
            .map_err(|e| GatewayError::Store(e.to_string()))
    }
}

/// One upstream's slot in [`UpstreamTokens`].
struct Named {
    tokens: Arc<UpstreamTokens>,
    name: String,
}

impl TokenVault for Named {
    fn load(&self) -> Result<Option<String>, String> {
        let vault = self.tokens.vault().map_err(|e| e.to_string())?;
        vault
            .upstream_token(&self.name)
            .map(|t| t.map(|t| t.value))
            .map_err(|e| e.to_string())
    }

    fn save(&self, value: &str) -> Result<(), String> {
        let vault = self.tokens.vault().map_err(|e| e.to_string())?;
        vault
            .set_upstream_token(&self.name, value)
            .map_err(|e| e.to_string())
    }

    fn clear(&self) -> Result<(), String> {
        let vault = self.tokens.vault().map_err(|e| e.to_string())?;
        vault
            .remove_upstream_token(&self.name)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
