"""Helpers for container tests: run a container to completion, read its log, find leftovers under a prefix."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from runtime.containers import ContainerService
from runtime.spec import ContainerSpec

__all__ = ["mounts_under", "cgroup_dirs", "processes_mentioning", "read_log", "run"]


def mounts_under(prefix: str) -> list[str]:
    with open("/proc/self/mountinfo") as fh:
        return [line.split()[4] for line in fh if line.split()[4].startswith(prefix)]


def cgroup_dirs(parent: str) -> list[str]:
    out = []
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        for sub in [""] + sorted(os.listdir(base)):
            top = Path(base, sub, parent)
            if top.is_dir():
                out += [str(p) for p in top.rglob("*") if p.is_dir()]
    return out


def processes_mentioning(root: str) -> list[int]:
    """Processes whose cwd, root or any open fd lies under ``root`` (monitors, container inits)."""
    hits = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = [os.readlink(f"/proc/{entry.name}/cwd")]
            links += [os.readlink(f"/proc/{entry.name}/fd/{fd}") for fd in os.listdir(f"/proc/{entry.name}/fd")]
        except OSError:
            continue
        # the fork server's and monitors' error log is shared by design; anything else under root is a leftover
        if any(link.startswith(root) and not link.endswith("/monitors.log") for link in links):
            hits.append(int(entry.name))
    return hits


def read_log(svc: ContainerService, cid: str) -> tuple[str, str]:
    out, err = [], []
    with open(svc.log_path(cid)) as fh:
        for line in fh:
            rec = json.loads(line)
            (out if rec["stream"] == "stdout" else err).append(rec["log"])
    return "".join(out), "".join(err)


def run(svc: ContainerService, rootfs: tuple[str, ...], *args: str, **kw: Any) -> tuple[int, str, str]:
    """create + start + wait + remove; (exit code, stdout, stderr) from the container's own log."""
    cid = svc.create(None, ContainerSpec(args=args, rootfs=rootfs, **kw))
    try:
        svc.start(cid)
        code = svc.wait(cid, 30)
        out, err = read_log(svc, cid)
        return code, out, err
    finally:
        svc.remove(cid, force=True)

