//! Source-code analysis for `bulwark scan`: finds the MCP tools a file
//! registers and traces their parameters, within the file, to dangerous
//! sinks (shell, eval, file paths, URLs, SQL, XML parsers, regexes); also
//! flags weak crypto, TLS verification turned off, servers bound to every
//! interface, ReDoS-prone regex literals and tool descriptions built at run
//! time. Pure functions over text: no I/O, never panics, bounded time.
//!
//! Python, JavaScript, TypeScript/TSX, Go and Rust are parsed with
//! tree-sitter. See `docs/taint.md`.

mod lang;
mod patterns;
pub mod redos;
mod rules;
mod sinks;
mod syntax;
mod taint;
mod tools;

use rustc_hash::FxHashMap;

use bulwark_detect::{Confidence, Finding, Location, Rule, Severity};

pub use tools::ToolEntry;

/// Files larger than this are skipped (no findings).
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;
/// Files with a line longer than this (minified or generated code) are skipped.
pub const MAX_LINE_CHARS: usize = 20_000;

/// At most this many functions are analysed in one file.
const MAX_SCOPES: usize = 20_000;

/// A source language the analysis understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Go,
    Rust,
}

impl Language {
    /// By file extension: `.py`, `.js/.mjs/.cjs/.jsx`, `.ts/.mts/.cts`, `.tsx`, `.go`, `.rs`.
    /// TypeScript declaration files (`.d.ts`) hold no code and give `None`.
    pub fn from_path(path: &str) -> Option<Language> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".d.ts") || lower.ends_with(".d.mts") || lower.ends_with(".d.cts") {
            return None;
        }
        let ext = lower.rsplit_once('.')?.1;
        if lower.rsplit_once('.')?.0.ends_with(['/', '\\']) {
            return None;
        }
        Some(match ext {
            "py" | "pyw" => Language::Python,
            "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
            "ts" | "mts" | "cts" => Language::TypeScript,
            "tsx" => Language::Tsx,
            "go" => Language::Go,
            "rs" => Language::Rust,
            _ => return None,
        })
    }

    pub(crate) fn is_js(self) -> bool {
        matches!(
            self,
            Language::JavaScript | Language::TypeScript | Language::Tsx
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Tsx => "tsx",
            Language::Go => "go",
            Language::Rust => "rust",
        }
    }
}

/// The C allocation functions the parser (tree-sitter) is to use.
pub type MallocFn = unsafe extern "C" fn(usize) -> *mut std::ffi::c_void;
pub type CallocFn = unsafe extern "C" fn(usize, usize) -> *mut std::ffi::c_void;
pub type ReallocFn = unsafe extern "C" fn(*mut std::ffi::c_void, usize) -> *mut std::ffi::c_void;
pub type FreeFn = unsafe extern "C" fn(*mut std::ffi::c_void);

/// Makes the parser allocate through these functions instead of the C
/// library's `malloc`. A program whose global allocator is faster than the
/// system's (bulwark's is mimalloc) passes its functions here: the parser
/// allocates a node stack and subtrees for every file.
///
/// # Safety
/// Call it before anything is parsed, once: memory the parser got from the
/// old allocator would otherwise be freed by the new one. The functions
/// must behave as their C namesakes do.
pub unsafe fn set_parser_allocator(
    malloc: MallocFn,
    calloc: CallocFn,
    realloc: ReallocFn,
    free: FreeFn,
) {
    // SAFETY: forwarded; the caller upholds the contract above.
    unsafe { tree_sitter::set_allocator(Some(malloc), Some(calloc), Some(realloc), Some(free)) }
}

/// The `BWK-CODE-*` rules this crate reports under.
pub fn rules() -> &'static [Rule] {
    rules::RULES
}

/// Whether a file is within the analysis bounds (size and line length).
/// `analyze` and `tool_entry_points` return nothing for files that are not.
pub fn within_bounds(source: &str) -> bool {
    source.len() <= MAX_FILE_BYTES
        && source
            .split('\n')
            .all(|l| l.len() <= MAX_LINE_CHARS || l.chars().count() <= MAX_LINE_CHARS)
}

/// Spellings of tool registration (`@mcp.tool`, `server.tool(`,
/// `registerTool(`, `add_tool`, `setRequestHandler(CallToolRequestSchema`,
/// `s.AddTool(`, `#[tool`); a file without any of them registers no tool
/// that [`tool_entry_points`] would find.
const TOOL_MARKERS: &[&str] = &[".tool", "_tool", "Tool(", "ToolRequestSchema", "#[tool"];

/// A cheap textual test: whether `source` may register MCP tools. The scan
/// uses it to decide which files of installed dependencies (`node_modules`,
/// `site-packages`) are MCP server code worth a full analysis.
pub fn may_register_tools(source: &str) -> bool {
    TOOL_MARKERS.iter().any(|m| source.contains(m))
}

