//! Shadowing: a tool that instructs about other servers' tools, and
//! impersonation: a tool that copies another server's tool.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::ToolDescriptor;
use super::context::{Framing, framing};
use super::hit::{Hit, clip};
use crate::finding::Confidence;

/// Names that read as identifiers (`query_database`, `sendEmail`,
/// `deploy-release`) rather than as ordinary words.
fn identifier_like(name: &str) -> bool {
    let b = name.as_bytes();
    if b.len() < 4 {
        return false;
    }
    let sep = name
        .trim_matches(|c| c == '_' || c == '-' || c == '.')
        .contains(['_', '-', '.']);
    let camel = b
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
    let alnum_mix = b.iter().any(u8::is_ascii_digit) && b.iter().any(u8::is_ascii_alphabetic);
    sep || camel || alnum_mix
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Occurrences of `name` in `t` as a whole identifier.
fn find_identifier(t: &str, name: &str) -> Vec<usize> {
    let (tl, nl) = (t.to_ascii_lowercase(), name.to_ascii_lowercase());
    let b = tl.as_bytes();
    tl.match_indices(&nl)
        .map(|(i, _)| i)
        .filter(|&i| {
            let before = i == 0 || !is_ident_byte(b[i - 1]);
            let end = i + nl.len();
            let after = end >= b.len()
                || !(is_ident_byte(b[end])
                    || (b[end] == b'-' && end + 1 < b.len() && b[end + 1].is_ascii_alphanumeric()));
            before && after
        })
        .collect()
}

/// A plain-word tool name counts only when the text marks it as a tool.
fn marked_as_tool(t: &str, at: usize, len: usize) -> bool {
    let before = &t[..at];
    let after = &t[at + len..];
    let backticked = before.ends_with('`') && after.starts_with('`');
    let quoted_tool = (before.ends_with('"') || before.ends_with('\''))
        && (after.starts_with('"') || after.starts_with('\''));
    let after_l = after
        .trim_start_matches(['`', '"', '\''])
        .to_ascii_lowercase();
    backticked
        || quoted_tool
        || after_l.starts_with(" tool")
        || after_l.starts_with("()")
        || after_l.starts_with(" function")
}

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "to", "for", "in", "on", "with", "via", "and", "or", "by", "from",
    "between", "into", "is", "are", "this", "that", "it", "its", "as", "at", "be", "using",
];

fn tokens(s: &str) -> BTreeSet<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(&w.as_str()))
        .collect()
}

/// Jaccard similarity of two descriptions' content words.
pub(crate) fn similarity(a: &str, b: &str) -> f64 {
    let (ta, tb) = (tokens(a), tokens(b));
    if ta.len() < 2 || tb.len() < 2 {
        return 0.0;
    }
    let inter = ta.intersection(&tb).count() as f64;
    let union = ta.union(&tb).count() as f64;
    inter / union
}

static THE_X_TOOL_MUST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\bthe\s+[`'"]?(?P<t>[A-Za-z][A-Za-z0-9_.\-]{2,60})[`'"]?\s+tool\s+(?:must|should|shall|will\s+now|needs?\s+to|has\s+to|is\s+(?:required|not\s+allowed)|may\s+only|now)\b"#).expect("compiles")
});
static WHEN_CALLS_X: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:when|whenever|if|each\s+time)\s+(?:the\s+user\s+|you\s+|the\s+(?:assistant|agent|model)\s+|someone\s+)?(?:calls?|uses?|invokes?|runs?|requests?)\s+(?:the\s+)?[`'"]?(?P<t>[A-Za-z][A-Za-z0-9_.\-]{2,60})[`'"]?\s+(?:tool|function)\b"#).expect("compiles")
});
static INSTEAD_OF_X: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:instead\s+of|rather\s+than|never|do\s+not|don't)\s+(?:using|calling|invoking|use|call|invoke)\s+(?:the\s+)?[`'"]?(?P<t>[A-Za-z][A-Za-z0-9_.\-]{2,60})[`'"]?"#).expect("compiles")
});
static ON_X_SERVER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:on|from|of|in|via|to)\s+the\s+[`'"]?(?P<s>[A-Za-z][A-Za-z0-9_.\-]{1,60})[`'"]?\s+(?:mcp\s+)?server\b"#).expect("compiles")
});
static DIRECTIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:must|always|instead|never|do\s+not|don't|only|redirect|replace|override)\b",
    )
    .expect("compiles")
});

