"""Registry credentials for the compose-side OCI client: what ``pycompose login`` (or ``docker login``) stored
in the Docker client configuration's ``auths``, and the ``WWW-Authenticate`` challenge a registry answers with."""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from compose.dockerconfig import config_path, registry_key
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


def find_credentials(host: str, path: Path | None = None) -> tuple[str, str] | None:
    """(username, password) stored for ``host``, or None. Credential helpers (``credsStore``) are not asked."""
    path = path or config_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        return None
    key = registry_key("docker.io" if host == DOCKER_HUB_HOST else host)
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
