//! Secret detection over text files.
//!
//! One Aho-Corasick pass finds the literal keywords (token prefixes such as
//! `ghp_`, provider names such as `datadog`, assignment words such as
//! `password`). Only the lines around those hits are handed to the regexes of
//! the patterns the keyword belongs to, and every regex match goes through a
//! check (placeholder allowlist, entropy, format-specific validation) before
//! it becomes a finding. Text without keywords costs one linear pass.

mod checks;
mod patterns;
mod validate;

use std::collections::BTreeMap;
use std::sync::{LazyLock, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::Regex;

use crate::finding::{Confidence, Finding, Location, Severity};
use crate::mask::mask_secret;
use crate::rules::RULES;
use crate::suppress::suppressed;
use checks::{Ctx, Verdict, ceil, floor};
use patterns::{PATTERNS, Pattern, Re};
pub(crate) use validate::{b64_any, entropy};

struct Prefilter {
    ci: AhoCorasick,
    ci_map: Vec<Vec<u16>>,
    cs: AhoCorasick,
    cs_map: Vec<Vec<u16>>,
}

fn build_automaton(words: &[String], ci: bool) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(ci)
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .build(words)
        .expect("keyword automaton builds")
}

static PREFILTER: LazyLock<Prefilter> = LazyLock::new(|| {
    let mut ci_words: Vec<String> = Vec::new();
    let mut ci_map: Vec<Vec<u16>> = Vec::new();
    let mut cs_words: Vec<String> = Vec::new();
    let mut cs_map: Vec<Vec<u16>> = Vec::new();
    for (i, p) in PATTERNS.iter().enumerate() {
        for kw in p.keywords {
            let (words, map, key) = if p.ci {
                (&mut ci_words, &mut ci_map, kw.to_ascii_lowercase())
            } else {
                (&mut cs_words, &mut cs_map, kw.to_string())
            };
            match words.iter().position(|w| *w == key) {
                Some(at) => map[at].push(i as u16),
                None => {
                    words.push(key);
                    map.push(vec![i as u16]);
                }
            }
        }
    }
    Prefilter {
        ci: build_automaton(&ci_words, true),
        ci_map,
        cs: build_automaton(&cs_words, false),
        cs_map,
    }
});

static REGEXES: LazyLock<Vec<OnceLock<Regex>>> =
    LazyLock::new(|| PATTERNS.iter().map(|_| OnceLock::new()).collect());

fn pattern_source(p: &Pattern) -> String {
    let src = match p.re {
        Re::Raw(s) => s.to_string(),
        Re::Kw(kw, val) => format!(
            r#"(?i:{kw})[A-Za-z0-9_.\-]{{0,30}}["'`\]]{{0,2}}\s{{0,5}}(?:=|:=|:|=>|,)\s{{0,5}}["'`]?(?P<s>{val})(?:[^A-Za-z0-9_\-]|$)"#
        ),
    };
    src.replace(r"\b", r"(?-u:\b)")
}

fn regex_for(i: usize) -> &'static Regex {
    REGEXES[i]
        .get_or_init(|| Regex::new(&pattern_source(&PATTERNS[i])).expect("secret pattern compiles"))
}

/// A match that passed its check.
struct Candidate {
    pattern: usize,
    rule: &'static str,
    severity: Severity,
    confidence: Confidence,
    note: String,
    start: usize,
    end: usize,
    span: (usize, usize),
    mask: (usize, usize),
}

fn rule_severity(id: &str) -> Severity {
    RULES
        .iter()
        .find(|r| r.id == id)
        .map_or(Severity::High, |r| r.severity)
}

fn rule_title(id: &str) -> &'static str {
    RULES
        .iter()
        .find(|r| r.id == id)
        .map_or("Secret", |r| r.title)
}

