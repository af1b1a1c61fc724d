//! The extractor: one pass of one combined regex over the refanged text
//! (leftmost-first, so a URL claims the domain inside it), validation of
//! each candidate, and aggregation by type and value.

use std::collections::HashMap;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};

use regex::bytes::{Regex, RegexBuilder};
use regex_automata::meta::Regex as MetaRegex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::refang::{Refanged, refang};
use crate::validate;

/// What kind of indicator a value is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IocType {
    Url,
    Domain,
    Ipv4,
    Ipv6,
    Cidr,
    Email,
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Cve,
    AttackTechnique,
    WindowsPath,
    UnixPath,
    RegistryKey,
    MacAddress,
    BitcoinAddress,
    Custom,
}

impl IocType {
    pub const ALL: &'static [IocType] = &[
        IocType::Url,
        IocType::Domain,
        IocType::Ipv4,
        IocType::Ipv6,
        IocType::Cidr,
        IocType::Email,
        IocType::Md5,
        IocType::Sha1,
        IocType::Sha256,
        IocType::Sha512,
        IocType::Cve,
        IocType::AttackTechnique,
        IocType::WindowsPath,
        IocType::UnixPath,
        IocType::RegistryKey,
        IocType::MacAddress,
        IocType::BitcoinAddress,
        IocType::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IocType::Url => "url",
            IocType::Domain => "domain",
            IocType::Ipv4 => "ipv4",
            IocType::Ipv6 => "ipv6",
            IocType::Cidr => "cidr",
            IocType::Email => "email",
            IocType::Md5 => "md5",
            IocType::Sha1 => "sha1",
            IocType::Sha256 => "sha256",
            IocType::Sha512 => "sha512",
            IocType::Cve => "cve",
            IocType::AttackTechnique => "attack_technique",
            IocType::WindowsPath => "windows_path",
            IocType::UnixPath => "unix_path",
            IocType::RegistryKey => "registry_key",
            IocType::MacAddress => "mac_address",
            IocType::BitcoinAddress => "bitcoin_address",
            IocType::Custom => "custom",
        }
    }

    pub fn parse(text: &str) -> Option<IocType> {
        let t = text.trim().to_ascii_lowercase().replace('-', "_");
        let alias = match t.as_str() {
            "ip" | "ipv4_address" => "ipv4",
            "hash" => return None,
            "mitre" | "attack" | "technique" => "attack_technique",
            "path" => return None,
            "registry" => "registry_key",
            "mac" => "mac_address",
            "bitcoin" | "btc" => "bitcoin_address",
            other => other,
        };
        IocType::ALL.iter().copied().find(|k| k.as_str() == alias)
    }

    /// Names a user may give for a group of types (`hash`, `path`, `ip`).
    pub fn parse_group(text: &str) -> Option<Vec<IocType>> {
        match text.trim().to_ascii_lowercase().as_str() {
            "hash" | "hashes" => Some(vec![
                IocType::Md5,
                IocType::Sha1,
                IocType::Sha256,
                IocType::Sha512,
            ]),
            "path" | "paths" => Some(vec![IocType::WindowsPath, IocType::UnixPath]),
            "ip" => Some(vec![IocType::Ipv4, IocType::Ipv6, IocType::Cidr]),
            other => IocType::parse(other).map(|t| vec![t]),
        }
    }
}

/// A user-defined pattern: indicators of type `custom` named `name`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    /// Reported as the indicator's `name`, e.g. `ticket` or `campaign_id`.
    pub name: String,
    /// A Rust regular expression (no look-around, linear time). With one
    /// capture group, the group is the value.
    pub regex: String,
}

/// What to extract and what to drop.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Only these types; empty means all.
    pub types: Vec<IocType>,
    /// Drop private, loopback, link-local, documentation and other reserved
    /// addresses (and URLs and CIDRs on them).
    pub exclude_private: bool,
    /// Drop well-known benign domains ([`validate::BENIGN_DOMAINS`] and
    /// `benign_domains`), with their URLs and emails.
    pub exclude_benign: bool,
    /// More domains to treat as benign (subdomains included).
    pub benign_domains: Vec<String>,
    pub custom: Vec<CustomPattern>,
    /// Offsets kept per indicator; `count` still counts all.
    pub max_offsets: usize,
    /// Distinct indicators kept; past this, new values are counted in `dropped`.
    pub max_indicators: usize,
    /// Report URL hosts and email domains as indicators of their own too.
    pub nested: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            types: Vec::new(),
            exclude_private: false,
            exclude_benign: false,
            benign_domains: Vec::new(),
            custom: Vec::new(),
            max_offsets: 100,
            max_indicators: 1_000_000,
            nested: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IocError {
    #[error("custom pattern `{name}` is not a valid regular expression: {error}")]
    BadPattern { name: String, error: String },
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: String },
}

