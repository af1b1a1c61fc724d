"""Tenant credentials ride in each call's context, never in shared state:
1,000 concurrent calls across 50 tenants each see exactly their own."""

from __future__ import annotations

import asyncio
import hashlib

import httpx

from helpers import HTTP_TIMEOUT, post_stateless, rpc_response, run_cli, stateless_request


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
