"""`generate_timeline` through the official SDK and `bulwark timeline` from
the command line, over the fixtures in tests/fixtures/timeline and the
shared EVTX corpus."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from helpers import clean_env

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "timeline"
EVTX = next(
    (p for p in (Path(__file__).resolve().parents[3] / "shared/corpora/evtx", Path("/work/shared/corpora/evtx")) if p.exists()),
    None,
)


def timeline(bulwark_bin: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [bulwark_bin, "timeline", "--year", "2024", *args], capture_output=True, text=True, timeout=120, env=clean_env()
    )


def test_cli_jsonl_is_ordered_and_filtered(bulwark_bin):
    run = timeline(bulwark_bin, str(FIXTURES))
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in events]
    assert stamps == sorted(stamps)
    assert {e["source"] for e in events} == {"syslog", "journald", "auditd", "shell_history", "bodyfile", "json"}
    assert "unrecognized" in run.stderr and "notes.txt" in run.stderr
    window = timeline(
        bulwark_bin, "--since", "2024-05-01T10:01:00Z", "--until", "2024-05-01T10:02:00Z", "--source", "auditd", str(FIXTURES)
    )
    events = [json.loads(line) for line in window.stdout.splitlines()]
    assert events and all(e["source"] == "auditd" and "10:01:" in e["timestamp"] for e in events)


def test_cli_timesketch_csv(bulwark_bin, tmp_path):
    out = tmp_path / "ts.csv"
    run = timeline(bulwark_bin, "--format", "timesketch", "-o", str(out), "-q", str(FIXTURES / "var"))
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {"message", "datetime", "timestamp_desc"} <= set(rows[0])
    assert any(r["message"].startswith("EXECVE: curl -o /tmp/.x") for r in rows)
    assert all(r["datetime"].endswith("Z") for r in rows)


def test_cli_bad_input(bulwark_bin, tmp_path):
    assert timeline(bulwark_bin, str(tmp_path / "missing")).returncode == 2
    assert timeline(bulwark_bin, "--since", "yesterday", str(FIXTURES)).returncode == 2
    assert timeline(bulwark_bin, "--source", "nonsense", str(FIXTURES)).returncode == 2
    assert timeline(bulwark_bin).returncode == 2
    (tmp_path / "junk.evtx").write_bytes(b"ElfFile\x00" + bytes(range(256)) * 300)
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 300)
    run = timeline(bulwark_bin, str(tmp_path))
    assert run.returncode == 0 and run.stdout == ""
    assert "junk.evtx: evtx, 0 events" in run.stderr


@pytest.mark.anyio
async def test_generate_timeline_over_mcp(bulwark_bin, data_dir):
    params = StdioServerParameters(
        command=bulwark_bin, args=["--data-dir", str(data_dir), "serve", "--stdio", "--profile", "analysis"], env=clean_env()
    )
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "generate_timeline" in names
        result = await client.call_tool(
            "generate_timeline", {"paths": [str(FIXTURES)], "year": 2024, "max_events": 5, "contains": "tmp"}
        )
        assert not result.is_error, result
        data = result.structured_content
        assert len(data["events"]) == 5 and data["truncated"] is True
        assert data["matched"] > 5 and data["summary"]["kept"] >= data["matched"]
        assert all("tmp" in e["message"].lower() for e in data["events"])
        newest = await client.call_tool(
            "generate_timeline", {"paths": [str(FIXTURES)], "year": 2024, "max_events": 1, "newest": True, "format": "timesketch"}
        )
        assert newest.structured_content["text"].splitlines()[0].startswith("message,datetime")
        if EVTX is not None:
            evtx = await client.call_tool(
                "generate_timeline", {"paths": [str(EVTX / "Lateral Movement")], "sources": ["evtx"], "max_events": 50}
            )
            data = evtx.structured_content
            assert data["summary"]["kept"] > 100
            assert all(e["source"] == "evtx" for e in data["events"])
        for bad in ({}, {"paths": ["/no/such/dir"]}, {"paths": [str(FIXTURES)], "since": "soon"}, {"paths": [str(FIXTURES)], "format": "pdf"}):
            res = await client.call_tool("generate_timeline", bad)
            assert res.is_error, bad
