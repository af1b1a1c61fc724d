"""Benchmark peer: a FastMCP server with one echo tool over Streamable HTTP.

Stateless HTTP with plain JSON responses (no SSE framing), so that it answers
the same single POST that bulwark and the TypeScript SDK peer answer.
Written for bench/run.

Usage: python bench/fastmcp_server.py PORT
"""

import sys

from fastmcp import FastMCP

mcp = FastMCP("bench-fastmcp")


@mcp.tool
def test_tool(message: str) -> str:
    """Echo the message back."""
    return message


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    mcp.run(
        transport="http",
        host="127.0.0.1",
        port=port,
        path="/mcp",
        json_response=True,
        stateless_http=True,
        show_banner=False,
        log_level="WARNING",
    )
