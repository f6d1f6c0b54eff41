"""Registry credentials and authentication challenges.

Credentials come from Docker's client config (``auths`` -> base64 ``user:password`` in ``auth``, or ``username`` and
``password``); ``store_credentials`` writes them back the way ``docker login`` does (file mode 0600, atomically,
other keys kept). ``parse_challenge`` reads a ``WWW-Authenticate`` header (``Bearer realm="...",service="..."``).
A credential helper named by ``credHelpers`` (per registry) or ``credsStore`` is asked first and stores what
``login`` saves, as the docker CLI does.
"""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import InvalidArgument
from runtime.images._atomic import write_bytes_atomic
from runtime.images.registry.config import auth_key
from runtime.images.registry.credhelpers import helper_get, helper_store

__all__ = ["Credentials", "Challenge", "load_credentials", "store_credentials", "parse_challenge",
           "credentials_from_header"]

_PARAM = re.compile(r'([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print a password
        return f"Credentials(username={self.username!r})"


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic" (lowercase)
    params: dict[str, str]


def _normalize_key(key: str) -> str:
    key = key.removeprefix("https://").removeprefix("http://")
    key = key.split("/", 1)[0]
    return "docker.io" if key in ("index.docker.io", "registry-1.docker.io", "docker.io") else key


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as err:
        raise InvalidArgument(f"{path}: not valid JSON: {err}") from err
    return data if isinstance(data, dict) else {}


def load_credentials(path: Path, domain: str) -> Credentials | None:
    """The credentials stored for ``domain`` in the Docker config file at ``path``, if any."""
    data = _read(path)
    helper = _helper_for(data, domain)
    if helper:
        found = helper_get(helper, auth_key(domain))
        if found is not None:
            return Credentials(*found)
    auths = data.get("auths") or {}
    wanted = _normalize_key(domain)
    for key, entry in auths.items():
        if _normalize_key(key) != wanted or not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError) as err:
                raise InvalidArgument(f"{path}: auths.{key}.auth is not base64 user:password") from err
            return Credentials(user, password)
        if entry.get("username"):
            return Credentials(entry["username"], entry.get("password", ""))
    return None


def store_credentials(path: Path, domain: str, creds: Credentials) -> None:
    data = _read(path)
    auths = data.setdefault("auths", {})
    for key in [k for k in auths if _normalize_key(k) == _normalize_key(domain)]:
        del auths[key]
    helper = _helper_for(data, domain)
    if helper:
        helper_store(helper, auth_key(domain), creds.username, creds.password)
        auths[auth_key(domain)] = {}  # the docker CLI leaves an empty entry: "this registry has a login"
    else:
        token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        auths[auth_key(domain)] = {"auth": token}
    write_bytes_atomic(path, json.dumps(data, indent="\t").encode() + b"\n", mode=0o600)


def _helper_for(data: dict, domain: str) -> str | None:
    helpers = data.get("credHelpers") or {}
    for key, name in helpers.items():
        if _normalize_key(key) == _normalize_key(domain):
            return str(name)
    store = data.get("credsStore")
    return str(store) if store else None


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of a ``WWW-Authenticate`` header; None when absent or unreadable."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)).replace('\\"', '"')
              for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)


def credentials_from_header(value: str | None) -> Credentials | None:
    """Decode the Engine API's ``X-Registry-Auth`` header (base64url JSON with ``username``/``password``) that the
    docker CLI and docker-py send with pull and push. Empty or ``{}`` means anonymous."""
    if not value:
        return None
    padded = value + "=" * (-len(value) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"X-Registry-Auth header is not base64url-encoded JSON: {err}") from err
    if not isinstance(data, dict) or not data.get("username"):
        return None
    return Credentials(str(data["username"]), str(data.get("password", "")))
