//! One event's fields as a flat list, and its view for the rule engine.
//!
//! A Windows event has a few dozen fields. Keeping them in a `Vec` in read
//! order, found by a linear scan, costs less than building a
//! `serde_json::Map` (an `IndexMap` with SipHash, rebuilt for every event)
//! and is what the hunt does a hundred thousand times a second.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};

use rsigma_eval::{Event, EventValue, JsonEvent};
use serde_json::{Map, Value};

/// Name equality for the linear scans below. Most names a lookup passes
/// differ from the one it wants in length or in the last byte; checking those
/// first spares a call to `memcmp` for each (−1.6% instructions per hunted
/// event, callgrind).
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().last() == b.as_bytes().last() && a == b
}

/// Fields by name, in the order they were first set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    entries: Vec<(String, Value)>,
    /// A bit for the length and last byte of each name present: most
    /// inserts find their bit clear and skip the scan for a name already
    /// there (−1.3% instructions per hunted EVTX event). Lookups do not use
    /// it: most of theirs find the name.
    seen: u64,
}

/// The bit of [`Fields::seen`] that `key` sets.
#[inline]
fn name_bit(key: &str) -> u64 {
    let last = key.as_bytes().last().copied().unwrap_or(0);
    1 << (((key.len() * 7) ^ usize::from(last)) % 64)
}

impl Fields {
    pub fn new() -> Fields {
        Fields::default()
    }

    pub fn with_capacity(n: usize) -> Fields {
        Fields {
            entries: Vec::with_capacity(n),
            seen: 0,
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| same_name(k, key))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| same_name(k, key))
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Set `key`; a field already there keeps its place and takes the new value.
    pub fn insert(&mut self, key: String, value: Value) {
        let bit = name_bit(&key);
        if self.seen & bit != 0
            && let Some(i) = self.position(&key)
        {
            self.entries[i].1 = value;
            return;
        }
        self.seen |= bit;
        self.entries.push((key, value));
    }

    /// Set `key` only when it is not there yet.
    pub fn insert_absent(&mut self, key: String, value: Value) {
        let bit = name_bit(&key);
        if self.seen & bit == 0 || self.position(&key).is_none() {
            self.seen |= bit;
            self.entries.push((key, value));
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.entries.into_iter().collect()
    }

    pub fn to_value(&self) -> Value {
        Value::Object(
            self.entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }
}

impl From<Map<String, Value>> for Fields {
    fn from(map: Map<String, Value>) -> Fields {
        let entries: Vec<(String, Value)> = map.into_iter().collect();
        let seen = entries.iter().fold(0, |seen, (k, _)| seen | name_bit(k));
        Fields { entries, seen }
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = Value;
    /// The field's value, or `null` when it is absent (as `serde_json::Map` does).
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

/// [`Fields`] as a Sigma event. A flat name is looked up directly; a dotted or
/// indexed path (`actor.id`, `args[0]`) over nested JSON goes through
/// rsigma's own JSON walker on an object built once, on first need, so both
/// give the same answers.
pub struct FieldsEvent<'a> {
    fields: &'a Fields,
    nested: OnceCell<JsonEvent<'static>>,
    /// The entry [`Event::visit_top_level_keys`] handed out last: rsigma's
    /// candidate index looks each visited name up at once, and this answers
    /// without scanning the fields again.
    visiting: Cell<usize>,
}

impl<'a> FieldsEvent<'a> {
    pub fn new(fields: &'a Fields) -> FieldsEvent<'a> {
        FieldsEvent {
            fields,
            nested: OnceCell::new(),
            visiting: Cell::new(usize::MAX),
        }
    }

    fn nested(&self) -> &JsonEvent<'static> {
        self.nested
            .get_or_init(|| JsonEvent::owned(self.fields.to_value()))
    }
}

impl Event for FieldsEvent<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        // Names are distinct, so the visited entry is the one `get` finds.
        if let Some((k, v)) = self.fields.entries.get(self.visiting.get())
            && same_name(k, path)
        {
            return Some(EventValue::from(v));
        }
        if let Some(v) = self.fields.get(path) {
            return Some(EventValue::from(v));
        }
        let is_path = path.contains(['.', '[', '\\']);
        // Only a nested value can answer a path.
        if is_path
            && self
                .fields
                .entries
                .iter()
                .any(|(_, v)| matches!(v, Value::Object(_) | Value::Array(_)))
        {
            return self.nested().get_field(path);
        }
        None
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        let mut found = false;
        self.visit_string_values(&mut |s| found = found || pred(s));
        found
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        for (_, v) in &self.fields.entries {
            strings_of(v, &mut |s| out.push(Cow::Borrowed(s)), MAX_DEPTH);
        }
        out
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        for (_, v) in &self.fields.entries {
            strings_of(v, visit, MAX_DEPTH);
        }
    }

    fn to_json(&self) -> Value {
        self.fields.to_value()
    }

    fn field_keys(&self) -> Vec<Cow<'_, str>> {
        self.nested().field_keys()
    }

