"""Graceful shutdown on SIGTERM / SIGINT."""

from __future__ import annotations

import json
import signal
import socket
import struct
import time

import anyio
import httpx
import pytest
from mcp import Client

from helpers import (
    HTTP_TIMEOUT,
    audit_records,
    connection_refused,
    open_session,
    parse_sse,
    session_headers,
    stateless_meta,
    stateless_request,
    text_of,
    wait_for,
)

EXIT_TIMEOUT = 20


def _stream_until(lines_iter, predicate) -> list[str]:
    """Read SSE lines until a `data:` message satisfies ``predicate``; return the lines read.

    ``lines_iter`` is one ``response.iter_lines()`` iterator, kept by the caller:
    abandoning it would close the connection.
    """
    lines: list[str] = []
    for line in lines_iter:
        lines.append(line)
        if line.startswith("data:"):
            payload = line[5:].strip()
            if payload and predicate(json.loads(payload)):
                return lines
    raise AssertionError(f"stream ended before the expected message: {lines}")


def _is_progress(message: dict) -> bool:
    return message.get("method") == "notifications/progress"


def _slow_call(era: str, http: httpx.Client, url: str):
    """Headers and body of test_tool_with_progress (~100 ms, progress first) in one era."""
    if era == "2026-07-28":
        return stateless_request(
            "tools/call",
            {"name": "test_tool_with_progress", "arguments": {}},
            request_id=11,
            meta=stateless_meta(progressToken="shutdown-token"),
        )
    sid = open_session(http, url)
    body = {
        "jsonrpc": "2.0",
        "id": 11,
        "method": "tools/call",
        "params": {"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "shutdown-token"}},
    }
    return session_headers(sid), body


@pytest.mark.parametrize("era", ["2026-07-28", "2025-11-25"])
def test_slow_call_baseline_without_signal(conformance_server, era):
    """Control for the SIGTERM test below: the same streamed call, read the same way, no signal."""
    url = conformance_server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        headers, body = _slow_call(era, http, url)
        with http.stream("POST", url, headers=headers, json=body) as response:
            lines_iter = response.iter_lines()
            lines = _stream_until(lines_iter, _is_progress)
            lines += list(lines_iter)
    messages = parse_sse("\n".join(lines) + "\n\n")
    answers = [m for m in messages if m.get("id") == 11]
    assert answers and text_of(answers[-1]["result"]) == "shutdown-token", messages


@pytest.mark.parametrize("era", ["2026-07-28", "2025-11-25"])
def test_in_flight_call_completes_after_sigterm(conformance_server, era):
    server = conformance_server
    url = server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        headers, body = _slow_call(era, http, url)
        with http.stream("POST", url, headers=headers, json=body) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines_iter = response.iter_lines()
            # The first progress notification proves the call is running in the server.
            lines = _stream_until(lines_iter, _is_progress)
            server.signal(signal.SIGTERM)
            signalled = time.monotonic()
            lines += list(lines_iter)

    messages = parse_sse("\n".join(lines) + "\n\n")
    answers = [m for m in messages if m.get("id") == 11]
    assert answers, f"no response to the in-flight call after SIGTERM: {messages}"
    answer = answers[-1]
    assert "error" not in answer, answer
    assert answer["result"].get("isError") is not True, answer
    assert text_of(answer["result"]) == "shutdown-token"
    progress = [m["params"]["progress"] for m in messages if _is_progress(m)]
    assert progress == [0, 50, 100], progress

    assert server.wait(timeout=EXIT_TIMEOUT) == 0, server.stderr()
    # Well within the 10 s default grace: it left as soon as the call finished.
    assert time.monotonic() - signalled < 9, server.stderr()
    assert connection_refused(server.host, server.port)


def test_new_connections_are_refused_while_a_call_drains(servers):
    """A call blocked on the client (sampling) keeps the server in its grace
    period; meanwhile the listener is closed, and the process still exits 0 once
    the grace period is over."""
    grace = 2
    server = servers.http("conformance", {"BULWARK_HTTP__SHUTDOWN_GRACE_SECS": str(grace)})
    url = server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        sid = open_session(http, url, capabilities={"sampling": {}})
        body = {
            "jsonrpc": "2.0",
            "id": 21,
            "method": "tools/call",
            "params": {"name": "test_sampling", "arguments": {"prompt": "never answered"}},
        }
        with http.stream("POST", url, headers=session_headers(sid), json=body) as response:
            assert response.status_code == 200
            lines_iter = response.iter_lines()
            _stream_until(lines_iter, lambda m: m.get("method") == "sampling/createMessage")
            # The call now waits for the client: it is in flight.
            server.signal(signal.SIGTERM)
            signalled = time.monotonic()
            wait_for(
                lambda: connection_refused(server.host, server.port),
                grace,
                interval=0.02,
                what="the listener to close after SIGTERM",
            )
            refused_after = time.monotonic() - signalled
            # The process is still draining the call, not gone.
            assert server.proc.poll() is None, "exited without waiting for the in-flight call"
            code = server.wait(timeout=EXIT_TIMEOUT)
            elapsed = time.monotonic() - signalled
    assert code == 0, server.stderr()
    assert refused_after < grace
    # It waited for the grace period, then gave up on the call (grace + 2 s hard stop at most).
    assert grace - 0.5 <= elapsed < grace + 2 + 3, (elapsed, server.stderr())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_idle_server_exits_zero_on_signal(conformance_server, sig):
    server = conformance_server
    assert server.ready()["status"] == "ready"
    server.signal(sig)
    started = time.monotonic()
    assert server.wait(timeout=EXIT_TIMEOUT) == 0, server.stderr()
    assert time.monotonic() - started < 5
    assert connection_refused(server.host, server.port)


def test_sigterm_with_open_session_and_stream_exits_zero(conformance_server):
    """Open sessions with a standalone SSE stream do not hold the process past the grace period."""
    server = conformance_server
    url = server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        sid = open_session(http, url)
        headers = {k: v for k, v in session_headers(sid).items() if k != "Content-Type"}
        headers["Accept"] = "text/event-stream"
        with http.stream("GET", url, headers=headers) as stream:
            assert stream.status_code == 200
            assert server.ready()["sessions"] == 1
            server.signal(signal.SIGTERM)
            started = time.monotonic()
            code = server.wait(timeout=EXIT_TIMEOUT)
    assert code == 0, server.stderr()
    # No call was running: the stream and session are closed at once, not after the grace.
    assert time.monotonic() - started < 5, server.stderr()


@pytest.mark.anyio
async def test_sdk_call_in_flight_at_sigterm_gets_its_result(conformance_server):
    """The same with the official SDK (2026-07-28): SIGTERM on the first progress notification."""
    server = conformance_server
    progress_seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if not progress_seen:
            server.signal(signal.SIGTERM)
        progress_seen.append(progress)

    results = []
    with anyio.fail_after(60):
        async with Client(server.url("/mcp/conformance"), mode="2026-07-28", read_timeout_seconds=30) as client:
            # The SDK validates a result against the tool's output schema and
            # fetches tools/list for that if it has none cached; after SIGTERM
            # that would need a new connection, which a stopping server refuses
            # by design. List first, as a long-lived client would have.
            await client.list_tools()
            results.append(await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress))
    assert results, "the call did not return a result"
    result = results[0]
    assert progress_seen, "no progress notification arrived"
    assert result.is_error is not True, result
    assert result.content and result.content[0].text, result
    assert server.wait(timeout=EXIT_TIMEOUT) == 0, server.stderr()


