"""A snapshot of the kernel objects tests could leak: mounts, links, named netns, pycompose cgroups, processes.

``scripts/run-tests.sh`` sets ``PYCOMPOSE_LEAK_CHECK=1``, and then the session fixture in ``tests/conftest.py``
compares a snapshot taken before the first test with one taken after the last, and fails the run on anything new.
(Off by default so that engineers running tests side by side on one machine do not see each other's objects.)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Snapshot", "take_snapshot", "leaks_between"]

_CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Snapshot:
    mounts: frozenset[str]
    links: frozenset[str]
    netns: frozenset[str]
    cgroups: frozenset[str]
    pids: frozenset[int]


def _mounts() -> frozenset[str]:
    out = set()
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            out.add(fields[4].encode().decode("unicode_escape"))
    return frozenset(out)


def _links() -> frozenset[str]:
    try:
        return frozenset(os.listdir("/sys/class/net"))
    except OSError:
        return frozenset()


def _netns() -> frozenset[str]:
    try:
        return frozenset(os.listdir("/run/netns"))
    except OSError:
        return frozenset()


def _cgroups() -> frozenset[str]:
    """Every cgroup directory whose path has a pycompose component, in every hierarchy."""
    found = set()
    if not _CGROUP_ROOT.is_dir():
        return frozenset()
    tops = [_CGROUP_ROOT] + [p for p in _CGROUP_ROOT.iterdir() if p.is_dir() and not p.is_symlink()]
    for top in tops:
        try:
            children = [c for c in top.iterdir() if c.is_dir()]
        except OSError:
            continue
        for child in children:
            if "pycompose" in child.name:
                for dirpath, _dirs, _files in os.walk(child):
                    found.add(dirpath)
    return frozenset(found)


def _pids() -> frozenset[int]:
    return frozenset(int(p) for p in os.listdir("/proc") if p.isdigit())


def take_snapshot() -> Snapshot:
    return Snapshot(_mounts(), _links(), _netns(), _cgroups(), _pids())


def _describe(pid: int) -> str | None:
    """A short text for a process that a test left behind, or None if it is gone or is no test's."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        root = os.readlink(f"/proc/{pid}/root")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return None
    ours = root != "/" or "pycompose" in cmdline or "runtime." in cmdline or "busybox" in cmdline
    ours = ours or "docker-registry" in cmdline or "dnsmasq" in cmdline
    return f"{pid} {cmdline[:120]!r} (root {root})" if ours else None


def leaks_between(before: Snapshot, after: Snapshot) -> list[str]:
    problems = []
    for what, old, new in (("mount", before.mounts, after.mounts), ("link", before.links, after.links),
                           ("netns", before.netns, after.netns), ("cgroup", before.cgroups, after.cgroups)):
        problems += [f"leftover {what}: {item}" for item in sorted(new - old)]
    for pid in sorted(after.pids - before.pids):
        if pid == os.getpid():
            continue
        text = _describe(pid)
        if text:
            problems.append(f"leftover process: {text}")
    return problems
