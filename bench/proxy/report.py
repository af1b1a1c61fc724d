#!/usr/bin/env python3
"""The Markdown section of bench/proxy/run from bench.py's JSON (stdlib only)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform

TARGET_ADDED_P50_MS = 0.5

WHAT = {
    "direct": "direct: client → server-everything (Streamable HTTP)",
    "bulwark": "bulwark gateway → the same upstream over Streamable HTTP",
    "bulwark-stdio": "bulwark gateway → server-everything over stdio",
    "mcp-proxy": "mcp-proxy → server-everything over stdio",
    "supergateway": "supergateway (`--stateful`) → server-everything over stdio",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--command", required=True)
    ap.add_argument("--nice", default="0")
    ap.add_argument("--versions", default="")
    ap.add_argument("--build", default="release")
    a = ap.parse_args()
    with open(a.results) as f:
        r = json.load(f)
    t = r["targets"]
    direct = t["direct"]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    lines = [
        "## Proxy overhead (gateway: crates/bulwark-gateway)",
        "",
        f"Command: `{a.command}` (bulwark {a.build} build; nice {a.nice}). Machine: {os.cpu_count()} CPUs, "
        f"{platform.machine()}, shared; run {now}. Peers: {a.versions}.",
        "",
        f"One `echo` call of server-everything, {r['calls']} calls per target on one session of the "
        f"official Python SDK client after {r['warmup']} warm-up calls, targets interleaved over "
        f"{r['rounds']} rounds; each figure is the median over rounds of that round's percentile, "
        "and *added* is that minus the direct call's. Through bulwark the call is `call_tool` with "
        "`up:echo`, so it also passes bulwark's call pipeline (profile check, rate limit, audit "
        "record, timeout) and the gateway's pin check; the default configuration (audit log on) but "
        "for `rate_limit.mcp_requests_per_minute = 0`, since one client makes thousands of calls a minute.",
        "",
        "| path | p50 ms | p90 ms | p99 ms | added p50 ms | added p99 ms | p50 ratio to direct |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, v in t.items():
        added50 = v["p50"] - direct["p50"]
        added99 = v["p99"] - direct["p99"]
        same = name == "direct"
        lines.append(
            f"| {WHAT.get(name, name)} | {v['p50']:.3f} | {v['p90']:.3f} | {v['p99']:.3f} | "
            f"{'-' if same else f'{added50:+.3f}'} | {'-' if same else f'{added99:+.3f}'} | "
            f"{v['p50'] / direct['p50']:.2f} |"
        )
    added = t["bulwark"]["p50"] - direct["p50"]
    verdict = "met" if added < TARGET_ADDED_P50_MS else "not met"
    lines += [
        "",
        f"Target: bulwark's added p50 over an HTTP upstream under {TARGET_ADDED_P50_MS} ms: "
        f"**{verdict}** ({added:+.3f} ms).",
        "",
        "The stdio rows are not the same call as the direct one: behind a stdio proxy the upstream "
        "answers over a pipe and skips its own HTTP layer, so their *added* figures are the proxy's "
        "HTTP serving plus the pipe minus server-everything's HTTP serving. They compare the three "
        "proxies with each other on equal terms.",
        "",
        "The client-facing leg differs too: bulwark answers a call with one JSON body, while "
        "server-everything (and so the direct row) answers with an SSE stream, which the Python "
        "client takes longer to read. That is why bulwark's added p50 can come out negative: "
        "its own cost (pipeline, audit record, pin check, the upstream leg) is smaller than the "
        "difference in framing, and below what this noisy shared machine resolves between runs.",
        "",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
