//! Reading events: Windows EVTX (chunks found by the `evtx` crate, records
//! read from their binary XML by `events/binxml.rs`, or through evtx's JSON for the
//! chunks that reader leaves alone), evtx_dump style JSON, JSON/JSONL, raw
//! auditd logs and syslog/auth.log lines. The format is detected from the
//! content, not the file name.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::{Map, Value};

pub use crate::fields::Fields;

mod binxml;

/// One event: its fields flattened to one level, and the product it comes from.
pub struct RawEvent {
    pub fields: Fields,
    pub kind: EventKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A Windows event log record (EVTX, or evtx_dump JSON, or JSON with a `Channel`).
    Windows,
    /// A Linux log line or audit event produced by the readers here.
    Linux,
    /// Any other JSON object.
    Other,
}

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Evtx,
    Json,
    Auditd,
    Syslog,
    /// None of the above: the file is skipped with a note.
    Unknown,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Evtx => "evtx",
            Format::Json => "json",
            Format::Auditd => "auditd",
            Format::Syslog => "syslog",
            Format::Unknown => "unknown",
        }
    }
}

/// Events longer than this (bytes of one JSON value or one line) are skipped
/// with a note instead of being held in memory.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Look at the start of a file and tell its format.
pub fn detect(path: &Path) -> std::io::Result<Format> {
    let mut head = [0u8; 512];
    let mut file = File::open(path)?;
    let n = read_full(&mut file, &mut head)?;
    Ok(detect_bytes(&head[..n]))
}

fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

pub fn detect_bytes(head: &[u8]) -> Format {
    if head.starts_with(b"ElfFile\0") {
        return Format::Evtx;
    }
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        Format::Json
    } else if trimmed.starts_with("type=") || trimmed.starts_with("node=") {
        Format::Auditd
    } else if looks_like_syslog(trimmed) {
        Format::Syslog
    } else {
        Format::Unknown
    }
}

/// A syslog line starts with a `<PRI>`, an RFC 3164 time (`Nov 21 11:13:11`)
/// or an RFC 3339 date.
fn looks_like_syslog(line: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "Jan ", "Feb ", "Mar ", "Apr ", "May ", "Jun ", "Jul ", "Aug ", "Sep ", "Oct ", "Nov ",
        "Dec ",
    ];
    let b = line.as_bytes();
    let pri = b.first() == Some(&b'<')
        && b[1..].iter().take_while(|c| c.is_ascii_digit()).count() > 0
        && b.iter().position(|&c| c == b'>').is_some_and(|i| i <= 4);
    let bsd = MONTHS.iter().any(|m| line.starts_with(m))
        && b.len() >= 15
        && b[9] == b':'
        && b[12] == b':';
    let iso = b.len() >= 11
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ');
    pri || bsd || iso
}

/// A problem with part of a file: the rest is still read.
pub type Note = String;

/// Read every event of `path`, calling `sink` for each. Problems with single
/// records go to `notes`; an error is returned only when the file cannot be
/// read at all.
pub fn read_file(
    path: &Path,
    notes: &mut Vec<Note>,
    sink: &mut dyn FnMut(RawEvent),
) -> std::io::Result<Format> {
    // One open for the format's sniff and the read.
    let mut file = File::open(path)?;
    let mut head = [0u8; 512];
    let n = read_full(&mut file, &mut head)?;
    let format = detect_bytes(&head[..n]);
    if format != Format::Unknown {
        file.seek(SeekFrom::Start(0))?;
    }
    match format {
        Format::Evtx => read_evtx(file, notes, sink)?,
        Format::Json => read_json(file, notes, sink),
        Format::Auditd => read_auditd(BufReader::new(file), notes, sink),
        Format::Syslog => read_syslog(BufReader::new(file), notes, sink),
        Format::Unknown => notes.push(
            "not a log format bulwark reads (EVTX, JSON/JSONL, auditd, syslog); skipped".into(),
        ),
    }
    Ok(format)
}

