//! Supply-chain checks inside a tree (`BWK-SUPPLY-*`): npm lifecycle
//! scripts, `curl | sh`, dependencies from git/URLs/wildcards, typosquats of
//! popular MCP packages, and unpinned VCS/URL requirements in Python
//! projects.

use std::sync::{Arc, LazyLock};

use bulwark_detect::{OwaspAgentic, Rule, Severity};
use regex::Regex;

use crate::jsonc::{self, Node};
use crate::text::{LineIndex, snippet_around};
use crate::typosquat::{scope_confusion_of, typosquat_of};
use crate::{Confidence, FileDetector, Finding, Location};

pub(crate) const INSTALL_SCRIPT: Rule = Rule {
    id: "BWK-SUPPLY-INSTALL-SCRIPT",
    title: "npm lifecycle script downloads or runs code at install time",
    cwe: "CWE-506",
    owasp: OwaspAgentic::ASI04,
    severity: Severity::High,
    remediation: "Remove network access, shells, `node -e` and base64 from preinstall/install/postinstall; install with `--ignore-scripts` until the script is understood.",
};

pub(crate) const CURL_PIPE_SHELL: Rule = Rule {
    id: "BWK-SUPPLY-CURL-PIPE-SHELL",
    title: "Remote script piped straight into a shell",
    cwe: "CWE-494",
    owasp: OwaspAgentic::ASI04,
    severity: Severity::High,
    remediation: "Download to a file, verify a pinned checksum or signature, then run it; or install from a package manager with a pinned version.",
};

pub(crate) const UNPINNED_DEPENDENCY: Rule = Rule {
    id: "BWK-SUPPLY-UNPINNED-DEPENDENCY",
    title: "Dependency from a git ref, URL, local path or wildcard version",
    cwe: "CWE-1357",
    owasp: OwaspAgentic::ASI04,
    severity: Severity::Medium,
    remediation: "Depend on a published version from the registry, or pin the git dependency to a full commit hash and the URL to a sha256 hash.",
};

pub(crate) const TYPOSQUAT: Rule = Rule {
    id: "BWK-SUPPLY-TYPOSQUAT",
    title: "Dependency name imitates a popular MCP package",
    cwe: "CWE-506",
    owasp: OwaspAgentic::ASI04,
    severity: Severity::High,
    remediation: "Compare the name with the publisher's documentation character by character; replace a lookalike with the genuine package and audit what it ran.",
};

pub(crate) const DEPENDENCY_CONFUSION: Rule = Rule {
    id: "BWK-SUPPLY-DEPENDENCY-CONFUSION",
    title: "Package source open to dependency confusion",
    cwe: "CWE-427",
    owasp: OwaspAgentic::ASI04,
    severity: Severity::Medium,
    remediation: "Use a single index (or a proxy that owns your internal names) instead of --extra-index-url, and depend on official packages under their official scope.",
};

/// Every rule the supply-chain detector reports under.
pub const SUPPLY_RULES: &[Rule] = &[
    INSTALL_SCRIPT,
    CURL_PIPE_SHELL,
    UNPINNED_DEPENDENCY,
    TYPOSQUAT,
    DEPENDENCY_CONFUSION,
];

struct SupplyChainDetector;

/// The `BWK-SUPPLY-*` detector: `package.json`, `requirements*.txt`,
/// `pyproject.toml`, Dockerfiles, shell scripts, Makefiles and GitHub
/// workflows.
pub fn supply_chain_detector() -> Arc<dyn FileDetector> {
    Arc::new(SupplyChainDetector)
}

#[derive(Debug, PartialEq)]
enum Kind {
    PackageJson,
    Requirements,
    Pyproject,
    Script,
}

fn kind_of(path: &str) -> Option<Kind> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    if name == "package.json" {
        Some(Kind::PackageJson)
    } else if name == "pyproject.toml" {
        Some(Kind::Pyproject)
    } else if (lower.starts_with("requirements") && lower.ends_with(".txt"))
        || lower.ends_with(".requirements.txt")
        || (path.contains("requirements/") && lower.ends_with(".txt"))
        || lower == "constraints.txt"
    {
        Some(Kind::Requirements)
    } else if lower == "dockerfile"
        || lower.starts_with("dockerfile.")
        || lower.ends_with(".dockerfile")
        || lower == "containerfile"
        || lower == "makefile"
        || lower == "justfile"
        || [".sh", ".bash", ".zsh", ".ksh", ".ps1"]
            .iter()
            .any(|e| lower.ends_with(e))
        || (path.contains(".github/workflows/")
            && (lower.ends_with(".yml") || lower.ends_with(".yaml")))
    {
        Some(Kind::Script)
    } else {
        None
    }
}

