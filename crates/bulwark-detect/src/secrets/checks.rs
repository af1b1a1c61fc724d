//! Per-pattern checks run after a regex match: they reject placeholders and
//! malformed values, and set confidence, severity and the evidence note.

use super::validate::{b64_any, class_kinds, classes, entropy, github_checksum_ok, is_placeholder};
use crate::finding::{Confidence, Severity};
use regex::Captures;

/// What a check sees.
pub(crate) struct Ctx<'a> {
    /// The whole text being scanned.
    pub text: &'a str,
    /// The match, with positions relative to `base`.
    pub caps: &'a Captures<'a>,
    pub base: usize,
    pub secret: &'a str,
    /// Absolute byte span of the secret.
    pub start: usize,
    pub end: usize,
    pub name: &'static str,
}

impl Ctx<'_> {
    /// Absolute span of the whole match.
    fn whole(&self) -> (usize, usize) {
        let m = self.caps.get(0).expect("group 0");
        (self.base + m.start(), self.base + m.end())
    }
    fn group(&self, name: &str) -> Option<&str> {
        self.caps.name(name).map(|m| m.as_str())
    }
}

/// A check's acceptance.
pub(crate) struct Verdict {
    pub rule: Option<&'static str>,
    pub severity: Option<Severity>,
    pub confidence: Confidence,
    pub note: String,
    /// Overrides the span used for overlap resolution.
    pub span: Option<(usize, usize)>,
    /// Overrides the span masked in snippets (`None` = the secret).
    pub mask: Option<(usize, usize)>,
}

impl Verdict {
    fn new(confidence: Confidence) -> Verdict {
        Verdict {
            rule: None,
            severity: None,
            confidence,
            note: String::new(),
            span: None,
            mask: None,
        }
    }
    fn note(mut self, note: impl Into<String>) -> Verdict {
        self.note = note.into();
        self
    }
    fn severity(mut self, s: Severity) -> Verdict {
        self.severity = Some(s);
        self
    }
}

pub(crate) type Check = fn(&Ctx) -> Option<Verdict>;

pub(crate) fn high(_: &Ctx) -> Option<Verdict> {
    Some(Verdict::new(Confidence::High))
}

pub(crate) fn medium(_: &Ctx) -> Option<Verdict> {
    Some(Verdict::new(Confidence::Medium))
}

/// A value found only because a provider's name is next to it.
pub(crate) fn keyword_bound(c: &Ctx) -> Option<Verdict> {
    let (l, u, d, _) = classes(c.secret);
    // Hex or alphanumeric values still need letters and digits both.
    if d == 0 || l + u == 0 {
        return None;
    }
    Some(Verdict::new(Confidence::Medium).note("value assigned next to the provider's name"))
}

pub(crate) fn keyword_bound_mixed(c: &Ctx) -> Option<Verdict> {
    let (l, u, d, _) = classes(c.secret);
    if d == 0 || l == 0 || u == 0 {
        return None;
    }
    keyword_bound(c)
}

pub(crate) fn mixed_case(c: &Ctx) -> Option<Verdict> {
    let (l, u, _, _) = classes(body(c.secret));
    (l > 0 && u > 0).then(|| Verdict::new(Confidence::High))
}

pub(crate) fn mixed_case_digits(c: &Ctx) -> Option<Verdict> {
    let (l, u, d, _) = classes(body(c.secret));
    (l > 0 && u > 0 && d > 0).then(|| Verdict::new(Confidence::High))
}

/// Hex bodies: letters and digits both, so `SK000…` or `key-aaaa…` fail.
pub(crate) fn hex_mixed(c: &Ctx) -> Option<Verdict> {
    let (l, _, d, _) = classes(body(c.secret));
    (l > 1 && d > 1).then(|| Verdict::new(Confidence::High))
}

/// The part after a `prefix_` / `prefix-`.
fn body(secret: &str) -> &str {
    match secret.rfind(['_', '-']) {
        Some(i) if i + 1 < secret.len() && i < 16 => &secret[i + 1..],
        _ => secret,
    }
}

pub(crate) fn aws_key_id(c: &Ctx) -> Option<Verdict> {
    let v = Verdict::new(Confidence::High);
    Some(match &c.secret[..4] {
        "ASIA" => v.note("temporary (STS) access key id"),
        _ => v.note("long-term access key id"),
    })
}

pub(crate) fn aws_secret(c: &Ctx) -> Option<Verdict> {
    let (l, u, d, _) = classes(c.secret);
    if l == 0 || u == 0 || d == 0 {
        return None;
    }
    Some(Verdict::new(Confidence::High).note("assigned to an AWS secret-key name"))
}

