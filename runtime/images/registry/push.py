"""Push an image from the store over the OCI distribution API, and ``login``.

For each blob (layers, then config): ``HEAD`` to skip what the repository has; a cross-repository mount when the
blob is known to live in another repository of the same registry; otherwise an upload, monolithic (one ``PUT``)
up to ``chunk_size`` bytes and chunked (``PATCH`` with ``Content-Range``, then ``PUT ?digest=``) above. Then the
manifest ``PUT``. A pulled image is pushed with its original manifest bytes (so its digest does not change);
other images get a Docker schema2 manifest built from their stored blobs.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping
from urllib.parse import urlencode

from runtime.errors import InvalidArgument
from runtime.images.image import Image, LayerBlob
from runtime.images.reference import Reference, parse_reference
from runtime.images.registry.auth import Credentials, load_credentials, parse_challenge, store_credentials
from runtime.images.registry.config import RegistryConfig
from runtime.images.registry.errors import RegistryError, Unauthorized
from runtime.images.registry.progress import Progress, ProgressFn
from runtime.images.registry.session import RegistrySession, open_session
from runtime.images.store import MEDIA_CONFIG, ImageStore

__all__ = ["push", "login", "DEFAULT_CHUNK_SIZE", "MEDIA_DOCKER_MANIFEST"]

MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DEFAULT_CHUNK_SIZE = 64 << 20


def push(store: ImageStore, reference: str, config: RegistryConfig | Mapping[str, Any] | None = None,
         progress: ProgressFn | None = None, *, credentials: Credentials | None = None,
         chunk_size: int = DEFAULT_CHUNK_SIZE) -> str:
    """Push the local image tagged ``reference`` to its registry; returns the manifest digest.

    ``progress`` gets Docker's JSON messages, ending with ``<tag>: digest: ... size: ...`` and the ``aux`` one.
    """
    config = RegistryConfig.coerce(config)
    ref = parse_reference(reference)
    if ref.digest:
        raise InvalidArgument(f"cannot push a digest reference: {reference}")
    image = store.resolve(str(ref))
    creds = credentials or load_credentials(config.credentials_path, ref.domain)
    session = open_session([e for e in config.endpoints(ref.domain) if not e.mirror], creds,
                           timeout=config.timeout, pool_size=config.max_concurrent_uploads + 2)
    try:
        return _Pusher(store, session, ref, image, Progress(progress), config, chunk_size).run()
    finally:
        session.close()


class _Pusher:
    def __init__(self, store: ImageStore, session: RegistrySession, ref: Reference, image: Image,
                 report: Progress, config: RegistryConfig, chunk_size: int) -> None:
        self.store, self.session, self.ref, self.image = store, session, ref, image
        self.report, self.config, self.chunk_size = report, config, max(1, chunk_size)
        known = [parse_reference(s) for s in image.sources]
        self.sources = [r.path for r in known if r.domain == ref.domain and r.path != ref.path]
        self.scopes = [f"repository:{ref.path}:pull,push", *(f"repository:{p}:pull" for p in self.sources)]

    def run(self) -> str:
        self.report.status(f"The push refers to repository [{self.ref.name}]")
        manifest_bytes, media = self._manifest()
        blobs = list(self.image.blobs)
        for blob in reversed(blobs):
            self.report.layer(blob.digest, "Preparing")
        # authenticate once before the parallel uploads (the first request gets the 401 challenge)
        self.session.request("GET", "/v2/", scopes=self.scopes, ok=(200, 404))
        with ThreadPoolExecutor(max_workers=max(1, self.config.max_concurrent_uploads),
                                thread_name_prefix="push") as pool:
            for future in [pool.submit(self._blob, b) for b in reversed(blobs)]:
                future.result()
        config_size = self.store.blobs.size(self.image.id)
        self._blob(LayerBlob(self.image.id, MEDIA_CONFIG, config_size), quiet=True)
        resp = self.session.request("PUT", f"/v2/{self.ref.path}/manifests/{self.ref.tag}", scopes=self.scopes,
                                    data=manifest_bytes, headers={"Content-Type": media}, ok=(201, 200))
        with self.store.lease() as lease:
            digest = self.store.blobs.put(manifest_bytes, label="manifest", pin=lease.add)
            announced = resp.headers.get("Docker-Content-Digest")
            if announced and announced != digest:
                raise RegistryError(f"registry stored manifest as {announced}, expected {digest}")
            self.store.set_manifest(self.image.id, {"mediaType": media, "digest": digest,
                                                    "size": len(manifest_bytes)}, source=self.ref.name)
        self.store.add_reference(self.ref.with_digest(digest), self.image.id)
        self.report.status(f"{self.ref.tag}: digest: {digest} size: {len(manifest_bytes)}")
        self.report.aux({"Tag": self.ref.tag, "Digest": digest, "Size": len(manifest_bytes)})
        return digest

    def _manifest(self) -> tuple[bytes, str]:
        desc = self.image.manifest
        if desc and self.store.blobs.has(desc["digest"]):
            data = self.store.blobs.read(desc["digest"])
            stored = json.loads(data)
            layer_digests = [layer["digest"] for layer in stored.get("layers") or []]
            if (stored.get("config") or {}).get("digest") == self.image.id and \
                    layer_digests == [b.digest for b in self.image.blobs]:
                return data, desc["mediaType"]
        # Docker schema2 when every layer has a Docker media type (what Docker pushes), OCI otherwise (zstd...)
        docker = all(b.media_type.startswith("application/vnd.docker.") for b in self.image.blobs)
        media = MEDIA_DOCKER_MANIFEST if docker else MEDIA_OCI_MANIFEST
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": media,
            "config": {"mediaType": MEDIA_CONFIG if docker else MEDIA_OCI_CONFIG,
                       "size": self.store.blobs.size(self.image.id), "digest": self.image.id},
            "layers": [b.descriptor() for b in self.image.blobs],
        }
        return json.dumps(manifest, indent=3).encode(), media

    def _blob(self, blob: LayerBlob, quiet: bool = False) -> None:
        path = f"/v2/{self.ref.path}/blobs/{blob.digest}"
        head = self.session.request("HEAD", path, scopes=self.scopes, ok=(200, 404))
        if head.status_code == 200:
            if not quiet:
                self.report.layer(blob.digest, "Layer already exists")
            return
        location = None
        for source in self.sources:
            query = urlencode({"mount": blob.digest, "from": source})
            resp = self.session.request("POST", f"/v2/{self.ref.path}/blobs/uploads/?{query}", scopes=self.scopes,
                                        ok=(201, 202))
            if resp.status_code == 201:
                if not quiet:
                    self.report.layer(blob.digest, f"Mounted from {source}")
                return
            location = resp.headers.get("Location")
            break
        if location is None:
            resp = self.session.request("POST", f"/v2/{self.ref.path}/blobs/uploads/", scopes=self.scopes,
                                        ok=(202,))
            location = resp.headers["Location"]
        size = self.store.blobs.size(blob.digest)
        with self.store.blobs.open(blob.digest) as fh:
            if size <= self.chunk_size:
                if not quiet:
                    self.report.bytes(blob.digest, "Pushing", 0, size, force=True)
                self.session.request("PUT", _with_digest(location, blob.digest), scopes=self.scopes, data=fh,
                                     headers={"Content-Type": "application/octet-stream",
                                              "Content-Length": str(size)}, ok=(201,))
            else:
                offset = 0
                while offset < size:
                    chunk = fh.read(self.chunk_size)
                    end = offset + len(chunk) - 1
                    resp = self.session.request(
                        "PATCH", location, scopes=self.scopes, data=chunk, ok=(202,),
                        headers={"Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{end}",
                                 "Content-Length": str(len(chunk))})
                    location = resp.headers.get("Location", location)
                    offset += len(chunk)
                    if not quiet:
                        self.report.bytes(blob.digest, "Pushing", offset, size)
                self.session.request("PUT", _with_digest(location, blob.digest), scopes=self.scopes,
                                     headers={"Content-Length": "0"}, ok=(201,))
        if not quiet:
            self.report.layer(blob.digest, "Pushed")


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}{urlencode({'digest': digest})}"


def login(registry: str, username: str, password: str, *,
          config: RegistryConfig | Mapping[str, Any] | None = None, store: bool = True) -> str:
    """Check ``username``/``password`` against ``registry`` (``localhost:5000``, ``docker.io``) and, when they
    work, save them in the Docker config file. Returns ``"Login Succeeded"``; ``Unauthorized`` otherwise."""
    config = RegistryConfig.coerce(config)
    domain = parse_reference(f"{registry.removeprefix('https://').removeprefix('http://').rstrip('/')}/x").domain \
        if registry not in ("docker.io", "index.docker.io", "https://index.docker.io/v1/") else "docker.io"
    creds = Credentials(username, password)
    session = open_session([e for e in config.endpoints(domain) if not e.mirror], creds, timeout=config.timeout)
    try:
        resp = session.get("/v2/")
        if resp.status_code == 401:
            challenge = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
            if challenge is None:
                raise Unauthorized("unauthorized: registry asked for credentials without a challenge")
            if challenge.scheme == "bearer":
                session.fetch_token(challenge.params, [])
            else:
                check = session.get("/v2/", auth=(username, password))
                if check.status_code != 200:
                    raise Unauthorized("unauthorized: incorrect username or password")
        elif resp.status_code != 200:
            session.raise_for(resp, "GET /v2/")
    finally:
        session.close()
    if store:
        store_credentials(config.credentials_path, domain, creds)
    return "Login Succeeded"

