//! `bulwark-ignore` comments.
//!
//! A comment containing `bulwark-ignore` on a finding's line, or on the line
//! above it, drops the finding. `bulwark-ignore: BWK-A, BWK-B` drops only
//! those rules; a trailing `*` matches a prefix (`BWK-SECRET-*`). The marker
//! must follow a comment opener on that line (`#`, `//`, `/*`, `<!--`, `--`,
//! `;`, `%`, `REM`) or sit on a continuation line of a block comment
//! (starting with `*`), so a string literal mentioning the word does not
//! silence anything by accident.

use crate::text::nth_line;

const MARKER: &str = "bulwark-ignore";

/// Whether a finding of `rule_id` on 1-based `line` of `text` is silenced.
pub fn is_suppressed(text: &str, line: u32, rule_id: &str) -> bool {
    let here = nth_line(text, line);
    let above = line.checked_sub(1).and_then(|l| nth_line(text, l));
    [here, above]
        .into_iter()
        .flatten()
        .any(|l| line_suppresses(l, rule_id))
}

fn line_suppresses(line: &str, rule_id: &str) -> bool {
    let mut search = 0;
    while let Some(found) = line[search..].find(MARKER) {
        let at = search + found;
        search = at + MARKER.len();
        if !after_comment_opener(&line[..at]) {
            continue;
        }
        let rest = &line[at + MARKER.len()..];
        // `bulwark-ignored` or `bulwark-ignore-next` are other words.
        if rest
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            continue;
        }
        let rest = rest.trim_start();
        let Some(list) = rest.strip_prefix(':') else {
            return true;
        };
        let ids = rule_ids(list);
        if ids.is_empty() || ids.iter().any(|id| rule_matches(id, rule_id)) {
            return true;
        }
    }
    false
}

fn after_comment_opener(before: &str) -> bool {
    let trimmed = before.trim_start();
    if trimmed.starts_with('*') || trimmed.to_ascii_uppercase().starts_with("REM ") {
        return true;
    }
    ["#", "//", "/*", "<!--", "--", ";", "%", "{#"]
        .iter()
        .any(|opener| before.contains(opener))
}

/// Rule ids at the start of `list`, separated by commas or blanks; stops at
/// the first word that is not an id (`--`, `*/`, a reason in prose).
fn rule_ids(list: &str) -> Vec<&str> {
    let mut ids = Vec::new();
    for word in list.split(|c: char| c == ',' || c.is_whitespace()) {
        if word.is_empty() {
            continue;
        }
        let word = word.trim_end_matches("*/").trim_end_matches("-->");
        if is_rule_id(word) {
            ids.push(word);
        } else {
            break;
        }
    }
    ids
}

fn is_rule_id(word: &str) -> bool {
    let body = word.strip_suffix('*').unwrap_or(word);
    body.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && body
            .chars()
            .any(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

fn rule_matches(pattern: &str, rule_id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => rule_id
            .to_ascii_uppercase()
            .starts_with(&prefix.to_ascii_uppercase()),
        None => pattern.eq_ignore_ascii_case(rule_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_styles() {
        let py = "x = 1\nkey = 'AKIA...'  # bulwark-ignore: BWK-SECRET-AWS\n";
        assert!(is_suppressed(py, 2, "BWK-SECRET-AWS"));
        assert!(!is_suppressed(py, 2, "BWK-OTHER"));
        let js = "// bulwark-ignore\nexec(cmd)\n";
        assert!(is_suppressed(js, 2, "ANY"));
        assert!(!is_suppressed(js, 3, "ANY"));
        let block = "/* bulwark-ignore: BWK-A, BWK-B */\nfoo()\n";
        assert!(is_suppressed(block, 2, "BWK-B"));
        assert!(!is_suppressed(block, 2, "BWK-C"));
        let inline = "foo() /* bulwark-ignore: BWK-A*/";
        assert!(is_suppressed(inline, 1, "BWK-A"));
        let prefix = "# bulwark-ignore: BWK-SECRET-* -- test keys\nk='x'";
        assert!(is_suppressed(prefix, 2, "BWK-SECRET-AWS-KEY"));
        assert!(!is_suppressed(prefix, 2, "BWK-CONFIG-PLAIN-HTTP"));
        let continuation = "/**\n * bulwark-ignore: BWK-A\n */\n";
        assert!(is_suppressed(continuation, 2, "BWK-A"));
    }

    #[test]
    fn not_in_plain_code_or_other_words() {
        assert!(!is_suppressed("print('bulwark-ignore')", 1, "X"));
        assert!(!is_suppressed("# bulwark-ignored here", 1, "X"));
        assert!(!is_suppressed("a\nb\n# bulwark-ignore\n", 1, "X"));
        assert!(!is_suppressed("", 0, "X"));
    }
}
