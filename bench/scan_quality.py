#!/usr/bin/env python3
"""Precision and recall of `bulwark scan` on the labelled fixture servers.

Scans each directory under tests/fixtures/scan-labelled/ with the bulwark
binary, matches findings to the labels (see that folder's README) by file,
line and rule, and prints a table (or JSON with --json, or a Markdown
section with --markdown). Standard library only.

    python3 bench/scan_quality.py [--bin target/release/bulwark] [--json | --markdown]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "scan-labelled"
INLINE = re.compile(r"expect:\s*([A-Z0-9-]+(?:\s*,\s*[A-Z0-9-]+)*)")


def labels(directory: Path) -> set[tuple[str, int, str]]:
    """(relative path, line, rule) for every labelled finding in one fixture."""
    out: set[tuple[str, int, str]] = set()
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.name in ("EXPECTED",):
            continue
        rel = path.relative_to(directory).as_posix()
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = INLINE.search(line)
            if m:
                for rule in m.group(1).split(","):
                    out.add((rel, n, rule.strip()))
    expected = directory / "EXPECTED"
    if expected.exists():
        for raw in expected.read_text().splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            rel, anchor, rule = (part.strip() for part in raw.split(" | "))
            lines = (directory / rel).read_text().splitlines()
            hits = [n for n, line in enumerate(lines, 1) if anchor in line]
            if not hits:
                raise SystemExit(f"{directory.name}/EXPECTED: anchor {anchor!r} not found in {rel}")
            out.add((rel, hits[0], rule))
    return out


def findings(binary: str, directory: Path) -> set[tuple[str, int, str]]:
    done = subprocess.run(
        [binary, "scan", str(directory), "--format", "json", "--no-progress", "--no-gitignore"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"bulwark scan {directory} failed ({done.returncode}): {done.stderr}")
    report = json.loads(done.stdout)
    out = set()
    for f in report["findings"]:
        loc = f["location"]
        if loc.get("kind") == "file":
            out.add((loc["path"], loc["line"], f["rule_id"]))
    return out


def evaluate(binary: str) -> dict:
    rows = []
    for directory in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        want = labels(directory)
        got = findings(binary, directory)
        rows.append(
            {
                "fixture": directory.name,
                "language": "python" if directory.name.startswith("py_") else "typescript",
                "expected": len(want),
                "true_positives": sorted(want & got),
                "false_positives": sorted(got - want),
                "missed": sorted(want - got),
            }
        )

    def score(selected):
        tp = sum(len(r["true_positives"]) for r in selected)
        fp = sum(len(r["false_positives"]) for r in selected)
        fn = sum(len(r["missed"]) for r in selected)
        return {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
        }

    return {
        "fixtures": rows,
        "python": score([r for r in rows if r["language"] == "python"]),
        "typescript": score([r for r in rows if r["language"] == "typescript"]),
        "overall": score(rows),
    }


def markdown(result: dict) -> str:
    out = [
        "| fixture | expected | found | false positives | missed |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for r in result["fixtures"]:
        missed = ", ".join(f"{p}:{n} {rule}" for p, n, rule in r["missed"]) or "-"
        out.append(
            f"| `{r['fixture']}` | {r['expected']} | {len(r['true_positives'])} | {len(r['false_positives'])} | {missed} |"
        )
    out.append("")
    for key in ("python", "typescript", "overall"):
        s = result[key]
        out.append(f"- {key}: precision {s['precision']:.3f}, recall {s['recall']:.3f} ({s['tp']} found, {s['fp']} false, {s['fn']} missed)")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "bulwark"))
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true")
    group.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    result = evaluate(args.bin)
    if args.json:
        print(json.dumps(result, indent=1))
    elif args.markdown:
        print(markdown(result))
    else:
        print(markdown(result))
        for r in result["fixtures"]:
            for p, n, rule in r["false_positives"]:
                print(f"false positive: {r['fixture']}/{p}:{n} {rule}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
