//! Positions and snippets in source text.

/// Maps byte offsets of one text to 1-based line and character column.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> LineIndex<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub(crate) fn position(&self, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let column = self.text[self.starts[line]..offset].chars().count() + 1;
        (line as u32 + 1, column as u32)
    }

    /// The text of 1-based `line`, without its line terminator.
    pub(crate) fn line(&self, line: u32) -> &'a str {
        line_text(self.text, &self.starts, line)
    }
}

fn line_text<'a>(text: &'a str, starts: &[usize], line: u32) -> &'a str {
    let Some(index) = (line as usize).checked_sub(1) else {
        return "";
    };
    let Some(&start) = starts.get(index) else {
        return "";
    };
    let end = starts.get(index + 1).map_or(text.len(), |&next| next - 1);
    text[start..end].trim_end_matches('\r')
}

/// Lines of `text` as slices, 1-based access, without building an index of
/// the whole file when only two lines are needed.
pub(crate) fn nth_line(text: &str, line: u32) -> Option<&str> {
    let index = (line as usize).checked_sub(1)?;
    text.split('\n')
        .nth(index)
        .map(|l| l.trim_end_matches('\r'))
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// One line, trimmed, at most 200 characters, for [`bulwark_detect::Finding::snippet`].
pub(crate) fn snippet(line: &str) -> String {
    let trimmed = line.trim();
    if trimmed.chars().count() <= 200 {
        return trimmed.to_string();
    }
    let mut out: String = trimmed.chars().take(199).collect();
    out.push('…');
    out
}

/// At most 200 characters of `line` around 1-based character `column`
/// (the start of the line when it is short enough), trimmed.
pub(crate) fn snippet_around(line: &str, column: u32) -> String {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= 200 {
        return snippet(line);
    }
    let at = (column as usize).saturating_sub(1).min(chars.len());
    let start = at.saturating_sub(60);
    let end = (start + 198).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    out.trim().to_string()
}

/// Like [`snippet_around`], with every occurrence of each secret masked; the
/// window is widened rather than cut through a secret, so no fragment of one
/// survives.
pub(crate) fn masked_snippet_around(line: &str, column: u32, secrets: &[String]) -> String {
    let chars: Vec<char> = line.chars().collect();
    let (mut start, mut end) = if chars.len() <= 200 {
        (0, chars.len())
    } else {
        let at = (column as usize).saturating_sub(1).min(chars.len());
        let start = at.saturating_sub(60);
        (start, (start + 198).min(chars.len()))
    };
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in &secrets {
        for (byte, _) in line.match_indices(secret.as_str()) {
            let a = line[..byte].chars().count();
            let b = a + secret.chars().count();
            if a < start && start < b {
                start = a;
            }
            if a < end && end < b {
                end = b;
            }
        }
    }
    let mut window: String = chars[start..end].iter().collect();
    for secret in &secrets {
        window = window.replace(secret.as_str(), &mask(secret));
    }
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(window.trim());
    if end < chars.len() {
        out.push('…');
    }
    if out.chars().count() > 200 {
        out = out.chars().take(199).collect();
        out.push('…');
    }
    out
}

/// Keeps a recognisable prefix of a secret and hides the rest:
/// `ghp_abcdef…` → `ghp_****`.
pub(crate) fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let keep = if chars.len() >= 16 {
        4
    } else if chars.len() >= 8 {
        2
    } else {
        0
    };
    let mut out: String = chars[..keep].iter().collect();
    out.push_str("****");
    out
}

/// Shannon entropy of `text` in bits per character.
pub(crate) fn entropy(text: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut total = 0usize;
    for c in text.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    counts
        .values()
        .map(|&n| {
            let p = n as f64 / total as f64;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        let text = "ab\nçé x\r\nlast";
        let index = LineIndex::new(text);
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(3), (2, 1));
        let x = text.find('x').unwrap();
        assert_eq!(index.position(x), (2, 4));
        assert_eq!(index.line(2), "çé x");
        assert_eq!(index.line(3), "last");
        assert_eq!(index.line(4), "");
        assert_eq!(nth_line(text, 2), Some("çé x"));
    }

    #[test]
    fn masks_and_snips() {
        assert_eq!(mask("ghp_0123456789abcdef0123"), "ghp_****");
        assert_eq!(mask("short"), "****");
        assert_eq!(
            masked_snippet_around(
                "  \"TOKEN\": \"ghp_0123456789abcdef0123\"",
                1,
                &["ghp_0123456789abcdef0123".to_string()]
            ),
            "\"TOKEN\": \"ghp_****\""
        );
        let long = format!("{}SECRETSECRETSECRET{}", "a".repeat(150), "b".repeat(150));
        let cut = masked_snippet_around(&long, 300, &["SECRETSECRETSECRET".to_string()]);
        assert!(!cut.contains("SECRET") && !cut.contains("ETSE"), "{cut}");
        assert!(cut.chars().count() <= 200);
        assert_eq!(snippet(&"x".repeat(500)).chars().count(), 200);
        assert!(entropy("aaaa") < 0.1);
        assert!(entropy("a8F!kq2Z") > 2.9);
    }
}