fn read_evtx(
    mut file: File,
    notes: &mut Vec<Note>,
    sink: &mut dyn FnMut(RawEvent),
) -> std::io::Result<()> {
    let len = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::with_capacity(len as usize);
    file.read_to_end(&mut buf)?;
    drop_trailing_empty_chunks(&mut buf);
    let settings = evtx::ParserSettings::default()
        .separate_json_attributes(false)
        .num_threads(1);
    let mut parser = match evtx::EvtxParser::from_buffer(buf) {
        Ok(p) => p.with_configuration(settings.clone()),
        Err(e) => {
            notes.push(format!("not a readable EVTX file: {e}"));
            return Ok(());
        }
    };
    let settings = std::sync::Arc::new(settings);
    let header = parser.header();
    let expected =
        u64::from(header.header_block_size.max(4096)) + u64::from(header.chunk_count) * 65_536;
    if len < expected {
        notes.push(format!(
            "EVTX file is truncated: {len} bytes of the {expected} its header announces ({} chunks); the chunks present are read",
            header.chunk_count
        ));
    }
    let mut bad = 0usize;
    let mut first_error = None;
    let mut fail = |e: String| {
        bad += 1;
        if first_error.is_none() {
            first_error = Some(e);
        }
    };
    for chunk in parser.chunks() {
        let mut chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                fail(e.to_string());
                continue;
            }
        };
        if let Some(events) = binxml::read_chunk(&chunk.data, &chunk.header) {
            for fields in events {
                sink(RawEvent {
                    fields,
                    kind: EventKind::Windows,
                });
            }
            continue;
        }
        // A chunk the BinXML reader leaves alone: the evtx crate's JSON.
        let number = chunk.number.unwrap_or_default();
        let mut parsed = match chunk.parse(settings.clone()) {
            Ok(parsed) => parsed,
            Err(e) => {
                fail(
                    evtx::err::EvtxError::FailedToParseChunk {
                        chunk_id: number,
                        source: Box::new(e),
                    }
                    .to_string(),
                );
                continue;
            }
        };
        for record in parsed.iter() {
            match record.and_then(|r| r.into_json()) {
                Ok(r) => match flatten_windows_str(&r.data) {
                    Ok(fields) => sink(RawEvent {
                        fields,
                        kind: EventKind::Windows,
                    }),
                    Err(e) => fail(format!("record JSON: {e}")),
                },
                Err(e) => fail(e.to_string()),
            }
        }
    }
    if bad > 0 {
        notes.push(format!(
            "{bad} EVTX record(s) could not be read (first: {})",
            first_error.unwrap_or_default()
        ));
    }
    Ok(())
}

/// The size of an EVTX file header and of each chunk after it.
const EVTX_HEADER_BYTES: usize = 4096;
const EVTX_CHUNK_BYTES: usize = 65_536;

/// Cut the all-zero chunks off the end of an EVTX file's bytes. Windows
/// preallocates a log, so many files end in empty chunks (a third of the
/// chunks of the test corpus). The evtx crate copies each chunk and checks
/// it byte by byte before skipping an empty one; it would skip these too,
/// so the events read are the same, for less work.
fn drop_trailing_empty_chunks(buf: &mut Vec<u8>) {
    if buf.len() <= EVTX_HEADER_BYTES {
        return;
    }
    let chunks = (buf.len() - EVTX_HEADER_BYTES) / EVTX_CHUNK_BYTES;
    let mut keep = chunks;
    while keep > 0 {
        let start = EVTX_HEADER_BYTES + (keep - 1) * EVTX_CHUNK_BYTES;
        // An OR over the whole chunk, which the compiler vectorises (an
        // early-exit scan does not); a used chunk fails on its signature.
        let chunk = &buf[start..start + EVTX_CHUNK_BYTES];
        if chunk[..8].iter().any(|&b| b != 0) || chunk.iter().fold(0u8, |acc, &b| acc | b) != 0 {
            break;
        }
        keep -= 1;
    }
    if keep < chunks {
        buf.truncate(EVTX_HEADER_BYTES + keep * EVTX_CHUNK_BYTES);
    }
}

/// Flatten an evtx_dump style `{"Event": {"System": ..., "EventData": ...}}`
/// into one level of fields. Returns `None` when the value is not one.
pub fn flatten_windows(value: Value) -> Option<Fields> {
    let Value::Object(mut root) = value else {
        return None;
    };
    let Some(Value::Object(mut event)) = root.remove("Event") else {
        return None;
    };
    let mut out = Fields::with_capacity(32);
    if let Some(Value::Object(system)) = event.remove("System") {
        for (key, value) in system {
            system_field(Cow::Owned(key), Element::from(value), &mut out);
        }
    }
    if let Some(data) = event.remove("EventData") {
        flatten_data(data, &mut out);
    }
    if let Some(Value::Object(user)) = event.remove("UserData") {
        for (_, inner) in user {
            flatten_data(inner, &mut out);
        }
    }
    Some(out)
}

