"""HTTP authentication with API keys, scopes, RFC 9728 metadata, the
non-loopback guard, and rate limits (HTTP 429 and, over stdio, a JSON-RPC error)."""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from helpers import HTTP_TIMEOUT, clean_env, post_stateless, rpc_response, run_cli, text_of, wait_audit


def create_key(bulwark_bin, data_dir, name, scopes):
    done = run_cli(bulwark_bin, data_dir, "auth", "key", "create", "--name", name, "--scopes", scopes)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip().splitlines()[-1]
    assert secret.startswith("bwk_"), done.stdout
    return secret


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def test_key_secret_is_printed_once_and_never_stored(bulwark_bin, data_dir):
    secret = create_key(bulwark_bin, data_dir, "ci", "mcp,profile:core")
    listed = run_cli(bulwark_bin, data_dir, "auth", "key", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    keys = json.loads(listed.stdout)
    assert [k["name"] for k in keys] == ["ci"]
    assert secret not in listed.stdout
    rows = sqlite3.connect(data_dir / "bulwark.db").execute("select * from api_keys").fetchall()
    assert rows and secret not in repr(rows) and secret.split("_")[-1] not in repr(rows)


def test_http_requires_a_valid_key_with_the_right_scopes(servers, bulwark_bin, data_dir):
    good = create_key(bulwark_bin, data_dir, "ci", "mcp,profile:core")
    narrow = create_key(bulwark_bin, data_dir, "narrow", "mcp")
    server = servers.http("core", {"BULWARK_AUTH__METHODS": '["api-key"]'})
    url = server.url("/mcp/core")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(http, url, "tools/list")
        assert r.status_code == 401, r.text
        challenge = r.headers["www-authenticate"]
        assert challenge.startswith("Bearer resource_metadata=") and "/.well-known/oauth-protected-resource/mcp/core" in challenge

        r = post_stateless(http, url, "tools/list", headers=bearer("bwk_0123456789ab_" + "A" * 43))
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"], r.text

        r = post_stateless(http, url, "tools/list", headers=bearer(narrow))
        assert r.status_code == 403, r.text
        assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
        assert "profile:core" in r.headers["www-authenticate"]

        r = post_stateless(http, url, "tools/list", headers=bearer(good))
        assert r.status_code == 200, r.text
        assert "test_tool" in [t["name"] for t in rpc_response(r)["result"]["tools"]]

        # The same key does not reach another profile.
        r = post_stateless(http, server.url("/mcp/all"), "tools/list", headers=bearer(good))
        assert r.status_code == 403, r.text

        # Keys never travel in the URL.
        r = post_stateless(http, url + "?access_token=" + good, "tools/list", headers=bearer(good))
        assert r.status_code == 400, r.text

        meta = http.get(server.url("/.well-known/oauth-protected-resource/mcp/core")).json()
        assert meta["resource"].endswith("/mcp/core") and "profile:core" in meta["scopes_supported"]

        # Revoking takes effect on the running server within 0.1 s (it caches
        # verified keys and looks for other processes' changes that often).
        done = run_cli(bulwark_bin, data_dir, "auth", "key", "revoke", "ci")
        assert done.returncode == 0, done.stderr
        time.sleep(0.15)
        r = post_stateless(http, url, "tools/list", headers=bearer(good))
        assert r.status_code == 401, r.text


def test_calls_carry_the_principal_into_the_audit_record(servers, bulwark_bin, data_dir):
    good = create_key(bulwark_bin, data_dir, "auditor", "mcp,profile:*")
    server = servers.http("core", {"BULWARK_AUTH__METHODS": '["api-key"]'})
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(
            http, server.url("/mcp/core"), "tools/call", {"name": "test_tool", "arguments": {"message": "m"}}, headers=bearer(good)
        )
        assert text_of(rpc_response(r)["result"]) == "m"
    [record] = wait_audit(data_dir, lambda r: r["event_type"] == "tool_call", "tool call")
    assert record["user"] == "auditor" and record["action"] == "test_tool" and record["outcome"] == "success"
    # The record is the call's trace; stderr does not repeat it at the default level.
    assert not [line for line in server.stderr().splitlines() if "bulwark::audit" in line], server.stderr()


def test_without_the_audit_log_calls_leave_a_stderr_line_with_the_principal(servers, bulwark_bin, data_dir):
    good = create_key(bulwark_bin, data_dir, "auditor", "mcp,profile:*")
    server = servers.http("core", {"BULWARK_AUTH__METHODS": '["api-key"]', "BULWARK_AUDIT__ENABLED": "false"})
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(
            http, server.url("/mcp/core"), "tools/call", {"name": "test_tool", "arguments": {"message": "m"}}, headers=bearer(good)
        )
        assert text_of(rpc_response(r)["result"]) == "m"
    audit = [line for line in server.stderr().splitlines() if "bulwark::audit" in line]
    assert audit and 'principal="auditor"' in audit[-1], server.stderr()
    assert not (data_dir / "audit.jsonl").exists()


def test_non_loopback_http_without_auth_refuses_to_start(bulwark_bin, data_dir):
    done = run_cli(bulwark_bin, data_dir, "serve", "--http", "0.0.0.0:0", timeout=20)
    assert done.returncode == 2
    assert "--insecure-no-auth" in done.stderr and "--auth api-key" in done.stderr


def test_insecure_no_auth_is_an_explicit_choice(servers):
    server = servers.spawn(["serve", "--http", "0.0.0.0:0", "--profile", "core", "--insecure-no-auth"])
    assert server.proc.poll() is None


def test_mcp_requests_are_rate_limited_with_429(servers):
    server = servers.http("core", {"BULWARK_RATE_LIMIT__MCP_REQUESTS_PER_MINUTE": "4"})
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        statuses = [post_stateless(http, server.url("/mcp/core"), "tools/list").status_code for _ in range(6)]
        assert statuses[:4] == [200] * 4 and statuses[4:] == [429, 429], statuses
        r = post_stateless(http, server.url("/mcp/core"), "tools/list")
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 15, r.headers
        assert r.headers["ratelimit-limit"] == "4" and r.headers["ratelimit-remaining"] == "0"
        assert r.json()["error"]["code"] == -32029
    assert "rate limited" in server.stderr()


@pytest.mark.anyio
async def test_tool_limits_reach_stdio_as_a_json_rpc_error(bulwark_bin, data_dir):
    params = StdioServerParameters(
        command=bulwark_bin,
        args=["--data-dir", str(data_dir), "serve", "--profile", "core"],
        env=clean_env({"BULWARK_RATE_LIMIT__TOOLS__TEST_TOOL": "2"}),
    )
    async with Client(params, mode="legacy") as client:
        for _ in range(2):
            result = await client.call_tool("test_tool", {"message": "x"})
            assert result.content[0].text == "x"
        with pytest.raises(MCPError) as raised:
            await client.call_tool("test_tool", {"message": "x"})
        assert raised.value.error.code == -32029
        assert "retry in" in raised.value.error.message
        # Other tools keep their own budget.
        assert (await client.call_tool("is_online", {"sid": "local"})).is_error is not True


def test_unknown_tool_in_rate_limits_fails_at_start(bulwark_bin, data_dir):
    done = run_cli(
        bulwark_bin, data_dir, "serve", "--http", "127.0.0.1:0", env={"BULWARK_RATE_LIMIT__TOOLS__NO_SUCH_TOOL": "3"}, timeout=20
    )
    assert done.returncode == 2 and "rate_limit.tools.no_such_tool" in done.stderr, done.stderr


def test_denials_are_audited(servers, bulwark_bin, data_dir):
    narrow = create_key(bulwark_bin, data_dir, "narrow", "mcp")
    good = create_key(bulwark_bin, data_dir, "busy", "mcp,profile:core")
    server = servers.http(
        "core", {"BULWARK_AUTH__METHODS": '["api-key"]', "BULWARK_RATE_LIMIT__MCP_REQUESTS_PER_MINUTE": "2"}
    )
    url = server.url("/mcp/core")
    with httpx.Client(timeout=HTTP_TIMEOUT, headers={"User-Agent": "audit-test/1"}) as http:
        assert post_stateless(http, url, "tools/list").status_code == 401
        assert post_stateless(http, url, "tools/list", headers=bearer(narrow)).status_code == 403
        statuses = [post_stateless(http, url, "tools/list", headers=bearer(good)).status_code for _ in range(3)]
        assert statuses == [200, 200, 429], statuses
    wait_audit(data_dir, lambda r: r["event_type"] == "rate_limited", "rate_limited record")
    events = [json.loads(line) for line in (data_dir / "audit.jsonl").read_text().splitlines()]
    by_type = {e["event_type"]: e for e in events}
    assert by_type["http.401"]["status_code"] == 401 and by_type["http.401"]["user_agent"] == "audit-test/1"
    assert by_type["http.403"]["user"] == "narrow" and "profile:core" in by_type["http.403"]["detail"]
    assert by_type["rate_limited"]["user"] == "busy" and by_type["rate_limited"]["source_ip"] == "127.0.0.1"
    done = run_cli(bulwark_bin, data_dir, "audit", "verify")
    assert done.returncode == 0, done.stderr
