//! Typosquats of popular MCP packages.

/// Popular MCP-related packages (npm and PyPI names) that attackers imitate.
pub const POPULAR_PACKAGES: &[&str] = &[
    "@modelcontextprotocol/sdk",
    "@modelcontextprotocol/server-filesystem",
    "@modelcontextprotocol/server-github",
    "@modelcontextprotocol/server-gitlab",
    "@modelcontextprotocol/server-memory",
    "@modelcontextprotocol/server-everything",
    "@modelcontextprotocol/server-fetch",
    "@modelcontextprotocol/server-puppeteer",
    "@modelcontextprotocol/server-postgres",
    "@modelcontextprotocol/server-slack",
    "@modelcontextprotocol/server-brave-search",
    "@modelcontextprotocol/server-google-maps",
    "@modelcontextprotocol/server-sequential-thinking",
    "@modelcontextprotocol/inspector",
    "@anthropic-ai/sdk",
    "@anthropic-ai/claude-code",
    "@playwright/mcp",
    "mcp",
    "mcp-remote",
    "mcp-framework",
    "mcp-proxy",
    "mcp-server-fetch",
    "mcp-server-git",
    "mcp-server-time",
    "mcp-server-sqlite",
    "fastmcp",
    "anthropic",
    "openai",
    "langchain-mcp-adapters",
];

/// Scopes whose packages are the genuine article.
const TRUSTED_SCOPES: &[&str] = &[
    "@modelcontextprotocol",
    "@anthropic-ai",
    "@playwright",
    "@openai",
];

/// Real, unrelated packages that happen to be a letter or two away.
const KNOWN_NEIGHBOURS: &[&str] = &[
    "openapi",
    "mcpo",
    "mcps",
    "mcp-proxy",
    "mcp-remote",
    "fastmcp",
    "pymcp",
    "mcp-server",
    "mcp-client",
];

/// Bare names of official scoped packages that are too generic to call an
/// imitation when they appear under another scope.
const GENERIC_BARE_NAMES: &[&str] = &["sdk", "mcp", "inspector"];

/// Restricted Damerau-Levenshtein (optimal string alignment) distance over
/// characters: insertions, deletions, substitutions and adjacent
/// transpositions each cost 1.
pub fn damerau_levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[n][m]
}

/// Lowercase, with PyPI's equivalent separators (`_`, `.`) folded to `-`.
fn normalise(name: &str) -> String {
    name.trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '_' || c == '.' { '-' } else { c })
        .collect()
}

fn split_scope(name: &str) -> (Option<&str>, &str) {
    if name.starts_with('@')
        && let Some((scope, bare)) = name.split_once('/')
    {
        return (Some(scope), bare);
    }
    (None, name)
}

/// How far a name may be from a popular one and still count as imitating it.
fn max_distance(popular: &str) -> usize {
    match popular.chars().count() {
        0..=4 => 0,
        5..=9 => 1,
        _ => 2,
    }
}

/// The popular package `name` imitates, if it is 1–2 edits away from one
/// (1 for names of 5–9 characters; names of 4 or fewer are not judged), or
/// its scope is a near miss of a trusted scope (`@modelcontextprotcol/…`).
/// Exact names, packages under trusted scopes and known legitimate
/// neighbours (`openapi`, `mcpo`) are not typosquats.
pub fn typosquat_of(name: &str) -> Option<&'static str> {
    let name = normalise(name);
    if name.is_empty() || KNOWN_NEIGHBOURS.contains(&name.as_str()) {
        return None;
    }
    if POPULAR_PACKAGES.iter().any(|p| *p == name) {
        return None;
    }
    let (scope, bare) = split_scope(&name);
    if let Some(scope) = scope {
        if TRUSTED_SCOPES.contains(&scope) {
            return None;
        }
        for trusted in TRUSTED_SCOPES {
            let d = damerau_levenshtein(scope, trusted);
            if (1..=max_distance(trusted)).contains(&d) {
                // Name the package it most likely imitates.
                let wanted = format!("{trusted}/{bare}");
                return POPULAR_PACKAGES
                    .iter()
                    .find(|p| **p == wanted)
                    .or_else(|| {
                        POPULAR_PACKAGES
                            .iter()
                            .find(|p| p.starts_with(&format!("{trusted}/")))
                    })
                    .copied();
            }
        }
    }
    POPULAR_PACKAGES.iter().copied().find(|popular| {
        let d = damerau_levenshtein(&name, popular);
        d >= 1 && d <= max_distance(popular)
    })
}

/// An official scoped package whose bare name `name` reuses under another
/// scope or none (`server-filesystem`, `@evil/server-github`).
pub(crate) fn scope_confusion_of(name: &str) -> Option<&'static str> {
    let name = normalise(name);
    let (scope, bare) = split_scope(&name);
    if scope.is_some_and(|s| TRUSTED_SCOPES.contains(&s)) || GENERIC_BARE_NAMES.contains(&bare) {
        return None;
    }
    POPULAR_PACKAGES
        .iter()
        .copied()
        .find(|popular| match split_scope(popular) {
            (Some(_), official_bare) => official_bare == bare,
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(damerau_levenshtein("abc", "abc"), 0);
        assert_eq!(damerau_levenshtein("abc", "acb"), 1);
        assert_eq!(damerau_levenshtein("kitten", "sitting"), 3);
        assert_eq!(damerau_levenshtein("", "abc"), 3);
        assert_eq!(damerau_levenshtein("ça", "ac"), 2);
    }

    #[test]
    fn typosquats() {
        assert_eq!(
            typosquat_of("@modelcontextprotcol/sdk"),
            Some("@modelcontextprotocol/sdk")
        );
        assert_eq!(
            typosquat_of("@modelcontextprotocl/server-slack"),
            Some("@modelcontextprotocol/server-slack")
        );
        assert_eq!(typosquat_of("opeani"), Some("openai"));
        assert_eq!(typosquat_of("fastmpc"), Some("fastmcp"));
        assert_eq!(typosquat_of("mcp-remot"), Some("mcp-remote"));
        assert_eq!(typosquat_of("antrhopic"), Some("anthropic"));
        assert_eq!(typosquat_of("@anthropic-al/sdk"), Some("@anthropic-ai/sdk"));
        assert_eq!(typosquat_of("fast_mcp"), Some("fastmcp"));
        // Not typosquats.
        for ok in [
            "openai",
            "OpenAI",
            "mcp",
            "mcpo",
            "openapi",
            "@modelcontextprotocol/server-gitlab",
            "@modelcontextprotocol/server-whatever",
            "express",
            "react",
            "zod",
            "mcq",
            "lodash",
        ] {
            assert_eq!(typosquat_of(ok), None, "{ok}");
        }
    }

    #[test]
    fn scope_confusion() {
        assert_eq!(
            scope_confusion_of("server-filesystem"),
            Some("@modelcontextprotocol/server-filesystem")
        );
        assert_eq!(
            scope_confusion_of("@evil/server-github"),
            Some("@modelcontextprotocol/server-github")
        );
        assert_eq!(
            scope_confusion_of("@modelcontextprotocol/server-github"),
            None
        );
        assert_eq!(scope_confusion_of("@someone/sdk"), None);
        assert_eq!(scope_confusion_of("express"), None);
    }
}