impl FileDetector for SupplyChainDetector {
    fn rules(&self) -> &'static [Rule] {
        SUPPLY_RULES
    }

    fn applies_to(&self, path: &str) -> bool {
        kind_of(path).is_some()
    }

    fn scan(&self, path: &str, text: &str) -> Vec<Finding> {
        let mut out = Out::new(path, text);
        match kind_of(path) {
            Some(Kind::PackageJson) => package_json(&mut out),
            Some(Kind::Requirements) => requirements(&mut out),
            Some(Kind::Pyproject) => pyproject(&mut out),
            Some(Kind::Script) => scripts(&mut out),
            None => {}
        }
        out.findings
    }
}

struct Out<'a> {
    path: &'a str,
    text: &'a str,
    index: LineIndex<'a>,
    findings: Vec<Finding>,
}

impl<'a> Out<'a> {
    fn new(path: &'a str, text: &'a str) -> Out<'a> {
        Out {
            path,
            text,
            index: LineIndex::new(text),
            findings: Vec::new(),
        }
    }

    fn add(
        &mut self,
        rule: &Rule,
        severity: Severity,
        confidence: Confidence,
        offset: usize,
        message: String,
        evidence: String,
    ) {
        let (line, column) = self.index.position(offset);
        self.findings.push(Finding {
            rule_id: rule.id.to_string(),
            severity,
            confidence,
            location: Location::File {
                path: self.path.to_string(),
                line,
                column,
            },
            message,
            snippet: snippet_around(self.index.line(line), column),
            evidence,
        });
    }
}

/// `curl … | sh` and its relatives.
static PIPE_TO_SHELL: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"(?i)\b(?:curl|wget|fetch|iwr|irm|invoke-webrequest|invoke-restmethod)\b[^|;&\n]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+\S+\s+)?(?:ba|z|da|k|fi|c)?sh\b",
        r"(?i)\b(?:curl|wget|iwr|irm|invoke-webrequest|invoke-restmethod)\b[^|;&\n]*\|\s*(?:sudo\s+)?(?:python[0-9.]*|node|perl|ruby|php|iex|invoke-expression)\b",
        r"(?i)\b(?:ba|z|da|k)?sh\s+(?:-c\s+)?['\x22]?\$\(\s*(?:curl|wget)\b",
        r"(?i)\b(?:ba|z|da|k)?sh\s+<\(\s*(?:curl|wget)\b",
        r"(?i)\b(?:iex|invoke-expression)\s*\(?\s*(?:\(\s*)?(?:iwr|irm|invoke-webrequest|invoke-restmethod|\(?\s*new-object\s+net\.webclient)",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("pipe-to-shell pattern"))
    .collect()
});

/// Things a lifecycle script should not need.
static RISKY_INSTALL: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        (
            "downloads with curl/wget",
            r"(?i)\b(?:curl|wget|iwr|invoke-webrequest)\b",
        ),
        (
            "runs a shell command string",
            r"(?i)\b(?:ba|z|da)?sh\s+-c\b",
        ),
        ("pipes into a shell", r"\|\s*(?:ba|z|da)?sh\b"),
        (
            "evaluates inline JavaScript",
            r"\bnode\s+(?:-e|--eval|-p|--print)\b",
        ),
        ("evaluates inline Python", r"\bpython[0-9.]*\s+-c\b"),
        (
            "decodes base64",
            r"(?i)\bbase64\b|\batob\s*\(|Buffer\.from\([^)]*base64",
        ),
        ("uses eval", r"\beval\b"),
        (
            "opens a raw network connection",
            r"\b(?:nc|ncat|netcat|socat)\b|/dev/tcp/",
        ),
        ("runs PowerShell", r"(?i)\b(?:powershell|pwsh)\b"),
        (
            "makes a file executable",
            r"\bchmod\s+(?:\+x|[0-7]*7[0-7]{2})\b",
        ),
        (
            "deletes recursively from / or ~",
            r"\brm\s+-[a-zA-Z]*r[a-zA-Z]*f?\s+[~/]",
        ),
    ]
    .iter()
    .map(|(why, p)| (*why, Regex::new(p).expect("risky install pattern")))
    .collect()
});