/// The MCP tools `source` registers.
pub fn tool_entry_points(path: &str, language: Language, source: &str) -> Vec<ToolEntry> {
    let _ = path;
    if !within_bounds(source) {
        return Vec::new();
    }
    let Some(tree) = syntax::parse(language, source) else {
        return Vec::new();
    };
    let src = syntax::Src::new(source);
    let fx = taint::file_ctx(&src, language, tree.root());
    tools::discover(&fx).into_iter().map(|f| f.entry).collect()
}

fn lower(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium => Severity::Low,
        other => other,
    }
}

/// What one sink is called in messages.
fn sink_noun(rule: &str) -> &'static str {
    match rule {
        rules::CMD_INJECTION => "a command line",
        rules::CODE_INJECTION => "code that is evaluated",
        rules::PATH_TRAVERSAL => "a file path",
        rules::SSRF => "the URL fetched",
        rules::SQL_INJECTION => "SQL text",
        rules::XXE => "an XML parser",
        rules::REGEX_INJECTION => "a regular expression",
        rules::DESERIALIZATION => "a deserializer",
        rules::PROTOTYPE_POLLUTION => "an object key",
        _ => "a sink",
    }
}

/// Analyses one source file.
pub fn analyze(path: &str, language: Language, source: &str) -> Vec<Finding> {
    analyze_file(path, language, source).0
}

