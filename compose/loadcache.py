"""What the light commands (``ps``, ``logs``, ``exec``, ``cp``, ``top`` ...) need of a project, kept between runs.

Those commands need only the project's name, directory, files, service names and warnings (``stop``, ``start``
and ``restart`` also the services' dependency edges and which have hooks), yet loading and
validating the project (ruamel, jsonschema, the model: ~50 ms of a ~200 ms command) is what they cost most.
``lookup(fields)`` returns the ``Summary`` a previous full load left, or None; ``record(fields)`` is a context
manager around a full load that notes every file the load opened (an audit hook on ``open``), and ``store``
writes the summary with the stat signature (mtime ns, size, inode; or missing) of:

- every file the load opened (Compose files, ``.env``, included, extended and env files, the schema);
- the directory of each, and the working directory and its parents up to the first Compose file's (a new
  ``compose.override.yaml``, ``.env`` or a Compose file nearer the working directory changes a directory's
  mtime);
- every path ``extra_paths`` names (services' env files, opened or not: an optional one that appears later);
- the ``compose`` package's modules (an upgrade of the loader).

A file changed while it was being loaded (or within a clock tick before) could keep its stat signature with
content the load never saw ("racy git"): nothing is stored when a watched path's mtime is not safely before the
load started (``_RACY_NS``), and the next command loads in full again.

The key is a hash of the command line's load options, the working directory and the whole environment (less
``_``, ``OLDPWD``, ``SHLVL``, ``PYCOMPOSE_TRACE``): interpolation and ``COMPOSE_*`` read it. Any difference is a miss and the
project is loaded in full, so errors in the files are reported exactly as before; only successful loads are
kept. ``PYCOMPOSE_PROJECT_CACHE=0`` turns the cache off; it lives in ``$PYCOMPOSE_CACHE_DIR``, else
``$XDG_CACHE_HOME/pycompose/projects``, else ``~/.cache/pycompose/projects`` (files 0600, the newest
``_KEEP`` kept). Standard library only, so a hit imports none of the loader.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Summary", "cache_dir", "enabled", "lookup", "record", "store"]

_VERSION = 2  # 2: each service's depends_on edges and hooks (the light stop/start/restart)
_KEEP = 200
_VOLATILE = frozenset({"_", "OLDPWD", "SHLVL", "PYCOMPOSE_TRACE"})  # never read by a load
_CODE = (".py", ".pyc", ".so")
_RACY_NS = 50_000_000  # file times come from a coarse clock (a jiffy, up to 10 ms, behind): a wide margin


@dataclass(frozen=True)
class Summary:
    """What a light command knows of the project without loading it."""

    name: str
    project_dir: str
    files: list[str]
    services: list[str]
    disabled_services: list[str]
    warnings: list[str] = field(default_factory=list)  # as ``str(Problem)``: located, printed as they were
    # service -> {service it needs: [condition, required]} (``compose.servicedeps.Edges``, depends_on, links,
    # network_mode...: ``ServiceGraph.service_edges``); the services with pre_stop/post_start hooks
    depends: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return (env.get("PYCOMPOSE_PROJECT_CACHE", "1").lower() not in ("0", "false", "no", "off")
            and bool(cache_dir(env)))


def cache_dir(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    if env.get("PYCOMPOSE_CACHE_DIR"):
        return env["PYCOMPOSE_CACHE_DIR"]
    home = env["HOME"] if "HOME" in env else os.path.expanduser("~")  # expanduser: HOME, else the passwd entry
    base = env.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    if not os.path.isabs(base):  # no home to speak of: no cache rather than one in the working directory
        return ""
    return os.path.join(base, "pycompose", "projects")


def _code_signature() -> list[int]:
    here = os.path.dirname(os.path.abspath(__file__))
    latest, count = 0, 0
    with os.scandir(here) as entries:
        for entry in entries:
            if entry.name.endswith(".py"):
                latest = max(latest, entry.stat().st_mtime_ns)
                count += 1
    return [latest, count]


def _key(fields: Mapping[str, Any]) -> str:
    env = {k: v for k, v in os.environ.items() if k not in _VOLATILE}
    blob = json.dumps([_VERSION, sys.version, sys.executable, os.getcwd(), dict(fields), sorted(env.items()),
                       _code_signature()], sort_keys=True, default=str)
    try:  # CPython's built-in BLAKE2: ``hashlib`` would load OpenSSL (~2 ms) for this one key
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - another interpreter
        from hashlib import blake2b
    return blake2b(blob.encode(), digest_size=20).hexdigest()


def _signature(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def lookup(fields: Mapping[str, Any]) -> Summary | None:
    """The summary a full load with these options left, when nothing it read has changed since; else None."""
    if not enabled():
        return None
    try:
        with open(os.path.join(cache_dir(), _key(fields) + ".json"), encoding="utf-8") as fh:
            entry = json.load(fh)
        for path, signature in entry["watched"].items():
            if _signature(path) != signature:
                return None
        return Summary(**entry["summary"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


_recording: list[str] | None = None
_hooked = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _recording is not None and event == "open" and args:
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)):
            _recording.append(os.fsdecode(path))


@contextlib.contextmanager
def record() -> Iterator[list[str]]:
    """Collects the paths opened inside the block into the list it yields."""
    global _recording, _hooked
    if not _hooked:
        sys.addaudithook(_hook)  # audit hooks stay for the process; idle unless a block is recording
        _hooked = True
    seen: list[str] = []
    _recording = seen
    try:
        yield seen
    finally:
        _recording = None


def _watched(opened: Iterable[str], extra_paths: Iterable[str], files: list[str]) -> dict[str, list[int] | None]:
    """Directories from the working directory up to the first Compose file's (the ones the search for Compose
    files looked in), never above it: ``/tmp`` changes all the time."""
    cwd = os.getcwd()
    paths: set[str] = set()
    for name in opened:
        if name.endswith(_CODE):
            continue
        path = os.path.abspath(os.path.join(cwd, name))
        paths.add(path)
        paths.add(os.path.dirname(path))
    paths.update(os.path.abspath(os.path.join(cwd, p)) for p in extra_paths)
    stop = os.path.dirname(files[0]) if files else cwd
    directory = cwd
    paths.add(directory)
    while directory != stop and os.path.commonpath([directory, stop]) == stop:
        directory = os.path.dirname(directory)
        paths.add(directory)
    return {p: _signature(p) for p in sorted(paths)}


def store(fields: Mapping[str, Any], summary: Summary, opened: Iterable[str], extra_paths: Iterable[str] = (),
          *, started_ns: int) -> bool:
    """Keep ``summary`` for the next ``lookup`` with these fields (``started_ns``: ``time.time_ns()`` when the
    load began). False when not kept: off, a path changed too recently to trust, or no writable cache."""
    if not enabled():
        return False
    watched = _watched(opened, extra_paths, summary.files)
    if any(sig is not None and sig[0] >= started_ns - _RACY_NS for sig in watched.values()):
        return False
    directory = cache_dir()
    entry = {"summary": asdict(summary), "watched": watched}
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        target = os.path.join(directory, _key(fields) + ".json")
        partial = f"{target}.{os.getpid()}.part"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entry, fh)
        os.replace(partial, target)
        _prune(directory)
    except OSError:
        return False
    return True


def _prune(directory: str) -> None:
    with os.scandir(directory) as it:
        entries = [e for e in it if e.name.endswith(".json")]
    if len(entries) <= _KEEP:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns)
    for entry in entries[:len(entries) - _KEEP]:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
