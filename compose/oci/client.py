"""A small OCI distribution client for Compose artifacts: manifest GET/PUT, blob GET/HEAD and monolithic blob
upload, with basic and bearer-token auth.

The artifact is not an image, so it does not go through the engine (which pushes and pulls images only):
the compose client talks to the registry itself, over ``requests``. HTTPS, with the CA and client
certificate of ``/etc/docker/certs.d/<host>/`` if there (``PYCOMPOSE_CERTS_DIR`` moves it), as Docker does.
An insecure registry - loopback (as Docker treats ``localhost`` and 127.0.0.0/8) or listed in
``PYCOMPOSE_INSECURE_REGISTRIES`` (comma-separated ``host[:port]``) - is tried over HTTPS without
verification (unless certs.d has its CA), then over plain HTTP, as the engine does. Every failure is a
``UserError`` naming the reference and what the registry said.
"""
from __future__ import annotations

import base64
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from compose.dockerconfig import config_path
from compose.errors import UserError
from compose.oci.auth import Challenge, find_credentials, parse_challenge
from compose.oci.reference import Reference

__all__ = ["RegistryClient", "MANIFEST_ACCEPT"]

MANIFEST_ACCEPT = ", ".join((
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
))
_TIMEOUT = (10, 60)


def _insecure_allowed(host: str, environ: Mapping[str, str]) -> bool:
    listed = {h.strip() for h in environ.get("PYCOMPOSE_INSECURE_REGISTRIES", "").split(",") if h.strip()}
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if host in listed or name in listed or name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _reply(resp: requests.Response) -> str:
    """The registry's error, short: ``401 UNAUTHORIZED: authentication required``."""
    detail = ""
    try:
        errors = resp.json().get("errors")
        if isinstance(errors, list) and errors:
            detail = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors
                               if isinstance(e, dict))
    except ValueError:
        detail = resp.text.strip()[:200]
    return f"{resp.status_code} {resp.reason}" + (f": {detail}" if detail else "")


