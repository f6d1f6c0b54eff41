"""The build context: a directory (given, or a tar stream unpacked into a private one), its ``.dockerignore``, the
sources a ``COPY``/``ADD`` names (globs, ignored files invisible) and their checksums for the layer cache."""
from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path

from runtime.build.dockerignore import IgnoreRules, read_dockerignore
from runtime.errors import InvalidArgument, NotFound
from runtime.images.digest import Reader
from runtime.rootfs import secure_join

__all__ = ["BuildContext", "DEFAULT_DOCKERFILE"]

DEFAULT_DOCKERFILE = "Dockerfile"
_CHUNK = 1 << 20


class BuildContext:
    """Files the build can see. ``close()`` removes a directory this object unpacked."""

    def __init__(self, root: Path, dockerfile: str = DEFAULT_DOCKERFILE, *, owned: bool = False) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise InvalidArgument(f"build context {root} is not a directory")
        self.dockerfile = dockerfile or DEFAULT_DOCKERFILE
        self.rules: IgnoreRules = read_dockerignore(self.root, self.dockerfile)
        self._owned = owned
        self._sums: dict[str, str] = {}

    @classmethod
    def from_tar(cls, stream: Reader, workdir: Path, dockerfile: str = DEFAULT_DOCKERFILE) -> "BuildContext":
        """Unpack a (plain or compressed) context tarball into a new directory under ``workdir``."""
        workdir.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="context-", dir=workdir))
        head = _peek(stream)
        if head is not None and not _is_archive(head):  # ``docker build - < Dockerfile``: the body is the file
            try:
                (root / DEFAULT_DOCKERFILE).write_bytes(stream.read())
            except OSError as err:
                shutil.rmtree(root, ignore_errors=True)
                raise InvalidArgument(f"cannot read the build body: {err}") from err
            return cls(root, DEFAULT_DOCKERFILE, owned=True)
        try:
            with tarfile.open(fileobj=stream, mode="r|*") as tar:  # type: ignore[call-overload]
                for member in tar:
                    tar.extract(member, root, filter=_context_filter)
        except (tarfile.TarError, OSError, EOFError) as err:
            shutil.rmtree(root, ignore_errors=True)
            raise InvalidArgument(f"the build context is not a valid tar archive: {err}") from err
        return cls(root, dockerfile, owned=True)

    def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "BuildContext":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the Dockerfile ------------------------------------------------------------------------------------
    def read_dockerfile(self) -> str:
        path = self.path(os.path.normpath("/" + self.dockerfile).lstrip("/"))  # never outside the context
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFound(f"Cannot locate specified Dockerfile: {self.dockerfile}") from None
        except (OSError, UnicodeDecodeError) as err:
            raise InvalidArgument(f"cannot read the Dockerfile {self.dockerfile}: {err}") from err

    # ---- sources -------------------------------------------------------------------------------------------
    def visible(self, rel: str) -> bool:
        return not rel or not self.rules.ignored(rel)

    def path(self, rel: str) -> Path:
        """Where ``rel`` is, symlinks in its parents followed inside the context (nothing escapes it); the last
        component is not followed (COPY copies a symlink as a symlink)."""
        if not rel:
            return self.root
        parent, name = os.path.split(rel)
        base = Path(secure_join(str(self.root), parent)) if parent else self.root
        return base / name

    def match(self, source: str) -> list[str]:
        """Context-relative paths a COPY/ADD source names (wildcards expanded); ``NotFound`` when none."""
        rel = os.path.normpath("/" + source).lstrip("/")
        if rel == ".":
            rel = ""
        if not any(c in rel for c in "*?["):
            full = self.path(rel)
            if (os.path.lexists(full) and self.visible(rel)) or (rel == ""):
                return [rel]
            raise NotFound(f"COPY failed: file not found in build context or excluded by .dockerignore: "
                           f"stat {source}: file does not exist")
        found = sorted(p for p in self._glob(rel.split("/"), "") if self.visible(p))
        if not found:
            raise NotFound(f"COPY failed: no source files were specified (no match for {source!r})")
        return found

    def _glob(self, parts: list[str], base: str) -> list[str]:
        head, rest = parts[0], parts[1:]
        directory = Path(secure_join(str(self.root), base)) if base else self.root  # symlinks stay inside
        if not any(c in head for c in "*?["):
            names = [head] if os.path.lexists(directory / head) else []
        else:
            try:
                names = [n for n in sorted(os.listdir(directory)) if fnmatch.fnmatchcase(n, head)]
            except (NotADirectoryError, FileNotFoundError):
                names = []
        out: list[str] = []
        for name in names:
            rel = f"{base}/{name}" if base else name
            out += self._glob(rest, rel) if rest else [rel]
        return out

    def walk(self, rel: str) -> list[str]:
        """``rel`` and everything visible below it (context-relative, parents first, sorted)."""
        out = [rel]
        full = self.path(rel)
        if full.is_symlink() or not full.is_dir():
            return out
        for entry in sorted(os.scandir(full), key=lambda e: e.name):
            child = f"{rel}/{entry.name}" if rel else entry.name
            if self.rules.ignored(child):
                if entry.is_dir(follow_symlinks=False) and self.rules.has_exceptions \
                        and self.rules.may_include_below(child):
                    out += [p for p in self.walk(child)[1:] if self.visible(p)]
                continue
            out += self.walk(child) if entry.is_dir(follow_symlinks=False) else [child]
        return out

    def checksum(self, rel: str) -> str:
        """sha256 over the names, types, modes and contents of ``rel`` and what is visible below it."""
        if rel in self._sums:
            return self._sums[rel]
        h = hashlib.sha256()
        for item in self.walk(rel):
            full = self.path(item)
            st = os.lstat(full)
            h.update(f"{item}\0{stat.S_IFMT(st.st_mode)}\0{stat.S_IMODE(st.st_mode)}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(full).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        h.update(chunk)
            h.update(b"\0")
        value = "sha256:" + h.hexdigest()
        self._sums[rel] = value
        return value


def _peek(stream: Reader) -> bytes | None:
    """The first bytes of a seekable stream (rewound), else None."""
    seek = getattr(stream, "seek", None)
    tell = getattr(stream, "tell", None)
    if seek is None or tell is None:
        return None
    try:
        start = tell()
        head = stream.read(512)
        seek(start)
    except (OSError, ValueError):
        return None
    return head


def _is_archive(head: bytes) -> bool:
    """tar (``ustar`` at 257, or an old-style header) or a compressed stream (gzip, bzip2, xz, zstd)."""
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" or head[:4] == b"\x28\xb5\x2f\xfd":
        return True
    if len(head) >= 262 and head[257:262] == b"ustar":
        return True
    if not head:
        return True  # an empty body: let tar report it
    try:
        tarfile.TarInfo.frombuf(head.ljust(512, b"\0"), "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False


def _context_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """Python's ``tar`` filter (no absolute paths, nothing outside ``dest``, no device files) keeping owners as
    root: context files belong to root inside the image unless ``--chown`` says otherwise."""
    if member.isdev():
        return None
    out = tarfile.tar_filter(member, dest)
    return out.replace(uid=0, gid=0, uname="", gname="", deep=False) if out is not None else None
