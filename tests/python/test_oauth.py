"""`auth.methods = ["oauth"]`: bulwark's built-in OAuth 2.1 authorization server,
end to end over real HTTP against `bulwark serve --http`.

- The official MCP Python SDK's `OAuthClientProvider` finds the server from a
  401 and logs in with Dynamic Client Registration or with a Client ID Metadata
  Document served over HTTPS by a private CA, then refreshes an expired token.
- A scripted browser (oauth_support.Browser) fills the login, TOTP and consent
  forms for everything else: MFA, password guessing against the per-address
  budget, tokens in the query string, audiences, signing-key rotation by another
  process, and revocation.

Every test gets its own data directory, users are made with the CLI, and every
token comes from the server's own endpoints (docs/oauth.md)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from helpers import HTTP_TIMEOUT, post_stateless, rpc_response, run_cli
from oauth_support import (
    Browser,
    HttpsDocuments,
    Pkce,
    PublicClient,
    add_user,
    audit_records,
    bearer,
    call_test_tool,
    event,
    hotp,
    make_ca,
    pending_of,
    query_of,
    start_oauth_server,
    token_parts,
    totp,
    wait_audit,
    wait_status,
)

PASSWORD = "correct horse battery staple"

# Where the SDK client says it receives the authorization response; the test's
# redirect handler stops at bulwark's 302 and hands the query to the SDK.
SDK_REDIRECT = "http://127.0.0.1:9/oauth/sdk-callback"


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text")


# --------------------------------------------------------------------------
# The official SDK's OAuth client
# --------------------------------------------------------------------------


class MemoryStorage:
    """`mcp.client.auth.TokenStorage` in memory; remembers when tokens arrived."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.tokens_at = 0.0
        self.client_info: OAuthClientInformationFull | None = None
        self.history: list[OAuthToken] = []

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens, self.tokens_at = tokens, time.time()
        self.history.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class SdkUser:
    """The person at the browser for the SDK: `redirect_handler` opens the
    authorization URL, signs in, approves and keeps bulwark's 302;
    `callback_handler` hands its code, state and iss to the SDK."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.authorization_urls: list[str] = []
        self._result: AuthorizationCodeResult | None = None

    async def redirect_handler(self, url: str) -> None:
        self.authorization_urls.append(url)
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False, headers={"Accept": "text/html"}) as b:
            r = await b.get(url)
            assert r.status_code == 200, (r.status_code, r.text)
            pending = pending_of(r)
            r = await b.post(origin + "/authorize", data={"pending": pending, "username": self.username, "password": self.password})
            assert r.status_code == 200 and 'action="/authorize/consent"' in r.text, (r.status_code, r.text)
            r = await b.post(origin + "/authorize/consent", data={"pending": pending, "decision": "approve"})
            assert r.status_code == 302, (r.status_code, r.text)
        location = r.headers["location"]
        assert location.startswith(SDK_REDIRECT + "?"), location
        back = query_of(location)
        self._result = AuthorizationCodeResult(code=back["code"], state=back.get("state"), iss=back.get("iss"))

    async def callback_handler(self) -> AuthorizationCodeResult:
        result, self._result = self._result, None
        assert result is not None, "the SDK asked for the callback before the redirect handler finished"
        return result


def sdk_provider(url: str, user: SdkUser, storage: MemoryStorage, client_metadata_url: str | None = None) -> OAuthClientProvider:
    metadata = OAuthClientMetadata(
        redirect_uris=[AnyUrl(SDK_REDIRECT)],
        client_name="bulwark pytest (official SDK)",
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        server_url=url,
        client_metadata=metadata,
        storage=storage,
        redirect_handler=user.redirect_handler,
        callback_handler=user.callback_handler,
        client_metadata_url=client_metadata_url,
    )


class Wire:
    """What the SDK's HTTP client sent and got, as (method, path, status)."""

    def __init__(self) -> None:
        self.exchanges: list[tuple[str, str, int]] = []

    async def on_response(self, response: httpx2.Response) -> None:
        self.exchanges.append((response.request.method, response.request.url.path, response.status_code))

    def client(self, provider: OAuthClientProvider) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(30.0), event_hooks={"response": [self.on_response]})

    def assert_discovery(self, path: str, *, registered: bool) -> None:
        """401 → protected-resource metadata → AS metadata → [DCR] → token, in that order."""
        expected = [
            ("POST", path, 401),
            ("GET", "/.well-known/oauth-protected-resource" + path, 200),
            ("GET", "/.well-known/oauth-authorization-server", 200),
            *([("POST", "/register", 201)] if registered else []),
            ("POST", "/token", 200),
            ("POST", path, 200),
        ]
        assert self.exchanges[: len(expected)] == expected, self.exchanges
        if not registered:
            assert not [e for e in self.exchanges if e[1] == "/register"], self.exchanges