/// Where an indicator was seen: byte offsets in the original input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Occurrence {
    /// The file (as given), absent for text passed directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub start: u64,
    pub end: u64,
}

/// One distinct indicator.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Indicator {
    #[serde(rename = "type")]
    pub kind: IocType,
    /// For `custom`: the pattern's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Refanged and normalized (lowercase hosts and hashes, compressed IPv6).
    pub value: String,
    /// The text as first found, defanged or not.
    pub original: String,
    /// Whether any occurrence was written defanged.
    pub defanged: bool,
    /// Occurrences in all inputs.
    pub count: u64,
    /// The first `max_offsets` occurrences.
    pub offsets: Vec<Occurrence>,
}

/// Indicators in first-seen order, with totals.
#[derive(Debug, Default, Clone, Serialize, JsonSchema)]
pub struct Extraction {
    pub indicators: Vec<Indicator>,
    /// Bytes read.
    pub bytes: u64,
    /// Occurrences dropped by `exclude_private` / `exclude_benign`.
    pub excluded: u64,
    /// Distinct values not kept because `max_indicators` was reached.
    pub dropped: u64,
}

const SCHEMES: &str = r"(?:https?|ftps?|sftp|tcp|udp|wss?|smb|ssh|rdp|irc)";

#[doc(hidden)]
pub fn combined_pattern() -> String {
    let seg = r#"[^\\/:*?"<>|\r\n\t\x00]"#;
    let reg_seg = r#"[^\\:*?"<>|\r\n\t\x00]"#;
    // The last segment stops at whitespace: `C:\Program Files\x.exe was run`.
    let last = r#"[^\\/:*?"<>|\s\x00]"#;
    let reg_last = r#"[^\\:*?"<>|\s\x00]"#;
    // Unbounded repetitions (lengths are checked afterwards): counted ones
    // multiply the lazy DFA's states on alphanumeric runs such as base64.
    let label = r"[a-z0-9][a-z0-9\-_]*";
    let domain = format!(r"(?:{label}\.)+[a-z][a-z0-9\-]*[a-z0-9]");
    let unix_roots = "etc|tmp|var|usr|home|bin|sbin|dev|opt|root|proc|lib|lib32|lib64|srv|mnt|media|run|boot|sys|Library|Users|Applications|System|private|Volumes";
    let unix_seg = r"[A-Za-z0-9._\-+@%~,=]+";
    let hex4 = r"[0-9a-f]{0,4}";
    let octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    [
        format!(r"(?P<url>\b{SCHEMES}://[^\s<>{{}}|\\^`'\x22\x00-\x1f\x7f]+)"),
        format!(r"(?P<email>\b[a-z0-9][a-z0-9._%+\-]*@{domain}\b)"),
        format!(r"(?P<reg>\b(?:HKEY_LOCAL_MACHINE|HKEY_CURRENT_USER|HKEY_CLASSES_ROOT|HKEY_USERS|HKEY_CURRENT_CONFIG|HKLM|HKCU|HKCR|HKU|HKCC)(?:\\{reg_seg}+)*\\{reg_last}+)"),
        format!(r"(?P<winpath>(?:\b[a-z]:\\|\\\\[a-z0-9.\-_$]+\\|%[a-z_()]+%\\)(?:{seg}+\\)*{last}*)"),
        format!(r"(?P<unixpath>(?:\B/(?-i:{unix_roots})|~)(?:/{unix_seg})+/?)"),
        r"(?P<mac>\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b|\b[0-9a-f]{2}(?:-[0-9a-f]{2}){5}\b|\b[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}\b)".to_string(),
        format!(r"(?P<ipv4>\b{octet}(?:\.{octet}){{3}}(?:/[0-9]{{1,2}})?)"),
        format!(r"(?P<ipv6>\[?{hex4}(?::{hex4}){{2,7}}(?:(?:\.[0-9]{{1,3}}){{3}})?\]?(?:/[0-9]{{1,3}})?)"),
        r"(?P<hash>\b[0-9a-f]+\b)".to_string(),
        r"(?P<cve>\bcve-[0-9]{4}-[0-9]{4,7}\b)".to_string(),
        r"(?P<attack>\b(?-i:TA[0-9]{4}|T[0-9]{4}(?:\.[0-9]{3})?)\b)".to_string(),
        r"(?P<btc>\b(?:(?-i:[13][a-km-zA-HJ-NP-Z1-9]+)|bc1[a-z0-9]+)\b)".to_string(),
        format!(r"(?P<domain>\b{domain}\b)"),
    ]
    .join("|")
}

