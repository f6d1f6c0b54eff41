"""The DNS cache-hit thread: repeated UDP queries answered in C, off the GIL (``runtime/native/dnsfast.c``).

:class:`FastPath` owns one native thread serving the UDP sockets of every scope handed to it: a query whose
bytes after the id were answered before gets the cached reply at once, with batched syscalls; any other
datagram comes back to the daemon's loop through :attr:`FastPath.miss` (a datagram socketpair), where the
Python server answers it and caches the reply with :meth:`FastPath.put`. The daemon's own work (API
requests, worker threads holding the GIL) then no longer delays answers to names already asked for.

The thread asks the scheduler for 0.1 ms slices (``sched_setattr``; EEVDF kernels, 6.12+, honour it for
normal threads): when a query wakes it on a busy machine it preempts sooner, with no more CPU share than
before. ``PYCOMPOSE_DNS_SLICE_US`` sets another slice (0: the kernel's default).

``FastPath.create()`` is ``None`` where the helper cannot be built (no C compiler) or with
``PYCOMPOSE_PYTHON_DNS=1``; the server then answers every query in Python.
"""
from __future__ import annotations

import ctypes
import logging
import os
import socket
import struct
import threading
from collections.abc import Sequence

from runtime import native

__all__ = ["FastPath", "MISS_HEADER", "parse_miss"]

log = logging.getLogger(__name__)

MISS_HEADER = 8 + 16  # u64 scope tag, struct sockaddr_in of the asker
_TAG = struct.Struct("=Q")
_lib: ctypes.CDLL | None = None
_loaded = False
_load_lock = threading.Lock()


def _library() -> ctypes.CDLL | None:
    global _lib, _loaded
    if _loaded:
        return _lib
    _loaded = True
    path = native.dns_fastpath_library()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path, use_errno=True)
    except OSError as err:
        log.warning("DNS fast path unavailable (%s): answering in Python", err)
        return None
    lib.pcdns_new.restype = ctypes.c_void_p
    lib.pcdns_new.argtypes = [ctypes.c_int, ctypes.c_uint64]
    lib.pcdns_free.restype = None
    lib.pcdns_free.argtypes = [ctypes.c_void_p]
    lib.pcdns_add.restype = ctypes.c_int64
    lib.pcdns_add.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.pcdns_remove.restype = ctypes.c_int
    lib.pcdns_remove.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
    lib.pcdns_put.restype = ctypes.c_int
    lib.pcdns_put.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_uint32, ctypes.c_char_p,
                              ctypes.POINTER(ctypes.c_uint32), ctypes.c_uint32]
    lib.pcdns_clear.restype = None
    lib.pcdns_clear.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.pcdns_stats.restype = None
    lib.pcdns_stats.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64)]
    _lib = lib
    return lib


def _slice_ns() -> int:
    try:
        return max(0, int(float(os.environ.get("PYCOMPOSE_DNS_SLICE_US", "100")) * 1000))
    except ValueError:
        return 100_000


def parse_miss(packet: bytes) -> tuple[int, tuple[str, int], bytes] | None:
    """(scope tag, asker address, query datagram) from one datagram of :attr:`FastPath.miss`."""
    if len(packet) < MISS_HEADER:
        return None
    tag = _TAG.unpack_from(packet)[0]
    port = int.from_bytes(packet[10:12], "big")
    return tag, (socket.inet_ntoa(packet[12:16]), port), packet[MISS_HEADER:]


class FastPath:
    """One native serving thread for the UDP sockets of many scopes. Not thread-safe: use it from one loop."""

    MAX_VARIANTS = 32  # answer orders the helper keeps per reply

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        # The helper writes misses to `_peer`; the loop reads `miss`. Room for bursts while the loop is busy.
        self.miss, self._peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        for sock in (self.miss, self._peer):
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        handle = lib.pcdns_new(self._peer.fileno(), _slice_ns())
        if not handle:
            err = ctypes.get_errno()
            self.miss.close()
            self._peer.close()
            raise OSError(err, f"DNS fast path: {os.strerror(err)}")
        self._handle: int | None = handle

    @staticmethod
    def prepare() -> bool:
        """Build (first use: runs the C compiler) and load the helper; blocking, so call it off the loop."""
        with _load_lock:
            return _library() is not None

    @classmethod
    def create(cls) -> FastPath | None:
        """A running fast path, or ``None`` where the helper is unavailable (then Python answers alone)."""
        with _load_lock:
            lib = _library()
        if lib is None:
            return None
        try:
            return cls(lib)
        except OSError as err:
            log.warning("%s: answering in Python", err)
            return None

    def _h(self) -> int:
        if self._handle is None:
            raise OSError("DNS fast path is closed")
        return self._handle

    def add(self, sock: socket.socket) -> int:
        """Serve ``sock`` (a bound non-blocking UDP socket); the tag naming it in misses and calls."""
        tag = self._lib.pcdns_add(self._h(), sock.fileno())
        if tag < 0:
            raise OSError(-tag, f"DNS fast path: {os.strerror(-tag)}")
        return int(tag)

    def remove(self, tag: int) -> None:
        """Stop serving the socket of ``tag`` (before it is closed) and drop its cached replies."""
        if self._handle is not None:
            self._lib.pcdns_remove(self._handle, tag)

    def put(self, tag: int, key: bytes, replies: Sequence[bytes]) -> bool:
        """Cache ``replies`` (answer orders, each without its id) for the query bytes ``key`` (after the id)."""
        if self._handle is None or not replies or len(replies) > self.MAX_VARIANTS:
            return False
        lens = (ctypes.c_uint32 * len(replies))(*map(len, replies))
        return self._lib.pcdns_put(self._handle, tag, key, len(key), b"".join(replies), lens, len(replies)) == 0

    def clear(self, tag: int = -1) -> None:
        """Drop the cached replies of one scope (``-1``: of all); no cached reply goes out after this returns."""
        if self._handle is not None:
            self._lib.pcdns_clear(self._handle, tag)

    def stats(self) -> tuple[int, int]:
        """(replies sent from the cache, datagrams handed to the loop) since the start."""
        out = (ctypes.c_uint64 * 2)()
        self._lib.pcdns_stats(self._h(), out)
        return int(out[0]), int(out[1])

    def close(self) -> None:
        """Stop the thread (remove every socket first) and close the socketpair."""
        if self._handle is not None:
            self._lib.pcdns_free(self._handle)
            self._handle = None
            self.miss.close()
            self._peer.close()
