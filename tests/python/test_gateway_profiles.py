"""Upstream tools placed in a profile of their own (`server:*` and `server:tool` in a profiles
file), listed and called like built-in tools through the official Python SDK client; only
approved tools appear, and a tool blocked with the CLI leaves the listing of the running server."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from helpers import run_cli

pytestmark = pytest.mark.anyio

PID_SERVER = Path(__file__).resolve().parent / "upstreams" / "pid_server.py"


def text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def upstream(name: str, quarantined: bool) -> str:
    return (
        f'\n[[upstreams]]\nname = "{name}"\ncommand = {sys.executable!r}\nargs = [{str(PID_SERVER)!r}]\n'
        f"quarantined = {'true' if quarantined else 'false'}\n"
    )


async def test_upstream_tools_placed_in_a_profile_are_listed_called_and_follow_blocks(
    servers, bulwark_bin, data_dir, tmp_path
):
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        '[profiles.ops]\ndescription = "Inventory lookups from upstream servers"\n'
        'tools = ["probe:*", "held:whoami", "test_tool"]\n'
    )
    config = tmp_path / "bulwark.toml"
    config.write_text(
        f'profiles_file = "{profiles}"\n'
        + upstream("probe", quarantined=False)
        + upstream("hidden", quarantined=False)
        + upstream("held", quarantined=True)
    )
    server = servers.http(None, config=config)
    with anyio.fail_after(120):
        async with Client(server.url("/mcp/ops")) as client:

            async def listed():
                return {t.name: t for t in (await client.list_tools()).tools}

            deadline = anyio.current_time() + 60
            while "probe:whoami" not in (tools := await listed()):
                assert anyio.current_time() < deadline, f"probe:whoami never listed: {sorted(tools)}"
                await anyio.sleep(0.3)
            tool = tools["probe:whoami"]
            assert "random id" in tool.description
            assert tool.annotations is not None and tool.annotations.read_only_hint is True
            assert "test_tool" in tools, "built-in tools of the profile are still there"
            assert "hidden:whoami" not in tools, "a server the profile does not place"
            assert "held:whoami" not in tools, "a quarantined server's tool is never offered"
            assert "call_tool" not in tools, "the gateway's own tools are not in this profile"

            r = await client.call_tool("probe:whoami", {})
            assert not r.is_error, text(r)
            assert text(r).startswith("id=") and text(r).endswith("calls=1")

            for name in ("hidden:whoami", "held:whoami"):
                with pytest.raises(Exception) as refused:
                    await client.call_tool(name, {})
                assert "unknown tool" in str(refused.value), str(refused.value)

            # A person blocks the tool with the CLI: the running server stops offering it.
            out = run_cli(bulwark_bin, data_dir, "--config", str(config), "upstream", "block", "probe", "whoami")
            assert out.returncode == 0, out.stderr
            deadline = anyio.current_time() + 10
            while "probe:whoami" in await listed():
                assert anyio.current_time() < deadline, "a blocked tool stayed listed"
                await anyio.sleep(0.3)
            with pytest.raises(Exception) as refused:
                await client.call_tool("probe:whoami", {})
            assert "unknown tool" in str(refused.value)


def test_a_malformed_upstream_pattern_is_a_config_error(bulwark_bin, data_dir, tmp_path):
    profiles = tmp_path / "profiles.toml"
    profiles.write_text('[profiles.ops]\ntools = ["probe:who*"]\n')
    config = tmp_path / "bulwark.toml"
    config.write_text(f'profiles_file = "{profiles}"\n')
    r = run_cli(bulwark_bin, data_dir, "config", "check", str(config))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "probe:who*" in r.stderr and "SERVER:TOOL" in r.stderr, r.stderr
