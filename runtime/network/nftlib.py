"""Running nft scripts in-process through libnftables (the library the ``nft`` command is built on).

Loading a bridge network's rules used to start ``nft`` twice per create or remove (about 10 ms each on a busy
host); the library takes well under a millisecond and reads the same scripts, so the text stays the interface.
When libnftables is not installed, :func:`run_nft` starts the ``nft`` command instead, with the same result.

Calls are serialised by one lock: a context is made per call, but the library keeps some global state.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
import threading

from runtime.errors import EngineError, Unsupported

__all__ = ["run_nft", "library_available", "load_library", "run_in_context"]

_OUTPUT_HANDLE = 1 << 3  # NFT_CTX_OUTPUT_HANDLE: print rule handles (``nft -a``)
_OUTPUT_JSON = 1 << 4    # NFT_CTX_OUTPUT_JSON: JSON output (``nft -j``)
_lock = threading.Lock()
_load_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_tried = False


def load_library() -> ctypes.CDLL | None:
    """libnftables with its signatures declared, loaded once; ``None`` when it is not installed."""
    with _load_lock:
        return _load()


def _load() -> ctypes.CDLL | None:
    global _lib, _tried
    if not _tried:
        _tried = True
        name = ctypes.util.find_library("nftables")
        if name is not None:
            try:
                lib = ctypes.CDLL(name, use_errno=True)
            except OSError:
                return None
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
            lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
            lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
            _lib = lib
    return _lib


def library_available() -> bool:
    return load_library() is not None


def run_in_context(lib: ctypes.CDLL, script: str, flags: int = 0) -> tuple[bool, str, str]:
    """One nft transaction in a fresh library context of the calling thread (its netns): ok, output, error.
    Unlike :func:`run_nft` it takes no lock, so transactions in different namespaces can run at once."""
    ctx = lib.nft_ctx_new(0)
    if not ctx:
        raise EngineError("libnftables: cannot make a context")
    try:
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        lib.nft_ctx_output_set_flags(ctx, flags)
        ok = lib.nft_run_cmd_from_buffer(ctx, script.encode()) == 0
        out = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode(errors="replace")
        err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode(errors="replace")
        return ok, out, err
    finally:
        lib.nft_ctx_free(ctx)


def _run_command(nft: str | None, script: str, flags: int) -> tuple[bool, str, str]:
    argv = [nft or shutil.which("nft") or "/usr/sbin/nft"]
    argv += ["-j"] if flags & _OUTPUT_JSON else []
    argv += ["-a"] if flags & _OUTPUT_HANDLE else []
    one = script.strip()
    if flags & _OUTPUT_JSON and "\n" not in one:  # with -j, -f would read JSON: one command goes as words
        argv, script = [*argv, *one.split()], ""
    else:
        argv.extend(["-f", "-"])
    try:
        proc = subprocess.run(argv, input=script, capture_output=True, text=True, check=False)
    except FileNotFoundError as err:
        raise Unsupported("nftables ('nft' or libnftables) is not installed; it is needed for bridge network "
                          "rules") from err
    return proc.returncode == 0, proc.stdout, proc.stderr


def run_nft(script: str, *, json: bool = False, handles: bool = False, command: str | None = None,
            check: bool = True) -> str:
    """Run an nft script (one transaction) and return what it printed.

    ``json``/``handles`` are ``nft -j``/``-a``. ``command`` names an ``nft`` binary to start instead of the
    library (tests compare the two). A failure raises :class:`EngineError` with nft's message, or returns
    ``""`` when ``check`` is false."""
    flags = (_OUTPUT_JSON if json else 0) | (_OUTPUT_HANDLE if handles else 0)
    lib = None if command else load_library()
    with _lock:
        ok, out, err = run_in_context(lib, script, flags) if lib is not None else _run_command(command, script, flags)
    if not ok:
        if not check:
            return ""
        raise EngineError(f"nft failed: {err.strip() or 'no message'}")
    return out
