"""A small stdio MCP server (official SDK) that reports what it can reach, for the sandbox tests.

Tools (all read-only):
- read_file(path): the file's text, or "DENIED <errno name>".
- write_file(path, text): "WROTE", or "DENIED <errno name>".
- connect(host, port): "CONNECTED" after sending b"hello", or "REFUSED <error>".
- environment(): the sorted names of its environment variables, HOME and the working directory.
- no_new_privs(): the NoNewPrivs line of /proc/self/status.
"""

from __future__ import annotations

import errno
import json
import os
import socket

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

READ = ToolAnnotations(readOnlyHint=True)
server = MCPServer("sandbox-probe")


def denied(e: OSError) -> str:
    return f"DENIED {errno.errorcode.get(e.errno or 0, str(e.errno))}"


@server.tool(description="Read a file.", annotations=READ)
def read_file(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        return denied(e)


@server.tool(description="Write a file.", annotations=READ)
def write_file(path: str, text: str) -> str:
    try:
        with open(path, "w") as f:
            f.write(text)
        return "WROTE"
    except OSError as e:
        return denied(e)


@server.tool(description="Open a TCP connection.", annotations=READ)
def connect(host: str, port: int) -> str:
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"hello")
        return "CONNECTED"
    except OSError as e:
        return f"REFUSED {e}"


@server.tool(description="Describe the environment.", annotations=READ)
def environment() -> str:
    return json.dumps({"names": sorted(os.environ), "home": os.environ.get("HOME"), "cwd": os.getcwd(),
                       "declared": os.environ.get("PROBE_DECLARED")})


@server.tool(description="Report no_new_privs.", annotations=READ)
def no_new_privs() -> str:
    with open("/proc/self/status") as f:
        return next(line.strip() for line in f if line.startswith("NoNewPrivs"))


if __name__ == "__main__":
    server.run("stdio")
