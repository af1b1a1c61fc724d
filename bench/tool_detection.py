#!/usr/bin/env python3
"""Tool-description detection on the tool-poisoning corpus
(shared/corpora/tool-search/detect_corpus_v1.json): recall per malicious
category and false positives on the benign and hard-negative entries, for
bulwark (`inspect_tool_descriptions`, one CLI call per entry so each keeps
its own peers) and for cisco-ai-mcp-scanner's offline YARA analyzer (one
`static` run over all entries: its start-up alone takes seconds). Wall times
of both are recorded. Standard library only."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

CANDIDATES = [
    os.environ.get("BULWARK_DETECT_CORPUS", ""),
    str(Path(__file__).resolve().parents[2] / "shared/corpora/tool-search/detect_corpus_v1.json"),
    "/work/shared/corpora/tool-search/detect_corpus_v1.json",
]


def corpus() -> list[dict]:
    for c in CANDIDATES:
        if c and Path(c).exists():
            return json.loads(Path(c).read_text())["entries"]
    raise SystemExit("detect_corpus_v1.json not found; set BULWARK_DETECT_CORPUS")


def bulwark_flags(binary: str, entries: list[dict], data_dir: str) -> tuple[dict[str, bool], float]:
    flagged = {}
    started = time.perf_counter()
    for e in entries:
        args = {
            "tools": [e["tool"]],
            "server": e["server"],
            "peers": [dict(p["tool"], server=p["server"]) for p in e.get("peers", [])],
        }
        done = subprocess.run(
            [binary, "--data-dir", data_dir, "tools", "call", "inspect_tool_descriptions", "--args", json.dumps(args)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise SystemExit(f"bulwark failed on {e['id']}: {done.stderr}")
        result = json.loads(done.stdout)
        structured = result.get("structuredContent", result)
        flagged[e["id"]] = bool(structured.get("findings"))
    return flagged, time.perf_counter() - started


def cisco_flags(venv: Path, entries: list[dict]) -> tuple[dict[str, bool], float]:
    tools = [dict(e["tool"]) for e in entries]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"tools": tools}, f)
        path = f.name
    started = time.perf_counter()
    done = subprocess.run(
        [str(venv / "bin" / "mcp-scanner"), "--analyzers", "yara", "--format", "raw", "static", "--tools", path],
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - started
    out = done.stdout[done.stdout.index("{") :]
    results = json.loads(out)["scan_results"]
    by_key = {(r["tool_name"], r.get("tool_description")): not r["is_safe"] for r in results}
    flagged = {e["id"]: by_key.get((e["tool"]["name"], e["tool"].get("description")), False) for e in entries}
    return flagged, wall


def score(entries: list[dict], flagged: dict[str, bool]) -> dict:
    per_category: dict[str, list[int]] = {}
    fp: dict[str, list[int]] = {}
    for e in entries:
        bucket = per_category if e["label"] == "malicious" else fp
        hit_total = bucket.setdefault(e["category"], [0, 0])
        hit_total[0] += int(flagged[e["id"]])
        hit_total[1] += 1
    malicious = [e for e in entries if e["label"] == "malicious"]
    return {
        "recall_by_category": per_category,
        "flagged_benign_by_category": fp,
        "recall": sum(flagged[e["id"]] for e in malicious) / len(malicious),
        "missed": [e["id"] for e in malicious if not flagged[e["id"]]],
        "false_positives": [e["id"] for e in entries if e["label"] != "malicious" and flagged[e["id"]]],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bulwark", required=True)
    ap.add_argument("--venv", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    entries = corpus()
    with tempfile.TemporaryDirectory() as data_dir:
        b_flags, b_wall = bulwark_flags(args.bulwark, entries, data_dir)
    c_flags, c_wall = cisco_flags(args.venv, entries)
    result = {
        "entries": len(entries),
        "bulwark": dict(score(entries, b_flags), seconds=b_wall, invocations=len(entries)),
        "cisco-ai-mcp-scanner (yara)": dict(score(entries, c_flags), seconds=c_wall, invocations=1),
    }
    args.out.write_text(json.dumps(result, indent=1))
    for name in ("bulwark", "cisco-ai-mcp-scanner (yara)"):
        r = result[name]
        print(f"{name}: recall {r['recall']:.2f}, false positives {len(r['false_positives'])}, {r['seconds']:.1f} s")


if __name__ == "__main__":
    main()
