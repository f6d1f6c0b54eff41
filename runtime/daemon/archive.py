"""The container filesystem endpoints: ``/containers/{id}/archive`` (GET, HEAD, PUT: ``docker cp``),
``/containers/{id}/export``, ``/containers/{id}/changes`` and ``POST /commit``.

A running container's files are reached through ``/proc/<pid>/root``; a stopped one's through its overlay
(image layers + its upper dir) mounted for the call. The file work itself runs in ``cp_helper`` chrooted into
that root, so the container's symlinks cannot lead to the host's files.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime import linux
from runtime.daemon.router import Router
from runtime.daemon.server import Reply, Request, Response, Stream, json_response
from runtime.errors import EngineError, InvalidArgument, NotFound
from runtime.rootfs import MANAGED_FILES

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["register", "container_changes", "runtime_made"]

_REPO = str(Path(__file__).resolve().parents[2])
_STAT_HEADER = "X-Docker-Container-Path-Stat"
_mount_lock = threading.Lock()
_CHANGE_MODIFIED, _CHANGE_ADDED, _CHANGE_DELETED = 0, 1, 2


@contextlib.contextmanager
def _container_root(state: Any) -> Iterator[str]:
    """The container's root directory for the duration of the block."""
    if state.status in ("running", "paused") and state.pid:
        yield f"/proc/{state.pid}/root"
        return
    spec = state.spec
    d = Path(state.state_dir)
    upper, work = d / "upper", d / "work"
    upper.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="cp-", dir=d))
    lowers = list(reversed(spec.rootfs)) or [str(target)]
    with _mount_lock:
        linux.mount("overlay", str(target), "overlay", 0,
                    f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}")
    try:
        yield str(target)
    finally:
        with _mount_lock:
            linux.umount(str(target), linux.MNT_DETACH)
        with contextlib.suppress(OSError):
            target.rmdir()


def _helper(op: str, root: str, path: str, stdin: Any = None, stdout: Any = subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runtime.daemon.cp_helper", op, root, path], cwd=_REPO,
                            stdin=stdin if stdin is not None else subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.PIPE)


def _raise_for(code: int, err: bytes, path: str) -> None:
    message = err.decode(errors="replace").strip()
    if code == 2:
        raise NotFound(message or f"Could not find the file {path} in container")
    if code == 3:
        raise InvalidArgument(message)
    raise EngineError(message or f"file operation on {path} failed")


def _stat(root: str, path: str) -> dict[str, Any]:
    proc = _helper("stat", root, path)
    out, err = proc.communicate(timeout=60)
    if proc.returncode:
        _raise_for(proc.returncode, err, path)
    return json.loads(out)


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


# What the runtime itself makes in a container's root for its mounts (runtime/rootfs.py): Docker keeps these in the
# container's "init" layer, below its rw layer, so `docker diff` never lists them.
_RUNTIME_PATHS = frozenset(["/dev", "/proc", "/sys"] + [f"/etc/{name}" for name in MANAGED_FILES])


def runtime_made(upper: Path, lowers: list[str]) -> set[str]:
    """What in the container's upper dir only the runtime made, as paths relative to it (``etc/hostname``): its
    mount points, and a directory the overlay copied up only to hold them (nothing else changed in it, its mode and
    owner those of the image's)."""
    made = {p.lstrip("/") for p in _RUNTIME_PATHS if _made_here(upper / p.lstrip("/"))}
    for holder in {os.path.dirname(rel) for rel in made} - {""}:
        try:
            inside = set(os.listdir(upper / holder))
            st = os.lstat(upper / holder)
        except OSError:
            continue
        if inside - {os.path.basename(rel) for rel in made if os.path.dirname(rel) == holder}:
            continue  # something else changed in it
        for lower in lowers:
            try:
                below = os.lstat(os.path.join(lower, holder))
            except OSError:
                continue
            if (st.st_mode, st.st_uid, st.st_gid) == (below.st_mode, below.st_uid, below.st_gid):
                made.add(holder)
            break
    return made


def _made_here(path: Path) -> bool:
    try:
        return not _whiteout(os.lstat(path))
    except OSError:
        return False


def container_changes(upper: Path, lowers: list[str]) -> list[dict[str, Any]]:
    """``docker diff``: what the container's upper dir changed against the image layers, without what only the
    runtime made there (``runtime_made``)."""
    out: list[dict[str, Any]] = []
    if not upper.is_dir():
        return out
    made = runtime_made(upper, lowers)
    for dirpath, dirs, files in os.walk(upper):
        below: list[str] = []  # the directories to walk into: not the runtime's, not whiteouts
        subdirs = set(dirs)
        for name in sorted(dirs + files):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, upper)
            if rel in made:
                continue
            if _whiteout(os.lstat(full)):
                kind = _CHANGE_DELETED
            else:
                if name in subdirs:
                    below.append(name)
                kind = _CHANGE_MODIFIED if any(os.path.lexists(os.path.join(lower, rel)) for lower in lowers) \
                    else _CHANGE_ADDED
            out.append({"Path": "/" + rel, "Kind": kind})
        dirs[:] = below
    return sorted(out, key=lambda c: c["Path"])


