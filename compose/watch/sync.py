"""Changed files into running containers: the files that exist are packed as one tar (container paths as
names) and PUT at ``/`` of every container of the service (the archive API, as ``docker cp``); the ones gone are
removed by an exec of ``rm -rf``."""
from __future__ import annotations

import io
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from compose.errors import UserError
from compose.watch.rules import WatchRule

if TYPE_CHECKING:
    import docker

__all__ = ["SyncSet", "collect", "pack", "apply_sync", "exec_in", "container_owner"]


@dataclass
class SyncSet:
    """What one batch asks of one rule: host file -> container path to copy, container paths to delete."""
    copy: dict[Path, str] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.copy or self.delete)

    def __len__(self) -> int:
        return len(self.copy) + len(self.delete)


def collect(rule: WatchRule, paths: Iterable[Path]) -> SyncSet:
    """The rule's share of a batch: existing files (a directory brings the files under it that the rule takes)
    to copy, vanished paths to delete."""
    out = SyncSet()
    for path in paths:
        if not rule.takes(path):
            continue
        target = rule.target_of(path)
        if target is None:
            continue
        if path.is_dir() and not path.is_symlink():
            for dirpath, _dirs, files in os.walk(path):
                here = Path(dirpath)
                here_target = rule.target_of(here)
                if here_target is not None and (here == path or rule.takes(here)):
                    out.copy[here] = here_target  # the directory too: its mode and owner, not the extractor's
                for name in files:
                    child = Path(dirpath, name)
                    child_target = rule.target_of(child)
                    if child_target is not None and rule.takes(child):
                        out.copy[child] = child_target
        elif path.exists() or path.is_symlink():
            out.copy[path] = target
        else:
            out.delete.append(target)
    return out


def pack(copy: dict[Path, str], owner: tuple[int, int] = (0, 0)) -> bytes:
    """A tar of the files, each named by its container path (no leading '/') and owned by ``owner`` (the
    container's user, so the process can rewrite what was synced); files gone meanwhile are skipped."""
    uid, gid = owner

    def _own(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
        return info

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for host, target in copy.items():
            try:
                tar.add(str(host), arcname=target.lstrip("/"), recursive=False, filter=_own)
            except FileNotFoundError:
                continue
    return buf.getvalue()


def container_owner(client: "docker.APIClient", container: str) -> tuple[int, int]:
    """The uid/gid of the container's configured user: numeric ``uid[:gid]`` as is, a name through ``id`` run
    as that user in the container; root when none is set or it cannot be resolved."""
    from compose.engine.errors import translated

    with translated(f"inspect {container}"):
        user = (client.inspect_container(container).get("Config") or {}).get("User") or ""
    if not user:
        return 0, 0
    name, _sep, group = user.partition(":")
    if name.isdigit() and (not group or group.isdigit()):
        return int(name), int(group) if group else 0
    try:
        code_u, out_u = exec_in(client, container, ["id", "-u"], user=user)
        code_g, out_g = exec_in(client, container, ["id", "-g"], user=user)
    except UserError:
        return 0, 0
    if code_u or code_g or not out_u.strip().isdigit() or not out_g.strip().isdigit():
        return 0, 0
    return int(out_u.strip()), int(out_g.strip())


def exec_in(client: "docker.APIClient", container: str, cmd: list[str], *, user: str | None = None,
            workdir: str | None = None, environment: dict[str, str] | None = None,
            privileged: bool = False) -> tuple[int, bytes]:
    """Run ``cmd`` in the container, wait for it; (exit code, combined output)."""
    from compose.engine.errors import translated

    with translated(f"exec in {container}"):
        ex = client.exec_create(container, cmd, user=user or "", workdir=workdir, environment=environment or None,
                                privileged=privileged, stdout=True, stderr=True)
        output = client.exec_start(ex["Id"])
        code = client.exec_inspect(ex["Id"]).get("ExitCode")
    return (int(code) if code is not None else 0), output or b""


def apply_sync(client: "docker.APIClient", containers: list[str], work: SyncSet,
               owners: dict[str, tuple[int, int]] | None = None) -> None:
    """Copy and delete ``work`` in every container (files owned by its user; ``owners`` caches those per
    container id); an error names the container and what failed."""
    from compose.engine.errors import translated

    owners = {} if owners is None else owners
    for container in containers:
        if container not in owners:
            owners[container] = container_owner(client, container)
        data = pack(work.copy, owners[container]) if work.copy else b""
        if work.delete:
            code, out = exec_in(client, container, ["rm", "-rf", "--", *work.delete])
            if code != 0:
                raise UserError.single(f"watch: removing {', '.join(work.delete)} in {container} failed "
                                       f"(exit {code}): {out.decode(errors='replace').strip()}")
        if data:
            with translated(f"copy into {container}"):
                client.put_archive(container, "/", data)
