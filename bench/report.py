#!/usr/bin/env python3
"""Turn the raw results of bench/run into BENCHMARKS.md (stdlib only).

  report.py --summary OHA_JSON
      One line about one oha run (used for progress output).
  report.py --results DIR --output FILE [--command CMD]
      Read DIR (meta.json, oha/*.json, tools-list.json, rss-*.json) and write
      the Markdown report to FILE.

Every figure in the report is a median over the repetitions; ratios are
ratios of those medians.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
from pathlib import Path

# Targets from the issue.
TARGET_RATIO_VS_FASTMCP = 10.0
TARGET_P99_MS_AT = (64, 5.0)
TARGET_TOOLS_LIST_MS = 30.0
TARGET_IDLE_RSS_MIB = 20.0

LABELS = {
    "bulwark": "bulwark",
    "bulwark-secure": "bulwark + auth, audit, limits",
    "bulwark-oauth": "bulwark + OAuth token, audit, limits",
    "fastmcp": "FastMCP",
    "ts-sdk": "TypeScript SDK",
}


# ------------------------------------------------------------------ oha runs

def read_oha(path):
    """The numbers we use from one oha JSON result."""
    with open(path) as f:
        data = json.load(f)
    summary = data.get("summary", {})
    pct = data.get("latencyPercentiles", {})
    codes = {str(k): int(v) for k, v in (data.get("statusCodeDistribution") or {}).items()}
    errors = {str(k): int(v) for k, v in (data.get("errorDistribution") or {}).items()}
    ok = codes.get("200", 0)
    non200 = sum(v for k, v in codes.items() if k != "200")

    def ms(value):
        return None if value is None else float(value) * 1000.0

    return {
        "rps": float(summary.get("requestsPerSec") or 0.0),
        "p50_ms": ms(pct.get("p50")),
        "p99_ms": ms(pct.get("p99")),
        "ok": ok,
        "non200": non200,
        "errors": sum(errors.values()),
        "codes": codes,
        "error_kinds": errors,
        "seconds": float(summary.get("total") or 0.0),
    }


def summary_line(path):
    r = read_oha(path)
    name = Path(path).stem
    flag = ""
    if r["non200"] or r["errors"]:
        flag = f"  FAILURES: non-200 {r['codes']} errors {r['error_kinds']}"
    return (
        f"{name}: {r['rps']:.0f} req/s, p50 {fmt_ms(r['p50_ms'])} ms, "
        f"p99 {fmt_ms(r['p99_ms'])} ms, {r['ok']} x 200{flag}"
    )


# ------------------------------------------------------------------ helpers

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_ms(v):
    if v is None:
        return "n/a"
    if v < 1:
        return f"{v:.3f}"
    if v < 10:
        return f"{v:.2f}"
    return f"{v:.1f}"


def fmt_rps(v):
    return "n/a" if v is None else f"{v:,.0f}"


def fmt_ratio(v):
    if v is None:
        return "n/a"
    return f"{v:.2f}×" if v < 1 else f"{v:.1f}×"


def met(flag):
    return "**met**" if flag else "**not met**"


def machine_facts():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory": mem,
        "kernel": f"{platform.system()} {platform.release()}",
    }


# ------------------------------------------------------------------ report

def collect(results, subdir="oha"):
    """{server: {concurrency: [run, ...]}} from <subdir>/<server>-c<N>-r<R>.json."""
    runs = {}
    pattern = re.compile(r"^(?P<server>.+)-c(?P<c>\d+)-r(?P<rep>\d+)\.json$")
    for path in sorted((results / subdir).glob("*.json")):
        m = pattern.match(path.name)
        if not m:
            continue
        r = read_oha(path)
        r["rep"] = int(m["rep"])
        runs.setdefault(m["server"], {}).setdefault(int(m["c"]), []).append(r)
    for per_c in runs.values():
        for lst in per_c.values():
            lst.sort(key=lambda r: r["rep"])
    return runs


def paired(pair_dir, variant, c):
    """Per-pair (base, variant) runs at concurrency c from oha-pairs/<variant>/."""
    pairs = []
    rep = 1
    while True:
        a = pair_dir / f"bulwark-c{c}-r{rep}.json"
        b = pair_dir / f"{variant}-c{c}-r{rep}.json"
        if not (a.exists() and b.exists()):
            break
        pairs.append((with_cpu(read_oha(a), a), with_cpu(read_oha(b), b)))
        rep += 1
    return pairs


def with_cpu(run, oha_json):
    """Adds the server's CPU microseconds per answered call, from the `.cpu`
    file bench/run writes next to a paired run (ticks used, ticks per second)."""
    cpu = oha_json.with_suffix(".cpu")
    run["cpu_us"] = None
    if cpu.exists() and run["ok"]:
        ticks, per_second = (int(x) for x in cpu.read_text().split())
        run["cpu_us"] = ticks * 1e6 / per_second / run["ok"]
    return run


def paired_overhead(pairs):
    """Median throughput overhead and p99 change over the pairs, with the spread."""
    tput = sorted((1 - b["rps"] / a["rps"]) * 100 for a, b in pairs if a["rps"])
    p99 = [(b["p99_ms"] / a["p99_ms"] - 1) * 100 for a, b in pairs if a["p99_ms"]]
    cpu = [(b["cpu_us"] / a["cpu_us"] - 1) * 100 for a, b in pairs if a["cpu_us"] and b["cpu_us"]]
    return {
        "cpu": median(cpu) if cpu else None,
        "base_cpu_us": median([a["cpu_us"] for a, b in pairs if a["cpu_us"] and b["cpu_us"]]) if cpu else None,
        "variant_cpu_us": median([b["cpu_us"] for a, b in pairs if a["cpu_us"] and b["cpu_us"]]) if cpu else None,
        "overhead": median(tput),
        "low": tput[0],
        "high": tput[-1],
        "p99": median(p99),
        "base_rps": median([a["rps"] for a, _ in pairs]),
        "variant_rps": median([b["rps"] for _, b in pairs]),
        "base_p99": median([a["p99_ms"] for a, _ in pairs]),
        "variant_p99": median([b["p99_ms"] for _, b in pairs]),
        "failed": sum(r["non200"] + r["errors"] for pair in pairs for r in pair),
        "n": len(pairs),
    }


def aggregate(lst):
    return {
        "rps": median([r["rps"] for r in lst]),
        "rps_min": min(r["rps"] for r in lst),
        "rps_max": max(r["rps"] for r in lst),
        "p50_ms": median([r["p50_ms"] for r in lst]),
        "p99_ms": median([r["p99_ms"] for r in lst]),
        "ok": sum(r["ok"] for r in lst),
        "failed": sum(r["non200"] + r["errors"] for r in lst),
        "failed_runs": sum(1 for r in lst if r["non200"] or r["errors"]),
        "n": len(lst),
    }


def tools_list_times(results):
    path = results / "tools-list.json"
    if not path.exists():
        return None, None
    with open(path) as f:
        data = json.load(f)
    if "results" in data:  # hyperfine --export-json
        times = data["results"][0]["times"]
        method = "hyperfine"
    else:
        times = data["times"]
        method = data.get("method", "python-loop")
    return [t * 1000.0 for t in times], method


def answer_format(results, server):
    """Content type of the server's checked echo answers, as bench/run recorded them."""
    path = results / f"answers-{server}.txt"
    if not path.exists():
        return "n/a"
    kinds = []
    for line in path.read_text().splitlines():
        m = re.match(r"ok: HTTP (\d+), ([^,]+),", line)
        if m and m[2] not in kinds:
            kinds.append(m[2])
    return ", ".join(f"`{k}`" for k in kinds) or "n/a"


