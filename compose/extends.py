"""``extends``: a service starts from another service (same file, or ``file:``) and merges itself over it.

``extends: base`` and ``extends: {service: base}`` name a service of the same file; ``{service, file}`` one
of another file, loaded and interpolated on its own; that file's relative paths are made absolute against
its own directory. Chains are followed; a cycle is an error naming it.

As in Docker Compose (compose-go loads an extended file with ``SkipInclude``), the ``include:`` of a file named
by ``extends.file`` is not processed: only the services written in that file can be extended, and nothing it
includes joins the project. A service missing there while the file has an ``include`` says so.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compose.errors import Problem, UserError
from compose.include import with_context
from compose.merge import merge_service
from compose.oci.reference import is_oci
from compose.relpaths import rebase_service
from compose.sourcemap import KeyPath, LocatedDict, copy_tree, entry_location

__all__ = ["ExtendsResolver"]

LoadOther = Callable[[Path], LocatedDict]


class ExtendsResolver:
    """Resolves ``extends`` of every service of a file in place; ``load_other`` reads another file (cached)."""

    def __init__(self, load_other: LoadOther) -> None:
        self._load_other = load_other
        self._done: dict[tuple[str, str], Any] = {}

    def apply(self, tree: LocatedDict, file_name: str, directory: Path) -> None:
        services = tree.get("services")
        if not isinstance(services, dict):
            return
        for name in list(services):
            if isinstance(services[name], dict) and "extends" in services[name]:
                services[name] = self._resolve(tree, file_name, directory, name, [])

    def _resolve(self, tree: LocatedDict, file_name: str, directory: Path, name: str,
                 stack: list[tuple[str, str]]) -> Any:
        key = (file_name, name)
        if key in self._done:
            return copy_tree(self._done[key])
        services = tree.get("services")
        service = services.get(name) if isinstance(services, dict) else None
        if not isinstance(service, dict) or "extends" not in service:
            return service
        path: KeyPath = ("services", name, "extends")
        loc = entry_location(service, "extends")
        if key in stack:
            chain = " -> ".join(f"{n} ({f})" for f, n in stack[stack.index(key):] + [key])
            raise UserError([Problem(f"extends cycle: {chain}", path, loc)])
        ext = service["extends"]
        if isinstance(ext, str):
            ext = {"service": ext}
        if not isinstance(ext, dict) or not isinstance(ext.get("service"), str) or not ext["service"]:
            raise UserError([Problem("extends must be a service name or a mapping with 'service' (and 'file')",
                                     path, loc)])
        target = ext["service"]
        other_file = ext.get("file")
        if other_file is not None and not isinstance(other_file, str):
            raise UserError([Problem("extends.file must be a path", path + ("file",), loc)])
        if other_file:
            other_path = Path(other_file).expanduser()
            other_path = Path(os.path.normpath(other_path if other_path.is_absolute() else directory / other_path))
            try:
                if is_oci(other_file):  # an artifact's (first) Compose file, fetched into the cache
                    from compose.oci.fetch import fetch_artifact

                    other_path = fetch_artifact(other_file)[0]
                base_tree = self._load_other(other_path)
            except UserError as err:
                raise with_context(err, path + ("file",), loc) from None
            base_name, base_dir = str(other_path), other_path.parent
        else:
            base_tree, base_name, base_dir = tree, file_name, directory
        base_services = base_tree.get("services")
        if not isinstance(base_services, dict) or target not in base_services:
            where = f"in {other_file}" if other_file else "in this file"
            hint = (f" (services brought in by {other_file}'s own 'include' are not searched, as in Docker "
                    "Compose: extend the file that defines it)") if other_file and "include" in base_tree else ""
            raise UserError([Problem(f"extends: service {target!r} not found {where}{hint}", path, loc)])
        base = self._resolve(base_tree, base_name, base_dir, target, stack + [key])
        base = copy_tree(base) if isinstance(base, dict) else LocatedDict()
        if base_dir != directory:
            rebase_service(base, base_dir)
        own = copy_tree(service)
        own.drop("extends") if isinstance(own, LocatedDict) else own.pop("extends", None)
        merged = merge_service(base, own, name)
        self._done[key] = merged
        return copy_tree(merged)
