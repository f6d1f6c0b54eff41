"""Helpers shared by the schema tests: the corpus files, a YAML reader, a key-path locator for expectations."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from compose.errors import Location

__all__ = ["REPO", "CORPUS", "valid_files", "invalid_files", "semantic_files", "sample_files", "sample_projects", "load_sample",
           "load_plain", "RtLocator", "expectations"]

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"


def valid_files() -> list[Path]:
    return sorted((CORPUS / "valid").glob("*.yaml"))


def semantic_files() -> list[Path]:
    """Schema-valid files that the semantic checks must reject (each names its errors in ``# expect:`` lines)."""
    return sorted((CORPUS / "semantic").glob("*.yaml"))


def invalid_files() -> list[Path]:
    return sorted((CORPUS / "invalid").glob("*.yaml"))


def sample_files() -> list[Path]:
    found = [p for p in (REPO / "samples").rglob("*") if p.suffix in (".yaml", ".yml") and "compose" in p.name]
    return sorted(found)


def sample_projects() -> list[Path]:
    """Directories under samples/ that hold a project (a compose.yaml), loaded whole by ``load_sample``."""
    return sorted(p.parent for p in (REPO / "samples").glob("*/compose.yaml"))


def load_sample(directory: Path) -> Any:
    """The sample project as the loader hands it on (merged, interpolated with an empty environment)."""
    from compose.loader import LoadOptions, load

    return load(LoadOptions(cwd=directory, environ={}))


def load_plain(path: Path) -> Any:
    """Plain Python values (dict, list, str, int, float, bool, None), as the loader hands to the schema."""
    return YAML(typ="safe", pure=True).load(path.read_text())


def expectations(path: Path) -> list[str]:
    """The ``# expect: key.path: message`` lines at the top of an invalid corpus file."""
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("# expect: "):
            out.append(line[len("# expect: "):])
    return out


class RtLocator:
    """Maps key paths to file:line:col using ruamel's round-trip line info (a stand-in for the loader's map)."""

    def __init__(self, text: str, name: str = "compose.yaml") -> None:
        self.name = name
        self.doc = YAML(typ="rt").load(io.StringIO(text))

    def locate(self, path: tuple[str | int, ...]) -> Location | None:
        node: Any = self.doc
        best: tuple[int, int] | None = None
        for part in path:
            try:
                if isinstance(node, dict) and part in node:
                    best = node.lc.value(part) if node[part] is not None else node.lc.key(part)
                    if isinstance(node[part], (dict, list)):
                        best = node.lc.key(part)
                    node = node[part]
                elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                    best = node.lc.item(part)
                    node = node[part]
                else:
                    break
            except (AttributeError, KeyError, TypeError):
                break
        if best is None:
            return None
        return Location(self.name, best[0] + 1, best[1] + 1)
