"""Reference MCP servers of other authors behind the gateway: `@modelcontextprotocol/server-memory`
(npm), `mcp-server-time` and `mcp-server-git` (PyPI), aggregated by `bulwark serve --http`,
searched with retrieve_tools and called, all through the official Python SDK client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

pytestmark = pytest.mark.anyio

NODE_MODULES = Path(
    os.environ.get("BULWARK_NODE_MODULES", Path(__file__).resolve().parents[2] / "tools/npm/node_modules")
)
MEMORY = NODE_MODULES / "@modelcontextprotocol/server-memory/dist/index.js"
PYTHON = sys.executable


def text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def git_repo(path: Path) -> Path:
    path.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    for args in (["init", "-q", "-b", "main"], ["add", "notes.txt"], ["commit", "-q", "-m", "first note"]):
        if args[0] == "add":
            (path / "notes.txt").write_text("hello\n")
        subprocess.run(["git", *args], cwd=path, env=env, check=True)
    (path / "notes.txt").write_text("hello\nchanged\n")
    return path


def toml_list(items) -> str:
    return "[" + ", ".join(repr(str(i)) for i in items) + "]"


async def test_reference_servers_are_aggregated_searched_and_called(servers, tmp_path):
    repo = git_repo(tmp_path / "repo")
    memory_file = tmp_path / "memory.jsonl"
    upstreams = {
        # Sandboxed (the default), the server writes only where it is allowed to.
        "memory": (
            "node",
            [MEMORY],
            f'env = {{ MEMORY_FILE_PATH = "{memory_file}" }}\nwritable = ["{tmp_path}"]\n',
        ),
        "time": (PYTHON, ["-m", "mcp_server_time", "--local-timezone", "UTC"], ""),
        "git": (PYTHON, ["-m", "mcp_server_git", "--repository", repo], ""),
    }
    config = tmp_path / "bulwark.toml"
    config.write_text(
        "[gateway]\ncall_timeout_secs = 30\n"
        + "".join(
            f'\n[[upstreams]]\nname = "{name}"\ncommand = {str(cmd)!r}\nargs = {toml_list(args)}\n'
            f"quarantined = false\n{extra}"
            for name, (cmd, args, extra) in upstreams.items()
        )
    )
    server = servers.http("gateway", config=config)

    with anyio.fail_after(180):
        async with Client(server.url("/mcp"), read_timeout_seconds=90) as client:

            async def listing():
                r = await client.call_tool("upstream_servers", {"operation": "list"})
                assert not r.is_error, text(r)
                return {
                    t["name"]
                    for s in r.structured_content["servers"]
                    for t in s["tools"]
                    if t["status"] == "approved"
                }

            # bulwark lists each server in the background; wait for all three.
            deadline = anyio.current_time() + 90
            while not {"memory:create_entities", "time:get_current_time", "git:git_status"} <= (names := await listing()):
                assert anyio.current_time() < deadline, f"not all servers were listed: {sorted(names)}"
                await anyio.sleep(0.5)
            assert {"memory:read_graph", "memory:search_nodes", "time:convert_time", "git:git_log", "git:git_diff_unstaged"} <= names

            async def top(query, n=3):
                r = await client.call_tool("retrieve_tools", {"query": query, "limit": n})
                assert not r.is_error, text(r)
                return [t["name"] for t in r.structured_content["tools"]]

            assert "time:get_current_time" in await top("current time in a timezone")
            assert "time:convert_time" in await top("convert a time between timezones")
            assert "memory:create_entities" in await top("create entities in the knowledge graph")
            assert "git:git_status" in await top("working tree status of the git repository")
            assert "git:git_log" in await top("commit log history")

            now = await client.call_tool("call_tool", {"name": "time:get_current_time", "args": {"timezone": "UTC"}})
            assert not now.is_error, text(now)
            assert "UTC" in text(now) and "datetime" in text(now)
            bad = await client.call_tool("call_tool", {"name": "time:get_current_time", "args": {"timezone": "Mars/Olympus"}})
            assert bad.is_error and "Mars/Olympus" in text(bad)

            made = await client.call_tool(
                "call_tool",
                {
                    "name": "memory:create_entities",
                    "args": {
                        "entities": [
                            {"name": "host-17", "entityType": "host", "observations": ["beacons to 203.0.113.9"]}
                        ]
                    },
                },
            )
            assert not made.is_error, text(made)
            found = await client.call_tool("call_tool", {"name": "memory:search_nodes", "args": {"query": "host-17"}})
            assert not found.is_error and "beacons to 203.0.113.9" in text(found), text(found)
            assert "host-17" in memory_file.read_text()

            status = await client.call_tool("call_tool", {"name": "git:git_status", "args": {"repo_path": str(repo)}})
            assert not status.is_error, text(status)
            assert "notes.txt" in text(status)
            log = await client.call_tool("call_tool", {"name": "git:git_log", "args": {"repo_path": str(repo)}})
            assert not log.is_error and "first note" in text(log), text(log)
            diff = await client.call_tool("call_tool", {"name": "git:git_diff_unstaged", "args": {"repo_path": str(repo)}})
            assert "+changed" in text(diff), text(diff)
