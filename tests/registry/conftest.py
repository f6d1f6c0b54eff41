"""A real registry server (Debian's ``docker-registry``, distribution 2.x) on 127.0.0.1, per test.

Its storage is a temp dir (tests corrupt blobs there); it is waited on by polling ``/v2/`` with a deadline and
stopped by its PID. ``registry_factory(auth=True)`` adds htpasswd (bcrypt) basic auth.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REGISTRY_BIN = Path("/usr/bin/docker-registry")
USER, PASSWORD = "pcuser", "pc-secret-1"


@dataclass
class Registry:
    host: str  # "127.0.0.1:<port>"
    storage: Path
    process: subprocess.Popen
    user: str | None = None
    password: str | None = None

    def blob_data(self, repo: str, digest: str) -> Path:
        hexd = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, deadline_s: float = 15.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with warnings.catch_warnings():  # the TLS registry's certificate is self-signed
                warnings.simplefilter("ignore")
                resp = requests.get(url, timeout=0.5, verify=False)
            if resp.status_code in (200, 401):
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.02)  # polling a condition with a deadline, not synchronising on time
    raise RuntimeError(f"docker-registry did not answer on {url} within {deadline_s}s")


@pytest.fixture
def registry_factory(tmp_path):
    if not REGISTRY_BIN.exists():
        pytest.skip("Debian's docker-registry is not installed")
    started: list[Registry] = []

    def start(auth: bool = False, extra_config: list[str] | None = None, tls: bool = False) -> Registry:
        base = tmp_path / f"registry{len(started)}"
        storage = base / "storage"
        storage.mkdir(parents=True)
        port = _free_port()
        cfg = [
            "version: 0.1",
            "log:",
            "  level: error",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {storage}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{port}",
            "  secret: pycompose-test-secret",
        ]
        if auth:
            if not shutil.which("htpasswd"):
                pytest.skip("htpasswd (apache2-utils) is not installed")
            out = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True)
            (base / "htpasswd").write_text(out.stdout)
            cfg += ["auth:", "  htpasswd:", "    realm: pycompose-test", f"    path: {base / 'htpasswd'}"]
        cfg += extra_config or []
        (base / "config.yml").write_text("\n".join(cfg) + "\n")
        with open(base / "registry.log", "wb") as log:  # a file, not a pipe: a chatty registry never blocks
            proc = subprocess.Popen([str(REGISTRY_BIN), "serve", str(base / "config.yml")],
                                    stdout=subprocess.DEVNULL, stderr=log)
        reg = Registry(f"127.0.0.1:{port}", storage, proc, USER if auth else None, PASSWORD if auth else None)
        started.append(reg)
        _wait_ready(f"{'https' if tls else 'http'}://{reg.host}/v2/", proc, base / "registry.log")
        return reg

    yield start
    for reg in started:
        if reg.process.poll() is None:
            reg.process.terminate()
            try:
                reg.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                reg.process.kill()
                reg.process.wait()


@pytest.fixture
def registry(registry_factory) -> Registry:
    return registry_factory()