/// Scans `text` (the contents of `path`) for credentials. Findings carry
/// `Location::File` with 1-based line and character column, and masked
/// snippets and evidence. `bulwark-ignore` comments on the same line or the
/// line above suppress (see [`crate::suppressed`]).
pub fn scan_secrets(path: &str, text: &str) -> Vec<Finding> {
    let mut candidates = collect(text);
    if candidates.is_empty() {
        return Vec::new();
    }
    let accepted = resolve_overlaps(&mut candidates);
    build_findings(path, text, accepted)
}

/// One secret in a text: the detector rule that found it and the bytes to
/// hide (for a connection string, the password only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpan {
    pub rule: &'static str,
    pub start: usize,
    pub end: usize,
}

/// The secrets in `text`, by position, without overlaps. Unlike
/// [`scan_secrets`], `bulwark-ignore` comments are not honoured: this is for
/// redacting text someone else wrote (an upstream server's response), who
/// must not be able to wave a secret through.
pub fn find_secrets(text: &str) -> Vec<SecretSpan> {
    let mut candidates = collect(text);
    if candidates.is_empty() {
        return Vec::new();
    }
    let mut spans: Vec<SecretSpan> = resolve_overlaps(&mut candidates)
        .into_iter()
        .map(|c| SecretSpan {
            rule: c.rule,
            start: c.mask.0.min(c.mask.1),
            end: c.mask.1.max(c.mask.0),
        })
        .filter(|s| s.end > s.start)
        .collect();
    spans.sort_by_key(|s| (s.start, s.end));
    // Masks of different patterns may still overlap: keep the first.
    let mut out: Vec<SecretSpan> = Vec::with_capacity(spans.len());
    for span in spans {
        if out.last().is_some_and(|last| span.start < last.end) {
            continue;
        }
        out.push(span);
    }
    out
}

fn collect(text: &str) -> Vec<Candidate> {
    let pf = &*PREFILTER;
    // (pattern, window start, window end)
    let mut windows: Vec<(u16, usize, usize)> = Vec::new();
    let bytes = text.as_bytes();
    let find_nl = |from: usize| {
        bytes[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |n| from + n)
    };
    for (ac, map) in [(&pf.ci, &pf.ci_map), (&pf.cs, &pf.cs_map)] {
        // The current line, advanced as hits move on: each byte is looked
        // at once per pass however many hits a line has.
        let mut line = (0usize, find_nl(0));
        for m in ac.find_overlapping_iter(text) {
            let (hs, he) = (m.start(), m.end());
            while hs > line.1 {
                line = (line.1 + 1, find_nl(line.1 + 1));
            }
            for &pi in &map[m.pattern().as_usize()] {
                let p = &PATTERNS[pi as usize];
                let lo = hs.saturating_sub(p.before).max(line.0);
                let hi = (he + p.after).min(line.1).max(he);
                windows.push((pi, lo, hi));
            }
        }
    }
    if windows.is_empty() {
        return Vec::new();
    }
    windows.sort_unstable();
    let mut out = Vec::new();
    let mut i = 0;
    while i < windows.len() {
        let (pi, lo, mut hi) = windows[i];
        let mut j = i + 1;
        while j < windows.len() && windows[j].0 == pi && windows[j].1 <= hi {
            hi = hi.max(windows[j].2);
            j += 1;
        }
        // Never cut a token: widen the merged window to the token's edges
        // (bounded).
        let (mut lo, mut hi) = (lo, hi);
        let stop = lo.saturating_sub(256);
        while lo > stop && bytes[lo - 1] != b'\n' && is_token_byte(bytes[lo - 1]) {
            lo -= 1;
        }
        let stop = (hi + 256).min(bytes.len());
        while hi < stop && is_token_byte(bytes[hi]) {
            hi += 1;
        }
        match_window(text, pi as usize, floor(text, lo), ceil(text, hi), &mut out);
        i = j;
    }
    out
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+' | b'/' | b'=' | b'~')
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// JWT candidates by a linear scan: a regex with long token runs retried at
/// every `eyJ` of a long run would be quadratic.
fn jwt_spans(text: &str, lo: usize, hi: usize) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let run = |mut i: usize| {
        let stop = (i + 16 * 1024).min(hi);
        while i < stop && is_b64url(b[i]) {
            i += 1;
        }
        i
    };
    let mut spans = Vec::new();
    let mut i = lo;
    while let Some(p) = text[i..hi].find("eyJ").map(|k| i + k) {
        if p > 0 && is_b64url(b[p - 1]) {
            // Inside a longer token: skip the rest of that token.
            i = run(p).max(p + 1);
            continue;
        }
        let e1 = run(p);
        if e1 >= hi || b[e1] != b'.' || !text[e1 + 1..hi].starts_with("eyJ") {
            i = e1.max(p + 1);
            continue;
        }
        let e2 = run(e1 + 1);
        if e2 >= hi || b[e2] != b'.' {
            i = e2.max(p + 1);
            continue;
        }
        let e3 = run(e2 + 1);
        // A fourth part (JWE, or a longer dotted token) is not a JWT.
        let more = e3 + 1 < hi && b[e3] == b'.' && is_b64url(b[e3 + 1]);
        if !more && e3 - (e2 + 1) >= 16 {
            spans.push((p, e3));
        }
        i = e3.max(p + 1);
    }
    spans
}

