"""`extract_iocs` through the official SDK and `bulwark iocs` from the
command line: defanged input, formats (a STIX 2.1 bundle checked by the
`stix2` library), options and bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from helpers import clean_env

REPORT = """Stage two came from hxxps://cdn[.]evil-updates[.]com/a.php?id=7 and 185.220.101[.]47.
Mail from ops[@]evil-updates[.]com; dropper C:\\Users\\Public\\msupd.exe (MD5 5640486daa6880d667b76c958820361a).
Exploited CVE-2023-23397 via T1566.001. Internal 10.0.0.5 and www.microsoft.com are clean.
"""

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ioc"


def iocs(bulwark_bin: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [bulwark_bin, "iocs", *args], input=stdin, capture_output=True, text=True, timeout=60, env=clean_env()
    )


def test_cli_text_json_csv(bulwark_bin, tmp_path):
    report = tmp_path / "report.txt"
    report.write_text(REPORT)
    text = iocs(bulwark_bin, str(report))
    assert text.returncode == 0, text.stderr
    rows = [line.split("\t") for line in text.stdout.splitlines()]
    values = {(r[0], r[1]) for r in rows}
    assert ("url", "https://cdn.evil-updates.com/a.php?id=7") in values
    assert ("ipv4", "185.220.101.47") in values
    assert ("email", "ops@evil-updates.com") in values
    assert ("windows_path", "C:\\Users\\Public\\msupd.exe") in values
    assert ("cve", "CVE-2023-23397") in values

    as_json = json.loads(iocs(bulwark_bin, "--format", "json", str(report)).stdout)
    url = next(i for i in as_json["indicators"] if i["type"] == "url")
    assert url["original"] == "hxxps://cdn[.]evil-updates[.]com/a.php?id=7"
    assert url["defanged"] is True
    start, end = url["offsets"][0]["start"], url["offsets"][0]["end"]
    assert REPORT.encode()[start:end].decode() == url["original"]

    rows = list(csv.DictReader(io.StringIO(iocs(bulwark_bin, "--format", "csv", str(report)).stdout)))
    assert {"type", "value", "original", "count"} <= set(rows[0])

    filtered = iocs(bulwark_bin, "--exclude-private", "--exclude-benign", "--type", "ip", "--type", "domain", "-", stdin=REPORT)
    vals = {line.split("\t")[1] for line in filtered.stdout.splitlines()}
    assert "10.0.0.5" not in vals and "www.microsoft.com" not in vals
    assert {"185.220.101.47", "evil-updates.com"} <= vals


def test_cli_stix_bundle_validates(bulwark_bin, tmp_path):
    stix2 = pytest.importorskip("stix2")
    report = tmp_path / "report.txt"
    report.write_text(REPORT)
    out = tmp_path / "bundle.json"
    run = iocs(bulwark_bin, "--format", "stix", "-o", str(out), str(report))
    assert run.returncode == 0, run.stderr
    bundle = stix2.parse(out.read_text(), allow_custom=True)
    kinds = [o.type for o in bundle.objects]
    assert kinds.count("vulnerability") == 1 and kinds.count("attack-pattern") == 1
    patterns = [o.pattern for o in bundle.objects if o.type == "indicator"]
    assert "[url:value = 'https://cdn.evil-updates.com/a.php?id=7']" in patterns
    assert "[file:hashes.MD5 = '5640486daa6880d667b76c958820361a']" in patterns


def test_cli_bad_input(bulwark_bin, tmp_path):
    assert iocs(bulwark_bin, str(tmp_path / "missing.txt")).returncode == 2
    assert iocs(bulwark_bin, "--format", "xml", "-", stdin="x").returncode == 2
    bad_pattern = iocs(bulwark_bin, "--pattern", "broken=(", "-", stdin="x")
    assert bad_pattern.returncode == 2 and "broken" in bad_pattern.stderr
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4000 + b" evil-garbage[.]com ")
    found = iocs(bulwark_bin, str(garbage))
    assert found.returncode == 0 and "evil-garbage.com" in found.stdout
    nothing = iocs(bulwark_bin, "-", stdin="no indicators here at all")
    assert nothing.returncode == 1 and nothing.stdout == ""


@pytest.mark.anyio
async def test_extract_iocs_over_mcp(bulwark_bin, data_dir, tmp_path):
    report = tmp_path / "report.txt"
    report.write_text(REPORT)
    params = StdioServerParameters(
        command=bulwark_bin, args=["--data-dir", str(data_dir), "serve", "--stdio", "--profile", "analysis"], env=clean_env()
    )
    async with Client(params) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "extract_iocs" in tools
        annotations = tools["extract_iocs"].annotations
        assert getattr(annotations, "read_only_hint", None) or getattr(annotations, "readOnlyHint", None)
        result = await client.call_tool("extract_iocs", {"paths": [str(report)], "exclude_private": True})
        assert not result.is_error, result
        data = result.structured_content
        assert data["summary"]["files"] == 1
        assert data["summary"]["by_type"]["cve"] == 1
        assert all(i["value"] != "10.0.0.5" for i in data["indicators"])
        # Text straight from another tool's result, with a custom pattern.
        chained = await client.call_tool(
            "extract_iocs",
            {"text": json.dumps({"alert": "beacon to 45[.]9[.]148[.]108, ticket INC-004211"}),
             "patterns": [{"name": "ticket", "regex": r"INC-(\d{6})"}], "types": ["ipv4", "custom"]},
        )
        values = {(i["type"], i["value"]) for i in chained.structured_content["indicators"]}
        assert values == {("ipv4", "45.9.148.108"), ("custom", "004211")}
        stix = await client.call_tool("extract_iocs", {"paths": [str(FIXTURES)], "format": "stix"})
        assert stix.structured_content["stix"]["type"] == "bundle"
        assert stix.structured_content["summary"]["indicators"] >= 60
        for bad in ({}, {"paths": ["/no/such/file"]}, {"text": "x", "types": ["nonsense"]}, {"text": "x", "format": "xml"}):
            res = await client.call_tool("extract_iocs", bad)
            assert res.is_error, bad


CONFIG_PATTERNS = """[ioc]
patterns = [{ name = "ticket", regex = 'INC-(\\d{6})' }]
benign_domains = ["corp-intranet.example"]
"""


@pytest.mark.anyio
async def test_config_patterns_apply_to_every_call(bulwark_bin, data_dir, tmp_path):
    config = tmp_path / "bulwark.toml"
    config.write_text(CONFIG_PATTERNS)
    text = "ticket INC-004211 about wiki.corp-intranet.example and evil-updates.com"
    params = StdioServerParameters(
        command=bulwark_bin,
        args=["--data-dir", str(data_dir), "--config", str(config), "serve", "--stdio", "--profile", "analysis"],
        env=clean_env(),
    )
    async with Client(params) as client:
        result = await client.call_tool("extract_iocs", {"text": text, "exclude_benign": True})
        assert not result.is_error, result
        values = {(i["type"], i["value"]) for i in result.structured_content["indicators"]}
        assert ("custom", "004211") in values, values
        assert ("domain", "evil-updates.com") in values, values
        assert not any("corp-intranet" in v for _, v in values), values
    # The command line reads the same section.
    out = subprocess.run(
        [bulwark_bin, "--config", str(config), "iocs", "--format", "json", "-"],
        input=text, capture_output=True, text=True, timeout=60, env=clean_env(),
    )
    assert out.returncode == 0, out.stderr
    assert "004211" in out.stdout
    # Without the config the pattern is not there.
    plain = iocs(bulwark_bin, "--format", "json", "-", stdin=text)
    assert "004211" not in plain.stdout


def test_config_with_a_bad_pattern_is_refused(bulwark_bin, tmp_path):
    config = tmp_path / "bulwark.toml"
    config.write_text('[ioc]\npatterns = [{ name = "broken", regex = "INC-(" }]\n')
    check = subprocess.run(
        [bulwark_bin, "--config", str(config), "config", "check"],
        capture_output=True, text=True, timeout=60, env=clean_env(),
    )
    assert check.returncode != 0
    assert "[ioc] patterns" in check.stderr and "broken" in check.stderr, check.stderr