class RegistryClient:
    """One repository on one registry, for pull (``push=False``) or push and pull."""

    def __init__(self, ref: Reference, push: bool = False, environ: Mapping[str, str] | None = None) -> None:
        self.ref = ref
        self.push = push
        self.environ = os.environ if environ is None else environ
        self.credentials = find_credentials(ref.host, config_path(dict(self.environ)))
        self.session = requests.Session()
        self._base: str | None = None
        self._auth_header: str | None = None

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------------------------
    def _fail(self, what: str, detail: str) -> UserError:
        return UserError.single(f"oci://{self.ref}: {what}: {detail}")

    def _base_url(self) -> str:
        if self._base is not None:
            return self._base
        certs = Path(self.environ.get("PYCOMPOSE_CERTS_DIR") or "/etc/docker/certs.d") / self.ref.host
        if (certs / "ca.crt").is_file():  # Docker's per-registry CA (and client certificate), as the engine reads them
            self.session.verify = str(certs / "ca.crt")
        if (certs / "client.cert").is_file() and (certs / "client.key").is_file():
            self.session.cert = (str(certs / "client.cert"), str(certs / "client.key"))
        insecure = _insecure_allowed(self.ref.host, self.environ)
        if insecure and self.session.verify is True:
            import urllib3

            self.session.verify = False  # chosen, for a registry the user runs insecure: no warning per request
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        last: Exception | None = None
        for scheme in ("https", "http") if insecure else ("https",):
            try:
                probe = self.session.get(f"{scheme}://{self.ref.host}/v2/", timeout=_TIMEOUT,
                                         verify=self.session.verify)
            except (requests.exceptions.SSLError, requests.ConnectionError) as err:
                last = err
                continue
            if scheme == "http" and last is not None and probe.status_code not in (200, 401, 403):
                break  # plain HTTP to a TLS port (400): the HTTPS error is the one to report
            self._base = f"{scheme}://{self.ref.host}"
            return self._base
        raise self._fail("cannot reach the registry", _short(last))

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), what: str = "request",
                **kwargs: Any) -> requests.Response:
        """``method`` on ``/v2/<repo>/<path>`` (or an absolute URL), authenticating on a 401 challenge."""
        url = path if path.startswith(("http://", "https://")) else f"{self._base_url()}/v2/{self.ref.repository}/{path}"
        resp = self._send(method, url, **kwargs)
        if resp.status_code == 401 and self._authenticate(parse_challenge(resp.headers.get("WWW-Authenticate"))):
            resp = self._send(method, url, **kwargs)
        if resp.status_code not in ok:
            hint = ""
            if resp.status_code in (401, 403):
                hint = (f"; log in with `pycompose login {self.ref.host}`" if self.credentials is None
                        else "; check the credentials stored by `pycompose login` and the repository's permissions")
            raise self._fail(what, f"the registry answered {_reply(resp)}{hint}")
        return resp

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self._auth_header:
            headers["Authorization"] = self._auth_header
        try:
            # verify per request: a session's own is overridden by REQUESTS_CA_BUNDLE (requests merges the environment)
            return self.session.request(method, url, headers=headers, timeout=_TIMEOUT, verify=self.session.verify,
                                        **kwargs)
        except requests.RequestException as err:
            raise self._fail(f"{method} {url} failed", _short(err)) from None

    def _authenticate(self, challenge: Challenge | None) -> bool:
        if challenge is None or self._auth_header is not None and challenge.scheme == "basic":
            return False
        if challenge.scheme == "basic":
            if self.credentials is None:
                raise self._fail("the registry wants a login", "run `pycompose login "
                                 f"{self.ref.host}` first")
            self._auth_header = _basic(*self.credentials)
            return True
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            return False
        actions = "pull,push" if self.push else "pull"
        params = {"scope": f"repository:{self.ref.repository}:{actions}"}
        if "service" in challenge.params:
            params["service"] = challenge.params["service"]
        headers = {"Authorization": _basic(*self.credentials)} if self.credentials else {}
        try:
            resp = self.session.get(challenge.params["realm"], params=params, headers=headers, timeout=_TIMEOUT,
                                    verify=self.session.verify)
        except requests.RequestException as err:
            raise self._fail("cannot get a token", str(err)) from None
        if resp.status_code != 200:
            raise self._fail("the token server refused", _reply(resp))
        body = resp.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise self._fail("the token server answered no token", resp.text[:200])
        self._auth_header = f"Bearer {token}"
        return True

    # --- distribution API --------------------------------------------------------------------------------
    def get_manifest(self, target: str) -> tuple[bytes, str, str | None]:
        """(body, media type, the registry's ``Docker-Content-Digest``) of the manifest at ``target``."""
        resp = self.request("GET", f"manifests/{target}", headers={"Accept": MANIFEST_ACCEPT},
                            what="cannot fetch the manifest")
        return resp.content, resp.headers.get("Content-Type", "").split(";")[0], \
            resp.headers.get("Docker-Content-Digest")

    def head_manifest(self, target: str) -> str | None:
        """The digest of the manifest at ``target`` (``Docker-Content-Digest``), or None if the registry hides it."""
        resp = self.request("HEAD", f"manifests/{target}", headers={"Accept": MANIFEST_ACCEPT},
                            what=f"cannot resolve {target}")
        return resp.headers.get("Docker-Content-Digest")

    def get_blob(self, digest: str, limit: int | None = None) -> bytes:
        """The blob's bytes; more than ``limit`` of them is refused (the download stops there)."""
        resp = self.request("GET", f"blobs/{digest}", what=f"cannot fetch blob {digest}", stream=True)
        chunks, total = [], 0
        try:
            for chunk in resp.iter_content(65536):
                total += len(chunk)
                if limit is not None and total > limit:
                    raise self._fail(f"blob {digest}", f"larger than the {limit} bytes its descriptor declares")
                chunks.append(chunk)
        except requests.RequestException as err:
            raise self._fail(f"cannot fetch blob {digest}", str(err)) from None
        finally:
            resp.close()
        return b"".join(chunks)

    def has_blob(self, digest: str) -> bool:
        resp = self.request("HEAD", f"blobs/{digest}", ok=(200, 404), what=f"cannot check blob {digest}")
        return resp.status_code == 200

    def put_blob(self, digest: str, data: bytes) -> None:
        """Upload ``data`` unless the registry has it: POST an upload session, then one PUT with the digest."""
        if self.has_blob(digest):
            return
        start = self.request("POST", "blobs/uploads/", ok=(202,), what="cannot start a blob upload")
        location = start.headers.get("Location")
        if not location:
            raise self._fail("cannot upload a blob", "the registry gave no upload Location")
        url = urljoin(self._base_url() + "/", location)
        url += ("&" if "?" in url else "?") + f"digest={digest}"
        self.request("PUT", url, ok=(201, 204), what=f"cannot upload blob {digest}", data=data,
                     headers={"Content-Type": "application/octet-stream"})

    def put_manifest(self, target: str, body: bytes, media_type: str) -> str | None:
        resp = self.request("PUT", f"manifests/{target}", ok=(201, 200), what="cannot push the manifest",
                            data=body, headers={"Content-Type": media_type})
        return resp.headers.get("Docker-Content-Digest")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _short(err: Exception | None) -> str:
    """The innermost reason of a requests error (``[Errno 111] Connection refused``, ``[SSL: ...] certificate
    verify failed: ...``), not urllib3's wrapping of it."""
    text = str(err)
    found = re.search(r"\[(?:Errno -?\d+|SSL: [A-Z_]+)\][^'\"()]*(?:\([^)]*\))?", text)
    return found.group(0).strip() if found else text
