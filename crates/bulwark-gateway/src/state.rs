//! Upstream records in the store: the one source of truth, shared by a running
//! `bulwark serve` and `bulwark upstream …` commands in other processes.

use std::collections::{BTreeMap, BTreeSet};

use bulwark_store::{Store, StoreError, UpstreamWrite};

use crate::GatewayError;
use crate::record::{Origin, Transport, UpstreamRecord};

/// What the CLI, the config file or an agent declares about a server.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamSpec {
    pub name: String,
    pub transport: Transport,
    pub enabled: bool,
}

/// Typed access to the upstream records.
#[derive(Clone, Debug)]
pub struct StateStore {
    store: Store,
}

pub(crate) fn now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // RFC 3339 in UTC without pulling a date crate in: days → civil date.
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn decode(name: &str, json: &str) -> Result<UpstreamRecord, GatewayError> {
    serde_json::from_str(json).map_err(|e| GatewayError::Corrupt {
        name: name.to_owned(),
        reason: e.to_string(),
    })
}

fn encode(record: &UpstreamRecord) -> Result<String, GatewayError> {
    serde_json::to_string(record).map_err(|e| GatewayError::Corrupt {
        name: record.name.clone(),
        reason: e.to_string(),
    })
}

impl StateStore {
    pub fn new(store: Store) -> Self {
        StateStore { store }
    }

    pub fn generation(&self) -> Result<i64, GatewayError> {
        Ok(self.store.upstream_generation()?)
    }

    /// Every record, by name. A record that cannot be read is skipped with a
    /// warning rather than hiding all the others.
    pub fn all(&self) -> Result<Vec<UpstreamRecord>, GatewayError> {
        let mut out = Vec::new();
        for stored in self.store.list_upstreams()? {
            match decode(&stored.name, &stored.record) {
                Ok(record) => out.push(record),
                Err(err) => tracing::warn!("{err}"),
            }
        }
        Ok(out)
    }

    pub fn get(&self, name: &str) -> Result<Option<UpstreamRecord>, GatewayError> {
        match self.store.get_upstream(name)? {
            Some(stored) => Ok(Some(decode(name, &stored.record)?)),
            None => Ok(None),
        }
    }

    /// Change an existing record atomically; `f` returns what to hand back.
    pub fn update<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut UpstreamRecord) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        self.store.modify_upstream(name, |current| {
            let Some(json) = current else {
                return Err(GatewayError::UnknownServer {
                    name: name.to_owned(),
                });
            };
            let mut record = decode(name, &json)?;
            let before = record.clone();
            let out = f(&mut record)?;
            let write = if record == before {
                UpstreamWrite::Keep
            } else {
                UpstreamWrite::Put(encode(&record)?)
            };
            Ok((write, out))
        })
    }

    /// Add a new server, quarantined. Fails if the name is taken.
    pub fn add(&self, spec: UpstreamSpec, origin: Origin) -> Result<UpstreamRecord, GatewayError> {
        check_transport(&spec.transport)?;
        self.store.modify_upstream(&spec.name.clone(), |current| {
            if current.is_some() {
                return Err(GatewayError::Exists {
                    name: spec.name.clone(),
                });
            }
            let mut record = UpstreamRecord::new(spec.name, spec.transport, origin);
            record.enabled = spec.enabled;
            Ok((UpstreamWrite::Put(encode(&record)?), record))
        })
    }

    /// Change how a server is reached. Its pins stay: a tool that looks
    /// different through the new transport is blocked like any change.
    pub fn set_transport(
        &self,
        name: &str,
        transport: Transport,
    ) -> Result<UpstreamRecord, GatewayError> {
        check_transport(&transport)?;
        self.update(name, |r| {
            r.transport = transport;
            Ok(r.clone())
        })
    }

    pub fn remove(&self, name: &str) -> Result<UpstreamRecord, GatewayError> {
        self.store.modify_upstream(name, |current| {
            let Some(json) = current else {
                return Err(GatewayError::UnknownServer {
                    name: name.to_owned(),
                });
            };
            Ok((UpstreamWrite::Delete, decode(name, &json)?))
        })
    }

    /// Put a server (back) into quarantine. Its pins stay, so approving it
    /// again shows what changed meanwhile.
    pub fn quarantine(&self, name: &str) -> Result<UpstreamRecord, GatewayError> {
        self.update(name, |r| {
            r.quarantined = true;
            r.pin_on_first_sight = false;
            Ok(r.clone())
        })
    }

    /// Block (or unblock) tools of a server. Unblocking a tool that is not
    /// blocked is an error, so a typo does not pass for success.
    pub fn set_blocked(
        &self,
        name: &str,
        tools: &[String],
        blocked: bool,
    ) -> Result<UpstreamRecord, GatewayError> {
        for tool in tools {
            if tool.is_empty() || tool.len() > 256 || tool.chars().any(char::is_control) {
                return Err(GatewayError::Invalid(format!(
                    "tool name {tool:?} must be 1-256 characters without control characters"
                )));
            }
        }
        self.update(name, |r| {
            for tool in tools {
                if blocked {
                    r.blocked_tools.insert(tool.clone());
                } else if !r.blocked_tools.remove(tool) {
                    let blocked: Vec<&str> = r.blocked_tools.iter().map(String::as_str).collect();
                    return Err(GatewayError::Invalid(format!(
                        "`{name}:{tool}` is not blocked; blocked tools of `{name}`: {}",
                        if blocked.is_empty() {
                            "none".to_owned()
                        } else {
                            blocked.join(", ")
                        }
                    )));
                }
            }
            Ok(r.clone())
        })
    }

    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<UpstreamRecord, GatewayError> {
        self.update(name, |r| {
            r.enabled = enabled;
            Ok(r.clone())
        })
    }

    /// Approve a server (every listed tool, or one).
    pub fn approve(
        &self,
        name: &str,
        tool: Option<&str>,
    ) -> Result<(UpstreamRecord, Vec<String>), GatewayError> {
        let now = now();
        self.update(name, |r| {
            let pinned = r.approve(tool, &now).map_err(GatewayError::Refused)?;
            Ok((r.clone(), pinned))
        })
    }

    /// Merge the config file's declarations: new servers are added (approved
    /// when the file says `quarantined = false`), known ones get the declared
    /// transport and `enabled`; pins and approvals already in the store stay.
    /// `blocked` adds the config file's `blocked_tools` per server (tools
    /// blocked through the CLI stay blocked).
    pub fn merge_declared(
        &self,
        declared: &[(UpstreamSpec, bool)],
        blocked: &BTreeMap<String, BTreeSet<String>>,
    ) -> Result<Vec<String>, GatewayError> {
        let mut changed = Vec::new();
        for (spec, quarantined) in declared {
            check_transport(&spec.transport)?;
            let did = self.store.modify_upstream(&spec.name.clone(), |current| {
                let is_new = current.is_none();
                let mut record = match current {
                    Some(json) => decode(&spec.name, &json)?,
                    None => UpstreamRecord::new(
                        spec.name.clone(),
                        spec.transport.clone(),
                        Origin::Config,
                    ),
                };
                let before = record.clone();
                record.transport = spec.transport.clone();
                record.enabled = spec.enabled;
                if let Some(tools) = blocked.get(&spec.name) {
                    record.blocked_tools.extend(tools.iter().cloned());
                }
                if !quarantined {
                    record.quarantined = false;
                    record.pin_on_first_sight = true;
                }
                if record == before && !is_new {
                    return Ok::<_, GatewayError>((UpstreamWrite::Keep, false));
                }
                Ok((UpstreamWrite::Put(encode(&record)?), true))
            })?;
            if did {
                changed.push(spec.name.clone());
            }
        }
        Ok(changed)
    }
}

