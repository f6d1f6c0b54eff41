"""COPY and ADD: place sources (context files, another stage's or image's files, heredocs, downloaded URLs) into a
new layer directory, the way Docker's builder does: destination rules (trailing ``/``, several sources, an existing
directory), ``--chown``/``--chmod``, symlinks in the destination path followed inside the image, local tar archives
unpacked by ``ADD``. The layer directory starts empty; parents are created with the metadata the image has for them."""
from __future__ import annotations

import email.utils
import hashlib
import os
import shutil
import stat
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from runtime.build.view import lookup
from runtime.errors import InvalidArgument, NotFound
from runtime.users import resolve_user

__all__ = ["Source", "copy_into", "fetch_url", "resolve_chown", "parse_chmod"]

_URL_TIMEOUT = 60.0
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """One source: ``host`` is where it is now, ``name`` its base name at the destination. ``include(rel)`` says
    whether an entry below a source directory is copied (the context's ``.dockerignore``); ``keep_owner`` keeps
    the owners it has (files from another stage) instead of root."""

    host: Path
    name: str
    include: Callable[[str], bool] | None = None
    keep_owner: bool = False
    archive: bool = False  # ADD of a local file: unpack it when it is a tar archive
    mode: int | None = None  # a mode to give a downloaded file (0600, as Docker)
    mtime: float | None = None


def parse_chmod(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text, 8)
    except ValueError:
        raise InvalidArgument(f"invalid chmod value {text!r}: want an octal mode such as 755") from None
    if not 0 <= value <= 0o7777:
        raise InvalidArgument(f"invalid chmod value {text!r}")
    return value


def resolve_chown(spec: str | None, view: Path) -> tuple[int, int] | None:
    """``--chown=user[:group]`` against the image's own /etc/passwd and /etc/group. A user without a group gets the
    group with the user's numeric id, as Docker does."""
    if not spec:
        return None
    user, sep, group = spec.partition(":")
    try:
        resolved = resolve_user(spec, str(lookup(view, "/etc/passwd")), str(lookup(view, "/etc/group")))
    except LookupError as err:
        raise InvalidArgument(f"--chown={spec}: {err}") from err
    gid = resolved.gid if sep and group else resolved.uid
    return resolved.uid, gid


def fetch_url(url: str, into: Path, checksum: str | None = None) -> tuple[Source, str]:
    """Download ``url`` into the directory ``into``; (its source, sha256 of the content). ``ADD --checksum``
    (``sha256:<hex>``) is verified."""
    parsed = urllib.parse.urlparse(url)
    name = os.path.basename(parsed.path.rstrip("/")) or parsed.hostname or "download"
    into.mkdir(parents=True, exist_ok=True)
    target = into / name
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=_URL_TIMEOUT) as resp, open(target, "wb") as out:  # noqa: S310
            while chunk := resp.read(_CHUNK):
                h.update(chunk)
                out.write(chunk)
            modified = resp.headers.get("Last-Modified")
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise InvalidArgument(f"ADD failed: cannot download {url}: {getattr(err, 'reason', err)}") from err
    digest = "sha256:" + h.hexdigest()
    if checksum and checksum != digest:
        raise InvalidArgument(f"ADD failed: checksum of {url} is {digest}, expected {checksum}")
    mtime = None
    if modified:
        try:
            mtime = email.utils.parsedate_to_datetime(modified).timestamp()
        except (TypeError, ValueError):
            mtime = None
    return Source(target, name, mode=0o600, mtime=mtime), digest


def copy_into(sources: Sequence[Source], dest: str, *, view: Path, layer: Path, workdir: str = "/",
              chown: tuple[int, int] | None = None, chmod: int | None = None, force_dir: bool = False) -> None:
    """Copy ``sources`` to ``dest`` (relative to ``workdir``) in the image seen through ``view``; write the
    result into ``layer``."""
    dest_abs = dest if dest.startswith("/") else os.path.join(workdir or "/", dest)
    into_dir = dest.endswith("/") or dest.endswith("/.") or dest in (".", "") or len(sources) > 1 or force_dir
    resolved = lookup(view, dest_abs)
    if not into_dir and resolved.is_dir():
        into_dir = True
    if not into_dir and len(sources) == 1 and sources[0].host.is_dir() and not sources[0].host.is_symlink():
        into_dir = True  # a directory's content goes into dest, which becomes a directory
    if not into_dir and len(sources) == 1 and sources[0].archive and _is_archive(sources[0].host):
        into_dir = True  # ADD unpacks an archive into dest, a directory
    rel = os.path.relpath(resolved, view)
    rel = "" if rel == "." else rel
    owner = chown
    if into_dir:
        target = _make_dirs(layer, view, rel, owner)
        for src in sources:
            if src.archive and _is_archive(src.host):
                _extract(src.host, target, chown)
            elif src.host.is_dir() and not src.host.is_symlink():
                _copy_children(src, src.host, "", target, chown, chmod)
            else:
                _copy_entry(src, src.host, "", target / src.name, chown, chmod)
        return
    src = sources[0]
    parent = _make_dirs(layer, view, os.path.dirname(rel), None)
    _copy_entry(src, src.host, "", parent / os.path.basename(rel), chown, chmod)


