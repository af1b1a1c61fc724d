//! A small secret recogniser for config values: provider prefixes, and
//! keyword-named keys holding high-entropy literals. References to
//! variables or inputs are never secrets.

use std::sync::LazyLock;

use regex::Regex;

use crate::text::entropy;

struct Provider {
    name: &'static str,
    pattern: &'static str,
}

const PROVIDERS: &[Provider] = &[
    Provider {
        name: "Anthropic API key",
        pattern: r"sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{20,}",
    },
    Provider {
        name: "OpenAI API key",
        pattern: r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
    },
    Provider {
        name: "GitHub token",
        pattern: r"\bgh[pousr]_[A-Za-z0-9]{30,}",
    },
    Provider {
        name: "GitHub fine-grained token",
        pattern: r"\bgithub_pat_[A-Za-z0-9_]{22,}",
    },
    Provider {
        name: "AWS access key id",
        pattern: r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    },
    Provider {
        name: "Slack token",
        pattern: r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    },
    Provider {
        name: "Google API key",
        pattern: r"\bAIza[0-9A-Za-z_\-]{35}",
    },
    Provider {
        name: "GitLab token",
        pattern: r"\bglpat-[A-Za-z0-9_\-]{20,}",
    },
    Provider {
        name: "npm token",
        pattern: r"\bnpm_[A-Za-z0-9]{36}\b",
    },
    Provider {
        name: "Hugging Face token",
        pattern: r"\bhf_[A-Za-z0-9]{30,}",
    },
    Provider {
        name: "Stripe secret key",
        pattern: r"\b[rs]k_live_[A-Za-z0-9]{20,}",
    },
    Provider {
        name: "private key",
        pattern: r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    },
    Provider {
        name: "JSON Web Token",
        pattern: r"\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",
    },
];

static PROVIDER_REGEXES: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    PROVIDERS
        .iter()
        .map(|p| {
            (
                p.name,
                Regex::new(p.pattern).expect("provider pattern compiles"),
            )
        })
        .collect()
});

/// `scheme://user:password@host` in database and broker URLs.
static URL_CREDENTIALS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:([^\s@/]+)@").expect("url credentials pattern")
});

/// A reference to a variable or prompt instead of a literal.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%|\{\{[^}]+\}\}")
        .expect("reference pattern")
});

/// A found secret: what kind, the literal (to mask), and how sure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SecretHit {
    pub(crate) kind: String,
    pub(crate) literal: String,
    /// Byte offset of the literal within the examined value.
    pub(crate) offset: usize,
    pub(crate) strong: bool,
}

/// Whether the value is (only) a reference such as `${input:token}`,
/// `${env:X}`, `$VAR`, `%VAR%`.
pub(crate) fn is_reference(value: &str) -> bool {
    let trimmed = value.trim();
    !trimmed.is_empty() && REFERENCE.replace_all(trimmed, "").trim().is_empty()
}

fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "your",
        "xxx",
        "changeme",
        "change-me",
        "change_me",
        "example",
        "placeholder",
        "replace",
        "todo",
        "dummy",
        "redacted",
        "insert",
        "<",
        ">",
        "****",
        "...",
        "secret-here",
        "token-here",
        "key-here",
        "fake",
        "sample",
    ];
    if WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    let mut chars = value.chars();
    let first = chars.next();
    first.is_some() && chars.all(|c| Some(c) == first)
}

fn looks_like_path_or_plain_url(value: &str) -> bool {
    value.starts_with('/')
        || value.starts_with("~/")
        || value.starts_with("./")
        || value.starts_with("../")
        || value.contains('\\')
        || ((value.starts_with("http://") || value.starts_with("https://")) && !value.contains('@'))
}

/// Splits `GITHUB_PERSONAL_ACCESS_TOKEN`, `apiKey`, `x-api-key` into words.
fn key_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// How a key name hints at a credential: `Password` words need less entropy
/// than `Token` words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum KeyHint {
    None,
    Token,
    Password,
}

pub(crate) fn key_hint(key: &str) -> KeyHint {
    let words = key_words(key);
    let has = |w: &str| words.iter().any(|x| x == w);
    if has("password")
        || has("passwd")
        || has("pwd")
        || has("pass")
        || has("secret")
        || has("passphrase")
    {
        return KeyHint::Password;
    }
    if has("token")
        || has("apikey")
        || has("key") && !has("file") && !has("path") && !has("id") && !has("name")
        || has("auth")
        || has("authorization")
        || has("credential")
        || has("credentials")
        || has("pat")
        || has("bearer")
        || has("cookie")
        || has("session")
        || has("private")
    {
        return KeyHint::Token;
    }
    KeyHint::None
}

