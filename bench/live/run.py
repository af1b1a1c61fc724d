#!/usr/bin/env python3
"""bench/live — speed of the live investigation tools on this machine.

1. `get_processes` with N extra processes running (default 1000 `sleep`s):
   the collection time bulwark reports (`elapsed_ms`) and the wall time of
   the MCP call, median of R runs. Target: under 50 ms.
2. `yara_scan_directory` over a tree (default /usr) with the signature-base
   corpus, versus the `yara` CLI (Debian package `yara`) with the same rules
   over the same tree in the same run: yara on rules precompiled with `yarac`
   (scan only) and on source rules (compile + scan); bulwark cold (compile +
   scan) and warm (rules cached). Both use every core, neither follows
   symlinks, both skip files over 256 MiB. bulwark also skips /proc, /sys,
   /dev and /run under the tree; pick a tree without them for a fair race.

Usage:
  bench/live/run.py [--bin target/release/bulwark] [--procs 1000] [--runs 7]
                    [--tree /usr] [--rules ../shared/corpora/yara/rules]
                    [--skip-yara] [--out BENCH-live.md]

Everything runs on this machine; the server listens on 127.0.0.1 only, every
spawned process is killed at the end, and each phase is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION = "2026-07-28"


def call(url: str, name: str, args: dict, timeout: float = 1800) -> tuple[dict, float]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": name,
            "arguments": args,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": VERSION,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": VERSION,
            "Mcp-Method": "tools/call",
            "Mcp-Name": name,
        },
    )
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        text = r.read().decode()
    wall = time.perf_counter() - start
    if text.lstrip().startswith("{"):
        msg = json.loads(text)
    else:  # SSE
        msg = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")][-1]
    result = msg["result"]
    if result.get("isError"):
        raise SystemExit(f"{name} failed: {result['content'][0]['text']}")
    return result["structuredContent"], wall


def serve(binary: str, data: Path, config: Path) -> tuple[subprocess.Popen, str]:
    err = open(data / "server.stderr", "wb")
    proc = subprocess.Popen(
        [binary, "--data-dir", str(data), "--config", str(config), "serve", "--http", "127.0.0.1:0", "--profile", "all"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        m = re.search(r"listening on (http://[^\s]+/mcp)", (data / "server.stderr").read_text(errors="replace"))
        if m:
            return proc, m.group(1)
        if proc.poll() is not None:
            raise SystemExit((data / "server.stderr").read_text())
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("bulwark did not start listening")


def timed(cmd: list[str], timeout: float = 3600) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "bulwark"))
    ap.add_argument("--procs", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--tree", default="/usr")
    ap.add_argument("--rules", default=str(ROOT.parent / "shared" / "corpora" / "yara" / "rules"))
    ap.add_argument("--skip-yara", action="store_true")
    ap.add_argument("--yara-runs", type=int, default=3, help="alternating runs of each warm scanner; medians reported")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()

    rules = Path(a.rules)
    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    config = work / "bulwark.toml"
    config.write_text(
        f'[server]\ncall_timeout_secs = 3600\n'
        f'[live]\nallowed_roots = ["/"]\nrules_dir = "{rules}"\nmax_secs = 3600\nmax_rows = 1000000\n'
    )
    lines = [f"# bench/live ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores)", ""]
    server, url = serve(a.bin, work, config)
    sleepers: list[subprocess.Popen] = []
    try:
        for _ in range(a.procs):
            sleepers.append(subprocess.Popen(["sleep", "600"]))
        call(url, "get_processes", {"sid": "local"})  # warm-up
        collect, wall, count = [], [], 0
        for _ in range(a.runs):
            out, w = call(url, "get_processes", {"sid": "local"})
            collect.append(out["elapsed_ms"])
            wall.append(w * 1000)
            count = len(out["processes"])
        lines += [
            f"## get_processes ({count} processes, {a.procs} of them spawned sleeps; median of {a.runs})",
            "",
            "| measure | ms |",
            "|---|---:|",
            f"| collection (`elapsed_ms`) | {statistics.median(collect):.1f} |",
            f"| MCP call wall time (HTTP, JSON) | {statistics.median(wall):.1f} |",
            "",
        ]
    finally:
        for p in sleepers:
            p.kill()
        for p in sleepers:
            p.wait()

    try:
        if not a.skip_yara:
            yara = shutil.which("yara")
            yarac = shutil.which("yarac")
            files = sorted(str(p) for p in rules.iterdir() if p.suffix in (".yar", ".yara"))
            threads = str(os.cpu_count() or 1)
            cap = str(256 * 1024 * 1024)  # live.max_file_bytes default
            rows = []
            cold, w = call(url, "yara_scan_directory", {"sid": "local", "root": a.tree, "rule_name": "*"})
            rows.append(("bulwark cold (compile + scan)", w, cold["files_scanned"], len(cold["matches"])))
            # The warm scans alternate with yara's, so a drift in the machine's load
            # hits both; medians of --yara-runs each.
            compiled = work / "rules.yarc"
            if yara and yarac:
                subprocess.run([yarac, *files, str(compiled)], check=True, capture_output=True)
            warm_times, pre_times, src_times = [], [], []
            for _ in range(max(1, a.yara_runs)):
                warm, w = call(url, "yara_scan_directory", {"sid": "local", "root": a.tree, "rule_name": "*"})
                assert warm["rules_cached"]
                warm_times.append(w)
                if yara and yarac:
                    # -N: bulwark does not follow symlinks either; -z: same size cap.
                    pre_times.append(timed([yara, "-C", "-r", "-N", "-z", cap, "-p", threads, str(compiled), a.tree]))
                    src_times.append(timed([yara, "-r", "-N", "-z", cap, "-p", threads, *files, a.tree]))
            rows.append(("bulwark warm (rules cached)", statistics.median(warm_times), warm["files_scanned"], len(warm["matches"])))
            if yara and yarac:
                rows.append(("yara -C (precompiled, scan only)", statistics.median(pre_times), None, None))
                rows.append(("yara (compile + scan)", statistics.median(src_times), None, None))
            else:
                lines.append("`yara`/`yarac` not installed (apt-get install yara): CLI rows skipped\n")
            lines += [
                f"## yara_scan_directory over {a.tree} with {warm['rules']} rules ({len(files)} files; warm rows: median of {max(1, a.yara_runs)} alternating runs)",
                "",
                "| scanner | seconds | files scanned | matches |",
                "|---|---:|---:|---:|",
            ]
            for name, t, n, m in rows:
                lines.append(f"| {name} | {t:.2f} | {'' if n is None else n} | {'' if m is None else m} |")
            lines.append("")
    finally:
        server.kill()
        server.wait()
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
