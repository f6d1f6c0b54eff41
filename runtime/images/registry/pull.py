"""Pull an image over the OCI distribution API into the store.

Manifest lists / OCI indexes are resolved to the requested platform (the host's by default); Docker schema2 and
OCI manifests; gzip, zstd and plain layers. Every blob (manifests, config, layers) is checked against its digest
and every unpacked layer against the config's diff id before anything is published. Layers are downloaded and
unpacked in one pass, several at a time (``max_concurrent_downloads``, largest first), each over three threads: one
receives the blob, hashes it and writes it to the blob store; one decompresses the same chunks; one hashes the tar
(diff id) and unpacks it. Layers already in the store are skipped. A failed pull leaves no image, layer or blob of its own
behind.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

import requests
import urllib3

from runtime.errors import InvalidArgument, NotFound, Unsupported
from runtime.images.blobs import BlobWriter, DigestMismatch
from runtime.images.config import host_platform
from runtime.images.digest import chain_ids, check_digest, sha256_digest, short_id
from runtime.images.image import Image, LayerBlob
from runtime.images.pipe import ChunkPipe, run_two_stages
from runtime.images.reference import Reference, parse_reference
from runtime.images.registry.auth import Credentials, load_credentials
from runtime.images.registry.config import Endpoint, RegistryConfig
from runtime.images.registry.errors import BadContent, ManifestUnknown, RegistryError, RegistryUnreachable, Unauthorized
from runtime.images.registry.progress import Progress, ProgressFn
from runtime.images.registry.session import RegistrySession, open_session
from runtime.images.store import ImageStore

__all__ = ["pull", "parse_platform", "MANIFEST_TYPES", "INDEX_TYPES", "IMAGE_MANIFEST_TYPES"]

MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)
IMAGE_MANIFEST_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)
MANIFEST_TYPES = INDEX_TYPES + IMAGE_MANIFEST_TYPES
_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+prettyjws",
            "application/vnd.docker.distribution.manifest.v1+json")
_LAYER_TYPES = ("application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.oci.image.layer.v1.tar",
                "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar+zstd",
                "application/vnd.docker.image.rootfs.diff.tar")
_CHUNK = 1 << 20  # bytes read from the network at a time


def parse_platform(text: str | None) -> dict[str, str]:
    """``linux/arm64/v8`` -> ``{"os": "linux", "architecture": "arm64", "variant": "v8"}``; None -> the host's."""
    if not text:
        return host_platform()
    parts = text.lower().split("/")
    if len(parts) == 1:
        return {"os": "linux", "architecture": parts[0]}
    if len(parts) > 3:
        raise InvalidArgument(f"invalid platform {text!r}: expected os/arch[/variant]")
    out = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        out["variant"] = parts[2]
    return out


def pull(store: ImageStore, reference: str, config: RegistryConfig | Mapping[str, Any] | None = None,
         progress: ProgressFn | None = None, *, platform: str | None = None,
         credentials: Credentials | None = None) -> Image:
    """Pull ``reference`` (``busybox``, ``localhost:5000/app:1``, ``x@sha256:...``) into ``store``.

    ``config``: a ``RegistryConfig`` or daemon options (see ``RegistryConfig.coerce``). ``progress`` gets Docker's
    JSON progress messages, ending with ``Digest: ...`` and ``Status: ...``. ``credentials`` override the ones
    in the Docker config file (the daemon passes those of the ``X-Registry-Auth`` header).
    """
    config = RegistryConfig.coerce(config)
    ref = parse_reference(reference)
    creds = credentials or load_credentials(config.credentials_path, ref.domain)
    report = Progress(progress)
    plat = parse_platform(platform)
    pool = config.max_concurrent_downloads + 2
    endpoints = config.endpoints(ref.domain)
    for mirror in [e for e in endpoints if e.mirror]:
        session = RegistrySession(mirror, None, timeout=config.timeout, pool_size=pool)
        try:
            return _Puller(store, session, ref, plat, report, config).run()
        except (RegistryError, NotFound):
            continue  # a mirror that fails or lacks the image: on to the next one, then the registry
        finally:
            session.close()
    session = open_session([e for e in endpoints if not e.mirror], creds, timeout=config.timeout, pool_size=pool)
    try:
        return _Puller(store, session, ref, plat, report, config).run()
    finally:
        session.close()


