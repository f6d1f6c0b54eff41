"""Build a model Project from YAML text the way the loader does after merging (canonicalize, then from_dict)."""
from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from compose.canonical import canonicalize
from compose.model import Project

__all__ = ["project_from_yaml"]


def project_from_yaml(text: str, name: str = "demo", project_dir: Path = Path("/srv/demo")) -> Project:
    doc = YAML(typ="safe", pure=True).load(text)
    doc["name"] = name
    return Project.from_dict(canonicalize(doc, project_dir, {}), name)
