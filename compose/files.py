"""Which Compose files to read, the project directory, and the project name.

Discovery follows Docker Compose: ``-f`` files (``-` is stdin) in order, else ``COMPOSE_FILE`` (split on
``COMPOSE_PATH_SEPARATOR``, default ``:``), else the first of ``compose.yaml``, ``compose.yml``,
``docker-compose.yml``, ``docker-compose.yaml`` in the working directory or its nearest parent holding one,
plus the first matching ``*.override.*`` file beside it. The project directory is ``--project-directory`` or
the first file's directory. The project name is ``-p`` > ``COMPOSE_PROJECT_NAME`` > top-level ``name:`` >
the project directory's name (normalized); explicit names must already be valid.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from compose.errors import Problem, UserError
from compose.oci.reference import is_oci

__all__ = [
    "DEFAULT_FILES",
    "OVERRIDE_FILES",
    "STDIN",
    "ComposeFile",
    "choose_project_name",
    "find_files",
    "normalize_project_name",
    "project_directory",
    "read_file",
    "validate_project_name",
]

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")
STDIN = "-"
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass(frozen=True)
class ComposeFile:
    """One file to load: ``path`` is absolute (None for stdin); ``name`` is what errors show."""

    name: str
    path: Path | None
    text: str

    @property
    def directory(self) -> Path | None:
        return self.path.parent if self.path is not None else None


def _first_existing(directory: Path, names: tuple[str, ...]) -> list[Path]:
    return [directory / n for n in names if (directory / n).is_file()]


def find_files(
    explicit: list[str], environ: Mapping[str, str], cwd: Path
) -> tuple[list[str], list[Problem]]:
    """The files to load, as given (``-`` for stdin) or absolute; plus warnings (several candidates found)."""
    warnings: list[Problem] = []
    if explicit:
        return [f if f == STDIN or is_oci(f) else str(_absolute(cwd, f)) for f in explicit], warnings
    from_env = environ.get("COMPOSE_FILE", "")
    if from_env:
        sep = environ.get("COMPOSE_PATH_SEPARATOR") or ":"
        files = [f for f in from_env.split(sep) if f]
        if files:
            return [f if f == STDIN or is_oci(f) else str(_absolute(cwd, f)) for f in files], warnings
    for directory in (cwd, *cwd.parents):
        found = _first_existing(directory, DEFAULT_FILES)
        if not found:
            continue
        if len(found) > 1:
            warnings.append(Problem(
                f"found several Compose files in {directory} ({', '.join(p.name for p in found)}); "
                f"using {found[0].name}"
            ))
        files = [str(found[0])]
        overrides = _first_existing(directory, OVERRIDE_FILES)
        if len(overrides) > 1:
            warnings.append(Problem(
                f"found several override files in {directory} ({', '.join(p.name for p in overrides)}); "
                f"using {overrides[0].name}"
            ))
        if overrides:
            files.append(str(overrides[0]))
        return files, warnings
    raise UserError.single(
        f"no Compose file found in {cwd} or its parents: looked for {', '.join(DEFAULT_FILES)}; "
        "use -f FILE to name one"
    )


def _absolute(cwd: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else cwd / path


def read_file(name: str, stdin: Callable[[], str] | None = None) -> ComposeFile:
    """Read one file named by ``find_files``; a missing or unreadable file is a ``UserError``."""
    if name == STDIN:
        text = (stdin or sys.stdin.read)()
        return ComposeFile("<stdin>", None, text)
    path = Path(name)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError.single(f"Compose file {name} not found") from None
    except IsADirectoryError:
        raise UserError.single(f"{name} is a directory, not a Compose file") from None
    except OSError as err:
        raise UserError.single(f"cannot read Compose file {name}: {err.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UserError.single(f"{name}: not UTF-8 text (byte {err.start}): a Compose file must be UTF-8") from None
    return ComposeFile(name, path, text)


def project_directory(files: list[str], explicit: str | None, cwd: Path) -> Path:
    """``--project-directory``, else the first file's directory, else the working directory."""
    if explicit:
        return _absolute(cwd, explicit)
    for name in files:
        if name != STDIN:
            return Path(name).parent
        break
    return cwd


def normalize_project_name(name: str) -> str:
    """Lowercase, keep only ``[a-z0-9_-]``, drop leading ``_``/``-`` (as Docker Compose does for dir names)."""
    return re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-")


def validate_project_name(name: str, source: str) -> str:
    if not name:
        raise UserError.single(f"project name from {source} must not be empty")
    if not _NAME_RE.fullmatch(name):
        raise UserError.single(
            f"{name!r} (from {source}) is not a valid project name: use only lowercase letters, digits, "
            "'_' and '-', starting with a letter or digit"
        )
    return name


def choose_project_name(
    cli: str | None, environment: Mapping[str, str], config_name: object, project_dir: Path
) -> str:
    """``-p`` > ``COMPOSE_PROJECT_NAME`` > top-level ``name:`` > the project directory's name."""
    if cli is not None:
        return validate_project_name(cli, "-p/--project-name")
    env_name = environment.get("COMPOSE_PROJECT_NAME")
    if env_name:
        return validate_project_name(env_name, "COMPOSE_PROJECT_NAME")
    if isinstance(config_name, str) and config_name:
        return validate_project_name(config_name, "the top-level 'name:'")
    name = normalize_project_name(project_dir.name)
    if not name:
        raise UserError.single(
            f"cannot derive a project name from the directory {project_dir}: use -p NAME or a top-level 'name:'"
        )
    return name