/// One child of `System` as the evtx crate writes it: an element with
/// attributes and/or text is an object (`{"#attributes": {..}, "#text": ..}`),
/// a plain element its value.
enum Element<'a> {
    Object {
        /// Entries other than `#attributes`.
        own: Vec<(Cow<'a, str>, Value)>,
        /// The `#attributes` object, when there is one.
        attributes: Option<Vec<(Cow<'a, str>, Value)>>,
    },
    Plain(Value),
}

impl From<Value> for Element<'static> {
    fn from(value: Value) -> Element<'static> {
        match value {
            Value::Object(mut o) => {
                let attributes = match o.remove("#attributes") {
                    Some(Value::Object(a)) => {
                        Some(a.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect())
                    }
                    _ => None,
                };
                Element::Object {
                    own: o.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect(),
                    attributes,
                }
            }
            other => Element::Plain(other),
        }
    }
}

impl<'a> Element<'a> {
    /// The attributes, or the entries themselves when there are none.
    fn into_attributes(self) -> Vec<(Cow<'a, str>, Value)> {
        match self {
            Element::Object {
                attributes: Some(a),
                ..
            } => a,
            Element::Object { own, .. } => own,
            Element::Plain(_) => Vec::new(),
        }
    }
}

/// One `System` child as flat fields: `Provider_Name`, `TimeCreated` (its
/// `SystemTime`), the attributes of `Execution`/`Security`/`Correlation`,
/// the text of `EventID` with qualifiers, and plain values as they are.
fn system_field(key: Cow<'_, str>, element: Element<'_>, out: &mut Fields) {
    match (key.as_ref(), element) {
        ("Provider", e @ Element::Object { .. }) => {
            for (k, v) in e.into_attributes() {
                let mut name = String::with_capacity("Provider_".len() + k.len());
                name.push_str("Provider_");
                name.push_str(&k);
                out.insert(name, v);
            }
        }
        ("TimeCreated", e @ Element::Object { .. }) => {
            if let Some((_, v)) = e
                .into_attributes()
                .into_iter()
                .rfind(|(k, _)| k == "SystemTime")
            {
                out.insert("TimeCreated".into(), v);
            }
        }
        ("Execution", e @ Element::Object { .. })
        | ("Security", e @ Element::Object { .. })
        | ("Correlation", e @ Element::Object { .. }) => {
            for (k, v) in e.into_attributes() {
                out.insert(k.into_owned(), v);
            }
        }
        // `EventID` with Qualifiers: {"#attributes": .., "#text": 7045}.
        (_, Element::Object { own, .. }) => {
            if let Some((_, text)) = own.into_iter().rfind(|(k, _)| k == "#text") {
                out.insert(key.into_owned(), text);
            }
        }
        (_, Element::Plain(Value::Null)) => {}
        (_, Element::Plain(v)) => out.insert(key.into_owned(), v),
    }
}

/// Parse the evtx crate's JSON text of one record straight into flat fields
/// (as [`flatten_windows`] gives), without building the nested objects.
pub fn flatten_windows_str(text: &str) -> Result<Fields, serde_json::Error> {
    use serde::Deserializer as _;
    let mut out = Fields::with_capacity(32);
    let mut de = serde_json::Deserializer::from_str(text);
    (&mut de).deserialize_map(flat::Root(&mut out))?;
    de.end()?;
    Ok(out)
}

mod flat {
    use std::borrow::Cow;
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
    use serde_json::Value;

    use super::{Element, Fields};

