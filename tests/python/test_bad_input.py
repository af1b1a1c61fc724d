"""Bad requests over HTTP, sent raw with httpx: each must get a precise answer."""

from __future__ import annotations

import json

import httpx
import pytest

from helpers import (
    HTTP_TIMEOUT,
    SESSION_ACCEPT,
    open_session,
    parse_messages,
    post_session,
    post_stateless,
    rpc_response,
    session_headers,
    stateless_meta,
    stateless_request,
    text_of,
)


@pytest.fixture
def http(conformance_server):
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        yield client


@pytest.fixture
def url(conformance_server) -> str:
    return conformance_server.url("/mcp/conformance")


def test_well_formed_stateless_call_succeeds(http, url):
    # Baseline for the negative tests below: the same shape, correct, works.
    r = post_stateless(http, url, "tools/call", {"name": "test_simple_text", "arguments": {}})
    assert r.status_code == 200, r.text
    answer = rpc_response(r)
    assert text_of(answer["result"]) == "This is a simple text response for testing."
    assert answer["result"]["resultType"] == "complete"


def test_malformed_json_is_400_parse_error(http, url):
    h, _ = stateless_request("tools/list")
    r = http.post(url, headers=h, content=b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["jsonrpc"] == "2.0"
    assert body["error"]["code"] == -32700
    assert body["id"] is None


def test_malformed_json_in_a_session_is_400_parse_error(http, url):
    sid = open_session(http, url)
    r = http.post(url, headers=session_headers(sid), content=b"{not json")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == -32700


def test_unknown_method_on_2026_wire_is_404_method_not_found(http, url):
    r = post_stateless(http, url, "no/such_method", {})
    assert r.status_code == 404, r.text
    answer = rpc_response(r)
    assert answer["id"] == 1
    assert answer["error"]["code"] == -32601


def test_unknown_method_in_2025_session_is_method_not_found(http, url):
    sid = open_session(http, url)
    r = post_session(http, url, sid, "no/such_method", {}, request_id=7)
    answer = rpc_response(r, 7)
    assert answer["id"] == 7
    assert answer["error"]["code"] == -32601, answer


def test_unknown_tool_is_invalid_params_naming_it(http, url):
    r = post_stateless(http, url, "tools/call", {"name": "no_such_tool_xyz", "arguments": {}})
    answer = rpc_response(r)
    assert "result" not in answer, answer
    assert answer["error"]["code"] == -32602
    assert "no_such_tool_xyz" in answer["error"]["message"]


def test_unknown_tool_in_2025_session_is_invalid_params(http, url):
    sid = open_session(http, url)
    r = post_session(http, url, sid, "tools/call", {"name": "no_such_tool_xyz", "arguments": {}}, request_id=3)
    answer = rpc_response(r, 3)
    assert answer["error"]["code"] == -32602
    assert "no_such_tool_xyz" in answer["error"]["message"]


def test_arguments_failing_the_schema_are_a_tool_error_naming_the_field(http, url):
    r = post_stateless(http, url, "tools/call", {"name": "test_sampling", "arguments": {"prompt": 5}})
    assert r.status_code == 200, r.text
    answer = rpc_response(r)
    result = answer["result"]
    assert result["isError"] is True, result
    assert "prompt" in text_of(result)


def test_missing_required_argument_is_a_tool_error_naming_the_field(http, url):
    r = post_stateless(http, url, "tools/call", {"name": "test_sampling", "arguments": {}})
    result = rpc_response(r)["result"]
    assert result["isError"] is True, result
    assert "prompt" in text_of(result)


def test_oversized_body_with_default_limit_is_413(http, url):
    # Default http.max_body_bytes is 4 MiB.
    h, body = stateless_request(
        "tools/call", {"name": "test_tool_with_logging", "arguments": {"pad": "x" * (4 * 1024 * 1024 + 16)}}
    )
    r = http.post(url, headers=h, content=json.dumps(body).encode())
    assert r.status_code == 413, (r.status_code, r.text[:500])


def test_oversized_body_with_configured_limit_is_413(servers):
    server = servers.http("conformance", {"BULWARK_HTTP__MAX_BODY_BYTES": "2048"})
    url = server.url("/mcp/conformance")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        # Under the limit: served.
        r = post_stateless(http, url, "tools/call", {"name": "test_simple_text", "arguments": {"pad": "y" * 1000}})
        assert r.status_code == 200, r.text
        assert "result" in rpc_response(r)
        # Over it: 413 before MCP sees it.
        r = post_stateless(http, url, "tools/call", {"name": "test_simple_text", "arguments": {"pad": "y" * 4000}})
        assert r.status_code == 413, (r.status_code, r.text)
        assert r.json()["error"]["code"] == -32600
        assert "max_body_bytes" in r.json()["error"]["message"]


def test_disallowed_origin_is_403(http, url):
    h, body = stateless_request("tools/list", headers={"Origin": "http://evil.example.com"})
    r = http.post(url, headers=h, json=body)
    assert r.status_code == 403, (r.status_code, r.text)


def test_allowed_origin_is_served(http, conformance_server, url):
    h, body = stateless_request("tools/list", headers={"Origin": f"http://localhost:{conformance_server.port}"})
    r = http.post(url, headers=h, json=body)
    assert r.status_code == 200, (r.status_code, r.text)


def test_disallowed_origin_cannot_open_a_session(http, url):
    r = http.post(url, headers={**SESSION_ACCEPT, "Origin": "http://evil.example.com"}, json={
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "0"}},
    })
    assert r.status_code == 403, (r.status_code, r.text)
    assert "mcp-session-id" not in r.headers


