"""`bulwark scan` on the labelled fixture servers (tests/fixtures/scan-labelled):
precision and recall by file, line and rule, through bench/scan_quality.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_precision_and_recall_on_the_labelled_servers(bulwark_bin):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scan_quality.py"), "--bin", bulwark_bin, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    overall = result["overall"]
    detail = {r["fixture"]: {"false": r["false_positives"], "missed": r["missed"]} for r in result["fixtures"]}
    assert overall["tp"] >= 40, detail
    assert overall["precision"] >= 0.9, detail
    assert overall["recall"] >= 0.9, detail
    # Clean servers stay clean: a false positive there is what makes a scanner ignored.
    for r in result["fixtures"]:
        if r["fixture"].endswith("_clean"):
            assert not r["false_positives"], (r["fixture"], r["false_positives"])