pub(crate) fn github(c: &Ctx) -> Option<Verdict> {
    let v = if github_checksum_ok(c.secret) {
        Verdict::new(Confidence::High).note("checksum valid")
    } else {
        let (l, u, d, _) = classes(body(c.secret));
        if l == 0 || u == 0 || d == 0 {
            return None;
        }
        Verdict::new(Confidence::Medium).note("checksum not verified")
    };
    Some(v)
}

pub(crate) fn pypi(c: &Ctx) -> Option<Verdict> {
    if c.secret.starts_with("pypi-AgENdGVzdC5weXBpLm9yZw") {
        Some(
            Verdict::new(Confidence::High)
                .severity(Severity::Low)
                .note("TestPyPI token"),
        )
    } else {
        Some(Verdict::new(Confidence::High).note("pypi.org token"))
    }
}

pub(crate) fn braintree(c: &Ctx) -> Option<Verdict> {
    let tail = c.secret.rsplit('$').next().unwrap_or("");
    if is_placeholder(tail) {
        return None;
    }
    if c.secret.contains("$sandbox$") {
        Some(
            Verdict::new(Confidence::High)
                .severity(Severity::Low)
                .note("sandbox token"),
        )
    } else {
        Some(Verdict::new(Confidence::High).note("production token"))
    }
}

/// Webhook URLs: judge the token part, not the host.
pub(crate) fn url_tail(c: &Ctx) -> Option<Verdict> {
    let tail = c
        .secret
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(c.secret);
    let tail = tail.split_once('/').map(|(_, r)| r).unwrap_or(tail);
    if is_placeholder(tail) {
        return None;
    }
    let last = tail.rsplit('/').next().unwrap_or(tail);
    if entropy(last) < 3.5 {
        return None;
    }
    Some(Verdict::new(Confidence::High))
}

/// A Discord bot token's first part is the bot's user id in base64.
pub(crate) fn discord_bot(c: &Ctx) -> Option<Verdict> {
    let first = c.secret.split('.').next()?;
    let id = b64_any(first)?;
    if (17..=20).contains(&id.len()) && id.iter().all(u8::is_ascii_digit) {
        Some(Verdict::new(Confidence::High).note("first part decodes to a user id"))
    } else {
        None
    }
}

pub(crate) fn azure_sas(c: &Ctx) -> Option<Verdict> {
    let from = floor(c.text, c.start.saturating_sub(600));
    let to = ceil(c.text, (c.end + 400).min(c.text.len()));
    let around = &c.text[from..to];
    let has_version = around.match_indices("sv=").any(|(i, _)| {
        around.as_bytes()[i + 3..]
            .iter()
            .take(4)
            .filter(|b| b.is_ascii_digit())
            .count()
            == 4
    });
    let has_other = ["se=", "sp=", "srt=", "ss=", "sr="]
        .iter()
        .any(|p| around.contains(p));
    (has_version && has_other)
        .then(|| Verdict::new(Confidence::High).note("signed SAS query string"))
}

pub(crate) fn sentry_dsn(c: &Ctx) -> Option<Verdict> {
    let public = c.group("pub")?;
    let (l, _, d, _) = classes(public);
    if l == 0 || d == 0 || is_placeholder(public) {
        return None;
    }
    match c.group("sec") {
        Some(secret) if !is_placeholder(secret) => Some(
            Verdict::new(Confidence::High)
                .severity(Severity::High)
                .note("DSN carries a secret key"),
        ),
        _ => Some(Verdict::new(Confidence::High).note("public DSN key (client-side by design)")),
    }
}

pub(crate) fn jwt(c: &Ctx) -> Option<Verdict> {
    if c.secret.len() > 16 * 1024 {
        return None;
    }
    let mut parts = c.secret.split('.');
    let header = b64_any(parts.next()?)?;
    let payload = b64_any(parts.next()?)?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    let alg = header.get("alg")?.as_str()?.to_string();
    let payload: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    let claims = payload.as_object()?;
    // jwt.io's and RFC 7519's example tokens.
    let name = claims.get("name").and_then(|v| v.as_str()).unwrap_or("");
    let sub = claims.get("sub").and_then(|v| v.as_str()).unwrap_or("");
    if name == "John Doe"
        || sub == "1234567890"
        || claims.get("iss").and_then(|v| v.as_str()) == Some("joe")
    {
        return None;
    }
    if claims
        .values()
        .any(|v| v.as_str().is_some_and(is_placeholder_word))
    {
        return None;
    }
    let role = claims.get("role").and_then(|v| v.as_str()).unwrap_or("");
    let mut v = Verdict::new(Confidence::High).note(format!("alg {alg}"));
    if alg.eq_ignore_ascii_case("none") {
        v = v.note("alg none (unsigned)");
    }
    if role == "service_role" {
        v = v.severity(Severity::Critical).note(format!(
            "alg {alg}, role service_role (Supabase service key)"
        ));
    } else if role == "anon" {
        v = v
            .severity(Severity::Low)
            .note(format!("alg {alg}, role anon (public client key)"));
    }
    Some(v)
}