    pub struct Root<'a>(pub &'a mut Fields);
    struct Event<'a>(&'a mut Fields);
    struct System<'a>(&'a mut Fields);
    struct Data<'a>(&'a mut Fields);
    /// A `System` child, read without building a JSON object.
    struct ElementSeed;
    /// An object key, borrowed from the record's text unless it has escapes:
    /// most keys only steer the walk and are never stored.
    struct Key;
    /// An object's entries in order, or `None` for any other value.
    struct Pairs;

    impl<'de> DeserializeSeed<'de> for Key {
        type Value = Cow<'de, str>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for Key {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object key")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }
    }

    impl<'de> Visitor<'de> for Root<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an EVTX record as JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key_seed(Key)? {
                if key == "Event" {
                    map.next_value_seed(Event(&mut *self.0))?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }

    impl<'de> DeserializeSeed<'de> for Event<'_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Event<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an Event object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key_seed(Key)? {
                match key.as_ref() {
                    "System" => map.next_value_seed(System(&mut *self.0))?,
                    "EventData" => map.next_value_seed(Data(&mut *self.0))?,
                    "UserData" => {
                        if let Value::Object(user) = map.next_value::<Value>()? {
                            for (_, inner) in user {
                                super::flatten_data(inner, self.0);
                            }
                        }
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(())
        }
    }

    impl<'de> DeserializeSeed<'de> for System<'_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for System<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a System object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            // Later duplicates replace earlier ones, as in a JSON object.
            while let Some(key) = map.next_key_seed(Key)? {
                let element = map.next_value_seed(ElementSeed)?;
                super::system_field(key, element, self.0);
            }
            Ok(())
        }
        // Anything but an object carries no fields.
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_none<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(())
        }
    }

    impl<'de> DeserializeSeed<'de> for ElementSeed {
        type Value = Element<'de>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Element<'de>, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for ElementSeed {
        type Value = Element<'de>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a System element")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Element<'de>, A::Error> {
            let mut own: Vec<(Cow<'de, str>, Value)> = Vec::new();
            let mut attributes = None;
            while let Some(key) = map.next_key_seed(Key)? {
                if key == "#attributes" {
                    attributes = map.next_value_seed(Pairs)?;
                } else {
                    let value = map.next_value::<Value>()?;
                    match own.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = value,
                        None => own.push((key, value)),
                    }
                }
            }
            Ok(Element::Object { own, attributes })
        }
        fn visit_unit<E>(self) -> Result<Element<'de>, E> {
            Ok(Element::Plain(Value::Null))
        }
        fn visit_none<E>(self) -> Result<Element<'de>, E> {
            Ok(Element::Plain(Value::Null))
        }
        fn visit_bool<E>(self, v: bool) -> Result<Element<'de>, E> {
            Ok(Element::Plain(Value::Bool(v)))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Element<'de>, E> {
            Ok(Element::Plain(Value::from(v)))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Element<'de>, E> {
            Ok(Element::Plain(Value::from(v)))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Element<'de>, E> {
            Ok(Element::Plain(Value::from(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Element<'de>, E> {
            Ok(Element::Plain(Value::String(v.to_string())))
        }
        fn visit_string<E>(self, v: String) -> Result<Element<'de>, E> {
            Ok(Element::Plain(Value::String(v)))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Element<'de>, A::Error> {
            let value = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
            Ok(Element::Plain(value))
        }
    }

    impl<'de> DeserializeSeed<'de> for Pairs {
        type Value = Option<Vec<(Cow<'de, str>, Value)>>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Pairs {
        type Value = Option<Vec<(Cow<'de, str>, Value)>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("attributes")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pairs: Vec<(Cow<'de, str>, Value)> = Vec::new();
            while let Some(key) = map.next_key_seed(Key)? {
                let value = map.next_value::<Value>()?;
                // Later duplicates replace earlier ones, as in a JSON object.
                match pairs.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => pairs.push((key, value)),
                }
            }
            Ok(Some(pairs))
        }
        // Anything but an object is not kept.
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }

    impl<'de> DeserializeSeed<'de> for Data<'_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Data<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("EventData")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key_seed(Key)? {
                if key == "#attributes" {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                let value = map.next_value::<Value>()?;
                super::data_field(key.into_owned(), value, self.0);
            }
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_none<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, v: &str) -> Result<(), E> {
            self.0.insert("Data".into(), Value::String(v.to_string()));
            Ok(())
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
            let value = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
            self.0.insert("Data".into(), value);
            Ok(())
        }
        fn visit_i64<E>(self, v: i64) -> Result<(), E> {
            self.0.insert("Data".into(), Value::from(v));
            Ok(())
        }
        fn visit_u64<E>(self, v: u64) -> Result<(), E> {
            self.0.insert("Data".into(), Value::from(v));
            Ok(())
        }
    }
}

fn flatten_data(data: Value, out: &mut Fields) {
    match data {
        Value::Object(fields) => {
            for (key, value) in fields {
                if key != "#attributes" {
                    data_field(key, value, out);
                }
            }
        }
        Value::Null => {}
        other => {
            out.insert("Data".into(), other);
        }
    }
}

/// One EventData field: `#text` is the unnamed `Data`, `{"#text": v}` is v,
/// a name with spaces is also given without them.
fn data_field(key: String, value: Value, out: &mut Fields) {
    let key = if key == "#text" {
        "Data".to_string()
    } else {
        key
    };
    let value = match value {
        Value::Object(mut o) if o.contains_key("#text") => o.remove("#text").unwrap_or(Value::Null),
        v => v,
    };
    if value.is_null() {
        return;
    }
    // Defender and others name fields with spaces ("Threat Name");
    // Sigma rules write them without ("ThreatName").
    if key.contains(' ') {
        let joined: String = key.chars().filter(|c| *c != ' ').collect();
        out.insert_absent(joined, value.clone());
    }
    out.insert(key, value);
}

