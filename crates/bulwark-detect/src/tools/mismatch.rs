//! Capability mismatch: a tool whose name claims a harmless or read-only
//! purpose while its definition describes shell commands, file writes,
//! uploads to outside hosts or credential access.

use std::sync::LazyLock;

use regex::Regex;

use super::ToolDescriptor;
use super::context::{Framing, framing};
use super::hit::{Hit, clip};
use super::phrases::credential_paths;
use crate::finding::{Confidence, Severity};

/// Name words of tools that compute, format or look up harmless things.
const HARMLESS: &[&str] = &[
    "add",
    "sum",
    "subtract",
    "multiply",
    "divide",
    "calc",
    "calculate",
    "calculator",
    "math",
    "arithmetic",
    "weather",
    "forecast",
    "temperature",
    "time",
    "date",
    "clock",
    "timezone",
    "timestamp",
    "uuid",
    "random",
    "joke",
    "jokes",
    "echo",
    "greet",
    "greeting",
    "hello",
    "uppercase",
    "lowercase",
    "capitalize",
    "titlecase",
    "reverse",
    "format",
    "formatter",
    "pretty",
    "prettify",
    "beautify",
    "convert",
    "converter",
    "units",
    "unit",
    "translate",
    "translation",
    "spell",
    "spellcheck",
    "count",
    "word",
    "words",
    "length",
    "color",
    "colour",
    "theme",
    "icon",
    "badge",
    "emoji",
    "quote",
    "fact",
    "dice",
    "roll",
    "coin",
    "flip",
    "sort",
    "trim",
    "slug",
    "slugify",
    "lorem",
    "palindrome",
    "fibonacci",
    "factorial",
    "prime",
    "sqrt",
    "power",
    "percent",
    "percentage",
    "average",
    "mean",
    "median",
    "bmi",
    "tip",
    "markdown",
    "render",
    "summarize",
    "summary",
];

/// Harmless words naming a transformation of content (formatting,
/// conversion, rendering): such tools may write their output files.
const TRANSFORMS: &[&str] = &[
    "format",
    "formatter",
    "pretty",
    "prettify",
    "beautify",
    "convert",
    "converter",
    "translate",
    "translation",
    "render",
    "markdown",
    "summarize",
    "summary",
    "sort",
    "trim",
    "slug",
    "slugify",
];

/// Leading name verbs that promise reading only.
const READ_ONLY: &[&str] = &[
    "get", "list", "read", "search", "find", "fetch", "show", "describe", "lookup", "query",
    "view", "check", "status", "info", "inspect", "validate", "verify", "preview", "count",
];

/// Name words that announce a capability; a tool so named is not mismatched.
const CAPABILITY_WORDS: &[&str] = &[
    "shell",
    "exec",
    "execute",
    "run",
    "command",
    "cmd",
    "write",
    "delete",
    "remove",
    "upload",
    "send",
    "post",
    "sync",
    "env",
    "credential",
    "credentials",
    "secret",
    "secrets",
    "key",
    "keys",
    "ssh",
    "deploy",
    "install",
    "terminal",
    "process",
    "script",
    "backup",
    "export",
    "publish",
    "push",
    "webhook",
    "notify",
    "email",
    "mail",
];

static READ_ONLY_CLAIM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:read[- ]only|readonly|does\s+not\s+(?:modify|write|change|delete|send|access)|doesn't\s+(?:modify|write|change|delete|send)|no\s+side[- ]effects|side[- ]effect[- ]free|harmless|pure\s+function|safe\s+to\s+call|never\s+(?:modifies|writes|sends))\b").expect("compiles")
});
static SHELL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:shell\s+commands?|bash|zsh|powershell|cmd\.exe|/bin/(?:ba|z)?sh|subprocess|os\.system|child_process|spawn(?:s|ing)?\s+(?:a\s+)?(?:process|shell)|exec(?:ute|utes|uting)?\s+(?:a\s+|the\s+|arbitrary\s+|any\s+)?(?:shell\s+|system\s+|os\s+)?commands?|run(?:s|ning)?\s+(?:a\s+|the\s+|arbitrary\s+|any\s+)?(?:shell|system|terminal|os)\s+commands?)\b").expect("compiles")
});
static WRITE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:writes?|writing|overwrites?|overwriting|deletes?|deleting|removes?|removing|modif(?:y|ies|ying)|truncates?|erases?|wipes?)\s+(?:\S+\s+){0,3}?(?:files?|director(?:y|ies)|folders?|disk|filesystem|home\s+directory)\b|\brm\s+-rf\b|\bchmod\b").expect("compiles")
});
static NET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:posts?|uploads?|uploading|sends?|sending|transmits?|forwards?|exfiltrat[a-z]{0,6}|beacons?|phones?\s+home|reports?|syncs?|copies)\b(?:\s+\S+){0,6}?\s+(?:to|at)\s+(?:\S+\s+){0,3}?(?:external|remote|third[- ]party|analytics|tracking|telemetry|collector|attacker|webhook|pastebin|ngrok|https?://)").expect("compiles")
});
static CRED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:ssh|private)\s+keys?\b|\b(?:the\s+user'?s|all|your|stored|saved)\s+(?:credentials|passwords|api\s+keys|secrets|tokens|cookies)\b|\benvironment\s+variables\b").expect("compiles")
});
static NEGATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:not|never|no|without|nor)\b|n't\b").expect("compiles"));
static SIDE_CHANNEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:also|additionally|secretly|silently|quietly|in\s+the\s+background|covertly|as\s+well)\b").expect("compiles")
});

