#!/usr/bin/env python3
"""The scanner section of BENCHMARKS.md from bench/scan's raw results."""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_quality import markdown as quality_markdown  # noqa: E402

PEERS = ["semgrep", "bandit", "detect-secrets"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--command", default="bench/scan")
    args = ap.parse_args()
    speed = json.loads((args.work / "speed.json").read_text())
    detection = json.loads((args.work / "detection.json").read_text())
    quality = json.loads((args.work / "quality.json").read_text())
    w = []
    w.append("## Scanner (`bulwark scan`)")
    w.append("")
    w.append(f"Command: `{args.command}` (peers from PyPI: `bench/scan-requirements.txt`; semgrep with the local "
             "rules in `bench/semgrep-rules.yml` only, no registry). Machine: "
             f"{speed['cpus']} CPUs, {platform.machine()}, shared; load average at start "
             f"{speed['loadavg_start'][0]:.2f}, at end {speed['loadavg_end'][0]:.2f}. "
             "Wall times, median of the runs shown; each tool's own findings are listed to read speed next to output.")
    w.append("")
    w.append("### Speed, side by side on the same trees")
    w.append("")
    w.append("| tree | files | MB | tool | runs | median s | findings | bulwark is faster by |")
    w.append("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    med = speed["median_seconds"]
    for tree, facts in speed["trees"].items():
        b = med[tree]["bulwark"]
        for tool in ["bulwark", *PEERS]:
            runs = [r for r in speed["runs"] if r["tree"] == tree and r["tool"] == tool]
            if not runs:
                continue
            found = runs[-1]["findings"]
            r = med[tree][tool] / b
            ratio = "-" if tool == "bulwark" else (f"{r:.0f}×" if r >= 10 else f"{r:.1f}×")
            w.append(f"| {tree} | {facts['files']:,} | {facts['bytes'] / 1e6:.1f} | {tool} | {len(runs)} "
                     f"| {med[tree][tool]:.2f} | {found if found is not None else 'error'} | {ratio} |")
    w.append("")
    one_k = med["generated-1k"]["bulwark"]
    w.append(f"- Target: 1,000 files in under 0.5 s on 2 cores: {one_k:.2f} s ({'met' if one_k < 0.5 else 'not met'}).")
    for peer in ("semgrep", "bandit"):
        # bandit reads Python only: a tree without Python files says nothing of its speed.
        trees = [t for t in med if peer in med[t]
                 and (peer != "bandit" or speed["trees"][t]["by_ext"].get(".py", 0))]
        worst = min(med[t][peer] / med[t]["bulwark"] for t in trees)
        w.append(f"- Target: at least 20× faster than {peer}: smallest ratio over the trees {worst:.1f}× "
                 f"({'met' if worst >= 20 else 'not met'}).")
    w.append("- bandit reads Python only and detect-secrets looks for secrets only; semgrep runs 8 local rules. "
             "bulwark runs all its detectors (secrets, taint-tracked code rules, tool descriptions, supply chain, configs).")
    w.append("- Dependency code: inside `node_modules`/`site-packages` (the whole npm-servers tree is a `node_modules`) "
             "bulwark analyses code only in files that register MCP tools, i.e. the installed servers, not the "
             "libraries they pull in; secrets and supply-chain checks still read every file. "
             "`--analyze-dependencies` analyses all of it (see docs/scan.md).")
    w.append("- The machine is shared: wall times move with the load average above; compare tools within one run.")
    w.append("")
    w.append("### Tool-description detection (shared/corpora/tool-search/detect_corpus_v1.json)")
    w.append("")
    names = ["bulwark", "cisco-ai-mcp-scanner (yara)"]
    cats = sorted(detection["bulwark"]["recall_by_category"])
    w.append("| category | " + " | ".join(names) + " |")
    w.append("| --- | " + " | ".join("---:" for _ in names) + " |")
    for c in cats:
        cells = []
        for n in names:
            hit, total = detection[n]["recall_by_category"].get(c, [0, 0])
            cells.append(f"{hit}/{total}")
        w.append(f"| recall: {c} | " + " | ".join(cells) + " |")
    w.append("| recall overall | " + " | ".join(f"{detection[n]['recall']:.2f}" for n in names) + " |")
    for c in sorted(detection["bulwark"]["flagged_benign_by_category"]):
        cells = []
        for n in names:
            hit, total = detection[n]["flagged_benign_by_category"].get(c, [0, 0])
            cells.append(f"{hit}/{total} flagged")
        w.append(f"| false positives: {c} | " + " | ".join(cells) + " |")
    w.append("| wall time | " + " | ".join(
        f"{detection[n]['seconds']:.1f} s ({detection[n]['invocations']} runs)" for n in names) + " |")
    w.append("")
    w.append("Targets: recall ≥ 0.90 overall, false positives ≤ 5% of hard negatives.")
    w.append("")
    w.append("### Labelled fixture servers (tests/fixtures/scan-labelled)")
    w.append("")
    w.append("Small MCP servers written for this, vulnerable and clean, in Python and TypeScript; every expected "
             "finding labelled by file, line and rule; anything else reported counts as a false positive.")
    w.append("")
    w.append(quality_markdown(quality))
    w.append("")
    print("\n".join(w))


if __name__ == "__main__":
    main()