fn pipe_to_shell(line: &str) -> Option<(usize, &str)> {
    PIPE_TO_SHELL
        .iter()
        .filter_map(|re| re.find(line))
        .min_by_key(|m| m.start())
        .map(|m| (m.start(), m.as_str()))
}

fn package_json(out: &mut Out<'_>) {
    let Ok(root) = jsonc::parse(out.text) else {
        return;
    };
    if let Some(scripts) = root.get("scripts").and_then(Node::members) {
        for member in scripts {
            let Some(script) = member.value.as_str() else {
                continue;
            };
            let start = member.value.content_start();
            if let Some((at, matched)) = pipe_to_shell(script) {
                out.add(
                    &CURL_PIPE_SHELL,
                    CURL_PIPE_SHELL.severity,
                    Confidence::High,
                    raw_offset(out.text, start, script, at),
                    format!(
                        "script \"{}\" pipes a download into an interpreter",
                        member.key
                    ),
                    matched.to_string(),
                );
            }
            if matches!(
                member.key.as_str(),
                "preinstall" | "install" | "postinstall"
            ) {
                let reasons: Vec<&str> = RISKY_INSTALL
                    .iter()
                    .filter(|(_, re)| re.is_match(script))
                    .map(|(why, _)| *why)
                    .collect();
                if !reasons.is_empty() {
                    out.add(
                        &INSTALL_SCRIPT,
                        INSTALL_SCRIPT.severity,
                        if reasons.len() > 1 {
                            Confidence::High
                        } else {
                            Confidence::Medium
                        },
                        start,
                        format!(
                            "{} script {} when the package is installed",
                            member.key,
                            reasons.join(", ")
                        ),
                        format!(
                            "{}: {}",
                            member.key,
                            script.chars().take(160).collect::<String>()
                        ),
                    );
                }
            }
        }
    }
    for section in [
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ] {
        // An installed package's devDependencies are never installed.
        let dev = section == "devDependencies";
        if dev && (out.path.starts_with("node_modules/") || out.path.contains("/node_modules/")) {
            continue;
        }
        let Some(deps) = root.get(section).and_then(Node::members) else {
            continue;
        };
        for member in deps {
            let name = member.key.as_str();
            let spec = member.value.as_str().unwrap_or("");
            if let Some((reason, severity)) = npm_spec_problem(spec) {
                // Development-only dependencies reach CI and laptops, not users.
                let severity = if dev { Severity::Low } else { severity };
                out.add(
                    &UNPINNED_DEPENDENCY,
                    severity,
                    Confidence::High,
                    member.value.content_start(),
                    format!("{section} `{name}` {reason}"),
                    format!("{name}: {spec}"),
                );
            }
            // `"alias": "npm:real-name@1.0"` installs real-name.
            let real = spec
                .strip_prefix("npm:")
                .map(|target| {
                    let scoped = target.starts_with('@');
                    let body = target.trim_start_matches('@');
                    let end = body
                        .find('@')
                        .map_or(target.len(), |i| i + usize::from(scoped));
                    target[..end].to_string()
                })
                .unwrap_or_else(|| name.to_string());
            check_name(out, &real, member.key_start + 1, section);
        }
    }
}

fn check_name(out: &mut Out<'_>, name: &str, offset: usize, section: &str) {
    if let Some(original) = typosquat_of(name) {
        out.add(
            &TYPOSQUAT,
            TYPOSQUAT.severity,
            Confidence::Medium,
            offset,
            format!("{section} `{name}` is one or two edits away from the popular `{original}`"),
            format!("{name} ~ {original}"),
        );
    } else if let Some(official) = scope_confusion_of(name) {
        out.add(
            &DEPENDENCY_CONFUSION,
            DEPENDENCY_CONFUSION.severity,
            Confidence::Low,
            offset,
            format!(
                "{section} `{name}` reuses the name of the official `{official}` outside its scope"
            ),
            format!("{name} vs {official}"),
        );
    }
}

/// The file offset of byte `at` of a JSON string's decoded value.
fn raw_offset(text: &str, start: usize, decoded: &str, at: usize) -> usize {
    match (
        text.as_bytes().get(start..start + at),
        decoded.as_bytes().get(..at),
    ) {
        (Some(raw), Some(value)) if raw == value => start + at,
        _ => start,
    }
}

fn is_commit(rev: &str) -> bool {
    rev.len() >= 40 && rev.chars().all(|c| c.is_ascii_hexdigit())
}

