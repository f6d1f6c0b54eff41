"""Make the relative paths of a loaded tree absolute against its own directory.

Used when a tree comes from another directory than the project's (``include``, ``extends: {file: ...}``):
its relative paths mean "relative to that file's directory", not to the project directory that canonical
resolves against later. Works in place on located trees; types it does not expect are left for the schema.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

__all__ = ["rebase_paths", "rebase_service"]

_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|github\.com/)", re.I)


def _abs(value: Any, base: Path) -> Any:
    if not isinstance(value, str) or not value:
        return value
    if value.startswith("~"):
        return os.path.expanduser(value)
    if os.path.isabs(value):
        return value
    return os.path.normpath(base / value)


def _is_local_bind(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def _rebase_volume(item: Any, base: Path) -> Any:
    if isinstance(item, str):
        source, sep, rest = item.partition(":")
        if sep and _is_local_bind(source):
            return f"{_abs(source, base)}:{rest}"
        return item
    if isinstance(item, dict) and item.get("type") == "bind" and isinstance(item.get("source"), str):
        item["source"] = _abs(item["source"], base)
    return item


def _rebase_files(value: Any, base: Path) -> Any:
    if isinstance(value, str):
        return _abs(value, base)
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict) and "path" in item:
                item["path"] = _abs(item["path"], base)
            else:
                value[i] = _abs(item, base)
    return value


def rebase_service(service: Any, base: Path) -> None:
    """Absolute build contexts, env files, bind-mount sources, ``extends.file`` and ``develop.watch`` paths."""
    if not isinstance(service, dict):
        return
    build = service.get("build")
    if isinstance(build, str) and not _REMOTE.match(build):
        service["build"] = _abs(build, base)
    elif isinstance(build, dict):
        context = build.get("context", ".")
        if isinstance(context, str) and not _REMOTE.match(context):
            build["context"] = _abs(context, base)
        contexts = build.get("additional_contexts")
        if isinstance(contexts, dict):
            for key, value in contexts.items():
                if isinstance(value, str) and not _REMOTE.match(value) and ":" not in value.split("/")[0]:
                    contexts[key] = _abs(value, base)
    for key in ("env_file", "label_file"):
        if key in service:
            service[key] = _rebase_files(service[key], base)
    volumes = service.get("volumes")
    if isinstance(volumes, list):
        for i, item in enumerate(volumes):
            volumes[i] = _rebase_volume(item, base)
    extends = service.get("extends")
    if isinstance(extends, dict) and isinstance(extends.get("file"), str):
        extends["file"] = _abs(extends["file"], base)
    develop = service.get("develop")
    watches = develop.get("watch") if isinstance(develop, dict) else None
    if isinstance(watches, list):
        for watch in watches:
            if isinstance(watch, dict) and isinstance(watch.get("path"), str):
                watch["path"] = _abs(watch["path"], base)


def rebase_paths(tree: Any, base: Path) -> None:
    """``rebase_service`` for every service, ``file:`` of secrets and configs, bind volumes' ``device``."""
    if not isinstance(tree, dict):
        return
    services = tree.get("services")
    if isinstance(services, dict):
        for service in services.values():
            rebase_service(service, base)
    for section in ("secrets", "configs"):
        entries = tree.get(section)
        if isinstance(entries, dict):
            for entry in entries.values():
                if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                    entry["file"] = _abs(entry["file"], base)
    volumes = tree.get("volumes")
    if isinstance(volumes, dict):
        for volume in volumes.values():
            opts = volume.get("driver_opts") if isinstance(volume, dict) else None
            # the local driver's bind volumes name a host directory in "device"
            if isinstance(opts, dict) and "bind" in str(opts.get("o", "")).split(",") and isinstance(
                    opts.get("device"), str) and opts["device"].startswith("."):
                opts["device"] = _abs(opts["device"], base)
