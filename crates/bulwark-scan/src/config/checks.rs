//! The checks run on each declared server.

use std::sync::LazyLock;

use regex::Regex;

use super::rules::*;
use super::{Ctx, Server, expand_home};
use crate::Confidence;
use crate::jsonc::Node;
use crate::secrets::{KeyHint, find_secrets, key_hint};
use crate::text::mask;
use crate::typosquat::typosquat_of;

/// One word of a server's command line, with where it starts in the file.
#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub(crate) text: String,
    pub(crate) offset: usize,
}

pub(crate) fn check_server(ctx: &mut Ctx<'_>, server: &Server<'_>) {
    let argv = command_line(ctx, server.node);
    let argv = unwrap_launchers(argv);
    check_secrets(ctx, server, &argv);
    check_plain_http(ctx, server, &argv);
    check_packages(ctx, server, &argv);
    check_broad_filesystem(ctx, server, &argv);
    check_tls(ctx, server, &argv);
    check_untrusted_path(ctx, server, &argv);
    check_docker(ctx, server, &argv);
}

fn string_arg(ctx: &Ctx<'_>, node: &Node) -> Option<Arg> {
    let text = node.scalar_text()?;
    let offset = ctx.offset_in(node, 0);
    Some(Arg { text, offset })
}

/// Splits a shell-ish string on blanks (quotes honoured, no expansion).
fn split_words(ctx: &Ctx<'_>, node: &Node, text: &str) -> Vec<Arg> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut start = None;
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                start.get_or_insert(i);
            }
            (None, c) if c.is_whitespace() => {
                if let Some(s) = start.take() {
                    words.push(Arg {
                        text: std::mem::take(&mut current),
                        offset: ctx.offset_in(node, s),
                    });
                }
            }
            (None, c) => {
                start.get_or_insert(i);
                current.push(c);
            }
        }
    }
    if let Some(s) = start {
        words.push(Arg {
            text: current,
            offset: ctx.offset_in(node, s),
        });
    }
    words
}

/// `command` followed by `args`; a `command` holding a whole command line
/// (`"npx -y pkg"`) is split.
fn command_line(ctx: &Ctx<'_>, node: &Node) -> Vec<Arg> {
    let mut argv = Vec::new();
    if let Some(command) = node.get("command") {
        if let Some(text) = command.as_str() {
            if text.trim().contains(' ') && !std::path::Path::new(text).exists() {
                argv.extend(split_words(ctx, command, text));
            } else {
                argv.extend(string_arg(ctx, command));
            }
        } else if let Some(path) = command.get("path") {
            // Zed: {"command": {"path", "args", "env"}}.
            argv.extend(string_arg(ctx, path));
            argv.extend(args_of(ctx, command));
        }
    }
    argv.extend(args_of(ctx, node));
    argv
}

fn args_of(ctx: &Ctx<'_>, node: &Node) -> Vec<Arg> {
    node.get("args")
        .and_then(Node::items)
        .into_iter()
        .flatten()
        .filter_map(|item| string_arg(ctx, item))
        .collect()
}

/// Lowercase program name without directory or Windows extension.
pub(crate) fn program(arg: &str) -> String {
    let name = arg
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(arg)
        .to_ascii_lowercase();
    for ext in [".exe", ".cmd", ".bat", ".ps1"] {
        if let Some(stem) = name.strip_suffix(ext) {
            return stem.to_string();
        }
    }
    name
}

/// Drops `cmd /c`, `sh -c "..."` and `env VAR=x` wrappers.
fn unwrap_launchers(mut argv: Vec<Arg>) -> Vec<Arg> {
    for _ in 0..4 {
        let Some(first) = argv.first() else { break };
        let prog = program(&first.text);
        let second = argv.get(1).map(|a| a.text.to_ascii_lowercase());
        match (prog.as_str(), second.as_deref()) {
            ("cmd", Some("/c" | "/k")) => {
                argv.drain(..2);
            }
            ("sh" | "bash" | "zsh" | "dash", Some("-c" | "-lc")) if argv.len() > 2 => {
                let script = argv[2].clone();
                argv = script
                    .text
                    .split_whitespace()
                    .scan(0usize, |from, word| {
                        let at = script.text[*from..].find(word).map_or(*from, |i| *from + i);
                        *from = at + word.len();
                        Some(Arg {
                            text: word.to_string(),
                            offset: script.offset + at,
                        })
                    })
                    .collect();
            }
            ("env", _) => {
                argv.remove(0);
                while argv
                    .first()
                    .is_some_and(|a| a.text.contains('=') || a.text.starts_with('-'))
                {
                    argv.remove(0);
                }
            }
            _ => break,
        }
    }
    argv
}

fn members_of<'n>(node: &'n Node, keys: &[&str]) -> Vec<(&'n str, &'n Node)> {
    keys.iter()
        .filter_map(|k| node.get(k))
        .flat_map(|n| n.members().into_iter().flatten())
        .map(|m| (m.key.as_str(), &m.value))
        .collect()
}

fn env_of(node: &Node) -> Vec<(&str, &Node)> {
    let mut env = members_of(node, &["env", "environment"]);
    if let Some(command) = node.get("command") {
        env.extend(members_of(command, &["env"]));
    }
    env
}

