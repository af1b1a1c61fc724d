//! The shipped detectors and the JSON-with-comments parser never panic on
//! hostile input: random splices of fragments that exercise their slicing
//! (multi-byte characters next to `@`, `:`, `=`, quotes, escapes).

use bulwark_scan::{config_detector, supply_chain_detector};

const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u00e9",
    "\\ud83d",
    "//",
    "/*",
    "*/",
    "\n",
    " ",
    "\t",
    "\"mcpServers\"",
    "\"servers\"",
    "\"command\"",
    "\"args\"",
    "\"env\"",
    "\"url\"",
    "\"headers\"",
    "\"npx\"",
    "\"uvx\"",
    "\"docker\"",
    "\"run\"",
    "\"-v\"",
    "\"/:/host\"",
    "\"--privileged\"",
    "\"-y\"",
    "\"@scope/pkg@\"",
    "\"pkg==\"",
    "é",
    "ü",
    "😀",
    "\u{202e}",
    "@",
    "=",
    "==",
    "http://",
    "h\u{e9}st",
    "\"C:\\\\\"",
    "~",
    "$HOME",
    "${input:x}",
    "ghp_",
    "AKIA",
    "sk-",
    "postgres://a:b@c",
    "?a=b&c",
    "#",
    "--token",
    "--insecure",
    "-k",
    "/tmp/",
    "cmd",
    "/c",
    "bash",
    "-c",
    "curl x | sh",
    "\\\n",
    "git+https://x@",
    "file:",
    "*",
    "latest",
    "\"dependencies\"",
    "\"scripts\"",
    "\"postinstall\"",
    "[project]",
    "dependencies = [",
    "[tool.poetry.dependencies]",
    "x = { git = ",
    "-e ",
    "pkg @ ",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_inputs_do_not_panic() {
    let config = config_detector();
    let supply = supply_chain_detector();
    let paths = [
        ".mcp.json",
        "package.json",
        "requirements.txt",
        "pyproject.toml",
        "Dockerfile",
        "install.sh",
        ".vscode/settings.json",
    ];
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for round in 0..4000 {
        let len = 1 + (rng.next() % 60) as usize;
        let mut text = String::new();
        for _ in 0..len {
            text.push_str(FRAGMENTS[(rng.next() % FRAGMENTS.len() as u64) as usize]);
        }
        let path = paths[round % paths.len()];
        for finding in config
            .scan(path, &text)
            .into_iter()
            .chain(supply.scan(path, &text))
        {
            assert!(finding.snippet.chars().count() <= 200, "{text:?}");
        }
    }
    // A well-formed config wrapped around random argument strings.
    for _ in 0..2000 {
        let mut arg = String::new();
        for _ in 0..(1 + rng.next() % 8) {
            arg.push_str(FRAGMENTS[(rng.next() % FRAGMENTS.len() as u64) as usize]);
        }
        let escaped = serde_json::to_string(&arg).unwrap();
        let text = format!(
            r#"{{"mcpServers": {{"s": {{"command": {escaped}, "args": [{escaped}, "-v", {escaped}, {escaped}], "env": {{"API_KEY": {escaped}}}, "url": {escaped}, "headers": {{"Authorization": {escaped}}}}}}}}}"#
        );
        let _ = config.scan(".mcp.json", &text);
        let docker = format!(
            r#"{{"mcpServers": {{"d": {{"command": "docker", "args": ["run", {escaped}, "--mount", {escaped}, {escaped}]}}}}}}"#
        );
        let _ = config.scan(".mcp.json", &docker);
        let npm = format!(
            r#"{{"dependencies": {{{escaped}: {escaped}}}, "scripts": {{"postinstall": {escaped}}}}}"#
        );
        let _ = supply.scan("package.json", &npm);
    }
}
