"""``pycompose cp``: copy files and directories between a service container and the local filesystem, as
``docker compose cp``: ``SERVICE:SRC DEST|-`` (from the first container, or ``--index``) and ``SRC|- SERVICE:DEST``
(into every container of the service, or ``--index``); ``--all`` also reaches ``run`` containers."""
from __future__ import annotations

from typing import IO, TYPE_CHECKING, Annotated, Optional

from compose.cli._typer import typer

if TYPE_CHECKING:
    from compose.cli.session import Session
    from compose.engine.archive import ArchiveBody, PathStat
    from compose.engine.containers import ContainerInfo

__all__ = ["register", "cp", "split_target"]


def register(app: typer.Typer) -> None:
    app.command("cp", help="Copy files/folders between a service container and the local filesystem.")(cp)


def split_target(arg: str) -> tuple[str | None, str]:
    """``SERVICE:PATH`` -> (service, path); a local path -> (None, path). As docker cp, a path holding a ``:``
    must start with ``/`` or ``.`` to be read as local."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    service, _, path = arg.partition(":")
    return service, path


def cp(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SRC", help="SERVICE:SRC_PATH, a local path or '-'.")],
    dest: Annotated[str, typer.Argument(metavar="DEST", help="SERVICE:DEST_PATH, a local path or '-'.")],
    all_: Annotated[bool, typer.Option("--all", help="Include containers created by the run command.")] = False,
    archive: Annotated[bool, typer.Option("--archive", "-a", help="Archive mode (copy all uid/gid "
                                          "information).")] = False,
    follow_link: Annotated[bool, typer.Option("--follow-link", "-L", help="Always follow symbol link in "
                                              "SRC_PATH.")] = False,
    index: Annotated[Optional[int], typer.Option("--index", help="Index of the container if service has "
                                                 "multiple replicas.")] = None,
) -> int:
    from compose.cli._light import open_light_session
    from compose.errors import UserError

    src_service, src_path = split_target(source)
    dst_service, dst_path = split_target(dest)
    if src_service and dst_service:
        raise UserError.single("copying between services is not supported")
    if not src_service and not dst_service:
        raise UserError.single("one of the source or destination must be SERVICE:PATH (a service container)")
    service = src_service or dst_service
    assert service is not None
    if not (src_path if src_service else dst_path):
        raise UserError.single(f"{source if src_service else dest}: the container path is empty")
    session = open_light_session(ctx, [service], bare_ok=True)
    from compose.cli._pick import service_containers

    targets = service_containers(session, service, index=index, oneoff=all_)
    from compose.events import Event, Status

    data: IO[bytes] | None = None
    try:
        if src_service:
            c = targets[0]
            _copy_out(session, c, src_path, dst_path, follow_link=follow_link, keep_owner=archive)
            session.display(Event("Container", c.name, Status.DONE, f"Copied {c.name}:{src_path} to {dst_path}"))
        else:
            if src_path == "-":
                import sys
                import tempfile

                data = tempfile.TemporaryFile()
                _copy_stream(sys.stdin.buffer, data)
            for c in targets:
                _copy_in(session, c, src_path, dst_path, follow_link=follow_link, keep_owner=archive, stdin=data)
                session.display(Event("Container", c.name, Status.DONE, f"Copied {src_path} to {c.name}:{dst_path}"))
    finally:
        session.display.close()
        if data is not None:
            data.close()
    return 0


def _copy_stream(src: "IO[bytes]", dst: "IO[bytes]") -> None:
    import shutil

    shutil.copyfileobj(src, dst, 1 << 20)
    dst.seek(0)


def _abs(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def _copy_out(session: "Session", c: "ContainerInfo", src: str, dst: str, *, follow_link: bool,
              keep_owner: bool) -> None:
    import os
    import posixpath

    from compose.cli._tarcopy import extract_tar, is_contents, landing
    from compose.errors import UserError

    src = _abs(src)
    if src.rstrip("/") == "":  # the root: its contents (the archive has no root entry to rename)
        src = "/."
    chunks, info = _get(session, c, src)  # the stat comes with the archive: no HEAD first
    if follow_link and info.is_symlink:  # copy what the link points to, under the link's name
        chunks.close()
        target = posixpath.normpath(posixpath.join(posixpath.dirname(src), info.link_target))
        chunks, followed = _get(session, c, target, broken_link=(src, info.link_target))
        source_name: str | None = posixpath.basename(target.rstrip("/")) or "/"
        rename_from_link = posixpath.basename(src.rstrip("/"))
        src_is_dir = followed.is_dir
    else:
        source_name = None if is_contents(src) else (posixpath.basename(src.rstrip("/")) or "/")
        rename_from_link = None
        src_is_dir = info.is_dir
    try:
        if dst == "-":
            import sys

            out = sys.stdout.buffer
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            return
        dst_is_dir = os.path.isdir(dst) if os.path.lexists(dst) else None
        where = landing(dst, dst_is_dir=dst_is_dir, src_is_dir=src_is_dir, sep=os.sep)
        if where.rename is None and rename_from_link and not is_contents(src):
            where = type(where)(where.directory, rename_from_link)
        if not os.path.isdir(where.directory):
            raise UserError.single(f"the destination directory {where.directory} does not exist")
        extract_tar(chunks, where, source_name=source_name, keep_owner=keep_owner)
    finally:
        chunks.close()


def _get(session: "Session", c: "ContainerInfo", path: str,
         broken_link: tuple[str, str] | None = None) -> tuple["ArchiveBody", "PathStat"]:
    from compose.engine.archive import get_archive
    from compose.engine.errors import NotFound
    from compose.errors import UserError

    try:
        chunks, info = get_archive(session.client, c.id, path)
    except NotFound:
        if broken_link:
            raise UserError.single(f"{broken_link[0]} in container {c.name} is a broken link to "
                                   f"{broken_link[1]}") from None
        raise UserError.single(f"could not find the file {path} in container {c.name}") from None
    if info is None:
        chunks.close()
        raise UserError.single(f"the engine sent no stat of {path} with the archive")
    return chunks, info


def _copy_in(session: "Session", c: "ContainerInfo", src: str, dst: str, *, follow_link: bool, keep_owner: bool,
             stdin: "IO[bytes] | None") -> None:
    import os
    import posixpath

    from compose.cli._tarcopy import is_contents, landing, local_tar
    from compose.engine.archive import put_archive, stat_path
    from compose.errors import UserError

    dst = _abs(dst)
    info = stat_path(session.client, c.id, dst)
    if info is not None and info.is_symlink:  # land where the container's link points
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(dst.rstrip("/")), info.link_target))
        target = stat_path(session.client, c.id, resolved)
        if target is not None:
            dst, info = resolved, target
    if stdin is not None:  # a tar on stdin, unpacked into the directory DEST as it is
        if info is None or not info.is_dir:
            raise UserError.single(f"{c.name}:{dst}: the destination must be an existing directory when copying "
                                   "from stdin")
        stdin.seek(0)
        put_archive(session.client, c.id, dst, stdin, copy_uid_gid=keep_owner)
        return
    path = src[:-2] if src.endswith("/.") else src
    if not os.path.lexists(path):
        raise UserError.single(f"could not find the file {src} on the local host")
    src_is_dir = os.path.isdir(path) if (follow_link or not os.path.islink(path)) else False
    where = landing(dst, dst_is_dir=None if info is None else info.is_dir, src_is_dir=src_is_dir)
    if where.rename is None and is_contents(src):
        where = type(where)(where.directory, None)
    with local_tar(src, rename=where.rename, follow_link=follow_link, keep_owner=keep_owner) as data:
        put_archive(session.client, c.id, where.directory, data, copy_uid_gid=keep_owner)
