//! `bulwark-ignore` comments.

/// Whether a finding of `rule_id` on `line_text` is suppressed by a
/// `bulwark-ignore` comment on that line or on the line above
/// (`prev_line_text`, empty for the first line).
///
/// `bulwark-ignore` alone suppresses every rule; `bulwark-ignore: ID[, ID…]`
/// only the listed ones. An id ending in `*` is a prefix
/// (`bulwark-ignore: BWK-SECRET-*`). Ids compare case-insensitively.
pub fn suppressed(line_text: &str, prev_line_text: &str, rule_id: &str) -> bool {
    directive_allows(line_text, rule_id) || directive_allows(prev_line_text, rule_id)
}

const MARKER: &str = "bulwark-ignore";

fn directive_allows(line: &str, rule_id: &str) -> bool {
    let mut rest = line;
    while let Some(at) = find_ascii_ci(rest, MARKER) {
        let after = &rest[at + MARKER.len()..];
        // `bulwark-ignore-foo` is another word, not the directive.
        let next = after.chars().next();
        if matches!(next, Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            rest = after;
            continue;
        }
        let trimmed = after.trim_start();
        let Some(list) = trimmed.strip_prefix(':') else {
            return true; // bare directive: every rule
        };
        let mut any = false;
        for token in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(|t| {
                t.trim_matches(|c: char| {
                    !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*')
                })
            })
        {
            if token.is_empty() {
                continue;
            }
            if !looks_like_rule_id(token) {
                break;
            }
            any = true;
            if id_matches(token, rule_id) {
                return true;
            }
        }
        if !any {
            return true; // `bulwark-ignore:` with nothing usable after it
        }
        rest = after;
    }
    false
}

fn looks_like_rule_id(token: &str) -> bool {
    token.contains('-') || token.ends_with('*')
}

fn id_matches(pattern: &str, rule_id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => rule_id
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
        None => pattern.eq_ignore_ascii_case(rule_id),
    }
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "BWK-SECRET-AWS-ACCESS-KEY";

    #[test]
    fn bare_directive_suppresses_everything() {
        assert!(suppressed("key = 'x' # bulwark-ignore", "", R));
        assert!(suppressed("key = 'x'", "// bulwark-ignore", R));
        assert!(suppressed("key = 'x' /* Bulwark-Ignore */", "", R));
    }

    #[test]
    fn listed_ids_only() {
        assert!(suppressed(
            "x # bulwark-ignore: BWK-SECRET-AWS-ACCESS-KEY",
            "",
            R
        ));
        assert!(suppressed(
            "x # bulwark-ignore: BWK-SECRET-JWT, BWK-SECRET-AWS-ACCESS-KEY",
            "",
            R
        ));
        assert!(!suppressed("x # bulwark-ignore: BWK-SECRET-JWT", "", R));
        assert!(suppressed("x # bulwark-ignore: BWK-SECRET-*", "", R));
        assert!(!suppressed("x # bulwark-ignore: BWK-TOOL-*", "", R));
        assert!(suppressed(
            "x # bulwark-ignore: bwk-secret-aws-access-key",
            "",
            R
        ));
    }

    #[test]
    fn not_two_lines_up_and_not_other_words() {
        assert!(!suppressed("x", "", R));
        assert!(!suppressed("x # bulwark-ignored-file", "", R));
        assert!(!suppressed("x", "y", R));
    }

    #[test]
    fn reason_after_ids_is_fine() {
        assert!(suppressed(
            "x # bulwark-ignore: BWK-SECRET-AWS-ACCESS-KEY test fixture",
            "",
            R
        ));
        assert!(!suppressed(
            "x # bulwark-ignore: BWK-SECRET-JWT test fixture",
            "",
            R
        ));
    }
}
