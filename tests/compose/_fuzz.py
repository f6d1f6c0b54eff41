"""Hypothesis strategies for Compose documents: random mutations of valid files and documents assembled from the
schema's own keys and enum values (so that deep branches get exercised)."""
from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from compose.schema import load_schema

from ._corpus import load_plain, sample_files, valid_files

__all__ = ["values", "keys", "names", "mutated_docs", "generated_docs", "VALID_DOCS"]


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
