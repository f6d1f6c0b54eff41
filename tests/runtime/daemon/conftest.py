"""A real engine daemon per test: a subprocess on a temporary socket and data root, stopped by its PID."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.polling import wait_for  # noqa: F401 - the daemon tests import it from here

REPO = Path(__file__).resolve().parents[3]
DOCKER_CLI = "/usr/local/bin/docker"


def _answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1)
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@dataclass
class Daemon:
    root: Path
    sock: Path
    proc: subprocess.Popen[bytes]
    log: Path
    config: Path | None = None
    prefix: str = ""

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    def client(self):
        import docker

        return docker.DockerClient(base_url=self.url, version="auto", timeout=60)

    def cli(self, *args: str, check: bool = True, input: bytes | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        docker = DOCKER_CLI if os.path.exists(DOCKER_CLI) else shutil.which("docker")
        if docker is None:
            pytest.skip("the docker CLI client is not installed (expected at /usr/local/bin/docker)")
        env = {**os.environ, "DOCKER_HOST": self.url, "DOCKER_CONFIG": str(self.root.parent / "docker-cli")}
        out = subprocess.run([docker, *args], env=env, capture_output=True, text=True,
                             timeout=timeout, input=input.decode() if input else None)
        if check and out.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({out.returncode}): {out.stderr}")
        return out

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


def start_daemon(base: Path, config: dict | None = None, extra: tuple[str, ...] = (), repo: Path = REPO) -> Daemon:
    """Start (or restart, over the same ``base``) a daemon; its default bridge and nft table carry a unique
    ``pct`` prefix so concurrent tests never share kernel objects. ``repo``: the checkout whose engine runs (a
    bench's baseline: its ``runtime`` is imported from there)."""
    import secrets

    base.mkdir(parents=True, exist_ok=True)
    root, sock, log = base / "root", base / "engine.sock", base / "engine.log"
    args = [sys.executable, "-m", "runtime.daemon", "--host", f"unix://{sock}", "--data-root", str(root), *extra]
    prefix_file = base / "prefix"
    if not prefix_file.exists():
        prefix_file.write_text("pct" + secrets.token_hex(3))
    prefix = prefix_file.read_text()
    cfg_path = base / "engine.json"
    cfg_path.write_text(json.dumps({"bridge": f"{prefix}d0", "nft-table": prefix,
                                    "cgroup-parent": f"pycompose-test-{prefix[3:]}", "ip-forward": False,
                                    **(config or {})}))
    args += ["--config", str(cfg_path)]
    logfh = open(log, "ab")
    proc = subprocess.Popen(args, cwd=repo, stdout=logfh, stderr=subprocess.STDOUT, start_new_session=True)
    logfh.close()
    deadline = time.monotonic() + 30
    while not _answers(sock):
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited {proc.returncode}: {log.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"daemon did not answer within 30 s: {log.read_text()}")
        time.sleep(0.02)  # polling the socket with a deadline, not synchronisation by sleep
    return Daemon(root, sock, proc, log, cfg_path, prefix)


def cleanup(d: Daemon) -> None:
    """Stop the daemon, then remove every kernel object it made (as the network tests do) and check for leaks
    under its prefix and root only. Each step runs even when an earlier one failed."""
    problems: list[str] = []
    try:
        for c in d.client().containers.list(all=True):
            c.remove(force=True)
    except Exception as err:  # noqa: BLE001 - the daemon may be the thing that failed
        problems.append(f"removing containers through the API: {err}")
    d.kill()
    _reap_leftovers(d.root)
    if os.geteuid() != 0:
        return
    from runtime.cgroups import remove_parent

    try:
        remove_parent(f"pycompose-test-{d.prefix[3:]}")
    except Exception as err:  # noqa: BLE001 - reported below, after the network cleanup
        problems.append(f"cgroup parent: {err}")
    if (d.root / "networks").exists():
        problems += _cleanup_network(d)
    mounts = [line.split()[4] for line in open("/proc/self/mountinfo") if str(d.root) in line.split()[4]]
    if mounts:
        problems.append(f"mounts: {mounts}")
    assert not problems, f"left behind: {problems}"


def _cleanup_network(d: Daemon) -> list[str]:
    from pyroute2 import IPRoute

    from runtime.network.service import NetworkService

    svc = NetworkService(d.root, d.root / "run", nft_table=d.prefix, default_bridge_name=f"{d.prefix}d0",
                         enable_ip_forward=False)
    veths = {ep.host_veth for n in svc.list() for ep in n.endpoints.values()}
    for cid in svc.netns.list():
        svc.destroy_sandbox(cid)
    for cid in svc.publisher.containers():
        svc.unpublish(cid)
    for n in svc.list({"type": ["custom"]}):
        svc.remove(n.id)
    bridges = set()
    for n in svc.list():
        if n.bridge:
            bridges.add(n.bridge)
            svc._teardown(n)  # noqa: SLF001 - the default bridge is never removed through the API
    svc.reaper.drain(30)  # destroy_sandbox leaves deleting the veths to the reaper
    with IPRoute() as ipr:
        links = [ln.get("ifname") for ln in ipr.get_links()
                 if ln.get("ifname", "").startswith(d.prefix) or ln.get("ifname") in veths | bridges]
    leftovers = {"links": links, "nft": svc.firewall.listing(), "netns": svc.netns.list()}
    return [f"{k}: {v}" for k, v in leftovers.items() if v]


@pytest.fixture
def daemon(tmp_path):
    d = start_daemon(tmp_path / "engine")
    try:
        yield d
    finally:
        cleanup(d)


@pytest.fixture
def engine(tmp_path, busybox_tar):
    """A daemon with the busybox image imported as ``busybox:latest`` (CMD sh)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (containers)")
    d = start_daemon(tmp_path / "engine")
    try:
        client = d.client()
        with open(busybox_tar, "rb") as fh:
            client.api.import_image_from_data(fh.read(), repository="busybox", tag="latest", changes=['CMD ["sh"]'])
        yield d
    finally:
        cleanup(d)


def _reap_leftovers(root: Path) -> None:
    """Kill container processes a failed test left behind (monitors record their pid under our root only) and
    wait until they are gone, so their cgroups can be removed."""
    import json as _json

    pids = []
    for state in (root / "containers").glob("*/state.json"):
        try:
            rec = _json.loads(state.read_text())
        except (OSError, ValueError):
            continue
        for key in ("pid", "monitor_pid"):
            if rec.get(key):
                try:
                    os.kill(int(rec[key]), signal.SIGKILL)
                    pids.append(int(rec[key]))
                except OSError:
                    pass
    deadline = time.monotonic() + 10
    for pid in pids:
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.01)  # polling for the process to vanish, with a deadline
