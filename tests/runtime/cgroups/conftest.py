"""Fixtures for the cgroup tests: a unique parent cgroup per test (removed even after a failure, with any process
still in it killed), managers for v1 and v2, and processes parked on a pipe until they are inside the cgroup."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime.cgroups.factory import CgroupMode, detect_mode
from runtime.cgroups.v1 import V1Manager, v1_mounts
from runtime.cgroups.v2 import V2Manager, v2_mountpoint

PY = sys.executable


class Parked:
    """A child process that waits for one line on stdin before running ``code`` (so it can be moved into a
    cgroup first). Its stdout is a pipe."""

    def __init__(self, code: str) -> None:
        script = "import sys\nsys.stdin.readline()\n" + code
        self.proc = subprocess.Popen([PY, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def wait(self, timeout: float = 60) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@pytest.fixture
def park() -> Iterator[Callable[[str], Parked]]:
    """``park(code)`` starts a ``Parked`` process; every one is killed and reaped at the end, even on failure."""
    procs: list[Parked] = []

    def start(code: str) -> Parked:
        procs.append(Parked(code))
        return procs[-1]
    yield start
    for p in procs:
        p.kill()


def _kill_tree(top: Path) -> None:
    for dirpath, _d, _f in os.walk(top):
        try:
            pids = (Path(dirpath) / "cgroup.procs").read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _rmtree_cgroup(top: Path) -> None:
    if not top.is_dir():
        return
    for dirpath, _d, _f in sorted(os.walk(top), key=lambda t: -len(t[0])):
        try:
            os.rmdir(dirpath)
        except FileNotFoundError:
            pass


@pytest.fixture
def cg_parent() -> Iterator[str]:
    """A unique parent ``pycompose-test-<hex>``; afterwards nothing of it is left in any hierarchy."""
    name = f"pycompose-test-{secrets.token_hex(3)}"
    roots = list(dict.fromkeys(v1_mounts().values()))
    v2 = v2_mountpoint()
    enabled_before = None
    if v2 is not None:
        roots.append(v2)
        enabled_before = set((v2 / "cgroup.subtree_control").read_text().split())
    yield name
    from runtime.cgroups.base import wait_for
    for root in roots:
        _kill_tree(root / name)
    for root in roots:
        top = root / name

        def removed(top: Path = top) -> bool:
            try:
                _rmtree_cgroup(top)
            except OSError:
                return False
            return not top.exists()
        wait_for(removed, 10, f"test cgroup {top} to be removed")
    if v2 is not None and enabled_before is not None:
        # leave the host's root as found: switch off controllers this test enabled there
        for ctrl in set((v2 / "cgroup.subtree_control").read_text().split()) - enabled_before:
            try:
                (v2 / "cgroup.subtree_control").write_text(f"-{ctrl}")
            except OSError:
                pass  # still used below the root by someone else: theirs to keep
    leftovers = [str(root / name) for root in roots if (root / name).exists()]
    assert not leftovers, f"cgroup dirs left behind: {leftovers}"


def v1_or_skip() -> None:
    if not v1_mounts():
        pytest.skip("no cgroup v1 hierarchies on this host (pure cgroup v2)")


def v2_root_or_skip() -> Path:
    root = v2_mountpoint()
    if root is None:
        pytest.skip("no cgroup2 hierarchy is mounted on this host")
    return root


@pytest.fixture(params=["v1", "v2"])
def manager(request, cg_parent):
    """A created manager of each version under the test parent (v2 on the host's unified hierarchy)."""
    if request.param == "v1":
        v1_or_skip()
        mgr = V1Manager("ctr", cg_parent)
    else:
        mgr = V2Manager("ctr", cg_parent, root=v2_root_or_skip())
    mgr.create()
    yield mgr


@pytest.fixture
def uncreated_manager(cg_parent):
    """``uncreated_manager("v1" | "v2")``: a manager under the test parent, not created yet (skips as above)."""
    def make(version: str):
        if version == "v1":
            v1_or_skip()
            return V1Manager("ctr", cg_parent)
        return V2Manager("ctr", cg_parent, root=v2_root_or_skip())
    return make


def host_mode() -> CgroupMode:
    return detect_mode()
