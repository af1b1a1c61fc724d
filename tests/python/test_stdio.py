"""`bulwark serve` over stdio, driven by the official MCP Python SDK and by hand."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from helpers import CORE_TOOLS, clean_env

pytestmark = pytest.mark.anyio

CONFORMANCE_TOOLS = {
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_error_handling",
    "test_tool_with_progress",
    "test_tool_with_logging",
    "test_sampling",
    "test_elicitation",
    "test_reconnection",
    "json_schema_2020_12_tool",
}


def stdio_client_for(bulwark_bin: str, data_dir: Path, tmp_path: Path, *serve_args: str, mode: str = "legacy"):
    params = StdioServerParameters(
        command=bulwark_bin,
        args=["--data-dir", str(data_dir), "serve", *serve_args],
        env=clean_env(),
    )
    # Server logs go to a file, so they cannot be confused with MCP traffic.
    errlog = open(tmp_path / "stdio-server.stderr", "w")
    return Client(stdio_client(params, errlog=errlog), mode=mode, read_timeout_seconds=30), errlog


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_conformance_profile_over_stdio(bulwark_bin, data_dir, tmp_path, mode):
    client, errlog = stdio_client_for(bulwark_bin, data_dir, tmp_path, "--profile", "conformance", mode=mode)
    with errlog:
        with anyio.fail_after(60):
            async with client:
                tools = {t.name: t for t in (await client.list_tools()).tools}
                missing = CONFORMANCE_TOOLS - tools.keys()
                assert not missing, f"conformance tools missing over stdio: {missing}"
                # The conformance profile is isolated: no core tools.
                assert not (CORE_TOOLS & tools.keys()), tools.keys()
                assert tools["test_simple_text"].description == "Returns a fixed text block"

                result = await client.call_tool("test_simple_text", {})
                assert not result.is_error
                assert result.content[0].type == "text"
                assert result.content[0].text == "This is a simple text response for testing."

                failing = await client.call_tool("test_error_handling", {})
                assert failing.is_error is True
                assert "intentionally returns an error" in failing.content[0].text

                resource = await client.read_resource("test://static-text")
                assert len(resource.contents) == 1
                assert str(resource.contents[0].uri) == "test://static-text"
                assert resource.contents[0].text == "This is the content of the static text resource."

                prompt = await client.get_prompt(
                    "test_prompt_with_arguments", {"arg1": "alpha-value", "arg2": "beta-value"}
                )
                text = prompt.messages[0].content.text
                assert "alpha-value" in text and "beta-value" in text, text
                assert prompt.messages[0].role == "user"


async def test_default_profile_all_over_stdio(bulwark_bin, data_dir, tmp_path):
    # No --profile: the default profile `all`.
    client, errlog = stdio_client_for(bulwark_bin, data_dir, tmp_path)
    with errlog:
        with anyio.fail_after(60):
            async with client:
                names = {t.name for t in (await client.list_tools()).tools}
                assert CORE_TOOLS <= names, names
                # `conformance` is isolated: its fixtures are not part of `all`.
                assert "test_simple_text" not in names

                echo = await client.call_tool("test_tool", {"message": "hi"})
                assert not echo.is_error
                assert echo.content[0].text == "hi"

                info = await client.call_tool("get_sensor_info", {"sid": "local"})
                assert not info.is_error, info
                assert info.structured_content is not None, info
                assert info.structured_content["sid"] == "local"
                assert info.structured_content["online"] is True


def _reader(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, b""):
        lines.put(line)
    lines.put(None)


def test_stdout_carries_only_json_rpc(bulwark_bin, data_dir):
    """Logs must never reach stdout in stdio mode: every stdout line is JSON-RPC."""
    proc = subprocess.Popen(
        [bulwark_bin, "--data-dir", str(data_dir), "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Maximum logging: anything that leaks to stdout would show up.
        env=clean_env({"RUST_LOG": "trace"}),
    )
    stdout_lines: queue.Queue = queue.Queue()
    stderr_lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, stdout_lines), daemon=True).start()
    threading.Thread(target=_reader, args=(proc.stderr, stderr_lines), daemon=True).start()
    collected: list[bytes] = []

    def send(message: dict) -> None:
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()

    def until_response(request_id: int) -> dict:
        while True:
            line = stdout_lines.get(timeout=30)
            assert line is not None, f"stdout closed before response {request_id}"
            collected.append(line)
            message = json.loads(line)
            if message.get("id") == request_id and ("result" in message or "error" in message):
                return message

    try:
        send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"},
                },
            }
        )
        init = until_response(1)
        assert init["result"]["serverInfo"]["name"] == "bulwark", init
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        listed = until_response(2)
        assert CORE_TOOLS <= {t["name"] for t in listed["result"]["tools"]}
        send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "test_tool", "arguments": {}}})
        until_response(3)
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0, "bulwark serve (stdio) did not exit 0 on stdin EOF"
        while (line := stdout_lines.get(timeout=10)) is not None:
            collected.append(line)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    assert collected, "no stdout at all"
    for line in collected:
        message = json.loads(line)  # raises on any non-JSON line (a log leak)
        assert message.get("jsonrpc") == "2.0", line
        assert set(message) & {"result", "error", "method"}, line
    # The logs did go somewhere: stderr.
    stderr = b""
    while True:
        try:
            chunk = stderr_lines.get(timeout=5)
        except queue.Empty:
            break
        if chunk is None:
            break
        stderr += chunk
    assert b"serving MCP on stdio" in stderr, stderr[:2000]
