//! Field mappings kept as data (`mappings/*.yml`): which Sigma logsources an
//! event belongs to, and which of its fields Sigma knows under another name.

use std::collections::HashMap;

use rsigma_parser::LogSource;
use serde::Deserialize;
use serde_json::Value;

use crate::fields::Fields;

/// Windows event logs: Security, System, Sysmon, PowerShell and other channels.
pub const WINDOWS_MAPPING: &str = include_str!("../mappings/windows.yml");
/// Linux: auditd (with process creation from EXECVE), syslog/auth, journald.
pub const LINUX_MAPPING: &str = include_str!("../mappings/linux.yml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    product: String,
    host_field: String,
    time_field: String,
    #[serde(default)]
    services: Vec<SourceFile>,
    #[serde(default)]
    categories: Vec<SourceFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(rename = "match")]
    when: HashMap<String, Vec<yaml_serde::Value>>,
    #[serde(default)]
    fields: Vec<(String, String)>,
    #[serde(default)]
    kv_from: Option<String>,
}

/// One accepted value of a `match` field, lowercased once at load.
#[derive(Debug)]
struct Accepted {
    lower: String,
    number: Option<i64>,
}

#[derive(Debug)]
struct Source {
    /// Index into `Mapping::services` or `Mapping::categories`.
    name: usize,
    when: Vec<(String, Vec<Accepted>)>,
    fields: Vec<(String, String)>,
    kv_from: Option<String>,
}

/// A parsed mapping file.
#[derive(Debug)]
pub struct Mapping {
    pub product: String,
    pub host_field: String,
    pub time_field: String,
    service_names: Vec<String>,
    category_names: Vec<String>,
    services: Vec<Source>,
    categories: Vec<Source>,
    /// Prebuilt logsources: index `(service + 1) * (categories + 1) + category + 1`
    /// with 0 standing for "none".
    logsources: Vec<LogSource>,
    /// Sources by the value of their first `match` field (Channel for
    /// Windows), so an event is checked only against sources that can match.
    key_fields: Vec<String>,
    /// Per key field (same index as `key_fields`): lowercased value to sources.
    by_key: Vec<HashMap<String, Vec<(bool, usize)>>>,
    /// Every field a `match` tests: which sources an event meets depends on
    /// their values alone (see [`ClassifyMemo`]).
    tested_fields: Vec<String>,
}

/// Which sources matched, by the values of the fields the sources test.
/// Within one log file those values repeat (a channel, a few event ids), so
/// [`Mapping::classify_with`] looks the answer up instead of testing every
/// candidate source again. Keep one per mapping.
#[derive(Default)]
pub struct ClassifyMemo {
    /// The key of the event at hand, a reused buffer.
    key: Vec<u8>,
    matched: HashMap<Vec<u8>, Vec<(bool, usize)>>,
}

/// Distinct keys a memo holds before it starts afresh (a log whose tested
/// fields never repeat should not grow it without bound).
const MEMO_LIMIT: usize = 4096;

impl ClassifyMemo {
    pub fn new() -> ClassifyMemo {
        ClassifyMemo::default()
    }
}

/// Append to `key` a form of `value` that two values share only when they
/// are equal, so that equal keys get equal answers from `value_accepted`.
fn push_key(value: Option<&Value>, key: &mut Vec<u8>) {
    let mut tagged = |tag: u8, bytes: &[u8]| {
        key.push(tag);
        key.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        key.extend_from_slice(bytes);
    };
    match value {
        None => tagged(0, &[]),
        Some(Value::Null) => tagged(1, &[]),
        Some(Value::Bool(b)) => tagged(2, &[u8::from(*b)]),
        Some(Value::String(s)) => tagged(3, s.as_bytes()),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => tagged(4, &u.to_le_bytes()),
            (None, Some(i)) => tagged(5, &i.to_le_bytes()),
            _ => tagged(6, &n.as_f64().unwrap_or(f64::NAN).to_bits().to_le_bytes()),
        },
        Some(other) => tagged(7, other.to_string().as_bytes()),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("mapping `{name}` is not valid: {reason}")]
pub struct MappingError {
    pub name: String,
    pub reason: String,
}