fn name_tokens(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The clause (between `;`, `,`, sentence ends) around a byte offset.
fn clause(t: &str, s: usize, e: usize) -> &str {
    let from = super::context::sentence_start(t, s).min(s);
    let to = super::context::sentence_end(t, e).max(e);
    let lo = t[from..s]
        .rfind(['.', ';', ',', '\n', ':'])
        .map_or(from, |i| from + i + 1);
    let hi = t[e..to].find(['.', ';', ',', '\n']).map_or(to, |i| e + i);
    &t[lo..hi]
}

fn negated(t: &str, s: usize) -> bool {
    let from = super::context::sentence_start(t, s).min(s);
    let lo = t[from..s]
        .rfind(['.', ';', ',', '\n'])
        .map_or(from, |i| from + i + 1);
    let words: Vec<&str> = t[lo..s].split_whitespace().rev().take(4).collect();
    words.iter().any(|w| NEGATION.is_match(w))
}

/// Capability-mismatch finding for `tool`, as (field, hit).
pub(crate) fn mismatch_hits(
    tool: &ToolDescriptor,
    fields: &[(String, String)],
) -> Vec<(String, Hit)> {
    let tokens = name_tokens(&tool.name);
    if tokens
        .iter()
        .any(|t| CAPABILITY_WORDS.contains(&t.as_str()))
    {
        return Vec::new();
    }
    let harmless: Vec<&String> = tokens
        .iter()
        .filter(|t| HARMLESS.contains(&t.as_str()))
        .collect();
    let read_only_name = tokens
        .first()
        .is_some_and(|t| READ_ONLY.contains(&t.as_str()));
    let read_only_claim = READ_ONLY_CLAIM.is_match(&tool.description);
    if harmless.is_empty() && !read_only_name && !read_only_claim {
        return Vec::new();
    }
    let claim = if !harmless.is_empty() {
        format!("its name (`{}`) claims a harmless purpose", tool.name)
    } else if read_only_claim {
        "it claims to be read-only".to_string()
    } else {
        format!("its name (`{}`) claims to only read", tool.name)
    };
    for (field, t) in fields {
        if field == "name" {
            continue;
        }
        let mut found: Option<(usize, usize, &str, bool)> = None;
        let mut consider = |s: usize, e: usize, what: &'static str, cred: bool| {
            if found.is_none() && !negated(t, s) && framing(t, s, e) != Framing::Mention {
                found = Some((s, e, what, cred));
            }
        };
        if !harmless.is_empty() {
            for (s, e) in credential_paths(t) {
                consider(s, e, "reads credential files", true);
            }
            for m in CRED.find_iter(t) {
                consider(m.start(), m.end(), "handles credentials", true);
            }
        }
        for m in SHELL.find_iter(t) {
            consider(m.start(), m.end(), "runs shell commands", false);
        }
        let transform = tokens.iter().any(|t| TRANSFORMS.contains(&t.as_str()));
        if !transform || harmless.is_empty() {
            for m in WRITE.find_iter(t) {
                consider(m.start(), m.end(), "writes or deletes files", false);
            }
        }
        for m in NET.find_iter(t) {
            let cl = clause(t, m.start(), m.end()).to_ascii_lowercase();
            // "sends the text to an external translation API" is the purpose.
            let on_purpose = harmless.iter().any(|h| cl.contains(&h[..h.len().min(5)]));
            if !on_purpose {
                consider(m.start(), m.end(), "uploads data to an outside host", false);
            }
        }
        if let Some((s, e, what, cred)) = found {
            let side = SIDE_CHANNEL.is_match(clause(t, s, e));
            let mut hit = Hit::new(
                "BWK-TOOL-CAPABILITY-MISMATCH",
                s,
                e,
                format!("tool {what}, but {claim}"),
                format!(
                    "{what}{}: \"{}\"",
                    if side { " (as a side effect)" } else { "" },
                    clip(clause(t, s, e).trim(), 160)
                ),
            )
            .confidence(if side || cred {
                Confidence::High
            } else {
                Confidence::Medium
            });
            if cred {
                hit = hit.severity(Severity::High);
            }
            return vec![(field.clone(), hit)];
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split() {
        assert_eq!(name_tokens("getWeatherNow"), vec!["get", "weather", "now"]);
        assert_eq!(
            name_tokens("send_email-secure"),
            vec!["send", "email", "secure"]
        );
    }
}