/// Secrets in `value`, stored under `key` (an env var, header or flag name;
/// empty when there is none).
pub(crate) fn find_secrets(key: &str, value: &str) -> Vec<SecretHit> {
    let mut hits = Vec::new();
    if value.trim().is_empty() {
        return hits;
    }
    for (name, regex) in PROVIDER_REGEXES.iter() {
        for m in regex.find_iter(value) {
            if hits.iter().any(|h: &SecretHit| {
                h.offset <= m.start() && m.start() < h.offset + h.literal.len()
            }) {
                continue;
            }
            if is_placeholder(m.as_str()) {
                continue;
            }
            hits.push(SecretHit {
                kind: name.to_string(),
                literal: m.as_str().to_string(),
                offset: m.start(),
                strong: true,
            });
        }
    }
    for caps in URL_CREDENTIALS.captures_iter(value) {
        let password = caps.get(1).expect("group 1");
        if is_reference(password.as_str()) || is_placeholder(password.as_str()) {
            continue;
        }
        hits.push(SecretHit {
            kind: "password in a URL".to_string(),
            literal: password.as_str().to_string(),
            offset: password.start(),
            strong: true,
        });
    }
    if !hits.is_empty() {
        return hits;
    }
    let hint = key_hint(key);
    if hint == KeyHint::None {
        return hits;
    }
    // `Bearer abc`, `Basic abc`, `token abc`.
    let (offset, literal) = match value.split_once(' ') {
        Some((scheme, rest))
            if ["bearer", "basic", "token", "apikey"]
                .contains(&scheme.to_ascii_lowercase().as_str()) =>
        {
            (scheme.len() + 1, rest.trim())
        }
        _ => (0, value.trim()),
    };
    if literal.is_empty() || is_reference(literal) || REFERENCE.is_match(literal) {
        return hits;
    }
    if is_placeholder(literal) || looks_like_path_or_plain_url(literal) || literal.contains(' ') {
        return hits;
    }
    let (min_len, min_entropy) = match hint {
        KeyHint::Password => (6, 2.0),
        _ => (12, 3.0),
    };
    if literal.chars().count() >= min_len
        && entropy(literal) >= min_entropy
        && !["true", "false", "null", "none"].contains(&literal.to_ascii_lowercase().as_str())
    {
        hits.push(SecretHit {
            kind: format!("literal value of {key}"),
            literal: literal.to_string(),
            offset: offset + value[offset..].find(literal).unwrap_or(0),
            strong: false,
        });
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_not_secrets() {
        for value in [
            "${input:github_token}",
            "${env:GITHUB_TOKEN}",
            "$GITHUB_TOKEN",
            "%API_KEY%",
            "Bearer ${input:tok}",
            "{{secrets.token}}",
        ] {
            assert!(find_secrets("GITHUB_TOKEN", value).is_empty(), "{value}");
            assert!(find_secrets("Authorization", value).is_empty(), "{value}");
        }
        assert!(!is_reference("${HOME}/x"));
        assert!(is_reference("$A$B"));
    }

    #[test]
    fn providers_and_keywords() {
        let hits = find_secrets("", "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB");
        assert_eq!(hits[0].kind, "GitHub token");
        assert!(hits[0].strong);
        assert_eq!(find_secrets("", "--key=AKIAIOSFODNN7EXAMPLQ")[0].offset, 6);
        let hits = find_secrets("API_KEY", "q8Zr2LmX0pVt7cNw4bYe");
        assert!(!hits[0].strong);
        assert!(find_secrets("API_KEY", "your-api-key-here").is_empty());
        assert!(find_secrets("MAX_TOKENS", "4096").is_empty());
        assert!(find_secrets("LOG_LEVEL", "q8Zr2LmX0pVt7cNw4bYe").is_empty());
        assert!(find_secrets("API_KEY_FILE", "/home/me/.keys/api").is_empty());
        assert_eq!(find_secrets("DB_PASSWORD", "hunter22").len(), 1);
        let hits = find_secrets("Authorization", "Bearer q8Zr2LmX0pVt7cNw4bYe");
        assert_eq!(hits[0].literal, "q8Zr2LmX0pVt7cNw4bYe");
        assert_eq!(hits[0].offset, 7);
        let hits = find_secrets("", "postgresql://admin:s3cr3tPw@db.internal:5432/app");
        assert_eq!(hits[0].literal, "s3cr3tPw");
        assert!(find_secrets("", "postgresql://admin:${DB_PASS}@db/app").is_empty());
        assert_eq!(key_words("apiKey"), ["api", "key"]);
        assert_eq!(key_hint("x-api-key"), KeyHint::Token);
        assert_eq!(key_hint("KEYBOARD_LAYOUT"), KeyHint::None);
    }
}