impl Mapping {
    /// Parse a mapping file (the format of `mappings/windows.yml`).
    pub fn parse(name: &str, text: &str) -> Result<Mapping, MappingError> {
        let error = |reason: String| MappingError {
            name: name.to_string(),
            reason,
        };
        // `fields` is written as a YAML mapping; keep its order.
        let raw: yaml_serde::Value =
            yaml_serde::from_str(text).map_err(|e| error(e.to_string()))?;
        let raw = fields_as_pairs(raw);
        let file: MappingFile = yaml_serde::from_value(raw).map_err(|e| error(e.to_string()))?;
        let mut service_names = Vec::new();
        let mut category_names = Vec::new();
        let build = |sources: Vec<SourceFile>,
                     names: &mut Vec<String>,
                     service: bool|
         -> Result<Vec<Source>, MappingError> {
            let mut out = Vec::new();
            for source in sources {
                let name = if service {
                    source.service
                } else {
                    source.category
                }
                .ok_or_else(|| {
                    error(format!(
                        "an entry under `{}` has no `{}`",
                        if service { "services" } else { "categories" },
                        if service { "service" } else { "category" }
                    ))
                })?;
                let index = match names.iter().position(|n| n == &name) {
                    Some(i) => i,
                    None => {
                        names.push(name);
                        names.len() - 1
                    }
                };
                let mut when: Vec<(String, Vec<Accepted>)> = source
                    .when
                    .into_iter()
                    .map(|(field, values)| {
                        let accepted = values
                            .into_iter()
                            .map(|v| {
                                let text = match v {
                                    yaml_serde::Value::String(s) => s,
                                    yaml_serde::Value::Number(n) => n.to_string(),
                                    yaml_serde::Value::Bool(b) => b.to_string(),
                                    other => format!("{other:?}"),
                                };
                                Accepted {
                                    number: text.parse().ok(),
                                    lower: text.to_lowercase(),
                                }
                            })
                            .collect();
                        (field, accepted)
                    })
                    .collect();
                // Channel first: it rejects most events at once.
                when.sort_by_key(|(f, _)| f != "Channel" && f != "source_type");
                out.push(Source {
                    name: index,
                    when,
                    fields: source.fields,
                    kv_from: source.kv_from,
                });
            }
            Ok(out)
        };
        let services = build(file.services, &mut service_names, true)?;
        let categories = build(file.categories, &mut category_names, false)?;
        let mut logsources = Vec::new();
        for s in std::iter::once(None).chain(service_names.iter().map(Some)) {
            for c in std::iter::once(None).chain(category_names.iter().map(Some)) {
                logsources.push(LogSource {
                    product: Some(file.product.clone()),
                    service: s.cloned(),
                    category: c.cloned(),
                    ..LogSource::default()
                });
            }
        }
        let mut key_fields: Vec<String> = Vec::new();
        let mut by_key: Vec<HashMap<String, Vec<(bool, usize)>>> = Vec::new();
        for (list, is_service) in [(&services, true), (&categories, false)] {
            for (i, source) in list.iter().enumerate() {
                let Some((field, accepted)) = source.when.first() else {
                    return Err(error("an entry has an empty `match`".into()));
                };
                let k = match key_fields.iter().position(|f| f == field) {
                    Some(k) => k,
                    None => {
                        key_fields.push(field.clone());
                        by_key.push(HashMap::new());
                        key_fields.len() - 1
                    }
                };
                for a in accepted {
                    by_key[k]
                        .entry(a.lower.clone())
                        .or_default()
                        .push((is_service, i));
                }
            }
        }
        let mut tested_fields: Vec<String> = Vec::new();
        for source in services.iter().chain(&categories) {
            for (field, _) in &source.when {
                if !tested_fields.contains(field) {
                    tested_fields.push(field.clone());
                }
            }
        }
        Ok(Mapping {
            key_fields,
            by_key,
            tested_fields,
            product: file.product,
            host_field: file.host_field,
            time_field: file.time_field,
            service_names,
            category_names,
            services,
            categories,
            logsources,
        })
    }

