#!/usr/bin/env python3
"""Small helpers for bench/run (stdlib only).

  probe.py wait URL SECONDS
      Wait until something accepts TCP connections at URL's host:port.
  probe.py call URL BODY_FILE EXPECT [-H 'Name: value']...
      POST BODY_FILE to URL with the headers, and check that the answer is
      HTTP 200 carrying a JSON-RPC result (plain JSON or one SSE event) whose
      first text content is EXPECT and which is not an error. Exit 1 otherwise,
      printing what came back.
  probe.py rss PID OUT_JSON [LABEL]
      Append {"label", "pid", "vmrss_kb", "vmhwm_kb"} read from
      /proc/PID/status to the JSON list in OUT_JSON.
  probe.py time-cmd RUNS WARMUP OUT_JSON -- CMD...
      Fallback when hyperfine is missing: run CMD (stdout/stderr discarded)
      WARMUP + RUNS times, record each wall time of the RUNS in seconds, and
      write {"method": "python-loop", "times": [...]} to OUT_JSON.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def _host_port(url):
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port or 80


def wait(url, seconds):
    host, port = _host_port(url)
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return 0
        except OSError:
            time.sleep(0.1)
    print(f"nothing listening on {host}:{port} after {seconds}s", file=sys.stderr)
    return 1


def _parse_headers(args):
    headers = {}
    it = iter(args)
    for arg in it:
        if arg != "-H":
            raise SystemExit(f"unexpected argument {arg!r}")
        name, _, value = next(it).partition(":")
        headers[name.strip()] = value.strip()
    return headers


def _json_from_body(content_type, text):
    if "text/event-stream" in content_type:
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        data = [d for d in data if d]
        if not data:
            raise ValueError("SSE answer without a data line")
        return json.loads(data[-1])
    return json.loads(text)


def call(url, body_file, expect, header_args):
    with open(body_file, "rb") as f:
        body = f.read()
    req = urllib.request.Request(url, data=body, method="POST", headers=_parse_headers(header_args))
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status = resp.status
            ctype = resp.headers.get("Content-Type", "")
            text = resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        print(f"HTTP {e.code}: {e.read().decode('utf-8', 'replace')[:500]}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"request failed: {e}", file=sys.stderr)
        return 1
    problem = None
    try:
        msg = _json_from_body(ctype, text)
        result = msg.get("result")
        if status != 200:
            problem = f"HTTP {status}"
        elif result is None:
            problem = "no JSON-RPC result"
        elif result.get("isError"):
            problem = "tool result is an error"
        else:
            texts = [c.get("text") for c in result.get("content", []) if c.get("type") == "text"]
            if not texts or texts[0] != expect:
                problem = f"first text content is {texts[:1]!r}, expected {expect!r}"
    except (ValueError, AttributeError) as e:
        problem = f"unreadable answer ({e})"
    if problem:
        print(f"{problem}; content-type {ctype!r}; body: {text[:500]}", file=sys.stderr)
        return 1
    print(f"ok: HTTP {status}, {ctype.split(';')[0]}, echoed {expect!r}")
    return 0


def rss(pid, out, label=""):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    try:
        with open(out) as f:
            rows = json.load(f)
    except FileNotFoundError:
        rows = []
    row = {"label": label, "pid": int(pid), "vmrss_kb": fields.get("VmRSS"), "vmhwm_kb": fields.get("VmHWM")}
    rows.append(row)
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
    print(f"{label or pid}: VmRSS {row['vmrss_kb']} kB, VmHWM {row['vmhwm_kb']} kB")
    return 0


def time_cmd(runs, warmup, out, cmd):
    times = []
    for i in range(int(warmup) + int(runs)):
        start = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            print(f"{cmd[0]} exited with {done.returncode}", file=sys.stderr)
            return 1
        if i >= int(warmup):
            times.append(elapsed)
    with open(out, "w") as f:
        json.dump({"method": "python-loop", "command": " ".join(cmd), "times": times}, f, indent=1)
    return 0


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "wait":
        return wait(*args)
    if cmd == "call":
        return call(args[0], args[1], args[2], args[3:])
    if cmd == "rss":
        return rss(*args)
    if cmd == "time-cmd":
        sep = args.index("--")
        return time_cmd(*args[:3], args[sep + 1 :])
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