def _make_dirs(layer: Path, view: Path, rel: str, owner: tuple[int, int] | None) -> Path:
    """Create ``rel`` in the layer with each component's metadata from the image (new ones: 0755, root or
    ``owner`` for the last)."""
    current = layer
    parts = [p for p in rel.split("/") if p]
    for i, part in enumerate(parts):
        current = current / part
        below = view.joinpath(*parts[: i + 1])
        if current.is_dir() and not current.is_symlink():
            continue
        if os.path.lexists(current):
            current.unlink()
        current.mkdir()
        try:
            st = os.lstat(below)
            existing = stat.S_ISDIR(st.st_mode)
        except OSError:
            existing = False
        if existing:
            os.chown(current, st.st_uid, st.st_gid)
            os.chmod(current, stat.S_IMODE(st.st_mode))
            os.utime(current, ns=(st.st_atime_ns, st.st_mtime_ns))
        else:
            os.chmod(current, 0o755)
            if owner is not None and i == len(parts) - 1:
                os.chown(current, *owner)
    return current


def _copy_children(src: Source, root: Path, rel: str, target: Path, chown: tuple[int, int] | None,
                   chmod: int | None) -> None:
    base = root / rel if rel else root
    for entry in sorted(os.scandir(base), key=lambda e: e.name):
        child = f"{rel}/{entry.name}" if rel else entry.name
        _copy_entry(src, Path(entry.path), child, target / entry.name, chown, chmod)


def _copy_entry(src: Source, path: Path, rel: str, dst: Path, chown: tuple[int, int] | None,
                chmod: int | None) -> None:
    if rel and src.include is not None and not src.include(rel):
        if path.is_dir() and not path.is_symlink():  # an ignored dir may hold re-included (!) entries
            if any(True for _ in _visible_below(src, path, rel)):
                _ensure_dir(dst)
                _copy_children(src, src.host, rel, dst, chown, chmod)
        return
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        _ensure_dir(dst)
        _copy_children(src, src.host, rel, dst, chown, chmod)
    else:
        if os.path.lexists(dst):
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst)
            else:
                dst.unlink()
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(path), dst)
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(path, dst, follow_symlinks=False)
        else:
            raise InvalidArgument(f"cannot copy {path.name}: not a regular file, directory or symlink")
    uid, gid = chown if chown is not None else ((st.st_uid, st.st_gid) if src.keep_owner else (0, 0))
    os.lchown(dst, uid, gid)
    if not stat.S_ISLNK(st.st_mode):
        mode = chmod if chmod is not None else (src.mode if src.mode is not None and not rel
                                                 else stat.S_IMODE(st.st_mode))
        os.chmod(dst, mode)
    mtime_ns = int(src.mtime * 1e9) if src.mtime is not None and not rel else st.st_mtime_ns
    os.utime(dst, ns=(mtime_ns, mtime_ns), follow_symlinks=False)


def _visible_below(src: Source, path: Path, rel: str):
    for base, _dirs, files in os.walk(path):
        for name in files:
            sub = os.path.relpath(os.path.join(base, name), src.host)
            if src.include is None or src.include(sub):
                yield sub


def _ensure_dir(dst: Path) -> None:
    if dst.is_dir() and not dst.is_symlink():
        return
    if os.path.lexists(dst):
        dst.unlink()
    dst.mkdir()


def _is_archive(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _extract(archive: Path, target: Path, chown: tuple[int, int] | None) -> None:
    def keep(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        out = tarfile.tar_filter(member, dest)
        if out is not None and chown is not None:
            out = out.replace(uid=chown[0], gid=chown[1], uname="", gname="", deep=False)
        return out

    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(target, filter=keep)
    except (tarfile.TarError, EOFError) as err:
        raise InvalidArgument(f"ADD failed: cannot unpack {archive.name}: {err}") from err
    except FileNotFoundError as err:
        raise NotFound(f"ADD failed: {err}") from err
