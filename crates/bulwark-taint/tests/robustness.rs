//! Garbage in: no panic, bounded time.

use std::time::{Duration, Instant};

use bulwark_taint::{Language, analyze, tool_entry_points};

const ALL: [Language; 6] = [
    Language::Python,
    Language::JavaScript,
    Language::TypeScript,
    Language::Tsx,
    Language::Go,
    Language::Rust,
];

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn run_all(source: &str, limit: Duration) {
    for lang in ALL {
        let start = Instant::now();
        let _ = analyze("garbage", lang, source);
        let _ = tool_entry_points("garbage", lang, source);
        let took = start.elapsed();
        assert!(
            took < limit,
            "{lang:?} took {took:?} on {} bytes",
            source.len()
        );
    }
}

#[test]
fn random_bytes_do_not_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..30 {
        let len = 64 + (rng.next() % 4096) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let text = String::from_utf8_lossy(&bytes).to_string();
        run_all(&text, Duration::from_secs(5));
        if round % 10 == 0 {
            // Mostly-ASCII noise is closer to real code.
            let ascii: String = bytes.iter().map(|b| (b % 95 + 32) as char).collect();
            run_all(&ascii, Duration::from_secs(5));
        }
    }
}

#[test]
fn token_soup_does_not_panic() {
    let tokens = [
        "def ",
        "fn ",
        "func ",
        "function ",
        "=>",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        "@mcp.tool()\n",
        "server.tool(",
        "\"x\"",
        "'y'",
        "`z${",
        "}`",
        "f\"{a}\"",
        "os.system(",
        "exec.Command(",
        "Command::new(",
        "eval(",
        "=",
        ",",
        "\n",
        "    ",
        "if ",
        "match ",
        "case ",
        "switch",
        "return ",
        "import ",
        "from ",
        "use ",
        "#[tool]",
        "lambda:",
        "async ",
        "await ",
        "+",
        "%",
        ".format(",
        "fmt.Sprintf(",
        "format!(",
        "require(",
        "const ",
        "let ",
        ":=",
        "x",
        "path",
        "open(",
        "fs.readFile(",
        "request.params.arguments.",
        "obj[k][j] = ",
        "/(a+)+/",
        "re.compile(",
    ];
    let mut rng = XorShift(42);
    for _ in 0..80 {
        let n = 20 + (rng.next() % 600) as usize;
        let text: String = (0..n)
            .map(|_| tokens[(rng.next() as usize) % tokens.len()])
            .collect();
        run_all(&text, Duration::from_secs(5));
    }
}

#[test]
fn a_one_mib_line_is_skipped_quickly() {
    let line = "x = \"".to_string() + &"a".repeat(1 << 20) + "\"\n";
    let start = Instant::now();
    for lang in ALL {
        assert!(analyze("big.py", lang, &line).is_empty());
        assert!(tool_entry_points("big.py", lang, &line).is_empty());
    }
    assert!(start.elapsed() < Duration::from_secs(2));
    // Over 2 MiB in many short lines: skipped too.
    let many = "os.system(x)\n".repeat(200_000);
    assert!(analyze("big.py", Language::Python, &many).is_empty());
}

#[test]
fn long_lines_within_bounds_are_analysed() {
    let expr = vec!["a"; 4500].join(" + ");
    let src = format!(
        "import os\nfrom mcp.server.fastmcp import FastMCP\nmcp = FastMCP('x')\n@mcp.tool()\ndef t(a: str) -> str:\n    c = {expr}\n    os.system(c)\n    return ''\n"
    );
    let start = Instant::now();
    let f = analyze("long.py", Language::Python, &src);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(
        f.iter().any(|f| f.rule_id == "BWK-CODE-CMD-INJECTION"),
        "{f:?}"
    );
}

#[test]
fn deep_nesting_is_bounded() {
    // Line breaks keep every line within bounds, so all of these are parsed
    // and analysed rather than skipped.
    let depth = 20_000;
    let cases = [
        "(\n".repeat(depth),
        "[\n".repeat(depth) + &"]\n".repeat(depth),
        "x = ".to_string() + &"(\n".repeat(depth) + "1" + &")\n".repeat(depth),
        "{\n".repeat(depth) + &"}\n".repeat(depth),
        "f(\n".repeat(10_000) + &")\n".repeat(10_000),
        "x = (".to_string() + &"\"a\" +\n".repeat(20_000) + "\"b\")\n",
        "f = ".to_string() + &"lambda: (\n".repeat(3_000) + "0" + &")".repeat(3_000),
        "fn a() {\n".repeat(3_000) + &"}\n".repeat(3_000),
        "const f = () =>\n".repeat(2_000) + "0;",
        "x = ".to_string() + &"-\n".repeat(depth) + "1",
        "if x:\n".to_string()
            + &(1..400)
                .map(|i| " ".repeat(i) + "if x:\n")
                .collect::<String>()
            + &" ".repeat(400)
            + "os.system(x)\n",
    ];
    for c in &cases {
        assert!(
            bulwark_taint::within_bounds(c),
            "case is skipped, not analysed"
        );
        run_all(c, Duration::from_secs(30));
    }
}

#[test]
fn empty_and_tiny_inputs() {
    for s in [
        "", "\n", "\0", "\u{feff}", "é", "\r\n\r\n", "#", "//", "/*", "\"", "'''", "`${",
    ] {
        run_all(s, Duration::from_secs(2));
    }
}
