"""A stable per-service config hash; ``up`` recreates a container when it changes.

As Docker Compose does (``pkg/compose/hash.go``), the hash covers the service's canonical config minus what can
change without recreating its containers: how many run (``scale``, ``deploy.replicas``), how the image is got
(``build``, ``pull_policy``), start ordering (``depends_on``), ``profiles``, and ``develop`` (watch settings).
``label_file`` is read at create, so its files' contents count, not only their paths: editing one recreates, as
Docker Compose does (it reads them into ``labels`` while loading).
The digest is SHA-256 over JSON with sorted keys, so key order in the file never matters.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from compose.errors import UserError
from compose.model import Project

__all__ = ["service_hash", "IGNORED_KEYS"]

IGNORED_KEYS = frozenset({"build", "pull_policy", "scale", "depends_on", "profiles", "develop"})


def service_hash(project: Project, name: str) -> str:
    """Hex SHA-256 of the service's canonical config minus fields that need no recreation."""
    service = project.services.get(name)
    if service is None:
        raise UserError.single(f"no such service: {name}")
    config: dict[str, Any] = {k: v for k, v in service.to_dict().items() if k not in IGNORED_KEYS}
    deploy = config.get("deploy")
    if isinstance(deploy, dict) and "replicas" in deploy:
        deploy = {k: v for k, v in deploy.items() if k != "replicas"}
        if deploy:
            config["deploy"] = deploy
        else:
            del config["deploy"]
    if config.get("label_file"):
        config["label_file"] = [[str(p), _file_digest(str(p))] for p in config["label_file"]]
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_digest(path: str) -> str:
    """SHA-256 of a file's bytes; "" when it cannot be read (the create reports that, with its key path)."""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return ""
