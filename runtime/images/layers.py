"""Unpacked layers, each once in its own directory ``<root>/layers/<chain-id hex>/diff`` and shared by every
image that has it. ``layer.json`` beside ``diff`` records the diff id, parent chain id and sizes.

A layer is unpacked in ``<root>/layers/.tmp-*`` and renamed into place only when complete, written back to disk
(one ``syncfs``) and its diff id matched what the image config announced, so a crash or a corrupt download never
leaves a half layer behind.

``<root>/layers`` carries the "top of directory hierarchy" flag where the file system has it (``runtime.fsflags``):
layers are independent trees, which is what the flag means.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from runtime.errors import NotFound
from runtime.fsflags import mark_top_directory
from runtime.linux import syncfs
from runtime.images._atomic import read_json, write_json_atomic
from runtime.images.blobs import DigestMismatch
from runtime.images.digest import Reader, chain_ids, digest_hex, sha256_digest
from runtime.images.unpack import unpack_layer

__all__ = ["Layer", "LayerStore", "pid_alive", "mark_top_directory"]

_META = "layer.json"


@dataclass(frozen=True)
class Layer:
    chain_id: str
    diff_id: str
    parent: str | None  # chain id of the layer below, None for a base layer
    size: int  # bytes of regular file content
    tar_size: int  # bytes of the uncompressed layer tar
    path: Path  # the layer's directory; its content is ``path / "diff"``

    @property
    def diff_dir(self) -> Path:
        return self.path / "diff"


class LayerStore:
    def __init__(self, root: Path) -> None:
        self.dir = root / "layers"
        self.dir.mkdir(parents=True, exist_ok=True)
        mark_top_directory(self.dir)

    def _path(self, chain_id: str) -> Path:
        return self.dir / digest_hex(chain_id)

    def get(self, chain_id: str) -> Layer:
        path = self._path(chain_id)
        meta = read_json(path / _META)
        if meta is None:
            raise NotFound(f"layer {chain_id} not found")
        return Layer(meta["chain_id"], meta["diff_id"], meta.get("parent"), meta["size"], meta["tar_size"], path)

    def has(self, chain_id: str) -> bool:
        return (self._path(chain_id) / _META).is_file()

    def chain(self, diff_ids: list[str]) -> list[Layer]:
        """The layers of an image, lowest first; ``NotFound`` if one is missing."""
        return [self.get(c) for c in chain_ids(diff_ids)]

    def create(self, parent: str | None, stream: Reader, *, expected_diff_id: str | None = None,
               label: str = "layer", verify: Callable[[], None] | None = None,
               pin: Callable[[str], None] | None = None) -> Layer:
        """Unpack ``stream`` (plain/gzip/zstd tar) as the layer above chain id ``parent``.

        If the resulting layer already exists the new copy is discarded and the existing one returned.
        Raises ``DigestMismatch`` when the content's diff id is not ``expected_diff_id``. ``verify`` runs after the
        stream is consumed and before the layer is published (e.g. to check the compressed blob's digest);
        ``pin(chain_id)`` just before it becomes visible (see ``Lease``).
        """
        tmp = Path(tempfile.mkdtemp(dir=self.dir, prefix=f".tmp-{os.getpid()}-"))
        try:
            (tmp / "diff").mkdir()
            result = unpack_layer(stream, tmp / "diff", label=label)
            if verify is not None:
                verify()
            if expected_diff_id is not None and result.diff_id != expected_diff_id:
                raise DigestMismatch(
                    f"{label}: uncompressed content has diff id {result.diff_id}, but the image config says "
                    f"{expected_diff_id}; the layer is corrupt and was discarded")
            chain_id = result.diff_id if parent is None else sha256_digest(f"{parent} {result.diff_id}".encode())
            meta = {"chain_id": chain_id, "diff_id": result.diff_id, "parent": parent,
                    "size": result.size, "tar_size": result.tar_size}
            _sync_filesystem(tmp)  # the content is on disk before the layer can be found: a crash never
            write_json_atomic(tmp / _META, meta)  # leaves a published layer with empty files
            if pin is not None:
                pin(chain_id)
            final = self._path(chain_id)
            try:
                os.rename(tmp, final)
            except OSError:
                if not self.has(chain_id):
                    raise
                _remove_tree(tmp)  # someone else unpacked the same layer meanwhile
            return self.get(chain_id)
        except BaseException:
            _remove_tree(tmp)
            raise

    def remove(self, chain_id: str) -> None:
        path = self._path(chain_id)
        if not path.exists():
            return
        doomed = Path(tempfile.mkdtemp(dir=self.dir, prefix=f".del-{os.getpid()}-")) / path.name
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            pass  # removed meanwhile
        _remove_tree(doomed.parent)

    def chain_ids(self) -> Iterator[str]:
        for entry in os.scandir(self.dir):
            if not entry.name.startswith(".") and os.path.isfile(os.path.join(entry.path, _META)):
                yield "sha256:" + entry.name

    def cleanup_temporaries(self) -> None:
        """Remove leftovers of an unpack or removal whose process died (names carry the pid)."""
        for entry in os.scandir(self.dir):
            if entry.name.startswith((".tmp-", ".del-")) and not pid_alive(entry.name):
                _remove_tree(Path(entry.path))


def pid_alive(name: str) -> bool:
    """For a temporary named ``<prefix>-<pid>-<random>``: is that process still running?"""
    try:
        pid = int(name.split("-")[1])
    except (IndexError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sync_filesystem(path: Path) -> None:
    """One ``syncfs`` for a whole unpacked layer instead of an fsync per file (thousands of journal commits)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        syncfs(fd)
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    def _onerror(func, p, exc_info):  # a read-only dir left by a layer (mode 0555): make it writable, retry
        try:
            os.chmod(os.path.dirname(p), 0o700)
            func(p)
        except FileNotFoundError:
            pass

    shutil.rmtree(path, onerror=_onerror)
