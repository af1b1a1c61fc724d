"""A stdio MCP server (official SDK) that keeps state per process, for the per-client session
tests: `whoami()` returns an id drawn at start (not the pid: in the sandbox's own pid namespace
every server is pid 2) and how many times it was called."""

from __future__ import annotations

import secrets

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("pid-probe")
calls = 0
INSTANCE = secrets.token_hex(8)


@server.tool(description="Report this server process's random id and how often it was called.", annotations=ToolAnnotations(readOnlyHint=True))
def whoami() -> str:
    global calls
    calls += 1
    return f"id={INSTANCE} calls={calls}"


if __name__ == "__main__":
    server.run()
