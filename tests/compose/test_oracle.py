"""Our schema and the official Compose schema agree on accept/reject.

The official ``compose-spec.json`` is looked up in ``$PYCOMPOSE_SPEC_DIR`` or ``../shared/spec`` next to the repo
(skipped with the reason when absent). Both judge the corpus, every sample, and documents hypothesis makes by
mutating valid files and by assembling services from the spec's own keys and enum values.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compose.schema import load_schema, validate
from compose.schemafast import compile_schema

from ._corpus import REPO, invalid_files, load_plain, sample_files, semantic_files, valid_files
from ._fuzz import generated_docs, mutated_docs, schema_docs


def _spec_path() -> Path | None:
    candidates = []
    if os.environ.get("PYCOMPOSE_SPEC_DIR"):
        candidates.append(Path(os.environ["PYCOMPOSE_SPEC_DIR"]) / "compose-spec.json")
    candidates.append(REPO.parent / "shared" / "spec" / "compose-spec.json")
    return next((p for p in candidates if p.is_file()), None)


SPEC = _spec_path()
pytestmark = pytest.mark.skipif(SPEC is None, reason="official compose-spec.json not found (set PYCOMPOSE_SPEC_DIR)")

_EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "400"))
_official = jsonschema.Draft7Validator(json.loads(SPEC.read_text())) if SPEC else None
_ours = jsonschema.Draft202012Validator(load_schema())
_fast = compile_schema(load_schema())


def _agree(doc: Any) -> None:
    theirs = _official.is_valid(doc)
    mine = _ours.is_valid(doc)
    assert mine == theirs, f"ours={'accepts' if mine else 'rejects'}, spec={'accepts' if theirs else 'rejects'}: {doc!r}"
    # The fast checker gives jsonschema's answer; the message layer reports something exactly when the
    # document is invalid, and never crashes.
    assert _fast(doc) == mine
    assert (validate(doc, None) == []) == mine


@pytest.mark.parametrize("path", valid_files() + semantic_files() + sample_files(), ids=lambda p: p.name)
def test_valid_files_and_samples_pass_both_schemas(path: Path):
    doc = load_plain(path)
    assert _official.is_valid(doc), [e.message for e in _official.iter_errors(doc)]
    assert _ours.is_valid(doc)
    assert _fast(doc)


@pytest.mark.parametrize("path", invalid_files(), ids=lambda p: p.name)
def test_invalid_files_fail_both_schemas(path: Path):
    doc = load_plain(path)
    assert not _official.is_valid(doc)
    assert not _ours.is_valid(doc)
    assert not _fast(doc)


@settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=mutated_docs())
def test_mutations_of_valid_files_are_judged_alike(doc):
    _agree(doc)


@settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=generated_docs())
def test_generated_documents_are_judged_alike(doc):
    _agree(doc)


@settings(max_examples=_EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=schema_docs())
def test_documents_built_from_our_schema_are_judged_alike(doc):
    _agree(doc)


_GO_SPEC = SPEC.with_name("compose-spec.compose-go.json") if SPEC else None
_go = (jsonschema.Draft202012Validator(json.loads(_GO_SPEC.read_text()))
       if _GO_SPEC is not None and _GO_SPEC.is_file() else None)


@pytest.mark.skipif(_go is None, reason="compose-go's copy of the schema not found next to compose-spec.json")
@settings(max_examples=_EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=st.one_of(mutated_docs(), generated_docs(), schema_docs()))
def test_compose_go_copy_agrees_except_for_pre_start(doc):
    """compose-go's newer copy only adds the ``pre_start`` hook, which the official schema does not have yet."""
    if "pre_start" in json.dumps(doc):
        return
    assert _go.is_valid(doc) == _ours.is_valid(doc), doc