/// Group names in `combined_pattern`, in order: pattern `i` of the
/// multi-pattern regex is `NAMES[i]`.
const NAMES: [&str; 13] = [
    "url", "email", "reg", "winpath", "unixpath", "mac", "ipv4", "ipv6", "hash", "cve", "attack",
    "btc", "domain",
];

/// One regex per kind, searched together: the multi-pattern DFA reports
/// which one matched (earlier patterns win at the same start), so no
/// capture groups need resolving.
fn build_combined() -> MetaRegex {
    let full = combined_pattern();
    let patterns: Vec<String> = full
        .split("|(?P<")
        .enumerate()
        .map(|(i, p)| {
            if i == 0 {
                p.to_string()
            } else {
                format!("(?P<{p}")
            }
        })
        .collect();
    debug_assert_eq!(patterns.len(), NAMES.len());
    MetaRegex::builder()
        .syntax(
            syntax::Config::new()
                .unicode(false)
                .utf8(false)
                .case_insensitive(true),
        )
        .configure(
            MetaRegex::config()
                .nfa_size_limit(Some(64 << 20))
                .hybrid_cache_capacity(32 << 20),
        )
        .build_many(&patterns)
        .expect("the built-in IOC patterns compile")
}

fn build_domain() -> MetaRegex {
    let full = combined_pattern();
    let pattern = full
        .rsplit("|(?P<")
        .next()
        .map(|p| format!("(?P<{p}"))
        .unwrap_or_default();
    MetaRegex::builder()
        .syntax(
            syntax::Config::new()
                .unicode(false)
                .utf8(false)
                .case_insensitive(true),
        )
        .build(&pattern)
        .expect("the domain pattern compiles")
}

/// A match of one of the built-in patterns.
#[derive(Clone, Copy)]
struct M<'h> {
    hay: &'h [u8],
    start: usize,
    end: usize,
}

impl<'h> M<'h> {
    fn start(&self) -> usize {
        self.start
    }
    fn end(&self) -> usize {
        self.end
    }
    fn as_bytes(&self) -> &'h [u8] {
        &self.hay[self.start..self.end]
    }
}

/// A compiled extractor; cheap to share across threads.
pub struct Extractor {
    combined: MetaRegex,
    /// The domain pattern alone, tried where another kind's candidate failed.
    domain: MetaRegex,
    custom: Vec<(String, Regex)>,
    options: ExtractOptions,
    benign: Vec<String>,
}

/// One validated indicator occurrence in the refanged text.
struct Found {
    kind: IocType,
    name: Option<String>,
    value: String,
    start: usize,
    end: usize,
}

fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn trim_url_end(s: &[u8]) -> &[u8] {
    let mut end = s.len();
    while let Some(&last) = s[..end].last() {
        let cut = match last {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'*' => true,
            b')' => {
                s[..end].iter().filter(|&&b| b == b'(').count()
                    < s[..end].iter().filter(|&&b| b == b')').count()
            }
            b']' => {
                s[..end].iter().filter(|&&b| b == b'[').count()
                    < s[..end].iter().filter(|&&b| b == b']').count()
            }
            b'>' | b'[' | b'(' | b'{' => true,
            _ => false,
        };
        if !cut {
            break;
        }
        end -= 1;
    }
    &s[..end]
}

