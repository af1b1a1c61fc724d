"""Helpers shared by the bulwark integration tests.

Every test gets its own data directory under ``tmp_path``; every server is
started on a free port (``127.0.0.1:0``, the port read back from the
``bulwark listening on ...`` line) and killed at teardown.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import httpx

BULWARK_BIN = os.environ.get("BULWARK_BIN", "/work/main/target/debug/bulwark")

STATELESS_VERSION = "2026-07-28"
SESSION_VERSION = "2025-11-25"

CORE_TOOLS = {
    "test_tool",
    "list_sensors",
    "get_sensor_info",
    "get_online_sensors",
    "is_online",
    "search_hosts",
}

# Generous: the suite must survive a loaded 2-core machine.
START_TIMEOUT = 30.0
HTTP_TIMEOUT = httpx.Timeout(20.0, connect=10.0)

LISTEN_RE = re.compile(r"bulwark listening on http://([^\s/]+):(\d+)/mcp")

# Variables that would change how bulwark configures itself; tests set the
# ones they need explicitly.
_SCRUB_PREFIXES = ("BULWARK_",)
_SCRUB_NAMES = {"MCP_MODE", "MCP_PROFILE", "PORT", "RUST_LOG"}


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUB_PREFIXES) and k not in _SCRUB_NAMES
    }
    if extra:
        env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - polled, reported on timeout
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_exc!r})")


# --------------------------------------------------------------------------
# Running servers
# --------------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen
    stderr_path: Path
    host: str = "127.0.0.1"
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/mcp") -> str:
        return f"{self.base}{path}"

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass

    def ready(self) -> dict[str, Any]:
        r = httpx.get(self.url("/ready"), timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()


@dataclass
class ServerFactory:
    bin: str
    data_dir: Path
    tmp_path: Path
    servers: list[Server] = field(default_factory=list)

    def spawn(
        self,
        args: Iterable[str],
        env: dict[str, str] | None = None,
        *,
        global_args: Iterable[str] = (),
        wait_listening: bool = True,
    ) -> Server:
        """Run ``bulwark --data-dir D [global_args] ARGS`` and wait for its listening line."""
        n = len(self.servers)
        stderr_path = self.tmp_path / f"server{n}.stderr"
        stderr_file = open(stderr_path, "wb")
        cmd = [self.bin, "--data-dir", str(self.data_dir), *global_args, *args]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
            env=clean_env(env),
        )
        stderr_file.close()
        server = Server(proc=proc, stderr_path=stderr_path)
        self.servers.append(server)
        if wait_listening:
            self._wait_listening(server, cmd)
        return server

    def http(
        self,
        profile: str | None = "conformance",
        env: dict[str, str] | None = None,
        *,
        config: Path | None = None,
        listen: str = "127.0.0.1:0",
    ) -> Server:
        args = ["serve", "--http", listen]
        if profile is not None:
            args += ["--profile", profile]
        global_args = ["--config", str(config)] if config is not None else []
        return self.spawn(args, env, global_args=global_args)

    def _wait_listening(self, server: Server, cmd: list[str]) -> None:
        def listening():
            if server.proc.poll() is not None:
                raise AssertionError(
                    f"{cmd} exited with {server.proc.returncode} before listening:\n{server.stderr()}"
                )
            m = LISTEN_RE.search(server.stderr())
            return m

        deadline = time.monotonic() + START_TIMEOUT
        m = None
        while time.monotonic() < deadline:
            m = listening()
            if m:
                break
            time.sleep(0.02)
        if not m:
            server.kill()
            raise AssertionError(f"{cmd} did not print its listening line:\n{server.stderr()}")
        server.host, server.port = m.group(1), int(m.group(2))
        # The line is printed after bind(); /health proves the router answers.
        wait_for(
            lambda: httpx.get(server.url("/health"), timeout=HTTP_TIMEOUT).status_code == 200,
            START_TIMEOUT,
            what="/health",
        )

    def cleanup(self) -> None:
        for server in self.servers:
            server.kill()


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def run_cli(
    bin_path: str,
    data_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [bin_path, "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=clean_env(env),
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


# --------------------------------------------------------------------------
# Raw wire helpers (httpx)
# --------------------------------------------------------------------------


def parse_messages(response: httpx.Response) -> list[dict[str, Any]]:
    """Every JSON-RPC message of a response, whether JSON or SSE."""
    ctype = response.headers.get("content-type", "")
    text = response.text
    if ctype.startswith("text/event-stream"):
        return parse_sse(text)
    if not text.strip():
        return []
    value = json.loads(text)
    return value if isinstance(value, list) else [value]


def parse_sse(text: str) -> list[dict[str, Any]]:
    messages = []
    for event in re.split(r"\r?\n\r?\n", text):
        data = [line[5:].lstrip(" ") if line.startswith("data:") else None for line in event.splitlines()]
        payload = "\n".join(d for d in data if d is not None)
        if payload.strip():
            messages.append(json.loads(payload))
    return messages


def rpc_response(response: httpx.Response, request_id: Any = None) -> dict[str, Any]:
    """The JSON-RPC response (result or error) in a response body."""
    messages = parse_messages(response)
    answers = [m for m in messages if "result" in m or "error" in m]
    if request_id is not None:
        answers = [m for m in answers if m.get("id") == request_id] or answers
    assert answers, f"no JSON-RPC response in HTTP {response.status_code}: {response.text!r}"
    return answers[-1]


def stateless_meta(**extra: Any) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    meta.update(extra)
    return meta


NAMED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def stateless_request(
    method: str,
    params: dict[str, Any] | None = None,
    *,
    request_id: Any = 1,
    headers: dict[str, str] | None = None,
    meta: dict[str, Any] | None = None,
) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers and body of a 2026-07-28 request."""
    params = dict(params or {})
    params["_meta"] = meta if meta is not None else stateless_meta()
    h = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": STATELESS_VERSION,
        "Mcp-Method": method,
    }
    if method in NAMED_METHODS:
        h["Mcp-Name"] = str(params[NAMED_METHODS[method]])
    if headers:
        h.update(headers)
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    return h, body


