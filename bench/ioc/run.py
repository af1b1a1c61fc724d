#!/usr/bin/env python3
"""IOC extraction side by side: bulwark vs iocextract vs ioc-finder.

Measures, on the same texts:
- precision and recall on the labelled threat reports
  (tests/fixtures/ioc/labelled-reports.txt, every indicator between ⟦ ⟧);
- throughput in MB/s on those reports repeated to --size bytes.

Usage (from the repository root):
    bash bench/ioc/run             # sets up the venv under target/, builds, runs
    python bench/ioc/run.py --bulwark target/release/examples/ioc_extract

Writes a Markdown table to stdout (and to --out if given).
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "tests/fixtures/ioc/labelled-reports.txt"

MARKERS = [
    ("[.]", "."), ("(.)", "."), ("{.}", "."), ("[dot]", "."), ("(dot)", "."), (" dot ", "."),
    ("[@]", "@"), ("[at]", "@"), (" at ", "@"), ("[:]", ":"), ("[/]", "/"), ("hxxp", "http"),
]


def refang(v: str) -> str:
    for m, r in MARKERS:
        v = re.sub(re.escape(m), r, v, flags=re.IGNORECASE)
    return v


def norm(v: str) -> str:
    v = refang(v.strip()).lower().rstrip("/")
    for short, long in (("hklm\\", "hkey_local_machine\\"), ("hkcu\\", "hkey_current_user\\"), ("hkcr\\", "hkey_classes_root\\")):
        if v.startswith(short):
            v = long + v[len(short):]
    try:
        v = str(ipaddress.IPv6Address(v))
    except ValueError:
        pass
    return v


def labelled() -> tuple[str, set[str], set[str]]:
    raw = LABELLED.read_text()
    spans = re.findall(r"⟦(.*?)⟧", raw)
    text = raw.replace("⟦", "").replace("⟧", "")
    expected = {norm(s) for s in spans}
    # URL hosts and email domains: reported by some tools as indicators of
    # their own; the labels mark the URL or email, so these count neither way.
    derived = set()
    for v in expected:
        if "://" in v:
            host = re.split(r"[/?]", v.split("://", 1)[1])[0]
            if host.startswith("["):
                host = host[1:].split("]")[0]
            elif host.count(":") == 1:
                host = host.split(":")[0]
            derived.add(norm(host))
        if "@" in v:
            derived.add(v.rsplit("@", 1)[1])
    return text, expected, derived


def run_iocextract(text: str) -> list[str]:
    import iocextract

    out: list[str] = []
    out += iocextract.extract_urls(text, refang=True)
    out += iocextract.extract_ips(text, refang=True)
    out += iocextract.extract_emails(text, refang=True)
    out += iocextract.extract_hashes(text)
    return out


def flatten(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in flatten(v)]
    if isinstance(value, (list, tuple, set)):
        return [s for v in value for s in flatten(v)]
    return []


def run_iocfinder(text: str) -> list[str]:
    from ioc_finder import find_iocs

    return flatten(find_iocs(text))


def run_bulwark(binary: str, path: Path) -> list[str]:
    out = subprocess.run([binary, str(path), "--values"], check=True, capture_output=True, text=True).stdout
    return [line.split("\t", 1)[1] for line in out.splitlines() if "\t" in line]


def bulwark_speed(binary: str, path: Path, repeat: int) -> float:
    err = subprocess.run([binary, str(path), "--time", f"--repeat={repeat}"], check=True, capture_output=True, text=True).stderr
    return float(re.search(r"= ([0-9.]+) MB/s", err).group(1))


def score(found: list[str], expected: set[str], derived: set[str]) -> tuple[float, float, list[str], list[str]]:
    got = {norm(v) for v in found}
    tp = got & expected
    fp = sorted(v for v in got if v not in expected and v not in derived)
    missed = sorted(expected - got)
    precision = len(tp) / (len(tp) + len(fp)) if tp or fp else 0.0
    recall = len(tp) / len(expected)
    return precision, recall, fp, missed


def python_speed(fn, text: str, min_secs: float = 2.0) -> float:
    runs, start = 0, time.perf_counter()
    while True:
        fn(text)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_secs:
            return len(text.encode()) * runs / elapsed / 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bulwark", default=str(ROOT / "target/release/examples/ioc_extract"))
    ap.add_argument("--size", type=int, default=1_000_000, help="bytes of text for the speed runs")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    text, expected, derived = labelled()
    plain = ROOT / "target/bench-ioc-labelled.txt"
    plain.write_text(text)
    big_text = text * max(1, args.size // len(text.encode()))
    big = ROOT / "target/bench-ioc-big.txt"
    big.write_text(big_text)

    rows = []
    tools = [
        ("bulwark", lambda: run_bulwark(args.bulwark, plain), lambda: bulwark_speed(args.bulwark, big, 20)),
        ("iocextract", lambda: run_iocextract(text), lambda: python_speed(run_iocextract, big_text)),
        ("ioc-finder", lambda: run_iocfinder(text), lambda: python_speed(run_iocfinder, big_text)),
    ]
    for name, extract, speed in tools:
        p, r, fp, missed = score(extract(), expected, derived)
        mbs = speed()
        rows.append((name, p, r, mbs, fp, missed))
        if args.verbose:
            print(f"{name}: false positives {fp}\n{name}: missed {missed}\n", file=sys.stderr)
    base = {name: mbs for name, _, _, mbs, _, _ in rows}
    lines = [
        f"IOC extraction on the labelled threat reports ({len(expected)} labelled indicators; "
        f"throughput on {len(big_text.encode()) / 1e6:.1f} MB of the same text, one core)",
        "",
        "| tool | precision | recall | MB/s | bulwark is |",
        "|---|---|---|---|---|",
    ]
    for name, p, r, mbs, _, _ in rows:
        ratio = "—" if name == "bulwark" else f"{base['bulwark'] / mbs:.0f}× faster"
        lines.append(f"| {name} | {p:.3f} | {r:.3f} | {mbs:.3g} | {ratio} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
