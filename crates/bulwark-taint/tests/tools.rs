//! Tool discovery in each framework.

use bulwark_taint::{Language, ToolEntry, analyze, tool_entry_points};

fn fixture(name: &str) -> (String, String) {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    (
        p.to_string_lossy().to_string(),
        std::fs::read_to_string(p).unwrap(),
    )
}

fn tools_of(name: &str) -> Vec<ToolEntry> {
    let (p, s) = fixture(name);
    tool_entry_points(&p, Language::from_path(&p).unwrap(), &s)
}

fn get<'a>(t: &'a [ToolEntry], name: &str) -> &'a ToolEntry {
    t.iter()
        .find(|x| x.name == name)
        .unwrap_or_else(|| panic!("no tool {name} in {t:?}"))
}

#[test]
fn fastmcp_decorators() {
    let t = tools_of("py_fastmcp_vuln.py");
    assert_eq!(t.len(), 14, "{t:?}");
    let run = get(&t, "run_command");
    assert_eq!(run.function, "run_command");
    assert_eq!(run.parameters, vec!["command"]);
    assert_eq!(run.line, 19, "the decorator line");
    assert_eq!(run.framework, "fastmcp");
    assert!(!run.dynamic_description);
    assert!(get(&t, "notes").dynamic_description);
    let clean = tools_of("py_fastmcp_clean.py");
    assert_eq!(
        get(&clean, "read_log").parameters,
        vec!["name"],
        "ctx: Context is not input"
    );
    assert!(clean.iter().all(|x| !x.dynamic_description), "{clean:?}");
}

#[test]
fn fastmcp_named_and_add_tool() {
    let src = "from fastmcp import FastMCP\nmcp = FastMCP('x')\n@mcp.tool(name='search_docs')\nasync def search(query: str, limit: int = 5):\n    ...\n@app.tool\ndef plain(a):\n    ...\ndef later(x: str):\n    ...\nmcp.add_tool(later, name='late', description=f'late {x}')\n";
    let t = tool_entry_points("x.py", Language::Python, src);
    let names: Vec<&str> = t.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, vec!["search_docs", "plain", "late"]);
    assert_eq!(get(&t, "search_docs").parameters, vec!["query", "limit"]);
    assert_eq!(get(&t, "search_docs").function, "search");
    assert!(get(&t, "late").dynamic_description);
}

#[test]
fn python_lowlevel_dispatch() {
    let t = tools_of("py_lowlevel_vuln.py");
    let names: Vec<&str> = t.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, vec!["exec", "fetch", "read"], "{t:?}");
    assert_eq!(get(&t, "exec").parameters, vec!["command"]);
    assert_eq!(get(&t, "fetch").parameters, vec!["url"]);
    assert_eq!(get(&t, "read").function, "call_tool");
    assert_eq!(get(&t, "exec").framework, "mcp-python-lowlevel");
    assert!(get(&t, "fetch").dynamic_description);
    assert!(!get(&t, "exec").dynamic_description);
    let m = tools_of("py_lowlevel_clean.py");
    let names: Vec<&str> = m.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, vec!["list", "count", "echo"], "{m:?}");
    assert_eq!(get(&m, "list").parameters, vec!["dir"]);
}

#[test]
fn typescript_tool_and_register_tool() {
    let t = tools_of("ts_server_vuln.ts");
    assert_eq!(t.len(), 11, "{t:?}");
    let grep = get(&t, "grep");
    assert_eq!(grep.parameters, vec!["pattern", "file"]);
    assert_eq!(grep.framework, "mcp-ts");
    assert_eq!(grep.function, "<anonymous>");
    let read = get(&t, "read_file");
    assert_eq!(read.parameters, vec!["path"]);
    assert_eq!(read.line, 33);
    assert!(t.iter().all(|x| !x.dynamic_description));
}

#[test]
fn typescript_lowlevel_handlers() {
    let t = tools_of("ts_lowlevel_vuln.ts");
    let names: Vec<&str> = t.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, vec!["read", "exec"], "{t:?}");
    assert_eq!(get(&t, "read").parameters, vec!["file"]);
    assert!(get(&t, "read").dynamic_description);
    assert!(!get(&t, "exec").dynamic_description);
    let c = tools_of("ts_lowlevel_clean.ts");
    let names: Vec<&str> = c.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, vec!["list", "wc"], "{c:?}");
    assert_eq!(get(&c, "list").parameters, vec!["dir"]);
}