def test_disallowed_host_header_is_rejected(http, url):
    h, body = stateless_request("tools/list", headers={"Host": "evil.example.com"})
    r = http.post(url, headers=h, json=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert "result" not in r.text


def test_unknown_session_id_is_404(http, url):
    r = post_session(http, url, "00000000-0000-0000-0000-000000000000", "tools/list")
    assert r.status_code == 404, (r.status_code, r.text)


def test_mcp_name_header_mismatch_is_400_header_mismatch(http, url):
    r = post_stateless(
        http,
        url,
        "tools/call",
        {"name": "test_simple_text", "arguments": {}},
        headers={"Mcp-Name": "test_error_handling"},
    )
    assert r.status_code == 400, r.text
    answer = rpc_response(r)
    assert answer["error"]["code"] == -32020
    assert "result" not in answer


def test_mcp_method_header_mismatch_is_400_header_mismatch(http, url):
    r = post_stateless(http, url, "tools/list", {}, headers={"Mcp-Method": "prompts/list"})
    assert r.status_code == 400, r.text
    assert rpc_response(r)["error"]["code"] == -32020


def test_resource_uri_header_mismatch_is_400_header_mismatch(http, url):
    r = post_stateless(
        http, url, "resources/read", {"uri": "test://static-text"}, headers={"Mcp-Name": "test://static-binary"}
    )
    assert r.status_code == 400, r.text
    assert rpc_response(r)["error"]["code"] == -32020


def test_protocol_version_header_vs_meta_mismatch_is_400_header_mismatch(http, url):
    r = post_stateless(http, url, "tools/list", {}, headers={"MCP-Protocol-Version": "2025-11-25"})
    assert r.status_code == 400, r.text
    assert rpc_response(r)["error"]["code"] == -32020


def test_meta_version_vs_header_mismatch_is_400_header_mismatch(http, url):
    meta = stateless_meta()
    meta["io.modelcontextprotocol/protocolVersion"] = "2025-11-25"
    r = post_stateless(http, url, "tools/list", {}, meta=meta)
    assert r.status_code == 400, r.text
    assert rpc_response(r)["error"]["code"] == -32020


def test_unknown_profile_is_404_listing_profiles(http, conformance_server):
    for path in ("/mcp/nope", "/mcp/v1/nope"):
        h, body = stateless_request("tools/list")
        r = http.post(conformance_server.url(path), headers=h, json=body)
        assert r.status_code == 404, (path, r.status_code, r.text)
        payload = r.json()
        assert "conformance" in payload["profiles"]
        assert "core" in payload["profiles"]
        assert "conformance" in payload["message"] and "nope" in payload["message"]


def test_health_and_ready(http, conformance_server):
    r = http.get(conformance_server.url("/health"))
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    r = http.get(conformance_server.url("/ready"))
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "sessions": 0}


def test_sse_and_json_parsing_helper_sees_notifications(http, url):
    # A progress token in _meta: the stateless answer streams progress first.
    meta = stateless_meta(progressToken="tok-1")
    r = post_stateless(http, url, "tools/call", {"name": "test_tool_with_progress", "arguments": {}}, meta=meta)
    messages = parse_messages(r)
    progress = [m for m in messages if m.get("method") == "notifications/progress"]
    assert [p["params"]["progress"] for p in progress] == [0, 50, 100], messages
    assert text_of(rpc_response(r)["result"]) == "tok-1"
