#!/usr/bin/env python3
"""Sets two builds of the scanner side by side on the same trees: first the
findings (they must be identical, finding by finding, notes and file counts
included), then CPU time (user + sys of the child) and wall time over
alternating runs, medians reported with the load average before and after.

Each binary is run as `BIN TREE [EXTRA...]` and must print the JSON report
on stdout, as the scan_tree example does:

    cargo build --release -p bulwark-scanner --example scan_tree
    python3 bench/scan_compare.py --base /tmp/scan_tree.main \\
        --new $CARGO_TARGET_DIR/release/examples/scan_tree \\
        --tree target/bench-scan/gen1k --tree target/bench-scan/npm/node_modules \\
        --runs 7

Exit status 1 when the findings differ (the timing is skipped then).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def findings(binary: Path, tree: Path, extra: list[str]) -> list[str]:
    out = subprocess.run(
        [str(binary), str(tree), *extra], capture_output=True, check=True
    ).stdout
    report = json.loads(out)
    rows = [json.dumps(f, sort_keys=True) for f in report["findings"]]
    rows += ["note " + json.dumps(n, sort_keys=True) for n in report["notes"]]
    rows.sort()
    summary = report["summary"]
    rows.append(f"files {summary['files']} bytes {summary['bytes']}")
    return rows


def timed(binary: Path, tree: Path, extra: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of one run."""
    started = time.monotonic()
    with open(os.devnull, "wb") as devnull:
        child = subprocess.Popen(
            [str(binary), str(tree), *extra], stdout=devnull, stderr=devnull
        )
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    if status != 0:
        sys.exit(f"{binary} {tree}: exit status {status}")
    return wall, usage.ru_utime + usage.ru_stime


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base", type=Path, required=True, help="the build to compare against")
    ap.add_argument("--new", type=Path, required=True, help="the build under test")
    ap.add_argument("--tree", type=Path, action="append", required=True)
    ap.add_argument("--runs", type=int, default=5, help="runs of each build per tree")
    ap.add_argument("--no-timing", action="store_true", help="compare findings only")
    ap.add_argument("extra", nargs="*", help="arguments after the tree (after --)")
    args = ap.parse_args()

    same = True
    for tree in args.tree:
        base = findings(args.base, tree, args.extra)
        new = findings(args.new, tree, args.extra)
        if base == new:
            print(f"{tree}: identical ({len(base) - 1} findings and notes)")
            continue
        same = False
        gone = sorted(set(base) - set(new))
        added = sorted(set(new) - set(base))
        print(f"{tree}: DIFFERENT, {len(gone)} only in base, {len(added)} only in new")
        for row in gone[:10]:
            print("  - " + row[:300])
        for row in added[:10]:
            print("  + " + row[:300])
    if not same:
        sys.exit(1)
    if args.no_timing:
        return

    for tree in args.tree:
        print(f"{tree}: load average before {load()}")
        runs: dict[str, list[tuple[float, float]]] = {"base": [], "new": []}
        for _ in range(args.runs):
            for name in ("base", "new"):
                binary = args.base if name == "base" else args.new
                runs[name].append(timed(binary, tree, args.extra))
        print(f"{tree}: load average after {load()}")
        cpu = {}
        for name, samples in runs.items():
            cpu[name] = statistics.median(c for _, c in samples)
            wall = statistics.median(w for w, _ in samples)
            all_cpu = ", ".join(f"{c:.2f}" for _, c in sorted(samples, key=lambda s: s[1]))
            print(
                f"  {name}: CPU median {cpu[name]:.3f} s, wall median {wall:.3f} s "
                f"({args.runs} runs; CPU {all_cpu})"
            )
        if cpu["new"] > 0:
            print(f"  CPU base / new: {cpu['base'] / cpu['new']:.2f}x")


if __name__ == "__main__":
    main()
