"""``include``: pull other Compose applications into this one, each loaded as a project of its own.

Short form ``include: [path, ...]``; long form ``- {path: str | [str...], project_directory, env_file}``.
Each entry is loaded with its own files merged in order, its own project directory (default: the first
file's directory) and its own ``.env`` (or ``env_file``) as defaults under the including project's
environment; its relative paths are made absolute against its project directory. Its services, networks,
volumes, secrets and configs join this file's; defining one twice (differently) is an error. Recursive.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from compose.dotenv import read_dotenv
from compose.errors import Location, Problem, UserError
from compose.oci.reference import is_oci
from compose.relpaths import rebase_paths
from compose.sourcemap import KeyPath, LocatedDict, entry_location, to_plain

__all__ = ["SECTIONS", "apply_includes", "with_context"]

SECTIONS = ("services", "networks", "volumes", "secrets", "configs")

# load_sub(files, project_dir, environment, stack) -> the merged, interpolated tree of the included project
LoadSub = Callable[[list[Path], Path, dict[str, str], tuple[Path, ...]], LocatedDict]


def with_context(err: UserError, path: KeyPath, loc: Location | None) -> UserError:
    """``err`` with the problems that have no location of their own pinned to ``path`` at ``loc``."""
    return UserError([p if p.location else Problem(p.message, p.path or path, loc) for p in err.problems])


def _paths(value: Any, base: Path, path: KeyPath, loc: Location | None) -> list[Path]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
        raise UserError([Problem("expected a path or a list of paths", path, loc)])
    return [p for i in items for p in _resolve(base, i, path, loc)]


def _resolve(base: Path, name: str, path: KeyPath, loc: Location | None) -> list[Path]:
    """A local path, or the fetched Compose files of an ``oci://`` artifact (its cache directory is then the
    included project's directory, as Docker Compose does)."""
    if not is_oci(name):
        return [_join(base, name)]
    from compose.oci.fetch import fetch_artifact

    try:
        return fetch_artifact(name)
    except UserError as err:
        raise with_context(err, path, loc) from None


def _join(base: Path, name: str) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else base / p


def apply_includes(
    tree: LocatedDict, directory: Path, environment: Mapping[str, str], load_sub: LoadSub,
    stack: tuple[Path, ...] = (),
) -> None:
    """Replace ``tree['include']`` by the resources it brings in (in place)."""
    entries = tree.get("include")
    if "include" not in tree:
        return
    tree.drop("include")
    if entries is None:
        return
    if not isinstance(entries, list):
        raise UserError([Problem("include must be a list", ("include",), entry_location(tree, "include"))])
    for i, entry in enumerate(entries):
        path: KeyPath = ("include", i)
        loc = entry_location(entries, i)
        if isinstance(entry, dict):
            unknown = sorted(set(entry) - {"path", "project_directory", "env_file"})
            if unknown:
                raise UserError([Problem(f"unknown include option {unknown[0]!r}: expected path, "
                                         "project_directory or env_file", path, loc)])
            files = _paths(entry.get("path"), directory, path + ("path",), loc)
            project_dir_raw = entry.get("project_directory")
            if project_dir_raw is not None and not isinstance(project_dir_raw, str):
                raise UserError([Problem("expected a directory path", path + ("project_directory",), loc)])
            project_dir = _join(directory, project_dir_raw) if project_dir_raw else files[0].parent
            env_files = (_paths(entry["env_file"], directory, path + ("env_file",), loc)
                         if entry.get("env_file") is not None else [])
        elif isinstance(entry, str) and entry:
            files = _resolve(directory, entry, path, loc)
            project_dir, env_files = files[0].parent, []
        else:
            raise UserError([Problem("an include entry must be a path or a mapping with 'path'", path, loc)])
        for f in files:
            real = f.resolve()
            if real in stack:
                chain = " -> ".join(str(p) for p in stack[stack.index(real):] + (real,))
                raise UserError([Problem(f"include cycle: {chain}", path, loc)])
        if not env_files and (project_dir / ".env").is_file():
            env_files = [project_dir / ".env"]
        try:
            sub_env: dict[str, str] = {}
            for env_file in env_files:
                sub_env.update(read_dotenv(env_file, {**sub_env, **environment}))
            sub_env.update(environment)  # the including project's environment wins over the included defaults
            sub = load_sub(files, project_dir, sub_env, stack)  # load_all puts each file on the stack
        except UserError as err:
            raise with_context(err, path, loc) from None
        rebase_paths(sub, project_dir)
        _absorb(tree, sub, path, loc)


def _absorb(tree: LocatedDict, sub: LocatedDict, path: KeyPath, loc: Location | None) -> None:
    problems = []
    for section in SECTIONS:
        incoming = sub.get(section)
        if not isinstance(incoming, dict) or not incoming:
            continue
        current = tree.get(section)
        if not isinstance(current, LocatedDict):  # (a plain mapping keeps its entries, gains locations)
            current = LocatedDict(current if isinstance(current, dict) else {}, loc=getattr(incoming, "loc", None))
            tree.set_entry(section, current, entry_location(sub, section))
        for name, value in incoming.items():
            if name in current and to_plain(current[name]) != to_plain(value):
                problems.append(Problem(
                    f"{section[:-1]} {name!r} is defined both here and by the included file "
                    f"{entry_location(incoming, name) or '?'}: rename one of them", path, loc))
                continue
            current.set_entry(name, value, entry_location(incoming, name))
    if problems:
        raise UserError(problems)