/// JSON: one value, a JSON array of events, JSONL, or concatenated pretty
/// objects (evtx_dump's output) — all read as a stream of values.
fn read_json(file: File, notes: &mut Vec<Note>, sink: &mut dyn FnMut(RawEvent)) {
    let reader = BufReader::with_capacity(1 << 16, file);
    let mut stream = serde_json::Deserializer::from_reader(reader).into_iter::<Value>();
    loop {
        match stream.next() {
            None => break,
            Some(Ok(Value::Array(items))) => {
                for item in items {
                    json_event(item, sink);
                }
            }
            Some(Ok(value)) => json_event(value, sink),
            Some(Err(e)) => {
                notes.push(format!(
                    "JSON stops being valid at line {} column {}: {e}; the rest of the file is skipped",
                    e.line(),
                    e.column()
                ));
                break;
            }
        }
    }
}

/// One JSON value as an event.
pub fn json_event(value: Value, sink: &mut dyn FnMut(RawEvent)) {
    let is_evtx = value.get("Event").and_then(|e| e.get("System")).is_some();
    if is_evtx {
        if let Some(fields) = flatten_windows(value) {
            sink(RawEvent {
                fields,
                kind: EventKind::Windows,
            });
        }
        return;
    }
    if let Value::Object(fields) = value {
        let kind = if fields.contains_key("Channel") && fields.contains_key("EventID") {
            EventKind::Windows
        } else {
            EventKind::Other
        };
        sink(RawEvent {
            fields: fields.into(),
            kind,
        });
    }
}

/// Lines of a text file, at most [`MAX_EVENT_BYTES`] each (longer ones are
/// skipped and noted).
fn lines(mut reader: impl BufRead, notes: &mut Vec<Note>, mut each: impl FnMut(&str)) {
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        number += 1;
        let mut too_long = false;
        // Read one line, stopping to hold more than the limit.
        loop {
            let available = match reader.fill_buf() {
                Ok(b) => b,
                Err(e) => {
                    notes.push(format!("read error at line {number}: {e}"));
                    return;
                }
            };
            if available.is_empty() {
                break;
            }
            let (used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            if !too_long {
                if buf.len() + used > MAX_EVENT_BYTES {
                    too_long = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(&available[..used]);
                }
            }
            reader.consume(used);
            if done {
                break;
            }
        }
        if too_long {
            notes.push(format!(
                "line {number} is longer than {MAX_EVENT_BYTES} bytes and was skipped"
            ));
            continue;
        }
        if buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches(['\n', '\r']);
        if !line.trim().is_empty() {
            each(line);
        }
    }
}

// ---------------------------------------------------------------- auditd

fn read_auditd(reader: impl BufRead, notes: &mut Vec<Note>, sink: &mut dyn FnMut(RawEvent)) {
    fn flush(event: Option<(String, Map<String, Value>)>, sink: &mut dyn FnMut(RawEvent)) {
        if let Some((_, mut fields)) = event {
            finish_audit_event(&mut fields);
            sink(RawEvent {
                fields: fields.into(),
                kind: EventKind::Linux,
            });
        }
    }
    let mut current: Option<(String, Map<String, Value>)> = None;
    let mut unparsed = 0usize;
    lines(reader, notes, |line| match parse_audit_record(line) {
        Some((serial, record)) => {
            let same = current.as_ref().is_some_and(|(s, _)| *s == serial);
            if !same {
                flush(current.take(), sink);
                current = Some((serial, Map::new()));
            }
            if let Some((_, fields)) = current.as_mut() {
                merge_audit_record(fields, record);
            }
        }
        None => unparsed += 1,
    });
    flush(current.take(), sink);
    if unparsed > 0 {
        notes.push(format!(
            "{unparsed} line(s) are not auditd records and were skipped"
        ));
    }
}

/// `type=EXECVE msg=audit(1700000000.123:456): argc=2 a0="ls" a1=2D6C61`
/// → (serial, fields).
fn parse_audit_record(line: &str) -> Option<(String, Vec<(String, String)>)> {
    let msg_start = line.find("msg=audit(")?;
    let rest = &line[msg_start + "msg=audit(".len()..];
    let close = rest.find(')')?;
    let stamp = &rest[..close];
    let (time, serial) = stamp.split_once(':')?;
    let mut fields = Vec::new();
    // Fields before msg= (node=, type=).
    for (k, v) in kv_pairs(&line[..msg_start]) {
        fields.push((k, v));
    }
    fields.push(("timestamp".to_string(), epoch_to_rfc3339(time)));
    fields.push(("serial".to_string(), serial.to_string()));
    let after = rest[close + 1..].trim_start_matches(':');
    // Enriched logs put translated fields after a 0x1d separator.
    for part in after.split('\u{1d}') {
        for (k, v) in kv_pairs(part) {
            fields.push((k, v));
        }
    }
    Some((serial.to_string(), fields))
}

