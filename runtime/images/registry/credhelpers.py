"""Docker credential helpers (``credsStore`` / ``credHelpers`` in the client config): the programs
``docker-credential-<name>`` that keep secrets in a keychain. Protocol: ``get`` reads the server URL on stdin and
prints ``{"ServerURL", "Username", "Secret"}``; ``store`` reads that JSON on stdin."""
from __future__ import annotations

import json
import shutil
import subprocess

from runtime.errors import InvalidArgument

__all__ = ["helper_get", "helper_store"]

_NOT_FOUND = "credentials not found"
_TIMEOUT = 30


def _program(name: str) -> str:
    program = f"docker-credential-{name}"
    path = shutil.which(program)
    if path is None:
        raise InvalidArgument(f"credential helper {program} (from the Docker config) is not on PATH")
    return path


def helper_get(name: str, server: str) -> tuple[str, str] | None:
    """(username, secret) the helper ``name`` holds for ``server``; None when it has none or is not installed
    (then the config's inline ``auths`` are used, and failing those the pull is anonymous)."""
    if shutil.which(f"docker-credential-{name}") is None:
        return None
    try:
        out = subprocess.run([_program(name), "get"], input=server.encode(), capture_output=True,
                             timeout=_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as err:
        raise InvalidArgument(f"credential helper docker-credential-{name} did not answer in {_TIMEOUT}s") from err
    text = (out.stdout or out.stderr).decode(errors="replace").strip()
    if out.returncode != 0:
        if _NOT_FOUND in text.lower():
            return None
        raise InvalidArgument(f"credential helper docker-credential-{name} get failed: {text}")
    try:
        data = json.loads(out.stdout)
    except ValueError as err:
        raise InvalidArgument(f"credential helper docker-credential-{name} printed no JSON: {text[:200]}") from err
    if not data.get("Username") and not data.get("Secret"):
        return None
    return str(data.get("Username", "")), str(data.get("Secret", ""))


def helper_store(name: str, server: str, username: str, secret: str) -> None:
    payload = json.dumps({"ServerURL": server, "Username": username, "Secret": secret}).encode()
    try:
        out = subprocess.run([_program(name), "store"], input=payload, capture_output=True, timeout=_TIMEOUT,
                             check=False)
    except subprocess.TimeoutExpired as err:
        raise InvalidArgument(f"credential helper docker-credential-{name} did not answer in {_TIMEOUT}s") from err
    if out.returncode != 0:
        text = (out.stdout or out.stderr).decode(errors="replace").strip()
        raise InvalidArgument(f"credential helper docker-credential-{name} store failed: {text}")
