"""A small MCP server on the legacy HTTP+SSE transport (official SDK), for the gateway's SSE tests.

Usage: sse_server.py PORT. Serves the event stream at /sse and takes messages at /messages/.
Tools: `lookup_host(name)` (read-only) returns a fixed record; `slow_echo(text, seconds)` sleeps
first, so several calls can be in flight on the one stream at once.
"""

from __future__ import annotations

import sys

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("legacy-sse-fixture")


@server.tool(description="Look up a host in the asset inventory by name.", annotations=ToolAnnotations(readOnlyHint=True))
def lookup_host(name: str) -> str:
    return f"host {name}: owner=secops, os=linux"


@server.tool(description="Echo the text back after waiting the given number of seconds.", annotations=ToolAnnotations(readOnlyHint=True))
async def slow_echo(text: str, seconds: float = 0.0) -> str:
    await anyio.sleep(seconds)
    return f"echo: {text}"


if __name__ == "__main__":
    server.run("sse", host="127.0.0.1", port=int(sys.argv[1]))
