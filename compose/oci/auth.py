"""Registry credentials for the compose-side OCI client: what ``pycompose login`` (or ``docker login``) stored
in the Docker client configuration (a credential helper's, or the ``auths`` entry), and the ``WWW-Authenticate`` challenge a registry answers with."""
from __future__ import annotations

import base64
import binascii
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from compose.dockerconfig import config_path, registry_key
from compose.errors import UserError
from compose.oci.reference import DOCKER_HUB_HOST

__all__ = ["Challenge", "find_credentials", "parse_challenge"]

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str] = field(default_factory=dict)


def parse_challenge(header: str | None) -> Challenge | None:
    """``Bearer realm="...",service="...",scope="..."`` -> Challenge; None when absent or unparseable."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    return Challenge(scheme.lower(), {m[1].lower(): m[2] if m[2] is not None else m[3] for m in _PARAM.finditer(rest)})


def _helper_get(name: str, server: str) -> tuple[str, str] | None:
    """Ask ``docker-credential-<name> get`` (server on stdin, ``{"Username", "Secret"}`` out); None when it is
    not installed or holds nothing for ``server``; a failing helper is a ``UserError``."""
    program = shutil.which(f"docker-credential-{name}")
    if program is None:
        return None
    try:
        out = subprocess.run([program, "get"], input=server.encode(), capture_output=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        raise UserError.single(f"credential helper docker-credential-{name} did not answer in 30s") from None
    text = (out.stdout or out.stderr).decode(errors="replace").strip()
    if out.returncode != 0:
        if "credentials not found" in text.lower():
            return None
        raise UserError.single(f"credential helper docker-credential-{name} get failed: {text[:200]}")
    try:
        data = json.loads(out.stdout)
    except ValueError:
        raise UserError.single(f"credential helper docker-credential-{name} printed no JSON") from None
    if not isinstance(data, dict) or not (data.get("Username") or data.get("Secret")):
        return None
    return str(data.get("Username") or ""), str(data.get("Secret") or "")


def find_credentials(host: str, path: Path | None = None) -> tuple[str, str] | None:
    """(username, password) for ``host``: from its credential helper (``credHelpers``, else ``credsStore``) if
    one is set and knows it, else from the ``auths`` entry ``pycompose login`` / ``docker login`` wrote."""
    path = path or config_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    key = registry_key("docker.io" if host == DOCKER_HUB_HOST else host)
    helpers = data.get("credHelpers")
    helpers = helpers if isinstance(helpers, dict) else {}
    helper = helpers.get(key) or helpers.get(host) or data.get("credsStore")
    if isinstance(helper, str) and helper:
        found = _helper_get(helper, key)
        if found is not None:
            return found
    auths = data.get("auths")
    if not isinstance(auths, dict):
        return None
    wanted = {key, f"https://{key}", f"http://{key}", f"https://{key}/", f"http://{key}/"}
    for name, entry in auths.items():
        if name not in wanted or not isinstance(entry, dict):
            continue
        if entry.get("username") and entry.get("password"):
            return str(entry["username"]), str(entry["password"])
        token = entry.get("auth")
        if isinstance(token, str) and token:
            try:
                user, sep, password = base64.b64decode(token).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                continue
            if sep:
                return user, password
    return None