/// Cut a path's last segment at its first whitespace (spaces are kept in the
/// directories, where a following backslash shows the name goes on).
fn cut_last_segment(s: &[u8]) -> &[u8] {
    let last_sep = s.iter().rposition(|&b| b == b'\\').unwrap_or(0);
    let end = s[last_sep..]
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .map(|p| last_sep + p)
        .unwrap_or(s.len());
    let mut s = &s[..end];
    while let Some(&last) = s.last() {
        if matches!(last, b'.' | b',' | b';' | b')' | b']' | b'\'' | b' ') {
            s = &s[..s.len() - 1];
        } else {
            break;
        }
    }
    s
}

impl Extractor {
    pub fn new(options: ExtractOptions) -> Result<Self, IocError> {
        let mut custom = Vec::new();
        for p in &options.custom {
            let re = RegexBuilder::new(&p.regex)
                .size_limit(8 << 20)
                .build()
                .map_err(|e| IocError::BadPattern {
                    name: p.name.clone(),
                    error: e.to_string(),
                })?;
            custom.push((p.name.clone(), re));
        }
        let mut benign: Vec<String> = validate::BENIGN_DOMAINS
            .iter()
            .map(|s| s.to_string())
            .collect();
        benign.extend(options.benign_domains.iter().cloned());
        Ok(Extractor {
            combined: build_combined(),
            domain: build_domain(),
            custom,
            options,
            benign,
        })
    }

    pub fn options(&self) -> &ExtractOptions {
        &self.options
    }

    fn wanted(&self, kind: IocType) -> bool {
        self.options.types.is_empty() || self.options.types.contains(&kind)
    }

    /// Extract from one text.
    pub fn extract_text(&self, text: &[u8]) -> Extraction {
        let mut collector = Collector::new(&self.options);
        self.scan(text, 0, None, &mut collector);
        collector.finish()
    }

