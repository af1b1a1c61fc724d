"""Stdio upstreams run sandboxed (docs/sandbox.md): through the gateway, a real MCP server
(tests/python/upstreams/probe_server.py, official SDK) forced into bubblewrap and into
Landlock + seccomp cannot read a planted secret, cannot open TCP with the network off (and can
with it on), sees only allowed variables, and still answers `call_tool`. Bad settings fail with
messages that name the problem."""

from __future__ import annotations

import json
import shutil
import socket
import sys
import threading
from pathlib import Path

import anyio
import pytest
from mcp import StdioServerParameters
from mcp.client.client import Client
from mcp.client.stdio import stdio_client

from helpers import clean_env, run_cli

pytestmark = pytest.mark.anyio

PROBE = Path(__file__).parent / "upstreams" / "probe_server.py"
PYTHON = sys.executable
ALLOWED_ENV = {
    "PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TERM", "TZ", "USER", "LOGNAME",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "HOME", "TMPDIR", "PROBE_DECLARED",
    "PWD",  # bubblewrap sets it to the working directory it changes into
}


def landlock_abi() -> int:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return max(libc.syscall(444, None, 0, 1), 0)  # landlock_create_ruleset(…, VERSION)


def skip_unless(kind: str) -> None:
    if kind == "bwrap" and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (scripts/test installs it)")
    if kind == "landlock" and landlock_abi() < 1:
        pytest.skip("this kernel has no Landlock")


def text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def upstream(name: str, kind: str, network: bool, extra: str = "") -> str:
    return (
        f'\n[[upstreams]]\nname = "{name}"\ncommand = "{PYTHON}"\nargs = ["{PROBE}"]\n'
        f'env = {{ PROBE_DECLARED = "yes" }}\nquarantined = false\nsandbox = "{kind}"\n'
        f"network = {'true' if network else 'false'}\n{extra}"
    )


