"""Validate a merged, interpolated Compose config against our JSON schema (``schemas/compose.schema.json``).

Every violation is reported (not only the first), each as a ``Problem`` with the key path, its file:line:col
(from the caller's source map) and a message saying what was expected. Where the schema offers alternatives
(``oneOf``), the alternative whose type matches the value is followed, so the user reads the one error that
matters (``services.web.ports[1].target: expected an integer or a string, got a list``) instead of every branch.
"""
from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterator, Protocol

from compose.errors import Location, Problem
from compose.schemafast import compile_schema, json_equal

if TYPE_CHECKING:  # jsonschema is imported only to explain a rejection (it costs ~70 ms to import)
    import jsonschema
    from jsonschema.exceptions import ValidationError

__all__ = ["SourceLocator", "load_schema", "validate", "describe_value"]

Path = tuple[str | int, ...]

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "null": "an empty value",
}
_TYPE_PREFIX = "\0type:"  # marks type mismatches internally; stripped before the user sees them
_TYPE_ORDER = ["string", "integer", "number", "boolean", "array", "object", "null"]
# Messages for unanchored spec patterns and name maps, where a regex is no help to a person.
_PATTERN_MESSAGES = {
    "container_name": "expected a container name of 2 or more letters, digits, '_', '.' or '-'",
    "pull_policy": "expected always, never, missing, build, if_not_present, refresh, daily, weekly or every_<duration>",
}
# Keys people put on a service that live one level down.
_MISPLACED = {"replicas": "'deploy' (deploy.replicas)", "resources": "'deploy' (deploy.resources)",
              "restart_policy": "'deploy' (deploy.restart_policy)", "placement": "'deploy' (deploy.placement)",
              "context": "'build' (build.context)", "dockerfile": "'build' (build.dockerfile)",
              "args": "'build' (build.args)", "target": "'build' (build.target)",
              "aliases": "'networks' (networks.<network>.aliases)",
              "ipv4_address": "'networks' (networks.<network>.ipv4_address)",
              "condition": "'depends_on' (depends_on.<service>.condition)",
              "interval": "'healthcheck' (healthcheck.interval)", "test": "'healthcheck' (healthcheck.test)",
              "memory": "'deploy' (deploy.resources.limits.memory), or use mem_limit",
              "driver": "'logging' (logging.driver)", "options": "'logging' (logging.options)"}
_NAME_MAPS = {"services": "service", "volumes": "volume", "networks": "network", "secrets": "secret",
              "configs": "config", "models": "model", "depends_on": "service", "ulimits": "ulimit"}


