"""An OAuth-protected HTTP upstream behind the gateway.

The upstream is a real bulwark (`serve --http` with its built-in authorization server: RFC 9728
metadata, DCR, PKCE, rotating refresh tokens). A second bulwark's gateway logs in to it with
`bulwark upstream login`, whose printed URL a scripted browser drives through the real login and
consent pages, and then calls its tools for an official Python SDK client. Nothing is faked: the
tokens come from the real endpoints, and revocation is a real user removal on the upstream."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from helpers import HTTP_TIMEOUT, clean_env, run_cli, wait_audit
from oauth_support import (
    Browser,
    HttpsDocuments,
    add_user,
    audit_records,
    make_ca,
    pending_of,
    start_oauth_server,
)

pytestmark = pytest.mark.anyio

USER, PASSWORD = "alice", "correct horse battery staple"


def gw_cli(bulwark_bin: str, gw_dir: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return run_cli(bulwark_bin, gw_dir, *args, timeout=timeout)


def start_login(bulwark_bin: str, gw_dir: Path, name: str, *extra: str) -> tuple[subprocess.Popen, str]:
    """`bulwark upstream login NAME` running; returns it and the authorization URL it printed."""
    proc = subprocess.Popen(
        [bulwark_bin, "--data-dir", str(gw_dir), "upstream", "login", name, *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.strip().startswith("http") and "/authorize?" in line:
            return proc, line.strip()
    proc.kill()
    out, err = proc.communicate(timeout=10)
    raise AssertionError(f"login printed no authorization URL:\n{''.join(seen)}{out}\n{err}")


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def browse(auth_url: str, base: str, username: str = USER, password: str = PASSWORD) -> httpx.Response:
    """What a person does with the printed URL: log in, approve, follow the redirect to bulwark."""
    with Browser(base) as browser:
        r = browser.http.get(auth_url)
        assert r.status_code == 200, (r.status_code, r.text[:2000])
        pending = pending_of(r)
        r = browser.login(pending, username, password)
        assert r.status_code == 200 and "/authorize/consent" in r.text, (r.status_code, r.text[:2000])
        r = browser.consent(pending, "approve")
        assert r.status_code == 302, (r.status_code, r.text[:2000])
        location = r.headers["location"]
        assert location.startswith("http://127.0.0.1:") and "/callback?" in location, location
        return httpx.get(location, timeout=HTTP_TIMEOUT)


def log_in(bulwark_bin: str, gw_dir: Path, name: str, base: str) -> str:
    proc, auth_url = start_login(bulwark_bin, gw_dir, name)
    landing = browse(auth_url, base)
    code, output = finish(proc)
    assert code == 0, output
    assert landing.status_code == 200 and "logged in" in landing.text, landing.text
    assert f"logged in to `{name}`" in output, output
    return output


def gateway_client(bulwark_bin: str, gw_dir: Path, tmp_path: Path):
    params = StdioServerParameters(
        command=bulwark_bin,
        args=["--data-dir", str(gw_dir), "serve", "--profile", "gateway"],
        env=clean_env(),
    )
    errlog = open(tmp_path / "gateway.stderr", "w")
    return Client(stdio_client(params, errlog=errlog), read_timeout_seconds=60), errlog


def text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def sealed_row(gw_dir: Path, name: str) -> bytes | None:
    with sqlite3.connect(gw_dir / "bulwark.db") as db:
        row = db.execute("SELECT ciphertext FROM upstream_tokens WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


@pytest.fixture
def upstream(servers, bulwark_bin, data_dir):
    """An OAuth-protected bulwark whose access tokens live 2 s, so every use refreshes."""
    server = start_oauth_server(servers, env={"BULWARK_AUTH__OAUTH__ACCESS_TOKEN_TTL_SECS": "2"})
    add_user(bulwark_bin, data_dir, USER, PASSWORD)
    return server


@pytest.fixture
def gw_dir(tmp_path: Path) -> Path:
    d = tmp_path / "gw"
    d.mkdir()
    return d


async def test_login_call_refresh_revoke_and_login_again(bulwark_bin, data_dir, upstream, gw_dir, tmp_path):
    url = upstream.url()
    added = gw_cli(bulwark_bin, gw_dir, "upstream", "add", "up", "--url", url, "--oauth")
    assert added.returncode == 0, added.stderr

    # Before a login the upstream is refused with the fix in the message.
    early = gw_cli(bulwark_bin, gw_dir, "upstream", "inspect", "up")
    assert "bulwark upstream login up" in early.stdout + early.stderr, early.stdout + early.stderr

    output = log_in(bulwark_bin, gw_dir, "up", upstream.base)
    assert "stored encrypted" in output, output

    # Sealed at rest: the row exists, and no file of the data dir holds a token or its JSON.
    assert sealed_row(gw_dir, "up"), "no sealed token row"
    for needle in (b"access_token", b"refresh_token", b"eyJ"):
        assert not files_containing(gw_dir, needle), f"{needle!r} in the clear"
    # The upstream did issue a JWT access token to a DCR client.
    # LOW records may wait up to audit.buffer_ms before they reach the file.
    wait_audit(data_dir, lambda r: r.get("event_type") == "auth.token_issued", "token issued by the upstream")

    approved = gw_cli(bulwark_bin, gw_dir, "upstream", "approve", "up")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert "test_tool" in approved.stdout, approved.stdout

    before = sealed_row(gw_dir, "up")
    client, errlog = gateway_client(bulwark_bin, gw_dir, tmp_path)
    with errlog:
        with anyio.fail_after(120):
            async with client:
                first = await client.call_tool("call_tool", {"name": "up:test_tool", "args": {"message": "via gateway"}})
                assert not first.is_error, text(first)
                assert "via gateway" in text(first)

                # Access tokens live 2 s: the next call only works through a refresh.
                await anyio.sleep(3)
                second = await client.call_tool("call_tool", {"name": "up:test_tool", "args": {"message": "refreshed"}})
                assert not second.is_error, text(second)
                assert "refreshed" in text(second)
                wait_audit(data_dir, lambda r: r.get("event_type") == "auth.token_refreshed", "a refresh", timeout=10)
                assert sealed_row(gw_dir, "up") != before, "the refreshed tokens were not stored"
                for needle in (b"access_token", b"refresh_token", b"eyJ"):
                    assert not files_containing(gw_dir, needle), f"{needle!r} in the clear after refresh"

                # Revocation: the user is removed upstream, so the refresh is refused.
                removed = run_cli(bulwark_bin, data_dir, "auth", "user", "remove", USER)
                assert removed.returncode == 0, removed.stderr
                await anyio.sleep(3)
                refused = await client.call_tool("call_tool", {"name": "up:test_tool", "args": {"message": "x"}})
                assert refused.is_error
                assert "bulwark upstream login up" in text(refused), text(refused)

                # No redial storm: the upstream is held until a new login, so it hears nothing.
                await anyio.sleep(1)
                heard = len(audit_records(data_dir))
                for _ in range(5):
                    held = await client.call_tool("call_tool", {"name": "up:test_tool", "args": {"message": "x"}})
                    assert held.is_error and "bulwark upstream login up" in text(held), text(held)
                await anyio.sleep(1)
                assert len(audit_records(data_dir)) == heard, "the held upstream was redialled"

                # Log in again (the user comes back): the running gateway picks the tokens up.
                add_user(bulwark_bin, data_dir, USER, PASSWORD)
                log_in(bulwark_bin, gw_dir, "up", upstream.base)
                again = await client.call_tool("call_tool", {"name": "up:test_tool", "args": {"message": "back"}})
                assert not again.is_error, text(again)
                assert "back" in text(again)

    out = gw_cli(bulwark_bin, gw_dir, "upstream", "logout", "up")
    assert out.returncode == 0 and "forgot" in out.stdout, out.stdout + out.stderr
    assert sealed_row(gw_dir, "up") is None
    out = gw_cli(bulwark_bin, gw_dir, "upstream", "logout", "up")
    assert out.returncode == 0 and "no stored OAuth tokens" in out.stdout, out.stdout
    gone = gw_cli(bulwark_bin, gw_dir, "upstream", "inspect", "up")
    assert "bulwark upstream login up" in gone.stdout + gone.stderr, gone.stdout + gone.stderr


def test_login_refuses_a_redirect_with_the_wrong_state(bulwark_bin, upstream, gw_dir):
    assert gw_cli(bulwark_bin, gw_dir, "upstream", "add", "up", "--url", upstream.url(), "--oauth").returncode == 0
    proc, auth_url = start_login(bulwark_bin, gw_dir, "up")
    redirect_uri = parse_qs(urlsplit(auth_url).query)["redirect_uri"][0]
    assert redirect_uri.startswith("http://127.0.0.1:") and redirect_uri.endswith("/callback"), redirect_uri
    forged = httpx.get(redirect_uri, params={"code": "stolen-code", "state": "not-the-state"}, timeout=HTTP_TIMEOUT)
    assert forged.status_code == 400, forged.text
    code, output = finish(proc)
    assert code != 0
    assert "`state` does not match" in output and "bulwark upstream login up" in output, output
    assert sealed_row(gw_dir, "up") is None


def test_login_times_out_without_a_redirect(bulwark_bin, upstream, gw_dir):
    assert gw_cli(bulwark_bin, gw_dir, "upstream", "add", "up", "--url", upstream.url(), "--oauth").returncode == 0
    started = time.monotonic()
    out = gw_cli(bulwark_bin, gw_dir, "upstream", "login", "up", "--timeout", "2")
    assert out.returncode != 0
    assert "no redirect reached http://127.0.0.1:" in out.stderr and "--timeout" in out.stderr, out.stderr
    assert time.monotonic() - started < 30
    assert "/authorize?" in out.stdout, out.stdout


def test_login_bad_input(bulwark_bin, gw_dir, tmp_path):
    unknown = gw_cli(bulwark_bin, gw_dir, "upstream", "login", "nope")
    assert unknown.returncode != 0 and "nope" in unknown.stderr, unknown.stderr

    assert gw_cli(bulwark_bin, gw_dir, "upstream", "add", "st", "--", "python3", "-c", "pass").returncode == 0
    stdio = gw_cli(bulwark_bin, gw_dir, "upstream", "login", "st")
    assert stdio.returncode != 0 and "stdio server" in stdio.stderr and "only for HTTP" in stdio.stderr, stdio.stderr

    assert gw_cli(bulwark_bin, gw_dir, "upstream", "add", "plain", "--url", "http://127.0.0.1:9/mcp").returncode == 0
    plain = gw_cli(bulwark_bin, gw_dir, "upstream", "login", "plain")
    assert plain.returncode != 0 and "does not use OAuth" in plain.stderr and "--oauth" in plain.stderr, plain.stderr

    stdio_oauth = gw_cli(bulwark_bin, gw_dir, "upstream", "add", "x", "--oauth", "--", "python3")
    assert stdio_oauth.returncode != 0 and "--oauth is for HTTP upstreams" in stdio_oauth.stderr, stdio_oauth.stdout

    config = tmp_path / "bad.toml"
    config.write_text('[[upstreams]]\nname = "b"\nurl = "http://127.0.0.1:9/mcp"\nauth = "basic"\n')
    bad = run_cli(bulwark_bin, gw_dir, "--config", str(config), "upstream", "list")
    assert bad.returncode != 0 and "auth" in bad.stderr and "oauth" in bad.stderr, bad.stderr


def login_and_approve(bulwark_bin: str, gw_dir: Path, name: str, base: str, client_id: str) -> None:
    """Log in (asserting the authorization URL names `client_id`), then approve: listing the
    upstream's tools needs a working access token."""
    proc, auth_url = start_login(bulwark_bin, gw_dir, name)
    assert parse_qs(urlsplit(auth_url).query)["client_id"] == [client_id], auth_url
    landing = browse(auth_url, base)
    code, output = finish(proc)
    assert code == 0 and landing.status_code == 200, output + landing.text
    approved = gw_cli(bulwark_bin, gw_dir, "upstream", "approve", name)
    assert approved.returncode == 0 and "test_tool" in approved.stdout, approved.stdout + approved.stderr