fn url_nodes(node: &Node) -> Vec<&Node> {
    [
        "url",
        "serverUrl",
        "httpUrl",
        "endpoint",
        "baseUrl",
        "base_url",
    ]
    .iter()
    .filter_map(|k| node.get(k))
    .filter(|n| n.as_str().is_some())
    .collect()
}

fn report_secret(
    ctx: &mut Ctx<'_>,
    server: &Server<'_>,
    node: &Node,
    base: usize,
    what: &str,
    value: &str,
    key: &str,
) {
    for hit in find_secrets(key, value) {
        let offset = ctx.offset_in(node, base + hit.offset);
        let confidence = if hit.strong {
            Confidence::High
        } else {
            Confidence::Medium
        };
        let masked = mask(&hit.literal);
        ctx.secrets.push(hit.literal.clone());
        ctx.add(
            &HARDCODED_SECRET,
            confidence,
            offset,
            format!(
                "server \"{}\": {what} holds a hardcoded {}",
                server.name, hit.kind
            ),
            format!("{}: {masked}", hit.kind),
        );
    }
}

fn check_secrets(ctx: &mut Ctx<'_>, server: &Server<'_>, argv: &[Arg]) {
    for (key, value) in env_of(server.node) {
        if let Some(text) = value.scalar_text() {
            report_secret(ctx, server, value, 0, &format!("env {key}"), &text, key);
        }
    }
    for (key, value) in members_of(server.node, &["headers", "http_headers"]) {
        if let Some(text) = value.as_str() {
            report_secret(ctx, server, value, 0, &format!("header {key}"), text, key);
        }
    }
    for url in url_nodes(server.node) {
        let text = url.as_str().unwrap_or("").to_string();
        report_secret(ctx, server, url, 0, "the URL", &text, "");
        if find_secrets("", &text).is_empty() {
            for (key, value, at) in query_params(&text) {
                report_secret(
                    ctx,
                    server,
                    url,
                    at,
                    &format!("URL parameter {key}"),
                    value,
                    key,
                );
            }
        }
    }
    // Arguments: `--token=x`, `--token x`, `KEY=x`, or a bare provider token.
    let mut previous_flag: Option<&str> = None;
    for arg in argv {
        let text = arg.text.as_str();
        let (key, value, at) = if let Some((flag, value)) = text.split_once('=')
            && (flag.starts_with('-') || is_env_name(flag))
        {
            (flag.trim_start_matches('-'), value, flag.len() + 1)
        } else if let Some(flag) = previous_flag
            && !text.starts_with('-')
        {
            (flag, text, 0)
        } else {
            ("", text, 0)
        };
        let hits = find_secrets(key, value);
        for hit in hits {
            let masked = mask(&hit.literal);
            ctx.secrets.push(hit.literal.clone());
            let confidence = if hit.strong {
                Confidence::High
            } else {
                Confidence::Medium
            };
            let offset = shifted(ctx, arg, at + hit.offset);
            ctx.add(
                &HARDCODED_SECRET,
                confidence,
                offset,
                format!(
                    "server \"{}\": a command-line argument holds a hardcoded {}",
                    server.name, hit.kind
                ),
                format!("{}: {masked}", hit.kind),
            );
        }
        previous_flag =
            (text.starts_with('-') && !text.contains('=')).then(|| text.trim_start_matches('-'));
    }
}

/// The file offset of byte `index` within an argument, when the source
/// text there matches (no escapes).
fn shifted(ctx: &Ctx<'_>, arg: &Arg, index: usize) -> usize {
    match (
        ctx.text.get(arg.offset..arg.offset + index),
        arg.text.get(..index),
    ) {
        (Some(raw), Some(value)) if raw == value => arg.offset + index,
        _ => arg.offset,
    }
}

fn is_env_name(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn query_params(url: &str) -> Vec<(&str, &str, usize)> {
    let Some(q) = url.find('?') else {
        return Vec::new();
    };
    let query = url[q + 1..].split('#').next().unwrap_or("");
    let mut out = Vec::new();
    let mut at = q + 1;
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            out.push((k, v, at + k.len() + 1));
        }
        at += pair.len() + 1;
    }
    out
}

static HTTP_URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:http|ws)://([^\s/'`?#]+)").expect("http url pattern"));

/// Host of a URL authority (`user:pw@host:port`, `[::1]:8080`).
fn host_of(authority: &str) -> String {
    let after_user = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(rest) = after_user.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        after_user.split(':').next().unwrap_or(after_user)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "::1"
        || host == "0:0:0:0:0:0:0:1"
        || host == "0.0.0.0"
        || host == "host.docker.internal"
        || host
            .strip_prefix("127.")
            .is_some_and(|rest| rest.split('.').all(|p| p.parse::<u8>().is_ok()))
}

