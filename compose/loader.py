"""Load a Compose project: find its files, read them, interpolate each, resolve include and extends, merge
them in order, pick the project name and apply profiles. The result is a plain dict plus a source map.

Environment precedence (as Docker Compose): the process environment wins over ``--env-file`` files (later
ones win over earlier), which replace the project directory's ``.env``. ``COMPOSE_FILE``,
``COMPOSE_PROJECT_NAME`` and ``COMPOSE_PROFILES`` may come from either.
"""
from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compose.dotenv import read_dotenv
from compose.errors import Problem, UserError
from compose.extends import ExtendsResolver
from compose.files import STDIN, choose_project_name, find_files, project_directory, read_file
from compose.include import apply_includes, with_context
from compose.interpolate import Interpolator
from compose.merge import merge_configs, strip_tags
from compose.oci import expand_files
from compose.profiles import active_profiles, apply_profiles, with_targeted_profiles
from compose.sourcemap import LocatedDict, SourceMap, entry_location, to_plain
from compose.yamlread import read_yaml

__all__ = ["LoadOptions", "LoadResult", "load", "load_environment", "paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic GC while building large trees of fresh objects (it costs 3-4x on a 1,000-service file and
    finds nothing: the trees hold no garbage cycles). Re-enabled, if it was, on the way out."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class LoadOptions:
    """What the global CLI options say (and what tests inject: ``environ``, ``cwd``, ``stdin``)."""

    files: list[str] = field(default_factory=list)
    project_name: str | None = None
    project_directory: str | None = None
    env_files: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)  # named on the command line: enabled whatever profiles
    interpolate: bool = True
    environ: Mapping[str, str] | None = None  # default: os.environ
    cwd: Path | None = None  # default: the working directory
    stdin: Callable[[], str] | None = None


@dataclass
class LoadResult:
    config: dict[str, Any]
    sources: SourceMap
    warnings: list[Problem]
    project_name: str
    project_dir: Path
    environment: dict[str, str]
    files: list[str]
    disabled_services: dict[str, dict[str, Any]]
    profiles: list[str] = field(default_factory=list)  # the active ones


def load_environment(env_files: list[Path], environ: Mapping[str, str]) -> dict[str, str]:
    """The env files in order (later wins), then the process environment over them."""
    values: dict[str, str] = {}
    for path in env_files:
        values.update(read_dotenv(path, {**values, **environ}))
    values.update(environ)
    return values


def _env_files(options: LoadOptions, environ: Mapping[str, str], cwd: Path, directory: Path) -> list[Path]:
    """``--env-file`` files, else ``COMPOSE_ENV_FILES`` (comma-separated), else ``<project dir>/.env`` unless
    ``COMPOSE_DISABLE_ENV_FILE`` is set. Relative names are relative to the working directory."""
    names = list(options.env_files)
    if not names:
        names = [n.strip() for n in environ.get("COMPOSE_ENV_FILES", "").split(",") if n.strip()]
    if names:
        return [p if p.is_absolute() else cwd / p for p in (Path(f).expanduser() for f in names)]
    if environ.get("COMPOSE_DISABLE_ENV_FILE", "").lower() in ("1", "true", "yes"):
        return []
    default = directory / ".env"
    return [default] if default.is_file() else []