    pub fn windows() -> Mapping {
        Mapping::parse("windows.yml", WINDOWS_MAPPING).expect("the embedded windows.yml is valid")
    }

    pub fn linux() -> Mapping {
        Mapping::parse("linux.yml", LINUX_MAPPING).expect("the embedded linux.yml is valid")
    }

    /// Whether any service or category of this mapping applies to `event`.
    pub fn recognises(&self, event: &Fields) -> bool {
        self.services
            .iter()
            .chain(&self.categories)
            .any(|s| s.matches(event))
    }

    /// Apply the field copies of every source that matches, and return the
    /// logsources the event belongs to (indices for [`Mapping::logsource`]).
    pub fn classify(&self, event: &mut Fields, out: &mut Vec<usize>) {
        self.classify_with(event, out, &mut ClassifyMemo::new());
    }

    /// [`Mapping::classify`], remembering in `memo` which sources the values
    /// of the tested fields meet.
    pub fn classify_with(&self, event: &mut Fields, out: &mut Vec<usize>, memo: &mut ClassifyMemo) {
        memo.key.clear();
        for field in &self.tested_fields {
            push_key(event.get(field), &mut memo.key);
        }
        if !memo.matched.contains_key(&memo.key) {
            if memo.matched.len() >= MEMO_LIMIT {
                memo.matched.clear();
            }
            let matched = self.matching_sources(event);
            memo.matched.insert(memo.key.clone(), matched);
        }
        self.apply(&memo.matched[&memo.key], event, out);
    }

    /// The services and categories `event` meets: services first, then
    /// categories, each in file order.
    fn matching_sources(&self, event: &Fields) -> Vec<(bool, usize)> {
        let mut candidates: Vec<(bool, usize)> = Vec::new();
        // One buffer for the lowercased probe values of this event.
        let mut lower = String::new();
        for (k, field) in self.key_fields.iter().enumerate() {
            let mut probe = |value: &Value| {
                use std::fmt::Write as _;
                lower.clear();
                match value {
                    Value::String(s) => {
                        lower.push_str(s);
                        lower.make_ascii_lowercase();
                    }
                    Value::Number(n) => {
                        let _ = write!(lower, "{n}");
                    }
                    _ => return,
                }
                if let Some(found) = self.by_key[k].get(lower.as_str()) {
                    candidates.extend_from_slice(found);
                }
            };
            match event.get(field) {
                Some(Value::Array(items)) => items.iter().for_each(&mut probe),
                Some(value) => probe(value),
                None => {}
            }
        }
        candidates.sort_unstable_by_key(|&(is_service, i)| (!is_service, i));
        candidates.dedup();
        candidates.retain(|&(is_service, i)| self.source(is_service, i).matches(event));
        candidates
    }

    fn source(&self, is_service: bool, i: usize) -> &Source {
        if is_service {
            &self.services[i]
        } else {
            &self.categories[i]
        }
    }

    /// Apply the field copies of the `matched` sources and return their
    /// logsources.
    fn apply(&self, matched: &[(bool, usize)], event: &mut Fields, out: &mut Vec<usize>) {
        out.clear();
        let mut service_list: [usize; 8] = [usize::MAX; 8];
        let mut nservices = 0;
        let mut categories: [usize; 8] = [usize::MAX; 8];
        let mut ncategories = 0;
        let mut copies: Vec<(String, Value)> = Vec::new();
        for &(is_service, i) in matched {
            let source = self.source(is_service, i);
            for (target, from) in &source.fields {
                if let Some(v) = event.get(from) {
                    copies.push((target.clone(), v.clone()));
                }
            }
            if let Some(field) = &source.kv_from {
                kv_lines(event.get(field), &mut copies);
            }
            if is_service {
                if nservices < 8 && !service_list[..nservices].contains(&source.name) {
                    service_list[nservices] = source.name;
                    nservices += 1;
                }
            } else if ncategories < 8 && !categories[..ncategories].contains(&source.name) {
                categories[ncategories] = source.name;
                ncategories += 1;
            }
        }
        for (k, v) in copies {
            event.insert(k, v);
        }
        let width = self.category_names.len() + 1;
        let svc: &[usize] = &service_list[..nservices];
        let cat: &[usize] = &categories[..ncategories];
        let none = [usize::MAX];
        for &s in if svc.is_empty() { &none[..] } else { svc } {
            for &c in if cat.is_empty() { &none[..] } else { cat } {
                let si = s.wrapping_add(1);
                let ci = c.wrapping_add(1);
                out.push(si * width + ci);
            }
        }
    }