fn check_plain_http(ctx: &mut Ctx<'_>, server: &Server<'_>, argv: &[Arg]) {
    let mut places: Vec<(Arg, &str, Confidence)> = Vec::new();
    for url in url_nodes(server.node) {
        if let Some(arg) = string_arg(ctx, url) {
            places.push((arg, "its URL", Confidence::High));
        }
    }
    for arg in argv {
        places.push((arg.clone(), "a command-line argument", Confidence::High));
    }
    for (key, value) in env_of(server.node) {
        if value.as_str().is_some() && !key.to_ascii_uppercase().contains("PROXY") {
            places.extend(
                string_arg(ctx, value).map(|a| (a, "an environment variable", Confidence::Medium)),
            );
        }
    }
    for (arg, what, confidence) in places {
        for caps in HTTP_URL.captures_iter(&arg.text) {
            let whole = caps.get(0).expect("match");
            let host = host_of(&caps[1]);
            if host.is_empty() || is_loopback(&host) {
                continue;
            }
            let offset = shifted(ctx, &arg, whole.start());
            ctx.add(
                &PLAIN_HTTP,
                confidence,
                offset,
                format!(
                    "server \"{}\": {what} uses unencrypted {} to {host}",
                    server.name,
                    &whole.as_str()[..whole.as_str().find(':').unwrap_or(0)]
                ),
                format!(
                    "{}://{host}",
                    &whole.as_str()[..whole.as_str().find(':').unwrap_or(0)].to_ascii_lowercase()
                ),
            );
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ecosystem {
    Npm,
    Python,
}

/// The packages a launcher command line fetches and runs.
fn launched_packages(argv: &[Arg]) -> Vec<(Ecosystem, Arg, &'static str)> {
    let Some(first) = argv.first() else {
        return Vec::new();
    };
    let prog = program(&first.text);
    let word = |i: usize| argv.get(i).map(|a| a.text.as_str());
    let (ecosystem, start, launcher): (Ecosystem, usize, &'static str) =
        match (prog.as_str(), word(1), word(2)) {
            ("npx" | "bunx" | "pnpx", _, _) => (Ecosystem::Npm, 1, "npx"),
            ("pnpm" | "yarn", Some("dlx"), _) => (Ecosystem::Npm, 2, "dlx"),
            ("npm", Some("exec" | "x"), _) => (Ecosystem::Npm, 2, "npm exec"),
            ("bun", Some("x"), _) => (Ecosystem::Npm, 2, "bun x"),
            ("uvx", _, _) => (Ecosystem::Python, 1, "uvx"),
            ("uv", Some("tool"), Some("run")) => (Ecosystem::Python, 3, "uv tool run"),
            ("pipx", Some("run"), _) => (Ecosystem::Python, 2, "pipx run"),
            _ => return Vec::new(),
        };
    let valued: &[&str] = match ecosystem {
        Ecosystem::Npm => &[
            "-p",
            "--package",
            "-c",
            "--call",
            "--registry",
            "--cache",
            "-w",
            "--workspace",
        ],
        Ecosystem::Python => &[
            "--from",
            "--spec",
            "--with",
            "--with-editable",
            "--with-requirements",
            "--python",
            "-p",
            "--index-url",
            "-i",
            "--extra-index-url",
            "--index",
            "--default-index",
            "--pip-args",
            "--directory",
            "--constraints",
            "--overrides",
        ],
    };
    let explicit_flags: &[&str] = match ecosystem {
        Ecosystem::Npm => &["-p", "--package"],
        Ecosystem::Python => &["--from", "--spec"],
    };
    let mut explicit = Vec::new();
    let mut positional = None;
    let mut i = start;
    while i < argv.len() {
        let text = argv[i].text.as_str();
        if text == "--" {
            positional = argv.get(i + 1).cloned();
            break;
        }
        if let Some((flag, value)) = text.split_once('=')
            && flag.starts_with('-')
        {
            if explicit_flags.contains(&flag) {
                explicit.push(Arg {
                    text: value.to_string(),
                    offset: argv[i].offset + flag.len() + 1,
                });
            }
            i += 1;
            continue;
        }
        if text.starts_with('-') {
            if valued.contains(&text) {
                if explicit_flags.contains(&text) {
                    explicit.extend(argv.get(i + 1).cloned());
                }
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        positional = Some(argv[i].clone());
        break;
    }
    let packages = if explicit.is_empty() {
        positional.into_iter().collect()
    } else {
        explicit
    };
    packages
        .into_iter()
        .map(|p| (ecosystem, p, launcher))
        .collect()
}

/// Package name without version or extras.
fn package_name(ecosystem: Ecosystem, spec: &str) -> String {
    match ecosystem {
        Ecosystem::Npm => {
            let (scope_len, rest) = match spec.strip_prefix('@') {
                Some(rest) => (1, rest),
                None => (0, spec),
            };
            let end = rest.find('@').map_or(spec.len(), |i| i + scope_len);
            spec[..end].to_string()
        }
        Ecosystem::Python => spec
            .split(['=', '<', '>', '!', '~', '[', '@', ';', ' '])
            .next()
            .unwrap_or(spec)
            .trim()
            .to_string(),
    }
}

fn is_remote_spec(spec: &str) -> bool {
    let lower = spec.to_ascii_lowercase();
    [
        "git+",
        "git://",
        "github:",
        "gitlab:",
        "bitbucket:",
        "http://",
        "https://",
        "file:",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
        || lower.contains(" @ ")
}

fn commit_pinned(spec: &str) -> bool {
    spec.rsplit(['#', '@'])
        .next()
        .is_some_and(|rev| rev.len() >= 40 && rev.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Why a package spec is not pinned, if it is not.
fn unpinned_reason(ecosystem: Ecosystem, spec: &str) -> Option<String> {
    if is_remote_spec(spec) {
        return (!commit_pinned(spec))
            .then(|| "comes from a URL or git ref without a commit hash".to_string());
    }
    if spec.starts_with('.') || spec.starts_with('/') {
        return None;
    }
    let version = match ecosystem {
        Ecosystem::Npm => {
            let name_len = package_name(ecosystem, spec).len();
            spec.get(name_len + 1..).unwrap_or("").to_string()
        }
        Ecosystem::Python => {
            if let Some((_, v)) = spec.split_once("==") {
                v.trim_start_matches('=').trim().to_string()
            } else if let Some((_, v)) = spec.split_once('@') {
                v.trim().to_string()
            } else {
                String::new()
            }
        }
    };
    let lower = version.to_ascii_lowercase();
    if lower.is_empty() {
        Some("has no version".to_string())
    } else if [
        "latest", "next", "*", "x", "canary", "beta", "alpha", "nightly",
    ]
    .contains(&lower.as_str())
    {
        Some(format!("follows the moving tag `{version}`"))
    } else {
        None
    }
}

fn check_packages(ctx: &mut Ctx<'_>, server: &Server<'_>, argv: &[Arg]) {
    for (ecosystem, package, launcher) in launched_packages(argv) {
        let name = package_name(ecosystem, &package.text);
        if let Some(reason) = unpinned_reason(ecosystem, &package.text) {
            ctx.add(
                &UNPINNED_PACKAGE,
                Confidence::High,
                package.offset,
                format!(
                    "server \"{}\": `{launcher} {}` {reason}; every start may fetch and run a different release",
                    server.name, package.text
                ),
                format!("{launcher} {}", package.text),
            );
        }
        if !is_remote_spec(&package.text)
            && let Some(original) = typosquat_of(&name)
        {
            ctx.add(
                &TYPOSQUAT,
                Confidence::Medium,
                package.offset,
                format!(
                    "server \"{}\": package `{name}` is one or two edits away from the popular `{original}`",
                    server.name
                ),
                format!("{name} ~ {original}"),
            );
        }
    }
}

/// A path that grants a whole disk, the home directory or a system tree.
pub(crate) fn is_broad_root(value: &str) -> bool {
    let value = value.trim();
    if value == "/" || value == "\\" {
        return true;
    }
    let trimmed = value.trim_end_matches(['/', '\\']);
    static DRIVE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[A-Za-z]:$").expect("drive pattern"));
    static HOME_OF: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(/home|/Users|[A-Z]:[\\/]+Users)[\\/]+[^\\/]+$").expect("home pattern")
    });
    if trimmed.is_empty() || DRIVE.is_match(trimmed) || HOME_OF.is_match(trimmed) {
        return true;
    }
    const BROAD: &[&str] = &[
        "~",
        "$HOME",
        "${HOME}",
        "${env:HOME}",
        "${userHome}",
        "%USERPROFILE%",
        "${env:USERPROFILE}",
        "%HOMEDRIVE%%HOMEPATH%",
        "/home",
        "/Users",
        "/root",
        "/etc",
        "/var",
        "/usr",
        "/mnt",
        "/Volumes",
        "/private",
        "/opt",
        "/srv",
    ];
    if BROAD.iter().any(|b| b.eq_ignore_ascii_case(trimmed)) {
        return true;
    }
    dirs::home_dir().is_some_and(|home| {
        let home = home.to_string_lossy();
        let home = home.trim_end_matches(['/', '\\']);
        !home.is_empty() && trimmed == home
    })
}

const DIRECTORY_FLAGS: &[&str] = &[
    "root",
    "dir",
    "directory",
    "directories",
    "allowed-dir",
    "allowed-dirs",
    "allowed-directory",
    "allowed-directories",
    "allowed-path",
    "allowed-paths",
    "allow-dir",
    "path",
    "paths",
    "workspace",
    "base-dir",
    "base-path",
    "mount",
    "roots",
];

fn is_directory_env(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    upper.contains("ALLOWED")
        || upper.ends_with("ROOT")
        || upper.ends_with("ROOTS")
        || upper.ends_with("_DIR")
        || upper.ends_with("_DIRS")
        || upper.ends_with("DIRECTORY")
        || upper.ends_with("DIRECTORIES")
        || upper.ends_with("_PATHS")
}

fn check_broad_filesystem(ctx: &mut Ctx<'_>, server: &Server<'_>, argv: &[Arg]) {
    let filesystem_server = server.name.to_ascii_lowercase().contains("filesystem")
        || argv
            .iter()
            .any(|a| a.text.to_ascii_lowercase().contains("filesystem"));
    let docker = argv.first().is_some_and(|a| is_container_cli(&a.text));
    let mut previous_flag: Option<String> = None;
    for arg in argv.iter().skip(1) {
        let text = arg.text.as_str();
        let (flag, value, at) = match text.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (
                Some(flag.trim_start_matches('-').to_ascii_lowercase()),
                value,
                flag.len() + 1,
            ),
            _ if text.starts_with('-') => {
                previous_flag = Some(text.trim_start_matches('-').to_ascii_lowercase());
                continue;
            }
            _ => (previous_flag.take(), text, 0),
        };
        let wanted = (filesystem_server && !docker)
            || flag
                .as_deref()
                .is_some_and(|f| DIRECTORY_FLAGS.contains(&f));
        if wanted && value.split([',', ';']).any(is_broad_root) {
            let offset = shifted(ctx, arg, at);
            ctx.add(
                &BROAD_FILESYSTEM,
                Confidence::High,
                offset,
                format!("server \"{}\": filesystem access to `{value}` exposes the whole disk or home directory", server.name),
                format!("allowed path {value}"),
            );
        }
        previous_flag = None;
    }
    for (key, value) in env_of(server.node) {
        let Some(text) = value.as_str() else { continue };
        if is_directory_env(key) && text.split([',', ';']).any(is_broad_root) {
            let offset = ctx.offset_in(value, 0);
            ctx.add(
                &BROAD_FILESYSTEM,
                Confidence::Medium,
                offset,
                format!(
                    "server \"{}\": env {key} grants `{text}`, the whole disk or home directory",
                    server.name
                ),
                format!("{key}={text}"),
            );
        }
    }
}

fn truthy(text: &str) -> bool {
    ["1", "true", "yes", "on"].contains(&text.trim().to_ascii_lowercase().as_str())
}

fn falsy(text: &str) -> bool {
    ["0", "false", "no", "off"].contains(&text.trim().to_ascii_lowercase().as_str())
}

/// Config keys whose `false` turns verification off.
const VERIFY_KEYS: &[&str] = &[
    "verify_ssl",
    "verifyssl",
    "ssl_verify",
    "sslverify",
    "tls_verify",
    "tlsverify",
    "verify_tls",
    "verifytls",
    "verify",
    "rejectunauthorized",
    "reject_unauthorized",
    "verify_certificate",
    "verifycertificate",
    "check_certificate",
];
/// Config keys whose `true` turns verification off.
const INSECURE_KEYS: &[&str] = &[
    "insecure",
    "skip_tls_verify",
    "skiptlsverify",
    "insecure_skip_verify",
    "insecureskipverify",
    "tls_insecure",
    "tlsinsecure",
    "allow_insecure",
    "allowinsecure",
    "ssl_no_verify",
    "no_verify_ssl",
    "disable_ssl_verification",
    "ignore_certificate_errors",
    "ignoresslerrors",
    "ignore_ssl_errors",
];
const INSECURE_FLAGS: &[&str] = &[
    "--insecure",
    "--no-verify-ssl",
    "--no-check-certificate",
    "--ignore-certificate-errors",
    "--ssl-no-verify",
    "--tls-skip-verify",
    "--skip-tls-verify",
    "--insecure-skip-tls-verify",
    "--disable-ssl-verification",
    "--allow-insecure",
    "--no-ssl-verify",
    "--no-tls-verify",
    "--insecure-skip-verify",
    "--ignore-ssl-errors",
];

fn normalised_key(key: &str) -> String {
    key.to_ascii_lowercase().replace('-', "_")
}

fn check_tls(ctx: &mut Ctx<'_>, server: &Server<'_>, argv: &[Arg]) {
    for (key, value) in env_of(server.node) {
        let Some(text) = value.scalar_text() else {
            continue;
        };
        let upper = key.to_ascii_uppercase();
        let off = match upper.as_str() {
            "NODE_TLS_REJECT_UNAUTHORIZED" | "PYTHONHTTPSVERIFY" => text.trim() == "0",
            "GIT_SSL_NO_VERIFY" | "CURL_INSECURE" => truthy(&text) || text.trim().is_empty(),
            "REQUESTS_CA_BUNDLE" | "CURL_CA_BUNDLE" | "SSL_CERT_FILE" => text.trim().is_empty(),
            _ => {
                let lower = normalised_key(key);
                (VERIFY_KEYS.iter().any(|k| lower.ends_with(k)) && falsy(&text))
                    || (INSECURE_KEYS.iter().any(|k| lower.ends_with(k)) && truthy(&text))
            }
        };
        if off {
            let offset = ctx.offset_in(value, 0);
            ctx.add(
                &TLS_DISABLED,
                Confidence::High,
                offset,
                format!(
                    "server \"{}\": env {key}={text} turns off TLS certificate verification",
                    server.name
                ),
                format!("{key}={text}"),
            );
        }
    }
    for arg in argv.iter().skip(1) {
        let lower = arg.text.to_ascii_lowercase();
        let (flag, value) = lower
            .split_once('=')
            .map_or((lower.as_str(), None), |(f, v)| (f, Some(v)));
        let insecure_flag = INSECURE_FLAGS.contains(&flag) && value.is_none_or(truthy);
        let verify_off = matches!(
            flag,
            "--verify-ssl"
                | "--ssl-verify"
                | "--tls-verify"
                | "--verify"
                | "--verify-tls"
                | "--check-certificate"
        ) && value.is_some_and(falsy);
        let confidence = if insecure_flag || verify_off {
            Some(Confidence::High)
        } else if flag == "-k" && value.is_none() {
            Some(Confidence::Medium)
        } else {
            None
        };
        if let Some(confidence) = confidence {
            ctx.add(
                &TLS_DISABLED,
                confidence,
                arg.offset,
                format!(
                    "server \"{}\": argument `{}` turns off TLS certificate verification",
                    server.name, arg.text
                ),
                arg.text.clone(),
            );
        }
    }
    let mut stack = vec![server.node];
    while let Some(node) = stack.pop() {
        for member in node.members().into_iter().flatten() {
            if matches!(
                member.key.as_str(),
                "env" | "environment" | "args" | "headers"
            ) {
                continue;
            }
            let key = normalised_key(&member.key);
            let text = match member.value.as_bool() {
                Some(b) => Some(b.to_string()),
                None => member.value.as_str().map(str::to_string),
            };
            if let Some(text) = text
                && ((VERIFY_KEYS.contains(&key.as_str()) && falsy(&text))
                    || (INSECURE_KEYS.contains(&key.as_str()) && truthy(&text)))
            {
                ctx.add(
                    &TLS_DISABLED,
                    Confidence::High,
                    member.value.content_start(),
                    format!(
                        "server \"{}\": `{}: {text}` turns off TLS certificate verification",
                        server.name, member.key
                    ),
                    format!("{}: {text}", member.key),
                );
            }
            if member.value.members().is_some() {
                stack.push(&member.value);
            }
        }
    }
}

/// Locations anyone (or any download) can write to.
fn temporary_location(path: &str) -> Option<&'static str> {
    let lower = path.replace('\\', "/").to_ascii_lowercase();
    const UNIX: &[(&str, &str)] = &[
        ("/tmp/", "/tmp"),
        ("/var/tmp/", "/var/tmp"),
        ("/dev/shm/", "/dev/shm"),
        ("/private/tmp/", "/tmp"),
        ("/private/var/folders/", "the macOS temporary directory"),
        ("$tmpdir/", "$TMPDIR"),
        ("${tmpdir}/", "$TMPDIR"),
        ("%temp%/", "%TEMP%"),
        ("%tmp%/", "%TMP%"),
        ("${env:temp}/", "%TEMP%"),
        ("c:/windows/temp/", "C:\\Windows\\Temp"),
        ("c:/temp/", "C:\\Temp"),
        ("c:/tmp/", "C:\\tmp"),
    ];
    for (prefix, name) in UNIX {
        if lower.starts_with(prefix) || lower == prefix.trim_end_matches('/') {
            return Some(name);
        }
    }
    static DOWNLOADS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(~|\$home|\$\{home\}|\$\{env:home\}|\$\{userhome\}|%userprofile%|/home/[^/]+|/users/[^/]+|[a-z]:/users/[^/]+)/downloads(/|$)")
            .expect("downloads pattern")
    });
    if DOWNLOADS.is_match(&lower) {
        return Some("the Downloads folder");
    }
    if lower.contains("/appdata/local/temp/") {
        return Some("%LOCALAPPDATA%\\Temp");
    }
    None
}

/// Whether a path, or a directory above it, can be written by other users.
#[cfg(unix)]
fn world_writable(path: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = expand_home(path)?;
    let meta = std::fs::metadata(&path).ok()?;
    if meta.permissions().mode() & 0o002 != 0 {
        return Some("is world-writable".to_string());
    }
    for dir in path.ancestors().skip(1) {
        if let Ok(meta) = std::fs::metadata(dir) {
            let mode = meta.permissions().mode();
            if mode & 0o002 != 0 && mode & 0o1000 == 0 {
                return Some(format!("is in {}, which is world-writable", dir.display()));
            }
        }
    }
    None
}

#[cfg(not(unix))]
fn world_writable(_path: &str) -> Option<String> {
    None
}

const INTERPRETERS: &[&str] = &[
    "node",
    "python",
    "python3",
    "bash",
    "sh",
    "zsh",
    "deno",
    "bun",
    "ruby",
    "perl",
    "php",
    "java",
    "pwsh",
    "powershell",
    "tsx",
    "ts-node",
];

fn check_untrusted_path(ctx: &mut Ctx<'_>, server: &Server<'_>, argv: &[Arg]) {
    let mut candidates: Vec<(Arg, &str)> = Vec::new();
    if let Some(first) = argv.first() {
        candidates.push((first.clone(), "its command"));
        if INTERPRETERS.contains(&program(&first.text).as_str())
            && let Some(script) = argv[1..].iter().find(|a| !a.text.starts_with('-'))
        {
            candidates.push((script.clone(), "its script"));
        }
        let mut iter = argv.iter();
        while let Some(arg) = iter.next() {
            if matches!(
                arg.text.as_str(),
                "--directory" | "--cwd" | "--prefix" | "-C"
            ) && let Some(dir) = iter.next()
            {
                candidates.push((dir.clone(), "its working directory"));
            }
        }
    }
    for key in ["cwd", "working_dir", "workingDirectory"] {
        if let Some(node) = server.node.get(key)
            && let Some(arg) = string_arg(ctx, node)
        {
            candidates.push((arg, "its working directory"));
        }
    }
    for (arg, what) in candidates {
        let reason = temporary_location(&arg.text)
            .map(|place| format!("is in {place}, which other users or downloads can write"))
            .or_else(|| world_writable(&arg.text));
        if let Some(reason) = reason {
            ctx.add(
                &UNTRUSTED_PATH,
                Confidence::High,
                arg.offset,
                format!("server \"{}\": {what} `{}` {reason}", server.name, arg.text),
                arg.text.clone(),
            );
        }
    }
}

fn is_container_cli(word: &str) -> bool {
    matches!(program(word).as_str(), "docker" | "podman" | "nerdctl")
}

const DOCKER_VALUED: &[&str] = &[
    "-e",
    "--env",
    "-v",
    "--volume",
    "--mount",
    "-p",
    "--publish",
    "--name",
    "--network",
    "--net",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "--entrypoint",
    "--env-file",
    "-l",
    "--label",
    "--cap-add",
    "--cap-drop",
    "--platform",
    "--add-host",
    "--device",
    "-m",
    "--memory",
    "--cpus",
    "--security-opt",
    "--pid",
    "--ipc",
    "--restart",
    "--log-driver",
    "--log-opt",
    "-h",
    "--hostname",
    "--tmpfs",
    "--ulimit",
    "--shm-size",
    "--dns",
    "--gpus",
    "--userns",
    "--pull",
    "--runtime",
    "--cidfile",
    "--group-add",
    "--health-cmd",
    "--init-path",
    "--stop-signal",
    "--stop-timeout",
    "--uts",
    "--cgroupns",
    "--volumes-from",
];

const DOCKER_SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "//var/run/docker.sock",
    "/run/podman/podman.sock",
    "\\\\.\\pipe\\docker_engine",
    "//./pipe/docker_engine",
];

fn volume_source(spec: &str) -> &str {
    let bytes = spec.as_bytes();
    // `C:\data:/data` keeps its drive letter.
    let from = if bytes.len() > 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        2
    } else {
        0
    };
    match spec[from..].find(':') {
        Some(i) => &spec[..from + i],
        None => spec,
    }
}

fn check_docker(ctx: &mut Ctx<'_>, server: &Server<'_>, argv: &[Arg]) {
    let Some(first) = argv.first() else { return };
    if !is_container_cli(&first.text) {
        return;
    }
    let Some(run) = argv.iter().position(|a| a.text == "run") else {
        return;
    };
    let mut i = run + 1;
    let mut image: Option<&Arg> = None;
    while i < argv.len() {
        let arg = &argv[i];
        let text = arg.text.as_str();
        if !text.starts_with('-') {
            image = Some(arg);
            break;
        }
        let (flag, inline, value_arg) = match text.split_once('=') {
            Some((flag, value)) => (
                flag,
                true,
                Some((value.to_string(), arg.offset + flag.len() + 1)),
            ),
            None if DOCKER_VALUED.contains(&text) => {
                i += 1;
                (text, false, argv.get(i).map(|a| (a.text.clone(), a.offset)))
            }
            None => (text, false, None),
        };
        let _ = inline;
        let value = value_arg.as_ref().map(|(v, _)| v.as_str()).unwrap_or("");
        let value_offset = value_arg.as_ref().map_or(arg.offset, |(_, o)| *o);
        let privileged = match flag {
            "--privileged" => value.is_empty() || truthy(value),
            "--cap-add" => [
                "ALL",
                "SYS_ADMIN",
                "SYS_PTRACE",
                "SYS_MODULE",
                "NET_ADMIN",
                "DAC_READ_SEARCH",
                "SYS_RAWIO",
            ]
            .contains(&value.to_ascii_uppercase().trim_start_matches("CAP_")),
            "--pid" | "--userns" | "--uts" | "--ipc" => value == "host",
            "--security-opt" => {
                let v = value.to_ascii_lowercase().replace(':', "=");
                [
                    "seccomp=unconfined",
                    "apparmor=unconfined",
                    "label=disable",
                    "systempaths=unconfined",
                ]
                .contains(&v.as_str())
            }
            _ => false,
        };
        if privileged {
            let shown = if value.is_empty() {
                flag.to_string()
            } else {
                format!("{flag} {value}")
            };
            ctx.add(
                &DOCKER_PRIVILEGED,
                Confidence::High,
                arg.offset,
                format!("server \"{}\": container runs with `{shown}`, which gives it control of the host", server.name),
                shown,
            );
        }
        let source = match flag {
            "-v" | "--volume" => Some(volume_source(value).to_string()),
            "--mount" => value.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                matches!(k.trim(), "source" | "src").then(|| v.trim().to_string())
            }),
            _ => None,
        };
        if let Some(source) = source {
            let socket = DOCKER_SOCKETS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&source));
            if socket || is_broad_root(&source) {
                let (severity, what) = if socket {
                    (
                        crate::Severity::Critical,
                        "the Docker socket (root on the host)".to_string(),
                    )
                } else {
                    (DOCKER_HOST_MOUNT.severity, format!("the host's `{source}`"))
                };
                ctx.add_with_severity(
                    &DOCKER_HOST_MOUNT,
                    severity,
                    Confidence::High,
                    value_offset,
                    format!("server \"{}\": container mounts {what}", server.name),
                    format!("{flag} {value}"),
                );
            }
        }
        i += 1;
    }
    if let Some(image) = image {
        let name = image.text.as_str();
        let last = name.rsplit('/').next().unwrap_or(name);
        let unpinned = if name.contains("@sha256:") {
            None
        } else {
            match last.split_once(':') {
                None => Some("has no tag"),
                Some((_, "latest")) => Some("uses the moving tag `latest`"),
                Some(_) => None,
            }
        };
        if let Some(reason) = unpinned {
            ctx.add_with_severity(
                &UNPINNED_PACKAGE,
                crate::Severity::Low,
                Confidence::Medium,
                image.offset,
                format!(
                    "server \"{}\": image `{name}` {reason}; pin a version or digest",
                    server.name
                ),
                format!("image {name}"),
            );
        }
    }
}