/// Why an npm dependency spec is not a registry version, and how bad.
fn npm_spec_problem(spec: &str) -> Option<(String, Severity)> {
    let spec = spec.trim();
    let lower = spec.to_ascii_lowercase();
    if lower.is_empty() || lower == "*" || lower == "x" || lower == "latest" || lower == "next" {
        let shown = if spec.is_empty() { "\"\"" } else { spec };
        return Some((format!("accepts any version (`{shown}`)"), Severity::Medium));
    }
    if lower.starts_with("file:") || lower.starts_with("link:") {
        return Some(("comes from a local path".to_string(), Severity::Low));
    }
    static SHORTHAND: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+(?:#.*)?$").expect("github shorthand")
    });
    let git = [
        "git+",
        "git://",
        "github:",
        "gitlab:",
        "bitbucket:",
        "gist:",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
        || SHORTHAND.is_match(spec);
    if git {
        let rev = spec
            .rsplit_once('#')
            .map(|(_, r)| r.trim_start_matches("commit="))
            .unwrap_or("");
        if is_commit(rev) {
            return None;
        }
        return Some((
            "comes from a git ref that is not a commit hash".to_string(),
            Severity::Medium,
        ));
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(("comes from a URL tarball".to_string(), Severity::Medium));
    }
    None
}

fn strip_pip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

static VCS_OR_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:git|hg|svn|bzr)\+[a-z]+://\S+|\bhttps?://\S+|\bfile:\S+")
        .expect("vcs url pattern")
});

/// Why a pip requirement's VCS/URL source is unpinned.
fn pip_source_problem(requirement: &str, whole_line: &str) -> Option<(usize, String)> {
    let m = VCS_OR_URL.find(requirement)?;
    let url = m.as_str().trim_end_matches(['"', '\'', ',']);
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("file:") {
        return Some((m.start(), "comes from a local path".to_string()));
    }
    let vcs = ["git+", "hg+", "svn+", "bzr+"]
        .iter()
        .any(|p| lower.starts_with(p));
    if vcs {
        let before_fragment = url.split('#').next().unwrap_or(url);
        let rev = before_fragment
            .rsplit_once('@')
            .filter(|(base, _)| base.contains("://") && !base.ends_with("://"))
            .map(|(_, rev)| rev)
            .unwrap_or("");
        // `git+https://user@host/repo` has an @ in the authority, not a rev.
        let rev = if rev.contains('/') { "" } else { rev };
        if is_commit(rev) {
            return None;
        }
        return Some((
            m.start(),
            "comes from a VCS ref that is not a commit hash".to_string(),
        ));
    }
    if lower.contains("#sha256=") || whole_line.contains("--hash=sha256:") {
        return None;
    }
    Some((m.start(), "comes from a URL without a hash".to_string()))
}

fn python_name(requirement: &str) -> Option<&str> {
    static NAME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)").expect("name"));
    let caps = NAME.captures(requirement)?;
    let name = caps.get(1)?.as_str();
    // A bare URL is not a name.
    (!requirement.trim_start()[name.len()..].starts_with(':')).then_some(name)
}

fn line_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split('\n').map(move |line| {
        let start = offset;
        offset += line.len() + 1;
        (start, line.trim_end_matches('\r'))
    })
}

fn requirements(out: &mut Out<'_>) {
    for (start, line) in line_offsets(out.text) {
        let content = strip_pip_comment(line);
        let trimmed = content.trim_start();
        let lead = content.len() - trimmed.len();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("--extra-index-url") {
            out.add(
                &DEPENDENCY_CONFUSION,
                DEPENDENCY_CONFUSION.severity,
                Confidence::Medium,
                start + lead,
                "--extra-index-url lets a public package shadow a private one of the same name"
                    .to_string(),
                format!("--extra-index-url{}", rest.trim_end()),
            );
            continue;
        }
        if trimmed.starts_with("-r")
            || trimmed.starts_with("-c")
            || trimmed.starts_with("--") && !trimmed.starts_with("--editable")
        {
            continue;
        }
        let requirement = trimmed
            .strip_prefix("-e")
            .or_else(|| trimmed.strip_prefix("--editable"))
            .map_or(trimmed, |r| r.trim_start_matches(['=', ' ']));
        let shift = start + lead + (trimmed.len() - requirement.len());
        if let Some((at, reason)) = pip_source_problem(requirement, line) {
            let name = python_name(requirement).unwrap_or("requirement");
            out.add(
                &UNPINNED_DEPENDENCY,
                UNPINNED_DEPENDENCY.severity,
                Confidence::High,
                shift + at,
                format!("`{name}` {reason}"),
                requirement.trim().to_string(),
            );
        } else if let Some(name) = python_name(requirement) {
            let offset = shift + (requirement.len() - requirement.trim_start().len());
            check_name(out, name, offset, "requirement");
        }
    }
}

