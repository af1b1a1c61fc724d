//! Defanged text made searchable: `hxxp`, `[.]`, `(.)`, `{.}`, `[dot]`,
//! ` dot `, `[@]`, `[at]`, ` at `, `[:]`, `[/]` and `[://]` are rewritten to
//! what they stand for, and every position in the rewritten text maps back
//! to the original, so indicators report where they were found.

use std::borrow::Cow;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Marker → replacement. Matched ASCII case-insensitively, longest first.
const MARKERS: &[(&str, &str)] = &[
    ("[.]", "."),
    ("(.)", "."),
    ("{.}", "."),
    ("[dot]", "."),
    ("(dot)", "."),
    ("{dot}", "."),
    ("[ dot ]", "."),
    ("[.dot.]", "."),
    (" dot ", "."),
    ("[@]", "@"),
    ("(@)", "@"),
    ("{@}", "@"),
    ("[at]", "@"),
    ("(at)", "@"),
    ("{at}", "@"),
    (" at ", "@"),
    ("[:]", ":"),
    ("[://]", "://"),
    ("[:/]", ":/"),
    ("[/]", "/"),
    ("[//]", "//"),
    ("hxxp", "http"),
    ("hxtp", "http"),
    ("htxp", "http"),
    ("fxp", "ftp"),
    ("[.]]", "."),
];

fn markers() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(MARKERS.iter().map(|(m, _)| m.as_bytes()))
            .expect("the defang markers are valid")
    })
}

/// One rewrite: `orig_len` bytes at `orig_start` became `norm_len` bytes at `norm_start`.
#[derive(Debug, Clone, Copy)]
struct Edit {
    norm_start: usize,
    norm_len: usize,
    orig_start: usize,
    orig_len: usize,
}

/// The rewritten text and the way back.
#[derive(Debug)]
pub struct Refanged<'a> {
    pub text: Cow<'a, [u8]>,
    edits: Vec<Edit>,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_local_part(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'%')
}

/// Whether the text at `at` starts with a defanged dot (`[.]`, ` dot ` ...).
fn starts_with_defanged_dot(text: &[u8], at: usize) -> bool {
    let rest = &text[at.min(text.len())..];
    let head = &rest[..rest.len().min(8)];
    let lower: Vec<u8> = head.iter().map(|b| b.to_ascii_lowercase()).collect();
    [
        &b"[.]"[..],
        b"(.)",
        b"{.}",
        b"[dot]",
        b"(dot)",
        b"{dot}",
        b" dot ",
    ]
    .iter()
    .any(|m| lower.starts_with(m))
}

/// Whether a matched marker is a defang here (` at ` and ` dot ` are
/// ordinary words far more often than not).
fn applies(text: &[u8], start: usize, end: usize, marker: &str) -> bool {
    let before = start.checked_sub(1).map(|i| text[i]);
    let after = text.get(end).copied();
    match marker {
        " dot " => {
            before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-')
                && after.is_some_and(|b| b.is_ascii_alphanumeric())
        }
        " at " => {
            // `user at example dot com` or `user at example[.]com`: the
            // next word must be followed by a defanged dot.
            if !before.is_some_and(is_local_part)
                || !after.is_some_and(|b| b.is_ascii_alphanumeric())
            {
                return false;
            }
            let mut i = end;
            while i < text.len() && is_word(text[i]) {
                i += 1;
            }
            starts_with_defanged_dot(text, i)
        }
        "hxxp" | "hxtp" | "htxp" | "fxp" => {
            // A scheme: not inside a word, followed by `s`, `:` or `[`.
            !before.is_some_and(|b| b.is_ascii_alphanumeric())
                && match after {
                    Some(b's' | b'S') => {
                        matches!(text.get(end + 1), Some(b':' | b'['))
                    }
                    Some(b':' | b'[') => true,
                    _ => false,
                }
        }
        _ => true,
    }
}

