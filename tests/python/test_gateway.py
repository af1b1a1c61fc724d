"""The gateway with real upstream MCP servers, driven through the official Python SDK client
against `bulwark serve`: quarantine, approval through the CLI while serving, calls, a rug pull,
a killed upstream, a hanging one, hostile input, cut responses."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from helpers import clean_env, free_port, run_cli, wait_for

pytestmark = pytest.mark.anyio

NODE_MODULES = Path(
    os.environ.get("BULWARK_NODE_MODULES", Path(__file__).resolve().parents[2] / "tools/npm/node_modules")
)
EVERYTHING = NODE_MODULES / "@modelcontextprotocol/server-everything/dist/index.js"
FILESYSTEM = NODE_MODULES / "@modelcontextprotocol/server-filesystem/dist/index.js"
RUGPULL = Path(__file__).parent / "upstreams" / "rugpull_server.py"
PYTHON = sys.executable


def write_config(tmp_path: Path, extra: str = "", name: str = "bulwark.toml") -> Path:
    config = tmp_path / name
    config.write_text(
        "[gateway]\n"
        "call_timeout_secs = 3\n"
        "connect_timeout_secs = 30\n"
        "max_args_bytes = 100000\n" + extra
    )
    return config


def cli(bulwark_bin, data_dir, config, *args, timeout=90):
    return run_cli(bulwark_bin, data_dir, "--config", str(config), *args, timeout=timeout)


def gateway_client(bulwark_bin, data_dir, config, tmp_path, env=None):
    params = StdioServerParameters(
        command=bulwark_bin,
        args=["--data-dir", str(data_dir), "--config", str(config), "serve", "--profile", "gateway"],
        env=clean_env(env),
    )
    errlog = open(tmp_path / "serve.stderr", "w")
    return Client(stdio_client(params, errlog=errlog), read_timeout_seconds=60), errlog


def text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


async def servers_list(client) -> dict[str, dict]:
    result = await client.call_tool("upstream_servers", {"operation": "list"})
    assert not result.is_error, text(result)
    return {s["name"]: s for s in result.structured_content["servers"]}


async def wait_until(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await anyio.sleep(0.2)


def add_rugpull(bulwark_bin, data_dir, config, pidfile: Path | None = None):
    args = ["upstream", "add", "rp"]
    if pidfile is not None:
        # The test kills the server by the pid it writes: unsandboxed, because in bwrap's PID
        # namespace that pid is not the host's (and the pid file lies outside its sandbox).
        args += ["--env", f"GW_PIDFILE={pidfile}", "--sandbox", "none"]
    out = cli(bulwark_bin, data_dir, config, *args, "--", PYTHON, str(RUGPULL))
    assert out.returncode == 0, out.stderr
    return out


async def test_quarantine_hides_tools_until_a_person_approves(bulwark_bin, data_dir, tmp_path):
    config = write_config(tmp_path)
    allowed = tmp_path / "files"
    allowed.mkdir()
    (allowed / "note.txt").write_text("hello from the filesystem upstream\n")
    for name, cmd in [
        ("everything", ["node", str(EVERYTHING), "stdio"]),
        ("fs", ["node", str(FILESYSTEM), str(allowed)]),
    ]:
        out = cli(bulwark_bin, data_dir, config, "upstream", "add", name, "--", *cmd)
        assert out.returncode == 0, out.stderr
        assert "quarantined" in out.stdout

    client, errlog = gateway_client(bulwark_bin, data_dir, config, tmp_path)
    with errlog:
        with anyio.fail_after(120):
            async with client:
                # bulwark inspects new servers in the background: tools are listed, but
                # every one is quarantined and none carries its description.
                async def inspected():
                    servers = await servers_list(client)
                    return servers if all(s["tools"] for s in servers.values()) else None

                servers = await wait_until(inspected, what="background inspection")
                assert servers["everything"]["quarantined"] is True
                for tool in servers["everything"]["tools"]:
                    assert tool["status"] == "quarantined"
                    assert "description" not in tool

                refused = await client.call_tool("call_tool", {"name": "everything:echo", "args": {"message": "x"}})
                assert refused.is_error
                assert "quarantined" in text(refused) and "bulwark upstream approve everything" in text(refused)

                inspect = await client.call_tool(
                    "quarantine_security", {"operation": "inspect_quarantined", "name": "everything"}
                )
                assert not inspect.is_error, text(inspect)
                quoted = {t["name"]: t["description_quoted"] for t in inspect.structured_content["tools"]}
                assert quoted["everything:echo"] == "> Echoes back the input\n"

                listed = await client.call_tool("quarantine_security", {"operation": "list_quarantined"})
                assert {q["name"] for q in listed.structured_content["quarantined"]} == {"everything", "fs"}

                # An agent cannot approve: there is no such operation.
                sneaky = await client.call_tool("quarantine_security", {"operation": "approve", "name": "everything"})
                assert sneaky.is_error

                # A person approves through the CLI while the server runs.
                for name in ("everything", "fs"):
                    out = cli(bulwark_bin, data_dir, config, "upstream", "approve", name)
                    assert out.returncode == 0, out.stderr
                    assert "pinned" in out.stdout

                async def approved():
                    servers = await servers_list(client)
                    return servers if not any(s["quarantined"] for s in servers.values()) else None

                servers = await wait_until(approved, what="the running server to see the approval")
                callable_tools = {
                    t["name"] for s in servers.values() for t in s["tools"] if t["status"] == "approved"
                }
                assert {"everything:echo", "everything:add", "fs:read_text_file", "fs:list_directory"} <= callable_tools

                echo = await client.call_tool(
                    "call_tool_destructive", {"name": "everything:echo", "args": {"message": "through bulwark"}}
                )
                assert not echo.is_error, text(echo)
                assert text(echo) == "Echo: through bulwark"

                read = await client.call_tool(
                    "call_tool_read",
                    {"name": "fs:read_text_file", "args": {"path": str(allowed / "note.txt")}},
                )
                assert not read.is_error, text(read)
                assert "hello from the filesystem upstream" in text(read)

                # The filesystem server's own checks still apply behind the gateway.
                outside = await client.call_tool(
                    "call_tool_read", {"name": "fs:read_text_file", "args": {"path": "/etc/passwd"}}
                )
                assert outside.is_error or "denied" in text(outside).lower(), text(outside)

                # Putting it back into quarantine hides it again.
                back = await client.call_tool(
                    "quarantine_security", {"operation": "quarantine_server", "name": "everything"}
                )
                assert not back.is_error
                again = await client.call_tool("call_tool", {"name": "everything:echo", "args": {"message": "x"}})
                assert again.is_error and "quarantined" in text(again)

    listing = cli(bulwark_bin, data_dir, config, "upstream", "list", "--json")
    records = {r["name"]: r for r in json.loads(listing.stdout)}
    assert records["everything"]["quarantined"] is True
    assert records["fs"]["quarantined"] is False


async def test_rug_pull_is_blocked_with_a_diff(bulwark_bin, data_dir, tmp_path):
    config = write_config(tmp_path)
    add_rugpull(bulwark_bin, data_dir, config)
    out = cli(bulwark_bin, data_dir, config, "upstream", "approve", "rp")
    assert out.returncode == 0, out.stderr

    client, errlog = gateway_client(bulwark_bin, data_dir, config, tmp_path)
    with errlog:
        with anyio.fail_after(90):
            async with client:
                ok = await client.call_tool("call_tool_read", {"name": "rp:echo", "args": {"text": "before"}})
                assert not ok.is_error, text(ok)
                assert "before" in text(ok)

                # `rug` is not marked read-only: call_tool_read refuses it and names the variant.
                wrong = await client.call_tool("call_tool_read", {"name": "rp:rug", "args": {}})
                assert wrong.is_error and "call_tool_destructive" in text(wrong), text(wrong)
                switched = await client.call_tool("call_tool_destructive", {"name": "rp:rug", "args": {}})
                assert not switched.is_error, text(switched)

                async def blocked():
                    r = await client.call_tool("call_tool_read", {"name": "rp:echo", "args": {"text": "after"}})
                    return r if r.is_error else None

                refused = await wait_until(blocked, what="the changed tool to be blocked")
                message = text(refused)
                assert "changed since it was approved" in message, message
                assert "-Echo the text back." in message and "+Echo the text back. <IMPORTANT>" in message

                inspect = await client.call_tool("quarantine_security", {"operation": "inspect_tools", "name": "rp"})
                echo = next(t for t in inspect.structured_content["tools"] if t["name"] == "rp:echo")
                assert echo["status"] == "changed"
                assert echo["findings"], "the detectors ran on the changed description"
                assert any("id_rsa" in (f["evidence"] + f["snippet"]) for f in echo["findings"]), echo["findings"]
                assert "change_since_approval" in echo

                listed = await client.call_tool("quarantine_security", {"operation": "list_quarantined"})
                assert any("rp:echo" in b for q in listed.structured_content["quarantined"] for b in q["blocked_tools"])

    # A person approves the new definition; then it is callable again.
    out = cli(bulwark_bin, data_dir, config, "upstream", "approve", "rp", "echo", "--no-connect")
    assert out.returncode == 0, out.stderr


async def test_killed_upstream_gives_a_clear_error_and_comes_back(bulwark_bin, data_dir, tmp_path):
    config = write_config(tmp_path)
    pidfile = tmp_path / "rp.pid"
    add_rugpull(bulwark_bin, data_dir, config, pidfile)
    assert cli(bulwark_bin, data_dir, config, "upstream", "approve", "rp").returncode == 0

    client, errlog = gateway_client(bulwark_bin, data_dir, config, tmp_path)
    with errlog:
        with anyio.fail_after(90):
            async with client:
                warm = await client.call_tool("call_tool_read", {"name": "rp:echo", "args": {"text": "warm"}})
                assert not warm.is_error, text(warm)
                pid = int(pidfile.read_text())

                result = {}

                async def slow_call():
                    result["r"] = await client.call_tool(
                        "call_tool_read", {"name": "rp:sleep", "args": {"seconds": 2.5}}
                    )

                async with anyio.create_task_group() as tg:
                    tg.start_soon(slow_call)
                    await anyio.sleep(0.7)
                    os.kill(pid, signal.SIGKILL)
                crashed = result["r"]
                assert crashed.is_error
                message = text(crashed)
                assert "upstream `rp`" in message and "closed" in message, message
                assert "restarted on the next call" in message, message

                back = await client.call_tool("call_tool_read", {"name": "rp:echo", "args": {"text": "again"}})
                assert not back.is_error, text(back)
                assert "again" in text(back)
                assert int(pidfile.read_text()) != pid

                # The upstream's stderr went to its log file.
                log = await client.call_tool("upstream_servers", {"operation": "tail_log", "name": "rp", "lines": 5})
                assert not log.is_error
                assert log.structured_content["file"].endswith("rp.log")


async def test_flapping_upstream_trips_its_breaker_without_slowing_others(bulwark_bin, data_dir, tmp_path):
    config = write_config(tmp_path)
    pidfile = tmp_path / "flappy.pid"
    fail = tmp_path / "fail-now"
    out = cli(
        bulwark_bin, data_dir, config, "upstream", "add", "flappy", "--sandbox", "none",
        "--env", f"GW_PIDFILE={pidfile}", "--env", f"GW_FAIL_FILE={fail}", "--", PYTHON, str(RUGPULL),
    )
    assert out.returncode == 0, out.stderr
    add_rugpull(bulwark_bin, data_dir, config)
    for name in ("flappy", "rp"):
        assert cli(bulwark_bin, data_dir, config, "upstream", "approve", name).returncode == 0
    client, errlog = gateway_client(bulwark_bin, data_dir, config, tmp_path)
    with errlog:
        with anyio.fail_after(90):
            async with client:
                ok = await client.call_tool("call_tool_read", {"name": "flappy:echo", "args": {"text": "x"}})
                assert not ok.is_error, text(ok)
                fail.write_text("1")
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
                messages = []
                for _ in range(3):
                    r = await client.call_tool("call_tool_read", {"name": "flappy:echo", "args": {"text": "x"}})
                    assert r.is_error
                    messages.append(text(r))
                    # The healthy upstream answers in between.
                    healthy = await client.call_tool("call_tool_read", {"name": "rp:echo", "args": {"text": "fine"}})
                    assert not healthy.is_error, text(healthy)
                # The first may still find the old connection and see it close; after that the
                # restarts fail.
                assert all("upstream `flappy`" in m for m in messages), messages
                assert "cannot connect to upstream `flappy`" in messages[-1], messages[-1]
                assert "exited before initialize (exit status 3)" in messages[-1], messages[-1]
                paused = await client.call_tool("call_tool_read", {"name": "flappy:echo", "args": {"text": "x"}})
                assert paused.is_error
                assert "failed 3 times in a row, so calls to it are paused; retry in" in text(paused), text(paused)

                servers = await servers_list(client)
                assert servers["flappy"]["connection"]["breaker_open_for_secs"] >= 1
                assert servers["rp"]["connection"]["connected"] is True

                log = await client.call_tool("upstream_servers", {"operation": "tail_log", "name": "flappy"})
                assert "told to fail at start" in log.structured_content["log"]


async def test_hanging_upstream_hits_the_timeout(bulwark_bin, data_dir, tmp_path):
    config = write_config(tmp_path)
    add_rugpull(bulwark_bin, data_dir, config)
    assert cli(bulwark_bin, data_dir, config, "upstream", "approve", "rp").returncode == 0
    client, errlog = gateway_client(bulwark_bin, data_dir, config, tmp_path)
    with errlog:
        with anyio.fail_after(60):
            async with client:
                hung = await client.call_tool("call_tool_read", {"name": "rp:sleep", "args": {"seconds": 30}})
                assert hung.is_error
                assert "timed out after 3 s" in text(hung), text(hung)
                # The upstream is still usable.
                ok = await client.call_tool("call_tool_read", {"name": "rp:echo", "args": {"text": "alive"}})
                assert not ok.is_error, text(ok)


async def test_hostile_input(bulwark_bin, data_dir, tmp_path):
    config = write_config(tmp_path)
    add_rugpull(bulwark_bin, data_dir, config)
    assert cli(bulwark_bin, data_dir, config, "upstream", "approve", "rp").returncode == 0
    client, errlog = gateway_client(bulwark_bin, data_dir, config, tmp_path)
    with errlog:
        with anyio.fail_after(60):
            async with client:
                cases = {
                    "nope:echo": "no upstream server is named `nope`",
                    "echo": "has no server part",
                    "../etc:passwd": "not a valid server name",
                    "rp:": "tool part",
                    "rp:missing": "has no tool `missing`",
                    "rp:e\u0000cho": "control characters",
                }
                for name, expected in cases.items():
                    r = await client.call_tool("call_tool", {"name": name, "args": {}})
                    assert r.is_error, name
                    assert expected in text(r), (name, text(r))

                huge = await client.call_tool("call_tool_read", {"name": "rp:echo", "args": {"text": "x" * 200_000}})
                assert huge.is_error and "over the gateway's limit" in text(huge), text(huge)

                bad_json = await client.call_tool("call_tool", {"name": "rp:echo", "args_json": "{not json"})
                assert bad_json.is_error and "args_json" in text(bad_json)

                both = await client.call_tool("call_tool", {"name": "rp:echo", "args": {}, "args_json": "{}"})
                assert both.is_error

                destructive = await client.call_tool("call_tool_write", {"name": "rp:wipe", "args": {}})
                assert destructive.is_error and "use `call_tool_destructive`" in text(destructive)

                cache = await client.call_tool("read_cache", {"key": "does-not-exist"})
                assert cache.is_error and "no cached response" in text(cache)

                bad_add = await client.call_tool(
                    "upstream_servers", {"operation": "add", "name": "x:y", "command": "true"}
                )
                assert bad_add.is_error and "upstream name" in text(bad_add)
                bad_url = await client.call_tool(
                    "upstream_servers", {"operation": "add", "name": "web", "url": "file:///etc/passwd"}
                )
                assert bad_url.is_error and "http" in text(bad_url)
                bad_protocol = await client.call_tool(
                    "upstream_servers", {"operation": "add", "name": "web", "url": "http://x", "protocol": "gopher"}
                )
                assert bad_protocol.is_error

                # The upstream's own errors come back as tool errors, not crashes.
                wrong_args = await client.call_tool("call_tool_read", {"name": "rp:echo", "args": {"nope": 1}})
                assert wrong_args.is_error


async def test_long_responses_are_cut_and_paged(bulwark_bin, data_dir, tmp_path):
    config = write_config(tmp_path, "tool_response_limit = 1000\n")
    add_rugpull(bulwark_bin, data_dir, config)
    assert cli(bulwark_bin, data_dir, config, "upstream", "approve", "rp").returncode == 0
    client, errlog = gateway_client(bulwark_bin, data_dir, config, tmp_path)
    expected = "".join(chr(ord("a") + i % 26) for i in range(2500))
    with errlog:
        with anyio.fail_after(60):
            async with client:
                r = await client.call_tool("call_tool_read", {"name": "rp:big", "args": {"n": 2500}})
                assert not r.is_error, text(r)
                assert r.content[0].text == expected[:1000]
                note = r.content[-1].text
                assert "cut at 1000 of 2500 characters" in note, note
                key = note.split('key="')[1].split('"')[0]
                rest = ""
                offset = 1000
                while offset is not None:
                    page = await client.call_tool("read_cache", {"key": key, "offset": offset, "limit": 600})
                    assert not page.is_error, text(page)
                    rest += page.structured_content["text"]
                    offset = page.structured_content["next_offset"]
                assert expected[:1000] + rest == expected
                past = await client.call_tool("read_cache", {"key": key, "offset": 10_000})
                assert past.is_error


async def test_agent_added_servers_are_quarantined(bulwark_bin, data_dir, tmp_path):
    config = write_config(tmp_path)
    client, errlog = gateway_client(bulwark_bin, data_dir, config, tmp_path)
    with errlog:
        with anyio.fail_after(60):
            async with client:
                added = await client.call_tool(
                    "upstream_servers",
                    {"operation": "add", "name": "agentadded", "command": PYTHON, "args": [str(RUGPULL)]},
                )
                assert not added.is_error, text(added)
                assert added.structured_content["quarantined"] is True

                async def inspected():
                    s = (await servers_list(client))["agentadded"]
                    return s if s["tools"] else None

                server = await wait_until(inspected, what="inspection of the added server")
                assert server["quarantined"] and server["origin"] == "agent"
                r = await client.call_tool("call_tool", {"name": "agentadded:echo", "args": {"text": "x"}})
                assert r.is_error and "quarantined" in text(r)

                patched = await client.call_tool(
                    "upstream_servers", {"operation": "patch", "name": "agentadded", "enabled": False}
                )
                assert not patched.is_error and patched.structured_content["enabled"] is False
                assert patched.structured_content["quarantined"] is True

                removed = await client.call_tool("upstream_servers", {"operation": "remove", "name": "agentadded"})
                assert not removed.is_error, text(removed)
                assert "agentadded" not in await servers_list(client)


def test_import_and_config_declared_upstreams(bulwark_bin, data_dir, tmp_path):
    claude = tmp_path / "claude_desktop_config.json"
    claude.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "everything": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]},
                    "remote": {"type": "http", "url": "https://mcp.example.com/mcp"},
                    "bad:name": {"command": "x"},
                }
            }
        )
    )
    config = write_config(
        tmp_path,
        '\n[[upstreams]]\nname = "declared"\ncommand = "'
        + PYTHON
        + '"\nargs = ["'
        + str(RUGPULL)
        + '"]\nquarantined = false\n',
    )
    out = cli(bulwark_bin, data_dir, config, "upstream", "import", str(claude))
    assert out.returncode == 0, out.stderr
    assert "imported 2 server(s)" in out.stdout
    assert "skipped `bad:name`" in out.stderr

    again = cli(bulwark_bin, data_dir, config, "upstream", "import", str(claude))
    assert "already exists" in again.stderr

    listing = json.loads(cli(bulwark_bin, data_dir, config, "upstream", "list", "--json").stdout)
    records = {r["name"]: r for r in listing}
    assert records["everything"]["quarantined"] and records["everything"]["origin"] == "import"
    assert records["remote"]["transport"] == {"kind": "http", "url": "https://mcp.example.com/mcp", "headers": {}}
    # The config file's server, approved there: pinned on first sight.
    assert records["declared"]["quarantined"] is False and records["declared"]["origin"] == "config"

    removed = cli(bulwark_bin, data_dir, config, "upstream", "remove", "remote")
    assert removed.returncode == 0
    missing = cli(bulwark_bin, data_dir, config, "upstream", "remove", "remote")
    assert missing.returncode != 0 and "no upstream server is named `remote`" in missing.stderr

    garbage = tmp_path / "broken.json"
    garbage.write_text("{ not json")
    bad = cli(bulwark_bin, data_dir, config, "upstream", "import", str(garbage))
    assert bad.returncode != 0 and "line 1" in bad.stderr

    both = write_config(tmp_path, '\n[[upstreams]]\nname = "x"\ncommand = "a"\nurl = "http://b"\n', "both.toml")
    checked = run_cli(bulwark_bin, data_dir, "config", "check", str(both))
    assert checked.returncode != 0 and "`[[upstreams]]` entry `x`" in checked.stderr, checked.stderr
    bad_name = write_config(tmp_path, '\n[[upstreams]]\nname = "a:b"\ncommand = "a"\n', "bad-name.toml")
    checked = run_cli(bulwark_bin, data_dir, "config", "check", str(bad_name))
    assert checked.returncode != 0 and "upstream name" in checked.stderr, checked.stderr

    usage = cli(bulwark_bin, data_dir, config, "upstream", "add", "nothing")
    assert usage.returncode != 0 and "-- CMD ARGS" in usage.stderr


async def test_streamable_http_upstream(bulwark_bin, data_dir, tmp_path):
    port = free_port()
    upstream = subprocess.Popen(
        ["node", str(EVERYTHING), "streamableHttp"],
        env=clean_env({"PORT": str(port)}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, timeout=30, what="server-everything over HTTP")
        config = write_config(tmp_path)
        url = f"http://127.0.0.1:{port}/mcp"
        out = cli(bulwark_bin, data_dir, config, "upstream", "add", "web", "--url", url)
        assert out.returncode == 0, out.stderr
        approved = cli(bulwark_bin, data_dir, config, "upstream", "approve", "web")
        assert approved.returncode == 0, approved.stderr
        client, errlog = gateway_client(bulwark_bin, data_dir, config, tmp_path)
        with errlog:
            with anyio.fail_after(60):
                async with client:
                    r = await client.call_tool("call_tool", {"name": "web:add", "args": {"a": 2, "b": 40}})
                    assert not r.is_error, text(r)
                    assert "42" in text(r)
                    servers = await servers_list(client)
                    assert servers["web"]["protocol"] == "http" and servers["web"]["target"] == url
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)


async def test_retrieve_tools_finds_only_approved_tools(bulwark_bin, data_dir, tmp_path):
    config = write_config(tmp_path)
    allowed = tmp_path / "files"
    allowed.mkdir()
    for name, cmd in [
        ("everything", ["node", str(EVERYTHING), "stdio"]),
        ("fs", ["node", str(FILESYSTEM), str(allowed)]),
    ]:
        out = cli(bulwark_bin, data_dir, config, "upstream", "add", name, "--", *cmd)
        assert out.returncode == 0, out.stderr
    client, errlog = gateway_client(bulwark_bin, data_dir, config, tmp_path)
    with errlog:
        with anyio.fail_after(120):
            async with client:

                async def search(query, **extra):
                    result = await client.call_tool("retrieve_tools", {"query": query, **extra})
                    assert not result.is_error, text(result)
                    return result.structured_content

                # Quarantined servers are never searchable.
                assert (await search("read a text file"))["tools"] == []

                out = cli(bulwark_bin, data_dir, config, "upstream", "approve", "fs")
                assert out.returncode == 0, out.stderr

                async def found():
                    names = [t["name"] for t in (await search("read the contents of a text file"))["tools"]]
                    return names if names else None

                names = await wait_until(found, what="approved tools in the index")
                assert "fs:read_text_file" in names[:3], names
                assert not any(n.startswith("everything:") for n in names), names

                hit = (await search("list the files in a directory", limit=3))["tools"][0]
                assert hit["name"] == "fs:list_directory", hit
                assert hit["input_schema"]["type"] == "object"
                assert "path" in hit["input_schema"]["properties"]

                # Approving the second server adds its tools without touching the first's.
                out = cli(bulwark_bin, data_dir, config, "upstream", "approve", "everything")
                assert out.returncode == 0, out.stderr

                async def echo_found():
                    names = [t["name"] for t in (await search("echo back a message"))["tools"]]
                    return names if "everything:echo" in names else None

                names = await wait_until(echo_found, what="the second server in the index")
                assert names[0] == "everything:echo", names

                stats = await search("echo", include_stats=True, explain_tool="everything:echo", debug=True)
                assert stats["stats"]["servers"] == 2
                assert stats["explanation"]["name"] == "everything:echo"
                assert stats["tools"][0]["debug"]["contributions"]

                # Back into quarantine: gone from the results.
                back = await client.call_tool(
                    "quarantine_security", {"operation": "quarantine_server", "name": "everything"}
                )
                assert not back.is_error
                names = [t["name"] for t in (await search("echo back a message"))["tools"]]
                assert not any(n.startswith("everything:") for n in names), names

                # Bad input is refused with the field named; query syntax is just text.
                for bad in ({"query": ""}, {"query": "x", "limit": 0}, {"query": "x", "limit": 500}):
                    refused = await client.call_tool("retrieve_tools", bad)
                    assert refused.is_error, bad
                    assert "field `" in text(refused), text(refused)
                odd = await search('name:"read AND (file^3 -x')
                assert isinstance(odd["tools"], list)
                huge = await search("file " * 5000)
                assert isinstance(huge["tools"], list)