fn pyproject(out: &mut Out<'_>) {
    static STRING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#""([^"\\]*)"|'([^']*)'"#).expect("string"));
    static KEY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\s*([A-Za-z0-9_.\-]+|\x22[^\x22]+\x22)\s*=\s*(.*)$").expect("key")
    });
    let mut section = String::new();
    let mut depth = 0i32;
    let mut in_dep = false;
    for (start, line) in line_offsets(out.text) {
        let content = line.split(" #").next().unwrap_or(line);
        let trimmed = content.trim();
        if depth == 0 && trimmed.starts_with('[') {
            section = trimmed.trim_matches(['[', ']']).trim().to_string();
            continue;
        }
        let poetry = section.starts_with("tool.poetry") && section.ends_with("dependencies");
        let uv_sources = section == "tool.uv.sources";
        let mut value_part = content;
        let mut value_shift = 0;
        if depth == 0 {
            in_dep = false;
            if let Some(caps) = KEY.captures(content) {
                let key = caps[1].trim_matches('"');
                let value = caps.get(2).expect("value");
                value_part = value.as_str();
                value_shift = value.start();
                in_dep = value_part.trim_start().starts_with('[')
                    && ((section == "project" && key == "dependencies")
                        || section == "project.optional-dependencies"
                        || section == "dependency-groups"
                        || (section == "build-system" && key == "requires"));
                if (poetry || uv_sources) && key != "python" {
                    pyproject_table_dep(
                        out,
                        key,
                        start + caps.get(1).expect("key").start(),
                        start + value.start(),
                        value.as_str(),
                        poetry,
                    );
                }
            }
        }
        if in_dep {
            for caps in STRING.captures_iter(value_part) {
                let Some(s) = caps.get(1).or(caps.get(2)) else {
                    continue;
                };
                let at = start + value_shift + s.start();
                if let Some((offset, reason)) = pip_source_problem(s.as_str(), line) {
                    let name = python_name(s.as_str()).unwrap_or("requirement");
                    out.add(
                        &UNPINNED_DEPENDENCY,
                        UNPINNED_DEPENDENCY.severity,
                        Confidence::High,
                        at + offset,
                        format!("`{name}` {reason}"),
                        s.as_str().to_string(),
                    );
                } else if let Some(name) = python_name(s.as_str()) {
                    check_name(out, name, at, "dependency");
                }
            }
        }
        // Track array nesting outside strings.
        for c in STRING.replace_all(value_part, "").chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                _ => {}
            }
        }
        if depth <= 0 {
            depth = 0;
            in_dep = false;
        }
    }
}

/// A Poetry or uv `name = {git = ..., rev = ...}` style dependency.
fn pyproject_table_dep(
    out: &mut Out<'_>,
    key: &str,
    key_at: usize,
    value_at: usize,
    table: &str,
    poetry: bool,
) {
    static STRING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#""([^"\\]*)"|'([^']*)'"#).expect("string"));
    if poetry {
        check_name(out, key, key_at, "dependency");
    }
    let compact: String = table.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("git=") {
        let pinned = compact.contains("rev=")
            && STRING
                .captures_iter(table)
                .any(|c| c.get(1).or(c.get(2)).is_some_and(|s| is_commit(s.as_str())));
        if !pinned {
            out.add(
                &UNPINNED_DEPENDENCY,
                UNPINNED_DEPENDENCY.severity,
                Confidence::High,
                value_at,
                format!("`{key}` comes from a git source without a commit `rev`"),
                table.trim().to_string(),
            );
        }
    } else if compact.contains("url=") || compact.contains("path=") {
        out.add(
            &UNPINNED_DEPENDENCY,
            Severity::Low,
            Confidence::Medium,
            value_at,
            format!("`{key}` comes from a URL or local path"),
            table.trim().to_string(),
        );
    }
}

