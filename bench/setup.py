"""What the engine benches set up alike: the busybox rootfs tarball the tests use, an engine of our own (temporary
socket and data root) with that tarball imported as ``busybox:<tag>``, and a timed CLI run.

Import after putting the repository on ``sys.path`` (as every bench does): ``from bench.setup import ...``.
"""
from __future__ import annotations

import contextlib
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import _build_busybox_rootfs
from tests.runtime.daemon.conftest import Daemon, cleanup, start_daemon

__all__ = ["busybox_tar", "busybox_engine", "timed_run"]


def busybox_tar(work: Path) -> Path:
    """``<work>/busybox.tar``: the tests' busybox-static rootfs (built in ``<work>/rootfs``) as a tarball."""
    rootfs = work / "rootfs"
    rootfs.mkdir()
    _build_busybox_rootfs(rootfs)
    out = work / "busybox.tar"
    with tarfile.open(out, "w") as tar:
        tar.add(str(rootfs), arcname=".")
    return out


@contextlib.contextmanager
def busybox_engine(work: Path, rootfs_tar: Path, tag: str = "local") -> Iterator[Daemon]:
    """An engine under ``<work>/engine`` with ``rootfs_tar`` imported as ``busybox:<tag>``; stopped and its
    containers, mounts and cgroups cleaned up on leaving."""
    daemon = start_daemon(work / "engine")
    try:
        daemon.client().api.import_image_from_data(rootfs_tar.read_bytes(), repository="busybox", tag=tag)
        yield daemon
    finally:
        cleanup(daemon)


def timed_run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Seconds ``cmd`` took; a failed command ends the bench with its stderr."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd} ({proc.returncode}): "
                         f"{proc.stderr.decode(errors='replace')}")
    return took
