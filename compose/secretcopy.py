"""Secrets and configs copied into a created container with their owner and mode.

Docker Compose (without swarm) writes ``environment:`` and ``content:`` sources into the container through the
archive API (``PUT /containers/{id}/archive``) as a tar entry owned by the grant's ``uid``/``gid`` (default 0)
with its ``mode`` (default ``0444``). ``file:`` sources it bind-mounts read-only and ignores ``uid``, ``gid`` and
``mode`` with a warning. pycompose does the same for a file grant that sets none of the three, and copies the file
(or directory) in with that owner and mode when one is set, so the long syntax is always honoured.
"""
from __future__ import annotations

import io
import os
import stat
import tarfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compose.errors import UserError
from compose.model import Grant, Project, Service

if TYPE_CHECKING:
    import docker

__all__ = ["GrantFile", "copied_grant", "grant_files", "grant_archive", "copy_grants"]

_KINDS = ("secrets", "configs")
_DEFAULT_MODE = 0o444


@dataclass(frozen=True)
class GrantFile:
    """One grant to write: its path in the container, owner, mode, and content (bytes or a host path)."""

    path: str
    uid: int
    gid: int
    mode: int
    data: bytes | None = None
    host_path: str | None = None


def copied_grant(resource: Any, grant: Grant) -> bool:
    """Whether ``grant`` of ``resource`` is copied in (else a file source is bind-mounted, or it is external)."""
    if resource is None or getattr(resource, "external", False):
        return False
    if resource.file:
        return grant.uid is not None or grant.gid is not None or grant.mode is not None
    return bool(resource.environment) or getattr(resource, "content", None) is not None


def _number(value: str | None, path: tuple[str | int, ...]) -> int:
    if value is None or value == "":
        return 0
    try:
        number = int(str(value))
    except ValueError:
        raise UserError.single(f"{path[-1]} must be a numeric id, not {value!r}", path) from None
    if number < 0:
        raise UserError.single(f"{path[-1]} must not be negative: {value!r}", path)
    return number


def grant_files(project: Project, service: Service, environment: dict[str, str]) -> list[GrantFile]:
    """The secrets and configs of ``service`` that are copied in, with their content resolved."""
    out: list[GrantFile] = []
    for kind in _KINDS:
        defined = getattr(project, kind)
        for i, grant in enumerate(getattr(service, kind) or ()):
            resource = defined.get(grant.source)
            where: tuple[str | int, ...] = ("services", service.name, kind, i)
            if resource is not None and getattr(resource, "external", False):
                raise UserError.single(f"unsupported external {kind[:-1]} {resource.name or grant.source}: external "
                                       f"{kind} exist only in swarm mode (as Docker Compose says)", where)
            if not copied_grant(resource, grant):
                continue
            uid = _number(grant.uid, where + ("uid",))
            gid = _number(grant.gid, where + ("gid",))
            mode = grant.mode if grant.mode is not None else _DEFAULT_MODE
            if resource.file:
                if not os.path.exists(resource.file):
                    raise UserError.single(f"{kind[:-1]} {grant.source}: file {resource.file} does not exist",
                                           (kind, grant.source, "file"))
                out.append(GrantFile(grant.path(kind), uid, gid, mode, host_path=resource.file))
                continue
            if resource.environment:
                value = environment.get(resource.environment)
                if value is None:
                    raise UserError.single(f"{kind[:-1]} {grant.source}: environment variable "
                                           f"{resource.environment} is not set", (kind, grant.source, "environment"))
            else:
                value = resource.content or ""
            out.append(GrantFile(grant.path(kind), uid, gid, mode, data=value.encode()))
    return out


def _entry(name: str, item: GrantFile, kind: bytes, size: int = 0, mode: int | None = None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    info.mode = item.mode if mode is None else mode
    info.uid, info.gid, info.mtime = item.uid, item.gid, int(time.time())
    return info


def _add_tree(tar: tarfile.TarFile, item: GrantFile, name: str, host: str) -> None:
    """A directory source: directories keep the read bits of ``mode`` plus search, files (and links to files)
    get ``mode``; links to directories are left out."""
    dir_mode = item.mode | ((item.mode & 0o444) >> 2)
    tar.addfile(_entry(name, item, tarfile.DIRTYPE, mode=dir_mode))
    for entry in sorted(os.scandir(host), key=lambda e: e.name):
        child = f"{name}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):  # a linked directory is not walked (it could loop)
            _add_tree(tar, item, child, entry.path)
        elif entry.is_file(follow_symlinks=True):
            with open(entry.path, "rb") as fh:
                data = fh.read()
            tar.addfile(_entry(child, item, tarfile.REGTYPE, len(data)), io.BytesIO(data))


def grant_archive(files: list[GrantFile]) -> bytes:
    """A tar to extract at ``/``: one entry per file (parents are made by the engine, existing ones untouched)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in files:
            name = item.path.strip("/")
            if item.host_path is not None and stat.S_ISDIR(os.stat(item.host_path).st_mode):
                _add_tree(tar, item, name, item.host_path)
                continue
            if item.host_path is not None:
                with open(item.host_path, "rb") as fh:
                    data = fh.read()
            else:
                data = item.data or b""
            tar.addfile(_entry(name, item, tarfile.REGTYPE, len(data)), io.BytesIO(data))
    return buf.getvalue()


def copy_grants(client: "docker.APIClient", project: Project, service: Service, cid: str,
                environment: dict[str, str]) -> None:
    """Write the copied secrets and configs of ``service`` into the created container ``cid``."""
    from compose.engine.errors import translated

    files = grant_files(project, service, environment)
    if not files:
        return
    try:
        archive = grant_archive(files)
    except OSError as err:
        raise UserError.single(f"service {service.name}: cannot read a secret or config file: {err}",
                               ("services", service.name)) from err
    with translated(f"copy secrets and configs into {cid[:12]}"):
        client.put_archive(cid, "/", archive)
