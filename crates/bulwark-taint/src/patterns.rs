//! Rules that need no taint: weak crypto, TLS verification off, servers
//! bound to every interface, ReDoS-prone regex literals, XML parsers that
//! resolve external entities.

use bulwark_detect::{Confidence, Severity};

use crate::Language;
use crate::lang::{callee, keyword, object_value, positional};
use crate::redos;
use crate::rules;
use crate::syntax::{
    Kind, Node, Src, f, field, is_call, literal_string, named_children, unwrap_expr,
};
use crate::taint::{FileCtx, canonical_with};

pub(crate) struct PatternHit {
    pub rule: &'static str,
    pub severity: Severity,
    pub confidence: Confidence,
    pub line: u32,
    pub column: u32,
    pub snippet: String,
    pub message: String,
    pub evidence: String,
}

fn hit(
    src: &Src,
    n: Node,
    rule: &'static str,
    severity: Severity,
    confidence: Confidence,
    message: String,
    evidence: String,
) -> PatternHit {
    let n = if crate::syntax::is_call(n.k()) {
        crate::taint::anchor(n)
    } else {
        n
    };
    PatternHit {
        rule,
        severity,
        confidence,
        line: src.line(n),
        column: src.column(n),
        snippet: src.snippet(n),
        message,
        evidence,
    }
}

const AUTH_MARKERS: &[&str] = &[
    "authorization",
    "bearer",
    "auth_middleware",
    "authmiddleware",
    "authenticate",
    "jwt",
    "token_verifier",
    "tokenverifier",
    "verify_token",
    "verifytoken",
    "oauth",
    "passport",
    "basicauth",
    "basic_auth",
    "api_key",
    "apikey",
    "x-api-key",
    "requireauth",
    "require_auth",
    "auth_provider",
    "authprovider",
    "auth=",
    "auth:",
    "authsettings",
    "requirebearerauth",
    "withauth",
];

fn auth_visible(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    AUTH_MARKERS.iter().any(|m| lower.contains(m))
}

/// Whether the file shows authentication, worked out on first need: only
/// a server bound to all interfaces asks, and most files have none.
struct Auth<'a> {
    text: &'a str,
    visible: std::cell::OnceCell<bool>,
}

impl Auth<'_> {
    fn visible(&self) -> bool {
        *self.visible.get_or_init(|| auth_visible(self.text))
    }
}

fn is_all_interfaces(s: &str) -> bool {
    let s = s.trim();
    s == "0.0.0.0"
        || s == "::"
        || s == "[::]"
        || s.starts_with("0.0.0.0:")
        || s.starts_with("[::]:")
}

fn security_context(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    if t.contains("usedforsecurity=false") {
        return false;
    }
    [
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "signature",
        "sign(",
        "_sign",
        "sign_",
        "credential",
        "auth",
        "api_key",
        "apikey",
        "salt",
        "hmac",
    ]
    .iter()
    .any(|w| t.contains(w))
}

fn enclosing_function_text<'t>(src: &Src<'t>, mut n: Node<'t>) -> &'t str {
    for _ in 0..200 {
        match n.parent() {
            Some(p) => {
                if p.is_function_like() {
                    // Name and parameters only: the signature.
                    let body_start = field(p, f::BODY)
                        .map(|b| b.start_byte())
                        .unwrap_or(p.end_byte());
                    return src.text.get(p.start_byte()..body_start).unwrap_or("");
                }
                n = p;
            }
            None => break,
        }
    }
    ""
}

/// The statement a node is in (its line's context for weak-hash checks).
fn statement_text<'t>(src: &Src<'t>, mut n: Node<'t>) -> &'t str {
    for _ in 0..50 {
        let Some(p) = n.parent() else { break };
        if p.k().ends_with("statement")
            || p.k().ends_with("declaration")
            || p.k() == "block"
            || p.k() == "statement_block"
            || p.is_function_like()
        {
            if p.k().ends_with("statement") || p.k().ends_with("declaration") {
                return src.t(p);
            }
            return src.t(n);
        }
        n = p;
    }
    src.t(n)
}