/// Rewrite defanged markers. Text without any is borrowed as it is.
pub fn refang(text: &[u8]) -> Refanged<'_> {
    let mut edits = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    let mut copied = 0;
    for m in markers().find_iter(text) {
        let (start, end) = (m.start(), m.end());
        let (marker, replacement) = MARKERS[m.pattern().as_usize()];
        if !applies(text, start, end, marker) {
            continue;
        }
        if out.capacity() == 0 {
            out.reserve(text.len());
        }
        out.extend_from_slice(&text[copied..start]);
        let mut replacement = replacement.as_bytes().to_vec();
        if marker == "hxxp" || marker == "hxtp" || marker == "htxp" || marker == "fxp" {
            // Keep the case of the scheme's first letter out of the value.
            replacement.make_ascii_lowercase();
        }
        edits.push(Edit {
            norm_start: out.len(),
            norm_len: replacement.len(),
            orig_start: start,
            orig_len: end - start,
        });
        out.extend_from_slice(&replacement);
        copied = end;
    }
    if edits.is_empty() {
        return Refanged {
            text: Cow::Borrowed(text),
            edits,
        };
    }
    out.extend_from_slice(&text[copied..]);
    Refanged {
        text: Cow::Owned(out),
        edits,
    }
}

impl Refanged<'_> {
    /// The original span of the rewritten span `start..end`, and whether any
    /// rewrite lies inside it.
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize, bool) {
        if self.edits.is_empty() {
            return (start, end, false);
        }
        // One binary search; the end and the overlap test step on from it
        // (a match covers few edits).
        let mut i = self
            .edits
            .partition_point(|e| e.norm_start + e.norm_len <= start);
        let o_start = self.map_from(i, start, false);
        let defanged = self.edits.get(i).is_some_and(|e| e.norm_start < end);
        let last = if end > start { end - 1 } else { start };
        while i < self.edits.len() && self.edits[i].norm_start + self.edits[i].norm_len <= last {
            i += 1;
        }
        let o_end = if end > start {
            self.map_from(i, last, true)
        } else {
            o_start
        };
        (o_start, o_end, defanged)
    }

    /// Original offset of rewritten byte `n`, given the index of the first
    /// edit that does not end at or before `n`; with `end`, the offset just past it.
    fn map_from(&self, i: usize, n: usize, end: bool) -> usize {
        let bump = usize::from(end);
        if let Some(e) = self.edits.get(i)
            && e.norm_start <= n
        {
            // Inside this edit.
            return if end {
                e.orig_start + e.orig_len
            } else {
                e.orig_start
            };
        }
        match i.checked_sub(1).map(|j| self.edits[j]) {
            None => n + bump,
            Some(e) => e.orig_start + e.orig_len + (n - e.norm_start - e.norm_len) + bump,
        }
    }
}

/// Refang a single value (for callers holding one indicator, not a text).
pub fn refang_str(value: &str) -> String {
    String::from_utf8_lossy(&refang(value.as_bytes()).text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        refang_str(s)
    }

    #[test]
    fn markers_are_rewritten() {
        assert_eq!(r("hxxps[:]//evil[.]com[/]a"), "https://evil.com/a");
        assert_eq!(r("evil(.)com"), "evil.com");
        assert_eq!(r("evil{.}com"), "evil.com");
        assert_eq!(r("evil[DOT]com"), "evil.com");
        assert_eq!(r("evil dot com"), "evil.com");
        assert_eq!(r("bob[@]evil[.]com"), "bob@evil.com");
        assert_eq!(r("bob at evil dot com"), "bob@evil.com");
        assert_eq!(r("HXXP://x"), "http://x");
    }

    #[test]
    fn ordinary_words_stay() {
        assert_eq!(r("look at this dot"), "look at this dot");
        assert_eq!(r("meet me at example.com"), "meet me at example.com");
        assert_eq!(r("the hxxpd daemon"), "the hxxpd daemon");
        assert_eq!(r("a dot ."), "a dot .");
    }

    #[test]
    fn spans_map_back() {
        let text = b"go to hxxp://evil[.]com now";
        let rf = refang(text);
        let norm = std::str::from_utf8(&rf.text).unwrap();
        let start = norm.find("http").unwrap();
        let end = norm.find(" now").unwrap();
        let (s, e, defanged) = rf.original_span(start, end);
        assert_eq!(&text[s..e], b"hxxp://evil[.]com");
        assert!(defanged);
        let now = norm.find("now").unwrap();
        let (s, e, defanged) = rf.original_span(now, now + 3);
        assert_eq!(&text[s..e], b"now");
        assert!(!defanged);
    }
}
