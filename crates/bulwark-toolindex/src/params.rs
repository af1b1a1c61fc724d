//! Searchable text from a tool's JSON Schema `inputSchema`: the parameter
//! names (nested properties included) and their descriptions.

use serde_json::Value;

/// Schemas nest deeper than any real tool needs only to waste time; past
/// this depth nothing more is read.
const MAX_DEPTH: usize = 8;
/// At most this many parameters are read from one schema (an upstream could
/// send a huge schema; the index should not grow with it).
const MAX_PARAMS: usize = 256;
/// Parameter description text kept per tool, in bytes.
const MAX_PARAM_TEXT: usize = 16 * 1024;

/// Parameter names and the descriptive text about them.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ParamText {
    /// One name per parameter, space separated (`path`, `maxDepth`, …).
    pub names: String,
    /// Descriptions, titles and string enum values of the parameters.
    pub descriptions: String,
    count: usize,
}

impl ParamText {
    pub(crate) fn from_schema(schema: &Value) -> ParamText {
        let mut out = ParamText::default();
        out.walk(schema, 0);
        out
    }

    fn walk(&mut self, schema: &Value, depth: usize) {
        if depth > MAX_DEPTH || self.count >= MAX_PARAMS {
            return;
        }
        let Value::Object(map) = schema else {
            return;
        };
        if let Some(Value::Object(props)) = map.get("properties") {
            for (name, prop) in props {
                if self.count >= MAX_PARAMS {
                    return;
                }
                self.count += 1;
                push_word(&mut self.names, name, usize::MAX);
                if let Value::Object(p) = prop {
                    for key in ["title", "description"] {
                        if let Some(Value::String(s)) = p.get(key) {
                            push_word(&mut self.descriptions, s, MAX_PARAM_TEXT);
                        }
                    }
                    if let Some(Value::Array(values)) = p.get("enum") {
                        for v in values.iter().filter_map(Value::as_str) {
                            push_word(&mut self.descriptions, v, MAX_PARAM_TEXT);
                        }
                    }
                }
                self.walk(prop, depth + 1);
            }
        }
        // Arrays of objects, unions, and definitions referenced with $ref.
        if let Some(items) = map.get("items") {
            self.walk(items, depth + 1);
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(Value::Array(variants)) = map.get(key) {
                for v in variants {
                    self.walk(v, depth + 1);
                }
            }
        }
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(defs)) = map.get(key) {
                for v in defs.values() {
                    self.walk(v, depth + 1);
                }
            }
        }
    }
}

fn push_word(buf: &mut String, text: &str, cap: usize) {
    if buf.len() + text.len() + 1 > cap {
        return;
    }
    if !buf.is_empty() {
        buf.push('\n');
    }
    buf.push_str(text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_nested_properties_and_their_descriptions() {
        let schema = json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Directory to list"},
                "options": {
                    "type": "object",
                    "properties": {
                        "maxDepth": {"type": "integer", "title": "Depth limit"},
                        "format": {"enum": ["json", "csv"]}
                    }
                },
                "edits": {"type": "array", "items": {"type": "object", "properties": {
                    "oldText": {"description": "Text to replace"}
                }}}
            },
            "$defs": {"Thing": {"properties": {"thingId": {}}}}
        });
        let p = ParamText::from_schema(&schema);
        for name in [
            "path", "options", "maxDepth", "format", "edits", "oldText", "thingId",
        ] {
            assert!(p.names.contains(name), "{name} missing from {:?}", p.names);
        }
        for text in [
            "Directory to list",
            "Depth limit",
            "json",
            "csv",
            "Text to replace",
        ] {
            assert!(p.descriptions.contains(text), "{text} missing");
        }
    }

    #[test]
    fn odd_schemas_give_nothing_rather_than_fail() {
        for schema in [
            json!(null),
            json!("x"),
            json!([1, 2]),
            json!({"properties": 3}),
        ] {
            assert_eq!(ParamText::from_schema(&schema), ParamText::default());
        }
    }

    #[test]
    fn deep_and_wide_schemas_are_bounded() {
        let mut deep = json!({"type": "string"});
        for i in 0..100 {
            deep = json!({"properties": {format!("p{i}"): deep}});
        }
        let p = ParamText::from_schema(&deep);
        assert!(p.count <= MAX_DEPTH + 1);

        let wide: serde_json::Map<String, Value> = (0..10_000)
            .map(|i| (format!("field{i}"), json!({"description": "x".repeat(100)})))
            .collect();
        let p = ParamText::from_schema(&json!({"properties": wide}));
        assert_eq!(p.count, MAX_PARAMS);
        assert!(p.descriptions.len() <= MAX_PARAM_TEXT);
    }
}
