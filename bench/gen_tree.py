#!/usr/bin/env python3
"""Writes a synthetic source tree for scanner speed runs: N files (default
10,000) of Python, TypeScript, JavaScript and config text, shaped like MCP
servers (tool registrations, handlers, helpers), with a few vulnerable
patterns and fake secrets sprinkled in so every scanner has work to do.
Deterministic for a given N and seed. Standard library only.

    python3 bench/gen_tree.py DIR [--files N] [--seed S]
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

PY_TOOL = '''

@mcp.tool()
def {name}(value: str, limit: int = 10) -> str:
    """{doc}"""
    items = [part.strip() for part in value.split(",") if part.strip()]
    if len(items) > limit:
        items = items[:limit]
    total = sum(len(item) for item in items)
    return f"{{len(items)}} items, {{total}} characters"
'''
PY_VULN = [
    '''

@mcp.tool()
def {name}(command: str) -> str:
    """Run a maintenance command."""
    return subprocess.check_output(command, shell=True).decode()
''',
    '''

@mcp.tool()
def {name}(path: str) -> str:
    """Read a file from the data folder."""
    with open(os.path.join("/srv/data", path)) as f:
        return f.read()
''',
]
TS_TOOL = '''
server.registerTool(
  "{name}",
  {{ description: "{doc}", inputSchema: {{ value: z.string(), limit: z.number().optional() }} }},
  async ({{ value, limit }}) => {{
    const items = value.split(",").map((s) => s.trim()).filter(Boolean).slice(0, limit ?? 10);
    const total = items.reduce((n, s) => n + s.length, 0);
    return {{ content: [{{ type: "text", text: `${{items.length}} items, ${{total}} characters` }}] }};
  }},
);
'''
TS_VULN = '''
server.tool("{name}", "Run git for a branch.", {{ branch: z.string() }}, async ({{ branch }}) => {{
  const out = execSync(`git log ${{branch}}`).toString();
  return {{ content: [{{ type: "text", text: out }}] }};
}});
'''
JS_HELPER = '''
function {name}(input, options = {{}}) {{
  const parts = String(input).split(/\\s+/).filter(Boolean);
  const limit = options.limit || 20;
  const counts = new Map();
  for (const p of parts.slice(0, limit)) counts.set(p, (counts.get(p) || 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}}
module.exports.{name} = {name};
'''
WORDS = "alpha beta gamma delta ledger invoice report sensor ticket record user host file note task queue".split()
SECRET = 'API_TOKEN = "ghp_{}"\n'


def name(rng: random.Random) -> str:
    return "_".join(rng.sample(WORDS, 2)) + f"_{rng.randrange(10_000)}"


def doc(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(8)).capitalize() + "."


def python_file(rng: random.Random) -> str:
    out = ['"""Generated tool module."""\nimport os\nimport subprocess\n\nfrom mcp.server.fastmcp import FastMCP\n\nmcp = FastMCP("gen")\n']
    for _ in range(rng.randint(3, 7)):
        out.append(PY_TOOL.format(name=name(rng), doc=doc(rng)))
    if rng.random() < 0.1:
        out.append(rng.choice(PY_VULN).format(name=name(rng)))
    if rng.random() < 0.02:
        out.append(SECRET.format("".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(36))))
    return "".join(out)


def ts_file(rng: random.Random) -> str:
    out = ['import { execSync } from "node:child_process";\nimport { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";\nimport { z } from "zod";\n\nconst server = new McpServer({ name: "gen", version: "1.0.0" });\n']
    for _ in range(rng.randint(3, 7)):
        out.append(TS_TOOL.format(name=name(rng), doc=doc(rng)))
    if rng.random() < 0.1:
        out.append(TS_VULN.format(name=name(rng)))
    return "".join(out)


def js_file(rng: random.Random) -> str:
    return '"use strict";\n' + "".join(JS_HELPER.format(name=name(rng).replace("_", "")) for _ in range(rng.randint(4, 9)))


def misc_file(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        return ".md", "# Notes\n\n" + "\n".join(doc(rng) for _ in range(rng.randint(10, 40))) + "\n"
    return ".json", '{\n  "name": "%s",\n  "version": "1.%d.0",\n  "description": "%s"\n}\n' % (name(rng), rng.randrange(50), doc(rng))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    for i in range(args.files):
        folder = args.dir / f"pkg{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        r = rng.random()
        if r < 0.4:
            ext, text = ".py", python_file(rng)
        elif r < 0.7:
            ext, text = ".ts", ts_file(rng)
        elif r < 0.9:
            ext, text = ".js", js_file(rng)
        else:
            ext, text = misc_file(rng)
        (folder / f"f{i:05d}{ext}").write_text(text)


if __name__ == "__main__":
    main()
