"""2025-11-25 sessions are bounded, expire when idle, end on DELETE, and do
not leak when clients vanish."""

from __future__ import annotations

import socket
import struct
import time

import httpx

from helpers import (
    HTTP_TIMEOUT,
    SESSION_ACCEPT,
    initialize_body,
    open_session,
    post_session,
    post_stateless,
    rpc_response,
    session_headers,
    text_of,
    wait_for,
)


def sessions(server) -> int:
    return server.ready()["sessions"]


def test_session_cap_refuses_the_fourth(servers):
    server = servers.http("conformance", {"BULWARK_HTTP__MAX_SESSIONS": "3"})
    url = server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        ids = [open_session(http, url) for _ in range(3)]
        assert len(set(ids)) == 3
        assert sessions(server) == 3

        r = http.post(url, headers=SESSION_ACCEPT, json=initialize_body())
        assert r.status_code == 503, (r.status_code, r.headers, r.text)
        assert r.headers.get("retry-after"), r.headers
        assert "mcp-session-id" not in r.headers
        assert "http.max_sessions" in r.text, r.text
        assert sessions(server) == 3

        # The three admitted sessions still work.
        for sid in ids:
            answer = rpc_response(post_session(http, url, sid, "tools/call", {"name": "test_simple_text"}))
            assert text_of(answer["result"]) == "This is a simple text response for testing."

        # Ending one frees a slot.
        r = http.delete(url, headers=session_headers(ids[0]))
        assert 200 <= r.status_code < 300, (r.status_code, r.text)
        wait_for(lambda: sessions(server) == 2, 10, what="2 sessions after DELETE")
        open_session(http, url)
        assert sessions(server) == 3


def test_session_cap_is_server_wide_not_per_profile(servers):
    server = servers.http("all", {"BULWARK_HTTP__MAX_SESSIONS": "3"})
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        open_session(http, server.url("/mcp/core"))
        open_session(http, server.url("/mcp/core"))
        open_session(http, server.url("/mcp/conformance"))
        assert sessions(server) == 3
        for path in ("/mcp/conformance", "/mcp/core", "/mcp"):
            r = http.post(server.url(path), headers=SESSION_ACCEPT, json=initialize_body())
            assert r.status_code == 503, (path, r.status_code, r.text)
        assert sessions(server) == 3


def test_stateless_requests_are_not_capped(servers):
    server = servers.http("conformance", {"BULWARK_HTTP__MAX_SESSIONS": "1"})
    url = server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        open_session(http, url)
        for _ in range(5):
            r = post_stateless(http, url, "tools/call", {"name": "test_simple_text", "arguments": {}})
            assert r.status_code == 200, r.text
            assert "result" in rpc_response(r)
        assert sessions(server) == 1


def test_idle_sessions_expire(servers):
    server = servers.http("conformance", {"BULWARK_HTTP__SESSION_IDLE_SECS": "1"})
    url = server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        sid = open_session(http, url)
        answer = rpc_response(post_session(http, url, sid, "tools/list"))
        assert answer["result"]["tools"]
        opened = time.monotonic()
        wait_for(lambda: sessions(server) == 0, 15, interval=0.2, what="idle session to expire")
        # Expiry happens after the idle time, not before.
        assert time.monotonic() - opened >= 0.8
        r = post_session(http, url, sid, "tools/list")
        assert r.status_code == 404, (r.status_code, r.text)


def test_active_session_outlives_idle_timeout(servers):
    server = servers.http("conformance", {"BULWARK_HTTP__SESSION_IDLE_SECS": "2"})
    url = server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        sid = open_session(http, url)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            r = post_session(http, url, sid, "ping", {})
            assert r.status_code == 200, (r.status_code, r.text)
            time.sleep(0.5)
        assert sessions(server) == 1


def test_delete_ends_the_session(conformance_server):
    url = conformance_server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        keep = open_session(http, url)
        sid = open_session(http, url)
        assert sessions(conformance_server) == 2
        r = http.delete(url, headers=session_headers(sid))
        assert 200 <= r.status_code < 300, (r.status_code, r.text)
        r = post_session(http, url, sid, "tools/list")
        assert r.status_code == 404, (r.status_code, r.text)
        wait_for(lambda: sessions(conformance_server) == 1, 10, what="1 session after DELETE")
        # The other session is untouched.
        r = post_session(http, url, keep, "tools/list")
        assert r.status_code == 200
        assert rpc_response(r)["result"]["tools"]


def test_delete_of_ended_session_is_404(conformance_server):
    """MCP 2025-11-25 (Session Management): once a session is terminated the server
    MUST answer requests carrying its id with 404 -- DELETE included."""
    url = conformance_server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        sid = open_session(http, url)
        r = http.delete(url, headers=session_headers(sid))
        assert 200 <= r.status_code < 300, (r.status_code, r.text)
        r = http.delete(url, headers=session_headers(sid))
        assert r.status_code == 404, f"second DELETE of an ended session: {r.status_code} {r.text!r}"
        r = http.delete(url, headers=session_headers("00000000-0000-0000-0000-000000000000"))
        assert r.status_code == 404, f"DELETE of a never-issued session id: {r.status_code} {r.text!r}"


def _open_sse_stream(host: str, port: int, path: str, sid: str) -> socket.socket:
    """GET the session's standalone SSE stream on a raw socket; return it once headers arrived."""
    s = socket.create_connection((host, port), timeout=20)
    request = (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Accept: text/event-stream\r\n"
        f"Mcp-Session-Id: {sid}\r\n"
        "MCP-Protocol-Version: 2025-11-25\r\n"
        "\r\n"
    )
    s.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, f"connection closed before headers: {head!r}"
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    assert b" 200 " in status, head
    assert b"text/event-stream" in head.lower(), head
    return s


def _drop(s: socket.socket) -> None:
    """Close abruptly: RST, not FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def test_vanished_clients_do_not_leak_sessions(servers):
    server = servers.http("conformance", {"BULWARK_HTTP__SESSION_IDLE_SECS": "2"})
    path = "/mcp/conformance"
    url = server.url(path)
    streams = []
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT) as http:
            ids = [open_session(http, url) for _ in range(20)]
        for sid in ids:
            streams.append(_open_sse_stream(server.host, server.port, path, sid))
        assert sessions(server) == 20
    finally:
        for s in streams:
            _drop(s)
    # Vanished: no DELETE, no more traffic. Idle expiry must reclaim all of them.
    wait_for(lambda: sessions(server) == 0, 20, interval=0.25, what="abandoned sessions to expire")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_session(http, url, ids[0], "tools/list")
        assert r.status_code == 404
        # And the server is still healthy and takes new sessions.
        open_session(http, url)
        assert sessions(server) == 1


def test_vanished_clients_with_open_streams_free_the_session_cap(servers):
    """Abandoned sessions (with dropped SSE streams) count against the cap only until they expire."""
    server = servers.http(
        "conformance", {"BULWARK_HTTP__SESSION_IDLE_SECS": "1", "BULWARK_HTTP__MAX_SESSIONS": "5"}
    )
    path = "/mcp/conformance"
    url = server.url(path)
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        ids = [open_session(http, url) for _ in range(5)]
        streams = [_open_sse_stream(server.host, server.port, path, sid) for sid in ids]
        for s in streams:
            _drop(s)

        def can_open():
            r = http.post(url, headers=SESSION_ACCEPT, json=initialize_body())
            return 200 <= r.status_code < 300 and r.headers.get("mcp-session-id")

        wait_for(can_open, 20, interval=0.25, what="a new session once abandoned ones expired")