class Listener:
    """A TCP listener on 127.0.0.1 that records what each connection sent."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.received.append(conn.recv(16))


@pytest.mark.parametrize("kind", ["bwrap", "landlock"])
async def test_sandboxed_upstream_is_confined_and_still_works(kind, bulwark_bin, data_dir, tmp_path):
    skip_unless(kind)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    listener = Listener()
    config = tmp_path / "bulwark.toml"
    config.write_text(
        "[gateway]\ncall_timeout_secs = 20\n" + upstream("closed", kind, False) + upstream("open", kind, True)
    )
    params = StdioServerParameters(
        command=bulwark_bin,
        args=["--data-dir", str(data_dir), "--config", str(config), "serve", "--profile", "gateway"],
        env=clean_env({"PROBE_PARENT_SECRET": "leaked"}),
    )
    with open(tmp_path / "serve.stderr", "w") as errlog:
        with anyio.fail_after(120):
            async with Client(stdio_client(params, errlog=errlog), read_timeout_seconds=60) as client:

                async def call(server: str, tool: str, **args) -> str:
                    result = await client.call_tool("call_tool", {"name": f"{server}:{tool}", "args": args})
                    assert not result.is_error, text(result)
                    return text(result)

                # It works as an MCP server, from inside the sandbox.
                assert await call("closed", "read_file", path=str(PROBE)) == PROBE.read_text()

                # The planted secret outside its paths cannot be read; its own directory is writable,
                # the directory of the secret and the system are not.
                assert (await call("closed", "read_file", path=str(secret))).startswith("DENIED")
                # Refused, or (bwrap: /tmp is a private tmpfs on which the binds' parent
                # directories are made) written inside the sandbox only, never on the host.
                dropped = await call("closed", "write_file", path=str(tmp_path / "dropped"), text="x")
                assert dropped.startswith("DENIED") or not (tmp_path / "dropped").exists(), dropped
                assert (await call("closed", "write_file", path="/usr/bulwark-probe", text="x")).startswith("DENIED")
                assert not (tmp_path / "dropped").exists()
                env = json.loads(await call("closed", "environment"))
                sandbox_home = data_dir / "sandbox" / "closed"
                assert env["home"] == str(sandbox_home / "home")
                assert env["cwd"] == str(sandbox_home / "work")
                assert await call("closed", "write_file", path=str(sandbox_home / "work" / "out.txt"), text="kept") == "WROTE"
                assert (sandbox_home / "work" / "out.txt").read_text() == "kept"

                # Only the allowlist plus the declared variables.
                assert env["declared"] == "yes"
                assert "PROBE_PARENT_SECRET" not in env["names"]
                assert set(env["names"]) <= ALLOWED_ENV, set(env["names"]) - ALLOWED_ENV
                assert await call("closed", "no_new_privs") == "NoNewPrivs:\t1"

                # TCP: refused with the network off, works with it on.
                refused = await call("closed", "connect", host="127.0.0.1", port=listener.port)
                assert refused.startswith("REFUSED"), refused
                assert await call("open", "connect", host="127.0.0.1", port=listener.port) == "CONNECTED"
                await anyio.sleep(0.2)
                assert listener.received == [b"hello"]

                # The status says which backend runs and what it enforces.
                listed = await client.call_tool("upstream_servers", {"operation": "list"})
                servers = {s["name"]: s for s in listed.structured_content["servers"]}
                closed = servers["closed"]["sandbox"]
                assert closed["backend"] == kind and closed["requested"] == kind
                assert closed["network"] is False and servers["open"]["sandbox"]["network"] is True
                assert any(line.startswith("network: off") for line in closed["enforces"]), closed
                assert "PROBE_DECLARED" in closed["env"] and "warning" not in closed

    inspect = run_cli(bulwark_bin, data_dir, "--config", str(config), "upstream", "inspect", "closed", "--no-connect")
    assert inspect.returncode == 0, inspect.stderr
    assert f"sandbox: {kind} (requested {kind}), network off" in inspect.stdout, inspect.stdout


def test_unknown_sandbox_kind_is_refused(bulwark_bin, data_dir, tmp_path):
    config = tmp_path / "bulwark.toml"
    config.write_text(upstream("x", "docker", False))
    out = run_cli(bulwark_bin, data_dir, "--config", str(config), "upstream", "list")
    assert out.returncode != 0
    assert 'unknown sandbox kind "docker"' in out.stderr and '"landlock"' in out.stderr, out.stderr

    cli = run_cli(bulwark_bin, data_dir, "upstream", "add", "y", "--sandbox", "chroot", "--", PYTHON, str(PROBE))
    assert cli.returncode != 0
    assert 'unknown sandbox kind "chroot"' in cli.stderr, cli.stderr


def test_sandbox_settings_on_an_http_upstream_are_refused(bulwark_bin, data_dir, tmp_path):
    config = tmp_path / "bulwark.toml"
    config.write_text('\n[[upstreams]]\nname = "web"\nurl = "http://127.0.0.1:9/mcp"\nnetwork = false\n')
    out = run_cli(bulwark_bin, data_dir, "--config", str(config), "upstream", "list")
    assert out.returncode != 0
    assert "apply to stdio servers" in out.stderr, out.stderr


async def test_a_nonexistent_sandbox_path_stops_the_server_with_the_path_named(bulwark_bin, data_dir, tmp_path):
    kind = "landlock" if landlock_abi() >= 1 else "bwrap"
    skip_unless(kind)
    missing = tmp_path / "no-such-dir"
    config = tmp_path / "bulwark.toml"
    config.write_text("[gateway]\ncall_timeout_secs = 20\n" + upstream("bad", kind, False, f'read_only = ["{missing}"]\n'))
    inspect = run_cli(bulwark_bin, data_dir, "--config", str(config), "upstream", "inspect", "bad")
    assert str(missing) in inspect.stdout + inspect.stderr
    assert "does not exist" in inspect.stdout + inspect.stderr, inspect.stdout + inspect.stderr
    listing = run_cli(bulwark_bin, data_dir, "--config", str(config), "upstream", "list", "--json")
    record = {r["name"]: r for r in json.loads(listing.stdout)}["bad"]
    assert "does not exist" in (record.get("last_error") or ""), record
