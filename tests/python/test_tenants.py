"""Tenant credentials ride in each call's context, never in shared state:
1,000 concurrent calls across 50 tenants each see exactly their own. Stored
credentials (`bulwark tenant credential ...`) are encrypted at rest and
resolved per request."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import time
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from helpers import HTTP_TIMEOUT, clean_env, post_stateless, rpc_response, run_cli, stateless_request


def fingerprint(credentials: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(credentials):
        h.update(f"{name}={credentials[name]}\n".encode())
    return h.hexdigest()


def tenant_headers(tenant: str, credentials: dict[str, str]) -> dict[str, str]:
    headers = {"X-Tenant-Id": tenant}
    headers.update({f"X-Tenant-Credential-{k}": v for k, v in credentials.items()})
    return headers


def test_1000_concurrent_calls_across_50_tenants_never_mix(servers):
    server = servers.http(
        "diagnostics",
        {"BULWARK_AUTH__TENANT_HEADERS": "true", "BULWARK_RATE_LIMIT__MCP_REQUESTS_PER_MINUTE": "0"},
    )
    url = server.url("/mcp/diagnostics")
    tenants = {
        f"tenant-{n:02d}": {"api_key": f"key-{n}-{'x' * (n % 7)}", "oid": f"org-{n * 7919}"} for n in range(50)
    }

    async def one(client: httpx.AsyncClient, i: int) -> tuple[str, dict]:
        tenant = f"tenant-{i % 50:02d}"
        headers, body = stateless_request(
            "tools/call", {"name": "tenant_fingerprint", "arguments": {}}, request_id=i, headers=tenant_headers(tenant, tenants[tenant])
        )
        r = await client.post(url, headers=headers, json=body)
        return tenant, rpc_response(r, i)["result"]["structuredContent"]

    async def run() -> list[tuple[str, dict]]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, limits=limits) as client:
            return await asyncio.gather(*(one(client, i) for i in range(1000)))

    results = asyncio.run(run())
    assert len(results) == 1000
    mismatches = [
        (tenant, got)
        for tenant, got in results
        if got["tenant"] != tenant or got["fingerprint"] != fingerprint(tenants[tenant])
    ]
    assert not mismatches, f"{len(mismatches)} calls saw another tenant's credentials: {mismatches[:3]}"
    assert results[0][1]["credential_names"] == ["api_key", "oid"]
    # Credentials never reach the log.
    assert "key-1-x" not in server.stderr()


def test_tenant_header_errors_are_400(servers):
    server = servers.http("diagnostics", {"BULWARK_AUTH__TENANT_HEADERS": "true"})
    url = server.url("/mcp/diagnostics")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(http, url, "tools/list", headers={"X-Tenant-Credential-api_key": "k"})
        assert r.status_code == 400 and "X-Tenant-Id" in r.text, r.text
        r = post_stateless(http, url, "tools/list", headers={"X-Tenant-Id": "bad tenant!"})
        assert r.status_code == 400, r.text


def test_tenant_headers_are_ignored_unless_enabled(servers):
    plain = servers.http("diagnostics")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(
            http,
            plain.url("/mcp/diagnostics"),
            "tools/call",
            {"name": "tenant_fingerprint", "arguments": {}},
            headers=tenant_headers("t1", {"api_key": "k"}),
        )
        assert rpc_response(r)["result"]["structuredContent"]["tenant"] is None


def test_keys_bound_to_a_tenant_act_for_it_only(servers, bulwark_bin, data_dir):
    done = run_cli(
        bulwark_bin, data_dir, "auth", "key", "create", "--name", "acme-ci", "--scopes", "mcp,profile:diagnostics", "--tenant", "acme"
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    server = servers.http(
        "diagnostics", {"BULWARK_AUTH__METHODS": '["api-key"]', "BULWARK_AUTH__TENANT_HEADERS": "true"}
    )
    url = server.url("/mcp/diagnostics")
    call = {"name": "tenant_fingerprint", "arguments": {}}
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(http, url, "tools/call", call, headers={"Authorization": f"Bearer {key}"})
        assert rpc_response(r)["result"]["structuredContent"]["tenant"] == "acme"

        creds = {"api_key": "acme-secret"}
        headers = {"Authorization": f"Bearer {key}", **tenant_headers("acme", creds)}
        got = rpc_response(post_stateless(http, url, "tools/call", call, headers=headers))["result"]["structuredContent"]
        assert got["fingerprint"] == fingerprint(creds)

        r = post_stateless(http, url, "tools/call", call, headers={"Authorization": f"Bearer {key}", "X-Tenant-Id": "globex"})
        assert r.status_code == 403 and "acme" in r.text, r.text
        # LimaCharlie style `Bearer <key>:<tenant>`.
        r = post_stateless(http, url, "tools/call", call, headers={"Authorization": f"Bearer {key}:globex"})
        assert r.status_code == 403, r.text
        r = post_stateless(http, url, "tools/call", call, headers={"Authorization": f"Bearer {key}:acme"})
        assert rpc_response(r)["result"]["structuredContent"]["tenant"] == "acme"


# --------------------------------------------------------------------------
# Stored credentials
# --------------------------------------------------------------------------


def set_credential(bin_path: str, data_dir: Path, tenant: str, name: str, value: str) -> subprocess.CompletedProcess:
    """`bulwark tenant credential set`, the value on stdin (never in argv)."""
    return subprocess.run(
        [bin_path, "--data-dir", str(data_dir), "tenant", "credential", "set", tenant, name],
        input=value + "\n",
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )


async def sdk_fingerprint(url: str, headers: dict[str, str]) -> dict:
    """tenant_fingerprint through the official SDK, with these request headers."""
    async with httpx.AsyncClient(headers=headers, timeout=HTTP_TIMEOUT) as http:
        async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=30) as client:
            result = await client.call_tool("tenant_fingerprint", {})
            assert result.is_error is not True, result
            return result.structured_content


@pytest.mark.anyio
async def test_stored_credentials_are_resolved_per_request(servers, bulwark_bin, data_dir):
    stored = {"api_key": "t1-stored-secret-9b1e", "oid": "org-t1"}
    for name, value in stored.items():
        done = set_credential(bulwark_bin, data_dir, "t1", name, value)
        assert done.returncode == 0, done.stderr
    # Another tenant's credentials never leak into t1's calls.
    assert set_credential(bulwark_bin, data_dir, "t2", "api_key", "t2-secret").returncode == 0
    done = run_cli(
        bulwark_bin, data_dir, "auth", "key", "create", "--name", "t1-ci", "--scopes", "mcp,profile:diagnostics", "--tenant", "t1"
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    server = servers.http(
        "diagnostics",
        {"BULWARK_AUTH__METHODS": '["api-key"]', "BULWARK_AUTH__TENANT_HEADERS": "true"},
    )
    url = server.url("/mcp/diagnostics")
    bearer = {"Authorization": f"Bearer {key}"}

    with anyio.fail_after(90):
        got = await sdk_fingerprint(url, bearer)
        assert got["tenant"] == "t1"
        assert got["credential_names"] == ["api_key", "oid"]
        assert got["fingerprint"] == fingerprint(stored)

        # A header credential overrides the stored one of the same name.
        override = {"api_key": "from-header"}
        got = await sdk_fingerprint(url, {**bearer, **tenant_headers("t1", override)})
        assert got["fingerprint"] == fingerprint({**stored, **override})

        # A change through the CLI is seen by the running server.
        assert set_credential(bulwark_bin, data_dir, "t1", "api_key", "rotated-value").returncode == 0
        time.sleep(0.2)
        got = await sdk_fingerprint(url, bearer)
        assert got["fingerprint"] == fingerprint({**stored, "api_key": "rotated-value"})
        done = run_cli(bulwark_bin, data_dir, "tenant", "credential", "remove", "t1", "oid")
        assert done.returncode == 0, done.stderr
        time.sleep(0.2)
        got = await sdk_fingerprint(url, bearer)
        assert got["credential_names"] == ["api_key"]

    listed = run_cli(bulwark_bin, data_dir, "tenant", "credential", "list", "t1")
    assert listed.returncode == 0 and "api_key" in listed.stdout, listed
    assert "rotated-value" not in listed.stdout and "oid" not in listed.stdout
    # Encrypted at rest: no plaintext in the database (or its WAL), nor in the log.
    for path in data_dir.glob("bulwark.db*"):
        raw = path.read_bytes()
        for value in [*stored.values(), "rotated-value", "t2-secret"]:
            assert value.encode() not in raw, f"{value} in {path.name}"
    key_file = data_dir / "secrets.key"
    assert key_file.stat().st_size == 32 and key_file.stat().st_mode & 0o077 == 0
    assert "rotated-value" not in server.stderr() and "t1-stored" not in server.stderr()


def test_stored_credentials_without_authentication(servers, bulwark_bin, data_dir):
    """auth `none` with tenant headers: the tenant named in `X-Tenant-Id` gets its stored credentials."""
    assert set_credential(bulwark_bin, data_dir, "acme", "token", "acme-token").returncode == 0
    server = servers.http("diagnostics", {"BULWARK_AUTH__TENANT_HEADERS": "true"})
    call = {"name": "tenant_fingerprint", "arguments": {}}
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(http, server.url("/mcp/diagnostics"), "tools/call", call, headers={"X-Tenant-Id": "acme"})
        got = rpc_response(r)["result"]["structuredContent"]
        assert got["fingerprint"] == fingerprint({"token": "acme-token"})
        r = post_stateless(http, server.url("/mcp/diagnostics"), "tools/call", call, headers={"X-Tenant-Id": "other"})
        assert rpc_response(r)["result"]["structuredContent"]["fingerprint"] == fingerprint({})


def test_store_only_mode_refuses_credential_headers(servers, bulwark_bin, data_dir):
    assert set_credential(bulwark_bin, data_dir, "acme", "token", "acme-token").returncode == 0
    server = servers.http(
        "diagnostics", {"BULWARK_AUTH__TENANT_HEADERS": "true", "BULWARK_AUTH__TENANT_CREDENTIALS": "store"}
    )
    url = server.url("/mcp/diagnostics")
    call = {"name": "tenant_fingerprint", "arguments": {}}
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(http, url, "tools/call", call, headers=tenant_headers("acme", {"token": "forged"}))
        assert r.status_code == 400 and "store" in r.text, r.text
        r = post_stateless(http, url, "tools/call", call, headers={"X-Tenant-Id": "acme"})
        assert rpc_response(r)["result"]["structuredContent"]["fingerprint"] == fingerprint({"token": "acme-token"})


def test_unreadable_stored_credentials_answer_503(servers, bulwark_bin, data_dir):
    """A replaced secrets key cannot decrypt: the call fails rather than running without credentials."""
    assert set_credential(bulwark_bin, data_dir, "acme", "token", "acme-token").returncode == 0
    key_file = data_dir / "secrets.key"
    key_file.write_bytes(bytes(32))  # another (valid-looking) key
    server = servers.http("diagnostics", {"BULWARK_AUTH__TENANT_HEADERS": "true"})
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(
            http, server.url("/mcp/diagnostics"), "tools/call", {"name": "tenant_fingerprint", "arguments": {}},
            headers={"X-Tenant-Id": "acme"},
        )
        assert r.status_code == 503, r.text
        # Requests without a tenant are not affected.
        r = post_stateless(http, server.url("/mcp/diagnostics"), "tools/list")
        assert r.status_code == 200, r.text
    assert "cannot decrypt credential `token` of tenant `acme`" in server.stderr()


@pytest.mark.parametrize(
    ("tenant", "name", "message"),
    [
        ("../x", "api_key", "invalid tenant"),
        ("a tenant", "api_key", "invalid tenant"),
        ("t" * 300, "api_key", "invalid tenant"),
        ("t1", "../x", "invalid credential name"),
        ("t1", "api key", "invalid credential name"),
        ("t1", "n" * 300, "invalid credential name"),
    ],
)
def test_hostile_tenants_and_names_are_refused(bulwark_bin, data_dir, tenant, name, message):
    done = set_credential(bulwark_bin, data_dir, tenant, name, "value")
    assert done.returncode == 2, done
    assert message in done.stderr and "letters, digits" in done.stderr, done.stderr
    assert len(done.stderr) < 500, "long input is not echoed whole"
    assert not list(data_dir.glob("x*")) and not (data_dir.parent / "x").exists()


def test_empty_values_are_refused_and_the_key_file_is_checked(bulwark_bin, data_dir):
    done = set_credential(bulwark_bin, data_dir, "t1", "api_key", "")
    assert done.returncode == 2 and "no value on stdin" in done.stderr, done.stderr
    assert set_credential(bulwark_bin, data_dir, "t1", "api_key", "v").returncode == 0
    key_file = data_dir / "secrets.key"
    key_file.chmod(0o644)
    done = set_credential(bulwark_bin, data_dir, "t1", "api_key", "w")
    assert done.returncode == 2 and "chmod 600" in done.stderr, done.stderr
    key_file.chmod(0o600)
    key_file.write_bytes(b"short")
    done = set_credential(bulwark_bin, data_dir, "t1", "api_key", "w")
    assert done.returncode == 2 and "exactly 32" in done.stderr, done.stderr