fn is_placeholder_word(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    [
        "example.com",
        "example.org",
        "your-",
        "placeholder",
        "dummy",
    ]
    .iter()
    .any(|m| l.contains(m))
        || [
            "payload", "foo", "bar", "baz", "value", "test", "hello", "world",
        ]
        .contains(&l.as_str())
}

/// PEM private keys: the header must be followed by a real base64 body
/// and the matching END line; `\n`-escaped bodies (JSON, string literals)
/// count too.
pub(crate) fn private_key(c: &Ctx) -> Option<Verdict> {
    let label = c.group("label").unwrap_or("PRIVATE KEY");
    let (hstart, hend) = c.whole();
    let limit = (hend + 16 * 1024).min(c.text.len());
    let bytes = c.text.as_bytes();
    let mut i = hend;
    let mut body = 0usize;
    let mut body_start: Option<usize> = None;
    let mut sample = Vec::with_capacity(64);
    let mut encrypted = label.contains("ENCRYPTED");
    let mut end_at = None;
    let mut at_line_start = true;
    while i < limit {
        let b = bytes[i];
        if b == b'-' && c.text[i..].starts_with("-----END ") {
            let close = c.text[i + 9..limit.min(i + 80)].find("-----")?;
            end_at = Some(i + 9 + close + 5);
            break;
        }
        if at_line_start && b.is_ascii_alphabetic() {
            // RFC 1421 headers such as `Proc-Type: 4,ENCRYPTED`.
            let line_end = c.text[i..limit].find(['\n', '\\']).map_or(limit, |n| i + n);
            let line = &c.text[i..line_end];
            if let Some((name, value)) = line.split_once(": ")
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                if name.eq_ignore_ascii_case("Proc-Type") && value.contains("ENCRYPTED") {
                    encrypted = true;
                }
                i = line_end;
                continue;
            }
        }
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => {
                body += 1;
                body_start.get_or_insert(i);
                if sample.len() < 64 {
                    sample.push(b);
                }
                at_line_start = false;
            }
            b'\\' if matches!(bytes.get(i + 1), Some(b'n' | b'r')) => {
                i += 2;
                at_line_start = true;
                continue;
            }
            b'\n' => at_line_start = true,
            b' ' | b'\t' | b'\r' | b'"' | b'\'' | b',' | b';' => {}
            _ => return None,
        }
        i += 1;
    }
    let end_at = end_at?;
    let sample = String::from_utf8(sample).ok()?;
    if body < 64 || is_placeholder(&sample) || entropy(&sample) < 4.0 {
        return None;
    }
    let mut v = Verdict::new(Confidence::High).note(format!("{label}, {body} base64 characters"));
    if encrypted {
        v = v.severity(Severity::High).note(format!(
            "{label} (passphrase-encrypted), {body} base64 characters"
        ));
    }
    // A service-account JSON file: `"private_key": "-----BEGIN …`.
    let before = &c.text[floor(c.text, hstart.saturating_sub(40))..hstart];
    if before.contains("\"private_key\"") && c.text.contains("service_account") {
        v.rule = Some("BWK-SECRET-GCP-SERVICE-ACCOUNT");
        v.note = format!("service-account private key, {body} base64 characters");
    }
    v.span = Some((hstart, end_at));
    // Mask only what shares the header's line (escaped single-line bodies).
    let line_end = c.text[hend..].find('\n').map_or(c.text.len(), |n| hend + n);
    v.mask = match body_start {
        Some(s) if s < line_end => Some((s, line_end.min(end_at))),
        _ => Some((hend, hend)),
    };
    Some(v)
}

const LOCAL_HOSTS: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "0.0.0.0",
    "::1",
    "[::1]",
    "host.docker.internal",
    "db",
    "database",
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "mongo",
    "mongodb",
    "redis",
    "rabbitmq",
    "rabbit",
    "broker",
    "cache",
];

const WEAK_PASSWORDS: &[&str] = &[
    "password", "passwd", "pass", "pwd", "secret", "root", "admin", "guest", "postgres", "mysql",
    "redis", "mongo", "user", "username", "changeme", "example", "test", "default", "demo",
];

