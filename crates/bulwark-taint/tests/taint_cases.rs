//! Taint edge cases: sanitisers, aliasing, helpers, confidence levels, positions.

use bulwark_detect::{Confidence, Finding, Location, Severity};
use bulwark_taint::{Language, analyze, rules};

fn py(src: &str) -> Vec<Finding> {
    analyze("t.py", Language::Python, src)
}

fn with_rule<'a>(f: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    f.iter().filter(|x| x.rule_id == rule).collect()
}

fn line_of(f: &Finding) -> u32 {
    match f.location {
        Location::File { line, .. } => line,
        _ => 0,
    }
}

const HEAD: &str = "import os, subprocess, shlex, sqlite3, yaml, re\nfrom mcp.server.fastmcp import FastMCP\nmcp = FastMCP('t')\n";

fn tool(body: &str) -> String {
    format!("{HEAD}@mcp.tool()\ndef t(path: str, cmd: str) -> str:\n{body}\n    return ''\n")
}

#[test]
fn direct_flow_is_high_confidence_with_path() {
    let f = py(&tool(
        "    full = os.path.join('/srv', path)\n    data = open(full).read()",
    ));
    let hits = with_rule(&f, "BWK-CODE-PATH-TRAVERSAL");
    assert_eq!(hits.len(), 1, "{f:?}");
    assert_eq!(hits[0].confidence, Confidence::High);
    assert_eq!(hits[0].severity, Severity::High);
    assert_eq!(line_of(hits[0]), 7);
    assert_eq!(
        hits[0].evidence,
        "tool `t` param `path` → `full` (line 6) → open() (line 7)"
    );
}

#[test]
fn aliasing_chains_are_followed() {
    let f = py(&tool(
        "    a = cmd\n    b = a\n    c = b.strip()\n    os.system(c)",
    ));
    let hits = with_rule(&f, "BWK-CODE-CMD-INJECTION");
    assert_eq!(hits.len(), 1, "{f:?}");
    assert_eq!(hits[0].confidence, Confidence::High);
    assert_eq!(hits[0].severity, Severity::Critical);
    assert!(
        hits[0]
            .evidence
            .contains("`a` (line 6) → `b` (line 7) → `c` (line 8)"),
        "{}",
        hits[0].evidence
    );
}

#[test]
fn import_aliases_are_resolved() {
    let src = "import subprocess as sp\nfrom os import system as run_it\nfrom mcp.server.fastmcp import FastMCP\nmcp = FastMCP('t')\n@mcp.tool()\ndef t(cmd: str):\n    sp.run(cmd, shell=True)\n    run_it(cmd)\n";
    let f = py(src);
    let lines: Vec<u32> = with_rule(&f, "BWK-CODE-CMD-INJECTION")
        .iter()
        .map(|x| line_of(x))
        .collect();
    assert_eq!(lines, vec![7, 8], "{f:?}");
}

#[test]
fn sanitisers_stop_high_confidence_findings() {
    let bodies = [
        "    os.system('ls ' + shlex.quote(cmd))",
        "    subprocess.run(['ls', '-l', cmd])",
        "    subprocess.run(['git', 'log', path], check=True)",
        "    p = os.path.realpath(os.path.join('/srv', path))\n    if not p.startswith('/srv/'):\n        raise ValueError()\n    open(p)",
        "    p = os.path.basename(path)\n    open(os.path.join('/srv', p))",
        "    conn = sqlite3.connect('x')\n    conn.execute('SELECT * FROM t WHERE a = ?', (cmd,))",
        "    yaml.safe_load(cmd)",
        "    re.compile(re.escape(cmd))",
        "    n = int(cmd)\n    os.system(f'seq {n}')",
        "    if cmd not in ('a', 'b'):\n        raise ValueError()\n    os.system('run ' + cmd)",
        "    cmd = 'uptime'\n    os.system(cmd)",
    ];
    for body in bodies {
        let f = py(&tool(body));
        assert!(f.is_empty(), "expected nothing for\n{body}\ngot {f:?}");
    }
}

#[test]
fn shell_true_with_quoted_then_raw_value_is_reported() {
    // Quoting one value does not clean another.
    let f = py(&tool(
        "    os.system('ls ' + shlex.quote(path) + ' ' + cmd)",
    ));
    assert_eq!(with_rule(&f, "BWK-CODE-CMD-INJECTION").len(), 1, "{f:?}");
}

#[test]
fn helper_functions_are_followed_one_level() {
    let src = format!(
        "{HEAD}def run(c):\n    subprocess.run(c, shell=True)\n\ndef wrap(x):\n    return 'echo ' + x\n\n@mcp.tool()\ndef t(cmd: str):\n    run(wrap(cmd))\n"
    );
    let f = py(&src);
    let hits = with_rule(&f, "BWK-CODE-CMD-INJECTION");
    assert_eq!(hits.len(), 1, "{f:?}");
    assert_eq!(line_of(hits[0]), 5);
    assert_eq!(hits[0].confidence, Confidence::High);
    assert!(
        hits[0].evidence.contains("wrap()") && hits[0].evidence.contains("run()"),
        "{}",
        hits[0].evidence
    );
}