    fn top_level_keys(&self) -> Option<Vec<Cow<'_, str>>> {
        Some(
            self.fields
                .entries
                .iter()
                .map(|(k, _)| Cow::Borrowed(k.as_str()))
                .collect(),
        )
    }

    fn visit_top_level_keys(&self, visit: &mut dyn FnMut(&str)) -> bool {
        for (i, (k, _)) in self.fields.entries.iter().enumerate() {
            self.visiting.set(i);
            visit(k);
        }
        self.visiting.set(usize::MAX);
        true
    }
}

/// rsigma's JSON walk stops this deep; so does this one.
const MAX_DEPTH: usize = 63;

/// Every string inside `v` (object values and array members, recursively).
fn strings_of<'v>(v: &'v Value, visit: &mut dyn FnMut(&'v str), depth: usize) {
    if depth == 0 {
        return;
    }
    match v {
        Value::String(s) => visit(s),
        Value::Array(items) => items.iter().for_each(|i| strings_of(i, visit, depth - 1)),
        Value::Object(map) => map.values().for_each(|i| strings_of(i, visit, depth - 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Fields {
        Fields::from(v.as_object().unwrap().clone())
    }

    #[test]
    fn same_name_is_string_equality() {
        let names = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "Image",
            "image",
            "ParentImage",
            "Imagé",
            "Imag",
        ];
        for a in names {
            for b in names {
                assert_eq!(same_name(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn insert_keeps_first_place_and_last_value() {
        let mut f = Fields::new();
        f.insert("a".into(), json!(1));
        f.insert("b".into(), json!(2));
        f.insert("a".into(), json!(3));
        f.insert_absent("b".into(), json!(4));
        let keys: Vec<_> = f.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(f["a"], 3);
        assert_eq!(f["b"], 2);
        assert_eq!(f["missing"], Value::Null);
        // Names that share a bit of `seen` are still told apart.
        let mut f = Fields::new();
        for k in ["ab", "cb", "xb", "ab", "Image", "Imagf"] {
            f.insert(k.into(), json!(k));
        }
        f.insert_absent("cb".into(), json!(0));
        f.insert_absent("zb".into(), json!(1));
        let keys: Vec<_> = f.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["ab", "cb", "xb", "Image", "Imagf", "zb"]);
        assert_eq!(f["cb"], "cb");
    }

    /// Whatever rsigma's JSON event answers, the flat one answers too.
    #[test]
    fn same_answers_as_json_event() {
        let value = json!({
            "CommandLine": "cmd /c whoami",
            "EventID": 4688,
            "Data": ["a", "b"],
            "actor": {"id": "x", "tags": [{"k": "v"}, {"k": "w"}]},
            "process.name": "flat dotted key",
            "args": ["one", "two"],
            "nothing": null
        });
        let f = fields(value.clone());
        let flat = FieldsEvent::new(&f);
        let json = JsonEvent::borrow(&value);
        for path in [
            "CommandLine",
            "EventID",
            "Data",
            "actor.id",
            "actor.tags.k",
            "process.name",
            "args[0]",
            "args[-1]",
            "nothing",
            "missing",
            "missing.deep",
            "actor.missing",
        ] {
            assert_eq!(flat.get_field(path), json.get_field(path), "{path}");
        }
        let mut a = flat.all_string_values();
        let mut b = json.all_string_values();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert!(flat.any_string_value(&|s| s == "w"));
        // Looked up while its name is being visited (as rsigma's candidate
        // index does), and any other name meanwhile: the right values.
        let mut seen = Vec::new();
        flat.visit_top_level_keys(&mut |k| {
            seen.push((
                k.to_string(),
                flat.get_field(k).map(|v| format!("{v:?}")),
                flat.get_field("CommandLine").map(|v| format!("{v:?}")),
                flat.get_field("missing").is_none(),
            ));
        });
        for (k, v, cmd, missing) in seen {
            assert_eq!(v, json.get_field(&k).map(|v| format!("{v:?}")), "{k}");
            assert_eq!(cmd, json.get_field("CommandLine").map(|v| format!("{v:?}")));
            assert!(missing);
        }
        assert_eq!(flat.get_field("EventID"), json.get_field("EventID"));
        assert!(!flat.any_string_value(&|s| s == "zzz"));
        assert_eq!(flat.to_json(), value);
    }
}
