"""Live investigation of the local host (`live_investigation` and
`threat_response` tools) against the real machine: spawned processes, their
sockets and memory, planted files, dpkg, containment with the ledger, and bad
input. Results are checked against `ps`, `ss` and `dpkg-query`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import HTTP_TIMEOUT, post_stateless, rpc_response, text_of

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "yara" / "rules"

CHILD = r"""
import os, socket, sys, time, uuid
token = "bwk" + "-mem-" + uuid.uuid4().hex
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], token, flush=True)
time.sleep(300)
"""


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """The one allowlisted root of the test servers."""
    d = tmp_path / "box"
    d.mkdir()
    return d


def config_file(tmp_path: Path, box: Path, **extra: Any) -> Path:
    lines = ["[live]", f'allowed_roots = ["{box}"]', "max_file_bytes = 1048576"]
    if CORPUS.is_dir():
        lines.append(f'rules_dir = "{CORPUS}"')
    for k, v in extra.items():
        lines.append(f"{k} = {str(v).lower() if isinstance(v, bool) else v}")
    path = tmp_path / "bulwark.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def server(servers, tmp_path: Path, box: Path):
    return servers.http("all", config=config_file(tmp_path, box))


@pytest.fixture
def child():
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, "bulwark-live-test-arg"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "BULWARK_CHILD_MARKER": "1"},
    )
    port, token = proc.stdout.readline().split()
    proc.port = int(port)  # type: ignore[attr-defined]
    proc.token = token  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def call(server, name: str, args: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    with httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0)) as client:
        r = post_stateless(client, server.url(), "tools/call", {"name": name, "arguments": args})
    msg = rpc_response(r)
    assert "result" in msg, msg
    return msg["result"]


def ok(server, name: str, args: dict[str, Any], **kw: Any) -> dict[str, Any]:
    result = call(server, name, {"sid": "local", **args}, **kw)
    assert not result.get("isError"), text_of(result)
    return result["structuredContent"]


def err(server, name: str, args: dict[str, Any]) -> str:
    result = call(server, name, args)
    assert result.get("isError"), result
    return text_of(result)


def ps_pids() -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid="], capture_output=True, text=True, check=True).stdout
    return {int(x) for x in out.split()}


def test_spawned_child_is_listed_like_ps_shows_it(server, child):
    before = ps_pids()
    listed = ok(server, "get_processes", {})
    after = ps_pids()
    pids = {p["pid"] for p in listed["processes"]}
    # Every process ps saw before and after existed throughout, so it must be listed.
    assert (before & after) <= pids, sorted((before & after) - pids)
    row = next(p for p in listed["processes"] if p["pid"] == child.pid)
    assert row["ppid"] == os.getpid()
    assert "bulwark-live-test-arg" in row["cmdline"]
    assert row["exe"] == os.path.realpath(sys.executable)
    assert row["exe_deleted"] is False
    ps = subprocess.run(
        ["ps", "-o", "user=,ppid=,stat=", "-p", str(child.pid)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert row["user"] == ps[0]
    assert row["ppid"] == int(ps[1])
    assert row["state"] == ps[2][0]
    filtered = ok(server, "get_processes", {"filter": "bulwark-live-test-arg"})
    assert [p["pid"] for p in filtered["processes"]] == [child.pid]
    text = text_of(call(server, "get_processes", {"sid": "local", "filter": "bulwark-live-test-arg"}))
    assert text.startswith("1 processes") and f"\n{child.pid} " in text


def test_listening_socket_has_the_childs_pid_like_ss(server, child):
    conns = ok(server, "get_network_connections", {"state": "LISTEN"})["connections"]
    row = next(c for c in conns if c["local_port"] == child.port and c["protocol"] == "tcp")
    assert row["pid"] == child.pid
    assert row["local_address"] == "127.0.0.1"
    if shutil.which("ss"):
        ss = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
        line = next(line for line in ss.splitlines() if f"127.0.0.1:{child.port} " in line)
        assert f"pid={child.pid}," in line
        ss_ports = {int(l.split()[3].rsplit(":", 1)[1]) for l in ss.splitlines() if l.strip()}
        ours = {c["local_port"] for c in conns if c["protocol"] in ("tcp", "tcp6")}
        assert ss_ports <= ours | {child.port}, ss_ports - ours


def test_string_in_child_memory_is_found(server, child):
    one = ok(server, "find_strings", {"strings": [child.token], "pid": child.pid})
    assert one["matches"], one
    assert {m["pid"] for m in one["matches"]} == {child.pid}
    everywhere = ok(server, "find_strings", {"strings": [child.token]})
    assert child.pid in {m["pid"] for m in everywhere["matches"]}
    assert any(s["reason"].startswith("self") for s in everywhere["skipped"])
    strings = ok(server, "get_process_strings", {"pid": child.pid, "min_length": 8})
    assert child.token in {s["value"] for s in strings["strings"]}
    modules = ok(server, "get_process_modules", {"pid": child.pid})
    assert any(m["is_main"] for m in modules["modules"])
    rule = f'rule child_token {{ meta: author = "tests" strings: $t = "{child.token}" condition: $t }}'
    scan = ok(server, "yara_scan_process", {"pid": child.pid, "rule": rule})
    assert [m["rule"] for m in scan["matches"]][:1] == ["child_token"]
    assert scan["matches"][0]["author"] == "tests"


def test_planted_file_found_by_yara_and_hash(server, box):
    marker = "bulwark-planted-" + uuid.uuid4().hex
    (box / "a" / "b").mkdir(parents=True)
    planted = box / "a" / "b" / "dropper.php"
    planted.write_text(f"<?php /* {marker} */ ?>")
    (box / "a" / "clean.php").write_text("<?php echo 1; ?>")
    (box / "a" / "loop").symlink_to(box)  # a walk that followed links would never end
    rule = f'rule planted {{ meta: author = "bulwark tests" strings: $m = "{marker}" condition: $m }}'
    scan = ok(server, "yara_scan_directory", {"root": str(box), "rule": rule, "glob": "*.php"})
    assert [m["target"] for m in scan["matches"]] == [str(planted)]
    assert scan["matches"][0]["author"] == "bulwark tests"
    assert scan["files_scanned"] == 2
    again = ok(server, "yara_scan_directory", {"root": str(box), "rule": rule})
    assert again["rules_cached"] is True
    one = ok(server, "yara_scan_file", {"path": str(planted), "rule": rule})
    assert len(one["matches"]) == 1
    sha256 = hashlib.sha256(planted.read_bytes()).hexdigest()
    found = ok(server, "dir_find_hash", {"root": str(box), "hash": sha256})
    assert [m["path"] for m in found["matches"]] == [str(planted)]
    md5 = hashlib.md5(planted.read_bytes()).hexdigest()
    assert ok(server, "dir_find_hash", {"root": str(box), "hash": md5})["algorithm"] == "md5"
    hashes = ok(server, "file_hash", {"path": str(planted)})
    assert hashes["sha256"] == sha256 and hashes["md5"] == md5
    listing = ok(server, "dir_list", {"path": str(box), "depth": 3})
    paths = {e["path"]: e for e in listing["entries"]}
    assert paths[str(box / "a" / "loop")]["kind"] == "symlink"
    assert str(planted) in paths
    info = ok(server, "file_info", {"path": str(planted)})
    assert info["entry"]["size"] == planted.stat().st_size


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared YARA corpus not present")
def test_signature_base_corpus_compiles_and_credits_authors(server, box):
    # A string from gen_cn_hacktools.yar's rules is not needed: check the whole
    # corpus compiles under yara-x and scans a tree.
    (box / "x.txt").write_text("nothing to see")
    scan = ok(server, "yara_scan_directory", {"root": str(box), "rule_name": "*"}, timeout=600)
    assert scan["rules"] >= 1500
    assert scan["matches"] == []
    named = ok(server, "yara_scan_file", {"path": str(box / "x.txt"), "rule_name": "gen_webshells"}, timeout=300)
    assert named["rules"] > 10


@pytest.mark.skipif(not Path("/var/lib/dpkg/status").exists(), reason="no dpkg database")
def test_dpkg_package_is_listed_with_its_version(server):
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "coreutils"], capture_output=True, text=True, check=True
    ).stdout
    pkgs = ok(server, "get_packages", {"filter": "coreutils"})["packages"]
    assert {"name": "coreutils", "version": version} in [{"name": p["name"], "version": p["version"]} for p in pkgs]


def test_host_tables_answer(server):
    osv = ok(server, "get_os_version", {})
    assert osv["kernel_release"] == os.uname().release
    users = ok(server, "get_users", {})
    assert any(u["name"] == "root" and u["uid"] == 0 for u in users["users"])
    assert all("$" not in u["password"] for u in users["users"])  # never a hash
    drivers = ok(server, "get_drivers", {})
    if Path("/proc/modules").exists():
        names = {line.split()[0] for line in Path("/proc/modules").read_text().splitlines()}
        assert {m["name"] for m in drivers["modules"]} == names
    else:
        assert drivers["modules"] == [] and drivers["source"].startswith("not_found")
    assert "services" in ok(server, "get_services", {})
    autoruns = ok(server, "get_autoruns", {})["autoruns"]
    assert all(a["status"] for a in autoruns)
    assert "unsupported on Linux" in err(server, "get_registry_keys", {"sid": "local", "path": "HKLM\\Software"})
    assert ok(server, "is_isolated", {})["isolated"] is False


def test_kill_process_is_recorded_in_the_ledger(server):
    victim = subprocess.Popen(["sleep", "321"])
    cmdline = Path(f"/proc/{victim.pid}/cmdline")
    deadline = time.monotonic() + 5
    while not cmdline.read_bytes().startswith(b"sleep") and time.monotonic() < deadline:
        time.sleep(0.01)  # until the exec is done
    try:
        out = ok(server, "kill_process", {"pid": victim.pid})
        assert victim.wait(timeout=10) == -9
        entry = out["remediation"]
        assert entry["action"] == "kill_process" and entry["status"] == "done"
        assert entry["before"]["cmdline"] == "sleep 321"
        ledger = ok(server, "list_remediations", {"action": "kill_process"})["remediations"]
        assert ledger[0]["id"] == entry["id"] and ledger[0]["target"] == str(victim.pid)
    finally:
        victim.kill()
        victim.wait()


def test_quarantine_and_restore_round_trip_byte_for_byte(server, box):
    path = box / "payload.bin"
    data = os.urandom(300_000)
    path.write_bytes(data)
    path.chmod(0o750)
    q = ok(server, "quarantine_file", {"path": str(path)})["remediation"]
    assert not path.exists()
    assert q["before"]["sha256"] == hashlib.sha256(data).hexdigest()
    vault = Path(q["after"]["vault_path"])
    assert vault.stat().st_mode & 0o777 == 0
    restored = ok(server, "restore_file", {"id": q["id"]})["remediation"]
    assert restored["undoes"] == q["id"]
    assert path.read_bytes() == data
    assert path.stat().st_mode & 0o777 == 0o750
    assert "already restored" in err(server, "restore_file", {"sid": "local", "id": q["id"]})
    actions = [r["action"] for r in ok(server, "list_remediations", {})["remediations"]]
    assert actions[:2] == ["restore_file", "quarantine_file"]


def test_bad_input_is_refused_with_a_reason(server, box, tmp_path):
    assert "no process" in err(server, "get_process_modules", {"sid": "local", "pid": 2_000_000_000})
    assert "no process" in err(server, "kill_process", {"sid": "local", "pid": 2_000_000_000})
    assert "no backend is configured" in err(server, "get_processes", {"sid": "abc-123"})
    assert "outside the allowed roots" in err(server, "file_hash", {"sid": "local", "path": "/etc/passwd"})
    # A missing file outside the roots gets the same answer: no existence oracle.
    assert "outside the allowed roots" in err(server, "file_info", {"sid": "local", "path": "/etc/no-such-file"})
    dotdot = f"{box}" + "/.." * 12 + "/etc/passwd"
    assert "outside the allowed roots" in err(server, "file_info", {"sid": "local", "path": dotdot})
    (box / "escape").symlink_to("/etc")
    assert "outside the allowed roots" in err(server, "dir_list", {"sid": "local", "path": str(box / "escape")})
    (box / "l1").symlink_to(box / "l2")
    (box / "l2").symlink_to(box / "l1")
    assert "symlink loop" in err(server, "file_info", {"sid": "local", "path": str(box / "l1")})
    assert "relative" in err(server, "dir_list", {"sid": "local", "path": "etc"})
    bad_rule = "rule broken {\n  strings:\n    $a = \"x\"\n  condition:\n    $b\n}\n"
    text = err(server, "yara_scan_directory", {"sid": "local", "root": str(box), "rule": bad_rule})
    assert "do not compile" in text and "line 5" in text
    huge = box / "huge.bin"
    with open(huge, "wb") as f:
        f.truncate(5 * 1024 * 1024)  # sparse, over max_file_bytes = 1 MiB
    assert "max_file_bytes" in err(server, "file_hash", {"sid": "local", "path": str(huge)})
    scan = ok(server, "yara_scan_directory", {"root": str(box), "rule": "rule t { condition: true }"})
    assert any(s["reason"].startswith("too_large") for s in scan["skipped"])
    assert "max_file_bytes" in {h["limit"] for h in scan["limits_hit"]}
    assert "not a quarantine id" in err(server, "restore_file", {"sid": "local", "id": "../../etc"})
    assert "either" in err(server, "yara_scan_file", {"sid": "local", "path": str(huge), "rule": "x", "rule_name": "y"})


def test_row_limit_is_reported(servers, tmp_path, box):
    server = servers.http("all", config=config_file(tmp_path, box, max_rows=3))
    listed = ok(server, "get_processes", {})
    assert len(listed["processes"]) == 3
    assert listed["limits_hit"][0]["limit"] == "max_rows"


def test_isolation_switched_off_is_not_permitted_here(servers, tmp_path, box):
    server = servers.http("all", config=config_file(tmp_path, box, allow_isolation=False))
    assert "not permitted here" in err(server, "isolate_network", {"sid": "local"})
    assert "not permitted here" in err(server, "rejoin_network", {"sid": "local"})
    state = ok(server, "is_isolated", {})
    assert state["available"] is False and "allow_isolation" in state["reason"]