def test_sigterm_waits_for_a_running_call_whose_client_disconnected(conformance_server, data_dir):
    """A 2025-11-25 session call keeps running when its POST connection drops
    (the client may resume it). SIGTERM must still give it the grace period to
    finish rather than killing it mid-way."""
    server = conformance_server
    url = server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        sid = open_session(http, url)
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 31,
            "method": "tools/call",
            "params": {"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "gone"}},
        }
    ).encode()
    s = socket.create_connection((server.host, server.port), timeout=20)
    head = (
        "POST /mcp/conformance HTTP/1.1\r\n"
        f"Host: {server.host}:{server.port}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\n"
        f"Mcp-Session-Id: {sid}\r\n"
        "MCP-Protocol-Version: 2025-11-25\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    s.sendall(head + body)
    received = b""
    while b"notifications/progress" not in received:
        chunk = s.recv(65536)
        assert chunk, received
        received += chunk
    # The call is running. The client vanishes, then the server is told to stop.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=EXIT_TIMEOUT) == 0, server.stderr()
    # The audit log, written out as the server closed, holds the call's outcome.
    calls = [r for r in audit_records(data_dir) if r["action"] == "test_tool_with_progress"]
    assert calls, f"the running call was killed at shutdown, not allowed to finish:\n{server.stderr()}"
    assert calls[0]["outcome"] == "success", calls