pub(crate) fn check_input(ctx: &mut Ctx<'_>, input: &Node) {
    let kind = input
        .get("type")
        .and_then(Node::as_str)
        .unwrap_or("promptString");
    if kind != "promptString" || input.get("password").and_then(Node::as_bool) == Some(true) {
        return;
    }
    let id = input.get("id").and_then(Node::as_str).unwrap_or("");
    let description = input
        .get("description")
        .and_then(Node::as_str)
        .unwrap_or("");
    let secretish = key_hint(id) != KeyHint::None
        || description.split_whitespace().any(|w| {
            key_hint(w.trim_matches(|c: char| !c.is_ascii_alphanumeric())) != KeyHint::None
        });
    if secretish {
        let offset = input.get("id").map_or(input.start, Node::content_start);
        ctx.add(
            &INPUT_NOT_PASSWORD,
            Confidence::Medium,
            offset,
            format!("input \"{id}\" asks for a secret but is not marked `\"password\": true`"),
            format!("input {id}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_specs() {
        assert_eq!(
            package_name(Ecosystem::Npm, "@scope/pkg@1.2.3"),
            "@scope/pkg"
        );
        assert_eq!(package_name(Ecosystem::Npm, "pkg@latest"), "pkg");
        assert_eq!(package_name(Ecosystem::Npm, "@scope/pkg"), "@scope/pkg");
        assert_eq!(
            package_name(Ecosystem::Python, "mcp-server-fetch==1.0"),
            "mcp-server-fetch"
        );
        assert!(unpinned_reason(Ecosystem::Npm, "@scope/pkg").is_some());
        assert!(unpinned_reason(Ecosystem::Npm, "@scope/pkg@latest").is_some());
        assert!(unpinned_reason(Ecosystem::Npm, "@scope/pkg@1.2.3").is_none());
        assert!(unpinned_reason(Ecosystem::Npm, "pkg@^1.2.0").is_none());
        assert!(unpinned_reason(Ecosystem::Python, "mcp-server-fetch").is_some());
        assert!(unpinned_reason(Ecosystem::Python, "mcp-server-fetch==2025.1.17").is_none());
        assert!(unpinned_reason(Ecosystem::Python, "mcp-server-fetch@2025.1.17").is_none());
        assert!(unpinned_reason(Ecosystem::Python, "git+https://github.com/a/b").is_some());
        assert!(
            unpinned_reason(
                Ecosystem::Python,
                "git+https://github.com/a/b@0123456789abcdef0123456789abcdef01234567"
            )
            .is_none()
        );
    }

    #[test]
    fn hosts_and_roots() {
        assert_eq!(host_of("user:pw@Example.COM:8080"), "example.com");
        assert_eq!(host_of("[::1]:3000"), "::1");
        assert!(
            is_loopback("127.0.0.1") && is_loopback("localhost") && is_loopback("api.localhost")
        );
        assert!(!is_loopback("127.example.com") && !is_loopback("10.0.0.1"));
        for broad in [
            "/",
            "~",
            "~/",
            "$HOME",
            "C:\\",
            "c:/",
            "/home/alice",
            "/Users/bob/",
            "${userHome}",
        ] {
            assert!(is_broad_root(broad), "{broad}");
        }
        for narrow in [
            "/home/alice/projects",
            "~/code",
            "./data",
            "/srv/app/data",
            "C:\\work",
        ] {
            assert!(!is_broad_root(narrow), "{narrow}");
        }
        assert_eq!(temporary_location("/tmp/x/server.js"), Some("/tmp"));
        assert_eq!(
            temporary_location("~/Downloads/mcp"),
            Some("the Downloads folder")
        );
        assert_eq!(
            temporary_location("C:\\Users\\me\\Downloads\\s.exe"),
            Some("the Downloads folder")
        );
        assert_eq!(temporary_location("/usr/local/bin/server"), None);
        assert_eq!(volume_source("/:/host"), "/");
        assert_eq!(volume_source("C:\\:/host:ro"), "C:\\");
        assert_eq!(
            volume_source("/var/run/docker.sock:/var/run/docker.sock"),
            "/var/run/docker.sock"
        );
    }
}