/// Reject transports that cannot work before they are stored.
pub(crate) fn check_transport(transport: &Transport) -> Result<(), GatewayError> {
    match transport {
        Transport::Stdio { command, .. } => {
            if command.trim().is_empty() {
                return Err(GatewayError::Invalid(
                    "the command is empty; give the server's command, e.g. `npx -y @modelcontextprotocol/server-everything`".into(),
                ));
            }
            if command.contains('\0') {
                return Err(GatewayError::Invalid("the command holds a NUL byte".into()));
            }
        }
        Transport::Http { url, .. } | Transport::Sse { url, .. } => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(GatewayError::Invalid(format!(
                    "URL {url:?} is not http:// or https://; give the server's MCP endpoint such as http://127.0.0.1:3001/mcp"
                )));
            }
        }
    }
    Ok(())
}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        GatewayError::Store(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> UpstreamSpec {
        UpstreamSpec {
            name: name.into(),
            transport: Transport::Http {
                url: "http://127.0.0.1:9/mcp".into(),
                headers: Default::default(),
                oauth: None,
            },
            enabled: true,
        }
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
        assert!(now().ends_with('Z'));
    }

    #[test]
    fn add_remove_and_duplicates() {
        let state = StateStore::new(Store::open_in_memory().unwrap());
        let r = state.add(spec("a"), Origin::Cli).unwrap();
        assert!(r.quarantined);
        let err = state.add(spec("a"), Origin::Cli).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        state.remove("a").unwrap();
        assert!(
            state
                .remove("a")
                .unwrap_err()
                .to_string()
                .contains("no upstream")
        );
        let mut bad = spec("b");
        bad.transport = Transport::Http {
            url: "file:///etc/passwd".into(),
            headers: Default::default(),
            oauth: None,
        };
        assert!(state.add(bad, Origin::Agent).is_err());
        assert!(state.add(spec("x:y"), Origin::Agent).is_err());
    }

    #[test]
    fn config_merge_keeps_pins_and_only_writes_changes() {
        let state = StateStore::new(Store::open_in_memory().unwrap());
        let declared = vec![(spec("a"), true)];
        let none = BTreeMap::new();
        assert_eq!(state.merge_declared(&declared, &none).unwrap(), ["a"]);
        let g = state.generation().unwrap();
        assert!(state.merge_declared(&declared, &none).unwrap().is_empty());
        assert_eq!(state.generation().unwrap(), g);
        let approved = vec![(spec("a"), false)];
        state.merge_declared(&approved, &none).unwrap();
        let r = state.get("a").unwrap().unwrap();
        assert!(!r.quarantined && r.pin_on_first_sight);
    }
}
