"""Shared versus per-client upstream sessions: the same stateful stdio server declared twice,
once shared and once with `sessions = "per-client"`, called by two MCP sessions (official Python
SDK, 2025-11-25 sessions). The shared one is one process for both; the per-client one is one
process per session, which keeps its own state and is closed once idle."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

pytestmark = pytest.mark.anyio

PID_SERVER = Path(__file__).resolve().parent / "upstreams" / "pid_server.py"


def text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


async def client_call(client, server: str):
    return await client.call_tool("call_tool", {"name": f"{server}:whoami", "args": {}})


def parse(r) -> tuple[str, int]:
    assert not r.is_error, text(r)
    m = re.fullmatch(r"id=([0-9a-f]{16}) calls=(\d+)", text(r))
    assert m, text(r)
    return m.group(1), int(m.group(2))


async def whoami(client, server: str) -> tuple[str, int]:
    return parse(await client_call(client, server))


async def client_sessions(client, server: str) -> int | None:
    r = await client.call_tool("upstream_servers", {"operation": "list"})
    assert not r.is_error, text(r)
    (entry,) = [s for s in r.structured_content["servers"] if s["name"] == server]
    return entry.get("connection", {}).get("client_sessions")


def config(tmp_path: Path, idle_secs: int = 600, max_sessions: int = 32) -> Path:
    path = tmp_path / "bulwark.toml"
    path.write_text(
        f"[gateway]\nclient_session_idle_secs = {idle_secs}\nmax_client_sessions = {max_sessions}\n"
        + "".join(
            f'\n[[upstreams]]\nname = "{name}"\ncommand = {sys.executable!r}\nargs = [{str(PID_SERVER)!r}]\n'
            f'quarantined = false\nsessions = "{sessions}"\n'
            for name, sessions in (("shared", "shared"), ("each", "per-client"))
        )
    )
    return path


async def test_per_client_upstreams_get_a_process_per_session_and_shared_ones_do_not(servers, tmp_path):
    server = servers.http("gateway", config=config(tmp_path))
    url = server.url("/mcp")
    with anyio.fail_after(120):
        async with Client(url, mode="legacy") as a, Client(url, mode="legacy") as b:
            # The gateway's own inspection of a declared server is one more client.
            deadline = anyio.current_time() + 60
            while (before := await client_sessions(a, "each")) == 0:
                assert anyio.current_time() < deadline, "`each` was never inspected"
                await anyio.sleep(0.3)
            a1, b1 = await whoami(a, "shared"), await whoami(b, "shared")
            assert a1[0] == b1[0], "a shared upstream is one process for every client"
            assert b1[1] == a1[1] + 1, "and keeps one state"

            pa1 = await whoami(a, "each")
            pb1 = await whoami(b, "each")
            pa2 = await whoami(a, "each")
            assert pa1[0] != pb1[0], "each session gets its own process"
            assert pa2[0] == pa1[0], "a session keeps its process between calls"
            assert (pa1[1], pb1[1], pa2[1]) == (1, 1, 2), "and its own state"
            assert await client_sessions(a, "each") == before + 2
            assert await client_sessions(a, "shared") is None


async def test_idle_per_client_connections_close_and_a_full_upstream_reuses_the_oldest(servers, tmp_path):
    server = servers.http("gateway", config=config(tmp_path, idle_secs=2, max_sessions=1))
    url = server.url("/mcp")
    with anyio.fail_after(120):
        async with Client(url, mode="legacy") as a, Client(url, mode="legacy") as b:
            # Let the gateway's own inspection finish first, so that its connection is idle.
            deadline = anyio.current_time() + 60
            while await client_sessions(a, "each") != 1:
                assert anyio.current_time() < deadline, "`each` was never inspected"
                await anyio.sleep(0.3)
            # The inspection may still hold its connection for a moment after listing: a busy
            # upstream refuses a new client with a message to retry, so retry briefly.
            deadline = anyio.current_time() + 20
            while True:
                r = await client_call(a, "each")
                if not r.is_error or "all in use" not in text(r):
                    break
                assert anyio.current_time() < deadline, text(r)
                await anyio.sleep(0.3)
            pa = parse(r)
            # At most one per-client connection: b's takes the place of a's (idle, not in use).
            pb = await whoami(b, "each")
            assert pb[0] != pa[0]
            assert await client_sessions(a, "each") == 1
            pa_again = await whoami(a, "each")
            assert pa_again[0] not in (pa[0], pb[0]) and pa_again[1] == 1, "a's old process was closed"
            # Unused for longer than client_session_idle_secs: closed by the background tick.
            deadline = anyio.current_time() + 20
            while await client_sessions(a, "each") != 0:
                assert anyio.current_time() < deadline, "the idle per-client connection was never closed"
                await anyio.sleep(0.5)