/// Shell scripts, Dockerfiles, Makefiles and workflows: `curl | sh` on
/// logical lines (backslash continuations joined).
fn scripts(out: &mut Out<'_>) {
    let mut logical = String::new();
    // (offset in `logical`, offset in the file) for each joined piece.
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    let lines: Vec<(usize, &str)> = line_offsets(out.text).collect();
    for (i, (start, line)) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let continued = line.trim_end().ends_with('\\') || line.trim_end().ends_with('`');
        if !(trimmed.starts_with('#') && pieces.is_empty()) {
            pieces.push((logical.len(), *start));
            logical.push_str(line.trim_end().trim_end_matches(['\\', '`']));
            logical.push(' ');
        }
        if continued && i + 1 < lines.len() {
            continue;
        }
        if let Some((at, matched)) = pipe_to_shell(&logical) {
            let piece = pieces
                .iter()
                .rev()
                .find(|(l, _)| *l <= at)
                .copied()
                .unwrap_or((0, *start));
            let offset = piece.1 + (at - piece.0);
            out.add(
                &CURL_PIPE_SHELL,
                CURL_PIPE_SHELL.severity,
                Confidence::High,
                offset.min(out.text.len()),
                "a downloaded script is piped straight into an interpreter".to_string(),
                matched.trim().to_string(),
            );
        }
        logical.clear();
        pieces.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(path: &str, text: &str) -> Vec<Finding> {
        SupplyChainDetector.scan(path, text)
    }

    fn rules(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.rule_id.as_str()).collect()
    }

    #[test]
    fn npm_specs() {
        assert!(npm_spec_problem("^1.2.3").is_none());
        assert!(npm_spec_problem("1.2.3").is_none());
        assert!(npm_spec_problem("workspace:*").is_none());
        assert!(npm_spec_problem("npm:other@1.0.0").is_none());
        assert!(npm_spec_problem("*").is_some());
        assert!(npm_spec_problem("latest").is_some());
        assert!(npm_spec_problem("").is_some());
        assert!(npm_spec_problem("user/repo").is_some());
        assert!(npm_spec_problem("github:user/repo#main").is_some());
        assert!(
            npm_spec_problem(
                "git+https://github.com/u/r.git#0123456789abcdef0123456789abcdef01234567"
            )
            .is_none()
        );
        assert!(npm_spec_problem("https://example.com/x.tgz").is_some());
        assert_eq!(npm_spec_problem("file:../lib").unwrap().1, Severity::Low);
    }

    #[test]
    fn pip_sources() {
        assert!(pip_source_problem("pkg @ git+https://github.com/a/b.git", "").is_some());
        assert!(pip_source_problem("pkg @ git+https://github.com/a/b.git@main", "").is_some());
        assert!(
            pip_source_problem(
                "pkg @ git+https://github.com/a/b.git@0123456789abcdef0123456789abcdef01234567",
                ""
            )
            .is_none()
        );
        assert!(pip_source_problem("git+ssh://git@github.com/a/b.git#egg=b", "").is_some());
        assert!(pip_source_problem("https://x.org/p-1.0.tar.gz#sha256=abc", "").is_none());
        assert!(pip_source_problem("https://x.org/p-1.0.tar.gz", "").is_some());
        assert!(pip_source_problem("requests==2.0", "").is_none());
    }

    #[test]
    fn pipe_to_shell_forms() {
        for bad in [
            "curl -fsSL https://x.sh | sh",
            "curl https://x | sudo -E bash -s -- --yes",
            "wget -qO- https://x | python3 -",
            "bash -c \"$(curl -fsSL https://x)\"",
            "sh <(curl -s https://x)",
            "iex (iwr https://x/install.ps1)",
            "iwr https://x | iex",
        ] {
            assert!(pipe_to_shell(bad).is_some(), "{bad}");
        }
        for ok in [
            "curl -o x.sh https://x && sha256sum -c x.sha256",
            "cat file | sh",
            "echo curl | grep sh",
        ] {
            assert!(pipe_to_shell(ok).is_none(), "{ok}");
        }
    }

    #[test]
    fn dockerfile_continuation() {
        let text = "FROM node:20\nRUN apt-get update && \\\n    curl -fsSL https://deb.example/setup \\\n    | bash -\n# curl x | sh in a comment\n";
        let findings = scan("Dockerfile", text);
        assert_eq!(rules(&findings), ["BWK-SUPPLY-CURL-PIPE-SHELL"]);
        assert!(
            matches!(
                findings[0].location,
                Location::File {
                    line: 3,
                    column: 5,
                    ..
                }
            ),
            "{:?}",
            findings[0].location
        );
        assert!(scan("deploy/install.sh", "#!/bin/sh\n# curl x | sh\necho ok\n").is_empty());
    }
}