class SourceLocator(Protocol):
    def locate(self, path: tuple[str | int, ...]) -> Location | None: ...


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """Our Compose schema, loaded from the ``schemas`` package (cached; do not mutate). Read straight from the
    package's directory; ``importlib.resources`` (a few ms to import) only when the package is not on disk."""
    import os

    import schemas

    path = os.path.join(os.path.dirname(schemas.__file__ or ""), "compose.schema.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    else:  # pragma: no cover - a zipped install
        from importlib import resources

        text = resources.files("schemas").joinpath("compose.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def _accepts() -> Any:
    return compile_schema(load_schema())


@lru_cache(maxsize=1)
def _validator() -> "jsonschema.protocols.Validator":
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema())


def validate(config: dict[str, Any], sources: SourceLocator | None) -> list[Problem]:
    """Every schema violation in ``config``, one well-chosen message each; empty if valid.

    Problems are sorted by location in the source (then by key path), duplicates removed.
    """
    odd_keys = [Problem(f"expected a string key, got {describe_value(key)}", path + (str(key),),
                        sources.locate(path) if sources is not None else None)
                for path, key in _non_string_keys(config, ())]
    if odd_keys:
        return odd_keys
    if _accepts()(config):  # the common case, several times faster than jsonschema
        return []
    found: dict[Path, list[str]] = {}
    for error in _validator().iter_errors(config):
        for path, message in _explain(error):
            messages = found.setdefault(path, [])
            if message not in messages:
                messages.append(message)
    problems: list[Problem] = []
    for path, messages in found.items():
        # A wrong type makes every other complaint about the same value noise (an enum of strings, a range).
        typed = [m for m in messages if m.startswith(_TYPE_PREFIX)]
        for message in typed or messages:
            location = sources.locate(path) if sources is not None else None
            problems.append(Problem(message.removeprefix(_TYPE_PREFIX), path, location))
    problems.sort(key=_sort_key)
    return problems


def _non_string_keys(node: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                yield path, key
            else:
                yield from _non_string_keys(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _non_string_keys(value, path + (index,))


def describe_value(value: Any) -> str:
    """``a list``, ``a string ('abc')``... for "got ..." in messages."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _sort_key(problem: Problem) -> tuple[Any, ...]:
    loc = problem.location
    where = (loc.file, loc.line, loc.column) if loc else ("", 0, 0)
    return (loc is None, where, [str(p) for p in problem.path])


def _explain(error: ValidationError) -> Iterator[tuple[Path, str]]:
    path: Path = tuple(error.absolute_path)
    kind = error.validator
    if kind in ("oneOf", "anyOf"):
        yield from _explain_alternatives(error, path)
    elif kind == "type":
        wanted = _join_types(_as_list(error.validator_value))
        yield path, f"{_TYPE_PREFIX}expected {wanted}, got {describe_value(error.instance)}"
    elif kind == "additionalProperties":
        yield from _explain_unknown_keys(error, path)
    elif kind == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        names = ", ".join(repr(k) for k in missing)
        yield path, f"missing required key {names}"
    elif kind == "enum":
        options = ", ".join(repr(v) for v in error.validator_value)
        yield path, f"expected one of {options}, got {describe_value(error.instance)}"
    elif kind == "pattern":
        key = path[-1] if path else ""
        hint = _PATTERN_MESSAGES.get(str(key), f"expected a value matching {error.validator_value!r}")
        yield path, f"{hint}, got {describe_value(error.instance)}"
    elif kind == "uniqueItems":
        yield from _explain_duplicates(error, path)
    elif kind in ("minimum", "maximum"):
        bound = "at least" if kind == "minimum" else "at most"
        yield path, f"expected {bound} {error.validator_value}, got {describe_value(error.instance)}"
    else:  # pragma: no cover - our schema uses only the keywords above
        yield path, error.message


def _explain_alternatives(error: ValidationError, path: Path) -> Iterator[tuple[Path, str]]:
    branches: list[dict[str, Any]] = error.validator_value
    actual = _json_types(error.instance)
    matching = [i for i, branch in enumerate(branches) if _branch_types(branch) & actual]
    if len(matching) == 1:
        sub = [e for e in (error.context or []) if e.relative_schema_path and e.relative_schema_path[0] == matching[0]]
        if sub:
            for child in sub:
                yield from _explain(child)
            return
    if not matching:
        types: set[str] = set()
        for branch in branches:
            types |= _branch_types(branch)
        wanted = _join_types(sorted(types, key=_TYPE_ORDER.index))
        yield path, f"{_TYPE_PREFIX}expected {wanted}, got {describe_value(error.instance)}"
        return
    yield path, f"{describe_value(error.instance)} matches more than one form allowed here; {error.message}"


def _explain_unknown_keys(error: ValidationError, path: Path) -> Iterator[tuple[Path, str]]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = list(schema.get("properties", {}))
    patterns = [p for p in schema.get("patternProperties", {}) if p != "^x-"]
    extension_ok = "^x-" in schema.get("patternProperties", {})
    owner = str(path[-1]) if path else ""
    for key in error.instance:
        if key in known or any(re.search(p, str(key)) for p in schema.get("patternProperties", {})):
            continue
        key_path = path + (str(key),)
        if key == "":
            yield key_path, "an empty key is not allowed here"
            continue
        if patterns and not known:
            noun = _NAME_MAPS.get(owner, "name")
            yield key_path, f"invalid {noun} name {str(key)!r}: use only letters, digits, '.', '_' and '-'"
            continue
        message = f"unknown key {str(key)!r}"
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        value = error.instance[key]
        misplaced = _MISPLACED.get(str(key)) if len(path) == 2 and path[0] == "services" else None
        if misplaced:
            message += f"; it belongs under {misplaced}"
        elif close:
            message += f", did you mean {close[0]!r}?"
        elif not path and isinstance(value, dict) and ({"image", "build"} & set(value)):
            message += ": it looks like a service; put it under 'services:'"
        elif extension_ok:
            message += " (extension keys must start with 'x-')"
        yield key_path, message


def _explain_duplicates(error: ValidationError, path: Path) -> Iterator[tuple[Path, str]]:
    items = list(error.instance)
    for index, item in enumerate(items):
        if any(json_equal(item, earlier) for earlier in items[:index]):
            shown = json.dumps(item) if not isinstance(item, str) else repr(item)
            yield path + (index,), f"duplicate entry {shown}; each entry may appear only once"


def _as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [value]


def _join_types(types: list[str]) -> str:
    if "number" in types and "integer" in types:
        types = [t for t in types if t != "integer"]
    names = [_TYPE_NAMES.get(t, t) for t in types]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def _json_types(value: Any) -> set[str]:
    if value is None:
        return {"null"}
    if isinstance(value, bool):
        return {"boolean"}
    if isinstance(value, int):
        return {"integer", "number"}
    if isinstance(value, float):
        return {"number", "integer"} if value.is_integer() else {"number"}
    if isinstance(value, str):
        return {"string"}
    if isinstance(value, dict):
        return {"object"}
    if isinstance(value, list):
        return {"array"}
    return set()


def _branch_types(branch: dict[str, Any]) -> set[str]:
    """The JSON types a schema branch accepts (following ``$ref`` and nested alternatives)."""
    if "$ref" in branch:
        return _branch_types(_resolve(branch["$ref"]))
    if "type" in branch:
        return set(_as_list(branch["type"]))
    out: set[str] = set()
    for key in ("oneOf", "anyOf"):
        for sub in branch.get(key, []):
            out |= _branch_types(sub)
    return out or set(_TYPE_ORDER)


def _resolve(ref: str) -> dict[str, Any]:
    node: Any = load_schema()
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    result: dict[str, Any] = node
    return result