class _FileLoader:
    """Reads, interpolates and resolves the files of one project (an included project gets its own)."""

    def __init__(self, environment: Mapping[str, str], interpolate: bool, stdin: Callable[[], str],
                 warnings: list[Problem], cwd: Path) -> None:
        self.environment = environment
        self.interpolator = Interpolator(environment) if interpolate else None
        self.interpolate = interpolate
        self.stdin = stdin
        self.warnings = warnings
        self.cwd = cwd
        self._raw: dict[str, LocatedDict] = {}
        self.extends = ExtendsResolver(self._other)

    def read(self, name: str) -> tuple[LocatedDict, Path]:
        """One file parsed and interpolated (no include/extends yet), and its directory."""
        source = read_file(name, self.stdin)
        tree = read_yaml(source.text, source.name)
        if self.interpolator is not None:
            before = len(self.interpolator.warnings)
            self.interpolator.tree(tree)
            self.warnings.extend(self.interpolator.warnings[before:])
        return tree, source.directory or self.cwd

    def _other(self, path: Path) -> LocatedDict:
        key = str(path)
        if key not in self._raw:
            tree, _ = self.read(key)
            self._raw[key] = tree
        return self._raw[key]

    def load_one(self, name: str, stack: tuple[Path, ...]) -> LocatedDict:
        tree, directory = self.read(name)
        apply_includes(tree, directory, self.environment, self._load_sub, stack)
        self.extends.apply(tree, name if name != STDIN else "<stdin>", directory)
        return tree

    def load_all(self, names: list[str], stack: tuple[Path, ...] = ()) -> LocatedDict:
        merged: Any = None
        for name in names:
            tree = self.load_one(name, stack + ((Path(name).resolve(),) if name != STDIN else ()))
            merged = strip_tags(tree) if merged is None else merge_configs(merged, tree)
        return merged if isinstance(merged, LocatedDict) else LocatedDict()

    def _load_sub(self, files: list[Path], project_dir: Path, environment: dict[str, str],
                  stack: tuple[Path, ...]) -> LocatedDict:
        sub = _FileLoader(environment, self.interpolate, self.stdin, self.warnings, project_dir)
        if sub.interpolator is not None and self.interpolator is not None:
            sub.interpolator.share_warned(self.interpolator)  # one warning per variable for the whole load
        return sub.load_all([str(f) for f in files], stack)


def load(options: LoadOptions | None = None) -> LoadResult:
    """Load the project the options describe. Raises ``UserError`` for anything the user must fix."""
    with paused_gc():
        return _load(options or LoadOptions())


def _load(options: LoadOptions) -> LoadResult:
    environ = dict(os.environ if options.environ is None else options.environ)
    try:
        cwd = (options.cwd or Path.cwd()).absolute()
    except FileNotFoundError:
        raise UserError.single("the working directory no longer exists; cd somewhere else") from None
    stdin_text: list[str] = []

    def stdin() -> str:
        if not stdin_text:
            import sys

            stdin_text.append((options.stdin or sys.stdin.read)())
        return stdin_text[0]

    warnings: list[Problem] = []
    # COMPOSE_FILE & co may be set in the .env of the working (or --project-directory) directory.
    first_dir = Path(options.project_directory).expanduser() if options.project_directory else cwd
    first_dir = first_dir if first_dir.is_absolute() else cwd / first_dir
    early_env = load_environment(_env_files(options, environ, cwd, first_dir), environ)
    # Without -f, files are looked for from the project directory if one is given, as Docker Compose does.
    files, found_warnings = find_files(options.files, early_env, first_dir if not options.files else cwd)
    warnings.extend(found_warnings)
    # oci:// artifacts: fetched into the cache and loaded as their local files; as in Docker Compose, a first
    # file from an artifact makes the artifact's cache directory the project directory
    files = expand_files(files, environ)
    project_dir = project_directory(files, options.project_directory, cwd)
    environment = (early_env if project_dir == first_dir
                   else load_environment(_env_files(options, environ, cwd, project_dir), environ))

    if options.project_name:  # ${COMPOSE_PROJECT_NAME} in the files means the name chosen with -p
        environment = {**environment, "COMPOSE_PROJECT_NAME": options.project_name}
    loader = _FileLoader(environment, options.interpolate, stdin, warnings, cwd)
    merged = loader.load_all(files)
    try:
        name = choose_project_name(options.project_name, environment, merged.get("name"), project_dir)
    except UserError as err:
        if options.project_name is None and not environment.get("COMPOSE_PROJECT_NAME") and "name" in merged:
            raise with_context(err, ("name",), entry_location(merged, "name")) from None
        raise
    profiles = with_targeted_profiles(active_profiles(options.profiles, environment), merged, options.services)
    before = merged.get("services")
    located = ({name: (before[name], entry_location(before, name)) for name in before}
               if isinstance(before, dict) else {})
    disabled = apply_profiles(merged, profiles, options.services)
    merged["name"] = name  # the resolved name, so that resource names (<project>_default ...) follow from it
    return LoadResult(
        config=to_plain(merged),
        # disabled services keep their locations: checks report references to them
        sources=SourceMap.from_tree(merged, {("services", n): located[n] for n in disabled if n in located}),
        warnings=warnings,
        project_name=name,
        project_dir=project_dir,
        environment=environment,
        files=[f if f != STDIN else "<stdin>" for f in files],
        disabled_services=disabled,
        profiles=profiles,
    )