    /// Extract from a reader, in chunks cut at line ends so memory stays
    /// bounded (a line longer than a chunk is cut where the chunk ends).
    pub fn extract_reader(
        &self,
        mut reader: impl Read,
        file: Option<&str>,
        collector: &mut Collector,
    ) -> std::io::Result<()> {
        const CHUNK: usize = 8 << 20;
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
        let mut base: u64 = 0;
        let mut eof = false;
        while !eof {
            while buf.len() < CHUNK {
                let old = buf.len();
                buf.resize(CHUNK, 0);
                let n = loop {
                    match reader.read(&mut buf[old..]) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            buf.truncate(old);
                            return Err(e);
                        }
                    }
                };
                buf.truncate(old + n);
                if n == 0 {
                    eof = true;
                    break;
                }
            }
            let cut = if eof {
                buf.len()
            } else {
                memchr::memrchr(b'\n', &buf)
                    .map(|i| i + 1)
                    .unwrap_or(buf.len())
            };
            self.scan(&buf[..cut], base, file, collector);
            collector.bytes += cut as u64;
            base += cut as u64;
            buf.drain(..cut);
        }
        Ok(())
    }

    /// Scan one piece of text whose first byte is at `base` in its input.
    pub fn scan(&self, text: &[u8], base: u64, file: Option<&str>, out: &mut Collector) {
        let rf = refang(text);
        let norm: &[u8] = &rf.text;
        let mut found: Vec<Found> = Vec::new();
        let mut pos = 0;
        while pos < norm.len() {
            let Some(m) = self.combined.search(&Input::new(norm).range(pos..)) else {
                break;
            };
            let name = NAMES[m.pattern().as_usize()];
            let hit = M {
                hay: norm,
                start: m.start(),
                end: m.end(),
            };
            self.candidate(name, hit, &rf, &mut found);
            pos = m.end().max(m.start() + 1);
            if found.is_empty() && name != "domain" {
                // A rejected candidate (`c2` as a hash, `1password` as a
                // Bitcoin address) may start a domain that the earlier
                // pattern hid.
                let input = Input::new(norm).range(m.start()..).anchored(Anchored::Yes);
                if let Some(d) = self.domain.search(&input) {
                    let hit = M {
                        hay: norm,
                        start: d.start(),
                        end: d.end(),
                    };
                    self.candidate("domain", hit, &rf, &mut found);
                    pos = pos.max(d.end());
                }
            }
            for f in found.drain(..) {
                self.emit(f, &rf, text, base, file, out);
            }
        }
        for (name, re) in &self.custom {
            for caps in re.captures_iter(norm) {
                let m = caps
                    .get(1)
                    .or_else(|| caps.get(0))
                    .expect("group 0 always matches");
                if m.start() == m.end() {
                    continue;
                }
                let f = Found {
                    kind: IocType::Custom,
                    name: Some(name.clone()),
                    value: text_of(m.as_bytes()),
                    start: m.start(),
                    end: m.end(),
                };
                self.emit(f, &rf, text, base, file, out);
            }
        }
    }

    fn emit(
        &self,
        f: Found,
        rf: &Refanged<'_>,
        text: &[u8],
        base: u64,
        file: Option<&str>,
        out: &mut Collector,
    ) {
        if !self.wanted(f.kind) {
            return;
        }
        if self.excluded(&f) {
            out.excluded += 1;
            return;
        }
        let (s, e, defanged) = rf.original_span(f.start, f.end);
        let original = &text[s.min(text.len())..e.min(text.len())];
        out.add(
            f,
            original,
            defanged,
            base + s as u64,
            base + e as u64,
            file,
        );
    }

    fn excluded(&self, f: &Found) -> bool {
        let o = &self.options;
        match f.kind {
            IocType::Ipv4 | IocType::Ipv6 | IocType::Cidr => {
                o.exclude_private && validate::reserved_ip(&f.value)
            }
            IocType::Domain => o.exclude_benign && validate::under_any(&f.value, &self.benign),
            IocType::Email => {
                o.exclude_benign
                    && validate::under_any(f.value.rsplit('@').next().unwrap_or(""), &self.benign)
            }
            IocType::Url => {
                let host = url_host(&f.value).unwrap_or_default();
                (o.exclude_private && validate::reserved_ip(&host))
                    || (o.exclude_benign && validate::under_any(&host, &self.benign))
            }
            _ => false,
        }
    }

    fn candidate(&self, name: &str, hit: M<'_>, rf: &Refanged<'_>, found: &mut Vec<Found>) {
        let norm: &[u8] = &rf.text;
        let before = |start: usize| start.checked_sub(1).map(|i| norm[i]);
        let after = |end: usize| norm.get(end).copied();
        if let Some(m) = (name == "url").then_some(hit) {
            let s = trim_url_end(m.as_bytes());
            let value_raw = text_of(s);
            let Some((host, host_off)) = url_host_at(&value_raw) else {
                return;
            };
            let host_kind = host_kind(&host);
            let Some(host_kind) = host_kind else { return };
            let value = normalize_url(&value_raw, host_off, host.len());
            found.push(Found {
                kind: IocType::Url,
                name: None,
                value,
                start: m.start(),
                end: m.start() + s.len(),
            });
            if self.options.nested {
                let hs = m.start() + host_off;
                let host_value = match host_kind {
                    IocType::Ipv6 => host
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse::<Ipv6Addr>()
                        .map(|a| a.to_string())
                        .unwrap_or(host.clone()),
                    _ => host.to_ascii_lowercase(),
                };
                found.push(Found {
                    kind: host_kind,
                    name: None,
                    value: host_value,
                    start: hs,
                    end: hs + host.len(),
                });
            }
            return;
        }
        if let Some(m) = (name == "email").then_some(hit) {
            let v = text_of(m.as_bytes()).to_ascii_lowercase();
            let at = v.rfind('@').unwrap_or(0);
            if at > 64 || !validate::valid_domain(&v[at + 1..], false) {
                return;
            }
            if self.options.nested {
                found.push(Found {
                    kind: IocType::Domain,
                    name: None,
                    value: v[at + 1..].to_string(),
                    start: m.start() + at + 1,
                    end: m.end(),
                });
            }
            found.insert(
                0,
                Found {
                    kind: IocType::Email,
                    name: None,
                    value: v,
                    start: m.start(),
                    end: m.end(),
                },
            );
            return;
        }
        if let Some(m) = (name == "reg").then_some(hit) {
            let s = cut_last_segment(m.as_bytes());
            let v = text_of(s);
            let v = expand_hive(&v);
            found.push(Found {
                kind: IocType::RegistryKey,
                name: None,
                value: v,
                start: m.start(),
                end: m.start() + s.len(),
            });
            return;
        }
        if let Some(m) = (name == "winpath").then_some(hit) {
            let s = cut_last_segment(m.as_bytes());
            // A bare drive (`C:\`) or share is not an indicator.
            if s.len() <= 3 || !s[2..].iter().any(|b| b.is_ascii_alphanumeric()) {
                return;
            }
            found.push(Found {
                kind: IocType::WindowsPath,
                name: None,
                value: text_of(s),
                start: m.start(),
                end: m.start() + s.len(),
            });
            return;
        }
        if let Some(m) = (name == "unixpath").then_some(hit) {
            let mut s = m.as_bytes();
            while let Some(&last) = s.last() {
                if matches!(last, b'.' | b',' | b';' | b':') {
                    s = &s[..s.len() - 1];
                } else {
                    break;
                }
            }
            found.push(Found {
                kind: IocType::UnixPath,
                name: None,
                value: text_of(s),
                start: m.start(),
                end: m.start() + s.len(),
            });
            return;
        }
        if let Some(m) = (name == "mac").then_some(hit) {
            if before(m.start()).is_some_and(|b| b == b':' || b == b'-' || b == b'.')
                || after(m.end()).is_some_and(|b| {
                    b == b':'
                        || b == b'-'
                        || b == b'.' && norm.get(m.end() + 1).is_some_and(|c| c.is_ascii_hexdigit())
                })
            {
                return;
            }
            let v = text_of(m.as_bytes()).to_ascii_lowercase();
            found.push(Found {
                kind: IocType::MacAddress,
                name: None,
                value: v,
                start: m.start(),
                end: m.end(),
            });
            return;
        }
        if let Some(m) = (name == "ipv4").then_some(hit) {
            // Not part of a longer dotted run (versions, OIDs).
            if before(m.start()).is_some_and(|b| b == b'.' || is_word_byte(b))
                || after(m.end()).is_some_and(|b| {
                    is_word_byte(b)
                        || (b == b'.' && norm.get(m.end() + 1).is_some_and(|c| c.is_ascii_digit()))
                })
                || (after(m.end()) == Some(b'-')
                    && norm
                        .get(m.end() + 1)
                        .is_some_and(|c| c.is_ascii_alphabetic()))
                || looks_like_version(&norm[m.start().saturating_sub(12)..m.start()])
            {
                return;
            }
            let v = text_of(m.as_bytes());
            if let Some((ip, bits)) = v.split_once('/') {
                let ok =
                    bits.parse::<u8>().is_ok_and(|b| b <= 32) && ip.parse::<Ipv4Addr>().is_ok();
                if !ok {
                    return;
                }
                found.push(Found {
                    kind: IocType::Cidr,
                    name: None,
                    value: v,
                    start: m.start(),
                    end: m.end(),
                });
            } else {
                let Ok(ip) = v.parse::<Ipv4Addr>() else {
                    return;
                };
                found.push(Found {
                    kind: IocType::Ipv4,
                    name: None,
                    value: ip.to_string(),
                    start: m.start(),
                    end: m.end(),
                });
            }
            return;
        }
        if let Some(m) = (name == "ipv6").then_some(hit) {
            let bytes = m.as_bytes();
            let (mut s, mut e) = (m.start(), m.end());
            let mut t = bytes;
            if t.first() == Some(&b'[') {
                t = &t[1..];
                s += 1;
            }
            if let Some(p) = t.iter().position(|&b| b == b']') {
                e = s + p;
                t = &t[..p];
            }
            if before(s).is_some_and(|b| is_word_byte(b) || b == b':')
                || (e == m.end() && after(e).is_some_and(|b| is_word_byte(b) || b == b':'))
            {
                return;
            }
            let v = text_of(t);
            let (ip, bits) = match v.split_once('/') {
                Some((ip, bits)) => (ip.to_string(), Some(bits.to_string())),
                None => (v.clone(), None),
            };
            // `a::b` in code is no address worth reporting: two groups or more and six characters.
            let groups = ip.split(':').filter(|g| !g.is_empty()).count();
            if ip.matches(':').count() < 2
                || groups < 2
                || ip.len() < 6
                || !ip.bytes().any(|b| b.is_ascii_hexdigit() && b != b'0')
            {
                return;
            }
            let Ok(addr) = ip.parse::<Ipv6Addr>() else {
                return;
            };
            match bits {
                Some(bits) if bits.parse::<u8>().is_ok_and(|b| b <= 128) => {
                    found.push(Found {
                        kind: IocType::Cidr,
                        name: None,
                        value: format!("{addr}/{bits}"),
                        start: s,
                        end: e,
                    });
                }
                Some(_) => {}
                None => found.push(Found {
                    kind: IocType::Ipv6,
                    name: None,
                    value: addr.to_string(),
                    start: s,
                    end: e,
                }),
            }
            return;
        }
        if let Some(m) = (name == "hash").then_some(hit) {
            let b = m.as_bytes();
            let kind = match b.len() {
                32 => IocType::Md5,
                40 => IocType::Sha1,
                64 => IocType::Sha256,
                128 => IocType::Sha512,
                _ => return,
            };
            // Runs of one character, and all-digit runs, are not hashes.
            if b.iter().all(|&c| c == b[0]) || b.iter().all(|c| c.is_ascii_digit()) {
                return;
            }
            found.push(Found {
                kind,
                name: None,
                value: text_of(b).to_ascii_lowercase(),
                start: m.start(),
                end: m.end(),
            });
            return;
        }
        if let Some(m) = (name == "cve").then_some(hit) {
            found.push(Found {
                kind: IocType::Cve,
                name: None,
                value: text_of(m.as_bytes()).to_ascii_uppercase(),
                start: m.start(),
                end: m.end(),
            });
            return;
        }
        if let Some(m) = (name == "attack").then_some(hit) {
            found.push(Found {
                kind: IocType::AttackTechnique,
                name: None,
                value: text_of(m.as_bytes()),
                start: m.start(),
                end: m.end(),
            });
            return;
        }
        if let Some(m) = (name == "btc").then_some(hit) {
            let v = text_of(m.as_bytes());
            let len_ok = if v.len() > 3 && v[..3].eq_ignore_ascii_case("bc1") {
                v.len() <= 90
            } else {
                (26..=35).contains(&v.len())
            };
            if len_ok && validate::valid_bitcoin(&v) {
                found.push(Found {
                    kind: IocType::BitcoinAddress,
                    name: None,
                    value: v,
                    start: m.start(),
                    end: m.end(),
                });
            }
            return;
        }
        if let Some(m) = (name == "domain").then_some(hit) {
            // Not the tail of a dotted word or an IP-like run.
            if before(m.start()).is_some_and(|b| b == b'.' || b == b'@' || b == b'-') {
                return;
            }
            let b = m.as_bytes();
            let v = text_of(b);
            // `end.The` (a missing space) is prose, not a domain.
            let last = v.rsplit('.').next().unwrap_or("");
            let capitalized = last.len() > 1
                && last.as_bytes()[0].is_ascii_uppercase()
                && last[1..].bytes().all(|c| c.is_ascii_lowercase());
            if capitalized {
                return;
            }
            // `evil.zip` is a file name unless written defanged (`evil[.]zip`).
            let strict = !rf.original_span(m.start(), m.end()).2;
            if !validate::valid_domain(&v, strict) {
                return;
            }
            found.push(Found {
                kind: IocType::Domain,
                name: None,
                value: v.to_ascii_lowercase(),
                start: m.start(),
                end: m.end(),
            });
        }
    }
}

