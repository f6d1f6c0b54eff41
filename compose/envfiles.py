"""Fold each service's ``env_file`` contents into its ``environment``, as Docker Compose does before ``config``.

Runs on canonical output (``env_file`` already long syntax with absolute paths). Files are read in order, later
files win, and the service's own ``environment`` wins over all of them; a variable listed there without a
value (``[FOO]``) that the interpolation environment does not define takes the file's value. A missing file is
an error unless ``required: false``. ``format: raw`` takes every ``KEY=VALUE`` line literally.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from compose.dotenv import read_dotenv
from compose.errors import Problem, UserError
from compose.plain import clone

__all__ = ["apply_env_files"]


def apply_env_files(canonical: dict[str, Any], environment: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``canonical`` whose services' ``environment`` includes their env files' variables."""
    out = clone(canonical)
    problems: list[Problem] = []
    cache: dict[tuple[str, str], dict[str, str]] = {}
    for name, service in (out.get("services") or {}).items():
        files = service.get("env_file") or []
        if not files:
            continue
        merged: dict[str, str | None] = {}
        for index, entry in enumerate(files):
            path = Path(entry["path"])
            fmt = entry.get("format") or ""
            if not path.is_file():
                if entry.get("required", True):
                    problems.append(Problem(f"env file {path} not found; create it or set 'required: false'",
                                            ("services", name, "env_file", index)))
                continue
            key = (str(path), fmt)
            if key not in cache:
                try:
                    cache[key] = _read_raw(path) if fmt == "raw" else read_dotenv(path, environment)
                except UserError as err:
                    problems.extend(err.problems)
                    continue
                except OSError as err:
                    problems.append(Problem(f"cannot read env file {path}: {err.strerror}",
                                            ("services", name, "env_file", index)))
                    continue
            merged.update(cache[key])
        for variable, value in (service.get("environment") or {}).items():
            if value is not None or variable not in merged:
                merged[variable] = value
        service["environment"] = merged
    if problems:
        raise UserError(problems)
    return out


def _read_raw(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value
    return values