#[test]
fn typescript_dynamic_description_and_fastmcp_ts() {
    let src = r#"
import { FastMCP } from "fastmcp";
const desc = await fetch("https://example.com/d").then((r) => r.text());
server.tool("a", desc, { q: z.string() }, async ({ q }) => ({ content: [] }));
server.tool("b", "fixed " + "text", async () => ({ content: [] }));
server.registerTool("c", { description: `built ${Date.now()}` }, async () => ({ content: [] }));
mcp.addTool({ name: "d", description: "Add", parameters: z.object({ a: z.number() }), execute: async (args) => String(args.a) });
"#;
    let t = tool_entry_points("x.ts", Language::TypeScript, src);
    let dynamic: Vec<(&str, bool)> = t
        .iter()
        .map(|x| (x.name.as_str(), x.dynamic_description))
        .collect();
    assert_eq!(
        dynamic,
        vec![("a", true), ("b", false), ("c", true), ("d", false)]
    );
    assert_eq!(get(&t, "d").framework, "fastmcp-ts");
    let f = analyze("x.ts", Language::TypeScript, src);
    let lines: Vec<u32> = f
        .iter()
        .filter(|x| x.rule_id == "BWK-CODE-DYNAMIC-DESCRIPTION")
        .map(|x| match x.location {
            bulwark_detect::Location::File { line, .. } => line,
            _ => 0,
        })
        .collect();
    assert_eq!(lines, vec![4, 6]);
}

#[test]
fn mcp_go_and_go_sdk() {
    let t = tools_of("go_server_vuln.go");
    let names: Vec<&str> = t.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, vec!["run", "read_file", "fetch", "user"]);
    assert_eq!(get(&t, "run").function, "handleRun");
    assert_eq!(get(&t, "run").parameters, vec!["command"]);
    assert_eq!(get(&t, "run").framework, "mcp-go");
    assert!(
        get(&t, "read_file").dynamic_description,
        "tool held in a variable"
    );
    assert_eq!(get(&t, "fetch").function, "<anonymous>");
    let s = tools_of("go_sdk_vuln.go");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].name, "grep");
    assert_eq!(s[0].function, "grep");
    assert_eq!(s[0].framework, "go-sdk");
    assert_eq!(s[0].parameters, vec!["pattern", "dir"]);
}

#[test]
fn rmcp_tool_attributes() {
    let t = tools_of("rust_server_vuln.rs");
    let names: Vec<&str> = t.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, vec!["run", "read", "fetch", "user"]);
    assert_eq!(get(&t, "run").parameters, vec!["command"]);
    assert_eq!(
        get(&t, "read").parameters,
        vec!["path"],
        "fields of Parameters<ReadArgs>"
    );
    assert_eq!(get(&t, "fetch").function, "fetch_url");
    assert_eq!(get(&t, "fetch").framework, "rmcp");
    let c = tools_of("rust_server_clean.rs");
    assert_eq!(get(&c, "log").parameters, vec!["count"]);
    assert!(c.iter().all(|x| !x.dynamic_description));
    let dynamic =
        "#[tool_router]\nimpl S {\n    #[tool(description = DESC)]\n    fn a(&self) {}\n}\n";
    let d = tool_entry_points("x.rs", Language::Rust, dynamic);
    assert!(d[0].dynamic_description);
}

#[test]
fn files_without_tools() {
    assert!(tool_entry_points("x.py", Language::Python, "def tool(): pass\nx.tool").is_empty());
    assert!(tool_entry_points("x.js", Language::JavaScript, "tool('a')").is_empty());
}

#[test]
fn fixed_descriptions_are_read_from_the_source() {
    let py = r#"
from mcp.server.fastmcp import FastMCP
mcp = FastMCP("x")
PREFIX = "Adds two "

@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two numbers.

    Second paragraph."""
    return a + b

@mcp.tool(description=PREFIX + "numbers, by keyword.")
def add2(a: int, b: int) -> int:
    """Ignored: the keyword wins."""
    return a + b

@mcp.tool(description=f"built at {a_runtime_value}")
def dynamic(a: int) -> int:
    return a

@mcp.tool()
def bare(a: int) -> int:
    return a
"#;
    let t = tool_entry_points("s.py", Language::Python, py);
    let add = get(&t, "add");
    assert_eq!(
        add.description.as_deref(),
        Some("Add two numbers.\n\n    Second paragraph.")
    );
    assert_eq!((add.description_line, add.description_column), (8, 5));
    assert_eq!(
        get(&t, "add2").description.as_deref(),
        Some("Adds two numbers, by keyword.")
    );
    let dynamic = get(&t, "dynamic");
    assert!(dynamic.dynamic_description && dynamic.description.is_none());
    assert_eq!(get(&t, "bare").description, None);

    let ts = r#"
const server = new McpServer({ name: "x", version: "1" });
server.tool("echo", "Echo " + "the text.", { text: z.string() }, async ({ text }) => ({ content: [] }));
server.registerTool("time", { description: `Current time.`, inputSchema: {} }, async () => ({ content: [] }));
"#;
    let t = tool_entry_points("s.ts", Language::TypeScript, ts);
    assert_eq!(
        get(&t, "echo").description.as_deref(),
        Some("Echo the text.")
    );
    assert_eq!(get(&t, "echo").description_line, 3);
    assert_eq!(
        get(&t, "time").description.as_deref(),
        Some("Current time.")
    );
}