/// `version 3.2.1.0`, `v1.2.3.4`, `build 10.0.1.2`: a dotted quad that is a version.
fn looks_like_version(before: &[u8]) -> bool {
    let lower: Vec<u8> = before.iter().map(|b| b.to_ascii_lowercase()).collect();
    let t = lower.trim_ascii_end();
    t.ends_with(b"version")
        || t.ends_with(b"ver")
        || t.ends_with(b"build")
        || t.ends_with(b"release")
        || lower.ends_with(b"v")
}

/// HKLM → HKEY_LOCAL_MACHINE and so on, so both spellings are one value.
fn expand_hive(key: &str) -> String {
    let (root, rest) = key.split_once('\\').unwrap_or((key, ""));
    let full = match root.to_ascii_uppercase().as_str() {
        "HKLM" => "HKEY_LOCAL_MACHINE",
        "HKCU" => "HKEY_CURRENT_USER",
        "HKCR" => "HKEY_CLASSES_ROOT",
        "HKU" => "HKEY_USERS",
        "HKCC" => "HKEY_CURRENT_CONFIG",
        other => return format!("{other}\\{rest}"),
    };
    format!("{full}\\{rest}")
}

/// The host of a URL and its byte offset in it.
fn url_host_at(url: &str) -> Option<(String, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let auth = &rest[..auth_end];
    let (host_start, hostport) = match auth.rfind('@') {
        Some(at) => (at + 1, &auth[at + 1..]),
        None => (0, auth),
    };
    let host = if hostport.starts_with('[') {
        let close = hostport.find(']')?;
        &hostport[..=close]
    } else if hostport.matches(':').count() > 1 {
        // An IPv6 address written without brackets.
        hostport
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), start + host_start))
}

