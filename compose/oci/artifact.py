"""The layout of a Compose project published as an OCI artifact (as Docker Compose writes and reads it).

An OCI image manifest whose layers are the files, in order: each Compose file a layer of media type
``application/vnd.docker.compose.file+yaml`` annotated ``com.docker.compose.file`` (its name) and
``com.docker.compose.version`` (a file that services only extend is marked ``com.docker.compose.extends:
true`` and is not merged); each env file (``publish --with-env``) a layer of
``application/vnd.docker.compose.envfile`` annotated ``com.docker.compose.envfile`` (its path). OCI 1.1
marks the manifest with ``artifactType: application/vnd.docker.compose.project`` and the empty config
descriptor; OCI 1.0 has no ``artifactType``, so the config's media type
(``application/vnd.docker.compose.config.empty.v1+json``, content ``{}``) says what it is.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ARTIFACT_TYPE", "COMPOSE_FILE_MEDIA_TYPE", "CONFIG_EMPTY_V1_0", "EMPTY_MEDIA_TYPE", "ENVFILE_MEDIA_TYPE",
    "EXTENDS_ANNOTATION", "FILE_ANNOTATION", "ENVFILE_ANNOTATION", "MANIFEST_MEDIA_TYPE", "VERSION_ANNOTATION",
    "Blob", "Layer", "build_manifest", "digest_of", "read_manifest",
]

ARTIFACT_TYPE = "application/vnd.docker.compose.project"
COMPOSE_FILE_MEDIA_TYPE = "application/vnd.docker.compose.file+yaml"
ENVFILE_MEDIA_TYPE = "application/vnd.docker.compose.envfile"
CONFIG_EMPTY_V1_0 = "application/vnd.docker.compose.config.empty.v1+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
FILE_ANNOTATION = "com.docker.compose.file"
ENVFILE_ANNOTATION = "com.docker.compose.envfile"
VERSION_ANNOTATION = "com.docker.compose.version"
EXTENDS_ANNOTATION = "com.docker.compose.extends"  # "true": a file that services extend, not one to merge
_EMPTY = b"{}"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return digest_of(self.data)

    def descriptor(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class Layer:
    """A layer as a manifest describes it (what a fetch must download and check)."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str]

    @property
    def name(self) -> str | None:
        return self.annotations.get(FILE_ANNOTATION) or self.annotations.get(ENVFILE_ANNOTATION)


def build_manifest(layers: list[Blob], oci_version: str, annotations: dict[str, str]) -> tuple[bytes, Blob]:
    """The manifest body for ``layers`` and the config blob it points at (to upload first)."""
    if oci_version == "1.0":
        config = Blob(CONFIG_EMPTY_V1_0, _EMPTY)
    else:
        config = Blob(EMPTY_MEDIA_TYPE, _EMPTY)
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE}
    if oci_version != "1.0":
        manifest["artifactType"] = ARTIFACT_TYPE
    manifest["config"] = config.descriptor()
    manifest["layers"] = [blob.descriptor() for blob in layers]
    if annotations:
        manifest["annotations"] = dict(annotations)
    return json.dumps(manifest, separators=(",", ":")).encode(), config


def read_manifest(body: bytes) -> list[Layer]:
    """The layers of a Compose artifact's manifest; ValueError (with a reason) for anything else."""
    try:
        manifest = json.loads(body)
    except ValueError as err:
        raise ValueError(f"the manifest is not JSON ({err})") from None
    if not isinstance(manifest, dict):
        raise ValueError("the manifest is not a JSON object")
    media_type = manifest.get("mediaType")
    if media_type == "application/vnd.oci.image.index.v1+json":
        raise ValueError("it is an image index (a multi-platform image?), not a Compose application")
    config = manifest.get("config")
    config = config if isinstance(config, dict) else {}
    kind = manifest.get("artifactType") or config.get("mediaType")
    if kind not in (ARTIFACT_TYPE, CONFIG_EMPTY_V1_0):
        raise ValueError(f"it is not a Compose application (artifact type {kind or 'none'!s}, expected "
                         f"{ARTIFACT_TYPE})")
    layers = []
    for raw in manifest.get("layers") or []:
        if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str) \
                or not isinstance(raw.get("size"), int):
            raise ValueError("a layer descriptor lacks its digest or size")
        annotations = raw.get("annotations")
        annotations = annotations if isinstance(annotations, dict) else {}
        layers.append(Layer(str(raw.get("mediaType", "")), raw["digest"], raw["size"],
                            {str(k): str(v) for k, v in annotations.items()}))
    if not any(layer.media_type == COMPOSE_FILE_MEDIA_TYPE for layer in layers):
        raise ValueError("the artifact holds no Compose file")
    return layers