async def sdk_session_calls(url: str, provider: OAuthClientProvider, wire: Wire) -> list[str]:
    """tools/list and a test_tool call through the SDK; returns the echoes."""
    async with wire.client(provider) as http:
        async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=30) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert "test_tool" in tools, tools
            first = await client.call_tool("test_tool", {"message": "before expiry"})
            assert first.is_error is not True, first
            return [text(first)]


def assert_authorization_url(url: str, server_base: str, resource: str) -> dict[str, str]:
    assert url.startswith(server_base + "/authorize?"), url
    params = query_of(url)
    assert params["code_challenge_method"] == "S256" and params["code_challenge"], params
    assert params["resource"] == resource, params
    return params


@pytest.mark.anyio
async def test_sdk_client_registers_logs_in_and_refreshes(servers, bulwark_bin, data_dir):
    add_user(bulwark_bin, data_dir, "alice", PASSWORD)
    server = start_oauth_server(servers, env={"BULWARK_AUTH__OAUTH__ACCESS_TOKEN_TTL_SECS": "2"})
    url = server.url("/mcp/core")
    user, storage = SdkUser("alice", PASSWORD), MemoryStorage()
    provider, wire = sdk_provider(url, user, storage), Wire()

    with anyio.fail_after(60):
        async with wire.client(provider) as http:
            async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=30) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                assert "test_tool" in tools, tools
                result = await client.call_tool("test_tool", {"message": "before expiry"})
                assert result.is_error is not True and text(result) == "before expiry", result

                # One login, through a client the SDK registered (RFC 7591).
                assert len(user.authorization_urls) == 1, user.authorization_urls
                assert_authorization_url(user.authorization_urls[0], server.base, url)
                wire.assert_discovery("/mcp/core", registered=True)
                client_id = storage.client_info.client_id
                assert client_id.startswith("bwc-"), storage.client_info
                first = storage.tokens
                assert first.refresh_token and first.expires_in == 2, first
                header, claims = token_parts(first.access_token)
                assert header["typ"] == "at+jwt" and header["alg"] == "ES256", header
                assert claims["sub"] == "alice" and claims["aud"] == url and claims["client_id"] == client_id, claims
                assert claims["iss"] == server.base and claims["exp"] - claims["iat"] == 2, claims

                # Let the access token expire by the SDK's clock and by the server's
                # (whole seconds: see test_access_token_is_refused_once_exp_is_reached).
                expired = max(storage.tokens_at + first.expires_in + 0.2, claims["exp"] + 1.05)
                await anyio.sleep(max(0.0, expired - time.time()))
                with httpx.Client(timeout=HTTP_TIMEOUT) as raw:
                    r = call_test_tool(raw, url, first.access_token)
                    assert r.status_code == 401, f"an expired access token was accepted: {r.status_code} {r.text}"

                seen = len(wire.exchanges)
                result = await client.call_tool("test_tool", {"message": "after expiry"})
                assert result.is_error is not True and text(result) == "after expiry", result
                # A refresh before the call, not a 401 and a new login.
                assert wire.exchanges[seen:] == [("POST", "/token", 200), ("POST", "/mcp/core", 200)], wire.exchanges[seen:]

    # The SDK refreshed (rotating the refresh token) instead of logging in again.
    assert len(user.authorization_urls) == 1, user.authorization_urls
    assert storage.tokens.access_token != first.access_token
    assert storage.tokens.refresh_token and storage.tokens.refresh_token != first.refresh_token
    wait_audit(data_dir, event("auth.client_registered", "success", client_id=client_id), "DCR record")
    wait_audit(data_dir, event("auth.token_issued", "success", client_id=client_id, user="alice"), "token issue")
    wait_audit(data_dir, event("auth.token_refreshed", "success", client_id=client_id, user="alice"), "refresh")
    calls = wait_audit(data_dir, event("tool_call", user="alice", client_id=client_id), "two tool calls", count=2)
    assert all(r["outcome"] == "success" for r in calls), calls
    listed = json.loads(run_cli(bulwark_bin, data_dir, "auth", "client", "list", "--json").stdout)
    assert [c["client_id"] for c in listed] == [client_id], listed