fn match_window(text: &str, pi: usize, lo: usize, hi: usize, out: &mut Vec<Candidate>) {
    let p = &PATTERNS[pi];
    let re = regex_for(pi);
    if p.name == "jwt" {
        for (s, e) in jwt_spans(text, lo, hi) {
            if let Some(caps) = re.captures(&text[s..e]) {
                on_match(text, pi, s, e, false, caps, out);
            }
        }
        return;
    }
    for caps in re.captures_iter(&text[lo..hi]) {
        on_match(text, pi, lo, hi, true, caps, out);
    }
}

/// Checks one regex match (positions relative to `lo`, window `[lo, hi)`).
fn on_match(
    text: &str,
    pi: usize,
    lo: usize,
    hi: usize,
    guard: bool,
    caps: regex::Captures<'_>,
    out: &mut Vec<Candidate>,
) {
    let p = &PATTERNS[pi];
    let hay = &text[lo..hi];
    let bytes = text.as_bytes();
    {
        let whole = caps.get(0).expect("group 0");
        // A match touching a window edge that is not a line edge may be a
        // piece of a longer token.
        if guard
            && whole.start() == 0
            && lo > 0
            && bytes[lo - 1] != b'\n'
            && is_token_byte(bytes[lo - 1])
        {
            return;
        }
        if guard
            && whole.end() == hay.len()
            && hi < text.len()
            && bytes[hi] != b'\n'
            && bytes[hi] != b'\r'
        {
            return;
        }
        let sm = caps.name("s").unwrap_or(whole);
        let secret = sm.as_str();
        if p.min_entropy > 0.0 && entropy(secret) < p.min_entropy {
            return;
        }
        if p.placeholder
            && (validate::is_placeholder(strip_keyword(p, secret))
                || validate::is_known_example(secret))
        {
            return;
        }
        let ctx = Ctx {
            text,
            caps: &caps,
            base: lo,
            secret,
            start: lo + sm.start(),
            end: lo + sm.end(),
            name: p.name,
        };
        let Some(v) = (p.check)(&ctx) else { return };
        let Verdict {
            rule,
            severity,
            confidence,
            note,
            span,
            mask,
        } = v;
        let rule = rule.unwrap_or(p.rule);
        let cand = Candidate {
            pattern: pi,
            rule,
            severity: severity.unwrap_or_else(|| rule_severity(rule)),
            confidence,
            note,
            start: ctx.start,
            end: ctx.end,
            span: span.unwrap_or((ctx.start, ctx.end)),
            mask: mask.unwrap_or((ctx.start, ctx.end)),
        };
        if rule == "BWK-SECRET-AWS-ACCESS-KEY" {
            aws_pair(text, &cand, out);
        }
        out.push(cand);
    }
}

