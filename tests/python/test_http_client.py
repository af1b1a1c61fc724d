"""The official MCP Python SDK against `bulwark serve --http`, in both protocol eras."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest
from mcp import Client

from helpers import CORE_TOOLS, HTTP_TIMEOUT

pytestmark = pytest.mark.anyio


async def exercise_conformance(client: Client) -> None:
    tools = {t.name for t in (await client.list_tools()).tools}
    assert {"test_simple_text", "test_error_handling", "test_sampling"} <= tools, tools
    assert not (CORE_TOOLS & tools), "conformance is isolated; it must not carry core tools"

    result = await client.call_tool("test_simple_text", {})
    assert result.is_error is not True
    assert result.content[0].text == "This is a simple text response for testing."

    static = await client.read_resource("test://static-text")
    assert static.contents[0].text == "This is the content of the static text resource."

    templated = await client.read_resource("test://template/42/data")
    assert str(templated.contents[0].uri) == "test://template/42/data"
    body = json.loads(templated.contents[0].text)
    assert body["id"] == "42"
    assert "42" in body["data"]

    prompt = await client.get_prompt("test_prompt_with_arguments", {"arg1": "one", "arg2": "two"})
    text = prompt.messages[0].content.text
    assert "arg1='one'" in text and "arg2='two'" in text, text

    simple = await client.get_prompt("test_simple_prompt")
    assert simple.messages[0].content.text == "This is a simple prompt for testing."


@pytest.mark.parametrize(
    ("mode", "expected_version"),
    [("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")],
)
async def test_both_eras_on_conformance_endpoint(conformance_server, mode, expected_version):
    url = conformance_server.url("/mcp/conformance")
    with anyio.fail_after(60):
        async with Client(url, mode=mode, read_timeout_seconds=30) as client:
            assert client.protocol_version == expected_version
            await exercise_conformance(client)


async def test_legacy_mode_holds_a_session(conformance_server):
    url = conformance_server.url("/mcp/conformance")
    with anyio.fail_after(60):
        async with Client(url, mode="legacy", read_timeout_seconds=30) as client:
            await client.list_tools()
            ready = httpx.get(conformance_server.url("/ready"), timeout=HTTP_TIMEOUT).json()
            assert ready["sessions"] == 1, ready


async def test_stateless_mode_creates_no_session(conformance_server):
    url = conformance_server.url("/mcp/conformance")
    with anyio.fail_after(60):
        async with Client(url, mode="2026-07-28", read_timeout_seconds=30) as client:
            await client.call_tool("test_simple_text", {})
            ready = httpx.get(conformance_server.url("/ready"), timeout=HTTP_TIMEOUT).json()
            assert ready["sessions"] == 0, ready


async def test_auto_mode_reaches_the_server(conformance_server):
    url = conformance_server.url("/mcp/conformance")
    with anyio.fail_after(60):
        async with Client(url, mode="auto", read_timeout_seconds=30) as client:
            assert client.protocol_version in ("2026-07-28", "2025-11-25")
            assert client.server_capabilities.tools is not None
            result = await client.call_tool("test_simple_text", {})
            assert result.content[0].text == "This is a simple text response for testing."


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_v1_core_alias_lists_exactly_core_tools(conformance_server, mode):
    with anyio.fail_after(60):
        async with Client(conformance_server.url("/mcp/v1/core"), mode=mode, read_timeout_seconds=30) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            assert sorted(names) == sorted(CORE_TOOLS)
            echo = await client.call_tool("test_tool", {"message": "via-v1"})
            assert echo.content[0].text == "via-v1"


async def test_bare_mcp_serves_the_default_profile(conformance_server):
    # The server was started with --profile conformance: /mcp and /mcp/v1 serve it.
    for path in ("/mcp", "/mcp/v1"):
        with anyio.fail_after(60):
            async with Client(conformance_server.url(path), mode="2026-07-28", read_timeout_seconds=30) as client:
                names = {t.name for t in (await client.list_tools()).tools}
                assert "test_simple_text" in names, (path, names)