/// Shadowing and impersonation findings for `tool`, as (field, hit).
/// `fields` are the tool's prose fields (pointer, normalized text); `others`
/// are tools of other servers; `siblings` the names of the tool's own server.
pub(crate) fn shadow_hits(
    tool: &ToolDescriptor,
    fields: &[(String, String)],
    others: &[&ToolDescriptor],
    siblings: &BTreeSet<String>,
) -> Vec<(String, Hit)> {
    let mut out = Vec::new();
    let own = tool.name.to_ascii_lowercase();
    let foreign_ok = |name: &str| {
        let l = name.to_ascii_lowercase();
        l != own && !siblings.contains(&l)
    };
    // Impersonation: same name, near-identical description, other server.
    for p in others {
        if p.name == tool.name && p.server != tool.server {
            let sim = similarity(&tool.description, &p.description);
            if sim >= 0.7 {
                out.push((
                    "name".to_string(),
                    Hit::new(
                        "BWK-TOOL-IMPERSONATION",
                        0,
                        tool.name.len(),
                        format!(
                            "tool duplicates `{}` of server `{}` (same name, description {:.0}% alike)",
                            p.name,
                            p.server,
                            sim * 100.0
                        ),
                        format!("same name as {}/{}; description similarity {sim:.2}", p.server, p.name),
                    )
                    .confidence(Confidence::Medium),
                ));
                break;
            }
        }
    }
    // Mentions of other servers' tools.
    'fields: for (field, t) in fields {
        if field == "name" {
            continue;
        }
        for p in others {
            if p.server == tool.server || !foreign_ok(&p.name) {
                continue;
            }
            for at in find_identifier(t, &p.name) {
                if !identifier_like(&p.name) && !marked_as_tool(t, at, p.name.len()) {
                    continue;
                }
                if framing(t, at, at + p.name.len()) == Framing::Mention {
                    continue;
                }
                out.push((
                    field.clone(),
                    Hit::new(
                        "BWK-TOOL-SHADOWING",
                        at,
                        at + p.name.len(),
                        format!(
                            "tool definition instructs about `{}` of server `{}`",
                            p.name, p.server
                        ),
                        format!("references {}/{}: \"{}\"", p.server, p.name, clip(t, 160)),
                    ),
                ));
                continue 'fields;
            }
        }
        // Generic cross-tool instructions, with or without known peers.
        for rx in [&*THE_X_TOOL_MUST, &*WHEN_CALLS_X, &*INSTEAD_OF_X] {
            for c in rx.captures_iter(t) {
                let name = c
                    .name("t")
                    .expect("t")
                    .as_str()
                    .trim_end_matches(['.', '-']);
                let m = c.get(0).expect("m");
                let known_foreign = others
                    .iter()
                    .any(|p| p.server != tool.server && p.name.eq_ignore_ascii_case(name));
                if !foreign_ok(name) || !(identifier_like(name) || known_foreign) {
                    continue;
                }
                if framing(t, m.start(), m.end()) == Framing::Mention {
                    continue;
                }
                out.push((
                    field.clone(),
                    Hit::new(
                        "BWK-TOOL-SHADOWING",
                        m.start(),
                        m.end(),
                        format!(
                            "tool definition instructs how another tool (`{name}`) must behave"
                        ),
                        format!("cross-tool instruction: \"{}\"", clip(m.as_str(), 160)),
                    )
                    .confidence(if known_foreign {
                        Confidence::High
                    } else {
                        Confidence::Medium
                    }),
                ));
                continue 'fields;
            }
        }
        for c in ON_X_SERVER.captures_iter(t) {
            let server = c.name("s").expect("s").as_str();
            let m = c.get(0).expect("m");
            if server.eq_ignore_ascii_case(&tool.server)
                || matches!(
                    server.to_ascii_lowercase().as_str(),
                    "same"
                        | "this"
                        | "mcp"
                        | "remote"
                        | "local"
                        | "target"
                        | "configured"
                        | "given"
                )
            {
                continue;
            }
            let ss = super::context::sentence_start(t, m.start());
            let se = super::context::sentence_end(t, m.end());
            let known = others.iter().any(|p| p.server.eq_ignore_ascii_case(server));
            if !(known || DIRECTIVE.is_match(&t[ss..se]))
                || framing(t, m.start(), m.end()) == Framing::Mention
            {
                continue;
            }
            out.push((
                field.clone(),
                Hit::new(
                    "BWK-TOOL-SHADOWING",
                    m.start(),
                    m.end(),
                    format!("tool definition instructs about server `{server}`"),
                    format!("cross-server instruction: \"{}\"", clip(&t[ss..se], 160)),
                )
                .confidence(if known {
                    Confidence::High
                } else {
                    Confidence::Medium
                }),
            ));
            continue 'fields;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(identifier_like("query_database"));
        assert!(identifier_like("sendEmail"));
        assert!(!identifier_like("search"));
        assert_eq!(
            find_identifier("call query_database first", "query_database"),
            vec![5]
        );
        assert!(find_identifier("call query_database_v2", "query_database").is_empty());
    }

    #[test]
    fn similarity_scores() {
        assert!(
            similarity(
                "initiate a Bank Transfer between accounts, quickly.",
                "Initiate a bank transfer between accounts."
            ) >= 0.7
        );
        assert!(similarity("Searches the local index.", "Searches a remote index.") < 0.7);
    }
}
