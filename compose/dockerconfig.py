"""The Docker client configuration file (``$DOCKER_CONFIG/config.json``, default ``~/.docker/config.json``):
registry credentials as ``docker login`` stores them, so docker-py, the docker CLI and pycompose share them."""
from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path

from compose.errors import UserError

__all__ = ["DOCKER_HUB", "config_path", "store_credentials", "remove_credentials", "registry_key"]

DOCKER_HUB = "https://index.docker.io/v1/"


def config_path(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(base) / "config.json"


def registry_key(server: str | None) -> str:
    """The key ``auths`` uses: Docker Hub's legacy URL, else the bare host[:port]."""
    if not server or server in ("docker.io", "index.docker.io", "registry-1.docker.io", DOCKER_HUB):
        return DOCKER_HUB
    for scheme in ("https://", "http://"):
        if server.startswith(scheme):
            server = server[len(scheme):]
    return server.rstrip("/")


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise UserError.single(f"{path}: cannot read the Docker client configuration: {err}") from err
    if not isinstance(data, dict):
        raise UserError.single(f"{path}: the Docker client configuration is not a JSON object")
    return data


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.json.")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent="\t")
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def store_credentials(server: str | None, username: str, password: str, path: Path | None = None) -> Path:
    path = path or config_path()
    data = _read(path)
    auths = data.setdefault("auths", {})
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    auths[registry_key(server)] = {"auth": token}
    _write(path, data)
    return path


def remove_credentials(server: str | None, path: Path | None = None) -> bool:
    path = path or config_path()
    data = _read(path)
    auths = data.get("auths") or {}
    if auths.pop(registry_key(server), None) is None:
        return False
    _write(path, data)
    return True