pub(crate) fn url_host(url: &str) -> Option<String> {
    url_host_at(url).map(|(h, _)| h.trim_matches(|c| c == '[' || c == ']').to_string())
}

fn host_kind(host: &str) -> Option<IocType> {
    let bare = host.trim_matches(|c| c == '[' || c == ']');
    if bare.parse::<Ipv4Addr>().is_ok() {
        return Some(IocType::Ipv4);
    }
    if bare.contains(':') {
        return bare.parse::<Ipv6Addr>().ok().map(|_| IocType::Ipv6);
    }
    validate::valid_domain(bare, false).then_some(IocType::Domain)
}

fn normalize_url(url: &str, host_off: usize, host_len: usize) -> String {
    let scheme_end = url.find("://").unwrap_or(0);
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..scheme_end].to_ascii_lowercase());
    out.push_str(&url[scheme_end..host_off]);
    out.push_str(&url[host_off..host_off + host_len].to_ascii_lowercase());
    out.push_str(&url[host_off + host_len..]);
    out
}

/// Aggregates occurrences into distinct indicators.
pub struct Collector {
    index: HashMap<(IocType, Option<String>, String), usize>,
    indicators: Vec<Indicator>,
    max_offsets: usize,
    max_indicators: usize,
    pub bytes: u64,
    pub excluded: u64,
    pub dropped: u64,
}