#[test]
fn helper_that_sanitises_is_respected() {
    let src = format!(
        "{HEAD}def safe(p):\n    full = os.path.realpath(os.path.join('/srv', p))\n    if not full.startswith('/srv/'):\n        raise ValueError()\n    return full\n\n@mcp.tool()\ndef t(path: str):\n    return open(safe(path)).read()\n"
    );
    assert!(py(&src).is_empty());
}

#[test]
fn non_tool_functions_get_lower_confidence() {
    let src = format!(
        "{HEAD}def run(c):\n    os.system(c)\n\ndef evaluate(expr):\n    return eval(expr)\n"
    );
    let f = py(&src);
    let cmd = with_rule(&f, "BWK-CODE-CMD-INJECTION");
    assert_eq!(cmd.len(), 1);
    assert_eq!(cmd[0].confidence, Confidence::Medium);
    assert_eq!(cmd[0].severity, Severity::High);
    let code = with_rule(&f, "BWK-CODE-CODE-INJECTION");
    assert_eq!(code[0].confidence, Confidence::Medium);
    // An ordinary open() with a parameter outside a tool is not reported.
    assert!(py(&format!("{HEAD}def read(p):\n    return open(p).read()\n")).is_empty());
}

#[test]
fn untraced_dangerous_sinks_are_low_and_literals_are_silent() {
    let f = py(&format!(
        "{HEAD}cmd = os.environ['CMD']\nos.system(cmd)\nos.system('ls -l')\n"
    ));
    let cmd = with_rule(&f, "BWK-CODE-CMD-INJECTION");
    assert_eq!(cmd.len(), 1, "{f:?}");
    assert_eq!(cmd[0].confidence, Confidence::Low);
    assert_eq!(line_of(cmd[0]), 5);
}

#[test]
fn fixed_host_urls_are_not_ssrf() {
    let head = "import requests\nfrom mcp.server.fastmcp import FastMCP\nmcp = FastMCP('t')\nBASE = 'https://api.example.com'\n@mcp.tool()\ndef t(u: str):\n";
    for body in [
        "    requests.get(f'https://api.example.com/items/{u}')",
        "    requests.get('https://api.example.com/items/' + u)",
        "    requests.get(BASE + '/items/' + u)",
        "    requests.get('https://api.example.com/search', params={'q': u})",
    ] {
        let f = py(&format!("{head}{body}\n"));
        assert!(f.is_empty(), "{body}: {f:?}");
    }
    for body in [
        "    requests.get(u)",
        "    requests.get('https://' + u + '/x')",
        "    requests.get(f'{u}/api')",
    ] {
        let f = py(&format!("{head}{body}\n"));
        assert_eq!(with_rule(&f, "BWK-CODE-SSRF").len(), 1, "{body}: {f:?}");
    }
}

#[test]
fn sql_needs_formatted_sql_text() {
    let head = "import sqlite3\nfrom mcp.server.fastmcp import FastMCP\nmcp = FastMCP('t')\n@mcp.tool()\ndef t(q: str, name: str):\n    c = sqlite3.connect('x')\n";
    assert!(py(&format!("{head}    c.execute(q)\n")).is_empty());
    let f = py(&format!(
        "{head}    c.execute('SELECT id FROM users WHERE name = \"{{}}\"'.format(name))\n"
    ));
    assert_eq!(with_rule(&f, "BWK-CODE-SQL-INJECTION").len(), 1, "{f:?}");
}

#[test]
fn javascript_destructuring_promisify_and_callbacks() {
    let src = r#"
const { exec } = require("child_process");
const util = require("util");
const fs = require("fs");
const run = util.promisify(exec);
server.tool("t", "d", { a: z.string(), files: z.array(z.string()) }, async ({ a, files }) => {
  const { b } = { b: a };
  await run(`ls ${b}`);
  files.forEach((f) => fs.unlinkSync(f));
  return { content: [] };
});
"#;
    let f = analyze("t.js", Language::JavaScript, src);
    let cmd = with_rule(&f, "BWK-CODE-CMD-INJECTION");
    assert_eq!(cmd.len(), 1, "{f:?}");
    assert_eq!(line_of(cmd[0]), 8);
    let path = with_rule(&f, "BWK-CODE-PATH-TRAVERSAL");
    assert_eq!(path.len(), 1, "{f:?}");
    assert_eq!(line_of(path[0]), 9);
}

#[test]
fn javascript_extra_parameter_is_not_input() {
    let src = r#"
const { exec } = require("child_process");
server.tool("t", "d", {}, async (args, extra) => {
  exec(extra.sessionId);
  return { content: [] };
});
"#;
    let f = analyze("t.js", Language::JavaScript, src);
    assert!(f.iter().all(|x| x.confidence != Confidence::High), "{f:?}");
}

