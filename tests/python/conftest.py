"""Fixtures for the bulwark integration tests (helpers live in helpers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import BULWARK_BIN, Server, ServerFactory


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def bulwark_bin() -> str:
    path = Path(BULWARK_BIN)
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"bulwark binary not found at {path}; run `cargo build` or set BULWARK_BIN")
    return str(path)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def servers(bulwark_bin: str, data_dir: Path, tmp_path: Path):
    factory = ServerFactory(bin=bulwark_bin, data_dir=data_dir, tmp_path=tmp_path)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def conformance_server(servers: ServerFactory) -> Server:
    return servers.http("conformance")