impl Collector {
    pub fn new(options: &ExtractOptions) -> Self {
        Collector {
            index: HashMap::new(),
            indicators: Vec::new(),
            max_offsets: options.max_offsets,
            max_indicators: options.max_indicators,
            bytes: 0,
            excluded: 0,
            dropped: 0,
        }
    }

    fn add(
        &mut self,
        f: Found,
        original: &[u8],
        defanged: bool,
        start: u64,
        end: u64,
        file: Option<&str>,
    ) {
        let key = (f.kind, f.name, f.value);
        let occurrence = Occurrence {
            file: file.map(str::to_string),
            start,
            end,
        };
        if let Some(&i) = self.index.get(&key) {
            let ind = &mut self.indicators[i];
            ind.count += 1;
            ind.defanged |= defanged;
            if ind.offsets.len() < self.max_offsets {
                ind.offsets.push(occurrence);
            }
            return;
        }
        if self.indicators.len() >= self.max_indicators {
            self.dropped += 1;
            return;
        }
        let (kind, name, value) = key.clone();
        self.index.insert(key, self.indicators.len());
        self.indicators.push(Indicator {
            kind,
            name,
            value,
            original: text_of(original),
            defanged,
            count: 1,
            offsets: if self.max_offsets > 0 {
                vec![occurrence]
            } else {
                Vec::new()
            },
        });
    }

    pub fn finish(self) -> Extraction {
        Extraction {
            indicators: self.indicators,
            bytes: self.bytes,
            excluded: self.excluded,
            dropped: self.dropped,
        }
    }
}

/// Extract from files (each read in bounded chunks).
pub fn extract_files(
    extractor: &Extractor,
    paths: &[std::path::PathBuf],
) -> Result<Extraction, IocError> {
    let mut collector = Collector::new(extractor.options());
    for path in paths {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| IocError::Read {
            path: name.clone(),
            error: e.to_string(),
        })?;
        extractor
            .extract_reader(std::io::BufReader::new(file), Some(&name), &mut collector)
            .map_err(|e| IocError::Read {
                path: name.clone(),
                error: e.to_string(),
            })?;
    }
    Ok(collector.finish())
}

/// Extract from a text in memory.
pub fn extract(text: &str, options: &ExtractOptions) -> Result<Extraction, IocError> {
    let extractor = Extractor::new(options.clone())?;
    let mut e = extractor.extract_text(text.as_bytes());
    e.bytes = text.len() as u64;
    Ok(e)
}
