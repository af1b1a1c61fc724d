//! Secret redaction of upstream responses: what the scanner's secret
//! detectors find in a tool result is replaced by `[REDACTED:RULE-ID]`
//! before the agent sees it (or it lands in `read_cache`).

use std::collections::BTreeMap;

use serde_json::Value;

/// Secrets replaced in one response, per detector rule.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Redactions(pub BTreeMap<&'static str, u64>);

impl Redactions {
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// `BWK-SECRET-AWS-ACCESS-KEY ×1, BWK-SECRET-GITHUB-TOKEN ×2`.
    pub fn summary(&self) -> String {
        self.0
            .iter()
            .map(|(rule, n)| format!("{rule} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Replace every secret in `text`; `None` when there is none (the common
/// case costs one keyword scan and no copy).
pub fn redact_text(text: &str, found: &mut Redactions) -> Option<String> {
    let spans = bulwark_detect::find_secrets(text);
    if spans.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        out.push_str(&text[at..span.start]);
        out.push_str("[REDACTED:");
        out.push_str(span.rule);
        out.push(']');
        at = span.end;
        *found.0.entry(span.rule).or_default() += 1;
    }
    out.push_str(&text[at..]);
    Some(out)
}

/// Redact every string in a JSON value (structured content), keys included:
/// a secret can be a map key as easily as a value.
pub fn redact_json(value: &mut Value, found: &mut Redactions) {
    match value {
        Value::String(s) => {
            if let Some(clean) = redact_text(s, found) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, found)),
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let Some(mut inner) = map.remove(&key) else {
                    continue;
                };
                redact_json(&mut inner, found);
                let key = redact_text(&key, found).unwrap_or(key);
                map.insert(key, inner);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Built at run time so that secret scanners reading this file do not flag it.
    fn aws_key() -> String {
        format!("AKIA{}", "Q3EGUT7NZ5WOXD4M")
    }
    fn github_token() -> String {
        format!("ghp_{}", "x7Kq2mZ9vR4tL8pW3nB6cY1dF5gH0jS2aE4u")
    }

    #[test]
    fn secrets_in_text_are_replaced_by_their_rule() {
        let mut found = Redactions::default();
        let text = format!(
            "config:\n  aws_access_key_id = {}\n  token: {}\nbye",
            aws_key(),
            github_token()
        );
        let clean = redact_text(&text, &mut found).expect("secrets found");
        assert!(!clean.contains(&aws_key()), "{clean}");
        assert!(!clean.contains(&github_token()), "{clean}");
        assert!(
            clean.contains("[REDACTED:BWK-SECRET-AWS-ACCESS-KEY]"),
            "{clean}"
        );
        assert!(clean.contains("[REDACTED:BWK-SECRET-GITHUB"), "{clean}");
        assert!(clean.starts_with("config:\n") && clean.ends_with("\nbye"));
        assert_eq!(found.total(), 2, "{found:?}");
    }

    #[test]
    fn clean_text_is_left_alone_and_ignore_comments_do_not_help() {
        let mut found = Redactions::default();
        assert_eq!(
            redact_text("nothing secret here, AKIA is a prefix", &mut found),
            None
        );
        let sneaky = format!("{} # bulwark-ignore", github_token());
        assert!(redact_text(&sneaky, &mut found).is_some());
        assert_eq!(found.total(), 1);
    }

    #[test]
    fn structured_content_is_walked() {
        let mut found = Redactions::default();
        let mut value = json!({"creds": [{"id": aws_key()}], "n": 3, (github_token()): true});
        redact_json(&mut value, &mut found);
        let text = value.to_string();
        assert!(
            !text.contains(&aws_key()) && !text.contains(&github_token()),
            "{text}"
        );
        assert_eq!(value["n"], 3);
        assert_eq!(found.total(), 2);
    }
}
