"""Our schema and the official Compose schema agree on accept/reject.

The official ``compose-spec.json`` is looked up in ``$PYCOMPOSE_SPEC_DIR`` or ``../shared/spec`` next to the repo
(skipped with the reason when absent). Both judge the corpus, every sample, and documents hypothesis makes by
mutating valid files and by assembling services from the spec's own keys and enum values.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compose.schema import load_schema, validate

from ._corpus import REPO, invalid_files, load_plain, sample_files, valid_files


def _spec_path() -> Path | None:
    candidates = []
    if os.environ.get("PYCOMPOSE_SPEC_DIR"):
        candidates.append(Path(os.environ["PYCOMPOSE_SPEC_DIR"]) / "compose-spec.json")
    candidates.append(REPO.parent / "shared" / "spec" / "compose-spec.json")
    return next((p for p in candidates if p.is_file()), None)


SPEC = _spec_path()
pytestmark = pytest.mark.skipif(SPEC is None, reason="official compose-spec.json not found (set PYCOMPOSE_SPEC_DIR)")

_official = jsonschema.Draft7Validator(json.loads(SPEC.read_text())) if SPEC else None
_ours = jsonschema.Draft202012Validator(load_schema())


def _agree(doc: Any) -> None:
    theirs = _official.is_valid(doc)
    mine = _ours.is_valid(doc)
    assert mine == theirs, f"ours={'accepts' if mine else 'rejects'}, spec={'accepts' if theirs else 'rejects'}: {doc!r}"
    # Our message layer reports something exactly when the document is invalid, and never crashes.
    assert (validate(doc, None) == []) == mine


@pytest.mark.parametrize("path", valid_files() + sample_files(), ids=lambda p: p.name)
def test_valid_files_and_samples_pass_both_schemas(path: Path):
    doc = load_plain(path)
    assert _official.is_valid(doc), [e.message for e in _official.iter_errors(doc)]
    assert _ours.is_valid(doc)


@pytest.mark.parametrize("path", invalid_files(), ids=lambda p: p.name)
def test_invalid_files_fail_both_schemas(path: Path):
    doc = load_plain(path)
    assert not _official.is_valid(doc)
    assert not _ours.is_valid(doc)


def _spec_vocabulary() -> tuple[list[str], list[Any]]:
    """Every property name and every enum value in the official schema."""
    keys: set[str] = set()
    values: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "properties" and isinstance(v, dict):
                    keys.update(v)
                if k == "enum":
                    values.extend(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(SPEC.read_text()) if SPEC else {})
    return sorted(keys), values


KEYS, ENUMS = _spec_vocabulary()
_names = st.sampled_from(["web", "db", "a.b", "x-ext", "bad name", "", "UP", "nofile", "x-"])
_keys = st.one_of(st.sampled_from(KEYS), _names)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2000, max_value=2000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(ENUMS + ["80:80", "host", "always", "every_1h", "-", "ab", "service:db", "1m30s"]),
    st.text(max_size=6),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=8,
)


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


_VALID_DOCS = [load_plain(p) for p in valid_files() + sample_files()]


@settings(max_examples=int(os.environ.get("ORACLE_EXAMPLES", "400")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutations_of_valid_files_are_judged_alike(data):
    doc = data.draw(st.sampled_from(_VALID_DOCS))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        how = data.draw(st.sampled_from(["replace", "delete", "wrap", "stringify", "add", "duplicate"]))
        doc = _mutate(doc, path, how, data.draw(_values), data.draw(_keys))
    _agree(doc)


@settings(max_examples=int(os.environ.get("ORACLE_EXAMPLES", "400")), deadline=None)
@given(services=st.dictionaries(_names, st.dictionaries(_keys, _values, max_size=4), max_size=3),
       top=st.dictionaries(st.sampled_from(["networks", "volumes", "secrets", "configs", "models", "include",
                                            "name", "version", "x-a", "other"]), _values, max_size=2))
def test_generated_documents_are_judged_alike(services, top):
    _agree({"services": services, **top})
