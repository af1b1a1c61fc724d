#!/usr/bin/env python3
"""Proxy overhead: the same MCP tool call made directly to an upstream and
through proxies in front of it, many calls on one session per target with the
official Python SDK client, so the client's own cost is the same everywhere.

Targets are measured in rounds (every target once per round, in turn), so that
a noisy moment of the shared machine hits them all alike; each figure is the
median over rounds of that round's percentile. "added" is a target's median
minus the direct call's.

  bench.py --target NAME=URL=TOOL=ARGS_JSON ... [--calls N] [--rounds N] [--warmup N]

Prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import anyio
from mcp import Client


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


async def measure(url: str, tool: str, args: dict, calls: int, warmup: int) -> list[float]:
    """Milliseconds of each call, on one session."""
    async with Client(url, read_timeout_seconds=60) as client:
        for _ in range(warmup):
            r = await client.call_tool(tool, args)
            if r.is_error:
                raise SystemExit(f"{url} {tool}: the call failed: {r.content}")
        out = []
        for _ in range(calls):
            t0 = time.perf_counter()
            r = await client.call_tool(tool, args)
            out.append((time.perf_counter() - t0) * 1000.0)
            if r.is_error:
                raise SystemExit(f"{url} {tool}: the call failed: {r.content}")
        return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", action="append", required=True, help="NAME=URL=TOOL=ARGS_JSON")
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=50)
    a = ap.parse_args()
    targets = []
    for spec in a.target:
        name, url, tool, args = spec.split("=", 3)
        targets.append((name, url, tool, json.loads(args)))
    per_round: dict[str, list[dict]] = {t[0]: [] for t in targets}
    for rnd in range(a.rounds):
        for name, url, tool, args in targets:
            ms = sorted(await measure(url, tool, args, a.calls, a.warmup))
            per_round[name].append(
                {"p50": percentile(ms, 0.5), "p90": percentile(ms, 0.9), "p99": percentile(ms, 0.99),
                 "mean": statistics.fmean(ms)}
            )
            print(f"round {rnd + 1}/{a.rounds} {name}: p50 {per_round[name][-1]['p50']:.3f} ms, "
                  f"p99 {per_round[name][-1]['p99']:.3f} ms", flush=True, file=__import__("sys").stderr)
    result = {"calls": a.calls, "rounds": a.rounds, "warmup": a.warmup, "targets": {}}
    for name, rounds in per_round.items():
        result["targets"][name] = {
            k: statistics.median(r[k] for r in rounds) for k in ("p50", "p90", "p99", "mean")
        } | {"rounds": rounds}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    anyio.run(main)
