"""Helpers shared by test_oauth.py and test_oauth_federation.py: a bulwark
running its built-in OAuth 2.1 authorization server, users made with the CLI,
a scripted "browser" that fills the login / MFA / consent forms, PKCE, RFC 6238
codes, the audit log, and an HTTPS file server with a private CA.

Nothing here is a shortcut inside bulwark: every token comes from the real
endpoints (docs/oauth.md)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import ssl
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from helpers import HTTP_TIMEOUT, Server, ServerFactory, audit_records, clean_env, post_stateless, wait_audit  # noqa: F401 (re-exported)

# Every endpoint budget of the authorization server (rate_limit.endpoints.*).
ENDPOINTS = ("authorize", "oauth_callback", "mfa_verify", "token", "register", "revoke", "introspect")

# Flow tests make more requests than the per-address defaults (10/min for
# /authorize) allow; the brute-force test keeps the defaults.
RELAXED_BUDGETS = {f"BULWARK_RATE_LIMIT__ENDPOINTS__{name.upper()}": "1000" for name in ENDPOINTS}

# Where a scripted client says it will receive the authorization response. Nothing
# listens there: the browser below stops at the 302 and reads its Location.
REDIRECT_URI = "http://127.0.0.1:9/callback"


def oauth_env(*, relaxed: bool = True, **extra: str) -> dict[str, str]:
    env = {"BULWARK_AUTH__METHODS": '["oauth"]', "BULWARK_RATE_LIMIT__MCP_REQUESTS_PER_MINUTE": "0"}
    if relaxed:
        env.update(RELAXED_BUDGETS)
    env.update(extra)
    return env


def start_oauth_server(
    servers: ServerFactory,
    profile: str = "core",
    *,
    relaxed: bool = True,
    env: dict[str, str] | None = None,
    config: Path | None = None,
    listen: str = "127.0.0.1:0",
) -> Server:
    """`bulwark serve --http` with `auth.methods = ["oauth"]`; the issuer is the bound origin."""
    return servers.http(profile, oauth_env(relaxed=relaxed, **(env or {})), config=config, listen=listen)


# --------------------------------------------------------------------------
# Users (the CLI)
# --------------------------------------------------------------------------


def add_user(
    bulwark_bin: str,
    data_dir: Path,
    name: str,
    password: str,
    *,
    totp: bool = False,
    scopes: str | None = None,
    tenant: str | None = None,
) -> str | None:
    """`bulwark auth user add`; returns the TOTP secret (base32) when `totp`."""
    args = [bulwark_bin, "--data-dir", str(data_dir), "auth", "user", "add", name, "--password-stdin"]
    if totp:
        args.append("--totp")
    if scopes is not None:
        args += ["--scopes", scopes]
    if tenant is not None:
        args += ["--tenant", tenant]
    done = subprocess.run(args, input=password + "\n", capture_output=True, text=True, env=clean_env(), timeout=60)
    assert done.returncode == 0, f"auth user add {name} failed:\n{done.stdout}\n{done.stderr}"
    assert password not in done.stdout + done.stderr, "the CLI echoed the password"
    if not totp:
        return None
    m = re.search(r"TOTP secret \(base32\): ([A-Z2-7]+)", done.stdout)
    assert m, f"no TOTP secret in the output of auth user add --totp:\n{done.stdout}"
    uri = done.stdout.strip().splitlines()[-1]
    assert uri.startswith("otpauth://totp/") and f"secret={m.group(1)}" in uri, done.stdout
    return m.group(1)


# --------------------------------------------------------------------------
# RFC 6238 / RFC 7636
# --------------------------------------------------------------------------


def totp(secret_b32: str, at: float | None = None, *, step: int = 30, digits: int = 6) -> str:
    """The RFC 6238 code (HMAC-SHA-1) of `secret_b32` at time `at` (default: now)."""
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    return hotp(key, int((time.time() if at is None else at) // step), digits)


def hotp(key: bytes, counter: int, digits: int = 6) -> str:
    """RFC 4226 §5.3."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


@dataclass
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def make(cls) -> "Pkce":
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        return cls(verifier, challenge)


# --------------------------------------------------------------------------
# HTML forms
# --------------------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str]  # hidden and text inputs with their values
    buttons: list[tuple[str, str]]  # (name, value) of named submit buttons


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower(), {}, []))
        elif self.forms and tag == "input" and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


def forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def pending_of(response: httpx.Response) -> str:
    """The hidden `pending` field of a bulwark login / MFA / consent page."""
    m = re.search(r'<input type="hidden" name="pending" value="([^"]+)">', response.text)
    assert m, f"no pending field in HTTP {response.status_code}:\n{response.text[:2000]}"
    return m.group(1)


def query_of(url: str) -> dict[str, str]:
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), url
    return {k: v[0] for k, v in parsed.items()}


# --------------------------------------------------------------------------
# The scripted browser and client
# --------------------------------------------------------------------------


