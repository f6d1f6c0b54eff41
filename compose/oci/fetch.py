"""Fetch a Compose artifact (``-f oci://...``, ``include: - oci://...``) into the local cache and return its
Compose files as local paths, to be loaded like any other file.

The cache is ``$PYCOMPOSE_CACHE_DIR/oci``, else ``$XDG_CACHE_HOME/pycompose/oci``, else
``~/.cache/pycompose/oci``: one directory per manifest digest, holding the artifact's files under their
annotated names. The manifest is checked against a pinned digest (``@sha256:...``) and against the
registry's ``Docker-Content-Digest``; every layer against its descriptor's digest and size. A directory
is only ever complete (written aside, then renamed in), so a reference pinned by digest and already cached
is loaded without asking the registry.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from compose.errors import UserError
from compose.oci.artifact import (
    COMPOSE_FILE_MEDIA_TYPE, ENVFILE_MEDIA_TYPE, EXTENDS_ANNOTATION, Layer, digest_of, read_manifest,
)
from compose.oci.reference import Reference, parse_reference

if TYPE_CHECKING:
    from compose.oci.client import RegistryClient

__all__ = ["cache_dir", "fetch_artifact"]

_COMPOSE_LIST = ".compose-files"  # the Compose files' names, in layer order, one a line
_MAX_FILE = 64 << 20  # no Compose or env file is this large: a descriptor saying so is not downloaded


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("PYCOMPOSE_CACHE_DIR"):
        return Path(env["PYCOMPOSE_CACHE_DIR"]).expanduser() / "oci"
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pycompose" / "oci"


def fetch_artifact(text: str, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The Compose files of the artifact ``text`` names (``oci://host/repo:tag``), fetched and verified."""
    env = os.environ if environ is None else environ
    ref = parse_reference(text)
    root = cache_dir(env)
    if ref.digest:
        cached = _cached(root / ref.digest.split(":", 1)[1])
        if cached is not None:
            return cached
    from compose.oci.client import RegistryClient  # requests (~0.1 s to import): only when the registry is asked

    with RegistryClient(ref, environ=env) as client:
        body, _media_type, served = client.get_manifest(ref.target)
        actual = digest_of(body)
        if ref.digest and actual != ref.digest:
            raise _mismatch(ref, "manifest", ref.digest, actual)
        if served and served.startswith("sha256:") and served != actual:
            raise _mismatch(ref, "manifest", served, actual)
        try:
            layers = read_manifest(body)
        except ValueError as err:
            raise UserError.single(f"oci://{ref}: cannot be loaded: {err}") from None
        final = root / actual.split(":", 1)[1]
        cached = _cached(final)
        if cached is not None:
            return cached
        return _download(client, ref, layers, final)


def _cached(directory: Path) -> list[Path] | None:
    try:
        names = (directory / _COMPOSE_LIST).read_text().splitlines()
    except OSError:
        return None
    return [directory / n for n in names if n]


def _mismatch(ref: Reference, what: str, expected: str, actual: str) -> UserError:
    return UserError.single(f"oci://{ref}: {what} digest mismatch: expected {expected}, got {actual}; "
                            "refusing to use it")


def _safe_name(name: str | None, ref: Reference) -> PurePosixPath:
    path = PurePosixPath(name or "")
    if not name or path.is_absolute() or ".." in path.parts or str(path) == _COMPOSE_LIST or "\\" in name:
        raise UserError.single(f"oci://{ref}: the artifact names a file {name!r} outside its own directory; "
                               "refusing to write it")
    return path


def _download(client: RegistryClient, ref: Reference, layers: list[Layer], final: Path) -> list[Path]:
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=final.parent))
    try:
        compose_names: list[str] = []
        for index, layer in enumerate(layers):
            if layer.media_type == COMPOSE_FILE_MEDIA_TYPE and layer.annotations.get(EXTENDS_ANNOTATION) == "true":
                name = _safe_name(layer.name, ref)  # a file services extend (Docker names it by its hash): not merged
            elif layer.media_type == COMPOSE_FILE_MEDIA_TYPE:
                name = _safe_name(layer.name or f"compose-{index}.yaml", ref)
                name = PurePosixPath(name.name)  # Compose files sit side by side, as their base names
                if str(name) in compose_names:
                    name = PurePosixPath(f"{index}-{name}")
                compose_names.append(str(name))
            elif layer.media_type == ENVFILE_MEDIA_TYPE:
                name = _safe_name(layer.name, ref)
            else:
                continue  # a layer of a kind we do not use (images of --app): not downloaded
            if layer.size > _MAX_FILE:
                raise UserError.single(f"oci://{ref}: layer {name} declares {layer.size} bytes; a Compose or env "
                                       f"file larger than {_MAX_FILE} bytes is refused")
            data = client.get_blob(layer.digest, limit=layer.size)
            actual = digest_of(data)
            if actual != layer.digest or len(data) != layer.size:
                raise _mismatch(ref, f"layer {name}", f"{layer.digest} ({layer.size} bytes)",
                                f"{actual} ({len(data)} bytes)")
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (work / _COMPOSE_LIST).write_text("".join(f"{n}\n" for n in compose_names))
        try:
            os.rename(work, final)
        except OSError:  # another fetch of the same artifact won the race: its copy is as good
            if _cached(final) is None:
                raise
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return [final / n for n in compose_names]