/// The secret's body without the pattern's literal prefix, for the
/// placeholder check (`sk_test_…` must not count as a "test" placeholder).
fn strip_keyword<'a>(p: &Pattern, secret: &'a str) -> &'a str {
    p.keywords
        .iter()
        .filter(|k| {
            secret.len() > k.len()
                && secret.is_char_boundary(k.len())
                && secret[..k.len()].eq_ignore_ascii_case(k)
        })
        .map(|k| &secret[k.len()..])
        .min_by_key(|s| s.len())
        .unwrap_or(secret)
}

static AWS_SECRET_NEAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^A-Za-z0-9/+=])(?P<s>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)")
        .expect("compiles")
});

/// An AWS secret access key is 40 base64 characters; next to an access key
/// id (within 400 bytes) such a value is the key pair's secret half.
fn aws_pair(text: &str, key: &Candidate, out: &mut Vec<Candidate>) {
    let lo = floor(text, key.start.saturating_sub(400));
    let hi = ceil(text, (key.end + 400).min(text.len()));
    let aws_index = PATTERNS
        .iter()
        .position(|p| p.rule == "BWK-SECRET-AWS-SECRET-KEY")
        .unwrap_or(key.pattern);
    for caps in AWS_SECRET_NEAR.captures_iter(&text[lo..hi]) {
        let Some(m) = caps.name("s") else { continue };
        let s = m.as_str();
        let (l, u, d, _) = validate::classes(s);
        if l == 0 || u == 0 || d == 0 || entropy(s) < 4.2 || validate::is_placeholder(s) {
            continue;
        }
        let start = lo + m.start();
        // Mid-window edges could cut a longer run.
        if (m.start() == 0 && lo > 0) || (m.end() == hi - lo && hi < text.len()) {
            continue;
        }
        out.push(Candidate {
            pattern: aws_index,
            rule: "BWK-SECRET-AWS-SECRET-KEY",
            severity: Severity::Critical,
            confidence: Confidence::Medium,
            note: format!(
                "40-character secret beside access key id {}",
                mask_secret(&text[key.start..key.end])
            ),
            start,
            end: start + s.len(),
            span: (start, start + s.len()),
            mask: (start, start + s.len()),
        });
    }
}

/// Keeps, among overlapping candidates, the one of the earliest pattern.
fn resolve_overlaps(candidates: &mut [Candidate]) -> Vec<&Candidate> {
    candidates.sort_by_key(|c| (c.pattern, c.span.0));
    let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
    let mut accepted = Vec::new();
    for c in candidates.iter() {
        let (s, e) = c.span;
        let e = e.max(s + 1);
        let before = taken.range(..=s).next_back().is_some_and(|(_, &pe)| pe > s);
        let after = taken.range(s..e).next().is_some();
        if before || after {
            continue;
        }
        taken.insert(s, e);
        accepted.push(c);
    }
    accepted.sort_by_key(|c| c.start);
    accepted
}

fn looks_like_test_path(path: &str) -> bool {
    let p = path.replace('\\', "/").to_ascii_lowercase();
    p.split('/').any(|seg| {
        matches!(
            seg,
            "test"
                | "tests"
                | "__tests__"
                | "spec"
                | "specs"
                | "fixtures"
                | "fixture"
                | "testdata"
                | "examples"
                | "example"
                | "__mocks__"
                | "mocks"
        ) || seg.starts_with("test_")
            || seg.contains("_test.")
            || seg.contains(".test.")
            || seg.contains(".spec.")
            || seg.contains(".example")
            || seg.ends_with(".sample")
    })
}

