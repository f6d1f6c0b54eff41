"""What ``pycompose publish`` refuses, or asks about, before anything is pushed (as Docker Compose does).

Refused outright: a service that only builds (no ``image``: nobody could run the artifact); environment
values (``environment``, ``env_file``) unless ``--with-env`` says to publish them; env files outside the
project directory; local ``include`` and ``extends.file`` (the artifact carries the listed Compose files only).
To confirm (``-y``, or a yes on a terminal): bind mounts and secrets or configs read from host files - only
their declarations travel, which the consumer's host must then satisfy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compose.errors import Problem, UserError
from compose.oci.reference import is_oci

__all__ = ["PublishReview", "raise_errors", "review_project"]


@dataclass
class PublishReview:
    errors: list[Problem] = field(default_factory=list)
    confirm: list[str] = field(default_factory=list)  # declarations the user must agree to publish
    env_files: list[tuple[Path, str]] = field(default_factory=list)  # (local path, path inside the artifact)


def _services(canonical: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = canonical.get("services")
    return {n: s for n, s in services.items() if isinstance(s, dict)} if isinstance(services, dict) else {}


def review_project(canonical: dict[str, Any], raw_files: dict[str, Any], project_dir: Path,
                   with_env: bool) -> PublishReview:
    """Check the loaded project (``canonical``) and the files as written (``raw_files``: name -> tree)."""
    review = PublishReview()
    services = _services(canonical)
    build_only = sorted(n for n, s in services.items() if s.get("build") is not None and not s.get("image"))
    if build_only:
        review.errors.append(Problem(
            "cannot publish: service(s) " + ", ".join(build_only) + " only build their image (no 'image:'); "
            "give each an image name, build and push it, then publish"))
    with_env_vars = sorted(n for n, s in services.items() if s.get("environment") or s.get("env_file"))
    if with_env_vars and not with_env:
        review.errors.append(Problem(
            "cannot publish: service(s) " + ", ".join(with_env_vars) + " declare environment variables "
            "(environment/env_file), which may hold secrets; pass --with-env to publish them, or remove them"))
    if with_env:
        _env_files(services, project_dir, review)
    for name, service in sorted(services.items()):
        for mount in service.get("volumes") or []:
            if isinstance(mount, dict) and mount.get("type") == "bind":
                review.confirm.append(f"service {name}: bind mount {mount.get('source')} -> {mount.get('target')}")
    for section in ("secrets", "configs"):
        for name, item in sorted((canonical.get(section) or {}).items()):
            if isinstance(item, dict) and item.get("file"):
                review.confirm.append(f"{section[:-1]} {name}: read from the host file {item['file']}")
    for file_name, tree in raw_files.items():
        _local_references(file_name, tree, review)
    return review


def _env_files(services: dict[str, dict[str, Any]], project_dir: Path, review: PublishReview) -> None:
    seen: set[str] = set()
    for name, service in sorted(services.items()):
        for entry in service.get("env_file") or []:
            raw = entry.get("path") if isinstance(entry, dict) else entry
            if not isinstance(raw, str):
                continue
            path = Path(raw)
            rel = os.path.relpath(path, project_dir)
            if rel.startswith(".."):
                review.errors.append(Problem(
                    f"cannot publish: service {name}'s env_file {path} is outside the project directory "
                    f"{project_dir}; move it inside"))
                continue
            if not path.is_file():
                if isinstance(entry, dict) and entry.get("required") is False:
                    continue
                review.errors.append(Problem(f"cannot publish: service {name}'s env_file {path} not found"))
                continue
            key = Path(rel).as_posix()
            if key not in seen:
                seen.add(key)
                review.env_files.append((path, key))


def _local_references(file_name: str, tree: Any, review: PublishReview) -> None:
    if not isinstance(tree, dict):
        return
    for i, entry in enumerate(tree.get("include") or []):
        paths = entry.get("path") if isinstance(entry, dict) else entry
        for p in [paths] if isinstance(paths, str) else (paths or []):
            if isinstance(p, str) and not is_oci(p):
                review.errors.append(Problem(
                    f"cannot publish: {file_name} includes the local file {p}, which the artifact would not "
                    "carry; publish that application and include it as oci://..., or merge it with -f",
                    ("include", i)))
    for name, service in (tree.get("services") or {}).items() if isinstance(tree.get("services"), dict) else ():
        extends = service.get("extends") if isinstance(service, dict) else None
        if isinstance(extends, dict) and isinstance(extends.get("file"), str) and not is_oci(extends["file"]):
            review.errors.append(Problem(
                f"cannot publish: {file_name}: service {name} extends a service of the local file "
                f"{extends['file']}, which the artifact would not carry; pass that file with -f instead",
                ("services", name, "extends", "file")))


def raise_errors(review: PublishReview) -> None:
    if review.errors:
        raise UserError(review.errors)
