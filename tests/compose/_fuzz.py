"""Hypothesis strategies for Compose documents: random mutations of valid files and documents assembled from the
schema's own keys and enum values (so that deep branches get exercised)."""
from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import strategies as st

from compose.schema import load_schema

from ._corpus import load_plain, sample_files, valid_files

__all__ = ["values", "keys", "names", "mutated_docs", "generated_docs", "schema_docs", "VALID_DOCS"]


def _vocabulary() -> tuple[list[str], list[Any]]:
    found_keys: set[str] = set()
    enums: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "properties" and isinstance(v, dict):
                    found_keys.update(v)
                if k == "enum":
                    enums.extend(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(load_schema())
    return sorted(found_keys), enums


KEYS, ENUMS = _vocabulary()
names = st.sampled_from(["web", "db", "a.b", "x-ext", "bad name", "", "UP", "nofile", "x-", "default"])
keys = st.one_of(st.sampled_from(KEYS), names)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2000, max_value=70000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(ENUMS + ["80:80", "host", "always", "every_1h", "-", "ab", "service:db", "1m30s", "512m",
                             "./dir:/data", "data:/data:ro", "/data", "127.0.0.1::80/udp", "8000-8001:80",
                             "a=b", "CMD-SHELL", "db", "web", "container:x", "on-failure:3", "0440", "true"]),
    st.text(max_size=6),
)
values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=8,
)

VALID_DOCS = [load_plain(p) for p in valid_files() + sample_files()]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _mutate(doc: Any, path: tuple, how: str, value: Any, key: str) -> Any:
    doc = copy.deepcopy(doc)
    if not path:
        return value if how == "replace" else doc
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif how == "wrap":
        parent[last] = [parent[last]]
    elif how == "stringify":
        parent[last] = str(parent[last])
    elif how == "add" and isinstance(parent[last], dict):
        parent[last][key] = value
    elif how == "add" and isinstance(parent[last], list):
        parent[last].append(value)
    elif how == "duplicate" and isinstance(parent[last], list) and parent[last]:
        parent[last].append(copy.deepcopy(parent[last][0]))
    return doc


@st.composite
def mutated_docs(draw: Any) -> Any:
    doc = draw(st.sampled_from(VALID_DOCS))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(doc)))
        how = draw(st.sampled_from(["replace", "delete", "wrap", "stringify", "add", "duplicate"]))
        doc = _mutate(doc, path, how, draw(values), draw(keys))
    return doc


@st.composite
def generated_docs(draw: Any) -> dict[str, Any]:
    services = draw(st.dictionaries(names, st.dictionaries(keys, values, max_size=4), max_size=3))
    top = draw(st.dictionaries(st.sampled_from(["networks", "volumes", "secrets", "configs", "models", "include",
                                                "name", "version", "x-a", "other"]), values, max_size=2))
    return {"services": services, **top}


# ------------------------------------------------------------------ documents the schema accepts, key by key

_NAME_POOL = ["web", "db", "cache", "a.b", "x_1", "front", "default", "data", "nofile", "nproc"]
_STRING_POOL = ["", "x", "80", "8080:80", "127.0.0.1:80:80/udp", "/data", "data:/data", "./src:/src:ro", "1m30s",
                "512m", "true", "db", "service:db", "container:c", "host", "none", "SIGTERM", "NET_ADMIN",
                "A=1", "nginx:1.27", "10.0.0.0/24", "10.0.0.5", "always", "on-failure:3", "CMD-SHELL", "0440"]


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _from(schema: dict[str, Any], node: Any, depth: int) -> st.SearchStrategy[Any]:
    node = _resolve(schema, node if isinstance(node, dict) else {})
    if "oneOf" in node or "anyOf" in node:
        return st.one_of([_from(schema, b, depth) for b in node.get("oneOf", node.get("anyOf"))])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    types = node.get("type", ["string", "integer", "boolean", "null"] if depth > 3 else ["string", "object"])
    types = types if isinstance(types, list) else [types]
    return st.one_of([_typed(schema, node, t, depth) for t in types])


def _typed(schema: dict[str, Any], node: dict[str, Any], kind: str, depth: int) -> st.SearchStrategy[Any]:
    low, high = node.get("minimum", -5), node.get("maximum", 70000)
    if kind == "string":
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True).filter(lambda s: len(s) < 40)
        return st.sampled_from(_STRING_POOL)
    if kind == "integer":
        return st.integers(min_value=low, max_value=high)
    if kind == "number":
        return st.one_of(st.integers(min_value=low, max_value=high), st.floats(min_value=0, max_value=64))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = _from(schema, node.get("items", {}), depth + 1)
        return st.lists(items, max_size=3, unique_by=(lambda v: json.dumps(v, sort_keys=True))
                        if node.get("uniqueItems") else None)
    if depth > 6:
        return st.just({})
    properties = node.get("properties") or {}
    required = set(node.get("required") or [])
    optional = {k: _from(schema, v, depth + 1) for k, v in properties.items() if k not in required}
    fixed = {k: _from(schema, properties.get(k, {}), depth + 1) for k in required}
    patterns = [p for p in (node.get("patternProperties") or {}) if p != "^x-"]
    named: st.SearchStrategy[dict[str, Any]] = st.just({})
    if patterns:
        value = _from(schema, node["patternProperties"][patterns[0]], depth + 1)
        names = st.sampled_from([n for n in _NAME_POOL if re.search(patterns[0], n)] or ["a"])
        at_least = 1 if node is schema.get("properties", {}).get("services") else 0
        named = st.dictionaries(names, value, min_size=at_least, max_size=3)
    picked = st.fixed_dictionaries(fixed, optional=optional) if len(optional) < 20 else st.fixed_dictionaries(
        fixed).flatmap(lambda base: st.dictionaries(st.sampled_from(sorted(optional)), st.none(), max_size=5)
                       .flatmap(lambda keys: st.fixed_dictionaries({**{k: st.just(v) for k, v in base.items()},
                                                                    **{k: optional[k] for k in keys}})))
    return st.tuples(picked, named).map(lambda pair: {**pair[1], **pair[0]})


def schema_docs() -> st.SearchStrategy[dict[str, Any]]:
    """Documents built from our schema's own rules: almost all accepted, covering every key and form."""
    schema = load_schema()
    top = {k: _from(schema, v, 1) for k, v in schema["properties"].items() if k != "services"}
    return st.fixed_dictionaries({"services": _from(schema, schema["properties"]["services"], 1)}, optional=top)
