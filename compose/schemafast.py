"""A fast accept/reject check for our Compose schema: the schema compiled once into nested closures.

jsonschema walks the schema for every value and spends most of its time in generic machinery; for a 1,000-service
file that is most of the load time. Valid files (the common case) only need a yes, so ``schema.validate`` asks
this checker first and runs jsonschema only to explain a no. It implements exactly the keywords our schema uses,
with jsonschema's semantics (booleans are not numbers; ``1.0`` is an integer; ``True`` and ``1`` differ for
``enum`` and ``uniqueItems``); the oracle tests hold the two to the same answers on fuzzed documents.
"""
from __future__ import annotations

import re
from typing import Any, Callable

__all__ = ["compile_schema", "json_equal", "UnsupportedKeyword"]

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "default", "deprecated", "$defs",
                          "definitions", "examples", "$comment"})


class UnsupportedKeyword(ValueError):
    """The schema uses a keyword this checker does not implement (so it cannot be trusted)."""


def compile_schema(schema: dict[str, Any]) -> Check:
    """A function ``value -> bool`` that says whether ``value`` is valid against ``schema``."""
    compiled: dict[str, Check] = {}

    def ref(pointer: str) -> Check:
        def check(value: Any) -> bool:
            return compiled[pointer](value)

        if pointer not in compiled:
            compiled[pointer] = _always  # placeholder while compiling recursive references
            node: Any = schema
            for part in pointer.lstrip("#/").split("/"):
                node = node[part]
            compiled[pointer] = build(node)
        return check

    def build(node: Any) -> Check:
        if node is True or node == {}:
            return _always
        if node is False:
            return _never
        checks: list[Check] = []
        for keyword in node:
            if keyword in _ANNOTATIONS or keyword in ("properties", "patternProperties", "additionalProperties"):
                continue
            if keyword not in _BUILDERS:
                raise UnsupportedKeyword(keyword)
            checks.append(_BUILDERS[keyword](node, node[keyword], build, ref))
        if any(k in node for k in ("properties", "patternProperties", "additionalProperties")):
            checks.append(_object_members(node, build))
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)

    return build(schema)


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "number":
        return isinstance(value, (int, float))
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    raise UnsupportedKeyword(f"type {name}")


def _type(node: Any, value: Any, build: Any, ref: Any) -> Check:
    names = value if isinstance(value, list) else [value]
    return lambda v: any(_is_type(v, n) for n in names)


def json_equal(one: Any, two: Any) -> bool:
    """jsonschema's equality: booleans never equal numbers; containers compare item by item."""
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(json_equal(one[k], two[k]) for k in one)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(json_equal(a, b) for a, b in zip(one, two))
    if isinstance(one, (dict, list)) or isinstance(two, (dict, list)):
        return False
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    return bool(one == two)


def _enum(node: Any, options: Any, build: Any, ref: Any) -> Check:
    return lambda v: any(json_equal(v, option) for option in options)


def _pattern(node: Any, pattern: str, build: Any, ref: Any) -> Check:
    regex = re.compile(pattern)
    return lambda v: not isinstance(v, str) or regex.search(v) is not None


def _required(node: Any, names: list[str], build: Any, ref: Any) -> Check:
    return lambda v: not isinstance(v, dict) or all(name in v for name in names)


def _items(node: Any, items: Any, build: Any, ref: Any) -> Check:
    check = build(items)
    return lambda v: not isinstance(v, list) or all(check(item) for item in v)


def _unique(node: Any, wanted: bool, build: Any, ref: Any) -> Check:
    def check(v: Any) -> bool:
        if not wanted or not isinstance(v, list):
            return True
        if all(isinstance(item, str) for item in v):
            return len(set(v)) == len(v)
        return not any(json_equal(v[i], v[j]) for i in range(len(v)) for j in range(i))

    return check


def _bound(node: Any, limit: Any, build: Any, ref: Any, low: bool) -> Check:
    def check(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return True
        return bool(v >= limit) if low else bool(v <= limit)

    return check


def _one_of(node: Any, branches: list[Any], build: Any, ref: Any) -> Check:
    checks = [build(b) for b in branches]

    def check(v: Any) -> bool:
        found = 0
        for c in checks:
            if c(v):
                found += 1
                if found > 1:
                    return False
        return found == 1

    return check


def _any_of(node: Any, branches: list[Any], build: Any, ref: Any) -> Check:
    checks = [build(b) for b in branches]
    return lambda v: any(c(v) for c in checks)


def _ref(node: Any, pointer: str, build: Any, ref: Any) -> Check:
    if not pointer.startswith("#/"):
        raise UnsupportedKeyword(f"$ref {pointer}")
    resolved: Check = ref(pointer)
    return resolved


def _object_members(node: dict[str, Any], build: Callable[[Any], Check]) -> Check:
    properties = {k: build(v) for k, v in (node.get("properties") or {}).items()}
    patterns = [(re.compile(p), build(v)) for p, v in (node.get("patternProperties") or {}).items()]
    extra = node.get("additionalProperties", True)
    extra_check: Check | None = None if extra is True else build(extra)

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for key, value in v.items():
            matched = False
            if key in properties:
                matched = True
                if not properties[key](value):
                    return False
            for regex, sub in patterns:
                if isinstance(key, str) and regex.search(key):
                    matched = True
                    if not sub(value):
                        return False
            if not matched and extra_check is not None and not extra_check(value):
                return False
        return True

    return check


_BUILDERS: dict[str, Callable[..., Check]] = {
    "type": _type,
    "enum": _enum,
    "pattern": _pattern,
    "required": _required,
    "items": _items,
    "uniqueItems": _unique,
    "minimum": lambda node, limit, build, ref: _bound(node, limit, build, ref, True),
    "maximum": lambda node, limit, build, ref: _bound(node, limit, build, ref, False),
    "oneOf": _one_of,
    "anyOf": _any_of,
    "$ref": _ref,
}