    pub fn logsource(&self, index: usize) -> &LogSource {
        &self.logsources[index]
    }

    /// Every logsource [`Mapping::classify`] can give, by index.
    pub fn logsources(&self) -> &[LogSource] {
        &self.logsources
    }

    /// The Sigma service names this mapping knows.
    pub fn service_names(&self) -> &[String] {
        &self.service_names
    }

    /// The Sigma category names this mapping knows.
    pub fn category_names(&self) -> &[String] {
        &self.category_names
    }
}

impl Source {
    fn matches(&self, event: &Fields) -> bool {
        self.when
            .iter()
            .all(|(field, accepted)| match event.get(field) {
                Some(value) => value_accepted(value, accepted),
                None => false,
            })
    }
}

fn value_accepted(value: &Value, accepted: &[Accepted]) -> bool {
    match value {
        Value::String(s) => accepted.iter().any(|a| a.lower.eq_ignore_ascii_case(s)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => accepted.iter().any(|a| a.number == Some(i)),
            None => {
                let s = n.to_string();
                accepted.iter().any(|a| a.lower == s)
            }
        },
        Value::Bool(b) => accepted.iter().any(|a| a.lower == b.to_string()),
        Value::Array(items) => items.iter().any(|v| value_accepted(v, accepted)),
        _ => false,
    }
}

/// `Key=Value` lines (PowerShell classic event data) as fields.
fn kv_lines(value: Option<&Value>, out: &mut Vec<(String, Value)>) {
    let mut visit = |text: &str| {
        for line in text.lines() {
            let line = line.trim();
            if let Some((k, v)) = line.split_once('=') {
                let k = k.trim();
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    out.push((k.to_string(), Value::String(v.trim().to_string())));
                }
            }
        }
    };
    match value {
        Some(Value::String(s)) => visit(s),
        Some(Value::Array(items)) => {
            for item in items {
                if let Value::String(s) = item {
                    visit(s);
                }
            }
        }
        _ => {}
    }
}