@pytest.mark.anyio
async def test_sdk_client_uses_a_client_id_metadata_document(servers, bulwark_bin, data_dir, tmp_path):
    add_user(bulwark_bin, data_dir, "alice", PASSWORD)
    ca = make_ca(tmp_path / "pki")
    documents = HttpsDocuments(ca)
    try:
        cimd_url = documents.origin + "/clients/pytest.json"
        documents.documents["/clients/pytest.json"] = {
            "client_id": cimd_url,
            "client_name": "bulwark pytest (metadata document)",
            "redirect_uris": [SDK_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        params = {
            "response_type": "code",
            "client_id": cimd_url,
            "redirect_uri": SDK_REDIRECT,
            "code_challenge": Pkce.make().challenge,
            "code_challenge_method": "S256",
            "state": "refused",
        }
        # Neither half alone is enough (one server at a time: they share the audit log).
        # Without allow_insecure_cimd, a document on loopback is never fetched (no SSRF);
        # without the private CA, the TLS handshake fails: certificates are verified.
        for env in ({"SSL_CERT_FILE": str(ca.ca_pem)}, {"BULWARK_AUTH__OAUTH__ALLOW_INSECURE_CIMD": "true"}):
            refusing = start_oauth_server(servers, env=env)
            r = httpx.get(refusing.base + "/authorize", params=params, timeout=HTTP_TIMEOUT)
            assert r.status_code == 400 and r.json()["error"] == "invalid_client", (env, r.status_code, r.text)
            assert "location" not in r.headers
            refusing.kill()
        assert documents.hits == {}, documents.hits

        server = start_oauth_server(
            servers,
            env={"SSL_CERT_FILE": str(ca.ca_pem), "BULWARK_AUTH__OAUTH__ALLOW_INSECURE_CIMD": "true"},
        )
        url = server.url("/mcp/core")
        user, storage = SdkUser("alice", PASSWORD), MemoryStorage()
        provider, wire = sdk_provider(url, user, storage, client_metadata_url=cimd_url), Wire()
        with anyio.fail_after(60):
            echoes = await sdk_session_calls(url, provider, wire)
        assert echoes == ["before expiry"]
        wire.assert_discovery("/mcp/core", registered=False)
        assert len(user.authorization_urls) == 1
        assert query_of(user.authorization_urls[0])["client_id"] == cimd_url
        assert storage.client_info.client_id == cimd_url
        assert token_parts(storage.tokens.access_token)[1]["client_id"] == cimd_url
        # bulwark fetched the document over HTTPS (trusting the private CA).
        assert documents.hits.get("/clients/pytest.json", 0) >= 1, documents.hits
    finally:
        documents.close()

    # No Dynamic Client Registration happened; the audit names the document's URL.
    listed = run_cli(bulwark_bin, data_dir, "auth", "client", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stdout
    calls = wait_audit(data_dir, event("tool_call", "success", user="alice"), "tool call")
    assert calls[-1]["client_id"] == cimd_url, calls[-1]
    wait_audit(data_dir, event("auth.token_issued", "success", client_id=cimd_url), "token issue")
    assert not [r for r in audit_records(data_dir) if r["event_type"] == "auth.client_registered"]


# --------------------------------------------------------------------------
# TOTP
# --------------------------------------------------------------------------


def test_totp_user_logs_in_through_the_mfa_step(servers, bulwark_bin, data_dir):
    # The code generator is RFC 6238's (appendix B: SHA-1, T = 59 s).
    assert hotp(b"12345678901234567890", 59 // 30, digits=8) == "94287082"
    secret = add_user(bulwark_bin, data_dir, "carol", PASSWORD, totp=True, tenant="acme")
    server = start_oauth_server(servers)
    client = PublicClient.register(server.base)
    pkce, state = Pkce.make(), "totp-state"

    with Browser(server.base) as browser:
        pending = pending_of(browser.authorize(client.authorization_params(pkce, state)))
        r = browser.login(pending, "carol", PASSWORD)
        assert r.status_code == 200 and 'action="/authorize/mfa"' in r.text, (r.status_code, r.text)
        assert "/authorize/consent" not in r.text

        # Consent cannot skip the second factor.
        r = browser.consent(pending)
        assert r.status_code == 400 and "location" not in r.headers, (r.status_code, r.text)

        now = time.time()
        valid = {totp(secret, now + 30 * d) for d in range(-2, 3)}
        wrong = next(c for c in ("000000", "123456", "999999", "424242", "271828", "314159") if c not in valid)
        r = browser.mfa(pending, wrong)
        assert r.status_code == 401 and 'action="/authorize/mfa"' in r.text, (r.status_code, r.text)
        failure = wait_audit(data_dir, event("auth.mfa", "failure", user="carol"), "auth.mfa failure")[-1]
        assert failure["client_id"] == client.client_id, failure

        code = totp(secret)
        r = browser.mfa(pending, code)
        assert r.status_code == 200 and 'action="/authorize/consent"' in r.text, (r.status_code, r.text)
        back = browser.approve(pending, expect_state=state)

    wait_audit(data_dir, event("auth.mfa", "success", user="carol"), "auth.mfa success")
    tokens = client.redeem(back["code"], pkce)
    claims = token_parts(tokens["access_token"])[1]
    assert claims["sub"] == "carol" and claims["tenant"] == "acme", claims
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = call_test_tool(http, server.url("/mcp/core"), tokens["access_token"], "with mfa")
        assert r.status_code == 200 and rpc_response(r)["result"]["content"][0]["text"] == "with mfa", r.text

    # The accepted code is spent: it does not open a second login either.
    with Browser(server.base) as browser:
        pending = pending_of(browser.authorize(client.authorization_params(Pkce.make(), "again")))
        assert browser.login(pending, "carol", PASSWORD).status_code == 200
        r = browser.mfa(pending, code)
        assert r.status_code == 401, f"a replayed TOTP code was accepted: {r.status_code} {r.text}"
    # Codes and the secret are never written (the hash chain is left out: it is hex).
    for record in audit_records(data_dir):
        fields = json.dumps({k: v for k, v in record.items() if k not in ("hash", "prev")})
        assert code not in fields and wrong not in fields and secret not in fields, record


# --------------------------------------------------------------------------
# Password guessing against the per-address budget
# --------------------------------------------------------------------------


def test_password_guessing_is_rate_limited_and_audited_without_the_password(servers, bulwark_bin, data_dir):
    add_user(bulwark_bin, data_dir, "dave", PASSWORD)
    server = start_oauth_server(servers, relaxed=False)  # authorize: 10 per minute per address
    client = PublicClient.register(server.base)
    guess = "Guess-Canary-d4c3b2a1"
    params = client.authorization_params(Pkce.make(), "brute")

    answers: list[tuple[str, int]] = []
    with Browser(server.base) as browser:
        pending = None
        start = time.monotonic()
        for attempt in range(40):
            if pending is None:
                r = browser.authorize(params)
                answers.append(("GET", r.status_code))
                if r.status_code != 429:
                    assert r.status_code == 200, (r.status_code, r.text)
                    pending = pending_of(r)
            else:
                r = browser.login(pending, "dave", f"{guess}-{attempt}")
                answers.append(("POST", r.status_code))
                if r.status_code == 400:
                    pending = None  # five failures end the pending authorization
                elif r.status_code != 429:
                    assert r.status_code == 401, (r.status_code, r.text)
            if r.status_code == 429:
                limited = r
                break
        else:
            raise AssertionError(f"no 429 from /authorize after {len(answers)} requests: {answers}")
        elapsed = time.monotonic() - start

        allowed = len(answers) - 1
        # GCRA: a burst of 10, then one more every 6 s.
        assert 10 <= allowed <= 10 + int(elapsed / 6), (allowed, elapsed, answers)
        assert ("GET", 200) in answers[1:], f"the test never needed a second GET /authorize: {answers}"
        assert int(limited.headers["retry-after"]) >= 1, limited.headers
        assert limited.headers["ratelimit-limit"] == "10" and limited.headers["ratelimit-remaining"] == "0", limited.headers
        assert limited.json()["error"] == "rate_limited", limited.text

        # Now even the right password is turned away.
        r = browser.login(pending or "x", "dave", PASSWORD)
        assert r.status_code == 429, (r.status_code, r.text)

    failures = wait_audit(data_dir, event("auth.login", "failure", user="dave"), "failed logins", count=5)
    assert all(f["detail"] == "wrong password" and f["client_id"] == client.client_id for f in failures), failures
    assert all(f["source_ip"] == "127.0.0.1" for f in failures), failures
    limited_records = wait_audit(data_dir, event("rate_limited", status_code=429), "rate_limited record")
    assert limited_records[0]["action"] == "/authorize" and limited_records[0]["source_ip"] == "127.0.0.1", limited_records
    logged = (data_dir / "audit.jsonl").read_text() + server.stderr()
    assert guess not in logged and PASSWORD not in logged and "Canary" not in logged


# --------------------------------------------------------------------------
# Bearer tokens on MCP
# --------------------------------------------------------------------------


@pytest.fixture
def oauth_server(servers, bulwark_bin, data_dir):
    add_user(bulwark_bin, data_dir, "erin", PASSWORD)
    return start_oauth_server(servers)


def test_access_token_in_the_query_string_is_refused(oauth_server):
    url = oauth_server.url("/mcp/core")
    token = PublicClient.register(oauth_server.base).log_in("erin", PASSWORD, resource=url)["access_token"]
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = post_stateless(http, f"{url}?access_token={token}", "tools/list")
        assert r.status_code == 400, (r.status_code, r.text)
        assert "query string" in r.text, r.text
        # Also when the header carries it as well.
        r = post_stateless(http, f"{url}?access_token={token}", "tools/list", headers=bearer(token))
        assert r.status_code == 400, (r.status_code, r.text)
        r = post_stateless(http, url, "tools/list", headers=bearer(token))
        assert r.status_code == 200, (r.status_code, r.text)
        assert "test_tool" in [t["name"] for t in rpc_response(r)["result"]["tools"]]


def test_token_for_one_profile_is_refused_at_another(oauth_server):
    core, diagnostics = oauth_server.url("/mcp/core"), oauth_server.url("/mcp/diagnostics")
    client = PublicClient.register(oauth_server.base)
    scoped = client.log_in("erin", PASSWORD, resource=core)["access_token"]
    assert token_parts(scoped)[1]["aud"] == core
    anywhere = client.log_in("erin", PASSWORD)["access_token"]
    assert token_parts(anywhere)[1]["aud"] == oauth_server.base
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        assert post_stateless(http, core, "tools/list", headers=bearer(scoped)).status_code == 200
        for other in (diagnostics, oauth_server.url("/mcp")):
            r = post_stateless(http, other, "tools/list", headers=bearer(scoped))
            assert r.status_code == 401, f"{other}: {r.status_code} {r.text}"
            assert 'error="invalid_token"' in r.headers.get("www-authenticate", ""), r.headers
        # A token without a resource (aud = the issuer) reaches both: the 401 above is the audience.
        assert post_stateless(http, diagnostics, "tools/list", headers=bearer(anywhere)).status_code == 200
        assert post_stateless(http, core, "tools/list", headers=bearer(anywhere)).status_code == 200


def test_access_token_is_refused_once_exp_is_reached(servers, bulwark_bin, data_dir):
    """RFC 7519 §4.1.4: a JWT is accepted only while the current time is before
    `exp`; docs/oauth.md: "exp/nbf (no leeway ...)"."""
    add_user(bulwark_bin, data_dir, "erin", PASSWORD)
    server = start_oauth_server(servers, env={"BULWARK_AUTH__OAUTH__ACCESS_TOKEN_TTL_SECS": "2"})
    url = server.url("/mcp/core")
    token = PublicClient.register(server.base).log_in("erin", PASSWORD, resource=url)["access_token"]
    exp = token_parts(token)[1]["exp"]
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        assert call_test_tool(http, url, token).status_code == 200  # before exp
        time.sleep(max(0.0, exp + 0.1 - time.time()))
        sent = time.time()
        r = call_test_tool(http, url, token)
        assert r.status_code == 401, (
            f"a token was accepted {sent - exp:.2f} s after its exp ({exp}): HTTP {r.status_code} {r.text}"
        )
        assert 'error="invalid_token"' in r.headers.get("www-authenticate", ""), r.headers


def jwks(base: str) -> dict[str, dict[str, Any]]:
    r = httpx.get(base + "/jwks.json", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return {k["kid"]: k for k in r.json()["keys"]}


def verify(token: str, keys: dict[str, dict[str, Any]], issuer: str) -> dict[str, Any]:
    """Check the signature against the published JWKS (as a third party would)."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(keys[kid]).key
    return jwt.decode(token, key, algorithms=["ES256"], issuer=issuer, options={"verify_aud": False})


def test_signing_key_rotation_by_another_process(oauth_server, bulwark_bin, data_dir):
    url = oauth_server.url("/mcp/core")
    client = PublicClient.register(oauth_server.base)
    before = client.log_in("erin", PASSWORD, resource=url)
    old_kid = token_parts(before["access_token"])[0]["kid"]
    assert set(jwks(oauth_server.base)) == {old_kid}

    done = run_cli(bulwark_bin, data_dir, "auth", "signing-key", "rotate")
    assert done.returncode == 0, done.stderr
    listed = json.loads(run_cli(bulwark_bin, data_dir, "auth", "signing-key", "list", "--json").stdout)
    active = [k["kid"] for k in listed if k["active"]]
    assert len(active) == 1 and active[0] != old_kid and active[0] in done.stdout, (listed, done.stdout)
    new_kid = active[0]

    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        # The server picks up the new key by itself; new tokens (here: from refreshes) carry its kid.
        refresh = before["refresh_token"]
        deadline = time.monotonic() + 3
        while True:
            r = client.refresh(refresh, resource=url)
            assert r.status_code == 200, r.text
            after = r.json()
            refresh = after["refresh_token"]
            if token_parts(after["access_token"])[0]["kid"] == new_kid:
                break
            assert time.monotonic() < deadline, "the running server still signs with the old key 3 s after the rotation"
            time.sleep(0.1)
        fresh = client.log_in("erin", PASSWORD, resource=url)
        assert token_parts(fresh["access_token"])[0]["kid"] == new_kid

        keys = jwks(oauth_server.base)
        assert {old_kid, new_kid} <= set(keys), keys
        for token in (before["access_token"], after["access_token"], fresh["access_token"]):
            assert verify(token, keys, oauth_server.base)["sub"] == "erin"
            r = call_test_tool(http, url, token, "rotated")
            assert r.status_code == 200 and rpc_response(r)["result"]["content"][0]["text"] == "rotated", r.text


def test_revoking_a_refresh_token_ends_its_family(oauth_server, data_dir):
    url = oauth_server.url("/mcp/core")
    client = PublicClient.register(oauth_server.base)
    first = client.log_in("erin", PASSWORD, resource=url)
    r = client.refresh(first["refresh_token"], resource=url)
    assert r.status_code == 200, r.text
    second = r.json()
    other = client.log_in("erin", PASSWORD, resource=url)  # another family: unaffected
    family = token_parts(first["access_token"])[1]["fid"]
    assert token_parts(second["access_token"])[1]["fid"] == family != token_parts(other["access_token"])[1]["fid"]

    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        for token in (first["access_token"], second["access_token"]):
            assert call_test_tool(http, url, token).status_code == 200

        r = client.revoke(second["refresh_token"], "refresh_token")
        assert r.status_code == 200, (r.status_code, r.text)
        for token in (first["access_token"], second["access_token"]):
            wait_status(lambda: call_test_tool(http, url, token), 401, 1.0, "an access token of the revoked family")
        assert call_test_tool(http, url, other["access_token"]).status_code == 200

    r = client.refresh(second["refresh_token"], resource=url)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    wait_audit(data_dir, event("auth.token_revoked", "success", client_id=client.client_id), "revocation record")