pub(crate) fn database_url(c: &Ctx) -> Option<Verdict> {
    let user = c.group("user").unwrap_or("");
    let password = c.secret;
    let host = c.group("host").unwrap_or("");
    let lower = password.to_ascii_lowercase();
    if password.chars().count() < 4
        || password.starts_with('$')
        || password.starts_with('%')
        || password.contains('{')
        || password.contains('<')
        || password
            .chars()
            .all(|ch| ch == '*' || ch == 'x' || ch == 'X')
        || password == user
        || WEAK_PASSWORDS.contains(&lower.as_str())
        || is_placeholder(password)
    {
        return None;
    }
    let host_l = host.to_ascii_lowercase();
    let scheme = c
        .caps
        .get(0)?
        .as_str()
        .split("://")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let v = Verdict::new(Confidence::High);
    let local = LOCAL_HOSTS.contains(&host_l.as_str())
        || host_l.ends_with(".local")
        || host_l.ends_with(".localhost")
        || host_l.starts_with("127.")
        || host_l.contains("example");
    Some(if local {
        v.severity(Severity::Low).note(format!(
            "{scheme} URL with a password for local host {host}"
        ))
    } else {
        v.note(format!("{scheme} URL with a password for {host}"))
    })
}

/// Key names that hold something other than a secret value.
const NOT_SECRET_KEYS: &[&str] = &[
    "public",
    "publishable",
    "tokenizer",
    "tokens",
    "tokentype",
    "tokenusage",
    "csrf",
    "xsrf",
    "nexttoken",
    "pagetoken",
    "pagination",
    "cursor",
    "continuation",
    "secretname",
    "secretref",
    "secretkeyref",
    "secretarn",
    "passwordhash",
    "passwordpolicy",
    "passwordfield",
    "passwordreset",
    "resettoken",
    "tokenendpoint",
    "nonce",
    "sessiontokenname",
];
const NOT_SECRET_KEY_ENDINGS: &[&str] = &[
    "id",
    "ids",
    "url",
    "uri",
    "endpoint",
    "path",
    "file",
    "dir",
    "env",
    "var",
    "name",
    "type",
    "len",
    "length",
    "size",
    "count",
    "header",
    "prefix",
    "label",
    "field",
    "param",
    "hint",
    "pattern",
    "regex",
    "format",
    "policy",
    "ttl",
    "expiry",
    "expires",
    "expiresat",
    "timeout",
    "mode",
    "version",
    "placeholder",
    "message",
    "error",
    "text",
    "template",
    "kind",
    "location",
    "provider",
    "source",
    "store",
    "hash",
    "algorithm",
    "alg",
    "scope",
    "scopes",
];

pub(crate) fn generic(c: &Ctx) -> Option<Verdict> {
    let key = c.group("key")?;
    if let (Some(q), Some(q2)) = (c.group("q"), c.group("q2"))
        && q != q2
    {
        return None;
    }
    let (mstart, mend) = c.whole();
    if c.name == "env-assignment" {
        // Whole line: `^` and `$` must be real line edges, not window edges.
        let at_start = mstart == 0 || c.text.as_bytes()[mstart - 1] == b'\n';
        let at_end = mend == c.text.len() || matches!(c.text.as_bytes()[mend], b'\n' | b'\r');
        if !at_start || !at_end {
            return None;
        }
    }
    let norm: String = key
        .chars()
        .filter(|ch| ch.is_ascii_alphanumeric())
        .map(|ch| ch.to_ascii_lowercase())
        .collect();
    if NOT_SECRET_KEYS.iter().any(|k| norm.contains(k))
        || NOT_SECRET_KEY_ENDINGS.iter().any(|k| norm.ends_with(k))
    {
        return None;
    }
    let value = c.secret;
    let lower = value.to_ascii_lowercase();
    if value.starts_with(['$', '%', '/', '~', '@', '#', '&', '*'])
        || value.starts_with("./")
        || value.starts_with("../")
        || value.contains("://")
        || value.contains('{')
        || value.contains('}')
        || value.contains('(')
        || value.contains("env.")
        || value.contains("environ")
        || lower.contains("getenv")
        || lower.contains("secret")
        || lower.contains("password")
        || lower.contains("token")
        || is_placeholder(value)
    {
        return None;
    }
    // Dotted identifiers (`config.db.password`) and constant names.
    if value.contains('.')
        && value
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_alphabetic() || ch == '_'))
    {
        return None;
    }
    let (l, u, d, o) = classes(value);
    let is_password = ["password", "passwd", "pwd", "pass"]
        .iter()
        .any(|k| norm.contains(k));
    let kinds = class_kinds(value);
    let ok = if is_password {
        value.len() >= 8 && kinds >= 2 && (d > 0 || o > 0) && entropy(value) >= 2.5
    } else {
        value.len() >= 16
            && entropy(value) >= 3.3
            && (d > 0 || (kinds >= 3 && value.len() >= 20))
            && (l + u) > 0
    };
    if !ok {
        return None;
    }
    let _ = (l, u);
    Some(Verdict::new(Confidence::Medium).note(format!(
        "assigned to `{key}`, entropy {:.1}",
        entropy(value)
    )))
}

pub(crate) fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub(crate) fn ceil(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}