/// Analyses one source file and also returns the tools it registers (with
/// their descriptions where the source fixes them), from the same parse.
pub fn analyze_file(
    path: &str,
    language: Language,
    source: &str,
) -> (Vec<Finding>, Vec<ToolEntry>) {
    if !within_bounds(source) {
        return (Vec::new(), Vec::new());
    }
    let Some(tree) = syntax::parse(language, source) else {
        return (Vec::new(), Vec::new());
    };
    let src = syntax::Src::new(source);
    let root = tree.root();
    let mut fx = taint::file_ctx(&src, language, root);
    let found = tools::discover(&fx);

    // Tool handlers: phase 1 analyses them again with tool sources.
    let mut handlers: FxHashMap<usize, (String, bool)> = FxHashMap::default();
    for f in &found {
        if let Some(h) = f.handler {
            handlers
                .entry(h.id())
                .or_insert((f.entry.name.clone(), f.only_first_param));
        }
    }

    // Phase 0: summaries of named functions, their own parameters as sources.
    let named: Vec<_> = {
        let mut v: Vec<_> = fx.funcs.values().copied().collect();
        v.sort_by_key(|n| n.start_byte());
        v
    };
    let mut summaries = FxHashMap::default();
    let mut phase0 = FxHashMap::default();
    for f in &named {
        // A handler's phase-0 result serves only as a summary for calls to
        // it (phase 1 analyses it afresh); when its name appears nowhere but
        // in its own definition, nothing can call it and the pass is skipped.
        if handlers.contains_key(&f.id())
            && fx.fn_names.get(&f.id()).is_some_and(|name| {
                !name.is_empty() && src.text.matches(name.as_str()).nth(1).is_none()
            })
        {
            continue;
        }
        let params = taint::params_of(&src, language, *f);
        let sources = taint::param_sources(&params);
        let res = taint::Scope::new(&fx, *f, sources, None, false).run();
        phase0.insert(f.id(), (res.hits.clone(), res.env, res.callbacks));
        summaries.insert(
            f.id(),
            taint::Summary {
                params,
                hits: res.hits,
                ret: res.ret,
            },
        );
    }
    fx.summaries = summaries;

    // Phase 1: every scope top-down; tool handlers get tool sources, nested
    // functions inherit the enclosing scope's bindings.
    let mut scopes = vec![root];
    scopes.extend(
        fx.all
            .iter()
            .copied()
            .filter(|n| n.is_function_like())
            .take(MAX_SCOPES),
    );
    let mut envs: FxHashMap<usize, FxHashMap<String, taint::Taint>> = FxHashMap::default();
    let mut callbacks: FxHashMap<usize, taint::Taint> = FxHashMap::default();
    let mut hits = Vec::new();
    for (i, s) in scopes.iter().enumerate() {
        let (sources, outer_id) = if i == 0 {
            (FxHashMap::default(), None)
        } else {
            let params = taint::params_of(&src, language, *s);
            let mut sources = match handlers.get(&s.id()) {
                Some((tool, only_first)) => taint::tool_sources(&params, tool, *only_first),
                None => taint::param_sources(&params),
            };
            if let Some(t) = callbacks.get(&s.id())
                && let Some(first) = params.iter().find(|p| !p.plumbing)
            {
                for name in &first.names {
                    sources.insert(name.clone(), t.clone());
                }
            }
            // Nearest enclosing scope.
            let outer = Some(
                fx.enclosing
                    .get(&s.id())
                    .map(|p| p.id())
                    .unwrap_or(root.id()),
            );
            (sources, outer)
        };
        let outer_env = outer_id.and_then(|o| envs.get(&o));
        // A named function that is no handler, receives no tainted callback
        // argument and captures no tool input was fully analysed in phase 0.
        let plain = !handlers.contains_key(&s.id())
            && !callbacks.contains_key(&s.id())
            && outer_env.is_none_or(|e| !e.values().any(|t| t.tool));
        let res = match phase0.remove(&s.id()) {
            Some((hits, env, cbs)) if plain => taint::ScopeResult {
                hits,
                ret: None,
                env,
                callbacks: cbs,
            },
            _ => taint::Scope::new(&fx, *s, sources, outer_env, true).run(),
        };
        for (id, t) in res.callbacks {
            callbacks.entry(id).or_insert(t);
        }
        hits.extend(res.hits);
        // Keep only tainted bindings for closures.
        if res.env.values().any(|t| t.tool) || i == 0 {
            envs.insert(s.id(), res.env);
        }
    }

    let mut findings: Vec<Finding> = Vec::new();
    for h in hits {
        let rule = rules::rule(h.rule);
        let (confidence, severity, message, evidence) = match &h.taint {
            Some(t) if !h.applies(t) => continue,
            Some(t) if t.tool => (
                Confidence::High,
                rule.severity,
                format!("tool input reaches {} in {}", sink_noun(h.rule), h.label),
                t.path(),
            ),
            Some(t) => {
                // Outside tools only the dangerous shapes: a shell, eval,
                // a deserializer, a recursive merge; not a program launcher
                // whose program name is a parameter.
                if h.kind & taint::kind::DANGEROUS == 0
                    || !(h.untraced_ok || h.kind == taint::kind::PROTO)
                {
                    continue;
                }
                (
                    Confidence::Medium,
                    lower(rule.severity),
                    format!(
                        "{} reaches {} in {}; no tool input was traced to it",
                        t.origin,
                        sink_noun(h.rule),
                        h.label
                    ),
                    t.path(),
                )
            }
            None => {
                if h.kind & taint::kind::DANGEROUS == 0 || h.constant || !h.untraced_ok {
                    continue;
                }
                (
                    Confidence::Low,
                    lower(rule.severity),
                    format!(
                        "{} is called with a value that is not a literal; no tool input was traced to it",
                        h.label
                    ),
                    format!("{} with a non-literal argument", h.label),
                )
            }
        };
        findings.push(Finding {
            rule_id: h.rule.to_string(),
            severity,
            confidence,
            location: Location::File {
                path: path.to_string(),
                line: h.line,
                column: h.column,
            },
            message,
            snippet: h.snippet,
            evidence,
        });
    }
    for p in patterns::scan(&fx) {
        findings.push(Finding {
            rule_id: p.rule.to_string(),
            severity: p.severity,
            confidence: p.confidence,
            location: Location::File {
                path: path.to_string(),
                line: p.line,
                column: p.column,
            },
            message: p.message,
            snippet: p.snippet,
            evidence: p.evidence,
        });
    }
    for f in &found {
        if !f.entry.dynamic_description {
            continue;
        }
        let Some(d) = f.description else { continue };
        findings.push(Finding {
            rule_id: rules::DYNAMIC_DESCRIPTION.to_string(),
            severity: Severity::Medium,
            confidence: Confidence::Medium,
            location: Location::File {
                path: path.to_string(),
                line: src.line(d),
                column: src.column(d),
            },
            message: format!(
                "the description of tool `{}` is computed at run time, so it can change after the tool was reviewed (rug pull)",
                f.entry.name
            ),
            snippet: src.snippet(d),
            evidence: format!("description = `{}`", syntax::clip(src.t(d), 100)),
        });
    }
    let entries = found.into_iter().map(|f| f.entry).collect();
    (dedupe(findings), entries)
}

/// One finding per rule and position: the most confident, then most severe.
fn dedupe(findings: Vec<Finding>) -> Vec<Finding> {
    let mut best: FxHashMap<(String, u32, u32), Finding> = FxHashMap::default();
    for f in findings {
        let Location::File { line, column, .. } = f.location else {
            continue;
        };
        let key = (f.rule_id.clone(), line, column);
        match best.get(&key) {
            Some(old) if (old.confidence, old.severity) >= (f.confidence, f.severity) => {}
            _ => {
                best.insert(key, f);
            }
        }
    }
    let mut out: Vec<Finding> = best.into_values().collect();
    out.sort_by(|a, b| {
        let pos = |f: &Finding| match f.location {
            Location::File { line, column, .. } => (line, column),
            _ => (0, 0),
        };
        pos(a).cmp(&pos(b)).then(a.rule_id.cmp(&b.rule_id))
    });
    out
}