def test_login_with_a_client_registered_by_hand(bulwark_bin, data_dir, upstream, gw_dir):
    # What an administrator does for a server without DCR: register once, give bulwark the id.
    registered = httpx.post(
        upstream.base + "/register",
        json={
            "client_name": "bulwark gateway (registered by hand)",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
        timeout=HTTP_TIMEOUT,
    )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    added = gw_cli(
        bulwark_bin, gw_dir, "upstream", "add", "pre", "--url", upstream.url(), "--oauth", "--oauth-client-id", client_id
    )
    assert added.returncode == 0, added.stderr
    login_and_approve(bulwark_bin, gw_dir, "pre", upstream.base, client_id)
    # The upstream issued the token to that client, not to a freshly registered one.
    wait_audit(
        data_dir,
        lambda r: r.get("event_type") == "auth.token_issued" and r.get("client_id") == client_id,
        "token issued to the hand-registered client",
    )
    listed = json.loads(run_cli(bulwark_bin, data_dir, "auth", "client", "list", "--json").stdout)
    assert [c["client_id"] for c in listed] == [client_id], listed


def test_login_with_a_client_id_metadata_document(servers, bulwark_bin, data_dir, gw_dir, tmp_path):
    ca = make_ca(tmp_path / "pki")
    documents = HttpsDocuments(ca)
    try:
        cimd_url = documents.origin + "/clients/bulwark-gateway.json"
        documents.documents["/clients/bulwark-gateway.json"] = {
            "client_id": cimd_url,
            "client_name": "bulwark gateway (metadata document)",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        server = start_oauth_server(
            servers,
            env={"SSL_CERT_FILE": str(ca.ca_pem), "BULWARK_AUTH__OAUTH__ALLOW_INSECURE_CIMD": "true"},
        )
        add_user(bulwark_bin, data_dir, USER, PASSWORD)
        added = gw_cli(
            bulwark_bin, gw_dir, "upstream", "add", "doc", "--url", server.url(), "--oauth",
            "--oauth-client-metadata-url", cimd_url,
        )
        assert added.returncode == 0, added.stderr
        login_and_approve(bulwark_bin, gw_dir, "doc", server.base, cimd_url)
        assert documents.hits.get("/clients/bulwark-gateway.json", 0) >= 1, documents.hits
        # The login did not fall back to registering a client (DCR): the document is the client.
        listed = json.loads(run_cli(bulwark_bin, data_dir, "auth", "client", "list", "--json").stdout)
        assert all(c["client_id"] == cimd_url for c in listed), listed
        wait_audit(
            data_dir,
            lambda r: r.get("event_type") == "auth.token_issued" and r.get("client_id") == cimd_url,
            "token issued to the metadata-document client",
        )
    finally:
        documents.close()