/// `key=value key="quoted value" key='msg'` pairs.
fn kv_pairs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key_start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            continue;
        }
        let key = &text[key_start..i];
        i += 1;
        let value = if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
            let quote = bytes[i];
            let start = i + 1;
            let end = text[start..]
                .bytes()
                .position(|b| b == quote)
                .map(|p| start + p)
                .unwrap_or(text.len());
            i = (end + 1).min(text.len());
            text[start..end].to_string()
        } else {
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            text[start..i].to_string()
        };
        if !key.is_empty() {
            out.push((key.to_string(), value));
        }
    }
    out
}

fn merge_audit_record(fields: &mut Map<String, Value>, record: Vec<(String, String)>) {
    let record_type = record
        .iter()
        .find(|(k, _)| k == "type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let is_execve = record_type == "EXECVE";
    for (key, value) in record {
        if key == "type" {
            push_value(fields, "type", Value::String(value));
            continue;
        }
        let value = if (is_execve && is_arg_key(&key))
            || (record_type == "PROCTITLE" && key == "proctitle")
        {
            decode_hex_arg(&value)
        } else {
            value
        };
        if is_arg_key(&key) {
            // EXECVE's arguments win over SYSCALL's raw registers.
            if is_execve || !fields.contains_key(&key) {
                fields.insert(key, Value::String(value));
            }
            continue;
        }
        match fields.get(&key) {
            None => {
                fields.insert(key, Value::String(value));
            }
            Some(Value::String(old)) if *old == value => {}
            Some(_) if key == "timestamp" || key == "serial" || key == "node" || key == "msg" => {}
            Some(_) => push_value(fields, &key, Value::String(value)),
        }
    }
}

fn is_arg_key(key: &str) -> bool {
    key.len() > 1 && key.starts_with('a') && key[1..].bytes().all(|b| b.is_ascii_digit())
}

fn push_value(fields: &mut Map<String, Value>, key: &str, value: Value) {
    match fields.get_mut(key) {
        None => {
            fields.insert(key.to_string(), value);
        }
        Some(Value::Array(items)) => {
            if !items.contains(&value) {
                items.push(value)
            }
        }
        Some(old) => {
            if *old != value {
                let first = old.take();
                *old = Value::Array(vec![first, value]);
            }
        }
    }
}

/// auditd writes an argument in hex when it has spaces or odd bytes.
fn decode_hex_arg(value: &str) -> String {
    if value.len() >= 2
        && value.len().is_multiple_of(2)
        && value
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
    {
        let bytes: Vec<u8> = (0..value.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&value[i..i + 2], 16).ok())
            .map(|b| if b == 0 { b' ' } else { b })
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        value.to_string()
    }
}

fn finish_audit_event(fields: &mut Map<String, Value>) {
    fields.insert("source_type".into(), Value::String("auditd".into()));
    let has_execve = match fields.get("type") {
        Some(Value::String(t)) => t == "EXECVE",
        Some(Value::Array(items)) => items.iter().any(|t| t == "EXECVE"),
        _ => false,
    };
    if has_execve {
        let argc = fields
            .get("argc")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(0);
        let mut args = Vec::new();
        for i in 0..argc.max(1) {
            match fields.get(&format!("a{i}")).and_then(|v| v.as_str()) {
                Some(a) => args.push(a.to_string()),
                None => break,
            }
        }
        fields.insert("cmdline".into(), Value::String(args.join(" ")));
    }
    if !fields.contains_key("host")
        && let Some(node) = fields.get("node").cloned()
    {
        fields.insert("host".into(), node);
    }
}

// ---------------------------------------------------------------- syslog

fn read_syslog(reader: impl BufRead, notes: &mut Vec<Note>, sink: &mut dyn FnMut(RawEvent)) {
    let year = current_year();
    lines(reader, notes, |line| {
        sink(RawEvent {
            fields: parse_syslog_line(line, year).into(),
            kind: EventKind::Linux,
        })
    });
}

