//! Upstream MCP servers the gateway proxies: one JSON record per server name.
//!
//! The store keeps the records opaque (their shape belongs to `bulwark-gateway`)
//! and guarantees two things: every change is one transaction, and every change
//! bumps a generation counter, so a running `bulwark serve` notices what a
//! `bulwark upstream …` command in another process did by polling one number.

use crate::{Store, StoreError, sqlite};

/// One stored upstream record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpstream {
    pub name: String,
    /// JSON, as the gateway wrote it.
    pub record: String,
    /// RFC 3339, when it last changed.
    pub updated_at: String,
}

/// What [`Store::modify_upstream`] should do with the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamWrite {
    /// Leave it as it is (no generation bump).
    Keep,
    /// Create or replace it with this JSON.
    Put(String),
    /// Remove it.
    Delete,
}

/// Upstream names: 1-64 characters from `A-Z a-z 0-9 _ - .`, starting with a
/// letter or digit. No `:`, which separates server and tool in `server:tool`.
pub fn valid_upstream_name(name: &str) -> Result<(), StoreError> {
    let bad = |reason: &str| StoreError::Invalid {
        what: "upstream name",
        reason: format!("{name:?} {reason}"),
    };
    if name.is_empty() || name.len() > 64 {
        return Err(bad("must be 1 to 64 characters long"));
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(bad("must start with a letter or a digit"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(bad(
            "may hold only letters, digits, `_`, `-` and `.` (no `:`, which separates server and tool)",
        ));
    }
    Ok(())
}

impl Store {
    /// A number that changes whenever any upstream record changes (in any
    /// process sharing this database).
    pub fn upstream_generation(&self) -> Result<i64, StoreError> {
        sqlite::upstream_generation(&self.conn())
    }

    /// Every upstream record, by name.
    pub fn list_upstreams(&self) -> Result<Vec<StoredUpstream>, StoreError> {
        sqlite::list_upstreams(&self.conn())
    }

    /// One upstream record.
    pub fn get_upstream(&self, name: &str) -> Result<Option<StoredUpstream>, StoreError> {
        Ok(self.list_upstreams()?.into_iter().find(|u| u.name == name))
    }

    /// Atomically read the record named `name` (`None` when absent), let
    /// `change` decide what to write, and write it. `change` runs under the
    /// database's write lock: keep it short and free of I/O. An `Err` from it
    /// leaves the record untouched.
    pub fn modify_upstream<T, E: From<StoreError>>(
        &self,
        name: &str,
        change: impl FnOnce(Option<String>) -> Result<(UpstreamWrite, T), E>,
    ) -> Result<T, E> {
        valid_upstream_name(name)?;
        sqlite::modify_upstream(&mut self.conn(), name, change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(store: &Store, name: &str, json: &str) {
        store
            .modify_upstream::<_, StoreError>(name, |_| {
                Ok((UpstreamWrite::Put(json.to_owned()), ()))
            })
            .unwrap();
    }

    #[test]
    fn changes_bump_the_generation_and_keep_does_not() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.upstream_generation().unwrap(), 0);
        put(&store, "fs", "{\"a\":1}");
        assert_eq!(store.upstream_generation().unwrap(), 1);
        store
            .modify_upstream::<_, StoreError>("fs", |cur| {
                assert_eq!(cur.as_deref(), Some("{\"a\":1}"));
                Ok((UpstreamWrite::Keep, ()))
            })
            .unwrap();
        assert_eq!(store.upstream_generation().unwrap(), 1);
        store
            .modify_upstream::<_, StoreError>("fs", |_| Ok((UpstreamWrite::Delete, ())))
            .unwrap();
        assert_eq!(store.upstream_generation().unwrap(), 2);
        assert!(store.list_upstreams().unwrap().is_empty());
    }

    #[test]
    fn a_failed_change_writes_nothing() {
        let store = Store::open_in_memory().unwrap();
        put(&store, "fs", "{}");
        let err = store
            .modify_upstream::<(), StoreError>("fs", |_| {
                Err(StoreError::Invalid {
                    what: "x",
                    reason: "no".into(),
                })
            })
            .unwrap_err();
        assert!(err.to_string().contains("invalid x"), "{err}");
        assert_eq!(store.get_upstream("fs").unwrap().unwrap().record, "{}");
        assert_eq!(store.upstream_generation().unwrap(), 1);
    }

    #[test]
    fn hostile_names_are_refused() {
        let store = Store::open_in_memory().unwrap();
        for name in ["", "a:b", "../x", "-x", "a b", &"x".repeat(65), "naïve"] {
            let err = store
                .modify_upstream::<_, StoreError>(name, |_| {
                    Ok((UpstreamWrite::Put("{}".into()), ()))
                })
                .unwrap_err();
            assert!(err.to_string().contains("upstream name"), "{name}: {err}");
        }
        assert!(store.list_upstreams().unwrap().is_empty());
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bulwark.db");
        {
            let store = Store::open(&path).unwrap();
            put(&store, "time", "{\"kind\":\"stdio\"}");
        }
        let store = Store::open(&path).unwrap();
        let all = store.list_upstreams().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].record, "{\"kind\":\"stdio\"}");
        assert_eq!(store.upstream_generation().unwrap(), 1);
    }
}
