"""Fixtures for the network tests: a NetworkService over tmp dirs with its own nft table and bridge names.

Every kernel object a test makes carries the test's prefix (``pct`` + 6 hex): bridges via the
``com.docker.network.bridge.name`` option, the nft table, sandboxes under the test's own run dir. Teardown
removes them even after a failure and then checks that none of them is left: no bridge, veth, address,
route, nft table, netns mount or proxy process.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from runtime import linux
from runtime.network.model import OPT_BRIDGE_NAME
from runtime.network.service import NetworkService

pytestmark = pytest.mark.root


class Net:
    """The test's handle: the service plus helpers that name things with the test's prefix."""

    def __init__(self, svc: NetworkService, prefix: str) -> None:
        self.svc = svc
        self.prefix = prefix
        self._n = 0
        self.procs: list[subprocess.Popen[bytes]] = []

    def bridge_name(self) -> str:
        self._n += 1
        return f"{self.prefix}b{self._n}"

    def create(self, name: str | None = None, **kwargs: Any) -> Any:
        options = dict(kwargs.pop("options", {}) or {})
        options.setdefault(OPT_BRIDGE_NAME, self.bridge_name())
        return self.svc.create(name or f"{self.prefix}-n{self._n}", options=options, **kwargs)

    def sandbox(self) -> tuple[str, str]:
        cid = secrets.token_hex(32)
        return cid, str(self.svc.create_sandbox(cid))

    def spawn(self, netns: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside the netns (setns in the child before exec); killed at teardown."""
        proc = spawn_in(netns, argv, **kwargs)
        self.procs.append(proc)
        return proc


def spawn_in(netns: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    def _enter() -> None:
        fd = os.open(netns, os.O_RDONLY)
        linux.setns(fd, linux.CLONE_NEWNET)
        os.close(fd)

    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(argv, preexec_fn=_enter, **kwargs)


def run_in(netns: str, argv: list[str], timeout: float = 20) -> subprocess.CompletedProcess[bytes]:
    proc = spawn_in(netns, argv)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _our_links(prefix: str, names: set[str]) -> list[str]:
    with IPRoute() as ipr:
        return [ln.get("ifname") for ln in ipr.get_links()
                if ln.get("ifname", "").startswith(prefix) or ln.get("ifname") in names]


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    prefix = "pct" + secrets.token_hex(3)
    svc = NetworkService(tmp_path / "root", tmp_path / "run", nft_table=prefix,
                         default_bridge_name=f"{prefix}d0", enable_ip_forward=False)
    handle = Net(svc, prefix)
    try:
        yield handle
    finally:
        for proc in handle.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.communicate()
        veths = {ep.host_veth for n in svc.list() for ep in n.endpoints.values()}
        subnets = [str(p.subnet) for n in svc.list() for p in n.pools]
        for cid in svc.netns.list():
            svc.destroy_sandbox(cid)
        for cid in svc.publisher.containers():
            svc.unpublish(cid)
        for n in svc.list({"type": ["custom"]}):
            svc.remove(n.id)
        for n in svc.list():
            if n.bridge:  # the default bridge is never removed by the API; tests clean it by hand
                svc._teardown(n)  # noqa: SLF001
        assert svc.reaper.drain(30), "removed bridges were not deleted within 30 s"
        svc.publisher.close()
        leftovers = {
            "links": _our_links(prefix, veths) + _marked_links(svc.root),
            "nft": svc.firewall.listing(),
            "netns": svc.netns.list(),
            "routes": _routes(subnets, prefix, veths),
        }
        assert not any(leftovers.values()), f"left behind: {leftovers}"


def _marked_links(root: Path) -> list[str]:
    """Bridges whose mark names this test's data root (whatever they are called now)."""
    from runtime.network.bridge import mark_of

    with IPRoute() as ipr:
        return [ln.get("ifname") for ln in ipr.get_links() if (m := mark_of(ln)) is not None and m.root == str(root)]


def _routes(subnets: list[str], prefix: str, veths: set[str]) -> list[str]:
    """Routes to our subnets through an interface of ours (other engineers' tests may route the same subnet)."""
    with IPRoute() as ipr:
        names = {ln["index"]: ln.get("ifname", "") for ln in ipr.get_links()}
        return [f"{r.get('dst')}/{r['dst_len']}" for r in ipr.get_routes()
                if f"{r.get('dst')}/{r['dst_len']}" in subnets
                and (names.get(r.get("oif"), "").startswith(prefix) or names.get(r.get("oif")) in veths)]


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """Poll ``check()`` until it returns a truthy value or the deadline passes (then fail with ``what``)."""
    from tests.support.polling import wait_for as poll

    def _wait(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
        return poll(check, timeout, what)
    return _wait