/// `Nov 21 11:13:11 host sshd[123]: message` or
/// `2026-11-21T11:13:11.123+00:00 host sshd[123]: message`.
pub fn parse_syslog_line(line: &str, year: i64) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("source_type".into(), Value::String("syslog".into()));
    let (timestamp, rest) = split_syslog_time(line, year);
    if let Some(t) = timestamp {
        fields.insert("timestamp".into(), Value::String(t));
    }
    let mut message = rest;
    if let Some((host, after)) = rest.split_once(' ')
        && let Some((tag, msg)) = after.split_once(": ")
    {
        let tag = tag.trim();
        if !tag.is_empty() && !tag.contains(' ') {
            let (program, pid) = match tag.split_once('[') {
                Some((p, pid)) => (p, Some(pid.trim_end_matches(']'))),
                None => (tag, None),
            };
            fields.insert("host".into(), Value::String(host.to_string()));
            fields.insert("program".into(), Value::String(program.to_string()));
            if let Some(pid) = pid {
                fields.insert("pid".into(), Value::String(pid.to_string()));
            }
            message = msg;
        }
    }
    fields.insert("message".into(), Value::String(message.to_string()));
    fields
}

fn split_syslog_time(line: &str, year: i64) -> (Option<String>, &str) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // RFC 3164: "Mmm dd hh:mm:ss "
    if line.len() > 16 && line.is_char_boundary(15) {
        let head = &line[..15];
        if let Some(month) = MONTHS.iter().position(|m| head.starts_with(m)) {
            let day: Option<u32> = head[4..6].trim().parse().ok();
            let time = &head[7..15];
            if let Some(day) = day
                && time.as_bytes()[2] == b':'
            {
                let ts = format!("{year:04}-{:02}-{day:02}T{time}Z", month + 1);
                return (Some(ts), line[15..].trim_start());
            }
        }
    }
    // RFC 3339 first token.
    if let Some((first, rest)) = line.split_once(' ')
        && first.len() >= 19
        && first.as_bytes()[4] == b'-'
        && first.as_bytes()[10] == b'T'
    {
        return (Some(first.to_string()), rest);
    }
    (None, line)
}

fn current_year() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    civil_from_days(secs.div_euclid(86_400)).0
}

// ---------------------------------------------------------------- time

