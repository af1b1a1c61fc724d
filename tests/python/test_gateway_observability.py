"""The gateway's observability and response controls, through real upstreams behind
`bulwark serve --http` and the official Python SDK client: Prometheus metrics at /metrics
and who may read them, secret redaction of upstream responses, per-tool blocking."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client

from helpers import HTTP_TIMEOUT, run_cli, wait_for

pytestmark = pytest.mark.anyio

RUGPULL = Path(__file__).parent / "upstreams" / "rugpull_server.py"
PYTHON = sys.executable


def config_with_upstream(tmp_path: Path, extra: str = "", upstream_extra: str = "") -> Path:
    """A config that declares the test upstream `rp`, approved by the administrator."""
    config = tmp_path / "bulwark.toml"
    config.write_text(
        "[gateway]\ncall_timeout_secs = 5\n"
        + extra
        + "\n[[upstreams]]\n"
        + 'name = "rp"\n'
        + f"command = {str(PYTHON)!r}\n"
        + f"args = [{str(RUGPULL)!r}]\n"
        + "quarantined = false\n"
        + upstream_extra
    )
    return config


def text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def scrape(server, headers=None) -> httpx.Response:
    return httpx.get(server.url("/metrics"), headers=headers or {}, timeout=HTTP_TIMEOUT)


LINE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$")


def sample(body: str, name: str, **labels) -> float:
    """The value of the sample `name` with (at least) these labels; 0 when absent."""
    for line in body.splitlines():
        m = LINE.match(line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return 0.0


async def test_metrics_count_upstream_calls_errors_latency_and_state(servers, tmp_path):
    config = config_with_upstream(tmp_path)
    server = servers.http("gateway", config=config)
    url = server.url("/mcp")

    before = scrape(server)
    assert before.status_code == 200, before.text
    # Nothing called yet: no call samples, but the state gauges are there.
    assert "bulwark_upstream_calls_total" not in before.text, before.text
    assert 'bulwark_upstream_breaker_open{upstream="rp"} 0' in before.text

    with anyio.fail_after(90):
        async with Client(url, read_timeout_seconds=60) as client:
            for i in range(3):
                r = await client.call_tool("call_tool", {"name": "rp:echo", "args": {"text": f"hi {i}"}})
                assert not r.is_error, text(r)
            # A call the upstream cannot answer in time: counted as failed.
            slow = await client.call_tool("call_tool", {"name": "rp:sleep", "args": {"seconds": 30}})
            assert slow.is_error
            # A tool that does not exist is refused before anything is counted.
            missing = await client.call_tool("call_tool", {"name": "rp:nope", "args": {}})
            assert missing.is_error

    body = scrape(server).text
    assert sample(body, "bulwark_upstream_calls_total", upstream="rp", tool="echo") == 3, body
    assert sample(body, "bulwark_upstream_call_duration_seconds_count", upstream="rp", tool="echo") == 3
    assert sample(body, "bulwark_upstream_call_duration_seconds_bucket", upstream="rp", tool="echo", le="+Inf") == 3
    # A local echo answers within a second: the 1.024 s bucket holds all three.
    assert sample(body, "bulwark_upstream_call_duration_seconds_bucket", upstream="rp", tool="echo", le="1.024") == 3
    assert sample(body, "bulwark_upstream_call_errors_total", upstream="rp", tool="sleep", kind="failed") == 1
    assert sample(body, "bulwark_upstream_call_errors_total", upstream="rp", tool="echo", kind="failed") == 0
    assert 'tool="nope"' not in body
    assert sample(body, "bulwark_upstream_connected", upstream="rp") == 1
    assert sample(body, "bulwark_upstream_breaker_open", upstream="rp") == 0
    assert sample(body, "bulwark_upstream_callable_tools", upstream="rp") >= 4
    assert sample(body, "bulwark_tool_index_tools") >= 4
    # The built-in tool went through the pipeline: counted there too.
    assert sample(body, "bulwark_tool_calls_total", tool="call_tool", status="ok") == 3
    assert sample(body, "bulwark_tool_calls_total", tool="call_tool", status="error") == 2
    assert sample(body, "bulwark_tool_call_duration_seconds_count", tool="call_tool") == 5


def create_key(bulwark_bin, data_dir, name, scopes):
    done = run_cli(bulwark_bin, data_dir, "auth", "key", "create", "--name", name, "--scopes", scopes)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_metrics_need_the_metrics_scope_when_authentication_is_on(servers, bulwark_bin, data_dir, tmp_path):
    reader = create_key(bulwark_bin, data_dir, "prometheus", "metrics:read")
    agent = create_key(bulwark_bin, data_dir, "agent", "mcp,profile:*")
    config = config_with_upstream(tmp_path)
    server = servers.http("gateway", {"BULWARK_AUTH__METHODS": '["api-key"]'}, config=config)
    assert scrape(server).status_code == 401
    assert scrape(server, {"Authorization": "Bearer bwk_0123456789ab_" + "A" * 43}).status_code == 401
    denied = scrape(server, {"Authorization": f"Bearer {agent}"})
    assert denied.status_code == 403 and "metrics:read" in denied.text
    ok = scrape(server, {"Authorization": f"Bearer {reader}"})
    assert ok.status_code == 200 and "bulwark_upstream_connected" in ok.text


def test_metrics_access_settings(servers, tmp_path):
    off = config_with_upstream(tmp_path, extra="[metrics]\nenabled = false\n")
    server = servers.http("gateway", config=off)
    assert scrape(server).status_code == 404
    bad = tmp_path / "bad.toml"
    bad.write_text('[metrics]\naccess = "everyone"\n')
    done = run_cli(servers.bin, servers.data_dir, "--config", str(bad), "serve", "--http", "127.0.0.1:0")
    assert done.returncode != 0
    assert "access" in done.stderr and "loopback" in done.stderr, done.stderr


# Built at run time so that secret scanners reading this file do not flag it.
AWS_KEY = "AKIA" + "Q3EGUT7NZ5WOXD4M"
GITHUB_TOKEN = "ghp_" + "x7Kq2mZ9vR4tL8pW3nB6cY1dF5gH0jS2aE4u"


async def test_secrets_in_upstream_responses_are_redacted(servers, data_dir, tmp_path):
    # Redaction is on for `rp` only; `plain` runs the same server without it.
    config = config_with_upstream(tmp_path, upstream_extra="redact_secrets = true\n")
    with open(config, "a") as f:
        f.write(
            "\n[[upstreams]]\n"
            'name = "plain"\n'
            f"command = {str(PYTHON)!r}\n"
            f"args = [{str(RUGPULL)!r}]\n"
            "quarantined = false\n"
        )
    server = servers.http("gateway", config=config)
    planted = f"aws_access_key_id = {AWS_KEY}\ngithub: {GITHUB_TOKEN}\nthe rest stays"
    with anyio.fail_after(90):
        async with Client(server.url("/mcp"), read_timeout_seconds=60) as client:
            r = await client.call_tool("call_tool", {"name": "rp:echo", "args": {"text": planted}})
            assert not r.is_error, text(r)
            got = text(r)
            assert AWS_KEY not in got and GITHUB_TOKEN not in got, got
            assert "[REDACTED:BWK-SECRET-AWS-ACCESS-KEY]" in got, got
            assert "[REDACTED:BWK-SECRET-GITHUB" in got, got
            assert "the rest stays" in got
            # The SDK server also returns the text as structured content: redacted there too.
            assert r.structured_content and AWS_KEY not in json.dumps(r.structured_content)
            r = await client.call_tool("call_tool", {"name": "plain:echo", "args": {"text": planted}})
            assert AWS_KEY in text(r) and GITHUB_TOKEN in text(r)

    # Each occurrence counts: the text block and the structured copy.
    body = scrape(server).text
    per_rule = {
        rule: sample(body, "bulwark_upstream_redactions_total", upstream="rp", tool="echo", rule=rule)
        for rule in re.findall(r'bulwark_upstream_redactions_total\{[^}]*rule="([^"]+)"', body)
    }
    assert per_rule.get("BWK-SECRET-AWS-ACCESS-KEY") == 2, body
    assert any(rule.startswith("BWK-SECRET-GITHUB") and n == 2 for rule, n in per_rule.items()), body
    assert 'bulwark_upstream_redactions_total{upstream="plain"' not in body

    def audited():
        log = data_dir / "audit.jsonl"
        if not log.exists():
            return None
        events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        return [e for e in events if e.get("event_type") == "upstream_redaction"] or None

    events = wait_for(audited, timeout=10, what="the redaction's audit record")
    assert len(events) == 1, events
    event = events[0]
    assert event["action"] == "rp:echo" and event["outcome"] == "redacted"
    assert "BWK-SECRET-AWS-ACCESS-KEY" in event["detail"] and AWS_KEY not in json.dumps(event)