/// Turn every `fields:` mapping into a list of `[target, source]` pairs, so
/// its order is kept and serde reads it as `Vec<(String, String)>`.
fn fields_as_pairs(value: yaml_serde::Value) -> yaml_serde::Value {
    use yaml_serde::Value as Y;
    match value {
        Y::Mapping(map) => {
            let mut out = yaml_serde::Mapping::new();
            for (k, v) in map {
                let v = if k.as_str() == Some("fields") {
                    match v {
                        Y::Mapping(fields) => Y::Sequence(
                            fields
                                .into_iter()
                                .map(|(a, b)| Y::Sequence(vec![a, b]))
                                .collect(),
                        ),
                        other => other,
                    }
                } else {
                    fields_as_pairs(v)
                };
                out.insert(k, v);
            }
            Y::Mapping(out)
        }
        Y::Sequence(items) => Y::Sequence(items.into_iter().map(fields_as_pairs).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Fields {
        v.as_object().unwrap().clone().into()
    }

    #[test]
    fn embedded_mappings_parse() {
        let w = Mapping::windows();
        assert!(w.service_names().iter().any(|s| s == "sysmon"));
        assert!(w.category_names().iter().any(|s| s == "process_creation"));
        let l = Mapping::linux();
        assert!(l.service_names().iter().any(|s| s == "auditd"));
    }

    #[test]
    fn security_4688_is_process_creation_with_sysmon_names() {
        let w = Mapping::windows();
        let mut e = obj(json!({"Channel": "Security", "EventID": 4688,
            "NewProcessName": "C:\\x.exe", "ProcessId": "0x10", "NewProcessId": "0x20"}));
        let mut out = Vec::new();
        w.classify(&mut e, &mut out);
        assert_eq!(out.len(), 1);
        let ls = w.logsource(out[0]);
        assert_eq!(ls.service.as_deref(), Some("security"));
        assert_eq!(ls.category.as_deref(), Some("process_creation"));
        assert_eq!(e["Image"], "C:\\x.exe");
        assert_eq!(e["ParentProcessId"], "0x10");
        assert_eq!(e["ProcessId"], "0x20");
    }

    #[test]
    fn sysmon_12_has_two_categories() {
        let w = Mapping::windows();
        let mut e = obj(json!({"Channel": "Microsoft-Windows-Sysmon/Operational",
            "EventID": 12, "EventType": "CreateKey"}));
        let mut out = Vec::new();
        w.classify(&mut e, &mut out);
        let cats: Vec<_> = out
            .iter()
            .map(|&i| w.logsource(i).category.clone().unwrap())
            .collect();
        assert_eq!(cats, ["registry_event", "registry_add"]);
    }

    /// One memo across many events answers as a fresh classification does:
    /// the same tested values meet the same sources, different ones (a
    /// string that reads like a number, another event id, a missing field)
    /// are never confused, and the copies are made for every event.
    #[test]
    fn memo_gives_the_answers_of_a_fresh_classification() {
        let w = Mapping::windows();
        let events = [
            json!({"Channel": "Security", "EventID": 4688, "NewProcessName": "a.exe"}),
            json!({"Channel": "Security", "EventID": 4688, "NewProcessName": "b.exe"}),
            json!({"Channel": "Security", "EventID": "4688", "NewProcessName": "c.exe"}),
            json!({"Channel": "Security", "EventID": 4624}),
            json!({"Channel": "security", "EventID": 4688}),
            json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 12, "EventType": "CreateKey"}),
            json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 12, "EventType": "DeleteKey"}),
            json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 12}),
            json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": [12, 1]}),
            json!({"EventID": 4688}),
            json!({"Channel": null, "EventID": 4688}),
        ];
        let mut memo = ClassifyMemo::new();
        for round in 0..2 {
            for event in &events {
                let (mut fresh, mut memoised) = (obj(event.clone()), obj(event.clone()));
                let (mut a, mut b) = (Vec::new(), Vec::new());
                w.classify(&mut fresh, &mut a);
                w.classify_with(&mut memoised, &mut b, &mut memo);
                assert_eq!(a, b, "round {round}: {event}");
                assert_eq!(fresh, memoised, "round {round}: {event}");
            }
        }
        // The first two differ only in a field no source tests: one entry.
        assert_eq!(memo.matched.len(), events.len() - 1);
    }

    #[test]
    fn memo_keys_tell_values_apart() {
        let key = |v: Option<Value>| {
            let mut k = Vec::new();
            push_key(v.as_ref(), &mut k);
            k
        };
        let values = [
            None,
            Some(json!(null)),
            Some(json!(true)),
            Some(json!("4688")),
            Some(json!(4688)),
            Some(json!(-4688)),
            Some(json!(4688.0)),
            Some(json!([4688])),
            Some(json!("")),
        ];
        for (i, a) in values.iter().enumerate() {
            for (j, b) in values.iter().enumerate() {
                assert_eq!(key(a.clone()) == key(b.clone()), i == j, "{a:?} {b:?}");
            }
        }
        // Two fields: where one value ends and the next begins is unambiguous.
        let mut ab = Vec::new();
        push_key(Some(&json!("ab")), &mut ab);
        push_key(Some(&json!("c")), &mut ab);
        let mut a_bc = Vec::new();
        push_key(Some(&json!("a")), &mut a_bc);
        push_key(Some(&json!("bc")), &mut a_bc);
        assert_ne!(ab, a_bc);
    }

    #[test]
    fn unknown_channel_has_product_only() {
        let w = Mapping::windows();
        let mut e = obj(json!({"Channel": "Nope", "EventID": 1}));
        let mut out = Vec::new();
        w.classify(&mut e, &mut out);
        assert_eq!(out, [0]);
        assert_eq!(w.logsource(0).product.as_deref(), Some("windows"));
        assert!(w.logsource(0).service.is_none());
    }
}
