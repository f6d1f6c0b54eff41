"""Scalar and simple-collection rules of the canonical form: the context they report into, and converters
from what YAML or interpolation produced (strings for numbers and booleans, lists for mappings) to one typed form.

Each rule is ``rule(value, key_path, context) -> canonical value``; an unreadable value is reported on the context
(with its key path) and passed through unchanged, so that every problem is collected before anything is raised.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from compose.errors import Problem
from compose.plain import clone
from compose.units import format_duration, parse_bool, parse_bytes, parse_duration, parse_float, parse_int

__all__ = ["KeyPath", "Context", "Rule", "resolve_path", "text", "converter", "as_command", "as_mapping",
           "as_environment", "as_strings", "as_flag", "as_int", "as_float", "as_bytes", "as_duration", "as_micros",
           "as_is", "bounded"]

KeyPath = tuple[str | int, ...]


@dataclass
class Context:
    project_dir: Path
    environment: dict[str, str]
    problems: list[Problem] = field(default_factory=list)
    resolve_paths: bool = True  # False: ``config --no-path-resolution`` keeps host paths as written

    def fail(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(message, path))

    def path(self, value: str) -> str:
        """A host path of the config: absolute (``resolve_path``), or as written without path resolution."""
        return resolve_path(value, self.project_dir, self.environment) if self.resolve_paths else value


def resolve_path(path: str, project_dir: Path, environment: dict[str, str] | None = None) -> str:
    """An absolute, normalized host path: ``~`` expanded, relative paths taken from ``project_dir``."""
    if path == "~" or path.startswith("~/"):
        home = (environment or {}).get("HOME") or os.path.expanduser("~")
        path = home + path[1:]
    return os.path.normpath(os.path.join(project_dir, path))


def as_command(value: Any, path: KeyPath, ctx: Context) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as err:
            ctx.fail(path, f"cannot split the command into words: {err}")
            return [value]
    return [str(v) for v in value]


def as_mapping(value: Any, path: KeyPath, ctx: Context) -> dict[str, str]:
    """labels, annotations, sysctls: list of ``k=v`` or mapping -> mapping of strings."""
    if isinstance(value, dict):
        return {str(k): "" if v is None else text(v) for k, v in value.items()}
    out: dict[str, str] = {}
    for index, item in enumerate(value):
        key, _, val = str(item).partition("=")
        if not key.strip():
            ctx.fail(path + (index,), f"{item!r} has no name before '='")
            continue
        out[key.strip()] = val
    return out


def as_environment(value: Any, path: KeyPath, ctx: Context) -> dict[str, str | None]:
    """``[A=1, B]`` or ``{A: 1, B: null}`` -> ``{A: "1", B: <from the environment, else null>}``."""
    out: dict[str, str | None] = {}
    items = value.items() if isinstance(value, dict) else (_split_env(str(i)) for i in value)
    for index, (key, val) in enumerate(items):
        key = str(key)
        if not key:
            ctx.fail(path + (index,), f"{value[index]!r} has no variable name before '='")
            continue
        out[key] = ctx.environment.get(key) if val is None else text(val)
    return out


def _split_env(item: str) -> tuple[str, str | None]:
    key, sep, val = item.partition("=")
    return key, (val if sep else None)


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_strings(value: Any, path: KeyPath, ctx: Context) -> list[str]:
    return [value] if isinstance(value, str) else [text(v) for v in value]


def as_flag(value: Any, path: KeyPath, ctx: Context) -> bool:
    try:
        return parse_bool(value)
    except ValueError as err:
        ctx.fail(path, str(err))
        return False


def converter(parse: Callable[[Any], Any]) -> Callable[[Any, KeyPath, Context], Any]:
    def convert(value: Any, path: KeyPath, ctx: Context) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as err:
            ctx.fail(path, str(err))
            return value

    return convert


as_int = converter(parse_int)
as_float = converter(parse_float)
as_bytes = converter(parse_bytes)
as_duration = converter(lambda v: format_duration(parse_duration(v)))


def as_micros(value: Any, path: KeyPath, ctx: Context) -> Any:
    """cpu_rt_period/runtime: microseconds, as a number or a duration."""
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return converter(lambda v: int(parse_duration(v) * 1_000_000))(value, path, ctx)
    return as_int(value, path, ctx)


def as_is(value: Any, path: KeyPath, ctx: Context) -> Any:
    return clone(value)


Rule = Callable[[Any, KeyPath, Context], Any]


def bounded(rule: Rule, low: int | None, high: int | None) -> Rule:
    """``rule``, then the range the schema puts on numbers (a string from interpolation escapes it there)."""

    def check(value: Any, path: KeyPath, ctx: Context) -> Any:
        result = rule(value, path, ctx)
        if isinstance(result, int) and not isinstance(result, bool):
            if low is not None and result < low:
                ctx.fail(path, f"expected at least {low}, got {result}")
            elif high is not None and result > high:
                ctx.fail(path, f"expected at most {high}, got {result}")
        return result

    return check