def post_stateless(
    client: httpx.Client, url: str, method: str, params: dict[str, Any] | None = None, **kw: Any
) -> httpx.Response:
    h, body = stateless_request(method, params, **kw)
    return client.post(url, headers=h, json=body)


SESSION_ACCEPT = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def initialize_body(request_id: Any = 0, capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": SESSION_VERSION,
            "capabilities": capabilities or {},
            "clientInfo": {"name": "bulwark-pytest", "version": "0"},
        },
    }


def open_session(client: httpx.Client, url: str, capabilities: dict[str, Any] | None = None) -> str:
    """initialize + notifications/initialized; returns the Mcp-Session-Id."""
    r = client.post(url, headers=SESSION_ACCEPT, json=initialize_body(capabilities=capabilities))
    assert r.status_code == 200, (r.status_code, r.text)
    sid = r.headers.get("mcp-session-id")
    assert sid, f"initialize returned no Mcp-Session-Id: {r.headers}"
    init = rpc_response(r)
    assert init["result"]["protocolVersion"] == SESSION_VERSION, init
    r = client.post(
        url,
        headers=session_headers(sid),
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
    )
    assert r.status_code in (200, 202), (r.status_code, r.text)
    return sid


def session_headers(sid: str) -> dict[str, str]:
    return {**SESSION_ACCEPT, "Mcp-Session-Id": sid, "MCP-Protocol-Version": SESSION_VERSION}


def post_session(
    client: httpx.Client, url: str, sid: str, method: str, params: dict[str, Any] | None = None, request_id: Any = 1
) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
    return client.post(url, headers=session_headers(sid), json=body)


def text_of(result: dict[str, Any]) -> str:
    return "\n".join(c.get("text", "") for c in result.get("content", []) if c.get("type") == "text")


def connection_refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


# Audit log
# --------------------------------------------------------------------------
# LOW and MEDIUM records may wait up to `audit.buffer_ms` (10 ms) before they
# reach the file, so tests poll rather than read once.


def audit_records(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_audit(
    data_dir: Path, predicate: Callable[[dict[str, Any]], bool], what: str, *, timeout: float = 5.0, count: int = 1
) -> list[dict[str, Any]]:
    """The audit records matching `predicate`, once there are at least `count`."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in audit_records(data_dir) if predicate(r)]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            events = [(r.get("event_type"), r.get("outcome")) for r in audit_records(data_dir)]
            raise AssertionError(f"no {what} in the audit log after {timeout}s (have {len(found)}); events: {events}")
        time.sleep(0.05)
