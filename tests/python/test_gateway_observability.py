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


async def test_blocked_tools_are_not_listed_indexed_or_callable(servers, bulwark_bin, data_dir, tmp_path):
    config = config_with_upstream(tmp_path, upstream_extra='blocked_tools = ["wipe"]\n')
    server = servers.http("gateway", config=config)

    def cli(*args):
        return run_cli(bulwark_bin, data_dir, "--config", str(config), "upstream", *args)

    async def statuses(client):
        r = await client.call_tool("upstream_servers", {"operation": "list"})
        assert not r.is_error, text(r)
        (rp,) = [s for s in r.structured_content["servers"] if s["name"] == "rp"]
        return {t["name"]: t["status"] for t in rp["tools"]}

    async def found(client, query):
        r = await client.call_tool("retrieve_tools", {"query": query})
        assert not r.is_error, text(r)
        return [t["name"] for t in r.structured_content["tools"]]

    with anyio.fail_after(120):
        async with Client(server.url("/mcp"), read_timeout_seconds=60) as client:
            ok = await client.call_tool("call_tool", {"name": "rp:echo", "args": {"text": "before"}})
            assert not ok.is_error, text(ok)
            # Blocked in the config file from the start.
            assert (await statuses(client))["rp:wipe"] == "blocked"
            assert "rp:wipe" not in await found(client, "delete every record")
            refused = await client.call_tool("call_tool_destructive", {"name": "rp:wipe", "args": {}})
            assert refused.is_error and "bulwark upstream unblock rp wipe" in text(refused), text(refused)

            # Blocked by a person through the CLI while serving.
            out = cli("block", "rp", "echo")
            assert out.returncode == 0, out.stderr
            assert "blocked `rp:echo`" in out.stdout

            async def echo_blocked():
                return (await statuses(client))["rp:echo"] == "blocked"

            deadline = anyio.current_time() + 10
            while not await echo_blocked():
                assert anyio.current_time() < deadline, "the running server did not see the block"
                await anyio.sleep(0.2)
            assert "rp:echo" not in await found(client, "echo the text back")
            refused = await client.call_tool("call_tool", {"name": "rp:echo", "args": {"text": "x"}})
            assert refused.is_error and "blocked by a person" in text(refused), text(refused)

            # A typo is an error, not a silent success.
            typo = cli("unblock", "rp", "ecko")
            assert typo.returncode != 0 and "is not blocked" in typo.stderr and "echo" in typo.stderr, typo.stderr
            # `enable NAME TOOL` is `unblock`.
            out = cli("enable", "rp", "echo")
            assert out.returncode == 0, out.stderr

            async def echo_back():
                r = await client.call_tool("call_tool", {"name": "rp:echo", "args": {"text": "after"}})
                return None if r.is_error else r

            deadline = anyio.current_time() + 10
            while not (back := await echo_back()):
                assert anyio.current_time() < deadline, "the unblock did not take effect"
                await anyio.sleep(0.2)
            assert "after" in text(back)
            assert "rp:echo" in await found(client, "echo the text back")

            # Disabling the whole server hides all of it.
            out = cli("disable", "rp")
            assert out.returncode == 0 and "disabled" in out.stdout, out.stderr
    # Without --config: a process that loads the file sets the declared `enabled` again.
    listed = run_cli(bulwark_bin, data_dir, "upstream", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (rp,) = [s for s in json.loads(listed.stdout) if s["name"] == "rp"]
    assert rp["enabled"] is False and rp["blocked_tools"] == ["wipe"], rp
    assert cli("block", "nosuch", "x").returncode != 0


async def test_read_only_mode_and_disabled_management(servers, tmp_path):
    config = config_with_upstream(tmp_path, extra="read_only_mode = true\n")
    server = servers.http("gateway", config=config)
    with anyio.fail_after(60):
        async with Client(server.url("/mcp"), read_timeout_seconds=60) as client:
            listed = await client.call_tool("upstream_servers", {"operation": "list"})
            assert not listed.is_error, text(listed)
            for op in (
                {"operation": "add", "name": "x", "url": "http://127.0.0.1:9/mcp"},
                {"operation": "patch", "name": "rp", "enabled": False},
                {"operation": "remove", "name": "rp"},
            ):
                refused = await client.call_tool("upstream_servers", op)
                assert refused.is_error and "read-only mode" in text(refused), (op, text(refused))
            refused = await client.call_tool("quarantine_security", {"operation": "quarantine_server", "name": "rp"})
            assert refused.is_error and "read-only mode" in text(refused)
            ok = await client.call_tool("call_tool", {"name": "rp:echo", "args": {"text": "still works"}})
            assert not ok.is_error, text(ok)

    server.kill()  # one audit writer per data dir
    (tmp_path / "m").mkdir()
    config = config_with_upstream(tmp_path / "m", extra="disable_management = true\n")
    server = servers.http("gateway", config=config)
    with anyio.fail_after(60):
        async with Client(server.url("/mcp"), read_timeout_seconds=60) as client:
            for tool, args in (
                ("upstream_servers", {"operation": "list"}),
                ("quarantine_security", {"operation": "list_quarantined"}),
            ):
                refused = await client.call_tool(tool, args)
                assert refused.is_error and "disable_management" in text(refused), text(refused)
            ok = await client.call_tool("call_tool", {"name": "rp:echo", "args": {"text": "still works"}})
            assert not ok.is_error, text(ok)
