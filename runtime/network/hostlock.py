"""One host-wide lock around choosing subnets, creating bridges and editing our nftables table.

Several engines (or test runs) on one host must not pick the same free subnet at once, nor race each other's
nft edits. An ``flock`` on a file under ``/run/lock`` serialises them; it is released if the holder dies.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["host_lock", "LOCK_PATH"]

LOCK_PATH = Path("/run/lock/pycompose-network.lock") if Path("/run/lock").is_dir() else \
    Path(tempfile.gettempdir()) / "pycompose-network.lock"

_local = threading.RLock()


@contextmanager
def host_lock(path: Path = LOCK_PATH) -> Iterator[None]:
    """Hold the host-wide network lock (re-entrant within this process)."""
    with _local:
        depth = getattr(_local_state, "depth", 0)
        if depth:
            _local_state.depth = depth + 1
            try:
                yield
            finally:
                _local_state.depth -= 1
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _local_state.depth = 1
            try:
                yield
            finally:
                _local_state.depth = 0
        finally:
            os.close(fd)


_local_state = threading.local()