#[test]
fn go_shell_and_argv() {
    let src = r#"package main
import ("context"; "os/exec"; "github.com/mark3labs/mcp-go/mcp")
func h(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	x := req.GetString("x", "")
	exec.Command("git", "log", x).Run()
	exec.CommandContext(ctx, "/bin/sh", "-c", "echo "+x).Run()
	return nil, nil
}
func main() { s.AddTool(mcp.NewTool("t", mcp.WithString("x")), h) }
"#;
    let f = analyze("t.go", Language::Go, src);
    let lines: Vec<u32> = with_rule(&f, "BWK-CODE-CMD-INJECTION")
        .iter()
        .map(|x| line_of(x))
        .collect();
    assert_eq!(lines, vec![6], "{f:?}");
}

#[test]
fn rust_command_held_in_a_variable() {
    let src = r#"use std::process::Command;
#[tool_router]
impl S {
    #[tool(description = "x")]
    fn t(&self, Parameters(A { x }): Parameters<A>) -> String {
        let mut c = Command::new("bash");
        c.arg("-c");
        c.arg(format!("echo {x}"));
        let ok = Command::new("echo").arg(&x).output();
        String::new()
    }
}
"#;
    let f = analyze("t.rs", Language::Rust, src);
    let lines: Vec<u32> = with_rule(&f, "BWK-CODE-CMD-INJECTION")
        .iter()
        .map(|x| line_of(x))
        .collect();
    assert_eq!(lines, vec![8], "{f:?}");
}

#[test]
fn columns_are_one_based_characters() {
    let src = format!("{HEAD}@mcp.tool()\ndef t(cmd: str):\n    s = 'é'; os.system(cmd)\n");
    let f = py(&src);
    let hit = with_rule(&f, "BWK-CODE-CMD-INJECTION")[0];
    match &hit.location {
        Location::File { path, line, column } => {
            assert_eq!(path, "t.py");
            assert_eq!(*line, 6);
            // `    s = 'é'; os.` is 16 characters: the method name starts at 17.
            assert_eq!(*column, 17);
        }
        other => panic!("{other:?}"),
    }
    assert!(hit.snippet.starts_with("s = 'é'; os.system(cmd)"));
}

#[test]
fn rules_are_unique_and_complete() {
    let mut ids = std::collections::HashSet::new();
    for r in rules() {
        assert!(r.id.starts_with("BWK-CODE-"), "{}", r.id);
        assert!(ids.insert(r.id), "duplicate {}", r.id);
        assert!(
            r.cwe.starts_with("CWE-") && r.cwe[4..].parse::<u32>().is_ok(),
            "{}",
            r.cwe
        );
        assert!(!r.title.is_empty() && r.remediation.len() > 20);
    }
    assert!(ids.len() >= 15);
    // Every finding of the fixtures uses a listed rule.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let s = p.to_string_lossy().to_string();
        let Some(lang) = Language::from_path(&s) else {
            continue;
        };
        for f in analyze(&s, lang, &std::fs::read_to_string(&p).unwrap()) {
            assert!(ids.contains(f.rule_id.as_str()), "{}", f.rule_id);
            assert!(f.snippet.chars().count() <= 200);
        }
    }
}

#[test]
fn languages_by_path() {
    assert_eq!(Language::from_path("a/b.py"), Some(Language::Python));
    assert_eq!(Language::from_path("x.mjs"), Some(Language::JavaScript));
    assert_eq!(Language::from_path("x.cts"), Some(Language::TypeScript));
    assert_eq!(Language::from_path("X.TSX"), Some(Language::Tsx));
    assert_eq!(Language::from_path("main.go"), Some(Language::Go));
    assert_eq!(Language::from_path("lib.rs"), Some(Language::Rust));
    assert_eq!(Language::from_path("types.d.ts"), None);
    assert_eq!(Language::from_path("README.md"), None);
    assert_eq!(Language::from_path("py"), None);
    assert_eq!(Language::from_path("dir/.py"), None);
}

/// In a loop a sink can use a name bound only further down; the second pass
/// (falling back to the first pass's bindings) must still run for it.
#[test]
fn name_bound_later_in_a_loop_still_reaches_the_sink() {
    let f = py(&tool(
        "    last = ''\n    for i in range(3):\n        os.system(prev)\n        prev = cmd\n    return last",
    ));
    let hits = with_rule(&f, "BWK-CODE-CMD-INJECTION");
    assert_eq!(hits.len(), 1, "{f:?}");
    assert_eq!(hits[0].confidence, Confidence::High, "{f:?}");
    assert_eq!(line_of(hits[0]), 8);
    assert_eq!(
        hits[0].evidence,
        "tool `t` param `cmd` → `prev` (line 9) → os.system() (line 8)"
    );
}

/// Without such a name, one pass gives the same findings, evidence included.
#[test]
fn straight_line_flow_keeps_its_evidence() {
    let f = py(&tool("    a = cmd\n    b = a + ' --x'\n    os.system(b)"));
    let hits = with_rule(&f, "BWK-CODE-CMD-INJECTION");
    assert_eq!(hits.len(), 1, "{f:?}");
    assert_eq!(
        hits[0].evidence,
        "tool `t` param `cmd` → `a` (line 6) → `b` (line 7) → os.system() (line 8)"
    );
}