fn build_findings(path: &str, text: &str, accepted: Vec<&Candidate>) -> Vec<Finding> {
    let newlines: Vec<usize> = memchr_all(text.as_bytes());
    let line_of = |pos: usize| newlines.partition_point(|&n| n < pos);
    let line_bounds = |idx: usize| {
        let start = if idx == 0 { 0 } else { newlines[idx - 1] + 1 };
        let end = newlines.get(idx).copied().unwrap_or(text.len());
        (start, end)
    };
    let test_path = looks_like_test_path(path);
    let mut findings = Vec::with_capacity(accepted.len());
    // Findings come sorted by position: columns are counted incrementally
    // and each line is searched for a directive once, so a long line with
    // many findings stays linear.
    let mut cursor: (usize, usize, u32) = (usize::MAX, 0, 1); // (line, byte, column)
    let mut directive: (usize, bool) = (usize::MAX, false);
    for c in &accepted {
        let idx = line_of(c.start);
        let (ls, le) = line_bounds(idx);
        let line = text[ls..le].trim_end_matches('\r');
        let prev = if idx == 0 {
            ""
        } else {
            let (ps, pe) = line_bounds(idx - 1);
            text[ps..pe].trim_end_matches('\r')
        };
        if directive.0 != idx {
            let has = |s: &str| {
                s.len() >= 14
                    && s.as_bytes()
                        .windows(14)
                        .any(|w| w.eq_ignore_ascii_case(b"bulwark-ignore"))
            };
            directive = (idx, has(line) || has(prev));
        }
        if directive.1 && suppressed(line, prev, c.rule) {
            continue;
        }
        let mut severity = c.severity;
        let mut confidence = c.confidence;
        let mut note = c.note.clone();
        if test_path
            && matches!(
                c.rule,
                "BWK-SECRET-GENERIC" | "BWK-SECRET-DATABASE-URL" | "BWK-SECRET-JWT"
            )
        {
            severity = severity.min(Severity::Low);
            confidence = Confidence::Low;
            note = if note.is_empty() {
                "in a test or example path".into()
            } else {
                format!("{note}; in a test or example path")
            };
        }
        if cursor.0 != idx || cursor.1 > c.start {
            cursor = (idx, ls, 1);
        }
        let column = cursor.2 + text[cursor.1..c.start].chars().count() as u32;
        cursor = (idx, c.start, column);
        let masked = mask_secret(&text[c.mask.0..c.mask.1]);
        let snippet = snippet(text, ls, le, c, &accepted);
        let p = &PATTERNS[c.pattern];
        let title = rule_title(c.rule);
        let shown = if c.mask.0 == c.mask.1 {
            String::new()
        } else {
            format!(" {masked}")
        };
        let message = if note.is_empty() {
            format!("{title}{shown}")
        } else {
            format!("{title}{shown} ({note})")
        };
        let ent = entropy(&text[c.start..c.end]);
        let mut evidence = format!("pattern {}", p.name);
        if !shown.is_empty() {
            evidence.push_str(&format!("; value{shown}"));
        }
        evidence.push_str(&format!("; entropy {ent:.1}"));
        if !note.is_empty() {
            evidence.push_str("; ");
            evidence.push_str(&note);
        }
        findings.push(Finding {
            rule_id: c.rule.to_string(),
            severity,
            confidence,
            location: Location::File {
                path: path.to_string(),
                line: idx as u32 + 1,
                column,
            },
            message,
            snippet,
            evidence,
        });
    }
    findings
}

fn memchr_all(bytes: &[u8]) -> Vec<usize> {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .collect()
}

