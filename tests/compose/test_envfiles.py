"""env_file contents folded into environment: order, precedence, optional and missing files, raw format."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.canonical import canonicalize
from compose.envfiles import apply_env_files
from compose.errors import UserError


def _canonical(tmp_path: Path, service: dict, env: dict[str, str] | None = None) -> dict:
    return canonicalize({"services": {"s": {"image": "x", **service}}}, tmp_path, env or {})


def test_files_in_order_then_environment_wins(tmp_path: Path):
    (tmp_path / "a.env").write_text("A=from-a\nB=from-a\nC=from-a\n")
    (tmp_path / "b.env").write_text("# comment\nB=from-b\nexport D=\"x y\"\n")
    canonical = _canonical(tmp_path, {"env_file": ["a.env", "b.env"], "environment": ["C=explicit", "E", "A"]},
                           {"E": "from-shell"})
    out = apply_env_files(canonical, {"E": "from-shell"})
    assert out["services"]["s"]["environment"] == {"A": "from-a", "B": "from-b", "C": "explicit", "D": "x y",
                                                   "E": "from-shell"}
    assert canonical["services"]["s"]["environment"] == {"C": "explicit", "E": "from-shell", "A": None}


def test_missing_required_file_is_an_error_optional_is_skipped(tmp_path: Path):
    canonical = _canonical(tmp_path, {"env_file": [{"path": "gone.env", "required": False}, "missing.env"]})
    with pytest.raises(UserError) as caught:
        apply_env_files(canonical, {})
    assert [str(p) for p in caught.value.problems] == [
        f"services.s.env_file[1]: env file {tmp_path / 'missing.env'} not found; create it or set 'required: false'"
    ]


def test_raw_format_is_literal(tmp_path: Path):
    (tmp_path / "raw.env").write_text("A=${NOT} 'quoted' # not a comment\n")
    canonical = _canonical(tmp_path, {"env_file": [{"path": "raw.env", "format": "raw"}]})
    assert apply_env_files(canonical, {"NOT": "x"})["services"]["s"]["environment"] == {
        "A": "${NOT} 'quoted' # not a comment"}


def test_services_without_env_files_are_untouched(tmp_path: Path):
    canonical = _canonical(tmp_path, {"environment": {"A": "1"}})
    assert apply_env_files(canonical, {}) == canonical
