//! Canonical JSON, record sealing and the per-line check shared by the writer
//! (to continue a chain) and the verifier.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev` of the first record.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HASH_KEY: &str = ",\"hash\":\"";

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    // `hex::encode` collects the digits one `char` at a time; on the per-call
    // path (two digests per record) filling a fixed buffer is several times faster.
    let mut out = [0u8; 64];
    // The buffer is exactly twice the digest's length, so this cannot fail.
    let _ = hex::encode_to_slice(Sha256::digest(bytes), &mut out);
    std::str::from_utf8(&out).unwrap_or_default().to_owned()
}

/// Appends `value` as JSON with object keys sorted at every depth and no
/// whitespace. Sorting is done here rather than trusting `serde_json::Map`,
/// whose order depends on a feature another crate in the build may enable.
pub(crate) fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => write_canonical_object(map, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => push_json_string(s, out),
        // null, booleans and numbers have one compact form in serde_json.
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// [`write_canonical`] of an object, for callers that hold the map itself.
pub(crate) fn write_canonical_object(map: &serde_json::Map<String, Value>, out: &mut String) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, val)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(key, out);
        out.push(':');
        write_canonical(val, out);
    }
    out.push('}');
}

pub(crate) fn push_json_string(s: &str, out: &mut String) {
    // Plain strings (the common case) need no escaping; the rest go through
    // serde_json so the escapes match its compact form exactly.
    // A fold without early exit, so the compiler can check many bytes at once.
    let plain = !s.bytes().fold(false, |hit, b| {
        hit | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Serialising a `&str` cannot fail; the fallback is unreachable.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

/// Builds the line for one record (the writer's path is `Encoded`; this
/// generic one checks it in tests): canonical JSON of `record` (which must be
/// an object without `hash`) with `hash` appended last. Returns the line
/// (with its `\n`) and the hash.
#[cfg(test)]
pub(crate) fn seal(record: &Value) -> (String, String) {
    let mut line = String::with_capacity(256);
    write_canonical(record, &mut line);
    let hash = sha256_hex(line.as_bytes());
    // Drop the closing brace, splice the hash in as the last member.
    line.pop();
    line.push_str(HASH_KEY);
    line.push_str(&hash);
    line.push_str("\"}\n");
    (line, hash)
}

/// The chain fields of one line, and whether the line's bytes still match its hash.
#[derive(Debug)]
pub(crate) struct ParsedLine {
    pub seq: u64,
    pub prev: String,
    pub hash: String,
    pub intact: bool,
}

/// Reads one line (without its `\n`). `Err` says, in words, why it is not a record.
pub(crate) fn parse_line(line: &[u8]) -> Result<ParsedLine, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err("the line is empty".to_string());
    }
    let value: Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let obj = value
        .as_object()
        .ok_or_else(|| "it is JSON but not an object".to_string())?;
    let seq = obj
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or_else(|| "it has no numeric `seq` field".to_string())?;
    let prev = obj
        .get("prev")
        .and_then(Value::as_str)
        .ok_or_else(|| "it has no `prev` field".to_string())?
        .to_string();
    let hash = obj
        .get("hash")
        .and_then(Value::as_str)
        .ok_or_else(|| "it has no `hash` field".to_string())?
        .to_string();
    let intact = bytes_match_hash(line, &hash);
    Ok(ParsedLine {
        seq,
        prev,
        hash,
        intact,
    })
}

/// True if the line ends in `,"hash":"<hash>"}` and the bytes before that,
/// closed with `}`, hash to `<hash>`.
fn bytes_match_hash(line: &[u8], hash: &str) -> bool {
    if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return false;
    }
    let suffix_len = HASH_KEY.len() + hash.len() + 2;
    if line.len() <= suffix_len {
        return false;
    }
    let (body, suffix) = line.split_at(line.len() - suffix_len);
    if !suffix.starts_with(HASH_KEY.as_bytes())
        || &suffix[HASH_KEY.len()..HASH_KEY.len() + 64] != hash.as_bytes()
        || &suffix[HASH_KEY.len() + 64..] != b"\"}"
    {
        return false;
    }
    let mut hasher = Sha256::new();
    hasher.update(body);
    hasher.update(b"}");
    hex::encode(hasher.finalize()) == hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_at_every_depth_without_whitespace() {
        let v = json!({"b": [ {"z": 1, "a": null} ], "a": {"y": "x\"", "x": true}});
        let mut out = String::new();
        write_canonical(&v, &mut out);
        assert_eq!(out, r#"{"a":{"x":true,"y":"x\""},"b":[{"a":null,"z":1}]}"#);
    }

    #[test]
    fn sealed_line_parses_back_intact_and_edits_break_it() {
        let record = json!({"seq": 1, "prev": GENESIS, "outcome": "success", "n": 1.1});
        let (line, hash) = seal(&record);
        assert!(line.ends_with(&format!(",\"hash\":\"{hash}\"}}\n")));
        let parsed = parse_line(line.trim_end().as_bytes()).unwrap();
        assert!(parsed.intact);
        assert_eq!((parsed.seq, parsed.prev.as_str()), (1, GENESIS));
        assert_eq!(parsed.hash, hash);

        let edited = line.replace("success", "denied");
        assert!(!parse_line(edited.trim_end().as_bytes()).unwrap().intact);
    }

    #[test]
    fn lines_that_are_not_records_say_why() {
        assert!(parse_line(b"{\"seq\":1").is_err());
        assert!(parse_line(b"[1]").unwrap_err().contains("not an object"));
        assert!(parse_line(b"{\"prev\":\"x\"}").unwrap_err().contains("seq"));
    }
}