def rss_rows(results, name):
    path = results / name
    if not path.exists():
        return []
    with open(path) as f:
        return json.load(f)


def build(results, command):
    meta = json.loads((results / "meta.json").read_text())
    end_path = results / "meta-end.json"
    meta_end = json.loads(end_path.read_text()) if end_path.exists() else {}
    facts = machine_facts()
    runs = collect(results)
    servers = [s for s in meta.get("servers", []) if s in runs] or sorted(runs)
    levels = sorted({c for per_c in runs.values() for c in per_c})
    agg = {s: {c: aggregate(runs[s][c]) for c in runs[s]} for s in runs}

    def ratio(c, peer, key="rps", invert=False):
        a = agg.get("bulwark", {}).get(c, {}).get(key)
        b = agg.get(peer, {}).get(c, {}).get(key)
        if not a or not b:
            return None
        return b / a if invert else a / b

    out = []
    w = out.append
    date = meta.get("started_utc", datetime.datetime.now(datetime.timezone.utc).isoformat())
    w("# Benchmarks")
    w("")
    w(f"Generated by `{command}` (this file is its output; rerun it to refresh). "
      f"Run started {date}, finished {meta_end.get('finished_utc', 'n/a')}.")
    w("")
    w("What is measured: `tools/call` of one trivial echo tool (`test_tool`, "
      "`{\"message\": \"hello\"}` → text `hello`) over Streamable HTTP, stateless "
      "(one POST per call, no `initialize`, no session), by one load "
      "generator against three servers in one run; then the wall time of "
      "`bulwark tools list` and the idle RSS of `bulwark serve --http`.")
    w("")
    w("Answer format of each server's `tools/call` (checked before and after every load run): "
      + "; ".join(f"{LABELS.get(s, s)} {answer_format(results, s)}" for s in servers) + ".")
    w("")

    # ---------------------------------------------------------- machine
    w("## Machine and versions")
    w("")
    w("| | |")
    w("| --- | --- |")
    w(f"| CPU | {facts['cpu_model']} |")
    w(f"| CPUs usable (`nproc`) | {facts['nproc']} (of {facts['cpu_count']}) |")
    w(f"| memory | {facts['memory']} |")
    w(f"| kernel | {facts['kernel']} |")
    w(f"| load average at start / end | {meta.get('loadavg_start', 'n/a')} / {meta_end.get('loadavg_end', 'n/a')} |")
    dirty = " (with uncommitted changes under crates/)" if meta.get("git_dirty") else ""
    w(f"| bulwark | {meta.get('bulwark_version', 'n/a')}, commit {meta.get('git_commit', 'n/a')}{dirty}, "
      f"release build, {meta.get('rustc', '')} |")
    w(f"| FastMCP | fastmcp {meta.get('fastmcp')} on Python {meta.get('python')}, uvicorn {meta.get('uvicorn')} |")
    w(f"| TypeScript SDK | @modelcontextprotocol/sdk {meta.get('ts_sdk')} on Node {meta.get('node')} |")
    w(f"| load generator | {meta.get('oha')} |")
    w(f"| CPU pinning (`BENCH_PIN`) | {meta.get('pinned') or 'none: servers and load generator share every CPU'} |")
    w(f"| timing of `tools list` | {meta.get('hyperfine', 'n/a')} |")
    w("")
    w(f"Settings: {meta.get('seconds')} s of load per concurrency level, "
      f"{meta.get('repeat')} repetitions, {meta.get('warmup')} s warm-up "
      f"(16 clients) after each server start.")
    w("")

    # ---------------------------------------------------------- targets
    w("## Targets")
    w("")
    w("| target | measured (median) | result |")
    w("| --- | --- | --- |")
    if "bulwark" in agg and "fastmcp" in agg:
        ratios = {c: ratio(c, "fastmcp") for c in levels}
        shown = ", ".join(f"{fmt_ratio(ratios[c])} at {c}" for c in levels)
        ok = all(r is not None and r >= TARGET_RATIO_VS_FASTMCP for r in ratios.values())
        w(f"| ≥ {TARGET_RATIO_VS_FASTMCP:.0f}× FastMCP's `tools/call` throughput (every concurrency level) | {shown} | {met(ok)} |")
    c_t, p99_t = TARGET_P99_MS_AT
    p99 = agg.get("bulwark", {}).get(c_t, {}).get("p99_ms")
    if p99 is not None:
        w(f"| p99 < {p99_t:g} ms at {c_t} clients | {fmt_ms(p99)} ms | {met(p99 < p99_t)} |")
    times, method = tools_list_times(results)
    if times:
        t_med = statistics.median(times)
        w(f"| `bulwark tools list` < {TARGET_TOOLS_LIST_MS:g} ms wall time | {fmt_ms(t_med)} ms "
          f"(min {fmt_ms(min(times))}, max {fmt_ms(max(times))}; {len(times)} runs) | {met(t_med < TARGET_TOOLS_LIST_MS)} |")
    idle = rss_rows(results, "rss-idle.json")
    if idle:
        rss_med = median([r["vmrss_kb"] for r in idle]) / 1024.0
        w(f"| `bulwark serve --http` idle RSS < {TARGET_IDLE_RSS_MIB:g} MiB | {rss_med:.1f} MiB "
          f"(VmRSS; peak VmHWM {median([r['vmhwm_kb'] for r in idle]) / 1024.0:.1f} MiB) | "
          f"{met(rss_med < TARGET_IDLE_RSS_MIB)} |")
    w("")
    w(f"With {c_t} clients in a closed loop, throughput = {c_t} ÷ mean latency, so a p99 under "
      f"{p99_t:g} ms (short of a freak 1 % tail) means a mean under {p99_t:g} ms, i.e. about "
      f"{c_t / (p99_t / 1000):,.0f} req/s or more, with the load generator on the same CPUs.")
    w("")
    failures = [(s, c, a) for s in agg for c, a in agg[s].items() if a["failed"]]
    if failures:
        w("**Some load runs had failed requests** (non-200 answers or transport errors); "
          "their throughput and latency figures include them:")
        w("")
        for s, c, a in failures:
            w(f"- {LABELS.get(s, s)} at {c} clients: {a['failed']} failed requests "
              f"in {a['failed_runs']} of {a['n']} runs")
        w("")
    else:
        w("Every request of every load run was answered `200` (no transport errors); "
          "each server's echo answer was checked before and after its load runs.")
        w("")

    # ---------------------------------------------------------- per level
    w("## `tools/call` throughput and latency")
    w("")
    w("Medians over the repetitions. *req/s range* is the slowest and fastest repetition. "
      "*bulwark ×* is bulwark's median req/s divided by that server's; "
      "*p99 ÷ bulwark* is that server's median p99 divided by bulwark's.")
    w("")
    for c in levels:
        w(f"### {c} concurrent client{'s' if c != 1 else ''}")
        w("")
        w("| server | req/s | req/s range | p50 ms | p99 ms | failed requests | bulwark × (req/s) | p99 ÷ bulwark |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for s in servers:
            a = agg[s].get(c)
            if not a:
                continue
            if s == "bulwark":
                rx, px = "—", "—"
            else:
                rx, px = fmt_ratio(ratio(c, s)), fmt_ratio(ratio(c, s, "p99_ms", invert=True))
            w(f"| {LABELS.get(s, s)} | {fmt_rps(a['rps'])} | {fmt_rps(a['rps_min'])}–{fmt_rps(a['rps_max'])} "
              f"| {fmt_ms(a['p50_ms'])} | {fmt_ms(a['p99_ms'])} | {a['failed']} of {a['ok'] + a['failed']:,} "
              f"| {rx} | {px} |")
        w("")

    # ---------------------------------------------------------- security overhead
    if "bulwark" in agg and "bulwark-secure" in agg:
        w("## Security layer overhead")
        w("")
        w("`bulwark-secure` is the same server with the security layer on: API-key "
          "authentication of every request, the audit log (a record per call, "
          "`fsync = \"interval\"`), and the per-caller request budget and a per-tool budget "
          "checked on every call (set high enough never to be reached). `bulwark` has all "
          "three off. Target: at most 10% overhead.")
        w("")
        if "bulwark-oauth" in agg:
            w("")
            w("`bulwark-oauth` is `bulwark-secure` with an access token from bulwark's own "
              "authorization server (an ES256 JWT, obtained through the whole client flow) "
              "in place of the API key.")
        w("")
        pair_root = results / "oha-pairs"
        if pair_root.is_dir():
            pairs_n = max((len(paired(pair_root / v, v, c)) for v in ("bulwark-secure", "bulwark-oauth")
                           for c in levels), default=0)
            w(f"Measured in pairs: `bulwark` and the variant run side by side, and {pairs_n} short loads "
              "per concurrency level alternate between them (which goes first swaps every pair). "
              "Overhead is the median of the per-pair ratios, so drifts in the shared machine's "
              "load, larger than the effect itself, cancel out; the range shows the spread. "
              "*Server CPU per call* is the server process's own user + system time over "
              "the answered calls of each run (from /proc): the cost the security layer adds, "
              "which the client's share of the two cores and the rest of the machine do not blur.")
            w("")
            w("| variant | clients | bulwark req/s | variant req/s | throughput overhead (median) | range over pairs | bulwark p99 ms | variant p99 ms | p99 change (median) | server CPU per call µs (bulwark / variant) | CPU overhead (median) | met (throughput and p99 within 10%) |")
            w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
            for variant in ("bulwark-secure", "bulwark-oauth"):
                for c in levels:
                    pairs = paired(pair_root / variant, variant, c)
                    if not pairs:
                        continue
                    o = paired_overhead(pairs)
                    w(f"| `{variant}` | {c} | {fmt_rps(o['base_rps'])} | {fmt_rps(o['variant_rps'])} "
                      f"| {o['overhead']:.1f}% | {o['low']:.1f}% to {o['high']:.1f}% "
                      f"| {fmt_ms(o['base_p99'])} | {fmt_ms(o['variant_p99'])} | {o['p99']:+.1f}% "
                      + (f"| {o['base_cpu_us']:.1f} / {o['variant_cpu_us']:.1f} | {o['cpu']:+.1f}% "
                         if o["cpu"] is not None else "| - | - ")
                      + f"| {met(o['overhead'] <= 10 and o['p99'] <= 10)} |")
            w("")
            w("The same comparison from the main runs above (medians of separate runs, not paired):")
            w("")
        w("| variant | clients | bulwark req/s | variant req/s | throughput overhead | bulwark p99 ms | variant p99 ms | p99 overhead |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for variant in ("bulwark-secure", "bulwark-oauth"):
            for c in levels:
                a = agg["bulwark"].get(c)
                b = agg.get(variant, {}).get(c)
                if not a or not b:
                    continue
                overhead = (1 - b["rps"] / a["rps"]) * 100 if a["rps"] else float("nan")
                p99 = (b["p99_ms"] / a["p99_ms"] - 1) * 100 if a["p99_ms"] else float("nan")
                w(f"| `{variant}` | {c} | {fmt_rps(a['rps'])} | {fmt_rps(b['rps'])} | {overhead:.1f}% "
                  f"| {fmt_ms(a['p99_ms'])} | {fmt_ms(b['p99_ms'])} | {p99:+.1f}% |")
        w("")

    # ---------------------------------------------------------- no keep-alive
    nk = collect(results, "oha-nokeepalive")
    if nk:
        w("## Supplementary: a new connection per request")
        w("")
        w("Not used for the targets. One repetition with `oha --disable-keepalive` (a new TCP "
          "connection for every call), at the lowest and highest concurrency, to tell "
          "per-connection effects from the cost of the call itself. *keep-alive req/s* is "
          "the median from the tables above.")
        w("")
        w("| server | clients | req/s | p50 ms | p99 ms | failed requests | keep-alive req/s |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        nk_levels = sorted({c for per_c in nk.values() for c in per_c})
        for s in servers:
            for c in nk_levels:
                lst = nk.get(s, {}).get(c)
                if not lst:
                    continue
                a = aggregate(lst)
                ka = agg.get(s, {}).get(c, {}).get("rps")
                w(f"| {LABELS.get(s, s)} | {c} | {fmt_rps(a['rps'])} | {fmt_ms(a['p50_ms'])} "
                  f"| {fmt_ms(a['p99_ms'])} | {a['failed']} of {a['ok'] + a['failed']:,} | {fmt_rps(ka)} |")
        w("")
        slower = []
        for c in nk_levels:
            lst = nk.get("bulwark", {}).get(c)
            ka = agg.get("bulwark", {}).get(c, {}).get("rps")
            if lst and ka and aggregate(lst)["rps"] > 1.5 * ka:
                slower.append((c, aggregate(lst)["rps"] / ka))
        if slower:
            shown = ", ".join(f"{x:.1f}× at {c} client{'s' if c != 1 else ''}" for c, x in slower)
            w(f"**bulwark is faster with a new connection per request than with a reused one** "
              f"({shown}). Reusing a connection should only save work, so the keep-alive figures "
              "above are held back by a per-connection delay, not by the cost of the call: "
              "latencies that sit near 40 ms whatever the load are the signature of Nagle's "
              "algorithm meeting the client's delayed ACK, when an answer leaves in more than one "
              "write on a socket without `TCP_NODELAY`.")
            w("")

    # ---------------------------------------------------------- rss
    w("## Memory")
    w("")
    if idle:
        w("`bulwark serve --http --profile core`, fresh process, one checked call and 200 more "
          "from 4 clients, then 3 s idle; `VmRSS` and `VmHWM` from `/proc/PID/status`:")
        w("")
        w("| repetition | VmRSS MiB | VmHWM MiB |")
        w("| --- | ---: | ---: |")
        for i, r in enumerate(idle, 1):
            w(f"| {i} | {r['vmrss_kb'] / 1024:.1f} | {r['vmhwm_kb'] / 1024:.1f} |")
        w("")
    after = rss_rows(results, "rss-after-load.json")
    if after:
        w("For comparison, every server's RSS 2 s after its last load run (64 clients), "
          "median over the repetitions:")
        w("")
        w("| server | VmRSS MiB | VmHWM MiB |")
        w("| --- | ---: | ---: |")
        for s in servers:
            rows = [r for r in after if r["label"] == s]
            if rows:
                w(f"| {LABELS.get(s, s)} | {median([r['vmrss_kb'] for r in rows]) / 1024:.1f} "
                  f"| {median([r['vmhwm_kb'] for r in rows]) / 1024:.1f} |")
        w("")

    # ---------------------------------------------------------- method
    w("## Method")
    w("")
    w("- One load generator, `oha`, for every server: keep-alive HTTP/1.1 connections, one per "
      "client, each sending the next POST as soon as the previous answer is in "
      "(closed loop), for a fixed duration; requests still running at the deadline are "
      "waited for (`-w`). Load only goes to 127.0.0.1.")
    w("- bulwark (`bulwark serve --http 127.0.0.1:PORT --profile core`; "
      "its log (`info,rmcp=warn`: one line per call) goes to stderr, redirected to a "
      "file; the audit log and the per-caller request budget are off, as the foundation "
      "alone; `bulwark-secure` below turns them and API-key authentication on) gets the "
      "2026-07-28 stateless request: headers `MCP-Protocol-Version: 2026-07-28`, "
      "`Mcp-Method: tools/call`, `Mcp-Name: test_tool`, and the protocol version and client "
      "capabilities in `params._meta`.")
    w("- FastMCP (`bench/fastmcp_server.py`: `stateless_http=True`, `json_response=True`, "
      "uvicorn with its default single worker, log level WARNING) and the TypeScript SDK "
      "(`bench/ts_server.mjs`: `McpServer` + `StreamableHTTPServerTransport` with "
      "`sessionIdGenerator: undefined` and `enableJsonResponse: true`, a new server and "
      "transport per request on plain `node:http`) get the 2025-11-25 stateless form of "
      "the same call (`MCP-Protocol-Version: 2025-11-25`, no `_meta`).")
    w("- Each repetition starts every server afresh, in turn, checks one echo answer, warms it "
      "up, runs 1, 16 and 64 clients, checks the echo again, reads its RSS and stops it; "
      "repetitions go round-robin so that drifts in the machine's load hit all servers alike.")
    w("- The load generator runs on the same machine and shares its CPUs with the server, "
      "as it would for any server here; FastMCP (one uvicorn worker) and Node use one core "
      "for request handling, bulwark's runtime uses all of them — each as deployed by default.")
    w("- `bulwark tools list` (profile `all`, text output) is timed as a fresh process per run "
      "(no server, no daemon; file-system cache warm), 3 warm-up runs first; the median is shown.")
    w("")

    # ---------------------------------------------------------- raw
    w("## Every load run")
    w("")
    w("| server | clients | repetition | req/s | p50 ms | p99 ms | 200 answers | failed |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in servers:
        for c in levels:
            for r in runs[s].get(c, []):
                w(f"| {LABELS.get(s, s)} | {c} | {r['rep']} | {fmt_rps(r['rps'])} | {fmt_ms(r['p50_ms'])} "
                  f"| {fmt_ms(r['p99_ms'])} | {r['ok']:,} | {r['non200'] + r['errors']} |")
    w("")
    if times:
        w(f"`tools list` wall times ({method}), ms: " + ", ".join(fmt_ms(t) for t in times) + ".")
        w("")
    return "\n".join(out)


SECTIONS_START = "<!-- sections:start (bench/sections/*.md, written by the other bench scripts) -->"
SECTIONS_END = "<!-- sections:end -->"


def sections_block(folder):
    """The other benchmarks' sections (bench/sections/*.md), in name order."""
    parts = [p.read_text().strip() for p in sorted(Path(folder).glob("*.md"))]
    return "\n".join([SECTIONS_START, "", "\n\n".join(parts), "", SECTIONS_END, ""])


def splice(report_text, folder):
    """`report_text` with its sections block replaced (or appended)."""
    block = sections_block(folder)
    if SECTIONS_START in report_text and SECTIONS_END in report_text:
        head = report_text[: report_text.index(SECTIONS_START)]
        tail = report_text[report_text.index(SECTIONS_END) + len(SECTIONS_END):].lstrip("\n")
        return head + block + tail
    return report_text.rstrip("\n") + "\n\n" + block


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--summary", metavar="OHA_JSON")
    ap.add_argument("--splice", metavar="SECTIONS_DIR",
                    help="replace the sections block of --output with SECTIONS_DIR/*.md and stop")
    ap.add_argument("--pairs", nargs=3, metavar=("DIR", "VARIANT", "CLIENTS"),
                    help="one line on the paired overhead of VARIANT at CLIENTS")
    ap.add_argument("--results", metavar="DIR")
    ap.add_argument("--output", metavar="FILE")
    ap.add_argument("--command", default="bench/run")
    args = ap.parse_args(argv[1:])
    if args.summary:
        print(summary_line(args.summary))
        return 0
    if args.pairs:
        pair_dir, variant, c = args.pairs
        o = paired_overhead(paired(Path(pair_dir), variant, int(c)))
        print(f"{variant} c{c}: overhead {o['overhead']:.1f}% (median of {o['n']} pairs; "
              f"{o['low']:.1f}% to {o['high']:.1f}%), p99 {o['p99']:+.1f}%"
              + (f", server CPU per call {o['cpu']:+.1f}%" if o["cpu"] is not None else ""))
        return 0
    if args.splice:
        if not args.output:
            ap.error("--splice needs --output")
        out = Path(args.output)
        out.write_text(splice(out.read_text() if out.exists() else "", args.splice))
        return 0
    if not (args.results and args.output):
        ap.error("--results and --output are required (or --summary)")
    text = build(Path(args.results), args.command)
    sections = Path(__file__).resolve().parent / "sections"
    if sections.is_dir():
        text = splice(text, sections)
    Path(args.output).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