pub(crate) fn scan(fx: &FileCtx) -> Vec<PatternHit> {
    let src = fx.src;
    let mut out = Vec::new();
    let auth = Auth {
        text: src.text,
        visible: Default::default(),
    };
    let types = Default::default();
    for &n in &fx.all {
        let k = n.k();
        if is_call(k) && k != "macro_invocation" {
            let Some(c) = callee(n) else { continue };
            let name = canonical_with(fx, &types, c);
            let method = crate::lang::method_name(src, c).to_string();
            let args = fx.call_args(n);
            call_patterns(fx, n, &name, &method, &args, &auth, &mut out);
            continue;
        }
        match (fx.lang, k) {
            (Language::Python, "assignment") => {
                let (Some(l), Some(r)) = (field(n, f::LEFT), field(n, f::RIGHT)) else {
                    continue;
                };
                let lt = src.t(l);
                let rt = src.t(r);
                if (lt.ends_with(".check_hostname") && rt == "False")
                    || (lt.ends_with(".verify_mode") && rt.ends_with("CERT_NONE"))
                {
                    out.push(hit(
                        src,
                        n,
                        rules::TLS_VERIFY_DISABLED,
                        Severity::High,
                        Confidence::High,
                        "TLS certificate or host-name verification is turned off".into(),
                        format!("`{lt} = {rt}`"),
                    ));
                }
                if lt.ends_with("settings.host")
                    && literal_string(src, r).is_some_and(|s| is_all_interfaces(&s))
                    && !auth.visible()
                {
                    out.push(hit(
                        src,
                        n,
                        rules::NETWORK_BINDING,
                        Severity::Medium,
                        Confidence::Medium,
                        "server listens on all interfaces and the file shows no authentication"
                            .into(),
                        format!("`{lt} = {rt}`"),
                    ));
                }
            }
            (Language::JavaScript | Language::TypeScript | Language::Tsx, "pair") => {
                let (Some(key), Some(v)) = (field(n, f::KEY), field(n, f::VALUE)) else {
                    continue;
                };
                let key = literal_string(src, key).unwrap_or_else(|| src.t(key).to_string());
                if key == "rejectUnauthorized" && src.t(v) == "false" {
                    out.push(hit(
                        src,
                        n,
                        rules::TLS_VERIFY_DISABLED,
                        Severity::High,
                        Confidence::High,
                        "TLS certificate verification is turned off (rejectUnauthorized: false)"
                            .into(),
                        "`rejectUnauthorized: false`".into(),
                    ));
                }
            }
            (
                Language::JavaScript | Language::TypeScript | Language::Tsx,
                "assignment_expression",
            ) => {
                let (Some(l), Some(r)) = (field(n, f::LEFT), field(n, f::RIGHT)) else {
                    continue;
                };
                if src.t(l).ends_with("NODE_TLS_REJECT_UNAUTHORIZED")
                    && literal_string(src, r).as_deref() == Some("0")
                {
                    out.push(hit(
                        src,
                        n,
                        rules::TLS_VERIFY_DISABLED,
                        Severity::High,
                        Confidence::High,
                        "TLS certificate verification is turned off for the whole process".into(),
                        "`NODE_TLS_REJECT_UNAUTHORIZED = \"0\"`".into(),
                    ));
                }
            }
            (Language::JavaScript | Language::TypeScript | Language::Tsx, "regex") => {
                let Some(p) = field(n, f::PATTERN) else {
                    continue;
                };
                if let Some(bad) = redos::check(src.t(p)) {
                    out.push(redos_hit(src, n, src.t(p), &bad));
                }
            }
            (Language::Go, "keyed_element") => {
                let kids = named_children(n);
                if kids.len() == 2 {
                    let key = src.t(kids[0]);
                    let val = src.t(kids[1]);
                    if key == "InsecureSkipVerify" && val == "true" {
                        out.push(hit(
                            src,
                            n,
                            rules::TLS_VERIFY_DISABLED,
                            Severity::High,
                            Confidence::High,
                            "TLS certificate verification is turned off (InsecureSkipVerify: true)"
                                .into(),
                            "`InsecureSkipVerify: true`".into(),
                        ));
                    }
                    if key == "Addr"
                        && !auth.visible()
                        && let Some(s) = literal_string(src, kids[1])
                        && (s.starts_with(':') || is_all_interfaces(&s))
                    {
                        out.push(hit(src, n, rules::NETWORK_BINDING, Severity::Medium, Confidence::Medium,
                            "HTTP server listens on all interfaces and the file shows no authentication".into(), format!("`Addr: {val}`")));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn redos_hit(src: &Src, n: Node, pattern: &str, bad: &str) -> PatternHit {
    hit(
        src,
        n,
        rules::REDOS,
        Severity::Medium,
        Confidence::Medium,
        format!(
            "regular expression can backtrack exponentially: `{bad}` repeats a body that matches the same text in more than one way"
        ),
        format!("pattern `{}`", crate::syntax::clip(pattern, 120)),
    )
}

fn call_patterns(
    fx: &FileCtx,
    n: Node,
    name: &str,
    method: &str,
    args: &[crate::lang::Arg],
    auth: &Auth,
    out: &mut Vec<PatternHit>,
) {
    let src = fx.src;
    let lit = |i: usize| positional(args, i).and_then(|a| literal_string(src, a));
    match fx.lang {
        Language::Python => {
            if let Some(v) = keyword(args, "verify")
                && src.t(v) == "False"
            {
                out.push(hit(
                    src,
                    n,
                    rules::TLS_VERIFY_DISABLED,
                    Severity::High,
                    Confidence::High,
                    format!("{name}() is called with verify=False: certificates are not checked"),
                    "`verify=False`".into(),
                ));
            }
            if name == "ssl._create_unverified_context" || name == "ssl._create_stdlib_context" {
                out.push(hit(
                    src,
                    n,
                    rules::TLS_VERIFY_DISABLED,
                    Severity::High,
                    Confidence::High,
                    "an unverified SSL context is created".into(),
                    format!("`{name}()`"),
                ));
            }
            let weak_hash = match name {
                "hashlib.md5"
                | "hashlib.sha1"
                | "Crypto.Hash.MD5.new"
                | "Crypto.Hash.SHA1.new"
                | "MD5.new"
                | "SHA1.new" => true,
                "hashlib.new" => lit(0).is_some_and(|a| {
                    matches!(a.to_ascii_lowercase().as_str(), "md5" | "sha1" | "md4")
                }),
                _ => false,
            };
            if weak_hash {
                weak_hash_check(src, n, name, out);
            }
            let weak_cipher = [
                "DES.new",
                "DES3.new",
                "ARC4.new",
                "ARC2.new",
                "Blowfish.new",
                "algorithms.TripleDES",
                "algorithms.ARC4",
                "algorithms.Blowfish",
                "algorithms.IDEA",
                "modes.ECB",
            ]
            .iter()
            // `name` is the pattern, or ends with `.` and the pattern.
            .any(|p| {
                name.strip_suffix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
            }) || (name.ends_with("AES.new")
                && args.iter().any(|a| src.t(a.value).contains("MODE_ECB")));
            if weak_cipher {
                out.push(hit(
                    src,
                    n,
                    rules::WEAK_CIPHER,
                    Severity::High,
                    Confidence::High,
                    format!("{name}() uses a broken cipher or mode"),
                    format!("`{}`", crate::syntax::clip(src.t(n), 80)),
                ));
            }
            if let Some(h) = keyword(args, "host")
                && literal_string(src, h).is_some_and(|s| is_all_interfaces(&s))
                && !auth.visible()
            {
                out.push(hit(
                    src,
                    n,
                    rules::NETWORK_BINDING,
                    Severity::Medium,
                    Confidence::Medium,
                    format!(
                        "{name}() listens on all interfaces and the file shows no authentication"
                    ),
                    format!("`host={}`", src.t(h)),
                ));
            }
            if name.ends_with("XMLParser") {
                let resolve = keyword(args, "resolve_entities").is_some_and(|v| src.t(v) == "True");
                let network = keyword(args, "no_network").is_some_and(|v| src.t(v) == "False");
                let dtd = keyword(args, "load_dtd").is_some_and(|v| src.t(v) == "True");
                if resolve || network || dtd {
                    out.push(hit(src, n, rules::XXE, Severity::High, Confidence::Medium,
                        "XML parser resolves external entities (resolve_entities=True / no_network=False / load_dtd=True)".into(),
                        format!("`{}`", crate::syntax::clip(src.t(n), 100))));
                }
            }
            if method == "setFeature"
                && args.first().is_some_and(|a| {
                    src.t(a.value).contains("external_ges")
                        || src.t(a.value).contains("external_pes")
                })
                && args.get(1).is_some_and(|a| src.t(a.value) == "True")
            {
                out.push(hit(
                    src,
                    n,
                    rules::XXE,
                    Severity::High,
                    Confidence::High,
                    "SAX parser is told to load external entities".into(),
                    format!("`{}`", src.t(n)),
                ));
            }
            if let Some(r) = name
                .strip_prefix("re.")
                .or_else(|| name.strip_prefix("regex."))
                && matches!(
                    r,
                    "compile"
                        | "match"
                        | "search"
                        | "fullmatch"
                        | "findall"
                        | "finditer"
                        | "sub"
                        | "subn"
                        | "split"
                )
                && let Some(p) = keyword(args, "pattern").or_else(|| positional(args, 0))
                && let Some(pat) = literal_string(src, p)
                && let Some(bad) = redos::check(&pat)
            {
                out.push(redos_hit(src, n, &pat, &bad));
            }
        }
        Language::JavaScript | Language::TypeScript | Language::Tsx => {
            if name == "crypto.createHash"
                && lit(0).is_some_and(|a| {
                    matches!(a.to_ascii_lowercase().as_str(), "md5" | "sha1" | "md4")
                })
            {
                weak_hash_check(src, n, name, out);
            }
            if matches!(
                name,
                "crypto.createCipheriv"
                    | "crypto.createDecipheriv"
                    | "crypto.createCipher"
                    | "crypto.createDecipher"
            ) {
                let alg = lit(0).unwrap_or_default().to_ascii_lowercase();
                let weak = alg.starts_with("des")
                    || alg.contains("rc4")
                    || alg.contains("rc2")
                    || alg.starts_with("bf")
                    || alg.contains("blowfish")
                    || alg.ends_with("-ecb")
                    || alg.contains("3des");
                if weak || name.ends_with("createCipher") || name.ends_with("createDecipher") {
                    out.push(hit(
                        src,
                        n,
                        rules::WEAK_CIPHER,
                        Severity::High,
                        Confidence::High,
                        format!("{name}() uses a broken cipher, mode or key derivation"),
                        format!("`{}`", crate::syntax::clip(src.t(n), 80)),
                    ));
                }
            }
            if method == "listen" && !auth.visible() {
                let bound = args.iter().any(|a| {
                    literal_string(src, a.value).is_some_and(|s| is_all_interfaces(&s))
                        || object_value(src, a.value, "host")
                            .and_then(|h| literal_string(src, h))
                            .is_some_and(|s| is_all_interfaces(&s))
                });
                if bound {
                    out.push(hit(
                        src,
                        n,
                        rules::NETWORK_BINDING,
                        Severity::Medium,
                        Confidence::Medium,
                        "server listens on all interfaces and the file shows no authentication"
                            .into(),
                        "`0.0.0.0`".into(),
                    ));
                }
            }
            if name == "RegExp"
                && let Some(pat) = lit(0)
                && let Some(bad) = redos::check(&pat)
            {
                out.push(redos_hit(src, n, &pat, &bad));
            }
            if name.starts_with("libxmljs.parseXml")
                && positional(args, 1)
                    .and_then(|o| object_value(src, o, "noent"))
                    .is_some_and(|v| src.t(v) == "true")
            {
                out.push(hit(
                    src,
                    n,
                    rules::XXE,
                    Severity::High,
                    Confidence::Medium,
                    "libxmljs parses with noent: true, which substitutes external entities".into(),
                    "`noent: true`".into(),
                ));
            }
        }
        Language::Go => {
            if matches!(name, "md5.New" | "md5.Sum" | "sha1.New" | "sha1.Sum") {
                weak_hash_check(src, n, name, out);
            }
            if matches!(
                name,
                "des.NewCipher" | "des.NewTripleDESCipher" | "rc4.NewCipher" | "blowfish.NewCipher"
            ) {
                out.push(hit(
                    src,
                    n,
                    rules::WEAK_CIPHER,
                    Severity::High,
                    Confidence::High,
                    format!("{name}() uses a broken cipher"),
                    format!("`{name}`"),
                ));
            }
            let listen = matches!(
                name,
                "http.ListenAndServe" | "http.ListenAndServeTLS" | "net.Listen"
            ) || matches!(method, "Start" | "ListenAndServe" | "Run");
            if listen && !auth.visible() {
                let addr_idx = usize::from(name == "net.Listen");
                if let Some(addr) = lit(addr_idx)
                    && (addr.starts_with(':') || is_all_interfaces(&addr))
                {
                    out.push(hit(src, n, rules::NETWORK_BINDING, Severity::Medium, Confidence::Medium,
                        format!("{name}(\"{addr}\") listens on all interfaces and the file shows no authentication"), format!("`{addr}`")));
                }
            }
        }
        Language::Rust => {
            if [
                "md5.compute",
                "Md5.new",
                "Md5.digest",
                "Sha1.new",
                "Sha1.digest",
            ]
            .iter()
            // `name` is the pattern, or ends with `.` and the pattern.
            .any(|p| {
                name.strip_suffix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
            }) {
                weak_hash_check(src, n, name, out);
            }
            if [
                "Des.new",
                "TdesEde3.new",
                "Rc4.new",
                "Blowfish.new",
                "Des.new_from_slice",
                "TdesEde3.new_from_slice",
                "Rc4.new_from_slice",
                "Blowfish.new_from_slice",
            ]
            .iter()
            // `name` is the pattern, or ends with `.` and the pattern.
            .any(|p| {
                name.strip_suffix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
            }) {
                out.push(hit(
                    src,
                    n,
                    rules::WEAK_CIPHER,
                    Severity::High,
                    Confidence::High,
                    format!("{name}() uses a broken cipher"),
                    format!("`{name}`"),
                ));
            }
            if matches!(
                method,
                "danger_accept_invalid_certs" | "danger_accept_invalid_hostnames"
            ) && args.first().is_some_and(|a| src.t(a.value) == "true")
            {
                out.push(hit(
                    src,
                    n,
                    rules::TLS_VERIFY_DISABLED,
                    Severity::High,
                    Confidence::High,
                    format!("{method}(true) turns TLS verification off"),
                    format!("`{method}(true)`"),
                ));
            }
            if matches!(method, "bind" | "serve" | "listen" | "run" | "bind_addr")
                && !auth.visible()
                && let Some(addr) = lit(0)
                && is_all_interfaces(&addr)
            {
                out.push(hit(src, n, rules::NETWORK_BINDING, Severity::Medium, Confidence::Medium,
                    format!("{name}(\"{addr}\") listens on all interfaces and the file shows no authentication"), format!("`{addr}`")));
            }
            if ends_with_seg(name, "SocketAddr.from")
                && !auth.visible()
                && let Some(a) = positional(args, 0)
                && src
                    .t(unwrap_expr(a))
                    .replace(' ', "")
                    .starts_with("([0,0,0,0],")
            {
                out.push(hit(
                    src,
                    n,
                    rules::NETWORK_BINDING,
                    Severity::Medium,
                    Confidence::Medium,
                    "server address is 0.0.0.0 and the file shows no authentication".into(),
                    "`[0, 0, 0, 0]`".into(),
                ));
            }
        }
    }
}

fn ends_with_seg(name: &str, pat: &str) -> bool {
    name == pat || name.ends_with(&format!(".{pat}"))
}

fn weak_hash_check(src: &Src, n: Node, name: &str, out: &mut Vec<PatternHit>) {
    let stmt = statement_text(src, n);
    let sig = enclosing_function_text(src, n);
    if security_context(stmt) || security_context(sig) {
        out.push(hit(
            src,
            n,
            rules::WEAK_HASH,
            Severity::Medium,
            Confidence::Medium,
            format!("{name} is used for a password, token or signature"),
            format!("`{}`", crate::syntax::clip(stmt.trim(), 100)),
        ));
    }
}
