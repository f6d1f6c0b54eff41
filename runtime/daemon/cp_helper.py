"""A short-lived helper that works on a container's filesystem from inside it: ``python -m
runtime.daemon.cp_helper OP ROOT PATH`` chroots into ROOT first, so symlinks in the container resolve inside it
and never reach the host. OP: ``stat`` (JSON on stdout), ``get`` (tar of PATH on stdout), ``put`` (extract the
tar on stdin into the directory PATH), ``export`` (tar of the whole filesystem, mounts left out).
Standard library only; everything is imported before the chroot."""
from __future__ import annotations

import json
import os
import stat
import sys
import tarfile
import time

__all__ = ["main", "go_mode"]

_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE, _GO_SOCKET, _GO_CHARDEV = 1 << 31, 1 << 27, 1 << 26, 1 << 25, 1 << 24, 1 << 21
_GO_SETUID, _GO_SETGID, _GO_STICKY = 1 << 23, 1 << 22, 1 << 20


def go_mode(st_mode: int) -> int:
    """A Go ``os.FileMode`` (what Docker's path-stat header carries) from a POSIX st_mode."""
    mode = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    mode |= {stat.S_IFDIR: _GO_DIR, stat.S_IFLNK: _GO_SYMLINK, stat.S_IFIFO: _GO_PIPE, stat.S_IFSOCK: _GO_SOCKET,
             stat.S_IFBLK: _GO_DEVICE, stat.S_IFCHR: _GO_DEVICE | _GO_CHARDEV}.get(kind, 0)
    if st_mode & stat.S_ISUID:
        mode |= _GO_SETUID
    if st_mode & stat.S_ISGID:
        mode |= _GO_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= _GO_STICKY
    return mode


def _stat(path: str) -> dict[str, object]:
    st = os.lstat(path)
    link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
    mtime = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime)) + "Z"
    return {"name": os.path.basename(path.rstrip("/")) or "/", "size": st.st_size, "mode": go_mode(st.st_mode),
            "mtime": mtime, "linkTarget": link}




def _add_tree(tar: tarfile.TarFile, path: str, arcname: str, root_dev: int | None) -> None:
    """Like ``tar.add`` but leaves out what other filesystems hold (proc, sys, dev, volumes) for export."""
    st = os.lstat(path)
    tar.add(path, arcname=arcname, recursive=False)
    if not stat.S_ISDIR(st.st_mode) or (root_dev is not None and st.st_dev != root_dev):
        return
    for name in sorted(os.listdir(path)):
        _add_tree(tar, os.path.join(path, name), f"{arcname}/{name}" if arcname != "." else name, root_dev)


def main(argv: list[str]) -> int:
    op, root, path = argv[0], argv[1], argv[2] if len(argv) > 2 else "/"
    os.chroot(root)
    os.chdir("/")
    try:
        if op == "stat":
            sys.stdout.write(json.dumps(_stat(path)))
            return 0
        if op == "get":
            _stat(path)
            base = os.path.basename(path.rstrip("/")) or "."
            with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                if path.endswith("/.") and os.path.isdir(path):
                    for name in sorted(os.listdir(path)):
                        tar.add(os.path.join(path, name), arcname=name)
                else:
                    tar.add(path, arcname=base)
            return 0
        if op == "export":
            root_dev = os.lstat("/").st_dev
            with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for name in sorted(os.listdir("/")):
                    _add_tree(tar, "/" + name, name, root_dev)
            return 0
        if op == "put":
            if not os.path.isdir(path):
                sys.stderr.write(f"extraction point is not a directory: {path}")
                return 3
            with tarfile.open(fileobj=sys.stdin.buffer, mode="r|*") as tar:
                tar.extractall(path, numeric_owner=True, filter="tar")
            return 0
    except FileNotFoundError as err:
        sys.stderr.write(f"Could not find the file {err.filename or path} in container")
        return 2
    except (tarfile.TarError, OSError) as err:
        sys.stderr.write(f"{type(err).__name__}: {err}")
        return 1
    sys.stderr.write(f"unknown operation {op!r}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
