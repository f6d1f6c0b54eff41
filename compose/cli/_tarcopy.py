"""The local half of ``cp``, with ``docker cp``'s path rules: where a copy lands (into an existing directory, over
an existing file, or as a new name), the tar we send (root entry renamed, owners root unless ``-a``) and the tar we
unpack (root entry renamed, owned by the invoking user)."""
from __future__ import annotations

import os
import stat
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from compose.errors import UserError

__all__ = ["Landing", "landing", "is_contents", "local_tar", "extract_tar"]


@dataclass(frozen=True)
class Landing:
    """Where a copy goes: the existing directory the tar is unpacked in, and the name its root entry takes
    there (None: keep the source's name; ``rename`` with ``contents``: put the entries under that new name)."""

    directory: str
    rename: str | None = None


def is_contents(path: str) -> bool:
    """``dir/.``: the directory's contents, not the directory."""
    return path.endswith("/.") or path == "."


def landing(dst: str, *, dst_is_dir: bool | None, src_is_dir: bool, sep: str = "/") -> Landing:
    """Docker's rules for ``cp SRC DST`` given what DST is (``dst_is_dir``: True, False for another kind of file,
    None when it does not exist)."""
    if dst_is_dir:
        return Landing(dst)
    trimmed = dst.rstrip(sep) or sep
    parent, name = os.path.split(trimmed)
    if dst_is_dir is False:
        if src_is_dir:
            raise UserError.single(f"cannot copy a directory to the file {dst}")
        if dst.endswith(sep):
            raise UserError.single(f"{dst} is not a directory")
        return Landing(parent or ".", name)
    if dst.endswith(sep) and not src_is_dir:
        raise UserError.single(f"the destination directory {dst} does not exist")
    return Landing(parent or ".", name)


def _rename(name: str, old: str | None, new: str | None) -> str:
    if new is None:
        return name
    if old is None:  # entries of a directory's contents: put under ``new``
        return f"{new}/{name}" if name not in ("", ".") else new
    if name == old:
        return new
    if name.startswith(old + "/"):
        return new + name[len(old):]
    return name


def local_tar(src: str, *, rename: str | None, follow_link: bool, keep_owner: bool) -> IO[bytes]:
    """A tar (in a temporary file, rewound) of the local ``src``: ``dir/.`` gives its entries, else one root
    entry named ``rename`` or the source's own name; ``follow_link`` copies a symlink's target under the link's
    name; without ``keep_owner`` every entry is owned by root (``docker cp`` without ``-a``)."""
    path = src[:-2] if src.endswith("/.") else src
    try:
        st = os.stat(path) if follow_link else os.lstat(path)
    except FileNotFoundError:
        raise UserError.single(f"could not find the file {src} on the local host") from None
    except OSError as err:
        raise UserError.single(f"{src}: {err.strerror}") from None
    real = os.path.realpath(path) if follow_link and os.path.islink(path) else path

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if not keep_owner:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
        return info

    out = tempfile.TemporaryFile()
    try:
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            if is_contents(src):
                if not stat.S_ISDIR(st.st_mode):
                    raise UserError.single(f"{src}: the source is not a directory")
                prefix = f"{rename}/" if rename else ""
                if rename:
                    tar.add(real, arcname=rename, recursive=False, filter=owner)
                for name in sorted(os.listdir(real)):
                    tar.add(os.path.join(real, name), arcname=prefix + name, filter=owner)
            else:
                base = rename or os.path.basename(path.rstrip("/")) or "."
                tar.add(real, arcname=base, filter=owner)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


class _Reader:
    """A file object over an iterator of byte chunks (what tarfile's stream mode reads): each chunk is sliced
    once through a memoryview, never copied whole per read."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it: Iterator[bytes] = iter(chunks)
        self._view = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        parts = []
        want = size
        while want != 0:
            if not self._view:
                chunk = next(self._it, None)
                if chunk is None:
                    break
                self._view = memoryview(chunk)
                continue
            take = len(self._view) if want < 0 else min(want, len(self._view))
            parts.append(self._view[:take])
            self._view = self._view[take:]
            if want > 0:
                want -= take
        return b"".join(parts)


def extract_tar(chunks: Iterable[bytes], landing_: Landing, *, source_name: str | None,
                keep_owner: bool = False) -> None:
    """Unpack a tar stream into ``landing_.directory``, its root entry (``source_name``; None for a directory's
    contents) renamed as ``landing_.rename`` says; files owned by the invoking user unless ``keep_owner``."""
    uid, gid = os.getuid(), os.getgid()

    def rebased(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
        for member in tar:
            member.name = _rename(member.name, source_name, landing_.rename)
            if member.islnk():
                member.linkname = _rename(member.linkname, source_name, landing_.rename)
            yield member

    def owned(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
        member = tarfile.tar_filter(member, dest)
        if keep_owner:
            return member
        return member.replace(uid=uid, gid=gid, uname=None, gname=None, deep=False)  # type: ignore[arg-type]

    try:
        with tarfile.open(fileobj=_Reader(chunks), mode="r|") as tar:  # type: ignore[call-overload]
            tar.extractall(landing_.directory, members=rebased(tar), numeric_owner=True, filter=owned)
    except tarfile.FilterError as err:
        raise UserError.single(f"refusing to unpack an entry of the archive: {err}") from None
    except tarfile.TarError as err:
        raise UserError.single(f"the archive from the container is not a tar file: {err}") from None
    except OSError as err:
        raise UserError.single(f"cannot write {err.filename or landing_.directory}: {err.strerror}") from None