class Browser:
    """An HTTP client with a cookie jar that does not follow redirects, driving
    bulwark's login pages the way docs/oauth.md "Scripted logins" describes."""

    def __init__(self, base: str, *, user_agent: str = "bulwark-pytest-browser") -> None:
        self.base = base
        self.http = httpx.Client(
            timeout=HTTP_TIMEOUT, follow_redirects=False, headers={"User-Agent": user_agent, "Accept": "text/html"}
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def authorize(self, params: dict[str, str]) -> httpx.Response:
        return self.http.get(self.base + "/authorize", params=params)

    def login(self, pending: str, username: str, password: str) -> httpx.Response:
        return self.http.post(self.base + "/authorize", data={"pending": pending, "username": username, "password": password})

    def mfa(self, pending: str, code: str) -> httpx.Response:
        return self.http.post(self.base + "/authorize/mfa", data={"pending": pending, "code": code})

    def consent(self, pending: str, decision: str = "approve") -> httpx.Response:
        return self.http.post(self.base + "/authorize/consent", data={"pending": pending, "decision": decision})

    def approve(self, pending: str, expect_state: str | None = None) -> dict[str, str]:
        """Approve; return the query of the 302 to the redirect URI (code, state, iss)."""
        r = self.consent(pending, "approve")
        assert r.status_code == 302, (r.status_code, r.text)
        back = query_of(r.headers["location"])
        assert "code" in back, back
        assert back.get("iss") == self.base, back
        if expect_state is not None:
            assert back.get("state") == expect_state, back
        return back


@dataclass
class PublicClient:
    """A client registered with RFC 7591 (public: PKCE, no secret)."""

    base: str
    client_id: str
    redirect_uri: str = REDIRECT_URI

    @classmethod
    def register(cls, base: str, redirect_uri: str = REDIRECT_URI, **metadata: Any) -> "PublicClient":
        body = {"redirect_uris": [redirect_uri], "client_name": "bulwark pytest", **metadata}
        r = httpx.post(base + "/register", json=body, timeout=HTTP_TIMEOUT)
        assert r.status_code == 201, (r.status_code, r.text)
        info = r.json()
        assert info["token_endpoint_auth_method"] == "none" and "client_secret" not in info, info
        return cls(base, info["client_id"], redirect_uri)

    def authorization_params(self, pkce: Pkce, state: str, **extra: str) -> dict[str, str]:
        return {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "state": state,
            **extra,
        }

    def token(self, **form: str) -> httpx.Response:
        return httpx.post(self.base + "/token", data={"client_id": self.client_id, **form}, timeout=HTTP_TIMEOUT)

    def redeem(self, code: str, pkce: Pkce, **extra: str) -> dict[str, Any]:
        r = self.token(
            grant_type="authorization_code", code=code, code_verifier=pkce.verifier, redirect_uri=self.redirect_uri, **extra
        )
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.headers.get("cache-control") == "no-store", r.headers
        tokens = r.json()
        assert tokens["token_type"].lower() == "bearer", tokens
        return tokens

    def refresh(self, refresh_token: str, **extra: str) -> httpx.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token, **extra)

    def revoke(self, token: str, hint: str | None = None) -> httpx.Response:
        form = {"client_id": self.client_id, "token": token}
        if hint:
            form["token_type_hint"] = hint
        return httpx.post(self.base + "/revoke", data=form, timeout=HTTP_TIMEOUT)

    def log_in(self, username: str, password: str, *, resource: str | None = None, scope: str | None = None) -> dict[str, Any]:
        """The whole password flow: authorize, log in, approve, redeem. Returns the token response."""
        pkce, state = Pkce.make(), secrets.token_urlsafe(16)
        extra = {}
        if resource is not None:
            extra["resource"] = resource
        if scope is not None:
            extra["scope"] = scope
        with Browser(self.base) as browser:
            r = browser.authorize(self.authorization_params(pkce, state, **extra))
            assert r.status_code == 200, (r.status_code, r.text)
            pending = pending_of(r)
            r = browser.login(pending, username, password)
            assert r.status_code == 200 and "/authorize/consent" in r.text, (r.status_code, r.text)
            back = browser.approve(pending, expect_state=state)
        tokens = self.redeem(back["code"], pkce, **({"resource": resource} if resource else {}))
        return tokens


# --------------------------------------------------------------------------
# MCP with a bearer token
# --------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call_test_tool(http: httpx.Client, url: str, token: str, message: str = "hi") -> httpx.Response:
    return post_stateless(
        http, url, "tools/call", {"name": "test_tool", "arguments": {"message": message}}, headers=bearer(token)
    )


def token_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT, unverified (the server verifies)."""
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def wait_status(fn: Callable[[], httpx.Response], status: int, timeout: float, what: str) -> httpx.Response:
    """Poll `fn` until it answers `status` (for changes another process makes)."""
    deadline = time.monotonic() + timeout
    while True:
        r = fn()
        if r.status_code == status:
            return r
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still HTTP {r.status_code} after {timeout}s: {r.text[:500]}")
        time.sleep(0.05)


# --------------------------------------------------------------------------
# The audit log
# --------------------------------------------------------------------------


def event(kind: str, outcome: str | None = None, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    def match(r: dict[str, Any]) -> bool:
        return (
            r.get("event_type") == kind
            and (outcome is None or r.get("outcome") == outcome)
            and all(r.get(k) == v for k, v in fields.items())
        )

    return match


# --------------------------------------------------------------------------
# A private CA and an HTTPS file server on loopback
# --------------------------------------------------------------------------


@dataclass
class CaFiles:
    ca_pem: Path
    cert_pem: Path
    key_pem: Path


def make_ca(directory: Path, ip: str = "127.0.0.1") -> CaFiles:
    """A CA certificate and a server certificate for `ip` (an IP SAN) it signed."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bulwark pytest CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    out = CaFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    out.ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    out.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key_pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return out


class HttpsDocuments:
    """Serves JSON documents over HTTPS on 127.0.0.1 from a thread; counts GETs per path."""

    def __init__(self, ca: CaFiles) -> None:
        self.documents: dict[str, Any] = {}
        self.hits: dict[str, int] = {}
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                served.hits[self.path] = served.hits.get(self.path, 0) + 1
                if self.path not in served.documents:
                    self.send_error(404)
                    return
                data = json.dumps(served.documents[self.path]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(ca.cert_pem, ca.key_pem)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.origin = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