def register(router: Router, engine: Engine) -> None:
    svc = engine.containers

    def _state(ref: str) -> Any:
        rec = engine.records.find(ref)
        return rec, svc.inspect(rec["Id"])

    def _path(req: Request) -> str:
        path = req.arg("path")
        if not path:
            raise InvalidArgument("path is required")
        return path if path.startswith("/") else "/" + path

    async def head(req: Request) -> Response:
        _rec, state = _state(req.params["id"])
        path = _path(req)

        def work() -> dict[str, Any]:
            with _container_root(state) as root:
                return _stat(root, path)

        info = await asyncio.to_thread(work)
        header = base64.b64encode(json.dumps(info).encode()).decode()
        return Response(200, b"", "application/json", {_STAT_HEADER: header})

    async def get(req: Request) -> Reply:
        _rec, state = _state(req.params["id"])
        path = _path(req)
        spool = tempfile.TemporaryFile(dir=state.state_dir)

        def work() -> dict[str, Any]:
            with _container_root(state) as root:
                info = _stat(root, path)
                proc = _helper("get", root, path, stdout=spool)
                _out, err = proc.communicate(timeout=600)
                if proc.returncode:
                    _raise_for(proc.returncode, err, path)
                return info

        try:
            info = await asyncio.to_thread(work)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)

        async def body() -> AsyncIterator[bytes]:
            with spool:
                while chunk := await asyncio.to_thread(spool.read, 1 << 20):
                    yield chunk

        header = base64.b64encode(json.dumps(info).encode()).decode()
        return Stream(body(), content_type="application/x-tar", headers={_STAT_HEADER: header})

    async def put(req: Request) -> Response:
        _rec, state = _state(req.params["id"])
        path = _path(req)
        if state.spec.readonly_rootfs:
            raise InvalidArgument("container rootfs is marked read-only")
        spool = await req.spool(state.state_dir)

        def work() -> None:
            with spool, _container_root(state) as root:
                proc = _helper("put", root, path, stdin=spool)
                _out, err = proc.communicate(timeout=600)
                if proc.returncode:
                    _raise_for(proc.returncode, err, path)

        await asyncio.to_thread(work)
        return Response(200, content_type="text/plain")

    async def export(req: Request) -> Reply:
        rec, state = _state(req.params["id"])
        spool = tempfile.TemporaryFile(dir=state.state_dir)

        def work() -> None:
            with _container_root(state) as root:
                proc = _helper("export", root, "/", stdout=spool)
                _out, err = proc.communicate(timeout=3600)
                if proc.returncode:
                    _raise_for(proc.returncode, err, "/")

        try:
            await asyncio.to_thread(work)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        engine.publish_container(rec, "export")

        async def body() -> AsyncIterator[bytes]:
            with spool:
                while chunk := await asyncio.to_thread(spool.read, 1 << 20):
                    yield chunk

        return Stream(body(), content_type="application/x-tar")

    async def changes(req: Request) -> Response:
        _rec, state = _state(req.params["id"])
        found = await asyncio.to_thread(container_changes, Path(state.state_dir) / "upper", list(state.spec.rootfs))
        return json_response(found or None)

    async def commit(req: Request) -> Response:
        ref = req.arg("container")
        if not ref:
            raise InvalidArgument("container is required")
        rec, state = _state(ref)
        body = await req.json_object()
        repo, tag = req.arg("repo") or "", req.arg("tag") or ""
        reference = (f"{repo}:{tag}" if tag else repo) or None
        lines = req.query.get("changes", [])
        config_changes: Any = {k: v for k, v in body.items() if v not in (None, "", [], {})} if body else None
        if lines:
            from runtime.images.config import parse_changes

            config_changes = {**(config_changes or {}), **parse_changes(lines)}
        pause = req.flag("pause", True) and state.status == "running"
        if pause:
            await asyncio.to_thread(svc.pause, rec["Id"])
        try:
            image = await asyncio.to_thread(
                engine.images.commit, rec["ImageID"], Path(state.state_dir) / "upper", config_changes, reference,
                created_by=" ".join([rec["Path"], *rec["Args"]]), comment=req.arg("comment") or "",
                author=req.arg("author") or "",
                leave_out=runtime_made(Path(state.state_dir) / "upper", list(state.spec.rootfs)))
        finally:
            if pause:
                await asyncio.to_thread(svc.unpause, rec["Id"])
        engine.publish_container(rec, "commit")
        return json_response({"Id": image.id}, 201)

    router.add("HEAD", "/containers/{id}/archive", head)
    router.add("GET", "/containers/{id}/archive", get)
    router.add("PUT", "/containers/{id}/archive", put)
    router.add("GET", "/containers/{id}/export", export)
    router.add("GET", "/containers/{id}/changes", changes)
    router.add("POST", "/commit", commit)