class _NetReader:
    """``resp.raw`` with connection failures mid-body turned into ``RegistryUnreachable`` (worth a retry)."""

    def __init__(self, resp: requests.Response, label: str) -> None:
        self._raw = resp.raw
        self._label = label

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(size)
        except (urllib3.exceptions.HTTPError, requests.RequestException, ConnectionError, TimeoutError) as err:
            raise RegistryUnreachable(f"{self._label}: connection lost while downloading: {err}") from err


class _Puller:
    def __init__(self, store: ImageStore, session: RegistrySession, ref: Reference, plat: dict[str, str],
                 report: Progress, config: RegistryConfig) -> None:
        self.store, self.session, self.ref, self.platform = store, session, ref, plat
        self.report, self.config = report, config
        self.scope = f"repository:{ref.path}:pull"
        self.endpoint: Endpoint = session.endpoint

    def run(self) -> Image:
        ref = self.ref
        self.report.status(f"Pulling from {ref.path}", ref.tag or ref.digest)
        top_bytes, top_type, top_digest = self._manifest(ref.digest or ref.tag or "latest", ref.digest)
        extra_blobs: list[tuple[str, bytes]] = []
        manifest_bytes, manifest_type, manifest_digest = top_bytes, top_type, top_digest
        if top_type in INDEX_TYPES:
            extra_blobs.append((top_digest, top_bytes))
            chosen = self._select(json.loads(top_bytes))
            manifest_bytes, manifest_type, manifest_digest = self._manifest(chosen["digest"], chosen["digest"])
            if manifest_type in INDEX_TYPES:
                raise Unsupported(f"{ref.familiar()}: nested image indexes are not supported")
        manifest = json.loads(manifest_bytes)
        config_desc = manifest.get("config") or {}
        config_digest = check_digest(config_desc.get("digest", ""))
        layers = manifest.get("layers") or []
        config_bytes = self._config(config_digest)
        cfg = json.loads(config_bytes)
        diff_ids = (cfg.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(layers):
            raise BadContent(f"{ref.familiar()}: manifest lists {len(layers)} layers, config {len(diff_ids)} diff ids")
        for layer in layers:
            if layer.get("mediaType") not in _LAYER_TYPES:
                raise Unsupported(f"{ref.familiar()}: layer {layer.get('digest')} has unsupported media type "
                                  f"{layer.get('mediaType')!r}")
        existed = self.store.exists(config_digest) and all(self.store.layers.has(c) for c in chain_ids(diff_ids))
        with self.store.lease() as lease:
            lease.add(config_digest, manifest_digest, *(d for d, _ in extra_blobs), *chain_ids(diff_ids),
                      *(layer["digest"] for layer in layers))
            try:
                blobs = self._layers(layers, diff_ids)
                for digest, data in [*extra_blobs, (manifest_digest, manifest_bytes)]:
                    self.store.blobs.put(data, digest, label=f"manifest {digest}")
                refs: list[Reference] = [ref.with_digest(top_digest)]
                if ref.tag and not ref.digest:
                    refs.insert(0, ref.with_tag(ref.tag))
                image = self.store.add_image(
                    config_bytes, blobs, references=refs, sources=[ref.name],
                    manifest={"mediaType": manifest_type, "digest": manifest_digest, "size": len(manifest_bytes)},
                    extra_blobs=[d for d, _ in extra_blobs])
            except BaseException:
                lease.release()
                self.store.collect_garbage()
                raise
        self.report.status(f"Digest: {top_digest}")
        verb = "Image is up to date for" if existed else "Downloaded newer image for"
        self.report.status(f"Status: {verb} {ref.familiar()}")
        return image

    def _manifest(self, reference: str, expected: str | None) -> tuple[bytes, str, str]:
        path = f"/v2/{self.ref.path}/manifests/{reference}"
        try:
            resp = self.session.request("GET", path, scopes=[self.scope],
                                        headers={"Accept": ", ".join(MANIFEST_TYPES + _SCHEMA1)})
        except NotFound as err:
            raise ManifestUnknown(f"manifest for {self.ref.familiar()} not found: manifest unknown ({err})") from err
        except Unauthorized as err:  # Docker's words: registries answer 401 for missing repositories too
            raise Unauthorized(f"pull access denied for {self.ref.familiar_name}, repository does not exist or "
                               f"may require 'docker login': {err}") from err
        body = resp.content
        media = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            parsed = json.loads(body)
        except ValueError as err:
            raise BadContent(f"{self.ref.familiar()}: manifest is not JSON: {err}") from err
        media = parsed.get("mediaType") or media
        if media in _SCHEMA1 or parsed.get("schemaVersion") == 1:
            raise Unsupported(f"{self.ref.familiar()}: Docker image manifest schema 1 is deprecated and not supported")
        if media not in MANIFEST_TYPES:
            media = MEDIA_OCI_INDEX if "manifests" in parsed else MEDIA_OCI_MANIFEST
        digest = sha256_digest(body)
        announced = resp.headers.get("Docker-Content-Digest")
        if expected and digest != expected:
            raise BadContent(f"{self.ref.familiar()}: manifest digest mismatch: expected {expected}, got {digest}")
        if announced and announced != digest:
            raise BadContent(f"{self.ref.familiar()}: manifest digest mismatch: registry says {announced}, "
                             f"content is {digest}")
        return body, media, digest

    def _select(self, index: dict[str, Any]) -> dict[str, Any]:
        want = self.platform
        candidates = []
        for entry in index.get("manifests") or []:
            plat = entry.get("platform") or {}
            if (entry.get("annotations") or {}).get("vnd.docker.reference.type") == "attestation-manifest":
                continue
            if plat.get("os", "linux") != want["os"] or plat.get("architecture") != want["architecture"]:
                continue
            if want.get("variant") and plat.get("variant") not in (None, want["variant"]):
                continue
            candidates.append(entry)
        if not candidates:
            name = "/".join(v for v in (want["os"], want["architecture"], want.get("variant")) if v)
            raise ManifestUnknown(f"no matching manifest for {name} in the manifest list entries "
                                  f"of {self.ref.familiar()}")
        if want.get("variant"):
            exact = [c for c in candidates if (c.get("platform") or {}).get("variant") == want["variant"]]
            candidates = exact or candidates
        return candidates[0]

    def _config(self, digest: str) -> bytes:
        if self.store.blobs.has(digest):
            return self.store.blobs.read(digest)
        resp = self.session.request("GET", f"/v2/{self.ref.path}/blobs/{digest}", scopes=[self.scope])
        data = resp.content
        if sha256_digest(data) != digest:
            raise BadContent(f"{self.ref.familiar()}: image config digest mismatch: expected {digest}, "
                             f"got {sha256_digest(data)}")
        return data

    def _layers(self, layers: list[dict[str, Any]], diff_ids: list[str]) -> list[LayerBlob]:
        chains = chain_ids(diff_ids)
        parents: list[str | None] = [None, *chains[:-1]]
        for layer in layers:
            self.report.layer(layer["digest"], "Pulling fs layer")
        workers = max(1, self.config.max_concurrent_downloads)
        jobs = list(zip(layers, diff_ids, parents, chains))
        largest_first = sorted(range(len(jobs)), key=lambda i: -int(layers[i].get("size") or 0))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pull") as pool:
            # the largest layers start first, so no big one is left to run alone at the end; results in layer order
            started = {i: pool.submit(self._layer, *jobs[i]) for i in largest_first}
            futures = [started[i] for i in range(len(jobs))]
            results, first_error = [], None
            for future in futures:
                try:
                    results.append(future.result())
                except BaseException as err:  # wait for every download, then report the first failure
                    first_error = first_error or err
            if first_error is not None:
                raise first_error
        return results

    def _layer(self, desc: dict[str, Any], diff_id: str, parent: str | None, chain: str) -> LayerBlob:
        digest = check_digest(desc["digest"])
        blob = LayerBlob(digest, desc["mediaType"], int(desc.get("size", 0)))
        have_layer = self.store.layers.has(chain)
        if have_layer and self.store.blobs.has(digest):
            self.report.layer(digest, "Already exists")
            return blob
        label = f"layer {short_id(digest)}"
        attempts = max(1, self.config.download_attempts)
        for attempt in range(1, attempts + 1):
            try:
                done, total = self._download(desc, digest, diff_id, parent, label, have_layer)
                break
            except RegistryUnreachable as err:
                if attempt == attempts:
                    raise RegistryUnreachable(f"{label}: download failed {attempt} times, last: {err}") from err
                delay = self.config.retry_delay * attempt
                self.report.layer(digest, f"Retrying in {delay:g} second{'s' if delay != 1 else ''}")
                time.sleep(delay)  # back off before asking the registry again (Docker waits 5 s)
        self.report.bytes(digest, "Downloading", done, total, force=True)
        for status in ("Verifying Checksum", "Download complete", "Extracting", "Pull complete"):
            self.report.layer(digest, status)
        return blob

    def _download(self, desc: dict[str, Any], digest: str, diff_id: str, parent: str | None, label: str,
                  have_layer: bool) -> tuple[int, int]:
        """One attempt, one pass over the blob: a thread of its own receives it, hashes it and writes it to the blob
        store while this one unpacks the same chunks (``run_two_stages``; ``unpack_layer`` decompresses in a third).
        Both digests are checked before the blob or the layer is published."""
        resp = self.session.request("GET", f"/v2/{self.ref.path}/blobs/{digest}", scopes=[self.scope], stream=True)
        total = int(desc.get("size", 0)) or int(resp.headers.get("Content-Length") or 0)
        done = 0
        net = _NetReader(resp, label)

        def _receive(writer: BlobWriter, sink: ChunkPipe | None) -> None:
            nonlocal done
            while chunk := net.read(_CHUNK):
                writer.write(chunk)  # sha256 of the blob, on its way to the disk
                if sink is not None:
                    sink.write(chunk)
                done += len(chunk)
                self.report.bytes(digest, "Downloading", done, total)

        try:
            with self.store.blobs.writer(digest, label) as writer:
                if have_layer:
                    _receive(writer, None)
                    self._verify(writer, digest)
                    return done, total
                try:
                    run_two_stages(
                        lambda pipe: _receive(writer, pipe),
                        lambda pipe: self.store.layers.create(parent, pipe, expected_diff_id=diff_id, label=label,
                                                              verify=lambda: self._verify(writer, digest)),
                        name=f"pull-{short_id(digest)}")
                except InvalidArgument as err:
                    if isinstance(err, (DigestMismatch, BadContent)):
                        raise
                    # a corrupt blob often fails to decompress first: name the real cause
                    _receive(writer, None)
                    if writer.digest != digest:
                        raise BadContent(f"{label}: digest mismatch: expected {digest}, got {writer.digest}; "
                                         "the download is corrupt and was discarded") from err
                    raise
        finally:
            resp.close()
        return done, total

    @staticmethod
    def _verify(writer, digest: str) -> None:
        try:
            writer.commit()
        except DigestMismatch as err:
            raise BadContent(str(err)) from err