/// `1700000000.123` → `2023-11-14T22:13:20.123Z`.
fn epoch_to_rfc3339(text: &str) -> String {
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let Ok(secs) = secs.parse::<i64>() else {
        return text.to_string();
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since the epoch of an RFC 3339 / ISO 8601 time
/// (`2026-04-17T05:24:53.092051Z`, `2026-04-17 05:24:53.079`, `+02:00`).
pub fn parse_time(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    // Offset: after the fraction, `Z` or `±hh:mm`.
    let tail = &text[19..];
    let tail = tail.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if let Some(sign) = tail.chars().next()
        && (sign == '+' || sign == '-')
    {
        let off = &tail[1..];
        let oh: i64 = off.get(0..2)?.parse().ok()?;
        let om: i64 = off.get(3..5).and_then(|m| m.parse().ok()).unwrap_or(0);
        let delta = oh * 3600 + om * 60;
        secs -= if sign == '+' { delta } else { -delta };
    }
    Some(secs)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_parse_equals_value_flatten() {
        let samples = [
            r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"Service Control Manager","Guid":"{1}"}},"EventID":{"#attributes":{"Qualifiers":16384},"#text":7045},"TimeCreated":{"#attributes":{"SystemTime":"2026-01-01T00:00:00Z"}},"Channel":"System","Computer":"pc","Correlation":null,"Security":{"#attributes":{"UserID":"S-1-5-18"}}},"EventData":{"ServiceName":"x","Image Path":"c:\\x.exe"}}}"##,
            r##"{"Event":{"System":{"EventID":400,"Channel":"Windows PowerShell"},"EventData":{"Data":{"#text":["Available","None","HostApplication=powershell -enc"]}}}}"##,
            r##"{"Event":{"System":{"EventID":1102,"Channel":"Security"},"UserData":{"LogFileCleared":{"#attributes":{"xmlns":"y"},"SubjectUserName":"bob"}}}}"##,
            r##"{"Event":{"System":{"EventID":1,"Channel":"Application"},"EventData":null}}"##,
        ];
        for text in samples {
            let value: Value = serde_json::from_str(text).unwrap();
            let a = flatten_windows(value).unwrap().into_map();
            let b = flatten_windows_str(text).unwrap().into_map();
            assert_eq!(a, b, "{text}");
        }
        let b = flatten_windows_str(samples[0]).unwrap();
        assert_eq!(b["EventID"], 7045);
        assert_eq!(b["Provider_Name"], "Service Control Manager");
        assert_eq!(b["ImagePath"], "c:\\x.exe");
        assert_eq!(b["UserID"], "S-1-5-18");
        let c = flatten_windows_str(samples[2]).unwrap();
        assert_eq!(c["SubjectUserName"], "bob");
    }

    #[test]
    fn only_trailing_all_zero_chunks_are_dropped() {
        let chunk = |fill: Option<usize>| {
            let mut c = vec![0u8; EVTX_CHUNK_BYTES];
            if let Some(at) = fill {
                c[at] = 1;
            }
            c
        };
        let file = |chunks: &[Option<usize>], extra: usize| {
            let mut buf = vec![7u8; EVTX_HEADER_BYTES];
            for c in chunks {
                buf.extend(chunk(*c));
            }
            buf.extend(vec![0u8; extra]);
            buf
        };
        let chunks = |buf: &[u8]| (buf.len() - EVTX_HEADER_BYTES) / EVTX_CHUNK_BYTES;

        // Used, empty, used (its only byte at the very end), empty, empty.
        let mut buf = file(
            &[Some(0), None, Some(EVTX_CHUNK_BYTES - 1), None, None],
            100,
        );
        drop_trailing_empty_chunks(&mut buf);
        assert_eq!(buf.len(), EVTX_HEADER_BYTES + 3 * EVTX_CHUNK_BYTES);
        assert_eq!(buf[buf.len() - 1], 1, "a used chunk is kept whole");

        // Nothing but empty chunks: the header stays.
        let mut buf = file(&[None, None], 0);
        drop_trailing_empty_chunks(&mut buf);
        assert_eq!(buf.len(), EVTX_HEADER_BYTES);

        // A file ending in a used chunk, or shorter than one chunk, is left alone.
        let mut buf = file(&[None, Some(40_000)], 10);
        let before = buf.len();
        drop_trailing_empty_chunks(&mut buf);
        assert_eq!(buf.len(), before);
        assert_eq!(chunks(&buf), 2);
        let mut tiny = vec![0u8; 100];
        drop_trailing_empty_chunks(&mut tiny);
        assert_eq!(tiny.len(), 100);
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_time("2026-04-17T05:24:53.092051Z"),
            Some(1_776_403_493)
        );
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            epoch_to_rfc3339("1700000000.123"),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(parse_time("garbage"), None);
    }

    #[test]
    fn auditd_execve_is_merged_and_decoded() {
        let log = "type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes a0=55d a1=55e ppid=10 pid=11 auid=1000 uid=0 comm=\"bash\" exe=\"/usr/bin/bash\" key=\"exec\"\n\
type=EXECVE msg=audit(1700000000.123:42): argc=3 a0=\"bash\" a1=\"-c\" a2=6563686F206869\n\
type=CWD msg=audit(1700000000.123:42): cwd=\"/tmp\"\n\
type=SYSCALL msg=audit(1700000001.000:43): arch=c000003e syscall=2 comm=\"cat\" exe=\"/bin/cat\"\n";
        let mut events = Vec::new();
        let mut notes = Vec::new();
        read_auditd(log.as_bytes(), &mut notes, &mut |e| events.push(e.fields));
        assert_eq!(events.len(), 2, "{notes:?}");
        let e = &events[0];
        assert_eq!(e["cmdline"], "bash -c echo hi");
        assert_eq!(e["a0"], "bash");
        assert_eq!(e["exe"], "/usr/bin/bash");
        assert_eq!(e["cwd"], "/tmp");
        assert_eq!(e["type"], serde_json::json!(["SYSCALL", "EXECVE", "CWD"]));
        assert_eq!(events[1]["comm"], "cat");
    }

    #[test]
    fn syslog_line() {
        let f = parse_syslog_line(
            "Nov 21 11:13:11 web1 sshd[123]: Failed password for root from 10.0.0.1",
            2026,
        );
        assert_eq!(f["host"], "web1");
        assert_eq!(f["program"], "sshd");
        assert_eq!(f["pid"], "123");
        assert_eq!(f["timestamp"], "2026-11-21T11:13:11Z");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .starts_with("Failed password")
        );
    }

    #[test]
    fn formats_are_detected_from_content() {
        assert_eq!(detect_bytes(b"ElfFile\0rest"), Format::Evtx);
        assert_eq!(detect_bytes(b"  {\"a\":1}"), Format::Json);
        assert_eq!(
            detect_bytes(b"type=SYSCALL msg=audit(1:2): x=1"),
            Format::Auditd
        );
        assert_eq!(detect_bytes(b"Nov 21 11:13:11 h p: m"), Format::Syslog);
        assert_eq!(
            detect_bytes(b"<34>Oct 11 22:14:15 mymachine su: x"),
            Format::Syslog
        );
        assert_eq!(detect_bytes(b"2026-11-21T11:13:11Z h p: m"), Format::Syslog);
        assert_eq!(detect_bytes(b"GNU GENERAL PUBLIC LICENSE"), Format::Unknown);
    }
}
