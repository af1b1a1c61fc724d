"""`auth.methods = ["jwt"]`: bearer JWTs from an external identity provider,
checked by a running bulwark against the provider's published keys.

The provider here is a small HTTP server in the test serving an OpenID
discovery document and a JWKS; tokens are signed with PyJWT. Each rejection
is its own test."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from helpers import HTTP_TIMEOUT, post_stateless, rpc_response, wait_audit


class Provider:
    """An identity provider on loopback: discovery document plus JWKS, with
    keys that can be rotated; counts JWKS fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.jwks_fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": provider.issuer + "/jwks"}
                elif self.path == "/jwks":
                    provider.jwks_fetches += 1
                    body = {"keys": [provider.jwk(kid) for kid in provider.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.rotate("k1")

    def rotate(self, kid: str) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())

    def jwk(self, kid: str) -> dict:
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**public, "kid": kid, "alg": "ES256", "use": "sig"}

    def token(self, audience: str, *, kid: str = "k1", **claims) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "sub": "alice@example.test",
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "scope": "mcp profile:core profile:diagnostics",
            "azp": "soc-console",
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, self.keys[kid], algorithm="ES256", headers={"kid": kid})

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def provider():
    p = Provider()
    yield p
    p.close()


@pytest.fixture
def server(servers, provider):
    return servers.http(
        "core",
        {
            "BULWARK_AUTH__METHODS": '["jwt"]',
            "BULWARK_AUTH__JWT__ISSUER": provider.issuer,
            "BULWARK_AUTH__JWT__TENANT_CLAIM": "tenant",
            "BULWARK_AUTH__JWT__ALLOW_INSECURE_HTTP": "true",
            "BULWARK_RATE_LIMIT__MCP_REQUESTS_PER_MINUTE": "0",
        },
    )


def call(http: httpx.Client, url: str, token: str) -> httpx.Response:
    return post_stateless(
        http, url, "tools/call", {"name": "test_tool", "arguments": {"message": "hi"}}, headers={"Authorization": f"Bearer {token}"}
    )


def test_valid_token_reaches_its_profile_and_is_audited_with_its_client(server, provider, data_dir):
    url = server.url("/mcp/core")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = call(http, url, provider.token(url, tenant="acme"))
        assert rpc_response(r)["result"]["content"][0]["text"] == "hi"
        # The protected-resource metadata names the provider as the issuer.
        meta = http.get(server.url("/.well-known/oauth-protected-resource/mcp/core")).json()
        assert provider.issuer in meta["authorization_servers"]
    tool_calls = wait_audit(data_dir, lambda r: r["event_type"] == "tool_call", "tool call")
    assert tool_calls[-1]["user"] == "alice@example.test"
    assert tool_calls[-1]["client_id"] == "soc-console"
    assert tool_calls[-1]["tenant"] == "acme"


def test_token_for_another_audience_is_refused(server, provider):
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        # Issued for /mcp/diagnostics, presented at /mcp/core.
        r = call(http, server.url("/mcp/core"), provider.token(server.url("/mcp/diagnostics")))
        assert r.status_code == 401, r.text
        assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_expired_token_is_refused(server, provider):
    url = server.url("/mcp/core")
    past = int(time.time()) - 3600
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = call(http, url, provider.token(url, iat=past, nbf=past, exp=past + 60))
        assert r.status_code == 401, r.text


def test_token_from_another_issuer_is_refused(server, provider):
    url = server.url("/mcp/core")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = call(http, url, provider.token(url, iss="https://idp.example.test"))
        assert r.status_code == 401, r.text


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "x" * 20000],
    ids=["garbage", "three-junk-parts", "alg-none", "oversized"],
)
def test_malformed_jwt_is_refused(server, token):
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = call(http, server.url("/mcp/core"), token)
        assert r.status_code in (401, 431), r.text


def test_unsigned_alg_none_token_with_valid_claims_is_refused(server, provider):
    url = server.url("/mcp/core")
    now = int(time.time())
    claims = {"iss": provider.issuer, "sub": "mallory", "aud": url, "exp": now + 300, "scope": "mcp profile:core"}
    token = jwt.encode(claims, None, algorithm="none")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        assert call(http, url, token).status_code == 401


def test_missing_profile_scope_is_403_naming_it(server, provider):
    url = server.url("/mcp/core")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = call(http, url, provider.token(url, scope="mcp profile:diagnostics"))
        assert r.status_code == 403, r.text
        assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
        assert "profile:core" in r.headers["www-authenticate"]


def test_tokens_naming_unknown_keys_do_not_hammer_the_provider(server, provider):
    """A token signed with a key the provider has not published (yet) is
    refused, and a burst of them costs the provider at most one JWKS fetch
    (refetches on unknown `kid`s are spaced 30 s apart; a rotation that is
    picked up is tested in crates/bulwark-idp/tests/jwt.rs)."""
    url = server.url("/mcp/core")
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        assert call(http, url, provider.token(url)).status_code == 200
        fetched = provider.jwks_fetches
        forger = Provider()  # same issuer name, keys nobody published
        try:
            forger.issuer = provider.issuer
            # Same kid as the real key, wrong signature.
            assert call(http, url, forger.token(url, kid="k1")).status_code == 401
            for n in range(20):
                forger.rotate(f"u{n}")
                assert call(http, url, forger.token(url, kid=f"u{n}")).status_code == 401
        finally:
            forger.close()
        assert provider.jwks_fetches <= fetched + 1
        # The real key still works.
        assert call(http, url, provider.token(url)).status_code == 200
