"""Small C helpers, compiled on first use with the system's C compiler and cached by source hash.

``monitor_binary()`` is the path of ``pycompose-monitor`` (``monitor.c``) and ``init_binary()`` of the static
``pycompose-init`` (``init.c``, PID 1 with ``init: true``), or ``None`` when they cannot be built (the Python
loop in ``runtime.monitor`` and the Python reaper in ``runtime.init`` then do the same work with more memory). The cache lives in
``$PYCOMPOSE_HELPER_DIR`` or ``~/.cache/pycompose`` (a directory only we can write, never a shared /tmp path).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

__all__ = ["monitor_binary", "init_binary", "dns_fastpath_library", "helper_dir"]

_HERE = Path(__file__).parent
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
    return _cached_build("pycompose-monitor", "monitor.c", ("-O2",))


def init_binary() -> str | None:
    """The static reaper for ``init: true``, or ``None`` without a compiler and a static libc."""
    if os.environ.get("PYCOMPOSE_PYTHON_MONITOR") == "1":
        return None
    return _cached_build("pycompose-init", "init.c", ("-Os", "-static"))


def dns_fastpath_library() -> str | None:
    """The embedded DNS server's cache-hit thread (``dnsfast.c``, a shared library loaded with ctypes), or
    ``None`` without a C compiler or with ``PYCOMPOSE_PYTHON_DNS=1`` (the Python path then answers alone)."""
    if os.environ.get("PYCOMPOSE_PYTHON_DNS") == "1":
        return None
    return _cached_build("libpycompose-dnsfast.so", "dnsfast.c", ("-O2", "-shared", "-fPIC", "-pthread"))


def _cached_build(name: str, source: str, flags: tuple[str, ...]) -> str | None:
    with _lock:
        if name not in _cached:
            _cached[name] = _build(name, _HERE / source, flags)
        return _cached[name]


def _build(name: str, source: Path, flags: tuple[str, ...]) -> str | None:
    digest = hashlib.sha256(source.read_bytes() + " ".join(flags).encode()).hexdigest()[:16]
    out_dir = helper_dir()
    target = out_dir / f"{name}-{digest}"
    if target.exists():
        return str(target)
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None or not _safe_dir(out_dir):
        return None
    tmp = out_dir / f".{name}-{digest}.{os.getpid()}.tmp"
    proc = subprocess.run([cc, *flags, "-o", str(tmp), str(source)], capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        return None
    os.rename(tmp, target)
    return str(target)
