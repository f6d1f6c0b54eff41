"""Small C helpers, compiled on first use with the system's C compiler and cached by source hash.

``monitor_binary()`` is the path of ``pycompose-monitor`` (``monitor.c``), or ``None`` when no compiler is
available (the Python loop in ``runtime.monitor`` then does the same work with more memory). The cache lives in
``$PYCOMPOSE_HELPER_DIR`` or ``~/.cache/pycompose`` (a directory only we can write, never a shared /tmp path).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

__all__ = ["monitor_binary", "helper_dir"]

_SOURCE = Path(__file__).with_name("monitor.c")
_lock = threading.Lock()
_cached: dict[str, str | None] = {}


def helper_dir() -> Path:
    explicit = os.environ.get("PYCOMPOSE_HELPER_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pycompose"


def _safe_dir(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(path)
    return st.st_uid == os.geteuid() and not (st.st_mode & 0o022) and not os.path.islink(path)


def monitor_binary() -> str | None:
    """The compiled monitor helper (built once per source version), or ``None`` without a C compiler."""
    if os.environ.get("PYCOMPOSE_PYTHON_MONITOR") == "1":
        return None
    with _lock:
        if "monitor" in _cached:
            return _cached["monitor"]
        _cached["monitor"] = path = _build()
        return path


def _build() -> str | None:
    source = _SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    out_dir = helper_dir()
    target = out_dir / f"pycompose-monitor-{digest}"
    if target.exists():
        return str(target)
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None or not _safe_dir(out_dir):
        return None
    tmp = out_dir / f".pycompose-monitor-{digest}.{os.getpid()}.tmp"
    proc = subprocess.run([cc, "-O2", "-o", str(tmp), str(_SOURCE)], capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        return None
    os.rename(tmp, target)
    return str(target)
