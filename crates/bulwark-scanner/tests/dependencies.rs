//! The code detector in installed packages: only MCP server code (files that
//! register tools) is analysed; other library code is left to the secrets
//! and supply-chain detectors.

use bulwark_scan::FileDetector;
use bulwark_scanner::CodeDetector;

const LIBRARY: &str = "function run(code) {\n  return eval(code);\n}\nmodule.exports = run;\n";
const SERVER: &str = r#"import { execSync } from "node:child_process";
server.tool("git_log", "Show the log of a branch.", { branch: z.string() }, async ({ branch }) => {
  return { content: [{ type: "text", text: execSync(`git log ${branch}`).toString() }] };
});
"#;
const PY_SERVER: &str = "import subprocess\n\n@mcp.tool()\ndef run(cmd: str) -> str:\n    \"\"\"Run it.\"\"\"\n    return subprocess.check_output(cmd, shell=True).decode()\n";

fn rules(findings: &[bulwark_scan::Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule_id.as_str()).collect()
}

#[test]
fn library_code_in_dependencies_is_not_analysed() {
    let d = CodeDetector;
    assert_eq!(
        rules(&d.scan("lib/run.js", LIBRARY)),
        ["BWK-CODE-CODE-INJECTION"]
    );
    assert!(d.scan_dependency("lib/run.js", LIBRARY).is_empty());
}

#[test]
fn mcp_servers_in_dependencies_are_analysed_in_full() {
    let d = CodeDetector;
    for (path, text) in [("dist/index.js", SERVER), ("srv/server.py", PY_SERVER)] {
        let full = d.scan(path, text);
        assert!(
            rules(&full).contains(&"BWK-CODE-CMD-INJECTION"),
            "{path}: {:?}",
            rules(&full)
        );
        assert_eq!(d.scan_dependency(path, text), full, "{path}");
    }
}
