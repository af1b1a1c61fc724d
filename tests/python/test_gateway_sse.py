"""A legacy HTTP+SSE upstream (the official Python SDK's `sse` transport) behind the gateway:
listed, searched and called through the official Python SDK client, several calls in flight on
the one event stream, and reconnected on the next use after the server restarts."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from helpers import free_port

pytestmark = pytest.mark.anyio

SSE_SERVER = Path(__file__).resolve().parent / "upstreams" / "sse_server.py"


def text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def start_sse_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(SSE_SERVER), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            assert proc.poll() is None, "the SSE fixture server exited before listening"
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the SSE fixture server never listened on {port}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def test_a_legacy_sse_upstream_is_listed_searched_called_and_reconnected(servers, tmp_path):
    port = free_port()
    upstream = start_sse_server(port)
    try:
        config = tmp_path / "bulwark.toml"
        config.write_text(
            "[gateway]\ncall_timeout_secs = 20\n"
            "\n[[upstreams]]\n"
            'name = "legacy"\n'
            f'url = "http://127.0.0.1:{port}/sse"\n'
            'protocol = "sse"\n'
            "quarantined = false\n"
        )
        server = servers.http("gateway", config=config)
        with anyio.fail_after(120):
            async with Client(server.url("/mcp"), read_timeout_seconds=60) as client:

                async def approved():
                    r = await client.call_tool("upstream_servers", {"operation": "list"})
                    assert not r.is_error, text(r)
                    (entry,) = [s for s in r.structured_content["servers"] if s["name"] == "legacy"]
                    return entry, {t["name"] for t in entry["tools"] if t["status"] == "approved"}

                deadline = anyio.current_time() + 60
                while {"legacy:lookup_host", "legacy:slow_echo"} - (found := await approved())[1]:
                    assert anyio.current_time() < deadline, f"the SSE upstream was never listed: {found[0]}"
                    await anyio.sleep(0.3)
                entry, _ = found
                assert entry.get("protocol", entry.get("transport", "sse")) == "sse", entry

                r = await client.call_tool("retrieve_tools", {"query": "look up a host in the asset inventory", "limit": 3})
                assert not r.is_error, text(r)
                assert r.structured_content["tools"][0]["name"] == "legacy:lookup_host"

                r = await client.call_tool("call_tool", {"name": "legacy:lookup_host", "args": {"name": "web-01"}})
                assert not r.is_error, text(r)
                assert "host web-01: owner=secops" in text(r)

                # Four slow calls at once finish together, not one after another: the answers
                # come back interleaved on the one event stream and are matched by id.
                started = time.monotonic()
                results = {}

                async def echo(i):
                    r = await client.call_tool(
                        "call_tool", {"name": "legacy:slow_echo", "args": {"text": f"n{i}", "seconds": 1.0}}
                    )
                    results[i] = r

                async with anyio.create_task_group() as tg:
                    for i in range(4):
                        tg.start_soon(echo, i)
                elapsed = time.monotonic() - started
                for i, r in results.items():
                    assert not r.is_error and text(r) == f"echo: n{i}", text(r)
                assert elapsed < 3.5, f"four 1 s calls took {elapsed:.1f}s: they did not overlap"

                # The server goes away: the caller gets a clear error, not a hang...
                stop(upstream)
                r = await client.call_tool("call_tool", {"name": "legacy:lookup_host", "args": {"name": "web-02"}})
                assert r.is_error, text(r)
                assert "legacy" in text(r), text(r)

                # ...and once it is back, the next use reconnects (a new stream, a new endpoint).
                upstream = start_sse_server(port)
                deadline = anyio.current_time() + 60
                while True:
                    r = await client.call_tool("call_tool", {"name": "legacy:lookup_host", "args": {"name": "web-03"}})
                    if not r.is_error:
                        break
                    assert anyio.current_time() < deadline, f"never reconnected: {text(r)}"
                    await anyio.sleep(0.5)
                assert "host web-03" in text(r)
    finally:
        stop(upstream)
