"""Configuration: `bulwark config check`, LimaCharlie variables, profiles files."""

from __future__ import annotations

import anyio
import httpx
import pytest
from mcp import Client

from helpers import (
    CORE_TOOLS,
    HTTP_TIMEOUT,
    free_port,
    post_stateless,
    rpc_response,
    run_cli,
    text_of,
)


def write(path, text: str):
    path.write_text(text)
    return path


def test_config_check_valid_file(bulwark_bin, data_dir, tmp_path):
    cfg = write(
        tmp_path / "bulwark.toml",
        '[server]\nprofile = "core"\ncall_timeout_secs = 30\n'
        '[http]\nlisten = "127.0.0.1:9123"\nmax_sessions = 5\nsession_idle_secs = 60\n',
    )
    r = run_cli(bulwark_bin, data_dir, "config", "check", str(cfg))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok:"), r.stdout
    assert str(cfg) in r.stdout
    assert "`core`" in r.stdout


def test_config_check_bad_mode(bulwark_bin, data_dir, tmp_path):
    cfg = write(tmp_path / "bad.toml", '[server]\nmode = "tcp"\n')
    r = run_cli(bulwark_bin, data_dir, "config", "check", str(cfg))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    for needle in ("server.mode", "tcp", "stdio"):
        assert needle in r.stderr, (needle, r.stderr)


def test_config_check_unknown_key(bulwark_bin, data_dir, tmp_path):
    cfg = write(tmp_path / "typo.toml", '[http]\nlisten_addr = "127.0.0.1:1"\n')
    r = run_cli(bulwark_bin, data_dir, "config", "check", str(cfg))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "listen_addr" in r.stderr
    # It tells what would have been valid.
    assert "listen" in r.stderr.replace("listen_addr", "")


def test_config_check_zero_is_rejected(bulwark_bin, data_dir, tmp_path):
    cfg = write(tmp_path / "zero.toml", "[http]\nmax_sessions = 0\n")
    r = run_cli(bulwark_bin, data_dir, "config", "check", str(cfg))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "http.max_sessions" in r.stderr


def test_config_check_missing_file(bulwark_bin, data_dir, tmp_path):
    r = run_cli(bulwark_bin, data_dir, "config", "check", str(tmp_path / "missing.toml"))
    assert r.returncode == 2
    assert "does not exist" in r.stderr


def test_config_check_profiles_file_with_unknown_tool(bulwark_bin, data_dir, tmp_path):
    write(tmp_path / "profiles.toml", '[profiles.triage]\ntools = ["test_tool", "no_such_tool_q"]\n')
    cfg = write(tmp_path / "bulwark.toml", 'profiles_file = "profiles.toml"\n')
    r = run_cli(bulwark_bin, data_dir, "config", "check", str(cfg))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "no_such_tool_q" in r.stderr
    assert "triage" in r.stderr


def test_config_check_valid_profiles_file(bulwark_bin, data_dir, tmp_path):
    write(tmp_path / "profiles.toml", '[profiles.triage]\ntools = ["test_tool"]\n')
    cfg = write(tmp_path / "bulwark.toml", 'profiles_file = "profiles.toml"\n[server]\nprofile = "triage"\n')
    r = run_cli(bulwark_bin, data_dir, "config", "check", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "`triage`" in r.stdout


def test_env_override_is_validated(bulwark_bin, data_dir):
    r = run_cli(bulwark_bin, data_dir, "config", "show", env={"BULWARK_HTTP__MAX_SESSIONS": "3"})
    assert r.returncode == 0, r.stderr
    assert "max_sessions = 3" in r.stdout
    r = run_cli(bulwark_bin, data_dir, "config", "show", env={"BULWARK_HTTP__MAX_BODY_BYTES": "lots"})
    assert r.returncode == 2
    assert "http.max_body_bytes" in r.stderr and "lots" in r.stderr


def test_limacharlie_mcp_mode_and_port(servers):
    """MCP_MODE=http PORT=N: `bulwark serve` (no flags) listens on HTTP on N."""
    last_error = None
    for _ in range(3):  # a freed port can be taken by someone else; retry
        port = free_port()
        try:
            server = servers.spawn(["serve"], {"MCP_MODE": "http", "PORT": str(port)})
        except AssertionError as exc:
            last_error = exc
            continue
        break
    else:
        raise AssertionError(f"could not start on a free port: {last_error}")

    assert server.port == port
    assert server.host == "127.0.0.1"
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        assert http.get(server.url("/health")).status_code == 200
        # Default profile `all` at /mcp.
        r = post_stateless(http, server.url("/mcp"), "tools/list")
        names = {t["name"] for t in rpc_response(r)["result"]["tools"]}
        assert CORE_TOOLS <= names, names


def test_limacharlie_mcp_profile(servers):
    server = servers.spawn(
        ["serve", "--http", "127.0.0.1:0"], {"MCP_PROFILE": "conformance"}
    )
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(http, server.url("/mcp"), "tools/list")
        names = {t["name"] for t in rpc_response(r)["result"]["tools"]}
        assert "test_simple_text" in names


@pytest.mark.anyio
async def test_profiles_file_adds_a_profile_with_core_tools(servers, tmp_path):
    write(tmp_path / "profiles.toml", '[profiles.triage]\ntools = ["test_tool"]\n')
    cfg = write(tmp_path / "bulwark.toml", 'profiles_file = "profiles.toml"\n')
    server = servers.http(None, config=cfg)
    with anyio.fail_after(60):
        async with Client(server.url("/mcp/triage"), mode="2026-07-28", read_timeout_seconds=30) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == CORE_TOOLS, names
            echo = await client.call_tool("test_tool", {"message": "triaged"})
            assert echo.content[0].text == "triaged"
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = http.get(server.url("/mcp/nope"))
        assert r.status_code == 404
        assert "triage" in r.json()["profiles"]


def test_profiles_file_profile_gets_listed_tool_plus_core(servers, tmp_path):
    # A tool from outside core (a conformance fixture) plus the always-included core tools.
    write(tmp_path / "profiles.toml", '[profiles.triage]\ntools = ["test_simple_text"]\n')
    cfg = write(tmp_path / "bulwark.toml", 'profiles_file = "profiles.toml"\n')
    server = servers.http(None, config=cfg)
    url = server.url("/mcp/triage")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(http, url, "tools/list")
        names = {t["name"] for t in rpc_response(r)["result"]["tools"]}
        assert names == CORE_TOOLS | {"test_simple_text"}, names
        r = post_stateless(http, url, "tools/call", {"name": "test_simple_text", "arguments": {}})
        assert text_of(rpc_response(r)["result"]) == "This is a simple text response for testing."


def test_serve_with_unknown_profile_fails_listing_profiles(bulwark_bin, data_dir):
    r = run_cli(bulwark_bin, data_dir, "serve", "--http", "127.0.0.1:0", "--profile", "nope", timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "nope" in r.stderr and "conformance" in r.stderr