/// The line around `c`, every secret on it masked, trimmed, at most 200
/// characters.
fn snippet(text: &str, ls: usize, le: usize, c: &Candidate, all: &[&Candidate]) -> String {
    let lo = floor(text, c.start.saturating_sub(300).max(ls));
    let hi = ceil(text, (c.end + 300).min(le));
    // `all` is sorted by start; masks start at or after their candidate's
    // start and are shorter than a candidate span (< 20 KiB).
    let first = all.partition_point(|o| o.start + 20 * 1024 < lo);
    let mut masks: Vec<(usize, usize)> = all[first..]
        .iter()
        .take_while(|o| o.start < hi)
        .map(|o| o.mask)
        .filter(|&(s, e)| e > s && s < hi && e > lo)
        .collect();
    masks.sort_unstable();
    let mut out = String::new();
    let mut at = lo;
    let mut focus = 0usize; // char offset of c in `out`
    for (s, e) in masks {
        let (s, e) = (s.max(at).max(lo), e.min(hi));
        if s >= e {
            continue;
        }
        out.push_str(&text[at..s]);
        if s <= c.start && c.start < e.max(s + 1) {
            focus = out.chars().count();
        }
        out.push_str(&mask_secret(&text[s..e]));
        at = e;
    }
    if at < hi {
        out.push_str(&text[at..hi]);
    }
    let out = out.replace('\t', " ");
    let lead = out.chars().take_while(|ch| ch.is_whitespace()).count();
    let trimmed: Vec<char> = out.trim().chars().collect();
    let focus = focus.saturating_sub(lead);
    if trimmed.len() <= 200 {
        return trimmed.into_iter().collect();
    }
    let from = focus.saturating_sub(60).min(trimmed.len() - 200);
    trimmed[from..from + 200].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for i in 0..PATTERNS.len() {
            let _ = regex_for(i);
        }
        let _ = &*PREFILTER;
    }
}

#[cfg(test)]
mod profile {
    use super::*;

    #[test]
    #[ignore]
    fn profile_compile_times() {
        let t0 = std::time::Instant::now();
        let _ = &*PREFILTER;
        println!("prefilter: {:?}", t0.elapsed());
        let mut times: Vec<(std::time::Duration, &str)> = (0..PATTERNS.len())
            .map(|i| {
                let t = std::time::Instant::now();
                let _ = regex_for(i);
                (t.elapsed(), PATTERNS[i].name)
            })
            .collect();
        println!("all regexes: {:?}", t0.elapsed());
        times.sort();
        for (d, n) in times.iter().rev().take(8) {
            println!("{n:<32} {d:?}");
        }
    }

    /// `cargo test -p bulwark-detect --release -- --ignored profile --nocapture`
    #[test]
    #[ignore]
    fn profile_phases_on_own_sources() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut text = String::new();
        let mut stack = vec![root.join("crates")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    text.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
                }
            }
        }
        let chunks: Vec<&str> = text
            .as_bytes()
            .chunks(20 * 1024)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        let _ = collect("warm password");
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let mut hits = 0usize;
            for c in &chunks {
                hits += PREFILTER.ci.find_overlapping_iter(*c).count()
                    + PREFILTER.cs.find_overlapping_iter(*c).count();
            }
            let ac = t.elapsed();
            let t = std::time::Instant::now();
            let n: usize = chunks.iter().map(|c| collect(c).len()).sum();
            let all = t.elapsed();
            println!(
                "{} KiB: prefilter {hits} hits in {ac:?}; collect {n} candidates in {all:?}",
                text.len() / 1024
            );
        }
        let mut per: Vec<(usize, usize)> = vec![(0, 0); PATTERNS.len()];
        for c in &chunks {
            for (ac, map) in [
                (&PREFILTER.ci, &PREFILTER.ci_map),
                (&PREFILTER.cs, &PREFILTER.cs_map),
            ] {
                for m in ac.find_overlapping_iter(*c) {
                    for &pi in &map[m.pattern().as_usize()] {
                        per[pi as usize].0 += 1;
                    }
                }
            }
        }
        for (i, (h, _)) in per.iter().enumerate() {
            if *h > 200 {
                println!("{:<32} {h}", PATTERNS[i].name);
            }
        }
    }
}
