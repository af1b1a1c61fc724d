#!/usr/bin/env python3
"""Instructions per tools/call, per security layer, counted by callgrind.

Throughput on a shared 2-core machine drifts by more than the security
layer's whole cost, so the paired runs in bench/run need many repetitions to
say anything. Instruction counts do not drift: the same request costs the same
instructions to within 0.1%, whatever else the machine is doing. This script
runs `bulwark serve --http` under callgrind in six configurations, sends the
same tools/call N times with oha, and reports instructions per request.

  base    no auth, no audit log, no rate limits (bench/run's `bulwark`)
  auth    API key only
  audit   audit log only
  limits  rate limits only (per request and per tool, never reached)
  all     API key + audit log + rate limits (bench/run's `bulwark-secure`)
  oauth   as `all` with an access token from the built-in authorization server

Valgrind hides the CPU's SHA extensions, so SHA-256 runs its portable code
under callgrind, at roughly ten times its native cost. The table therefore
also shows each configuration with the portable SHA-256 compression taken out;
natively those hashes (API key, record chain, arguments digest) cost well
under a microsecond together.

usage: bench/cost.py [--requests N] [--configs base,all,...] [--out FILE]
needs: valgrind (callgrind_control, callgrind_annotate), oha (target/tools/bin/oha),
       target/release/bulwark
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "test_tool",
            "arguments": {"message": "hello"},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
)
HEADERS = [
    "Content-Type: application/json",
    "Accept: application/json, text/event-stream",
    "MCP-Protocol-Version: 2026-07-28",
    "Mcp-Method: tools/call",
    "Mcp-Name: test_tool",
]
NO_LIMITS = {"BULWARK_RATE_LIMIT__MCP_REQUESTS_PER_MINUTE": "0"}
HIGH_LIMITS = {
    "BULWARK_RATE_LIMIT__MCP_REQUESTS_PER_MINUTE": "1000000000",
    "BULWARK_RATE_LIMIT__TOOLS__TEST_TOOL": "1000000000",
}
NO_AUDIT = {"BULWARK_AUDIT__ENABLED": "false"}
CONFIGS = {
    "base": ({**NO_LIMITS, **NO_AUDIT}, None),
    "auth": ({**NO_LIMITS, **NO_AUDIT}, "api-key"),
    "audit": (dict(NO_LIMITS), None),
    "limits": ({**HIGH_LIMITS, **NO_AUDIT}, None),
    "all": (dict(HIGH_LIMITS), "api-key"),
    "oauth": (
        {**HIGH_LIMITS, "BULWARK_AUTH__OAUTH__ACCESS_TOKEN_TTL_SECS": "3600"},
        "oauth",
    ),
}
SHA_SELF = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S*sha2::sha256::soft::\S*compress")


def wait_up(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.5)
    sys.exit(f"bench/cost.py: server on port {port} did not start in {seconds:.0f} s")


def oha(oha_bin: str, url: str, n: int, token: str | None, out: Path | None) -> int:
    cmd = [oha_bin, "-n", str(n), "-c", "8", "--no-tui", "-m", "POST", "-d", BODY]
    for h in HEADERS + ([f"Authorization: Bearer {token}"] if token else []):
        cmd += ["-H", h]
    if out:
        cmd += ["--output-format", "json"]
    res = subprocess.run(cmd + [url], capture_output=True, text=True, check=True)
    if not out:
        return 0
    out.write_text(res.stdout)
    return json.loads(res.stdout)["statusCodeDistribution"].get("200", 0)


def measure(name: str, bulwark: str, oha_bin: str, n: int, work: Path) -> dict:
    env_extra, auth = CONFIGS[name]
    data = work / name
    data.mkdir(parents=True)
    token = None
    if auth == "api-key":
        token = subprocess.run(
            [bulwark, "--data-dir", str(data), "auth", "key", "create", "--name", "bench",
             "--scopes", "mcp,profile:core"],
            capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]
    elif auth == "oauth":
        subprocess.run(
            [bulwark, "--data-dir", str(data), "auth", "user", "add", "bench", "--password-stdin"],
            input="bench-password\n", capture_output=True, text=True, check=True,
        )
    port = random.randint(43000, 44999)
    out_file = data / "callgrind.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
           bulwark, "--data-dir", str(data), "serve", "--http", f"127.0.0.1:{port}",
           "--profile", "core"]
    if auth:
        cmd += ["--auth", auth]
    log = open(data / "server.log", "w")
    server = subprocess.Popen(cmd, env={**os.environ, **env_extra}, stdout=log, stderr=log)
    try:
        wait_up(port, 120)
        if auth == "oauth":
            token = subprocess.run(
                [sys.executable, str(ROOT / "bench/oauth_token.py"), f"http://127.0.0.1:{port}",
                 f"http://127.0.0.1:{port}/mcp", "bench", "bench-password"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()
        url = f"http://127.0.0.1:{port}/mcp"
        oha(oha_bin, url, 200, token, None)  # warm caches, sessions, first-use paths
        subprocess.run(["callgrind_control", "-z", str(server.pid)], capture_output=True, check=True)
        ok = oha(oha_bin, url, n, token, data / "oha.json")
        subprocess.run(["callgrind_control", "-d", str(server.pid)], capture_output=True, check=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    if ok != n:
        sys.exit(f"bench/cost.py: {name}: only {ok} of {n} requests answered 200 (see {data})")
    dump = data / "callgrind.out.1"
    total = next(
        int(line.split()[1]) for line in dump.read_text().splitlines() if line.startswith("totals:")
    )
    annotated = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", str(dump)],
        capture_output=True, text=True, check=True,
    ).stdout
    sha = sum(int(m.group(1).replace(",", "")) for m in map(SHA_SELF.match, annotated.splitlines()) if m)
    return {"name": name, "requests": n, "ir": total / n, "sha": sha / n}


def table(rows: list[dict], n: int, command: str) -> str:
    base = next((r for r in rows if r["name"] == "base"), None)
    lines = [
        "## Cost of the security layer in instructions",
        "",
        f"Command: `{command}` — instructions per `tools/call` over Streamable HTTP, counted by",
        f"callgrind over {n:,} requests (8 clients) after a warm-up; deterministic to about 0.1%,",
        "so unlike throughput it does not move with the machine's load. The last column takes",
        "out SHA-256's portable code, which valgrind forces (it hides the CPU's SHA",
        "extensions; natively those few hashes cost well under a microsecond).",
        "",
        "| configuration | instructions / call | vs base | vs base, SHA-256 excluded |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        if base and r is not base:
            plain = (r["ir"] - r["sha"]) / (base["ir"] - base["sha"]) - 1
            vs = f"{100 * (r['ir'] / base['ir'] - 1):+.1f}%"
            vs_plain = f"{100 * plain:+.1f}%"
        else:
            vs = vs_plain = "—"
        lines.append(f"| {r['name']} | {r['ir']:,.0f} | {vs} | {vs_plain} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--bin", default=str(ROOT / "target/release/bulwark"))
    ap.add_argument("--oha", default=str(ROOT / "target/tools/bin/oha"))
    ap.add_argument("--out", help="write the Markdown section here as well")
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if not shutil.which(tool):
            sys.exit(f"bench/cost.py: `{tool}` not found; install Debian's `valgrind` package")
    for path, hint in ((args.bin, "cargo build --release -p bulwark"),
                       (args.oha, "run bench/run once, which installs oha")):
        if not Path(path).exists():
            sys.exit(f"bench/cost.py: {path} not found; {hint}")
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        sys.exit(f"bench/cost.py: unknown configuration(s) {unknown}; known: {', '.join(CONFIGS)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bulwark-cost-") as work:
        for name in names:
            row = measure(name, args.bin, args.oha, args.requests, Path(work))
            print(f"{name}: {row['ir']:,.0f} instructions per call ({row['sha']:,.0f} in SHA-256)",
                  file=sys.stderr)
            rows.append(row)
    command = "bench/cost.py" + ("" if args.requests == 2000 else f" --requests {args.requests}")
    md = table(rows, args.requests, command)
    print(md)
    if args.out:
        Path(args.out).write_text(md)


if __name__ == "__main__":
    main()
