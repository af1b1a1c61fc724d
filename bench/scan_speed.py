#!/usr/bin/env python3
"""Timed runs for bench/scan: every scanner on every tree, wall time per run
(medians reported), plus what each found, so speed is read next to output.
Standard library only; writes one JSON file."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tree_facts(path: Path) -> dict:
    files = [p for p in path.rglob("*") if p.is_file()]
    by_ext: dict[str, int] = {}
    for p in files:
        by_ext[p.suffix] = by_ext.get(p.suffix, 0) + 1
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files), "by_ext": by_ext}


def commands(tool: str, tree: Path, bulwark: str, venv: Path) -> list[str]:
    bin_ = venv / "bin"
    return {
        "bulwark": [bulwark, "scan", str(tree), "--format", "json", "--no-progress", "--no-gitignore"],
        "semgrep": [
            str(bin_ / "semgrep"), "scan", "--config", str(ROOT / "bench" / "semgrep-rules.yml"),
            "--metrics=off", "--disable-version-check", "--no-git-ignore", "--json", "-q", "-j", "2", str(tree),
        ],
        "bandit": [str(bin_ / "bandit"), "-r", "-q", "-f", "json", str(tree)],
        # Run from inside the tree (see main): detect-secrets reports nothing
        # for paths outside its working directory.
        "detect-secrets": [str(bin_ / "detect-secrets"), "scan", "--all-files", "."],
    }[tool]


def count_findings(tool: str, stdout: str) -> int | None:
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError:
        return None
    if tool == "bulwark":
        return len(data["findings"])
    if tool in ("semgrep", "bandit"):
        return len(data["results"])
    if tool == "detect-secrets":
        return sum(len(v) for v in data["results"].values())
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--bulwark", required=True)
    ap.add_argument("--venv", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--slow-runs", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    # Resolved: a tree may be a symbolic link to a shared copy, and
    # detect-secrets and semgrep do not follow a linked root.
    trees = {
        "npm-servers": (args.work / "npm" / "node_modules").resolve(),
        "generated-1k": (args.work / "gen1k").resolve(),
        "generated-10k": (args.work / "gen10k").resolve(),
    }
    env = dict(os.environ, SEMGREP_SEND_METRICS="off", PYTHONWARNINGS="ignore")
    results = {"trees": {}, "runs": [], "cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}
    for name, tree in trees.items():
        results["trees"][name] = tree_facts(tree)
        # Round-robin over the tools within each repetition, so drifts in the
        # machine's load hit every tool alike.
        tools = ["bulwark", "semgrep", "bandit", "detect-secrets"]
        reps = max(args.runs, args.slow_runs)
        for rep in range(reps):
            for tool in tools:
                # The peers take minutes where bulwark takes seconds: they run
                # --slow-runs times, bulwark --runs times.
                if rep >= (args.runs if tool == "bulwark" else args.slow_runs):
                    continue
                cmd = commands(tool, tree, args.bulwark, args.venv)
                started = time.perf_counter()
                done = subprocess.run(
                    cmd, capture_output=True, text=True, env=env, timeout=3600, cwd=tree
                )
                wall = time.perf_counter() - started
                ok = done.returncode in (0, 1)
                print(f"{name:14} {tool:15} run {rep + 1}: {wall:8.2f} s (exit {done.returncode})", flush=True)
                results["runs"].append(
                    {
                        "tree": name,
                        "tool": tool,
                        "rep": rep + 1,
                        "seconds": wall,
                        "exit": done.returncode,
                        "ok": ok,
                        "findings": count_findings(tool, done.stdout) if ok else None,
                        "stderr_tail": done.stderr[-400:] if not ok else "",
                    }
                )
    results["loadavg_end"] = os.getloadavg()
    summary = {}
    for r in results["runs"]:
        summary.setdefault(r["tree"], {}).setdefault(r["tool"], []).append(r["seconds"])
    results["median_seconds"] = {t: {k: statistics.median(v) for k, v in d.items()} for t, d in summary.items()}
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
