"""Build and push the artifact of ``pycompose publish``: the Compose files as written (one layer each, in
``-f`` order), the env files with ``--with-env``, and with ``--resolve-image-digests`` one more Compose file,
``image-digests.yaml``, pinning each service's image to the digest its registry serves now."""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from compose.errors import UserError
from compose.oci.artifact import (
    COMPOSE_FILE_MEDIA_TYPE, ENVFILE_ANNOTATION, ENVFILE_MEDIA_TYPE, FILE_ANNOTATION, MANIFEST_MEDIA_TYPE,
    VERSION_ANNOTATION, Blob, build_manifest, digest_of,
)
from compose.oci.client import RegistryClient
from compose.oci.reference import Reference, parse_reference

__all__ = ["DIGESTS_FILE", "OCI_VERSIONS", "build_layers", "choose_oci_version", "push_artifact",
           "resolve_image_digests"]

OCI_VERSIONS = ("1.0", "1.1")
DIGESTS_FILE = "image-digests.yaml"


def choose_oci_version(ref: Reference, requested: str | None) -> str:
    """``--oci-version``, else 1.1, but 1.0 for Amazon ECR, which refuses OCI 1.1 manifests (as Docker does)."""
    if requested:
        if requested not in OCI_VERSIONS:
            raise UserError.single(f"--oci-version {requested!r}: expected one of {', '.join(OCI_VERSIONS)}")
        return requested
    return "1.0" if ref.host.split(":")[0].endswith("amazonaws.com") else "1.1"


def build_layers(files: list[Path], env_files: list[tuple[Path, str]], version: str,
                 pinned_images: Mapping[str, str] | None = None) -> list[Blob]:
    """One layer per Compose file (annotated with its base name), then the env files, then the digests file."""
    layers = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as err:
            raise UserError.single(f"cannot read {path}: {err.strerror}") from None
        layers.append(Blob(COMPOSE_FILE_MEDIA_TYPE, data, {FILE_ANNOTATION: path.name, VERSION_ANNOTATION: version}))
    if pinned_images:
        text = "services:\n" + "".join(f"  {json.dumps(name)}:\n    image: {json.dumps(image)}\n"
                                        for name, image in sorted(pinned_images.items()))
        layers.append(Blob(COMPOSE_FILE_MEDIA_TYPE, text.encode(),
                           {FILE_ANNOTATION: DIGESTS_FILE, VERSION_ANNOTATION: version}))
    for path, name in env_files:
        layers.append(Blob(ENVFILE_MEDIA_TYPE, path.read_bytes(), {ENVFILE_ANNOTATION: name, VERSION_ANNOTATION: version}))
    return layers


def resolve_image_digests(canonical: dict[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """service -> ``host/repo:tag@sha256:...`` as the image's registry serves it now (pinned ones kept)."""
    pinned: dict[str, str] = {}
    for name, service in sorted((canonical.get("services") or {}).items()):
        image = service.get("image") if isinstance(service, dict) else None
        if not isinstance(image, str) or not image:
            continue
        ref = parse_reference(image)
        if ref.digest:
            pinned[name] = str(ref)
            continue
        tagged = Reference(ref.host, ref.repository, ref.tag or "latest")
        with RegistryClient(tagged, environ=environ) as client:
            digest = client.head_manifest(tagged.target)
            if not digest:  # the registry hides it on HEAD: the manifest's own digest is the answer
                body, _, served = client.get_manifest(tagged.target)
                digest = served or digest_of(body)
        pinned[name] = str(Reference(ref.host, ref.repository, tagged.tag, digest))
    return pinned


def push_artifact(target: str, layers: list[Blob], oci_version: str | None, version: str,
                  environ: Mapping[str, str] | None = None) -> tuple[Reference, str]:
    """Upload the blobs, then PUT the manifest under the tag; returns the reference and the manifest digest."""
    ref = parse_reference(target)
    if ref.digest:
        raise UserError.single(f"{target}: publish to a tag (REPOSITORY[:TAG]), not to a digest")
    ref = Reference(ref.host, ref.repository, ref.tag or "latest")
    chosen = choose_oci_version(ref, oci_version)
    annotations = {VERSION_ANNOTATION: version,
                   "org.opencontainers.image.created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    body, config = build_manifest(layers, chosen, annotations)
    with RegistryClient(ref, push=True, environ=environ) as client:
        for blob in [config, *layers]:
            client.put_blob(blob.digest, blob.data)
        client.put_manifest(ref.target, body, MANIFEST_MEDIA_TYPE)
    return ref, digest_of(body)
